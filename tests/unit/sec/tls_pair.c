/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers for lib/sec/tls.c: see tls_pair.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_pair.h"

static EVP_PKEY *
make_key(bool rsa)
{
	return rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
}

/* A certificate for key with subject dn (entries "CN", "alice", ...,
 * most general first as in the DER), signed by issuer (NULL: self). */
static X509 *
make_cert(EVP_PKEY *key, const char *const *dn, X509 *issuer,
	  EVP_PKEY *ikey, bool ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
	X509_set_pubkey(x, key);
	for (; dn[0] != NULL; dn += 2)
		X509_NAME_add_entry_by_txt(n, dn[0], MBSTRING_ASC,
					   (const uint8_t *)dn[1], -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ?
			     X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (!ca) {
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
					"IP:127.0.0.1");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256());
	return x;
}

static int
write_pem(const char *path, EVP_PKEY *key, X509 *cert, X509 *chain)
{
	FILE *f = fopen(path, "w");
	int ok = f != NULL;

	if (!ok)
		return -1;
	if (key != NULL)
		ok &= PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (cert != NULL)
		ok &= PEM_write_X509(f, cert);
	if (chain != NULL)
		ok &= PEM_write_X509(f, chain);
	fclose(f);
	return ok ? 0 : -1;
}

int
tls_files_make(struct tls_files *f)
{
	static const char *const ca_dn[] = { "O", "acme", "CN", "test CA",
					     NULL };
	static const char *const ca2_dn[] = { "CN", "rogue CA", NULL };
	static const char *const srv_dn[] = { "CN", "broker", NULL };
	static const char *const cli_dn[] = { "O", "acme", "OU", "eng",
					      "CN", "alice", NULL };
	EVP_PKEY *cak, *ca2k, *sk, *srk, *ok, *ck, *rk;
	X509 *ca, *ca2, *sc, *src, *cc, *rc;
	int rv = 0;

	snprintf(f->dir, sizeof(f->dir), "/tmp/fmq-tls-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
#define P(field, name) snprintf(f->field, sizeof(f->field), "%s/%s", \
				f->dir, name)
	P(ca, "ca.pem");
	P(server, "server.pem");
	P(server_rsa, "server-rsa.pem");
	P(other_key, "other-key.pem");
	P(mismatch, "mismatch.pem");
	P(client, "client.pem");
	P(rogue, "rogue.pem");
#undef P
	cak = make_key(false);
	ca2k = make_key(false);
	sk = make_key(false);
	srk = make_key(true);
	ok = make_key(false);
	ck = make_key(false);
	rk = make_key(false);
	ca = make_cert(cak, ca_dn, NULL, NULL, true, 1);
	ca2 = make_cert(ca2k, ca2_dn, NULL, NULL, true, 2);
	sc = make_cert(sk, srv_dn, ca, cak, false, 3);
	src = make_cert(srk, srv_dn, ca, cak, false, 4);
	cc = make_cert(ck, cli_dn, ca, cak, false, 5);
	rc = make_cert(rk, cli_dn, ca2, ca2k, false, 6);
	rv |= write_pem(f->ca, NULL, ca, NULL);
	rv |= write_pem(f->server, sk, sc, ca);
	rv |= write_pem(f->server_rsa, srk, src, ca);
	rv |= write_pem(f->other_key, ok, NULL, NULL);
	rv |= write_pem(f->mismatch, ok, sc, NULL);
	rv |= write_pem(f->client, ck, cc, NULL);
	rv |= write_pem(f->rogue, rk, rc, NULL);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(ca2k);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(srk);
	EVP_PKEY_free(ok);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(rk);
	X509_free(ca);
	X509_free(ca2);
	X509_free(sc);
	X509_free(src);
	X509_free(cc);
	X509_free(rc);
	return rv;
}

void
tls_files_remove(const struct tls_files *f)
{
	unlink(f->ca);
	unlink(f->server);
	unlink(f->server_rsa);
	unlink(f->other_key);
	unlink(f->mismatch);
	unlink(f->client);
	unlink(f->rogue);
	rmdir(f->dir);
}

void
tls_cfg(struct fmq_config *cfg, const struct tls_files *f)
{
	fmq_config_defaults(cfg);
	snprintf(cfg->ssl_keystore_location,
		 sizeof(cfg->ssl_keystore_location), "%s", f->server);
}

int
tbuf_out(void *arg, const uint8_t *p, size_t len)
{
	struct tbuf *b = arg;

	if (b->fail)
		return -1;
	if (b->len + len > b->cap) {
		size_t cap = (b->len + len) * 2;
		uint8_t *q = realloc(b->p, cap);

		if (q == NULL)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

void
tbuf_reset(struct tbuf *b)
{
	b->len = 0;
}

int
tls_pair_new(struct tls_pair *t, struct fmq_tls_ctx *ctx, const char *ca,
	     int max_ver, const char *client_pem)
{
	memset(t, 0, sizeof(*t));
	t->cctx = SSL_CTX_new(TLS_client_method());
	if (t->cctx == NULL)
		return -1;
	SSL_CTX_set_max_proto_version(t->cctx, max_ver);
	SSL_CTX_set_verify(t->cctx, SSL_VERIFY_PEER, NULL);
	if (ca != NULL && SSL_CTX_load_verify_locations(t->cctx, ca, NULL) != 1)
		return -1;
	if (client_pem != NULL &&
	    (SSL_CTX_use_certificate_file(t->cctx, client_pem,
					  SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_use_PrivateKey_file(t->cctx, client_pem,
					 SSL_FILETYPE_PEM) != 1))
		return -1;
	t->c = SSL_new(t->cctx);
	t->c_in = BIO_new(BIO_s_mem());
	t->c_out = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(t->c_in, -1);
	SSL_set_bio(t->c, t->c_in, t->c_out);
	SSL_set_connect_state(t->c);
	t->s = fmq_tls_new(ctx, tbuf_out, &t->s_out);
	t->last = FMQ_TLS_AGAIN;
	return t->s != NULL ? 0 : -1;
}

void
tls_pair_free(struct tls_pair *t)
{
	fmq_tls_free(t->s);
	SSL_free(t->c);
	SSL_CTX_free(t->cctx);
	free(t->s_out.p);
	ERR_clear_error();
}

int
tls_pair_feed(struct tls_pair *t, const uint8_t *p, size_t len)
{
	int rc;

	fmq_tls_input(t->s, p, len);
	for (;;) {
		rc = fmq_tls_read(t->s, t->plain + t->plain_len,
				  sizeof(t->plain) - t->plain_len);
		if (rc <= 0)
			break;
		t->plain_len += (size_t)rc;
	}
	t->last = rc;
	return rc;
}

size_t
tls_pair_take_client(struct tls_pair *t, uint8_t **out)
{
	size_t n = (size_t)BIO_pending(t->c_out);

	*out = malloc(n + 1);
	if (n > 0)
		BIO_read(t->c_out, *out, (int)n);
	return n;
}

int
tls_pair_c2s(struct tls_pair *t, size_t chunk)
{
	uint8_t *p;
	size_t n = tls_pair_take_client(t, &p), off = 0;
	int rc = t->last;

	while (off < n) {
		size_t k = chunk == 0 ? n - off :
			   (n - off < chunk ? n - off : chunk);

		rc = tls_pair_feed(t, p + off, k);
		if (rc < 0)
			break;
		off += k;
	}
	free(p);
	return rc;
}

void
tls_pair_s2c(struct tls_pair *t)
{
	if (t->s_out.len > 0)
		BIO_write(t->c_in, t->s_out.p, (int)t->s_out.len);
	tbuf_reset(&t->s_out);
}

int
tls_pair_handshake(struct tls_pair *t, size_t chunk)
{
	for (int i = 0; i < 10; i++) {
		int rc = SSL_do_handshake(t->c);
		int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->c, rc);

		if (tls_pair_c2s(t, chunk) < 0)
			return -1;
		tls_pair_s2c(t);
		if (rc == 1 && fmq_tls_established(t->s))
			return 0;
		if (rc != 1 && e != SSL_ERROR_WANT_READ) {
			if (getenv("TLS_DEBUG") != NULL) {
				fprintf(stderr, "client: %d server %d (%s)\n",
					e, t->last,
					fmq_tls_last_error(t->s));
				ERR_print_errors_fp(stderr);
			}
			return -1;
		}
	}
	return -1;
}
