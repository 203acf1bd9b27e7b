/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hot pool: one file in log.hot.dir mapped MAP_SHARED once, cut into
 * self-describing chunks. Free chunks live in an rte_ring; each data lcore
 * keeps a small cache of them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_ring.h>

#include "fmq_codec.h"
#include "log_priv.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

uint64_t
topic_hash(const char *topic)
{
	/* FNV-1a 64: stable across builds and machines. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *topic != '\0'; topic++) {
		h ^= (uint8_t)*topic;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint32_t
hdr_crc(const struct chunk_hdr *h)
{
	struct chunk_hdr t;

	memcpy(&t, h, sizeof(t));
	t.hdr_crc = 0;
	t.fill = 0;
	return fmq_log_crc32c(&t, sizeof(t));
}

void
chunk_hdr_seal(struct chunk_hdr *h)
{
	h->hdr_crc = hdr_crc(h);
}

bool
chunk_hdr_valid(const struct fmq_log *log, const struct chunk_hdr *h)
{
	uint32_t fill;

	if (h->magic != CHUNK_MAGIC || h->version != CHUNK_VERSION ||
	    h->chunk_bytes != log->chunk_bytes ||
	    h->topic_len == 0 || h->topic_len > FMQ_LOG_TOPIC_MAX ||
	    h->hdr_crc != hdr_crc(h))
		return false;
	fill = __atomic_load_n(&h->fill, __ATOMIC_ACQUIRE);
	return fill <= log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
}

static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Free 2 MiB-or-other hugepages of the size hugetlbfs uses. */
static long
hugepages_free(size_t page_sz)
{
	char path[128];
	long free_p = -1, resv = 0;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 page_sz / 1024);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &free_p) != 1)
			free_p = -1;
		fclose(f);
	}
	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/resv_hugepages",
		 page_sz / 1024);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &resv) != 1)
			resv = 0;
		fclose(f);
	}
	return free_p < 0 ? -1 : free_p - resv;
}

static long
hugepages_total(size_t page_sz)
{
	char path[128];
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/nr_hugepages",
		 page_sz / 1024);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static int
map_pool(struct fmq_log *log, char *err, size_t errlen)
{
	struct statfs sfs;
	struct stat st;
	uint64_t want = log->p.hot_pool_bytes;
	int rc;

	rc = mkdir_p(log->hot_dir);
	if (rc < 0) {
		snprintf(err, errlen, "log.hot.dir %s: %s", log->hot_dir,
			 strerror(-rc));
		return rc;
	}
	if (statfs(log->hot_dir, &sfs) != 0) {
		rc = -errno;
		snprintf(err, errlen, "log.hot.dir %s: %s", log->hot_dir,
			 strerror(errno));
		return rc;
	}
	log->huge = (uint32_t)sfs.f_type == (uint32_t)HUGETLBFS_MAGIC;
	log->page_sz = log->huge ? (size_t)sfs.f_bsize : (size_t)getpagesize();
	want = RTE_ALIGN_CEIL(want, (uint64_t)log->page_sz);
	want = RTE_ALIGN_CEIL(want, (uint64_t)log->chunk_bytes);
	log->len = want;
	if ((size_t)snprintf(log->pool_path, sizeof(log->pool_path),
			     "%.*s/hotpool", PATH_MAX - 16, log->hot_dir) >=
	    sizeof(log->pool_path))
		return -ENAMETOOLONG;

	log->pool_fd = open(log->pool_path, O_RDWR | O_CREAT | O_CLOEXEC,
			    0600);
	if (log->pool_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", log->pool_path,
			 strerror(errno));
		return rc;
	}
	if (fstat(log->pool_fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", log->pool_path,
			 strerror(errno));
		return rc;
	}
	if (log->huge) {
		/* hugetlbfs reserves every page at mmap time; check first so
		 * the message can say exactly what to do. Pages the existing
		 * file already holds (a restart) need no new reservation. */
		uint64_t have = (uint64_t)st.st_blocks * 512 / log->page_sz;
		uint64_t need = want / log->page_sz;
		long free_p = hugepages_free(log->page_sz);

		if (have > need)
			have = need;
		if (free_p >= 0 && (uint64_t)free_p < need - have) {
			long total = hugepages_total(log->page_sz);
			uint64_t more = need - have - (uint64_t)free_p;

			snprintf(err, errlen,
				 "log.hot.pool.bytes=%" PRIu64 " needs %" PRIu64
				 " hugepages of %zu kB but only %ld are free: "
				 "reserve at least %" PRIu64 " (echo %" PRIu64
				 " > /sys/kernel/mm/hugepages/hugepages-%zukB/"
				 "nr_hugepages) or lower log.hot.pool.bytes",
				 want, need, log->page_sz / 1024, free_p,
				 (uint64_t)total + more, (uint64_t)total + more,
				 log->page_sz / 1024);
			return -ENOMEM;
		}
	} else {
		FMQ_WARN(LOG_COMP, "log.hot.dir %s is not on hugetlbfs: the "
			 "hot pool uses ordinary shared memory (%zu-byte "
			 "pages)", log->hot_dir, log->page_sz);
	}
	if ((uint64_t)st.st_size != want) {
		if (st.st_size != 0)
			FMQ_WARN(LOG_COMP, "%s: size %jd differs from %" PRIu64
				 "; resizing (chunks past the end are lost)",
				 log->pool_path, (intmax_t)st.st_size, want);
		if (ftruncate(log->pool_fd, (off_t)want) != 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: ftruncate %" PRIu64 ": %s",
				 log->pool_path, want, strerror(errno));
			return rc;
		}
	}
	log->va = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED,
		       log->pool_fd, 0);
	if (log->va == MAP_FAILED) {
		rc = -errno;
		log->va = NULL;
		snprintf(err, errlen, "%s: mmap %" PRIu64 " bytes: %s%s",
			 log->pool_path, want, strerror(errno),
			 log->huge ? " (reserve more hugepages or lower "
			 "log.hot.pool.bytes)" : "");
		return rc;
	}
	return 0;
}

/* One codec context and one rebuild buffer per data lcore slot: every
 * buffer the append path needs for deep validation and recompression is
 * allocated here, never on the data path. */
static int
codec_setup(struct fmq_log *log, char *err, size_t errlen)
{
	uint32_t payload = log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
	struct fmq_codec_limits lim = {
		.max_input = log->p.codec_max_input,
		.max_output = log->p.codec_max_output,
		.gzip_level = log->p.gzip_level,
		.zstd_level = log->p.zstd_level,
		.lz4_level = log->p.lz4_level,
	};

	if (lim.max_input == 0 || lim.max_input > payload)
		lim.max_input = payload;
	if (lim.max_output == 0)
		lim.max_output = 16 * RTE_MIN(payload, 1048588u);
	if (lim.max_output < payload)
		lim.max_output = payload;
	for (uint32_t i = 0; i < log->p.nb_lcores; i++) {
		struct fmq_log_lcore *lc = &log->lcores[i];

		lc->codec = fmq_codec_ctx_create(&lim);
		lc->rebuild = malloc(payload);
		lc->rebuild_cap = payload;
		if (lc->codec == NULL || lc->rebuild == NULL) {
			snprintf(err, errlen, "codec context for lcore %u "
				 "(%u MiB decompression bound, levels gzip %d "
				 "zstd %d lz4 %d): %s", i, lim.max_output >> 20,
				 lim.gzip_level, lim.zstd_level, lim.lz4_level,
				 strerror(lc->codec == NULL ? errno : ENOMEM));
			return lc->codec == NULL && errno == EINVAL ?
				-EINVAL : -ENOMEM;
		}
	}
	return 0;
}

static void
codec_teardown(struct fmq_log *log)
{
	if (log->lcores == NULL)
		return;
	for (uint32_t i = 0; i < log->p.nb_lcores; i++) {
		fmq_codec_ctx_free(log->lcores[i].codec);
		free(log->lcores[i].rebuild);
		log->lcores[i].codec = NULL;
		log->lcores[i].rebuild = NULL;
	}
}

struct fmq_log *
fmq_log_create(const struct fmq_log_params *p, char *err, size_t errlen)
{
	struct fmq_log *log;
	uint32_t ring_n;
	ssize_t rsz;
	int rc = -EINVAL;

	err[0] = '\0';
	if (p == NULL || p->hot_dir == NULL || p->hot_dir[0] == '\0' ||
	    p->nb_lcores == 0 || p->max_partitions == 0 ||
	    p->hot_chunk_bytes < 65536 || p->hot_chunk_bytes % 4096 != 0 ||
	    p->hot_pool_bytes < p->hot_chunk_bytes ||
	    strlen(p->hot_dir) + 16 >= PATH_MAX) {
		snprintf(err, errlen, "invalid hot pool parameters");
		errno = EINVAL;
		return NULL;
	}
	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	log->p = *p;
	log->pool_fd = -1;
	snprintf(log->hot_dir, sizeof(log->hot_dir), "%s", p->hot_dir);
	log->p.hot_dir = log->hot_dir;
	log->chunk_bytes = p->hot_chunk_bytes;

	rc = map_pool(log, err, errlen);
	if (rc < 0)
		goto fail;
	log->nchunks = (uint32_t)(log->len / log->chunk_bytes);

	log->chunks = aligned_alloc(RTE_CACHE_LINE_SIZE,
				    sizeof(struct chunk) * log->nchunks);
	log->orphan = calloc(log->nchunks, 1);
	log->lcores = aligned_alloc(RTE_CACHE_LINE_SIZE,
				    sizeof(struct fmq_log_lcore) *
				    p->nb_lcores);
	log->parts = calloc(p->max_partitions, sizeof(*log->parts));
	ring_n = rte_align32pow2(log->nchunks + 1);
	rsz = rte_ring_get_memsize(ring_n);
	log->ring_mem = rsz > 0 ? aligned_alloc(RTE_CACHE_LINE_SIZE,
				RTE_ALIGN_CEIL((size_t)rsz,
					       RTE_CACHE_LINE_SIZE)) : NULL;
	if (log->chunks == NULL || log->orphan == NULL ||
	    log->lcores == NULL || log->parts == NULL ||
	    log->ring_mem == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	memset(log->lcores, 0, sizeof(struct fmq_log_lcore) * p->nb_lcores);
	log->free_ring = log->ring_mem;
	rc = rte_ring_init(log->free_ring, "fmq_log_free", ring_n, 0);
	if (rc < 0) {
		snprintf(err, errlen, "rte_ring_init: %s", strerror(-rc));
		goto fail;
	}
	memset(log->lcores, 0, sizeof(struct fmq_log_lcore) * p->nb_lcores);
	for (uint32_t i = 0; i < p->nb_lcores; i++) {
		uint32_t m = log->nchunks / (8 * p->nb_lcores);

		log->lcores[i].cache_max = RTE_MIN(RTE_MAX(m, 1u),
						   (uint32_t)LCORE_CACHE_MAX);
	}
	rc = codec_setup(log, err, errlen);
	if (rc < 0)
		goto fail;

	/* Chunks with a valid header hold data that may be newer than the
	 * durable tier (the process died); keep them for recovery. */
	for (uint32_t i = 0; i < log->nchunks; i++) {
		struct chunk *c = &log->chunks[i];

		memset(c, 0, sizeof(*c));
		c->id = i;
		c->hdr = (struct chunk_hdr *)(log->va +
					      (size_t)i * log->chunk_bytes);
		c->data = (uint8_t *)c->hdr + FMQ_LOG_CHUNK_HDR;
		atomic_init(&c->state, 0);
		if (chunk_hdr_valid(log, c->hdr)) {
			log->orphan[i] = 1;
			log->norphans++;
			if (c->hdr->seq >= log->seq)
				log->seq = c->hdr->seq + 1;
		} else {
			c->hdr->magic = 0;
			rte_ring_enqueue(log->free_ring,
					 (void *)(uintptr_t)i);
		}
	}
	if (log->norphans > 0)
		FMQ_INFO(LOG_COMP, "hot pool %s: %u of %u chunks hold data "
			 "to recover", log->pool_path, log->norphans,
			 log->nchunks);

	if (p->register_extmem) {
		rc = rte_extmem_register(log->va, log->len, NULL, 0,
					 log->page_sz);
		if (rc != 0) {
			rc = -rte_errno;
			snprintf(err, errlen, "rte_extmem_register: %s",
				 rte_strerror(rte_errno));
			goto fail;
		}
		log->extmem = true;
	}
	FMQ_INFO(LOG_COMP, "hot pool %s: %zu MiB in %u chunks of %u KiB, %s",
		 log->pool_path, log->len >> 20, log->nchunks,
		 log->chunk_bytes >> 10,
		 log->huge ? "hugetlbfs" : "ordinary memory (no hugetlbfs)");
	return log;
fail:
	if (err[0] != '\0')
		FMQ_ERR(LOG_COMP, "%s", err);
	codec_teardown(log);
	if (log->va != NULL)
		munmap(log->va, log->len);
	if (log->pool_fd >= 0)
		close(log->pool_fd);
	free(log->ring_mem);
	free(log->parts);
	free(log->lcores);
	free(log->orphan);
	free(log->chunks);
	free(log);
	errno = -rc;
	return NULL;
}

void
fmq_log_free(struct fmq_log *log)
{
	if (log == NULL)
		return;
	for (uint32_t i = 0; i < log->p.max_partitions; i++)
		if (log->parts[i] != NULL)
			fmq_log_part_close(log->parts[i]);
	codec_teardown(log);
	if (log->extmem)
		rte_extmem_unregister(log->va, log->len);
	munmap(log->va, log->len);
	close(log->pool_fd);
	free(log->ring_mem);
	free(log->parts);
	free(log->lcores);
	free(log->orphan);
	free(log->chunks);
	free(log);
}

int
fmq_log_destroy_pool(const char *hot_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%.*s/hotpool", PATH_MAX - 16, hot_dir);
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	if (rmdir(hot_dir) != 0 && errno != ENOENT && errno != ENOTEMPTY)
		return -errno;
	return 0;
}

bool
fmq_log_hot_is_huge(const struct fmq_log *log)
{
	return log->huge;
}

void
fmq_log_hot_region(const struct fmq_log *log, void **va, size_t *len,
		   size_t *page_sz)
{
	*va = log->va;
	*len = log->len;
	*page_sz = log->page_sz;
}

void
fmq_log_recovery_done(struct fmq_log *log)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < log->nchunks; i++) {
		if (!log->orphan[i])
			continue;
		log->orphan[i] = 0;
		pool_put(log, &log->chunks[i]);
		n++;
	}
	if (n > 0)
		FMQ_INFO(LOG_COMP, "hot pool: %u chunks of partitions not "
			 "opened were released", n);
	log->norphans = 0;
}

/* Owner lcore: a free chunk, pinned once for the owner. */
struct chunk *
pool_get(struct fmq_log *log, struct fmq_log_lcore *lc)
{
	struct chunk *c;

	if (lc->ncache == 0) {
		void *objs[LCORE_CACHE_MAX];
		unsigned int n = rte_ring_dequeue_burst(log->free_ring, objs,
							lc->cache_max, NULL);

		for (unsigned int i = 0; i < n; i++)
			lc->cache[i] = (uint32_t)(uintptr_t)objs[i];
		lc->ncache = n;
		if (n == 0) {
			atomic_store_explicit(&log->pressure, 1,
					      memory_order_relaxed);
			return NULL;
		}
	}
	c = &log->chunks[lc->cache[--lc->ncache]];
	/* A free chunk has no pins and nobody else can reach it. */
	atomic_fetch_add_explicit(&c->state, 1, memory_order_acquire);
	return c;
}

/* Flusher (or recovery): give a recycled chunk back. Its header is wiped
 * first so a later crash recovery does not mistake it for live data. */
void
pool_put(struct fmq_log *log, struct chunk *c)
{
	__atomic_store_n(&c->hdr->magic, 0, __ATOMIC_RELEASE);
	c->seg = NULL;
	rte_ring_enqueue(log->free_ring, (void *)(uintptr_t)c->id);
}
