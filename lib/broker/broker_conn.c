/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka connections on TCP-lite: received bytes stay in their mbufs until a
 * whole request is there (the framer checks the size prefix before anything
 * is buffered), requests are handled in order with a per-poll budget, and
 * responses leave in request order through a ring of slots even when they
 * complete out of order (forwarded or parked requests).
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "broker_priv.h"

/*
 * Most received segments one connection may hold while a request is still
 * incomplete: the framer's segment table. The receive budget below
 * refuses a request needing more than an eighth of the pool at its size
 * prefix, long before this (unreachable with the default pool of 16,383
 * mbufs); it stays as the table's own bound.
 */
#define RX_MAX_SEGS (BROKER_MAX_SEGS / 2)

/*
 * Segments of received requests one connection may hold beyond its first
 * whole request before it stops reading (and resumes at half). Data the
 * broker holds is outside TCP's receive window: TCP reopens the window as
 * soon as it hands a segment over. A client that waits for answers is held
 * back by the response slots, but acks=0 produces no answer, so a producer
 * faster than this lcore (one record per request: several requests per
 * segment, broker.frames.per.poll handled per poll) piled its requests up
 * here until the mbuf pool that every connection shares ran low: windows
 * clamped and payload dropped on the whole lcore, then seconds to catch
 * up. Paused, the rest waits in TCP, counted against the window, which
 * closes. 128 segments is about 180 KB: ample work between two polls.
 */
#define RX_BACKLOG_SEGS 128

/*
 * Receive budget. An unfinished request reserves, from its size prefix,
 * one mbuf per RX_BYTES_PER_MBUF bytes (full segments carry 1448 bytes,
 * small ones are copied together, see rx_append) plus two for the ends.
 * A request that needs more than a connection may hold of the pool is
 * refused at its prefix; one that does not fit in what the lcore has left
 * waits, paused, until others finish. So the pool never fills with
 * requests that cannot complete, and an admitted one always can.
 */
#define RX_BYTES_PER_MBUF 1024
/* Segments up to this size are copied into the previous mbuf when it has
 * room, as Linux collapses a queue of small skbs: a one-byte segment
 * otherwise pins a whole 2 KiB mbuf. */
#define RX_COLLAPSE_MAX 1024
/* Scan for idle connections and stalled requests this often. */
#define SCAN_NS 100000000ull

struct kconn *
conn_lookup(struct fmq_broker_lcore *bl, uint32_t idx, uint32_t gen)
{
	struct kconn *k;

	if (idx >= bl->nconns)
		return NULL;
	k = &bl->conns[idx];
	return (k->live && !k->closing && k->gen == gen) ? k : NULL;
}

void
conn_schedule(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (k->in_work || !k->live || k->closing)
		return;
	k->in_work = true;
	k->work_next = NULL;
	if (bl->work_tail != NULL)
		bl->work_tail->work_next = k;
	else
		bl->work_head = k;
	bl->work_tail = k;
}

static void
rx_free_all(struct kconn *k)
{
	struct rte_mbuf *m = k->rx_head;

	k->bl->rx_held -= k->rx_nseg;

	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
		m = next;
	}
	k->rx_head = k->rx_tail = NULL;
	k->rx_off = 0;
	k->rx_bytes = 0;
	k->rx_nseg = 0;
}

/* Drop the first n received bytes. */
static void
rx_consume(struct kconn *k, uint64_t n)
{
	k->rx_bytes -= n;
	while (n > 0 && k->rx_head != NULL) {
		struct rte_mbuf *m = k->rx_head;
		uint32_t avail = m->data_len - k->rx_off;
		if (n < avail) {
			k->rx_off += (uint32_t)n;
			return;
		}
		n -= avail;
		k->rx_head = m->next;
		k->rx_off = 0;
		k->rx_nseg--;
		k->bl->rx_held--;
		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
	}
	if (k->rx_head == NULL)
		k->rx_tail = NULL;
}

/*
 * Bytes the first request needs: its size prefix says, once all 4 bytes
 * are in; an impossible size needs only the prefix (the framer refuses
 * it). UINT64_MAX while the prefix is incomplete.
 */
static uint64_t
rx_frame_bytes(const struct fmq_broker_lcore *bl, const struct kconn *k)
{
	uint8_t pre[4];
	uint32_t have = 0, off = k->rx_off;
	int32_t size;

	for (const struct rte_mbuf *m = k->rx_head; m != NULL && have < 4;
	     m = m->next) {
		const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *,
							   off);
		for (uint32_t i = off; i < m->data_len && have < 4; i++)
			pre[have++] = *p++;
		off = 0;
	}
	if (have < 4)
		return UINT64_MAX;
	size = (int32_t)((uint32_t)pre[0] << 24 | (uint32_t)pre[1] << 16 |
			 (uint32_t)pre[2] << 8 | pre[3]);
	if (size < 0 || (uint32_t)size > bl->b->max_request)
		return 4;
	return 4 + (uint64_t)size;
}

/* Mbufs the unfinished first request may need; 0 when it is whole or
 * its size is not known yet. */
static uint32_t
rx_estimate(const struct fmq_broker_lcore *bl, const struct kconn *k,
	    uint64_t *first)
{
	*first = rx_frame_bytes(bl, k);
	if (*first == UINT64_MAX || *first <= k->rx_bytes)
		return 0;
	return (uint32_t)(*first / RX_BYTES_PER_MBUF + 2);
}

static void
rx_reserve(struct fmq_broker_lcore *bl, struct kconn *k, uint32_t est,
	   uint64_t first)
{
	bl->rx_reserved += est;
	k->resv = est;
	/* TCP keeps the window open for the rest, whatever others do. */
	fmq_tcp_set_rx_reserve(bl->net, k->tcp,
			       (uint32_t)RTE_MIN(first - k->rx_bytes,
						 (uint64_t)UINT32_MAX));
}

/* Admit waiting connections, oldest first, while the budget allows. */
static void
rx_wake(struct fmq_broker_lcore *bl)
{
	struct kconn *k;

	while ((k = TAILQ_FIRST(&bl->mem_waitq)) != NULL) {
		uint64_t first;
		uint32_t est = rx_estimate(bl, k, &first);

		if (est != 0 && bl->rx_reserved + est > bl->rx_budget)
			break;
		TAILQ_REMOVE(&bl->mem_waitq, k, mem_link);
		k->mem_wait = false;
		if (est != 0)
			rx_reserve(bl, k, est, first);
		conn_schedule(bl, k);   /* conn_flush reads on */
	}
}

/* The first request is whole (or gone): give its reservation back. */
static void
rx_unreserve(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (k->resv == 0)
		return;
	bl->rx_reserved -= k->resv;
	k->resv = 0;
	fmq_tcp_set_rx_reserve(bl->net, k->tcp, 0);
	if (!TAILQ_EMPTY(&bl->mem_waitq))
		rx_wake(bl);
}

static void conn_abort(struct fmq_broker_lcore *bl, struct kconn *k,
		       enum broker_close why);

/*
 * The first request is unfinished: reserve what it needs, refuse it if
 * it needs more than a connection may hold, or wait for room. Returns
 * false when the connection was closed.
 */
static bool
rx_admit(struct fmq_broker_lcore *bl, struct kconn *k)
{
	uint64_t first;
	uint32_t est;

	if (k->mem_wait)
		return true;
	if (k->resv != 0) {
		/* Still unfinished, in segments far beyond what its bytes
		 * need: tiny segments that could not be copied together.
		 * (Once it is whole, what follows it is pipelined requests,
		 * which the backlog limit bounds.) */
		if (k->rx_nseg > k->resv + k->resv / 2 + 8 &&
		    rx_frame_bytes(bl, k) > k->rx_bytes) {
			conn_abort(bl, k, BROKER_CLOSE_SEGMENT_ABUSE);
			return false;
		}
		return true;
	}
	est = rx_estimate(bl, k, &first);
	if (est == 0)
		return true;
	if (est > bl->rx_conn_max) {
		conn_abort(bl, k, BROKER_CLOSE_TOO_LARGE);
		return false;
	}
	if (bl->rx_reserved + est > bl->rx_budget) {
		k->mem_wait = true;
		TAILQ_INSERT_TAIL(&bl->mem_waitq, k, mem_link);
		bl->st.rx_mem_waits++;
		if (!k->paused) {
			k->paused = true;
			fmq_tcp_pause_rx(bl->net, k->tcp, true);
		}
		return true;
	}
	rx_reserve(bl, k, est, first);
	return true;
}

/*
 * More than max segments held, and a whole request first with more behind
 * it: this connection is behind on requests it already has (out of
 * budget, or waiting for other lcores or the hot pool), not gathering one
 * big request (RX_MAX_SEGS bounds that).
 */
static bool
rx_backlog_over(const struct fmq_broker_lcore *bl, const struct kconn *k,
		uint32_t max)
{
	uint64_t first;

	if (k->rx_nseg <= max)
		return false;
	first = rx_frame_bytes(bl, k);
	return first != UINT64_MAX && k->rx_bytes > first;
}

/*
 * Describe the received bytes as segments for the framer, up to the end
 * of the first request: pipelined requests behind it stay undescribed, so
 * taking N queued requests costs N, not N times the backlog.
 */
static uint32_t
rx_segments(struct fmq_broker_lcore *bl, struct kconn *k, uint64_t *avail)
{
	uint64_t want = rx_frame_bytes(bl, k);
	uint32_t n = 0, off = k->rx_off;
	uint64_t bytes = 0;

	for (struct rte_mbuf *m = k->rx_head; m != NULL && n < BROKER_MAX_SEGS &&
	     bytes < want; m = m->next) {
		bl->segs[n].p = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
		bl->segs[n].len = m->data_len - off;
		bl->seg_mbuf[n] = m;
		bl->seg_off[n] = off;
		bytes += bl->segs[n].len;
		off = 0;
		n++;
	}
	*avail = bytes;
	return n;
}

static inline struct kslot *
slot_at(const struct fmq_broker_lcore *bl, struct kconn *k, uint32_t seq)
{
	return &k->slots[seq & (bl->b->slots - 1)];
}

static void
conn_release_resources(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (k->mem_wait) {
		TAILQ_REMOVE(&bl->mem_waitq, k, mem_link);
		k->mem_wait = false;
	}
	quota_conn_gone(bl, k);
	rx_free_all(k);
	tls_conn_free(k);
	k->partial_since = 0;
	rx_unreserve(bl, k);
	for (uint32_t s = k->head; s != k->tail; s++) {
		struct kslot *sl = slot_at(bl, k, s);
		rte_pktmbuf_free(sl->resp);
		sl->resp = NULL;
		sl->state = SLOT_FREE;
	}
	k->head = k->tail = 0;
	xprog_drop(bl, &k->xp);
	k->waiting = false;
	broker_sasl_conn_release(bl, k);
}

static void
per_ip_add(struct fmq_broker_lcore *bl, uint32_t ip, int d)
{
	void *v;
	uintptr_t n = 0;

	if (bl->per_ip == NULL)
		return;
	if (rte_hash_lookup_data(bl->per_ip, &ip, &v) >= 0)
		n = (uintptr_t)v;
	n += (uintptr_t)(intptr_t)d;
	if (n == 0)
		rte_hash_del_key(bl->per_ip, &ip);
	else
		rte_hash_add_key_data(bl->per_ip, &ip, (void *)n);
}

static uintptr_t
per_ip_count(const struct fmq_broker_lcore *bl, uint32_t ip)
{
	void *v;

	if (bl->per_ip == NULL || rte_hash_lookup_data(bl->per_ip, &ip, &v) < 0)
		return 0;
	return (uintptr_t)v;
}

/* The entry is free for the next connection. */
static void
conn_free_entry(struct fmq_broker_lcore *bl, struct kconn *k)
{
	per_ip_add(bl, k->client_ip, -1);
	k->live = false;
	bl->free_conns[bl->nfree++] = k->idx;
	bl->st.conns_closed++;
}

/*
 * Stop using k and give its entry back at once: TCP finishes the close on
 * its own (the closed callback finds no user). An entry kept until the
 * peer answered our FIN let peers that never do hold the table.
 */
static void
conn_shutdown(struct fmq_broker_lcore *bl, struct kconn *k, bool rst)
{
	if (!k->live || k->closing)
		return;
	k->closing = true;
	k->gen++;   /* answers still on their way are dropped */
	if (k->tls != NULL && !rst)
		tls_conn_close_notify(bl, k);
	conn_release_resources(bl, k);
	fmq_tcp_set_user(bl->net, k->tcp, NULL);
	if (rst || fmq_tcp_close(bl->net, k->tcp) < 0)
		fmq_tcp_abort(bl->net, k->tcp);
	conn_free_entry(bl, k);
}

/* Closes that protect others are logged, at most one line a second. */
static void
conn_log(struct fmq_broker_lcore *bl, struct kconn *k, enum broker_close why)
{
	static const char *const names[] = {
#define X(n, h) #n,
		BROKER_CLOSE_REASONS(X)
#undef X
	};
	uint32_t ip = rte_be_to_cpu_32(k->client_ip);

	if (why < BROKER_CLOSE_TOO_LARGE)
		return;
	if (bl->now_ns - bl->log_ns < 1000000000ull && bl->log_ns != 0) {
		bl->log_skipped++;
		return;
	}
	bl->log_ns = bl->now_ns;
	RTE_LOG(WARNING, USER1, "broker: lcore %u: closed %u.%u.%u.%u:%u: %s"
		" (%u more not logged)\n", bl->idx, ip >> 24, (ip >> 16) & 255,
		(ip >> 8) & 255, ip & 255, rte_be_to_cpu_16(k->client_port),
		names[why], bl->log_skipped);
	bl->log_skipped = 0;
}

void
conn_close(struct fmq_broker_lcore *bl, struct kconn *k, enum broker_close why)
{
	if (!k->live || k->closing)
		return;
	bl->st.close_reason[why]++;
	conn_log(bl, k, why);
	conn_shutdown(bl, k, false);
}

/* Close with a RST: the peer must stop sending what we will not read. */
static void
conn_abort(struct fmq_broker_lcore *bl, struct kconn *k, enum broker_close why)
{
	if (!k->live || k->closing)
		return;
	bl->st.close_reason[why]++;
	conn_log(bl, k, why);
	conn_shutdown(bl, k, true);
}

int
conn_accepted(struct fmq_net *n, fmq_tcp_conn_t c, void *arg, void **user)
{
	struct fmq_broker_lcore *bl = arg;
	struct kconn *k;
	uint32_t lip;
	uint16_t lport;

	uint32_t rip;
	uint16_t rport;

	if (bl->nfree == 0) {
		bl->st.conns_refused++;
		return -1;
	}
	fmq_tcp_get_addrs(n, c, &lip, &lport, &rip, &rport);
	if (bl->b->max_per_ip != 0 &&
	    per_ip_count(bl, rip) >= bl->b->max_per_ip) {
		bl->st.conns_refused_ip++;
		return -1;
	}
	k = &bl->conns[bl->free_conns[bl->nfree - 1]];
	if (k->slots == NULL) {
		/* Once per entry, kept for the next connection. */
		k->slots = rte_zmalloc("fmq_slots",
				       bl->b->slots * sizeof(*k->slots),
				       RTE_CACHE_LINE_SIZE);
		if (k->slots == NULL) {
			bl->st.conns_refused++;
			return -1;
		}
	}
	bl->nfree--;
	k->bl = bl;
	k->tcp = c;
	k->gen++;
	k->live = true;
	k->peer_fin = false;
	k->closing = false;
	k->paused = false;
	/* in_work stays: an entry freed while on the work list is still
	 * linked there and must not be linked twice. */
	k->retry = false;
	k->rx_full = false;
	k->waiting = false;
	k->mem_wait = false;
	k->muted = false;
	k->resv = 0;
	k->partial_since = 0;
	k->last_active_ns = bl->now_ns;
	k->head = k->tail = 0;
	k->need = 0;
	k->xp = NULL;
	fmq_kafka_framer_init(&k->framer, bl->b->max_request);
	k->client_ip = rip;
	k->client_port = rport;
	{
		const struct fmq_listeners *ls = &bl->b->ls;
		const struct fmq_listener *l =
			fmq_listeners_by_port(ls, rte_be_to_cpu_16(lport));

		k->listener = l != NULL ? (uint8_t)(l - ls->l) : 0;
		k->proto = ls->l[k->listener].proto;
	}
	fmq_principal_set(&k->principal, FMQ_PRINCIPAL_ANONYMOUS,
			  sizeof(FMQ_PRINCIPAL_ANONYMOUS) - 1);
	k->tls = NULL;
	k->tls_off = 0;
	if (fmq_sec_proto_tls(k->proto)) {
		if (tls_conn_open(bl, k) < 0) {
			k->live = false;
			bl->free_conns[bl->nfree++] = k->idx;
			bl->st.conns_refused++;
			return -1;
		}
		/* The handshake must end within the request receive
		 * timeout, as a request must (conn_timers). */
		k->partial_since = bl->now_ns;
	}
	broker_sasl_conn_init(bl, k);
	per_ip_add(bl, rip, 1);
	*user = k;
	bl->st.conns_opened++;
	return 0;
}

void
conn_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user, int reason)
{
	struct kconn *k = user;
	struct fmq_broker_lcore *bl;

	(void)n;
	(void)c;
	(void)reason;
	if (k == NULL || !k->live)
		return;
	bl = k->bl;
	if (!k->closing) {
		k->closing = true;
		k->gen++;
		conn_release_resources(bl, k);
	}
	conn_free_entry(bl, k);
}

void
conn_complete(struct fmq_broker_lcore *bl, struct kconn *k, uint32_t seq,
	      struct rte_mbuf *resp)
{
	struct kslot *sl = slot_at(bl, k, seq);

	if (sl->state != SLOT_WAIT) {
		rte_pktmbuf_free(resp);
		return;
	}
	sl->state = SLOT_READY;
	sl->resp = resp;
	if (sl->api >= 0 && sl->api < BROKER_API_MAX)
		fmq_hist_record(&bl->st.lat[sl->api],
				(rte_rdtsc() - sl->t0_tsc) * 1000 / bl->tsc_mhz);
	conn_flush(bl, k);
}

void
conn_flush(struct fmq_broker_lcore *bl, struct kconn *k)
{
	bool was_full = k->tail - k->head >= bl->b->slots;
	bool sent = false;

	while (k->live && !k->closing && k->head != k->tail) {
		struct kslot *sl = slot_at(bl, k, k->head);
		int rc;

		if (sl->state != SLOT_READY)
			break;
		if (sl->resp != NULL) {
			int space = fmq_tcp_send_space(bl->net, k->tcp);

			/* Full: writable() schedules us again. */
			if (space <= 0)
				break;
			if (k->tls_off == 0)
				bl->st.bytes_out += sl->resp->pkt_len;
			k->last_active_ns = bl->now_ns;
			if (k->tls != NULL) {
				/* Its ciphertext is in pool mbufs (a fetch's
				 * plaintext is not): no more than TCP may
				 * queue, the rest when it is writable. */
				sent = true;
				rc = tls_tx(bl, k, sl->resp, (uint32_t)space);
				if (rc == 0)
					break;
				if (rc < 0)
					rte_pktmbuf_free(sl->resp);
			} else {
				rc = fmq_tcp_send(bl->net, k->tcp, sl->resp);
			}
			sl->resp = NULL;
			if (rc < 0) {
				sl->state = SLOT_FREE;
				k->head++;
				conn_close(bl, k, BROKER_CLOSE_NOMEM);
				return;
			}
		}
		sl->state = SLOT_FREE;
		k->head++;
	}
	/* TLS: the last record of what was sent, coalesced till now. */
	if (sent && k->tls != NULL && k->live && !k->closing &&
	    tls_tx_end(bl, k) < 0) {
		conn_close(bl, k, BROKER_CLOSE_NOMEM);
		return;
	}
	if (!k->live || k->closing)
		return;
	/* Room for more requests again: read on. */
	if (k->paused && !k->retry && !k->rx_full && !k->mem_wait &&
	    !k->muted && k->tail - k->head < bl->b->slots) {
		k->paused = false;
		fmq_tcp_pause_rx(bl->net, k->tcp, false);
		conn_schedule(bl, k);
	} else if (was_full && k->tail - k->head < bl->b->slots) {
		/* Still too far behind to read on, but the requests it
		 * holds can go now; nothing else would schedule them. */
		conn_schedule(bl, k);
	}
	/* The client is done sending and everything is answered. */
	if (k->peer_fin && k->head == k->tail && !k->retry && !k->waiting &&
	    (k->rx_bytes < 4 || k->rx_bytes < k->need))
		conn_shutdown(bl, k, false);
}

void
conn_writable(struct fmq_net *n, fmq_tcp_conn_t c, void *user)
{
	struct kconn *k = user;

	(void)n;
	(void)c;
	if (k == NULL || !k->live || k->closing)
		return;
	conn_schedule(k->bl, k);
}

static enum broker_close
close_reason_of(enum fmq_kafka_frame_reason r)
{
	switch (r) {
	case FMQ_KAFKA_FR_UNKNOWN_API_KEY:
		return BROKER_CLOSE_UNKNOWN_API;
	case FMQ_KAFKA_FR_UNSUPPORTED_VERSION:
		return BROKER_CLOSE_UNSUPPORTED_VERSION;
	case FMQ_KAFKA_FR_NOMEM:
		return BROKER_CLOSE_NOMEM;
	default:
		return BROKER_CLOSE_FRAME;
	}
}

static inline void
count_request(struct fmq_broker_lcore *bl, const struct fmq_kafka_req_hdr *h)
{
	bl->st.requests++;
	if (h->api_key >= 0 && h->api_key < BROKER_API_MAX &&
	    h->api_version >= 0 && h->api_version < BROKER_VER_MAX)
		bl->st.req[h->api_key][h->api_version]++;
}

/* A request was consumed: the next one starts now (if any of it is
 * here), with a reservation of its own. */
static void
rx_next(struct fmq_broker_lcore *bl, struct kconn *k)
{
	rx_unreserve(bl, k);
	k->partial_since = k->rx_bytes != 0 ? bl->now_ns : 0;
}

/*
 * Handle up to budget complete requests of k. Returns true when more
 * complete requests may be waiting (the budget ran out).
 */
static bool
conn_process(struct fmq_broker_lcore *bl, struct kconn *k, uint32_t budget)
{
	struct fmq_broker *b = bl->b;
	bool more = false;

	for (;;) {
		struct fmq_kafka_frame fr;
		struct req_ctx rc;
		struct kslot *sl;
		uint64_t avail;
		uint32_t nseg, seq;
		int st;

		if (!k->live || k->closing || k->waiting || k->rx_bytes == 0 ||
		    k->rx_bytes < k->need || k->muted)
			break;
		if (budget == 0) {
			more = true;
			break;
		}
		if (k->tail - k->head >= b->slots) {
			if (!k->paused) {
				k->paused = true;
				fmq_tcp_pause_rx(bl->net, k->tcp, true);
			}
			break;
		}
		budget--;
		nseg = rx_segments(bl, k, &avail);
		if (unlikely(k->sasl == BSASL_RAW)) {
			/* After SaslHandshake v0: a raw SASL token. */
			uint32_t flen;

			seq = k->tail++;
			sl = slot_at(bl, k, seq);
			sl->state = SLOT_WAIT;
			sl->api = FMQ_KAFKA_API_SASL_AUTHENTICATE;
			sl->t0_tsc = rte_rdtsc();
			sl->resp = NULL;
			st = broker_sasl_raw(bl, k, seq, nseg, avail, &flen);
			if (st == 0) {
				k->tail--;
				sl->state = SLOT_FREE;
				if (nseg >= RX_MAX_SEGS)
					conn_close(bl, k,
						   BROKER_CLOSE_OVERSIZED);
				else
					rx_admit(bl, k);
				break;
			}
			if (flen > 0) {
				bl->st.bytes_in += flen;
				rx_consume(k, flen);
				rx_next(bl, k);
			}
			if (st < 0) {
				conn_close(bl, k, REQ_CLOSE_REASON(st));
				break;
			}
			continue;
		}
		fmq_kafka_arena_reset(&bl->arena);
		st = fmq_kafka_frame_parse(&k->framer, bl->segs, nseg, avail,
					   &bl->arena, &fr);
		if (st == FMQ_KAFKA_FRAME_NEED_MORE) {
			k->need = avail + fr.need;
			if (nseg >= RX_MAX_SEGS)
				conn_close(bl, k, BROKER_CLOSE_OVERSIZED);
			else
				rx_admit(bl, k);
			break;
		}
		if (st == FMQ_KAFKA_FRAME_CLOSE) {
			if (fr.hdr_valid)
				count_request(bl, &fr.hdr);
			conn_close(bl, k, close_reason_of(fr.reason));
			break;
		}
		k->need = 0;
		count_request(bl, &fr.hdr);
		seq = k->tail++;
		sl = slot_at(bl, k, seq);
		sl->state = SLOT_WAIT;
		sl->api = fr.hdr.api_key;
		/* The TSC, not now_ns: now_ns is read once per poll, and a
		 * request answered in the poll that parsed it would always
		 * count as 0 ns. */
		sl->t0_tsc = rte_rdtsc();
		sl->resp = NULL;
		if (fr.reason == FMQ_KAFKA_FR_APIVERSIONS_FALLBACK) {
			/* KIP-511: tell the client our ranges, keep going. */
			struct rte_mbuf *m = resp_encode(bl,
				FMQ_KAFKA_API_API_VERSIONS, -1,
				fr.hdr.correlation_id, NULL);
			bl->st.bytes_in += fr.frame_len;
			rx_consume(k, fr.frame_len);
			rx_next(bl, k);
			if (m == NULL) {
				conn_close(bl, k, BROKER_CLOSE_NOMEM);
				break;
			}
			count_error(bl, FMQ_KERR_UNSUPPORTED_VERSION);
			conn_complete(bl, k, seq, m);
			continue;
		}
		memset(&rc, 0, sizeof(rc));
		rc.bl = bl;
		rc.k = k;
		rc.slot = seq;
		rc.hdr = &fr.hdr;
		rc.body = fr.body;
		rc.frame_len = fr.frame_len;
		rc.nseg = nseg;
		rc.xslot = &k->xp;
		rc.meta = broker_meta_load(b);
		st = BSASL_PASS;
		if (k->sasl != BSASL_OFF)
			st = broker_sasl_gate(&rc);
		if (st == BSASL_PASS) {
			st = api_dispatch(&rc);
			if (st == REQ_DONE || st == REQ_PARK)
				quota_request_time(&rc, rte_rdtsc() -
						   sl->t0_tsc);
		}
		if (st == REQ_RETRY) {
			/* The hot pool is full: stop reading from this
			 * producer and run the same frame again next poll
			 * (k->pp remembers what was already appended). */
			k->tail--;
			sl->state = SLOT_FREE;
			k->retry = true;
			if (!k->paused) {
				k->paused = true;
				fmq_tcp_pause_rx(bl->net, k->tcp, true);
			}
			more = true;
			break;
		}
		if (st == REQ_WAIT) {
			/* Other lcores work on its partitions; their last
			 * answer schedules the connection to run it again. */
			k->tail--;
			sl->state = SLOT_FREE;
			k->waiting = true;
			break;
		}
		k->retry = false;
		bl->st.bytes_in += fr.frame_len;
		rx_consume(k, fr.frame_len);
		rx_next(bl, k);
		if (st < 0) {
			conn_close(bl, k, REQ_CLOSE_REASON(st));
			break;
		}
	}
	/* Caught up to half the backlog limit: conn_flush reads on. */
	if (k->rx_full && !rx_backlog_over(bl, k, RX_BACKLOG_SEGS / 2))
		k->rx_full = false;
	conn_flush(bl, k);
	return more;
}

/*
 * Keep a received chain's segments. Small ones are copied into the last
 * mbuf when it has room (received mbufs are 2 KiB; a one-byte segment
 * would pin one each); the rest are linked as they are.
 */
static void
rx_append(struct fmq_broker_lcore *bl, struct kconn *k, struct rte_mbuf *m)
{
	k->rx_bytes += m->pkt_len;
	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		struct rte_mbuf *t = k->rx_tail;
		uint16_t len = m->data_len;

		m->next = NULL;
		m->nb_segs = 1;
		if (t != NULL && len <= RX_COLLAPSE_MAX && RTE_MBUF_DIRECT(t) &&
		    rte_mbuf_refcnt_read(t) == 1 &&
		    rte_pktmbuf_tailroom(t) >= len) {
			memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *,
						       t->data_len),
			       rte_pktmbuf_mtod(m, const uint8_t *), len);
			t->data_len = (uint16_t)(t->data_len + len);
			rte_pktmbuf_free_seg(m);
			bl->st.rx_collapsed++;
		} else {
			if (t != NULL)
				t->next = m;
			else
				k->rx_head = m;
			k->rx_tail = m;
			k->rx_nseg++;
			bl->rx_held++;
		}
		m = next;
	}
}

void
conn_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user, struct rte_mbuf *m)
{
	struct kconn *k = user;

	if (k == NULL || !k->live || k->closing) {
		rte_pktmbuf_free(m);
		return;
	}
	if (m == NULL) {
		k->peer_fin = true;
		conn_schedule(k->bl, k);
		return;
	}
	k->last_active_ns = k->bl->now_ns;
	/* TLS: the plaintext joins the chain as received bytes would. */
	if (k->tls != NULL && (m = tls_rx(k->bl, k, m)) == NULL)
		return;
	if (k->rx_bytes == 0)
		k->partial_since = k->bl->now_ns;
	rx_append(k->bl, k, m);
	/* An unfinished request: reserve its mbufs, or refuse, or wait. */
	if (!rx_admit(k->bl, k))
		return;
	/* Too far behind: the rest stays in TCP (and closes its window). */
	if (!k->rx_full && rx_backlog_over(k->bl, k, RX_BACKLOG_SEGS)) {
		k->rx_full = true;
		k->bl->st.rx_backlog_pauses++;
		if (!k->paused) {
			k->paused = true;
			fmq_tcp_pause_rx(n, c, true);
		}
	}
	/* Requests are handled in the lcore's work pass right after this
	 * burst, so one busy connection cannot starve the others. */
	if (k->rx_bytes >= k->need)
		conn_schedule(k->bl, k);
}

void
conn_work(struct fmq_broker_lcore *bl)
{
	struct kconn *end = bl->work_tail;

	/* One round over the connections queued so far; the ones that still
	 * have work go to the back of the list. */
	while (bl->work_head != NULL) {
		struct kconn *k = bl->work_head;
		bool last = k == end;

		bl->work_head = k->work_next;
		if (bl->work_head == NULL)
			bl->work_tail = NULL;
		k->in_work = false;
		if (k->live && !k->closing) {
			if (conn_process(bl, k, bl->b->frames_per_poll))
				conn_schedule(bl, k);
			else if (k->peer_fin)
				conn_flush(bl, k);
		}
		if (last)
			break;
	}
}

/*
 * Every SCAN_NS: close connections idle for connections.max.idle.ms (no
 * byte received, no answer sent, nothing in progress) and reset those
 * whose first request began more than broker.request.receive.timeout.ms
 * ago and is still not whole (a slow or stalled sender holding mbufs).
 */
void
conn_timers(struct fmq_broker_lcore *bl)
{
	const struct fmq_broker *b = bl->b;
	uint64_t now = bl->now_ns;

	if (now < bl->next_scan_ns)
		return;
	bl->next_scan_ns = now + SCAN_NS;
	for (uint32_t i = 0; i < bl->nconns; i++) {
		struct kconn *k = &bl->conns[i];

		if (!k->live || k->closing)
			continue;
		if (b->req_timeout_ns != 0 && k->partial_since != 0 &&
		    now - k->partial_since > b->req_timeout_ns &&
		    !k->waiting && !k->retry) {
			uint64_t first = rx_frame_bytes(bl, k);

			if (first == UINT64_MAX || first > k->rx_bytes) {
				conn_abort(bl, k, BROKER_CLOSE_REQUEST_TIMEOUT);
				continue;
			}
		}
		if (k->sess != NULL && now - k->sess_ns > BSASL_EXCHANGE_NS) {
			conn_close(bl, k, BROKER_CLOSE_SASL_TIMEOUT);
			continue;
		}
		if (b->idle_ns != 0 && now - k->last_active_ns > b->idle_ns &&
		    k->head == k->tail && !k->waiting && !k->retry &&
		    k->rx_bytes == 0)
			conn_close(bl, k, BROKER_CLOSE_IDLE);
	}
}
