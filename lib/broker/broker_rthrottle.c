/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replication quotas (Kafka's KIP-73, as Kafka 3.4 applies them with
 * ZooKeeper): the dynamic broker configs leader.replication.throttled.rate
 * and follower.replication.throttled.rate (bytes/s) bound the replication
 * traffic of the partitions the topic configs
 * leader.replication.throttled.replicas and
 * follower.replication.throttled.replicas list for this broker
 * ("partition:broker,..." or "*").
 *
 * The control lcore resolves both lists per partition into
 * fmq_bpart.rthr and puts the two rates into the snapshot
 * (fmq_bmeta.repl_rate[]); the data lcores only read them. Each data lcore
 * keeps one token bucket per side, refilled from its clock (bl->now_ns)
 * at rate / data lcores, at most one second's worth: no lock, no malloc,
 * no syscall. A fetch takes what is left and may overdraw by one batch
 * (KIP-74), which the next ones pay back.
 *
 * Leader side (Kafka's ReplicaManager.shouldLeaderThrottle): a follower's
 * fetch of a listed partition whose replica is not in the ISR gets no
 * records while the bucket is empty, and no more than what is in it.
 * Follower side (ReplicaFetcherThread.shouldFollowerThrottle): while this
 * broker is not in the ISR of a listed partition, it leaves the partition
 * out of its fetch while the bucket is empty and asks for no more than
 * the bucket holds.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "broker_priv.h"



bool
fmq_broker_rthr_listed(const char *list, uint32_t part, int32_t broker)
{
	const char *s = list;

	while (s != NULL && *s != '\0') {
		char *end;
		unsigned long p;
		long id;

		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '*')
			return true;
		p = strtoul(s, &end, 10);
		if (end == s || *end != ':')
			return false;        /* malformed: nothing listed */
		id = strtol(end + 1, &end, 10);
		if (p == part && id == broker)
			return true;
		s = end;
		if (*s != ',' && *s != '\0')
			return false;
	}
	return false;
}

void
fmq_rthr_refill(struct fmq_rthr_bucket *k, uint64_t rate, uint64_t now_ns)
{
	unsigned __int128 add;
	int64_t cap = (int64_t)RTE_MIN(rate, (uint64_t)INT64_MAX / 2);

	if (k->last_ns == 0 || now_ns < k->last_ns) {
		k->last_ns = now_ns;
		k->tokens = cap;    /* one second's worth to start */
		return;
	}
	add = (unsigned __int128)(now_ns - k->last_ns) * rate / NS_PER_S;
	k->last_ns = now_ns;
	if (add >= (unsigned __int128)cap || k->tokens + (int64_t)add > cap)
		k->tokens = cap;
	else
		k->tokens += (int64_t)add;
}

/* The rate this lcore applies on one side; 0: unthrottled. */
static uint64_t
lc_rate(const struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	int side)
{
	uint64_t r = m->repl_rate[side];

	if (r >= (uint64_t)INT64_MAX)
		return 0;
	r /= RTE_MAX(bl->b->n_lcores, 1u);
	return RTE_MAX(r, 1u);
}

static bool
in_isr(const struct fmq_bpart *bp, int32_t id)
{
	for (uint16_t i = 0; i < bp->nisr; i++)
		if (bp->isr[i] == id)
			return true;
	return false;
}

bool
rthr_on(const struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	const struct fmq_bpart *bp, int side, int32_t replica)
{
	return (bp->rthr & (1u << side)) != 0 && !in_isr(bp, replica) &&
		lc_rate(bl, m, side) != 0;
}

int64_t
rthr_budget(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	    const struct fmq_bpart *bp, int side, int32_t replica)
{
	struct fmq_rthr_bucket *k = &bl->rthr[side];
	uint64_t rate;

	if (!rthr_on(bl, m, bp, side, replica))
		return -1;
	rate = lc_rate(bl, m, side);
	fmq_rthr_refill(k, rate, bl->now_ns);
	if (k->tokens <= 0) {
		bl->st.rthr_held[side]++;
		return 0;
	}
	return k->tokens;
}

void
rthr_charge(struct fmq_broker_lcore *bl, int side, uint64_t bytes)
{
	bl->rthr[side].tokens -= (int64_t)RTE_MIN(bytes, (uint64_t)INT32_MAX);
	bl->st.rthr_bytes[side] += bytes;
}

void
rthr_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b)
{
	static const char *const side[2] = { "leader", "follower" };
	const struct fmq_bmeta *m = broker_meta_load(b);
	char lbl[32];

	fmq_metrics_family(out, "fluxmq_replica_throttled_fetches_total",
			   "counter", "Replication fetches of throttled "
			   "partitions held back (leader: answered without "
			   "records; follower: partition left out) because "
			   "the replication throttle's bytes were spent");
	for (int s = 0; s < 2; s++) {
		uint64_t v = 0;
		for (unsigned int i = 0; i < b->n_lcores; i++)
			if (b->lc[i] != NULL)
				v += b->lc[i]->st.rthr_held[s];
		snprintf(lbl, sizeof(lbl), "side=\"%s\"", side[s]);
		fmq_metrics_u64(out, "fluxmq_replica_throttled_fetches_total",
				lbl, v);
	}
	fmq_metrics_family(out, "fluxmq_replica_throttled_bytes_total",
			   "counter", "Replication bytes of throttled "
			   "partitions sent (leader) or fetched (follower) "
			   "under a replication throttle");
	for (int s = 0; s < 2; s++) {
		uint64_t v = 0;
		for (unsigned int i = 0; i < b->n_lcores; i++)
			if (b->lc[i] != NULL)
				v += b->lc[i]->st.rthr_bytes[s];
		snprintf(lbl, sizeof(lbl), "side=\"%s\"", side[s]);
		fmq_metrics_u64(out, "fluxmq_replica_throttled_bytes_total",
				lbl, v);
	}
	fmq_metrics_family(out, "fluxmq_replica_throttle_rate_bytes",
			   "gauge", "leader./follower.replication.throttled."
			   "rate in effect on this broker, bytes/s");
	for (int s = 0; s < 2; s++) {
		snprintf(lbl, sizeof(lbl), "side=\"%s\"", side[s]);
		fmq_metrics_u64(out, "fluxmq_replica_throttle_rate_bytes",
				lbl, m != NULL ? m->repl_rate[s] :
				(uint64_t)INT64_MAX);
	}
}
