/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic random values for the generated round-trip fillers. */
#ifndef KAFKA_TEST_RAND_H
#define KAFKA_TEST_RAND_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fmq_kafka.h"

struct kt_rng {
	uint64_t s;
};

static inline uint32_t
kt_rand(struct kt_rng *g)
{
	/* splitmix64 */
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 16);
}

/* Edge values often, arbitrary ones otherwise. */
static inline int64_t
kt_rand_int(struct kt_rng *g)
{
	static const int64_t edge[] = { 0, 1, -1, 127, -128, 32767, -32768,
		INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 255, 65535 };

	if (kt_rand(g) % 3 == 0)
		return edge[kt_rand(g) % (sizeof(edge) / sizeof(edge[0]))];
	return (int64_t)(((uint64_t)kt_rand(g) << 32) | kt_rand(g));
}

static inline void
kt_rand_uuid(struct kt_rng *g, struct fmq_kafka_uuid *u)
{
	for (int i = 0; i < 16; i++)
		u->b[i] = (uint8_t)kt_rand(g);
}

static inline struct fmq_kafka_str
kt_rand_str(struct kt_rng *g, struct fmq_kafka_arena *a, bool nullable)
{
	struct fmq_kafka_str s = { "", 0 };
	uint32_t n;
	char *p;

	if (nullable && kt_rand(g) % 5 == 0)
		return FMQ_KAFKA_STR_NULL;
	n = kt_rand(g) % 14;
	if (n == 0)
		return s;
	p = fmq_kafka_arena_alloc(a, n);
	if (p == NULL)
		return s;
	for (uint32_t i = 0; i < n; i++)
		p[i] = (char)('a' + kt_rand(g) % 26);
	s.p = p;
	s.len = (int32_t)n;
	return s;
}

static inline struct fmq_kafka_bytes
kt_rand_bytes(struct kt_rng *g, struct fmq_kafka_arena *a, bool nullable)
{
	struct fmq_kafka_bytes b = { (const uint8_t *)"", 0 };
	uint32_t n;
	uint8_t *p;

	if (nullable && kt_rand(g) % 5 == 0) {
		b.p = NULL;
		b.len = -1;
		return b;
	}
	n = kt_rand(g) % 20;
	if (n == 0)
		return b;
	p = fmq_kafka_arena_alloc(a, n);
	if (p == NULL)
		return b;
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)kt_rand(g);
	b.p = p;
	b.len = (int32_t)n;
	return b;
}

/* Records as 1-3 pieces with cookies, like hot-chunk references. */
static inline void
kt_rand_records(struct kt_rng *g, struct fmq_kafka_arena *a, bool nullable,
		struct fmq_kafka_records *r)
{
	struct fmq_kafka_iov *iov;
	uint32_t n, i;

	memset(r, 0, sizeof(*r));
	if (nullable && kt_rand(g) % 4 == 0) {
		r->len = -1;
		return;
	}
	n = kt_rand(g) % 4;
	iov = fmq_kafka_arena_alloc(a, (n + 1) * sizeof(*iov));
	if (iov == NULL)
		return;
	for (i = 0; i < n; i++) {
		uint32_t len = 1 + kt_rand(g) % 40;
		uint8_t *p = fmq_kafka_arena_alloc(a, len);

		if (p == NULL)
			break;
		for (uint32_t k = 0; k < len; k++)
			p[k] = (uint8_t)kt_rand(g);
		iov[i].p = p;
		iov[i].len = len;
		iov[i].cookie = (void *)(uintptr_t)(i + 1);
	}
	fmq_kafka_records_set(r, iov, i);
}

static inline int32_t
kt_rand_count(struct kt_rng *g, int depth, bool nullable)
{
	if (nullable && kt_rand(g) % 5 == 0)
		return -1;
	return (int32_t)(kt_rand(g) % (depth > 2 ? 2 : 4));
}

/* One or two unknown tags above every tag the schemas define. */
static inline int
kt_rand_unknown_tags(struct kt_rng *g, struct fmq_kafka_arena *a,
		     struct fmq_kafka_tagged **tags, uint32_t *n)
{
	uint32_t k = 1 + kt_rand(g) % 2;
	struct fmq_kafka_tagged *t = fmq_kafka_arena_alloc(a, k * sizeof(*t));

	if (t == NULL)
		return -1;
	for (uint32_t i = 0; i < k; i++) {
		t[i].tag = 100 + i * 50 + kt_rand(g) % 40;
		t[i].data = kt_rand_bytes(g, a, false);
	}
	*tags = t;
	*n = k;
	return 0;
}

typedef int (*kt_fill_fn)(struct kt_rng *g, int16_t v,
			  struct fmq_kafka_arena *a, void *out);

/** One generated message: filled at random for the round-trip tests. */
struct kt_msg {
	int16_t api_key;
	int is_request;
	int16_t vmin;
	int16_t vmax;
	const char *name;
	size_t size;
	kt_fill_fn fill;
};

extern const struct kt_msg kt_msgs[];
extern const size_t kt_nmsgs;

#endif /* KAFKA_TEST_RAND_H */
