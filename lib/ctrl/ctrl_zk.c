/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control lcore in a cluster (zookeeper.connect set): the ZooKeeper
 * session of lib/cluster driven from the control loop, its socket in the
 * set the loop sleeps on, and the cluster view (live brokers, controller)
 * copied into every metadata snapshot. Without zookeeper.connect none of
 * this runs and the broker is the single node it always was.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <rte_common.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_cluster.h"

/* Wait for the first session and registration (start-up only). */
static int
wait_registered(struct fmq_ctrl *c, uint64_t timeout_ms, char *err,
		size_t errlen)
{
	uint64_t end = fmq_now_ns() + timeout_ms * 1000000ull;

	for (;;) {
		uint64_t us = fmq_cluster_poll(c->cl);
		const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);

		if (v->registered && v->topics_synced && v->cluster_id_known)
			return 0;
		if (fmq_now_ns() >= end) {
			snprintf(err, errlen, "no ZooKeeper session and "
				 "registration within %" PRIu64 " ms "
				 "(zookeeper.connection.timeout.ms + "
				 "zookeeper.session.timeout.ms); is ZooKeeper "
				 "up at %s?", timeout_ms,
				 c->cfg->zookeeper_connect);
			return -ETIMEDOUT;
		}
		short ev;
		struct pollfd p = { .fd = fmq_cluster_fd(c->cl, &ev) };
		p.events = ev;
		if (us > 100000)
			us = 100000;
		(void)poll(&p, p.fd >= 0 ? 1 : 0, (int)(us / 1000) + 1);
	}
}

/*
 * One cluster id for every broker: ZooKeeper's /cluster/id. A log dir
 * that holds no topic yet takes it (meta.properties rewritten); one that
 * holds topics of another cluster is refused, as Kafka refuses it
 * (InconsistentClusterIdException).
 */
static int
adopt_cluster_id(struct fmq_ctrl *c, char *err, size_t errlen)
{
	const char *zid = fmq_cluster_view(c->cl)->cluster_id;
	const char *mine = fmq_broker_cluster_id(c->b);
	int rc;

	if (strcmp(zid, mine) == 0)
		return 0;
	if (fmq_topics_count(c->topics) > 0) {
		fmq_config_error(c->cfg, "log.dirs", err, errlen,
				 "meta.properties says cluster.id=%s but the "
				 "cluster at %s is %s: this log belongs to "
				 "another cluster", mine,
				 c->cfg->zookeeper_connect, zid);
		return -EINVAL;
	}
	rc = ctrl_write_meta(c->cfg, zid, err, errlen);
	if (rc < 0)
		return rc;
	FMQ_INFO("ctrl", "cluster id %s (from ZooKeeper; this log dir had no "
		 "topic, its meta.properties now says so)", zid);
	fmq_broker_set_cluster_id(c->b, zid);
	return 0;
}

int
ctrl_zk_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	const struct fmq_config *cfg = c->cfg;
	const struct fmq_listeners *ls = fmq_broker_listeners(c->b);
	struct fmq_cluster_opts o = {
		.connect = cfg->zookeeper_connect,
		.node_id = (int32_t)cfg->node_id,
		.session_timeout_ms = (uint32_t)cfg->zookeeper_session_timeout_ms,
		.rack = cfg->broker_rack,
	};
	int rc;
	char hosts[FMQ_CLUSTER_CONNECT_MAX], chroot[FMQ_CLUSTER_CONNECT_MAX];
	char msg[256];

	c->wake_epfd = -1;
	c->zk_fd = -1;
	if (cfg->zookeeper_connect[0] == '\0')
		return 0;
	if (fmq_cluster_parse_connect(cfg->zookeeper_connect, hosts,
				      sizeof(hosts), chroot, sizeof(chroot),
				      msg, sizeof(msg)) < 0) {
		fmq_config_error(cfg, "zookeeper.connect", err, errlen, "%s",
				 msg);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < ls->n && i < FMQ_CLUSTER_MAX_EP; i++) {
		struct fmq_cluster_ep *e = &o.ep[o.nep++];

		snprintf(e->name, sizeof(e->name), "%s", ls->l[i].name);
		snprintf(e->proto, sizeof(e->proto), "%s",
			 fmq_sec_proto_name(ls->l[i].proto));
		snprintf(e->host, sizeof(e->host), "%s", ls->l[i].adv_host);
		e->port = ls->l[i].adv_port;
	}
	c->wake_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->wake_epfd < 0) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		return -errno;
	}
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.fd = fmq_broker_ctrl_fd(c->b) };
	if (epoll_ctl(c->wake_epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	snprintf(o.cluster_id, sizeof(o.cluster_id), "%s",
		 fmq_broker_cluster_id(c->b));
	c->cl = fmq_cluster_create(&o, msg, sizeof(msg));
	if (c->cl == NULL) {
		fmq_config_error(cfg, "zookeeper.connect", err, errlen, "%s",
				 msg);
		return -EINVAL;
	}
	/* The session within the connection timeout; then the
	 * registration, which after a fast restart waits for the previous
	 * run's session to expire: one session timeout more. */
	uint64_t ct = (cfg->zookeeper_connection_timeout_ms != 0 ?
		       cfg->zookeeper_connection_timeout_ms :
		       cfg->zookeeper_session_timeout_ms) +
		cfg->zookeeper_session_timeout_ms + 2000;
	FMQ_INFO("ctrl", "joining the cluster through ZooKeeper %s as broker "
		 "%" PRId64 " (waiting up to %" PRIu64 " ms)",
		 cfg->zookeeper_connect, cfg->node_id, ct);
	rc = wait_registered(c, ct, err, errlen);
	if (rc < 0)
		return rc;
	return adopt_cluster_id(c, err, errlen);
}

void
ctrl_zk_close(struct fmq_ctrl *c)
{
	fmq_cluster_free(c->cl);
	c->cl = NULL;
	if (c->wake_epfd >= 0)
		close(c->wake_epfd);
	c->wake_epfd = -1;
}

/* Keep the client's current socket (it changes on reconnects) in the
 * set the loop sleeps on. */
static void
track_fd(struct fmq_ctrl *c)
{
	short events;
	int fd = fmq_cluster_fd(c->cl, &events);
	struct epoll_event ev = { .events = 0, .data.fd = fd };

	if (fd == c->zk_fd && events == c->zk_events)
		return;
	if (c->zk_fd >= 0 && c->zk_fd != fd)
		(void)epoll_ctl(c->wake_epfd, EPOLL_CTL_DEL, c->zk_fd, NULL);
	c->zk_fd = fd;
	c->zk_events = events;
	if (fd < 0)
		return;
	if (events & POLLIN)
		ev.events |= EPOLLIN;
	if (events & POLLOUT)
		ev.events |= EPOLLOUT;
	/* A closed fd leaves the set by itself and its number may come
	 * back: ADD, or MOD when it is still there. */
	if (epoll_ctl(c->wake_epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
	    epoll_ctl(c->wake_epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		FMQ_WARN("ctrl", "cannot watch the ZooKeeper socket: %s",
			 strerror(errno));
}

/*
 * The leadership lease of replicated partitions: 2/3 of the session
 * timeout from when ZooKeeper was last heard from (ZooKeeper expires the
 * session a whole timeout after it last heard from us, and another
 * broker takes over only then), renewed on every pass that finds the
 * session connected, this broker registered and its view read again
 * since the last reconnection; not on a pass after a gap of a third of
 * the timeout (the loop was paused: the client may not have noticed its
 * session is gone). Counting from the pass instead would let a leader
 * cut off from ZooKeeper take writes until 4/3 of the timeout: the
 * client itself notices the silence only after 2/3.
 */
static void
lease(struct fmq_ctrl *c)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	uint64_t now = fmq_now_ns();
	uint64_t st = (uint64_t)(v->session_timeout_ms > 0 ?
		(uint64_t)v->session_timeout_ms :
		c->cfg->zookeeper_session_timeout_ms) * 1000000ull;
	bool gap = c->zk_pass_ns != 0 && now - c->zk_pass_ns > st / 3;

	c->zk_pass_ns = now;
	if (gap || v->sess != FMQ_CLUSTER_SESS_CONNECTED || !v->registered ||
	    !v->fresh || v->heard_ns == 0)
		return;
	fmq_broker_set_lease(c->b, v->heard_ns + st * 2 / 3);
}

uint64_t
ctrl_zk_poll(struct fmq_ctrl *c)
{
	uint64_t us;

	if (c->cl == NULL)
		return UINT64_MAX;
	us = fmq_cluster_poll(c->cl);
	track_fd(c);
	lease(c);
	if (fmq_cluster_view(c->cl)->version != c->cl_version) {
		c->cl_version = fmq_cluster_view(c->cl)->version;
		ctrl_zk_sync(c, true);
		if (ctrl_publish(c) < 0)
			c->cl_version--;   /* out of memory: next pass */
	}
	us = RTE_MIN(us, ctrl_repl_poll(c, fmq_now_ns()));
	us = RTE_MIN(us, ctrl_elect_poll(c, fmq_now_ns()));
	ctrl_reassign_poll(c);
	return us;
}

/* ----------------------------------------------------- producer ids */

static void
pid_answer(struct fmq_ctrl *c, struct fmq_bfwd *f, int16_t err, int64_t pid)
{
	struct fmq_kafka_init_producer_id_resp resp;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.error_code = err;
	resp.producer_id = err == 0 ? pid : -1;
	resp.producer_epoch = err == 0 ? 0 : -1;
	if (err == 0)
		c->st.producer_ids++;
	ctrl_respond(c, f, &resp);
}

static void
pid_claimed(void *arg, int16_t kerr, int64_t start, int64_t end)
{
	struct fmq_ctrl *c = arg;
	uint32_t n = c->npid_wait;

	c->pid_claiming = false;
	if (kerr == 0) {
		c->next_pid = start;
		c->pid_limit = end + 1;
		FMQ_INFO("ctrl", "producer ids %" PRId64 "..%" PRId64
			 " claimed from ZooKeeper", start, end);
	}
	c->npid_wait = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (c->next_pid < c->pid_limit)
			pid_answer(c, c->pid_wait[i], 0, c->next_pid++);
		else
			pid_answer(c, c->pid_wait[i], kerr != 0 ? kerr :
				   FMQ_KERR_COORDINATOR_LOAD_IN_PROGRESS, -1);
	}
}

/*
 * Ids come from the cluster's blocks (/latest_producer_id_block), never
 * from the local file: a block is claimed when this one runs out, and
 * the requests that arrive meanwhile wait for it (up to 64; more get the
 * retriable COORDINATOR_LOAD_IN_PROGRESS). Without ZooKeeper the claim
 * fails at once: COORDINATOR_NOT_AVAILABLE, the client retries.
 */
void
ctrl_zk_init_pid(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	int16_t e;

	if (c->next_pid < c->pid_limit) {
		pid_answer(c, f, 0, c->next_pid++);
		return;
	}
	if (c->npid_wait == RTE_DIM(c->pid_wait)) {
		pid_answer(c, f, FMQ_KERR_COORDINATOR_LOAD_IN_PROGRESS, -1);
		return;
	}
	c->pid_wait[c->npid_wait++] = f;
	if (c->pid_claiming)
		return;
	e = fmq_cluster_claim_pids(c->cl, CTRL_PID_BLOCK, pid_claimed, c);
	if (e != 0)
		pid_claimed(c, e, -1, -1);
	else
		c->pid_claiming = true;
}

/* Kafka's offsets.topic.num.partitions default. */
#define OFFSETS_PARTITIONS 50

/*
 * Kafka's GroupMetadataManager.partitionFor: Utils.abs(groupId.hashCode)
 * modulo the __consumer_offsets partitions (Java's String.hashCode over
 * the id's bytes: the same for ASCII ids). That partition goes to the
 * live brokers in id order, round robin, as a replication factor 1
 * placement starting at the first broker would put it. Every broker
 * computes it from the same live list, so all name the same coordinator
 * once their views agree; when the list changes groups may move (their
 * members rejoin at the new coordinator).
 */
int32_t
ctrl_zk_coordinator(struct fmq_ctrl *c, const char *key, int32_t len,
		    const struct fmq_listener *l, struct fmq_kafka_str *host,
		    int32_t *port)
{
	const struct fmq_cluster_view *v;
	const struct fmq_cluster_broker *br;
	uint32_t h = 0, e = 0;
	int32_t jh;

	if (c->cl == NULL) {
		*host = fmq_kafka_str(l->adv_host);
		*port = l->adv_port;
		return (int32_t)c->cfg->node_id;
	}
	v = fmq_cluster_view(c->cl);
	if (v->nbrokers == 0)
		return -1;
	for (int32_t i = 0; i < len; i++)
		h = h * 31u + (uint8_t)key[i];
	jh = (int32_t)h;
	jh = jh == INT32_MIN ? 0 : jh < 0 ? -jh : jh;
	br = &v->brokers[(uint32_t)(jh % OFFSETS_PARTITIONS) % v->nbrokers];
	if (br->nep == 0)
		return -1;
	for (uint32_t i = 0; i < br->nep; i++)
		if (strcmp(br->ep[i].name, l->name) == 0)
			e = i;
	*host = fmq_kafka_str(br->ep[e].host);
	*port = br->ep[e].port;
	return br->id;
}

int
ctrl_zk_fill(struct fmq_ctrl *c, struct fmq_bmeta *m)
{
	const struct fmq_cluster_view *v;

	m->nbrokers = 0;
	m->controller_id = (int32_t)c->cfg->node_id;
	if (c->cl == NULL)
		return 0;
	v = fmq_cluster_view(c->cl);
	/* This broker is listed even before its registration shows up in
	 * the live list (or while ZooKeeper is away): clients reach it. */
	m->brokers = calloc(v->nbrokers + 1, sizeof(*m->brokers));
	if (m->brokers == NULL)
		return -ENOMEM;
	bool self = false;
	for (uint32_t i = 0; i < v->nbrokers; i++) {
		const struct fmq_cluster_broker *cb = &v->brokers[i];
		struct fmq_bbroker *bb = &m->brokers[m->nbrokers++];

		bb->id = cb->id;
		self |= cb->id == (int32_t)c->cfg->node_id;
		snprintf(bb->rack, sizeof(bb->rack), "%s", cb->rack);
		for (uint32_t e = 0; e < cb->nep && e < RTE_DIM(bb->ep); e++) {
			snprintf(bb->ep[e].name, sizeof(bb->ep[e].name), "%s",
				 cb->ep[e].name);
			snprintf(bb->ep[e].host, sizeof(bb->ep[e].host), "%s",
				 cb->ep[e].host);
			bb->ep[e].port = cb->ep[e].port;
			bb->nep = e + 1;
		}
	}
	if (!self) {
		const struct fmq_listeners *ls = fmq_broker_listeners(c->b);
		struct fmq_bbroker *bb;
		uint32_t at = 0;

		while (at < m->nbrokers &&
		       m->brokers[at].id < (int32_t)c->cfg->node_id)
			at++;
		memmove(&m->brokers[at + 1], &m->brokers[at],
			(m->nbrokers - at) * sizeof(*m->brokers));
		m->nbrokers++;
		bb = &m->brokers[at];
		memset(bb, 0, sizeof(*bb));
		bb->id = (int32_t)c->cfg->node_id;
		snprintf(bb->rack, sizeof(bb->rack), "%.63s", c->cfg->broker_rack);
		for (uint32_t e = 0; e < ls->n && e < RTE_DIM(bb->ep); e++) {
			snprintf(bb->ep[e].name, sizeof(bb->ep[e].name), "%s",
				 ls->l[e].name);
			snprintf(bb->ep[e].host, sizeof(bb->ep[e].host), "%s",
				 ls->l[e].adv_host);
			bb->ep[e].port = ls->l[e].adv_port;
			bb->nep = e + 1;
		}
	}
	m->controller_id = v->controller_id;
	return 0;
}

int
fmq_ctrl_wake_fd(const struct fmq_ctrl *c)
{
	return c->wake_epfd >= 0 ? c->wake_epfd : fmq_broker_ctrl_fd(c->b);
}

/* ------------------------------------------------------- topics */

static bool
seen_before(struct fmq_ctrl *c, const char *name)
{
	for (uint32_t i = 0; i < c->zk_nseen; i++)
		if (strcmp(c->zk_seen[i], name) == 0)
			return true;
	return false;
}

static void
mark_seen(struct fmq_ctrl *c, const char *name)
{
	if (seen_before(c, name))
		return;
	char (*n)[FMQ_TOPIC_NAME_MAX + 1] = realloc(c->zk_seen,
		(c->zk_nseen + 1) * sizeof(*n));
	if (n == NULL)
		return;
	c->zk_seen = n;
	snprintf(c->zk_seen[c->zk_nseen++], sizeof(*n), "%s", name);
}

bool
ctrl_zk_hosted(struct fmq_ctrl *c, const char *topic, uint32_t p)
{
	const struct fmq_cluster_topic *t;

	if (c->cl == NULL)
		return true;
	t = fmq_cluster_topic(fmq_cluster_view(c->cl), topic);
	if (t == NULL || p >= t->nparts)
		return false;
	for (uint16_t r = 0; r < t->rf; r++)
		if (t->replicas[(size_t)p * t->rf + r] ==
		    (int32_t)c->cfg->node_id)
			return true;
	return false;
}

/*
 * Bring the local registry in line with ZooKeeper's topics: a topic new
 * there is created here (its configs from /config/topics) and the
 * partitions this broker hosts are opened; grown partition counts too; a
 * topic that left ZooKeeper while this broker watched is deleted here
 * (files too). A local topic ZooKeeper never had in this run (data from
 * before the cluster) is left alone and not served.
 */
int
ctrl_zk_sync(struct fmq_ctrl *c, bool open)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	char msg[512];
	int changes = 0;

	if (!v->topics_synced)
		return 0;
	for (uint32_t i = 0; i < v->ntopics; i++) {
		const struct fmq_cluster_topic *zt = &v->topics[i];
		const struct fmq_topic *t = fmq_topics_find(c->topics,
							    zt->name);
		mark_seen(c, zt->name);
		if (t == NULL) {
			struct fmq_cluster_kv kv[64];
			struct fmq_kv k[64];
			int n = zt->config != NULL ?
				fmq_cluster_config_parse(zt->config, kv, 64) : 0;
			for (int j = 0; j < n; j++) {
				k[j].key = kv[j].key;
				k[j].value = kv[j].val;
			}
			int16_t e = fmq_topics_create(c->topics, zt->name,
				(int32_t)zt->nparts, -1,
				(int32_t)c->cfg->num_partitions, k,
				n > 0 ? (size_t)n : 0, false, msg,
				sizeof(msg), &t);
			if (e != 0) {
				FMQ_ERR("ctrl", "topic %s from ZooKeeper: %s",
					zt->name, msg);
				continue;
			}
			c->st.topics_created++;
			if (open && ctrl_open_topic(c, t, 0) < 0)
				FMQ_ERR("ctrl", "cannot open topic %s",
					zt->name);
			changes++;
		} else if (t->nparts < zt->nparts) {
			uint32_t old = t->nparts;
			if (fmq_topics_add_partitions(c->topics, zt->name,
						      (int32_t)zt->nparts,
						      false, msg,
						      sizeof(msg)) != 0) {
				FMQ_ERR("ctrl", "topic %s from ZooKeeper: %s",
					zt->name, msg);
				continue;
			}
			c->st.partitions_added += zt->nparts - old;
			t = fmq_topics_find(c->topics, zt->name);
			if (open && ctrl_open_topic(c, t, old) < 0)
				FMQ_ERR("ctrl", "cannot open topic %s",
					zt->name);
			changes++;
		}
		/* Its configs as /config/topics has them (ctrl_zkcfg.c). */
		changes += ctrl_zkcfg_sync(c, zt->name, zt->config);
	}
	/* Local topics ZooKeeper no longer has. */
	size_t nt = fmq_topics_count(c->topics);
	char (*gone)[FMQ_TOPIC_NAME_MAX + 1] = calloc(nt ? nt : 1,
						      sizeof(*gone));
	size_t ng = 0;
	if (gone == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nt; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		if (fmq_cluster_topic(v, t->name) != NULL)
			continue;
		if (seen_before(c, t->name))
			snprintf(gone[ng++], sizeof(*gone), "%s", t->name);
		else if (!c->zk_warned)
			FMQ_WARN("ctrl", "topic %s is in %s but not in "
				 "ZooKeeper: not served (delete its files or "
				 "create it again)", t->name, c->dir);
	}
	c->zk_warned = true;
	for (size_t i = 0; i < ng; i++) {
		if (fmq_topics_delete(c->topics, gone[i], msg,
				      sizeof(msg)) != 0)
			continue;
		ctrl_drop_topic(c, gone[i], true);
		ctrl_groups_topic_deleted(c, gone[i]);
		c->st.topics_deleted++;
		FMQ_INFO("ctrl", "deleted topic %s (gone from ZooKeeper)",
			 gone[i]);
		changes++;
	}
	free(gone);
	if (open)
		changes += ctrl_reassign_sync(c);
	return changes;
}

/* A replicated partition open here: its shared replication state, and
 * its log as the follower's when another broker leads. */
static void
repl_attach(struct fmq_ctrl *c, const struct fmq_btopic *t, uint32_t p,
	    struct fmq_bpart *bp)
{
	const struct fmq_topic *ft = fmq_topics_find(c->topics, t->name);

	bp->repl = ctrl_repl_get(c, t->name, p, bp->replicas, bp->nreplicas,
				 fmq_log_part_log_dir(bp->log));
	if (bp->repl == NULL)
		return;
	if (ft != NULL)
		atomic_store(&bp->repl->min_isr,
			     (int32_t)ft->cfg.min_insync_replicas);
	atomic_store(&bp->repl->nisr, (int32_t)bp->nisr);
	if (bp->leader != (int32_t)c->cfg->node_id)
		bp->flog = bp->log;
}

/* Whether the topic's *.replication.throttled.replicas list this
 * broker for partition p (KIP-73; broker_rthrottle.c applies them). */
static void
rthr_flags(struct fmq_ctrl *c, const struct fmq_btopic *t, uint32_t p,
	   struct fmq_bpart *bp)
{
	const struct fmq_topic *ft = fmq_topics_find(c->topics, t->name);
	int32_t self = (int32_t)c->cfg->node_id;

	bp->rthr = 0;
	if (ft == NULL)
		return;
	if (fmq_broker_rthr_listed(
		ft->cfg.leader_replication_throttled_replicas.s, p, self))
		bp->rthr |= 1;
	if (fmq_broker_rthr_listed(
		ft->cfg.follower_replication_throttled_replicas.s, p, self))
		bp->rthr |= 2;
}

/*
 * Leader, replicas and ISR of every partition of a snapshot being built,
 * from ZooKeeper's view; the topic id is ZooKeeper's. A topic ZooKeeper
 * does not have gets no leader (LEADER_NOT_AVAILABLE).
 */
int
ctrl_zk_parts(struct fmq_ctrl *c, struct fmq_bmeta *m)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	size_t need = 1, at = 0;

	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct fmq_cluster_topic *zt =
			fmq_cluster_topic(v, m->topics[i].name);
		if (zt != NULL)
			need += (size_t)zt->nparts * zt->rf * 2;
	}
	m->ids = malloc(need * sizeof(*m->ids));
	if (m->ids == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->ntopics; i++) {
		struct fmq_btopic *t = &m->topics[i];
		const struct fmq_cluster_topic *zt =
			fmq_cluster_topic(v, t->name);

		if (zt != NULL)
			memcpy(t->id, zt->id, 16);
		for (uint32_t p = 0; p < t->nparts; p++) {
			struct fmq_bpart *bp = &t->parts[p];

			bp->leader = -1;
			bp->nreplicas = 0;
			bp->nisr = 0;
			bp->replicas = bp->isr = m->ids;
			if (zt == NULL || p >= zt->nparts)
				continue;
			bp->replicas = &m->ids[at];
			for (uint16_t r = 0; r < zt->rf; r++) {
				int32_t id = zt->replicas[(size_t)p * zt->rf +
							  r];
				if (id >= 0) {
					m->ids[at++] = id;
					bp->nreplicas++;
				}
			}
			bp->isr = bp->replicas;
			bp->nisr = bp->nreplicas;
			bp->leader = zt->leader[p];
			bp->leader_epoch = zt->leader_epoch[p];
			if (bp->nreplicas > 1 && zt->isr != NULL) {
				/* The ISR as its state znode says. */
				bp->isr = &m->ids[at];
				bp->nisr = 0;
				for (uint16_t r = 0; r < zt->rf; r++) {
					int32_t id = zt->isr[(size_t)p *
							     zt->rf + r];
					if (id >= 0) {
						m->ids[at++] = id;
						bp->nisr++;
					}
				}
				if (bp->log != NULL)
					repl_attach(c, t, p, bp);
			}
			rthr_flags(c, t, p, bp);
			/* Only a partition open here is led here. */
			if (bp->leader != (int32_t)c->cfg->node_id)
				bp->log = NULL;
		}
	}
	return 0;
}

/* --------------------------------------------------------- admin */

/* A request waiting for ZooKeeper: one result per topic. */
struct zk_res {
	struct zk_req *q;
	char name[FMQ_TOPIC_NAME_MAX + 1];
	uint8_t id[16];
	int16_t err;
	char msg[320];
	int32_t nparts;
	int16_t rf;
};

struct zk_req {
	struct fmq_ctrl *c;
	struct fmq_bfwd *f;
	int32_t n, pending;
	struct zk_res r[];
};

static void zk_req_finish(struct zk_req *q);

static void
zk_done(void *arg, int16_t kerr)
{
	struct zk_res *r = arg;

	r->err = kerr;
	if (kerr == FMQ_KERR_TOPIC_ALREADY_EXISTS)
		snprintf(r->msg, sizeof(r->msg), "Topic '%s' already exists.",
			 r->name);
	else if (kerr == FMQ_KERR_NOT_CONTROLLER)
		snprintf(r->msg, sizeof(r->msg), "This broker lost the "
			 "controller role meanwhile.");
	else if (kerr == FMQ_KERR_REQUEST_TIMED_OUT)
		snprintf(r->msg, sizeof(r->msg), "ZooKeeper did not answer: "
			 "the outcome is unknown (see Metadata).");
	else if (kerr != 0)
		snprintf(r->msg, sizeof(r->msg), "ZooKeeper write failed.");
	if (--r->q->pending == 0)
		zk_req_finish(r->q);
}

static struct zk_req *
zk_req_new(struct fmq_ctrl *c, struct fmq_bfwd *f, int32_t n)
{
	struct zk_req *q = calloc(1, sizeof(*q) + (size_t)(n > 0 ? n : 1) *
				  sizeof(q->r[0]));

	if (q == NULL)
		return NULL;
	q->c = c;
	q->f = f;
	q->n = n;
	q->pending = 1;      /* held until every topic is issued */
	for (int32_t i = 0; i < n; i++)
		q->r[i].q = q;
	return q;
}

static struct fmq_kafka_str
kstr(const char *s)
{
	return s[0] != '\0' ? fmq_kafka_str(s) : FMQ_KAFKA_STR_NULL;
}

static void
zk_req_finish(struct zk_req *q)
{
	struct fmq_ctrl *c = q->c;
	struct fmq_bfwd *f = q->f;

	switch (f->api_key) {
	case FMQ_KAFKA_API_CREATE_TOPICS: {
		struct fmq_kafka_create_topics_resp resp;
		struct fmq_kafka_create_topics_resp_creatable_topic_result *o =
			calloc((size_t)(q->n ? q->n : 1), sizeof(*o));
		if (o == NULL) {
			ctrl_close_conn(c, f);
			break;
		}
		fmq_kafka_init_response(f->api_key, f->api_version, &resp);
		resp.topics = o;
		resp.topics_count = q->n;
		for (int32_t i = 0; i < q->n; i++) {
			o[i].name = fmq_kafka_str(q->r[i].name);
			memcpy(o[i].topic_id.b, q->r[i].id, 16);
			o[i].error_code = q->r[i].err;
			o[i].error_message = kstr(q->r[i].msg);
			o[i].num_partitions = q->r[i].err ? -1 :
				q->r[i].nparts;
			o[i].replication_factor = q->r[i].err ? -1 :
				q->r[i].rf;
			o[i].configs_count = -1;
		}
		ctrl_respond(c, f, &resp);
		free(o);
		break;
	}
	case FMQ_KAFKA_API_DELETE_TOPICS: {
		struct fmq_kafka_delete_topics_resp resp;
		struct fmq_kafka_delete_topics_resp_deletable_topic_result *o =
			calloc((size_t)(q->n ? q->n : 1), sizeof(*o));
		if (o == NULL) {
			ctrl_close_conn(c, f);
			break;
		}
		fmq_kafka_init_response(f->api_key, f->api_version, &resp);
		resp.responses = o;
		resp.responses_count = q->n;
		for (int32_t i = 0; i < q->n; i++) {
			o[i].name = kstr(q->r[i].name);
			memcpy(o[i].topic_id.b, q->r[i].id, 16);
			o[i].error_code = q->r[i].err;
			o[i].error_message = kstr(q->r[i].msg);
		}
		ctrl_respond(c, f, &resp);
		free(o);
		break;
	}
	default: {
		struct fmq_kafka_create_partitions_resp resp;
		struct fmq_kafka_create_partitions_resp_create_partitions_topic_result
			*o = calloc((size_t)(q->n ? q->n : 1), sizeof(*o));
		if (o == NULL) {
			ctrl_close_conn(c, f);
			break;
		}
		fmq_kafka_init_response(f->api_key, f->api_version, &resp);
		resp.results = o;
		resp.results_count = q->n;
		for (int32_t i = 0; i < q->n; i++) {
			o[i].name = fmq_kafka_str(q->r[i].name);
			o[i].error_code = q->r[i].err;
			o[i].error_message = kstr(q->r[i].msg);
		}
		ctrl_respond(c, f, &resp);
		free(o);
		break;
	}
	}
	free(q);
}

static void
copy_name(char *out, struct fmq_kafka_str s)
{
	size_t l = s.len < 0 ? 0 : RTE_MIN((size_t)s.len,
					   (size_t)FMQ_TOPIC_NAME_MAX);
	if (l > 0)
		memcpy(out, s.p, l);
	out[l] = '\0';
}

/* Live broker ids and racks for the assignment. */
static uint32_t
live(struct fmq_ctrl *c, int32_t *ids, const char **racks)
{
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	uint32_t n = 0;

	for (uint32_t i = 0; i < v->nbrokers; i++) {
		ids[n] = v->brokers[i].id;
		racks[n++] = v->brokers[i].rack;
	}
	return n;
}

/* Refused on a broker that is not the controller: clients send admin
 * requests to the controller Metadata names. */
static bool
not_controller(struct fmq_ctrl *c, struct zk_req *q)
{
	if (fmq_cluster_view(c->cl)->is_controller)
		return false;
	for (int32_t i = 0; i < q->n; i++) {
		q->r[i].err = FMQ_KERR_NOT_CONTROLLER;
		snprintf(q->r[i].msg, sizeof(q->r[i].msg), "This is not the "
			 "correct controller for this cluster.");
	}
	return true;
}

static void
json_escape(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
}

/* Create one topic in ZooKeeper from this broker. config: the JSON
 * object of its configs. */
static void
create_in_zk(struct fmq_ctrl *c, struct zk_res *r, int32_t np, int16_t rf,
	     const int32_t *manual, const char *config)
{
	int32_t ids[FMQ_CLUSTER_MAX_BROKERS];
	const char *racks[FMQ_CLUSTER_MAX_BROKERS];
	uint32_t nb = live(c, ids, racks);
	int32_t *rep;

	if (rf == -1)
		rf = (int16_t)c->cfg->default_replication_factor;
	if (manual == NULL && (rf < 1 || rf > FMQ_CLUSTER_MAX_RF ||
			       (uint32_t)rf > nb)) {
		r->err = FMQ_KERR_INVALID_REPLICATION_FACTOR;
		snprintf(r->msg, sizeof(r->msg), "Unable to replicate the "
			 "partition %d time(s): The target replication factor "
			 "of %d cannot be reached because only %u broker(s) "
			 "are registered.", rf, rf, nb);
		return;
	}
	rep = malloc((size_t)np * (size_t)rf * sizeof(*rep));
	if (rep == NULL) {
		r->err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		return;
	}
	if (manual != NULL) {
		memcpy(rep, manual, (size_t)np * (size_t)rf * sizeof(*rep));
	} else if (fmq_cluster_assign(ids, racks, nb, (uint32_t)np,
				      (uint32_t)rf, 0, -1, -1, rep) < 0) {
		free(rep);
		r->err = FMQ_KERR_INVALID_REPLICATION_FACTOR;
		snprintf(r->msg, sizeof(r->msg), "No live broker to place "
			 "the partitions on.");
		return;
	}
	if (getrandom(r->id, sizeof(r->id), 0) != (ssize_t)sizeof(r->id)) {
		free(rep);
		r->err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		return;
	}
	r->id[6] = (uint8_t)((r->id[6] & 0x0f) | 0x40);
	r->id[8] = (uint8_t)((r->id[8] & 0x3f) | 0x80);
	r->nparts = np;
	r->rf = rf;
	r->q->pending++;
	int16_t e = fmq_cluster_create_topic(c->cl, r->name, r->id,
					     (uint32_t)np, (uint16_t)rf, rep,
					     config, zk_done, r);
	free(rep);
	if (e != 0) {
		r->q->pending--;
		r->err = e;
		snprintf(r->msg, sizeof(r->msg), "ZooKeeper is not "
			 "available.");
	} else {
		FMQ_INFO("ctrl", "creating topic %s in ZooKeeper: %d "
			 "partition(s), replication factor %d", r->name, np,
			 rf);
	}
}

struct zk_auto {
	char name[FMQ_TOPIC_NAME_MAX + 1];
};

static void
auto_done(void *arg, int16_t kerr)
{
	struct zk_auto *a = arg;

	if (kerr == 0)
		FMQ_INFO("ctrl", "auto-created topic %s in ZooKeeper", a->name);
	else if (kerr != FMQ_KERR_TOPIC_ALREADY_EXISTS)
		FMQ_WARN("ctrl", "auto-create %s in ZooKeeper: error %d",
			 a->name, kerr);
	free(a);
}

int
ctrl_zk_auto_create(struct fmq_ctrl *c, const char *name)
{
	int32_t ids[FMQ_CLUSTER_MAX_BROKERS];
	const char *racks[FMQ_CLUSTER_MAX_BROKERS];
	uint32_t nb = live(c, ids, racks);
	uint32_t np = (uint32_t)c->cfg->num_partitions;
	uint8_t id[16];
	struct zk_auto *a;
	int32_t *rep;
	int16_t e;

	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return -EIO;
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	uint32_t rf = (uint32_t)c->cfg->default_replication_factor;
	rep = malloc(np * rf * sizeof(*rep));
	a = calloc(1, sizeof(*a));
	if (rep == NULL || a == NULL ||
	    fmq_cluster_assign(ids, racks, nb, np, rf, 0, -1, -1, rep) < 0) {
		free(rep);
		free(a);
		return -ENOMEM;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	e = fmq_cluster_create_topic(c->cl, name, id, np, (uint16_t)rf, rep,
				     "", auto_done, a);
	free(rep);
	if (e != 0) {
		free(a);
		return -EAGAIN;
	}
	return 0;
}

void
ctrl_zk_create_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_create_topics_req *req = reqp;
	int32_t n = req->topics_count < 0 ? 0 : req->topics_count;
	struct zk_req *q = zk_req_new(c, f, n);
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);

	if (q == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++)
		copy_name(q->r[i].name, req->topics[i].name);
	if (not_controller(c, q))
		goto out;
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_create_topics_req_creatable_topic *rt =
			&req->topics[i];
		struct zk_res *r = &q->r[i];
		int32_t nc = rt->configs_count < 0 ? 0 : rt->configs_count;
		struct fmq_kv kv[64];
		char ks[64][128], vs[64][256];
		char cfg[4096] = "{";
		size_t cl = 1;
		int32_t np = rt->num_partitions;
		int16_t rf = rt->replication_factor;
		int32_t *manual = NULL;

		if (nc > 64) {
			r->err = FMQ_KERR_INVALID_CONFIG;
			snprintf(r->msg, sizeof(r->msg), "Too many configs.");
			continue;
		}
		for (int32_t k = 0; k < nc; k++) {
			copy_name(ks[k], rt->configs[k].name);
			kv[k].key = ks[k];
			kv[k].value = NULL;
			if (rt->configs[k].value.len >= 0) {
				size_t l = RTE_MIN((size_t)rt->configs[k]
						   .value.len, 255u);
				memcpy(vs[k], rt->configs[k].value.p, l);
				vs[k][l] = '\0';
				kv[k].value = vs[k];
			}
		}
		if (fmq_cluster_topic(v, r->name) != NULL) {
			r->err = FMQ_KERR_TOPIC_ALREADY_EXISTS;
			snprintf(r->msg, sizeof(r->msg), "Topic '%s' already "
				 "exists.", r->name);
			continue;
		}
		if (rt->assignments_count > 0) {
			if (rt->num_partitions != -1 ||
			    rt->replication_factor != -1) {
				r->err = FMQ_KERR_INVALID_REQUEST;
				snprintf(r->msg, sizeof(r->msg), "Both "
					 "numPartitions or replicationFactor "
					 "and replicasAssignments were set.");
				continue;
			}
			np = rt->assignments_count;
			rf = rt->assignments[0].broker_ids_count;
			manual = rf > 0 && rf <= FMQ_CLUSTER_MAX_RF ?
				calloc((size_t)np * (size_t)rf,
				       sizeof(*manual)) : NULL;
			if (manual == NULL) {
				r->err = FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
				snprintf(r->msg, sizeof(r->msg), "Between 1 "
					 "and %d replicas per partition.",
					 FMQ_CLUSTER_MAX_RF);
				continue;
			}
			for (int32_t a = 0; a < np && r->err == 0; a++) {
				const struct fmq_kafka_create_topics_req_creatable_replica_assignment
					*as = &rt->assignments[a];
				bool ok = as->partition_index == a &&
					as->broker_ids_count == rf;
				for (int32_t x = 0; ok && x < rf; x++) {
					ok = fmq_cluster_broker(v,
						as->broker_ids[x]) != NULL;
					for (int32_t y = 0; ok && y < x; y++)
						ok = as->broker_ids[y] !=
							as->broker_ids[x];
					manual[(size_t)a * (size_t)rf + x] =
						as->broker_ids[x];
				}
				if (!ok) {
					r->err =
					FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
					snprintf(r->msg, sizeof(r->msg),
						 "Partition %d: %d distinct "
						 "live brokers expected.", a,
						 rf);
					break;
				}
			}
			if (r->err != 0) {
				free(manual);
				continue;
			}
		}
		/* The registry's own checks (name, partitions, configs). */
		r->err = fmq_topics_create(c->topics, r->name, np, -1,
					   (int32_t)c->cfg->num_partitions, kv,
					   (size_t)nc, true, r->msg,
					   sizeof(r->msg), NULL);
		if (np == -1)
			np = (int32_t)c->cfg->num_partitions;
		for (int32_t k = 0; k < nc && r->err == 0; k++) {
			char ek[256], ev[512];
			if (kv[k].value == NULL)
				continue;
			json_escape(ek, sizeof(ek), kv[k].key);
			json_escape(ev, sizeof(ev), kv[k].value);
			cl += (size_t)snprintf(cfg + cl, sizeof(cfg) - cl,
					       "%s\"%s\":\"%s\"",
					       cl > 1 ? "," : "", ek, ev);
			if (cl >= sizeof(cfg) - 2) {
				r->err = FMQ_KERR_INVALID_CONFIG;
				snprintf(r->msg, sizeof(r->msg), "Configs "
					 "too long.");
			}
		}
		snprintf(cfg + cl, sizeof(cfg) - cl, "}");
		if (r->err == 0 && !req->validate_only)
			create_in_zk(c, r, np, rf, manual, cfg);
		else if (r->err == 0) {
			r->nparts = np;
			r->rf = rf == -1 ? (int16_t)
				c->cfg->default_replication_factor : rf;
		}
		free(manual);
	}
out:
	if (--q->pending == 0)
		zk_req_finish(q);
}

void
ctrl_zk_delete_topics(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_delete_topics_req *req = reqp;
	bool by_state = f->api_version >= 6;
	int32_t n = by_state ? req->topics_count : req->topic_names_count;
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	struct zk_req *q;

	if (n < 0)
		n = 0;
	q = zk_req_new(c, f, n);
	if (q == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct fmq_kafka_str s = by_state ? req->topics[i].name :
			req->topic_names[i];
		if (s.len >= 0) {
			copy_name(q->r[i].name, s);
			continue;
		}
		for (uint32_t k = 0; k < v->ntopics; k++)
			if (memcmp(v->topics[k].id, req->topics[i].topic_id.b,
				   16) == 0)
				snprintf(q->r[i].name, sizeof(q->r[i].name),
					 "%s", v->topics[k].name);
		memcpy(q->r[i].id, req->topics[i].topic_id.b, 16);
	}
	if (not_controller(c, q))
		goto out;
	for (int32_t i = 0; i < n; i++) {
		struct zk_res *r = &q->r[i];
		const struct fmq_cluster_topic *t = fmq_cluster_topic(v,
								      r->name);
		if (t == NULL) {
			r->err = r->name[0] == '\0' ?
				FMQ_KERR_UNKNOWN_TOPIC_ID :
				FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		memcpy(r->id, t->id, 16);
		q->pending++;
		int16_t e = fmq_cluster_delete_topic(c->cl, r->name, zk_done,
						     r);
		if (e != 0) {
			q->pending--;
			r->err = e;
		} else {
			FMQ_INFO("ctrl", "deleting topic %s in ZooKeeper",
				 r->name);
		}
	}
out:
	if (--q->pending == 0)
		zk_req_finish(q);
}

void
ctrl_zk_create_partitions(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_create_partitions_req *req = reqp;
	int32_t n = req->topics_count < 0 ? 0 : req->topics_count;
	const struct fmq_cluster_view *v = fmq_cluster_view(c->cl);
	struct zk_req *q = zk_req_new(c, f, n);

	if (q == NULL) {
		ctrl_close_conn(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++)
		copy_name(q->r[i].name, req->topics[i].name);
	if (not_controller(c, q))
		goto out;
	for (int32_t i = 0; i < n; i++) {
		const struct fmq_kafka_create_partitions_req_create_partitions_topic
			*rt = &req->topics[i];
		struct zk_res *r = &q->r[i];
		const struct fmq_cluster_topic *t = fmq_cluster_topic(v,
								      r->name);
		int32_t ids[FMQ_CLUSTER_MAX_BROKERS];
		const char *racks[FMQ_CLUSTER_MAX_BROKERS];
		uint32_t nb = live(c, ids, racks);

		if (t == NULL) {
			r->err = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		if (rt->count <= (int32_t)t->nparts ||
		    rt->count > FMQ_TOPIC_MAX_PARTITIONS) {
			r->err = FMQ_KERR_INVALID_PARTITIONS;
			snprintf(r->msg, sizeof(r->msg), "Topic currently has "
				 "%u partitions, %d would not be an increase.",
				 t->nparts, rt->count);
			continue;
		}
		uint32_t add = (uint32_t)rt->count - t->nparts;
		int32_t *rep = calloc(add, sizeof(*rep) * t->rf);
		if (rep == NULL) {
			r->err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			continue;
		}
		if (rt->assignments_count > 0) {
			if ((uint32_t)rt->assignments_count != add)
				r->err = FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
			for (uint32_t a = 0; a < add && r->err == 0; a++) {
				if (rt->assignments[a].broker_ids_count !=
				    t->rf ||
				    fmq_cluster_broker(v, rt->assignments[a]
						       .broker_ids[0]) == NULL)
					r->err =
					FMQ_KERR_INVALID_REPLICA_ASSIGNMENT;
				else
					memcpy(&rep[a * t->rf],
					       rt->assignments[a].broker_ids,
					       t->rf * sizeof(*rep));
			}
		} else if (fmq_cluster_assign(ids, racks, nb, add, t->rf,
					      t->nparts, -1, -1, rep) < 0) {
			r->err = FMQ_KERR_INVALID_REPLICATION_FACTOR;
		}
		if (r->err == 0 && !req->validate_only) {
			q->pending++;
			int16_t e = fmq_cluster_add_partitions(c->cl, r->name,
					(uint32_t)rt->count, rep, zk_done, r);
			if (e != 0) {
				q->pending--;
				r->err = e;
			}
		}
		free(rep);
	}
out:
	if (--q->pending == 0)
		zk_req_finish(q);
}
