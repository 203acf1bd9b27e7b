/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single-core throughput of lib/log/codec on 1 MiB record batches of
 * JSON-like records (values 100 B - 1 KiB, and ~100 B), beside the
 * ceilings measured in the same run: memcpy and ISA-L crc32_iscsi.
 *
 *   bench_codec [--time SECONDS] [--mib N]
 *
 * One JSON line per measurement on stdout; progress on stderr.
 * MB/s are 10^6 bytes of *uncompressed* data per second for both
 * directions (what the broker moves), ratio = uncompressed / compressed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <isa-l/crc.h>

#include "fmq_codec.h"
#include "codec_test_util.h"

static double run_time = 0.5;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Prevents the compiler from dropping work whose result is unused. */
static volatile uint64_t sink;

#define TIMED(iters_out, secs_out, body) do {				\
		double t0_ = now_s(), t_;				\
		uint64_t it_ = 0;					\
		do {							\
			body;						\
			it_++;						\
			t_ = now_s() - t0_;				\
		} while (t_ < run_time);				\
		(iters_out) = it_;					\
		(secs_out) = t_;					\
	} while (0)

static void
emit(const char *op, const char *codec, const char *records, size_t bytes,
     uint64_t iters, double secs, double ratio, int count)
{
	double mbs = (double)bytes * iters / secs / 1e6;

	printf("{\"bench\":\"codec\",\"op\":\"%s\",\"codec\":\"%s\","
	       "\"records\":\"%s\",\"batch_bytes\":%zu,\"mb_per_s\":%.1f",
	       op, codec, records, bytes, mbs);
	if (ratio > 0)
		printf(",\"ratio\":%.2f", ratio);
	if (count > 0)
		printf(",\"records_per_s\":%.0f",
		       (double)count * iters / secs);
	printf(",\"iters\":%" PRIu64 ",\"secs\":%.3f}\n", iters, secs);
	fflush(stdout);
	if (ratio > 0)
		fprintf(stderr, "  %-22s %-8s %-10s %9.1f MB/s  ratio %.2f\n",
			op, codec, records, mbs, ratio);
	else
		fprintf(stderr, "  %-22s %-8s %-10s %9.1f MB/s\n", op, codec,
			records, mbs);
}

struct cfg {
	const char *name;
	int codec;
	struct fmq_codec_limits lim;
};

int
main(int argc, char **argv)
{
	static const struct cfg cfgs[] = {
		{ "gzip-0", FMQ_CODEC_GZIP, { .gzip_level = 0 } },
		{ "gzip-1", FMQ_CODEC_GZIP, { .gzip_level = 1 } },
		{ "gzip-3", FMQ_CODEC_GZIP, { .gzip_level = 3 } },
		{ "snappy", FMQ_CODEC_SNAPPY, { 0 } },
		{ "lz4", FMQ_CODEC_LZ4, { .lz4_level = 0 } },
		{ "zstd-1", FMQ_CODEC_ZSTD, { .zstd_level = 1 } },
		{ "zstd-3", FMQ_CODEC_ZSTD, { .zstd_level = 3 } },
	};
	static const struct option opts[] = {
		{ "time", required_argument, NULL, 't' },
		{ "mib", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int vmin, vmax;
	} shapes[] = {
		{ "100B-1KiB", 100, 1000 },
		{ "100B", 100, 100 },
	};
	size_t mib = 1, cap, n, cl, dl;
	uint8_t *recs, *batch, *c, *d, *big, *big2;
	struct fmq_codec_ctx *ctx;
	unsigned int s, k;
	uint64_t iters;
	double secs;
	int count, opt;

	while ((opt = getopt_long(argc, argv, "t:m:", opts, NULL)) != -1) {
		if (opt == 't')
			run_time = atof(optarg);
		else if (opt == 'm')
			mib = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	cap = mib << 20;
	recs = malloc(cap + 4096);
	batch = malloc(cap + 8192);
	c = malloc(2 * cap + 65536);
	d = malloc(cap + 4096);
	big = malloc(64u << 20);
	big2 = malloc(64u << 20);
	ctx = fmq_codec_ctx_create(NULL);
	if (!recs || !batch || !c || !d || !big || !big2 || !ctx) {
		perror("bench_codec");
		return 1;
	}

	/* Ceilings, same run, same core. */
	fprintf(stderr, "ceilings:\n");
	memset(big, 1, 64u << 20);
	memset(big2, 2, 64u << 20);
	for (n = 0; n < cap; n++)
		recs[n] = (uint8_t)n;
	TIMED(iters, secs, { memcpy(d, recs, cap); sink += d[sink % cap]; });
	emit("memcpy", "-", "in-cache", cap, iters, secs, 0, 0);
	TIMED(iters, secs, { memcpy(big2, big, 64u << 20);
			     sink += big2[sink % 4096]; });
	emit("memcpy", "-", "64MiB", 64u << 20, iters, secs, 0, 0);
	TIMED(iters, secs, { sink += crc32_iscsi(recs, (int)cap, ~0u); });
	emit("crc32_iscsi", "-", "in-cache", cap, iters, secs, 0, 0);
	free(big);
	free(big2);

	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		struct t_batch_opts bo = {
			.base_ts = 1700000000000, .producer_id = -1,
			.producer_epoch = -1, .base_seq = -1,
		};
		struct fmq_codec_vresult res;
		struct fmq_codec_seg rs, bs;

		n = t_json_records_range(recs, cap, &count, 1, shapes[s].vmin,
					 shapes[s].vmax);
		bo.count = count;
		bo.last_offset_delta = count - 1;
		fprintf(stderr, "records %s: %d records, %zu bytes\n",
			shapes[s].name, count, n);
		rs.p = recs;
		rs.len = (uint32_t)n;

		/* Deep validation: record walk alone, then with CRC. */
		{
			struct fmq_codec_batch b = {
				.magic = 2, .count = count,
				.last_offset_delta = count - 1,
				.base_timestamp = bo.base_ts,
				.producer_id = -1, .base_sequence = -1,
			};
			struct fmq_codec_vopts o = {
				.from_client = true,
				.ts_diff_max_ms = INT64_MAX,
			};

			TIMED(iters, secs, {
				if (fmq_codec_records_validate(&b, &rs, 1, &o,
							       &res) != 0)
					return 1;
			});
			emit("validate_records", "none", shapes[s].name, n,
			     iters, secs, 0, count);
			bs.p = batch;
			bs.len = (uint32_t)t_batch(batch, &bo, recs, n);
			TIMED(iters, secs, {
				if (fmq_codec_batch_validate(ctx, &bs, 1, &o,
							     &res) != 0)
					return 1;
			});
			emit("validate_batch", "none", shapes[s].name, n,
			     iters, secs, 0, count);
		}

		for (k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
			struct fmq_codec_ctx *cx;
			struct fmq_codec_vopts o = {
				.from_client = true,
				.ts_diff_max_ms = INT64_MAX,
			};
			double ratio;

			cx = fmq_codec_ctx_create(&cfgs[k].lim);
			if (cx == NULL) {
				perror("ctx");
				return 1;
			}
			TIMED(iters, secs, {
				if (fmq_codec_compress(cx, cfgs[k].codec, &rs,
						       1, c, 2 * cap + 65536,
						       &cl) != 0)
					return 1;
			});
			ratio = (double)n / cl;
			emit("compress", cfgs[k].name, shapes[s].name, n,
			     iters, secs, ratio, 0);
			{
				struct fmq_codec_seg cs = { .p = c,
							    .len = (uint32_t)cl };

				TIMED(iters, secs, {
					if (fmq_codec_decompress(cx,
						cfgs[k].codec, &cs, 1, d,
						cap + 4096, &dl) != 0 ||
					    dl != n)
						return 1;
				});
			}
			emit("decompress", cfgs[k].name, shapes[s].name, n,
			     iters, secs, ratio, 0);
			/* Deep validation of a compressed batch: CRC,
			 * decompress, walk. */
			bo.attributes = (int16_t)cfgs[k].codec;
			bs.p = batch;
			bs.len = (uint32_t)t_batch(batch, &bo, c, cl);
			TIMED(iters, secs, {
				if (fmq_codec_batch_validate(cx, &bs, 1, &o,
							     &res) != 0)
					return 1;
			});
			emit("validate_batch", cfgs[k].name, shapes[s].name,
			     n, iters, secs, ratio, count);
			/* Recompress an uncompressed batch to this codec. */
			bo.attributes = 0;
			{
				uint8_t *src = malloc(n + 61);
				struct fmq_codec_seg ss = {
					.p = src,
					.len = (uint32_t)t_batch(src, &bo,
								 recs, n),
				};

				TIMED(iters, secs, {
					if (fmq_codec_batch_recompress(cx, &ss,
						1, cfgs[k].codec, &o, c,
						2 * cap + 65536, &cl,
						&res) != 0)
						return 1;
				});
				free(src);
			}
			emit("recompress_from_none", cfgs[k].name,
			     shapes[s].name, n, iters, secs, 0, count);
			fmq_codec_ctx_free(cx);
		}
	}
	fmq_codec_ctx_free(ctx);
	free(recs);
	free(batch);
	free(c);
	free(d);
	return sink == 42 ? 3 : 0;
}
