/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetch sessions (KIP-227), broker_fsess.c. Each data lcore keeps its own
 * cache of sessions (max.incremental.fetch.session.cache.slots shared out
 * among the data lcores, as Kafka 3.8+ shards its cache); a session id
 * carries the lcore that made it in its low 7 bits. Included by
 * broker_priv.h only.
 */
#ifndef FMQ_BROKER_FSESS_H
#define FMQ_BROKER_FSESS_H

#include <stdbool.h>
#include <stdint.h>

/* Kafka's FetchSessionCache eviction time (MIN_INCREMENTAL_FETCH_SESSION_
 * EVICTION_MS): a session unused this long may be evicted by any new one;
 * a session younger than this can only be pushed out by a follower's. */
#define FSESS_EVICT_NS (120000ull * 1000000ull)

/* One partition of a session: the request's parameters the client does
 * not resend, and what the last answer told it. */
struct fsess_part {
	uint32_t name_off;        /* topic name in the session's names */
	uint16_t name_len;
	int32_t partition;
	int32_t current_leader_epoch;
	int32_t last_fetched_epoch;
	int32_t max_bytes;
	int64_t fetch_offset;
	int64_t log_start_offset; /* a follower's */
	/* Cached from the last answer (-1: never answered, or in error). */
	int64_t hw, lso, log_start;
};

struct fsess {
	int32_t id;               /* 0: slot free */
	int32_t epoch;            /* the epoch the next request must carry */
	bool privileged;          /* a follower's */
	bool ids;                 /* Fetch v13+: topics named by id */
	uint64_t created_ns, used_ns;
	uint32_t nparts, cap;
	struct fsess_part *parts; /* slab */
	char *names;              /* slab: topic names the parts point into */
	uint32_t names_len, names_cap;
};

struct fsess_cache {
	struct fsess *pool;       /* nslots sessions */
	uint32_t nslots;
	uint32_t nused;           /* sessions open (gauge) */
	uint32_t *tab;            /* id hash: slot + 1, 0 empty */
	uint32_t tab_mask;
	uint64_t parts;           /* partitions cached (gauge) */
	uint64_t created, evicted, closed;
	uint64_t incremental;     /* incremental fetches answered */
	uint64_t omitted;         /* partitions left out of such answers */
	uint64_t not_created;     /* full fetches with no room for a session */
};

/* What one Fetch does with sessions (api_fetch's, between fsess_begin
 * and fsess_end). */
enum { FSESS_NONE = 0, FSESS_FULL, FSESS_INCR };
struct fsess_ent;
struct fsess_ctx {
	uint8_t kind;
	bool privileged;          /* a follower's fetch */
	bool ids;                 /* v13+: each topic "name" is its 16-byte id */
	int16_t err;              /* answer with this top-level error */
	struct fsess *s;          /* FSESS_INCR: the session */
	struct fsess_ent *ents;   /* the partitions fetched, in order */
	uint32_t nents;
};

#endif
