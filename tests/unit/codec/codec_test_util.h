/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the codec tests, written independently of the library so
 * they can check it: a record encoder and parser, a batch builder, a
 * bitwise CRC-32C, the record spec of tests/vectors/codec/gen_vectors.py.
 */
#ifndef CODEC_TEST_UTIL_H
#define CODEC_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FMQ_SOURCE_DIR
#error FMQ_SOURCE_DIR must be defined by the build
#endif
#define VECTOR_DIR FMQ_SOURCE_DIR "/tests/vectors/codec"

/* Bitwise CRC-32C (reflected polynomial 0x82F63B78): slow and obvious. */
static inline uint32_t
t_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return c ^ 0xFFFFFFFFu;
}

static inline size_t
t_uvarint(uint8_t *p, uint64_t z)
{
	size_t n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

static inline size_t
t_varint(uint8_t *p, int64_t v)
{
	return t_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline size_t
t_get_varint(const uint8_t *p, int64_t *v)
{
	uint64_t z = 0;
	size_t n = 0;
	unsigned int s = 0;

	do {
		z |= (uint64_t)(p[n] & 0x7f) << s;
		s += 7;
	} while (p[n++] & 0x80);
	*v = (int64_t)((z >> 1) ^ (0 - (z & 1)));
	return n;
}

struct t_hdr {
	const char *key;
	const uint8_t *val;  /* NULL = null value */
	int vlen;
};

/* One record: body built first, then prefixed with its length. */
static inline size_t
t_record(uint8_t *out, int64_t ts_delta, int32_t off_delta,
	 const void *key, int klen, const void *val, int vlen,
	 const struct t_hdr *h, int nh)
{
	uint8_t body[1 << 16];
	size_t n = 0;
	int i;

	body[n++] = 0;
	n += t_varint(body + n, ts_delta);
	n += t_varint(body + n, off_delta);
	n += t_varint(body + n, key == NULL ? -1 : klen);
	if (key != NULL) {
		memcpy(body + n, key, klen);
		n += klen;
	}
	n += t_varint(body + n, val == NULL ? -1 : vlen);
	if (val != NULL) {
		memcpy(body + n, val, vlen);
		n += vlen;
	}
	n += t_varint(body + n, nh);
	for (i = 0; i < nh; i++) {
		int kl = (int)strlen(h[i].key);

		n += t_varint(body + n, kl);
		memcpy(body + n, h[i].key, kl);
		n += kl;
		n += t_varint(body + n, h[i].val == NULL ? -1 : h[i].vlen);
		if (h[i].val != NULL) {
			memcpy(body + n, h[i].val, h[i].vlen);
			n += h[i].vlen;
		}
	}
	i = (int)t_varint(out, (int64_t)n);
	memcpy(out + i, body, n);
	return i + n;
}

static inline void
t_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

static inline void
t_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = (uint8_t)v;
}

static inline void
t_be64(uint8_t *p, uint64_t v)
{
	t_be32(p, (uint32_t)(v >> 32));
	t_be32(p + 4, (uint32_t)v);
}

static inline uint32_t
t_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

struct t_batch_opts {
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_ts;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_seq;
	int32_t count;
};

/* A v2 batch around an already encoded (maybe compressed) records part. */
static inline size_t
t_batch(uint8_t *out, const struct t_batch_opts *o, const uint8_t *recs,
	size_t rlen)
{
	size_t total = 61 + rlen;

	t_be64(out + 0, 0);
	t_be32(out + 8, (uint32_t)(total - 12));
	t_be32(out + 12, 0xFFFFFFFFu);
	out[16] = 2;
	t_be16(out + 21, (uint16_t)o->attributes);
	t_be32(out + 23, (uint32_t)o->last_offset_delta);
	t_be64(out + 27, (uint64_t)o->base_ts);
	t_be64(out + 35, (uint64_t)o->base_ts);
	t_be64(out + 43, (uint64_t)o->producer_id);
	t_be16(out + 51, (uint16_t)o->producer_epoch);
	t_be32(out + 53, (uint32_t)o->base_seq);
	t_be32(out + 57, (uint32_t)o->count);
	memcpy(out + 61, recs, rlen);
	t_be32(out + 17, t_crc32c(out + 21, total - 21));
	return total;
}

/* Record i of gen_vectors.py's records_spec(). */
struct t_spec {
	char key[32];
	int klen;            /* -1 = null */
	char val[256];
	int vlen;            /* -1 = null */
	int nh;
	char h0val[32];
};

static inline void
t_spec(int i, struct t_spec *s)
{
	char pad[128];
	int np = i % 97;

	memset(pad, 'x', np);
	pad[np] = 0;
	if (i % 7 == 3) {
		s->klen = -1;
	} else {
		s->klen = snprintf(s->key, sizeof(s->key), "key-%05d", i);
	}
	if (i % 11 == 5)
		s->vlen = -1;
	else
		s->vlen = snprintf(s->val, sizeof(s->val),
				   "{\"id\":%d,\"user\":\"user-%d\","
				   "\"event\":\"click\",\"page\":\"/p/%d\","
				   "\"pad\":\"%s\"}",
				   i, i * 7919 % 1000, i % 13, pad);
	s->nh = i % 5 == 0 ? 2 : 0;
	snprintf(s->h0val, sizeof(s->h0val), "t-%d", i);
}

/*
 * Check a linear records section against the spec: count records, each
 * with the spec's key, value and headers ("trace" = t-i, "empty" = null),
 * offsetDelta == index. Returns the first bad index, or -1 if all match.
 */
static inline int
t_check_spec(const uint8_t *p, size_t n, int count)
{
	size_t o = 0;
	int i;

	for (i = 0; i < count; i++) {
		struct t_spec s;
		int64_t len, v;
		size_t end;

		t_spec(i, &s);
		if (o >= n)
			return i;
		o += t_get_varint(p + o, &len);
		end = o + (size_t)len;
		o++;                                /* attributes */
		o += t_get_varint(p + o, &v);       /* timestamp delta */
		o += t_get_varint(p + o, &v);
		if (v != i)
			return i;
		o += t_get_varint(p + o, &v);
		if (v != s.klen || (v > 0 && memcmp(p + o, s.key, v) != 0))
			return i;
		if (v > 0)
			o += v;
		o += t_get_varint(p + o, &v);
		if (v != s.vlen || (v > 0 && memcmp(p + o, s.val, v) != 0))
			return i;
		if (v > 0)
			o += v;
		o += t_get_varint(p + o, &v);
		if (v != s.nh)
			return i;
		if (s.nh == 2) {
			o += t_get_varint(p + o, &v);
			if (v != 5 || memcmp(p + o, "trace", 5) != 0)
				return i;
			o += 5;
			o += t_get_varint(p + o, &v);
			if (v != (int64_t)strlen(s.h0val) ||
			    memcmp(p + o, s.h0val, v) != 0)
				return i;
			o += v;
			o += t_get_varint(p + o, &v);
			if (v != 5 || memcmp(p + o, "empty", 5) != 0)
				return i;
			o += 5;
			o += t_get_varint(p + o, &v);
			if (v != -1)
				return i;
		}
		if (o != end)
			return i;
	}
	return o == n ? -1 : count;
}

/* Read a whole file; NULL if missing. */
static inline uint8_t *
t_load(const char *name, size_t *len)
{
	char path[512];
	uint8_t *b;
	FILE *f;
	long n;

	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", VECTOR_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(n > 0 ? n : 1);
	if (b != NULL && fread(b, 1, n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/*
 * JSON-like records of 100 B - 1 KiB values until about `target` bytes:
 * a realistic records section for round trips and the benchmark. Returns
 * the bytes written and the count.
 */
static inline size_t
t_json_records_range(uint8_t *out, size_t target, int *count, uint32_t seed,
		     int vmin, int vmax)
{
	static const char *const words[] = {
		"click", "view", "purchase", "login", "logout", "search",
		"checkout", "add_to_cart", "share", "like",
	};
	size_t n = 0;
	int i = 0;

	while (n + 1200 < target || i == 0) {
		char val[1100], key[32];
		int vl, kl, want, j;

		seed = seed * 1103515245u + 12345u;
		want = vmin + (int)((seed >> 8) % (unsigned)(vmax - vmin + 1));
		vl = snprintf(val, sizeof(val),
			      "{\"id\":%d,\"user\":\"u%05u\",\"event\":\"%s\","
			      "\"ts\":%u,\"amount\":%u.%02u,\"tags\":[",
			      i, (seed >> 4) % 50000, words[(seed >> 12) % 10],
			      1700000000u + (seed % 100000),
			      (seed >> 3) % 1000, (seed >> 5) % 100);
		for (j = 0; vl < want - 20; j++) {
			seed = seed * 1103515245u + 12345u;
			vl += snprintf(val + vl, sizeof(val) - vl,
				       "%s\"%s-%u\"", j ? "," : "",
				       words[(seed >> 9) % 10],
				       (seed >> 16) % 100);
		}
		vl += snprintf(val + vl, sizeof(val) - vl, "]}");
		kl = snprintf(key, sizeof(key), "u%05u", (seed >> 4) % 50000);
		n += t_record(out + n, i, i, key, kl, val, vl, NULL, 0);
		i++;
	}
	*count = i;
	return n;
}

static inline size_t
t_json_records(uint8_t *out, size_t target, int *count, uint32_t seed)
{
	return t_json_records_range(out, target, count, seed, 100, 1000);
}

#endif /* CODEC_TEST_UTIL_H */
