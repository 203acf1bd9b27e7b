/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Micro-benchmarks of the wire layer (one core, no I/O):
 *  - frame + header + decode of a Produce v9 request carrying 16 partitions
 *    x 64 KiB of records, delivered as 2 KiB segments (mbuf-sized);
 *  - decode of the small Produce v7 request kcat sent (captured vector);
 *  - size + encode of a Fetch v12 response with 16 partitions x 1 MiB of
 *    records by reference (4 pieces each);
 *  - encode of a Metadata v12 response, 100 topics x 8 partitions.
 * Also prints a memcpy ceiling of the same payload for scale.
 *
 * Usage: bench_kafka [iterations-scale]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmq_kafka.h"

static uint8_t arena_buf[8 << 20];
static uint8_t out[8 << 20];
static struct fmq_kafka_piece pieces[1 << 12];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define NPART 16
#define PART_BYTES (64 * 1024)
#define SEG 2048

static void
bench_produce_big(int iters)
{
	static struct fmq_kafka_produce_req_partition_produce_data pd[NPART];
	static struct fmq_kafka_iov iov[NPART];
	static struct fmq_kafka_seg segs[(NPART * PART_BYTES) / SEG + 64];
	static uint8_t *payload, *frame;
	struct fmq_kafka_produce_req_topic_produce_data td;
	struct fmq_kafka_produce_req req;
	union fmq_kafka_request body;
	struct fmq_kafka_arena a;
	struct fmq_kafka_writer w;
	size_t len = 0;
	uint32_t nseg = 0;
	double t0, t;
	int n;

	payload = malloc(NPART * PART_BYTES);
	frame = malloc(NPART * PART_BYTES + 4096);
	memset(payload, 0x5a, NPART * PART_BYTES);
	fmq_kafka_produce_req_init(&req);
	req.acks = -1;
	req.timeout_ms = 30000;
	td.name = FMQ_KAFKA_STR_LIT("bench-topic");
	td.unknown_tags = NULL;
	td.n_unknown_tags = 0;
	for (int i = 0; i < NPART; i++) {
		memset(&pd[i], 0, sizeof(pd[i]));
		pd[i].index = i;
		iov[i].p = payload + (size_t)i * PART_BYTES;
		iov[i].len = PART_BYTES;
		fmq_kafka_records_set(&pd[i].records, &iov[i], 1);
	}
	td.partition_data = pd;
	td.partition_data_count = NPART;
	req.topic_data = &td;
	req.topic_data_count = 1;
	fmq_kafka_wr_init(&w, frame, NPART * PART_BYTES + 4096, pieces, 4096);
	fmq_kafka_write_request(&w, 0, 9, 1, FMQ_KAFKA_STR_LIT("bench"), &req);
	n = fmq_kafka_wr_finish(&w);
	if (n != 1) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
	len = pieces[0].len;
	for (size_t off = 0; off < len; off += SEG) {
		segs[nseg].p = frame + off;
		segs[nseg++].len = (uint32_t)(len - off < SEG ? len - off : SEG);
	}
	fmq_kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	t0 = now();
	for (int it = 0; it < iters; it++) {
		struct fmq_kafka_framer f;
		struct fmq_kafka_frame fr;

		fmq_kafka_framer_init(&f, 104857600);
		fmq_kafka_arena_reset(&a);
		if (fmq_kafka_frame_parse(&f, segs, nseg, len, &a, &fr) !=
		    FMQ_KAFKA_FRAME_READY ||
		    fmq_kafka_decode_request(0, 9, &fr.body, &a, &body) != 0) {
			fprintf(stderr, "decode failed\n");
			exit(1);
		}
	}
	t = (now() - t0) / iters;
	printf("produce v9 16x64KiB in %u x 2KiB segments: frame+decode %.0f ns"
	       " (%.1f GB/s of request, arena %zu B)\n", nseg, t * 1e9,
	       len / t / 1e9, a.peak);
	t0 = now();
	for (int it = 0; it < iters; it++)
		memcpy(out, frame, len);
	t = (now() - t0) / iters;
	printf("  memcpy of the same %zu bytes: %.0f ns (%.1f GB/s)\n", len,
	       t * 1e9, len / t / 1e9);
	free(payload);
	free(frame);
}

static void
bench_produce_small(int iters)
{
	char path[512];
	uint8_t buf[4096];
	union fmq_kafka_request body;
	struct fmq_kafka_arena a;
	struct fmq_kafka_seg seg;
	FILE *f;
	size_t len;
	double t0, t;

	snprintf(path, sizeof(path), "%s/tests/vectors/kafka/"
		 "rdkafka_produce_v7_lz4.bin", FMQ_SOURCE_DIR);
	f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	seg.p = buf;
	seg.len = (uint32_t)len;
	fmq_kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	t0 = now();
	for (int it = 0; it < iters * 100; it++) {
		struct fmq_kafka_framer fr_state;
		struct fmq_kafka_frame fr;

		fmq_kafka_framer_init(&fr_state, 104857600);
		fmq_kafka_arena_reset(&a);
		if (fmq_kafka_frame_parse(&fr_state, &seg, 1, len, &a, &fr) !=
		    FMQ_KAFKA_FRAME_READY ||
		    fmq_kafka_decode_request(0, 7, &fr.body, &a, &body) != 0)
			exit(1);
	}
	t = (now() - t0) / (iters * 100);
	printf("produce v7 (kcat, %zu B): frame+decode %.0f ns\n", len, t * 1e9);
}

static void
bench_fetch_encode(int iters)
{
	static struct fmq_kafka_fetch_resp_partition_data pd[NPART];
	static struct fmq_kafka_iov iov[NPART][4];
	struct fmq_kafka_fetch_resp_fetchable_topic_response tr;
	struct fmq_kafka_fetch_resp resp;
	struct fmq_kafka_sizer info;
	static uint8_t *chunk;
	double t0, t;
	int n = 0;

	chunk = malloc(1 << 20);
	fmq_kafka_fetch_resp_init(&resp);
	memset(&tr, 0, sizeof(tr));
	tr.topic = FMQ_KAFKA_STR_LIT("bench-topic");
	for (int i = 0; i < NPART; i++) {
		memset(&pd[i], 0, sizeof(pd[i]));
		pd[i].partition_index = i;
		pd[i].high_watermark = 1000000;
		pd[i].last_stable_offset = 1000000;
		pd[i].diverging_epoch.epoch = -1;
		pd[i].diverging_epoch.end_offset = -1;
		pd[i].current_leader.leader_id = -1;
		pd[i].current_leader.leader_epoch = -1;
		pd[i].snapshot_id.end_offset = -1;
		pd[i].snapshot_id.epoch = -1;
		pd[i].preferred_read_replica = -1;
		pd[i].aborted_transactions_count = -1;
		for (int k = 0; k < 4; k++) {
			iov[i][k].p = chunk + k * (1 << 18);
			iov[i][k].len = 1 << 18;
			iov[i][k].cookie = &iov[i][k];
		}
		fmq_kafka_records_set(&pd[i].records, iov[i], 4);
	}
	tr.partitions = pd;
	tr.partitions_count = NPART;
	resp.responses = &tr;
	resp.responses_count = 1;
	t0 = now();
	for (int it = 0; it < iters * 10; it++) {
		struct fmq_kafka_writer w;

		fmq_kafka_wr_init(&w, out, 2048, pieces, 4096);
		fmq_kafka_wr_set_ref_min(&w, 4096);
		if (fmq_kafka_write_response(&w, 1, 12, it, &resp, &info) < 0 ||
		    (n = fmq_kafka_wr_finish(&w)) < 0)
			exit(1);
	}
	t = (now() - t0) / (iters * 10);
	printf("fetch v12 response 16 x 1 MiB by reference: size+encode %.0f ns,"
	       " %d pieces, %llu B copied, %llu B referenced\n", t * 1e9, n,
	       (unsigned long long)(info.bytes - info.ref_bytes),
	       (unsigned long long)info.ref_bytes);
	free(chunk);
}

static void
bench_metadata_encode(int iters)
{
	static struct fmq_kafka_metadata_resp_metadata_response_topic topics[100];
	static struct fmq_kafka_metadata_resp_metadata_response_partition parts[8];
	static char names[100][32];
	struct fmq_kafka_metadata_resp_metadata_response_broker b;
	struct fmq_kafka_metadata_resp resp;
	int32_t nodes[1] = { 1 };
	size_t len = 0;
	double t0, t;

	fmq_kafka_metadata_resp_init(&resp);
	memset(&b, 0, sizeof(b));
	b.node_id = 1;
	b.host = FMQ_KAFKA_STR_LIT("10.77.0.2");
	b.port = 9092;
	b.rack = FMQ_KAFKA_STR_NULL;
	resp.brokers = &b;
	resp.brokers_count = 1;
	resp.cluster_id = FMQ_KAFKA_STR_LIT("fluxmq");
	resp.controller_id = 1;
	for (int p = 0; p < 8; p++) {
		memset(&parts[p], 0, sizeof(parts[p]));
		parts[p].partition_index = p;
		parts[p].leader_id = 1;
		parts[p].replica_nodes = nodes;
		parts[p].replica_nodes_count = 1;
		parts[p].isr_nodes = nodes;
		parts[p].isr_nodes_count = 1;
	}
	for (int i = 0; i < 100; i++) {
		memset(&topics[i], 0, sizeof(topics[i]));
		snprintf(names[i], sizeof(names[i]), "topic-%03d", i);
		topics[i].name = fmq_kafka_str(names[i]);
		topics[i].partitions = parts;
		topics[i].partitions_count = 8;
		topics[i].topic_authorized_operations = INT32_MIN;
	}
	resp.topics = topics;
	resp.topics_count = 100;
	t0 = now();
	for (int it = 0; it < iters; it++) {
		struct fmq_kafka_writer w;

		fmq_kafka_wr_init(&w, out, sizeof(out), pieces, 16);
		if (fmq_kafka_write_response(&w, 3, 12, it, &resp, NULL) < 0 ||
		    fmq_kafka_wr_finish(&w) != 1)
			exit(1);
		len = pieces[0].len;
	}
	t = (now() - t0) / iters;
	printf("metadata v12 response 100 topics x 8 partitions (%zu B): "
	       "size+encode %.0f ns\n", len, t * 1e9);
}

int
main(int argc, char **argv)
{
	int scale = argc > 1 ? atoi(argv[1]) : 1;
	int iters = 2000 * (scale > 0 ? scale : 1);

	bench_produce_big(iters);
	bench_produce_small(iters);
	bench_fetch_encode(iters);
	bench_metadata_encode(iters);
	return 0;
}
