/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP output: segment building (options, window), the send queue, data
 * transmission within min(cwnd, snd_wnd), SYN/FIN (which retransmit like
 * data: they occupy sequence space below snd_max), ACKs, probes and RSTs.
 *
 * Zero copy: a data segment is one header mbuf from the pool followed by
 * indirect mbufs attached (rte_pktmbuf_attach) to the app's mbufs in the
 * send queue; external-buffer mbufs are attached the same way (their
 * shared-info refcount is taken). The queue itself is only unlinked and
 * freed when the peer acknowledges it.
 */
#include <errno.h>
#include <string.h>

#include "tcp_priv.h"

#define TCP_HDR_MAX 60

uint32_t
tcp_rcv_space(const struct fmq_net *n, const struct tcp_conn *c)
{
	const struct tcp_ctx *t = n->tcp;
	uint32_t used = c->rq_bytes + c->ooo_bytes, buf = t->p.rcv_buf;
	uint32_t charge = (c->rq_segs + c->ooo_segs) * TCP_MBUF_CHARGE;
	uint32_t space;

	if (charge > used)
		used = charge;
	space = used >= buf ? 0 : buf - used;
	if (t->mem_share != UINT32_MAX) {
		uint32_t own = tcp_conn_bytes(c);
		uint32_t fair = t->mem_share > own ? t->mem_share - own : 0;

		/* Pressure made by others never starves a connection
		 * whose app waits for these bytes to finish a request. */
		if (fair < c->rx_resv)
			fair = c->rx_resv;
		if (fair < space)
			space = fair;
	}
	return space;
}

/* Window to advertise (unscaled value, already rounded to the scale);
 * moves rcv_adv, never backwards (RFC 9293 3.8.6.2.2). */
static uint32_t
rcv_window(struct fmq_net *n, struct tcp_conn *c)
{
	uint32_t space = tcp_rcv_space(n, c), wnd;
	uint32_t sws = c->rmss < n->tcp->p.rcv_buf / 4 ?
		c->rmss : n->tcp->p.rcv_buf / 4;

	/* Receiver silly-window avoidance: don't offer crumbs. */
	if (space < sws)
		space = 0;
	if (space > (65535u << c->rcv_wscale))
		space = 65535u << c->rcv_wscale;
	wnd = space >> c->rcv_wscale << c->rcv_wscale;
	if (seq_lt(c->rcv_nxt + wnd, c->rcv_adv))
		wnd = c->rcv_adv - c->rcv_nxt;
	else
		c->rcv_adv = c->rcv_nxt + wnd;
	return wnd;
}

/* Payload that fits a segment now: SACK blocks take option space that
 * the MSS (already net of timestamps) did not reserve, and a frame past
 * the MTU is refused by the port. */
static uint32_t
seg_room(const struct tcp_conn *c)
{
	uint32_t room = c->smss;

	if ((c->flags & TF_SACK) &&
	    (c->ooo_head != NULL || (c->flags & TF_DSACK)))
		room -= 4 + 8 * ((c->flags & TF_TS) ? 3 : 4);
	return room;
}

/* Find the send-queue mbuf holding seq; *off is the offset in it. */
static struct rte_mbuf *
sq_find(struct tcp_conn *c, uint32_t seq, uint32_t *off)
{
	struct rte_mbuf *cur = c->sq_cur;
	uint32_t cs = c->sq_cur_seq;

	if (cur == NULL || seq_lt(seq, cs)) {
		cur = c->sq_head;
		cs = c->sq_seq;
	}
	while (cur != NULL && seq_geq(seq, cs + cur->data_len)) {
		cs += cur->data_len;
		cur = cur->next;
	}
	c->sq_cur = cur;
	c->sq_cur_seq = cs;
	*off = seq - cs;
	return cur;
}

/* Attach len bytes of the send queue from seq behind header mbuf hm. */
static int
attach_payload(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *hm,
	       uint32_t seq, uint32_t len)
{
	struct rte_mbuf *tail = hm, *cur;
	uint32_t off;

	cur = sq_find(c, seq, &off);
	while (len > 0 && cur != NULL) {
		uint32_t take = cur->data_len - off;
		struct rte_mbuf *mi;

		if (take == 0) {
			cur = cur->next;
			off = 0;
			continue;
		}
		if (take > len)
			take = len;
		mi = rte_pktmbuf_alloc(n->mp);
		if (mi == NULL)
			return -ENOBUFS;
		rte_pktmbuf_attach(mi, cur);
		mi->data_off = (uint16_t)(mi->data_off + off);
		mi->data_len = (uint16_t)take;
		mi->pkt_len = take;
		mi->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
		tail->next = mi;
		tail = mi;
		hm->nb_segs++;
		hm->pkt_len += take;
		len -= take;
		off = 0;
		cur = cur->next;
	}
	return len == 0 ? 0 : -EINVAL;
}

/* Write options; returns their length (multiple of 4). */
static unsigned int
write_opts(struct fmq_net *n, struct tcp_conn *c, uint8_t *o, uint8_t flags)
{
	struct tcp_ctx *t = n->tcp;
	unsigned int i = 0;
	uint32_t tsval = tcp_ms(t->now);

	if (flags & TH_SYN) {
		bool active = c->state == TCP_SYN_SENT;
		bool ts = active ? t->p.ts : (c->flags & TF_TS) != 0;
		bool sack = active ? t->p.sack : (c->flags & TF_SACK) != 0;
		bool ws = active ? t->p.ws : (c->flags & TF_WS) != 0;
		uint16_t mss = (uint16_t)((n->conf.mtu ? n->conf.mtu : 1500) - 40);

		o[i++] = TCPOPT_MSS;
		o[i++] = 4;
		o[i++] = (uint8_t)(mss >> 8);
		o[i++] = (uint8_t)mss;
		if (sack && ts) {
			o[i++] = TCPOPT_SACK_PERM;
			o[i++] = 2;
		} else if (ts) {
			o[i++] = TCPOPT_NOP;
			o[i++] = TCPOPT_NOP;
		}
		if (ts) {
			uint32_t ecr = active ? 0 : c->ts_recent;
			o[i++] = TCPOPT_TS;
			o[i++] = 10;
			put_be32(&o[i], tsval);
			put_be32(&o[i + 4], ecr);
			i += 8;
		} else if (sack) {
			o[i++] = TCPOPT_NOP;
			o[i++] = TCPOPT_NOP;
			o[i++] = TCPOPT_SACK_PERM;
			o[i++] = 2;
		}
		if (ws) {
			o[i++] = TCPOPT_NOP;
			o[i++] = TCPOPT_WS;
			o[i++] = 3;
			o[i++] = c->rcv_wscale;
		}
		return i;
	}
	if (c->flags & TF_TS) {
		o[i++] = TCPOPT_NOP;
		o[i++] = TCPOPT_NOP;
		o[i++] = TCPOPT_TS;
		o[i++] = 10;
		put_be32(&o[i], tsval);
		put_be32(&o[i + 4], c->ts_recent);
		i += 8;
	}
	if ((c->flags & TF_SACK) &&
	    (c->ooo_head != NULL || (c->flags & TF_DSACK)) &&
	    !(flags & TH_RST)) {
		uint32_t blk[TCP_MAX_SACK][2];
		unsigned int max = (c->flags & TF_TS) ? 3 : 4, nb = 0;

		/* A duplicate first (RFC 2883 4), reported once. */
		if (c->flags & TF_DSACK) {
			c->flags &= ~TF_DSACK;
			blk[0][0] = c->dsack_lo;
			blk[0][1] = c->dsack_hi;
			nb = 1;
		}
		nb += tcp_sack_blocks(c, blk + nb, max - nb);

		o[i++] = TCPOPT_NOP;
		o[i++] = TCPOPT_NOP;
		o[i++] = TCPOPT_SACK;
		o[i++] = (uint8_t)(2 + 8 * nb);
		for (unsigned int b = 0; b < nb; b++) {
			put_be32(&o[i], blk[b][0]);
			put_be32(&o[i + 4], blk[b][1]);
			i += 8;
		}
	}
	return i;
}

/*
 * Build and send one segment of conn c: seq, flags, and len payload bytes
 * from the send queue at seq. Returns 0 or -ENOBUFS (counted).
 */
static int
send_segment(struct fmq_net *n, struct tcp_conn *c, uint32_t seq,
	     uint8_t flags, uint32_t len)
{
	struct rte_mbuf *hm = rte_pktmbuf_alloc(n->mp);
	struct rte_tcp_hdr *th;
	uint8_t opts[40];
	unsigned int olen, hlen;
	uint32_t wnd;

	if (hm == NULL) {
		n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
		return -ENOBUFS;
	}
	olen = write_opts(n, c, opts, flags);
	hlen = sizeof(*th) + olen;
	th = (struct rte_tcp_hdr *)rte_pktmbuf_append(hm, (uint16_t)hlen);
	th->src_port = c->key.lport;
	th->dst_port = c->key.rport;
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = (flags & TH_ACK) ? rte_cpu_to_be_32(c->rcv_nxt) : 0;
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = flags;
	if (flags & TH_SYN) {
		uint32_t w = tcp_rcv_space(n, c);
		wnd = w > 65535 ? 65535 : w;
		c->rcv_adv = c->rcv_nxt + wnd;
		th->rx_win = rte_cpu_to_be_16((uint16_t)wnd);
	} else if (flags & TH_RST) {
		th->rx_win = 0;
	} else {
		wnd = rcv_window(n, c);
		th->rx_win = rte_cpu_to_be_16((uint16_t)(wnd >> c->rcv_wscale));
	}
	th->cksum = 0;
	th->tcp_urp = 0;
	memcpy(th + 1, opts, olen);
	if (len > 0 && attach_payload(n, c, hm, seq, len) < 0) {
		rte_pktmbuf_free(hm);
		n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
		return -ENOBUFS;
	}
	hm->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM;
	hm->l4_len = (uint8_t)hlen;
	if (flags & TH_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->flags &= ~(TF_ACK_NOW | TF_DELACK);
		c->delack_at = 0;
		c->unacked = 0;
	}
	n->st.tcp_seg_out++;
	fmq_net_ip_output(n, hm, c->key.rip, IPPROTO_TCP, n->tcp->now);
	return 0;
}

/* A bare ACK carries snd_max, the next new byte, as BSD and Linux send
 * it: after a timeout snd_nxt has gone back to snd_una, and an ACK
 * numbered there lies below the peer's RCV.NXT, where Linux drops it as
 * an old segment (its ACK and window unread). */
void
tcp_send_ack(struct fmq_net *n, struct tcp_conn *c)
{
	send_segment(n, c, seq_gt(c->snd_max, c->snd_nxt) ? c->snd_max :
		     c->snd_nxt, TH_ACK, 0);
}

/* Resend the oldest unacknowledged segment (fast retransmit, NewReno
 * partial ACK) without moving snd_nxt. */
void
tcp_retransmit_head(struct fmq_net *n, struct tcp_conn *c)
{
	tcp_retransmit_at(n, c, c->snd_una);
	tcp_rto_arm(n, c);
}

/* Resend one segment's worth from seq (already sent once). */
void
tcp_retransmit_at(struct fmq_net *n, struct tcp_conn *c, uint32_t seq)
{
	uint32_t len;
	uint8_t fl = TH_ACK;

	if (!seq_lt(seq, c->snd_max))
		return;
	if (seq_lt(seq, c->sq_end)) {
		len = c->sq_end - seq;
		if (len > seg_room(c))
			len = seg_room(c);
		if (seq + len == c->sq_end && (c->flags & TF_FIN_QUEUED) &&
		    seq_gt(c->snd_max, c->sq_end))
			fl |= TH_FIN;
	} else if ((c->flags & TF_FIN_QUEUED) && seq == c->sq_end) {
		len = 0;
		fl |= TH_FIN;
	} else {
		return;
	}
	if (len > c->snd_max - seq)
		len = c->snd_max - seq;
	if (send_segment(n, c, seq, fl, len) == 0) {
		n->st.tcp_retrans_bytes += len;
		if (c->flags & TF_RECOVERY)
			c->undo_retrans++;
	}
	c->flags &= ~TF_RTT_TIMING;     /* Karn */
}

/* Keepalive / zero-window probe: an old sequence number makes the peer
 * answer with an ACK that carries its current window. */
void
tcp_send_probe(struct fmq_net *n, struct tcp_conn *c)
{
	send_segment(n, c, c->snd_una - 1, TH_ACK, 0);
}

void
tcp_send_rst(struct fmq_net *n, struct tcp_conn *c)
{
	uint8_t fl = TH_RST;

	if (c->state != TCP_SYN_SENT)
		fl |= TH_ACK;
	send_segment(n, c, c->snd_nxt, fl, 0);
}

/* RST answering a segment that has no connection (RFC 9293 3.10.7.1). */
void
tcp_send_rst_reply(struct fmq_net *n, const struct rte_ipv4_hdr *ip,
		   const struct rte_tcp_hdr *th, const struct tcp_seg *s)
{
	struct rte_mbuf *m;
	struct rte_tcp_hdr *r;

	if (s->flags & TH_RST)
		return;
	m = rte_pktmbuf_alloc(n->mp);
	if (m == NULL) {
		n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
		return;
	}
	r = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->src_port = th->dst_port;
	r->dst_port = th->src_port;
	r->data_off = 5 << 4;
	if (s->flags & TH_ACK) {
		r->sent_seq = rte_cpu_to_be_32(s->ack);
		r->tcp_flags = TH_RST;
	} else {
		r->recv_ack = rte_cpu_to_be_32(s->end);
		r->tcp_flags = TH_RST | TH_ACK;
	}
	m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM;
	m->l4_len = sizeof(*r);
	n->st.tcp_seg_out++;
	fmq_net_ip_output(n, m, ip->src_addr, IPPROTO_TCP, n->tcp->now);
}

/* Unlink and free send-queue mbufs wholly below ack. A partly acked head
 * stays (sq_seq keeps naming its first byte). */
void
tcp_sq_free_acked(struct fmq_net *n, struct tcp_conn *c, uint32_t ack)
{
	uint32_t end = seq_lt(ack, c->sq_end) ? ack : c->sq_end;

	while (c->sq_head != NULL) {
		struct rte_mbuf *h = c->sq_head;
		uint32_t hend = c->sq_seq + h->data_len;

		if (seq_gt(hend, end))
			break;
		c->sq_head = h->next;
		c->sq_seq = hend;
		if (c->sq_cur == h) {
			c->sq_cur = c->sq_head;
			c->sq_cur_seq = c->sq_seq;
		}
		h->next = NULL;
		h->nb_segs = 1;
		rte_pktmbuf_free_seg(h);
		c->sq_segs--;
		n->st.mbufs_held--;
	}
	if (c->sq_head == NULL) {
		c->sq_tail = c->sq_cur = NULL;
		c->sq_seq = c->sq_end;
	}
}

void
tcp_sq_purge(struct fmq_net *n, struct tcp_conn *c)
{
	if (c->sq_head != NULL) {
		n->st.mbufs_held -= c->sq_segs;
		tcp_chain_free(n, c->sq_head);
	}
	c->sq_head = c->sq_tail = c->sq_cur = NULL;
	c->sq_segs = 0;
	c->sq_seq = c->sq_end;
}

/* Send what the windows allow, SYN / FIN included, and owed ACKs. */
void
tcp_output(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t wnd, lim;
	bool sent = false;

	switch (c->state) {
	case TCP_CLOSED:
	case TCP_LISTEN:
		return;
	case TCP_SYN_SENT:
	case TCP_SYN_RCVD:
		if (c->snd_nxt == c->iss) {
			send_segment(n, c, c->iss, c->state == TCP_SYN_SENT ?
				     TH_SYN : TH_SYN | TH_ACK, 0);
			c->snd_nxt = c->iss + 1;
			if (seq_gt(c->snd_nxt, c->snd_max))
				c->snd_max = c->snd_nxt;
			if (c->rtx_at == 0)
				tcp_rto_arm(n, c);
		}
		return;
	case TCP_TIME_WAIT:
		if (c->flags & TF_ACK_NOW)
			tcp_send_ack(n, c);
		return;
	default:
		break;
	}

	wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
	lim = c->snd_una + wnd;
	if (c->flags & TF_SACK_RECOV) {
		/* RFC 6675 recovery: pipe = what is still in the network;
		 * fill cwnd - pipe with holes first, then new data. */
		uint32_t pipe = tcp_pipe(c);
		uint32_t hs, hl;

		/* The first hole goes at once on entering recovery,
		 * whatever pipe says (RFC 6675 5 (3)). */
		bool first = c->rtx_next == c->snd_una && c->rtx_mark == 0;

		while ((pipe < c->cwnd || first) &&
		       tcp_sb_hole(c, c->rtx_next, &hs, &hl)) {
			first = false;
			uint32_t len = RTE_MIN(hl, seg_room(c));
			uint8_t fl = TH_ACK;

			if (seq_geq(hs, c->sq_end))
				break;  /* only the FIN left: the RTO has it */
			len = RTE_MIN(len, c->sq_end - hs);
			if (send_segment(n, c, hs, fl, len) < 0)
				break;
			if (hs == c->snd_una)
				c->rtx_mark = c->snd_max;
			sent = true;
			n->st.tcp_retrans_bytes += len;
			c->rtx_next = hs + len;
			c->prr_out += len;
			c->undo_retrans++;
			pipe += len;
		}
		lim = c->snd_nxt + (c->cwnd > pipe ? c->cwnd - pipe : 0);
		if (seq_gt(lim, c->snd_una + c->snd_wnd))
			lim = c->snd_una + c->snd_wnd;
		if (sent && c->rtx_at == 0)
			tcp_rto_arm(n, c);
		if (sent)
			tcp_tlp_arm(n, c);
	}
	for (;;) {
		uint32_t len, left;
		uint8_t fl = TH_ACK;

		if (c->nsb > 0 && seq_lt(c->snd_nxt, c->snd_max)) {
			/* Going back after a timeout: skip what the peer
			 * SACKed, stop short of the next SACKed range. */
			uint32_t hs, hl;

			if (!tcp_sb_hole(c, c->snd_nxt, &hs, &hl)) {
				uint32_t top = c->sb[c->nsb - 1][1];
				if (seq_gt(top, c->snd_nxt) &&
				    seq_leq(top, c->snd_max))
					c->snd_nxt = top;
			} else if (hs != c->snd_nxt) {
				c->snd_nxt = hs;
			}
		}
		if (seq_lt(c->snd_nxt, c->sq_end)) {
			if (!seq_lt(c->snd_nxt, lim))
				break;
			left = c->sq_end - c->snd_nxt;
			if (c->nsb > 0 && seq_lt(c->snd_nxt, c->snd_max)) {
				uint32_t hs, hl;
				if (tcp_sb_hole(c, c->snd_nxt, &hs, &hl) &&
				    hs == c->snd_nxt && hl < left)
					left = hl;
			}
			len = lim - c->snd_nxt;
			if (len < seg_room(c) && len < left) {
				/* The window counted in whole segments, as
				 * Linux counts cwnd in packets: the room
				 * cwnd leaves is a full segment when the
				 * peer's window allows, not a runt (after a
				 * reduction, congestion avoidance grows cwnd
				 * by fractions of a segment: most flights at
				 * 2% loss ended with a runt, a packet and so
				 * a loss chance for a few hundred bytes). */
				uint32_t pw = c->snd_una + c->snd_wnd -
					      c->snd_nxt;

				if (seq_lt(c->snd_nxt, c->snd_una + c->snd_wnd))
					len = pw;
			}
			if (len > left)
				len = left;
			if (len > seg_room(c))
				len = seg_room(c);
			if (c->snd_nxt + len == c->sq_end) {
				fl |= TH_PSH;
				if (c->flags & TF_FIN_QUEUED)
					fl |= TH_FIN;
			}
		} else if ((c->flags & TF_FIN_QUEUED) &&
			   c->snd_nxt == c->sq_end) {
			len = 0;
			fl |= TH_FIN;
		} else {
			break;
		}
		if (send_segment(n, c, c->snd_nxt, fl, len) < 0)
			break;
		sent = true;
		if (c->flags & TF_SACK_RECOV)
			c->prr_out += len;
		if (seq_lt(c->snd_nxt, c->snd_max)) {
			n->st.tcp_retrans_bytes += len;
		} else {
			n->st.tcp_bytes_out += len;
			if (!(c->flags & (TF_RTT_TIMING | TF_TS)) && len > 0) {
				c->flags |= TF_RTT_TIMING;
				c->rtt_seq = c->snd_nxt;
				c->rtt_ns = t->now;
			}
		}
		c->snd_nxt += len + ((fl & TH_FIN) ? 1 : 0);
		if (seq_gt(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (c->rtx_at == 0 || (c->flags & TF_PERSIST))
			tcp_rto_arm(n, c);
		tcp_tlp_arm(n, c);
	}
	/* Peer window closed with data waiting and nothing in flight: the
	 * persist timer probes it (RFC 9293 3.8.6.1). */
	if (!sent && c->snd_wnd == 0 && seq_lt(c->snd_nxt, c->sq_end) &&
	    c->snd_una == c->snd_max && c->rtx_at == 0) {
		c->flags |= TF_PERSIST;
		c->rtx_at = t->now + tcp_rto_ns(n, c);
		tcp_timer_update(n, c);
	}
	if (c->flags & TF_WIN_UPDATE) {
		uint32_t space = tcp_rcv_space(n, c);
		uint32_t edge = c->rcv_nxt + space;
		uint32_t thr = 2u * c->rmss < t->p.rcv_buf / 2 ?
			2u * c->rmss : t->p.rcv_buf / 2;

		c->flags &= ~TF_WIN_UPDATE;
		if (seq_geq(edge, c->rcv_adv + thr) ||
		    (c->rcv_adv == c->rcv_nxt && space > 0))
			c->flags |= TF_ACK_NOW;
	}
	if (c->flags & TF_ACK_NOW)
		tcp_send_ack(n, c);
	else if ((c->flags & TF_DELACK) && c->delack_at == 0) {
		if (t->p.delack_ns == 0)
			tcp_send_ack(n, c);
		else {
			c->delack_at = t->now + t->p.delack_ns;
			tcp_timer_update(n, c);
		}
	}
}
