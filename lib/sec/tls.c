/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS sessions over memory for TCP-lite (see fmq_tls.h): the server
 * context built from the ssl.* keys, a custom BIO over the caller's
 * received bytes and an output callback, and the mapping of a client
 * certificate's DN to a principal (ssl.principal.mapping.rules).
 */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fmq_tls.h"
#include "fmq_util.h"

#define RULES_MAX 16
#define DN_MAX 1024
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* One ssl.principal.mapping.rules entry. */
struct map_rule {
	bool is_default;
	char case_fold;            /* 0, 'L' or 'U' */
	regex_t re;
	char *repl;
};

struct fmq_tls_ctx {
	atomic_uint refs;
	SSL_CTX *ssl;
	uint32_t nrules;
	struct map_rule rules[RULES_MAX];
};

struct fmq_tls {
	SSL *ssl;
	struct fmq_tls_ctx *ctx;
	const uint8_t *in;        /* the current piece of input */
	size_t in_len;
	const struct iovec *iov;  /* pieces after it */
	unsigned int niov;
	fmq_tls_out_fn out;
	void *out_arg;
	bool out_failed;
	bool established;
	bool has_peer;
	enum fmq_tls_ver ver;
	const char *err;
	struct fmq_principal peer;
};

/* ------------------------------------------------------------------
 * The BIO: reads from s->in, writes to s->out.
 * ------------------------------------------------------------------ */

static BIO_METHOD *bio_meth;

static int
bio_write(BIO *b, const char *p, int len)
{
	struct fmq_tls *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->out_failed || s->out(s->out_arg, (const uint8_t *)p,
				    (size_t)len) < 0) {
		s->out_failed = true;
		return -1;
	}
	return len;
}

static int
bio_read(BIO *b, char *p, int len)
{
	struct fmq_tls *s = BIO_get_data(b);
	size_t got = 0;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	/* Across pieces: one call per record, not one per TCP segment. */
	while (got < (size_t)len) {
		size_t n;

		if (s->in_len == 0) {
			if (s->niov == 0)
				break;
			s->in = s->iov->iov_base;
			s->in_len = s->iov->iov_len;
			s->iov++;
			s->niov--;
			continue;
		}
		n = MIN_SZ(s->in_len, (size_t)len - got);
		memcpy(p + got, s->in, n);
		s->in += n;
		s->in_len -= n;
		got += n;
	}
	if (got == 0) {
		/* Empty is "later", never end of file. */
		BIO_set_retry_read(b);
		return -1;
	}
	return (int)got;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct fmq_tls *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return s != NULL ? (long)s->in_len : 0;
	case BIO_CTRL_WPENDING:
		return 0;
	default:
		return 0;
	}
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() |
				     BIO_TYPE_SOURCE_SINK, "fluxmq-tcp-lite");

	if (m == NULL)
		return;
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	bio_meth = m;
}

static BIO_METHOD *
bio_method(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, bio_method_init);
	return bio_meth;
}

/* ------------------------------------------------------------------
 * The context.
 * ------------------------------------------------------------------ */

static const char *
ossl_reason(void)
{
	static __thread char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/* Inline PEM from a one-line value: the two characters \n are line
 * breaks. A malloc'd copy. */
static char *
unescape_pem(const char *v)
{
	size_t n = strlen(v);
	char *o = malloc(n + 2), *q = o;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\\' && v[i + 1] == 'n') {
			*q++ = '\n';
			i++;
		} else {
			*q++ = v[i];
		}
	}
	*q++ = '\n';
	*q = '\0';
	return o;
}

/* Read a chain (leaf first) from b into ctx. */
static int
use_chain(SSL_CTX *ctx, BIO *b)
{
	X509 *x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
	int n = 0;

	if (x == NULL)
		return -1;
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		return -1;
	}
	X509_free(x);
	SSL_CTX_clear_chain_certs(ctx);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			return -1;
		}
		n++;
	}
	/* The end of the file is the expected way out of the loop. */
	ERR_clear_error();
	return n;
}

static int
use_key(SSL_CTX *ctx, BIO *b, const char *pw)
{
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL,
					      (void *)(uintptr_t)pw);
	int rc;

	if (k == NULL)
		return -1;
	rc = SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 0 : -1;
	EVP_PKEY_free(k);
	return rc;
}

static int
load_keystore(const struct fmq_config *cfg, SSL_CTX *ctx, char *err,
	      size_t errlen)
{
	const char *loc = cfg->ssl_keystore_location;
	const char *pw = cfg->ssl_key_password;
	const char *kname, *cname;
	BIO *kb = NULL, *cb = NULL;
	char *ks = NULL, *cs = NULL;
	int rc = -1;

	if (loc[0] != '\0') {
		kname = cname = "ssl.keystore.location";
		kb = BIO_new_file(loc, "r");
		cb = BIO_new_file(loc, "r");
		if (kb == NULL || cb == NULL) {
			fmq_config_error(cfg, kname, err, errlen,
					 "cannot read '%s': %s", loc,
					 strerror(errno != 0 ? errno : EIO));
			goto out;
		}
	} else if (cfg->ssl_keystore_key[0] != '\0' &&
		   cfg->ssl_keystore_certificate_chain[0] != '\0') {
		kname = "ssl.keystore.key";
		cname = "ssl.keystore.certificate.chain";
		ks = unescape_pem(cfg->ssl_keystore_key);
		cs = unescape_pem(cfg->ssl_keystore_certificate_chain);
		if (ks == NULL || cs == NULL) {
			snprintf(err, errlen, "tls: out of memory");
			goto out;
		}
		kb = BIO_new_mem_buf(ks, -1);
		cb = BIO_new_mem_buf(cs, -1);
		if (kb == NULL || cb == NULL) {
			snprintf(err, errlen, "tls: out of memory");
			goto out;
		}
	} else {
		fmq_config_error(cfg, "ssl.keystore.location", err, errlen,
				 "a TLS listener needs the broker's key and "
				 "certificate: set ssl.keystore.location (or "
				 "ssl.keystore.key and "
				 "ssl.keystore.certificate.chain)");
		goto out;
	}
	if (use_chain(ctx, cb) < 0) {
		fmq_config_error(cfg, cname, err, errlen,
				 "no usable PEM certificate: %s",
				 ossl_reason());
		goto out;
	}
	if (use_key(ctx, kb, pw) < 0) {
		fmq_config_error(cfg, pw[0] != '\0' ? "ssl.key.password" :
				 kname, err, errlen,
				 "no usable PEM private key%s: %s",
				 pw[0] != '\0' ? " (or a wrong password)" :
				 " (encrypted? set ssl.key.password)",
				 ossl_reason());
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		fmq_config_error(cfg, kname, err, errlen,
				 "the private key does not match the "
				 "certificate: %s", ossl_reason());
		goto out;
	}
	rc = 0;
out:
	BIO_free(kb);
	BIO_free(cb);
	free(ks);
	free(cs);
	return rc;
}

static int
set_protocols(const struct fmq_config *cfg, SSL_CTX *ctx, char *err,
	      size_t errlen)
{
	const char *p = cfg->ssl_enabled_protocols;
	bool v12 = false, v13 = false;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (n == 7 && strncmp(p, "TLSv1.2", 7) == 0)
			v12 = true;
		else if (n == 7 && strncmp(p, "TLSv1.3", 7) == 0)
			v13 = true;
		else
			return fmq_config_error(cfg, "ssl.enabled.protocols",
						err, errlen,
						"unsupported protocol '%.*s' "
						"(TLSv1.2, TLSv1.3)",
						(int)n, p);
		p += n;
	}
	if (!v12 && !v13)
		return fmq_config_error(cfg, "ssl.enabled.protocols", err,
					errlen, "no protocol enabled");
	SSL_CTX_set_min_proto_version(ctx, v12 ? TLS1_2_VERSION :
				      TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, v13 ? TLS1_3_VERSION :
				      TLS1_2_VERSION);
	return 0;
}

/* Kafka lists IANA names; OpenSSL's TLS 1.2 list wants its own. */
static int
set_ciphers(const struct fmq_config *cfg, SSL_CTX *ctx, char *err,
	    size_t errlen)
{
	const char *p = cfg->ssl_cipher_suites;
	char l12[FMQ_CFG_STR_MAX * 2] = "", l13[FMQ_CFG_STR_MAX] = "";
	char name[128];

	while (*p != '\0') {
		const char *o;
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (n >= sizeof(name))
			goto bad;
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		if (strncmp(name, "TLS_AES_", 8) == 0 ||
		    strncmp(name, "TLS_CHACHA20_", 13) == 0) {
			snprintf(l13 + strlen(l13), sizeof(l13) - strlen(l13),
				 "%s%s", l13[0] != '\0' ? ":" : "", name);
			continue;
		}
		o = OPENSSL_cipher_name(name);
		if (o == NULL || strcmp(o, "(NONE)") == 0)
			o = name;
		snprintf(l12 + strlen(l12), sizeof(l12) - strlen(l12), "%s%s",
			 l12[0] != '\0' ? ":" : "", o);
	}
	if (l13[0] != '\0' && SSL_CTX_set_ciphersuites(ctx, l13) != 1)
		goto bad;
	if (l12[0] != '\0' && SSL_CTX_set_cipher_list(ctx, l12) != 1)
		goto bad;
	return 0;
bad:
	return fmq_config_error(cfg, "ssl.cipher.suites", err, errlen,
				"no usable cipher suite in '%s': %s",
				cfg->ssl_cipher_suites, ossl_reason());
}

static void
rules_free(struct fmq_tls_ctx *c)
{
	for (uint32_t i = 0; i < c->nrules; i++) {
		if (!c->rules[i].is_default)
			regfree(&c->rules[i].re);
		free(c->rules[i].repl);
	}
	c->nrules = 0;
}

/* One '/'-terminated part of a RULE (a backslash keeps the next
 * character, "\/" gives '/'); NULL when there is no closing '/'. */
static const char *
rule_part(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (; *p != '\0' && *p != '/'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			if (p[1] != '/' && n + 1 < cap)
				out[n++] = '\\';
			p++;
		}
		if (n + 1 >= cap)
			return NULL;
		out[n++] = *p;
	}
	out[n] = '\0';
	return *p == '/' ? p + 1 : NULL;
}

int fmq_tls_parse_rules(struct fmq_tls_ctx *c, const char *s, char *why,
			size_t wl);

/* Parse ssl.principal.mapping.rules into c (exported for the tests). */
int
fmq_tls_parse_rules(struct fmq_tls_ctx *c, const char *s, char *why,
		    size_t wl)
{
	const char *p = s;

	rules_free(c);
	for (;;) {
		struct map_rule *r;
		char pat[FMQ_CFG_STR_MAX], rep[FMQ_CFG_STR_MAX];
		int rc;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (c->nrules == RULES_MAX) {
			snprintf(why, wl, "more than %d rules", RULES_MAX);
			return -1;
		}
		r = &c->rules[c->nrules];
		memset(r, 0, sizeof(*r));
		if (strncmp(p, "DEFAULT", 7) == 0) {
			r->is_default = true;
			p += 7;
		} else if (strncmp(p, "RULE:", 5) == 0) {
			p = rule_part(p + 5, pat, sizeof(pat));
			if (p != NULL)
				p = rule_part(p, rep, sizeof(rep));
			if (p == NULL) {
				snprintf(why, wl, "a RULE is "
					 "RULE:pattern/replacement/[LU]");
				return -1;
			}
			if (*p == 'L' || *p == 'U')
				r->case_fold = *p++;
			rc = regcomp(&r->re, pat, REG_EXTENDED);
			if (rc != 0) {
				char e[128];

				regerror(rc, &r->re, e, sizeof(e));
				snprintf(why, wl, "pattern '%s': %s", pat, e);
				return -1;
			}
			r->repl = strdup(rep);
			if (r->repl == NULL) {
				regfree(&r->re);
				snprintf(why, wl, "out of memory");
				return -1;
			}
		} else {
			snprintf(why, wl, "unknown rule at '%s' (DEFAULT or "
				 "RULE:pattern/replacement/[LU])", p);
			return -1;
		}
		c->nrules++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != ',' && *p != '\n') {
			snprintf(why, wl, "unexpected '%s' after a rule", p);
			return -1;
		}
	}
	if (c->nrules == 0) {
		snprintf(why, wl, "no rule (DEFAULT maps the whole DN)");
		return -1;
	}
	return 0;
}

int fmq_tls_map_dn(const struct fmq_tls_ctx *c, const char *dn, char *out,
		   size_t cap);

/* The name dn maps to under c's rules: its length, or -1 (no rule
 * matches, or the result does not fit). Exported for the tests. */
int
fmq_tls_map_dn(const struct fmq_tls_ctx *c, const char *dn, char *out,
	       size_t cap)
{
	size_t dl = strlen(dn);

	for (uint32_t i = 0; i < c->nrules; i++) {
		const struct map_rule *r = &c->rules[i];
		regmatch_t m[10];
		size_t n = 0;

		if (r->is_default) {
			if (dl >= cap)
				return -1;
			memcpy(out, dn, dl + 1);
			return (int)dl;
		}
		if (regexec(&r->re, dn, 10, m, 0) != 0 || m[0].rm_so != 0 ||
		    (size_t)m[0].rm_eo != dl)
			continue;   /* Kafka's matches(): the whole DN */
		for (const char *q = r->repl; *q != '\0'; q++) {
			const char *from = q;
			size_t len = 1;

			if (*q == '$' && q[1] >= '0' && q[1] <= '9') {
				int g = q[1] - '0';

				q++;
				if (m[g].rm_so < 0)
					continue;
				from = dn + m[g].rm_so;
				len = (size_t)(m[g].rm_eo - m[g].rm_so);
			} else if (*q == '\\' && q[1] != '\0') {
				from = ++q;
			}
			if (n + len >= cap)
				return -1;
			for (size_t j = 0; j < len; j++) {
				char ch = from[j];

				if (r->case_fold == 'L' && ch >= 'A' &&
				    ch <= 'Z')
					ch = (char)(ch - 'A' + 'a');
				else if (r->case_fold == 'U' && ch >= 'a' &&
					 ch <= 'z')
					ch = (char)(ch - 'a' + 'A');
				out[n++] = ch;
			}
		}
		out[n] = '\0';
		return (int)n;
	}
	return -1;
}

struct fmq_tls_ctx *
fmq_tls_ctx_create(const struct fmq_config *cfg, char *err, size_t errlen)
{
	struct fmq_tls_ctx *c;
	const char *ca = cfg->ssl_truststore_location;
	const char *auth = cfg->ssl_client_auth;
	char why[256];
	int mode = SSL_VERIFY_NONE;

	if (bio_method() == NULL) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	atomic_init(&c->refs, 1);
	ERR_clear_error();
	c->ssl = SSL_CTX_new(TLS_server_method());
	if (c->ssl == NULL) {
		snprintf(err, errlen, "tls: %s", ossl_reason());
		goto fail;
	}
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_COMPRESSION);
	/* No shared session cache (a lock every data lcore would take):
	 * resumption uses stateless tickets. */
	SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(c->ssl, (const uint8_t *)"fluxmq", 6);
	if (load_keystore(cfg, c->ssl, err, errlen) < 0 ||
	    set_protocols(cfg, c->ssl, err, errlen) < 0 ||
	    set_ciphers(cfg, c->ssl, err, errlen) < 0)
		goto fail;
	if (strcmp(auth, "none") != 0) {
		STACK_OF(X509_NAME) *names;

		if (ca[0] == '\0') {
			fmq_config_error(cfg, "ssl.truststore.location", err,
					 errlen, "ssl.client.auth=%s needs the "
					 "CA certificates clients chain to",
					 auth);
			goto fail;
		}
		mode = SSL_VERIFY_PEER;
		if (strcmp(auth, "required") == 0)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		names = SSL_load_client_CA_file(ca);
		if (names == NULL) {
			fmq_config_error(cfg, "ssl.truststore.location", err,
					 errlen, "no PEM CA certificate in "
					 "'%s': %s", ca, ossl_reason());
			goto fail;
		}
		SSL_CTX_set_client_CA_list(c->ssl, names);
	}
	if (ca[0] != '\0' &&
	    SSL_CTX_load_verify_locations(c->ssl, ca, NULL) != 1) {
		fmq_config_error(cfg, "ssl.truststore.location", err, errlen,
				 "cannot load CA certificates from '%s': %s",
				 ca, ossl_reason());
		goto fail;
	}
	SSL_CTX_set_verify(c->ssl, mode, NULL);
	if (fmq_tls_parse_rules(c, cfg->ssl_principal_mapping_rules, why,
				sizeof(why)) < 0) {
		fmq_config_error(cfg, "ssl.principal.mapping.rules", err,
				 errlen, "%s", why);
		goto fail;
	}
	ERR_clear_error();
	return c;
fail:
	ERR_clear_error();
	fmq_tls_ctx_put(c);
	return NULL;
}

void
fmq_tls_ctx_get(struct fmq_tls_ctx *c)
{
	if (c != NULL)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void
fmq_tls_ctx_put(struct fmq_tls_ctx *c)
{
	if (c == NULL ||
	    atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	rules_free(c);
	SSL_CTX_free(c->ssl);
	free(c);
}

/* ------------------------------------------------------------------
 * Sessions.
 * ------------------------------------------------------------------ */

const char *
fmq_tls_ver_name(enum fmq_tls_ver v)
{
	return v == FMQ_TLS_V13 ? "TLSv1.3" : "TLSv1.2";
}

struct fmq_tls *
fmq_tls_new(struct fmq_tls_ctx *ctx, fmq_tls_out_fn out, void *arg)
{
	struct fmq_tls *s = calloc(1, sizeof(*s));
	BIO *b;

	if (s == NULL)
		return NULL;
	ERR_clear_error();
	s->ssl = SSL_new(ctx->ssl);
	b = BIO_new(bio_meth);
	if (s->ssl == NULL || b == NULL) {
		BIO_free(b);
		SSL_free(s->ssl);
		free(s);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_data(b, s);
	SSL_set_bio(s->ssl, b, b);
	SSL_set_accept_state(s->ssl);
	fmq_tls_ctx_get(ctx);
	s->ctx = ctx;
	s->out = out;
	s->out_arg = arg;
	return s;
}

void
fmq_tls_free(struct fmq_tls *s)
{
	if (s == NULL)
		return;
	SSL_free(s->ssl);
	fmq_tls_ctx_put(s->ctx);
	free(s);
}

void
fmq_tls_set_out(struct fmq_tls *s, fmq_tls_out_fn out, void *arg)
{
	s->out = out;
	s->out_arg = arg;
}

void
fmq_tls_input(struct fmq_tls *s, const void *p, size_t len)
{
	s->in = p;
	s->in_len = len;
	s->iov = NULL;
	s->niov = 0;
}

void
fmq_tls_inputv(struct fmq_tls *s, const struct iovec *iov, unsigned int n)
{
	s->in = NULL;
	s->in_len = 0;
	s->iov = iov;
	s->niov = n;
}

size_t
fmq_tls_input_left(const struct fmq_tls *s)
{
	size_t n = s->in_len;

	for (unsigned int i = 0; i < s->niov; i++)
		n += s->iov[i].iov_len;
	return n;
}

/* The handshake just finished: version and the peer's principal. */
static int
on_established(struct fmq_tls *s)
{
	X509 *x;
	BIO *mb;
	char dn[DN_MAX], name[FMQ_PRINCIPAL_MAX];
	int n;

	s->ver = SSL_version(s->ssl) == TLS1_3_VERSION ? FMQ_TLS_V13 :
		 FMQ_TLS_V12;
	x = SSL_get0_peer_certificate(s->ssl);
	if (x == NULL) {
		s->established = true;
		return 0;
	}
	/* Kafka's form is Java's X500Principal RFC 2253 string: most
	 * specific first, comma separated, UTF-8 kept. */
	mb = BIO_new(BIO_s_mem());
	if (mb == NULL)
		return -1;
	n = X509_NAME_print_ex(mb, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	if (n < 0 || n >= (int)sizeof(dn)) {
		BIO_free(mb);
		s->err = "client certificate DN too long";
		return -1;
	}
	n = BIO_read(mb, dn, (int)sizeof(dn) - 1);
	BIO_free(mb);
	dn[n > 0 ? n : 0] = '\0';
	n = fmq_tls_map_dn(s->ctx, dn, name, sizeof(name));
	if (n < 0 || fmq_principal_set_user(&s->peer, name, (size_t)n) < 0) {
		s->err = "no ssl.principal.mapping.rules rule matches the "
			 "client certificate's DN";
		return -1;
	}
	s->has_peer = true;
	s->established = true;
	return 0;
}

int
fmq_tls_read(struct fmq_tls *s, void *buf, size_t cap)
{
	size_t got = 0;
	int rc, e;

	if (s->out_failed)
		return FMQ_TLS_ERROR;
	ERR_clear_error();
	rc = SSL_read_ex(s->ssl, buf, cap, &got);
	if (!s->established && SSL_is_init_finished(s->ssl) &&
	    on_established(s) < 0) {
		SSL_shutdown(s->ssl);   /* an alert, if it can */
		return FMQ_TLS_ERROR;
	}
	if (rc == 1)
		return (int)got;
	e = SSL_get_error(s->ssl, rc);
	if (s->out_failed) {
		s->err = "out of buffers for ciphertext";
		return FMQ_TLS_ERROR;
	}
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return FMQ_TLS_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return FMQ_TLS_CLOSED;
	default:
		s->err = ERR_reason_error_string(ERR_peek_last_error());
		if (s->err == NULL)
			s->err = "TLS failure";
		ERR_clear_error();
		return FMQ_TLS_ERROR;
	}
}

bool
fmq_tls_established(const struct fmq_tls *s)
{
	return s->established;
}

enum fmq_tls_ver
fmq_tls_version(const struct fmq_tls *s)
{
	return s->ver;
}

bool
fmq_tls_peer_principal(const struct fmq_tls *s, struct fmq_principal *p)
{
	if (!s->has_peer)
		return false;
	*p = s->peer;
	return true;
}

const char *
fmq_tls_last_error(const struct fmq_tls *s)
{
	return s->err != NULL ? s->err : "none";
}

void
fmq_tls_shutdown(struct fmq_tls *s)
{
	if (!s->established || s->out_failed)
		return;
	ERR_clear_error();
	SSL_shutdown(s->ssl);   /* sends close_notify; no answer awaited */
	ERR_clear_error();
}

int
fmq_tls_write(struct fmq_tls *s, const void *p, size_t len)
{
	size_t done = 0;

	if (s->out_failed || !s->established)
		return -1;
	ERR_clear_error();
	while (done < len) {
		size_t n = MIN_SZ(len - done, (size_t)FMQ_TLS_RECORD_MAX);
		size_t w = 0;

		if (SSL_write_ex(s->ssl, (const uint8_t *)p + done, n,
				 &w) != 1 || w != n) {
			s->err = s->out_failed ? "out of buffers for "
				 "ciphertext" : "TLS write failed";
			ERR_clear_error();
			return -1;
		}
		done += n;
	}
	return 0;
}

int
fmq_tls_stage_add(struct fmq_tls *s, struct fmq_tls_stage *st, const void *p,
		  size_t len)
{
	const uint8_t *q = p;

	while (len > 0) {
		size_t n;

		/* Whole records straight from the caller's bytes. */
		if (st->len == 0 && len >= FMQ_TLS_RECORD_MAX) {
			n = len - len % FMQ_TLS_RECORD_MAX;
			if (fmq_tls_write(s, q, n) < 0)
				return -1;
			q += n;
			len -= n;
			continue;
		}
		n = MIN_SZ(len, (size_t)FMQ_TLS_RECORD_MAX - st->len);
		memcpy(st->buf + st->len, q, n);
		st->len += (uint32_t)n;
		q += n;
		len -= n;
		if (st->len == FMQ_TLS_RECORD_MAX &&
		    fmq_tls_stage_flush(s, st) < 0)
			return -1;
	}
	return 0;
}

int
fmq_tls_stage_flush(struct fmq_tls *s, struct fmq_tls_stage *st)
{
	uint32_t n = st->len;

	st->len = 0;
	return n == 0 ? 0 : fmq_tls_write(s, st->buf, n);
}
