/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KIP-951 leader discovery. A Produce v10+ partition answered
 * NOT_LEADER_OR_FOLLOWER, and a Fetch v16+ partition answered
 * NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, carries the partition's
 * current leader and leader epoch as this broker's snapshot knows them;
 * the answer lists the endpoint of each such leader that is alive, for
 * the listener the client came in on, once (KafkaApis.getCurrentLeader).
 * Alone, this broker leads every partition.
 */
#include <string.h>

#include "broker_priv.h"

void
leader_hint(const struct req_ctx *rc, const struct fmq_bpart *bp,
	    struct leader_hints *h, int32_t *leader_id, int32_t *leader_epoch)
{
	const struct fmq_bmeta *m = rc->meta;
	int32_t id = m->nbrokers == 0 ? rc->bl->b->node_id : bp->leader;

	*leader_id = id;
	*leader_epoch = bp->leader_epoch;
	if (id < 0 || (m->nbrokers > 0 && fmq_bmeta_broker(m, id) == NULL))
		return;   /* no live leader: no endpoint */
	for (uint32_t i = 0; i < h->n; i++)
		if (h->ids[i] == id)
			return;
	if (h->n < LEADER_HINTS_MAX)
		h->ids[h->n++] = id;
}

void
leader_hint_ep(const struct req_ctx *rc, int32_t id,
	       struct fmq_kafka_str *host, int32_t *port,
	       struct fmq_kafka_str *rack)
{
	const struct fmq_broker *b = rc->bl->b;
	const struct fmq_listener *l = fmq_broker_listener(b, rc->k->listener);
	const struct fmq_bbroker *br = fmq_bmeta_broker(rc->meta, id);
	uint32_t e = 0;

	*rack = FMQ_KAFKA_STR_NULL;
	if (rc->meta->nbrokers == 0 || br == NULL || br->nep == 0) {
		*host = fmq_kafka_str(l->adv_host);
		*port = l->adv_port;
		return;
	}
	/* As Metadata: the endpoint named like the client's listener. */
	for (uint32_t i = 0; i < br->nep; i++)
		if (strcmp(br->ep[i].name, l->name) == 0)
			e = i;
	*host = fmq_kafka_str(br->ep[e].host);
	*port = br->ep[e].port;
	if (br->rack[0] != '\0')
		*rack = fmq_kafka_str(br->rack);
}
