/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Coordinator life cycle, the shared containers (hash table, strings, timer
 * heap), the tick and the flush (group commit of the offset journal).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "group_priv.h"

#define COMP "group"

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

static uint32_t
clamp_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void
fmq_group_conf_from_config(struct fmq_group_conf *c,
			   const struct fmq_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms;
	c->min_session_timeout_ms = cfg->group_min_session_timeout_ms;
	c->max_session_timeout_ms = cfg->group_max_session_timeout_ms;
	c->max_size = clamp_u32(cfg->group_max_size);
	c->max_groups = clamp_u32(cfg->group_max_groups);
	c->member_metadata_max_bytes =
		clamp_u32(cfg->group_member_metadata_max_bytes);
	c->offsets_retention_ms = cfg->offsets_retention_minutes * 60 * 1000;
	c->retention_check_interval_ms =
		cfg->offsets_retention_check_interval_ms;
	c->offset_metadata_max_bytes = clamp_u32(cfg->offset_metadata_max_bytes);
	c->offsets_max_count = clamp_u32(cfg->offsets_max_count);
	c->journal_compact_min_bytes = cfg->offsets_journal_compact_min_bytes;
	c->journal_compact_factor = clamp_u32(cfg->offsets_journal_compact_factor);
	c->consumer_heartbeat_interval_ms =
		cfg->group_consumer_heartbeat_interval_ms;
	c->consumer_session_timeout_ms = cfg->group_consumer_session_timeout_ms;
}

void
fmq_group_conf_defaults(struct fmq_group_conf *c)
{
	struct fmq_config *cfg = malloc(sizeof(*cfg));

	if (cfg == NULL) {
		/* The same values as the key table; only reached without
		 * memory, where a usable conf beats none. */
		memset(c, 0, sizeof(*c));
		c->initial_rebalance_delay_ms = 3000;
		c->min_session_timeout_ms = 6000;
		c->max_session_timeout_ms = 1800000;
		c->max_size = INT32_MAX;
		c->max_groups = 100000;
		c->member_metadata_max_bytes = 1048576;
		c->offsets_retention_ms = 10080LL * 60 * 1000;
		c->retention_check_interval_ms = 600000;
		c->offset_metadata_max_bytes = 4096;
		c->offsets_max_count = 1000000;
		c->journal_compact_min_bytes = 1048576;
		c->journal_compact_factor = 4;
		c->consumer_heartbeat_interval_ms = 5000;
		c->consumer_session_timeout_ms = 45000;
		return;
	}
	fmq_config_defaults(cfg);
	fmq_group_conf_from_config(c, cfg);
	free(cfg);
}

static bool
conf_valid(const struct fmq_group_conf *c)
{
	return c->initial_rebalance_delay_ms >= 0 &&
		c->min_session_timeout_ms >= 0 &&
		c->max_session_timeout_ms >= c->min_session_timeout_ms &&
		c->max_size >= 1 && c->max_groups >= 1 &&
		c->offsets_retention_ms >= 1 &&
		c->retention_check_interval_ms >= 1 &&
		c->offsets_max_count >= 1 && c->journal_compact_factor >= 2;
}

/* ------------------------------------------------------------------------
 * Hash table
 * ---------------------------------------------------------------------- */

uint32_t
hash_bytes(uint64_t seed, const void *p, size_t len)
{
	/* FNV-1a over a random seed: keys come from clients. */
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

int
htab_init(struct htab *h, uint32_t buckets)
{
	uint32_t n = 1;

	while (n < buckets)
		n <<= 1;
	h->b = calloc(n, sizeof(*h->b));
	if (h->b == NULL)
		return -ENOMEM;
	h->mask = n - 1;
	h->n = 0;
	return 0;
}

void
htab_free(struct htab *h)
{
	free(h->b);
	h->b = NULL;
	h->n = 0;
}

static int
htab_grow(struct htab *h)
{
	uint32_t nb = (h->mask + 1) * 2;
	struct hnode **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i <= h->mask; i++) {
		struct hnode *n = h->b[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->b);
	h->b = b;
	h->mask = nb - 1;
	return 0;
}

int
htab_insert(struct htab *h, struct hnode *n, uint32_t hash)
{
	if (h->n >= h->mask + 1 && h->mask < (1u << 30)) {
		/* A failed grow only makes chains longer. */
		(void)htab_grow(h);
	}
	n->hash = hash;
	n->next = h->b[hash & h->mask];
	h->b[hash & h->mask] = n;
	h->n++;
	return 0;
}

void
htab_remove(struct htab *h, struct hnode *n)
{
	struct hnode **pp = &h->b[n->hash & h->mask];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			h->n--;
			return;
		}
	}
}

/* ------------------------------------------------------------------------
 * Strings
 * ---------------------------------------------------------------------- */

int
gstr_set(struct gstr *d, struct fmq_group_str s)
{
	char *p = NULL;

	if (s.len >= 0) {
		p = malloc((size_t)s.len + 1);
		if (p == NULL)
			return -ENOMEM;
		if (s.len > 0)
			memcpy(p, s.ptr, (size_t)s.len);
		p[s.len] = '\0';
	}
	free(d->ptr);
	d->ptr = p;
	d->len = s.len < 0 ? -1 : s.len;
	return 0;
}

void
gstr_clear(struct gstr *d)
{
	free(d->ptr);
	d->ptr = NULL;
	d->len = -1;
}

bool
gstr_eq(const struct gstr *a, struct fmq_group_str b)
{
	return str_eq(gstr_view(a), b);
}

/* ------------------------------------------------------------------------
 * Timers
 * ---------------------------------------------------------------------- */

void
timer_init(struct gtimer *t, enum gtimer_kind kind)
{
	t->when = 0;
	t->idx = GTIMER_OFF;
	t->kind = (uint8_t)kind;
}

int
timers_reserve(struct fmq_group *co, int delta)
{
	uint32_t need = co->timers_reserved + (uint32_t)delta;

	if (delta < 0) {
		co->timers_reserved -= (uint32_t)-delta;
		return 0;
	}
	if (need > co->heap_cap) {
		uint32_t cap = co->heap_cap ? co->heap_cap * 2 : 64;
		struct gtimer **h;

		while (cap < need)
			cap *= 2;
		h = realloc(co->heap, cap * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		co->heap = h;
		co->heap_cap = cap;
	}
	co->timers_reserved = need;
	return 0;
}

static void
heap_set(struct fmq_group *co, uint32_t i, struct gtimer *t)
{
	co->heap[i] = t;
	t->idx = i;
}

static void
heap_up(struct fmq_group *co, uint32_t i)
{
	struct gtimer *t = co->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (co->heap[p]->when <= t->when)
			break;
		heap_set(co, i, co->heap[p]);
		i = p;
	}
	heap_set(co, i, t);
}

static void
heap_down(struct fmq_group *co, uint32_t i)
{
	struct gtimer *t = co->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= co->heap_n)
			break;
		if (c + 1 < co->heap_n && co->heap[c + 1]->when < co->heap[c]->when)
			c++;
		if (t->when <= co->heap[c]->when)
			break;
		heap_set(co, i, co->heap[c]);
		i = c;
	}
	heap_set(co, i, t);
}

void
timer_cancel(struct fmq_group *co, struct gtimer *t)
{
	uint32_t i = t->idx;
	struct gtimer *last;

	if (i == GTIMER_OFF)
		return;
	t->idx = GTIMER_OFF;
	last = co->heap[--co->heap_n];
	if (last == t)
		return;
	heap_set(co, i, last);
	heap_down(co, i);
	heap_up(co, last->idx);
}

void
timer_arm(struct fmq_group *co, struct gtimer *t, int64_t when)
{
	timer_cancel(co, t);
	t->when = when;
	/* Room was reserved when the owner was created. */
	heap_set(co, co->heap_n++, t);
	heap_up(co, t->idx);
}

static void
timer_fire(struct fmq_group *co, struct gtimer *t, int64_t now)
{
	switch ((enum gtimer_kind)t->kind) {
	case T_MEMBER:
		member_timer_fired(co, container_of(t, struct member, timer),
				   now);
		break;
	case T_PENDING:
		pending_timer_fired(co,
			container_of(t, struct pending_member, timer), now);
		break;
	case T_JOIN:
		join_timer_fired(co, container_of(t, struct group, join_timer),
				 now);
		break;
	case T_SYNC:
		sync_timer_fired(co, container_of(t, struct group, sync_timer),
				 now);
		break;
	case T_CSESSION:
	case T_CREBAL:
		cmember_timer_fired(co, t, now);
		break;
	}
}

/* ------------------------------------------------------------------------
 * Groups
 * ---------------------------------------------------------------------- */

void
emit(struct fmq_group *co, uint64_t token, struct fmq_group_resp *r)
{
	co->emit(co->emit_arg, token, r);
}

struct group *
group_find(struct fmq_group *co, struct fmq_group_str id)
{
	uint32_t h;
	struct hnode *n;

	if (id.len < 0)
		return NULL;
	h = hash_bytes(co->seed, id.ptr, (size_t)id.len);
	for (n = htab_first(&co->groups, h); n != NULL; n = n->next) {
		struct group *grp = container_of(n, struct group, hn);

		if (n->hash == h && gstr_eq(&grp->id, id))
			return grp;
	}
	return NULL;
}

struct group *
group_create(struct fmq_group *co, struct fmq_group_str id, int64_t now)
{
	struct group *grp = calloc(1, sizeof(*grp));

	if (grp == NULL)
		return NULL;
	grp->id.len = -1;
	grp->protocol_type.len = -1;
	grp->protocol.len = -1;
	TAILQ_INIT(&grp->mlist);
	TAILQ_INIT(&grp->plist);
	timer_init(&grp->join_timer, T_JOIN);
	timer_init(&grp->sync_timer, T_SYNC);
	if (gstr_set(&grp->id, id) < 0 || htab_init(&grp->members, 8) < 0 ||
	    htab_init(&grp->statics, 4) < 0 ||
	    htab_init(&grp->pendings, 4) < 0 ||
	    htab_init(&grp->offsets, 16) < 0 ||
	    timers_reserve(co, 2) < 0)
		goto fail;
	grp->incarnation = co->next_incarnation++;
	grp->state = GS_EMPTY;
	grp->state_ts = now;
	htab_insert(&co->groups, &grp->hn,
		    hash_bytes(co->seed, id.ptr, (size_t)id.len));
	TAILQ_INSERT_TAIL(&co->glist, grp, link);
	co->n_groups++;
	co->st.groups_by_state[GS_EMPTY]++;
	return grp;
fail:
	gstr_clear(&grp->id);
	htab_free(&grp->members);
	htab_free(&grp->statics);
	htab_free(&grp->pendings);
	htab_free(&grp->offsets);
	free(grp);
	return NULL;
}

void
group_transition(struct fmq_group *co, struct group *grp, enum gstate s,
		 int64_t now)
{
	co->st.groups_by_state[grp->state]--;
	co->st.groups_by_state[s]++;
	grp->state = s;
	grp->state_ts = now;
}

void
group_free(struct fmq_group *co, struct group *grp)
{
	struct member *m;
	struct pending_member *p;

	while ((m = TAILQ_FIRST(&grp->mlist)) != NULL)
		member_free(co, m);
	while ((p = TAILQ_FIRST(&grp->plist)) != NULL)
		pending_free(co, p);
	if (grp->cg != NULL)
		cgroup_free(co, grp);
	offsets_remove_all(co, grp, false);
	timer_cancel(co, &grp->join_timer);
	timer_cancel(co, &grp->sync_timer);
	timers_reserve(co, -2);
	if (grp->persisted)
		co->journal_live_bytes -= grp->rec_size;
	htab_remove(&co->groups, &grp->hn);
	TAILQ_REMOVE(&co->glist, grp, link);
	co->n_groups--;
	co->st.groups_by_state[grp->state]--;
	for (uint32_t i = 0; i < grp->n_protos; i++)
		gstr_clear(&grp->protos[i].name);
	free(grp->protos);
	for (uint32_t i = 0; i < grp->n_subscribed; i++)
		free(grp->subscribed[i]);
	free(grp->subscribed);
	gstr_clear(&grp->id);
	gstr_clear(&grp->protocol_type);
	gstr_clear(&grp->protocol);
	htab_free(&grp->members);
	htab_free(&grp->statics);
	htab_free(&grp->pendings);
	htab_free(&grp->offsets);
	free(grp);
}

static void
group_jrec(const struct group *grp, struct jrec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = JREC_GROUP;
	r->group = gstr_view(&grp->id);
	r->generation = grp->generation;
	r->state_ts = grp->state_ts;
	r->empty = grp->state == GS_EMPTY;
	r->protocol_type = gstr_view(&grp->protocol_type);
	r->protocol = gstr_view(&grp->protocol);
}

/* Record the group's generation, protocol and (when Empty) since when it is
 * empty, so that retention and generations survive a restart. Written with
 * the next flush; nothing waits for it. */
void
group_persist(struct fmq_group *co, struct group *grp)
{
	struct jrec r;
	uint32_t sz;

	group_jrec(grp, &r);
	sz = journal_add(&co->j, &r);
	if (sz == 0)
		return;
	if (grp->persisted)
		co->journal_live_bytes -= grp->rec_size;
	grp->persisted = true;
	grp->rec_size = sz;
	co->journal_live_bytes += sz;
}

void
group_tombstone(struct fmq_group *co, struct group *grp)
{
	struct jrec r;

	memset(&r, 0, sizeof(r));
	r.type = JREC_GROUP_DEL;
	r.group = gstr_view(&grp->id);
	(void)journal_add(&co->j, &r);
}

/* Kafka's member ids: "<client.id or group.instance.id>-<random UUID>". */
int
gen_member_id(struct fmq_group *co, struct gstr *out,
	      struct fmq_group_str prefix)
{
	uint8_t u[16];
	char buf[KSTR_MAX + 40];
	int plen = prefix.len < 0 ? 0 : prefix.len;
	int n;

	if (plen > KSTR_MAX - 37)
		plen = KSTR_MAX - 37;
	for (int i = 0; i < 16; i += 8) {
		/* splitmix64 */
		uint64_t z = (co->rng += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(u + i, &z, 8);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	n = snprintf(buf, sizeof(buf),
		     "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		     "%02x%02x%02x%02x%02x%02x",
		     plen, plen ? prefix.ptr : "", u[0], u[1], u[2], u[3],
		     u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		     u[13], u[14], u[15]);
	return gstr_set(out, (struct fmq_group_str){ buf, n });
}

/* ------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------- */

static int
load_record(struct fmq_group *co, const struct jrec *r, uint32_t size)
{
	return offset_load(co, r, size);
}

struct fmq_group *
fmq_group_create(const struct fmq_group_params *p, int64_t now_ms)
{
	struct fmq_group *co;
	uint64_t rnd[2];
	uint64_t truncated = 0;
	int rc;

	if (p == NULL || p->dir == NULL || p->emit == NULL ||
	    !conf_valid(&p->conf)) {
		errno = EINVAL;
		return NULL;
	}
	co = calloc(1, sizeof(*co));
	if (co == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	co->conf = p->conf;
	co->emit = p->emit;
	co->emit_arg = p->emit_arg;
	co->hw = p->hw;
	co->hw_arg = p->hw_arg;
	co->topic = p->topic;
	co->topic_at = p->topic_at;
	co->topics_version = p->topics_version;
	co->topic_arg = p->topic_arg;
	co->j.fd = -1;
	co->j.dirfd = -1;
	co->store = p->store;
	co->store_arg = p->store_arg;
	TAILQ_INIT(&co->glist);
	TAILQ_INIT(&co->waiters);
	TAILQ_INIT(&co->held);
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		rnd[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		rnd[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ULL;
	}
	co->seed = rnd[0];
	co->rng = rnd[1];
	co->next_incarnation = 1;
	co->last_now = now_ms;
	if (htab_init(&co->groups, 64) < 0) {
		free(co);
		errno = ENOMEM;
		return NULL;
	}
	/* Cluster mode: the store has the offsets, loaded group by group
	 * as this broker becomes their coordinator. */
	rc = co->store != NULL ? 0 :
		journal_open(&co->j, p->dir, co, load_record, &truncated);
	if (rc < 0) {
		fmq_group_destroy(co);
		errno = -rc;
		return NULL;
	}
	co->st.journal_truncated_bytes = truncated;
	if (truncated > 0)
		FMQ_WARN(COMP, "%s/offsets.journal: dropped %" PRIu64
			 " bytes after the last intact record", p->dir,
			 truncated);
	/* Groups that had members before the restart are Empty from now on;
	 * record that, so their retention clock survives the next restart. */
	struct group *grp, *gnext;

	for (grp = TAILQ_FIRST(&co->glist); grp != NULL; grp = gnext) {
		gnext = TAILQ_NEXT(grp, link);
		if (!grp->persisted && grp->n_offsets == 0) {
			/* Only ever had offsets, all deleted since: there is
			 * nothing left of it. */
			group_free(co, grp);
			continue;
		}
		if (grp->state_ts < 0) {
			grp->state_ts = now_ms;
			group_persist(co, grp);
		}
	}
	co->next_retention_ms = now_ms + co->conf.retention_check_interval_ms;
	co->active = true;
	FMQ_INFO(COMP, "loaded %u groups and %u committed offsets from %s",
		 co->n_groups, co->n_offsets, p->dir);
	return co;
}

static void
answer_waiters(struct fmq_group *co, int rc);

int
fmq_group_shutdown(struct fmq_group *g, int64_t now_ms)
{
	struct group *grp;
	int rc;

	if (g == NULL)
		return -EINVAL;
	rc = fmq_group_flush(g, now_ms);
	TAILQ_FOREACH(grp, &g->glist, link)
		group_unload(g, grp, FMQ_KERR_NOT_COORDINATOR);
	g->active = false;
	return rc;
}

void
fmq_group_destroy(struct fmq_group *g)
{
	struct group *grp;
	struct waiter *w;

	if (g == NULL)
		return;
	/* Staged commits reference offset entries: release them first. */
	TAILQ_CONCAT(&g->waiters, &g->held, link);
	while ((w = TAILQ_FIRST(&g->waiters)) != NULL) {
		TAILQ_REMOVE(&g->waiters, w, link);
		for (uint32_t i = 0; i < w->n_staged; i++) {
			struct offset_entry *e = w->staged[i].entry;

			if (e == NULL)
				continue;
			e->n_staged--;
			if (e->grp == NULL && e->n_staged == 0) {
				gstr_clear(&e->topic);
				gstr_clear(&e->metadata);
				free(e);
			}
		}
		free(w);
	}
	while ((grp = TAILQ_FIRST(&g->glist)) != NULL)
		group_free(g, grp);
	journal_close(&g->j);
	htab_free(&g->groups);
	consumer_free_answers(g);
	free(g->cans);
	free(g->heap);
	free(g->scratch);
	free(g);
}

void
fmq_group_tick(struct fmq_group *g, int64_t now_ms)
{
	if (g == NULL || !g->active)
		return;   /* after shutdown nothing moves any more */
	g->last_now = now_ms;
	while (g->heap_n > 0 && g->heap[0]->when <= now_ms) {
		struct gtimer *t = g->heap[0];

		timer_cancel(g, t);
		timer_fire(g, t, now_ms);
	}
	if (g->active && now_ms >= g->next_retention_ms) {
		g->next_retention_ms = now_ms +
			g->conf.retention_check_interval_ms;
		retention_run(g, now_ms);
	}
}

int64_t
fmq_group_next_timeout(const struct fmq_group *g, int64_t now_ms)
{
	int64_t next = g->next_retention_ms;

	if (g->heap_n > 0 && g->heap[0]->when < next)
		next = g->heap[0]->when;
	return next <= now_ms ? 0 : next - now_ms;
}

bool
fmq_group_flush_needed(const struct fmq_group *g)
{
	return g->j.len > 0 || !TAILQ_EMPTY(&g->waiters) || g->j.need_rewrite;
}

static void
entry_release(struct fmq_group *co, struct offset_entry *e)
{
	e->n_staged--;
	if (e->n_staged > 0)
		return;
	if (e->grp == NULL) {
		gstr_clear(&e->topic);
		gstr_clear(&e->metadata);
		free(e);
	} else if (!e->has_value) {
		/* Staged only and the write failed: nothing to keep. */
		offset_remove(co, e, false);
	}
}

static void
apply_staged(struct fmq_group *co, struct staged_part *s)
{
	struct offset_entry *e = s->entry;
	struct fmq_group_str md = { s->metadata, (int32_t)s->metadata_len };

	if (e->grp == NULL)
		return;     /* deleted meanwhile; the journal agrees */
	if (gstr_set(&e->metadata, md) < 0) {
		/* Keep the old metadata rather than lose the offset. */
		FMQ_WARN(COMP, "out of memory keeping offset metadata");
	}
	if (e->has_value)
		co->journal_live_bytes -= e->rec_size;
	else
		co->n_offsets++;
	e->has_value = true;
	e->offset = s->offset;
	e->leader_epoch = s->leader_epoch;
	e->commit_ts = s->commit_ts;
	e->expire_ts = s->expire_ts;
	e->rec_size = s->rec_size;
	co->journal_live_bytes += s->rec_size;
	co->st.commits++;
}

static void
answer_one(struct fmq_group *co, struct waiter *w, int rc, int16_t err)
{
	if (w->api == FMQ_GROUP_OFFSET_COMMIT) {
		struct fmq_group_part_error *pe =
			(struct fmq_group_part_error *)
			w->resp.u.commit.parts;

		for (uint32_t i = 0; i < w->n_staged; i++) {
			struct staged_part *s = &w->staged[i];

			if (s->entry == NULL)
				continue;
			if (rc == 0) {
				apply_staged(co, s);
			} else {
				pe[i].error = err;
				co->st.commit_errors++;
			}
			entry_release(co, s->entry);
		}
	} else if (rc != 0 && w->api == FMQ_GROUP_DELETE) {
		struct fmq_group_deleted *d = (struct fmq_group_deleted *)
			w->resp.u.del.groups;

		for (uint32_t i = 0; i < w->resp.u.del.n_groups; i++)
			if (d[i].error == FMQ_KERR_NONE)
				d[i].error = err;
	} else if (rc != 0 && w->api == FMQ_GROUP_OFFSET_DELETE) {
		struct fmq_group_part_error *pe =
			(struct fmq_group_part_error *)
			w->resp.u.offset_delete.parts;

		for (uint32_t i = 0; i < w->resp.u.offset_delete.n_parts;
		     i++)
			if (pe[i].error == FMQ_KERR_NONE)
				pe[i].error = err;
	}
	emit(co, w->token, &w->resp);
	free(w);
}

static void
answer_waiters(struct fmq_group *co, int rc)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&co->waiters)) != NULL) {
		TAILQ_REMOVE(&co->waiters, w, link);
		answer_one(co, w, rc, FMQ_KERR_NOT_COORDINATOR);
	}
}

/* One store confirmation of w came (err 0) or failed: w is answered
 * when the last one is in, with the first error. */
static void
store_release(struct fmq_group *g, struct waiter *w, int16_t err)
{
	if (err != 0 && w->store_err == 0)
		w->store_err = err;
	if (--w->store_wait > 0)
		return;
	TAILQ_REMOVE(&g->held, w, link);
	answer_one(g, w, w->store_err == 0 ? 0 : -1, w->store_err);
}

/* Cluster mode, DeleteGroups / OffsetDelete: their removals went to the
 * store in order with the groups' commits; the answer waits until the
 * store confirms everything it took for each group before this point (a
 * put of no offsets), so a deletion answered is one ZooKeeper took. */
static void
store_barrier(struct fmq_group *g, struct waiter *w)
{
	const struct fmq_group_deleted *d = w->resp.u.del.groups;
	uint32_t n = w->api == FMQ_GROUP_OFFSET_DELETE ? 1 :
		w->resp.u.del.n_groups;

	TAILQ_INSERT_TAIL(&g->held, w, link);
	w->store_wait = 1;      /* held until every put below is made */
	for (uint32_t i = 0; i < n; i++) {
		int16_t err;

		if (w->api == FMQ_GROUP_DELETE && d[i].error != FMQ_KERR_NONE)
			continue;
		w->store_wait++;
		err = g->store->put(g->store_arg, w,
				    w->api == FMQ_GROUP_OFFSET_DELETE ?
				    w->gid : d[i].group_id, NULL, 0);
		if (err != 0)   /* refused: nothing of it will come */
			store_release(g, w, err);
	}
	store_release(g, w, 0);
}

/* Cluster mode: hand each commit to the store, and each deletion's
 * confirmation (store_barrier). */
static int
store_flush(struct fmq_group *g)
{
	struct fmq_group_store_put *puts = NULL;
	uint32_t cap = 0;
	struct waiter *w;

	journal_drop_buffer(&g->j);
	g->j.oom = false;
	while ((w = TAILQ_FIRST(&g->waiters)) != NULL) {
		struct fmq_group_str gid = { NULL, -1 };
		uint32_t n = 0;
		int16_t err;

		TAILQ_REMOVE(&g->waiters, w, link);
		if (w->api == FMQ_GROUP_DELETE ||
		    w->api == FMQ_GROUP_OFFSET_DELETE) {
			store_barrier(g, w);
			continue;
		}
		if (w->api != FMQ_GROUP_OFFSET_COMMIT) {
			answer_one(g, w, 0, 0);
			continue;
		}
		if (w->n_staged > cap) {
			struct fmq_group_store_put *np =
				realloc(puts, w->n_staged * sizeof(*np));

			if (np == NULL) {
				answer_one(g, w, -ENOMEM,
					   FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
				continue;
			}
			puts = np;
			cap = w->n_staged;
		}
		for (uint32_t i = 0; i < w->n_staged; i++) {
			const struct staged_part *s = &w->staged[i];

			if (s->entry == NULL)
				continue;
			if (s->entry->grp != NULL)
				gid = gstr_view(&s->entry->grp->id);
			puts[n].topic = gstr_view(&s->entry->topic);
			puts[n].partition = s->entry->partition;
			puts[n].offset = s->offset;
			n++;
		}
		if (gid.len < 0) {
			/* The group went meanwhile (forgotten). */
			answer_one(g, w, -1, FMQ_KERR_NOT_COORDINATOR);
			continue;
		}
		TAILQ_INSERT_TAIL(&g->held, w, link);
		err = g->store->put(g->store_arg, w, gid, puts, n);
		if (err != 0) {
			TAILQ_REMOVE(&g->held, w, link);
			answer_one(g, w, -1, err);
		}
	}
	free(puts);
	return 0;
}

void
fmq_group_store_done(struct fmq_group *g, void *handle, int16_t err)
{
	struct waiter *w = handle;

	if (w->api != FMQ_GROUP_OFFSET_COMMIT) {
		store_release(g, w, err);
		return;
	}
	TAILQ_REMOVE(&g->held, w, link);
	answer_one(g, w, err == 0 ? 0 : -1, err);
}

void
fmq_group_forget(struct fmq_group *g, struct fmq_group_str id, int64_t now)
{
	struct group *grp = group_find(g, id);

	g->last_now = now;
	if (grp == NULL)
		return;
	group_unload(g, grp, FMQ_KERR_NOT_COORDINATOR);
	group_free(g, grp);
}

int
fmq_group_flush(struct fmq_group *g, int64_t now_ms)
{
	bool wrote;
	int rc = 0;

	if (g == NULL)
		return -EINVAL;
	g->last_now = now_ms;
	if (g->store != NULL)
		return store_flush(g);
	if (g->j.oom) {
		/* A record is missing from the buffer: the buffer cannot make
		 * anything durable; a rewrite from memory will. */
		journal_drop_buffer(&g->j);
		g->j.oom = false;
		g->j.need_rewrite = true;
		rc = -ENOMEM;
	} else if (g->j.need_rewrite) {
		rc = journal_rewrite(&g->j, g);
		if (rc == 0) {
			g->j.need_rewrite = false;
			g->st.journal_fsyncs++;
		}
	}
	wrote = g->j.len > 0;
	if (rc == 0 && g->j.len > 0) {
		rc = journal_sync(&g->j);
		if (rc == 0)
			g->st.journal_fsyncs++;
	}
	if (rc != 0) {
		journal_drop_buffer(&g->j);
		g->j.need_rewrite = true;
		g->st.journal_errors++;
		FMQ_ERR(COMP, "offset journal: %s; waiting commits get "
			"NOT_COORDINATOR, the next flush rewrites the journal",
			strerror(-rc));
	}
	answer_waiters(g, rc);
	if (rc == 0 && wrote &&
	    g->j.file_bytes > g->conf.journal_compact_min_bytes &&
	    g->j.file_bytes / g->conf.journal_compact_factor >
	    g->journal_live_bytes) {
		int crc = journal_rewrite(&g->j, g);

		if (crc == 0) {
			g->st.journal_compactions++;
			g->st.journal_fsyncs++;
		} else {
			/* The old journal is intact; try again next time. */
			g->st.journal_errors++;
			FMQ_WARN(COMP, "offset journal compaction failed: %s",
				 strerror(-crc));
		}
	}
	return rc;
}

/* ------------------------------------------------------------------------
 * FindCoordinator, stats
 * ---------------------------------------------------------------------- */

int16_t
fmq_group_find_coordinator(const struct fmq_group *g, int8_t key_type,
			   struct fmq_group_str key)
{
	(void)key;
	if (key_type == FMQ_GROUP_COORD_GROUP)
		return (g != NULL && g->active) ? FMQ_KERR_NONE :
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	if (key_type == FMQ_GROUP_COORD_TRANSACTION)
		/* The transaction coordinator (lib/ctrl/ctrl_txn.c) runs
		 * beside the group coordinator on the control lcore. */
		return (g != NULL && g->active) ? FMQ_KERR_NONE :
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	return FMQ_KERR_INVALID_REQUEST;
}

void
fmq_group_get_stats(const struct fmq_group *g, struct fmq_group_stats *st)
{
	uint64_t members = 0;
	const struct group *grp;

	*st = g->st;
	TAILQ_FOREACH(grp, &g->glist, link)
		members += grp->n_members;
	st->groups = g->n_groups;
	st->members = members;
	st->offsets = g->n_offsets;
	st->journal_bytes = g->j.file_bytes;
	st->journal_live_bytes = g->journal_live_bytes;
}

const char *
fmq_group_state_name(int state)
{
	static const char *const names[GS_COUNT] = {
		"Empty", "PreparingRebalance", "CompletingRebalance",
		"Stable", "Dead",
	};

	return state >= 0 && state < GS_COUNT ? names[state] : "Unknown";
}
