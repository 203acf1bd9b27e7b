/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log unit suite for the fused append pass (batch_copy_validate):
 * records and varints cut by block and mbuf segment boundaries, failures in
 * the last block leaving the partition untouched, chains of hundreds of
 * tiny segments, and the fused verdict against batch_validate() on mutated
 * batches for many block sizes and segmentations.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <CUnit/CUnit.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "fmq_log.h"
#include "log_priv.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#define K_CORRUPT_MESSAGE 2
#define K_INVALID_RECORD 87

#define MAXREC 4096
#define CAP (256u << 10)

static struct rte_mempool *mp;     /* 2 KiB mbufs, filled as asked */
static char root[256];
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/*
 * A batch of n records; record i has a value of vlen[i] bytes, key "k"
 * (null for odd i), one header "h"="v" on every third record. Record `lie'
 * (-1 for none) claims one byte more than it holds. pos[i] is where record
 * i (its length varint) starts, pos[n] the batch end.
 */
static uint32_t
build2(uint8_t *b, uint32_t cap, int32_t n, const uint32_t *vlen, int32_t lie,
       bool pad, uint32_t *pos)
{
	uint32_t at = 61;

	for (int32_t i = 0; i < n; i++) {
		uint8_t body[64];
		uint32_t bl = 0, rec;

		body[bl++] = 0;                         /* attributes */
		bl += tb_varint(body + bl, i);          /* timestampDelta */
		bl += tb_varint(body + bl, i);          /* offsetDelta */
		if (i % 2 == 0) {
			bl += tb_varint(body + bl, 1);
			body[bl++] = 'k';
		} else {
			bl += tb_varint(body + bl, -1);
		}
		bl += tb_varint(body + bl, vlen[i]);
		rec = bl + vlen[i] + (i % 3 == 0 ? 5 : 1);
		if (at + 5 + rec > cap)
			return 0;
		pos[i] = at;
		at += tb_varint(b + at, rec + (i == lie ? 1 : 0));
		memcpy(b + at, body, bl);
		at += bl;
		for (uint32_t j = 0; j < vlen[i]; j++)
			b[at + j] = tb_byte(7, i, j);
		at += vlen[i];
		if (i % 3 == 0) {
			at += tb_varint(b + at, 1);
			at += tb_varint(b + at, 1);
			b[at++] = 'h';
			at += tb_varint(b + at, 1);
			b[at++] = 'v';
		} else {
			at += tb_varint(b + at, 0);
		}
		/* The byte the lying length claims, there after all: a record
		 * longer than its fields, framing otherwise intact. */
		if (i == lie && pad)
			b[at++] = 0;
	}
	pos[n] = at;
	tb_be64(b + 0, 0);
	tb_be32(b + 8, at - 12);
	tb_be32(b + 12, 0xFFFFFFFFu);
	b[16] = 2;
	tb_be16(b + 21, 0);
	tb_be32(b + 23, (uint32_t)(n - 1));
	tb_be64(b + 27, 1000);
	tb_be64(b + 35, (uint64_t)(1000 + n - 1));
	tb_be64(b + 43, (uint64_t)-1);
	tb_be16(b + 51, 0xFFFF);
	tb_be32(b + 53, 0xFFFFFFFFu);
	tb_be32(b + 57, (uint32_t)n);
	tb_fix_crc(b, at);
	return at;
}

static uint32_t
build(uint8_t *b, uint32_t cap, int32_t n, const uint32_t *vlen, int32_t lie,
      uint32_t *pos)
{
	return build2(b, cap, n, vlen, lie, false, pos);
}

/* Decode the varint at *at (advancing it). */
static int64_t
rd_var(const uint8_t *b, uint32_t *at)
{
	uint64_t v = 0;

	for (int sh = 0; sh < 64; sh += 7) {
		uint8_t c = b[(*at)++];

		v |= (uint64_t)(c & 0x7f) << sh;
		if (c < 0x80)
			break;
	}
	return (int64_t)((v >> 1) ^ -(v & 1));
}

/* Where field f of the record at `at' starts: 0 key length, 1 value
 * length, 2 header count, 3 first header's key length, 4 its value
 * length (0 if the record has no header). */
static uint32_t
field_at(const uint8_t *b, uint32_t at, int f)
{
	int64_t v;

	rd_var(b, &at);                 /* length */
	at++;                           /* attributes */
	rd_var(b, &at);                 /* timestampDelta */
	rd_var(b, &at);                 /* offsetDelta */
	if (f == 0)
		return at;
	v = rd_var(b, &at);
	at += v > 0 ? (uint32_t)v : 0;
	if (f == 1)
		return at;
	v = rd_var(b, &at);
	at += v > 0 ? (uint32_t)v : 0;
	if (f == 2)
		return at;
	if (rd_var(b, &at) == 0)
		return 0;
	if (f == 3)
		return at;
	v = rd_var(b, &at);
	return at + (uint32_t)v;
}

/* A log with one partition, and what the tests compare. */
struct fx {
	char hot[256];
	char dir[256];
	struct fmq_log *log;
	struct fmq_log_part *p;
	/* The batches that must be visible, in order. */
	uint8_t *good[64];
	uint32_t good_len[64];
	int ngood;
	uint64_t good_bytes;
};

static void
fx_open(struct fx *f, const char *name)
{
	struct fmq_log_params lp = {
		.hot_pool_bytes = 8u << 20, .hot_chunk_bytes = 1u << 20,
		.nb_lcores = 1, .max_partitions = 4,
	};
	struct fmq_log_part_params pp;
	char err[512];

	memset(f, 0, sizeof(*f));
	snprintf(f->hot, sizeof(f->hot), "%s/fmq-logpass-%d-%s",
		 tu_shm_base(), (int)getpid(), name);
	snprintf(f->dir, sizeof(f->dir), "%s/%s", root, name);
	lp.hot_dir = f->hot;
	f->log = fmq_log_create(&lp, err, sizeof(err));
	if (f->log == NULL)
		fprintf(stderr, "fmq_log_create: %s\n", err);
	CU_ASSERT_FATAL(f->log != NULL);
	fmq_log_part_params_default(&pp);
	pp.dir = f->dir;
	pp.topic = "t";
	pp.leader_epoch = 3;
	pp.max_message_bytes = 512u << 10;
	f->p = fmq_log_part_open(f->log, &pp);
	CU_ASSERT_FATAL(f->p != NULL);
}

/* Remember a batch that was appended. */
static void
fx_good(struct fx *f, const uint8_t *b, uint32_t len)
{
	if (f->ngood == 64)
		return;
	f->good[f->ngood] = malloc(len);
	memcpy(f->good[f->ngood], b, len);
	f->good_len[f->ngood++] = len;
	f->good_bytes += len;
}

struct cmp {
	struct fx *f;
	int idx;
	int bad;
};

static int
cmp_cb(const uint8_t *b, uint32_t size, void *arg)
{
	struct cmp *c = arg;
	struct fx *f = c->f;

	if (c->idx >= f->ngood || size != f->good_len[c->idx] ||
	    memcmp(b + 16, f->good[c->idx] + 16, size - 16) != 0 ||
	    tb_rd32(b + 12) != 3)
		c->bad++;
	c->idx++;
	return 0;
}

/* Exactly the good batches are readable, back to back from offset 0, and
 * the hot pool hands exactly their bytes to the segment file. */
static void
fx_check(struct fx *f)
{
	struct cmp c = { .f = f };
	struct fmq_log_stats st;
	char path[600];
	struct stat sb;
	uint8_t *buf = malloc(4u << 20);

	CU_ASSERT_EQUAL(tu_read_all(f->p, 0, buf, 4u << 20, cmp_cb, &c),
			f->ngood);
	CU_ASSERT_EQUAL(c.idx, f->ngood);
	CU_ASSERT_EQUAL(c.bad, 0);
	fmq_log_stats(f->log, &st);
	CU_ASSERT_EQUAL(st.appends, (uint64_t)f->ngood);
	CU_ASSERT_EQUAL(st.append_bytes, f->good_bytes);
	CU_ASSERT(fmq_log_flush(f->log, fmq_now_ns(), true) >= 0);
	snprintf(path, sizeof(path), "%s/t-0/%020d.log", f->dir, 0);
	CU_ASSERT(stat(path, &sb) == 0 &&
		  (uint64_t)sb.st_size == f->good_bytes);
	free(buf);
}

static void
fx_close(struct fx *f)
{
	fmq_log_free(f->log);
	fmq_log_destroy_pool(f->hot);
	for (int i = 0; i < f->ngood; i++)
		free(f->good[i]);
}

/* An mbuf chain holding `pad' filler bytes then b; segment sizes come from
 * seg(i) (0 allowed). NULL if the pool runs dry. */
static struct rte_mbuf *
chain(const uint8_t *b, uint32_t len, uint32_t pad, uint32_t (*seg)(uint32_t))
{
	struct rte_mbuf *head = NULL;
	uint32_t total = pad + len, off = 0, i = 0;

	while (off < total || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t n = RTE_MIN(seg(i++), total - off);
		uint8_t *d;

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		n = RTE_MIN(n, (uint32_t)rte_pktmbuf_tailroom(m));
		d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		for (uint32_t k = 0; k < n; k++, off++)
			d[k] = off < pad ? 0xEE : b[off - pad];
		if (head == NULL)
			head = m;
		else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
	}
	return head;
}

static uint32_t
seg_rand(uint32_t i)
{
	(void)i;
	/* Mostly tiny, some empty, now and then a full one. */
	switch (rnd(8)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 64;
	default: return 1 + rnd(40);
	}
}

static uint32_t
seg_61(uint32_t i)
{
	return i % 2 ? 61 : 3;
}

/* What TCP hands over: MSS-sized segments, an odd first one. */
static uint32_t
seg_mss(uint32_t i)
{
	return i == 0 ? 1 + rnd(2048) : 1448;
}

/* Append b from a flat buffer or a chain, expecting `code' (0 = ok). A
 * rejection must move nothing. */
static void
append_expect(struct fx *f, const uint8_t *b, uint32_t len, bool use_chain,
	      uint32_t (*seg)(uint32_t), int16_t code)
{
	struct fmq_log_append_result res;
	struct fmq_log_offsets o0, o1;
	struct fmq_log_stats s0, s1;
	struct rte_mbuf *m = NULL;
	uint32_t pad = use_chain ? rnd(50) : 0;
	int rc;

	if (use_chain) {
		m = chain(b, len, pad, seg);
		CU_ASSERT_FATAL(m != NULL);
	}
	fmq_log_part_offsets(f->p, &o0);
	fmq_log_stats(f->log, &s0);
	rc = use_chain ? fmq_log_append(f->p, m, pad, len, &res) :
		fmq_log_append_buf(f->p, b, len, &res);
	fmq_log_part_offsets(f->p, &o1);
	fmq_log_stats(f->log, &s1);
	if (code == 0) {
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(res.base_offset, o0.high_watermark);
		CU_ASSERT_EQUAL(o1.high_watermark,
				o0.high_watermark + tb_rd32(b + 57));
		if (rc == 0)
			fx_good(f, b, len);
	} else {
		CU_ASSERT_EQUAL(rc, -EBADMSG);
		CU_ASSERT_EQUAL(res.error, code);
		if (res.error != code)
			fprintf(stderr, "  expected %d got %d\n", code,
				res.error);
		CU_ASSERT_EQUAL(o1.high_watermark, o0.high_watermark);
		CU_ASSERT_EQUAL(s1.appends, s0.appends);
		CU_ASSERT_EQUAL(s1.append_bytes, s0.append_bytes);
		CU_ASSERT_EQUAL(s1.rejects, s0.rejects + 1);
		CU_ASSERT_EQUAL(s1.crc_failures, s0.crc_failures +
				(code == K_CORRUPT_MESSAGE ? 1 : 0));
	}
	rte_pktmbuf_free(m);
}

/* ------------------------------------------------------------------ */

/*
 * Every byte of a record at a block boundary: the first record's value
 * grows one byte per round, shifting all the others across BATCH_BLOCK.
 * Also records larger than a block with their 3-byte varints at the
 * boundary. Each batch appended from a buffer and from a chain.
 */
static void
test_block_straddle(void)
{
	static uint32_t vlen[MAXREC], pos[MAXREC + 1];
	uint8_t *b = malloc(CAP);
	struct fx f;
	int rounds = 0, gen = 0;
	char name[32];

	fx_open(&f, "straddle0");
	/* 1. 200-byte records (2-byte length varints), shift 0..230. */
	for (uint32_t s = 0; s < 230; s++) {
		uint32_t len;
		int32_t n = 100;

		vlen[0] = s;
		for (int32_t i = 1; i < n; i++)
			vlen[i] = 200;
		len = build(b, CAP, n, vlen, -1, pos);
		CU_ASSERT_FATAL(len > 2 * BATCH_BLOCK);
		append_expect(&f, b, len, s % 7 < 2, s % 7 ? seg_mss : seg_rand,
			      0);
		rounds++;
		/* The record across the first boundary lies about its
		 * length: a bad record in a later block. */
		for (int32_t i = 0; i < n; i++) {
			if (pos[i] < BATCH_BLOCK && pos[i + 1] >= BATCH_BLOCK) {
				len = build(b, CAP, n, vlen, i, pos);
				append_expect(&f, b, len, s % 11 == 0,
					      seg_61, K_INVALID_RECORD);
				break;
			}
		}
		if (f.ngood == 40) {
			fx_check(&f);
			fx_close(&f);
			snprintf(name, sizeof(name), "straddle%d", ++gen);
			fx_open(&f, name);
		}
	}
	/* 2. A 20,000-byte record (3-byte varints) starting anywhere within
	 *    12 bytes of the first boundary, and one of over three blocks. */
	for (uint32_t s = 0; s < 24; s++) {
		uint32_t len;

		vlen[0] = BATCH_BLOCK - 61 - 8 - 12 + s;
		vlen[1] = 20000;
		vlen[2] = 5;
		vlen[3] = 3 * BATCH_BLOCK + s;
		vlen[4] = 0;
		len = build(b, CAP, 5, vlen, -1, pos);
		append_expect(&f, b, len, s % 2 == 0, seg_rand, 0);
		len = build(b, CAP, 5, vlen, 1, pos);
		append_expect(&f, b, len, s % 3 == 0, seg_rand,
			      K_INVALID_RECORD);
		rounds++;
	}
	fx_check(&f);
	fx_close(&f);
	CU_ASSERT(rounds > 0);
	free(b);
}

/*
 * A multi-block batch whose last block is bad (CRC or record) after good
 * appends: the partition, its stats, its reads and its segment file are
 * exactly as before, and the next batch goes where the bad one would have.
 */
static void
test_last_block_bad(void)
{
	static uint32_t vlen[MAXREC], pos[MAXREC + 1];
	uint8_t *b = malloc(CAP), *m = malloc(CAP);
	struct fx f;
	uint32_t len;
	int32_t n = 300;

	fx_open(&f, "last");
	for (int32_t i = 0; i < n; i++)
		vlen[i] = 100 + rnd(200);
	len = build(b, CAP, n, vlen, -1, pos);
	CU_ASSERT_FATAL(len > 4 * BATCH_BLOCK);
	append_expect(&f, b, len, false, NULL, 0);
	append_expect(&f, b, len, true, seg_rand, 0);
	append_expect(&f, b, len, true, seg_mss, 0);
	for (int k = 0; k < 2; k++) {
		bool ch = k == 1;

		/* Bad CRC: the last byte, a byte in the last block, the
		 * CRC field itself. */
		memcpy(m, b, len);
		m[len - 1] ^= 0x01;
		append_expect(&f, m, len, ch, seg_rand, K_CORRUPT_MESSAGE);
		memcpy(m, b, len);
		m[len - BATCH_BLOCK / 2] ^= 0x80;
		append_expect(&f, m, len, ch, seg_rand, K_CORRUPT_MESSAGE);
		memcpy(m, b, len);
		m[RB_CRC + 3] ^= 0x04;
		append_expect(&f, m, len, ch, seg_rand, K_CORRUPT_MESSAGE);
		/* Bad record in the last block, CRC right: the last record
		 * lies about its length, its header count is wrong, or one
		 * record too many is announced. */
		len = build(m, CAP, n, vlen, n - 1, pos);
		append_expect(&f, m, len, ch, seg_rand, K_INVALID_RECORD);
		len = build(m, CAP, n, vlen, -1, pos);
		m[len - 1] = 4;                 /* header count of the last */
		tb_fix_crc(m, len);
		append_expect(&f, m, len, ch, seg_rand, K_INVALID_RECORD);
		len = build(m, CAP, n, vlen, -1, pos);
		tb_be32(m + 57, (uint32_t)n + 1);
		tb_be32(m + 23, (uint32_t)n);
		tb_fix_crc(m, len);
		append_expect(&f, m, len, ch, seg_rand, K_INVALID_RECORD);
		/* Both a bad record early and a bad CRC: CRC first, as
		 * Kafka. */
		len = build(m, CAP, n, vlen, 2, pos);
		m[len - 1] ^= 0x01;
		append_expect(&f, m, len, ch, seg_rand, K_CORRUPT_MESSAGE);
		len = build(b, CAP, n, vlen, -1, pos);
	}
	/* The next good one lands right after the last good one. */
	append_expect(&f, b, len, true, seg_61, 0);
	fx_check(&f);
	fx_close(&f);
	free(b);
	free(m);
}

/* Chains of hundreds to thousands of segments of 0 to 64 bytes. */
static void
test_many_segments(void)
{
	static uint32_t vlen[MAXREC], pos[MAXREC + 1];
	uint8_t *b = malloc(CAP);
	struct fx f;

	fx_open(&f, "segs");
	for (int round = 0; round < 12; round++) {
		int32_t n = 20 + (int32_t)rnd(150);
		struct rte_mbuf *m;
		uint32_t len;

		for (int32_t i = 0; i < n; i++)
			vlen[i] = rnd(4) == 0 ? rnd(3000) : rnd(300);
		len = build(b, CAP, n, vlen, -1, pos);
		CU_ASSERT_FATAL(len > 0);
		m = chain(b, len, 0, seg_rand);
		CU_ASSERT_FATAL(m != NULL);
		CU_ASSERT(m->nb_segs >= 500 || len < 15000);
		/* Nothing left at the chain's end, or a few bytes: refused
		 * before any copy. */
		{
			struct fmq_log_append_result res;

			CU_ASSERT_EQUAL(fmq_log_append(f.p, m, m->pkt_len, 0,
						       &res), -EBADMSG);
			CU_ASSERT_EQUAL(res.error, K_CORRUPT_MESSAGE);
			CU_ASSERT_EQUAL(fmq_log_append(f.p, m, m->pkt_len - 7,
						       7, &res), -EBADMSG);
			CU_ASSERT_EQUAL(res.error, K_CORRUPT_MESSAGE);
		}
		rte_pktmbuf_free(m);
		append_expect(&f, b, len, true, seg_rand, 0);
		/* A flipped bit deep in the chain. */
		b[61 + rnd(len - 61)] ^= 0x20;
		append_expect(&f, b, len, true, seg_rand, K_CORRUPT_MESSAGE);
	}
	fx_check(&f);
	fx_close(&f);
	free(b);
}

/*
 * Differential: batch_copy_validate() over random block sizes and
 * segmentations gives batch_validate()'s verdict (code and CRC flag) on
 * good batches and on random mutations, and copies the batch exactly.
 */
static void
test_differential(void)
{
	static uint32_t vlen[MAXREC], pos[MAXREC + 1];
	static const uint32_t blocks[] = { 1, 61, 62, 64, 100, 127, 255, 1000,
		4096, BATCH_BLOCK, 65536, UINT32_MAX };
	uint8_t *b = malloc(CAP), *dst = malloc(CAP);
	int mismatches = 0, rejected = 0, runs = 0;

	for (int round = 0; round < 3000; round++) {
		int32_t n = 1 + (int32_t)rnd(40);
		struct batch_info bi0, bi1;
		struct batch_src src;
		struct rte_mbuf *m = NULL;
		bool crc0, crc1;
		int16_t e0, e1;
		uint32_t len, block = blocks[rnd(RTE_DIM(blocks))];

		for (int32_t i = 0; i < n; i++)
			vlen[i] = rnd(5) == 0 ? rnd(2000) :
				rnd(4) == 0 ? 0 : rnd(150);
		len = build2(b, CAP, n, vlen, rnd(4) == 0 ? (int32_t)rnd(n) :
			     -1, rnd(2) == 0, pos);
		/* A one-byte field of one record set to a small value (-4 to
		 * 3): every sign and bound check of the record walk. */
		if (rnd(3) == 0) {
			uint32_t at = field_at(b, pos[rnd(n)], (int)rnd(5));

			if (at != 0 && at < len && b[at] < 0x80)
				b[at] = (uint8_t)rnd(8);
		}
		/* 0 to 3 mutations; usually the CRC is made right again so
		 * the record walk is what decides. */
		for (uint32_t k = rnd(4); k > 0; k--) {
			uint32_t at = 17 + rnd(len - 17);

			switch (rnd(3)) {
			case 0: b[at] ^= (uint8_t)(1u << rnd(8)); break;
			case 1: b[at] = (uint8_t)rnd(256); break;
			default: b[at] = 0xFF; break;
			}
		}
		if (rnd(4) != 0)
			tb_fix_crc(b, len);
		if (rnd(8) == 0)
			len -= rnd(len - 60);   /* truncated */
		e0 = batch_validate(b, len, CAP, &bi0, &crc0);
		memset(dst, 0x5A, len);
		if (rnd(2) == 0) {
			m = chain(b, len, 0, rnd(2) ? seg_rand : seg_mss);
			CU_ASSERT_FATAL(m != NULL);
			batch_src_chain(&src, m, 0);
		} else {
			batch_src_buf(&src, b);
		}
		e1 = batch_copy_validate(dst, &src, len, CAP, block, &bi1,
					 &crc1);
		if (e0 != e1 || crc0 != crc1 ||
		    (e0 == 0 && (memcmp(dst, b, len) != 0 ||
				 bi0.count != bi1.count ||
				 bi0.size != bi1.size))) {
			if (mismatches++ < 5)
				fprintf(stderr, "  round %d block %u: "
					"validate %d/%d fused %d/%d\n", round,
					block, e0, crc0, e1, crc1);
		}
		if (e0 != 0)
			rejected++;
		runs++;
		rte_pktmbuf_free(m);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	/* Both verdicts were exercised. */
	CU_ASSERT(rejected > runs / 10 && rejected < runs - runs / 10);
	free(b);
	free(dst);
}

int
main(int argc, char **argv)
{
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "-m", "256",
		"--no-shconf", "--log-level=error", "--no-telemetry", NULL };
	CU_pSuite s;
	int fails;

	if (rte_eal_init(8, eal_argv) < 0) {
		fprintf(stderr, "EAL init failed: skipped\n");
		return 77;
	}
	mp = rte_pktmbuf_pool_create("tpass", 16383, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	if (mp == NULL) {
		fprintf(stderr, "no mempool: skipped\n");
		return 77;
	}
	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-logpass-%d", tu_data_base(),
		 (int)getpid());

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("append-pass", NULL, NULL);
	fmq_test_slow(CU_add_test(s, "records and varints across block boundaries",
				  test_block_straddle));
	fmq_test_slow(CU_add_test(s, "bad CRC / bad record in the last block",
				  test_last_block_bad));
	fmq_test_slow(CU_add_test(s, "chains of hundreds of tiny segments",
				  test_many_segments));
	CU_add_test(s, "fused verdict equals batch_validate",
		    test_differential);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return fails;
}
