/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/sec: authentication and authorization shared by the data lcores and
 * the control lcore.
 *
 *  - principals: who a connection is ("User:alice", "User:ANONYMOUS");
 *  - the security snapshot: SASL credentials, ACLs and quotas, immutable,
 *    published by the control lcore inside each topic metadata snapshot
 *    (struct fmq_bmeta.sec), so data lcores read it with no lock and it is
 *    reclaimed with the metadata it rides on;
 *  - SASL server mechanisms (sasl.c, scram.c, oauth.c), TLS sessions over
 *    memory buffers (tls.c), the ACL model (acl.c) and quotas (quota.c).
 *
 * Each area keeps its own header (fmq_sasl.h, fmq_tls.h, fmq_acl.h,
 * fmq_quota.h); this one holds what they share.
 */
#ifndef FMQ_SEC_H
#define FMQ_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest principal, "User:" included (Kafka has no limit; SASL names
 * and certificate DNs beyond this are refused at authentication). */
#define FMQ_PRINCIPAL_MAX 256

/** Who a connection is, as Kafka writes it: "User:<name>". */
struct fmq_principal {
	uint16_t len;                  /**< bytes in name, no NUL counted */
	char name[FMQ_PRINCIPAL_MAX];  /**< NUL-terminated */
};

/** The principal of an unauthenticated PLAINTEXT or SSL connection. */
#define FMQ_PRINCIPAL_ANONYMOUS "User:ANONYMOUS"

/** Set p to "User:" + name (len bytes); -1 when it does not fit. */
int fmq_principal_set_user(struct fmq_principal *p, const char *name,
			   size_t len);
/** Set p to a whole principal string ("User:alice"); -1 when too long. */
int fmq_principal_set(struct fmq_principal *p, const char *s, size_t len);

/** A listener's security protocol (Kafka's names). */
enum fmq_sec_proto {
	FMQ_SEC_PLAINTEXT = 0,
	FMQ_SEC_SSL,
	FMQ_SEC_SASL_PLAINTEXT,
	FMQ_SEC_SASL_SSL,
};
/** Parse "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" (any case);
 * -1 when unknown. */
int fmq_sec_proto_parse(const char *s, size_t len);
const char *fmq_sec_proto_name(enum fmq_sec_proto p);
static inline bool
fmq_sec_proto_tls(enum fmq_sec_proto p)
{
	return p == FMQ_SEC_SSL || p == FMQ_SEC_SASL_SSL;
}
static inline bool
fmq_sec_proto_sasl(enum fmq_sec_proto p)
{
	return p == FMQ_SEC_SASL_PLAINTEXT || p == FMQ_SEC_SASL_SSL;
}

/*
 * The security snapshot. Each part is owned by its area and reference
 * counted by the control lcore only (the data lcores never change counts:
 * they read through the metadata snapshot, which holds one reference until
 * it is reclaimed). A change to one part builds a new snapshot that shares
 * the others: fmq_sec_snap_derive(), replace the part, then the control
 * lcore republishes its metadata (ctrl_publish), which takes a reference.
 */
struct fmq_scram_db;   /* fmq_sasl.h: SCRAM credentials (PLAIN checks them too) */
struct fmq_acl_db;     /* fmq_acl.h: ACL bindings and their index */
struct fmq_quota_db;   /* fmq_quota.h: client quotas */

/** A part's header; each part struct starts with it. */
struct fmq_sec_part {
	uint32_t refs;
	void (*destroy)(struct fmq_sec_part *p);
};

struct fmq_sec_snap {
	uint32_t refs;
	struct fmq_scram_db *scram;  /**< NULL: no SCRAM credentials */
	struct fmq_acl_db *acl;      /**< NULL: no ACLs */
	struct fmq_quota_db *quota;  /**< NULL: no quotas */
};

/** An empty snapshot with one reference, or NULL. */
struct fmq_sec_snap *fmq_sec_snap_new(void);
/** A copy of s (which may be NULL) sharing its parts, one reference. */
struct fmq_sec_snap *fmq_sec_snap_derive(const struct fmq_sec_snap *s);
void fmq_sec_snap_get(struct fmq_sec_snap *s);
/** Drop a reference; the last one drops the parts' references. */
void fmq_sec_snap_put(struct fmq_sec_snap *s);
/** Part reference helpers (control lcore; NULL is allowed). */
void fmq_sec_part_get(struct fmq_sec_part *p);
void fmq_sec_part_put(struct fmq_sec_part *p);

/** The value of a hexadecimal digit, or -1 (the ACL and quota files
 * percent-encode names). */
static inline int
fmq_sec_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif
