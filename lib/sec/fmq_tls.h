/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * TLS sessions over memory (OpenSSL 3), for TCP-lite connections.
 *
 * No kernel socket is involved: a session reads ciphertext from whatever
 * the caller points it at (the bytes of received mbufs, one segment at a
 * time) and hands the ciphertext it produces to a callback (which copies
 * it into mbufs for fmq_tcp_send). Both directions go through one custom
 * BIO that says "retry" when its input is empty, so a partial record
 * simply waits inside OpenSSL for the next segment.
 *
 * Every call drains what OpenSSL wrote while it ran (handshake flights,
 * alerts, TLS 1.3 KeyUpdate answers and session tickets) through the
 * callback before it returns, and clears the thread's error queue before
 * it starts. Apart from SSL_new at the start of a session and what
 * OpenSSL allocates during the handshake, the record path allocates
 * nothing: OpenSSL keeps its read and write buffers for the session's
 * life.
 *
 * The context (struct fmq_tls_ctx) is built from the configuration
 * (ssl.* keys) and reference counted with atomics: sessions hold one, and
 * a reload (SIGHUP) builds a new one for new connections while existing
 * sessions keep theirs.
 */
#ifndef FMQ_TLS_H
#define FMQ_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fmq_sec.h"

struct fmq_config;
struct fmq_tls_ctx;
struct fmq_tls;

/** Largest TLS plaintext record: responses are cut into records this big. */
#define FMQ_TLS_RECORD_MAX 16384

/** Protocol versions, for counters. */
enum fmq_tls_ver {
	FMQ_TLS_V12 = 0,
	FMQ_TLS_V13,
	FMQ_TLS_NVER
};
/** "TLSv1.2", "TLSv1.3". */
const char *fmq_tls_ver_name(enum fmq_tls_ver v);

/**
 * Build a server context from the ssl.* keys of cfg: key and chain
 * (ssl.keystore.*), ssl.key.password, ssl.truststore.location,
 * ssl.client.auth, ssl.enabled.protocols, ssl.cipher.suites,
 * ssl.principal.mapping.rules.
 *
 * @return
 *   The context with one reference, or NULL with err holding
 *   "src:line: key: reason" for the key at fault (fmq_config_error, so
 *   start-up exits 2).
 */
struct fmq_tls_ctx *fmq_tls_ctx_create(const struct fmq_config *cfg,
				       char *err, size_t errlen);
/** Take / drop a reference (atomic: any thread). NULL is allowed. */
void fmq_tls_ctx_get(struct fmq_tls_ctx *c);
void fmq_tls_ctx_put(struct fmq_tls_ctx *c);

/**
 * Where a session's ciphertext goes: copy len bytes out and return 0, or
 * -1 when it cannot be taken (out of buffers); the session then fails.
 */
typedef int (*fmq_tls_out_fn)(void *arg, const uint8_t *p, size_t len);

/**
 * A server session on ctx (which it references). NULL when OpenSSL is out
 * of memory.
 */
struct fmq_tls *fmq_tls_new(struct fmq_tls_ctx *ctx, fmq_tls_out_fn out,
			    void *arg);
void fmq_tls_free(struct fmq_tls *s);
/** Change where ciphertext goes (the arg the callback gets). */
void fmq_tls_set_out(struct fmq_tls *s, fmq_tls_out_fn out, void *arg);

/** fmq_tls_read results besides a byte count (> 0). */
enum {
	FMQ_TLS_AGAIN = 0,     /**< input used up: give it the next bytes */
	FMQ_TLS_CLOSED = -1,   /**< the peer sent close_notify */
	FMQ_TLS_ERROR = -2,    /**< handshake or record failure: close */
};

/**
 * Point the session at received ciphertext. The bytes must stay valid
 * until fmq_tls_read returns FMQ_TLS_AGAIN (every byte is then inside
 * OpenSSL or already decrypted) or an error.
 */
void fmq_tls_input(struct fmq_tls *s, const void *p, size_t len);
/** The same over several pieces (the segments of a received chain): the
 * array and the bytes must stay valid as for fmq_tls_input. */
void fmq_tls_inputv(struct fmq_tls *s, const struct iovec *iov,
		    unsigned int n);
/** Ciphertext given to fmq_tls_input(v) not taken yet. */
size_t fmq_tls_input_left(const struct fmq_tls *s);

/**
 * Run the handshake and decrypt: up to cap bytes of plaintext into buf.
 * Call again until it returns FMQ_TLS_AGAIN: one record may fill several
 * buffers. Whatever the session has to send meanwhile (handshake, alerts,
 * KeyUpdate) has gone to the out callback when it returns.
 *
 * @return
 *   Bytes of plaintext (> 0), FMQ_TLS_AGAIN, FMQ_TLS_CLOSED or
 *   FMQ_TLS_ERROR (an alert went out if one was due).
 */
int fmq_tls_read(struct fmq_tls *s, void *buf, size_t cap);

/** The handshake is done (after an fmq_tls_read). */
bool fmq_tls_established(const struct fmq_tls *s);
/** The version negotiated (valid once established). */
enum fmq_tls_ver fmq_tls_version(const struct fmq_tls *s);
/**
 * The principal the client's certificate maps to, once established:
 * true and *p set ("User:CN=alice,OU=eng" after mapping rules) when the
 * client sent a certificate, false when it sent none (p untouched).
 */
bool fmq_tls_peer_principal(const struct fmq_tls *s, struct fmq_principal *p);
/** Why the last FMQ_TLS_ERROR happened (OpenSSL's reason), static text. */
const char *fmq_tls_last_error(const struct fmq_tls *s);

/** Send close_notify (to the out callback) before the transport closes;
 * nothing when the handshake never finished. */
void fmq_tls_shutdown(struct fmq_tls *s);

/**
 * Encrypt len bytes as they are (records of at most FMQ_TLS_RECORD_MAX);
 * the ciphertext goes to the out callback. 0, or -1 (the callback refused
 * or the session failed: close).
 */
int fmq_tls_write(struct fmq_tls *s, const void *p, size_t len);

/**
 * Coalescing for responses made of many small segments: plaintext
 * gathered into full 16 KiB records (4 KiB records cost about a quarter
 * of the throughput). One stage per thread is enough: flush it before
 * turning to another session.
 */
struct fmq_tls_stage {
	uint32_t len;
	uint8_t buf[FMQ_TLS_RECORD_MAX];
};
/** Add plaintext; full records are encrypted at once. 0 or -1. */
int fmq_tls_stage_add(struct fmq_tls *s, struct fmq_tls_stage *st,
		      const void *p, size_t len);
/** Encrypt what is staged as the last (short) record. 0 or -1. */
int fmq_tls_stage_flush(struct fmq_tls *s, struct fmq_tls_stage *st);

#endif
