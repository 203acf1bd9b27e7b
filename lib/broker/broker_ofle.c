/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OffsetForLeaderEpoch (API 23, KIP-101/320), answered on the data lcore
 * from the partition's leader epoch cache (lib/log/fmq_epoch.h): the
 * largest epoch <= the requested one and its end offset (Kafka's
 * LeaderEpochFileCache.endOffsetFor; the log end for the current epoch).
 * Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere, as Kafka's
 * getLocalLog with fetchOnlyFromLeader), after the current_leader_epoch
 * check (FENCED_LEADER_EPOCH lower, UNKNOWN_LEADER_EPOCH higher). A
 * librdkafka consumer asks it after a leader change to learn whether the
 * log it read was truncated.
 */
#include <errno.h>

#include "broker_priv.h"

/* The generated names, shorter. */
typedef struct fmq_kafka_offset_for_leader_epoch_req_offset_for_leader_topic
	ofle_qtopic;
typedef struct
	fmq_kafka_offset_for_leader_epoch_req_offset_for_leader_partition
	ofle_qpart;
typedef struct
	fmq_kafka_offset_for_leader_epoch_resp_offset_for_leader_topic_result
	ofle_otopic;
typedef struct fmq_kafka_offset_for_leader_epoch_resp_epoch_end_offset
	ofle_opart;

/* Kafka's Partition.getLocalLog epoch check: -1 skips it. */
int16_t
ofle_epoch_check(const struct fmq_bpart *bp, int32_t current)
{
	if (current < 0)
		return 0;
	if (current < bp->leader_epoch)
		return FMQ_KERR_FENCED_LEADER_EPOCH;
	if (current > bp->leader_epoch)
		return FMQ_KERR_UNKNOWN_LEADER_EPOCH;
	return 0;
}

int
api_offset_for_leader_epoch(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fmq_kafka_offset_for_leader_epoch_req *req;
	struct fmq_kafka_offset_for_leader_epoch_resp resp;
	union fmq_kafka_request *u;
	int st;

	u = api_decode_body(rc, &st);
	if (u == NULL)
		return st;
	req = &u->offset_for_leader_epoch;
	fmq_kafka_init_response(FMQ_KAFKA_API_OFFSET_FOR_LEADER_EPOCH,
				rc->hdr->api_version, &resp);
	int32_t nt = RTE_MAX(req->topics_count, 0);
	resp.throttle_time_ms = 0;
	resp.topics_count = nt;
	resp.topics = fmq_kafka_arena_alloc(&bl->arena,
		(nt ? nt : 1) * sizeof(*resp.topics));
	if (resp.topics == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	for (int32_t ti = 0; ti < nt; ti++) {
		const ofle_qtopic *qt = &req->topics[ti];
		ofle_otopic *ot = &resp.topics[ti];
		const struct fmq_btopic *t = qt->topic.len > 0 ?
			fmq_bmeta_find(rc->meta, qt->topic.p,
				       (uint32_t)qt->topic.len) : NULL;
		int32_t np = RTE_MAX(qt->partitions_count, 0);
		/* DESCRIBE on the topic (Kafka's check for consumers). */
		bool allowed = np == 0 ||
			req_allow_topic(rc, qt->topic, FMQ_ACL_OP_DESCRIBE);

		memset(ot, 0, sizeof(*ot));
		ot->topic = qt->topic;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&bl->arena,
			(np ? np : 1) * sizeof(*ot->partitions));
		if (ot->partitions == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (int32_t pi = 0; pi < np; pi++) {
			const ofle_qpart *qp = &qt->partitions[pi];
			ofle_opart *op = &ot->partitions[pi];
			const struct fmq_bpart *bp;

			memset(op, 0, sizeof(*op));
			op->partition = qp->partition;
			op->leader_epoch = -1;
			op->end_offset = -1;
			if (!allowed) {
				op->error_code =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				goto next;
			}
			if (t == NULL || qp->partition < 0 ||
			    (uint32_t)qp->partition >= t->nparts) {
				op->error_code =
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				goto next;
			}
			bp = &t->parts[qp->partition];
			if (bp->log == NULL) {
				op->error_code =
					FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
				goto next;
			}
			op->error_code = ofle_epoch_check(bp,
				rc->hdr->api_version >= 2 ?
				qp->current_leader_epoch : -1);
			if (op->error_code != 0)
				goto next;
			(void)fmq_log_epoch_end_offset(bp->log,
						       qp->leader_epoch,
						       &op->leader_epoch,
						       &op->end_offset);
			bl->st.ofle_lookups++;
next:
			count_error(bl, op->error_code);
		}
	}
	struct rte_mbuf *m = resp_encode(bl,
		FMQ_KAFKA_API_OFFSET_FOR_LEADER_EPOCH, rc->hdr->api_version,
		rc->hdr->correlation_id, &resp);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, rc->k, rc->slot, m);
	return REQ_DONE;
}

/*
 * Fetch v12+ (KIP-595's truncation on fetch, as Kafka's
 * Partition.fetchRecords): a fetcher whose last fetched epoch ends here
 * before its fetch offset, or is unknown here, has a log that diverged
 * from this one; it gets this log's end of that epoch instead of records
 * and truncates to it.
 */
bool
ofle_diverging(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp,
	       int32_t last_fetched, int64_t fetch_offset, int32_t *epoch,
	       int64_t *end)
{
	int32_t e;
	int64_t o;

	if (last_fetched < 0 || bp->log == NULL)
		return false;
	(void)fmq_log_epoch_end_offset(bp->log, last_fetched, &e, &o);
	if (o >= fetch_offset && e >= last_fetched)
		return false;
	*epoch = e;
	*end = o;
	bl->st.diverging++;
	return true;
}

/* Fetch's hook: true when op is answered (an epoch error, or a diverging
 * epoch with no records). */
bool
fetch_epochs(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp,
	     int16_t v, const struct fmq_kafka_fetch_req_fetch_partition *qp,
	     struct fmq_kafka_fetch_resp_partition_data *op)
{
	struct fmq_log_offsets lo;

	op->error_code = ofle_epoch_check(bp, v >= 9 ?
					  qp->current_leader_epoch : -1);
	if (op->error_code == FMQ_KERR_FENCED_LEADER_EPOCH)
		bl->st.epoch_fenced++;
	else if (op->error_code == FMQ_KERR_UNKNOWN_LEADER_EPOCH)
		bl->st.epoch_unknown++;
	if (op->error_code != 0)
		return true;
	if (v < 12 || !ofle_diverging(bl, bp, qp->last_fetched_epoch,
				      qp->fetch_offset,
				      &op->diverging_epoch.epoch,
				      &op->diverging_epoch.end_offset))
		return false;
	fmq_log_part_offsets(bp->log, &lo);
	op->high_watermark = repl_hw(bp, lo.high_watermark);
	op->last_stable_offset = RTE_MIN(op->high_watermark,
					 fmq_log_part_lso(bp->log));
	op->log_start_offset = lo.log_start;
	return true;
}

/*
 * Follower (broker_repl.c's fetcher, on bp's owner lcore): the leader
 * says our log left its own after epoch de, which ends at dend there
 * (Kafka's AbstractFetcherThread.getOffsetTruncationState). We cut to
 * min(dend, our end of de) when we know de, else to our end of the
 * largest epoch below it (the next fetch asks again from there); the
 * control lcore does the cut (fmq_brepl.truncate_to).
 */
void
repl_diverged(const struct fmq_bpart *bp, int32_t de, int64_t dend)
{
	struct fmq_log_offsets lo;
	int32_t fe;
	int64_t fend, to;

	fmq_log_part_offsets(bp->flog, &lo);
	if (dend < 0) {
		to = -1;                 /* nothing known: the HW */
	} else if (de < 0) {
		to = dend;
	} else {
		(void)fmq_log_epoch_end_offset(bp->flog, de, &fe, &fend);
		if (fend < 0)
			to = dend;
		else if (fe != de)
			to = fend;
		else
			to = RTE_MIN(dend, fend);
	}
	if (to >= lo.high_watermark) {
		/* Nothing to cut: only epochs past the log end go. */
		fmq_log_epoch_truncate(bp->flog, lo.high_watermark);
		return;
	}
	atomic_store(&bp->repl->truncate_to, to);
	atomic_store(&bp->repl->want_truncate, 1);
}
