/* SPDX-License-Identifier: Apache-2.0 */
/*
 * After fmq_codec_ctx_create() the data-path calls must not allocate.
 * This executable replaces malloc/calloc/realloc (ELF interposition: the
 * definitions here win over libc's for every library in the process) and
 * counts calls made while a codec call runs. Not built with -Dsanitize=true
 * (ASan owns malloc there).
 *
 * Known and documented exception: libsnappy's compressor allocates its
 * working memory per 32 KiB block (docs/compression.md); the test pins the
 * count so a change either way is noticed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_codec.h"
#include "codec_test_util.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static long allocs;
static int counting;

void *
malloc(size_t n)
{
	allocs += counting;
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t m)
{
	allocs += counting;
	return __libc_calloc(n, m);
}

void *
realloc(void *p, size_t n)
{
	allocs += counting;
	return __libc_realloc(p, n);
}

static int fails;

static void
expect(const char *what, const char *codec, long got, long want)
{
	printf("%-34s %-7s %3ld allocations%s\n", what, codec, got,
	       got == want ? "" : "  <-- FAIL");
	if (got != want)
		fails++;
}

int
main(void)
{
	static uint8_t recs[1100000], bt[1200000], c[2200000], d[1100000];
	static uint8_t out[2200000];
	struct fmq_codec_vopts o = { .from_client = true,
				     .ts_diff_max_ms = INT64_MAX };
	struct fmq_codec_ctx *ctx = fmq_codec_ctx_create(NULL);
	struct t_batch_opts bo = { .base_ts = 1, .producer_id = -1,
				   .producer_epoch = -1, .base_seq = -1 };
	struct fmq_codec_vresult r;
	struct fmq_codec_seg s;
	int count, codec, round;
	size_t n, cl, dl, on;

	if (ctx == NULL)
		return 1;
	n = t_json_records(recs, 1u << 20, &count, 5);
	bo.count = count;
	bo.last_offset_delta = count - 1;
	for (round = 0; round < 2; round++) {
		for (codec = FMQ_CODEC_GZIP; codec < FMQ_CODEC_COUNT;
		     codec++) {
			const char *nm = fmq_codec_name(codec);
			int rc;

			s.p = recs;
			s.len = (uint32_t)n;
			allocs = 0;
			counting = 1;
			rc = fmq_codec_compress(ctx, codec, &s, 1, c, sizeof(c),
						&cl);
			counting = 0;
			expect("compress 1 MiB", nm, allocs,
			       codec == FMQ_CODEC_SNAPPY ?
			       (long)((n + 32767) / 32768) : 0);
			if (rc != 0)
				return 1;

			s.p = c;
			s.len = (uint32_t)cl;
			allocs = 0;
			counting = 1;
			rc = fmq_codec_decompress(ctx, codec, &s, 1, d,
						  sizeof(d), &dl);
			counting = 0;
			expect("decompress", nm, allocs, 0);
			if (rc != 0 || dl != n)
				return 1;

			bo.attributes = (int16_t)codec;
			s.p = bt;
			s.len = (uint32_t)t_batch(bt, &bo, c, cl);
			allocs = 0;
			counting = 1;
			rc = fmq_codec_batch_validate(ctx, &s, 1, &o, &r);
			counting = 0;
			expect("batch_validate (deep)", nm, allocs, 0);
			if (rc != 0)
				return 1;

			allocs = 0;
			counting = 1;
			rc = fmq_codec_batch_recompress(ctx, &s, 1,
							FMQ_CODEC_NONE, &o,
							out, sizeof(out), &on,
							&r);
			counting = 0;
			expect("batch_recompress to none", nm, allocs, 0);
			if (rc != 0)
				return 1;
		}
	}
	fmq_codec_ctx_free(ctx);
	printf("%s\n", fails ? "FAIL" : "ok");
	return fails ? 1 : 0;
}
