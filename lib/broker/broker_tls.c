/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS on Kafka connections (SSL and SASL_SSL listeners): the glue between
 * TCP-lite's mbuf chains and lib/sec's sessions over memory.
 *
 *  - Received ciphertext is decrypted segment by segment straight from the
 *    received mbufs into fresh mbufs of the same pool, which then join the
 *    connection's receive chain exactly as plaintext segments would: the
 *    receive budget, the backlog limit and the framer see plaintext only.
 *    The ciphertext mbufs are freed at once; a partial record waits in
 *    OpenSSL's own buffer (one per session, at most one record).
 *  - Responses (zero-copy fetch chains included) are gathered into 16 KiB
 *    records in a per-lcore stage, encrypted, and the ciphertext copied
 *    into mbufs for fmq_tcp_send. Handshake flights, alerts and KeyUpdate
 *    answers leave the same way, in the order OpenSSL wrote them.
 *  - A reload (SIGHUP) hands each lcore a new context through an atomic
 *    slot; the lcore takes it at its next TLS accept, sessions keep the
 *    one they started with (reference counted).
 *
 * The record path allocates nothing but mbufs: the stage is per lcore and
 * OpenSSL keeps its buffers for a session's life. A session itself (SSL_new
 * and the handshake's state) is allocated by OpenSSL at accept.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "broker_priv.h"

/* Ciphertext is handed to TCP at least every this many bytes, so one big
 * response is not one huge chain. */
#define TLS_OUT_CHUNK (256u * 1024)

int
tls_lcore_init(struct fmq_broker_lcore *bl, int socket)
{
	struct btls *t = &bl->tls;

	if (bl->b->tls_ctx == NULL)
		return 0;
	t->stage = rte_zmalloc_socket("fmq_tls_stage", sizeof(*t->stage),
				      RTE_CACHE_LINE_SIZE, socket);
	if (t->stage == NULL)
		return -ENOMEM;
	fmq_tls_ctx_get(bl->b->tls_ctx);
	t->ctx = bl->b->tls_ctx;
	atomic_store(&t->next, NULL);
	return 0;
}

void
tls_lcore_fini(struct fmq_broker_lcore *bl)
{
	struct btls *t = &bl->tls;

	fmq_tls_ctx_put(atomic_exchange(&t->next, NULL));
	fmq_tls_ctx_put(t->ctx);
	t->ctx = NULL;
	rte_pktmbuf_free(t->out_head);
	t->out_head = t->out_tail = NULL;
	rte_free(t->stage);
	t->stage = NULL;
}

static int tls_out_send(struct fmq_broker_lcore *bl, struct kconn *k);

/* The session's output callback: append ciphertext to the chain being
 * built, in as few mbufs as their room allows. */
static int
tls_out(void *arg, const uint8_t *p, size_t len)
{
	struct kconn *k = arg;
	struct fmq_broker_lcore *bl = k->bl;
	struct btls *t = &bl->tls;

	/* One big response is not one huge chain. */
	if (t->out_len >= TLS_OUT_CHUNK && tls_out_send(bl, k) < 0)
		return -1;
	while (len > 0) {
		struct rte_mbuf *m = t->out_tail;
		uint16_t room = m != NULL ? rte_pktmbuf_tailroom(m) : 0;
		uint16_t n;

		if (room == 0) {
			m = rte_pktmbuf_alloc(bl->mp);
			if (m == NULL) {
				bl->st.nomem++;
				return -1;
			}
			if (t->out_tail != NULL)
				t->out_tail->next = m;
			else
				t->out_head = m;
			t->out_tail = m;
			t->out_segs++;
			room = rte_pktmbuf_tailroom(m);
		}
		n = (uint16_t)RTE_MIN((size_t)room, len);
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len), p,
		       n);
		m->data_len = (uint16_t)(m->data_len + n);
		t->out_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Hand the ciphertext built so far to TCP. 0 or -1. */
static int
tls_out_send(struct fmq_broker_lcore *bl, struct kconn *k)
{
	struct btls *t = &bl->tls;
	struct rte_mbuf *m = t->out_head;

	if (m == NULL)
		return 0;
	m->pkt_len = t->out_len;
	m->nb_segs = (uint16_t)t->out_segs;
	t->out_head = t->out_tail = NULL;
	t->out_len = t->out_segs = 0;
	return fmq_tcp_send(bl->net, k->tcp, m) < 0 ? -1 : 0;
}

/* Drop ciphertext built for a connection that is going away. */
static void
tls_out_drop(struct fmq_broker_lcore *bl)
{
	struct btls *t = &bl->tls;

	rte_pktmbuf_free(t->out_head);
	t->out_head = t->out_tail = NULL;
	t->out_len = t->out_segs = 0;
	if (t->stage != NULL)
		t->stage->len = 0;
}

int
tls_conn_open(struct fmq_broker_lcore *bl, struct kconn *k)
{
	struct btls *t = &bl->tls;
	struct fmq_tls_ctx *c;

	k->tls = NULL;
	if (t->ctx == NULL)
		return -ENOMEM;
	/* A reload since the last accept: new connections use it. */
	if (atomic_load_explicit(&t->next, memory_order_relaxed) != NULL) {
		c = atomic_exchange(&t->next, NULL);
		if (c != NULL) {
			fmq_tls_ctx_put(t->ctx);
			t->ctx = c;
		}
	}
	k->tls = fmq_tls_new(t->ctx, tls_out, k);
	return k->tls != NULL ? 0 : -ENOMEM;
}

void
tls_conn_close_notify(struct fmq_broker_lcore *bl, struct kconn *k)
{
	fmq_tls_shutdown(k->tls);
	if (tls_out_send(bl, k) < 0)
		tls_out_drop(bl);
}

void
tls_conn_free(struct kconn *k)
{
	fmq_tls_free(k->tls);
	k->tls = NULL;
}

/* The handshake just finished: count it, take the certificate's
 * principal. */
static void
tls_established(struct fmq_broker_lcore *bl, struct kconn *k)
{
	bl->st.tls_hs_ok[fmq_tls_version(k->tls)]++;
	/* The handshake's clock (conn_accepted) stops. */
	k->partial_since = k->rx_bytes != 0 ? bl->now_ns : 0;
	/* SASL, where the listener has it, authenticates over this. */
	fmq_tls_peer_principal(k->tls, &k->principal);
	if (fmq_log_get_level() >= FMQ_LOG_DEBUG) {
		uint32_t ip = rte_be_to_cpu_32(k->client_ip);

		FMQ_DEBUG("tls", "lcore %u: %u.%u.%u.%u:%u: %s, principal %s",
			  bl->idx, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
			  ip & 255, rte_be_to_cpu_16(k->client_port),
			  fmq_tls_ver_name(fmq_tls_version(k->tls)),
			  k->principal.name);
	}
}

struct rte_mbuf *
tls_rx(struct fmq_broker_lcore *bl, struct kconn *k, struct rte_mbuf *m)
{
	struct rte_mbuf *head = NULL, *tail = NULL, *p = NULL;
	bool was_up = fmq_tls_established(k->tls);
	uint64_t t0 = was_up ? 0 : rte_rdtsc();
	uint64_t nomem0 = bl->st.nomem;
	uint32_t total = 0, nseg = 0;
	int rc = FMQ_TLS_AGAIN;

	for (struct rte_mbuf *s = m; s != NULL && rc >= 0;) {
		unsigned int n = 0;

		/* Up to 64 segments at once: a record is read in one call,
		 * not one call per TCP segment. */
		for (; s != NULL && n < RTE_DIM(bl->tls.iov); s = s->next) {
			bl->tls.iov[n].iov_base = rte_pktmbuf_mtod(s, void *);
			bl->tls.iov[n].iov_len = s->data_len;
			n++;
		}
		fmq_tls_inputv(k->tls, bl->tls.iov, n);
		for (;;) {
			if (p == NULL) {
				p = rte_pktmbuf_alloc(bl->mp);
				if (p == NULL) {
					bl->st.nomem++;
					rc = FMQ_TLS_ERROR;
					break;
				}
			}
			rc = fmq_tls_read(k->tls,
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
		/* That group is inside OpenSSL or decrypted: its mbufs go
		 * back to the pool before the next group takes more. */
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
	if (!was_up)
		bl->st.tls_hs_ns += (rte_rdtsc() - t0) * 1000 / bl->tsc_mhz;
	if (!was_up && fmq_tls_established(k->tls))
		tls_established(bl, k);
	/* Handshake flights, alerts, KeyUpdate: out now, before any
	 * response. */
	if (tls_out_send(bl, k) < 0 && rc >= 0)
		rc = FMQ_TLS_ERROR;   /* TCP refused it: the peer is gone */
	if (rc == FMQ_TLS_ERROR) {
		rte_pktmbuf_free(head);
		if (bl->st.nomem != nomem0) {
			/* Out of mbufs, not the peer's fault. */
			conn_close(bl, k, BROKER_CLOSE_NOMEM);
			return NULL;
		}
		if (!fmq_tls_established(k->tls))
			bl->st.tls_hs_failed++;
		conn_close(bl, k, BROKER_CLOSE_TLS);
		return NULL;
	}
	if (fmq_tls_established(k->tls))
		bl->st.tls_bytes_dec[fmq_tls_version(k->tls)] += total;
	if (rc == FMQ_TLS_CLOSED) {
		/* close_notify: as a FIN once the requests before it are
		 * answered. */
		k->peer_fin = true;
		conn_schedule(bl, k);
	}
	if (head != NULL) {
		head->pkt_len = total;
		head->nb_segs = (uint16_t)nseg;
	}
	return head;
}

int
tls_tx(struct fmq_broker_lcore *bl, struct kconn *k, struct rte_mbuf *m,
       uint32_t max)
{
	struct btls *t = &bl->tls;
	uint32_t skip = k->tls_off, done = 0;
	struct rte_mbuf *s = m;

	for (; s != NULL && done < max; s = s->next) {
		uint32_t n = s->data_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = RTE_MIN(n - skip, max - done);
		if (fmq_tls_stage_add(k->tls, t->stage,
				      rte_pktmbuf_mtod_offset(s, const uint8_t *,
							      skip), n) < 0) {
			tls_out_drop(bl);
			return -1;
		}
		done += n;
		skip = 0;
	}
	bl->st.tls_bytes_enc[fmq_tls_version(k->tls)] += done;
	if (k->tls_off + done < m->pkt_len) {
		k->tls_off += done;
		return 0;
	}
	k->tls_off = 0;
	/* The plaintext is copied: segment pins (zero-copy fetch) go now. */
	rte_pktmbuf_free(m);
	return 1;
}

int
tls_tx_end(struct fmq_broker_lcore *bl, struct kconn *k)
{
	if (fmq_tls_stage_flush(k->tls, bl->tls.stage) < 0 ||
	    tls_out_send(bl, k) < 0) {
		tls_out_drop(bl);
		return -1;
	}
	return 0;
}

int
fmq_broker_tls_reload(struct fmq_broker *b, const struct fmq_config *cfg,
		      char *err, size_t errlen)
{
	struct fmq_tls_ctx *c;

	if (b->tls_ctx == NULL)
		return 0;
	c = fmq_tls_ctx_create(cfg, err, errlen);
	if (c == NULL)
		return -EINVAL;
	for (unsigned int i = 0; i < b->n_lcores; i++) {
		struct fmq_broker_lcore *bl = b->lc[i];

		if (bl == NULL)
			continue;
		fmq_tls_ctx_get(c);
		/* Whatever the lcore did not take yet is ours to drop. */
		fmq_tls_ctx_put(atomic_exchange(&bl->tls.next, c));
	}
	fmq_tls_ctx_put(b->tls_ctx);
	b->tls_ctx = c;
	return 0;
}

void
tls_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b)
{
	char lbl[128];

	if (b->tls_ctx == NULL)
		return;
	fmq_metrics_family(out, "fluxmq_tls_handshakes_total", "counter",
			   "TLS handshakes on Kafka listeners, by lcore, "
			   "version and result");
	for (unsigned int i = 0; i < b->n_lcores; i++) {
		const struct fmq_broker_lcore *bl = b->lc[i];

		if (bl == NULL)
			continue;
		for (int v = 0; v < FMQ_TLS_NVER; v++) {
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\",version=\"%s\","
				 "result=\"ok\"", i, fmq_tls_ver_name(v));
			fmq_metrics_u64(out, "fluxmq_tls_handshakes_total", lbl,
					bl->st.tls_hs_ok[v]);
		}
		snprintf(lbl, sizeof(lbl), "lcore=\"%u\",version=\"none\","
			 "result=\"failed\"", i);
		fmq_metrics_u64(out, "fluxmq_tls_handshakes_total", lbl,
				bl->st.tls_hs_failed);
	}
	fmq_metrics_family(out, "fluxmq_tls_bytes_total", "counter",
			   "Plaintext bytes through TLS sessions: decrypted "
			   "(received) and encrypted (sent), by lcore and "
			   "version");
	for (unsigned int i = 0; i < b->n_lcores; i++) {
		const struct fmq_broker_lcore *bl = b->lc[i];

		if (bl == NULL)
			continue;
		for (int v = 0; v < FMQ_TLS_NVER; v++) {
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\",version=\"%s\","
				 "direction=\"decrypted\"", i,
				 fmq_tls_ver_name(v));
			fmq_metrics_u64(out, "fluxmq_tls_bytes_total", lbl,
					bl->st.tls_bytes_dec[v]);
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\",version=\"%s\","
				 "direction=\"encrypted\"", i,
				 fmq_tls_ver_name(v));
			fmq_metrics_u64(out, "fluxmq_tls_bytes_total", lbl,
					bl->st.tls_bytes_enc[v]);
		}
	}
	fmq_metrics_family(out, "fluxmq_tls_handshake_seconds_total", "counter",
			   "CPU time data lcores spent in TLS handshake steps "
			   "(this long other connections of the lcore waited)");
	for (unsigned int i = 0; i < b->n_lcores; i++) {
		if (b->lc[i] == NULL)
			continue;
		snprintf(lbl, sizeof(lbl), "lcore=\"%u\"", i);
		fmq_metrics_f64(out, "fluxmq_tls_handshake_seconds_total", lbl,
				(double)b->lc[i]->st.tls_hs_ns / 1e9);
	}
}
