/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the SASL gate of a SASL_PLAINTEXT listener
 * (lib/broker/broker_sasl.c) on the whole broker (kclient.c), fed request
 * streams on a fresh connection per input.
 *
 * Input: records of [flags u8][len u16 BE][len bytes]; each becomes a
 * frame (size prefix added) whose correlation id the harness replaces by
 * the record's index, so every answer names the request it answers.
 * flags bit 0: one byte per segment. The broker is pumped after every
 * frame. The store holds user "u" with password "p" (PLAIN "\0u\0p" logs
 * in: the fuzzer may find it).
 *
 * The property (abort when broken), beside the sanitizers' findings:
 * until a PLAIN SaslAuthenticate succeeded, the broker answers nothing
 * but ApiVersions, SaslHandshake and SaslAuthenticate, and a request of
 * any other API leaves the connection closed. After a successful
 * SaslHandshake v0 the answers are raw tokens, which carry no correlation
 * id: the check stops there (the sanitizers go on). The broker must also
 * keep answering ApiVersions on a new connection after every input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_sasl.h"
#include "kclient.h"
#include "net_test_util.h"

#define MAX_REQ 4096

static struct kb kb;
static struct kb *k = &kb;
static int ready;
static char creds[128];

static void
stop_broker(void)
{
	if (ready) {
		ready = 0;
		kb_stop(k);
		unlink(creds);
	}
}

static char *fuzz_argv[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t salt[] = "fuzz-gate";
	struct fmq_scram_user u;
	struct fmq_scram_db *db;
	static char cf[200];
	const char *settings[] = {
		"listeners=SASL_PLAINTEXT://:9092",
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
		"auto.create.topics.enable=false",
		cf, NULL,
	};

	/* As fuzz_broker_stream: state outlives inputs on purpose. */
	if (*argc < (int)(sizeof(fuzz_argv) / sizeof(fuzz_argv[0])) - 2) {
		for (int i = 0; i < *argc; i++)
			fuzz_argv[i] = (*argv)[i];
		fuzz_argv[*argc] = (char *)"-detect_leaks=0";
		fuzz_argv[*argc + 1] = NULL;
		*argc += 1;
		*argv = fuzz_argv;
	}
	memset(&u, 0, sizeof(u));
	strcpy(u.name, "u");
	u.name_len = 1;
	if (fmq_scram_cred_from_password(&u.cred[0], FMQ_SASL_SCRAM_SHA_256,
					 "p", 1, salt, 9, 4096) < 0)
		abort();
	db = fmq_scram_db_new(&u, 1);
	snprintf(creds, sizeof(creds), "/tmp/fmq-fuzz-gate-%d", (int)getpid());
	if (db == NULL || fmq_scram_db_save(db, creds) < 0)
		abort();
	fmq_sec_part_put(&db->part);
	snprintf(cf, sizeof(cf), "sasl.credentials.file=%s", creds);
	if (nt_eal_init() < 0)
		abort();
	fmq_log_set_level(FMQ_LOG_ERR);
	if (kb_start(k, 1, settings) < 0)
		abort();
	ready = 1;
	atexit(stop_broker);
	return 0;
}

static void
still_serving(void)
{
	static const uint8_t req[] = { 0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 9,
				       0, 0 };
	struct kc *c = kc_open(k);
	int32_t corr;
	const uint8_t *b;
	size_t len;

	if (c == NULL)
		abort();
	kc_send(k, c, req, sizeof(req));
	if (kc_wait(k, c, &corr, &b, &len) != 1 || corr != 9) {
		fprintf(stderr, "the broker stopped answering\n");
		abort();
	}
	kc_reset(k, c);
	kb_pump(k);
	kc_release(c);
}

static bool
allowed(int16_t api)
{
	return api == 17 || api == 18 || api == 36;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[4 + 65535];
	static int16_t api[MAX_REQ], ver[MAX_REQ];
	static bool plain[MAX_REQ];
	struct kc *c;
	size_t pos = 0;
	uint32_t n = 0;
	bool authed = false, raw = false, plain_hs = false;

	if (!ready || size < 3)
		return 0;
	c = kc_open(k);
	if (c == NULL)
		abort();
	while (pos + 3 <= size && !kc_closed(c) && n < MAX_REQ) {
		uint8_t flags = data[pos];
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
		int32_t corr;
		const uint8_t *b;
		size_t blen;
		int r;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		frame[0] = 0;
		frame[1] = 0;
		frame[2] = (uint8_t)(len >> 8);
		frame[3] = (uint8_t)len;
		memcpy(frame + 4, data + pos, len);
		pos += len;
		api[n] = len >= 2 ? (int16_t)(frame[4] << 8 | frame[5]) : -1;
		ver[n] = len >= 4 ? (int16_t)(frame[6] << 8 | frame[7]) : -1;
		/* A SaslHandshake naming PLAIN (its last bytes). */
		plain[n] = api[n] == 17 && len >= 13 &&
			memcmp(frame + 4 + len - 5, "PLAIN", 5) == 0;
		if (len >= 8) {
			frame[8] = (uint8_t)(n >> 24);
			frame[9] = (uint8_t)(n >> 16);
			frame[10] = (uint8_t)(n >> 8);
			frame[11] = (uint8_t)n;
		}
		if (flags & 1) {
			for (size_t i = 0; i < len + 4 && !kc_closed(c); i++)
				kc_inject(k, c, frame + i, 1);
		} else {
			kc_inject(k, c, frame, len + 4);
		}
		kb_pump(k);
		while (!raw && (r = kc_recv(k, c, &corr, &b, &blen)) == 1) {
			int16_t a, err;

			if (corr < 0 || (uint32_t)corr > n)
				abort();   /* not a request of ours */
			a = api[corr];
			if (!authed && !allowed(a)) {
				fprintf(stderr, "API %d answered before "
					"authentication\n", a);
				abort();
			}
			err = blen >= 2 ? (int16_t)(b[0] << 8 | b[1]) : -1;
			if (a == 17 && err == 0) {
				plain_hs = plain[corr];
				/* v0: raw tokens follow, no correlation ids. */
				if (ver[corr] == 0)
					raw = true;
			}
			if (a == 36 && err == 0 && plain_hs)
				authed = true;
		}
		if (!authed && !raw && !allowed(api[n]) && !kc_closed(c)) {
			kb_pump(k);
			if (!kc_closed(c)) {
				fprintf(stderr, "API %d before authentication "
					"left the connection open\n", api[n]);
				abort();
			}
		}
		n++;
	}
	kb_pump(k);
	kb_advance(k, 3);
	kc_reset(k, c);
	kb_pump(k);
	kc_release(c);
	still_serving();
	return 0;
}
