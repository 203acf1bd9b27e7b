/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer group protocol of KIP-848 (GA in Kafka 4.0), beside the
 * classic protocol of group_rebalance.c. Members heartbeat with
 * ConsumerGroupHeartbeat; the coordinator owns the assignment:
 *
 * - The group epoch is bumped when a member joins or leaves, when a
 *   subscription changes, and when the metadata of a subscribed topic (its
 *   id or partition count) or the chosen assignor changes.
 * - A heartbeat that finds the group epoch ahead of the assignment epoch
 *   computes a new target assignment with the server-side assignor
 *   (uniform, the default, or range) and sets the assignment epoch to the
 *   group epoch.
 * - Each member then moves to its target in steps, as Kafka's
 *   CurrentAssignmentBuilder does: partitions it must give up are revoked
 *   first (the member stays in its epoch, state UNREVOKED, until a
 *   heartbeat's owned partitions no longer hold them); a partition of its
 *   target still held by another member (assigned or being revoked) is
 *   withheld (UNRELEASED) and given on a later heartbeat once released. So
 *   no partition is ever assigned to two members at once.
 *
 * A partition is a key (topic index << 32 | partition), the topic index
 * pointing into the group's append-only topic table; partition sets are
 * sorted key arrays. Nothing here is persisted: after a restart members
 * get UNKNOWN_MEMBER_ID or GROUP_ID_NOT_FOUND and rejoin with epoch 0
 * (committed offsets are durable as for classic groups).
 */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_priv.h"

#define EPOCH_LEAVE (-1)
#define EPOCH_LEAVE_STATIC (-2)

enum cstate { CM_STABLE, CM_UNREVOKED, CM_UNRELEASED };

/* A sorted set of partition keys. */
struct pset {
	uint64_t *v;
	uint32_t n, cap;
};

#define PKEY(t, p) (((uint64_t)(t) << 32) | (uint32_t)(p))
#define PKEY_T(k) ((uint32_t)((k) >> 32))
#define PKEY_P(k) ((int32_t)(uint32_t)(k))

struct ctopic {
	char *name;          /* NULL: retired (the topic was recreated) */
	uint8_t id[16];
	int32_t nparts;      /* -1: the topic does not exist */
	bool used;           /* scratch: subscribed by a member */
	int32_t base;        /* scratch: first index in the assignor's list */
};

struct cmember {
	TAILQ_ENTRY(cmember) link;
	struct group *grp;
	struct gstr id;
	struct gstr instance_id;   /* len -1: dynamic */
	struct gstr rack_id;
	struct gstr client_id;
	struct gstr client_host;
	struct gstr assignor;      /* len -1: none asked */
	int32_t epoch;
	int32_t prev_epoch;
	enum cstate state;
	int32_t rebalance_timeout_ms;
	char **subs;               /* sorted, unique: named + regex matches */
	uint32_t n_subs;
	char **named;              /* the names it sent, sorted, unique */
	uint32_t n_named;
	struct gstr regex;         /* len -1: none */
	regex_t re;                /* compiled regex, when has_re */
	bool has_re;
	uint64_t re_version;       /* topics version of the last match */
	struct pset assigned;      /* owned, given to the member */
	struct pset revoking;      /* owned, the member must give up */
	struct pset target;
	struct gtimer session;     /* T_CSESSION */
	struct gtimer rebal;       /* T_CREBAL */
};

TAILQ_HEAD(cmember_list, cmember);

struct cgroup {
	struct cmember_list members;
	uint32_t n_members;
	int32_t group_epoch;
	int32_t assignment_epoch;
	struct ctopic *topics;
	uint32_t n_topics, cap_topics;
	uint64_t meta_sig;
	const char *assignor;
	char **names;              /* rebuild_names() */
	uint32_t n_names;
	bool names_dirty;
};

static const char *const assignors[] = { "uniform", "range" };

/* ------------------------------------------------------------------------
 * Partition sets
 * ---------------------------------------------------------------------- */

static void
pset_free(struct pset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool
pset_has(const struct pset *s, uint64_t k)
{
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] == k)
			return true;
		if (s->v[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Append k, which must be larger than every key already in s. */
static int
pset_push(struct pset *s, uint64_t k)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 8;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = k;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates (after pushes in any order). */
static void
pset_sort(struct pset *s)
{
	uint32_t k = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (uint32_t i = 1; i < s->n; i++)
		if (s->v[i] != s->v[k])
			s->v[++k] = s->v[i];
	s->n = k + 1;
}

static bool
pset_eq(const struct pset *a, const struct pset *b)
{
	return a->n == b->n &&
		(a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

/* ------------------------------------------------------------------------
 * Answers: freed at the start of the next consumer call.
 * ---------------------------------------------------------------------- */

void
consumer_free_answers(struct fmq_group *co)
{
	for (uint32_t i = 0; i < co->n_cans; i++)
		free(co->cans[i]);
	co->n_cans = 0;
}

static void *
aalloc(struct fmq_group *co, size_t n, size_t sz)
{
	void *p;

	if (co->n_cans == co->cap_cans) {
		uint32_t cap = co->cap_cans ? co->cap_cans * 2 : 16;
		void **v = realloc(co->cans, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		co->cans = v;
		co->cap_cans = cap;
	}
	p = calloc(n ? n : 1, sz);
	if (p != NULL)
		co->cans[co->n_cans++] = p;
	return p;
}

static struct fmq_group_str
cview(const char *s)
{
	return (struct fmq_group_str){ .ptr = s,
				       .len = (int32_t)strlen(s) };
}

/* A partition set as (topic id, partitions) runs, in the answer memory. */
static int
pset_answer(struct fmq_group *co, const struct cgroup *cg,
	    const struct pset *s, const struct fmq_group_ctp **out,
	    uint32_t *n_out)
{
	struct fmq_group_ctp *t;
	int32_t *parts;
	uint32_t runs = 0, k = 0;

	for (uint32_t i = 0; i < s->n; i++)
		if (i == 0 || PKEY_T(s->v[i]) != PKEY_T(s->v[i - 1]))
			runs++;
	t = aalloc(co, runs, sizeof(*t));
	parts = aalloc(co, s->n, sizeof(*parts));
	if (t == NULL || parts == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct ctopic *ct = &cg->topics[PKEY_T(s->v[i])];

		if (i == 0 || PKEY_T(s->v[i]) != PKEY_T(s->v[i - 1])) {
			struct fmq_group_ctp *x = &t[k++];

			memcpy(x->topic_id, ct->id, 16);
			x->topic = ct->name != NULL ? cview(ct->name) :
				cview("");
			x->parts = &parts[i];
			x->n_parts = 0;
		}
		parts[i] = PKEY_P(s->v[i]);
		t[k - 1].n_parts++;
	}
	*out = t;
	*n_out = runs;
	return 0;
}

/* ------------------------------------------------------------------------
 * Topics
 * ---------------------------------------------------------------------- */

static int32_t
ctopic_find(const struct cgroup *cg, const char *name)
{
	for (uint32_t i = 0; i < cg->n_topics; i++)
		if (cg->topics[i].name != NULL &&
		    strcmp(cg->topics[i].name, name) == 0)
			return (int32_t)i;
	return -1;
}

static int32_t
ctopic_by_id(const struct cgroup *cg, const uint8_t id[16])
{
	for (uint32_t i = 0; i < cg->n_topics; i++)
		if (cg->topics[i].name != NULL && cg->topics[i].nparts >= 0 &&
		    memcmp(cg->topics[i].id, id, 16) == 0)
			return (int32_t)i;
	return -1;
}

/* The registry's id and partition count of name; false: no such topic. */
static bool
topic_lookup(struct fmq_group *co, const char *name, uint8_t id[16],
	     int32_t *nparts)
{
	uint32_t np = 0;

	if (co->topic == NULL || co->topic(co->topic_arg, name, id, &np) != 0)
		return false;
	*nparts = np > INT32_MAX ? INT32_MAX : (int32_t)np;
	return true;
}

/*
 * Add an existing topic to the table (only topics that exist get an
 * entry, so the table grows with the topics, not with what members name).
 * The index, or -ENOENT, -ENOMEM.
 */
static int32_t
ctopic_add(struct fmq_group *co, struct cgroup *cg, const char *name)
{
	uint8_t id[16];
	int32_t np;
	struct ctopic *t;

	if (!topic_lookup(co, name, id, &np))
		return -ENOENT;
	if (cg->n_topics == cg->cap_topics) {
		uint32_t cap = cg->cap_topics ? cg->cap_topics * 2 : 8;
		struct ctopic *v = realloc(cg->topics, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		cg->topics = v;
		cg->cap_topics = cap;
	}
	t = &cg->topics[cg->n_topics];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (t->name == NULL)
		return -ENOMEM;
	memcpy(t->id, id, 16);
	t->nparts = np;
	return (int32_t)cg->n_topics++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The union of the members' subscriptions, sorted (pointers into the
 * members' own lists: rebuilt whenever one of those changes). */
static int
rebuild_names(struct cgroup *cg)
{
	const struct cmember *m;
	uint32_t n = 0, k = 0;
	char **v;

	TAILQ_FOREACH(m, &cg->members, link)
		n += m->n_subs;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	TAILQ_FOREACH(m, &cg->members, link)
		for (uint32_t i = 0; i < m->n_subs; i++)
			v[k++] = m->subs[i];
	qsort(v, k, sizeof(*v), cmp_str);
	if (k > 1) {
		uint32_t u = 0;

		for (uint32_t i = 1; i < k; i++)
			if (strcmp(v[i], v[u]) != 0)
				v[++u] = v[i];
		k = u + 1;
	}
	free(cg->names);
	cg->names = v;
	cg->n_names = k;
	cg->names_dirty = false;
	return 0;
}

static bool
names_have(const struct cgroup *cg, const char *name)
{
	return bsearch(&name, cg->names, cg->n_names, sizeof(*cg->names),
		       cmp_str) != NULL;
}

static bool
msub(const struct cmember *m, const char *name)
{
	uint32_t lo = 0, hi = m->n_subs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->subs[mid], name);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The chosen assignor: the one most members ask for, uniform on a tie. */
static const char *
pick_assignor(const struct cgroup *cg)
{
	uint32_t votes[2] = { 0, 0 };
	const struct cmember *m;

	TAILQ_FOREACH(m, &cg->members, link)
		for (int i = 0; i < 2; i++)
			if (m->assignor.len >= 0 &&
			    strcmp(m->assignor.ptr, assignors[i]) == 0)
				votes[i]++;
	return votes[1] > votes[0] ? assignors[1] : assignors[0];
}

/*
 * Look every topic of the table up again and mark the subscribed ones; a
 * topic recreated under the same name gets a new index (its partitions are
 * other partitions). Returns the signature of what the assignor sees.
 */
static int
refresh_metadata(struct fmq_group *co, struct cgroup *cg, uint64_t *sigp)
{
	uint64_t sig = 1469598103934665603ULL;
	uint32_t n = cg->n_topics;

	if (cg->names_dirty && rebuild_names(cg) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct ctopic *t = &cg->topics[i];
		uint8_t id[16];
		int32_t np;

		if (t->name == NULL)
			continue;
		if (!topic_lookup(co, t->name, id, &np)) {
			t->nparts = -1;      /* deleted; its id is kept */
			continue;
		}
		if (memcmp(id, t->id, 16) == 0) {
			t->nparts = np;
			continue;
		}
		/* Recreated: other partitions. Retire the entry (its id
		 * stays for answers naming its partitions) and add anew. */
		char *name = t->name;

		t->name = NULL;
		t->nparts = -1;
		if (ctopic_add(co, cg, name) == -ENOMEM) {
			free(name);
			return -ENOMEM;
		}
		free(name);
	}
	/* Subscribed topics that have appeared since. */
	for (uint32_t i = 0; i < cg->n_names; i++)
		if (ctopic_find(cg, cg->names[i]) < 0 &&
		    ctopic_add(co, cg, cg->names[i]) == -ENOMEM)
			return -ENOMEM;
	for (uint32_t i = 0; i < cg->n_topics; i++) {
		struct ctopic *t = &cg->topics[i];

		t->used = t->name != NULL && t->nparts >= 0 &&
			names_have(cg, t->name);
		if (!t->used)
			continue;
		sig = (sig ^ hash_bytes(i, t->id, 16)) * 1099511628211ULL;
		sig = (sig ^ (uint64_t)(uint32_t)t->nparts) *
			1099511628211ULL;
		sig = (sig ^ i) * 1099511628211ULL;
	}
	sig ^= pick_assignor(cg) == assignors[1] ? 0x5a5a : 0;
	*sigp = sig;
	return 0;
}

/* ------------------------------------------------------------------------
 * Assignors
 * ---------------------------------------------------------------------- */

static int
cmp_member_id(const void *a, const void *b)
{
	const struct cmember *x = *(struct cmember *const *)a;
	const struct cmember *y = *(struct cmember *const *)b;

	return strcmp(x->id.ptr, y->id.ptr);
}

/*
 * uniform: every subscribed partition goes to one subscribed member, the
 * counts as even as the subscriptions allow, moving as few partitions as
 * possible. (1) each member keeps the partitions of its previous target it
 * still subscribes to; (2) the others go to the least loaded subscribed
 * member; (3) a partition moves from its owner to a subscribed member with
 * at least two fewer, until no such move is left (each move lowers the
 * sum of squared counts, so this ends).
 */
static int
assign_uniform(struct cgroup *cg, struct cmember **mv, uint32_t nm,
	       uint64_t *keys, uint32_t np, struct pset *out)
{
	int32_t *owner = malloc((np ? np : 1) * sizeof(*owner));
	uint32_t *cnt = calloc(nm ? nm : 1, sizeof(*cnt));
	bool moved;

	if (owner == NULL || cnt == NULL) {
		free(owner);
		free(cnt);
		return -ENOMEM;
	}
	for (uint32_t p = 0; p < np; p++)
		owner[p] = -1;
	for (uint32_t i = 0; i < nm; i++) {
		const struct pset *pt = &mv[i]->target;

		for (uint32_t j = 0; j < pt->n; j++) {
			uint32_t t = PKEY_T(pt->v[j]);
			int32_t part = PKEY_P(pt->v[j]);
			const struct ctopic *ct;
			uint32_t p;

			if (t >= cg->n_topics)
				continue;
			ct = &cg->topics[t];
			if (!ct->used || part >= ct->nparts ||
			    !msub(mv[i], ct->name))
				continue;
			p = (uint32_t)ct->base + (uint32_t)part;
			if (owner[p] >= 0)
				continue;
			owner[p] = (int32_t)i;
			cnt[i]++;
		}
	}
	for (uint32_t p = 0; p < np; p++) {
		const char *name = cg->topics[PKEY_T(keys[p])].name;
		int32_t best = -1;

		if (owner[p] >= 0)
			continue;
		for (uint32_t i = 0; i < nm; i++)
			if (msub(mv[i], name) &&
			    (best < 0 || cnt[i] < cnt[best]))
				best = (int32_t)i;
		if (best >= 0) {
			owner[p] = best;
			cnt[best]++;
		}
	}
	do {
		moved = false;
		for (uint32_t p = 0; p < np; p++) {
			const char *name = cg->topics[PKEY_T(keys[p])].name;
			int32_t o = owner[p], best = -1;

			if (o < 0)
				continue;
			for (uint32_t i = 0; i < nm; i++)
				if ((int32_t)i != o && msub(mv[i], name) &&
				    (best < 0 || cnt[i] < cnt[best]))
					best = (int32_t)i;
			if (best >= 0 && cnt[best] + 1 < cnt[o]) {
				owner[p] = best;
				cnt[o]--;
				cnt[best]++;
				moved = true;
			}
		}
	} while (moved);
	for (uint32_t p = 0; p < np; p++)
		if (owner[p] >= 0 && pset_push(&out[owner[p]], keys[p]) < 0) {
			free(owner);
			free(cnt);
			return -ENOMEM;
		}
	free(owner);
	free(cnt);
	return 0;
}

/*
 * range: for each topic, the subscribed members sorted by member id take
 * consecutive ranges, the first (partitions % members) one more.
 */
static int
assign_range(struct cgroup *cg, struct cmember **mv, uint32_t nm,
	     struct pset *out)
{
	struct cmember **sorted = malloc((nm ? nm : 1) * sizeof(*sorted));
	uint32_t *idx = malloc((nm ? nm : 1) * sizeof(*idx));

	if (sorted == NULL || idx == NULL) {
		free(sorted);
		free(idx);
		return -ENOMEM;
	}
	memcpy(sorted, mv, nm * sizeof(*sorted));
	qsort(sorted, nm, sizeof(*sorted), cmp_member_id);
	for (uint32_t t = 0; t < cg->n_topics; t++) {
		const struct ctopic *ct = &cg->topics[t];
		uint32_t k = 0, start = 0;

		if (!ct->used || ct->nparts <= 0)
			continue;
		for (uint32_t i = 0; i < nm; i++)
			if (msub(sorted[i], ct->name))
				idx[k++] = i;
		for (uint32_t j = 0; j < k; j++) {
			uint32_t len = (uint32_t)ct->nparts / k +
				(j < (uint32_t)ct->nparts % k ? 1 : 0);
			uint32_t mi = 0;

			/* out[] is indexed like mv[]. */
			while (mv[mi] != sorted[idx[j]])
				mi++;
			for (uint32_t p = start; p < start + len; p++)
				if (pset_push(&out[mi], PKEY(t, p)) < 0) {
					free(sorted);
					free(idx);
					return -ENOMEM;
				}
			start += len;
		}
	}
	free(sorted);
	free(idx);
	return 0;
}

/* A new target assignment for the group epoch (ctopic.used is fresh). */
static int
compute_target(struct fmq_group *co, struct cgroup *cg)
{
	uint32_t nm = cg->n_members, np = 0, k = 0, i = 0;
	struct cmember **mv, *m;
	struct pset *out;
	uint64_t *keys;
	int rc;

	for (uint32_t t = 0; t < cg->n_topics; t++) {
		struct ctopic *ct = &cg->topics[t];

		ct->base = -1;
		if (ct->used && ct->nparts > 0) {
			ct->base = (int32_t)np;
			np += (uint32_t)ct->nparts;
		}
	}
	mv = calloc(nm ? nm : 1, sizeof(*mv));
	out = calloc(nm ? nm : 1, sizeof(*out));
	keys = malloc((np ? np : 1) * sizeof(*keys));
	if (mv == NULL || out == NULL || keys == NULL) {
		rc = -ENOMEM;
		goto done;
	}
	TAILQ_FOREACH(m, &cg->members, link)
		mv[i++] = m;
	for (uint32_t t = 0; t < cg->n_topics; t++) {
		const struct ctopic *ct = &cg->topics[t];

		if (ct->base >= 0)
			for (int32_t p = 0; p < ct->nparts; p++)
				keys[k++] = PKEY(t, p);
	}
	cg->assignor = pick_assignor(cg);
	if (cg->assignor == assignors[1])
		rc = assign_range(cg, mv, nm, out);
	else
		rc = assign_uniform(cg, mv, nm, keys, np, out);
	if (rc < 0)
		goto done;
	for (i = 0; i < nm; i++) {
		pset_free(&mv[i]->target);
		mv[i]->target = out[i];
		memset(&out[i], 0, sizeof(out[i]));
	}
	cg->assignment_epoch = cg->group_epoch;
	co->st.consumer_assignments++;
done:
	if (out != NULL)
		for (i = 0; i < nm; i++)
			pset_free(&out[i]);
	free(out);
	free(mv);
	free(keys);
	return rc;
}

/* ------------------------------------------------------------------------
 * Reconciliation (Kafka's CurrentAssignmentBuilder)
 * ---------------------------------------------------------------------- */

/* Is k assigned to, or being revoked by, a member other than self? */
static bool
owned_by_other(const struct cgroup *cg, const struct cmember *self,
	       uint64_t k)
{
	const struct cmember *m;

	TAILQ_FOREACH(m, &cg->members, link)
		if (m != self && (pset_has(&m->assigned, k) ||
				  pset_has(&m->revoking, k)))
			return true;
	return false;
}

static bool
intersects(const struct pset *a, const struct pset *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (pset_has(b, a->v[i]))
			return true;
	return false;
}

/*
 * Move m one step towards its target. owned: the partitions the heartbeat
 * says the member holds (NULL: not sent).
 */
static int
next_assignment(struct cgroup *cg, struct cmember *m, const struct pset *owned)
{
	struct pset keep = { 0 }, revoke = { 0 }, add = { 0 };
	bool unreleased = false;

	for (uint32_t i = 0; i < m->assigned.n; i++) {
		uint64_t k = m->assigned.v[i];

		if (pset_push(pset_has(&m->target, k) ? &keep : &revoke,
			      k) < 0)
			goto nomem;
	}
	for (uint32_t i = 0; i < m->target.n; i++) {
		uint64_t k = m->target.v[i];

		if (pset_has(&m->assigned, k))
			continue;
		if (owned_by_other(cg, m, k))
			unreleased = true;
		else if (pset_push(&add, k) < 0)
			goto nomem;
	}
	/* Revocation pending and the member still holds some of it (or did
	 * not say what it holds): it stays in its epoch until it does. */
	if (revoke.n > 0 && (owned == NULL || intersects(&revoke, owned))) {
		pset_free(&m->assigned);
		pset_free(&m->revoking);
		m->assigned = keep;
		m->revoking = revoke;
		m->state = CM_UNREVOKED;
		pset_free(&add);
		return 0;
	}
	for (uint32_t i = 0; i < add.n; i++)
		if (pset_push(&keep, add.v[i]) < 0)
			goto nomem;
	pset_sort(&keep);
	pset_free(&m->assigned);
	pset_free(&m->revoking);
	m->assigned = keep;
	m->state = unreleased ? CM_UNRELEASED : CM_STABLE;
	if (m->epoch != cg->assignment_epoch) {
		m->prev_epoch = m->epoch;
		m->epoch = cg->assignment_epoch;
	}
	pset_free(&revoke);
	pset_free(&add);
	return 0;
nomem:
	pset_free(&keep);
	pset_free(&revoke);
	pset_free(&add);
	return -ENOMEM;
}

static int
reconcile(struct cgroup *cg, struct cmember *m, const struct pset *owned)
{
	switch (m->state) {
	case CM_STABLE:
		if (m->epoch != cg->assignment_epoch)
			return next_assignment(cg, m, owned);
		return 0;
	case CM_UNREVOKED:
		if (owned != NULL && !intersects(&m->revoking, owned)) {
			pset_free(&m->revoking);
			return next_assignment(cg, m, owned);
		}
		return 0;
	case CM_UNRELEASED:
		return next_assignment(cg, m, owned);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Groups and members
 * ---------------------------------------------------------------------- */

static struct cgroup *
cgroup_new(void)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));

	if (cg != NULL) {
		TAILQ_INIT(&cg->members);
		cg->assignor = assignors[0];
	}
	return cg;
}

static void
cmember_free(struct fmq_group *co, struct cmember *m)
{
	timer_cancel(co, &m->session);
	timer_cancel(co, &m->rebal);
	timers_reserve(co, -2);
	for (uint32_t i = 0; i < m->n_subs; i++)
		free(m->subs[i]);
	free(m->subs);
	for (uint32_t i = 0; i < m->n_named; i++)
		free(m->named[i]);
	free(m->named);
	if (m->has_re)
		regfree(&m->re);
	gstr_clear(&m->regex);
	gstr_clear(&m->id);
	gstr_clear(&m->instance_id);
	gstr_clear(&m->rack_id);
	gstr_clear(&m->client_id);
	gstr_clear(&m->client_host);
	gstr_clear(&m->assignor);
	pset_free(&m->assigned);
	pset_free(&m->revoking);
	pset_free(&m->target);
	free(m);
}

/* Remove m; bump: it leaves for good (the group epoch moves). */
static void
cmember_remove(struct fmq_group *co, struct cmember *m, bool bump,
	       int64_t now)
{
	struct group *grp = m->grp;
	struct cgroup *cg = grp->cg;

	TAILQ_REMOVE(&cg->members, m, link);
	cg->n_members--;
	co->st.consumer_members--;
	cg->names_dirty = true;
	cmember_free(co, m);
	if (bump)
		cg->group_epoch++;
	if (cg->n_members == 0 && grp->state != GS_EMPTY)
		group_transition(co, grp, GS_EMPTY, now);
}

void
cgroup_free(struct fmq_group *co, struct group *grp)
{
	struct cgroup *cg = grp->cg;
	struct cmember *m;

	if (cg == NULL)
		return;
	while ((m = TAILQ_FIRST(&cg->members)) != NULL) {
		TAILQ_REMOVE(&cg->members, m, link);
		co->st.consumer_members--;
		cmember_free(co, m);
	}
	for (uint32_t i = 0; i < cg->n_topics; i++)
		free(cg->topics[i].name);
	free(cg->topics);
	free(cg->names);
	free(cg);
	grp->cg = NULL;
	co->st.consumer_groups--;
}

void
cmember_timer_fired(struct fmq_group *co, struct gtimer *t, int64_t now)
{
	struct cmember *m = t->kind == T_CSESSION ?
		container_of(t, struct cmember, session) :
		container_of(t, struct cmember, rebal);

	/* Session expired, or the revocation was not acknowledged within
	 * the rebalance timeout: the member is fenced out. */
	co->st.consumer_members_expired++;
	cmember_remove(co, m, true, now);
}

static struct cmember *
cmember_find(const struct cgroup *cg, struct fmq_group_str id)
{
	struct cmember *m;

	TAILQ_FOREACH(m, &cg->members, link)
		if (gstr_eq(&m->id, id))
			return m;
	return NULL;
}

static struct cmember *
cmember_find_static(const struct cgroup *cg, struct fmq_group_str iid)
{
	struct cmember *m;

	TAILQ_FOREACH(m, &cg->members, link)
		if (m->instance_id.len >= 0 && gstr_eq(&m->instance_id, iid))
			return m;
	return NULL;
}

static struct cmember *
cmember_new(struct fmq_group *co, struct group *grp)
{
	struct cmember *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (timers_reserve(co, 2) < 0) {
		free(m);
		return NULL;
	}
	m->grp = grp;
	m->id.len = -1;
	m->instance_id.len = -1;
	m->rack_id.len = -1;
	m->client_id.len = -1;
	m->client_host.len = -1;
	m->assignor.len = -1;
	m->regex.len = -1;
	m->state = CM_STABLE;
	timer_init(&m->session, T_CSESSION);
	timer_init(&m->rebal, T_CREBAL);
	return m;
}

static void
cmember_insert(struct fmq_group *co, struct group *grp, struct cmember *m,
	       struct cmember *before, int64_t now)
{
	struct cgroup *cg = grp->cg;

	if (before != NULL)
		TAILQ_INSERT_BEFORE(before, m, link);
	else
		TAILQ_INSERT_TAIL(&cg->members, m, link);
	cg->n_members++;
	co->st.consumer_members++;
	if (grp->state == GS_EMPTY)
		group_transition(co, grp, GS_STABLE, now);
}

/* Sort v[0..*n) and drop (and free) duplicates. */
static void
sort_unique(char **v, uint32_t *n)
{
	uint32_t k = *n, u = 0;

	qsort(v, k, sizeof(*v), cmp_str);
	if (k <= 1)
		return;
	for (uint32_t i = 1; i < k; i++) {
		if (strcmp(v[i], v[u]) == 0)
			free(v[i]);
		else
			v[++u] = v[i];
	}
	*n = u + 1;
}

static void
free_list(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Set the topic names m subscribes to by name. */
static int
set_named(struct cmember *m, const struct fmq_group_str *s, uint32_t n)
{
	char **v = calloc(n ? n : 1, sizeof(*v));
	uint32_t k = 0;

	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (s[i].len <= 0 || s[i].len > KSTR_MAX)
			continue;
		v[k] = strndup(s[i].ptr, (size_t)s[i].len);
		if (v[k] == NULL) {
			free_list(v, k);
			return -ENOMEM;
		}
		k++;
	}
	sort_unique(v, &k);
	free_list(m->named, m->n_named);
	m->named = v;
	m->n_named = k;
	return 0;
}

/*
 * Recompute m's effective subscription: its names and, with a regex, every
 * topic whose whole name matches it (redone when the topics change).
 * *changed: it differs from before.
 */
static int
resolve_subs(struct fmq_group *co, struct cmember *m, bool force,
	     bool *changed)
{
	uint64_t ver = co->topics_version != NULL ?
		co->topics_version(co->topic_arg) : 0;
	uint32_t n = 0, cap, k = 0;
	const char *name;
	char **v;

	*changed = false;
	if (!force && (!m->has_re || ver == m->re_version))
		return 0;
	if (m->has_re && co->topic_at != NULL)
		while (co->topic_at(co->topic_arg, n) != NULL)
			n++;
	cap = m->n_named + n;
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->n_named; i++)
		if ((v[k++] = strdup(m->named[i])) == NULL)
			goto nomem;
	for (uint32_t i = 0; m->has_re && i < n; i++) {
		name = co->topic_at(co->topic_arg, i);
		if (name == NULL || name[0] == '\0' ||
		    regexec(&m->re, name, 0, NULL, 0) != 0)
			continue;
		if ((v[k++] = strdup(name)) == NULL)
			goto nomem;
	}
	sort_unique(v, &k);
	m->re_version = ver;
	*changed = k != m->n_subs;
	for (uint32_t i = 0; i < k && !*changed; i++)
		*changed = strcmp(v[i], m->subs[i]) != 0;
	if (!*changed) {
		/* Keep the old strings: the group's name union points at
		 * them. */
		free_list(v, k);
		return 0;
	}
	free_list(m->subs, m->n_subs);
	m->subs = v;
	m->n_subs = k;
	return 0;
nomem:
	free_list(v, k);
	return -ENOMEM;
}

/* Compile a subscription regex as a whole-name match (Kafka's RE2J
 * matches(); here POSIX extended syntax). */
static int
compile_regex(struct fmq_group_str rx, regex_t *re)
{
	char *pat = malloc((size_t)rx.len + 5);
	int rc;

	if (pat == NULL)
		return -ENOMEM;
	snprintf(pat, (size_t)rx.len + 5, "^(%.*s)$", rx.len, rx.ptr);
	rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
	free(pat);
	return rc == 0 ? 0 : -EINVAL;
}

const char *
cgroup_state_name(const struct group *grp)
{
	const struct cgroup *cg = grp->cg;
	const struct cmember *m;

	if (cg->n_members == 0)
		return "Empty";
	if (cg->assignment_epoch < cg->group_epoch)
		return "Assigning";
	TAILQ_FOREACH(m, &cg->members, link)
		if (m->epoch != cg->assignment_epoch ||
		    m->state != CM_STABLE)
			return "Reconciling";
	return "Stable";
}

void
cgroup_view(const struct group *grp, struct fmq_group_view *v)
{
	v->state = cgroup_state_name(grp);
	v->generation = grp->cg->group_epoch;
	v->members = grp->cg->n_members;
	v->protocol_type = cview("consumer");
	v->protocol = cview(grp->cg->assignor);
}

/* ------------------------------------------------------------------------
 * OffsetCommit from a consumer-protocol group
 * ---------------------------------------------------------------------- */

int16_t
cgroup_validate_commit(struct fmq_group *co, struct group *grp,
		       const struct fmq_group_commit_req *req)
{
	struct cmember *m;

	(void)co;
	/* Admin clients and standalone consumers commit while it is empty
	 * (Kafka's ConsumerGroup.validateOffsetCommit). */
	if (req->generation_id < 0 && req->member_id.len <= 0 &&
	    req->group_instance_id.len < 0)
		return grp->cg->n_members == 0 ? FMQ_KERR_NONE :
			FMQ_KERR_UNKNOWN_MEMBER_ID;
	m = cmember_find(grp->cg, req->member_id);
	if (m == NULL)
		return FMQ_KERR_UNKNOWN_MEMBER_ID;
	/* Kafka 3.9: "OffsetCommit version 9 or above must be used by
	 * members using the consumer group protocol". */
	if (req->api_version < 9)
		return FMQ_KERR_UNSUPPORTED_VERSION;
	/* The member epoch is the generation. */
	return req->generation_id == m->epoch ? FMQ_KERR_NONE :
		FMQ_KERR_STALE_MEMBER_EPOCH;
}

int16_t
cgroup_validate_fetch(struct fmq_group *co, struct group *grp,
		      const struct fmq_group_fetch_group *fg)
{
	struct cmember *m;

	(void)co;
	/* Kafka's ConsumerGroup.validateOffsetFetch: admin clients and
	 * clients that do not say who they are read freely. */
	if (fg->member_id.len < 0 && fg->member_epoch < 0)
		return FMQ_KERR_NONE;
	m = fg->member_id.len >= 0 ? cmember_find(grp->cg, fg->member_id) :
		NULL;
	if (m == NULL)
		return FMQ_KERR_UNKNOWN_MEMBER_ID;
	return fg->member_epoch == m->epoch ? FMQ_KERR_NONE :
		FMQ_KERR_STALE_MEMBER_EPOCH;
}

/* ------------------------------------------------------------------------
 * ConsumerGroupHeartbeat
 * ---------------------------------------------------------------------- */

static int
hb_error(struct fmq_group *co, struct fmq_group_cheartbeat_resp *r,
	 int16_t err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
hb_error(struct fmq_group *co, struct fmq_group_cheartbeat_resp *r,
	 int16_t err, const char *fmt, ...)
{
	memset(r, 0, sizeof(*r));
	r->error = err;
	r->member_id = FMQ_GROUP_STR_NULL;
	if (fmt != NULL) {
		char *msg = aalloc(co, 1, 512);
		va_list ap;

		if (msg != NULL) {
			va_start(ap, fmt);
			vsnprintf(msg, 512, fmt, ap);
			va_end(ap);
			r->error_message = msg;
		}
	}
	if (err == FMQ_KERR_FENCED_MEMBER_EPOCH)
		co->st.consumer_fenced++;
	co->st.consumer_heartbeat_errors++;
	return 0;
}

static bool
known_assignor(struct fmq_group_str s)
{
	for (size_t i = 0; i < 2; i++)
		if (str_eq(s, cview(assignors[i])))
			return true;
	return false;
}

/* Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid. */
static const char *
hb_invalid(const struct fmq_group_cheartbeat_req *q)
{
	if (q->group_id.len <= 0)
		return "GroupId can't be empty.";
	if (q->instance_id.len == 0)
		return "InstanceId can't be empty.";
	if (q->rack_id.len == 0)
		return "RackId can't be empty.";
	if (q->member_epoch < EPOCH_LEAVE_STATIC)
		return "MemberEpoch is invalid.";
	if (q->member_id.len <= 0 &&
	    (q->version >= 1 || q->member_epoch != 0))
		return "MemberId can't be empty.";
	if (q->member_epoch == 0) {
		if (q->rebalance_timeout_ms == -1)
			return "RebalanceTimeoutMs must be provided in first "
				"request.";
		if (q->n_owned != 0)
			return "TopicPartitions must be empty when "
				"(re-)joining.";
		if (q->n_subscribed < 0 && q->regex.len < 0)
			return "SubscribedTopicNames or SubscribedTopicRegex "
				"must be set in first request.";
	}
	if (q->member_epoch == EPOCH_LEAVE_STATIC && q->instance_id.len < 0)
		return "InstanceId can't be null.";
	return NULL;
}

static int
hb_leave(struct fmq_group *co, const struct fmq_group_cheartbeat_req *q,
	 struct fmq_group_cheartbeat_resp *r, int64_t now)
{
	struct group *grp = group_find(co, q->group_id);
	struct cmember *m;

	if (grp == NULL || grp->cg == NULL)
		return hb_error(co, r, FMQ_KERR_GROUP_ID_NOT_FOUND,
				"Group %.*s not found.", q->group_id.len,
				q->group_id.ptr);
	m = cmember_find(grp->cg, q->member_id);
	if (m == NULL && q->instance_id.len >= 0)
		m = cmember_find_static(grp->cg, q->instance_id);
	if (m == NULL)
		return hb_error(co, r, FMQ_KERR_UNKNOWN_MEMBER_ID,
				"Member %.*s is not a member of group %.*s.",
				q->member_id.len, q->member_id.ptr,
				q->group_id.len, q->group_id.ptr);
	if (!gstr_eq(&m->id, q->member_id))
		return hb_error(co, r, FMQ_KERR_FENCED_INSTANCE_ID,
				"Static member %.*s was replaced by %s.",
				q->instance_id.len, q->instance_id.ptr,
				m->id.ptr);
	memset(r, 0, sizeof(*r));
	r->member_epoch = q->member_epoch;
	r->heartbeat_interval_ms =
		(int32_t)co->conf.consumer_heartbeat_interval_ms;
	r->member_id = gstr_view(&m->id);
	if (q->member_epoch == EPOCH_LEAVE_STATIC) {
		/* Gone for now: it keeps its partitions until it comes back
		 * (epoch 0, same instance id) or its session expires. */
		if (m->epoch != EPOCH_LEAVE_STATIC)
			m->prev_epoch = m->epoch;   /* restored on return */
		m->epoch = EPOCH_LEAVE_STATIC;
		timer_cancel(co, &m->rebal);
		timer_arm(co, &m->session,
			  now + co->conf.consumer_session_timeout_ms);
		return 0;
	}
	/* The answer names the member: keep the id in the answer memory. */
	char *id = aalloc(co, 1, (size_t)m->id.len + 1);

	if (id != NULL) {
		memcpy(id, m->id.ptr, (size_t)m->id.len + 1);
		r->member_id = (struct fmq_group_str){ id, m->id.len };
	} else {
		r->member_id = q->member_id;
	}
	co->st.consumer_leaves++;
	cmember_remove(co, m, true, now);
	return 0;
}

/* A new member id: 22 characters of URL-safe base64, as Kafka's Uuid. */
static int
new_member_id(struct fmq_group *co, struct gstr *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_";
	uint8_t u[18] = { 0 };
	char buf[24];

	for (int i = 0; i < 16; i += 8) {
		uint64_t z = (co->rng += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(u + i, &z, 8);
	}
	for (int i = 0, k = 0; i < 18; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 |
			u[i + 2];

		buf[k++] = b64[(v >> 18) & 63];
		buf[k++] = b64[(v >> 12) & 63];
		buf[k++] = b64[(v >> 6) & 63];
		buf[k++] = b64[v & 63];
	}
	return gstr_set(out, (struct fmq_group_str){ buf, 22 });
}

/* The owned partitions of a heartbeat as keys; *unknown: some topic id is
 * not in the group's table. */
static int
owned_set(const struct cgroup *cg, const struct fmq_group_cheartbeat_req *q,
	  struct pset *out, bool *unknown)
{
	*unknown = false;
	for (int32_t i = 0; i < q->n_owned; i++) {
		const struct fmq_group_ctp *t = &q->owned[i];
		int32_t ti = ctopic_by_id(cg, t->topic_id);

		if (ti < 0) {
			*unknown = *unknown || t->n_parts > 0;
			continue;
		}
		for (uint32_t j = 0; j < t->n_parts; j++)
			if (t->parts[j] >= 0 &&
			    pset_push(out, PKEY(ti, t->parts[j])) < 0)
				return -ENOMEM;
	}
	pset_sort(out);
	return 0;
}

static bool
subset(const struct pset *a, const struct pset *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (!pset_has(b, a->v[i]))
			return false;
	return true;
}

static int
set_str(struct gstr *d, struct fmq_group_str s)
{
	if (s.len < 0)
		return 0;
	if (s.len > KSTR_MAX)
		s.len = KSTR_MAX;
	return gstr_set(d, s);
}

/* Find or create the member an epoch >= 0 heartbeat is about. */
static int
hb_member(struct fmq_group *co, struct group *grp,
	  const struct fmq_group_cheartbeat_req *q,
	  struct fmq_group_cheartbeat_resp *r, struct cmember **out,
	  bool *joined, int64_t now)
{
	struct cgroup *cg = grp->cg;
	struct cmember *m = NULL, *old = NULL;

	*out = NULL;
	*joined = false;
	if (q->member_epoch > 0) {
		m = cmember_find(cg, q->member_id);
		if (m == NULL)
			return hb_error(co, r, FMQ_KERR_UNKNOWN_MEMBER_ID,
					"Member %.*s is not a member of "
					"group %.*s.", q->member_id.len,
					q->member_id.ptr, q->group_id.len,
					q->group_id.ptr);
		if (q->instance_id.len >= 0 &&
		    !gstr_eq(&m->instance_id, q->instance_id))
			return hb_error(co, r, FMQ_KERR_FENCED_INSTANCE_ID,
					"Member %s does not have instance "
					"id %.*s.", m->id.ptr,
					q->instance_id.len,
					q->instance_id.ptr);
		*out = m;
		return 0;
	}
	/* Epoch 0: (re)join. */
	if (q->instance_id.len >= 0) {
		old = cmember_find_static(cg, q->instance_id);
		if (old != NULL && old->epoch != EPOCH_LEAVE_STATIC &&
		    !gstr_eq(&old->id, q->member_id))
			return hb_error(co, r, FMQ_KERR_UNRELEASED_INSTANCE_ID,
					"Static member %s with instance id "
					"%.*s is still in group %.*s.",
					old->id.ptr, q->instance_id.len,
					q->instance_id.ptr, q->group_id.len,
					q->group_id.ptr);
		if (old != NULL && gstr_eq(&old->id, q->member_id)) {
			*out = old;
			return 0;
		}
	} else if (q->member_id.len > 0) {
		m = cmember_find(cg, q->member_id);
		if (m != NULL) {
			/* A known member rejoining: it carries on. */
			*out = m;
			return 0;
		}
	}
	if (old == NULL && cg->n_members >= co->conf.max_size) {
		co->st.limit_rejections++;
		return hb_error(co, r, FMQ_KERR_GROUP_MAX_SIZE_REACHED,
				"The consumer group has reached its max "
				"size (%u).", co->conf.max_size);
	}
	m = cmember_new(co, grp);
	if (m == NULL ||
	    (q->member_id.len > 0 ? set_str(&m->id, q->member_id) :
	     new_member_id(co, &m->id)) < 0 ||
	    set_str(&m->instance_id, q->instance_id) < 0) {
		if (m != NULL)
			cmember_free(co, m);
		return hb_error(co, r, FMQ_KERR_UNKNOWN_SERVER_ERROR, NULL);
	}
	if (old != NULL) {
		/* The static member comes back under a new member id: it
		 * takes over the old one's epoch, partitions and target
		 * (Kafka's static member replacement), no epoch bump. */
		m->epoch = old->epoch == EPOCH_LEAVE_STATIC ?
			old->prev_epoch : old->epoch;
		m->prev_epoch = old->prev_epoch;
		m->state = old->state;
		m->rebalance_timeout_ms = old->rebalance_timeout_ms;
		m->subs = old->subs;
		m->n_subs = old->n_subs;
		old->subs = NULL;
		old->n_subs = 0;
		m->named = old->named;
		m->n_named = old->n_named;
		old->named = NULL;
		old->n_named = 0;
		m->regex = old->regex;
		old->regex.ptr = NULL;
		old->regex.len = -1;
		m->re = old->re;
		m->has_re = old->has_re;
		m->re_version = old->re_version;
		old->has_re = false;
		m->assigned = old->assigned;
		m->revoking = old->revoking;
		m->target = old->target;
		memset(&old->assigned, 0, sizeof(old->assigned));
		memset(&old->revoking, 0, sizeof(old->revoking));
		memset(&old->target, 0, sizeof(old->target));
		m->assignor = old->assignor;
		old->assignor.ptr = NULL;
		old->assignor.len = -1;
		cmember_insert(co, grp, m, old, now);
		cmember_remove(co, old, false, now);
	} else {
		cmember_insert(co, grp, m, NULL, now);
		*joined = true;
		co->st.consumer_joins++;
	}
	*out = m;
	return 0;
}

/* The heartbeat of a member at epoch >= 0; re: its new compiled regex or
 * NULL, *re_taken set when the member keeps it. */
static int
consumer_heartbeat(struct fmq_group *co,
		   const struct fmq_group_cheartbeat_req *q,
		   struct fmq_group_cheartbeat_resp *r, int64_t now,
		   regex_t *re, bool *re_taken)
{
	struct pset owned = { 0 }, before = { 0 };
	struct group *grp;
	struct cgroup *cg;
	struct cmember *m;
	bool joined, changed = false, unknown = false, resub = false;
	uint64_t sig;

	grp = group_find(co, q->group_id);
	if (grp == NULL) {
		if (q->member_epoch != 0)
			return hb_error(co, r, FMQ_KERR_GROUP_ID_NOT_FOUND,
					"Group %.*s not found.",
					q->group_id.len, q->group_id.ptr);
		if (co->n_groups >= co->conf.max_groups) {
			co->st.limit_rejections++;
			return hb_error(co, r,
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE,
					NULL);
		}
		grp = group_create(co, q->group_id, now);
		if (grp == NULL)
			return hb_error(co, r, FMQ_KERR_UNKNOWN_SERVER_ERROR,
					NULL);
	}
	if (grp->cg == NULL) {
		/* An empty classic group (e.g. only committed offsets)
		 * becomes a consumer group on a join; one with classic
		 * members stays classic (no online migration). */
		if (grp->state != GS_EMPTY || grp->n_members > 0 ||
		    grp->n_pending > 0 || q->member_epoch != 0)
			return hb_error(co, r, FMQ_KERR_GROUP_ID_NOT_FOUND,
					"Group %.*s is not a consumer group.",
					q->group_id.len, q->group_id.ptr);
		grp->cg = cgroup_new();
		if (grp->cg == NULL)
			return hb_error(co, r, FMQ_KERR_UNKNOWN_SERVER_ERROR,
					NULL);
		co->st.consumer_groups++;
	}
	cg = grp->cg;
	if (hb_member(co, grp, q, r, &m, &joined, now) < 0 || m == NULL)
		return 0;   /* r has the error */
	if (q->n_owned >= 0 && owned_set(cg, q, &owned, &unknown) < 0)
		goto nomem;
	/* Kafka's throwIfMemberEpochIsInvalid. */
	if (q->member_epoch > 0 && q->member_epoch != m->epoch &&
	    (q->member_epoch > m->epoch ||
	     q->member_epoch != m->prev_epoch || q->n_owned < 0 || unknown ||
	     !subset(&owned, &m->assigned))) {
		pset_free(&owned);
		return hb_error(co, r, FMQ_KERR_FENCED_MEMBER_EPOCH,
				"The consumer group member has a %s member "
				"epoch (%d). The current member epoch is %d.",
				q->member_epoch > m->epoch ? "greater" :
				"smaller", q->member_epoch, m->epoch);
	}
	if (set_str(&m->rack_id, q->rack_id) < 0 ||
	    set_str(&m->client_id, q->client_id) < 0 ||
	    set_str(&m->client_host, q->client_host) < 0 ||
	    set_str(&m->assignor, q->server_assignor) < 0)
		goto nomem;
	if (q->rebalance_timeout_ms >= 0)
		m->rebalance_timeout_ms = q->rebalance_timeout_ms;
	if (q->n_subscribed >= 0) {
		if (set_named(m, q->subscribed, (uint32_t)q->n_subscribed) < 0)
			goto nomem;
		resub = true;
	}
	if (q->regex.len >= 0 && !gstr_eq(&m->regex, q->regex)) {
		/* A new regex (compiled above); "" drops it. */
		if (m->has_re)
			regfree(&m->re);
		m->has_re = re != NULL;
		if (re != NULL) {
			m->re = *re;
			*re_taken = true;
		}
		if (set_str(&m->regex, q->regex) < 0)
			goto nomem;
		if (q->regex.len == 0)
			gstr_clear(&m->regex);
		resub = true;
	}
	if (resolve_subs(co, m, resub, &changed) < 0)
		goto nomem;
	if (changed)
		cg->names_dirty = true;
	if (m->epoch == EPOCH_LEAVE_STATIC)
		m->epoch = m->prev_epoch;   /* back before it was replaced */
	if (refresh_metadata(co, cg, &sig) < 0)
		goto nomem;
	if (joined || changed || sig != cg->meta_sig) {
		cg->group_epoch++;
		cg->meta_sig = sig;
		co->st.consumer_epoch_bumps++;
	}
	if (cg->group_epoch > cg->assignment_epoch &&
	    compute_target(co, cg) < 0)
		goto nomem;
	before = m->assigned;
	m->assigned.v = NULL;
	m->assigned.n = m->assigned.cap = 0;
	for (uint32_t i = 0; i < before.n; i++)
		if (pset_push(&m->assigned, before.v[i]) < 0)
			goto nomem;
	if (reconcile(cg, m, q->n_owned >= 0 ? &owned : NULL) < 0)
		goto nomem;
	timer_arm(co, &m->session, now + co->conf.consumer_session_timeout_ms);
	if (m->state == CM_UNREVOKED) {
		if (m->rebal.idx == GTIMER_OFF)
			timer_arm(co, &m->rebal, now + m->rebalance_timeout_ms);
	} else {
		timer_cancel(co, &m->rebal);
	}
	memset(r, 0, sizeof(*r));
	r->member_id = gstr_view(&m->id);
	r->member_epoch = m->epoch;
	r->heartbeat_interval_ms =
		(int32_t)co->conf.consumer_heartbeat_interval_ms;
	if (q->n_owned >= 0 || q->member_epoch == 0 ||
	    !pset_eq(&before, &m->assigned)) {
		r->has_assignment = true;
		if (pset_answer(co, cg, &m->assigned, &r->assignment,
				&r->n_assignment) < 0)
			goto nomem;
	}
	pset_free(&before);
	pset_free(&owned);
	return 0;
nomem:
	pset_free(&before);
	pset_free(&owned);
	return hb_error(co, r, FMQ_KERR_UNKNOWN_SERVER_ERROR, NULL);
}

int
fmq_group_consumer_heartbeat(struct fmq_group *co,
			     const struct fmq_group_cheartbeat_req *q,
			     struct fmq_group_cheartbeat_resp *r, int64_t now)
{
	const char *bad;
	bool taken = false;
	regex_t re;
	int rc;

	if (co == NULL || q == NULL || r == NULL ||
	    (q->subscribed == NULL && q->n_subscribed > 0) ||
	    (q->owned == NULL && q->n_owned > 0))
		return -EINVAL;
	for (int32_t i = 0; i < q->n_owned; i++)
		if (q->owned[i].parts == NULL && q->owned[i].n_parts > 0)
			return -EINVAL;
	consumer_free_answers(co);
	co->last_now = now;
	co->st.consumer_heartbeats++;
	if (!co->active)
		return hb_error(co, r, FMQ_KERR_COORDINATOR_NOT_AVAILABLE,
				NULL);
	bad = hb_invalid(q);
	if (bad != NULL)
		return hb_error(co, r, FMQ_KERR_INVALID_REQUEST, "%s", bad);
	if (q->server_assignor.len >= 0 && !known_assignor(q->server_assignor))
		return hb_error(co, r, FMQ_KERR_UNSUPPORTED_ASSIGNOR,
				"ServerAssignor %.*s is not supported. "
				"Supported assignors: uniform, range.",
				q->server_assignor.len, q->server_assignor.ptr);
	if (q->member_epoch < 0)
		return hb_leave(co, q, r, now);
	if (q->regex.len <= 0)
		return consumer_heartbeat(co, q, r, now, NULL, &taken);
	rc = compile_regex(q->regex, &re);
	if (rc == -ENOMEM)
		return hb_error(co, r, FMQ_KERR_UNKNOWN_SERVER_ERROR, NULL);
	if (rc < 0)
		return hb_error(co, r, FMQ_KERR_INVALID_REGULAR_EXPRESSION,
				"SubscribedTopicRegex %.*s is not a valid "
				"regular expression.", q->regex.len,
				q->regex.ptr);
	rc = consumer_heartbeat(co, q, r, now, &re, &taken);
	if (!taken)
		regfree(&re);
	return rc;
}

/* ------------------------------------------------------------------------
 * ConsumerGroupDescribe
 * ---------------------------------------------------------------------- */

static int
describe_member(struct fmq_group *co, const struct cgroup *cg,
		const struct cmember *m, struct fmq_group_cmember_desc *d)
{
	struct fmq_group_str *subs = aalloc(co, m->n_named, sizeof(*subs));

	if (subs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->n_named; i++)
		subs[i] = cview(m->named[i]);
	d->regex = gstr_view(&m->regex);
	d->member_id = gstr_view(&m->id);
	d->instance_id = gstr_view(&m->instance_id);
	d->rack_id = gstr_view(&m->rack_id);
	d->member_epoch = m->epoch;
	d->client_id = m->client_id.len < 0 ? cview("") :
		gstr_view(&m->client_id);
	d->client_host = m->client_host.len < 0 ? cview("") :
		gstr_view(&m->client_host);
	d->subscribed = subs;
	d->n_subscribed = m->n_named;
	if (pset_answer(co, cg, &m->assigned, &d->assigned,
			&d->n_assigned) < 0 ||
	    pset_answer(co, cg, &m->target, &d->target, &d->n_target) < 0)
		return -ENOMEM;
	return 0;
}

int
fmq_group_consumer_describe(struct fmq_group *co,
			    const struct fmq_group_str *ids, uint32_t n,
			    const struct fmq_group_cgroup_desc **out,
			    int64_t now)
{
	struct fmq_group_cgroup_desc *d;

	if (co == NULL || out == NULL || (ids == NULL && n > 0))
		return -EINVAL;
	consumer_free_answers(co);
	co->last_now = now;
	d = aalloc(co, n, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct group *grp;
		struct cgroup *cg;
		struct cmember *m;
		struct fmq_group_cmember_desc *dm;
		uint32_t k = 0;

		d[i].group_id = ids[i];
		d[i].state = "Dead";
		d[i].assignor = "";
		if (!co->active) {
			d[i].error = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
			continue;
		}
		if (ids[i].len <= 0) {
			d[i].error = FMQ_KERR_INVALID_GROUP_ID;
			continue;
		}
		grp = group_find(co, ids[i]);
		if (grp == NULL || grp->cg == NULL) {
			d[i].error = FMQ_KERR_GROUP_ID_NOT_FOUND;
			d[i].error_message = grp == NULL ?
				"Group not found." :
				"Group is not a consumer group.";
			continue;
		}
		cg = grp->cg;
		dm = aalloc(co, cg->n_members, sizeof(*dm));
		if (dm == NULL)
			return -ENOMEM;
		TAILQ_FOREACH(m, &cg->members, link)
			if (describe_member(co, cg, m, &dm[k++]) < 0)
				return -ENOMEM;
		d[i].state = cgroup_state_name(grp);
		d[i].group_epoch = cg->group_epoch;
		d[i].assignment_epoch = cg->assignment_epoch;
		d[i].assignor = cg->assignor;
		d[i].members = dm;
		d[i].n_members = k;
	}
	*out = d;
	return 0;
}
