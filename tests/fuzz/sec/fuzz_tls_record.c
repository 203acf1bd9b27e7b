/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS record input path of lib/sec/tls.c: whatever a client sends to
 * a TLS listener, cut into segments as TCP would hand them over.
 *
 * Input: byte 0 picks the mode (bit 0) and the version (bit 1), byte 1
 * the segment size (0: all at once), the rest is what the peer sends.
 *  - mode 0: straight into a fresh server session (handshake parsing);
 *  - mode 1: after a real handshake with an OpenSSL client and one real
 *    application record, which must decrypt exactly, then the bytes
 *    (record framing, decryption failures, post-handshake messages).
 * Never a crash or a leak; nothing decrypted before a handshake; the
 * session ends in AGAIN, CLOSED or ERROR and stays there once failed.
 */
#include <stdlib.h>
#include <string.h>

#include "tls_pair.h"

static struct tls_files files;
static struct fmq_tls_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fmq_config cfg;
	char err[512];

	(void)argc;
	(void)argv;
	if (tls_files_make(&files) < 0)
		abort();
	tls_cfg(&cfg, &files);
	ctx = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	if (ctx == NULL)
		abort();
	/* The files are read: nothing of them is needed past here. */
	tls_files_remove(&files);
	return 0;
}

static int
feed(struct tls_pair *t, const uint8_t *p, size_t n, size_t chunk)
{
	int rc = FMQ_TLS_AGAIN;

	for (size_t off = 0; off < n;) {
		size_t k = chunk == 0 || n - off < chunk ? n - off : chunk;

		rc = tls_pair_feed(t, p + off, k);
		if (rc < 0)
			break;
		off += k;
	}
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "a real request first";
	struct tls_pair t;
	int ver, rc;
	size_t chunk;

	if (size < 2)
		return 0;
	ver = data[0] & 2 ? TLS1_2_VERSION : TLS1_3_VERSION;
	chunk = data[1];
	if (tls_pair_new(&t, ctx, NULL, ver, NULL) < 0)
		abort();
	SSL_set_verify(t.c, SSL_VERIFY_NONE, NULL);
	if (data[0] & 1) {
		uint8_t *rec;
		size_t len;

		if (tls_pair_handshake(&t, 0) < 0)
			abort();
		SSL_write(t.c, msg, sizeof(msg) - 1);
		len = tls_pair_take_client(&t, &rec);
		t.plain_len = 0;
		rc = feed(&t, rec, len, chunk);
		free(rec);
		if (rc != FMQ_TLS_AGAIN || t.plain_len != sizeof(msg) - 1 ||
		    memcmp(t.plain, msg, t.plain_len) != 0)
			abort();
	}
	t.plain_len = 0;
	rc = feed(&t, data + 2, size - 2, chunk);
	if (!fmq_tls_established(t.s) && t.plain_len != 0)
		abort();   /* plaintext out of a handshake that never ended */
	if (rc == FMQ_TLS_ERROR && tls_pair_feed(&t, data, 1) != FMQ_TLS_ERROR)
		abort();   /* a failed session must stay failed */
	tls_pair_free(&t);
	return 0;
}
