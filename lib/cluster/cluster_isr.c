/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Partition state znodes (/brokers/topics/<t>/partitions/<p>/state):
 * Kafka's {"controller_epoch","leader","version":1,"leader_epoch","isr"}.
 * Every broker watches them (leaders and ISRs change there); the leader
 * changes its ISR, and a replica taking over a dead leader's partition
 * writes itself as leader, each by compare-and-set at the znode version
 * read (Kafka 2.6's ReplicationUtils.updateLeaderAndIsr; the version is
 * the "partition epoch").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"

void
cl_state_parse(struct fmq_cluster_topic *t, uint32_t p, const char *val,
	       size_t len, int32_t version)
{
	const char *end = val + len;
	int32_t isr[FMQ_CLUSTER_MAX_RF];
	int64_t v;
	int n;

	if (p >= t->nparts)
		return;
	if (cl_json_int(cl_json_find(val, len, "leader"), end, &v) == 0)
		t->leader[p] = (int32_t)v;
	if (cl_json_int(cl_json_find(val, len, "leader_epoch"), end, &v) == 0)
		t->leader_epoch[p] = (int32_t)v;
	n = cl_json_int_array(cl_json_find(val, len, "isr"), end, isr,
			      FMQ_CLUSTER_MAX_RF);
	if (n >= 0 && t->isr != NULL) {
		int32_t *o = &t->isr[(size_t)p * t->rf];
		for (uint16_t r = 0; r < t->rf; r++)
			o[r] = r < n ? isr[r] : -1;
	}
	if (t->state_version != NULL)
		t->state_version[p] = version;
}

bool
fmq_cluster_live(const struct fmq_cluster_view *v, int32_t id)
{
	return fmq_cluster_broker(v, id) != NULL;
}

/* A state read after its watch fired: into the view's topic if it is
 * still there with that partition. */
static void
cb_state(int rc, const char *val, int len, const struct Stat *st,
	 const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	if (op_stale(op))
		goto out;
	if (rc == ZOK && val != NULL) {
		struct fmq_cluster_topic *t = NULL;
		for (uint32_t i = 0; i < cl->v.ntopics; i++)
			if (strcmp(cl->v.topics[i].name, op->data) == 0)
				t = &cl->v.topics[i];
		if (t != NULL && (uint32_t)op->id < t->nparts) {
			cl_state_parse(t, (uint32_t)op->id, val, (size_t)len,
				       st->version);
			changed(cl);
		}
	} else if (rc != ZNONODE) {
		op_error(cl, "read", op->path, rc);
	}
out:
	free(op);
}

/* rel: "<topic>/partitions/<p>/state" under /brokers/topics. */
void
cl_state_event(struct fmq_cluster *cl, const char *rel)
{
	const char *slash = strchr(rel, '/');
	struct cl_op *op;
	char *endp;
	long p;

	if (slash == NULL || strncmp(slash, "/partitions/", 12) != 0)
		return;
	p = strtol(slash + 12, &endp, 10);
	if (endp == slash + 12 || strcmp(endp, "/state") != 0 || p < 0 ||
	    (size_t)(slash - rel) >= sizeof(op->data))
		return;
	op = op_new(cl, OP_IGNORE);
	if (op == NULL)
		return;
	memcpy(op->data, rel, (size_t)(slash - rel));
	op->data[slash - rel] = '\0';
	op->id = (int32_t)p;
	P(cl, op->path, "/brokers/topics/%s", rel);
	if (zoo_awget(cl->zh, op->path, cl_watcher, cl, cb_state, op) != ZOK)
		free(op);
}

struct cl_setst {
	fmq_cluster_state_fn done;
	void *arg;
	int32_t leader, epoch, nisr;
	int32_t isr[FMQ_CLUSTER_MAX_RF];
};

static void
cb_set_state(int rc, const struct Stat *st, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	struct cl_setst *s = op->ptr;
	int res = rc == ZOK ? 0 : rc == ZBADVERSION ? 1 : -1;

	if (rc == ZOK && !op_stale(op)) {
		for (uint32_t i = 0; i < cl->v.ntopics; i++) {
			struct fmq_cluster_topic *t = &cl->v.topics[i];
			if (strcmp(t->name, op->data) != 0 ||
			    (uint32_t)op->id >= t->nparts)
				continue;
			t->leader[op->id] = s->leader;
			t->leader_epoch[op->id] = s->epoch;
			for (uint16_t r = 0; r < t->rf; r++)
				t->isr[(size_t)op->id * t->rf + r] =
					r < s->nisr ? s->isr[r] : -1;
			t->state_version[op->id] = st->version;
			changed(cl);
		}
	} else if (rc != ZOK && rc != ZBADVERSION && !lost(rc)) {
		FMQ_WARN("zk", "%s: %s", op->path, zerror(rc));
	}
	s->done(s->arg, res, rc == ZOK ? st->version : -1);
	free(s);
	free(op);
}

int
fmq_cluster_set_state(struct fmq_cluster *cl, const char *topic, uint32_t p,
		      int32_t leader, int32_t leader_epoch,
		      const int32_t *isr, uint32_t nisr, int32_t version,
		      fmq_cluster_state_fn done, void *arg)
{
	struct cl_setst *s;
	struct cl_op *op;
	char json[64 + FMQ_CLUSTER_MAX_RF * 12];
	size_t n;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    nisr > FMQ_CLUSTER_MAX_RF ||
	    strlen(topic) >= sizeof(op->data))
		return -1;
	s = calloc(1, sizeof(*s));
	op = op_new(cl, OP_IGNORE);
	if (s == NULL || op == NULL) {
		free(s);
		free(op);
		return -1;
	}
	s->done = done;
	s->arg = arg;
	s->leader = leader;
	s->epoch = leader_epoch;
	s->nisr = (int32_t)nisr;
	memcpy(s->isr, isr, nisr * sizeof(*isr));
	n = (size_t)snprintf(json, sizeof(json),
			     "{\"controller_epoch\":%d,\"leader\":%d,"
			     "\"version\":1,\"leader_epoch\":%d,\"isr\":[",
			     cl->v.controller_epoch > 0 ?
			     cl->v.controller_epoch : 0, leader, leader_epoch);
	for (uint32_t i = 0; i < nisr; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s%d",
				      i ? "," : "", isr[i]);
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
	snprintf(op->data, sizeof(op->data), "%s", topic);
	op->id = (int32_t)p;
	op->ptr = s;
	P(cl, op->path, "/brokers/topics/%s/partitions/%u/state", topic, p);
	if (zoo_aset(cl->zh, op->path, json, (int)n, version, cb_set_state,
		     op) != ZOK) {
		free(s);
		free(op);
		return -1;
	}
	return 0;
}
