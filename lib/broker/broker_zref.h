/* SPDX-License-Identifier: Apache-2.0 */
/* Cookies of reference pieces in a response: a pinned hot range, or bytes
 * already copied out of a segment file into an mbuf chain. */
#ifndef FMQ_BROKER_ZREF_H
#define FMQ_BROKER_ZREF_H

#include <stdbool.h>

#include <rte_mbuf.h>

enum { ZREF_HOT = 1, ZREF_CHAIN = 2 };

struct zref {
	uint8_t type;
	bool attached;            /* HOT: an mbuf now owns the pin */
	void *handle;             /* HOT: fmq_log_range.handle */
	struct rte_mbuf *chain;   /* CHAIN: the copied bytes */
};

struct fmq_broker_lcore;

/* Encode a response whose records pieces carry struct zref cookies. Every
 * zref is consumed (attached, linked or released) whatever the outcome. */
struct rte_mbuf *resp_encode_z(struct fmq_broker_lcore *bl, int16_t api,
			       int16_t version, int32_t corr, const void *body,
			       struct zref *zrefs, uint32_t nzrefs);

#endif
