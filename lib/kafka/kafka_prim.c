/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire primitives: arena, segmented reader, piece writer, sizer.
 *
 * Every read checks the reader's limit before touching memory, so a
 * malformed length can never run past the frame. Lengths that announce
 * more bytes than remain are rejected before any arena allocation.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fmq_kafka.h"
#include "kafka_internal.h"

#define STR_MAX 0x7fff   /* Kafka caps string fields at 32767 bytes */

/* ------------------------------------------------------------------------
 * Arena
 * ---------------------------------------------------------------------- */

void
fmq_kafka_arena_init(struct fmq_kafka_arena *a, void *buf, size_t cap)
{
	a->base = buf;
	a->cap = cap;
	a->used = 0;
	a->peak = 0;
}

void *
fmq_kafka_arena_alloc(struct fmq_kafka_arena *a, size_t n)
{
	size_t start = (a->used + 7) & ~(size_t)7;
	void *p;

	if (start > a->cap || n > a->cap - start)
		return NULL;
	p = a->base + start;
	a->used = start + n;
	if (a->used > a->peak)
		a->peak = a->used;
	memset(p, 0, n);
	return p;
}

/* ------------------------------------------------------------------------
 * Reader
 * ---------------------------------------------------------------------- */

/* Move past exhausted (or empty) segments so segs[seg] has data at off. */
static inline void
rd_settle(struct fmq_kafka_reader *r)
{
	while (r->seg < r->nseg && r->off >= r->segs[r->seg].len) {
		r->seg++;
		r->off = 0;
	}
}

int
fmq_kafka_rd_init(struct fmq_kafka_reader *r, const struct fmq_kafka_seg *segs,
		  uint32_t nseg, uint64_t skip, uint32_t len)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < nseg; i++)
		total += segs[i].len;
	if (skip > total || len > total - skip)
		return -EINVAL;
	r->segs = segs;
	r->nseg = nseg;
	r->seg = 0;
	r->off = 0;
	r->left = len;
	while (skip > 0) {
		uint32_t in = segs[r->seg].len;

		if (skip < in) {
			r->off = (uint32_t)skip;
			break;
		}
		skip -= in;
		r->seg++;
	}
	rd_settle(r);
	return 0;
}

int
fmq_kafka_rd_raw(struct fmq_kafka_reader *r, void *dst, uint32_t n)
{
	uint8_t *d = dst;

	if (n > r->left)
		return -EBADMSG;
	r->left -= n;
	while (n > 0) {
		const struct fmq_kafka_seg *s;
		uint32_t k;

		rd_settle(r);
		s = &r->segs[r->seg];
		k = s->len - r->off;
		if (k > n)
			k = n;
		memcpy(d, s->p + r->off, k);
		d += k;
		r->off += k;
		n -= k;
	}
	rd_settle(r);
	return 0;
}

int
fmq_kafka_rd_skip(struct fmq_kafka_reader *r, uint32_t n)
{
	if (n > r->left)
		return -EBADMSG;
	r->left -= n;
	while (n > 0) {
		uint32_t k;

		rd_settle(r);
		k = r->segs[r->seg].len - r->off;
		if (k > n)
			k = n;
		r->off += k;
		n -= k;
	}
	rd_settle(r);
	return 0;
}

/* Fixed-width big-endian reads: fast path inside one segment. */
static inline int
rd_fixed(struct fmq_kafka_reader *r, uint8_t *b, uint32_t n)
{
	if (n > r->left)
		return -EBADMSG;
	if (r->seg < r->nseg && r->segs[r->seg].len - r->off >= n) {
		memcpy(b, r->segs[r->seg].p + r->off, n);
		r->off += n;
		r->left -= n;
		rd_settle(r);
		return 0;
	}
	return fmq_kafka_rd_raw(r, b, n);
}

static inline uint64_t
be_get(const uint8_t *b, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v = (v << 8) | b[i];
	return v;
}

int
fmq_kafka_rd_bool(struct fmq_kafka_reader *r, bool *v)
{
	uint8_t b;
	int rc = rd_fixed(r, &b, 1);

	if (rc == 0)
		*v = b != 0;
	return rc;
}

int
fmq_kafka_rd_i8(struct fmq_kafka_reader *r, int8_t *v)
{
	uint8_t b;
	int rc = rd_fixed(r, &b, 1);

	if (rc == 0)
		*v = (int8_t)b;
	return rc;
}

#define RD_BE(fn, type, utype, n) \
int \
fn(struct fmq_kafka_reader *r, type *v) \
{ \
	uint8_t b[n]; \
	int rc = rd_fixed(r, b, n); \
 \
	if (rc == 0) \
		*v = (type)(utype)be_get(b, n); \
	return rc; \
}

RD_BE(fmq_kafka_rd_i16, int16_t, uint16_t, 2)
RD_BE(fmq_kafka_rd_u16, uint16_t, uint16_t, 2)
RD_BE(fmq_kafka_rd_i32, int32_t, uint32_t, 4)
RD_BE(fmq_kafka_rd_u32, uint32_t, uint32_t, 4)
RD_BE(fmq_kafka_rd_i64, int64_t, uint64_t, 8)

int
fmq_kafka_rd_f64(struct fmq_kafka_reader *r, double *v)
{
	uint8_t b[8];
	uint64_t u;
	int rc = rd_fixed(r, b, 8);

	if (rc == 0) {
		u = be_get(b, 8);
		memcpy(v, &u, sizeof(*v));
	}
	return rc;
}

int
fmq_kafka_rd_uuid(struct fmq_kafka_reader *r, struct fmq_kafka_uuid *v)
{
	return rd_fixed(r, v->b, 16);
}

int
fmq_kafka_rd_uvarlong(struct fmq_kafka_reader *r, uint64_t *v)
{
	uint64_t x = 0;
	uint32_t shift = 0;
	uint8_t b;
	int rc;

	for (;;) {
		if ((rc = rd_fixed(r, &b, 1)) < 0)
			return rc;
		/* The 10th byte may carry only the top bit of 64. */
		if (shift == 63 && b > 1)
			return -EBADMSG;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
		if (shift > 63)
			return -EBADMSG;
	}
	*v = x;
	return 0;
}

int
fmq_kafka_rd_uvarint(struct fmq_kafka_reader *r, uint32_t *v)
{
	uint32_t x = 0;
	uint32_t shift = 0;
	uint8_t b;
	int rc;

	for (;;) {
		if ((rc = rd_fixed(r, &b, 1)) < 0)
			return rc;
		/* The 5th byte may carry only the top 4 bits of 32. */
		if (shift == 28 && b > 0x0f)
			return -EBADMSG;
		x |= (uint32_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
	}
	*v = x;
	return 0;
}

int
fmq_kafka_rd_varint(struct fmq_kafka_reader *r, int32_t *v)
{
	uint32_t u;
	int rc = fmq_kafka_rd_uvarint(r, &u);

	if (rc == 0)
		*v = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
	return rc;
}

int
fmq_kafka_rd_varlong(struct fmq_kafka_reader *r, int64_t *v)
{
	uint64_t u;
	int rc = fmq_kafka_rd_uvarlong(r, &u);

	if (rc == 0)
		*v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
	return rc;
}

const uint8_t *
fmq_kafka_rd_ptr(struct fmq_kafka_reader *r, uint32_t n,
		 struct fmq_kafka_arena *a, int *rc)
{
	const uint8_t *p;
	uint8_t *copy;

	if (n > r->left) {
		*rc = -EBADMSG;
		return NULL;
	}
	if (n == 0) {
		*rc = 0;
		return (const uint8_t *)"";
	}
	rd_settle(r);
	if (r->segs[r->seg].len - r->off >= n) {
		p = r->segs[r->seg].p + r->off;
		r->off += n;
		r->left -= n;
		rd_settle(r);
		*rc = 0;
		return p;
	}
	/* Straddles a segment boundary: the only case that copies. */
	copy = a == NULL ? NULL : fmq_kafka_arena_alloc(a, n);
	if (copy == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = fmq_kafka_rd_raw(r, copy, n);
	return copy;
}

/* Read a length: int16/int32 or compact uvarint N+1. -1 means null. */
static int
rd_len(struct fmq_kafka_reader *r, bool compact, bool wide, int64_t *len)
{
	int rc;

	if (compact) {
		uint32_t u;

		if ((rc = fmq_kafka_rd_uvarint(r, &u)) < 0)
			return rc;
		*len = (int64_t)u - 1;
	} else if (wide) {
		int32_t v;

		if ((rc = fmq_kafka_rd_i32(r, &v)) < 0)
			return rc;
		*len = v;
	} else {
		int16_t v;

		if ((rc = fmq_kafka_rd_i16(r, &v)) < 0)
			return rc;
		*len = v;
	}
	return 0;
}

int
fmq_kafka_rd_string(struct fmq_kafka_reader *r, bool compact, bool nullable,
		    struct fmq_kafka_arena *a, struct fmq_kafka_str *out)
{
	int64_t len;
	int rc;

	if ((rc = rd_len(r, compact, false, &len)) < 0)
		return rc;
	if (len < 0) {
		if (len != -1 || !nullable)
			return -EBADMSG;
		out->p = NULL;
		out->len = -1;
		return 0;
	}
	if (len > STR_MAX || len > r->left)
		return -EBADMSG;
	out->p = (const char *)fmq_kafka_rd_ptr(r, (uint32_t)len, a, &rc);
	out->len = (int32_t)len;
	return rc;
}

int
fmq_kafka_rd_bytes(struct fmq_kafka_reader *r, bool compact, bool nullable,
		   struct fmq_kafka_arena *a, struct fmq_kafka_bytes *out)
{
	int64_t len;
	int rc;

	if ((rc = rd_len(r, compact, true, &len)) < 0)
		return rc;
	if (len < 0) {
		if (len != -1 || !nullable)
			return -EBADMSG;
		out->p = NULL;
		out->len = -1;
		return 0;
	}
	if (len > r->left)
		return -EBADMSG;
	out->p = fmq_kafka_rd_ptr(r, (uint32_t)len, a, &rc);
	out->len = (int32_t)len;
	return rc;
}

int
fmq_kafka_rd_records(struct fmq_kafka_reader *r, bool compact, bool nullable,
		     struct fmq_kafka_arena *a, struct fmq_kafka_records *out)
{
	struct fmq_kafka_reader probe;
	struct fmq_kafka_iov *iov;
	uint32_t n, k, i;
	int64_t len;
	int rc;

	if ((rc = rd_len(r, compact, true, &len)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	if (len < 0) {
		if (len != -1 || !nullable)
			return -EBADMSG;
		out->len = -1;
		return 0;
	}
	if (len > r->left)
		return -EBADMSG;
	out->len = (int32_t)len;
	if (len == 0)
		return 0;
	rd_settle(r);
	out->seg = r->seg;
	out->off = r->off;
	/* Count the segments spanned, then describe them without copying. */
	probe = *r;
	n = 0;
	for (k = (uint32_t)len; k > 0; n++) {
		uint32_t in = probe.segs[probe.seg].len - probe.off;

		in = in < k ? in : k;
		k -= in;
		probe.seg++;
		probe.off = 0;
		while (k > 0 && probe.segs[probe.seg].len == 0)
			probe.seg++;
	}
	iov = fmq_kafka_arena_alloc(a, (size_t)n * sizeof(*iov));
	if (iov == NULL)
		return -ENOMEM;
	for (i = 0, k = (uint32_t)len; i < n; i++) {
		const struct fmq_kafka_seg *s;
		uint32_t in;

		rd_settle(r);
		s = &r->segs[r->seg];
		in = s->len - r->off;
		in = in < k ? in : k;
		iov[i].p = s->p + r->off;
		iov[i].len = in;
		iov[i].cookie = NULL;
		r->off += in;
		r->left -= in;
		k -= in;
	}
	rd_settle(r);
	out->iov = iov;
	out->niov = n;
	return 0;
}

int
fmq_kafka_rd_array_len(struct fmq_kafka_reader *r, bool compact, bool nullable,
		       uint32_t min_elem, int32_t *n)
{
	int64_t len;
	int rc;

	if ((rc = rd_len(r, compact, true, &len)) < 0)
		return rc;
	if (len < 0) {
		if (len != -1 || !nullable)
			return -EBADMSG;
		*n = -1;
		return 0;
	}
	if (min_elem == 0)
		min_elem = 1;
	/* Reject absurd counts before the caller allocates anything. */
	if ((uint64_t)len * min_elem > r->left)
		return -EBADMSG;
	*n = (int32_t)len;
	return 0;
}

/* ------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------- */

void
fmq_kafka_wr_init(struct fmq_kafka_writer *w, void *buf, size_t cap,
		  struct fmq_kafka_piece *pieces, uint32_t max_pieces)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->pieces = pieces;
	w->max_pieces = max_pieces;
	w->ref_min = UINT32_MAX;
}

static inline int
wr_fail(struct fmq_kafka_writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
	return err;
}

/* Turn the open copy region buf[mark..pos) into an output piece. */
static int
wr_close_piece(struct fmq_kafka_writer *w)
{
	struct fmq_kafka_piece *pc;

	if (w->pos == w->mark)
		return 0;
	if (w->npieces == w->max_pieces)
		return wr_fail(w, -ENOBUFS);
	pc = &w->pieces[w->npieces++];
	pc->p = w->buf + w->mark;
	pc->len = (uint32_t)(w->pos - w->mark);
	pc->is_ref = false;
	pc->cookie = NULL;
	w->mark = w->pos;
	return 0;
}

static int
wr_next_buf(struct fmq_kafka_writer *w)
{
	uint8_t *nb = NULL;
	size_t ncap = 0;
	int rc;

	if ((rc = wr_close_piece(w)) < 0)
		return rc;
	if (w->refill == NULL)
		return wr_fail(w, -ENOBUFS);
	rc = w->refill(w->refill_arg, &nb, &ncap);
	if (rc < 0)
		return wr_fail(w, rc);
	if (nb == NULL || ncap == 0)
		return wr_fail(w, -ENOBUFS);
	w->buf = nb;
	w->cap = ncap;
	w->pos = 0;
	w->mark = 0;
	return 0;
}

int
fmq_kafka_wr_raw(struct fmq_kafka_writer *w, const void *p, size_t n)
{
	const uint8_t *s = p;
	int rc;

	if (w->err)
		return w->err;
	if (n == 0)
		return 0;
	w->total += n;
	if (w->cap - w->pos >= n) {
		memcpy(w->buf + w->pos, s, n);
		w->pos += n;
		return 0;
	}
	while (n > 0) {
		size_t k = w->cap - w->pos;

		if (k == 0) {
			if ((rc = wr_next_buf(w)) < 0)
				return rc;
			continue;
		}
		k = k < n ? k : n;
		memcpy(w->buf + w->pos, s, k);
		w->pos += k;
		s += k;
		n -= k;
	}
	return 0;
}

int
fmq_kafka_wr_ref(struct fmq_kafka_writer *w, const void *p, uint32_t n,
		 void *cookie)
{
	struct fmq_kafka_piece *pc;
	int rc;

	if (w->err)
		return w->err;
	if (n == 0)
		return 0;
	if ((rc = wr_close_piece(w)) < 0)
		return rc;
	if (w->npieces == w->max_pieces)
		return wr_fail(w, -ENOBUFS);
	pc = &w->pieces[w->npieces++];
	pc->p = p;
	pc->len = n;
	pc->is_ref = true;
	pc->cookie = cookie;
	w->total += n;
	return 0;
}

int
fmq_kafka_wr_finish(struct fmq_kafka_writer *w)
{
	if (w->err)
		return w->err;
	if (wr_close_piece(w) < 0)
		return w->err;
	return (int)w->npieces;
}

static inline int
wr_be(struct fmq_kafka_writer *w, uint64_t v, uint32_t n)
{
	uint8_t b[8];

	/* Fast path: room in the current buffer and no pending error. */
	if (w->err == 0 && w->cap - w->pos >= n) {
		uint8_t *d = w->buf + w->pos;

		for (uint32_t i = 0; i < n; i++)
			d[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
		w->pos += n;
		w->total += n;
		return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return fmq_kafka_wr_raw(w, b, n);
}

int
fmq_kafka_wr_bool(struct fmq_kafka_writer *w, bool v)
{
	return wr_be(w, v ? 1 : 0, 1);
}

int
fmq_kafka_wr_i8(struct fmq_kafka_writer *w, int8_t v)
{
	return wr_be(w, (uint8_t)v, 1);
}

int
fmq_kafka_wr_i16(struct fmq_kafka_writer *w, int16_t v)
{
	return wr_be(w, (uint16_t)v, 2);
}

int
fmq_kafka_wr_u16(struct fmq_kafka_writer *w, uint16_t v)
{
	return wr_be(w, v, 2);
}

int
fmq_kafka_wr_i32(struct fmq_kafka_writer *w, int32_t v)
{
	return wr_be(w, (uint32_t)v, 4);
}

int
fmq_kafka_wr_u32(struct fmq_kafka_writer *w, uint32_t v)
{
	return wr_be(w, v, 4);
}

int
fmq_kafka_wr_i64(struct fmq_kafka_writer *w, int64_t v)
{
	return wr_be(w, (uint64_t)v, 8);
}

int
fmq_kafka_wr_f64(struct fmq_kafka_writer *w, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return wr_be(w, u, 8);
}

int
fmq_kafka_wr_uuid(struct fmq_kafka_writer *w, const struct fmq_kafka_uuid *v)
{
	return fmq_kafka_wr_raw(w, v->b, 16);
}

int
fmq_kafka_wr_uvarlong(struct fmq_kafka_writer *w, uint64_t v)
{
	uint8_t b[10];
	uint32_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	return fmq_kafka_wr_raw(w, b, n);
}

int
fmq_kafka_wr_uvarint(struct fmq_kafka_writer *w, uint32_t v)
{
	return fmq_kafka_wr_uvarlong(w, v);
}

int
fmq_kafka_wr_varint(struct fmq_kafka_writer *w, int32_t v)
{
	uint32_t u = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);

	return fmq_kafka_wr_uvarlong(w, u);
}

int
fmq_kafka_wr_varlong(struct fmq_kafka_writer *w, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	return fmq_kafka_wr_uvarlong(w, u);
}

static int
wr_len(struct fmq_kafka_writer *w, bool compact, bool wide, int32_t len)
{
	if (compact)
		return fmq_kafka_wr_uvarint(w, (uint32_t)(len + 1));
	if (wide)
		return fmq_kafka_wr_i32(w, len);
	return fmq_kafka_wr_i16(w, (int16_t)len);
}

int
fmq_kafka_wr_string(struct fmq_kafka_writer *w, bool compact, bool nullable,
		    struct fmq_kafka_str s)
{
	int rc;

	if (s.len < 0) {
		if (!nullable)
			return wr_fail(w, -EINVAL);
		return wr_len(w, compact, false, -1);
	}
	if (s.len > STR_MAX)
		return wr_fail(w, -EINVAL);
	if ((rc = wr_len(w, compact, false, s.len)) < 0)
		return rc;
	return fmq_kafka_wr_raw(w, s.p, (size_t)s.len);
}

int
fmq_kafka_wr_bytes(struct fmq_kafka_writer *w, bool compact, bool nullable,
		   struct fmq_kafka_bytes b)
{
	int rc;

	if (b.len < 0) {
		if (!nullable)
			return wr_fail(w, -EINVAL);
		return wr_len(w, compact, true, -1);
	}
	if (compact && b.len == INT32_MAX)
		return wr_fail(w, -EINVAL);
	if ((rc = wr_len(w, compact, true, b.len)) < 0)
		return rc;
	return fmq_kafka_wr_raw(w, b.p, (size_t)b.len);
}

int
fmq_kafka_wr_records(struct fmq_kafka_writer *w, bool compact, bool nullable,
		     const struct fmq_kafka_records *rec)
{
	uint64_t sum = 0;
	uint32_t i;
	int rc;

	if (rec->len < 0) {
		if (!nullable)
			return wr_fail(w, -EINVAL);
		return wr_len(w, compact, true, -1);
	}
	for (i = 0; i < rec->niov; i++)
		sum += rec->iov[i].len;
	if (sum != (uint64_t)rec->len || (compact && rec->len == INT32_MAX))
		return wr_fail(w, -EINVAL);
	if ((rc = wr_len(w, compact, true, rec->len)) < 0)
		return rc;
	for (i = 0; i < rec->niov; i++) {
		const struct fmq_kafka_iov *v = &rec->iov[i];

		if (v->len >= w->ref_min)
			rc = fmq_kafka_wr_ref(w, v->p, v->len, v->cookie);
		else
			rc = fmq_kafka_wr_raw(w, v->p, v->len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
fmq_kafka_wr_array_len(struct fmq_kafka_writer *w, bool compact,
		       bool nullable, int32_t n)
{
	if (n < 0) {
		if (!nullable)
			return wr_fail(w, -EINVAL);
		n = -1;
	}
	return wr_len(w, compact, true, n);
}

/* ------------------------------------------------------------------------
 * Sizer: must mirror the writer byte for byte.
 * ---------------------------------------------------------------------- */

static inline uint32_t
len_size(bool compact, bool wide, int32_t len)
{
	if (compact)
		return fmq_kafka_uvarint_len((uint32_t)(len + 1));
	return wide ? 4 : 2;
}

void
fmq_kafka_sz_string(struct fmq_kafka_sizer *s, bool compact,
		    struct fmq_kafka_str v)
{
	s->bytes += len_size(compact, false, v.len < 0 ? -1 : v.len);
	if (v.len > 0)
		s->bytes += (uint32_t)v.len;
}

void
fmq_kafka_sz_bytes(struct fmq_kafka_sizer *s, bool compact,
		   struct fmq_kafka_bytes v)
{
	s->bytes += len_size(compact, true, v.len < 0 ? -1 : v.len);
	if (v.len > 0)
		s->bytes += (uint32_t)v.len;
}

void
fmq_kafka_sz_records(struct fmq_kafka_sizer *s, bool compact,
		     const struct fmq_kafka_records *v)
{
	s->bytes += len_size(compact, true, v->len < 0 ? -1 : v->len);
	if (v->len <= 0)
		return;
	for (uint32_t i = 0; i < v->niov; i++) {
		uint32_t n = v->iov[i].len;

		s->bytes += n;
		if (n > 0 && n >= s->ref_min) {
			s->ref_bytes += n;
			s->ref_pieces++;
		}
	}
}

void
fmq_kafka_sz_array_len(struct fmq_kafka_sizer *s, bool compact, int32_t n)
{
	s->bytes += len_size(compact, true, n < 0 ? -1 : n);
}

/* ------------------------------------------------------------------------
 * Unknown tagged fields (used by the generated codecs)
 * ---------------------------------------------------------------------- */

int
fmq_kafka__rd_unknown_tag(struct fmq_kafka_reader *sub, uint32_t tag,
			  uint32_t tsz, uint32_t ntag, struct fmq_kafka_arena *a,
			  struct fmq_kafka_tagged **tags, uint32_t *n)
{
	struct fmq_kafka_tagged *t;
	int rc;

	if (*tags == NULL) {
		*tags = fmq_kafka_arena_alloc(a, (size_t)ntag * sizeof(**tags));
		if (*tags == NULL)
			return -ENOMEM;
		*n = 0;
	}
	if (*n >= ntag)
		return -EBADMSG;
	t = &(*tags)[*n];
	t->tag = tag;
	t->data.p = fmq_kafka_rd_ptr(sub, tsz, a, &rc);
	t->data.len = (int32_t)tsz;
	if (rc < 0)
		return rc;
	(*n)++;
	return 0;
}

int
fmq_kafka__wr_unknown_tags(struct fmq_kafka_writer *w,
			   const struct fmq_kafka_tagged *tags, uint32_t n,
			   uint32_t *u, uint64_t below)
{
	int rc;

	while (*u < n && tags[*u].tag < below) {
		const struct fmq_kafka_tagged *t = &tags[*u];

		if (t->data.len < 0)
			return -EINVAL;
		if ((rc = fmq_kafka_wr_uvarint(w, t->tag)) < 0 ||
		    (rc = fmq_kafka_wr_uvarint(w, (uint32_t)t->data.len)) < 0 ||
		    (rc = fmq_kafka_wr_raw(w, t->data.p,
					   (size_t)t->data.len)) < 0)
			return rc;
		(*u)++;
	}
	return 0;
}
