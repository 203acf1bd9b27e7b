/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log for replication: a follower's append keeps the leader's batches
 * byte for byte (offsets, epoch, CRC checked) and learns their producers;
 * reads bounded by a high watermark; truncation of a closed partition's
 * files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#define K_CORRUPT_MESSAGE 2
#define K_OFFSET_OUT_OF_RANGE 1

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

static void
mk_pp(struct fmq_log_part_params *pp, const char *name, char *dir)
{
	tu_part_params(pp, root, name, dir, "t", 1u << 20);
}

static uint32_t
idem_batch(uint8_t *b, int32_t n, int64_t pid, int32_t seq, uint64_t seed)
{
	uint32_t len = tb_build(b, 65536, n, 20, seed, 1700000000000LL);

	tb_be64(b + 43, (uint64_t)pid);
	tb_be16(b + 51, 0);
	tb_be32(b + 53, (uint32_t)seq);
	tb_fix_crc(b, len);
	return len;
}

static int64_t
leo(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.high_watermark;
}

/* Every byte of the log from offset 0, up to upto. */
static uint32_t
read_all(struct fmq_log_part *p, int64_t upto, uint8_t *out, uint32_t cap)
{
	struct fmq_log_range r[16];
	struct fmq_log_read_result rr;
	uint32_t n = 0;

	if (fmq_log_read_upto(p, 0, upto, cap, r, 16, &rr) != 0 ||
	    rr.error != 0)
		return UINT32_MAX;
	for (uint32_t i = 0; i < rr.nranges; i++) {
		if (n + r[i].len <= cap &&
		    fmq_log_range_copy(&r[i], out + n) == 0)
			n += r[i].len;
		fmq_log_range_release(&r[i]);
	}
	return n;
}

static void
test_follower(void)
{
	char lhot[256], fhot[256], ldir[256], fdir[256], fpart[300];
	struct fmq_log *llog = mk_log("leader", lhot);
	struct fmq_log *flog = mk_log("follower", fhot);
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_read_result rr;
	struct fmq_log_range rg[4];
	struct fmq_log_part *l, *f;
	static uint8_t b[65536], lb[1 << 20], fb[1 << 20];
	uint32_t len, llen, flen, pos;
	int64_t ends[3];

	CU_ASSERT_FATAL(llog != NULL && flog != NULL);
	mk_pp(&pp, "leader", ldir);
	pp.leader_epoch = 3;
	l = fmq_log_part_open(llog, &pp);
	mk_pp(&pp, "follower", fdir);
	f = fmq_log_part_open(flog, &pp);
	CU_ASSERT_FATAL(l != NULL && f != NULL);
	snprintf(fpart, sizeof(fpart), "%s/t-0", fdir);
	/* The leader: three batches of producer 9 under epoch 3, then 5. */
	for (int i = 0; i < 3; i++) {
		if (i == 2)
			fmq_log_part_set_leader_epoch(l, 5);
		len = idem_batch(b, 4, 9, 4 * i, (uint64_t)i);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(l, b, len, &r), 0);
		ends[i] = r.last_offset + 1;
	}
	llen = read_all(l, INT64_MAX, lb, sizeof(lb));
	CU_ASSERT_FATAL(llen != UINT32_MAX && llen > 0);
	/* The follower takes them one by one: the same bytes. */
	pos = 0;
	for (int i = 0; i < 3; i++) {
		uint32_t bl = (uint32_t)lb[pos + 8] << 24 |
			(uint32_t)lb[pos + 9] << 16 |
			(uint32_t)lb[pos + 10] << 8 | lb[pos + 11];
		/* Not at its log end (the first batch again): refused. */
		if (i == 1) {
			uint32_t b0 = (uint32_t)lb[10] << 8 | lb[11];
			CU_ASSERT_EQUAL(fmq_log_append_follower(f, lb, 12 + b0,
								&r), -ERANGE);
			CU_ASSERT_EQUAL(r.error, K_OFFSET_OUT_OF_RANGE);
		}
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_follower(f, lb + pos,
							      12 + bl, &r), 0);
		CU_ASSERT_EQUAL(r.base_offset, i == 0 ? 0 : ends[i - 1]);
		pos += 12 + bl;
	}
	CU_ASSERT_EQUAL(pos, llen);
	CU_ASSERT_EQUAL(leo(f), ends[2]);
	flen = read_all(f, INT64_MAX, fb, sizeof(fb));
	CU_ASSERT_EQUAL(flen, llen);
	CU_ASSERT(memcmp(fb, lb, llen) == 0);
	/* A flipped byte fails the CRC; nothing is appended. */
	len = idem_batch(b, 2, 9, 12, 7);
	CU_ASSERT_EQUAL(fmq_log_append_buf(l, b, len, &r), 0);
	memcpy(b + 0, &(uint64_t){ 0 }, 8);
	tb_be64(b, (uint64_t)ends[2]);
	b[70] ^= 1;
	CU_ASSERT_EQUAL(fmq_log_append_follower(f, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_CORRUPT_MESSAGE);
	CU_ASSERT_EQUAL(leo(f), ends[2]);
	/* The follower learnt producer 9: leading now, its last batch
	 * again is a duplicate and the next sequence goes on. */
	len = idem_batch(b, 4, 9, 8, 2);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT(r.duplicate);
	CU_ASSERT_EQUAL(r.base_offset, ends[1]);
	len = idem_batch(b, 2, 9, 12, 8);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT(!r.duplicate);
	CU_ASSERT_EQUAL(r.base_offset, ends[2]);

	/* Reads bounded by a high watermark: whole batches before it. */
	CU_ASSERT_EQUAL(fmq_log_read_upto(f, 0, ends[0], 1 << 20, rg, 4,
					  &rr), 0);
	CU_ASSERT_EQUAL(rr.error, 0);
	/* The caller knows the bound it gave; the result keeps the end. */
	CU_ASSERT_EQUAL(rr.high_watermark, leo(f));
	CU_ASSERT_EQUAL(rr.nranges, 1);
	if (rr.nranges == 1) {
		CU_ASSERT_EQUAL(rg[0].next_offset, ends[0]);
		fmq_log_range_release(&rg[0]);
	}
	/* Between the HW and the log end: nothing, no error; past the
	 * end: out of range. */
	CU_ASSERT_EQUAL(fmq_log_read_upto(f, ends[1], ends[0], 1 << 20, rg, 4,
					  &rr), 0);
	CU_ASSERT_EQUAL(rr.error, 0);
	CU_ASSERT_EQUAL(rr.nranges, 0);
	CU_ASSERT_EQUAL(fmq_log_read_upto(f, leo(f) + 1, ends[0], 1 << 20, rg,
					  4, &rr), 0);
	CU_ASSERT_EQUAL(rr.error, K_OFFSET_OUT_OF_RANGE);

	/* Truncation of the closed partition: inside the second batch
	 * cuts before it (a batch is never split). */
	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	CU_ASSERT_EQUAL(fmq_log_dir_truncate(fpart, ends[0] + 1), ends[0]);
	f = fmq_log_part_open(flog, &pp);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(leo(f), ends[0]);
	/* And it follows again from there, the same bytes as the leader. */
	pos = 0;
	for (int i = 0; i < 3; i++) {
		uint32_t bl = (uint32_t)lb[pos + 8] << 24 |
			(uint32_t)lb[pos + 9] << 16 |
			(uint32_t)lb[pos + 10] << 8 | lb[pos + 11];
		if (i > 0)
			CU_ASSERT_EQUAL(fmq_log_append_follower(f, lb + pos,
							12 + bl, &r), 0);
		pos += 12 + bl;
	}
	flen = read_all(f, INT64_MAX, fb, sizeof(fb));
	CU_ASSERT_EQUAL(flen, llen);
	CU_ASSERT(memcmp(fb, lb, llen) == 0);
	/* To 0: empty. */
	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	CU_ASSERT_EQUAL(fmq_log_dir_truncate(fpart, 0), 0);
	f = fmq_log_part_open(flog, &pp);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(leo(f), 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(l), 0);
	fmq_log_free(llog);
	fmq_log_free(flog);
	fmq_log_destroy_pool(lhot);
	fmq_log_destroy_pool(fhot);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-repltest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-repltest-%d",
		 tu_shm_base(), (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-repl", NULL, NULL);
	CU_add_test(s, "follower append, bounded read, truncation",
		    test_follower);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	return fails;
}
