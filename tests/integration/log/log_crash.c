/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash-test harness for lib/log (driven by test_log_crash.sh).
 *
 *   fmq-log-crash run <data> <hot> <acks> <synced>
 *       Append batches forever with a flusher thread; after each
 *       acknowledged append write "seq base last" to <acks>; the flusher
 *       writes the synced offset to <synced>. Meant to be SIGKILLed.
 *   fmq-log-crash verify <data> <hot> <acks> [durable <synced> | end <X>]
 *       Open (recover), check every acknowledged batch is present and
 *       equal to what was appended (only those below the synced offset
 *       with "durable", below X with "end", where the end must also be
 *       exactly X), close, then parse the segment files directly: every
 *       batch valid, offsets contiguous, each file ending on a batch.
 *   fmq-log-crash cut <data>
 *       Truncate the last segment file in the middle of its last batch;
 *       print that batch's base offset (the expected new end).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"

#define TOPIC "crash"
#define POOL (16u << 20)
#define CHUNK (256u << 10)

static struct fmq_log *
open_log(const char *hot)
{
	struct fmq_log_params p = {
		.hot_dir = hot, .hot_pool_bytes = POOL,
		.hot_chunk_bytes = CHUNK, .nb_lcores = 1,
		.max_partitions = 4,
	};
	char err[512];
	struct fmq_log *log = fmq_log_create(&p, err, sizeof(err));

	if (log == NULL)
		fprintf(stderr, "fmq_log_create: %s\n", err);
	return log;
}

static struct fmq_log_part *
open_part(struct fmq_log *log, const char *data)
{
	struct fmq_log_part_params pp;

	fmq_log_part_params_default(&pp);
	pp.dir = data;
	pp.topic = TOPIC;
	pp.partition = 0;
	pp.max_message_bytes = 65536;
	pp.segment_bytes = 256 << 10;
	pp.index_interval_bytes = 2048;
	pp.hot_bytes = 512 << 10;
	pp.flush_ms = 20;
	return fmq_log_part_open(log, &pp);
}

static uint32_t
gen_batch(uint8_t *b, uint32_t cap, uint64_t seq)
{
	return tb_build(b, cap, (int32_t)(1 + seq % 7),
			(uint32_t)(20 + (seq * 37) % 900), seq,
			1700000000000LL + (int64_t)seq);
}

static atomic_bool stop;
static struct fmq_log *g_log;
static int g_sync_fd;

static void *
flusher(void *arg)
{
	struct fmq_log_part *p = arg;

	while (!atomic_load(&stop)) {
		struct fmq_log_offsets o;
		char line[32];

		fmq_log_flush(g_log, fmq_now_ns(), false);
		fmq_log_part_offsets(p, &o);
		snprintf(line, sizeof(line), "%20" PRId64 "\n", o.synced);
		if (pwrite(g_sync_fd, line, 21, 0) != 21)
			abort();
		usleep(1000);
	}
	return NULL;
}

static long
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

static int
cmd_run(const char *data, const char *hot, const char *acks,
	const char *synced)
{
	struct fmq_log_part *p;
	struct fmq_log_append_result res;
	uint8_t b[65536];
	pthread_t th;
	uint64_t seq = (uint64_t)count_lines(acks);
	int afd;

	g_log = open_log(hot);
	if (g_log == NULL)
		return 1;
	p = open_part(g_log, data);
	if (p == NULL)
		return 1;
	fmq_log_recovery_done(g_log);
	afd = open(acks, O_WRONLY | O_CREAT | O_APPEND, 0644);
	g_sync_fd = open(synced, O_WRONLY | O_CREAT, 0644);
	if (afd < 0 || g_sync_fd < 0)
		return 1;
	pthread_create(&th, NULL, flusher, p);
	for (;; seq++) {
		uint32_t sz = gen_batch(b, sizeof(b), seq);
		char line[96];
		int rc, n;

		while ((rc = fmq_log_append_buf(p, b, sz, &res)) == -EAGAIN)
			usleep(200);
		if (rc != 0) {
			fprintf(stderr, "append: %d (kafka %d)\n", rc,
				res.error);
			return 1;
		}
		/* The acknowledgement a producer would get. */
		n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRId64 " %"
			     PRId64 "\n", seq, res.base_offset,
			     res.last_offset);
		if (write(afd, line, (size_t)n) != n)
			return 1;
	}
	return 0;
}

/* Parse every .log file in order: valid batches, contiguous offsets,
 * each file ending exactly after a batch. Returns the end offset. */
static int64_t
scan_files(const char *pdir, int64_t start, long *nbatches)
{
	struct dirent **names;
	int n = scandir(pdir, &names, NULL, alphasort);
	int64_t next = -1;
	uint8_t *buf = malloc(1 << 20);

	*nbatches = 0;
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		char path[1024];
		struct stat st;
		uint64_t pos = 0;
		int fd;

		if (strlen(nm) != 24 || strcmp(nm + 20, ".log") != 0)
			goto next_file;
		snprintf(path, sizeof(path), "%s/%s", pdir, nm);
		fd = open(path, O_RDONLY);
		if (fd < 0 || fstat(fd, &st) != 0)
			goto bad;
		if (next < 0)
			next = strtoll(nm, NULL, 10);
		if (strtoll(nm, NULL, 10) != next) {
			fprintf(stderr, "%s: base is not %" PRId64 "\n", nm,
				next);
			goto bad;
		}
		while (pos < (uint64_t)st.st_size) {
			uint8_t h[12];
			uint32_t sz;

			if (pread(fd, h, 12, (off_t)pos) != 12)
				goto torn;
			sz = tb_rd32(h + 8) + 12;
			if (sz > (1u << 20) || pos + sz > (uint64_t)st.st_size ||
			    pread(fd, buf, sz, (off_t)pos) != (ssize_t)sz)
				goto torn;
			if (fmq_log_batch_check(buf, sz, UINT32_MAX, NULL) != 0 ||
			    (int64_t)tb_rd64(buf) != next)
				goto torn;
			next += tb_rd32(buf + 23) + 1;
			pos += sz;
			(*nbatches)++;
		}
		close(fd);
		goto next_file;
torn:
		fprintf(stderr, "%s: not a batch boundary at %" PRIu64
			" (size %jd)\n", path, pos, (intmax_t)st.st_size);
		close(fd);
		goto bad;
next_file:
		free(names[i]);
	}
	free(names);
	free(buf);
	(void)start;
	return next;
bad:
	free(buf);
	return -2;
}

struct ack {
	uint64_t seq;
	int64_t base;
	int64_t last;
};

static int
cmd_verify(const char *data, const char *hot, const char *acks,
	   const char *mode, const char *arg)
{
	struct fmq_log *log = open_log(hot);
	struct fmq_log_part *p;
	struct fmq_log_offsets o;
	struct fmq_log_stats st;
	char pdir[1024];
	uint8_t want[65536], *got = malloc(4 << 20);
	int64_t limit = INT64_MAX, end;
	long nacks = 0, checked = 0, bad = 0, nb;
	struct ack a;
	FILE *f;

	if (log == NULL || got == NULL)
		return 1;
	p = open_part(log, data);
	if (p == NULL)
		return 1;
	fmq_log_recovery_done(log);
	fmq_log_part_offsets(p, &o);
	if (mode != NULL && strcmp(mode, "durable") == 0) {
		FILE *sf = fopen(arg, "r");

		if (sf == NULL || fscanf(sf, "%" SCNd64, &limit) != 1)
			limit = 0;
		if (sf != NULL)
			fclose(sf);
		if (o.high_watermark < limit) {
			fprintf(stderr, "end %" PRId64 " is below the synced "
				"offset %" PRId64 "\n", o.high_watermark,
				limit);
			bad++;
		}
	} else if (mode != NULL && strcmp(mode, "end") == 0) {
		limit = strtoll(arg, NULL, 10);
		if (o.high_watermark != limit) {
			fprintf(stderr, "end %" PRId64 ", expected %" PRId64
				"\n", o.high_watermark, limit);
			bad++;
		}
	}
	f = fopen(acks, "r");
	while (f != NULL && fscanf(f, "%" SCNu64 " %" SCNd64 " %" SCNd64,
				   &a.seq, &a.base, &a.last) == 3) {
		struct fmq_log_range r;
		struct fmq_log_read_result rr;
		uint32_t sz;

		nacks++;
		if (a.last >= limit)
			continue;
		checked++;
		sz = gen_batch(want, sizeof(want), a.seq);
		if (fmq_log_read(p, a.base, 1, &r, 1, &rr) != 0 ||
		    rr.nranges != 1) {
			fprintf(stderr, "acked batch %" PRIu64 " at %" PRId64
				" missing (hw %" PRId64 ")\n", a.seq, a.base,
				o.high_watermark);
			bad++;
			continue;
		}
		if (r.first_offset != a.base || r.len != sz ||
		    fmq_log_range_copy(&r, got) != 0 ||
		    memcmp(got + 16, want + 16, sz - 16) != 0 ||
		    fmq_log_batch_check(got, sz, UINT32_MAX, NULL) != 0) {
			fprintf(stderr, "acked batch %" PRIu64 " at %" PRId64
				" differs\n", a.seq, a.base);
			bad++;
		}
		fmq_log_range_release(&r);
	}
	if (f != NULL)
		fclose(f);
	/* Everything readable through the API, too. */
	if (tu_read_all(p, o.log_start, got, 4 << 20, NULL, NULL) < 0) {
		fprintf(stderr, "read_all failed\n");
		bad++;
	}
	fmq_log_stats(log, &st);
	fmq_log_free(log);
	snprintf(pdir, sizeof(pdir), "%s/%s-0", data, TOPIC);
	end = scan_files(pdir, o.log_start, &nb);
	if (end != o.high_watermark) {
		fprintf(stderr, "files end at %" PRId64 ", log at %" PRId64
			"\n", end, o.high_watermark);
		bad++;
	}
	printf("verify: end %" PRId64 ", %ld acks (%ld checked), %ld "
	       "batches in files, %" PRIu64 " recovered from the hot pool, %"
	       PRIu64 " bytes truncated: %s\n", o.high_watermark, nacks,
	       checked, nb, st.recovered_batches, st.truncated_bytes,
	       bad ? "FAIL" : "ok");
	free(got);
	return bad ? 1 : 0;
}

static int
cmd_cut(const char *data)
{
	char pdir[1024], path[1100];
	struct dirent **names;
	struct stat st;
	uint64_t pos = 0, prev = 0;
	int64_t base = -1;
	int n, fd;

	snprintf(pdir, sizeof(pdir), "%s/%s-0", data, TOPIC);
	n = scandir(pdir, &names, NULL, alphasort);
	for (int i = n - 1; i >= 0; i--) {
		if (base < 0 && strlen(names[i]->d_name) == 24 &&
		    strcmp(names[i]->d_name + 20, ".log") == 0) {
			snprintf(path, sizeof(path), "%s/%s", pdir,
				 names[i]->d_name);
			if (stat(path, &st) == 0 && st.st_size > 0)
				base = 0;
		}
		free(names[i]);
	}
	free(names);
	if (base < 0)
		return 1;
	fd = open(path, O_RDWR);
	while (pos < (uint64_t)st.st_size) {
		uint8_t h[12];

		if (pread(fd, h, 12, (off_t)pos) != 12)
			return 1;
		prev = pos;
		base = (int64_t)tb_rd64(h);
		pos += tb_rd32(h + 8) + 12;
	}
	/* Cut into the middle of the last batch. */
	if (ftruncate(fd, (off_t)(prev + (pos - prev) / 2)) != 0)
		return 1;
	close(fd);
	printf("%" PRId64 "\n", base);
	return 0;
}

int
main(int argc, char **argv)
{
	fmq_log_set_level(FMQ_LOG_WARN);
	if (argc == 6 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2], argv[3], argv[4], argv[5]);
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2], argv[3], argv[4],
				  argc == 7 ? argv[5] : NULL,
				  argc == 7 ? argv[6] : NULL);
	if (argc == 3 && strcmp(argv[1], "cut") == 0)
		return cmd_cut(argv[2]);
	fprintf(stderr, "usage: %s run|verify|cut ...\n", argv[0]);
	return 2;
}
