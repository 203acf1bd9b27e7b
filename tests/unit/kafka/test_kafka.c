/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/kafka: primitives, varints, bounds, arena, writer,
 * framing, request headers, the version table, ApiVersions (KIP-511),
 * generated codec round trips for every API/version, malformed input and
 * byte vectors captured from real clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "fmq_kafka.h"
#include "kafka_test_rand.h"
#include "kafka_test_vectors.h"
#include "harness.h"

#define BIG (1u << 20)

static uint8_t arena_buf[4 << 20];
static struct fmq_kafka_arena arena;

/* Split buf into segments at the given cut points (sorted, in range). */
static uint32_t
split_at(const uint8_t *buf, uint32_t len, const uint32_t *cuts, uint32_t ncut,
	 struct fmq_kafka_seg *segs)
{
	uint32_t prev = 0, n = 0;

	for (uint32_t i = 0; i < ncut; i++) {
		segs[n].p = buf + prev;
		segs[n].len = cuts[i] - prev;
		prev = cuts[i];
		n++;
	}
	segs[n].p = buf + prev;
	segs[n].len = len - prev;
	return n + 1;
}

/* One byte per segment, with an empty segment after each. */
static uint32_t
split_bytes(const uint8_t *buf, uint32_t len, struct fmq_kafka_seg *segs)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < len; i++) {
		segs[n].p = buf + i;
		segs[n++].len = 1;
		segs[n].p = buf + i;
		segs[n++].len = 0;
	}
	return n;
}

/* Linearize writer pieces into out; returns the length. */
static size_t
flatten(const struct fmq_kafka_piece *pc, int n, uint8_t *out)
{
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + off, pc[i].p, pc[i].len);
		off += pc[i].len;
	}
	return off;
}

/* ---------------------------------------------------------------------- */

static void
test_err_table(void)
{
	CU_ASSERT_EQUAL(FMQ_KERR_UNSUPPORTED_VERSION, 35);
	CU_ASSERT_EQUAL(FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION, 3);
	CU_ASSERT_EQUAL(FMQ_KERR_MEMBER_ID_REQUIRED, 79);
	CU_ASSERT_EQUAL(FMQ_KERR_FENCED_INSTANCE_ID, 82);
	CU_ASSERT_EQUAL(FMQ_KERR_UNKNOWN_PRODUCER_ID, 59);
	CU_ASSERT_EQUAL(FMQ_KERR_UNKNOWN_SERVER_ERROR, -1);
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(35), "UNSUPPORTED_VERSION");
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(-1), "UNKNOWN_SERVER_ERROR");
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(0), "NONE");
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(106),
			       "FETCH_SESSION_TOPIC_ID_ERROR");
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(9999), "UNKNOWN_CODE");
	CU_ASSERT_STRING_EQUAL(fmq_kafka_err_name(-5), "UNKNOWN_CODE");
	CU_ASSERT(fmq_kafka_err_retriable(FMQ_KERR_NOT_COORDINATOR));
	CU_ASSERT(fmq_kafka_err_retriable(FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION));
	CU_ASSERT(!fmq_kafka_err_retriable(FMQ_KERR_MESSAGE_TOO_LARGE));
	CU_ASSERT(!fmq_kafka_err_retriable(FMQ_KERR_INVALID_PRODUCER_EPOCH));
	CU_ASSERT(strstr(fmq_kafka_err_message(FMQ_KERR_CORRUPT_MESSAGE),
			 "CRC") != NULL);
}

/* The table of /work/shared/kafka-apis.md, written out independently. */
static const struct {
	int16_t key, min, max, flex;
} expect_apis[] = {
	{ 0, 0, 11, 9 }, { 1, 4, 17, 12 }, { 2, 1, 9, 6 }, { 3, 0, 12, 9 },
	{ 8, 0, 9, 8 }, { 9, 0, 9, 6 }, { 10, 0, 4, 3 }, { 11, 0, 9, 6 },
	{ 12, 0, 4, 4 }, { 13, 0, 5, 4 }, { 14, 0, 5, 4 }, { 15, 0, 5, 5 },
	{ 16, 0, 5, 3 }, { 17, 0, 1, FMQ_KAFKA_NOT_FLEXIBLE },
	{ 18, 0, 3, 3 }, { 19, 0, 7, 5 }, { 20, 0, 6, 4 }, { 21, 0, 2, 2 },
	{ 22, 0, 4, 2 }, { 23, 0, 4, 4 }, { 24, 0, 3, 3 }, { 25, 0, 3, 3 },
	{ 26, 0, 3, 3 }, { 27, 0, 1, 1 },
	{ 28, 0, 3, 3 }, { 29, 0, 3, 2 }, { 30, 0, 3, 2 }, { 31, 0, 3, 2 },
	{ 32, 0, 4, 4 }, { 33, 0, 2, 2 }, { 35, 0, 4, 2 }, { 36, 0, 2, 2 },
	{ 37, 0, 3, 2 }, { 42, 0, 2, 2 },
	{ 43, 0, 2, 2 }, { 44, 0, 1, 1 }, { 45, 0, 0, 0 }, { 46, 0, 0, 0 },
	{ 47, 0, 0, FMQ_KAFKA_NOT_FLEXIBLE }, { 48, 0, 1, 1 },
	{ 49, 0, 1, 1 }, { 50, 0, 0, 0 }, { 51, 0, 0, 0 }, { 60, 0, 0, 0 },
	{ 61, 0, 0, 0 }, { 65, 0, 0, 0 }, { 66, 0, 1, 0 },
	{ 68, 0, 1, 0 }, { 69, 0, 0, 0 },
};
#define N_EXPECT (sizeof(expect_apis) / sizeof(expect_apis[0]))

static void
test_version_table(void)
{
	size_t n;
	const struct fmq_kafka_api_info *t = fmq_kafka_api_table(&n);

	CU_ASSERT_EQUAL_FATAL(n, N_EXPECT);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(t[i].api_key, expect_apis[i].key);
		CU_ASSERT_EQUAL(t[i].min_version, expect_apis[i].min);
		CU_ASSERT_EQUAL(t[i].max_version, expect_apis[i].max);
		CU_ASSERT_EQUAL(t[i].flexible_min, expect_apis[i].flex);
		CU_ASSERT_PTR_EQUAL(fmq_kafka_api_find(t[i].api_key), &t[i]);
	}
	CU_ASSERT_PTR_NULL(fmq_kafka_api_find(34));
	CU_ASSERT_PTR_NULL(fmq_kafka_api_find(-1));
	CU_ASSERT(fmq_kafka_api_supported(0, 0));
	CU_ASSERT(!fmq_kafka_api_supported(1, 3));
	CU_ASSERT(!fmq_kafka_api_supported(18, 4));
	CU_ASSERT_EQUAL(fmq_kafka_req_hdr_version(18, 3), 2);
	CU_ASSERT_EQUAL(fmq_kafka_req_hdr_version(18, 2), 1);
	CU_ASSERT_EQUAL(fmq_kafka_resp_hdr_version(18, 3), 0);
	CU_ASSERT_EQUAL(fmq_kafka_resp_hdr_version(3, 9), 1);
	CU_ASSERT_EQUAL(fmq_kafka_resp_hdr_version(3, 8), 0);
	CU_ASSERT_EQUAL(fmq_kafka_resp_hdr_version(60, 0), 1);
	CU_ASSERT_EQUAL(fmq_kafka_req_hdr_version(47, 0), 1);
}

/* ---------------------------------------------------------------------- */

static void
test_prim_roundtrip(void)
{
	static uint8_t buf[512], flat[512];
	struct fmq_kafka_piece pc[8];
	struct fmq_kafka_writer w;
	struct fmq_kafka_seg segs[1100];
	struct fmq_kafka_uuid u, u2;
	int n;
	size_t len;

	for (int i = 0; i < 16; i++)
		u.b[i] = (uint8_t)(i * 17);
	fmq_kafka_wr_init(&w, buf, sizeof(buf), pc, 8);
	fmq_kafka_wr_bool(&w, true);
	fmq_kafka_wr_i8(&w, -5);
	fmq_kafka_wr_i16(&w, -12345);
	fmq_kafka_wr_u16(&w, 65000);
	fmq_kafka_wr_i32(&w, INT32_MIN);
	fmq_kafka_wr_u32(&w, 0xdeadbeef);
	fmq_kafka_wr_i64(&w, INT64_MIN + 7);
	fmq_kafka_wr_f64(&w, -2.5);
	fmq_kafka_wr_uuid(&w, &u);
	fmq_kafka_wr_uvarint(&w, 0xffffffffu);
	fmq_kafka_wr_varint(&w, INT32_MIN);
	fmq_kafka_wr_varlong(&w, INT64_MAX);
	fmq_kafka_wr_uvarlong(&w, UINT64_MAX);
	fmq_kafka_wr_string(&w, false, false, FMQ_KAFKA_STR_LIT("hello"));
	fmq_kafka_wr_string(&w, true, true, FMQ_KAFKA_STR_NULL);
	fmq_kafka_wr_string(&w, true, false, FMQ_KAFKA_STR_LIT("compact"));
	fmq_kafka_wr_string(&w, false, true, FMQ_KAFKA_STR_NULL);
	fmq_kafka_wr_bytes(&w, false, false,
			   (struct fmq_kafka_bytes){ (const uint8_t *)"\1\2\3", 3 });
	fmq_kafka_wr_bytes(&w, true, true, (struct fmq_kafka_bytes){ NULL, -1 });
	fmq_kafka_wr_array_len(&w, true, true, -1);
	fmq_kafka_wr_array_len(&w, false, false, 0);
	n = fmq_kafka_wr_finish(&w);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	len = flatten(pc, n, flat);
	CU_ASSERT_EQUAL(len, w.total);

	/* Read back with every 2-way split and with 1-byte segments. */
	for (uint32_t cut = 0; cut <= len + 1; cut++) {
		struct fmq_kafka_reader r;
		struct fmq_kafka_str s;
		struct fmq_kafka_bytes b;
		uint32_t nseg, c = cut, uv;
		bool bo;
		int8_t i8;
		int16_t i16;
		uint16_t u16;
		int32_t i32, n32;
		uint32_t u32;
		int64_t i64;
		uint64_t u64;
		double d;

		if (cut <= len)
			nseg = split_at(flat, (uint32_t)len, &c, 1, segs);
		else
			nseg = split_bytes(flat, (uint32_t)len, segs);
		fmq_kafka_arena_reset(&arena);
		CU_ASSERT_EQUAL_FATAL(fmq_kafka_rd_init(&r, segs, nseg, 0,
							(uint32_t)len), 0);
		CU_ASSERT(fmq_kafka_rd_bool(&r, &bo) == 0 && bo);
		CU_ASSERT(fmq_kafka_rd_i8(&r, &i8) == 0 && i8 == -5);
		CU_ASSERT(fmq_kafka_rd_i16(&r, &i16) == 0 && i16 == -12345);
		CU_ASSERT(fmq_kafka_rd_u16(&r, &u16) == 0 && u16 == 65000);
		CU_ASSERT(fmq_kafka_rd_i32(&r, &i32) == 0 && i32 == INT32_MIN);
		CU_ASSERT(fmq_kafka_rd_u32(&r, &u32) == 0 && u32 == 0xdeadbeef);
		CU_ASSERT(fmq_kafka_rd_i64(&r, &i64) == 0 &&
			  i64 == INT64_MIN + 7);
		CU_ASSERT(fmq_kafka_rd_f64(&r, &d) == 0 && d == -2.5);
		CU_ASSERT(fmq_kafka_rd_uuid(&r, &u2) == 0 &&
			  memcmp(&u, &u2, 16) == 0);
		CU_ASSERT(fmq_kafka_rd_uvarint(&r, &uv) == 0 &&
			  uv == 0xffffffffu);
		CU_ASSERT(fmq_kafka_rd_varint(&r, &i32) == 0 && i32 == INT32_MIN);
		CU_ASSERT(fmq_kafka_rd_varlong(&r, &i64) == 0 &&
			  i64 == INT64_MAX);
		CU_ASSERT(fmq_kafka_rd_uvarlong(&r, &u64) == 0 &&
			  u64 == UINT64_MAX);
		CU_ASSERT(fmq_kafka_rd_string(&r, false, false, &arena, &s) == 0 &&
			  fmq_kafka_str_eq(s, "hello"));
		CU_ASSERT(fmq_kafka_rd_string(&r, true, true, &arena, &s) == 0 &&
			  s.len == -1 && s.p == NULL);
		CU_ASSERT(fmq_kafka_rd_string(&r, true, false, &arena, &s) == 0 &&
			  fmq_kafka_str_eq(s, "compact"));
		CU_ASSERT(fmq_kafka_rd_string(&r, false, true, &arena, &s) == 0 &&
			  s.len == -1);
		CU_ASSERT(fmq_kafka_rd_bytes(&r, false, false, &arena, &b) == 0 &&
			  b.len == 3 && memcmp(b.p, "\1\2\3", 3) == 0);
		CU_ASSERT(fmq_kafka_rd_bytes(&r, true, true, &arena, &b) == 0 &&
			  b.len == -1);
		CU_ASSERT(fmq_kafka_rd_array_len(&r, true, true, 1, &n32) == 0 &&
			  n32 == -1);
		CU_ASSERT(fmq_kafka_rd_array_len(&r, false, false, 1, &n32) == 0 &&
			  n32 == 0);
		CU_ASSERT_EQUAL(fmq_kafka_rd_left(&r), 0);
		CU_ASSERT_EQUAL(fmq_kafka_rd_i8(&r, &i8), -EBADMSG);
	}
}

/* Exact encodings (Kafka's ByteUtils test values) and decode limits. */
static void
test_varint_edges(void)
{
	static const struct {
		int64_t v;
		bool is_long;
		uint8_t bytes[10];
		uint32_t n;
	} cases[] = {
		{ 0, false, { 0x00 }, 1 },
		{ -1, false, { 0x01 }, 1 },
		{ 1, false, { 0x02 }, 1 },
		{ 63, false, { 0x7e }, 1 },
		{ -64, false, { 0x7f }, 1 },
		{ 64, false, { 0x80, 0x01 }, 2 },
		{ 300, false, { 0xd8, 0x04 }, 2 },
		{ INT32_MAX, false, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
		{ INT32_MIN, false, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
		{ INT64_MAX, true, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				     0xff, 0xff, 0x01 }, 10 },
		{ INT64_MIN, true, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				     0xff, 0xff, 0x01 }, 10 },
	};
	static const struct {
		uint8_t bytes[12];
		uint32_t n;
		bool is_long;
	} bad[] = {
		{ { 0x80 }, 1, false },                          /* truncated */
		{ { 0xff, 0xff, 0xff, 0xff, 0x10 }, 5, false },   /* > 32 bits */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6, false }, /* 6 bytes */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0x02 }, 10, true },                           /* > 64 bits */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0x81, 0x00 }, 11, true },                     /* 11 bytes */
		{ { 0 }, 0, false },                              /* empty */
	};
	uint8_t buf[16];
	struct fmq_kafka_piece pc[2];
	struct fmq_kafka_writer w;
	struct fmq_kafka_seg seg;
	struct fmq_kafka_reader r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got64;
		int32_t got32;

		fmq_kafka_wr_init(&w, buf, sizeof(buf), pc, 2);
		if (cases[i].is_long)
			fmq_kafka_wr_varlong(&w, cases[i].v);
		else
			fmq_kafka_wr_varint(&w, (int32_t)cases[i].v);
		CU_ASSERT_EQUAL(fmq_kafka_wr_finish(&w), 1);
		CU_ASSERT_EQUAL(pc[0].len, cases[i].n);
		CU_ASSERT(memcmp(buf, cases[i].bytes, cases[i].n) == 0);
		seg.p = cases[i].bytes;
		seg.len = cases[i].n;
		fmq_kafka_rd_init(&r, &seg, 1, 0, cases[i].n);
		if (cases[i].is_long) {
			CU_ASSERT(fmq_kafka_rd_varlong(&r, &got64) == 0 &&
				  got64 == cases[i].v);
		} else {
			CU_ASSERT(fmq_kafka_rd_varint(&r, &got32) == 0 &&
				  got32 == cases[i].v);
		}
		CU_ASSERT_EQUAL(fmq_kafka_rd_left(&r), 0);
		/* Varlong reads every varint encoding too. */
		fmq_kafka_rd_init(&r, &seg, 1, 0, cases[i].n);
		CU_ASSERT(fmq_kafka_rd_varlong(&r, &got64) == 0 &&
			  got64 == cases[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t u32;
		uint64_t u64;

		seg.p = bad[i].bytes;
		seg.len = bad[i].n;
		fmq_kafka_rd_init(&r, &seg, 1, 0, bad[i].n);
		if (bad[i].is_long) {
			CU_ASSERT_EQUAL(fmq_kafka_rd_uvarlong(&r, &u64), -EBADMSG);
		} else {
			CU_ASSERT_EQUAL(fmq_kafka_rd_uvarint(&r, &u32), -EBADMSG);
		}
	}
	CU_ASSERT_EQUAL(fmq_kafka_uvarint_len(0), 1);
	CU_ASSERT_EQUAL(fmq_kafka_uvarint_len(127), 1);
	CU_ASSERT_EQUAL(fmq_kafka_uvarint_len(128), 2);
	CU_ASSERT_EQUAL(fmq_kafka_uvarint_len(UINT32_MAX), 5);
	CU_ASSERT_EQUAL(fmq_kafka_uvarlong_len(UINT64_MAX), 10);
}

static int
rd_on(const uint8_t *b, uint32_t n, struct fmq_kafka_reader *r,
      struct fmq_kafka_seg *seg)
{
	seg->p = b;
	seg->len = n;
	return fmq_kafka_rd_init(r, seg, 1, 0, n);
}

static void
test_bounds(void)
{
	struct fmq_kafka_seg seg;
	struct fmq_kafka_reader r;
	struct fmq_kafka_str s;
	struct fmq_kafka_bytes b;
	struct fmq_kafka_records rec;
	int32_t n;
	size_t used;

	fmq_kafka_arena_reset(&arena);
	/* string longer than what is left */
	rd_on((const uint8_t *)"\x00\x05" "abc", 5, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, false, false, &arena, &s),
			-EBADMSG);
	/* string -2 and null into non-nullable */
	rd_on((const uint8_t *)"\xff\xfe", 2, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, false, true, &arena, &s),
			-EBADMSG);
	rd_on((const uint8_t *)"\xff\xff", 2, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, false, false, &arena, &s),
			-EBADMSG);
	rd_on((const uint8_t *)"\x00", 1, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, true, false, &arena, &s),
			-EBADMSG);
	/* compact string above 32767 bytes is rejected even if present */
	{
		static uint8_t big[40000];

		big[0] = 0x81;  /* 32769 - 1 = 32768 */
		big[1] = 0x80;
		big[2] = 0x02;
		rd_on(big, sizeof(big), &r, &seg);
		CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, true, false, &arena, &s),
				-EBADMSG);
		big[0] = 0x80;  /* 32767 + 1: exactly the limit */
		rd_on(big, sizeof(big), &r, &seg);
		CU_ASSERT(fmq_kafka_rd_string(&r, true, false, &arena, &s) == 0 &&
			  s.len == 32767);
	}
	/* bytes: negative length, too long */
	rd_on((const uint8_t *)"\xff\xff\xff\xfe", 4, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_bytes(&r, false, true, &arena, &b),
			-EBADMSG);
	rd_on((const uint8_t *)"\x7f\xff\xff\xff" "ab", 6, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_bytes(&r, false, true, &arena, &b),
			-EBADMSG);
	rd_on((const uint8_t *)"\xff\xff\xff\xff", 4, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_records(&r, false, false, &arena, &rec),
			-EBADMSG);
	rd_on((const uint8_t *)"\x00\x00\x00\x09" "abc", 7, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_records(&r, false, true, &arena, &rec),
			-EBADMSG);
	/* absurd array counts: rejected before allocation */
	used = arena.used;
	rd_on((const uint8_t *)"\x7f\xff\xff\xff" "abcd", 8, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_array_len(&r, false, false, 1, &n),
			-EBADMSG);
	rd_on((const uint8_t *)"\x00\x00\x00\x03" "abcdefgh", 12, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_array_len(&r, false, false, 4, &n),
			-EBADMSG);  /* 3 x 4 > 8 */
	rd_on((const uint8_t *)"\x00\x00\x00\x02" "abcdefgh", 12, &r, &seg);
	CU_ASSERT(fmq_kafka_rd_array_len(&r, false, false, 4, &n) == 0 &&
		  n == 2);
	rd_on((const uint8_t *)"\xff\xff\xff\xff\x0f", 5, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_array_len(&r, true, true, 1, &n),
			-EBADMSG);
	rd_on((const uint8_t *)"\xff\xff\xff\xfe", 4, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_array_len(&r, false, true, 1, &n),
			-EBADMSG);
	rd_on((const uint8_t *)"\xff\xff\xff\xff", 4, &r, &seg);
	CU_ASSERT_EQUAL(fmq_kafka_rd_array_len(&r, false, false, 1, &n),
			-EBADMSG);
	CU_ASSERT_EQUAL(arena.used, used);
	/* reader init beyond the segments */
	seg.p = (const uint8_t *)"abc";
	seg.len = 3;
	CU_ASSERT_EQUAL(fmq_kafka_rd_init(&r, &seg, 1, 2, 2), -EINVAL);
	CU_ASSERT_EQUAL(fmq_kafka_rd_init(&r, &seg, 1, 4, 0), -EINVAL);
	CU_ASSERT_EQUAL(fmq_kafka_rd_init(&r, &seg, 1, 3, 0), 0);
	/* the limit, not the segment, bounds reads */
	fmq_kafka_rd_init(&r, &seg, 1, 0, 1);
	CU_ASSERT_EQUAL(fmq_kafka_rd_i16(&r, (int16_t *)&n), -EBADMSG);
	CU_ASSERT_EQUAL(fmq_kafka_rd_skip(&r, 2), -EBADMSG);
}

static void
test_arena(void)
{
	uint8_t small[64];
	struct fmq_kafka_arena a;
	void *p, *q;

	fmq_kafka_arena_init(&a, small, sizeof(small));
	p = fmq_kafka_arena_alloc(&a, 3);
	q = fmq_kafka_arena_alloc(&a, 8);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL((uint8_t *)q - (uint8_t *)p, 8);
	CU_ASSERT_PTR_NULL(fmq_kafka_arena_alloc(&a, 49));
	CU_ASSERT_PTR_NOT_NULL(fmq_kafka_arena_alloc(&a, 48));
	CU_ASSERT_PTR_NULL(fmq_kafka_arena_alloc(&a, 1));
	CU_ASSERT_PTR_NULL(fmq_kafka_arena_alloc(&a, SIZE_MAX));
	CU_ASSERT_EQUAL(a.peak, 64);
	fmq_kafka_arena_reset(&a);
	CU_ASSERT_PTR_EQUAL(fmq_kafka_arena_alloc(&a, 1), small);
}

/* A straddling string is copied into the arena; a contiguous one is not. */
static void
test_straddle_copy(void)
{
	static const uint8_t msg[] = "\x00\x06" "abcdef";
	struct fmq_kafka_seg segs[2];
	struct fmq_kafka_reader r;
	struct fmq_kafka_str s;
	uint32_t cut = 5;
	uint8_t tiny[4];
	struct fmq_kafka_arena a;

	split_at(msg, 8, &cut, 1, segs);
	fmq_kafka_arena_reset(&arena);
	fmq_kafka_rd_init(&r, segs, 2, 0, 8);
	CU_ASSERT(fmq_kafka_rd_string(&r, false, false, &arena, &s) == 0);
	CU_ASSERT(fmq_kafka_str_eq(s, "abcdef"));
	CU_ASSERT((const uint8_t *)s.p < msg || (const uint8_t *)s.p >= msg + 8);
	cut = 2;
	split_at(msg, 8, &cut, 1, segs);
	fmq_kafka_rd_init(&r, segs, 2, 0, 8);
	CU_ASSERT(fmq_kafka_rd_string(&r, false, false, &arena, &s) == 0);
	CU_ASSERT_PTR_EQUAL(s.p, msg + 2);
	/* straddling with an arena too small -> -ENOMEM */
	cut = 5;
	split_at(msg, 8, &cut, 1, segs);
	fmq_kafka_arena_init(&a, tiny, sizeof(tiny));
	fmq_kafka_rd_init(&r, segs, 2, 0, 8);
	CU_ASSERT_EQUAL(fmq_kafka_rd_string(&r, false, false, &a, &s), -ENOMEM);
}

/* ---------------------------------------------------------------------- */

struct refill_ctx {
	uint8_t store[1 << 16];
	size_t used;
	size_t chunk;
	int calls;
	int fail_after;
};

static int
refill_cb(void *arg, uint8_t **buf, size_t *cap)
{
	struct refill_ctx *c = arg;

	if (c->fail_after >= 0 && c->calls >= c->fail_after)
		return -ENOBUFS;
	if (c->used + c->chunk > sizeof(c->store))
		return -ENOBUFS;
	c->calls++;
	*buf = c->store + c->used;
	*cap = c->chunk;
	c->used += c->chunk;
	return 0;
}

static void
test_writer(void)
{
	static struct refill_ctx rc;
	static uint8_t data[3000], flat[8192];
	uint8_t first[7];
	struct fmq_kafka_piece pc[64];
	struct fmq_kafka_iov iov[3];
	struct fmq_kafka_records rec;
	struct fmq_kafka_writer w;
	struct fmq_kafka_sizer s;
	int n, nref = 0;
	size_t len;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	iov[0] = (struct fmq_kafka_iov){ data, 1000, (void *)1 };
	iov[1] = (struct fmq_kafka_iov){ data + 1000, 10, (void *)2 };
	iov[2] = (struct fmq_kafka_iov){ data + 1010, 1990, (void *)3 };
	fmq_kafka_records_set(&rec, iov, 3);
	CU_ASSERT_EQUAL(rec.len, 3000);

	/* Small buffers from a refill callback, records by reference. */
	memset(&rc, 0, sizeof(rc));
	rc.chunk = 5;
	rc.fail_after = -1;
	fmq_kafka_wr_init(&w, first, sizeof(first), pc, 64);
	fmq_kafka_wr_set_refill(&w, refill_cb, &rc);
	fmq_kafka_wr_set_ref_min(&w, 100);
	fmq_kafka_wr_i64(&w, 0x0102030405060708LL);
	fmq_kafka_wr_records(&w, false, true, &rec);
	fmq_kafka_wr_i32(&w, 0x0a0b0c0d);
	n = fmq_kafka_wr_finish(&w);
	CU_ASSERT_FATAL(n > 0);
	for (int i = 0; i < n; i++) {
		if (pc[i].is_ref) {
			nref++;
			CU_ASSERT(pc[i].cookie == (void *)1 ||
				  pc[i].cookie == (void *)3);
		}
	}
	CU_ASSERT_EQUAL(nref, 2);
	len = flatten(pc, n, flat);
	CU_ASSERT_EQUAL(len, 8 + 4 + 3000 + 4);
	CU_ASSERT_EQUAL(w.total, len);
	CU_ASSERT(memcmp(flat, "\1\2\3\4\5\6\7\x8\0\0\x0b\xb8", 12) == 0);
	CU_ASSERT(memcmp(flat + 12, data, 3000) == 0);
	CU_ASSERT(memcmp(flat + 3012, "\x0a\x0b\x0c\x0d", 4) == 0);
	/* The sizer agrees without reading the data. */
	fmq_kafka_sizer_init(&s, 100);
	fmq_kafka_sz_records(&s, false, &rec);
	CU_ASSERT_EQUAL(s.bytes, 3004);
	CU_ASSERT_EQUAL(s.ref_bytes, 2990);
	CU_ASSERT_EQUAL(s.ref_pieces, 2);

	/* No refill: -ENOBUFS, sticky. */
	fmq_kafka_wr_init(&w, first, sizeof(first), pc, 64);
	CU_ASSERT_EQUAL(fmq_kafka_wr_i64(&w, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(fmq_kafka_wr_i8(&w, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(fmq_kafka_wr_finish(&w), -ENOBUFS);
	/* Out of piece slots. */
	fmq_kafka_wr_init(&w, flat, sizeof(flat), pc, 2);
	fmq_kafka_wr_set_ref_min(&w, 1);
	fmq_kafka_wr_records(&w, false, false, &rec);
	CU_ASSERT_EQUAL(fmq_kafka_wr_finish(&w), -ENOBUFS);
	/* Refill failure propagates. */
	memset(&rc, 0, sizeof(rc));
	rc.chunk = 4;
	rc.fail_after = 1;
	fmq_kafka_wr_init(&w, first, sizeof(first), pc, 64);
	fmq_kafka_wr_set_refill(&w, refill_cb, &rc);
	CU_ASSERT_EQUAL(fmq_kafka_wr_raw(&w, data, 20), -ENOBUFS);
	/* Invalid values. */
	fmq_kafka_wr_init(&w, flat, sizeof(flat), pc, 64);
	CU_ASSERT_EQUAL(fmq_kafka_wr_string(&w, false, false, FMQ_KAFKA_STR_NULL),
			-EINVAL);
	fmq_kafka_wr_init(&w, flat, sizeof(flat), pc, 64);
	rec.len = 2999;
	CU_ASSERT_EQUAL(fmq_kafka_wr_records(&w, false, false, &rec), -EINVAL);
	fmq_kafka_wr_init(&w, flat, sizeof(flat), pc, 64);
	CU_ASSERT_EQUAL(fmq_kafka_wr_string(&w, true, false,
			(struct fmq_kafka_str){ (const char *)data, 40000 }),
			-EINVAL);
}

/* Records decode by reference: iov pieces point into the segments. */
static void
test_records_by_reference(void)
{
	static uint8_t buf[4 + 100];
	struct fmq_kafka_seg segs[4];
	struct fmq_kafka_reader r;
	struct fmq_kafka_records rec;
	uint32_t cuts[3] = { 10, 10, 60 };
	uint32_t nseg;

	buf[3] = 100;
	for (int i = 0; i < 100; i++)
		buf[4 + i] = (uint8_t)i;
	nseg = split_at(buf, sizeof(buf), cuts, 3, segs);
	fmq_kafka_arena_reset(&arena);
	fmq_kafka_rd_init(&r, segs, nseg, 0, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_rd_records(&r, false, true, &arena,
						   &rec), 0);
	CU_ASSERT_EQUAL(rec.len, 100);
	CU_ASSERT_EQUAL(rec.seg, 0);
	CU_ASSERT_EQUAL(rec.off, 4);
	CU_ASSERT_EQUAL_FATAL(rec.niov, 3);  /* the empty segment is skipped */
	CU_ASSERT_PTR_EQUAL(rec.iov[0].p, buf + 4);
	CU_ASSERT_EQUAL(rec.iov[0].len, 6);
	CU_ASSERT_PTR_EQUAL(rec.iov[1].p, buf + 10);
	CU_ASSERT_EQUAL(rec.iov[1].len, 50);
	CU_ASSERT_EQUAL(rec.iov[2].len, 44);
	CU_ASSERT_EQUAL(fmq_kafka_rd_left(&r), 0);
}

/* ---------------------------------------------------------------------- */

/* Encode a request frame into a flat buffer; returns its length. */
static size_t
make_request(int16_t key, int16_t ver, int32_t corr, const char *client,
	     const void *body, uint8_t *out, size_t cap)
{
	struct fmq_kafka_piece pc[4];
	struct fmq_kafka_writer w;
	int n;

	fmq_kafka_wr_init(&w, out, cap, pc, 4);
	if (fmq_kafka_write_request(&w, key, ver, corr, fmq_kafka_str(client),
				    body) < 0)
		return 0;
	n = fmq_kafka_wr_finish(&w);
	return n == 1 ? pc[0].len : 0;
}

static void
metadata_body(struct fmq_kafka_metadata_req *m,
	      struct fmq_kafka_metadata_req_metadata_request_topic *t)
{
	fmq_kafka_metadata_req_init(m);
	memset(t, 0, 2 * sizeof(*t));
	t[0].name = FMQ_KAFKA_STR_LIT("orders");
	t[1].name = FMQ_KAFKA_STR_LIT("payments-eu");
	m->topics = t;
	m->topics_count = 2;
}

static void
test_framing_splits(void)
{
	static uint8_t req[256];
	struct fmq_kafka_metadata_req m;
	struct fmq_kafka_metadata_req_metadata_request_topic t[2];
	struct fmq_kafka_seg segs[600];
	struct fmq_kafka_framer f;
	struct fmq_kafka_frame fr;
	union fmq_kafka_request body;
	size_t len;
	int16_t vers[] = { 1, 9, 12 };

	for (size_t vi = 0; vi < 3; vi++) {
		metadata_body(&m, t);
		len = make_request(3, vers[vi], 0x1234567, "rdkafka", &m, req,
				   sizeof(req));
		CU_ASSERT_FATAL(len > 0);
		/* Every split point in two segments, fed incrementally as
		 * the bytes arrive. */
		for (uint32_t cut = 0; cut <= len; cut++) {
			uint32_t nseg = split_at(req, (uint32_t)len, &cut, 1,
						 segs);
			int st;

			fmq_kafka_framer_init(&f, 104857600);
			fmq_kafka_arena_reset(&arena);
			/* only the first segment has arrived */
			st = fmq_kafka_frame_parse(&f, segs, 1, cut, &arena,
						   &fr);
			if (cut < len) {
				CU_ASSERT_EQUAL(st, FMQ_KAFKA_FRAME_NEED_MORE);
				CU_ASSERT(fr.need > 0 && fr.need <= len - cut);
				if (cut >= 4)
					CU_ASSERT_EQUAL(fr.need, len - cut);
			}
			st = fmq_kafka_frame_parse(&f, segs, nseg, len, &arena,
						   &fr);
			CU_ASSERT_EQUAL_FATAL(st, FMQ_KAFKA_FRAME_READY);
			CU_ASSERT_EQUAL(fr.reason, FMQ_KAFKA_FR_OK);
			CU_ASSERT_EQUAL(fr.frame_len, len);
			CU_ASSERT_EQUAL(fr.hdr.api_key, 3);
			CU_ASSERT_EQUAL(fr.hdr.api_version, vers[vi]);
			CU_ASSERT_EQUAL(fr.hdr.correlation_id, 0x1234567);
			CU_ASSERT_EQUAL(fr.hdr.version, vers[vi] >= 9 ? 2 : 1);
			CU_ASSERT(fmq_kafka_str_eq(fr.hdr.client_id, "rdkafka"));
			CU_ASSERT_EQUAL_FATAL(fmq_kafka_decode_request(3,
					vers[vi], &fr.body, &arena, &body), 0);
			CU_ASSERT_EQUAL(fmq_kafka_rd_left(&fr.body), 0);
			CU_ASSERT_EQUAL_FATAL(body.metadata.topics_count, 2);
			CU_ASSERT(fmq_kafka_str_eq(body.metadata.topics[1].name,
						   "payments-eu"));
		}
		/* One byte at a time, the framer called after each byte. */
		{
			uint32_t nseg = split_bytes(req, (uint32_t)len, segs);
			int st = FMQ_KAFKA_FRAME_NEED_MORE;
			uint32_t got;

			fmq_kafka_framer_init(&f, 104857600);
			for (got = 0; got <= len; got++) {
				fmq_kafka_arena_reset(&arena);
				st = fmq_kafka_frame_parse(&f, segs,
						got * 2 < nseg ? got * 2 : nseg,
						got, &arena, &fr);
				if (st != FMQ_KAFKA_FRAME_NEED_MORE)
					break;
			}
			CU_ASSERT_EQUAL(st, FMQ_KAFKA_FRAME_READY);
			CU_ASSERT_EQUAL(got, len);
			CU_ASSERT_EQUAL(fmq_kafka_decode_request(3, vers[vi],
					&fr.body, &arena, &body), 0);
		}
	}
}

/* Two frames back to back: the framer restarts on the second. */
static void
test_framing_pipelined(void)
{
	static uint8_t req[512];
	struct fmq_kafka_metadata_req m;
	struct fmq_kafka_metadata_req_metadata_request_topic t[2];
	struct fmq_kafka_seg seg;
	struct fmq_kafka_framer f;
	struct fmq_kafka_frame fr;
	size_t a, b;

	metadata_body(&m, t);
	a = make_request(3, 4, 1, "x", &m, req, sizeof(req));
	b = make_request(3, 10, 2, NULL, &m, req + a, sizeof(req) - a);
	CU_ASSERT_FATAL(a > 0 && b > 0);
	fmq_kafka_framer_init(&f, 1000);
	seg.p = req;
	seg.len = (uint32_t)(a + b);
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, a + b, &arena, &fr),
			FMQ_KAFKA_FRAME_READY);
	CU_ASSERT_EQUAL(fr.frame_len, a);
	CU_ASSERT_EQUAL(fr.hdr.correlation_id, 1);
	seg.p = req + a;
	seg.len = (uint32_t)b;
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, b, &arena, &fr),
			FMQ_KAFKA_FRAME_READY);
	CU_ASSERT_EQUAL(fr.hdr.correlation_id, 2);
	CU_ASSERT_EQUAL(fr.hdr.client_id.len, -1);
	CU_ASSERT_EQUAL(fr.hdr.version, 2);
}

static void
test_size_limit(void)
{
	struct fmq_kafka_seg seg;
	struct fmq_kafka_framer f;
	struct fmq_kafka_frame fr;

	/* 4 bytes of prefix suffice to reject: nothing else is buffered. */
	fmq_kafka_framer_init(&f, 104857600);
	seg.p = (const uint8_t *)"\x06\x40\x00\x01";  /* 104857601 */
	seg.len = 4;
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, 4, &arena, &fr),
			FMQ_KAFKA_FRAME_CLOSE);
	CU_ASSERT_EQUAL(fr.reason, FMQ_KAFKA_FR_SIZE_TOO_LARGE);
	/* exactly the limit waits for the body */
	fmq_kafka_framer_init(&f, 104857600);
	seg.p = (const uint8_t *)"\x06\x40\x00\x00";
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, 4, &arena, &fr),
			FMQ_KAFKA_FRAME_NEED_MORE);
	CU_ASSERT_EQUAL(fr.need, 104857600);
	/* negative */
	fmq_kafka_framer_init(&f, 104857600);
	seg.p = (const uint8_t *)"\xff\xff\xff\xff";
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, 4, &arena, &fr),
			FMQ_KAFKA_FRAME_CLOSE);
	CU_ASSERT_EQUAL(fr.reason, FMQ_KAFKA_FR_SIZE_NEGATIVE);
	/* a prefix split over segments is still checked at 4 bytes */
	{
		struct fmq_kafka_seg s2[2] = {
			{ (const uint8_t *)"\x7f\xff", 2 },
			{ (const uint8_t *)"\xff\xff", 2 },
		};

		fmq_kafka_framer_init(&f, 1000);
		CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, s2, 1, 2, &arena, &fr),
				FMQ_KAFKA_FRAME_NEED_MORE);
		CU_ASSERT_EQUAL(fr.need, 2);
		CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, s2, 2, 4, &arena, &fr),
				FMQ_KAFKA_FRAME_CLOSE);
		CU_ASSERT_EQUAL(fr.reason, FMQ_KAFKA_FR_SIZE_TOO_LARGE);
	}
	/* a small custom limit */
	fmq_kafka_framer_init(&f, 20);
	seg.p = (const uint8_t *)"\x00\x00\x00\x15";
	CU_ASSERT_EQUAL(fmq_kafka_frame_parse(&f, &seg, 1, 4, &arena, &fr),
			FMQ_KAFKA_FRAME_CLOSE);
	CU_ASSERT_STRING_EQUAL(fmq_kafka_frame_reason_str(fr.reason),
			       "size_too_large");
}

/* Header v2 with a tagged field, null client id; header v1 limits. */
static void
test_header_versions(void)
{
	/* ApiVersions v3, header v2: client id "ab", one tag (7, "xyz"),
	 * then an empty body: client software name/version "" "" + tags. */
	static const uint8_t v2[] = {
		0, 0, 0, 21, 0, 18, 0, 3, 0, 0, 0, 9, 0, 2, 'a', 'b',
		1, 7, 3, 'x', 'y', 'z', 1, 1, 0,
	};
	static const uint8_t v1_null[] = {
		0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 5, 0xff, 0xff,
	};
	struct fmq_kafka_seg seg;
	struct fmq_kafka_framer f;
	struct fmq_kafka_frame fr;
	struct fmq_kafka_api_versions_req av;

	fmq_kafka_framer_init(&f, 1000);
	seg.p = v2;
	seg.len = sizeof(v2);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_frame_parse(&f, &seg, 1, sizeof(v2),
						    &arena, &fr),
			      FMQ_KAFKA_FRAME_READY);
	CU_ASSERT_EQUAL(fr.hdr.version, 2);
	CU_ASSERT(fmq_kafka_str_eq(fr.hdr.client_id, "ab"));
	CU_ASSERT_EQUAL_FATAL(fr.hdr.n_unknown_tags, 1);
	CU_ASSERT_EQUAL(fr.hdr.unknown_tags[0].tag, 7);
	CU_ASSERT_EQUAL(fr.hdr.unknown_tags[0].data.len, 3);
	CU_ASSERT_EQUAL(fmq_kafka_decode_request(18, 3, &fr.body, &arena, &av),
			0);
	CU_ASSERT_EQUAL(av.client_software_name.len, 0);

	seg.p = v1_null;
	seg.len = sizeof(v1_null);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_frame_parse(&f, &seg, 1,
			sizeof(v1_null), &arena, &fr), FMQ_KAFKA_FRAME_READY);
	CU_ASSERT_EQUAL(fr.hdr.version, 1);
	CU_ASSERT_EQUAL(fr.hdr.client_id.len, -1);
	CU_ASSERT_EQUAL(fr.hdr.correlation_id, 5);
	CU_ASSERT_EQUAL(fmq_kafka_decode_request(18, 0, &fr.body, &arena, &av),
			0);
}

/* ---------------------------------------------------------------------- */

struct bad_frame {
	const char *what;
	uint8_t b[48];
	uint32_t n;
	int status;
	enum fmq_kafka_frame_reason reason;
	int decode_rc;   /* when READY: expected body decode result */
};

static const struct bad_frame bad_frames[] = {
	{ "size 0", { 0, 0, 0, 0 }, 4, FMQ_KAFKA_FRAME_CLOSE,
	  FMQ_KAFKA_FR_HEADER_TRUNCATED, 0 },
	{ "size 3, header cut", { 0, 0, 0, 3, 0, 3, 0 }, 7,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_HEADER_TRUNCATED, 0 },
	{ "client id longer than frame",
	  { 0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 0, 1, 0, 9, 'a', 'b' }, 16,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_HEADER_TRUNCATED, 0 },
	{ "client id length -2",
	  { 0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe }, 14,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_HEADER_MALFORMED, 0 },
	{ "header v2 tag count absurd",
	  { 0, 0, 0, 11, 0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0x7f }, 15,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_HEADER_MALFORMED, 0 },
	{ "unknown api key 34",
	  { 0, 0, 0, 10, 0, 34, 0, 0, 0, 0, 0, 1, 0xff, 0xff }, 14,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_UNKNOWN_API_KEY, 0 },
	{ "unknown api key -1",
	  { 0, 0, 0, 10, 0xff, 0xff, 0, 0, 0, 0, 0, 1, 0xff, 0xff }, 14,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_UNKNOWN_API_KEY, 0 },
	{ "Fetch v3 (below our min)",
	  { 0, 0, 0, 10, 0, 1, 0, 3, 0, 0, 0, 1, 0xff, 0xff }, 14,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_UNSUPPORTED_VERSION, 0 },
	{ "Metadata v13 (above our max)",
	  { 0, 0, 0, 11, 0, 3, 0, 13, 0, 0, 0, 1, 0xff, 0xff, 0 }, 15,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_UNSUPPORTED_VERSION, 0 },
	{ "Produce v-1",
	  { 0, 0, 0, 10, 0, 0, 0xff, 0xff, 0, 0, 0, 1, 0xff, 0xff }, 14,
	  FMQ_KAFKA_FRAME_CLOSE, FMQ_KAFKA_FR_UNSUPPORTED_VERSION, 0 },
	{ "ApiVersions v4 -> fallback",
	  { 0, 0, 0, 14, 0, 18, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 1, 0 }, 18,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_APIVERSIONS_FALLBACK, 0 },
	{ "ApiVersions v200 -> fallback",
	  { 0, 0, 0, 11, 0, 18, 0, 200, 0, 0, 0, 1, 0xff, 0xff, 0 }, 15,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_APIVERSIONS_FALLBACK, 0 },
	{ "Metadata v0 topics count absurd",
	  { 0, 0, 0, 14, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
	    0x7f, 0xff, 0xff, 0xff }, 18,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Metadata v0 null topics (not nullable in v0)",
	  { 0, 0, 0, 14, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff }, 18,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Metadata v1 null topics (all topics)",
	  { 0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff }, 18,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, 0 },
	{ "Metadata v1 topic name truncated",
	  { 0, 0, 0, 19, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff,
	    0, 0, 0, 1, 0, 9, 'a', 'b', 'c' }, 23,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Produce v3 negative records length",
	  { 0, 0, 0, 37, 0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff,
	    0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a',
	    0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe }, 41,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Produce v3 records longer than frame",
	  { 0, 0, 0, 39, 0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff,
	    0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a',
	    0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 1, 2 }, 43,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Metadata v9 compact array count varint too long",
	  { 0, 0, 0, 17, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 21,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Metadata v9 tag count beyond frame",
	  { 0, 0, 0, 17, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0,
	    1, 1, 1, 1, 5, 0 }, 21,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "Metadata v9 tag size beyond frame",
	  { 0, 0, 0, 18, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0,
	    1, 1, 1, 1, 1, 0, 5 }, 22,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
	{ "empty Heartbeat v0 body",
	  { 0, 0, 0, 10, 0, 12, 0, 0, 0, 0, 0, 1, 0xff, 0xff }, 14,
	  FMQ_KAFKA_FRAME_READY, FMQ_KAFKA_FR_OK, -EBADMSG },
};

static void
test_malformed_table(void)
{
	for (size_t i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]);
	     i++) {
		const struct bad_frame *b = &bad_frames[i];
		struct fmq_kafka_seg seg = { b->b, b->n };
		struct fmq_kafka_framer f;
		struct fmq_kafka_frame fr;
		union fmq_kafka_request body;
		int st;

		fmq_kafka_framer_init(&f, 104857600);
		fmq_kafka_arena_reset(&arena);
		st = fmq_kafka_frame_parse(&f, &seg, 1, b->n, &arena, &fr);
		if (st != b->status || fr.reason != b->reason)
			fprintf(stderr, "\n  %s: status %d reason %s\n", b->what,
				st, fmq_kafka_frame_reason_str(fr.reason));
		CU_ASSERT_EQUAL(st, b->status);
		CU_ASSERT_EQUAL(fr.reason, b->reason);
		if (st == FMQ_KAFKA_FRAME_READY && fr.reason == FMQ_KAFKA_FR_OK) {
			int rc = fmq_kafka_decode_request(fr.hdr.api_key,
					fr.hdr.api_version, &fr.body, &arena,
					&body);
			if (rc != b->decode_rc)
				fprintf(stderr, "\n  %s: decode %d\n", b->what,
					rc);
			CU_ASSERT_EQUAL(rc, b->decode_rc);
		}
		if (b->reason == FMQ_KAFKA_FR_UNKNOWN_API_KEY ||
		    b->reason == FMQ_KAFKA_FR_UNSUPPORTED_VERSION) {
			CU_ASSERT(fr.hdr_valid);
			CU_ASSERT_EQUAL(fr.hdr.correlation_id, 1);
			CU_ASSERT_EQUAL(fr.frame_len, b->n);
		}
	}
	/* Decoding with an unserved key or version is refused. */
	{
		struct fmq_kafka_seg seg = { (const uint8_t *)"", 0 };
		struct fmq_kafka_reader r;
		union fmq_kafka_request body;

		fmq_kafka_rd_init(&r, &seg, 1, 0, 0);
		CU_ASSERT_EQUAL(fmq_kafka_decode_request(34, 0, &r, &arena,
							 &body), -ENOTSUP);
		CU_ASSERT_EQUAL(fmq_kafka_decode_request(1, 3, &r, &arena,
							 &body), -ENOTSUP);
		CU_ASSERT_EQUAL(fmq_kafka_decode_request(1, 18, &r, &arena,
							 &body), -ENOTSUP);
	}
}

/* KIP-511: the exact bytes of the fallback answer. */
static void
test_apiversions_fallback(void)
{
	static uint8_t out[512], expect[512];
	struct fmq_kafka_piece pc[4];
	struct fmq_kafka_writer w;
	size_t n = 0;
	int np;

	fmq_kafka_wr_init(&w, out, sizeof(out), pc, 4);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_write_apiversions_fallback(&w,
			0x01020304), 0);
	np = fmq_kafka_wr_finish(&w);
	CU_ASSERT_EQUAL_FATAL(np, 1);
	/* size, correlation id (header v0), error 35, int32 count, rows */
	n = 4;
	expect[n++] = 1; expect[n++] = 2; expect[n++] = 3; expect[n++] = 4;
	expect[n++] = 0; expect[n++] = 35;
	expect[n++] = 0; expect[n++] = 0; expect[n++] = 0;
	expect[n++] = (uint8_t)N_EXPECT;
	for (size_t i = 0; i < N_EXPECT; i++) {
		expect[n++] = 0; expect[n++] = (uint8_t)expect_apis[i].key;
		expect[n++] = 0; expect[n++] = (uint8_t)expect_apis[i].min;
		expect[n++] = 0; expect[n++] = (uint8_t)expect_apis[i].max;
	}
	expect[0] = 0; expect[1] = 0;
	expect[2] = (uint8_t)((n - 4) >> 8);
	expect[3] = (uint8_t)(n - 4);
	CU_ASSERT_EQUAL(pc[0].len, n);
	CU_ASSERT(memcmp(out, expect, n) == 0);
	CU_ASSERT_EQUAL(n, 4 + 4 + 2 + 4 + 6 * N_EXPECT);

	/* And a client decoding it as v0 sees error 35 and our table. */
	{
		struct fmq_kafka_seg seg = { out + 4, (uint32_t)(n - 4) };
		struct fmq_kafka_reader r;
		struct fmq_kafka_api_versions_resp resp;
		int32_t corr;

		fmq_kafka_rd_init(&r, &seg, 1, 0, seg.len);
		CU_ASSERT_EQUAL_FATAL(fmq_kafka_read_response(&r, 18, 0, &arena,
							      &corr, &resp), 0);
		CU_ASSERT_EQUAL(corr, 0x01020304);
		CU_ASSERT_EQUAL(resp.error_code, 35);
		CU_ASSERT_EQUAL(resp.api_keys_count, (int32_t)N_EXPECT);
		CU_ASSERT_EQUAL(resp.api_keys[1].min_version, 4);
	}
}

/* Normal ApiVersions v3 answer: header v0 although v3 is flexible. */
static void
test_apiversions_v3(void)
{
	static uint8_t out[512];
	struct fmq_kafka_api_versions_resp_api_version keys[FMQ_KAFKA_N_APIS];
	struct fmq_kafka_api_versions_resp resp, back;
	struct fmq_kafka_piece pc[4];
	struct fmq_kafka_writer w;
	struct fmq_kafka_seg seg;
	struct fmq_kafka_reader r;
	struct fmq_kafka_sizer info;
	int32_t corr;

	fmq_kafka_apiversions_fill(&resp, keys, 0);
	fmq_kafka_wr_init(&w, out, sizeof(out), pc, 4);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_write_response(&w, 18, 3, 77, &resp,
						       &info), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_wr_finish(&w), 1);
	CU_ASSERT_EQUAL(info.bytes, pc[0].len);
	/* correlation id immediately followed by the error code: no tags */
	CU_ASSERT(memcmp(out + 4, "\0\0\0\x4d\0\0", 6) == 0);
	/* compact array: N+1 */
	CU_ASSERT_EQUAL(out[10], FMQ_KAFKA_N_APIS + 1);
	seg.p = out + 4;
	seg.len = pc[0].len - 4;
	fmq_kafka_rd_init(&r, &seg, 1, 0, seg.len);
	CU_ASSERT_EQUAL(fmq_kafka_read_response(&r, 18, 3, &arena, &corr,
						&back), 0);
	CU_ASSERT_EQUAL(back.api_keys_count, FMQ_KAFKA_N_APIS);
	CU_ASSERT_EQUAL(back.finalized_features_epoch, -1);
	CU_ASSERT_EQUAL(fmq_kafka_rd_left(&r), 0);
}


/* Unknown tags are kept and re-encoded, tag 0xffffffff included (found by
 * the fuzzer: the final flush used to stop below UINT32_MAX). */
static void
test_unknown_tags_reencode(void)
{
	/* Heartbeat v4: group "g", generation 7, member "", instance null,
	 * tags: 3 -> "ab", 0xffffffff -> "x" */
	static const uint8_t body[] = {
		2, 'g', 0, 0, 0, 7, 1, 0,
		2, 3, 2, 'a', 'b', 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'x',
	};
	static uint8_t out[64];
	struct fmq_kafka_heartbeat_req hb;
	struct fmq_kafka_piece pc[2];
	struct fmq_kafka_writer w;
	struct fmq_kafka_sizer s;
	struct fmq_kafka_seg seg = { body, sizeof(body) };
	struct fmq_kafka_reader r;

	fmq_kafka_arena_reset(&arena);
	fmq_kafka_rd_init(&r, &seg, 1, 0, sizeof(body));
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_decode_request(12, 4, &r, &arena, &hb),
			      0);
	CU_ASSERT_EQUAL(hb.generation_id, 7);
	CU_ASSERT_EQUAL(hb.group_instance_id.len, -1);
	CU_ASSERT_EQUAL_FATAL(hb.n_unknown_tags, 2);
	CU_ASSERT_EQUAL(hb.unknown_tags[1].tag, 0xffffffffu);
	fmq_kafka_sizer_init(&s, UINT32_MAX);
	fmq_kafka_size_request(&s, 12, 4, &hb);
	CU_ASSERT_EQUAL(s.bytes, sizeof(body));
	fmq_kafka_wr_init(&w, out, sizeof(out), pc, 2);
	CU_ASSERT_EQUAL(fmq_kafka_encode_request(&w, 12, 4, &hb), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_wr_finish(&w), 1);
	CU_ASSERT_EQUAL(pc[0].len, sizeof(body));
	CU_ASSERT(memcmp(out, body, sizeof(body)) == 0);
}

/* ---------------------------------------------------------------------- */

static uint8_t rt_a[BIG], rt_b[BIG], rt_store[1 << 16];

struct rt_refill {
	size_t used;
	uint32_t chunk;
};

static int
rt_refill_cb(void *arg, uint8_t **buf, size_t *cap)
{
	struct rt_refill *c = arg;

	if (c->used + c->chunk > sizeof(rt_store))
		return -ENOBUFS;
	*buf = rt_store + c->used;
	*cap = c->chunk;
	c->used += c->chunk;
	return 0;
}

static int
rt_encode(const struct kt_msg *m, int16_t v, const void *body, uint8_t *out,
	  size_t cap, size_t *len, uint32_t chunk)
{
	static struct fmq_kafka_piece pc[4096];
	static uint8_t first[16];
	struct rt_refill rr = { 0, chunk };
	struct fmq_kafka_writer w;
	int rc, n;

	if (chunk == 0) {
		fmq_kafka_wr_init(&w, out, cap, pc, 4096);
	} else {
		/* tiny buffers so fields straddle, records by reference */
		fmq_kafka_wr_init(&w, first, chunk < 16 ? chunk : 16, pc, 4096);
		fmq_kafka_wr_set_refill(&w, rt_refill_cb, &rr);
		fmq_kafka_wr_set_ref_min(&w, 8);
	}
	rc = m->is_request ? fmq_kafka_encode_request(&w, m->api_key, v, body) :
		fmq_kafka_encode_response(&w, m->api_key, v, body);
	if (rc < 0)
		return rc;
	n = fmq_kafka_wr_finish(&w);
	if (n < 0)
		return n;
	*len = flatten(pc, n, out == NULL ? rt_b : out);
	(void)cap;
	return 0;
}

static int
rt_decode(const struct kt_msg *m, int16_t v, struct fmq_kafka_reader *r,
	  void *out)
{
	return m->is_request ?
		fmq_kafka_decode_request(m->api_key, v, r, &arena, out) :
		fmq_kafka_decode_response(m->api_key, v, r, &arena, out);
}

static unsigned rt_cases, rt_truncations;

/*
 * For every message, version and seed: random body -> encode (plain and
 * through 5-byte buffers with references) -> bytes equal and equal to the
 * size function -> decode over random segments -> consumed exactly ->
 * re-encode -> same bytes. Every strict prefix must fail to decode.
 */
static void
test_codec_roundtrip(void)
{
	static union fmq_kafka_request in, out;
	static struct fmq_kafka_seg segs[BIG / 64];

	for (size_t mi = 0; mi < kt_nmsgs; mi++) {
		const struct kt_msg *m = &kt_msgs[mi];

		for (int16_t v = m->vmin; v <= m->vmax; v++) {
			for (uint64_t seed = 1; seed <= 40; seed++) {
				struct kt_rng g = { seed * 7919 + (uint64_t)v * 31 +
						    mi * 1000003 };
				struct fmq_kafka_sizer s;
				struct fmq_kafka_reader r;
				size_t la, lb, lc;
				uint32_t nseg = 0, off = 0;
				int rc;

				fmq_kafka_arena_reset(&arena);
				CU_ASSERT_EQUAL_FATAL(m->fill(&g, v, &arena, &in),
						      0);
				rc = rt_encode(m, v, &in, rt_a, sizeof(rt_a), &la,
					       0);
				if (rc != 0)
					fprintf(stderr, "\n%s v%d seed %llu: "
						"encode %d\n", m->name, v,
						(unsigned long long)seed, rc);
				CU_ASSERT_EQUAL_FATAL(rc, 0);
				fmq_kafka_sizer_init(&s, UINT32_MAX);
				CU_ASSERT_EQUAL(m->is_request ?
					fmq_kafka_size_request(&s, m->api_key, v,
							       &in) :
					fmq_kafka_size_response(&s, m->api_key, v,
								&in), 0);
				CU_ASSERT_EQUAL(s.bytes, la);
				CU_ASSERT_EQUAL_FATAL(rt_encode(m, v, &in, NULL, 0,
						&lb, 5), 0);
				CU_ASSERT_EQUAL(lb, la);
				CU_ASSERT(memcmp(rt_a, rt_b, la) == 0);
				/* random segmentation, empty segments too */
				while (off < la) {
					uint32_t k = kt_rand(&g) % 9;

					if (k > la - off)
						k = (uint32_t)(la - off);
					segs[nseg].p = rt_a + off;
					segs[nseg++].len = k;
					off += k;
				}
				if (nseg == 0) {
					segs[0].p = rt_a;
					segs[nseg++].len = 0;
				}
				fmq_kafka_rd_init(&r, segs, nseg, 0, (uint32_t)la);
				rc = rt_decode(m, v, &r, &out);
				if (rc != 0)
					fprintf(stderr, "\n%s v%d seed %llu: "
						"decode %d\n", m->name, v,
						(unsigned long long)seed, rc);
				CU_ASSERT_EQUAL_FATAL(rc, 0);
				CU_ASSERT_EQUAL(fmq_kafka_rd_left(&r), 0);
				CU_ASSERT_EQUAL_FATAL(rt_encode(m, v, &out, rt_b,
						sizeof(rt_b), &lc, 0), 0);
				CU_ASSERT_EQUAL(lc, la);
				if (lc != la || memcmp(rt_a, rt_b, la) != 0) {
					fprintf(stderr, "\n%s v%d seed %llu: "
						"re-encode differs\n", m->name,
						v, (unsigned long long)seed);
					CU_FAIL("re-encode differs");
				}
				rt_cases++;
				/* every strict prefix is an error */
				if (seed <= 3) {
					for (size_t cut = 0; cut < la; cut++) {
						struct fmq_kafka_seg one = {
							rt_a, (uint32_t)cut };

						fmq_kafka_arena_reset(&arena);
						fmq_kafka_rd_init(&r, &one, 1, 0,
								  (uint32_t)cut);
						rc = rt_decode(m, v, &r, &out);
						CU_ASSERT(rc == -EBADMSG);
						rt_truncations++;
					}
				}
			}
		}
	}
	fprintf(stderr, "\n  %u round trips, %u truncations ", rt_cases,
		rt_truncations);
}

/* A full decode fails cleanly when the arena is too small. */
static void
test_arena_exhaustion(void)
{
	static uint8_t req[1024], small[256];
	struct fmq_kafka_metadata_req m;
	struct fmq_kafka_metadata_req_metadata_request_topic t[2];
	struct fmq_kafka_seg segs[2];
	struct fmq_kafka_reader r;
	struct fmq_kafka_arena a;
	union fmq_kafka_request body;
	size_t len;
	uint32_t cut;
	int ok = 0, nomem = 0;

	metadata_body(&m, t);
	len = make_request(3, 4, 9, "c", &m, req, sizeof(req));
	for (size_t cap = 0; cap <= sizeof(small); cap += 8) {
		int rc;

		cut = 20;  /* inside the first topic name: forces a copy */
		split_at(req + 4, (uint32_t)len - 4, &cut, 1, segs);
		fmq_kafka_arena_init(&a, small, cap);
		fmq_kafka_rd_init(&r, segs, 2, 11, (uint32_t)len - 4 - 11);
		rc = fmq_kafka_decode_request(3, 4, &r, &a, &body);
		CU_ASSERT(rc == 0 || rc == -ENOMEM);
		if (rc == 0)
			ok++;
		else
			nomem++;
	}
	CU_ASSERT(ok > 0 && nomem > 0);
}

/* ---------------------------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/*
 * Byte vectors captured from real clients (tests/vectors/kafka): frame
 * parse, decode, re-encode (header included) must give the same bytes.
 */
static void
test_vectors(void)
{
	static union fmq_kafka_request body;
	static uint8_t out[1 << 16];
	char path[512];
	unsigned nvec = 0;

	for (size_t i = 0; i < kt_nvectors; i++) {
		const struct kt_vector *vec = &kt_vectors[i];
		struct fmq_kafka_framer f;
		struct fmq_kafka_frame fr;
		struct fmq_kafka_seg seg;
		struct fmq_kafka_piece pc[64];
		struct fmq_kafka_writer w;
		size_t len, olen;
		uint8_t *raw;
		int st, rc, n;

		snprintf(path, sizeof(path), "%s/tests/vectors/kafka/%s",
			 FMQ_SOURCE_DIR, vec->file);
		raw = (uint8_t *)slurp(path, &len);
		CU_ASSERT_PTR_NOT_NULL(raw);
		if (raw == NULL) {
			fprintf(stderr, "\n  missing %s\n", path);
			continue;
		}
		fmq_kafka_framer_init(&f, 104857600);
		fmq_kafka_arena_reset(&arena);
		seg.p = raw;
		seg.len = (uint32_t)len;
		st = fmq_kafka_frame_parse(&f, &seg, 1, len, &arena, &fr);
		CU_ASSERT_EQUAL(st, FMQ_KAFKA_FRAME_READY);
		CU_ASSERT_EQUAL(fr.frame_len, len);
		CU_ASSERT_EQUAL(fr.hdr.api_key, vec->api_key);
		CU_ASSERT_EQUAL(fr.hdr.api_version, vec->version);
		if (st != FMQ_KAFKA_FRAME_READY || fr.reason != FMQ_KAFKA_FR_OK) {
			free(raw);
			continue;
		}
		rc = fmq_kafka_decode_request(fr.hdr.api_key, fr.hdr.api_version,
					      &fr.body, &arena, &body);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(fmq_kafka_rd_left(&fr.body), 0);
		fmq_kafka_wr_init(&w, out, sizeof(out), pc, 64);
		rc = fmq_kafka_write_request(&w, fr.hdr.api_key,
				fr.hdr.api_version, fr.hdr.correlation_id,
				fr.hdr.client_id, &body);
		n = fmq_kafka_wr_finish(&w);
		CU_ASSERT(rc == 0 && n > 0);
		olen = n > 0 ? flatten(pc, n, out) : 0;
		/* header tags would not re-encode: the clients send none */
		CU_ASSERT_EQUAL(fr.hdr.n_unknown_tags, 0);
		CU_ASSERT_EQUAL(olen, len);
		if (olen != len || memcmp(out, raw, len) != 0) {
			fprintf(stderr, "\n  %s: re-encode differs\n", vec->file);
			CU_FAIL("vector re-encode differs");
		}
		if (vec->check != NULL)
			CU_ASSERT(vec->check(&fr.hdr, &body));
		nvec++;
		free(raw);
	}
	fprintf(stderr, "\n  %u vectors ", nvec);
	CU_ASSERT_EQUAL(nvec, kt_nvectors);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_kafka_arena_init(&arena, arena_buf, sizeof(arena_buf));
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("kafka", NULL, NULL);
	CU_add_test(s, "error code table", test_err_table);
	CU_add_test(s, "advertised version table", test_version_table);
	CU_add_test(s, "primitive round trips over splits", test_prim_roundtrip);
	CU_add_test(s, "varint edges", test_varint_edges);
	CU_add_test(s, "bounds errors", test_bounds);
	CU_add_test(s, "arena", test_arena);
	CU_add_test(s, "straddling fields copy into the arena",
		    test_straddle_copy);
	CU_add_test(s, "writer pieces, refill, references", test_writer);
	CU_add_test(s, "records by reference", test_records_by_reference);
	CU_add_test(s, "framing at every split point", test_framing_splits);
	CU_add_test(s, "framing pipelined requests", test_framing_pipelined);
	CU_add_test(s, "size limit before buffering", test_size_limit);
	CU_add_test(s, "request header v1/v2", test_header_versions);
	CU_add_test(s, "malformed request table", test_malformed_table);
	CU_add_test(s, "ApiVersions KIP-511 fallback bytes",
		    test_apiversions_fallback);
	CU_add_test(s, "ApiVersions v3 response header v0", test_apiversions_v3);
	CU_add_test(s, "unknown tags re-encode (tag 0xffffffff)",
		    test_unknown_tags_reencode);
	CU_add_test(s, "codec round trips, every API and version",
		    test_codec_roundtrip);
	CU_add_test(s, "arena exhaustion during decode", test_arena_exhaustion);
	CU_add_test(s, "captured client vectors", test_vectors);
	fails = fmq_test_run(argc, argv);
	return fails;
}
