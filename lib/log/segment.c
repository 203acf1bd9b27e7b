/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segment files in Kafka's layout: <20-digit base>.log holds record
 * batches; .index holds (int32 relative offset, int32 position) and
 * .timeindex (int64 timestamp, int32 relative offset), big-endian, both
 * preallocated while the segment is active and trimmed when it is sealed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_priv.h"

void
seg_path(const struct fmq_log_part *p, int64_t base, const char *ext,
	 char *buf, size_t len)
{
	snprintf(buf, len, "%s/%020" PRId64 "%s", p->dir, base, ext);
}

static int
open_index(const struct fmq_log_part *p, struct seg *s, const char *ext,
	   uint32_t esz, uint8_t **map, size_t *maplen, uint32_t *cap, int *fd)
{
	char path[PATH_MAX];
	struct stat st;
	size_t want = p->pp.index_max_bytes / esz * esz;

	seg_path(p, s->base, ext, path, sizeof(path));
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, &st) != 0)
		return -errno;
	/* Existing entries beyond index.max (a smaller setting now) are
	 * kept readable; new ones stop at the setting. */
	if ((size_t)st.st_size > want)
		want = (size_t)st.st_size / esz * esz;
	if (ftruncate(*fd, (off_t)want) != 0)
		return -errno;
	*map = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return -errno;
	}
	*maplen = want;
	*cap = (uint32_t)(want / esz);
	return 0;
}

/*
 * The index files are sparse (ftruncate'd to log.index.size.max.bytes) and
 * written through a shared mapping: a store into a hole of a full file
 * system is a SIGBUS. So blocks are allocated ahead of the owner, in
 * INDEX_RESERVE bytes at a time, by the flusher (and best effort when a
 * segment is created or recovered), and the owner writes only entries
 * below the reserved mark. A file system without fallocate keeps the old
 * behaviour (everything counts as reserved).
 */
#define INDEX_RESERVE (64u << 10)

static int
reserve_one(int fd, _Atomic uint32_t *room, uint32_t n, uint32_t cap,
	    uint32_t esz)
{
	uint32_t r = atomic_load_explicit(room, memory_order_relaxed);
	uint32_t step = INDEX_RESERVE / esz, want;

	if (fd < 0 || r >= cap || (r > n && r - n > step / 2))
		return 0;
	want = RTE_MIN(cap, RTE_MAX(r, n) + step);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)r * esz,
		      (off_t)(want - r) * esz) != 0) {
		if (errno == EOPNOTSUPP || errno == ENOSYS) {
			atomic_store_explicit(room, cap, memory_order_release);
			return 0;
		}
		return -errno;
	}
	atomic_store_explicit(room, want, memory_order_release);
	return 0;
}

/* Keep room for the next entries of both indexes. Control thread (the
 * flusher, recovery) or the owner when it creates the segment. */
int
seg_index_reserve(struct seg *s)
{
	int rc = reserve_one(s->fd_idx, &s->idx_room,
			     __atomic_load_n(&s->idx_n, __ATOMIC_RELAXED),
			     s->idx_cap, IDX_ENTRY);
	int rc2 = reserve_one(s->fd_tim, &s->tim_room,
			      __atomic_load_n(&s->tim_n, __ATOMIC_RELAXED),
			      s->tim_cap, TIM_ENTRY);

	return rc < 0 ? rc : rc2;
}

static void
seg_reset(struct seg *s, int64_t base)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->state, 0);
	s->base = base;
	s->fd_log = s->fd_idx = s->fd_tim = -1;
	atomic_init(&s->next_offset, base);
	atomic_init(&s->max_ts, -1);
	s->max_ts_off = base;
	s->created_ms = fmq_wall_ms();
}

int
seg_create(struct fmq_log_part *p, struct seg *s, int64_t base)
{
	char path[PATH_MAX];
	int rc;

	seg_reset(s, base);
	seg_path(p, base, ".log", path, sizeof(path));
	s->fd_log = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->fd_log < 0) {
		rc = -errno;
		goto fail;
	}
	/* Stale index files of an earlier segment with this base (cut away
	 * by recovery) must not be trusted. */
	seg_path(p, base, ".index", path, sizeof(path));
	unlink(path);
	seg_path(p, base, ".timeindex", path, sizeof(path));
	unlink(path);
	rc = open_index(p, s, ".index", IDX_ENTRY, &s->idx, &s->idx_map,
			&s->idx_cap, &s->fd_idx);
	if (rc < 0)
		goto fail;
	rc = open_index(p, s, ".timeindex", TIM_ENTRY, &s->tim, &s->tim_map,
			&s->tim_cap, &s->fd_tim);
	if (rc < 0)
		goto fail;
	/* Best effort: on a full disk the flusher finds out and says so. */
	(void)seg_index_reserve(s);
	return 0;
fail:
	FMQ_ERR(LOG_COMP, "%s: create segment %" PRId64 ": %s", p->dir, base,
		strerror(-rc));
	seg_close(s);
	return rc;
}

int
seg_open_existing(struct fmq_log_part *p, struct seg *s, int64_t base)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	seg_reset(s, base);
	seg_path(p, base, ".log", path, sizeof(path));
	s->fd_log = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd_log < 0 || fstat(s->fd_log, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	s->created_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
			st.st_mtim.tv_nsec / 1000000;
	atomic_store(&s->size, (uint64_t)st.st_size);
	rc = open_index(p, s, ".index", IDX_ENTRY, &s->idx, &s->idx_map,
			&s->idx_cap, &s->fd_idx);
	if (rc < 0)
		goto fail;
	rc = open_index(p, s, ".timeindex", TIM_ENTRY, &s->tim, &s->tim_map,
			&s->tim_cap, &s->fd_tim);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	FMQ_ERR(LOG_COMP, "%s: open segment %" PRId64 ": %s", p->dir, base,
		strerror(-rc));
	seg_close(s);
	return rc;
}

void
seg_close(struct seg *s)
{
	if (s->idx != NULL)
		munmap(s->idx, s->idx_map);
	if (s->tim != NULL)
		munmap(s->tim, s->tim_map);
	if (s->fd_log >= 0)
		close(s->fd_log);
	if (s->fd_idx >= 0)
		close(s->fd_idx);
	if (s->fd_tim >= 0)
		close(s->fd_tim);
	s->idx = s->tim = NULL;
	s->fd_log = s->fd_idx = s->fd_tim = -1;
}

int
seg_unlink(const struct fmq_log_part *p, struct seg *s)
{
	static const char *const ext[] = { ".log", ".index", ".timeindex" };
	char path[PATH_MAX];
	int rc = 0;

	for (unsigned int i = 0; i < RTE_DIM(ext); i++) {
		seg_path(p, s->base, ext[i], path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	return rc;
}

static void
tim_append(struct seg *s, int64_t ts, int64_t off)
{
	uint8_t *e;

	if (s->tim_n > 0 &&
	    (int64_t)rd_be64(s->tim + (s->tim_n - 1) * TIM_ENTRY) >= ts)
		return;
	if (s->tim_n >= atomic_load_explicit(&s->tim_room,
					     memory_order_acquire))
		return;
	e = s->tim + s->tim_n * TIM_ENTRY;
	wr_be64(e, (uint64_t)ts);
	wr_be32(e + 8, (uint32_t)(off - s->base));
	s->tim_n++;
}

/* Seal: the last time index entry (Kafka's onBecomeInactiveSegment), then
 * trim both indexes to their entries. */
void
seg_seal(struct seg *s)
{
	if (s->sealed)
		return;
	if (atomic_load(&s->max_ts) >= 0)
		tim_append(s, atomic_load(&s->max_ts), s->max_ts_off);
	if (s->fd_idx >= 0 &&
	    ftruncate(s->fd_idx, (off_t)s->idx_n * IDX_ENTRY) != 0)
		FMQ_WARN(LOG_COMP, "trim .index: %s", strerror(errno));
	if (s->fd_tim >= 0 &&
	    ftruncate(s->fd_tim, (off_t)s->tim_n * TIM_ENTRY) != 0)
		FMQ_WARN(LOG_COMP, "trim .timeindex: %s", strerror(errno));
	s->idx_cap = s->idx_n;
	s->tim_cap = s->tim_n;
	atomic_store(&s->idx_room, s->idx_n);
	atomic_store(&s->tim_room, s->tim_n);
	s->sealed = true;
}

/* Account one batch appended at pos, as Kafka's LogSegment.append does:
 * an index entry (last offset, batch position) once more than
 * index.interval.bytes were appended since the previous one. */
void
seg_index_add(struct fmq_log_part *p, struct seg *s, int64_t last_off,
	      uint32_t pos, int64_t max_ts, uint32_t batch_bytes)
{
	if (max_ts > atomic_load_explicit(&s->max_ts, memory_order_relaxed)) {
		atomic_store_explicit(&s->max_ts, max_ts,
				      memory_order_relaxed);
		s->max_ts_off = last_off;
	}
	if (s->bytes_since_idx > p->pp.index_interval_bytes &&
	    s->idx_n < atomic_load_explicit(&s->idx_room,
					    memory_order_acquire)) {
		uint8_t *e = s->idx + s->idx_n * IDX_ENTRY;

		wr_be32(e, (uint32_t)(last_off - s->base));
		wr_be32(e + 4, pos);
		s->idx_n++;
		tim_append(s, atomic_load_explicit(&s->max_ts,
						   memory_order_relaxed),
			   s->max_ts_off);
		s->bytes_since_idx = 0;
	}
	s->bytes_since_idx += batch_bytes;
}

/* Position of the last index entry at or below offset (0 if none). */
uint32_t
seg_index_lookup(const struct seg *s, int64_t offset)
{
	uint32_t lo = 0, hi = s->idx_n, rel;

	if (offset <= s->base || s->idx_n == 0)
		return 0;
	rel = (uint32_t)RTE_MIN(offset - s->base, (int64_t)UINT32_MAX);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rd_be32(s->idx + mid * IDX_ENTRY) <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? 0 : rd_be32(s->idx + (lo - 1) * IDX_ENTRY + 4);
}

/* Offset of the last time index entry with timestamp <= ts (the base
 * offset if none): the scan for ts starts there. */
int
seg_time_lookup(const struct seg *s, int64_t ts, int64_t *offset)
{
	uint32_t lo = 0, hi = s->tim_n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((int64_t)rd_be64(s->tim + mid * TIM_ENTRY) <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	*offset = lo == 0 ? s->base :
		s->base + rd_be32(s->tim + (lo - 1) * TIM_ENTRY + 8);
	return 0;
}

bool
seg_pin(struct seg *s)
{
	uint64_t v = atomic_fetch_add_explicit(&s->state, 1,
					       memory_order_acquire);

	if (v & SEG_DEAD) {
		atomic_fetch_sub_explicit(&s->state, 1, memory_order_relaxed);
		return false;
	}
	return true;
}

void
seg_unpin(struct seg *s)
{
	atomic_fetch_sub_explicit(&s->state, 1, memory_order_release);
}

/* Read the fixed batch header at pos; limit is the readable size. */
int
seg_read_header(const struct seg *s, uint64_t pos, uint8_t *hdr,
		uint64_t limit)
{
	ssize_t n;

	if (pos + RB_RECORDS > limit)
		return -ENODATA;
	n = pread(s->fd_log, hdr, RB_RECORDS, (off_t)pos);
	if (n < 0)
		return -errno;
	return n == RB_RECORDS ? 0 : -ENODATA;
}

/* ------------------------------------------------------------------------
 * Recovery of one segment (control thread, before the partition is used)
 * ---------------------------------------------------------------------- */

static int
read_exact(int fd, void *buf, size_t n, uint64_t pos)
{
	uint8_t *b = buf;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, (off_t)pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENODATA;
		b += r;
		n -= (size_t)r;
		pos += (uint64_t)r;
	}
	return 0;
}

/* Read and fully validate the batch at pos. *buf grows as needed. */
static int
load_batch(const struct seg *s, uint64_t pos, uint64_t fsize, uint8_t **buf,
	   uint32_t *bufsz, struct batch_info *bi)
{
	uint8_t hdr[RB_RECORDS];
	bool crc_failed;
	uint32_t size;

	if (seg_read_header(s, pos, hdr, fsize) != 0)
		return -1;
	size = rd_be32(hdr + RB_LENGTH);
	if (size > UINT32_MAX - RB_LOG_OVERHEAD)
		return -1;
	size += RB_LOG_OVERHEAD;
	if (size < RB_RECORDS || pos + size > fsize)
		return -1;
	if (size > *bufsz) {
		uint8_t *nb = realloc(*buf, size);

		if (nb == NULL)
			return -1;
		*buf = nb;
		*bufsz = size;
	}
	if (read_exact(s->fd_log, *buf, size, pos) != 0)
		return -1;
	if (batch_validate_stored(*buf, size, bi, &crc_failed) != 0)
		return -1;
	return 0;
}

int
seg_recover(struct fmq_log_part *p, struct seg *s, int64_t *next,
	    uint64_t *truncated)
{
	uint64_t fsize = atomic_load(&s->size), pos = 0, scanned = 0;
	uint64_t last_report = 0;
	uint8_t *buf = NULL;
	uint32_t bufsz = 0, n;
	struct batch_info bi;
	int64_t expect = s->base;
	uint32_t prev_rel = 0, prev_pos = 0;

	/* 1. Keep the index entries that are well formed (increasing, inside
	 *    the file) and whose batch checks out; start from the last. */
	for (n = 0; n < s->idx_cap; n++) {
		uint32_t rel = rd_be32(s->idx + n * IDX_ENTRY);
		uint32_t ipos = rd_be32(s->idx + n * IDX_ENTRY + 4);

		if (ipos == 0 || ipos >= fsize || ipos <= prev_pos ||
		    (n > 0 && rel <= prev_rel))
			break;
		prev_rel = rel;
		prev_pos = ipos;
	}
	while (n > 0) {
		uint32_t rel = rd_be32(s->idx + (n - 1) * IDX_ENTRY);
		uint32_t ipos = rd_be32(s->idx + (n - 1) * IDX_ENTRY + 4);

		if (load_batch(s, ipos, fsize, &buf, &bufsz, &bi) == 0 &&
		    bi.base_offset + bi.last_delta == s->base + rel) {
			pos = ipos;
			expect = bi.base_offset;
			break;
		}
		n--;
	}
	s->idx_n = n;
	/* Time entries are kept while they describe offsets below the scan
	 * start and keep Kafka's ordering. */
	for (n = 0; n < s->tim_cap; n++) {
		const uint8_t *e = s->tim + n * TIM_ENTRY;
		int64_t ts = (int64_t)rd_be64(e);
		uint32_t rel = rd_be32(e + 8);

		if (s->base + rel >= expect || ts < 0 ||
		    (n > 0 && (ts <= (int64_t)rd_be64(e - TIM_ENTRY) ||
			       rel < rd_be32(e - TIM_ENTRY + 8))))
			break;
		if (ts > atomic_load(&s->max_ts)) {
			atomic_store(&s->max_ts, ts);
			s->max_ts_off = s->base + rel;
		}
	}
	s->tim_n = n;
	/* Everything after the kept entries is indexed afresh. Cutting the
	 * files and growing them back leaves holes (zeros) without writing
	 * the whole preallocated size. */
	s->bytes_since_idx = 0;
	if (ftruncate(s->fd_idx, (off_t)s->idx_n * IDX_ENTRY) != 0 ||
	    ftruncate(s->fd_idx, (off_t)s->idx_cap * IDX_ENTRY) != 0 ||
	    ftruncate(s->fd_tim, (off_t)s->tim_n * TIM_ENTRY) != 0 ||
	    ftruncate(s->fd_tim, (off_t)s->tim_cap * TIM_ENTRY) != 0)
		return -errno;
	/* The kept entries' blocks are there; room for the rebuilt ones is
	 * best effort (without it they are skipped: a sparser index). */
	atomic_store(&s->idx_room, s->idx_n);
	atomic_store(&s->tim_room, s->tim_n);
	(void)seg_index_reserve(s);

	/* 2. Validate every batch from there; cut at the first bad one. */
	while (pos < fsize) {
		/* Offsets only grow; a gap is what the cleaner leaves
		 * (it keeps each segment's last batch, so segments still
		 * meet). */
		if (load_batch(s, pos, fsize, &buf, &bufsz, &bi) != 0 ||
		    bi.base_offset < expect)
			break;
		seg_index_add(p, s, bi.base_offset + bi.last_delta,
			      (uint32_t)pos, bi.max_ts, bi.size);
		pos += bi.size;
		scanned += bi.size;
		expect = bi.base_offset + bi.last_delta + 1;
		if (scanned - last_report >= (256u << 20)) {
			FMQ_INFO(LOG_COMP, "%s: recovering segment %" PRId64
				 ": %" PRIu64 " of %" PRIu64 " MiB checked",
				 p->dir, s->base, pos >> 20, fsize >> 20);
			last_report = scanned;
		}
	}
	free(buf);
	if (pos < fsize) {
		FMQ_WARN(LOG_COMP, "%s: segment %" PRId64 ": invalid batch at "
			 "position %" PRIu64 ", truncating %" PRIu64 " bytes",
			 p->dir, s->base, pos, fsize - pos);
		if (ftruncate(s->fd_log, (off_t)pos) != 0)
			return -errno;
		*truncated += fsize - pos;
	}
	atomic_store(&s->size, pos);
	atomic_store(&s->written, pos);
	atomic_store(&s->next_offset, expect);
	*next = expect;
	return 0;
}

/* Recovery: write one validated batch (offsets already assigned) straight
 * to the active segment, rolling as append would. */
int
seg_append_durable(struct fmq_log_part *p, const uint8_t *b,
		   const struct batch_info *bi)
{
	struct seg *s = part_active_seg(p);
	uint64_t pos = atomic_load(&s->size);
	const uint8_t *q = b;
	size_t left = bi->size;
	int rc;

	if (pos > 0 && (pos + bi->size > p->pp.segment_bytes ||
			s->idx_n >= s->idx_cap || s->tim_n >= s->tim_cap ||
			bi->base_offset + bi->last_delta - s->base >
			INT32_MAX)) {
		rc = part_roll(p, fmq_wall_ms());
		if (rc < 0)
			return rc;
		s = part_active_seg(p);
		pos = 0;
	}
	while (left > 0) {
		ssize_t w = pwrite(s->fd_log, q, left, (off_t)(pos + (q - b)));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		q += w;
		left -= (size_t)w;
	}
	seg_index_add(p, s, bi->base_offset + bi->last_delta, (uint32_t)pos,
		      bi->max_ts, bi->size);
	atomic_store(&s->size, pos + bi->size);
	atomic_store(&s->written, pos + bi->size);
	atomic_store(&s->next_offset, bi->base_offset + bi->last_delta + 1);
	return 0;
}
