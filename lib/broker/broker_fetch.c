/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetch: whole batches from the log, sent without copying while they are in
 * the hot pool (external-buffer mbufs pinned until sent and acknowledged)
 * and copied once from segment files otherwise. A fetch that finds fewer
 * than min_bytes is parked until an append on one of its partitions or
 * max_wait_ms, then run again.
 *
 * Fetch sessions (KIP-227) are broker_fsess.c's: an incremental request
 * is rewritten to its session's partitions before the run, and the
 * answer trimmed to what changed after it.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_malloc.h>

#include "broker_priv.h"
#include "broker_zref.h"

#define IOV_BATCH 256

/* Read a durable range into a fresh mbuf chain (one copy, preadv). */
static struct rte_mbuf *
read_durable(struct fmq_broker_lcore *bl, const struct fmq_log_range *r)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	struct iovec iov[IOV_BATCH];
	struct rte_mbuf *ms[IOV_BATCH];
	uint64_t pos = r->pos;
	uint32_t left = r->len, nsegs = 0;

	while (left > 0) {
		uint32_t n = 0, want = 0;
		ssize_t got;

		while (n < IOV_BATCH && want < left) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(bl->mp);
			if (m == NULL)
				goto fail_batch;
			uint32_t room = RTE_MIN((uint32_t)rte_pktmbuf_tailroom(m),
						left - want);
			ms[n] = m;
			iov[n].iov_base = rte_pktmbuf_mtod(m, void *);
			iov[n].iov_len = room;
			want += room;
			n++;
		}
		got = preadv(r->fd, iov, (int)n, (off_t)pos);
		if (got != (ssize_t)want)
			goto fail_batch;
		for (uint32_t i = 0; i < n; i++) {
			ms[i]->data_len = (uint16_t)iov[i].iov_len;
			if (tail != NULL)
				tail->next = ms[i];
			else
				head = ms[i];
			tail = ms[i];
			nsegs++;
		}
		pos += want;
		left -= want;
		continue;
fail_batch:
		for (uint32_t i = 0; i < n; i++)
			rte_pktmbuf_free(ms[i]);
		rte_pktmbuf_free(head);
		return NULL;
	}
	if (head != NULL) {
		head->nb_segs = (uint16_t)RTE_MIN(nsegs, (uint32_t)UINT16_MAX);
		head->pkt_len = r->len;
	}
	return head;
}

static void
release_ranges(struct fmq_log_range *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fmq_log_range_release(&r[i]);
}

/* Give back the pins and copies of a response that is not sent. */
static void
zrefs_release(struct zref *z, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (z[i].type == ZREF_HOT) {
			struct fmq_log_range r = { .handle = z[i].handle };
			fmq_log_range_release(&r);
		} else if (z[i].type == ZREF_CHAIN) {
			rte_pktmbuf_free(z[i].chain);
		}
		z[i].type = 0;
	}
}

static bool
waiter_wants(const struct fwaiter *w, const struct fmq_broker_lcore *bl)
{
	if (bl->nappended == 0)
		return false;
	if (bl->nappended > WAITER_KEYS || w->nkeys > WAITER_KEYS)
		return true;
	for (uint32_t i = 0; i < w->nkeys; i++)
		for (uint32_t j = 0; j < bl->nappended; j++)
			if (w->keys[i] == bl->appended[j])
				return true;
	return false;
}

void
fetch_note_append(struct fmq_broker_lcore *bl, const void *key)
{
	if (bl->waiters == NULL || bl->nappended > WAITER_KEYS)
		return;   /* no one waits here, or already "wake all" */
	for (uint32_t j = 0; j < bl->nappended; j++)
		if (bl->appended[j] == key)
			return;
	if (bl->nappended == WAITER_KEYS)
		bl->nappended++;    /* too many to track: wake everyone */
	else
		bl->appended[bl->nappended++] = key;
}

/* Park the current request; 0, or -1 when it must be answered now. */
static int
park(struct req_ctx *rc, uint64_t deadline_ns, const void *const *keys,
     uint32_t nkeys)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fwaiter *w;

	if (bl->nwaiters >= bl->b->max_waiters) {
		bl->st.fetch_wait_overflow++;
		return -1;
	}
	w = slab_zalloc(&bl->slab, sizeof(*w));
	if (w == NULL)
		return -1;
	w->frame = slab_alloc(&bl->slab, rc->frame_len);
	if (w->frame == NULL) {
		slab_free(&bl->slab, w);
		return -1;
	}
	struct fmq_kafka_reader r;
	if (fmq_kafka_rd_init(&r, bl->segs, rc->nseg, 4, rc->frame_len - 4) < 0 ||
	    fmq_kafka_rd_raw(&r, w->frame, rc->frame_len - 4) < 0) {
		slab_free(&bl->slab, w->frame);
		slab_free(&bl->slab, w);
		return -1;
	}
	w->len = rc->frame_len - 4;
	w->conn = rc->k->idx;
	w->gen = rc->k->gen;
	w->slot = rc->slot;
	w->deadline_ns = deadline_ns;
	w->nkeys = nkeys;
	for (uint32_t i = 0; i < nkeys && i < WAITER_KEYS; i++)
		w->keys[i] = keys[i];
	w->next = bl->waiters;
	bl->waiters = w;
	__atomic_store_n(&bl->nwaiters, bl->nwaiters + 1, __ATOMIC_RELAXED);
	bl->st.fetch_waits++;
	return 0;
}

/*
 * v15+ carries the follower's id in ReplicaState (KIP-903); v13+ names
 * topics by id (KIP-516): the 16 id bytes stand in for the topic name
 * from here on (fetch sessions key their partitions on them), and each
 * topic is looked up by id.
 */
static void
fetch_normalize(struct fmq_kafka_fetch_req *req, int16_t v)
{
	if (v >= 15)
		req->replica_id = req->replica_state.replica_id;
	if (v < 13)
		return;
	for (int32_t ti = 0; ti < req->topics_count; ti++) {
		struct fmq_kafka_fetch_req_fetch_topic *qt = &req->topics[ti];
		qt->topic.p = (const char *)qt->topic_id.b;
		qt->topic.len = 16;
	}
	for (int32_t fi = 0; fi < req->forgotten_topics_data_count; fi++) {
		struct fmq_kafka_fetch_req_forgotten_topic *ft =
			&req->forgotten_topics_data[fi];
		ft->topic.p = (const char *)ft->topic_id.b;
		ft->topic.len = 16;
	}
}

/* KIP-951 (v16+): the endpoints of the leaders named in the answer. */
static int
fetch_node_endpoints(struct req_ctx *rc, const struct leader_hints *h,
		     struct fmq_kafka_fetch_resp *resp)
{
	struct fmq_kafka_fetch_resp_node_endpoint *ne;

	if (h->n == 0)
		return 0;
	ne = fmq_kafka_arena_alloc(&rc->bl->arena, h->n * sizeof(*ne));
	if (ne == NULL)
		return -ENOMEM;
	memset(ne, 0, h->n * sizeof(*ne));
	for (uint32_t i = 0; i < h->n; i++) {
		ne[i].node_id = h->ids[i];
		leader_hint_ep(rc, h->ids[i], &ne[i].host, &ne[i].port,
			       &ne[i].rack);
	}
	resp->node_endpoints = ne;
	resp->node_endpoints_count = (int32_t)h->n;
	return 0;
}

int
api_fetch(struct req_ctx *rc, bool from_waiter, uint64_t deadline_ns)
{
	struct fmq_broker_lcore *bl = rc->bl;
	union fmq_kafka_request *u;
	struct fmq_kafka_fetch_req *req;
	struct fmq_kafka_fetch_resp resp;
	struct fsess_ctx fc;
	const void *keys[WAITER_KEYS];
	uint32_t nkeys = 0, nranges = 0, nz = 0;
	uint64_t total = 0;
	int64_t max_bytes;
	bool any_error = false;
	struct zref *zrefs = NULL;
	struct xprog *xp = NULL;
	uint32_t flat = 0, nflat = 0;
	struct leader_hints hints = { .n = 0 };
	bool ids = rc->hdr->api_version >= 13;
	int r;

	u = fmq_kafka_arena_alloc(&bl->arena, sizeof(*u));
	if (u == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	r = fmq_kafka_decode_request(FMQ_KAFKA_API_FETCH, rc->hdr->api_version,
				     &rc->body, &bl->arena, u);
	if (r < 0)
		return REQ_CLOSE(r == -ENOMEM ? BROKER_CLOSE_NOMEM :
				 BROKER_CLOSE_MALFORMED);
	req = &u->fetch;
	fetch_normalize(req, rc->hdr->api_version);
	fmq_kafka_init_response(FMQ_KAFKA_API_FETCH, rc->hdr->api_version,
				&resp);
	resp.session_id = 0;
	if (fsess_begin(rc, req, &fc) < 0)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	if (fc.err != 0) {
		resp.error_code = fc.err;
		resp.responses_count = 0;
		resp.responses = NULL;
		count_error(bl, resp.error_code);
		xprog_drop(bl, rc->xslot);
		goto encode;
	}
	max_bytes = rc->hdr->api_version >= 3 && req->max_bytes > 0 ?
		req->max_bytes : INT32_MAX;
	zrefs = fmq_kafka_arena_alloc(&bl->arena,
				      BROKER_MAX_RANGES * sizeof(*zrefs));
	if (zrefs == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);

	int32_t nt = RTE_MAX(req->topics_count, 0);
	for (int32_t ti = 0; ti < nt; ti++)
		nflat += (uint32_t)RTE_MAX(req->topics[ti].partitions_count, 0);
	/* A follower's fetch needs CLUSTER_ACTION, a consumer's READ on
	 * each topic (else 29 for its partitions, as Kafka). */
	bool follower = req->replica_id >= 0;
	bool cluster_ok = follower && nt > 0 &&
		req_allow_cluster(rc, FMQ_ACL_OP_CLUSTER_ACTION);
	if (cluster_ok)
		repl_leader_conn(bl, rc->k);
	/* A second run after other lcores answered: their results. */
	if (*rc->xslot != NULL)
		xp = xprog_get(rc, FMQ_KAFKA_API_FETCH, nflat);
	resp.responses_count = nt;
	resp.responses = fmq_kafka_arena_alloc(&bl->arena,
		(nt ? nt : 1) * sizeof(*resp.responses));
	if (resp.responses == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	for (int32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_fetch_req_fetch_topic *qt = &req->topics[ti];
		struct fmq_kafka_fetch_resp_fetchable_topic_response *ot =
			&resp.responses[ti];
		const struct fmq_btopic *t;
		struct fmq_kafka_str name = qt->topic;
		int32_t np = RTE_MAX(qt->partitions_count, 0);

		if (ids) {
			t = fmq_bmeta_find_id(rc->meta,
					      (const uint8_t *)qt->topic.p);
			memcpy(ot->topic_id.b, qt->topic.p, 16);
			if (t != NULL) {
				name.p = t->name;
				name.len = t->name_len;
			}
		} else {
			t = qt->topic.len > 0 ? fmq_bmeta_find(rc->meta,
				qt->topic.p, (uint32_t)qt->topic.len) : NULL;
		}
		/* An unknown id is UNKNOWN_TOPIC_ID before any ACL check. */
		bool allowed = (ids && t == NULL) ||
			(follower ? cluster_ok : np == 0 ||
			 req_allow_topic(rc, name, FMQ_ACL_OP_READ));

		ot->topic = name;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*ot->partitions));
		if (ot->partitions == NULL)
			goto nomem;
		for (int32_t pi = 0; pi < np; pi++, flat++) {
			const struct fmq_kafka_fetch_req_fetch_partition *qp =
				&qt->partitions[pi];
			struct fmq_kafka_fetch_resp_partition_data *op =
				&ot->partitions[pi];
			struct fmq_log_read_result rr;
			const struct fmq_bpart *bp;

			memset(op, 0, sizeof(*op));
			op->partition_index = qp->partition;
			op->high_watermark = -1;
			op->last_stable_offset = -1;
			op->log_start_offset = -1;
			op->diverging_epoch.epoch = -1;
			op->diverging_epoch.end_offset = -1;
			op->current_leader.leader_id = -1;
			op->current_leader.leader_epoch = -1;
			op->snapshot_id.end_offset = -1;
			op->snapshot_id.epoch = -1;
			op->preferred_read_replica = -1;
			op->records.len = 0;
			op->aborted_transactions = NULL;
			op->aborted_transactions_count =
				rc->hdr->api_version >= 4 ? 0 : -1;
			if (!allowed) {
				op->error_code =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				goto perr;
			}
			if (ids && t == NULL) {
				op->error_code = FMQ_KERR_UNKNOWN_TOPIC_ID;
				goto perr;
			}
			if (t == NULL || qp->partition < 0 ||
			    (uint32_t)qp->partition >= t->nparts) {
				op->error_code = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				goto perr;
			}
			bp = &t->parts[qp->partition];
			if (bp->log == NULL) {
				op->error_code = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
				goto perr;
			}
			/* Leader epochs (KIP-320, KIP-595): fencing, and a
			 * fetcher whose log diverged from this one. */
			if (fetch_epochs(bl, bp, rc->hdr->api_version, qp, op))
				goto perr;
			/* Replicated: epochs, a follower's position, and
			 * consumers bounded by the high watermark. */
			int64_t upto = INT64_MAX;
			if (bp->repl != NULL) {
				op->error_code = repl_leader_fetch(bl, bp,
					req->replica_id,
					rc->hdr->api_version >= 9 ?
					qp->current_leader_epoch : -1,
					qp->fetch_offset, &upto);
				if (op->error_code != 0)
					goto perr;
			}
			/* read_committed: no further than the LSO. */
			upto = RTE_MIN(upto, txn_fetch_upto(bp->log,
						req->isolation_level));
			/* Replication quota (KIP-73): a throttled follower
			 * gets no more than the bucket holds. */
			int64_t thr = follower ? rthr_budget(bl, rc->meta, bp,
				RTHR_LEADER, req->replica_id) : -1;
			if (thr == 0)
				upto = RTE_MIN(upto, qp->fetch_offset);
			if (nkeys < WAITER_KEYS)
				keys[nkeys] = bp->log;
			nkeys++;
			int64_t budget = RTE_MIN((int64_t)qp->partition_max_bytes,
						 max_bytes - (int64_t)total);
			if (thr > 0)
				budget = RTE_MIN(budget, thr);
			uint32_t first = nranges;
			if (bp->owner != bl->idx) {
				/* Another lcore's partition: ask it, then use
				 * its answer on the next run of this request. */
				struct xres *xr;
				if (xp == NULL) {
					xp = xprog_get(rc, FMQ_KAFKA_API_FETCH,
						       nflat);
					if (xp == NULL)
						goto nomem;
				}
				xr = &xp->res[flat];
				if (xr->state == XS_NONE) {
					struct xop *x = xop_new(bl, XOP_FETCH, xp,
								flat, bp->log);
					if (x == NULL)
						goto nomem;
					x->offset = qp->fetch_offset;
					x->upto = upto;
					x->budget = budget <= 0 && total > 0 ? 0 :
						(uint32_t)RTE_MAX(budget, 1);
					if (xop_send(bl, bp->owner, x) < 0) {
						xop_release(bl, x);
						goto nomem;
					}
					xr->state = XS_SENT;
					xp->outstanding++;
				}
				if (xr->state != XS_DONE)
					continue;   /* answered on the next run */
				struct xop *x = xr->op;
				op->high_watermark = repl_hw(bp, xr->hw);
				op->last_stable_offset = RTE_MIN(
					op->high_watermark,
					fmq_log_part_lso(bp->log));
				op->log_start_offset = xr->log_start;
				if (xr->err != 0) {
					op->error_code = xr->err;
					goto perr;
				}
				rr.nranges = 0;
				rr.bytes = 0;
				for (uint32_t i = 0; x != NULL && i < x->nranges &&
				     first + i < BROKER_MAX_RANGES; i++) {
					bl->ranges[first + i] = x->ranges[i];
					rr.bytes += x->ranges[i].len;
					rr.nranges++;
					x->ranges[i].handle = NULL; /* ours now */
				}
				if (x != NULL)
					x->nranges = 0;
				rr.error = 0;
				rr.high_watermark = xr->hw;
				rr.log_start_offset = xr->log_start;
				goto have_ranges;
			}
			if (budget <= 0 && total > 0) {
				/* The response is full: report offsets only. */
				struct fmq_log_offsets lo;
				fmq_log_part_offsets(bp->log, &lo);
				op->high_watermark = repl_hw(bp,
							     lo.high_watermark);
				op->last_stable_offset = RTE_MIN(
					op->high_watermark,
					fmq_log_part_lso(bp->log));
				op->log_start_offset = lo.log_start;
				continue;
			}
			if (budget <= 0)
				budget = 1;  /* KIP-74: at least one batch */
			if (fmq_log_read_upto(bp->log, qp->fetch_offset, upto,
					      (uint32_t)budget,
					      &bl->ranges[nranges],
					      BROKER_MAX_RANGES - nranges,
					      &rr) < 0) {
				op->error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
				goto perr;
			}
			fmq_log_part_note_read(bp->log, rr.bytes);
have_ranges:
			if (thr >= 0)
				rthr_charge(bl, RTHR_LEADER, rr.bytes);
			op->high_watermark = repl_hw(bp, rr.high_watermark);
			op->last_stable_offset = RTE_MIN(op->high_watermark,
				fmq_log_part_lso(bp->log));
			op->log_start_offset = rr.log_start_offset;
			if (rr.error != 0) {
				op->error_code = rr.error;
				goto perr;
			}
			/* KIP-74 lets only the first partition with data
			 * exceed the limits (by its first batch); the log
			 * always hands out at least one batch, and another
			 * lcore's answer was sized before earlier partitions
			 * of this run were known. Past the first, keep only
			 * the ranges that fit what is left. */
			while (total > 0 && rr.nranges > 0 &&
			       rr.bytes > (uint64_t)RTE_MAX(budget, 0)) {
				struct fmq_log_range *lr =
					&bl->ranges[first + rr.nranges - 1];
				rr.bytes -= lr->len;
				fmq_log_range_release(lr);
				lr->handle = NULL;
				rr.nranges--;
			}
			nranges += rr.nranges;
			if (rr.nranges == 0)
				continue;
			if (req->isolation_level == 1 &&
			    txn_fetch_aborted(rc, bp->log, qp->fetch_offset,
				bl->ranges[first + rr.nranges - 1].next_offset,
				op) < 0)
				goto nomem;
			struct fmq_kafka_iov *iov = fmq_kafka_arena_alloc(
				&bl->arena, rr.nranges * sizeof(*iov));
			if (iov == NULL) {
				release_ranges(&bl->ranges[first], rr.nranges);
				nranges = first;
				goto nomem;
			}
			for (uint32_t i = 0; i < rr.nranges; i++) {
				struct fmq_log_range *lr = &bl->ranges[first + i];
				struct zref *z = &zrefs[nz++];
				memset(z, 0, sizeof(*z));
				iov[i].len = lr->len;
				iov[i].cookie = z;
				/* Hot bytes go by reference, to consumers and
				 * followers alike (pinned until acknowledged;
				 * broker_resp.c's shared infos). */
				if (lr->addr != NULL) {
					z->type = ZREF_HOT;
					z->handle = lr->handle;
					iov[i].p = lr->addr;
				} else {
					z->type = ZREF_CHAIN;
					z->chain = lr->addr != NULL ?
						resp_from_bytes(bl, lr->addr,
								lr->len) :
						read_durable(bl, lr);
					fmq_log_range_release(lr);
					lr->handle = NULL;
					if (z->chain == NULL) {
						op->error_code =
							FMQ_KERR_KAFKA_STORAGE_ERROR;
						iov[i].p = NULL;
						continue;
					}
					iov[i].p = rte_pktmbuf_mtod(z->chain,
								    const void *);
				}
			}
			if (op->error_code != 0) {
				/* Drop this partition's data, keep the error. */
				zrefs_release(iov[0].cookie, rr.nranges);
				goto perr;
			}
			fmq_kafka_records_set(&op->records, iov, rr.nranges);
			total += rr.bytes;
			continue;
perr:
			any_error = true;
			count_error(bl, op->error_code);
			if (rc->hdr->api_version >= 16 && t != NULL &&
			    (op->error_code == FMQ_KERR_NOT_LEADER_OR_FOLLOWER ||
			     op->error_code == FMQ_KERR_FENCED_LEADER_EPOCH))
				leader_hint(rc, &t->parts[qp->partition],
					    &hints, &op->current_leader.leader_id,
					    &op->current_leader.leader_epoch);
		}
	}

	if (xp != NULL && xp->outstanding > 0) {
		/* Other lcores are reading: run again when they answer. */
		zrefs_release(zrefs, nz);
		return from_waiter ? REQ_PARK : REQ_WAIT;
	}
	/* Their answers are used up (or were not needed). */
	xprog_drop(bl, rc->xslot);
	/* Not enough yet: wait for an append or the deadline (Kafka answers
	 * at once when a partition has an error). */
	if (!any_error && total < (uint64_t)RTE_MAX(req->min_bytes, 0) &&
	    req->max_wait_ms > 0) {
		uint64_t dl = from_waiter ? deadline_ns :
			bl->now_ns + (uint64_t)req->max_wait_ms * 1000000ull;
		if (bl->now_ns < dl &&
		    (from_waiter || park(rc, dl, keys, nkeys) == 0)) {
			zrefs_release(zrefs, nz);
			return REQ_PARK;
		}
		/* Deadline passed, or no room to park: answer now. */
	}
	/* Client quota: the record bytes going out. Kafka sizes the whole
	 * response and, throttled, sends it empty; FluxMQ sends what it
	 * read and mutes the connection, so the next fetch waits. */
	resp.throttle_time_ms = quota_charge(rc, FMQ_QUOTA_FETCH,
					     (double)total);
	fsess_end(rc, &fc, &resp);
	if (fetch_node_endpoints(rc, &hints, &resp) < 0)
		goto nomem;
encode:;
	struct rte_mbuf *m = resp_encode_z(bl, FMQ_KAFKA_API_FETCH,
					   rc->hdr->api_version,
					   rc->hdr->correlation_id, &resp,
					   zrefs, nz);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, rc->k, rc->slot, m);
	return REQ_DONE;
nomem:
	zrefs_release(zrefs, nz);
	xprog_drop(bl, rc->xslot);
	return REQ_CLOSE(BROKER_CLOSE_NOMEM);
}

/* Run parked fetches whose partitions got data or whose time is up. */
void
fetch_poll_waiters(struct fmq_broker_lcore *bl)
{
	struct fwaiter **pw = &bl->waiters;

	while (*pw != NULL) {
		struct fwaiter *w = *pw;
		struct kconn *k = conn_lookup(bl, w->conn, w->gen);
		bool drop = k == NULL;

		if (!drop && w->xp != NULL && w->xp->outstanding > 0) {
			pw = &w->next;   /* other lcores still reading for it */
			continue;
		}
		if (!drop && (w->ready || bl->now_ns >= w->deadline_ns ||
			      waiter_wants(w, bl))) {
			struct fmq_kafka_seg seg = { w->frame, w->len };
			struct fmq_kafka_req_hdr hdr;
			struct req_ctx rc;
			int hv, st;
			int16_t key_ver[2];

			memset(&rc, 0, sizeof(rc));
			fmq_kafka_arena_reset(&bl->arena);
			key_ver[0] = (int16_t)(w->frame[0] << 8 | w->frame[1]);
			key_ver[1] = (int16_t)(w->frame[2] << 8 | w->frame[3]);
			hv = fmq_kafka_req_hdr_version(key_ver[0], key_ver[1]);
			if (fmq_kafka_rd_init(&rc.body, &seg, 1, 0, w->len) < 0 ||
			    fmq_kafka_rd_req_hdr(&rc.body, hv, &bl->arena, &hdr) < 0) {
				drop = true;
			} else {
				rc.bl = bl;
				rc.k = k;
				rc.slot = w->slot;
				rc.hdr = &hdr;
				rc.frame_len = w->len + 4;
				rc.nseg = 1;
				rc.xslot = &w->xp;
				rc.waiter = w;
				w->ready = false;
				rc.meta = broker_meta_load(bl->b);
				st = api_fetch(&rc, true, w->deadline_ns);
				if (st == REQ_PARK) {
					pw = &w->next;
					continue;
				}
				if (st < 0)
					conn_close(bl, k, REQ_CLOSE_REASON(st));
				drop = true;
			}
		}
		if (!drop) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		__atomic_store_n(&bl->nwaiters, bl->nwaiters - 1, __ATOMIC_RELAXED);
		xprog_drop(bl, &w->xp);
		slab_free(&bl->slab, w->frame);
		slab_free(&bl->slab, w);
	}
	bl->nappended = 0;
}

void
fetch_free_waiters(struct fmq_broker_lcore *bl)
{
	while (bl->waiters != NULL) {
		struct fwaiter *w = bl->waiters;
		bl->waiters = w->next;
		xprog_drop(bl, &w->xp);
		slab_free(&bl->slab, w->frame);
		slab_free(&bl->slab, w);
	}
	bl->nwaiters = 0;
}
