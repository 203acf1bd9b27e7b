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

struct pres {
	int16_t err;
	bool done;
	int64_t base;
	int64_t append_time;
	int64_t log_start;
};

struct produce_progress {
	int32_t corr;
	uint32_t next;        /* flat index of the partition to resume */
	uint64_t pos;         /* bytes of its records already appended */
	uint32_t n;
	struct pres res[];
};

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
	 uint32_t *nbatches)
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
		pos += (uint64_t)blen + BATCH_HDR;
		n++;
	}
	*nbatches = n;
	if (n <= 1)
		return 0;   /* the append itself validates a lone batch whole */
	/* Several batches: check each fully first (rare; costs a copy). */
	pos = 0;
	uint8_t *tmp = rte_malloc("fmq_precheck", max_bytes, 0);
	if (tmp == NULL)
		return FMQ_KERR_KAFKA_STORAGE_ERROR;
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
	rte_free(tmp);
	return e;
}

/*
 * Append one partition's records from byte *pos on. Returns 0 (res set),
 * or -EAGAIN (hot pool full; *pos tells where to resume).
 */
static int
produce_part(struct req_ctx *rc, const struct fmq_btopic *t,
	     const struct fmq_kafka_produce_req_partition_produce_data *pd,
	     struct pres *res, uint64_t *pos)
{
	struct fmq_broker_lcore *bl = rc->bl;
	const struct fmq_bpart *bp;
	uint64_t abs;
	uint32_t len, nb;

	if (t == NULL || pd->index < 0 || (uint32_t)pd->index >= t->nparts) {
		res->err = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return 0;
	}
	bp = &t->parts[pd->index];
	if (bp->owner != bl->idx || bp->log == NULL) {
		res->err = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
		return 0;
	}
	if (pd->records.len <= 0) {
		res->err = FMQ_KERR_CORRUPT_MESSAGE;
		return 0;
	}
	len = (uint32_t)pd->records.len;
	abs = seg_abs(bl, pd->records.seg, pd->records.off);
	if (*pos == 0) {
		res->err = precheck(rc, abs, len, t->max_message_bytes, &nb);
		if (res->err != 0)
			return 0;
	}
	while (*pos < len) {
		struct fmq_log_append_result ar;
		struct fmq_kafka_reader r;
		struct rte_mbuf *m;
		uint32_t moff, blen;
		int64_t base;
		int32_t bl32;
		int rcode;

		fmq_kafka_rd_init(&r, bl->segs, rc->nseg, abs + *pos, BATCH_HDR);
		fmq_kafka_rd_i64(&r, &base);
		fmq_kafka_rd_i32(&r, &bl32);
		blen = (uint32_t)bl32 + BATCH_HDR;
		if (locate(bl, rc->nseg, abs + *pos, &m, &moff) < 0) {
			res->err = FMQ_KERR_CORRUPT_MESSAGE;
			return 0;
		}
		/* The append walks m->next; our receive list is linked that
		 * way but pkt_len is only true for each chain's head. */
		m->pkt_len = moff + blen;
		rcode = fmq_log_append(bp->log, m, moff, blen, &ar);
		if (rcode == -EAGAIN) {
			bl->st.produce_backpressure++;
			return -EAGAIN;
		}
		if (rcode < 0) {
			/* Only the first batch can fail validation here
			 * (the others were checked above). */
			res->err = ar.error ? ar.error :
				FMQ_KERR_KAFKA_STORAGE_ERROR;
			return 0;
		}
		if (!res->done) {
			res->base = ar.base_offset;
			res->append_time = ar.log_append_time;
			res->done = true;
		}
		res->log_start = ar.log_start_offset;
		bl->st.produce_batches++;
		bl->st.produce_bytes += blen;
		*pos += blen;
	}
	fetch_note_append(bl, bp->log);
	return 0;
}

int
api_produce(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct kconn *k = rc->k;
	union fmq_kafka_request *u;
	struct fmq_kafka_produce_req *req;
	struct produce_progress *pp = k->pp;
	struct pres *res;
	uint32_t n = 0, flat = 0;
	int16_t all_err = 0;
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
	for (int32_t i = 0; i < req->topic_data_count; i++)
		n += (uint32_t)RTE_MAX(req->topic_data[i].partition_data_count, 0);
	if (pp != NULL && (pp->corr != rc->hdr->correlation_id || pp->n != n)) {
		rte_free(pp);   /* not the request it was saved for */
		k->pp = pp = NULL;
	}
	if (pp != NULL) {
		res = pp->res;
	} else {
		res = fmq_kafka_arena_alloc(&bl->arena, (n ? n : 1) * sizeof(*res));
		if (res == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	}

	if (req->acks != 0 && req->acks != 1 && req->acks != -1)
		all_err = FMQ_KERR_INVALID_REQUIRED_ACKS;
	else if (rc->hdr->api_version < 3)
		all_err = FMQ_KERR_UNSUPPORTED_VERSION; /* magic 0/1 formats */
	else if (req->transactional_id.len >= 0)
		all_err = FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

	for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		const struct fmq_btopic *t = NULL;

		if (td->name.len > 0)
			t = fmq_bmeta_find(rc->meta, td->name.p,
					   (uint32_t)td->name.len);
		for (int32_t pi = 0; pi < td->partition_data_count; pi++, flat++) {
			uint64_t pos = 0;

			if (pp != NULL && flat < pp->next)
				continue;   /* done before the pool filled up */
			if (pp != NULL && flat == pp->next)
				pos = pp->pos;
			else
				memset(&res[flat], 0, sizeof(res[flat]));
			if (all_err != 0) {
				res[flat].err = all_err;
				continue;
			}
			if (produce_part(rc, t, &td->partition_data[pi],
					 &res[flat], &pos) == -EAGAIN) {
				if (pp == NULL) {
					pp = rte_malloc("fmq_produce_pp",
							sizeof(*pp) + n * sizeof(*res), 0);
					if (pp == NULL)
						return REQ_CLOSE(BROKER_CLOSE_NOMEM);
					memcpy(pp->res, res, n * sizeof(*res));
					pp->corr = rc->hdr->correlation_id;
					pp->n = n;
					k->pp = pp;
				}
				pp->next = flat;
				pp->pos = pos;
				return REQ_RETRY;
			}
		}
	}

	/* Every partition answered: build the response. */
	bool any_err = false;
	for (uint32_t i = 0; i < n; i++) {
		count_error(bl, res[i].err);
		any_err |= res[i].err != 0;
	}
	if (req->acks == 0) {
		rte_free(k->pp);
		k->pp = NULL;
		/* Kafka closes an acks=0 connection on error: the only way
		 * the client learns about it. */
		if (any_err)
			return REQ_CLOSE(BROKER_CLOSE_ACKS0_ERROR);
		conn_complete(bl, k, rc->slot, NULL);
		return REQ_DONE;
	}

	struct fmq_kafka_produce_resp resp;
	fmq_kafka_init_response(FMQ_KAFKA_API_PRODUCE, rc->hdr->api_version,
				&resp);
	resp.responses_count = req->topic_data_count;
	resp.responses = fmq_kafka_arena_alloc(&bl->arena,
		(req->topic_data_count ? req->topic_data_count : 1) *
		sizeof(*resp.responses));
	if (resp.responses == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	flat = 0;
	for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&req->topic_data[ti];
		struct fmq_kafka_produce_resp_topic_produce_response *tr =
			&resp.responses[ti];
		int32_t np = RTE_MAX(td->partition_data_count, 0);

		tr->name = td->name;
		tr->partition_responses_count = np;
		tr->partition_responses = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*tr->partition_responses));
		if (tr->partition_responses == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (int32_t pi = 0; pi < np; pi++, flat++) {
			struct fmq_kafka_produce_resp_partition_produce_response *pr =
				&tr->partition_responses[pi];
			const struct pres *x = &res[flat];
			pr->index = td->partition_data[pi].index;
			pr->error_code = x->err;
			pr->base_offset = x->err ? -1 : x->base;
			pr->log_append_time_ms = x->err ? -1 : x->append_time;
			pr->log_start_offset = x->err ? -1 : x->log_start;
			pr->record_errors = NULL;
			pr->record_errors_count = 0;
			pr->error_message = FMQ_KAFKA_STR_NULL;
		}
	}
	rte_free(k->pp);
	k->pp = NULL;
	struct rte_mbuf *m = resp_encode(bl, FMQ_KAFKA_API_PRODUCE,
					 rc->hdr->api_version,
					 rc->hdr->correlation_id, &resp, 0);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, k, rc->slot, m);
	return REQ_DONE;
}

/* ------------------------------------------------------------ ListOffsets */

#define TS_LATEST (-1)
#define TS_EARLIEST (-2)
#define TS_MAX_TIMESTAMP (-3)

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

		ot->name = qt->name;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*ot->partitions));
		if (ot->partitions == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (int32_t pi = 0; pi < np; pi++) {
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
			if (t == NULL || qp->partition_index < 0 ||
			    (uint32_t)qp->partition_index >= t->nparts) {
				op->error_code = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				goto next;
			}
			bp = &t->parts[qp->partition_index];
			if (bp->owner != bl->idx || bp->log == NULL) {
				op->error_code = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
				goto next;
			}
			op->leader_epoch = bp->leader_epoch;
			fmq_log_part_offsets(bp->log, &lo);
			if (qp->timestamp == TS_LATEST) {
				op->offset = lo.high_watermark;
			} else if (qp->timestamp == TS_EARLIEST) {
				op->offset = lo.log_start;
			} else if (qp->timestamp == TS_MAX_TIMESTAMP) {
				/* Not kept by the log yet: see docs/protocol.md. */
				op->error_code = FMQ_KERR_UNSUPPORTED_VERSION;
			} else if (qp->timestamp < 0) {
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
	struct rte_mbuf *m = resp_encode(bl, FMQ_KAFKA_API_LIST_OFFSETS,
					 rc->hdr->api_version,
					 rc->hdr->correlation_id, &resp, 0);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, rc->k, rc->slot, m);
	return REQ_DONE;
}
