/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * ACLs: Kafka's authorization model (AclAuthorizer / StandardAuthorizer).
 *
 * A binding allows or denies one operation on a resource pattern (a
 * literal name, "*" for every name, or a name prefix) to a principal
 * ("User:alice", or "User:*" for every user) from a host (a client's IPv4
 * address as Kafka prints it, or "*").
 *
 * A decision, in Kafka's order:
 *   1. a super user (super.users) is allowed everything;
 *   2. any matching DENY denies;
 *   3. any matching ALLOW allows (ALLOW of READ, WRITE, DELETE or ALTER
 *      implies DESCRIBE; ALLOW of ALTER_CONFIGS implies DESCRIBE_CONFIGS;
 *      ALL matches every operation);
 *   4. otherwise allow.everyone.if.no.acl.found decides, and only when the
 *      resource has no ACL at all (for anyone); else deny.
 *
 * struct fmq_acl_db is a part of the security snapshot (fmq_sec.h):
 * built by the control lcore, immutable once published. Bindings are
 * sorted by resource type, pattern type and name, so a decision is a
 * binary search in the literal names plus a scan of the prefixes of that
 * resource type: no allocation, no lock, no system call.
 */
#ifndef FMQ_ACL_H
#define FMQ_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_sec.h"

/** Resource types (Kafka's codes). */
enum fmq_acl_res {
	FMQ_ACL_RES_UNKNOWN = 0,
	FMQ_ACL_RES_ANY = 1,          /**< filters only */
	FMQ_ACL_RES_TOPIC = 2,
	FMQ_ACL_RES_GROUP = 3,
	FMQ_ACL_RES_CLUSTER = 4,
	FMQ_ACL_RES_TRANSACTIONAL_ID = 5,
	FMQ_ACL_RES_DELEGATION_TOKEN = 6,
	FMQ_ACL_RES_USER = 7,
	FMQ_ACL_RES_MAX
};

/** Pattern types (Kafka's codes). */
enum fmq_acl_pat {
	FMQ_ACL_PAT_UNKNOWN = 0,
	FMQ_ACL_PAT_ANY = 1,          /**< filters only: any type, exact name */
	FMQ_ACL_PAT_MATCH = 2,        /**< filters only: what matches name */
	FMQ_ACL_PAT_LITERAL = 3,
	FMQ_ACL_PAT_PREFIXED = 4,
};

/** Operations (Kafka's codes). */
enum fmq_acl_op {
	FMQ_ACL_OP_UNKNOWN = 0,
	FMQ_ACL_OP_ANY = 1,           /**< filters only */
	FMQ_ACL_OP_ALL = 2,
	FMQ_ACL_OP_READ = 3,
	FMQ_ACL_OP_WRITE = 4,
	FMQ_ACL_OP_CREATE = 5,
	FMQ_ACL_OP_DELETE = 6,
	FMQ_ACL_OP_ALTER = 7,
	FMQ_ACL_OP_DESCRIBE = 8,
	FMQ_ACL_OP_CLUSTER_ACTION = 9,
	FMQ_ACL_OP_DESCRIBE_CONFIGS = 10,
	FMQ_ACL_OP_ALTER_CONFIGS = 11,
	FMQ_ACL_OP_IDEMPOTENT_WRITE = 12,
	FMQ_ACL_OP_CREATE_TOKENS = 13,
	FMQ_ACL_OP_DESCRIBE_TOKENS = 14,
	FMQ_ACL_OP_MAX
};

/** Permission types (Kafka's codes). */
enum fmq_acl_perm {
	FMQ_ACL_PERM_UNKNOWN = 0,
	FMQ_ACL_PERM_ANY = 1,         /**< filters only */
	FMQ_ACL_PERM_DENY = 2,
	FMQ_ACL_PERM_ALLOW = 3,
};

/** The name of the one CLUSTER resource. */
#define FMQ_ACL_CLUSTER_NAME "kafka-cluster"

/**
 * One ACL binding, or (fmq_acl_filter_match) a filter: then the codes may
 * be the ANY / MATCH ones and a NULL string matches anything. Strings are
 * NUL-terminated.
 */
struct fmq_acl_binding {
	uint8_t res;          /**< enum fmq_acl_res */
	uint8_t pat;          /**< enum fmq_acl_pat */
	uint8_t op;           /**< enum fmq_acl_op */
	uint8_t perm;         /**< enum fmq_acl_perm */
	const char *name;
	const char *principal;
	const char *host;
};

/** Settings a database decides with (from the broker configuration). */
struct fmq_acl_conf {
	/** "User:admin;User:bob" (entries trimmed), or NULL / "". */
	const char *super_users;
	bool allow_if_no_acl;  /**< allow.everyone.if.no.acl.found */
};

struct fmq_acl_db;

/** Decisions by operation: one per data lcore and one on the control
 * lcore (summed for /metrics). */
struct fmq_acl_stats {
	uint64_t allowed[FMQ_ACL_OP_MAX];
	uint64_t denied[FMQ_ACL_OP_MAX];
};

/**
 * Build a database (one reference) from n bindings: strings are copied,
 * duplicates dropped. Bindings are not validated here (see
 * fmq_acl_validate).
 * @return NULL when out of memory or a super user entry is not
 *   "Type:name" (errno EINVAL).
 */
struct fmq_acl_db *fmq_acl_db_new(const struct fmq_acl_conf *conf,
				  const struct fmq_acl_binding *b, size_t n);
/** Drop a reference (as fmq_sec_part_put). */
void fmq_acl_db_put(struct fmq_acl_db *db);
/** Bindings in the database, in its sorted order. */
size_t fmq_acl_db_count(const struct fmq_acl_db *db);
const struct fmq_acl_binding *fmq_acl_db_at(const struct fmq_acl_db *db,
					    size_t i);
/** The settings the database was built with (super users as given). */
const struct fmq_acl_conf *fmq_acl_db_conf(const struct fmq_acl_db *db);

/**
 * Check a new binding as Kafka's CreateAcls does.
 * @return 0, or -1 with *why set to Kafka's message (INVALID_REQUEST).
 */
int fmq_acl_validate(const struct fmq_acl_binding *b, const char **why);

/** True when filter f (ANY / MATCH codes, NULL strings) matches b, with
 * Kafka's AclBindingFilter semantics. */
bool fmq_acl_filter_match(const struct fmq_acl_binding *f,
			  const struct fmq_acl_binding *b);

/**
 * Is principal p, connected from client_ip (IPv4, network order), allowed
 * op on resource (res, name of len bytes)? db NULL: no authorizer, allowed.
 */
bool fmq_acl_authorize(const struct fmq_acl_db *db,
		       const struct fmq_principal *p, uint32_t client_ip,
		       enum fmq_acl_res res, const char *name, size_t len,
		       enum fmq_acl_op op);

/**
 * May p do op on some resource of type res (Kafka's authorizeByResourceType,
 * e.g. InitProducerId's "WRITE on any topic")? A super user may; a DENY on
 * every name ("*") denies; then any ALLOW that no DENY on the same literal
 * name or a covering prefix takes back allows; else allow.everyone.if.no.
 * acl.found when the type has no ACL at all.
 */
bool fmq_acl_authorize_any(const struct fmq_acl_db *db,
			   const struct fmq_principal *p, uint32_t client_ip,
			   enum fmq_acl_res res, enum fmq_acl_op op);

/** fmq_acl_authorize, counted in st. */
static inline bool
fmq_acl_check(const struct fmq_acl_db *db, const struct fmq_principal *p,
	      uint32_t client_ip, enum fmq_acl_res res, const char *name,
	      size_t len, enum fmq_acl_op op, struct fmq_acl_stats *st)
{
	bool ok;

	if (db == NULL)
		return true;
	ok = fmq_acl_authorize(db, p, client_ip, res, name, len, op);
	if (ok)
		st->allowed[op]++;
	else
		st->denied[op]++;
	return ok;
}

struct fmq_metrics_out;
/** Render st as the counter family name{operation="READ",result="allowed"}
 * (operations never decided are left out). */
void fmq_acl_stats_render(struct fmq_metrics_out *out, const char *name,
			  const char *help, const struct fmq_acl_stats *st);

/**
 * Kafka's authorized operations bit field (bit n: operation code n) of
 * the operations p may do on the resource, among those Kafka lists for
 * its type; db NULL: all of them.
 */
int32_t fmq_acl_authorized_ops(const struct fmq_acl_db *db,
			       const struct fmq_principal *p,
			       uint32_t client_ip, enum fmq_acl_res res,
			       const char *name, size_t len);

/**
 * Text form of the bindings for the ACL file: one binding a line, fields
 * separated by spaces, strings %-escaped. Returns a malloc'd NUL-terminated
 * buffer (free it), or NULL when out of memory.
 */
char *fmq_acl_db_dump(const struct fmq_acl_db *db);

/**
 * Build a database from the text of fmq_acl_db_dump.
 * @return NULL with err filled ("line N: reason") when the text is
 *   malformed (errno EINVAL) or out of memory (errno ENOMEM).
 */
struct fmq_acl_db *fmq_acl_db_load(const struct fmq_acl_conf *conf,
				   const char *text, char *err,
				   size_t errlen);

/** Kafka's names ("TOPIC", "READ", ...) for logs and metrics; "UNKNOWN"
 * out of range. */
const char *fmq_acl_res_name(int code);
const char *fmq_acl_op_name(int code);

#endif
