/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Partition reassignment (issue 17), as Kafka 3.4's ZooKeeper-mode
 * controller does it for AlterPartitionReassignments (KIP-455): the
 * topic znode /brokers/topics/<t> carries, per partition being moved,
 * the full replica set (target first, then the original replicas not in
 * the target), "adding_replicas" (target - original) and
 * "removing_replicas" (original - target).
 *
 * - Every broker (ctrl_reassign_sync): a partition whose replica list
 *   names it is opened (a new replica: it follows the leader and fetches
 *   from the log start); one that no longer names it is closed and its
 *   directory deleted once no data lcore holds it.
 * - The controller (ctrl_reassign_poll), one ZooKeeper write at a time:
 *   when every target replica is in the ISR, a leader outside the target
 *   hands over to the first target replica in the ISR (compare-and-set on
 *   the state znode, leader epoch + 1); then the topic znode gets the
 *   target alone and the adding/removing entries go; then the ISR loses
 *   the removed replicas (a compare-and-set at the same leader epoch).
 *   A cancel (null replicas) puts the original replicas back the same
 *   way.
 */
#define FMQ_CTRL_INTERNAL
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "ctrl_priv.h"
#include "fmq_cluster.h"

#define RMAX FMQ_CLUSTER_MAX_RF

/* The generated codecs' long names. */
typedef struct fmq_kafka_alter_partition_reassignments_resp_reassignable_topic_response
	ar_tresp_t;
typedef struct fmq_kafka_alter_partition_reassignments_resp_reassignable_partition_response
	ar_presp_t;
typedef struct fmq_kafka_alter_partition_reassignments_req_reassignable_topic
	ar_treq_t;
typedef struct fmq_kafka_alter_partition_reassignments_req_reassignable_partition
	ar_preq_t;
typedef struct fmq_kafka_list_partition_reassignments_resp_ongoing_topic_reassignment
	lr_tresp_t;
typedef struct fmq_kafka_list_partition_reassignments_resp_ongoing_partition_reassignment
	lr_presp_t;

struct ar_req;

struct ctrl_reassign {
	struct ar_req *waiting;    /* written, answered once the view has it */
	bool busy;                 /* a write of the poll is in flight */
	char wait_topic[FMQ_TOPIC_NAME_MAX + 1];
	int32_t wait_zkv;          /* topic written: skip until it moves */
	uint64_t started, completed, cancelled;
};

static void ar_check_waiting(struct fmq_ctrl *c, struct ctrl_reassign *ra);

static struct ctrl_reassign *
ra_of(struct fmq_ctrl *c)
{
	if (c->reassign == NULL)
		c->reassign = calloc(1, sizeof(*c->reassign));
	return c->reassign;
}

static bool
has(const int32_t *l, uint32_t n, int32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (l[i] == id)
			return true;
	return false;
}

/* A partition's list (rf entries, -1 padded) into out; its length. */
static uint32_t
list_of(const int32_t *row, uint16_t rf, int32_t *out)
{
	uint32_t n = 0;

	for (uint16_t r = 0; row != NULL && r < rf; r++)
		if (row[r] >= 0)
			out[n++] = row[r];
	return n;
}

struct pview {
	int32_t rep[RMAX], add[RMAX], rem[RMAX], isr[RMAX];
	uint32_t nrep, nadd, nrem, nisr;
	int32_t orig[RMAX], target[RMAX];
	uint32_t norig, ntarget;
};

static void
pview_of(const struct fmq_cluster_topic *t, uint32_t p, struct pview *v)
{
	size_t o = (size_t)p * t->rf;

	v->nrep = list_of(&t->replicas[o], t->rf, v->rep);
	v->nadd = list_of(t->adding != NULL ? &t->adding[o] : NULL, t->rf,
			  v->add);
	v->nrem = list_of(t->removing != NULL ? &t->removing[o] : NULL,
			  t->rf, v->rem);
	v->nisr = list_of(&t->isr[o], t->rf, v->isr);
	v->norig = v->ntarget = 0;
	for (uint32_t i = 0; i < v->nrep; i++) {
		if (!has(v->add, v->nadd, v->rep[i]))
			v->orig[v->norig++] = v->rep[i];
		if (!has(v->rem, v->nrem, v->rep[i]))
			v->target[v->ntarget++] = v->rep[i];
	}
}

/* The whole topic's arrays at width rf (for a topic znode write). */
static int
arrays_of(const struct fmq_cluster_topic *t, uint16_t rf, int32_t **rep,
	  int32_t **add, int32_t **rem)
{
	size_t n = (size_t)t->nparts * rf;

	*rep = malloc(n * sizeof(int32_t));
	*add = malloc(n * sizeof(int32_t));
	*rem = malloc(n * sizeof(int32_t));
	if (*rep == NULL || *add == NULL || *rem == NULL) {
		free(*rep);
		free(*add);
		free(*rem);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		(*rep)[i] = (*add)[i] = (*rem)[i] = -1;
	for (uint32_t p = 0; p < t->nparts; p++) {
		size_t o = (size_t)p * t->rf;
		(void)list_of(&t->replicas[o], t->rf, &(*rep)[(size_t)p * rf]);
		(void)list_of(t->adding != NULL ? &t->adding[o] : NULL, t->rf,
			      &(*add)[(size_t)p * rf]);
		(void)list_of(t->removing != NULL ? &t->removing[o] : NULL,
			      t->rf, &(*rem)[(size_t)p * rf]);
	}
	return 0;
}

static void
set_row(int32_t *row, uint16_t rf, const int32_t *l, uint32_t n)
{
	for (uint16_t r = 0; r < rf; r++)
		row[r] = r < n ? l[r] : -1;
}

/* ------------------------------------------------- every broker */

int
ctrl_reassign_sync(struct fmq_ctrl *c)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	int32_t self = (int32_t)c->cfg->node_id;
	int changes = 0;

	if (!v->topics_synced || !v->fresh)
		return 0;
	for (uint32_t i = 0; i < v->ntopics; i++) {
		const struct fmq_cluster_topic *zt = &v->topics[i];
		const struct fmq_topic *t = fmq_topics_find(c->topics,
							    zt->name);
		struct ctrl_topic *ct = ctrl_topic_find(c, zt->name);

		if (t == NULL || ct == NULL)
			continue;
		for (uint32_t p = 0; p < zt->nparts && p < ct->nparts; p++) {
			int32_t l[RMAX];
			uint32_t n = list_of(&zt->replicas[(size_t)p * zt->rf],
					     zt->rf, l);
			bool hosted = has(l, n, self);

			if (ctrl_repl_truncating(c, zt->name, p))
				continue;
			if (hosted && ct->parts[p] == NULL) {
				FMQ_INFO("ctrl", "%s-%u: a new replica here "
					 "(reassignment): opened, following "
					 "the leader", zt->name, p);
				if (ctrl_open_one(c, t, p) == 0)
					changes++;
			} else if (!hosted && ct->parts[p] != NULL) {
				FMQ_INFO("ctrl", "%s-%u: no longer a replica "
					 "here (reassignment): closed, its "
					 "files deleted", zt->name, p);
				ctrl_drop_part(c, zt->name, p, true);
				changes++;
			}
		}
	}
	return changes;
}

/* ------------------------------------------------- controller */

static void
poll_done(void *arg, int16_t kerr)
{
	struct fmq_ctrl *c = arg;
	struct ctrl_reassign *ra = c->reassign;

	if (ra == NULL)
		return;
	ra->busy = false;
	if (kerr != 0) {
		ra->wait_topic[0] = '\0';
		FMQ_WARN("ctrl", "reassignment: ZooKeeper write failed "
			 "(error %d); tried again on the next pass", kerr);
	}
}

static void
state_done(void *arg, int rc, int32_t version)
{
	(void)version;
	poll_done(arg, rc == 0 ? 0 : FMQ_KERR_REQUEST_TIMED_OUT);
}

/* The first live ISR member of l (in l's order), or -1. */
static int32_t
first_in_isr(const struct fmq_cluster_view *v, const struct pview *pv,
	     const int32_t *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (has(pv->isr, pv->nisr, l[i]) && fmq_cluster_live(v, l[i]))
			return l[i];
	return -1;
}

/* One step for partition p of t; true when a write was issued. */
static bool
step(struct fmq_ctrl *c, struct ctrl_reassign *ra,
     const struct fmq_cluster_view *v, const struct fmq_cluster_topic *t,
     uint32_t p)
{
	struct pview pv;
	int32_t nisr[RMAX];
	uint32_t n = 0;
	int32_t leader = t->leader[p];
	bool moving;

	pview_of(t, p, &pv);
	moving = pv.nadd > 0 || pv.nrem > 0;
	if (t->state_version[p] < 0)
		return false;
	if (moving) {
		for (uint32_t i = 0; i < pv.ntarget; i++)
			if (!has(pv.isr, pv.nisr, pv.target[i]))
				return false;      /* still catching up */
		if (!has(pv.target, pv.ntarget, leader) ||
		    !fmq_cluster_live(v, leader)) {
			int32_t nl = first_in_isr(v, &pv, pv.target,
						  pv.ntarget);
			if (nl < 0)
				return false;
			for (uint32_t i = 0; i < pv.nisr; i++)
				nisr[n++] = pv.isr[i];
			FMQ_INFO("ctrl", "%s-%u: reassignment: leadership "
				 "moves from %d to %d", t->name, p, leader,
				 nl);
			if (fmq_cluster_set_state(c->cl, t->name, p, nl,
						  t->leader_epoch[p] + 1, nisr,
						  n, t->state_version[p],
						  state_done, c) < 0)
				return false;
			return true;
		}
		/* Done: the target alone. */
		int32_t *rep, *add, *rem;
		if (arrays_of(t, t->rf, &rep, &add, &rem) < 0)
			return false;
		set_row(&rep[(size_t)p * t->rf], t->rf, pv.target, pv.ntarget);
		set_row(&add[(size_t)p * t->rf], t->rf, NULL, 0);
		set_row(&rem[(size_t)p * t->rf], t->rf, NULL, 0);
		FMQ_INFO("ctrl", "%s-%u: reassignment complete: replicas now "
			 "the target (%u)", t->name, p, pv.ntarget);
		int16_t e = fmq_cluster_set_assignment(c->cl, t->name, t->rf,
						       rep, add, rem,
						       poll_done, c);
		free(rep);
		free(add);
		free(rem);
		if (e != 0)
			return false;
		ra->completed++;
		snprintf(ra->wait_topic, sizeof(ra->wait_topic), "%s",
			 t->name);
		ra->wait_zkv = t->zk_version;
		return true;
	}
	/* Settled: the ISR and the leader within the replicas. */
	for (uint32_t i = 0; i < pv.nisr; i++)
		if (has(pv.rep, pv.nrep, pv.isr[i]))
			nisr[n++] = pv.isr[i];
	if (leader >= 0 && !has(pv.rep, pv.nrep, leader)) {
		int32_t nl = first_in_isr(v, &pv, pv.rep, pv.nrep);
		if (nl < 0)
			return false;
		return fmq_cluster_set_state(c->cl, t->name, p, nl,
					     t->leader_epoch[p] + 1, nisr, n,
					     t->state_version[p], state_done,
					     c) == 0;
	}
	if (n == pv.nisr || n == 0)
		return false;
	FMQ_INFO("ctrl", "%s-%u: removed replicas leave the ISR", t->name, p);
	return fmq_cluster_set_state(c->cl, t->name, p, leader,
				     t->leader_epoch[p], nisr, n,
				     t->state_version[p], state_done, c) == 0;
}

void
ctrl_reassign_poll(struct fmq_ctrl *c)
{
	struct ctrl_reassign *ra = ra_of(c);
	const struct fmq_cluster_view *v;

	if (c->cl == NULL || ra == NULL)
		return;
	if (ra->waiting != NULL)
		ar_check_waiting(c, ra);
	if (ra->busy)
		return;
	v = fmq_cluster_view(c->cl);
	if (!v->is_controller || v->sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    !v->fresh)
		return;
	for (uint32_t i = 0; i < v->ntopics; i++) {
		const struct fmq_cluster_topic *t = &v->topics[i];
		if (t->isr == NULL)
			continue;
		if (ra->wait_topic[0] != '\0' &&
		    strcmp(ra->wait_topic, t->name) == 0) {
			if (t->zk_version == ra->wait_zkv)
				continue;
			ra->wait_topic[0] = '\0';
		}
		for (uint32_t p = 0; p < t->nparts; p++)
			if (step(c, ra, v, t, p)) {
				ra->busy = true;
				return;
			}
	}
}

/* ------------------------------------------------- the APIs */

struct ar_req {
	struct ar_req *next;
	uint64_t deadline_ns;
	struct fmq_ctrl *c;
	struct fmq_bfwd *f;
	uint32_t pending;
	int32_t nt;
	struct ar_topic {
		struct ar_req *q;
		char name[FMQ_TOPIC_NAME_MAX + 1];
		int32_t np;
		int16_t werr;          /* of the topic's write */
		bool wrote;
		int32_t zkv;           /* the topic znode version written at */
		struct ar_part {
			int32_t part;
			int16_t err;
			const char *msg;
			bool written;
		} *p;
	} *t;
};

static void
ar_free(struct ar_req *q)
{
	for (int32_t i = 0; i < q->nt; i++)
		free(q->t[i].p);
	free(q->t);
	free(q);
}

static void
ar_respond(struct ar_req *q, int16_t top, const char *msg)
{
	struct fmq_ctrl *c = q->c;
	struct fmq_bfwd *f = q->f;
	struct fmq_kafka_alter_partition_reassignments_resp resp;
	ar_tresp_t
		*tr = calloc((size_t)(q->nt > 0 ? q->nt : 1), sizeof(*tr));
	uint32_t total = 0;

	for (int32_t i = 0; i < q->nt; i++)
		total += (uint32_t)q->t[i].np;
	ar_presp_t
		*pr = calloc(total ? total : 1, sizeof(*pr));
	if (tr == NULL || pr == NULL) {
		free(tr);
		free(pr);
		ctrl_close_conn(c, f);
		return;
	}
	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.error_code = top;
	resp.error_message = msg != NULL ? fmq_kafka_str(msg) :
		FMQ_KAFKA_STR_NULL;
	if (top == 0) {
		uint32_t at = 0;
		for (int32_t i = 0; i < q->nt; i++) {
			struct ar_topic *t = &q->t[i];
			tr[i].name = fmq_kafka_str(t->name);
			tr[i].partitions = &pr[at];
			tr[i].partitions_count = t->np;
			for (int32_t k = 0; k < t->np; k++, at++) {
				struct ar_part *e = &t->p[k];
				int16_t err = e->err;
				if (err == 0 && e->written)
					err = t->werr;
				pr[at].partition_index = e->part;
				pr[at].error_code = err;
				pr[at].error_message = e->msg != NULL &&
					err == e->err ? fmq_kafka_str(e->msg) :
					FMQ_KAFKA_STR_NULL;
			}
		}
		resp.responses = tr;
		resp.responses_count = q->nt;
	}
	ctrl_respond(c, f, &resp);
	free(tr);
	free(pr);
}

/* Every write is back: answer once the view shows the topics written
 * (a request right after this one must see them, as Kafka's controller
 * context does), or after 5 s. */
static void
ar_written(struct ar_req *q)
{
	struct ctrl_reassign *ra = q->c->reassign;

	q->deadline_ns = fmq_now_ns() + 5000000000ull;
	q->next = ra->waiting;
	ra->waiting = q;
}

static void
ar_check_waiting(struct fmq_ctrl *c, struct ctrl_reassign *ra)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	uint64_t now = fmq_now_ns();

	for (struct ar_req **pp = &ra->waiting; *pp != NULL;) {
		struct ar_req *q = *pp;
		bool seen = true;
		for (int32_t i = 0; i < q->nt && seen; i++) {
			const struct fmq_cluster_topic *t;
			if (!q->t[i].wrote || q->t[i].werr != 0)
				continue;
			t = fmq_cluster_topic(v, q->t[i].name);
			seen = t == NULL || t->zk_version != q->t[i].zkv;
		}
		if (!seen && now < q->deadline_ns) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		ar_respond(q, 0, NULL);
		ar_free(q);
	}
}

static void
ar_done(void *arg, int16_t kerr)
{
	struct ar_topic *t = arg;
	struct ar_req *q = t->q;

	t->werr = kerr;
	if (--q->pending == 0)
		ar_written(q);
}

/* One partition's new state in the topic arrays (width rf). */
static int16_t
ar_partition(const struct fmq_cluster_view *v,
	     const struct fmq_cluster_topic *t, uint16_t rf, int32_t part,
	     const int32_t *target, int32_t ntarget, int32_t *rep,
	     int32_t *add, int32_t *rem, const char **msg, bool *changed,
	     struct ctrl_reassign *ra)
{
	struct pview pv;
	int32_t u[2 * RMAX], a[RMAX], r[RMAX];
	uint32_t nu = 0, na = 0, nr = 0;
	size_t o = (size_t)part * rf;

	if (part < 0 || (uint32_t)part >= t->nparts) {
		*msg = "The partition does not exist.";
		return FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	pview_of(t, (uint32_t)part, &pv);
	if (ntarget < 0) {          /* cancel */
		if (pv.nadd == 0 && pv.nrem == 0)
			return FMQ_KERR_NO_REASSIGNMENT_IN_PROGRESS;
		set_row(&rep[o], rf, pv.orig, pv.norig);
		set_row(&add[o], rf, NULL, 0);
		set_row(&rem[o], rf, NULL, 0);
		*changed = true;
		ra->cancelled++;
		return 0;
	}
	if (ntarget == 0) {
		*msg = "Empty replica list specified in partition "
		       "reassignment.";
		return FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	for (int32_t i = 0; i < ntarget; i++) {
		if (has(target, (uint32_t)i, target[i])) {
			*msg = "Duplicate replica ids in partition "
			       "reassignment replica list.";
			return FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
		}
		if (!fmq_cluster_live(v, target[i])) {
			*msg = "The proposed assignment contains non-existent "
			       "brokerIDs.";
			return FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	/* Kafka's ReplicaAssignment.fromOriginalAndTarget. */
	for (int32_t i = 0; i < ntarget; i++)
		u[nu++] = target[i];
	for (uint32_t i = 0; i < pv.norig; i++)
		if (!has(target, (uint32_t)ntarget, pv.orig[i]))
			u[nu++] = r[nr++] = pv.orig[i];
	for (int32_t i = 0; i < ntarget; i++)
		if (!has(pv.orig, pv.norig, target[i]))
			a[na++] = target[i];
	if (nu > rf || nu > FMQ_BREPL_MAX) {
		*msg = "Too many replicas (target and original) for one "
		       "partition.";
		return FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (na == 0 && nr == 0 && pv.nadd == 0 && pv.nrem == 0 &&
	    memcmp(pv.rep, u, nu * sizeof(*u)) == 0)
		return 0;           /* already so */
	set_row(&rep[o], rf, u, nu);
	set_row(&add[o], rf, a, na);
	set_row(&rem[o], rf, r, nr);
	*changed = true;
	ra->started++;
	return 0;
}

void
ctrl_alter_reassignments(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_alter_partition_reassignments_req *req = reqp;
	struct ctrl_reassign *ra = ra_of(c);
	struct ar_req *q = calloc(1, sizeof(*q));
	int32_t nt = RTE_MAX(0, req->topics_count);

	if (q == NULL || ra == NULL ||
	    (q->t = calloc((size_t)(nt ? nt : 1), sizeof(*q->t))) == NULL) {
		free(q);
		ctrl_close_conn(c, f);
		return;
	}
	q->c = c;
	q->f = f;
	q->nt = nt;
	for (int32_t i = 0; i < nt; i++) {
		const ar_treq_t
			*rt = &req->topics[i];
		struct ar_topic *t = &q->t[i];
		char *name = ctrl_cstr(c, rt->name);
		t->np = RTE_MAX(0, rt->partitions_count);
		snprintf(t->name, sizeof(t->name), "%s",
			 name != NULL ? name : "");
		t->q = q;
		t->p = calloc((size_t)t->np + 1, sizeof(*t->p));
		if (t->p == NULL) {
			ar_free(q);
			ctrl_close_conn(c, f);
			return;
		}
		for (int32_t k = 0; k < t->np; k++)
			t->p[k].part = rt->partitions[k].partition_index;
	}
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_ALTER)) {
		ar_respond(q, FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED, NULL);
		ar_free(q);
		return;
	}
	if (c->cl == NULL || !fmq_cluster_view(c->cl)->is_controller) {
		ar_respond(q, FMQ_KERR_NOT_CONTROLLER, c->cl == NULL ?
			   "Partition reassignment needs a cluster "
			   "(zookeeper.connect)." : NULL);
		ar_free(q);
		return;
	}
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	q->pending = 1;
	for (int32_t i = 0; i < nt; i++) {
		const ar_treq_t
			*rt = &req->topics[i];
		struct ar_topic *at = &q->t[i];
		const struct fmq_cluster_topic *t = fmq_cluster_topic(v,
								      at->name);
		int32_t *rep, *add, *rem;
		bool changed = false;
		uint16_t rf;

		if (t == NULL) {
			for (int32_t k = 0; k < at->np; k++) {
				at->p[k].err =
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				at->p[k].msg = "The partition does not exist.";
			}
			continue;
		}
		/* Wide enough for every target plus its original. */
		rf = t->rf;
		for (int32_t k = 0; k < at->np; k++)
			if (rt->partitions[k].replicas_count > 0)
				rf = (uint16_t)RTE_MIN(RMAX, RTE_MAX(rf,
					(int32_t)t->rf +
					rt->partitions[k].replicas_count));
		if (arrays_of(t, rf, &rep, &add, &rem) < 0) {
			for (int32_t k = 0; k < at->np; k++)
				at->p[k].err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			continue;
		}
		for (int32_t k = 0; k < at->np; k++) {
			const ar_preq_t
				*rp = &rt->partitions[k];
			bool ch = false;
			at->p[k].err = ar_partition(v, t, rf,
				rp->partition_index, rp->replicas,
				rp->replicas_count, rep, add, rem,
				&at->p[k].msg, &ch, ra);
			at->p[k].written = ch;
			changed |= ch;
		}
		if (changed) {
			/* The new width must hold the longest list only. */
			uint16_t w = 1;
			for (uint32_t p = 0; p < t->nparts; p++)
				for (uint16_t r = 0; r < rf; r++)
					if (rep[(size_t)p * rf + r] >= 0 &&
					    r + 1 > w)
						w = (uint16_t)(r + 1);
			int32_t *r2 = malloc((size_t)t->nparts * w * 12);
			int16_t e = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			if (r2 != NULL) {
				int32_t *a2 = r2 + (size_t)t->nparts * w;
				int32_t *m2 = a2 + (size_t)t->nparts * w;
				for (uint32_t p = 0; p < t->nparts; p++)
					for (uint16_t r = 0; r < w; r++) {
						size_t s = (size_t)p * rf + r;
						size_t d = (size_t)p * w + r;
						r2[d] = rep[s];
						a2[d] = add[s];
						m2[d] = rem[s];
					}
				q->pending++;
				e = fmq_cluster_set_assignment(c->cl, at->name,
					w, r2, a2, m2, ar_done, at);
				if (e != 0) {
					q->pending--;
				} else {
					at->wrote = true;
					at->zkv = t->zk_version;
				}
				if (e == 0)
					FMQ_INFO("ctrl", "reassigning "
						 "partitions of %s",
						 at->name);
				free(r2);
			}
			if (e != 0)
				at->werr = e;
		}
		free(rep);
		free(add);
		free(rem);
	}
	if (--q->pending == 0)
		ar_written(q);
}

void
ctrl_list_reassignments(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_list_partition_reassignments_req *req = reqp;
	struct fmq_kafka_list_partition_reassignments_resp resp;
	const struct fmq_cluster_view *v;
	uint32_t total = 0, nt = 0, np = 0;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_DESCRIBE)) {
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		ctrl_respond(c, f, &resp);
		return;
	}
	if (c->cl == NULL || !fmq_cluster_view(c->cl)->is_controller) {
		/* Alone: no reassignment can be under way. */
		if (c->cl != NULL)
			resp.error_code = FMQ_KERR_NOT_CONTROLLER;
		ctrl_respond(c, f, &resp);
		return;
	}
	v = fmq_cluster_view(c->cl);
	for (uint32_t i = 0; i < v->ntopics; i++)
		total += v->topics[i].nparts;
	lr_tresp_t
		*tr = calloc(v->ntopics ? v->ntopics : 1, sizeof(*tr));
	lr_presp_t
		*pr = calloc(total ? total : 1, sizeof(*pr));
	struct pview *pv = calloc(total ? total : 1, sizeof(*pv));
	if (tr == NULL || pr == NULL || pv == NULL) {
		free(tr);
		free(pr);
		free(pv);
		ctrl_close_conn(c, f);
		return;
	}
	for (uint32_t i = 0; i < v->ntopics; i++) {
		const struct fmq_cluster_topic *t = &v->topics[i];
		int32_t want = -1;
		for (int32_t k = 0; req->topics_count >= 0 &&
		     k < req->topics_count; k++) {
			struct fmq_kafka_str n = req->topics[k].name;
			if (n.len == (int32_t)strlen(t->name) &&
			    memcmp(n.p, t->name, (size_t)n.len) == 0)
				want = k;
		}
		if (req->topics_count >= 0 && want < 0)
			continue;
		uint32_t first = np;
		for (uint32_t p = 0; p < t->nparts; p++) {
			bool asked = want < 0;
			for (int32_t k = 0; !asked && k < req->topics[want]
			     .partition_indexes_count; k++)
				asked = req->topics[want].partition_indexes[k]
					== (int32_t)p;
			pview_of(t, p, &pv[np]);
			if (!asked || (pv[np].nadd == 0 && pv[np].nrem == 0))
				continue;
			pr[np].partition_index = (int32_t)p;
			pr[np].replicas = pv[np].rep;
			pr[np].replicas_count = (int32_t)pv[np].nrep;
			pr[np].adding_replicas = pv[np].add;
			pr[np].adding_replicas_count = (int32_t)pv[np].nadd;
			pr[np].removing_replicas = pv[np].rem;
			pr[np].removing_replicas_count = (int32_t)pv[np].nrem;
			np++;
		}
		if (np == first)
			continue;
		tr[nt].name = fmq_kafka_str(t->name);
		tr[nt].partitions = &pr[first];
		tr[nt].partitions_count = (int32_t)(np - first);
		nt++;
	}
	resp.topics = tr;
	resp.topics_count = (int32_t)nt;
	ctrl_respond(c, f, &resp);
	free(tr);
	free(pr);
	free(pv);
}

void
ctrl_reassign_free(struct fmq_ctrl *c)
{
	if (c->reassign != NULL)
		while (c->reassign->waiting != NULL) {
			struct ar_req *q = c->reassign->waiting;
			c->reassign->waiting = q->next;
			ar_free(q);
		}
	free(c->reassign);
	c->reassign = NULL;
}

void
ctrl_reassign_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out)
{
	struct ctrl_reassign *ra = c->reassign;

	if (c->cl == NULL)
		return;
	fmq_metrics_one(out, "fluxmq_controller_reassignments_started_total",
			"counter", "Controller: partition reassignments "
			"started (AlterPartitionReassignments)",
			ra != NULL ? ra->started : 0);
	fmq_metrics_one(out,
			"fluxmq_controller_reassignments_completed_total",
			"counter", "Controller: partition reassignments "
			"completed (the target replicas alone)",
			ra != NULL ? ra->completed : 0);
	fmq_metrics_one(out,
			"fluxmq_controller_reassignments_cancelled_total",
			"counter", "Controller: partition reassignments "
			"cancelled", ra != NULL ? ra->cancelled : 0);
}
