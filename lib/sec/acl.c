/* SPDX-License-Identifier: Apache-2.0 */
/* ACL bindings, their index and Kafka's decision order (fmq_acl.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_acl.h"
#include "fmq_util.h"

/* What a decision needs of a binding beyond its public fields. */
struct acl_ent {
	uint32_t name_len;
	uint32_t principal_len;
	uint32_t host_ip;          /* network order, when host_kind is IP */
	uint8_t host_kind;         /* HOST_ANY, HOST_IP, HOST_NEVER */
	bool principal_any;        /* "User:*" */
};

enum { HOST_ANY, HOST_IP, HOST_NEVER };

/* Per resource type, the bindings [lit_lo, lit_hi) are LITERAL and
 * [pre_lo, pre_hi) PREFIXED, both sorted by name. The distinct lengths
 * of the prefixes (up to ACL_LENS of them) let a decision look each
 * candidate prefix of a name up by binary search; with more, the
 * prefixes are scanned. */
#define ACL_LENS 16
struct acl_range {
	uint32_t lit_lo, lit_hi, pre_lo, pre_hi;
	uint32_t nlens;            /* > ACL_LENS: scan */
	uint32_t lens[ACL_LENS];
};

struct fmq_acl_db {
	struct fmq_sec_part part;  /* first: the snapshot's part header */
	struct fmq_acl_conf conf;
	char *super_text;          /* conf.super_users, owned */
	char **supers;             /* trimmed entries into super_copy */
	char *super_copy;
	uint32_t nsuper;
	uint32_t n;
	struct fmq_acl_binding *b;
	struct acl_ent *e;
	char *blob;                /* every binding's strings */
	struct acl_range idx[FMQ_ACL_RES_MAX];
};

static const char *const res_names[] = {
	"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
	"DELEGATION_TOKEN", "USER",
};

static const char *const op_names[] = {
	"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER",
	"DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
	"IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS",
};

const char *
fmq_acl_res_name(int code)
{
	return code >= 0 && code < FMQ_ACL_RES_MAX ? res_names[code] :
		"UNKNOWN";
}

const char *
fmq_acl_op_name(int code)
{
	return code >= 0 && code < FMQ_ACL_OP_MAX ? op_names[code] :
		"UNKNOWN";
}

/* A host as Kafka compares it: the client's address printed by Java
 * (dotted quad, no leading zeros). Anything else never equals it. */
static int
parse_host(const char *s, uint32_t *ip)
{
	uint8_t q[4];

	if (strcmp(s, "*") == 0)
		return HOST_ANY;
	for (int i = 0; i < 4; i++) {
		unsigned int v = 0, nd = 0;

		while (*s >= '0' && *s <= '9' && nd < 4) {
			if (nd == 1 && v == 0)
				return HOST_NEVER;   /* leading zero */
			v = v * 10 + (unsigned int)(*s++ - '0');
			nd++;
		}
		if (nd == 0 || v > 255)
			return HOST_NEVER;
		q[i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return HOST_NEVER;
	}
	if (*s != '\0')
		return HOST_NEVER;
	memcpy(ip, q, 4);
	return HOST_IP;
}

static int
str_cmp(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int
binding_cmp(const void *x, const void *y)
{
	const struct fmq_acl_binding *a = x, *b = y;
	int r;

	if (a->res != b->res)
		return a->res - b->res;
	if (a->pat != b->pat)
		return a->pat - b->pat;
	if ((r = str_cmp(a->name, b->name)) != 0)
		return r;
	if ((r = str_cmp(a->principal, b->principal)) != 0)
		return r;
	if ((r = str_cmp(a->host, b->host)) != 0)
		return r;
	if (a->op != b->op)
		return a->op - b->op;
	return a->perm - b->perm;
}

static void
db_destroy(struct fmq_sec_part *p)
{
	struct fmq_acl_db *db = (struct fmq_acl_db *)(void *)p;

	free(db->super_text);
	free(db->super_copy);
	free(db->supers);
	free(db->b);
	free(db->e);
	free(db->blob);
	free(db);
}

void
fmq_acl_db_put(struct fmq_acl_db *db)
{
	fmq_sec_part_put(db == NULL ? NULL : &db->part);
}

static int
set_supers(struct fmq_acl_db *db, const char *s)
{
	size_t l = s != NULL ? strlen(s) : 0;
	uint32_t cap = 1;

	db->super_text = malloc(l + 1);
	db->super_copy = malloc(l + 1);
	if (db->super_text == NULL || db->super_copy == NULL)
		return -ENOMEM;
	if (l > 0)
		memcpy(db->super_text, s, l);
	db->super_text[l] = '\0';
	memcpy(db->super_copy, db->super_text, l + 1);
	db->conf.super_users = db->super_text;
	for (size_t i = 0; i < l; i++)
		cap += s[i] == ';';
	db->supers = calloc(cap, sizeof(*db->supers));
	if (db->supers == NULL)
		return -ENOMEM;
	for (char *tok = db->super_copy, *next; tok != NULL; tok = next) {
		char *end;

		next = strchr(tok, ';');
		if (next != NULL)
			*next++ = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (strchr(tok, ':') == NULL)
			return -EINVAL;
		db->supers[db->nsuper++] = tok;
	}
	return 0;
}

struct fmq_acl_db *
fmq_acl_db_new(const struct fmq_acl_conf *conf,
	       const struct fmq_acl_binding *in, size_t n)
{
	struct fmq_acl_db *db = calloc(1, sizeof(*db));
	size_t bytes = 0, pos = 0, k = 0;
	int rc;

	if (db == NULL)
		return NULL;
	db->part.refs = 1;
	db->part.destroy = db_destroy;
	db->conf.allow_if_no_acl = conf != NULL && conf->allow_if_no_acl;
	rc = set_supers(db, conf != NULL ? conf->super_users : NULL);
	if (rc < 0)
		goto fail_rc;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(in[i].name) + strlen(in[i].principal) +
			strlen(in[i].host) + 3;
	db->b = calloc(n ? n : 1, sizeof(*db->b));
	db->e = calloc(n ? n : 1, sizeof(*db->e));
	db->blob = malloc(bytes ? bytes : 1);
	if (db->b == NULL || db->e == NULL || db->blob == NULL) {
		rc = -ENOMEM;
		goto fail_rc;
	}
	for (size_t i = 0; i < n; i++) {
		const char *src[3] = { in[i].name, in[i].principal,
				       in[i].host };
		const char *dst[3];

		for (int j = 0; j < 3; j++) {
			size_t l = strlen(src[j]) + 1;
			memcpy(db->blob + pos, src[j], l);
			dst[j] = db->blob + pos;
			pos += l;
		}
		db->b[i] = in[i];
		db->b[i].name = dst[0];
		db->b[i].principal = dst[1];
		db->b[i].host = dst[2];
	}
	qsort(db->b, n, sizeof(*db->b), binding_cmp);
	/* Drop duplicates (Kafka stores a binding once). */
	for (size_t i = 0; i < n; i++)
		if (k == 0 || binding_cmp(&db->b[k - 1], &db->b[i]) != 0)
			db->b[k++] = db->b[i];
	db->n = (uint32_t)k;
	for (uint32_t i = 0; i < db->n; i++) {
		const struct fmq_acl_binding *b = &db->b[i];
		struct acl_ent *e = &db->e[i];

		e->name_len = (uint32_t)strlen(b->name);
		e->principal_len = (uint32_t)strlen(b->principal);
		e->principal_any = strcmp(b->principal, "User:*") == 0;
		e->host_kind = (uint8_t)parse_host(b->host, &e->host_ip);
	}
	/* The index: each (type, pattern) run. */
	for (uint32_t i = 0; i < db->n; i++) {
		const struct fmq_acl_binding *b = &db->b[i];
		struct acl_range *r;

		if (b->res >= FMQ_ACL_RES_MAX)
			continue;
		r = &db->idx[b->res];
		if (b->pat == FMQ_ACL_PAT_LITERAL) {
			if (r->lit_hi == r->lit_lo)
				r->lit_lo = i;
			r->lit_hi = i + 1;
		} else if (b->pat == FMQ_ACL_PAT_PREFIXED) {
			uint32_t l = db->e[i].name_len, k;

			if (r->pre_hi == r->pre_lo)
				r->pre_lo = i;
			r->pre_hi = i + 1;
			for (k = 0; k < r->nlens && k < ACL_LENS; k++)
				if (r->lens[k] == l)
					break;
			if (k == r->nlens && r->nlens < ACL_LENS)
				r->lens[r->nlens] = l;
			if (k == r->nlens)
				r->nlens++;
		}
	}
	return db;
fail_rc:
	db_destroy(&db->part);
	errno = -rc;
	return NULL;
}

size_t
fmq_acl_db_count(const struct fmq_acl_db *db)
{
	return db != NULL ? db->n : 0;
}

const struct fmq_acl_binding *
fmq_acl_db_at(const struct fmq_acl_db *db, size_t i)
{
	return &db->b[i];
}

const struct fmq_acl_conf *
fmq_acl_db_conf(const struct fmq_acl_db *db)
{
	return &db->conf;
}

/* ------------------------------------------------------------ decisions */

/* Compare a stored name (blen bytes) with name (len bytes), as strcmp. */
static int
name_cmp(const char *bname, uint32_t blen, const char *name, size_t len)
{
	int r = memcmp(bname, name, blen < len ? blen : len);

	if (r != 0)
		return r;
	return blen < len ? -1 : blen > len ? 1 : 0;
}

/* First binding in [lo, hi) whose name is not below name. */
static uint32_t
lower_bound(const struct fmq_acl_db *db, uint32_t lo, uint32_t hi,
	    const char *name, size_t len)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (name_cmp(db->b[mid].name, db->e[mid].name_len, name,
			     len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct hit {
	bool any;     /* the resource has ACLs (for anyone) */
	bool allow;
	bool deny;
};

/* Does an ALLOW of acl_op grant op? ALL grants everything; READ, WRITE,
 * DELETE and ALTER grant DESCRIBE; ALTER_CONFIGS grants
 * DESCRIBE_CONFIGS. */
static bool
grants(uint8_t acl_op, enum fmq_acl_op op)
{
	if (acl_op == FMQ_ACL_OP_ALL || acl_op == op)
		return true;
	if (op == FMQ_ACL_OP_DESCRIBE)
		return acl_op == FMQ_ACL_OP_READ ||
			acl_op == FMQ_ACL_OP_WRITE ||
			acl_op == FMQ_ACL_OP_DELETE ||
			acl_op == FMQ_ACL_OP_ALTER;
	return op == FMQ_ACL_OP_DESCRIBE_CONFIGS &&
		acl_op == FMQ_ACL_OP_ALTER_CONFIGS;
}

static inline void
consider(const struct fmq_acl_db *db, uint32_t i,
	 const struct fmq_principal *p, uint32_t ip, enum fmq_acl_op op,
	 struct hit *h)
{
	const struct fmq_acl_binding *b = &db->b[i];
	const struct acl_ent *e = &db->e[i];

	h->any = true;
	if (!e->principal_any && (e->principal_len != p->len ||
	    memcmp(b->principal, p->name, p->len) != 0))
		return;
	if (e->host_kind == HOST_NEVER ||
	    (e->host_kind == HOST_IP && e->host_ip != ip))
		return;
	if (b->perm == FMQ_ACL_PERM_DENY) {
		if (b->op == FMQ_ACL_OP_ALL || b->op == op)
			h->deny = true;
	} else if (b->perm == FMQ_ACL_PERM_ALLOW && grants(b->op, op)) {
		h->allow = true;
	}
}

/* Every literal binding named exactly name. */
static void
literal(const struct fmq_acl_db *db, const struct acl_range *r,
	const char *name, size_t len, const struct fmq_principal *p,
	uint32_t ip, enum fmq_acl_op op, struct hit *h)
{
	uint32_t i = lower_bound(db, r->lit_lo, r->lit_hi, name, len);

	for (; i < r->lit_hi && !h->deny; i++) {
		if (name_cmp(db->b[i].name, db->e[i].name_len, name, len) != 0)
			break;
		consider(db, i, p, ip, op, h);
	}
}

static bool
is_super(const struct fmq_acl_db *db, const struct fmq_principal *p)
{
	for (uint32_t i = 0; i < db->nsuper; i++)
		if (strcmp(db->supers[i], p->name) == 0)
			return true;
	return false;
}

bool
fmq_acl_authorize(const struct fmq_acl_db *db, const struct fmq_principal *p,
		  uint32_t client_ip, enum fmq_acl_res res, const char *name,
		  size_t len, enum fmq_acl_op op)
{
	const struct acl_range *r;
	struct hit h = { false, false, false };

	if (db == NULL)
		return true;
	if (is_super(db, p))
		return true;
	if ((unsigned int)res >= FMQ_ACL_RES_MAX)
		return false;
	r = &db->idx[res];
	literal(db, r, name, len, p, client_ip, op, &h);
	if (!(len == 1 && name[0] == '*'))
		literal(db, r, "*", 1, p, client_ip, op, &h);
	if (r->nlens <= ACL_LENS) {
		/* Each prefix length: the bindings named name's first
		 * that many bytes. */
		for (uint32_t k = 0; k < r->nlens && !h.deny; k++) {
			uint32_t l = r->lens[k], i;

			if (l > len)
				continue;
			i = lower_bound(db, r->pre_lo, r->pre_hi, name, l);
			for (; i < r->pre_hi && !h.deny; i++) {
				if (name_cmp(db->b[i].name, db->e[i].name_len,
					     name, l) != 0)
					break;
				consider(db, i, p, client_ip, op, &h);
			}
		}
	} else {
		for (uint32_t i = r->pre_lo; i < r->pre_hi && !h.deny; i++)
			if (db->e[i].name_len <= len &&
			    memcmp(db->b[i].name, name, db->e[i].name_len) == 0)
				consider(db, i, p, client_ip, op, &h);
	}
	if (h.deny)
		return false;
	if (h.allow)
		return true;
	return !h.any && db->conf.allow_if_no_acl;
}

/* Does binding i apply to p from ip (principal and host)? */
static bool
applies(const struct fmq_acl_db *db, uint32_t i,
	const struct fmq_principal *p, uint32_t ip)
{
	const struct acl_ent *e = &db->e[i];

	if (!e->principal_any && (e->principal_len != p->len ||
	    memcmp(db->b[i].principal, p->name, p->len) != 0))
		return false;
	return e->host_kind == HOST_ANY ||
		(e->host_kind == HOST_IP && e->host_ip == ip);
}

/* Is name (a literal, or a prefix when prefix) entirely taken back by a
 * DENY of op in [lo, hi)? */
static bool
denied_by(const struct fmq_acl_db *db, const struct acl_range *r,
	  const struct fmq_acl_binding *a, const struct fmq_principal *p,
	  uint32_t ip, enum fmq_acl_op op)
{
	size_t alen = strlen(a->name);

	for (uint32_t i = r->lit_lo; i < r->lit_hi; i++) {
		const struct fmq_acl_binding *d = &db->b[i];
		if (d->perm != FMQ_ACL_PERM_DENY ||
		    (d->op != FMQ_ACL_OP_ALL && d->op != op) ||
		    !applies(db, i, p, ip))
			continue;
		if (strcmp(d->name, "*") == 0 ||
		    (a->pat == FMQ_ACL_PAT_LITERAL &&
		     strcmp(d->name, a->name) == 0))
			return true;
	}
	for (uint32_t i = r->pre_lo; i < r->pre_hi; i++) {
		const struct fmq_acl_binding *d = &db->b[i];
		if (d->perm != FMQ_ACL_PERM_DENY ||
		    (d->op != FMQ_ACL_OP_ALL && d->op != op) ||
		    !applies(db, i, p, ip))
			continue;
		if (db->e[i].name_len <= alen &&
		    memcmp(d->name, a->name, db->e[i].name_len) == 0)
			return true;
	}
	return false;
}

bool
fmq_acl_authorize_any(const struct fmq_acl_db *db,
		      const struct fmq_principal *p, uint32_t client_ip,
		      enum fmq_acl_res res, enum fmq_acl_op op)
{
	const struct acl_range *r;
	bool any = false;

	if (db == NULL || is_super(db, p))
		return true;
	if ((unsigned int)res >= FMQ_ACL_RES_MAX)
		return false;
	r = &db->idx[res];
	for (int pass = 0; pass < 2; pass++) {
		uint32_t lo = pass == 0 ? r->lit_lo : r->pre_lo;
		uint32_t hi = pass == 0 ? r->lit_hi : r->pre_hi;

		for (uint32_t i = lo; i < hi; i++) {
			const struct fmq_acl_binding *a = &db->b[i];

			any = true;
			if (a->perm == FMQ_ACL_PERM_ALLOW &&
			    grants(a->op, op) &&
			    applies(db, i, p, client_ip) &&
			    !denied_by(db, r, a, p, client_ip, op))
				return true;
		}
	}
	return !any && db->conf.allow_if_no_acl;
}

/* The operations Kafka lists for each resource type (authorized
 * operations fields). */
static uint32_t
supported_ops(enum fmq_acl_res res)
{
#define B(o) (1u << FMQ_ACL_OP_##o)
	switch (res) {
	case FMQ_ACL_RES_TOPIC:
		return B(READ) | B(WRITE) | B(CREATE) | B(DESCRIBE) |
			B(DELETE) | B(ALTER) | B(DESCRIBE_CONFIGS) |
			B(ALTER_CONFIGS);
	case FMQ_ACL_RES_GROUP:
		return B(READ) | B(DESCRIBE) | B(DELETE);
	case FMQ_ACL_RES_CLUSTER:
		return B(CREATE) | B(CLUSTER_ACTION) | B(DESCRIBE_CONFIGS) |
			B(ALTER_CONFIGS) | B(IDEMPOTENT_WRITE) | B(ALTER) |
			B(DESCRIBE);
	case FMQ_ACL_RES_TRANSACTIONAL_ID:
		return B(DESCRIBE) | B(WRITE);
	case FMQ_ACL_RES_DELEGATION_TOKEN:
		return B(DESCRIBE);
	case FMQ_ACL_RES_USER:
		return B(CREATE_TOKENS) | B(DESCRIBE_TOKENS);
	default:
		return 0;
	}
#undef B
}

int32_t
fmq_acl_authorized_ops(const struct fmq_acl_db *db,
		       const struct fmq_principal *p, uint32_t client_ip,
		       enum fmq_acl_res res, const char *name, size_t len)
{
	uint32_t ops = supported_ops(res), out = 0;

	if (db == NULL)
		return (int32_t)ops;
	for (int op = 0; op < FMQ_ACL_OP_MAX; op++)
		if ((ops & (1u << op)) != 0 &&
		    fmq_acl_authorize(db, p, client_ip, res, name, len,
				      (enum fmq_acl_op)op))
			out |= 1u << op;
	return (int32_t)out;
}

void
fmq_acl_stats_render(struct fmq_metrics_out *out, const char *name,
		     const char *help, const struct fmq_acl_stats *st)
{
	char lbl[96];

	fmq_metrics_family(out, name, "counter", help);
	for (int op = FMQ_ACL_OP_ALL; op < FMQ_ACL_OP_MAX; op++) {
		if (st->allowed[op] == 0 && st->denied[op] == 0)
			continue;
		snprintf(lbl, sizeof(lbl),
			 "operation=\"%s\",result=\"allowed\"", op_names[op]);
		fmq_metrics_u64(out, name, lbl, st->allowed[op]);
		snprintf(lbl, sizeof(lbl),
			 "operation=\"%s\",result=\"denied\"", op_names[op]);
		fmq_metrics_u64(out, name, lbl, st->denied[op]);
	}
}

/* ------------------------------------------------------- admin requests */

int
fmq_acl_validate(const struct fmq_acl_binding *b, const char **why)
{
	if (b->res <= FMQ_ACL_RES_ANY || b->res >= FMQ_ACL_RES_MAX) {
		*why = "Invalid resourceType";
		return -1;
	}
	if (b->pat != FMQ_ACL_PAT_LITERAL && b->pat != FMQ_ACL_PAT_PREFIXED) {
		*why = "Invalid patternType";
		return -1;
	}
	if (b->op <= FMQ_ACL_OP_ANY || b->op >= FMQ_ACL_OP_MAX) {
		*why = "Invalid operation";
		return -1;
	}
	if (b->perm != FMQ_ACL_PERM_DENY && b->perm != FMQ_ACL_PERM_ALLOW) {
		*why = "Invalid permissionType";
		return -1;
	}
	if (b->name == NULL || b->name[0] == '\0') {
		*why = "Invalid empty resource name";
		return -1;
	}
	if (b->res == FMQ_ACL_RES_CLUSTER &&
	    strcmp(b->name, FMQ_ACL_CLUSTER_NAME) != 0) {
		*why = "The only valid name for the CLUSTER resource is "
			FMQ_ACL_CLUSTER_NAME;
		return -1;
	}
	if (b->principal == NULL || strchr(b->principal, ':') == NULL) {
		*why = "Could not parse principal (expected Type:name)";
		return -1;
	}
	if (b->host == NULL) {
		*why = "Invalid null host";
		return -1;
	}
	return 0;
}

bool
fmq_acl_filter_match(const struct fmq_acl_binding *f,
		     const struct fmq_acl_binding *b)
{
	if (f->res != FMQ_ACL_RES_ANY && f->res != b->res)
		return false;
	if (f->pat != FMQ_ACL_PAT_ANY && f->pat != FMQ_ACL_PAT_MATCH &&
	    f->pat != b->pat)
		return false;
	if (f->name != NULL) {
		if (f->pat == FMQ_ACL_PAT_ANY || f->pat == b->pat) {
			if (strcmp(f->name, b->name) != 0)
				return false;
		} else if (b->pat == FMQ_ACL_PAT_LITERAL) {
			if (strcmp(f->name, b->name) != 0 &&
			    strcmp(b->name, "*") != 0)
				return false;
		} else if (strncmp(f->name, b->name, strlen(b->name)) != 0) {
			return false;
		}
	}
	if (f->principal != NULL && strcmp(f->principal, b->principal) != 0)
		return false;
	if (f->host != NULL && strcmp(f->host, b->host) != 0)
		return false;
	if (f->op != FMQ_ACL_OP_ANY && f->op != b->op)
		return false;
	return f->perm == FMQ_ACL_PERM_ANY || f->perm == b->perm;
}

/* ------------------------------------------------------------ the file */

#define FILE_HEADER "# FluxMQ ACLs v1: type pattern operation permission " \
	"name principal host (Kafka's codes; strings %-escaped)\n"

static size_t
esc_len(const char *s)
{
	size_t n = 0;

	if (*s == '\0')
		return 1;
	for (; *s != '\0'; s++)
		n += ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		      *s == '%') ? 3 : 1;
	return n;
}

static char *
esc(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (*s == '\0') {
		*o++ = '%';   /* the empty string */
		return o;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '%') {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	return o;
}

char *
fmq_acl_db_dump(const struct fmq_acl_db *db)
{
	size_t cap = sizeof(FILE_HEADER);
	char *out, *o;

	for (uint32_t i = 0; db != NULL && i < db->n; i++)
		cap += 32 + esc_len(db->b[i].name) +
			esc_len(db->b[i].principal) + esc_len(db->b[i].host);
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	o = out;
	memcpy(o, FILE_HEADER, sizeof(FILE_HEADER) - 1);
	o += sizeof(FILE_HEADER) - 1;
	for (uint32_t i = 0; db != NULL && i < db->n; i++) {
		const struct fmq_acl_binding *b = &db->b[i];

		o += sprintf(o, "%u %u %u %u ", b->res, b->pat, b->op, b->perm);
		o = esc(o, b->name);
		*o++ = ' ';
		o = esc(o, b->principal);
		*o++ = ' ';
		o = esc(o, b->host);
		*o++ = '\n';
	}
	*o = '\0';
	return out;
}

/* Unescape the token at *p (up to a space or the line's end) in place;
 * returns its start, or NULL when malformed. */
static char *
unesc_token(char **p)
{
	char *s = *p, *o = s, *start = s;

	if (*s == '\0' || *s == ' ')
		return NULL;
	if (*s == '%' && (s[1] == ' ' || s[1] == '\0')) {
		*o = '\0';
		*p = s[1] == ' ' ? s + 2 : s + 1;
		return start;
	}
	while (*s != '\0' && *s != ' ') {
		if (*s == '%') {
			int h = fmq_sec_hexval(s[1]), l = h < 0 ? -1 : fmq_sec_hexval(s[2]);
			if (l < 0 || (h == 0 && l == 0))
				return NULL;
			*o++ = (char)(h * 16 + l);
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*p = *s == ' ' ? s + 1 : s;
	*o = '\0';
	return start;
}

struct fmq_acl_db *
fmq_acl_db_load(const struct fmq_acl_conf *conf, const char *text,
		char *err, size_t errlen)
{
	size_t tl = strlen(text), n = 0, cap = 16;
	char *copy = malloc(tl + 1);
	struct fmq_acl_binding *b = malloc(cap * sizeof(*b));
	struct fmq_acl_db *db = NULL;
	unsigned int line = 0;

	if (copy == NULL || b == NULL) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto out;
	}
	memcpy(copy, text, tl + 1);
	for (char *l = copy, *next; l != NULL && *l != '\0'; l = next) {
		unsigned int v[4];
		const char *why;
		int used = 0;
		char *p;

		line++;
		next = strchr(l, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (l[0] == '#' || l[0] == '\0')
			continue;
		if (n == cap) {
			struct fmq_acl_binding *nb;
			cap *= 2;
			nb = realloc(b, cap * sizeof(*b));
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				errno = ENOMEM;
				goto out;
			}
			b = nb;
		}
		if (sscanf(l, "%u %u %u %u %n", &v[0], &v[1], &v[2], &v[3],
			   &used) != 4 || used == 0 || v[0] > 255 ||
		    v[1] > 255 || v[2] > 255 || v[3] > 255)
			goto bad;
		b[n].res = (uint8_t)v[0];
		b[n].pat = (uint8_t)v[1];
		b[n].op = (uint8_t)v[2];
		b[n].perm = (uint8_t)v[3];
		p = l + used;
		b[n].name = unesc_token(&p);
		b[n].principal = b[n].name != NULL ? unesc_token(&p) : NULL;
		b[n].host = b[n].principal != NULL ? unesc_token(&p) : NULL;
		if (b[n].host == NULL || *p != '\0')
			goto bad;
		if (fmq_acl_validate(&b[n], &why) < 0) {
			snprintf(err, errlen, "line %u: %s", line, why);
			errno = EINVAL;
			goto out;
		}
		n++;
		continue;
bad:
		snprintf(err, errlen, "line %u: malformed binding", line);
		errno = EINVAL;
		goto out;
	}
	db = fmq_acl_db_new(conf, b, n);
	if (db == NULL)
		snprintf(err, errlen, "%s", errno == EINVAL ?
			 "super.users: an entry is not Type:name" :
			 "out of memory");
out:
	free(copy);
	free(b);
	return db;
}
