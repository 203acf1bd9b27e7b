/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SASL gate of a SASL_PLAINTEXT listener (lib/broker/broker_sasl.c),
 * the whole broker on a capture-only stack with a fake clock
 * (kclient.c): what is served before authentication, SaslHandshake v0 raw
 * tokens and v1 SaslAuthenticate, failures, the pre-authentication size
 * cap, re-authentication and session expiry (KIP-368), and an exchange
 * left unfinished. Each case checks the close reason counted in /metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_sasl.h"
#include "harness.h"
#include "kclient.h"
#include "net_test_util.h"

static struct kb kb;
static struct kb *k = &kb;
static char creds[128];

static long long
closes(const char *reason)
{
	char s[160];

	snprintf(s, sizeof(s),
		 "fluxmq_kafka_connection_closes_total{reason=\"%s\"}", reason);
	return kb_metric(k, s);
}

/* Send one request built by fn (corr 7) and wait: 1 answered (body),
 * -1 closed. */
static int
req(struct kc *c, int16_t key, int16_t ver, const void *body, size_t blen,
    const uint8_t **out, size_t *olen)
{
	struct wb w;
	int32_t corr = 0;
	const uint8_t *b = NULL;
	size_t len = 0;
	int r;

	wb_init(&w);
	size_t st = wb_req(&w, key, ver, 7, 1);
	if (blen > 0)
		wraw(&w, body, blen);
	wb_end(&w, st);
	kc_send(k, c, w.b, w.n);
	wb_free(&w);
	r = kc_wait(k, c, &corr, &b, &len);
	if (r == 1) {
		CU_ASSERT(corr == 7);
		if (out != NULL) {
			*out = b;
			*olen = len;
		}
	}
	return r;
}

static int
metadata(struct kc *c)
{
	static const uint8_t all[] = { 0xff, 0xff, 0xff, 0xff };

	return req(c, 3, 1, all, sizeof(all), NULL, NULL);
}

/* SaslHandshake v<ver> mech: its error code, or -1 when closed. */
static int
handshake(struct kc *c, int16_t ver, const char *mech)
{
	struct wb w;
	const uint8_t *b;
	size_t len;
	int r;

	wb_init(&w);
	wstr(&w, mech);
	r = req(c, 17, ver, w.b, w.n, &b, &len);
	wb_free(&w);
	if (r != 1)
		return -1;
	/* error, then the enabled list */
	CU_ASSERT(len >= 6 && rd32(b + 2) >= 1);
	return rd16(b);
}

/* SaslAuthenticate v1 with a PLAIN token: its error code (-1: closed);
 * *life the session lifetime. */
static int
plain_auth(struct kc *c, const char *user, const char *pw, int64_t *life)
{
	uint8_t tok[256], body[260];
	size_t n = 0;
	const uint8_t *b;
	size_t len;
	int r;

	tok[n++] = 0;
	memcpy(tok + n, user, strlen(user));
	n += strlen(user);
	tok[n++] = 0;
	memcpy(tok + n, pw, strlen(pw));
	n += strlen(pw);
	body[0] = (uint8_t)(n >> 24);
	body[1] = (uint8_t)(n >> 16);
	body[2] = (uint8_t)(n >> 8);
	body[3] = (uint8_t)n;
	memcpy(body + 4, tok, n);
	r = req(c, 36, 1, body, n + 4, &b, &len);
	if (r != 1)
		return -1;
	/* error, message (nullable), auth bytes, session lifetime */
	{
		int16_t ml = rd16(b + 2);
		size_t o = 4 + (ml > 0 ? (size_t)ml : 0);
		int32_t al = rd32(b + o);
		o += 4 + (al > 0 ? (size_t)al : 0);
		CU_ASSERT_FATAL(o + 8 <= len);
		if (life != NULL)
			*life = rd64(b + o);
	}
	return rd16(b);
}

static struct kc *
login(const char *user, const char *pw, int64_t *life)
{
	struct kc *c = kc_open(k);

	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(handshake(c, 1, "PLAIN") == 0);
	CU_ASSERT_FATAL(plain_auth(c, user, pw, life) == 0);
	return c;
}

static void
done(struct kc *c)
{
	if (!kc_closed(c))
		kc_close(k, c);
	kb_pump(k);
	kc_release(c);
}

static void
test_before_auth(void)
{
	long long u0 = closes("SASL_UNAUTHENTICATED");
	struct kc *c = kc_open(k);

	/* Metadata first: closed, no answer. */
	CU_ASSERT(metadata(c) == -1);
	CU_ASSERT(closes("SASL_UNAUTHENTICATED") == u0 + 1);
	kc_release(c);
	/* ApiVersions is served; Metadata after it is not. */
	c = kc_open(k);
	CU_ASSERT(req(c, 18, 0, NULL, 0, NULL, NULL) == 1);
	CU_ASSERT(metadata(c) == -1);
	CU_ASSERT(closes("SASL_UNAUTHENTICATED") == u0 + 2);
	kc_release(c);
	/* SaslAuthenticate before any SaslHandshake: closed. */
	c = kc_open(k);
	CU_ASSERT(plain_auth(c, "alice", "alice-secret", NULL) == -1);
	CU_ASSERT(closes("SASL_UNAUTHENTICATED") == u0 + 3);
	kc_release(c);
	/* After SaslHandshake v1, only SaslAuthenticate. */
	c = kc_open(k);
	CU_ASSERT(handshake(c, 1, "PLAIN") == 0);
	CU_ASSERT(metadata(c) == -1);
	CU_ASSERT(closes("SASL_UNAUTHENTICATED") == u0 + 4);
	kc_release(c);
}

static void
test_plain_v1(void)
{
	long long ok0 = kb_metric(k, "fluxmq_sasl_authentications_total"
		"{mechanism=\"PLAIN\",result=\"success\"}");
	long long f0 = closes("SASL_FAILED");
	int64_t life = -1;
	struct kc *c = login("alice", "alice-secret", &life);

	CU_ASSERT(life == 0);   /* connections.max.reauth.ms is off */
	CU_ASSERT(metadata(c) == 1);
	CU_ASSERT(kb_metric(k, "fluxmq_sasl_authentications_total"
		"{mechanism=\"PLAIN\",result=\"success\"}") == ok0 + 1);
	done(c);
	/* A wrong password: error 58, then closed. */
	c = kc_open(k);
	CU_ASSERT(handshake(c, 1, "PLAIN") == 0);
	CU_ASSERT(plain_auth(c, "alice", "wrong", NULL) == 58);
	CU_ASSERT(metadata(c) == -1);
	CU_ASSERT(closes("SASL_FAILED") == f0 + 1);
	kc_release(c);
	/* A mechanism not enabled: error 33 (with the list), closed. */
	c = kc_open(k);
	CU_ASSERT(handshake(c, 1, "OAUTHBEARER") == 33);
	kb_pump(k);
	CU_ASSERT(kc_closed(c));
	CU_ASSERT(closes("SASL_FAILED") == f0 + 2);
	kc_release(c);
}

/* SaslHandshake v0: the token goes raw (length + bytes), the answer too. */
static void
test_v0_raw(void)
{
	static const uint8_t tok[] = "\0\0\0\023\0alice\0alice-secret";
	static const uint8_t bad[] = "\0\0\0\015\0alice\0wrong!";
	struct kc *c = kc_open(k);

	CU_ASSERT(handshake(c, 0, "PLAIN") == 0);
	kc_send(k, c, tok, sizeof(tok) - 1);
	kb_pump(k);
	CU_ASSERT_FATAL(c->rxlen - c->rxoff >= 4);
	CU_ASSERT(rd32(c->rx + c->rxoff) == 0);   /* an empty token */
	c->rxoff += 4;
	CU_ASSERT(metadata(c) == 1);
	done(c);
	/* A failure just closes, with no frame. */
	c = kc_open(k);
	CU_ASSERT(handshake(c, 0, "PLAIN") == 0);
	kc_send(k, c, bad, sizeof(bad) - 1);
	kb_pump(k);
	CU_ASSERT(c->rxlen == c->rxoff);
	CU_ASSERT(kc_closed(c));
	kc_release(c);
}

/* Before authentication requests are capped at
 * sasl.server.max.receive.size (4096 here); after it, not. */
static void
test_size_cap(void)
{
	static uint8_t big[8192];
	struct kc *c = kc_open(k);
	struct wb w;
	long long t0 = closes("FRAME") + closes("TOO_LARGE");

	memset(big, 0, sizeof(big));
	wb_init(&w);
	size_t st = wb_req(&w, 18, 0, 1, 1);
	wraw(&w, big, 5000);
	wb_end(&w, st);
	kc_send(k, c, w.b, 8);   /* the size prefix is enough */
	kb_pump(k);
	CU_ASSERT(kc_closed(c));
	CU_ASSERT(closes("FRAME") + closes("TOO_LARGE") == t0 + 1);
	kc_release(c);
	wb_free(&w);
	/* Authenticated: a 5000-byte Produce-sized frame is read whole (an
	 * ApiVersions with trailing bytes is answered). */
	c = login("alice", "alice-secret", NULL);
	CU_ASSERT(req(c, 18, 0, big, 5000, NULL, NULL) != 0);
	CU_ASSERT(closes("FRAME") + closes("TOO_LARGE") == t0 + 1);
	done(c);
}

static void
test_stalled_exchange(void)
{
	long long t0 = closes("SASL_TIMEOUT");
	struct kc *c = kc_open(k);

	CU_ASSERT(handshake(c, 1, "PLAIN") == 0);
	kb_advance(k, 9000);
	CU_ASSERT(!kc_closed(c));
	kb_advance(k, 1500);
	kb_pump(k);
	CU_ASSERT(kc_closed(c));
	CU_ASSERT(closes("SASL_TIMEOUT") == t0 + 1);
	kc_release(c);
}

/* connections.max.reauth.ms=1000 (the second broker). */
static void
test_reauth(void)
{
	long long e0 = closes("SASL_EXPIRED");
	long long r0 = kb_metric(k, "fluxmq_sasl_reauthentications_total");
	int64_t life = 0;
	struct kc *c = login("alice", "alice-secret", &life);

	CU_ASSERT(life == 1000);
	kb_advance(k, 600);
	CU_ASSERT(metadata(c) == 1);
	/* Re-authenticate on the same connection: a new 1 s session. */
	CU_ASSERT(handshake(c, 1, "PLAIN") == 0);
	CU_ASSERT(plain_auth(c, "alice", "alice-secret", &life) == 0);
	CU_ASSERT(life == 1000);
	CU_ASSERT(kb_metric(k, "fluxmq_sasl_reauthentications_total") ==
		  r0 + 1);
	kb_advance(k, 700);   /* 1.3 s after the login, 0.7 s after renewal */
	CU_ASSERT(metadata(c) == 1);
	/* Past the renewed session: the next request closes. */
	kb_advance(k, 500);
	CU_ASSERT(metadata(c) == -1);
	CU_ASSERT(closes("SASL_EXPIRED") == e0 + 1);
	kc_release(c);
	/* A re-authentication as someone else fails and closes. */
	c = login("alice", "alice-secret", NULL);
	CU_ASSERT(handshake(c, 1, "PLAIN") == 0);
	CU_ASSERT(plain_auth(c, "bob", "bob-secret", NULL) == 58);
	kb_pump(k);
	CU_ASSERT(kc_closed(c));
	kc_release(c);
	/* Re-authentication needs SaslHandshake v1. */
	c = login("alice", "alice-secret", NULL);
	CU_ASSERT(handshake(c, 0, "PLAIN") == 33);
	kc_release(c);
}

static int
write_creds(void)
{
	static const uint8_t salt[] = "gate-test-salt";
	struct fmq_scram_user u[2];
	struct fmq_scram_db *db;
	int rc;

	memset(u, 0, sizeof(u));
	strcpy(u[0].name, "alice");
	u[0].name_len = 5;
	strcpy(u[1].name, "bob");
	u[1].name_len = 3;
	if (fmq_scram_cred_from_password(&u[0].cred[0], FMQ_SASL_SCRAM_SHA_256,
		"alice-secret", 12, salt, 14, 4096) < 0 ||
	    fmq_scram_cred_from_password(&u[1].cred[1], FMQ_SASL_SCRAM_SHA_512,
		"bob-secret", 10, salt, 14, 4096) < 0)
		return -1;
	db = fmq_scram_db_new(u, 2);
	if (db == NULL)
		return -1;
	snprintf(creds, sizeof(creds), "/tmp/fmq-sasl-gate-%d", (int)getpid());
	rc = fmq_scram_db_save(db, creds);
	fmq_sec_part_put(&db->part);
	return rc;
}

static int
run(int argc, char **argv, const char *reauth)
{
	char cf[200], ra[64];
	const char *settings[] = {
		"listeners=SASL_PLAINTEXT://:9092",
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
		"sasl.server.max.receive.size=4096",
		cf, ra, NULL,
	};
	CU_pSuite s;
	int fails;

	snprintf(cf, sizeof(cf), "sasl.credentials.file=%s", creds);
	snprintf(ra, sizeof(ra), "connections.max.reauth.ms=%s", reauth);
	if (kb_start(k, 1, settings) < 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (strcmp(reauth, "0") == 0) {
		s = CU_add_suite("SASL gate", NULL, NULL);
		CU_add_test(s, "before authentication: ApiVersions and "
			    "SaslHandshake only, anything else closes",
			    test_before_auth);
		CU_add_test(s, "PLAIN over SaslHandshake v1: success, wrong "
			    "password, mechanism not enabled", test_plain_v1);
		CU_add_test(s, "SaslHandshake v0: raw tokens", test_v0_raw);
		CU_add_test(s, "pre-authentication size cap", test_size_cap);
		CU_add_test(s, "an exchange left unfinished closes after 10 s",
			    test_stalled_exchange);
	} else {
		s = CU_add_suite("SASL re-authentication", NULL, NULL);
		CU_add_test(s, "KIP-368: lifetime, renewal, expiry, same "
			    "principal", test_reauth);
	}
	fails = fmq_test_run(argc, argv);
	kb_stop(k);
	return fails;
}

int
main(int argc, char **argv)
{
	int rc;

	if (nt_eal_init() < 0) {
		fprintf(stderr, "EAL init failed: skipping\n");
		return 77;
	}
	fmq_log_set_level(FMQ_LOG_ERR);
	if (write_creds() < 0) {
		fprintf(stderr, "cannot write %s\n", creds);
		return 1;
	}
	/* A mode word first, then the harness options (argv[0] = the word). */
	if (argc > 1 && strcmp(argv[1], "reauth") == 0)
		rc = run(argc - 1, argv + 1, "1000");
	else
		rc = run(argc, argv, "0");
	unlink(creds);
	return rc;
}
