/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topic admin on the control lcore: Metadata with auto-creation,
 * CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
 * AlterConfigs, IncrementalAlterConfigs, and InitProducerId. The registry is changed and
 * persisted first, partitions opened, then a new snapshot published before
 * the answer goes out, so a client that hears "created" can produce.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

/* DescribeConfigs sources and types (Kafka's ConfigSource / ConfigType). */
enum { SRC_TOPIC = 1, SRC_DYNAMIC_BROKER = 2, SRC_DYNAMIC_DEFAULT = 3,
       SRC_STATIC_BROKER = 4, SRC_DEFAULT = 5 };
enum { TYPE_BOOLEAN = 1, TYPE_STRING = 2, TYPE_INT = 3, TYPE_LONG = 5,
       TYPE_DOUBLE = 6, TYPE_LIST = 7 };
enum { RES_TOPIC = 2, RES_BROKER = 4 };

char *
ctrl_cstr(struct fmq_ctrl *c, struct fmq_kafka_str s)
{
	int32_t n = s.len < 0 ? 0 : s.len;
	char *p = fmq_kafka_arena_alloc(&c->arena, (size_t)n + 1);

	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s.p, (size_t)n);
	p[n] = '\0';
	return p;
}

static struct fmq_kafka_str
astr(struct fmq_ctrl *c, const char *s)
{
	size_t n = strlen(s);
	char *p = fmq_kafka_arena_alloc(&c->arena, n + 1);

	if (p == NULL)
		return FMQ_KAFKA_STR_NULL;
	memcpy(p, s, n + 1);
	return fmq_kafka_str(p);
}

static void *
aalloc(struct fmq_ctrl *c, size_t n, size_t sz)
{
	return fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) * sz);
}

static int16_t check_log_limits(const struct fmq_ctrl *c, const char *key,
				const char *value, char *msg, size_t msglen);

/* Create one topic: registry, partitions, counters. */
static int16_t
create_one(struct fmq_ctrl *c, const char *name, int32_t np, int16_t rf,
	   const struct fmq_kv *cfgs, size_t ncfgs, bool validate_only,
	   char *msg, size_t msglen, const struct fmq_topic **out)
{
	const struct fmq_topic *t = NULL;
	int16_t e;

	/* The registry's checks first (Kafka's order), then what the log
	 * cannot take, then the real thing. */
	e = fmq_topics_create(c->topics, name, np, rf,
			      (int32_t)c->cfg->num_partitions, cfgs, ncfgs,
			      true, msg, msglen, NULL);
	for (size_t k = 0; k < ncfgs && e == 0; k++)
		e = check_log_limits(c, cfgs[k].key, cfgs[k].value, msg,
				     msglen);
	if (e == 0 && !validate_only)
		e = fmq_topics_create(c->topics, name, np, rf,
				      (int32_t)c->cfg->num_partitions, cfgs,
				      ncfgs, false, msg, msglen, &t);
	if (e != 0 || validate_only) {
		if (out != NULL)
			*out = NULL;
		return e;
	}
	if (ctrl_open_topic(c, t, 0) < 0) {
		/* Undo: nothing half-created stays behind. */
		ctrl_drop_topic(c, name, true);
		fmq_topics_delete(c->topics, name, msg, msglen);
		snprintf(msg, msglen, "Could not create the partition logs of "
			 "'%s' (see the broker log)", name);
		return FMQ_KERR_KAFKA_STORAGE_ERROR;
	}
	c->st.topics_created++;
	FMQ_INFO("ctrl", "created topic %s with %u partition(s)", name,
		 t->nparts);
	if (out != NULL)
		*out = t;
	return 0;
}

void
ctrl_metadata(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_metadata_req *req = reqp;
	struct fmq_kafka_metadata_resp *resp;
	struct fmq_bauth auth = { c->sec != NULL ? c->sec->acl : NULL,
				  &f->principal, f->client_ip, &c->acl_st };
	bool created = false;
	bool *zk = req->topics_count > 0 ?
		aalloc(c, (size_t)req->topics_count, sizeof(*zk)) : NULL;

	for (int32_t i = 0; i < req->topics_count; i++) {
		char msg[512], *name;
		if (req->topics[i].name.len < 0)
			continue;
		name = ctrl_cstr(c, req->topics[i].name);
		if (name == NULL || fmq_topics_find(c->topics, name) != NULL ||
		    fmq_topics_validate_name(name, msg, sizeof(msg)) != 0)
			continue;
		/* Kafka: DESCRIBE on the topic, then CREATE on the cluster
		 * or the topic (else the answer says 29, without creating). */
		if (!CTRL_ACL_TOPIC(c, f, name, DESCRIBE) ||
		    (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_CREATE) &&
		     !CTRL_ACL_TOPIC(c, f, name, CREATE)))
			continue;
		if (c->cl != NULL) {
			/* In a cluster: into ZooKeeper, never only here. */
			if (zk != NULL)
				zk[i] = ctrl_zk_auto_create(c, name) == 0;
			continue;
		}
		if (create_one(c, name, -1, -1, NULL, 0, false, msg, sizeof(msg),
			       NULL) == 0)
			created = true;
		else
			FMQ_WARN("ctrl", "auto-create %s: %s", name, msg);
	}
	if (created)
		ctrl_publish(c);
	resp = aalloc(c, 1, sizeof(*resp));
	if (resp == NULL ||
	    fmq_broker_build_metadata(c->b, f->listener, fmq_broker_meta(c->b),
				      f->api_version, req, &auth, &c->arena,
				      resp) < 0) {
		ctrl_close_conn(c, f);
		return;
	}
	/* Being created in ZooKeeper: Kafka's answer for a topic just
	 * auto-created (clients ask again). */
	for (int32_t i = 0; zk != NULL && i < req->topics_count &&
	     i < resp->topics_count; i++)
		if (zk[i] && resp->topics[i].error_code ==
		    FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION)
			resp->topics[i].error_code =
				FMQ_KERR_LEADER_NOT_AVAILABLE;
	ctrl_respond(c, f, resp);
}

void
ctrl_create_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_create_topics_req *req = reqp;
	struct fmq_kafka_create_topics_resp resp;
	int32_t n = req->topics_count < 0 ? 0 : req->topics_count;
	bool created = false;
	/* Kafka: CREATE on the cluster, else on each topic. */
	bool cluster_create = n > 0 &&
		ctrl_acl_cluster(c, f, FMQ_ACL_OP_CREATE);

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.topics_count = n;
	resp.topics = aalloc(c, (size_t)n, sizeof(*resp.topics));
	if (resp.topics == NULL)
		goto nomem;
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_create_topics_req_creatable_topic *rt =
			&req->topics[i];
		struct fmq_kafka_create_topics_resp_creatable_topic_result *ot =
			&resp.topics[i];
		const struct fmq_topic *t = NULL;
		char msg[512] = "", *name = ctrl_cstr(c, rt->name);
		int32_t nc = rt->configs_count < 0 ? 0 : rt->configs_count;
		struct fmq_kv *kv = aalloc(c, (size_t)nc, sizeof(*kv));
		int16_t e = 0;

		if (name == NULL || kv == NULL)
			goto nomem;
		memset(ot, 0, sizeof(*ot));
		ot->name = rt->name;
		ot->num_partitions = -1;
		ot->replication_factor = -1;
		ot->configs_count = -1;
		ot->error_message = FMQ_KAFKA_STR_NULL;
		for (int32_t k = 0; k < nc; k++) {
			kv[k].key = ctrl_cstr(c, rt->configs[k].name);
			kv[k].value = rt->configs[k].value.len < 0 ? NULL :
				ctrl_cstr(c, rt->configs[k].value);
			if (kv[k].key == NULL)
				goto nomem;
		}
		if (rt->assignments_count > 0) {
			/* Manual assignment: only this broker can hold them. */
			for (int32_t a = 0; a < rt->assignments_count && e == 0; a++)
				for (int32_t r = 0; r < rt->assignments[a].broker_ids_count; r++)
					if (rt->assignments[a].broker_ids[r] !=
					    fmq_broker_node_id(c->b)) {
						e =
						FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
						snprintf(msg, sizeof(msg), "Replica "
							 "assignment names broker %d; "
							 "only %d exists.",
							 rt->assignments[a].broker_ids[r],
							 fmq_broker_node_id(c->b));
					}
			if (e == 0 && (rt->num_partitions != -1 ||
				       rt->replication_factor != -1)) {
				e = FMQ_KERR_INVALID_REQUEST;
				snprintf(msg, sizeof(msg), "Both numPartitions or "
					 "replicationFactor and replicasAssignments "
					 "were set. Both cannot be used at the same "
					 "time.");
			}
		}
		if (e == 0 && !cluster_create &&
		    !CTRL_ACL_TOPIC(c, f, name, CREATE)) {
			e = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			snprintf(msg, sizeof(msg), "Authorization failed.");
		}
		/* Duplicate names in one request: Kafka fails them all. */
		for (int32_t j = 0; j < n && e == 0; j++)
			if (j != i && rt->name.len == req->topics[j].name.len &&
			    rt->name.len > 0 &&
			    memcmp(rt->name.p, req->topics[j].name.p,
				   (size_t)rt->name.len) == 0) {
				e = FMQ_KERR_INVALID_REQUEST;
				snprintf(msg, sizeof(msg), "Create topics request "
					 "from client contains multiple topics "
					 "with the same name");
			}
		if (e == 0) {
			int32_t np = rt->assignments_count > 0 ?
				rt->assignments_count : rt->num_partitions;
			int16_t rf = rt->assignments_count > 0 ? 1 :
				rt->replication_factor;
			e = create_one(c, name, np, rf, kv, (size_t)nc,
				       req->validate_only, msg, sizeof(msg), &t);
		}
		ot->error_code = e;
		if (e != 0) {
			ot->error_message = astr(c, msg);
			continue;
		}
		created |= !req->validate_only;
		/* v5+: what the topic got. */
		const struct fmq_topic_cfg *tc = t != NULL ? &t->cfg :
			fmq_topics_defaults(c->topics);
		ot->num_partitions = t != NULL ? (int32_t)t->nparts :
			(rt->num_partitions == -1 ?
			 (int32_t)c->cfg->num_partitions : rt->num_partitions);
		ot->replication_factor = 1;
		if (t != NULL)
			memcpy(ot->topic_id.b, t->id, 16);
		/* The configs only to who may DESCRIBE_CONFIGS them. */
		if (f->api_version >= 5 &&
		    !CTRL_ACL_TOPIC(c, f, name, DESCRIBE_CONFIGS)) {
			ot->topic_config_error_code =
				FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			ot->configs_count = -1;
			continue;
		}
		ot->configs_count = FMQ_TCFG_N;
		ot->configs = aalloc(c, FMQ_TCFG_N, sizeof(*ot->configs));
		if (ot->configs == NULL)
			goto nomem;
		for (int k = 0; k < FMQ_TCFG_N; k++) {
			char v[64];
			fmq_tcfg_format(tc, k, v, sizeof(v));
			ot->configs[k].name = fmq_kafka_str(fmq_tcfg_keys()[k].name);
			ot->configs[k].value = astr(c, v);
			ot->configs[k].read_only = false;
			ot->configs[k].config_source = tc->set[k] ? SRC_TOPIC :
				SRC_DEFAULT;
			ot->configs[k].is_sensitive = false;
		}
	}
	if (created)
		ctrl_publish(c);
	ctrl_respond(c, f, &resp);
	return;
nomem:
	if (created)
		ctrl_publish(c);
	ctrl_close_conn(c, f);
}

static const struct fmq_topic *
find_by_id(struct fmq_ctrl *c, const struct fmq_kafka_uuid *id)
{
	size_t n = fmq_topics_count(c->topics);

	for (size_t i = 0; i < n; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		if (memcmp(t->id, id->b, 16) == 0)
			return t;
	}
	return NULL;
}

static int16_t
delete_one(struct fmq_ctrl *c, const char *name, char *msg, size_t msglen)
{
	int16_t e = fmq_topics_delete(c->topics, name, msg, msglen);

	if (e != 0)
		return e;
	ctrl_drop_topic(c, name, true);
	ctrl_groups_topic_deleted(c, name);
	c->st.topics_deleted++;
	FMQ_INFO("ctrl", "deleted topic %s", name);
	return 0;
}

void
ctrl_delete_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_delete_topics_req *req = reqp;
	struct fmq_kafka_delete_topics_resp resp;
	bool by_state = f->api_version >= 6;
	int32_t n = by_state ? req->topics_count : req->topic_names_count;
	bool deleted = false;

	if (n < 0)
		n = 0;
	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.responses_count = n;
	resp.responses = aalloc(c, (size_t)n, sizeof(*resp.responses));
	if (resp.responses == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct fmq_kafka_delete_topics_resp_deletable_topic_result *o =
			&resp.responses[i];
		struct fmq_kafka_str name = by_state ? req->topics[i].name :
			req->topic_names[i];
		char msg[512] = "", *cname;

		memset(o, 0, sizeof(*o));
		o->error_message = FMQ_KAFKA_STR_NULL;
		if (by_state && name.len < 0) {
			const struct fmq_topic *t = find_by_id(c,
						&req->topics[i].topic_id);
			o->topic_id = req->topics[i].topic_id;
			if (t == NULL) {
				o->name = FMQ_KAFKA_STR_NULL;
				o->error_code = FMQ_KERR_UNKNOWN_TOPIC_ID;
				continue;
			}
			cname = ctrl_cstr(c, fmq_kafka_str(t->name));
			o->name = fmq_kafka_str(cname);
		} else {
			cname = ctrl_cstr(c, name);
			o->name = name;
			const struct fmq_topic *t = cname ?
				fmq_topics_find(c->topics, cname) : NULL;
			if (t != NULL)
				memcpy(o->topic_id.b, t->id, 16);
		}
		if (cname == NULL) {
			ctrl_close_conn(c, f);
			return;
		}
		if (!CTRL_ACL_TOPIC(c, f, cname, DELETE)) {
			o->error_code = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		o->error_code = delete_one(c, cname, msg, sizeof(msg));
		if (o->error_code != 0 && f->api_version >= 5)
			o->error_message = astr(c, msg);
		deleted |= o->error_code == 0;
	}
	if (deleted)
		ctrl_publish(c);
	ctrl_respond(c, f, &resp);
}

void
ctrl_create_partitions(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_create_partitions_req *req = reqp;
	struct fmq_kafka_create_partitions_resp resp;
	int32_t n = req->topics_count < 0 ? 0 : req->topics_count;
	bool grew = false;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.results_count = n;
	resp.results = aalloc(c, (size_t)n, sizeof(*resp.results));
	if (resp.results == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_create_partitions_req_create_partitions_topic *rt =
			&req->topics[i];
		struct fmq_kafka_create_partitions_resp_create_partitions_topic_result *o =
			&resp.results[i];
		char msg[512] = "", *name = ctrl_cstr(c, rt->name);
		const struct fmq_topic *t;
		uint32_t before;

		memset(o, 0, sizeof(*o));
		o->name = rt->name;
		o->error_message = FMQ_KAFKA_STR_NULL;
		if (name == NULL) {
			ctrl_close_conn(c, f);
			return;
		}
		if (!CTRL_ACL_TOPIC(c, f, name, ALTER)) {
			o->error_code = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			o->error_message = astr(c, fmq_kafka_err_message(
				o->error_code));
			continue;
		}
		t = fmq_topics_find(c->topics, name);
		before = t != NULL ? t->nparts : 0;
		o->error_code = fmq_topics_add_partitions(c->topics, name,
				rt->count, req->validate_only, msg, sizeof(msg));
		if (o->error_code == 0 && !req->validate_only) {
			t = fmq_topics_find(c->topics, name);
			if (ctrl_open_topic(c, t, before) < 0) {
				o->error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
				snprintf(msg, sizeof(msg), "Could not create the "
					 "new partition logs (see the broker log)");
			} else {
				c->st.partitions_added += t->nparts - before;
				grew = true;
			}
		}
		if (o->error_code != 0)
			o->error_message = astr(c, msg);
	}
	if (grew)
		ctrl_publish(c);
	ctrl_respond(c, f, &resp);
}

static int8_t
tcfg_type(int idx)
{
	const char *l = fmq_tcfg_keys()[idx].limits;

	if (idx == FMQ_TCFG_IDX_cleanup_policy ||
	    idx == FMQ_TCFG_IDX_leader_replication_throttled_replicas ||
	    idx == FMQ_TCFG_IDX_follower_replication_throttled_replicas)
		return TYPE_LIST;
	if (strcmp(l, "true|false") == 0 || strcmp(l, "false|true") == 0)
		return TYPE_BOOLEAN;
	if (strchr(fmq_tcfg_keys()[idx].dflt, '.') != NULL)
		return TYPE_DOUBLE;
	return strchr(l, '|') != NULL || strstr(l, "..") == NULL ?
		TYPE_STRING : TYPE_LONG;
}

static bool
wanted(const struct fmq_kafka_describe_configs_req_describe_configs_resource *r,
       const char *name)
{
	if (r->configuration_keys_count < 0)
		return true;
	for (int32_t i = 0; i < r->configuration_keys_count; i++)
		if (fmq_kafka_str_eq(r->configuration_keys[i], name))
			return true;
	return false;
}

/* Kafka's ACL on a config resource: the topic's (TOPIC_AUTHORIZATION_FAILED)
 * or the cluster's for a broker (CLUSTER_AUTHORIZATION_FAILED); 0 allowed. */
static int16_t
config_denied(struct fmq_ctrl *c, const struct fmq_bfwd *f, int8_t type,
	      const char *name, enum fmq_acl_op op)
{
	if (type == RES_TOPIC &&
	    !ctrl_acl_allow(c, f, FMQ_ACL_RES_TOPIC, name, strlen(name), op))
		return FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
	if (type == RES_BROKER && !ctrl_acl_cluster(c, f, op))
		return FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
	return 0;
}

void
ctrl_describe_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_describe_configs_req *req = reqp;
	struct fmq_kafka_describe_configs_resp resp;
	int32_t n = req->resources_count < 0 ? 0 : req->resources_count;
	int16_t v = f->api_version;

	fmq_kafka_init_response(f->api_key, v, &resp);
	resp.results_count = n;
	resp.results = aalloc(c, (size_t)n, sizeof(*resp.results));
	if (resp.results == NULL)
		goto nomem;
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_describe_configs_req_describe_configs_resource *r =
			&req->resources[i];
		struct fmq_kafka_describe_configs_resp_describe_configs_result *o =
			&resp.results[i];
		char *name = ctrl_cstr(c, r->resource_name);

		if (name == NULL)
			goto nomem;
		memset(o, 0, sizeof(*o));
		o->resource_type = r->resource_type;
		o->resource_name = r->resource_name;
		o->error_message = FMQ_KAFKA_STR_NULL;
		o->error_code = config_denied(c, f, r->resource_type, name,
					       FMQ_ACL_OP_DESCRIBE_CONFIGS);
		if (o->error_code != 0) {
			o->error_message = astr(c, fmq_kafka_err_message(
				o->error_code));
			continue;
		}
		if (r->resource_type == RES_TOPIC) {
			const struct fmq_topic *t = fmq_topics_find(c->topics, name);
			if (t == NULL) {
				o->error_code =
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				o->error_message = astr(c, "Topic does not exist");
				continue;
			}
			o->configs = aalloc(c, FMQ_TCFG_N, sizeof(*o->configs));
			if (o->configs == NULL)
				goto nomem;
			for (int k = 0; k < FMQ_TCFG_N; k++) {
				const struct fmq_tcfg_key *key = &fmq_tcfg_keys()[k];
				struct fmq_kafka_describe_configs_resp_describe_configs_resource_result *e;
				char val[64];
				if (!wanted(r, key->name))
					continue;
				e = &o->configs[o->configs_count++];
				memset(e, 0, sizeof(*e));
				fmq_tcfg_format(&t->cfg, k, val, sizeof(val));
				e->name = fmq_kafka_str(key->name);
				e->value = astr(c, val);
				e->read_only = false;
				e->is_default = !t->cfg.set[k];
				e->config_source = t->cfg.set[k] ? SRC_TOPIC :
					SRC_DEFAULT;
				/* Not set on the topic, and its broker key
				 * set dynamically: that is where it comes
				 * from (Kafka names the synonym in force). */
				const char *bk = ctrl_dyn_synonym(key->name);
				if (!t->cfg.set[k] && bk != NULL &&
				    (ctrl_dyn_get(c, 1, bk) != NULL ||
				     ctrl_dyn_get(c, 0, bk) != NULL)) {
					e->is_default = false;
					e->config_source =
						ctrl_dyn_get(c, 1, bk) != NULL ?
						SRC_DYNAMIC_BROKER :
						SRC_DYNAMIC_DEFAULT;
				}
				e->is_sensitive = false;
				e->config_type = tcfg_type(k);
				e->documentation = req->include_documentation ?
					fmq_kafka_str(key->doc) : FMQ_KAFKA_STR_NULL;
				e->synonyms = NULL;
				e->synonyms_count = 0;
				if (req->include_synonyms && v >= 1) {
					e->synonyms = aalloc(c, 1, sizeof(*e->synonyms));
					if (e->synonyms == NULL)
						goto nomem;
					e->synonyms[0].name = e->name;
					e->synonyms[0].value = e->value;
					e->synonyms[0].source = e->config_source;
					e->synonyms_count = 1;
				}
			}
		} else if (r->resource_type == RES_BROKER) {
			char idbuf[32];
			size_t nk;
			const struct fmq_cfg_key *keys = fmq_config_keys(&nk);
			/* Name "": the cluster defaults set dynamically, only
			 * (Kafka's currentDynamicDefaultConfigs). */
			bool dflt_only = name[0] == '\0';
			snprintf(idbuf, sizeof(idbuf), "%d", fmq_broker_node_id(c->b));
			if (!dflt_only && strcmp(name, idbuf) != 0) {
				o->error_code = FMQ_KERR_INVALID_REQUEST;
				o->error_message = astr(c, "Unexpected broker id");
				continue;
			}
			o->configs = aalloc(c, nk, sizeof(*o->configs));
			if (o->configs == NULL)
				goto nomem;
			for (size_t k = 0; k < nk; k++) {
				struct fmq_kafka_describe_configs_resp_describe_configs_resource_result *e;
				char val[FMQ_CFG_STR_MAX], sval[FMQ_CFG_STR_MAX];
				const char *dv = ctrl_dyn_get(c, 0, keys[k].name);
				const char *bv = ctrl_dyn_get(c, 1, keys[k].name);
				if (!wanted(r, keys[k].name) ||
				    (dflt_only && dv == NULL))
					continue;
				e = &o->configs[o->configs_count++];
				memset(e, 0, sizeof(*e));
				fmq_config_format(c->cfg, &keys[k], val, sizeof(val));
				fmq_config_format(ctrl_dyn_static(c), &keys[k],
						  sval, sizeof(sval));
				e->name = fmq_kafka_str(keys[k].name);
				e->value = astr(c, dflt_only ? dv : val);
				/* Kafka's dynamic keys can change at run time;
				 * the rest come from the file. */
				e->read_only = !ctrl_dyn_key(keys[k].name);
				e->is_default = !dflt_only && bv == NULL &&
					dv == NULL &&
					strcmp(sval, keys[k].dflt) == 0;
				e->config_source = dflt_only ? SRC_DYNAMIC_DEFAULT :
					bv != NULL ? SRC_DYNAMIC_BROKER :
					dv != NULL ? SRC_DYNAMIC_DEFAULT :
					e->is_default ? SRC_DEFAULT :
					SRC_STATIC_BROKER;
				e->is_sensitive = false;
				e->config_type = keys[k].type == FMQ_CFG_BOOL ?
					TYPE_BOOLEAN : (keys[k].type == FMQ_CFG_U64 ||
					keys[k].type == FMQ_CFG_I64) ? TYPE_LONG :
					TYPE_STRING;
				e->documentation = req->include_documentation ?
					fmq_kafka_str(keys[k].doc) : FMQ_KAFKA_STR_NULL;
				e->synonyms_count = 0;
				if (!req->include_synonyms || v < 1)
					continue;
				/* Every layer that holds the key, the one in
				 * force first (Kafka's synonyms order). */
				e->synonyms = aalloc(c, 4, sizeof(*e->synonyms));
				if (e->synonyms == NULL)
					goto nomem;
#define SYN(val_, src_) do { \
		e->synonyms[e->synonyms_count].name = e->name; \
		e->synonyms[e->synonyms_count].value = astr(c, val_); \
		e->synonyms[e->synonyms_count++].source = (src_); \
	} while (0)
				if (bv != NULL && !dflt_only)
					SYN(bv, SRC_DYNAMIC_BROKER);
				if (dv != NULL)
					SYN(dv, SRC_DYNAMIC_DEFAULT);
				if (!dflt_only && strcmp(sval, keys[k].dflt) != 0)
					SYN(sval, SRC_STATIC_BROKER);
				if (!dflt_only)
					SYN(keys[k].dflt, SRC_DEFAULT);
#undef SYN
			}
		} else {
			o->error_code = FMQ_KERR_INVALID_REQUEST;
			o->error_message = astr(c, "Unsupported resource type");
		}
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

/* IncrementalAlterConfigs (API 44) on one resource: each listed config is
 * set, deleted, appended to or subtracted from; the rest is unchanged. */
static int16_t
alter_incremental(struct fmq_ctrl *c, const void *res, const char *name,
		  bool validate_only, bool *changed, char *msg, size_t msglen)
{
	const struct fmq_kafka_incremental_alter_configs_req_alter_configs_resource *r =
		res;
	int32_t nc = r->configs_count < 0 ? 0 : r->configs_count;
	struct fmq_alter *ops = aalloc(c, (size_t)nc, sizeof(*ops));
	int16_t e = 0;

	if (ops == NULL)
		return -1;
	if (r->resource_type == RES_BROKER) {
		for (int32_t k = 0; k < nc; k++) {
			ops[k].key = ctrl_cstr(c, r->configs[k].name);
			ops[k].value = r->configs[k].value.len < 0 ? NULL :
				ctrl_cstr(c, r->configs[k].value);
			ops[k].op = r->configs[k].config_operation;
			if (ops[k].key == NULL ||
			    (r->configs[k].value.len >= 0 &&
			     ops[k].value == NULL))
				return -1;
		}
		return ctrl_dyn_alter(c, name, ops, (size_t)nc, false,
				      validate_only, changed, msg, msglen);
	}
	if (r->resource_type != RES_TOPIC) {
		snprintf(msg, msglen, "Unsupported resource type");
		return FMQ_KERR_INVALID_REQUEST;
	}
	for (int32_t k = 0; k < nc; k++) {
		ops[k].key = ctrl_cstr(c, r->configs[k].name);
		ops[k].value = r->configs[k].value.len < 0 ? NULL :
			ctrl_cstr(c, r->configs[k].value);
		ops[k].op = r->configs[k].config_operation;
		if (e == 0 && ops[k].op == FMQ_ALTER_SET && ops[k].key != NULL &&
		    fmq_topics_find(c->topics, name) != NULL)
			e = check_log_limits(c, ops[k].key, ops[k].value, msg,
					     msglen);
	}
	if (e == 0)
		e = ctrl_topic_alter(c, name, ops, (size_t)nc, validate_only,
				     msg, msglen);
	if (e == 0 && !validate_only && nc > 0) {
		/* The snapshot published by alter_configs() carries the
		 * new settings; each partition's owner applies them in
		 * place. */
		c->st.config_changes++;
		*changed = true;
	}
	return e;
}

/* A topic setting the log cannot take: max.message.bytes above a hot chunk's
 * payload (a batch is copied into one chunk). The registry would accept it
 * and every owner refuse it; refuse it here instead. */
static int16_t
check_log_limits(const struct fmq_ctrl *c, const char *key, const char *value,
		 char *msg, size_t msglen)
{
	uint64_t cap = c->cfg->log_hot_chunk_bytes - FMQ_LOG_CHUNK_HDR;
	char *end;
	long long v;

	if (value == NULL || strcmp(key, "max.message.bytes") != 0)
		return 0;
	v = strtoll(value, &end, 10);
	if (end == value || *end != '\0' || v < 0 || (uint64_t)v <= cap)
		return 0;   /* malformed: the registry's own message */
	snprintf(msg, msglen, "Invalid value %s for configuration "
		 "max.message.bytes: above the hot chunk payload of %" PRIu64
		 " bytes (log.hot.chunk.bytes minus the chunk header)", value,
		 cap);
	return FMQ_KERR_INVALID_CONFIG;
}

static const char *
res_type_name(int8_t t)
{
	switch (t) {
	case RES_TOPIC: return "TOPIC";
	case RES_BROKER: return "BROKER";
	case 8: return "BROKER_LOGGER";
	case 16: return "CLIENT_METRICS";
	default: return "UNKNOWN";
	}
}

/* AlterConfigs (API 33) on one resource: the listed configs replace the
 * resource's whole set; every config not listed (or listed with a null
 * value, as Kafka's ZkAdminManager filters those out) reverts to its
 * default. Messages are Kafka's. */
static int16_t
replace_configs(struct fmq_ctrl *c, const void *res, const char *name,
		bool validate_only, bool *changed, char *msg, size_t msglen)
{
	const struct fmq_kafka_alter_configs_req_alter_configs_resource *r =
		res;
	int32_t nc = r->configs_count < 0 ? 0 : r->configs_count;
	struct fmq_alter *ops;
	size_t nops = 0;
	int16_t e;

	if (r->resource_type == RES_BROKER) {
		/* The listed configs replace the layer named (null values
		 * are left out, as Kafka does). */
		ops = aalloc(c, (size_t)(nc ? nc : 1), sizeof(*ops));
		if (ops == NULL)
			return -1;
		for (int32_t k = 0; k < nc; k++) {
			ops[k].key = ctrl_cstr(c, r->configs[k].name);
			ops[k].value = r->configs[k].value.len < 0 ? NULL :
				ctrl_cstr(c, r->configs[k].value);
			ops[k].op = FMQ_ALTER_SET;
			if (ops[k].key == NULL ||
			    (r->configs[k].value.len >= 0 &&
			     ops[k].value == NULL))
				return -1;
		}
		return ctrl_dyn_alter(c, name, ops, (size_t)nc, true,
				      validate_only, changed, msg, msglen);
	}
	if (r->resource_type != RES_TOPIC) {
		snprintf(msg, msglen, "AlterConfigs is only supported for topics "
			 "and brokers, but resource type is %s",
			 res_type_name(r->resource_type));
		return FMQ_KERR_INVALID_REQUEST;
	}
	if (name[0] == '\0') {
		snprintf(msg, msglen, "Default topic resources are not allowed.");
		return FMQ_KERR_INVALID_REQUEST;
	}
	if (fmq_topics_find(c->topics, name) == NULL) {
		snprintf(msg, msglen, "The topic '%s' does not exist.", name);
		return FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	/* Every key back to its default, then the listed ones on top, in
	 * order (a key listed twice: the last wins, as in Kafka's map). */
	ops = aalloc(c, (size_t)FMQ_TCFG_N + (size_t)nc, sizeof(*ops));
	if (ops == NULL)
		return -1;
	for (int k = 0; k < FMQ_TCFG_N; k++) {
		ops[nops].key = fmq_tcfg_keys()[k].name;
		ops[nops].value = NULL;
		ops[nops++].op = FMQ_ALTER_DELETE;
	}
	for (int32_t k = 0; k < nc; k++) {
		ops[nops].key = ctrl_cstr(c, r->configs[k].name);
		if (ops[nops].key == NULL)
			return -1;
		if (r->configs[k].value.len < 0) {
			ops[nops].value = NULL;
			ops[nops++].op = FMQ_ALTER_DELETE;
			continue;
		}
		ops[nops].value = ctrl_cstr(c, r->configs[k].value);
		if (ops[nops].value == NULL)
			return -1;
		e = check_log_limits(c, ops[nops].key, ops[nops].value, msg,
				     msglen);
		if (e != 0)
			return e;
		ops[nops++].op = FMQ_ALTER_SET;
	}
	e = ctrl_topic_alter(c, name, ops, nops, validate_only, msg, msglen);
	if (e == 0 && !validate_only) {
		c->st.config_changes++;
		*changed = true;
	}
	return e;
}

/*
 * What AlterConfigs and IncrementalAlterConfigs share: one answer per
 * resource (its type and name echoed, the error and message of `one`),
 * one snapshot published if anything changed, the connection closed when
 * out of memory. The two APIs' generated request and response types have
 * the same layout outside the configs (both schemas declare the same
 * fields): checked here, then both are handled through the AlterConfigs
 * types.
 */
typedef int16_t (*alter_one_fn)(struct fmq_ctrl *c, const void *res,
				const char *name, bool validate_only,
				bool *changed, char *msg, size_t msglen);

#define ALTER_SAME(t, f) _Static_assert( \
	offsetof(struct fmq_kafka_alter_configs_##t, f) == \
	offsetof(struct fmq_kafka_incremental_alter_configs_##t, f), \
	"AlterConfigs layouts differ: " #t "." #f)
#define ALTER_SIZE(t) _Static_assert( \
	sizeof(struct fmq_kafka_alter_configs_##t) == \
	sizeof(struct fmq_kafka_incremental_alter_configs_##t), \
	"AlterConfigs sizes differ: " #t)
ALTER_SAME(req, resources);
ALTER_SAME(req, resources_count);
ALTER_SAME(req, validate_only);
ALTER_SIZE(req_alter_configs_resource);
ALTER_SAME(req_alter_configs_resource, resource_type);
ALTER_SAME(req_alter_configs_resource, resource_name);
ALTER_SIZE(resp);
ALTER_SAME(resp, responses);
ALTER_SAME(resp, responses_count);
ALTER_SIZE(resp_alter_configs_resource_response);
ALTER_SAME(resp_alter_configs_resource_response, error_code);
ALTER_SAME(resp_alter_configs_resource_response, error_message);
ALTER_SAME(resp_alter_configs_resource_response, resource_type);
ALTER_SAME(resp_alter_configs_resource_response, resource_name);

static void
alter_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp,
	      alter_one_fn one)
{
	struct fmq_kafka_alter_configs_req *req = reqp;
	struct fmq_kafka_alter_configs_resp resp;
	int32_t n = req->resources_count < 0 ? 0 : req->resources_count;
	bool changed = false;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.responses_count = n;
	resp.responses = aalloc(c, (size_t)n, sizeof(*resp.responses));
	if (resp.responses == NULL)
		goto nomem;
	/* In a cluster, topic configs go to ZooKeeper first: the answer
	 * waits for the writes (ctrl_zkcfg.c). */
	if (c->cl != NULL && ctrl_zkcfg_begin(c, f, n) == NULL)
		goto nomem;
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_alter_configs_req_alter_configs_resource *r =
			&req->resources[i];
		struct fmq_kafka_alter_configs_resp_alter_configs_resource_response *o =
			&resp.responses[i];
		char msg[1024] = "", *name = ctrl_cstr(c, r->resource_name);
		int16_t e;

		if (name == NULL)
			goto nomem;
		memset(o, 0, sizeof(*o));
		o->resource_type = r->resource_type;
		o->resource_name = r->resource_name;
		o->error_message = FMQ_KAFKA_STR_NULL;
		o->error_code = config_denied(c, f, r->resource_type, name,
					       FMQ_ACL_OP_ALTER_CONFIGS);
		if (o->error_code != 0) {
			o->error_message = astr(c, fmq_kafka_err_message(
				o->error_code));
			continue;
		}
		ctrl_zkcfg_at(c, i);
		e = one(c, r, name, req->validate_only, &changed, msg,
			sizeof(msg));
		if (e < 0)
			goto nomem;
		o->error_code = e;
		if (e != 0)
			o->error_message = astr(c, msg);
	}
	if (changed)
		ctrl_publish(c);
	if (ctrl_zkcfg_end(c, &resp, false))
		return;      /* answered once ZooKeeper has the changes */
	ctrl_respond(c, f, &resp);
	return;
nomem:
	if (changed)
		ctrl_publish(c);
	if (ctrl_zkcfg_end(c, &resp, true))
		return;      /* closed once its writes are back */
	ctrl_close_conn(c, f);
}

void
ctrl_alter_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	alter_configs(c, f, reqp, alter_incremental);
}

void
ctrl_legacy_alter_configs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	alter_configs(c, f, reqp, replace_configs);
}

void
ctrl_init_producer_id(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_init_producer_id_req *req = reqp;
	struct fmq_kafka_init_producer_id_resp resp;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.producer_id = -1;
	resp.producer_epoch = -1;
	if (req->transactional_id.len >= 0) {
		ctrl_txn_init_pid(c, f, reqp);
		return;
	} else if (c->acl_on &&
		   !ctrl_acl_cluster(c, f, FMQ_ACL_OP_IDEMPOTENT_WRITE) &&
		   !fmq_acl_authorize_any(c->sec->acl, &f->principal,
					  f->client_ip, FMQ_ACL_RES_TOPIC,
					  FMQ_ACL_OP_WRITE)) {
		/* Idempotence: IDEMPOTENT_WRITE on the cluster or WRITE on
		 * any topic (Kafka's check). */
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
	} else if (f->api_version >= 3 && req->producer_id >= 0 &&
		   req->producer_epoch >= 0 && req->producer_epoch < INT16_MAX - 1) {
		/* KIP-360: an idempotent producer bumps its own epoch. */
		resp.producer_id = req->producer_id;
		resp.producer_epoch = (int16_t)(req->producer_epoch + 1);
	} else if (c->cl != NULL) {
		ctrl_zk_init_pid(c, f);
		return;
	} else {
		int64_t pid = ctrl_alloc_pid(c);
		if (pid < 0) {
			resp.error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
		} else {
			resp.producer_id = pid;
			resp.producer_epoch = 0;
		}
	}
	ctrl_respond(c, f, &resp);
}
