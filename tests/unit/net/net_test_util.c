/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "net_test_util.h"

struct rte_mempool *nt_pool;
const struct rte_ether_addr nt_our_mac = {{ 0x02, 0, 0x4d, 0x51, 0, 2 }};
const struct rte_ether_addr nt_peer_mac = {{ 0x02, 0, 0x4d, 0x51, 0, 1 }};
const uint32_t nt_our_ip = RTE_BE32(0x0a000002);
const uint32_t nt_peer_ip = RTE_BE32(0x0a000001);

int
nt_eal_init(void)
{
	char *argv[] = { "test", "--no-huge", "--no-pci", "--no-shconf",
			 "-m", "256", "--log-level=error", "-l", "0",
			 "--no-telemetry", NULL };

	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0)
		return -1;
	nt_pool = rte_pktmbuf_pool_create("nt_pool", 8191, 0, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	return nt_pool == NULL ? -1 : 0;
}

static uint16_t
cap_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	struct nt_capture *cap = arg;
	uint16_t i;

	for (i = 0; i < n && cap->n < NT_CAP_MAX; i++)
		cap->pkts[cap->n++] = pkts[i];
	return i;
}

struct fmq_net *
nt_net_create(struct nt_capture *cap)
{
	struct fmq_net_conf c = {
		.ip = nt_our_ip, .prefix = 24, .gateway = 0,
		.mac = nt_our_mac, .mtu = 1500,
	};

	return nt_net_create_conf(cap, &c);
}

struct fmq_net *
nt_net_create_conf(struct nt_capture *cap, const struct fmq_net_conf *c)
{
	struct fmq_net *n = fmq_net_create(c, nt_pool, 0, 0, SOCKET_ID_ANY);

	if (n != NULL)
		fmq_net_set_tx(n, cap_tx, cap);
	cap->n = 0;
	return n;
}

void
nt_capture_clear(struct nt_capture *cap)
{
	rte_pktmbuf_free_bulk(cap->pkts, cap->n);
	cap->n = 0;
}

struct rte_mbuf *
nt_ipv4_frame(uint32_t src, uint32_t dst, uint8_t proto, const void *payload,
	      uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nt_pool);
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;

	if (m == NULL)
		return NULL;
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			sizeof(*eh) + sizeof(*ip) + len);
	ip = (struct rte_ipv4_hdr *)(eh + 1);
	eh->dst_addr = nt_our_mac;
	eh->src_addr = nt_peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + len));
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = src;
	ip->dst_addr = dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (len)
		memcpy(ip + 1, payload, len);
	return m;
}

unsigned int
nt_pool_in_use(void)
{
	return rte_mempool_in_use_count(nt_pool);
}

void
nt_capture_attach(struct fmq_net *n, struct nt_capture *cap)
{
	fmq_net_set_tx(n, cap_tx, cap);
	cap->n = 0;
}
