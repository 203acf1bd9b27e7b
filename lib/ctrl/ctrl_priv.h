/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ctrl internals. */
#ifndef FMQ_CTRL_PRIV_H
#define FMQ_CTRL_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "fmq_ctrl.h"

#include "fmq_kerr.h"

#ifdef FMQ_CTRL_INTERNAL

#include "fmq_acl.h"
#include "fmq_broker.h"
#include "fmq_group.h"
#include "fmq_kafka.h"
#include "fmq_log.h"

struct fmq_cluster;

#define CTRL_ARENA_BYTES (16u << 20)
#define CTRL_GROUP_ARENA_BYTES (16u << 20)
#define CTRL_FWD_BURST 64
#define CTRL_PID_BLOCK 1000
/* Longest control-loop sleep when nothing is pending (log.flush.interval.ms
 * fsyncs still happen on time: the flusher pass is what checks them). */
#define CTRL_IDLE_US 20000ull
/* Log cleaner: how often an idle cleaner looks for a dirty partition
 * (Kafka's log.cleaner.backoff.ms is 15 s). */
#define CTRL_CLEAN_IDLE_MS 1000
/* Extra wait after every data lcore moved to a new snapshot before a
 * replaced partition is closed: zero-copy fetch data still in flight
 * keeps its chunk pinned until the client acknowledged it. */
#define CTRL_CLOSE_GRACE_NS (2000ull * 1000 * 1000)

struct ctrl_gdeny;

/* Open partitions of one topic (the registry has names and owners). */
struct ctrl_topic {
	char name[FMQ_TOPIC_NAME_MAX + 1];
	uint32_t nparts;
	struct fmq_log_part **parts;
	struct ctrl_topic *next; /* hash chain */
};

/* A partition to close once no data lcore can touch it any more. */
struct ctrl_deferred {
	struct ctrl_deferred *next;
	uint64_t version;        /* snapshot version that dropped it */
	uint64_t ready_ns;       /* all lcores current since: plus grace */
	struct fmq_log_part *part;
	char topic[FMQ_TOPIC_NAME_MAX + 1];
	bool delete_files;
	/* Replication: after the close, cut the files at truncate_to (>= 0)
	 * and reopen partition (ctrl_repl_truncated). */
	int64_t truncate_to;
	uint32_t partition;
	char dir[PATH_MAX];
};

struct ctrl_stats {
#define X(field, name, help) uint64_t field;
#include "ctrl_metrics.def"
#undef X
};

struct ctrl_dyn;
struct fmq_ctrl {
	/* The effective configuration: the file's under the dynamic broker
	 * configs (ctrl_dyncfg.c, which owns both). */
	const struct fmq_config *cfg;
	struct ctrl_dyn *dyn;
	/* Refused group requests are a client's doing: info, 1 line/s. */
	struct fmq_log_rl refused_rl;
	struct fmq_broker *b;
	struct fmq_log *log;
	struct fmq_topics *topics;
	struct fmq_group *group;
	/* The current security snapshot (SASL credentials, ACLs, quotas);
	 * every published metadata snapshot takes a reference. */
	struct fmq_sec_snap *sec;
	/* authorizer.enabled (or a Kafka authorizer.class.name): the ACL
	 * part of sec is then never NULL (ctrl_acl.c). */
	bool acl_on;
	struct fmq_acl_stats acl_st;   /* decisions on the control lcore */
	unsigned int n_lcores;
	char dir[FMQ_CFG_STR_MAX + 16];    /* <log dir>/__fluxmq */
	struct ctrl_topic *hash[1024];
	struct ctrl_deferred *deferred;
	struct fmq_kafka_arena arena;
	/* Group responses are built in the coordinator's emit callback,
	 * which may run while another request is being handled: they get
	 * an arena of their own (ctrl_groups.c). */
	struct fmq_kafka_arena garena;
	/* The request being handed to the coordinator, and its decoded
	 * body: an answer emitted during that call may need the request. */
	const struct fmq_bfwd *gcur;
	const void *gcur_req;
	/* Groups the ACLs kept from the coordinator (DescribeGroups,
	 * DeleteGroups, OffsetFetch v8), per request until its answer
	 * (which may come at a later poll): the answer lists them after
	 * the coordinator's, with GROUP_AUTHORIZATION_FAILED, as Kafka
	 * does (ctrl_groups_api.c). */
	struct ctrl_gdeny *gdeny;
	const struct ctrl_gdeny *gd_cur;   /* the answer being built's */
	/* The request whose answer ctrl_groups_emit is building. */
	const struct fmq_bfwd *gemit;
	int64_t next_pid, pid_limit;
	/* In a cluster: InitProducerId requests waiting for a block. */
	struct fmq_bfwd *pid_wait[64];
	uint32_t npid_wait;
	bool pid_claiming;
	uint64_t next_flush_ns;
	bool flush_busy;
	int64_t next_retention_ms;
	int64_t next_clean_ms;
	struct ctrl_stats st;
	/* Cluster mode (ctrl_zk.c): NULL without zookeeper.connect. */
	struct fmq_cluster *cl;
	struct ctrl_zkoff *zkoff;  /* committed offsets in ZooKeeper */
	struct ctrl_zkcfg *zkcfg;  /* the AlterConfigs being handled */
	uint64_t cl_version;       /* view version last published */
	int wake_epfd;             /* broker ctrl fd + ZooKeeper socket */
	int zk_fd;
	short zk_events;
	/* topics ZooKeeper had during this run (a local topic not among
	 * them is data from before the cluster: never deleted) */
	char (*zk_seen)[FMQ_TOPIC_NAME_MAX + 1];
	uint32_t zk_nseen;
	bool zk_warned;
	/* The transaction coordinator (ctrl_txn.c). */
	struct ctrl_txns *txn;
	uint64_t zk_pass_ns;       /* last ctrl_zk_poll (lease gaps) */
	/* Replication (ctrl_repl.c): NULL until a replicated partition. */
	struct ctrl_repl *repl;
	/* Controller elections (ctrl_elect.c): NULL until first used. */
	struct ctrl_elect *elect;
	/* Partition reassignment (ctrl_reassign.c). */
	struct ctrl_reassign *reassign;
	/* WriteTxnMarkers waiting for their markers (ctrl_txnmark.c). */
	struct ctrl_txnmark *txnmark;
};

/* ctrl_dyncfg.c: dynamic broker configs. open makes c->cfg the
 * effective configuration; alter applies ops to the cluster default
 * (name "") or this broker's layer (its id), replace: AlterConfigs' full
 * replacement; 0, a Kafka error with msg, or -1 out of memory. */
int ctrl_dyn_open(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_dyn_free(struct fmq_ctrl *c);
int16_t ctrl_dyn_alter(struct fmq_ctrl *c, const char *name,
		       const struct fmq_alter *ops, size_t nops, bool replace,
		       bool validate_only, bool *changed, char *msg,
		       size_t msglen);
/* Kafka lets name change at run time (and FluxMQ has it). */
bool ctrl_dyn_key(const char *name);
/* Its value in a layer (0 cluster default, 1 this broker), or NULL. */
const char *ctrl_dyn_get(const struct fmq_ctrl *c, int scope,
			 const char *name);
/* The configuration file's values. */
const struct fmq_config *ctrl_dyn_static(const struct fmq_ctrl *c);
/* The dynamic broker key a topic key defaults to, or NULL. */
const char *ctrl_dyn_synonym(const char *topic_key);

/* Strings between the Kafka codecs and lib/ctrl/group (which knows nothing
 * of the wire): Kafka -> group, and group -> a Kafka response field. */
static inline struct fmq_group_str
gstr(struct fmq_kafka_str s)
{
	return (struct fmq_group_str){ .ptr = s.p, .len = s.len < 0 ? -1 :
				       s.len };
}

static inline struct fmq_group_bytes
gbytes(struct fmq_kafka_bytes b)
{
	return (struct fmq_group_bytes){ .ptr = b.p, .len = b.len < 0 ? -1 :
					 b.len };
}

/* A nullable response field. */
static inline struct fmq_kafka_str
gkstr(struct fmq_group_str s)
{
	if (s.len < 0)
		return FMQ_KAFKA_STR_NULL;
	return (struct fmq_kafka_str){ s.len > 0 ? s.ptr : "", s.len };
}

/* A response field the version does not allow to be null: null is "". */
static inline struct fmq_kafka_str
gkstr_nn(struct fmq_group_str s)
{
	if (s.len <= 0)
		return FMQ_KAFKA_STR_LIT("");
	return (struct fmq_kafka_str){ s.ptr, s.len };
}


/* ctrl_core.c */
struct ctrl_topic *ctrl_topic_find(struct fmq_ctrl *c, const char *name);
/* Open partition p of an open topic if it is closed. */
int ctrl_open_one(struct fmq_ctrl *c, const struct fmq_topic *t, uint32_t p);
/* Close partition p of topic once no lcore holds it, cut its files at
 * offset and reopen it (replication). */
void ctrl_defer_truncate(struct fmq_ctrl *c, const char *topic, uint32_t p,
			 int64_t offset);
/* ctrl_repl.c: replication on the control lcore. */
struct fmq_brepl;
struct fmq_brepl *ctrl_repl_get(struct fmq_ctrl *c, const char *topic,
				uint32_t p, const int32_t *replicas,
				uint16_t n, const char *dir);
bool ctrl_repl_truncating(struct fmq_ctrl *c, const char *topic, uint32_t p);
void ctrl_repl_truncated(struct fmq_ctrl *c, const char *topic, uint32_t p,
			 const char *dir, int64_t to);
void ctrl_repl_request_truncate(struct fmq_ctrl *c, struct fmq_brepl *r);
uint64_t ctrl_repl_poll(struct fmq_ctrl *c, uint64_t now_ns);
void ctrl_repl_free(struct fmq_ctrl *c);
void ctrl_repl_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out);
uint64_t ctrl_repl_elections(const struct fmq_ctrl *c);
/* ctrl_elect.c: ElectLeaders, the automatic preferred-leader rebalance
 * (controller) and the election metrics. */
void ctrl_elect_leaders(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
uint64_t ctrl_elect_poll(struct fmq_ctrl *c, uint64_t now_ns);
void ctrl_elect_free(struct fmq_ctrl *c);
void ctrl_elect_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out);
/* ctrl_reassign.c: AlterPartitionReassignments and
 * ListPartitionReassignments, the controller's progress, every broker's
 * opening and dropping of the partitions moved to and from it. */
void ctrl_alter_reassignments(struct fmq_ctrl *c, struct fmq_bfwd *f,
			      void *req);
void ctrl_list_reassignments(struct fmq_ctrl *c, struct fmq_bfwd *f,
			     void *req);
void ctrl_reassign_poll(struct fmq_ctrl *c);
int ctrl_reassign_sync(struct fmq_ctrl *c);
void ctrl_reassign_free(struct fmq_ctrl *c);
void ctrl_reassign_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out);
/* ctrl_core.c: close one partition (its files deleted) once no data
 * lcore holds it. */
void ctrl_drop_part(struct fmq_ctrl *c, const char *topic, uint32_t p,
		    bool delete_files);
int ctrl_open_topic(struct fmq_ctrl *c, const struct fmq_topic *t,
		    uint32_t first_part);
void ctrl_drop_topic(struct fmq_ctrl *c, const char *name, bool delete_files);
int ctrl_publish(struct fmq_ctrl *c);
/* Make s (its reference is taken over) the current security snapshot and
 * republish the metadata so the data lcores see it. */
int ctrl_sec_publish(struct fmq_ctrl *c, struct fmq_sec_snap *s);
int ctrl_respond(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *body);
void ctrl_close_conn(struct fmq_ctrl *c, struct fmq_bfwd *f);
int64_t ctrl_alloc_pid(struct fmq_ctrl *c);

/* ctrl_zk.c: the cluster (zookeeper.connect). open: 0 also without it;
 * poll returns the sleep bound (UINT64_MAX: none); fill puts the live
 * brokers and the controller into a snapshot being built. */
int ctrl_zk_open(struct fmq_ctrl *c, char *err, size_t errlen);
/* meta.properties in the first log dir with this cluster id. */
int ctrl_write_meta(const struct fmq_config *cfg, const char *id, char *err,
		    size_t errlen);
void ctrl_zk_close(struct fmq_ctrl *c);
uint64_t ctrl_zk_poll(struct fmq_ctrl *c);
int ctrl_zk_fill(struct fmq_ctrl *c, struct fmq_bmeta *m);
int ctrl_zk_parts(struct fmq_ctrl *c, struct fmq_bmeta *m);
int ctrl_zk_sync(struct fmq_ctrl *c, bool open);
bool ctrl_zk_hosted(struct fmq_ctrl *c, const char *topic, uint32_t p);
/* InitProducerId (a new id) in a cluster: answered now or once a block of
 * ids is claimed from ZooKeeper. */
void ctrl_zk_init_pid(struct fmq_ctrl *c, struct fmq_bfwd *f);
/* Metadata's auto-creation in a cluster: the topic goes to ZooKeeper
 * (num.partitions over the live brokers), as Kafka's brokers do; every
 * broker opens it when its watch fires. 0 when the write is issued. */
int ctrl_zk_auto_create(struct fmq_ctrl *c, const char *name);
/* The broker coordinating group key (its endpoint for listener l in host
 * and port, which stay valid until the next ctrl_zk_poll); this broker
 * without a cluster; -1 when no broker is live. */
int32_t ctrl_zk_coordinator(struct fmq_ctrl *c, const char *key, int32_t len,
			    const struct fmq_listener *l,
			    struct fmq_kafka_str *host, int32_t *port);
/* ctrl_zkcfg.c: topic configs through ZooKeeper. */
struct ctrl_zkcfg *ctrl_zkcfg_begin(struct fmq_ctrl *c, struct fmq_bfwd *f,
				    int32_t n);
void ctrl_zkcfg_at(struct fmq_ctrl *c, int32_t i);
bool ctrl_zkcfg_end(struct fmq_ctrl *c, const void *resp, bool close);
int16_t ctrl_topic_alter(struct fmq_ctrl *c, const char *name,
			 const struct fmq_alter *ops, size_t nops,
			 bool validate_only, char *msg, size_t msglen);
int ctrl_zkcfg_sync(struct fmq_ctrl *c, const char *name, const char *zjson);
void ctrl_zk_create_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_zk_delete_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_zk_create_partitions(struct fmq_ctrl *c, struct fmq_bfwd *f,
			       void *req);

/* ctrl_admin.c: topic admin, configs, producer ids, auto-create. Each
 * takes the decoded request and answers f (or closes it). */
void ctrl_metadata(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_create_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_delete_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_create_partitions(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_describe_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_alter_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_legacy_alter_configs(struct fmq_ctrl *c, struct fmq_bfwd *f,
			       void *req);
void ctrl_init_producer_id(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);

/* ctrl_txn.c: the transaction coordinator. handle: the transactional
 * APIs (false: not one of them); marker_done: a marker's answer from its
 * owner lcore. */
int ctrl_txn_open(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_txn_close(struct fmq_ctrl *c);
void ctrl_txn_poll(struct fmq_ctrl *c, int64_t now_ms);
void ctrl_txn_init_pid(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
bool ctrl_txn_handle(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_txn_marker_done(struct fmq_ctrl *c, struct fmq_bfwd *f);
void ctrl_txn_metrics(struct fmq_metrics_out *out, const struct fmq_ctrl *c);
const char *ctrl_txn_state_name(int s);
/* ctrl_txnmark.c: WriteTxnMarkers on the partition leader. done: true
 * when f's marker was one of its own (then consumed). */
void ctrl_txnmark_handle(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
bool ctrl_txnmark_done(struct fmq_ctrl *c, struct fmq_bfwd *f);
void ctrl_txnmark_poll(struct fmq_ctrl *c, int64_t now_ms);
bool ctrl_txnmark_waiting(const struct fmq_ctrl *c);
void ctrl_txnmark_close(struct fmq_ctrl *c);

/* ctrl_logs.c: DeleteRecords, DescribeLogDirs. */
void ctrl_delete_records(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_describe_log_dirs(struct fmq_ctrl *c, struct fmq_bfwd *f,
			    void *req);
/* ctrl_quota.c: client quotas (APIs 48 and 49) and their file. */
int ctrl_quota_load(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_describe_client_quotas(struct fmq_ctrl *c, struct fmq_bfwd *f,
				 void *req);
void ctrl_alter_client_quotas(struct fmq_ctrl *c, struct fmq_bfwd *f,
			      void *req);
void ctrl_quota_metrics(struct fmq_metrics_out *out, const struct fmq_ctrl *c);
/* ctrl_scram.c: the SCRAM store, APIs 50 and 51. */
int ctrl_scram_open(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_describe_scram(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_alter_scram(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
/* ctrl_admin.c: a NUL-terminated copy of a Kafka string in the arena ("" for
 * null); NULL when the arena is full. */
char *ctrl_cstr(struct fmq_ctrl *c, struct fmq_kafka_str s);
/* ctrl_acl.c: the authorizer's settings and ACL file (loaded before the
 * first publish), the ACL APIs, and the checks the other handlers make
 * with the request's principal and client address. */
int ctrl_acl_open(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_describe_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_create_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
void ctrl_delete_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req);
bool ctrl_acl_allow(struct fmq_ctrl *c, const struct fmq_bfwd *f,
		    enum fmq_acl_res res, const char *name, size_t len,
		    enum fmq_acl_op op);
bool ctrl_acl_cluster(struct fmq_ctrl *c, const struct fmq_bfwd *f,
		      enum fmq_acl_op op);
/* Authorized operations bit field (all supported ones with no authorizer). */
int32_t ctrl_acl_ops(struct fmq_ctrl *c, const struct fmq_bfwd *f,
		     enum fmq_acl_res res, const char *name, size_t len);
size_t ctrl_acl_count(const struct fmq_ctrl *c);
#define CTRL_ACL_TOPIC(c, f, name, op) \
	ctrl_acl_allow((c), (f), FMQ_ACL_RES_TOPIC, (name), strlen(name), \
		       FMQ_ACL_OP_##op)

/* ctrl_groups.c: the group APIs on the coordinator. */
int ctrl_groups_open(struct fmq_ctrl *c, char *err, size_t errlen);
void ctrl_groups_close(struct fmq_ctrl *c);
/* true when api is a group API (then f is answered, now or later) */
bool ctrl_groups_handle(struct fmq_ctrl *c, struct fmq_bfwd *f,
			const struct fmq_kafka_req_hdr *hdr, void *req);
void ctrl_groups_poll(struct fmq_ctrl *c, int64_t now_ms);
void ctrl_groups_topic_deleted(struct fmq_ctrl *c, const char *name);
/* ctrl_zkoff.c: committed offsets in ZooKeeper (cluster mode). open:
 * the coordinator's store (NULL without a cluster); gate: 0 when group
 * id may be served here now, else COORDINATOR_LOAD_IN_PROGRESS (its
 * offsets are being read; started by this call) or
 * COORDINATOR_NOT_AVAILABLE. */
const struct fmq_group_store *ctrl_zkoff_open(struct fmq_ctrl *c,
					      void **arg);
int16_t ctrl_zkoff_gate(struct fmq_ctrl *c, const char *id, int32_t len);
void ctrl_zkoff_poll(struct fmq_ctrl *c);
/* close: the first call (before the coordinator's shutdown) answers
 * and refuses, the second (after its destroy) frees. */
void ctrl_zkoff_close(struct fmq_ctrl *c);
void ctrl_zkoff_metrics(struct fmq_metrics_out *out, struct fmq_ctrl *c);
/* ctrl_groups_api.c: the coordinator's emit callback (arg: the ctrl). */
void ctrl_groups_forget_denied(struct fmq_ctrl *c);
void ctrl_groups_emit(void *arg, uint64_t token,
		      const struct fmq_group_resp *resp);
/* ctrl_consumer_api.c: the consumer group protocol (KIP-848). */
int ctrl_consumer_topic(void *arg, const char *name, uint8_t id[16],
			uint32_t *nparts);
const char *ctrl_consumer_topic_at(void *arg, size_t i);
uint64_t ctrl_consumer_topics_version(void *arg);
void ctrl_consumer_heartbeat(struct fmq_ctrl *c, struct fmq_bfwd *f,
	const struct fmq_kafka_req_hdr *hdr,
	const struct fmq_kafka_consumer_group_heartbeat_req *req);
void ctrl_consumer_describe(struct fmq_ctrl *c, struct fmq_bfwd *f,
	const struct fmq_kafka_consumer_group_describe_req *req);

#endif /* FMQ_CTRL_INTERNAL */

#endif
