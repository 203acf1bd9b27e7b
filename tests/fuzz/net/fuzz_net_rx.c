/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the packet input path of lib/net. The input is a
 * script of records; each record is one of
 *   0x00 len16 bytes   a raw frame (anything at all)
 *   0x01 len16 bytes   a TCP segment from the peer: valid Ethernet and
 *                      IPv4 headers are put in front and the TCP checksum
 *                      is fixed, so the state machine, options, reassembly
 *                      and timers are reached, not just the checksum
 *   0x02 ms8           advance the fake clock and poll (timers)
 *   0x03 op8           an upper-layer call on the newest connection
 *                      (send, close, abort, pause, resume)
 * A fresh stack (listener on 5000, echo on 7, discard on 9, the first
 * connection's ISS fixed at 1000) runs each input;
 * afterwards every mbuf must be back in the pool (leaks abort).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "fmq_net.h"

static struct rte_mempool *pool;
static const struct rte_ether_addr our_mac = {{ 0x02, 0, 0, 0, 0, 2 }};
static const struct rte_ether_addr peer_mac = {{ 0x02, 0, 0, 0, 0, 1 }};
#define OUR_IP RTE_BE32(0x0a000002)
#define PEER_IP RTE_BE32(0x0a000001)

static fmq_tcp_conn_t last_conn = FMQ_TCP_INVALID;

static uint16_t
drop_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	(void)arg;
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

static int
on_accept(struct fmq_net *n, fmq_tcp_conn_t c, void *arg, void **user)
{
	(void)n;
	(void)arg;
	(void)user;
	last_conn = c;
	return 0;
}

static void
on_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user, struct rte_mbuf *m)
{
	(void)user;
	if (m == NULL) {
		fmq_tcp_close(n, c);
		return;
	}
	/* Hold nothing: answer with the same bytes (zero-copy) or drop. */
	if (m->pkt_len & 1)
		fmq_tcp_send(n, c, m);
	else
		rte_pktmbuf_free(m);
}

static void
on_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user, int reason)
{
	(void)n;
	(void)user;
	(void)reason;
	if (c == last_conn)
		last_conn = FMQ_TCP_INVALID;
}

static const struct fmq_tcp_callbacks cb = {
	.accepted = on_accept, .data = on_data, .closed = on_closed,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *eal[] = { "fuzz", "--no-huge", "--no-pci", "--no-shconf",
			"-m", "256", "--log-level=error", "-l", "0",
			"--no-telemetry", NULL };

	(void)argc;
	(void)argv;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0)
		abort();
	pool = rte_pktmbuf_pool_create("fuzz_pool", 4095, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		abort();
	fmq_log_set_level(FMQ_LOG_ERR);
	return 0;
}

static struct rte_mbuf *
raw_frame(const uint8_t *p, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t room;

	if (m == NULL)
		return NULL;
	room = rte_pktmbuf_tailroom(m);
	if (len > room)
		len = room;
	memcpy(rte_pktmbuf_append(m, len), p, len);
	return m;
}

static struct rte_mbuf *
tcp_frame(const uint8_t *p, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;
	uint16_t room;

	if (m == NULL)
		return NULL;
	room = (uint16_t)(rte_pktmbuf_tailroom(m) - sizeof(*eh) - sizeof(*ip));
	if (len > room)
		len = room;
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			(uint16_t)(sizeof(*eh) + sizeof(*ip) + len));
	ip = (struct rte_ipv4_hdr *)(eh + 1);
	eh->dst_addr = our_mac;
	eh->src_addr = peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = PEER_IP;
	ip->dst_addr = OUR_IP;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memcpy(ip + 1, p, len);
	if (len >= sizeof(struct rte_tcp_hdr)) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
		th->cksum = 0;
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	}
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fmq_net_conf c = {
		.ip = OUR_IP, .prefix = 24, .mac = our_mac, .mtu = 1500,
		.tcp = { .max_conns = 64, .syn_backlog = 16, .ooo_max = 32,
			 .rcv_buf = 16384, .snd_buf = 16384 },
		.services = { { FMQ_NET_SVC_ECHO, 7 },
			      { FMQ_NET_SVC_DISCARD, 9 } },
		.nb_services = 2,
	};
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t now = 1000000000ull;
	struct fmq_net *n;
	size_t i = 0;

	/* Odd first byte: checksums and impairment paths too. */
	if (size > 0 && (data[0] & 0x80)) {
		c.rx_csum_offload = true;
		c.impair.rx.reorder = 0.2;
		c.impair.tx.duplicate = 0.1;
		c.impair.seed = data[0];
	}
	n = fmq_net_create(&c, pool, 0, 0, SOCKET_ID_ANY);
	if (n == NULL)
		abort();
	fmq_net_set_tx(n, drop_tx, NULL);
	fmq_tcp_listen(n, 5000, &cb, NULL);
	/* Fixed ISS so inputs can complete handshakes (our ISS is 1000). */
	fmq_tcp_test_set_iss(n, 1000);
	last_conn = FMQ_TCP_INVALID;
	while (i + 1 <= size) {
		uint8_t kind = data[i++] & 3;
		struct rte_mbuf *m = NULL;

		if (kind == 2) {
			if (i >= size)
				break;
			now += (uint64_t)data[i++] * 4000000ull;
			fmq_net_poll(n, now);
			continue;
		}
		if (kind == 3) {
			if (i >= size)
				break;
			uint8_t op = data[i++];
			if (last_conn == FMQ_TCP_INVALID)
				continue;
			switch (op % 5) {
			case 0: {
				struct rte_mbuf *d = rte_pktmbuf_alloc(pool);
				if (d != NULL) {
					memset(rte_pktmbuf_append(d, (uint16_t)(op * 7 + 1)),
					       op, (size_t)(op * 7 + 1));
					fmq_tcp_send(n, last_conn, d);
				}
				break;
			}
			case 1: fmq_tcp_close(n, last_conn); break;
			case 2:
				fmq_tcp_abort(n, last_conn);
				last_conn = FMQ_TCP_INVALID;
				break;
			case 3: fmq_tcp_pause_rx(n, last_conn, true); break;
			default: fmq_tcp_pause_rx(n, last_conn, false); break;
			}
			fmq_net_poll(n, now);
			continue;
		}
		if (i + 2 > size)
			break;
		uint16_t len = (uint16_t)(data[i] | data[i + 1] << 8);
		i += 2;
		if (len > size - i)
			len = (uint16_t)(size - i);
		m = kind == 0 ? raw_frame(data + i, len) : tcp_frame(data + i, len);
		i += len;
		if (m != NULL)
			fmq_net_rx(n, &m, 1, now);
	}
	/* Run the clock out: every timer fires, TIME_WAIT ends. */
	for (int k = 0; k < 8; k++) {
		now += 30ull * 1000000000ull;
		fmq_net_poll(n, now);
	}
	fmq_net_free(n);
	if (rte_mempool_in_use_count(pool) != base) {
		fprintf(stderr, "mbuf leak: %u in use, baseline %u\n",
			rte_mempool_in_use_count(pool), base);
		abort();
	}
	return 0;
}
