/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * Control lcore: the topic registry (persisted), topic configs, partition
 * ownership. Everything here runs on the control lcore only.
 *
 * Kafka-facing functions return Kafka error codes (int16_t, 0 = none) and
 * fill a message for the response's ErrorMessage field; file-level failures
 * return -errno.
 */
#ifndef FMQ_CTRL_H
#define FMQ_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest legal topic name (Kafka: 249). */
#define FMQ_TOPIC_NAME_MAX 249
/** Upper bound on partitions per topic. */
#define FMQ_TOPIC_MAX_PARTITIONS 10000

/** Index of each topic-level config: FMQ_TCFG_IDX_<field>. */
enum fmq_tcfg_idx {
#define FMQ_TCFG(field, name, type, dflt, limits, doc) FMQ_TCFG_IDX_##field,
#include "keys/topic.def"
#undef FMQ_TCFG
	FMQ_TCFG_N
};

#define FMQ_TC_LONG int64_t
#define FMQ_TC_ENUM uint8_t  /* index into the "a|b|c" list */
#define FMQ_TC_BOOL bool
#define FMQ_TC_DOUBLE double
/** A free-form value (characters A-Z a-z 0-9 : , . * _ -), < 64 bytes. */
struct fmq_tc_string {
	char s[64];
};
#define FMQ_TC_STRING struct fmq_tc_string

/** Parsed topic configs; set[] marks the ones the topic overrides. */
struct fmq_topic_cfg {
#define FMQ_TCFG(field, name, type, dflt, limits, doc) FMQ_TC_##type field;
#include "keys/topic.def"
#undef FMQ_TCFG
	bool set[FMQ_TCFG_N];
};

/** One topic-level config key (for DescribeConfigs and validation). */
struct fmq_tcfg_key {
	const char *name;
	const char *dflt;
	const char *limits;
	const char *doc;
};

/** The topic-level key table. */
const struct fmq_tcfg_key *fmq_tcfg_keys(void);

/** Index of a topic-level key by name, or -1. */
int fmq_tcfg_find(const char *name);

/** The table's built-in default for every topic-level key. */
void fmq_tcfg_defaults(struct fmq_topic_cfg *c);

/**
 * Topic defaults from the broker configuration (log.retention.ms ->
 * retention.ms, message.max.bytes -> max.message.bytes, ...), the way
 * Kafka derives them.
 */
void fmq_tcfg_from_broker(struct fmq_topic_cfg *c, const struct fmq_config *cfg);

/**
 * Set one topic config from its string form.
 * @return 0, or INVALID_CONFIG (40) with msg filled.
 */
int16_t fmq_tcfg_set(struct fmq_topic_cfg *c, const char *name,
		     const char *value, char *msg, size_t msglen);

/** Reset one key to its value in dflt (IncrementalAlterConfigs DELETE). */
int16_t fmq_tcfg_unset(struct fmq_topic_cfg *c, const struct fmq_topic_cfg *dflt,
		       const char *name, char *msg, size_t msglen);

/** The string form of key idx's current value. */
void fmq_tcfg_format(const struct fmq_topic_cfg *c, int idx, char *buf,
		     size_t len);

/** A topic. Owned by the registry; stable until deleted. */
struct fmq_topic {
	char name[FMQ_TOPIC_NAME_MAX + 1];
	uint8_t id[16];          /**< topic id (UUID v4) */
	uint32_t nparts;
	uint16_t *owner;         /**< data lcore index of each partition */
	int64_t created_ms;
	struct fmq_topic_cfg cfg;
};

struct fmq_topics;

/** A key=value pair of a CreateTopics request. */
struct fmq_kv {
	const char *key;
	const char *value;       /**< NULL: null value (use the default) */
};

/**
 * Open (or create) the registry persisted in dir/topics.meta and check
 * every partition owner against n_lcores (owners past it are reassigned).
 * dflt (copied; NULL: the table's defaults) is what topics inherit for
 * keys they do not set.
 * @return the registry, or NULL with errno set and err filled.
 */
struct fmq_topics *fmq_topics_open(const char *dir, unsigned int n_lcores,
				   const struct fmq_topic_cfg *dflt,
				   char *err, size_t errlen);

/** The defaults topics inherit. */
const struct fmq_topic_cfg *fmq_topics_defaults(const struct fmq_topics *t);
void fmq_topics_close(struct fmq_topics *t);

/**
 * Kafka's topic name rules: 1..249 of [a-zA-Z0-9._-], not "." or "..".
 * @return 0 or INVALID_TOPIC_EXCEPTION (17) with msg filled.
 */
int16_t fmq_topics_validate_name(const char *name, char *msg, size_t msglen);

/**
 * CreateTopics for one topic. nparts and rf of -1 mean the defaults
 * (default_parts, 1). validate_only checks without creating.
 * @return 0, INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS,
 *   INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, or
 *   KAFKA_STORAGE_ERROR when the registry cannot be written.
 */
int16_t fmq_topics_create(struct fmq_topics *t, const char *name,
			  int32_t nparts, int16_t rf, int32_t default_parts,
			  const struct fmq_kv *cfgs, size_t ncfgs,
			  bool validate_only, char *msg, size_t msglen,
			  const struct fmq_topic **out);

/** DeleteTopics for one topic: 0 or UNKNOWN_TOPIC_OR_PARTITION. */
int16_t fmq_topics_delete(struct fmq_topics *t, const char *name, char *msg,
			  size_t msglen);

/** CreatePartitions: grow to total partitions (INVALID_PARTITIONS if not more). */
int16_t fmq_topics_add_partitions(struct fmq_topics *t, const char *name,
				  int32_t total, bool validate_only, char *msg,
				  size_t msglen);

/** IncrementalAlterConfigs operations. */
enum fmq_alter_op { FMQ_ALTER_SET = 0, FMQ_ALTER_DELETE = 1,
		    FMQ_ALTER_APPEND = 2, FMQ_ALTER_SUBTRACT = 3 };

struct fmq_alter {
	const char *key;
	const char *value;
	int8_t op;
};

/** Apply all alterations or none. */
/* New broker defaults (dynamic broker configs): every topic key not set
 * on the topic takes its new default. Nothing is written: the registry
 * keeps only what topics set. */
void fmq_topics_set_defaults(struct fmq_topics *t,
			     const struct fmq_topic_cfg *dflt);
int16_t fmq_topics_alter(struct fmq_topics *t, const char *name,
			 const struct fmq_alter *ops, size_t nops,
			 bool validate_only, char *msg, size_t msglen);

/** The configs a topic would have after ops (fmq_topics_alter's checks
 * and messages), into out; nothing changes. */
int16_t fmq_topics_preview(const struct fmq_topics *t, const char *name,
			   const struct fmq_alter *ops, size_t nops,
			   struct fmq_topic_cfg *out, char *msg,
			   size_t msglen);

/** Look a topic up by name, or NULL. */
const struct fmq_topic *fmq_topics_find(const struct fmq_topics *t,
					const char *name);

/** Number of topics, and the i-th in name order. */
size_t fmq_topics_count(const struct fmq_topics *t);
const struct fmq_topic *fmq_topics_at(const struct fmq_topics *t, size_t i);

/** Change counter, bumped by every mutation (for metadata snapshots). */
uint64_t fmq_topics_version(const struct fmq_topics *t);

/** Format a topic id as Kafka prints it (base64url, 22 chars). */
void fmq_topic_id_str(const uint8_t id[16], char out[23]);

/* ------------------------------------------------------------------------
 * The control lcore
 * ---------------------------------------------------------------------- */

struct fmq_broker;
struct fmq_log;
struct fmq_ctrl;

/**
 * Read the cluster id from <first log.dirs entry>/meta.properties, or
 * create the file with a new random id (as Kafka's meta.properties:
 * version, cluster.id, node.id). A node.id that differs from the file's
 * is refused.
 * @return 0 or -errno with err filled.
 */
int fmq_ctrl_cluster_id(const struct fmq_config *cfg, char *out, size_t len,
			char *err, size_t errlen);

/**
 * Open the control state: the topic registry, every partition of every
 * topic (recovering each), the group coordinator; publish the first
 * metadata snapshot to the broker. Prints progress while recovering.
 * @return NULL with err filled on failure.
 */
struct fmq_ctrl *fmq_ctrl_create(const struct fmq_config *cfg,
				 struct fmq_broker *b, struct fmq_log *log,
				 unsigned int n_lcores, char *err,
				 size_t errlen);

/**
 * One pass of the control loop: forwarded requests, group timers and
 * commits, the log flusher, retention, deferred partition closes. Never
 * blocks; call it with the management poll in between.
 * @return how long the caller may sleep (microseconds) before the next
 *   pass if nothing wakes it: 1 ms while the flusher has work, longer idle.
 */
uint64_t fmq_ctrl_poll(struct fmq_ctrl *c, uint64_t now_ns);

/**
 * The descriptor the control loop sleeps on between passes (readable
 * when a data lcore forwarded work, or, in a cluster, when ZooKeeper's
 * socket needs attention): the broker's eventfd alone without
 * zookeeper.connect.
 */
int fmq_ctrl_wake_fd(const struct fmq_ctrl *c);

/** Flush and close everything (after the data lcores stopped). */
void fmq_ctrl_free(struct fmq_ctrl *c);

/** fmq_metrics_fn for the control lcore (arg: the fmq_ctrl). */
void fmq_ctrl_metrics(struct fmq_metrics_out *out, void *arg);

/* ------------------------------------------------------------------------
 * Read-only views for the management endpoint (control lcore only)
 * ---------------------------------------------------------------------- */

struct fmq_log_part;
struct fmq_group;

/**
 * Called for each partition of each topic, topics in name order: dir is
 * the log.dirs entry the partition lives in, part its open log (NULL
 * while it is not open).
 */
typedef void (*fmq_ctrl_part_fn)(void *arg, const struct fmq_topic *t,
				 uint32_t partition, const char *dir,
				 const struct fmq_log_part *part);

/** Walk every partition. */
void fmq_ctrl_visit_partitions(struct fmq_ctrl *c, fmq_ctrl_part_fn fn,
			       void *arg);

/** Number of topics and of partitions. */
void fmq_ctrl_counts(const struct fmq_ctrl *c, uint32_t *topics,
		     uint32_t *partitions);

/** The group coordinator (fmq_group_visit), or NULL. */
struct fmq_group *fmq_ctrl_groups(struct fmq_ctrl *c);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_CTRL_H */
