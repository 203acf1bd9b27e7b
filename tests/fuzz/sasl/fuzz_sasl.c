/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the SASL session state machine (lib/sec: sasl.c,
 * plain.c, scram.c, oauth.c) fed any sequence of client tokens.
 *
 * Input: byte 0 picks the mechanism (mod 4) and whether unsecured
 * OAUTHBEARER tokens are allowed (bit 2); then records of
 * [len u16 BE][len bytes], each one client token. The store holds
 * "alice" (SCRAM-SHA-256, password "pw") and "b,o=b" (SCRAM-SHA-512,
 * "pw"); the OAUTHBEARER settings have no key.
 *
 * Invariants (abort on violation), beside the sanitizers' findings:
 *  - the server token fits its buffer, and no token is produced on FAIL;
 *  - once FAILED or DONE, every later token fails;
 *  - SCRAM never succeeds (the fuzzer cannot know a proof for a random
 *    server nonce); PLAIN succeeds only for a stored user with password
 *    "pw"; OAUTHBEARER only with unsecured tokens allowed (no key);
 *  - a success names a user (non-empty, NUL-terminated, no NUL inside).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_sasl.h"

static struct fmq_scram_db *db;
static struct fmq_oauth_conf oc;

static void
setup(void)
{
	static const uint8_t salt[] = "fuzz-salt";
	struct fmq_scram_user u[2];

	memset(u, 0, sizeof(u));
	strcpy(u[0].name, "alice");
	u[0].name_len = 5;
	strcpy(u[1].name, "b,o=b");
	u[1].name_len = 5;
	if (fmq_scram_cred_from_password(&u[0].cred[0], FMQ_SASL_SCRAM_SHA_256,
					 "pw", 2, salt, 9, 4096) < 0 ||
	    fmq_scram_cred_from_password(&u[1].cred[1], FMQ_SASL_SCRAM_SHA_512,
					 "pw", 2, salt, 9, 4096) < 0)
		abort();
	db = fmq_scram_db_new(u, 2);
	if (db == NULL)
		abort();
	oc.clock_skew_ms = 30000;
	strcpy(oc.sub_claim, "sub");
	strcpy(oc.scope_claim, "scope");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fmq_sasl_conf conf = { .enabled = (1u << FMQ_SASL_MECH_MAX) - 1,
				      .oauth = &oc };
	struct fmq_sasl_sess s;
	enum fmq_sasl_mech m;
	size_t off = 1;
	bool ended = false;

	if (db == NULL)
		setup();
	if (size < 1)
		return 0;
	m = (enum fmq_sasl_mech)(data[0] & 3);
	oc.unsecured = (data[0] & 4) != 0;
	fmq_sasl_start(&s, m);
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		int rc;

		off += 2;
		if (len > size - off)
			len = size - off;
		rc = fmq_sasl_step(&s, &conf, db, data + off, len,
				   1700000000000);
		off += len;
		if (s.out_len > sizeof(s.out))
			abort();
		if (ended && rc != FMQ_SASL_FAIL)
			abort();
		if (rc == FMQ_SASL_FAIL) {
			if (s.out_len != 0 || s.state != FMQ_SASL_S_FAILED)
				abort();
			ended = true;
			continue;
		}
		if (rc != FMQ_SASL_OK)
			continue;
		ended = true;
		if (s.user_len == 0 || s.user_len > FMQ_SCRAM_NAME_MAX ||
		    s.user[s.user_len] != '\0' ||
		    memchr(s.user, '\0', s.user_len) != NULL)
			abort();
		switch (m) {
		case FMQ_SASL_SCRAM_SHA_256:
		case FMQ_SASL_SCRAM_SHA_512:
			abort();
		case FMQ_SASL_PLAIN:
			if (fmq_scram_db_find(db, s.user, s.user_len) == NULL)
				abort();
			break;
		default:
			if (!oc.unsecured)
				abort();
			break;
		}
	}
	return 0;
}
