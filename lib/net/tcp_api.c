/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP-lite: per-lcore context (connection table, free list, output list),
 * connection life cycle, and the upper-layer API of fmq_net.h. The
 * built-in diagnostic services (echo, discard) are written against the same
 * API as the Kafka layer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "tcp_priv.h"

static const char *const state_names[TCP_NSTATES] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED",
	"FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
	"TIME_WAIT",
};

const char *
fmq_tcp_state_name(int state)
{
	if (state < 0 || state >= TCP_NSTATES)
		return "?";
	return state_names[state];
}

static uint64_t
ms_or(uint32_t v, uint64_t dflt_ms)
{
	return (v == 0 ? dflt_ms : v) * 1000000ull;
}

static uint32_t
or_dflt(uint32_t v, uint32_t d)
{
	return v == 0 ? d : v;
}

/*
 * A field left 0 takes the key table's default (lib/util/keys/net.def),
 * read through the same mapping the broker's configuration goes through:
 * the defaults have one source. Start-up only.
 */
static int
tcp_defaults(struct fmq_tcp_conf *d)
{
	struct fmq_config *cfg = malloc(sizeof(*cfg));
	char err[128];
	int rc;

	if (cfg == NULL)
		return -ENOMEM;
	fmq_config_defaults(cfg);
	memset(d, 0, sizeof(*d));
	rc = net_tcp_conf_from_config(d, cfg, err, sizeof(err));
	free(cfg);
	return rc < 0 ? -EINVAL : 0;
}

static int
resolve_params(struct tcp_params *p, const struct fmq_tcp_conf *c)
{
	struct fmq_tcp_conf d;

	if (tcp_defaults(&d) < 0)
		return -ENOMEM;
	p->max_conns = or_dflt(c->max_conns, d.max_conns);
	if (p->max_conns > 0xffffff)
		p->max_conns = 0xffffff;
	p->syn_backlog = or_dflt(c->syn_backlog, d.syn_backlog);
	p->rto_min_ns = ms_or(c->rto_min_ms, d.rto_min_ms);
	p->rto_max_ns = ms_or(c->rto_max_ms, d.rto_max_ms);
	p->rto_init_ns = ms_or(c->rto_init_ms, d.rto_init_ms);
	p->tw_ns = c->msl_ms == UINT32_MAX ? 0 :
		2 * ms_or(c->msl_ms, d.msl_ms);
	p->delack_ns = c->delack_ms == UINT32_MAX ? 0 :
		ms_or(c->delack_ms, d.delack_ms);
	p->rcv_buf = or_dflt(c->rcv_buf, d.rcv_buf);
	p->snd_buf = or_dflt(c->snd_buf, d.snd_buf);
	p->init_cwnd = or_dflt(c->init_cwnd, d.init_cwnd);
	p->ooo_max = c->ooo_max == UINT32_MAX ? 0 :
		or_dflt(c->ooo_max, d.ooo_max);
	p->syn_retries = or_dflt(c->syn_retries, d.syn_retries);
	p->retries = or_dflt(c->retries, d.retries);
	p->ka_idle_ns = c->ka_idle_ms == UINT32_MAX ? 0 :
		ms_or(c->ka_idle_ms, d.ka_idle_ms);
	p->ka_intvl_ns = ms_or(c->ka_intvl_ms, d.ka_intvl_ms);
	p->ka_probes = or_dflt(c->ka_probes, d.ka_probes);
	p->sack = !c->no_sack;
	p->ts = !c->no_timestamps;
	p->ws = !c->no_wscale;
	p->cc = c->congestion == FMQ_TCP_CC_NEWRENO ? TCP_CC_NEWRENO :
		TCP_CC_CUBIC;
	/* Smallest shift that lets the whole buffer be advertised. */
	p->rcv_wscale = 0;
	while (p->ws && p->rcv_wscale < TCP_MAX_WSCALE &&
	       (p->rcv_buf >> p->rcv_wscale) > 65535)
		p->rcv_wscale++;
	return 0;
}

int
tcp_init(struct fmq_net *n, int socket)
{
	struct tcp_ctx *t;
	char name[RTE_HASH_NAMESIZE];

	t = rte_zmalloc_socket("fmq_tcp", sizeof(*t), RTE_CACHE_LINE_SIZE,
			       socket);
	if (t == NULL)
		return -ENOMEM;
	n->tcp = t;
	if (resolve_params(&t->p, &n->conf.tcp) < 0)
		return -ENOMEM;
	t->conns = rte_zmalloc_socket("fmq_tcp_conns",
			sizeof(*t->conns) * t->p.max_conns,
			RTE_CACHE_LINE_SIZE, socket);
	t->freelist = rte_malloc_socket("fmq_tcp_free",
			sizeof(uint32_t) * t->p.max_conns, 0, socket);
	t->pending = rte_malloc_socket("fmq_tcp_pend",
			sizeof(uint32_t) * t->p.max_conns, 0, socket);
	if (t->conns == NULL || t->freelist == NULL || t->pending == NULL)
		return -ENOMEM;
	/* Lowest indices first: small handles in tests and fewer pages. */
	for (uint32_t i = 0; i < t->p.max_conns; i++) {
		t->freelist[i] = t->p.max_conns - 1 - i;
		t->conns[i].idx = i;
	}
	t->nfree = t->p.max_conns;
	snprintf(name, sizeof(name), "tcp%" PRIxPTR, (uintptr_t)t);
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = t->p.max_conns < 64 ? 64 : t->p.max_conns,
		.key_len = sizeof(struct tcp_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket < 0 ? 0 : socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->hash = rte_hash_create(&hp);
	if (t->hash == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < TW_SLOTS; i++)
		LIST_INIT(&t->wheel[i]);
	t->secret = (uint32_t)rte_rand();
	t->pool_size = n->mp->size;
	/* The common store of a ring-based pool (DPDK's default ops) is
	 * counted from its ring; other ops through the full count. */
	if (strncmp(rte_mempool_get_ops(n->mp->ops_index)->name, "ring_",
		    5) == 0)
		t->pool_ring = n->mp->pool_data;
	t->mem_share = UINT32_MAX;
	t->next_eph = (uint16_t)(TCP_EPH_LO +
			rte_rand_max(TCP_EPH_HI - TCP_EPH_LO));
	fmq_net_set_l4(n, IPPROTO_TCP, tcp_input);
	return 0;
}

void
tcp_fini(struct fmq_net *n)
{
	struct tcp_ctx *t = n->tcp;

	if (t == NULL)
		return;
	if (t->conns != NULL) {
		for (uint32_t i = 0; i < t->p.max_conns; i++) {
			struct tcp_conn *c = &t->conns[i];
			if (c->state == TCP_CLOSED)
				continue;
			/* Shutdown: the app is told, nothing is sent. */
			tcp_notify_closed(n, c, -ECONNABORTED);
			c->flags &= ~TF_BUSY;
			tcp_conn_free(n, c);
		}
	}
	rte_hash_free(t->hash);
	rte_free(t->conns);
	rte_free(t->freelist);
	rte_free(t->pending);
	rte_free(t);
	n->tcp = NULL;
}

/* Bytes a connection holds in mbufs: unacknowledged send data, data
 * held for a paused reader, out-of-order data. */
uint32_t
tcp_conn_bytes(const struct tcp_conn *c)
{
	uint32_t b = c->rq_bytes + c->ooo_bytes;
	uint32_t charge = (c->rq_segs + c->ooo_segs) * TCP_MBUF_CHARGE;

	if (charge > b)
		b = charge;

	if (c->sq_head != NULL)
		b += c->sq_end - c->sq_seq;
	return b;
}

/*
 * The mbuf pool is shared by RX rings, TX and everything the stack holds.
 * If the stack let its queues take the whole pool, RX could no longer take
 * in the ACKs that would free them: a deadlock. So once less than half of
 * the pool is free, each connection's receive window is capped by a fair
 * share of what is left above a reserve of a quarter of the pool, and below
 * an eighth free, incoming payload is dropped (ACKs still processed).
 * Called once per burst and per poll, so it counts what is free cheaply:
 * the pool's common store plus this lcore's cache. rte_mempool_avail_count
 * also reads every other possible lcore's cache (RTE_MAX_LCORE of them,
 * lines other cores write), which took about a seventh of a replication
 * follower's CPU. Leaving out the other data lcores' caches (at most a
 * cache's worth each) only makes the count a little low: pressure starts
 * a little early, never late.
 */
static uint32_t
pool_free(const struct tcp_ctx *t, struct rte_mempool *mp)
{
	struct rte_mempool_cache *cache;
	uint32_t avail;

	if (t->pool_ring == NULL)
		return rte_mempool_avail_count(mp);
	cache = rte_mempool_default_cache(mp, rte_lcore_id());
	avail = rte_ring_count(t->pool_ring);
	if (cache != NULL)
		avail += cache->len;
	return RTE_MIN(avail, mp->size);
}

void
tcp_mem_update(struct fmq_net *n)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t avail = pool_free(t, n->mp);
	uint32_t reserve = t->pool_size / 4;
	bool was = t->mem_share != UINT32_MAX;
	uint64_t active = n->st.tcp_active ? n->st.tcp_active : 1;

	t->mem_drop = avail < t->pool_size / 8;
	if (avail >= t->pool_size / 2) {
		t->mem_share = UINT32_MAX;
		if (was) {
			/* Pressure is over: reopen windows we closed. */
			for (uint32_t i = 0; i < t->p.max_conns; i++) {
				struct tcp_conn *c = &t->conns[i];
				if (c->state >= TCP_ESTABLISHED &&
				    c->state != TCP_TIME_WAIT &&
				    c->rcv_adv - c->rcv_nxt < c->rmss) {
					c->flags |= TF_WIN_UPDATE;
					tcp_mark_pending(n, c);
				}
			}
		}
		return;
	}
	/* About 1 KiB of payload per free mbuf (2 KiB buffers, 1448-byte
	 * segments, some mbufs only carrying headers). */
	t->mem_share = (uint32_t)RTE_MIN((uint64_t)(avail > reserve ?
		avail - reserve : 0) * 1024 / active, (uint64_t)UINT32_MAX - 1);
}

uint32_t
tcp_new_iss(struct fmq_net *n, const struct tcp_key *k)
{
	struct tcp_ctx *t = n->tcp;

	if (t->test_iss_set) {
		t->test_iss_set = false;
		return t->test_iss;
	}
	/* RFC 6528: a 4 us clock plus a keyed hash of the 4-tuple. */
	return (uint32_t)(t->now >> 12) +
	       rte_hash_crc(k, sizeof(*k), t->secret);
}

void
fmq_tcp_test_set_iss(struct fmq_net *n, uint32_t iss)
{
	n->tcp->test_iss = iss;
	n->tcp->test_iss_set = true;
}

/*
 * The table is full: end one TIME_WAIT early to make room (what Linux does
 * past tcp_max_tw_buckets). Only when full, so the scan's cost is paid
 * instead of refusing a connection; counted.
 */
bool
tcp_tw_recycle(struct fmq_net *n)
{
	struct tcp_ctx *t = n->tcp;

	if (n->st.tcp_time_wait == 0)
		return false;
	for (uint32_t k = 0; k < t->p.max_conns; k++) {
		struct tcp_conn *c = &t->conns[t->tw_scan];

		t->tw_scan = t->tw_scan + 1 == t->p.max_conns ? 0 :
			     t->tw_scan + 1;
		if (c->state == TCP_TIME_WAIT && !(c->flags & TF_BUSY)) {
			tcp_conn_free(n, c);
			n->st.tcp_tw_recycled++;
			return true;
		}
	}
	return false;
}

struct tcp_conn *
tcp_conn_alloc(struct fmq_net *n, const struct tcp_key *k)
{
	struct tcp_ctx *t = n->tcp;
	struct tcp_conn *c;
	uint32_t idx;

	if (t->nfree == 0 && !tcp_tw_recycle(n))
		return NULL;
	idx = t->freelist[t->nfree - 1];
	if (rte_hash_add_key_data(t->hash, k, (void *)(uintptr_t)idx) < 0)
		return NULL;
	t->nfree--;
	c = &t->conns[idx];
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->key = *k;
	n->st.tcp_active++;
	return c;
}

void
tcp_conn_init_params(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;
	uint16_t mtu = n->conf.mtu ? n->conf.mtu : 1500;

	c->smss = (uint16_t)(mtu - 40);
	c->rmss = 536;
	c->rto_ms = (uint32_t)(t->p.rto_init_ns / 1000000);
	c->rcv_wscale = 0;
	c->last_rx_ns = t->now;
}

/* Release everything a connection holds and put it back on the free list.
 * Deferred while the connection is being processed (TF_BUSY). */
void
tcp_conn_free(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;

	if (c->state == TCP_CLOSED && !(c->flags & TF_DOOMED))
		return;
	if (c->flags & TF_BUSY) {
		c->flags |= TF_DOOMED;
		return;
	}
	if (c->state == TCP_TIME_WAIT)
		n->st.tcp_time_wait--;
	if (c->state == TCP_SYN_RCVD && c->listener != 0)
		t->lst[c->listener - 1].syn_rcvd--;
	tcp_timer_remove(n, c);
	tcp_sq_purge(n, c);
	tcp_ooo_purge(n, c);
	if (c->rq_head != NULL) {
		n->st.mbufs_held -= c->rq_segs;
		tcp_chain_free(n, c->rq_head);
		c->rq_head = c->rq_tail = NULL;
	}
	rte_hash_del_key(t->hash, &c->key);
	c->state = TCP_CLOSED;
	c->flags = 0;
	c->cb = NULL;
	t->freelist[t->nfree++] = c->idx;
	n->st.tcp_active--;
}

void
tcp_set_state(struct fmq_net *n, struct tcp_conn *c, uint8_t st)
{
	struct tcp_ctx *t = n->tcp;

	if (c->state == TCP_SYN_RCVD && c->listener != 0) {
		t->lst[c->listener - 1].syn_rcvd--;
		c->listener = 0;
	}
	if (st == TCP_TIME_WAIT && c->state != TCP_TIME_WAIT)
		n->st.tcp_time_wait++;
	c->state = st;
}

/* Tell the app (once) that the connection is over. */
void
tcp_notify_closed(struct fmq_net *n, struct tcp_conn *c, int reason)
{
	if ((c->flags & (TF_APP_KNOWN | TF_APP_GONE)) != TF_APP_KNOWN)
		return;
	c->flags |= TF_APP_GONE;
	if (c->cb != NULL && c->cb->closed != NULL)
		c->cb->closed(n, tcp_handle(n, c), c->user, reason);
}

/* The connection reached CLOSED: notify and free. */
void
tcp_done(struct fmq_net *n, struct tcp_conn *c, int reason)
{
	tcp_notify_closed(n, c, reason);
	tcp_conn_free(n, c);
}

void
tcp_mark_pending(struct fmq_net *n, struct tcp_conn *c)
{
	struct tcp_ctx *t = n->tcp;

	if (c->flags & TF_PENDING)
		return;
	c->flags |= TF_PENDING;
	t->pending[t->npending++] = c->idx;
}

static void tcp_rq_release(struct fmq_net *n, struct tcp_conn *c);

void
tcp_flush_pending(struct fmq_net *n)
{
	struct tcp_ctx *t = n->tcp;

	/* Callbacks run from here (held data released after a resume) may
	 * queue more work: a few rounds, each compacting the list, so a
	 * connection is on it at most once and it never overflows. */
	for (int round = 0; round < 4 && t->npending > 0; round++) {
		uint32_t cnt = t->npending;

		for (uint32_t i = 0; i < cnt; i++) {
			struct tcp_conn *c = &t->conns[t->pending[i]];

			if (!(c->flags & TF_PENDING))
				continue;
			c->flags &= ~TF_PENDING;
			if (c->state == TCP_CLOSED)
				continue;
			if (c->flags & TF_RQ_RELEASE) {
				c->flags &= ~TF_RQ_RELEASE;
				c->flags |= TF_BUSY;
				tcp_rq_release(n, c);
				c->flags &= ~TF_BUSY;
				if (c->flags & TF_DOOMED) {
					tcp_conn_free(n, c);
					continue;
				}
			}
			tcp_output(n, c);
		}
		memmove(t->pending, t->pending + cnt,
			(t->npending - cnt) * sizeof(t->pending[0]));
		t->npending -= cnt;
	}
}

/* Hand in-order payload to the app (or hold it while paused). */
void
tcp_deliver(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m)
{
	if (c->flags & TF_APP_CLOSED || c->flags & TF_APP_GONE ||
	    !(c->flags & TF_APP_KNOWN)) {
		if (!(c->flags & TF_APP_KNOWN) && !(c->flags & TF_APP_GONE)) {
			/* Data in the handshake's final ACK: the app is told
			 * right after; keep it queued. */
			goto queue;
		}
		n->st.drop[FMQ_NET_DROP_TCP_DATA_AFTER_CLOSE]++;
		tcp_chain_free(n, m);
		return;
	}
	if (!(c->flags & TF_RX_PAUSED) && c->rq_head == NULL) {
		if (c->cb != NULL && c->cb->data != NULL)
			c->cb->data(n, tcp_handle(n, c), c->user, m);
		else
			rte_pktmbuf_free(m);
		return;
	}
queue:
	/* Chains are concatenated; each head keeps its pkt_len/nb_segs. */
	if (c->rq_tail == NULL)
		c->rq_head = m;
	else
		c->rq_tail->next = m;
	c->rq_tail = rte_pktmbuf_lastseg(m);
	c->rq_bytes += m->pkt_len;
	c->rq_segs += m->nb_segs;
	n->st.mbufs_held += m->nb_segs;
}

/* Deliver what was held while paused (or before accepted). */
static void
tcp_rq_release(struct fmq_net *n, struct tcp_conn *c)
{
	while (c->rq_head != NULL && !(c->flags & TF_RX_PAUSED) &&
	       !(c->flags & (TF_APP_CLOSED | TF_APP_GONE))) {
		struct rte_mbuf *m = c->rq_head, *last = m;

		for (uint16_t i = 1; i < m->nb_segs; i++)
			last = last->next;
		c->rq_head = last->next;
		if (c->rq_head == NULL)
			c->rq_tail = NULL;
		last->next = NULL;
		c->rq_bytes -= m->pkt_len;
		c->rq_segs -= m->nb_segs;
		n->st.mbufs_held -= m->nb_segs;
		if (c->cb != NULL && c->cb->data != NULL)
			c->cb->data(n, tcp_handle(n, c), c->user, m);
		else
			rte_pktmbuf_free(m);
	}
	if (c->rq_head == NULL && (c->flags & TF_PEER_FIN) &&
	    !(c->flags & (TF_APP_CLOSED | TF_APP_GONE | TF_RX_PAUSED)) &&
	    c->state != TCP_CLOSED && c->rq_bytes == 0 &&
	    c->cb != NULL && c->cb->data != NULL && (c->flags & TF_APP_KNOWN)) {
		/* EOF held behind the paused data: deliver it now (once). */
		c->flags &= ~TF_PEER_FIN;
		c->cb->data(n, tcp_handle(n, c), c->user, NULL);
	}
}

/* Writable callback once the send queue drained below half of snd_buf. */
void
tcp_maybe_writable(struct fmq_net *n, struct tcp_conn *c)
{
	if (!(c->flags & TF_WANT_WRITE) ||
	    c->sq_end - c->snd_una > n->tcp->p.snd_buf / 2)
		return;
	c->flags &= ~TF_WANT_WRITE;
	if ((c->flags & (TF_APP_KNOWN | TF_APP_GONE | TF_APP_CLOSED)) ==
	    TF_APP_KNOWN && c->cb != NULL && c->cb->writable != NULL)
		c->cb->writable(n, tcp_handle(n, c), c->user);
}

/* ---------------------------------------------------------------- API */

static struct tcp_conn *
conn_get(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t idx = FMQ_TCP_HANDLE_INDEX(h);
	struct tcp_conn *c;

	if (FMQ_TCP_HANDLE_QUEUE(h) != n->queue_id || idx >= t->p.max_conns)
		return NULL;
	c = &t->conns[idx];
	if (c->state == TCP_CLOSED || (c->flags & TF_DOOMED) ||
	    (c->flags & (TF_APP_KNOWN | TF_APP_GONE)) != TF_APP_KNOWN)
		return NULL;
	return c;
}

int
fmq_tcp_listen(struct fmq_net *n, uint16_t port,
	       const struct fmq_tcp_callbacks *cb, void *arg)
{
	struct tcp_ctx *t = n->tcp;
	int free_slot = -1;

	if (port == 0 || cb == NULL)
		return -EINVAL;
	for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
		if (t->lst[i].port == port)
			return -EADDRINUSE;
		if (t->lst[i].port == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	t->lst[free_slot] = (struct tcp_listener){
		.port = port, .cb = cb, .arg = arg,
	};
	return 0;
}

int
fmq_tcp_unlisten(struct fmq_net *n, uint16_t port)
{
	struct tcp_ctx *t = n->tcp;

	for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
		if (t->lst[i].port != port || port == 0)
			continue;
		/* Half-open connections of this listener lose their parent:
		 * reset them. */
		for (uint32_t j = 0; j < t->p.max_conns; j++) {
			struct tcp_conn *c = &t->conns[j];
			if (c->state == TCP_SYN_RCVD && c->listener == i + 1) {
				tcp_send_rst(n, c);
				tcp_conn_free(n, c);
			}
		}
		t->lst[i].port = 0;
		return 0;
	}
	return -ENOENT;
}

int
fmq_tcp_connect(struct fmq_net *n, uint32_t ip, uint16_t port,
		const struct fmq_tcp_callbacks *cb, void *user,
		fmq_tcp_conn_t *out)
{
	struct tcp_ctx *t = n->tcp;
	struct tcp_key k = {
		.rip = ip, .lip = n->conf.ip, .rport = rte_cpu_to_be_16(port),
	};
	struct tcp_conn *c = NULL;

	if (ip == 0 || port == 0 || cb == NULL || out == NULL)
		return -EINVAL;
	if (t->nfree == 0 && !tcp_tw_recycle(n))
		return -ENOSPC;
	for (unsigned int tries = 0; tries <= TCP_EPH_HI - TCP_EPH_LO;
	     tries++) {
		uint16_t lp = t->next_eph;
		bool listening = false;

		t->next_eph = lp >= TCP_EPH_HI ? TCP_EPH_LO : lp + 1;
		for (int i = 0; i < TCP_MAX_LISTENERS; i++)
			listening |= t->lst[i].port == lp;
		if (listening)
			continue;
		k.lport = rte_cpu_to_be_16(lp);
		if (t->port_ok != NULL &&
		    !t->port_ok(t->port_ok_arg, k.lip, k.lport, k.rip, k.rport))
			continue;
		if (rte_hash_lookup(t->hash, &k) >= 0)
			continue;
		c = tcp_conn_alloc(n, &k);
		break;
	}
	if (c == NULL)
		return t->nfree == 0 ? -ENOSPC : -EADDRNOTAVAIL;
	tcp_conn_init_params(n, c);
	c->cb = cb;
	c->user = user;
	c->flags = TF_ACTIVE | TF_APP_KNOWN;
	c->iss = tcp_new_iss(n, &k);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sq_seq = c->sq_end = c->sq_cur_seq = c->iss + 1;
	c->rcv_wscale = t->p.ws ? t->p.rcv_wscale : 0;
	tcp_cc_init(n, c);
	c->state = TCP_SYN_SENT;
	n->st.tcp_active_opens++;
	tcp_mark_pending(n, c);
	*out = tcp_handle(n, c);
	return 0;
}

void
fmq_tcp_set_port_filter(struct fmq_net *n, fmq_tcp_port_fn fn, void *arg)
{
	n->tcp->port_ok = fn;
	n->tcp->port_ok_arg = arg;
}

int
fmq_tcp_send(struct fmq_net *n, fmq_tcp_conn_t h, struct rte_mbuf *m)
{
	struct tcp_conn *c = conn_get(n, h);
	struct rte_mbuf *last;
	uint32_t len = 0, segs = 0;

	if (m == NULL)
		return -EINVAL;
	if (c == NULL) {
		rte_pktmbuf_free(m);
		return -EINVAL;
	}
	if ((c->flags & (TF_FIN_QUEUED | TF_APP_CLOSED)) ||
	    (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	     c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD)) {
		rte_pktmbuf_free(m);
		return -ENOTCONN;
	}
	/* Walk the chain once: the queue keeps its own byte count and
	 * links the segments; the app's pkt_len is not trusted. */
	for (last = m;; last = last->next) {
		len += last->data_len;
		segs++;
		if (last->next == NULL)
			break;
	}
	if (c->sq_tail == NULL) {
		c->sq_head = m;
		c->sq_cur = m;
		c->sq_cur_seq = c->sq_seq;
	} else {
		c->sq_tail->next = m;
	}
	c->sq_tail = last;
	c->sq_end += len;
	c->sq_segs += segs;
	n->st.mbufs_held += segs;
	tcp_mark_pending(n, c);
	return fmq_tcp_send_space(n, h) > 0 ? fmq_tcp_send_space(n, h) :
		(c->flags |= TF_WANT_WRITE, 0);
}

int
fmq_tcp_send_space(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_conn *c = conn_get(n, h);
	uint32_t queued;

	if (c == NULL)
		return -EINVAL;
	queued = c->sq_end - c->sq_seq;
	if (c->sq_head == NULL)
		queued = 0;
	return queued >= n->tcp->p.snd_buf ? 0 :
		(int)(n->tcp->p.snd_buf - queued);
}

int
fmq_tcp_close(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	if (c->flags & TF_APP_CLOSED)
		return -EALREADY;
	c->flags |= TF_APP_CLOSED;
	/* Data held for a paused reader is thrown away with the reader. */
	if (c->rq_head != NULL) {
		n->st.mbufs_held -= c->rq_segs;
		tcp_chain_free(n, c->rq_head);
		c->rq_head = c->rq_tail = NULL;
		c->rq_bytes = c->rq_segs = 0;
	}
	switch (c->state) {
	case TCP_SYN_SENT:
		/* Only a SYN went out: forget it at the next poll (closed is
		 * never called from inside an API call). */
		c->rtx_at = 0;
		c->end_at = n->tcp->now;
		tcp_timer_update(n, c);
		return 0;
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		c->flags |= TF_FIN_QUEUED;
		tcp_set_state(n, c, TCP_FIN_WAIT_1);
		break;
	case TCP_CLOSE_WAIT:
		c->flags |= TF_FIN_QUEUED;
		tcp_set_state(n, c, TCP_LAST_ACK);
		break;
	default:
		return 0;
	}
	tcp_mark_pending(n, c);
	return 0;
}

int
fmq_tcp_abort(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	if (c->state != TCP_SYN_SENT)
		tcp_send_rst(n, c);
	n->st.tcp_resets_tx++;
	c->flags |= TF_APP_GONE;
	tcp_conn_free(n, c);
	return 0;
}

int
fmq_tcp_pause_rx(struct fmq_net *n, fmq_tcp_conn_t h, bool pause)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	if (pause) {
		c->flags |= TF_RX_PAUSED;
		return 0;
	}
	if (!(c->flags & TF_RX_PAUSED))
		return 0;
	c->flags &= ~TF_RX_PAUSED;
	/* Held data is delivered from the next rx/poll, not from inside
	 * this call; the window may have opened from zero: tell the peer. */
	c->flags |= TF_RQ_RELEASE | TF_WIN_UPDATE;
	tcp_mark_pending(n, c);
	return 0;
}

int
fmq_tcp_set_rx_reserve(struct fmq_net *n, fmq_tcp_conn_t h, uint32_t bytes)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	if (bytes > c->rx_resv && n->tcp->mem_share != UINT32_MAX &&
	    c->rcv_adv - c->rcv_nxt < c->rmss) {
		/* The window may have been shut by pressure: reopen it. */
		c->flags |= TF_WIN_UPDATE;
		tcp_mark_pending(n, c);
	}
	c->rx_resv = bytes;
	return 0;
}

int
fmq_tcp_set_rto_max(struct fmq_net *n, fmq_tcp_conn_t h, uint32_t ms)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	/* Never below the stack's floor. */
	c->rto_cap_ns = ms == 0 ? 0 : RTE_MAX((uint64_t)ms * 1000000ull,
					      n->tcp->p.rto_min_ns);
	return 0;
}

int
fmq_tcp_set_user(struct fmq_net *n, fmq_tcp_conn_t h, void *user)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	c->user = user;
	return 0;
}

void *
fmq_tcp_get_user(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_conn *c = conn_get(n, h);

	return c == NULL ? NULL : c->user;
}

int
fmq_tcp_get_addrs(struct fmq_net *n, fmq_tcp_conn_t h, uint32_t *lip,
		  uint16_t *lport, uint32_t *rip, uint16_t *rport)
{
	struct tcp_conn *c = conn_get(n, h);

	if (c == NULL)
		return -EINVAL;
	if (lip != NULL)
		*lip = c->key.lip;
	if (lport != NULL)
		*lport = c->key.lport;
	if (rip != NULL)
		*rip = c->key.rip;
	if (rport != NULL)
		*rport = c->key.rport;
	return 0;
}

int
fmq_tcp_state(struct fmq_net *n, fmq_tcp_conn_t h)
{
	struct tcp_ctx *t = n->tcp;
	uint32_t idx = FMQ_TCP_HANDLE_INDEX(h);

	if (FMQ_TCP_HANDLE_QUEUE(h) != n->queue_id || idx >= t->p.max_conns)
		return -EINVAL;
	return t->conns[idx].state;
}

uint64_t
fmq_net_mbufs_held(const struct fmq_net *n)
{
	return n->st.mbufs_held;
}

/* --------------------------------------------------- built-in services */

static void
echo_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
	  struct rte_mbuf *m)
{
	(void)user;
	if (m == NULL) {
		fmq_tcp_close(n, c);
		return;
	}
	/* Zero-copy: the received mbufs become the send queue. */
	if (fmq_tcp_send(n, c, m) == 0)
		fmq_tcp_pause_rx(n, c, true);
}

static void
echo_writable(struct fmq_net *n, fmq_tcp_conn_t c, void *user)
{
	(void)user;
	fmq_tcp_pause_rx(n, c, false);
}

static void
discard_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
	     struct rte_mbuf *m)
{
	(void)user;
	if (m == NULL)
		fmq_tcp_close(n, c);
	else
		rte_pktmbuf_free(m);
}

static const struct fmq_tcp_callbacks echo_cb = {
	.data = echo_data, .writable = echo_writable,
};
static const struct fmq_tcp_callbacks discard_cb = {
	.data = discard_data,
};

void
tcp_services_start(struct fmq_net *n)
{
	for (unsigned int i = 0; i < n->conf.nb_services &&
	     i < FMQ_NET_MAX_SERVICES; i++) {
		const struct fmq_net_service *s = &n->conf.services[i];
		const struct fmq_tcp_callbacks *cb =
			s->kind == FMQ_NET_SVC_ECHO ? &echo_cb : &discard_cb;
		int rc = fmq_tcp_listen(n, s->port, cb, NULL);

		if (rc < 0)
			FMQ_WARN("net", "service on port %u: %s", s->port,
				 strerror(-rc));
	}
}
