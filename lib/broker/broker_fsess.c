/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetch sessions (KIP-227), as Kafka's FetchManager and FetchSessionCache:
 *
 * - epoch 0 (a full fetch) closes the session it names, if any, and asks
 *   for a new one: the answer carries its id when the cache has room (or
 *   a session may be evicted), else id 0; epoch -1 closes and fetches
 *   without a session.
 * - epoch > 0 (incremental): the session must exist on this lcore
 *   (FETCH_SESSION_ID_NOT_FOUND) and expect that epoch
 *   (INVALID_FETCH_SESSION_EPOCH). The request's partitions are added or
 *   updated, forgotten_topics_data removed, and every partition of the
 *   session is fetched; the answer leaves out those with no records, no
 *   error and the same high watermark, last stable offset and log start
 *   offset as last answered. Partitions that returned records move to the
 *   end of the session, so a max_bytes-limited fetch serves the others
 *   first next time.
 * - The cache is bounded. When full, a new session evicts the least
 *   recently used one if it is unused for 2 minutes; otherwise the
 *   smallest evictable session if the new one is bigger (or a follower's
 *   and it is not): a consumer's session is evictable once it has lived 2
 *   minutes; a follower's only by a follower's after that.
 *
 * Everything runs on the connection's data lcore, between decoding the
 * Fetch and encoding its answer: fsess_begin rewrites the request to the
 * session's partitions without changing the session (a parked fetch runs
 * again from its frame), fsess_end applies the answer once it is final.
 * Session state lives in the lcore's slab. From Fetch v13 topics are
 * named by id: api_fetch hands the 16 id bytes in as the topic "name",
 * and a session made with ids takes only requests with ids (and the
 * reverse: FETCH_SESSION_TOPIC_ID_ERROR, as Kafka).
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_random.h>

#include "broker_priv.h"

struct fsess_ent {
	struct fmq_kafka_str topic;
	struct fsess_part p;
	bool gone;                /* forgotten by the request */
	bool data;                /* the answer has records for it */
};

static inline uint32_t
id_hash(int32_t id)
{
	return (uint32_t)id * 2654435761u;
}

int
fsess_lcore_init(struct fmq_broker_lcore *bl, int socket)
{
	struct fsess_cache *c = &bl->fsess;
	uint32_t n = bl->b->fsess_slots, tab;

	memset(c, 0, sizeof(*c));
	if (n == 0)
		return 0;
	tab = rte_align32pow2(n * 2);
	c->pool = rte_zmalloc_socket("fmq_fsess", n * sizeof(*c->pool),
				     RTE_CACHE_LINE_SIZE, socket);
	c->tab = rte_zmalloc_socket("fmq_fsess_tab", tab * sizeof(*c->tab),
				    RTE_CACHE_LINE_SIZE, socket);
	if (c->pool == NULL || c->tab == NULL) {
		rte_free(c->pool);
		rte_free(c->tab);
		memset(c, 0, sizeof(*c));
		return -ENOMEM;
	}
	c->nslots = n;
	c->tab_mask = tab - 1;
	return 0;
}

static void
sess_free_mem(struct fmq_broker_lcore *bl, struct fsess *s)
{
	slab_free(&bl->slab, s->parts);
	slab_free(&bl->slab, s->names);
	s->parts = NULL;
	s->names = NULL;
	s->cap = 0;
	s->nparts = 0;
	s->names_len = 0;
	s->names_cap = 0;
}

void
fsess_lcore_fini(struct fmq_broker_lcore *bl)
{
	struct fsess_cache *c = &bl->fsess;

	for (uint32_t i = 0; c->pool != NULL && i < c->nslots; i++)
		if (c->pool[i].id != 0)
			sess_free_mem(bl, &c->pool[i]);
	rte_free(c->pool);
	rte_free(c->tab);
	memset(c, 0, sizeof(*c));
}

static struct fsess *
sess_find(const struct fsess_cache *c, int32_t id)
{
	if (c->nslots == 0 || id <= 0)
		return NULL;
	for (uint32_t h = id_hash(id) & c->tab_mask;;
	     h = (h + 1) & c->tab_mask) {
		uint32_t v = c->tab[h];
		if (v == 0)
			return NULL;
		if (c->pool[v - 1].id == id)
			return &c->pool[v - 1];
	}
}

static void
tab_insert(struct fsess_cache *c, uint32_t slot)
{
	uint32_t h = id_hash(c->pool[slot].id) & c->tab_mask;

	while (c->tab[h] != 0)
		h = (h + 1) & c->tab_mask;
	c->tab[h] = slot + 1;
}

/* Linear probing with backward-shift deletion (no tombstones). */
static void
tab_remove(struct fsess_cache *c, int32_t id)
{
	uint32_t i = id_hash(id) & c->tab_mask, j;

	while (c->tab[i] != 0 && c->pool[c->tab[i] - 1].id != id)
		i = (i + 1) & c->tab_mask;
	if (c->tab[i] == 0)
		return;
	j = i;
	for (;;) {
		uint32_t k;
		j = (j + 1) & c->tab_mask;
		if (c->tab[j] == 0)
			break;
		k = id_hash(c->pool[c->tab[j] - 1].id) & c->tab_mask;
		/* Leave it if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		c->tab[i] = c->tab[j];
		i = j;
	}
	c->tab[i] = 0;
}

static void
sess_remove(struct fmq_broker_lcore *bl, struct fsess *s)
{
	struct fsess_cache *c = &bl->fsess;

	c->parts -= s->nparts;
	tab_remove(c, s->id);
	sess_free_mem(bl, s);
	s->id = 0;
	c->nused--;
}

static inline bool
same_name(struct fmq_kafka_str a, struct fmq_kafka_str b)
{
	return a.len == b.len && (a.p == b.p || a.len <= 0 ||
				  memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Make ents (n of them, none gone) the session's partitions. 0 or
 * -ENOMEM (the session unchanged). */
static int
sess_store(struct fmq_broker_lcore *bl, struct fsess *s,
	   const struct fsess_ent *e, uint32_t n)
{
	struct fsess_cache *c = &bl->fsess;
	struct fsess_part *parts = s->parts;
	uint32_t nl = 0, off = 0, cur = 0;
	char *names = NULL;

	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || !same_name(e[i - 1].topic, e[i].topic))
			nl += (uint32_t)RTE_MAX(e[i].topic.len, 0);
	/* The names are rewritten in place when they fit (e's names are
	 * the arena's or the request's, never s->names): a steady session
	 * allocates nothing per fetch. */
	if (nl > 0 && nl <= s->names_cap) {
		names = s->names;
	} else if (nl > 0) {
		names = slab_alloc(&bl->slab, nl);
		if (names == NULL)
			return -ENOMEM;
	}
	if (n > s->cap) {
		parts = slab_alloc(&bl->slab, n * sizeof(*parts));
		if (parts == NULL) {
			if (names != s->names)
				slab_free(&bl->slab, names);
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)RTE_MAX(e[i].topic.len, 0);
		if (i == 0 || !same_name(e[i - 1].topic, e[i].topic)) {
			if (len > 0)
				memcpy(names + off, e[i].topic.p, len);
			cur = off;
			off += len;
		}
		parts[i] = e[i].p;
		parts[i].name_off = cur;
		parts[i].name_len = (uint16_t)len;
	}
	if (parts != s->parts) {
		slab_free(&bl->slab, s->parts);
		s->parts = parts;
		s->cap = n;
	}
	if (names != s->names) {
		slab_free(&bl->slab, s->names);
		s->names = names;
		s->names_cap = nl;
	}
	s->names_len = nl;
	c->parts = c->parts - s->nparts + n;
	s->nparts = n;
	return 0;
}

/* Kafka's EvictableKey order: unprivileged first, then fewer
 * partitions, then lower id. Is (priv, size, id) below s? */
static bool
key_below(bool priv, uint32_t size, int32_t id, const struct fsess *s)
{
	if (priv != s->privileged)
		return !priv;
	if (size != s->nparts)
		return size < s->nparts;
	return id < s->id;
}

/* FetchSessionCache.tryEvict: room for a new session of size partitions. */
static bool
try_evict(struct fmq_broker_lcore *bl, bool privileged, uint32_t size)
{
	struct fsess_cache *c = &bl->fsess;
	struct fsess *lru = NULL, *cand = NULL;

	for (uint32_t i = 0; i < c->nslots; i++) {
		struct fsess *s = &c->pool[i];
		if (s->id != 0 && (lru == NULL || s->used_ns < lru->used_ns))
			lru = s;
	}
	if (lru == NULL)
		return false;
	if (bl->now_ns - lru->used_ns > FSESS_EVICT_NS) {
		sess_remove(bl, lru);
		c->evicted++;
		return true;
	}
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct fsess *s = &c->pool[i];
		/* Kafka files a session as evictable when it is touched. */
		bool old = s->used_ns - s->created_ns > FSESS_EVICT_NS;
		if (s->id == 0 || !(privileged ? !s->privileged || old : old))
			continue;
		if (cand == NULL ||
		    key_below(s->privileged, s->nparts, s->id, cand))
			cand = s;
	}
	if (cand == NULL || key_below(privileged, size, 0, cand))
		return false;
	sess_remove(bl, cand);
	c->evicted++;
	return true;
}

static struct fsess *
sess_create(struct fmq_broker_lcore *bl, bool privileged,
	    const struct fsess_ent *e, uint32_t n)
{
	struct fsess_cache *c = &bl->fsess;
	struct fsess *s = NULL;
	int32_t id;

	if (c->nslots == 0)
		return NULL;
	if (c->nused >= c->nslots && !try_evict(bl, privileged, n)) {
		c->not_created++;
		return NULL;
	}
	for (uint32_t i = 0; i < c->nslots && s == NULL; i++)
		if (c->pool[i].id == 0)
			s = &c->pool[i];
	if (s == NULL)
		return NULL;
	/* Random, positive, never 0, and naming this lcore in the low
	 * bits (BROKER_MAX_LCORES is 128). */
	do {
		id = (int32_t)(((uint32_t)rte_rand() & 0xffffffu) << 7 |
			       (bl->idx & 0x7fu));
	} while (id <= 0 || sess_find(c, id) != NULL);
	memset(s, 0, sizeof(*s));
	if (sess_store(bl, s, e, n) < 0)
		return NULL;
	s->id = id;
	s->epoch = 1;
	s->privileged = privileged;
	s->created_ns = bl->now_ns;
	s->used_ns = bl->now_ns;
	tab_insert(c, (uint32_t)(s - c->pool));
	c->nused++;
	c->created++;
	return s;
}

static inline int32_t
next_epoch(int32_t e)
{
	if (e < 0)
		return -1;
	return e == INT32_MAX ? 1 : e + 1;
}

static void
ent_from_req(struct fsess_ent *e, struct fmq_kafka_str topic,
	     const struct fmq_kafka_fetch_req_fetch_partition *qp)
{
	memset(e, 0, sizeof(*e));
	e->topic = topic;
	e->p.partition = qp->partition;
	e->p.current_leader_epoch = qp->current_leader_epoch;
	e->p.last_fetched_epoch = qp->last_fetched_epoch;
	e->p.max_bytes = qp->partition_max_bytes;
	e->p.fetch_offset = qp->fetch_offset;
	e->p.log_start_offset = qp->log_start_offset;
	e->p.hw = -1;
	e->p.lso = -1;
	e->p.log_start = -1;
}

/* Index of ents by (topic, partition), in the arena. */
struct ent_idx {
	uint32_t *tab;            /* ent + 1, 0 empty */
	uint32_t mask;
};

static uint32_t
ent_hash(struct fmq_kafka_str t, int32_t p)
{
	uint32_t h = 2166136261u;

	for (int32_t i = 0; i < t.len; i++)
		h = (h ^ (uint8_t)t.p[i]) * 16777619u;
	return (h ^ (uint32_t)p) * 2654435761u;
}

static int32_t
ent_find(const struct ent_idx *x, const struct fsess_ent *e,
	 struct fmq_kafka_str t, int32_t p, uint32_t *slot)
{
	uint32_t h = ent_hash(t, p) & x->mask;

	for (;; h = (h + 1) & x->mask) {
		uint32_t v = x->tab[h];
		if (v == 0) {
			*slot = h;
			return -1;
		}
		if (e[v - 1].p.partition == p && same_name(e[v - 1].topic, t))
			return (int32_t)(v - 1);
	}
}

/* The request's topics rebuilt from ents, grouping runs of one topic. */
static int
req_from_ents(struct fmq_broker_lcore *bl, struct fmq_kafka_fetch_req *req,
	      const struct fsess_ent *e, uint32_t n)
{
	struct fmq_kafka_fetch_req_fetch_partition *qp;
	struct fmq_kafka_fetch_req_fetch_topic *qt;
	uint32_t nt = 0;

	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || !same_name(e[i - 1].topic, e[i].topic))
			nt++;
	qt = fmq_kafka_arena_alloc(&bl->arena, (nt ? nt : 1) * sizeof(*qt));
	qp = fmq_kafka_arena_alloc(&bl->arena, (n ? n : 1) * sizeof(*qp));
	if (qt == NULL || qp == NULL)
		return -ENOMEM;
	memset(qt, 0, (nt ? nt : 1) * sizeof(*qt));
	memset(qp, 0, (n ? n : 1) * sizeof(*qp));
	nt = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || !same_name(e[i - 1].topic, e[i].topic)) {
			qt[nt].topic = e[i].topic;
			qt[nt].partitions = &qp[i];
			nt++;
		}
		qt[nt - 1].partitions_count++;
		qp[i].partition = e[i].p.partition;
		qp[i].current_leader_epoch = e[i].p.current_leader_epoch;
		qp[i].fetch_offset = e[i].p.fetch_offset;
		qp[i].last_fetched_epoch = e[i].p.last_fetched_epoch;
		qp[i].log_start_offset = e[i].p.log_start_offset;
		qp[i].partition_max_bytes = e[i].p.max_bytes;
	}
	req->topics = qt;
	req->topics_count = (int32_t)nt;
	return 0;
}

/* A full fetch: its partitions, to become a session's. */
static int
ents_full(struct fmq_broker_lcore *bl, const struct fmq_kafka_fetch_req *req,
	  struct fsess_ctx *fc)
{
	uint32_t n = 0;

	for (int32_t ti = 0; ti < req->topics_count; ti++)
		n += (uint32_t)RTE_MAX(req->topics[ti].partitions_count, 0);
	fc->ents = fmq_kafka_arena_alloc(&bl->arena,
					 (n ? n : 1) * sizeof(*fc->ents));
	if (fc->ents == NULL)
		return -ENOMEM;
	for (int32_t ti = 0; ti < req->topics_count; ti++) {
		const struct fmq_kafka_fetch_req_fetch_topic *qt =
			&req->topics[ti];
		for (int32_t pi = 0; pi < qt->partitions_count; pi++)
			ent_from_req(&fc->ents[fc->nents++], qt->topic,
				     &qt->partitions[pi]);
	}
	return 0;
}

/* An incremental fetch: the session's partitions with the request's
 * changes, in the arena (the session is not touched). */
static int
ents_incremental(struct fmq_broker_lcore *bl, struct fmq_kafka_fetch_req *req,
		 struct fsess_ctx *fc)
{
	const struct fsess *s = fc->s;
	uint32_t nreq = 0, cap, n = s->nparts, slot;
	struct ent_idx x;
	struct fsess_ent *e;
	char *names = NULL;

	for (int32_t ti = 0; ti < req->topics_count; ti++)
		nreq += (uint32_t)RTE_MAX(req->topics[ti].partitions_count, 0);
	cap = s->nparts + nreq;
	x.mask = rte_align32pow2(RTE_MAX(cap * 2, 8u)) - 1;
	x.tab = fmq_kafka_arena_alloc(&bl->arena,
				      (x.mask + 1) * sizeof(*x.tab));
	e = fmq_kafka_arena_alloc(&bl->arena, (cap ? cap : 1) * sizeof(*e));
	if (s->names_len > 0)
		names = fmq_kafka_arena_alloc(&bl->arena, s->names_len);
	if (x.tab == NULL || e == NULL || (s->names_len > 0 && names == NULL))
		return -ENOMEM;
	memset(x.tab, 0, (x.mask + 1) * sizeof(*x.tab));
	if (s->names_len > 0)
		memcpy(names, s->names, s->names_len);
	for (uint32_t i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].p = s->parts[i];
		e[i].topic.p = names + s->parts[i].name_off;
		e[i].topic.len = s->parts[i].name_len;
		if (ent_find(&x, e, e[i].topic, e[i].p.partition, &slot) < 0)
			x.tab[slot] = i + 1;
	}
	for (int32_t ti = 0; ti < req->topics_count; ti++) {
		const struct fmq_kafka_fetch_req_fetch_topic *qt =
			&req->topics[ti];
		for (int32_t pi = 0; pi < qt->partitions_count; pi++) {
			const struct fmq_kafka_fetch_req_fetch_partition *qp =
				&qt->partitions[pi];
			int32_t k = ent_find(&x, e, qt->topic, qp->partition,
					     &slot);
			if (k < 0) {
				ent_from_req(&e[n], qt->topic, qp);
				x.tab[slot] = ++n;
				continue;
			}
			/* CachedPartition.updateRequestParams */
			e[k].p.max_bytes = qp->partition_max_bytes;
			e[k].p.fetch_offset = qp->fetch_offset;
			e[k].p.current_leader_epoch = qp->current_leader_epoch;
			e[k].p.last_fetched_epoch = qp->last_fetched_epoch;
			e[k].p.log_start_offset = qp->log_start_offset;
		}
	}
	for (int32_t fi = 0; fi < req->forgotten_topics_data_count; fi++) {
		const struct fmq_kafka_fetch_req_forgotten_topic *ft =
			&req->forgotten_topics_data[fi];
		for (int32_t pi = 0; pi < ft->partitions_count; pi++) {
			int32_t k = ent_find(&x, e, ft->topic,
					     ft->partitions[pi], &slot);
			if (k >= 0)
				e[k].gone = true;
		}
	}
	fc->nents = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!e[i].gone)
			e[fc->nents++] = e[i];
	fc->ents = e;
	return req_from_ents(bl, req, e, fc->nents);
}

int
fsess_begin(struct req_ctx *rc, struct fmq_kafka_fetch_req *req,
	    struct fsess_ctx *fc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fsess_cache *c = &bl->fsess;
	struct fsess *s;

	memset(fc, 0, sizeof(*fc));
	if (rc->hdr->api_version < 7)
		return 0;
	fc->privileged = req->replica_id >= 0;
	fc->ids = rc->hdr->api_version >= 13;
	if (req->session_epoch == 0 || req->session_epoch == -1) {
		/* A full request closes the session it names. */
		if (req->session_id != 0) {
			s = sess_find(c, req->session_id);
			if (s != NULL) {
				sess_remove(bl, s);
				c->closed++;
			}
		}
		if (req->session_epoch == -1 || c->nslots == 0)
			return 0;
		fc->kind = FSESS_FULL;
		return ents_full(bl, req, fc);
	}
	s = sess_find(c, req->session_id);
	if (s == NULL) {
		fc->err = FMQ_KERR_FETCH_SESSION_ID_NOT_FOUND;
		return 0;
	}
	if (s->epoch != req->session_epoch) {
		fc->err = FMQ_KERR_INVALID_FETCH_SESSION_EPOCH;
		return 0;
	}
	/* FetchManager: a session keeps to topic ids or to names. */
	if (s->ids != fc->ids) {
		fc->err = FMQ_KERR_FETCH_SESSION_TOPIC_ID_ERROR;
		return 0;
	}
	fc->kind = FSESS_INCR;
	fc->s = s;
	return ents_incremental(bl, req, fc);
}

void
fsess_end(struct req_ctx *rc, struct fsess_ctx *fc,
	  struct fmq_kafka_fetch_resp *resp)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fsess_cache *c = &bl->fsess;
	bool incr = fc->kind == FSESS_INCR;
	uint32_t flat = 0;
	int32_t tout = 0;

	if (fc->kind == FSESS_NONE)
		return;
	/* IncrementalFetchContext / CachedPartition.maybeUpdateResponseData
	 * (the last stable offset counts too, for transactions). */
	for (int32_t ti = 0; ti < resp->responses_count; ti++) {
		struct fmq_kafka_fetch_resp_fetchable_topic_response *ot =
			&resp->responses[ti];
		int32_t pout = 0;

		for (int32_t pi = 0; pi < ot->partitions_count; pi++, flat++) {
			struct fmq_kafka_fetch_resp_partition_data *op =
				&ot->partitions[pi];
			struct fsess_ent *e;
			bool must;

			if (flat >= fc->nents)
				break;
			e = &fc->ents[flat];
			e->data = op->records.len > 0;
			must = e->data;
			if (e->p.hw != op->high_watermark) {
				must = true;
				e->p.hw = op->high_watermark;
			}
			if (e->p.lso != op->last_stable_offset) {
				must = true;
				e->p.lso = op->last_stable_offset;
			}
			if (e->p.log_start != op->log_start_offset) {
				must = true;
				e->p.log_start = op->log_start_offset;
			}
			if (op->error_code != 0) {
				must = true;
				e->p.hw = -1;  /* answer it again once cleared */
			}
			if (!incr || must) {
				if (pout != pi)
					ot->partitions[pout] = *op;
				pout++;
			} else {
				c->omitted++;
			}
		}
		if (!incr)
			continue;
		ot->partitions_count = pout;
		if (pout > 0) {
			if (tout != ti)
				resp->responses[tout] = *ot;
			tout++;
		}
	}
	if (fc->kind == FSESS_FULL) {
		struct fsess *s = sess_create(bl, fc->privileged, fc->ents,
					      fc->nents);
		if (s != NULL)
			s->ids = fc->ids;
		resp->session_id = s != NULL ? s->id : 0;
		return;
	}
	resp->responses_count = tout;
	/* Partitions that sent records go to the end, in order. */
	struct fsess_ent *tmp = fmq_kafka_arena_alloc(&bl->arena,
		(fc->nents ? fc->nents : 1) * sizeof(*tmp));
	if (tmp != NULL) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < fc->nents; i++)
			if (!fc->ents[i].data)
				tmp[k++] = fc->ents[i];
		for (uint32_t i = 0; i < fc->nents; i++)
			if (fc->ents[i].data)
				tmp[k++] = fc->ents[i];
		fc->ents = tmp;
	}
	if (sess_store(bl, fc->s, fc->ents, fc->nents) < 0) {
		/* No memory for its new state: close it; the client's next
		 * request learns so and starts over with a full fetch. */
		sess_remove(bl, fc->s);
		c->closed++;
		resp->session_id = 0;
		return;
	}
	fc->s->epoch = next_epoch(fc->s->epoch);
	fc->s->used_ns = bl->now_ns;
	c->incremental++;
	resp->session_id = fc->s->id;
}
