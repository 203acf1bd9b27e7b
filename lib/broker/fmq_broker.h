/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * The Kafka broker on the data lcores: connections on TCP-lite, request
 * framing, per-connection response ordering, and the data-path APIs
 * (ApiVersions, Metadata, Produce, Fetch with long-poll, ListOffsets,
 * DescribeCluster). Control-plane APIs (topic admin, configs, groups,
 * producer ids, Metadata that auto-creates) are forwarded as whole frames to
 * the control lcore (lib/ctrl), which answers through the same channel.
 *
 * Topic metadata reaches the data lcores as an immutable snapshot
 * (struct fmq_bmeta) that the control lcore builds and publishes. A data
 * lcore reads the current snapshot afresh for every request and keeps no
 * pointer into it across polls; the control lcore frees a replaced snapshot
 * once every data lcore has polled since (quiescent-state reclamation), so
 * no lock is taken on the data path.
 */
#ifndef FMQ_BROKER_H
#define FMQ_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fmq_kafka.h"
#include "fmq_listener.h"
#include "fmq_log.h"
#include "fmq_acl.h"
#include "fmq_sec.h"
#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mempool;
struct fmq_net;
struct fmq_log;
struct fmq_log_part;

#define FMQ_BROKER_TOPIC_MAX 249

/** Compression codecs as Kafka numbers them in batch attributes. */
enum fmq_bcodec { FMQ_BCODEC_NONE = 0, FMQ_BCODEC_GZIP = 1,
		  FMQ_BCODEC_SNAPPY = 2, FMQ_BCODEC_LZ4 = 3,
		  FMQ_BCODEC_ZSTD = 4, FMQ_BCODEC_PRODUCER = 255 };

/** One partition in a snapshot. */
/** Replication (cluster, replication factor > 1): the most replicas. */
#define FMQ_BREPL_MAX 16

/** What the leader knows of one follower (written by whichever data
 * lcore serves its Fetch, read by the owner and the control lcore). */
struct fmq_brepl_peer {
	int32_t id;
	_Atomic int64_t leo;           /**< its fetch offset; -1 unknown */
	_Atomic uint64_t caught_up_ns; /**< Kafka's lastCaughtUpTime */
	_Atomic int64_t prev_leo;      /**< leader LEO at its last fetch */
	_Atomic uint64_t prev_fetch_ns;
};

/**
 * Replication state of one partition hosted here with replication
 * factor > 1. Allocated by the control lcore when the partition is
 * opened and kept for the run (its address stays valid across
 * snapshots, so parked requests may hold it). Data lcores read and
 * write it with atomics only.
 */
struct fmq_brepl {
	char topic[FMQ_BROKER_TOPIC_MAX + 1];
	uint32_t part;
	int32_t self;
	/** Leader: the high watermark (min LEO over the ISR). Follower:
	 * min(leader's HW, own LEO). Only grows within one leadership. */
	_Atomic int64_t hw;
	/** Leader epoch the data path last acted under (-1: none). */
	_Atomic int32_t epoch;
	_Atomic int32_t min_isr;       /**< min.insync.replicas */
	_Atomic int32_t nisr;          /**< ISR size of the last snapshot */
	/** Set by the follower's fetcher when its fetch offset is past
	 * the leader's log end; the control lcore then cuts the log. */
	_Atomic int32_t want_truncate;
	/** Follower: the log end it must cut back to before fetching
	 * again (set by the control lcore while the partition is being
	 * truncated; -1 none). */
	_Atomic int64_t truncating;
	uint16_t npeers;
	struct fmq_brepl_peer peer[FMQ_BREPL_MAX];
	/* Counters for /metrics (plain: one writer each). */
	_Atomic uint64_t follower_appends, follower_bytes;
	_Atomic uint64_t hw_moves;
	/** Follower: with want_truncate, the offset to cut back to (the
	 * leader's diverging epoch, KIP-101/595); -1: the HW. */
	_Atomic int64_t truncate_to;
};

struct fmq_broker;
/** Leadership lease of replicated partitions (control lcore): writes to
 * them are refused past until_ns (monotonic ns; 0: no lease). */
void fmq_broker_set_lease(struct fmq_broker *b, uint64_t until_ns);

struct fmq_bpart {
	struct fmq_log_part *log;  /**< only the owner lcore may use it;
				    *   NULL: not led here (cluster) */
	/** Replicated partition this broker follows: its log (the owner
	 * lcore appends the leader's batches); NULL otherwise. */
	struct fmq_log_part *flog;
	/** Replication state (replication factor > 1), or NULL. */
	struct fmq_brepl *repl;
	uint16_t owner;            /**< data lcore index */
	int32_t leader_epoch;
	/** Cluster mode (fmq_bmeta.nbrokers > 0): the leader's broker id
	 * (-1: offline), and replicas and ISR pointing into
	 * fmq_bmeta.ids. Alone: unused, this broker leads everything. */
	int32_t leader;
	uint16_t nreplicas, nisr;
	const int32_t *replicas, *isr;
	/** Replication throttle (KIP-73): bit 0 this broker is listed in
	 * leader.replication.throttled.replicas, bit 1 in
	 * follower.replication.throttled.replicas, for this partition. */
	uint8_t rthr;
};

/** A live broker of the cluster, with its endpoint per listener name. */
struct fmq_bbroker {
	int32_t id;
	char rack[64];             /**< "" none */
	uint32_t nep;
	struct {
		char name[32];
		char host[64];
		uint16_t port;
	} ep[8];
};

/** One topic in a snapshot, with the settings the data path needs. */
struct fmq_btopic {
	char name[FMQ_BROKER_TOPIC_MAX + 1];
	uint16_t name_len;
	uint8_t id[16];
	uint32_t nparts;
	struct fmq_bpart *parts;
	uint32_t max_message_bytes;
	bool log_append_time;
	uint8_t compression;       /**< enum fmq_bcodec; PRODUCER keeps as sent */
	bool deep_validation;
	/**
	 * The log settings of the topic's partitions (dir, topic, partition
	 * and lcore unused). When has_log_cfg, each data lcore hands them to
	 * fmq_log_part_set_config() for the partitions it owns when it
	 * first polls with this snapshot: altered topic configs take effect
	 * in place, with no reopen.
	 */
	struct fmq_log_part_params log_cfg;
	bool has_log_cfg;
};

/** An immutable topic metadata snapshot. */
struct fmq_bmeta {
	uint64_t version;
	uint32_t ntopics;
	struct fmq_btopic *topics;  /**< sorted by name */
	uint32_t hash_mask;
	int32_t *hash;              /**< open addressing: topic index or -1 */
	/** SASL credentials, ACLs and quotas as of this snapshot (one
	 * reference, dropped when the snapshot is freed); NULL: none. */
	struct fmq_sec_snap *sec;
	/** Cluster mode (zookeeper.connect): the live brokers by id and the
	 * controller. 0 brokers: this broker alone, as without a cluster. */
	uint32_t nbrokers;
	struct fmq_bbroker *brokers;
	int32_t controller_id;
	int32_t *ids;               /**< replicas and ISRs of the parts */
	struct fmq_bmeta *next_old; /**< reclamation list (control lcore) */
	int32_t *id_hash;           /**< by topic id, as hash (Fetch v13+) */
	/** leader.replication.throttled.rate and
	 * follower.replication.throttled.rate in effect, bytes/s
	 * (>= INT64_MAX: none). */
	uint64_t repl_rate[2];
};

/** "partition:broker,..." or "*" (a *.replication.throttled.replicas
 * topic config) lists (part, broker). */
bool fmq_broker_rthr_listed(const char *list, uint32_t part, int32_t broker);

/** A replication throttle token bucket (one per data lcore and side). */
struct fmq_rthr_bucket {
	int64_t tokens;             /**< bytes; < 0: overdrawn */
	uint64_t last_ns;           /**< 0: never filled */
};

/** Refill k at rate bytes/s up to now_ns, at most one second's worth. */
void fmq_rthr_refill(struct fmq_rthr_bucket *k, uint64_t rate,
		     uint64_t now_ns);

/**
 * Allocate a snapshot with room for ntopics (topics zeroed, parts NULL).
 * The control lcore fills topics[] in name order, allocating each
 * topic's parts with fmq_bmeta_alloc_parts(), then publishes it.
 * @return NULL on allocation failure.
 */
struct fmq_bmeta *fmq_bmeta_alloc(uint32_t ntopics);
/** Allocate topic i's partition array; 0 or -ENOMEM. */
int fmq_bmeta_alloc_parts(struct fmq_bmeta *m, uint32_t i, uint32_t nparts);
/** The live broker id in m (cluster mode), or NULL. */
const struct fmq_bbroker *fmq_bmeta_broker(const struct fmq_bmeta *m,
					   int32_t id);
/** Free a snapshot that was never published. */
void fmq_bmeta_free(struct fmq_bmeta *m);
/** Look a topic up by name (len bytes), or NULL. */
const struct fmq_btopic *fmq_bmeta_find(const struct fmq_bmeta *m,
					const char *name, uint32_t len);
/** Look a topic up by its 16-byte id, or NULL (the zero id: NULL). */
const struct fmq_btopic *fmq_bmeta_find_id(const struct fmq_bmeta *m,
					   const uint8_t id[16]);

struct fmq_broker;
struct fmq_broker_lcore;

/**
 * Create the broker's shared state: settings from cfg (node id, listener,
 * limits), the log, the number of data lcores and the cluster id (the
 * control lcore persists it). Starts with an empty snapshot.
 * @return NULL with err filled on failure (a bad listener names the key).
 */
struct fmq_broker *fmq_broker_create(const struct fmq_config *cfg,
				     struct fmq_log *log, unsigned int n_lcores,
				     const char *cluster_id, char *err,
				     size_t errlen);
void fmq_broker_free(struct fmq_broker *b);

/** Node id, the listeners (with what each advertises), cluster id. */
int32_t fmq_broker_node_id(const struct fmq_broker *b);
/** Listener idx (out of range: the first); its adv_host and adv_port
 * are what a client that connected through it is told. */
const struct fmq_listener *fmq_broker_listener(const struct fmq_broker *b,
					       uint32_t idx);
const struct fmq_listeners *fmq_broker_listeners(const struct fmq_broker *b);
const char *fmq_broker_cluster_id(const struct fmq_broker *b);
/** Replace the cluster id (a cluster's, from ZooKeeper): control lcore,
 * before the data lcores start. */
void fmq_broker_set_cluster_id(struct fmq_broker *b, const char *id);

/* ---------------------------------------------------------------- control */

/**
 * Publish m as the current snapshot (its version is set here). The old one
 * is freed by fmq_broker_reclaim() once every data lcore has moved on.
 */
void fmq_broker_publish(struct fmq_broker *b, struct fmq_bmeta *m);
/** The current snapshot (control lcore). */
const struct fmq_bmeta *fmq_broker_meta(const struct fmq_broker *b);
/**
 * Free replaced snapshots no data lcore can still be reading.
 * @return true when none is left waiting.
 */
bool fmq_broker_reclaim(struct fmq_broker *b);
/**
 * True once every data lcore has polled with the current snapshot (so
 * nothing it replaced is in use, e.g. a deleted partition).
 */
bool fmq_broker_all_current(const struct fmq_broker *b);

/** A request forwarded from a data lcore to the control lcore. */
struct fmq_bfwd {
	uint16_t lcore;            /**< origin data lcore */
	uint32_t conn, gen, slot;  /**< where the answer goes */
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	uint32_t client_ip;        /**< network order (group client_host) */
	uint16_t client_port;
	struct fmq_principal principal; /**< who sent it (ACL checks) */
	uint8_t listener;          /**< index of the listener it came through */
	uint32_t len;              /**< frame bytes (header + body, no prefix) */
	uint8_t *frame;
	uint8_t *resp;             /**< whole response frame incl. size prefix */
	uint32_t resp_len;
	bool close;                /**< close the connection instead */
	bool no_response;          /**< done, nothing to send (acks=0) */
	/** Not a request: a transaction marker for the owner lcore. */
	struct fmq_btxn_marker *marker;
};

/**
 * A transaction marker the coordinator (control lcore) has the owner lcore
 * of a partition append (broker_txn.c): sent in a struct fmq_bfwd whose
 * marker is set, with lcore = the owner, through
 * fmq_broker_ctrl_respond(); it comes back, answered, through
 * fmq_broker_ctrl_dequeue().
 */
struct fmq_btxn_marker {
	struct fmq_bfwd *retry_next;  /**< owner's retry list */
	char topic[256];
	int32_t partition;
	const struct fmq_log_part *log; /**< expected partition */
	int64_t pid;
	int16_t epoch;
	bool commit;
	int32_t coord_epoch;
	int64_t first_off;            /**< the transaction's first offset */
	/** No marker: the LSO moved, wake the fetches parked on the
	 * partition (nothing comes back). */
	bool wake;
	uint64_t cookie;              /**< the coordinator's */
	/* Answer. */
	int rc;                       /**< 0, or -errno (-ENOENT: gone) */
	int64_t offset;               /**< the marker's offset */
};

/**
 * An eventfd the data lcores signal after forwarding a request, so the
 * control lcore can sleep in poll/select until there is work. The control
 * lcore reads it to clear it.
 */
int fmq_broker_ctrl_fd(const struct fmq_broker *b);

/** Take up to n forwarded requests from all data lcores (control lcore). */
unsigned int fmq_broker_ctrl_dequeue(struct fmq_broker *b,
				     struct fmq_bfwd **out, unsigned int n);
/**
 * Hand a finished request back to its data lcore: set resp/resp_len
 * (allocated with fmq_bfwd_resp_alloc), or close, or no_response first.
 * Consumes f. Retries internally while the ring is full.
 */
void fmq_broker_ctrl_respond(struct fmq_broker *b, struct fmq_bfwd *f);
/** Allocate f->resp of len bytes; 0 or -ENOMEM. */
int fmq_bfwd_resp_alloc(struct fmq_bfwd *f, uint32_t len);
/** Free a forwarded request and its buffers. */
void fmq_bfwd_free(struct fmq_bfwd *f);

/* -------------------------------------------------------------- data lcore */

/**
 * Per data lcore state; listens on the Kafka port on net. Must be called
 * on the control lcore before the data lcores start. Its memory (rings,
 * slab, connection table) is placed on socket, the data lcore's NUMA node
 * (SOCKET_ID_ANY: the caller's).
 */
struct fmq_broker_lcore *fmq_broker_lcore_create(struct fmq_broker *b,
						 unsigned int idx,
						 struct fmq_net *net,
						 struct rte_mempool *mp,
						 int socket,
						 char *err, size_t errlen);
/** Data lcore loop hook: control answers, parked fetches, pending sends. */
void fmq_broker_lcore_poll(struct fmq_broker_lcore *bl, uint64_t now_ns);
/**
 * True when the last fmq_broker_lcore_poll left requests it could handle
 * at once (a connection ran out of broker.frames.per.poll, or was resumed
 * and has data waiting in TCP). An adaptive loop must not count such a
 * poll as idle: asleep, the lcore would handle one budget per wake-up
 * while no packet arrives to wake it (a paused client sends nothing).
 * Connections waiting for the hot pool do not count: they wait for the
 * flusher.
 */
bool fmq_broker_lcore_busy(const struct fmq_broker_lcore *bl);
void fmq_broker_lcore_free(struct fmq_broker_lcore *bl);

/**
 * The lcore's doorbell: other lcores and the control lcore ring it after
 * giving it work over a ring. The loop that polls bl arms it before it
 * sleeps and waits on its fd (see fmq_doorbell_arm).
 */
struct fmq_doorbell *fmq_broker_lcore_doorbell(struct fmq_broker_lcore *bl);

/**
 * True when work from other lcores waits on bl's rings (checked after
 * arming the doorbell, before sleeping).
 */
bool fmq_broker_lcore_pending(const struct fmq_broker_lcore *bl);

/**
 * Who asks, for the authorizer: the ACLs in force (NULL: no authorizer,
 * everything allowed), the principal and client address, and where
 * decisions are counted.
 */
struct fmq_bauth {
	const struct fmq_acl_db *db;
	const struct fmq_principal *principal;
	uint32_t client_ip;            /**< network order */
	struct fmq_acl_stats *st;
};

/**
 * Fill a Metadata response for req at version from snapshot m (the data
 * lcores answer from the current snapshot; the control lcore after
 * creating topics). Topics the snapshot lacks get UNKNOWN_TOPIC_OR_PARTITION
 * (INVALID_TOPIC_EXCEPTION for illegal names). As Kafka: with all topics
 * asked, those auth may not DESCRIBE are left out; a named one gets
 * TOPIC_AUTHORIZATION_FAILED, as does a missing one it could auto-create
 * but may not CREATE (on the cluster or the topic). Arrays come from a.
 * The broker is described as listener `listener` advertises it (the one
 * the client connected through).
 * @return 0 or -ENOMEM.
 */
int fmq_broker_build_metadata(const struct fmq_broker *b, uint32_t listener,
			      const struct fmq_bmeta *m, int16_t version,
			      const struct fmq_kafka_metadata_req *req,
			      const struct fmq_bauth *auth,
			      struct fmq_kafka_arena *a,
			      struct fmq_kafka_metadata_resp *resp);

/** True when a Metadata request names a topic m lacks that may be
 * auto-created (legal name, auto-creation allowed by request and config,
 * DESCRIBE allowed to auth). */
bool fmq_broker_metadata_wants_create(const struct fmq_broker *b,
				      const struct fmq_bmeta *m,
				      int16_t version,
				      const struct fmq_kafka_metadata_req *req,
				      const struct fmq_bauth *auth);

/** fmq_metrics_fn for the broker (arg: the broker). */
void fmq_broker_metrics(struct fmq_metrics_out *out, void *arg);

/**
 * Control lcore (SIGHUP): read the ssl.* keys' files again into a new TLS
 * context for the connections accepted from now on, on every data lcore;
 * open sessions keep the context they started with.
 *
 * @return
 *   0 (also when no listener uses TLS), or -EINVAL with err naming the
 *   key at fault (the old context stays in use).
 */
int fmq_broker_tls_reload(struct fmq_broker *b, const struct fmq_config *cfg,
			  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_BROKER_H */
