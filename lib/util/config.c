/* SPDX-License-Identifier: Apache-2.0 */
/* server.properties style configuration driven by the key table. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "fmq_util.h"

static const struct fmq_cfg_key keys[] = {
#define FMQ_KEY(field, kname, ktype, kdflt, klimits, kdoc) \
	{ .name = kname, .type = FMQ_CFG_##ktype, .dflt = kdflt, \
	  .limits = klimits, .doc = kdoc, \
	  .offset = offsetof(struct fmq_config, field) },
#include "keys/all.def"
#undef FMQ_KEY
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* A Kafka name for one of our keys (keys/aliases.def). */
struct alias {
	const char *name;
	const char *key;
	int64_t scale;
	int rank;
};

static const struct alias aliases[] = {
#define FMQ_ALIAS(aname, akey, ascale, arank) \
	{ .name = aname, .key = akey, .scale = ascale, .rank = arank },
#include "keys/aliases.def"
#undef FMQ_ALIAS
};

#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

/* Rank of a key's own name: above every alias but broker.id's tie. */
#define OWN_RANK 100

static const char *const kafka_names[] = {
#define FMQ_KAFKA_NAME(n) n,
#include "keys/kafka_names.def"
#undef FMQ_KAFKA_NAME
};

#define NKAFKA (sizeof(kafka_names) / sizeof(kafka_names[0]))

/*
 * Problems found while loading, reported by fmq_config_finish once the
 * whole command line was read (config.unknown.keys may come last).
 * Start-up only, single threaded. Past the bound they are counted.
 */
enum diag_kind { DIAG_ERROR, DIAG_WARN, DIAG_KAFKA_ONLY };

#define MAX_DIAGS 256
#define DIAG_LEN 512

static struct {
	enum diag_kind kind;
	char msg[DIAG_LEN];
} diags[MAX_DIAGS];
static unsigned int n_diags;
static unsigned int n_dropped[3];

static void
diag_add(enum diag_kind kind, const char *msg)
{
	if (n_diags == MAX_DIAGS) {
		n_dropped[kind]++;
		return;
	}
	diags[n_diags].kind = kind;
	snprintf(diags[n_diags].msg, DIAG_LEN, "%s", msg);
	n_diags++;
}

static void
diag_clear(void)
{
	n_diags = 0;
	memset(n_dropped, 0, sizeof(n_dropped));
}

bool
fmq_config_is_kafka_key(const char *name)
{
	size_t lo = 0, hi = NKAFKA;

	/* The table is sorted (checked by the unit suite). */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(kafka_names[mid], name);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static const struct alias *
alias_find(const char *name)
{
	for (size_t i = 0; i < NALIASES; i++)
		if (strcmp(aliases[i].name, name) == 0)
			return &aliases[i];
	return NULL;
}

const struct fmq_cfg_key *
fmq_config_keys(size_t *n)
{
	*n = NKEYS;
	return keys;
}

const struct fmq_cfg_key *
fmq_config_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static const char *
type_name(enum fmq_cfg_type t)
{
	switch (t) {
	case FMQ_CFG_STR: return "string";
	case FMQ_CFG_ENUM: return "one of";
	case FMQ_CFG_U64: return "unsigned integer";
	case FMQ_CFG_I64: return "integer";
	case FMQ_CFG_BOOL: return "boolean";
	case FMQ_CFG_F64: return "number";
	case FMQ_CFG_IPV4: return "IPv4 address";
	case FMQ_CFG_IPV4_CIDR: return "IPv4 address/prefix";
	case FMQ_CFG_MAC: return "MAC address";
	case FMQ_CFG_HOSTPORT: return "IPv4 address:port";
	}
	return "?";
}

int
fmq_parse_ipv4(const char *s, uint32_t *addr_be)
{
	struct in_addr a;
	unsigned int p[4];
	char tail;

	/* inet_pton accepts only dotted quads; also reject leading junk. */
	if (sscanf(s, "%u.%u.%u.%u%c", &p[0], &p[1], &p[2], &p[3], &tail) != 4)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr_be = a.s_addr;
	return 0;
}

int
fmq_parse_ipv4_cidr(const char *s, struct fmq_ipv4_cidr *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	char *end;
	long len;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (fmq_parse_ipv4(buf, &out->addr) < 0)
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || len < 0 || len > 32)
		return -EINVAL;
	out->prefix = (uint8_t)len;
	return 0;
}

int
fmq_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17)
		return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int
parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = x;
	return 0;
}

static int
parse_i64(const char *v, int64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
		return -EINVAL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = x;
	return 0;
}

/* Check "min..max" limits for a numeric key. */
static int
check_range(const struct fmq_cfg_key *k, double x, char *why, size_t wl)
{
	const char *dots = strstr(k->limits, "..");
	double lo, hi;

	/* "min..max"; split first: strtod would take "0." from "0..9". */
	if (dots == NULL)
		return 0;
	lo = strtod(k->limits, NULL);
	hi = strtod(dots + 2, NULL);
	if (x < lo || x > hi) {
		snprintf(why, wl, "out of range: must be %s", k->limits);
		return -EINVAL;
	}
	return 0;
}

static bool
enum_has(const char *limits, const char *v)
{
	size_t vl = strlen(v);
	const char *p = limits;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && strncmp(p, v, l) == 0)
			return true;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	return false;
}

/* Parse v into the field of k; on failure write the reason into why. */
static int
parse_value(struct fmq_config *cfg, const struct fmq_cfg_key *k, const char *v,
	    char *why, size_t wl)
{
	void *f = (char *)cfg + k->offset;

	switch (k->type) {
	case FMQ_CFG_STR:
		if (strlen(v) >= FMQ_CFG_STR_MAX) {
			snprintf(why, wl, "value longer than %d characters",
				 FMQ_CFG_STR_MAX - 1);
			return -EINVAL;
		}
		strcpy(f, v);
		return 0;
	case FMQ_CFG_ENUM:
		if (!enum_has(k->limits, v)) {
			snprintf(why, wl, "invalid value '%s': must be one of %s",
				 v, k->limits);
			return -EINVAL;
		}
		strcpy(f, v);
		return 0;
	case FMQ_CFG_U64: {
		uint64_t x;
		if (parse_u64(v, &x) < 0) {
			snprintf(why, wl, "invalid value '%s': expected an unsigned integer", v);
			return -EINVAL;
		}
		if (check_range(k, (double)x, why, wl) < 0)
			return -EINVAL;
		*(uint64_t *)f = x;
		return 0;
	}
	case FMQ_CFG_I64: {
		int64_t x;
		if (parse_i64(v, &x) < 0) {
			snprintf(why, wl, "invalid value '%s': expected an integer", v);
			return -EINVAL;
		}
		if (check_range(k, (double)x, why, wl) < 0)
			return -EINVAL;
		*(int64_t *)f = x;
		return 0;
	}
	case FMQ_CFG_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
			*(bool *)f = true;
			return 0;
		}
		if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
			*(bool *)f = false;
			return 0;
		}
		snprintf(why, wl, "invalid value '%s': expected true or false", v);
		return -EINVAL;
	case FMQ_CFG_F64: {
		char *end;
		errno = 0;
		double x = strtod(v, &end);
		if (v[0] == '\0' || errno != 0 || *end != '\0' || !isfinite(x)) {
			snprintf(why, wl, "invalid value '%s': expected a number", v);
			return -EINVAL;
		}
		if (check_range(k, x, why, wl) < 0)
			return -EINVAL;
		*(double *)f = x;
		return 0;
	}
	case FMQ_CFG_IPV4:
		if (fmq_parse_ipv4(v, f) < 0) {
			snprintf(why, wl, "invalid value '%s': expected an IPv4 address", v);
			return -EINVAL;
		}
		return 0;
	case FMQ_CFG_IPV4_CIDR:
		if (fmq_parse_ipv4_cidr(v, f) < 0) {
			snprintf(why, wl, "invalid value '%s': expected a.b.c.d/prefix", v);
			return -EINVAL;
		}
		return 0;
	case FMQ_CFG_MAC: {
		struct fmq_mac *m = f;
		if (v[0] == '\0') {
			m->set = false;
			return 0;
		}
		if (fmq_parse_mac(v, m->b) < 0) {
			snprintf(why, wl, "invalid value '%s': expected aa:bb:cc:dd:ee:ff", v);
			return -EINVAL;
		}
		m->set = true;
		return 0;
	}
	case FMQ_CFG_HOSTPORT: {
		struct fmq_hostport *hp = f;
		char buf[64];
		const char *colon = strrchr(v, ':');
		uint32_t a;
		uint64_t port;
		if (colon == NULL || (size_t)(colon - v) >= sizeof(buf))
			goto bad_hp;
		memcpy(buf, v, colon - v);
		buf[colon - v] = '\0';
		if (fmq_parse_ipv4(buf, &a) < 0 || parse_u64(colon + 1, &port) < 0 ||
		    port > 65535)
			goto bad_hp;
		hp->addr = ntohl(a);
		hp->port = (uint16_t)port;
		return 0;
bad_hp:
		snprintf(why, wl, "invalid value '%s': expected a.b.c.d:port", v);
		return -EINVAL;
	}
	}
	snprintf(why, wl, "unknown type");
	return -EINVAL;
}

void
fmq_config_defaults(struct fmq_config *cfg)
{
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	diag_clear();
	for (size_t i = 0; i < NKEYS; i++) {
		/* Defaults are verified by the unit suite; a bad one is a bug. */
		if (parse_value(cfg, &keys[i], keys[i].dflt, why, sizeof(why)) < 0)
			FMQ_ERR("config", "default of %s: %s", keys[i].name, why);
	}
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A value in Kafka's unit scaled to the key's: "2" hours is "7200000"
 * ms; a negative time (Kafka's "forever") is -1. */
static int
scale_value(const char *v, int64_t scale, char *out, size_t outlen,
	    char *why, size_t wl)
{
	int64_t x, y;

	if (parse_i64(v, &x) < 0) {
		snprintf(why, wl, "invalid value '%s': expected an integer", v);
		return -EINVAL;
	}
	if (x < 0)
		y = -1;
	else if (__builtin_mul_overflow(x, scale, &y)) {
		snprintf(why, wl, "out of range: %s times %" PRId64
			 " does not fit 64 bits", v, scale);
		return -EINVAL;
	}
	snprintf(out, outlen, "%" PRId64, y);
	return 0;
}

static int
set_kv(struct fmq_config *cfg, const char *key, const char *val,
       const char *src, int lineno, char *err, size_t errlen)
{
	char why[384], scaled[32];
	const struct fmq_cfg_key *k = fmq_config_find(key);
	const struct alias *a = NULL;
	const char *name;
	int rank = OWN_RANK;

	if (k != NULL) {
		name = k->name;
	} else if ((a = alias_find(key)) != NULL) {
		k = fmq_config_find(a->key);
		name = a->name;
		rank = a->rank;
	} else if (fmq_config_is_kafka_key(key)) {
		/* Warning or error: config.unknown.keys decides at the end. */
		snprintf(why, sizeof(why), "%s:%d: %s", src, lineno, key);
		diag_add(DIAG_KAFKA_ONLY, why);
		return 0;
	} else {
		snprintf(err, errlen, "%s:%d: %s: unknown key", src, lineno, key);
		return -EINVAL;
	}
	struct fmq_cfg_origin *o = &cfg->origin[k - keys];
	if (o->src[0] != '\0' && rank < o->rank) {
		snprintf(err, errlen, "%s:%d: %s: ignored: %s (%s:%d) takes "
			 "precedence", src, lineno, key, o->name, o->src,
			 o->line);
		diag_add(DIAG_WARN, err);
		err[0] = '\0';
		return 0;
	}
	if (a != NULL && a->scale != 1) {
		if (scale_value(val, a->scale, scaled, sizeof(scaled), why,
				sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s: %s", src, lineno, key,
				 why);
			return -EINVAL;
		}
		val = scaled;
	}
	if (parse_value(cfg, k, val, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s:%d: %s: %s", src, lineno, key, why);
		return -EINVAL;
	}
	snprintf(o->src, sizeof(o->src), "%s", src);
	o->line = lineno;
	o->rank = rank;
	o->name = name;
	return 0;
}

static int
set_one(struct fmq_config *cfg, char *line, const char *src, int lineno,
	char *err, size_t errlen)
{
	char *eq = strchr(line, '=');
	char *key;

	if (eq == NULL) {
		snprintf(err, errlen, "%s:%d: %s: expected key=value", src,
			 lineno, trim(line));
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	if (key[0] == '\0') {
		snprintf(err, errlen, "%s:%d: (empty): missing key before '='",
			 src, lineno);
		return -EINVAL;
	}
	return set_kv(cfg, key, trim(eq + 1), src, lineno, err, errlen);
}

int
fmq_config_set(struct fmq_config *cfg, const char *kv, const char *origin,
	       int line, char *err, size_t errlen)
{
	char buf[FMQ_CFG_STR_MAX + 128];

	if (strlen(kv) >= sizeof(buf)) {
		snprintf(err, errlen, "%s:%d: %.40s...: line too long", origin,
			 line, kv);
		return -EINVAL;
	}
	strcpy(buf, kv);
	int rc = set_one(cfg, buf, origin, line, err, errlen);
	if (rc < 0)
		diag_add(DIAG_ERROR, err);
	return rc;
}

/* Read path; keep_going: report each bad line to the diagnostics and
 * go on (err keeps the first), else stop at the first. */
static int
kv_parse(const char *path, fmq_kv_fn fn, void *arg, bool keep_going,
	 char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[FMQ_CFG_STR_MAX + 256];
	char msg[DIAG_LEN];
	int lineno = 0, rc = 0, r;
	bool skipping = false;

	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s:0: (file): cannot open: %s", path,
			 strerror(errno));
		if (keep_going)
			diag_add(DIAG_ERROR, err);
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t l = strlen(line);
		bool whole = l == 0 || line[l - 1] == '\n' || feof(f);

		/* The rest of a line already reported as too long. */
		if (skipping) {
			skipping = !whole;
			continue;
		}
		lineno++;
		msg[0] = '\0';
		r = 0;
		if (!whole) {
			snprintf(msg, sizeof(msg), "%s:%d: (line): line too long",
				 path, lineno);
			skipping = true;
			r = -EINVAL;
			goto next;
		}
		char *s = trim(line);
		if (s[0] == '\0' || s[0] == '#' || s[0] == '!')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(msg, sizeof(msg), "%s:%d: %s: expected key=value",
				 path, lineno, s);
			r = -EINVAL;
			goto next;
		}
		*eq = '\0';
		char *key = trim(s);
		if (key[0] == '\0') {
			snprintf(msg, sizeof(msg),
				 "%s:%d: (empty): missing key before '='",
				 path, lineno);
			r = -EINVAL;
			goto next;
		}
		r = fn(arg, key, trim(eq + 1), path, lineno, msg, sizeof(msg));
next:
		if (r < 0) {
			if (rc == 0)
				snprintf(err, errlen, "%s", msg);
			rc = r;
			if (!keep_going)
				break;
			diag_add(DIAG_ERROR, msg);
		}
	}
	fclose(f);
	return rc;
}

int
fmq_kv_parse_file(const char *path, fmq_kv_fn fn, void *arg, char *err,
		  size_t errlen)
{
	return kv_parse(path, fn, arg, false, err, errlen);
}

static int
config_kv(void *arg, const char *key, const char *val, const char *src,
	  int line, char *err, size_t errlen)
{
	return set_kv(arg, key, val, src, line, err, errlen);
}

int
fmq_config_load_file(struct fmq_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	return kv_parse(path, config_kv, cfg, true, err, errlen);
}

unsigned int
fmq_config_finish(const struct fmq_config *cfg, fmq_cfg_report_fn fn,
		  void *arg)
{
	bool strict = strcmp(cfg->config_unknown_keys, "error") == 0;
	unsigned int nerr = 0;
	char msg[DIAG_LEN + 128];

	for (unsigned int i = 0; i < n_diags; i++) {
		switch (diags[i].kind) {
		case DIAG_ERROR:
			fn(arg, true, diags[i].msg);
			nerr++;
			break;
		case DIAG_WARN:
			fn(arg, false, diags[i].msg);
			break;
		case DIAG_KAFKA_ONLY:
			snprintf(msg, sizeof(msg), "%s: Kafka broker key with "
				 "no meaning in FluxMQ%s", diags[i].msg,
				 strict ? " (config.unknown.keys=error)" :
				 ": ignored");
			fn(arg, strict, msg);
			nerr += strict;
			break;
		}
	}
	if (n_dropped[DIAG_ERROR] + (strict ? n_dropped[DIAG_KAFKA_ONLY] : 0)) {
		unsigned int more = n_dropped[DIAG_ERROR] +
			(strict ? n_dropped[DIAG_KAFKA_ONLY] : 0);
		snprintf(msg, sizeof(msg), "(config): %u more errors not shown",
			 more);
		fn(arg, true, msg);
		nerr += more;
	}
	if (n_dropped[DIAG_WARN] + (strict ? 0 : n_dropped[DIAG_KAFKA_ONLY])) {
		snprintf(msg, sizeof(msg), "(config): %u more warnings not shown",
			 n_dropped[DIAG_WARN] +
			 (strict ? 0 : n_dropped[DIAG_KAFKA_ONLY]));
		fn(arg, false, msg);
	}
	diag_clear();
	return nerr;
}

/* Errors reported through fmq_config_error: start-up tells a bad value
 * (exit 2) from any other failure (exit 1) by this count moving. */
static unsigned int config_errors;

unsigned int
fmq_config_error_count(void)
{
	return __atomic_load_n(&config_errors, __ATOMIC_RELAXED);
}

int
fmq_config_error(const struct fmq_config *cfg, const char *name, char *err,
		 size_t errlen, const char *fmt, ...)
{
	const struct fmq_cfg_key *k = fmq_config_find(name);
	char why[512];
	va_list ap;

	__atomic_fetch_add(&config_errors, 1, __ATOMIC_RELAXED);

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (k != NULL && cfg->origin[k - keys].src[0] != '\0')
		snprintf(err, errlen, "%s:%d: %s: %s",
			 cfg->origin[k - keys].src, cfg->origin[k - keys].line,
			 name, why);
	else
		snprintf(err, errlen, "default: %s: %s", name, why);
	return -EINVAL;
}

int
fmq_config_format(const struct fmq_config *cfg, const struct fmq_cfg_key *k,
		  char *buf, size_t len)
{
	const void *f = (const char *)cfg + k->offset;
	struct in_addr a;

	switch (k->type) {
	case FMQ_CFG_STR:
	case FMQ_CFG_ENUM:
		return snprintf(buf, len, "%s", (const char *)f);
	case FMQ_CFG_U64:
		return snprintf(buf, len, "%" PRIu64, *(const uint64_t *)f);
	case FMQ_CFG_I64:
		return snprintf(buf, len, "%" PRId64, *(const int64_t *)f);
	case FMQ_CFG_BOOL:
		return snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
	case FMQ_CFG_F64:
		return snprintf(buf, len, "%g", *(const double *)f);
	case FMQ_CFG_IPV4:
		a.s_addr = *(const uint32_t *)f;
		return snprintf(buf, len, "%s", inet_ntoa(a));
	case FMQ_CFG_IPV4_CIDR: {
		const struct fmq_ipv4_cidr *c = f;
		a.s_addr = c->addr;
		return snprintf(buf, len, "%s/%u", inet_ntoa(a), c->prefix);
	}
	case FMQ_CFG_MAC: {
		const struct fmq_mac *m = f;
		if (!m->set)
			return snprintf(buf, len, "%s", "");
		return snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
				m->b[0], m->b[1], m->b[2], m->b[3], m->b[4],
				m->b[5]);
	}
	case FMQ_CFG_HOSTPORT: {
		const struct fmq_hostport *hp = f;
		a.s_addr = htonl(hp->addr);
		return snprintf(buf, len, "%s:%u", inet_ntoa(a), hp->port);
	}
	}
	return -EINVAL;
}

void
fmq_config_write_doc(FILE *out)
{
	fprintf(out,
		"# Configuration reference\n\n"
		"<!-- Generated by `fluxmq --dump-config-doc` from the key table in\n"
		"     lib/util/keys/*.def. Do not edit by hand. -->\n\n"
		"FluxMQ reads a server.properties style file (`--config FILE`,\n"
		"which may be given more than once): one `key=value` per line,\n"
		"`#` or `!` starts a comment line. `--set key=value` overrides a\n"
		"key: every `--set` is applied after every `--config`, whatever\n"
		"their order on the command line.\n\n"
		"Problems are reported all at once: every bad line of every\n"
		"source is printed as `file:line: key: reason` (an unknown key, a\n"
		"malformed value or a missing file), then start-up stops with\n"
		"exit code 2. So does a value that parses but cannot work: a\n"
		"constraint a key's description states, a directory that cannot\n"
		"be used, or a TAP, address or directory another running broker\n"
		"holds.\n\n"
		"## Kafka's server.properties\n\n"
		"A stock Apache Kafka `server.properties` reads without an error\n"
		"(tests/vectors/config holds Kafka's samples). Two of its values\n"
		"usually need `--set` to run here: `log.dirs` (a directory this\n"
		"broker may lock) and `advertised.listeners` (the samples name\n"
		"`localhost`, which a client outside this host cannot reach).\n"
		"`listeners` hosts must be empty, 0.0.0.0 or net.ip; the KRaft\n"
		"sample's `CONTROLLER` listener is left out, being named in\n"
		"`controller.listener.names`.\n"
		"Kafka's broker keys that FluxMQ implements are read under\n"
		"Kafka's name: most keys below carry it already, and the names in\n"
		"the alias table map onto a FluxMQ key, converted to its unit.\n"
		"Kafka's other documented broker keys (thread counts, socket\n"
		"buffers, ZooKeeper, KRaft and security settings such as\n"
		"`process.roles`, `controller.quorum.voters`,\n"
		"`num.network.threads`, `num.io.threads`,\n"
		"`socket.send.buffer.bytes`, `offsets.topic.replication.factor`)\n"
		"have no meaning here: each is accepted with one warning\n"
		"`file:line: key: Kafka broker key with no meaning in FluxMQ:\n"
		"ignored`, or is an error under `config.unknown.keys=error`. A\n"
		"key that is neither FluxMQ's nor Kafka's is always an error\n"
		"(`unknown key`). The list of Kafka's names is\n"
		"lib/util/keys/kafka_names.def.\n\n"
		"When one key is given under several names, the name of highest\n"
		"precedence wins whatever the order, as in Kafka: the key's own\n"
		"name first (`log.retention.ms` over `log.retention.minutes` over\n"
		"`log.retention.hours`, `log.roll.ms` over `log.roll.hours`,\n"
		"`log.dirs` over `log.dir`); a name of lower precedence is\n"
		"ignored with a warning naming the one that won. Between names of\n"
		"equal precedence (`broker.id` and `node.id`, or one name twice)\n"
		"the last one read wins.\n\n"
		"| Kafka name | FluxMQ key | value | precedence |\n"
		"|---|---|---|---|\n");
	for (size_t i = 0; i < NALIASES; i++) {
		const struct alias *a = &aliases[i];
		char conv[64];
		if (a->scale == 1)
			snprintf(conv, sizeof(conv), "same");
		else
			snprintf(conv, sizeof(conv), "times %" PRId64
				 " (negative: -1)", a->scale);
		fprintf(out, "| `%s` | `%s` | %s | %s |\n", a->name, a->key,
			conv, a->rank >= OWN_RANK ? "same as the key's name" :
			"below the key's name");
	}
	fprintf(out,
		"\n## Keys\n\n"
		"| key | type | default | allowed | description |\n"
		"|---|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct fmq_cfg_key *k = &keys[i];
		fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", k->name,
			type_name(k->type), k->dflt,
			k->limits[0] ? k->limits : "", k->doc);
	}
}

int
fmq_config_parse(struct fmq_config *cfg, const struct fmq_cfg_key *k,
		 const char *v, char *why, size_t wl)
{
	return parse_value(cfg, k, v, why, wl);
}
