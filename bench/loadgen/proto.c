/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kafka client side of fluxmq-bench, over any transport: set-up
 * (ApiVersions, CreateTopics, Metadata, ListOffsets), the workloads
 * (closed-loop and open-loop produce, fetch, both at once, TCP echo), the
 * measurement phases, and verification (every acknowledged batch is
 * fetched back and compared byte for byte with what was sent).
 *
 * Responses on a connection come back in request order (Kafka guarantees
 * it), so each connection keeps a FIFO of what it has in flight; the head
 * must carry the response's correlation id.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

#define CLIENT_ID "fluxmq-bench"
#define RPC_TIMEOUT_NS (15ull * 1000000000ull)
#define DRAIN_TIMEOUT_NS (15ull * 1000000000ull)
#define IDLE_WAIT_NS 1000000ull
#define TAIL_WAIT_MS 20
#define QMASK (BENCH_MAX_INFLIGHT - 1)

static inline uint32_t
q_count(const struct bconn *c)
{
	return c->qt - c->qh;
}

static inline bool
measuring(const struct bench *b)
{
	return b->phase == PH_MEASURE;
}

/* Latency counts for requests sent (or scheduled) inside the window. */
static inline void
lat_record_h(struct bench *b, struct fmq_hist *h, uint64_t t0, uint64_t now)
{
	if (b->phase >= PH_MEASURE && t0 >= b->t_measure &&
	    (b->t_end == 0 || t0 < b->t_end))
		fmq_hist_record(h, now > t0 ? now - t0 : 0);
}

static inline void
lat_record(struct bench *b, struct side *s, uint64_t t0, uint64_t now)
{
	lat_record_h(b, &s->lat, t0, now);
}

static void
kafka_error(struct bench *b, int16_t code)
{
	if (b->kafka_errors++ == 0) {
		b->first_kerr = code;
		fprintf(stderr, "fluxmq-bench: broker error %d (%s)\n", code,
			fmq_kafka_err_name(code));
	}
}

static void
proto_error(struct bench *b, struct bconn *c, const char *what, int rc)
{
	if (b->proto_errors++ < 5)
		fprintf(stderr, "fluxmq-bench: connection %u: %s (%s)\n",
			c->idx, what, strerror(-rc));
}

/* ------------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------- */

/* Encode a (small) request into scratch and queue it. */
static int
send_small(struct bench *b, struct bconn *c, int16_t api, int16_t ver,
	   const void *body, uint8_t kind, struct inflight **out)
{
	struct fmq_kafka_piece pc[4];
	struct fmq_kafka_writer w;
	struct inflight *e;
	struct req_out r;
	int32_t corr;
	int rc;

	if (q_count(c) >= BENCH_MAX_INFLIGHT || !c->up || c->closed)
		return -EBUSY;
	corr = c->next_corr++;
	fmq_kafka_wr_init(&w, b->scratch, 1 << 20, pc, 4);
	rc = fmq_kafka_write_request(&w, api, ver, corr,
				     FMQ_KAFKA_STR_LIT(CLIENT_ID), body);
	if (rc == 0)
		rc = fmq_kafka_wr_finish(&w);
	if (rc != 1)
		return rc < 0 ? rc : -EINVAL;
	memset(&r, 0, sizeof(r));
	r.hdr = pc[0].p;
	r.hdr_len = pc[0].len;
	rc = b->x->send(b, c, &r);
	if (rc < 0)
		return rc;
	e = &c->q[c->qt++ & QMASK];
	memset(e, 0, sizeof(*e));
	e->corr = corr;
	e->kind = kind;
	e->api = api;
	e->ver = ver;
	e->t0 = fmq_now_ns();
	*out = e;
	return 0;
}

struct rpc_wait {
	bool done;
	int rc;
	rpc_fn fn;
	void *arg;
};

/* Send a request and poll until its response was handled by fn. */
static int
rpc(struct bench *b, struct bconn *c, int16_t api, int16_t ver,
    const void *body, rpc_fn fn, void *arg)
{
	struct rpc_wait w = { false, 0, fn, arg };
	struct inflight *e;
	uint64_t deadline = fmq_now_ns() + RPC_TIMEOUT_NS;
	int rc;

	/* Out of mbufs (a run that queued a lot of small acks=0 requests):
	 * they come back as the broker acknowledges, so wait for them. */
	while ((rc = send_small(b, c, api, ver, body, RK_RPC, &e)) == -ENOBUFS &&
	       fmq_now_ns() < deadline && !b->stop)
		b->x->poll(b, IDLE_WAIT_NS);
	if (rc < 0)
		return rc;
	e->arg = &w;
	while (!w.done && !c->closed && fmq_now_ns() < deadline && !b->stop)
		b->x->poll(b, IDLE_WAIT_NS);
	if (!w.done)
		return c->closed ? -ECONNRESET : -ETIMEDOUT;
	return w.rc;
}

static int
send_produce(struct bench *b, struct bconn *c, uint64_t t0)
{
	uint32_t tpi = c->tps[c->next_tp];
	unsigned int t = b->tmpl_rr;
	const struct prefix *p = &b->prefixes[tpi * b->ntmpl + t];
	uint8_t hdr[sizeof(p->b)];
	struct req_out r;
	int32_t corr = c->next_corr;
	int rc;

	memcpy(hdr, p->b, p->len);
	wr_be32(hdr + 8, (uint32_t)corr);
	r.hdr = hdr;
	r.hdr_len = p->len;
	r.ref = &b->tmpl[t];
	r.tail = p->tail;
	r.tail_len = p->tail_len;
	rc = b->x->send(b, c, &r);
	if (rc < 0)
		return rc;
	c->next_corr++;
	c->next_tp = c->next_tp + 1 == c->ntps ? 0 : c->next_tp + 1;
	b->tmpl_rr = t + 1 == b->ntmpl ? 0 : t + 1;
	b->prod_sent_msgs += b->o.batch;
	b->tps[tpi].sent_msgs += b->o.batch;
	if (b->o.acks == 0) {
		/* No response will come: what left is what counts. */
		b->all_msgs += b->o.batch;
		if (measuring(b)) {
			b->prod.msgs += b->o.batch;
			b->prod.bytes += b->batch_payload;
			b->prod.reqs++;
		}
		return 0;
	}
	struct inflight *e = &c->q[c->qt++ & QMASK];
	e->corr = corr;
	e->kind = RK_PRODUCE;
	e->tmpl = (uint16_t)t;
	e->api = FMQ_KAFKA_API_PRODUCE;
	e->ver = b->v_produce;
	e->tp = tpi;
	e->nmsg = b->o.batch;
	e->t0 = t0;
	return 0;
}

/* One Fetch request for every partition the connection reads. */
static int
send_fetch(struct bench *b, struct bconn *c, bool tail)
{
	static struct fmq_kafka_fetch_req_fetch_topic topics[BENCH_MAX_TPS];
	static struct fmq_kafka_fetch_req_fetch_partition parts[BENCH_MAX_TPS];
	struct fmq_kafka_fetch_req req;
	struct inflight *e;
	int nt = -1, np = 0, rc;

	fmq_kafka_fetch_req_init(&req);
	req.replica_id = -1;
	req.max_wait_ms = tail ? TAIL_WAIT_MS : 0;
	req.min_bytes = 1;
	req.max_bytes = INT32_MAX;
	req.isolation_level = 0;
	req.session_id = 0;
	req.session_epoch = -1;
	for (uint32_t i = 0; i < c->nftps; i++) {
		struct tp *tp = &b->tps[c->ftps[i]];
		struct fmq_kafka_fetch_req_fetch_partition *fp = &parts[np++];

		if (nt < 0 || strcmp(tp->topic, topics[nt].topic.p) != 0) {
			nt++;
			memset(&topics[nt], 0, sizeof(topics[nt]));
			topics[nt].topic = fmq_kafka_str(tp->topic);
			topics[nt].partitions = fp;
		}
		memset(fp, 0, sizeof(*fp));
		fp->partition = tp->partition;
		fp->current_leader_epoch = -1;
		fp->fetch_offset = tp->fetch_next;
		fp->last_fetched_epoch = -1;
		fp->log_start_offset = -1;
		fp->partition_max_bytes = (int32_t)b->o.fetch_max_bytes;
		topics[nt].partitions_count++;
	}
	req.topics = topics;
	req.topics_count = nt + 1;
	req.forgotten_topics_data_count = 0;
	req.rack_id = FMQ_KAFKA_STR_LIT("");
	rc = send_small(b, c, FMQ_KAFKA_API_FETCH, b->v_fetch, &req, RK_FETCH,
			&e);
	if (rc < 0)
		return rc;
	c->fetch_busy = true;
	return 0;
}

/* ------------------------------------------------------------------------
 * Receiving
 * ---------------------------------------------------------------------- */

static void
on_produce(struct bench *b, struct bconn *c, const struct inflight *e,
	   const struct fmq_kafka_produce_resp *r, uint64_t now)
{
	const struct fmq_kafka_produce_resp_partition_produce_response *pr;
	struct tp *tp = &b->tps[e->tp];

	if (r->responses_count != 1 ||
	    r->responses[0].partition_responses_count != 1) {
		proto_error(b, c, "produce response shape", -EBADMSG);
		return;
	}
	pr = &r->responses[0].partition_responses[0];
	if (pr->error_code != 0) {
		kafka_error(b, pr->error_code);
		if (measuring(b))
			b->prod.errors++;
		return;
	}
	if (b->o.verify) {
		if (tp->nacks == tp->cap_acks) {
			size_t cap = tp->cap_acks ? tp->cap_acks * 2 : 4096;
			struct ack *a = realloc(tp->acks, cap * sizeof(*a));

			if (a == NULL) {
				proto_error(b, c, "verification memory", -ENOMEM);
				return;
			}
			tp->acks = a;
			tp->cap_acks = cap;
		}
		tp->acks[tp->nacks].base = pr->base_offset;
		tp->acks[tp->nacks].tmpl = e->tmpl;
		tp->nacks++;
	}
	if (tp->e2e != NULL && pr->base_offset >= 0) {
		struct e2e_slot *s = &tp->e2e[(uint64_t)(pr->base_offset /
			b->o.batch) % E2E_RING];

		s->base = pr->base_offset;
		s->t0 = e->t0;
	}
	b->all_msgs += e->nmsg;
	if (measuring(b)) {
		b->prod.msgs += e->nmsg;
		b->prod.bytes += (uint64_t)e->nmsg * b->o.msg_size;
		b->prod.reqs++;
	}
	lat_record(b, &b->prod, e->t0, now);
}

static struct tp *
find_tp(struct bench *b, const uint32_t *list, uint32_t n,
	struct fmq_kafka_str topic, int32_t part)
{
	for (uint32_t i = 0; i < n; i++) {
		struct tp *tp = &b->tps[list[i]];

		if (tp->partition == part && fmq_kafka_str_eq(topic, tp->topic))
			return tp;
	}
	return NULL;
}

/* A batch first seen by a fetch: its end-to-end latency, if its send is
 * remembered (acknowledged, and not overwritten in the ring). A batch
 * read before its produce was acknowledged is not counted: the ack path
 * records the send after it. */
static void
e2e_record(struct bench *b, struct tp *tp, int64_t base, uint64_t now)
{
	struct e2e_slot *s = &tp->e2e[(uint64_t)(base / b->o.batch) %
				      E2E_RING];

	if (s->base != base)
		return;
	s->base = -1;
	lat_record_h(b, &b->e2e, s->t0, now);
}

static void
on_fetch(struct bench *b, struct bconn *c, const struct inflight *e,
	 const struct fmq_kafka_fetch_resp *r, uint64_t now)
{
	uint64_t msgs = 0;

	c->fetch_busy = false;
	if (r->error_code != 0) {
		kafka_error(b, r->error_code);
		return;
	}
	for (int32_t i = 0; i < r->responses_count; i++) {
		const struct fmq_kafka_fetch_resp_fetchable_topic_response *t =
			&r->responses[i];

		for (int32_t j = 0; j < t->partitions_count; j++) {
			const struct fmq_kafka_fetch_resp_partition_data *pd =
				&t->partitions[j];
			struct tp *tp = find_tp(b, c->ftps, c->nftps, t->topic,
						pd->partition_index);
			struct batch_cursor bc;
			uint8_t hdr[61];
			int64_t len;

			if (tp == NULL) {
				proto_error(b, c, "fetch response for a "
					    "partition not asked for", -EBADMSG);
				continue;
			}
			if (pd->error_code == FMQ_KERR_OFFSET_OUT_OF_RANGE &&
			    tp->fetch_end < 0) {
				/* A tailing reader overtaken by retention (a
				 * peer with a bounded log) starts again at the
				 * log start, as auto.offset.reset=earliest
				 * would; counted, not an error. */
				b->fetch_resets++;
				if (pd->log_start_offset > tp->fetch_next)
					tp->fetch_next = pd->log_start_offset;
				else if (pd->high_watermark > tp->fetch_next)
					tp->fetch_next = pd->high_watermark;
				continue;
			}
			if (pd->error_code != 0) {
				kafka_error(b, pd->error_code);
				continue;
			}
			tp->hwm = pd->high_watermark;
			batch_cursor_init(&bc, &pd->records);
			while ((len = batch_cursor_next(&bc, hdr)) > 0) {
				int64_t base = (int64_t)rd_be64(hdr);
				int64_t last = base + (int32_t)rd_be32(hdr + 23);

				if (last >= tp->fetch_next) {
					int64_t from = base > tp->fetch_next ?
						base : tp->fetch_next;
					msgs += (uint64_t)(last - from + 1);
					tp->fetch_next = last + 1;
					if (tp->e2e != NULL)
						e2e_record(b, tp, base, now);
				}
				batch_cursor_skip(&bc, (uint64_t)len);
			}
			if (len < 0)
				proto_error(b, c, "malformed batch in fetch",
					    (int)len);
			/* The fetch workload re-reads the preloaded range. */
			if (tp->fetch_end >= 0 && tp->fetch_next >= tp->fetch_end)
				tp->fetch_next = tp->fetch_start;
		}
	}
	b->all_fmsgs += msgs;
	if (measuring(b)) {
		b->fetch.msgs += msgs;
		b->fetch.bytes += msgs * b->o.msg_size;
		b->fetch.reqs++;
	}
	if (msgs > 0)
		lat_record(b, &b->fetch, e->t0, now);
}

void
proto_on_frame(struct bench *b, struct bconn *c,
	       const struct fmq_kafka_seg *segs, uint32_t nseg, uint32_t len)
{
	union fmq_kafka_response resp;
	struct fmq_kafka_reader r;
	struct inflight e;
	int32_t corr = -1;
	uint64_t now = fmq_now_ns();
	int rc;

	if (len >= 4 && nseg > 0) {
		uint8_t cb[4];
		struct fmq_kafka_reader pr;

		if (fmq_kafka_rd_init(&pr, segs, nseg, 0, 4) == 0 &&
		    fmq_kafka_rd_raw(&pr, cb, 4) == 0)
			corr = (int32_t)rd_be32(cb);
	}
	if (q_count(c) == 0 || c->q[c->qh & QMASK].corr != corr) {
		/* Kafka sends nothing back for acks=0, but some brokers
		 * (librdkafka's mock) do: skip those answers. */
		if (b->o.acks == 0 && corr >= 0 && corr < c->next_corr &&
		    (q_count(c) == 0 || corr < c->q[c->qh & QMASK].corr)) {
			b->acks0_responses++;
			return;
		}
		proto_error(b, c, q_count(c) == 0 ?
			    "response with no request in flight" :
			    "correlation id out of order", -EPROTO);
		return;
	}
	corr = -1;
	e = c->q[c->qh++ & QMASK];
	fmq_kafka_arena_reset(&b->arena);
	rc = fmq_kafka_rd_init(&r, segs, nseg, 0, len);
	if (rc == 0)
		rc = fmq_kafka_read_response(&r, e.api, e.ver, &b->arena, &corr,
					     &resp);
	if (rc == 0 && corr != e.corr)
		rc = -EPROTO;
	if (rc < 0) {
		proto_error(b, c, corr != e.corr && corr != -1 ?
			    "correlation id out of order" :
			    "undecodable response", rc);
		if (e.kind == RK_RPC) {
			struct rpc_wait *w = e.arg;
			w->rc = rc;
			w->done = true;
		}
		if (e.kind == RK_FETCH)
			c->fetch_busy = false;
		return;
	}
	switch (e.kind) {
	case RK_PRODUCE:
		on_produce(b, c, &e, &resp.produce, now);
		break;
	case RK_FETCH:
		on_fetch(b, c, &e, &resp.fetch, now);
		break;
	case RK_RPC: {
		struct rpc_wait *w = e.arg;
		w->rc = w->fn(b, c, &resp, w->arg);
		w->done = true;
		break;
	}
	default:
		break;
	}
}

void
proto_on_echo(struct bench *b, struct bconn *c, uint64_t bytes)
{
	uint64_t now = fmq_now_ns();

	c->echo_rcvd += bytes;
	while (q_count(c) > 0) {
		struct inflight *e = &c->q[c->qh & QMASK];

		if (c->echo_rcvd < e->end)
			break;
		c->qh++;
		b->all_msgs++;
		if (measuring(b)) {
			b->prod.msgs++;
			b->prod.bytes += b->o.echo_size;
			b->prod.reqs++;
		}
		lat_record(b, &b->prod, e->t0, now);
	}
}

static int
send_echo(struct bench *b, struct bconn *c, uint64_t t0)
{
	struct req_out r = { .ref = &b->echo_tmpl };
	struct inflight *e;
	int rc = b->x->send(b, c, &r);

	if (rc < 0)
		return rc;
	c->echo_sent += b->o.echo_size;
	e = &c->q[c->qt++ & QMASK];
	e->kind = RK_ECHO;
	e->end = c->echo_sent;
	e->t0 = t0;
	return 0;
}

/* ------------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------- */

int
proto_connect_all(struct bench *b)
{
	uint64_t deadline;
	unsigned int up;

	for (unsigned int i = 0; i < b->nconns; i++) {
		int rc = b->x->connect(b, &b->conns[i]);
		if (rc < 0) {
			fprintf(stderr, "fluxmq-bench: connect %u: %s\n", i,
				strerror(-rc));
			return rc;
		}
	}
	deadline = fmq_now_ns() + (uint64_t)(b->o.connect_timeout_s * 1e9);
	do {
		b->x->poll(b, IDLE_WAIT_NS);
		up = 0;
		for (unsigned int i = 0; i < b->nconns; i++) {
			if (b->conns[i].closed) {
				fprintf(stderr, "fluxmq-bench: connection %u "
					"failed: %s\n", i,
					strerror(-b->conns[i].close_reason));
				return -ECONNREFUSED;
			}
			up += b->conns[i].up;
		}
	} while (up < b->nconns && fmq_now_ns() < deadline && !b->stop);
	if (up < b->nconns) {
		fprintf(stderr, "fluxmq-bench: %u of %u connections up after "
			"%.0f s\n", up, b->nconns, b->o.connect_timeout_s);
		return -ETIMEDOUT;
	}
	return 0;
}

void
proto_close_all(struct bench *b)
{
	uint64_t deadline = fmq_now_ns() + 3000000000ull;
	bool open;

	for (unsigned int i = 0; i < b->nconns; i++)
		if (b->conns[i].up && !b->conns[i].closed)
			b->x->close(b, &b->conns[i]);
	do {
		b->x->poll(b, IDLE_WAIT_NS);
		open = false;
		for (unsigned int i = 0; i < b->nconns; i++)
			open |= b->conns[i].up && !b->conns[i].closed;
	} while (open && fmq_now_ns() < deadline);
}

static int16_t
pick_version(const struct fmq_kafka_api_versions_resp *r, int16_t key,
	     int16_t lo, int16_t hi)
{
	const struct fmq_kafka_api_info *ours = fmq_kafka_api_find(key);

	if (ours == NULL)
		return -1;
	for (int32_t i = 0; i < r->api_keys_count; i++) {
		const struct fmq_kafka_api_versions_resp_api_version *v =
			&r->api_keys[i];

		if (v->api_key != key)
			continue;
		if (lo < ours->min_version)
			lo = ours->min_version;
		if (lo < v->min_version)
			lo = v->min_version;
		if (hi > ours->max_version)
			hi = ours->max_version;
		if (hi > v->max_version)
			hi = v->max_version;
		return hi >= lo ? hi : -1;
	}
	return -1;
}

static int
on_api_versions(struct bench *b, struct bconn *c, void *resp, void *arg)
{
	const struct fmq_kafka_api_versions_resp *r = resp;
	int16_t pv = b->o.produce_ver, fv = b->o.fetch_ver;

	(void)c;
	(void)arg;
	if (r->error_code != 0) {
		fprintf(stderr, "fluxmq-bench: ApiVersions: %s\n",
			fmq_kafka_err_name(r->error_code));
		return -EPROTO;
	}
	b->v_produce = pick_version(r, FMQ_KAFKA_API_PRODUCE,
				    pv >= 0 ? pv : 3, pv >= 0 ? pv : 9);
	b->v_fetch = pick_version(r, FMQ_KAFKA_API_FETCH,
				  fv >= 0 ? fv : 4, fv >= 0 ? fv : 12);
	b->v_metadata = pick_version(r, FMQ_KAFKA_API_METADATA, 1, 12);
	/* v1-3 carry all we need; librdkafka 2.0.2's mock cluster writes
	 * the v4+ LeaderEpoch as 8 bytes, which shifts every partition after
	 * the first. */
	b->v_list = pick_version(r, FMQ_KAFKA_API_LIST_OFFSETS, 1, 3);
	b->v_create = pick_version(r, FMQ_KAFKA_API_CREATE_TOPICS, 0, 7);
	b->has_create = b->v_create >= 0;
	if (b->v_produce < 0 || b->v_fetch < 0 || b->v_metadata < 0 ||
	    b->v_list < 0) {
		fprintf(stderr, "fluxmq-bench: the broker lacks a version we "
			"speak (produce %d fetch %d metadata %d list_offsets "
			"%d)\n", b->v_produce, b->v_fetch, b->v_metadata,
			b->v_list);
		return -ENOTSUP;
	}
	return 0;
}

static int
on_create_topics(struct bench *b, struct bconn *c, void *resp, void *arg)
{
	const struct fmq_kafka_create_topics_resp *r = resp;

	(void)b;
	(void)c;
	(void)arg;
	for (int32_t i = 0; i < r->topics_count; i++) {
		int16_t ec = r->topics[i].error_code;

		if (ec != 0 && ec != FMQ_KERR_TOPIC_ALREADY_EXISTS) {
			fprintf(stderr, "fluxmq-bench: CreateTopics %.*s: %s\n",
				r->topics[i].name.len, r->topics[i].name.p,
				fmq_kafka_err_name(ec));
			return -EPROTO;
		}
	}
	return 0;
}

struct md_state {
	unsigned int ready;
	int32_t leader;
	bool multi;
	int16_t err;
};

static int
on_metadata(struct bench *b, struct bconn *c, void *resp, void *arg)
{
	const struct fmq_kafka_metadata_resp *r = resp;
	struct md_state *st = arg;

	(void)c;
	st->ready = 0;
	for (int32_t i = 0; i < r->topics_count; i++) {
		const struct fmq_kafka_metadata_resp_metadata_response_topic *t =
			&r->topics[i];

		if (t->error_code != 0) {
			st->err = t->error_code;
			continue;
		}
		for (int32_t j = 0; j < t->partitions_count; j++) {
			const struct fmq_kafka_metadata_resp_metadata_response_partition *p =
				&t->partitions[j];

			if (p->error_code != 0 || p->leader_id < 0) {
				st->err = p->error_code;
				continue;
			}
			for (unsigned int k = 0; k < b->ntps; k++)
				if (b->tps[k].partition == p->partition_index &&
				    fmq_kafka_str_eq(t->name, b->tps[k].topic)) {
					st->ready++;
					if (st->leader >= 0 &&
					    st->leader != p->leader_id)
						st->multi = true;
					st->leader = p->leader_id;
				}
		}
	}
	return 0;
}

enum lo_what { LO_START, LO_END, LO_FIRST };

struct lo_state {
	enum lo_what what;
};

static int
on_list_offsets(struct bench *b, struct bconn *c, void *resp, void *arg)
{
	const struct fmq_kafka_list_offsets_resp *r = resp;
	const struct lo_state *st = arg;

	(void)c;
	for (int32_t i = 0; i < r->topics_count; i++)
		for (int32_t j = 0; j < r->topics[i].partitions_count; j++) {
			const struct fmq_kafka_list_offsets_resp_list_offsets_partition_response *p =
				&r->topics[i].partitions[j];


			if (p->error_code != 0) {
				kafka_error(b, p->error_code);
				return -EPROTO;
			}
			for (unsigned int k = 0; k < b->ntps; k++)
				if (b->tps[k].partition == p->partition_index &&
				    fmq_kafka_str_eq(r->topics[i].name,
						     b->tps[k].topic)) {
					if (st->what == LO_END)
						b->tps[k].off_end = p->offset;
					else if (st->what == LO_START)
						b->tps[k].off_start = p->offset;
					else
						b->tps[k].off_first = p->offset;
				}
		}
	return 0;
}

/* ListOffsets for every partition: latest into off_start or off_end,
 * earliest into off_first. */
static int
list_offsets(struct bench *b, enum lo_what what)
{
	struct fmq_kafka_list_offsets_req req;
	struct fmq_kafka_list_offsets_req_list_offsets_topic *t;
	struct fmq_kafka_list_offsets_req_list_offsets_partition *p;
	struct lo_state st = { what };
	int nt = -1, rc;

	t = calloc(b->ntps, sizeof(*t));
	p = calloc(b->ntps, sizeof(*p));
	if (t == NULL || p == NULL) {
		free(t);
		free(p);
		return -ENOMEM;
	}
	fmq_kafka_list_offsets_req_init(&req);
	req.replica_id = -1;
	for (unsigned int i = 0; i < b->ntps; i++) {
		if (nt < 0 || strcmp(b->tps[i].topic, t[nt].name.p) != 0) {
			nt++;
			t[nt].name = fmq_kafka_str(b->tps[i].topic);
			t[nt].partitions = &p[i];
		}
		p[i].partition_index = b->tps[i].partition;
		p[i].current_leader_epoch = -1;
		p[i].timestamp = what == LO_FIRST ? -2 : -1;
		t[nt].partitions_count++;
	}
	req.topics = t;
	req.topics_count = nt + 1;
	rc = rpc(b, &b->conns[0], FMQ_KAFKA_API_LIST_OFFSETS, b->v_list, &req,
		 on_list_offsets, &st);
	free(t);
	free(p);
	return rc;
}

/* Encode the bytes around the batch once per (partition, template). */
static int
build_prefixes(struct bench *b)
{
	b->prefixes = calloc((size_t)b->ntps * b->ntmpl, sizeof(*b->prefixes));
	if (b->prefixes == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < b->ntps; i++)
		for (unsigned int t = 0; t < b->ntmpl; t++) {
			struct fmq_kafka_produce_req_partition_produce_data pd;
			struct fmq_kafka_produce_req_topic_produce_data td;
			struct fmq_kafka_produce_req req;
			struct fmq_kafka_iov iov = { b->tmpl[t].buf,
						     b->tmpl[t].len, NULL };
			struct fmq_kafka_piece pc[4];
			struct fmq_kafka_writer w;
			struct prefix *px = &b->prefixes[i * b->ntmpl + t];
			int n;

			memset(&pd, 0, sizeof(pd));
			memset(&td, 0, sizeof(td));
			pd.index = b->tps[i].partition;
			fmq_kafka_records_set(&pd.records, &iov, 1);
			td.name = fmq_kafka_str(b->tps[i].topic);
			td.partition_data = &pd;
			td.partition_data_count = 1;
			fmq_kafka_produce_req_init(&req);
			req.acks = (int16_t)b->o.acks;
			req.timeout_ms = 30000;
			req.topic_data = &td;
			req.topic_data_count = 1;
			fmq_kafka_wr_init(&w, b->scratch, 4096, pc, 4);
			fmq_kafka_wr_set_ref_min(&w, 1);
			if (fmq_kafka_write_request(&w, FMQ_KAFKA_API_PRODUCE,
						    b->v_produce, 0,
						    FMQ_KAFKA_STR_LIT(CLIENT_ID),
						    &req) < 0)
				return -EINVAL;
			n = fmq_kafka_wr_finish(&w);
			if (n < 2 || n > 3 || pc[0].is_ref || !pc[1].is_ref ||
			    pc[0].len > sizeof(px->b) ||
			    (n == 3 && pc[2].len > sizeof(px->tail)))
				return -EINVAL;
			memcpy(px->b, pc[0].p, pc[0].len);
			px->len = (uint16_t)pc[0].len;
			if (n == 3) {
				memcpy(px->tail, pc[2].p, pc[2].len);
				px->tail_len = (uint8_t)pc[2].len;
			}
		}
	return 0;
}

static int
assign(struct bench *b, unsigned int from, unsigned int n, bool fetch)
{
	unsigned int per = b->ntps > n ? (b->ntps + n - 1) / n : 1;

	for (unsigned int k = 0; k < n; k++) {
		struct bconn *c = &b->conns[from + k];
		uint32_t *l = calloc(per, sizeof(*l));
		uint32_t m = 0;

		if (l == NULL)
			return -ENOMEM;
		if (b->ntps >= n) {
			for (unsigned int i = k; i < b->ntps; i += n)
				l[m++] = i;
		} else {
			l[m++] = k % b->ntps;
		}
		if (fetch) {
			c->ftps = l;
			c->nftps = m;
		} else {
			c->tps = l;
			c->ntps = m;
			c->producer = true;
		}
	}
	return 0;
}

int
proto_setup(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	struct fmq_kafka_api_versions_req av;
	struct md_state md;
	int rc;

	fmq_kafka_api_versions_req_init(&av);
	rc = rpc(b, &b->conns[0], FMQ_KAFKA_API_API_VERSIONS, 0, &av,
		 on_api_versions, NULL);
	if (rc < 0) {
		fprintf(stderr, "fluxmq-bench: ApiVersions failed: %s\n",
			strerror(-rc));
		return rc;
	}
	/* Topics and partitions. */
	b->ntps = 0;
	for (uint32_t t = 0; t < o->topics; t++)
		for (uint32_t p = 0; p < o->partitions; p++) {
			struct tp *tp = &b->tps[b->ntps++];

			if (o->topics == 1)
				snprintf(tp->topic, sizeof(tp->topic), "%s",
					 o->topic);
			else
				snprintf(tp->topic, sizeof(tp->topic), "%.*s-%u",
					 (int)sizeof(tp->topic) - 12, o->topic,
					 t);
			tp->partition = (int32_t)p;
			tp->fetch_end = -1;
		}
	if (o->create_topics && b->has_create) {
		struct fmq_kafka_create_topics_req req;
		struct fmq_kafka_create_topics_req_creatable_topic *ct =
			calloc(o->topics, sizeof(*ct));

		if (ct == NULL)
			return -ENOMEM;
		fmq_kafka_create_topics_req_init(&req);
		for (uint32_t t = 0; t < o->topics; t++) {
			ct[t].name = fmq_kafka_str(b->tps[t * o->partitions].topic);
			ct[t].num_partitions = (int32_t)o->partitions;
			ct[t].replication_factor = 1;
		}
		req.topics = ct;
		req.topics_count = (int32_t)o->topics;
		req.timeout_ms = 10000;
		rc = rpc(b, &b->conns[0], FMQ_KAFKA_API_CREATE_TOPICS,
			 b->v_create, &req, on_create_topics, NULL);
		free(ct);
		if (rc < 0)
			return rc;
	}
	/* Wait until every partition has a leader (auto-creation too). */
	for (int tries = 0;; tries++) {
		struct fmq_kafka_metadata_req req;
		struct fmq_kafka_metadata_req_metadata_request_topic *mt =
			calloc(o->topics, sizeof(*mt));

		if (mt == NULL)
			return -ENOMEM;
		fmq_kafka_metadata_req_init(&req);
		for (uint32_t t = 0; t < o->topics; t++)
			mt[t].name = fmq_kafka_str(b->tps[t * o->partitions].topic);
		req.topics = mt;
		req.topics_count = (int32_t)o->topics;
		req.allow_auto_topic_creation = true;
		memset(&md, 0, sizeof(md));
		md.leader = -1;
		rc = rpc(b, &b->conns[0], FMQ_KAFKA_API_METADATA, b->v_metadata,
			 &req, on_metadata, &md);
		free(mt);
		if (rc < 0)
			return rc;
		if (md.ready == b->ntps)
			break;
		if (tries == 100 || b->stop) {
			fprintf(stderr, "fluxmq-bench: %u of %u partitions have "
				"a leader (last error %s)\n", md.ready, b->ntps,
				fmq_kafka_err_name(md.err));
			return -ENOENT;
		}
		for (uint64_t t = fmq_now_ns() + 100000000ull; fmq_now_ns() < t;)
			b->x->poll(b, IDLE_WAIT_NS);
	}
	if (md.multi) {
		fprintf(stderr, "fluxmq-bench: partitions have different leaders;"
			" only single-node clusters are supported\n");
		return -ENOTSUP;
	}
	rc = list_offsets(b, LO_START);
	if (rc < 0) {
		fprintf(stderr, "fluxmq-bench: ListOffsets failed: %s\n",
			strerror(-rc));
		return rc;
	}
	for (unsigned int i = 0; i < b->ntps; i++)
		b->tps[i].fetch_next = b->tps[i].fetch_start =
			b->tps[i].off_start;
	rc = build_prefixes(b);
	if (rc < 0)
		return rc;
	/* Roles. */
	if (o->wl == WL_PRODUCE_FETCH) {
		rc = assign(b, 0, o->conns, false);
		if (rc == 0)
			rc = assign(b, o->conns, o->fetch_conns, true);
	} else {
		rc = assign(b, 0, b->nconns, false);
		if (rc == 0 && o->wl == WL_FETCH)
			rc = assign(b, 0, b->nconns, true);
	}
	if (rc < 0)
		return rc;
	fprintf(stderr, "fluxmq-bench: %u partition(s) ready; produce v%d, "
		"fetch v%d, metadata v%d; batch %u B (%u records of %u B%s%s)\n",
		b->ntps, b->v_produce, b->v_fetch, b->v_metadata, b->tmpl[0].len,
		o->batch, o->msg_size, o->codec != CODEC_NONE ? ", " : "",
		o->codec != CODEC_NONE ? codec_names[o->codec] : "");
	return 0;
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

static inline bool
can_send(const struct bench *b, const struct bconn *c)
{
	return c->up && !c->closed && c->writable &&
		(b->o.acks == 0 || q_count(c) < b->o.inflight);
}

/* Send what the workload wants now; returns true when it sent anything. */
static bool
pump(struct bench *b, uint64_t now)
{
	bool sent = false;

	if (b->phase >= PH_DRAIN)
		return false;
	if (b->producing && b->o.rate > 0) {
		/* Open loop: requests leave on a fixed schedule and latency
		 * counts from the scheduled time, so a stall shows up in the
		 * figures instead of slowing the load down. */
		while (b->next_send_ns <= now) {
			unsigned int k;
			struct bconn *c = NULL;

			for (k = 0; k < b->nconns; k++) {
				struct bconn *x = &b->conns[(b->rr + k) % b->nconns];
				if (x->producer && can_send(b, x)) {
					c = x;
					break;
				}
			}
			if (c == NULL)
				break;
			/* Sent more than 1 ms after its slot: the load is
			 * above what the system sustains. */
			if (now - b->next_send_ns > 1000000)
				b->late++;
			b->rr = (b->rr + k + 1) % b->nconns;
			if ((b->o.wl == WL_ECHO ? send_echo(b, c, b->next_send_ns) :
			     send_produce(b, c, b->next_send_ns)) < 0)
				break;
			b->next_send_ns += b->send_interval_ns;
			sent = true;
		}
	} else if (b->producing) {
		for (unsigned int i = 0; i < b->nconns; i++) {
			struct bconn *c = &b->conns[i];

			while (c->producer && can_send(b, c)) {
				if ((b->o.wl == WL_ECHO ? send_echo(b, c, now) :
				     send_produce(b, c, now)) < 0)
					break;
				sent = true;
			}
		}
	}
	if (b->fetching)
		for (unsigned int i = 0; i < b->nconns; i++) {
			struct bconn *c = &b->conns[i];

			if (c->nftps > 0 && !c->fetch_busy && c->up &&
			    !c->closed && c->writable &&
			    send_fetch(b, c, b->o.wl == WL_PRODUCE_FETCH) == 0)
				sent = true;
		}
	return sent;
}

static uint64_t
inflight_total(const struct bench *b)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < b->nconns; i++)
		n += q_count(&b->conns[i]);
	return n;
}

/* Which connections (and the broker lcores they were aimed at) hold the
 * unanswered requests: one dead lcore or queue shows as all of its
 * connections stuck, the others drained. */
static void
report_unanswered(const struct bench *b)
{
	for (unsigned int i = 0; i < b->nconns; i++) {
		const struct bconn *c = &b->conns[i];
		int l = b->o.lcore_shift < 0 || b->o.broker_lcores == 0 ? -1 :
			(int)((c->idx + (unsigned int)b->o.lcore_shift) %
			      b->o.broker_lcores);

		fprintf(stderr, "fluxmq-bench:   connection %u (broker lcore "
			"%d): %u unanswered, %s\n", i, l,
			(unsigned int)q_count(c),
			c->closed ? "closed" : c->up ? "up" : "not up");
	}
}

static void
progress(struct bench *b, uint64_t now)
{
	static const char *const names[] = { "setup", "warm-up", "measure",
					     "drain", "done" };
	double dt = (double)(now - b->last_prog_ns) / 1e9;

	if (b->o.progress_s <= 0 || dt < b->o.progress_s)
		return;
	fprintf(stderr, "[%6.1fs] %-7s", (double)(now - b->t_start) / 1e9,
		names[b->phase]);
	if (b->producing || b->o.wl == WL_PRODUCE_FETCH)
		fprintf(stderr, " produce %11.0f msg/s", (double)(b->all_msgs -
			b->last_prog_msgs) / dt);
	if (b->fetching)
		fprintf(stderr, " fetch %11.0f msg/s", (double)(b->all_fmsgs -
			b->last_prog_fmsgs) / dt);
	fprintf(stderr, " in flight %" PRIu64 "%s\n", inflight_total(b),
		b->o.rate > 0 && b->next_send_ns + 1000000 < now ?
		" (behind schedule)" : "");
	b->last_prog_ns = now;
	b->last_prog_msgs = b->all_msgs;
	b->last_prog_fmsgs = b->all_fmsgs;
}

/* Produce o->preload messages (acks as configured) before a fetch run. */
static int
preload(struct bench *b)
{
	uint64_t deadline = fmq_now_ns() + 600ull * 1000000000ull;

	fprintf(stderr, "fluxmq-bench: preloading %" PRIu64 " messages\n",
		b->o.preload);
	b->producing = true;
	while (!b->stop && fmq_now_ns() < deadline) {
		if (b->prod_sent_msgs >= b->o.preload) {
			b->producing = false;
			if (inflight_total(b) == 0)
				break;
		}
		pump(b, fmq_now_ns());
		b->x->poll(b, 0);
	}
	b->producing = false;
	if (inflight_total(b) != 0 || b->kafka_errors || b->proto_errors)
		return -EIO;
	int rc = list_offsets(b, LO_END);
	return rc < 0 ? rc : list_offsets(b, LO_FIRST);
}

int
proto_run(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	uint64_t now, measure_ns = (uint64_t)(o->duration_s * 1e9);
	uint64_t drain_deadline = 0;
	int rc;

	if (o->wl == WL_FETCH) {
		rc = preload(b);
		if (rc < 0) {
			fprintf(stderr, "fluxmq-bench: preload failed\n");
			return rc;
		}
		for (unsigned int i = 0; i < b->ntps; i++) {
			struct tp *tp = &b->tps[i];

			/* A peer with a bounded log may have dropped the
			 * start of the preload already. */
			tp->fetch_start = tp->fetch_next =
				tp->off_start > tp->off_first ? tp->off_start :
				tp->off_first;
			tp->fetch_end = tp->off_end;
		}
	}
	b->producing = o->wl != WL_FETCH;
	b->fetching = o->wl == WL_FETCH || o->wl == WL_PRODUCE_FETCH;
	memset(&b->prod, 0, sizeof(b->prod));
	memset(&b->fetch, 0, sizeof(b->fetch));
	fmq_hist_init(&b->prod.lat);
	fmq_hist_init(&b->fetch.lat);
	fmq_hist_init(&b->e2e);
	if (o->wl == WL_PRODUCE_FETCH && o->acks != 0) {
		for (unsigned int i = 0; i < b->ntps; i++) {
			struct tp *tp = &b->tps[i];

			tp->e2e = malloc(E2E_RING * sizeof(*tp->e2e));
			if (tp->e2e == NULL) {
				fprintf(stderr, "fluxmq-bench: end-to-end "
					"latency: out of memory\n");
				return -ENOMEM;
			}
			for (unsigned int k = 0; k < E2E_RING; k++)
				tp->e2e[k].base = -1;
		}
	}
	now = fmq_now_ns();
	b->t_start = b->last_prog_ns = now;
	b->last_prog_msgs = b->all_msgs;
	b->last_prog_fmsgs = b->all_fmsgs;
	b->t_measure = now + (uint64_t)(o->warmup_s * 1e9);
	b->t_end = 0;
	b->phase = o->warmup_s > 0 ? PH_WARMUP : PH_MEASURE;
	if (o->rate > 0) {
		double per = o->wl == WL_ECHO ? 1.0 : (double)o->batch;
		b->send_interval_ns = (uint64_t)(per * 1e9 / o->rate);
		if (b->send_interval_ns == 0)
			b->send_interval_ns = 1;
		b->next_send_ns = now;
	}
	for (;;) {
		bool sent;

		now = fmq_now_ns();
		if (b->phase == PH_WARMUP && now >= b->t_measure) {
			b->phase = PH_MEASURE;
		}
		if (b->phase == PH_MEASURE) {
			uint64_t done = o->wl == WL_FETCH ? b->fetch.msgs :
				b->prod.msgs;
			if (b->stop || (o->count > 0 ? done >= o->count :
					now >= b->t_measure + measure_ns)) {
				b->phase = PH_DRAIN;
				b->t_end = now;
				drain_deadline = now + DRAIN_TIMEOUT_NS;
			}
		}
		if (b->phase == PH_DRAIN) {
			uint64_t left = inflight_total(b);
			if (left == 0)
				break;
			if (now > drain_deadline) {
				fprintf(stderr, "fluxmq-bench: %" PRIu64
					" requests never answered\n", left);
				report_unanswered(b);
				b->proto_errors += left;
				break;
			}
		}
		sent = pump(b, now);
		progress(b, now);
		if (sent || o->busy) {
			b->x->poll(b, 0);
		} else {
			uint64_t w = IDLE_WAIT_NS;
			if (o->rate > 0 && b->next_send_ns > now &&
			    b->next_send_ns - now < w)
				w = b->next_send_ns - now;
			b->x->poll(b, o->rate > 0 && b->next_send_ns <= now ?
				   0 : w);
		}
	}
	b->phase = PH_DONE;
	for (unsigned int i = 0; i < b->ntps; i++) {
		free(b->tps[i].e2e);
		b->tps[i].e2e = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Verification: fetch back every partition's range and compare.
 * ---------------------------------------------------------------------- */

static int
cmp_ack(const void *a, const void *b)
{
	const struct ack *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

struct vstate {
	struct tp *tp;
	int64_t next;        /* next offset to read */
	size_t ai;           /* next ack to match */
	bool progress;
};

static int
on_verify_fetch(struct bench *b, struct bconn *c, void *resp, void *arg)
{
	const struct fmq_kafka_fetch_resp *r = resp;
	struct vstate *vs = arg;
	struct tp *tp = vs->tp;

	(void)c;
	vs->progress = false;
	if (r->responses_count != 1 || r->responses[0].partitions_count != 1)
		return -EBADMSG;
	const struct fmq_kafka_fetch_resp_partition_data *pd =
		&r->responses[0].partitions[0];
	struct batch_cursor bc;
	uint8_t hdr[61];
	int64_t len;

	if (pd->error_code != 0) {
		kafka_error(b, pd->error_code);
		return -EPROTO;
	}
	batch_cursor_init(&bc, &pd->records);
	while ((len = batch_cursor_next(&bc, hdr)) > 0) {
		int64_t base = (int64_t)rd_be64(hdr);
		int64_t last = base + (int32_t)rd_be32(hdr + 23);
		uint32_t nrec = rd_be32(hdr + 57), crc = rd_be32(hdr + 17);
		const struct tmpl *t = NULL;
		unsigned int ti;

		if (last < vs->next || base >= tp->off_end) {
			batch_cursor_skip(&bc, (uint64_t)len);
			continue;
		}
		for (ti = 0; ti < b->ntmpl; ti++)
			if (b->tmpl[ti].crc == crc) {
				t = &b->tmpl[ti];
				break;
			}
		/* Acknowledged batches we passed without seeing: missing. */
		while (vs->ai < tp->nacks && tp->acks[vs->ai].base < base)
			vs->ai++;
		if (t == NULL) {
			/* Not one of ours: someone else wrote to the topic,
			 * or the broker damaged the CRC field. */
			b->v_extra += nrec;
			if (vs->ai < tp->nacks && tp->acks[vs->ai].base == base)
				vs->ai++;
			batch_cursor_skip(&bc, (uint64_t)len);
		} else {
			batch_cursor_skip(&bc, 8);
			bool same = (uint64_t)len == t->len &&
				batch_cursor_equal(&bc, t->buf + 8, 4);
			batch_cursor_skip(&bc, 4);  /* leader epoch */
			same = same && batch_cursor_equal(&bc, t->buf + 16,
							  t->len - 16);
			if (!same) {
				b->v_corrupt += nrec;
				if (b->v_corrupt == nrec)
					fprintf(stderr, "fluxmq-bench: %s-%d "
						"offset %" PRId64 ": batch differs"
						" from what was sent\n", tp->topic,
						tp->partition, base);
			} else if (vs->ai < tp->nacks &&
				   tp->acks[vs->ai].base == base &&
				   tp->acks[vs->ai].tmpl == ti) {
				b->v_read += nrec;
				vs->ai++;
			} else if (b->o.acks == 0) {
				b->v_read += nrec;
			} else {
				/* Ours but never acknowledged (or acked at
				 * another offset): counted, not verified. */
				b->v_extra += nrec;
			}
		}
		vs->next = last + 1;
		vs->progress = true;
	}
	if (len < 0)
		return (int)len;
	return 0;
}

int
proto_verify(struct bench *b)
{
	struct bconn *c = NULL;
	int rc;

	for (unsigned int i = 0; i < b->nconns; i++)
		if (b->conns[i].up && !b->conns[i].closed) {
			c = &b->conns[i];
			break;
		}
	b->v_ok = false;
	if (c == NULL)
		return -ENOTCONN;
	rc = list_offsets(b, LO_END);
	/* acks=0: nothing tells us when the broker has appended what we
	 * sent; give it a moment to catch up before reading back. */
	for (int tries = 0; rc == 0 && b->o.acks == 0 && tries < 40; tries++) {
		uint64_t have = 0;

		for (unsigned int i = 0; i < b->ntps; i++)
			have += (uint64_t)(b->tps[i].off_end - b->tps[i].off_start);
		if (have >= b->prod_sent_msgs)
			break;
		for (uint64_t t = fmq_now_ns() + 50000000ull; fmq_now_ns() < t;)
			b->x->poll(b, IDLE_WAIT_NS);
		rc = list_offsets(b, LO_END);
	}
	if (rc == 0)
		rc = list_offsets(b, LO_FIRST);
	if (rc < 0)
		return rc;
	b->v_acked = b->v_read = b->v_missing = b->v_corrupt = b->v_extra = 0;
	b->v_expired = 0;
	if (b->o.test_forge_ack && b->ntps > 0 && b->o.acks != 0) {
		struct tp *tp = &b->tps[0];
		struct ack *a = realloc(tp->acks, (tp->nacks + 1) * sizeof(*a));

		if (a == NULL)
			return -ENOMEM;
		tp->acks = a;
		tp->cap_acks = tp->nacks + 1;
		/* Past the log end: it cannot be read back. */
		tp->acks[tp->nacks].base = tp->off_end + 1000;
		tp->acks[tp->nacks++].tmpl = 0;
	}
	for (unsigned int i = 0; i < b->ntps; i++) {
		struct tp *tp = &b->tps[i];
		struct vstate vs = { tp, tp->off_start, 0, false };
		int stalls = 0;

		if (tp->nacks > 1)
			qsort(tp->acks, tp->nacks, sizeof(*tp->acks), cmp_ack);
		b->v_acked += b->o.acks == 0 ? tp->sent_msgs :
			(uint64_t)tp->nacks * b->o.batch;
		/* Deleted by the broker's retention (a peer with a bounded
		 * log): reported apart, since they cannot be read back. */
		if (vs.next < tp->off_first) {
			for (; vs.ai < tp->nacks &&
			     tp->acks[vs.ai].base < tp->off_first; vs.ai++)
				b->v_expired += b->o.batch;
			if (b->o.acks == 0)
				b->v_expired += (uint64_t)(tp->off_first -
							   vs.next);
			vs.next = tp->off_first;
		}
		while (vs.next < tp->off_end && !b->stop) {
			struct fmq_kafka_fetch_req_fetch_partition fp;
			struct fmq_kafka_fetch_req_fetch_topic ft;
			struct fmq_kafka_fetch_req req;

			memset(&fp, 0, sizeof(fp));
			memset(&ft, 0, sizeof(ft));
			fp.partition = tp->partition;
			fp.current_leader_epoch = -1;
			fp.fetch_offset = vs.next;
			fp.last_fetched_epoch = -1;
			fp.log_start_offset = -1;
			fp.partition_max_bytes = 4 << 20;
			ft.topic = fmq_kafka_str(tp->topic);
			ft.partitions = &fp;
			ft.partitions_count = 1;
			fmq_kafka_fetch_req_init(&req);
			req.replica_id = -1;
			req.max_wait_ms = 100;
			req.min_bytes = 1;
			req.max_bytes = 4 << 20;
			req.session_epoch = -1;
			req.topics = &ft;
			req.topics_count = 1;
			req.rack_id = FMQ_KAFKA_STR_LIT("");
			rc = rpc(b, c, FMQ_KAFKA_API_FETCH, b->v_fetch, &req,
				 on_verify_fetch, &vs);
			if (rc < 0)
				return rc;
			if (!vs.progress && ++stalls == 20) {
				fprintf(stderr, "fluxmq-bench: %s-%d: no data at "
					"offset %" PRId64 " (end %" PRId64 ")\n",
					tp->topic, tp->partition, vs.next,
					tp->off_end);
				break;
			}
		}
	}
	b->v_missing = b->v_acked > b->v_read + b->v_expired ?
		b->v_acked - b->v_read - b->v_expired : 0;
	b->v_ok = b->v_missing == 0 && b->v_corrupt == 0 &&
		b->kafka_errors == 0 && b->proto_errors == 0;
	fprintf(stderr, "fluxmq-bench: verify: %" PRIu64 " acknowledged, %"
		PRIu64 " read back identical, %" PRIu64 " missing, %" PRIu64
		" corrupt, %" PRIu64 " deleted by retention, %" PRIu64
		" other: %s\n", b->v_acked, b->v_read, b->v_missing,
		b->v_corrupt, b->v_expired, b->v_extra,
		b->v_ok ? "OK" : "FAILED");
	return 0;
}

/* ------------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------- */

/* "name":{samples, p50, p99, p999, max, mean} in microseconds, or null. */
static void
lat_json(FILE *f, const char *name, const struct fmq_hist *h)
{
	if (h == NULL || h->count == 0) {
		fprintf(f, ",\"%s\":null", name);
		return;
	}
	fprintf(f, ",\"%s\":{\"samples\":%" PRIu64 ",\"p50\":%.2f,"
		"\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"mean\":%.2f}",
		name, h->count, fmq_hist_quantile(h, 0.5) / 1e3,
		fmq_hist_quantile(h, 0.99) / 1e3,
		fmq_hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3,
		(double)h->sum / (double)h->count / 1e3);
}

static void
side_json(FILE *f, const struct bench *b, const struct side *s,
	  double secs, bool lat)
{
	fprintf(f, "\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.0f,\"mb_per_s\":%.2f,"
		"\"requests_per_s\":%.0f,\"errors\":%" PRIu64, s->msgs,
		secs > 0 ? (double)s->msgs / secs : 0.0,
		secs > 0 ? (double)s->bytes / secs / 1e6 : 0.0,
		secs > 0 ? (double)s->reqs / secs : 0.0, s->errors);
	(void)b;
	lat_json(f, "latency_us", lat ? &s->lat : NULL);
}

/* One line as Kafka's perf tools print it, for a person. */
static void
side_summary(FILE *f, const char *what, const struct side *s, double secs,
	     const struct fmq_hist *lat)
{
	fprintf(f, "%s: %" PRIu64 " records, %.1f records/sec (%.2f MB/sec)",
		what, s->msgs, secs > 0 ? (double)s->msgs / secs : 0.0,
		secs > 0 ? (double)s->bytes / secs / 1e6 : 0.0);
	if (lat != NULL && lat->count > 0)
		fprintf(f, ", %.2f ms avg latency, %.2f ms max latency, "
			"%.2f ms 50th, %.2f ms 95th, %.2f ms 99th, "
			"%.2f ms 99.9th",
			(double)lat->sum / (double)lat->count / 1e6,
			(double)lat->max / 1e6,
			fmq_hist_quantile(lat, 0.5) / 1e6,
			fmq_hist_quantile(lat, 0.95) / 1e6,
			fmq_hist_quantile(lat, 0.99) / 1e6,
			fmq_hist_quantile(lat, 0.999) / 1e6);
	fprintf(f, ".\n");
}

void
report_summary(struct bench *b, FILE *f)
{
	const struct bench_opts *o = &b->o;
	double secs = b->t_end > b->t_measure ?
		(double)(b->t_end - b->t_measure) / 1e9 : 0.0;

	if (o->wl == WL_ECHO || o->wl == WL_CEILINGS)
		return;
	if (o->wl != WL_FETCH)
		side_summary(f, "produce", &b->prod, secs,
			     o->acks != 0 ? &b->prod.lat : NULL);
	if (o->wl == WL_FETCH || o->wl == WL_PRODUCE_FETCH)
		side_summary(f, "fetch", &b->fetch, secs, &b->fetch.lat);
	if (b->e2e.count > 0)
		fprintf(f, "end-to-end (produce sent to fetched): %.2f ms avg, "
			"%.2f ms 50th, %.2f ms 99th, %.2f ms 99.9th, %.2f ms "
			"max, %" PRIu64 " batches.\n",
			(double)b->e2e.sum / (double)b->e2e.count / 1e6,
			fmq_hist_quantile(&b->e2e, 0.5) / 1e6,
			fmq_hist_quantile(&b->e2e, 0.99) / 1e6,
			fmq_hist_quantile(&b->e2e, 0.999) / 1e6,
			(double)b->e2e.max / 1e6, b->e2e.count);
}

static const char *
wl_name(enum workload w)
{
	switch (w) {
	case WL_PRODUCE: return "produce";
	case WL_FETCH: return "fetch";
	case WL_PRODUCE_FETCH: return "produce-fetch";
	case WL_ECHO: return "echo";
	default: return "ceilings";
	}
}

void
report_json(struct bench *b, FILE *f)
{
	const struct bench_opts *o = &b->o;
	double secs = b->t_end > b->t_measure ?
		(double)(b->t_end - b->t_measure) / 1e9 : 0.0;
	const struct side *main_side = o->wl == WL_FETCH ? &b->fetch : &b->prod;

	fprintf(f, "{\"tool\":\"fluxmq-bench\",\"version\":\"%s\","
		"\"label\":\"%s\",\"transport\":\"%s\",\"workload\":\"%s\","
		"\"acks\":%d,\"msg_bytes\":%u,\"records_per_batch\":%u,"
		"\"batch_bytes\":%u,\"compression\":\"%s\",\"topics\":%u,"
		"\"partitions\":%u,\"connections\":%u,\"inflight\":%u,"
		"\"target_msgs_per_s\":%.0f,\"warmup_s\":%.1f,"
		"\"duration_s\":%.3f,",
		FMQ_VERSION, o->label, b->x->name, wl_name(o->wl), o->acks,
		o->wl == WL_ECHO ? o->echo_size : o->msg_size,
		o->wl == WL_ECHO ? 1 : o->batch,
		b->ntmpl ? b->tmpl[0].len : 0,
		codec_names[o->codec], o->topics,
		o->partitions, b->nconns, o->inflight, o->rate, o->warmup_s,
		secs);
	side_json(f, b, main_side, secs, o->acks != 0 || o->wl != WL_PRODUCE);
	if (o->wl == WL_PRODUCE_FETCH) {
		fprintf(f, ",\"fetch\":{");
		side_json(f, b, &b->fetch, secs, true);
		fprintf(f, "}");
	}
	/* Produce request sent to the batch's first arrival in a fetch:
	 * the OpenMessaging benchmark's headline figure. */
	lat_json(f, "e2e_latency_us", &b->e2e);
	fprintf(f, ",\"late_sends\":%" PRIu64 ",\"fetch_offset_resets\":%"
		PRIu64 ",\"acks0_responses\":%" PRIu64 ",\"kafka_errors\":%"
		PRIu64
		",\"first_kafka_error\":\"%s\",\"protocol_errors\":%" PRIu64,
		b->late, b->fetch_resets, b->acks0_responses, b->kafka_errors,
		b->kafka_errors ? fmq_kafka_err_name(b->first_kerr) : "",
		b->proto_errors);
	if (o->verify)
		fprintf(f, ",\"verify\":{\"acknowledged\":%" PRIu64
			",\"read_back\":%" PRIu64 ",\"missing\":%" PRIu64
			",\"corrupt\":%" PRIu64 ",\"deleted_by_retention\":%"
			PRIu64 ",\"other\":%" PRIu64 ",\"ok\":%s}", b->v_acked,
			b->v_read, b->v_missing, b->v_corrupt, b->v_expired,
			b->v_extra, b->v_ok ? "true" : "false");
	else
		fprintf(f, ",\"verify\":null");
	{
		/* On a shared machine a busy-polling client that gets
		 * preempted measures the scheduler: say how often it was. */
		struct rusage ru;
		double wall = (double)(fmq_now_ns() - b->t_start) / 1e9;

		getrusage(RUSAGE_SELF, &ru);
		fprintf(f, ",\"cpu\":{\"wall_s\":%.3f,\"user_s\":%.3f,"
			"\"sys_s\":%.3f,\"involuntary_switches\":%ld}", wall,
			(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
			ru.ru_nivcsw);
	}
	if (b->x->stats_json != NULL) {
		fprintf(f, ",\"transport_stats\":{");
		b->x->stats_json(b, f);
		fprintf(f, "}");
	}
	fprintf(f, "}\n");
	fflush(f);
}
