/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replication on the control lcore (issue 17): the replication state of
 * each replicated partition hosted here (struct fmq_brepl, shared with
 * the data lcores), leader election when a leader's registration
 * disappears, the leader's ISR changes, and the truncation of a
 * follower's log when its leader changes. Every change of a partition's
 * state is a compare-and-set on its state znode (Kafka 2.6's way, with
 * no controller in between); the other brokers learn it by their watch.
 *
 * - Election: when the leader is not live, the first live ISR member in
 *   assignment order writes {leader: itself, leader_epoch + 1, isr: the
 *   ISR's live members} at the version it read. Only that broker tries,
 *   and a CAS at one version has one winner; everyone else sees the
 *   result through the watch. With no live ISR member the partition
 *   stays offline unless unclean.leader.election.enable lets the first
 *   live replica lead (leader epoch + 1).
 * - ISR (leader): every replica.lag.time.max.ms / 2, followers not
 *   caught up within replica.lag.time.max.ms leave, and a follower
 *   whose registration disappears leaves at once (Kafka's controller
 *   takes a dead broker out of every ISR); live replicas whose
 *   fetch offset reached the HW come back. While a CAS is in flight the
 *   snapshot keeps the old (larger) ISR, so the HW never counts a
 *   shrink before it is written (Kafka's "maximal ISR").
 * - Truncation (follower): a new leader epoch means the follower's log
 *   past its high watermark may never have been committed. The partition
 *   leaves the snapshot, is closed once no lcore holds it, cut at the HW
 *   (fmq_log_dir_truncate), reopened and published again; the fetcher
 *   then fetches from the new leader from there.
 */
#define FMQ_CTRL_INTERNAL
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "ctrl_priv.h"
#include "fmq_cluster.h"

struct crepl {
	struct crepl *next;
	struct fmq_brepl r;          /* shared with the data lcores */
	char dir[PATH_MAX];          /* its log dir (checkpoint file) */
	int32_t epoch_seen;          /* leader epoch last acted on */
	bool cas_pending;
	bool lead;                   /* led here at the last pass */
	uint64_t next_isr_ns;
};

#define CKPT_FILE "replication-offset-checkpoint"
#define CKPT_INTERVAL_NS (5000ull * 1000 * 1000)

struct ctrl_repl {
	struct crepl *head;
	uint64_t next_ckpt_ns;
	uint64_t isr_shrinks, isr_expands, elections, elections_lost;
	uint64_t truncations;
	uint64_t cas_failed;
	uint64_t epoch_truncations, unclean_elections;
};

static struct ctrl_repl *
repl_of(struct fmq_ctrl *c)
{
	if (c->repl == NULL)
		c->repl = calloc(1, sizeof(*c->repl));
	return c->repl;
}

static struct crepl *
crepl_find(struct fmq_ctrl *c, const char *topic, uint32_t p)
{
	struct ctrl_repl *cr = repl_of(c);

	if (cr == NULL)
		return NULL;
	for (struct crepl *x = cr->head; x != NULL; x = x->next)
		if (x->r.part == p && strcmp(x->r.topic, topic) == 0)
			return x;
	return NULL;
}

/*
 * Kafka's replication-offset-checkpoint in each log dir: "0", the count,
 * then "topic partition hw" lines. The HW it holds is at most the real
 * one (written every few seconds), so a replica that starts again cuts
 * its log there: what lies past it may never have been committed.
 */
static int64_t
ckpt_read(const char *dir, const char *topic, uint32_t p)
{
	char path[PATH_MAX + 64], t[FMQ_TOPIC_NAME_MAX + 1];
	unsigned int part;
	long long off;
	int64_t hw = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, CKPT_FILE);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%*d %*d") != 0) {
		fclose(f);
		return 0;
	}
	while (fscanf(f, "%249s %u %lld", t, &part, &off) == 3)
		if (part == p && strcmp(t, topic) == 0 && off >= 0)
			hw = (int64_t)off;
	fclose(f);
	return hw;
}

static void
ckpt_write(struct fmq_ctrl *c)
{
	struct ctrl_repl *cr = c->repl;

	/* One file per log dir, each written whole (atomic replace). */
	for (struct crepl *x = cr->head; x != NULL; x = x->next) {
		bool first = true;
		if (x->dir[0] == '\0')
			continue;
		for (struct crepl *y = cr->head; y != x; y = y->next)
			if (strcmp(y->dir, x->dir) == 0)
				first = false;
		if (!first)
			continue;
		size_t cap = 4096, len = 0, n = 0;
		char *buf = malloc(cap), *nb;
		if (buf == NULL)
			return;
		for (struct crepl *y = x; y != NULL; y = y->next) {
			if (strcmp(y->dir, x->dir) != 0 ||
			    atomic_load(&y->r.truncating) >= 0)
				continue;
			if (cap - len < FMQ_TOPIC_NAME_MAX + 64) {
				nb = realloc(buf, cap * 2);
				if (nb == NULL)
					break;
				buf = nb;
				cap *= 2;
			}
			len += (size_t)snprintf(buf + len, cap - len,
				"%s %u %" PRId64 "\n", y->r.topic, y->r.part,
				atomic_load(&y->r.hw));
			n++;
		}
		char head[32], path[PATH_MAX + 64];
		int hl = snprintf(head, sizeof(head), "0\n%zu\n", n);
		char *all = malloc(len + (size_t)hl);
		if (all != NULL) {
			memcpy(all, head, (size_t)hl);
			memcpy(all + hl, buf, len);
			snprintf(path, sizeof(path), "%s/%s", x->dir,
				 CKPT_FILE);
			if (fmq_file_replace(path, 0644, all,
					     len + (size_t)hl) < 0)
				FMQ_WARN("ctrl", "%s: %s", path,
					 strerror(errno));
		}
		free(all);
		free(buf);
	}
}

struct fmq_brepl *
ctrl_repl_get(struct fmq_ctrl *c, const char *topic, uint32_t p,
	      const int32_t *replicas, uint16_t n, const char *dir)
{
	struct ctrl_repl *cr = repl_of(c);
	struct crepl *x = crepl_find(c, topic, p);

	if (x != NULL) {
		/* Replicas added by a reassignment: tracked from now on
		 * (the entry is filled before npeers covers it). */
		for (uint16_t i = 0; i < n; i++) {
			uint16_t k = x->r.npeers;
			bool known = false;
			for (uint16_t j = 0; j < k; j++)
				known |= x->r.peer[j].id == replicas[i];
			if (known || k >= FMQ_BREPL_MAX)
				continue;
			x->r.peer[k].id = replicas[i];
			atomic_store(&x->r.peer[k].leo, -1);
			atomic_store(&x->r.peer[k].caught_up_ns, fmq_now_ns());
			__atomic_store_n(&x->r.npeers, k + 1,
					 __ATOMIC_RELEASE);
		}
		return &x->r;
	}
	if (cr == NULL || n > FMQ_BREPL_MAX)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	snprintf(x->r.topic, sizeof(x->r.topic), "%s", topic);
	x->r.part = p;
	x->r.self = (int32_t)c->cfg->node_id;
	snprintf(x->dir, sizeof(x->dir), "%s", dir != NULL ? dir : "");
	atomic_store(&x->r.hw, dir != NULL ? ckpt_read(dir, topic, p) : 0);
	atomic_store(&x->r.epoch, -1);
	atomic_store(&x->r.min_isr, 1);
	atomic_store(&x->r.truncating, -1);
	atomic_store(&x->r.truncate_to, -1);
	x->r.npeers = n;
	for (uint16_t i = 0; i < n; i++) {
		x->r.peer[i].id = replicas[i];
		atomic_store(&x->r.peer[i].leo, -1);
		atomic_store(&x->r.peer[i].caught_up_ns, fmq_now_ns());
	}
	x->epoch_seen = -1;
	x->next = cr->head;
	cr->head = x;
	return &x->r;
}

bool
ctrl_repl_truncating(struct fmq_ctrl *c, const char *topic, uint32_t p)
{
	struct crepl *x = crepl_find(c, topic, p);

	return x != NULL && atomic_load(&x->r.truncating) >= 0;
}

/* ------------------------------------------------------------ CAS */

struct cas_arg {
	struct fmq_ctrl *c;
	struct crepl *x;
	int kind;      /* 0 election, 1 shrink, 2 expand, 3 unclean */
};

static void
cas_done(void *arg, int rc, int32_t version)
{
	struct cas_arg *a = arg;
	struct ctrl_repl *cr = a->c->repl;

	(void)version;
	a->x->cas_pending = false;
	if (rc == 0) {
		if (a->kind == 3)
			cr->unclean_elections++;
		if (a->kind == 0 || a->kind == 3)
			cr->elections++;
		else if (a->kind == 1)
			cr->isr_shrinks++;
		else
			cr->isr_expands++;
	} else {
		if (a->kind == 0 || a->kind == 3)
			cr->elections_lost++;
		cr->cas_failed++;
	}
	FMQ_INFO("ctrl", "%s-%u: %s %s", a->x->r.topic, a->x->r.part,
		 a->kind == 3 ? "unclean leader election" :
		 a->kind == 0 ? "leader election" : a->kind == 1 ?
		 "ISR shrink" : "ISR expand",
		 rc == 0 ? "written" : rc == 1 ?
		 "lost (the state changed first)" : "outcome unknown");
	free(a);
}

static void
cas(struct fmq_ctrl *c, struct crepl *x, int kind, int32_t leader,
    int32_t epoch, const int32_t *isr, uint32_t nisr, int32_t version)
{
	struct cas_arg *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return;
	a->c = c;
	a->x = x;
	a->kind = kind;
	if (fmq_cluster_set_state(c->cl, x->r.topic, x->r.part, leader, epoch,
				  isr, nisr, version, cas_done, a) < 0) {
		free(a);
		return;
	}
	x->cas_pending = true;
}

/* ------------------------------------------------------------ passes */

static const struct fmq_brepl_peer *
peer_of(const struct fmq_brepl *r, int32_t id)
{
	for (uint16_t i = 0; i < r->npeers; i++)
		if (r->peer[i].id == id)
			return &r->peer[i];
	return NULL;
}

/* An ISR member other than self whose registration is gone. */
static bool
isr_member_gone(const struct fmq_cluster_view *v, const int32_t *isr,
		uint16_t rf, int32_t self)
{
	/* Only on a view read again since the last reconnection: one
	 * being re-read may not list every live broker yet. */
	if (!v->fresh)
		return false;
	for (uint16_t i = 0; i < rf && isr[i] >= 0; i++)
		if (isr[i] != self && !fmq_cluster_live(v, isr[i]))
			return true;
	return false;
}

/* Leader of p: drop followers not caught up within the lag (those whose
 * broker is gone at once), take back live replicas that reached the
 * HW. */
static void
isr_pass(struct fmq_ctrl *c, struct crepl *x,
	 const struct fmq_cluster_view *v, const struct fmq_cluster_topic *t,
	 uint32_t p, uint64_t now_ns)
{
	uint64_t lag_ns = c->cfg->replica_lag_time_max_ms * 1000000ull;
	const int32_t *isr = &t->isr[(size_t)p * t->rf];
	const int32_t *rep = &t->replicas[(size_t)p * t->rf];
	int32_t nisr[FMQ_CLUSTER_MAX_RF];
	uint32_t n = 0;
	bool shrink = false, expand = false, due;
	int64_t hw = atomic_load(&x->r.hw);

	if (x->cas_pending)
		return;
	/* Shrinks every lag/2 (or at once for a member gone); a replica
	 * that caught up is taken back on the next pass (100 ms), as
	 * Kafka expands the ISR on the fetch that reaches the HW: waiting
	 * for the shrink period added up to lag/2 to every rejoin. */
	due = now_ns >= x->next_isr_ns ||
		isr_member_gone(v, isr, t->rf, x->r.self);
	if (due)
		x->next_isr_ns = now_ns + lag_ns / 2;
	for (uint16_t i = 0; i < t->rf && isr[i] >= 0; i++) {
		const struct fmq_brepl_peer *pe = peer_of(&x->r, isr[i]);
		/* Signed: a data lcore may have stored a time later than
		 * this pass's now. A member whose broker is gone leaves at
		 * once, as Kafka's controller removes a dead broker from
		 * every ISR: else the HW, and every acks=all write, waits a
		 * whole lag for it. */
		if (due && isr[i] != x->r.self && pe != NULL &&
		    ((v->fresh && !fmq_cluster_live(v, isr[i])) ||
		     (int64_t)(now_ns - atomic_load(&pe->caught_up_ns)) >
		     (int64_t)lag_ns)) {
			shrink = true;
			continue;
		}
		nisr[n++] = isr[i];
	}
	for (uint16_t i = 0; i < t->rf && rep[i] >= 0; i++) {
		bool in = false;
		for (uint16_t j = 0; j < t->rf && isr[j] >= 0; j++)
			in |= isr[j] == rep[i];
		const struct fmq_brepl_peer *pe = peer_of(&x->r, rep[i]);
		if (in || pe == NULL || !fmq_cluster_live(v, rep[i]))
			continue;
		int64_t leo = atomic_load(&pe->leo);
		if (leo >= 0 && leo >= hw &&
		    (int64_t)(now_ns - atomic_load(&pe->caught_up_ns)) <=
		    (int64_t)lag_ns) {
			nisr[n++] = rep[i];
			expand = true;
		}
	}
	if (!shrink && !expand)
		return;
	cas(c, x, shrink ? 1 : 2, x->r.self, t->leader_epoch[p], nisr, n,
	    t->state_version[p]);
}

/* unclean.leader.election.enable of the partition's topic. */
static bool
unclean_allowed(struct fmq_ctrl *c, const struct crepl *x)
{
	const struct fmq_topic *ft = fmq_topics_find(c->topics, x->r.topic);

	if (ft == NULL)
		return c->cfg->unclean_leader_election_enable;
	return ft->cfg.unclean_leader_election_enable == 1;
}

/* The leader of p is gone: the first live ISR member in assignment
 * order takes over; with none, the first live replica if unclean
 * election is on, else nobody (offline). */
static void
elect_pass(struct fmq_ctrl *c, struct crepl *x,
	   const struct fmq_cluster_view *v, const struct fmq_cluster_topic *t,
	   uint32_t p)
{
	const int32_t *isr = &t->isr[(size_t)p * t->rf];
	const int32_t *rep = &t->replicas[(size_t)p * t->rf];
	int32_t nisr[FMQ_CLUSTER_MAX_RF];
	int32_t first = -1;
	uint32_t n = 0;

	if (x->cas_pending || t->state_version[p] < 0)
		return;
	for (uint16_t i = 0; i < t->rf && rep[i] >= 0 && first < 0; i++) {
		bool in = false;
		for (uint16_t j = 0; j < t->rf && isr[j] >= 0; j++)
			in |= isr[j] == rep[i];
		if (in && fmq_cluster_live(v, rep[i]))
			first = rep[i];
	}
	if (first < 0 && unclean_allowed(c, x)) {
		/* Unclean: the first live replica, alone in the ISR. */
		for (uint16_t i = 0; i < t->rf && rep[i] >= 0 && first < 0;
		     i++)
			if (fmq_cluster_live(v, rep[i]))
				first = rep[i];
		if (first != x->r.self)
			return;
		nisr[n++] = x->r.self;
		FMQ_WARN("ctrl", "%s-%u: no in-sync replica is alive; unclean "
			 "leader election: taking over with leader epoch %d "
			 "(writes only the ISR had are lost)", t->name, p,
			 t->leader_epoch[p] + 1);
		cas(c, x, 3, x->r.self, t->leader_epoch[p] + 1, nisr, n,
		    t->state_version[p]);
		return;
	}
	if (first != x->r.self)
		return;
	for (uint16_t j = 0; j < t->rf && isr[j] >= 0; j++)
		if (fmq_cluster_live(v, isr[j]))
			nisr[n++] = isr[j];
	FMQ_INFO("ctrl", "%s-%u: leader %d is gone; taking over with leader "
		 "epoch %d", t->name, p, t->leader[p],
		 t->leader_epoch[p] + 1);
	cas(c, x, 0, x->r.self, t->leader_epoch[p] + 1, nisr, n,
	    t->state_version[p]);
}

/* Cut a follower's log back to `to` (its leader's diverging epoch), or
 * to its HW (to < 0: a log without epochs, or an offset out of range). */
static void
truncate_start(struct fmq_ctrl *c, struct crepl *x, int64_t to)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, x->r.topic);
	bool by_epoch = to >= 0;

	if (!by_epoch)
		to = atomic_load(&x->r.hw);

	if (ct == NULL || x->r.part >= ct->nparts ||
	    ct->parts[x->r.part] == NULL)
		return;
	struct fmq_log_offsets lo;
	fmq_log_part_offsets(ct->parts[x->r.part], &lo);
	if (lo.high_watermark <= to)
		return;      /* nothing past the HW */
	atomic_store(&x->r.truncating, to);
	c->repl->truncations++;
	if (by_epoch)
		c->repl->epoch_truncations++;
	FMQ_INFO("ctrl", "%s-%u: truncating the log from %" PRId64 " to %"
		 PRId64 " (%s)", x->r.topic, x->r.part, lo.high_watermark, to,
		 by_epoch ? "where it diverged from the leader's, by leader "
		 "epoch" : "the high watermark");
	ctrl_defer_truncate(c, x->r.topic, x->r.part, to);
}

static bool
follower_has_epochs(struct fmq_ctrl *c, const struct crepl *x)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, x->r.topic);

	return ct != NULL && x->r.part < ct->nparts &&
		ct->parts[x->r.part] != NULL &&
		fmq_log_epoch_latest(ct->parts[x->r.part]) >= 0;
}

void
ctrl_repl_truncated(struct fmq_ctrl *c, const char *topic, uint32_t p,
		    const char *dir, int64_t to)
{
	struct crepl *x = crepl_find(c, topic, p);
	const struct fmq_topic *t = fmq_topics_find(c->topics, topic);
	int64_t end = fmq_log_dir_truncate(dir, to);

	if (end < 0)
		FMQ_ERR("ctrl", "%s: truncate to %" PRId64 ": %s", dir, to,
			strerror((int)-end));
	if (x != NULL)
		atomic_store(&x->r.truncating, -1);
	if (t != NULL && ctrl_open_one(c, t, p) < 0)
		FMQ_ERR("ctrl", "%s-%u: cannot reopen after truncation",
			topic, p);
	(void)ctrl_publish(c);
}

/* A partition requested truncation from the data path (its fetch
 * offset was past the leader's log end). */
void
ctrl_repl_request_truncate(struct fmq_ctrl *c, struct fmq_brepl *r)
{
	struct crepl *x = container_of(r, struct crepl, r);

	if (atomic_load(&r->truncating) < 0)
		truncate_start(c, x, -1);
}

uint64_t
ctrl_repl_poll(struct fmq_ctrl *c, uint64_t now_ns)
{
	const struct fmq_cluster_view *v;
	struct ctrl_repl *cr = c->repl;

	if (c->cl == NULL || cr == NULL)
		return UINT64_MAX;
	v = fmq_cluster_view(c->cl);
	if (now_ns >= cr->next_ckpt_ns) {
		cr->next_ckpt_ns = now_ns + CKPT_INTERVAL_NS;
		ckpt_write(c);
	}
	if (v->sess != FMQ_CLUSTER_SESS_CONNECTED || !v->registered)
		return 100000;
	for (struct crepl *x = cr->head; x != NULL; x = x->next) {
		const struct fmq_cluster_topic *t =
			fmq_cluster_topic(v, x->r.topic);
		uint32_t p = x->r.part;

		if (t == NULL || p >= t->nparts || t->isr == NULL)
			continue;
		if (atomic_load(&x->r.truncating) >= 0)
			continue;
		int32_t leader = t->leader[p];
		if (atomic_exchange(&x->r.want_truncate, 0) != 0 &&
		    leader != x->r.self)
			truncate_start(c, x,
				atomic_exchange(&x->r.truncate_to, -1));
		if (leader < 0 || !fmq_cluster_live(v, leader)) {
			elect_pass(c, x, v, t, p);
			continue;
		}
		if (leader == x->r.self) {
			if (!x->lead || x->epoch_seen != t->leader_epoch[p]) {
				/* A new leadership: every follower gets a
				 * full lag to show up (the data lcore resets
				 * them too when it sees the snapshot). */
				for (uint16_t k = 0; k < x->r.npeers; k++)
					atomic_store(&x->r.peer[k].caught_up_ns,
						     now_ns);
				x->next_isr_ns = now_ns +
					c->cfg->replica_lag_time_max_ms *
					500000ull;
			}
			x->lead = true;
			x->epoch_seen = t->leader_epoch[p];
			isr_pass(c, x, v, t, p, now_ns);
			continue;
		}
		/* Following: a leader epoch newer than the one seen means a
		 * new leader, and the first one seen (start-up) a log that
		 * may hold what was never committed. With leader epochs in
		 * the log the fetch finds where it diverged (KIP-101: the
		 * leader answers a diverging epoch) and cuts exactly there;
		 * a log without them is cut back to the HW (checkpointed, at
		 * start-up), as before KIP-101. */
		if ((x->epoch_seen < 0 || t->leader_epoch[p] > x->epoch_seen) &&
		    !follower_has_epochs(c, x))
			truncate_start(c, x, -1);
		x->lead = false;
		x->epoch_seen = t->leader_epoch[p];
	}
	return 100000;
}

void
ctrl_repl_free(struct fmq_ctrl *c)
{
	struct ctrl_repl *cr = c->repl;

	if (cr == NULL)
		return;
	while (cr->head != NULL) {
		struct crepl *x = cr->head;
		cr->head = x->next;
		free(x);
	}
	free(cr);
	c->repl = NULL;
}

static uint64_t
sum_peers_lag(const struct fmq_brepl *r, int64_t leo)
{
	uint64_t lag = 0;

	for (uint16_t i = 0; i < r->npeers; i++) {
		int64_t l = atomic_load(&r->peer[i].leo);
		if (r->peer[i].id != r->self && l >= 0 && leo > l)
			lag += (uint64_t)(leo - l);
	}
	return lag;
}

/* Per follower of a led partition: messages it is behind the leader's
 * log end (Kafka's replica lag, seen from the leader). */
static void
peers_lag_metrics(struct fmq_metrics_out *out, const struct fmq_brepl *r,
		      const char *plbl, int64_t leo)
{
	char lbl[FMQ_BROKER_TOPIC_MAX + 96];

	for (uint16_t i = 0; i < r->npeers; i++) {
		int64_t l = atomic_load(&r->peer[i].leo);
		if (r->peer[i].id == r->self)
			continue;
		snprintf(lbl, sizeof(lbl), "%s,replica=\"%d\"", plbl,
			 r->peer[i].id);
		fmq_metrics_f64(out, "fluxmq_replica_lag_messages", lbl,
				l < 0 ? -1.0 : (double)(leo > l ? leo - l : 0));
	}
}

/* Per led partition: kind 0 follower lag, 1 high watermark, 2 the lag
 * of each follower. */
static void
metrics_parts(struct fmq_ctrl *c, struct fmq_metrics_out *out, int kind,
	      uint64_t *under)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);

	for (struct crepl *x = c->repl->head; x != NULL; x = x->next) {
		const struct fmq_cluster_topic *t =
			fmq_cluster_topic(v, x->r.topic);
		uint32_t p = x->r.part;
		struct ctrl_topic *ct = ctrl_topic_find(c, x->r.topic);
		struct fmq_log_offsets lo = { 0 };
		char lbl[FMQ_BROKER_TOPIC_MAX + 64];

		if (t == NULL || p >= t->nparts || t->leader[p] != x->r.self)
			continue;
		if (ct != NULL && p < ct->nparts && ct->parts[p] != NULL)
			fmq_log_part_offsets(ct->parts[p], &lo);
		uint16_t nisr = 0, nrep = 0;
		for (uint16_t r = 0; r < t->rf; r++) {
			nisr += t->isr[(size_t)p * t->rf + r] >= 0;
			nrep += t->replicas[(size_t)p * t->rf + r] >= 0;
		}
		if (under != NULL && nisr < nrep)
			(*under)++;
		snprintf(lbl, sizeof(lbl), "topic=\"%s\",partition=\"%u\"",
			 x->r.topic, p);
		if (kind == 0)
			fmq_metrics_u64(out,
				"fluxmq_replica_follower_lag_messages", lbl,
				sum_peers_lag(&x->r, lo.high_watermark));
		else if (kind == 2)
			peers_lag_metrics(out, &x->r, lbl,
					      lo.high_watermark);
		else
			fmq_metrics_u64(out, "fluxmq_replica_high_watermark",
				lbl, (uint64_t)atomic_load(&x->r.hw));
	}
}

uint64_t
ctrl_repl_elections(const struct fmq_ctrl *c)
{
	return c->repl != NULL ? c->repl->elections : 0;
}

void
ctrl_repl_metrics(struct fmq_ctrl *c, struct fmq_metrics_out *out)
{
	struct ctrl_repl *cr = c->repl;
	uint64_t under = 0, elections = 0, shrinks = 0, expands = 0;
	uint64_t truncs = 0, failed = 0;

	if (c->cl == NULL)
		return;
	if (cr != NULL) {
		fmq_metrics_family(out,
			"fluxmq_replica_follower_lag_messages", "gauge",
			"Leader: messages its followers are behind its log "
			"end (summed over them, as of their last Fetch), per "
			"partition");
		metrics_parts(c, out, 0, &under);
		fmq_metrics_family(out, "fluxmq_replica_high_watermark",
			"gauge", "Leader: the high watermark of each "
			"replicated partition led here");
		metrics_parts(c, out, 1, NULL);
		fmq_metrics_family(out, "fluxmq_replica_lag_messages",
			"gauge", "Leader: messages each follower is behind "
			"its log end, as of the follower's last Fetch (-1 "
			"before its first)");
		metrics_parts(c, out, 2, NULL);
		elections = cr->elections;
		shrinks = cr->isr_shrinks;
		expands = cr->isr_expands;
		truncs = cr->truncations;
		failed = cr->cas_failed;
	}
	fmq_metrics_one(out, "fluxmq_replica_under_replicated_partitions",
			"gauge", "Partitions led here whose ISR is smaller "
			"than their replica list", under);
	fmq_metrics_one(out, "fluxmq_replica_isr_shrinks_total", "counter",
			"ISR shrinks written by this broker as leader",
			shrinks);
	fmq_metrics_one(out, "fluxmq_replica_isr_expands_total", "counter",
			"ISR expansions written by this broker as leader",
			expands);
	fmq_metrics_one(out, "fluxmq_replica_leader_elections_total",
			"counter", "Leader elections won by this broker (it "
			"took over a partition whose leader was gone)",
			elections);
	fmq_metrics_one(out, "fluxmq_replica_truncations_total", "counter",
			"Follower logs cut back to their high watermark under "
			"a new leader", truncs);
	fmq_metrics_one(out, "fluxmq_replica_state_cas_failed_total",
			"counter", "Partition state compare-and-sets lost or "
			"with an unknown outcome", failed);
	fmq_metrics_one(out, "fluxmq_replica_unclean_leader_elections_total",
			"counter", "Of the elections won, those with no live "
			"in-sync replica (unclean.leader.election.enable)",
			cr != NULL ? cr->unclean_elections : 0);
	fmq_metrics_one(out, "fluxmq_replica_epoch_truncations_total",
			"counter", "Of the truncations, those cut where the "
			"log diverged from the leader's (leader epochs)",
			cr != NULL ? cr->epoch_truncations : 0);
}
