/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record-level ("deep") validation of a v2 records section, and the rewrite
 * of offset deltas that Kafka's rebuild performs.
 *
 * The checks and the error codes follow Kafka: DefaultRecord.readFrom and
 * DefaultRecordBatch's iterators throw InvalidRecordException (code
 * INVALID_RECORD) for every structural problem; LogValidator.validateRecord
 * collects per-record key and timestamp errors and fails the batch with
 * INVALID_TIMESTAMP if any was a timestamp error, INVALID_RECORD otherwise.
 * A structural error aborts the walk at once (Java's exception), so it
 * wins over record errors seen before it.
 */
#include <limits.h>
#include <stdlib.h>

#include "codec_priv.h"

/* A cursor over segments; the fast paths work inside one segment. */
struct rd {
	struct codec_it it;
	const uint8_t *p, *end;
	size_t left;       /* bytes not yet read, all segments */
};

static void
rd_init(struct rd *r, const struct codec_in *in)
{
	size_t n;

	codec_it_init(&r->it, in);
	r->left = codec_in_len(in);
	if (codec_it_next(&r->it, &r->p, &n))
		r->end = r->p + n;
	else
		r->p = r->end = NULL;
}

/*
 * Move to the next non-empty segment once this one is used up. Callers
 * check `left` first; this must not (rd_skip has already counted the bytes
 * it is about to step over).
 */
static inline void
rd_refill(struct rd *r)
{
	size_t n;

	if (r->p == r->end && codec_it_next(&r->it, &r->p, &n))
		r->end = r->p + n;
}

static inline int
rd_u8(struct rd *r, uint8_t *v)
{
	if (r->left == 0)
		return -1;
	rd_refill(r);
	*v = *r->p++;
	r->left--;
	return 0;
}

/*
 * Kafka varint (zigzag), at most 5 bytes (readVarint throws after the
 * fifth continuation); the fifth byte's high bits are shifted out as Java's
 * int arithmetic does. 1 = too long, -1 = ran out of bytes.
 */
static inline int
rd_varint(struct rd *r, int32_t *v)
{
	uint32_t raw = 0;
	unsigned int shift = 0;
	uint8_t b;

	if (r->end - r->p >= 5) {
		/* Fast path: the whole varint is in this segment. */
		const uint8_t *p = r->p;

		while ((b = *p++) & 0x80) {
			raw |= (uint32_t)(b & 0x7f) << shift;
			shift += 7;
			if (shift > 28)
				return 1;
		}
		raw |= (uint32_t)b << shift;
		r->left -= p - r->p;
		r->p = p;
	} else {
		for (;;) {
			if (rd_u8(r, &b) < 0)
				return -1;
			if (!(b & 0x80))
				break;
			raw |= (uint32_t)(b & 0x7f) << shift;
			shift += 7;
			if (shift > 28)
				return 1;
		}
		raw |= (uint32_t)b << shift;
	}
	*v = (int32_t)((raw >> 1) ^ (~(raw & 1) + 1));
	return 0;
}

/* Kafka varlong (zigzag), at most 10 bytes. */
static inline int
rd_varlong(struct rd *r, int64_t *v)
{
	uint64_t raw = 0;
	unsigned int shift = 0;
	uint8_t b;

	for (;;) {
		if (r->p < r->end && r->left > 0) {
			b = *r->p++;
			r->left--;
		} else if (rd_u8(r, &b) < 0) {
			return -1;
		}
		if (!(b & 0x80))
			break;
		raw |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (shift > 63)
			return 1;
	}
	raw |= (uint64_t)b << shift;
	*v = (int64_t)((raw >> 1) ^ (~(raw & 1) + 1));
	return 0;
}

static inline int
rd_skip(struct rd *r, size_t n)
{
	if (n > r->left)
		return -1;
	r->left -= n;
	while (n > 0) {
		size_t k;

		rd_refill(r);
		k = r->end - r->p;
		if (k > n)
			k = n;
		r->p += k;
		n -= k;
	}
	return 0;
}

/* Math.abs(a - b) in Java's wrapping long arithmetic. */
static inline int64_t
java_abs_diff(int64_t a, int64_t b)
{
	uint64_t d = (uint64_t)a - (uint64_t)b;

	if ((int64_t)d < 0)
		d = ~d + 1;
	return (int64_t)d;
}

struct walk_err {
	const char *msg;
	int32_t index;
};

#define STRUCT_ERR(e, i, m) do { (e)->msg = (m); (e)->index = (i); \
	return FMQ_KERR_INVALID_RECORD; } while (0)

/*
 * Skip a bytes field of length len inside a record whose body ends `end`
 * bytes before the end of the input (r->left counts down to it).
 */
static inline int
skip_field(struct rd *r, int32_t len, size_t end)
{
	if (len < 0)
		return 0;
	if ((size_t)len > r->left - end)
		return -1;
	return rd_skip(r, (size_t)len);
}

static int16_t
walk(const struct fmq_codec_batch *b, const struct codec_in *in,
     const struct fmq_codec_vopts *o, struct fmq_codec_vresult *res,
     struct walk_err *e)
{
	bool check_ts = o != NULL && !o->log_append_time &&
			o->ts_diff_max_ms >= 0 && o->ts_diff_max_ms != INT64_MAX;
	bool ts_err = false, rec_err = false;
	struct rd r;
	int32_t i;

	rd_init(&r, in);
	res->records_bytes = (uint32_t)r.left;
	if (b->count < 0)
		STRUCT_ERR(e, -1, "Found invalid record count in batch");
	for (i = 0; i < b->count; i++) {
		int32_t len, off_delta, klen, vlen, nh, h;
		int64_t ts_delta, ts;
		size_t end;
		uint8_t attr;

		if (r.left == 0)
			STRUCT_ERR(e, i, "Incorrect declared batch size, "
				   "premature EOF reached");
		if (rd_varint(&r, &len) != 0)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (len < 0 || (size_t)len > r.left)
			STRUCT_ERR(e, i, "Invalid record size: the record "
				   "payload runs past the end of the batch");
		end = r.left - (size_t)len;
		/* Every field read below stays inside the record body:
		 * a length or count that points past it is an error. */
		if (rd_u8(&r, &attr) < 0 || rd_varlong(&r, &ts_delta) != 0 ||
		    rd_varint(&r, &off_delta) != 0 || r.left < end)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (rd_varint(&r, &klen) != 0 || r.left < end)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (klen < -1)
			STRUCT_ERR(e, i, "Invalid negative key length");
		if (skip_field(&r, klen, end) < 0)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (rd_varint(&r, &vlen) != 0 || r.left < end)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (vlen < -1)
			STRUCT_ERR(e, i, "Invalid negative value length");
		if (skip_field(&r, vlen, end) < 0)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (rd_varint(&r, &nh) != 0 || r.left < end)
			STRUCT_ERR(e, i, "Found invalid record structure");
		if (nh < 0)
			STRUCT_ERR(e, i, "Found invalid number of record "
				   "headers");
		/* Each header takes at least two bytes. */
		if ((size_t)nh > (r.left - end) / 2)
			STRUCT_ERR(e, i, "Found invalid number of record "
				   "headers: larger than the record");
		for (h = 0; h < nh; h++) {
			int32_t hk, hv;

			if (rd_varint(&r, &hk) != 0 || r.left < end)
				STRUCT_ERR(e, i, "Found invalid record "
					   "structure");
			if (hk < 0)
				STRUCT_ERR(e, i, "Invalid negative header "
					   "key size");
			if (skip_field(&r, hk, end) < 0 ||
			    rd_varint(&r, &hv) != 0 || r.left < end)
				STRUCT_ERR(e, i, "Found invalid record "
					   "structure");
			if (hv < -1)
				STRUCT_ERR(e, i, "Invalid negative header "
					   "value size");
			if (skip_field(&r, hv, end) < 0)
				STRUCT_ERR(e, i, "Found invalid record "
					   "structure");
		}
		if (r.left != end)
			STRUCT_ERR(e, i, "Invalid record size: the record's "
				   "fields do not add up to its length");

		if (off_delta != i)
			res->offsets_in_place = false;
		/* Java adds in long arithmetic and wraps; so do we. */
		ts = (int64_t)((uint64_t)b->base_timestamp +
			       (uint64_t)ts_delta);
		if ((b->attributes & FMQ_CODEC_ATTR_LOG_APPEND_TIME) == 0 &&
		    ts > res->max_timestamp)
			res->max_timestamp = ts;
		res->records++;

		/* Record errors: remembered, the walk goes on. */
		if (o != NULL && o->compacted && klen < 0 && !rec_err &&
		    !ts_err) {
			e->msg = "Compacted topic cannot accept message "
				 "without key";
			e->index = i;
			rec_err = true;
		}
		if (check_ts && ts != -1 &&
		    java_abs_diff(ts, o->now_ms) > o->ts_diff_max_ms) {
			if (!ts_err) {
				e->msg = "Timestamp of message is out of "
					 "range";
				e->index = i;
			}
			ts_err = true;
		} else if (o != NULL && o->from_client &&
			   (b->attributes & FMQ_CODEC_ATTR_LOG_APPEND_TIME)) {
			if (!ts_err) {
				e->msg = "Invalid timestamp type in message: "
					 "Producer should not set timestamp "
					 "type to LogAppendTime.";
				e->index = i;
			}
			ts_err = true;
		}
	}
	if (r.left != 0)
		STRUCT_ERR(e, -1, "Incorrect declared batch size, records "
			   "still remaining in file");
	if (ts_err)
		return FMQ_KERR_INVALID_TIMESTAMP;
	if (rec_err)
		return FMQ_KERR_INVALID_RECORD;
	return FMQ_KERR_NONE;
}

int16_t
codec_records_validate(const struct fmq_codec_batch *b,
		       const struct codec_in *in,
		       const struct fmq_codec_vopts *o,
		       struct fmq_codec_vresult *res)
{
	struct walk_err e = { .msg = NULL, .index = -1 };
	int16_t k;

	res->offsets_in_place = true;
	res->records = 0;
	res->max_timestamp = -1;
	k = walk(b, in, o, res, &e);
	res->kerr = k;
	res->record_index = k == FMQ_KERR_NONE ? -1 : e.index;
	res->msg = k == FMQ_KERR_NONE ? NULL : e.msg;
	return k;
}

int16_t
fmq_codec_records_validate(const struct fmq_codec_batch *b,
			   const struct fmq_codec_seg *segs,
			   unsigned int nsegs,
			   const struct fmq_codec_vopts *o,
			   struct fmq_codec_vresult *res)
{
	struct fmq_codec_vresult tmp;
	struct codec_in in = { .segs = segs, .nsegs = nsegs, .skip = 0 };

	return codec_records_validate(b, &in, o, res != NULL ? res : &tmp);
}

/* ------------------------------------------------------------------------
 * Offset-delta rewrite (input already validated, so parsing is trusted).
 * ---------------------------------------------------------------------- */

static size_t
varint_len(const uint8_t *p)
{
	size_t n = 1;

	while (*p++ & 0x80)
		n++;
	return n;
}

static int32_t
varint_get(const uint8_t *p)
{
	uint32_t raw = 0;
	unsigned int shift = 0;

	while (*p & 0x80) {
		raw |= (uint32_t)(*p++ & 0x7f) << shift;
		shift += 7;
	}
	raw |= (uint32_t)*p << shift;
	return (int32_t)((raw >> 1) ^ (~(raw & 1) + 1));
}

static size_t
varint_put(uint8_t *p, int32_t v)
{
	uint32_t z = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
	size_t n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

static size_t
varlong_len(const uint8_t *p)
{
	return varint_len(p);
}

ssize_t
codec_records_rewrite_offsets(const uint8_t *in, size_t len, int32_t count,
			      uint8_t *out, size_t cap)
{
	size_t ip = 0, op = 0;
	int32_t i;

	for (i = 0; i < count; i++) {
		int32_t rlen = varint_get(in + ip), nlen;
		size_t lv = varint_len(in + ip), ts_len, od_len, rest;
		const uint8_t *body = in + ip + lv;
		uint8_t od[5], lb[5];
		size_t odn, lbn;

		ts_len = varlong_len(body + 1);
		od_len = varint_len(body + 1 + ts_len);
		rest = (size_t)rlen - 1 - ts_len - od_len;
		odn = varint_put(od, i);
		nlen = (int32_t)(1 + ts_len + odn + rest);
		lbn = varint_put(lb, nlen);
		if (cap - op < lbn + (size_t)nlen)
			return -ENOSPC;
		memcpy(out + op, lb, lbn);
		op += lbn;
		memcpy(out + op, body, 1 + ts_len);
		op += 1 + ts_len;
		memcpy(out + op, od, odn);
		op += odn;
		memcpy(out + op, body + 1 + ts_len + od_len, rest);
		op += rest;
		ip += lv + (size_t)rlen;
		if (ip > len)
			return -EBADMSG;
	}
	return (ssize_t)op;
}
