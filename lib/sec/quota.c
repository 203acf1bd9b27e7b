/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client quotas: the entity database, Kafka's precedence, sampled rates,
 * throttle times, the per-lcore rate table and the quota file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_quota.h"
#include "fmq_util.h"

static const char *const key_names[FMQ_QUOTA_NKEYS] = {
	[FMQ_QUOTA_PRODUCE] = "producer_byte_rate",
	[FMQ_QUOTA_FETCH] = "consumer_byte_rate",
	[FMQ_QUOTA_REQUEST] = "request_percentage",
	[FMQ_QUOTA_MUTATION] = "controller_mutation_rate",
};

const char *
fmq_quota_key_name(enum fmq_quota_key k)
{
	return (unsigned)k < FMQ_QUOTA_NKEYS ? key_names[k] : "?";
}

int
fmq_quota_key_parse(const char *s, size_t len)
{
	for (int k = 0; k < FMQ_QUOTA_NKEYS; k++)
		if (strlen(key_names[k]) == len &&
		    memcmp(key_names[k], s, len) == 0)
			return k;
	return -1;
}

int
fmq_quota_type_parse(const char *s, size_t len)
{
	if (len == 4 && memcmp(s, "user", 4) == 0)
		return 0;
	if (len == 9 && memcmp(s, "client-id", 9) == 0)
		return 1;
	return -1;
}

static int
side_cmp(uint8_t ka, const char *na, uint16_t la, uint8_t kb, const char *nb,
	 uint16_t lb)
{
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (ka != FMQ_QS_NAME)
		return 0;
	c = memcmp(na, nb, la < lb ? la : lb);
	if (c != 0)
		return c;
	return la == lb ? 0 : la < lb ? -1 : 1;
}

int
fmq_quota_entity_cmp(const struct fmq_quota_entity *a,
		     const struct fmq_quota_entity *b)
{
	int c = side_cmp(a->user_kind, a->user, a->user_len, b->user_kind,
			 b->user, b->user_len);

	if (c != 0)
		return c;
	return side_cmp(a->client_kind, a->client, a->client_len,
			b->client_kind, b->client, b->client_len);
}

static int
entity_qcmp(const void *a, const void *b)
{
	return fmq_quota_entity_cmp(a, b);
}

static void
db_destroy(struct fmq_sec_part *p)
{
	struct fmq_quota_db *db = (struct fmq_quota_db *)(void *)p;

	free(db->e);
	free(db);
}

struct fmq_quota_db *
fmq_quota_db_new(const struct fmq_quota_entity *e, uint32_t n)
{
	struct fmq_quota_db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->part.refs = 1;
	db->part.destroy = db_destroy;
	db->e = calloc(n ? n : 1, sizeof(*db->e));
	if (db->e == NULL) {
		free(db);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].set == 0)
			continue;
		db->e[db->n++] = e[i];
		db->any_set |= e[i].set;
	}
	qsort(db->e, db->n, sizeof(*db->e), entity_qcmp);
	return db;
}

const struct fmq_quota_entity *
fmq_quota_db_find(const struct fmq_quota_db *db,
		  const struct fmq_quota_entity *key)
{
	if (db == NULL || db->n == 0)
		return NULL;
	return bsearch(key, db->e, db->n, sizeof(*db->e), entity_qcmp);
}

/* ---------------------------------------------------------- resolution */

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * The rate entity: the key and the metric tags Kafka gives the sensor
 * (an absent side is the empty tag, and the lengths keep "a"+"bc" apart
 * from "ab"+"c").
 */
static uint64_t
tag_of(enum fmq_quota_key k, const char *u, size_t ul, const char *c,
       size_t cl)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t kb = (uint8_t)k;
	uint32_t l;

	h = fnv(h, &kb, 1);
	l = (uint32_t)ul;
	h = fnv(h, &l, sizeof(l));
	h = fnv(h, u, ul);
	l = (uint32_t)cl;
	h = fnv(h, &l, sizeof(l));
	h = fnv(h, c, cl);
	return h == 0 ? 1 : h;
}

static const struct fmq_quota_entity *
lookup(const struct fmq_quota_db *db, uint8_t uk, const char *u, size_t ul,
       uint8_t ck, const char *c, size_t cl)
{
	struct fmq_quota_entity key;

	key.user_kind = uk;
	key.client_kind = ck;
	key.user_len = uk == FMQ_QS_NAME ? (uint16_t)ul : 0;
	key.client_len = ck == FMQ_QS_NAME ? (uint16_t)cl : 0;
	if (uk == FMQ_QS_NAME)
		memcpy(key.user, u, ul);
	if (ck == FMQ_QS_NAME)
		memcpy(key.client, c, cl);
	return fmq_quota_db_find(db, &key);
}

bool
fmq_quota_resolve(const struct fmq_quota_db *db, enum fmq_quota_key k,
		  const char *user, size_t user_len, const char *client,
		  size_t client_len, struct fmq_quota_match *m)
{
	/* Kafka's levels: which sides, and which tags the rate keeps. */
	static const struct {
		uint8_t uk, ck;
		bool tag_user, tag_client;
	} lv[8] = {
		{ FMQ_QS_NAME, FMQ_QS_NAME, true, true },
		{ FMQ_QS_NAME, FMQ_QS_DEFAULT, true, true },
		{ FMQ_QS_NAME, FMQ_QS_NONE, true, false },
		{ FMQ_QS_DEFAULT, FMQ_QS_NAME, true, true },
		{ FMQ_QS_DEFAULT, FMQ_QS_DEFAULT, true, true },
		{ FMQ_QS_DEFAULT, FMQ_QS_NONE, true, false },
		{ FMQ_QS_NONE, FMQ_QS_NAME, false, true },
		{ FMQ_QS_NONE, FMQ_QS_DEFAULT, false, true },
	};

	m->found = false;
	if (db == NULL || !(db->any_set & (1u << k)) ||
	    user_len > FMQ_QUOTA_NAME_MAX || client_len > FMQ_QUOTA_NAME_MAX)
		return false;
	for (int i = 0; i < 8; i++) {
		const struct fmq_quota_entity *e = lookup(db, lv[i].uk, user,
			user_len, lv[i].ck, client, client_len);

		if (e == NULL || !(e->set & (1u << k)))
			continue;
		m->found = true;
		m->bound = e->value[k];
		m->level = i + 1;
		m->tag = tag_of(k, lv[i].tag_user ? user : "",
				lv[i].tag_user ? user_len : 0,
				lv[i].tag_client ? client : "",
				lv[i].tag_client ? client_len : 0);
		return true;
	}
	return false;
}

/* --------------------------------------------------------------- rates */

void
fmq_quota_rate_init(struct fmq_quota_rate *r, uint64_t tag, int64_t now_ms,
		    const struct fmq_quota_win *w)
{
	r->tag = tag;
	r->last_ms = now_ms;
	r->cur = 0;
	for (uint32_t i = 0; i < w->num; i++) {
		r->s[i].start_ms = now_ms;
		r->s[i].v = 0;
	}
}

/* Samples older than the whole window start again at now (Kafka's
 * purgeObsoleteSamples). */
static void
purge(struct fmq_quota_rate *r, int64_t now_ms, const struct fmq_quota_win *w)
{
	int64_t expire = (int64_t)w->num * w->size_ms;

	for (uint32_t i = 0; i < w->num; i++)
		if (now_ms - r->s[i].start_ms >= expire) {
			r->s[i].start_ms = now_ms;
			r->s[i].v = 0;
		}
}

void
fmq_quota_rate_record(struct fmq_quota_rate *r, double v, int64_t now_ms,
		      const struct fmq_quota_win *w)
{
	if (now_ms - r->s[r->cur].start_ms >= w->size_ms) {
		r->cur = (uint8_t)((r->cur + 1) % w->num);
		r->s[r->cur].start_ms = now_ms;
		r->s[r->cur].v = 0;
	}
	r->s[r->cur].v += v;
	r->last_ms = now_ms;
}

int64_t
fmq_quota_rate_window_ms(struct fmq_quota_rate *r, int64_t now_ms,
			 const struct fmq_quota_win *w)
{
	int64_t oldest = now_ms, elapsed, full, min_full = (int64_t)w->num - 1;

	purge(r, now_ms, w);
	for (uint32_t i = 0; i < w->num; i++)
		if (r->s[i].start_ms < oldest)
			oldest = r->s[i].start_ms;
	elapsed = now_ms - oldest;
	full = elapsed / w->size_ms;
	/* Too little history: count the missing full samples as empty, so
	 * a new client's first burst is not a huge rate. */
	if (full < min_full)
		elapsed += (min_full - full) * w->size_ms;
	return elapsed;
}

double
fmq_quota_rate_measure(struct fmq_quota_rate *r, int64_t now_ms,
		       const struct fmq_quota_win *w)
{
	int64_t win = fmq_quota_rate_window_ms(r, now_ms, w);
	double sum = 0;

	for (uint32_t i = 0; i < w->num; i++)
		sum += r->s[i].v;
	return win > 0 ? sum * 1000.0 / (double)win : 0;
}

int64_t
fmq_quota_throttle_ms(double rate, double bound, int64_t window_ms,
		      const struct fmq_quota_win *w)
{
	double t;
	int64_t cap = (int64_t)w->num * w->size_ms;

	if (!(rate > bound))
		return 0;
	if (bound <= 0)
		return cap;
	t = (rate - bound) / bound * (double)window_ms;
	if (t >= (double)cap)
		return cap;
	return (int64_t)llround(t);
}

/* ---------------------------------------------------------- rate table */

void
fmq_quota_tbl_init(struct fmq_quota_tbl *t, void *mem, uint32_t slots)
{
	t->mask = slots - 1;
	t->used = 0;
	t->evicted = 0;
	t->r = mem;
	memset(mem, 0, (size_t)slots * sizeof(*t->r));
}

struct fmq_quota_rate *
fmq_quota_tbl_get(struct fmq_quota_tbl *t, uint64_t tag, int64_t now_ms,
		  const struct fmq_quota_win *w)
{
	struct fmq_quota_rate *victim = NULL;
	uint32_t i = (uint32_t)(tag ^ (tag >> 32)) & t->mask;

	for (uint32_t p = 0; p < FMQ_QUOTA_TBL_PROBE && p <= t->mask; p++) {
		struct fmq_quota_rate *r = &t->r[(i + p) & t->mask];

		if (r->tag == tag)
			return r;
		if (r->tag == 0) {
			if (victim == NULL || victim->tag != 0)
				victim = r;
			continue;
		}
		if (victim == NULL ||
		    (victim->tag != 0 && r->last_ms < victim->last_ms))
			victim = r;
	}
	if (victim->tag == 0)
		t->used++;
	else
		t->evicted++;
	fmq_quota_rate_init(victim, tag, now_ms, w);
	return victim;
}

int64_t
fmq_quota_record(struct fmq_quota_tbl *t, const struct fmq_quota_db *db,
		 enum fmq_quota_key k, const char *user, size_t user_len,
		 const char *client, size_t client_len, double v,
		 int64_t now_ms, const struct fmq_quota_win *w, uint32_t share)
{
	struct fmq_quota_match m;
	struct fmq_quota_rate *r;
	double rate, bound;

	if (!fmq_quota_resolve(db, k, user, user_len, client, client_len, &m))
		return 0;
	r = fmq_quota_tbl_get(t, m.tag, now_ms, w);
	/* Kafka records first, then checks: the request that crosses the
	 * quota is the one throttled. */
	fmq_quota_rate_record(r, v, now_ms, w);
	rate = fmq_quota_rate_measure(r, now_ms, w);
	bound = share > 1 ? m.bound / share : m.bound;
	if (!(rate > bound))
		return 0;
	return fmq_quota_throttle_ms(rate, bound,
				     fmq_quota_rate_window_ms(r, now_ms, w), w);
}

/* ---------------------------------------------------------- the file */

#define QUOTA_MAGIC "fluxmq-quotas 1"

static bool
plain(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		(ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static void
put_side(FILE *f, uint8_t kind, const char *n, uint16_t len)
{
	if (kind == FMQ_QS_NONE) {
		fputs(" -", f);
		return;
	}
	if (kind == FMQ_QS_DEFAULT) {
		fputs(" *", f);
		return;
	}
	fputs(" =", f);
	for (uint16_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)n[i];
		if (plain(ch))
			fputc(ch, f);
		else
			fprintf(f, "%%%02X", ch);
	}
}

int
fmq_quota_db_save(const struct fmq_quota_db *db, const char *path)
{
	FILE *f;
	int rc = fmq_file_begin(path, 0644, &f);

	if (rc < 0)
		return rc;
	fprintf(f, "%s\n", QUOTA_MAGIC);
	for (uint32_t i = 0; db != NULL && i < db->n; i++) {
		const struct fmq_quota_entity *e = &db->e[i];

		fputs("entity", f);
		put_side(f, e->user_kind, e->user, e->user_len);
		put_side(f, e->client_kind, e->client, e->client_len);
		for (int k = 0; k < FMQ_QUOTA_NKEYS; k++)
			if (e->set & (1u << k))
				fprintf(f, " %s=%.17g", key_names[k],
					e->value[k]);
		fputc('\n', f);
	}
	return fmq_file_commit(f, path);
}

/* One side from a token: "-", "*" or "=name" (percent-encoded). */
static int
get_side(const char *tok, uint8_t *kind, char *out, uint16_t *len)
{
	size_t n = 0;

	*len = 0;
	if (strcmp(tok, "-") == 0) {
		*kind = FMQ_QS_NONE;
		return 0;
	}
	if (strcmp(tok, "*") == 0) {
		*kind = FMQ_QS_DEFAULT;
		return 0;
	}
	if (tok[0] != '=')
		return -1;
	for (const char *p = tok + 1; *p != '\0'; p++) {
		int hi, lo;

		if (n >= FMQ_QUOTA_NAME_MAX)
			return -1;
		if (*p != '%') {
			if (!plain((unsigned char)*p))
				return -1;
			out[n++] = *p;
			continue;
		}
		hi = fmq_sec_hexval(p[1]);
		lo = hi < 0 ? -1 : fmq_sec_hexval(p[2]);
		if (lo < 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		p += 2;
	}
	out[n] = '\0';
	*kind = FMQ_QS_NAME;
	*len = (uint16_t)n;
	return 0;
}

static int
parse_line(char *line, struct fmq_quota_entity *e)
{
	char *save = NULL, *tok;

	memset(e, 0, sizeof(*e));
	tok = strtok_r(line, " \n", &save);
	if (tok == NULL || strcmp(tok, "entity") != 0)
		return -1;
	tok = strtok_r(NULL, " \n", &save);
	if (tok == NULL ||
	    get_side(tok, &e->user_kind, e->user, &e->user_len) < 0)
		return -1;
	tok = strtok_r(NULL, " \n", &save);
	if (tok == NULL ||
	    get_side(tok, &e->client_kind, e->client, &e->client_len) < 0)
		return -1;
	if (e->user_kind == FMQ_QS_NONE && e->client_kind == FMQ_QS_NONE)
		return -1;
	while ((tok = strtok_r(NULL, " \n", &save)) != NULL) {
		char *eq = strchr(tok, '='), *end;
		int k;
		double v;

		if (eq == NULL)
			return -1;
		k = fmq_quota_key_parse(tok, (size_t)(eq - tok));
		if (k < 0)
			return -1;
		errno = 0;
		v = strtod(eq + 1, &end);
		if (errno != 0 || *end != '\0' || end == eq + 1 ||
		    !isfinite(v) || v <= 0)
			return -1;
		e->value[k] = v;
		e->set |= (uint8_t)(1u << k);
	}
	return e->set != 0 ? 0 : -1;
}

int
fmq_quota_db_load(const char *path, struct fmq_quota_db **out, char *err,
		  size_t errlen)
{
	struct fmq_quota_entity *v = NULL;
	uint32_t n = 0, cap = 0;
	char line[2048];
	unsigned int lineno = 0;
	FILE *f;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (lineno == 1) {
			if (strncmp(line, QUOTA_MAGIC,
				    strlen(QUOTA_MAGIC)) != 0) {
				rc = -EINVAL;
				break;
			}
			continue;
		}
		if (n == cap) {
			uint32_t nc = cap ? cap * 2 : 16;
			void *p;

			if (nc > FMQ_QUOTA_MAX_ENTITIES) {
				rc = -EINVAL;
				break;
			}
			p = realloc(v, nc * sizeof(*v));
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = p;
			cap = nc;
		}
		if (strchr(line, '\n') == NULL || parse_line(line, &v[n]) < 0) {
			rc = -EINVAL;
			break;
		}
		n++;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && lineno == 0)
		rc = -EINVAL;   /* empty: a save always writes the magic */
	if (rc < 0) {
		snprintf(err, errlen, "%s: line %u: %s", path, lineno,
			 rc == -EINVAL ? "not a quota entry (damaged file?)" :
			 strerror(-rc));
		free(v);
		return rc;
	}
	if (n > 0) {
		*out = fmq_quota_db_new(v, n);
		if (*out == NULL)
			rc = -ENOMEM;
	}
	free(v);
	return rc;
}
