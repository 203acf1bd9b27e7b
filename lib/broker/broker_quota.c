/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client quotas on the data lcore, as Kafka applies them: each Produce
 * request's size, each Fetch response's record bytes and each request's
 * handling time are recorded against the connection's (user, client-id)
 * quota entity; a request that takes the rate over the quota gets its
 * throttle time in the response (throttle_time_ms) and the connection is
 * muted (not read) until the time has passed (KIP-219: the answer goes
 * out at once, the client also waits on its own).
 *
 * The quotas come from the security snapshot of the metadata this
 * request runs with (no lock); the rates live in the lcore's own fixed
 * table. Each data lcore enforces 1/N of a broker-wide quota, as each
 * Kafka broker enforces its quota on the connections it holds.
 */
#include <rte_cycles.h>

#include "broker_priv.h"
#include "fmq_quota.h"

static const struct fmq_quota_db *
quota_db(const struct req_ctx *rc)
{
	const struct fmq_sec_snap *s = rc->meta != NULL ? rc->meta->sec : NULL;

	return s != NULL ? s->quota : NULL;
}

static void
mute(struct fmq_broker_lcore *bl, struct kconn *k, int64_t ms)
{
	uint64_t until = bl->now_ns + (uint64_t)ms * 1000000ull;

	if (!k->live || k->closing)
		return;
	if (k->muted) {
		if (until > k->mute_until_ns)
			k->mute_until_ns = until;
	} else {
		k->muted = true;
		k->mute_until_ns = until;
		TAILQ_INSERT_TAIL(&bl->muteq, k, mute_link);
	}
	if (until < bl->mute_next_ns || bl->mute_next_ns == 0)
		bl->mute_next_ns = until;
	if (!k->paused) {
		k->paused = true;
		fmq_tcp_pause_rx(bl->net, k->tcp, true);
	}
}

int32_t
quota_charge(struct req_ctx *rc, int key, double v)
{
	const struct fmq_quota_db *db = quota_db(rc);
	struct fmq_broker_lcore *bl = rc->bl;
	struct kconn *k = rc->k;
	const struct fmq_kafka_str *cid = &rc->hdr->client_id;
	const char *user = k->principal.name;
	size_t ulen = k->principal.len;
	const char *colon;
	int64_t ms;

	if (db == NULL || !(db->any_set & (1u << key)))
		return 0;
	/* Kafka matches the principal's name, "User:" left out. */
	colon = memchr(user, ':', ulen);
	if (colon != NULL) {
		ulen -= (size_t)(colon + 1 - user);
		user = colon + 1;
	}
	ms = fmq_quota_record(&bl->qtbl, db, (enum fmq_quota_key)key, user,
			      ulen, cid->len > 0 ? cid->p : "",
			      cid->len > 0 ? (size_t)cid->len : 0, v,
			      (int64_t)(bl->now_ns / 1000000ull), &bl->b->qwin,
			      bl->b->n_lcores);
	if (ms <= 0)
		return 0;
	if (ms > INT32_MAX)
		ms = INT32_MAX;
	bl->st.quota_throttled[key]++;
	bl->st.quota_throttle_ms[key] += (uint64_t)ms;
	mute(bl, k, ms);
	return (int32_t)ms;
}

void
quota_request_time(struct req_ctx *rc, uint64_t tsc)
{
	const struct fmq_quota_db *db = quota_db(rc);

	if (db == NULL || !(db->any_set & (1u << FMQ_QUOTA_REQUEST)))
		return;
	/* Kafka's unit: percent of one thread over a second. */
	quota_charge(rc, FMQ_QUOTA_REQUEST,
		     (double)tsc * 100.0 /
		     ((double)rc->bl->tsc_mhz * 1e6));
}

static void
unmute(struct fmq_broker_lcore *bl, struct kconn *k)
{
	TAILQ_REMOVE(&bl->muteq, k, mute_link);
	k->muted = false;
	/* The wait was ours: a request begun before it is not late. */
	if (k->partial_since != 0)
		k->partial_since = bl->now_ns;
	conn_flush(bl, k);      /* reads on if nothing else holds it */
	conn_schedule(bl, k);   /* requests already received go on */
}

void
quota_poll(struct fmq_broker_lcore *bl)
{
	struct kconn *k, *next;
	uint64_t soonest = 0;

	if (bl->mute_next_ns == 0 || bl->now_ns < bl->mute_next_ns)
		return;
	for (k = TAILQ_FIRST(&bl->muteq); k != NULL; k = next) {
		next = TAILQ_NEXT(k, mute_link);
		if (k->mute_until_ns <= bl->now_ns)
			unmute(bl, k);
		else if (soonest == 0 || k->mute_until_ns < soonest)
			soonest = k->mute_until_ns;
	}
	bl->mute_next_ns = soonest;
}

void
quota_conn_gone(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (!k->muted)
		return;
	TAILQ_REMOVE(&bl->muteq, k, mute_link);
	k->muted = false;
}
