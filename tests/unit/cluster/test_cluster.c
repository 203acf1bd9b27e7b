/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/cluster: Kafka's znode JSON, zookeeper.connect, the assignment rule;
 * and (slow) the ZooKeeper C client's pitfalls against a real ZooKeeper
 * that this program starts with scripts/zk.sh on its own port and data
 * dir (FMQ_TEST_ZK_PORT, default 21811): watch re-arm, a connection loss
 * that keeps the session, an expiry that needs a new session and
 * registration, a restart while the old session lives, controller
 * failover.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmq_cluster.h"
#include "harness.h"

#ifndef FMQ_SOURCE_DIR
#define FMQ_SOURCE_DIR "."
#endif

/* ------------------------------------------------------------- pure */

static void
test_connect(void)
{
	char h[256], c[256], msg[256];

	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("127.0.0.1:2181", h, 256, c,
						  256, msg, 256), 0);
	CU_ASSERT_STRING_EQUAL(h, "127.0.0.1:2181");
	CU_ASSERT_STRING_EQUAL(c, "");
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect(
		"10.0.0.1:2181,10.0.0.2:2182/fluxmq/a/", h, 256, c, 256, msg,
		256), 0);
	CU_ASSERT_STRING_EQUAL(h, "10.0.0.1:2181,10.0.0.2:2182");
	CU_ASSERT_STRING_EQUAL(c, "/fluxmq/a");
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("localhost:2181/k", h, 256,
						  c, 256, msg, 256), 0);
	CU_ASSERT_STRING_EQUAL(h, "127.0.0.1:2181");
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("no-such-host.invalid:2181",
						  h, 256, c, 256, msg, 256),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "resolve"));
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("127.0.0.1", h, 256, c, 256,
						  msg, 256), -1);
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("127.0.0.1:0", h, 256, c,
						  256, msg, 256), -1);
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("/x", h, 256, c, 256, msg,
						  256), -1);
	CU_ASSERT_EQUAL(fmq_cluster_parse_connect("127.0.0.1:1//x", h, 256, c,
						  256, msg, 256), -1);
}

static void
test_broker_json(void)
{
	struct fmq_cluster_opts o = {
		.node_id = 2, .rack = "r1", .nep = 2,
		.ep = { { "PLAINTEXT", "PLAINTEXT", "10.0.0.12", 9092 },
			{ "INTERNAL", "SASL_SSL", "10.0.0.12", 9093 } },
	};
	struct fmq_cluster_broker b;
	char j[1024];
	int n = fmq_cluster_broker_json(&o, 1700000000000, j, sizeof(j));

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"version\":5"));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"endpoints\":[\"PLAINTEXT://"
				      "10.0.0.12:9092\",\"INTERNAL://"
				      "10.0.0.12:9093\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"INTERNAL\":\"SASL_SSL\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"host\":\"10.0.0.12\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"port\":9092"));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"rack\":\"r1\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"timestamp\":\"1700000000000\""));
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_broker_parse(j, (size_t)n, &b), 0);
	CU_ASSERT_EQUAL_FATAL(b.nep, 2);
	CU_ASSERT_STRING_EQUAL(b.ep[1].name, "INTERNAL");
	CU_ASSERT_STRING_EQUAL(b.ep[1].proto, "SASL_SSL");
	CU_ASSERT_EQUAL(b.ep[1].port, 9093);
	CU_ASSERT_STRING_EQUAL(b.rack, "r1");
	/* What Kafka 3.4 writes (no rack) parses too. */
	const char *k = "{\"features\":{},\"listener_security_protocol_map\":"
		"{\"PLAINTEXT\":\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://"
		"kafka-1:9092\"],\"jmx_port\":-1,\"port\":9092,\"host\":"
		"\"kafka-1\",\"version\":5,\"timestamp\":\"1\"}";
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_broker_parse(k, strlen(k), &b), 0);
	CU_ASSERT_EQUAL(b.nep, 1);
	CU_ASSERT_STRING_EQUAL(b.ep[0].host, "kafka-1");
	CU_ASSERT_STRING_EQUAL(b.rack, "");
	/* Version 1: host and port only. */
	k = "{\"jmx_port\":-1,\"timestamp\":\"1\",\"host\":\"h\","
		"\"version\":1,\"port\":9093}";
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_broker_parse(k, strlen(k), &b), 0);
	CU_ASSERT_EQUAL(b.ep[0].port, 9093);
	k = "{\"version\":5,\"endpoints\":[\"PLAIN";
	CU_ASSERT_EQUAL(fmq_cluster_broker_parse(k, strlen(k), &b), -1);
}

static void
test_assign(void)
{
	int32_t ids[] = { 3, 1, 2 }, out[12 * 3];
	int count[4] = { 0 };

	/* Kafka's rule with start 0, shift 0: leaders round robin over the
	 * sorted ids, followers shifted by one. */
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_assign(ids, NULL, 3, 12, 2, 0, 0, 0,
						 out), 0);
	CU_ASSERT_EQUAL(out[0], 1);
	CU_ASSERT_EQUAL(out[1], 2);
	CU_ASSERT_EQUAL(out[2], 2);
	CU_ASSERT_EQUAL(out[3], 3);
	CU_ASSERT_EQUAL(out[4], 3);
	CU_ASSERT_EQUAL(out[5], 1);
	/* partition 3: shift grows to 1, follower two away */
	CU_ASSERT_EQUAL(out[6], 1);
	CU_ASSERT_EQUAL(out[7], 3);
	for (int p = 0; p < 12; p++) {
		CU_ASSERT_NOT_EQUAL(out[p * 2], out[p * 2 + 1]);
		count[out[p * 2]]++;
	}
	CU_ASSERT(count[1] == 4 && count[2] == 4 && count[3] == 4);
	CU_ASSERT_EQUAL(fmq_cluster_assign(ids, NULL, 3, 1, 4, 0, -1, -1,
					   out), -1);
	/* Racks: replicas of a partition in distinct racks. */
	int32_t rid[] = { 1, 2, 3, 4 };
	const char *racks[] = { "a", "a", "b", "b" };
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_assign(rid, racks, 4, 8, 2, 0, -1,
						 -1, out), 0);
	for (int p = 0; p < 8; p++)
		CU_ASSERT_NOT_EQUAL(racks[out[p * 2] - 1],
				    racks[out[p * 2 + 1] - 1]);
	/* Rack-alternated list a,b,a,b: start 0 leads 1, 3, 2, 4. */
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_assign(rid, racks, 4, 4, 1, 0, 0, 0,
						 out), 0);
	CU_ASSERT(out[0] == 1 && out[1] == 3 && out[2] == 2 && out[3] == 4);
}

/* ------------------------------------------------------- ZooKeeper */

static char zk_dir[256], zk_connect[128];
static int zk_port;

static int
zk_cmd(const char *what)
{
	char cmd[768];

	snprintf(cmd, sizeof(cmd), "%s/scripts/zk.sh %s %s %s >/dev/null",
		 FMQ_SOURCE_DIR, what, zk_dir,
		 strcmp(what, "start") == 0 ? strchr(zk_connect, ':') + 1 : "");
	return system(cmd);
}

static int
zk_init(void)
{
	const char *p = getenv("FMQ_TEST_ZK_PORT");
	char cmd[1024];

	zk_port = p != NULL ? atoi(p) : 21811;
	snprintf(zk_dir, sizeof(zk_dir), "/tmp/fmq-unit-zk-%d", zk_port);
	snprintf(cmd, sizeof(cmd), "%s/scripts/zk.sh stop %s >/dev/null 2>&1;"
		 " rm -rf %s", FMQ_SOURCE_DIR, zk_dir, zk_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(zk_connect, sizeof(zk_connect), "127.0.0.1:%d", zk_port);
	return zk_cmd("start") == 0 ? 0 : -1;
}

static int
zk_fini(void)
{
	zk_cmd("stop");
	return 0;
}

static struct fmq_cluster *
mk(int32_t id, const char *chroot, uint32_t timeout_ms)
{
	struct fmq_cluster_opts o = {
		.node_id = id, .session_timeout_ms = timeout_ms, .rack = "",
		.nep = 1,
		.ep = { { "PLAINTEXT", "PLAINTEXT", "10.9.0.1", 9092 } },
	};
	char conn[256], err[256];
	struct fmq_cluster *cl;

	o.ep[0].port = (uint16_t)(9000 + id);
	snprintf(conn, sizeof(conn), "%s%s", zk_connect, chroot);
	o.connect = conn;
	cl = fmq_cluster_create(&o, err, sizeof(err));
	if (cl == NULL)
		fprintf(stderr, "fmq_cluster_create: %s\n", err);
	return cl;
}

typedef int (*cond_fn)(struct fmq_cluster **cls, void *arg);

/* Poll the clusters in cls (NULL entries skipped) until cond holds or
 * ms pass; 1 if it held. */
static int
pump(struct fmq_cluster **cls, int n, int ms, cond_fn cond, void *arg)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[8];
		int np = 0;

		for (int i = 0; i < n; i++) {
			if (cls[i] == NULL)
				continue;
			fmq_cluster_poll(cls[i]);
			short ev;
			int fd = fmq_cluster_fd(cls[i], &ev);
			if (fd >= 0 && np < 8) {
				p[np].fd = fd;
				p[np].events = ev;
				np++;
			}
		}
		if (cond != NULL && cond(cls, arg))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
		poll(p, (nfds_t)np, 5);
	}
}

static const struct fmq_cluster_view *
V(struct fmq_cluster *cl)
{
	return fmq_cluster_view(cl);
}

/* cls[0] sees *arg live brokers and everyone non-NULL is registered. */
static int
c_nbrokers(struct fmq_cluster **cls, void *arg)
{
	int want = *(int *)arg;

	for (int i = 0; i < 4; i++)
		if (cls[i] != NULL && !V(cls[i])->registered)
			return 0;
	return V(cls[0])->nbrokers == (uint32_t)want;
}

static int
c_registered(struct fmq_cluster **cls, void *arg)
{
	(void)arg;
	return V(cls[0])->registered &&
	       V(cls[0])->sess == FMQ_CLUSTER_SESS_CONNECTED;
}

/* A watch fires once: the live list must follow a join, a leave and a
 * second join, each seen through a re-armed watch. */
static void
test_watch_rearm(void)
{
	struct fmq_cluster *cls[4] = { mk(1, "/t1", 4000), mk(2, "/t1", 4000),
				       NULL, NULL };
	int want = 2;

	CU_ASSERT_FATAL(cls[0] != NULL && cls[1] != NULL);
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	CU_ASSERT_EQUAL(V(cls[0])->brokers[1].id, 2);
	CU_ASSERT_EQUAL(V(cls[0])->brokers[1].ep[0].port, 9002);
	for (int round = 0; round < 3; round++) {
		cls[2] = mk(3, "/t1", 4000);
		want = 3;
		CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
		fmq_cluster_free(cls[2]);     /* its ephemeral goes now */
		cls[2] = NULL;
		want = 2;
		CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	}
	CU_ASSERT(fmq_cluster_stats(cls[0])->watch_events >= 6);
	fmq_cluster_free(cls[0]);
	fmq_cluster_free(cls[1]);
}

/* ZooKeeper restarts (standalone keeps sessions in its snapshot): a
 * connection loss, not an expiry: same session, no new registration,
 * and the watches still work afterwards. */
static void
test_connection_loss(void)
{
	struct fmq_cluster *cls[4] = { mk(1, "/t2", 8000), mk(2, "/t2", 8000),
				       NULL, NULL };
	int want = 2;

	CU_ASSERT_FATAL(cls[0] != NULL && cls[1] != NULL);
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	int64_t sid = V(cls[0])->session_id, ep = V(cls[0])->broker_epoch;
	CU_ASSERT_EQUAL_FATAL(zk_cmd("stop"), 0);
	pump(cls, 4, 1000, NULL, NULL);
	CU_ASSERT_EQUAL(V(cls[0])->sess, FMQ_CLUSTER_SESS_CONNECTING);
	CU_ASSERT_EQUAL_FATAL(zk_cmd("start"), 0);
	CU_ASSERT_FATAL(pump(cls, 4, 15000, c_registered, NULL));
	CU_ASSERT_EQUAL(V(cls[0])->session_id, sid);
	CU_ASSERT_EQUAL(V(cls[0])->broker_epoch, ep);
	CU_ASSERT(fmq_cluster_stats(cls[0])->connection_losses >= 1);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[0])->expirations, 0);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[0])->sessions, 1);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[0])->registrations, 1);
	cls[2] = mk(3, "/t2", 8000);
	want = 3;
	CU_ASSERT(pump(cls, 4, 10000, c_nbrokers, &want));
	for (int i = 0; i < 3; i++)
		fmq_cluster_free(cls[i]);
}

/* One broker stops polling past its session timeout (as a SIGSTOPped
 * process): the other sees it leave; when it polls again it learns of the
 * expiry, opens a new session and registers again with a new epoch. */
static void
test_expiry(void)
{
	struct fmq_cluster *cls[4] = { mk(1, "/t3", 2000), mk(2, "/t3", 2000),
				       NULL, NULL };
	struct fmq_cluster *paused;
	int want = 2;

	CU_ASSERT_FATAL(cls[0] != NULL && cls[1] != NULL);
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	int64_t sid = V(cls[1])->session_id, ep = V(cls[1])->broker_epoch;
	paused = cls[1];
	cls[1] = NULL;
	want = 1;
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	cls[1] = paused;
	want = 2;
	CU_ASSERT_FATAL(pump(cls, 4, 15000, c_nbrokers, &want));
	CU_ASSERT_NOT_EQUAL(V(cls[1])->session_id, sid);
	CU_ASSERT(V(cls[1])->broker_epoch > ep);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[1])->expirations, 1);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[1])->sessions, 2);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[1])->registrations, 2);
	fmq_cluster_free(cls[0]);
	fmq_cluster_free(cls[1]);
}

/* A broker restarted while its old session lives finds its id taken and
 * registers once that session expires. */
static void
test_fast_restart(void)
{
	struct fmq_cluster *old[4] = { mk(7, "/t4", 2000), NULL, NULL, NULL };
	struct fmq_cluster *cls[4] = { NULL, NULL, NULL, NULL };

	CU_ASSERT_FATAL(old[0] != NULL);
	CU_ASSERT_FATAL(pump(old, 4, 10000, c_registered, NULL));
	cls[0] = mk(7, "/t4", 2000);     /* the "restarted" broker */
	CU_ASSERT_FATAL(cls[0] != NULL);
	/* The old one keeps its session alive for a while. */
	for (int i = 0; i < 10; i++) {
		pump(old, 4, 50, NULL, NULL);
		pump(cls, 4, 50, NULL, NULL);
	}
	CU_ASSERT_FALSE(V(cls[0])->registered);
	CU_ASSERT(fmq_cluster_stats(cls[0])->registration_conflicts >= 1);
	/* The old process is gone (never polls again). */
	CU_ASSERT(pump(cls, 4, 10000, c_registered, NULL));
	CU_ASSERT_NOT_EQUAL(V(cls[0])->broker_epoch, V(old[0])->broker_epoch);
	fmq_cluster_free(cls[0]);
	fmq_cluster_free(old[0]);
}

/* One controller, every broker agrees on it and on its epoch. */
static int
c_one_controller(struct fmq_cluster **cls, void *arg)
{
	int n = 0, id = -2, ep = -2;

	(void)arg;
	for (int i = 0; i < 4; i++) {
		if (cls[i] == NULL)
			continue;
		n += V(cls[i])->is_controller;
		if (id == -2) {
			id = V(cls[i])->controller_id;
			ep = V(cls[i])->controller_epoch;
		} else if (id != V(cls[i])->controller_id ||
			   ep != V(cls[i])->controller_epoch) {
			return 0;
		}
	}
	return n == 1 && id >= 0 && ep >= 1;
}

/* One controller; when it goes, another wins with the epoch + 1. */
static void
test_controller(void)
{
	struct fmq_cluster *cls[4] = { mk(1, "/t5", 4000), mk(2, "/t5", 4000),
				       mk(3, "/t5", 4000), NULL };
	int want = 3;

	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_one_controller, NULL));
	int cid = V(cls[0])->controller_id;
	int32_t ep = V(cls[0])->controller_epoch;
	CU_ASSERT(ep >= 1);
	for (int round = 0; round < 2; round++) {
		int i;
		for (i = 0; i < 4; i++)
			if (cls[i] != NULL && V(cls[i])->is_controller)
				break;
		CU_ASSERT_FATAL(i < 4);
		fmq_cluster_free(cls[i]);
		cls[i] = NULL;
		CU_ASSERT_FATAL(pump(cls, 4, 10000, c_one_controller, NULL));
		for (i = 0; cls[i] == NULL; i++)
			;
		CU_ASSERT_NOT_EQUAL(V(cls[i])->controller_id, cid);
		cid = V(cls[i])->controller_id;
		/* every broker reads the new epoch */
		CU_ASSERT_EQUAL(V(cls[i])->controller_epoch, ep + 1 + round);
	}
	for (int i = 0; i < 4; i++)
		fmq_cluster_free(cls[i]);
}

/* ------------------------------------------------ producer id blocks */

struct claims {
	struct fmq_cluster *cl;
	int want, got, failed;
	bool busy;
	int64_t start[64], end[64];
};

static void
claimed(void *arg, int16_t kerr, int64_t start, int64_t end)
{
	struct claims *c = arg;

	c->busy = false;
	if (kerr != 0) {
		c->failed++;
		return;
	}
	c->start[c->got] = start;
	c->end[c->got] = end;
	c->got++;
}

/* Keep one claim in flight per client until each has its blocks. */
static int
c_claims(struct fmq_cluster **cls, void *arg)
{
	struct claims *c = arg;
	int done = 1;

	for (int i = 0; i < 4; i++) {
		if (cls[i] == NULL)
			continue;
		if (c[i].got >= c[i].want)
			continue;
		done = 0;
		if (!c[i].busy &&
		    fmq_cluster_claim_pids(cls[i], 100, claimed, &c[i]) == 0)
			c[i].busy = true;
	}
	return done;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Three brokers claim at once: the compare-and-set on the znode version
 * makes their blocks disjoint and contiguous, 0 up. A claim whose
 * connection goes away mid-way fails (outcome unknown) and the next one,
 * once ZooKeeper is back, never overlaps anything handed out before. */
static void
test_pid_blocks(void)
{
	struct fmq_cluster *cls[4] = { mk(1, "/t6", 8000), mk(2, "/t6", 8000),
				       mk(3, "/t6", 8000), NULL };
	struct claims c[4];
	int64_t all[64];
	int n = 0, want = 3;

	memset(c, 0, sizeof(c));
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_nbrokers, &want));
	for (int i = 0; i < 3; i++)
		c[i].want = 10;
	CU_ASSERT_FATAL(pump(cls, 4, 20000, c_claims, c));
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(c[i].failed, 0);
		for (int k = 0; k < c[i].got; k++) {
			CU_ASSERT_EQUAL(c[i].end[k] - c[i].start[k], 99);
			all[n++] = c[i].start[k];
		}
	}
	CU_ASSERT_EQUAL_FATAL(n, 30);
	qsort(all, (size_t)n, sizeof(all[0]), cmp_i64);
	for (int k = 0; k < n; k++)
		CU_ASSERT_EQUAL(all[k], (int64_t)k * 100);
	CU_ASSERT_EQUAL(fmq_cluster_stats(cls[0])->pid_blocks, 10);

	/* ZooKeeper goes away with a claim in flight. */
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_claim_pids(cls[0], 100, claimed,
						     &c[0]), 0);
	c[0].busy = true;
	c[0].want = c[0].got + 1;
	CU_ASSERT_EQUAL_FATAL(zk_cmd("stop"), 0);
	pump(cls, 4, 3000, NULL, NULL);
	CU_ASSERT_FALSE(c[0].busy);
	/* Without a session: refused at once. */
	CU_ASSERT_EQUAL(fmq_cluster_claim_pids(cls[1], 100, claimed, &c[1]),
			15);
	CU_ASSERT_EQUAL_FATAL(zk_cmd("start"), 0);
	CU_ASSERT_FATAL(pump(cls, 4, 15000, c_registered, NULL));
	c[0].want = c[0].got + 1;
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_claims, c));
	int64_t s = c[0].start[c[0].got - 1];
	CU_ASSERT(s >= 3000);
	CU_ASSERT(s % 100 == 0);
	for (int i = 0; i < 3; i++)
		fmq_cluster_free(cls[i]);
}

/* /cluster/id: the first broker's id, taken by the others. */
static int
c_ids(struct fmq_cluster **cls, void *arg)
{
	(void)arg;
	return V(cls[0])->cluster_id_known && V(cls[1])->cluster_id_known;
}

static void
test_cluster_id(void)
{
	struct fmq_cluster *cls[4] = { NULL, NULL, NULL, NULL };
	struct fmq_cluster_opts o = {
		.node_id = 1, .session_timeout_ms = 4000, .rack = "",
		.nep = 1,
		.ep = { { "PLAINTEXT", "PLAINTEXT", "10.9.0.1", 9001 } },
	};
	char conn[256], err[256];

	snprintf(conn, sizeof(conn), "%s/t7", zk_connect);
	o.connect = conn;
	snprintf(o.cluster_id, sizeof(o.cluster_id), "first-id");
	cls[0] = fmq_cluster_create(&o, err, sizeof(err));
	CU_ASSERT_FATAL(cls[0] != NULL);
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_registered, NULL));
	o.node_id = 2;
	o.ep[0].port = 9002;
	snprintf(o.cluster_id, sizeof(o.cluster_id), "second-id");
	cls[1] = fmq_cluster_create(&o, err, sizeof(err));
	CU_ASSERT_FATAL(cls[1] != NULL);
	CU_ASSERT_FATAL(pump(cls, 4, 10000, c_ids, NULL));
	CU_ASSERT_STRING_EQUAL(V(cls[0])->cluster_id, "first-id");
	CU_ASSERT_STRING_EQUAL(V(cls[1])->cluster_id, "first-id");
	fmq_cluster_free(cls[0]);
	fmq_cluster_free(cls[1]);
}


/* Committed offsets: Kafka's pre-0.9 paths, the decimal value, group
 * commit's merge. */
static void
test_offset_paths(void)
{
	char out[512];
	int64_t v;
	struct fmq_cluster_off ops[5] = {
		{ .topic = "t", .partition = 0, .offset = 5 },
		{ .topic = "t", .partition = 1, .offset = 7 },
		{ .topic = "t", .partition = 0, .offset = 9 },
		{ .topic = "u", .partition = 0, .offset = 1 },
		{ .topic = "t", .partition = 1, .del = true },
	};

	CU_ASSERT(fmq_cluster_offset_path("g1", "orders", 3, out,
					  sizeof(out)) > 0);
	CU_ASSERT_STRING_EQUAL(out, "/consumers/g1/offsets/orders/3");
	fmq_cluster_offset_path("g1", "orders", -1, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/consumers/g1/offsets/orders");
	fmq_cluster_offset_path("my-app.v2:x", NULL, -1, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/consumers/my-app.v2:x/offsets");
	/* What ZooKeeper refuses in a name, and the escape itself. */
	fmq_cluster_offset_path("a/b%c\n", "t", 0, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/consumers/a%2Fb%25c%0A/offsets/t/0");
	fmq_cluster_offset_path("..", "t", 0, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/consumers/%2E%2E/offsets/t/0");
	CU_ASSERT_EQUAL(fmq_cluster_offset_path("", "t", 0, out, sizeof(out)),
			-1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_path("g", "t", 0, out, 10), -1);

	CU_ASSERT_EQUAL(fmq_cluster_offset_format(1234567890123LL, out, 64),
			13);
	CU_ASSERT_STRING_EQUAL(out, "1234567890123");
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("42", 2, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("-1", 2, &v), 0);
	CU_ASSERT_EQUAL(v, -1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("9223372036854775807", 19,
						 &v), 0);
	CU_ASSERT_EQUAL(v, INT64_MAX);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("9223372036854775808", 19,
						 &v), -1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("{\"offset\":1}", 12, &v),
			-1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("12 ", 3, &v), -1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("-", 1, &v), -1);
	CU_ASSERT_EQUAL(fmq_cluster_offset_parse("", 0, &v), -1);

	/* t-0 committed twice: one op with the later offset; t-1 committed
	 * then deleted: one delete. */
	CU_ASSERT_EQUAL_FATAL(fmq_cluster_offsets_coalesce(ops, 5), 3);
	CU_ASSERT_STRING_EQUAL(ops[0].topic, "t");
	CU_ASSERT_EQUAL(ops[0].offset, 9);
	CU_ASSERT_FALSE(ops[0].del);
	CU_ASSERT_EQUAL(ops[1].partition, 1);
	CU_ASSERT_TRUE(ops[1].del);
	CU_ASSERT_STRING_EQUAL(ops[2].topic, "u");
}

/* Offsets in ZooKeeper: a load and a claim, commits at the versions
 * seen; once another broker claimed the group, the old coordinator's
 * commits are refused (the group's epoch moved) and change nothing; a
 * load reads the last commit with its versions. */
struct offw {
	int rc;
	int32_t gver;
	bool done;
	uint32_t n;
	struct fmq_cluster_off got[8];
	char topics[8][16];
};

static void
off_written(void *arg, int rc)
{
	struct offw *w = arg;

	w->rc = rc;
	w->done = true;
}

static void
off_loaded(void *arg, int rc, const struct fmq_cluster_off *offs, uint32_t n,
	   int32_t gver)
{
	struct offw *w = arg;

	w->gver = gver;
	w->rc = rc;
	w->done = true;
	w->n = n;
	for (uint32_t i = 0; i < n && i < 8; i++) {
		w->got[i] = offs[i];
		snprintf(w->topics[i], sizeof(w->topics[i]), "%s",
			 offs[i].topic);
		w->got[i].topic = w->topics[i];
	}
}

static int
c_offw(struct fmq_cluster **cls, void *arg)
{
	(void)cls;
	return ((struct offw *)arg)->done;
}

static int64_t
off_of(const struct offw *w, const char *t, int32_t p, int32_t *ver)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (w->got[i].partition == p &&
		    strcmp(w->got[i].topic, t) == 0) {
			*ver = w->got[i].version;
			return w->got[i].offset;
		}
	return -2;
}

static void
test_offsets_zk(void)
{
	struct fmq_cluster *cls[2] = { mk(1, "/t8", 8000), mk(2, "/t8", 8000) };
	struct fmq_cluster_off a[2] = {
		{ .topic = "orders", .partition = 0, .offset = 10,
		  .version = -1 },
		{ .topic = "orders", .partition = 1, .offset = 20,
		  .version = -1 },
	};
	struct fmq_cluster_off b0, del;
	struct offw w;
	int32_t g1 = -7, g2 = -7, ver = -9;

	CU_ASSERT_FATAL(pump(cls, 2, 10000, c_registered, NULL));
#define WAIT(call) do {							\
	memset(&w, 0, sizeof(w));					\
	CU_ASSERT_EQUAL_FATAL((call), 0);				\
	CU_ASSERT_FATAL(pump(cls, 2, 5000, c_offw, &w));		\
} while (0)
	/* Broker 1 loads the (new) group and claims it. */
	WAIT(fmq_cluster_offsets_load(cls[0], "g/1", off_loaded, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(w.n, 0);
	g1 = w.gver;
	CU_ASSERT_EQUAL(g1, -1);
	/* Commits before a claim are refused at once. */
	CU_ASSERT_EQUAL(fmq_cluster_offsets_write(cls[0], "g/1", &g1, a, 2,
						  off_written, &w), -1);
	WAIT(fmq_cluster_offsets_write(cls[0], "g/1", &g1, NULL, 0,
				       off_written, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(g1, 0);
	WAIT(fmq_cluster_offsets_write(cls[0], "g/1", &g1, a, 2, off_written,
				       &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(a[0].version, 0);
	CU_ASSERT_EQUAL(g1, 1);
	a[0].offset = 11;
	WAIT(fmq_cluster_offsets_write(cls[0], "g/1", &g1, a, 1, off_written,
				       &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(a[0].version, 1);
	CU_ASSERT_EQUAL(g1, 2);
	/* Broker 2 becomes the coordinator: loads broker 1's last commit,
	 * claims the group. */
	WAIT(fmq_cluster_offsets_load(cls[1], "g/1", off_loaded, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(w.n, 2);
	CU_ASSERT_EQUAL(off_of(&w, "orders", 0, &ver), 11);
	CU_ASSERT_EQUAL(ver, 1);
	CU_ASSERT_EQUAL(off_of(&w, "orders", 1, &ver), 20);
	CU_ASSERT(w.got[0].mtime > 0);
	g2 = w.gver;
	CU_ASSERT_EQUAL(g2, 2);
	WAIT(fmq_cluster_offsets_write(cls[1], "g/1", &g2, NULL, 0,
				       off_written, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(g2, 3);
	/* Broker 1 still believes it coordinates: its commit is refused
	 * although the partition's version it holds is current. */
	a[0].offset = 12;
	WAIT(fmq_cluster_offsets_write(cls[0], "g/1", &g1, a, 1, off_written,
				       &w));
	CU_ASSERT_EQUAL(w.rc, 1);
	CU_ASSERT_EQUAL(g1, 2);
	/* A claim that read before another write fails too. */
	g1 = 2;
	WAIT(fmq_cluster_offsets_write(cls[0], "g/1", &g1, NULL, 0,
				       off_written, &w));
	CU_ASSERT_EQUAL(w.rc, 1);
	/* Broker 2 commits and deletes at the versions it read. */
	b0 = (struct fmq_cluster_off){ .topic = "orders", .partition = 0,
				       .offset = 30, .version = 1 };
	WAIT(fmq_cluster_offsets_write(cls[1], "g/1", &g2, &b0, 1,
				       off_written, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	del = (struct fmq_cluster_off){ .topic = "orders", .partition = 1,
					.version = 0, .del = true };
	WAIT(fmq_cluster_offsets_write(cls[1], "g/1", &g2, &del, 1,
				       off_written, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	WAIT(fmq_cluster_offsets_load(cls[0], "g/1", off_loaded, &w));
	CU_ASSERT_EQUAL(w.n, 1);
	CU_ASSERT_EQUAL(off_of(&w, "orders", 0, &ver), 30);
	CU_ASSERT_EQUAL(w.gver, 5);
	WAIT(fmq_cluster_offsets_load(cls[0], "nobody", off_loaded, &w));
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT_EQUAL(w.n, 0);
#undef WAIT
	fmq_cluster_free(cls[0]);
	fmq_cluster_free(cls[1]);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	signal(SIGPIPE, SIG_IGN);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("cluster", NULL, NULL);
	CU_add_test(s, "zookeeper.connect", test_connect);
	CU_add_test(s, "broker registration JSON", test_broker_json);
	CU_add_test(s, "Kafka's replica assignment", test_assign);
	CU_add_test(s, "offsets: paths, values, group commit merge",
		    test_offset_paths);
	s = CU_add_suite("zookeeper", zk_init, zk_fini);
	fmq_test_slow(CU_add_test(s, "watch re-armed after each event",
				  test_watch_rearm));
	fmq_test_slow(CU_add_test(s, "connection loss keeps the session",
				  test_connection_loss));
	fmq_test_slow(CU_add_test(s, "expiry: new session, registered again",
				  test_expiry));
	fmq_test_slow(CU_add_test(s, "restart while the old session lives",
				  test_fast_restart));
	fmq_test_slow(CU_add_test(s, "controller failover, epoch + 1",
				  test_controller));
	fmq_test_slow(CU_add_test(s, "producer id blocks: CAS, connection loss",
				  test_pid_blocks));
	fmq_test_slow(CU_add_test(s, "one cluster id, the first broker's",
				  test_cluster_id));
	fmq_test_slow(CU_add_test(s, "offsets: CAS on the version, load",
				  test_offsets_zk));
	return fmq_test_run(argc, argv);
}
