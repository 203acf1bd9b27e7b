/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DPDK transport: the client side of lib/net's TCP-lite (active open) on
 * one port, polled by the main lcore. The port is whatever the EAL
 * arguments give: net_memif in client role for a broker on the same host
 * (the benchmark path), or a NIC for one on another host.
 *
 * A broker with several data lcores: --queues N opens N queue pairs, and
 * each connection's source port is chosen so that the broker's symmetric
 * Toeplitz hash (the one its NIC RSS or software steering uses) puts it on
 * the lcore we aim at. Over memif our TX ring i is the broker's RX queue i,
 * so each frame goes out on the queue of its broker lcore: the broker gets
 * every flow on the lcore that owns it, as RSS would deliver it.
 *
 * Batches go out by reference: a request is its prefix (correlation id
 * patched in) chained to external-buffer mbufs over the template batch,
 * so a 100 KiB request costs a few mbuf headers and no copy on our side.
 * Small requests are copied, several to an mbuf. Each connection's
 * requests go to TCP once per poll, as one chain.
 *
 * Received data stays in the mbufs lib/net hands us; a response is decoded
 * from a segment list over the chain, never linearized.
 *
 * SSL (xport_dpdk_ssl, --security-protocol SSL): the same transport with a
 * lib/sec client session per connection, as the broker's side does it
 * (lib/broker/broker_tls.c) the other way round. Requests are gathered
 * into 16 KiB records per connection (the template batch is encrypted
 * straight from its buffer when a whole record of it is left), and the
 * ciphertext is copied into the connection's send chain; received
 * ciphertext is decrypted from the received mbufs into fresh mbufs that
 * join the receive chain as plaintext would, so framing and decoding are
 * the same code. Nothing is allocated per request but mbufs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "bench.h"
#include "fmq_net.h"
#include "fmq_net_steer.h"
#include "fmq_tls.h"

#define NB_MBUFS 32767
/* Mbufs never handed to queued send data: TCP needs some to build
 * segment headers and ACKs, the RX ring to refill. Without the reserve a
 * flood of small requests can take them all, and then nothing goes out
 * that would get them acknowledged and freed. */
#define MBUF_RESERVE 6144
#define MBUF_CACHE 256
#define NB_DESC 1024
#define RX_BURST 32
#define TX_BACKLOG 16384             /* power of two */

/* Frames the driver had no room for, sent on the next poll. */
struct txq_backlog {
	struct rte_mbuf *m[TX_BACKLOG];
	uint32_t head, tail;
};

struct dpriv {
	uint16_t port;
	uint16_t nq;                 /* queue pairs */
	struct rte_mempool *mp;
	struct fmq_net *net;
	bool eal_up, port_up;
	uint64_t sends, ext_attached, enobufs;
	struct txq_backlog bl[BENCH_MAX_QUEUES];
	uint64_t tx_deferred, tx_backlog_full;
	/* Placement on the broker's lcores: the lcore the connection being
	 * opened aims at (-1: any), the last local port the filter took, and
	 * per local port the broker lcore its flow hashes to. */
	int want_lcore;
	uint16_t last_port;
	uint8_t lcore_of_port[65536];
	uint32_t conns_on_lcore[128];
	uint64_t tx_on_queue[BENCH_MAX_QUEUES], rx_on_queue[BENCH_MAX_QUEUES];
	/* Connections with written, unsent requests. */
	struct bconn *dirty[BENCH_MAX_CONNS];
	unsigned int ndirty;
	/* SSL */
	struct fmq_tls_ctx *tls_ctx;
	struct iovec iov[64];        /* received segments handed to OpenSSL */
	uint64_t tls_hs_ok, tls_failed, tls_nomem;
	uint64_t tls_hs_ns;          /* our CPU in handshake steps */
	uint64_t tls_t_first, tls_t_last;  /* first connect, last handshake */
	uint64_t tls_enc, tls_dec;   /* plaintext bytes */
	const char *tls_ver, *tls_cipher;
};

static struct dpriv dp;
static struct bench *g_b;

/* ------------------------------------------------------------------------
 * TCP callbacks
 * ---------------------------------------------------------------------- */

static void
cb_connected(struct fmq_net *n, fmq_tcp_conn_t h, void *user)
{
	struct bconn *c = user;

	(void)n;
	(void)h;
	c->up = true;
	c->writable = true;
}

static void
rx_free_all(struct bconn *c)
{
	if (c->rx_head != NULL)
		rte_pktmbuf_free(c->rx_head);
	c->rx_head = c->rx_tail = NULL;
	c->rx_off = 0;
	c->rx_len = 0;
}

/* Drop n bytes from the front of the receive chain. */
static void
rx_consume(struct bconn *c, uint64_t n)
{
	c->rx_len -= n;
	while (n > 0 && c->rx_head != NULL) {
		struct rte_mbuf *m = c->rx_head;
		uint32_t avail = m->data_len - c->rx_off;

		if (n < avail) {
			c->rx_off += (uint32_t)n;
			return;
		}
		n -= avail;
		c->rx_head = m->next;
		c->rx_off = 0;
		rte_pktmbuf_free_seg(m);
	}
	/* Skip empty mbufs so the head always has data. */
	while (c->rx_head != NULL && c->rx_off == c->rx_head->data_len) {
		struct rte_mbuf *m = c->rx_head;

		c->rx_head = m->next;
		c->rx_off = 0;
		rte_pktmbuf_free_seg(m);
	}
	if (c->rx_head == NULL)
		c->rx_tail = NULL;
}

/* Copy n bytes from skip bytes into the chain. */
static void
rx_peek(const struct bconn *c, uint64_t skip, uint8_t *dst, uint32_t n)
{
	const struct rte_mbuf *m = c->rx_head;
	uint64_t off = c->rx_off + skip;

	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (n > 0 && m != NULL) {
		uint32_t k = m->data_len - (uint32_t)off;

		if (k > n)
			k = n;
		memcpy(dst, rte_pktmbuf_mtod_offset(m, uint8_t *, off), k);
		dst += k;
		n -= k;
		off = 0;
		m = m->next;
	}
}

static void
rx_frames(struct bench *b, struct bconn *c)
{
	while (c->rx_len >= 4 && !c->closed) {
		uint8_t sz[4];
		uint32_t size, nseg = 0, left;
		const struct rte_mbuf *m;
		uint64_t off;

		rx_peek(c, 0, sz, 4);
		size = rd_be32(sz);
		if (size > BENCH_FRAME_MAX) {
			fmq_tcp_abort(dp.net, c->h);
			c->closed = true;
			c->close_reason = -EMSGSIZE;
			rx_free_all(c);
			return;
		}
		if (c->rx_len < 4 + (uint64_t)size)
			return;
		/* Segment list over the frame body. */
		m = c->rx_head;
		off = c->rx_off + 4;
		while (m != NULL && off >= m->data_len) {
			off -= m->data_len;
			m = m->next;
		}
		for (left = size; left > 0 && m != NULL; m = m->next) {
			uint32_t k = m->data_len - (uint32_t)off;

			if (k > left)
				k = left;
			if (nseg == BENCH_MAX_SEGS)
				break;
			if (k > 0) {
				b->segs[nseg].p = rte_pktmbuf_mtod_offset(m,
					const uint8_t *, off);
				b->segs[nseg++].len = k;
			}
			left -= k;
			off = 0;
		}
		if (left > 0) {
			/* More segments than we keep: a frame this large in
			 * tiny mbufs is not something a broker sends. */
			fmq_tcp_abort(dp.net, c->h);
			c->closed = true;
			c->close_reason = -E2BIG;
			rx_free_all(c);
			return;
		}
		proto_on_frame(b, c, b->segs, nseg, size);
		rx_consume(c, 4 + (uint64_t)size);
	}
}

static void
cb_data(struct fmq_net *n, fmq_tcp_conn_t h, void *user, struct rte_mbuf *m)
{
	struct bconn *c = user;
	struct rte_mbuf *last;

	(void)n;
	(void)h;
	if (m == NULL) {
		/* The broker closed its side: nothing more will come. */
		fmq_tcp_close(dp.net, c->h);
		return;
	}
	if (g_b->o.wl == WL_ECHO) {
		proto_on_echo(g_b, c, m->pkt_len);
		rte_pktmbuf_free(m);
		return;
	}
	c->rx_len += m->pkt_len;
	for (last = m; last->next != NULL; last = last->next)
		;
	if (c->rx_tail == NULL) {
		c->rx_head = m;
		c->rx_off = 0;
	} else {
		c->rx_tail->next = m;
	}
	c->rx_tail = last;
	rx_frames(g_b, c);
}

static void
cb_writable(struct fmq_net *n, fmq_tcp_conn_t h, void *user)
{
	struct bconn *c = user;

	(void)n;
	(void)h;
	c->writable = true;
}

static void
cb_closed(struct fmq_net *n, fmq_tcp_conn_t h, void *user, int reason)
{
	struct bconn *c = user;

	(void)n;
	(void)h;
	c->closed = true;
	c->close_reason = reason;
	rx_free_all(c);
}

static const struct fmq_tcp_callbacks tcp_cb = {
	.connected = cb_connected,
	.data = cb_data,
	.writable = cb_writable,
	.closed = cb_closed,
};

/* ------------------------------------------------------------------------
 * Transmit: a full TX ring must not turn into packet loss on our side (a
 * burst of 64 KiB sends easily outruns a 1024-slot memif ring), or every
 * run measures TCP loss recovery instead of the broker. Frames the driver
 * refuses wait in a backlog, in order, and go out on the next poll.
 * ---------------------------------------------------------------------- */

static void
tx_flush_backlog(uint16_t q)
{
	struct txq_backlog *bl = &dp.bl[q];

	while (bl->head != bl->tail) {
		uint32_t h = bl->head & (TX_BACKLOG - 1);
		uint32_t n = RTE_MIN(bl->tail - bl->head, TX_BACKLOG - h);
		uint16_t sent = rte_eth_tx_burst(dp.port, q, &bl->m[h],
						 (uint16_t)RTE_MIN(n, 512u));

		bl->head += sent;
		dp.tx_on_queue[q] += sent;
		if (sent == 0)
			return;
	}
}

/* Send n frames on queue q, in order behind what waits there. Returns how
 * many were taken (sent or kept); the stack frees the rest. */
static uint16_t
tx_queue(uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	struct txq_backlog *bl = &dp.bl[q];
	uint16_t sent = 0, i;

	tx_flush_backlog(q);
	if (bl->head == bl->tail) {
		sent = rte_eth_tx_burst(dp.port, q, pkts, n);
		dp.tx_on_queue[q] += sent;
	}
	for (i = sent; i < n; i++) {
		if (bl->tail - bl->head == TX_BACKLOG) {
			dp.tx_backlog_full++;
			return i;
		}
		bl->m[bl->tail++ & (TX_BACKLOG - 1)] = pkts[i];
		dp.tx_deferred++;
	}
	return n;
}

/* Queue of a frame: the broker lcore its TCP flow hashes to, from our
 * local port (the table the port filter filled); anything else (ARP) on
 * queue 0, which the broker's steering copies to every lcore. */
static inline uint16_t
tx_queue_of(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const void *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eh + 1);
	const struct rte_tcp_hdr *th;

	if (m->data_len < sizeof(*eh) + sizeof(*ip) + sizeof(*th) ||
	    eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    ip->next_proto_id != IPPROTO_TCP)
		return 0;
	th = (const struct rte_tcp_hdr *)((const uint8_t *)ip +
		(ip->version_ihl & 0xf) * 4u);
	return (uint16_t)(dp.lcore_of_port[rte_be_to_cpu_16(th->src_port)] %
			  dp.nq);
}

static uint16_t
tx_cb(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *byq[BENCH_MAX_QUEUES][64];

	(void)arg;
	if (dp.nq == 1 || g_b->o.queue_first)
		return tx_queue(0, pkts, n);
	/* Split by queue, keeping each queue's order, 64 frames at a time.
	 * Frames a full backlog refuses are freed here and still reported
	 * taken (the stack's count of unsent frames covers only a tail);
	 * tx_backlog_full counts them and TCP retransmits. */
	for (uint16_t base = 0; base < n; base += 64) {
		uint16_t cnt[BENCH_MAX_QUEUES] = { 0 };
		uint16_t end = (uint16_t)RTE_MIN(n, base + 64);

		for (uint16_t i = base; i < end; i++) {
			uint16_t q = tx_queue_of(pkts[i]);

			byq[q][cnt[q]++] = pkts[i];
		}
		for (uint16_t q = 0; q < dp.nq; q++) {
			uint16_t k;

			if (cnt[q] == 0)
				continue;
			k = tx_queue(q, byq[q], cnt[q]);
			if (k < cnt[q])
				rte_pktmbuf_free_bulk(&byq[q][k], cnt[q] - k);
		}
	}
	return n;
}

/* ------------------------------------------------------------------------
 * Transport operations
 * ---------------------------------------------------------------------- */

static int
port_setup(struct bench *b, struct fmq_net_conf *nc)
{
	const uint64_t rxc = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
		RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	const uint64_t txc = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
		RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	struct rte_eth_rxconf rxq;
	struct rte_eth_txconf txq;
	uint16_t nrx = NB_DESC, ntx = NB_DESC;
	uint64_t deadline;
	int rc, socket;

	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "fluxmq-bench: no DPDK port (give one with "
			"--vdev or -a in the EAL arguments)\n");
		return -ENODEV;
	}
	RTE_ETH_FOREACH_DEV(dp.port)
		break;
	socket = rte_eth_dev_socket_id(dp.port);
	if (socket < 0)
		socket = 0;
	rc = rte_eth_dev_info_get(dp.port, &info);
	if (rc < 0)
		return rc;
	memset(&conf, 0, sizeof(conf));
	if ((info.rx_offload_capa & rxc) == rxc) {
		conf.rxmode.offloads |= rxc;
		nc->rx_csum_offload = true;
	}
	if ((info.tx_offload_capa & txc) == txc) {
		conf.txmode.offloads |= txc;
		nc->tx_csum_offload = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	dp.mp = rte_pktmbuf_pool_create("fmqbench_mp", NB_MBUFS, MBUF_CACHE, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (dp.mp == NULL) {
		fprintf(stderr, "fluxmq-bench: mbuf pool: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	dp.nq = (uint16_t)b->o.queues;
	if (dp.nq > info.max_rx_queues || dp.nq > info.max_tx_queues) {
		fprintf(stderr, "fluxmq-bench: port %u (%s) has at most %u/%u "
			"RX/TX queues, --queues %u\n", dp.port,
			info.driver_name, info.max_rx_queues,
			info.max_tx_queues, dp.nq);
		return -EINVAL;
	}
	rc = rte_eth_dev_configure(dp.port, dp.nq, dp.nq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(dp.port, &nrx, &ntx);
	rxq = info.default_rxconf;
	rxq.offloads = conf.rxmode.offloads;
	txq = info.default_txconf;
	txq.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; rc == 0 && q < dp.nq; q++) {
		rc = rte_eth_rx_queue_setup(dp.port, q, nrx, socket, &rxq,
					    dp.mp);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(dp.port, q, ntx, socket,
						    &txq);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(dp.port);
	if (rc < 0) {
		fprintf(stderr, "fluxmq-bench: port %u: %s\n", dp.port,
			rte_strerror(-rc));
		return rc;
	}
	dp.port_up = true;
	rte_eth_macaddr_get(dp.port, &nc->mac);
	/* memif's link comes up once the server side accepted us. */
	deadline = fmq_now_ns() + (uint64_t)(b->o.connect_timeout_s * 1e9);
	do {
		if (rte_eth_link_get_nowait(dp.port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return 0;
		rte_delay_us_sleep(10000);
	} while (fmq_now_ns() < deadline && !b->stop);
	fprintf(stderr, "fluxmq-bench: port %u link down after %.0f s (is the "
		"broker up?)\n", dp.port, b->o.connect_timeout_s);
	return -ENETDOWN;
}

/* lib/net asks before it takes a local port for an active open: take it
 * if the flow hashes to the broker lcore we aim at. The last port taken
 * is the connection's (lib/net allocates right after a yes). */
static bool
port_ok(void *arg, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	unsigned int l = fmq_steer_lcore(fmq_steer_hash(rte_be_to_cpu_32(lip),
		rte_be_to_cpu_32(rip), rte_be_to_cpu_16(lport),
		rte_be_to_cpu_16(rport)), g_b->o.broker_lcores);

	(void)arg;
	if (dp.want_lcore >= 0 && l != (unsigned int)dp.want_lcore)
		return false;
	dp.last_port = rte_be_to_cpu_16(lport);
	dp.lcore_of_port[dp.last_port] = (uint8_t)l;
	return true;
}

static int
d_init(struct bench *b, int argc, char **argv)
{
	static const char *const defaults[] = {
		/* A bigger window than a broker's default: the client side
		 * should never be what limits a run. */
		"net.tcp.snd_buf=8388608", "net.tcp.rcv_buf=8388608",
		"net.max.connections=1024", "net.tcp.delack_ms=1",
		"net.tcp.ooo_max=4096",
	};
	struct fmq_config cfg;
	struct fmq_net_conf nc;
	char err[512], kv[192];
	int rc;

	g_b = b;
	b->xp = &dp;
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "fluxmq-bench: EAL init failed: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	dp.eal_up = true;
	fmq_config_defaults(&cfg);
	snprintf(kv, sizeof(kv), "net.ip=%s", b->o.local_ip);
	rc = fmq_config_set(&cfg, kv, "--local-ip", 1, err, sizeof(err));
	for (unsigned int i = 0; rc == 0 && i < RTE_DIM(defaults); i++)
		rc = fmq_config_set(&cfg, defaults[i], "fluxmq-bench", 1, err,
				    sizeof(err));
	for (unsigned int i = 0; rc == 0 && i < b->o.n_net_set; i++)
		rc = fmq_config_set(&cfg, b->o.net_set[i], "--net", (int)i + 1,
				    err, sizeof(err));
	if (rc == 0)
		rc = fmq_net_conf_from_config(&nc, &cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "fluxmq-bench: %s\n", err);
		return rc;
	}
	rc = port_setup(b, &nc);
	if (rc < 0)
		return rc;
	dp.net = fmq_net_create(&nc, dp.mp, dp.port, 0,
				(int)rte_socket_id());
	if (dp.net == NULL) {
		fprintf(stderr, "fluxmq-bench: lib/net: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	fmq_net_set_tx(dp.net, tx_cb, NULL);
	fmq_tcp_set_port_filter(dp.net, port_ok, NULL);
	fmq_net_send_garp(dp.net, fmq_now_ns());
	return 0;
}

static void
ext_free_cb(void *addr, void *opaque)
{
	/* The template lives for the whole run; nothing to free per use. */
	(void)addr;
	(void)opaque;
}

static int
d_tmpl_alloc(struct bench *b, struct tmpl *t, uint32_t len)
{
	struct rte_mbuf_ext_shared_info *sh;

	(void)b;
	/* Chunk-aligned, so no external buffer crosses a hugepage. */
	t->buf = rte_malloc("fmqbench_tmpl", RTE_ALIGN_CEIL(len, BENCH_CHUNK),
			    BENCH_CHUNK);
	sh = rte_zmalloc("fmqbench_shinfo", sizeof(*sh), RTE_CACHE_LINE_SIZE);
	if (t->buf == NULL || sh == NULL) {
		rte_free(t->buf);
		rte_free(sh);
		t->buf = NULL;
		return -ENOMEM;
	}
	t->iova = rte_malloc_virt2iova(t->buf);
	sh->free_cb = ext_free_cb;
	sh->fcb_opaque = NULL;
	/* Our own reference keeps the count from ever reaching zero. */
	rte_mbuf_ext_refcnt_set(sh, 1);
	t->shinfo = sh;
	return 0;
}

static int
connect_with(struct bench *b, struct bconn *c,
	     const struct fmq_tcp_callbacks *cb)
{
	unsigned int n = b->o.broker_lcores;
	int rc;

	dp.want_lcore = b->o.lcore_shift < 0 ? -1 :
		(int)((c->idx + (unsigned int)b->o.lcore_shift) % n);
	rc = fmq_tcp_connect(dp.net, b->o.broker_ip, b->o.broker_port,
			     cb, c, &c->h);
	if (rc == 0)
		dp.conns_on_lcore[dp.lcore_of_port[dp.last_port]]++;
	return rc;
}

static int
d_connect(struct bench *b, struct bconn *c)
{
	return connect_with(b, c, &tcp_cb);
}

/*
 * Requests are written into a per-connection chain that goes to TCP once
 * per poll, the way a kernel client writes into its socket buffer: small
 * requests share an mbuf (a 170-byte produce costs 170 bytes of an mbuf,
 * not a whole one) and TCP sees one send per poll, not one per request.
 */
#define TX_PENDING_MAX (256u << 10)

static struct rte_mbuf *
tx_room(struct bconn *c, uint32_t need)
{
	struct rte_mbuf *t = c->tx_tail;

	if (t != NULL && !RTE_MBUF_HAS_EXTBUF(t) &&
	    rte_pktmbuf_tailroom(t) >= need)
		return t;
	t = rte_pktmbuf_alloc(dp.mp);
	if (t == NULL)
		return NULL;
	if (c->tx_head == NULL)
		c->tx_head = t;
	else
		c->tx_tail->next = t;
	c->tx_tail = t;
	return t;
}

static void
tx_put(struct bconn *c, const void *p, uint32_t n)
{
	struct rte_mbuf *t = c->tx_tail;

	/* The caller made sure the tail has room. */
	memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len), p, n);
	t->data_len = (uint16_t)(t->data_len + n);
	c->tx_bytes += n;
}

/* The connection has something for TCP at the next poll. */
static inline void
tx_mark_dirty(struct bconn *c)
{
	if (!c->tx_dirty) {
		c->tx_dirty = true;
		dp.dirty[dp.ndirty++] = c;
	}
}

static void ssl_fail(struct bconn *c, int reason);

static int
d_send(struct bench *b, struct bconn *c, const struct req_out *r)
{
	uint32_t total = r->hdr_len + (r->ref ? r->ref->len : 0) + r->tail_len;
	struct rte_mbuf *save_tail = c->tx_tail;
	uint16_t save_len = save_tail ? save_tail->data_len : 0;
	uint32_t save_bytes = c->tx_bytes;

	(void)b;
	if (c->closed || !c->up)
		return -ENOTCONN;
	if (rte_mempool_avail_count(dp.mp) < MBUF_RESERVE)
		goto nobufs;
	if (total <= RTE_MBUF_DEFAULT_DATAROOM) {
		/* Small: copied whole, next to the previous request. */
		if (tx_room(c, total) == NULL)
			goto undo;
		tx_put(c, r->hdr, r->hdr_len);
		if (r->ref != NULL)
			tx_put(c, r->ref->buf, r->ref->len);
		if (r->tail_len > 0)
			tx_put(c, r->tail, r->tail_len);
	} else {
		/* Large: the prefix copied, the batch by reference. */
		if (r->hdr_len > 0) {
			if (tx_room(c, r->hdr_len) == NULL)
				goto undo;
			tx_put(c, r->hdr, r->hdr_len);
		}
		for (uint32_t off = 0; r->ref != NULL && off < r->ref->len;
		     off += BENCH_CHUNK) {
			uint32_t k = RTE_MIN(r->ref->len - off,
					     (uint32_t)BENCH_CHUNK);
			struct rte_mbuf *e = rte_pktmbuf_alloc(dp.mp);

			if (e == NULL)
				goto undo;
			rte_pktmbuf_attach_extbuf(e, r->ref->buf + off,
						  r->ref->iova + off,
						  (uint16_t)k, r->ref->shinfo);
			rte_mbuf_ext_refcnt_update(r->ref->shinfo, 1);
			e->data_len = (uint16_t)k;
			e->pkt_len = k;
			if (c->tx_head == NULL)
				c->tx_head = e;
			else
				c->tx_tail->next = e;
			c->tx_tail = e;
			c->tx_bytes += k;
			dp.ext_attached++;
		}
		if (r->tail_len > 0) {
			if (tx_room(c, r->tail_len) == NULL)
				goto undo;
			tx_put(c, r->tail, r->tail_len);
		}
	}
	tx_mark_dirty(c);
	/* Stop queueing when a poll's worth is waiting or TCP is full. */
	if (c->tx_bytes >= TX_PENDING_MAX)
		c->writable = false;
	dp.sends++;
	return 0;
undo:
	/* Put the chain back as it was before this request. */
	if (save_tail == NULL) {
		if (c->tx_head != NULL)
			rte_pktmbuf_free(c->tx_head);
		c->tx_head = NULL;
	} else {
		if (save_tail->next != NULL)
			rte_pktmbuf_free(save_tail->next);
		save_tail->next = NULL;
		save_tail->data_len = save_len;
	}
	c->tx_tail = save_tail;
	c->tx_bytes = save_bytes;
nobufs:
	/* Out of mbufs: the stack holds them in queues; back off until
	 * acknowledgements free some. */
	dp.enobufs++;
	return -ENOBUFS;
}

/* Hand every connection's written requests to TCP. */
static void
tx_flush_conns(void)
{
	for (unsigned int i = 0; i < dp.ndirty; i++) {
		struct bconn *c = dp.dirty[i];
		struct rte_mbuf *m;
		int rc;

		/* SSL: the last, short record of what the poll wrote. */
		if (c->tls != NULL && c->stage->len > 0 && !c->closed &&
		    fmq_tls_stage_flush(c->tls, c->stage) < 0)
			ssl_fail(c, -ENOBUFS);
		m = c->tx_head;
		c->tx_dirty = false;
		if (m == NULL)
			continue;
		/* TCP walks the chain itself, but keep the head's totals
		 * right for anyone who reads them. */
		m->pkt_len = c->tx_bytes;
		m->nb_segs = 1;
		for (struct rte_mbuf *x = m->next; x != NULL; x = x->next)
			m->nb_segs++;
		c->tx_head = c->tx_tail = NULL;
		c->tx_bytes = 0;
		if (c->closed) {
			rte_pktmbuf_free(m);
			continue;
		}
		rc = fmq_tcp_send(dp.net, c->h, m);
		c->writable = rc > 0;
	}
	dp.ndirty = 0;
}

static void
d_poll(struct bench *b, uint64_t wait_ns)
{
	struct rte_mbuf *pkts[RX_BURST];
	uint16_t nb;
	uint64_t now;

	(void)b;
	(void)wait_ns;
	tx_flush_conns();
	now = fmq_now_ns();
	for (uint16_t q = 0; q < dp.nq; q++) {
		nb = rte_eth_rx_burst(dp.port, q, pkts, RX_BURST);
		if (nb > 0) {
			dp.rx_on_queue[q] += nb;
			fmq_net_rx(dp.net, pkts, nb, now);
		}
	}
	fmq_net_poll(dp.net, now);
	for (uint16_t q = 0; q < dp.nq; q++)
		tx_flush_backlog(q);
}

static void
d_close(struct bench *b, struct bconn *c)
{
	(void)b;
	tx_flush_conns();
	if (!c->closed)
		fmq_tcp_close(dp.net, c->h);
}

static void
d_fini(struct bench *b)
{
	/* Let the last ACKs and FINs go and the broker fall idle before
	 * memif disconnects: DPDK's memif server can crash when a client
	 * leaves while it is busy on the rings. */
	if (dp.net != NULL)
		for (uint64_t t = fmq_now_ns() + 100000000ull; fmq_now_ns() < t;)
			d_poll(b, 0);
	for (unsigned int i = 0; i < b->nconns; i++) {
		struct bconn *c = &b->conns[i];

		if (dp.net != NULL && c->up && !c->closed)
			fmq_tcp_abort(dp.net, c->h);
		rx_free_all(c);
		if (c->tx_head != NULL)
			rte_pktmbuf_free(c->tx_head);
		c->tx_head = c->tx_tail = NULL;
	}
	if (dp.net != NULL)
		fmq_net_free(dp.net);
	dp.net = NULL;
	for (unsigned int i = 0; i < b->nconns; i++) {
		fmq_tls_free(b->conns[i].tls);
		b->conns[i].tls = NULL;
		rte_free(b->conns[i].stage);
		b->conns[i].stage = NULL;
	}
	fmq_tls_ctx_put(dp.tls_ctx);
	dp.tls_ctx = NULL;
	for (uint16_t q = 0; q < dp.nq; q++)
		while (dp.bl[q].head != dp.bl[q].tail)
			rte_pktmbuf_free(dp.bl[q].m[dp.bl[q].head++ &
						     (TX_BACKLOG - 1)]);
	for (unsigned int i = 0; i < b->ntmpl; i++) {
		rte_free(b->tmpl[i].buf);
		rte_free(b->tmpl[i].shinfo);
	}
	rte_free(b->echo_tmpl.buf);
	rte_free(b->echo_tmpl.shinfo);
	if (dp.port_up) {
		rte_eth_dev_stop(dp.port);
		rte_eth_dev_close(dp.port);
	}
	if (dp.mp != NULL)
		rte_mempool_free(dp.mp);
	if (dp.eal_up)
		rte_eal_cleanup();
}

static void
d_stats_json(struct bench *b, FILE *f)
{
	const struct fmq_net_stats *s;
	uint64_t drops = 0;

	if (dp.net == NULL)
		return;
	s = fmq_net_stats(dp.net);
	for (int i = 0; i < FMQ_NET_DROP_MAX; i++)
		drops += s->drop[i];
	fprintf(f, "\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%" PRIu64
		",\"tx_dropped\":%" PRIu64 ",\"rx_dropped\":%" PRIu64
		",\"retrans_timeout\":%" PRIu64 ",\"retrans_fast\":%" PRIu64
		",\"dupacks\":%" PRIu64 ",\"ext_mbufs\":%" PRIu64
		",\"mbuf_shortages\":%" PRIu64 ",\"tx_deferred\":%" PRIu64
		",\"tx_backlog_full\":%" PRIu64, s->rx_pkts, s->tx_pkts,
		s->tx_dropped, drops, s->tcp_retrans_timeout,
		s->tcp_retrans_fast, s->tcp_dupacks, dp.ext_attached,
		dp.enobufs, dp.tx_deferred, dp.tx_backlog_full);
	fprintf(f, ",\"queues\":%u,\"queue_by\":\"%s\",\"broker_lcores\":%u,"
		"\"lcore_placement\":\"%s\",\"conns_per_broker_lcore\":[",
		dp.nq, b->o.queue_first ? "first" : "flow", b->o.broker_lcores,
		b->o.lcore_shift < 0 ? "any" :
		b->o.lcore_shift == 0 ? "own" : "cross");
	for (unsigned int l = 0; l < b->o.broker_lcores && l < 128; l++)
		fprintf(f, "%s%u", l ? "," : "", dp.conns_on_lcore[l]);
	fprintf(f, "],\"tx_pkts_per_queue\":[");
	for (uint16_t q = 0; q < dp.nq; q++)
		fprintf(f, "%s%" PRIu64, q ? "," : "", dp.tx_on_queue[q]);
	fprintf(f, "],\"rx_pkts_per_queue\":[");
	for (uint16_t q = 0; q < dp.nq; q++)
		fprintf(f, "%s%" PRIu64, q ? "," : "", dp.rx_on_queue[q]);
	fprintf(f, "]");
	if (dp.tls_ctx != NULL) {
		double wall = dp.tls_t_last > dp.tls_t_first ?
			(double)(dp.tls_t_last - dp.tls_t_first) / 1e9 : 0;

		fprintf(f, ",\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\","
			"\"handshakes\":%" PRIu64 ",\"failed\":%" PRIu64
			",\"connect_wall_s\":%.6f,\"handshakes_per_s\":%.0f,"
			"\"client_handshake_cpu_s\":%.6f,\"encrypted_bytes\":%"
			PRIu64 ",\"decrypted_bytes\":%" PRIu64
			",\"out_of_mbufs\":%" PRIu64 "}",
			dp.tls_ver != NULL ? dp.tls_ver : "none",
			dp.tls_cipher != NULL ? dp.tls_cipher : "none",
			dp.tls_hs_ok, dp.tls_failed, wall,
			wall > 0 ? (double)dp.tls_hs_ok / wall : 0,
			(double)dp.tls_hs_ns / 1e9, dp.tls_enc, dp.tls_dec,
			dp.tls_nomem);
	}
	for (int i = 0; i < FMQ_NET_DROP_MAX; i++)
		if (s->drop[i] != 0)
			fprintf(f, ",\"rx_drop_%s\":%" PRIu64,
				fmq_net_drop_name((enum fmq_net_drop)i),
				s->drop[i]);
}

/* ------------------------------------------------------------------------
 * SSL: lib/sec client sessions over the same TCP-lite connections.
 * ---------------------------------------------------------------------- */

/* A session failed (or we ran out of mbufs for it): the connection is
 * done; proto sees it closed. */
static void
ssl_fail(struct bconn *c, int reason)
{
	if (c->closed)
		return;
	dp.tls_failed++;
	fprintf(stderr, "fluxmq-bench: connection %u: TLS: %s\n", c->idx,
		reason == -ENOBUFS ? "out of mbufs" :
		fmq_tls_last_error(c->tls));
	fmq_tcp_abort(dp.net, c->h);
	c->closed = true;
	c->close_reason = reason;
	rx_free_all(c);
}

/* The session's output: ciphertext appended to the connection's send
 * chain, filling each mbuf. */
static int
ssl_out(void *arg, const uint8_t *p, size_t len)
{
	struct bconn *c = arg;

	while (len > 0) {
		struct rte_mbuf *t = tx_room(c, 1);
		uint16_t n;

		if (t == NULL) {
			dp.tls_nomem++;
			return -1;
		}
		n = (uint16_t)RTE_MIN(len, (size_t)rte_pktmbuf_tailroom(t));
		tx_put(c, p, n);
		p += n;
		len -= n;
	}
	tx_mark_dirty(c);
	return 0;
}

/* Decrypt a received chain (freed) into a new chain of plaintext, NULL
 * when it held none. *rc: FMQ_TLS_AGAIN, FMQ_TLS_CLOSED (close_notify)
 * or FMQ_TLS_ERROR. */
static struct rte_mbuf *
ssl_rx(struct bconn *c, struct rte_mbuf *m, int *rcp)
{
	struct rte_mbuf *head = NULL, *tail = NULL, *p = NULL;
	uint32_t total = 0;
	uint16_t nseg = 0;
	int rc = FMQ_TLS_AGAIN;

	for (struct rte_mbuf *s = m; s != NULL && rc >= 0;) {
		unsigned int n = 0;

		/* A record in one call, not one call per segment. */
		for (; s != NULL && n < RTE_DIM(dp.iov); s = s->next) {
			dp.iov[n].iov_base = rte_pktmbuf_mtod(s, void *);
			dp.iov[n].iov_len = s->data_len;
			n++;
		}
		fmq_tls_inputv(c->tls, dp.iov, n);
		for (;;) {
			if (p == NULL) {
				p = rte_pktmbuf_alloc(dp.mp);
				if (p == NULL) {
					dp.tls_nomem++;
					rc = FMQ_TLS_ERROR;
					break;
				}
			}
			rc = fmq_tls_read(c->tls,
					  rte_pktmbuf_mtod_offset(p, uint8_t *,
								  p->data_len),
					  rte_pktmbuf_tailroom(p));
			if (rc <= 0)
				break;
			p->data_len = (uint16_t)(p->data_len + rc);
			total += (uint32_t)rc;
			if (rte_pktmbuf_tailroom(p) == 0) {
				if (tail != NULL)
					tail->next = p;
				else
					head = p;
				tail = p;
				nseg++;
				p = NULL;
			}
		}
		/* Inside OpenSSL or decrypted: the ciphertext can go. */
		while (m != s) {
			struct rte_mbuf *next = m->next;

			m->next = NULL;
			m->nb_segs = 1;
			rte_pktmbuf_free_seg(m);
			m = next;
		}
	}
	rte_pktmbuf_free(m);
	if (p != NULL && p->data_len > 0) {
		if (tail != NULL)
			tail->next = p;
		else
			head = p;
		nseg++;
	} else {
		rte_pktmbuf_free(p);
	}
	if (head != NULL) {
		head->pkt_len = total;
		head->nb_segs = nseg;
	}
	dp.tls_dec += total;
	*rcp = rc;
	return head;
}

/* The handshake just finished on c. */
static void
ssl_up(struct bconn *c, uint64_t now)
{
	c->up = true;
	c->writable = true;
	dp.tls_hs_ok++;
	dp.tls_t_last = now;
	if (dp.tls_ver == NULL) {
		dp.tls_ver = fmq_tls_ver_name(fmq_tls_version(c->tls));
		dp.tls_cipher = fmq_tls_cipher(c->tls);
	}
}

static void
s_cb_connected(struct fmq_net *n, fmq_tcp_conn_t h, void *user)
{
	struct bconn *c = user;
	uint64_t t0 = fmq_now_ns();

	(void)n;
	(void)h;
	/* The ClientHello; up once the handshake is done. */
	if (fmq_tls_handshake(c->tls) == FMQ_TLS_ERROR)
		ssl_fail(c, -EPROTO);
	dp.tls_hs_ns += fmq_now_ns() - t0;
}

static void
s_cb_data(struct fmq_net *n, fmq_tcp_conn_t h, void *user, struct rte_mbuf *m)
{
	struct bconn *c = user;
	bool was_up = c->up;
	uint64_t t0 = was_up ? 0 : fmq_now_ns();
	int rc;

	if (m == NULL) {
		cb_data(n, h, user, m);
		return;
	}
	if (c->closed) {
		rte_pktmbuf_free(m);
		return;
	}
	m = ssl_rx(c, m, &rc);
	if (!was_up) {
		uint64_t now = fmq_now_ns();

		dp.tls_hs_ns += now - t0;
		if (rc != FMQ_TLS_ERROR && fmq_tls_established(c->tls))
			ssl_up(c, now);
	}
	if (rc == FMQ_TLS_ERROR) {
		rte_pktmbuf_free(m);
		ssl_fail(c, dp.tls_nomem > 0 ? -ENOBUFS : -EPROTO);
		return;
	}
	if (m != NULL)
		cb_data(n, h, user, m);
	if (rc == FMQ_TLS_CLOSED && !c->closed)
		fmq_tcp_close(dp.net, c->h);
}

static void
s_cb_closed(struct fmq_net *n, fmq_tcp_conn_t h, void *user, int reason)
{
	struct bconn *c = user;

	/* Closed before the handshake ended: say so (a plaintext
	 * listener closes on the ClientHello as on a bad frame). */
	if (!c->up && !c->closed) {
		fprintf(stderr, "fluxmq-bench: connection %u: closed by the "
			"broker during the TLS handshake (not an SSL "
			"listener?)\n", c->idx);
		dp.tls_failed++;
		if (reason == 0)
			reason = -ECONNRESET;
	}
	cb_closed(n, h, user, reason);
}

static const struct fmq_tcp_callbacks tcp_cb_ssl = {
	.connected = s_cb_connected,
	.data = s_cb_data,
	.writable = cb_writable,
	.closed = s_cb_closed,
};

static int
s_init(struct bench *b, int argc, char **argv)
{
	char ip[INET_ADDRSTRLEN], err[256];
	struct in_addr a = { .s_addr = b->o.broker_ip };
	int rc = d_init(b, argc, argv);

	if (rc < 0)
		return rc;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	dp.tls_ctx = fmq_tls_client_ctx_create(b->o.ssl_ca, ip,
					       b->o.ssl_suites, err,
					       sizeof(err));
	if (dp.tls_ctx == NULL) {
		fprintf(stderr, "fluxmq-bench: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int
s_connect(struct bench *b, struct bconn *c)
{
	if (c->stage == NULL)
		c->stage = rte_zmalloc("fmqbench_tls_stage", sizeof(*c->stage),
				       RTE_CACHE_LINE_SIZE);
	fmq_tls_free(c->tls);
	c->tls = fmq_tls_new(dp.tls_ctx, ssl_out, c);
	if (c->stage == NULL || c->tls == NULL)
		return -ENOMEM;
	if (dp.tls_t_first == 0)
		dp.tls_t_first = fmq_now_ns();
	return connect_with(b, c, &tcp_cb_ssl);
}

/* A request into the connection's records: the plaintext is staged (the
 * template batch encrypted straight from its buffer a record at a time),
 * the ciphertext goes to the send chain. */
static int
s_send(struct bench *b, struct bconn *c, const struct req_out *r)
{
	uint32_t total = r->hdr_len + (r->ref ? r->ref->len : 0) + r->tail_len;

	(void)b;
	if (c->closed || !c->up)
		return -ENOTCONN;
	/* Once encrypted a record cannot be taken back: refuse up front
	 * unless its ciphertext fits above the reserve. */
	if (rte_mempool_avail_count(dp.mp) <
	    MBUF_RESERVE + total / 1024 + 4) {
		dp.enobufs++;
		return -ENOBUFS;
	}
	if (fmq_tls_stage_add(c->tls, c->stage, r->hdr, r->hdr_len) < 0 ||
	    (r->ref != NULL && fmq_tls_stage_add(c->tls, c->stage,
						 r->ref->buf,
						 r->ref->len) < 0) ||
	    (r->tail_len > 0 && fmq_tls_stage_add(c->tls, c->stage, r->tail,
						  r->tail_len) < 0)) {
		ssl_fail(c, -ENOBUFS);
		return -ECONNRESET;
	}
	dp.tls_enc += total;
	tx_mark_dirty(c);
	if (c->tx_bytes >= TX_PENDING_MAX)
		c->writable = false;
	dp.sends++;
	return 0;
}

static void
s_close(struct bench *b, struct bconn *c)
{
	/* close_notify ahead of the FIN. */
	if (!c->closed && c->tls != NULL && fmq_tls_established(c->tls)) {
		if (c->stage->len > 0)
			(void)fmq_tls_stage_flush(c->tls, c->stage);
		fmq_tls_shutdown(c->tls);
	}
	d_close(b, c);
}

const struct xport_ops xport_dpdk = {
	.name = "dpdk",
	.init = d_init,
	.tmpl_alloc = d_tmpl_alloc,
	.connect = d_connect,
	.send = d_send,
	.poll = d_poll,
	.close = d_close,
	.fini = d_fini,
	.stats_json = d_stats_json,
};

const struct xport_ops xport_dpdk_ssl = {
	.name = "dpdk",
	.init = s_init,
	.tmpl_alloc = d_tmpl_alloc,
	.connect = s_connect,
	.send = s_send,
	.poll = d_poll,
	.close = s_close,
	.fini = d_fini,
	.stats_json = d_stats_json,
};
