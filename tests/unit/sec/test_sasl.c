/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SASL mechanisms and the SCRAM store: RFC 7677's SCRAM-SHA-256 exchange,
 * SHA-512 with a client computed here, librdkafka's nonce form, escaped
 * names, wrong proofs, replays, truncated and oversized messages, PLAIN's
 * authzid rules, the credentials file and the --add-scram spec, and
 * OAUTHBEARER tokens (unsecured, RS256 from a PEM key, ES256 from a JWKS,
 * expired, badly signed, missing scope).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "fmq_sasl.h"
#include "harness.h"

static const struct fmq_sasl_conf all_conf = {
	.enabled = (1u << FMQ_SASL_MECH_MAX) - 1,
	.oauth = NULL,
};

static struct fmq_scram_db *
db_with(const char *name, enum fmq_sasl_mech m, const char *pw,
	const uint8_t *salt, size_t salt_len, uint32_t iters)
{
	struct fmq_scram_user u;

	memset(&u, 0, sizeof(u));
	u.name_len = (uint16_t)strlen(name);
	memcpy(u.name, name, u.name_len);
	CU_ASSERT_FATAL(fmq_scram_cred_from_password(&u.cred[fmq_scram_idx(m)],
		m, pw, strlen(pw), salt, salt_len, iters) == 0);
	return fmq_scram_db_new(&u, 1);
}

static int
step_str(struct fmq_sasl_sess *s, const struct fmq_scram_db *db,
	 const char *msg)
{
	return fmq_sasl_step(s, &all_conf, db, (const uint8_t *)msg,
			     strlen(msg), 0);
}

static void
test_b64(void)
{
	char e[64];
	uint8_t d[64];

	CU_ASSERT(fmq_b64_enc((const uint8_t *)"n,,", 3, e, sizeof(e)) == 4);
	CU_ASSERT_STRING_EQUAL(e, "biws");
	CU_ASSERT(fmq_b64_enc((const uint8_t *)"ab", 2, e, sizeof(e)) == 4);
	CU_ASSERT_STRING_EQUAL(e, "YWI=");
	CU_ASSERT(fmq_b64_dec("YWI=", 4, d, sizeof(d), false) == 2);
	CU_ASSERT(memcmp(d, "ab", 2) == 0);
	CU_ASSERT(fmq_b64_dec("YWI", 3, d, sizeof(d), false) == 2);
	CU_ASSERT(fmq_b64_dec("Y", 1, d, sizeof(d), false) < 0);
	CU_ASSERT(fmq_b64_dec("Y!I=", 4, d, sizeof(d), false) < 0);
	CU_ASSERT(fmq_b64_dec("-_8", 3, d, sizeof(d), true) == 2);
	CU_ASSERT(fmq_b64_dec("YWJj", 4, d, 2, false) < 0);
}

static void
test_mech_names(void)
{
	uint32_t mask;
	char bad[32];

	CU_ASSERT(fmq_sasl_mech_parse("SCRAM-SHA-512", 13) ==
		  FMQ_SASL_SCRAM_SHA_512);
	CU_ASSERT(fmq_sasl_mech_parse("scram-sha-512", 13) < 0);
	CU_ASSERT(fmq_sasl_mechs_parse("PLAIN, OAUTHBEARER", &mask, bad,
				       sizeof(bad)) == 0);
	CU_ASSERT(mask == ((1u << FMQ_SASL_PLAIN) |
			   (1u << FMQ_SASL_OAUTHBEARER)));
	CU_ASSERT(fmq_sasl_mechs_parse("PLAIN,GSSAPI", &mask, bad,
				       sizeof(bad)) < 0);
	CU_ASSERT_STRING_EQUAL(bad, "GSSAPI");
}

/* RFC 7677 section 3: user "user", password "pencil". The server nonce
 * is random here, so after the first step the test puts the RFC's
 * server-first message in its place (the session keeps it as sent). */
static const char rfc_cfm[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char rfc_sfm[] = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
	"hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char rfc_cfin[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTC"
	"AfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_sfin[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static struct fmq_scram_db *
rfc_db(void)
{
	uint8_t salt[32];
	int n = fmq_b64_dec("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof(salt),
			    false);

	return db_with("user", FMQ_SASL_SCRAM_SHA_256, "pencil", salt,
		       (size_t)n, 4096);
}

static void
rfc_first(struct fmq_sasl_sess *s, const struct fmq_scram_db *db)
{
	fmq_sasl_start(s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT_FATAL(step_str(s, db, rfc_cfm) == FMQ_SASL_CONTINUE);
	/* The server-first message starts with the client nonce. */
	CU_ASSERT(memcmp(s->out, "r=rOprNGfwEbeRWgbNEkqO", 22) == 0);
	CU_ASSERT(strstr((char *)s->out, ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
		  != NULL || s->out_len > 0);
	memcpy(s->sfm, rfc_sfm, sizeof(rfc_sfm) - 1);
	s->sfm_len = sizeof(rfc_sfm) - 1;
	s->nonce_len = (uint16_t)(strchr(rfc_sfm, ',') - rfc_sfm - 2);
}

static void
test_scram_rfc7677(void)
{
	struct fmq_scram_db *db = rfc_db();
	struct fmq_sasl_sess s;

	rfc_first(&s, db);
	CU_ASSERT(step_str(&s, db, rfc_cfin) == FMQ_SASL_OK);
	CU_ASSERT(s.out_len == sizeof(rfc_sfin) - 1);
	CU_ASSERT(memcmp(s.out, rfc_sfin, sizeof(rfc_sfin) - 1) == 0);
	CU_ASSERT_STRING_EQUAL(s.user, "user");
	/* A token after success is refused. */
	CU_ASSERT(step_str(&s, db, rfc_cfin) == FMQ_SASL_FAIL);
	fmq_sec_part_put(&db->part);
}

static void
test_scram_wrong_proof_and_nonce(void)
{
	struct fmq_scram_db *db = rfc_db();
	struct fmq_sasl_sess s;
	char bad[sizeof(rfc_cfin)];

	/* One bit of the proof flipped. */
	rfc_first(&s, db);
	memcpy(bad, rfc_cfin, sizeof(rfc_cfin));
	bad[sizeof(rfc_cfin) - 4] ^= 1;
	CU_ASSERT(step_str(&s, db, bad) == FMQ_SASL_FAIL);
	CU_ASSERT(s.state == FMQ_SASL_S_FAILED);
	/* Nonce not ending with the server's. */
	rfc_first(&s, db);
	CU_ASSERT(step_str(&s, db, "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapW"
			   "Ik4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") ==
		  FMQ_SASL_FAIL);
	/* Channel binding flag 'p' refused. */
	rfc_first(&s, db);
	CU_ASSERT(step_str(&s, db, "c=cD10bHMtdW5pcXVlLCw=,r=rOprNGfwEbeRWgbN"
			   "EkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4"
			   "jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") ==
		  FMQ_SASL_FAIL);
	/* A replay: the RFC's final message against a fresh session whose
	 * server nonce is random (not the RFC's) fails. */
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(step_str(&s, db, rfc_cfm) == FMQ_SASL_CONTINUE);
	CU_ASSERT(step_str(&s, db, rfc_cfin) == FMQ_SASL_FAIL);
	/* Unknown user, wrong mechanism for the stored credential. */
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(step_str(&s, db, "n,,n=nobody,r=abc") == FMQ_SASL_FAIL);
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_512);
	CU_ASSERT(step_str(&s, db, rfc_cfm) == FMQ_SASL_FAIL);
	/* Authzid other than the user; delegation tokens. */
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(step_str(&s, db, "n,a=admin,n=user,r=abc") == FMQ_SASL_FAIL);
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(step_str(&s, db, "n,a=user,n=user,r=abc") ==
		  FMQ_SASL_CONTINUE);
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(step_str(&s, db, "n,,n=user,r=abc,tokenauth=true") ==
		  FMQ_SASL_FAIL);
	fmq_sec_part_put(&db->part);
}

/* A SCRAM client, to drive a whole exchange with a random server nonce. */
static void
client_final(enum fmq_sasl_mech m, const char *pw, const char *cfb,
	     const char *sfm, const char *nonce_prefix, char *out, size_t cap)
{
	const EVP_MD *md = m == FMQ_SASL_SCRAM_SHA_256 ? EVP_sha256() :
		EVP_sha512();
	size_t hl = fmq_scram_hlen(m);
	uint8_t salt[64], sp[64], ck[64], sk[64], sig[64], proof[64];
	char salt64[128], nonce[256], wp[512], am[2048], p64[128];
	unsigned int ol;
	int sl, iters;
	const char *s = strstr(sfm, ",s="), *i = strstr(sfm, ",i=");

	snprintf(nonce, sizeof(nonce), "%.*s", (int)(s - sfm - 2), sfm + 2);
	snprintf(salt64, sizeof(salt64), "%.*s", (int)(i - s - 3), s + 3);
	iters = atoi(i + 3);
	sl = fmq_b64_dec(salt64, strlen(salt64), salt, sizeof(salt), false);
	PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, sl, iters, md, (int)hl,
			  sp);
	HMAC(md, sp, (int)hl, (const uint8_t *)"Client Key", 10, ck, &ol);
	EVP_Digest(ck, hl, sk, &ol, md, NULL);
	snprintf(wp, sizeof(wp), "c=biws,r=%s%s", nonce_prefix, nonce);
	snprintf(am, sizeof(am), "%s,%s,%s", cfb, sfm, wp);
	HMAC(md, sk, (int)hl, (const uint8_t *)am, strlen(am), sig, &ol);
	for (size_t k = 0; k < hl; k++)
		proof[k] = ck[k] ^ sig[k];
	fmq_b64_enc(proof, hl, p64, sizeof(p64));
	snprintf(out, cap, "%s,p=%s", wp, p64);
}

static void
scram_roundtrip(enum fmq_sasl_mech m, const char *user_stored,
		const char *user_wire, const char *nonce_prefix, int expect)
{
	static const uint8_t salt[] = "0123456789abcdef";
	struct fmq_scram_db *db = db_with(user_stored, m, "s3cret", salt, 16,
					  4096);
	struct fmq_sasl_sess s;
	char cfm[512], fin[1024], sfm[FMQ_SASL_OUT_MAX + 1];

	snprintf(cfm, sizeof(cfm), "n,,n=%s,r=fyko+d2lbbFgONRv9qkxdawL",
		 user_wire);
	fmq_sasl_start(&s, m);
	CU_ASSERT_FATAL(step_str(&s, db, cfm) == FMQ_SASL_CONTINUE);
	memcpy(sfm, s.out, s.out_len);
	sfm[s.out_len] = '\0';
	client_final(m, "s3cret", cfm + 3, sfm, nonce_prefix, fin, sizeof(fin));
	CU_ASSERT(step_str(&s, db, fin) == expect);
	if (expect == FMQ_SASL_OK) {
		CU_ASSERT_STRING_EQUAL(s.user, user_stored);
		CU_ASSERT(s.out_len == 2 + (fmq_scram_hlen(m) + 2) / 3 * 4);
	}
	fmq_sec_part_put(&db->part);
}

static void
test_scram_sha512_and_librdkafka(void)
{
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_512, "alice", "alice", "",
			FMQ_SASL_OK);
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_256, "alice", "alice", "",
			FMQ_SASL_OK);
	/* librdkafka 2.0.2: <client nonce><server nonce>, the server nonce
	 * already starting with the client nonce. */
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_512, "alice", "alice",
			"fyko+d2lbbFgONRv9qkxdawL", FMQ_SASL_OK);
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_256, "alice", "alice",
			"fyko+d2lbbFgONRv9qkxdawL", FMQ_SASL_OK);
}

static void
test_scram_escaped_names(void)
{
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_256, "a,b=c", "a=2Cb=3Dc", "",
			FMQ_SASL_OK);
	scram_roundtrip(FMQ_SASL_SCRAM_SHA_256, "=", "=3D", "", FMQ_SASL_OK);

	struct fmq_scram_db *db = rfc_db();
	struct fmq_sasl_sess s;
	static const char *const bad[] = {
		"n,,n=us=er,r=abc", "n,,n=user=2,r=abc", "n,,n=user=2X,r=abc",
		"n,,n=,r=abc", "n,,n=user=", NULL,
	};
	for (int i = 0; bad[i] != NULL; i++) {
		fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
		CU_ASSERT(step_str(&s, db, bad[i]) == FMQ_SASL_FAIL);
	}
	fmq_sec_part_put(&db->part);
}

static void
test_scram_truncated_oversized(void)
{
	struct fmq_scram_db *db = rfc_db();
	struct fmq_sasl_sess s;
	static char big[FMQ_SASL_TOKEN_MAX + 64];

	/* Every strict prefix of the client-first message fails (the
	 * shortest valid one needs a nonce) without reading past it. */
	for (size_t n = 0; n < sizeof(rfc_cfm) - 1; n++) {
		fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
		int rc = fmq_sasl_step(&s, &all_conf, db,
				       (const uint8_t *)rfc_cfm, n, 0);
		CU_ASSERT(rc == FMQ_SASL_FAIL ||
			  n >= sizeof("n,,n=user,r=r") - 1);
	}
	/* (Dropping only the proof's '=' padding still decodes: as Java's
	 * Base64 decoder, padding is optional.) */
	for (size_t n = 0; n < sizeof(rfc_cfin) - 2; n++) {
		rfc_first(&s, db);
		CU_ASSERT(fmq_sasl_step(&s, &all_conf, db,
			(const uint8_t *)rfc_cfin, n, 0) == FMQ_SASL_FAIL);
	}
	/* Oversized client-first. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "n,,n=user,r=", 12);
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(fmq_sasl_step(&s, &all_conf, db, (const uint8_t *)big,
				sizeof(big), 0) == FMQ_SASL_FAIL);
	/* A NUL inside. */
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(fmq_sasl_step(&s, &all_conf, db,
		(const uint8_t *)"n,,n=us\0er,r=abc", 16, 0) == FMQ_SASL_FAIL);
	/* A mechanism that is not enabled. */
	struct fmq_sasl_conf only_plain = { .enabled = 1u << FMQ_SASL_PLAIN };
	fmq_sasl_start(&s, FMQ_SASL_SCRAM_SHA_256);
	CU_ASSERT(fmq_sasl_step(&s, &only_plain, db, (const uint8_t *)rfc_cfm,
				sizeof(rfc_cfm) - 1, 0) == FMQ_SASL_FAIL);
	fmq_sec_part_put(&db->part);
}

static int
plain(const struct fmq_scram_db *db, const char *msg, size_t len)
{
	struct fmq_sasl_sess s;

	fmq_sasl_start(&s, FMQ_SASL_PLAIN);
	return fmq_sasl_step(&s, &all_conf, db, (const uint8_t *)msg, len, 0);
}

static void
test_plain(void)
{
	static const uint8_t salt[] = "saltsaltsalt";
	struct fmq_scram_db *db = db_with("alice", FMQ_SASL_SCRAM_SHA_256,
					  "alice-secret", salt, 12, 4096);
	struct fmq_scram_db *db512 = db_with("bob", FMQ_SASL_SCRAM_SHA_512,
					     "bob-secret", salt, 12, 4096);

	/* librdkafka: empty authzid; kafka-python: authzid = user. */
	CU_ASSERT(plain(db, "\0alice\0alice-secret", 19) == FMQ_SASL_OK);
	CU_ASSERT(plain(db, "alice\0alice\0alice-secret", 24) == FMQ_SASL_OK);
	CU_ASSERT(plain(db, "admin\0alice\0alice-secret", 24) ==
		  FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice\0alice-secreT", 19) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice\0alice-secret2", 20) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice\0alice-secre", 18) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0carol\0alice-secret", 19) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice", 6) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice\0", 7) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0\0alice-secret", 14) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(db, "\0alice\0alice-secret\0", 20) == FMQ_SASL_FAIL);
	CU_ASSERT(plain(NULL, "\0alice\0alice-secret", 19) == FMQ_SASL_FAIL);
	/* A user with only a SCRAM-SHA-512 credential. */
	CU_ASSERT(plain(db512, "\0bob\0bob-secret", 15) == FMQ_SASL_OK);
	CU_ASSERT(plain(db512, "\0bob\0bob-secreT", 15) == FMQ_SASL_FAIL);
	fmq_sec_part_put(&db->part);
	fmq_sec_part_put(&db512->part);
}

static void
test_store_file(void)
{
	char dir[] = "/tmp/fmq-sasl-XXXXXX", path[128];
	struct fmq_scram_user u[3];
	struct fmq_scram_db *db, *db2;
	char err[256];
	struct stat st;
	static const uint8_t salt[] = "abcdefgh";

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/creds", dir);
	/* Missing file: empty store. */
	db = fmq_scram_db_load(path, err, sizeof(err));
	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(db->n == 0);
	fmq_sec_part_put(&db->part);
	memset(u, 0, sizeof(u));
	strcpy(u[0].name, "zed");
	u[0].name_len = 3;
	strcpy(u[1].name, "alice smith");
	u[1].name_len = 11;
	strcpy(u[2].name, "zed");  /* duplicate: the last one wins */
	u[2].name_len = 3;
	fmq_scram_cred_from_password(&u[0].cred[0], FMQ_SASL_SCRAM_SHA_256,
				     "x", 1, salt, 8, 4096);
	fmq_scram_cred_from_password(&u[1].cred[0], FMQ_SASL_SCRAM_SHA_256,
				     "p1", 2, salt, 8, 4096);
	fmq_scram_cred_from_password(&u[1].cred[1], FMQ_SASL_SCRAM_SHA_512,
				     "p2", 2, salt, 8, 8192);
	fmq_scram_cred_from_password(&u[2].cred[1], FMQ_SASL_SCRAM_SHA_512,
				     "zz", 2, salt, 8, 4096);
	db = fmq_scram_db_new(u, 3);
	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(db->n == 2);
	CU_ASSERT(fmq_scram_db_find(db, "zed", 3)->cred[1].set);
	CU_ASSERT(!fmq_scram_db_find(db, "zed", 3)->cred[0].set);
	CU_ASSERT(fmq_scram_db_find(db, "ze", 2) == NULL);
	CU_ASSERT(fmq_scram_db_save(db, path) == 0);
	CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	db2 = fmq_scram_db_load(path, err, sizeof(err));
	CU_ASSERT_FATAL(db2 != NULL);
	CU_ASSERT(db2->n == 2);
	CU_ASSERT(memcmp(db->users, db2->users, sizeof(db->users[0]) * 2) == 0);
	CU_ASSERT(fmq_scram_cred_check(&fmq_scram_db_find(db2, "alice smith",
		11)->cred[1], FMQ_SASL_SCRAM_SHA_512, "p2", 2));
	fmq_sec_part_put(&db2->part);
	/* A bad line names its number. */
	FILE *f = fopen(path, "a");
	fputs("SCRAM-SHA-256 100 YWJj YWJj YWJj bob\n", f);
	fclose(f);
	CU_ASSERT(fmq_scram_db_load(path, err, sizeof(err)) == NULL);
	CU_ASSERT(strstr(err, ":5:") != NULL);
	CU_ASSERT(strstr(err, "iterations") != NULL);
	fmq_sec_part_put(&db->part);
	unlink(path);
	rmdir(dir);
}

static void
test_spec(void)
{
	char name[300], err[256];
	enum fmq_sasl_mech m;
	struct fmq_scram_cred c;

	CU_ASSERT(fmq_scram_parse_spec("SCRAM-SHA-256=[name=alice,password="
		"alice-secret]", name, sizeof(name), &m, &c, err,
		sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(name, "alice");
	CU_ASSERT(m == FMQ_SASL_SCRAM_SHA_256 && c.iterations == 4096 &&
		  c.salt_len == 32);
	CU_ASSERT(fmq_scram_cred_check(&c, m, "alice-secret", 12));
	CU_ASSERT(fmq_scram_parse_spec("SCRAM-SHA-512=[name=\"b,o]b\","
		"password=\"x,y\",iterations=8192,salt=\"c2FsdA==\"]", name,
		sizeof(name), &m, &c, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(name, "b,o]b");
	CU_ASSERT(m == FMQ_SASL_SCRAM_SHA_512 && c.iterations == 8192 &&
		  c.salt_len == 4 && memcmp(c.salt, "salt", 4) == 0);
	CU_ASSERT(fmq_scram_cred_check(&c, m, "x,y", 3));
	/* Kafka's saltedpassword form. */
	{
		uint8_t sp[32];
		char sp64[64], spec[256];
		PKCS5_PBKDF2_HMAC("pw", 2, (const uint8_t *)"salt", 4, 4096,
				  EVP_sha256(), 32, sp);
		fmq_b64_enc(sp, 32, sp64, sizeof(sp64));
		snprintf(spec, sizeof(spec), "SCRAM-SHA-256=[name=x,salt="
			 "\"c2FsdA==\",saltedpassword=\"%s\"]", sp64);
		CU_ASSERT(fmq_scram_parse_spec(spec, name, sizeof(name), &m,
					       &c, err, sizeof(err)) == 0);
		CU_ASSERT(fmq_scram_cred_check(&c, m, "pw", 2));
	}
	static const char *const bad[] = {
		"SCRAM-SHA-1=[name=a,password=b]",
		"SCRAM-SHA-256=[name=a,password=b,iterations=4095]",
		"SCRAM-SHA-256=[name=a,password=b,iterations=16385]",
		"SCRAM-SHA-256=[name=a,password=b",
		"SCRAM-SHA-256=[name=a]",
		"SCRAM-SHA-256=[password=b]",
		"SCRAM-SHA-256=[name=a,pass=b]",
		"SCRAM-SHA-256=[name=a,password=b]x",
		"SCRAM-SHA-256=[name=a,password=b,salt=!!]",
		"SCRAM-SHA-256=name=a,password=b",
		NULL,
	};
	for (int i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		CU_ASSERT(fmq_scram_parse_spec(bad[i], name, sizeof(name), &m,
					       &c, err, sizeof(err)) < 0);
		CU_ASSERT(err[0] != '\0');
	}
}

/* ---------------------------------------------------------- OAUTHBEARER */

static void
b64url(const void *in, size_t n, char *out, size_t cap)
{
	int l = fmq_b64_enc(in, n, out, cap);

	for (int i = 0; i < l; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=') {
			out[i] = '\0';
			break;
		}
	}
}

/* "n,,\x01auth=Bearer <jwt>\x01\x01" signed with k (NULL: alg none). */
static size_t
oauth_msg(char *out, size_t cap, EVP_PKEY *k, const char *alg,
	  const char *kid, const char *claims, bool corrupt)
{
	char h[256], hb[512], cb[2048], sig64[1024], signing[4096];
	uint8_t sig[1024];
	size_t sl = 0;

	snprintf(h, sizeof(h), "{\"alg\":\"%s\"%s%s%s}", alg,
		 kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
	b64url(h, strlen(h), hb, sizeof(hb));
	b64url(claims, strlen(claims), cb, sizeof(cb));
	snprintf(signing, sizeof(signing), "%s.%s", hb, cb);
	sig64[0] = '\0';
	if (k != NULL) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		sl = sizeof(sig);
		CU_ASSERT_FATAL(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
						   k) == 1);
		CU_ASSERT_FATAL(EVP_DigestSign(md, sig, &sl,
			(const uint8_t *)signing, strlen(signing)) == 1);
		EVP_MD_CTX_free(md);
		if (strcmp(alg, "ES256") == 0) {
			/* DER to r || s */
			const uint8_t *p = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
			uint8_t rs[64];
			BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
			ECDSA_SIG_free(es);
			memcpy(sig, rs, 64);
			sl = 64;
		}
		if (corrupt)
			sig[sl / 2] ^= 0x40;
		b64url(sig, sl, sig64, sizeof(sig64));
	}
	return (size_t)snprintf(out, cap, "n,,\x01" "auth=Bearer %s.%s\x01\x01",
				signing, sig64);
}

static int
oauth(const struct fmq_oauth_conf *oc, const char *msg, size_t len,
      int64_t now_ms, struct fmq_sasl_sess *s)
{
	struct fmq_sasl_conf conf = { .enabled = all_conf.enabled,
				      .oauth = oc };

	fmq_sasl_start(s, FMQ_SASL_OAUTHBEARER);
	return fmq_sasl_step(s, &conf, NULL, (const uint8_t *)msg, len,
			     now_ms);
}

static void
oc_init(struct fmq_oauth_conf *oc)
{
	memset(oc, 0, sizeof(*oc));
	oc->clock_skew_ms = 30000;
	strcpy(oc->sub_claim, "sub");
	strcpy(oc->scope_claim, "scope");
}

static void
test_oauth_unsecured(void)
{
	struct fmq_oauth_conf oc;
	struct fmq_sasl_sess s;
	char m[4096];
	const int64_t now = 1700000000000;
	size_t n;

	oc_init(&oc);
	n = oauth_msg(m, sizeof(m), NULL, "none", NULL, "{\"sub\":\"alice\","
		      "\"iat\":1700000000,\"exp\":1700003600,\"scope\":"
		      "\"read write\"}", false);
	/* Refused while unsecured tokens are off. */
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	oc.unsecured = true;
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	CU_ASSERT_STRING_EQUAL(s.user, "alice");
	CU_ASSERT(s.expires_ms == 1700003600000);
	/* Expired (past the skew), iat in the future. */
	CU_ASSERT(oauth(&oc, m, n, 1700003600000 + 30001, &s) ==
		  FMQ_SASL_FAIL);
	CU_ASSERT(oauth(&oc, m, n, 1700000000000 - 60000, &s) ==
		  FMQ_SASL_FAIL);
	/* Scopes. */
	strcpy(oc.required_scope, "write");
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	strcpy(oc.required_scope, "write admin");
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	oc.required_scope[0] = '\0';
	/* No exp, no sub, a signature with alg none, truncated messages. */
	n = oauth_msg(m, sizeof(m), NULL, "none", NULL, "{\"sub\":\"a\"}",
		      false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	n = oauth_msg(m, sizeof(m), NULL, "none", NULL,
		      "{\"exp\":1700003600}", false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	n = oauth_msg(m, sizeof(m), NULL, "none", NULL, "{\"sub\":\"alice\","
		      "\"exp\":1700003600}", false);
	for (size_t k = 0; k < n; k++)
		CU_ASSERT(oauth(&oc, m, k, now, &s) == FMQ_SASL_FAIL);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	{
		static const char abc[] = "n,,\x01" "auth=Bearer a.b.c\x01\x01";
		CU_ASSERT(oauth(&oc, abc, sizeof(abc) - 1, now, &s) ==
			  FMQ_SASL_FAIL);
	}
	/* Malformed claims: a nested object cut inside a key (found by
	 * fuzz_sasl), exp out of range, NaN. */
	static const char *const badc[] = {
		"{\"sub\":\"alice\",\"exp\":1700003600,\"x\":{\"y",
		"{\"sub\":\"alice\",\"exp\":1e300}",
		"{\"sub\":\"alice\",\"exp\":-5}",
		"{\"sub\":\"alice\",\"exp\":nan}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"iat\":1e300}",
		"{\"sub\":\"al\\u0069ce\",\"exp\":1700003600}",
		"[1,2]", "", "{", NULL,
	};
	for (int i = 0; badc[i] != NULL; i++) {
		n = oauth_msg(m, sizeof(m), NULL, "none", NULL, badc[i], false);
		CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	}
	CU_ASSERT(oauth(NULL, m, n, now, &s) == FMQ_SASL_FAIL);
}

static void
put_bn_b64url(EVP_PKEY *k, const char *param, size_t pad, char *out,
	      size_t cap)
{
	BIGNUM *bn = NULL;
	uint8_t b[600];
	int l;

	CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(k, param, &bn) == 1);
	l = pad > 0 ? BN_bn2binpad(bn, b, (int)pad) : BN_bn2bin(bn, b);
	b64url(b, (size_t)l, out, cap);
	BN_free(bn);
}

static void
test_oauth_signed(void)
{
	char dir[] = "/tmp/fmq-oauth-XXXXXX", pem[128], jwks[128], err[256];
	char m[8192], n64[600], e64[16], x64[64], y64[64], url[160];
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct fmq_oauth_conf oc;
	struct fmq_sasl_sess s;
	const int64_t now = 1700000000000;
	const char *claims = "{\"sub\":\"svc-1\",\"exp\":1700003600,"
		"\"iss\":\"https://idp\",\"aud\":[\"kafka\",\"x\"]}";
	size_t n;
	FILE *f;

	CU_ASSERT_FATAL(rsa != NULL && ec != NULL && ec2 != NULL);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(pem, sizeof(pem), "%s/rsa.pem", dir);
	snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
	f = fopen(pem, "w");
	PEM_write_PUBKEY(f, rsa);
	fclose(f);
	put_bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n64, sizeof(n64));
	put_bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e64, sizeof(e64));
	put_bn_b64url(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x64, sizeof(x64));
	put_bn_b64url(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y64, sizeof(y64));
	f = fopen(jwks, "w");
	fprintf(f, "{\"keys\": [ {\"kty\":\"EC\",\"use\":\"sig\",\"crv\":"
		"\"P-256\",\"kid\":\"ec-1\",\"x\":\"%s\",\"y\":\"%s\"},\n"
		"{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"n\":\"%s\",\"e\":\"%s\","
		"\"alg\":\"RS256\"} ]}\n", x64, y64, n64, e64);
	fclose(f);

	/* RS256 against the PEM key. */
	oc_init(&oc);
	CU_ASSERT_FATAL(fmq_oauth_conf_load_keys(&oc, pem, NULL, err,
						 sizeof(err)) == 0);
	n = oauth_msg(m, sizeof(m), rsa, "RS256", NULL, claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	CU_ASSERT_STRING_EQUAL(s.user, "svc-1");
	n = oauth_msg(m, sizeof(m), rsa, "RS256", NULL, claims, true);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	/* alg none refused when unsecured is off, even with a key. */
	n = oauth_msg(m, sizeof(m), NULL, "none", NULL, claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	/* An ES256 token and no EC key. */
	n = oauth_msg(m, sizeof(m), ec, "ES256", NULL, claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	/* Issuer and audience. */
	n = oauth_msg(m, sizeof(m), rsa, "RS256", NULL, claims, false);
	strcpy(oc.expected_issuer, "https://idp");
	strcpy(oc.expected_audience, "other,kafka");
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	strcpy(oc.expected_audience, "other");
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	oc.expected_audience[0] = '\0';
	strcpy(oc.expected_issuer, "https://evil");
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	fmq_oauth_conf_free(&oc);

	/* The JWKS: ES256 and RS256 by kid. */
	oc_init(&oc);
	snprintf(url, sizeof(url), "file://%s", jwks);
	CU_ASSERT_FATAL(fmq_oauth_conf_load_keys(&oc, NULL, url, err,
						 sizeof(err)) == 0);
	CU_ASSERT(oc.n_keys == 2);
	n = oauth_msg(m, sizeof(m), ec, "ES256", "ec-1", claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	n = oauth_msg(m, sizeof(m), ec, "ES256", "ec-1", claims, true);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	n = oauth_msg(m, sizeof(m), ec2, "ES256", "ec-1", claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	n = oauth_msg(m, sizeof(m), rsa, "RS256", "rsa-1", claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_OK);
	n = oauth_msg(m, sizeof(m), rsa, "RS256", "ec-1", claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	/* HS256 (a shared secret) is not accepted. */
	n = oauth_msg(m, sizeof(m), NULL, "HS256", NULL, claims, false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	/* Expired signed token. */
	n = oauth_msg(m, sizeof(m), rsa, "RS256", "rsa-1", "{\"sub\":\"a\","
		      "\"exp\":1600000000}", false);
	CU_ASSERT(oauth(&oc, m, n, now, &s) == FMQ_SASL_FAIL);
	fmq_oauth_conf_free(&oc);
	CU_ASSERT(fmq_oauth_conf_load_keys(&oc, NULL, "https://idp/jwks", err,
					   sizeof(err)) < 0);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);
	unlink(pem);
	unlink(jwks);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sasl", NULL, NULL);
	CU_add_test(s, "base64", test_b64);
	CU_add_test(s, "mechanism names", test_mech_names);
	CU_add_test(s, "SCRAM-SHA-256 RFC 7677 vector", test_scram_rfc7677);
	CU_add_test(s, "SCRAM wrong proof, nonce, replay, authzid",
		    test_scram_wrong_proof_and_nonce);
	CU_add_test(s, "SCRAM-SHA-512 and librdkafka's nonce",
		    test_scram_sha512_and_librdkafka);
	CU_add_test(s, "SCRAM escaped names", test_scram_escaped_names);
	CU_add_test(s, "SCRAM truncated and oversized",
		    test_scram_truncated_oversized);
	CU_add_test(s, "PLAIN", test_plain);
	CU_add_test(s, "credentials file", test_store_file);
	CU_add_test(s, "--add-scram spec", test_spec);
	CU_add_test(s, "OAUTHBEARER unsecured", test_oauth_unsecured);
	fmq_test_slow(CU_add_test(s, "OAUTHBEARER RS256 and ES256",
				  test_oauth_signed));
	return fmq_test_run(argc, argv);
}
