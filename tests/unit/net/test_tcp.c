/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP-lite packet scripts: a scripted peer injects crafted segments with a
 * fake clock and each case checks what the stack emits (RFC 9293, 7323,
 * 2018, 6298, 5681/6582, 5961), plus the malformed-segment table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "tcp_script.h"
#include "harness.h"

#define MS 1000000ull
#define LPORT 5000
#define PEER_PORT 40000

static struct nt_capture cap;
static struct fmq_net *net;
static uint64_t now;

/* ------------------------------------------------------------ the app */

static struct {
	fmq_tcp_conn_t conn[64];
	int naccepted, connected, eof, closed, writable;
	int reason;
	uint8_t rx[1 << 20];
	uint32_t rxlen;
	bool close_on_eof;
	bool refuse;
} app;

static int
app_accepted(struct fmq_net *n, fmq_tcp_conn_t c, void *arg, void **user)
{
	(void)n;
	(void)arg;
	*user = &app;
	if (app.naccepted < 64)
		app.conn[app.naccepted] = c;
	app.naccepted++;
	return app.refuse ? -1 : 0;
}

static void
app_connected(struct fmq_net *n, fmq_tcp_conn_t c, void *user)
{
	(void)n;
	(void)c;
	(void)user;
	app.connected++;
}

static void
app_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user, struct rte_mbuf *m)
{
	(void)user;
	if (m == NULL) {
		app.eof++;
		if (app.close_on_eof)
			fmq_tcp_close(n, c);
		return;
	}
	for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
		if (app.rxlen + s->data_len <= sizeof(app.rx))
			memcpy(app.rx + app.rxlen, rte_pktmbuf_mtod(s, void *),
			       s->data_len);
		app.rxlen += s->data_len;
	}
	CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(m), m->pkt_len);
	rte_pktmbuf_free(m);
}

static void
app_writable(struct fmq_net *n, fmq_tcp_conn_t c, void *user)
{
	(void)n;
	(void)c;
	(void)user;
	app.writable++;
}

static void
app_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user, int reason)
{
	(void)n;
	(void)c;
	(void)user;
	app.closed++;
	app.reason = reason;
}

static const struct fmq_tcp_callbacks app_cb = {
	.accepted = app_accepted, .connected = app_connected,
	.data = app_data, .writable = app_writable, .closed = app_closed,
};

/* ------------------------------------------------------------ fixture */

static struct fmq_net_conf
base_conf(void)
{
	struct fmq_net_conf c = {
		.ip = nt_our_ip, .prefix = 24, .mac = nt_our_mac, .mtu = 1500,
	};
	return c;
}

/* The peer is on-link: one IP frame from it teaches ARP. */
static void
learn_peer(void)
{
	struct rte_mbuf *m = nt_ipv4_frame(nt_peer_ip, nt_our_ip, 253, "x", 1);

	fmq_net_rx(net, &m, 1, now);
	nt_capture_clear(&cap);
}

static void
setup_conf(const struct fmq_net_conf *c)
{
	memset(&app, 0, sizeof(app));
	now = 5000 * MS;
	net = nt_net_create_conf(&cap, c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(net);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(fmq_tcp_listen(net, LPORT, &app_cb, NULL), 0);
	learn_peer();
}

static void
setup(void)
{
	struct fmq_net_conf c = base_conf();

	setup_conf(&c);
}

static void
teardown(void)
{
	nt_capture_clear(&cap);
	fmq_net_free(net);
	net = NULL;
	/* Everything the stack held is back in the pool. */
	CU_ASSERT_EQUAL(nt_pool_in_use(), 0);
}

static const struct fmq_net_stats *
st(void)
{
	return fmq_net_stats(net);
}

static void
rx_frame(struct rte_mbuf *m)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	fmq_net_rx(net, &m, 1, now);
}

static void
rx_seg(const struct ts_seg *s)
{
	rx_frame(ts_frame(s));
}

/* Move the fake clock forward in 1 ms polls. */
static void
advance(uint64_t ns)
{
	uint64_t end = now + ns;

	while (now < end) {
		now += MS < end - now ? MS : end - now;
		fmq_net_poll(net, now);
	}
}

static struct ts_out o_;

/* Parse emitted segment i (checks its checksums). */
static struct ts_out *
out(unsigned int i)
{
	CU_ASSERT_FATAL(i < cap.n);
	CU_ASSERT_FATAL(ts_parse(cap.pkts[i], &o_));
	/* Checksums the port was asked to fill are not checked here. */
	if (!(cap.pkts[i]->ol_flags & RTE_MBUF_F_TX_L4_MASK))
		CU_ASSERT(o_.csum_ok);
	if (!(cap.pkts[i]->ol_flags & RTE_MBUF_F_TX_IP_CKSUM))
		CU_ASSERT(o_.ipsum_ok);
	return &o_;
}

static void
clear(void)
{
	nt_capture_clear(&cap);
}

static uint8_t
pat(uint32_t off)
{
	return (uint8_t)(off * 7 + 3 + (off >> 8));
}

static uint8_t pbuf[1 << 17];

static const uint8_t *
patbuf(uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len && i < sizeof(pbuf); i++)
		pbuf[i] = pat(off + i);
	return pbuf;
}

/* The scripted peer. */
struct peer {
	uint16_t port;
	uint32_t iss, nxt;   /* peer's sequence numbers */
	uint32_t rcv;        /* next byte expected from us */
	uint32_t ts, ecr;
	uint16_t win;
	bool ts_on;
	fmq_tcp_conn_t h;
};

static struct ts_seg
pseg(const struct peer *p, uint8_t flags, const void *d, uint32_t len)
{
	struct ts_seg s = {
		.sport = p->port, .dport = LPORT, .flags = flags,
		.seq = p->nxt, .ack = (flags & F_ACK) ? p->rcv : 0,
		.win = p->win, .data = d, .len = len,
	};
	if (p->ts_on)
		ts_opt_ts(&s, p->ts, p->ecr);
	return s;
}

/* Peer sends len bytes of the pattern from its stream offset. */
static void
peer_send(struct peer *p, uint32_t len)
{
	uint32_t off = p->nxt - p->iss - 1;
	struct ts_seg s = pseg(p, F_ACK | F_PSH, patbuf(off, len), len);

	rx_seg(&s);
	p->nxt += len;
}

static void
peer_ack(struct peer *p, uint32_t ack)
{
	struct ts_seg s;

	p->rcv = ack;
	s = pseg(p, F_ACK, NULL, 0);
	rx_seg(&s);
}

/* Passive open with Linux's SYN options; returns with ESTABLISHED. */
static void
open_conn(struct peer *p, uint16_t port, uint32_t iss)
{
	struct ts_seg s = {
		.sport = port, .dport = LPORT, .flags = F_SYN, .seq = iss,
		.win = 64240,
	};
	struct ts_out *o;
	int before = app.naccepted;

	memset(p, 0, sizeof(*p));
	p->port = port;
	p->iss = iss;
	p->ts = 1000;
	p->ts_on = true;
	p->win = 502;        /* x1024 (wscale 10) */
	ts_opt_linux_syn(&s, p->ts);
	clear();
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_SYN | F_ACK);
	CU_ASSERT_EQUAL(o->ack, iss + 1);
	p->nxt = iss + 1;
	p->rcv = o->seq + 1;
	p->ecr = o->tsval;
	clear();
	peer_ack(p, p->rcv);
	CU_ASSERT_EQUAL_FATAL(app.naccepted, before + 1);
	p->h = app.conn[before];
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p->h), 4 /* ESTABLISHED */);
	CU_ASSERT_EQUAL(cap.n, 0);
}

/* Queue len pattern bytes (from stream offset off) for sending. */
static int
app_send(fmq_tcp_conn_t h, uint32_t off, uint32_t len)
{
	struct rte_mbuf *head = NULL, *tail = NULL;

	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(nt_pool);
		uint32_t take = len > 1000 ? 1000 : len;

		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)take),
		       patbuf(off, take), take);
		if (head == NULL)
			head = m;
		else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += take;
		}
		tail = m;
		off += take;
		len -= take;
	}
	return fmq_tcp_send(net, h, head);
}

/* Check emitted data segment o carries our stream from offset. */
static void
check_payload(const struct ts_out *o, uint32_t off)
{
	for (uint32_t i = 0; i < o->len; i++)
		if (o->data[i] != pat(off + i)) {
			CU_FAIL("payload byte differs");
			return;
		}
}

/* ------------------------------------------------------------ cases */

static void
test_handshake_options(void)
{
	struct ts_seg s = {
		.sport = PEER_PORT, .dport = LPORT, .flags = F_SYN,
		.seq = 12345, .win = 64240,
	};
	struct ts_out *o;

	ts_opt_linux_syn(&s, 777);
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_SYN | F_ACK);
	CU_ASSERT_EQUAL(o->ack, 12346);
	CU_ASSERT(o->has_mss && o->mss == 1460);
	CU_ASSERT(o->sack_ok);
	CU_ASSERT(o->has_ts && o->tsecr == 777);
	/* 256 KiB receive buffer needs shift 3 to fit 16 bits. */
	CU_ASSERT(o->has_ws && o->ws == 3);
	CU_ASSERT_EQUAL(o->win, 65535);  /* a SYN's window is unscaled */
	CU_ASSERT_EQUAL(o->sport, LPORT);
	CU_ASSERT_EQUAL(o->dport, PEER_PORT);
	uint32_t iss = o->seq, tsv = o->tsval;
	clear();
	CU_ASSERT_EQUAL(app.naccepted, 0);  /* not before the ACK */
	CU_ASSERT_EQUAL(st()->tcp_active, 1);

	s.flags = F_ACK;
	s.seq = 12346;
	s.ack = iss + 1;
	s.olen = 0;
	s.win = 502;
	ts_opt_ts(&s, 778, tsv);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.naccepted, 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, app.conn[0]), 4);
	CU_ASSERT_EQUAL(st()->tcp_passive_opens, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	uint32_t lip, rip;
	uint16_t lp, rp;
	CU_ASSERT_EQUAL(fmq_tcp_get_addrs(net, app.conn[0], &lip, &lp, &rip,
					  &rp), 0);
	CU_ASSERT_EQUAL(rip, nt_peer_ip);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(rp), PEER_PORT);
	CU_ASSERT_PTR_EQUAL(fmq_tcp_get_user(net, app.conn[0]), &app);

	/* A SYN without options: SYN-ACK with MSS only. */
	struct ts_seg s2 = {
		.sport = PEER_PORT + 1, .dport = LPORT, .flags = F_SYN,
		.seq = 99, .win = 8192,
	};
	rx_seg(&s2);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT(o->has_mss && !o->has_ts && !o->has_ws && !o->sack_ok);
	clear();
}

static void
test_data_both_ways(void)
{
	struct peer p;
	struct ts_out *o;

	open_conn(&p, PEER_PORT, 1000);
	/* One full segment: ACK delayed. */
	peer_send(&p, 1448);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* Second full segment: ACK at once. */
	peer_send(&p, 1448);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_ACK);
	CU_ASSERT_EQUAL(o->ack, p.nxt);
	CU_ASSERT_EQUAL(o->win, 262144 >> 3);
	CU_ASSERT(o->has_ts && o->tsecr == p.ts);
	CU_ASSERT_EQUAL(app.rxlen, 2896);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 2896), 2896) == 0);
	clear();
	/* A full segment then silence: the delayed ACK comes at 40 ms. */
	peer_send(&p, 1448);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(39 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(3 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt);
	CU_ASSERT_EQUAL(st()->tcp_delacks, 1);
	clear();

	/* App -> peer: 5000 bytes as 1448-byte segments (MSS - TS). */
	CU_ASSERT(app_send(p.h, 0, 5000) > 0);
	CU_ASSERT(fmq_net_mbufs_held(net) > 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 4);
	uint32_t off = 0;
	for (unsigned int i = 0; i < 4; i++) {
		o = out(i);
		CU_ASSERT_EQUAL(o->seq, p.rcv + off);
		CU_ASSERT_EQUAL(o->len, i < 3 ? 1448u : 5000u - 3 * 1448);
		CU_ASSERT(o->flags & F_ACK);
		CU_ASSERT_EQUAL(!!(o->flags & F_PSH), i == 3);
		check_payload(o, off);
		off += o->len;
	}
	clear();
	peer_ack(&p, p.rcv + 5000);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
	CU_ASSERT_EQUAL(st()->tcp_bytes_out, 5000);
	/* Nothing more to send, no retransmission later. */
	advance(1000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
}

static void
test_initial_window_slow_start(void)
{
	struct peer p;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 100000);
	fmq_net_poll(net, now);
	/* RFC 6928: ten segments, then wait for ACKs. */
	CU_ASSERT_EQUAL(cap.n, 10);
	uint32_t first = out(0)->seq;
	clear();
	peer_ack(&p, first + 2 * 1448);
	/* Two segments left the network, cwnd grew by two (ABC L=2). */
	CU_ASSERT_EQUAL(cap.n, 4);
	clear();
}

static void
test_reorder_reassembly(void)
{
	struct peer p;
	struct ts_out *o;
	uint32_t base;
	struct ts_seg s;

	open_conn(&p, PEER_PORT, 5000);
	base = p.nxt;
	/* Segment 2 first: immediate duplicate ACK with a SACK block. */
	p.nxt = base + 1000;
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->ack, base);
	CU_ASSERT_EQUAL(o->nsack, 1);
	CU_ASSERT_EQUAL(o->sack[0][0], base + 1000);
	CU_ASSERT_EQUAL(o->sack[0][1], base + 2000);
	CU_ASSERT_EQUAL(app.rxlen, 0);
	CU_ASSERT_EQUAL(st()->tcp_ooo, 1);
	clear();
	/* Segment 4, then 3 overlapping 2 and 4. */
	p.nxt = base + 3000;
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->nsack, 2);
	CU_ASSERT_EQUAL(o->sack[0][0], base + 3000);  /* newest first */
	clear();
	p.nxt = base + 1500;
	peer_send(&p, 1700);  /* covers 1500..3200 */
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->nsack, 1);
	CU_ASSERT_EQUAL(o->sack[0][0], base + 1000);
	CU_ASSERT_EQUAL(o->sack[0][1], base + 4000);
	clear();
	/* Segment 1 fills the hole: everything delivered, in order. */
	p.nxt = base;
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->ack, base + 4000);
	CU_ASSERT_EQUAL(o->nsack, 0);
	CU_ASSERT_EQUAL_FATAL(app.rxlen, 4000);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 4000), 4000) == 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
	clear();
	/* A FIN out of order is kept and takes effect when in order. */
	p.nxt = base + 5000;
	s = pseg(&p, F_ACK | F_FIN, patbuf(5000, 100), 100);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.eof, 0);
	clear();
	p.nxt = base + 4000;
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL(app.eof, 1);
	CU_ASSERT_EQUAL(app.rxlen, 5100);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 5100), 5100) == 0);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->ack, base + 5101);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 7 /* CLOSE_WAIT */);
	clear();
}

static void
test_rto_backoff(void)
{
	struct peer p;
	struct ts_out *o;
	uint32_t seq;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 1000);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	seq = out(0)->seq;
	clear();
	/* Tail loss probe first (one segment out: 2 SRTT + 2 ms + 10 ms,
	 * SRTT 0.5 ms): the last segment again, once (RFC 8985). */
	advance(11 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(3 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, seq);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 1);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
	clear();
	/* No ACK: a second probe after twice the timeout, the same
	 * segment, then no more. */
	advance(24 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(5 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, seq);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 2);
	clear();
	/* RTO is the 200 ms floor (tiny RTT measured in the handshake). */
	advance(154 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(7 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->seq, seq);
	CU_ASSERT_EQUAL(o->len, 1000);
	check_payload(o, 0);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 1);
	clear();
	/* Exponential backoff: 400 ms, then 800 ms. */
	advance(395 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(10 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	advance(790 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(20 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 3);
	clear();
	/* The ACK stops it. */
	peer_ack(&p, seq + 1000);
	advance(5000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
}

static void
test_fast_retransmit(void)
{
	struct peer p;
	uint32_t una;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 10 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 10);
	una = out(0)->seq;
	clear();
	/* Segment 1 lost: the peer acks nothing new, three times. */
	peer_ack(&p, una);
	peer_ack(&p, una);
	CU_ASSERT_EQUAL(cap.n, 0);
	peer_ack(&p, una);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	check_payload(out(0), 0);
	CU_ASSERT_EQUAL(st()->tcp_retrans_fast, 1);
	CU_ASSERT_EQUAL(st()->tcp_dupacks, 3);
	clear();
	/* Partial ACK (NewReno): the next hole goes at once. */
	peer_ack(&p, una + 1448);
	CU_ASSERT(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->seq, una + 1448);
	clear();
	/* Full ACK ends recovery; no timeout retransmission follows. */
	peer_ack(&p, una + 10 * 1448);
	advance(2000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
}

static void
test_window_scaling(void)
{
	struct peer p;
	uint32_t total = 0;

	open_conn(&p, PEER_PORT, 1);
	/* Peer wscale 10: a window field of 2 is 2048 bytes. */
	p.win = 2;
	peer_ack(&p, p.rcv);
	app_send(p.h, 0, 10000);
	fmq_net_poll(net, now);
	for (unsigned int i = 0; i < cap.n; i++)
		total += out(i)->len;
	CU_ASSERT_EQUAL(total, 2048);
	clear();
	/* Our side: the window field is our free space >> 3. */
	peer_send(&p, 100);
	advance(50 * MS);
	/* The delayed ACK, or the tail loss probes that carry it. */
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->win, 262144 >> 3);
	clear();
}

static void
test_zero_window_probe(void)
{
	struct peer p;
	struct ts_out *o;
	uint32_t una;

	open_conn(&p, PEER_PORT, 1);
	p.win = 0;
	peer_ack(&p, p.rcv);
	una = p.rcv;
	app_send(p.h, 0, 3000);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* Persist timer: a probe after one RTO (200 ms), then backoff. */
	advance(199 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(5 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->seq, una - 1);
	CU_ASSERT_EQUAL(o->len, 0);
	clear();
	advance(395 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(10 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);
	CU_ASSERT_EQUAL(st()->tcp_zwp, 2);
	clear();
	/* The window opens: the data goes out at once. */
	p.win = 100;
	peer_ack(&p, una);
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	check_payload(out(0), 0);
	clear();
	peer_ack(&p, una + 3000);
}

static void
test_our_zero_window(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;
	struct ts_out *o;

	teardown();
	c.tcp.rcv_buf = 8192;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_pause_rx(net, p.h, true);
	for (int i = 0; i < 8; i++)
		peer_send(&p, 1024);
	advance(50 * MS);
	CU_ASSERT(cap.n >= 1);
	o = out(cap.n - 1);
	CU_ASSERT_EQUAL(o->ack, p.nxt);
	CU_ASSERT_EQUAL(o->win, 0);
	CU_ASSERT_EQUAL(app.rxlen, 0);
	clear();
	/* A one-byte probe is answered (ACK, window still 0), not taken. */
	uint64_t oow = st()->drop[FMQ_NET_DROP_TCP_OUT_OF_WINDOW];
	peer_send(&p, 1);
	p.nxt--;
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->ack, p.nxt);
	CU_ASSERT_EQUAL(o->win, 0);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_OUT_OF_WINDOW], oow + 1);
	clear();
	/* A Linux-style probe (old sequence number) is answered too. */
	p.nxt--;
	peer_ack(&p, p.rcv);
	p.nxt++;
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	/* Resume: the held data is delivered (from the next poll, not
	 * inside the call) and the window reopens. */
	fmq_tcp_pause_rx(net, p.h, false);
	CU_ASSERT_EQUAL(app.rxlen, 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(app.rxlen, 8192);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 8192), 8192) == 0);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->win, 8192);
	clear();
}

/*
 * The stall of 200 echo connections (one connection silent for 5 s and
 * more): the peer filled our window to the byte and the flight's first
 * segment was lost (or dropped under pool pressure), so rcv_nxt stayed
 * behind and every bare ACK the peer sent for our data carried SEQ =
 * its SND.NXT = our right edge. RFC 9293's strict "< RCV.NXT + RCV.WND"
 * threw each one away (answered by a duplicate ACK): our sender never
 * saw its data acknowledged and went to the RTO, again and again, until
 * the peer's own RTO filled the hole. Linux and BSD take such an ACK.
 */
static void
test_ack_at_right_edge(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;
	uint32_t una, edge;
	uint64_t oow;

	teardown();
	c.tcp.rcv_buf = 8192;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	edge = p.nxt + 8192;          /* what our SYN-ACK and ACKs offered */
	app_send(p.h, 0, 2 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 2);
	una = out(0)->seq;
	clear();
	/* The peer's first 1448 bytes are lost; the rest fills the window
	 * exactly. Each out-of-order segment is answered at once. */
	p.nxt += 1448;
	while (p.nxt != edge) {
		uint32_t len = edge - p.nxt < 1448 ? edge - p.nxt : 1448;

		peer_send(&p, len);
	}
	CU_ASSERT(cap.n >= 1);
	CU_ASSERT_EQUAL(out(cap.n - 1)->ack, edge - 8192);
	clear();
	/* Its bare ACK for our two segments sits at the right edge. */
	oow = st()->drop[FMQ_NET_DROP_TCP_OUT_OF_WINDOW];
	peer_ack(&p, una + 2 * 1448);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_OUT_OF_WINDOW], oow);
	/* Taken: nothing of ours is resent, by TLP or RTO. */
	advance(1000 * MS);
	for (unsigned int i = 0; i < cap.n; i++)
		CU_ASSERT_EQUAL(out(i)->len, 0);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 0);
	clear();
	/* The hole is filled: everything is delivered in order. */
	p.nxt = edge - 8192;
	peer_send(&p, 1448);
	CU_ASSERT_EQUAL(app.rxlen, 8192);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 8192), 8192) == 0);
	clear();
}

/*
 * Our bare ACKs carry snd_max, not snd_nxt: after a timeout snd_nxt is
 * back at snd_una, below the peer's RCV.NXT once the peer has our data
 * but its ACKs were lost; Linux drops a segment that old as out of
 * window (its ACK field unread), so it never learnt what we received.
 */
static void
test_ack_seq_after_rto(void)
{
	struct peer p;
	uint32_t una;
	struct ts_out *o;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 3 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	una = out(0)->seq;
	clear();
	/* No ACK comes back: the probe, then the RTO resends the first
	 * segment only (cwnd one segment). */
	advance(250 * MS);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 1);
	clear();
	/* The peer sends data: our ACK for it is numbered at the highest
	 * byte we sent. */
	peer_send(&p, 100);
	peer_send(&p, 100);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->len, 0);
	CU_ASSERT_EQUAL(o->ack, p.nxt);
	CU_ASSERT_EQUAL(o->seq, una + 3 * 1448);
	clear();
	peer_ack(&p, una + 3 * 1448);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
}

/* A bare FIN in a zero window is taken: it needs no buffer. Dropping it
 * kept a peer that closed during pool pressure (and whatever partial
 * request it left with the app) alive while it retried the FIN. */
static void
test_zero_window_fin(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;
	struct ts_seg s;
	struct ts_out *o;

	teardown();
	c.tcp.rcv_buf = 8192;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_pause_rx(net, p.h, true);
	for (int i = 0; i < 8; i++)
		peer_send(&p, 1024);
	advance(50 * MS);
	CU_ASSERT_EQUAL_FATAL(out(cap.n - 1)->win, 0);
	clear();
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	advance(50 * MS);
	CU_ASSERT_FATAL(cap.n >= 1);
	o = out(cap.n - 1);
	CU_ASSERT_EQUAL(o->ack, p.nxt + 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 7 /* CLOSE_WAIT */);
	clear();
	/* Data with the FIN in a zero window: neither is taken. */
	teardown();
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_pause_rx(net, p.h, true);
	for (int i = 0; i < 8; i++)
		peer_send(&p, 1024);
	clear();
	s = pseg(&p, F_ACK | F_FIN, "x", 1);
	rx_seg(&s);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(cap.n - 1)->ack, p.nxt);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 4 /* ESTABLISHED */);
	clear();
	teardown();
	setup();
}

/* Every held mbuf counts at least TCP_MBUF_CHARGE (1 KiB) against the
 * window: one-byte segments close it after rcv_buf / 1 KiB of them, not
 * after rcv_buf of them (a 2 KiB mbuf each). */
static void
test_tiny_segment_charge(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;
	uint64_t full;

	teardown();
	c.tcp.rcv_buf = 8192;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_pause_rx(net, p.h, true);
	for (int i = 0; i < 8; i++)
		peer_send(&p, 1);
	advance(50 * MS);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(cap.n - 1)->ack, p.nxt);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 8);
	clear();
	/* The advertised window (bytes) still has room, but the mbufs
	 * held cost the whole buffer: the ninth is refused, ACKed. */
	full = st()->drop[FMQ_NET_DROP_TCP_RCVQ_FULL];
	for (int i = 0; i < 4; i++) {
		peer_send(&p, 1);
		p.nxt--;
	}
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_RCVQ_FULL], full + 4);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 8);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(cap.n - 1)->ack, p.nxt);
	clear();
	fmq_tcp_pause_rx(net, p.h, false);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(app.rxlen, 8);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
	clear();
	teardown();
	setup();
}

static void
test_passive_close(void)
{
	struct peer p;
	struct ts_seg s;
	struct ts_out *o;

	app.close_on_eof = true;
	open_conn(&p, PEER_PORT, 1);
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL(app.eof, 1);
	/* ACK of the FIN and our FIN (app closed at EOF). */
	CU_ASSERT_FATAL(cap.n >= 1);
	o = out(cap.n - 1);
	CU_ASSERT(o->flags & F_FIN);
	CU_ASSERT_EQUAL(o->ack, p.nxt);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 9 /* LAST_ACK */);
	uint32_t fin = o->seq;
	clear();
	CU_ASSERT_EQUAL(app.closed, 0);
	peer_ack(&p, fin + 1);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(app.reason, 0);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	CU_ASSERT_EQUAL(cap.n, 0);
}

static void
test_active_close_time_wait(void)
{
	struct peer p;
	struct ts_seg s;
	struct ts_out *o;
	uint32_t fin;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 500);
	CU_ASSERT_EQUAL(fmq_tcp_close(net, p.h), 0);
	CU_ASSERT_EQUAL(fmq_tcp_close(net, p.h), -EALREADY);
	fmq_net_poll(net, now);
	/* Data and FIN in one segment. */
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags & (F_FIN | F_ACK), F_FIN | F_ACK);
	CU_ASSERT_EQUAL(o->len, 500);
	fin = o->seq + 500;
	clear();
	/* The FIN retransmits like data (two tail loss probes, then the
	 * RTO). */
	advance(210 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	CU_ASSERT(out(0)->flags & F_FIN);
	CU_ASSERT(out(1)->flags & F_FIN);
	CU_ASSERT(out(2)->flags & F_FIN);
	CU_ASSERT_EQUAL(out(2)->len, 500);
	clear();
	peer_ack(&p, fin + 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 6 /* FIN_WAIT_2 */);
	/* Data from the peer after our close is acked and discarded. */
	peer_send(&p, 10);
	CU_ASSERT_EQUAL(app.rxlen, 0);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_DATA_AFTER_CLOSE], 1);
	clear();
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 10 /* TIME_WAIT */);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 1);
	clear();
	/* A retransmitted FIN in TIME_WAIT is acknowledged again. */
	p.nxt--;
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt);
	clear();
	/* Gone after 2*MSL (60 s), not before. */
	advance(59000 * MS);
	CU_ASSERT_EQUAL(st()->tcp_active, 1);
	advance(1100 * MS);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 0);
	CU_ASSERT_EQUAL(app.closed, 1);
}

static void
test_simultaneous_close(void)
{
	struct peer p;
	struct ts_seg s;
	uint32_t fin;

	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	fin = out(0)->seq;
	clear();
	/* Peer's FIN crosses ours (does not ack it). */
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 8 /* CLOSING */);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt);
	clear();
	peer_ack(&p, fin + 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 10 /* TIME_WAIT */);
	CU_ASSERT_EQUAL(app.closed, 1);
}

static void
test_rst_each_state(void)
{
	struct peer p;
	struct ts_seg s;

	/* ESTABLISHED, exact sequence: reset. */
	open_conn(&p, PEER_PORT, 1);
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(app.reason, -ECONNRESET);
	CU_ASSERT_EQUAL(st()->tcp_resets_rx, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);

	/* In the window but not exact: challenge ACK, no reset. */
	open_conn(&p, PEER_PORT + 1, 1);
	s = pseg(&p, F_RST, NULL, 0);
	s.seq += 100;
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 4);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->flags, F_ACK);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt);
	CU_ASSERT_EQUAL(st()->tcp_challenge_acks, 1);
	clear();
	/* Out of the window: dropped silently. */
	s.seq = p.nxt + 10000000;
	rx_seg(&s);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 4);
	/* SYN on ESTABLISHED: challenge ACK (RFC 5961 4). */
	s = pseg(&p, F_SYN, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(cap.n, 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 4);
	clear();

	/* CLOSE_WAIT: reset. */
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	clear();
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 7);
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 2);
	CU_ASSERT_EQUAL(app.reason, -ECONNRESET);

	/* FIN_WAIT_1: reset. */
	open_conn(&p, PEER_PORT + 2, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	clear();
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 3);

	/* SYN_RCVD: back to listen, no callbacks. */
	struct ts_seg syn = { .sport = PEER_PORT + 3, .dport = LPORT,
			      .flags = F_SYN, .seq = 500, .win = 1000 };
	rx_seg(&syn);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(st()->tcp_active, 1);
	clear();
	syn.flags = F_RST;
	syn.seq = 501;
	rx_seg(&syn);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	CU_ASSERT_EQUAL(app.closed, 3);
	CU_ASSERT_EQUAL(app.naccepted, 3);

	/* FIN_WAIT_2: reset. */
	open_conn(&p, PEER_PORT + 5, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	uint32_t fin = out(cap.n - 1)->seq;
	clear();
	peer_ack(&p, fin + 1);
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 6);
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 4);
	CU_ASSERT_EQUAL(app.reason, -ECONNRESET);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);

	/* CLOSING: a reset ends it too. */
	open_conn(&p, PEER_PORT + 6, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	clear();
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 8);
	clear();
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 5);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);

	/* TIME_WAIT: an exact RST ends it; out of window it is ignored. */
	open_conn(&p, PEER_PORT + 7, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	fin = out(cap.n - 1)->seq;
	clear();
	peer_ack(&p, fin + 1);
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	clear();
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 1);
	s = pseg(&p, F_RST, NULL, 0);
	s.seq += 5000000;
	rx_seg(&s);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 0);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	CU_ASSERT_EQUAL(app.closed, 6);   /* told once, at TIME_WAIT */
	app.closed = 3;

	/* LAST_ACK: reset ends it. */
	app.close_on_eof = true;
	open_conn(&p, PEER_PORT + 4, 1);
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	clear();
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 9);
	s = pseg(&p, F_RST, NULL, 0);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 4);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	CU_ASSERT_EQUAL(cap.n, 0);
}

static void
test_closed_port_rst(void)
{
	struct ts_seg s = { .sport = 1234, .dport = 81, .flags = F_SYN,
			    .seq = 777, .win = 1000 };
	struct ts_out *o;

	/* SYN to a closed port: RST|ACK acknowledging the SYN. */
	rx_seg(&s);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_RST | F_ACK);
	CU_ASSERT_EQUAL(o->ack, 778);
	CU_ASSERT_EQUAL(o->seq, 0);
	clear();
	/* An ACK with no connection: RST with seq = its ack. */
	s.flags = F_ACK;
	s.ack = 4242;
	rx_seg(&s);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_RST);
	CU_ASSERT_EQUAL(o->seq, 4242);
	clear();
	/* Data + ACK to the listening port without a connection. */
	s.dport = LPORT;
	s.data = "abc";
	s.len = 3;
	rx_seg(&s);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->flags, F_RST);
	clear();
	CU_ASSERT(st()->tcp_rst_closed >= 3);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
}

static void
test_time_wait_reuse(void)
{
	struct peer p;
	struct ts_seg s;

	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_close(net, p.h);
	fmq_net_poll(net, now);
	uint32_t fin = out(0)->seq;
	clear();
	peer_ack(&p, fin + 1);
	s = pseg(&p, F_ACK | F_FIN, NULL, 0);
	rx_seg(&s);
	p.nxt++;
	CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 10);
	clear();
	/* An old SYN (older timestamp, lower seq): only an ACK. */
	struct ts_seg syn = { .sport = PEER_PORT, .dport = LPORT,
			      .flags = F_SYN, .seq = 1, .win = 1000 };
	ts_opt_ts(&syn, p.ts - 1, 0);
	rx_seg(&syn);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->flags, F_ACK);
	CU_ASSERT_EQUAL(st()->tcp_active, 1);
	clear();
	/* A new incarnation (newer timestamp): reused, SYN-ACK. */
	syn.olen = 0;
	ts_opt_ts(&syn, p.ts + 100, 0);
	syn.seq = p.nxt + 100000;
	rx_seg(&syn);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->flags, F_SYN | F_ACK);
	CU_ASSERT_EQUAL(out(0)->ack, p.nxt + 100001);
	CU_ASSERT_EQUAL(st()->tcp_active, 1);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 0);
	clear();
}

static void
test_seq_wraparound(void)
{
	struct peer p;
	uint32_t got = 0, una, sent = 0;

	fmq_tcp_test_set_iss(net, 0xfffff000u);
	open_conn(&p, PEER_PORT, 0xfffff800u);
	CU_ASSERT_EQUAL(p.rcv, 0xfffff001u);
	/* Peer -> us across the wrap. */
	for (int i = 0; i < 6; i++)
		peer_send(&p, 1000);
	CU_ASSERT((int32_t)(p.nxt - 0xfffff801u) == 6000);
	CU_ASSERT_EQUAL(app.rxlen, 6000);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 6000), 6000) == 0);
	/* Every second segment is acknowledged at once. */
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	CU_ASSERT_EQUAL(out(2)->ack, p.nxt);
	clear();
	/* Us -> peer across the wrap; partial ACKs, a retransmission. */
	app_send(p.h, 0, 8000);
	fmq_net_poll(net, now);
	una = p.rcv;
	for (unsigned int i = 0; i < cap.n; i++) {
		CU_ASSERT_EQUAL(out(i)->seq, una + sent);
		check_payload(out(i), sent);
		sent += out(i)->len;
	}
	CU_ASSERT_EQUAL(sent, 8000);
	clear();
	peer_ack(&p, una + 4000);
	advance(210 * MS);
	/* Two tail loss probes of the last segment, then the RTO's. */
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	CU_ASSERT_EQUAL(out(0)->seq + out(0)->len, una + 8000);
	check_payload(out(0), 8000 - out(0)->len);
	CU_ASSERT_EQUAL(out(1)->seq + out(1)->len, una + 8000);
	CU_ASSERT_EQUAL(out(2)->seq, una + 4000);
	check_payload(out(2), 4000);
	clear();
	peer_ack(&p, una + 8000);
	got = (uint32_t)fmq_net_mbufs_held(net);
	CU_ASSERT_EQUAL(got, 0);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
}

static bool
even_ports_only(void *arg, uint32_t lip, uint16_t lport, uint32_t rip,
		uint16_t rport)
{
	(void)arg;
	(void)lip;
	(void)rip;
	(void)rport;
	return (rte_be_to_cpu_16(lport) & 1) == 0;
}

static void
test_connect_port_filter(void)
{
	fmq_tcp_conn_t h;
	uint16_t lport;

	fmq_tcp_set_port_filter(net, even_ports_only, NULL);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 9092, &app_cb,
						NULL, &h), 0);
		CU_ASSERT_EQUAL(fmq_tcp_get_addrs(net, h, NULL, &lport, NULL,
						  NULL), 0);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(lport) & 1, 0);
		fmq_tcp_abort(net, h);
	}
	fmq_net_poll(net, now);
	clear();
}

static void
test_active_open(void)
{
	fmq_tcp_conn_t h;
	struct ts_out *o;

	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 9092, &app_cb, &app,
					&h), 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_SYN);
	CU_ASSERT_EQUAL(o->dport, 9092);
	CU_ASSERT(o->sport >= 32768 && o->sport <= 60999);
	CU_ASSERT(o->has_mss && o->has_ts && o->has_ws && o->sack_ok);
	uint16_t lport = o->sport;
	uint32_t iss = o->seq, tsv = o->tsval;
	clear();
	/* SYN-ACK with Linux options. */
	struct ts_seg s = { .sport = 9092, .dport = lport,
			    .flags = F_SYN | F_ACK, .seq = 70000,
			    .ack = iss + 1, .win = 65160 };
	uint8_t o1[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9,
			   0, 0, 0, 0, 1, 3, 3, 7 };
	o1[12] = (uint8_t)(tsv >> 24); o1[13] = (uint8_t)(tsv >> 16);
	o1[14] = (uint8_t)(tsv >> 8); o1[15] = (uint8_t)tsv;
	ts_opt_raw(&s, o1, 20);
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.connected, 1);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->flags, F_ACK);
	CU_ASSERT_EQUAL(o->ack, 70001);
	CU_ASSERT_EQUAL(o->tsecr, 9);
	clear();
	/* The client sends: window 65160 unscaled in the SYN-ACK... */
	CU_ASSERT(fmq_tcp_send(net, h, rte_pktmbuf_alloc(nt_pool)) > 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 0);  /* an empty mbuf sends nothing */
	CU_ASSERT_EQUAL(fmq_tcp_abort(net, h), 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT(out(0)->flags & F_RST);
	CU_ASSERT_EQUAL(app.closed, 0);  /* abort: no callback */
	clear();

	/* Closed while connecting: closed(0) from the next poll, not from
	 * inside fmq_tcp_close. */
	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 9095, &app_cb, &app,
					&h), 0);
	fmq_net_poll(net, now);
	clear();
	CU_ASSERT_EQUAL(fmq_tcp_close(net, h), 0);
	CU_ASSERT_EQUAL(app.closed, 0);
	advance(2 * MS);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(app.reason, 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	app.closed = 0;

	/* Refused: RST|ACK to our SYN. */
	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 9093, &app_cb, &app,
					&h), 0);
	fmq_net_poll(net, now);
	o = out(0);
	s = (struct ts_seg){ .sport = 9093, .dport = o->sport,
			     .flags = F_RST | F_ACK, .ack = o->seq + 1 };
	clear();
	rx_seg(&s);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(app.reason, -ECONNREFUSED);

	/* No answer: SYN retransmitted with backoff, then -ETIMEDOUT. */
	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 9094, &app_cb, &app,
					&h), 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	advance(1010 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);   /* 1 s initial RTO */
	CU_ASSERT_EQUAL(out(0)->flags, F_SYN);
	clear();
	advance(1980 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(30 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);   /* then 2 s */
	clear();
	advance(200000 * MS);
	CU_ASSERT_EQUAL(app.closed, 2);
	CU_ASSERT_EQUAL(app.reason, -ETIMEDOUT);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	clear();
}

static void
test_limits(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p[3];

	teardown();
	c.tcp.max_conns = 3;
	c.tcp.syn_backlog = 2;
	setup_conf(&c);
	open_conn(&p[0], 100, 1);
	/* Two half-open: the backlog is full, the third SYN is refused. */
	for (int i = 0; i < 3; i++) {
		struct ts_seg s = { .sport = (uint16_t)(200 + i), .dport = LPORT,
				    .flags = F_SYN, .seq = 1, .win = 1000 };
		rx_seg(&s);
	}
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 2);
	CU_ASSERT_EQUAL(st()->tcp_refused, 1);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_SYN_REFUSED], 1);
	clear();
	/* Table full (3): refused as well; the established one works. */
	struct ts_seg s = { .sport = 300, .dport = LPORT, .flags = F_SYN,
			    .seq = 1, .win = 1000 };
	rx_seg(&s);
	CU_ASSERT_EQUAL(st()->tcp_refused, 2);
	peer_send(&p[0], 1448);
	peer_send(&p[0], 1448);
	CU_ASSERT_EQUAL(app.rxlen, 2896);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	fmq_tcp_conn_t h;
	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 1, &app_cb, NULL, &h),
			-ENOSPC);

	/* A TIME_WAIT is not a live connection: when the table is full,
	 * the oldest found is ended early to make room (counted). */
	fmq_tcp_close(net, p[0].h);
	fmq_net_poll(net, now);
	uint32_t fin = out(cap.n - 1)->seq;
	clear();
	peer_ack(&p[0], fin + 1);
	struct ts_seg f = pseg(&p[0], F_ACK | F_FIN, NULL, 0);
	rx_seg(&f);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 1);
	clear();
	/* The two half-open ones are still there; fill the table. */
	CU_ASSERT_EQUAL(st()->tcp_active, 3);
	CU_ASSERT_EQUAL(fmq_tcp_connect(net, nt_peer_ip, 1, &app_cb, NULL, &h),
			0);
	CU_ASSERT_EQUAL(st()->tcp_tw_recycled, 1);
	CU_ASSERT_EQUAL(st()->tcp_time_wait, 0);
	CU_ASSERT_EQUAL(st()->tcp_active, 3);
	fmq_net_poll(net, now);
	clear();
}

static void
test_services(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;
	struct ts_seg s;

	teardown();
	c.services[0] = (struct fmq_net_service){ FMQ_NET_SVC_ECHO, 7 };
	c.services[1] = (struct fmq_net_service){ FMQ_NET_SVC_DISCARD, 9 };
	c.nb_services = 2;
	setup_conf(&c);
	/* Echo on port 7: open by hand (open_conn targets LPORT). */
	memset(&p, 0, sizeof(p));
	static const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };
	s = (struct ts_seg){ .sport = 999, .dport = 7, .flags = F_SYN,
			     .seq = 10, .win = 1000 };
	ts_opt_raw(&s, mss, 4);
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	uint32_t iss = out(0)->seq;
	clear();
	s = (struct ts_seg){ .sport = 999, .dport = 7, .flags = F_ACK,
			     .seq = 11, .ack = iss + 1, .win = 1000,
			     .data = patbuf(0, 700), .len = 700 };
	rx_seg(&s);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->len, 700);
	CU_ASSERT_EQUAL(out(0)->ack, 711);
	check_payload(out(0), 0);
	clear();
	/* FIN: echo closes too. */
	s = (struct ts_seg){ .sport = 999, .dport = 7, .flags = F_ACK | F_FIN,
			     .seq = 711, .ack = iss + 701, .win = 1000 };
	rx_seg(&s);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT(out(cap.n - 1)->flags & F_FIN);
	clear();
	s = (struct ts_seg){ .sport = 999, .dport = 7, .flags = F_ACK,
			     .seq = 712, .ack = iss + 702, .win = 1000 };
	rx_seg(&s);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	/* Discard on port 9: acknowledged, nothing comes back. */
	s = (struct ts_seg){ .sport = 998, .dport = 9, .flags = F_SYN,
			     .seq = 10, .win = 1000 };
	rx_seg(&s);
	fmq_net_poll(net, now);
	iss = out(0)->seq;
	clear();
	s = (struct ts_seg){ .sport = 998, .dport = 9, .flags = F_ACK,
			     .seq = 11, .ack = iss + 1, .win = 1000,
			     .data = patbuf(0, 700), .len = 700 };
	rx_seg(&s);
	advance(50 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->len, 0);
	CU_ASSERT_EQUAL(out(0)->ack, 711);
	clear();
}

static void
test_keepalive(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;

	teardown();
	c.tcp.ka_idle_ms = 1000;
	c.tcp.ka_intvl_ms = 100;
	c.tcp.ka_probes = 2;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	advance(990 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(20 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, p.rcv - 1);
	clear();
	/* An answer resets the count. */
	peer_ack(&p, p.rcv);
	advance(1010 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	/* Silence: two more probes, then a reset. */
	advance(250 * MS);
	CU_ASSERT_EQUAL(app.closed, 1);
	CU_ASSERT_EQUAL(app.reason, -ETIMEDOUT);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT(out(cap.n - 1)->flags & F_RST);
	CU_ASSERT_EQUAL(st()->tcp_ka_probes, 3);
	clear();
}

static void
test_paws(void)
{
	struct peer p;
	uint64_t d = st()->drop[FMQ_NET_DROP_TCP_PAWS];

	open_conn(&p, PEER_PORT, 1);
	p.ts = 2000;
	peer_send(&p, 100);
	advance(50 * MS);
	clear();
	/* An old duplicate with an older timestamp: rejected, ACKed. */
	p.ts = 1500;
	peer_send(&p, 100);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_PAWS], d + 1);
	CU_ASSERT_EQUAL(app.rxlen, 100);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
}

static int ext_freed;

static void
ext_free_cb(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
	ext_freed++;
}

static void
test_extbuf_zero_copy(void)
{
	static uint8_t ext[4096];
	static struct rte_mbuf_ext_shared_info shinfo;
	struct peer p;
	struct rte_mbuf *hdr, *m;

	open_conn(&p, PEER_PORT, 1);
	for (unsigned int i = 0; i < sizeof(ext); i++)
		ext[i] = pat(100 + i);
	shinfo.free_cb = ext_free_cb;
	shinfo.fcb_opaque = NULL;
	rte_mbuf_ext_refcnt_set(&shinfo, 1);
	m = rte_pktmbuf_alloc(nt_pool);
	rte_pktmbuf_attach_extbuf(m, ext, rte_mem_virt2iova(ext), sizeof(ext),
				  &shinfo);
	m->data_off = 0;
	m->data_len = 3000;
	m->pkt_len = 3000;
	/* A 100-byte header mbuf in front, as the Kafka layer does. */
	hdr = rte_pktmbuf_alloc(nt_pool);
	memcpy(rte_pktmbuf_append(hdr, 100), patbuf(0, 100), 100);
	hdr->next = m;
	hdr->nb_segs = 2;
	hdr->pkt_len = 3100;
	CU_ASSERT(fmq_tcp_send(net, p.h, hdr) > 0);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	uint32_t off = 0;
	for (unsigned int i = 0; i < 3; i++) {
		check_payload(out(i), off);
		off += out(i)->len;
	}
	CU_ASSERT_EQUAL(off, 3100);
	clear();
	/* Held by the retransmit queue until acknowledged. */
	CU_ASSERT_EQUAL(ext_freed, 0);
	peer_ack(&p, p.rcv + 1448);
	CU_ASSERT_EQUAL(ext_freed, 0);
	peer_ack(&p, p.rcv + 3100 - 1448);
	CU_ASSERT_EQUAL(ext_freed, 1);
}

static void
test_impairment(void)
{
	struct fmq_net_conf c = base_conf();
	struct peer p;

	teardown();
	c.impair.tx.duplicate = 1.0;
	c.impair.seed = 7;
	setup_conf(&c);
	struct ts_seg s = { .sport = PEER_PORT, .dport = LPORT, .flags = F_SYN,
			    .seq = 1, .win = 1000 };
	rx_seg(&s);
	fmq_net_poll(net, now);
	/* Every frame leaves twice. */
	CU_ASSERT_EQUAL(cap.n, 2);
	CU_ASSERT_EQUAL(st()->imp_dup[1], 1);
	clear();
	teardown();
	c = base_conf();
	c.impair.rx.loss = 1.0;
	setup_conf(&c);
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT(st()->imp_loss[0] >= 1);
	teardown();
	/* Delay: the SYN-ACK leaves 5 ms later. */
	c = base_conf();
	c.impair.tx.delay_us = 5000;
	setup_conf(&c);
	rx_seg(&s);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 1);
	advance(6 * MS);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
	teardown();
	/* Corrupt every received frame: all dropped by a checksum or
	 * header check, none accepted. */
	c = base_conf();
	c.impair.rx.corrupt = 1.0;
	setup_conf(&c);
	for (int i = 0; i < 50; i++) {
		s.sport = (uint16_t)(PEER_PORT + i);
		rx_seg(&s);
	}
	fmq_net_poll(net, now);
	CU_ASSERT(st()->imp_corrupt[0] >= 50);
	/* A flipped bit never passes the IP/TCP checksums. */
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(st()->tcp_active, 0);
	(void)p;
}


static struct rte_mbuf *
chain_of(const uint32_t *lens, unsigned int n, uint32_t off)
{
	struct rte_mbuf *head = NULL, *tail = NULL;

	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(nt_pool);

		memcpy(rte_pktmbuf_append(m, (uint16_t)lens[i]),
		       patbuf(off, lens[i]), lens[i]);
		off += lens[i];
		if (head == NULL)
			head = m;
		else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += lens[i];
		}
		tail = m;
	}
	return head;
}

static void
test_odd_segments_checksum(void)
{
	static const uint32_t lens[] = { 333, 777, 1, 1200, 95 };
	struct fmq_net_conf c = base_conf();
	struct peer p;
	uint32_t total = 0, off = 0;

	/* Software checksums: every frame verifies on a flat copy. */
	open_conn(&p, PEER_PORT, 1);
	for (unsigned int i = 0; i < RTE_DIM(lens); i++)
		total += lens[i];
	fmq_tcp_send(net, p.h, chain_of(lens, RTE_DIM(lens), 0));
	fmq_net_poll(net, now);
	CU_ASSERT(cap.n >= 2);
	for (unsigned int i = 0; i < cap.n; i++) {
		check_payload(out(i), off);   /* out() checks checksums */
		off += out(i)->len;
	}
	CU_ASSERT_EQUAL(off, total);
	clear();
	teardown();

	/* Offload on: frames whose inner segments have odd lengths carry a
	 * full software checksum and no offload request; the others keep
	 * the offload request. */
	c.tx_csum_offload = true;
	setup_conf(&c);
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_send(net, p.h, chain_of(lens, RTE_DIM(lens), 0));
	fmq_net_poll(net, now);
	CU_ASSERT(cap.n >= 2);
	unsigned int sw = 0;
	for (unsigned int i = 0; i < cap.n; i++) {
		struct rte_mbuf *m = cap.pkts[i];
		bool odd = false;

		for (struct rte_mbuf *x = m; x->next != NULL; x = x->next)
			odd |= x->data_len & 1;
		if (odd) {
			CU_ASSERT_EQUAL(m->ol_flags & RTE_MBUF_F_TX_L4_MASK, 0);
			CU_ASSERT(out(i)->csum_ok);
			CU_ASSERT((cap.pkts[i]->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0);
			sw++;
		} else {
			CU_ASSERT_EQUAL(m->ol_flags & RTE_MBUF_F_TX_L4_MASK,
					RTE_MBUF_F_TX_TCP_CKSUM);
		}
	}
	CU_ASSERT(sw >= 1);
	CU_ASSERT_EQUAL(st()->tx_sw_l4_csum, sw);
	clear();
}

static void
test_sack_keeps_mtu(void)
{
	struct peer p;

	open_conn(&p, PEER_PORT, 1);
	/* A hole at the receiver: our ACKs now carry SACK blocks. */
	uint32_t base = p.nxt;
	p.nxt = base + 3000;
	peer_send(&p, 500);
	p.nxt = base + 5000;
	peer_send(&p, 500);
	p.nxt = base + 7000;
	peer_send(&p, 500);
	clear();
	app_send(p.h, 0, 5 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_FATAL(cap.n >= 5);
	uint32_t sent = 0;
	for (unsigned int i = 0; i < cap.n; i++) {
		struct ts_out *o = out(i);

		CU_ASSERT_EQUAL(o->nsack, 3);
		/* Ethernet + IPv4 total length within the 1500 MTU. */
		CU_ASSERT(cap.pkts[i]->pkt_len <= 1514);
		check_payload(o, sent);
		sent += o->len;
	}
	CU_ASSERT_EQUAL(sent, 5 * 1448);
	clear();
}

static void
test_memory_pressure(void)
{
	struct fmq_net_conf c = base_conf();
	struct rte_mempool *small;
	struct rte_mbuf *hog[1024];
	unsigned int nh = 0;
	struct peer p;

	teardown();
	small = rte_pktmbuf_pool_create("nt_small", 1023, 0, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE,
					SOCKET_ID_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	memset(&app, 0, sizeof(app));
	now = 5000 * MS;
	net = fmq_net_create(&c, small, 0, 0, SOCKET_ID_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(net);
	nt_capture_attach(net, &cap);
	fmq_net_poll(net, now);
	fmq_tcp_listen(net, LPORT, &app_cb, NULL);
	learn_peer();
	open_conn(&p, PEER_PORT, 1);
	fmq_tcp_pause_rx(net, p.h, true);
	/* Take the pool down to a sixth: windows are capped, then payload
	 * is dropped and counted, but ACKs still get through. */
	while (rte_mempool_avail_count(small) > 1023 / 10 && nh < 1024)
		hog[nh++] = rte_pktmbuf_alloc(small);
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL(st()->drop[FMQ_NET_DROP_TCP_MEM_PRESSURE], 1);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(cap.n - 1)->ack, p.nxt - 1000);
	/* The right edge never moves back (RFC 9293), it just stops. */
	uint32_t edge = out(cap.n - 1)->ack + (out(cap.n - 1)->win << 3);
	clear();
	peer_send(&p, 0);
	CU_ASSERT_FATAL(cap.n <= 1);
	if (cap.n == 1)
		CU_ASSERT(out(0)->ack + (out(0)->win << 3) == edge);
	clear();
	/* Pressure gone: the retransmission is taken. */
	rte_pktmbuf_free_bulk(hog, nh);
	fmq_tcp_pause_rx(net, p.h, false);
	advance(2 * MS);
	clear();
	p.nxt -= 1000;
	peer_send(&p, 1000);
	CU_ASSERT_EQUAL(app.rxlen, 1000);
	teardown();
	rte_mempool_free(small);
	setup();
}


static void
test_sack_recovery(void)
{
	struct peer p;
	uint32_t una, blk[2][2];
	struct ts_seg s;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 10 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 10);
	una = out(0)->seq;
	clear();
	/* Segments 1 and 4 lost; the peer SACKs 2-3 and 5-10. */
	blk[0][0] = una + 1448;
	blk[0][1] = una + 3 * 1448;
	s = pseg(&p, F_ACK, NULL, 0);
	s.ack = una;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 1);
	rx_seg(&s);
	CU_ASSERT_EQUAL(cap.n, 0);  /* 2 segments SACKed: not yet */
	blk[0][0] = una + 4 * 1448;
	blk[0][1] = una + 10 * 1448;
	blk[1][0] = una + 1448;
	blk[1][1] = una + 3 * 1448;
	s = pseg(&p, F_ACK, NULL, 0);
	s.ack = una;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 2);
	rx_seg(&s);
	/* Recovery (RFC 6675): exactly the two holes, nothing SACKed. */
	CU_ASSERT_EQUAL_FATAL(cap.n, 2);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	check_payload(out(0), 0);
	CU_ASSERT_EQUAL(out(1)->seq, una + 3 * 1448);
	check_payload(out(1), 3 * 1448);
	CU_ASSERT_EQUAL(st()->tcp_retrans_fast, 1);
	clear();
	peer_ack(&p, una + 10 * 1448);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* After a timeout, SACKed data is not sent again. */
	app_send(p.h, 10 * 1448, 4 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 4);
	una = out(0)->seq;
	clear();
	blk[0][0] = una + 1448;
	blk[0][1] = una + 3 * 1448;
	s = pseg(&p, F_ACK, NULL, 0);
	s.ack = una;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 1);
	rx_seg(&s);
	clear();
	advance(250 * MS);   /* TLP (last segment), then the RTO */
	unsigned int rto_frames = 0;
	for (unsigned int i = 0; i < cap.n; i++) {
		struct ts_out *o = out(i);
		CU_ASSERT(o->seq == una || o->seq == una + 3 * 1448);
		rto_frames++;
	}
	CU_ASSERT(rto_frames >= 2);
	clear();
	peer_ack(&p, una + 4 * 1448);
}

/* Peer ACK at ack with one SACK block [s, e). */
static void
peer_sack(struct peer *p, uint32_t ack, uint32_t s0, uint32_t e0)
{
	uint32_t blk[1][2] = { { s0, e0 } };
	struct ts_seg s = pseg(p, F_ACK, NULL, 0);

	s.ack = ack;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 1);
	rx_seg(&s);
}

/*
 * RACK (RFC 8985): with few segments in flight three duplicate ACKs never
 * come. One SACK above a hole is enough: the hole goes once the
 * reordering window (min_RTT / 4) has passed, not at the tail loss probe
 * (which would resend the last segment) nor at the RTO.
 */
static void
test_rack_short_flight(void)
{
	struct peer p;
	uint32_t una;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 4 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 4);
	una = out(0)->seq;
	clear();
	/* Segment 1 lost; the peer SACKs segment 2. */
	peer_sack(&p, una, una + 1448, una + 2 * 1448);
	CU_ASSERT_EQUAL(cap.n, 0);   /* within the reordering window */
	/* min_RTT / 4 (125 us here) later, not at the next 1 ms tick. */
	now += 200000;
	fmq_net_poll(net, now);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	check_payload(out(0), 0);
	CU_ASSERT_EQUAL(st()->tcp_rack_loss, 1);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 0);
	for (unsigned int i = 1; i < cap.n; i++)
		CU_ASSERT_NOT_EQUAL(out(i)->seq, una);
	clear();
	/* The rest arrives; the retransmission fills the hole. */
	peer_sack(&p, una, una + 1448, una + 4 * 1448);
	peer_ack(&p, una + 4 * 1448);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
	CU_ASSERT_EQUAL(fmq_net_mbufs_held(net), 0);

	/* A retransmission lost again: data sent after it is SACKed, so
	 * it goes once more without waiting for the RTO. (A new
	 * connection: initial window 10.) */
	open_conn(&p, PEER_PORT + 1, 1);
	app_send(p.h, 0, 8 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 8);
	una = out(0)->seq;
	clear();
	peer_sack(&p, una, una + 1448, una + 4 * 1448);
	CU_ASSERT_FATAL(cap.n >= 1);     /* DupThresh met: at once */
	CU_ASSERT_EQUAL(out(0)->seq, una);
	clear();
	/* The resent segment is lost too; segments 5-8 (sent before it)
	 * then 9, sent after it, are SACKed. */
	app_send(p.h, 8 * 1448, 1448);
	fmq_net_poll(net, now);
	peer_sack(&p, una, una + 1448, una + 8 * 1448);
	clear();
	peer_sack(&p, una, una + 1448, una + 9 * 1448);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	check_payload(out(0), 0);
	clear();
	peer_ack(&p, una + 9 * 1448);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
}

/*
 * Tail loss probe (RFC 8985 7): after 2 SRTT + 2 ms (3 ms here: SRTT 0.5
 * ms; the floor of 10 ms before made each lost tail at 1-2 ms RTTs wait
 * 10 ms), the probe is new data when there is some the peer's window
 * allows (and the last segment sent again, see test_tlp_ack_lost), else
 * the last segment sent.
 */
static void
test_tlp_probe(void)
{
	struct peer p;
	uint32_t una, top;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 3 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 3);
	una = out(0)->seq;
	clear();
	advance(2 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	advance(2 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, una + 2 * 1448);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 1);
	clear();
	/* No ACK: a second probe after twice the timeout, the last
	 * segment again; then none until an ACK (or the RTO). */
	advance(7 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, una + 2 * 1448);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 2);
	clear();
	advance(20 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	p.ecr = (uint32_t)(now / MS);    /* echo a fresh timestamp */
	peer_ack(&p, una + 3 * 1448);
	clear();
	/* More than cwnd queued: the probe is the first unsent segment. */
	app_send(p.h, 3 * 1448, 40 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_FATAL(cap.n > 0 && cap.n < 40);
	top = out(cap.n - 1)->seq + out(cap.n - 1)->len;
	clear();
	advance(4 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 2);  /* and the last one again */
	CU_ASSERT_EQUAL(out(0)->seq, top);
	check_payload(out(0), top - una);
	CU_ASSERT_EQUAL(out(1)->seq, top - 1448);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 3);
	clear();
	peer_ack(&p, top + 1448);
}

/*
 * D-SACK (RFC 2883): text we already had is ACKed at once, the duplicate
 * range in the first SACK block (once), whether the whole segment is old
 * or only its front; the overlap's new text is taken.
 */
static void
test_dsack_receiver(void)
{
	struct peer p;
	struct ts_out *o;
	uint32_t seq;

	open_conn(&p, PEER_PORT, 1);
	peer_send(&p, 1000);
	peer_send(&p, 1000);
	fmq_net_poll(net, now);
	seq = p.nxt - 2000;
	CU_ASSERT_EQUAL(app.rxlen, 2000);
	clear();
	/* The peer resends the second segment: our ACK was lost. */
	p.nxt -= 1000;
	peer_send(&p, 1000);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->ack, seq + 2000);
	CU_ASSERT_EQUAL_FATAL(o->nsack, 1);
	CU_ASSERT_EQUAL(o->sack[0][0], seq + 1000);
	CU_ASSERT_EQUAL(o->sack[0][1], seq + 2000);
	clear();
	/* Reported once: the next ACK has no block. */
	peer_send(&p, 1000);
	peer_send(&p, 1000);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->nsack, 0);
	clear();
	/* Half old, half new: the old half reported, the new one taken. */
	p.nxt -= 500;
	peer_send(&p, 1000);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL(app.rxlen, 4500);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	o = out(0);
	CU_ASSERT_EQUAL(o->ack, seq + 4500);
	CU_ASSERT_EQUAL_FATAL(o->nsack, 1);
	CU_ASSERT_EQUAL(o->sack[0][0], seq + 3500);
	CU_ASSERT_EQUAL(o->sack[0][1], seq + 4000);
	CU_ASSERT(memcmp(app.rx, patbuf(0, 4500), 4500) == 0);
	clear();
}

/*
 * A tail loss probe when only the flight's ACK was lost (captured with 2%
 * loss each way: Linux delayed the ACK of the probe's single new segment
 * 40 ms). With new data to send, the probe also resends the last segment
 * sent before it, which the peer must ACK at once as a duplicate. Its
 * DSACK then marks no reordering: a hole later SACKed three segments
 * deep is still resent at once.
 */
static void
test_tlp_ack_lost(void)
{
	struct peer p;
	uint32_t una, top, blk[1][2];
	struct ts_seg s;
	bool resent = false;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 40 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_FATAL(cap.n > 0 && cap.n < 40);
	una = out(0)->seq;
	top = out(cap.n - 1)->seq + out(cap.n - 1)->len;
	clear();
	/* Every segment arrived; the peer's ACK for them is lost. */
	advance(4 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 2);
	CU_ASSERT_EQUAL(out(0)->seq, top);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	check_payload(out(0), top - una);
	CU_ASSERT_EQUAL(out(1)->seq, top - 1448);
	CU_ASSERT_EQUAL(out(1)->len, 1448);
	check_payload(out(1), top - 1448 - una);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 1);
	clear();
	/* The peer ACKs both at once, the duplicate reported (DSACK). */
	p.ecr = (uint32_t)(now / MS);
	blk[0][0] = top - 1448;
	blk[0][1] = top;
	s = pseg(&p, F_ACK, NULL, 0);
	s.ack = top + 1448;
	p.rcv = s.ack;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 1);
	rx_seg(&s);
	CU_ASSERT_FATAL(cap.n >= 4);
	una = out(0)->seq;
	CU_ASSERT_EQUAL(una, top + 1448);
	clear();
	/* The next flight's first segment is lost: three SACKed above it
	 * (DupThresh) resend it at once, no reordering window. */
	advance(1 * MS);
	peer_sack(&p, una, una + 1448, una + 4 * 1448);
	for (unsigned int i = 0; i < cap.n; i++)
		if (out(i)->seq == una && out(i)->len > 0)
			resent = true;
	CU_ASSERT(resent);
	clear();
	peer_ack(&p, una + 4 * 1448);
	advance(1000 * MS);
	p.ecr = (uint32_t)(now / MS);
	peer_ack(&p, p.rcv);
}

/*
 * A recovery whose ACKs are lost (captured with 2% loss each way: a lost
 * retransmission, the ACK that would have shown it lost, then 200-290 ms
 * to the RTO). The probe also runs in SACK recovery: 2 SRTT without an
 * ACK resend the first unacknowledged segment, long before the RTO, and
 * the window is not collapsed to one segment.
 */
static void
test_tlp_in_recovery(void)
{
	struct peer p;
	uint32_t una;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 10 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 10);
	una = out(0)->seq;
	clear();
	advance(1 * MS);
	p.ecr = (uint32_t)(now / MS);
	/* Segment 1 lost: recovery resends it at once. */
	peer_sack(&p, una, una + 1448, una + 10 * 1448);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	clear();
	/* The resent copy is lost again, and no ACK comes. */
	advance(5 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(out(0)->len, 1448);
	check_payload(out(0), 0);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 1);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
	clear();
	/* Its ACK lost too: a second probe after twice the timeout, then
	 * none until an ACK comes. */
	advance(10 * MS);
	CU_ASSERT_EQUAL_FATAL(cap.n, 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(st()->tcp_tlp, 2);
	CU_ASSERT_EQUAL(st()->tcp_tlp2, 1);
	clear();
	advance(30 * MS);
	CU_ASSERT_EQUAL(cap.n, 0);
	p.ecr = (uint32_t)(now / MS);
	peer_ack(&p, una + 10 * 1448);
	advance(1000 * MS);
	CU_ASSERT_EQUAL(st()->tcp_retrans_timeout, 0);
}

/*
 * The congestion window in whole segments: after a reduction, congestion
 * avoidance grows cwnd by fractions of a segment, and the room it left at
 * the end of a flight went as a runt (captured at 2% loss: most flights
 * ended with one, a packet and so a loss chance for a few hundred bytes).
 * The room goes as a full segment when the peer's window allows.
 */
static void
test_cwnd_whole_segments(void)
{
	struct peer p;
	uint32_t una, top = 0;
	unsigned int runts = 0, segs = 0;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 400 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 10);
	una = out(0)->seq;
	clear();
	advance(1 * MS);
	p.ecr = (uint32_t)(now / MS);
	/* Segment 1 lost: recovery, the window cut to 7 segments. */
	peer_sack(&p, una, una + 1448, una + 10 * 1448);
	for (unsigned int i = 0; i < cap.n; i++)
		if ((int32_t)(out(i)->seq + out(i)->len - top) > 0)
			top = out(i)->seq + out(i)->len;
	clear();
	/* Twenty round trips, each ACKed two segments at a time. */
	for (unsigned int r = 0; r < 20; r++) {
		uint32_t a = p.rcv;

		advance(1 * MS);
		p.ecr = (uint32_t)(now / MS);
		while ((int32_t)(a - top) < 0) {
			a = (int32_t)(a + 2 * 1448 - top) < 0 ?
			    a + 2 * 1448 : top;
			peer_ack(&p, a);
		}
		for (unsigned int i = 0; i < cap.n; i++) {
			struct ts_out *o = out(i);

			if (o->len == 0)
				continue;
			segs++;
			if (o->len != 1448)
				runts++;
			if ((int32_t)(o->seq + o->len - top) > 0)
				top = o->seq + o->len;
		}
		clear();
	}
	CU_ASSERT(segs > 150);
	CU_ASSERT_EQUAL(runts, 0);
	peer_ack(&p, top);
}

/*
 * DSACK undo (RFC 2883 section 5): the peer reports the one retransmission
 * of a recovery as a duplicate, so the original arrived: the window
 * before the reduction comes back. The peer echoes a fresh timestamp, so
 * Eifel (RFC 3522) cannot tell: only the DSACK does.
 */
static void
test_dsack_undo(void)
{
	struct peer p;
	uint32_t una, blk[1][2];
	struct ts_seg s;

	open_conn(&p, PEER_PORT, 1);
	app_send(p.h, 0, 10 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT_EQUAL_FATAL(cap.n, 10);
	una = out(0)->seq;
	clear();
	advance(1 * MS);
	p.ecr = (uint32_t)(now / MS);
	/* Segment 1 late, not lost: SACKs of 2-10 start recovery. */
	peer_sack(&p, una, una + 1448, una + 10 * 1448);
	CU_ASSERT_FATAL(cap.n >= 1);
	CU_ASSERT_EQUAL(out(0)->seq, una);
	CU_ASSERT_EQUAL(st()->tcp_undo, 0);
	clear();
	/* The original arrives, then our retransmission: the ACK for all
	 * carries a DSACK of segment 1. */
	advance(1 * MS);
	p.ecr = (uint32_t)(now / MS);
	blk[0][0] = una;
	blk[0][1] = una + 1448;
	s = pseg(&p, F_ACK, NULL, 0);
	s.ack = una + 10 * 1448;
	p.rcv = s.ack;
	ts_opt_sack(&s, (const uint32_t (*)[2])blk, 1);
	rx_seg(&s);
	CU_ASSERT_EQUAL(st()->tcp_undo, 1);
	/* The window is the one before the reduction (10 segments, plus
	 * slow start's growth), not 0.7 of it. */
	app_send(p.h, 10 * 1448, 40 * 1448);
	fmq_net_poll(net, now);
	CU_ASSERT(cap.n >= 10);
	clear();
	peer_ack(&p, una + 50 * 1448);
}

/* ------------------------------------------------- malformed segments */

enum { NOCONN, ESTAB };

struct bad {
	const char *name;
	enum fmq_net_drop why;
	int target;                 /* NOCONN: to a closed port; ESTAB */
	bool acks;                  /* the stack answers (ACK or RST) */
	void (*mutate)(struct ts_seg *s, struct peer *p);
	/* raw edits after the frame is built: l4 offset, bytes */
	int raw_off;
	uint8_t raw_val;
	bool raw_set;
	bool fix_csum;
	int ip_len_delta;           /* change IP total length */
};

static void m_syn_fin(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_SYN | F_FIN; }
static void m_syn_rst(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_SYN | F_RST | F_ACK; }
static void m_null(struct ts_seg *s, struct peer *p) { (void)p; s->flags = 0; }
static void m_xmas(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_SYN | F_FIN | F_URG | F_PSH; }
static void m_psh_only(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_PSH; s->data = "zz"; s->len = 2; }
static void m_urg_only(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_URG; }
static void m_sport0(struct ts_seg *s, struct peer *p) { (void)p; s->sport = 0; }
static void m_dport0(struct ts_seg *s, struct peer *p) { (void)p; s->dport = 0; }
static void m_rst_oow(struct ts_seg *s, struct peer *p) { s->flags = F_RST; s->seq = p->nxt + 3000000; }
static void m_rst_inwin(struct ts_seg *s, struct peer *p) { s->flags = F_RST; s->seq = p->nxt + 10; }
static void m_rst_before(struct ts_seg *s, struct peer *p) { s->flags = F_RST | F_ACK; s->seq = p->nxt - 100000; }
static void m_ack_future(struct ts_seg *s, struct peer *p) { s->ack = p->rcv + 100000; }
static void m_ack_ancient(struct ts_seg *s, struct peer *p) { s->ack = p->rcv - 0x40000000u; }
static void m_no_ack_data(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_PSH | F_FIN; s->data = "q"; s->len = 1; }
static void m_data_oow(struct ts_seg *s, struct peer *p) { s->seq = p->nxt + 0x10000000u; s->data = "zz"; s->len = 2; }
static void m_data_old(struct ts_seg *s, struct peer *p) { s->seq = p->nxt - 5000; s->data = "zz"; s->len = 2; }
static void m_syn_estab(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_SYN; s->data = "zz"; s->len = 2; }
static void m_rst_noconn(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_RST; }
static void m_ack_noconn(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_ACK; }
static void m_fin_listen(struct ts_seg *s, struct peer *p) { (void)p; s->flags = F_FIN; s->dport = LPORT; }
static void m_paws(struct ts_seg *s, struct peer *p) { s->olen = 0; ts_opt_ts(s, p->ts - 10, p->ecr); s->data = "zz"; s->len = 2; }
static void m_opt_mss3(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {2, 3, 5, 1}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_len0(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {30, 0, 1, 1}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_len1(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {30, 1, 1, 1}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_over(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {30, 40, 1, 1}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_ts8(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[8] = {8, 8, 0, 0, 0, 1, 0, 0}; s->olen = 0; ts_opt_raw(s, o, 8); }
static void m_opt_ws4(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {3, 4, 7, 0}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_sack9(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[12] = {5, 9, 0,0,0,1, 0,0,0,2, 0, 1}; s->olen = 0; ts_opt_raw(s, o, 12); }
static void m_opt_sackp3(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {4, 3, 0, 1}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_lastbyte(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[4] = {1, 1, 1, 8}; s->olen = 0; ts_opt_raw(s, o, 4); }
static void m_opt_ts_over(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[8] = {1, 1, 1, 1, 1, 1, 8, 10}; s->olen = 0; ts_opt_raw(s, o, 8); }
static void m_opt_sack_over(struct ts_seg *s, struct peer *p) { (void)p; uint8_t o[8] = {1, 1, 5, 34, 0, 0, 0, 0}; s->olen = 0; ts_opt_raw(s, o, 8); }
static void m_none(struct ts_seg *s, struct peer *p) { (void)s; (void)p; }

static const struct bad bad_table[] = {
	{ "doff 4", FMQ_NET_DROP_TCP_BAD_DOFF, ESTAB, false, m_none, 12, 0x40, true, true, 0 },
	{ "doff 0", FMQ_NET_DROP_TCP_BAD_DOFF, ESTAB, false, m_none, 12, 0x00, true, true, 0 },
	{ "doff 15 past end", FMQ_NET_DROP_TCP_BAD_DOFF, ESTAB, false, m_none, 12, 0xf0, true, true, 0 },
	{ "doff 9 past end", FMQ_NET_DROP_TCP_BAD_DOFF, ESTAB, false, m_none, 12, 0x90, true, true, 0 },
	{ "bad checksum", FMQ_NET_DROP_TCP_BAD_CSUM, ESTAB, false, m_none, 16, 0x5a, true, false, 0 },
	{ "checksum bit flip in seq", FMQ_NET_DROP_TCP_BAD_CSUM, ESTAB, false, m_none, 5, 0x77, true, false, 0 },
	{ "checksum: payload byte changed", FMQ_NET_DROP_TCP_BAD_CSUM, ESTAB, false, m_psh_only, 32 + 1, 0x00, true, false, 0 },
	{ "SYN+FIN", FMQ_NET_DROP_TCP_BAD_FLAGS, ESTAB, false, m_syn_fin, -1, 0, false, true, 0 },
	{ "SYN+RST", FMQ_NET_DROP_TCP_BAD_FLAGS, ESTAB, false, m_syn_rst, -1, 0, false, true, 0 },
	{ "no flags", FMQ_NET_DROP_TCP_BAD_FLAGS, ESTAB, false, m_null, -1, 0, false, true, 0 },
	{ "xmas", FMQ_NET_DROP_TCP_BAD_FLAGS, ESTAB, false, m_xmas, -1, 0, false, true, 0 },
	{ "URG only", FMQ_NET_DROP_TCP_BAD_FLAGS, ESTAB, false, m_urg_only, -1, 0, false, true, 0 },
	{ "source port 0", FMQ_NET_DROP_TCP_BAD_PORT, ESTAB, false, m_sport0, -1, 0, false, true, 0 },
	{ "dest port 0", FMQ_NET_DROP_TCP_BAD_PORT, ESTAB, false, m_dport0, -1, 0, false, true, 0 },
	{ "MSS option length 3", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_mss3, -1, 0, false, true, 0 },
	{ "option length 0", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_len0, -1, 0, false, true, 0 },
	{ "option length 1", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_len1, -1, 0, false, true, 0 },
	{ "option overruns header", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_over, -1, 0, false, true, 0 },
	{ "TS option length 8", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_ts8, -1, 0, false, true, 0 },
	{ "WS option length 4", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_ws4, -1, 0, false, true, 0 },
	{ "SACK option length 9", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_sack9, -1, 0, false, true, 0 },
	{ "SACK-permitted length 3", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_sackp3, -1, 0, false, true, 0 },
	{ "option kind in last byte", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_lastbyte, -1, 0, false, true, 0 },
	{ "TS option past header", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_ts_over, -1, 0, false, true, 0 },
	{ "SACK option past header", FMQ_NET_DROP_TCP_BAD_OPT, ESTAB, false, m_opt_sack_over, -1, 0, false, true, 0 },
	{ "header truncated (IP len)", FMQ_NET_DROP_TCP_SHORT, ESTAB, false, m_none, -1, 0, false, false, -(20 + 12 - 10) },
	{ "empty TCP (IP len 20)", FMQ_NET_DROP_TCP_SHORT, ESTAB, false, m_none, -1, 0, false, false, -(20 + 12) },
	{ "options truncated by IP len", FMQ_NET_DROP_TCP_BAD_DOFF, ESTAB, false, m_none, -1, 0, false, false, -8 },
	{ "absurd IP length", FMQ_NET_DROP_IP_BAD_LEN, ESTAB, false, m_none, -1, 0, false, false, 30000 },
	{ "RST out of window", FMQ_NET_DROP_TCP_OUT_OF_WINDOW, ESTAB, false, m_rst_oow, -1, 0, false, true, 0 },
	{ "RST before window", FMQ_NET_DROP_TCP_OUT_OF_WINDOW, ESTAB, false, m_rst_before, -1, 0, false, true, 0 },
	{ "RST in window, not exact", FMQ_NET_DROP_TCP_RST_CHALLENGE, ESTAB, true, m_rst_inwin, -1, 0, false, true, 0 },
	{ "ACK of unsent data", FMQ_NET_DROP_TCP_BAD_ACK, ESTAB, true, m_ack_future, -1, 0, false, true, 0 },
	{ "ACK far too old", FMQ_NET_DROP_TCP_BAD_ACK, ESTAB, true, m_ack_ancient, -1, 0, false, true, 0 },
	{ "data without ACK", FMQ_NET_DROP_TCP_NO_ACK, ESTAB, false, m_no_ack_data, -1, 0, false, true, 0 },
	{ "data far out of window", FMQ_NET_DROP_TCP_OUT_OF_WINDOW, ESTAB, true, m_data_oow, -1, 0, false, true, 0 },
	{ "old duplicate data", FMQ_NET_DROP_TCP_OUT_OF_WINDOW, ESTAB, true, m_data_old, -1, 0, false, true, 0 },
	{ "SYN with data on ESTABLISHED", FMQ_NET_DROP_TCP_SYN_CHALLENGE, ESTAB, true, m_syn_estab, -1, 0, false, true, 0 },
	{ "PAWS: older timestamp", FMQ_NET_DROP_TCP_PAWS, ESTAB, true, m_paws, -1, 0, false, true, 0 },
	{ "RST for no connection", FMQ_NET_DROP_TCP_RST_NO_CONN, NOCONN, false, m_rst_noconn, -1, 0, false, true, 0 },
	{ "ACK for no connection", FMQ_NET_DROP_TCP_NO_CONN, NOCONN, true, m_ack_noconn, -1, 0, false, true, 0 },
	{ "FIN without ACK to listener", FMQ_NET_DROP_TCP_LISTEN_BAD, NOCONN, false, m_fin_listen, -1, 0, false, true, 0 },
};

static struct rte_mbuf *
build_bad(const struct bad *b, struct peer *p)
{
	struct ts_seg s;
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;
	uint8_t *l4;
	uint16_t l4len;

	if (b->target == ESTAB)
		s = pseg(p, F_ACK, NULL, 0);
	else
		s = (struct ts_seg){ .sport = 4444, .dport = 81,
				     .flags = F_SYN, .seq = 5, .win = 100 };
	b->mutate(&s, p);
	m = ts_frame(&s);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	l4 = (uint8_t *)(ip + 1);
	l4len = (uint16_t)(rte_be_to_cpu_16(ip->total_length) - 20);
	if (b->raw_set && b->raw_off >= 0 && b->raw_off < l4len) {
		if (b->raw_off == 16 || b->raw_off == 5 || b->raw_off == 33)
			l4[b->raw_off] ^= b->raw_val ? b->raw_val : 0xff;
		else
			l4[b->raw_off] = b->raw_val;
	}
	if (b->ip_len_delta != 0) {
		ip->total_length = rte_cpu_to_be_16((uint16_t)(
			rte_be_to_cpu_16(ip->total_length) + b->ip_len_delta));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		l4len = (uint16_t)(l4len + b->ip_len_delta);
		if (b->ip_len_delta < 0 && l4len >= 18) {
			/* Checksum over what is left, so only length is bad. */
			uint16_t *ck = (uint16_t *)(l4 + 16);
			*ck = 0;
			*ck = rte_ipv4_udptcp_cksum(ip, l4);
		}
	}
	if (b->fix_csum && l4len >= 18) {
		uint16_t *ck = (uint16_t *)(l4 + 16);
		*ck = 0;
		*ck = rte_ipv4_udptcp_cksum(ip, l4);
	}
	return m;
}

static void
test_malformed_table(void)
{
	struct peer p;
	unsigned int in_use;

	CU_ASSERT(RTE_DIM(bad_table) >= 30);
	open_conn(&p, PEER_PORT, 1);
	peer_send(&p, 100);
	advance(50 * MS);
	clear();
	in_use = nt_pool_in_use();
	for (unsigned int i = 0; i < RTE_DIM(bad_table); i++) {
		const struct bad *b = &bad_table[i];
		uint64_t before = st()->drop[b->why];

		rx_frame(build_bad(b, &p));
		fmq_net_poll(net, now);
		if (st()->drop[b->why] != before + 1) {
			fprintf(stderr, "\n  malformed '%s': expected drop %s\n",
				b->name, fmq_net_drop_name(b->why));
			for (int r = 0; r < FMQ_NET_DROP_MAX; r++)
				if (st()->drop[r])
					fprintf(stderr, "   %s=%" PRIu64 "\n",
						fmq_net_drop_name(r),
						st()->drop[r]);
			CU_FAIL("drop not counted under its reason");
		}
		if (!b->acks && cap.n != 0) {
			fprintf(stderr, "\n  malformed '%s': emitted %u\n",
				b->name, cap.n);
			CU_FAIL("a silent drop emitted a segment");
		}
		clear();
		/* The connection survives every one of them. */
		CU_ASSERT_EQUAL(fmq_tcp_state(net, p.h), 4);
		CU_ASSERT_EQUAL(nt_pool_in_use(), in_use);
	}
	/* And still works. */
	peer_send(&p, 1448);
	peer_send(&p, 1448);
	CU_ASSERT_EQUAL(app.rxlen, 100 + 2896);
	CU_ASSERT_EQUAL(cap.n, 1);
	clear();
}

static void
test_metrics_render(void)
{
	struct fmq_metrics *reg = fmq_metrics_create();
	struct fmq_net_metrics_set set = { .nets = &net, .n = 1 };
	size_t len;
	char *txt;
	struct peer p;

	open_conn(&p, PEER_PORT, 1);
	fmq_metrics_register(reg, fmq_net_metrics, &set);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
	CU_ASSERT(strstr(txt, "fluxmq_tcp_connections_active{lcore=\"0\"} 1") != NULL);
	CU_ASSERT(strstr(txt, "fluxmq_net_mbufs_held{lcore=\"0\"} 0") != NULL);
	CU_ASSERT(strstr(txt, "fluxmq_tcp_retransmits_timeout_total") != NULL);
	CU_ASSERT(strstr(txt, "reason=\"tcp_bad_csum\"") != NULL);
	CU_ASSERT(strstr(txt, "fluxmq_net_impair_total{lcore=\"0\",dir=\"rx\",kind=\"loss\"} 0") != NULL);
	free(txt);
	fmq_metrics_free(reg);
}

static void
test_config_keys(void)
{
	struct fmq_config cfg;
	struct fmq_net_conf nc;
	char err[256];

	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_net_conf_from_config(&nc, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc.tcp.rto_min_ms, 200);
	CU_ASSERT_EQUAL(nc.nb_services, 0);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "net.services=echo:7,discard:9",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "net.impair.rx.loss=0.02",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_net_conf_from_config(&nc, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc.nb_services, 2);
	CU_ASSERT_EQUAL(nc.services[0].kind, FMQ_NET_SVC_ECHO);
	CU_ASSERT_EQUAL(nc.services[1].port, 9);
	CU_ASSERT(nc.impair.rx.loss > 0.019 && nc.impair.rx.loss < 0.021);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "net.services=chargen:19",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_net_conf_from_config(&nc, &cfg, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT(strstr(err, "net.services") != NULL);
	CU_ASSERT_NOT_EQUAL(fmq_config_set(&cfg, "net.impair.tx.loss=1.5",
					   "--set", 1, err, sizeof(err)), 0);
	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "net.tcp.rto_min_ms=5000",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "net.tcp.rto_max_ms=1000",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_net_conf_from_config(&nc, &cfg, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT(strstr(err, "net.tcp.rto_min_ms") != NULL);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (nt_eal_init() < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite_with_setup_and_teardown("tcp", NULL, NULL, setup,
						teardown);
	CU_add_test(s, "handshake and options (Linux SYN)", test_handshake_options);
	CU_add_test(s, "bare FIN taken in a zero window", test_zero_window_fin);
	CU_add_test(s, "one-byte segments charged 1 KiB each", test_tiny_segment_charge);
	CU_add_test(s, "data both ways, delayed ACK", test_data_both_ways);
	CU_add_test(s, "initial window 10, slow start", test_initial_window_slow_start);
	CU_add_test(s, "reorder, reassembly, SACK blocks", test_reorder_reassembly);
	CU_add_test(s, "loss -> RTO retransmit with backoff", test_rto_backoff);
	CU_add_test(s, "3 dup ACKs -> fast retransmit, NewReno", test_fast_retransmit);
	CU_add_test(s, "SACK scoreboard recovery (RFC 6675)", test_sack_recovery);
	CU_add_test(s, "RACK: a hole in a short flight, a lost retransmission", test_rack_short_flight);
	CU_add_test(s, "tail loss probe: 2 SRTT, new data first", test_tlp_probe);
	CU_add_test(s, "congestion window in whole segments",
		    test_cwnd_whole_segments);
	CU_add_test(s, "tail loss probe in SACK recovery (lost ACKs)",
		    test_tlp_in_recovery);
	CU_add_test(s, "D-SACK for duplicate text (RFC 2883)",
		    test_dsack_receiver);
	CU_add_test(s, "tail loss probe: the last segment again (lost ACK)",
		    test_tlp_ack_lost);
	CU_add_test(s, "DSACK undo of a spurious recovery (RFC 2883)", test_dsack_undo);
	CU_add_test(s, "window scaling both ends", test_window_scaling);
	CU_add_test(s, "peer zero window -> persist probes", test_zero_window_probe);
	CU_add_test(s, "our zero window, probes answered", test_our_zero_window);
	CU_add_test(s, "a bare ACK at our right edge is taken", test_ack_at_right_edge);
	CU_add_test(s, "bare ACKs carry snd_max after a timeout", test_ack_seq_after_rto);
	CU_add_test(s, "passive close (CLOSE_WAIT, LAST_ACK)", test_passive_close);
	CU_add_test(s, "active close, FIN retransmit, TIME_WAIT", test_active_close_time_wait);
	CU_add_test(s, "simultaneous close (CLOSING)", test_simultaneous_close);
	CU_add_test(s, "RST/SYN in each state (RFC 5961)", test_rst_each_state);
	CU_add_test(s, "closed port -> RST", test_closed_port_rst);
	CU_add_test(s, "TIME_WAIT reuse rules", test_time_wait_reuse);
	CU_add_test(s, "sequence wrap-around", test_seq_wraparound);
	CU_add_test(s, "active open, refused, SYN timeout", test_active_open);
	CU_add_test(s, "connect: local port filter (RSS)", test_connect_port_filter);
	CU_add_test(s, "limits: max connections, SYN backlog", test_limits);
	CU_add_test(s, "echo and discard services", test_services);
	CU_add_test(s, "keepalive", test_keepalive);
	CU_add_test(s, "PAWS", test_paws);
	CU_add_test(s, "external-buffer send is zero-copy", test_extbuf_zero_copy);
	CU_add_test(s, "port impairment", test_impairment);
	CU_add_test(s, "odd-length segments: checksums, offload", test_odd_segments_checksum);
	CU_add_test(s, "SACK blocks keep frames within the MTU", test_sack_keeps_mtu);
	CU_add_test(s, "mbuf pool pressure: windows, drops, reopen", test_memory_pressure);
	CU_add_test(s, "malformed segments: dropped and counted", test_malformed_table);
	CU_add_test(s, "metrics", test_metrics_render);
	CU_add_test(s, "config keys", test_config_keys);
	int fails = fmq_test_run(argc, argv);
	return fails;
}
