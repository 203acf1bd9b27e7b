/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Producer id blocks from /latest_producer_id_block, as Kafka's ZooKeeper
 * ProducerIdManager: read the last block handed out ({"version":1,
 * "broker":N,"block_start":"S","block_end":"E"}), then write the next one
 * (E+1 ..) at the version read; a BADVERSION (another broker claimed
 * meanwhile) reads again. The znode only grows, so no id is handed out
 * twice anywhere in the cluster; a claim whose answer was lost with the
 * connection may waste a block, never reuse one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "cluster_priv.h"
#include "fmq_kerr.h"

#define PID_RETRIES 20

struct pid_claim {
	struct fmq_cluster *cl;
	uint64_t gen;
	int64_t size;
	int64_t start;
	int tries;
	fmq_cluster_pid_fn done;
	void *arg;
	char path[CL_PATH_MAX];
	char data[192];
};

static void pid_read(struct pid_claim *pc);

static void
pid_finish(struct pid_claim *pc, int16_t kerr)
{
	pc->done(pc->arg, kerr, kerr == 0 ? pc->start : -1,
		 kerr == 0 ? pc->start + pc->size - 1 : -1);
	free(pc);
}

static bool
pid_stale(struct pid_claim *pc)
{
	return pc->cl->zh == NULL || pc->gen != pc->cl->gen;
}

static void
pid_retry(struct pid_claim *pc, int rc)
{
	if (lost(rc) || pid_stale(pc)) {
		pid_finish(pc, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	if (++pc->tries > PID_RETRIES) {
		FMQ_WARN("zk", "%s: gave up after %d tries (%s)", pc->path,
			 pc->tries, zerror(rc));
		pid_finish(pc, FMQ_KERR_REQUEST_TIMED_OUT);
		return;
	}
	pid_read(pc);
}

static int
pid_json(struct pid_claim *pc)
{
	return snprintf(pc->data, sizeof(pc->data), "{\"version\":1,"
			"\"broker\":%d,\"block_start\":\"%" PRId64 "\","
			"\"block_end\":\"%" PRId64 "\"}", pc->cl->o.node_id,
			pc->start, pc->start + pc->size - 1);
}

static void
cb_pid_written(int rc, const struct Stat *st, const void *data)
{
	struct pid_claim *pc = (struct pid_claim *)(uintptr_t)data;

	(void)st;
	if (rc == ZOK && !pid_stale(pc)) {
		pc->cl->st.pid_blocks++;
		pid_finish(pc, 0);
		return;
	}
	pid_retry(pc, rc == ZOK ? ZCLOSING : rc);
}

static void
cb_pid_created(int rc, const char *name, const void *data)
{
	struct pid_claim *pc = (struct pid_claim *)(uintptr_t)data;

	(void)name;
	if (rc == ZOK && !pid_stale(pc)) {
		pc->cl->st.pid_blocks++;
		pid_finish(pc, 0);
		return;
	}
	pid_retry(pc, rc == ZOK ? ZCLOSING : rc);
}

/* block_end as Kafka writes it (a string) or as a number. */
static int
pid_end(const char *val, int len, int64_t *end)
{
	const char *p = cl_json_find(val, (size_t)len, "block_end");
	char buf[32];
	char *e;

	if (p == NULL)
		return -1;
	if (*p != '"')
		return cl_json_int(p, val + len, end);
	if (cl_json_str(p, val + len, buf, sizeof(buf)) == NULL)
		return -1;
	errno = 0;
	*end = strtoll(buf, &e, 10);
	return errno != 0 || e == buf || *e != '\0' ? -1 : 0;
}

static void
cb_pid_read(int rc, const char *val, int len, const struct Stat *st,
	    const void *data)
{
	struct pid_claim *pc = (struct pid_claim *)(uintptr_t)data;
	struct fmq_cluster *cl = pc->cl;
	int64_t end;
	int n;

	if (pid_stale(pc)) {
		pid_finish(pc, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	if (rc == ZNONODE) {
		pc->start = 0;
		n = pid_json(pc);
		rc = zoo_acreate(cl->zh, pc->path, pc->data, n,
				 &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				 cb_pid_created, pc);
		if (rc != ZOK)
			pid_retry(pc, rc);
		return;
	}
	if (rc != ZOK || val == NULL) {
		pid_retry(pc, rc == ZOK ? ZAPIERROR : rc);
		return;
	}
	if (pid_end(val, len, &end) < 0 || end < -1 ||
	    end > INT64_MAX - pc->size - 1) {
		FMQ_ERR("zk", "%s: unreadable or exhausted block (%.*s)",
			pc->path, len, val);
		cl->st.op_errors++;
		pid_finish(pc, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	pc->start = end + 1;
	n = pid_json(pc);
	rc = zoo_aset(cl->zh, pc->path, pc->data, n, st->version,
		      cb_pid_written, pc);
	if (rc != ZOK)
		pid_retry(pc, rc);
}

static void
pid_read(struct pid_claim *pc)
{
	int rc = zoo_aget(pc->cl->zh, pc->path, 0, cb_pid_read, pc);

	if (rc != ZOK)
		pid_retry(pc, rc);
}

int16_t
fmq_cluster_claim_pids(struct fmq_cluster *cl, int64_t size,
		       fmq_cluster_pid_fn done, void *arg)
{
	struct pid_claim *pc;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	if (size < 1)
		return FMQ_KERR_REQUEST_TIMED_OUT;
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	pc->cl = cl;
	pc->gen = cl->gen;
	pc->size = size;
	pc->done = done;
	pc->arg = arg;
	P(cl, pc->path, "/latest_producer_id_block");
	pid_read(pc);
	return 0;
}
