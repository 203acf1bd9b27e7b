/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SASL: the mechanism table, the session state machine that dispatches one
 * client token to its mechanism, and the small codecs they share (base64,
 * constant-time comparison).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "fmq_sasl.h"

static const char *const mech_names[FMQ_SASL_MECH_MAX] = {
	[FMQ_SASL_PLAIN] = "PLAIN",
	[FMQ_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[FMQ_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
	[FMQ_SASL_OAUTHBEARER] = "OAUTHBEARER",
};

const char *
fmq_sasl_mech_name(enum fmq_sasl_mech m)
{
	return (unsigned int)m < FMQ_SASL_MECH_MAX ? mech_names[m] : "?";
}

int
fmq_sasl_mech_parse(const char *s, size_t len)
{
	for (int i = 0; i < FMQ_SASL_MECH_MAX; i++)
		if (strlen(mech_names[i]) == len &&
		    memcmp(mech_names[i], s, len) == 0)
			return i;
	return -1;
}

int
fmq_sasl_mechs_parse(const char *list, uint32_t *mask, char *bad,
		     size_t badlen)
{
	const char *p = list;

	*mask = 0;
	while (*p != '\0') {
		size_t n;
		int m;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		m = fmq_sasl_mech_parse(p, n);
		if (m < 0) {
			if (badlen > 0)
				snprintf(bad, badlen, "%.*s", (int)n, p);
			return -1;
		}
		*mask |= 1u << m;
		p += n;
	}
	return 0;
}

bool
fmq_sec_ct_eq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
fmq_b64_enc(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if ((n + 2) / 3 * 4 + 1 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64_std[(v >> 18) & 63];
		out[o++] = b64_std[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_std[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64_std[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int
b64_val(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int
fmq_b64_dec(const char *in, size_t n, uint8_t *out, size_t cap, bool url)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i], url);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

void
fmq_sasl_start(struct fmq_sasl_sess *s, enum fmq_sasl_mech m)
{
	/* Only the header: the buffers are written before they are read. */
	s->mech = (uint8_t)m;
	s->state = FMQ_SASL_S_START;
	s->user_len = 0;
	s->user[0] = '\0';
	s->cfb_len = s->sfm_len = s->out_len = s->nonce_len = 0;
	s->expires_ms = 0;
	s->cred.set = false;
	s->fail[0] = '\0';
}

int
fmq_sasl_step(struct fmq_sasl_sess *s, const struct fmq_sasl_conf *conf,
	      const struct fmq_scram_db *db, const uint8_t *in, size_t len,
	      int64_t now_ms)
{
	int rc;

	s->out_len = 0;
	if (s->state == FMQ_SASL_S_DONE || s->state == FMQ_SASL_S_FAILED ||
	    s->mech >= FMQ_SASL_MECH_MAX ||
	    (conf->enabled & (1u << s->mech)) == 0) {
		snprintf(s->fail, sizeof(s->fail), "unexpected token");
		s->state = FMQ_SASL_S_FAILED;
		return FMQ_SASL_FAIL;
	}
	if (len > FMQ_SASL_MAX_RECEIVE) {
		snprintf(s->fail, sizeof(s->fail), "token too long");
		s->state = FMQ_SASL_S_FAILED;
		return FMQ_SASL_FAIL;
	}
	switch (s->mech) {
	case FMQ_SASL_PLAIN:
		rc = fmq_sasl_plain_step(s, db, in, len);
		break;
	case FMQ_SASL_SCRAM_SHA_256:
	case FMQ_SASL_SCRAM_SHA_512:
		rc = fmq_sasl_scram_step(s, db, in, len);
		break;
	default:
		rc = fmq_sasl_oauth_step(s, conf->oauth, in, len, now_ms);
		break;
	}
	if (rc == FMQ_SASL_OK)
		s->state = FMQ_SASL_S_DONE;
	else if (rc == FMQ_SASL_FAIL) {
		s->state = FMQ_SASL_S_FAILED;
		s->out_len = 0;
	}
	return rc;
}
