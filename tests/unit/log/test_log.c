/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log unit suite: append/read round trips, indexes, roll, retention,
 * every rejection path, recovery (truncation, process crash, power loss),
 * the ordinary-memory fallback, hugetlbfs sizing, and 1000 partitions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <CUnit/CUnit.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#include "fmq_kerr.h"

static struct rte_mempool *mp;
static char root[256];      /* data dirs of this run */
static char shm_root[256];  /* ordinary-memory hot dirs of this run */
static uint8_t *big;        /* scratch */
#define BIG (4u << 20)

static struct fmq_log *
mk_log(const char *name, uint64_t pool, uint32_t chunk, char *hot)
{
	struct fmq_log_params p = {
		.hot_pool_bytes = pool, .hot_chunk_bytes = chunk,
		.nb_lcores = 2, .max_partitions = 1024,
	};
	char err[512];
	struct fmq_log *log;

	snprintf(hot, 256, "%s/%s", shm_root, name);
	p.hot_dir = hot;
	log = fmq_log_create(&p, err, sizeof(err));
	if (log == NULL)
		fprintf(stderr, "fmq_log_create: %s\n", err);
	return log;
}

static void
mk_pp(struct fmq_log_part_params *pp, const char *name, char *dir)
{
	fmq_log_part_params_default(pp);
	snprintf(dir, 256, "%s/%s", root, name);
	pp->dir = dir;
	pp->topic = "t";
	pp->partition = 0;
	pp->leader_epoch = 7;
	pp->max_message_bytes = 65536;
}

static const char *
part_dir(const char *dir, const char *topic, int p)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s-%d", dir, topic, p);
	return buf;
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ------------------------------------------------------------------ */

static void
test_crc(void)
{
	const char *s = "123456789";

	CU_ASSERT_EQUAL(fmq_log_crc32c(s, 9), 0xE3069283u);
	CU_ASSERT_EQUAL(fmq_log_crc32c("", 0), 0);
}

/* Every batch read back equals the one appended (from magic on; the
 * offset and leader epoch were assigned). */
struct cmp_ctx {
	uint8_t **orig;
	uint32_t *sizes;
	int64_t *bases;
	int n;
	int idx;
	int bad;
};

static int
cmp_cb(const uint8_t *b, uint32_t size, void *arg)
{
	struct cmp_ctx *c = arg;

	if (c->idx >= c->n || size != c->sizes[c->idx] ||
	    (int64_t)tb_rd64(b) != c->bases[c->idx] ||
	    tb_rd32(b + 12) != 7 ||
	    memcmp(b + 16, c->orig[c->idx] + 16, size - 16) != 0 ||
	    fmq_log_batch_check(b, size, UINT32_MAX, NULL) != 0)
		c->bad++;
	c->idx++;
	return 0;
}

static void
test_roundtrip(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("rt", 8u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct cmp_ctx c = { 0 };
	enum { N = 300 };
	int64_t expect = 0;

	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT(!fmq_log_hot_is_huge(log));
	mk_pp(&pp, "rt", dir);
	pp.hot_bytes = 0;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	c.orig = calloc(N, sizeof(*c.orig));
	c.sizes = calloc(N, sizeof(*c.sizes));
	c.bases = calloc(N, sizeof(*c.bases));
	c.n = N;
	for (int i = 0; i < N; i++) {
		int32_t nrec = 1 + i % 40;

		c.orig[i] = malloc(65536);
		c.sizes[i] = tb_build(c.orig[i], 65536, nrec, (uint32_t)(i * 7 % 900),
				      (uint64_t)i, 1700000000000LL + i);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, c.orig[i],
					c.sizes[i], &res), 0);
		CU_ASSERT_EQUAL(res.base_offset, expect);
		CU_ASSERT_EQUAL(res.last_offset, expect + nrec - 1);
		CU_ASSERT_EQUAL(res.records, (uint32_t)nrec);
		c.bases[i] = expect;
		expect += nrec;
		/* Flush now and then so reads mix hot and durable ranges. */
		if (i % 50 == 49)
			CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), false) > 0);
	}
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, cmp_cb, &c), N);
	CU_ASSERT_EQUAL(c.bad, 0);

	/* Reading from the middle of a batch starts with that batch. */
	{
		struct fmq_log_range r;
		struct fmq_log_read_result rr;

		CU_ASSERT_EQUAL(fmq_log_read(p, c.bases[10] + 1, 1, &r, 1,
					     &rr), 0);
		CU_ASSERT_EQUAL(rr.nranges, 1);
		CU_ASSERT_EQUAL(r.first_offset, c.bases[10]);
		CU_ASSERT_EQUAL(r.len, c.sizes[10]);   /* at least one batch */
		fmq_log_range_release(&r);
		CU_ASSERT_EQUAL(fmq_log_read(p, expect + 1, 1, &r, 1, &rr), 0);
		CU_ASSERT_EQUAL(rr.error, FMQ_KERR_OFFSET_OUT_OF_RANGE);
		CU_ASSERT_EQUAL(fmq_log_read(p, expect, 1, &r, 1, &rr), 0);
		CU_ASSERT_EQUAL(rr.error, 0);
		CU_ASSERT_EQUAL(rr.nranges, 0);
	}

	/* All written through: durable ranges, then reopen. */
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	{
		struct fmq_log_offsets o;

		fmq_log_part_offsets(p, &o);
		CU_ASSERT_EQUAL(o.high_watermark, expect);
		CU_ASSERT_EQUAL(o.written, expect);
		CU_ASSERT_EQUAL(o.synced, expect);
	}
	c.idx = 0;
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, cmp_cb, &c), N);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	c.idx = 0;
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, cmp_cb, &c), N);
	CU_ASSERT_EQUAL(c.bad, 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	for (int i = 0; i < N; i++)
		free(c.orig[i]);
	free(c.orig);
	free(c.sizes);
	free(c.bases);
}

/* A batch spread over an mbuf chain, starting inside the first mbuf. */
static void
test_mbuf_chain(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("mb", 4u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct rte_mbuf *head = NULL, *last = NULL;
	uint8_t *b = malloc(65536), *wire = malloc(70000);
	uint32_t size, wlen, off = 0;
	struct fmq_log_range r;
	struct fmq_log_read_result rr;

	if (mp == NULL) {
		CU_PASS("no mempool (EAL unavailable)");
		fmq_log_free(log);
		fmq_log_destroy_pool(hot);
		free(b);
		free(wire);
		return;
	}
	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "mb", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	size = tb_build(b, 65536, 100, 300, 42, 1000);
	/* 37 bytes of "request header" in front of the batch. */
	memset(wire, 0xAB, 37);
	memcpy(wire + 37, b, size);
	wlen = 37 + size;
	while (off < wlen) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t n = RTE_MIN(wlen - off, 333u);

		CU_ASSERT_FATAL(m != NULL);
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), wire + off, n);
		if (head == NULL)
			head = m;
		else
			CU_ASSERT_EQUAL(rte_pktmbuf_chain(head, m), 0);
		last = m;
		off += n;
	}
	(void)last;
	CU_ASSERT(head->nb_segs > 10);
	CU_ASSERT_EQUAL(fmq_log_append(p, head, 37, size, &res), 0);
	CU_ASSERT_EQUAL(res.records, 100);
	/* Out of the chain's bounds. */
	CU_ASSERT_EQUAL(fmq_log_append(p, head, 38, size, &res), -EINVAL);
	/* A corrupt byte deep in the chain. */
	*rte_pktmbuf_mtod_offset(head->next->next->next, uint8_t *, 5) ^= 1;
	CU_ASSERT_EQUAL(fmq_log_append(p, head, 37, size, &res), -EBADMSG);
	CU_ASSERT_EQUAL(res.error, FMQ_KERR_CORRUPT_MESSAGE);
	rte_pktmbuf_free(head);

	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1 << 20, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL(r.len, size);
	CU_ASSERT(r.addr != NULL && memcmp(r.addr + 16, b + 16,
					   size - 16) == 0);
	fmq_log_range_release(&r);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
	free(wire);
}

/* Index and time index: every offset finds its batch, every timestamp its
 * record, through hot chunks and through files. */
static void
check_lookups(struct fmq_log_part *p, int64_t hw, const int64_t *bases,
	      int nb)
{
	int k = 0, bad = 0, bad_ts = 0;

	for (int64_t o = 0; o < hw; o++) {
		struct fmq_log_range r;
		struct fmq_log_read_result rr;

		while (k + 1 < nb && bases[k + 1] <= o)
			k++;
		if (fmq_log_read(p, o, 1, &r, 1, &rr) != 0 ||
		    rr.nranges != 1) {
			bad++;
			continue;
		}
		if (r.first_offset != bases[k])
			bad++;
		fmq_log_range_release(&r);
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Batch k has records at ts = 1000 * k + i (i-th record). */
	for (int b = 0; b < nb; b++) {
		int64_t off, ts;
		int64_t want_ts = 1000LL * b + 2;
		int64_t nrec = (b + 1 < nb ? bases[b + 1] : hw) - bases[b];

		if (fmq_log_offset_for_time(p, want_ts, &off, &ts) != 0) {
			bad_ts++;
			continue;
		}
		if (nrec > 2) {
			if (off != bases[b] + 2 || ts != want_ts)
				bad_ts++;
		} else if (b + 1 < nb && off != bases[b + 1]) {
			bad_ts++;
		}
	}
	CU_ASSERT_EQUAL(bad_ts, 0);
	{
		int64_t off, ts;

		CU_ASSERT_EQUAL(fmq_log_offset_for_time(p, 1000LL * nb + 999,
							&off, &ts), 0);
		CU_ASSERT_EQUAL(off, -1);
		CU_ASSERT_EQUAL(fmq_log_offset_for_time(p, 0, &off, &ts), 0);
		CU_ASSERT_EQUAL(off, 0);
	}
}

static void
test_index(void)
{
	char hot[256], dir[256], path[512];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("ix", 8u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	enum { NB = 400 };
	int64_t bases[NB], hw = 0;
	uint8_t *b = malloc(65536);
	long isz, tsz;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "ix", dir);
	pp.index_interval_bytes = 700;
	pp.hot_bytes = 0;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	for (int i = 0; i < NB; i++) {
		uint32_t sz = tb_build(b, 65536, 1 + i % 7, 100 + i % 50,
				       (uint64_t)i, 1000LL * i);

		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
		bases[i] = res.base_offset;
		hw = res.last_offset + 1;
	}
	check_lookups(p, hw, bases, NB);      /* hot */
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	check_lookups(p, hw, bases, NB);      /* mostly durable */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* Trimmed index files hold whole entries, all pointing at batches
	 * whose last offset is the entry's. */
	snprintf(path, sizeof(path), "%s/%020d.index", part_dir(dir, "t", 0), 0);
	isz = file_size(path);
	snprintf(path, sizeof(path), "%s/%020d.timeindex",
		 part_dir(dir, "t", 0), 0);
	tsz = file_size(path);
	CU_ASSERT(isz > 8 * 50 && isz % 8 == 0);
	CU_ASSERT(tsz > 12 * 50 && tsz % 12 == 0);
	{
		int fd;
		uint8_t *ix = malloc((size_t)isz);
		int bad = 0;

		snprintf(path, sizeof(path), "%s/%020d.index",
			 part_dir(dir, "t", 0), 0);
		fd = open(path, O_RDONLY);
		CU_ASSERT(read(fd, ix, (size_t)isz) == isz);
		close(fd);
		snprintf(path, sizeof(path), "%s/%020d.log",
			 part_dir(dir, "t", 0), 0);
		fd = open(path, O_RDONLY);
		for (long e = 0; e < isz / 8; e++) {
			uint8_t h[61];
			uint32_t rel = tb_rd32(ix + e * 8);
			uint32_t pos = tb_rd32(ix + e * 8 + 4);

			if (pread(fd, h, 61, pos) != 61 ||
			    (int64_t)(tb_rd64(h) + tb_rd32(h + 23)) != rel)
				bad++;
		}
		close(fd);
		CU_ASSERT_EQUAL(bad, 0);
		free(ix);
	}
	/* Reopen: indexes are loaded and still answer. */
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	check_lookups(p, hw, bases, NB);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
}

static int
count_segments(const char *pdir, long *max_size)
{
	char path[600];
	int n = 0;

	*max_size = 0;
	for (int64_t base = 0; base < 100000; base++) {
		long sz;

		snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", pdir,
			 base);
		sz = file_size(path);
		if (sz < 0)
			continue;
		n++;
		if (sz > *max_size)
			*max_size = sz;
	}
	return n;
}

static void
test_roll(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("roll", 8u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct fmq_log_stats st;
	uint8_t *b = malloc(65536);
	struct cmp_ctx c = { 0 };
	enum { N = 100 };
	long maxsz;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "roll", dir);
	pp.segment_bytes = 16384;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	c.orig = calloc(N, sizeof(*c.orig));
	c.sizes = calloc(N, sizeof(*c.sizes));
	c.bases = calloc(N, sizeof(*c.bases));
	c.n = N;
	for (int i = 0; i < N; i++) {
		c.orig[i] = malloc(4096);
		c.sizes[i] = tb_build(c.orig[i], 4096, 3, 300, (uint64_t)i, i);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, c.orig[i],
							 c.sizes[i], &res), 0);
		c.bases[i] = res.base_offset;
	}
	fmq_log_stats(log, &st);
	CU_ASSERT(st.rolls >= 5);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	CU_ASSERT_EQUAL(count_segments(part_dir(dir, "t", 0), &maxsz),
			(int)st.rolls + 1);
	CU_ASSERT(maxsz <= 16384 && maxsz > 12000);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, cmp_cb, &c), N);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	c.idx = 0;
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, cmp_cb, &c), N);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* Time-based roll (segment.ms). */
	pp.segment_bytes = 1 << 30;
	pp.roll_ms = 1;
	pp.topic = "timed";
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	for (int i = 0; i < 3; i++) {
		usleep(3000);
		CU_ASSERT_EQUAL(fmq_log_append_buf(p, c.orig[i], c.sizes[i],
						   &res), 0);
	}
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	CU_ASSERT_EQUAL(count_segments(part_dir(dir, "timed", 0), &maxsz), 3);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	for (int i = 0; i < N; i++)
		free(c.orig[i]);
	free(c.orig);
	free(c.sizes);
	free(c.bases);
	free(b);
}

static void
test_retention(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("ret", 8u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct fmq_log_range r;
	struct fmq_log_read_result rr;
	uint8_t *b = malloc(4096);
	uint32_t sz;
	long maxsz;
	int nseg, n;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "ret", dir);
	pp.segment_bytes = 8192;
	pp.retention_ms = -1;
	pp.retention_bytes = 20000;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	for (int i = 0; i < 60; i++) {
		sz = tb_build(b, 4096, 2, 400, (uint64_t)i,
			      fmq_wall_ms() - 1000);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
	}
	nseg = count_segments(part_dir(dir, "t", 0), &maxsz);
	/* Not synced yet: nothing may go. */
	CU_ASSERT_EQUAL(fmq_log_part_retention(p, fmq_wall_ms()), 0);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	/* A reader holding the oldest segment keeps it. */
	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT(r.fd >= 0);
	CU_ASSERT_EQUAL(fmq_log_part_retention(p, fmq_wall_ms()), 0);
	fmq_log_range_release(&r);
	n = fmq_log_part_retention(p, fmq_wall_ms());
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(count_segments(part_dir(dir, "t", 0), &maxsz),
			nseg - n);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT(o.log_start > 0);
	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL(rr.error, FMQ_KERR_OFFSET_OUT_OF_RANGE);
	CU_ASSERT_EQUAL(fmq_log_read(p, o.log_start, 1, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL(rr.nranges, 1);
	fmq_log_range_release(&r);
	/* What is left is within retention.bytes plus one segment. */
	CU_ASSERT(tu_read_all(p, o.log_start, big, BIG, NULL, NULL) > 0);

	/* retention.ms: everything is older than 500 ms, only the active
	 * segment survives. */
	pp.retention_ms = 500;
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	n = fmq_log_part_retention(p, fmq_wall_ms());
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(count_segments(part_dir(dir, "t", 0), &maxsz), 1);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT(o.log_start < o.high_watermark);
	/* Appends continue; deletion removes every file. */
	sz = tb_build(b, 4096, 2, 400, 99, fmq_wall_ms());
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, sz, &res), 0);
	CU_ASSERT_EQUAL(res.base_offset, o.high_watermark);
	CU_ASSERT_EQUAL(fmq_log_part_delete(p), 0);
	CU_ASSERT_EQUAL(file_size(part_dir(dir, "t", 0)), -1);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
}

static void
expect_reject(struct fmq_log_part *p, const uint8_t *b, uint32_t len,
	      int16_t code)
{
	struct fmq_log_append_result res;
	struct fmq_log_offsets o0, o1;

	fmq_log_part_offsets(p, &o0);
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, len, &res), -EBADMSG);
	CU_ASSERT_EQUAL(res.error, code);
	if (res.error != code)
		fprintf(stderr, "  expected %d got %d\n", code, res.error);
	fmq_log_part_offsets(p, &o1);
	CU_ASSERT_EQUAL(o0.high_watermark, o1.high_watermark);
}

static void
test_rejects(void)
{
	char hot[256], dir[256], path[600];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("rej", 4u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct fmq_log_stats st;
	uint8_t *b = malloc(65536), *m = malloc(65536);
	uint32_t sz, flips = 0;
	struct fmq_log_range r;
	struct fmq_log_read_result rr;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "rej", dir);
	pp.max_message_bytes = 20000;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	sz = tb_build(b, 65536, 5, 50, 1, 1000);

	/* Flip one bit of any CRC-covered byte (or of the CRC itself). */
	for (uint32_t i = 17; i < sz; i++) {
		memcpy(m, b, sz);
		m[i] ^= 0x10;
		expect_reject(p, m, sz, FMQ_KERR_CORRUPT_MESSAGE);
		flips++;
	}
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.crc_failures, flips);
	/* Truncated batch: fewer bytes than batchLength says. */
	expect_reject(p, b, sz - 1, FMQ_KERR_CORRUPT_MESSAGE);
	expect_reject(p, b, 60, FMQ_KERR_CORRUPT_MESSAGE);
	expect_reject(p, b, 10, FMQ_KERR_CORRUPT_MESSAGE);
	/* batchLength shorter than the header. */
	memcpy(m, b, sz);
	tb_be32(m + 8, 20);
	expect_reject(p, m, sz, FMQ_KERR_CORRUPT_MESSAGE);
	/* Extra bytes after the batch (a second batch). */
	memcpy(m, b, sz);
	memcpy(m + sz, b, sz);
	expect_reject(p, m, 2 * sz, FMQ_KERR_INVALID_RECORD);
	/* Wrong magic. */
	memcpy(m, b, sz);
	m[16] = 1;
	expect_reject(p, m, sz, FMQ_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
	m[16] = 0;
	expect_reject(p, m, sz, FMQ_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
	m[16] = 3;
	expect_reject(p, m, sz, FMQ_KERR_CORRUPT_MESSAGE);
	/* Record count lies (CRC made valid again). */
	memcpy(m, b, sz);
	tb_be32(m + 57, 6);
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);
	memcpy(m, b, sz);
	tb_be32(m + 57, 6);
	tb_be32(m + 23, 5);
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);  /* fewer records there */
	memcpy(m, b, sz);
	tb_be32(m + 57, 4);
	tb_be32(m + 23, 3);
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);  /* records left over */
	memcpy(m, b, sz);
	tb_be32(m + 57, 0);
	tb_be32(m + 23, (uint32_t)-1);
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);
	/* First record's length varint lies. */
	memcpy(m, b, sz);
	m[61] += 2;
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);
	/* Control batch from a client; unknown codec. */
	memcpy(m, b, sz);
	m[22] |= 0x20;
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_INVALID_RECORD);
	memcpy(m, b, sz);
	m[22] |= 0x07;
	tb_fix_crc(m, sz);
	expect_reject(p, m, sz, FMQ_KERR_CORRUPT_MESSAGE);
	/* Too large for message.max.bytes. */
	{
		uint32_t bigsz = tb_build(m, 65536, 30, 1000, 3, 0);

		CU_ASSERT(bigsz > 20000);
		expect_reject(p, m, bigsz, FMQ_KERR_MESSAGE_TOO_LARGE);
	}

	/* Nothing of all that reached the log: the file is empty, and the
	 * next good batch sits at offset 0, position 0. */
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.appends, 0);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	snprintf(path, sizeof(path), "%s/%020d.log", part_dir(dir, "t", 0), 0);
	CU_ASSERT_EQUAL(file_size(path), 0);
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, sz, &res), 0);
	CU_ASSERT_EQUAL(res.base_offset, 0);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	CU_ASSERT_EQUAL(file_size(path), (long)sz);
	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1 << 20, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL(r.len, sz);
	fmq_log_range_copy(&r, m);
	CU_ASSERT(memcmp(m + 16, b + 16, sz - 16) == 0);
	fmq_log_range_release(&r);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
	free(m);
}

static void
test_log_append_time(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("lat", 4u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	uint8_t *b = malloc(8192), *m = malloc(8192);
	struct fmq_log_range r;
	struct fmq_log_read_result rr;
	int64_t t0 = fmq_wall_ms();
	uint32_t sz;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "lat", dir);
	pp.log_append_time = true;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	sz = tb_build(b, 8192, 4, 10, 5, 12345);
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, sz, &res), 0);
	CU_ASSERT(res.log_append_time >= t0);
	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1 << 20, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	fmq_log_range_copy(&r, m);
	fmq_log_range_release(&r);
	CU_ASSERT_EQUAL((int64_t)tb_rd64(m + 35), res.log_append_time);
	CU_ASSERT(m[22] & 0x08);
	CU_ASSERT_EQUAL(tb_rd64(m + 27), 12345u);   /* first ts unchanged */
	CU_ASSERT_EQUAL(fmq_log_batch_check(m, sz, UINT32_MAX, NULL), 0);
	CU_ASSERT_NOT_EQUAL(tb_rd32(m + 17), tb_rd32(b + 17));
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
	free(m);
}

/* A file cut mid-batch, or with garbage after the last batch, recovers to
 * the previous batch boundary. */
static void
test_recovery_truncate(void)
{
	char hot[256], dir[256], path[600];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("tr", 4u << 20, 1u << 20, hot);
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct fmq_log_stats st;
	uint8_t *b = malloc(8192);
	int64_t last_base = 0;
	long fsz, bound = 0;
	uint32_t sz = 0;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "tr", dir);
	pp.index_interval_bytes = 1000;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	for (int i = 0; i < 50; i++) {
		sz = tb_build(b, 8192, 3, 200, (uint64_t)i, i);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
		last_base = res.base_offset;
	}
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	snprintf(path, sizeof(path), "%s/%020d.log", part_dir(dir, "t", 0), 0);
	fsz = file_size(path);
	bound = fsz - sz;
	CU_ASSERT_EQUAL(truncate(path, fsz - 7), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, last_base);
	CU_ASSERT_EQUAL(file_size(path), bound);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.truncated_bytes, (uint64_t)(sz - 7));
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, NULL, NULL), 49);
	/* Appends continue at the cut. */
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, sz, &res), 0);
	CU_ASSERT_EQUAL(res.base_offset, last_base);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* Garbage after the last batch (a torn write of zeros). */
	{
		int fd = open(path, O_WRONLY | O_APPEND);
		uint8_t z[300] = { 0 };

		CU_ASSERT(write(fd, z, sizeof(z)) == (ssize_t)sizeof(z));
		close(fd);
	}
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, last_base + 3);
	CU_ASSERT_EQUAL(file_size(path), bound + (long)sz);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, NULL, NULL), 50);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
}

/* A child appends, flushes half, and dies without closing. */
static pid_t
crash_child(const char *name, int n, int flushed_at, int64_t *synced,
	    bool signal_kill)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char hot[256], dir[256];
		struct fmq_log_part_params pp;
		struct fmq_log_append_result res;
		struct fmq_log *log = mk_log(name, 4u << 20, 256u << 10, hot);
		struct fmq_log_part *p;
		struct fmq_log_offsets o;
		uint8_t b[8192];

		close(fds[0]);
		mk_pp(&pp, name, dir);
		pp.hot_bytes = 1 << 20;
		p = log != NULL ? fmq_log_part_open(log, &pp) : NULL;
		if (p == NULL)
			_exit(2);
		for (int i = 0; i < n; i++) {
			uint32_t sz = tb_build(b, sizeof(b), 4, 300,
					       (uint64_t)i, i);

			if (fmq_log_append_buf(p, b, sz, &res) != 0)
				_exit(3);
			if (i == flushed_at)
				fmq_log_flush(log, fmq_now_ns(), true);
		}
		fmq_log_part_offsets(p, &o);
		if (write(fds[1], &o.synced, sizeof(o.synced)) !=
		    (ssize_t)sizeof(o.synced))
			_exit(4);
		if (signal_kill)
			raise(SIGKILL);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], synced, sizeof(*synced)) != (ssize_t)sizeof(*synced))
		*synced = -1;
	close(fds[0]);
	return pid;
}

struct seq_ctx {
	int i;
	int bad;
};

static int
seq_cb(const uint8_t *b, uint32_t size, void *arg)
{
	struct seq_ctx *c = arg;
	uint8_t want[8192];
	uint32_t sz = tb_build(want, sizeof(want), 4, 300, (uint64_t)c->i,
			       c->i);

	if (size != sz || memcmp(b + 16, want + 16, sz - 16) != 0 ||
	    (int64_t)tb_rd64(b) != 4LL * c->i)
		c->bad++;
	c->i++;
	return 0;
}

static void
test_recovery_hot(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log *log;
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct fmq_log_stats st;
	struct seq_ctx c = { 0 };
	int64_t synced = -1;
	int status;
	pid_t pid = crash_child("hotrec", 200, 80, &synced, true);

	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CU_ASSERT_EQUAL(synced, 81 * 4);
	/* Restart: the hot pool still has everything after offset 324. */
	log = mk_log("hotrec", 4u << 20, 256u << 10, hot);
	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "hotrec", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_recovery_done(log);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, 200 * 4);
	CU_ASSERT_EQUAL(o.synced, 200 * 4);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.recovered_batches >= 119);
	CU_ASSERT_EQUAL(st.recoveries, 1);
	CU_ASSERT_EQUAL(st.chunks_free, st.chunks_total);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, seq_cb, &c), 200);
	CU_ASSERT_EQUAL(c.bad, 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_recovery_power(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log *log;
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct seq_ctx c = { 0 };
	int64_t synced = -1;
	int status;
	pid_t pid = crash_child("power", 150, 99, &synced, false);

	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(synced, 100 * 4);
	/* Power loss: the hot tier is gone. */
	snprintf(hot, sizeof(hot), "%s/power", shm_root);
	CU_ASSERT_EQUAL(fmq_log_destroy_pool(hot), 0);
	log = mk_log("power", 4u << 20, 256u << 10, hot);
	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "power", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, synced);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, seq_cb, &c), 100);
	CU_ASSERT_EQUAL(c.bad, 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/*
 * The durable tier stops taking writes (RLIMIT_FSIZE stands in for a full
 * disk: EFBIG). The dir goes offline, nothing unwritten leaves the hot
 * pool, retries wait for the backoff and bring it back by themselves; a
 * close while it is full keeps the chunks, a reopen that cannot write
 * them is refused and discards nothing, and the next one recovers all.
 */
static void
test_dir_offline(void)
{
	char hot[256], dir[256], why[1024], path[600];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("dfull", 4u << 20, 256u << 10, hot);
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct fmq_log_stats st;
	struct seq_ctx c = { 0 };
	struct rlimit old, lim;
	uint8_t b[8192];
	uint64_t t;
	int i = 0;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "dfull", dir);
	pp.hot_bytes = 0;           /* recycle as soon as allowed */
	/* Small index files, so that a reopen under the limit gets as far
	 * as writing the hot data (its index files fit). */
	pp.index_max_bytes = 8192;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	snprintf(path, sizeof(path), "%s/%020d.log", part_dir(dir, "t", 0), 0);
	signal(SIGXFSZ, SIG_IGN);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_FSIZE, &old) == 0);
	for (; i < 100; i++) {
		uint32_t sz = tb_build(b, sizeof(b), 4, 300, (uint64_t)i, i);

		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
	}
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	CU_ASSERT_FALSE(fmq_log_part_offline(p));
	CU_ASSERT_EQUAL(fmq_log_dirs_offline(log, why, sizeof(why)), 0);

	/* Room for a few more batches only. */
	lim = old;
	lim.rlim_cur = (rlim_t)file_size(path) + 20000;
	CU_ASSERT_FATAL(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (; i < 200; i++) {
		uint32_t sz = tb_build(b, sizeof(b), 4, 300, (uint64_t)i, i);

		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
	}
	t = fmq_now_ns();
	CU_ASSERT(fmq_log_flush(log, t, true) < 0);
	CU_ASSERT(fmq_log_part_offline(p));
	CU_ASSERT_EQUAL(fmq_log_dirs_offline(log, why, sizeof(why)), 1);
	CU_ASSERT(strstr(why, dir) != NULL);
	CU_ASSERT(strstr(why, strerror(EFBIG)) != NULL);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, 800);
	CU_ASSERT(o.written < 800);
	CU_ASSERT(o.synced <= o.written);
	/* What is not synced is still in the pool, and readable. */
	fmq_log_stats(log, &st);
	CU_ASSERT(st.chunks_free < st.chunks_total);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, seq_cb, &c), 200);
	CU_ASSERT_EQUAL(c.bad, 0);
	/* Before the backoff is over the dir is left alone. */
	CU_ASSERT_EQUAL(fmq_log_flush(log, t + 1000, true), 0);
	CU_ASSERT(fmq_log_part_offline(p));
	/* Room again: the next retry writes everything, the dir is back. */
	CU_ASSERT_FATAL(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CU_ASSERT(fmq_log_flush(log, t + 300000000ull, true) > 0);
	CU_ASSERT_FALSE(fmq_log_part_offline(p));
	CU_ASSERT_EQUAL(fmq_log_dirs_offline(log, why, sizeof(why)), 0);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.written, 800);
	CU_ASSERT_EQUAL(o.synced, 800);

	/* Full again, then closed: the chunks stay for the next open. */
	lim.rlim_cur = (rlim_t)file_size(path) + 5000;
	CU_ASSERT_FATAL(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (; i < 300; i++) {
		uint32_t sz = tb_build(b, sizeof(b), 4, 300, (uint64_t)i, i);

		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, sz, &res), 0);
	}
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) < 0);
	CU_ASSERT(fmq_log_part_close(p) < 0);
	/* A reopen that cannot write them is refused, and keeps them. */
	errno = 0;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT(p == NULL);
	CU_ASSERT_EQUAL(errno, EFBIG);
	if (p != NULL)
		fmq_log_part_close(p);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.chunks_free < st.chunks_total);
	CU_ASSERT_FATAL(setrlimit(RLIMIT_FSIZE, &old) == 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, 1200);
	CU_ASSERT_EQUAL(o.synced, 1200);
	c.i = 0;
	c.bad = 0;
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, seq_cb, &c), 300);
	CU_ASSERT_EQUAL(c.bad, 0);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_free, st.chunks_total);
	/* Appends continue after the recovered end. */
	{
		uint32_t sz = tb_build(b, sizeof(b), 4, 300, 300, 300);

		CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, sz, &res), 0);
		CU_ASSERT_EQUAL(res.base_offset, 1200);
	}
	signal(SIGXFSZ, SIG_DFL);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* Pool sizing and the two kinds of memory. */
static void
test_pool_kinds(void)
{
	char hot[256], err[512];
	struct fmq_log_params p = {
		.hot_pool_bytes = 4u << 20, .hot_chunk_bytes = 1u << 20,
		.nb_lcores = 1, .max_partitions = 4,
	};
	struct fmq_log *log = mk_log("kind", 4u << 20, 1u << 20, hot);
	struct fmq_metrics *reg = fmq_metrics_create();
	const char *huge = tu_hugetlbfs();
	size_t len;
	char *txt;

	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT(!fmq_log_hot_is_huge(log));
	fmq_metrics_register(reg, fmq_log_metrics, log);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT(txt != NULL &&
		  strstr(txt, "fluxmq_log_hot_pool_hugepages 0") != NULL);
	CU_ASSERT(txt != NULL &&
		  strstr(txt, "fluxmq_log_crc_failures_total 0") != NULL);
	free(txt);
	fmq_metrics_free(reg);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);

	/* Registered for DMA (external-buffer mbufs) when EAL is up. */
	if (mp != NULL) {
		p.hot_dir = hot;
		p.register_extmem = true;
		log = fmq_log_create(&p, err, sizeof(err));
		CU_ASSERT(log != NULL);
		if (log != NULL) {
			void *va;
			size_t l, pg;

			fmq_log_hot_region(log, &va, &l, &pg);
			CU_ASSERT(rte_mem_virt2memseg_list(va) != NULL);
			fmq_log_free(log);
		}
		fmq_log_destroy_pool(hot);
		p.register_extmem = false;
	}

	/* Bad parameters. */
	p.hot_dir = hot;
	p.hot_chunk_bytes = 1000;
	CU_ASSERT(fmq_log_create(&p, err, sizeof(err)) == NULL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	p.hot_chunk_bytes = 1u << 20;

	if (huge == NULL) {
		fprintf(stderr, "  (no writable hugetlbfs mount: hugepage "
			"pool checks skipped)\n");
		return;
	}
	snprintf(hot, sizeof(hot), "%s/fmq-logtest-%d", huge, (int)getpid());
	log = fmq_log_create(&p, err, sizeof(err));
	if (log == NULL) {
		fprintf(stderr, "  hugetlbfs pool: %s\n", err);
		CU_ASSERT(errno == ENOMEM && strstr(err, "reserve") != NULL);
	} else {
		void *va;
		size_t l, pg;

		CU_ASSERT(fmq_log_hot_is_huge(log));
		fmq_log_hot_region(log, &va, &l, &pg);
		CU_ASSERT(pg >= (2u << 20));
		fmq_log_free(log);
	}
	/* Far more than any machine here has free: start-up must stop and
	 * say how many pages to reserve. */
	p.hot_pool_bytes = 1ull << 40;
	CU_ASSERT(fmq_log_create(&p, err, sizeof(err)) == NULL);
	CU_ASSERT_EQUAL(errno, ENOMEM);
	CU_ASSERT(strstr(err, "reserve at least") != NULL);
	fmq_log_destroy_pool(hot);
}

/* 1000 partitions share a 256 MiB pool. */
/*
 * A partition that keeps more flushed data (log.hot.bytes) than its hot
 * list has entries (at most 1024 chunks) while the pool has room: once
 * the list is full, every append is refused, and the flusher, which only
 * recycles beyond log.hot.bytes or when the pool runs low, freed nothing
 * (a produce parked for good). The flusher now keeps at most half the
 * list, so appends go on after a pass.
 */
static void
test_hot_list_full(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	/* 2048 chunks of 64 KiB: a partition's hot list holds 1024. */
	struct fmq_log *log = mk_log("hlfull", 128u << 20, 64u << 10, hot);
	struct fmq_log_part *part;
	struct fmq_log_offsets o;
	uint8_t *b = malloc(32u << 10);
	uint32_t sz;
	long ok = 0, refused = 0;

	CU_ASSERT_FATAL(log != NULL && b != NULL);
	sz = tb_build(b, 32u << 10, 150, 60, 7, 0);
	CU_ASSERT_FATAL(sz > (8u << 10));
	mk_pp(&pp, "hlfull", dir);
	pp.hot_bytes = 256ull << 20;   /* more than the pool */
	pp.max_message_bytes = 32u << 10;
	part = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(part != NULL);
	/* 96 MiB through a partition that may keep 1024 chunks (64 MiB),
	 * the flusher running every 64 appends. */
	for (long i = 0; ok * sz < (96l << 20) && i < 100000; i++) {
		int rc = fmq_log_append_buf(part, b, sz, &res);

		if (rc == 0)
			ok++;
		else if (rc == -EAGAIN)
			refused++;
		else
			CU_FAIL_FATAL("append failed");
		if (i % 64 == 63 || rc == -EAGAIN)
			CU_ASSERT_FATAL(fmq_log_flush(log, fmq_now_ns(),
						      false) >= 0);
	}
	printf("\n  hot list: %ld MiB appended, %ld appends refused\n",
	       (ok * sz) >> 20, refused);
	CU_ASSERT(ok * sz >= (96l << 20));
	CU_ASSERT(refused < 100);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	fmq_log_part_offsets(part, &o);
	CU_ASSERT_EQUAL(o.high_watermark, ok * 150);
	fmq_log_part_close(part);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
}

static void
test_scale(void)
{
	enum { NP = 1000 };
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("scale", 256u << 20, 128u << 10, hot);
	struct fmq_log_part **parts = calloc(NP, sizeof(*parts));
	int64_t *count = calloc(NP, sizeof(*count));
	char (*topics)[16] = calloc(NP, 16);
	struct fmq_log_stats st;
	uint8_t b[2048];
	uint32_t sz = tb_build(b, sizeof(b), 8, 100, 9, 0);
	int eagain = 0, bad = 0;
	long rounds = (300l << 20) / ((long)NP * sz) + 1;
	int *pending = calloc(NP, sizeof(int));

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "scale", dir);
	pp.hot_bytes = 0;
	for (int i = 0; i < NP; i++) {
		snprintf(topics[i], 16, "s%d", i / 10);
		pp.topic = topics[i];
		pp.partition = i % 10;
		pp.lcore = (uint32_t)(i & 1);
		parts[i] = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(parts[i] != NULL);
	}
	/* Round robin, more data than the pool holds, with the flusher
	 * running between rounds: the pool never runs dry. */
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < NP; i++) {
			int rc = fmq_log_append_buf(parts[i], b, sz, &res);

			if (rc == -EAGAIN)
				eagain++;
			else if (rc != 0)
				bad++;
			else
				count[i] += 8;
			if (i % 250 == 249)
				fmq_log_flush(log, fmq_now_ns(), false);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(eagain, 0);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.append_bytes > (256ull << 20));
	printf("\n  scale: %d partitions, %" PRIu64 " MiB appended through a "
	       "256 MiB pool, backpressure %" PRIu64 "\n", NP,
	       st.append_bytes >> 20, st.backpressure);

	/* Flusher stalled: appends back off with -EAGAIN, nothing lost. */
	fmq_log_flush_stall(log, true);
	for (long r = 0; r < rounds + 1 && eagain == 0; r++) {
		for (int i = 0; i < NP; i++) {
			int rc = fmq_log_append_buf(parts[i], b, sz, &res);

			if (rc == -EAGAIN) {
				eagain++;
				pending[i]++;
			} else if (rc == 0) {
				count[i] += 8;
			} else {
				bad++;
			}
		}
	}
	CU_ASSERT(eagain > 0);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.backpressure == (uint64_t)eagain);
	CU_ASSERT_EQUAL(fmq_log_flush(log, fmq_now_ns(), false), 0);
	fmq_log_flush_stall(log, false);
	/* The flusher runs again: the refused appends go through. */
	for (int i = 0; i < NP; i++) {
		while (pending[i] > 0) {
			int rc = fmq_log_append_buf(parts[i], b, sz, &res);

			if (rc == -EAGAIN) {
				CU_ASSERT(fmq_log_flush(log, fmq_now_ns(),
							false) >= 0);
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			count[i] += 8;
			pending[i]--;
		}
	}
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	for (int i = 0; i < NP; i++) {
		struct fmq_log_offsets o;

		fmq_log_part_offsets(parts[i], &o);
		if (o.high_watermark != count[i] || o.synced != count[i])
			bad++;
		if (i % 97 == 0 &&
		    tu_read_all(parts[i], 0, big, BIG, NULL, NULL) !=
		    count[i] / 8)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);

	/* Reopen every partition from disk: all there. */
	log = mk_log("scale", 256u << 20, 128u << 10, hot);
	CU_ASSERT_FATAL(log != NULL);
	for (int i = 0; i < NP; i += 37) {
		struct fmq_log_part *p;
		struct fmq_log_offsets o;

		pp.topic = topics[i];
		pp.partition = i % 10;
		p = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(p != NULL);
		fmq_log_part_offsets(p, &o);
		CU_ASSERT_EQUAL(o.high_watermark, count[i]);
	}
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(parts);
	free(count);
	free(topics);
	free(pending);
}

/* Few big chunks, many partitions: tails are taken back under pressure. */
static void
test_pressure_tails(void)
{
	enum { NP = 64 };
	char hot[256], dir[256], topic[16];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("tails", 8u << 20, 1u << 20, hot);
	struct fmq_log_part *parts[NP];
	int64_t count[NP] = { 0 };
	uint8_t b[2048];
	uint32_t sz = tb_build(b, sizeof(b), 4, 200, 3, 0);
	int bad = 0;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "tails", dir);
	snprintf(topic, sizeof(topic), "x");
	pp.topic = topic;
	for (int i = 0; i < NP; i++) {
		pp.partition = i;
		pp.lcore = 0;
		parts[i] = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(parts[i] != NULL);
	}
	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < NP; i++) {
			int rc, tries = 0;

			while ((rc = fmq_log_append_buf(parts[i], b, sz,
							&res)) == -EAGAIN &&
			       tries++ < 4)
				fmq_log_flush(log, fmq_now_ns(), false);
			if (rc != 0)
				bad++;
			else
				count[i] += 4;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	for (int i = 0; i < NP; i++)
		if (tu_read_all(parts[i], 0, big, BIG, NULL, NULL) !=
		    count[i] / 4)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* A partition closed while a reader still pins one of its chunks (a
 * zero-copy fetch being sent): the chunk comes back once released. */
static void
test_close_pinned(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result res;
	struct fmq_log_read_result rr;
	struct fmq_log_range r;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("cpin", 4u << 20, 256u << 10, hot);
	struct fmq_log_part *p;
	uint8_t b[4096];
	uint32_t n;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "cpin", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_recovery_done(log);
	n = tb_build(b, sizeof(b), 3, 100, 1, 1700000000000LL);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, n, &res), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_log_read(p, 0, 1 << 20, &r, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_PTR_NOT_NULL(r.addr);        /* a hot, pinned range */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_pinned_closed, 1);
	CU_ASSERT_EQUAL(st.chunks_free, st.chunks_total - 1);
	/* Still pinned: a flusher pass keeps it. */
	fmq_log_flush(log, fmq_now_ns(), false);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_pinned_closed, 1);
	/* The reader still sees the batch (from attributes on: the header
	 * got its offset and leader epoch). */
	CU_ASSERT_EQUAL(memcmp((const uint8_t *)r.addr + 21, b + 21, n - 21), 0);
	fmq_log_range_release(&r);
	fmq_log_flush(log, fmq_now_ns(), false);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_pinned_closed, 0);
	CU_ASSERT_EQUAL(st.chunks_free, st.chunks_total);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

int
main(int argc, char **argv)
{
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "-m", "64",
		"--no-shconf", "--log-level=error", "--no-telemetry", NULL };
	struct rlimit rl;
	CU_pSuite s;
	int fails;

	if (rte_eal_init(8, eal_argv) >= 0)
		mp = rte_pktmbuf_pool_create("tlog", 511, 0, 0, 2048,
					     SOCKET_ID_ANY);
	else
		fprintf(stderr, "EAL init failed; mbuf test limited\n");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-logtest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-logtest-%d",
		 tu_shm_base(), (int)getpid());
	big = malloc(BIG);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log", NULL, NULL);
	CU_add_test(s, "crc32c check value", test_crc);
	fmq_test_slow(CU_add_test(s, "append/read round trip",
				  test_roundtrip));
	fmq_test_slow(CU_add_test(s, "append from an mbuf chain",
				  test_mbuf_chain));
	fmq_test_slow(CU_add_test(s, "index and time index lookups",
				  test_index));
	fmq_test_slow(CU_add_test(s, "segment roll (size and time)",
				  test_roll));
	fmq_test_slow(CU_add_test(s, "retention (bytes, ms, pinned, delete)",
				  test_retention));
	fmq_test_slow(CU_add_test(s, "every rejection path", test_rejects));
	fmq_test_slow(CU_add_test(s, "LogAppendTime", test_log_append_time));
	fmq_test_slow(CU_add_test(s, "recovery: truncated file",
				  test_recovery_truncate));
	CU_add_test(s, "recovery: process crash (hot pool)",
		    test_recovery_hot);
	fmq_test_slow(CU_add_test(s, "recovery: power loss (durable only)",
				  test_recovery_power));
	CU_add_test(s, "log dir full: offline, back, nothing lost",
		    test_dir_offline);
	fmq_test_slow(CU_add_test(s, "hot pool kinds and sizing",
				  test_pool_kinds));
	CU_add_test(s, "close with a pinned chunk: returned after release",
		    test_close_pinned);
	fmq_test_slow(CU_add_test(s, "hot list full, pool not low: the flusher frees it",
				  test_hot_list_full));
	fmq_test_slow(CU_add_test(s, "pressure takes back idle tails",
				  test_pressure_tails));
	fmq_test_slow(CU_add_test(s, "1000 partitions, 256 MiB pool, stalled flusher",
				  test_scale));
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	free(big);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return fails;
}
