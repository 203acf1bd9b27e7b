/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "tcp_script.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void
ts_opt_raw(struct ts_seg *s, const uint8_t *b, uint8_t len)
{
	memcpy(s->opts + s->olen, b, len);
	s->olen = (uint8_t)(s->olen + len);
	while (s->olen % 4)
		s->opts[s->olen++] = 1;
}

void
ts_opt_linux_syn(struct ts_seg *s, uint32_t tsval)
{
	uint8_t o[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0,
			  0, 0, 0, 0, 1, 3, 3, 10 };

	put32(o + 8, tsval);
	ts_opt_raw(s, o, 20);
}

void
ts_opt_ts(struct ts_seg *s, uint32_t tsval, uint32_t tsecr)
{
	uint8_t o[12] = { 1, 1, 8, 10 };

	put32(o + 4, tsval);
	put32(o + 8, tsecr);
	ts_opt_raw(s, o, 12);
}

void
ts_opt_sack(struct ts_seg *s, const uint32_t (*blk)[2], unsigned int n)
{
	uint8_t o[36] = { 1, 1, 5, (uint8_t)(2 + 8 * n) };

	for (unsigned int i = 0; i < n; i++) {
		put32(o + 4 + 8 * i, blk[i][0]);
		put32(o + 8 + 8 * i, blk[i][1]);
	}
	ts_opt_raw(s, o, (uint8_t)(4 + 8 * n));
}

struct rte_mbuf *
ts_frame(const struct ts_seg *s)
{
	uint16_t hl = (uint16_t)(20 + s->olen);
	uint8_t buf[2048];
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)buf;
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;

	memset(buf, 0, hl);
	th->src_port = rte_cpu_to_be_16(s->sport);
	th->dst_port = rte_cpu_to_be_16(s->dport);
	th->sent_seq = rte_cpu_to_be_32(s->seq);
	th->recv_ack = rte_cpu_to_be_32(s->ack);
	th->data_off = (uint8_t)((hl / 4) << 4);
	th->tcp_flags = s->flags;
	th->rx_win = rte_cpu_to_be_16(s->win);
	memcpy(buf + 20, s->opts, s->olen);
	if (s->len)
		memcpy(buf + hl, s->data, s->len);
	m = nt_ipv4_frame(nt_peer_ip, nt_our_ip, IPPROTO_TCP, buf,
			  (uint16_t)(hl + s->len));
	if (m == NULL)
		return NULL;
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	th = (struct rte_tcp_hdr *)(ip + 1);
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	return m;
}

bool
ts_parse(struct rte_mbuf *m, struct ts_out *o)
{
	uint8_t hdr[14 + 20 + 60];
	const uint8_t *p;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	unsigned int hl, i;

	memset(o, 0, sizeof(*o));
	if (m->pkt_len < 54)
		return false;
	p = rte_pktmbuf_read(m, 0, m->pkt_len < sizeof(hdr) ? m->pkt_len :
			     sizeof(hdr), hdr);
	if (((const struct rte_ether_hdr *)p)->ether_type !=
	    RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return false;
	ip = (const struct rte_ipv4_hdr *)(p + 14);
	if (ip->next_proto_id != IPPROTO_TCP)
		return false;
	th = (const struct rte_tcp_hdr *)(ip + 1);
	hl = (th->data_off >> 4) * 4u;
	o->sport = rte_be_to_cpu_16(th->src_port);
	o->dport = rte_be_to_cpu_16(th->dst_port);
	o->flags = th->tcp_flags;
	o->seq = rte_be_to_cpu_32(th->sent_seq);
	o->ack = rte_be_to_cpu_32(th->recv_ack);
	o->win = rte_be_to_cpu_16(th->rx_win);
	o->len = rte_be_to_cpu_16(ip->total_length) - 20 - hl;
	if (o->len > sizeof(o->data))
		return false;
	if (o->len > 0) {
		const void *d = rte_pktmbuf_read(m, 34 + hl, o->len, o->data);
		if (d != o->data)
			memcpy(o->data, d, o->len);
	}
	{
		/* Verify on a flat copy (independent of the stack's chain
		 * checksum code). */
		static uint8_t flat[2048];
		const uint8_t *f = rte_pktmbuf_read(m, 0, m->pkt_len, flat);
		const struct rte_ipv4_hdr *fip =
			(const struct rte_ipv4_hdr *)(f + 14);

		o->csum_ok = rte_ipv4_udptcp_cksum_verify(fip, fip + 1) == 0;
		o->ipsum_ok = rte_raw_cksum(fip, 20) == 0xffff;
	}
	for (i = 20; i < hl;) {
		const uint8_t *q = (const uint8_t *)th + i;
		if (q[0] == 0)
			break;
		if (q[0] == 1) {
			i++;
			continue;
		}
		switch (q[0]) {
		case 2: o->has_mss = true; o->mss = (uint16_t)(q[2] << 8 | q[3]); break;
		case 3: o->has_ws = true; o->ws = q[2]; break;
		case 4: o->sack_ok = true; break;
		case 8: o->has_ts = true; o->tsval = get32(q + 2);
			o->tsecr = get32(q + 6); break;
		case 5:
			o->nsack = (q[1] - 2u) / 8;
			for (unsigned int b = 0; b < o->nsack && b < 4; b++) {
				o->sack[b][0] = get32(q + 2 + 8 * b);
				o->sack[b][1] = get32(q + 6 + 8 * b);
			}
			break;
		}
		i += q[1];
	}
	return true;
}
