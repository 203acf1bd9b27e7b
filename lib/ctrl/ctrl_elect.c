/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader elections the controller runs (issue 17), as Kafka 3.4's
 * ZooKeeper-mode controller does (KafkaController
 * processReplicaLeaderElection, checkAndTriggerAutoLeaderRebalance):
 *
 * - ElectLeaders (API 43). Type 0 (preferred): the first replica of the
 *   assignment leads if it is live and in the ISR (else
 *   PREFERRED_LEADER_NOT_AVAILABLE; ELECTION_NOT_NEEDED when it leads
 *   already). Type 1 (unclean), only for a partition whose leader is not
 *   live (else ELECTION_NOT_NEEDED): the first live ISR member in
 *   assignment order, else (no ISR member live) the first live replica
 *   with the ISR reduced to it (elect_unclean(); ELIGIBLE_LEADERS_NOT_
 *   AVAILABLE when none is live). A null topic list means every
 *   partition, and then ELECTION_NOT_NEEDED results are left out.
 * - Automatic rebalance (auto.leader.rebalance.enable): every
 *   leader.imbalance.check.interval.seconds, for each broker the share
 *   of the partitions it is preferred for but does not lead; above
 *   leader.imbalance.per.broker.percentage, a preferred election of
 *   those whose preferred replica is live and in the ISR.
 *
 * The leader change is the controller's compare-and-set on the
 * partition's state znode at the version read: {leader: the chosen one,
 * leader_epoch + 1, the ISR}. Nothing is sent to the brokers: the old
 * leader sees through its watch that another broker leads under a newer
 * epoch and follows (its log cut back to its HW, ctrl_repl.c), the new
 * one starts leading. A CAS that loses (the state changed first: an ISR
 * change, a failover) is decided again on the new state once the watch
 * brought it; an ElectLeaders request is answered when every partition
 * is decided, or REQUEST_TIMED_OUT at its timeout for those that are
 * not.
 */
#define FMQ_CTRL_INTERNAL
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "ctrl_priv.h"
#include "fmq_cluster.h"

enum { EL_PREFERRED = 0, EL_UNCLEAN = 1 };
enum { K_CLEAN, K_PREFERRED, K_UNCLEAN, K_N };

struct el_part {
	char topic[FMQ_TOPIC_NAME_MAX + 1];
	int32_t part;
	int16_t err;
	const char *msg;        /* static text, or NULL */
	int state;              /* 0 decided, 1 CAS in flight, 2 decide again */
	int32_t tried_version;  /* state znode version of the last CAS */
	int32_t target;         /* the leader it tried to install */
};

struct el_req {
	struct el_req *next;
	struct ctrl_elect *ce;
	struct fmq_bfwd *f;     /* NULL: automatic rebalance */
	int type;
	bool all;               /* null topic list */
	uint64_t deadline_ns;
	uint32_t n, inflight;
	struct el_part *p;
};

struct el_cas {
	struct el_req *q;
	uint32_t i;
	int kind;
};

struct ctrl_elect {
	struct fmq_ctrl *c;
	struct el_req *reqs;
	bool was_controller;
	bool closing;              /* ctrl_elect_free: completions only */
	uint64_t next_check_ns;
	uint64_t elections[K_N];
	uint64_t failed;
	uint64_t auto_runs;
};

static struct ctrl_elect *
elect_of(struct fmq_ctrl *c)
{
	if (c->elect == NULL) {
		c->elect = calloc(1, sizeof(*c->elect));
		if (c->elect != NULL)
			c->elect->c = c;
	}
	return c->elect;
}

static bool
in_list(const int32_t *l, uint16_t n, int32_t id)
{
	for (uint16_t i = 0; i < n && l[i] >= 0; i++)
		if (l[i] == id)
			return true;
	return false;
}

/* Kafka's PartitionLeaderElectionAlgorithms.preferredReplicaPartition
 * LeaderElection: the first replica, if live and in the ISR; -1 else. */
static int32_t
elect_preferred(const struct fmq_cluster_view *v,
		const struct fmq_cluster_topic *t, uint32_t p)
{
	const int32_t *rep = &t->replicas[(size_t)p * t->rf];
	const int32_t *isr = &t->isr[(size_t)p * t->rf];

	if (rep[0] >= 0 && fmq_cluster_live(v, rep[0]) &&
	    in_list(isr, t->rf, rep[0]))
		return rep[0];
	return -1;
}

/*
 * Kafka's offlinePartitionLeaderElection with unclean allowed (an
 * ElectLeaders of type 1 from a client): the first live ISR member in
 * assignment order, ISR = its live members; only when none is live, the
 * first live replica, ISR = itself (*unclean set). -1: none is live.
 */
static int32_t
elect_unclean(const struct fmq_cluster_view *v,
	      const struct fmq_cluster_topic *t, uint32_t p, int32_t *nisr,
	      uint32_t *n, bool *unclean)
{
	const int32_t *rep = &t->replicas[(size_t)p * t->rf];
	const int32_t *isr = &t->isr[(size_t)p * t->rf];

	*n = 0;
	*unclean = false;
	for (uint16_t i = 0; i < t->rf && rep[i] >= 0; i++) {
		if (!in_list(isr, t->rf, rep[i]) ||
		    !fmq_cluster_live(v, rep[i]))
			continue;
		for (uint16_t j = 0; j < t->rf && isr[j] >= 0; j++)
			if (fmq_cluster_live(v, isr[j]))
				nisr[(*n)++] = isr[j];
		return rep[i];
	}
	for (uint16_t i = 0; i < t->rf && rep[i] >= 0; i++) {
		if (!fmq_cluster_live(v, rep[i]))
			continue;
		nisr[0] = rep[i];
		*n = 1;
		*unclean = true;
		return rep[i];
	}
	return -1;
}

static void req_maybe_finish(struct el_req *q);
static void req_unlink(struct ctrl_elect *ce, struct el_req *q);

static void
cas_done(void *arg, int rc, int32_t version)
{
	struct el_cas *a = arg;
	struct el_req *q = a->q;
	struct el_part *e = &q->p[a->i];
	struct ctrl_elect *ce = q->ce;

	(void)version;
	q->inflight--;
	if (ce->closing) {
		free(a);
		if (q->inflight == 0) {
			req_unlink(ce, q);
			free(q->p);
			free(q);
		}
		if (ce->reqs == NULL) {
			free(ce);
		}
		return;
	}
	if (rc == 0) {
		e->state = 0;
		e->err = 0;
		e->msg = NULL;
		ce->elections[a->kind]++;
		FMQ_INFO("ctrl", "%s-%d: %s election: broker %d leads",
			 e->topic, e->part, a->kind == K_PREFERRED ?
			 "preferred" : a->kind == K_UNCLEAN ? "unclean" :
			 "clean", e->target);
	} else if (rc == 1) {
		e->state = 2;      /* decide again on the new state */
	} else {
		ce->failed++;
		e->state = 0;
		e->err = FMQ_KERR_REQUEST_TIMED_OUT;
		e->msg = "ZooKeeper did not answer: the outcome is unknown "
			 "(see Metadata).";
	}
	free(a);
	req_maybe_finish(q);
}

/* Decide one partition on the current view: a result, or a CAS. */
static void
decide(struct el_req *q, uint32_t i)
{
	struct fmq_ctrl *c = q->ce->c;
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	struct el_part *e = &q->p[i];
	const struct fmq_cluster_topic *t = fmq_cluster_topic(v, e->topic);
	int32_t nisr[FMQ_CLUSTER_MAX_RF], leader;
	uint32_t n = 0, p;
	bool unclean = false;
	int kind;

	e->state = 0;
	e->msg = NULL;
	if (t == NULL || e->part < 0 || (uint32_t)e->part >= t->nparts) {
		e->err = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		e->msg = "The partition does not exist.";
		return;
	}
	p = (uint32_t)e->part;
	leader = t->leader[p];
	if (e->target >= 0 && leader == e->target) {
		/* A CAS of ours lost to a change that did the same. */
		e->err = 0;
		return;
	}
	if (q->type == EL_PREFERRED) {
		/* A dead leader is no leader (Kafka's controller writes -1
		 * for an offline partition; here nobody does). */
		if (leader == t->replicas[(size_t)p * t->rf] &&
		    fmq_cluster_live(v, leader)) {
			e->err = FMQ_KERR_ELECTION_NOT_NEEDED;
			return;
		}
		e->target = elect_preferred(v, t, p);
		if (e->target < 0) {
			e->err = FMQ_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
			e->msg = "Failed to elect leader for partition under "
				 "strategy PreferredReplicaPartitionLeader"
				 "ElectionStrategy: the preferred replica is "
				 "not live or not in the ISR.";
			return;
		}
		const int32_t *isr = &t->isr[(size_t)p * t->rf];
		for (uint16_t j = 0; j < t->rf && isr[j] >= 0; j++)
			nisr[n++] = isr[j];
		kind = K_PREFERRED;
	} else {
		if (leader >= 0 && fmq_cluster_live(v, leader)) {
			e->err = FMQ_KERR_ELECTION_NOT_NEEDED;
			return;
		}
		e->target = elect_unclean(v, t, p, nisr, &n, &unclean);
		if (e->target < 0) {
			e->err = FMQ_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
			e->msg = "Failed to elect leader for partition under "
				 "strategy OfflinePartitionLeaderElection"
				 "Strategy(true): no replica is live.";
			return;
		}
		kind = unclean ? K_UNCLEAN : K_CLEAN;
	}
	if (t->state_version[p] < 0) {
		e->state = 2;      /* its state is not read yet */
		e->tried_version = -1;
		return;
	}
	struct el_cas *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		e->err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		return;
	}
	a->q = q;
	a->i = i;
	a->kind = kind;
	e->tried_version = t->state_version[p];
	if (kind == K_UNCLEAN)
		FMQ_WARN("ctrl", "%s-%u: unclean election: no in-sync replica "
			 "is live; broker %d (not in the ISR) leads, what it "
			 "lacks is lost", e->topic, p, e->target);
	if (fmq_cluster_set_state(c->cl, e->topic, p, e->target,
				  t->leader_epoch[p] + 1, nisr, n,
				  t->state_version[p], cas_done, a) < 0) {
		free(a);
		e->err = FMQ_KERR_REQUEST_TIMED_OUT;
		e->msg = "ZooKeeper is not available.";
		return;
	}
	e->state = 1;
	q->inflight++;
}

static void
respond(struct fmq_ctrl *c, struct el_req *q, int16_t top)
{
	struct fmq_bfwd *f = q->f;
	struct fmq_kafka_elect_leaders_resp resp;
	struct fmq_kafka_elect_leaders_resp_replica_election_result *tr;
	struct fmq_kafka_elect_leaders_resp_partition_result *pr;
	const char *last = NULL;
	int32_t nt = 0;
	uint32_t np = 0;

	tr = calloc(q->n ? q->n : 1, sizeof(*tr));
	pr = calloc(q->n ? q->n : 1, sizeof(*pr));
	if (tr == NULL || pr == NULL) {
		free(tr);
		free(pr);
		ctrl_close_conn(c, f);
		return;
	}
	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.error_code = top;
	for (uint32_t i = 0; i < q->n; i++) {
		struct el_part *e = &q->p[i];
		if (q->all && e->err == FMQ_KERR_ELECTION_NOT_NEEDED)
			continue;
		if (last == NULL || strcmp(last, e->topic) != 0) {
			tr[nt].topic = fmq_kafka_str(e->topic);
			tr[nt].partition_result = &pr[np];
			nt++;
			last = e->topic;
		}
		pr[np].partition_id = e->part;
		pr[np].error_code = e->err;
		pr[np].error_message = e->msg != NULL ?
			fmq_kafka_str(e->msg) : FMQ_KAFKA_STR_NULL;
		tr[nt - 1].partition_result_count++;
		np++;
	}
	resp.replica_election_results = tr;
	resp.replica_election_results_count = nt;
	ctrl_respond(c, f, &resp);
	free(tr);
	free(pr);
}

static void
req_unlink(struct ctrl_elect *ce, struct el_req *q)
{
	for (struct el_req **pp = &ce->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			return;
		}
}

static void
req_maybe_finish(struct el_req *q)
{
	if (q->inflight > 0)
		return;
	for (uint32_t i = 0; i < q->n; i++)
		if (q->p[i].state != 0)
			return;
	req_unlink(q->ce, q);
	if (q->f != NULL && !q->ce->closing)
		respond(q->ce->c, q, 0);
	free(q->p);
	free(q);
}

static struct el_req *
req_new(struct ctrl_elect *ce, struct fmq_bfwd *f, int type, uint32_t n,
	uint64_t timeout_ms)
{
	struct el_req *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->p = calloc(n ? n : 1, sizeof(*q->p));
	if (q->p == NULL) {
		free(q);
		return NULL;
	}
	q->ce = ce;
	q->f = f;
	q->type = type;
	q->deadline_ns = fmq_now_ns() + timeout_ms * 1000000ull;
	return q;
}

static void
req_add(struct el_req *q, const char *topic, int32_t part)
{
	struct el_part *e = &q->p[q->n++];

	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	e->part = part;
	e->target = -1;
	e->tried_version = -1;
}

/* Decide every partition, then hold the request until the CASes are
 * back (a request with nothing in flight is answered at once). */
static void
req_start(struct ctrl_elect *ce, struct el_req *q)
{
	q->next = ce->reqs;
	ce->reqs = q;
	q->inflight++;         /* held while issuing */
	for (uint32_t i = 0; i < q->n; i++)
		decide(q, i);
	q->inflight--;
	req_maybe_finish(q);
}

void
ctrl_elect_leaders(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_elect_leaders_req *req = reqp;
	struct ctrl_elect *ce = elect_of(c);
	int type = f->api_version >= 1 ? req->election_type : EL_PREFERRED;
	const struct fmq_cluster_view *v;
	struct el_req *q;
	uint32_t n = 0;
	int16_t top = 0;

	if (ce == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	if (req->topic_partitions_count < 0) {
		if (c->cl != NULL) {
			v = fmq_cluster_view(c->cl);
			for (uint32_t i = 0; i < v->ntopics; i++)
				n += v->topics[i].nparts;
		} else {
			for (size_t i = 0; i < fmq_topics_count(c->topics);
			     i++)
				n += fmq_topics_at(c->topics, i)->nparts;
		}
	} else {
		for (int32_t i = 0; i < req->topic_partitions_count; i++)
			n += (uint32_t)RTE_MAX(0, req->topic_partitions[i]
					       .partitions_count);
	}
	q = req_new(ce, f, type, n, req->timeout_ms > 0 ?
		    (uint64_t)req->timeout_ms : 60000);
	if (q == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	q->all = req->topic_partitions_count < 0;
	if (q->all && c->cl != NULL) {
		v = fmq_cluster_view(c->cl);
		for (uint32_t i = 0; i < v->ntopics; i++)
			for (uint32_t p = 0; p < v->topics[i].nparts; p++)
				req_add(q, v->topics[i].name, (int32_t)p);
	} else if (q->all) {
		for (size_t i = 0; i < fmq_topics_count(c->topics); i++) {
			const struct fmq_topic *t = fmq_topics_at(c->topics, i);
			for (uint32_t p = 0; p < t->nparts; p++)
				req_add(q, t->name, (int32_t)p);
		}
	} else {
		for (int32_t i = 0; i < req->topic_partitions_count; i++) {
			const struct
			fmq_kafka_elect_leaders_req_topic_partitions *tp =
				&req->topic_partitions[i];
			char *name = ctrl_cstr(c, tp->topic);
			for (int32_t k = 0; k < tp->partitions_count; k++)
				req_add(q, name != NULL ? name : "",
					tp->partitions[k]);
		}
	}
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_ALTER))
		top = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
	else if (type != EL_PREFERRED && type != EL_UNCLEAN)
		top = FMQ_KERR_INVALID_REQUEST;
	else if (c->cl != NULL && !fmq_cluster_view(c->cl)->is_controller)
		top = FMQ_KERR_NOT_CONTROLLER;
	if (top != 0 || c->cl == NULL) {
		/* Kafka answers each partition with the error (and, for
		 * authorization, the top-level code too). Alone, this
		 * broker is every partition's only (preferred) replica. */
		for (uint32_t i = 0; i < q->n; i++) {
			struct el_part *e = &q->p[i];
			const struct fmq_topic *t =
				fmq_topics_find(c->topics, e->topic);
			e->err = top;
			if (top == 0)
				e->err = t == NULL || e->part < 0 ||
					(uint32_t)e->part >= t->nparts ?
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION :
					FMQ_KERR_ELECTION_NOT_NEEDED;
		}
		respond(c, q, top == FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED ?
			top : 0);
		if (top == FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED)
			FMQ_INFO("ctrl", "ElectLeaders refused: no ALTER on "
				 "the cluster");
		free(q->p);
		free(q);
		return;
	}
	FMQ_INFO("ctrl", "ElectLeaders (%s) for %s%u partition(s)",
		 type == EL_PREFERRED ? "preferred" : "unclean",
		 q->all ? "all " : "", q->n);
	req_start(ce, q);
}

/* ------------------------------------------------------- rebalance */

/* Kafka's checkAndTriggerAutoLeaderRebalance. */
static void
auto_rebalance(struct ctrl_elect *ce)
{
	struct fmq_ctrl *c = ce->c;
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	uint64_t pct = c->cfg->leader_imbalance_per_broker_percentage;
	uint32_t total = 0;
	struct el_req *q;

	for (uint32_t i = 0; i < v->ntopics; i++)
		total += v->topics[i].nparts;
	q = req_new(ce, NULL, EL_PREFERRED, total, 60000);
	if (q == NULL)
		return;
	for (uint32_t b = 0; b < v->nbrokers; b++) {
		int32_t id = v->brokers[b].id;
		uint32_t pref = 0, off = 0;
		for (uint32_t i = 0; i < v->ntopics; i++) {
			const struct fmq_cluster_topic *t = &v->topics[i];
			for (uint32_t p = 0; p < t->nparts; p++) {
				if (t->replicas[(size_t)p * t->rf] != id)
					continue;
				pref++;
				off += t->leader[p] != id;
			}
		}
		/* ratio > pct / 100, in integers */
		if (pref == 0 || (uint64_t)off * 100 <= pct * pref)
			continue;
		FMQ_INFO("ctrl", "broker %d leads %u of the %u partition(s) "
			 "it is preferred for (imbalance above %" PRIu64
			 " %%): preferred election", id, pref - off, pref,
			 pct);
		for (uint32_t i = 0; i < v->ntopics; i++) {
			const struct fmq_cluster_topic *t = &v->topics[i];
			for (uint32_t p = 0; p < t->nparts; p++)
				if (t->replicas[(size_t)p * t->rf] == id &&
				    t->leader[p] != id &&
				    elect_preferred(v, t, p) == id)
					req_add(q, t->name, (int32_t)p);
		}
	}
	if (q->n == 0) {
		free(q->p);
		free(q);
		return;
	}
	ce->auto_runs++;
	req_start(ce, q);
}

uint64_t
ctrl_elect_poll(struct fmq_ctrl *c, uint64_t now_ns)
{
	struct ctrl_elect *ce = c->elect;
	const struct fmq_cluster_view *v;
	uint64_t ival;

	if (c->cl == NULL)
		return UINT64_MAX;
	if (ce == NULL && (ce = elect_of(c)) == NULL)
		return UINT64_MAX;
	v = fmq_cluster_view(c->cl);
	/* Partitions whose CAS lost: decided again once the watch brought
	 * a newer state; past the deadline, REQUEST_TIMED_OUT. */
	for (struct el_req *q = ce->reqs, *nx; q != NULL; q = nx) {
		nx = q->next;
		bool late = now_ns >= q->deadline_ns;
		q->inflight++;
		for (uint32_t i = 0; i < q->n; i++) {
			struct el_part *e = &q->p[i];
			const struct fmq_cluster_topic *t;
			if (e->state != 2)
				continue;
			t = fmq_cluster_topic(v, e->topic);
			if (late || !v->is_controller) {
				e->state = 0;
				e->err = late ? FMQ_KERR_REQUEST_TIMED_OUT :
					FMQ_KERR_NOT_CONTROLLER;
				e->msg = NULL;
			} else if (t == NULL ||
				   (uint32_t)e->part >= t->nparts ||
				   t->state_version[e->part] !=
				   e->tried_version) {
				decide(q, i);
			}
		}
		q->inflight--;
		req_maybe_finish(q);
	}
	if (!v->is_controller || v->sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    !v->fresh) {
		ce->was_controller = false;
		return 100000;
	}
	ival = c->cfg->leader_imbalance_check_interval_seconds *
		1000000000ull;
	if (!ce->was_controller) {
		/* Kafka's first check comes 5 s after the failover. */
		ce->was_controller = true;
		ce->next_check_ns = now_ns + RTE_MIN(ival, 5000000000ull);
	}
	if (c->cfg->auto_leader_rebalance_enable &&
	    now_ns >= ce->next_check_ns) {
		ce->next_check_ns = now_ns + ival;
		if (ce->reqs == NULL)
			auto_rebalance(ce);
	}
	return 100000;
}

void
ctrl_elect_free(struct fmq_ctrl *c)
{
	struct ctrl_elect *ce = c->elect;

	if (ce == NULL)
		return;
	c->elect = NULL;
	/* Called before the ZooKeeper handle closes: the compare-and-sets
	 * still in flight complete then (ZCLOSING) and free what they
	 * hold, the last one the whole. */
	ce->closing = true;
	for (struct el_req *q = ce->reqs, *nx; q != NULL; q = nx) {
		nx = q->next;
		if (q->inflight == 0) {
			req_unlink(ce, q);
			free(q->p);
			free(q);
		}
	}
	if (ce->reqs == NULL)
		free(ce);
}

/* ------------------------------------------------------- metrics */

void
ctrl_elect_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out)
{
	struct ctrl_elect *ce = c->elect;
	const struct fmq_cluster_view *v;
	uint64_t imbalance = 0, reassigning = 0;
	static const char *const kn[K_N] = { "clean", "preferred", "unclean" };

	if (c->cl == NULL)
		return;
	v = fmq_cluster_view(c->cl);
	if (v->is_controller)
		for (uint32_t i = 0; i < v->ntopics; i++) {
			const struct fmq_cluster_topic *t = &v->topics[i];
			for (uint32_t p = 0; p < t->nparts; p++) {
				size_t o = (size_t)p * t->rf;
				imbalance += t->leader[p] != t->replicas[o];
				reassigning += t->adding != NULL &&
					(t->adding[o] >= 0 ||
					 t->removing[o] >= 0);
			}
		}
	fmq_metrics_family(out, "fluxmq_replica_leader_elections_by_type_total",
			   "counter", "Leader changes written by this broker, "
			   "by kind: clean (it took over a dead leader's "
			   "partition from the ISR, or an ElectLeaders type 1 "
			   "found an ISR member), preferred (ElectLeaders "
			   "type 0 or the automatic rebalance, as controller),"
			   " unclean (ElectLeaders type 1 chose a replica "
			   "outside the ISR)");
	for (int k = 0; k < K_N; k++) {
		char lbl[32];
		uint64_t n = ce != NULL ? ce->elections[k] : 0;
		if (k == K_CLEAN)
			n += ctrl_repl_elections(c);
		snprintf(lbl, sizeof(lbl), "type=\"%s\"", kn[k]);
		fmq_metrics_u64(out,
				"fluxmq_replica_leader_elections_by_type_total",
				lbl, n);
	}
	fmq_metrics_one(out, "fluxmq_controller_preferred_replica_imbalance",
			"gauge", "Controller: partitions whose leader is not "
			"their preferred replica (Kafka's "
			"PreferredReplicaImbalanceCount; 0 on other brokers)",
			imbalance);
	fmq_metrics_one(out, "fluxmq_controller_reassigning_partitions",
			"gauge", "Controller: partitions with a reassignment "
			"under way (adding_replicas or removing_replicas in "
			"their topic znode; 0 on other brokers)", reassigning);
	fmq_metrics_one(out, "fluxmq_controller_auto_rebalances_total",
			"counter", "Controller: automatic preferred elections "
			"started (auto.leader.rebalance.enable)",
			ce != NULL ? ce->auto_runs : 0);
	fmq_metrics_one(out, "fluxmq_controller_election_errors_total",
			"counter", "Controller: leader changes whose "
			"compare-and-set had an unknown outcome",
			ce != NULL ? ce->failed : 0);
}
