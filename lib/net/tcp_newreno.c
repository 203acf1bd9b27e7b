/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Congestion control: slow start and congestion avoidance (RFC 5681),
 * initial window of net.tcp.init_cwnd segments (RFC 6928), fast retransmit
 * and NewReno fast recovery (RFC 6582). RTT estimation per RFC 6298.
 * With SACK, recovery is entered by RACK (tcp_rack.c) and paced by PRR;
 * net.tcp.congestion=cubic grows and cuts the window per RFC 9438
 * (tcp_cubic.c) instead of by halves and one segment per RTT.
 */
#include "tcp_priv.h"

static uint32_t
flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

void
tcp_cc_init(struct fmq_net *n, struct tcp_conn *c)
{
	c->cwnd = n->tcp->p.init_cwnd * c->smss;
	c->ssthresh = UINT32_MAX;
	c->dupacks = 0;
	c->recover = c->iss;
	c->flags &= ~TF_RECOVERY;
	c->cc = n->tcp->p.cc;
	tcp_cubic_reset(c);
}

/* Halve on loss: ssthresh = max(FlightSize / 2, 2 * SMSS) (RFC 5681 (4)).
 * The window before is kept to undo a spurious reduction. */
static void
cc_halve(struct fmq_net *n, struct tcp_conn *c)
{
	uint32_t f = flight(c) / 2;

	c->prior_cwnd = c->cwnd;
	c->prior_ssthresh = c->ssthresh;
	c->undo_retrans = 0;
	if (c->flags & TF_TS) {
		c->recov_ts = tcp_ms(n->tcp->now);
		c->flags |= TF_UNDO_OK;
	}

	if (c->cc == TCP_CC_CUBIC) {
		tcp_cubic_loss(c, flight(c), n->tcp->now);
		return;
	}
	c->ssthresh = f > 2u * c->smss ? f : 2u * c->smss;
}

/* New data acknowledged (snd_una already advanced by acked bytes). */
void
tcp_cc_ack(struct fmq_net *n, struct tcp_conn *c, uint32_t acked)
{
	if (c->flags & TF_SACK_RECOV) {
		/* RFC 6675: cwnd stays at ssthresh for the episode; the
		 * scoreboard decides what to send. */
		if (seq_geq(c->snd_una, c->recover)) {
			c->cwnd = c->ssthresh;
			c->flags &= ~(TF_RECOVERY | TF_SACK_RECOV);
			c->dupacks = 0;
		}
		if (seq_lt(c->rtx_next, c->snd_una))
			c->rtx_next = c->snd_una;
		return;
	}
	if (c->flags & TF_RECOVERY) {
		if (seq_geq(c->snd_una, c->recover)) {
			/* Full ACK (RFC 6582 3.2 step 3): deflate and leave. */
			uint32_t f = flight(c) + c->smss;

			c->cwnd = c->ssthresh < f ? c->ssthresh : f;
			c->flags &= ~TF_RECOVERY;
			c->dupacks = 0;
		} else {
			/* Partial ACK (step 4): retransmit the next hole,
			 * deflate by the amount acked, add back one SMSS. */
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			if (acked >= c->smss)
				c->cwnd += c->smss;
			n->st.tcp_retrans_fast++;
		}
		return;
	}
	c->dupacks = 0;
	if (c->cwnd < c->ssthresh) {
		/* Slow start, ABC with L = 2 SMSS (RFC 3465). */
		c->cwnd += acked < 2u * c->smss ? acked : 2u * c->smss;
	} else if (c->cc == TCP_CC_CUBIC) {
		tcp_cubic_ack(c, acked, n->tcp->now);
	} else {
		/* Congestion avoidance: about one SMSS per RTT. */
		uint32_t inc = (uint32_t)((uint64_t)c->smss * c->smss / c->cwnd);
		c->cwnd += inc ? inc : 1;
	}
	if (c->cwnd > (1u << 30))
		c->cwnd = 1u << 30;
}

/*
 * A duplicate ACK. Returns true when the segment at snd_una must be
 * retransmitted now (third duplicate: fast retransmit).
 */
bool
tcp_cc_dupack(struct fmq_net *n, struct tcp_conn *c)
{
	n->st.tcp_dupacks++;
	if (c->flags & TF_SACK_RECOV)
		return false;
	if (!(c->flags & TF_RECOVERY) && c->nsb > 0) {
		/* The peer SACKs: RACK detects loss from the scoreboard
		 * (tcp_rack_detect, called by the input path). */
		c->dupacks++;
		return false;
	}
	if (c->flags & TF_RECOVERY) {
		/* Each further duplicate: one segment left the network. */
		c->cwnd += c->smss;
		return false;
	}
	if (++c->dupacks < 3)
		return false;
	/* RFC 6582 3.2 step 2: only if the cumulative ACK covers more than
	 * recover; else these duplicates echo the previous episode's (or a
	 * timeout's) retransmissions. */
	if (!seq_gt(c->snd_una, c->recover)) {
		c->dupacks = 0;
		return false;
	}
	c->recover = c->snd_max;
	cc_halve(n, c);
	c->cwnd = c->ssthresh + 3u * c->smss;
	c->flags |= TF_RECOVERY;
	c->flags &= ~TF_RTT_TIMING; /* Karn */
	n->st.tcp_retrans_fast++;
	return true;
}

/*
 * With a scoreboard: enter loss recovery, RACK (tcp_rack.c) having found
 * the hole below SACKed data lost. Returns true when recovery starts; the
 * holes are then sent by tcp_output within cwnd - pipe, cwnd set by PRR
 * on each ACK.
 */
bool
tcp_cc_sack_loss(struct fmq_net *n, struct tcp_conn *c)
{
	if ((c->flags & TF_RECOVERY) || c->nsb == 0)
		return false;
	if (seq_lt(c->snd_una, c->recover)) {
		/* A hole in data sent before the last reduction: that
		 * episode (or timeout) already answered for it. Data from
		 * recover on was sent after it. */
		return false;
	}
	c->recover = c->snd_max;
	cc_halve(n, c);
	c->rtx_next = c->snd_una;
	c->rtx_mark = 0;
	c->flags |= TF_RECOVERY | TF_SACK_RECOV;
	c->rack_at = 0;
	tcp_prr_start(c);
	tcp_prr_ack(c, 0);
	c->flags &= ~TF_RTT_TIMING;
	n->st.tcp_retrans_fast++;
	return true;
}

/* Retransmission timeout: back to one segment (RFC 5681 (4), loss window). */
void
tcp_cc_timeout(struct fmq_net *n, struct tcp_conn *c)
{
	(void)n;
	if (c->backoff == 0 || !(c->flags & TF_RECOVERY))
		cc_halve(n, c);
	c->cwnd = c->smss;
	c->flags &= ~TF_UNDO_OK;
	c->undo_retrans = 0;     /* a timeout is not undone */
	c->recover = c->snd_max;
	c->flags &= ~(TF_RECOVERY | TF_SACK_RECOV | TF_RTT_TIMING);
	c->dupacks = 0;
	/* A second timeout in a row: the peer may have reneged on what it
	 * SACKed (RFC 2018 8); resend everything. */
	if (c->nrtx >= 2)
		tcp_sb_clear(c);
}

/* RFC 6298 section 2, in microseconds, G = 1 ms. */
void
tcp_rtt_sample(struct fmq_net *n, struct tcp_conn *c, uint64_t rtt_ns)
{
	uint32_t r = (uint32_t)(rtt_ns / 1000);
	uint64_t rto;

	if (r == 0)
		r = 1;
	if (c->min_rtt_us == 0 || r < c->min_rtt_us)
		c->min_rtt_us = r;
	if (c->srtt_us == 0) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

		c->rttvar_us = (3 * c->rttvar_us + d) / 4;
		c->srtt_us = (7 * c->srtt_us + r) / 8;
	}
	rto = c->srtt_us + (4u * c->rttvar_us > 1000 ? 4u * c->rttvar_us : 1000);
	rto *= 1000; /* ns */
	if (rto < n->tcp->p.rto_min_ns)
		rto = n->tcp->p.rto_min_ns;
	if (rto > n->tcp->p.rto_max_ns)
		rto = n->tcp->p.rto_max_ns;
	c->rto_ms = (uint32_t)(rto / 1000000);
	if (c->rto_ms == 0)
		c->rto_ms = 1;
}

/*
 * Eifel detection (RFC 3522) for fast recovery: the first ACK for new data
 * after the retransmission echoes a timestamp. Older than the
 * retransmission means the original arrived (it was reordered, not lost):
 * restore the window. Reordering from the network (or net.impair) would
 * otherwise halve the window each time.
 */
void
tcp_cc_undo_check(struct fmq_net *n, struct tcp_conn *c,
		  const struct tcp_seg *s)
{
	if (!(c->flags & TF_UNDO_OK))
		return;
	c->flags &= ~TF_UNDO_OK;
	if (!(c->flags & TF_RECOVERY) || !s->o.has_ts || s->o.tsecr == 0 ||
	    !seq_lt(s->o.tsecr, c->recov_ts))
		return;
	if (c->cwnd < c->prior_cwnd)
		c->cwnd = c->prior_cwnd;
	if (c->ssthresh < c->prior_ssthresh)
		c->ssthresh = c->prior_ssthresh;
	c->flags &= ~(TF_RECOVERY | TF_SACK_RECOV);
	c->dupacks = 0;
	/* The episode did not happen: a real loss in the same window may
	 * start one. */
	c->recover = s->ack - 1;
	n->st.tcp_undo++;
}

/*
 * A DSACK (RFC 2883) for data below the cumulative ACK: one of our
 * retransmissions was a duplicate. When every retransmission of the last
 * reduction is reported so (RFC 2883 section 5, Linux's undo_retrans),
 * the originals all arrived: the loss was reordering or delay, and the
 * window before the reduction comes back (as Eifel, for peers without
 * timestamps or when the echoed timestamp cannot tell).
 */
void
tcp_cc_dsack(struct fmq_net *n, struct tcp_conn *c)
{
	if (c->undo_retrans == 0 || --c->undo_retrans > 0)
		return;
	if (c->cwnd < c->prior_cwnd)
		c->cwnd = c->prior_cwnd;
	if (c->ssthresh < c->prior_ssthresh)
		c->ssthresh = c->prior_ssthresh;
	c->flags &= ~TF_UNDO_OK;
	if (c->cc == TCP_CC_CUBIC)
		c->cu_epoch_ns = 0;
	if (c->flags & TF_RECOVERY) {
		c->flags &= ~(TF_RECOVERY | TF_SACK_RECOV);
		c->dupacks = 0;
		c->recover = c->snd_una - 1;
	}
	n->st.tcp_undo++;
}
