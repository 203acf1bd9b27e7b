/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for lib/sec/tls.c: keys and certificates made in memory
 * (a CA, a server and clients, ECDSA P-256 or RSA-2048), written as PEM
 * files under a temporary directory, and an OpenSSL client wired to a
 * server session through memory (no sockets).
 */
#ifndef TLS_PAIR_H
#define TLS_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fmq_tls.h"
#include "fmq_util.h"

/* PEM files made once per program under a temporary directory. */
struct tls_files {
	char dir[64];
	char ca[96];          /* CA certificate */
	char server[96];      /* server key + certificate (ECDSA) */
	char server_rsa[96];  /* server key + certificate (RSA-2048) */
	char other_key[96];   /* a key that matches no certificate */
	char mismatch[96];    /* server certificate + other_key */
	char client[96];      /* client key + cert, CN=alice,OU=eng,O=acme */
	char rogue[96];       /* client cert from another CA */
};
/* Make the files; 0 or -1. */
int tls_files_make(struct tls_files *f);
void tls_files_remove(const struct tls_files *f);

/* Config with the server keystore set (defaults otherwise). */
void tls_cfg(struct fmq_config *cfg, const struct tls_files *f);

/* A growable byte buffer, the server session's out callback target. */
struct tbuf {
	uint8_t *p;
	size_t len, cap;
	bool fail;            /* refuse every write (out of buffers) */
};
int tbuf_out(void *arg, const uint8_t *p, size_t len);
void tbuf_reset(struct tbuf *b);

/* A client SSL with memory BIOs against one server session. */
struct tls_pair {
	SSL_CTX *cctx;
	SSL *c;
	BIO *c_in, *c_out;    /* what the client reads / wrote */
	struct fmq_tls *s;
	struct tbuf s_out;    /* ciphertext the server wrote */
	uint8_t plain[65536]; /* plaintext the server decrypted */
	size_t plain_len;
	int last;             /* the server's last fmq_tls_read result */
};
/*
 * Make a client (max_ver: TLS1_2_VERSION or TLS1_3_VERSION; client_pem:
 * key + cert file or NULL) and a server session on ctx.
 */
int tls_pair_new(struct tls_pair *t, struct fmq_tls_ctx *ctx,
		 const char *ca, int max_ver, const char *client_pem);
void tls_pair_free(struct tls_pair *t);
/* Give the server the client's pending bytes (in pieces of at most
 * chunk bytes, 0: all at once) and the server's back to the client. */
int tls_pair_c2s(struct tls_pair *t, size_t chunk);
void tls_pair_s2c(struct tls_pair *t);
/* Feed the server these ciphertext bytes; returns the last read result. */
int tls_pair_feed(struct tls_pair *t, const uint8_t *p, size_t len);
/* Drive the handshake to its end (or failure): 0 when both sides are
 * done. */
int tls_pair_handshake(struct tls_pair *t, size_t chunk);
/* Take the client's pending output bytes (malloc'd). */
size_t tls_pair_take_client(struct tls_pair *t, uint8_t **out);

#endif
