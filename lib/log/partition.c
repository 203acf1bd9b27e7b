/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A partition: open and recovery (control thread), append and read (owner
 * lcore).
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

void
fmq_log_part_params_default(struct fmq_log_part_params *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->max_message_bytes = 1048588;
	pp->segment_bytes = 1073741824;
	pp->roll_ms = 604800000;
	pp->index_interval_bytes = 4096;
	pp->index_max_bytes = 10485760;
	pp->hot_bytes = 8388608;
	pp->flush_messages = INT64_MAX;
	pp->flush_ms = 1000;
	pp->retention_ms = 604800000;
	pp->retention_bytes = -1;
	pp->leader_epoch = 0;
	pp->compression = FMQ_LOG_COMPRESSION_PRODUCER;
	pp->deep_validation = false;
	pp->cleanup = FMQ_LOG_CLEANUP_DELETE;
	pp->min_cleanable_ratio = 0.5;
	pp->min_compaction_lag_ms = 0;
	pp->max_compaction_lag_ms = INT64_MAX;
	pp->delete_retention_ms = 86400000;
}

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

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Base offsets of the <20 digits>.log files in dir, sorted. */
static int
list_segments(const char *dir, int64_t **bases, uint32_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t cap = 16;
	int64_t *v;

	*n = 0;
	if (d == NULL)
		return -errno;
	v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		char *end;
		long long b;

		if (strlen(nm) != 24 || strcmp(nm + 20, ".log") != 0)
			continue;
		b = strtoll(nm, &end, 10);
		if (end != nm + 20 || b < 0)
			continue;
		if (*n == cap) {
			int64_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[(*n)++] = b;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_i64);
	*bases = v;
	return 0;
}

/* Start a new active segment at the current end. Owner (or recovery). */
int
part_roll(struct fmq_log_part *p, int64_t now_ms)
{
	uint64_t tail = atomic_load_explicit(&p->seg_tail,
					     memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&p->seg_head,
					     memory_order_acquire);
	struct seg *old = part_seg(p, tail - 1), *s;
	int64_t base = atomic_load_explicit(&old->next_offset,
					    memory_order_relaxed);
	int rc;

	RTE_SET_USED(now_ms);
	if (tail - head > p->seg_mask) {
		FMQ_ERR(LOG_COMP, "%s: %u segments open, cannot roll (raise "
			"segment.bytes or lower retention)", p->dir,
			p->seg_mask + 1);
		return -ENOSPC;
	}
	s = part_seg(p, tail);
	rc = seg_create(p, s, base);
	if (rc < 0)
		return rc;
	seg_seal(old);
	atomic_store_explicit(&p->seg_tail, tail + 1, memory_order_release);
	return 0;
}

/* Free every segment slot from i on (recovery found them unusable). */
static void
drop_segments_from(struct fmq_log_part *p, uint64_t i, uint64_t *truncated)
{
	uint64_t tail = atomic_load(&p->seg_tail);

	for (uint64_t j = i; j < tail; j++) {
		struct seg *s = part_seg(p, j);

		FMQ_WARN(LOG_COMP, "%s: deleting segment %" PRId64 " after a "
			 "gap or truncation", p->dir, s->base);
		*truncated += atomic_load(&s->size);
		seg_close(s);
		seg_unlink(p, s);
	}
	atomic_store(&p->seg_tail, i);
}

struct orphan_ref {
	int64_t base;
	uint64_t seq;
	uint32_t id;
};

static int
cmp_orphan(const void *a, const void *b)
{
	const struct orphan_ref *x = a, *y = b;

	if (x->base != y->base)
		return x->base < y->base ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool orphan_of(const struct fmq_log_part *p, uint32_t i);

/* Process crash: batches of this partition that reached the hot pool but
 * not the segment files are validated and written through. */
static int
recover_hot(struct fmq_log_part *p, uint64_t *batches)
{
	struct fmq_log *log = p->log;
	struct orphan_ref *refs;
	uint32_t n = 0;
	int64_t next = atomic_load(&part_active_seg(p)->next_offset);
	int rc = 0;
	bool gap = false;

	if (log->norphans == 0)
		return 0;
	refs = malloc(sizeof(*refs) * log->norphans);
	if (refs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < log->nchunks && n < log->norphans; i++) {
		struct chunk_hdr *h = log->chunks[i].hdr;

		if (!orphan_of(p, i))
			continue;
		refs[n].base = h->base_offset;
		refs[n].seq = h->seq;
		refs[n].id = i;
		n++;
	}
	qsort(refs, n, sizeof(*refs), cmp_orphan);
	for (uint32_t k = 0; k < n; k++) {
		struct chunk *c = &log->chunks[refs[k].id];
		uint32_t fill = c->hdr->fill, pos = 0;

		while (!gap && rc == 0 && pos + RB_RECORDS <= fill) {
			const uint8_t *b = c->data + pos;
			struct batch_info bi;
			bool crc_failed;

			batch_peek(b, &bi);
			if (bi.size < RB_RECORDS || bi.size > fill - pos)
				break;
			if (bi.base_offset + bi.last_delta < next) {
				pos += bi.size;         /* already durable */
				continue;
			}
			if (bi.base_offset != next) {
				FMQ_WARN(LOG_COMP, "%s: hot pool has offset %"
					 PRId64 " but the log ends at %" PRId64
					 "; not recovering past the gap",
					 p->dir, bi.base_offset, next);
				gap = true;
				break;
			}
			if (batch_validate(b, bi.size, UINT32_MAX, &bi,
					   &crc_failed) != 0) {
				FMQ_WARN(LOG_COMP, "%s: invalid batch at offset "
					 "%" PRId64 " in the hot pool; stopping "
					 "there", p->dir, bi.base_offset);
				gap = true;
				break;
			}
			rc = seg_append_durable(p, b, &bi);
			if (rc < 0) {
				FMQ_ERR(LOG_COMP, "%s: writing offset %" PRId64
					" from the hot pool: %s; nothing is "
					"discarded: the hot pool keeps it for "
					"the next start", p->dir,
					bi.base_offset, strerror(-rc));
				break;
			}
			next = bi.base_offset + bi.last_delta + 1;
			pos += bi.size;
			(*batches)++;
		}
		if (rc < 0)
			break;
	}
	/* The chunks go back to the pool only once everything is synced
	 * (orphans_release), never on a failure. */
	free(refs);
	return rc;
}

static bool
orphan_of(const struct fmq_log_part *p, uint32_t i)
{
	const struct chunk_hdr *h = p->log->chunks[i].hdr;

	return p->log->orphan[i] && h->topic_hash == p->topic_hash &&
		h->partition == p->pp.partition &&
		h->topic_len == strlen(p->topic) &&
		memcmp(h->topic, p->topic, h->topic_len) == 0;
}

/* The partition is recovered and synced: its hot chunks are not needed
 * any more. */
static void
orphans_release(struct fmq_log_part *p)
{
	struct fmq_log *log = p->log;

	for (uint32_t i = 0; i < log->nchunks && log->norphans > 0; i++) {
		if (!orphan_of(p, i))
			continue;
		log->orphan[i] = 0;
		log->norphans--;
		chunk_retire(log, &log->chunks[i]);
	}
}

static int
part_recover(struct fmq_log_part *p)
{
	struct fmq_log *log = p->log;
	uint64_t truncated = 0, batches = 0, total = 0;
	int64_t *bases = NULL, next = 0;
	uint32_t nb = 0;
	uint64_t i, tail;
	int rc;

	rc = list_segments(p->dir, &bases, &nb);
	if (rc < 0)
		return rc;
	for (i = 0; i < nb && i <= p->seg_mask; i++) {
		rc = seg_open_existing(p, part_seg(p, i), bases[i]);
		if (rc < 0) {
			atomic_store(&p->seg_tail, i);
			free(bases);
			return rc;
		}
		total += atomic_load(&part_seg(p, i)->size);
		atomic_store(&p->seg_tail, i + 1);
	}
	free(bases);
	if (total >= (64u << 20))
		FMQ_INFO(LOG_COMP, "%s: recovering %u segments, %" PRIu64
			 " MiB", p->dir, nb, total >> 20);

	tail = atomic_load(&p->seg_tail);
	for (i = 0; i < tail; i++) {
		struct seg *s = part_seg(p, i);
		uint64_t t0 = truncated;

		if (i > 0 && s->base != next) {
			drop_segments_from(p, i, &truncated);
			break;
		}
		rc = seg_recover(p, s, &next, &truncated);
		if (rc < 0)
			return rc;
		if (truncated != t0 && i + 1 < tail) {
			drop_segments_from(p, i + 1, &truncated);
			break;
		}
	}
	tail = atomic_load(&p->seg_tail);
	/* An empty segment in front of later ones has nothing to offer. */
	if (tail == 0) {
		rc = seg_create(p, part_seg(p, 0), 0);
		if (rc < 0)
			return rc;
		atomic_store(&p->seg_tail, 1);
		tail = 1;
	}
	for (i = 0; i + 1 < tail; i++)
		seg_seal(part_seg(p, i));

	rc = recover_hot(p, &batches);
	if (rc < 0)
		return rc;
	tail = atomic_load(&p->seg_tail);
	for (i = 0; i < tail; i++) {
		if (fdatasync(part_seg(p, i)->fd_log) != 0) {
			rc = -errno;
			FMQ_ERR(LOG_COMP, "%s: recovery: fdatasync segment %"
				PRId64 ": %s; nothing is discarded: the hot "
				"pool keeps its data for the next start",
				p->dir, part_seg(p, i)->base, strerror(-rc));
			return rc;
		}
	}
	orphans_release(p);
	if (truncated > 0 || batches > 0) {
		STAT_ADD(log->recoveries, 1);
		STAT_ADD(log->truncated_bytes, truncated);
		STAT_ADD(log->recovered_batches, batches);
		FMQ_INFO(LOG_COMP, "%s: recovered: %" PRIu64 " bytes cut, %"
			 PRIu64 " batches taken from the hot pool", p->dir,
			 truncated, batches);
	}
	rc = ps_recover(p);
	if (rc < 0)
		return rc;
	next = atomic_load(&part_active_seg(p)->next_offset);
	atomic_store(&p->next_offset, next);
	atomic_store(&p->written_off, next);
	atomic_store(&p->synced_off, next);
	atomic_store(&p->log_start, part_seg(p, 0)->base);
	log_start_load(p);
	cleaner_load_checkpoint(p);
	return 0;
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
 * Append
 * ---------------------------------------------------------------------- */

/* Take a fresh chunk for the active segment and publish it in the hot
 * list. Returns with the chunk pinned, or NULL when the pool is dry. */
static struct chunk *
part_new_chunk(struct fmq_log_part *p, struct seg *s, int64_t next)
{
	struct fmq_log *log = p->log;
	uint64_t tail = atomic_load_explicit(&p->hot_tail,
					     memory_order_relaxed);
	struct chunk_hdr *h;
	struct hot_ent *e;
	struct chunk *c;

	if (tail - atomic_load_explicit(&p->reclaimed, memory_order_acquire)
	    > p->hot_mask)
		return NULL;
	c = pool_get(log, p->lc);
	if (c == NULL)
		return NULL;
	h = c->hdr;
	__atomic_store_n(&h->fill, 0, __ATOMIC_RELAXED);
	h->magic = CHUNK_MAGIC;
	h->version = CHUNK_VERSION;
	h->chunk_bytes = log->chunk_bytes;
	h->seq = atomic_fetch_add_explicit(&log->seq, 1,
					   memory_order_relaxed);
	h->topic_hash = p->topic_hash;
	h->partition = p->pp.partition;
	h->topic_len = (uint32_t)strlen(p->topic);
	memset(h->topic, 0, sizeof(h->topic));
	memcpy(h->topic, p->topic, h->topic_len);
	h->base_offset = next;
	h->seg_base = s->base;
	h->seg_pos = atomic_load_explicit(&s->size, memory_order_relaxed);
	chunk_hdr_seal(h);
	c->seg = s;
	c->seg_pos = h->seg_pos;
	c->base_offset = next;
	e = &p->hot[tail & p->hot_mask];
	e->id = c->id;
	e->gen = ST_GEN(atomic_load_explicit(&c->state,
					     memory_order_relaxed));
	e->base = next;
	atomic_store_explicit(&p->hot_tail, tail + 1, memory_order_release);
	p->cur = c;
	p->cur_gen = e->gen;
	p->cur_fill = 0;
	return c;
}

/* A pinned chunk of segment s with room for len bytes: the current one or
 * a new one. NULL if the pool (or the hot list) is full. */
static struct chunk *
get_chunk(struct fmq_log_part *p, struct seg *s, int64_t next, uint32_t len)
{
	uint32_t chunk_cap = p->log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
	struct chunk *c = p->cur;

	if (c != NULL && !chunk_pin(c, p->cur_gen))
		c = p->cur = NULL;
	if (c != NULL && (c->seg != s || p->cur_fill + len > chunk_cap)) {
		chunk_unpin(c);
		c = p->cur = NULL;
	}
	if (c == NULL)
		c = part_new_chunk(p, s, next);
	return c;
}

static int
reject(struct fmq_log_part *p, struct fmq_log_append_result *res,
       int16_t err, bool crc_failed)
{
	res->error = err;
	STAT_ADD(p->lc->rejects, 1);
	if (crc_failed)
		STAT_ADD(p->lc->crc_failures, 1);
	return -EBADMSG;
}

/*
 * Deep validation and recompression of the batch at b (len bytes, already
 * checked by batch_validate). Returns a Kafka code (res filled with the
 * record index and message), and *out = the rebuilt batch in the lcore's
 * rebuild buffer and *olen its size, or *out = NULL when the batch is
 * stored as it is.
 */
static int16_t
transform(struct fmq_log_part *p, const uint8_t *b, uint32_t len,
	  int64_t now_ms, struct fmq_log_append_result *res,
	  const uint8_t **out, uint32_t *olen)
{
	struct fmq_log_lcore *lc = p->lc;
	struct fmq_codec_seg seg = { .p = b, .len = len };
	struct fmq_codec_vopts vo = {
		/* Kafka: "Compacted topic cannot accept message without
		 * key" (INVALID_RECORD). */
		.compacted = (p->pp.cleanup & FMQ_LOG_CLEANUP_COMPACT) != 0,
		.now_ms = now_ms,
		.ts_diff_max_ms = INT64_MAX,
		.log_append_time = p->pp.log_append_time,
		.from_client = true,
	};
	struct fmq_codec_vresult vr;
	int codec = rd_be16(b + RB_ATTRIBUTES) & RB_ATTR_CODEC_MASK;
	int target = p->pp.compression;
	uint32_t cap = (uint32_t)RTE_MIN((uint64_t)p->pp.max_message_bytes,
					 p->pp.segment_bytes);
	size_t n = 0;
	int16_t k;

	*out = NULL;
	if (target == FMQ_LOG_COMPRESSION_PRODUCER || target == codec) {
		if (!p->pp.deep_validation)
			return 0;
		STAT_ADD(lc->deep_validated, 1);
		k = fmq_codec_batch_validate(lc->codec, &seg, 1, &vo, &vr);
		if (k != 0)
			goto fail;
		/* Kafka rebuilds a compressed batch whose offset deltas are
		 * not 0..n-1 (old clients) instead of rejecting it. */
		if (vr.offsets_in_place || codec == 0)
			return 0;
		target = codec;
	} else {
		STAT_ADD(lc->deep_validated, 1);
	}
	cap = RTE_MIN(cap, lc->rebuild_cap);
	k = fmq_codec_batch_recompress(lc->codec, &seg, 1, target, &vo,
				       lc->rebuild, cap, &n, &vr);
	if (k != 0)
		goto fail;
	STAT_ADD(lc->recompressed, 1);
	STAT_ADD(lc->recompress_in, len);
	STAT_ADD(lc->recompress_out, n);
	*out = lc->rebuild;
	*olen = (uint32_t)n;
	return 0;
fail:
	res->record_index = vr.record_index;
	res->error_message = vr.msg;
	return k;
}

static int
append_common(struct fmq_log_part *p, struct batch_src *src, uint32_t len,
	      struct fmq_log_append_result *res)
{
	int64_t next = atomic_load_explicit(&p->next_offset,
					    memory_order_relaxed);
	uint32_t chunk_cap = p->log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
	struct seg *s = part_active_seg(p);
	const struct ps_batch *dup;
	const uint8_t *rebuilt;
	struct batch_info bi;
	struct ps_key pk;
	int64_t evicted = 0;
	struct chunk *c;
	uint32_t rlen = 0;
	uint64_t size;
	int64_t now_ms;
	bool crc_failed;
	uint8_t *dst;
	int16_t err;
	int rc;

	res->error = 0;
	res->records = 0;
	res->base_offset = -1;
	res->last_offset = -1;
	res->log_append_time = -1;
	res->duplicate = false;
	res->record_index = -1;
	res->error_message = NULL;
	res->log_start_offset = atomic_load_explicit(&p->log_start,
						     memory_order_relaxed);
	if (len < RB_RECORDS)
		return reject(p, res, FMQ_KERR_CORRUPT_MESSAGE, false);
	if (len > p->pp.max_message_bytes)
		return reject(p, res, FMQ_KERR_MESSAGE_TOO_LARGE, false);
	if (len > p->pp.segment_bytes)
		return reject(p, res, FMQ_KERR_RECORD_LIST_TOO_LARGE, false);

	/* The current chunk, if the flusher has not recycled it and the
	 * batch fits; else a new one (an empty chunk is invisible). */
	now_ms = fmq_wall_ms();
	size = atomic_load_explicit(&s->size, memory_order_relaxed);
	c = get_chunk(p, s, next, len);
	if (c == NULL) {
		STAT_ADD(p->lc->backpressure, 1);
		return -EAGAIN;
	}

	/* Copy once, validating each block as it lands (CRC, header and
	 * records). The copy goes past the fill mark, and nothing is visible
	 * until the mark moves, so a rejected batch leaves no trace. */
	dst = c->data + p->cur_fill;
	err = batch_copy_validate(dst, src, len, p->pp.max_message_bytes,
				  BATCH_BLOCK, &bi, &crc_failed);
	if (err != 0) {
		chunk_unpin(c);
		return reject(p, res, err, crc_failed);
	}

	/* Kafka's order (UnifiedLog.append): the records are validated and
	 * rebuilt first, then the producer state is checked. */
	err = transform(p, dst, len, now_ms, res, &rebuilt, &rlen);
	if (err != 0) {
		chunk_unpin(c);
		return reject(p, res, err, false);
	}
	ps_key_of(dst, &pk);
	err = ps_check(&p->ps, &pk, now_ms, &dup);
	if (err != 0) {
		chunk_unpin(c);
		if (err == FMQ_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER)
			STAT_ADD(p->lc->out_of_order, 1);
		else if (err == FMQ_KERR_INVALID_PRODUCER_EPOCH)
			STAT_ADD(p->lc->invalid_epoch, 1);
		return reject(p, res, err, false);
	}
	if (dup != NULL) {
		/* Answered with what the original got; nothing appended. */
		chunk_unpin(c);
		res->duplicate = true;
		res->records = (uint32_t)bi.count;
		res->base_offset = dup->first_off;
		res->last_offset = dup->last_off;
		res->log_append_time = p->pp.log_append_time ? dup->ts : -1;
		STAT_ADD(p->lc->duplicates, 1);
		return 0;
	}

	/* A rebuilt batch replaces the copy: in place when it is no larger,
	 * else where the chunk has room for it. */
	if (rebuilt != NULL) {
		if (rlen > len && p->cur_fill + rlen > chunk_cap) {
			chunk_unpin(c);
			c = get_chunk(p, s, next, rlen);
			if (c == NULL) {
				STAT_ADD(p->lc->backpressure, 1);
				return -EAGAIN;
			}
			dst = c->data + p->cur_fill;
		}
		memcpy(dst, rebuilt, rlen);
		len = rlen;
		batch_peek(dst, &bi);
	}

	/* Roll if the batch does not fit the segment, an index is full,
	 * relative offsets would overflow, or the segment is too old. Only
	 * valid batches roll. The slow path, once per segment: a few system
	 * calls, a snapshot of the producer state for the flusher to write,
	 * and the batch is copied again into a chunk of the new segment. */
	if (size > 0 && (size + len > p->pp.segment_bytes ||
			 s->idx_n >= s->idx_cap || s->tim_n >= s->tim_cap ||
			 next + bi.last_delta - s->base > INT32_MAX ||
			 now_ms - s->created_ms >= p->pp.roll_ms)) {
		struct chunk *old = c;
		uint8_t *odst = dst;
		struct ps_snap *snap;

		rc = part_roll(p, now_ms);
		if (rc < 0) {
			chunk_unpin(c);
			res->error = FMQ_KERR_KAFKA_STORAGE_ERROR;
			return rc;
		}
		STAT_ADD(p->lc->rolls, 1);
		snap = ps_serialize(&p->ps, next, now_ms);
		if (snap != NULL)
			free(atomic_exchange_explicit(&p->snap_pending, snap,
						      memory_order_acq_rel));
		s = part_active_seg(p);
		size = 0;
		c = get_chunk(p, s, next, len);
		if (c == NULL) {
			chunk_unpin(old);
			STAT_ADD(p->lc->backpressure, 1);
			return -EAGAIN;
		}
		dst = c->data + p->cur_fill;
		memcpy(dst, odst, len);
		chunk_unpin(old);
	}

	/* Offsets: baseOffset and partitionLeaderEpoch are outside the CRC. */
	wr_be64(dst + RB_BASE_OFFSET, (uint64_t)next);
	wr_be32(dst + RB_LEADER_EPOCH, (uint32_t)p->pp.leader_epoch);
	if (p->pp.log_append_time) {
		wr_be16(dst + RB_ATTRIBUTES,
			bi.attributes | RB_ATTR_TS_LOG_APPEND);
		wr_be64(dst + RB_MAX_TS, (uint64_t)now_ms);
		wr_be32(dst + RB_CRC, batch_crc(dst, len));
		bi.max_ts = now_ms;
		res->log_append_time = now_ms;
	}
	seg_index_add(p, s, next + bi.last_delta, (uint32_t)size, bi.max_ts,
		      len);

	/* Publish: the fill mark (flusher, crash recovery), then the
	 * segment size and the high watermark. */
	p->cur_fill += len;
	__atomic_store_n(&c->hdr->fill, p->cur_fill, __ATOMIC_RELEASE);
	chunk_unpin(c);
	atomic_store_explicit(&s->size, size + len, memory_order_relaxed);
	atomic_store_explicit(&s->next_offset, next + bi.last_delta + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&p->next_offset, next + bi.last_delta + 1,
			      memory_order_release);
	atomic_store_explicit(&p->app_bytes,
			      atomic_load_explicit(&p->app_bytes,
						   memory_order_relaxed) + len,
			      memory_order_relaxed);
	atomic_store_explicit(&p->app_records,
			      atomic_load_explicit(&p->app_records,
						   memory_order_relaxed) +
			      (uint64_t)(bi.count > 0 ? bi.count : 0),
			      memory_order_relaxed);

	/* The producer's new batch, for duplicates and sequence checks. A
	 * failure to grow the table (no memory) only forgets producers. */
	ps_commit(&p->ps, &pk, next, next + bi.last_delta,
		  p->pp.log_append_time ? now_ms : -1, now_ms, false,
		  &evicted);
	if (evicted > 0)
		STAT_ADD(p->lc->producers_evicted, (uint64_t)evicted);

	res->records = (uint32_t)bi.count;
	res->base_offset = next;
	res->last_offset = next + bi.last_delta;
	STAT_ADD(p->lc->appends, 1);
	STAT_ADD(p->lc->append_bytes, len);
	STAT_ADD(p->lc->append_records, (uint64_t)bi.count);
	STAT_ADD(p->lc->by_codec[bi.attributes & RB_ATTR_CODEC_MASK], 1);
	return 0;
}

int
fmq_log_append(struct fmq_log_part *part, const struct rte_mbuf *m,
	       uint32_t off, uint32_t len, struct fmq_log_append_result *res)
{
	struct batch_src src;

	if (m == NULL || (uint64_t)off + len > m->pkt_len) {
		res->error = FMQ_KERR_CORRUPT_MESSAGE;
		res->base_offset = res->last_offset = -1;
		return -EINVAL;
	}
	batch_src_chain(&src, m, off);
	return append_common(part, &src, len, res);
}

int
fmq_log_append_buf(struct fmq_log_part *part, const void *buf, uint32_t len,
		   struct fmq_log_append_result *res)
{
	struct batch_src src;

	batch_src_buf(&src, buf);
	return append_common(part, &src, len, res);
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
read_durable(struct fmq_log_part *p, int64_t off, uint32_t budget,
	     bool first, struct fmq_log_range *r)
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
	while (pos + len < limit) {
		struct batch_info bi;

		rc = seg_read_header(s, pos + len, hdr, limit);
		if (rc == -ENODATA)
			break;
		if (rc < 0)
			goto eio;
		batch_peek(hdr, &bi);
		if (bi.size < RB_RECORDS || pos + len + bi.size > limit ||
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
	int64_t hw = atomic_load_explicit(&p->next_offset,
					  memory_order_relaxed);
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
	while (cur < hw && res->nranges < nmax &&
	       (res->bytes < max_bytes || res->nranges == 0)) {
		struct fmq_log_range *r = &ranges[res->nranges];
		uint32_t budget = max_bytes > res->bytes ?
			max_bytes - res->bytes : 0;
		bool first = res->nranges == 0;

		rc = read_hot(p, cur, hw, budget, first, r);
		if (rc == 0)
			rc = read_durable(p, cur, budget, first, r);
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
