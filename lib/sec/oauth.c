/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OAUTHBEARER (RFC 7628) with JWTs (RFC 7519), as Kafka's validators:
 *  - the client's one message: gs2-header, then \x01-separated key=value
 *    pairs ending with \x01\x01, one of them "auth=Bearer <token>";
 *  - alg "none" (unsecured, Kafka's OAuthBearerUnsecuredJws) only when
 *    sasl.oauthbearer.unsecured.enable=true;
 *  - RS256 and ES256 signatures checked against the configured keys (a PEM
 *    public key, a JWKS file), the token's "kid" picking the key;
 *  - exp required and in the future (clock skew allowed), iat and nbf not
 *    in the future, the principal from "sub" (the claim name is
 *    configurable), the required scopes all present in "scope" (a
 *    space-separated string or an array), iss and aud when configured.
 * The session ends at exp: the broker closes a connection that has not
 * re-authenticated by then (KIP-368).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "fmq_sasl.h"

#define FAIL(s, ...) do { \
	snprintf((s)->fail, sizeof((s)->fail), __VA_ARGS__); \
	return FMQ_SASL_FAIL; \
} while (0)

/* ------------------------------------------------ a small JSON reader */

static const char *
ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* End of the string starting at p (on '"'), after its closing quote. */
static const char *
skip_str(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* End of the value at p; NULL when malformed or nested too deep. */
static const char *
skip_val(const char *p, const char *e, int depth)
{
	p = ws(p, e);
	if (p >= e || depth > 16)
		return NULL;
	if (*p == '"')
		return skip_str(p, e);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = ws(p, e);
				if (p >= e || *p != '"')
					return NULL;
				p = skip_str(p, e);
				if (p == NULL)
					return NULL;
				p = ws(p, e);
				if (p >= e || *p != ':')
					return NULL;
				p++;
			}
			p = skip_val(p, e, depth + 1);
			if (p == NULL)
				return NULL;
			p = ws(p, e);
			if (p < e && *p == ',') {
				p++;
				continue;
			}
			if (p < e && *p == close)
				return p + 1;
			return NULL;
		}
	}
	while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
	       *p != '\n' && *p != '\r' && *p != '\t')
		p++;
	return p;
}

/* Is [p, e) one whole JSON object (claims parsed only when it is)? */
static bool
jobject(const char *p, const char *e)
{
	const char *q;

	p = ws(p, e);
	if (p >= e || *p != '{')
		return false;
	q = skip_val(p, e, 0);
	return q != NULL && ws(q, e) == e;
}

struct jv {
	const char *p, *e;   /* the value's text */
};

/* Member key of the object [p, e); 1 found, 0 absent, -1 malformed. */
static int
jget(const char *p, const char *e, const char *key, struct jv *v)
{
	size_t kl = strlen(key);

	p = ws(p, e);
	if (p >= e || *p != '{')
		return -1;
	p = ws(p + 1, e);
	if (p < e && *p == '}')
		return 0;
	for (;;) {
		const char *ks, *ke;
		p = ws(p, e);
		if (p >= e || *p != '"')
			return -1;
		ks = p + 1;
		ke = skip_str(p, e);
		if (ke == NULL)
			return -1;
		p = ws(ke, e);
		if (p >= e || *p != ':')
			return -1;
		p = ws(p + 1, e);
		v->p = p;
		v->e = skip_val(p, e, 0);
		if (v->e == NULL)
			return -1;
		if ((size_t)(ke - 1 - ks) == kl && memcmp(ks, key, kl) == 0)
			return 1;
		p = ws(v->e, e);
		if (p < e && *p == ',') {
			p++;
			continue;
		}
		return p < e && *p == '}' ? 0 : -1;
	}
}

/* A string value into out (escapes \" \\ \/ only; others refused). */
static int
jstr(const struct jv *v, char *out, size_t cap)
{
	size_t o = 0;

	if (v->p >= v->e || *v->p != '"')
		return -1;
	for (const char *p = v->p + 1; p < v->e - 1; p++) {
		char c = *p;
		if (c == '\\') {
			p++;
			if (*p != '"' && *p != '\\' && *p != '/')
				return -1;
			c = *p;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

static int
jnum(const struct jv *v, double *d)
{
	char b[40], *end;
	size_t n = (size_t)(v->e - v->p);

	if (n == 0 || n >= sizeof(b))
		return -1;
	memcpy(b, v->p, n);
	b[n] = '\0';
	*d = strtod(b, &end);
	/* Seconds since 1970: anything else (and NaN) is refused, so the
	 * conversion to milliseconds cannot overflow. */
	return *end == '\0' && *d >= 0 && *d < 1e13 ? 0 : -1;
}

/* Is word (len) one of the space-separated words of list? */
static bool
word_in(const char *list, const char *w, size_t wl)
{
	for (const char *p = list; *p != '\0'; ) {
		size_t n = strcspn(p, " ");
		if (n == wl && memcmp(p, w, n) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Does claim v (string, or array of strings) hold the string w? */
static bool
claim_has(const struct jv *v, const char *w, size_t wl, bool split)
{
	char b[1024];

	if (v->p < v->e && *v->p == '"') {
		if (jstr(v, b, sizeof(b)) < 0)
			return false;
		if (split)
			return word_in(b, w, wl);
		return strlen(b) == wl && memcmp(b, w, wl) == 0;
	}
	if (v->p < v->e && *v->p == '[') {
		const char *p = ws(v->p + 1, v->e);
		while (p < v->e && *p == '"') {
			struct jv x = { p, skip_str(p, v->e) };
			if (x.e == NULL)
				return false;
			if (jstr(&x, b, sizeof(b)) >= 0 && strlen(b) == wl &&
			    memcmp(b, w, wl) == 0)
				return true;
			p = ws(x.e, v->e);
			if (p < v->e && *p == ',')
				p = ws(p + 1, v->e);
		}
	}
	return false;
}

/* -------------------------------------------------------------- keys */

static EVP_PKEY *
jwk_key(const char *p, const char *e, char *kid, size_t kidcap)
{
	struct jv v;
	char kty[16], a[1024], b[1024];
	uint8_t x[600], y[600];
	/* The builder keeps a pointer to the point until _to_param. */
	uint8_t pt[65];
	int xl, yl;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	BIGNUM *n = NULL, *ex = NULL;

	kid[0] = '\0';
	if (bld == NULL || jget(p, e, "kty", &v) != 1 ||
	    jstr(&v, kty, sizeof(kty)) < 0)
		goto out;
	if (jget(p, e, "kid", &v) == 1)
		jstr(&v, kid, kidcap);
	if (jget(p, e, "use", &v) == 1 && jstr(&v, a, sizeof(a)) >= 0 &&
	    strcmp(a, "sig") != 0)
		goto out;
	if (strcmp(kty, "RSA") == 0) {
		if (jget(p, e, "n", &v) != 1 || jstr(&v, a, sizeof(a)) < 0 ||
		    jget(p, e, "e", &v) != 1 || jstr(&v, b, sizeof(b)) < 0)
			goto out;
		xl = fmq_b64_dec(a, strlen(a), x, sizeof(x), true);
		yl = fmq_b64_dec(b, strlen(b), y, sizeof(y), true);
		if (xl <= 0 || yl <= 0)
			goto out;
		n = BN_bin2bn(x, xl, NULL);
		ex = BN_bin2bn(y, yl, NULL);
		if (n == NULL || ex == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else if (strcmp(kty, "EC") == 0) {
		if (jget(p, e, "crv", &v) != 1 || jstr(&v, a, sizeof(a)) < 0 ||
		    strcmp(a, "P-256") != 0 ||
		    jget(p, e, "x", &v) != 1 || jstr(&v, a, sizeof(a)) < 0 ||
		    jget(p, e, "y", &v) != 1 || jstr(&v, b, sizeof(b)) < 0)
			goto out;
		xl = fmq_b64_dec(a, strlen(a), x, sizeof(x), true);
		yl = fmq_b64_dec(b, strlen(b), y, sizeof(y), true);
		if (xl != 32 || yl != 32)
			goto out;
		pt[0] = 0x04;
		memcpy(pt + 1, x, 32);
		memcpy(pt + 33, y, 32);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
			OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
			OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(ex);
	return k;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > (1 << 20) || fseek(f, 0, SEEK_SET) != 0 ||
	    (b = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}

int
fmq_oauth_conf_load_keys(struct fmq_oauth_conf *oc, const char *pem_path,
			 const char *jwks, char *err, size_t errlen)
{
	if (pem_path != NULL && pem_path[0] != '\0') {
		FILE *f = fopen(pem_path, "r");
		EVP_PKEY *k;

		if (f == NULL) {
			snprintf(err, errlen, "cannot read %s: %s", pem_path,
				 strerror(errno));
			return -1;
		}
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL) {
			snprintf(err, errlen, "%s: not a PEM public key",
				 pem_path);
			return -1;
		}
		oc->keys[oc->n_keys].kid[0] = '\0';
		oc->keys[oc->n_keys++].pkey = k;
	}
	if (jwks != NULL && jwks[0] != '\0') {
		const char *path = jwks;
		struct jv v;
		size_t len = 0;
		char *b;
		const char *p, *e;

		if (strncmp(path, "file://", 7) == 0)
			path += 7;
		else if (strstr(path, "://") != NULL) {
			snprintf(err, errlen, "only file:// JWKS URLs are "
				 "supported, not %s", jwks);
			return -1;
		}
		b = slurp(path, &len);
		if (b == NULL) {
			snprintf(err, errlen, "cannot read %s", path);
			return -1;
		}
		e = b + len;
		if (jget(b, e, "keys", &v) != 1 || *v.p != '[') {
			snprintf(err, errlen, "%s: no \"keys\" array", path);
			free(b);
			return -1;
		}
		p = ws(v.p + 1, v.e);
		while (p < v.e && *p == '{') {
			const char *ke = skip_val(p, v.e, 0);
			char kid[128];
			EVP_PKEY *k;

			if (ke == NULL)
				break;
			k = jwk_key(p, ke, kid, sizeof(kid));
			if (k != NULL) {
				if (oc->n_keys == sizeof(oc->keys) /
				    sizeof(oc->keys[0])) {
					EVP_PKEY_free(k);
					break;
				}
				snprintf(oc->keys[oc->n_keys].kid,
					 sizeof(oc->keys[0].kid), "%s", kid);
				oc->keys[oc->n_keys++].pkey = k;
			}
			p = ws(ke, v.e);
			if (p < v.e && *p == ',')
				p = ws(p + 1, v.e);
		}
		free(b);
	}
	return 0;
}

void
fmq_oauth_conf_free(struct fmq_oauth_conf *oc)
{
	for (uint32_t i = 0; i < oc->n_keys; i++)
		EVP_PKEY_free(oc->keys[i].pkey);
	oc->n_keys = 0;
}

/* ------------------------------------------------------------ session */

/* JWS signature check of "header.payload" with alg (RS256, ES256). */
static bool
verify(const struct fmq_oauth_conf *oc, const char *alg, const char *kid,
       const char *signed_part, size_t slen, const uint8_t *sig, size_t siglen)
{
	bool es = strcmp(alg, "ES256") == 0;
	uint8_t der[80];
	const uint8_t *s = sig;
	size_t sl = siglen;

	if (!es && strcmp(alg, "RS256") != 0)
		return false;
	if (es) {
		/* JWS carries r || s; OpenSSL wants a DER ECDSA-Sig-Value. */
		ECDSA_SIG *es_sig;
		BIGNUM *r, *ss;
		uint8_t *o = der;
		int dl;

		if (siglen != 64)
			return false;
		es_sig = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		ss = BN_bin2bn(sig + 32, 32, NULL);
		if (es_sig == NULL || r == NULL || ss == NULL ||
		    ECDSA_SIG_set0(es_sig, r, ss) != 1) {
			BN_free(r);
			BN_free(ss);
			ECDSA_SIG_free(es_sig);
			return false;
		}
		dl = i2d_ECDSA_SIG(es_sig, NULL);
		if (dl <= 0 || (size_t)dl > sizeof(der)) {
			ECDSA_SIG_free(es_sig);
			return false;
		}
		i2d_ECDSA_SIG(es_sig, &o);
		ECDSA_SIG_free(es_sig);
		s = der;
		sl = (size_t)dl;
	}
	for (uint32_t i = 0; oc != NULL && i < oc->n_keys; i++) {
		EVP_PKEY *k = oc->keys[i].pkey;
		EVP_MD_CTX *md;
		bool ok;

		if (kid[0] != '\0' && oc->keys[i].kid[0] != '\0' &&
		    strcmp(kid, oc->keys[i].kid) != 0)
			continue;
		if (EVP_PKEY_get_base_id(k) != (es ? EVP_PKEY_EC : EVP_PKEY_RSA))
			continue;
		md = EVP_MD_CTX_new();
		ok = md != NULL &&
			EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
			EVP_DigestVerify(md, s, sl, (const uint8_t *)signed_part,
					 slen) == 1;
		EVP_MD_CTX_free(md);
		if (ok)
			return true;
	}
	return false;
}

#define JWT_PART_MAX 8192

int
fmq_sasl_oauth_step(struct fmq_sasl_sess *s, const struct fmq_oauth_conf *oc,
		    const uint8_t *in, size_t len, int64_t now_ms)
{
	const char *p = (const char *)in, *end = p + len, *tok, *te;
	const char *d1, *d2;
	char hdr[1024], pay[JWT_PART_MAX], alg[16], kid[128], b[512];
	uint8_t sig[600];
	int hl, pl, sl;
	struct jv v;
	double d;
	int64_t skew = oc != NULL ? oc->clock_skew_ms : 30000;

	if (oc == NULL)
		FAIL(s, "OAUTHBEARER not configured");
	/* gs2-header "n,[a=authzid]," then \x01 kvpairs \x01\x01 */
	if (len < 4 || p[0] != 'n' || p[1] != ',')
		FAIL(s, "bad gs2 header");
	p = memchr(p + 2, ',', len - 2);
	if (p == NULL || len < 2 || end[-1] != 0x01 || end[-2] != 0x01)
		FAIL(s, "malformed OAUTHBEARER message");
	p++;
	tok = NULL;
	te = NULL;
	while (p < end && *p == 0x01) {
		const char *kv = p + 1, *kve = memchr(kv, 0x01,
						      (size_t)(end - kv));
		if (kve == NULL)
			FAIL(s, "malformed OAUTHBEARER message");
		if (kve - kv > 5 && memcmp(kv, "auth=", 5) == 0) {
			const char *a = kv + 5;
			if (kve - a < 8 || strncasecmp(a, "Bearer ", 7) != 0)
				FAIL(s, "not a bearer token");
			tok = a + 7;
			while (tok < kve && *tok == ' ')
				tok++;
			te = kve;
		}
		p = kve;
		if (kve + 1 < end && kve[1] == 0x01)
			break;
	}
	if (tok == NULL || tok == te)
		FAIL(s, "no token");
	d1 = memchr(tok, '.', (size_t)(te - tok));
	d2 = d1 == NULL ? NULL : memchr(d1 + 1, '.', (size_t)(te - d1 - 1));
	if (d2 == NULL)
		FAIL(s, "not a JWS compact token");
	hl = fmq_b64_dec(tok, (size_t)(d1 - tok), (uint8_t *)hdr,
			 sizeof(hdr) - 1, true);
	pl = fmq_b64_dec(d1 + 1, (size_t)(d2 - d1 - 1), (uint8_t *)pay,
			 sizeof(pay) - 1, true);
	sl = fmq_b64_dec(d2 + 1, (size_t)(te - d2 - 1), sig, sizeof(sig), true);
	if (hl <= 0 || pl <= 0 || sl < 0)
		FAIL(s, "bad token encoding");
	if (!jobject(hdr, hdr + hl) || !jobject(pay, pay + pl))
		FAIL(s, "token header or claims are not a JSON object");
	if (jget(hdr, hdr + hl, "alg", &v) != 1 ||
	    jstr(&v, alg, sizeof(alg)) < 0)
		FAIL(s, "no alg");
	kid[0] = '\0';
	if (jget(hdr, hdr + hl, "kid", &v) == 1)
		jstr(&v, kid, sizeof(kid));
	if (strcmp(alg, "none") == 0) {
		if (!oc->unsecured)
			FAIL(s, "unsecured tokens are not allowed");
		if (sl != 0)
			FAIL(s, "alg none with a signature");
	} else if (!verify(oc, alg, kid, tok, (size_t)(d2 - tok), sig,
			   (size_t)sl)) {
		FAIL(s, "bad signature or alg %s", alg);
	}
	/* Claims. */
	if (jget(pay, pay + pl, "exp", &v) != 1 || jnum(&v, &d) < 0)
		FAIL(s, "no exp");
	if ((int64_t)(d * 1000) + skew <= now_ms)
		FAIL(s, "token expired");
	s->expires_ms = (int64_t)(d * 1000);
	if (jget(pay, pay + pl, "iat", &v) == 1 &&
	    (jnum(&v, &d) < 0 || (int64_t)(d * 1000) - skew > now_ms))
		FAIL(s, "iat in the future");
	if (jget(pay, pay + pl, "nbf", &v) == 1 &&
	    (jnum(&v, &d) < 0 || (int64_t)(d * 1000) - skew > now_ms))
		FAIL(s, "token not yet valid");
	if (oc->expected_issuer[0] != '\0' &&
	    (jget(pay, pay + pl, "iss", &v) != 1 ||
	     jstr(&v, b, sizeof(b)) < 0 || strcmp(b, oc->expected_issuer) != 0))
		FAIL(s, "wrong issuer");
	if (oc->expected_audience[0] != '\0') {
		bool any = false;
		if (jget(pay, pay + pl, "aud", &v) == 1) {
			for (const char *a = oc->expected_audience; *a != '\0'; ) {
				size_t n = strcspn(a, ",");
				if (claim_has(&v, a, n, false))
					any = true;
				a += n;
				if (*a == ',')
					a++;
			}
		}
		if (!any)
			FAIL(s, "wrong audience");
	}
	if (oc->required_scope[0] != '\0') {
		int r = jget(pay, pay + pl, oc->scope_claim, &v);
		for (const char *w = oc->required_scope; *w != '\0'; ) {
			size_t n = strcspn(w, " ,");
			if (n > 0 && (r != 1 || !claim_has(&v, w, n, true)))
				FAIL(s, "missing scope %.*s", (int)n, w);
			w += n;
			while (*w == ' ' || *w == ',')
				w++;
		}
	}
	if (jget(pay, pay + pl, oc->sub_claim, &v) != 1 ||
	    jstr(&v, s->user, sizeof(s->user)) <= 0)
		FAIL(s, "no principal claim");
	s->user_len = (uint16_t)strlen(s->user);
	s->out_len = 0;
	return FMQ_SASL_OK;
}
