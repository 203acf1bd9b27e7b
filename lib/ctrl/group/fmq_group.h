/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * FluxMQ group coordinator: Kafka's classic consumer-group protocol
 * (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups,
 * DeleteGroups) and the durable committed-offset store (OffsetCommit,
 * OffsetFetch, OffsetDelete), for the control lcore.
 *
 * The library knows nothing about sockets or the wire format. The broker
 * decodes a request into the plain structs below and calls the matching
 * function with a caller token (its connection/correlation handle). Every
 * call that returns 0 leads to exactly one response for that token, given
 * to the emit callback registered at creation: during the call for most
 * requests, later for JoinGroup and SyncGroup (when the rebalance completes
 * or times out) and for the requests that change durable state (OffsetCommit,
 * DeleteGroups, OffsetDelete: after fmq_group_flush() made them durable).
 *
 * Time is always passed in: now_ms is wall-clock milliseconds (commit
 * timestamps are stored and compared across restarts), and
 * fmq_group_tick() runs the session, rebalance, initial-delay, sync and
 * retention expirations. There are no threads and no locks: every function
 * must be called from the one control lcore.
 *
 * Strings and byte arrays in requests are borrowed for the duration of the
 * call only; whatever the coordinator keeps, it copies. Everything reachable
 * from a response is valid only during the emit callback. The emit callback
 * must not call back into this library.
 *
 * Error codes in responses are Kafka error codes (int16_t, as numbered by
 * lib/util/fmq_kafka_err.def). Int functions return 0 or -errno.
 */
#ifndef FMQ_GROUP_H
#define FMQ_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A borrowed string: len bytes at ptr, not NUL-terminated; len -1 is null. */
struct fmq_group_str {
	const char *ptr;
	int32_t len;
};

/** A borrowed byte array; len -1 is null. */
struct fmq_group_bytes {
	const uint8_t *ptr;
	int32_t len;
};

/** A string view of a C string literal or NUL-terminated buffer. */
#define FMQ_GROUP_STR(s) \
	((struct fmq_group_str){ .ptr = (s), .len = (int32_t)__builtin_strlen(s) })
/** The null string (e.g. no group.instance.id). */
#define FMQ_GROUP_STR_NULL ((struct fmq_group_str){ .ptr = NULL, .len = -1 })

/** Settings, normally from struct fmq_config (fmq_group_conf_from_config). */
struct fmq_group_conf {
	int64_t initial_rebalance_delay_ms;  /**< group.initial.rebalance.delay.ms */
	int64_t min_session_timeout_ms;      /**< group.min.session.timeout.ms */
	int64_t max_session_timeout_ms;      /**< group.max.session.timeout.ms */
	uint32_t max_size;                   /**< group.max.size */
	uint32_t max_groups;                 /**< group.max.groups */
	uint32_t member_metadata_max_bytes;  /**< group.member.metadata.max.bytes */
	int64_t offsets_retention_ms;        /**< offsets.retention.minutes */
	int64_t retention_check_interval_ms; /**< offsets.retention.check.interval.ms */
	uint32_t offset_metadata_max_bytes;  /**< offset.metadata.max.bytes */
	uint32_t offsets_max_count;          /**< offsets.max.count */
	uint64_t journal_compact_min_bytes;  /**< offsets.journal.compact.min.bytes */
	uint32_t journal_compact_factor;     /**< offsets.journal.compact.factor */
	int64_t consumer_heartbeat_interval_ms; /**< group.consumer.heartbeat.interval.ms */
	int64_t consumer_session_timeout_ms; /**< group.consumer.session.timeout.ms */
};

/** Fill conf from the broker configuration. */
void fmq_group_conf_from_config(struct fmq_group_conf *conf,
				const struct fmq_config *cfg);

/** Fill conf with the defaults of the key table (for tests and tools). */
void fmq_group_conf_defaults(struct fmq_group_conf *conf);

/** Which request a response answers. */
enum fmq_group_api {
	FMQ_GROUP_JOIN,
	FMQ_GROUP_SYNC,
	FMQ_GROUP_HEARTBEAT,
	FMQ_GROUP_LEAVE,
	FMQ_GROUP_OFFSET_COMMIT,
	FMQ_GROUP_OFFSET_FETCH,
	FMQ_GROUP_LIST,
	FMQ_GROUP_DESCRIBE,
	FMQ_GROUP_DELETE,
	FMQ_GROUP_OFFSET_DELETE,
};

/* ------------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------- */

/** One (protocol name, metadata) pair of a JoinGroup, in preference order. */
struct fmq_group_protocol {
	struct fmq_group_str name;
	struct fmq_group_bytes metadata;
};

/** JoinGroup v0-v9. */
struct fmq_group_join_req {
	int16_t version;          /**< request version: v4+ without instance id
				   *   gets MEMBER_ID_REQUIRED on first join,
				   *   v9+ supports skip_assignment */
	struct fmq_group_str group_id;
	struct fmq_group_str member_id;          /**< "" on the first join */
	struct fmq_group_str group_instance_id;  /**< null: dynamic member */
	struct fmq_group_str client_id;          /**< from the request header */
	struct fmq_group_str client_host;        /**< e.g. "/10.0.0.1" */
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;            /**< v0: -1 (= session timeout) */
	struct fmq_group_str protocol_type;      /**< e.g. "consumer" */
	const struct fmq_group_protocol *protocols;
	uint32_t n_protocols;
};

/** One member's assignment in the leader's SyncGroup. */
struct fmq_group_assignment {
	struct fmq_group_str member_id;
	struct fmq_group_bytes assignment;
};

/** SyncGroup v0-v5. */
struct fmq_group_sync_req {
	int16_t version;          /**< v5+: protocol type and name required */
	struct fmq_group_str group_id;
	int32_t generation_id;
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;  /**< null unless static */
	struct fmq_group_str protocol_type;      /**< v5+, else null */
	struct fmq_group_str protocol_name;      /**< v5+, else null */
	const struct fmq_group_assignment *assignments; /**< leader only */
	uint32_t n_assignments;
};

/** Heartbeat v0-v4. */
struct fmq_group_heartbeat_req {
	struct fmq_group_str group_id;
	int32_t generation_id;
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;
};

/** One leaving member (v0-v2 have exactly one, with a null instance id). */
struct fmq_group_leave_member {
	struct fmq_group_str member_id;          /**< "" to remove by instance id */
	struct fmq_group_str group_instance_id;
};

/** LeaveGroup v0-v5. */
struct fmq_group_leave_req {
	struct fmq_group_str group_id;
	const struct fmq_group_leave_member *members;
	uint32_t n_members;
};

/** One partition of an OffsetCommit. */
struct fmq_group_commit_part {
	struct fmq_group_str topic;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;                    /**< -1: none */
	struct fmq_group_str metadata;           /**< null is stored as "" */
	/**
	 * Error the broker already decided for this partition (e.g.
	 * UNKNOWN_TOPIC_OR_PARTITION); 0 lets the coordinator decide. A
	 * partition with a preset error is not committed and keeps its error
	 * in the response.
	 */
	int16_t preset_error;
};

/** OffsetCommit v0-v8. */
struct fmq_group_commit_req {
	struct fmq_group_str group_id;
	int32_t generation_id;                   /**< -1: not group-managed */
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;
	int64_t retention_ms;                    /**< v2-v4; -1: broker default */
	int64_t commit_timestamp;                /**< v1; -1: now */
	const struct fmq_group_commit_part *parts;
	uint32_t n_parts;
	/** A committed transaction's offsets (TxnOffsetCommit): applied
	 * without the member and generation checks, as Kafka does. */
	bool transactional;
	/** The OffsetCommit version. A consumer-protocol (KIP-848) member
	 * must commit with v9+ (UNSUPPORTED_VERSION below, as Kafka);
	 * there a wrong member epoch is STALE_MEMBER_EPOCH. */
	int16_t api_version;
};

/** A topic partition. */
struct fmq_group_tp {
	struct fmq_group_str topic;
	int32_t partition;
};

/** One group of an OffsetFetch (v0-v7 have one, v8 several). */
struct fmq_group_fetch_group {
	struct fmq_group_str group_id;
	const struct fmq_group_tp *parts;
	int32_t n_parts;                          /**< -1: all committed */
	/** v9 (KIP-848): a consumer-protocol member's id and epoch,
	 * checked against a consumer group (UNKNOWN_MEMBER_ID,
	 * STALE_MEMBER_EPOCH); a null id with epoch < 0 is not checked. */
	struct fmq_group_str member_id;
	int32_t member_epoch;
};

/** OffsetFetch v0-v8. */
struct fmq_group_fetch_req {
	bool require_stable;                     /**< v7+ */
	const struct fmq_group_fetch_group *groups;
	uint32_t n_groups;
};

/** ListGroups v0-v5. */
struct fmq_group_list_req {
	const struct fmq_group_str *states;      /**< v4 filter; none: all */
	uint32_t n_states;
	const struct fmq_group_str *types;       /**< v5 filter ("classic",
						  *   "consumer"); none: all */
	uint32_t n_types;
};

/** DescribeGroups v0-v5 (v6+ answers GROUP_ID_NOT_FOUND for unknown ids). */
struct fmq_group_describe_req {
	int16_t version;
	const struct fmq_group_str *group_ids;
	uint32_t n_groups;
};

/** DeleteGroups v0-v2. */
struct fmq_group_delete_req {
	const struct fmq_group_str *group_ids;
	uint32_t n_groups;
};

/** OffsetDelete v0. */
struct fmq_group_offset_delete_req {
	struct fmq_group_str group_id;
	const struct fmq_group_tp *parts;
	uint32_t n_parts;
};

/* ------------------------------------------------------------------------
 * Responses (valid only during the emit callback)
 * ---------------------------------------------------------------------- */

/** One member as the JoinGroup leader sees it. */
struct fmq_group_join_member {
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;  /**< null for dynamic */
	struct fmq_group_bytes metadata;         /**< for the chosen protocol */
};

struct fmq_group_join_resp {
	int32_t generation_id;                   /**< -1 with an error */
	struct fmq_group_str protocol_type;      /**< null with an error */
	struct fmq_group_str protocol_name;      /**< null with an error; v0-v6
						  *   encode null as "" */
	struct fmq_group_str leader;             /**< "" with an error */
	bool skip_assignment;                    /**< v9 */
	struct fmq_group_str member_id;
	const struct fmq_group_join_member *members; /**< leader only */
	uint32_t n_members;
};

struct fmq_group_sync_resp {
	struct fmq_group_str protocol_type;      /**< v5; null with an error */
	struct fmq_group_str protocol_name;
	struct fmq_group_bytes assignment;       /**< empty with an error */
};

struct fmq_group_leave_member_resp {
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;
	int16_t error;
};

/**
 * LeaveGroup: v3+ encode the per-member list; v0-v2 have no list and carry
 * the member's error as the top-level error when the top level is 0.
 */
struct fmq_group_leave_resp {
	const struct fmq_group_leave_member_resp *members;
	uint32_t n_members;
};

struct fmq_group_part_error {
	struct fmq_group_str topic;
	int32_t partition;
	int16_t error;
};

/** OffsetCommit: one entry per request partition, in request order. */
struct fmq_group_commit_resp {
	const struct fmq_group_part_error *parts;
	uint32_t n_parts;
};

struct fmq_group_fetch_part {
	struct fmq_group_str topic;
	int32_t partition;
	int64_t offset;                          /**< -1: nothing committed */
	int32_t leader_epoch;                    /**< -1: none */
	struct fmq_group_str metadata;
	int16_t error;
};

struct fmq_group_fetch_group_resp {
	struct fmq_group_str group_id;
	int16_t error;                           /**< group-level (v2+) */
	const struct fmq_group_fetch_part *parts; /**< by topic, then partition
						   *   for "all"; else request
						   *   order */
	uint32_t n_parts;
};

/** OffsetFetch: one entry per requested group, in request order. */
struct fmq_group_fetch_resp {
	const struct fmq_group_fetch_group_resp *groups;
	uint32_t n_groups;
};

struct fmq_group_listed {
	struct fmq_group_str group_id;
	struct fmq_group_str protocol_type;      /**< "" when none */
	struct fmq_group_str state;              /**< v4 */
	struct fmq_group_str type;               /**< v5: "classic" or
						  *   "consumer" (KIP-848) */
};

struct fmq_group_list_resp {
	const struct fmq_group_listed *groups;
	uint32_t n_groups;
};

struct fmq_group_described_member {
	struct fmq_group_str member_id;
	struct fmq_group_str group_instance_id;  /**< v4; null for dynamic */
	struct fmq_group_str client_id;
	struct fmq_group_str client_host;
	struct fmq_group_bytes metadata;         /**< empty unless Stable */
	struct fmq_group_bytes assignment;       /**< empty unless Stable */
};

struct fmq_group_described {
	int16_t error;
	struct fmq_group_str group_id;
	struct fmq_group_str state;              /**< "Dead" for unknown ids */
	struct fmq_group_str protocol_type;
	struct fmq_group_str protocol;           /**< "" unless Stable */
	const struct fmq_group_described_member *members;
	uint32_t n_members;
};

struct fmq_group_describe_resp {
	const struct fmq_group_described *groups;
	uint32_t n_groups;
};

struct fmq_group_deleted {
	struct fmq_group_str group_id;
	int16_t error;
};

/** DeleteGroups: one entry per requested id, in request order. */
struct fmq_group_delete_resp {
	const struct fmq_group_deleted *groups;
	uint32_t n_groups;
};

/** OffsetDelete: partitions are empty when the top-level error is set. */
struct fmq_group_offset_delete_resp {
	const struct fmq_group_part_error *parts;
	uint32_t n_parts;
};

/** A response, given to the emit callback. */
struct fmq_group_resp {
	enum fmq_group_api api;
	int16_t error;  /**< top-level Kafka error (Heartbeat: the only one) */
	union {
		struct fmq_group_join_resp join;
		struct fmq_group_sync_resp sync;
		struct fmq_group_leave_resp leave;
		struct fmq_group_commit_resp commit;
		struct fmq_group_fetch_resp fetch;
		struct fmq_group_list_resp list;
		struct fmq_group_describe_resp describe;
		struct fmq_group_delete_resp del;
		struct fmq_group_offset_delete_resp offset_delete;
	} u;
};

/**
 * Delivers a response for the token given with the request. resp and all it
 * points to are valid only during the call. Must not call into this library.
 */
typedef void (*fmq_group_emit_fn)(void *arg, uint64_t token,
				  const struct fmq_group_resp *resp);

/**
 * High watermark of a partition for the lag metrics; a negative value means
 * unknown (no lag sample is rendered).
 */
typedef int64_t (*fmq_group_hw_fn)(const char *topic, int32_t partition,
				   void *arg);

/** What fmq_group_create needs. */
struct fmq_group_params {
	struct fmq_group_conf conf;
	const char *dir;          /**< directory of the offset journal; created
				   *   if missing (parent must exist) */
	fmq_group_emit_fn emit;
	void *emit_arg;
	fmq_group_hw_fn hw;       /**< may be NULL: no lag metrics */
	void *hw_arg;
	/** Topic metadata for the consumer group protocol (KIP-848): 0 with
	 * the topic's id and partition count, or -1 when it does not exist.
	 * NULL: every topic is unknown (such groups get no partitions). */
	int (*topic)(void *arg, const char *name, uint8_t id[16],
		     uint32_t *nparts);
	/** For regex subscriptions: the i-th topic name (NULL past the
	 * last), and a number that changes whenever the set of topics does.
	 * Both take topic_arg; NULL: no topic matches a regex. */
	const char *(*topic_at)(void *arg, size_t i);
	uint64_t (*topics_version)(void *arg);
	void *topic_arg;
	/** Cluster mode (lib/ctrl/ctrl_zkoff.c): committed offsets are kept
	 * by a replicated store, not the journal (which is then neither
	 * opened nor written). NULL: the journal. */
	const struct fmq_group_store *store;
	void *store_arg;
};

/** One committed offset handed to the replicated store. */
struct fmq_group_store_put {
	struct fmq_group_str topic;
	int32_t partition;
	int64_t offset;
};

/**
 * The replicated store of committed offsets (cluster mode). put: at
 * fmq_group_flush, the partitions one OffsetCommit staged for group; the
 * store makes them durable and then calls fmq_group_store_done(handle)
 * (never during put). It returns 0, or a Kafka error to answer every
 * staged partition with now (nothing was written). A put of no offsets
 * (n 0, puts NULL) asks only for the confirmation that everything taken
 * for the group before it is durable: DeleteGroups and OffsetDelete are
 * answered after it. del: a committed offset removed (OffsetDelete,
 * DeleteGroups, retention, topic deletion); the store removes it in
 * order with the group's commits.
 */
struct fmq_group_store {
	int16_t (*put)(void *arg, void *handle, struct fmq_group_str group,
		       const struct fmq_group_store_put *puts, uint32_t n);
	void (*del)(void *arg, struct fmq_group_str group,
		    struct fmq_group_str topic, int32_t partition);
};

struct fmq_group;

/* ------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------- */

/**
 * Open the coordinator: load the offset journal <dir>/offsets.journal
 * (truncating a torn tail at the first bad record) and start with every
 * loaded group Empty.
 *
 * @param now_ms
 *   Wall-clock milliseconds; loaded groups that had members become Empty
 *   at this time.
 * @return
 *   The coordinator, or NULL with errno: EINVAL (bad params or conf),
 *   ENOMEM, or the errno of a failed file operation (EIO, EACCES, ...).
 */
struct fmq_group *fmq_group_create(const struct fmq_group_params *p,
				   int64_t now_ms);

/**
 * Shut down cleanly: make pending commits durable (and answer them), answer
 * every parked JoinGroup/SyncGroup with NOT_COORDINATOR, and refuse later
 * requests with COORDINATOR_NOT_AVAILABLE. Returns fmq_group_flush()'s
 * result.
 */
int fmq_group_shutdown(struct fmq_group *g, int64_t now_ms);

/**
 * Free everything. Requests still parked are dropped without a response
 * (call fmq_group_shutdown first to answer them); commits not yet flushed
 * are lost, which is safe because they were never acknowledged.
 */
void fmq_group_destroy(struct fmq_group *g);

/**
 * Run what is due at now_ms: session expiry, pending-member expiry,
 * rebalance and initial-delay completion, SyncGroup expiry, and every
 * offsets.retention.check.interval.ms the offset retention. Call it at
 * least every few tens of milliseconds.
 */
void fmq_group_tick(struct fmq_group *g, int64_t now_ms);

/**
 * Milliseconds from now_ms until the next expiration, or -1 when nothing is
 * scheduled; lets the control lcore size its sleep.
 */
int64_t fmq_group_next_timeout(const struct fmq_group *g, int64_t now_ms);

/**
 * Write the journal records buffered since the last flush, fdatasync them,
 * then apply the staged commits and emit the responses that waited for
 * durability (OffsetCommit, DeleteGroups, OffsetDelete). Group commit: the
 * broker calls it once per loop after handing over a batch of requests.
 * Compacts the journal when it has grown past its limit.
 *
 * @return
 *   0 (also when there was nothing to do), or -errno of the failed write or
 *   fdatasync; then the waiting commits were answered with NOT_COORDINATOR
 *   and the next flush first rewrites the journal from memory.
 */
int fmq_group_flush(struct fmq_group *g, int64_t now_ms);

/** True when fmq_group_flush has records to write or responses to emit. */
bool fmq_group_flush_needed(const struct fmq_group *g);

/**
 * Cluster mode: the store made the commit of handle durable (err 0: its
 * offsets become visible and the OffsetCommit is answered) or did not
 * (err: every staged partition gets it, nothing changes).
 */
void fmq_group_store_done(struct fmq_group *g, void *handle, int16_t err);

/**
 * Cluster mode: forget a group this broker does not coordinate any more,
 * or is about to load again: parked JoinGroup/SyncGroup requests are
 * answered NOT_COORDINATOR, the members and offsets dropped, nothing
 * handed to the store. Commits held by the store stay valid until
 * fmq_group_store_done.
 */
void fmq_group_forget(struct fmq_group *g, struct fmq_group_str group,
		      int64_t now_ms);

/**
 * Cluster mode: a committed offset read from the store when this broker
 * became the group's coordinator (the group is created Empty if missing).
 * commit_ms: when it was written. 0, or -ENOMEM.
 */
int fmq_group_load_offset(struct fmq_group *g, struct fmq_group_str group,
			  struct fmq_group_str topic, int32_t partition,
			  int64_t offset, int64_t commit_ms);

/* ------------------------------------------------------------------------
 * Requests. Each returns 0 when a response for token has been or will be
 * emitted, or -EINVAL (no response) when g or req is NULL or an array
 * pointer is NULL with a nonzero count.
 * ---------------------------------------------------------------------- */

/** FindCoordinator key types. */
#define FMQ_GROUP_COORD_GROUP 0
#define FMQ_GROUP_COORD_TRANSACTION 1

/**
 * FindCoordinator for one key: this node coordinates every group. Returns
 * the Kafka error to answer with (0 for a group key: answer with this
 * node's id, host and port; COORDINATOR_NOT_AVAILABLE for transaction keys,
 * as there is no transaction coordinator, or after shutdown; INVALID_REQUEST
 * for other key types). Synchronous; no emit.
 */
int16_t fmq_group_find_coordinator(const struct fmq_group *g, int8_t key_type,
				   struct fmq_group_str key);

int fmq_group_join(struct fmq_group *g, uint64_t token,
		   const struct fmq_group_join_req *req, int64_t now_ms);
int fmq_group_sync(struct fmq_group *g, uint64_t token,
		   const struct fmq_group_sync_req *req, int64_t now_ms);
int fmq_group_heartbeat(struct fmq_group *g, uint64_t token,
			const struct fmq_group_heartbeat_req *req,
			int64_t now_ms);
int fmq_group_leave(struct fmq_group *g, uint64_t token,
		    const struct fmq_group_leave_req *req, int64_t now_ms);
/** Answered after the next fmq_group_flush (unless every partition fails). */
int fmq_group_offset_commit(struct fmq_group *g, uint64_t token,
			    const struct fmq_group_commit_req *req,
			    int64_t now_ms);
int fmq_group_offset_fetch(struct fmq_group *g, uint64_t token,
			   const struct fmq_group_fetch_req *req,
			   int64_t now_ms);
int fmq_group_list(struct fmq_group *g, uint64_t token,
		   const struct fmq_group_list_req *req, int64_t now_ms);
int fmq_group_describe(struct fmq_group *g, uint64_t token,
		       const struct fmq_group_describe_req *req,
		       int64_t now_ms);
/** Answered after the next fmq_group_flush when a group was deleted. */
int fmq_group_delete(struct fmq_group *g, uint64_t token,
		     const struct fmq_group_delete_req *req, int64_t now_ms);
/** Answered after the next fmq_group_flush when an offset was deleted. */
int fmq_group_offset_delete(struct fmq_group *g, uint64_t token,
			    const struct fmq_group_offset_delete_req *req,
			    int64_t now_ms);

/**
 * Forget committed offsets of deleted topic partitions in every group (the
 * topic registry calls it when a topic is deleted). Tombstones are written
 * at the next flush. Returns the number of offsets removed.
 */
uint64_t fmq_group_topic_deleted(struct fmq_group *g, const char *topic,
				 int64_t now_ms);

/* ------------------------------------------------------------------------
 * Observability
 * ---------------------------------------------------------------------- */

/** Counters, for tests and the management endpoint. */
struct fmq_group_stats {
	uint64_t groups;                 /**< groups in memory */
	uint64_t groups_by_state[5];     /**< Empty, PreparingRebalance,
					  *   CompletingRebalance, Stable, Dead */
	/* The rest, one line each in group_metrics.def. */
#define X(field, type, name, help) uint64_t field;
#include "group_metrics.def"
#undef X
};

void fmq_group_get_stats(const struct fmq_group *g, struct fmq_group_stats *st);

/**
 * Metrics render callback (fmq_metrics_fn); arg is the struct fmq_group.
 * Renders fluxmq_group_* families, including fluxmq_group_consumer_lag per
 * group and partition (high watermark minus committed offset).
 */
void fmq_group_metrics(struct fmq_metrics_out *out, void *arg);

/** The Kafka name of a group state ("Empty", "Stable", ...). */
const char *fmq_group_state_name(int state);

/** A group as the management console shows it (control lcore, read-only). */
struct fmq_group_view {
	struct fmq_group_str id;
	const char *state;               /**< fmq_group_state_name */
	int32_t generation;
	uint32_t members;
	struct fmq_group_str protocol_type; /**< len -1: none */
	struct fmq_group_str protocol;   /**< len -1: none */
};

/** Called once per group, in creation order. */
typedef void (*fmq_group_view_fn)(void *arg, const struct fmq_group_view *g);
/**
 * Called after a group's fmq_group_view_fn for each of its committed
 * offsets, with the partition's high watermark (-1: unknown partition).
 */
typedef void (*fmq_group_offset_view_fn)(void *arg,
					 struct fmq_group_str topic,
					 int32_t partition, int64_t committed,
					 int64_t high_watermark);

/** Walk every group and its committed offsets (either callback may be NULL). */
void fmq_group_visit(struct fmq_group *g, fmq_group_view_fn gfn,
		     fmq_group_offset_view_fn ofn, void *arg);

/* ------------------------------------------------------------------------
 * The consumer group protocol (KIP-848): ConsumerGroupHeartbeat (API 68)
 * and ConsumerGroupDescribe (API 69). Both are answered during the call,
 * in *resp / *out, which point into memory of the coordinator that stays
 * valid until the next fmq_group_consumer_* call (the emit callback is not
 * used). A group is classic or consumer, never both: see docs/groups.md.
 * ---------------------------------------------------------------------- */

/** The partitions of one topic, named by topic id. */
struct fmq_group_ctp {
	uint8_t topic_id[16];
	struct fmq_group_str topic;              /**< answers only */
	const int32_t *parts;
	uint32_t n_parts;
};

/** ConsumerGroupHeartbeat v0-v1. Nullable fields: null means unchanged. */
struct fmq_group_cheartbeat_req {
	int16_t version;                         /**< v1+: client member ids */
	struct fmq_group_str group_id;
	struct fmq_group_str member_id;
	int32_t member_epoch;                    /**< 0 join, -1 leave, -2
						  *   static leave */
	struct fmq_group_str instance_id;
	struct fmq_group_str rack_id;
	int32_t rebalance_timeout_ms;            /**< -1: unchanged */
	const struct fmq_group_str *subscribed;
	int32_t n_subscribed;                    /**< -1: null */
	struct fmq_group_str regex;              /**< v1; "" drops it */
	struct fmq_group_str server_assignor;
	const struct fmq_group_ctp *owned;
	int32_t n_owned;                         /**< -1: null */
	struct fmq_group_str client_id;          /**< request header */
	struct fmq_group_str client_host;        /**< "/a.b.c.d" */
};

struct fmq_group_cheartbeat_resp {
	int16_t error;
	const char *error_message;               /**< NULL: none */
	struct fmq_group_str member_id;          /**< null with an error */
	int32_t member_epoch;
	int32_t heartbeat_interval_ms;
	bool has_assignment;                     /**< false: null */
	const struct fmq_group_ctp *assignment;
	uint32_t n_assignment;
};

/** 0, or -EINVAL for a malformed call (NULL arrays with counts). */
int fmq_group_consumer_heartbeat(struct fmq_group *g,
				 const struct fmq_group_cheartbeat_req *req,
				 struct fmq_group_cheartbeat_resp *resp,
				 int64_t now_ms);

struct fmq_group_cmember_desc {
	struct fmq_group_str member_id;
	struct fmq_group_str instance_id;
	struct fmq_group_str rack_id;
	int32_t member_epoch;
	struct fmq_group_str client_id;
	struct fmq_group_str client_host;
	const struct fmq_group_str *subscribed;  /**< the names it sent */
	uint32_t n_subscribed;
	struct fmq_group_str regex;              /**< null: none */
	const struct fmq_group_ctp *assigned;
	uint32_t n_assigned;
	const struct fmq_group_ctp *target;
	uint32_t n_target;
};

struct fmq_group_cgroup_desc {
	int16_t error;
	const char *error_message;               /**< NULL: none */
	struct fmq_group_str group_id;
	const char *state;                       /**< "Empty", "Assigning",
						  *   "Reconciling", "Stable" or
						  *   "Dead" */
	int32_t group_epoch;
	int32_t assignment_epoch;
	const char *assignor;
	const struct fmq_group_cmember_desc *members;
	uint32_t n_members;
};

/** ConsumerGroupDescribe v0: *out gets one entry per id, in order. */
int fmq_group_consumer_describe(struct fmq_group *g,
				const struct fmq_group_str *ids, uint32_t n,
				const struct fmq_group_cgroup_desc **out,
				int64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_GROUP_H */
