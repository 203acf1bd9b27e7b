/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP input: header validation, connection lookup, passive open, the
 * ESTABLISHED fast path, and the RFC 9293 3.10.7 segment-arrival steps in
 * order (with RFC 5961 RST/SYN/ACK checks and RFC 7323 PAWS), one comment
 * per step. Every segment that is not used is counted under a reason from
 * net_drop.def.
 */
#include <errno.h>
#include <string.h>

#include "tcp_priv.h"

#define PAWS_IDLE_NS (24ull * 24 * 3600 * 1000000000ull) /* 24 days */
#define CHALLENGE_PER_SEC 1000

static inline void
tdrop(struct fmq_net *n, struct rte_mbuf *m, enum fmq_net_drop why)
{
	n->st.drop[why]++;
	rte_pktmbuf_free(m);
}

/* Parse options; -1 when one is malformed (bad length, past the header). */
static int
parse_opts(const uint8_t *p, unsigned int len, struct tcp_opts *o)
{
	unsigned int i = 0;

	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return -1;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen != 4)
				return -1;
			o->has_mss = true;
			o->mss = (uint16_t)(p[i + 2] << 8 | p[i + 3]);
			break;
		case TCPOPT_WS:
			if (olen != 3)
				return -1;
			o->has_ws = true;
			/* RFC 7323 2.3: treat a shift above 14 as 14. */
			o->ws = p[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE :
				p[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			if (olen != 2)
				return -1;
			o->sack_perm = true;
			break;
		case TCPOPT_TS:
			if (olen != 10)
				return -1;
			o->has_ts = true;
			o->tsval = get_be32(&p[i + 2]);
			o->tsecr = get_be32(&p[i + 6]);
			break;
		case TCPOPT_SACK:
			if (olen < 10 || (olen - 2) % 8 != 0)
				return -1;
			for (unsigned int b = 0; b < (olen - 2u) / 8 &&
			     b < TCP_MAX_SACK; b++) {
				const uint8_t *q = &p[i + 2 + 8 * b];
				o->sack[b][0] = get_be32(q);
				o->sack[b][1] = get_be32(q + 4);
				o->nsack = (uint8_t)(b + 1);
			}
			break;
		default:
			break; /* unknown: skipped by its length */
		}
		i += olen;
	}
	return 0;
}

/* Drop k bytes from the front of received chain m (k <= pkt_len). */
static struct rte_mbuf *
rx_trim_front(struct rte_mbuf *m, uint32_t k)
{
	uint32_t len = m->pkt_len - k;
	uint16_t segs = m->nb_segs;

	while (k > 0 && k >= m->data_len && m->next != NULL) {
		struct rte_mbuf *next = m->next;

		k -= m->data_len;
		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
		segs--;
		m = next;
	}
	m->data_off = (uint16_t)(m->data_off + k);
	m->data_len = (uint16_t)(m->data_len - k);
	m->pkt_len = len;
	m->nb_segs = segs;
	return m;
}

/* Keep the first len bytes of received chain m. */
static void
rx_trim_len(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *x = m;
	uint32_t left = len;
	uint16_t segs = 1;

	while (left > x->data_len && x->next != NULL) {
		left -= x->data_len;
		x = x->next;
		segs++;
	}
	x->data_len = (uint16_t)left;
	if (x->next != NULL) {
		rte_pktmbuf_free(x->next);
		x->next = NULL;
	}
	m->pkt_len = len;
	m->nb_segs = segs;
}

/*
 * Text we already had (RFC 2883): the next ACK, sent at once, reports it
 * in its first SACK block. The sender learns that its retransmission was
 * not needed: Linux undoes the reduction of a spurious timeout, probe or
 * fast retransmit by it and widens its RACK reordering window. Without
 * it, every retransmission our lost or late ACKs caused cost the
 * sender's window for good.
 */
static void
dsack_note(struct tcp_conn *c, uint32_t lo, uint32_t hi)
{
	if (!(c->flags & TF_SACK))
		return;
	c->dsack_lo = lo;
	c->dsack_hi = hi;
	c->flags |= TF_DSACK;
}

/* RFC 5961 section 7: challenge ACKs are rate-limited per lcore. */
static void
challenge_ack(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;

	if (t->now - t->last_challenge_ns > 1000000000ull) {
		t->last_challenge_ns = t->now;
		t->challenges = 0;
	}
	if (t->challenges++ >= CHALLENGE_PER_SEC)
		return;
	n->st.tcp_challenge_acks++;
	c->flags |= TF_ACK_NOW;
}

/* Negotiate options from a SYN (passive) or SYN-ACK (active). */
static void
apply_syn_opts(struct fmq_net *n, struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_ctx *t = n->tcp;
	uint16_t ours = (uint16_t)((n->conf.mtu ? n->conf.mtu : 1500) - 40);

	c->smss = s->o.has_mss && s->o.mss < ours ? s->o.mss : ours;
	if (!s->o.has_mss)
		c->smss = 536;  /* RFC 9293 3.7.1 default */
	if (c->smss < 64)
		c->smss = 64;
	c->rmss = ours;
	if (s->o.has_ws && t->p.ws) {
		c->flags |= TF_WS;
		c->snd_wscale = s->o.ws;
		c->rcv_wscale = t->p.rcv_wscale;
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
	}
	if (s->o.has_ts && t->p.ts) {
		c->flags |= TF_TS;
		c->ts_recent = s->o.tsval;
		c->ts_recent_ns = t->now;
		c->smss -= 12;
		c->rmss -= 12;
	}
	if (s->o.sack_perm && t->p.sack)
		c->flags |= TF_SACK;
}

/* A SYN (or other segment) for which no connection exists. */
static void
listen_input(struct fmq_net *n, struct rte_mbuf *m,
	     const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *th,
	     const struct tcp_key *k, struct tcp_seg *s)
{
	struct tcp_ctx *t = n->tcp;
	struct tcp_listener *l = NULL;
	struct tcp_conn *c;
	uint16_t port = rte_be_to_cpu_16(th->dst_port);
	int li;

	for (li = 0; li < TCP_MAX_LISTENERS; li++)
		if (t->lst[li].port == port) {
			l = &t->lst[li];
			break;
		}
	/* CLOSED (RFC 9293 3.10.7.1): RST for anything but a RST. */
	if (l == NULL) {
		if (s->flags & TH_RST)
			return tdrop(n, m, FMQ_NET_DROP_TCP_RST_NO_CONN);
		tcp_send_rst_reply(n, ip, th, s);
		n->st.tcp_rst_closed++;
		return tdrop(n, m, FMQ_NET_DROP_TCP_NO_CONN);
	}
	/* LISTEN (3.10.7.2): first check for a RST, then an ACK, then SYN. */
	if (s->flags & TH_RST)
		return tdrop(n, m, FMQ_NET_DROP_TCP_RST_NO_CONN);
	if (s->flags & TH_ACK) {
		tcp_send_rst_reply(n, ip, th, s);
		n->st.tcp_rst_closed++;
		return tdrop(n, m, FMQ_NET_DROP_TCP_LISTEN_BAD);
	}
	if (!(s->flags & TH_SYN))
		return tdrop(n, m, FMQ_NET_DROP_TCP_LISTEN_BAD);
	/* Limits: refuse new SYNs, leave existing connections alone. */
	if (l->syn_rcvd >= t->p.syn_backlog ||
	    (c = tcp_conn_alloc(n, k)) == NULL) {
		n->st.tcp_refused++;
		return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_REFUSED);
	}
	tcp_conn_init_params(n, c);
	c->listener = (uint16_t)(li + 1);
	l->syn_rcvd++;
	c->cb = l->cb;
	c->user = l->arg;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->last_ack_sent = c->rcv_nxt;
	apply_syn_opts(n, c, s);
	/* The window of a SYN is never scaled (RFC 7323 2.2). */
	c->snd_wnd = c->max_snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->iss = tcp_new_iss(n, k);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_wl2 = c->iss;
	c->sq_seq = c->sq_end = c->sq_cur_seq = c->iss + 1;
	tcp_cc_init(n, c);
	c->state = TCP_SYN_RCVD;
	/* Data on a SYN is not taken (not acknowledged: it comes again). */
	rte_pktmbuf_free(m);
	tcp_mark_pending(n, c);
}

static bool
fin_acked(const struct tcp_conn *c)
{
	return (c->flags & TF_FIN_QUEUED) && c->snd_una == c->sq_end + 1;
}

static void
enter_time_wait(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;

	tcp_set_state(n, c, TCP_TIME_WAIT);
	c->rtx_at = c->ka_at = 0;
	c->flags &= ~TF_PERSIST;
	tcp_sq_purge(n, c);
	tcp_ooo_purge(n, c);
	tcp_notify_closed(n, c, 0);
	if (t->p.tw_ns == 0) {
		tcp_send_ack(n, c);
		tcp_conn_free(n, c);
		return;
	}
	c->end_at = t->now + t->p.tw_ns;
}

/* Enter ESTABLISHED; tell the app. false if the app refused it. */
static bool
established(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	bool active = (c->flags & TF_ACTIVE) != 0;

	tcp_set_state(n, c, TCP_ESTABLISHED);
	c->nrtx = 0;
	c->backoff = 0;
	if (t->p.ka_idle_ns != 0)
		c->ka_at = t->now + t->p.ka_idle_ns;
	if (active) {
		if (c->cb->connected != NULL)
			c->cb->connected(n, tcp_handle(n, c), c->user);
		return true;
	}
	n->st.tcp_passive_opens++;
	c->flags |= TF_APP_KNOWN;
	if (c->cb->accepted != NULL &&
	    c->cb->accepted(n, tcp_handle(n, c), c->user, &c->user) != 0) {
		c->flags |= TF_APP_GONE;
		tcp_send_rst(n, c);
		n->st.tcp_resets_tx++;
		tcp_conn_free(n, c);
		return false;
	}
	return true;
}

/* New data acknowledged (RFC 9293 3.10.7.4 fifth, ESTABLISHED). */
static void
ack_advance(struct fmq_net *n, struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t acked = s->ack - c->snd_una;
	bool was_recovery = (c->flags & TF_RECOVERY) != 0;

	/* RTT sample: from the echoed timestamp (valid even for
	 * retransmissions, RFC 7323 4.1), else Karn's timed segment. */
	if ((c->flags & TF_TS) && s->o.has_ts && s->o.tsecr != 0) {
		uint32_t ms = tcp_ms(t->now) - s->o.tsecr;
		if (ms < 60000)
			tcp_rtt_sample(n, c, (uint64_t)ms * 1000000ull + 500000);
	} else if ((c->flags & TF_RTT_TIMING) && seq_gt(s->ack, c->rtt_seq)) {
		c->flags &= ~TF_RTT_TIMING;
		tcp_rtt_sample(n, c, t->now - c->rtt_ns);
	}
	c->backoff = 0;
	c->nrtx = 0;
	tcp_cc_undo_check(n, c, s);
	c->snd_una = s->ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	tcp_sq_free_acked(n, c, s->ack);
	if (c->nsb > 0)
		tcp_sb_trim(c);
	/* The SYN's sequence number is not data: no window growth for it. */
	if (c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD)
		tcp_cc_ack(n, c, acked);
	if (was_recovery && (c->flags & TF_RECOVERY) &&
	    !(c->flags & TF_SACK_RECOV))
		tcp_retransmit_head(n, c);  /* NewReno partial ACK */
	if (c->snd_una == c->snd_max) {
		c->rtx_at = 0;
		c->tlp_at = 0;
		c->flags &= ~TF_PERSIST;
	} else {
		tcp_rto_arm(n, c);
		tcp_tlp_arm(n, c);
	}
	tcp_maybe_writable(n, c);
	/* Freed send data may reopen a window that memory pressure shut. */
	if (t->mem_share != UINT32_MAX && c->rcv_adv - c->rcv_nxt < c->rmss)
		c->flags |= TF_WIN_UPDATE;
}

/*
 * A retransmission lost again (RACK, RFC 8985 6.2, on one mark): during
 * SACK recovery, once the peer SACKs data sent after we resent snd_una
 * (beyond the reordering window: three segments once the peer has shown
 * reordering), that retransmission is gone too: send the holes again
 * rather than wait for the RTO.
 */
static void
tcp_lost_retransmit(struct fmq_net *n, struct tcp_conn *c)
{
	uint32_t thr = (c->flags & TF_REORD) ? 3u * c->smss : 1;

	if (!(c->flags & TF_SACK_RECOV) || c->nsb == 0 || c->rtx_mark == 0)
		return;
	if (!seq_geq(c->sb[c->nsb - 1][1], c->rtx_mark + thr))
		return;
	c->rtx_mark = 0;
	c->rtx_next = c->snd_una;
	c->flags &= ~TF_UNDO_OK;
	n->st.tcp_retrans_fast++;
}

/* Deliver in-order payload and whatever it releases from reassembly;
 * returns true when a FIN became in order. */
static bool
data_in_order(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m,
	      bool fin)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t len = m->pkt_len;
	bool filled = c->ooo_head != NULL || c->ooo_fin;

	c->rcv_nxt += len;
	c->unacked++;
	n->st.tcp_bytes_in += len;
	if (len > 0)
		tcp_deliver(n, c, m);
	else
		rte_pktmbuf_free(m);
	if (filled) {
		struct rte_mbuf *x;
		bool ofin = false;

		while ((x = tcp_ooo_pull(n, c, &ofin)) != NULL) {
			c->rcv_nxt += x->pkt_len;
			n->st.tcp_bytes_in += x->pkt_len;
			tcp_deliver(n, c, x);
			if (c->flags & TF_DOOMED)
				break;
		}
		fin |= ofin;
		/* Tell the sender at once that the hole is filled. */
		c->flags |= TF_ACK_NOW;
	}
	if (c->unacked >= 2 || t->p.delack_ns == 0)
		c->flags |= TF_ACK_NOW;
	else
		c->flags |= TF_DELACK;
	return fin;
}

/* The peer's FIN is in order (RFC 9293 3.10.7.4 eighth). */
static void
fin_input(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;

	c->rcv_nxt++;
	c->flags |= TF_ACK_NOW;
	switch (c->state) {
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		tcp_set_state(n, c, TCP_CLOSE_WAIT);
		if (c->rq_head != NULL || (c->flags & TF_RX_PAUSED))
			c->flags |= TF_PEER_FIN;  /* EOF after held data */
		else if ((c->flags & (TF_APP_KNOWN | TF_APP_GONE |
				      TF_APP_CLOSED)) == TF_APP_KNOWN &&
			 c->cb->data != NULL)
			c->cb->data(n, tcp_handle(n, c), c->user, NULL);
		break;
	case TCP_FIN_WAIT_1:
		if (fin_acked(c))
			enter_time_wait(n, c);
		else
			tcp_set_state(n, c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		enter_time_wait(n, c);
		break;
	case TCP_TIME_WAIT:
		c->end_at = t->now + t->p.tw_ns;
		break;
	default:
		break;
	}
}

/* SYN_SENT (RFC 9293 3.10.7.3). */
static void
syn_sent_input(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m,
	       const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *th,
	       struct tcp_seg *s)
{
	/* First, check the ACK. */
	if ((s->flags & TH_ACK) &&
	    (seq_leq(s->ack, c->iss) || seq_gt(s->ack, c->snd_max))) {
		tcp_send_rst_reply(n, ip, th, s);
		return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_SENT_BAD);
	}
	/* Second, the RST bit: only with an acceptable ACK. */
	if (s->flags & TH_RST) {
		if (!(s->flags & TH_ACK))
			return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_SENT_BAD);
		rte_pktmbuf_free(m);
		n->st.tcp_resets_rx++;
		tcp_done(n, c, -ECONNREFUSED);
		return;
	}
	/* Fourth, the SYN bit. */
	if (!(s->flags & TH_SYN))
		return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_SENT_BAD);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	apply_syn_opts(n, c, s);
	if (!(c->flags & TF_WS))
		c->rcv_wscale = 0;
	c->snd_wnd = c->max_snd_wnd = s->wnd;  /* unscaled in a SYN */
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->cwnd = n->tcp->p.init_cwnd * c->smss;
	rte_pktmbuf_free(m);
	c->flags |= TF_ACK_NOW;
	if (s->flags & TH_ACK) {
		struct tcp_seg a = *s;
		ack_advance(n, c, &a);
		established(n, c);
		return;
	}
	/* Simultaneous open: answer with SYN-ACK from SYN_RCVD. */
	tcp_set_state(n, c, TCP_SYN_RCVD);
	c->snd_nxt = c->iss;
}

/* The segment-arrival steps for SYN_RCVD and the synchronized states. */
static void
conn_input(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m,
	   const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *th,
	   struct tcp_seg *s)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t rwnd, seglen, prior_una, prior_sb;
	bool fin, dsack;

	/* A retransmitted SYN while our SYN-ACK is unanswered: send the
	 * SYN-ACK again rather than a bare ACK. */
	if (c->state == TCP_SYN_RCVD && (s->flags & (TH_SYN | TH_ACK)) ==
	    TH_SYN && s->seq == c->irs) {
		c->snd_nxt = c->iss;
		rte_pktmbuf_free(m);
		return;
	}

	/* PAWS (RFC 7323 5.3): an older timestamp means an old duplicate. */
	if ((c->flags & TF_TS) && s->o.has_ts && !(s->flags & TH_RST) &&
	    seq_lt(s->o.tsval, c->ts_recent) &&
	    t->now - c->ts_recent_ns < PAWS_IDLE_NS) {
		c->flags |= TF_ACK_NOW;
		return tdrop(n, m, FMQ_NET_DROP_TCP_PAWS);
	}

	/* First, check the sequence number (the four acceptability cases). */
	rwnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	seglen = s->end - s->seq;
	{
		bool ok;
		uint32_t wend = c->rcv_nxt + rwnd;

		/* A bare ACK may sit at the right edge itself: a peer that
		 * filled the window sends its ACKs at SND.NXT = our edge,
		 * and when the flight's first segment was lost (or dropped
		 * under memory pressure) rcv_nxt stays behind. RFC 9293's
		 * strict "< RCV.NXT + RCV.WND" then threw away every ACK for
		 * our data until the peer's own RTO filled the hole: both
		 * senders stalled for seconds. Linux and BSD take it. */
		if (seglen == 0)
			ok = rwnd == 0 ? s->seq == c->rcv_nxt :
				(seq_geq(s->seq, c->rcv_nxt) &&
				 (seq_lt(s->seq, wend) ||
				  (s->seq == wend && !(s->flags & TH_RST))));
		else
			ok = rwnd != 0 &&
				((seq_geq(s->seq, c->rcv_nxt) &&
				  seq_lt(s->seq, wend)) ||
				 (seq_geq(s->end - 1, c->rcv_nxt) &&
				  seq_lt(s->end - 1, wend)));
		/* A zero window still takes the ACK (and RST) of a segment
		 * at rcv_nxt; its text is dropped (RFC 9293 3.10.7.4). */
		if (!ok && rwnd == 0 && s->seq == c->rcv_nxt) {
			ok = true;
			c->flags |= TF_ACK_NOW;
			/* A bare FIN needs no buffer: take it. Dropping it
			 * kept a peer that closed while pressure shut every
			 * window (its partial request pinning mbufs) open
			 * for as long as it retried the FIN. */
			if (s->len > 0) {
				n->st.drop[FMQ_NET_DROP_TCP_OUT_OF_WINDOW]++;
				rx_trim_len(m, 0);
				s->len = 0;
				s->flags &= (uint8_t)~TH_FIN;
				s->end = s->seq;
			}
		}
		if (!ok) {
			if (!(s->flags & TH_RST)) {
				c->flags |= TF_ACK_NOW;
				if (s->len > 0 &&
				    seq_leq(s->seq + s->len, c->rcv_nxt))
					dsack_note(c, s->seq,
						   s->seq + s->len);
			}
			return tdrop(n, m, FMQ_NET_DROP_TCP_OUT_OF_WINDOW);
		}
	}
	/* Trim to the window: what precedes rcv_nxt (a retransmitted SYN
	 * first) and what lies past the right edge (a FIN there goes too). */
	if (seq_lt(s->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - s->seq;

		if (s->flags & TH_SYN) {
			s->flags &= (uint8_t)~TH_SYN;
			s->seq++;
			d--;
		}
		if (d >= s->len) {
			d = s->len;
		}
		if (d > 0) {
			dsack_note(c, s->seq, s->seq + d);
			c->flags |= TF_ACK_NOW;
			m = rx_trim_front(m, d);
			s->len -= d;
			s->seq += d;
		}
	}
	if (s->len > 0 && seq_gt(s->seq + s->len, c->rcv_nxt + rwnd)) {
		uint32_t wend = c->rcv_nxt + rwnd;
		uint32_t keep = seq_gt(wend, s->seq) ? wend - s->seq : 0;

		if (keep < s->len) {
			rx_trim_len(m, keep);
			s->len = keep;
		}
		s->flags &= (uint8_t)~TH_FIN;
	}

	/* Second, check the RST bit (RFC 5961 3.2). */
	if (s->flags & TH_RST) {
		if (s->seq != c->rcv_nxt) {
			challenge_ack(n, c);
			return tdrop(n, m, FMQ_NET_DROP_TCP_RST_CHALLENGE);
		}
		rte_pktmbuf_free(m);
		switch (c->state) {
		case TCP_SYN_RCVD:
			if (c->flags & TF_ACTIVE) {
				n->st.tcp_resets_rx++;
				tcp_done(n, c, -ECONNREFUSED);
			} else {
				tcp_conn_free(n, c);   /* back to LISTEN */
			}
			return;
		case TCP_TIME_WAIT:
			tcp_conn_free(n, c);
			return;
		case TCP_CLOSING:
		case TCP_LAST_ACK:
			tcp_done(n, c, 0);
			return;
		default:
			n->st.tcp_resets_rx++;
			tcp_done(n, c, -ECONNRESET);
			return;
		}
	}

	/* Third, security: not used. Fourth, the SYN bit (RFC 5961 4.2):
	 * any SYN still here gets a challenge ACK. */
	if (s->flags & TH_SYN) {
		if (c->state == TCP_SYN_RCVD && !(c->flags & TF_ACTIVE)) {
			tcp_conn_free(n, c);
			return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_CHALLENGE);
		}
		challenge_ack(n, c);
		return tdrop(n, m, FMQ_NET_DROP_TCP_SYN_CHALLENGE);
	}

	/* Fifth, the ACK field. */
	if (!(s->flags & TH_ACK))
		return tdrop(n, m, FMQ_NET_DROP_TCP_NO_ACK);
	if (c->state == TCP_SYN_RCVD) {
		if (!(seq_gt(s->ack, c->snd_una) && seq_leq(s->ack, c->snd_max))) {
			tcp_send_rst_reply(n, ip, th, s);
			return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_ACK);
		}
		c->snd_wnd = s->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		ack_advance(n, c, s);
		if (!established(n, c)) {
			rte_pktmbuf_free(m);
			return;
		}
	}
	/* RFC 5961 5.2: ACKs for data never sent or far too old. */
	if (seq_gt(s->ack, c->snd_max)) {
		challenge_ack(n, c);
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_ACK);
	}
	if (seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
		challenge_ack(n, c);
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_ACK);
	}
	prior_una = c->snd_una;
	prior_sb = c->sb_bytes;
	dsack = (c->flags & TF_SACK) && s->o.nsack > 0 &&
		seq_leq(s->o.sack[0][1], s->ack);
	if (dsack && (c->flags & TF_TLP_DUP) &&
	    seq_geq(s->o.sack[0][0], c->tlp_lo) &&
	    seq_leq(s->o.sack[0][1], c->tlp_hi)) {
		/* The copy a tail loss probe resent: the original had
		 * arrived (its ACK was lost or held), nothing reordered. */
		c->flags &= ~TF_TLP_DUP;
		dsack = false;
	}
	if (dsack)
		c->flags |= TF_REORD;  /* DSACK (RFC 2883): a duplicate */
	if (seq_gt(s->ack, c->snd_una)) {
		/* A hole below SACKed data filled though never resent:
		 * the network reorders (RFC 8985 6.2 step 2). */
		if (c->nsb > 0 && seq_lt(c->snd_una, c->sb[0][0]) &&
		    seq_gt(s->ack, c->snd_una) && c->nrtx == 0 &&
		    !(c->flags & (TF_RECOVERY | TF_TLP_SENT)))
			c->flags |= TF_REORD;
		ack_advance(n, c, s);
		if (c->flags & TF_DOOMED) {
			rte_pktmbuf_free(m);
			return;
		}
		if ((c->flags & TF_SACK) && s->o.nsack > 0) {
			tcp_sb_update(c, &s->o);
			tcp_rack_detect(n, c);
			tcp_lost_retransmit(n, c);
		} else if (c->nsb == 0) {
			c->rack_at = 0;
		}
		/* The probe (if any) got its answer. */
		c->flags &= ~TF_TLP_SENT;
		c->tlp_n = 0;
		tcp_tlp_arm(n, c);
	} else if ((c->flags & TF_SACK) && s->o.nsack > 0 &&
		   s->ack == c->snd_una && c->snd_una != c->snd_max) {
		/* A duplicate ACK carrying SACK blocks (window changes and
		 * data don't matter here, RFC 6675 2). */
		tcp_sb_update(c, &s->o);
		tcp_cc_dupack(n, c);
		tcp_rack_detect(n, c);
		tcp_lost_retransmit(n, c);
	} else if (s->ack == c->snd_una && s->len == 0 &&
		   !(s->flags & TH_FIN) && c->snd_una != c->snd_max &&
		   (s->wnd << c->snd_wscale) == c->snd_wnd) {
		/* Duplicate ACK (RFC 5681 section 2); the third one triggers
		 * fast retransmit of the segment at snd_una. */
		if (tcp_cc_dupack(n, c))
			tcp_retransmit_head(n, c);
	}
	if (dsack && !(c->flags & TF_DOOMED))
		tcp_cc_dsack(n, c);
	/* PRR: what this ACK delivered (the one that started recovery
	 * included) sets what recovery may send. */
	if (c->flags & TF_SACK_RECOV) {
		int64_t d = (int64_t)(c->snd_una - prior_una) +
			    c->sb_bytes - prior_sb;

		tcp_prr_ack(c, d > 0 ? (uint32_t)d : 0);
	}
	/* Send window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule). */
	if (seq_lt(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack))) {
		uint32_t w = s->wnd << c->snd_wscale;

		if (w > c->snd_wnd && (c->flags & TF_PERSIST)) {
			c->rtx_at = 0;
			c->flags &= ~TF_PERSIST;
			c->backoff = 0;
		}
		c->snd_wnd = w;
		if (w > c->max_snd_wnd)
			c->max_snd_wnd = w;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
	}
	/* Timestamp to echo (RFC 7323 4.3): from a segment that covers
	 * the last ACK we sent. */
	if ((c->flags & TF_TS) && s->o.has_ts &&
	    seq_leq(s->seq, c->last_ack_sent) &&
	    seq_geq(s->o.tsval, c->ts_recent)) {
		c->ts_recent = s->o.tsval;
		c->ts_recent_ns = t->now;
	}
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked(c)) {
			tcp_set_state(n, c, TCP_FIN_WAIT_2);
			/* The app is gone: don't wait for the peer forever. */
			c->end_at = t->now + (t->p.tw_ns ? t->p.tw_ns :
					      60000000000ull);
		}
		break;
	case TCP_CLOSING:
		if (fin_acked(c)) {
			enter_time_wait(n, c);
			rte_pktmbuf_free(m);
			return;
		}
		break;
	case TCP_LAST_ACK:
		if (fin_acked(c)) {
			rte_pktmbuf_free(m);
			tcp_done(n, c, 0);
			return;
		}
		break;
	default:
		break;
	}
	if (c->state == TCP_CLOSED || (c->flags & TF_DOOMED)) {
		rte_pktmbuf_free(m);
		return;
	}

	/* Sixth, the URG bit: urgent data is not supported; the bytes are
	 * delivered as ordinary data. Seventh, the segment text. */
	fin = (s->flags & TH_FIN) != 0;
	if (s->len == 0 && !fin) {
		rte_pktmbuf_free(m);
		return;
	}
	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		break;
	default:
		/* After the peer's FIN: nothing more may arrive. A FIN
		 * again (in TIME_WAIT) just restarts 2*MSL and is ACKed. */
		c->flags |= TF_ACK_NOW;
		if (fin && c->state == TCP_TIME_WAIT)
			c->end_at = t->now + t->p.tw_ns;
		if (s->len > 0)
			return tdrop(n, m, FMQ_NET_DROP_TCP_DATA_AFTER_CLOSE);
		rte_pktmbuf_free(m);
		return;
	}
	if (s->len > 0 && t->mem_drop) {
		/* Pool nearly empty: keep mbufs for RX and ACKs. The sender
		 * retransmits; our ACK tells it where we are. */
		n->st.drop[FMQ_NET_DROP_TCP_MEM_PRESSURE]++;
		c->flags |= TF_ACK_NOW;
		rte_pktmbuf_free(m);
		return;
	}
	if (s->len > 0 && s->seq == c->rcv_nxt &&
	    ((c->flags & TF_RX_PAUSED) || c->rq_head != NULL) &&
	    (c->rq_segs + c->ooo_segs + m->nb_segs) * TCP_MBUF_CHARGE >
	    t->p.rcv_buf) {
		/* It would be held for a paused reader, and what is held
		 * already costs the whole buffer in mbufs: the window we
		 * advertised (in bytes) cannot shrink, so refuse the text
		 * here, as Linux does when its receive memory is spent. */
		n->st.drop[FMQ_NET_DROP_TCP_RCVQ_FULL]++;
		c->flags |= TF_ACK_NOW;
		rte_pktmbuf_free(m);
		return;
	}
	if (s->seq != c->rcv_nxt) {
		/* Out of order: hold it (zero-copy), ACK at once with SACK
		 * blocks so the sender sees the hole. */
		c->flags |= TF_ACK_NOW;
		tcp_ooo_insert(n, c, m, s->seq, fin);
		return;
	}
	fin = data_in_order(n, c, m, fin);
	/* Eighth, the FIN bit. */
	if (fin && !(c->flags & TF_DOOMED))
		fin_input(n, c);
}

/* A TIME_WAIT connection takes a new SYN if it is clearly newer
 * (RFC 9293 3.10.7.4 / RFC 6191). */
static bool
time_wait_reuse(const struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((s->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN)
		return false;
	if ((c->flags & TF_TS) && s->o.has_ts)
		return seq_gt(s->o.tsval, c->ts_recent);
	return seq_gt(s->seq, c->rcv_nxt);
}

void
tcp_input(struct fmq_net *n, struct rte_mbuf *m,
	  const struct rte_ipv4_hdr *ip, uint64_t now)
{
	struct tcp_ctx *t = n->tcp;
	const struct rte_tcp_hdr *th;
	struct tcp_seg s;
	struct tcp_key k;
	struct tcp_conn *c;
	uint32_t doff, plen = m->pkt_len;
	uint8_t fl;
	void *data;

	t->now = now;
	n->st.tcp_seg_in++;
	/* The header must be whole and in the first mbuf. */
	if (rte_pktmbuf_data_len(m) < sizeof(*th) || plen < sizeof(*th))
		return tdrop(n, m, FMQ_NET_DROP_TCP_SHORT);
	th = rte_pktmbuf_mtod(m, const struct rte_tcp_hdr *);
	doff = (uint32_t)(th->data_off >> 4) * 4;
	if (doff < sizeof(*th) || doff > plen)
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_DOFF);
	if (doff > rte_pktmbuf_data_len(m))
		return tdrop(n, m, FMQ_NET_DROP_TCP_SHORT);
	if (!fmq_net_rx_l4_csum_ok(n, m, ip))
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_CSUM);
	if (th->src_port == 0 || th->dst_port == 0)
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_PORT);
	fl = th->tcp_flags & (TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK |
			      TH_URG);
	if ((fl & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN) ||
	    (fl & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST) ||
	    (fl & (TH_SYN | TH_RST | TH_ACK | TH_FIN)) == 0)
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_FLAGS);
	memset(&s.o, 0, sizeof(s.o));
	if (parse_opts((const uint8_t *)(th + 1), doff - sizeof(*th), &s.o) < 0)
		return tdrop(n, m, FMQ_NET_DROP_TCP_BAD_OPT);
	s.flags = fl;
	s.seq = rte_be_to_cpu_32(th->sent_seq);
	s.ack = rte_be_to_cpu_32(th->recv_ack);
	s.len = plen - doff;
	s.end = s.seq + s.len + ((fl & TH_SYN) ? 1 : 0) +
		((fl & TH_FIN) ? 1 : 0);
	s.wnd = rte_be_to_cpu_16(th->rx_win);

	k.rip = ip->src_addr;
	k.lip = ip->dst_addr;
	k.rport = th->src_port;
	k.lport = th->dst_port;
	k.pad = 0;
	if (rte_hash_lookup_data(t->hash, &k, &data) < 0) {
		listen_input(n, m, ip, th, &k, &s);
		return;
	}
	c = &t->conns[(uintptr_t)data];
	if (c->state == TCP_TIME_WAIT && time_wait_reuse(c, &s)) {
		tcp_conn_free(n, c);
		listen_input(n, m, ip, th, &k, &s);
		return;
	}
	/* Payload only from here on (header stays in the headroom). */
	rte_pktmbuf_adj(m, (uint16_t)doff);
	c->flags |= TF_BUSY;
	c->last_rx_ns = now;
	c->ka_sent = 0;

	/* Fast path (header prediction): ESTABLISHED, only ACK (PSH), in
	 * order, nothing held, not in recovery, timestamp not older. */
	if (c->state == TCP_ESTABLISHED &&
	    (fl & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) == TH_ACK &&
	    s.seq == c->rcv_nxt && c->ooo_head == NULL && s.o.nsack == 0 &&
	    !(c->flags & (TF_RECOVERY | TF_PERSIST)) &&
	    (s.wnd << c->snd_wscale) == c->snd_wnd &&
	    (!(c->flags & TF_TS) ||
	     (s.o.has_ts && seq_geq(s.o.tsval, c->ts_recent)))) {
		if ((c->flags & TF_TS) && seq_leq(s.seq, c->last_ack_sent)) {
			c->ts_recent = s.o.tsval;
			c->ts_recent_ns = now;
		}
		if (s.len == 0 && seq_gt(s.ack, c->snd_una) &&
		    seq_leq(s.ack, c->snd_max)) {
			/* Pure ACK for new data. */
			ack_advance(n, c, &s);
			c->flags &= ~TF_TLP_SENT;
			c->tlp_n = 0;
			tcp_tlp_arm(n, c);
			c->snd_wl1 = s.seq;
			c->snd_wl2 = s.ack;
			rte_pktmbuf_free(m);
			goto out;
		}
		if (s.len > 0 && s.ack == c->snd_una && !t->mem_drop &&
		    s.len <= tcp_rcv_space(n, c) &&
		    seq_leq(s.seq + s.len, c->rcv_adv)) {
			/* Pure in-order data. */
			c->snd_wl1 = s.seq;
			data_in_order(n, c, m, false);
			goto out;
		}
	}
	if (c->state == TCP_SYN_SENT)
		syn_sent_input(n, c, m, ip, th, &s);
	else
		conn_input(n, c, m, ip, th, &s);
out:
	c->flags &= ~TF_BUSY;
	if (c->flags & TF_DOOMED) {
		tcp_conn_free(n, c);
		return;
	}
	if (c->state != TCP_CLOSED) {
		tcp_mark_pending(n, c);
		tcp_timer_update(n, c);
	}
}
