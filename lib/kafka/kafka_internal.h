/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/kafka internals shared by the hand-written and the generated code.
 * Not part of the public API: do not include from outside lib/kafka.
 */
#ifndef FMQ_KAFKA_INTERNAL_H
#define FMQ_KAFKA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fmq_kafka.h"

/** The advertised table (generated in gen/kafka_gen_dispatch.c). */
extern const struct fmq_kafka_api_info fmq_kafka__apis[FMQ_KAFKA_N_APIS];

/**
 * Keep an unknown tagged field: sub is limited to its tsz bytes. The array
 * gets room for ntag entries (the tag count of this struct) on first use.
 */
int fmq_kafka__rd_unknown_tag(struct fmq_kafka_reader *sub, uint32_t tag,
			      uint32_t tsz, uint32_t ntag,
			      struct fmq_kafka_arena *a,
			      struct fmq_kafka_tagged **tags, uint32_t *n);

/**
 * Write the unknown tags from index *u on whose number is below `below`
 * (tags go out in ascending order, merged with the known ones).
 * FMQ_KAFKA__ALL_TAGS writes all that are left, tag 0xffffffff included.
 */
int fmq_kafka__wr_unknown_tags(struct fmq_kafka_writer *w,
			       const struct fmq_kafka_tagged *tags, uint32_t n,
			       uint32_t *u, uint64_t below);

#define FMQ_KAFKA__ALL_TAGS (UINT64_C(1) << 32)

static inline bool
fmq_kafka__uuid_zero(const struct fmq_kafka_uuid *u)
{
	static const struct fmq_kafka_uuid zero;

	return memcmp(u, &zero, sizeof(zero)) == 0;
}

static inline bool
fmq_kafka__str_is(struct fmq_kafka_str s, const char *lit, int32_t len)
{
	return s.len == len && (len == 0 || memcmp(s.p, lit, (size_t)len) == 0);
}

#endif /* FMQ_KAFKA_INTERNAL_H */
