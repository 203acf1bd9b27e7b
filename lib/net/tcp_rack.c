/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loss detection by time, RACK (RFC 8985), and Proportional Rate
 * Reduction (RFC 6937) during loss recovery.
 *
 * RACK without per-segment transmit times: TCP-lite sends in sequence
 * order, so a hole below SACKed data was sent before that data. When the
 * ACK that shows the hole arrives, the hole's segment has been out for at
 * least one RTT more than the SACKed one; it is lost once the reordering
 * window (RACK.reo_wnd) has also passed since the hole was first seen.
 * That is never earlier than RFC 8985 6.2 would mark it, and no later
 * than the first ACK (or timer tick) after. Until the peer shows
 * reordering, reo_wnd is zero once recovery runs or DupThresh is met, and
 * min_RTT / 4 before (RFC 8985 6.2 step 4): with few segments in flight a
 * hole is repaired a quarter RTT after the ACK that shows it, with no
 * waiting for three duplicates, a probe or the RTO.
 */
#include "tcp_priv.h"

/* RACK.reo_wnd in ns (RFC 8985 6.2 step 4). */
uint64_t
tcp_rack_reo_wnd(const struct tcp_conn *c)
{
	uint64_t w;

	if (!(c->flags & TF_REORD) &&
	    ((c->flags & TF_RECOVERY) || c->dupacks >= 3 ||
	     c->sb_bytes >= 3u * c->smss))
		return 0;
	w = (uint64_t)c->min_rtt_us * 1000 / 4;
	if (w > (uint64_t)c->srtt_us * 1000)
		w = (uint64_t)c->srtt_us * 1000;
	return w;
}

/*
 * After the scoreboard took an ACK's SACK blocks: a hole below SACKed data
 * is lost now (window zero) or when the window passes (timer).
 */
void
tcp_rack_detect(struct fmq_net *n, struct tcp_conn *c)
{
	uint64_t w;

	if (c->nsb == 0 || (c->flags & TF_RECOVERY)) {
		c->rack_at = 0;
		return;
	}
	w = tcp_rack_reo_wnd(c);
	if (w == 0 || (c->rack_at != 0 && c->rack_at <= n->tcp->now)) {
		c->rack_at = 0;
		if (tcp_cc_sack_loss(n, c))
			n->st.tcp_rack_loss++;
		return;
	}
	if (c->rack_at == 0) {
		struct tcp_ctx *t = n->tcp;

		c->rack_at = t->now + w;
		tcp_timer_update(n, c);
		/* The wheel ticks every ms, the window is a quarter RTT:
		 * the poll loop looks at it sooner. */
		if (!(c->flags & TF_RACK_Q) && t->nrack < TCP_RACK_Q) {
			c->flags |= TF_RACK_Q;
			t->rack_q[t->nrack++] = c->idx;
		}
	}
}

/* Every poll: reordering windows that have passed (few entries: only
 * connections with a hole seen less than a quarter RTT ago). */
void
tcp_rack_poll(struct fmq_net *n, uint64_t now)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t i = 0;

	while (i < t->nrack) {
		struct tcp_conn *c = &t->conns[t->rack_q[i]];

		if ((c->flags & TF_RACK_Q) && c->rack_at != 0 &&
		    c->rack_at > now && c->state != TCP_CLOSED) {
			i++;
			continue;
		}
		t->rack_q[i] = t->rack_q[--t->nrack];
		if (!(c->flags & TF_RACK_Q))
			continue;
		c->flags &= ~TF_RACK_Q;
		if (c->rack_at == 0 || c->state == TCP_CLOSED ||
		    (c->flags & (TF_DOOMED | TF_BUSY)))
			continue;
		c->flags |= TF_BUSY;
		tcp_rack_timeout(n, c);
		tcp_conn_unbusy(n, c);
	}
}

/* The reordering window of the lowest hole passed (RFC 8985 6.3). */
void
tcp_rack_timeout(struct fmq_net *n, struct tcp_conn *c)
{
	c->rack_at = 0;
	if (c->nsb == 0 || (c->flags & TF_RECOVERY) ||
	    c->snd_una == c->snd_max)
		return;
	if (tcp_cc_sack_loss(n, c)) {
		n->st.tcp_rack_loss++;
		tcp_output(n, c);
	}
}

/* RFC 6675 pipe: bytes sent and neither SACKed nor deemed lost (holes
 * below the highest SACKed byte not resent yet). */
uint32_t
tcp_pipe(const struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t gone = c->sb_bytes + tcp_sb_lost(c, c->rtx_next);

	return flight > gone ? flight - gone : 0;
}

/* Entering recovery (RFC 6937 section 3, initialisation). */
void
tcp_prr_start(struct tcp_conn *c)
{
	c->prr_fs = c->snd_max - c->snd_una;
	if (c->prr_fs == 0)
		c->prr_fs = c->smss;
	c->prr_delivered = 0;
	c->prr_out = 0;
}

/*
 * One ACK in recovery delivered `delivered` bytes (cumulatively ACKed plus
 * newly SACKed): set cwnd so that tcp_output sends sndcnt (RFC 6937
 * section 3, PRR with the slow-start reduction bound): proportional to
 * what left the network while pipe is above ssthresh, back up to ssthresh
 * (by at most what was delivered plus one segment) below it.
 */
void
tcp_prr_ack(struct tcp_conn *c, uint32_t delivered)
{
	uint32_t pipe = tcp_pipe(c);
	int64_t sndcnt;

	c->prr_delivered += delivered;
	if (pipe > c->ssthresh) {
		uint64_t want = ((uint64_t)c->prr_delivered * c->ssthresh +
				 c->prr_fs - 1) / c->prr_fs;

		sndcnt = (int64_t)want - c->prr_out;
	} else {
		int64_t lim = (int64_t)c->prr_delivered - c->prr_out;

		if (lim < (int64_t)delivered)
			lim = delivered;
		lim += c->smss;
		sndcnt = (int64_t)c->ssthresh - pipe;
		if (sndcnt > lim)
			sndcnt = lim;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	/* In whole segments (as the RFC counts), or tcp_output would send
	 * the remainder as a runt. */
	sndcnt = (sndcnt + c->smss - 1) / c->smss * c->smss;
	/* The first retransmission goes whatever the count (RFC 6937bis). */
	if (c->prr_out == 0 && sndcnt < c->smss)
		sndcnt = c->smss;
	c->cwnd = pipe + (uint32_t)sndcnt;
}
