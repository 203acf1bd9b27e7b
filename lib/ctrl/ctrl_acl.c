/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACLs on the control lcore: the authorizer's settings, the ACL file
 * (<log dir>/__fluxmq/acls, rewritten atomically after every change and
 * loaded at start), and CreateAcls, DescribeAcls, DeleteAcls (v0-3).
 *
 * A change builds a new database, writes it to disk, and only then
 * publishes it in a new security snapshot and answers: an ACL the client
 * heard created (or deleted) stays so across a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_acl.h"

#define ACL_FILE "acls"
/* The generated DeleteAcls response element types. */
#define DELETE_ACLS_T(x) struct fmq_kafka_delete_acls_resp_delete_acls_##x
#define MSG_DISABLED "No Authorizer is configured on the broker"

static const char *const kafka_authorizers[] = {
	"kafka.security.authorizer.AclAuthorizer",
	"org.apache.kafka.metadata.authorizer.StandardAuthorizer",
};

static struct fmq_acl_conf
acl_conf(const struct fmq_ctrl *c)
{
	struct fmq_acl_conf conf = {
		.super_users = c->cfg->super_users,
		.allow_if_no_acl = c->cfg->allow_everyone_if_no_acl_found,
	};
	return conf;
}

static struct fmq_acl_db *
cur_db(const struct fmq_ctrl *c)
{
	return c->sec != NULL ? c->sec->acl : NULL;
}

/* Install db (its reference is taken over) as the ACL part. */
static int
install(struct fmq_ctrl *c, struct fmq_acl_db *db, bool publish)
{
	struct fmq_sec_snap *s = fmq_sec_snap_derive(c->sec);

	if (s == NULL) {
		fmq_acl_db_put(db);
		return -ENOMEM;
	}
	fmq_acl_db_put(s->acl);
	s->acl = db;
	if (publish)
		return ctrl_sec_publish(c, s);
	fmq_sec_snap_put(c->sec);
	c->sec = s;
	return 0;
}

int
ctrl_acl_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	const struct fmq_config *cfg = c->cfg;
	struct fmq_acl_conf conf = acl_conf(c);
	char path[sizeof(c->dir) + 16];
	struct fmq_acl_db *db;
	char *text = NULL;
	FILE *f;

	c->acl_on = cfg->authorizer_enabled;
	if (cfg->authorizer_class_name[0] != '\0') {
		bool known = false;

		for (size_t i = 0; i < RTE_DIM(kafka_authorizers); i++)
			known |= strcmp(cfg->authorizer_class_name,
					kafka_authorizers[i]) == 0;
		if (!known)
			return fmq_config_error(cfg, "authorizer.class.name",
				err, errlen, "unknown authorizer %s (FluxMQ "
				"accepts %s or %s, or authorizer.enabled=true)",
				cfg->authorizer_class_name,
				kafka_authorizers[0], kafka_authorizers[1]);
		c->acl_on = true;
	}
	if (!c->acl_on)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", c->dir, ACL_FILE);
	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (f != NULL) {
		long len = -1;

		if (fseek(f, 0, SEEK_END) == 0)
			len = ftell(f);
		if (len >= 0 && fseek(f, 0, SEEK_SET) == 0)
			text = malloc((size_t)len + 1);
		if (text == NULL || fread(text, 1, (size_t)len, f) !=
		    (size_t)len) {
			snprintf(err, errlen, "%s: cannot read", path);
			fclose(f);
			free(text);
			return -EIO;
		}
		text[len] = '\0';
		fclose(f);
	}
	if (text != NULL) {
		char why[256];

		db = fmq_acl_db_load(&conf, text, why, sizeof(why));
		free(text);
		if (db == NULL && errno == EINVAL &&
		    strncmp(why, "super.users", 11) == 0)
			return fmq_config_error(cfg, "super.users", err, errlen,
						"an entry is not Type:name");
		if (db == NULL) {
			snprintf(err, errlen, "%s: %s", path, why);
			return -EINVAL;
		}
	} else {
		db = fmq_acl_db_new(&conf, NULL, 0);
		if (db == NULL && errno == EINVAL)
			return fmq_config_error(cfg, "super.users", err, errlen,
						"an entry is not Type:name");
		if (db == NULL) {
			snprintf(err, errlen, "ctrl: out of memory");
			return -ENOMEM;
		}
	}
	if (install(c, db, false) < 0) {
		snprintf(err, errlen, "ctrl: out of memory");
		return -ENOMEM;
	}
	FMQ_INFO("ctrl", "authorizer on: %zu ACL(s) loaded from %s",
		 fmq_acl_db_count(db), path);
	return 0;
}

/* Write the bindings of db to the ACL file: temp file, fsync, rename,
 * fsync of the directory. */
static int
save(struct fmq_ctrl *c, const struct fmq_acl_db *db)
{
	char path[sizeof(c->dir) + 16];
	char *text = fmq_acl_db_dump(db);
	size_t len;
	int rc;

	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	snprintf(path, sizeof(path), "%s/%s", c->dir, ACL_FILE);
	rc = fmq_file_replace(path, 0600, text, len);
	free(text);
	if (rc < 0)
		FMQ_ERR("ctrl", "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

/* Replace the ACLs with db: persisted first, then published. */
static int
commit(struct fmq_ctrl *c, struct fmq_acl_db *db)
{
	int rc = save(c, db);

	if (rc < 0) {
		fmq_acl_db_put(db);
		return rc;
	}
	c->st.acl_changes++;
	return install(c, db, true);
}

bool
ctrl_acl_allow(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	       enum fmq_acl_res res, const char *name, size_t len,
	       enum fmq_acl_op op)
{
	return fmq_acl_check(cur_db(c), &f->principal, f->client_ip, res,
			     name, len, op, &c->acl_st);
}

bool
ctrl_acl_cluster(struct fmq_ctrl *c, const struct fmq_bfwd *f,
		 enum fmq_acl_op op)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_CLUSTER, FMQ_ACL_CLUSTER_NAME,
			      sizeof(FMQ_ACL_CLUSTER_NAME) - 1, op);
}

int32_t
ctrl_acl_ops(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	     enum fmq_acl_res res, const char *name, size_t len)
{
	return fmq_acl_authorized_ops(cur_db(c), &f->principal, f->client_ip,
				      res, name, len);
}

size_t
ctrl_acl_count(const struct fmq_ctrl *c)
{
	return fmq_acl_db_count(cur_db(c));
}

/* ------------------------------------------------------------ requests */

/* A NUL-terminated arena copy of s; NULL for a null string (and when out
 * of memory: *nomem). */
static const char *
zstr(struct fmq_ctrl *c, struct fmq_kafka_str s, bool *nomem)
{
	char *p;

	if (s.len < 0)
		return NULL;
	p = fmq_kafka_arena_alloc(&c->arena, (size_t)s.len + 1);
	if (p == NULL) {
		*nomem = true;
		return NULL;
	}
	memcpy(p, s.p, (size_t)s.len);
	p[s.len] = '\0';
	return p;
}

/* A filter Kafka would refuse: an UNKNOWN code anywhere. */
static bool
filter_ok(const struct fmq_acl_binding *f)
{
	return f->res >= FMQ_ACL_RES_ANY && f->res < FMQ_ACL_RES_MAX &&
		f->pat >= FMQ_ACL_PAT_ANY && f->pat <= FMQ_ACL_PAT_PREFIXED &&
		f->op >= FMQ_ACL_OP_ANY && f->op < FMQ_ACL_OP_MAX &&
		f->perm >= FMQ_ACL_PERM_ANY && f->perm <= FMQ_ACL_PERM_ALLOW;
}

static struct fmq_kafka_str
kstr(const char *s)
{
	return s != NULL ? fmq_kafka_str(s) : FMQ_KAFKA_STR_NULL;
}

void
ctrl_describe_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	const struct fmq_kafka_describe_acls_req *req = reqp;
	struct fmq_kafka_describe_acls_resp resp;
	const struct fmq_acl_db *db = cur_db(c);
	struct fmq_acl_binding flt;
	bool nomem = false;
	size_t n = fmq_acl_db_count(db);

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.resources_count = 0;
	if (!c->acl_on) {
		resp.error_code = FMQ_KERR_SECURITY_DISABLED;
		resp.error_message = FMQ_KAFKA_STR_LIT(MSG_DISABLED);
		goto answer;
	}
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_DESCRIBE)) {
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.error_message = fmq_kafka_str(fmq_kafka_err_message(
			FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED));
		goto answer;
	}
	flt.res = (uint8_t)req->resource_type_filter;
	flt.pat = (uint8_t)req->pattern_type_filter;
	flt.op = (uint8_t)req->operation;
	flt.perm = (uint8_t)req->permission_type;
	flt.name = zstr(c, req->resource_name_filter, &nomem);
	flt.principal = zstr(c, req->principal_filter, &nomem);
	flt.host = zstr(c, req->host_filter, &nomem);
	if (nomem)
		goto fail;
	if (!filter_ok(&flt) || req->resource_type_filter < 0) {
		resp.error_code = FMQ_KERR_INVALID_REQUEST;
		resp.error_message = FMQ_KAFKA_STR_LIT(
			"The filter must not contain UNKNOWN elements");
		goto answer;
	}
	/* The database is sorted by type, pattern and name: the matches of
	 * one resource are consecutive. */
	resp.resources = fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) *
					       sizeof(*resp.resources));
	if (resp.resources == NULL)
		goto fail;
	struct fmq_kafka_describe_acls_resp_describe_acls_resource *r = NULL;
	const struct fmq_acl_binding *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct fmq_acl_binding *b = fmq_acl_db_at(db, i);
		struct fmq_kafka_describe_acls_resp_acl_description *d;

		if (!fmq_acl_filter_match(&flt, b))
			continue;
		if (prev == NULL || prev->res != b->res ||
		    prev->pat != b->pat || strcmp(prev->name, b->name) != 0) {
			r = &resp.resources[resp.resources_count++];
			memset(r, 0, sizeof(*r));
			r->resource_type = (int8_t)b->res;
			r->resource_name = fmq_kafka_str(b->name);
			r->pattern_type = (int8_t)b->pat;
			size_t run = 1;
			for (size_t k = i + 1; k < n; k++) {
				const struct fmq_acl_binding *x =
					fmq_acl_db_at(db, k);
				if (x->res != b->res || x->pat != b->pat ||
				    strcmp(x->name, b->name) != 0)
					break;
				run++;
			}
			r->acls = fmq_kafka_arena_alloc(&c->arena, run *
							sizeof(*r->acls));
			if (r->acls == NULL)
				goto fail;
		}
		prev = b;
		d = &r->acls[r->acls_count++];
		memset(d, 0, sizeof(*d));
		d->principal = fmq_kafka_str(b->principal);
		d->host = fmq_kafka_str(b->host);
		d->operation = (int8_t)b->op;
		d->permission_type = (int8_t)b->perm;
	}
answer:
	ctrl_respond(c, f, &resp);
	return;
fail:
	ctrl_close_conn(c, f);
}

void
ctrl_create_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	const struct fmq_kafka_create_acls_req *req = reqp;
	struct fmq_kafka_create_acls_resp resp;
	struct fmq_acl_db *db = cur_db(c);
	int32_t n = req->creations_count < 0 ? 0 : req->creations_count;
	size_t old = fmq_acl_db_count(db), nb = 0;
	struct fmq_acl_binding *all;
	int16_t all_err = 0;
	const char *all_msg = NULL;
	bool nomem = false;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.results_count = n;
	resp.results = fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) *
					     sizeof(*resp.results));
	all = fmq_kafka_arena_alloc(&c->arena, (old + (size_t)n + 1) *
				    sizeof(*all));
	if (resp.results == NULL || all == NULL)
		goto fail;
	if (!c->acl_on) {
		all_err = FMQ_KERR_SECURITY_DISABLED;
		all_msg = MSG_DISABLED;
	} else if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_ALTER)) {
		all_err = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		all_msg = fmq_kafka_err_message(all_err);
	}
	for (size_t i = 0; i < old; i++)
		all[nb++] = *fmq_acl_db_at(db, i);
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_create_acls_req_acl_creation *rc =
			&req->creations[i];
		struct fmq_kafka_create_acls_resp_acl_creation_result *o =
			&resp.results[i];
		struct fmq_acl_binding b;
		const char *why;

		memset(o, 0, sizeof(*o));
		o->error_message = FMQ_KAFKA_STR_NULL;
		if (all_err != 0) {
			o->error_code = all_err;
			o->error_message = fmq_kafka_str(all_msg);
			continue;
		}
		b.res = (uint8_t)rc->resource_type;
		b.pat = (uint8_t)rc->resource_pattern_type;
		b.op = (uint8_t)rc->operation;
		b.perm = (uint8_t)rc->permission_type;
		b.name = zstr(c, rc->resource_name, &nomem);
		b.principal = zstr(c, rc->principal, &nomem);
		b.host = zstr(c, rc->host, &nomem);
		if (nomem)
			goto fail;
		if (rc->resource_type < 0 || rc->operation < 0 ||
		    rc->permission_type < 0 || rc->resource_pattern_type < 0 ||
		    fmq_acl_validate(&b, &why) < 0) {
			if (rc->resource_type < 0 || rc->operation < 0 ||
			    rc->permission_type < 0 ||
			    rc->resource_pattern_type < 0)
				why = "Unknown code";
			o->error_code = FMQ_KERR_INVALID_REQUEST;
			o->error_message = fmq_kafka_str(why);
			continue;
		}
		all[nb++] = b;
	}
	if (nb > old) {
		struct fmq_acl_conf conf = acl_conf(c);
		struct fmq_acl_db *ndb = fmq_acl_db_new(&conf, all, nb);
		int rc;

		/* The answer's strings point into the request: nothing
		 * needs the old database after the publish. */
		rc = ndb == NULL ? -ENOMEM : commit(c, ndb);
		if (rc < 0) {
			for (int32_t i = 0; i < n; i++) {
				if (resp.results[i].error_code != 0)
					continue;
				resp.results[i].error_code =
					FMQ_KERR_UNKNOWN_SERVER_ERROR;
				resp.results[i].error_message =
					FMQ_KAFKA_STR_LIT("Could not store the "
						"ACLs (see the broker log)");
			}
		} else {
			FMQ_INFO("ctrl", "ACLs: %zu -> %zu binding(s) by %s",
				 old, fmq_acl_db_count(ndb),
				 f->principal.name);
		}
	}
	ctrl_respond(c, f, &resp);
	return;
fail:
	ctrl_close_conn(c, f);
}

void
ctrl_delete_acls(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	const struct fmq_kafka_delete_acls_req *req = reqp;
	struct fmq_kafka_delete_acls_resp resp;
	struct fmq_acl_db *db = cur_db(c);
	int32_t n = req->filters_count < 0 ? 0 : req->filters_count;
	size_t old = fmq_acl_db_count(db), nkeep = 0;
	struct fmq_acl_binding *keep;
	bool *gone;
	int16_t all_err = 0;
	const char *all_msg = NULL;
	bool nomem = false;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.filter_results_count = n;
	resp.filter_results = fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) *
					sizeof(*resp.filter_results));
	keep = fmq_kafka_arena_alloc(&c->arena, (old + 1) * sizeof(*keep));
	gone = fmq_kafka_arena_alloc(&c->arena, old + 1);
	if (resp.filter_results == NULL || keep == NULL || gone == NULL)
		goto fail;
	memset(gone, 0, old + 1);
	if (!c->acl_on) {
		all_err = FMQ_KERR_SECURITY_DISABLED;
		all_msg = MSG_DISABLED;
	} else if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_ALTER)) {
		all_err = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		all_msg = fmq_kafka_err_message(all_err);
	}
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_delete_acls_req_delete_acls_filter *rf =
			&req->filters[i];
		struct fmq_kafka_delete_acls_resp_delete_acls_filter_result *o =
			&resp.filter_results[i];
		struct fmq_acl_binding flt;

		memset(o, 0, sizeof(*o));
		o->error_message = FMQ_KAFKA_STR_NULL;
		if (all_err != 0) {
			o->error_code = all_err;
			o->error_message = fmq_kafka_str(all_msg);
			continue;
		}
		flt.res = (uint8_t)rf->resource_type_filter;
		flt.pat = (uint8_t)rf->pattern_type_filter;
		flt.op = (uint8_t)rf->operation;
		flt.perm = (uint8_t)rf->permission_type;
		flt.name = zstr(c, rf->resource_name_filter, &nomem);
		flt.principal = zstr(c, rf->principal_filter, &nomem);
		flt.host = zstr(c, rf->host_filter, &nomem);
		if (nomem)
			goto fail;
		if (!filter_ok(&flt) || rf->resource_type_filter < 0) {
			o->error_code = FMQ_KERR_INVALID_REQUEST;
			o->error_message = FMQ_KAFKA_STR_LIT(
				"Filters contain UNKNOWN elements");
			continue;
		}
		o->matching_acls = fmq_kafka_arena_alloc(&c->arena,
			(old ? old : 1) * sizeof(*o->matching_acls));
		if (o->matching_acls == NULL)
			goto fail;
		for (size_t k = 0; k < old; k++) {
			const struct fmq_acl_binding *b = fmq_acl_db_at(db, k);
			DELETE_ACLS_T(matching_acl) *m;

			if (!fmq_acl_filter_match(&flt, b))
				continue;
			gone[k] = true;
			m = &o->matching_acls[o->matching_acls_count++];
			memset(m, 0, sizeof(*m));
			m->error_message = FMQ_KAFKA_STR_NULL;
			m->resource_type = (int8_t)b->res;
			m->resource_name = kstr(b->name);
			m->pattern_type = (int8_t)b->pat;
			m->principal = kstr(b->principal);
			m->host = kstr(b->host);
			m->operation = (int8_t)b->op;
			m->permission_type = (int8_t)b->perm;
		}
	}
	for (size_t k = 0; k < old; k++)
		if (!gone[k])
			keep[nkeep++] = *fmq_acl_db_at(db, k);
	if (nkeep < old) {
		struct fmq_acl_conf conf = acl_conf(c);
		struct fmq_acl_db *ndb = fmq_acl_db_new(&conf, keep, nkeep);
		int rc;

		/* The answer names bindings of the old database: hold it
		 * until the answer is encoded. */
		fmq_sec_part_get((struct fmq_sec_part *)(void *)db);
		rc = ndb == NULL ? -ENOMEM : commit(c, ndb);
		if (rc < 0) {
			for (int32_t i = 0; i < n; i++) {
				DELETE_ACLS_T(filter_result) *o =
					&resp.filter_results[i];
				if (o->error_code != 0)
					continue;
				o->error_code = FMQ_KERR_UNKNOWN_SERVER_ERROR;
				o->error_message = FMQ_KAFKA_STR_LIT(
					"Could not store the ACLs (see the "
					"broker log)");
				o->matching_acls_count = 0;
			}
		} else {
			FMQ_INFO("ctrl", "ACLs: %zu -> %zu binding(s) by %s",
				 old, nkeep, f->principal.name);
		}
		ctrl_respond(c, f, &resp);
		fmq_acl_db_put(db);
		return;
	}
	ctrl_respond(c, f, &resp);
	return;
fail:
	ctrl_close_conn(c, f);
}
