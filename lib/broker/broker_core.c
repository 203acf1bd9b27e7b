/* SPDX-License-Identifier: Apache-2.0 */
/* Broker state, data lcore set-up and poll, the control channel, metrics. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "broker_priv.h"

struct fmq_broker *
fmq_broker_create(const struct fmq_config *cfg, struct fmq_log *log,
		  unsigned int n_lcores, const char *cluster_id, char *err,
		  size_t errlen)
{
	struct fmq_broker *b;
	struct fmq_listeners ls;
	const char *key;
	char msg[256];
	struct in_addr a;

	if (n_lcores == 0 || n_lcores > BROKER_MAX_LCORES) {
		snprintf(err, errlen, "broker: %u data lcores (1..%d)", n_lcores,
			 BROKER_MAX_LCORES);
		return NULL;
	}
	a.s_addr = cfg->net_ip.addr;
	if (fmq_listeners_parse(cfg->listeners,
				cfg->listener_security_protocol_map,
				cfg->advertised_listeners,
				cfg->controller_listener_names, inet_ntoa(a), &ls,
				&key, msg, sizeof(msg)) < 0) {
		fmq_config_error(cfg, key, err, errlen, "%s", msg);
		return NULL;
	}
	b = rte_zmalloc("fmq_broker", sizeof(*b), RTE_CACHE_LINE_SIZE);
	if (b == NULL) {
		snprintf(err, errlen, "broker: out of memory");
		return NULL;
	}
	b->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->wake_fd < 0) {
		snprintf(err, errlen, "broker: eventfd: %s", strerror(errno));
		rte_free(b);
		return NULL;
	}
	b->ls = ls;
	for (uint32_t i = 0; i < ls.n; i++)
		if (fmq_sec_proto_tls(ls.l[i].proto)) {
			/* Key, chain and CA are read now: a bad one stops
			 * start-up naming its key. */
			b->tls_ctx = fmq_tls_ctx_create(cfg, err, errlen);
			if (b->tls_ctx == NULL) {
				close(b->wake_fd);
				rte_free(b);
				return NULL;
			}
			break;
		}
	snprintf(b->adv_host, sizeof(b->adv_host), "%s", ls.l[0].adv_host);
	b->adv_port = ls.l[0].adv_port;
	b->log = log;
	b->n_lcores = n_lcores;
	b->node_id = (int32_t)cfg->node_id;
	snprintf(b->cluster_id, sizeof(b->cluster_id), "%s", cluster_id);
	b->max_request = (uint32_t)RTE_MIN(cfg->socket_request_max_bytes,
					   (uint64_t)INT32_MAX);
	b->max_conns = (uint32_t)cfg->broker_max_connections;
	b->slots = rte_align32pow2((uint32_t)cfg->broker_max_inflight);
	b->max_waiters = (uint32_t)cfg->broker_max_fetch_waiters;
	b->repl_backoff_ns = cfg->replica_fetch_backoff_ms * 1000000ull;
	b->repl_rto_max_ms = (uint32_t)cfg->replica_socket_rto_max_ms;
	b->repl_part_bytes = cfg->replica_fetch_max_bytes;
	b->repl_resp_bytes = cfg->replica_fetch_response_max_bytes;
	b->repl_wait_ms = cfg->replica_fetch_wait_max_ms;
	b->frames_per_poll = (uint32_t)cfg->broker_frames_per_poll;
	b->idle_ns = cfg->connections_max_idle_ms * 1000000ull;
	b->req_timeout_ns = cfg->broker_request_receive_timeout_ms * 1000000ull;
	b->max_per_ip = (uint32_t)cfg->max_connections_per_ip;
	b->arena_bytes = cfg->broker_arena_bytes;
	b->slab_bytes = cfg->broker_slab_bytes;
	b->auto_create = cfg->auto_create_topics_enable;
	b->qwin.num = (uint32_t)cfg->quota_window_num;
	b->qwin.size_ms = (int64_t)cfg->quota_window_size_seconds * 1000;
	b->quota_slots =
		rte_align32pow2((uint32_t)cfg->quota_entities_per_lcore);
	/* Kafka 3.8+ shares the slots out among its cache's shards. */
	b->fsess_slots = (uint32_t)((cfg->max_incremental_fetch_session_cache_slots +
				     n_lcores - 1) / RTE_MAX(n_lcores, 1u));
	if (broker_sasl_init(b, cfg, err, errlen) < 0) {
		broker_sasl_fini(b);
		close(b->wake_fd);
		rte_free(b);
		return NULL;
	}
	/* Cross-lcore partition work (one pool for every lcore). */
	b->xop_mp = rte_mempool_create("fmq_xop", 8191, sizeof(struct xop),
				       64, 0, NULL, NULL, NULL, NULL,
				       SOCKET_ID_ANY, 0);
	if (b->xop_mp == NULL) {
		snprintf(err, errlen, "broker: xop pool: %s",
			 rte_strerror(rte_errno));
		fmq_tls_ctx_put(b->tls_ctx);
		broker_sasl_fini(b);
		close(b->wake_fd);
		rte_free(b);
		return NULL;
	}
	fmq_broker_publish(b, fmq_bmeta_alloc(0));
	if (broker_meta_load(b) == NULL) {
		fmq_tls_ctx_put(b->tls_ctx);
		close(b->wake_fd);
		rte_free(b);
		snprintf(err, errlen, "broker: out of memory");
		return NULL;
	}
	return b;
}

void
fmq_broker_free(struct fmq_broker *b)
{
	if (b == NULL)
		return;
	while (b->old != NULL) {
		struct fmq_bmeta *m = b->old;
		b->old = m->next_old;
		fmq_bmeta_free(m);
	}
	fmq_bmeta_free(atomic_load(&b->meta));
	fmq_tls_ctx_put(b->tls_ctx);
	broker_sasl_fini(b);
	close(b->wake_fd);
	rte_free(b);
}

int
fmq_broker_ctrl_fd(const struct fmq_broker *b)
{
	return b->wake_fd;
}

int32_t
fmq_broker_node_id(const struct fmq_broker *b)
{
	return b->node_id;
}

const struct fmq_listener *
fmq_broker_listener(const struct fmq_broker *b, uint32_t idx)
{
	return &b->ls.l[idx < b->ls.n ? idx : 0];
}

const struct fmq_listeners *
fmq_broker_listeners(const struct fmq_broker *b)
{
	return &b->ls;
}

const char *
fmq_broker_cluster_id(const struct fmq_broker *b)
{
	return b->cluster_id;
}

void
fmq_broker_set_cluster_id(struct fmq_broker *b, const char *id)
{
	snprintf(b->cluster_id, sizeof(b->cluster_id), "%s", id);
}

static const struct fmq_tcp_callbacks kafka_cb = {
	.accepted = conn_accepted,
	.data = conn_data,
	.writable = conn_writable,
	.closed = conn_closed,
};

struct fmq_broker_lcore *
fmq_broker_lcore_create(struct fmq_broker *b, unsigned int idx,
			struct fmq_net *net, struct rte_mempool *mp, int socket,
			char *err, size_t errlen)
{
	struct fmq_broker_lcore *bl;
	char name[RTE_RING_NAMESIZE];
	void *arena;
	int rc;

	if (idx >= b->n_lcores) {
		snprintf(err, errlen, "broker: lcore index %u out of range", idx);
		return NULL;
	}
	if (socket == SOCKET_ID_ANY)
		socket = (int)rte_socket_id();
	bl = rte_zmalloc_socket("fmq_broker_lcore", sizeof(*bl),
				RTE_CACHE_LINE_SIZE, socket);
	if (bl == NULL)
		goto nomem;
	bl->bell.fd = -1;
	bl->b = b;
	bl->idx = idx;
	bl->net = net;
	bl->mp = mp;
	bl->nconns = b->max_conns;
	TAILQ_INIT(&bl->mem_waitq);
	TAILQ_INIT(&bl->muteq);
	/* The pool is shared by the data lcores: each may let unfinished
	 * requests hold half of its share, and one request an eighth of
	 * the pool (refused at its size prefix beyond). */
	bl->rx_conn_max = mp->size / 8;
	bl->rx_budget = RTE_MAX(mp->size / 2 / b->n_lcores, bl->rx_conn_max);
	bl->conns = rte_zmalloc_socket("fmq_kconn",
				       bl->nconns * sizeof(*bl->conns),
				       RTE_CACHE_LINE_SIZE, socket);
	bl->free_conns = rte_malloc_socket("fmq_kconn_free",
					   bl->nconns * sizeof(uint32_t), 0,
					   socket);
	arena = rte_malloc_socket("fmq_arena", b->arena_bytes, 64, socket);
	bl->segs = rte_malloc_socket("fmq_segs", BROKER_MAX_SEGS *
				     sizeof(*bl->segs), 64, socket);
	bl->seg_mbuf = rte_malloc_socket("fmq_segm", BROKER_MAX_SEGS *
					 sizeof(*bl->seg_mbuf), 64, socket);
	bl->seg_off = rte_malloc_socket("fmq_sego", BROKER_MAX_SEGS *
					sizeof(*bl->seg_off), 64, socket);
	bl->ranges = rte_malloc_socket("fmq_ranges", BROKER_MAX_RANGES *
				       sizeof(*bl->ranges), 64, socket);
	if (bl->conns == NULL || bl->free_conns == NULL || arena == NULL ||
	    bl->segs == NULL || bl->seg_mbuf == NULL || bl->seg_off == NULL ||
	    bl->ranges == NULL)
		goto nomem;
	fmq_kafka_arena_init(&bl->arena, arena, b->arena_bytes);
	if (slab_init(&bl->slab, b->slab_bytes, socket) < 0)
		goto nomem;
	void *qmem = rte_malloc_socket("fmq_quota", b->quota_slots *
				       sizeof(struct fmq_quota_rate), 64,
				       socket);
	if (qmem == NULL)
		goto nomem;
	fmq_quota_tbl_init(&bl->qtbl, qmem, b->quota_slots);
	if (broker_sasl_lcore_init(bl, socket) < 0 ||
	    fsess_lcore_init(bl, socket) < 0)
		goto nomem;
	rc = fmq_doorbell_init(&bl->bell);
	if (rc < 0) {
		snprintf(err, errlen, "broker: lcore %u: eventfd: %s", idx,
			 strerror(-rc));
		fmq_broker_lcore_free(bl);
		return NULL;
	}
	if (b->max_per_ip != 0) {
		struct rte_hash_parameters hp = {
			.entries = RTE_MAX(bl->nconns, 8u),
			.key_len = sizeof(uint32_t),
			.socket_id = socket,
			.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
		};

		snprintf(name, sizeof(name), "fmq_perip_%u", idx);
		hp.name = name;
		bl->per_ip = rte_hash_create(&hp);
		if (bl->per_ip == NULL)
			goto nomem;
	}
	for (uint32_t i = 0; i < bl->nconns; i++) {
		bl->conns[i].idx = i;
		bl->free_conns[i] = bl->nconns - 1 - i;
	}
	bl->nfree = bl->nconns;
	for (uint32_t i = 0; i < BROKER_API_MAX; i++)
		fmq_hist_init(&bl->st.lat[i]);
	bl->tsc_mhz = RTE_MAX(rte_get_tsc_hz() / 1000000, (uint64_t)1);

	/* Header mbufs for zero-copy fetch: no data room, the external
	 * buffer's shared info lives in the private area. */
	snprintf(name, sizeof(name), "fmq_ext_%u", idx);
	bl->ext_mp = rte_pktmbuf_pool_create(name, 16383, 256,
		RTE_ALIGN(sizeof(struct rte_mbuf_ext_shared_info), 8), 0, socket);
	snprintf(name, sizeof(name), "fmq_zsh_%u", idx);
	bl->zsh_mp = resp_zsh_pool_create(name, 16383, socket);
	snprintf(name, sizeof(name), "fmq_b2c_%u", idx);
	bl->to_ctrl = rte_ring_create(name, BROKER_RING_SIZE, socket,
				      RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "fmq_c2b_%u", idx);
	bl->from_ctrl = rte_ring_create(name, BROKER_RING_SIZE, socket,
					RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "fmq_xin_%u", idx);
	bl->xin = rte_ring_create(name, 8192, socket, RING_F_SC_DEQ);
	if (bl->ext_mp == NULL || bl->zsh_mp == NULL || bl->to_ctrl == NULL ||
	    bl->from_ctrl == NULL ||
	    bl->xin == NULL || tls_lcore_init(bl, socket) < 0 ||
	    repl_lcore_init(bl) < 0)
		goto nomem;
	for (uint32_t i = 0; i < b->ls.n; i++) {
		rc = fmq_tcp_listen(net, b->ls.l[i].port, &kafka_cb, bl);
		if (rc < 0) {
			snprintf(err, errlen, "broker: listener %s on port "
				 "%u: %s", b->ls.l[i].name, b->ls.l[i].port,
				 strerror(-rc));
			fmq_broker_lcore_free(bl);
			return NULL;
		}
	}
	b->lc[idx] = bl;
	bl->qver = b->version;
	atomic_store(&b->seen[idx].v, b->version);
	return bl;
nomem:
	snprintf(err, errlen, "broker: lcore %u: out of memory (%s)", idx,
		 rte_strerror(rte_errno));
	fmq_broker_lcore_free(bl);
	return NULL;
}

void
fmq_broker_lcore_free(struct fmq_broker_lcore *bl)
{
	struct fmq_bfwd *f;

	if (bl == NULL)
		return;
	fetch_free_waiters(bl);
	repl_lcore_fini(bl);
	if (bl->conns != NULL)
		for (uint32_t i = 0; i < bl->nconns; i++)
			if (bl->conns[i].live)
				conn_close(bl, &bl->conns[i], BROKER_CLOSE_CTRL);
	if (bl->from_ctrl != NULL)
		while (rte_ring_dequeue(bl->from_ctrl, (void **)&f) == 0)
			fmq_bfwd_free(f);
	while ((f = bl->txn_retry) != NULL) {
		bl->txn_retry = f->marker->retry_next;
		fmq_bfwd_free(f);
	}
	if (bl->to_ctrl != NULL)
		while (rte_ring_dequeue(bl->to_ctrl, (void **)&f) == 0)
			fmq_bfwd_free(f);
	if (bl->xin != NULL) {
		struct xop *op;
		while (rte_ring_dequeue(bl->xin, (void **)&op) == 0)
			rte_mempool_put(bl->b->xop_mp, op);
	}
	while (bl->xretry != NULL) {
		struct xop *op = bl->xretry;
		bl->xretry = op->next;
		xop_release(bl, op);
	}
	tls_lcore_fini(bl);
	if (bl->b != NULL && bl->b->lc[bl->idx] == bl)
		bl->b->lc[bl->idx] = NULL;
	rte_hash_free(bl->per_ip);
	rte_ring_free(bl->to_ctrl);
	rte_ring_free(bl->from_ctrl);
	rte_ring_free(bl->xin);
	fsess_lcore_fini(bl);
	slab_fini(&bl->slab);
	rte_free(bl->qtbl.r);
	fmq_doorbell_fini(&bl->bell);
	rte_free(bl->arena.base);
	rte_free(bl->segs);
	rte_free(bl->seg_mbuf);
	rte_free(bl->seg_off);
	rte_free(bl->ranges);
	broker_sasl_lcore_fini(bl);
	rte_free(bl->precheck);
	rte_free(bl->conns);
	rte_free(bl->free_conns);
	/* ext_mp and zsh_mp stay: in-flight zero-copy mbufs may still point
	 * into them until the port has sent them; rte_eal_cleanup releases
	 * them. */
	rte_free(bl);
}

/* Answers from the control lcore. */
static void
drain_ctrl(struct fmq_broker_lcore *bl)
{
	struct fmq_bfwd *fw[BROKER_FWD_BURST];
	unsigned int n = rte_ring_dequeue_burst(bl->from_ctrl, (void **)fw,
						BROKER_FWD_BURST, NULL);

	for (unsigned int i = 0; i < n; i++) {
		struct fmq_bfwd *f = fw[i];
		if (f->marker != NULL) {
			txn_marker(bl, f);
			continue;
		}
		struct kconn *k = conn_lookup(bl, f->conn, f->gen);
		if (k == NULL) {
			fmq_bfwd_free(f);
			continue;
		}
		if (f->close) {
			conn_close(bl, k, BROKER_CLOSE_CTRL);
		} else if (f->no_response || f->resp == NULL) {
			conn_complete(bl, k, f->slot, NULL);
		} else {
			struct rte_mbuf *m = resp_from_bytes(bl, f->resp,
							     f->resp_len);
			if (m == NULL)
				conn_close(bl, k, BROKER_CLOSE_NOMEM);
			else
				conn_complete(bl, k, f->slot, m);
		}
		fmq_bfwd_free(f);
	}
}

struct fmq_doorbell *
fmq_broker_lcore_doorbell(struct fmq_broker_lcore *bl)
{
	return &bl->bell;
}

bool
fmq_broker_lcore_pending(const struct fmq_broker_lcore *bl)
{
	return !rte_ring_empty(bl->xin) || !rte_ring_empty(bl->from_ctrl);
}

/* A new snapshot may carry altered topic configs: apply them to the
 * partitions this lcore owns, before any request of this poll (the
 * control lcore publishes before it answers the alter). */
static void
apply_log_configs(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m)
{
	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct fmq_btopic *t = &m->topics[i];

		if (!t->has_log_cfg)
			continue;
		for (uint32_t p = 0; p < t->nparts; p++) {
			const struct fmq_bpart *bp = &t->parts[p];

			if (bp->owner != bl->idx || bp->log == NULL)
				continue;
			if (fmq_log_part_set_config(bp->log, &t->log_cfg) < 0)
				FMQ_WARN("broker", "%s-%u: new settings refused "
					 "by the log; keeping the old ones",
					 t->name, p);
		}
	}
	bl->cfg_version = m->version;
}

void
fmq_broker_lcore_poll(struct fmq_broker_lcore *bl, uint64_t now_ns)
{
	struct fmq_broker *b = bl->b;
	const struct fmq_bmeta *m = broker_meta_load(b);

	bl->now_ns = now_ns;
	if (m->version != bl->cfg_version)
		apply_log_configs(bl, m);
	drain_ctrl(bl);
	if (bl->txn_retry != NULL)
		txn_retry(bl);
	xop_drain(bl);
	quota_poll(bl);
	conn_work(bl);
	conn_timers(bl);
	fetch_poll_waiters(bl);
	repl_poll(bl);
	xop_broadcast_appends(bl);
	/* Quiescent point: nothing of an older snapshot is held past here,
	 * but in xops still out (they hold it at their version). */
	bl->qver = broker_meta_load(b)->version;
	atomic_store_explicit(&b->seen[bl->idx].v,
			      xver_quiescent(bl, bl->qver),
			      memory_order_release);
}

bool
fmq_broker_lcore_busy(const struct fmq_broker_lcore *bl)
{
	/* The work list holds connections with something to do; those
	 * retrying an append are requeued every poll until the hot pool
	 * has room, which is no reason to spin. */
	for (const struct kconn *k = bl->work_head; k != NULL;
	     k = k->work_next)
		if (!k->retry)
			return true;
	return false;
}

unsigned int
fmq_broker_ctrl_dequeue(struct fmq_broker *b, struct fmq_bfwd **out,
			unsigned int n)
{
	unsigned int got = 0;

	for (unsigned int i = 0; i < b->n_lcores && got < n; i++) {
		if (b->lc[i] == NULL)
			continue;
		got += rte_ring_dequeue_burst(b->lc[i]->to_ctrl,
					      (void **)&out[got], n - got, NULL);
	}
	return got;
}

void
fmq_broker_ctrl_respond(struct fmq_broker *b, struct fmq_bfwd *f)
{
	struct fmq_broker_lcore *bl = f->lcore < b->n_lcores ? b->lc[f->lcore]
							      : NULL;

	if (bl == NULL) {
		fmq_bfwd_free(f);
		return;
	}
	/* The data lcore drains every poll, so a full ring is momentary;
	 * but at shutdown the data lcores are gone: give up after ~100 ms
	 * (the connection is being torn down anyway). */
	for (uint64_t t0 = rte_get_timer_cycles();
	     rte_ring_enqueue(bl->from_ctrl, f) != 0;) {
		b->ctrl_resp_retries++;
		if (rte_get_timer_cycles() - t0 > rte_get_timer_hz() / 10) {
			fmq_bfwd_free(f);
			return;
		}
		rte_pause();
	}
	fmq_doorbell_ring(&bl->bell);
}

int
fmq_bfwd_resp_alloc(struct fmq_bfwd *f, uint32_t len)
{
	f->resp = rte_malloc("fmq_fwd_resp", len ? len : 1, 0);
	if (f->resp == NULL)
		return -ENOMEM;
	f->resp_len = len;
	return 0;
}

void
fmq_bfwd_free(struct fmq_bfwd *f)
{
	if (f == NULL)
		return;
	rte_free(f->frame);
	rte_free(f->resp);
	rte_free(f->marker);
	rte_free(f);
}

/* ------------------------------------------------------------- metrics */

static const char *const close_names[] = {
#define X(n, h) #n,
	BROKER_CLOSE_REASONS(X)
#undef X
};

/* Latency of api over every data lcore into h; its count. */
static uint64_t
latency_merged(const struct fmq_broker *b, int api, struct fmq_hist *h)
{
	fmq_hist_init(h);
	for (unsigned int i = 0; i < b->n_lcores; i++)
		if (b->lc[i] != NULL)
			fmq_hist_merge(h, &b->lc[i]->st.lat[api]);
	return h->count;
}

/*
 * Request latency per API as a Prometheus histogram in seconds (Kafka's
 * and Redpanda's dashboards aggregate these across brokers and over any
 * window with histogram_quantile; the summary above cannot be).
 */
static void
metrics_latency_histogram(struct fmq_metrics_out *out,
			  const struct fmq_broker *b)
{
	static const double le[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
				     0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				     0.25, 0.5, 1, 2.5, 5, 10 };
	const char *name = "fluxmq_kafka_request_duration_seconds";
	char bname[96], lbl[128];
	struct fmq_hist *h = malloc(sizeof(*h));

	if (h == NULL)
		return;
	fmq_metrics_family(out, name, "histogram",
			   "Request latency from frame parsed to response "
			   "queued, by API");
	for (int api = 0; api < BROKER_API_MAX; api++) {
		const struct fmq_kafka_api_info *ai =
			fmq_kafka_api_find((int16_t)api);

		if (ai == NULL || latency_merged(b, api, h) == 0)
			continue;
		snprintf(bname, sizeof(bname), "%s_bucket", name);
		for (unsigned int i = 0; i < RTE_DIM(le); i++) {
			snprintf(lbl, sizeof(lbl), "api=\"%s\",le=\"%g\"",
				 ai->name, le[i]);
			fmq_metrics_u64(out, bname, lbl, fmq_hist_count_le(h,
					(uint64_t)(le[i] * 1e9)));
		}
		snprintf(lbl, sizeof(lbl), "api=\"%s\",le=\"+Inf\"",
			 ai->name);
		fmq_metrics_u64(out, bname, lbl, h->count);
		snprintf(lbl, sizeof(lbl), "api=\"%s\"", ai->name);
		snprintf(bname, sizeof(bname), "%s_sum", name);
		fmq_metrics_f64(out, bname, lbl, (double)h->sum / 1e9);
		snprintf(bname, sizeof(bname), "%s_count", name);
		fmq_metrics_u64(out, bname, lbl, h->count);
	}
	free(h);
}

void
fmq_broker_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct fmq_broker *b = arg;
	char lbl[160];

#define SUM(field) ({ uint64_t s_ = 0; \
	for (unsigned int i_ = 0; i_ < b->n_lcores; i_++) \
		if (b->lc[i_] != NULL) s_ += b->lc[i_]->st.field; \
	s_; })

	{
		static const struct fmq_metric_def defs[] = {
#define X(member, type, name, help) \
	FMQ_METRIC_DEF(struct fmq_broker_lcore, member, type, name, help),
#include "broker_metrics.def"
#undef X
		};
		const void *lcs[RTE_MAX_LCORE];
		unsigned int n = RTE_MIN(b->n_lcores, (unsigned int)RTE_MAX_LCORE);

		for (unsigned int i = 0; i < n; i++)
			lcs[i] = b->lc[i];
		fmq_metrics_table_each(out, defs, RTE_DIM(defs), lcs, n,
				       "lcore");
	}
	fmq_metrics_one(out, "fluxmq_kafka_connections_active", "gauge",
			"Kafka client connections open now",
			SUM(conns_opened) - SUM(conns_closed));
	static const char *const qkeys[] = { "producer_byte_rate",
		"consumer_byte_rate", "request_percentage" };
	fmq_metrics_family(out, "fluxmq_quota_throttled_requests_total",
			   "counter", "Requests throttled by a client quota, by "
			   "quota key");
	for (int q = 0; q < 3; q++) {
		snprintf(lbl, sizeof(lbl), "quota=\"%s\"", qkeys[q]);
		fmq_metrics_u64(out, "fluxmq_quota_throttled_requests_total",
				lbl, SUM(quota_throttled[q]));
	}
	fmq_metrics_family(out, "fluxmq_quota_throttle_time_ms_total",
			   "counter", "Throttle time handed out (connections "
			   "muted), by quota key, milliseconds");
	for (int q = 0; q < 3; q++) {
		snprintf(lbl, sizeof(lbl), "quota=\"%s\"", qkeys[q]);
		fmq_metrics_u64(out, "fluxmq_quota_throttle_time_ms_total",
				lbl, SUM(quota_throttle_ms[q]));
	}
	{
		struct fmq_acl_stats acl;

		memset(&acl, 0, sizeof(acl));
		for (unsigned int i = 0; i < b->n_lcores; i++)
			for (int op = 0; b->lc[i] != NULL &&
			     op < FMQ_ACL_OP_MAX; op++) {
				acl.allowed[op] += b->lc[i]->st.acl.allowed[op];
				acl.denied[op] += b->lc[i]->st.acl.denied[op];
			}
		fmq_acl_stats_render(out, "fluxmq_acl_decisions_total",
				     "Authorization decisions on the data "
				     "lcores, by operation and result", &acl);
	}


	fmq_metrics_family(out, "fluxmq_kafka_connection_closes_total",
			   "counter", "Connections closed by the broker, by reason");
	for (int r = 0; r < BROKER_CLOSE_MAX; r++) {
		snprintf(lbl, sizeof(lbl), "reason=\"%s\"", close_names[r]);
		fmq_metrics_u64(out, "fluxmq_kafka_connection_closes_total",
				lbl, SUM(close_reason[r]));
	}
	broker_sasl_metrics(out, b);

	fmq_metrics_family(out, "fluxmq_kafka_requests_total", "counter",
			   "Requests by API and version");
	for (int api = 0; api < BROKER_API_MAX; api++) {
		const struct fmq_kafka_api_info *ai = fmq_kafka_api_find((int16_t)api);
		if (ai == NULL)
			continue;
		for (int v = 0; v < BROKER_VER_MAX; v++) {
			uint64_t n = SUM(req[api][v]);
			if (n == 0)
				continue;
			snprintf(lbl, sizeof(lbl), "api=\"%s\",version=\"%d\"",
				 ai->name, v);
			fmq_metrics_u64(out, "fluxmq_kafka_requests_total", lbl, n);
		}
	}
	fmq_metrics_family(out, "fluxmq_kafka_errors_total", "counter",
			   "Error codes returned, by Kafka error name");
	for (int e = BROKER_ERR_MIN; e <= BROKER_ERR_MAX; e++) {
		uint64_t n = SUM(err[e - BROKER_ERR_MIN]);
		if (n == 0)
			continue;
		snprintf(lbl, sizeof(lbl), "error=\"%s\"",
			 fmq_kafka_err_name((int16_t)e));
		fmq_metrics_u64(out, "fluxmq_kafka_errors_total", lbl, n);
	}
	fmq_metrics_family(out, "fluxmq_kafka_request_latency_us", "summary",
			   "Request latency from frame parsed to response queued, microseconds");
	for (int api = 0; api < BROKER_API_MAX; api++) {
		const struct fmq_kafka_api_info *ai = fmq_kafka_api_find((int16_t)api);
		struct fmq_hist *h;
		static const double qs[] = { 0.5, 0.99, 0.999 };
		if (ai == NULL)
			continue;
		h = malloc(sizeof(*h));
		if (h == NULL)
			return;
		if (latency_merged(b, api, h) == 0) {
			free(h);
			continue;
		}
		for (int q = 0; q < 3; q++) {
			snprintf(lbl, sizeof(lbl), "api=\"%s\",quantile=\"%g\"",
				 ai->name, qs[q]);
			fmq_metrics_f64(out, "fluxmq_kafka_request_latency_us", lbl,
					(double)fmq_hist_quantile(h, qs[q]) / 1000.0);
		}
		snprintf(lbl, sizeof(lbl), "api=\"%s\"", ai->name);
		fmq_metrics_f64(out, "fluxmq_kafka_request_latency_us_sum", lbl,
				(double)h->sum / 1000.0);
		fmq_metrics_u64(out, "fluxmq_kafka_request_latency_us_count", lbl,
				h->count);
		free(h);
	}
	metrics_latency_histogram(out, b);
	fmq_metrics_one(out, "fluxmq_kafka_metadata_version", "gauge",
			"Version of the topic metadata snapshot in use",
			b->version);
	tls_metrics(out, b);
	repl_metrics(out, b);
	rthr_metrics(out, b);
#undef SUM
}
