/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topic configs in a cluster (zookeeper.connect set). As Kafka in
 * ZooKeeper mode, ZooKeeper holds them: /config/topics/<name>
 * ({"version":1,"config":{..}}), written with a /config/changes
 * notification by the broker that takes an AlterConfigs or
 * IncrementalAlterConfigs (any broker, as Kafka's ZkAdminManager) and by
 * the controller's CreateTopics; the answer leaves once ZooKeeper has
 * the change. Every broker keeps its registry in line with what its
 * view holds (a data watch on each /config/topics znode; the full read
 * at start and after every reconnection): keys ZooKeeper sets are set,
 * the others follow the broker defaults, and the snapshot published
 * then carries them to each partition's owner (min.insync.replicas to
 * the replication state, retention to the log, ...).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_cluster.h"

struct zkcfg_res {
	struct ctrl_zkcfg *q;
	int8_t type;
	char name[FMQ_TOPIC_NAME_MAX + 1];
	int16_t err;
	bool has_msg;
	char msg[512];
};

struct ctrl_zkcfg {
	struct fmq_ctrl *c;
	struct fmq_bfwd *f;
	int32_t n;
	int32_t at;          /* the resource being handled */
	int32_t pending;     /* writes in flight, + 1 until the end */
	bool close;          /* out of memory: close instead of answering */
	struct zkcfg_res r[];
};

struct ctrl_zkcfg *
ctrl_zkcfg_begin(struct fmq_ctrl *c, struct fmq_bfwd *f, int32_t n)
{
	struct ctrl_zkcfg *q;

	if (c->cl == NULL)
		return NULL;
	q = calloc(1, sizeof(*q) + (size_t)(n > 0 ? n : 1) * sizeof(q->r[0]));
	if (q == NULL)
		return NULL;
	q->c = c;
	q->f = f;
	q->n = n;
	q->pending = 1;
	for (int32_t i = 0; i < n; i++)
		q->r[i].q = q;
	c->zkcfg = q;
	return q;
}

void
ctrl_zkcfg_at(struct fmq_ctrl *c, int32_t i)
{
	if (c->zkcfg != NULL)
		c->zkcfg->at = i;
}

static void
zkcfg_finish(struct ctrl_zkcfg *q)
{
	struct fmq_ctrl *c = q->c;
	struct fmq_bfwd *f = q->f;
	struct fmq_kafka_alter_configs_resp resp;
	struct fmq_kafka_alter_configs_resp_alter_configs_resource_response *o =
		q->close ? NULL : calloc((size_t)(q->n ? q->n : 1), sizeof(*o));

	if (o == NULL) {
		ctrl_close_conn(c, f);
		free(q);
		return;
	}
	/* IncrementalAlterConfigs' response has AlterConfigs' layout
	 * (checked in ctrl_admin.c). */
	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.responses = o;
	resp.responses_count = q->n;
	for (int32_t i = 0; i < q->n; i++) {
		o[i].resource_type = q->r[i].type;
		o[i].resource_name = fmq_kafka_str(q->r[i].name);
		o[i].error_code = q->r[i].err;
		o[i].error_message = q->r[i].has_msg ?
			fmq_kafka_str(q->r[i].msg) : FMQ_KAFKA_STR_NULL;
	}
	ctrl_respond(c, f, &resp);
	free(o);
	free(q);
}

bool
ctrl_zkcfg_end(struct fmq_ctrl *c, const void *respp, bool close)
{
	const struct fmq_kafka_alter_configs_resp *resp = respp;
	struct ctrl_zkcfg *q = c->zkcfg;

	c->zkcfg = NULL;
	if (q == NULL)
		return false;
	if (q->pending == 1) {
		free(q);         /* nothing went to ZooKeeper */
		return false;
	}
	q->close = close;
	for (int32_t i = 0; !close && i < q->n && i < resp->responses_count;
	     i++) {
		const struct
		fmq_kafka_alter_configs_resp_alter_configs_resource_response *o =
			&resp->responses[i];
		struct zkcfg_res *r = &q->r[i];
		size_t l;

		r->type = o->resource_type;
		l = o->resource_name.len < 0 ? 0 :
			RTE_MIN((size_t)o->resource_name.len,
				(size_t)FMQ_TOPIC_NAME_MAX);
		memcpy(r->name, o->resource_name.p, l);
		r->name[l] = '\0';
		if (r->err != 0)
			continue;    /* set by its ZooKeeper write */
		r->err = o->error_code;
		r->has_msg = o->error_message.len >= 0;
		if (r->has_msg) {
			l = RTE_MIN((size_t)o->error_message.len,
				    sizeof(r->msg) - 1);
			memcpy(r->msg, o->error_message.p, l);
			r->msg[l] = '\0';
		}
	}
	if (--q->pending == 0)
		zkcfg_finish(q);
	return true;
}

/* Render the keys cfg sets as a JSON object of strings. */
static int
cfg_json(const struct fmq_topic_cfg *cfg, char *out, size_t len)
{
	size_t n = 0;
	bool first = true;

	n += (size_t)snprintf(out + n, len - n, "{");
	for (int k = 0; k < FMQ_TCFG_N && n < len; k++) {
		char v[128];

		if (!cfg->set[k])
			continue;
		fmq_tcfg_format(cfg, k, v, sizeof(v));
		/* Values are [A-Za-z0-9:,.*_-] and numbers: no escapes. */
		n += (size_t)snprintf(out + n, len - n, "%s\"%s\":\"%s\"",
				      first ? "" : ",", fmq_tcfg_keys()[k].name,
				      v);
		first = false;
	}
	if (n < len)
		n += (size_t)snprintf(out + n, len - n, "}");
	return n < len ? 0 : -1;
}

static void
zkcfg_written(void *arg, int16_t kerr)
{
	struct zkcfg_res *r = arg;
	struct ctrl_zkcfg *q = r->q;
	struct fmq_ctrl *c = q->c;

	if (kerr == 0) {
		/* The view has it now: apply it here before answering. */
		const struct fmq_cluster_topic *zt = fmq_cluster_topic(
			fmq_cluster_view(c->cl), r->name);
		if (zt != NULL && ctrl_zkcfg_sync(c, r->name, zt->config) > 0)
			(void)ctrl_publish(c);
	} else {
		r->err = kerr > 0 ? kerr : FMQ_KERR_UNKNOWN_SERVER_ERROR;
		r->has_msg = true;
		snprintf(r->msg, sizeof(r->msg), "%s",
			 kerr == FMQ_KERR_REQUEST_TIMED_OUT ?
			 "ZooKeeper did not answer: the outcome is unknown "
			 "(see DescribeConfigs)." :
			 kerr == FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION ?
			 "The topic has no configs in ZooKeeper." :
			 "ZooKeeper write failed.");
	}
	if (--q->pending == 0)
		zkcfg_finish(q);
}

int16_t
ctrl_topic_alter(struct fmq_ctrl *c, const char *name,
		 const struct fmq_alter *ops, size_t nops, bool validate_only,
		 char *msg, size_t msglen)
{
	struct ctrl_zkcfg *q = c->zkcfg;
	struct fmq_topic_cfg cfg;
	struct zkcfg_res *r;
	char json[8192];
	int16_t e;

	if (q == NULL || validate_only || q->at < 0 || q->at >= q->n)
		return fmq_topics_alter(c->topics, name, ops, nops,
					validate_only, msg, msglen);
	e = fmq_topics_preview(c->topics, name, ops, nops, &cfg, msg,
			       msglen);
	if (e != 0)
		return e;
	if (cfg_json(&cfg, json, sizeof(json)) < 0) {
		snprintf(msg, msglen, "Too many configs.");
		return FMQ_KERR_INVALID_CONFIG;
	}
	r = &q->r[q->at];
	snprintf(r->name, sizeof(r->name), "%s", name);
	e = fmq_cluster_set_topic_config(c->cl, name, json, zkcfg_written, r);
	if (e != 0) {
		snprintf(msg, msglen, "%s", e == FMQ_KERR_REQUEST_TIMED_OUT ?
			 "ZooKeeper is not available." :
			 e == FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION ?
			 "The topic is not in ZooKeeper." :
			 "ZooKeeper write failed.");
		return e > 0 ? e : FMQ_KERR_UNKNOWN_SERVER_ERROR;
	}
	q->pending++;
	FMQ_INFO("ctrl", "topic %s: writing configs %s to ZooKeeper", name,
		 json);
	return 0;
}

int
ctrl_zkcfg_sync(struct fmq_ctrl *c, const char *name, const char *zjson)
{
	const struct fmq_topic *t = fmq_topics_find(c->topics, name);
	struct fmq_cluster_kv kv[64];
	struct fmq_topic_cfg want;
	struct fmq_alter ops[FMQ_TCFG_N * 2];
	char vals[FMQ_TCFG_N][128], msg[512];
	size_t nops = 0;
	bool diff = false;
	int n;

	if (t == NULL || zjson == NULL)
		return 0;     /* not read: keep what the registry has */
	n = fmq_cluster_config_parse(zjson, kv, RTE_DIM(kv));
	if (n < 0)
		return 0;
	want = *fmq_topics_defaults(c->topics);
	memset(want.set, 0, sizeof(want.set));
	/* A key FluxMQ lacks or a value it refuses (written by another
	 * tool) is left out: the rest still applies. */
	for (int i = 0; i < n; i++)
		if (fmq_tcfg_find(kv[i].key) >= 0)
			(void)fmq_tcfg_set(&want, kv[i].key, kv[i].val, msg,
					   sizeof(msg));
	for (int k = 0; k < FMQ_TCFG_N && !diff; k++) {
		char a[128], b[128];

		if (want.set[k] != t->cfg.set[k]) {
			diff = true;
		} else if (want.set[k]) {
			fmq_tcfg_format(&want, k, a, sizeof(a));
			fmq_tcfg_format(&t->cfg, k, b, sizeof(b));
			diff = strcmp(a, b) != 0;
		}
	}
	if (!diff)
		return 0;
	for (int k = 0; k < FMQ_TCFG_N; k++) {
		ops[nops].key = fmq_tcfg_keys()[k].name;
		ops[nops].value = NULL;
		ops[nops++].op = FMQ_ALTER_DELETE;
	}
	for (int k = 0; k < FMQ_TCFG_N; k++) {
		if (!want.set[k])
			continue;
		fmq_tcfg_format(&want, k, vals[k], sizeof(vals[k]));
		ops[nops].key = fmq_tcfg_keys()[k].name;
		ops[nops].value = vals[k];
		ops[nops++].op = FMQ_ALTER_SET;
	}
	if (fmq_topics_alter(c->topics, name, ops, nops, false, msg,
			     sizeof(msg)) != 0) {
		FMQ_ERR("ctrl", "topic %s: configs from ZooKeeper: %s", name,
			msg);
		return 0;
	}
	c->st.zk_config_applied++;
	FMQ_INFO("ctrl", "topic %s: configs from ZooKeeper applied: %s", name,
		 zjson);
	return 1;
}
