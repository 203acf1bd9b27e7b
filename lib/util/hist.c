/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log-linear histogram. Values below SUB get exact buckets; above that each
 * power of two is split into SUB/2 buckets, so a bucket is at most 1/64 of
 * its values wide and its midpoint is within 1/128 (< 1%) of any of them.
 */
#include <string.h>

#include "fmq_util.h"

static inline unsigned int
bucket_of(uint64_t v)
{
	if (v < FMQ_HIST_SUB)
		return (unsigned int)v;
	unsigned int msb = 63 - (unsigned int)__builtin_clzll(v);
	unsigned int shift = msb - FMQ_HIST_SUB_BITS + 1;
	/* top SUB_BITS bits below and including msb, minus the leading 1 */
	unsigned int sub = (unsigned int)(v >> shift) & (FMQ_HIST_SUB / 2 - 1);
	return FMQ_HIST_SUB + (shift - 1) * (FMQ_HIST_SUB / 2) + sub;
}

/* Midpoint value of bucket i. */
static inline uint64_t
value_of(unsigned int i)
{
	if (i < FMQ_HIST_SUB)
		return i;
	unsigned int rel = i - FMQ_HIST_SUB;
	unsigned int shift = rel / (FMQ_HIST_SUB / 2) + 1;
	uint64_t sub = rel % (FMQ_HIST_SUB / 2) + FMQ_HIST_SUB / 2;
	uint64_t lo = sub << shift;
	return lo + ((1ull << shift) >> 1);
}

void
fmq_hist_init(struct fmq_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void
fmq_hist_record(struct fmq_hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void
fmq_hist_merge(struct fmq_hist *dst, const struct fmq_hist *src)
{
	for (unsigned int i = 0; i < FMQ_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	if (src->min < dst->min)
		dst->min = src->min;
}

uint64_t
fmq_hist_count_le(const struct fmq_hist *h, uint64_t v)
{
	unsigned int last = bucket_of(v);
	uint64_t n = 0;

	for (unsigned int i = 0; i <= last && i < FMQ_HIST_BUCKETS; i++)
		n += h->b[i];
	return n;
}

uint64_t
fmq_hist_quantile(const struct fmq_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	uint64_t seen = 0;
	for (unsigned int i = 0; i < FMQ_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > rank) {
			uint64_t v = value_of(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}
