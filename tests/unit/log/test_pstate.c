/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idempotent producer state across a leader change (issue 17): a follower
 * that appends its leader's batches holds the leader's producer state
 * (epoch, the last 5 batches' sequences and offsets), so that once it
 * leads a retried batch is a duplicate answered with the leader's offset
 * and the next one is in sequence; transaction markers are not batches
 * of their producer; truncation, a clean restart and a restart without a
 * snapshot (SIGKILL) rebuild the same state from what the log keeps.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#define K_OUT_OF_ORDER 45
#define ATTR_TXN 0x10
#define NB 8                    /* batches of producer 9 */

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

/* Small segments: the follower rolls, so snapshots are taken. */
static void
mk_pp(struct fmq_log_part_params *pp, const char *name, char *dir)
{
	tu_part_params(pp, root, name, dir, "t", 1u << 20);
	pp->segment_bytes = 1024;
}

static uint32_t
pbatch(uint8_t *b, int32_t n, int64_t pid, int32_t seq, bool txn,
       uint64_t seed)
{
	uint32_t len = tb_build(b, 65536, n, 20, seed, 1700000000000LL);

	tb_be64(b + 43, (uint64_t)pid);
	tb_be16(b + 51, 0);
	tb_be32(b + 53, (uint32_t)seq);
	if (txn)
		tb_be16(b + 21, ATTR_TXN);
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

static int
append_one(const uint8_t *b, uint32_t size, void *arg)
{
	struct fmq_log_append_result r;

	return fmq_log_append_follower(arg, b, size, &r);
}

/* Replicate: the leader's batches from the follower's end on, appended
 * as the fetcher does. Returns the batches appended or -1. */
static int
follow(struct fmq_log_part *l, struct fmq_log_part *f)
{
	static uint8_t buf[1 << 20];

	return (int)tu_read_all(l, leo(f), buf, sizeof(buf), append_one, f);
}

static void
same_state(struct fmq_log_part *a, struct fmq_log_part *b, int64_t pid)
{
	struct fmq_log_producer_info x, y;

	CU_ASSERT_EQUAL_FATAL(fmq_log_producer_lookup(a, pid, &x), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_log_producer_lookup(b, pid, &y), 0);
	CU_ASSERT_EQUAL(x.epoch, y.epoch);
	CU_ASSERT_EQUAL(x.last_seq, y.last_seq);
	CU_ASSERT_EQUAL(x.last_offset, y.last_offset);
	CU_ASSERT_EQUAL(x.nbatches, y.nbatches);
}

static void
rm_snapshots(const char *dir)
{
	char path[600];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".producers") != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
}

static int
count_snapshots(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".producers") != NULL;
	closedir(d);
	return n;
}

static void
test_takeover(void)
{
	char lhot[256], fhot[256], ldir[256], fdir[256], fpart[300];
	struct fmq_log *llog = mk_log("leader", lhot);
	struct fmq_log *flog = mk_log("follower", fhot);
	struct fmq_log_part_params lpp, fpp;
	struct fmq_log_append_result r;
	struct fmq_log_producer_info info;
	struct fmq_log_part *l, *f;
	static uint8_t b[65536];
	int64_t first9[NB], first7, marker, cut;
	uint32_t len;

	CU_ASSERT_FATAL(llog != NULL && flog != NULL);
	mk_pp(&lpp, "leader", ldir);
	l = fmq_log_part_open(llog, &lpp);
	mk_pp(&fpp, "follower", fdir);
	f = fmq_log_part_open(flog, &fpp);
	CU_ASSERT_FATAL(l != NULL && f != NULL);
	snprintf(fpart, sizeof(fpart), "%s/t-0", fdir);

	/* The leader: producer 9 (NB batches of 4), producer 11 between
	 * them, and a committed transaction of producer 7 (2 records, then
	 * its marker). */
	for (int i = 0; i < NB; i++) {
		len = pbatch(b, 4, 9, 4 * i, false, (uint64_t)i);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(l, b, len, &r), 0);
		first9[i] = r.base_offset;
		if (i == 3) {
			len = pbatch(b, 3, 11, 0, false, 100);
			CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(l, b, len, &r),
					      0);
		}
	}
	fmq_log_txn_set_open(l, leo(l), (const int64_t[]){ 7 }, 1);
	len = pbatch(b, 2, 7, 0, true, 200);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(l, b, len, &r), 0);
	first7 = r.base_offset;
	CU_ASSERT_EQUAL_FATAL(fmq_log_txn_marker(l, 7, 0, true, 0, first7, &r),
			      0);
	marker = r.base_offset;
	fmq_log_txn_set_open(l, -1, NULL, 0);

	/* The follower appends them all: the same producer state. */
	CU_ASSERT_EQUAL_FATAL(follow(l, f), NB + 3);
	CU_ASSERT_EQUAL(leo(f), leo(l));
	same_state(l, f, 9);
	same_state(l, f, 11);
	same_state(l, f, 7);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(f, 7, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 1);       /* not the marker's -1 */
	CU_ASSERT_EQUAL(info.last_offset, first7 + 1);
	/* The follower rolled: the flusher writes its snapshots. */
	fmq_log_flush(flog, 0, true);
	CU_ASSERT(count_snapshots(fpart) > 0);

	/* The follower leads: the last 5 batches again are duplicates
	 * answered with the leader's offsets; an older one is out of
	 * order; the next one goes on where the leader stopped. */
	for (int i = NB - 5; i < NB; i++) {
		len = pbatch(b, 4, 9, 4 * i, false, (uint64_t)i);
		CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
		CU_ASSERT(r.duplicate);
		CU_ASSERT_EQUAL(r.base_offset, first9[i]);
		CU_ASSERT_EQUAL(r.last_offset, first9[i] + 3);
	}
	len = pbatch(b, 4, 9, 4 * (NB - 6), false, 1);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	CU_ASSERT_EQUAL(leo(f), leo(l));
	/* The transactional producer's next batch, after its marker. */
	fmq_log_txn_set_open(f, leo(f), (const int64_t[]){ 7 }, 1);
	len = pbatch(b, 2, 7, 2, true, 201);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT(!r.duplicate);
	CU_ASSERT_EQUAL(r.base_offset, marker + 1);
	fmq_log_txn_set_open(f, -1, NULL, 0);
	len = pbatch(b, 4, 9, 4 * NB, false, 300);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT(!r.duplicate);
	CU_ASSERT_EQUAL(r.base_offset, marker + 3);

	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	f = fmq_log_part_open(flog, &fpp);
	CU_ASSERT_FATAL(f != NULL);

	/* A clean restart: the same state (the snapshot at the end). */
	same_state(l, f, 11);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(f, 9, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 4 * NB + 3);
	CU_ASSERT_EQUAL(info.last_offset, marker + 6);
	CU_ASSERT_EQUAL(info.nbatches, 5);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(f, 7, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 3);

	/* Truncation (a new leader epoch, or start-up at the checkpointed
	 * HW): cut inside producer 9's 6th batch. The state is the one
	 * the leader had for what remains: rebuilt from the snapshots left
	 * (those past the cut are deleted) and the log after them. */
	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	cut = first9[5] + 1;
	CU_ASSERT_EQUAL(fmq_log_dir_truncate(fpart, cut), first9[5]);
	f = fmq_log_part_open(flog, &fpp);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(leo(f), first9[5]);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(f, 9, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 4 * 5 - 1);
	CU_ASSERT_EQUAL(info.last_offset, first9[4] + 3);
	CU_ASSERT_EQUAL(info.nbatches, 5);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(f, 7, &info), -ENOENT);
	/* A batch of the window kept is still a duplicate. */
	len = pbatch(b, 4, 9, 4, false, 1);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT(r.duplicate);
	CU_ASSERT_EQUAL(r.base_offset, first9[1]);
	/* Following the leader again: the leader's state once more. */
	CU_ASSERT_EQUAL(follow(l, f), NB - 5 + 2);
	same_state(l, f, 9);
	same_state(l, f, 7);

	/* A SIGKILL leaves no snapshot at the end, maybe none at all: the
	 * replay of the log gives the same state. */
	CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	rm_snapshots(fpart);
	f = fmq_log_part_open(flog, &fpp);
	CU_ASSERT_FATAL(f != NULL);
	same_state(l, f, 9);
	same_state(l, f, 11);
	same_state(l, f, 7);
	len = pbatch(b, 2, 7, 2, true, 202);
	fmq_log_txn_set_open(f, leo(f), (const int64_t[]){ 7 }, 1);
	CU_ASSERT_EQUAL(fmq_log_append_buf(f, b, len, &r), 0);
	CU_ASSERT_EQUAL(r.error, 0);
	CU_ASSERT(!r.duplicate);

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
	snprintf(root, sizeof(root), "%s/fmq-pstatetest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-pstatetest-%d",
		 tu_shm_base(), (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-pstate", NULL, NULL);
	CU_add_test(s, "a follower takes over with its leader's producer "
		    "state; truncation and restarts rebuild it", test_takeover);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	return fails;
}
