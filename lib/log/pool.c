/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hot pool: one file per NUMA node in log.hot.dir ("hotpool" for node
 * 0, "hotpool.node<n>" for the others), each mapped MAP_SHARED once, bound
 * to its node, and cut into self-describing chunks. Each node's free chunks
 * live in its own rte_ring; each data lcore keeps a small cache of chunks
 * of its node, and borrows one from another node only when its own is dry.
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

#include <numa.h>
#include <numaif.h>
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

/* Node 0 keeps the name of the single-node layout, so a one-node host and
 * every existing deployment find their pool where it always was. */
static int
pool_file_name(char *buf, size_t len, const char *hot_dir, int node)
{
	int n = node == 0 ?
		snprintf(buf, len, "%.*s/hotpool", PATH_MAX - 32, hot_dir) :
		snprintf(buf, len, "%.*s/hotpool.node%d", PATH_MAX - 32,
			 hot_dir, node);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* "hotpool" is node 0, "hotpool.node<n>" node n; anything else -1. */
static int
pool_file_node(const char *name)
{
	const char *pfx = "hotpool.node";
	char *end;
	long n;

	if (strcmp(name, "hotpool") == 0)
		return 0;
	if (strncmp(name, pfx, strlen(pfx)) != 0)
		return -1;
	name += strlen(pfx);
	if (*name < '1' || *name > '9')
		return -1;
	n = strtol(name, &end, 10);
	return *end != '\0' || n <= 0 || n > 1023 ? -1 : (int)n;
}

static int
probe_dir(struct fmq_log *log, char *err, size_t errlen)
{
	struct statfs sfs;
	int rc;

	rc = fmq_mkdir_p(log->hot_dir);
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
	if (!log->huge)
		FMQ_WARN(LOG_COMP, "log.hot.dir %s is not on hugetlbfs: the "
			 "hot pool uses ordinary shared memory (%zu-byte "
			 "pages)", log->hot_dir, log->page_sz);
	return 0;
}

/* Page-aligned anonymous memory, preferably on a node (the free rings). */
static void *
node_alloc(size_t len, int node, bool bind)
{
	void *va = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long mask = 1ul << node;

	if (va == MAP_FAILED)
		return NULL;
	/* Best effort: the pool's own binding is what is counted. */
	if (bind && numa_available() >= 0 && node <= numa_max_node())
		(void)mbind(va, len, MPOL_PREFERRED, &mask,
			    sizeof(mask) * 8 + 1, 0);
	return va;
}

/*
 * Bind a pool to its node before any of its pages is touched (recovery's
 * header scan is the first touch). MPOL_PREFERRED, not MPOL_BIND: a
 * shared hugetlbfs mapping reserves its pages at mmap time from the
 * global count, not per node, so under MPOL_BIND a node whose own
 * hugepages ran out would SIGBUS the lcore at its first append into the
 * page; PREFERRED takes another node's page instead, which is only
 * slower, and we count such pages (misplaced_pages) after prefaulting.
 * MPOL_MF_MOVE also migrates pages an earlier run left on another node
 * (best effort; pages other processes map stay where they are).
 */
static void
pool_bind(struct fmq_log *log, struct hot_pool *hp)
{
	unsigned long mask = 1ul << hp->node;
	const char *why = NULL;
	int e = 0;

	if (log->p.nb_nodes <= 1)
		return;                 /* single-node layout: as before */
	if (numa_available() < 0)
		why = "libnuma reports no NUMA support";
	else if (hp->node > numa_max_node() ||
		 !numa_bitmask_isbitset(numa_all_nodes_ptr,
					(unsigned int)hp->node))
		why = "no such node on this host";
	else if (mbind(hp->va, hp->map_len, MPOL_PREFERRED, &mask,
		       sizeof(mask) * 8 + 1, MPOL_MF_MOVE) != 0 &&
		 mbind(hp->va, hp->map_len, MPOL_PREFERRED, &mask,
		       sizeof(mask) * 8 + 1, 0) != 0) {
		e = errno;
		why = "mbind failed";
	}
	if (why != NULL) {
		hp->mbind_failures++;
		FMQ_WARN(LOG_COMP, "%s: not bound to NUMA node %d (%s%s%s); "
			 "its chunks may sit on any node", hp->path, hp->node,
			 why, e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
		return;
	}
	hp->bound = true;
	if (!log->huge)
		return;
	/* Fault every hugepage in now (hugetlbfs already reserved them, so
	 * this costs no memory), under the policy just set, and find out
	 * where they landed. The data path then never takes a fault. */
	enum { BATCH = 64 };
	void *pages[BATCH];
	int status[BATCH];
	size_t npg = hp->map_len / log->page_sz;

	for (size_t i = 0; i < npg; i += BATCH) {
		unsigned long n = RTE_MIN((size_t)BATCH, npg - i);

		for (unsigned long k = 0; k < n; k++) {
			pages[k] = hp->va + (i + k) * log->page_sz;
			(void)*(volatile uint8_t *)pages[k];
		}
		if (numa_move_pages(0, n, pages, NULL, status, 0) != 0)
			break;
		for (unsigned long k = 0; k < n; k++)
			if (status[k] >= 0 && status[k] != hp->node)
				hp->misplaced_pages++;
	}
	if (hp->misplaced_pages > 0)
		FMQ_WARN(LOG_COMP, "%s: %" PRIu64 " of %zu hugepages are not on "
			 "node %d (reserve hugepages on that node: see "
			 "docs/operations.md)", hp->path, hp->misplaced_pages,
			 npg, hp->node);
}

/*
 * Map one pool file. want > 0: a live pool of that size (created or
 * grown; a larger file keeps its tail mapped for recovery). want == 0: a
 * retired file of a node this layout has no pool on, mapped as it is.
 * Returns 1 when a retired file holds no whole chunk (removed, not mapped).
 */
static int
map_one(struct fmq_log *log, struct hot_pool *hp, uint64_t want, char *err,
	size_t errlen)
{
	struct stat st;
	uint64_t map_len;
	int rc;

	hp->fd = open(hp->path, O_RDWR | (want > 0 ? O_CREAT : 0) | O_CLOEXEC,
		      0600);
	if (hp->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", hp->path, strerror(errno));
		return rc;
	}
	if (fstat(hp->fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", hp->path, strerror(errno));
		return rc;
	}
	/* What the file already holds, in whole chunks and pages. */
	map_len = RTE_ALIGN_FLOOR((uint64_t)st.st_size,
				  (uint64_t)log->chunk_bytes);
	map_len = RTE_ALIGN_FLOOR(map_len, (uint64_t)log->page_sz);
	if (want == 0 && map_len < log->chunk_bytes) {
		close(hp->fd);
		hp->fd = -1;
		unlink(hp->path);
		return 1;
	}
	if (map_len < want)
		map_len = want;
	else if (want > 0 && map_len > want)
		FMQ_WARN(LOG_COMP, "%s: size %jd is more than %" PRIu64 "; the "
			 "chunks past it are recovered, then the file is cut",
			 hp->path, (intmax_t)st.st_size, want);
	if (log->huge) {
		/* hugetlbfs reserves every page at mmap time; check first so
		 * the message can say exactly what to do. Pages the existing
		 * file already holds (a restart) need no new reservation. */
		uint64_t have = (uint64_t)st.st_blocks * 512 / log->page_sz;
		uint64_t need = map_len / log->page_sz;
		long free_p = fmq_hugepages_free(log->page_sz);

		if (have > need)
			have = need;
		if (free_p >= 0 && (uint64_t)free_p < need - have) {
			long total = hugepages_total(log->page_sz);
			uint64_t more = need - have - (uint64_t)free_p;

			snprintf(err, errlen,
				 "log.hot.pool.bytes: %s of %" PRIu64 " bytes "
				 "needs %" PRIu64 " hugepages of %zu kB but "
				 "only %ld are free: reserve at least %" PRIu64
				 " (echo %" PRIu64 " > /sys/kernel/mm/hugepages/"
				 "hugepages-%zukB/nr_hugepages) or lower "
				 "log.hot.pool.bytes", hp->path, map_len,
				 need - have, log->page_sz / 1024, free_p,
				 (uint64_t)total + more, (uint64_t)total + more,
				 log->page_sz / 1024);
			return -ENOMEM;
		}
	}
	if ((uint64_t)st.st_size < map_len &&
	    ftruncate(hp->fd, (off_t)map_len) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: ftruncate %" PRIu64 ": %s",
			 hp->path, map_len, strerror(errno));
		return rc;
	}
	hp->va = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      hp->fd, 0);
	if (hp->va == MAP_FAILED) {
		rc = -errno;
		hp->va = NULL;
		snprintf(err, errlen, "%s: mmap %" PRIu64 " bytes: %s%s",
			 hp->path, map_len, strerror(errno),
			 log->huge ? " (reserve more hugepages or lower "
			 "log.hot.pool.bytes)" : "");
		return rc;
	}
	hp->map_len = map_len;
	hp->live_len = want;
	hp->live = want > 0;
	hp->nchunks = (uint32_t)(map_len / log->chunk_bytes);
	hp->nlive = (uint32_t)(want / log->chunk_bytes);
	if (hp->live)
		pool_bind(log, hp);
	return 0;
}

/* Map every pool: the layout's live ones, then files of other nodes. */
static int
map_pools(struct fmq_log *log, char *err, size_t errlen)
{
	const struct fmq_log_params *p = &log->p;
	uint32_t nn = p->nb_nodes <= 1 ? 1 : p->nb_nodes;
	struct dirent *de;
	DIR *d;
	int rc;

	rc = probe_dir(log, err, errlen);
	if (rc < 0)
		return rc;
	for (uint32_t n = 0; n < FMQ_LOG_MAX_NODES; n++)
		log->node_pool[n] = -1;
	for (uint32_t n = 0; n < nn; n++) {
		uint64_t want = p->nb_nodes <= 1 ? p->hot_pool_bytes :
			p->node_hot_bytes[n];
		struct hot_pool *hp = &log->pools[log->npools];

		if (want == 0)
			continue;
		want = RTE_ALIGN_CEIL(want, (uint64_t)log->page_sz);
		want = RTE_ALIGN_CEIL(want, (uint64_t)log->chunk_bytes);
		hp->node = (int)n;
		hp->fd = -1;
		rc = pool_file_name(hp->path, sizeof(hp->path), log->hot_dir,
				    (int)n);
		if (rc < 0)
			return rc;
		log->npools++;
		rc = map_one(log, hp, want, err, errlen);
		if (rc < 0)
			return rc;
		log->node_pool[n] = (int)(log->npools - 1);
	}
	log->nlive_pools = log->npools;

	/* Pool files of nodes this layout has no pool on (the node count or
	 * the lcores changed): mapped for recovery only. */
	d = opendir(log->hot_dir);
	if (d == NULL) {
		rc = -errno;
		snprintf(err, errlen, "log.hot.dir %s: %s", log->hot_dir,
			 strerror(errno));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		int node = pool_file_node(de->d_name);
		struct hot_pool *hp;

		if (node < 0 || (node < (int)FMQ_LOG_MAX_NODES &&
				 log->node_pool[node] >= 0))
			continue;
		if (log->npools == LOG_POOLS_MAX) {
			FMQ_WARN(LOG_COMP, "%s/%s: too many pool files; not "
				 "recovering from it", log->hot_dir,
				 de->d_name);
			continue;
		}
		hp = &log->pools[log->npools];
		hp->node = node;
		hp->fd = -1;
		rc = pool_file_name(hp->path, sizeof(hp->path), log->hot_dir,
				    node);
		if (rc < 0)
			break;
		rc = map_one(log, hp, 0, err, errlen);
		if (rc < 0)
			break;
		if (rc == 1) {
			memset(hp, 0, sizeof(*hp));
			hp->fd = -1;
			rc = 0;
			continue;
		}
		log->npools++;
		FMQ_INFO(LOG_COMP, "%s: node %d has no pool in this layout; "
			 "recovering from it, then removing it", hp->path,
			 node);
	}
	closedir(d);
	return rc;
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

/* The ring of free chunks of a live pool, in memory on its node. */
static int
pool_ring_init(struct fmq_log *log, struct hot_pool *hp, char *err,
	       size_t errlen)
{
	uint32_t ring_n = rte_align32pow2(hp->nlive + 1);
	ssize_t rsz = rte_ring_get_memsize(ring_n);
	char name[RTE_RING_NAMESIZE];
	int rc;

	if (rsz <= 0) {
		snprintf(err, errlen, "%s: ring of %u: %s", hp->path, ring_n,
			 strerror((int)-rsz));
		return rsz < 0 ? (int)rsz : -EINVAL;
	}
	hp->ring_len = RTE_ALIGN_CEIL((size_t)rsz, (size_t)getpagesize());
	hp->ring_mem = node_alloc(hp->ring_len, hp->node,
				  log->p.nb_nodes > 1);
	if (hp->ring_mem == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	hp->free_ring = hp->ring_mem;
	snprintf(name, sizeof(name), "fmq_log_free%d", hp->node);
	rc = rte_ring_init(hp->free_ring, name, ring_n, 0);
	if (rc < 0)
		snprintf(err, errlen, "rte_ring_init: %s", strerror(-rc));
	return rc;
}

static void
pools_unmap(struct fmq_log *log)
{
	for (uint32_t i = 0; i < LOG_POOLS_MAX; i++) {
		struct hot_pool *hp = &log->pools[i];

		if (hp->extmem)
			rte_extmem_unregister(hp->va, hp->live_len);
		if (hp->va != NULL)
			munmap(hp->va, hp->map_len);
		if (hp->fd >= 0)
			close(hp->fd);
		if (hp->ring_mem != NULL)
			munmap(hp->ring_mem, hp->ring_len);
		hp->va = NULL;
		hp->ring_mem = NULL;
		hp->fd = -1;
		hp->extmem = false;
	}
}

/* Each lcore draws from its node's pool, or from the first pool when its
 * node has none (a node with no share, an unknown node). */
static void
lcores_setup(struct fmq_log *log, const int *lcore_node)
{
	const struct fmq_log_params *p = &log->p;
	uint32_t users[LOG_POOLS_MAX] = { 0 };

	memset(log->lcores, 0, sizeof(struct fmq_log_lcore) * p->nb_lcores);
	for (uint32_t i = 0; i < p->nb_lcores; i++) {
		struct fmq_log_lcore *lc = &log->lcores[i];
		int node = lcore_node != NULL ? lcore_node[i] : 0;

		lc->node = node;
		lc->home = 0;
		if (node >= 0 && node < (int)FMQ_LOG_MAX_NODES &&
		    log->node_pool[node] >= 0)
			lc->home = (uint32_t)log->node_pool[node];
		users[lc->home]++;
	}
	for (uint32_t i = 0; i < p->nb_lcores; i++) {
		struct fmq_log_lcore *lc = &log->lcores[i];
		uint32_t m = log->pools[lc->home].nlive / (8 * users[lc->home]);

		lc->cache_max = RTE_MIN(RTE_MAX(m, 1u),
					(uint32_t)LCORE_CACHE_MAX);
	}
}

struct fmq_log *
fmq_log_create(const struct fmq_log_params *p, char *err, size_t errlen)
{
	struct fmq_log *log;
	uint64_t total = 0;
	uint32_t id;
	int rc = -EINVAL;

	err[0] = '\0';
	if (p != NULL && p->nb_nodes > 1 && p->nb_nodes <= FMQ_LOG_MAX_NODES)
		for (uint32_t n = 0; n < p->nb_nodes; n++)
			total += p->node_hot_bytes[n];
	else if (p != NULL)
		total = p->hot_pool_bytes;
	if (p == NULL || p->hot_dir == NULL || p->hot_dir[0] == '\0' ||
	    p->nb_lcores == 0 || p->max_partitions == 0 ||
	    p->nb_nodes > FMQ_LOG_MAX_NODES ||
	    p->hot_chunk_bytes < 65536 || p->hot_chunk_bytes % 4096 != 0 ||
	    total < p->hot_chunk_bytes ||
	    strlen(p->hot_dir) + 32 >= PATH_MAX) {
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
	log->p.lcore_node = NULL;       /* copied into the lcores */
	for (uint32_t i = 0; i < LOG_POOLS_MAX; i++)
		log->pools[i].fd = -1;
	snprintf(log->hot_dir, sizeof(log->hot_dir), "%s", p->hot_dir);
	log->p.hot_dir = log->hot_dir;
	log->chunk_bytes = p->hot_chunk_bytes;

	rc = map_pools(log, err, errlen);
	if (rc < 0)
		goto fail;
	for (uint32_t i = 0; i < log->npools; i++) {
		log->pools[i].first = log->nchunks;
		log->nchunks += log->pools[i].nchunks;
		log->nlive += log->pools[i].nlive;
	}

	log->chunks = aligned_alloc(RTE_CACHE_LINE_SIZE,
				    sizeof(struct chunk) * log->nchunks);
	log->orphan = calloc(log->nchunks, 1);
	log->lcores = aligned_alloc(RTE_CACHE_LINE_SIZE,
				    sizeof(struct fmq_log_lcore) *
				    p->nb_lcores);
	log->parts = calloc(p->max_partitions, sizeof(*log->parts));
	log->dirs = calloc(LOG_DIRS_MAX, sizeof(*log->dirs));
	if (log->chunks == NULL || log->orphan == NULL ||
	    log->lcores == NULL || log->parts == NULL || log->dirs == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < log->nlive_pools; i++) {
		rc = pool_ring_init(log, &log->pools[i], err, errlen);
		if (rc < 0)
			goto fail;
	}
	lcores_setup(log, p->lcore_node);
	rc = codec_setup(log, err, errlen);
	if (rc < 0)
		goto fail;

	/* Chunks with a valid header hold data that may be newer than the
	 * durable tier (the process died); keep them for recovery, from
	 * every pool file, live or not. */
	id = 0;
	for (uint32_t k = 0; k < log->npools; k++) {
		struct hot_pool *hp = &log->pools[k];

		for (uint32_t j = 0; j < hp->nchunks; j++, id++) {
			struct chunk *c = &log->chunks[id];

			memset(c, 0, sizeof(*c));
			c->id = id;
			c->pool = (uint16_t)k;
			c->hdr = (struct chunk_hdr *)(hp->va +
					(size_t)j * log->chunk_bytes);
			c->data = (uint8_t *)c->hdr + FMQ_LOG_CHUNK_HDR;
			atomic_init(&c->state, 0);
			if (chunk_hdr_valid(log, c->hdr)) {
				log->orphan[id] = 1;
				log->norphans++;
				if (c->hdr->seq >= log->seq)
					log->seq = c->hdr->seq + 1;
			} else if (j < hp->nlive) {
				c->hdr->magic = 0;
				rte_ring_enqueue(hp->free_ring,
						 (void *)(uintptr_t)id);
			}
		}
	}
	if (log->norphans > 0)
		FMQ_INFO(LOG_COMP, "hot pool %s: %u of %u chunks hold data "
			 "to recover", log->hot_dir, log->norphans,
			 log->nchunks);

	for (uint32_t i = 0; p->register_extmem && i < log->nlive_pools;
	     i++) {
		struct hot_pool *hp = &log->pools[i];

		rc = rte_extmem_register(hp->va, hp->live_len, NULL, 0,
					 log->page_sz);
		if (rc != 0) {
			rc = -rte_errno;
			snprintf(err, errlen, "%s: rte_extmem_register: %s",
				 hp->path, rte_strerror(rte_errno));
			goto fail;
		}
		hp->extmem = true;
	}
	for (uint32_t i = 0; i < log->nlive_pools; i++) {
		const struct hot_pool *hp = &log->pools[i];

		FMQ_INFO(LOG_COMP, "hot pool %s: %zu MiB in %u chunks of %u "
			 "KiB, %s%s", hp->path, hp->live_len >> 20, hp->nlive,
			 log->chunk_bytes >> 10,
			 log->huge ? "hugetlbfs" :
			 "ordinary memory (no hugetlbfs)",
			 log->p.nb_nodes <= 1 ? "" :
			 hp->bound ? ", bound to its node" : ", unbound");
	}
	return log;
fail:
	if (err[0] != '\0')
		FMQ_ERR(LOG_COMP, "%s", err);
	if (log->npinned > 0)
		FMQ_INFO(LOG_COMP, "%u chunks still held by packets in flight "
			 "at exit; the pool file keeps them for the next start",
			 log->npinned);
	free(log->pinned);
	codec_teardown(log);
	pools_unmap(log);
	free(log->parts);
	free(log->dirs);
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
	cleaner_free(log);
	if (log->npinned > 0)
		FMQ_INFO(LOG_COMP, "%u chunks still held by packets in flight "
			 "at exit; the pool file keeps them for the next start",
			 log->npinned);
	free(log->pinned);
	codec_teardown(log);
	pools_unmap(log);
	free(log->parts);
	free(log->dirs);
	free(log->lcores);
	free(log->orphan);
	free(log->chunks);
	free(log);
}

int
fmq_log_destroy_pool(const char *hot_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int rc = 0;
	DIR *d = opendir(hot_dir);

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		int node = pool_file_node(de->d_name);

		if (node < 0 ||
		    pool_file_name(path, sizeof(path), hot_dir, node) < 0)
			continue;
		if (unlink(path) != 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	closedir(d);
	if (rc < 0)
		return rc;
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
	*va = log->pools[0].va;
	*len = log->pools[0].live_len;
	*page_sz = log->page_sz;
}

int
fmq_log_hot_pool_info(const struct fmq_log *log, uint32_t node,
		      struct fmq_log_pool_info *info)
{
	const struct hot_pool *hp;

	if (node >= FMQ_LOG_MAX_NODES || log->node_pool[node] < 0)
		return -ENOENT;
	hp = &log->pools[log->node_pool[node]];
	info->path = hp->path;
	info->va = hp->va;
	info->len = hp->live_len;
	info->chunks_total = hp->nlive;
	info->chunks_free = rte_ring_count(hp->free_ring);
	info->bound = hp->bound;
	info->mbind_failures = hp->mbind_failures;
	info->misplaced_pages = hp->misplaced_pages;
	return 0;
}

/* Recovery is over: what only recovery could use goes away. */
static void
pools_trim(struct fmq_log *log)
{
	for (uint32_t i = 0; i < log->npools; i++) {
		struct hot_pool *hp = &log->pools[i];

		if (hp->va == NULL || hp->map_len == hp->live_len)
			continue;
		if (!hp->live) {
			munmap(hp->va, hp->map_len);
			close(hp->fd);
			hp->va = NULL;
			hp->fd = -1;
			if (unlink(hp->path) != 0)
				FMQ_WARN(LOG_COMP, "%s: unlink: %s", hp->path,
					 strerror(errno));
			else
				FMQ_INFO(LOG_COMP, "%s: recovered; removed",
					 hp->path);
			continue;
		}
		munmap(hp->va + hp->live_len, hp->map_len - hp->live_len);
		hp->map_len = hp->live_len;
		if (ftruncate(hp->fd, (off_t)hp->live_len) != 0)
			FMQ_WARN(LOG_COMP, "%s: cutting to %zu bytes: %s",
				 hp->path, hp->live_len, strerror(errno));
	}
}

void
fmq_log_recovery_done(struct fmq_log *log)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < log->nchunks; i++) {
		if (!log->orphan[i])
			continue;
		log->orphan[i] = 0;
		chunk_retire(log, &log->chunks[i]);
		n++;
	}
	if (n > 0)
		FMQ_INFO(LOG_COMP, "hot pool: %u chunks of partitions not "
			 "opened were released", n);
	log->norphans = 0;
	pools_trim(log);
}

/* The lcore's own node had nothing: one chunk from another node's pool
 * rather than refusing the append while memory is free elsewhere. Not
 * cached, so the lcore goes back to its own node as soon as it can. */
static struct chunk *
pool_get_remote(struct fmq_log *log, struct fmq_log_lcore *lc)
{
	for (uint32_t k = 1; k < log->nlive_pools; k++) {
		struct hot_pool *hp =
			&log->pools[(lc->home + k) % log->nlive_pools];
		void *obj;

		if (rte_ring_dequeue(hp->free_ring, &obj) == 0) {
			struct chunk *c = &log->chunks[(uintptr_t)obj];

			STAT_ADD(lc->remote_chunks, 1);
			atomic_fetch_add_explicit(&c->state, 1,
						  memory_order_acquire);
			return c;
		}
	}
	return NULL;
}

/* Owner lcore: a free chunk, pinned once for the owner. */
struct chunk *
pool_get(struct fmq_log *log, struct fmq_log_lcore *lc)
{
	struct chunk *c;

	if (lc->ncache == 0) {
		struct hot_pool *hp = &log->pools[lc->home];
		void *objs[LCORE_CACHE_MAX];
		unsigned int n = rte_ring_dequeue_burst(hp->free_ring, objs,
							lc->cache_max, NULL);

		for (unsigned int i = 0; i < n; i++)
			lc->cache[i] = (uint32_t)(uintptr_t)objs[i];
		lc->ncache = n;
		if (n == 0) {
			/* The flusher gives this node's chunks back sooner. */
			atomic_store_explicit(&hp->pressure, 1,
					      memory_order_relaxed);
			return pool_get_remote(log, lc);
		}
	}
	c = &log->chunks[lc->cache[--lc->ncache]];
	/* A free chunk has no pins and nobody else can reach it. */
	atomic_fetch_add_explicit(&c->state, 1, memory_order_acquire);
	return c;
}

/* Flusher (or recovery): give a recycled chunk back to its own node's
 * pool. Its header is wiped first so a later crash recovery does not
 * mistake it for live data. A chunk only recovery could see (a retired
 * file, past the end of a shrunk one) goes nowhere. */
void
pool_put(struct fmq_log *log, struct chunk *c)
{
	struct hot_pool *hp = &log->pools[c->pool];

	__atomic_store_n(&c->hdr->magic, 0, __ATOMIC_RELEASE);
	c->seg = NULL;
	if (c->id - hp->first < hp->nlive)
		rte_ring_enqueue(hp->free_ring, (void *)(uintptr_t)c->id);
}

/* A pool runs low: an owner found it empty, or less than an eighth is
 * free. The flusher then recycles every written-through chunk of it. */
bool
pool_low(const struct fmq_log *log, uint32_t pool)
{
	const struct hot_pool *hp = &log->pools[pool];

	return atomic_load_explicit(&hp->pressure, memory_order_relaxed) ||
		rte_ring_count(hp->free_ring) < hp->nlive / 8 + 1;
}

/* After a flusher pass: a pool with free chunks again is out of trouble. */
void
pool_pressure_settle(struct fmq_log *log)
{
	for (uint32_t i = 0; i < log->nlive_pools; i++) {
		struct hot_pool *hp = &log->pools[i];

		if (rte_ring_count(hp->free_ring) > 0)
			atomic_store_explicit(&hp->pressure, 0,
					      memory_order_relaxed);
	}
}

uint64_t
pool_free_chunks(const struct fmq_log *log)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < log->nlive_pools; i++)
		n += rte_ring_count(log->pools[i].free_ring);
	return n;
}
