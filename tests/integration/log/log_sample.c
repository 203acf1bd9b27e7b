/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmq-log-sample <data> <hot> <expect.jsonl>: append known batches through
 * lib/log (several segments, sparse indexes, one CreateTime and one
 * LogAppendTime partition), close, and write what every record must decode
 * to, one JSON object per line, for an independent reader (kafka-python)
 * to compare against the segment files.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_log.h"
#include "tbatch.h"

static void
hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

int
main(int argc, char **argv)
{
	struct fmq_log_params lp = {
		.hot_pool_bytes = 8u << 20, .hot_chunk_bytes = 1u << 20,
		.nb_lcores = 1, .max_partitions = 4,
	};
	struct fmq_log_part_params pp;
	struct fmq_log *log;
	char err[512];
	uint8_t b[65536], val[4096];
	FILE *out;

	if (argc != 4) {
		fprintf(stderr, "usage: %s <data> <hot> <expect.jsonl>\n",
			argv[0]);
		return 2;
	}
	lp.hot_dir = argv[2];
	log = fmq_log_create(&lp, err, sizeof(err));
	out = fopen(argv[3], "w");
	if (log == NULL || out == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	for (int part = 0; part < 2; part++) {
		struct fmq_log_part *p;

		fmq_log_part_params_default(&pp);
		pp.dir = argv[1];
		pp.topic = "sample";
		pp.partition = part;
		pp.max_message_bytes = 65536;
		pp.segment_bytes = 64 << 10;
		pp.index_interval_bytes = 1024;
		pp.log_append_time = part == 1;
		pp.leader_epoch = 3;
		p = fmq_log_part_open(log, &pp);
		if (p == NULL)
			return 1;
		for (int k = 0; k < 150; k++) {
			struct fmq_log_append_result res;
			int32_t n = 1 + k % 9;
			uint32_t vlen = (uint32_t)(k * 53 % 1500);
			int64_t ts = 1700000000000LL + 1000LL * k;
			uint32_t sz = tb_build(b, sizeof(b), n, vlen,
					       (uint64_t)k, ts);

			/* The control lcore's flusher, inline. */
			fmq_log_flush(log, fmq_now_ns(), false);
			if (fmq_log_append_buf(p, b, sz, &res) != 0) {
				fprintf(stderr, "append %d: %d\n", k,
					res.error);
				return 1;
			}
			for (int32_t i = 0; i < n; i++) {
				char key[16];
				int kl = snprintf(key, sizeof(key), "k%d", i);

				for (uint32_t j = 0; j < vlen; j++)
					val[j] = tb_byte((uint64_t)k, i, j);
				fprintf(out, "{\"partition\": %d, \"offset\": %"
					PRId64 ", \"timestamp\": %" PRId64
					", \"key\": ", part,
					res.base_offset + i,
					part == 1 ? res.log_append_time :
					ts + i);
				if (i % 5 == 4)
					fputs("null", out);
				else
					hex(out, (const uint8_t *)key,
					    (size_t)kl);
				fputs(", \"value\": ", out);
				hex(out, val, vlen);
				fputs(", \"headers\": [", out);
				if (i % 3 == 0) {
					char hv[16];
					int hl = snprintf(hv, sizeof(hv), "%d",
							  i);

					fputs("[\"h\", ", out);
					hex(out, (const uint8_t *)hv,
					    (size_t)hl);
					fputs("]", out);
				}
				fputs("]}\n", out);
			}
		}
		if (fmq_log_part_close(p) != 0)
			return 1;
	}
	fclose(out);
	fmq_log_free(log);
	fmq_log_destroy_pool(argv[2]);
	return 0;
}
