/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq-bench-log: append throughput of lib/log (CRC validation on) for
 * 1 KiB, 16 KiB and 1 MiB batches, beside the single-core memcpy and ISA-L
 * crc32_iscsi rates measured in the same run.
 *
 *   fluxmq-bench-log [-t seconds-per-size] [-r record-value-bytes]
 *                    [-s batch-bytes[,batch-bytes...]] [-c] [-H hot-dir]
 *                    [-D data-dir]
 *
 * -s picks the batch sizes (default 1024,16384,1048576); the issue 4 row,
 * 1 MiB batches of 200-byte records, is `-s 1048576 -r 200'. -c times the
 * memcpy, CRC and append loops with the thread's CPU clock instead of the
 * wall clock (for a machine shared with other work).
 *
 * Two figures per size:
 *  - append: the data lcore's cost alone. Appends fill the pool, the clock
 *    stops, the flusher writes everything through and recycles it, and the
 *    clock starts again.
 *  - sustained: appends on this thread with the flusher on another thread
 *    writing through to the data directory at the same time (back-pressure
 *    included). The data directory defaults to /dev/shm so the figure is
 *    the software path, not this machine's disk; point -D at a real file
 *    system to measure that.
 * Progress goes to stderr; the last line on stdout is one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"

#define REGION (64u << 20)   /* memcpy destination, well beyond the LLC */

static double
now_s(void)
{
	return (double)fmq_now_ns() / 1e9;
}

/* The clock of the timed loops (memcpy, crc32_iscsi, append): wall time,
 * or with -c this thread's CPU time, which leaves out the time other
 * processes had the core (a shared machine). The sustained figure is
 * always wall time: it includes back-off sleeps by design. */
static clockid_t busy_clock = CLOCK_MONOTONIC;

static double
busy_s(void)
{
	struct timespec ts;

	clock_gettime(busy_clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* memcpy of `size'-byte blocks from one hot source into a 64 MiB region,
 * as append copies into chunks. */
static double
memcpy_gbps(const uint8_t *src, uint32_t size, uint8_t *dst, double secs)
{
	uint64_t bytes = 0, off = 0;
	double t0 = busy_s(), t;

	do {
		for (int i = 0; i < 64; i++) {
			if (off + size > REGION)
				off = 0;
			memcpy(dst + off, src, size);
			off += size;
			bytes += size;
		}
		t = busy_s() - t0;
	} while (t < secs);
	return (double)bytes / t / 1e9;
}

static double
crc_gbps(const uint8_t *src, uint32_t size, double secs)
{
	uint64_t bytes = 0;
	volatile uint32_t sink = 0;
	double t0 = busy_s(), t;

	do {
		for (int i = 0; i < 64; i++) {
			sink += crc32_iscsi((unsigned char *)(uintptr_t)src,
					    (int)size, 0xFFFFFFFFu);
			bytes += size;
		}
		t = busy_s() - t0;
	} while (t < secs);
	(void)sink;
	return (double)bytes / t / 1e9;
}

static atomic_bool flusher_stop;
static struct fmq_log *g_log;

static void *
flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&flusher_stop)) {
		if (fmq_log_flush(g_log, fmq_now_ns(), false) == 0)
			usleep(50);
		fmq_log_retention(g_log, fmq_wall_ms());
	}
	return NULL;
}

struct result {
	uint32_t size;
	uint32_t records;
	double append_gbps, append_bps;
	double sustained_gbps, sustained_bps;
	double memcpy_gbps, crc_gbps;
	uint64_t backpressure;
};

static struct fmq_log_part *
open_part(const char *data, uint32_t size)
{
	struct fmq_log_part_params pp;
	char topic[32];

	fmq_log_part_params_default(&pp);
	snprintf(topic, sizeof(topic), "bench%u", size);
	pp.dir = data;
	pp.topic = topic;
	pp.max_message_bytes = 1100000;
	pp.hot_bytes = 0;
	pp.retention_bytes = 64ll << 20;   /* keep the data dir small */
	pp.retention_ms = -1;
	pp.flush_ms = 10;
	return fmq_log_part_open(g_log, &pp);
}

static int
run_size(const char *data, uint32_t size, uint32_t vlen, double secs,
	 uint8_t *region, struct result *r)
{
	uint8_t *b = malloc(size + 65536);
	struct fmq_log_append_result res;
	struct fmq_log_part *p;
	struct fmq_log_stats st0, st1;
	int32_t n = tb_records_for(size, vlen);
	uint64_t batches = 0;
	double t, t0, busy = 0;
	pthread_t th;

	r->size = tb_build(b, size + 65536, n, vlen, 1, fmq_wall_ms());
	r->records = (uint32_t)n;
	r->memcpy_gbps = memcpy_gbps(b, r->size, region, secs / 2);
	r->crc_gbps = crc_gbps(b, r->size, secs / 2);

	/* 1. The append path alone. */
	p = open_part(data, size);
	if (p == NULL)
		return -1;
	t0 = now_s();
	while (now_s() - t0 < secs) {
		double a = busy_s();
		int rc;

		while ((rc = fmq_log_append_buf(p, b, r->size, &res)) == 0)
			batches++;
		busy += busy_s() - a;
		if (rc != -EAGAIN) {
			fprintf(stderr, "append: %d (kafka %d)\n", rc,
				res.error);
			return -1;
		}
		fmq_log_flush(g_log, fmq_now_ns(), true);
		fmq_log_retention(g_log, fmq_wall_ms());
	}
	r->append_bps = (double)batches / busy;
	r->append_gbps = r->append_bps * r->size / 1e9;
	fmq_log_part_delete(p);

	/* 2. Sustained, with the flusher writing through concurrently. */
	p = open_part(data, size);
	if (p == NULL)
		return -1;
	fmq_log_stats(g_log, &st0);
	atomic_store(&flusher_stop, false);
	pthread_create(&th, NULL, flusher, NULL);
	batches = 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 16; i++) {
			int rc = fmq_log_append_buf(p, b, r->size, &res);

			if (rc == 0)
				batches++;
			else if (rc == -EAGAIN)
				usleep(20);     /* the owner backs off */
			else
				return -1;
		}
		t = now_s() - t0;
	} while (t < secs);
	atomic_store(&flusher_stop, true);
	pthread_join(th, NULL);
	fmq_log_stats(g_log, &st1);
	r->sustained_bps = (double)batches / t;
	r->sustained_gbps = r->sustained_bps * r->size / 1e9;
	r->backpressure = st1.backpressure - st0.backpressure;
	/* Retention needs the partition quiet: deleting it is simpler. */
	fmq_log_part_delete(p);
	free(b);
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t sizes[8] = { 1024, 16384, 1048576 };
	unsigned int nsizes = 3;
	struct result res[8];
	struct fmq_log_params lp = {
		.hot_pool_bytes = 128u << 20, .hot_chunk_bytes = 4u << 20,
		.nb_lcores = 1, .max_partitions = 8,
	};
	char hot[512] = "", data[512] = "", err[512];
	const char *huge = tu_hugetlbfs();
	double secs = 1.0;
	uint32_t vlen = 200;
	uint8_t *region;
	int c;

	while ((c = getopt(argc, argv, "t:r:s:cH:D:")) != -1) {
		switch (c) {
		case 't': secs = atof(optarg); break;
		case 'r': vlen = (uint32_t)atoi(optarg); break;
		case 'c': busy_clock = CLOCK_THREAD_CPUTIME_ID; break;
		case 's': {
			char *e = optarg;

			nsizes = 0;
			while (*e != '\0' && nsizes < sizeof(sizes) / sizeof(sizes[0])) {
				unsigned long v = strtoul(e, &e, 0);

				if (v < 64 || v > 1048576) {
					fprintf(stderr, "-s: 64..1048576\n");
					return 2;
				}
				sizes[nsizes++] = (uint32_t)v;
				if (*e == ',')
					e++;
				else if (*e != '\0')
					break;
			}
			if (nsizes == 0 || *e != '\0') {
				fprintf(stderr, "-s: sizes, comma-separated\n");
				return 2;
			}
			break;
		}
		case 'H': snprintf(hot, sizeof(hot), "%s", optarg); break;
		case 'D': snprintf(data, sizeof(data), "%s", optarg); break;
		default:
			fprintf(stderr, "usage: %s [-t s] [-r value-bytes] "
				"[-s bytes[,bytes...]] [-c] [-H hot-dir] "
				"[-D data-dir]\n", argv[0]);
			return 2;
		}
	}
	if (hot[0] == '\0')
		snprintf(hot, sizeof(hot), "%s/fmq-bench-log-%d",
			 huge != NULL ? huge : tu_shm_base(), (int)getpid());
	if (data[0] == '\0')
		snprintf(data, sizeof(data), "%s/fmq-bench-log-%d",
			 tu_shm_base(), (int)getpid());
	fmq_log_set_level(FMQ_LOG_WARN);
	lp.hot_dir = hot;
	g_log = fmq_log_create(&lp, err, sizeof(err));
	if (g_log == NULL && huge != NULL) {
		fprintf(stderr, "hugetlbfs pool: %s; using ordinary memory\n",
			err);
		snprintf(hot, sizeof(hot), "%s/fmq-bench-log-%d",
			 tu_shm_base(), (int)getpid());
		g_log = fmq_log_create(&lp, err, sizeof(err));
	}
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (g_log == NULL || region == MAP_FAILED) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	fprintf(stderr, "hot pool %s (%s), data %s, %.1f s per size, "
		"%u-byte record values, %s clock\n", hot,
		fmq_log_hot_is_huge(g_log) ? "hugetlbfs" : "ordinary memory",
		data, secs, vlen,
		busy_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
	for (unsigned int i = 0; i < nsizes; i++) {
		if (run_size(data, sizes[i], vlen, secs, region, &res[i]) < 0) {
			fprintf(stderr, "run failed\n");
			return 1;
		}
		fprintf(stderr, "%7u B x %4u rec: append %6.2f GB/s %9.0f "
			"batches/s (%3.0f%% of memcpy %.2f GB/s; crc32_iscsi "
			"%.2f GB/s) | sustained with flusher %5.2f GB/s %9.0f "
			"batches/s, %" PRIu64 " back-offs\n",
			res[i].size, res[i].records, res[i].append_gbps,
			res[i].append_bps,
			100 * res[i].append_gbps / res[i].memcpy_gbps,
			res[i].memcpy_gbps, res[i].crc_gbps,
			res[i].sustained_gbps, res[i].sustained_bps,
			res[i].backpressure);
	}
	printf("{\"bench\": \"log_append\", \"hot_pool\": \"%s\", "
	       "\"record_value_bytes\": %u, \"clock\": \"%s\", "
	       "\"results\": [",
	       fmq_log_hot_is_huge(g_log) ? "hugetlbfs" : "ordinary", vlen,
	       busy_clock == CLOCK_MONOTONIC ? "wall" : "thread_cpu");
	for (unsigned int i = 0; i < nsizes; i++)
		printf("%s{\"batch_bytes\": %u, \"records\": %u, "
		       "\"append_gbps\": %.3f, \"append_batches_per_s\": %.0f, "
		       "\"memcpy_gbps\": %.3f, \"crc32_iscsi_gbps\": %.3f, "
		       "\"append_pct_of_memcpy\": %.1f, "
		       "\"sustained_gbps\": %.3f, "
		       "\"sustained_batches_per_s\": %.0f, "
		       "\"backpressure\": %" PRIu64 "}", i ? ", " : "",
		       res[i].size, res[i].records, res[i].append_gbps,
		       res[i].append_bps, res[i].memcpy_gbps, res[i].crc_gbps,
		       100 * res[i].append_gbps / res[i].memcpy_gbps,
		       res[i].sustained_gbps, res[i].sustained_bps,
		       res[i].backpressure);
	printf("]}\n");
	fmq_log_free(g_log);
	fmq_log_destroy_pool(hot);
	tu_rm_rf(data);
	munmap(region, REGION);
	return 0;
}
