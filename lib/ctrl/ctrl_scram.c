/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SCRAM credentials on the control lcore: the store loaded at start from
 * sasl.credentials.file, DescribeUserScramCredentials (50) and
 * AlterUserScramCredentials (51) with Kafka's errors. A change is written
 * to the file (atomically, fsynced) before a new store is published in the
 * security snapshot and before the answer goes out: a client that heard
 * "altered" can log in with the new credential, and so can one after a
 * restart.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_sasl.h"

/*
 * Kafka requires DESCRIBE on the CLUSTER for API 50 and ALTER on the
 * CLUSTER for API 51 (CLUSTER_AUTHORIZATION_FAILED otherwise).
 */
static bool
ctrl_scram_cluster_authorized(struct fmq_ctrl *c, const struct fmq_bfwd *f,
			      bool alter)
{
	return ctrl_acl_cluster(c, f, alter ? FMQ_ACL_OP_ALTER :
				FMQ_ACL_OP_DESCRIBE);
}

int
ctrl_scram_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	char path[FMQ_CFG_STR_MAX + 64], msg[512];
	struct fmq_scram_db *db;
	struct fmq_sec_snap *s;

	fmq_scram_db_path(c->cfg, path, sizeof(path));
	db = fmq_scram_db_load(path, msg, sizeof(msg));
	if (db == NULL) {
		fmq_config_error(c->cfg, "sasl.credentials.file", err, errlen,
				 "%s", msg);
		return -1;
	}
	s = fmq_sec_snap_derive(c->sec);
	if (s == NULL) {
		fmq_sec_part_put(&db->part);
		snprintf(err, errlen, "ctrl: out of memory");
		return -1;
	}
	fmq_sec_part_put((struct fmq_sec_part *)(void *)s->scram);
	s->scram = db;
	fmq_sec_snap_put(c->sec);
	c->sec = s;
	if (db->n > 0)
		FMQ_INFO("ctrl", "%u SCRAM user(s) from %s", db->n, path);
	return 0;
}

static const struct fmq_scram_db *
cur_db(const struct fmq_ctrl *c)
{
	return c->sec != NULL ? c->sec->scram : NULL;
}

static int
kafka_mech(int8_t code)
{
	return code == FMQ_SCRAM_KAFKA_SHA_256 ? FMQ_SASL_SCRAM_SHA_256 :
		code == FMQ_SCRAM_KAFKA_SHA_512 ? FMQ_SASL_SCRAM_SHA_512 : -1;
}

static bool
str_eq(struct fmq_kafka_str a, struct fmq_kafka_str b)
{
	return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p,
						       (size_t)a.len) == 0);
}

static void
describe_user(struct fmq_kafka_describe_user_scram_credentials_resp_describe_user_scram_credentials_result *r,
	      struct fmq_ctrl *c, const struct fmq_scram_user *u)
{
	int k = 0;

	r->credential_infos = fmq_kafka_arena_alloc(&c->arena,
						    2 * sizeof(*r->credential_infos));
	if (r->credential_infos == NULL) {
		r->credential_infos_count = 0;
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (!u->cred[i].set)
			continue;
		memset(&r->credential_infos[k], 0,
		       sizeof(r->credential_infos[k]));
		r->credential_infos[k].mechanism = (int8_t)(i + 1);
		r->credential_infos[k].iterations =
			(int32_t)u->cred[i].iterations;
		k++;
	}
	r->credential_infos_count = k;
}

void
ctrl_describe_scram(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_describe_user_scram_credentials_req *req = reqp;
	struct fmq_kafka_describe_user_scram_credentials_resp resp;
	const struct fmq_scram_db *db = cur_db(c);
	int32_t n = req->users_count < 0 ? 0 : req->users_count;
	uint32_t all = db != NULL ? db->n : 0;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	if (!ctrl_scram_cluster_authorized(c, f, false)) {
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.results_count = 0;
		ctrl_respond(c, f, &resp);
		return;
	}
	resp.results = fmq_kafka_arena_alloc(&c->arena, (n > 0 ? (size_t)n :
		(size_t)all + 1) * sizeof(*resp.results));
	if (resp.results == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	if (n == 0) {
		/* Null or empty: every user. */
		for (uint32_t i = 0; i < all; i++) {
			memset(&resp.results[i], 0, sizeof(resp.results[i]));
			resp.results[i].user = (struct fmq_kafka_str){
				db->users[i].name, db->users[i].name_len };
			resp.results[i].error_message = FMQ_KAFKA_STR_NULL;
			describe_user(&resp.results[i], c, &db->users[i]);
		}
		resp.results_count = (int32_t)all;
		ctrl_respond(c, f, &resp);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct fmq_kafka_str name = req->users[i].name;
		const struct fmq_scram_user *u;
		bool dup = false;

		memset(&resp.results[i], 0, sizeof(resp.results[i]));
		resp.results[i].user = name;
		resp.results[i].error_message = FMQ_KAFKA_STR_NULL;
		for (int32_t j = 0; j < n; j++)
			if (j != i && str_eq(req->users[j].name, name))
				dup = true;
		if (dup) {
			resp.results[i].error_code =
				FMQ_KERR_DUPLICATE_RESOURCE;
			resp.results[i].error_message = fmq_kafka_str(
				"Cannot describe SCRAM credentials for the "
				"same user twice in a single request");
			continue;
		}
		u = name.len > 0 ? fmq_scram_db_find(db, name.p,
						     (size_t)name.len) : NULL;
		if (u == NULL) {
			resp.results[i].error_code =
				FMQ_KERR_RESOURCE_NOT_FOUND;
			resp.results[i].error_message = fmq_kafka_str(
				"Attempt to describe a user credential that "
				"does not exist");
			continue;
		}
		describe_user(&resp.results[i], c, u);
	}
	resp.results_count = n;
	ctrl_respond(c, f, &resp);
}

/* One operation of an Alter request, by user. */
struct scram_op {
	struct fmq_kafka_str name;
	int8_t mech;
	bool del;
	const struct fmq_kafka_alter_user_scram_credentials_req_scram_credential_upsertion *up;
};

/* Check one operation against the store: 0 or a Kafka error + message. */
static int16_t
check_op(const struct fmq_scram_db *db, const struct scram_op *op,
	 const char **msg)
{
	int m = kafka_mech(op->mech);

	if (op->name.len <= 0) {
		*msg = "Username must not be empty";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	if (m < 0) {
		*msg = "Unknown SCRAM mechanism";
		return FMQ_KERR_UNSUPPORTED_SASL_MECHANISM;
	}
	if (op->name.len > FMQ_SCRAM_NAME_MAX ||
	    memchr(op->name.p, '\n', (size_t)op->name.len) != NULL) {
		*msg = "User name too long or not one line";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	if (op->del) {
		const struct fmq_scram_user *u = fmq_scram_db_find(db,
			op->name.p, (size_t)op->name.len);
		if (u == NULL || !u->cred[fmq_scram_idx(m)].set) {
			*msg = "Attempt to delete a user credential that does "
				"not exist";
			return FMQ_KERR_RESOURCE_NOT_FOUND;
		}
		return 0;
	}
	if (op->up->iterations < FMQ_SCRAM_ITER_MIN) {
		*msg = "Too few iterations";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	if (op->up->iterations > FMQ_SCRAM_ITER_MAX) {
		*msg = "Too many iterations";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	if (op->up->salt.len <= 0 || op->up->salt.len > FMQ_SCRAM_SALT_MAX) {
		*msg = "Salt must be 1..64 bytes";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	if (op->up->salted_password.len !=
	    (int32_t)fmq_scram_hlen((enum fmq_sasl_mech)m)) {
		*msg = "Salted password has the wrong length";
		return FMQ_KERR_UNACCEPTABLE_CREDENTIAL;
	}
	return 0;
}

/* Find or add the user named in v[0..*n). */
static struct fmq_scram_user *
user_slot(struct fmq_scram_user *v, uint32_t *n, struct fmq_kafka_str name)
{
	for (uint32_t i = 0; i < *n; i++)
		if (v[i].name_len == name.len &&
		    memcmp(v[i].name, name.p, (size_t)name.len) == 0)
			return &v[i];
	memset(&v[*n], 0, sizeof(v[*n]));
	v[*n].name_len = (uint16_t)name.len;
	memcpy(v[*n].name, name.p, (size_t)name.len);
	return &v[(*n)++];
}

void
ctrl_alter_scram(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_alter_user_scram_credentials_req *req = reqp;
	struct fmq_kafka_alter_user_scram_credentials_resp resp;
	const struct fmq_scram_db *db = cur_db(c);
	int32_t nd = req->deletions_count < 0 ? 0 : req->deletions_count;
	int32_t nu = req->upsertions_count < 0 ? 0 : req->upsertions_count;
	uint32_t nops = (uint32_t)(nd + nu), nres = 0, nv = 0, old_n;
	struct scram_op *ops;
	struct fmq_scram_user *v = NULL;
	bool changed = false, authorized;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	authorized = ctrl_scram_cluster_authorized(c, f, true);
	ops = fmq_kafka_arena_alloc(&c->arena, (nops ? nops : 1) *
				    sizeof(*ops));
	resp.results = fmq_kafka_arena_alloc(&c->arena, (nops ? nops : 1) *
					     sizeof(*resp.results));
	old_n = db != NULL ? db->n : 0;
	v = calloc(old_n + nops + 1, sizeof(*v));
	if (ops == NULL || resp.results == NULL || v == NULL) {
		free(v);
		ctrl_close_conn(c, f);
		return;
	}
	if (old_n > 0)
		memcpy(v, db->users, sizeof(*v) * old_n);
	nv = old_n;
	for (int32_t i = 0; i < nd; i++)
		ops[i] = (struct scram_op){ req->deletions[i].name,
			req->deletions[i].mechanism, true, NULL };
	for (int32_t i = 0; i < nu; i++)
		ops[nd + i] = (struct scram_op){ req->upsertions[i].name,
			req->upsertions[i].mechanism, false,
			&req->upsertions[i] };
	/* One result per user; a user with any bad operation gets that
	 * error and none of its operations is applied (as Kafka). */
	for (uint32_t i = 0; i < nops; i++) {
		struct fmq_kafka_alter_user_scram_credentials_resp_alter_user_scram_credentials_result *r;
		int16_t e = 0;
		const char *msg = NULL;
		bool seen = false;

		for (uint32_t j = 0; j < i; j++)
			if (str_eq(ops[j].name, ops[i].name))
				seen = true;
		if (seen)
			continue;
		r = &resp.results[nres++];
		memset(r, 0, sizeof(*r));
		r->user = ops[i].name;
		r->error_message = FMQ_KAFKA_STR_NULL;
		if (!authorized) {
			r->error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
			continue;
		}
		for (uint32_t j = i; j < nops && e == 0; j++) {
			if (!str_eq(ops[j].name, ops[i].name))
				continue;
			for (uint32_t k = i; k < j && e == 0; k++)
				if (str_eq(ops[k].name, ops[i].name) &&
				    ops[k].mech == ops[j].mech &&
				    kafka_mech(ops[j].mech) >= 0) {
					e = FMQ_KERR_DUPLICATE_RESOURCE;
					msg = "A user credential cannot be "
						"altered twice in the same "
						"request";
				}
			if (e == 0)
				e = check_op(db, &ops[j], &msg);
		}
		if (e != 0) {
			r->error_code = e;
			r->error_message = fmq_kafka_str(msg);
			continue;
		}
		for (uint32_t j = i; j < nops; j++) {
			struct fmq_scram_user *u;
			enum fmq_sasl_mech m;

			if (!str_eq(ops[j].name, ops[i].name))
				continue;
			m = (enum fmq_sasl_mech)kafka_mech(ops[j].mech);
			u = user_slot(v, &nv, ops[j].name);
			if (ops[j].del) {
				memset(&u->cred[fmq_scram_idx(m)], 0,
				       sizeof(u->cred[0]));
			} else if (fmq_scram_cred_from_salted(
					&u->cred[fmq_scram_idx(m)], m,
					ops[j].up->salt.p,
					(size_t)ops[j].up->salt.len,
					(uint32_t)ops[j].up->iterations,
					ops[j].up->salted_password.p,
					(size_t)ops[j].up->salted_password.len)
				   < 0) {
				r->error_code = FMQ_KERR_UNKNOWN_SERVER_ERROR;
				continue;
			}
			changed = true;
		}
	}
	resp.results_count = (int32_t)nres;
	if (changed) {
		char path[FMQ_CFG_STR_MAX + 64];
		struct fmq_scram_db *ndb;
		struct fmq_sec_snap *s;
		uint32_t k = 0;
		int rc = -ENOMEM;

		/* Users left with no credential are gone. */
		for (uint32_t i = 0; i < nv; i++)
			if (v[i].cred[0].set || v[i].cred[1].set)
				v[k++] = v[i];
		ndb = fmq_scram_db_new(v, k);
		s = ndb != NULL ? fmq_sec_snap_derive(c->sec) : NULL;
		fmq_scram_db_path(c->cfg, path, sizeof(path));
		if (s != NULL)
			rc = fmq_scram_db_save(ndb, path);
		if (rc < 0) {
			/* Nothing applied: every applied user fails. */
			FMQ_ERR("ctrl", "cannot write %s: %s", path,
				strerror(-rc));
			for (uint32_t i = 0; i < nres; i++)
				if (resp.results[i].error_code == 0) {
					resp.results[i].error_code =
						FMQ_KERR_UNKNOWN_SERVER_ERROR;
					resp.results[i].error_message = fmq_kafka_str(
						"Cannot persist the "
						"credentials");
				}
			if (ndb != NULL)
				fmq_sec_part_put(&ndb->part);
			fmq_sec_snap_put(s);
		} else {
			fmq_sec_part_put((struct fmq_sec_part *)(void *)
					 s->scram);
			s->scram = ndb;
			c->st.scram_changes++;
			if (ctrl_sec_publish(c, s) < 0)
				FMQ_ERR("ctrl", "cannot publish the new "
					"credentials (out of memory)");
		}
	}
	OPENSSL_cleanse(v, sizeof(*v) * (old_n + nops + 1));
	free(v);
	ctrl_respond(c, f, &resp);
}
