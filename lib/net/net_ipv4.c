/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4 input (RFC 791/1122 checks), ICMP echo (RFC 792), IPv4 output. */
#include <errno.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "net_priv.h"

#define IPV4_DF RTE_BE16(RTE_IPV4_HDR_DF_FLAG)
#define IPV4_FRAG_MASK RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)

static bool
addr_bad_src(const struct fmq_net *n, uint32_t a)
{
	uint32_t h = rte_be_to_cpu_32(a);

	return a == n->conf.ip || h == 0xffffffff || (h >> 28) == 0xe ||
	       ((a & ~n->netmask) == ~n->netmask && n->netmask != 0xffffffff);
}

static void
icmp_input(struct fmq_net *n, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
	   uint16_t ihl)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint16_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((char *)ip + ihl);
	uint16_t sum;

	if (len < sizeof(*ic) ||
	    rte_pktmbuf_data_len(m) < sizeof(*eh) + ihl + sizeof(*ic))
		return net_drop(n, m, FMQ_NET_DROP_ICMP_SHORT);
	if (net_cksum_chain(m, sizeof(*eh) + ihl, len) != 0xffff)
		return net_drop(n, m, FMQ_NET_DROP_ICMP_BAD_CSUM);
	if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0)
		return net_drop(n, m, FMQ_NET_DROP_ICMP_UNHANDLED);

	/* Echo reply in place: swap addresses, fix the checksums. */
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ic->icmp_cksum = 0;
	sum = net_cksum_chain(m, sizeof(*eh) + ihl, len);
	ic->icmp_cksum = (sum == 0xffff) ? sum : (uint16_t)~sum;
	ip->dst_addr = ip->src_addr;
	ip->src_addr = n->conf.ip;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	rte_ether_addr_copy(&eh->src_addr, &eh->dst_addr);
	rte_ether_addr_copy(&n->conf.mac, &eh->src_addr);
	m->ol_flags = 0;
	n->st.icmp_echo++;
	net_tx_frame(n, m);
}

void
net_ipv4_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	uint32_t avail = m->pkt_len - sizeof(*eh);
	uint16_t ihl, tot;

	/* RFC 1122 3.2.1: validate before use, in header order. */
	if (rte_pktmbuf_data_len(m) < sizeof(*eh) + sizeof(*ip))
		return net_drop(n, m, FMQ_NET_DROP_IP_SHORT);
	if ((ip->version_ihl >> 4) != 4)
		return net_drop(n, m, FMQ_NET_DROP_IP_BAD_VERSION);
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (ihl < sizeof(*ip))
		return net_drop(n, m, FMQ_NET_DROP_IP_BAD_IHL);
	if (rte_pktmbuf_data_len(m) < sizeof(*eh) + ihl)
		return net_drop(n, m, FMQ_NET_DROP_IP_SHORT);
	tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < ihl || tot > avail)
		return net_drop(n, m, FMQ_NET_DROP_IP_BAD_LEN);
	if (n->conf.rx_csum_offload &&
	    (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
		    RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return net_drop(n, m, FMQ_NET_DROP_IP_BAD_CSUM);
	if (!n->conf.rx_csum_offload ||
	    (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) !=
		    RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
		if (rte_raw_cksum(ip, ihl) != 0xffff)
			return net_drop(n, m, FMQ_NET_DROP_IP_BAD_CSUM);
	}
	if (ihl != sizeof(*ip))
		return net_drop(n, m, FMQ_NET_DROP_IP_OPTIONS);
	if (ip->fragment_offset & IPV4_FRAG_MASK)
		return net_drop(n, m, FMQ_NET_DROP_IP_FRAGMENT);
	if (ip->dst_addr != n->conf.ip)
		return net_drop(n, m, FMQ_NET_DROP_IP_NOT_FOR_US);
	if (addr_bad_src(n, ip->src_addr))
		return net_drop(n, m, FMQ_NET_DROP_IP_BAD_SRC);
	/* Ethernet pads short frames: cut the frame to the IP length. */
	if (tot < avail)
		rte_pktmbuf_trim(m, (uint16_t)(avail - tot));

	/*
	 * Learn the sender's MAC for on-link peers that talk to us. This keeps
	 * replies flowing on every lcore even when the ARP exchange itself
	 * was handled by another lcore.
	 */
	if (((ip->src_addr ^ n->conf.ip) & n->netmask) == 0 &&
	    rte_is_unicast_ether_addr(&eh->src_addr))
		net_arp_learn(n, ip->src_addr, &eh->src_addr, now);

	if (ip->next_proto_id == IPPROTO_ICMP)
		return icmp_input(n, m, ip, ihl);
	if (n->l4[ip->next_proto_id] == NULL)
		return net_drop(n, m, FMQ_NET_DROP_IP_NO_PROTO);
	m->l2_len = sizeof(*eh);
	m->l3_len = ihl;
	rte_pktmbuf_adj(m, (uint16_t)(sizeof(*eh) + ihl));
	n->l4[ip->next_proto_id](n, m, ip, now);
}

bool
fmq_net_rx_l4_csum_ok(const struct fmq_net *n, struct rte_mbuf *m,
		      const struct rte_ipv4_hdr *ip)
{
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (n->conf.rx_csum_offload) {
		if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
			return true;
		if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
			return false;
	}
	/* The data starts at L4, so the L4 offset is 0. */
	uint32_t l4len = rte_be_to_cpu_16(ip->total_length) -
			 rte_ipv4_hdr_len(ip);
	uint32_t sum = net_cksum_chain(m, 0, l4len) +
		       rte_ipv4_phdr_cksum(ip, 0);

	return __rte_raw_cksum_reduce(sum) == 0xffff;
}

/*
 * Ones' complement sum of len bytes of chain m from off, correct for
 * segments of any length: each segment's sum is folded to 16 bits and
 * byte-swapped when it starts at an odd stream offset. (DPDK 22.11's
 * rte_raw_cksum_mbuf truncates the unfolded sum before the swap, which
 * gives wrong checksums for chains with odd-length inner segments.)
 */
uint16_t
net_cksum_chain(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0;

	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m != NULL && done < len) {
		uint32_t k = RTE_MIN((uint32_t)m->data_len - off, len - done);
		uint32_t s = __rte_raw_cksum(
			rte_pktmbuf_mtod_offset(m, const void *, off), k, 0);

		s = __rte_raw_cksum_reduce(s);
		if (done & 1)
			s = rte_bswap16((uint16_t)s);
		sum += s;
		done += k;
		off = 0;
		m = m->next;
	}
	return __rte_raw_cksum_reduce(sum);
}

/* TCP/UDP checksum field value for an IPv4 packet whose L4 header is at
 * l4_off in m (field zeroed by the caller). */
uint16_t
net_l4_cksum(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
	     uint32_t l4_off)
{
	uint32_t l4len = rte_be_to_cpu_16(ip->total_length) -
			 rte_ipv4_hdr_len(ip);
	uint32_t sum = net_cksum_chain(m, l4_off, l4len) +
		       rte_ipv4_phdr_cksum(ip, 0);
	uint16_t ck = (uint16_t)~__rte_raw_cksum_reduce(sum);

	if (ck == 0 && ip->next_proto_id == IPPROTO_UDP)
		ck = 0xffff;
	return ck;
}

/*
 * Whether the port may be left to fill the L4 checksum of m. net_tap (DPDK
 * 22.11) sums each segment separately without carrying the byte parity, so
 * any segment but the last with an odd length gives a wrong checksum (the
 * kernel drops those: TcpInCsumErrors). Zero-copy chains of received mbufs
 * have such segments; they get a software checksum instead. One or two
 * loads per segment, segments are few.
 */
static inline bool
l4_offload_safe(const struct rte_mbuf *m)
{
	if (m->next == NULL)
		return true;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next)
		if (s->data_len & 1)
			return false;
	return true;
}

int
fmq_net_ip_output(struct fmq_net *n, struct rte_mbuf *m, uint32_t dst,
		  uint8_t proto, uint64_t now_ns)
{
	uint16_t l4len = (uint16_t)m->pkt_len;
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;
	uint32_t nexthop;

	if (((dst ^ n->conf.ip) & n->netmask) == 0)
		nexthop = dst;
	else if (n->conf.gateway != 0)
		nexthop = n->conf.gateway;
	else {
		n->st.drop[FMQ_NET_DROP_NO_ROUTE]++;
		rte_pktmbuf_free(m);
		return -EHOSTUNREACH;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m,
			sizeof(*eh) + sizeof(*ip));
	if (unlikely(eh == NULL)) {
		n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	ip = (struct rte_ipv4_hdr *)(eh + 1);
	rte_ether_addr_copy(&n->conf.mac, &eh->src_addr);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4len));
	ip->packet_id = rte_cpu_to_be_16(n->ip_id++);
	ip->fragment_offset = IPV4_DF;
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = n->conf.ip;
	ip->dst_addr = dst;
	ip->hdr_checksum = 0;
	m->l2_len = sizeof(*eh);
	m->l3_len = sizeof(*ip);

	uint64_t l4f = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;
	uint16_t *l4sum = NULL;
	if (l4f == RTE_MBUF_F_TX_TCP_CKSUM)
		l4sum = (uint16_t *)((char *)(ip + 1) + 16);
	else if (l4f == RTE_MBUF_F_TX_UDP_CKSUM)
		l4sum = (uint16_t *)((char *)(ip + 1) + 6);

	if (n->conf.tx_csum_offload && l4sum != NULL && !l4_offload_safe(m)) {
		/* Checksum in software for this one; the IPv4 header is
		 * still offloaded. */
		*l4sum = 0;
		*l4sum = net_l4_cksum(m, ip, sizeof(*eh) + sizeof(*ip));
		m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
		l4sum = NULL;
		n->st.tx_sw_l4_csum++;
	}
	if (n->conf.tx_csum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		if (l4sum != NULL)
			*l4sum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		if (l4sum != NULL) {
			*l4sum = 0;
			*l4sum = net_l4_cksum(m, ip,
					      sizeof(*eh) + sizeof(*ip));
		}
		m->ol_flags &= ~(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4 |
				 RTE_MBUF_F_TX_IP_CKSUM);
	}
	net_arp_resolve_and_send(n, m, nexthop, now_ns);
	return 0;
}
