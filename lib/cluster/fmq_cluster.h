/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * A FluxMQ cluster through ZooKeeper, with Kafka's znodes and JSON (so
 * zkCli and Kafka's tools read them): membership (an ephemeral
 * /brokers/ids/<id>), the live broker list (a watch on /brokers/ids) and
 * the admin controller (/controller fenced by /controller_epoch).
 *
 * It runs on the control lcore with libzookeeper_st, the C client without
 * threads: fmq_cluster_poll() drives its I/O, and the caller sleeps on
 * fmq_cluster_fd() between passes. Completions and watches run inside
 * fmq_cluster_poll(). Nothing here blocks except fmq_cluster_free()
 * (zookeeper_close flushes). Every path is under the chroot of
 * zookeeper.connect, which is created if missing.
 *
 * The C client's pitfalls it handles: watches fire once and are re-armed
 * by every read they trigger; a connection loss keeps the session (the
 * client reconnects, and every read and the registration are redone,
 * since a lost request's outcome is unknown); a session expiry is only
 * learnt on reconnecting and needs a new handle, a new registration and a
 * fresh read of everything; a broker restarted while its old session is
 * still alive finds its id taken and retries until that session expires.
 */
#ifndef FMQ_CLUSTER_H
#define FMQ_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FMQ_CLUSTER_MAX_BROKERS 256
#define FMQ_CLUSTER_MAX_EP 8
#define FMQ_CLUSTER_HOST_MAX 64
#define FMQ_CLUSTER_RACK_MAX 64
#define FMQ_CLUSTER_CONNECT_MAX 256

/** One endpoint of a broker: Kafka's "NAME://host:port". */
struct fmq_cluster_ep {
	char name[32];      /**< listener name, e.g. PLAINTEXT */
	char proto[16];     /**< security protocol, e.g. PLAINTEXT */
	char host[FMQ_CLUSTER_HOST_MAX];
	uint16_t port;
};

/** A live broker as registered in /brokers/ids/<id>. */
struct fmq_cluster_broker {
	int32_t id;
	char rack[FMQ_CLUSTER_RACK_MAX];    /**< "" when none */
	int64_t epoch;                      /**< czxid of its registration */
	uint32_t nep;
	struct fmq_cluster_ep ep[FMQ_CLUSTER_MAX_EP];
};

/** What this broker registers and how it connects. */
struct fmq_cluster_opts {
	const char *connect;          /**< zookeeper.connect */
	int32_t node_id;
	uint32_t session_timeout_ms;
	const char *rack;             /**< broker.rack, "" none */
	/** This broker's cluster id (meta.properties): /cluster/id gets it
	 * when the cluster has none yet. */
	char cluster_id[32];
	uint32_t nep;
	struct fmq_cluster_ep ep[FMQ_CLUSTER_MAX_EP];
};

/** Session states for /metrics (fluxmq_zk_session_state). */
enum fmq_cluster_sess {
	FMQ_CLUSTER_SESS_CONNECTING = 0,  /**< no session yet, or reconnecting */
	FMQ_CLUSTER_SESS_CONNECTED = 1,
	FMQ_CLUSTER_SESS_EXPIRED = 2,     /**< expired, a new one is opening */
};

#define FMQ_CLUSTER_TOPIC_MAX 249
#define FMQ_CLUSTER_MAX_RF 16

/** A topic as ZooKeeper has it: /brokers/topics/<name>, its partitions'
 * state znodes and /config/topics/<name>. */
struct fmq_cluster_topic {
	char name[FMQ_CLUSTER_TOPIC_MAX + 1];
	uint8_t id[16];            /**< topic_id (zero when Kafka wrote none) */
	uint32_t nparts;
	uint16_t rf;               /**< replicas per partition (the largest) */
	int32_t *replicas;         /**< nparts * rf, -1 padded */
	int32_t *leader;           /**< per partition, from its state */
	int32_t *leader_epoch;
	/** Per partition, from its state znode: the ISR (rf entries, -1
	 * padded) and the znode's version (the "partition epoch" that a
	 * compare-and-set checks; -1 unread). */
	int32_t *isr;
	int32_t *state_version;
	int32_t zk_version;        /**< of /brokers/topics/<name> */
	char *config;              /**< /config/topics JSON, or NULL */
	/** A reassignment under way (Kafka's "adding_replicas" and
	 * "removing_replicas" of the topic znode): per partition rf
	 * entries, -1 padded (all -1: none). */
	int32_t *adding;
	int32_t *removing;
};

/** The cluster as this broker sees it (control lcore; read-only). */
struct fmq_cluster_view {
	uint64_t version;              /**< bumped by every change below */
	uint32_t nbrokers;
	struct fmq_cluster_broker brokers[FMQ_CLUSTER_MAX_BROKERS]; /**< by id */
	int32_t controller_id;         /**< -1: none known */
	int32_t controller_epoch;      /**< -1: unknown */
	bool is_controller;            /**< this broker holds /controller */
	bool registered;               /**< /brokers/ids/<self> is ours */
	int64_t broker_epoch;          /**< czxid of our registration */
	int sess;                      /**< enum fmq_cluster_sess */
	int64_t session_id;
	int32_t session_timeout_ms;    /**< as negotiated; 0 before */
	/** Topics by name; topics_synced once the first full read is done
	 * (before, an absent topic may simply not be read yet). */
	uint32_t ntopics;
	struct fmq_cluster_topic *topics;
	bool topics_synced;
	/** Every topic and partition state read again since the session
	 * was last (re)connected: current enough to lead on (a broker back
	 * from a pause must not act on what it knew before). */
	bool fresh;
	/** /cluster/id (Kafka's {"version":"1","id":..}), once read or
	 * created: every broker of the cluster gives clients this one. */
	char cluster_id[32];
	bool cluster_id_known;
	/** When something last arrived from ZooKeeper on the session's
	 * connection (fmq_now_ns(); 0: never): the lease counts from it. */
	uint64_t heard_ns;
};

struct fmq_cluster_stats {
	uint64_t sessions;           /**< sessions established */
	uint64_t expirations;        /**< sessions found expired */
	uint64_t connection_losses;  /**< connected -> disconnected */
	uint64_t watch_events;
	uint64_t registrations;
	uint64_t registration_conflicts; /**< id held by another session */
	uint64_t elections_won;
	uint64_t op_errors;          /**< completions with an unexpected error */
	uint64_t pid_blocks;         /**< producer id blocks claimed */
	uint64_t topic_config_writes;  /**< /config/topics written here */
	uint64_t topic_config_updates; /**< topic configs changed in the view */
};

/**
 * Split zookeeper.connect into the host list ("ip:port,ip:port") and the
 * chroot ("" or "/a/b", no trailing slash). Host names are resolved here
 * (IPv4), once: the client is given numeric addresses only and never
 * looks names up on the control lcore.
 * @return 0, or -1 with msg filled.
 */
int fmq_cluster_parse_connect(const char *s, char *hosts, size_t hlen,
			      char *chroot, size_t clen, char *msg,
			      size_t msglen);

struct fmq_cluster;

/** Start connecting (returns at once). NULL with err filled on failure. */
struct fmq_cluster *fmq_cluster_create(const struct fmq_cluster_opts *o,
				       char *err, size_t errlen);
/** Close the session (its ephemeral znodes go at once) and free. */
void fmq_cluster_free(struct fmq_cluster *cl);

/**
 * One pass: I/O that is ready, completions, watches, retries, a new
 * session after an expiry. Never blocks.
 * @return the longest the caller may sleep (microseconds) before the next
 *   pass unless fmq_cluster_fd() becomes ready.
 */
uint64_t fmq_cluster_poll(struct fmq_cluster *cl);

/**
 * The client's socket and the poll events it waits for (POLLIN/POLLOUT),
 * as of the last pass; -1 while it has none. It changes on reconnects.
 */
int fmq_cluster_fd(const struct fmq_cluster *cl, short *events);

const struct fmq_cluster_view *fmq_cluster_view(const struct fmq_cluster *cl);
const struct fmq_cluster_stats *fmq_cluster_stats(const struct fmq_cluster *cl);
/** The live broker id, or NULL. */
const struct fmq_cluster_broker *
fmq_cluster_broker(const struct fmq_cluster_view *v, int32_t id);

/** fmq_metrics_fn (arg: the cluster). */
void fmq_cluster_metrics(struct fmq_metrics_out *out, void *arg);

/** A topic of the view by name, or NULL. */
const struct fmq_cluster_topic *
fmq_cluster_topic(const struct fmq_cluster_view *v, const char *name);

/**
 * Completion of a write: 0, or a Kafka error code (TOPIC_ALREADY_EXISTS,
 * UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER when the controller epoch
 * moved, REQUEST_TIMED_OUT when ZooKeeper did not answer: the outcome
 * is unknown, the next read shows it).
 */
typedef void (*fmq_cluster_done_fn)(void *arg, int16_t kerr);

/**
 * Create a topic in one multi: /brokers/topics/<name> (Kafka's JSON v2
 * with topic_id), each partition's state znode (leader the first
 * replica, ISR all replicas, epoch 0), /config/topics/<name> (config:
 * a JSON object of strings, "" none). As controller (fenced) the multi
 * checks /controller_epoch's version. replicas: nparts * rf.
 * @return 0 (done is called later) or a Kafka error code now.
 */
int16_t fmq_cluster_create_topic(struct fmq_cluster *cl, const char *name,
				 const uint8_t id[16], uint32_t nparts,
				 uint16_t rf, const int32_t *replicas,
				 const char *config, fmq_cluster_done_fn done,
				 void *arg);
/** Delete a topic's znodes (states, partitions, topic, config) at once. */
int16_t fmq_cluster_delete_topic(struct fmq_cluster *cl, const char *name,
				 fmq_cluster_done_fn done, void *arg);
/** Grow a topic to total partitions; replicas of the new ones
 * ((total - nparts) * rf). The topic znode is set at the version read. */
int16_t fmq_cluster_add_partitions(struct fmq_cluster *cl, const char *name,
				   uint32_t total, const int32_t *replicas,
				   fmq_cluster_done_fn done, void *arg);

/**
 * Rewrite a topic's assignment (a reassignment: Kafka's "partitions",
 * "adding_replicas" and "removing_replicas"; each nparts * rf, -1
 * padded; adding/removing all -1 for a partition: none) at the topic
 * znode's version read, fenced as controller. BADVERSION (the topic
 * changed meanwhile) completes with NOT_CONTROLLER's code too: read
 * again and retry.
 * @return 0 (done is called later) or a Kafka error code now.
 */
int16_t fmq_cluster_set_assignment(struct fmq_cluster *cl, const char *name,
				   uint16_t rf, const int32_t *replicas,
				   const int32_t *adding,
				   const int32_t *removing,
				   fmq_cluster_done_fn done, void *arg);

/**
 * Replace a topic's configs in ZooKeeper, as Kafka's AlterConfigs does
 * in ZooKeeper mode: /config/topics/<name> set to {"version":1,
 * "config":<config>} (config: a JSON object of strings, "" none) and a
 * sequential /config/changes/config_change_ notification, in one multi.
 * Every broker (this one at once on success) sees the new configs in
 * its view (fmq_cluster_topic()->config) through a data watch.
 * @return 0 (done is called later: 0, UNKNOWN_TOPIC_OR_PARTITION, or
 *   REQUEST_TIMED_OUT when the outcome is unknown) or an error now.
 */
int16_t fmq_cluster_set_topic_config(struct fmq_cluster *cl,
				     const char *name, const char *config,
				     fmq_cluster_done_fn done, void *arg);

/** Completion of a producer id claim: 0 with the block [start, end], or
 * a Kafka error (COORDINATOR_NOT_AVAILABLE: no session or the connection
 * was lost, the outcome unknown; ask again). */
typedef void (*fmq_cluster_pid_fn)(void *arg, int16_t kerr, int64_t start,
				   int64_t end);

/**
 * Claim the next size producer ids of the cluster from
 * /latest_producer_id_block (Kafka's JSON, compare-and-set). No id of a
 * claimed block is ever claimed again, by any broker.
 * @return 0 (done is called later) or a Kafka error code now.
 */
int16_t fmq_cluster_claim_pids(struct fmq_cluster *cl, int64_t size,
			       fmq_cluster_pid_fn done, void *arg);

/**
 * Completion of fmq_cluster_set_state: 0 (written, version is the
 * znode's new version), 1 (BADVERSION: someone else changed it first;
 * the watch brings the new state), -1 (no session, connection lost: the
 * outcome is unknown, the watch tells).
 */
typedef void (*fmq_cluster_state_fn)(void *arg, int rc, int32_t version);

/**
 * Compare-and-set a partition's state znode
 * (/brokers/topics/<t>/partitions/<p>/state, Kafka's JSON version 1) to
 * leader, leader_epoch and isr at the znode version read (the partition
 * epoch). Exactly one of concurrent writers at one version wins. The
 * view is updated at once on success (the watch confirms it).
 * @return 0 (done is called later) or -1 (no session, unknown topic).
 */
int fmq_cluster_set_state(struct fmq_cluster *cl, const char *topic,
			  uint32_t p, int32_t leader, int32_t leader_epoch,
			  const int32_t *isr, uint32_t nisr, int32_t version,
			  fmq_cluster_state_fn done, void *arg);

/** True when the broker id is live (registered) in the view. */
bool fmq_cluster_live(const struct fmq_cluster_view *v, int32_t id);

/* ------------------------------------------------ committed offsets */

/**
 * A committed offset in ZooKeeper, at Kafka's pre-0.9 place
 * /consumers/<group>/offsets/<topic>/<partition>; the znode's data is the
 * offset in decimal, as Kafka's old tools read it.
 */
struct fmq_cluster_off {
	const char *topic;
	int32_t partition;
	int64_t offset;
	/** Load: the znode's version. Write: the version the writer last
	 * saw (-1: none, create it); on success, its new version (-1 after
	 * a delete). */
	int32_t version;
	bool del;                  /**< write: delete the znode */
	int64_t mtime;             /**< load: ZooKeeper's last write, ms */
};

/** The path of a group's offsets znode relative to the chroot: topic
 * NULL the group's offsets directory, partition < 0 a topic's. Bytes
 * ZooKeeper refuses in a name ('/', controls, 0x7f and above), '%', and
 * the names "." and ".." are escaped as %XX. Length, or -1. */
int fmq_cluster_offset_path(const char *group, const char *topic,
			    int32_t partition, char *out, size_t len);
/** The znode's data: the offset in decimal. Length, or -1. */
int fmq_cluster_offset_format(int64_t offset, char *out, size_t len);
/** Parse a znode's data (a decimal, optionally negative). 0 or -1. */
int fmq_cluster_offset_parse(const char *val, int len, int64_t *offset);
/** Group commit: merge operations on the same znode (the last one wins,
 * in the first one's slot). Returns the new count. */
uint32_t fmq_cluster_offsets_coalesce(struct fmq_cluster_off *ops,
				      uint32_t n);

/** Load completion: rc 0 with the group's offsets (valid during the
 * call) and the version of its offsets directory (-1: none yet), or -1
 * (no session, connection lost: try again). */
typedef void (*fmq_cluster_offload_fn)(void *arg, int rc,
				       const struct fmq_cluster_off *offs,
				       uint32_t n, int32_t gver);
/** Read every committed offset of group. 0 (done later) or -1. */
int fmq_cluster_offsets_load(struct fmq_cluster *cl, const char *group,
			     fmq_cluster_offload_fn done, void *arg);

/** Write completion: 0 (every op applied, versions updated), 1 (another
 * writer changed a znode first: nothing applied), -1 (no session or the
 * connection was lost: the outcome is unknown). */
typedef void (*fmq_cluster_offw_fn)(void *arg, int rc);
/**
 * Apply ops (distinct znodes) to group's offsets in one multi, each at
 * its version (create / setData / delete), with the group's offsets
 * directory set at *gver (the fencing epoch: every write moves it, so a
 * writer that missed one is refused). n 0 is a claim: a new coordinator
 * moves the directory (creating it when *gver is -1) at the version its
 * load read, and fails if anyone wrote since. ops and gver stay the
 * caller's and must live until done, which updates them.
 * @return 0 (done is called later) or -1 (nothing was sent).
 */
int fmq_cluster_offsets_write(struct fmq_cluster *cl, const char *group,
			      int32_t *gver, struct fmq_cluster_off *ops,
			      uint32_t n, fmq_cluster_offw_fn done,
			      void *arg);

/* ------------------------------------------------------------ JSON */

/**
 * Kafka's broker registration, JSON version 5: host and port of the
 * PLAINTEXT endpoint (null and -1 without one), jmx_port -1, timestamp,
 * endpoints, listener_security_protocol_map, rack (left out when empty),
 * features {}.
 * @return the length written, or -1 if it does not fit.
 */
int fmq_cluster_broker_json(const struct fmq_cluster_opts *o, int64_t now_ms,
			    char *out, size_t len);
/** Parse a registration (versions 1 to 5). 0, or -1 when malformed. */
int fmq_cluster_broker_parse(const char *json, size_t len,
			     struct fmq_cluster_broker *b);

/** One topic config of /config/topics/<name>. */
struct fmq_cluster_kv {
	char key[128];
	char val[256];
};

/** The "config" object of a /config/topics JSON: up to max pairs;
 * returns their number (-1 when malformed). */
int fmq_cluster_config_parse(const char *json, struct fmq_cluster_kv *kv,
			     int max);

/* ------------------------------------------------------ assignment */

/**
 * Kafka's replica assignment for new partitions (AdminUtils
 * assignReplicasToBrokers): brokers (ids, racks) in any order; racks are
 * used when every broker has one. Partitions first_part..first_part+n-1
 * get rf replicas each, out[(p - first_part) * rf + r]. start_index and
 * shift are Kafka's random starting points (-1: random).
 * @return 0, or -1 when rf exceeds the number of brokers (or is < 1).
 */
int fmq_cluster_assign(const int32_t *ids, const char *const *racks,
		       uint32_t nbrokers, uint32_t nparts, uint32_t rf,
		       uint32_t first_part, int start_index, int shift,
		       int32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_CLUSTER_H */
