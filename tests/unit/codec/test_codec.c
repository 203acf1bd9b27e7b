/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log/codec: round trips for every codec, batches real clients
 * produced, framings made by the reference CLI tools, corrupt and truncated
 * input, decompression bombs, deep validation error codes, recompression.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "fmq_codec.h"
#include "codec_test_util.h"
#include "harness.h"

#include "fmq_kerr.h"

#define MIB (1u << 20)

static struct fmq_codec_ctx *ctx;
static const int codecs[] = {
	FMQ_CODEC_GZIP, FMQ_CODEC_SNAPPY, FMQ_CODEC_LZ4, FMQ_CODEC_ZSTD,
};
#define NCODECS ((int)(sizeof(codecs) / sizeof(codecs[0])))

/* Cut a buffer into segments of `piece` bytes (the last one shorter). */
static unsigned int
cut(const uint8_t *p, size_t n, size_t piece, struct fmq_codec_seg *segs,
    unsigned int max)
{
	unsigned int k = 0;

	while (n > 0 && k < max) {
		size_t l = n < piece ? n : piece;

		segs[k].p = p;
		segs[k].len = (uint32_t)l;
		p += l;
		n -= l;
		k++;
	}
	return k;
}

static int
compress1(int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
	  size_t *len)
{
	struct fmq_codec_seg s = { .p = in, .len = (uint32_t)n };

	return fmq_codec_compress(ctx, codec, &s, n > 0 ? 1 : 0, out, cap,
				  len);
}

static int
decompress1(int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
	    size_t *len)
{
	struct fmq_codec_seg s = { .p = in, .len = (uint32_t)n };

	return fmq_codec_decompress(ctx, codec, &s, 1, out, cap, len);
}

static void
test_crc32c(void)
{
	static const uint8_t check[] = "123456789";
	struct fmq_codec_seg segs[9];
	uint8_t buf[4096];
	unsigned int i;

	/* The standard check value (RFC 3720 / iSCSI). */
	segs[0].p = check;
	segs[0].len = 9;
	CU_ASSERT_EQUAL(fmq_codec_crc32c(segs, 1, 0), 0xE3069283u);
	CU_ASSERT_EQUAL(t_crc32c(check, 9), 0xE3069283u);
	/* Chained over single bytes, and with a skip. */
	for (i = 0; i < 9; i++) {
		segs[i].p = check + i;
		segs[i].len = 1;
	}
	CU_ASSERT_EQUAL(fmq_codec_crc32c(segs, 9, 0), 0xE3069283u);
	CU_ASSERT_EQUAL(fmq_codec_crc32c(segs, 9, 3), t_crc32c(check + 3, 6));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	CU_ASSERT_EQUAL(fmq_codec_crc32c(segs, cut(buf, sizeof(buf), 777, segs,
						    9), 21),
			t_crc32c(buf + 21, sizeof(buf) - 21));
}

/* Round trip n bytes through codec with several input/output cuttings. */
static void
round_trip(int codec, const uint8_t *in, size_t n, const char *what)
{
	size_t bound = fmq_codec_compress_bound(codec, n), clen, dlen;
	uint8_t *c = malloc(bound), *d = malloc(n + 64), *c2 = malloc(bound);
	static struct fmq_codec_seg segs[65536];
	unsigned int k;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rc = compress1(codec, in, n, c, bound, &clen);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "compress %s %s: %d\n", fmq_codec_name(codec),
			what, rc);
		goto out;
	}
	CU_ASSERT(clen <= bound);

	/* Whole, exact bound. */
	rc = decompress1(codec, c, clen, d, n, &dlen);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(dlen, n);
	CU_ASSERT(rc != 0 || memcmp(d, in, n) == 0);
	if (rc != 0)
		fprintf(stderr, "decompress %s %s: %d\n",
			fmq_codec_name(codec), what, rc);
	/* One byte short of the bound: refused, not truncated. */
	if (n > 0) {
		rc = decompress1(codec, c, clen, d, n - 1, &dlen);
		CU_ASSERT_EQUAL(rc, -ENOSPC);
	}
	/* Compressed input in small pieces. */
	k = cut(c, clen, clen > 7 * 60000 ? clen / 60000 + 1 : 7, segs, 65536);
	rc = fmq_codec_decompress(ctx, codec, segs, k, d, n + 64, &dlen);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(rc != 0 || (dlen == n && memcmp(d, in, n) == 0));
	if (rc != 0)
		fprintf(stderr, "decompress %s %s in %u pieces: %d\n",
			fmq_codec_name(codec), what, k, rc);

	/* Uncompressed input in pieces that straddle every block size. */
	k = cut(in, n, 1000, segs, 65536);
	rc = fmq_codec_compress(ctx, codec, segs, k, c2, bound, &clen);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "compress %s %s in %u pieces: %d\n",
			fmq_codec_name(codec), what, k, rc);
	if (rc == 0) {
		rc = decompress1(codec, c2, clen, d, n, &dlen);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(rc != 0 ||
			  (dlen == n && memcmp(d, in, n) == 0));
	}
	/* Compression output one byte short of what it needs. */
	if (compress1(codec, in, n, c, bound, &clen) == 0) {
		size_t l2;

		CU_ASSERT_EQUAL(compress1(codec, in, n, c2, clen - 1, &l2),
				-ENOSPC);
	}
out:
	free(c);
	free(c2);
	free(d);
}

static void
test_round_trips(void)
{
	uint8_t *json = malloc(MIB + 2048), *rnd = malloc(MIB);
	int count, i, k;
	size_t jn;
	uint32_t s = 42;

	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	jn = t_json_records(json, MIB, &count, 1);
	for (i = 0; i < (int)MIB; i++) {
		s = s * 1664525u + 1013904223u;
		rnd[i] = (uint8_t)(s >> 24);
	}
	for (k = 0; k < NCODECS; k++) {
		int c = codecs[k];

		round_trip(c, json, 0, "0 B");
		round_trip(c, json, 1, "1 B");
		round_trip(c, json, 100, "100 B");
		round_trip(c, json, 4000, "4000 B");
		round_trip(c, json, jn, "1 MiB JSON records");
		round_trip(c, rnd, MIB, "1 MiB random");
	}
	free(json);
	free(rnd);
}

/* Framings made by the reference tools decode to records.raw. */
static void
test_cli_framings(void)
{
	static const struct {
		const char *file;
		int codec;
	} v[] = {
		{ "records.gz", FMQ_CODEC_GZIP },
		{ "records.gz.fname", FMQ_CODEC_GZIP },
		{ "records.gz.2members", FMQ_CODEC_GZIP },
		{ "records.lz4.64k", FMQ_CODEC_LZ4 },
		{ "records.lz4.4m.crc", FMQ_CODEC_LZ4 },
		{ "records.lz4.linked.bx", FMQ_CODEC_LZ4 },
		{ "records.lz4.csize", FMQ_CODEC_LZ4 },
		{ "records.zst", FMQ_CODEC_ZSTD },
		{ "records.zst.nocheck", FMQ_CODEC_ZSTD },
		{ "records.zst.2frames", FMQ_CODEC_ZSTD },
		{ "records.xerial", FMQ_CODEC_SNAPPY },
	};
	size_t rn, n, dl;
	uint8_t *raw = t_load("records.raw", &rn), *d;
	unsigned int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	d = malloc(rn);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t *c = t_load(v[i].file, &n);
		int rc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		rc = decompress1(v[i].codec, c, n, d, rn, &dl);
		CU_ASSERT_EQUAL(rc, 0);
		if (v[i].codec == FMQ_CODEC_SNAPPY) {
			/* Wraps librdkafka's own payload (other
			 * timestamps): check the records themselves. */
			CU_ASSERT(rc != 0 || t_check_spec(d, dl, 1000) == -1);
		} else {
			CU_ASSERT(rc != 0 ||
				  (dl == rn && memcmp(d, raw, rn) == 0));
		}
		if (rc != 0)
			fprintf(stderr, "%s: %d\n", v[i].file, rc);
		/* Flipping a byte of a checksummed frame is caught. */
		if (strstr(v[i].file, "crc") || strcmp(v[i].file,
						       "records.zst") == 0 ||
		    strstr(v[i].file, ".gz")) {
			c[n - 2] ^= 0x40;
			CU_ASSERT_EQUAL(decompress1(v[i].codec, c, n, d, rn,
						    &dl), -EBADMSG);
		}
		free(c);
	}
	free(raw);
	free(d);
}

/* Batches produced by librdkafka and kafka-python validate and decode. */
static void
test_client_batches(void)
{
	static const char *const files[] = {
		"rdkafka_none.batch", "rdkafka_gzip.batch",
		"rdkafka_snappy.batch", "rdkafka_lz4.batch",
		"rdkafka_zstd.batch", "kpython_none.batch",
		"kpython_gzip.batch",
	};
	struct fmq_codec_vopts o = {
		.from_client = true, .ts_diff_max_ms = INT64_MAX,
	};
	static struct fmq_codec_seg segs[200000];
	unsigned int i;
	uint8_t *d = malloc(4 * MIB);

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct fmq_codec_vresult res;
		struct fmq_codec_batch b;
		struct fmq_codec_seg whole;
		size_t n, dl;
		uint8_t *bt = t_load(files[i], &n);
		int16_t k;
		int codec, rc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(bt);
		whole.p = bt;
		whole.len = (uint32_t)n;
		CU_ASSERT_EQUAL(fmq_codec_batch_parse(&whole, 1, &b), 0);
		CU_ASSERT_EQUAL(b.count, 1000);
		CU_ASSERT_EQUAL(b.last_offset_delta, 999);
		k = fmq_codec_batch_validate(ctx, &whole, 1, &o, &res);
		CU_ASSERT_EQUAL(k, FMQ_KERR_NONE);
		if (k != FMQ_KERR_NONE)
			fprintf(stderr, "%s: %d %s (record %d)\n", files[i], k,
				res.msg, res.record_index);
		CU_ASSERT_EQUAL(res.records, 1000);
		CU_ASSERT(res.offsets_in_place);
		/* The same, in 1-byte segments (every field straddles). */
		k = fmq_codec_batch_validate(ctx, segs, cut(bt, n, 1, segs,
							     200000), &o, &res);
		CU_ASSERT_EQUAL(k, FMQ_KERR_NONE);
		CU_ASSERT_EQUAL(res.records, 1000);
		/* Decoded records match the spec field by field. */
		codec = b.attributes & 7;
		if (codec == FMQ_CODEC_NONE) {
			CU_ASSERT_EQUAL(t_check_spec(bt + 61, n - 61, 1000),
					-1);
		} else {
			struct fmq_codec_seg rs = { .p = bt + 61,
						    .len = (uint32_t)(n - 61) };

			rc = fmq_codec_decompress(ctx, codec, &rs, 1, d,
						  4 * MIB, &dl);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(t_check_spec(d, dl, 1000), -1);
		}
		/* A flipped bit anywhere under the CRC is CORRUPT_MESSAGE. */
		bt[n / 2] ^= 0x10;
		CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &whole, 1, &o,
							 &res),
				FMQ_KERR_CORRUPT_MESSAGE);
		CU_ASSERT_EQUAL(fmq_codec_batch_check_crc(ctx, &whole, 1),
				FMQ_KERR_CORRUPT_MESSAGE);
		free(bt);
	}
	free(d);
}

/* Raw snappy (librdkafka) and xerial (Java) are told apart. */
static void
test_snappy_framing(void)
{
	size_t n, rn, dl, cl;
	uint8_t *bt = t_load("rdkafka_snappy.batch", &n);
	uint8_t *raw = t_load("records.raw", &rn);
	uint8_t *d = malloc(rn + 16), *c = malloc(2 * rn + 1024);
	size_t off, blocks = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	/* librdkafka's payload is raw snappy: no xerial magic. */
	CU_ASSERT(bt[61] != 0x82);
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, bt + 61, n - 61, d, rn,
				    &dl), 0);
	CU_ASSERT_EQUAL(t_check_spec(d, dl, 1000), -1);
	/* Ours is xerial: magic, version 1/1, 32 KiB blocks. */
	CU_ASSERT_EQUAL(compress1(FMQ_CODEC_SNAPPY, raw, rn, c, 2 * rn + 1024,
				  &cl), 0);
	CU_ASSERT_EQUAL(memcmp(c, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16), 0);
	for (off = 16; off + 4 <= cl; blocks++)
		off += 4 + t_get_be32(c + off);
	CU_ASSERT_EQUAL(off, cl);
	CU_ASSERT_EQUAL(blocks, (rn + 32767) / 32768);
	/* Two xerial streams back to back read as one (snappy-java does). */
	memcpy(c + cl, c, cl);
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, c, 2 * cl, d, rn + 16,
				    &dl), -ENOSPC);
	{
		uint8_t *d2 = malloc(2 * rn);

		CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, c, 2 * cl, d2,
					    2 * rn, &dl), 0);
		CU_ASSERT(dl == 2 * rn && memcmp(d2 + rn, raw, rn) == 0);
		free(d2);
	}
	/* A block length past the end, and a header with no blocks. */
	t_be32(c + 16, 0x7fffffff);
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, c, cl, d, rn, &dl),
			-EBADMSG);
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, c, 16, d, rn, &dl), 0);
	CU_ASSERT_EQUAL(dl, 0);
	/* Magic but too short for a header: read as raw, which fails. */
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, c, 12, d, rn, &dl),
			-EBADMSG);
	free(bt);
	free(raw);
	free(d);
	free(c);
}

static bool
xerial_boundary(const uint8_t *c, size_t n, size_t at)
{
	size_t off = 16;

	while (off < at && off + 4 <= n)
		off += 4 + t_get_be32(c + off);
	return off == at;
}

/* Every prefix is an error; flipped bytes never crash or overrun. */
static void
test_truncated_and_corrupt(void)
{
	uint8_t *in = malloc(256 * 1024), *c = malloc(512 * 1024);
	uint8_t *d = malloc(300 * 1024);
	int count, k;
	size_t n = t_json_records(in, 200 * 1024, &count, 7);

	for (k = 0; k < NCODECS; k++) {
		int codec = codecs[k];
		size_t cl, dl, cut_at, step;
		uint32_t s = 99;
		int i;

		CU_ASSERT_EQUAL_FATAL(compress1(codec, in, n, c, 512 * 1024,
						&cl), 0);
		step = cl > 4000 ? cl / 2000 : 1;
		for (cut_at = 0; cut_at < cl; cut_at += step) {
			int rc = decompress1(codec, c, cut_at, d, 300 * 1024,
					     &dl);

			/* xerial has no end mark: a cut between blocks is
			 * a valid shorter stream (the record count check
			 * catches it at batch level). */
			if (rc == 0 && codec == FMQ_CODEC_SNAPPY &&
			    xerial_boundary(c, cl, cut_at) && dl < n)
				continue;
			CU_ASSERT(rc == -EBADMSG);
			if (rc != -EBADMSG) {
				fprintf(stderr, "%s: prefix %zu of %zu: %d\n",
					fmq_codec_name(codec), cut_at, cl, rc);
				break;
			}
		}
		/* Trailing garbage after the frame. */
		memcpy(c + cl, "\x13\x37", 2);
		CU_ASSERT_NOT_EQUAL(decompress1(codec, c, cl + 2, d,
						300 * 1024, &dl), 0);
		for (i = 0; i < 3000; i++) {
			size_t pos;
			uint8_t save;
			int rc;

			s = s * 1664525u + 1013904223u;
			pos = s % cl;
			save = c[pos];
			c[pos] ^= (uint8_t)(1u << (s >> 29));
			dl = 0;
			rc = decompress1(codec, c, cl, d, 300 * 1024, &dl);
			CU_ASSERT(rc == 0 || rc == -EBADMSG || rc == -ENOSPC);
			CU_ASSERT(dl <= 300 * 1024);
			c[pos] = save;
		}
	}
	free(in);
	free(c);
	free(d);
}

/* Tiny inputs that expand past the bound stop at the bound. */
static void
test_bombs(void)
{
	size_t zn = 64 * MIB, cl, dl;
	uint8_t *z = calloc(1, zn), *c = malloc(4 * MIB), *d = malloc(MIB);
	uint8_t sn[16];
	int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(z);
	for (k = 0; k < NCODECS; k++) {
		int codec = codecs[k];

		CU_ASSERT_EQUAL_FATAL(compress1(codec, z, zn, c, 4 * MIB, &cl),
				      0);
		CU_ASSERT(cl < 4 * MIB);
		CU_ASSERT_EQUAL(decompress1(codec, c, cl, d, MIB, &dl),
				-ENOSPC);
	}
	/* Raw snappy claiming 4 GiB: refused from its length prefix. */
	sn[0] = 0xff;
	sn[1] = 0xff;
	sn[2] = 0xff;
	sn[3] = 0xff;
	sn[4] = 0x0f;
	sn[5] = 0;
	CU_ASSERT_EQUAL(decompress1(FMQ_CODEC_SNAPPY, sn, 6, d, MIB, &dl),
			-ENOSPC);

	/* As a batch: MESSAGE_TOO_LARGE with the context's bound. */
	{
		struct fmq_codec_limits lim = { .max_output = MIB };
		struct fmq_codec_ctx *small = fmq_codec_ctx_create(&lim);
		struct t_batch_opts bo = {
			.attributes = FMQ_CODEC_ZSTD, .last_offset_delta = 0,
			.producer_id = -1, .producer_epoch = -1,
			.base_seq = -1, .count = 1,
		};
		uint8_t *bt = malloc(4 * MIB);
		struct fmq_codec_seg s;
		struct fmq_codec_vresult res;

		CU_ASSERT_PTR_NOT_NULL_FATAL(small);
		CU_ASSERT_EQUAL(compress1(FMQ_CODEC_ZSTD, z, 2 * MIB, c,
					  4 * MIB, &cl), 0);
		s.p = bt;
		s.len = (uint32_t)t_batch(bt, &bo, c, cl);
		CU_ASSERT_EQUAL(fmq_codec_batch_validate(small, &s, 1, NULL,
							 &res),
				FMQ_KERR_MESSAGE_TOO_LARGE);
		CU_ASSERT_EQUAL(fmq_codec_ctx_stats(small)->dec_too_big[
					FMQ_CODEC_ZSTD], 1);
		fmq_codec_ctx_free(small);
		free(bt);
	}
	free(z);
	free(c);
	free(d);
}

/* ------------------------------------------------------------------------
 * Deep validation tables.
 * ---------------------------------------------------------------------- */

struct vcase {
	const char *name;
	int16_t want;
	int32_t want_index;   /* -2 = don't care */
};

static int16_t
validate_recs(const uint8_t *recs, size_t n, int32_t count, int16_t attr,
	      const struct fmq_codec_vopts *o, struct fmq_codec_vresult *res)
{
	struct fmq_codec_batch b = {
		.magic = 2, .attributes = attr, .count = count,
		.last_offset_delta = count - 1, .base_timestamp = 1000,
		.producer_id = -1, .base_sequence = -1,
	};
	struct fmq_codec_seg s = { .p = recs, .len = (uint32_t)n };

	return fmq_codec_records_validate(&b, &s, 1, o, res);
}

static size_t
three_records(uint8_t *p, int32_t d0, int32_t d1, int32_t d2)
{
	static const struct t_hdr h[2] = {
		{ "k", (const uint8_t *)"v", 1 }, { "nullv", NULL, 0 },
	};
	size_t n = 0;

	n += t_record(p + n, 0, d0, "a", 1, "{\"x\":1}", 7, NULL, 0);
	n += t_record(p + n, 5, d1, NULL, 0, "{\"x\":2}", 7, h, 2);
	n += t_record(p + n, 9, d2, "c", 1, NULL, 0, NULL, 0);
	return n;
}

static void
check(const struct vcase *vc, int16_t got, const struct fmq_codec_vresult *r)
{
	CU_ASSERT_EQUAL(got, vc->want);
	if (got != vc->want)
		fprintf(stderr, "case '%s': got %d (%s), want %d\n", vc->name,
			got, r->msg ? r->msg : "-", vc->want);
	if (vc->want_index != -2)
		CU_ASSERT_EQUAL(r->record_index, vc->want_index);
	if (got != FMQ_KERR_NONE)
		CU_ASSERT_PTR_NOT_NULL(r->msg);
}

static void
test_deep_validation(void)
{
	uint8_t p[4096], q[4096];
	struct fmq_codec_vresult r;
	struct fmq_codec_vopts o = { .ts_diff_max_ms = INT64_MAX };
	size_t n, m;
	int16_t k;

	n = three_records(p, 0, 1, 2);
	{
		struct vcase vc = { "valid", FMQ_KERR_NONE, -1 };

		k = validate_recs(p, n, 3, 0, &o, &r);
		check(&vc, k, &r);
		CU_ASSERT_EQUAL(r.records, 3);
		CU_ASSERT(r.offsets_in_place);
		CU_ASSERT_EQUAL(r.max_timestamp, 1009);
	}
	{
		/* The walk ends by skipping a header value that spans the
		 * last segments (found by the fuzzer: a hang). */
		static const struct t_hdr hv = {
			"h", (const uint8_t *)"0123456789abcdef", 16,
		};
		struct fmq_codec_batch b = { .magic = 2, .count = 1 };
		struct fmq_codec_seg segs[256];
		struct vcase vc = { "skip to the end over segments", FMQ_KERR_NONE,
				    -1 };
		unsigned int i;

		m = t_record(q, 0, 0, "k", 1, "v", 1, &hv, 1);
		for (i = 0; i < m; i++) {
			segs[i].p = q + i;
			segs[i].len = 1;
		}
		check(&vc, fmq_codec_records_validate(&b, segs, (unsigned)m,
						      &o, &r), &r);
		segs[m - 1].len = 0;   /* and one byte short of it */
		vc.want = FMQ_KERR_INVALID_RECORD;
		vc.want_index = 0;
		check(&vc, fmq_codec_records_validate(&b, segs, (unsigned)m,
						      &o, &r), &r);
	}
	{
		struct vcase vc = { "count above records", FMQ_KERR_INVALID_RECORD, 3 };

		check(&vc, validate_recs(p, n, 4, 0, &o, &r), &r);
	}
	{
		struct vcase vc = { "count below records", FMQ_KERR_INVALID_RECORD, -1 };

		check(&vc, validate_recs(p, n, 2, 0, &o, &r), &r);
	}
	{
		struct vcase vc = { "negative count", FMQ_KERR_INVALID_RECORD, -2 };

		check(&vc, validate_recs(p, n, -1, 0, &o, &r), &r);
	}
	{
		/* Kafka rebuilds rather than rejects (old clients). */
		struct vcase vc = { "offset deltas out of order", FMQ_KERR_NONE, -1 };

		m = three_records(q, 0, 2, 1);
		check(&vc, validate_recs(q, m, 3, 0, &o, &r), &r);
		CU_ASSERT_FALSE(r.offsets_in_place);
	}
	{
		struct vcase vc = { "trailing byte", FMQ_KERR_INVALID_RECORD, -1 };

		memcpy(q, p, n);
		q[n] = 0;
		check(&vc, validate_recs(q, n + 1, 3, 0, &o, &r), &r);
	}
	{
		size_t cut_at;

		/* Every truncation point fails, none crashes. */
		for (cut_at = 0; cut_at < n; cut_at++) {
			struct vcase vc = { "truncated", FMQ_KERR_INVALID_RECORD, -2 };

			check(&vc, validate_recs(p, cut_at, 3, 0, &o, &r), &r);
		}
	}
	{
		struct vcase vc = { "length one too big", FMQ_KERR_INVALID_RECORD, 0 };

		memcpy(q, p, n);
		q[0]++;
		check(&vc, validate_recs(q, n, 3, 0, &o, &r), &r);
	}
	{
		struct vcase vc = { "length one too small", FMQ_KERR_INVALID_RECORD, 0 };

		memcpy(q, p, n);
		q[0]--;
		check(&vc, validate_recs(q, n, 3, 0, &o, &r), &r);
	}
	{
		struct vcase vc = { "negative record length", FMQ_KERR_INVALID_RECORD,
				    0 };

		memcpy(q, p, n);
		q[0] = 0x01;   /* zigzag -1 */
		check(&vc, validate_recs(q, n, 3, 0, &o, &r), &r);
	}
	{
		/* Record 0: len, attr, ts 0, off 0, key len 1 at byte 4. */
		struct vcase vc = { "key length -2", FMQ_KERR_INVALID_RECORD, 0 };

		memcpy(q, p, n);
		CU_ASSERT_EQUAL(q[4], 0x02);
		q[4] = 0x03;   /* zigzag -2 */
		check(&vc, validate_recs(q, n, 3, 0, &o, &r), &r);
	}
	{
		struct vcase vc = { "key longer than the record",
				    FMQ_KERR_INVALID_RECORD, 0 };

		memcpy(q, p, n);
		q[4] = 0x40;   /* 32 */
		check(&vc, validate_recs(q, n, 3, 0, &o, &r), &r);
	}
	{
		uint8_t h[1] = { 'v' };
		struct t_hdr hh = { "", h, 1 };
		struct vcase vc = { "empty header key is fine", FMQ_KERR_NONE, -1 };

		m = t_record(q, 0, 0, "a", 1, "b", 1, &hh, 1);
		check(&vc, validate_recs(q, m, 1, 0, &o, &r), &r);
	}
	{
		/* Hand-made: header count -1. */
		uint8_t b[16];
		size_t l = 0;
		struct vcase vc = { "negative header count", FMQ_KERR_INVALID_RECORD,
				    0 };

		b[l++] = 0;              /* length, patched */
		b[l++] = 0;              /* attributes */
		b[l++] = 0;              /* ts delta */
		b[l++] = 0;              /* offset delta */
		b[l++] = 1;              /* key null */
		b[l++] = 1;              /* value null */
		b[l++] = 1;              /* headers -1 */
		b[0] = (uint8_t)((l - 1) << 1);
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		b[6] = 0x7e;             /* 63 headers in 0 bytes */
		vc.name = "header count larger than the record";
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		b[6] = 2;                /* one header */
		b[7] = 1;                /* key -1 */
		b[8] = 1;                /* value -1 */
		l = 9;
		b[0] = (uint8_t)((l - 1) << 1);
		vc.name = "null header key";
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		b[7] = 0;                /* key "" */
		vc.name = "null header value is fine";
		vc.want = FMQ_KERR_NONE;
		vc.want_index = -1;
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		b[8] = 3;                /* value -2 */
		vc.name = "header value -2";
		vc.want = FMQ_KERR_INVALID_RECORD;
		vc.want_index = 0;
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);
	}
	{
		/* Varints too long: offsetDelta in 6 bytes, ts in 11. */
		uint8_t b[32];
		size_t l = 0;
		int i;
		struct vcase vc = { "6-byte varint", FMQ_KERR_INVALID_RECORD, 0 };

		b[l++] = 0;
		b[l++] = 0;
		b[l++] = 0;
		for (i = 0; i < 5; i++)
			b[l++] = 0x80;
		b[l++] = 0;
		b[l++] = 1;
		b[l++] = 1;
		b[l++] = 0;
		b[0] = (uint8_t)((l - 1) << 1);
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		l = 0;
		b[l++] = 0;
		b[l++] = 0;
		for (i = 0; i < 10; i++)
			b[l++] = 0x80;
		b[l++] = 0;
		b[l++] = 0;
		b[l++] = 1;
		b[l++] = 1;
		b[l++] = 0;
		b[0] = (uint8_t)((l - 1) << 1);
		vc.name = "11-byte varlong";
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);

		/* A 5-byte varint is legal (Java accepts it). */
		l = 0;
		b[l++] = 0;
		b[l++] = 0;
		b[l++] = 0;
		b[l++] = 0x80;
		b[l++] = 0x80;
		b[l++] = 0x80;
		b[l++] = 0x80;
		b[l++] = 0x00;
		b[l++] = 1;
		b[l++] = 1;
		b[l++] = 0;
		b[0] = (uint8_t)((l - 1) << 1);
		vc.name = "5-byte varint";
		vc.want = FMQ_KERR_NONE;
		vc.want_index = -1;
		check(&vc, validate_recs(b, l, 1, 0, &o, &r), &r);
	}
	{
		/* Huge record length claim: no read past the end. */
		uint8_t b[8] = { 0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0 };
		struct vcase vc = { "absurd record length", FMQ_KERR_INVALID_RECORD,
				    0 };

		check(&vc, validate_recs(b, 8, 1, 0, &o, &r), &r);
		/* A count of 2^31-1 over 3 records ends at the data. */
		vc.name = "absurd count";
		vc.want_index = 3;
		check(&vc, validate_recs(p, n, 0x7fffffff, 0, &o, &r), &r);
	}
	{
		struct fmq_codec_vopts oc = o;
		struct vcase vc = { "compacted topic, null key",
				    FMQ_KERR_INVALID_RECORD, 1 };

		oc.compacted = true;
		check(&vc, validate_recs(p, n, 3, 0, &oc, &r), &r);
	}
	{
		struct fmq_codec_vopts ot = o;
		struct vcase vc = { "timestamp out of range",
				    FMQ_KERR_INVALID_TIMESTAMP, 2 };

		/* Records at 1000, 1005, 1009; now 1004, max diff 4. */
		ot.now_ms = 1004;
		ot.ts_diff_max_ms = 4;
		check(&vc, validate_recs(p, n, 3, 0, &ot, &r), &r);
		ot.ts_diff_max_ms = 5;
		vc.name = "timestamps in range";
		vc.want = FMQ_KERR_NONE;
		vc.want_index = -1;
		check(&vc, validate_recs(p, n, 3, 0, &ot, &r), &r);
		/* A structural error after a timestamp error wins (Java
		 * throws from the iterator before collecting). */
		ot.ts_diff_max_ms = 1;
		memcpy(q, p, n);
		q[n] = 0;
		vc.name = "structure beats timestamp";
		vc.want = FMQ_KERR_INVALID_RECORD;
		vc.want_index = -1;
		check(&vc, validate_recs(q, n + 1, 3, 0, &ot, &r), &r);
		/* LogAppendTime set by a producer. */
		ot = o;
		ot.from_client = true;
		vc.name = "producer set LogAppendTime";
		vc.want = FMQ_KERR_INVALID_TIMESTAMP;
		vc.want_index = 0;
		check(&vc, validate_recs(p, n, 3, FMQ_CODEC_ATTR_LOG_APPEND_TIME,
					 &ot, &r), &r);
	}
}

/* Batch-level checks through fmq_codec_batch_validate. */
static void
test_batch_checks(void)
{
	uint8_t recs[1024], bt[2048], c[2048];
	struct fmq_codec_vopts o = {
		.from_client = true, .ts_diff_max_ms = INT64_MAX,
	};
	struct t_batch_opts bo = {
		.attributes = 0, .last_offset_delta = 2, .base_ts = 1000,
		.producer_id = -1, .producer_epoch = -1, .base_seq = -1,
		.count = 3,
	};
	struct fmq_codec_vresult r;
	struct fmq_codec_seg s = { .p = bt };
	size_t rn = three_records(recs, 0, 1, 2), cl;
	struct t_batch_opts b2;

	s.len = (uint32_t)t_batch(bt, &bo, recs, rn);
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r), FMQ_KERR_NONE);

	/* Framing. */
	s.len = 60;
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_CORRUPT_MESSAGE);
	s.len = (uint32_t)(61 + rn - 1);
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_CORRUPT_MESSAGE);
	s.len = (uint32_t)(61 + rn);
	bt[16] = 1;
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_CORRUPT_MESSAGE);
	bt[16] = 2;
	/* baseOffset and partitionLeaderEpoch are outside the CRC. */
	bt[3] ^= 0xff;
	bt[13] ^= 0xff;
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r), FMQ_KERR_NONE);
	bt[30] ^= 1;
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_CORRUPT_MESSAGE);

	/* Client batch checks (LogValidator.validateBatch). */
#define BATCH_CASE(field, value, want) do {				\
		b2 = bo;						\
		b2.field = value;					\
		s.len = (uint32_t)t_batch(bt, &b2, recs, rn);		\
		CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r), \
				want);					\
	} while (0)
	BATCH_CASE(count, 0, FMQ_KERR_INVALID_RECORD);
	BATCH_CASE(last_offset_delta, 3, FMQ_KERR_INVALID_RECORD);
	BATCH_CASE(last_offset_delta, -1, FMQ_KERR_INVALID_RECORD);
	BATCH_CASE(attributes, FMQ_CODEC_ATTR_CONTROL, FMQ_KERR_INVALID_RECORD);
	BATCH_CASE(producer_id, 7, FMQ_KERR_INVALID_RECORD);   /* seq -1 */
	BATCH_CASE(attributes, 6, FMQ_KERR_UNSUPPORTED_COMPRESSION_TYPE);
	BATCH_CASE(attributes, FMQ_CODEC_ATTR_TRANSACTIONAL, FMQ_KERR_NONE);
	/* Not from a client: count 0 and control batches pass. */
	o.from_client = false;
	BATCH_CASE(attributes, FMQ_CODEC_ATTR_CONTROL, FMQ_KERR_NONE);
	o.from_client = true;
#undef BATCH_CASE

	/* Compressed garbage (CORRUPT_MESSAGE: it does not decode), and a
	 * good frame with a bad records part (INVALID_RECORD). */
	b2 = bo;
	b2.attributes = FMQ_CODEC_LZ4;
	memset(c, 0x5a, 100);
	s.len = (uint32_t)t_batch(bt, &b2, c, 100);
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_CORRUPT_MESSAGE);
	CU_ASSERT_EQUAL(compress1(FMQ_CODEC_LZ4, recs, rn - 1, c, sizeof(c),
				  &cl), 0);
	s.len = (uint32_t)t_batch(bt, &b2, c, cl);
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r),
			FMQ_KERR_INVALID_RECORD);
	CU_ASSERT_EQUAL(r.record_index, 2);
}

/* ------------------------------------------------------------------------
 * Recompression.
 * ---------------------------------------------------------------------- */

static void
check_rebuilt(const uint8_t *src, size_t sn, const uint8_t *out, size_t on,
	      int codec, int count)
{
	struct fmq_codec_seg s = { .p = out, .len = (uint32_t)on };
	struct fmq_codec_vopts o = {
		.from_client = true, .ts_diff_max_ms = INT64_MAX,
	};
	struct fmq_codec_vresult r;
	uint8_t *d = malloc(4 * MIB);
	size_t dl;

	(void)sn;
	/* Header: same except attributes' codec bits, length, CRC. */
	CU_ASSERT_EQUAL(memcmp(out, src, 8), 0);
	CU_ASSERT_EQUAL(t_get_be32(out + 8), on - 12);
	CU_ASSERT_EQUAL(memcmp(out + 12, src + 12, 5), 0);
	CU_ASSERT_EQUAL(out[21], src[21]);
	CU_ASSERT_EQUAL(out[22] & ~7, src[22] & ~7);
	CU_ASSERT_EQUAL(out[22] & 7, codec);
	CU_ASSERT_EQUAL(memcmp(out + 23, src + 23, 61 - 23), 0);
	/* CRC against the independent bitwise implementation. */
	CU_ASSERT_EQUAL(t_get_be32(out + 17), t_crc32c(out + 21, on - 21));
	CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1, &o, &r), FMQ_KERR_NONE);
	CU_ASSERT_EQUAL(r.records, count);
	CU_ASSERT(r.offsets_in_place);
	if (codec == FMQ_CODEC_NONE) {
		CU_ASSERT_EQUAL(t_check_spec(out + 61, on - 61, count), -1);
	} else {
		struct fmq_codec_seg rs = { .p = out + 61,
					    .len = (uint32_t)(on - 61) };

		CU_ASSERT_EQUAL(fmq_codec_decompress(ctx, codec, &rs, 1, d,
						     4 * MIB, &dl), 0);
		CU_ASSERT_EQUAL(t_check_spec(d, dl, count), -1);
	}
	free(d);
}

static void
test_recompress(void)
{
	static const char *const files[] = {
		"rdkafka_none.batch", "rdkafka_gzip.batch",
		"rdkafka_snappy.batch", "rdkafka_lz4.batch",
		"rdkafka_zstd.batch", "kpython_gzip.batch",
	};
	static struct fmq_codec_seg segs[4096];
	size_t cap = 2 * MIB, on;
	uint8_t *out = malloc(cap);
	unsigned int i;
	int t;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n;
		uint8_t *bt = t_load(files[i], &n);

		CU_ASSERT_PTR_NOT_NULL_FATAL(bt);
		for (t = FMQ_CODEC_NONE; t < FMQ_CODEC_COUNT; t++) {
			struct fmq_codec_vresult r;
			int16_t k;

			k = fmq_codec_batch_recompress(ctx, segs,
						       cut(bt, n, 1500, segs,
							   4096),
						       t, NULL, out, cap, &on,
						       &r);
			CU_ASSERT_EQUAL(k, FMQ_KERR_NONE);
			if (k != FMQ_KERR_NONE) {
				fprintf(stderr, "%s -> %s: %d %s\n", files[i],
					fmq_codec_name(t), k, r.msg);
				continue;
			}
			check_rebuilt(bt, n, out, on, t, 1000);
			/* The bound holds: one byte less is refused. */
			{
				size_t on2;
				int16_t k2 = fmq_codec_batch_recompress(
					ctx, segs, cut(bt, n, 1500, segs, 4096),
					t, NULL, out, on - 1, &on2, &r);

				CU_ASSERT_EQUAL(k2, FMQ_KERR_MESSAGE_TOO_LARGE);
				if (k2 != FMQ_KERR_MESSAGE_TOO_LARGE)
					fprintf(stderr, "%s -> %s in %zu: %d\n",
						files[i], fmq_codec_name(t),
						on - 1, k2);
			}
		}
		free(bt);
	}

	/* Offset deltas 0, 0, 0 are rewritten to 0, 1, 2. */
	{
		uint8_t recs[1024], bt[2048];
		struct t_batch_opts bo = {
			.last_offset_delta = 2, .base_ts = 1000,
			.producer_id = -1, .producer_epoch = -1,
			.base_seq = -1, .count = 3,
		};
		struct fmq_codec_seg s = { .p = bt };
		struct fmq_codec_vresult r;
		size_t rn = three_records(recs, 0, 0, 0);
		int src;

		for (src = FMQ_CODEC_NONE; src < FMQ_CODEC_COUNT; src++) {
			uint8_t c[2048];
			size_t cl = rn;

			if (src == FMQ_CODEC_NONE)
				memcpy(c, recs, rn);
			else
				CU_ASSERT_EQUAL(compress1(src, recs, rn, c,
							  sizeof(c), &cl), 0);
			bo.attributes = (int16_t)src;
			s.len = (uint32_t)t_batch(bt, &bo, c, cl);
			CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1,
								 NULL, &r),
					FMQ_KERR_NONE);
			CU_ASSERT_FALSE(r.offsets_in_place);
			CU_ASSERT_EQUAL(fmq_codec_batch_recompress(ctx, &s, 1,
					FMQ_CODEC_NONE, NULL, out, cap, &on,
					&r), FMQ_KERR_NONE);
			s.p = out;
			s.len = (uint32_t)on;
			CU_ASSERT_EQUAL(fmq_codec_batch_validate(ctx, &s, 1,
								 NULL, &r),
					FMQ_KERR_NONE);
			CU_ASSERT(r.offsets_in_place);
			CU_ASSERT_EQUAL(r.records, 3);
			s.p = bt;
		}
	}
	/* A bad source batch is reported, not rebuilt. */
	{
		size_t n;
		uint8_t *bt = t_load("rdkafka_lz4.batch", &n);
		struct fmq_codec_seg w = { .p = bt, .len = (uint32_t)n };

		bt[100] ^= 1;
		CU_ASSERT_EQUAL(fmq_codec_batch_recompress(ctx, &w, 1,
				FMQ_CODEC_GZIP, NULL, out, cap, &on, NULL),
				FMQ_KERR_CORRUPT_MESSAGE);
		free(bt);
	}
	free(out);
}

static void
test_metrics(void)
{
	struct fmq_codec_ctx *two[2] = { ctx, fmq_codec_ctx_create(NULL) };
	struct fmq_codec_metrics_set set = { .ctx = two, .n = 2 };
	struct fmq_metrics *reg = fmq_metrics_create();
	const struct fmq_codec_stats *st = fmq_codec_ctx_stats(ctx);
	char *txt, want[128];
	size_t len, cl, dl;
	uint8_t c[256], d[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(two[1]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
	/* One more gzip decompression on the second context. */
	{
		struct fmq_codec_seg s = { .p = (const uint8_t *)"hello",
					   .len = 5 };

		CU_ASSERT_EQUAL(fmq_codec_compress(two[1], FMQ_CODEC_GZIP, &s,
						   1, c, sizeof(c), &cl), 0);
		s.p = c;
		s.len = (uint32_t)cl;
		CU_ASSERT_EQUAL(fmq_codec_decompress(two[1], FMQ_CODEC_GZIP,
						     &s, 1, d, sizeof(d), &dl),
				0);
	}
	/* One CRC error on the first context, whatever ran before: a bare
	 * 61-byte batch header (magic 2, no records) with a zero CRC. */
	{
		uint8_t hb[61] = { 0 };
		struct fmq_codec_seg hs = { .p = hb, .len = sizeof(hb) };

		hb[11] = sizeof(hb) - 12;	/* batchLength */
		hb[16] = 2;			/* magic */
		CU_ASSERT_EQUAL(fmq_codec_batch_check_crc(ctx, &hs, 1),
				FMQ_KERR_CORRUPT_MESSAGE);
	}
	CU_ASSERT_EQUAL(fmq_metrics_register(reg, fmq_codec_metrics, &set), 0);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
	snprintf(want, sizeof(want),
		 "fluxmq_codec_decompress_total{codec=\"gzip\"} %llu\n",
		 (unsigned long long)st->dec_calls[FMQ_CODEC_GZIP] + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(txt, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(txt,
		"# TYPE fluxmq_codec_crc_errors_total counter\n"));
	snprintf(want, sizeof(want), "fluxmq_codec_crc_errors_total %llu\n",
		 (unsigned long long)st->crc_errors);
	CU_ASSERT_PTR_NOT_NULL(strstr(txt, want));
	CU_ASSERT(st->crc_errors > 0);
	free(txt);
	fmq_metrics_free(reg);
	fmq_codec_ctx_free(two[1]);
}

static void
test_ctx_args(void)
{
	struct fmq_codec_limits bad = { .gzip_level = 4 };
	uint8_t out[8];
	size_t n;

	errno = 0;
	CU_ASSERT_PTR_NULL(fmq_codec_ctx_create(&bad));
	CU_ASSERT_EQUAL(errno, EINVAL);
	bad.gzip_level = 0;
	bad.zstd_level = 20;
	CU_ASSERT_PTR_NULL(fmq_codec_ctx_create(&bad));
	CU_ASSERT_EQUAL(fmq_codec_decompress(ctx, FMQ_CODEC_NONE, NULL, 0, out,
					     8, &n), -EINVAL);
	CU_ASSERT_EQUAL(fmq_codec_compress(ctx, 7, NULL, 0, out, 8, &n),
			-EINVAL);
	/* Other levels: LZ4 HC and gzip level 3 round trip too. */
	{
		struct fmq_codec_limits hc = { .lz4_level = 9,
					       .gzip_level = 3,
					       .zstd_level = 19 };
		struct fmq_codec_ctx *c2 = fmq_codec_ctx_create(&hc);
		static uint8_t in[200000], c[300000], d[200000];
		int count, k;
		size_t jn = t_json_records(in, sizeof(in) - 2000, &count, 3);

		CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
		for (k = 0; k < NCODECS; k++) {
			struct fmq_codec_seg sg = { .p = in,
						    .len = (uint32_t)jn };
			size_t cl, dl;

			CU_ASSERT_EQUAL(fmq_codec_compress(c2, codecs[k], &sg,
							   1, c, sizeof(c),
							   &cl), 0);
			sg.p = c;
			sg.len = (uint32_t)cl;
			CU_ASSERT_EQUAL(fmq_codec_decompress(ctx, codecs[k],
							     &sg, 1, d,
							     sizeof(d), &dl),
					0);
			CU_ASSERT(dl == jn && memcmp(d, in, jn) == 0);
		}
		fmq_codec_ctx_free(c2);
	}
	CU_ASSERT_STRING_EQUAL(fmq_codec_name(FMQ_CODEC_LZ4), "lz4");
	CU_ASSERT_STRING_EQUAL(fmq_codec_name(9), "unknown");
	CU_ASSERT_EQUAL(fmq_codec_ctx_limits(ctx)->max_output, 32u << 20);
	CU_ASSERT_EQUAL(fmq_codec_ctx_limits(ctx)->max_input, 8u << 20);
}

int
main(int argc, char **argv)
{
	struct fmq_codec_limits lim = { .gzip_level = 1, .zstd_level = 3 };
	CU_pSuite s;
	int fails;

	ctx = fmq_codec_ctx_create(&lim);
	if (ctx == NULL) {
		perror("fmq_codec_ctx_create");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("codec", NULL, NULL);
	CU_add_test(s, "CRC-32C check value, chained segments", test_crc32c);
	fmq_test_slow(CU_add_test(s, "context arguments, other levels",
				  test_ctx_args));
	fmq_test_slow(CU_add_test(s, "round trips 0 B .. 1 MiB, exact bounds",
				  test_round_trips));
	CU_add_test(s, "framings from gzip/lz4/zstd CLIs", test_cli_framings);
	CU_add_test(s, "librdkafka and kafka-python batches", test_client_batches);
	CU_add_test(s, "snappy: raw vs xerial", test_snappy_framing);
	fmq_test_slow(CU_add_test(s, "truncated and corrupt input",
				  test_truncated_and_corrupt));
	fmq_test_slow(CU_add_test(s, "decompression bombs",
				  test_bombs));
	CU_add_test(s, "deep validation: Kafka codes", test_deep_validation);
	CU_add_test(s, "batch checks: Kafka codes", test_batch_checks);
	CU_add_test(s, "recompression keeps records, CRC", test_recompress);
	fmq_test_slow(CU_add_test(s, "metrics summed over contexts",
				  test_metrics));
	fails = fmq_test_run(argc, argv);
	fmq_codec_ctx_free(ctx);
	return fails;
}
