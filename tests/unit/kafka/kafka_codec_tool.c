/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_codec_tool API VERSION req|resp < body > body
 *
 * Decodes one request or response body (no size prefix, no header) with
 * lib/kafka and writes it re-encoded. Exit status 1 (and a message) when
 * the body does not decode or was not consumed exactly. Used by
 * crosscheck_kafka_python.py to compare our codecs with another
 * implementation's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_kafka.h"

static uint8_t in[1 << 22];
static uint8_t arena_buf[1 << 22];
static uint8_t out[1 << 22];

int
main(int argc, char **argv)
{
	static union fmq_kafka_request req;
	static union fmq_kafka_response resp;
	struct fmq_kafka_piece pc[64];
	struct fmq_kafka_arena a;
	struct fmq_kafka_writer w;
	struct fmq_kafka_reader r;
	struct fmq_kafka_seg seg;
	int16_t key, ver;
	int is_req, rc, n;
	size_t len;
	void *body;

	if (argc != 4) {
		fprintf(stderr, "usage: %s API VERSION req|resp\n", argv[0]);
		return 2;
	}
	key = (int16_t)atoi(argv[1]);
	ver = (int16_t)atoi(argv[2]);
	is_req = strcmp(argv[3], "req") == 0;
	body = is_req ? (void *)&req : (void *)&resp;
	len = fread(in, 1, sizeof(in), stdin);
	seg.p = in;
	seg.len = (uint32_t)len;
	fmq_kafka_arena_init(&a, arena_buf, sizeof(arena_buf));
	fmq_kafka_rd_init(&r, &seg, 1, 0, (uint32_t)len);
	rc = is_req ? fmq_kafka_decode_request(key, ver, &r, &a, body) :
		fmq_kafka_decode_response(key, ver, &r, &a, body);
	if (rc < 0) {
		fprintf(stderr, "decode: %d\n", rc);
		return 1;
	}
	if (fmq_kafka_rd_left(&r) != 0) {
		fprintf(stderr, "decode: %u bytes left over\n",
			fmq_kafka_rd_left(&r));
		return 1;
	}
	fmq_kafka_wr_init(&w, out, sizeof(out), pc, 64);
	rc = is_req ? fmq_kafka_encode_request(&w, key, ver, body) :
		fmq_kafka_encode_response(&w, key, ver, body);
	n = fmq_kafka_wr_finish(&w);
	if (rc < 0 || n < 0) {
		fprintf(stderr, "encode: %d\n", rc < 0 ? rc : n);
		return 1;
	}
	for (int i = 0; i < n; i++)
		fwrite(pc[i].p, 1, pc[i].len, stdout);
	return 0;
}
