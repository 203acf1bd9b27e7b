/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topic configs in ZooKeeper, as Kafka keeps them (AdminZkClient
 * changeTopicConfig): /config/topics/<name> holds {"version":1,
 * "config":{..}} and every change leaves a sequential notification
 * /config/changes/config_change_<seq> {"version":2,"entity_path":
 * "topics/<name>"} for Kafka's brokers and tools. FluxMQ brokers learn
 * of a change through a data watch on /config/topics/<name> (armed by
 * every read of it, cluster_topics.c), which also sees what Kafka's
 * kafka-configs.sh writes there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"

/* Kafka's ConfigEntityChangeNotificationSequenceZNode prefix. */
#define CHANGE_PREFIX "/config/changes/config_change_"

struct cl_cfgw {
	fmq_cluster_done_fn done;
	void *arg;
	char name[FMQ_CLUSTER_TOPIC_MAX + 1];
	char *json;                /* the new /config/topics data */
	zoo_op_t ops[2];
	zoo_op_result_t res[2];
	char paths[2][CL_PATH_MAX];
	char note[CL_PATH_MAX];
	char created[CL_PATH_MAX];
};

/* The view's copy of a topic's config JSON, replaced by json. */
static void
view_set_config(struct fmq_cluster *cl, const char *name, const char *val,
		size_t len)
{
	struct fmq_cluster_topic *t = NULL;
	char *n;

	for (uint32_t i = 0; i < cl->v.ntopics; i++)
		if (strcmp(cl->v.topics[i].name, name) == 0)
			t = &cl->v.topics[i];
	if (t == NULL)
		return;    /* not read yet: its read brings the config */
	if (t->config != NULL && strlen(t->config) == len &&
	    memcmp(t->config, val, len) == 0)
		return;
	n = malloc(len + 1);
	if (n == NULL)
		return;
	memcpy(n, val, len);
	n[len] = '\0';
	free(t->config);
	t->config = n;
	FMQ_INFO("zk", "topic %s: config %s", name, n);
	cl->st.topic_config_updates++;
	changed(cl);
}

static void
cb_cfg_read(int rc, const char *val, int len, const struct Stat *st,
	    const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	char rel[CL_PATH_MAX];

	(void)st;
	if (op_stale(op))
		goto out;
	if (rc != ZOK || val == NULL) {
		if (rc != ZNONODE)
			op_error(cl, "read", op->path, rc);
		goto out;
	}
	P(cl, rel, "/config/topics/");
	view_set_config(cl, op->path + strlen(rel), val, (size_t)len);
out:
	free(op);
}

bool
cl_config_event(struct fmq_cluster *cl, int type, const char *path)
{
	char root[CL_PATH_MAX];
	size_t rl;
	struct cl_op *op;

	P(cl, root, "/config/topics/");
	rl = strlen(root);
	if (strncmp(path, root, rl) != 0 || strchr(path + rl, '/') != NULL)
		return false;
	/* Deleted with its topic: the topic's own watch handles that. */
	if (type != ZOO_CHANGED_EVENT)
		return true;
	op = op_new(cl, OP_IGNORE);
	if (op == NULL)
		return true;
	snprintf(op->path, sizeof(op->path), "%s", path);
	/* Read again, the watch armed again. */
	issued(cl, op, "read", zoo_awget(cl->zh, op->path, cl_watcher, cl,
					 cb_cfg_read, op));
	return true;
}

static void
cb_cfg_write(int rc, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct cl_cfgw *w = op->ptr;
	struct fmq_cluster *cl = op->cl;
	int16_t kerr;

	switch (rc) {
	case ZOK:
		kerr = 0;
		cl->st.topic_config_writes++;
		if (!op_stale(op))
			view_set_config(cl, w->name, w->json,
					strlen(w->json));
		break;
	case ZNONODE:
		kerr = 3;          /* UNKNOWN_TOPIC_OR_PARTITION */
		break;
	default:
		if (!lost(rc))
			FMQ_WARN("zk", "%s: %s", w->paths[0], zerror(rc));
		kerr = lost(rc) ? 7 : -1;  /* REQUEST_TIMED_OUT, UNKNOWN */
	}
	w->done(w->arg, kerr);
	free(w->json);
	free(w);
	free(op);
}

int16_t
fmq_cluster_set_topic_config(struct fmq_cluster *cl, const char *name,
			     const char *config, fmq_cluster_done_fn done,
			     void *arg)
{
	struct cl_cfgw *w;
	struct cl_op *op;
	size_t l = strlen(config) + 32;
	int rc;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED)
		return 7;    /* REQUEST_TIMED_OUT: no ZooKeeper now */
	if (fmq_cluster_topic(&cl->v, name) == NULL)
		return 3;
	w = calloc(1, sizeof(*w));
	op = op_new(cl, OP_IGNORE);
	if (w == NULL || op == NULL || (w->json = malloc(l)) == NULL) {
		free(w);
		free(op);
		return -1;
	}
	w->done = done;
	w->arg = arg;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->json, l, "{\"version\":1,\"config\":%s}",
		 config[0] != '\0' ? config : "{}");
	snprintf(w->note, sizeof(w->note),
		 "{\"version\":2,\"entity_path\":\"topics/%s\"}", name);
	/* Both or neither: the data, then the notification (Kafka writes
	 * them one after the other; one multi cannot leave a change that
	 * Kafka's brokers would never be told of). */
	P(cl, w->paths[0], "/config/topics/%s", name);
	zoo_set_op_init(&w->ops[0], w->paths[0], w->json,
			(int)strlen(w->json), -1, NULL);
	P(cl, w->paths[1], "%s", CHANGE_PREFIX);
	zoo_create_op_init(&w->ops[1], w->paths[1], w->note,
			   (int)strlen(w->note), &ZOO_OPEN_ACL_UNSAFE,
			   ZOO_PERSISTENT_SEQUENTIAL, w->created,
			   sizeof(w->created));
	op->ptr = w;
	snprintf(op->path, sizeof(op->path), "%s", w->paths[0]);
	rc = zoo_amulti(cl->zh, 2, w->ops, w->res, cb_cfg_write, op);
	if (rc != ZOK) {
		free(w->json);
		free(w);
		free(op);
		return lost(rc) ? 7 : -1;
	}
	return 0;
}
