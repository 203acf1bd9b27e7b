/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DescribeProducers (API 61, KIP-664): per partition, the producers its
 * idempotent producer state holds, as Kafka's
 * KafkaApis.handleDescribeProducersRequest and UnifiedLog.activeProducers
 * answer. The state belongs to the partition's owner lcore: a partition
 * of another lcore is asked over the cross-lcore ring (XOP_PRODUCERS) and
 * the request runs again with its answer, as ListOffsets' time lookups.
 *
 * Errors as Kafka: an illegal topic name INVALID_TOPIC_EXCEPTION with
 * Topic.validate's message, no READ on the topic
 * TOPIC_AUTHORIZATION_FAILED, an unknown topic or partition
 * UNKNOWN_TOPIC_OR_PARTITION, a partition not led here
 * NOT_LEADER_OR_FOLLOWER. Coordinator epoch: -1 (markers are not entered
 * in the producer state; FluxMQ's markers all carry epoch 0).
 */
#include <ctype.h>
#include <string.h>

#include "broker_priv.h"

/* Topic.validate: NULL when legal, else Kafka's message. */
static const char *
topic_invalid(struct fmq_kafka_str n)
{
	if (n.len <= 0)
		return "Topic name is illegal, it can't be empty";
	if ((n.len == 1 && n.p[0] == '.') ||
	    (n.len == 2 && n.p[0] == '.' && n.p[1] == '.'))
		return "Topic name cannot be \".\" or \"..\"";
	if (n.len > FMQ_BROKER_TOPIC_MAX)
		return "Topic name is illegal, it can't be longer than 249 "
		       "characters";
	for (int32_t i = 0; i < n.len; i++) {
		unsigned char c = (unsigned char)n.p[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return "Topic name is illegal, it contains a "
			       "character other than ASCII alphanumerics, "
			       "'.', '_' and '-'";
	}
	return NULL;
}

/* The answer's producers from n descriptions (copied into the arena). */
static int
fill_producers(struct fmq_broker_lcore *bl,
	       const struct fmq_log_producer_desc *d, uint32_t n,
	       struct fmq_kafka_describe_producers_resp_partition_response *op)
{
	struct fmq_kafka_describe_producers_resp_producer_state *ps;

	ps = fmq_kafka_arena_alloc(&bl->arena, (n ? n : 1) * sizeof(*ps));
	if (ps == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		ps[i].producer_id = d[i].pid;
		ps[i].producer_epoch = d[i].epoch;
		ps[i].last_sequence = d[i].last_seq;
		ps[i].last_timestamp = d[i].last_ms;
		ps[i].coordinator_epoch = -1;
		ps[i].current_txn_start_offset = d[i].txn_start;
	}
	op->active_producers = ps;
	op->active_producers_count = (int32_t)n;
	return 0;
}

/* A partition this lcore owns: its producers, now. */
static int
describe_local(struct fmq_broker_lcore *bl, struct fmq_log_part *log,
	       int64_t now_ms,
	       struct fmq_kafka_describe_producers_resp_partition_response *op)
{
	uint32_t n = fmq_log_producers_describe(log, now_ms, NULL, 0);
	struct fmq_log_producer_desc *d;

	d = fmq_kafka_arena_alloc(&bl->arena, (n ? n : 1) * sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	n = RTE_MIN(n, fmq_log_producers_describe(log, now_ms, d, n));
	return fill_producers(bl, d, n, op);
}

int
api_describe_producers(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fmq_kafka_describe_producers_req *req;
	struct fmq_kafka_describe_producers_resp resp;
	struct xprog *xp = NULL;
	uint32_t nflat = 0, flat = 0;
	int64_t now_ms = fmq_wall_ms();
	int st = 0;

	req = api_decode_body(rc, &st);
	if (req == NULL)
		return st;
	fmq_kafka_init_response(FMQ_KAFKA_API_DESCRIBE_PRODUCERS,
				rc->hdr->api_version, &resp);
	int32_t nt = RTE_MAX(req->topics_count, 0);
	for (int32_t ti = 0; ti < nt; ti++)
		nflat += (uint32_t)RTE_MAX(
			req->topics[ti].partition_indexes_count, 0);
	if (*rc->xslot != NULL)
		xp = xprog_get(rc, FMQ_KAFKA_API_DESCRIBE_PRODUCERS, nflat);
	resp.topics_count = nt;
	resp.topics = fmq_kafka_arena_alloc(&bl->arena,
		(nt ? nt : 1) * sizeof(*resp.topics));
	if (resp.topics == NULL)
		goto nomem;
	for (int32_t ti = 0; ti < nt; ti++) {
		const struct fmq_kafka_describe_producers_req_topic_request *qt =
			&req->topics[ti];
		struct fmq_kafka_describe_producers_resp_topic_response *ot =
			&resp.topics[ti];
		int32_t np = RTE_MAX(qt->partition_indexes_count, 0);
		const struct fmq_btopic *t = NULL;
		const char *msg = topic_invalid(qt->name);
		int16_t terr = 0;

		if (msg != NULL)
			terr = FMQ_KERR_INVALID_TOPIC_EXCEPTION;
		else if (!req_allow_topic(rc, qt->name, FMQ_ACL_OP_READ))
			terr = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
		else if ((t = fmq_bmeta_find(rc->meta, qt->name.p,
					     (uint32_t)qt->name.len)) == NULL)
			terr = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		ot->name = qt->name;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*ot->partitions));
		if (ot->partitions == NULL)
			goto nomem;
		for (int32_t pi = 0; pi < np; pi++, flat++) {
			struct fmq_kafka_describe_producers_resp_partition_response *op =
				&ot->partitions[pi];
			int32_t idx = qt->partition_indexes[pi];
			const struct fmq_bpart *bp;

			op->partition_index = idx;
			op->error_code = terr;
			op->error_message = msg != NULL ? fmq_kafka_str(msg) :
				FMQ_KAFKA_STR_NULL;
			op->active_producers = NULL;
			op->active_producers_count = 0;
			if (terr != 0)
				goto next;
			if (idx < 0 || (uint32_t)idx >= t->nparts) {
				op->error_code =
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				goto next;
			}
			bp = &t->parts[idx];
			if (bp->log == NULL) {
				op->error_code =
					FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
				goto next;
			}
			if (bp->owner == bl->idx) {
				if (describe_local(bl, bp->log, now_ms, op) < 0)
					goto nomem;
				goto next;
			}
			/* The producer state is the owner lcore's. */
			if (xp == NULL)
				xp = xprog_get(rc,
					FMQ_KAFKA_API_DESCRIBE_PRODUCERS, nflat);
			if (xp == NULL)
				goto nomem;
			struct xres *xr = &xp->res[flat];
			if (xr->state == XS_NONE) {
				struct xop *x = xop_new(bl, XOP_PRODUCERS, xp,
							flat, bp->log);
				if (x == NULL)
					return xp->outstanding > 0 ?
						REQ_WAIT : REQ_RETRY;
				x->ts = now_ms;
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
				if (xr->err == 0 && xr->op != NULL &&
				    fill_producers(bl, xr->op->blob,
						   xr->op->nblob, op) < 0)
					goto nomem;
			}
next:
			count_error(bl, op->error_code);
		}
	}
	if (xp != NULL && xp->outstanding > 0)
		return REQ_WAIT;
	xprog_drop(bl, rc->xslot);
	return api_respond(rc, &resp);
nomem:
	xprog_drop(bl, rc->xslot);
	return REQ_CLOSE(BROKER_CLOSE_NOMEM);
}
