/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CUBIC congestion control (RFC 9438), net.tcp.congestion=cubic.
 *
 * Slow start, recovery and the RTO stay those of tcp_newreno.c; CUBIC
 * replaces the multiplicative decrease (beta 0.7 instead of 0.5, with fast
 * convergence, 4.6-4.7) and congestion avoidance: the window follows
 * W_cubic(t) = C (t - K)^3 + W_max (4.2), never below the Reno-friendly
 * estimate W_est (4.3). Windows are kept in bytes, the cubic function is
 * evaluated in segments and seconds as the RFC writes it. Per-connection
 * state only; the cube root is taken once per congestion epoch.
 */
#include <math.h>

#include "tcp_priv.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

void
tcp_cubic_reset(struct tcp_conn *c)
{
	c->cu_wmax = 0;
	c->cu_wlast = 0;
	c->cu_west = 0;
	c->cu_k_us = 0;
	c->cu_epoch_ns = 0;
}

/* A congestion event (RFC 9438 4.6, 4.7): ssthresh = flight * beta, and
 * W_max remembers the window it happened at (less with fast convergence
 * when the window is shrinking from one event to the next). */
void
tcp_cubic_loss(struct tcp_conn *c, uint32_t flight, uint64_t now)
{
	uint32_t w = c->cwnd;
	uint64_t s = (uint64_t)flight * 7 / 10;

	(void)now;
	if (w < c->cu_wlast)
		c->cu_wmax = (uint32_t)((uint64_t)w * 17 / 20); /* (1+b)/2 */
	else
		c->cu_wmax = w;
	c->cu_wlast = w;
	c->ssthresh = s > 2u * c->smss ? (uint32_t)s : 2u * c->smss;
	c->cu_epoch_ns = 0;
}

/* K (4.2 eq. 2): seconds for W_cubic to climb from cwnd_epoch back to
 * W_max. */
static double
cubic_k(double wmax, double wepoch)
{
	return wmax > wepoch ? cbrt((wmax - wepoch) / CUBIC_C) : 0.0;
}

/* Congestion avoidance: acked new bytes at time now (4.2-4.4). */
void
tcp_cubic_ack(struct tcp_conn *c, uint32_t acked, uint64_t now)
{
	double seg = c->smss, cwnd = c->cwnd / seg, wmax, west, t, k, target,
	       wt, alpha;
	uint64_t nw;

	if (c->cu_epoch_ns == 0) {
		/* First ACK of the epoch: cwnd_epoch is the window now. */
		c->cu_epoch_ns = now;
		if (c->cu_wmax < c->cwnd)
			c->cu_wmax = c->cwnd;   /* no event yet: plateau here */
		c->cu_k_us = (uint32_t)(cubic_k(c->cu_wmax / seg, cwnd) * 1e6);
		c->cu_west = c->cwnd;
	}
	wmax = c->cu_wmax / seg;
	k = c->cu_k_us / 1e6;
	t = (now - c->cu_epoch_ns) / 1e9;
	/* Reno-friendly region (4.3): alpha_cubic until W_est reaches
	 * W_max, then Reno's one segment per RTT. */
	west = c->cu_west / seg;
	alpha = west >= wmax ? 1.0 :
		3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
	west += alpha * (acked / seg) / cwnd;
	c->cu_west = (uint32_t)(west * seg);
	wt = CUBIC_C * (t - k) * (t - k) * (t - k) + wmax;
	if (wt < west) {
		nw = (uint64_t)(west * seg);
	} else {
		/* Concave / convex (4.4, 4.5): aim at W_cubic one RTT
		 * ahead, within [cwnd, 1.5 cwnd]. */
		double r = t + c->srtt_us / 1e6 - k;

		target = CUBIC_C * r * r * r + wmax;
		if (target < cwnd)
			target = cwnd;
		if (target > 1.5 * cwnd)
			target = 1.5 * cwnd;
		nw = c->cwnd + (uint64_t)((target - cwnd) / cwnd * acked);
	}
	if (nw < c->cwnd)
		nw = c->cwnd;
	if (nw > (1u << 30))
		nw = 1u << 30;
	c->cwnd = (uint32_t)nw;
}
