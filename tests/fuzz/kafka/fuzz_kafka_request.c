/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: frame parsing, request header and body decoding for
 * every API and version, with the arena, over segmented input.
 *
 * Input layout: byte 0 picks the segmentation (segment length 1..16 or one
 * segment), byte 1 picks the mode:
 *   even: the rest is a stream of request frames, parsed like a connection
 *         (framer -> header -> body decode -> re-encode);
 *   odd:  bytes 2..4 choose api (index into the table), version and
 *         request/response; the rest is decoded directly as that body.
 * Every successful decode is re-encoded; the size function must agree with
 * the encoder, and a second decode of the re-encoded bytes must succeed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_kafka.h"

#define MAX_SEGS 8192

static uint8_t arena_buf[1 << 21];
static uint8_t out_buf[1 << 21];
static struct fmq_kafka_piece pieces[1 << 14];
static struct fmq_kafka_seg segs[MAX_SEGS];

static uint32_t
segment(const uint8_t *p, size_t n, uint8_t how)
{
	uint32_t step = how % 17, k = 0;
	size_t off = 0;

	if (step == 0 || n / step >= MAX_SEGS - 1) {
		segs[0].p = p;
		segs[0].len = (uint32_t)n;
		return 1;
	}
	while (off < n) {
		uint32_t l = (uint32_t)(n - off < step ? n - off : step);

		segs[k].p = p + off;
		segs[k++].len = l;
		off += l;
	}
	if (k == 0) {
		segs[0].p = p;
		segs[0].len = 0;
		k = 1;
	}
	return k;
}

/* Re-encode what was decoded; check the size function and decode again. */
static void
reencode(int16_t key, int16_t ver, int is_req, const void *body,
	 struct fmq_kafka_arena *a)
{
	static union fmq_kafka_request again;
	struct fmq_kafka_writer w;
	struct fmq_kafka_sizer s;
	struct fmq_kafka_reader r;
	struct fmq_kafka_seg one;
	int rc, n;
	size_t len = 0;

	fmq_kafka_wr_init(&w, out_buf, sizeof(out_buf), pieces,
			  sizeof(pieces) / sizeof(pieces[0]));
	rc = is_req ? fmq_kafka_encode_request(&w, key, ver, body) :
		fmq_kafka_encode_response(&w, key, ver, body);
	n = fmq_kafka_wr_finish(&w);
	if (rc < 0 || n < 0)
		return;  /* e.g. a decoded value the encoder refuses */
	fmq_kafka_sizer_init(&s, UINT32_MAX);
	if (is_req)
		fmq_kafka_size_request(&s, key, ver, body);
	else
		fmq_kafka_size_response(&s, key, ver, body);
	for (int i = 0; i < n; i++)
		len += pieces[i].len;
	if (s.bytes != len || (n == 1 && pieces[0].p != out_buf)) {
		fprintf(stderr, "size %llu != encoded %zu (api %d v%d)\n",
			(unsigned long long)s.bytes, len, key, ver);
		abort();
	}
	if (n != 1 && len != 0)
		abort();  /* no refs (ref_min max) and no refill: one piece */
	one.p = out_buf;
	one.len = (uint32_t)len;
	fmq_kafka_rd_init(&r, &one, 1, 0, (uint32_t)len);
	rc = is_req ? fmq_kafka_decode_request(key, ver, &r, a, &again) :
		fmq_kafka_decode_response(key, ver, &r, a, &again);
	if (rc == -EBADMSG || fmq_kafka_rd_left(&r) != 0) {
		fprintf(stderr, "re-encoded api %d v%d does not decode: %d\n",
			key, ver, rc);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union fmq_kafka_request req;
	static union fmq_kafka_response resp;
	struct fmq_kafka_arena a;
	uint32_t nseg;

	if (size < 2)
		return 0;
	fmq_kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	if ((data[1] & 1) == 0) {
		struct fmq_kafka_framer f;
		struct fmq_kafka_frame fr;
		const uint8_t *p = data + 2;
		size_t left = size - 2;

		fmq_kafka_framer_init(&f, 1 << 20);
		while (left > 0) {
			int st;

			nseg = segment(p, left, data[0]);
			fmq_kafka_arena_reset(&a);
			st = fmq_kafka_frame_parse(&f, segs, nseg, left, &a, &fr);
			if (st != FMQ_KAFKA_FRAME_READY)
				break;
			if (fr.frame_len > left)
				abort();
			if (fr.reason == FMQ_KAFKA_FR_OK &&
			    fmq_kafka_decode_request(fr.hdr.api_key,
					fr.hdr.api_version, &fr.body, &a,
					&req) == 0)
				reencode(fr.hdr.api_key, fr.hdr.api_version, 1,
					 &req, &a);
			p += fr.frame_len;
			left -= fr.frame_len;
		}
	} else if (size >= 5) {
		size_t n;
		const struct fmq_kafka_api_info *t = fmq_kafka_api_table(&n);
		const struct fmq_kafka_api_info *api = &t[data[2] % n];
		int16_t ver = (int16_t)(api->min_version + data[3] %
			(api->max_version - api->min_version + 1));
		int is_req = data[4] & 1;
		struct fmq_kafka_reader r;
		int rc;

		nseg = segment(data + 5, size - 5, data[0]);
		fmq_kafka_rd_init(&r, segs, nseg, 0, (uint32_t)(size - 5));
		rc = is_req ? fmq_kafka_decode_request(api->api_key, ver, &r, &a,
						       &req) :
			fmq_kafka_decode_response(api->api_key, ver, &r, &a,
						  &resp);
		if (rc == 0)
			reencode(api->api_key, ver, is_req,
				 is_req ? (void *)&req : (void *)&resp, &a);
	}
	return 0;
}
