/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loss recovery arithmetic on hand-built connection state: RACK's
 * reordering window (RFC 8985 6.2), Proportional Rate Reduction against
 * the example of RFC 6937 section 6 and the PRR-SSRB bound, CUBIC's K,
 * reduction, fast convergence and window curve (RFC 9438 4).
 */
#include <math.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "tcp_priv.h"
#include "harness.h"

#define SMSS 1000u

static struct tcp_conn
conn(void)
{
	struct tcp_conn c;

	memset(&c, 0, sizeof(c));
	c.smss = SMSS;
	c.snd_una = 1000000;
	c.snd_max = c.snd_una;
	c.srtt_us = 800;
	c.min_rtt_us = 400;
	c.flags = TF_SACK;
	return c;
}

/* SACK [s, e) relative to snd_una, in segments. */
static void
sack(struct tcp_conn *c, uint32_t s, uint32_t e)
{
	struct tcp_opts o;

	memset(&o, 0, sizeof(o));
	o.nsack = 1;
	o.sack[0][0] = c->snd_una + s * SMSS;
	o.sack[0][1] = c->snd_una + e * SMSS;
	tcp_sb_update(c, &o);
}

static void
test_rack_reo_wnd(void)
{
	struct tcp_conn c = conn();

	c.snd_max = c.snd_una + 10 * SMSS;
	/* One segment SACKed above a hole, no reordering seen, not in
	 * recovery: min_RTT / 4. */
	sack(&c, 1, 2);
	CU_ASSERT_EQUAL(tcp_rack_reo_wnd(&c), 100000);
	/* DupThresh met (three segments SACKed): no wait. */
	sack(&c, 2, 4);
	CU_ASSERT_EQUAL(c.sb_bytes, 3 * SMSS);
	CU_ASSERT_EQUAL(tcp_rack_reo_wnd(&c), 0);
	/* In recovery: no wait either. */
	tcp_sb_clear(&c);
	sack(&c, 1, 2);
	c.flags |= TF_RECOVERY;
	CU_ASSERT_EQUAL(tcp_rack_reo_wnd(&c), 0);
	/* Reordering seen: the window applies even then, at most SRTT. */
	c.flags |= TF_REORD;
	CU_ASSERT_EQUAL(tcp_rack_reo_wnd(&c), 100000);
	c.min_rtt_us = 8000;
	CU_ASSERT_EQUAL(tcp_rack_reo_wnd(&c), 800000);
}

/* pipe (RFC 6675) from a hand-built scoreboard. */
static void
test_pipe_scoreboard(void)
{
	struct tcp_conn c = conn();

	c.snd_max = c.snd_una + 20 * SMSS;
	sack(&c, 1, 3);      /* hole 0, SACKed 1-2 */
	sack(&c, 5, 8);      /* hole 3-4, SACKed 5-7 */
	c.rtx_next = c.snd_una;
	/* 20 out, 5 SACKed, 3 deemed lost. */
	CU_ASSERT_EQUAL(tcp_pipe(&c), 12 * SMSS);
	c.rtx_next = c.snd_una + SMSS;   /* hole 0 resent */
	CU_ASSERT_EQUAL(tcp_pipe(&c), 13 * SMSS);
	c.rtx_next = c.snd_una + 5 * SMSS;
	CU_ASSERT_EQUAL(tcp_pipe(&c), 15 * SMSS);
}

/*
 * RFC 6937 section 6, first example: 20 segments out, one lost,
 * ssthresh 10. Every ACK after it SACKs one more segment; PRR sends one
 * segment for every two delivered (the first ACK: the retransmission),
 * ten in all, and ends with cwnd at ssthresh, pipe never below
 * ssthresh - 1 segment.
 */
static void
test_prr_rfc6937_example(void)
{
	struct tcp_conn c = conn();
	unsigned int sent[19], total = 0;

	c.snd_max = c.snd_una + 20 * SMSS;
	c.ssthresh = 10 * SMSS;
	sack(&c, 1, 2);
	c.rtx_next = c.snd_una;
	tcp_prr_start(&c);
	CU_ASSERT_EQUAL(c.prr_fs, 20 * SMSS);
	for (unsigned int k = 1; k <= 19; k++) {
		uint32_t pipe, allow;

		if (k > 1)
			sack(&c, 1, k + 1);
		tcp_prr_ack(&c, k == 1 ? 0 : SMSS);
		if (k == 1) {
			/* The SACK that started recovery counts too. */
			c.prr_delivered = SMSS;
			tcp_prr_ack(&c, 0);
		}
		pipe = tcp_pipe(&c);
		allow = c.cwnd > pipe ? (c.cwnd - pipe) / SMSS : 0;
		sent[k - 1] = allow;
		/* What tcp_output does with the allowance. */
		for (unsigned int i = 0; i < allow; i++) {
			if (c.rtx_next == c.snd_una)
				c.rtx_next += SMSS;      /* the hole */
			else
				c.snd_max += SMSS;       /* new data */
			c.prr_out += SMSS;
		}
		total += allow;
		CU_ASSERT(tcp_pipe(&c) + SMSS >= c.ssthresh || k == 1);
	}
	/* R, 0, N, 0, ...: half the delivery rate while pipe is above
	 * ssthresh (ACKs 1-16), then PRR-SSRB holds pipe at ssthresh. */
	for (unsigned int k = 0; k < 16; k++)
		CU_ASSERT_EQUAL(sent[k], (k % 2) == 0 ? 1u : 0u);
	CU_ASSERT_EQUAL(total, 10);
	CU_ASSERT_EQUAL(c.prr_out, 10 * SMSS);
	CU_ASSERT_EQUAL(c.cwnd, c.ssthresh);
}

/* PRR-SSRB (RFC 6937 section 3): with pipe below ssthresh (a burst of
 * losses), each ACK may send what it delivered plus one segment, up to
 * ssthresh - pipe. */
static void
test_prr_ssrb(void)
{
	struct tcp_conn c = conn();

	c.snd_max = c.snd_una + 20 * SMSS;
	c.ssthresh = 10 * SMSS;
	sack(&c, 14, 20);    /* 14 lost, 6 SACKed: pipe 0 */
	c.rtx_next = c.snd_una;
	tcp_prr_start(&c);
	c.prr_out = SMSS;    /* the first retransmission went */
	c.rtx_next += SMSS;
	CU_ASSERT_EQUAL(tcp_pipe(&c), SMSS);
	/* An ACK that delivers 2 segments: 2 + 1 may go, not 9. */
	c.snd_una += 2 * SMSS;
	tcp_sb_trim(&c);
	c.rtx_next = c.snd_una;
	tcp_prr_ack(&c, 2 * SMSS);
	CU_ASSERT_EQUAL(c.cwnd - tcp_pipe(&c), 3 * SMSS);
	/* Close to ssthresh: only up to it. */
	c.prr_delivered = 100 * SMSS;
	tcp_prr_ack(&c, 0);
	CU_ASSERT_EQUAL(c.cwnd, c.ssthresh);
}

/* RFC 9438 4.2: K = cbrt(W_max (1 - beta) / C); with W_max 100
 * segments, K = cbrt(75) = 4.2172 s. With a 200 ms RTT (so that the
 * Reno-friendly estimate stays below the curve) the window climbs
 * concave back to W_max at t = K, then convex; a loss cuts to 0.7. */
static void
test_cubic_curve(void)
{
	struct tcp_conn c = conn();
	uint64_t t0 = 1000ull * 1000000000ull, rtt = 200000000ull;
	uint32_t prev;

	c.cc = TCP_CC_CUBIC;
	c.cwnd = 100 * SMSS;
	c.srtt_us = (uint32_t)(rtt / 1000);
	c.snd_max = c.snd_una + 100 * SMSS;
	tcp_cubic_loss(&c, 100 * SMSS, t0);
	CU_ASSERT_EQUAL(c.ssthresh, 70 * SMSS);
	CU_ASSERT_EQUAL(c.cu_wmax, 100 * SMSS);
	c.cwnd = c.ssthresh;
	tcp_cubic_ack(&c, SMSS, t0);
	CU_ASSERT(fabs(c.cu_k_us / 1e6 - cbrt(75.0)) < 1e-3);
	prev = c.cwnd;
	for (unsigned int r = 1; r <= 36; r++) {
		/* One ACK per segment each RTT. */
		for (unsigned int a = c.cwnd / SMSS; a > 0; a--)
			tcp_cubic_ack(&c, SMSS, t0 + r * rtt);
		CU_ASSERT(c.cwnd >= prev);
		prev = c.cwnd;
		/* W_cubic(t + RTT): 89.0 at t = 1 s, 100.0 at K, 112.9
		 * at 7.2 s. */
		if (r == 5)
			CU_ASSERT(c.cwnd > 85 * SMSS && c.cwnd < 92 * SMSS);
		if (r == 21)
			CU_ASSERT(c.cwnd >= 98 * SMSS && c.cwnd <= 101 * SMSS);
		if (r == 36)
			CU_ASSERT(c.cwnd >= 109 * SMSS && c.cwnd <= 114 * SMSS);
	}
	/* Fast convergence (4.7): a loss below the last W_max sets
	 * W_max = cwnd (1 + beta) / 2. */
	c.cu_wlast = 200 * SMSS;
	prev = c.cwnd;
	tcp_cubic_loss(&c, prev, t0);
	CU_ASSERT_EQUAL(c.cu_wmax, (uint32_t)((uint64_t)prev * 17 / 20));
	CU_ASSERT_EQUAL(c.ssthresh, (uint32_t)((uint64_t)prev * 7 / 10));
	/* Never below 2 segments. */
	tcp_cubic_loss(&c, SMSS, t0);
	CU_ASSERT_EQUAL(c.ssthresh, 2 * SMSS);
}

/* RFC 9438 4.3: with a short RTT the cubic curve is flat for seconds;
 * the Reno-friendly estimate leads, so CUBIC never grows slower than
 * Reno would. */
static void
test_cubic_reno_friendly(void)
{
	struct tcp_conn c = conn();
	uint64_t t0 = 5000ull * 1000000000ull;

	c.cc = TCP_CC_CUBIC;
	c.cwnd = 10 * SMSS;
	c.srtt_us = 100;
	tcp_cubic_loss(&c, 10 * SMSS, t0);
	c.cwnd = c.ssthresh;             /* 7 segments */
	/* 20 RTTs of 0.1 ms, one ACK per segment. */
	for (unsigned int r = 1; r <= 20; r++) {
		for (unsigned int a = c.cwnd / SMSS; a > 0; a--)
			tcp_cubic_ack(&c, SMSS, t0 + r * 100000ull);
		/* W_est grows by alpha_cubic = 3 (1 - 0.7) / (1 + 0.7)
		 * = 0.53 segment per RTT up to W_max (10): 9.6 after 5
		 * RTTs, where the cubic curve is still at 7.0... */
		if (r == 5)
			CU_ASSERT(c.cwnd >= 9 * SMSS && c.cwnd < 10 * SMSS);
	}
	/* ... then by one segment per RTT (Reno): about 24 after 20. */
	CU_ASSERT(c.cwnd >= 21 * SMSS && c.cwnd <= 25 * SMSS);
}

/* The tail loss probe's timeout (RFC 8985 7.2): 2 SRTT + 2 ms, 10 ms
 * more when one segment is out (the peer may delay its ACK), doubled for
 * a second probe. */
static void
test_tlp_pto(void)
{
	struct tcp_conn c = conn();

	c.snd_max = c.snd_una + 10 * SMSS;
	CU_ASSERT_EQUAL(tcp_tlp_pto(&c), 3600000);
	c.srtt_us = 20000;
	CU_ASSERT_EQUAL(tcp_tlp_pto(&c), 42000000);
	c.srtt_us = 800;
	c.snd_max = c.snd_una + SMSS;
	CU_ASSERT_EQUAL(tcp_tlp_pto(&c), 13600000);
	c.snd_max = c.snd_una + 10 * SMSS;
	c.tlp_n = 1;
	CU_ASSERT_EQUAL(tcp_tlp_pto(&c), 7200000);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("tcp-loss", NULL, NULL);
	CU_add_test(s, "RACK reordering window (RFC 8985 6.2)", test_rack_reo_wnd);
	CU_add_test(s, "pipe from a scoreboard (RFC 6675)", test_pipe_scoreboard);
	CU_add_test(s, "PRR, RFC 6937 example", test_prr_rfc6937_example);
	CU_add_test(s, "PRR slow-start reduction bound", test_prr_ssrb);
	CU_add_test(s, "CUBIC K, curve, fast convergence (RFC 9438)", test_cubic_curve);
	CU_add_test(s, "CUBIC Reno-friendly region", test_cubic_reno_friendly);
	CU_add_test(s, "tail loss probe timeout (RFC 8985 7.2)", test_tlp_pto);
	return fmq_test_run(argc, argv);
}
