/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client quotas on the control lcore: DescribeClientQuotas (48) and
 * AlterClientQuotas (49), Kafka's semantics for the user and client-id
 * entity types. Quotas persist in <log dir>/__fluxmq/quotas (rewritten
 * atomically) before a change is answered, and every change publishes a
 * new security snapshot with a new fmq_quota_db, which the data lcores
 * enforce.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_quota.h"

#define QUOTA_FILE "quotas"

/* Kafka's match types in DescribeClientQuotas filters. */
enum { MATCH_EXACT = 0, MATCH_DEFAULT = 1, MATCH_ANY = 2 };

static const char *const type_names[2] = { "user", "client-id" };

static void
quota_path(const struct fmq_ctrl *c, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", c->dir, QUOTA_FILE);
}

int
ctrl_quota_load(struct fmq_ctrl *c, char *err, size_t errlen)
{
	char path[FMQ_CFG_STR_MAX + 64];
	struct fmq_quota_db *db;
	struct fmq_sec_snap *s;
	int rc;

	quota_path(c, path, sizeof(path));
	rc = fmq_quota_db_load(path, &db, err, errlen);
	if (rc < 0)
		return rc;
	if (db == NULL)
		return 0;
	s = fmq_sec_snap_derive(c->sec);
	if (s == NULL) {
		fmq_sec_part_put(&db->part);
		snprintf(err, errlen, "ctrl: out of memory");
		return -ENOMEM;
	}
	fmq_sec_part_put((struct fmq_sec_part *)(void *)s->quota);
	s->quota = db;
	/* Not yet published: fmq_ctrl_create publishes once, at its end. */
	fmq_sec_snap_put(c->sec);
	c->sec = s;
	FMQ_INFO("ctrl", "client quotas: %u entit%s from %s", db->n,
		 db->n == 1 ? "y" : "ies", path);
	return 0;
}

static const struct fmq_quota_db *
cur_db(const struct fmq_ctrl *c)
{
	return c->sec != NULL ? c->sec->quota : NULL;
}

/* ------------------------------------------------ DescribeClientQuotas */

/* One side of an entity against one filter component (NULL: the filter
 * does not name this entity type). Kafka's ZkAdminManager rules. */
static bool
side_matches(const struct fmq_kafka_describe_client_quotas_req_component_data
	     *fc, bool strict, uint8_t kind, const char *name, uint16_t len)
{
	if (fc == NULL)
		return kind == FMQ_QS_NONE || !strict;
	switch (fc->match_type) {
	case MATCH_EXACT:
		return kind == FMQ_QS_NAME && fc->match.len == (int32_t)len &&
			memcmp(fc->match.p, name, len) == 0;
	case MATCH_DEFAULT:
		return kind == FMQ_QS_DEFAULT;
	default:
		return kind != FMQ_QS_NONE;   /* any name, <default> too */
	}
}

static void
describe_error(struct fmq_ctrl *c, struct fmq_bfwd *f, const char *msg)
{
	struct fmq_kafka_describe_client_quotas_resp resp;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.error_code = FMQ_KERR_INVALID_REQUEST;
	resp.error_message = fmq_kafka_str(msg);
	resp.entries = NULL;
	resp.entries_count = -1;
	ctrl_respond(c, f, &resp);
}

static struct fmq_kafka_str
side_name(uint8_t kind, const char *name, uint16_t len)
{
	struct fmq_kafka_str s = { name, len };

	return kind == FMQ_QS_DEFAULT ? FMQ_KAFKA_STR_NULL : s;
}

void
ctrl_describe_client_quotas(struct fmq_ctrl *c, struct fmq_bfwd *f, void *rq)
{
	const struct fmq_kafka_describe_client_quotas_req *req = rq;
	const struct fmq_kafka_describe_client_quotas_req_component_data
		*fc[2] = { NULL, NULL };
	const struct fmq_quota_db *db = cur_db(c);
	struct fmq_kafka_describe_client_quotas_resp resp;
	static char msg[128];
	uint32_t n = 0;

	for (int32_t i = 0; i < req->components_count; i++) {
		const struct fmq_kafka_describe_client_quotas_req_component_data
			*cd = &req->components[i];
		size_t tl = (size_t)RTE_MAX(cd->entity_type.len, 0);
		int t = fmq_quota_type_parse(cd->entity_type.p, tl);

		if (t < 0) {
			snprintf(msg, sizeof(msg), "Custom entity type '%.*s' "
				 "not supported (FluxMQ has user and "
				 "client-id quotas)",
				 (int)RTE_MIN(tl, (size_t)40),
				 cd->entity_type.p);
			describe_error(c, f, msg);
			return;
		}
		if (fc[t] != NULL) {
			describe_error(c, f, "Duplicate entity type in filter");
			return;
		}
		if (cd->match_type < MATCH_EXACT ||
		    cd->match_type > MATCH_ANY) {
			describe_error(c, f, "Unknown match type");
			return;
		}
		if ((cd->match_type == MATCH_EXACT) != (cd->match.len >= 0)) {
			describe_error(c, f, cd->match_type == MATCH_EXACT ?
				       "Exact match requires a name" :
				       "Only an exact match takes a name");
			return;
		}
		fc[t] = cd;
	}
	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	/* Kafka: DESCRIBE_CONFIGS on the CLUSTER. */
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_DESCRIBE_CONFIGS)) {
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.error_message = FMQ_KAFKA_STR_NULL;
		resp.entries = NULL;
		resp.entries_count = -1;
		ctrl_respond(c, f, &resp);
		return;
	}
	resp.error_code = 0;
	resp.error_message = FMQ_KAFKA_STR_NULL;
	resp.entries_count = 0;
	resp.entries = fmq_kafka_arena_alloc(&c->arena, (db != NULL && db->n ?
		db->n : 1) * sizeof(*resp.entries));
	if (resp.entries == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (uint32_t i = 0; db != NULL && i < db->n; i++) {
		const struct fmq_quota_entity *e = &db->e[i];
		struct fmq_kafka_describe_client_quotas_resp_entry_data *o;
		struct fmq_kafka_describe_client_quotas_resp_entity_data *ed;
		struct fmq_kafka_describe_client_quotas_resp_value_data *vd;
		int nv = 0;

		if (!side_matches(fc[0], req->strict, e->user_kind, e->user,
				  e->user_len) ||
		    !side_matches(fc[1], req->strict, e->client_kind,
				  e->client, e->client_len))
			continue;
		o = &resp.entries[n++];
		memset(o, 0, sizeof(*o));
		ed = fmq_kafka_arena_alloc(&c->arena, 2 * sizeof(*ed));
		vd = fmq_kafka_arena_alloc(&c->arena,
					   FMQ_QUOTA_NKEYS * sizeof(*vd));
		if (ed == NULL || vd == NULL) {
			ctrl_close_conn(c, f);
			return;
		}
		memset(ed, 0, 2 * sizeof(*ed));
		memset(vd, 0, FMQ_QUOTA_NKEYS * sizeof(*vd));
		o->entity = ed;
		if (e->user_kind != FMQ_QS_NONE) {
			ed[o->entity_count].entity_type =
				fmq_kafka_str(type_names[0]);
			ed[o->entity_count++].entity_name =
				side_name(e->user_kind, e->user, e->user_len);
		}
		if (e->client_kind != FMQ_QS_NONE) {
			ed[o->entity_count].entity_type =
				fmq_kafka_str(type_names[1]);
			ed[o->entity_count++].entity_name =
				side_name(e->client_kind, e->client,
					  e->client_len);
		}
		for (int k = 0; k < FMQ_QUOTA_NKEYS; k++) {
			if (!(e->set & (1u << k)))
				continue;
			vd[nv].key = fmq_kafka_str(fmq_quota_key_name(k));
			vd[nv++].value = e->value[k];
		}
		o->values = vd;
		o->values_count = nv;
	}
	resp.entries_count = (int32_t)n;
	ctrl_respond(c, f, &resp);
}

/* -------------------------------------------------- AlterClientQuotas */

/* The entity of a request entry; NULL with msg set when Kafka would
 * refuse it. */
static const char *
parse_entity(const struct fmq_kafka_alter_client_quotas_req_entry_data *en,
	     struct fmq_quota_entity *e)
{
	memset(e, 0, sizeof(*e));
	if (en->entity_count <= 0)
		return "Empty entity";
	for (int32_t i = 0; i < en->entity_count; i++) {
		const struct fmq_kafka_alter_client_quotas_req_entity_data *d =
			&en->entity[i];
		int t = fmq_quota_type_parse(d->entity_type.p,
					     (size_t)RTE_MAX(d->entity_type.len,
							     0));
		uint8_t *kind;
		char *name;
		uint16_t *len;

		if (t < 0)
			return fmq_kafka_str_eq(d->entity_type, "ip") ?
				"IP quotas are not supported by FluxMQ" :
				"Unknown entity type (FluxMQ has user and "
				"client-id)";
		kind = t == 0 ? &e->user_kind : &e->client_kind;
		name = t == 0 ? e->user : e->client;
		len = t == 0 ? &e->user_len : &e->client_len;
		if (*kind != FMQ_QS_NONE)
			return "Duplicate entity type";
		if (d->entity_name.len < 0) {
			*kind = FMQ_QS_DEFAULT;
			continue;
		}
		if (d->entity_name.len > FMQ_QUOTA_NAME_MAX)
			return "Entity name longer than 255 bytes";
		*kind = FMQ_QS_NAME;
		*len = (uint16_t)d->entity_name.len;
		memcpy(name, d->entity_name.p, *len);
		name[*len] = '\0';
	}
	return NULL;
}

/* Check the ops of an entry against Kafka's quota config definitions. */
static const char *
check_ops(const struct fmq_kafka_alter_client_quotas_req_entry_data *en,
	  char *msg, size_t msglen)
{
	for (int32_t i = 0; i < en->ops_count; i++) {
		const struct fmq_kafka_alter_client_quotas_req_op_data *op =
			&en->ops[i];
		int k = fmq_quota_key_parse(op->key.p,
					    (size_t)RTE_MAX(op->key.len, 0));

		if (k < 0) {
			snprintf(msg, msglen, "Invalid configuration key %.*s",
				 (int)RTE_MIN(RTE_MAX(op->key.len, 0), 60),
				 op->key.p);
			return msg;
		}
		if (op->remove)
			continue;
		if (!isfinite(op->value) || op->value <= 0) {
			snprintf(msg, msglen, "Configuration %s must be "
				 "positive", fmq_quota_key_name(k));
			return msg;
		}
		/* producer_byte_rate and consumer_byte_rate are Kafka LONGs. */
		if ((k == FMQ_QUOTA_PRODUCE || k == FMQ_QUOTA_FETCH) &&
		    (op->value != floor(op->value) || op->value > 9.2e18)) {
			snprintf(msg, msglen, "Configuration %s must be a Long "
				 "value", fmq_quota_key_name(k));
			return msg;
		}
	}
	return NULL;
}

/* Apply the ops of an entry to the working list v[*n]. */
static int
apply_ops(const struct fmq_kafka_alter_client_quotas_req_entry_data *en,
	  const struct fmq_quota_entity *key, struct fmq_quota_entity *v,
	  uint32_t *n)
{
	struct fmq_quota_entity *e = NULL;

	for (uint32_t i = 0; i < *n; i++)
		if (fmq_quota_entity_cmp(&v[i], key) == 0) {
			e = &v[i];
			break;
		}
	if (e == NULL) {
		if (*n >= FMQ_QUOTA_MAX_ENTITIES)
			return -ENOSPC;
		e = &v[(*n)++];
		*e = *key;
	}
	for (int32_t i = 0; i < en->ops_count; i++) {
		const struct fmq_kafka_alter_client_quotas_req_op_data *op =
			&en->ops[i];
		int k = fmq_quota_key_parse(op->key.p, (size_t)op->key.len);

		if (op->remove) {
			e->set &= (uint8_t)~(1u << k);
			e->value[k] = 0;
		} else {
			e->set |= (uint8_t)(1u << k);
			e->value[k] = op->value;
		}
	}
	/* An entity left with no value is dropped (fmq_quota_db_new). */
	return 0;
}

void
ctrl_alter_client_quotas(struct fmq_ctrl *c, struct fmq_bfwd *f, void *rq)
{
	const struct fmq_kafka_alter_client_quotas_req *req = rq;
	const struct fmq_quota_db *db = cur_db(c);
	struct fmq_kafka_alter_client_quotas_resp resp;
	struct fmq_quota_entity *v = NULL, key;
	struct fmq_quota_db *ndb = NULL;
	uint32_t n = 0, cap, changed = 0;
	int32_t ne = RTE_MAX(req->entries_count, 0);
	char path[FMQ_CFG_STR_MAX + 64];
	bool authorized = ctrl_acl_cluster(c, f, FMQ_ACL_OP_ALTER_CONFIGS);
	int rc;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.entries_count = ne;
	resp.entries = fmq_kafka_arena_alloc(&c->arena, (ne ? ne : 1) *
					     sizeof(*resp.entries));
	cap = (db != NULL ? db->n : 0) + (uint32_t)ne;
	v = malloc((cap ? cap : 1) * sizeof(*v));
	if (resp.entries == NULL || v == NULL) {
		free(v);
		ctrl_close_conn(c, f);
		return;
	}
	if (db != NULL) {
		memcpy(v, db->e, db->n * sizeof(*v));
		n = db->n;
	}
	for (int32_t i = 0; i < ne; i++) {
		const struct fmq_kafka_alter_client_quotas_req_entry_data *en =
			&req->entries[i];
		struct fmq_kafka_alter_client_quotas_resp_entry_data *o =
			&resp.entries[i];
		const char *err;
		char *msg = fmq_kafka_arena_alloc(&c->arena, 128);

		if (msg == NULL) {
			free(v);
			ctrl_close_conn(c, f);
			return;
		}
		memset(o, 0, sizeof(*o));
		/* The entity is echoed as the client sent it. */
		o->entity_count = en->entity_count;
		o->entity = fmq_kafka_arena_alloc(&c->arena,
			(size_t)RTE_MAX(en->entity_count, 1) *
			sizeof(*o->entity));
		if (o->entity == NULL) {
			free(v);
			ctrl_close_conn(c, f);
			return;
		}
		for (int32_t j = 0; j < en->entity_count; j++) {
			memset(&o->entity[j], 0, sizeof(o->entity[j]));
			o->entity[j].entity_type = en->entity[j].entity_type;
			o->entity[j].entity_name = en->entity[j].entity_name;
		}
		/* Kafka: ALTER_CONFIGS on the CLUSTER, per entry. */
		if (!authorized) {
			o->error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
			o->error_message = FMQ_KAFKA_STR_NULL;
			continue;
		}
		err = parse_entity(en, &key);
		if (err == NULL)
			err = check_ops(en, msg, 128);
		if (err == NULL && !req->validate_only &&
		    apply_ops(en, &key, v, &n) < 0)
			err = "Too many quota entities";
		if (err != NULL) {
			o->error_code = FMQ_KERR_INVALID_REQUEST;
			o->error_message = fmq_kafka_str(err);
			continue;
		}
		o->error_message = FMQ_KAFKA_STR_NULL;
		if (!req->validate_only)
			changed++;
	}
	if (changed == 0) {
		free(v);
		ctrl_respond(c, f, &resp);
		return;
	}
	ndb = fmq_quota_db_new(v, n);
	free(v);
	quota_path(c, path, sizeof(path));
	rc = ndb == NULL ? -ENOMEM : fmq_quota_db_save(ndb, path);
	if (rc == 0) {
		struct fmq_sec_snap *s = fmq_sec_snap_derive(c->sec);

		if (s == NULL) {
			rc = -ENOMEM;
		} else {
			fmq_sec_part_put((struct fmq_sec_part *)(void *)
					 s->quota);
			/* An empty database is no database: no lookups. */
			if (ndb->n == 0) {
				fmq_sec_part_put(&ndb->part);
				ndb = NULL;
			}
			s->quota = ndb;
			ndb = NULL;
			c->st.quota_changes++;
			if (ctrl_sec_publish(c, s) < 0)
				FMQ_ERR("ctrl", "client quotas saved but not "
					"published: out of memory");
		}
	}
	if (rc < 0) {
		/* Nothing applied: every entry that would have changed
		 * something fails. The file may hold the change when only
		 * the directory fsync failed; it then applies at restart,
		 * as Kafka's would after a retry. */
		FMQ_ERR("ctrl", "cannot save client quotas to %s: %s", path,
			strerror(-rc));
		if (ndb != NULL)
			fmq_sec_part_put(&ndb->part);
		for (int32_t i = 0; i < ne; i++) {
			if (resp.entries[i].error_code != 0)
				continue;
			resp.entries[i].error_code =
				FMQ_KERR_UNKNOWN_SERVER_ERROR;
			resp.entries[i].error_message =
				fmq_kafka_str("The quota change could not be "
					      "saved (see the broker log)");
		}
	}
	ctrl_respond(c, f, &resp);
}

void
ctrl_quota_metrics(struct fmq_metrics_out *out, const struct fmq_ctrl *c)
{
	const struct fmq_quota_db *db = cur_db(c);

	fmq_metrics_one(out, "fluxmq_quota_entities", "gauge",
			"Client quota entities configured (AlterClientQuotas)",
			db != NULL ? db->n : 0);
}
