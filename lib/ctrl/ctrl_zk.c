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

		if (v->registered)
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
	return wait_registered(c, ct, err, errlen);
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

uint64_t
ctrl_zk_poll(struct fmq_ctrl *c)
{
	uint64_t us;

	if (c->cl == NULL)
		return UINT64_MAX;
	us = fmq_cluster_poll(c->cl);
	track_fd(c);
	if (fmq_cluster_view(c->cl)->version != c->cl_version) {
		c->cl_version = fmq_cluster_view(c->cl)->version;
		if (ctrl_publish(c) < 0)
			c->cl_version--;   /* out of memory: next pass */
	}
	return us;
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

/*
 * Leader, replicas and ISR of every partition in a snapshot being built
 * in cluster mode. Topics are still this broker's own (created here, in
 * its local registry): it leads them alone, replica and ISR itself.
 */
int
ctrl_zk_parts(struct fmq_ctrl *c, struct fmq_bmeta *m)
{
	int32_t self = (int32_t)c->cfg->node_id;

	m->ids = malloc(sizeof(*m->ids));
	if (m->ids == NULL)
		return -ENOMEM;
	m->ids[0] = self;
	for (uint32_t i = 0; i < m->ntopics; i++) {
		struct fmq_btopic *t = &m->topics[i];

		for (uint32_t p = 0; p < t->nparts; p++) {
			t->parts[p].leader = self;
			t->parts[p].nreplicas = 1;
			t->parts[p].nisr = 1;
			t->parts[p].replicas = m->ids;
			t->parts[p].isr = m->ids;
		}
	}
	return 0;
}
