/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ARP (RFC 826): replies, requests, a small per-lcore cache with expiry and
 * a short hold queue per unresolved next hop, gratuitous ARP at start.
 */
#include <string.h>

#include <rte_arp.h>

#include "net_priv.h"

static inline unsigned int
arp_bucket(uint32_t ip)
{
	return (rte_be_to_cpu_32(ip) * 2654435761u) >> 26 & (ARP_BUCKETS - 1);
}

static struct arp_entry *
arp_find(struct fmq_net *n, uint32_t ip)
{
	struct arp_entry *b = n->arp[arp_bucket(ip)];

	for (int w = 0; w < ARP_WAYS; w++)
		if (b[w].state != ARP_FREE && b[w].ip == ip)
			return &b[w];
	return NULL;
}

static void
arp_release(struct fmq_net *n, struct arp_entry *e, bool count)
{
	for (int i = 0; i < e->nhold; i++) {
		if (count)
			n->st.drop[FMQ_NET_DROP_ARP_UNRESOLVED]++;
		n->st.mbufs_held -= e->hold[i]->nb_segs;
		rte_pktmbuf_free(e->hold[i]);
	}
	memset(e, 0, sizeof(*e));
}

/* Take a slot for ip: a free one, else the least recently used. */
static struct arp_entry *
arp_alloc(struct fmq_net *n, uint32_t ip)
{
	struct arp_entry *b = n->arp[arp_bucket(ip)];
	struct arp_entry *victim = &b[0];

	for (int w = 0; w < ARP_WAYS; w++) {
		if (b[w].state == ARP_FREE) {
			victim = &b[w];
			break;
		}
		if (b[w].used_ns < victim->used_ns)
			victim = &b[w];
	}
	arp_release(n, victim, true);
	victim->ip = ip;
	return victim;
}

static struct rte_mbuf *
arp_build(struct fmq_net *n, uint16_t op, const struct rte_ether_addr *eth_dst,
	  const struct rte_ether_addr *tha, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(n->mp);
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *ah;

	if (m == NULL) {
		n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
		return NULL;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			sizeof(*eh) + sizeof(*ah));
	ah = (struct rte_arp_hdr *)(eh + 1);
	rte_ether_addr_copy(eth_dst, &eh->dst_addr);
	rte_ether_addr_copy(&n->conf.mac, &eh->src_addr);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&n->conf.mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = n->conf.ip;
	rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = tip;
	return m;
}

void
net_arp_send_request(struct fmq_net *n, uint32_t target, uint64_t now)
{
	static const struct rte_ether_addr bcast = {
		.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	static const struct rte_ether_addr zero;
	struct rte_mbuf *m = arp_build(n, RTE_ARP_OP_REQUEST, &bcast, &zero,
				       target);

	(void)now;
	if (m == NULL)
		return;
	n->st.arp_tx++;
	n->st.arp_requests_sent++;
	net_tx_frame(n, m);
}

void
fmq_net_send_garp(struct fmq_net *n, uint64_t now_ns)
{
	/* A gratuitous ARP is a request for our own address. */
	net_arp_send_request(n, n->conf.ip, now_ns);
	net_tx_flush(n);
}

static void
arp_send_held(struct fmq_net *n, struct arp_entry *e)
{
	for (int i = 0; i < e->nhold; i++) {
		struct rte_ether_hdr *eh =
			rte_pktmbuf_mtod(e->hold[i], struct rte_ether_hdr *);
		rte_ether_addr_copy(&e->mac, &eh->dst_addr);
		n->st.mbufs_held -= e->hold[i]->nb_segs;
		net_tx_frame(n, e->hold[i]);
	}
	e->nhold = 0;
}

void
net_arp_learn(struct fmq_net *n, uint32_t ip, const struct rte_ether_addr *mac,
	      uint64_t now)
{
	struct arp_entry *e = arp_find(n, ip);

	if (e == NULL)
		e = arp_alloc(n, ip);
	rte_ether_addr_copy(mac, &e->mac);
	e->state = ARP_REACHABLE;
	e->retries = 0;
	e->expires_ns = now + n->conf.arp_timeout_ns;
	e->used_ns = now;
	arp_send_held(n, e);
}

static bool
sender_ok(const struct fmq_net *n, uint32_t sip,
	  const struct rte_ether_addr *sha)
{
	return sip != n->conf.ip && sip != 0 && sip != RTE_BE32(0xffffffff) &&
	       rte_is_unicast_ether_addr(sha) && !rte_is_zero_ether_addr(sha);
}

void
net_arp_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	uint16_t op;
	bool in_subnet;

	n->st.arp_rx++;
	if (rte_pktmbuf_data_len(m) < sizeof(*eh) + sizeof(*ah))
		return net_drop(n, m, FMQ_NET_DROP_ARP_SHORT);
	if (ah->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    ah->arp_hlen != RTE_ETHER_ADDR_LEN)
		return net_drop(n, m, FMQ_NET_DROP_ARP_BAD_HW);
	if (ah->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    ah->arp_plen != 4)
		return net_drop(n, m, FMQ_NET_DROP_ARP_BAD_PROTO);
	op = rte_be_to_cpu_16(ah->arp_opcode);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)
		return net_drop(n, m, FMQ_NET_DROP_ARP_BAD_OP);
	if (!sender_ok(n, ah->arp_data.arp_sip, &ah->arp_data.arp_sha))
		return net_drop(n, m, FMQ_NET_DROP_ARP_BAD_SENDER);

	/* RFC 826 merge: update an existing entry whoever the target is. */
	in_subnet = ((ah->arp_data.arp_sip ^ n->conf.ip) & n->netmask) == 0;
	if (ah->arp_data.arp_tip != n->conf.ip) {
		struct arp_entry *e = arp_find(n, ah->arp_data.arp_sip);
		if (e != NULL)
			net_arp_learn(n, ah->arp_data.arp_sip,
				      &ah->arp_data.arp_sha, now);
		return net_drop(n, m, FMQ_NET_DROP_ARP_NOT_FOR_US);
	}
	if (in_subnet)
		net_arp_learn(n, ah->arp_data.arp_sip, &ah->arp_data.arp_sha,
			      now);
	if (op == RTE_ARP_OP_REPLY) {
		n->st.arp_replies++;
		rte_pktmbuf_free(m);
		return;
	}
	/* Turn the request around in place. */
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	rte_ether_addr_copy(&ah->arp_data.arp_sha, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = ah->arp_data.arp_sip;
	rte_ether_addr_copy(&n->conf.mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = n->conf.ip;
	rte_ether_addr_copy(&ah->arp_data.arp_tha, &eh->dst_addr);
	rte_ether_addr_copy(&n->conf.mac, &eh->src_addr);
	m->ol_flags = 0;
	n->st.arp_tx++;
	net_tx_frame(n, m);
}

void
net_arp_resolve_and_send(struct fmq_net *n, struct rte_mbuf *m,
			 uint32_t nexthop, uint64_t now)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct arp_entry *e = arp_find(n, nexthop);

	if (likely(e != NULL && e->state == ARP_REACHABLE)) {
		e->used_ns = now;
		rte_ether_addr_copy(&e->mac, &eh->dst_addr);
		net_tx_frame(n, m);
		if (unlikely(now > e->expires_ns) && e->next_retry_ns <= now) {
			/* Stale: keep sending, ask again. */
			e->next_retry_ns = now + n->conf.arp_retry_ns;
			net_arp_send_request(n, nexthop, now);
		}
		return;
	}
	if (e == NULL) {
		e = arp_alloc(n, nexthop);
		e->state = ARP_INCOMPLETE;
		e->used_ns = now;
		e->next_retry_ns = now + n->conf.arp_retry_ns;
		net_arp_send_request(n, nexthop, now);
	}
	if (e->nhold == ARP_HOLD) {
		n->st.drop[FMQ_NET_DROP_ARP_QUEUE_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	e->hold[e->nhold++] = m;
	n->st.mbufs_held += m->nb_segs;
}

void
net_arp_timers(struct fmq_net *n, uint64_t now)
{
	for (int b = 0; b < ARP_BUCKETS; b++) {
		for (int w = 0; w < ARP_WAYS; w++) {
			struct arp_entry *e = &n->arp[b][w];
			if (e->state != ARP_INCOMPLETE || now < e->next_retry_ns)
				continue;
			if (e->retries >= ARP_MAX_RETRIES) {
				arp_release(n, e, true);
				continue;
			}
			e->retries++;
			e->next_retry_ns = now + n->conf.arp_retry_ns;
			net_arp_send_request(n, e->ip, now);
		}
	}
}

void
net_arp_flush_all(struct fmq_net *n)
{
	for (int b = 0; b < ARP_BUCKETS; b++)
		for (int w = 0; w < ARP_WAYS; w++)
			arp_release(n, &n->arp[b][w], false);
}
