/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS engine of one data lcore (lib/sec/tls.c), on one core, no
 * network: what the broker's TLS path costs beside the cipher itself.
 *
 *  - encrypt: responses as the broker sends them, 16 KiB records through
 *    the session, ciphertext copied out as into mbufs (fetch);
 *  - decrypt: a client's 16 KiB records handed over in 1448-byte
 *    segments (TCP's MSS), 64 at a time as the broker does, and read into
 *    2 KiB buffers (mbufs) (produce);
 *  - handshakes: full server handshakes per second of server CPU, with an
 *    ECDSA P-256 and an RSA-2048 key (the client's share not counted).
 *
 *   fluxmq-bench-tls [--seconds S] [--suite TLS_AES_128_GCM_SHA256]
 *
 * Prints one "name value unit" line per figure (bench/tls.sh puts them
 * beside `openssl speed`).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls_pair.h"

#define REC FMQ_TLS_RECORD_MAX
#define MSS 1448
#define MBUF 2048

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ciphertext "into mbufs": copied into a ring of 2 KiB buffers. */
static uint8_t sink[1 << 20];
static size_t sink_off;

static int
sink_out(void *arg, const uint8_t *p, size_t len)
{
	(void)arg;
	while (len > 0) {
		size_t n = len < MBUF ? len : MBUF;

		if (sink_off + n > sizeof(sink))
			sink_off = 0;
		memcpy(sink + sink_off, p, n);
		sink_off += n;
		p += n;
		len -= n;
	}
	return 0;
}

static struct fmq_tls_ctx *
make_ctx(const struct tls_files *f, const char *pem, const char *suite)
{
	struct fmq_config cfg;
	struct fmq_tls_ctx *c;
	char err[512];

	tls_cfg(&cfg, f);
	snprintf(cfg.ssl_keystore_location, sizeof(cfg.ssl_keystore_location),
		 "%s", pem);
	if (suite != NULL)
		snprintf(cfg.ssl_cipher_suites, sizeof(cfg.ssl_cipher_suites),
			 "%s", suite);
	c = fmq_tls_ctx_create(&cfg, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return c;
}

static void
bench_encrypt(struct fmq_tls_ctx *ctx, const char *ca, double secs)
{
	static uint8_t plain[REC];
	static struct fmq_tls_stage st;
	struct tls_pair t;
	uint64_t bytes = 0;
	double t0, el;

	if (tls_pair_new(&t, ctx, ca, TLS1_3_VERSION, NULL) < 0 ||
	    tls_pair_handshake(&t, 0) < 0)
		exit(1);
	printf("cipher %s\n", SSL_get_cipher_name(t.c));
	fmq_tls_set_out(t.s, sink_out, NULL);
	memset(plain, 'x', sizeof(plain));
	t0 = cpu_now();
	do {
		for (int i = 0; i < 64; i++) {
			/* A response in pieces, as a fetch chain is. */
			fmq_tls_stage_add(t.s, &st, plain, 100);
			fmq_tls_stage_add(t.s, &st, plain, REC - 100);
		}
		fmq_tls_stage_flush(t.s, &st);
		bytes += 64ull * REC;
		el = cpu_now() - t0;
	} while (el < secs);
	printf("encrypt_16k %.0f MB/s\n", (double)bytes / el / 1e6);
	tls_pair_free(&t);
}

static void
bench_decrypt(struct fmq_tls_ctx *ctx, const char *ca, double secs)
{
	static uint8_t plain[REC], buf[MBUF];
	static struct iovec iov[64];
	uint64_t bytes = 0;
	double el = 0;

	memset(plain, 'y', sizeof(plain));
	while (el < secs) {
		struct tls_pair t;
		uint8_t *ct;
		size_t n;
		double t0;

		if (tls_pair_new(&t, ctx, ca, TLS1_3_VERSION, NULL) < 0 ||
		    tls_pair_handshake(&t, 0) < 0)
			exit(1);
		/* 16 MiB of records, encrypted by the client beforehand. */
		for (int i = 0; i < 1024; i++)
			SSL_write(t.c, plain, REC);
		n = tls_pair_take_client(&t, &ct);
		t0 = cpu_now();
		/* As the broker does: up to 64 segments per call. */
		for (size_t off = 0; off < n;) {
			unsigned int k = 0;
			int rc;

			for (; k < 64 && off < n; k++) {
				iov[k].iov_base = ct + off;
				iov[k].iov_len = n - off < MSS ? n - off : MSS;
				off += iov[k].iov_len;
			}
			fmq_tls_inputv(t.s, iov, k);
			while ((rc = fmq_tls_read(t.s, buf, sizeof(buf))) > 0)
				bytes += (uint64_t)rc;
			if (rc < 0)
				exit(1);
		}
		el += cpu_now() - t0;
		free(ct);
		tls_pair_free(&t);
	}
	printf("decrypt_16k %.0f MB/s\n", (double)bytes / el / 1e6);
}

static void
bench_handshakes(struct fmq_tls_ctx *ctx, const char *ca, const char *name,
		 double secs)
{
	double server = 0, wall0 = cpu_now();
	uint64_t n = 0;

	while (server < secs && cpu_now() - wall0 < secs * 6) {
		struct tls_pair t;
		uint8_t *p;
		size_t len;
		double t0;

		if (tls_pair_new(&t, ctx, ca, TLS1_3_VERSION, NULL) < 0)
			exit(1);
		/* Client flights are made outside the timed part. */
		for (int i = 0; i < 4 && !fmq_tls_established(t.s); i++) {
			SSL_do_handshake(t.c);
			len = tls_pair_take_client(&t, &p);
			t0 = cpu_now();
			tls_pair_feed(&t, p, len);
			server += cpu_now() - t0;
			free(p);
			tls_pair_s2c(&t);
		}
		if (!fmq_tls_established(t.s))
			exit(1);
		n++;
		tls_pair_free(&t);
	}
	printf("handshakes_%s %.0f per_s_server_cpu\n", name,
	       (double)n / server);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "suite", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *suite = "TLS_AES_128_GCM_SHA256";
	double secs = 2;
	struct tls_files f;
	struct fmq_tls_ctx *ec, *rsa;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 's')
			secs = atof(optarg);
		else if (o == 'c')
			suite = optarg;
		else
			return 2;
	}
	if (tls_files_make(&f) < 0)
		return 1;
	ec = make_ctx(&f, f.server, suite);
	rsa = make_ctx(&f, f.server_rsa, suite);
	bench_encrypt(ec, f.ca, secs);
	bench_decrypt(ec, f.ca, secs);
	bench_handshakes(ec, f.ca, "ecdsa_p256", secs);
	bench_handshakes(rsa, f.ca, "rsa_2048", secs);
	fmq_tls_ctx_put(ec);
	fmq_tls_ctx_put(rsa);
	tls_files_remove(&f);
	return 0;
}
