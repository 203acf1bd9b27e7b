/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client quotas as Kafka has them (KIP-13, KIP-55, KIP-124, KIP-599):
 *
 *  - struct fmq_quota_db: the configured entities (user, client-id, their
 *    defaults and the user + client-id pairs) with their values. A part of
 *    the security snapshot: built by the control lcore, immutable once
 *    published, read by the data lcores with no lock.
 *  - resolution: for one connection (user, client-id) and one quota key,
 *    the most specific configured entity in Kafka's precedence order, and
 *    the rate entity that shares the quota (Kafka's metric tags).
 *  - struct fmq_quota_rate: a rate measured over Kafka's sampled windows
 *    (quota.window.num samples of quota.window.size.seconds), and the
 *    throttle time of a violation.
 *  - struct fmq_quota_tbl: a fixed-size table of rates, one per data lcore,
 *    no allocation after creation.
 */
#ifndef FMQ_QUOTA_H
#define FMQ_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_sec.h"

/** Quota keys (Kafka's names in fmq_quota_key_name()). */
enum fmq_quota_key {
	FMQ_QUOTA_PRODUCE = 0,   /**< producer_byte_rate, bytes/s */
	FMQ_QUOTA_FETCH,         /**< consumer_byte_rate, bytes/s */
	FMQ_QUOTA_REQUEST,       /**< request_percentage, % of one lcore */
	FMQ_QUOTA_MUTATION,      /**< controller_mutation_rate: stored only */
	FMQ_QUOTA_NKEYS
};

/** Longest user or client-id name of a quota entity. */
#define FMQ_QUOTA_NAME_MAX 255
/** Most entities one database holds (AlterClientQuotas refuses more). */
#define FMQ_QUOTA_MAX_ENTITIES 10000
/** Most samples of a rate (quota.window.num). */
#define FMQ_QUOTA_MAX_SAMPLES 32

/** One side (user or client-id) of an entity. */
enum fmq_quota_side {
	FMQ_QS_NONE = 0,     /**< not part of the entity */
	FMQ_QS_DEFAULT,      /**< <default>: entity_name null */
	FMQ_QS_NAME,         /**< a name */
};

/** A configured entity and its values. */
struct fmq_quota_entity {
	uint8_t user_kind;               /**< enum fmq_quota_side */
	uint8_t client_kind;             /**< enum fmq_quota_side */
	uint8_t set;                     /**< bit k: value[k] is set */
	uint16_t user_len, client_len;
	char user[FMQ_QUOTA_NAME_MAX + 1];
	char client[FMQ_QUOTA_NAME_MAX + 1];
	double value[FMQ_QUOTA_NKEYS];
};

/** The quota part of the security snapshot. */
struct fmq_quota_db {
	struct fmq_sec_part part;        /**< first: the snapshot's header */
	uint32_t n;
	struct fmq_quota_entity *e;      /**< sorted (fmq_quota_entity_cmp) */
	uint8_t any_set;                 /**< bit k: some entity sets key k */
};

/** "producer_byte_rate", ... */
const char *fmq_quota_key_name(enum fmq_quota_key k);
/** Key of a name; -1 when unknown. */
int fmq_quota_key_parse(const char *s, size_t len);
/** "user" / "client-id" entity types; -1 when unknown (Kafka also has
 * "ip", which FluxMQ refuses). 0: user, 1: client-id. */
int fmq_quota_type_parse(const char *s, size_t len);

/** Order of entities (user side, then client side). */
int fmq_quota_entity_cmp(const struct fmq_quota_entity *a,
			 const struct fmq_quota_entity *b);

/**
 * A new database with one reference holding copies of the n entities of e
 * (entities with no value set are left out; they are sorted here).
 * NULL on out of memory.
 */
struct fmq_quota_db *fmq_quota_db_new(const struct fmq_quota_entity *e,
				      uint32_t n);
/** The entity equal to key (same sides and names), or NULL. */
const struct fmq_quota_entity *
fmq_quota_db_find(const struct fmq_quota_db *db,
		  const struct fmq_quota_entity *key);

/** What one connection's (user, client-id) resolves to for one key. */
struct fmq_quota_match {
	double bound;        /**< the quota; only when found */
	uint64_t tag;        /**< rate entity: hash of (key, tag user, tag
			      * client-id), never 0 */
	int level;           /**< 1..8: Kafka's precedence level */
	bool found;
};

/**
 * Resolve key k for user (the principal's name, "User:" stripped) and
 * client-id. Kafka's order, most specific first:
 *   1 user + client-id   2 user + <default> client-id   3 user
 *   4 <default> user + client-id   5 <default> user + <default> client-id
 *   6 <default> user   7 client-id   8 <default> client-id
 * The rate entity is shared as Kafka's metric tags are: a user-level
 * quota by all the user's client-ids, a client-id-level one by all users
 * of that client-id, a default by each distinct name.
 * Returns m->found.
 */
bool fmq_quota_resolve(const struct fmq_quota_db *db, enum fmq_quota_key k,
		       const char *user, size_t user_len, const char *client,
		       size_t client_len, struct fmq_quota_match *m);

/** A rate sampled as Kafka's SampledStat (Rate with windowed samples). */
struct fmq_quota_rate {
	uint64_t tag;                    /**< 0: free slot */
	int64_t last_ms;                 /**< last record (eviction) */
	uint8_t cur;                     /**< current sample */
	struct {
		int64_t start_ms;
		double v;
	} s[FMQ_QUOTA_MAX_SAMPLES];
};

/** Window settings (quota.window.num, quota.window.size.seconds). */
struct fmq_quota_win {
	uint32_t num;          /**< samples, 2..FMQ_QUOTA_MAX_SAMPLES */
	int64_t size_ms;                 /**< one sample's span */
};

void fmq_quota_rate_init(struct fmq_quota_rate *r, uint64_t tag,
			 int64_t now_ms, const struct fmq_quota_win *w);
/** Add v at now_ms (a new sample starts when the current one is full). */
void fmq_quota_rate_record(struct fmq_quota_rate *r, double v, int64_t now_ms,
			   const struct fmq_quota_win *w);
/** Kafka's window: from the oldest live sample to now, at least
 * (num - 1) samples' span. In ms. */
int64_t fmq_quota_rate_window_ms(struct fmq_quota_rate *r, int64_t now_ms,
				 const struct fmq_quota_win *w);
/** The rate per second over the window. */
double fmq_quota_rate_measure(struct fmq_quota_rate *r, int64_t now_ms,
			      const struct fmq_quota_win *w);
/**
 * Kafka's throttle time of a measured rate over bound:
 * (rate - bound) / bound * window, rounded; 0 when rate <= bound. Never
 * more than the whole window (num * size_ms).
 */
int64_t fmq_quota_throttle_ms(double rate, double bound, int64_t window_ms,
			      const struct fmq_quota_win *w);

/**
 * Per data lcore table of rates: open addressing over a fixed number of
 * slots, allocated once. A new entity takes a free slot, else the least
 * recently used one of its probe run (its history is lost: it is
 * measured afresh). No allocation, no lock.
 */
#define FMQ_QUOTA_TBL_PROBE 8
struct fmq_quota_tbl {
	uint32_t mask;                   /**< slots - 1 (power of two) */
	uint32_t used;                   /**< slots with a tag */
	uint64_t evicted;      /**< entities that pushed out another */
	struct fmq_quota_rate *r;
};

/** Set up t with slots (a power of two) rates in mem (slots * sizeof). */
void fmq_quota_tbl_init(struct fmq_quota_tbl *t, void *mem, uint32_t slots);
/** The rate of tag, created (or taken over) when absent. */
struct fmq_quota_rate *fmq_quota_tbl_get(struct fmq_quota_tbl *t, uint64_t tag,
					 int64_t now_ms,
					 const struct fmq_quota_win *w);

/**
 * Record v for key k and return the throttle time in ms (0: within the
 * quota, or no quota). share divides the bound (data lcores enforcing
 * one broker-wide quota each take bound / share).
 */
int64_t fmq_quota_record(struct fmq_quota_tbl *t, const struct fmq_quota_db *db,
			 enum fmq_quota_key k, const char *user,
			 size_t user_len, const char *client,
			 size_t client_len, double v, int64_t now_ms,
			 const struct fmq_quota_win *w, uint32_t share);

/* ----------------------------------------------------------- the file */

/**
 * Write the entities of db (NULL: none) to path as text, atomically
 * (temp file, fsync, rename, fsync of the directory). -errno on failure.
 */
int fmq_quota_db_save(const struct fmq_quota_db *db, const char *path);
/**
 * Read path into a new database (*out NULL when the file holds no
 * entity). A missing file is an empty database. -errno, or -EINVAL with
 * err naming the line for a damaged file.
 */
int fmq_quota_db_load(const char *path, struct fmq_quota_db **out, char *err,
		      size_t errlen);

#endif
