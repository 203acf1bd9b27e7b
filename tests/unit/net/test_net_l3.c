/* SPDX-License-Identifier: Apache-2.0 */
/* Ethernet, ARP, IPv4 and ICMP: crafted frames in, emitted frames checked. */
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_arp.h>
#include <rte_icmp.h>

#include "net_test_util.h"
#include "harness.h"

static struct nt_capture cap;
static struct fmq_net *net;
static uint64_t now = 1000000000ull;

static int
suite_init(void)
{
	net = nt_net_create(&cap);
	return net == NULL;
}

static int
suite_fini(void)
{
	nt_capture_clear(&cap);
	fmq_net_free(net);
	return 0;
}

static uint64_t
drops(enum fmq_net_drop why)
{
	return fmq_net_stats(net)->drop[why];
}

static void
rx1(struct rte_mbuf *m)
{
	fmq_net_rx(net, &m, 1, now);
}

/* Expect exactly one drop of reason why and nothing emitted. */
static void
expect_drop(struct rte_mbuf *m, enum fmq_net_drop why)
{
	uint64_t before = drops(why);

	nt_capture_clear(&cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	rx1(m);
	CU_ASSERT_EQUAL(drops(why), before + 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	if (drops(why) != before + 1)
		fprintf(stderr, "expected drop %s\n", fmq_net_drop_name(why));
}

static struct rte_mbuf *
arp_frame(uint16_t op, uint32_t sip, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nt_pool);
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, sizeof(*eh) + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

	memset(&eh->dst_addr, 0xff, 6);
	eh->src_addr = nt_peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 6;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	ah->arp_data.arp_sha = nt_peer_mac;
	ah->arp_data.arp_sip = sip;
	memset(&ah->arp_data.arp_tha, 0, 6);
	ah->arp_data.arp_tip = tip;
	return m;
}

static void
test_arp_reply(void)
{
	nt_capture_clear(&cap);
	rx1(arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip));
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(cap.pkts[0],
						    struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	CU_ASSERT(rte_is_same_ether_addr(&eh->dst_addr, &nt_peer_mac));
	CU_ASSERT(rte_is_same_ether_addr(&eh->src_addr, &nt_our_mac));
	CU_ASSERT_EQUAL(ah->arp_opcode, RTE_BE16(RTE_ARP_OP_REPLY));
	CU_ASSERT_EQUAL(ah->arp_data.arp_sip, nt_our_ip);
	CU_ASSERT_EQUAL(ah->arp_data.arp_tip, nt_peer_ip);
	CU_ASSERT(rte_is_same_ether_addr(&ah->arp_data.arp_sha, &nt_our_mac));
	CU_ASSERT(rte_is_same_ether_addr(&ah->arp_data.arp_tha, &nt_peer_mac));
	nt_capture_clear(&cap);
}

static void
test_arp_malformed(void)
{
	struct rte_mbuf *m;
	struct rte_arp_hdr *ah;

	expect_drop(arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip,
			      RTE_BE32(0x0a000009)), FMQ_NET_DROP_ARP_NOT_FOR_US);
	m = arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip);
	rte_pktmbuf_trim(m, 10);
	expect_drop(m, FMQ_NET_DROP_ARP_SHORT);
	m = arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
	ah->arp_hardware = RTE_BE16(6); /* IEEE 802 */
	expect_drop(m, FMQ_NET_DROP_ARP_BAD_HW);
	m = arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
	ah->arp_hlen = 8;
	expect_drop(m, FMQ_NET_DROP_ARP_BAD_HW);
	m = arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
	ah->arp_protocol = RTE_BE16(0x86dd);
	expect_drop(m, FMQ_NET_DROP_ARP_BAD_PROTO);
	expect_drop(arp_frame(9, nt_peer_ip, nt_our_ip),
		    FMQ_NET_DROP_ARP_BAD_OP);
	expect_drop(arp_frame(RTE_ARP_OP_REQUEST, nt_our_ip, nt_our_ip),
		    FMQ_NET_DROP_ARP_BAD_SENDER);
	m = arp_frame(RTE_ARP_OP_REQUEST, nt_peer_ip, nt_our_ip);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
	memset(&ah->arp_data.arp_sha, 0xff, 6);
	expect_drop(m, FMQ_NET_DROP_ARP_BAD_SENDER);
}

static void
test_eth_malformed(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nt_pool);
	struct rte_ether_hdr *eh;

	rte_pktmbuf_append(m, 8);
	expect_drop(m, FMQ_NET_DROP_ETH_SHORT);
	m = nt_ipv4_frame(nt_peer_ip, nt_our_ip, IPPROTO_ICMP, NULL, 0);
	eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eh->dst_addr.addr_bytes[5] = 0x77;
	expect_drop(m, FMQ_NET_DROP_ETH_NOT_FOR_US);
	m = nt_ipv4_frame(nt_peer_ip, nt_our_ip, IPPROTO_ICMP, NULL, 0);
	eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	expect_drop(m, FMQ_NET_DROP_ETH_UNKNOWN_TYPE);
}

static struct rte_mbuf *
echo_request(uint16_t len)
{
	uint8_t buf[1400];
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)buf;

	memset(buf, 0x5a, sizeof(buf));
	ic->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	ic->icmp_code = 0;
	ic->icmp_ident = RTE_BE16(0x1234);
	ic->icmp_seq_nb = RTE_BE16(7);
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(buf, len);
	return nt_ipv4_frame(nt_peer_ip, nt_our_ip, IPPROTO_ICMP, buf, len);
}

static void
test_icmp_echo(void)
{
	nt_capture_clear(&cap);
	rx1(echo_request(64));
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	struct rte_mbuf *m = cap.pkts[0];
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip + 1);
	CU_ASSERT(rte_is_same_ether_addr(&eh->dst_addr, &nt_peer_mac));
	CU_ASSERT_EQUAL(ip->src_addr, nt_our_ip);
	CU_ASSERT_EQUAL(ip->dst_addr, nt_peer_ip);
	CU_ASSERT_EQUAL(rte_raw_cksum(ip, 20), 0xffff);
	CU_ASSERT_EQUAL(ic->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	CU_ASSERT_EQUAL(rte_raw_cksum(ic, 64), 0xffff);
	CU_ASSERT_EQUAL(ic->icmp_seq_nb, RTE_BE16(7));
	CU_ASSERT_EQUAL(m->pkt_len, 14 + 20 + 64);
	nt_capture_clear(&cap);
}

static void
test_ip_malformed(void)
{
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *ic;

#define IPH(m) rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)
#define RESUM(ip) do { (ip)->hdr_checksum = 0; \
	(ip)->hdr_checksum = rte_ipv4_cksum(ip); } while (0)
	m = echo_request(64);
	rte_pktmbuf_trim(m, m->pkt_len - 20);
	expect_drop(m, FMQ_NET_DROP_IP_SHORT);
	m = echo_request(64);
	ip = IPH(m); ip->version_ihl = 0x65; RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_VERSION);
	m = echo_request(64);
	ip = IPH(m); ip->version_ihl = 0x44; RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_IHL);
	m = echo_request(8);
	ip = IPH(m); ip->version_ihl = 0x4f; RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_SHORT); /* 60-byte header > frame data */
	m = echo_request(64);
	ip = IPH(m); ip->total_length = RTE_BE16(2000); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_LEN);
	m = echo_request(64);
	ip = IPH(m); ip->total_length = RTE_BE16(10); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_LEN);
	m = echo_request(64);
	ip = IPH(m); ip->hdr_checksum ^= 0x0101;
	expect_drop(m, FMQ_NET_DROP_IP_BAD_CSUM);
	m = echo_request(64);
	ip = IPH(m); ip->version_ihl = 0x46; RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_OPTIONS);
	m = echo_request(64);
	ip = IPH(m); ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_FRAGMENT);
	m = echo_request(64);
	ip = IPH(m); ip->fragment_offset = RTE_BE16(100); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_FRAGMENT);
	m = echo_request(64);
	ip = IPH(m); ip->dst_addr = RTE_BE32(0x0a000003); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_NOT_FOR_US);
	m = echo_request(64);
	ip = IPH(m); ip->src_addr = RTE_BE32(0xffffffff); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_SRC);
	m = echo_request(64);
	ip = IPH(m); ip->src_addr = RTE_BE32(0xe0000001); RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_BAD_SRC);
	m = echo_request(64);
	ip = IPH(m); ip->next_proto_id = 200; RESUM(ip);
	expect_drop(m, FMQ_NET_DROP_IP_NO_PROTO);
	m = echo_request(64);
	ic = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	ic->icmp_cksum ^= 1;
	expect_drop(m, FMQ_NET_DROP_ICMP_BAD_CSUM);
	m = echo_request(6);
	expect_drop(m, FMQ_NET_DROP_ICMP_SHORT);
	m = echo_request(64);
	ic = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	ic->icmp_type = 13; /* timestamp */
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, 64);
	expect_drop(m, FMQ_NET_DROP_ICMP_UNHANDLED);
#undef IPH
#undef RESUM
}

static void
test_padded_frame_trimmed(void)
{
	struct rte_mbuf *m = echo_request(8);

	/* Minimum Ethernet frame: 60 bytes, padding after the IP packet. */
	memset(rte_pktmbuf_append(m, 60 - m->pkt_len), 0, 60 - 42);
	nt_capture_clear(&cap);
	rx1(m);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(cap.pkts[0]->pkt_len, 14 + 20 + 8);
	nt_capture_clear(&cap);
}

static void
test_ip_output_arp(void)
{
	struct rte_mbuf *m;
	uint32_t other = RTE_BE32(0x0a000005);
	uint64_t t = now;

	nt_capture_clear(&cap);
	/* Unresolved next hop: one ARP request out, the packet is held. */
	m = rte_pktmbuf_alloc(nt_pool);
	memset(rte_pktmbuf_append(m, 10), 1, 10);
	CU_ASSERT_EQUAL(fmq_net_ip_output(net, m, other, 253, t), 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 1);  /* waiting for ARP */
	fmq_net_poll(net, t);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(cap.pkts[0],
						    struct rte_ether_hdr *);
	CU_ASSERT_EQUAL(eh->ether_type, RTE_BE16(RTE_ETHER_TYPE_ARP));
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	CU_ASSERT_EQUAL(ah->arp_data.arp_tip, other);
	nt_capture_clear(&cap);

	/* Retries, then give up and count the held packet. */
	uint64_t before = drops(FMQ_NET_DROP_ARP_UNRESOLVED);
	for (int i = 0; i < 6; i++) {
		t += 1100ull * 1000 * 1000;
		fmq_net_poll(net, t);
	}
	CU_ASSERT_EQUAL(cap.n, 3); /* ARP_MAX_RETRIES re-requests */
	CU_ASSERT_EQUAL(drops(FMQ_NET_DROP_ARP_UNRESOLVED), before + 1);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
	nt_capture_clear(&cap);

	/* Resolved by an ARP reply: the held packet goes out to that MAC. */
	m = rte_pktmbuf_alloc(nt_pool);
	memset(rte_pktmbuf_append(m, 10), 1, 10);
	fmq_net_ip_output(net, m, nt_peer_ip, 253, t);
	nt_capture_clear(&cap); /* the request */
	rx1(arp_frame(RTE_ARP_OP_REPLY, nt_peer_ip, nt_our_ip));
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	eh = rte_pktmbuf_mtod(cap.pkts[0], struct rte_ether_hdr *);
	CU_ASSERT(rte_is_same_ether_addr(&eh->dst_addr, &nt_peer_mac));
	CU_ASSERT_EQUAL(eh->ether_type, RTE_BE16(RTE_ETHER_TYPE_IPV4));
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	CU_ASSERT_EQUAL(rte_raw_cksum(ip, 20), 0xffff);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->total_length), 30);
	nt_capture_clear(&cap);

	/* Off-subnet without a gateway: no route. */
	m = rte_pktmbuf_alloc(nt_pool);
	rte_pktmbuf_append(m, 10);
	CU_ASSERT_EQUAL(fmq_net_ip_output(net, m, RTE_BE32(0x08080808), 253, t),
			-EHOSTUNREACH);
}

static void
test_no_leak(void)
{
	nt_capture_clear(&cap);
	fmq_net_free(net);
	CU_ASSERT_EQUAL(nt_pool_in_use(), 0);
	net = nt_net_create(&cap);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (nt_eal_init() < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("net-l3", suite_init, suite_fini);
	CU_add_test(s, "ARP request -> reply", test_arp_reply);
	CU_add_test(s, "ARP malformed -> counted drops", test_arp_malformed);
	CU_add_test(s, "Ethernet malformed -> counted drops", test_eth_malformed);
	CU_add_test(s, "ICMP echo -> reply", test_icmp_echo);
	CU_add_test(s, "IPv4/ICMP malformed -> counted drops", test_ip_malformed);
	CU_add_test(s, "padded frame trimmed", test_padded_frame_trimmed);
	CU_add_test(s, "IP output resolves ARP, holds, gives up", test_ip_output_arp);
	CU_add_test(s, "no mbuf leaked", test_no_leak);
	int fails = fmq_test_run(argc, argv);
	return fails;
}
