/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/sec/tls.c against a stock OpenSSL client, in memory: handshakes at
 * both versions, records cut at every byte, garbage refused, KeyUpdate,
 * mTLS with principal mapping, response coalescing and the config errors
 * that name their key.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/err.h>

#include "harness.h"
#include "tls_pair.h"

int fmq_tls_parse_rules(struct fmq_tls_ctx *c, const char *s, char *why,
			size_t wl);
int fmq_tls_map_dn(const struct fmq_tls_ctx *c, const char *dn, char *out,
		   size_t cap);

static struct tls_files files;
static struct fmq_tls_ctx *ctx;   /* default server context */

static int
suite_init(void)
{
	struct fmq_config cfg;
	char err[512];

	if (tls_files_make(&files) < 0)
		return -1;
	tls_cfg(&cfg, &files);
	ctx = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	if (ctx == NULL)
		fprintf(stderr, "%s\n", err);
	return ctx != NULL ? 0 : -1;
}

static int
suite_fini(void)
{
	fmq_tls_ctx_put(ctx);
	tls_files_remove(&files);
	return 0;
}

/* Client sends msg, server decrypts it; server answers, client reads. */
static void
round_trip(struct tls_pair *t, const char *msg)
{
	char back[256];
	size_t n = strlen(msg);
	int r;

	t->plain_len = 0;
	CU_ASSERT_EQUAL(SSL_write(t->c, msg, (int)n), (int)n);
	CU_ASSERT(tls_pair_c2s(t, 0) >= 0);
	CU_ASSERT_EQUAL(t->plain_len, n);
	CU_ASSERT(memcmp(t->plain, msg, n) == 0);
	CU_ASSERT_EQUAL(fmq_tls_write(t->s, "pong", 4), 0);
	tls_pair_s2c(t);
	r = SSL_read(t->c, back, sizeof(back));
	CU_ASSERT_EQUAL(r, 4);
	CU_ASSERT(r == 4 && memcmp(back, "pong", 4) == 0);
}

static void
handshake_at(int ver, size_t chunk)
{
	struct tls_pair t;

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, ver, NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, chunk) == 0);
	CU_ASSERT_EQUAL(fmq_tls_version(t.s), ver == TLS1_3_VERSION ?
			FMQ_TLS_V13 : FMQ_TLS_V12);
	CU_ASSERT_EQUAL(SSL_version(t.c), ver);
	round_trip(&t, "ping");
	tls_pair_free(&t);
}

static void
test_handshake_12(void)
{
	handshake_at(TLS1_2_VERSION, 0);
}

static void
test_handshake_13(void)
{
	handshake_at(TLS1_3_VERSION, 0);
}

/* Every handshake byte alone: partial records wait inside OpenSSL. */
static void
test_handshake_bytewise(void)
{
	handshake_at(TLS1_3_VERSION, 1);
	handshake_at(TLS1_2_VERSION, 1);
}

/* An RSA-2048 server key works too (and what it costs is in the bench). */
static void
test_handshake_rsa(void)
{
	struct fmq_config cfg;
	struct fmq_tls_ctx *c;
	struct tls_pair t;
	char err[512];

	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_keystore_location, files.server_rsa);
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT(tls_pair_handshake(&t, 0) == 0);
	round_trip(&t, "rsa");
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);
}

/* One application record cut in two at every byte boundary. */
static void
test_record_split_everywhere(void)
{
	static const char msg[] = "a Kafka request that spans one record";
	size_t n = sizeof(msg) - 1;

	for (int v = 0; v < 2; v++) {
		int ver = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
		struct tls_pair t;
		uint8_t *rec;
		size_t len;

		CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, ver,
					     NULL) == 0);
		CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
		CU_ASSERT_EQUAL(SSL_write(t.c, msg, (int)n), (int)n);
		len = tls_pair_take_client(&t, &rec);
		CU_ASSERT_FATAL(len > n);
		tls_pair_free(&t);
		/* The same record bytes can only be replayed into the same
		 * keys, so each cut gets a session of its own: record the
		 * client's record per session. */
		for (size_t cut = 1; cut < len; cut++) {
			uint8_t *r2;
			size_t l2;
			int rc;

			CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, ver,
						     NULL) == 0);
			CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
			SSL_write(t.c, msg, (int)n);
			l2 = tls_pair_take_client(&t, &r2);
			CU_ASSERT_EQUAL(l2, len);
			t.plain_len = 0;
			rc = tls_pair_feed(&t, r2, cut);
			CU_ASSERT_EQUAL(rc, FMQ_TLS_AGAIN);
			CU_ASSERT_EQUAL(t.plain_len, 0);
			CU_ASSERT_EQUAL(fmq_tls_input_left(t.s), 0);
			rc = tls_pair_feed(&t, r2 + cut, l2 - cut);
			CU_ASSERT_EQUAL(rc, FMQ_TLS_AGAIN);
			CU_ASSERT_EQUAL(t.plain_len, n);
			CU_ASSERT(memcmp(t.plain, msg, n) == 0);
			free(r2);
			tls_pair_free(&t);
		}
		free(rec);
	}
}

/* A record in one-byte pieces given at once (the segments of a chain). */
static void
test_record_iovec(void)
{
	static const char msg[] = "one record, many segments";
	struct iovec iov[256];
	struct tls_pair t;
	uint8_t *rec;
	size_t len;
	int rc;

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	SSL_write(t.c, msg, sizeof(msg) - 1);
	SSL_write(t.c, msg, sizeof(msg) - 1);
	len = tls_pair_take_client(&t, &rec);
	CU_ASSERT_FATAL(len <= 256);
	for (size_t i = 0; i < len; i++) {
		iov[i].iov_base = rec + i;
		iov[i].iov_len = 1;
	}
	fmq_tls_inputv(t.s, iov, (unsigned int)len);
	CU_ASSERT_EQUAL(fmq_tls_input_left(t.s), len);
	t.plain_len = 0;
	while ((rc = fmq_tls_read(t.s, t.plain + t.plain_len,
				  sizeof(t.plain) - t.plain_len)) > 0)
		t.plain_len += (size_t)rc;
	CU_ASSERT_EQUAL(rc, FMQ_TLS_AGAIN);
	CU_ASSERT_EQUAL(fmq_tls_input_left(t.s), 0);
	CU_ASSERT_EQUAL(t.plain_len, 2 * (sizeof(msg) - 1));
	CU_ASSERT(memcmp(t.plain, msg, sizeof(msg) - 1) == 0);
	CU_ASSERT(memcmp(t.plain + sizeof(msg) - 1, msg,
			 sizeof(msg) - 1) == 0);
	free(rec);
	tls_pair_free(&t);
}

/* A plaintext Kafka request, an HTTP line and random bytes on the TLS
 * port: refused at once, with an alert where one is due. */
static void
test_garbage_refused(void)
{
	static const uint8_t kafka[] = { 0, 0, 0, 20, 0, 18, 0, 3, 0, 0, 0,
					 1, 0, 4, 'k', 'c', 'a', 't', 0, 0,
					 0, 0, 0, 0 };
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t rnd[512];
	struct tls_pair t;

	srand(7);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rand();
	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_EQUAL(tls_pair_feed(&t, kafka, sizeof(kafka)),
			FMQ_TLS_ERROR);
	CU_ASSERT_EQUAL(t.plain_len, 0);
	tls_pair_free(&t);
	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_EQUAL(tls_pair_feed(&t, (const uint8_t *)http,
				      sizeof(http) - 1), FMQ_TLS_ERROR);
	tls_pair_free(&t);
	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_EQUAL(tls_pair_feed(&t, rnd, sizeof(rnd)), FMQ_TLS_ERROR);
	tls_pair_free(&t);

	/* After the handshake: one flipped bit fails the record's tag. */
	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	{
		uint8_t *rec;
		size_t len;

		SSL_write(t.c, "secret", 6);
		len = tls_pair_take_client(&t, &rec);
		rec[len - 3] ^= 1;
		t.plain_len = 0;
		tbuf_reset(&t.s_out);
		CU_ASSERT_EQUAL(tls_pair_feed(&t, rec, len), FMQ_TLS_ERROR);
		CU_ASSERT_EQUAL(t.plain_len, 0);
		/* bad_record_mac alert: a record went out (TLS 1.3 hides
		 * an alert's type inside application_data). */
		CU_ASSERT(t.s_out.len >= 5 && (t.s_out.p[0] == 21 ||
					       t.s_out.p[0] == 23));
		free(rec);
	}
	tls_pair_free(&t);
}

/* Records in a run of ciphertext. */
static size_t
count_records(const struct tbuf *b)
{
	size_t off = 0, n = 0;

	while (off + 5 <= b->len) {
		n++;
		off += 5 + ((size_t)b->p[off + 3] << 8 | b->p[off + 4]);
	}
	return n;
}

/* TLS 1.3 KeyUpdate with update_requested: the server answers with a
 * KeyUpdate of its own (OpenSSL sends it ahead of the next record it
 * writes), the client takes it, and both sides go on. */
static void
key_update(int type, size_t records)
{
	struct tls_pair t;
	char back[16];

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	round_trip(&t, "before");
	CU_ASSERT_FATAL(SSL_key_update(t.c, type) == 1);
	t.plain_len = 0;
	CU_ASSERT_EQUAL(SSL_write(t.c, "after", 5), 5);
	tbuf_reset(&t.s_out);
	CU_ASSERT(tls_pair_c2s(&t, 0) >= 0);
	CU_ASSERT_EQUAL(t.plain_len, 5);
	CU_ASSERT_EQUAL(fmq_tls_write(t.s, "pong", 4), 0);
	CU_ASSERT_EQUAL(count_records(&t.s_out), records);
	tls_pair_s2c(&t);
	CU_ASSERT_EQUAL(SSL_read(t.c, back, sizeof(back)), 4);
	round_trip(&t, "again");
	round_trip(&t, "and again");
	tls_pair_free(&t);
}

static void
test_key_update(void)
{
	key_update(SSL_KEY_UPDATE_REQUESTED, 2);
	key_update(SSL_KEY_UPDATE_NOT_REQUESTED, 1);
}

static struct fmq_tls_ctx *
mtls_ctx(const char *auth, const char *rules)
{
	struct fmq_config cfg;
	struct fmq_tls_ctx *c;
	char err[512];

	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_client_auth, auth);
	strcpy(cfg.ssl_truststore_location, files.ca);
	if (rules != NULL)
		strcpy(cfg.ssl_principal_mapping_rules, rules);
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	return c;
}

static void
test_mtls(void)
{
	struct fmq_tls_ctx *c = mtls_ctx("required", NULL);
	struct fmq_principal p;
	struct tls_pair t;

	CU_ASSERT_FATAL(c != NULL);
	/* A client certificate from our CA: the DN as Kafka writes it. */
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     files.client) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	round_trip(&t, "hello");
	CU_ASSERT(fmq_tls_peer_principal(t.s, &p));
	CU_ASSERT_STRING_EQUAL(p.name, "User:CN=alice,OU=eng,O=acme");
	tls_pair_free(&t);
	/* No certificate: refused. */
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT(tls_pair_handshake(&t, 0) < 0);
	CU_ASSERT(!fmq_tls_established(t.s) || t.last == FMQ_TLS_ERROR);
	CU_ASSERT_EQUAL(t.plain_len, 0);
	tls_pair_free(&t);
	/* A certificate from another CA: refused. */
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_2_VERSION,
				     files.rogue) == 0);
	CU_ASSERT(tls_pair_handshake(&t, 0) < 0);
	CU_ASSERT(!fmq_tls_established(t.s));
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);

	/* requested: no certificate is fine, the principal stays. */
	c = mtls_ctx("requested", NULL);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	CU_ASSERT(!fmq_tls_peer_principal(t.s, &p));
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);

	/* Mapping rules: first match wins, case folded. */
	c = mtls_ctx("required", "RULE:^CN=([^,]*),OU=ops,.*$/ops-$1/, "
		     "RULE:^CN=([^,]*),OU=(eng),O=.*$/$1@$2/U, DEFAULT");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     files.client) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	CU_ASSERT(fmq_tls_peer_principal(t.s, &p));
	CU_ASSERT_STRING_EQUAL(p.name, "User:ALICE@ENG");
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);

	/* No rule matches: the handshake fails (Kafka refuses too). */
	c = mtls_ctx("required", "RULE:^CN=bob,.*$/bob/");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     files.client) == 0);
	tls_pair_handshake(&t, 0);
	CU_ASSERT_EQUAL(t.last, FMQ_TLS_ERROR);
	CU_ASSERT(!fmq_tls_peer_principal(t.s, &p));
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);
}

static void
test_mapping_rules(void)
{
	struct fmq_tls_ctx *c = mtls_ctx("none", NULL);
	char why[256], out[256];

	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL(fmq_tls_parse_rules(c, "RULE:^CN=(.*?),OU=Service"
					   "Users.*$/$1/,DEFAULT", why,
					   sizeof(why)), 0);
	CU_ASSERT_EQUAL(fmq_tls_map_dn(c, "CN=svc,OU=ServiceUsers,O=x", out,
				       sizeof(out)), 3);
	CU_ASSERT_STRING_EQUAL(out, "svc");
	/* Not a whole-DN match: the next rule. */
	CU_ASSERT(fmq_tls_map_dn(c, "CN=bob,OU=eng", out, sizeof(out)) > 0);
	CU_ASSERT_STRING_EQUAL(out, "CN=bob,OU=eng");
	CU_ASSERT_EQUAL(fmq_tls_parse_rules(c, "RULE:^(.*)\\/x$/$1/L", why,
					   sizeof(why)), 0);
	CU_ASSERT(fmq_tls_map_dn(c, "CN=A/x", out, sizeof(out)) > 0);
	CU_ASSERT_STRING_EQUAL(out, "cn=a");
	CU_ASSERT(fmq_tls_parse_rules(c, "RULE:^a$/b", why, sizeof(why)) < 0);
	CU_ASSERT(fmq_tls_parse_rules(c, "NOPE", why, sizeof(why)) < 0);
	CU_ASSERT(fmq_tls_parse_rules(c, "RULE:^(a$/b/", why,
				      sizeof(why)) < 0);
	CU_ASSERT(fmq_tls_parse_rules(c, "", why, sizeof(why)) < 0);
	fmq_tls_ctx_put(c);
}

/* Many small pieces of a response become full 16 KiB records. */
static void
test_stage_coalesces(void)
{
	static struct fmq_tls_stage st;
	struct tls_pair t;
	uint8_t piece[300], *got = malloc(40000);
	size_t total = 0, recs;
	int r;

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	tbuf_reset(&t.s_out);
	for (int i = 0; i < 120; i++) {
		memset(piece, i, sizeof(piece));
		CU_ASSERT_EQUAL(fmq_tls_stage_add(t.s, &st, piece,
						  sizeof(piece)), 0);
	}
	CU_ASSERT_EQUAL(fmq_tls_stage_flush(t.s, &st), 0);
	/* 36000 bytes: 16384 + 16384 + 3232, three records. */
	recs = count_records(&t.s_out);
	CU_ASSERT_EQUAL(recs, 3);
	tls_pair_s2c(&t);
	while ((r = SSL_read(t.c, got + total, 40000 - (int)total)) > 0)
		total += (size_t)r;
	CU_ASSERT_EQUAL(total, 36000);
	for (size_t i = 0; i < total; i++)
		if (got[i] != (uint8_t)(i / 300)) {
			CU_FAIL("plaintext differs");
			break;
		}
	free(got);
	tls_pair_free(&t);
}

/* Out of buffers for ciphertext: the session fails, nothing breaks. */
static void
test_out_refused(void)
{
	struct tls_pair t;

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	SSL_do_handshake(t.c);
	t.s_out.fail = true;
	CU_ASSERT_EQUAL(tls_pair_c2s(&t, 0), FMQ_TLS_ERROR);
	CU_ASSERT(!fmq_tls_established(t.s));
	CU_ASSERT_EQUAL(fmq_tls_write(t.s, "x", 1), -1);
	tls_pair_free(&t);
}

static void
expect_error(struct fmq_config *cfg, const char *key)
{
	struct fmq_tls_ctx *c;
	char err[512] = "";

	c = fmq_tls_ctx_create(cfg, err, sizeof(err));
	CU_ASSERT(c == NULL);
	if (strstr(err, key) == NULL)
		fprintf(stderr, "\n  error '%s' does not name %s\n", err, key);
	CU_ASSERT(strstr(err, key) != NULL);
	fmq_tls_ctx_put(c);
}

static void
test_config_errors(void)
{
	struct fmq_config cfg;

	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_keystore_location, "/nonexistent/server.pem");
	expect_error(&cfg, "ssl.keystore.location");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_keystore_location, files.ca);   /* no key in it */
	expect_error(&cfg, "ssl.keystore.location");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_keystore_location, files.mismatch);
	expect_error(&cfg, "ssl.keystore.location");
	tls_cfg(&cfg, &files);
	cfg.ssl_keystore_location[0] = '\0';
	expect_error(&cfg, "ssl.keystore.location");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_client_auth, "required");
	expect_error(&cfg, "ssl.truststore.location");
	strcpy(cfg.ssl_truststore_location, "/nonexistent/ca.pem");
	expect_error(&cfg, "ssl.truststore.location");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_enabled_protocols, "TLSv1.1");
	expect_error(&cfg, "ssl.enabled.protocols");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_cipher_suites, "NO_SUCH_CIPHER");
	expect_error(&cfg, "ssl.cipher.suites");
	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_principal_mapping_rules, "RULE:x");
	expect_error(&cfg, "ssl.principal.mapping.rules");
}

/* ssl.enabled.protocols and ssl.cipher.suites take effect. */
static void
test_protocols_and_ciphers(void)
{
	struct fmq_config cfg;
	struct fmq_tls_ctx *c;
	struct tls_pair t;
	char err[512];

	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_enabled_protocols, "TLSv1.3");
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_2_VERSION,
				     NULL) == 0);
	CU_ASSERT(tls_pair_handshake(&t, 0) < 0);
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);

	tls_cfg(&cfg, &files);
	strcpy(cfg.ssl_cipher_suites, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_"
	       "SHA384,TLS_CHACHA20_POLY1305_SHA256");
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_2_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	CU_ASSERT_STRING_EQUAL(SSL_get_cipher_name(t.c),
			       "ECDHE-ECDSA-AES256-GCM-SHA384");
	tls_pair_free(&t);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	CU_ASSERT_STRING_EQUAL(SSL_get_cipher_name(t.c),
			       "TLS_CHACHA20_POLY1305_SHA256");
	tls_pair_free(&t);
	fmq_tls_ctx_put(c);
}

/* close_notify both ways. */
static void
test_close_notify(void)
{
	struct tls_pair t;
	char b[8];
	int r;

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	fmq_tls_shutdown(t.s);
	CU_ASSERT(t.s_out.len > 0);
	tls_pair_s2c(&t);
	r = SSL_read(t.c, b, sizeof(b));
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(SSL_get_error(t.c, r), SSL_ERROR_ZERO_RETURN);
	tls_pair_free(&t);

	CU_ASSERT_FATAL(tls_pair_new(&t, ctx, files.ca, TLS1_2_VERSION,
				     NULL) == 0);
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	SSL_write(t.c, "last", 4);
	SSL_shutdown(t.c);
	t.plain_len = 0;
	CU_ASSERT_EQUAL(tls_pair_c2s(&t, 0), FMQ_TLS_CLOSED);
	CU_ASSERT_EQUAL(t.plain_len, 4);
	tls_pair_free(&t);
}

/* A session keeps the context it started with after a reload. */
static void
test_ctx_outlives_reload(void)
{
	struct fmq_config cfg;
	struct fmq_tls_ctx *c;
	struct tls_pair t;
	char err[512];

	tls_cfg(&cfg, &files);
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(tls_pair_new(&t, c, files.ca, TLS1_3_VERSION,
				     NULL) == 0);
	fmq_tls_ctx_put(c);   /* the reload dropped the old context */
	CU_ASSERT_FATAL(tls_pair_handshake(&t, 0) == 0);
	round_trip(&t, "still here");
	tls_pair_free(&t);
}

/* Hand what one session wrote to the other and let it run (handshake,
 * or read into buf). Returns the reader's result. */
static int
pump(struct tbuf *from, struct fmq_tls *to, char *buf, size_t cap)
{
	int rc;

	fmq_tls_input(to, from->p, from->len);
	rc = buf != NULL ? fmq_tls_read(to, buf, cap) : fmq_tls_handshake(to);
	if (rc != FMQ_TLS_ERROR)
		CU_ASSERT_EQUAL(fmq_tls_input_left(to), 0);
	tbuf_reset(from);
	return rc;
}

/* fluxmq-bench's client mode: a client session of lib/sec against a
 * server session of lib/sec, the server's chain and IP verified. */
static void
client_against_server(const char *ip, bool want_ok)
{
	struct tbuf co = { 0 }, so = { 0 };
	struct fmq_tls_ctx *cc;
	struct fmq_tls *c, *s;
	char err[256], buf[64];
	int rc = FMQ_TLS_AGAIN;

	cc = fmq_tls_client_ctx_create(files.ca, ip, "TLS_AES_128_GCM_SHA256",
				       err, sizeof(err));
	CU_ASSERT_FATAL(cc != NULL);
	c = fmq_tls_new(cc, tbuf_out, &co);
	s = fmq_tls_new(ctx, tbuf_out, &so);
	fmq_tls_ctx_put(cc);          /* the session keeps its own */
	CU_ASSERT_FATAL(c != NULL && s != NULL);
	CU_ASSERT_EQUAL(fmq_tls_handshake(c), FMQ_TLS_AGAIN);
	CU_ASSERT(co.len > 0);        /* the ClientHello */
	for (int i = 0; i < 4 && rc == FMQ_TLS_AGAIN; i++) {
		CU_ASSERT_EQUAL(pump(&co, s, buf, sizeof(buf)), FMQ_TLS_AGAIN);
		rc = pump(&so, c, NULL, 0);
	}
	if (!want_ok) {
		CU_ASSERT_EQUAL(rc, FMQ_TLS_ERROR);
		CU_ASSERT(!fmq_tls_established(c));
		goto out;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 1);
	CU_ASSERT(fmq_tls_established(c));
	CU_ASSERT_STRING_EQUAL(fmq_tls_cipher(c), "TLS_AES_128_GCM_SHA256");
	CU_ASSERT_EQUAL(fmq_tls_write(c, "ping", 4), 0);
	CU_ASSERT_EQUAL(pump(&co, s, buf, sizeof(buf)), 4);
	CU_ASSERT(memcmp(buf, "ping", 4) == 0);
	CU_ASSERT(fmq_tls_established(s));
	CU_ASSERT_EQUAL(fmq_tls_write(s, "pong", 4), 0);
	CU_ASSERT_EQUAL(pump(&so, c, buf, sizeof(buf)), 4);
	CU_ASSERT(memcmp(buf, "pong", 4) == 0);
out:
	fmq_tls_free(c);
	fmq_tls_free(s);
	free(co.p);
	free(so.p);
}

static void
test_client_mode(void)
{
	client_against_server("127.0.0.1", true);
	/* The certificate is for 127.0.0.1: another address is refused. */
	client_against_server("10.1.2.3", false);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("tls", suite_init, suite_fini);
	CU_add_test(s, "handshake TLS 1.2", test_handshake_12);
	CU_add_test(s, "handshake TLS 1.3", test_handshake_13);
	CU_add_test(s, "handshake one byte at a time", test_handshake_bytewise);
	CU_add_test(s, "handshake with an RSA key", test_handshake_rsa);
	fmq_test_slow(CU_add_test(s, "record split at every byte",
				  test_record_split_everywhere));
	CU_add_test(s, "a record over many pieces", test_record_iovec);
	CU_add_test(s, "garbage refused", test_garbage_refused);
	CU_add_test(s, "KeyUpdate answered", test_key_update);
	CU_add_test(s, "mTLS and principals", test_mtls);
	CU_add_test(s, "mapping rules", test_mapping_rules);
	CU_add_test(s, "responses coalesced into 16 KiB records",
		    test_stage_coalesces);
	CU_add_test(s, "ciphertext refused", test_out_refused);
	CU_add_test(s, "config errors name the key", test_config_errors);
	CU_add_test(s, "protocols and cipher suites",
		    test_protocols_and_ciphers);
	CU_add_test(s, "close_notify", test_close_notify);
	CU_add_test(s, "context outlives a reload", test_ctx_outlives_reload);
	CU_add_test(s, "client sessions (fluxmq-bench)", test_client_mode);
	return fmq_test_run(argc, argv);
}
