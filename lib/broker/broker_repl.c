/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replication on the data lcores (issue 17; docs/architecture.md, "A
 * cluster", and ../shared/cluster.md for Kafka's protocol).
 *
 * Follower: each data lcore fetches the replicated partitions it owns
 * and follows, one TCP-lite connection per leader (fmq_tcp_connect to
 * the leader's advertised address), with Kafka's Fetch v12 (replica_id
 * = this broker, current_leader_epoch, last_fetched_epoch), and appends
 * the leader's batches byte for byte (fmq_log_append_follower: offsets,
 * epochs and CRCs kept, CRCs verified). One request in flight per
 * leader; its response is gathered into a buffer of
 * replica.fetch.response.max.bytes allocated when the connection is
 * first made (never per request).
 *
 * Leader: a Fetch with replica_id >= 0 reads up to the log end and
 * records the follower's fetch offset and Kafka's lastCaughtUpTime;
 * HW = min LEO over the ISR of the snapshot (the ISR in ZooKeeper, which
 * keeps a member until its removal is written: the maximal ISR);
 * consumers' Fetch and ListOffsets stop at the HW.
 *
 * acks=all: a Produce whose partitions were appended waits in this
 * lcore's purgatory (no lcore blocks) until the HW of each covers the
 * log end it saw after its append, or its timeout (REQUEST_TIMED_OUT);
 * it is checked on every poll, so a HW moved by any lcore wakes it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "broker_priv.h"

#define RF_IDLE 0
#define RF_CONNECTING 1
#define RF_READY 2
#define RF_INFLIGHT 3
#define RF_REQ_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define RF_ARENA (4u << 20)
#define RF_TXBUF (256u << 10)
#define FETCH_V 12
#define RTHR_RETRY_NS (10ull * 1000 * 1000)  /* throttled: look again */

struct rfetch {
	struct fmq_broker_lcore *bl;
	int32_t leader;            /* broker id; -1: slot free */
	uint8_t state;
	fmq_tcp_conn_t tcp;
	uint64_t next_ns;          /* backoff: no connect/send before */
	uint64_t sent_ns;
	int32_t corr;
	uint8_t *buf;              /* response being gathered */
	uint32_t len, cap;
};

struct pw_part {
	struct fmq_brepl *repl;    /* NULL: nothing to wait for */
	int64_t need;              /* HW that covers the append */
	int32_t epoch;             /* leadership it was appended under */
	int32_t index;
	struct xres x;
};

struct pwait {
	struct pwait *next;
	uint32_t conn, gen, slot;
	uint64_t deadline_ns;
	int16_t version;
	int32_t corr, throttle;
	uint32_t ntopics, n;
	char (*names)[FMQ_BROKER_TOPIC_MAX + 1];
	uint32_t *counts;
	struct pw_part *p;
};

struct brepl_lc {
	uint64_t meta_version;
	struct rfetch f[BREPL_MAX_LEADERS];
	struct fmq_kafka_arena arena;
	uint8_t *tx;
	struct pwait *pw;
	uint32_t npw;
	/* Replicated partitions this lcore owns and leads (snapshot). */
	const struct fmq_bpart **led;
	uint32_t nled, led_cap;
	struct brepl_stats st;
};

/* ------------------------------------------------------ leader side */

static struct brepl_lc *
lc_of(struct fmq_broker_lcore *bl)
{
	return bl->repl;
}

static struct fmq_brepl_peer *
peer_of(struct fmq_brepl *r, int32_t id)
{
	for (uint16_t i = 0; i < r->npeers; i++)
		if (r->peer[i].id == id)
			return &r->peer[i];
	return NULL;
}

bool
repl_advance(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp)
{
	struct fmq_brepl *r = bp->repl;
	struct fmq_log_offsets lo;
	int64_t hw, old;

	if (r == NULL || bp->log == NULL ||
	    atomic_load_explicit(&r->epoch, memory_order_relaxed) !=
	    bp->leader_epoch)
		return false;
	fmq_log_part_offsets(bp->log, &lo);
	hw = lo.high_watermark;
	for (uint16_t i = 0; i < bp->nisr; i++) {
		struct fmq_brepl_peer *pe;
		int64_t l;

		if (bp->isr[i] == r->self)
			continue;
		pe = peer_of(r, bp->isr[i]);
		l = pe != NULL ? atomic_load(&pe->leo) : -1;
		if (l < 0)
			return false;    /* not heard from yet */
		if (l < hw)
			hw = l;
	}
	old = atomic_load(&r->hw);
	while (hw > old)
		if (atomic_compare_exchange_weak(&r->hw, &old, hw)) {
			atomic_fetch_add_explicit(&r->hw_moves, 1,
						  memory_order_relaxed);
			/* Consumers parked at the old HW may read now. */
			note_own_append(bl, bp->log);
			return true;
		}
	return false;
}

void
repl_leader_conn(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (k != NULL)
		(void)fmq_tcp_set_rto_max(bl->net, k->tcp,
					  bl->b->repl_rto_max_ms);
}

int64_t
repl_hw(const struct fmq_bpart *bp, int64_t leo)
{
	if (bp->repl == NULL)
		return leo;
	int64_t hw = atomic_load_explicit(&bp->repl->hw, memory_order_acquire);
	return hw < leo ? hw : leo;
}

int16_t
repl_leader_fetch(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp,
		  int32_t replica_id, int32_t cur_epoch, int64_t offset,
		  int64_t *upto)
{
	struct fmq_brepl *r = bp->repl;
	struct fmq_brepl_peer *pe;
	struct fmq_log_offsets lo;
	uint64_t now = bl->now_ns;

	*upto = INT64_MAX;
	if (r == NULL)
		return 0;
	if (cur_epoch >= 0 && cur_epoch < bp->leader_epoch)
		return FMQ_KERR_FENCED_LEADER_EPOCH;
	if (cur_epoch > bp->leader_epoch)
		return FMQ_KERR_UNKNOWN_LEADER_EPOCH;
	if (replica_id < 0) {
		*upto = atomic_load_explicit(&r->hw, memory_order_acquire);
		return 0;
	}
	pe = peer_of(r, replica_id);
	if (pe == NULL || replica_id == r->self)
		return FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
	fmq_log_part_offsets(bp->log, &lo);
	if (offset > lo.high_watermark || offset < lo.log_start)
		return 0;     /* the read answers OFFSET_OUT_OF_RANGE */
	/* Kafka's Replica.updateFetchState. */
	if (offset >= lo.high_watermark)
		atomic_store(&pe->caught_up_ns, now);
	else if (offset >= atomic_load(&pe->prev_leo))
		atomic_store(&pe->caught_up_ns,
			     atomic_load(&pe->prev_fetch_ns));
	atomic_store(&pe->prev_leo, lo.high_watermark);
	atomic_store(&pe->prev_fetch_ns, now);
	atomic_store(&pe->leo, offset);
	repl_advance(bl, bp);
	return 0;
}

int16_t
repl_produce_check(const struct fmq_broker_lcore *bl,
		   const struct fmq_bpart *bp, int16_t acks)
{
	struct fmq_brepl *r = bp->repl;
	uint64_t lease;

	if (r == NULL || bp->log == NULL)
		return 0;
	/* A leader that has not heard from ZooKeeper in time (paused, cut
	 * off) may have been replaced: it takes no write (Kafka's zombie
	 * window, closed by a lease of 2/3 of the session timeout). */
	lease = atomic_load_explicit(&bl->b->lead_lease_ns,
				     memory_order_relaxed);
	if (lease != 0 && bl->now_ns > lease) {
		lc_of((struct fmq_broker_lcore *)bl)->st.lease_refused++;
		return FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
	}
	if (acks == -1 && (int32_t)bp->nisr < atomic_load(&r->min_isr))
		return FMQ_KERR_NOT_ENOUGH_REPLICAS;
	return 0;
}

void
fmq_broker_set_lease(struct fmq_broker *b, uint64_t until_ns)
{
	atomic_store_explicit(&b->lead_lease_ns, until_ns,
			      memory_order_relaxed);
}

/* ----------------------------------------------------------- purgatory */

int
repl_produce_park(struct req_ctx *rc,
		  const struct fmq_kafka_produce_req *req, struct xres *res,
		  uint32_t n, int32_t throttle)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct brepl_lc *L = lc_of(bl);
	uint32_t flat = 0, nt = (uint32_t)RTE_MAX(req->topic_data_count, 0);
	bool wait = false;
	struct pwait *w;

	if (L == NULL || n == 0)
		return REQ_DONE;
	/* Anything to wait for? */
	for (uint32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		const struct fmq_btopic *t = td->name.len > 0 ?
			fmq_bmeta_find(rc->meta, td->name.p,
				       (uint32_t)td->name.len) : NULL;
		for (int32_t pi = 0; pi < td->partition_data_count;
		     pi++, flat++) {
			int32_t idx = td->partition_data[pi].index;
			if (res[flat].err != 0 || t == NULL || idx < 0 ||
			    (uint32_t)idx >= t->nparts)
				continue;
			const struct fmq_bpart *bp = &t->parts[idx];
			struct fmq_log_offsets lo;
			if (bp->repl == NULL || bp->log == NULL)
				continue;
			fmq_log_part_offsets(bp->log, &lo);
			if (atomic_load(&bp->repl->hw) < lo.high_watermark)
				wait = true;
		}
	}
	if (!wait)
		return REQ_DONE;     /* every HW covers it already */
	if (L->npw >= bl->b->max_waiters)
		goto no_room;
	w = slab_zalloc(&bl->slab, sizeof(*w));
	if (w == NULL)
		goto no_room;
	w->names = slab_alloc(&bl->slab, (nt ? nt : 1) * sizeof(*w->names));
	w->counts = slab_alloc(&bl->slab, (nt ? nt : 1) * sizeof(*w->counts));
	w->p = slab_zalloc(&bl->slab, n * sizeof(*w->p));
	if (w->names == NULL || w->counts == NULL || w->p == NULL) {
		slab_free(&bl->slab, w->names);
		slab_free(&bl->slab, w->counts);
		slab_free(&bl->slab, w->p);
		slab_free(&bl->slab, w);
		goto no_room;
	}
	w->conn = rc->k->idx;
	w->gen = rc->k->gen;
	w->slot = rc->slot;
	w->version = rc->hdr->api_version;
	w->corr = rc->hdr->correlation_id;
	w->throttle = throttle;
	w->ntopics = nt;
	w->n = n;
	w->deadline_ns = bl->now_ns +
		(uint64_t)RTE_MAX(req->timeout_ms, 0) * 1000000ull;
	flat = 0;
	for (uint32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		const struct fmq_btopic *t = td->name.len > 0 ?
			fmq_bmeta_find(rc->meta, td->name.p,
				       (uint32_t)td->name.len) : NULL;
		uint32_t nl = (uint32_t)RTE_MAX(td->name.len, 0);
		if (nl > FMQ_BROKER_TOPIC_MAX)
			nl = FMQ_BROKER_TOPIC_MAX;
		memcpy(w->names[ti], td->name.p, nl);
		w->names[ti][nl] = '\0';
		w->counts[ti] = (uint32_t)RTE_MAX(td->partition_data_count, 0);
		for (int32_t pi = 0; pi < td->partition_data_count;
		     pi++, flat++) {
			struct pw_part *pp = &w->p[flat];
			int32_t idx = td->partition_data[pi].index;
			pp->index = idx;
			pp->x = res[flat];
			pp->x.op = NULL;
			if (res[flat].err != 0 || t == NULL || idx < 0 ||
			    (uint32_t)idx >= t->nparts)
				continue;
			const struct fmq_bpart *bp = &t->parts[idx];
			if (bp->repl == NULL || bp->log == NULL)
				continue;
			struct fmq_log_offsets lo;
			fmq_log_part_offsets(bp->log, &lo);
			pp->repl = bp->repl;
			pp->need = lo.high_watermark;
			pp->epoch = bp->leader_epoch;
		}
	}
	w->next = L->pw;
	L->pw = w;
	L->npw++;
	L->st.acks_all_parked++;
	return REQ_PARK;
no_room:
	/* Cannot wait: never acknowledge what the HW does not cover yet
	 * (retriable; an idempotent retry finds its batch appended). */
	flat = 0;
	for (uint32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		const struct fmq_btopic *t = td->name.len > 0 ?
			fmq_bmeta_find(rc->meta, td->name.p,
				       (uint32_t)td->name.len) : NULL;
		for (int32_t pi = 0; pi < td->partition_data_count;
		     pi++, flat++) {
			int32_t idx = td->partition_data[pi].index;
			if (res[flat].err != 0 || t == NULL || idx < 0 ||
			    (uint32_t)idx >= t->nparts ||
			    t->parts[idx].repl == NULL)
				continue;
			res[flat].err = FMQ_KERR_REQUEST_TIMED_OUT;
			L->st.acks_all_timeouts++;
		}
	}
	return REQ_DONE;
}

/* Answer a parked produce (every partition settled). */
static void
pw_answer(struct fmq_broker_lcore *bl, struct kconn *k, struct pwait *w)
{
	struct fmq_kafka_produce_resp resp;
	uint32_t flat = 0;

	fmq_kafka_arena_reset(&bl->arena);
	fmq_kafka_init_response(FMQ_KAFKA_API_PRODUCE, w->version, &resp);
	resp.throttle_time_ms = w->throttle;
	resp.responses_count = (int32_t)w->ntopics;
	resp.responses = fmq_kafka_arena_alloc(&bl->arena,
		(w->ntopics ? w->ntopics : 1) * sizeof(*resp.responses));
	if (resp.responses == NULL)
		goto nomem;
	for (uint32_t ti = 0; ti < w->ntopics; ti++) {
		struct fmq_kafka_produce_resp_topic_produce_response *tr =
			&resp.responses[ti];
		uint32_t np = w->counts[ti];

		tr->name = fmq_kafka_str(w->names[ti]);
		tr->partition_responses_count = (int32_t)np;
		tr->partition_responses = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*tr->partition_responses));
		if (tr->partition_responses == NULL)
			goto nomem;
		for (uint32_t pi = 0; pi < np; pi++, flat++) {
			struct fmq_kafka_produce_resp_partition_produce_response
				*pr = &tr->partition_responses[pi];
			const struct xres *x = &w->p[flat].x;

			memset(pr, 0, sizeof(*pr));
			pr->index = w->p[flat].index;
			pr->error_code = x->err;
			pr->base_offset = x->err ? -1 : x->base;
			pr->log_append_time_ms = x->err ? -1 : x->append_time;
			pr->log_start_offset = x->err ? -1 : x->log_start;
			pr->error_message = FMQ_KAFKA_STR_NULL;
			/* v10+: the leader is not known here (KIP-951's
			 * defaults, not written). */
			pr->current_leader.leader_id = -1;
			pr->current_leader.leader_epoch = -1;
			count_error(bl, x->err);
		}
	}
	struct rte_mbuf *m = resp_encode(bl, FMQ_KAFKA_API_PRODUCE, w->version,
					 w->corr, &resp);
	if (m == NULL)
		goto nomem;
	conn_complete(bl, k, w->slot, m);
	return;
nomem:
	conn_close(bl, k, BROKER_CLOSE_NOMEM);
}

static void
pw_free(struct fmq_broker_lcore *bl, struct pwait *w)
{
	slab_free(&bl->slab, w->names);
	slab_free(&bl->slab, w->counts);
	slab_free(&bl->slab, w->p);
	slab_free(&bl->slab, w);
}

/* Settle what can be: 1 when every partition of w is settled. */
static int
pw_check(struct fmq_broker_lcore *bl, struct pwait *w, bool expired)
{
	struct brepl_lc *L = lc_of(bl);
	bool all = true;

	for (uint32_t i = 0; i < w->n; i++) {
		struct pw_part *pp = &w->p[i];
		struct fmq_brepl *r = pp->repl;

		if (r == NULL)
			continue;
		if (atomic_load(&r->epoch) != pp->epoch) {
			/* Leadership moved: the write may be lost. */
			pp->x.err = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
			pp->repl = NULL;
			L->st.acks_all_not_leader++;
		} else if (atomic_load(&r->hw) >= pp->need) {
			if (atomic_load(&r->nisr) < atomic_load(&r->min_isr)) {
				pp->x.err =
				FMQ_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
				L->st.acks_all_after_append++;
			}
			pp->repl = NULL;
		} else if (expired) {
			pp->x.err = FMQ_KERR_REQUEST_TIMED_OUT;
			pp->repl = NULL;
			L->st.acks_all_timeouts++;
		} else {
			all = false;
		}
	}
	return all ? 1 : 0;
}

static void
pw_poll(struct fmq_broker_lcore *bl)
{
	struct brepl_lc *L = lc_of(bl);
	struct pwait **pp = &L->pw;

	while (*pp != NULL) {
		struct pwait *w = *pp;
		struct kconn *k = conn_lookup(bl, w->conn, w->gen);

		if (k != NULL &&
		    !pw_check(bl, w, bl->now_ns >= w->deadline_ns)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		L->npw--;
		if (k != NULL) {
			L->st.acks_all_done++;
			pw_answer(bl, k, w);
		}
		pw_free(bl, w);
	}
}

/* ------------------------------------------------------ follower side */

static void rf_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
		    struct rte_mbuf *m);
static void rf_connected(struct fmq_net *n, fmq_tcp_conn_t c, void *user);
static void rf_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
		      int reason);

static const struct fmq_tcp_callbacks rf_cb = {
	.connected = rf_connected,
	.data = rf_data,
	.closed = rf_closed,
};

static void
rf_fail(struct rfetch *f, bool abort)
{
	struct fmq_broker_lcore *bl = f->bl;

	if (abort && f->tcp != FMQ_TCP_INVALID)
		fmq_tcp_abort(bl->net, f->tcp);
	f->tcp = FMQ_TCP_INVALID;
	f->state = RF_IDLE;
	f->len = 0;
	f->next_ns = bl->now_ns + bl->b->repl_backoff_ns;
}

static void
rf_connected(struct fmq_net *n, fmq_tcp_conn_t c, void *user)
{
	struct rfetch *f = user;

	(void)n;
	(void)c;
	f->state = RF_READY;
	lc_of(f->bl)->st.connects++;
}

static void
rf_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user, int reason)
{
	struct rfetch *f = user;

	(void)n;
	(void)c;
	(void)reason;
	lc_of(f->bl)->st.disconnects++;
	rf_fail(f, false);
}

/* The followed partition of the snapshot, if this lcore still fetches
 * it from f's leader. */
static const struct fmq_bpart *
followed(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	 struct fmq_kafka_str name, int32_t p, int32_t leader)
{
	const struct fmq_btopic *t = name.len > 0 ?
		fmq_bmeta_find(m, name.p, (uint32_t)name.len) : NULL;
	const struct fmq_bpart *bp;

	if (t == NULL || p < 0 || (uint32_t)p >= t->nparts)
		return NULL;
	bp = &t->parts[p];
	if (bp->flog == NULL || bp->repl == NULL || bp->owner != bl->idx ||
	    bp->leader != leader ||
	    atomic_load(&bp->repl->truncating) >= 0)
		return NULL;
	return bp;
}

static void
rf_response(struct rfetch *f, const uint8_t *p, uint32_t len)
{
	struct fmq_broker_lcore *bl = f->bl;
	struct brepl_lc *L = lc_of(bl);
	const struct fmq_bmeta *m = broker_meta_load(bl->b);
	struct fmq_kafka_seg seg = { p, len };
	struct fmq_kafka_fetch_resp resp;
	struct fmq_kafka_reader r;
	int32_t corr;
	uint32_t ntag;

	fmq_kafka_arena_reset(&L->arena);
	if (fmq_kafka_rd_init(&r, &seg, 1, 0, len) < 0 ||
	    fmq_kafka_rd_i32(&r, &corr) < 0 || corr != f->corr ||
	    fmq_kafka_rd_uvarint(&r, &ntag) < 0)
		goto bad;
	for (uint32_t i = 0; i < ntag; i++) {
		uint32_t tag, sz;
		if (fmq_kafka_rd_uvarint(&r, &tag) < 0 ||
		    fmq_kafka_rd_uvarint(&r, &sz) < 0 ||
		    fmq_kafka_rd_skip(&r, sz) < 0)
			goto bad;
	}
	if (fmq_kafka_fetch_resp_decode(&r, FETCH_V, &L->arena, &resp) < 0)
		goto bad;
	if (resp.error_code != 0) {
		L->st.fetch_errors++;
		f->next_ns = bl->now_ns + bl->b->repl_backoff_ns;
		return;
	}
	for (int32_t ti = 0; ti < resp.responses_count; ti++) {
		const struct fmq_kafka_fetch_resp_fetchable_topic_response *tr =
			&resp.responses[ti];
		for (int32_t pi = 0; pi < tr->partitions_count; pi++) {
			const struct fmq_kafka_fetch_resp_partition_data *pd =
				&tr->partitions[pi];
			const struct fmq_bpart *bp = followed(bl, m, tr->topic,
				pd->partition_index, f->leader);
			struct fmq_log_offsets lo;

			if (bp == NULL)
				continue;
			if (pd->error_code == FMQ_KERR_OFFSET_OUT_OF_RANGE) {
				/* Past the leader's end: what this log has
				 * beyond its HW was never committed. */
				L->st.out_of_range++;
				atomic_store(&bp->repl->want_truncate, 1);
				continue;
			}
			if (pd->error_code != 0) {
				L->st.fetch_errors++;
				f->next_ns = bl->now_ns +
					bl->b->repl_backoff_ns;
				continue;
			}
			if (pd->diverging_epoch.epoch >= 0 ||
			    pd->diverging_epoch.end_offset >= 0) {
				L->st.diverging++;
				repl_diverged(bp, pd->diverging_epoch.epoch,
					      pd->diverging_epoch.end_offset);
				continue;
			}
			const uint8_t *b = pd->records.len > 0 &&
				pd->records.niov > 0 ?
				pd->records.iov[0].p : NULL;
			uint32_t left = pd->records.len > 0 ?
				(uint32_t)pd->records.len : 0;
			bool thr = rthr_on(bl, m, bp, RTHR_FOLLOWER,
					   bl->b->node_id);
			while (b != NULL && left >= 12) {
				struct fmq_log_append_result ar;
				uint32_t bl32 = (uint32_t)b[8] << 24 |
					(uint32_t)b[9] << 16 |
					(uint32_t)b[10] << 8 | b[11];
				uint32_t blen = bl32 + 12;
				int rc;

				if (bl32 > left - 12)
					break;   /* a partial last batch */
				rc = fmq_log_append_follower(bp->flog, b, blen,
							     &ar);
				if (rc == -EAGAIN) {
					L->st.append_backpressure++;
					break;
				}
				if (rc < 0) {
					L->st.append_errors++;
					break;
				}
				atomic_fetch_add(&bp->repl->follower_appends,
						 1);
				atomic_fetch_add(&bp->repl->follower_bytes,
						 blen);
				if (thr)
					rthr_charge(bl, RTHR_FOLLOWER, blen);
				b += blen;
				left -= blen;
			}
			fmq_log_part_offsets(bp->flog, &lo);
			atomic_store(&bp->repl->hw,
				     RTE_MIN(pd->high_watermark,
					     lo.high_watermark));
		}
	}
	return;
bad:
	L->st.fetch_errors++;
	rf_fail(f, true);
}

static void
rf_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user, struct rte_mbuf *m)
{
	struct rfetch *f = user;

	(void)n;
	(void)c;
	if (m == NULL) {            /* the leader closed */
		rf_fail(f, true);
		return;
	}
	for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
		if (f->len + s->data_len > f->cap) {
			rte_pktmbuf_free(m);
			lc_of(f->bl)->st.fetch_errors++;
			rf_fail(f, true);
			return;
		}
		memcpy(f->buf + f->len, rte_pktmbuf_mtod(s, void *),
		       s->data_len);
		f->len += s->data_len;
	}
	rte_pktmbuf_free(m);
	if (f->len < 4)
		return;
	uint32_t size = (uint32_t)f->buf[0] << 24 | (uint32_t)f->buf[1] << 16 |
		(uint32_t)f->buf[2] << 8 | f->buf[3];
	if (size > f->cap - 4) {
		lc_of(f->bl)->st.fetch_errors++;
		rf_fail(f, true);
		return;
	}
	if (f->len < size + 4)
		return;
	f->state = RF_READY;
	rf_response(f, f->buf + 4, size);
	if (f->state == RF_READY) {
		/* One request in flight: nothing may follow the answer. */
		f->len = 0;
	}
}

/* Encode and send the Fetch for every partition this lcore follows
 * from f's leader. Returns the partitions asked for (0: none). */
static int
rf_send(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	struct rfetch *f)
{
	struct brepl_lc *L = lc_of(bl);
	struct fmq_broker *b = bl->b;
	struct fmq_kafka_fetch_req req;
	struct fmq_kafka_writer w;
	struct fmq_kafka_piece piece[4];
	uint32_t ntop = 0, npart = 0, held = 0;

	fmq_kafka_arena_reset(&L->arena);
	fmq_kafka_fetch_req_init(&req);
	req.topics = fmq_kafka_arena_alloc(&L->arena,
		(m->ntopics ? m->ntopics : 1) * sizeof(*req.topics));
	if (req.topics == NULL)
		return 0;
	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct fmq_btopic *t = &m->topics[i];
		struct fmq_kafka_fetch_req_fetch_topic *qt = &req.topics[ntop];
		uint32_t n = 0;

		for (uint32_t p = 0; p < t->nparts; p++) {
			const struct fmq_bpart *bp = &t->parts[p];
			if (bp->flog != NULL && bp->repl != NULL &&
			    bp->owner == bl->idx && bp->leader == f->leader &&
			    atomic_load(&bp->repl->truncating) < 0)
				n++;
		}
		if (n == 0)
			continue;
		qt->topic = fmq_kafka_str(t->name);
		qt->partitions = fmq_kafka_arena_alloc(&L->arena,
			n * sizeof(*qt->partitions));
		if (qt->partitions == NULL)
			return 0;
		qt->partitions_count = 0;
		for (uint32_t p = 0; p < t->nparts; p++) {
			const struct fmq_bpart *bp = &t->parts[p];
			struct fmq_kafka_fetch_req_fetch_partition *qp;
			struct fmq_log_offsets lo;

			if (bp->flog == NULL || bp->repl == NULL ||
			    bp->owner != bl->idx || bp->leader != f->leader ||
			    atomic_load(&bp->repl->truncating) >= 0)
				continue;
			/* Replication quota (KIP-73): not past the rate. */
			int64_t thr = rthr_budget(bl, m, bp, RTHR_FOLLOWER,
						  b->node_id);
			if (thr == 0) {
				held++;
				continue;
			}
			fmq_log_part_offsets(bp->flog, &lo);
			qp = &qt->partitions[qt->partitions_count++];
			memset(qp, 0, sizeof(*qp));
			qp->partition = (int32_t)p;
			qp->current_leader_epoch = bp->leader_epoch;
			qp->fetch_offset = lo.high_watermark;
			/* The epoch of our last batch: the leader answers a
			 * diverging epoch if our log left its own. */
			qp->last_fetched_epoch = fmq_log_epoch_latest(bp->flog);
			qp->log_start_offset = lo.log_start;
			qp->partition_max_bytes = (int32_t)b->repl_part_bytes;
			if (thr > 0)
				qp->partition_max_bytes = (int32_t)RTE_MIN(
					thr, (int64_t)qp->partition_max_bytes);
			npart++;
		}
		if (qt->partitions_count > 0)
			ntop++;
	}
	if (npart == 0 && held > 0) {
		/* All throttled: ask again when tokens are back. */
		f->next_ns = bl->now_ns + RTHR_RETRY_NS;
		return (int)held;
	}
	if (npart == 0)
		return 0;
	req.topics_count = (int32_t)ntop;
	req.forgotten_topics_data_count = 0;
	req.replica_id = b->node_id;
	req.max_wait_ms = (int32_t)b->repl_wait_ms;
	req.min_bytes = 1;
	req.max_bytes = (int32_t)RTE_MIN(b->repl_resp_bytes - 65536,
					 (uint64_t)INT32_MAX);
	req.isolation_level = 0;
	req.session_id = 0;
	req.session_epoch = -1;
	req.rack_id = fmq_kafka_str("");

	f->corr++;
	fmq_kafka_wr_init(&w, L->tx + 4, RF_TXBUF - 4, piece, RTE_DIM(piece));
	fmq_kafka_wr_i16(&w, FMQ_KAFKA_API_FETCH);
	fmq_kafka_wr_i16(&w, FETCH_V);
	fmq_kafka_wr_i32(&w, f->corr);
	fmq_kafka_wr_string(&w, false, true,
			    fmq_kafka_str("fluxmq-replica"));
	fmq_kafka_wr_uvarint(&w, 0);
	fmq_kafka_fetch_req_encode(&w, FETCH_V, &req);
	int np = fmq_kafka_wr_finish(&w);
	if (np != 1)
		return 0;
	uint32_t len = (uint32_t)w.total;
	L->tx[0] = (uint8_t)(len >> 24);
	L->tx[1] = (uint8_t)(len >> 16);
	L->tx[2] = (uint8_t)(len >> 8);
	L->tx[3] = (uint8_t)len;
	struct rte_mbuf *mb = resp_from_bytes(bl, L->tx, len + 4);
	if (mb == NULL || fmq_tcp_send(bl->net, f->tcp, mb) < 0) {
		rf_fail(f, true);
		return 0;
	}
	f->state = RF_INFLIGHT;
	f->sent_ns = bl->now_ns;
	f->len = 0;
	L->st.fetches++;
	return (int)npart;
}

static int
rf_connect(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	   struct rfetch *f)
{
	struct in_addr a;

	for (uint32_t i = 0; i < m->nbrokers; i++) {
		const struct fmq_bbroker *bb = &m->brokers[i];
		if (bb->id != f->leader || bb->nep == 0)
			continue;
		if (inet_pton(AF_INET, bb->ep[0].host, &a) != 1)
			return -EINVAL;
		if (f->buf == NULL) {
			f->cap = (uint32_t)bl->b->repl_resp_bytes;
			f->buf = malloc(f->cap);
			if (f->buf == NULL)
				return -ENOMEM;
		}
		if (fmq_tcp_connect(bl->net, a.s_addr, bb->ep[0].port, &rf_cb,
				    f, &f->tcp) < 0)
			return -EAGAIN;
		/* Back within a second of a heal, not a minute. */
		(void)fmq_tcp_set_rto_max(bl->net, f->tcp,
					  bl->b->repl_rto_max_ms);
		f->state = RF_CONNECTING;
		f->sent_ns = bl->now_ns;
		return 0;
	}
	return -ENOENT;     /* the leader is not live */
}

static struct rfetch *
rf_slot(struct brepl_lc *L, int32_t leader)
{
	struct rfetch *free_slot = NULL;

	for (uint32_t i = 0; i < BREPL_MAX_LEADERS; i++) {
		if (L->f[i].leader == leader)
			return &L->f[i];
		if (L->f[i].leader < 0 && free_slot == NULL)
			free_slot = &L->f[i];
	}
	if (free_slot != NULL) {
		free_slot->leader = leader;
		free_slot->state = RF_IDLE;
		free_slot->tcp = FMQ_TCP_INVALID;
		free_slot->next_ns = 0;
	}
	return free_slot;
}

/* The snapshot changed: leaderships taken or lost on this lcore. */
static void
rebuild(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m)
{
	struct brepl_lc *L = lc_of(bl);

	L->nled = 0;
	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct fmq_btopic *t = &m->topics[i];
		for (uint32_t p = 0; p < t->nparts; p++) {
			const struct fmq_bpart *bp = &t->parts[p];
			struct fmq_brepl *r = bp->repl;

			if (r == NULL || bp->owner != bl->idx)
				continue;
			if (bp->log == NULL) {
				if (bp->flog != NULL)
					atomic_store(&r->epoch, -1);
				continue;
			}
			if (atomic_load(&r->epoch) != bp->leader_epoch) {
				/* Leading under a new epoch: nothing known
				 * of the followers yet. */
				uint64_t now = bl->now_ns;
				for (uint16_t k = 0; k < r->npeers; k++) {
					atomic_store(&r->peer[k].leo, -1);
					atomic_store(&r->peer[k].caught_up_ns,
						     now);
					atomic_store(&r->peer[k].prev_leo, -1);
					atomic_store(&r->peer[k].prev_fetch_ns,
						     now);
				}
				fmq_log_part_set_leader_epoch(bp->log,
							      bp->leader_epoch);
				atomic_store(&r->epoch, bp->leader_epoch);
			}
			if (L->nled == L->led_cap) {
				uint32_t cap = L->led_cap ? L->led_cap * 2 : 64;
				const struct fmq_bpart **n = realloc(L->led,
					cap * sizeof(*n));
				if (n == NULL)
					continue;
				L->led = n;
				L->led_cap = cap;
			}
			L->led[L->nled++] = bp;
		}
	}
	/* Leaders this lcore follows: a fetcher each. */
	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct fmq_btopic *t = &m->topics[i];
		for (uint32_t p = 0; p < t->nparts; p++) {
			const struct fmq_bpart *bp = &t->parts[p];
			if (bp->flog != NULL && bp->repl != NULL &&
			    bp->owner == bl->idx && bp->leader >= 0)
				(void)rf_slot(L, bp->leader);
		}
	}
	L->meta_version = m->version;
}

void
repl_poll(struct fmq_broker_lcore *bl)
{
	struct brepl_lc *L = lc_of(bl);
	const struct fmq_bmeta *m = broker_meta_load(bl->b);

	if (L == NULL)
		return;
	if (m->version != L->meta_version)
		rebuild(bl, m);
	for (uint32_t i = 0; i < L->nled; i++)
		repl_advance(bl, L->led[i]);
	if (L->pw != NULL)
		pw_poll(bl);
	if (m->nbrokers == 0)
		return;
	for (uint32_t i = 0; i < BREPL_MAX_LEADERS; i++) {
		struct rfetch *f = &L->f[i];

		if (f->leader < 0)
			continue;
		switch (f->state) {
		case RF_IDLE: {
			if (bl->now_ns < f->next_ns)
				break;
			int rc = rf_connect(bl, m, f);
			if (rc < 0)
				f->next_ns = bl->now_ns +
					bl->b->repl_backoff_ns;
			/* The leader is not live (or has no address): the
			 * snapshot that changes that brings it back. */
			if (rc == -ENOENT || rc == -EINVAL)
				f->leader = -1;
			break;
		}
		case RF_CONNECTING:
			if (bl->now_ns - f->sent_ns > RF_REQ_TIMEOUT_NS)
				rf_fail(f, true);
			break;
		case RF_READY:
			if (bl->now_ns < f->next_ns)
				break;
			if (rf_send(bl, m, f) == 0 && f->state == RF_READY) {
				/* Nothing followed from it any more. */
				fmq_tcp_close(bl->net, f->tcp);
				f->tcp = FMQ_TCP_INVALID;
				f->state = RF_IDLE;
				f->leader = -1;
			}
			break;
		case RF_INFLIGHT:
			if (bl->now_ns - f->sent_ns > RF_REQ_TIMEOUT_NS +
			    bl->b->repl_wait_ms * 1000000ull) {
				L->st.fetch_timeouts++;
				rf_fail(f, true);
			}
			break;
		}
	}
}

int
repl_lcore_init(struct fmq_broker_lcore *bl)
{
	struct brepl_lc *L = calloc(1, sizeof(*L));
	void *arena;

	if (L == NULL)
		return -ENOMEM;
	arena = malloc(RF_ARENA);
	L->tx = malloc(RF_TXBUF);
	if (arena == NULL || L->tx == NULL) {
		free(arena);
		free(L->tx);
		free(L);
		return -ENOMEM;
	}
	fmq_kafka_arena_init(&L->arena, arena, RF_ARENA);
	for (uint32_t i = 0; i < BREPL_MAX_LEADERS; i++) {
		L->f[i].bl = bl;
		L->f[i].leader = -1;
		L->f[i].tcp = FMQ_TCP_INVALID;
	}
	L->meta_version = UINT64_MAX;
	bl->repl = L;
	return 0;
}

void
repl_lcore_fini(struct fmq_broker_lcore *bl)
{
	struct brepl_lc *L = lc_of(bl);

	if (L == NULL)
		return;
	while (L->pw != NULL) {
		struct pwait *w = L->pw;
		L->pw = w->next;
		pw_free(bl, w);
	}
	for (uint32_t i = 0; i < BREPL_MAX_LEADERS; i++) {
		if (L->f[i].tcp != FMQ_TCP_INVALID)
			fmq_tcp_abort(bl->net, L->f[i].tcp);
		free(L->f[i].buf);
	}
	free(L->arena.base);
	free(L->tx);
	free(L->led);
	free(L);
	bl->repl = NULL;
}

void
repl_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b)
{
	static const struct fmq_metric_def defs[] = {
#define X(field, name, help) \
	FMQ_METRIC_DEF(struct brepl_stats, field, "counter", name, help),
		BREPL_STATS(X)
#undef X
	};
	const void *bases[BROKER_MAX_LCORES];
	unsigned int n = 0;

	for (unsigned int i = 0; i < b->n_lcores; i++)
		if (b->lc[i] != NULL && b->lc[i]->repl != NULL)
			bases[n++] = &b->lc[i]->repl->st;
	if (n > 0)
		fmq_metrics_table_each(out, defs, RTE_DIM(defs), bases, n,
				       "lcore");
}
