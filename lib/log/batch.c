/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record batch v2 validation, in the order Kafka's LogValidator and
 * DefaultRecordBatch check it, each failure with the code Kafka returns.
 */
#include <errno.h>
#include <stdlib.h>

#include <isa-l/crc.h>
#include <rte_mbuf.h>

#include "fmq_codec.h"

#include "log_priv.h"

uint32_t
fmq_log_crc32c(const void *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;
	const unsigned char *b = p;

	/* crc32_iscsi takes an int length; feed huge inputs in pieces. */
	while (n > 0) {
		int step = n > (1u << 30) ? (1 << 30) : (int)n;

		crc = crc32_iscsi((unsigned char *)(uintptr_t)b, step, crc);
		b += step;
		n -= (size_t)step;
	}
	return crc ^ 0xFFFFFFFFu;
}

/* The CRC field covers attributes through the end of the batch. */
uint32_t
batch_crc(const uint8_t *b, uint32_t size)
{
	return fmq_log_crc32c(b + RB_ATTRIBUTES, size - RB_ATTRIBUTES);
}

void
batch_peek(const uint8_t *b, struct batch_info *bi)
{
	bi->base_offset = (int64_t)rd_be64(b + RB_BASE_OFFSET);
	bi->size = rd_be32(b + RB_LENGTH) + RB_LOG_OVERHEAD;
	bi->attributes = rd_be16(b + RB_ATTRIBUTES);
	bi->last_delta = (int32_t)rd_be32(b + RB_LAST_OFFSET_DELTA);
	bi->first_ts = (int64_t)rd_be64(b + RB_FIRST_TS);
	bi->max_ts = (int64_t)rd_be64(b + RB_MAX_TS);
	bi->count = (int32_t)rd_be32(b + RB_COUNT);
}

/* Zigzag varint (Kafka's signed varint); max bytes 5 (int) or 10 (long).
 * Returns bytes consumed or 0 if malformed / past end. */
static inline uint32_t
varlong(const uint8_t *p, const uint8_t *end, uint32_t maxb, int64_t *out)
{
	uint64_t v = 0;
	uint32_t i;

	/* Most fields (deltas, short lengths) fit one byte, most of the rest
	 * (lengths up to 8 KiB, deltas up to 8191) two. */
	if (likely(end - p >= 2)) {
		if (p[0] < 0x80) {
			*out = (int64_t)((p[0] >> 1) ^ -(uint64_t)(p[0] & 1));
			return 1;
		}
		if (p[1] < 0x80) {
			v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
			*out = (int64_t)((v >> 1) ^ -(v & 1));
			return 2;
		}
	}

	for (i = 0; i < maxb; i++) {
		if (p + i >= end)
			return 0;
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*out = (int64_t)((v >> 1) ^ -(v & 1));
			return i + 1;
		}
	}
	return 0;
}

/* The body of one record (after its length varint), p..rend, as
 * DefaultRecord.readFrom reads it: every field within the record and the
 * record exactly filled. Returns false if malformed. */
static inline bool
record_body(const uint8_t *p, const uint8_t *rend, int64_t *tsd, int64_t *od)
{
	int64_t kl, vl, nh, v;
	uint32_t n;

	if (p >= rend)
		return false;
	p++;                                /* attributes */
	if ((n = varlong(p, rend, 10, tsd)) == 0)
		return false;
	p += n;
	if ((n = varlong(p, rend, 5, od)) == 0)
		return false;
	p += n;
	if ((n = varlong(p, rend, 5, &kl)) == 0 || kl < -1 ||
	    kl > rend - (p + n))
		return false;
	p += n + (kl > 0 ? kl : 0);
	if ((n = varlong(p, rend, 5, &vl)) == 0 || vl < -1 ||
	    vl > rend - (p + n))
		return false;
	p += n + (vl > 0 ? vl : 0);
	if ((n = varlong(p, rend, 5, &nh)) == 0 || nh < 0)
		return false;
	p += n;
	for (int64_t h = 0; h < nh; h++) {
		if ((n = varlong(p, rend, 5, &v)) == 0 || v < 0 ||
		    v > rend - (p + n))
			return false;
		p += n + v;
		if ((n = varlong(p, rend, 5, &v)) == 0 || v < -1 ||
		    v > rend - (p + n))
			return false;
		p += n + (v > 0 ? v : 0);
	}
	return p == rend;                   /* else the record length lies */
}

/*
 * The append path's record check: the same verdict as record_body() with
 * fewer instructions. The walk is instruction-bound (about 190 per record
 * with record_body()), so fields whose value the check does not need (the
 * timestamp and offset deltas) are only skipped, and one- and two-byte
 * varints, nearly all of them, are decoded inline.
 */
static inline const uint8_t *
varint_skip(const uint8_t *p, const uint8_t *end, uint32_t maxb)
{
	if (likely(end - p >= 2)) {
		if (p[0] < 0x80)
			return p + 1;
		if (p[1] < 0x80)
			return p + 2;
	}
	for (uint32_t i = 0; i < maxb && p + i < end; i++)
		if (p[i] < 0x80)
			return p + i + 1;
	return NULL;
}

static inline const uint8_t *
varint_val(const uint8_t *p, const uint8_t *end, uint32_t maxb, int64_t *v)
{
	uint64_t u;
	uint32_t n;

	if (likely(end - p >= 2)) {
		if (p[0] < 0x80) {
			*v = (int64_t)((p[0] >> 1) ^ -(uint64_t)(p[0] & 1));
			return p + 1;
		}
		if (p[1] < 0x80) {
			u = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
			*v = (int64_t)((u >> 1) ^ -(u & 1));
			return p + 2;
		}
	}
	n = varlong(p, end, maxb, v);
	return n != 0 ? p + n : NULL;
}

static inline bool
record_check(const uint8_t *p, const uint8_t *rend)
{
	int64_t kl, vl, nh, v;

	if (p >= rend)
		return false;
	p++;                                /* attributes */
	if ((p = varint_skip(p, rend, 10)) == NULL ||    /* timestampDelta */
	    (p = varint_skip(p, rend, 5)) == NULL)       /* offsetDelta */
		return false;
	if ((p = varint_val(p, rend, 5, &kl)) == NULL || kl < -1 ||
	    kl > rend - p)
		return false;
	p += kl > 0 ? kl : 0;
	if ((p = varint_val(p, rend, 5, &vl)) == NULL || vl < -1 ||
	    vl > rend - p)
		return false;
	p += vl > 0 ? vl : 0;
	if ((p = varint_val(p, rend, 5, &nh)) == NULL || nh < 0)
		return false;
	for (int64_t h = 0; h < nh; h++) {
		if ((p = varint_val(p, rend, 5, &v)) == NULL || v < 0 ||
		    v > rend - p)
			return false;
		p += v;
		if ((p = varint_val(p, rend, 5, &v)) == NULL || v < -1 ||
		    v > rend - p)
			return false;
		p += v > 0 ? v : 0;
	}
	return p == rend;
}

/* The length varint of the record at p, the record bounded by the batch
 * end: its size in *n and the body length in *len. False if malformed. */
static inline bool
record_len(const uint8_t *p, const uint8_t *end, uint32_t *n, int64_t *len)
{
	*n = varlong(p, end, 5, len);
	return *n != 0 && *len >= 0 && *len <= end - (p + *n);
}

/* Walk the records of an uncompressed batch as DefaultRecord.readFrom
 * does: each length must match its contents, and exactly `count' records
 * must fill the batch. Calls fn(record timestamp delta, offset delta) for
 * each if fn is given (stops early when it returns true). */
static int
walk_records_in(const uint8_t *p, const uint8_t *end, int32_t count,
		bool (*fn)(void *, int64_t, int64_t), void *arg)
{
	int32_t i;

	for (i = 0; i < count; i++) {
		int64_t len, tsd, od;
		uint32_t n;

		if (!record_len(p, end, &n, &len) ||
		    !record_body(p + n, p + n + len, &tsd, &od))
			return -1;
		p += n + len;
		if (fn != NULL && fn(arg, tsd, od))
			return 0;
	}
	return p == end ? 0 : -1;           /* records left over */
}

static int
walk_records(const uint8_t *b, uint32_t size, int32_t count,
	     bool (*fn)(void *, int64_t, int64_t), void *arg)
{
	return walk_records_in(b + RB_RECORDS, b + size, count, fn, arg);
}

/*
 * The resumable walk of the fused pass: records are walked as soon as all
 * their bytes have been copied (p..avail), so a record, or a varint, cut
 * by a block or an mbuf segment boundary waits for the next block. Gives
 * exactly walk_records()'s verdict once avail reaches the batch end.
 */
struct rec_walk {
	const uint8_t *p;       /* the next record */
	const uint8_t *end;     /* the batch end */
	int32_t left;           /* records still to walk */
	bool bad;
};

static inline void
walk_resume(struct rec_walk *w, const uint8_t *avail)
{
	const uint8_t *p = w->p, *end = w->end;
	int32_t left = w->left;

	while (left > 0) {
		const uint8_t *q;
		int64_t len;

		q = varint_val(p, avail, 5, &len);
		if (q == NULL) {
			/* Cut off by avail: wait, unless 5 bytes were there
			 * (malformed whatever follows) or there is no more. */
			if (avail < end && avail - p < 5)
				break;
			w->bad = true;
			return;
		}
		if (len < 0 || len > end - q) {
			w->bad = true;
			return;
		}
		if (len > avail - q)
			break;                  /* body not copied yet */
		if (!record_check(q, q + len)) {
			w->bad = true;
			return;
		}
		p = q + len;
		left--;
	}
	w->p = p;
	w->left = left;
	/* All records walked but bytes left over: records left over. */
	if (left == 0 && p != end)
		w->bad = true;
}

/*
 * Steps 1 to 4 from the header alone (the first RB_RECORDS bytes and the
 * length given); the verdict of step 6, which is only reported if the CRC
 * (step 5) matches, in *late.
 */
static int16_t
batch_header(const uint8_t *b, uint32_t len, uint32_t max_bytes,
	     struct batch_info *bi, int16_t *late, bool stored)
{
	uint8_t magic;
	int64_t span;

	/* 1. Enough bytes for the size fields and the fixed header. */
	if (len < RB_RECORDS)
		return FMQ_KERR_CORRUPT_MESSAGE;
	/* 2. The format: only magic 2 is served (v0/v1 are Kafka 4's
	 *    UNSUPPORTED_FOR_MESSAGE_FORMAT, anything else is garbage). */
	magic = b[RB_MAGIC];
	if (magic < 2)
		return FMQ_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	if (magic != 2)
		return FMQ_KERR_CORRUPT_MESSAGE;
	batch_peek(b, bi);
	/* 3. batchLength must describe exactly the bytes given: shorter is a
	 *    truncated batch, longer means several batches, which Produce v3+
	 *    does not allow. */
	if (rd_be32(b + RB_LENGTH) > UINT32_MAX - RB_LOG_OVERHEAD ||
	    bi->size < RB_RECORDS || bi->size > len)
		return FMQ_KERR_CORRUPT_MESSAGE;
	if (bi->size < len)
		return FMQ_KERR_INVALID_RECORD;
	/* 4. Size limit (message.max.bytes). */
	if (bi->size > max_bytes)
		return FMQ_KERR_MESSAGE_TOO_LARGE;
	/* 6. Header consistency (LogValidator.validateBatch), reported after
	 *    the CRC. */
	span = (int64_t)bi->last_delta + 1;
	if ((bi->attributes & RB_ATTR_CODEC_MASK) > 4)
		*late = FMQ_KERR_CORRUPT_MESSAGE;
	else if ((bi->attributes & RB_ATTR_CONTROL) && !stored)
		*late = FMQ_KERR_INVALID_RECORD;
	else if (bi->last_delta < 0 ||
		 (stored ? bi->count < 0 || bi->count > span :
		  bi->count <= 0 || span != bi->count))
		*late = FMQ_KERR_INVALID_RECORD;
	else
		*late = 0;
	return 0;
}

static int16_t
validate(const uint8_t *b, uint32_t len, uint32_t max_bytes,
	 struct batch_info *bi, bool *crc_failed, bool stored)
{
	int16_t e, late;

	*crc_failed = false;
	e = batch_header(b, len, max_bytes, bi, &late, stored);
	if (e != 0)
		return e;
	/* 5. CRC-32C of attributes..end. */
	if (batch_crc(b, bi->size) != rd_be32(b + RB_CRC)) {
		*crc_failed = true;
		return FMQ_KERR_CORRUPT_MESSAGE;
	}
	/* 6. Header consistency. */
	if (late != 0)
		return late;
	/* 7. Uncompressed: the records themselves must be well framed and
	 *    exactly `count' of them. Compressed batches are stored as sent. */
	if ((bi->attributes & RB_ATTR_CODEC_MASK) == 0 &&
	    walk_records(b, bi->size, bi->count, NULL, NULL) != 0)
		return FMQ_KERR_INVALID_RECORD;
	return 0;
}

int16_t
batch_validate(const uint8_t *b, uint32_t len, uint32_t max_bytes,
	       struct batch_info *bi, bool *crc_failed)
{
	return validate(b, len, max_bytes, bi, crc_failed, false);
}

/* A batch as the log may hold it: also one the cleaner shrank (fewer
 * records than its offset span, possibly none, as Kafka's cleaner leaves
 * them) and control batches. Recovery and the cleaner use this. */
int16_t
batch_validate_stored(const uint8_t *b, uint32_t len, struct batch_info *bi,
		      bool *crc_failed)
{
	return validate(b, len, UINT32_MAX, bi, crc_failed, true);
}

/* Copy n bytes from the source cursor, across its segments. */
static inline void
src_copy(struct batch_src *s, uint8_t *dst, uint32_t n)
{
	while (n > 0) {
		uint32_t k;

		while (s->left == 0) {
			s->m = s->m->next;
			s->p = rte_pktmbuf_mtod(s->m, const uint8_t *);
			s->left = s->m->data_len;
		}
		k = RTE_MIN(s->left, n);
		memcpy(dst, s->p, k);
		dst += k;
		s->p += k;
		s->left -= k;
		n -= k;
	}
}

void
batch_src_buf(struct batch_src *s, const void *buf)
{
	s->m = NULL;
	s->p = buf;
	s->left = UINT32_MAX;
	s->control = false;
}

void
batch_src_chain(struct batch_src *s, const struct rte_mbuf *m, uint32_t off)
{
	/* off may be the chain's very end (an empty batch, refused before
	 * anything is copied): stop at the last segment. */
	while (off >= m->data_len && m->next != NULL) {
		off -= m->data_len;
		m = m->next;
	}
	s->m = m;
	s->p = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	s->left = off < m->data_len ? m->data_len - off : 0;
	s->control = false;
}

int16_t
batch_copy_validate(uint8_t *dst, struct batch_src *src, uint32_t len,
		    uint32_t max_bytes, uint32_t block, struct batch_info *bi,
		    bool *crc_failed)
{
	uint32_t crc = 0xFFFFFFFFu, done, n;
	struct rec_walk w;
	bool walk;
	int16_t e, late;

	*crc_failed = false;
	if (len < RB_RECORDS)
		return FMQ_KERR_CORRUPT_MESSAGE;
	/* Steps 1-4 need only the header: copy the first block and stop
	 * there if they fail. */
	done = RTE_MAX(RTE_MIN(block, len), (uint32_t)RB_RECORDS);
	src_copy(src, dst, done);
	e = batch_header(dst, len, max_bytes, bi, &late, src->control);
	if (e != 0)
		return e;
	/* Step 7 only matters when 5 and 6 pass: a batch that fails step 6
	 * (count <= 0, unknown codec) is not walked. */
	walk = late == 0 && (bi->attributes & RB_ATTR_CODEC_MASK) == 0;
	w.p = dst + RB_RECORDS;
	w.end = dst + len;
	w.left = bi->count;
	w.bad = false;
	crc = crc32_iscsi(dst + RB_ATTRIBUTES, (int)(done - RB_ATTRIBUTES),
			  crc);
	for (;;) {
		if (walk && !w.bad)
			walk_resume(&w, dst + done);
		if (done == len)
			break;
		/* The next block: copied, then its CRC and its records while
		 * the bytes are still in L1. */
		n = RTE_MIN(block, len - done);
		src_copy(src, dst + done, n);
		crc = crc32_iscsi(dst + done, (int)n, crc);
		done += n;
	}
	/* 5. CRC-32C of attributes..end. */
	if ((crc ^ 0xFFFFFFFFu) != rd_be32(dst + RB_CRC)) {
		*crc_failed = true;
		return FMQ_KERR_CORRUPT_MESSAGE;
	}
	/* 6. Header consistency. */
	if (late != 0)
		return late;
	/* 7. Uncompressed records: all walked, none bad, none left over. */
	if (walk && (w.bad || w.left != 0 || w.p != w.end))
		return FMQ_KERR_INVALID_RECORD;
	return 0;
}

int16_t
fmq_log_batch_check(const void *buf, uint32_t len, uint32_t max_bytes,
		    uint32_t *records)
{
	struct batch_info bi;
	bool crc_failed;
	int16_t e = batch_validate(buf, len, max_bytes, &bi, &crc_failed);

	if (e == 0 && records != NULL)
		*records = (uint32_t)bi.count;
	return e;
}

struct ts_scan {
	int64_t base_ts;
	int64_t want;
	int64_t found_delta;
	int64_t found_ts;
};

static bool
ts_scan_fn(void *arg, int64_t tsd, int64_t od)
{
	struct ts_scan *s = arg;

	if (s->base_ts + tsd >= s->want) {
		s->found_delta = od;
		s->found_ts = s->base_ts + tsd;
		return true;
	}
	return false;
}

/* First record of a (valid) batch with timestamp >= ts. LogAppendTime
 * batches carry one time for every record; compressed batches are not
 * decompressed here, so their base offset stands for the batch. */
int
batch_first_ts_at_least(const uint8_t *b, uint32_t size, int64_t ts,
			int64_t *offset, int64_t *ts_found)
{
	struct batch_info bi;
	struct ts_scan s;

	batch_peek(b, &bi);
	if (bi.max_ts < ts)
		return -1;
	if ((bi.attributes & RB_ATTR_TS_LOG_APPEND) ||
	    (bi.attributes & RB_ATTR_CODEC_MASK) != 0) {
		*offset = bi.base_offset;
		*ts_found = bi.max_ts;
		return 0;
	}
	s.base_ts = bi.first_ts;
	s.want = ts;
	s.found_delta = -1;
	s.found_ts = -1;
	if (walk_records(b, size, bi.count, ts_scan_fn, &s) != 0 ||
	    s.found_delta < 0) {
		*offset = bi.base_offset;
		*ts_found = bi.max_ts;
		return 0;
	}
	*offset = bi.base_offset + s.found_delta;
	*ts_found = s.found_ts;
	return 0;
}

static bool
ts_equal_fn(void *arg, int64_t tsd, int64_t od)
{
	struct ts_scan *s = arg;

	if (s->base_ts + tsd == s->want) {
		s->found_delta = od;
		return true;
	}
	return false;
}

/* Kafka's RecordBatch.offsetOfMaxTimestamp(): the first record whose
 * timestamp is the batch's maxTimestamp. LogAppendTime batches stamp every
 * record with it (the first record then); compressed ones are decompressed
 * with ctx. A batch whose records do not carry its maxTimestamp (Kafka
 * rewrites maxTimestamp on append, shallow validation here does not)
 * stands for its last offset, which is what Kafka answered before 3.8. */
int
batch_offset_of_max_ts(const uint8_t *b, uint32_t size,
		       struct fmq_codec_ctx *ctx, int64_t *offset)
{
	struct batch_info bi;
	struct ts_scan s;
	int codec, rc;

	batch_peek(b, &bi);
	*offset = bi.base_offset + bi.last_delta;
	if (bi.attributes & RB_ATTR_TS_LOG_APPEND) {
		*offset = bi.base_offset;
		return 0;
	}
	s.base_ts = bi.first_ts;
	s.want = bi.max_ts;
	s.found_delta = -1;
	codec = bi.attributes & RB_ATTR_CODEC_MASK;
	if (codec == 0) {
		rc = walk_records(b, size, bi.count, ts_equal_fn, &s);
	} else {
		const struct fmq_codec_limits *lim = fmq_codec_ctx_limits(ctx);
		struct fmq_codec_seg seg = { .p = b + RB_RECORDS,
					     .len = size - RB_RECORDS };
		size_t n = 0;
		uint8_t *out = malloc(lim->max_output);

		if (out == NULL)
			return -ENOMEM;
		rc = fmq_codec_decompress(ctx, codec, &seg, 1, out,
					  lim->max_output, &n);
		if (rc == 0)
			rc = walk_records_in(out, out + n, bi.count,
					     ts_equal_fn, &s);
		free(out);
	}
	if (rc == 0 && s.found_delta >= 0)
		*offset = bi.base_offset + s.found_delta;
	return 0;
}

/* ------------------------------------------------------------------------
 * Record iteration for the cleaner
 * ---------------------------------------------------------------------- */

int
batch_record_next(const uint8_t *p, const uint8_t *end, struct rec_view *rv)
{
	int64_t len, v;
	const uint8_t *q, *rend;
	uint32_t n;

	n = varlong(p, end, 5, &len);
	if (n == 0 || len <= 0 || len > end - (p + n))
		return -1;
	q = p + n;
	rend = q + len;
	rv->rec = p;
	rv->size = n + (uint32_t)len;
	q++;                                /* attributes */
	if ((n = varlong(q, rend, 10, &rv->ts_delta)) == 0)
		return -1;
	q += n;
	if ((n = varlong(q, rend, 5, &v)) == 0)
		return -1;
	rv->off_delta = v;
	q += n;
	if ((n = varlong(q, rend, 5, &v)) == 0 || v < -1 ||
	    v > rend - (q + n))
		return -1;
	q += n;
	rv->key = v >= 0 ? q : NULL;
	rv->key_len = (int32_t)v;
	q += v > 0 ? v : 0;
	if ((n = varlong(q, rend, 5, &v)) == 0 || v < -1 ||
	    v > rend - (q + n))
		return -1;
	rv->value_len = (int32_t)v;
	return 0;
}
