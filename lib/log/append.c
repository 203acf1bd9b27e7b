/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Appends to a partition (its owner lcore): chunks from the hot pool,
 * validation and the producer checks, segment rolls.
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
	      bool follower, struct fmq_log_append_result *res)
{
	int64_t next = atomic_load_explicit(&p->next_offset,
					    memory_order_relaxed);
	uint32_t chunk_cap = p->log->chunk_bytes - FMQ_LOG_CHUNK_HDR;
	struct seg *s = part_active_seg(p);
	const struct ps_batch *dup;
	struct batch_info bi;
	struct ps_key pk;
	struct txn_seen tseen;
	const uint8_t *rebuilt = NULL;
	int64_t evicted = 0;
	struct chunk *c;
	uint32_t rlen = 0;
	uint64_t size;
	int64_t now_ms;
	bool crc_failed;
	uint8_t *dst;
	int16_t err;
	int32_t bep;
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

	/* A follower keeps the leader's batch as it is, at the leader's
	 * offsets: it must start where this log ends. */
	if (follower) {
		int64_t base = (int64_t)rd_be64(dst + RB_BASE_OFFSET);
		if (base != next) {
			chunk_unpin(c);
			res->error = FMQ_KERR_OFFSET_OUT_OF_RANGE;
			return -ERANGE;
		}
		bi.base_offset = base;
		rebuilt = NULL;
		ps_key_of(dst, &pk);
		dup = NULL;
		goto place;
	}
	/* Kafka's order (UnifiedLog.append): the records are validated and
	 * rebuilt first, then the producer state is checked. */
	err = src->control ? 0 :
		transform(p, dst, len, now_ms, res, &rebuilt, &rlen);
	if (err != 0) {
		chunk_unpin(c);
		return reject(p, res, err, false);
	}
	ps_key_of(dst, &pk);
	if (src->control)
		pk.pid = -1;    /* a marker: no sequence (txn.c) */
	else if ((pk.attributes & RB_ATTR_TXN) && pk.pid >= 0 &&
		 !p->pp.txn_from_log && !txn_pid_open(p, pk.pid)) {
		/* Not added to a transaction of its producer (KIP-890). */
		chunk_unpin(c);
		return reject(p, res, FMQ_KERR_INVALID_TXN_STATE, false);
	}
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

place:
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

	/* Offsets: baseOffset and partitionLeaderEpoch are outside the CRC
	 * (a follower's batch has the leader's already). */
	if (!follower)
		wr_be64(dst + RB_BASE_OFFSET, (uint64_t)next);
	if (!follower)
		wr_be32(dst + RB_LEADER_EPOCH, (uint32_t)p->pp.leader_epoch);
	bep = (int32_t)rd_be32(dst + RB_LEADER_EPOCH);
	if (follower && p->pp.log_append_time)
		res->log_append_time = bi.max_ts;
	if (!follower && p->pp.log_append_time) {
		wr_be16(dst + RB_ATTRIBUTES,
			bi.attributes | RB_ATTR_TS_LOG_APPEND);
		wr_be64(dst + RB_MAX_TS, (uint64_t)now_ms);
		wr_be32(dst + RB_CRC, batch_crc(dst, len));
		bi.max_ts = now_ms;
		res->log_append_time = now_ms;
	}
	seg_index_add(p, s, next + bi.last_delta, (uint32_t)size, bi.max_ts,
		      len);

	/* A transaction the log opens is bounded before it shows (txn_open.c). */
	txn_log_pre(p, dst, len, next, &tseen);

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

	/* A marker closes it once shown, an abort enters the index. */
	txn_log_post(p, &tseen, next);

	/* The producer's new batch, for duplicates and sequence checks. A
	 * failure to grow the table (no memory) only forgets producers. */
	ps_commit(&p->ps, &pk, next, next + bi.last_delta,
		  p->pp.log_append_time ? res->log_append_time : -1, now_ms,
		  false, &evicted);
	if (evicted > 0)
		STAT_ADD(p->lc->producers_evicted, (uint64_t)evicted);
	if (follower && pk.pid >= 0)
		STAT_ADD(p->lc->follower_pbatches, 1);

	/* The first batch of a new leader epoch (KIP-101). */
	if (bep >= 0 && bep != fmq_epoch_latest(&p->epochs))
		(void)fmq_epoch_assign(&p->epochs, bep, next);

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
	return append_common(part, &src, len, false, res);
}

int
fmq_log_append_buf(struct fmq_log_part *part, const void *buf, uint32_t len,
		   struct fmq_log_append_result *res)
{
	struct batch_src src;

	batch_src_buf(&src, buf);
	return append_common(part, &src, len, false, res);
}

int
fmq_log_append_follower(struct fmq_log_part *part, const void *buf,
			uint32_t len, struct fmq_log_append_result *res)
{
	struct batch_src src;

	batch_src_buf(&src, buf);
	/* The leader's stored batch: its control batches (markers) and
	 * compacted counts are checked as stored batches are. */
	src.control = true;
	return append_common(part, &src, len, true, res);
}

void
fmq_log_part_set_leader_epoch(struct fmq_log_part *part, int32_t epoch)
{
	part->pp.leader_epoch = epoch;
	/* Kafka's makeLeader: the epoch starts at the log end. */
	(void)fmq_epoch_assign(&part->epochs, epoch,
			       atomic_load(&part->next_offset));
}

/* A control batch the broker built (txn.c): not a client's. */
int
log_append_control(struct fmq_log_part *part, const void *buf, uint32_t len,
		   struct fmq_log_append_result *res)
{
	struct batch_src src;

	batch_src_buf(&src, buf);
	src.control = true;
	return append_common(part, &src, len, false, res);
}
