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
 * incomplete. Each carries about an MSS, so this bounds a request to
 * roughly 45 MB with the default pool; a bigger one closes the connection
 * (counted) rather than drain the mbuf pool that every connection shares.
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
	rx_free_all(k);
	for (uint32_t s = k->head; s != k->tail; s++) {
		struct kslot *sl = slot_at(bl, k, s);
		rte_pktmbuf_free(sl->resp);
		sl->resp = NULL;
		sl->state = SLOT_FREE;
	}
	k->head = k->tail = 0;
	xprog_drop(bl, &k->xp);
	k->waiting = false;
}

/* Stop using k; the closed callback gives the entry back. */
static void
conn_shutdown(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (!k->live || k->closing)
		return;
	k->closing = true;
	k->gen++;   /* answers still on their way are dropped */
	conn_release_resources(bl, k);
	if (fmq_tcp_close(bl->net, k->tcp) < 0)
		fmq_tcp_abort(bl->net, k->tcp);
}

void
conn_close(struct fmq_broker_lcore *bl, struct kconn *k, enum broker_close why)
{
	if (!k->live || k->closing)
		return;
	bl->st.close_reason[why]++;
	conn_shutdown(bl, k);
}

int
conn_accepted(struct fmq_net *n, fmq_tcp_conn_t c, void *arg, void **user)
{
	struct fmq_broker_lcore *bl = arg;
	struct kconn *k;
	uint32_t lip;
	uint16_t lport;

	if (bl->nfree == 0) {
		bl->st.conns_refused++;
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
	k->in_work = false;
	k->retry = false;
	k->rx_full = false;
	k->waiting = false;
	k->head = k->tail = 0;
	k->need = 0;
	k->xp = NULL;
	fmq_kafka_framer_init(&k->framer, bl->b->max_request);
	fmq_tcp_get_addrs(n, c, &lip, &lport, &k->client_ip, &k->client_port);
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
	k->live = false;
	bl->free_conns[bl->nfree++] = k->idx;
	bl->st.conns_closed++;
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

	while (k->live && !k->closing && k->head != k->tail) {
		struct kslot *sl = slot_at(bl, k, k->head);
		int rc;

		if (sl->state != SLOT_READY)
			break;
		if (sl->resp != NULL) {
			/* Full: writable() schedules us again. */
			if (fmq_tcp_send_space(bl->net, k->tcp) <= 0)
				break;
			bl->st.bytes_out += sl->resp->pkt_len;
			rc = fmq_tcp_send(bl->net, k->tcp, sl->resp);
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
	if (!k->live || k->closing)
		return;
	/* Room for more requests again: read on. */
	if (k->paused && !k->retry && !k->rx_full &&
	    k->tail - k->head < bl->b->slots) {
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
		conn_shutdown(bl, k);
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
		    k->rx_bytes < k->need)
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
		fmq_kafka_arena_reset(&bl->arena);
		st = fmq_kafka_frame_parse(&k->framer, bl->segs, nseg, avail,
					   &bl->arena, &fr);
		if (st == FMQ_KAFKA_FRAME_NEED_MORE) {
			k->need = avail + fr.need;
			if (nseg >= RX_MAX_SEGS) {
				conn_close(bl, k, BROKER_CLOSE_OVERSIZED);
			}
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
		st = api_dispatch(&rc);
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

void
conn_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user, struct rte_mbuf *m)
{
	struct kconn *k = user;
	struct rte_mbuf *t;

	if (k == NULL || !k->live || k->closing) {
		rte_pktmbuf_free(m);
		return;
	}
	if (m == NULL) {
		k->peer_fin = true;
		conn_schedule(k->bl, k);
		return;
	}
	/* Keep the segments; the chain's count and length are ours now. */
	k->rx_nseg += m->nb_segs;
	k->rx_bytes += m->pkt_len;
	if (k->rx_tail != NULL)
		k->rx_tail->next = m;
	else
		k->rx_head = m;
	for (t = m; t->next != NULL; t = t->next)
		;
	k->rx_tail = t;
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
