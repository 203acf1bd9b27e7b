/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record batch v2 validation, in the order Kafka's LogValidator and
 * DefaultRecordBatch check it, each failure with the code Kafka returns.
 */
#include <errno.h>
#include <stdlib.h>

#include <isa-l/crc.h>

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

	/* Most fields (deltas, short lengths) fit one byte. */
	if (likely(p < end && p[0] < 0x80)) {
		*out = (int64_t)((p[0] >> 1) ^ -(uint64_t)(p[0] & 1));
		return 1;
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
		int64_t len, tsd, od, kl, vl, nh, v;
		const uint8_t *rend;
		uint32_t n;

		n = varlong(p, end, 5, &len);
		if (n == 0 || len < 0 || len > end - (p + n))
			return -1;
		p += n;
		rend = p + len;
		if (p >= rend)
			return -1;
		p++;                               /* attributes */
		if ((n = varlong(p, rend, 10, &tsd)) == 0)
			return -1;
		p += n;
		if ((n = varlong(p, rend, 5, &od)) == 0)
			return -1;
		p += n;
		if ((n = varlong(p, rend, 5, &kl)) == 0 || kl < -1 ||
		    kl > rend - (p + n))
			return -1;
		p += n + (kl > 0 ? kl : 0);
		if ((n = varlong(p, rend, 5, &vl)) == 0 || vl < -1 ||
		    vl > rend - (p + n))
			return -1;
		p += n + (vl > 0 ? vl : 0);
		if ((n = varlong(p, rend, 5, &nh)) == 0 || nh < 0)
			return -1;
		p += n;
		for (int64_t h = 0; h < nh; h++) {
			if ((n = varlong(p, rend, 5, &v)) == 0 || v < 0 ||
			    v > rend - (p + n))
				return -1;
			p += n + v;
			if ((n = varlong(p, rend, 5, &v)) == 0 || v < -1 ||
			    v > rend - (p + n))
				return -1;
			p += n + (v > 0 ? v : 0);
		}
		if (p != rend)
			return -1;          /* record length lies */
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

int16_t
batch_validate(const uint8_t *b, uint32_t len, uint32_t max_bytes,
	       struct batch_info *bi, bool *crc_failed)
{
	uint8_t magic;
	int64_t span;

	*crc_failed = false;
	/* 1. Enough bytes for the size fields and the fixed header. */
	if (len < RB_RECORDS)
		return FMQ_LOG_E_CORRUPT_MESSAGE;
	/* 2. The format: only magic 2 is served (v0/v1 are Kafka 4's
	 *    UNSUPPORTED_FOR_MESSAGE_FORMAT, anything else is garbage). */
	magic = b[RB_MAGIC];
	if (magic < 2)
		return FMQ_LOG_E_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	if (magic != 2)
		return FMQ_LOG_E_CORRUPT_MESSAGE;
	batch_peek(b, bi);
	/* 3. batchLength must describe exactly the bytes given: shorter is a
	 *    truncated batch, longer means several batches, which Produce v3+
	 *    does not allow. */
	if (rd_be32(b + RB_LENGTH) > UINT32_MAX - RB_LOG_OVERHEAD ||
	    bi->size < RB_RECORDS || bi->size > len)
		return FMQ_LOG_E_CORRUPT_MESSAGE;
	if (bi->size < len)
		return FMQ_LOG_E_INVALID_RECORD;
	/* 4. Size limit (message.max.bytes). */
	if (bi->size > max_bytes)
		return FMQ_LOG_E_MESSAGE_TOO_LARGE;
	/* 5. CRC-32C of attributes..end. */
	if (batch_crc(b, bi->size) != rd_be32(b + RB_CRC)) {
		*crc_failed = true;
		return FMQ_LOG_E_CORRUPT_MESSAGE;
	}
	/* 6. Header consistency (LogValidator.validateBatch). */
	if ((bi->attributes & RB_ATTR_CODEC_MASK) > 4)
		return FMQ_LOG_E_CORRUPT_MESSAGE;
	if (bi->attributes & RB_ATTR_CONTROL)
		return FMQ_LOG_E_INVALID_RECORD;
	span = (int64_t)bi->last_delta + 1;
	if (bi->count <= 0 || bi->last_delta < 0 || span != bi->count)
		return FMQ_LOG_E_INVALID_RECORD;
	/* 7. Uncompressed: the records themselves must be well framed and
	 *    exactly `count' of them. Compressed batches are stored as sent. */
	if ((bi->attributes & RB_ATTR_CODEC_MASK) == 0 &&
	    walk_records(b, bi->size, bi->count, NULL, NULL) != 0)
		return FMQ_LOG_E_INVALID_RECORD;
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
