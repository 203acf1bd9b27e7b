/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log/txn.c: transaction markers (the control batch's bytes), the last
 * stable offset, reads that stop at it, and the aborted transactions index
 * (ranges, growth, restore).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

static char root[256], shm_root[256];

static struct fmq_log *
mk_log(const char *name, char *hot)
{
	struct fmq_log_params p = {
		.hot_pool_bytes = 16u << 20, .hot_chunk_bytes = 2u << 20,
		.nb_lcores = 1, .max_partitions = 16,
	};

	return tu_log_create(&p, shm_root, name, hot);
}

static struct fmq_log_part *
mk_part(struct fmq_log *log, const char *name, char *dir)
{
	struct fmq_log_part_params pp;

	tu_part_params(&pp, root, name, dir, "t", 1u << 20);
	return fmq_log_part_open(log, &pp);
}

/* Append a batch of n records of producer pid (transactional if txn):
 * 0 or the Kafka error. */
static int
produce_err(struct fmq_log_part *p, int32_t n, int64_t pid, int32_t seq,
	    bool txn, int64_t *base)
{
	static uint8_t b[65536];
	struct fmq_log_append_result r;
	uint32_t len = tb_build(b, sizeof(b), n, 20, (uint64_t)seq,
				1700000000000LL);

	tb_be64(b + 43, (uint64_t)pid);
	tb_be16(b + 51, 0);
	tb_be32(b + 53, (uint32_t)(pid < 0 ? -1 : seq));
	if (txn)
		tb_be16(b + 21, 0x10);
	tb_fix_crc(b, len);
	if (fmq_log_append_buf(p, b, len, &r) < 0)
		return r.error;
	if (base != NULL)
		*base = r.base_offset;
	return 0;
}

/* The same, which must succeed: its base offset. */
static int64_t
produce(struct fmq_log_part *p, int32_t n, int64_t pid, int32_t seq, bool txn)
{
	static uint8_t b[65536];
	struct fmq_log_append_result r;
	uint32_t len = tb_build(b, sizeof(b), n, 20, (uint64_t)seq,
				1700000000000LL);

	tb_be64(b + 43, (uint64_t)pid);
	tb_be16(b + 51, 0);
	tb_be32(b + 53, (uint32_t)(pid < 0 ? -1 : seq));
	if (txn)
		tb_be16(b + 21, 0x10);
	tb_fix_crc(b, len);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
	return r.base_offset;
}

/* One plain batch of n records of vlen bytes each: its base offset. */
static int64_t
produce_big(struct fmq_log_part *p, int32_t n, uint32_t vlen)
{
	static uint8_t b[600 << 10];
	struct fmq_log_append_result r;
	uint32_t len = tb_build(b, sizeof(b), n, vlen, 0, 1700000000000LL);

	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
	return r.base_offset;
}

static int64_t
hw(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.high_watermark;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
test_marker_lso(void)
{
	char hot[256], dir[256];
	struct fmq_log *log = mk_log("marker", hot);
	struct fmq_log_part *p;
	struct fmq_log_append_result r;
	struct fmq_log_range rg[8];
	struct fmq_log_read_result rr;
	uint8_t buf[256];
	int64_t first, m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	p = mk_part(log, "marker", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	produce(p, 3, -1, 0, false);                 /* 0-2 plain */
	CU_ASSERT_EQUAL(fmq_log_part_lso(p), 3);
	/* A transaction opens at 3 (the coordinator's bound). */
	fmq_log_txn_set_open(p, hw(p), (const int64_t[]){ 7 }, 1);
	first = produce(p, 2, 7, 0, true);           /* 3-4 txn */
	produce(p, 2, -1, 0, false);                 /* 5-6 plain */
	CU_ASSERT_EQUAL(first, 3);
	CU_ASSERT_EQUAL(hw(p), 7);
	CU_ASSERT_EQUAL(fmq_log_part_lso(p), 3);
	/* read_committed stops before the LSO; read_uncommitted does not. */
	CU_ASSERT_EQUAL(fmq_log_read_upto(p, 0, fmq_log_part_lso(p), 1 << 20,
					  rg, 8, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL(rg[0].next_offset, 3);
	fmq_log_range_release(&rg[0]);
	CU_ASSERT_EQUAL(fmq_log_read_upto(p, 3, 3, 1 << 20, rg, 8, &rr), 0);
	CU_ASSERT_EQUAL(rr.nranges, 0);
	CU_ASSERT_EQUAL(rr.error, 0);
	CU_ASSERT_EQUAL(fmq_log_read(p, 3, 1 << 20, rg, 8, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL(rg[0].next_offset, 7);
	fmq_log_range_release(&rg[0]);

	/* The commit marker: one control batch of the producer. */
	CU_ASSERT_EQUAL(fmq_log_txn_marker(p, 7, 0, true, 5, first, &r), 0);
	m = r.base_offset;
	CU_ASSERT_EQUAL(m, 7);
	CU_ASSERT_EQUAL(hw(p), 8);
	CU_ASSERT_EQUAL(fmq_log_read(p, m, 1 << 20, rg, 8, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL_FATAL(rg[0].len, 78);
	CU_ASSERT_EQUAL(fmq_log_range_copy(&rg[0], buf), 0);
	fmq_log_range_release(&rg[0]);
	CU_ASSERT_EQUAL(fmq_log_batch_check(buf, 78, 1 << 20, NULL),
			87 /* INVALID_RECORD: clients may not send one */);
	CU_ASSERT_EQUAL(be16(buf + 21), 0x30);        /* txn | control */
	CU_ASSERT_EQUAL(buf[43 + 7], 7);              /* producer id */
	CU_ASSERT_EQUAL(buf[61 + 4], 8);              /* key length 4 */
	CU_ASSERT_EQUAL(be16(buf + 61 + 5), 0);       /* key version */
	CU_ASSERT_EQUAL(be16(buf + 61 + 7), 1);       /* COMMIT */
	CU_ASSERT_EQUAL(buf[61 + 9], 12);             /* value length 6 */
	CU_ASSERT_EQUAL(buf[61 + 15], 5);             /* coordinator epoch */
	/* A commit leaves no index entry; lifting the bound frees the LSO. */
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, 0, INT64_MAX, NULL, 0), 0);
	CU_ASSERT_EQUAL(fmq_log_part_lso(p), 3);
	fmq_log_txn_set_open(p, -1, NULL, 0);
	CU_ASSERT_EQUAL(fmq_log_part_lso(p), 8);
	/* Its transaction ended: it may not write transactionally here
	 * until added again (KIP-890), then its sequence goes on. */
	CU_ASSERT_EQUAL(produce_err(p, 1, 7, 2, true, NULL),
			48 /* INVALID_TXN_STATE */);
	CU_ASSERT_EQUAL(hw(p), 8);
	fmq_log_txn_set_open(p, 8, (const int64_t[]){ 3, 7 }, 2);
	produce(p, 1, 7, 2, true);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_aborted_index(void)
{
	char hot[256], dir[256];
	struct fmq_log *log = mk_log("abort", hot);
	struct fmq_log_part *p;
	struct fmq_log_append_result r;
	struct fmq_log_aborted a[4], *all;
	int64_t first[200], mark[200];

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	p = mk_part(log, "abort", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	fmq_log_txn_set_open(p, 0, (const int64_t[]){ 100, 101 }, 2);
	/* 200 aborted transactions of two producers: the index grows past
	 * its first array several times. */
	for (int i = 0; i < 200; i++) {
		int64_t pid = 100 + (i & 1);

		first[i] = produce(p, 2, pid, 2 * (i / 2), true);
		produce(p, 1, -1, 0, false);
		CU_ASSERT_EQUAL(fmq_log_txn_marker(p, pid, 0, false, 0,
						   first[i], &r), 0);
		mark[i] = r.base_offset;
		CU_ASSERT_EQUAL(mark[i], first[i] + 3);
	}
	all = calloc(256, sizeof(*all));
	CU_ASSERT_EQUAL_FATAL(fmq_log_txn_aborted(p, 0, INT64_MAX, all, 256),
			      200);
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL(all[i].pid, 100 + (i & 1));
		CU_ASSERT_EQUAL(all[i].first, first[i]);
		CU_ASSERT_EQUAL(all[i].last, mark[i]);
	}
	free(all);
	/* [from, to) overlap: a fetch from inside transaction 10 up to the
	 * start of transaction 12 needs 10 and 11. */
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, first[10] + 1, first[12], a, 4),
			2);
	CU_ASSERT_EQUAL(a[0].first, first[10]);
	CU_ASSERT_EQUAL(a[1].first, first[11]);
	/* Exactly at a marker: still that transaction's (last >= from). */
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, mark[5], mark[5] + 1, a, 4), 1);
	CU_ASSERT_EQUAL(a[0].last, mark[5]);
	/* Past every marker, or before the first: none. */
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, mark[199] + 1, INT64_MAX, a, 4),
			0);
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, 0, first[0], a, 4), 0);
	/* More than asked for: the count, the first ones stored. */
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, 0, INT64_MAX, a, 2), 200);
	CU_ASSERT_EQUAL(a[1].first, first[1]);
	/* A first offset past the marker (cannot be) is clamped. */
	CU_ASSERT_EQUAL(fmq_log_txn_marker(p, 9, 0, false, 0, INT64_MAX, &r),
			0);
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, r.base_offset, INT64_MAX, a, 4),
			1);
	CU_ASSERT_EQUAL(a[0].first, r.base_offset);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* Reopened: the index is the coordinator's to enter again. */
	p = mk_part(log, "abort", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, 0, INT64_MAX, a, 4), 0);
	CU_ASSERT_EQUAL(hw(p), mark[199] + 2);
	for (int i = 0; i < 20; i++) {
		struct fmq_log_aborted e = { 100 + (i & 1), first[i], mark[i] };

		CU_ASSERT_EQUAL(fmq_log_txn_restore(p, &e), 0);
	}
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(p, mark[18], INT64_MAX, a, 4), 2);
	CU_ASSERT_EQUAL(a[0].last, mark[18]);
	CU_ASSERT_EQUAL(a[1].last, mark[19]);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_verification(void)
{
	char hot[256], dir[256];
	struct fmq_log *log = mk_log("verify", hot);
	struct fmq_log_part *p;
	int64_t many[9];

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	p = mk_part(log, "verify", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* No transaction open: transactional batches are refused, plain
	 * and idempotent ones are not. */
	CU_ASSERT_EQUAL(produce_err(p, 1, 5, 0, true, NULL), 48);
	CU_ASSERT_EQUAL(produce_err(p, 1, 5, 0, false, NULL), 0);
	CU_ASSERT_EQUAL(produce_err(p, 1, -1, 0, false, NULL), 0);
	CU_ASSERT_EQUAL(hw(p), 2);
	/* Eight listed: each of them writes, a ninth producer does not. */
	for (int i = 0; i < 9; i++)
		many[i] = 20 + i;
	fmq_log_txn_set_open(p, 2, many, 8);
	for (int i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(produce_err(p, 1, 20 + i, 0, true, NULL), 0);
	CU_ASSERT_EQUAL(produce_err(p, 1, 28, 0, true, NULL), 48);
	/* Nine: too many to list, none refused. */
	fmq_log_txn_set_open(p, 2, many, 9);
	CU_ASSERT_EQUAL(produce_err(p, 1, 28, 0, true, NULL), 0);
	CU_ASSERT_EQUAL(produce_err(p, 1, 99, 0, true, NULL), 0);
	/* The list shrinks with the transactions. */
	fmq_log_txn_set_open(p, 2, many + 3, 1);
	CU_ASSERT_EQUAL(produce_err(p, 1, 23, 1, true, NULL), 0);
	CU_ASSERT_EQUAL(produce_err(p, 1, 20, 1, true, NULL), 48);
	CU_ASSERT_EQUAL(fmq_log_part_lso(p), 2);
	/* A marker without a first offset (WriteTxnMarkers) is indexed
	 * from the producer's first transactional batch here (offset 5). */
	{
		struct fmq_log_append_result r;
		struct fmq_log_aborted a[2];

		CU_ASSERT_EQUAL(fmq_log_txn_marker(p, 23, 0, false, 0, -1, &r),
				0);
		CU_ASSERT_EQUAL_FATAL(fmq_log_txn_aborted(p, r.base_offset,
							  INT64_MAX, a, 2), 1);
		CU_ASSERT_EQUAL(a[0].first, 5);
		CU_ASSERT_EQUAL(a[0].last, r.base_offset);
		/* Alone, the coordinator's bound alone is the LSO. */
		CU_ASSERT_EQUAL(fmq_log_part_lso(p), 2);
	}
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* Markers only in the hot pool when the process dies are recovered, and
 * so is everything appended after them. */
static void
test_kill_recovery(void)
{
	char hot[256], dir[256];
	struct fmq_log *log;
	struct fmq_log_part *p;
	struct fmq_log_append_result r;
	struct fmq_log_range rg[8];
	struct fmq_log_read_result rr;
	uint8_t buf[256];
	int status;
	pid_t pid = fork();

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		log = mk_log("kill", hot);
		p = log != NULL ? mk_part(log, "kill", dir) : NULL;
		if (p == NULL)
			_exit(2);
		fmq_log_txn_set_open(p, 0, (const int64_t[]){ 4 }, 1);
		if (produce_err(p, 2, 4, 0, true, NULL) != 0 ||     /* 0-1 */
		    fmq_log_txn_marker(p, 4, 0, true, 0, 0, &r) != 0 ||  /* 2 */
		    produce_err(p, 2, 4, 2, true, NULL) != 0 ||     /* 3-4 */
		    fmq_log_txn_marker(p, 4, 0, false, 0, 3, &r) != 0 || /* 5 */
		    produce_err(p, 3, -1, 0, false, NULL) != 0)     /* 6-8 */
			_exit(3);
		raise(SIGKILL);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	log = mk_log("kill", hot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	p = mk_part(log, "kill", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	fmq_log_recovery_done(log);
	CU_ASSERT_EQUAL(hw(p), 9);
	for (int64_t off = 2; off <= 5; off += 3) {
		CU_ASSERT_EQUAL(fmq_log_read(p, off, 1, rg, 8, &rr), 0);
		CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
		CU_ASSERT_EQUAL_FATAL(rg[0].len, 78);
		CU_ASSERT_EQUAL(fmq_log_range_copy(&rg[0], buf), 0);
		fmq_log_range_release(&rg[0]);
		CU_ASSERT_EQUAL(be16(buf + 21), 0x30);
		CU_ASSERT_EQUAL(be16(buf + 61 + 7), off == 2 ? 1 : 0);
	}
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* A partition of a cluster (txn_from_log): the log's own transactional
 * batches and markers give the LSO and the aborted index, on the leader
 * and on a follower that copies its batches, with no coordinator bound
 * published on either. */
static struct fmq_log_part *
mk_part_fl(struct fmq_log *log, const char *name, char *dir, int32_t part)
{
	struct fmq_log_part_params pp;

	tu_part_params(&pp, root, name, dir, "t", 1u << 20);
	pp.partition = part;
	pp.txn_from_log = true;
	return fmq_log_part_open(log, &pp);
}

/* Copy the leader's batches [from, its end) to the follower. */
static void
follow(struct fmq_log_part *ld, struct fmq_log_part *fl)
{
	static uint8_t buf[1 << 20];
	struct fmq_log_range rg[16];
	struct fmq_log_read_result rr;
	int64_t from = hw(fl);

	CU_ASSERT_EQUAL_FATAL(fmq_log_read(ld, from, sizeof(buf), rg, 16,
					   &rr), 0);
	for (uint32_t i = 0; i < rr.nranges; i++) {
		uint32_t pos = 0;

		CU_ASSERT_FATAL(rg[i].len <= sizeof(buf));
		CU_ASSERT_EQUAL(fmq_log_range_copy(&rg[i], buf), 0);
		while (pos + 12 <= rg[i].len) {
			uint32_t blen = 12 + tb_rd32(buf + pos + 8);
			struct fmq_log_append_result r;

			CU_ASSERT_EQUAL(fmq_log_append_follower(fl, buf + pos,
								blen, &r), 0);
			pos += blen;
		}
		fmq_log_range_release(&rg[i]);
	}
	CU_ASSERT_EQUAL(hw(fl), hw(ld));
}

static void
test_from_log(void)
{
	char hot[256], dir[256], fdir[256];
	struct fmq_log *log = mk_log("fromlog", hot);
	struct fmq_log_part *ld, *fl;
	struct fmq_log_append_result r;
	struct fmq_log_aborted a[4];
	int64_t t7, t8, c7, a8, t9;

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	ld = mk_part_fl(log, "fromlog", dir, 0);
	fl = mk_part_fl(log, "fromlog-f", fdir, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ld);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fl);
	produce(ld, 3, -1, 0, false);                 /* 0-2 plain */
	/* No coordinator listed it: still taken (it may be elsewhere). */
	t7 = produce(ld, 2, 7, 0, true);              /* 3-4 txn of 7 */
	produce(ld, 2, -1, 0, false);                 /* 5-6 plain */
	t8 = produce(ld, 1, 8, 0, true);              /* 7 txn of 8 */
	CU_ASSERT_EQUAL(t7, 3);
	CU_ASSERT_EQUAL(t8, 7);
	CU_ASSERT_EQUAL(fmq_log_part_lso(ld), 3);
	follow(ld, fl);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), 3);

	/* 7 commits: the LSO moves to 8's first offset, no index entry. */
	CU_ASSERT_EQUAL(fmq_log_txn_marker(ld, 7, 0, true, 0, -1, &r), 0);
	c7 = r.base_offset;
	CU_ASSERT_EQUAL(fmq_log_part_lso(ld), t8);
	follow(ld, fl);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), t8);
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(fl, 0, INT64_MAX, a, 4), 0);

	/* 8 aborts: the LSO is the log end; the follower indexes it from
	 * the marker it copies, with the first offset it saw. */
	produce(ld, 1, 8, 1, true);
	CU_ASSERT_EQUAL(fmq_log_txn_marker(ld, 8, 0, false, 0, t8, &r), 0);
	a8 = r.base_offset;
	CU_ASSERT_EQUAL(fmq_log_part_lso(ld), hw(ld));
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(ld, 0, INT64_MAX, a, 4), 1);
	follow(ld, fl);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), hw(fl));
	CU_ASSERT_EQUAL_FATAL(fmq_log_txn_aborted(fl, 0, INT64_MAX, a, 4), 1);
	CU_ASSERT_EQUAL(a[0].pid, 8);
	CU_ASSERT_EQUAL(a[0].first, t8);
	CU_ASSERT_EQUAL(a[0].last, a8);
	CU_ASSERT(c7 < a8);

	/* The follower takes over and leads: a new transaction it appends
	 * bounds its LSO, its own abort marker lifts it. */
	t9 = produce(fl, 2, 9, 0, true);
	produce(fl, 1, -1, 0, false);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), t9);
	CU_ASSERT_EQUAL(fmq_log_txn_marker(fl, 9, 0, false, 0, t9, &r), 0);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), hw(fl));
	CU_ASSERT_EQUAL(fmq_log_txn_aborted(fl, t9, INT64_MAX, a, 4), 1);
	CU_ASSERT_EQUAL(a[0].first, t9);

	/* A transaction left open, then a restart: reopened, the partition
	 * reads both back from its log (its files, and the hot pool's
	 * recovered batches), with the aborted list in marker order. */
	/* A plain batch larger than the rebuild's read buffer (256 KiB)
	 * before it: the rebuild goes on past it. */
	produce_big(fl, 100, 4000);
	int64_t t11 = produce(fl, 1, 11, 0, true);

	CU_ASSERT_EQUAL(fmq_log_txn_marker(fl, 11, 0, false, 0, t11, &r), 0);
	int64_t a11 = r.base_offset;
	int64_t t10 = produce(fl, 1, 10, 0, true);
	int64_t end = hw(fl);

	CU_ASSERT_EQUAL(fmq_log_part_close(fl), 0);
	fl = mk_part_fl(log, "fromlog-f", fdir, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fl);
	CU_ASSERT_EQUAL(hw(fl), end);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), t10);
	CU_ASSERT_EQUAL_FATAL(fmq_log_txn_aborted(fl, 0, INT64_MAX, a, 4), 3);
	CU_ASSERT_EQUAL(a[0].pid, 8);
	CU_ASSERT_EQUAL(a[0].first, t8);
	CU_ASSERT_EQUAL(a[0].last, a8);
	CU_ASSERT_EQUAL(a[1].pid, 9);
	CU_ASSERT_EQUAL(a[1].first, t9);
	CU_ASSERT_EQUAL(a[2].pid, 11);
	CU_ASSERT_EQUAL(a[2].first, t11);
	CU_ASSERT_EQUAL(a[2].last, a11);
	CU_ASSERT_EQUAL(fmq_log_txn_marker(fl, 10, 0, true, 0, -1, &r), 0);
	CU_ASSERT_EQUAL(fmq_log_part_lso(fl), hw(fl));
	CU_ASSERT_EQUAL(fmq_log_part_close(ld), 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(fl), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-txntest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-txntest-%d",
		 tu_shm_base(), (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-txn", NULL, NULL);
	CU_add_test(s, "markers, the LSO, reads up to it", test_marker_lso);
	CU_add_test(s, "aborted transactions index: ranges, growth, restore",
		    test_aborted_index);
	CU_add_test(s, "partition verification: only producers with a "
		    "transaction open here", test_verification);
	CU_add_test(s, "a cluster's partition: open transactions from its "
		    "own log, leader and follower", test_from_log);
	fmq_test_slow(CU_add_test(s, "markers in the hot pool survive a SIGKILL, and what "
				  "follows them", test_kill_recovery));
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	return fails;
}
