/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log unit suite for the per-NUMA-node hot pool, with 2- and 4-node
 * layouts injected on whatever host runs it: one file per node, chunks of
 * a partition from its owner lcore's node, per-node free counts and
 * metrics, exhaustion (borrowing, then -EAGAIN), and recovery after a
 * crash across files, after an ownership change and after the node count
 * changed (4 -> 1 -> 2 nodes, files retired and shrunk).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>

#include <CUnit/CUnit.h>
#include <numa.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#define K 1024u
#define M (1024u * 1024u)
#define CHUNK (256u * K)
#define VLEN 4000
#define NREC 4

static char root[256];      /* data dirs of this run */
static char shm_root[256];  /* ordinary-memory hot dirs of this run */
static uint8_t *big;
#define BIG (8u << 20)

struct layout {
	uint32_t nodes;             /* 0: the single-node layout */
	uint64_t bytes[FMQ_LOG_MAX_NODES];
	uint64_t single;            /* hot_pool_bytes */
	uint32_t nl;
	int lnode[8];
};

static const struct layout L1 = { .nodes = 0, .single = 8 * M, .nl = 4 };
static const struct layout L2 = {
	.nodes = 2, .bytes = { 2 * M, 2 * M }, .nl = 2, .lnode = { 0, 1 },
};
static const struct layout L4 = {
	.nodes = 4, .bytes = { M, M, M, M }, .nl = 4,
	.lnode = { 0, 1, 2, 3 },
};

static struct fmq_log *
mk_log(const char *name, const struct layout *l, char *hot)
{
	struct fmq_log_params p = {
		.hot_pool_bytes = l->single, .hot_chunk_bytes = CHUNK,
		.nb_lcores = l->nl, .max_partitions = 64,
		.nb_nodes = l->nodes, .lcore_node = l->lnode,
	};
	char err[512];
	struct fmq_log *log;

	memcpy(p.node_hot_bytes, l->bytes, sizeof(p.node_hot_bytes));
	snprintf(hot, 256, "%s/%s", shm_root, name);
	p.hot_dir = hot;
	log = fmq_log_create(&p, err, sizeof(err));
	if (log == NULL)
		fprintf(stderr, "fmq_log_create: %s\n", err);
	return log;
}

static struct fmq_log_part *
open_part(struct fmq_log *log, const char *name, int part, uint32_t lcore)
{
	struct fmq_log_part_params pp;
	char dir[256];

	fmq_log_part_params_default(&pp);
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	pp.dir = dir;
	pp.topic = "numa";
	pp.partition = part;
	pp.lcore = lcore;
	pp.leader_epoch = 3;
	pp.max_message_bytes = 65536;
	pp.hot_bytes = 0;
	return fmq_log_part_open(log, &pp);
}

static uint32_t
batch(uint8_t *b, int part, int i)
{
	return tb_build(b, 32768, NREC, VLEN, (uint64_t)(part * 100000 + i), i);
}

static long
file_size(const char *hot, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", hot, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Node 1 exists on this host (then mbind to it can succeed). */
static bool
host_has_node(int n)
{
	return numa_available() >= 0 && numa_max_node() >= n &&
		numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)n);
}

/* Batches of partition `part' read back are batch(part, 0..) in order. */
struct seq_ctx {
	int part;
	int i;
	int bad;
};

static int
seq_cb(const uint8_t *b, uint32_t size, void *arg)
{
	struct seq_ctx *c = arg;
	uint8_t want[32768];
	uint32_t sz = batch(want, c->part, c->i);

	if (size != sz || memcmp(b + 16, want + 16, sz - 16) != 0 ||
	    (int64_t)tb_rd64(b) != (int64_t)NREC * c->i)
		c->bad++;
	c->i++;
	return 0;
}

static void
check_part(struct fmq_log_part *p, int part, int n)
{
	struct fmq_log_offsets o;
	struct seq_ctx c = { .part = part };

	fmq_log_part_offsets(p, &o);
	CU_ASSERT_EQUAL(o.high_watermark, (int64_t)NREC * n);
	CU_ASSERT_EQUAL(tu_read_all(p, 0, big, BIG, seq_cb, &c), n);
	CU_ASSERT_EQUAL(c.bad, 0);
}

static bool
in_pool(const struct fmq_log *log, uint32_t node, const void *addr)
{
	struct fmq_log_pool_info pi;

	if (fmq_log_hot_pool_info(log, node, &pi) != 0)
		return false;
	return (const uint8_t *)addr >= (const uint8_t *)pi.va &&
		(const uint8_t *)addr < (const uint8_t *)pi.va + pi.len;
}

/* Hot ranges of a partition from offset 0: how many lie in each node. */
static void
count_ranges(struct fmq_log_part *p, const struct fmq_log *log,
	     uint32_t *per_node, uint32_t nn)
{
	struct fmq_log_range r[64];
	struct fmq_log_read_result res;
	int64_t cur = 0;

	for (;;) {
		if (fmq_log_read(p, cur, 64 * M, r, 64, &res) != 0 ||
		    res.nranges == 0)
			break;
		for (uint32_t i = 0; i < res.nranges; i++) {
			for (uint32_t n = 0; n < nn; n++)
				if (r[i].addr != NULL &&
				    in_pool(log, n, r[i].addr))
					per_node[n]++;
			cur = r[i].next_offset;
			fmq_log_range_release(&r[i]);
		}
		if (cur >= res.high_watermark)
			break;
	}
}

/* ------------------------------------------------------------------ */

static void
test_files_and_placement(void)
{
	char hot[256];
	struct fmq_log *log = mk_log("place", &L2, hot);
	struct fmq_log_pool_info pi0, pi1, pi;
	struct fmq_log_append_result res;
	struct fmq_log_part *a, *b;
	struct fmq_log_stats st;
	struct fmq_metrics *reg;
	uint32_t na[2] = { 0 }, nb[2] = { 0 };
	uint8_t buf[32768];
	size_t len;
	char *txt;

	CU_ASSERT_FATAL(log != NULL);
	/* One file per node, node 0 under the single-node name. */
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), 2 * M);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), 2 * M);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 2, &pi), -ENOENT);
	CU_ASSERT_EQUAL(pi0.chunks_total, 8);
	CU_ASSERT_EQUAL(pi1.chunks_total, 8);
	CU_ASSERT_EQUAL(pi0.chunks_free, 8);
	CU_ASSERT_EQUAL(pi1.chunks_free, 8);
	CU_ASSERT(strstr(pi1.path, "/hotpool.node1") != NULL);
	/* A node this host lacks: unbound, counted once, still usable. */
	CU_ASSERT_EQUAL(pi0.bound, host_has_node(0));
	CU_ASSERT_EQUAL(pi0.mbind_failures, host_has_node(0) ? 0 : 1);
	CU_ASSERT_EQUAL(pi1.bound, host_has_node(1));
	CU_ASSERT_EQUAL(pi1.mbind_failures, host_has_node(1) ? 0 : 1);

	/* Lcore 1 is on node 1, lcore 0 on node 0. */
	a = open_part(log, "place", 0, 1);
	b = open_part(log, "place", 1, 0);
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	for (int i = 0; i < 20; i++) {
		uint32_t sz = batch(buf, 0, i);

		CU_ASSERT_EQUAL(fmq_log_append_buf(a, buf, sz, &res), 0);
		sz = batch(buf, 1, i);
		CU_ASSERT_EQUAL(fmq_log_append_buf(b, buf, sz, &res), 0);
	}
	count_ranges(a, log, na, 2);
	count_ranges(b, log, nb, 2);
	CU_ASSERT(na[1] > 0 && na[0] == 0);
	CU_ASSERT(nb[0] > 0 && nb[1] == 0);
	/* 20 batches of ~16 KiB: two chunks each (an lcore's cache holds
	 * at most one chunk here, and both were taken). */
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.chunks_free, 6);
	CU_ASSERT_EQUAL(pi1.chunks_free, 6);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_total, 16);
	CU_ASSERT_EQUAL(st.chunks_free, 12);
	CU_ASSERT_EQUAL(st.remote_chunks, 0);
	CU_ASSERT_EQUAL(st.mbind_failures,
			(host_has_node(0) ? 0u : 1u) +
			(host_has_node(1) ? 0u : 1u));

	reg = fmq_metrics_create();
	fmq_metrics_register(reg, fmq_log_metrics, log);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT_FATAL(txt != NULL);
	CU_ASSERT(strstr(txt, "fluxmq_log_hot_node_chunks{node=\"1\"} 8") !=
		  NULL);
	CU_ASSERT(strstr(txt,
			 "fluxmq_log_hot_node_chunks_free{node=\"0\"} 6") !=
		  NULL);
	CU_ASSERT(strstr(txt, host_has_node(1) ?
			 "fluxmq_log_hot_node_mbind_failures_total{node=\"1\"} 0" :
			 "fluxmq_log_hot_node_mbind_failures_total{node=\"1\"} 1")
		  != NULL);
	CU_ASSERT(strstr(txt, "fluxmq_log_hot_remote_chunks_total 0") !=
		  NULL);
	free(txt);
	fmq_metrics_free(reg);

	CU_ASSERT_EQUAL(fmq_log_part_close(a), 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(b), 0);
	/* Every chunk went back to its own node's pool. */
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.chunks_free, 8);
	CU_ASSERT_EQUAL(pi1.chunks_free, 8);
	fmq_log_free(log);
	CU_ASSERT_EQUAL(fmq_log_destroy_pool(hot), 0);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), -1);

	/* The single-node layout is what it always was: one "hotpool" of
	 * log.hot.pool.bytes, never bound, no node files. */
	log = mk_log("single", &L1, hot);
	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), 8 * M);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), -1);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT(!pi0.bound);
	CU_ASSERT_EQUAL(pi0.mbind_failures, 0);
	CU_ASSERT_EQUAL(pi0.chunks_total, 32);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi), -ENOENT);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* Node 1's pool runs dry while the flusher is stalled: its lcore borrows
 * node 0's chunks one at a time (counted), then backs off with -EAGAIN
 * once no node has any; the flusher gives each chunk back to its node. */
/* On hugetlbfs a bound pool is prefaulted and its pages' nodes checked:
 * on the node that exists here nothing is misplaced. */
static void
test_hugetlbfs(void)
{
	const char *huge = tu_hugetlbfs();
	struct fmq_log_params p = {
		.hot_chunk_bytes = CHUNK, .nb_lcores = 2, .max_partitions = 4,
		.nb_nodes = 2, .node_hot_bytes = { 2 * M, 2 * M },
		.lcore_node = L2.lnode,
	};
	struct fmq_log_pool_info pi0, pi1;
	struct fmq_log *log;
	char hot[256], err[512];

	if (huge == NULL) {
		fprintf(stderr, "  (no writable hugetlbfs mount: skipped)\n");
		return;
	}
	snprintf(hot, sizeof(hot), "%s/fmq21-numatest-%d", huge,
		 (int)getpid());
	p.hot_dir = hot;
	log = fmq_log_create(&p, err, sizeof(err));
	if (log == NULL) {
		fprintf(stderr, "  hugetlbfs pool: %s\n", err);
		CU_ASSERT(errno == ENOMEM && strstr(err, "reserve") != NULL);
		fmq_log_destroy_pool(hot);
		return;
	}
	CU_ASSERT(fmq_log_hot_is_huge(log));
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.bound, host_has_node(0));
	CU_ASSERT_EQUAL(pi0.misplaced_pages, 0);
	CU_ASSERT_EQUAL(pi1.bound, host_has_node(1));
	CU_ASSERT_EQUAL(pi0.chunks_free, 8);
	CU_ASSERT_EQUAL(pi1.chunks_free, 8);
	fmq_log_free(log);
	CU_ASSERT_EQUAL(fmq_log_destroy_pool(hot), 0);
}

static void
test_exhaustion(void)
{
	char hot[256];
	struct fmq_log *log = mk_log("exh", &L2, hot);
	struct fmq_log_pool_info pi0, pi1;
	struct fmq_log_append_result res;
	struct fmq_log_part *a, *b;
	struct fmq_log_stats st;
	uint32_t na[2] = { 0 };
	uint8_t buf[32768];
	int n = 0, rc = 0;

	CU_ASSERT_FATAL(log != NULL);
	a = open_part(log, "exh", 0, 1);
	b = open_part(log, "exh", 1, 0);
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	fmq_log_flush_stall(log, true);
	while (n < 1000) {
		uint32_t sz = batch(buf, 0, n);

		rc = fmq_log_append_buf(a, buf, sz, &res);
		if (rc != 0)
			break;
		n++;
	}
	CU_ASSERT_EQUAL(rc, -EAGAIN);
	/* 16 chunks of ~15 batches. */
	CU_ASSERT(n >= 16 * 14 && n <= 16 * 16);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.remote_chunks, 8);
	CU_ASSERT_EQUAL(st.chunks_free, 0);
	CU_ASSERT(st.backpressure >= 1);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.chunks_free, 0);
	CU_ASSERT_EQUAL(pi1.chunks_free, 0);
	count_ranges(a, log, na, 2);
	CU_ASSERT(na[0] > 0 && na[1] > 0);
	/* Lcore 0 has nothing left anywhere either. */
	{
		uint32_t sz = batch(buf, 1, 0);

		CU_ASSERT_EQUAL(fmq_log_append_buf(b, buf, sz, &res), -EAGAIN);
	}

	/* The flusher catches up: under pressure it recycles everything
	 * written through, each chunk into its own node's ring. */
	fmq_log_flush_stall(log, false);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) > 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.chunks_free, 8);
	CU_ASSERT_EQUAL(pi1.chunks_free, 8);
	{
		uint32_t sz = batch(buf, 1, 0);

		CU_ASSERT_EQUAL(fmq_log_append_buf(b, buf, sz, &res), 0);
		sz = batch(buf, 0, n);
		CU_ASSERT_EQUAL(fmq_log_append_buf(a, buf, sz, &res), 0);
	}
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.remote_chunks, 8);   /* node 1 had free again */
	check_part(a, 0, n + 1);
	check_part(b, 1, 1);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* A child opens the partitions (partition k owned by lcore owner[k]),
 * appends n[k] batches after what is there, and is killed before any
 * flush: everything it appended is only in the hot pool files. */
static void
crash_child(const char *name, const struct layout *l, int np,
	    const uint32_t *owner, const int *from, const int *n)
{
	pid_t pid = fork();
	int status;

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char hot[256];
		struct fmq_log *log = mk_log(name, l, hot);
		struct fmq_log_part *p[8];
		struct fmq_log_append_result res;
		uint8_t buf[32768];

		if (log == NULL)
			_exit(2);
		for (int k = 0; k < np; k++)
			if ((p[k] = open_part(log, name, k, owner[k])) == NULL)
				_exit(3);
		fmq_log_recovery_done(log);
		for (int i = 0; i < 200; i++)
			for (int k = 0; k < np; k++) {
				uint32_t sz;

				if (i >= n[k])
					continue;
				sz = batch(buf, k, from[k] + i);
				if (fmq_log_append_buf(p[k], buf, sz, &res) != 0)
					_exit(4);
			}
		raise(SIGKILL);
		_exit(5);
	}
	waitpid(pid, &status, 0);
	CU_ASSERT_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* After a crash, reopen with another layout or ownership: every batch is
 * found in whichever file it was in and written through. */
static struct fmq_log *
reopen_check(const char *name, const struct layout *l, int np,
	     const uint32_t *owner, const int *expect, char *hot)
{
	struct fmq_log *log = mk_log(name, l, hot);
	struct fmq_log_stats st;

	CU_ASSERT_FATAL(log != NULL);
	for (int k = 0; k < np; k++) {
		struct fmq_log_part *p = open_part(log, name, k, owner[k]);
		struct fmq_log_offsets o;

		CU_ASSERT_FATAL(p != NULL);
		fmq_log_part_offsets(p, &o);
		CU_ASSERT_EQUAL(o.synced, o.high_watermark);
		check_part(p, k, expect[k]);
	}
	fmq_log_recovery_done(log);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.recovered_batches > 0);
	CU_ASSERT_EQUAL(st.chunks_free, st.chunks_total);
	return log;
}

/* Power loss after the recovery: the written-through data is all there
 * is, and it must be complete. */
static void
power_loss_check(const char *name, const struct layout *l, int np,
		 const int *expect)
{
	char hot[256];
	struct fmq_log *log;

	snprintf(hot, sizeof(hot), "%s/%s", shm_root, name);
	CU_ASSERT_EQUAL(fmq_log_destroy_pool(hot), 0);
	log = mk_log(name, l, hot);
	CU_ASSERT_FATAL(log != NULL);
	for (int k = 0; k < np; k++) {
		struct fmq_log_part *p = open_part(log, name, k, 0);

		CU_ASSERT_FATAL(p != NULL);
		check_part(p, k, expect[k]);
	}
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_recovery_two_nodes(void)
{
	static const uint32_t own[] = { 0, 1 }, swapped[] = { 1, 0 };
	static const int zero[] = { 0, 0 }, n[] = { 40, 45 };
	static const int more[] = { 5, 5 }, total[] = { 45, 50 };
	char hot[256];
	struct fmq_log *log;
	struct fmq_log_pool_info pi0, pi1;

	crash_child("rec2", &L2, 2, own, zero, n);
	/* The same layout, ownership swapped: partition 1's chunks are in
	 * node 1's file but its owner is on node 0 now. */
	log = reopen_check("rec2", &L2, 2, swapped, n, hot);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi0), 0);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi1), 0);
	CU_ASSERT_EQUAL(pi0.chunks_free, 8);
	CU_ASSERT_EQUAL(pi1.chunks_free, 8);
	fmq_log_free(log);
	/* And crash again under the new owners. */
	crash_child("rec2", &L2, 2, swapped, n, more);
	log = reopen_check("rec2", &L2, 2, own, total, hot);
	fmq_log_free(log);
	power_loss_check("rec2", &L2, 2, total);
}

static void
test_recovery_node_count(void)
{
	static const uint32_t own4[] = { 0, 1, 2, 3 }, own1[] = { 0, 0, 0, 0 };
	static const uint32_t own2[] = { 1, 0, 1, 0 };
	static const int zero[] = { 0, 0, 0, 0 }, n4[] = { 30, 30, 30, 30 };
	static const int n1[] = { 60, 60, 60, 60 };
	static const int t2[] = { 90, 90, 90, 90 };
	const struct layout L2s = {
		.nodes = 2, .bytes = { M, M }, .nl = 2, .lnode = { 0, 1 },
	};
	char hot[256];
	struct fmq_log *log;
	struct fmq_log_stats st;

	/* 4 nodes -> 1: node files 1..3 are recovered, then removed; node
	 * 0's file grows to the single pool's size. */
	crash_child("cnt", &L4, 4, own4, zero, n4);
	snprintf(hot, sizeof(hot), "%s/cnt", shm_root);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), M);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node3"), M);
	log = reopen_check("cnt", &L1, 4, own1, n4, hot);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), 8 * M);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), -1);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node2"), -1);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node3"), -1);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_total, 32);
	fmq_log_free(log);

	/* 1 node -> 2 with a smaller node 0: the 8 MiB file holds data far
	 * past its new 1 MiB; recovered, then the file is cut. */
	crash_child("cnt", &L1, 4, own1, n4, n1);
	log = reopen_check("cnt", &L2s, 4, own2, t2, hot);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), M);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), M);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.chunks_total, 8);
	fmq_log_free(log);
	power_loss_check("cnt", &L2s, 4, t2);
}

/* A node with no share (no lcores there) gets no file; an lcore on such
 * a node, or on a node outside the layout, draws from the first pool. */
static void
test_odd_layouts(void)
{
	const struct layout l = {
		.nodes = 3, .bytes = { 0, 2 * M, 0 }, .nl = 2,
		.lnode = { 2, 7 },
	};
	char hot[256], err[256];
	struct fmq_log_pool_info pi;
	struct fmq_log_append_result res;
	struct fmq_log *log = mk_log("odd", &l, hot);
	struct fmq_log_part *p;
	uint8_t buf[32768];
	uint32_t sz, nn[2] = { 0 };

	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool"), -1);
	CU_ASSERT_EQUAL(file_size(hot, "hotpool.node1"), 2 * M);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 0, &pi), -ENOENT);
	CU_ASSERT_EQUAL(fmq_log_hot_pool_info(log, 1, &pi), 0);
	p = open_part(log, "odd", 0, 1);
	CU_ASSERT_FATAL(p != NULL);
	sz = batch(buf, 0, 0);
	CU_ASSERT_EQUAL(fmq_log_append_buf(p, buf, sz, &res), 0);
	count_ranges(p, log, nn, 2);
	CU_ASSERT_EQUAL(nn[1], 1);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);

	/* Nothing to map at all, or too many nodes: refused. */
	{
		struct fmq_log_params p2 = {
			.hot_dir = hot, .hot_chunk_bytes = CHUNK,
			.hot_pool_bytes = 8 * M, .nb_lcores = 1,
			.max_partitions = 4, .nb_nodes = 2,
		};

		CU_ASSERT(fmq_log_create(&p2, err, sizeof(err)) == NULL);
		CU_ASSERT_EQUAL(errno, EINVAL);
		p2.nb_nodes = FMQ_LOG_MAX_NODES + 1;
		CU_ASSERT(fmq_log_create(&p2, err, sizeof(err)) == NULL);
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-numatest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-numatest-%d",
		 tu_shm_base(), (int)getpid());
	big = malloc(BIG);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-numa", NULL, NULL);
	fmq_test_slow(CU_add_test(s, "one file per node, chunks from the owner's node",
				  test_files_and_placement));
	CU_add_test(s, "hugetlbfs: bound, prefaulted, placement checked",
		    test_hugetlbfs);
	CU_add_test(s, "exhaustion: borrow, then -EAGAIN", test_exhaustion);
	fmq_test_slow(CU_add_test(s, "crash recovery across files, ownership changed",
				  test_recovery_two_nodes));
	fmq_test_slow(CU_add_test(s, "crash recovery after the node count changed",
				  test_recovery_node_count));
	CU_add_test(s, "nodes without a share, unknown nodes",
		    test_odd_layouts);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	free(big);
	return fails;
}
