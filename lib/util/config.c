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

static int
set_kv(struct fmq_config *cfg, const char *key, const char *val,
       const char *src, int lineno, char *err, size_t errlen)
{
	char why[384];
	const struct fmq_cfg_key *k = fmq_config_find(key);

	if (k == NULL) {
		snprintf(err, errlen, "%s:%d: %s: unknown key", src, lineno, key);
		return -EINVAL;
	}
	if (parse_value(cfg, k, val, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s:%d: %s: %s", src, lineno, key, why);
		return -EINVAL;
	}
	struct fmq_cfg_origin *o = &cfg->origin[k - keys];
	snprintf(o->src, sizeof(o->src), "%s", src);
	o->line = lineno;
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
	return set_one(cfg, buf, origin, line, err, errlen);
}

int
fmq_kv_parse_file(const char *path, fmq_kv_fn fn, void *arg, char *err,
		  size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[FMQ_CFG_STR_MAX + 256];
	int lineno = 0, rc = 0;

	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s:0: (file): cannot open: %s", path,
			 strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t l = strlen(line);
		lineno++;
		if (l == sizeof(line) - 1 && line[l - 1] != '\n' && !feof(f)) {
			snprintf(err, errlen, "%s:%d: (line): line too long",
				 path, lineno);
			rc = -EINVAL;
			break;
		}
		char *s = trim(line);
		if (s[0] == '\0' || s[0] == '#' || s[0] == '!')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: %s: expected key=value",
				 path, lineno, s);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(s);
		if (key[0] == '\0') {
			snprintf(err, errlen,
				 "%s:%d: (empty): missing key before '='",
				 path, lineno);
			rc = -EINVAL;
			break;
		}
		rc = fn(arg, key, trim(eq + 1), path, lineno, err, errlen);
		if (rc < 0)
			break;
	}
	fclose(f);
	return rc;
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
	return fmq_kv_parse_file(path, config_kv, cfg, err, errlen);
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
		"FluxMQ reads a server.properties style file (`--config FILE`):\n"
		"one `key=value` per line, `#` or `!` starts a comment line.\n"
		"`--set key=value` overrides a key after the file is read.\n"
		"An unknown key, a malformed value or a missing file stops\n"
		"start-up with `file:line: key: reason` and exit code 2, and so\n"
		"does a value that parses but cannot work: a constraint a key's\n"
		"description states, a directory that cannot be used, or a TAP,\n"
		"address or directory another running broker holds.\n\n"
		"| key | type | default | allowed | description |\n"
		"|---|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct fmq_cfg_key *k = &keys[i];
		fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", k->name,
			type_name(k->type), k->dflt,
			k->limits[0] ? k->limits : "", k->doc);
	}
}
