/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP timers on a per-lcore hashed timer wheel driven by fmq_net_poll.
 *
 * Each connection keeps absolute deadlines for its timers (retransmission
 * or persist, delayed ACK, keepalive, TIME_WAIT / FIN_WAIT_2 end) and sits
 * in the wheel at most once, in the slot of the earliest one. Pushing a
 * deadline later (the RTO restart on every ACK) does not touch the wheel:
 * the entry fires early, finds nothing due and is re-filed. Only a deadline
 * that moves earlier than the filed slot moves the entry (O(1) either way).
 */
#include <errno.h>

#include "tcp_priv.h"

static uint64_t
next_deadline(const struct tcp_conn *c)
{
	uint64_t d = UINT64_MAX;

	if (c->rtx_at != 0 && c->rtx_at < d)
		d = c->rtx_at;
	if (c->delack_at != 0 && c->delack_at < d)
		d = c->delack_at;
	if (c->ka_at != 0 && c->ka_at < d)
		d = c->ka_at;
	if (c->end_at != 0 && c->end_at < d)
		d = c->end_at;
	if (c->tlp_at != 0 && c->tlp_at < d)
		d = c->tlp_at;
	if (c->rack_at != 0 && c->rack_at < d)
		d = c->rack_at;
	return d == UINT64_MAX ? 0 : d;
}

void
tcp_timer_remove(struct fmq_net *n, struct tcp_conn *c)
{
	(void)n;
	if (c->tw_at != 0) {
		LIST_REMOVE(c, tw_link);
		c->tw_at = 0;
	}
}

void
tcp_timer_update(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	uint64_t d = next_deadline(c), tick, cur;

	if (d == 0) {
		tcp_timer_remove(n, c);
		return;
	}
	if (c->tw_at != 0 && c->tw_at <= d)
		return;     /* fires no later than needed; re-filed then */
	tcp_timer_remove(n, c);
	if (!t->tw_started) {
		t->tw_tick = t->now >> TW_SHIFT;
		t->tw_started = true;
	}
	cur = t->tw_tick;
	tick = d >> TW_SHIFT;
	if (tick <= cur)
		tick = cur + 1;
	if (tick - cur >= TW_SLOTS)
		tick = cur + TW_SLOTS - 1;
	LIST_INSERT_HEAD(&t->wheel[tick & (TW_SLOTS - 1)], c, tw_link);
	c->tw_at = tick << TW_SHIFT;
}

uint64_t
tcp_rto_ns(const struct fmq_net *n, const struct tcp_conn *c)
{
	uint64_t rto = (uint64_t)c->rto_ms * 1000000ull;
	uint8_t b = c->backoff > 20 ? 20 : c->backoff;

	rto <<= b;
	if (rto > n->tcp->p.rto_max_ns)
		rto = n->tcp->p.rto_max_ns;
	if (c->rto_cap_ns != 0 && rto > c->rto_cap_ns)
		rto = c->rto_cap_ns;
	return rto;
}

void
tcp_rto_arm(struct fmq_net *n, struct tcp_conn *c)
{
	c->flags &= ~TF_PERSIST;
	c->rtx_at = n->tcp->now + tcp_rto_ns(n, c);
	tcp_timer_update(n, c);
}

/* The retransmission timer expired (RFC 6298 5.4-5.6). */
static void
rto_expired(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	bool syn = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD;

	if (c->nrtx >= (syn ? t->p.syn_retries : t->p.retries)) {
		n->st.tcp_timeouts++;
		if (c->state != TCP_SYN_SENT) {
			tcp_send_rst(n, c);
			n->st.tcp_resets_tx++;
		}
		tcp_done(n, c, -ETIMEDOUT);
		return;
	}
	c->nrtx++;
	c->tlp_at = 0;
	if (c->flags & TF_TLP_SENT)
		c->tlp_n = TCP_TLP_MAX;   /* no probe again until an ACK */
	if (c->backoff < 20)
		c->backoff++;
	n->st.tcp_retrans_timeout++;
	if (!syn)
		tcp_cc_timeout(n, c);
	/* Go back to the oldest unacknowledged byte (or the SYN / FIN). */
	c->snd_nxt = c->snd_una;
	c->flags &= ~TF_RTT_TIMING;
	tcp_rto_arm(n, c);
	tcp_output(n, c);
}

/* The probe timeout for the next probe (RFC 8985 7.2): 2 SRTT plus
 * TCP_TLP_MIN_NS, plus the peer's delayed ACK when one segment is out
 * (its ACK may be held), doubled for each probe already sent without an
 * ACK. */
uint64_t
tcp_tlp_pto(const struct tcp_conn *c)
{
	uint64_t pto = 2ull * c->srtt_us * 1000 + TCP_TLP_MIN_NS;

	if (c->snd_max - c->snd_una <= c->smss)
		pto += TCP_TLP_DELACK_NS;
	return pto << c->tlp_n;
}

/*
 * Tail loss probe (RFC 8985 7): when the last segments of a flight are
 * lost no ACK comes that shows a hole, and only the RTO (200 ms at least)
 * would notice. Also armed in SACK recovery (RFC 8985 7.2 leaves it to
 * the RTO there): when the ACKs that would show a lost retransmission
 * are themselves lost, nothing else moves for 200 ms or more.
 * The timeout is tcp_tlp_pto's, never past the RTO. The probe is a new
 * segment when the peer's window allows (and the last one again), else
 * the last one (7.3); its ACK's SACK blocks show RACK the holes. When
 * the probe's ACK is lost too (or the probe), a second probe after twice
 * the timeout resends the last segment (RFC 8985 sends one and leaves
 * the rest to the RTO: 200 ms at least, then a window of one segment;
 * with 2% loss each way that was one 0.2 s stall in most 16 MiB echoes).
 */
void
tcp_tlp_arm(struct fmq_net *n, struct tcp_conn *c)
{
	uint64_t pto;
	uint32_t out = c->snd_max - c->snd_una;

	if (!(c->flags & TF_SACK) || c->tlp_n >= TCP_TLP_MAX ||
	    (c->flags & (TF_RECOVERY | TF_SACK_RECOV)) == TF_RECOVERY ||
	    c->srtt_us == 0 || out == 0) {
		c->tlp_at = 0;
		return;
	}
	pto = tcp_tlp_pto(c);
	if (c->rtx_at != 0 && n->tcp->now + pto >= c->rtx_at) {
		c->tlp_at = 0;
		return;
	}
	c->tlp_at = n->tcp->now + pto;
	tcp_timer_update(n, c);
}

/* The probe's retransmission of [seq, end): remembered, so that the
 * peer's DSACK for it is not taken for reordering or for a duplicate of
 * a recovery's retransmission (tcp_input.c). */
static void
tlp_resend(struct fmq_net *n, struct tcp_conn *c, uint32_t seq, uint32_t end)
{
	c->tlp_lo = seq;
	c->tlp_hi = end;
	c->flags |= TF_TLP_DUP;
	tcp_retransmit_at(n, c, seq);
	tcp_tlp_arm(n, c);      /* the next probe, if any is left */
}

static void
tlp_expired(struct fmq_net *n, struct tcp_conn *c)
{
	uint32_t seq, out = c->snd_max - c->snd_una;

	if (out == 0 || c->tlp_n >= TCP_TLP_MAX || (c->flags & TF_PERSIST) ||
	    (c->flags & (TF_RECOVERY | TF_SACK_RECOV)) == TF_RECOVERY)
		return;
	c->flags |= TF_TLP_SENT;
	n->st.tcp_tlp++;
	if (c->tlp_n > 0)
		n->st.tcp_tlp2++;
	if (c->tlp_n++ > 0 && !(c->flags & TF_SACK_RECOV)) {
		/* The second probe: the last segment again, which the peer
		 * ACKs at once whether it has it (a duplicate) or not (a
		 * hole, then SACKed above). */
		seq = c->snd_max - (out < c->smss ? out : c->smss);
		tlp_resend(n, c, seq, c->snd_max);
		return;
	}
	if (c->flags & TF_SACK_RECOV) {
		/* In recovery no ACK came for 2 SRTT: the one that would
		 * show a lost retransmission (or the end of recovery) was
		 * lost. Resend the first unacknowledged segment: a copy the
		 * peer has is ACKed at once (with the SACK blocks RACK
		 * needs), a lost one is repaired; the RTO (200 ms at least,
		 * then one segment a round trip) is not waited for. */
		seq = c->snd_una;
		c->rtx_mark = c->snd_max;
		tlp_resend(n, c, seq, seq + RTE_MIN(out, (uint32_t)c->smss));
		return;
	}
	if (c->snd_nxt == c->snd_max && seq_lt(c->snd_nxt, c->sq_end) &&
	    seq_lt(c->snd_nxt, c->snd_una + c->snd_wnd)) {
		/* New data: one segment past cwnd (7.3). */
		uint32_t before = c->snd_max, cw = c->cwnd;

		c->cwnd = out + c->smss;
		tcp_output(n, c);
		c->cwnd = cw;
		if (seq_gt(c->snd_max, before)) {
			/* And the last segment sent before it again: when
			 * only the ACK of the flight was lost, a receiver
			 * that delays ACKs (Linux: 40 ms, until its app
			 * reads) holds the ACK of one new in-order segment
			 * too, but a duplicate it must ACK at once (RFC 9293
			 * 3.10.7.4, RFC 5681 4.2). When the tail was lost,
			 * the new segment is SACKed at once as before. */
			seq = before - (out < c->smss ? out : c->smss);
			tlp_resend(n, c, seq, before);
			return;
		}
	}
	seq = c->snd_max - (out < c->smss ? out : c->smss);
	tlp_resend(n, c, seq, c->snd_max);
}

static void
persist_expired(struct fmq_net *n, struct tcp_conn *c)
{
	/* Zero window still: probe it (the peer must answer with an ACK
	 * carrying its window), back off, never give up on a live peer. */
	if (c->backoff < 20)
		c->backoff++;
	n->st.tcp_zwp++;
	tcp_send_probe(n, c);
	c->rtx_at = n->tcp->now + tcp_rto_ns(n, c);
	c->flags |= TF_PERSIST;
}

static void
keepalive_expired(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	uint64_t due = c->last_rx_ns + t->p.ka_idle_ns +
		       c->ka_sent * t->p.ka_intvl_ns;

	c->ka_at = 0;
	if (t->p.ka_idle_ns == 0 || (c->state != TCP_ESTABLISHED &&
				     c->state != TCP_CLOSE_WAIT))
		return;
	if (t->now < due) {
		c->ka_at = due;
		return;
	}
	if (c->ka_sent >= t->p.ka_probes) {
		n->st.tcp_timeouts++;
		n->st.tcp_resets_tx++;
		tcp_send_rst(n, c);
		tcp_done(n, c, -ETIMEDOUT);
		return;
	}
	if (c->snd_una == c->snd_max) {
		c->ka_sent++;
		n->st.tcp_ka_probes++;
		tcp_send_probe(n, c);
	}
	c->ka_at = t->now + t->p.ka_intvl_ns;
}

static void
conn_timers(struct fmq_net *n, struct tcp_conn *c, uint64_t now)
{
	c->flags |= TF_BUSY;
	if (c->end_at != 0 && c->end_at <= now) {
		/* TIME_WAIT over, or FIN_WAIT_2 of a closed app timed out. */
		c->end_at = 0;
		c->flags &= ~TF_BUSY;
		tcp_done(n, c, 0);
		return;
	}
	if (c->rtx_at != 0 && c->rtx_at <= now) {
		c->rtx_at = 0;
		if (c->flags & TF_PERSIST)
			persist_expired(n, c);
		else
			rto_expired(n, c);
	}
	if (c->rack_at != 0 && c->rack_at <= now && !(c->flags & TF_DOOMED))
		tcp_rack_timeout(n, c);
	if (c->tlp_at != 0 && c->tlp_at <= now && !(c->flags & TF_DOOMED)) {
		c->tlp_at = 0;
		tlp_expired(n, c);
	}
	if (c->delack_at != 0 && c->delack_at <= now &&
	    !(c->flags & TF_DOOMED)) {
		c->delack_at = 0;
		if (c->flags & TF_DELACK) {
			n->st.tcp_delacks++;
			tcp_send_ack(n, c);
		}
	}
	if (c->ka_at != 0 && c->ka_at <= now && !(c->flags & TF_DOOMED))
		keepalive_expired(n, c);
	tcp_conn_unbusy(n, c);
}

/* End of a timer's work on c: free it if it was doomed meanwhile, else
 * re-arm its earliest deadline. */
void
tcp_conn_unbusy(struct fmq_net *n, struct tcp_conn *c)
{
	c->flags &= ~TF_BUSY;
	if (c->flags & TF_DOOMED)
		tcp_conn_free(n, c);
	else if (c->state != TCP_CLOSED)
		tcp_timer_update(n, c);
}

void
tcp_timers_run(struct fmq_net *n, uint64_t now)
{
	struct tcp_ctx *t = n->tcp;
	uint64_t target = now >> TW_SHIFT;

	if (t->nrack > 0)
		tcp_rack_poll(n, now);

	if (!t->tw_started) {
		t->tw_tick = target;
		t->tw_started = true;
		return;
	}
	/* A long pause: each slot needs visiting once at most. */
	if (target > t->tw_tick + TW_SLOTS)
		t->tw_tick = target - TW_SLOTS;
	while (t->tw_tick < target) {
		struct tcp_tw_slot *slot;

		t->tw_tick++;
		slot = &t->wheel[t->tw_tick & (TW_SLOTS - 1)];
		while (!LIST_EMPTY(slot)) {
			struct tcp_conn *c = LIST_FIRST(slot);

			LIST_REMOVE(c, tw_link);
			c->tw_at = 0;
			conn_timers(n, c, now);
		}
	}
}
