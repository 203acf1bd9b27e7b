/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/log/codec: arbitrary bytes into every
 * decompressor (in segments the input chooses), deep validation of what
 * comes out, and whole-batch validation and recompression. The output
 * buffers are exactly the bound, so ASan flags any write past it; the
 * target also checks the reported lengths against the bound.
 *
 * Input: byte 0 = mode (codec, segment size), the rest = payload.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_codec.h"

#define BOUND (256u * 1024)
#define MAX_SEGS 4096

/* Name the broken promise before dying: the fuzzer's report shows it. */
#define FAIL(what) do {						\
		fprintf(stderr, "fuzz_codec: %s (line %d)\n", what,	\
			__LINE__);					\
		abort();						\
	} while (0)

static struct fmq_codec_ctx *ctx;
static uint8_t *out;     /* BOUND bytes, malloc'd exactly */
static uint8_t *rebuilt; /* BOUND bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fmq_codec_limits lim = {
		.max_input = BOUND, .max_output = BOUND,
	};

	(void)argc;
	(void)argv;
	ctx = fmq_codec_ctx_create(&lim);
	out = malloc(BOUND);
	rebuilt = malloc(BOUND);
	if (ctx == NULL || out == NULL || rebuilt == NULL)
		FAIL("setup");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fmq_codec_seg segs[MAX_SEGS];
	struct fmq_codec_vopts o = {
		.from_client = true, .now_ms = 1700000000000,
		.ts_diff_max_ms = 3600000,
	};
	struct fmq_codec_vresult res;
	struct fmq_codec_batch b;
	struct fmq_codec_seg one;
	unsigned int nsegs = 0, piece;
	size_t len = 0, off;
	int codec, rc;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	codec = 1 + mode % 4;                  /* gzip..zstd */
	piece = (mode >> 2) & 7 ? 1u << (((mode >> 2) & 7) * 2) : 1;
	for (off = 0; off < size && nsegs < MAX_SEGS; off += piece) {
		segs[nsegs].p = data + off;
		segs[nsegs].len = (uint32_t)(size - off < piece ? size - off :
					     piece);
		nsegs++;
	}
	if (off < size)
		segs[nsegs - 1].len += (uint32_t)(size - off);

	/* 1. Decompress: never more than the bound. */
	rc = fmq_codec_decompress(ctx, codec, segs, nsegs, out, BOUND, &len);
	if (rc == 0 && len > BOUND)
		FAIL("decompressed past the bound");
	if (rc != 0 && rc != -EBADMSG && rc != -ENOSPC && rc != -EMSGSIZE)
		FAIL("unexpected decompress error");

	/* 2. Deep validation of what came out (or of the raw bytes). */
	memset(&b, 0, sizeof(b));
	b.magic = 2;
	b.count = mode >> 5;
	b.last_offset_delta = b.count - 1;
	b.producer_id = -1;
	b.base_sequence = -1;
	if (rc == 0) {
		one.p = out;
		one.len = (uint32_t)len;
		(void)fmq_codec_records_validate(&b, &one, 1, &o, &res);
	}
	(void)fmq_codec_records_validate(&b, segs, nsegs, &o, &res);
	if (res.kerr != 0 && res.msg == NULL)
		FAIL("validation error without a message");

	/* 3. As a whole batch: validate, recompress into a tight bound. */
	(void)fmq_codec_batch_validate(ctx, segs, nsegs, &o, &res);
	if (fmq_codec_batch_recompress(ctx, segs, nsegs, codec, NULL, rebuilt,
				       BOUND, &len, &res) == 0) {
		struct fmq_codec_seg r = { .p = rebuilt, .len = (uint32_t)len };

		if (len > BOUND)
			FAIL("rebuilt batch past the bound");
		/* What we build must validate. */
		if (fmq_codec_batch_validate(ctx, &r, 1, NULL, &res) != 0) {
			fprintf(stderr, "rebuilt: %d %s\n", res.kerr, res.msg);
			FAIL("rebuilt batch does not validate");
		}
	}
	return 0;
}
