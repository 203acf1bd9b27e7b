/* SPDX-License-Identifier: Apache-2.0 */
/* lib/cluster internals. */
#ifndef FMQ_CLUSTER_PRIV_H
#define FMQ_CLUSTER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <stdarg.h>

#include <zookeeper/zookeeper.h>

#include "fmq_cluster.h"

#define CL_PATH_MAX (FMQ_CLUSTER_CONNECT_MAX + 64)
#define CL_RETRY_MS 500
#define CL_JSON_MAX 2048
#define CL_BACKOFF_MS 200

enum cl_kind { OP_IGNORE, OP_REGISTER, OP_REG_CHECK, OP_CHILDREN, OP_BROKER,
	       OP_CTRL_EXISTS, OP_CTRL_DATA, OP_CTRL_EPOCH, OP_ELECT_EPOCH,
	       OP_EPOCH_CREATE, OP_ELECT, OP_CLUSTER_ID };

struct cl_op {
	struct fmq_cluster *cl;
	uint64_t gen;
	enum cl_kind kind;
	uint64_t round;
	int32_t id;
	int32_t epoch;
	uint64_t epoch_fresh;      /* topics list: the full re-read's */
	void *ptr;                 /* a topic read or write record */
	/* multi */
	zoo_op_t ops[2];
	zoo_op_result_t res[2];
	struct Stat st;
	char path[CL_PATH_MAX];
	char data[256];
};

struct fmq_cluster {
	struct fmq_cluster_opts o;
	char hosts[FMQ_CLUSTER_CONNECT_MAX];
	char chroot[FMQ_CLUSTER_CONNECT_MAX];
	char reg_json[CL_JSON_MAX];
	int reg_len;
	zhandle_t *zh;
	uint64_t gen;              /* session generation (handle) */
	bool expired;              /* seen in the watcher; acted on in poll */
	bool electing;
	int64_t reg_retry_ms;      /* 0: none pending */
	int64_t resync_ms;         /* 0: none pending */
	int64_t conflict_log_ms;
	int fd;
	short events;
	uint64_t next_try_ns;      /* no socket: next connect attempt */
	uint64_t sleep_us;
	/* the broker list being read */
	uint64_t round;
	uint32_t pending, nread;
	struct fmq_cluster_broker *rd;
	int32_t ctrl_epoch_zkv;
	struct fmq_cluster_view v;
	struct fmq_cluster_stats st;
	/* topics being read: names seen in the last children list */
	uint32_t topic_reads;      /* topic reads in flight */
	bool topics_listed;        /* first children list done */
	/* view.fresh: reads of the full re-read of fresh_epoch in flight */
	uint64_t fresh_epoch;
	uint32_t fresh_reads;
	bool fresh_listed;
};


void P(const struct fmq_cluster *cl, char *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct cl_op *op_new(struct fmq_cluster *cl, enum cl_kind kind);
bool op_stale(const struct cl_op *op);
bool lost(int rc);
void op_error(struct fmq_cluster *cl, const char *what, const char *path,
	      int rc);
void issued(struct fmq_cluster *cl, struct cl_op *op, const char *what,
	    int rc);
void changed(struct fmq_cluster *cl);
void cl_watcher(zhandle_t *zh, int type, int state, const char *path,
		void *ctx);
/* cluster_topics.c */
void cl_read_topics(struct fmq_cluster *cl);
void cl_topic_event(struct fmq_cluster *cl, int type, const char *path);
void cl_topics_free(struct fmq_cluster *cl);
int cl_b64_uuid(const char *s, size_t len, uint8_t id[16]);
/* cluster_config.c: topic configs; true when path was one. */
bool cl_config_event(struct fmq_cluster *cl, int type, const char *path);
/* cluster_isr.c: partition state znodes. */
void cl_state_parse(struct fmq_cluster_topic *t, uint32_t p, const char *val,
		    size_t len, int32_t version);
void cl_state_event(struct fmq_cluster *cl, const char *rel);

const char *cl_json_find(const char *j, size_t len, const char *key);
int cl_json_int(const char *p, const char *end, int64_t *v);
const char *cl_json_str(const char *p, const char *end, char *out, size_t len);
int cl_json_int_array(const char *p, const char *end, int32_t *out, int max);

#endif
