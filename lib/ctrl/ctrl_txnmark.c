/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WriteTxnMarkers (API 27) on the partition leader (issue 18;
 * docs/protocol.md, "Transactions in a cluster"): a transaction
 * coordinator on another broker has this broker write COMMIT or ABORT
 * markers into the partitions it leads.
 *
 * Each marker goes through the same path as the local coordinator's
 * (ctrl_txn.c): a struct fmq_btxn_marker to the partition's owner lcore
 * (broker_txn.c), which checks that it still leads that log and appends
 * the control batch (fmq_log_txn_marker), replicated as any batch. The
 * request is answered when every marker it asked for is appended and,
 * for a replicated partition, the high watermark has passed it (what
 * Kafka's acks=-1 append of markers waits for), or with
 * NOT_LEADER_OR_FOLLOWER if the leadership moved meanwhile,
 * REQUEST_TIMED_OUT after 30 s. The leader needs no transaction state of
 * its own: its LSO and aborted index follow from the batches and markers
 * it appends (lib/log/txn_open.c).
 *
 * Control lcore only. Bounded: WTM_MAX requests waiting, WTM_PARTS
 * partitions per request (more: the connection is closed, as for a
 * request that cannot be decoded).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

#define COMP "txnmark"
#define WTM_MAX 256
#define WTM_PARTS 4096
#define WTM_TIMEOUT_MS 30000
#define WTM_TAG 1u     /* cookie bit: ours, not a coordinator's txn */

struct wpart {
	int32_t part;
	int16_t err;
	bool sent;             /* marker op in flight */
	bool appended;         /* waits for the HW */
	int64_t need;          /* HW that covers the marker */
	int32_t epoch;         /* leader epoch it was sent under */
	struct fmq_brepl *repl;
};

struct wtopic {
	char *name;
	uint32_t first, n;     /* its partitions in wtm.p */
};

struct wmark {
	int64_t pid;
	uint32_t first, n;     /* its topics in wtm.t */
};

struct wtm {
	struct wtm *next;
	struct fmq_bfwd *f;
	int64_t deadline_ms;
	uint32_t inflight;
	uint32_t nm, nt, np;
	struct wmark *m;
	struct wtopic *t;
	struct wpart *p;
};

struct ctrl_txnmark {
	struct wtm *list;
	uint32_t n;
};

static void
wtm_free(struct wtm *w)
{
	for (uint32_t i = 0; w->t != NULL && i < w->nt; i++)
		free(w->t[i].name);
	free(w->m);
	free(w->t);
	free(w->p);
	free(w);
}

static bool
wtm_live(const struct ctrl_txnmark *x, const struct wtm *w)
{
	for (const struct wtm *o = x->list; o != NULL; o = o->next)
		if (o == w)
			return true;
	return false;
}

/* Answer w from its partitions' errors (f goes back to its lcore). */
static void
answer(struct fmq_ctrl *c, struct wtm *w)
{
	struct fmq_kafka_write_txn_markers_resp resp;
	struct fmq_kafka_write_txn_markers_resp_writable_txn_marker_result *mr;
	struct fmq_kafka_write_txn_markers_resp_writable_txn_marker_topic_result *tr;
	struct fmq_kafka_write_txn_markers_resp_writable_txn_marker_partition_result *pr;

	fmq_kafka_init_response(w->f->api_key, w->f->api_version, &resp);
	mr = calloc(w->nm ? w->nm : 1, sizeof(*mr));
	tr = calloc(w->nt ? w->nt : 1, sizeof(*tr));
	pr = calloc(w->np ? w->np : 1, sizeof(*pr));
	if (mr == NULL || tr == NULL || pr == NULL) {
		ctrl_close_conn(c, w->f);
		goto out;
	}
	for (uint32_t i = 0; i < w->np; i++) {
		pr[i].partition_index = w->p[i].part;
		pr[i].error_code = w->p[i].err;
	}
	for (uint32_t i = 0; i < w->nt; i++) {
		tr[i].name = fmq_kafka_str(w->t[i].name);
		tr[i].partitions = &pr[w->t[i].first];
		tr[i].partitions_count = (int32_t)w->t[i].n;
	}
	for (uint32_t i = 0; i < w->nm; i++) {
		mr[i].producer_id = w->m[i].pid;
		mr[i].topics = &tr[w->m[i].first];
		mr[i].topics_count = (int32_t)w->m[i].n;
	}
	resp.markers = mr;
	resp.markers_count = (int32_t)w->nm;
	ctrl_respond(c, w->f, &resp);
out:
	free(mr);
	free(tr);
	free(pr);
}

/* Answered once every marker is appended and covered by the HW. */
static bool
settled(struct wtm *w, int64_t now_ms)
{
	bool all = true;

	if (w->inflight > 0)
		return false;
	for (uint32_t i = 0; i < w->np; i++) {
		struct wpart *p = &w->p[i];

		if (!p->appended)
			continue;
		if (p->repl == NULL ||
		    atomic_load_explicit(&p->repl->hw, memory_order_acquire) >=
		    p->need) {
			p->appended = false;
		} else if (atomic_load_explicit(&p->repl->epoch,
						memory_order_relaxed) !=
			   p->epoch) {
			p->appended = false;
			p->err = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
		} else if (now_ms >= w->deadline_ms) {
			p->appended = false;
			p->err = FMQ_KERR_REQUEST_TIMED_OUT;
		} else {
			all = false;
		}
	}
	return all;
}

static void
finish(struct fmq_ctrl *c, struct wtm *w)
{
	struct ctrl_txnmark *x = c->txnmark;

	for (struct wtm **pp = &x->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			x->n--;
			break;
		}
	answer(c, w);
	c->st.txn_wtm_answered++;
	wtm_free(w);
}

static const struct fmq_bpart *
led_here(struct fmq_ctrl *c, const char *topic, int32_t part, bool *known)
{
	const struct fmq_bmeta *m = fmq_broker_meta(c->b);
	const struct fmq_btopic *t = m == NULL ? NULL :
		fmq_bmeta_find(m, topic, (uint32_t)strlen(topic));

	*known = t != NULL && part >= 0 && (uint32_t)part < t->nparts;
	if (!*known || t->parts[part].log == NULL)
		return NULL;
	return &t->parts[part];
}

/* Send partition i's marker to its owner lcore (0), or set its error. */
static void
send_one(struct fmq_ctrl *c, struct wtm *w, uint32_t i, const char *topic,
	 int64_t pid, int16_t epoch, bool commit, int32_t coord_epoch)
{
	struct wpart *p = &w->p[i];
	bool known;
	const struct fmq_bpart *bp = led_here(c, topic, p->part, &known);
	struct fmq_bfwd *f;

	if (bp == NULL) {
		p->err = known ? FMQ_KERR_NOT_LEADER_OR_FOLLOWER :
			FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	f = rte_zmalloc("fmq_wtm_fwd", sizeof(*f), 0);
	if (f != NULL)
		f->marker = rte_zmalloc("fmq_wtm_marker", sizeof(*f->marker),
					0);
	if (f == NULL || f->marker == NULL) {
		fmq_bfwd_free(f);
		p->err = FMQ_KERR_KAFKA_STORAGE_ERROR;
		return;
	}
	p->repl = bp->repl;
	p->epoch = bp->repl != NULL ?
		atomic_load_explicit(&bp->repl->epoch, memory_order_relaxed) :
		0;
	f->lcore = bp->owner;
	f->api_key = -1;
	snprintf(f->marker->topic, sizeof(f->marker->topic), "%s", topic);
	f->marker->partition = p->part;
	f->marker->log = bp->log;
	f->marker->pid = pid;
	f->marker->epoch = epoch;
	f->marker->commit = commit;
	f->marker->coord_epoch = coord_epoch;
	/* The first offset comes from the log's own view (txn_open.c). */
	f->marker->first_off = -1;
	f->marker->cookie = (uint64_t)(uintptr_t)w | WTM_TAG;
	p->sent = true;
	w->inflight++;
	c->st.txn_wtm_markers++;
	fmq_broker_ctrl_respond(c->b, f);
}

void
ctrl_txnmark_handle(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	const struct fmq_kafka_write_txn_markers_req *req = reqp;
	struct ctrl_txnmark *x = c->txnmark;
	int32_t nm = RTE_MAX(req->markers_count, 0);
	uint32_t nt = 0, np = 0;
	int16_t deny = 0;
	struct wtm *w;

	c->st.txn_wtm_received++;
	for (int32_t i = 0; i < nm; i++) {
		const struct fmq_kafka_write_txn_markers_req_writable_txn_marker
			*m = &req->markers[i];

		nt += (uint32_t)RTE_MAX(m->topics_count, 0);
		for (int32_t j = 0; j < RTE_MAX(m->topics_count, 0); j++) {
			int32_t k = m->topics[j].partition_indexes_count;

			np += (uint32_t)RTE_MAX(k, 0);
		}
	}
	if (x == NULL)
		x = c->txnmark = calloc(1, sizeof(*x));
	if (x == NULL || np > WTM_PARTS) {
		ctrl_close_conn(c, f);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w != NULL) {
		w->m = calloc(nm ? (size_t)nm : 1, sizeof(*w->m));
		w->t = calloc(nt ? nt : 1, sizeof(*w->t));
		w->p = calloc(np ? np : 1, sizeof(*w->p));
	}
	if (w == NULL || w->m == NULL || w->t == NULL || w->p == NULL) {
		if (w != NULL)
			wtm_free(w);
		ctrl_close_conn(c, f);
		return;
	}
	w->f = f;
	w->deadline_ms = fmq_wall_ms() + WTM_TIMEOUT_MS;
	/* Kafka: CLUSTER_ACTION on the cluster, else every partition
	 * answers CLUSTER_AUTHORIZATION_FAILED. A full table: the
	 * coordinator retries. */
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_CLUSTER_ACTION))
		deny = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
	else if (x->n >= WTM_MAX)
		deny = FMQ_KERR_REQUEST_TIMED_OUT;
	for (int32_t i = 0; i < nm; i++) {
		const struct fmq_kafka_write_txn_markers_req_writable_txn_marker
			*m = &req->markers[i];

		w->m[w->nm].pid = m->producer_id;
		w->m[w->nm].first = w->nt;
		for (int32_t j = 0; j < RTE_MAX(m->topics_count, 0); j++) {
			const struct fmq_kafka_write_txn_markers_req_writable_txn_marker_topic
				*t = &m->topics[j];
			struct wtopic *ot = &w->t[w->nt];

			ot->name = ctrl_cstr(c, t->name) != NULL ?
				strdup(ctrl_cstr(c, t->name)) : NULL;
			if (ot->name == NULL) {
				wtm_free(w);
				ctrl_close_conn(c, f);
				return;
			}
			ot->first = w->np;
			for (int32_t k = 0;
			     k < RTE_MAX(t->partition_indexes_count, 0); k++) {
				w->p[w->np].part = t->partition_indexes[k];
				w->p[w->np].err = deny;
				w->np++;
			}
			ot->n = w->np - ot->first;
			w->nt++;
		}
		w->m[w->nm].n = w->nt - w->m[w->nm].first;
		w->nm++;
	}
	w->next = x->list;
	x->list = w;
	x->n++;
	for (uint32_t i = 0; deny == 0 && i < w->nm; i++) {
		const struct fmq_kafka_write_txn_markers_req_writable_txn_marker
			*m = &req->markers[i];

		for (uint32_t j = 0; j < w->m[i].n; j++) {
			const struct wtopic *t = &w->t[w->m[i].first + j];

			for (uint32_t k = 0; k < t->n; k++)
				send_one(c, w, t->first + k, t->name,
					 m->producer_id, m->producer_epoch,
					 m->transaction_result,
					 m->coordinator_epoch);
		}
	}
	if (settled(w, fmq_wall_ms()))
		finish(c, w);
}

bool
ctrl_txnmark_done(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	struct ctrl_txnmark *x = c->txnmark;
	struct fmq_btxn_marker *mk = f->marker;
	struct wtm *w;

	if (!(mk->cookie & WTM_TAG))
		return false;
	w = (struct wtm *)(uintptr_t)(mk->cookie & ~(uint64_t)WTM_TAG);
	if (x == NULL || !wtm_live(x, w)) {
		fmq_bfwd_free(f);
		return true;
	}
	for (uint32_t i = 0; i < w->nt; i++) {
		const struct wtopic *t = &w->t[i];

		if (strcmp(t->name, mk->topic) != 0)
			continue;
		for (uint32_t k = 0; k < t->n; k++) {
			struct wpart *p = &w->p[t->first + k];

			if (p->part != mk->partition || !p->sent)
				continue;
			p->sent = false;
			w->inflight--;
			if (mk->offset >= 0 && (mk->rc == 0 ||
						(mk->rc == -ENOMEM &&
						 !mk->commit))) {
				c->st.txn_wtm_appended++;
				p->appended = true;
				p->need = mk->offset + 1;
			} else if (mk->rc == -ENOENT) {
				p->err = FMQ_KERR_NOT_LEADER_OR_FOLLOWER;
			} else {
				p->err = FMQ_KERR_KAFKA_STORAGE_ERROR;
			}
			goto found;
		}
	}
found:
	fmq_bfwd_free(f);
	if (settled(w, fmq_wall_ms()))
		finish(c, w);
	return true;
}

void
ctrl_txnmark_poll(struct fmq_ctrl *c, int64_t now_ms)
{
	struct ctrl_txnmark *x = c->txnmark;
	struct wtm *w, *next;

	if (x == NULL)
		return;
	for (w = x->list; w != NULL; w = next) {
		next = w->next;
		if (settled(w, now_ms))
			finish(c, w);
	}
}

bool
ctrl_txnmark_waiting(const struct fmq_ctrl *c)
{
	return c->txnmark != NULL && c->txnmark->list != NULL;
}

void
ctrl_txnmark_close(struct fmq_ctrl *c)
{
	struct ctrl_txnmark *x = c->txnmark;

	if (x == NULL)
		return;
	/* Requests still waiting are dropped with their connections. */
	while (x->list != NULL) {
		struct wtm *w = x->list;

		x->list = w->next;
		fmq_bfwd_free(w->f);
		wtm_free(w);
	}
	free(x);
	c->txnmark = NULL;
}
