/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader epoch cache (lib/log/epoch.c): Kafka's assign, endOffsetFor,
 * truncateFromEnd/Start on hand-built cases, the checkpoint file's
 * format, and a partition's cache kept through appends (leader and
 * follower), reopen, a lost checkpoint and truncation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_epoch.h"
#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

static char root[256], shm_root[256];

static void
eo(const struct fmq_epoch_cache *c, int32_t req, int64_t leo, int32_t we,
   int64_t wo)
{
	int32_t e;
	int64_t o;

	fmq_epoch_end_offset_for(c, req, leo, &e, &o);
	CU_ASSERT_EQUAL(e, we);
	CU_ASSERT_EQUAL(o, wo);
	if (e != we || o != wo)
		fprintf(stderr, "endOffsetFor(%d, leo %" PRId64 ") = (%d, %"
			PRId64 "), expected (%d, %" PRId64 ")\n", req, leo,
			e, o, we, wo);
}

static void
test_end_offset_for(void)
{
	static struct fmq_epoch_cache c;

	fmq_epoch_init(&c);
	/* Empty: nothing known, whatever is asked. */
	eo(&c, 0, 10, -1, -1);
	eo(&c, -1, 10, -1, -1);
	CU_ASSERT_EQUAL(fmq_epoch_latest(&c), -1);
	/* Epochs 2@6, 4@11, 7@15; log end 20. */
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 2, 6), 1);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 4, 11), 1);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 7, 15), 1);
	CU_ASSERT_EQUAL(fmq_epoch_latest(&c), 7);
	eo(&c, 7, 20, 7, 20);      /* the latest: the log end */
	eo(&c, 4, 20, 4, 15);      /* the next epoch's start */
	eo(&c, 2, 20, 2, 11);
	eo(&c, 5, 20, 4, 15);      /* unknown: the largest below */
	eo(&c, 6, 20, 4, 15);
	eo(&c, 3, 20, 2, 11);
	eo(&c, 1, 20, 1, 6);       /* below all: itself, the first start */
	eo(&c, 0, 20, 0, 6);
	eo(&c, 8, 20, -1, -1);     /* above all: undefined */
	eo(&c, -1, 20, -1, -1);    /* UNDEFINED_EPOCH */
}

static void
test_assign(void)
{
	static struct fmq_epoch_cache c;
	struct fmq_epoch_entry e[FMQ_EPOCH_MAX];
	uint32_t n;

	fmq_epoch_init(&c);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, -1, 0), -1);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 0, -5), -1);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 1, 0), 1);
	/* The same epoch again, at or past its start: nothing. */
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 1, 0), 0);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 1, 9), 0);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 3, 10), 1);
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 5, 20), 1);
	/* A lower epoch: the higher ones go (they are not below it). */
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 4, 15), 1);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT(e[0].epoch == 1 && e[0].start == 0);
	CU_ASSERT(e[1].epoch == 3 && e[1].start == 10);
	CU_ASSERT(e[2].epoch == 4 && e[2].start == 15);
	/* A higher epoch at a lower start: entries starting at or after
	 * it go. */
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 6, 10), 1);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT(e[1].epoch == 6 && e[1].start == 10);
	/* The same epoch at a lower start moves it back. */
	CU_ASSERT_EQUAL(fmq_epoch_assign(&c, 6, 8), 1);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT(n == 2 && e[1].start == 8);

	/* truncateFromEnd: entries starting at or after the end go. */
	fmq_epoch_init(&c);
	fmq_epoch_assign(&c, 2, 6);
	fmq_epoch_assign(&c, 3, 8);
	fmq_epoch_assign(&c, 4, 11);
	fmq_epoch_truncate_end(&c, 12);     /* nothing starts there */
	CU_ASSERT_EQUAL(fmq_epoch_snapshot(&c, e), 3);
	fmq_epoch_truncate_end(&c, 8);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT(n == 1 && e[0].epoch == 2);
	eo(&c, 2, 8, 2, 8);
	eo(&c, 3, 8, -1, -1);

	/* truncateFromStart: the last entry at or before start stays,
	 * moved to start. */
	fmq_epoch_init(&c);
	fmq_epoch_assign(&c, 2, 6);
	fmq_epoch_assign(&c, 3, 8);
	fmq_epoch_assign(&c, 4, 11);
	fmq_epoch_truncate_start(&c, 5);    /* before every entry */
	CU_ASSERT_EQUAL(fmq_epoch_snapshot(&c, e), 3);
	fmq_epoch_truncate_start(&c, 9);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT(e[0].epoch == 3 && e[0].start == 9);
	CU_ASSERT(e[1].epoch == 4 && e[1].start == 11);
	fmq_epoch_truncate_start(&c, 11);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT(n == 1 && e[0].epoch == 4 && e[0].start == 11);

	/* Full: the oldest is forgotten. */
	fmq_epoch_init(&c);
	for (int32_t i = 0; i < FMQ_EPOCH_MAX + 3; i++)
		CU_ASSERT_EQUAL(fmq_epoch_assign(&c, i, 10 * i), 1);
	n = fmq_epoch_snapshot(&c, e);
	CU_ASSERT(n == FMQ_EPOCH_MAX && e[0].epoch == 3 &&
		  e[n - 1].epoch == FMQ_EPOCH_MAX + 2);
}

static void
test_file(void)
{
	static struct fmq_epoch_cache c;
	const char good[] = "0\n3\n0 0\n2 150\n5 1000\n";
	char buf[256];
	size_t len;

	fmq_epoch_init(&c);
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, good, strlen(good)), 0);
	len = fmq_epoch_format(&c, buf, sizeof(buf));
	CU_ASSERT_EQUAL(len, strlen(good));
	CU_ASSERT(memcmp(buf, good, strlen(good)) == 0);
	eo(&c, 2, 1200, 2, 1000);
	/* Kafka's rejects: another version, a short list, epochs out of
	 * order, junk. */
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, "1\n0\n", 4), -EINVAL);
	CU_ASSERT_EQUAL(fmq_epoch_latest(&c), -1);
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, "0\n2\n1 0\n", 8), -EINVAL);
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, "0\n2\n3 0\n1 5\n", 12),
			-EINVAL);
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, "0\n1\n1 x\n", 8), -EINVAL);
	CU_ASSERT_EQUAL(fmq_epoch_parse(&c, "0\n0\n", 4), 0);
	CU_ASSERT_EQUAL(fmq_epoch_latest(&c), -1);
}

static char *
slurp(const char *path)
{
	static char b[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = '\0';
	return b;
}

static int64_t
leo(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.high_watermark;
}

static void
peo(struct fmq_log_part *p, int32_t req, int32_t we, int64_t wo)
{
	int32_t e;
	int64_t o;

	fmq_log_epoch_end_offset(p, req, &e, &o);
	CU_ASSERT_EQUAL(e, we);
	CU_ASSERT_EQUAL(o, wo);
	if (e != we || o != wo)
		fprintf(stderr, "partition endOffsetFor(%d) = (%d, %" PRId64
			"), expected (%d, %" PRId64 ")\n", req, e, o, we, wo);
}

static void
test_partition(void)
{
	char hot[256], dir[256], pdir[300], ck[400], want[128];
	struct fmq_log_params lp = {
		.hot_pool_bytes = 16u << 20, .hot_chunk_bytes = 2u << 20,
		.nb_lcores = 1, .max_partitions = 16,
	};
	struct fmq_log *log = tu_log_create(&lp, shm_root, "ep", hot);
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_part *p, *f;
	static uint8_t b[65536];
	uint32_t len;
	int64_t e1, e2;
	char *s;

	CU_ASSERT_FATAL(log != NULL);
	tu_part_params(&pp, root, "ep", dir, "t", 1u << 20);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	snprintf(pdir, sizeof(pdir), "%s/t-0", dir);
	snprintf(ck, sizeof(ck), "%s/%s", pdir, FMQ_EPOCH_FILE);
	/* Epoch 0 (a single broker's) from the first append. */
	len = tb_build(b, sizeof(b), 3, 20, 1, 1700000000000LL);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
	CU_ASSERT_EQUAL(fmq_log_epoch_latest(p), 0);
	/* makeLeader with epoch 4 at the log end, then two batches. */
	fmq_log_part_set_leader_epoch(p, 4);
	e1 = leo(p);
	CU_ASSERT_EQUAL(fmq_log_epoch_latest(p), 4);
	peo(p, 0, 0, e1);
	for (int i = 0; i < 2; i++) {
		len = tb_build(b, sizeof(b), 2, 20, 2 + (uint64_t)i,
			       1700000000000LL);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
	}
	e2 = leo(p);
	peo(p, 4, 4, e2);
	peo(p, 3, 0, e1);
	peo(p, 9, -1, -1);
	/* The flusher writes the checkpoint; Kafka's format. */
	CU_ASSERT(fmq_log_flush(log, 0, true) >= 0);
	s = slurp(ck);
	snprintf(want, sizeof(want), "0\n2\n0 0\n4 %" PRId64 "\n", e1);
	CU_ASSERT(s != NULL && strcmp(s, want) == 0);
	/* A follower's batches carry their epoch: the first batch of an
	 * epoch starts it. */
	{
		char fdir[256];
		struct fmq_log_part_params fp;
		static uint8_t rd[1 << 16];
		struct fmq_log_range rg[8];
		struct fmq_log_read_result rr;
		uint32_t n = 0, pos = 0;

		tu_part_params(&fp, root, "epf", fdir, "u", 1u << 20);
		f = fmq_log_part_open(log, &fp);
		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_EQUAL(fmq_log_read_upto(p, 0, INT64_MAX,
						  sizeof(rd), rg, 8, &rr), 0);
		for (uint32_t i = 0; i < rr.nranges; i++) {
			fmq_log_range_copy(&rg[i], rd + n);
			n += rg[i].len;
			fmq_log_range_release(&rg[i]);
		}
		while (pos + 12 <= n) {
			uint32_t bl = (uint32_t)rd[pos + 8] << 24 |
				(uint32_t)rd[pos + 9] << 16 |
				(uint32_t)rd[pos + 10] << 8 | rd[pos + 11];
			CU_ASSERT_EQUAL(fmq_log_append_follower(f, rd + pos,
							12 + bl, &r), 0);
			pos += 12 + bl;
		}
		peo(f, 0, 0, e1);
		peo(f, 4, 4, e2);
		CU_ASSERT_EQUAL(fmq_log_part_close(f), 0);
	}
	/* Reopened: the same cache. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	peo(p, 0, 0, e1);
	peo(p, 4, 4, e2);
	/* The checkpoint lost (a crash before it was written): rebuilt
	 * from the batches, and written again. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	CU_ASSERT_EQUAL(unlink(ck), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	peo(p, 0, 0, e1);
	peo(p, 4, 4, e2);
	s = slurp(ck);
	CU_ASSERT(s != NULL && strcmp(s, want) == 0);
	/* A checkpoint with an epoch past the log (written, then the log
	 * lost its tail): cut to the log. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	{
		FILE *w = fopen(ck, "w");
		CU_ASSERT_FATAL(w != NULL);
		fprintf(w, "0\n3\n0 0\n4 %" PRId64 "\n6 %" PRId64 "\n", e1,
			e2 + 100);
		fclose(w);
	}
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(fmq_log_epoch_latest(p), 4);
	/* Truncation into epoch 4 (at its start): only epoch 0 is left,
	 * in the file and after reopening. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	CU_ASSERT_EQUAL(fmq_log_dir_truncate(pdir, e1), e1);
	s = slurp(ck);
	CU_ASSERT(s != NULL && strcmp(s, "0\n1\n0 0\n") == 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(leo(p), e1);
	CU_ASSERT_EQUAL(fmq_log_epoch_latest(p), 0);
	peo(p, 4, -1, -1);
	peo(p, 0, 0, e1);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-epochtest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-epochtest-%d",
		 tu_shm_base(), (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-epoch", NULL, NULL);
	CU_add_test(s, "endOffsetFor", test_end_offset_for);
	CU_add_test(s, "assign and truncation", test_assign);
	CU_add_test(s, "checkpoint format", test_file);
	CU_add_test(s, "partition cache", test_partition);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	return fails;
}
