/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * TCP-lite network stack: Ethernet, ARP, IPv4, ICMP echo (and TCP on top).
 *
 * One struct fmq_net per data lcore and port queue. Everything in it is
 * owned by that lcore: no locks, no allocation on the packet path (mbufs
 * come from the pool given at creation). Received packets are handed in by
 * bursts with fmq_net_rx(); fmq_net_poll() runs timers and flushes TX.
 */
#ifndef FMQ_NET_H
#define FMQ_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Reasons a received packet is dropped; see net_drop.def. */
enum fmq_net_drop {
#define FMQ_NET_DROP(name, help) FMQ_NET_DROP_##name,
#include "net_drop.def"
#undef FMQ_NET_DROP
	FMQ_NET_DROP_MAX
};

/** Static settings of one interface, shared by all its lcores. */
struct fmq_net_conf {
	uint32_t ip;             /**< our address, network order */
	uint8_t prefix;          /**< subnet prefix length */
	uint32_t gateway;        /**< network order; 0 = none */
	struct rte_ether_addr mac;
	uint16_t mtu;            /**< IP MTU */
	bool rx_csum_offload;    /**< port validates IPv4/TCP checksums */
	bool tx_csum_offload;    /**< port fills IPv4/TCP checksums */
	uint64_t arp_timeout_ns; /**< how long a learned entry stays valid */
	uint64_t arp_retry_ns;   /**< interval between ARP requests */
};

/** Per-lcore counters; plain uint64_t, written only by the owning lcore. */
struct fmq_net_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t tx_dropped;       /**< the driver did not take them */
	uint64_t arp_rx, arp_tx, arp_replies, arp_requests_sent;
	uint64_t icmp_echo;
	uint64_t drop[FMQ_NET_DROP_MAX];
};

struct fmq_net;

/**
 * Fill the settings that come from configuration (net.* keys: address,
 * prefix, gateway, MTU, and what later layers add) and check them. The
 * caller then sets what the port decides: mac and the offload flags.
 *
 * @param err  receives "file:line: key: reason" on failure
 * @return 0 or -EINVAL.
 */
int fmq_net_conf_from_config(struct fmq_net_conf *nc,
			     const struct fmq_config *cfg, char *err,
			     size_t errlen);

/**
 * Transmit callback: send n packets, return how many were taken. The stack
 * frees the rest and counts them. The default sends on (port, queue).
 */
typedef uint16_t (*fmq_net_tx_fn)(void *arg, struct rte_mbuf **pkts,
				  uint16_t n);

/**
 * Create the stack state for one lcore.
 *
 * @param conf  interface settings (copied)
 * @param mp    pool for packets the stack builds (ARP, ICMP, ACKs)
 * @param port_id, queue_id  where the default TX callback sends
 * @param socket  NUMA socket for the allocation
 * @return the context, or NULL with rte_errno set (ENOMEM).
 */
struct fmq_net *fmq_net_create(const struct fmq_net_conf *conf,
			       struct rte_mempool *mp, uint16_t port_id,
			       uint16_t queue_id, int socket);

/** Free the context and every mbuf it still holds. */
void fmq_net_free(struct fmq_net *n);

/** Replace the TX callback (unit tests capture what the stack emits). */
void fmq_net_set_tx(struct fmq_net *n, fmq_net_tx_fn fn, void *arg);

/**
 * Process a burst of received frames; consumes every mbuf.
 * @param now_ns  current time (fmq_now_ns(), or a fake clock in tests)
 */
void fmq_net_rx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb,
		uint64_t now_ns);

/** Run due timers and flush buffered TX. Call once per poll loop. */
void fmq_net_poll(struct fmq_net *n, uint64_t now_ns);

/** Send a gratuitous ARP for our address (at start-up). */
void fmq_net_send_garp(struct fmq_net *n, uint64_t now_ns);

/**
 * Send an IPv4 packet. m's data starts at the L4 header and must have
 * RTE_PKTMBUF_HEADROOM for the IP and Ethernet headers. Consumes m. The
 * next hop is resolved through the ARP cache; while unresolved a few
 * packets are held and an ARP request goes out.
 *
 * Checksums: the IPv4 header checksum is always taken care of here. A TCP
 * or UDP sender sets RTE_MBUF_F_TX_TCP_CKSUM (or _UDP_) in m->ol_flags and
 * m->l4_len and leaves the checksum field zero; this function then either
 * fills the pseudo-header sum for the NIC (tx_csum_offload) or computes the
 * full checksum in software over the whole chain, so the policy lives in
 * one place.
 *
 * @return 0, or -EHOSTUNREACH / -ENOBUFS (m was freed and counted).
 */
int fmq_net_ip_output(struct fmq_net *n, struct rte_mbuf *m, uint32_t dst,
		      uint8_t proto, uint64_t now_ns);

/**
 * Handler for an IP protocol (TCP). Called with m's data at the L4 header,
 * m->l3_len set and the IPv4 header still in front of the data. Consumes m.
 */
typedef void (*fmq_net_l4_fn)(struct fmq_net *n, struct rte_mbuf *m,
			      const struct rte_ipv4_hdr *ip, uint64_t now_ns);

/**
 * Check the L4 (TCP/UDP) checksum of a received packet whose data starts at
 * the L4 header: trusts the port's verdict when it gave one, else computes.
 */
bool fmq_net_rx_l4_csum_ok(const struct fmq_net *n, struct rte_mbuf *m,
			   const struct rte_ipv4_hdr *ip);

/** Register the handler for IP protocol proto (one per protocol). */
void fmq_net_set_l4(struct fmq_net *n, uint8_t proto, fmq_net_l4_fn fn);

/** Counters of this context (read by the metrics renderer). */
const struct fmq_net_stats *fmq_net_stats(const struct fmq_net *n);

/** Increment a drop counter (for protocol handlers layered on top). */
void fmq_net_count_drop(struct fmq_net *n, enum fmq_net_drop why);

/** The interface settings this context was created with. */
const struct fmq_net_conf *fmq_net_conf(const struct fmq_net *n);

/** Name of a drop reason ("ip_bad_csum"). */
const char *fmq_net_drop_name(enum fmq_net_drop why);

/**
 * Render the counters of a set of contexts (one per lcore) as Prometheus
 * text; arg is a struct fmq_net_metrics_set.
 */
struct fmq_net_metrics_set {
	struct fmq_net **nets;
	unsigned int n;
};
void fmq_net_metrics(struct fmq_metrics_out *out, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_NET_H */
