/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Produce and ListOffsets on the data lcore that owns the partitions.
 *
 * Record batches are appended straight from the received mbufs (the log
 * copies each once into its hot chunk). A partition's batches are all
 * validated before the first is appended, so a partition is taken whole or
 * not at all. When the hot pool is full the request is parked: the
 * connection stops reading and the same frame runs again on the next poll,
 * resuming after what was already appended.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "broker_priv.h"

#define BATCH_HDR 12      /* baseOffset + batchLength */
#define BATCH_MIN 61      /* an empty v2 batch */

/* Absolute offset of (seg, off) from the start of the segments. */
static uint64_t
seg_abs(const struct fmq_broker_lcore *bl, uint32_t seg, uint32_t off)
{
	uint64_t a = off;

	for (uint32_t i = 0; i < seg; i++)
		a += bl->segs[i].len;
	return a;
}

/* The mbuf and offset inside it of absolute position abs. */
static int
locate(const struct fmq_broker_lcore *bl, uint32_t nseg, uint64_t abs,
       struct rte_mbuf **m, uint32_t *moff)
{
	for (uint32_t i = 0; i < nseg; i++) {
		if (abs < bl->segs[i].len) {
			*m = bl->seg_mbuf[i];
			*moff = bl->seg_off[i] + (uint32_t)abs;
			return 0;
		}
		abs -= bl->segs[i].len;
	}
	return -EINVAL;
}

/*
 * Check the framing of every batch in a partition's records (and, when
 * there is more than one, each batch fully): a bad one fails the whole
 * partition before anything is appended.
 */
static int16_t
precheck(struct req_ctx *rc, uint64_t abs, uint32_t len, uint32_t max_bytes,
	 bool no_tid, uint32_t *nbatches)
{
	struct fmq_kafka_reader r;
	uint64_t pos = 0;
	uint32_t n = 0;

	while (pos < len) {
		int64_t base;
		int32_t blen;

		if (len - pos < BATCH_HDR + 5 ||
		    fmq_kafka_rd_init(&r, rc->bl->segs, rc->nseg, abs + pos,
				      (uint32_t)(len - pos)) < 0 ||
		    fmq_kafka_rd_i64(&r, &base) < 0 ||
		    fmq_kafka_rd_i32(&r, &blen) < 0)
			return FMQ_KERR_CORRUPT_MESSAGE;
		if (blen < BATCH_MIN - BATCH_HDR ||
		    (uint64_t)blen + BATCH_HDR > len - pos)
			return FMQ_KERR_CORRUPT_MESSAGE;
		if ((uint64_t)blen + BATCH_HDR > max_bytes)
			return FMQ_KERR_MESSAGE_TOO_LARGE;
		/* Kafka: transactional records need the request's
		 * transactional id (and WRITE on it). */
		int16_t attr;
		if (no_tid && (fmq_kafka_rd_skip(&r, 9) < 0 ||
			       fmq_kafka_rd_i16(&r, &attr) < 0 ||
			       (attr & 0x10) != 0))
			return FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		pos += (uint64_t)blen + BATCH_HDR;
		n++;
	}
	*nbatches = n;
	if (n <= 1)
		return 0;   /* the append itself validates a lone batch whole */
	/* Several batches: check each fully first (rare; costs a copy). */
	pos = 0;
	struct fmq_broker_lcore *bl = rc->bl;
	if (bl->precheck_len < max_bytes) {
		rte_free(bl->precheck);
		bl->precheck_len = 0;
		bl->precheck = rte_malloc_socket("fmq_precheck", max_bytes, 0,
						 (int)rte_socket_id());
		if (bl->precheck == NULL)
			return FMQ_KERR_KAFKA_STORAGE_ERROR;
		bl->precheck_len = max_bytes;
	}
	uint8_t *tmp = bl->precheck;
	int16_t e = 0;
	while (pos < len && e == 0) {
		int64_t base;
		int32_t blen;
		uint32_t recs;
		fmq_kafka_rd_init(&r, rc->bl->segs, rc->nseg, abs + pos,
				  (uint32_t)(len - pos));
		fmq_kafka_rd_i64(&r, &base);
		fmq_kafka_rd_i32(&r, &blen);
		fmq_kafka_rd_init(&r, rc->bl->segs, rc->nseg, abs + pos,
				  (uint32_t)blen + BATCH_HDR);
		if (fmq_kafka_rd_raw(&r, tmp, (uint32_t)blen + BATCH_HDR) < 0)
			e = FMQ_KERR_CORRUPT_MESSAGE;
		else
			e = fmq_log_batch_check(tmp, (uint32_t)blen + BATCH_HDR,
						max_bytes, &recs);
		pos += (uint64_t)blen + BATCH_HDR;
	}
	return e;
}

/*
 * Append one partition's records from byte r->pos on (local partition), or
 * send them to the owner lcore. Returns 0 (r settled or sent), -EAGAIN (hot
 * pool full; r->pos says where to resume), -ENOBUFS (owner's ring full).
 */
static int
produce_part(struct req_ctx *rc, const struct fmq_btopic *t,
	     const struct fmq_kafka_produce_req_partition_produce_data *pd,
	     struct xprog *xp, uint32_t index, struct xres *r, bool no_tid)
{
	struct fmq_broker_lcore *bl = rc->bl;
	const struct fmq_bpart *bp;
	uint64_t abs;
	uint32_t len, nb;

	if (t == NULL || pd->index < 0 || (uint32_t)pd->index >= t->nparts) {
		r->err = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		r->state = XS_DONE;
		return 0;
	}
	bp = &t->parts[pd->index];
	if (bp->log == NULL) {
		/* Being reopened with new settings: retriable. */
		r->err = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
		r->state = XS_DONE;
		return 0;
	}
	if (pd->records.len <= 0) {
		r->err = FMQ_KERR_CORRUPT_MESSAGE;
		r->state = XS_DONE;
		return 0;
	}
	len = (uint32_t)pd->records.len;
	abs = seg_abs(bl, pd->records.seg, pd->records.off);
	if (r->pos == 0) {
		r->err = precheck(rc, abs, len, t->max_message_bytes, no_tid,
				  &nb);
		if (r->err != 0) {
			r->state = XS_DONE;
			return 0;
		}
	}
	/* Kafka's answer for a partition whose log dir is offline (a full
	 * or failing disk): retriable, so the producer retries until the
	 * dir is back. Checked before the first batch only, so a request is
	 * never half applied by this check. */
	if (r->pos == 0 && fmq_log_part_offline(bp->log)) {
		r->err = FMQ_KERR_KAFKA_STORAGE_ERROR;
		r->msg = "log directory offline (disk full or failing)";
		r->state = XS_DONE;
		return 0;
	}
	if (bp->owner != bl->idx) {
		/* The owner appends every batch of the records, in order,
		 * from its own references to the received bytes. */
		struct xop *op;
		if (xp == NULL)
			return -ENOMEM;
		op = xop_new(bl, XOP_PRODUCE, xp, index, bp->log);
		if (op == NULL)
			return -ENOBUFS;
		op->chain = xop_chain_of(bl, rc->nseg, abs, len);
		op->len = len;
		if (op->chain == NULL || xop_send(bl, bp->owner, op) < 0) {
			xop_release(bl, op);
			return -ENOBUFS;
		}
		xp->outstanding++;
		r->state = XS_SENT;
		return 0;
	}
	while (r->pos < len) {
		struct fmq_log_append_result ar;
		struct fmq_kafka_reader rd;
		struct rte_mbuf *m;
		uint32_t moff, blen;
		int64_t base;
		int32_t bl32;
		int rcode;

		fmq_kafka_rd_init(&rd, bl->segs, rc->nseg, abs + r->pos, BATCH_HDR);
		fmq_kafka_rd_i64(&rd, &base);
		fmq_kafka_rd_i32(&rd, &bl32);
		blen = (uint32_t)bl32 + BATCH_HDR;
		if (locate(bl, rc->nseg, abs + r->pos, &m, &moff) < 0) {
			r->err = FMQ_KERR_CORRUPT_MESSAGE;
			r->state = XS_DONE;
			return 0;
		}
		/* The append walks m->next; our receive list is linked that
		 * way but pkt_len is only true for each chain's head. */
		m->pkt_len = moff + blen;
		rcode = fmq_log_append(bp->log, m, moff, blen, &ar);
		if (rcode == -EAGAIN) {
			bl->st.produce_backpressure++;
			r->state = XS_PARTIAL;
			return -EAGAIN;
		}
		if (rcode < 0) {
			/* Only the first batch can fail validation here
			 * (the others were checked above). */
			r->err = ar.error ? ar.error :
				FMQ_KERR_KAFKA_STORAGE_ERROR;
			r->msg = ar.error_message;
			r->rec_index1 = ar.record_index + 1;
			r->state = XS_DONE;
			return 0;
		}
		if (r->pos == 0) {
			r->base = ar.base_offset;
			r->append_time = ar.log_append_time;
		}
		r->log_start = ar.log_start_offset;
		bl->st.produce_batches++;
		bl->st.produce_bytes += blen;
		r->pos += blen;
	}
	r->state = XS_DONE;
	note_own_append(bl, bp->log);
	return 0;
}

int
api_produce(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct kconn *k = rc->k;
	union fmq_kafka_request *u;
	struct fmq_kafka_produce_req *req;
	struct xprog *xp = NULL;
	struct xres *res;
	uint32_t n = 0, flat = 0;
	int16_t all_err = 0;
	bool remote = false;
	int r;

	u = fmq_kafka_arena_alloc(&bl->arena, sizeof(*u));
	if (u == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	r = fmq_kafka_decode_request(FMQ_KAFKA_API_PRODUCE, rc->hdr->api_version,
				     &rc->body, &bl->arena, u);
	if (r < 0)
		return REQ_CLOSE(r == -ENOMEM ? BROKER_CLOSE_NOMEM :
				 BROKER_CLOSE_MALFORMED);
	req = &u->produce;
	for (int32_t i = 0; i < req->topic_data_count; i++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[i];
		const struct fmq_btopic *t = td->name.len > 0 ?
			fmq_bmeta_find(rc->meta, td->name.p,
				       (uint32_t)td->name.len) : NULL;
		for (int32_t pi = 0; pi < td->partition_data_count; pi++) {
			int32_t idx = td->partition_data[pi].index;
			if (t != NULL && idx >= 0 && (uint32_t)idx < t->nparts &&
			    t->parts[idx].owner != bl->idx)
				remote = true;
		}
		n += (uint32_t)RTE_MAX(td->partition_data_count, 0);
	}
	/* Results live in an xprog when the request may have to wait (other
	 * lcores, a full hot pool) or is resuming; else in the arena. */
	if (*rc->xslot != NULL || remote) {
		xp = xprog_get(rc, FMQ_KAFKA_API_PRODUCE, n);
		if (xp == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		res = xp->res;
	} else {
		res = fmq_kafka_arena_alloc(&bl->arena, (n ? n : 1) * sizeof(*res));
		if (res == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	}

	if (req->acks != 0 && req->acks != 1 && req->acks != -1)
		all_err = FMQ_KERR_INVALID_REQUIRED_ACKS;
	else if (rc->hdr->api_version < 3)
		all_err = FMQ_KERR_UNSUPPORTED_VERSION; /* magic 0/1 formats */
	else if (req->transactional_id.len >= 0 &&
		 !req_allow(rc, FMQ_ACL_RES_TRANSACTIONAL_ID,
			    req->transactional_id.p,
			    (size_t)req->transactional_id.len,
			    FMQ_ACL_OP_WRITE))
		/* Kafka: WRITE on the transactional id (ACLs on). */
		all_err = FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

	for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		const struct fmq_btopic *t = NULL;

		/* WRITE on the topic, checked before anything is stored
		 * (Kafka: before the topic's existence). */
		bool denied = td->partition_data_count > 0 &&
			res[flat].state == XS_NONE && all_err == 0 &&
			!req_allow_topic(rc, td->name, FMQ_ACL_OP_WRITE);

		if (td->name.len > 0)
			t = fmq_bmeta_find(rc->meta, td->name.p,
					   (uint32_t)td->name.len);
		for (int32_t pi = 0; pi < td->partition_data_count; pi++, flat++) {
			struct xres *x = &res[flat];

			if (x->state == XS_DONE || x->state == XS_SENT)
				continue;   /* settled, or in another lcore's hands */
			if (all_err != 0 || denied) {
				x->err = denied ?
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED :
					all_err;
				x->state = XS_DONE;
				continue;
			}
			/* A replicated partition: still leading (lease),
			 * and for acks=all enough in-sync replicas, before
			 * anything is appended. */
			if (x->state == XS_NONE &&
			    t != NULL && td->partition_data[pi].index >= 0 &&
			    (uint32_t)td->partition_data[pi].index <
			    t->nparts && (x->err = repl_produce_check(bl,
				&t->parts[td->partition_data[pi].index],
				req->acks)) != 0) {
				x->state = XS_DONE;
				continue;
			}
			r = produce_part(rc, t, &td->partition_data[pi], xp,
					 flat, x, req->transactional_id.len < 0);
			if (r == -EAGAIN || r == -ENOBUFS || r == -ENOMEM) {
				if (xp == NULL) {
					/* Keep what was appended so far. */
					xp = xprog_get(rc,
						FMQ_KAFKA_API_PRODUCE, n);
					if (xp == NULL)
						return REQ_CLOSE(BROKER_CLOSE_NOMEM);
					memcpy(xp->res, res, n * sizeof(*res));
				}
				return xp->outstanding > 0 ? REQ_WAIT : REQ_RETRY;
			}
		}
	}
	if (xp != NULL && xp->outstanding > 0)
		return REQ_WAIT;

	/* Every partition answered: build the response. */
	bool any_err = false;
	for (uint32_t i = 0; i < n; i++) {
		count_error(bl, res[i].err);
		any_err |= res[i].err != 0;
	}
	/* Client quota: the request's size, as Kafka records it. */
	int32_t throttle = quota_charge(rc, FMQ_QUOTA_PRODUCE,
					(double)rc->frame_len);
	if (req->acks == 0) {
		xprog_drop(bl, rc->xslot);
		/* Kafka closes an acks=0 connection on error: the only way
		 * the client learns about it. */
		if (any_err)
			return REQ_CLOSE(BROKER_CLOSE_ACKS0_ERROR);
		/* Throttled, it is only muted: there is no answer. */
		conn_complete(bl, k, rc->slot, NULL);
		return REQ_DONE;
	}

	/* acks=all: wait (parked) until the HW covers the appends. */
	if (req->acks == -1 &&
	    repl_produce_park(rc, req, res, n, throttle) == REQ_PARK) {
		xprog_drop(bl, rc->xslot);
		return REQ_PARK;
	}
	struct fmq_kafka_produce_resp resp;
	fmq_kafka_init_response(FMQ_KAFKA_API_PRODUCE, rc->hdr->api_version,
				&resp);
	resp.throttle_time_ms = throttle;
	resp.responses_count = req->topic_data_count;
	resp.responses = fmq_kafka_arena_alloc(&bl->arena,
		(req->topic_data_count ? req->topic_data_count : 1) *
		sizeof(*resp.responses));
	if (resp.responses == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	flat = 0;
	struct leader_hints hints = { .n = 0 };
	for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		struct fmq_kafka_produce_resp_topic_produce_response *tr =
			&resp.responses[ti];
		int32_t np = RTE_MAX(td->partition_data_count, 0);
		const struct fmq_btopic *t = td->name.len > 0 ?
			fmq_bmeta_find(rc->meta, td->name.p,
				       (uint32_t)td->name.len) : NULL;

		tr->name = td->name;
		tr->partition_responses_count = np;
		tr->partition_responses = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*tr->partition_responses));
		if (tr->partition_responses == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (int32_t pi = 0; pi < np; pi++, flat++) {
			struct fmq_kafka_produce_resp_partition_produce_response *pr =
				&tr->partition_responses[pi];
			const struct xres *x = &res[flat];
			pr->index = td->partition_data[pi].index;
			pr->error_code = x->err;
			pr->base_offset = x->err ? -1 : x->base;
			pr->log_append_time_ms = x->err ? -1 : x->append_time;
			pr->log_start_offset = x->err ? -1 : x->log_start;
			pr->record_errors = NULL;
			pr->record_errors_count = 0;
			pr->error_message = FMQ_KAFKA_STR_NULL;
			memset(&pr->current_leader, 0,
			       sizeof(pr->current_leader));
			pr->current_leader.leader_id = -1;
			pr->current_leader.leader_epoch = -1;
			pr->unknown_tags = NULL;
			pr->n_unknown_tags = 0;
			/* KIP-951 (v10+): where the leader is. */
			if (rc->hdr->api_version >= 10 && t != NULL &&
			    x->err == FMQ_KERR_NOT_LEADER_OR_FOLLOWER &&
			    pr->index >= 0 && (uint32_t)pr->index < t->nparts)
				leader_hint(rc, &t->parts[pr->index], &hints,
					    &pr->current_leader.leader_id,
					    &pr->current_leader.leader_epoch);
			/* Deep validation names the record at fault (v8+). */
			if (x->err != 0 && x->msg != NULL)
				pr->error_message = fmq_kafka_str(x->msg);
			if (x->err != 0 && x->rec_index1 > 0) {
				pr->record_errors = fmq_kafka_arena_alloc(
					&bl->arena, sizeof(*pr->record_errors));
				if (pr->record_errors == NULL)
					return REQ_CLOSE(BROKER_CLOSE_NOMEM);
				memset(pr->record_errors, 0,
				       sizeof(*pr->record_errors));
				pr->record_errors->batch_index =
					x->rec_index1 - 1;
				pr->record_errors->batch_index_error_message =
					pr->error_message;
				pr->record_errors_count = 1;
			}
		}
	}
	if (hints.n > 0) {
		struct fmq_kafka_produce_resp_node_endpoint *ne =
			fmq_kafka_arena_alloc(&bl->arena,
					      hints.n * sizeof(*ne));
		if (ne == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		memset(ne, 0, hints.n * sizeof(*ne));
		for (uint32_t i = 0; i < hints.n; i++) {
			ne[i].node_id = hints.ids[i];
			leader_hint_ep(rc, hints.ids[i], &ne[i].host,
				       &ne[i].port, &ne[i].rack);
		}
		resp.node_endpoints = ne;
		resp.node_endpoints_count = (int32_t)hints.n;
	}
	xprog_drop(bl, rc->xslot);
	struct rte_mbuf *m = resp_encode(bl, FMQ_KAFKA_API_PRODUCE,
					 rc->hdr->api_version,
					 rc->hdr->correlation_id, &resp);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, k, rc->slot, m);
	return REQ_DONE;
}

/* ------------------------------------------------------------ ListOffsets */

#define TS_LATEST (-1)
#define TS_EARLIEST (-2)
#define TS_EARLIEST_LOCAL (-4)   /* v8, KIP-405 */
#define TS_LATEST_TIERED (-5)    /* v9, KIP-1005 */
#define TS_MAX_TIMESTAMP FMQ_LOG_TS_MAX

int
api_list_offsets(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	union fmq_kafka_request *u;
	struct fmq_kafka_list_offsets_req *req;
	struct fmq_kafka_list_offsets_resp resp;
	int r;

	u = fmq_kafka_arena_alloc(&bl->arena, sizeof(*u));
	if (u == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	r = fmq_kafka_decode_request(FMQ_KAFKA_API_LIST_OFFSETS,
				     rc->hdr->api_version, &rc->body,
				     &bl->arena, u);
	if (r < 0)
		return REQ_CLOSE(r == -ENOMEM ? BROKER_CLOSE_NOMEM :
				 BROKER_CLOSE_MALFORMED);
	req = &u->list_offsets;
	fmq_kafka_init_response(FMQ_KAFKA_API_LIST_OFFSETS,
				rc->hdr->api_version, &resp);
	int32_t nt = RTE_MAX(req->topics_count, 0);
	uint32_t nflat = 0, flat = 0;
	struct xprog *xp = NULL;
	for (int32_t ti = 0; ti < nt; ti++)
		nflat += (uint32_t)RTE_MAX(req->topics[ti].partitions_count, 0);
	if (*rc->xslot != NULL)
		xp = xprog_get(rc, FMQ_KAFKA_API_LIST_OFFSETS, nflat);
	resp.topics_count = nt;
	resp.topics = fmq_kafka_arena_alloc(&bl->arena,
					    (nt ? nt : 1) * sizeof(*resp.topics));
	if (resp.topics == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	for (int32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_list_offsets_req_list_offsets_topic *qt =
			&req->topics[ti];
		struct fmq_kafka_list_offsets_resp_list_offsets_topic_response *ot =
			&resp.topics[ti];
		const struct fmq_btopic *t = qt->name.len > 0 ?
			fmq_bmeta_find(rc->meta, qt->name.p,
				       (uint32_t)qt->name.len) : NULL;
		int32_t np = RTE_MAX(qt->partitions_count, 0);
		/* DESCRIBE on the topic (Kafka's ListOffsets check). */
		bool allowed = np == 0 ||
			req_allow_topic(rc, qt->name, FMQ_ACL_OP_DESCRIBE);

		ot->name = qt->name;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*ot->partitions));
		if (ot->partitions == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (int32_t pi = 0; pi < np; pi++, flat++) {
			const struct fmq_kafka_list_offsets_req_list_offsets_partition *qp =
				&qt->partitions[pi];
			struct fmq_kafka_list_offsets_resp_list_offsets_partition_response *op =
				&ot->partitions[pi];
			struct fmq_log_offsets lo;
			const struct fmq_bpart *bp;

			op->partition_index = qp->partition_index;
			op->timestamp = -1;
			op->offset = -1;
			op->leader_epoch = 0;
			op->error_code = 0;
			if (!allowed) {
				op->error_code =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				goto next;
			}
			if (t == NULL || qp->partition_index < 0 ||
			    (uint32_t)qp->partition_index >= t->nparts) {
				op->error_code = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				goto next;
			}
			bp = &t->parts[qp->partition_index];
			if (bp->log == NULL) {
				op->error_code = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
				goto next;
			}
			op->leader_epoch = bp->leader_epoch;
			/* Offsets are safe to read from any lcore. */
			fmq_log_part_offsets(bp->log, &lo);
			if (bp->owner != bl->idx && (qp->timestamp >= 0 ||
			    qp->timestamp == TS_MAX_TIMESTAMP)) {
				/* The time index belongs to the owner lcore. */
				struct xres *xr;
				if (xp == NULL)
					xp = xprog_get(rc, FMQ_KAFKA_API_LIST_OFFSETS,
						       nflat);
				if (xp == NULL)
					return REQ_CLOSE(BROKER_CLOSE_NOMEM);
				xr = &xp->res[flat];
				if (xr->state == XS_NONE) {
					struct xop *x = xop_new(bl, XOP_TIME, xp,
								flat, bp->log);
					if (x == NULL)
						return REQ_RETRY;
					x->ts = qp->timestamp;
					if (xop_send(bl, bp->owner, x) < 0) {
						xop_release(bl, x);
						return xp->outstanding > 0 ?
							REQ_WAIT : REQ_RETRY;
					}
					xr->state = XS_SENT;
					xp->outstanding++;
				}
				if (xr->state == XS_DONE) {
					op->error_code = xr->err;
					op->offset = xr->err ? -1 : xr->off;
					op->timestamp = xr->err || xr->off < 0 ?
						-1 : xr->ts;
				}
				goto next;
			}
			if (qp->timestamp == TS_LATEST) {
				/* Consumers: the HW (replica_id -1), and
				 * read_committed the LSO below it. */
				op->offset = req->replica_id >= 0 ?
					lo.high_watermark :
					repl_hw(bp, lo.high_watermark);
				if (req->replica_id < 0 &&
				    req->isolation_level == 1)
					op->offset = RTE_MIN(op->offset,
						fmq_log_part_lso(bp->log));
			} else if (qp->timestamp == TS_EARLIEST ||
				   qp->timestamp == TS_EARLIEST_LOCAL) {
				/* No tiered storage: the local log starts
				 * at the log start (UnifiedLog, remote log
				 * disabled). */
				op->offset = lo.log_start;
			} else if (qp->timestamp == TS_LATEST_TIERED) {
				/* Nothing is tiered: Kafka answers offset -1,
				 * leader epoch -1. */
				op->leader_epoch = -1;
			} else if (qp->timestamp < 0 &&
				   qp->timestamp != TS_MAX_TIMESTAMP) {
				op->error_code = FMQ_KERR_INVALID_REQUEST;
			} else {
				int64_t off, ts;
				if (fmq_log_offset_for_time(bp->log, qp->timestamp,
							    &off, &ts) < 0) {
					op->error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
				} else {
					op->offset = off;
					op->timestamp = off < 0 ? -1 : ts;
				}
			}
next:
			count_error(bl, op->error_code);
		}
	}
	if (xp != NULL && xp->outstanding > 0)
		return REQ_WAIT;
	xprog_drop(bl, rc->xslot);
	struct rte_mbuf *m = resp_encode(bl, FMQ_KAFKA_API_LIST_OFFSETS,
					 rc->hdr->api_version,
					 rc->hdr->correlation_id, &resp);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, rc->k, rc->slot, m);
	return REQ_DONE;
}
