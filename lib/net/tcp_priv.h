/* SPDX-License-Identifier: Apache-2.0 */
/* TCP-lite internals: connection block, per-lcore TCP context, helpers
 * shared by tcp_input.c, tcp_output.c, tcp_timer.c, tcp_sack.c,
 * tcp_newreno.c and tcp_api.c. Do not include from outside lib/net. */
#ifndef FMQ_TCP_PRIV_H
#define FMQ_TCP_PRIV_H

#include <sys/queue.h>

#include <rte_hash.h>
#include <rte_tcp.h>

#include "net_priv.h"

enum tcp_state {
	TCP_CLOSED = 0, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD,
	TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT,
	TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT, TCP_NSTATES
};

/* Connection flags. */
#define TF_ACK_NOW      (1u << 0)  /* send an ACK at the next output */
#define TF_DELACK       (1u << 1)  /* an ACK is owed, delack timer armed */
#define TF_FIN_QUEUED   (1u << 2)  /* app closed: FIN after queued data */
#define TF_SACK         (1u << 3)  /* SACK-permitted negotiated */
#define TF_TS           (1u << 4)  /* timestamps negotiated */
#define TF_WS           (1u << 5)  /* window scaling negotiated */
#define TF_RX_PAUSED    (1u << 6)
#define TF_APP_CLOSED   (1u << 7)  /* fmq_tcp_close called */
#define TF_APP_KNOWN    (1u << 8)  /* app has the handle */
#define TF_APP_GONE     (1u << 9)  /* closed delivered or aborted */
#define TF_WANT_WRITE   (1u << 10) /* send hit snd_buf */
#define TF_RECOVERY     (1u << 11) /* NewReno fast recovery */
#define TF_PENDING      (1u << 12) /* on the output list */
#define TF_PERSIST      (1u << 13) /* rtx timer is the persist timer */
#define TF_RTT_TIMING   (1u << 14) /* rtt_seq is being timed */
#define TF_BUSY         (1u << 15) /* being processed: defer the free */
#define TF_DOOMED       (1u << 16) /* free when no longer busy */
#define TF_ACTIVE       (1u << 17) /* opened by fmq_tcp_connect */
#define TF_PEER_FIN     (1u << 18) /* FIN received (rcv_nxt covers it) */
#define TF_WIN_UPDATE   (1u << 19) /* window opened: tell the peer */
#define TF_SACK_RECOV   (1u << 20) /* recovery driven by the scoreboard */
#define TF_TLP_SENT     (1u << 21) /* a tail loss probe is out */
#define TF_UNDO_OK      (1u << 22) /* recovery may prove spurious (Eifel) */
#define TF_RQ_RELEASE   (1u << 23) /* resumed: deliver held data */
#define TF_REORD        (1u << 24) /* the peer saw reordering (RACK) */
#define TF_RACK_Q       (1u << 25) /* on the per-poll RACK queue */
#define TF_TLP_DUP      (1u << 26) /* [tlp_lo, tlp_hi) resent by a probe */
#define TF_DSACK        (1u << 27) /* report [dsack_lo, dsack_hi) (RFC 2883) */

/* TCP header flag bits (th->tcp_flags). */
#define TH_FIN RTE_TCP_FIN_FLAG
#define TH_SYN RTE_TCP_SYN_FLAG
#define TH_RST RTE_TCP_RST_FLAG
#define TH_PSH RTE_TCP_PSH_FLAG
#define TH_ACK RTE_TCP_ACK_FLAG
#define TH_URG RTE_TCP_URG_FLAG

/* Options. */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8
#define TCP_MAX_WSCALE 14
#define TCP_MAX_SACK 4
#define TCP_SB_MAX 6             /* SACK scoreboard ranges kept */

/* Timer wheel: ~1 ms ticks (2^20 ns), 4096 slots (~4.3 s horizon; later
 * deadlines park in the farthest slot and are re-filed when it comes). */
#define TW_SHIFT 20
#define TW_SLOTS 4096
#define TCP_MAX_LISTENERS 32
#define TCP_EPH_LO 32768
#define TCP_EPH_HI 60999
/* Tail loss probe timeout: 2 SRTT plus TCP_TLP_MIN_NS (RFC 8985 7.2;
 * Linux adds 2 jiffies, 2 ms at HZ=1000, our wheel's tick is 1 ms), plus
 * TCP_TLP_DELACK_NS for a peer that may delay the ACK of a single
 * segment (RFC 8985 7.2 WCDelAckT). 200 ms, the RFC's worst case, would
 * leave a lone segment to the RTO. A floor of 10 ms (the value before
 * 2026-12-07) made every lost tail at an RTT of 1-2 ms cost 10 ms, 13-23
 * probes and a fifth of a 16 MiB echo's time at 2% loss; a spurious
 * probe costs one segment (two with new data), probes reduce no window.
 * (2 ms as a floor without SRTT once made thousands of spurious probes
 * with 200 echo connections on a loaded tap; the 5 s stalls that
 * followed had another cause, see docs/tcp.md.) Up to TCP_TLP_MAX
 * probes without an ACK, each after twice the previous timeout. */
#define TCP_TLP_MIN_NS (2 * 1000000ull)
#define TCP_TLP_DELACK_NS (10 * 1000000ull)
#define TCP_TLP_MAX 2
/* Connections whose RACK reordering window ends before the next wheel
 * tick, checked on every poll (the wheel keeps them too). */
#define TCP_RACK_Q 64

/* Hash key; 8-byte aligned because rte_hash_crc reads it in 8-byte
 * words. pad is always zero. */
struct tcp_key {
	uint32_t rip, lip;       /* network order */
	uint16_t rport, lport;   /* network order */
	uint32_t pad;
} __rte_aligned(8);

/* Parsed options of a received segment. */
struct tcp_opts {
	uint16_t mss;
	uint8_t ws;              /* valid if has_ws */
	bool has_mss, has_ws, has_ts, sack_perm;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[TCP_MAX_SACK][2];
};

/* A received segment, as seen by the state machine. */
struct tcp_seg {
	uint32_t seq, ack, end;  /* end = seq + len (+SYN +FIN) */
	uint32_t len;            /* payload bytes */
	uint32_t wnd;            /* raw window field */
	uint8_t flags;
	struct tcp_opts o;
};

struct tcp_conn {
	uint32_t flags;
	uint8_t state;
	uint8_t snd_wscale, rcv_wscale;
	uint8_t backoff;         /* RTO doublings in a row */
	uint8_t nrtx;            /* timeouts in a row */
	uint8_t ka_sent;         /* keepalive probes unanswered */
	uint8_t unacked;         /* full segments received since our ACK */
	uint8_t dupacks;
	uint16_t smss;           /* payload bytes per segment we send */
	uint16_t rmss;           /* largest payload seen from the peer */
	uint16_t listener;       /* listener index + 1 (SYN_RCVD accounting) */
	struct tcp_key key;

	/* Send sequence space (RFC 9293 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
	/* Timestamps (RFC 7323). */
	uint32_t ts_recent;
	uint64_t ts_recent_ns;
	/* Congestion control (RFC 5681, 6582, 6675). */
	uint32_t cwnd, ssthresh, recover;
	/* SACK scoreboard: the peer's SACKed ranges above snd_una, sorted
	 * and disjoint; rtx_next is where loss recovery resumes. */
	uint32_t sb[TCP_SB_MAX][2];
	uint32_t sb_bytes, rtx_next;
	uint32_t rtx_mark;       /* snd_max when snd_una was last resent */
	/* Eifel (RFC 3522): window before the last reduction and the
	 * timestamp of the first retransmission. */
	uint32_t prior_cwnd, prior_ssthresh, recov_ts;
	/* DSACK undo (RFC 2883 section 5, as Linux): retransmissions of
	 * the last reduction not yet reported duplicate by the peer. */
	uint32_t undo_retrans;
	uint8_t nsb;
	/* RACK (RFC 8985): when the reordering window of the lowest hole
	 * ends (0: no hole waiting). */
	uint64_t rack_at;
	/* The range a tail loss probe resent: the peer's DSACK for it
	 * says a probe was not needed, not that the network reorders. */
	uint32_t tlp_lo, tlp_hi;
	uint8_t tlp_n;           /* probes sent since the last new ACK */
	/* PRR (RFC 6937): FlightSize at the start of recovery, data
	 * delivered to the peer and data sent since. */
	uint32_t prr_fs, prr_delivered, prr_out;
	/* CUBIC (RFC 9438), see tcp_cubic.c. */
	uint8_t cc;              /* enum tcp_cc */
	uint32_t cu_wmax, cu_wlast, cu_west, cu_k_us;
	uint64_t cu_epoch_ns;
	/* RTT (RFC 6298), microseconds; min_rtt for RACK's window. */
	uint32_t srtt_us, rttvar_us, rto_ms, min_rtt_us;
	uint32_t rtt_seq;
	uint64_t rtt_ns;

	/* Send queue: every data mbuf queued by the app, linked by ->next
	 * across the app's chains. sq_seq is the sequence number of the
	 * first byte of sq_head's data; sq_end the one after the last. */
	struct rte_mbuf *sq_head, *sq_tail, *sq_cur;
	uint32_t sq_seq, sq_end, sq_cur_seq, sq_segs;
	/* Reassembly: payload chains sorted by seq, concatenated; each
	 * chain's head has pkt_len, nb_segs and hash.usr = seq. */
	struct rte_mbuf *ooo_head;
	uint32_t ooo_bytes, ooo_segs, ooo_last_seq;
	uint32_t ooo_fin_seq;    /* seq of an out-of-order FIN */
	/* A duplicate received, for the first SACK block of our next
	 * segment (D-SACK, RFC 2883). */
	uint32_t dsack_lo, dsack_hi;
	bool ooo_fin;
	/* In-order data held while the app paused reading. */
	struct rte_mbuf *rq_head, *rq_tail;
	uint32_t rq_bytes, rq_segs;
	/* Bytes the app still needs to finish what it holds (a request
	 * begun): the window keeps this much open under pool pressure
	 * caused by others (fmq_tcp_set_rx_reserve). */
	uint32_t rx_resv;
	/* This connection's RTO ceiling (fmq_tcp_set_rto_max; 0: the
	 * stack's net.tcp.rto_max_ms). */
	uint64_t rto_cap_ns;

	/* Timers (absolute ns, 0 = off) and the wheel entry. */
	uint64_t rtx_at, delack_at, ka_at, end_at, tlp_at;
	uint64_t tw_at;
	uint64_t last_rx_ns;
	LIST_ENTRY(tcp_conn) tw_link;

	const struct fmq_tcp_callbacks *cb;
	void *user;
	uint32_t idx;
};

LIST_HEAD(tcp_tw_slot, tcp_conn);

struct tcp_listener {
	uint16_t port;           /* host order; 0 = free */
	const struct fmq_tcp_callbacks *cb;
	void *arg;
	uint32_t syn_rcvd;
};

/* Resolved settings (defaults applied), in the units the code uses. */
struct tcp_params {
	uint32_t max_conns, syn_backlog;
	uint64_t rto_min_ns, rto_max_ns, rto_init_ns;
	uint64_t tw_ns, delack_ns;
	uint32_t rcv_buf, snd_buf, init_cwnd, ooo_max;
	uint32_t syn_retries, retries;
	uint64_t ka_idle_ns, ka_intvl_ns;
	uint32_t ka_probes;
	uint8_t rcv_wscale;      /* what we offer */
	uint8_t cc;              /* enum tcp_cc */
	bool sack, ts, ws;
};

enum tcp_cc { TCP_CC_NEWRENO = 0, TCP_CC_CUBIC };

struct tcp_ctx {
	struct tcp_params p;
	struct rte_hash *hash;
	struct tcp_conn *conns;
	uint32_t *freelist;
	uint32_t nfree;
	uint32_t *pending;       /* connections with output to do */
	uint32_t npending;
	uint64_t tw_tick;        /* last processed tick */
	bool tw_started;
	uint16_t next_eph;
	uint32_t tw_scan;        /* where the TIME_WAIT recycler looks next */
	fmq_tcp_port_fn port_ok; /* connect: does this local port suit us */
	void *port_ok_arg;
	uint32_t secret;
	bool test_iss_set;
	uint32_t test_iss;
	uint64_t now;            /* time of the current rx/poll */
	uint64_t last_challenge_ns;
	/* Memory pressure (tcp_mem_update): per-connection byte share while
	 * the pool runs low (UINT32_MAX: no pressure), and whether incoming
	 * payload must be dropped to keep mbufs for RX and ACKs. */
	uint32_t pool_size;
	struct rte_ring *pool_ring;   /* the pool's store, when a ring */
	uint32_t mem_share;
	bool mem_drop;
	uint32_t challenges;     /* in the current second */
	uint32_t rack_q[TCP_RACK_Q];
	uint32_t nrack;
	struct tcp_listener lst[TCP_MAX_LISTENERS];
	struct tcp_tw_slot wheel[TW_SLOTS];
};

/*
 * What one held mbuf costs against the receive window, at least: a
 * one-byte segment pins a whole 2 KiB mbuf, so bytes alone let a peer
 * sending tiny segments hold rcv_buf mbufs (Linux charges truesize).
 */
#define TCP_MBUF_CHARGE 1024u

/* Wrap-safe sequence comparisons (RFC 9293 3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

/* Big-endian 32-bit option fields at any alignment. */
static inline uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline struct tcp_ctx *tcp_ctx(struct fmq_net *n) { return n->tcp; }

static inline uint32_t
tcp_handle(const struct fmq_net *n, const struct tcp_conn *c)
{
	return FMQ_TCP_HANDLE(n->queue_id, c->idx);
}

static inline uint32_t
tcp_ms(uint64_t ns)
{
	return (uint32_t)(ns / 1000000);
}

/* tcp_api.c */
int tcp_init(struct fmq_net *n, int socket);
void tcp_fini(struct fmq_net *n);
struct tcp_conn *tcp_conn_alloc(struct fmq_net *n, const struct tcp_key *k);
bool tcp_tw_recycle(struct fmq_net *n);
void tcp_conn_free(struct fmq_net *n, struct tcp_conn *c);
void tcp_set_state(struct fmq_net *n, struct tcp_conn *c, uint8_t st);
void tcp_notify_closed(struct fmq_net *n, struct tcp_conn *c, int reason);
void tcp_done(struct fmq_net *n, struct tcp_conn *c, int reason);
void tcp_mark_pending(struct fmq_net *n, struct tcp_conn *c);
void tcp_flush_pending(struct fmq_net *n);
void tcp_deliver(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m);
void tcp_maybe_writable(struct fmq_net *n, struct tcp_conn *c);
uint32_t tcp_new_iss(struct fmq_net *n, const struct tcp_key *k);
void tcp_conn_init_params(struct fmq_net *n, struct tcp_conn *c);
void tcp_services_start(struct fmq_net *n);
void tcp_mem_update(struct fmq_net *n);
uint32_t tcp_conn_bytes(const struct tcp_conn *c);

/* tcp_input.c */
void tcp_input(struct fmq_net *n, struct rte_mbuf *m,
	       const struct rte_ipv4_hdr *ip, uint64_t now);

/* tcp_output.c */
void tcp_output(struct fmq_net *n, struct tcp_conn *c);
void tcp_send_ack(struct fmq_net *n, struct tcp_conn *c);
void tcp_retransmit_head(struct fmq_net *n, struct tcp_conn *c);
void tcp_retransmit_at(struct fmq_net *n, struct tcp_conn *c, uint32_t seq);
void tcp_send_probe(struct fmq_net *n, struct tcp_conn *c);
void tcp_send_rst(struct fmq_net *n, struct tcp_conn *c);
void tcp_send_rst_reply(struct fmq_net *n, const struct rte_ipv4_hdr *ip,
			const struct rte_tcp_hdr *th, const struct tcp_seg *s);
uint32_t tcp_rcv_space(const struct fmq_net *n, const struct tcp_conn *c);
void tcp_sq_free_acked(struct fmq_net *n, struct tcp_conn *c, uint32_t ack);
void tcp_sq_purge(struct fmq_net *n, struct tcp_conn *c);

/* tcp_timer.c */
void tcp_timer_update(struct fmq_net *n, struct tcp_conn *c);
void tcp_conn_unbusy(struct fmq_net *n, struct tcp_conn *c);
void tcp_timer_remove(struct fmq_net *n, struct tcp_conn *c);
void tcp_timers_run(struct fmq_net *n, uint64_t now);
void tcp_rto_arm(struct fmq_net *n, struct tcp_conn *c);
uint64_t tcp_rto_ns(const struct fmq_net *n, const struct tcp_conn *c);
void tcp_tlp_arm(struct fmq_net *n, struct tcp_conn *c);
uint64_t tcp_tlp_pto(const struct tcp_conn *c);

/* tcp_sack.c */
bool tcp_ooo_insert(struct fmq_net *n, struct tcp_conn *c,
		    struct rte_mbuf *m, uint32_t seq, bool fin);
struct rte_mbuf *tcp_ooo_pull(struct fmq_net *n, struct tcp_conn *c,
			      bool *fin);
void tcp_ooo_purge(struct fmq_net *n, struct tcp_conn *c);
unsigned int tcp_sack_blocks(const struct tcp_conn *c, uint32_t blk[][2],
			     unsigned int max);
void tcp_chain_free(struct fmq_net *n, struct rte_mbuf *m);
void tcp_sb_update(struct tcp_conn *c, const struct tcp_opts *o);
void tcp_sb_trim(struct tcp_conn *c);
void tcp_sb_clear(struct tcp_conn *c);
bool tcp_sb_hole(const struct tcp_conn *c, uint32_t from, uint32_t *start,
		 uint32_t *len);
uint32_t tcp_sb_lost(const struct tcp_conn *c, uint32_t from);

/* tcp_newreno.c */
void tcp_cc_init(struct fmq_net *n, struct tcp_conn *c);
void tcp_cc_ack(struct fmq_net *n, struct tcp_conn *c, uint32_t acked);
bool tcp_cc_dupack(struct fmq_net *n, struct tcp_conn *c);
bool tcp_cc_sack_loss(struct fmq_net *n, struct tcp_conn *c);
void tcp_cc_timeout(struct fmq_net *n, struct tcp_conn *c);
void tcp_cc_undo_check(struct fmq_net *n, struct tcp_conn *c,
		       const struct tcp_seg *s);
void tcp_rtt_sample(struct fmq_net *n, struct tcp_conn *c, uint64_t rtt_ns);
void tcp_cc_dsack(struct fmq_net *n, struct tcp_conn *c);

/* tcp_rack.c */
uint64_t tcp_rack_reo_wnd(const struct tcp_conn *c);
void tcp_rack_detect(struct fmq_net *n, struct tcp_conn *c);
void tcp_rack_timeout(struct fmq_net *n, struct tcp_conn *c);
void tcp_rack_poll(struct fmq_net *n, uint64_t now);
uint32_t tcp_pipe(const struct tcp_conn *c);
void tcp_prr_start(struct tcp_conn *c);
void tcp_prr_ack(struct tcp_conn *c, uint32_t delivered);

/* tcp_cubic.c */
void tcp_cubic_loss(struct tcp_conn *c, uint32_t flight, uint64_t now);
void tcp_cubic_ack(struct tcp_conn *c, uint32_t acked, uint64_t now);
void tcp_cubic_reset(struct tcp_conn *c);

/* net_impair.c */
int net_impair_init(struct fmq_net *n, int socket);
void net_impair_fini(struct fmq_net *n);
void net_impair_rx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb,
		   uint64_t now);
void net_impair_tx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb);
void net_impair_poll(struct fmq_net *n, uint64_t now);

#endif
