/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for lib/net unit tests: EAL without hugepages, a packet
 * pool, a capturing TX callback, and packet builders. */
#ifndef NET_TEST_UTIL_H
#define NET_TEST_UTIL_H

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fmq_net.h"

#define NT_CAP_MAX 256

struct nt_capture {
	struct rte_mbuf *pkts[NT_CAP_MAX];
	unsigned int n;
};

extern struct rte_mempool *nt_pool;
extern const struct rte_ether_addr nt_our_mac, nt_peer_mac;
extern const uint32_t nt_our_ip, nt_peer_ip; /* network order */

/* rte_eal_init with --no-huge --in-memory; creates nt_pool. 0 or -1. */
int nt_eal_init(void);
/* A context for 10.0.0.2/24 with software checksums and capture on tx. */
struct fmq_net *nt_net_create(struct nt_capture *cap);
/* Same with caller-chosen settings (ip/mac should be nt_our_*). */
struct fmq_net *nt_net_create_conf(struct nt_capture *cap,
				   const struct fmq_net_conf *c);
/* Capture what an existing context transmits. */
void nt_capture_attach(struct fmq_net *n, struct nt_capture *cap);
void nt_capture_clear(struct nt_capture *cap);
/* An Ethernet+IPv4 frame: ip header filled and checksummed, payload
 * copied after it. */
struct rte_mbuf *nt_ipv4_frame(uint32_t src, uint32_t dst, uint8_t proto,
			       const void *payload, uint16_t len);
/* mbufs of nt_pool currently allocated. */
unsigned int nt_pool_in_use(void);

#endif
