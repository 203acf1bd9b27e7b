/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SASL gate of SASL_PLAINTEXT and SASL_SSL listeners, on the data
 * lcore, as Kafka's SaslServerAuthenticator:
 *  - before authentication only ApiVersions, SaslHandshake (v0, v1) and
 *    SaslAuthenticate (v0-2) are served; anything else closes the
 *    connection (counted), and requests are capped at
 *    sasl.server.max.receive.size;
 *  - SaslHandshake v0 (kafka-python) switches the connection to raw
 *    "int32 length + token" frames with no Kafka header, answered the
 *    same way; v1 tokens come in SaslAuthenticate;
 *  - an unknown or disabled mechanism gets UNSUPPORTED_SASL_MECHANISM with
 *    the enabled list, a failed authentication SASL_AUTHENTICATION_FAILED
 *    with a generic message; both then close;
 *  - re-authentication (KIP-368): SaslAuthenticate v1+ tells the session's
 *    lifetime (connections.max.reauth.ms, an OAUTHBEARER token's exp); a
 *    request past it that is not part of a re-authentication closes the
 *    connection; SaslHandshake + SaslAuthenticate on an authenticated
 *    connection start a new session for the same principal.
 * An exchange must end within 10 s of its SaslHandshake (conn_timers).
 * Credentials come from the metadata snapshot (rc->meta->sec->scram), read
 * with no lock. A session comes from a fixed per-lcore pool and goes back
 * when authentication ends, so only connections in the middle of it hold
 * one.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>

#include "broker_priv.h"

/* ------------------------------------------------------------- setup */

int
broker_sasl_init(struct fmq_broker *b, const struct fmq_config *cfg,
		 char *err, size_t errlen)
{
	char bad[64], msg[256];
	bool any = false;

	for (uint32_t i = 0; i < b->ls.n; i++)
		if (fmq_sec_proto_sasl(b->ls.l[i].proto))
			any = true;
	if (fmq_sasl_mechs_parse(cfg->sasl_enabled_mechanisms,
				 &b->sasl_conf.enabled, bad, sizeof(bad)) < 0) {
		fmq_config_error(cfg, "sasl.enabled.mechanisms", err, errlen,
				 "unknown mechanism '%s' (PLAIN, SCRAM-SHA-256, "
				 "SCRAM-SHA-512, OAUTHBEARER)", bad);
		return -EINVAL;
	}
	if (any && b->sasl_conf.enabled == 0) {
		fmq_config_error(cfg, "sasl.enabled.mechanisms", err, errlen,
				 "empty, but a listener is SASL_PLAINTEXT or "
				 "SASL_SSL");
		return -EINVAL;
	}
	b->sasl_max_receive = (uint32_t)RTE_MIN(cfg->sasl_server_max_receive_size,
						 (uint64_t)b->max_request);
	b->reauth_ms = cfg->connections_max_reauth_ms;
	if ((b->sasl_conf.enabled & (1u << FMQ_SASL_OAUTHBEARER)) == 0)
		return 0;
	b->oauth = rte_zmalloc("fmq_oauth", sizeof(*b->oauth), 0);
	if (b->oauth == NULL) {
		snprintf(err, errlen, "broker: out of memory");
		return -ENOMEM;
	}
	b->oauth->unsecured = cfg->sasl_oauthbearer_unsecured_enable;
	b->oauth->clock_skew_ms =
		(int64_t)cfg->sasl_oauthbearer_clock_skew_seconds * 1000;
#define OCOPY(dst, key, name) do { \
	if (strlen(cfg->key) >= sizeof(b->oauth->dst)) { \
		fmq_config_error(cfg, name, err, errlen, "too long (%zu " \
				 "bytes at most)", sizeof(b->oauth->dst) - 1); \
		return -EINVAL; \
	} \
	snprintf(b->oauth->dst, sizeof(b->oauth->dst), "%s", cfg->key); \
} while (0)
	OCOPY(sub_claim, sasl_oauthbearer_sub_claim_name,
	      "sasl.oauthbearer.sub.claim.name");
	OCOPY(scope_claim, sasl_oauthbearer_scope_claim_name,
	      "sasl.oauthbearer.scope.claim.name");
	OCOPY(required_scope, sasl_oauthbearer_required_scope,
	      "sasl.oauthbearer.required.scope");
	OCOPY(expected_issuer, sasl_oauthbearer_expected_issuer,
	      "sasl.oauthbearer.expected.issuer");
	OCOPY(expected_audience, sasl_oauthbearer_expected_audience,
	      "sasl.oauthbearer.expected.audience");
#undef OCOPY
	if (fmq_oauth_conf_load_keys(b->oauth,
			cfg->sasl_oauthbearer_public_key_location, NULL, msg,
			sizeof(msg)) < 0) {
		fmq_config_error(cfg, "sasl.oauthbearer.public.key.location",
				 err, errlen, "%s", msg);
		return -EINVAL;
	}
	if (fmq_oauth_conf_load_keys(b->oauth,
			NULL, cfg->sasl_oauthbearer_jwks_endpoint_url, msg,
			sizeof(msg)) < 0) {
		fmq_config_error(cfg, "sasl.oauthbearer.jwks.endpoint.url",
				 err, errlen, "%s", msg);
		return -EINVAL;
	}
	if (b->oauth->n_keys == 0 && !b->oauth->unsecured) {
		fmq_config_error(cfg, "sasl.enabled.mechanisms", err, errlen,
				 "OAUTHBEARER needs a key (sasl.oauthbearer."
				 "public.key.location or .jwks.endpoint.url) "
				 "or sasl.oauthbearer.unsecured.enable=true");
		return -EINVAL;
	}
	b->sasl_conf.oauth = b->oauth;
	return 0;
}

void
broker_sasl_fini(struct fmq_broker *b)
{
	if (b->oauth != NULL) {
		fmq_oauth_conf_free(b->oauth);
		rte_free(b->oauth);
		b->oauth = NULL;
	}
}

int
broker_sasl_lcore_init(struct fmq_broker_lcore *bl, int socket)
{
	bool any = false;

	for (uint32_t i = 0; i < bl->b->ls.n; i++)
		if (fmq_sec_proto_sasl(bl->b->ls.l[i].proto))
			any = true;
	if (!any)
		return 0;
	bl->sasl.pool = rte_zmalloc_socket("fmq_sasl_sess",
		sizeof(*bl->sasl.pool) * BSASL_SESSIONS, 0, socket);
	if (bl->sasl.pool == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < BSASL_SESSIONS; i++)
		bl->sasl.free[i] = BSASL_SESSIONS - 1 - i;
	bl->sasl.nfree = BSASL_SESSIONS;
	return 0;
}

void
broker_sasl_lcore_fini(struct fmq_broker_lcore *bl)
{
	rte_free(bl->sasl.pool);
	bl->sasl.pool = NULL;
}

void
broker_sasl_conn_init(struct fmq_broker_lcore *bl, struct kconn *k)
{
	k->sess = NULL;
	k->sasl_expire_ns = 0;
	if (!fmq_sec_proto_sasl((enum fmq_sec_proto)k->proto)) {
		k->sasl = BSASL_OFF;
		return;
	}
	k->sasl = BSASL_HANDSHAKE;
	k->framer.max_bytes = bl->b->sasl_max_receive;
}

static void
sess_put(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (k->sess == NULL)
		return;
	/* Nothing of the exchange stays in the pool. */
	memset(&k->sess->cred, 0, sizeof(k->sess->cred));
	bl->sasl.free[bl->sasl.nfree++] = (uint32_t)(k->sess - bl->sasl.pool);
	k->sess = NULL;
}

void
broker_sasl_conn_release(struct fmq_broker_lcore *bl, struct kconn *k)
{
	sess_put(bl, k);
}

/* ---------------------------------------------------------- requests */

static int
handshake(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fmq_broker *b = bl->b;
	struct kconn *k = rc->k;
	struct fmq_kafka_sasl_handshake_req *req;
	struct fmq_kafka_sasl_handshake_resp resp;
	struct fmq_kafka_str names[FMQ_SASL_MECH_MAX];
	int st = 0, mech, n = 0, rr;

	req = api_decode_body(rc, &st);
	if (req == NULL)
		return st;
	for (int i = 0; i < FMQ_SASL_MECH_MAX; i++)
		if (b->sasl_conf.enabled & (1u << i))
			names[n++] = fmq_kafka_str(fmq_sasl_mech_name(
				(enum fmq_sasl_mech)i));
	fmq_kafka_init_response(FMQ_KAFKA_API_SASL_HANDSHAKE,
				rc->hdr->api_version, &resp);
	resp.mechanisms = names;
	resp.mechanisms_count = n;
	mech = req->mechanism.len > 0 ?
		fmq_sasl_mech_parse(req->mechanism.p,
				    (size_t)req->mechanism.len) : -1;
	/* A re-authentication needs v1 (SaslAuthenticate tells the new
	 * session's lifetime). */
	if (mech < 0 || (b->sasl_conf.enabled & (1u << mech)) == 0 ||
	    (k->sasl == BSASL_DONE && rc->hdr->api_version == 0)) {
		bl->sasl.bad_mech++;
		count_error(bl, FMQ_KERR_UNSUPPORTED_SASL_MECHANISM);
		resp.error_code = FMQ_KERR_UNSUPPORTED_SASL_MECHANISM;
		rr = api_respond(rc, &resp);
		return rr < 0 ? rr : REQ_CLOSE(BROKER_CLOSE_SASL_FAILED);
	}
	if (k->sess == NULL) {
		if (bl->sasl.nfree == 0)
			return REQ_CLOSE(BROKER_CLOSE_SASL_BUSY);
		k->sess = &bl->sasl.pool[bl->sasl.free[--bl->sasl.nfree]];
	}
	k->sess_ns = bl->now_ns;
	fmq_sasl_start(k->sess, (enum fmq_sasl_mech)mech);
	if (k->sasl != BSASL_DONE)
		k->sasl = rc->hdr->api_version == 0 ? BSASL_RAW : BSASL_AUTH;
	return api_respond(rc, &resp);
}

/* The session's end, for SaslAuthenticate v1+ and the expiry check: the
 * smaller of connections.max.reauth.ms and the token's exp; 0: none. */
static int64_t
lifetime_ms(const struct fmq_broker *b, const struct fmq_sasl_sess *s,
	    int64_t now_ms)
{
	int64_t l = (int64_t)b->reauth_ms;

	if (s->expires_ms > 0) {
		int64_t t = s->expires_ms - now_ms;
		if (t < 1)
			t = 1;
		if (l == 0 || t < l)
			l = t;
	}
	return l;
}

/* One client token through the session. On OK the connection is
 * authenticated (or re-authenticated); *life is the session's lifetime. */
static int
step(struct fmq_broker_lcore *bl, struct kconn *k, const struct fmq_bmeta *m,
     const uint8_t *in, size_t len, int64_t *life)
{
	const struct fmq_scram_db *db = m != NULL && m->sec != NULL ?
		m->sec->scram : NULL;
	struct fmq_sasl_sess *s = k->sess;
	int64_t now_ms = fmq_wall_ms();
	int rc = fmq_sasl_step(s, &bl->b->sasl_conf, db, in, len, now_ms);

	if (rc == FMQ_SASL_OK && k->sasl == BSASL_DONE) {
		/* KIP-368: a re-authentication keeps the principal. */
		struct fmq_principal p;
		if (fmq_principal_set_user(&p, s->user, s->user_len) < 0 ||
		    p.len != k->principal.len ||
		    memcmp(p.name, k->principal.name, p.len) != 0)
			rc = FMQ_SASL_FAIL;
	}
	if (rc == FMQ_SASL_FAIL) {
		bl->sasl.auth[s->mech][1]++;
		return rc;
	}
	if (rc == FMQ_SASL_CONTINUE)
		return rc;
	if (fmq_principal_set_user(&k->principal, s->user, s->user_len) < 0) {
		bl->sasl.auth[s->mech][1]++;
		return FMQ_SASL_FAIL;
	}
	bl->sasl.auth[s->mech][0]++;
	if (k->sasl == BSASL_DONE)
		bl->sasl.reauth++;
	*life = lifetime_ms(bl->b, s, now_ms);
	k->sasl_expire_ns = *life > 0 ?
		bl->now_ns + (uint64_t)*life * 1000000ull : 0;
	k->sasl = BSASL_DONE;
	k->framer.max_bytes = bl->b->max_request;
	return rc;
}

static int
authenticate(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct kconn *k = rc->k;
	struct fmq_kafka_sasl_authenticate_req *req;
	struct fmq_kafka_sasl_authenticate_resp resp;
	int st = 0, r, rr;
	int64_t life = 0;
	char msg[160];

	req = api_decode_body(rc, &st);
	if (req == NULL)
		return st;
	fmq_kafka_init_response(FMQ_KAFKA_API_SASL_AUTHENTICATE,
				rc->hdr->api_version, &resp);
	if (k->sess == NULL) {
		/* No SaslHandshake before it. */
		count_error(bl, FMQ_KERR_ILLEGAL_SASL_STATE);
		resp.error_code = FMQ_KERR_ILLEGAL_SASL_STATE;
		resp.error_message = FMQ_KAFKA_STR_LIT(
			"SaslAuthenticate before SaslHandshake");
		rr = api_respond(rc, &resp);
		return rr < 0 ? rr : REQ_CLOSE(BROKER_CLOSE_SASL_FAILED);
	}
	r = step(bl, k, rc->meta, req->auth_bytes.p,
		 req->auth_bytes.len < 0 ? 0 : (size_t)req->auth_bytes.len,
		 &life);
	if (r == FMQ_SASL_FAIL) {
		enum fmq_sasl_mech mech = (enum fmq_sasl_mech)k->sess->mech;
		sess_put(bl, k);
		count_error(bl, FMQ_KERR_SASL_AUTHENTICATION_FAILED);
		resp.error_code = FMQ_KERR_SASL_AUTHENTICATION_FAILED;
		/* Kafka's words; never which part was wrong. */
		snprintf(msg, sizeof(msg), "Authentication failed during "
			 "authentication due to invalid credentials with SASL "
			 "mechanism %s", fmq_sasl_mech_name(mech));
		resp.error_message = fmq_kafka_str(msg);
		rr = api_respond(rc, &resp);
		return rr < 0 ? rr : REQ_CLOSE(BROKER_CLOSE_SASL_FAILED);
	}
	resp.auth_bytes.p = k->sess->out;
	resp.auth_bytes.len = k->sess->out_len;
	resp.session_lifetime_ms = life;
	rr = api_respond(rc, &resp);
	if (r == FMQ_SASL_OK)
		sess_put(bl, k);
	return rr;
}

int
broker_sasl_gate(struct req_ctx *rc)
{
	struct kconn *k = rc->k;
	int16_t api = rc->hdr->api_key;

	switch (k->sasl) {
	case BSASL_DONE:
		if (api == FMQ_KAFKA_API_SASL_HANDSHAKE)
			return handshake(rc);
		if (api == FMQ_KAFKA_API_SASL_AUTHENTICATE)
			return authenticate(rc);
		/* Kafka closes on the first other request past the
		 * session's end. */
		if (k->sasl_expire_ns != 0 &&
		    rc->bl->now_ns > k->sasl_expire_ns)
			return REQ_CLOSE(BROKER_CLOSE_SASL_EXPIRED);
		return BSASL_PASS;
	case BSASL_HANDSHAKE:
		if (api == FMQ_KAFKA_API_API_VERSIONS)
			return BSASL_PASS;
		if (api == FMQ_KAFKA_API_SASL_HANDSHAKE)
			return handshake(rc);
		break;
	case BSASL_AUTH:
		if (api == FMQ_KAFKA_API_SASL_AUTHENTICATE)
			return authenticate(rc);
		break;
	default:
		break;
	}
	return REQ_CLOSE(BROKER_CLOSE_SASL_UNAUTHENTICATED);
}

/*
 * SaslHandshake or SaslAuthenticate on a listener without SASL: Kafka
 * answers ILLEGAL_SASL_STATE and keeps the connection.
 */
int
broker_sasl_off(struct req_ctx *rc)
{
	int st = 0;
	void *req = api_decode_body(rc, &st);

	if (req == NULL)
		return st;
	count_error(rc->bl, FMQ_KERR_ILLEGAL_SASL_STATE);
	if (rc->hdr->api_key == FMQ_KAFKA_API_SASL_HANDSHAKE) {
		struct fmq_kafka_sasl_handshake_resp resp;

		fmq_kafka_init_response(FMQ_KAFKA_API_SASL_HANDSHAKE,
					rc->hdr->api_version, &resp);
		resp.error_code = FMQ_KERR_ILLEGAL_SASL_STATE;
		resp.mechanisms_count = 0;
		return api_respond(rc, &resp);
	}
	struct fmq_kafka_sasl_authenticate_resp resp;

	fmq_kafka_init_response(FMQ_KAFKA_API_SASL_AUTHENTICATE,
				rc->hdr->api_version, &resp);
	resp.error_code = FMQ_KERR_ILLEGAL_SASL_STATE;
	resp.error_message = FMQ_KAFKA_STR_LIT("Unexpected SASL request: this "
					       "listener has no SASL");
	return api_respond(rc, &resp);
}

int
broker_sasl_raw(struct fmq_broker_lcore *bl, struct kconn *k, uint32_t seq,
		uint32_t nseg, uint64_t avail, uint32_t *frame_len)
{
	struct fmq_kafka_reader r;
	uint8_t pre[4], *tok, out[4 + FMQ_SASL_OUT_MAX];
	uint32_t len;
	int64_t life = 0;
	struct rte_mbuf *m;
	int rc;

	*frame_len = 0;
	if (avail < 4) {
		k->need = 4;
		return 0;
	}
	if (fmq_kafka_rd_init(&r, bl->segs, nseg, 0, 4) < 0 ||
	    fmq_kafka_rd_raw(&r, pre, 4) < 0)
		return REQ_CLOSE(BROKER_CLOSE_FRAME);
	len = rte_be_to_cpu_32(*(const uint32_t *)(const void *)pre);
	if (len > bl->b->sasl_max_receive)
		return REQ_CLOSE(BROKER_CLOSE_TOO_LARGE);
	if (avail < 4ull + len) {
		k->need = 4ull + len;
		return 0;
	}
	k->need = 0;
	*frame_len = 4 + len;
	fmq_kafka_arena_reset(&bl->arena);
	tok = fmq_kafka_arena_alloc(&bl->arena, len + 1);
	if (tok == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	if (fmq_kafka_rd_init(&r, bl->segs, nseg, 4, len) < 0 ||
	    fmq_kafka_rd_raw(&r, tok, len) < 0)
		return REQ_CLOSE(BROKER_CLOSE_FRAME);
	rc = step(bl, k, broker_meta_load(bl->b), tok, len, &life);
	if (rc == FMQ_SASL_FAIL) {
		/* v0: no error frame, the connection just closes. */
		sess_put(bl, k);
		return REQ_CLOSE(BROKER_CLOSE_SASL_FAILED);
	}
	len = k->sess->out_len;
	*(uint32_t *)(void *)out = rte_cpu_to_be_32(len);
	memcpy(out + 4, k->sess->out, len);
	if (rc == FMQ_SASL_OK)
		sess_put(bl, k);
	m = resp_from_bytes(bl, out, 4 + len);
	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(bl, k, seq, m);
	return 1;
}

void
broker_sasl_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b)
{
	static const char *const res[2] = { "success", "failure" };
	char lbl[96];

	fmq_metrics_family(out, "fluxmq_sasl_authentications_total", "counter",
			   "SASL authentications by mechanism and result "
			   "(re-authentications included)");
	for (int m = 0; m < FMQ_SASL_MECH_MAX; m++)
		for (int r = 0; r < 2; r++) {
			uint64_t n = 0;
			for (unsigned int i = 0; i < b->n_lcores; i++)
				if (b->lc[i] != NULL)
					n += b->lc[i]->sasl.auth[m][r];
			snprintf(lbl, sizeof(lbl),
				 "mechanism=\"%s\",result=\"%s\"",
				 fmq_sasl_mech_name((enum fmq_sasl_mech)m),
				 res[r]);
			fmq_metrics_u64(out, "fluxmq_sasl_authentications_total",
					lbl, n);
		}
	{
		uint64_t re = 0, bad = 0;
		for (unsigned int i = 0; i < b->n_lcores; i++)
			if (b->lc[i] != NULL) {
				re += b->lc[i]->sasl.reauth;
				bad += b->lc[i]->sasl.bad_mech;
			}
		fmq_metrics_one(out, "fluxmq_sasl_reauthentications_total",
				"counter", "Successful SASL re-authentications "
				"(KIP-368)", re);
		fmq_metrics_one(out, "fluxmq_sasl_unsupported_mechanism_total",
				"counter", "SaslHandshakes naming a mechanism "
				"not enabled", bad);
	}
}
