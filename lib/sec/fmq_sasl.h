/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SASL server mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (RFC 5802,
 * RFC 7677, as Apache Kafka speaks them) and OAUTHBEARER (RFC 7628 with
 * unsecured or RS256/ES256 signed JWTs), and the SCRAM credential store.
 *
 * A session (struct fmq_sasl_sess) is a fixed-size struct stepped with one
 * client token at a time; it allocates nothing. The credential store
 * (struct fmq_scram_db) is an immutable part of the security snapshot
 * (fmq_sec.h): the control lcore builds a new one for every change and the
 * data lcores read the one their metadata snapshot carries, with no lock.
 * PLAIN checks a password against the user's SCRAM-SHA-256 (else -512)
 * entry: no clear password is ever stored.
 */
#ifndef FMQ_SASL_H
#define FMQ_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fmq_sec.h"

/** The mechanisms, in the order of their bits in an enabled mask. */
enum fmq_sasl_mech {
	FMQ_SASL_PLAIN = 0,
	FMQ_SASL_SCRAM_SHA_256,
	FMQ_SASL_SCRAM_SHA_512,
	FMQ_SASL_OAUTHBEARER,
	FMQ_SASL_MECH_MAX,
};

/** "PLAIN", "SCRAM-SHA-256", ...; "?" when out of range. */
const char *fmq_sasl_mech_name(enum fmq_sasl_mech m);
/** The mechanism named (exact case, as Kafka); -1 when unknown. */
int fmq_sasl_mech_parse(const char *s, size_t len);
/** Parse a comma-separated list of mechanism names into a bit mask;
 * -1 when one is unknown (its name is copied into bad). */
int fmq_sasl_mechs_parse(const char *list, uint32_t *mask, char *bad,
			 size_t badlen);

/* ------------------------------------------------------------- SCRAM */

/** SCRAM mechanism codes of the credential APIs (Kafka's ScramMechanism). */
#define FMQ_SCRAM_KAFKA_UNKNOWN 0
#define FMQ_SCRAM_KAFKA_SHA_256 1
#define FMQ_SCRAM_KAFKA_SHA_512 2

/** Iteration bounds (Kafka: 4096 minimum; KafkaJS refuses fewer). */
#define FMQ_SCRAM_ITER_MIN 4096
#define FMQ_SCRAM_ITER_MAX 16384
/** Longest user name (a principal is "User:" + name). */
#define FMQ_SCRAM_NAME_MAX (FMQ_PRINCIPAL_MAX - 6)
#define FMQ_SCRAM_SALT_MAX 64
#define FMQ_SCRAM_KEY_MAX 64

/** One user's credential for one SCRAM mechanism (Kafka's ScramCredential). */
struct fmq_scram_cred {
	bool set;
	uint8_t salt_len;
	uint32_t iterations;
	uint8_t salt[FMQ_SCRAM_SALT_MAX];
	uint8_t stored_key[FMQ_SCRAM_KEY_MAX];  /**< H(ClientKey) */
	uint8_t server_key[FMQ_SCRAM_KEY_MAX];  /**< HMAC(SaltedPassword, "Server Key") */
};

/** A user and its credentials; index 0 is SHA-256, 1 is SHA-512. */
struct fmq_scram_user {
	uint16_t name_len;
	char name[FMQ_SCRAM_NAME_MAX + 1];
	struct fmq_scram_cred cred[2];
};

/** The credential store: users sorted by name, immutable once built. */
struct fmq_scram_db {
	struct fmq_sec_part part;  /**< must be first */
	uint32_t n;
	struct fmq_scram_user users[];
};

/** Index (0 or 1) of a SCRAM mechanism's credential; -1 for others. */
static inline int
fmq_scram_idx(enum fmq_sasl_mech m)
{
	return m == FMQ_SASL_SCRAM_SHA_256 ? 0 :
		m == FMQ_SASL_SCRAM_SHA_512 ? 1 : -1;
}

/** Digest length of a SCRAM mechanism: 32 or 64 (0 for others). */
size_t fmq_scram_hlen(enum fmq_sasl_mech m);

/**
 * A new store holding a copy of users[0..n) (sorted here; a name given
 * twice keeps the last), one reference; NULL with errno ENOMEM.
 */
struct fmq_scram_db *fmq_scram_db_new(const struct fmq_scram_user *users,
				      uint32_t n);
/** The user named (len bytes) or NULL; db may be NULL. */
const struct fmq_scram_user *fmq_scram_db_find(const struct fmq_scram_db *db,
					       const char *name, size_t len);

/**
 * Fill c from a salted password (Hi(password, salt, i)): StoredKey and
 * ServerKey. Returns 0, or -EINVAL on a bad mechanism, salt length or
 * salted password length.
 */
int fmq_scram_cred_from_salted(struct fmq_scram_cred *c,
			       enum fmq_sasl_mech m, const uint8_t *salt,
			       size_t salt_len, uint32_t iterations,
			       const uint8_t *salted, size_t salted_len);
/** Fill c from a password: PBKDF2 with salt and iterations. -EINVAL as
 * above, -EIO when libcrypto fails. */
int fmq_scram_cred_from_password(struct fmq_scram_cred *c,
				 enum fmq_sasl_mech m, const char *pw,
				 size_t pw_len, const uint8_t *salt,
				 size_t salt_len, uint32_t iterations);
/** Does password pw match c (derive, compare StoredKey in constant time)? */
bool fmq_scram_cred_check(const struct fmq_scram_cred *c,
			  enum fmq_sasl_mech m, const char *pw, size_t pw_len);

/**
 * Load a credentials file into a new store (one reference). A missing file
 * gives an empty store. NULL with a message in err on a bad line (its
 * number named) or an unreadable file.
 */
struct fmq_scram_db *fmq_scram_db_load(const char *path, char *err,
				       size_t errlen);
/**
 * Write db to path atomically (a temporary file with mode 0600, fsync,
 * rename, fsync of the directory). 0 or -errno.
 */
int fmq_scram_db_save(const struct fmq_scram_db *db, const char *path);

struct fmq_config;
/** The credentials file: sasl.credentials.file, or when empty
 * <first log dir>/__fluxmq/scram-credentials. */
void fmq_scram_db_path(const struct fmq_config *cfg, char *out, size_t len);

/**
 * Add the credentials of --add-scram specs to the credentials file (made
 * with its directory when missing), as `fluxmq --add-scram` does before a
 * first start. 0, or -1 with a message in err (nothing written).
 */
int fmq_scram_add_specs(const struct fmq_config *cfg,
			const char *const *specs, int n, char *err,
			size_t errlen);

/**
 * Parse one --add-scram spec, Kafka's storage tool form:
 *   SCRAM-SHA-256=[name=alice,password=alice-secret]
 *   SCRAM-SHA-512=[name="bob",password="s=e,c",iterations=8192,salt=...]
 * (salt in base64 as Kafka's tool; random when absent; iterations 4096 by
 * default). On success *user is the name and *m and *c the credential.
 * -EINVAL with a message in err.
 */
int fmq_scram_parse_spec(const char *spec, char *name, size_t name_cap,
			 enum fmq_sasl_mech *m, struct fmq_scram_cred *c,
			 char *err, size_t errlen);

/* ------------------------------------------------------------ sessions */

/** OAUTHBEARER validation settings (sasl.oauthbearer.*). */
struct fmq_oauth_conf {
	bool unsecured;              /**< accept alg "none" tokens */
	int64_t clock_skew_ms;
	char sub_claim[64];          /**< "sub" */
	char scope_claim[64];        /**< "scope" */
	char required_scope[256];    /**< space-separated; "" none */
	char expected_issuer[256];   /**< "" any */
	char expected_audience[256]; /**< comma-separated; "" any */
	uint32_t n_keys;
	struct {
		char kid[128];           /**< "" matches any token kid */
		void *pkey;              /**< EVP_PKEY * */
	} keys[16];
};

/** Everything a session step reads besides its input. */
struct fmq_sasl_conf {
	uint32_t enabled;            /**< 1u << enum fmq_sasl_mech */
	const struct fmq_oauth_conf *oauth;  /**< NULL: no signed tokens */
};

/**
 * Load the OAUTHBEARER keys: a PEM public key file and/or a JWKS file
 * ("file:///path" or a path). 0, or -1 with a message in err.
 */
int fmq_oauth_conf_load_keys(struct fmq_oauth_conf *oc, const char *pem_path,
			     const char *jwks, char *err, size_t errlen);
void fmq_oauth_conf_free(struct fmq_oauth_conf *oc);

/** Bounds of one session's retained messages (longer input fails). */
#define FMQ_SASL_TOKEN_MAX 1024    /**< client-first-message-bare */
#define FMQ_SASL_OUT_MAX 640       /**< server-first / -final message */
/** Pre-authentication frames are capped at this (Kafka's default). */
#define FMQ_SASL_MAX_RECEIVE 524288

enum fmq_sasl_state {
	FMQ_SASL_S_START = 0,     /**< waiting for the first client token */
	FMQ_SASL_S_SCRAM_FINAL,   /**< server-first sent */
	FMQ_SASL_S_DONE,          /**< authenticated */
	FMQ_SASL_S_FAILED,
};

/** Results of fmq_sasl_step. */
#define FMQ_SASL_CONTINUE 1   /**< send out, wait for the next token */
#define FMQ_SASL_OK 0         /**< authenticated: send out (may be empty) */
#define FMQ_SASL_FAIL (-1)    /**< refuse (generic message), close */

/** One authentication exchange; fixed size, no allocation. */
struct fmq_sasl_sess {
	uint8_t mech;            /**< enum fmq_sasl_mech */
	uint8_t state;           /**< enum fmq_sasl_state */
	uint16_t user_len;
	uint16_t cfb_len, sfm_len, out_len, nonce_len;
	int64_t expires_ms;      /**< OAUTHBEARER token exp (wall ms); 0 none */
	char user[FMQ_SCRAM_NAME_MAX + 1];    /**< authenticated name */
	struct fmq_scram_cred cred;           /**< copied at client-first */
	char cfb[FMQ_SASL_TOKEN_MAX];         /**< client-first-message-bare */
	char sfm[FMQ_SASL_OUT_MAX];           /**< server-first-message */
	uint8_t out[FMQ_SASL_OUT_MAX];        /**< the token to send */
	char fail[64];           /**< why it failed (log/tests only) */
};

/** Start a session for mechanism m (must be enabled by the caller). */
void fmq_sasl_start(struct fmq_sasl_sess *s, enum fmq_sasl_mech m);

/**
 * Feed one client token. db is the current credential store (may be
 * NULL), now_ms the wall clock. On CONTINUE and OK, s->out[0..out_len)
 * is the server token to send. On OK, s->user names the principal and
 * s->expires_ms bounds the session (0: none). FAIL leaves a reason in
 * s->fail; the client gets only a generic message.
 */
int fmq_sasl_step(struct fmq_sasl_sess *s, const struct fmq_sasl_conf *conf,
		  const struct fmq_scram_db *db, const uint8_t *in,
		  size_t len, int64_t now_ms);

/* Per-mechanism steps (sasl.c dispatches). */
int fmq_sasl_plain_step(struct fmq_sasl_sess *s,
			const struct fmq_scram_db *db, const uint8_t *in,
			size_t len);
int fmq_sasl_scram_step(struct fmq_sasl_sess *s,
			const struct fmq_scram_db *db, const uint8_t *in,
			size_t len);
int fmq_sasl_oauth_step(struct fmq_sasl_sess *s,
			const struct fmq_oauth_conf *oc, const uint8_t *in,
			size_t len, int64_t now_ms);

/** Constant-time comparison of n bytes: true when equal. */
bool fmq_sec_ct_eq(const void *a, const void *b, size_t n);
/** base64 (RFC 4648, padded) of n bytes into out (cap); its length or -1. */
int fmq_b64_enc(const uint8_t *in, size_t n, char *out, size_t cap);
/** Decode base64 (url-safe alphabet too when url; padding optional);
 * the byte count or -1. */
int fmq_b64_dec(const char *in, size_t n, uint8_t *out, size_t cap, bool url);

#endif
