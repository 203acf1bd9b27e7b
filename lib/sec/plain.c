/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PLAIN (RFC 4616): one token "[authzid] NUL authcid NUL passwd". As in
 * Kafka, an authzid other than the user name fails (kafka-python sends
 * authzid = user name, librdkafka an empty one). The password is checked
 * against the user's SCRAM-SHA-256 entry, else its SCRAM-SHA-512 entry:
 * PBKDF2 with that salt and iteration count, StoredKey compared in
 * constant time (about a millisecond of CPU at 4096 iterations, once per
 * connection).
 */
#include <string.h>

#include "fmq_sasl.h"

int
fmq_sasl_plain_step(struct fmq_sasl_sess *s, const struct fmq_scram_db *db,
		    const uint8_t *in, size_t len)
{
	const char *p = (const char *)in, *z1, *z2, *user, *pw;
	size_t zlen, ulen, plen;
	const struct fmq_scram_user *u;

	z1 = memchr(p, '\0', len);
	if (z1 == NULL)
		goto malformed;
	z2 = memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - p));
	if (z2 == NULL)
		goto malformed;
	zlen = (size_t)(z1 - p);
	user = z1 + 1;
	ulen = (size_t)(z2 - user);
	pw = z2 + 1;
	plen = len - (size_t)(pw - p);
	if (memchr(pw, '\0', plen) != NULL || ulen == 0 || plen == 0)
		goto malformed;
	if (zlen > 0 && (zlen != ulen || memcmp(p, user, ulen) != 0)) {
		snprintf(s->fail, sizeof(s->fail), "authzid is not the user");
		return FMQ_SASL_FAIL;
	}
	if (ulen > FMQ_SCRAM_NAME_MAX) {
		snprintf(s->fail, sizeof(s->fail), "user name too long");
		return FMQ_SASL_FAIL;
	}
	u = fmq_scram_db_find(db, user, ulen);
	if (u == NULL) {
		snprintf(s->fail, sizeof(s->fail), "unknown user");
		return FMQ_SASL_FAIL;
	}
	{
		enum fmq_sasl_mech m = u->cred[0].set ?
			FMQ_SASL_SCRAM_SHA_256 : FMQ_SASL_SCRAM_SHA_512;
		const struct fmq_scram_cred *c = &u->cred[fmq_scram_idx(m)];

		if (!c->set || !fmq_scram_cred_check(c, m, pw, plen)) {
			snprintf(s->fail, sizeof(s->fail), "wrong password");
			return FMQ_SASL_FAIL;
		}
	}
	memcpy(s->user, user, ulen);
	s->user[ulen] = '\0';
	s->user_len = (uint16_t)ulen;
	s->out_len = 0;
	return FMQ_SASL_OK;
malformed:
	snprintf(s->fail, sizeof(s->fail), "malformed PLAIN token");
	return FMQ_SASL_FAIL;
}
