/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes batches rebuilt by fmq_codec_batch_recompress() for the interop
 * check (check_interop.py): every client vector to every codec.
 *   mkvec <outdir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_codec.h"
#include "codec_test_util.h"

int
main(int argc, char **argv)
{
	static const char *const src[] = {
		"rdkafka_none", "rdkafka_gzip", "rdkafka_snappy",
		"rdkafka_lz4", "rdkafka_zstd", "kpython_gzip",
	};
	struct fmq_codec_ctx *ctx = fmq_codec_ctx_create(NULL);
	size_t cap = 4u << 20, on, n;
	uint8_t *out = malloc(cap);
	unsigned int i;
	int t;

	if (argc != 2 || ctx == NULL || out == NULL) {
		fprintf(stderr, "usage: mkvec <outdir>\n");
		return 2;
	}
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		char name[64], path[512];
		uint8_t *bt;

		snprintf(name, sizeof(name), "%s.batch", src[i]);
		bt = t_load(name, &n);
		if (bt == NULL) {
			fprintf(stderr, "mkvec: cannot read %s\n", name);
			return 1;
		}
		for (t = FMQ_CODEC_NONE; t < FMQ_CODEC_COUNT; t++) {
			struct fmq_codec_seg s = { .p = bt, .len = (uint32_t)n };
			struct fmq_codec_vresult r;
			int16_t k;
			FILE *f;

			k = fmq_codec_batch_recompress(ctx, &s, 1, t, NULL, out,
						       cap, &on, &r);
			if (k != 0) {
				fprintf(stderr, "mkvec: %s -> %s: %d %s\n",
					src[i], fmq_codec_name(t), k, r.msg);
				return 1;
			}
			snprintf(path, sizeof(path), "%s/%s.to-%s.batch",
				 argv[1], src[i], fmq_codec_name(t));
			f = fopen(path, "wb");
			if (f == NULL || fwrite(out, 1, on, f) != on) {
				perror(path);
				return 1;
			}
			fclose(f);
		}
		free(bt);
	}
	free(out);
	fmq_codec_ctx_free(ctx);
	return 0;
}
