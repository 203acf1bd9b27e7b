/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_vector_responder: answers ONE request frame (stdin) with a response
 * frame (stdout), encoded by lib/kafka. capture.py uses it to get real
 * clients past their first requests while it records what they send.
 *
 * It pretends to be a one-broker cluster (node 1 at 127.0.0.1:PORT) where
 * every requested topic has one empty partition:
 *   ApiVersions -> our table (or, with --refuse-apiversions, error 35 and
 *                  ApiVersions 0-0, as an old broker would, so that
 *                  librdkafka falls back to ApiVersions v0)
 *   Metadata, Produce (base offset 0), ListOffsets (offset 0),
 *   Fetch (no records, high watermark 0), FindCoordinator, InitProducerId.
 * Anything else: exit status 3 and no output.
 *
 * Usage: kafka_vector_responder PORT [--refuse-apiversions] < req > resp
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_kafka.h"

static uint8_t in[1 << 22];
static uint8_t arena_buf[1 << 22];
static uint8_t out[1 << 20];

#define NODE 1
#define TOPIC_FALLBACK "capture"

static struct fmq_kafka_arena arena;

static void *
alloc(size_t n)
{
	void *p = fmq_kafka_arena_alloc(&arena, n);

	if (p == NULL) {
		fprintf(stderr, "responder: arena full\n");
		exit(2);
	}
	return p;
}

static int32_t port;

static void
metadata(const struct fmq_kafka_metadata_req *rq,
	 struct fmq_kafka_metadata_resp *rs)
{
	struct fmq_kafka_metadata_resp_metadata_response_broker *b;
	int32_t n = rq->topics_count > 0 ? rq->topics_count : 1;

	fmq_kafka_metadata_resp_init(rs);
	b = alloc(sizeof(*b));
	b->node_id = NODE;
	b->host = FMQ_KAFKA_STR_LIT("127.0.0.1");
	b->port = port;
	b->rack = FMQ_KAFKA_STR_NULL;
	rs->brokers = b;
	rs->brokers_count = 1;
	rs->cluster_id = FMQ_KAFKA_STR_LIT("fmq-capture");
	rs->controller_id = NODE;
	rs->topics = alloc((size_t)n * sizeof(*rs->topics));
	rs->topics_count = n;
	for (int32_t i = 0; i < n; i++) {
		struct fmq_kafka_metadata_resp_metadata_response_topic *t =
			&rs->topics[i];
		struct fmq_kafka_metadata_resp_metadata_response_partition *p;
		int32_t *nodes = alloc(sizeof(int32_t));

		nodes[0] = NODE;
		t->name = rq->topics_count > 0 ? rq->topics[i].name :
			FMQ_KAFKA_STR_LIT(TOPIC_FALLBACK);
		t->topic_id.b[15] = (uint8_t)(i + 1);
		t->topic_authorized_operations = INT32_MIN;
		p = alloc(sizeof(*p));
		p->partition_index = 0;
		p->leader_id = NODE;
		p->leader_epoch = 0;
		p->replica_nodes = nodes;
		p->replica_nodes_count = 1;
		p->isr_nodes = nodes;
		p->isr_nodes_count = 1;
		t->partitions = p;
		t->partitions_count = 1;
	}
	rs->cluster_authorized_operations = INT32_MIN;
}

static void
produce(const struct fmq_kafka_produce_req *rq,
	struct fmq_kafka_produce_resp *rs)
{
	fmq_kafka_produce_resp_init(rs);
	rs->responses = alloc((size_t)rq->topic_data_count *
			      sizeof(*rs->responses) + 1);
	rs->responses_count = rq->topic_data_count;
	for (int32_t i = 0; i < rq->topic_data_count; i++) {
		const struct fmq_kafka_produce_req_topic_produce_data *td =
			&rq->topic_data[i];
		struct fmq_kafka_produce_resp_topic_produce_response *tr =
			&rs->responses[i];

		tr->name = td->name;
		tr->partition_responses = alloc((size_t)td->partition_data_count *
					sizeof(*tr->partition_responses) + 1);
		tr->partition_responses_count = td->partition_data_count;
		for (int32_t k = 0; k < td->partition_data_count; k++) {
			struct fmq_kafka_produce_resp_partition_produce_response *p =
				&tr->partition_responses[k];

			p->index = td->partition_data[k].index;
			p->base_offset = 0;
			p->log_append_time_ms = -1;
			p->log_start_offset = 0;
			p->error_message = FMQ_KAFKA_STR_NULL;
		}
	}
}

static void
list_offsets(const struct fmq_kafka_list_offsets_req *rq,
	     struct fmq_kafka_list_offsets_resp *rs)
{
	fmq_kafka_list_offsets_resp_init(rs);
	rs->topics = alloc((size_t)rq->topics_count * sizeof(*rs->topics) + 1);
	rs->topics_count = rq->topics_count;
	for (int32_t i = 0; i < rq->topics_count; i++) {
		const struct fmq_kafka_list_offsets_req_list_offsets_topic *t =
			&rq->topics[i];
		struct fmq_kafka_list_offsets_resp_list_offsets_topic_response *r =
			&rs->topics[i];

		r->name = t->name;
		r->partitions = alloc((size_t)t->partitions_count *
				      sizeof(*r->partitions) + 1);
		r->partitions_count = t->partitions_count;
		for (int32_t k = 0; k < t->partitions_count; k++) {
			r->partitions[k].partition_index =
				t->partitions[k].partition_index;
			r->partitions[k].timestamp = -1;
			r->partitions[k].offset = 0;
			r->partitions[k].leader_epoch = 0;
		}
	}
}

static void
fetch(const struct fmq_kafka_fetch_req *rq, struct fmq_kafka_fetch_resp *rs)
{
	fmq_kafka_fetch_resp_init(rs);
	rs->responses = alloc((size_t)rq->topics_count *
			      sizeof(*rs->responses) + 1);
	rs->responses_count = rq->topics_count;
	for (int32_t i = 0; i < rq->topics_count; i++) {
		const struct fmq_kafka_fetch_req_fetch_topic *t = &rq->topics[i];
		struct fmq_kafka_fetch_resp_fetchable_topic_response *r =
			&rs->responses[i];

		r->topic = t->topic;
		r->partitions = alloc((size_t)t->partitions_count *
				      sizeof(*r->partitions) + 1);
		r->partitions_count = t->partitions_count;
		for (int32_t k = 0; k < t->partitions_count; k++) {
			struct fmq_kafka_fetch_resp_partition_data *p =
				&r->partitions[k];

			memset(p, 0, sizeof(*p));
			p->partition_index = t->partitions[k].partition;
			p->high_watermark = 0;
			p->last_stable_offset = 0;
			p->log_start_offset = 0;
			p->diverging_epoch.epoch = -1;
			p->diverging_epoch.end_offset = -1;
			p->current_leader.leader_id = -1;
			p->current_leader.leader_epoch = -1;
			p->snapshot_id.end_offset = -1;
			p->snapshot_id.epoch = -1;
			p->aborted_transactions_count = -1;
			p->preferred_read_replica = -1;
			p->records.len = 0;
		}
	}
}

static void
find_coordinator(const struct fmq_kafka_find_coordinator_req *rq,
		 struct fmq_kafka_find_coordinator_resp *rs)
{
	fmq_kafka_find_coordinator_resp_init(rs);
	rs->node_id = NODE;
	rs->host = FMQ_KAFKA_STR_LIT("127.0.0.1");
	rs->port = port;
	rs->error_message = FMQ_KAFKA_STR_NULL;
	if (rq->coordinator_keys_count > 0) {
		rs->coordinators = alloc((size_t)rq->coordinator_keys_count *
					 sizeof(*rs->coordinators));
		rs->coordinators_count = rq->coordinator_keys_count;
		for (int32_t i = 0; i < rq->coordinator_keys_count; i++) {
			rs->coordinators[i].key = rq->coordinator_keys[i];
			rs->coordinators[i].node_id = NODE;
			rs->coordinators[i].host = FMQ_KAFKA_STR_LIT("127.0.0.1");
			rs->coordinators[i].port = port;
			rs->coordinators[i].error_message = FMQ_KAFKA_STR_NULL;
		}
	}
}

int
main(int argc, char **argv)
{
	static union fmq_kafka_request rq;
	static union fmq_kafka_response rs;
	struct fmq_kafka_api_versions_resp_api_version keys[FMQ_KAFKA_N_APIS];
	struct fmq_kafka_piece pc[16];
	struct fmq_kafka_framer f;
	struct fmq_kafka_frame fr;
	struct fmq_kafka_writer w;
	struct fmq_kafka_seg seg;
	bool refuse = argc > 2 && strcmp(argv[2], "--refuse-apiversions") == 0;
	size_t len;
	int st, rc, n;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PORT [--refuse-apiversions]\n",
			argv[0]);
		return 1;
	}
	port = atoi(argv[1]);
	len = fread(in, 1, sizeof(in), stdin);
	fmq_kafka_arena_init(&arena, arena_buf, sizeof(arena_buf));
	fmq_kafka_framer_init(&f, sizeof(in));
	seg.p = in;
	seg.len = (uint32_t)len;
	st = fmq_kafka_frame_parse(&f, &seg, 1, len, &arena, &fr);
	fmq_kafka_wr_init(&w, out, sizeof(out), pc, 16);
	if (st == FMQ_KAFKA_FRAME_READY &&
	    fr.reason == FMQ_KAFKA_FR_APIVERSIONS_FALLBACK) {
		rc = fmq_kafka_write_apiversions_fallback(&w,
				fr.hdr.correlation_id);
		goto emit;
	}
	if (st != FMQ_KAFKA_FRAME_READY) {
		fprintf(stderr, "responder: frame: %s\n",
			fmq_kafka_frame_reason_str(fr.reason));
		return 2;
	}
	rc = fmq_kafka_decode_request(fr.hdr.api_key, fr.hdr.api_version,
				      &fr.body, &arena, &rq);
	if (rc < 0) {
		fprintf(stderr, "responder: decode api %d v%d: %d\n",
			fr.hdr.api_key, fr.hdr.api_version, rc);
		return 2;
	}
	switch (fr.hdr.api_key) {
	case FMQ_KAFKA_API_API_VERSIONS:
		fmq_kafka_apiversions_fill(&rs.api_versions, keys, 0);
		if (refuse) {
			/* An old broker: only ApiVersions v0. */
			keys[0].api_key = FMQ_KAFKA_API_API_VERSIONS;
			keys[0].min_version = 0;
			keys[0].max_version = 0;
			rs.api_versions.api_keys_count = 1;
			rs.api_versions.error_code = FMQ_KERR_UNSUPPORTED_VERSION;
			rc = fmq_kafka_write_response(&w, fr.hdr.api_key, 0,
					fr.hdr.correlation_id, &rs, NULL);
			goto emit;
		}
		break;
	case FMQ_KAFKA_API_METADATA:
		metadata(&rq.metadata, &rs.metadata);
		break;
	case FMQ_KAFKA_API_PRODUCE:
		if (rq.produce.acks == 0)
			return 0;
		produce(&rq.produce, &rs.produce);
		break;
	case FMQ_KAFKA_API_LIST_OFFSETS:
		list_offsets(&rq.list_offsets, &rs.list_offsets);
		break;
	case FMQ_KAFKA_API_FETCH:
		fetch(&rq.fetch, &rs.fetch);
		break;
	case FMQ_KAFKA_API_FIND_COORDINATOR:
		find_coordinator(&rq.find_coordinator, &rs.find_coordinator);
		break;
	case FMQ_KAFKA_API_INIT_PRODUCER_ID:
		fmq_kafka_init_producer_id_resp_init(&rs.init_producer_id);
		rs.init_producer_id.producer_id = 1000;
		rs.init_producer_id.producer_epoch = 0;
		break;
	default:
		fprintf(stderr, "responder: no canned answer for api %d\n",
			fr.hdr.api_key);
		return 3;
	}
	rc = fmq_kafka_write_response(&w, fr.hdr.api_key, fr.hdr.api_version,
				      fr.hdr.correlation_id, &rs, NULL);
emit:
	if (rc < 0 || (n = fmq_kafka_wr_finish(&w)) < 0) {
		fprintf(stderr, "responder: encode: %d\n", rc);
		return 2;
	}
	for (int i = 0; i < n; i++)
		fwrite(pc[i].p, 1, pc[i].len, stdout);
	return 0;
}
