/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flusher (control thread): write hot chunks through to the segment
 * files, fdatasync per flush.messages / flush.ms, recycle chunks; retention;
 * closing and deleting partitions; counters.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_ring.h>

#include "fmq_codec.h"
#include "log_priv.h"

static int
pwrite_all(int fd, const uint8_t *b, size_t n, uint64_t pos)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)pos);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
		pos += (uint64_t)w;
	}
	return 0;
}

/* Back to the last point known written and synced: after a failed
 * fdatasync the kernel may have dropped the dirty pages it could not write
 * (and a later fdatasync would not say so), so everything after it is
 * written again from the hot chunks, which are kept until then. */
static void
rewind_to_sync(struct fmq_log_part *p)
{
	uint64_t rcl = atomic_load_explicit(&p->reclaimed,
					    memory_order_relaxed);
	uint64_t back = 0;

	if (p->sync_idx < rcl) {
		p->sync_idx = rcl;
		p->sync_pos = 0;
	}
	/* The bytes written again are not new (flush lag). */
	for (uint64_t i = p->sync_idx; i <= p->fl_idx; i++) {
		const struct chunk *c = &p->log->chunks[p->hot[i &
						       p->hot_mask].id];
		uint32_t end = i == p->fl_idx ? p->fl_pos :
			__atomic_load_n(&c->hdr->fill, __ATOMIC_ACQUIRE);
		uint32_t start = i == p->sync_idx ? p->sync_pos : 0;

		if (end > start)
			back += end - start;
	}
	p->wr_bytes -= RTE_MIN(back, p->wr_bytes);
	p->fl_idx = p->sync_idx;
	p->fl_pos = p->sync_pos;
}

static int
sync_dirty(struct fmq_log_part *p)
{
	for (uint32_t i = 0; i < p->ndirty; i++) {
		if (fdatasync(p->dirty[i]->fd_log) != 0) {
			int rc = -errno;

			/* The list is kept: those files are synced again
			 * once rewritten. */
			p->err_op = "fdatasync";
			p->err_seg = p->dirty[i]->base;
			rewind_to_sync(p);
			return rc;
		}
	}
	p->ndirty = 0;
	p->sync_idx = p->fl_idx;
	p->sync_pos = p->fl_pos;
	atomic_store_explicit(&p->synced_off,
			      atomic_load_explicit(&p->written_off,
						   memory_order_relaxed),
			      memory_order_release);
	p->unsynced_msgs = 0;
	STAT_ADD(p->log->syncs, 1);
	return 0;
}

static int
mark_dirty(struct fmq_log_part *p, struct seg *s)
{
	for (uint32_t i = 0; i < p->ndirty; i++)
		if (p->dirty[i] == s)
			return 0;
	if (p->ndirty == DIRTY_MAX) {
		int rc = sync_dirty(p);

		if (rc < 0)
			return rc;
	}
	p->dirty[p->ndirty++] = s;
	return 0;
}

/* Write bytes [from, to) of chunk c through and publish the progress.
 * Errors are reported by the caller, once per log dir (dir_error). */
static int64_t
write_span(struct fmq_log_part *p, struct chunk *c, uint32_t from,
	   uint32_t to, uint64_t now_ns)
{
	struct seg *s = c->seg;
	int64_t last = -1;
	uint32_t pos;
	int rc;

	rc = pwrite_all(s->fd_log, c->data + from, to - from,
			c->seg_pos + from);
	if (rc < 0) {
		p->err_op = "write";
		p->err_seg = s->base;
		return rc;
	}
	for (pos = from; pos + RB_RECORDS <= to;) {
		struct batch_info bi;

		batch_peek(c->data + pos, &bi);
		if (p->unsynced_msgs == 0)
			p->unsynced_since_ns = now_ns;
		p->unsynced_msgs += (uint64_t)bi.count;
		last = bi.base_offset + bi.last_delta;
		pos += bi.size;
	}
	rc = mark_dirty(p, s);
	if (rc < 0)
		return rc;
	atomic_store_explicit(&s->written, c->seg_pos + to,
			      memory_order_release);
	if (last >= 0 && last + 1 > atomic_load_explicit(&p->written_off,
							 memory_order_relaxed))
		atomic_store_explicit(&p->written_off, last + 1,
				      memory_order_release);
	p->wr_bytes += to - from;
	return to - from;
}

/* Recycle the oldest chunk of the hot list if nobody holds it. */
static bool
reclaim_head(struct fmq_log_part *p)
{
	uint64_t rc = atomic_load_explicit(&p->reclaimed, memory_order_relaxed);
	const struct hot_ent *e = &p->hot[rc & p->hot_mask];
	struct chunk *c = &p->log->chunks[e->id];
	uint64_t want = (uint64_t)e->gen << 32;

	/* (gen, 0 pins) -> (gen + 1, 0): fails if pinned, and from now on
	 * every pin with the old generation fails. A chunk frozen by an
	 * earlier pass whose write failed is already there (nothing but the
	 * flusher moves a generation, and nothing pins the new one before the
	 * chunk is back in the pool). */
	if (atomic_compare_exchange_strong_explicit(&c->state, &want,
			(uint64_t)(e->gen + 1) << 32, memory_order_acq_rel,
			memory_order_relaxed))
		return true;
	return want == (uint64_t)(e->gen + 1) << 32;
}

/*
 * A closing partition's chunk that a reader still pins (a zero-copy fetch
 * mbuf not yet sent or acknowledged): remember it so the flusher gives it
 * back once the last pin drops, instead of losing it until a restart.
 * Control lcore only. -ENOMEM: it stays out of the pool.
 */
static int
defer_pinned(struct fmq_log *log, uint32_t id, uint32_t gen)
{
	if (log->npinned == log->pinned_cap) {
		uint32_t cap = log->pinned_cap ? log->pinned_cap * 2 : 16;
		struct pinned_chunk *n = realloc(log->pinned,
						 cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		log->pinned = n;
		log->pinned_cap = cap;
	}
	log->pinned[log->npinned].id = id;
	log->pinned[log->npinned].gen = gen;
	log->npinned++;
	return 0;
}

/* The flusher's pass over deferred chunks: each unpinned one goes back. */
static void
reap_pinned(struct fmq_log *log)
{
	for (uint32_t i = 0; i < log->npinned;) {
		struct chunk *c = &log->chunks[log->pinned[i].id];
		uint64_t want = (uint64_t)log->pinned[i].gen << 32;

		if (!atomic_compare_exchange_strong_explicit(&c->state, &want,
				(uint64_t)(log->pinned[i].gen + 1) << 32,
				memory_order_acq_rel, memory_order_relaxed)) {
			i++;
			continue;
		}
		pool_put(log, c);
		log->pinned[i] = log->pinned[--log->npinned];
	}
}

/*
 * A chunk no partition lists any more (recovered, or of a partition that
 * was not opened) goes back to the pool, or to the deferred list while a
 * reader still pins it. Control lcore only.
 */
void
chunk_retire(struct fmq_log *log, struct chunk *c)
{
	uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);

	if (ST_PINS(s) == 0 &&
	    atomic_compare_exchange_strong_explicit(&c->state, &s,
			(uint64_t)(ST_GEN(s) + 1) << 32, memory_order_acq_rel,
			memory_order_relaxed)) {
		pool_put(log, c);
		return;
	}
	if (defer_pinned(log, c->id, ST_GEN(s)) < 0)
		FMQ_ERR(LOG_COMP, "hot chunk %u is pinned and there is no "
			"memory to track it; it stays out of the pool until "
			"restart", c->id);
}

static void
release_head(struct fmq_log_part *p)
{
	uint64_t rc = atomic_load_explicit(&p->reclaimed, memory_order_relaxed);

	pool_put(p->log, &p->log->chunks[p->hot[rc & p->hot_mask].id]);
	atomic_store_explicit(&p->reclaimed, rc + 1, memory_order_release);
}

/*
 * The cleaner's way out of the hot tier: recycle, oldest first, every
 * written-through, synced, unpinned chunk that lies wholly below off.
 * Returns the base offset of the oldest chunk still hot (INT64_MAX when
 * none is). Control thread.
 */
int64_t
part_release_hot_below(struct fmq_log_part *p, int64_t off)
{
	uint64_t tail = atomic_load_explicit(&p->hot_tail,
					     memory_order_acquire);

	for (;;) {
		uint64_t rcl = atomic_load_explicit(&p->reclaimed,
						    memory_order_relaxed);

		if (rcl >= tail)
			return INT64_MAX;
		if (rcl + 1 >= tail || rcl >= p->fl_idx ||
		    rcl >= p->sync_idx ||
		    p->hot[(rcl + 1) & p->hot_mask].base > off ||
		    !reclaim_head(p))
			return p->hot[rcl & p->hot_mask].base;
		release_head(p);
	}
}

/* Is the pool of the chunk at hot-list index i running low? */
static bool
hot_low(const struct fmq_log_part *p, uint64_t i)
{
	const struct fmq_log *log = p->log;

	return pool_low(log, log->chunks[p->hot[i & p->hot_mask].id].pool);
}

static void
snap_write_pending(struct fmq_log_part *p)
{
	struct ps_snap *s = atomic_exchange_explicit(&p->snap_pending, NULL,
						     memory_order_acq_rel);
	int rc;

	if (s == NULL)
		return;
	rc = ps_snap_write(p->dir, s);
	if (rc < 0)
		FMQ_WARN(LOG_COMP, "%s: producer snapshot at %" PRId64 ": %s "
			 "(restart replays more of the log)", p->dir,
			 s->offset, strerror(-rc));
	else
		STAT_ADD(p->log->producer_snapshots, 1);
	free(s);
}

static int64_t
part_flush(struct fmq_log_part *p, uint64_t now_ns, bool force,
	   bool release_all)
{
	struct fmq_log *log = p->log;
	uint64_t tail = atomic_load_explicit(&p->hot_tail,
					     memory_order_acquire);
	/* At most half the hot list: a partition whose list is full gets
	 * no new chunk, and with the pool not low nothing else would free
	 * an entry (its produce would wait for ever). */
	uint64_t keep = RTE_MIN(p->pp.hot_bytes / log->chunk_bytes,
				(uint64_t)p->hot_mask / 2);
	struct seg *as = part_active_seg(p);
	int64_t total = 0, w;
	int rc;

	/* 0. Index blocks ahead of the owner (a hole written through the
	 *    mapping of a full file system would be a SIGBUS). */
	rc = seg_index_reserve(as);
	if (rc < 0) {
		p->err_op = "index space for";
		p->err_seg = as->base;
		return rc;
	}

	/* 1. Write through everything the owner has published. */
	while (p->fl_idx < tail) {
		const struct hot_ent *e = &p->hot[p->fl_idx & p->hot_mask];
		struct chunk *c = &log->chunks[e->id];
		uint32_t fill = __atomic_load_n(&c->hdr->fill,
						__ATOMIC_ACQUIRE);

		if (fill > p->fl_pos) {
			w = write_span(p, c, p->fl_pos, fill, now_ns);
			if (w < 0)
				return w;
			total += w;
			p->fl_pos = fill;
		}
		/* tail was loaded before fill: a chunk that is not the last
		 * was complete when its successor was published. */
		if (p->fl_idx + 1 == tail)
			break;
		p->fl_idx++;
		p->fl_pos = 0;
	}

	/* A producer-state snapshot the owner took at a roll. */
	snap_write_pending(p);
	epoch_write_pending(p);

	/* 2. fdatasync per policy. */
	/* flush.* may change under us (fmq_log_part_set_config). */
	if (p->unsynced_msgs > 0 &&
	    (force || p->unsynced_msgs >=
	     __atomic_load_n(&p->pp.flush_messages, __ATOMIC_RELAXED) ||
	     now_ns - p->unsynced_since_ns >=
	     __atomic_load_n(&p->pp.flush_ms, __ATOMIC_RELAXED) * 1000000ull)) {
		rc = sync_dirty(p);
		if (rc < 0)
			return rc;
	}

	/* 3. Recycle written-through and synced chunks: beyond
	 *    log.hot.bytes, or all of them when the pool (of the NUMA node)
	 *    they came from runs low. Oldest first, so the live chunks are
	 *    always a suffix of the hot list. A chunk is never recycled
	 *    before its bytes are synced: when one is due and is not yet,
	 *    the partition is synced now (at most once per pass). */
	while (atomic_load_explicit(&p->reclaimed, memory_order_relaxed) <
	       p->fl_idx) {
		uint64_t rcl = atomic_load_explicit(&p->reclaimed,
						    memory_order_relaxed);

		if (!release_all && p->fl_idx - rcl <= keep &&
		    !hot_low(p, rcl))
			break;
		if (rcl >= p->sync_idx) {
			rc = sync_dirty(p);
			if (rc < 0)
				return rc;
			if (rcl >= p->sync_idx)
				break;
		}
		if (!reclaim_head(p))
			break;
		release_head(p);
	}
	/* The last chunk too, when nothing else is left and the owner is not
	 * appending to it this very moment: freeze it, write and sync the
	 * rest, then recycle it. On an error it stays frozen (the owner
	 * moves on to a new chunk) and is retried on the next pass. */
	if (p->fl_idx < tail && (release_all || hot_low(p, p->fl_idx)) &&
	    atomic_load_explicit(&p->reclaimed, memory_order_relaxed) ==
	    p->fl_idx && reclaim_head(p)) {
		const struct hot_ent *e = &p->hot[p->fl_idx & p->hot_mask];
		struct chunk *c = &log->chunks[e->id];
		uint32_t fill = __atomic_load_n(&c->hdr->fill,
						__ATOMIC_ACQUIRE);

		if (fill > p->fl_pos) {
			w = write_span(p, c, p->fl_pos, fill, now_ns);
			if (w < 0)
				return w;
			total += w;
			p->fl_pos = fill;
		}
		rc = sync_dirty(p);
		if (rc < 0)
			return rc;
		release_head(p);
		p->fl_idx++;
		p->fl_pos = 0;
		p->sync_idx = p->fl_idx;
		p->sync_pos = 0;
	}
	STAT_ADD(log->flushed_bytes, (uint64_t)total);
	return total;
}

/* ------------------------------------------------------------------------
 * Log dirs: offline on a write error, back by themselves
 * ---------------------------------------------------------------------- */

struct log_dir *
log_dir_get(struct fmq_log *log, const char *path)
{
	struct log_dir *ld;

	for (uint32_t i = 0; i < log->ndirs; i++)
		if (strcmp(log->dirs[i].path, path) == 0)
			return &log->dirs[i];
	if (log->ndirs == LOG_DIRS_MAX ||
	    strlen(path) >= sizeof(log->dirs[0].path))
		return NULL;
	ld = &log->dirs[log->ndirs];
	memset(ld, 0, sizeof(*ld));
	snprintf(ld->path, sizeof(ld->path), "%s", path);
	atomic_init(&ld->offline, false);
	/* Readers on other threads (metrics, /health) see a whole entry. */
	__atomic_store_n(&log->ndirs, log->ndirs + 1, __ATOMIC_RELEASE);
	return ld;
}

/* A write, fdatasync or index reservation of p failed with rc: the first
 * error takes the dir offline and is logged; later ones are counted and
 * recalled every LOG_DIR_REMIND_NS. */
static void
dir_error(struct fmq_log_part *p, int rc, uint64_t now_ns)
{
	struct log_dir *ld = p->ld;
	char what[64];

	if (p->err_seg >= 0)
		snprintf(what, sizeof(what), "%s segment %" PRId64,
			 p->err_op != NULL ? p->err_op : "write", p->err_seg);
	else
		snprintf(what, sizeof(what), "%s",
			 p->err_op != NULL ? p->err_op : "write");
	p->err_seg = -1;
	p->err_op = NULL;
	STAT_ADD(ld->write_errors, 1);
	__atomic_store_n(&ld->err, -rc, __ATOMIC_RELAXED);
	ld->failed = true;
	if (!atomic_load_explicit(&ld->offline, memory_order_relaxed)) {
		atomic_store_explicit(&ld->offline, true, memory_order_release);
		STAT_ADD(ld->offline_total, 1);
		ld->since_ns = now_ns;
		ld->backoff_ns = LOG_DIR_BACKOFF_MIN_NS;
		ld->retry_ns = now_ns + ld->backoff_ns;
		ld->remind_ns = now_ns + LOG_DIR_REMIND_NS;
		ld->quiet = 0;
		FMQ_ERR(LOG_COMP, "log dir %s offline: %s: %s: %s. Produce to "
			"its partitions is refused (KAFKA_STORAGE_ERROR) and "
			"unwritten data stays in the hot pool; writes are "
			"retried every %llu ms at most and the dir comes back "
			"by itself once they succeed", ld->path, p->dir, what,
			strerror(-rc), LOG_DIR_BACKOFF_MAX_NS / 1000000);
		return;
	}
	ld->quiet++;
	if (now_ns >= ld->remind_ns) {
		FMQ_WARN(LOG_COMP, "log dir %s still offline after %" PRIu64
			 " s: %s: %s: %s (%" PRIu64 " more errors)", ld->path,
			 (now_ns - ld->since_ns) / 1000000000, p->dir, what,
			 strerror(-rc), ld->quiet);
		ld->remind_ns = now_ns + LOG_DIR_REMIND_NS;
		ld->quiet = 0;
	}
}

/* End of a flusher pass for one dir: a retry that met no error brings it
 * back; one that failed waits twice as long. */
static void
dir_settle(struct log_dir *ld, uint64_t now_ns)
{
	bool offline = atomic_load_explicit(&ld->offline,
					    memory_order_relaxed);

	if (offline && ld->probing && !ld->failed) {
		atomic_store_explicit(&ld->offline, false,
				      memory_order_release);
		FMQ_INFO(LOG_COMP, "log dir %s back online after %.1f s "
			 "(writes succeed again)", ld->path,
			 (double)(now_ns - ld->since_ns) / 1e9);
	} else if (offline && ld->probing) {
		ld->backoff_ns = RTE_MIN(ld->backoff_ns * 2,
					 LOG_DIR_BACKOFF_MAX_NS);
		ld->retry_ns = now_ns + ld->backoff_ns;
	}
	ld->probing = false;
	ld->failed = false;
}

int64_t
fmq_log_part_flush(struct fmq_log_part *p, uint64_t now_ns, bool force)
{
	int64_t w;

	if (atomic_load_explicit(&p->log->stalled, memory_order_relaxed))
		return 0;
	w = part_flush(p, now_ns, force, false);
	if (w < 0) {
		dir_error(p, (int)w, now_ns);
		p->ld->probing = false;
		p->ld->failed = false;
	}
	return w;
}

int64_t
fmq_log_flush(struct fmq_log *log, uint64_t now_ns, bool force)
{
	uint64_t lag_b = 0, lag_m = 0;
	int64_t total = 0, first_err = 0;

	reap_pinned(log);
	if (atomic_load_explicit(&log->stalled, memory_order_relaxed))
		return 0;
	for (uint32_t i = 0; i < log->ndirs; i++) {
		struct log_dir *ld = &log->dirs[i];

		ld->probing = atomic_load_explicit(&ld->offline,
						   memory_order_relaxed) &&
			now_ns >= ld->retry_ns;
		ld->failed = false;
	}
	for (uint32_t i = 0; i < log->p.max_partitions; i++) {
		struct fmq_log_part *p = log->parts[i];
		int64_t w = 0;

		if (p == NULL)
			continue;
		/* An offline dir is only retried when its backoff is over. */
		if (!atomic_load_explicit(&p->ld->offline,
					  memory_order_relaxed) ||
		    p->ld->probing)
			w = part_flush(p, now_ns, force, false);
		if (w < 0) {
			dir_error(p, (int)w, now_ns);
			if (first_err == 0)
				first_err = w;
		}
		if (w > 0)
			total += w;
		lag_b += atomic_load_explicit(&p->app_bytes,
					      memory_order_relaxed) - p->wr_bytes;
		lag_m += (uint64_t)(atomic_load_explicit(&p->next_offset,
					memory_order_relaxed) -
			atomic_load_explicit(&p->synced_off,
					     memory_order_relaxed));
	}
	for (uint32_t i = 0; i < log->ndirs; i++)
		dir_settle(&log->dirs[i], now_ns);
	__atomic_store_n(&log->flush_lag_bytes, lag_b, __ATOMIC_RELAXED);
	__atomic_store_n(&log->flush_lag_messages, lag_m, __ATOMIC_RELAXED);
	pool_pressure_settle(log);
	return first_err < 0 ? first_err : total;
}

bool
fmq_log_part_offline(const struct fmq_log_part *p)
{
	return atomic_load_explicit(&p->ld->offline, memory_order_acquire);
}

bool
fmq_log_dir_offline(const struct fmq_log *log, const char *path)
{
	for (uint32_t i = 0; i < log->ndirs; i++)
		if (strcmp(log->dirs[i].path, path) == 0)
			return atomic_load_explicit(&log->dirs[i].offline,
						    memory_order_acquire);
	return false;
}

const char *
fmq_log_part_log_dir(const struct fmq_log_part *p)
{
	return p->ld->path;
}

int
fmq_log_dirs_offline(const struct fmq_log *log, char *buf, size_t len)
{
	uint32_t n = __atomic_load_n(&log->ndirs, __ATOMIC_ACQUIRE);
	size_t used = 0;
	int off = 0;

	if (len > 0)
		buf[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		const struct log_dir *ld = &log->dirs[i];
		int k;

		if (!atomic_load_explicit(&ld->offline, memory_order_acquire))
			continue;
		off++;
		if (used >= len)
			continue;
		k = snprintf(buf + used, len - used,
			     "log dir offline: %s: %s\n", ld->path,
			     strerror(__atomic_load_n(&ld->err,
						      __ATOMIC_RELAXED)));
		if (k > 0)
			used = RTE_MIN(used + (size_t)k, len);
	}
	return off;
}

void
fmq_log_flush_stall(struct fmq_log *log, bool stalled)
{
	atomic_store(&log->stalled, stalled);
}

/* ------------------------------------------------------------------------
 * Retention
 * ---------------------------------------------------------------------- */

int
fmq_log_part_retention(struct fmq_log_part *p, int64_t now_ms)
{
	uint64_t head = atomic_load_explicit(&p->seg_head,
					     memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&p->seg_tail,
					     memory_order_acquire);
	int64_t synced = atomic_load_explicit(&p->synced_off,
					      memory_order_acquire);
	/* Moved up by DeleteRecords (this thread) or by us. */
	int64_t start = atomic_load_explicit(&p->log_start,
					     memory_order_acquire);
	/* retention.* may change under us (fmq_log_part_set_config).
	 * cleanup.policy=compact alone: segments are never deleted by age
	 * or size (Kafka's LogManager skips them too), only below the log
	 * start. */
	bool del = __atomic_load_n(&p->pp.cleanup, __ATOMIC_RELAXED) &
		FMQ_LOG_CLEANUP_DELETE;
	int64_t ret_ms = del ? __atomic_load_n(&p->pp.retention_ms,
					       __ATOMIC_RELAXED) : -1;
	int64_t ret_bytes = del ? __atomic_load_n(&p->pp.retention_bytes,
						  __ATOMIC_RELAXED) : -1;
	uint64_t total = 0;
	int n = 0;

	for (uint64_t i = head; i < tail; i++)
		total += atomic_load_explicit(&part_seg(p, i)->size,
					      memory_order_relaxed);
	while (head + 1 < tail) {
		struct seg *s = part_seg(p, head), *nx = part_seg(p, head + 1);
		uint64_t size = atomic_load(&s->size);
		int64_t ts = atomic_load(&s->max_ts);
		uint64_t zero = 0;
		bool by_time, by_size, by_start;

		if (nx->base > synced)
			break;          /* not durable yet: keep */
		if (ts < 0)
			ts = s->created_ms;
		by_time = ret_ms >= 0 && now_ms - ts > ret_ms;
		by_size = ret_bytes >= 0 && total - size >= (uint64_t)ret_bytes;
		by_start = nx->base <= start;
		if (!by_time && !by_size && !by_start)
			break;
		if (!atomic_compare_exchange_strong(&s->state, &zero,
						    SEG_DEAD))
			break;          /* a reader holds it */
		if (nx->base > start) {
			start = nx->base;
			atomic_store_explicit(&p->log_start, start,
					      memory_order_release);
		}
		seg_close(s);
		seg_unlink(p, s);
		head++;
		atomic_store_explicit(&p->seg_head, head,
				      memory_order_release);
		total -= size;
		n++;
		FMQ_DEBUG(LOG_COMP, "%s: retention deleted segment %" PRId64
			  " (%s)", p->dir, s->base, by_start ? "log start" :
			  by_time ? "time" : "size");
	}
	STAT_ADD(p->log->segments_deleted, (uint64_t)n);
	return n;
}

int
fmq_log_retention(struct fmq_log *log, int64_t now_ms)
{
	int total = 0;

	for (uint32_t i = 0; i < log->p.max_partitions; i++) {
		int n;

		if (log->parts[i] == NULL)
			continue;
		n = fmq_log_part_retention(log->parts[i], now_ms);
		if (n > 0)
			total += n;
	}
	return total;
}

/* ------------------------------------------------------------------------
 * Close, delete
 * ---------------------------------------------------------------------- */

/*
 * Close: everything written through and synced, then every chunk back to
 * the pool. When that fails (the dir is full or failing), nothing is
 * given back: the unwritten chunks keep their headers, so the next open
 * of the partition (this run or the next start) recovers them; discard
 * is for a partition whose files are deleted anyway.
 */
static int
part_close(struct fmq_log_part *p, bool discard)
{
	struct fmq_log *log = p->log;
	uint64_t tail, i;
	int64_t w;
	int rc = 0;

	cleaner_forget(p);
	w = part_flush(p, fmq_now_ns(), true, true);
	if (w < 0) {
		rc = (int)w;
		dir_error(p, rc, fmq_now_ns());
	}
	tail = atomic_load(&p->hot_tail);
	if (rc < 0 && !discard) {
		uint32_t kept = 0;

		for (uint64_t r = atomic_load(&p->reclaimed); r < tail; r++) {
			uint32_t id = p->hot[r & p->hot_mask].id;

			if (!log->orphan[id]) {
				log->orphan[id] = 1;
				log->norphans++;
			}
			kept++;
		}
		atomic_store(&p->reclaimed, tail);
		FMQ_ERR(LOG_COMP, "%s: closed with data not yet written "
			"through (%s); its %u hot chunks are kept for the next "
			"open or start to recover", p->dir, strerror(-rc),
			kept);
	}
	while (atomic_load(&p->reclaimed) < tail) {
		uint64_t r = atomic_load(&p->reclaimed);

		if (reclaim_head(p)) {
			release_head(p);
			continue;
		}
		/* Still being sent: the flusher returns it later. */
		if (defer_pinned(log, p->hot[r & p->hot_mask].id,
				 p->hot[r & p->hot_mask].gen) < 0)
			FMQ_ERR(LOG_COMP, "%s: closed with a pinned chunk and "
				"no memory to track it; it stays out of the "
				"pool until restart", p->dir);
		atomic_store(&p->reclaimed, r + 1);
	}
	/* The producer state at the end, so a clean restart replays
	 * nothing. */
	if (rc == 0) {
		struct ps_snap *s = ps_serialize(&p->ps,
			atomic_load(&p->next_offset), fmq_wall_ms());
		int src = s != NULL ? ps_snap_write(p->dir, s) : -ENOMEM;

		if (src < 0)
			FMQ_WARN(LOG_COMP, "%s: producer snapshot on close: %s",
				 p->dir, strerror(-src));
		else
			STAT_ADD(log->producer_snapshots, 1);
		free(s);
	}
	free(atomic_exchange(&p->snap_pending, NULL));
	ps_fini(&p->ps);
	txn_fini(p);
	tail = atomic_load(&p->seg_tail);
	if (tail > 0)
		seg_seal(part_seg(p, tail - 1));
	for (i = atomic_load(&p->seg_head); i < tail; i++)
		seg_close(part_seg(p, i));
	log->parts[p->reg_idx] = NULL;
	log->nparts--;
	free(p->segs);
	free(p->hot);
	free(p);
	return discard ? 0 : rc;
}

int
fmq_log_part_close(struct fmq_log_part *p)
{
	return part_close(p, false);
}

int
fmq_log_part_delete(struct fmq_log_part *p)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int rc;

	snprintf(dir, sizeof(dir), "%s", p->dir);
	rc = part_close(p, true);
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 256];

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && rc == 0)
			rc = -errno;
	}
	closedir(d);
	if (rmdir(dir) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* ------------------------------------------------------------------------
 * Counters
 * ---------------------------------------------------------------------- */

void
fmq_log_stats(const struct fmq_log *log, struct fmq_log_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < log->p.nb_lcores; i++) {
		const struct fmq_log_lcore *lc = &log->lcores[i];

		st->appends += STAT_GET(lc->appends);
		st->append_bytes += STAT_GET(lc->append_bytes);
		st->append_records += STAT_GET(lc->append_records);
		st->rejects += STAT_GET(lc->rejects);
		st->crc_failures += STAT_GET(lc->crc_failures);
		st->backpressure += STAT_GET(lc->backpressure);
		st->rolls += STAT_GET(lc->rolls);
		for (int k = 0; k < 5; k++)
			st->batches_by_codec[k] += STAT_GET(lc->by_codec[k]);
		st->deep_validated += STAT_GET(lc->deep_validated);
		st->recompressed += STAT_GET(lc->recompressed);
		st->recompress_in_bytes += STAT_GET(lc->recompress_in);
		st->recompress_out_bytes += STAT_GET(lc->recompress_out);
		st->duplicates += STAT_GET(lc->duplicates);
		st->out_of_order += STAT_GET(lc->out_of_order);
		st->invalid_epoch += STAT_GET(lc->invalid_epoch);
		st->producers_evicted += STAT_GET(lc->producers_evicted);
		st->remote_chunks += STAT_GET(lc->remote_chunks);
		st->follower_producer_batches +=
			STAT_GET(lc->follower_pbatches);
		st->txn_log_markers += STAT_GET(lc->txn_log_markers);
		st->txn_index_nomem += STAT_GET(lc->txn_index_nomem);
		if (lc->codec != NULL) {
			const struct fmq_codec_stats *cs =
				fmq_codec_ctx_stats(lc->codec);

			for (int k = 0; k < FMQ_CODEC_COUNT; k++)
				st->decompress_errors +=
					__atomic_load_n(&cs->dec_corrupt[k],
							__ATOMIC_RELAXED) +
					__atomic_load_n(&cs->dec_too_big[k],
							__ATOMIC_RELAXED);
		}
	}
	for (uint32_t i = 0; i < log->p.max_partitions; i++)
		if (log->parts[i] != NULL)
			st->producers += __atomic_load_n(&log->parts[i]->ps.n,
							 __ATOMIC_RELAXED);
	st->producer_snapshots = STAT_GET(log->producer_snapshots);
	st->cleaner_runs = STAT_GET(log->cleaner_runs);
	st->cleaner_segments = STAT_GET(log->cleaner_segments);
	st->cleaner_read_bytes = STAT_GET(log->cleaner_read_bytes);
	st->cleaner_written_bytes = STAT_GET(log->cleaner_written_bytes);
	st->cleaner_records_removed = STAT_GET(log->cleaner_records_removed);
	st->cleaner_tombstones_removed =
		STAT_GET(log->cleaner_tombstones_removed);
	st->cleaner_swap_waits = STAT_GET(log->cleaner_swap_waits);
	st->cleaner_errors = STAT_GET(log->cleaner_errors);
	st->cleaner_ns = STAT_GET(log->cleaner_ns);
	st->delete_records = STAT_GET(log->delete_records);
	st->recoveries = STAT_GET(log->recoveries);
	st->recovered_batches = STAT_GET(log->recovered_batches);
	st->truncated_bytes = STAT_GET(log->truncated_bytes);
	st->flushed_bytes = STAT_GET(log->flushed_bytes);
	st->syncs = STAT_GET(log->syncs);
	st->flush_lag_bytes = STAT_GET(log->flush_lag_bytes);
	st->flush_lag_messages = STAT_GET(log->flush_lag_messages);
	st->segments_deleted = STAT_GET(log->segments_deleted);
	st->chunks_free = pool_free_chunks(log);
	st->chunks_total = log->nlive;
	st->chunks_pinned_closed = log->npinned;
	for (uint32_t i = 0; i < log->npools; i++)
		st->mbind_failures += STAT_GET(log->pools[i].mbind_failures);
}

/* Per NUMA node: one sample per live pool, labelled with its node. */
static void
node_metrics(struct fmq_metrics_out *out, const struct fmq_log *log)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "fluxmq_log_hot_node_chunks", "gauge",
		  "Chunks in the hot pool of a NUMA node." },
		{ "fluxmq_log_hot_node_chunks_free", "gauge",
		  "Free chunks in the ring of a NUMA node's hot pool." },
		{ "fluxmq_log_hot_node_mbind_failures_total", "counter",
		  "1 when a node's pool could not be bound to it (mbind "
		  "failed, or no such node on this host)." },
		{ "fluxmq_log_hot_node_misplaced_pages", "gauge",
		  "Hugepages of a node's pool found on another node after "
		  "binding (the node had too few free hugepages)." },
	};

	for (size_t f = 0; f < RTE_DIM(fam); f++) {
		fmq_metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
		for (uint32_t i = 0; i < log->nlive_pools; i++) {
			const struct hot_pool *hp = &log->pools[i];
			uint64_t v[] = {
				hp->nlive, rte_ring_count(hp->free_ring),
				hp->mbind_failures, hp->misplaced_pages,
			};
			char lab[32];

			snprintf(lab, sizeof(lab), "node=\"%d\"", hp->node);
			fmq_metrics_u64(out, fam[f].name, lab, v[f]);
		}
	}
}

/* Per log.dirs entry (that a partition lives in), labelled dir="...". */
static void
dir_metrics(struct fmq_metrics_out *out, const struct fmq_log *log)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "fluxmq_log_dir_offline", "gauge",
		  "1 while a log dir is offline: a write or fdatasync there "
		  "failed and no retry has succeeded yet (produce to its "
		  "partitions answers KAFKA_STORAGE_ERROR)." },
		{ "fluxmq_log_dir_write_errors_total", "counter",
		  "Failed writes, fdatasyncs and index reservations in a log "
		  "dir." },
		{ "fluxmq_log_dir_offline_transitions_total", "counter",
		  "Times a log dir went offline." },
	};
	uint32_t n = __atomic_load_n(&log->ndirs, __ATOMIC_ACQUIRE);

	for (size_t f = 0; f < RTE_DIM(fam); f++) {
		fmq_metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
		for (uint32_t i = 0; i < n; i++) {
			const struct log_dir *ld = &log->dirs[i];
			uint64_t v[] = {
				atomic_load(&ld->offline) ? 1 : 0,
				STAT_GET(ld->write_errors),
				STAT_GET(ld->offline_total),
			};
			char lab[PATH_MAX + 16];
			size_t k = 0;

			/* Prometheus label value: \\, \" and \n escaped. */
			k += (size_t)snprintf(lab, sizeof(lab), "dir=\"");
			for (const char *c = ld->path;
			     *c != '\0' && k + 4 < sizeof(lab); c++) {
				if (*c == '\\' || *c == '"' || *c == '\n')
					lab[k++] = '\\';
				lab[k++] = *c == '\n' ? 'n' : *c;
			}
			lab[k++] = '"';
			lab[k] = '\0';
			fmq_metrics_u64(out, fam[f].name, lab, v[f]);
		}
	}
}

void
fmq_log_metrics(struct fmq_metrics_out *out, void *arg)
{
	static const struct fmq_metric_def defs[] = {
#define X(field, type, name, help) \
	FMQ_METRIC_DEF(struct fmq_log_stats, field, type, name, help),
#include "log_metrics.def"
#undef X
	};
	const struct fmq_log *log = arg;
	struct fmq_log_stats st;

	fmq_log_stats(log, &st);
	fmq_metrics_table(out, defs, RTE_DIM(defs), &st);
	fmq_metrics_one(out, "fluxmq_log_hot_pool_hugepages", "gauge",
			"1 if the hot pool is on hugetlbfs, 0 for the "
			"ordinary-memory fallback.", log->huge ? 1 : 0);
	node_metrics(out, log);
	dir_metrics(out, log);

	fmq_metrics_family(out, "fluxmq_log_batches_total", "counter",
			   "Batches appended, by the codec they are stored "
			   "with.");
	for (int k = 0; k < FMQ_CODEC_COUNT; k++) {
		char lab[32];

		snprintf(lab, sizeof(lab), "codec=\"%s\"", fmq_codec_name(k));
		fmq_metrics_u64(out, "fluxmq_log_batches_total", lab,
				st.batches_by_codec[k]);
	}
	fmq_metrics_one(out, "fluxmq_log_cleaner_seconds_total", "counter",
			"Time spent in finished compaction rounds (ns / 1e9, "
			"floored).", st.cleaner_ns / 1000000000ull);
	{
		struct fmq_codec_ctx *ctxs[log->p.nb_lcores];
		struct fmq_codec_metrics_set set = { ctxs, 0 };

		for (uint32_t i = 0; i < log->p.nb_lcores; i++)
			if (log->lcores[i].codec != NULL)
				ctxs[set.n++] = log->lcores[i].codec;
		fmq_codec_metrics(out, &set);
	}
}
