/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record batches (magic 2), built once before the run: a handful of
 * templates with different contents, so verification can tell them apart
 * and the broker cannot get away with storing one batch. The broker
 * assigns offsets by rewriting baseOffset, which the CRC does not cover,
 * so a template is sent unchanged every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "bench.h"
#include "fmq_codec.h"

#define BATCH_HDR 61
#define CRC_FROM 21

uint32_t
records_crc32c(const void *p, size_t n)
{
	return crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, 0xFFFFFFFF) ^
		0xFFFFFFFF;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint8_t *
put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *
put_varint(uint8_t *p, int64_t v)
{
	return put_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/*
 * A value that looks like what people send: JSON-ish, with words drawn at
 * random from a small vocabulary and a few random digits, so LZ4 sees a
 * realistic ratio (about 2-3x) instead of a run of zeros or pure noise.
 */
static void
fill_value(uint8_t *v, uint32_t size, unsigned int tmpl, uint32_t i,
	   uint64_t *rng)
{
	static const char *const words[] = {
		"click", "view", "cart", "order", "user", "session", "page",
		"search", "item", "price", "total", "status", "ok", "error",
		"mobile", "desktop", "region", "eu-west", "us-east", "latency",
		"true", "false", "null", "checkout", "payment", "shipping",
		"home", "product", "category", "banner", "referrer", "campaign",
	};
	char head[96];
	int n = snprintf(head, sizeof(head),
			 "{\"tmpl\":%u,\"seq\":%u,\"user\":\"u%05u\",\"data\":\"",
			 tmpl, i, (unsigned int)(xorshift(rng) % 100000));
	uint32_t k = 0;

	for (; k < size && k < (uint32_t)n; k++)
		v[k] = (uint8_t)head[k];
	while (k < size) {
		uint64_t r = xorshift(rng);
		const char *w = words[r % (sizeof(words) / sizeof(words[0]))];

		if ((r >> 8) % 4 == 0) {
			/* a number */
			for (int d = 0; d < 4 && k < size; d++)
				v[k++] = (uint8_t)('0' + (r >> (16 + 4 * d)) % 10);
		} else {
			for (; *w != '\0' && k < size; w++)
				v[k++] = (uint8_t)*w;
		}
		if (k < size)
			v[k++] = ' ';
	}
	if (size >= 2) {
		v[size - 2] = '"';
		v[size - 1] = '}';
	}
}

/* Encode the records section of one batch; returns its length. */
static size_t
encode_records(uint8_t *out, const struct bench_opts *o, unsigned int tmpl)
{
	uint64_t rng = 0x9E3779B97F4A7C15ull * (tmpl + 1);
	uint8_t body[32];
	uint8_t *p = out;

	for (uint32_t i = 0; i < o->batch; i++) {
		uint8_t *q = body;
		uint32_t blen;

		/* attributes, timestampDelta, offsetDelta, key (null) */
		*q++ = 0;
		q = put_varint(q, 0);
		q = put_varint(q, i);
		q = put_varint(q, -1);
		q = put_varint(q, o->msg_size);
		blen = (uint32_t)(q - body) + o->msg_size + 1;
		p = put_varint(p, blen);
		memcpy(p, body, (size_t)(q - body));
		p += q - body;
		fill_value(p, o->msg_size, tmpl, i, &rng);
		p += o->msg_size;
		*p++ = 0;   /* no headers */
	}
	return (size_t)(p - out);
}

static size_t
records_bound(const struct bench_opts *o)
{
	return (size_t)o->batch * (o->msg_size + 32);
}

int
records_build_templates(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	size_t rb = records_bound(o);
	/* Room for the worst expansion of any codec on incompressible data. */
	size_t cap = BATCH_HDR + rb + rb / 8 + 4096;
	uint8_t *raw = malloc(rb), *batch = malloc(cap);
	struct fmq_codec_ctx *cx = NULL;
	int64_t ts = fmq_wall_ms();
	int rc = 0;

	if (raw == NULL || batch == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (o->codec != CODEC_NONE) {
		/* lib/log/codec writes each codec's framing the way Kafka's
		 * Java client does (LZ4: independent 64 KiB blocks). */
		struct fmq_codec_limits lim = { 0 };

		lim.max_input = lim.max_output = (uint32_t)(rb < (8u << 20) ?
							    8u << 20 : rb);
		cx = fmq_codec_ctx_create(&lim);
		if (cx == NULL) {
			rc = -errno;
			goto out;
		}
	}
	b->batch_payload = o->msg_size * o->batch;
	for (unsigned int t = 0; t < o->templates; t++) {
		size_t rlen = encode_records(raw, o, t), len;
		uint8_t *p = batch;

		if (o->codec != CODEC_NONE) {
			struct fmq_codec_seg seg = { raw, (uint32_t)rlen };

			rc = fmq_codec_compress(cx, (int)o->codec, &seg, 1,
						p + BATCH_HDR, cap - BATCH_HDR,
						&len);
			if (rc < 0)
				goto out;
		} else {
			memcpy(p + BATCH_HDR, raw, rlen);
			len = rlen;
		}
		len += BATCH_HDR;
		if (len > INT32_MAX) {
			rc = -E2BIG;
			goto out;
		}
		wr_be64(p, 0);                          /* baseOffset */
		wr_be32(p + 8, (uint32_t)(len - 12));   /* batchLength */
		wr_be32(p + 12, UINT32_MAX);            /* leader epoch -1 */
		p[16] = 2;                              /* magic */
		p[21] = 0;                              /* attributes */
		p[22] = (uint8_t)o->codec;
		wr_be32(p + 23, o->batch - 1);          /* lastOffsetDelta */
		wr_be64(p + 27, (uint64_t)ts);          /* baseTimestamp */
		wr_be64(p + 35, (uint64_t)ts);          /* maxTimestamp */
		wr_be64(p + 43, UINT64_MAX);            /* producerId -1 */
		p[51] = 0xff;                           /* producerEpoch -1 */
		p[52] = 0xff;
		wr_be32(p + 53, UINT32_MAX);            /* baseSequence -1 */
		wr_be32(p + 57, o->batch);              /* records count */
		wr_be32(p + 17, records_crc32c(p + CRC_FROM, len - CRC_FROM));

		struct tmpl *tp = &b->tmpl[t];
		rc = b->x->tmpl_alloc(b, tp, (uint32_t)len);
		if (rc < 0)
			goto out;
		memcpy(tp->buf, p, len);
		tp->len = (uint32_t)len;
		tp->crc = rd_be32(p + 17);
		for (unsigned int u = 0; u < t; u++)
			if (b->tmpl[u].crc == tp->crc) {
				/* Identical contents would make verification
				 * ambiguous; cannot happen with the seeds. */
				rc = -EINVAL;
				goto out;
			}
		b->ntmpl = t + 1;
	}
out:
	fmq_codec_ctx_free(cx);
	free(raw);
	free(batch);
	return rc;
}

/* ------------------------------------------------------------------------
 * Walking batches inside a records field that spans several pieces.
 * ---------------------------------------------------------------------- */

void
batch_cursor_init(struct batch_cursor *bc, const struct fmq_kafka_records *r)
{
	bc->iov = r->iov;
	bc->niov = r->len > 0 ? r->niov : 0;
	bc->i = 0;
	bc->off = 0;
	bc->left = r->len > 0 ? (uint64_t)r->len : 0;
}

static void
cursor_peek(const struct batch_cursor *bc, uint8_t *dst, uint32_t n)
{
	uint32_t i = bc->i, off = bc->off;

	while (n > 0 && i < bc->niov) {
		uint32_t k = bc->iov[i].len - off;

		if (k > n)
			k = n;
		memcpy(dst, (const uint8_t *)bc->iov[i].p + off, k);
		dst += k;
		n -= k;
		off += k;
		if (off == bc->iov[i].len) {
			i++;
			off = 0;
		}
	}
}

int64_t
batch_cursor_next(struct batch_cursor *bc, uint8_t hdr[61])
{
	uint32_t blen;

	if (bc->left < 12)
		return 0;
	cursor_peek(bc, hdr, bc->left < BATCH_HDR ? 12 : BATCH_HDR);
	blen = rd_be32(hdr + 8);
	/* A fetch may end with a partial batch (Kafka sends whole segments
	 * up to the limit); it is not an error. */
	if ((uint64_t)blen + 12 > bc->left)
		return 0;
	if (blen < BATCH_HDR - 12 || blen > INT32_MAX)
		return -EBADMSG;
	return (int64_t)blen + 12;
}

void
batch_cursor_skip(struct batch_cursor *bc, uint64_t n)
{
	if (n > bc->left)
		n = bc->left;
	bc->left -= n;
	while (n > 0 && bc->i < bc->niov) {
		uint32_t k = bc->iov[bc->i].len - bc->off;

		if (k > n)
			k = (uint32_t)n;
		n -= k;
		bc->off += k;
		if (bc->off == bc->iov[bc->i].len) {
			bc->i++;
			bc->off = 0;
		}
	}
}

bool
batch_cursor_equal(struct batch_cursor *bc, const uint8_t *p, uint32_t len)
{
	bool eq = true;

	if (len > bc->left)
		return false;
	bc->left -= len;
	while (len > 0 && bc->i < bc->niov) {
		uint32_t k = bc->iov[bc->i].len - bc->off;

		if (k > len)
			k = len;
		if (eq && memcmp((const uint8_t *)bc->iov[bc->i].p + bc->off,
				 p, k) != 0)
			eq = false;
		p += k;
		len -= k;
		bc->off += k;
		if (bc->off == bc->iov[bc->i].len) {
			bc->i++;
			bc->off = 0;
		}
	}
	return eq && len == 0;
}
