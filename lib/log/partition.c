/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A partition: open and close (control thread) and reads (owner lcore).
 * Recovery is in recovery.c, appends in append.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fmq_codec.h"
#include "log_priv.h"

static bool
topic_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > FMQ_LOG_TOPIC_MAX || strcmp(t, ".") == 0 ||
	    strcmp(t, "..") == 0)
		return false;
	for (; *t != '\0'; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '.' || *t == '_' ||
		      *t == '-'))
			return false;
	return true;
}

struct fmq_log_part *
fmq_log_part_open(struct fmq_log *log, const struct fmq_log_part_params *pp)
{
	struct fmq_log_part *p;
	uint32_t slot = UINT32_MAX, seg_cap, hot_cap;
	uint64_t chunk_cap = log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
	int64_t *bases = NULL;
	uint32_t nb = 0;
	int rc;

	if (pp == NULL || pp->dir == NULL || pp->topic == NULL ||
	    !topic_ok(pp->topic) || pp->partition < 0 ||
	    pp->lcore >= log->p.nb_lcores ||
	    pp->max_message_bytes < RB_RECORDS ||
	    pp->max_message_bytes > chunk_cap ||
	    pp->segment_bytes < 1024 || pp->segment_bytes > INT32_MAX ||
	    pp->roll_ms <= 0 || pp->index_max_bytes < 4 * TIM_ENTRY) {
		FMQ_ERR(LOG_COMP, "invalid partition parameters%s",
			pp != NULL && pp->max_message_bytes > chunk_cap ?
			": message.max.bytes exceeds log.hot.chunk.bytes "
			"minus the chunk header" : "");
		errno = EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < log->p.max_partitions; i++) {
		struct fmq_log_part *o = log->parts[i];

		if (o == NULL) {
			if (slot == UINT32_MAX)
				slot = i;
			continue;
		}
		if (o->pp.partition == pp->partition &&
		    strcmp(o->topic, pp->topic) == 0) {
			errno = EEXIST;
			return NULL;
		}
	}
	if (slot == UINT32_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	/* Cache-aligned, so the struct's sections (log_priv.h) are on
	 * lines of their own. */
	p = aligned_alloc(RTE_CACHE_LINE_SIZE,
			  RTE_ALIGN_CEIL(sizeof(*p), RTE_CACHE_LINE_SIZE));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->log = log;
	p->lc = &log->lcores[pp->lcore];
	p->pp = *pp;
	snprintf(p->topic, sizeof(p->topic), "%s", pp->topic);
	p->pp.topic = p->topic;
	p->pp.dir = NULL;
	if ((size_t)snprintf(p->dir, sizeof(p->dir), "%s/%s-%d", pp->dir,
			     pp->topic, pp->partition) >= sizeof(p->dir) - 32) {
		free(p);
		errno = ENAMETOOLONG;
		return NULL;
	}
	p->topic_hash = topic_hash(p->topic);
	p->err_seg = -1;
	p->ld = log_dir_get(log, pp->dir);
	if (p->ld == NULL) {
		FMQ_ERR(LOG_COMP, "%s: more than %u log.dirs entries, or one "
			"too long", p->dir, LOG_DIRS_MAX);
		rc = -ENOSPC;
		goto fail;
	}
	rc = fmq_mkdir_p(p->dir);
	if (rc < 0)
		goto fail;
	/* A swap of a cleaned segment that a crash interrupted. */
	rc = cleaner_recover_dir(p->dir);
	if (rc < 0)
		goto fail;
	rc = list_segments(p->dir, &bases, &nb);
	if (rc < 0)
		goto fail;
	free(bases);
	seg_cap = rte_align32pow2(RTE_MAX(256u, 2 * nb));
	hot_cap = rte_align32pow2(RTE_MIN(log->nlive, 1024u));
	p->segs = calloc(seg_cap, sizeof(*p->segs));
	p->hot = calloc(hot_cap, sizeof(*p->hot));
	if (p->segs == NULL || p->hot == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	p->seg_mask = seg_cap - 1;
	p->hot_mask = hot_cap - 1;
	rc = part_recover(p);
	if (rc < 0)
		goto fail;
	(void)epoch_open(p);
	p->reg_idx = slot;
	log->parts[slot] = p;
	log->nparts++;
	return p;
fail:
	FMQ_ERR(LOG_COMP, "%s: open: %s", p->dir, strerror(-rc));
	if (p->segs != NULL) {
		uint64_t tail = atomic_load(&p->seg_tail);

		for (uint64_t i = 0; i < tail; i++)
			seg_close(part_seg(p, i));
	}
	ps_fini(&p->ps);
	free(p->segs);
	free(p->hot);
	free(p);
	errno = -rc;
	return NULL;
}

void
fmq_log_part_offsets(const struct fmq_log_part *part,
		     struct fmq_log_offsets *o)
{
	struct fmq_log_part *p = (struct fmq_log_part *)(uintptr_t)part;

	o->log_start = atomic_load_explicit(&p->log_start,
					    memory_order_acquire);
	o->high_watermark = atomic_load_explicit(&p->next_offset,
						 memory_order_acquire);
	o->written = atomic_load_explicit(&p->written_off,
					  memory_order_acquire);
	o->synced = atomic_load_explicit(&p->synced_off,
					 memory_order_acquire);
}

void
fmq_log_part_stats(const struct fmq_log_part *part,
		   struct fmq_log_part_stats *s)
{
	struct fmq_log_part *p = (struct fmq_log_part *)(uintptr_t)part;
	uint64_t head = atomic_load_explicit(&p->seg_head,
					     memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&p->seg_tail,
					     memory_order_acquire);

	s->log_start = atomic_load_explicit(&p->log_start,
					    memory_order_acquire);
	s->log_end = atomic_load_explicit(&p->next_offset,
					  memory_order_acquire);
	s->size_bytes = 0;
	for (uint64_t i = head; i < tail; i++)
		s->size_bytes += atomic_load_explicit(&part_seg(p, i)->size,
						      memory_order_relaxed);
	s->segments = (uint32_t)(tail - head);
	s->appended_bytes = atomic_load_explicit(&p->app_bytes,
						 memory_order_relaxed);
	s->appended_records = atomic_load_explicit(&p->app_records,
						   memory_order_relaxed);
	s->read_bytes = atomic_load_explicit(&p->read_bytes,
					     memory_order_relaxed);
}

void
fmq_log_part_note_read(struct fmq_log_part *p, uint64_t bytes)
{
	atomic_store_explicit(&p->read_bytes,
			      atomic_load_explicit(&p->read_bytes,
						   memory_order_relaxed) + bytes,
			      memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Read
 * ---------------------------------------------------------------------- */

/* Hot: whole batches from the chunk that holds `off', if it is still in
 * the pool. Returns 1 with a range, 0 if not hot (try durable). */
static int
read_hot(struct fmq_log_part *p, int64_t off, int64_t hw, uint32_t budget,
	 bool first, struct fmq_log_range *r)
{
	struct fmq_log *log = p->log;
	uint64_t lo = atomic_load_explicit(&p->reclaimed,
					   memory_order_acquire);
	uint64_t hi = atomic_load_explicit(&p->hot_tail, memory_order_relaxed);
	uint32_t fill, pos, start, len = 0;
	const struct hot_ent *e;
	struct chunk *c;
	int64_t next = off;
	uint64_t ipos;

	if (lo >= hi || p->hot[lo & p->hot_mask].base > off)
		return 0;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (p->hot[mid & p->hot_mask].base <= off)
			lo = mid;
		else
			hi = mid;
	}
	e = &p->hot[lo & p->hot_mask];
	c = &log->chunks[e->id];
	if (!chunk_pin(c, e->gen))
		return 0;
	fill = c == p->cur ? p->cur_fill :
		__atomic_load_n(&c->hdr->fill, __ATOMIC_ACQUIRE);
	/* Start scanning at the index entry if it falls in this chunk. */
	if (!seg_pin(c->seg)) {
		chunk_unpin(c);
		return 0;
	}
	ipos = seg_index_lookup(c->seg, off);
	seg_unpin(c->seg);
	start = ipos > c->seg_pos ? (uint32_t)(ipos - c->seg_pos) : 0;
	if (start >= fill)
		start = 0;
	pos = start;
	while (pos + RB_RECORDS <= fill) {
		struct batch_info bi;

		batch_peek(c->data + pos, &bi);
		if (bi.base_offset + bi.last_delta >= off)
			break;
		pos += bi.size;
	}
	while (pos + len + RB_RECORDS <= fill && next < hw) {
		struct batch_info bi;

		batch_peek(c->data + pos + len, &bi);
		if (len + bi.size > budget && !(first && len == 0))
			break;
		if (len == 0)
			r->first_offset = bi.base_offset;
		len += bi.size;
		next = bi.base_offset + bi.last_delta + 1;
	}
	if (len == 0) {
		chunk_unpin(c);
		return 0;
	}
	r->addr = c->data + pos;
	r->fd = -1;
	r->pos = 0;
	r->len = len;
	r->next_offset = next;
	r->handle = c;
	return 1;
}

/* Durable: whole batches from the segment file. 1 with a range, 0 if
 * nothing readable yet, -1 if the offset fell to retention, -EIO. */
static int
read_durable(struct fmq_log_part *p, int64_t off, int64_t upto,
	     uint32_t budget, bool first, struct fmq_log_range *r)
{
	uint64_t lo, hi, limit, pos;
	uint8_t hdr[RB_RECORDS];
	struct seg *s;
	uint32_t len = 0;
	int64_t next = off;
	int rc;

	for (;;) {
		lo = atomic_load_explicit(&p->seg_head, memory_order_acquire);
		hi = atomic_load_explicit(&p->seg_tail, memory_order_acquire);
		if (off < part_seg(p, lo)->base)
			return -1;
		while (hi - lo > 1) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (part_seg(p, mid)->base <= off)
				lo = mid;
			else
				hi = mid;
		}
		s = part_seg(p, lo);
		if (seg_pin(s))
			break;
	}
	limit = atomic_load_explicit(&s->written, memory_order_acquire);
	pos = seg_index_lookup(s, off);
	if (pos > limit)
		pos = 0;
	for (;;) {
		struct batch_info bi;

		rc = seg_read_header(s, pos, hdr, limit);
		if (rc == -ENODATA)
			break;
		if (rc < 0)
			goto eio;
		batch_peek(hdr, &bi);
		if (bi.size < RB_RECORDS)
			goto eio;
		if (bi.base_offset + bi.last_delta >= off)
			break;
		pos += bi.size;
	}
	while (pos + len < limit && next < upto) {
		struct batch_info bi;

		rc = seg_read_header(s, pos + len, hdr, limit);
		if (rc == -ENODATA)
			break;
		if (rc < 0)
			goto eio;
		batch_peek(hdr, &bi);
		if (bi.size < RB_RECORDS || pos + len + bi.size > limit ||
		    bi.base_offset >= upto ||
		    (len + bi.size > budget && !(first && len == 0)))
			break;
		if (len == 0)
			r->first_offset = bi.base_offset;
		len += bi.size;
		next = bi.base_offset + bi.last_delta + 1;
	}
	if (len == 0) {
		seg_unpin(s);
		return 0;
	}
	r->addr = NULL;
	r->fd = s->fd_log;
	r->pos = pos;
	r->len = len;
	r->next_offset = next;
	r->handle = (void *)((uintptr_t)s | 1);
	return 1;
eio:
	seg_unpin(s);
	return -EIO;
}

int
fmq_log_read(struct fmq_log_part *p, int64_t offset, uint32_t max_bytes,
	     struct fmq_log_range *ranges, uint32_t nmax,
	     struct fmq_log_read_result *res)
{
	return fmq_log_read_upto(p, offset, INT64_MAX, max_bytes, ranges,
				 nmax, res);
}

int
fmq_log_read_upto(struct fmq_log_part *p, int64_t offset, int64_t upto,
		  uint32_t max_bytes, struct fmq_log_range *ranges,
		  uint32_t nmax, struct fmq_log_read_result *res)
{
	int64_t hw = atomic_load_explicit(&p->next_offset,
					  memory_order_relaxed);
	int64_t lim = RTE_MIN(hw, upto);
	int64_t start = atomic_load_explicit(&p->log_start,
					     memory_order_acquire);
	int64_t cur = offset;
	int rc = 0;

	res->error = 0;
	res->nranges = 0;
	res->bytes = 0;
	res->high_watermark = hw;
	res->log_start_offset = start;
	if (offset < start || offset > hw) {
		res->error = FMQ_KERR_OFFSET_OUT_OF_RANGE;
		return 0;
	}
	while (cur < lim && res->nranges < nmax &&
	       (res->bytes < max_bytes || res->nranges == 0)) {
		struct fmq_log_range *r = &ranges[res->nranges];
		uint32_t budget = max_bytes > res->bytes ?
			max_bytes - res->bytes : 0;
		bool first = res->nranges == 0;

		rc = read_hot(p, cur, lim, budget, first, r);
		if (rc == 0)
			rc = read_durable(p, cur, lim, budget, first, r);
		if (rc == -1) {
			rc = 0;
			if (first)
				res->error = FMQ_KERR_OFFSET_OUT_OF_RANGE;
			break;
		}
		if (rc <= 0)
			break;
		rc = 0;
		res->bytes += r->len;
		res->nranges++;
		cur = r->next_offset;
	}
	res->log_start_offset = atomic_load_explicit(&p->log_start,
						     memory_order_acquire);
	if (rc < 0) {
		for (uint32_t i = 0; i < res->nranges; i++)
			fmq_log_range_release(&ranges[i]);
		res->nranges = 0;
		res->bytes = 0;
	}
	return rc;
}

void
fmq_log_range_release(const struct fmq_log_range *r)
{
	uintptr_t h = (uintptr_t)r->handle;

	if (h & 1)
		seg_unpin((struct seg *)(h & ~(uintptr_t)1));
	else if (h != 0)
		chunk_unpin((struct chunk *)h);
}

void
fmq_log_extbuf_free_cb(void *addr, void *opaque)
{
	struct fmq_log_range r = { .handle = opaque };

	RTE_SET_USED(addr);
	fmq_log_range_release(&r);
}

int
fmq_log_range_copy(const struct fmq_log_range *r, void *dst)
{
	uint8_t *d = dst;
	uint64_t pos = r->pos;
	size_t left = r->len;

	if (r->addr != NULL) {
		memcpy(dst, r->addr, r->len);
		return 0;
	}
	while (left > 0) {
		ssize_t n = pread(r->fd, d, left, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		d += n;
		left -= (size_t)n;
		pos += (uint64_t)n;
	}
	return 0;
}

/* ListOffsets MAX_TIMESTAMP as Kafka's UnifiedLog does it: the first
 * segment with the largest maxTimestampSoFar, in it the first batch that
 * reached it (the segment keeps that batch's last offset), in that batch
 * the first record carrying it. */
static int
offset_for_max_time(struct fmq_log_part *p, int64_t *offset,
		    int64_t *ts_found)
{
	uint64_t head = atomic_load_explicit(&p->seg_head,
					     memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&p->seg_tail,
					     memory_order_acquire);
	int64_t best_ts = -1, best_off = -1;
	struct fmq_log_range r;
	struct fmq_log_read_result rr;
	uint8_t *buf = NULL;
	const uint8_t *b;
	int rc;

	*offset = -1;
	*ts_found = -1;
	for (uint64_t i = head; i < tail; i++) {
		struct seg *s = part_seg(p, i);
		int64_t mts;

		if (!seg_pin(s))
			continue;
		mts = atomic_load_explicit(&s->max_ts, memory_order_relaxed);
		if (mts > best_ts) {
			best_ts = mts;
			best_off = s->max_ts_off;
		}
		seg_unpin(s);
	}
	if (best_ts < 0)
		return 0;       /* no timestamped batch: -1, as Kafka */
	rc = fmq_log_read(p, best_off, 1, &r, 1, &rr);
	if (rc < 0)
		return rc;
	if (rr.error != 0 || rr.nranges == 0)
		return 0;       /* retention took it meanwhile */
	b = r.addr;
	if (b == NULL) {
		buf = malloc(r.len);
		rc = buf == NULL ? -ENOMEM : fmq_log_range_copy(&r, buf);
		if (rc < 0) {
			free(buf);
			fmq_log_range_release(&r);
			return rc;
		}
		b = buf;
	}
	/* LogAppendTime batches were stamped (maxTimestamp rewritten) on
	 * append, so the stored field is what the segment recorded. */
	if (r.len >= RB_RECORDS &&
	    (int64_t)rd_be64(b + RB_MAX_TS) == best_ts) {
		rc = batch_offset_of_max_ts(b, r.len, p->lc->codec, offset);
		if (rc == 0)
			*ts_found = best_ts;
	}
	free(buf);
	fmq_log_range_release(&r);
	return rc;
}

int
fmq_log_offset_for_time(struct fmq_log_part *p, int64_t ts, int64_t *offset,
			int64_t *ts_found)
{
	if (ts == FMQ_LOG_TS_MAX)
		return offset_for_max_time(p, offset, ts_found);
	uint64_t head = atomic_load_explicit(&p->seg_head,
					     memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&p->seg_tail,
					     memory_order_acquire);
	int64_t hw = atomic_load_explicit(&p->next_offset,
					  memory_order_relaxed);
	/* Segments below a DeleteRecords start may still be there until
	 * the next retention pass: never answer below it (Kafka searches
	 * from the log start offset). */
	int64_t start = atomic_load_explicit(&p->log_start,
					     memory_order_acquire);
	int64_t cur = -1;
	uint8_t *buf = NULL;
	uint32_t bufsz = 0;
	int rc = 0;

	*offset = -1;
	*ts_found = -1;
	for (uint64_t i = head; i < tail; i++) {
		struct seg *s = part_seg(p, i);

		if (!seg_pin(s))
			continue;
		if (atomic_load_explicit(&s->max_ts, memory_order_relaxed) >=
		    ts) {
			seg_time_lookup(s, ts, &cur);
			seg_unpin(s);
			break;
		}
		seg_unpin(s);
	}
	if (cur >= 0 && cur < start)
		cur = start;
	/* Scan batch by batch from the time index entry. */
	while (cur >= 0 && cur < hw) {
		struct fmq_log_range r;
		struct fmq_log_read_result rr;
		const uint8_t *b;

		rc = fmq_log_read(p, cur, 1, &r, 1, &rr);
		if (rc < 0 || rr.error != 0 || rr.nranges == 0)
			break;
		b = r.addr;
		if (b == NULL) {
			if (r.len > bufsz) {
				uint8_t *nb = realloc(buf, r.len);

				if (nb == NULL) {
					fmq_log_range_release(&r);
					rc = -ENOMEM;
					break;
				}
				buf = nb;
				bufsz = r.len;
			}
			rc = fmq_log_range_copy(&r, buf);
			if (rc < 0) {
				fmq_log_range_release(&r);
				break;
			}
			b = buf;
		}
		if (batch_first_ts_at_least(b, r.len, ts, offset,
					    ts_found) == 0) {
			/* In the batch that holds the start, a record
			 * below it stands for the start. */
			if (*offset < start)
				*offset = start;
			fmq_log_range_release(&r);
			break;
		}
		cur = r.next_offset;
		fmq_log_range_release(&r);
	}
	free(buf);
	return rc;
}
