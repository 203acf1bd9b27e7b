/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Apache Kafka's
 * ScramSaslServer speaks them, and the credential store they read.
 *
 * Kafka's rules kept here:
 *  - the client-final nonce must END WITH the nonce of the server-first
 *    message (librdkafka 2.0.2 sends <client nonce><server nonce>, where
 *    the server nonce already starts with the client nonce: an equality
 *    test refuses every librdkafka login);
 *  - AuthMessage is built from the messages' bytes as received;
 *  - saslname escapes =2C and =3D are undone, any other '=' fails;
 *  - an authzid other than the user name fails; tokenauth=true
 *    (delegation tokens) fails: FluxMQ has none.
 * Proofs are compared in constant time.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "fmq_sasl.h"
#include "fmq_util.h"

/* -------------------------------------------------------------- crypto */

size_t
fmq_scram_hlen(enum fmq_sasl_mech m)
{
	return m == FMQ_SASL_SCRAM_SHA_256 ? 32 :
		m == FMQ_SASL_SCRAM_SHA_512 ? 64 : 0;
}

static const EVP_MD *
scram_md(enum fmq_sasl_mech m)
{
	return m == FMQ_SASL_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512();
}

static int
hmac(enum fmq_sasl_mech m, const uint8_t *key, size_t klen, const void *d,
     size_t dlen, uint8_t *out)
{
	unsigned int ol = 0;

	return HMAC(scram_md(m), key, (int)klen, d, dlen, out, &ol) == NULL ?
		-1 : 0;
}

static int
digest(enum fmq_sasl_mech m, const uint8_t *d, size_t dlen, uint8_t *out)
{
	unsigned int ol = 0;

	return EVP_Digest(d, dlen, out, &ol, scram_md(m), NULL) == 1 ? 0 : -1;
}

int
fmq_scram_cred_from_salted(struct fmq_scram_cred *c, enum fmq_sasl_mech m,
			   const uint8_t *salt, size_t salt_len,
			   uint32_t iterations, const uint8_t *salted,
			   size_t salted_len)
{
	size_t hl = fmq_scram_hlen(m);
	uint8_t ck[FMQ_SCRAM_KEY_MAX];

	if (hl == 0 || salted_len != hl || salt_len == 0 ||
	    salt_len > FMQ_SCRAM_SALT_MAX)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	if (hmac(m, salted, hl, "Client Key", 10, ck) < 0 ||
	    digest(m, ck, hl, c->stored_key) < 0 ||
	    hmac(m, salted, hl, "Server Key", 10, c->server_key) < 0)
		return -EIO;
	memcpy(c->salt, salt, salt_len);
	c->salt_len = (uint8_t)salt_len;
	c->iterations = iterations;
	c->set = true;
	return 0;
}

static int
salt_password(enum fmq_sasl_mech m, const char *pw, size_t pw_len,
	      const uint8_t *salt, size_t salt_len, uint32_t iterations,
	      uint8_t *out)
{
	return PKCS5_PBKDF2_HMAC(pw, (int)pw_len, salt, (int)salt_len,
				 (int)iterations, scram_md(m),
				 (int)fmq_scram_hlen(m), out) == 1 ? 0 : -EIO;
}

int
fmq_scram_cred_from_password(struct fmq_scram_cred *c, enum fmq_sasl_mech m,
			     const char *pw, size_t pw_len,
			     const uint8_t *salt, size_t salt_len,
			     uint32_t iterations)
{
	uint8_t sp[FMQ_SCRAM_KEY_MAX];
	int rc;

	if (fmq_scram_hlen(m) == 0 || salt_len == 0 ||
	    salt_len > FMQ_SCRAM_SALT_MAX || iterations == 0)
		return -EINVAL;
	rc = salt_password(m, pw, pw_len, salt, salt_len, iterations, sp);
	if (rc < 0)
		return rc;
	return fmq_scram_cred_from_salted(c, m, salt, salt_len, iterations,
					  sp, fmq_scram_hlen(m));
}

bool
fmq_scram_cred_check(const struct fmq_scram_cred *c, enum fmq_sasl_mech m,
		     const char *pw, size_t pw_len)
{
	struct fmq_scram_cred t;

	if (!c->set || fmq_scram_cred_from_password(&t, m, pw, pw_len,
			c->salt, c->salt_len, c->iterations) < 0)
		return false;
	return fmq_sec_ct_eq(t.stored_key, c->stored_key, fmq_scram_hlen(m));
}

/* --------------------------------------------------------------- store */

static void
db_destroy(struct fmq_sec_part *p)
{
	struct fmq_scram_db *db = (struct fmq_scram_db *)(void *)p;

	/* The keys must not linger in freed memory. */
	OPENSSL_cleanse(db->users, sizeof(db->users[0]) * db->n);
	free(db);
}

static int
user_cmp(const void *a, const void *b)
{
	const struct fmq_scram_user *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	return c != 0 ? c : (int)x->name_len - (int)y->name_len;
}

struct fmq_scram_db *
fmq_scram_db_new(const struct fmq_scram_user *users, uint32_t n)
{
	struct fmq_scram_db *db = malloc(sizeof(*db) +
					 sizeof(db->users[0]) * n);
	uint32_t o = 0;

	if (db == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	db->part.refs = 1;
	db->part.destroy = db_destroy;
	if (n > 0)
		memcpy(db->users, users, sizeof(db->users[0]) * n);
	/* Stable sort (insertion: stores are small), last duplicate wins. */
	for (uint32_t i = 1; i < n; i++) {
		struct fmq_scram_user t = db->users[i];
		uint32_t j = i;
		while (j > 0 && user_cmp(&db->users[j - 1], &t) > 0) {
			db->users[j] = db->users[j - 1];
			j--;
		}
		db->users[j] = t;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (o > 0 && user_cmp(&db->users[o - 1], &db->users[i]) == 0)
			o--;
		if (o != i)
			db->users[o] = db->users[i];
		o++;
	}
	db->n = o;
	return db;
}

const struct fmq_scram_user *
fmq_scram_db_find(const struct fmq_scram_db *db, const char *name, size_t len)
{
	uint32_t lo = 0, hi;

	if (db == NULL || len > FMQ_SCRAM_NAME_MAX)
		return NULL;
	hi = db->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct fmq_scram_user *u = &db->users[mid];
		size_t n = u->name_len < len ? u->name_len : len;
		int c = memcmp(u->name, name, n);

		if (c == 0)
			c = (int)u->name_len - (int)len;
		if (c == 0)
			return u;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The file: a comment line, then one line per credential:
 *   <mechanism> <iterations> <salt> <StoredKey> <ServerKey> <user name>
 * (base64; the name takes the rest of the line, so it may hold spaces).
 */
#define DB_HEADER "# FluxMQ SCRAM credentials (fluxmq --add-scram, " \
	"AlterUserScramCredentials): mechanism iterations salt StoredKey " \
	"ServerKey user\n"

static int
parse_line(char *line, struct fmq_scram_user *u, char *why, size_t wlen)
{
	char *f[5], *save = NULL, *p = line;
	int mech, n;
	struct fmq_scram_cred *c;
	unsigned long it;
	size_t hl;

	for (int i = 0; i < 5; i++) {
		f[i] = strtok_r(i == 0 ? p : NULL, " ", &save);
		if (f[i] == NULL) {
			snprintf(why, wlen, "expected 6 fields");
			return -1;
		}
	}
	p = save;
	if (p == NULL || *p == '\0') {
		snprintf(why, wlen, "no user name");
		return -1;
	}
	mech = fmq_sasl_mech_parse(f[0], strlen(f[0]));
	if (fmq_scram_idx(mech) < 0) {
		snprintf(why, wlen, "unknown mechanism '%s'", f[0]);
		return -1;
	}
	if (strlen(p) > FMQ_SCRAM_NAME_MAX) {
		snprintf(why, wlen, "user name too long");
		return -1;
	}
	memset(u, 0, sizeof(*u));
	u->name_len = (uint16_t)strlen(p);
	memcpy(u->name, p, u->name_len);
	c = &u->cred[fmq_scram_idx(mech)];
	hl = fmq_scram_hlen(mech);
	it = strtoul(f[1], NULL, 10);
	if (it < FMQ_SCRAM_ITER_MIN || it > FMQ_SCRAM_ITER_MAX) {
		snprintf(why, wlen, "iterations out of %d..%d",
			 FMQ_SCRAM_ITER_MIN, FMQ_SCRAM_ITER_MAX);
		return -1;
	}
	c->iterations = (uint32_t)it;
	n = fmq_b64_dec(f[2], strlen(f[2]), c->salt, sizeof(c->salt), false);
	if (n <= 0) {
		snprintf(why, wlen, "bad salt");
		return -1;
	}
	c->salt_len = (uint8_t)n;
	if (fmq_b64_dec(f[3], strlen(f[3]), c->stored_key,
			sizeof(c->stored_key), false) != (int)hl ||
	    fmq_b64_dec(f[4], strlen(f[4]), c->server_key,
			sizeof(c->server_key), false) != (int)hl) {
		snprintf(why, wlen, "bad key");
		return -1;
	}
	c->set = true;
	return mech;
}

struct fmq_scram_db *
fmq_scram_db_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct fmq_scram_user *v = NULL, u;
	struct fmq_scram_db *db;
	uint32_t n = 0, cap = 0;
	char line[1024], why[80];
	unsigned int ln = 0;

	if (f == NULL) {
		if (errno == ENOENT)
			return fmq_scram_db_new(NULL, 0);
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t l = strlen(line);
		uint32_t i;
		int mech;

		ln++;
		if (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		else if (!feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, ln);
			goto fail;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		mech = parse_line(line, &u, why, sizeof(why));
		if (mech < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, ln, why);
			goto fail;
		}
		for (i = 0; i < n; i++)
			if (user_cmp(&v[i], &u) == 0)
				break;
		if (i == n) {
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				void *nv = realloc(v, sizeof(*v) * cap);
				if (nv == NULL) {
					snprintf(err, errlen, "out of memory");
					goto fail;
				}
				v = nv;
			}
			memset(&v[n], 0, sizeof(v[n]));
			v[n].name_len = u.name_len;
			memcpy(v[n].name, u.name, u.name_len);
			n++;
		}
		v[i].cred[fmq_scram_idx(mech)] = u.cred[fmq_scram_idx(mech)];
	}
	fclose(f);
	db = fmq_scram_db_new(v, n);
	if (v != NULL)
		OPENSSL_cleanse(v, sizeof(*v) * n);
	free(v);
	if (db == NULL)
		snprintf(err, errlen, "out of memory");
	return db;
fail:
	fclose(f);
	free(v);
	return NULL;
}

static int
fsync_dir(const char *path)
{
	char d[4096];
	int fd, rc = 0;

	snprintf(d, sizeof(d), "%s", path);
	fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
fmq_scram_db_save(const struct fmq_scram_db *db, const char *path)
{
	char tmp[4096], b[3][FMQ_SCRAM_KEY_MAX * 2];
	FILE *f;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* An existing temporary keeps its mode through O_CREAT. */
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	fputs(DB_HEADER, f);
	for (uint32_t i = 0; db != NULL && i < db->n; i++) {
		const struct fmq_scram_user *u = &db->users[i];
		for (int k = 0; k < 2; k++) {
			const struct fmq_scram_cred *c = &u->cred[k];
			enum fmq_sasl_mech m = k == 0 ? FMQ_SASL_SCRAM_SHA_256 :
				FMQ_SASL_SCRAM_SHA_512;
			size_t hl = fmq_scram_hlen(m);
			if (!c->set)
				continue;
			fmq_b64_enc(c->salt, c->salt_len, b[0], sizeof(b[0]));
			fmq_b64_enc(c->stored_key, hl, b[1], sizeof(b[1]));
			fmq_b64_enc(c->server_key, hl, b[2], sizeof(b[2]));
			fprintf(f, "%s %u %s %s %s %.*s\n",
				fmq_sasl_mech_name(m), c->iterations, b[0],
				b[1], b[2], (int)u->name_len, u->name);
		}
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	return fsync_dir(path);
}

/* ------------------------------------------------------ --add-scram spec */

/* One value: "quoted" or up to the next ',' or ']'. */
static const char *
spec_value(const char *p, char *out, size_t cap, bool *ok)
{
	size_t n = 0;
	char end = ',';

	*ok = false;
	if (*p == '"') {
		end = '"';
		p++;
	}
	while (*p != '\0' && *p != end && (end == '"' || *p != ']')) {
		if (n + 1 >= cap)
			return p;
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (end == '"') {
		if (*p != '"')
			return p;
		p++;
	}
	*ok = true;
	return p;
}

int
fmq_scram_parse_spec(const char *spec, char *name, size_t name_cap,
		     enum fmq_sasl_mech *m, struct fmq_scram_cred *c,
		     char *err, size_t errlen)
{
	const char *eq = strchr(spec, '='), *p;
	char pw[512] = "", salt64[128] = "", sp64[256] = "", it[16] = "";
	uint8_t salt[FMQ_SCRAM_SALT_MAX], sp[FMQ_SCRAM_KEY_MAX];
	int mech, salt_len, sp_len = -1, rc;
	unsigned long iters = FMQ_SCRAM_ITER_MIN;
	bool have_pw = false;

	name[0] = '\0';
	if (eq == NULL || eq[1] != '[') {
		snprintf(err, errlen, "--add-scram '%s': expected "
			 "MECHANISM=[name=...,password=...]", spec);
		return -EINVAL;
	}
	mech = fmq_sasl_mech_parse(spec, (size_t)(eq - spec));
	if (fmq_scram_idx(mech) < 0) {
		snprintf(err, errlen, "--add-scram: unknown mechanism '%.*s' "
			 "(SCRAM-SHA-256 or SCRAM-SHA-512)",
			 (int)(eq - spec), spec);
		return -EINVAL;
	}
	p = eq + 2;
	while (*p != ']') {
		const char *k = p, *ke = strchr(p, '=');
		char *dst;
		size_t cap;
		bool ok;

		if (ke == NULL) {
			snprintf(err, errlen, "--add-scram: expected key=value "
				 "at '%s'", p);
			return -EINVAL;
		}
#define KEY(s) ((size_t)(ke - k) == sizeof(s) - 1 && \
		memcmp(k, s, sizeof(s) - 1) == 0)
		if (KEY("name")) {
			dst = name;
			cap = name_cap;
		} else if (KEY("password")) {
			dst = pw;
			cap = sizeof(pw);
			have_pw = true;
		} else if (KEY("salt")) {
			dst = salt64;
			cap = sizeof(salt64);
		} else if (KEY("saltedpassword")) {
			dst = sp64;
			cap = sizeof(sp64);
		} else if (KEY("iterations")) {
			dst = it;
			cap = sizeof(it);
		} else {
			snprintf(err, errlen, "--add-scram: unknown key '%.*s'",
				 (int)(ke - k), k);
			return -EINVAL;
		}
#undef KEY
		p = spec_value(ke + 1, dst, cap, &ok);
		if (!ok) {
			snprintf(err, errlen, "--add-scram: bad or too long "
				 "value of '%.*s'", (int)(ke - k), k);
			return -EINVAL;
		}
		if (*p == ',')
			p++;
		else if (*p != ']') {
			snprintf(err, errlen, "--add-scram: missing ']'");
			return -EINVAL;
		}
	}
	if (p[1] != '\0') {
		snprintf(err, errlen, "--add-scram: text after ']'");
		return -EINVAL;
	}
	if (name[0] == '\0' || strlen(name) > FMQ_SCRAM_NAME_MAX ||
	    strchr(name, '\n') != NULL) {
		snprintf(err, errlen, "--add-scram: name=... is required "
			 "(1..%d bytes, one line)", FMQ_SCRAM_NAME_MAX);
		return -EINVAL;
	}
	if (it[0] != '\0') {
		char *e;
		iters = strtoul(it, &e, 10);
		if (*e != '\0')
			iters = 0;
	}
	if (iters < FMQ_SCRAM_ITER_MIN || iters > FMQ_SCRAM_ITER_MAX) {
		snprintf(err, errlen, "--add-scram: iterations must be %d..%d",
			 FMQ_SCRAM_ITER_MIN, FMQ_SCRAM_ITER_MAX);
		return -EINVAL;
	}
	if (salt64[0] != '\0') {
		salt_len = fmq_b64_dec(salt64, strlen(salt64), salt,
				       sizeof(salt), false);
		if (salt_len <= 0) {
			snprintf(err, errlen, "--add-scram: salt must be "
				 "base64 of 1..%d bytes", FMQ_SCRAM_SALT_MAX);
			return -EINVAL;
		}
	} else {
		salt_len = 32;
		if (RAND_bytes(salt, salt_len) != 1) {
			snprintf(err, errlen, "--add-scram: no random bytes");
			return -EIO;
		}
	}
	if (sp64[0] != '\0') {
		sp_len = fmq_b64_dec(sp64, strlen(sp64), sp, sizeof(sp), false);
		if (have_pw || salt64[0] == '\0' ||
		    sp_len != (int)fmq_scram_hlen(mech)) {
			snprintf(err, errlen, "--add-scram: saltedpassword "
				 "needs salt, no password, and %zu bytes",
				 fmq_scram_hlen(mech));
			return -EINVAL;
		}
		rc = fmq_scram_cred_from_salted(c, mech, salt, salt_len,
						(uint32_t)iters, sp, sp_len);
	} else if (have_pw && pw[0] != '\0') {
		rc = fmq_scram_cred_from_password(c, mech, pw, strlen(pw),
						  salt, salt_len,
						  (uint32_t)iters);
	} else {
		snprintf(err, errlen, "--add-scram: password=... (or salt "
			 "and saltedpassword) is required");
		return -EINVAL;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc < 0) {
		snprintf(err, errlen, "--add-scram: cannot derive the "
			 "credential");
		return rc;
	}
	*m = mech;
	return 0;
}

void
fmq_scram_db_path(const struct fmq_config *cfg, char *out, size_t len)
{
	size_t n;

	if (cfg->sasl_credentials_file[0] != '\0') {
		snprintf(out, len, "%s", cfg->sasl_credentials_file);
		return;
	}
	n = strcspn(cfg->log_dirs, ",");
	snprintf(out, len, "%.*s/__fluxmq/scram-credentials", (int)n,
		 cfg->log_dirs);
}

int
fmq_scram_add_specs(const struct fmq_config *cfg, const char *const *specs,
		    int n, char *err, size_t errlen)
{
	char path[FMQ_CFG_STR_MAX + 64], dir[sizeof(path)];
	struct fmq_scram_db *db, *ndb;
	struct fmq_scram_user *v;
	int rc;

	fmq_scram_db_path(cfg, path, sizeof(path));
	db = fmq_scram_db_load(path, err, errlen);
	if (db == NULL)
		return -1;
	v = calloc(db->n + (uint32_t)n, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		fmq_sec_part_put(&db->part);
		return -1;
	}
	memcpy(v, db->users, sizeof(*v) * db->n);
	for (int i = 0; i < n; i++) {
		struct fmq_scram_user *u = &v[db->n + (uint32_t)i];
		enum fmq_sasl_mech m;
		struct fmq_scram_cred c;

		if (fmq_scram_parse_spec(specs[i], u->name, sizeof(u->name),
					 &m, &c, err, errlen) < 0)
			goto fail;
		u->name_len = (uint16_t)strlen(u->name);
		/* Keep the user's other mechanism (file or earlier spec). */
		for (int j = db->n + i - 1; j >= 0; j--)
			if (v[j].name_len == u->name_len &&
			    memcmp(v[j].name, u->name, u->name_len) == 0) {
				memcpy(u->cred, v[j].cred, sizeof(u->cred));
				break;
			}
		u->cred[fmq_scram_idx(m)] = c;
	}
	ndb = fmq_scram_db_new(v, db->n + (uint32_t)n);
	if (ndb == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') != NULL && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		rc = fmq_mkdir_p(dir);
		if (rc < 0) {
			snprintf(err, errlen, "cannot create %s: %s", dir,
				 strerror(-rc));
			fmq_sec_part_put(&ndb->part);
			goto fail;
		}
	}
	rc = fmq_scram_db_save(ndb, path);
	fmq_sec_part_put(&ndb->part);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(-rc));
		goto fail;
	}
	OPENSSL_cleanse(v, sizeof(*v) * (db->n + (uint32_t)n));
	free(v);
	fmq_sec_part_put(&db->part);
	return 0;
fail:
	OPENSSL_cleanse(v, sizeof(*v) * (db->n + (uint32_t)n));
	free(v);
	fmq_sec_part_put(&db->part);
	return -1;
}

/* ------------------------------------------------------------- session */

#define FAIL(s, ...) do { \
	snprintf((s)->fail, sizeof((s)->fail), __VA_ARGS__); \
	return FMQ_SASL_FAIL; \
} while (0)

/* Undo saslname escaping into out; -1 on a bare '=' or overflow. */
static int
unescape_name(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '=') {
			if (i + 2 < n && p[i + 1] == '2' && p[i + 2] == 'C')
				ch = ',';
			else if (i + 2 < n && p[i + 1] == '3' &&
				 p[i + 2] == 'D')
				ch = '=';
			else
				return -1;
			i += 2;
		}
		if (ch == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return (int)o;
}

/* A printable nonce: no ',' (RFC 5802 printable), no control bytes. */
static bool
nonce_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

static int
scram_first(struct fmq_sasl_sess *s, const struct fmq_scram_db *db,
	    const char *in, size_t len)
{
	const char *p = in, *end = in + len, *bare, *q, *cn;
	size_t azlen = 0, cnlen;
	const char *az = NULL;
	const struct fmq_scram_user *u;
	uint8_t rnd[24];
	char sn[40], salt64[FMQ_SCRAM_SALT_MAX * 2];
	int ul, n, k;

	/* gs2-header: "n," or "y," (no channel binding here), then
	 * [ "a=" authzid ] ",". */
	if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		FAIL(s, "bad gs2 header");
	p += 2;
	if (p < end && *p == 'a') {
		if (end - p < 2 || p[1] != '=')
			FAIL(s, "bad authzid");
		az = p + 2;
		q = memchr(az, ',', (size_t)(end - az));
		if (q == NULL)
			FAIL(s, "bad gs2 header");
		azlen = (size_t)(q - az);
		p = q;
	}
	if (p >= end || *p != ',')
		FAIL(s, "bad gs2 header");
	p++;
	bare = p;
	if ((size_t)(end - bare) >= FMQ_SASL_TOKEN_MAX)
		FAIL(s, "client-first too long");
	/* n=saslname,r=nonce[,extensions] */
	if (end - p < 2 || p[0] != 'n' || p[1] != '=')
		FAIL(s, "no user name");
	p += 2;
	q = memchr(p, ',', (size_t)(end - p));
	if (q == NULL)
		FAIL(s, "no nonce");
	ul = unescape_name(p, (size_t)(q - p), s->user, sizeof(s->user));
	if (ul <= 0)
		FAIL(s, "bad user name");
	if (az != NULL) {
		char azn[FMQ_SCRAM_NAME_MAX + 1];
		int al = unescape_name(az, azlen, azn, sizeof(azn));
		if (al != ul || memcmp(azn, s->user, (size_t)ul) != 0)
			FAIL(s, "authzid is not the user");
	}
	s->user_len = (uint16_t)ul;
	p = q + 1;
	if (end - p < 2 || p[0] != 'r' || p[1] != '=')
		FAIL(s, "no nonce");
	cn = p + 2;
	q = memchr(cn, ',', (size_t)(end - cn));
	cnlen = (size_t)((q == NULL ? end : q) - cn);
	if (!nonce_ok(cn, cnlen))
		FAIL(s, "bad nonce");
	/* Extensions: Kafka knows tokenauth (delegation tokens): none here. */
	for (const char *e = q; e != NULL && e < end; ) {
		const char *ne = memchr(e + 1, ',', (size_t)(end - e - 1));
		size_t el = (size_t)((ne == NULL ? end : ne) - (e + 1));
		if (el >= 10 && memcmp(e + 1, "tokenauth=", 10) == 0 &&
		    !(el == 15 && memcmp(e + 11, "false", 5) == 0))
			FAIL(s, "delegation tokens are not supported");
		e = ne;
	}
	u = fmq_scram_db_find(db, s->user, (size_t)ul);
	k = fmq_scram_idx((enum fmq_sasl_mech)s->mech);
	if (u == NULL || !u->cred[k].set)
		FAIL(s, "unknown user");
	s->cred = u->cred[k];
	memcpy(s->cfb, bare, (size_t)(end - bare));
	s->cfb_len = (uint16_t)(end - bare);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		FAIL(s, "no random bytes");
	fmq_b64_enc(rnd, sizeof(rnd), sn, sizeof(sn));
	for (char *c = sn; *c != '\0'; c++)
		if (*c == '/')
			*c = '_';   /* any printable but ',' will do */
	fmq_b64_enc(s->cred.salt, s->cred.salt_len, salt64, sizeof(salt64));
	n = snprintf(s->sfm, sizeof(s->sfm), "r=%.*s%s,s=%s,i=%u",
		     (int)cnlen, cn, sn, salt64, s->cred.iterations);
	if (n < 0 || (size_t)n >= sizeof(s->sfm))
		FAIL(s, "client nonce too long");
	s->sfm_len = (uint16_t)n;
	s->nonce_len = (uint16_t)(cnlen + strlen(sn));
	memcpy(s->out, s->sfm, (size_t)n);
	s->out_len = (uint16_t)n;
	s->state = FMQ_SASL_S_SCRAM_FINAL;
	return FMQ_SASL_CONTINUE;
}

static int
scram_final(struct fmq_sasl_sess *s, const char *in, size_t len)
{
	enum fmq_sasl_mech m = (enum fmq_sasl_mech)s->mech;
	size_t hl = fmq_scram_hlen(m);
	const char *end = in + len, *p, *r, *re, *pf;
	const char *nonce = s->sfm + 2;   /* "r=" */
	uint8_t proof[FMQ_SCRAM_KEY_MAX], sig[FMQ_SCRAM_KEY_MAX];
	uint8_t ck[FMQ_SCRAM_KEY_MAX], sk[FMQ_SCRAM_KEY_MAX];
	char am[FMQ_SASL_TOKEN_MAX + FMQ_SASL_OUT_MAX + FMQ_SASL_TOKEN_MAX + 2];
	char v64[FMQ_SCRAM_KEY_MAX * 2];
	size_t wp, al;
	int n;

	/* c=<gs2 header in base64>,r=<nonce>[,ext...],p=<proof> */
	if (len < 2 || in[0] != 'c' || in[1] != '=')
		FAIL(s, "no channel binding");
	p = memchr(in, ',', len);
	if (p == NULL)
		FAIL(s, "malformed client-final");
	{
		/* Without channel binding the value decodes to "n,," or
		 * "y,," + authzid: a 'p' flag is refused. */
		uint8_t cb[FMQ_SASL_TOKEN_MAX];
		int cl = fmq_b64_dec(in + 2, (size_t)(p - in - 2), cb,
				     sizeof(cb), false);
		if (cl < 3 || (cb[0] != 'n' && cb[0] != 'y') || cb[1] != ',')
			FAIL(s, "bad channel binding");
	}
	r = p + 1;
	if (end - r < 2 || r[0] != 'r' || r[1] != '=')
		FAIL(s, "no nonce");
	r += 2;
	re = memchr(r, ',', (size_t)(end - r));
	if (re == NULL)
		FAIL(s, "no proof");
	/* Kafka: ends with the server-first nonce (librdkafka prefixes it). */
	if ((size_t)(re - r) < s->nonce_len ||
	    memcmp(re - s->nonce_len, nonce, s->nonce_len) != 0)
		FAIL(s, "nonce mismatch");
	/* The proof is the last attribute. */
	pf = NULL;
	for (const char *c = end - 1; c >= re; c--)
		if (*c == ',') {
			pf = c;
			break;
		}
	if (pf == NULL || end - pf < 3 || pf[1] != 'p' || pf[2] != '=')
		FAIL(s, "no proof");
	wp = (size_t)(pf - in);   /* client-final-message-without-proof */
	if (wp >= FMQ_SASL_TOKEN_MAX)
		FAIL(s, "client-final too long");
	n = fmq_b64_dec(pf + 3, (size_t)(end - pf - 3), proof, sizeof(proof),
			false);
	if (n != (int)hl)
		FAIL(s, "bad proof length");
	/* AuthMessage = client-first-bare "," server-first "," final-wp */
	memcpy(am, s->cfb, s->cfb_len);
	al = s->cfb_len;
	am[al++] = ',';
	memcpy(am + al, s->sfm, s->sfm_len);
	al += s->sfm_len;
	am[al++] = ',';
	memcpy(am + al, in, wp);
	al += wp;
	if (hmac(m, s->cred.stored_key, hl, am, al, sig) < 0)
		FAIL(s, "hmac failed");
	for (size_t i = 0; i < hl; i++)
		ck[i] = proof[i] ^ sig[i];
	if (digest(m, ck, hl, sk) < 0)
		FAIL(s, "digest failed");
	if (!fmq_sec_ct_eq(sk, s->cred.stored_key, hl))
		FAIL(s, "wrong proof");
	if (hmac(m, s->cred.server_key, hl, am, al, sig) < 0)
		FAIL(s, "hmac failed");
	fmq_b64_enc(sig, hl, v64, sizeof(v64));
	n = snprintf((char *)s->out, sizeof(s->out), "v=%s", v64);
	s->out_len = (uint16_t)n;
	OPENSSL_cleanse(&s->cred, sizeof(s->cred));
	return FMQ_SASL_OK;
}

int
fmq_sasl_scram_step(struct fmq_sasl_sess *s, const struct fmq_scram_db *db,
		    const uint8_t *in, size_t len)
{
	if (memchr(in, '\0', len) != NULL)
		FAIL(s, "NUL in a SCRAM message");
	if (s->state == FMQ_SASL_S_START)
		return scram_first(s, db, (const char *)in, len);
	return scram_final(s, (const char *)in, len);
}
