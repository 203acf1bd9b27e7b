/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topic registry: topics, partition counts, owners and configs, persisted
 * in <dir>/topics.meta (rewritten atomically: temp file, fsync, rename,
 * fsync of the directory) after every change.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fmq_ctrl.h"
#include "ctrl_priv.h"

#define META_FILE "topics.meta"
#define META_MAGIC "# fluxmq topic registry v1"

struct fmq_topics {
	char dir[4096];
	struct fmq_topic_cfg dflt;
	unsigned int n_lcores;
	struct fmq_topic **v;        /* sorted by name */
	size_t n, cap;
	uint64_t *lcore_load;        /* partitions per data lcore */
	uint64_t version;
};

/* ---------------------------------------------------------------- configs */

static const struct fmq_tcfg_key tkeys[FMQ_TCFG_N] = {
#define FMQ_TCFG(field, kname, type, kdflt, klimits, kdoc) \
	{ .name = kname, .dflt = kdflt, .limits = klimits, .doc = kdoc },
#include "keys/topic.def"
#undef FMQ_TCFG
};

enum tc_type { TC_LONG, TC_ENUM, TC_BOOL, TC_DOUBLE, TC_STRING };

static const enum tc_type ttypes[FMQ_TCFG_N] = {
#define FMQ_TCFG(field, kname, type, kdflt, klimits, kdoc) TC_##type,
#include "keys/topic.def"
#undef FMQ_TCFG
};

static const size_t toffsets[FMQ_TCFG_N] = {
#define FMQ_TCFG(field, kname, type, kdflt, klimits, kdoc) \
	offsetof(struct fmq_topic_cfg, field),
#include "keys/topic.def"
#undef FMQ_TCFG
};

const struct fmq_tcfg_key *
fmq_tcfg_keys(void)
{
	return tkeys;
}

int
fmq_tcfg_find(const char *name)
{
	for (int i = 0; i < FMQ_TCFG_N; i++)
		if (strcmp(tkeys[i].name, name) == 0)
			return i;
	return -1;
}

/* Index of v in "a|b|c", or -1. */
static int
enum_index(const char *limits, const char *v)
{
	size_t vl = strlen(v);
	int i = 0;

	for (const char *p = limits;; i++) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && strncmp(p, v, l) == 0)
			return i;
		if (bar == NULL)
			return -1;
		p = bar + 1;
	}
}

static int16_t
parse_into(struct fmq_topic_cfg *c, int idx, const char *v, char *msg,
	   size_t msglen)
{
	void *f = (char *)c + toffsets[idx];
	const struct fmq_tcfg_key *k = &tkeys[idx];

	switch (ttypes[idx]) {
	case TC_LONG: {
		char *end;
		long long x, lo, hi;
		errno = 0;
		x = strtoll(v, &end, 10);
		if (v[0] == '\0' || isspace((unsigned char)v[0]) || *end != '\0' ||
		    errno != 0) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: Not a number of type LONG", v, k->name);
			return FMQ_KERR_INVALID_CONFIG;
		}
		const char *dots = strstr(k->limits, "..");
		lo = strtoll(k->limits, NULL, 10);
		hi = strtoll(dots + 2, NULL, 10);
		if (x < lo || x > hi) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: Value must be in %s", v, k->name, k->limits);
			return FMQ_KERR_INVALID_CONFIG;
		}
		*(int64_t *)f = x;
		return 0;
	}
	case TC_STRING: {
		struct fmq_tc_string *str = f;
		size_t n = strlen(v);

		if (n >= sizeof(str->s) ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789:,.*_-") != n) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: at most %zu of A-Z a-z 0-9 : , . * _ -", v,
				 k->name, sizeof(str->s) - 1);
			return FMQ_KERR_INVALID_CONFIG;
		}
		memcpy(str->s, v, n + 1);
		return 0;
	}
	case TC_DOUBLE: {
		char *end;
		double x, lo, hi;
		errno = 0;
		x = strtod(v, &end);
		if (v[0] == '\0' || isspace((unsigned char)v[0]) || *end != '\0' ||
		    errno != 0 || x != x) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: Not a number of type DOUBLE", v, k->name);
			return FMQ_KERR_INVALID_CONFIG;
		}
		lo = strtod(k->limits, NULL);
		hi = strtod(strstr(k->limits, "..") + 2, NULL);
		if (x < lo || x > hi) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: Value must be in %s", v, k->name, k->limits);
			return FMQ_KERR_INVALID_CONFIG;
		}
		*(double *)f = x;
		return 0;
	}
	case TC_ENUM: {
		int i = enum_index(k->limits, v);
		if (i < 0) {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: String must be one of: %s", v, k->name,
				 k->limits);
			return FMQ_KERR_INVALID_CONFIG;
		}
		*(uint8_t *)f = (uint8_t)i;
		return 0;
	}
	case TC_BOOL:
		if (strcmp(v, "true") == 0)
			*(bool *)f = true;
		else if (strcmp(v, "false") == 0)
			*(bool *)f = false;
		else {
			snprintf(msg, msglen, "Invalid value %s for configuration "
				 "%s: Expected value to be either true or false",
				 v, k->name);
			return FMQ_KERR_INVALID_CONFIG;
		}
		return 0;
	}
	return FMQ_KERR_INVALID_CONFIG;
}

void
fmq_tcfg_defaults(struct fmq_topic_cfg *c)
{
	char msg[256];

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < FMQ_TCFG_N; i++)
		parse_into(c, i, tkeys[i].dflt, msg, sizeof(msg));
}

int16_t
fmq_tcfg_set(struct fmq_topic_cfg *c, const char *name, const char *value,
	     char *msg, size_t msglen)
{
	int idx = fmq_tcfg_find(name);
	int16_t rc;

	if (idx < 0) {
		snprintf(msg, msglen, "Unknown topic config name: %s", name);
		return FMQ_KERR_INVALID_CONFIG;
	}
	rc = parse_into(c, idx, value, msg, msglen);
	/* An empty string is its default (and could not be persisted). */
	if (rc == 0)
		c->set[idx] = !(ttypes[idx] == TC_STRING && value[0] == '\0' &&
				tkeys[idx].dflt[0] == '\0');
	return rc;
}

int16_t
fmq_tcfg_unset(struct fmq_topic_cfg *c, const struct fmq_topic_cfg *dflt,
	       const char *name, char *msg, size_t msglen)
{
	int idx = fmq_tcfg_find(name);
	char v[64];

	if (idx < 0) {
		snprintf(msg, msglen, "Unknown topic config name: %s", name);
		return FMQ_KERR_INVALID_CONFIG;
	}
	fmq_tcfg_format(dflt, idx, v, sizeof(v));
	parse_into(c, idx, v, msg, msglen);
	c->set[idx] = false;
	return 0;
}

void
fmq_tcfg_from_broker(struct fmq_topic_cfg *c, const struct fmq_config *cfg)
{
	char msg[512], v[FMQ_CFG_STR_MAX];

	fmq_tcfg_defaults(c);
#define FROM(idx, fmt, val) \
	do { \
		snprintf(v, sizeof(v), fmt, val); \
		parse_into(c, idx, v, msg, sizeof(msg)); \
	} while (0)
	FROM(FMQ_TCFG_IDX_compression_type, "%s", cfg->compression_type);
	FROM(FMQ_TCFG_IDX_max_message_bytes, "%" PRIu64, cfg->message_max_bytes);
	FROM(FMQ_TCFG_IDX_message_timestamp_type, "%s",
	     cfg->message_timestamp_type);
	FROM(FMQ_TCFG_IDX_retention_ms, "%" PRId64, cfg->log_retention_ms);
	FROM(FMQ_TCFG_IDX_retention_bytes, "%" PRId64, cfg->log_retention_bytes);
	FROM(FMQ_TCFG_IDX_segment_bytes, "%" PRIu64, cfg->log_segment_bytes);
	FROM(FMQ_TCFG_IDX_segment_ms, "%" PRId64, cfg->log_roll_ms);
	FROM(FMQ_TCFG_IDX_segment_index_bytes, "%" PRIu64,
	     cfg->log_index_size_max_bytes);
	FROM(FMQ_TCFG_IDX_index_interval_bytes, "%" PRIu64,
	     cfg->log_index_interval_bytes);
	FROM(FMQ_TCFG_IDX_flush_messages, "%" PRIu64,
	     cfg->log_flush_interval_messages);
	FROM(FMQ_TCFG_IDX_flush_ms, "%" PRIu64, cfg->log_flush_interval_ms);
	FROM(FMQ_TCFG_IDX_validation, "%s", cfg->validation);
	FROM(FMQ_TCFG_IDX_min_insync_replicas, "%" PRIu64,
	     cfg->min_insync_replicas);
	FROM(FMQ_TCFG_IDX_unclean_leader_election_enable, "%s",
	     cfg->unclean_leader_election_enable ? "true" : "false");
#undef FROM
}

void
fmq_tcfg_format(const struct fmq_topic_cfg *c, int idx, char *buf, size_t len)
{
	const void *f = (const char *)c + toffsets[idx];

	switch (ttypes[idx]) {
	case TC_LONG:
		snprintf(buf, len, "%" PRId64, *(const int64_t *)f);
		return;
	case TC_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
		return;
	case TC_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)f);
		return;
	case TC_STRING:
		snprintf(buf, len, "%s", ((const struct fmq_tc_string *)f)->s);
		return;
	case TC_ENUM: {
		const char *p = tkeys[idx].limits;
		for (int i = *(const uint8_t *)f; i > 0 && p != NULL; i--) {
			p = strchr(p, '|');
			if (p != NULL)
				p++;
		}
		if (p == NULL) {
			snprintf(buf, len, "?");
			return;
		}
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		snprintf(buf, len, "%.*s", (int)l, p);
		return;
	}
	}
}

/* ------------------------------------------------------------------ names */

int16_t
fmq_topics_validate_name(const char *name, char *msg, size_t msglen)
{
	size_t l = strlen(name);

	if (l == 0) {
		snprintf(msg, msglen, "Topic name is illegal, it can't be empty");
		return FMQ_KERR_INVALID_TOPIC_EXCEPTION;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(msg, msglen, "Topic name cannot be \".\" or \"..\"");
		return FMQ_KERR_INVALID_TOPIC_EXCEPTION;
	}
	if (l > FMQ_TOPIC_NAME_MAX) {
		snprintf(msg, msglen, "Topic name is illegal, it can't be longer "
			 "than %d characters, topic name: %.40s...",
			 FMQ_TOPIC_NAME_MAX, name);
		return FMQ_KERR_INVALID_TOPIC_EXCEPTION;
	}
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-') {
			snprintf(msg, msglen, "Topic name \"%.249s\" is illegal, it "
				 "contains a character other than ASCII "
				 "alphanumerics, '.', '_' and '-'", name);
			return FMQ_KERR_INVALID_TOPIC_EXCEPTION;
		}
	}
	return 0;
}

/* Kafka: '.' and '_' collide in metric names, so a.b and a_b cannot coexist. */
static bool
collides(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a == '.' ? '_' : *a, y = *b == '.' ? '_' : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* -------------------------------------------------------------- registry */

static size_t
lower_bound(const struct fmq_topics *t, const char *name)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(t->v[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct fmq_topic *
fmq_topics_find(const struct fmq_topics *t, const char *name)
{
	size_t i = lower_bound(t, name);

	return (i < t->n && strcmp(t->v[i]->name, name) == 0) ? t->v[i] : NULL;
}

size_t
fmq_topics_count(const struct fmq_topics *t)
{
	return t->n;
}

const struct fmq_topic *
fmq_topics_at(const struct fmq_topics *t, size_t i)
{
	return i < t->n ? t->v[i] : NULL;
}

uint64_t
fmq_topics_version(const struct fmq_topics *t)
{
	return t->version;
}

void
fmq_topic_id_str(const uint8_t id[16], char out[23])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0, o = 0;

	for (int i = 0; i < 16; i++) {
		acc = (acc << 8) | id[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

/* The least loaded data lcore takes each new partition. */
static uint16_t
pick_owner(struct fmq_topics *t)
{
	unsigned int best = 0;

	for (unsigned int i = 1; i < t->n_lcores; i++)
		if (t->lcore_load[i] < t->lcore_load[best])
			best = i;
	t->lcore_load[best]++;
	return (uint16_t)best;
}

static int
save(struct fmq_topics *t)
{
	char path[4200];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", t->dir, META_FILE);
	rc = fmq_file_begin(path, 0644, &f);
	if (rc < 0)
		return rc;
	fprintf(f, "%s\n", META_MAGIC);
	for (size_t i = 0; i < t->n; i++) {
		const struct fmq_topic *tp = t->v[i];
		fprintf(f, "topic %s ", tp->name);
		for (int b = 0; b < 16; b++)
			fprintf(f, "%02x", tp->id[b]);
		fprintf(f, " %" PRId64 " %u ", tp->created_ms, tp->nparts);
		for (uint32_t p = 0; p < tp->nparts; p++)
			fprintf(f, "%s%u", p ? "," : "", tp->owner[p]);
		fputc('\n', f);
		for (int k = 0; k < FMQ_TCFG_N; k++) {
			char v[64];
			if (!tp->cfg.set[k])
				continue;
			fmq_tcfg_format(&tp->cfg, k, v, sizeof(v));
			fprintf(f, "config %s %s %s\n", tp->name, tkeys[k].name, v);
		}
	}
	rc = fmq_file_commit(f, path);
	if (rc == 0)
		t->version++;
	return rc;
}

static void
topic_free(struct fmq_topic *tp)
{
	if (tp == NULL)
		return;
	free(tp->owner);
	free(tp);
}

static int
insert(struct fmq_topics *t, struct fmq_topic *tp)
{
	size_t i = lower_bound(t, tp->name);

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct fmq_topic **v = realloc(t->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = tp;
	t->n++;
	return 0;
}

static int
load_line(struct fmq_topics *t, char *line, char *err, size_t errlen,
	  const char *path, int lineno)
{
	char *save = NULL;
	char *kind = strtok_r(line, " \n", &save);

	if (kind == NULL || kind[0] == '#')
		return 0;
	if (strcmp(kind, "topic") == 0) {
		char *name = strtok_r(NULL, " \n", &save);
		char *id = strtok_r(NULL, " \n", &save);
		char *created = strtok_r(NULL, " \n", &save);
		char *np = strtok_r(NULL, " \n", &save);
		char *owners = strtok_r(NULL, " \n", &save);
		char msg[512];
		struct fmq_topic *tp;

		if (name == NULL || id == NULL || created == NULL || np == NULL ||
		    owners == NULL || strlen(id) != 32 ||
		    fmq_topics_validate_name(name, msg, sizeof(msg)) != 0)
			goto bad;
		tp = calloc(1, sizeof(*tp));
		if (tp == NULL)
			return -ENOMEM;
		snprintf(tp->name, sizeof(tp->name), "%s", name);
		for (int b = 0; b < 16; b++) {
			unsigned int x;
			if (sscanf(id + 2 * b, "%2x", &x) != 1) {
				topic_free(tp);
				goto bad;
			}
			tp->id[b] = (uint8_t)x;
		}
		tp->created_ms = strtoll(created, NULL, 10);
		long n = strtol(np, NULL, 10);
		if (n < 1 || n > FMQ_TOPIC_MAX_PARTITIONS) {
			topic_free(tp);
			goto bad;
		}
		tp->nparts = (uint32_t)n;
		tp->owner = calloc(tp->nparts, sizeof(*tp->owner));
		if (tp->owner == NULL) {
			topic_free(tp);
			return -ENOMEM;
		}
		char *o = owners;
		for (uint32_t p = 0; p < tp->nparts; p++) {
			char *end;
			long x = strtol(o, &end, 10);
			if (end == o || (*end != ',' && *end != '\0') || x < 0) {
				topic_free(tp);
				goto bad;
			}
			/* Fewer data lcores than last time: move it. */
			if ((unsigned long)x >= t->n_lcores)
				tp->owner[p] = pick_owner(t);
			else {
				tp->owner[p] = (uint16_t)x;
				t->lcore_load[x]++;
			}
			o = *end == ',' ? end + 1 : end;
		}
		tp->cfg = t->dflt;
		if (fmq_topics_find(t, tp->name) != NULL || insert(t, tp) < 0) {
			topic_free(tp);
			goto bad;
		}
		return 0;
	}
	if (strcmp(kind, "config") == 0) {
		char *name = strtok_r(NULL, " \n", &save);
		char *key = strtok_r(NULL, " \n", &save);
		char *val = strtok_r(NULL, "\n", &save);
		char msg[512];
		struct fmq_topic *tp;
		size_t i;

		if (name == NULL || key == NULL || val == NULL)
			goto bad;
		i = lower_bound(t, name);
		if (i >= t->n || strcmp(t->v[i]->name, name) != 0)
			goto bad;
		tp = t->v[i];
		if (fmq_tcfg_set(&tp->cfg, key, val, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			return -EINVAL;
		}
		return 0;
	}
bad:
	snprintf(err, errlen, "%s:%d: malformed topic registry line", path,
		 lineno);
	return -EINVAL;
}

const struct fmq_topic_cfg *
fmq_topics_defaults(const struct fmq_topics *t)
{
	return &t->dflt;
}

struct fmq_topics *
fmq_topics_open(const char *dir, unsigned int n_lcores,
		const struct fmq_topic_cfg *dflt, char *err, size_t errlen)
{
	struct fmq_topics *t;
	char path[4200], line[1024];
	FILE *f;
	int lineno = 0, rc = 0;

	if (n_lcores == 0)
		n_lcores = 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto oom;
	t->lcore_load = calloc(n_lcores, sizeof(*t->lcore_load));
	if (t->lcore_load == NULL)
		goto oom;
	t->n_lcores = n_lcores;
	if (dflt != NULL)
		t->dflt = *dflt;
	else
		fmq_tcfg_defaults(&t->dflt);
	memset(t->dflt.set, 0, sizeof(t->dflt.set));
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			lineno++;
			if (lineno == 1 && strncmp(line, META_MAGIC,
						   strlen(META_MAGIC)) != 0) {
				snprintf(err, errlen, "%s:1: not a FluxMQ topic "
					 "registry", path);
				rc = -EINVAL;
				break;
			}
			rc = load_line(t, line, err, errlen, path, lineno);
			if (rc < 0)
				break;
		}
		fclose(f);
		if (rc < 0)
			goto fail;
	}
	return t;
oom:
	snprintf(err, errlen, "topic registry: out of memory");
	rc = -ENOMEM;
fail:
	fmq_topics_close(t);
	errno = -rc;
	return NULL;
}

void
fmq_topics_close(struct fmq_topics *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		topic_free(t->v[i]);
	free(t->v);
	free(t->lcore_load);
	free(t);
}

int16_t
fmq_topics_create(struct fmq_topics *t, const char *name, int32_t nparts,
		  int16_t rf, int32_t default_parts, const struct fmq_kv *cfgs,
		  size_t ncfgs, bool validate_only, char *msg, size_t msglen,
		  const struct fmq_topic **out)
{
	struct fmq_topic_cfg cfg;
	struct fmq_topic *tp;
	int16_t e;

	msg[0] = '\0';
	e = fmq_topics_validate_name(name, msg, msglen);
	if (e != 0)
		return e;
	if (fmq_topics_find(t, name) != NULL) {
		snprintf(msg, msglen, "Topic '%s' already exists.", name);
		return FMQ_KERR_TOPIC_ALREADY_EXISTS;
	}
	for (size_t i = 0; i < t->n; i++)
		if (collides(t->v[i]->name, name)) {
			snprintf(msg, msglen, "Topic '%s' collides with existing "
				 "topic: %s", name, t->v[i]->name);
			return FMQ_KERR_INVALID_TOPIC_EXCEPTION;
		}
	if (nparts == -1)
		nparts = default_parts;
	if (nparts <= 0) {
		snprintf(msg, msglen, "Number of partitions was set to an invalid "
			 "non-positive value.");
		return FMQ_KERR_INVALID_PARTITIONS;
	}
	if (nparts > FMQ_TOPIC_MAX_PARTITIONS) {
		snprintf(msg, msglen, "Number of partitions %d is above the "
			 "limit of %d.", nparts, FMQ_TOPIC_MAX_PARTITIONS);
		return FMQ_KERR_INVALID_PARTITIONS;
	}
	if (rf != -1 && rf <= 0) {
		snprintf(msg, msglen, "Replication factor must be larger than 0, "
			 "or -1 to use the default value.");
		return FMQ_KERR_INVALID_REPLICATION_FACTOR;
	}
	if (rf > 1) {
		snprintf(msg, msglen, "Unable to replicate the partition %d "
			 "time(s): The target replication factor of %d cannot be "
			 "reached because only 1 broker(s) are registered.", rf, rf);
		return FMQ_KERR_INVALID_REPLICATION_FACTOR;
	}
	cfg = t->dflt;
	for (size_t i = 0; i < ncfgs; i++) {
		if (cfgs[i].value == NULL) {
			e = fmq_tcfg_unset(&cfg, &t->dflt, cfgs[i].key, msg,
					   msglen);
		} else {
			e = fmq_tcfg_set(&cfg, cfgs[i].key, cfgs[i].value, msg,
					 msglen);
		}
		if (e != 0)
			return e;
	}
	if (validate_only)
		return 0;

	tp = calloc(1, sizeof(*tp));
	if (tp == NULL)
		goto storage;
	tp->owner = calloc((size_t)nparts, sizeof(*tp->owner));
	if (tp->owner == NULL) {
		free(tp);
		goto storage;
	}
	snprintf(tp->name, sizeof(tp->name), "%s", name);
	if (getrandom(tp->id, sizeof(tp->id), 0) != (ssize_t)sizeof(tp->id)) {
		topic_free(tp);
		goto storage;
	}
	tp->id[6] = (uint8_t)((tp->id[6] & 0x0f) | 0x40);  /* UUID v4 */
	tp->id[8] = (uint8_t)((tp->id[8] & 0x3f) | 0x80);
	tp->created_ms = fmq_wall_ms();
	tp->nparts = (uint32_t)nparts;
	for (int32_t p = 0; p < nparts; p++)
		tp->owner[p] = pick_owner(t);
	tp->cfg = cfg;
	if (insert(t, tp) < 0) {
		topic_free(tp);
		goto storage;
	}
	if (save(t) < 0) {
		fmq_topics_delete(t, name, msg, msglen);
		goto storage;
	}
	if (out != NULL)
		*out = tp;
	return 0;
storage:
	snprintf(msg, msglen, "Could not persist the topic registry in %s",
		 t->dir);
	return FMQ_KERR_KAFKA_STORAGE_ERROR;
}

int16_t
fmq_topics_delete(struct fmq_topics *t, const char *name, char *msg,
		  size_t msglen)
{
	size_t i = lower_bound(t, name);
	struct fmq_topic *tp;

	msg[0] = '\0';
	if (i >= t->n || strcmp(t->v[i]->name, name) != 0) {
		snprintf(msg, msglen, "This server does not host this "
			 "topic-partition.");
		return FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	tp = t->v[i];
	for (uint32_t p = 0; p < tp->nparts; p++)
		if (tp->owner[p] < t->n_lcores && t->lcore_load[tp->owner[p]] > 0)
			t->lcore_load[tp->owner[p]]--;
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	topic_free(tp);
	if (save(t) < 0) {
		snprintf(msg, msglen, "Could not persist the topic registry in %s",
			 t->dir);
		return FMQ_KERR_KAFKA_STORAGE_ERROR;
	}
	return 0;
}

int16_t
fmq_topics_add_partitions(struct fmq_topics *t, const char *name,
			  int32_t total, bool validate_only, char *msg,
			  size_t msglen)
{
	size_t i = lower_bound(t, name);
	struct fmq_topic *tp;
	uint16_t *owner;

	msg[0] = '\0';
	if (i >= t->n || strcmp(t->v[i]->name, name) != 0) {
		snprintf(msg, msglen, "Topic '%s' does not exist.", name);
		return FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	tp = t->v[i];
	if (total <= (int32_t)tp->nparts) {
		snprintf(msg, msglen, "Topic currently has %u partitions, %d "
			 "would not be an increase.", tp->nparts, total);
		return FMQ_KERR_INVALID_PARTITIONS;
	}
	if (total > FMQ_TOPIC_MAX_PARTITIONS) {
		snprintf(msg, msglen, "Number of partitions %d is above the "
			 "limit of %d.", total, FMQ_TOPIC_MAX_PARTITIONS);
		return FMQ_KERR_INVALID_PARTITIONS;
	}
	if (validate_only)
		return 0;
	owner = realloc(tp->owner, (size_t)total * sizeof(*owner));
	if (owner == NULL)
		goto storage;
	tp->owner = owner;
	uint32_t old = tp->nparts;
	for (uint32_t p = old; p < (uint32_t)total; p++)
		tp->owner[p] = pick_owner(t);
	tp->nparts = (uint32_t)total;
	if (save(t) < 0) {
		for (uint32_t p = old; p < (uint32_t)total; p++)
			t->lcore_load[tp->owner[p]]--;
		tp->nparts = old;
		goto storage;
	}
	return 0;
storage:
	snprintf(msg, msglen, "Could not persist the topic registry in %s",
		 t->dir);
	return FMQ_KERR_KAFKA_STORAGE_ERROR;
}

int16_t
fmq_topics_preview(const struct fmq_topics *t, const char *name,
		   const struct fmq_alter *ops, size_t nops,
		   struct fmq_topic_cfg *out, char *msg, size_t msglen)
{
	size_t i = lower_bound(t, name);
	struct fmq_topic_cfg cfg;
	int16_t e = 0;

	msg[0] = '\0';
	if (i >= t->n || strcmp(t->v[i]->name, name) != 0) {
		snprintf(msg, msglen, "Topic '%s' does not exist.", name);
		return FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	cfg = t->v[i]->cfg;
	for (size_t k = 0; k < nops && e == 0; k++) {
		switch (ops[k].op) {
		case FMQ_ALTER_SET:
			if (ops[k].value == NULL) {
				snprintf(msg, msglen, "Null value not supported "
					 "for topic configs: %s", ops[k].key);
				e = FMQ_KERR_INVALID_CONFIG;
			} else {
				e = fmq_tcfg_set(&cfg, ops[k].key, ops[k].value,
						 msg, msglen);
			}
			break;
		case FMQ_ALTER_DELETE:
			e = fmq_tcfg_unset(&cfg, &t->dflt, ops[k].key, msg,
					   msglen);
			break;
		case FMQ_ALTER_APPEND:
		case FMQ_ALTER_SUBTRACT:
			/* Only list-typed configs take these; ours are scalars. */
			snprintf(msg, msglen, "Config value append/subtract is "
				 "not supported for %s: it is not a list",
				 ops[k].key);
			e = FMQ_KERR_INVALID_CONFIG;
			break;
		default:
			snprintf(msg, msglen, "Unknown alter operation %d",
				 ops[k].op);
			e = FMQ_KERR_INVALID_REQUEST;
		}
	}
	if (e == 0)
		*out = cfg;
	return e;
}

int16_t
fmq_topics_alter(struct fmq_topics *t, const char *name,
		 const struct fmq_alter *ops, size_t nops, bool validate_only,
		 char *msg, size_t msglen)
{
	size_t i = lower_bound(t, name);
	struct fmq_topic_cfg cfg;
	int16_t e = fmq_topics_preview(t, name, ops, nops, &cfg, msg, msglen);

	if (e != 0 || validate_only)
		return e;
	struct fmq_topic_cfg old = t->v[i]->cfg;
	t->v[i]->cfg = cfg;
	if (save(t) < 0) {
		t->v[i]->cfg = old;
		snprintf(msg, msglen, "Could not persist the topic registry in %s",
			 t->dir);
		return FMQ_KERR_KAFKA_STORAGE_ERROR;
	}
	return 0;
}

void
fmq_topics_set_defaults(struct fmq_topics *t, const struct fmq_topic_cfg *dflt)
{
	char msg[256];

	t->dflt = *dflt;
	memset(t->dflt.set, 0, sizeof(t->dflt.set));
	for (size_t i = 0; i < t->n; i++)
		for (int k = 0; k < FMQ_TCFG_N; k++)
			if (!t->v[i]->cfg.set[k])
				fmq_tcfg_unset(&t->v[i]->cfg, &t->dflt,
					       tkeys[k].name, msg, sizeof(msg));
}
