/* SPDX-License-Identifier: Apache-2.0 */
/* Internal layout of the per-lcore stack context. Do not include from
 * outside lib/net. */
#ifndef FMQ_NET_PRIV_H
#define FMQ_NET_PRIV_H

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fmq_net.h"

#define NET_TX_BURST 64
#define NET_TX_HOLD 512
#define ARP_BUCKETS 64        /* power of two */
#define ARP_WAYS 4
#define ARP_HOLD 4            /* packets held per unresolved entry */
#define ARP_MAX_RETRIES 3
#define ARP_SCAN_NS (100ull * 1000 * 1000)

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
	uint32_t ip;                 /* network order */
	uint8_t state;
	uint8_t retries;
	uint8_t nhold;
	struct rte_ether_addr mac;
	uint64_t expires_ns;         /* REACHABLE: refresh after this */
	uint64_t next_retry_ns;      /* INCOMPLETE: next request */
	uint64_t used_ns;            /* for replacement */
	struct rte_mbuf *hold[ARP_HOLD];
};

struct tcp_ctx;
struct net_impair;

/*
 * One data lcore's network stack (with its tcp_ctx and connection table),
 * allocated cache-aligned on the lcore's socket. Only the owning lcore
 * writes any of it: packets steered from other lcores arrive through the
 * app's rings, never by a store here, so no field needs a line of its
 * own. The control lcore reads st for /metrics.
 */
struct fmq_net {
	struct fmq_net_conf conf;
	uint32_t netmask;            /* network order */
	struct rte_mempool *mp;
	uint16_t port_id, queue_id;
	fmq_net_tx_fn tx;
	void *tx_arg;
	uint16_t ip_id;
	uint16_t ntx;
	struct rte_mbuf *txq[NET_TX_BURST];
	/* Frames the driver refused, sent first at the next flush (a full TX
	 * ring is momentary; dropping would cost a retransmission timeout). */
	uint16_t nhold;
	uint8_t hold_fails;
	struct rte_mbuf *hold[NET_TX_HOLD];
	uint64_t next_arp_scan_ns;
	fmq_net_l4_fn l4[256];
	struct fmq_net_stats st;
	struct tcp_ctx *tcp;          /* TCP state (tcp_api.c) */
	struct net_impair *imp;       /* NULL unless impairment is on */
	struct arp_entry arp[ARP_BUCKETS][ARP_WAYS];
};

struct tcp_ctx;
struct net_impair;

/* net_config.c: the TCP settings of a broker configuration (0 in a key that
 * allows it becomes the field's "none", UINT32_MAX). tcp_api.c reads the
 * defaults through it too. */
int net_tcp_conf_from_config(struct fmq_tcp_conf *t,
			     const struct fmq_config *cfg, char *err,
			     size_t errlen);

/* Hand one received frame to Ethernet input (after impairment). */
void net_eth_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now);
/* Give frames to the driver, count, free what it refused. */
void net_tx_driver(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb);

/* Queue a finished frame for transmission. */
void net_tx_frame(struct fmq_net *n, struct rte_mbuf *m);
/* Flush queued frames to the driver. */
void net_tx_flush(struct fmq_net *n);

/* ARP: input, lookup for output, periodic work, teardown. */
void net_arp_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now);
void net_arp_learn(struct fmq_net *n, uint32_t ip,
		   const struct rte_ether_addr *mac, uint64_t now);
void net_arp_resolve_and_send(struct fmq_net *n, struct rte_mbuf *m,
			      uint32_t nexthop, uint64_t now);
void net_arp_timers(struct fmq_net *n, uint64_t now);
void net_arp_flush_all(struct fmq_net *n);
void net_arp_send_request(struct fmq_net *n, uint32_t target, uint64_t now);

/* Checksums over mbuf chains, correct for odd-length segments. */
uint16_t net_cksum_chain(const struct rte_mbuf *m, uint32_t off,
			 uint32_t len);
uint16_t net_l4_cksum(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
		      uint32_t l4_off);

/* IPv4 and ICMP input. */
void net_ipv4_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now);

static inline void
net_drop(struct fmq_net *n, struct rte_mbuf *m, enum fmq_net_drop why)
{
	n->st.drop[why]++;
	rte_pktmbuf_free(m);
}

#endif
