/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ZooKeeper session on the control lcore (libzookeeper_st): session
 * life cycle, broker registration, the live broker list and the admin
 * controller election. See fmq_cluster.h for the pitfalls handled.
 *
 * Every asynchronous call carries a struct cl_op naming the session
 * generation it was made in; a completion from an older session (the
 * client calls them with ZCLOSING or ZSESSIONEXPIRED when it drops a
 * handle) only frees its op.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "cluster_priv.h"

static void sync_all(struct fmq_cluster *cl);
static void read_controller(struct fmq_cluster *cl);
static void zk_log_init(void);

/* ------------------------------------------------------------ helpers */

void
P(const struct fmq_cluster *cl, char *out, const char *fmt, ...)
{
	char rel[CL_PATH_MAX - FMQ_CLUSTER_CONNECT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(out, CL_PATH_MAX, "%s%s", cl->chroot, rel);
}

struct cl_op *
op_new(struct fmq_cluster *cl, enum cl_kind kind)
{
	struct cl_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		FMQ_ERR("zk", "out of memory");
		return NULL;
	}
	op->cl = cl;
	op->gen = cl->gen;
	op->kind = kind;
	return op;
}

/* The op's session is gone: free it, tell the caller to stop. */
bool
op_stale(const struct cl_op *op)
{
	return op->cl->zh == NULL || op->gen != op->cl->gen;
}

bool
lost(int rc)
{
	/* Outcome unknown or session gone: the next CONNECTED (or the new
	 * session) redoes everything. */
	return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ||
	       rc == ZSESSIONEXPIRED || rc == ZCLOSING ||
	       rc == ZINVALIDSTATE;
}

void
op_error(struct fmq_cluster *cl, const char *what, const char *path, int rc)
{
	if (lost(rc))
		return;
	cl->st.op_errors++;
	FMQ_WARN("zk", "%s %s: %s; retrying", what, path, zerror(rc));
	if (cl->resync_ms == 0)
		cl->resync_ms = fmq_wall_ms() + CL_RETRY_MS;
}

void
issued(struct fmq_cluster *cl, struct cl_op *op, const char *what, int rc)
{
	if (rc == ZOK)
		return;
	op_error(cl, what, op->path, rc);
	free(op);
}

/* Read the znode at path (no watch) with a new op of kind; cb gets it. */
static void
op_read(struct fmq_cluster *cl, enum cl_kind kind, const char *path,
	data_completion_t cb)
{
	struct cl_op *op = op_new(cl, kind);

	if (op == NULL)
		return;
	snprintf(op->path, sizeof(op->path), "%s", path);
	issued(cl, op, "read", zoo_aget(cl->zh, op->path, 0, cb, op));
}

void
changed(struct fmq_cluster *cl)
{
	cl->v.version++;
}

/* ------------------------------------------------------------ session */

static int
start_session(struct fmq_cluster *cl)
{
	cl->gen++;
	cl->expired = false;
	cl->v.sess = cl->v.session_id != 0 ? FMQ_CLUSTER_SESS_EXPIRED :
		FMQ_CLUSTER_SESS_CONNECTING;
	cl->zh = zookeeper_init(cl->hosts, cl_watcher,
				(int)cl->o.session_timeout_ms, NULL, cl, 0);
	if (cl->zh == NULL) {
		FMQ_ERR("zk", "zookeeper_init(%s): %s", cl->hosts,
			strerror(errno));
		return -errno;
	}
	/* Numeric hosts only: never resolve again on the control lcore. */
	zoo_set_servers_resolution_delay(cl->zh, -1);
	return 0;
}

static void
on_expired(struct fmq_cluster *cl)
{
	zhandle_t *old = cl->zh;

	cl->st.expirations++;
	FMQ_WARN("zk", "ZooKeeper session 0x%" PRIx64 " expired: broker %d "
		 "lost its registration%s; opening a new session",
		 (uint64_t)cl->v.session_id, cl->o.node_id,
		 cl->v.is_controller ? " and the controller role" : "");
	cl->zh = NULL;
	cl->v.registered = false;
	cl->v.is_controller = false;
	cl->v.controller_id = -1;
	cl->electing = false;
	cl->pending = 0;
	cl->reg_retry_ms = 0;
	cl->resync_ms = 0;
	changed(cl);
	zookeeper_close(old);
	start_session(cl);
}

static void
on_connected(struct fmq_cluster *cl)
{
	const clientid_t *id = zoo_client_id(cl->zh);

	if (id->client_id != cl->v.session_id) {
		cl->st.sessions++;
		cl->v.session_id = id->client_id;
		cl->v.session_timeout_ms = zoo_recv_timeout(cl->zh);
		FMQ_INFO("zk", "ZooKeeper session 0x%" PRIx64 " established "
			 "with %s (timeout %d ms)", (uint64_t)id->client_id,
			 cl->hosts, cl->v.session_timeout_ms);
	} else {
		FMQ_INFO("zk", "reconnected to ZooKeeper, session 0x%" PRIx64
			 " kept", (uint64_t)id->client_id);
	}
	cl->v.sess = FMQ_CLUSTER_SESS_CONNECTED;
	changed(cl);
	sync_all(cl);
}

void
cl_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct fmq_cluster *cl = ctx;
	char p[CL_PATH_MAX];

	if (zh != cl->zh)
		return;     /* an old handle */
	if (type == ZOO_SESSION_EVENT) {
		if (state == ZOO_CONNECTED_STATE) {
			on_connected(cl);
		} else if (state == ZOO_EXPIRED_SESSION_STATE) {
			cl->expired = true;
		} else if (state == ZOO_CONNECTING_STATE ||
			   state == ZOO_ASSOCIATING_STATE) {
			if (cl->v.sess == FMQ_CLUSTER_SESS_CONNECTED) {
				cl->st.connection_losses++;
				FMQ_WARN("zk", "lost the connection to "
					 "ZooKeeper; reconnecting (session "
					 "0x%" PRIx64 " is kept if it has not "
					 "expired)", (uint64_t)cl->v.session_id);
				cl->v.sess = FMQ_CLUSTER_SESS_CONNECTING;
				changed(cl);
			}
		} else if (state == ZOO_AUTH_FAILED_STATE) {
			FMQ_ERR("zk", "ZooKeeper authentication failed");
		}
		return;
	}
	cl->st.watch_events++;
	/* A watch fires once: each read below arms it again. */
	P(cl, p, "/brokers/ids");
	if (type == ZOO_CHILD_EVENT && strcmp(path, p) == 0) {
		sync_all(cl);
		return;
	}
	P(cl, p, "/controller");
	if (strcmp(path, p) == 0) {
		read_controller(cl);
		return;
	}
	if (cl_config_event(cl, type, path))
		return;
	cl_topic_event(cl, type, path);
}

/* ------------------------------------------------------- registration */

static void register_broker(struct fmq_cluster *cl);

static void
cb_reg_check(int rc, const char *val, int len, const struct Stat *st,
	     const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)val;
	(void)len;
	if (op_stale(op))
		goto out;
	if (rc == ZNONODE) {
		register_broker(cl);     /* gone meanwhile */
	} else if (rc == ZOK && st->ephemeralOwner == cl->v.session_id) {
		/* Ours: a create whose answer was lost with the connection. */
		cl->v.registered = true;
		cl->v.broker_epoch = st->czxid;
		cl->st.registrations++;
		changed(cl);
		FMQ_INFO("zk", "broker %d is registered (epoch %" PRId64 ")",
			 cl->o.node_id, st->czxid);
		read_controller(cl);
	} else if (rc == ZOK) {
		int64_t now = fmq_wall_ms();

		cl->st.registration_conflicts++;
		if (now >= cl->conflict_log_ms) {
			FMQ_WARN("zk", "broker id %d is registered by another "
				 "session (0x%" PRIx64 "): a previous run "
				 "whose session has not expired yet, or "
				 "another broker with this node.id; retrying "
				 "until it goes", cl->o.node_id,
				 (uint64_t)st->ephemeralOwner);
			cl->conflict_log_ms = now + 5000;
		}
		cl->reg_retry_ms = now + CL_RETRY_MS;
	} else {
		op_error(cl, "read", op->path, rc);
	}
out:
	free(op);
}

static void
cb_register(int rc, const char *name, const struct Stat *st, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)name;
	if (op_stale(op))
		goto out;
	if (rc == ZOK) {
		cl->v.registered = true;
		cl->v.broker_epoch = st->czxid;
		cl->st.registrations++;
		changed(cl);
		FMQ_INFO("zk", "registered as broker %d in ZooKeeper (%s, "
			 "epoch %" PRId64 ")", cl->o.node_id, op->path,
			 st->czxid);
		read_controller(cl);
	} else if (rc == ZNODEEXISTS) {
		op_read(cl, OP_REG_CHECK, op->path, cb_reg_check);
	} else {
		op_error(cl, "create", op->path, rc);
	}
out:
	free(op);
}

static void
register_broker(struct fmq_cluster *cl)
{
	struct cl_op *op = op_new(cl, OP_REGISTER);

	if (op == NULL)
		return;
	cl->reg_retry_ms = 0;
	cl->reg_len = fmq_cluster_broker_json(&cl->o, fmq_wall_ms(),
					      cl->reg_json,
					      sizeof(cl->reg_json));
	P(cl, op->path, "/brokers/ids/%d", cl->o.node_id);
	issued(cl, op, "create", zoo_acreate2(cl->zh, op->path, cl->reg_json,
			cl->reg_len, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
			cb_register, op));
}

/* ------------------------------------------------------------ brokers */

static int
cmp_broker(const void *a, const void *b)
{
	const struct fmq_cluster_broker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static void
brokers_commit(struct fmq_cluster *cl)
{
	char list[512];
	size_t n = 0;

	qsort(cl->rd, cl->nread, sizeof(*cl->rd), cmp_broker);
	if (cl->nread == cl->v.nbrokers &&
	    memcmp(cl->rd, cl->v.brokers, cl->nread * sizeof(*cl->rd)) == 0)
		return;
	memcpy(cl->v.brokers, cl->rd, cl->nread * sizeof(*cl->rd));
	cl->v.nbrokers = cl->nread;
	changed(cl);
	list[0] = '\0';
	for (uint32_t i = 0; i < cl->nread && n < sizeof(list) - 16; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d",
				      i ? "," : "", cl->rd[i].id);
	FMQ_INFO("zk", "live brokers: %s", cl->nread ? list : "none");
}

static void
cb_broker(int rc, const char *val, int len, const struct Stat *st,
	  const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	if (op_stale(op) || op->round != cl->round || cl->pending == 0)
		goto out;
	if (rc == ZOK && val != NULL && cl->nread < FMQ_CLUSTER_MAX_BROKERS) {
		struct fmq_cluster_broker *b = &cl->rd[cl->nread];

		memset(b, 0, sizeof(*b));
		if (fmq_cluster_broker_parse(val, (size_t)len, b) == 0) {
			b->id = op->id;
			b->epoch = st->czxid;
			cl->nread++;
		} else {
			FMQ_WARN("zk", "%s: unreadable registration",
				 op->path);
		}
	} else if (rc != ZOK && rc != ZNONODE) {
		op_error(cl, "read", op->path, rc);
	}
	if (--cl->pending == 0)
		brokers_commit(cl);
out:
	free(op);
}

static void
cb_children(int rc, const struct String_vector *s, const struct Stat *st,
	    const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)st;
	if (op_stale(op))
		goto out;
	if (rc != ZOK) {
		op_error(cl, "list", op->path, rc);
		goto out;
	}
	cl->round++;
	cl->nread = 0;
	cl->pending = 0;
	for (int32_t i = 0; i < s->count; i++) {
		char *end;
		long id = strtol(s->data[i], &end, 10);
		if (*end != '\0' || id < 0 || id > INT32_MAX)
			continue;
		struct cl_op *g = op_new(cl, OP_BROKER);
		if (g == NULL)
			break;
		g->round = cl->round;
		g->id = (int32_t)id;
		P(cl, g->path, "/brokers/ids/%d", (int)id);
		if (zoo_aget(cl->zh, g->path, 0, cb_broker, g) != ZOK) {
			free(g);
			continue;
		}
		cl->pending++;
	}
	if (cl->pending == 0)
		brokers_commit(cl);
out:
	free(op);
}

static void
read_brokers(struct fmq_cluster *cl)
{
	struct cl_op *op = op_new(cl, OP_CHILDREN);

	if (op == NULL)
		return;
	P(cl, op->path, "/brokers/ids");
	issued(cl, op, "list", zoo_awget_children2(cl->zh, op->path,
			cl_watcher, cl, cb_children, op));
}

/* ---------------------------------------------------------- controller */

static void elect(struct fmq_cluster *cl);

static void
set_controller(struct fmq_cluster *cl, int32_t id, bool mine)
{
	if (cl->v.controller_id == id && cl->v.is_controller == mine)
		return;
	if (mine && !cl->v.is_controller)
		FMQ_INFO("zk", "broker %d is the controller", cl->o.node_id);
	else if (!mine && cl->v.is_controller)
		FMQ_WARN("zk", "broker %d is no longer the controller",
			 cl->o.node_id);
	else if (id >= 0)
		FMQ_INFO("zk", "controller: broker %d", id);
	cl->v.controller_id = id;
	cl->v.is_controller = mine;
	changed(cl);
}

static void
cb_epoch(int rc, const char *val, int len, const struct Stat *st,
	 const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	int64_t e;

	if (op_stale(op))
		goto out;
	if (rc == ZOK && val != NULL &&
	    cl_json_int(val, val + len, &e) == 0 &&
	    cl->v.controller_epoch != (int32_t)e) {
		cl->v.controller_epoch = (int32_t)e;
		if (cl->v.is_controller)
			cl->ctrl_epoch_zkv = st->version;
		changed(cl);
	}
out:
	free(op);
}

static void
cb_ctrl_data(int rc, const char *val, int len, const struct Stat *st,
	     const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	int64_t id;

	if (op_stale(op))
		goto out;
	if (rc == ZNONODE) {
		read_controller(cl);
		goto out;
	}
	if (rc != ZOK || val == NULL) {
		op_error(cl, "read", op->path, rc);
		goto out;
	}
	if (cl_json_int(cl_json_find(val, (size_t)len, "brokerid"), val + len,
			&id) < 0) {
		FMQ_WARN("zk", "%s: no brokerid in it", op->path);
		goto out;
	}
	set_controller(cl, (int32_t)id, id == cl->o.node_id &&
		       st->ephemeralOwner == cl->v.session_id);
	{
		char path[CL_PATH_MAX];

		P(cl, path, "/controller_epoch");
		op_read(cl, OP_CTRL_EPOCH, path, cb_epoch);
	}
out:
	free(op);
}

static void
cb_ctrl_exists(int rc, const struct Stat *st, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)st;
	if (op_stale(op))
		goto out;
	if (rc == ZNONODE) {
		set_controller(cl, -1, false);
		if (cl->v.registered)
			elect(cl);
	} else if (rc == ZOK) {
		op_read(cl, OP_CTRL_DATA, op->path, cb_ctrl_data);
	} else {
		op_error(cl, "watch", op->path, rc);
	}
out:
	free(op);
}

static void
read_controller(struct fmq_cluster *cl)
{
	struct cl_op *op = op_new(cl, OP_CTRL_EXISTS);

	if (op == NULL)
		return;
	P(cl, op->path, "/controller");
	/* exists, not get: it leaves a watch on an absent znode too. */
	issued(cl, op, "watch", zoo_awexists(cl->zh, op->path, cl_watcher, cl,
					     cb_ctrl_exists, op));
}

static void
cb_elect(int rc, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	if (op_stale(op))
		goto out;
	cl->electing = false;
	if (rc == ZOK) {
		cl->st.elections_won++;
		cl->v.controller_epoch = op->epoch;
		cl->ctrl_epoch_zkv = op->st.version;
		FMQ_INFO("zk", "elected controller, epoch %d", op->epoch);
		set_controller(cl, cl->o.node_id, true);
		changed(cl);
	} else if (!lost(rc)) {
		/* NODEEXISTS: someone else won; BADVERSION: someone bumped
		 * the epoch first. Either way, see who holds it. */
		read_controller(cl);
	}
out:
	free(op);
}

static void
cb_elect_epoch(int rc, const char *val, int len, const struct Stat *st,
	       const void *data);

static void
cb_epoch_create(int rc, const char *name, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)name;
	if (op_stale(op))
		goto out;
	cl->electing = false;
	if (rc == ZOK || rc == ZNODEEXISTS)
		elect(cl);
	else
		op_error(cl, "create", op->path, rc);
out:
	free(op);
}

static void
cb_elect_epoch(int rc, const char *val, int len, const struct Stat *st,
	       const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	char cpath[CL_PATH_MAX];
	int64_t e;

	if (op_stale(op))
		goto out;
	if (rc == ZNONODE) {
		struct cl_op *c = op_new(cl, OP_EPOCH_CREATE);
		if (c == NULL) {
			cl->electing = false;
			goto out;
		}
		snprintf(c->path, sizeof(c->path), "%s", op->path);
		if (zoo_acreate(cl->zh, c->path, "0", 1, &ZOO_OPEN_ACL_UNSAFE,
				ZOO_PERSISTENT, cb_epoch_create, c) != ZOK) {
			free(c);
			cl->electing = false;
		}
		goto out;
	}
	if (rc != ZOK || val == NULL ||
	    cl_json_int(val, val + len, &e) < 0) {
		cl->electing = false;
		op_error(cl, "read", op->path, rc == ZOK ? ZAPIERROR : rc);
		goto out;
	}
	/* Kafka's registerControllerAndIncrementControllerEpoch: the
	 * ephemeral /controller and epoch+1 at the version read, at once. */
	struct cl_op *m = op_new(cl, OP_ELECT);
	if (m == NULL) {
		cl->electing = false;
		goto out;
	}
	m->epoch = (int32_t)e + 1;
	P(cl, cpath, "/controller");
	snprintf(m->path, sizeof(m->path), "%s", op->path);
	int dl = snprintf(m->data, sizeof(m->data), "{\"version\":2,"
			  "\"brokerid\":%d,\"timestamp\":\"%" PRId64 "\","
			  "\"kraftControllerEpoch\":-1}", cl->o.node_id,
			  fmq_wall_ms());
	char epoch_buf[16];   /* zoo_amulti serializes values at once */
	int el = snprintf(epoch_buf, sizeof(epoch_buf), "%d", m->epoch);
	char *cp = strdup(cpath);   /* the create op keeps a pointer */
	if (cp == NULL) {
		free(m);
		cl->electing = false;
		goto out;
	}
	zoo_create_op_init(&m->ops[0], cp, m->data, dl, &ZOO_OPEN_ACL_UNSAFE,
			   ZOO_EPHEMERAL, NULL, 0);
	zoo_set_op_init(&m->ops[1], m->path, epoch_buf, el, st->version,
			&m->st);
	rc = zoo_amulti(cl->zh, 2, m->ops, m->res, cb_elect, m);
	free(cp);
	if (rc != ZOK) {
		cl->electing = false;
		op_error(cl, "multi", m->path, rc);
		free(m);
	}
out:
	free(op);
}

static void
elect(struct fmq_cluster *cl)
{
	struct cl_op *op;

	if (cl->electing)
		return;
	op = op_new(cl, OP_ELECT_EPOCH);
	if (op == NULL)
		return;
	cl->electing = true;
	P(cl, op->path, "/controller_epoch");
	if (zoo_aget(cl->zh, op->path, 0, cb_elect_epoch, op) != ZOK) {
		cl->electing = false;
		free(op);
	}
}

/* ---------------------------------------------------------- cluster id */

static void read_cluster_id(struct fmq_cluster *cl);

static void
cb_cluster_id_create(int rc, const char *name, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;

	(void)name;
	if (op_stale(op))
		goto out;
	if (rc == ZOK) {
		snprintf(cl->v.cluster_id, sizeof(cl->v.cluster_id), "%s",
			 cl->o.cluster_id);
		cl->v.cluster_id_known = true;
		changed(cl);
		FMQ_INFO("zk", "new cluster: id %s written to %s",
			 cl->v.cluster_id, op->path);
	} else if (rc == ZNODEEXISTS) {
		read_cluster_id(cl);     /* another broker was first */
	} else {
		op_error(cl, "create", op->path, rc);
	}
out:
	free(op);
}

static void
cb_cluster_id(int rc, const char *val, int len, const struct Stat *st,
	      const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	char id[sizeof(cl->v.cluster_id)];

	(void)st;
	if (op_stale(op))
		goto out;
	if (rc == ZNONODE) {
		/* Kafka's getOrGenerateClusterId: the first broker's id. */
		struct cl_op *c;

		if (cl->o.cluster_id[0] == '\0')
			goto out;    /* none to offer: another broker's */
		c = op_new(cl, OP_CLUSTER_ID);
		if (c == NULL)
			goto out;
		snprintf(c->path, sizeof(c->path), "%s", op->path);
		int n = snprintf(c->data, sizeof(c->data), "{\"version\":\"1\","
				 "\"id\":\"%s\"}", cl->o.cluster_id);
		issued(cl, c, "create", zoo_acreate(cl->zh, c->path, c->data,
				n, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				cb_cluster_id_create, c));
		goto out;
	}
	if (rc != ZOK || val == NULL) {
		op_error(cl, "read", op->path, rc);
		goto out;
	}
	if (cl_json_str(cl_json_find(val, (size_t)len, "id"), val + len, id,
			sizeof(id)) == NULL || id[0] == '\0') {
		FMQ_ERR("zk", "%s: no readable id in it", op->path);
		cl->st.op_errors++;
		goto out;
	}
	if (!cl->v.cluster_id_known || strcmp(id, cl->v.cluster_id) != 0) {
		snprintf(cl->v.cluster_id, sizeof(cl->v.cluster_id), "%s", id);
		cl->v.cluster_id_known = true;
		changed(cl);
	}
out:
	free(op);
}

static void
read_cluster_id(struct fmq_cluster *cl)
{
	char path[CL_PATH_MAX];

	P(cl, path, "/cluster/id");
	op_read(cl, OP_CLUSTER_ID, path, cb_cluster_id);
}

/* --------------------------------------------------------------- sync */

static void
cb_ignore(int rc, const char *name, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;

	(void)name;
	if (!op_stale(op) && rc != ZOK && rc != ZNODEEXISTS)
		op_error(op->cl, "create", op->path, rc);
	free(op);
}

static void
create_persistent(struct fmq_cluster *cl, const char *abs)
{
	struct cl_op *op = op_new(cl, OP_IGNORE);

	if (op == NULL)
		return;
	snprintf(op->path, sizeof(op->path), "%s", abs);
	issued(cl, op, "create", zoo_acreate(cl->zh, op->path, NULL, -1,
			&ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, cb_ignore, op));
}

/*
 * (Re)establish everything this session needs: the paths (chroot first;
 * a session's requests are served in order, so parents come first), the
 * registration, and every read with its watch. Run on each CONNECTED and
 * on retries: reads are idempotent, and re-arming a watch the server
 * still holds is harmless.
 */
static void
sync_all(struct fmq_cluster *cl)
{
	static const char *const paths[] = {
		"/brokers", "/brokers/ids", "/brokers/topics", "/config",
		"/config/topics", "/config/changes", "/admin",
		"/admin/delete_topics", "/cluster",
	};
	char p[CL_PATH_MAX];

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED)
		return;
	cl->resync_ms = 0;
	for (size_t i = 1; cl->chroot[i - 1] != '\0'; i++) {
		if (cl->chroot[i] == '/' || cl->chroot[i] == '\0') {
			snprintf(p, sizeof(p), "%.*s", (int)i, cl->chroot);
			create_persistent(cl, p);
		}
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		P(cl, p, "%s", paths[i]);
		create_persistent(cl, p);
	}
	if (!cl->v.cluster_id_known)
		read_cluster_id(cl);
	if (!cl->v.registered)
		register_broker(cl);
	read_brokers(cl);
	read_controller(cl);
	cl_read_topics(cl);
}

/* ------------------------------------------------------------- public */

struct fmq_cluster *
fmq_cluster_create(const struct fmq_cluster_opts *o, char *err, size_t errlen)
{
	struct fmq_cluster *cl = calloc(1, sizeof(*cl));
	char msg[256];

	if (cl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->rd = calloc(FMQ_CLUSTER_MAX_BROKERS, sizeof(*cl->rd));
	if (cl->rd == NULL) {
		free(cl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->o = *o;
	cl->o.connect = NULL;
	cl->o.rack = NULL;
	if (fmq_cluster_parse_connect(o->connect, cl->hosts, sizeof(cl->hosts),
				      cl->chroot, sizeof(cl->chroot), msg,
				      sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s", msg);
		goto fail;
	}
	cl->fd = -1;
	cl->v.controller_id = -1;
	cl->v.controller_epoch = -1;
	cl->v.broker_epoch = -1;
	/* opts only borrow the caller's strings */
	cl->o.rack = strdup(o->rack != NULL ? o->rack : "");
	if (cl->o.rack == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	zk_log_init();
	if (start_session(cl) < 0) {
		snprintf(err, errlen, "cannot start a ZooKeeper client for %s",
			 cl->hosts);
		goto fail;
	}
	return cl;
fail:
	free((void *)(uintptr_t)cl->o.rack);
	free(cl->rd);
	free(cl);
	return NULL;
}

void
fmq_cluster_free(struct fmq_cluster *cl)
{
	if (cl == NULL)
		return;
	if (cl->zh != NULL) {
		zhandle_t *zh = cl->zh;
		cl->zh = NULL;
		zookeeper_close(zh);
	}
	free((void *)(uintptr_t)cl->o.rack);
	cl_topics_free(cl);
	free(cl->rd);
	free(cl);
}

static void
interest(struct fmq_cluster *cl, int *fd, int *ev, struct timeval *tv)
{
	*fd = -1;
	*ev = 0;
	tv->tv_sec = 0;
	tv->tv_usec = 100000;
	if (cl->zh != NULL)
		(void)zookeeper_interest(cl->zh, fd, ev, tv);
}

/* The client's own messages (one per failed connect while ZooKeeper is
 * down): into our log, at most one line a second. */
static struct fmq_log_rl zk_log_rl;

static ssize_t
zk_log_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len > 0)
		fmq_log_rl(&zk_log_rl, 1000000000ull, FMQ_LOG_WARN, "zkclient",
			   "%.*s", (int)len, buf);
	return (ssize_t)len;
}

static void
zk_log_init(void)
{
	static FILE *f;
	cookie_io_functions_t io = { .write = zk_log_write };

	if (f != NULL)
		return;
	f = fopencookie(NULL, "w", io);
	if (f == NULL)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	zoo_set_log_stream(f);
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
}

uint64_t
fmq_cluster_poll(struct fmq_cluster *cl)
{
	uint64_t now_ns = fmq_now_ns();
	struct timeval tv;
	int fd, ev;
	int64_t now;

	if (cl->zh == NULL)
		start_session(cl);
	/* No socket (ZooKeeper unreachable): the client would reconnect on
	 * every pass; try every CL_BACKOFF_MS instead. */
	if (cl->fd < 0 && now_ns < cl->next_try_ns)
		return (cl->next_try_ns - now_ns) / 1000 + 1;
	interest(cl, &fd, &ev, &tv);
	if (fd >= 0 && cl->zh != NULL) {
		struct pollfd p = { .fd = fd, .events = 0 };
		int events = 0;

		if (ev & ZOOKEEPER_READ)
			p.events |= POLLIN;
		if (ev & ZOOKEEPER_WRITE)
			p.events |= POLLOUT;
		if (poll(&p, 1, 0) == 1) {
			if (p.revents & (POLLIN | POLLHUP | POLLERR))
				events |= ZOOKEEPER_READ;
			/* Pings are answered every third of the timeout. */
			if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == POLLIN)
				cl->v.heard_ns = now_ns;
			if (p.revents & POLLOUT)
				events |= ZOOKEEPER_WRITE;
		}
		(void)zookeeper_process(cl->zh, events);
	}
	if (cl->expired)
		on_expired(cl);
	/* The CONNECTING session event only arrives once reconnected (the
	 * st client delivers events from zookeeper_process, which needs a
	 * socket): read the state itself. */
	if (cl->zh != NULL && cl->v.sess == FMQ_CLUSTER_SESS_CONNECTED &&
	    zoo_state(cl->zh) != ZOO_CONNECTED_STATE) {
		cl->st.connection_losses++;
		FMQ_WARN("zk", "lost the connection to ZooKeeper; reconnecting "
			 "(session 0x%" PRIx64 " is kept if it has not "
			 "expired)", (uint64_t)cl->v.session_id);
		cl->v.sess = FMQ_CLUSTER_SESS_CONNECTING;
		changed(cl);
	}
	now = fmq_wall_ms();
	if (cl->zh != NULL && cl->v.sess == FMQ_CLUSTER_SESS_CONNECTED) {
		if (cl->reg_retry_ms != 0 && now >= cl->reg_retry_ms &&
		    !cl->v.registered)
			register_broker(cl);
		if (cl->resync_ms != 0 && now >= cl->resync_ms)
			sync_all(cl);
	}
	interest(cl, &fd, &ev, &tv);
	cl->fd = fd;
	cl->events = (short)(((ev & ZOOKEEPER_READ) ? POLLIN : 0) |
			     ((ev & ZOOKEEPER_WRITE) ? POLLOUT : 0));
	if (fd < 0) {
		cl->next_try_ns = now_ns + CL_BACKOFF_MS * 1000000ull;
		return CL_BACKOFF_MS * 1000ull;
	}
	uint64_t us = (uint64_t)tv.tv_sec * 1000000ull + (uint64_t)tv.tv_usec;
	if (cl->reg_retry_ms != 0 || cl->resync_ms != 0)
		us = us < 50000 ? us : 50000;
	/* Pings go out from zookeeper_interest: never sleep past a tenth
	 * of the session timeout. */
	uint64_t cap = (uint64_t)cl->o.session_timeout_ms * 100;
	return us < cap ? us : cap;
}

int
fmq_cluster_fd(const struct fmq_cluster *cl, short *events)
{
	*events = cl->events;
	return cl->fd;
}

const struct fmq_cluster_view *
fmq_cluster_view(const struct fmq_cluster *cl)
{
	return &cl->v;
}

const struct fmq_cluster_stats *
fmq_cluster_stats(const struct fmq_cluster *cl)
{
	return &cl->st;
}

const struct fmq_cluster_broker *
fmq_cluster_broker(const struct fmq_cluster_view *v, int32_t id)
{
	for (uint32_t i = 0; i < v->nbrokers; i++)
		if (v->brokers[i].id == id)
			return &v->brokers[i];
	return NULL;
}

void
fmq_cluster_metrics(struct fmq_metrics_out *out, void *arg)
{
	const struct fmq_cluster *cl = arg;
	const struct fmq_cluster_view *v = &cl->v;

	fmq_metrics_one(out, "fluxmq_zk_session_state", "gauge",
			"ZooKeeper session: 0 connecting (or reconnecting), "
			"1 connected, 2 expired and a new one opening",
			(uint64_t)v->sess);
	fmq_metrics_one(out, "fluxmq_zk_session_timeout_ms", "gauge",
			"Session timeout the ZooKeeper server granted",
			(uint64_t)(v->session_timeout_ms > 0 ?
				   v->session_timeout_ms : 0));
	fmq_metrics_one(out, "fluxmq_zk_sessions_total", "counter",
			"ZooKeeper sessions established", cl->st.sessions);
	fmq_metrics_one(out, "fluxmq_zk_session_expirations_total", "counter",
			"ZooKeeper sessions found expired (each followed by a "
			"new session and registration)", cl->st.expirations);
	fmq_metrics_one(out, "fluxmq_zk_connection_losses_total", "counter",
			"Connections to ZooKeeper lost while the session lived",
			cl->st.connection_losses);
	fmq_metrics_one(out, "fluxmq_zk_watch_events_total", "counter",
			"ZooKeeper watches fired", cl->st.watch_events);
	fmq_metrics_one(out, "fluxmq_zk_op_errors_total", "counter",
			"ZooKeeper operations that failed unexpectedly "
			"(retried)", cl->st.op_errors);
	fmq_metrics_one(out, "fluxmq_cluster_registered", "gauge",
			"1 while /brokers/ids/<node.id> is this broker's",
			v->registered);
	fmq_metrics_one(out, "fluxmq_cluster_registrations_total", "counter",
			"Registrations made (one per session)",
			cl->st.registrations);
	fmq_metrics_one(out, "fluxmq_cluster_registration_conflicts_total",
			"counter", "Registration attempts that found the id "
			"held by another session", cl->st.registration_conflicts);
	fmq_metrics_one(out, "fluxmq_cluster_broker_epoch", "gauge",
			"Broker epoch: czxid of this broker's registration",
			(uint64_t)(v->broker_epoch > 0 ? v->broker_epoch : 0));
	fmq_metrics_one(out, "fluxmq_cluster_brokers", "gauge",
			"Live brokers registered in ZooKeeper", v->nbrokers);
	fmq_metrics_one(out, "fluxmq_cluster_controller", "gauge",
			"1 while this broker is the active controller",
			v->is_controller);
	fmq_metrics_one(out, "fluxmq_cluster_controller_id", "gauge",
			"Broker id of the controller (0 also when unknown: "
			"see fluxmq_cluster_controller_known)",
			(uint64_t)(v->controller_id >= 0 ? v->controller_id : 0));
	fmq_metrics_one(out, "fluxmq_cluster_controller_known", "gauge",
			"1 while some broker holds /controller",
			v->controller_id >= 0);
	fmq_metrics_one(out, "fluxmq_cluster_controller_epoch", "gauge",
			"Controller epoch last read from /controller_epoch",
			(uint64_t)(v->controller_epoch > 0 ?
				   v->controller_epoch : 0));
	fmq_metrics_one(out, "fluxmq_cluster_elections_won_total", "counter",
			"Controller elections this broker won",
			cl->st.elections_won);
	fmq_metrics_one(out, "fluxmq_cluster_producer_id_blocks_total",
			"counter", "Producer id blocks this broker claimed "
			"from /latest_producer_id_block", cl->st.pid_blocks);
	fmq_metrics_one(out, "fluxmq_cluster_metadata_version", "gauge",
			"Changes seen in the cluster view (brokers, "
			"controller, session)", v->version);
	fmq_metrics_one(out, "fluxmq_zk_topic_config_writes_total",
			"counter", "Topic config changes this broker wrote to "
			"/config/topics (AlterConfigs, "
			"IncrementalAlterConfigs)",
			cl->st.topic_config_writes);
	fmq_metrics_one(out, "fluxmq_zk_topic_config_updates_total",
			"counter", "Topic configs seen changed in "
			"/config/topics (written by any broker or tool)",
			cl->st.topic_config_updates);
}
