/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topics in ZooKeeper, as Kafka keeps them: every broker reads
 * /brokers/topics (children watched), each topic's znode (data watched:
 * CreatePartitions changes it), its partitions' state znodes and
 * /config/topics/<name>; the controller (or a broker auto-creating a
 * topic) writes them, each change in one multi.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"

/* A topic being read: installed in the view once every read is back. */
struct cl_trd {
	uint64_t gen;
	uint64_t fresh_epoch;      /* 0: not part of a full re-read */
	bool initial;              /* part of the first full read */
	bool gone;                 /* the topic znode is not there */
	uint32_t pending;
	struct fmq_cluster_topic t;
};

int
cl_b64_uuid(const char *s, size_t len, uint8_t id[16])
{
	uint32_t acc = 0;
	int bits = 0, o = 0;

	if (len != 22)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A' :
			c >= 'a' && c <= 'z' ? c - 'a' + 26 :
			c >= '0' && c <= '9' ? c - '0' + 52 :
			c == '-' ? 62 : c == '_' ? 63 : -1;
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < 16)
				id[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == 16 ? 0 : -1;
}

static void
b64_uuid_str(const uint8_t id[16], char out[23])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_";
	uint32_t acc = 0;
	int bits = 0, o = 0;

	for (int i = 0; i < 16; i++) {
		acc = (acc << 8) | id[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

static void
topic_clear(struct fmq_cluster_topic *t)
{
	free(t->replicas);
	free(t->leader);
	free(t->leader_epoch);
	free(t->isr);
	free(t->state_version);
	free(t->config);
	free(t->adding);
	free(t->removing);
	t->adding = t->removing = NULL;
	t->replicas = t->leader = t->leader_epoch = NULL;
	t->isr = t->state_version = NULL;
	t->config = NULL;
}

const struct fmq_cluster_topic *
fmq_cluster_topic(const struct fmq_cluster_view *v, const char *name)
{
	for (uint32_t i = 0; i < v->ntopics; i++)
		if (strcmp(v->topics[i].name, name) == 0)
			return &v->topics[i];
	return NULL;
}

static void
view_remove(struct fmq_cluster *cl, const char *name)
{
	struct fmq_cluster_view *v = &cl->v;

	for (uint32_t i = 0; i < v->ntopics; i++) {
		if (strcmp(v->topics[i].name, name) != 0)
			continue;
		topic_clear(&v->topics[i]);
		v->topics[i] = v->topics[--v->ntopics];
		FMQ_INFO("zk", "topic %s is gone", name);
		changed(cl);
		return;
	}
}

static void
check_synced(struct fmq_cluster *cl)
{
	if (!cl->v.topics_synced && cl->topics_listed &&
	    cl->topic_reads == 0) {
		cl->v.topics_synced = true;
		changed(cl);
	}
}

static void
check_fresh(struct fmq_cluster *cl)
{
	if (!cl->v.fresh && cl->fresh_listed && cl->fresh_reads == 0) {
		cl->v.fresh = true;
		changed(cl);
	}
}

/* A read of the current full re-read is over. */
static void
fresh_done(struct fmq_cluster *cl, struct cl_trd *rd)
{
	if (rd->fresh_epoch != 0 && rd->fresh_epoch == cl->fresh_epoch &&
	    cl->fresh_reads > 0) {
		cl->fresh_reads--;
		check_fresh(cl);
	}
	rd->fresh_epoch = 0;
}

static void
trd_done(struct fmq_cluster *cl, struct cl_trd *rd, bool stale)
{
	if (--rd->pending > 0)
		return;
	fresh_done(cl, rd);
	if (!stale && rd->initial && cl->topic_reads > 0)
		cl->topic_reads--;
	if (stale) {
		topic_clear(&rd->t);
	} else if (rd->gone) {
		view_remove(cl, rd->t.name);
		topic_clear(&rd->t);
	} else {
		struct fmq_cluster_view *v = &cl->v;
		struct fmq_cluster_topic *old = NULL;

		for (uint32_t i = 0; i < v->ntopics; i++)
			if (strcmp(v->topics[i].name, rd->t.name) == 0)
				old = &v->topics[i];
		if (old == NULL) {
			struct fmq_cluster_topic *n = realloc(v->topics,
				(v->ntopics + 1) * sizeof(*n));
			if (n == NULL) {
				topic_clear(&rd->t);
				goto out;
			}
			v->topics = n;
			old = &v->topics[v->ntopics++];
			FMQ_INFO("zk", "topic %s: %u partition(s), replication "
				 "factor %u", rd->t.name, rd->t.nparts,
				 rd->t.rf);
		} else {
			topic_clear(old);
		}
		*old = rd->t;
		changed(cl);
	}
out:
	if (!stale)
		check_synced(cl);
	free(rd);
}

/* A {"<p>":[ids]} map of the topic JSON (adding_replicas,
 * removing_replicas) into out (nparts * rf, -1 padded). */
static int
parse_part_map(const char *j, size_t len, const char *key,
	       const struct fmq_cluster_topic *t, int32_t *out)
{
	const char *end = j + len, *p = cl_json_find(j, len, key);
	int32_t tmp[FMQ_CLUSTER_MAX_RF];
	char k[16];

	for (size_t i = 0; i < (size_t)t->nparts * t->rf; i++)
		out[i] = -1;
	if (p == NULL || *p != '{')
		return 0;
	for (const char *q = p + 1; q < end && *q != '}';) {
		while (q < end && (*q == ' ' || *q == ','))
			q++;
		if (q < end && *q == '}')
			break;
		q = cl_json_str(q, end, k, sizeof(k));
		if (q == NULL)
			return -1;
		long part = strtol(k, NULL, 10);
		while (q < end && (*q == ' ' || *q == ':'))
			q++;
		int n = cl_json_int_array(q, end, tmp, FMQ_CLUSTER_MAX_RF);
		if (n < 0 || part < 0 || (uint32_t)part >= t->nparts)
			return -1;
		for (int r = 0; r < n && r < t->rf; r++)
			out[(size_t)part * t->rf + r] = tmp[r];
		while (q < end && *q != ']')
			q++;
		q++;
	}
	return 0;
}

/* Parse Kafka's topic JSON into rd->t (partitions, topic_id). */
static int
parse_topic(const char *j, size_t len, struct fmq_cluster_topic *t)
{
	const char *end = j + len, *p = cl_json_find(j, len, "partitions");
	uint32_t np = 0, rf = 1;
	int32_t tmp[FMQ_CLUSTER_MAX_RF];
	char key[16];

	if (p == NULL || *p != '{')
		return -1;
	/* count and size first */
	for (const char *q = p + 1; q < end && *q != '}';) {
		while (q < end && (*q == ' ' || *q == ','))
			q++;
		if (q < end && *q == '}')
			break;
		q = cl_json_str(q, end, key, sizeof(key));
		if (q == NULL)
			return -1;
		while (q < end && (*q == ' ' || *q == ':'))
			q++;
		int n = cl_json_int_array(q, end, tmp, FMQ_CLUSTER_MAX_RF);
		if (n < 1)
			return -1;
		if ((uint32_t)n > rf)
			rf = (uint32_t)n;
		np++;
		while (q < end && *q != ']')
			q++;
		q++;
	}
	if (np == 0)
		return -1;
	t->nparts = np;
	t->rf = (uint16_t)rf;
	t->replicas = malloc((size_t)np * rf * sizeof(int32_t));
	t->leader = malloc(np * sizeof(int32_t));
	t->leader_epoch = calloc(np, sizeof(int32_t));
	t->isr = malloc((size_t)np * rf * sizeof(int32_t));
	t->state_version = malloc(np * sizeof(int32_t));
	if (t->replicas == NULL || t->leader == NULL ||
	    t->leader_epoch == NULL || t->isr == NULL ||
	    t->state_version == NULL)
		return -1;
	for (size_t i = 0; i < (size_t)np * rf; i++)
		t->replicas[i] = -1;
	for (uint32_t i = 0; i < np; i++)
		t->state_version[i] = -1;
	for (const char *q = p + 1; q < end && *q != '}';) {
		while (q < end && (*q == ' ' || *q == ','))
			q++;
		if (q < end && *q == '}')
			break;
		q = cl_json_str(q, end, key, sizeof(key));
		if (q == NULL)
			return -1;
		long part = strtol(key, NULL, 10);
		while (q < end && (*q == ' ' || *q == ':'))
			q++;
		int n = cl_json_int_array(q, end, tmp, FMQ_CLUSTER_MAX_RF);
		if (n < 1 || part < 0 || (uint32_t)part >= np)
			return -1;
		memcpy(&t->replicas[(size_t)part * rf], tmp,
		       (size_t)n * sizeof(int32_t));
		/* Until its state is read: ISR = the replicas. */
		memcpy(&t->isr[(size_t)part * rf], &t->replicas[(size_t)part * rf],
		       rf * sizeof(int32_t));
		t->leader[part] = tmp[0];
		while (q < end && *q != ']')
			q++;
		q++;
	}
	t->adding = malloc((size_t)np * rf * sizeof(int32_t));
	t->removing = malloc((size_t)np * rf * sizeof(int32_t));
	if (t->adding == NULL || t->removing == NULL ||
	    parse_part_map(j, len, "adding_replicas", t, t->adding) < 0 ||
	    parse_part_map(j, len, "removing_replicas", t, t->removing) < 0)
		return -1;
	p = cl_json_find(j, len, "topic_id");
	if (p != NULL) {
		char s[32];
		if (cl_json_str(p, end, s, sizeof(s)) != NULL)
			(void)cl_b64_uuid(s, strlen(s), t->id);
	}
	return 0;
}

static void
cb_part_state(int rc, const char *val, int len, const struct Stat *st,
	      const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	struct cl_trd *rd = op->ptr;
	bool stale = op_stale(op) || rd->gen != cl->gen;

	if (!stale && rc == ZOK && val != NULL) {
		cl_state_parse(&rd->t, (uint32_t)op->id, val, (size_t)len,
			       st->version);
	} else if (!stale && rc != ZNONODE) {
		op_error(cl, "read", op->path, rc);
	}
	trd_done(cl, rd, stale);
	free(op);
}

static void
cb_topic_cfg(int rc, const char *val, int len, const struct Stat *st,
	     const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	struct cl_trd *rd = op->ptr;
	bool stale = op_stale(op) || rd->gen != cl->gen;

	(void)st;
	if (!stale && rc == ZOK && val != NULL) {
		rd->t.config = malloc((size_t)len + 1);
		if (rd->t.config != NULL) {
			memcpy(rd->t.config, val, (size_t)len);
			rd->t.config[len] = '\0';
		}
	}
	trd_done(cl, rd, stale);
	free(op);
}

static void
cb_topic_data(int rc, const char *val, int len, const struct Stat *st,
	      const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	struct cl_trd *rd = op->ptr;
	bool stale = op_stale(op) || rd->gen != cl->gen;

	if (stale) {
		trd_done(cl, rd, true);
		free(op);
		return;
	}
	if (rc == ZNONODE) {
		rd->gone = true;
	} else if (rc != ZOK || val == NULL ||
		   parse_topic(val, (size_t)len, &rd->t) < 0) {
		if (rc == ZOK)
			FMQ_WARN("zk", "%s: unreadable topic", op->path);
		else
			op_error(cl, "read", op->path, rc);
		rd->gone = fmq_cluster_topic(&cl->v, rd->t.name) == NULL;
		if (!rd->gone) {
			/* keep what the view has */
			topic_clear(&rd->t);
			rd->pending = 1;
			if (rd->initial && cl->topic_reads > 0)
				cl->topic_reads--;
			check_synced(cl);
			fresh_done(cl, rd);
			free(rd);
			free(op);
			return;
		}
	} else {
		rd->t.zk_version = st->version;
		struct cl_op *c = op_new(cl, OP_IGNORE);
		if (c != NULL) {
			c->ptr = rd;
			P(cl, c->path, "/config/topics/%s", rd->t.name);
			/* Watched: AlterConfigs changes it
			 * (cluster_config.c). */
			if (zoo_awget(cl->zh, c->path, cl_watcher, cl,
				      cb_topic_cfg, c) == ZOK)
				rd->pending++;
			else
				free(c);
		}
		for (uint32_t p = 0; p < rd->t.nparts; p++) {
			struct cl_op *s = op_new(cl, OP_IGNORE);
			if (s == NULL)
				break;
			s->ptr = rd;
			s->id = (int32_t)p;
			P(cl, s->path, "/brokers/topics/%s/partitions/%u/state",
			  rd->t.name, p);
			/* Watched: leaders and ISRs change there. */
			if (zoo_awget(cl->zh, s->path, cl_watcher, cl,
				      cb_part_state, s) == ZOK)
				rd->pending++;
			else
				free(s);
		}
	}
	trd_done(cl, rd, false);
	free(op);
}

static void
read_topic(struct fmq_cluster *cl, const char *name, bool initial,
	   uint64_t fresh_epoch)
{
	struct cl_trd *rd = calloc(1, sizeof(*rd));
	struct cl_op *op = op_new(cl, OP_IGNORE);

	if (rd == NULL || op == NULL) {
		free(rd);
		free(op);
		return;
	}
	rd->gen = cl->gen;
	rd->initial = initial;
	rd->fresh_epoch = fresh_epoch;
	rd->pending = 1;
	snprintf(rd->t.name, sizeof(rd->t.name), "%s", name);
	op->ptr = rd;
	P(cl, op->path, "/brokers/topics/%s", name);
	if (initial)
		cl->topic_reads++;
	if (fresh_epoch != 0)
		cl->fresh_reads++;
	if (zoo_awget(cl->zh, op->path, cl_watcher, cl, cb_topic_data, op) !=
	    ZOK) {
		if (initial)
			cl->topic_reads--;
		fresh_done(cl, rd);
		free(rd);
		free(op);
	}
}

static void
cb_topics_children(int rc, const struct String_vector *s,
		   const struct Stat *st, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct fmq_cluster *cl = op->cl;
	struct fmq_cluster_view *v = &cl->v;
	bool all = op->id != 0;

	(void)st;
	if (op_stale(op))
		goto out;
	if (rc != ZOK) {
		op_error(cl, "list", op->path, rc);
		goto out;
	}
	/* Gone from the list: gone. */
	for (uint32_t i = 0; i < v->ntopics;) {
		bool found = false;
		for (int32_t k = 0; k < s->count && !found; k++)
			found = strcmp(s->data[k], v->topics[i].name) == 0;
		if (found) {
			i++;
			continue;
		}
		char name[FMQ_CLUSTER_TOPIC_MAX + 1];
		snprintf(name, sizeof(name), "%s", v->topics[i].name);
		view_remove(cl, name);
	}
	uint64_t fe = all && op->epoch_fresh == cl->fresh_epoch ?
		cl->fresh_epoch : 0;
	for (int32_t k = 0; k < s->count; k++)
		if (all || fmq_cluster_topic(v, s->data[k]) == NULL)
			read_topic(cl, s->data[k], !v->topics_synced, fe);
	cl->topics_listed = true;
	check_synced(cl);
	if (fe != 0) {
		cl->fresh_listed = true;
		check_fresh(cl);
	}
out:
	free(op);
}

/* List the topics (watch re-armed); all: read every topic again (after
 * a reconnect, a data watch may have been lost with its read). */
static void
list_topics(struct fmq_cluster *cl, bool all)
{
	struct cl_op *op = op_new(cl, OP_IGNORE);

	if (op == NULL)
		return;
	op->id = all;
	op->epoch_fresh = cl->fresh_epoch;
	P(cl, op->path, "/brokers/topics");
	issued(cl, op, "list", zoo_awget_children2(cl->zh, op->path,
			cl_watcher, cl, cb_topics_children, op));
}

void
cl_read_topics(struct fmq_cluster *cl)
{
	/* A (re)connection: not fresh until everything is read again. */
	cl->fresh_epoch++;
	cl->fresh_reads = 0;
	cl->fresh_listed = false;
	if (cl->v.fresh) {
		cl->v.fresh = false;
		changed(cl);
	}
	list_topics(cl, true);
}

void
cl_topic_event(struct fmq_cluster *cl, int type, const char *path)
{
	char root[CL_PATH_MAX];
	size_t rl;

	P(cl, root, "/brokers/topics");
	rl = strlen(root);
	if (strcmp(path, root) == 0) {
		if (type == ZOO_CHILD_EVENT)
			list_topics(cl, false);
		return;
	}
	if (strncmp(path, root, rl) != 0 || path[rl] != '/')
		return;
	if (strchr(path + rl + 1, '/') != NULL) {
		if (type == ZOO_CHANGED_EVENT)
			cl_state_event(cl, path + rl + 1);
		return;
	}
	if (type == ZOO_CHANGED_EVENT)
		read_topic(cl, path + rl + 1, false, 0);
}

void
cl_topics_free(struct fmq_cluster *cl)
{
	for (uint32_t i = 0; i < cl->v.ntopics; i++)
		topic_clear(&cl->v.topics[i]);
	free(cl->v.topics);
	cl->v.topics = NULL;
	cl->v.ntopics = 0;
}

/* -------------------------------------------------------------- writes */

struct cl_wr {
	fmq_cluster_done_fn done;
	void *arg;
	int n;
	zoo_op_t *ops;
	zoo_op_result_t *res;
	char (*paths)[CL_PATH_MAX];
	char **bufs;
};

static void
wr_free(struct cl_wr *w)
{
	if (w == NULL)
		return;
	for (int i = 0; w->bufs != NULL && i < w->n; i++)
		free(w->bufs[i]);
	free(w->bufs);
	free(w->ops);
	free(w->res);
	free(w->paths);
	free(w);
}

static struct cl_wr *
wr_new(int n, fmq_cluster_done_fn done, void *arg)
{
	struct cl_wr *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->done = done;
	w->arg = arg;
	w->n = 0;
	w->ops = calloc((size_t)n, sizeof(*w->ops));
	w->res = calloc((size_t)n, sizeof(*w->res));
	w->paths = calloc((size_t)n, sizeof(*w->paths));
	w->bufs = calloc((size_t)n, sizeof(*w->bufs));
	if (w->ops == NULL || w->res == NULL || w->paths == NULL ||
	    w->bufs == NULL) {
		wr_free(w);
		return NULL;
	}
	return w;
}

static int16_t
kerr_of(int rc)
{
	switch (rc) {
	case ZOK: return 0;
	case ZNODEEXISTS: return 36;      /* TOPIC_ALREADY_EXISTS */
	case ZNONODE: return 3;           /* UNKNOWN_TOPIC_OR_PARTITION */
	case ZBADVERSION: return 41;      /* NOT_CONTROLLER: fenced */
	default:
		return lost(rc) ? 7 : -1; /* REQUEST_TIMED_OUT, UNKNOWN */
	}
}

static void
cb_write(int rc, const void *data)
{
	struct cl_op *op = (struct cl_op *)(uintptr_t)data;
	struct cl_wr *w = op->ptr;

	if (rc != ZOK && !lost(rc))
		FMQ_WARN("zk", "%s: %s", op->path, zerror(rc));
	w->done(w->arg, kerr_of(rc));
	wr_free(w);
	free(op);
}

/* The controller fences its writes with /controller_epoch's version. */
static void
wr_fence(struct fmq_cluster *cl, struct cl_wr *w)
{
	if (!cl->v.is_controller)
		return;
	P(cl, w->paths[w->n], "/controller_epoch");
	zoo_check_op_init(&w->ops[w->n], w->paths[w->n], cl->ctrl_epoch_zkv);
	w->n++;
}

static void
wr_create(struct fmq_cluster *cl, struct cl_wr *w, char *buf, const char *fmt,
	  ...) __attribute__((format(printf, 4, 5)));

static void
wr_create(struct fmq_cluster *cl, struct cl_wr *w, char *buf, const char *fmt,
	  ...)
{
	char rel[CL_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	P(cl, w->paths[w->n], "%s", rel);
	w->bufs[w->n] = buf;
	zoo_create_op_init(&w->ops[w->n], w->paths[w->n], buf,
			   buf != NULL ? (int)strlen(buf) : -1,
			   &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
	w->n++;
}

static int16_t
wr_send(struct fmq_cluster *cl, struct cl_wr *w, const char *what)
{
	struct cl_op *op;
	int rc;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED) {
		wr_free(w);
		return 7;    /* REQUEST_TIMED_OUT: no ZooKeeper now */
	}
	op = op_new(cl, OP_IGNORE);
	if (op == NULL) {
		wr_free(w);
		return -1;
	}
	op->ptr = w;
	snprintf(op->path, sizeof(op->path), "%s", what);
	rc = zoo_amulti(cl->zh, w->n, w->ops, w->res, cb_write, op);
	if (rc != ZOK) {
		wr_free(w);
		free(op);
		return kerr_of(rc);
	}
	return 0;
}

static char *
topic_json(const uint8_t id[16], uint32_t nparts, uint16_t rf,
	   const int32_t *replicas)
{
	size_t cap = (size_t)nparts * (rf * 12u + 16u) + 256, n = 0;
	char *j = malloc(cap), uid[23];

	if (j == NULL)
		return NULL;
	n += (size_t)snprintf(j + n, cap - n, "{\"version\":2,\"partitions\":{");
	for (uint32_t p = 0; p < nparts; p++) {
		n += (size_t)snprintf(j + n, cap - n, "%s\"%u\":[", p ? "," : "",
				      p);
		/* -1 pads a partition with fewer replicas (moved by a
		 * reassignment): not a replica. */
		for (uint16_t r = 0, o = 0; r < rf; r++)
			if (replicas[(size_t)p * rf + r] >= 0)
				n += (size_t)snprintf(j + n, cap - n, "%s%d",
					o++ ? "," : "",
					replicas[(size_t)p * rf + r]);
		n += (size_t)snprintf(j + n, cap - n, "]");
	}
	b64_uuid_str(id, uid);
	snprintf(j + n, cap - n, "},\"adding_replicas\":{},"
		 "\"removing_replicas\":{},\"topic_id\":\"%s\"}", uid);
	return j;
}

static char *
state_json(struct fmq_cluster *cl, const int32_t *rep, uint16_t rf)
{
	char *j = malloc(64 + rf * 12u);
	size_t n;

	if (j == NULL)
		return NULL;
	n = (size_t)sprintf(j, "{\"controller_epoch\":%d,\"leader\":%d,"
			    "\"version\":1,\"leader_epoch\":0,\"isr\":[",
			    cl->v.controller_epoch > 0 ?
			    cl->v.controller_epoch : 0, rep[0]);
	for (uint16_t r = 0; r < rf && rep[r] >= 0; r++)
		n += (size_t)sprintf(j + n, "%s%d", r ? "," : "", rep[r]);
	sprintf(j + n, "]}");
	return j;
}

int16_t
fmq_cluster_create_topic(struct fmq_cluster *cl, const char *name,
			 const uint8_t id[16], uint32_t nparts, uint16_t rf,
			 const int32_t *replicas, const char *config,
			 fmq_cluster_done_fn done, void *arg)
{
	struct cl_wr *w = wr_new((int)(4 + 2 * nparts), done, arg);
	char *cfg;
	size_t cl_len = (config != NULL ? strlen(config) : 0) + 32;

	if (w == NULL)
		return -1;
	wr_fence(cl, w);
	wr_create(cl, w, topic_json(id, nparts, rf, replicas),
		  "/brokers/topics/%s", name);
	wr_create(cl, w, NULL, "/brokers/topics/%s/partitions", name);
	for (uint32_t p = 0; p < nparts; p++) {
		wr_create(cl, w, NULL, "/brokers/topics/%s/partitions/%u",
			  name, p);
		wr_create(cl, w, state_json(cl, &replicas[(size_t)p * rf], rf),
			  "/brokers/topics/%s/partitions/%u/state", name, p);
	}
	cfg = malloc(cl_len);
	if (cfg != NULL)
		snprintf(cfg, cl_len, "{\"version\":1,\"config\":%s}",
			 config != NULL && config[0] != '\0' ? config : "{}");
	wr_create(cl, w, cfg, "/config/topics/%s", name);
	for (int i = 0; i < w->n; i++)
		if (w->ops[i].type == ZOO_CREATE_OP && w->bufs[i] == NULL &&
		    strstr(w->paths[i], "/state") != NULL) {
			wr_free(w);
			return -1;
		}
	return wr_send(cl, w, name);
}

int16_t
fmq_cluster_delete_topic(struct fmq_cluster *cl, const char *name,
			 fmq_cluster_done_fn done, void *arg)
{
	const struct fmq_cluster_topic *t = fmq_cluster_topic(&cl->v, name);
	struct cl_wr *w;

	if (t == NULL)
		return 3;
	w = wr_new((int)(4 + 2 * t->nparts), done, arg);
	if (w == NULL)
		return -1;
	wr_fence(cl, w);
	for (uint32_t p = 0; p < t->nparts; p++) {
		P(cl, w->paths[w->n], "/brokers/topics/%s/partitions/%u/state",
		  name, p);
		zoo_delete_op_init(&w->ops[w->n], w->paths[w->n], -1);
		w->n++;
		P(cl, w->paths[w->n], "/brokers/topics/%s/partitions/%u",
		  name, p);
		zoo_delete_op_init(&w->ops[w->n], w->paths[w->n], -1);
		w->n++;
	}
	P(cl, w->paths[w->n], "/brokers/topics/%s/partitions", name);
	zoo_delete_op_init(&w->ops[w->n], w->paths[w->n], -1);
	w->n++;
	P(cl, w->paths[w->n], "/brokers/topics/%s", name);
	zoo_delete_op_init(&w->ops[w->n], w->paths[w->n], -1);
	w->n++;
	if (t->config != NULL) {
		P(cl, w->paths[w->n], "/config/topics/%s", name);
		zoo_delete_op_init(&w->ops[w->n], w->paths[w->n], -1);
		w->n++;
	}
	return wr_send(cl, w, name);
}

int16_t
fmq_cluster_add_partitions(struct fmq_cluster *cl, const char *name,
			   uint32_t total, const int32_t *replicas,
			   fmq_cluster_done_fn done, void *arg)
{
	const struct fmq_cluster_topic *t = fmq_cluster_topic(&cl->v, name);
	struct cl_wr *w;
	int32_t *all;
	char *j;

	if (t == NULL)
		return 3;
	if (total <= t->nparts)
		return 37;    /* INVALID_PARTITIONS */
	all = malloc((size_t)total * t->rf * sizeof(*all));
	w = wr_new((int)(2 + 2 * (total - t->nparts)), done, arg);
	if (all == NULL || w == NULL) {
		free(all);
		wr_free(w);
		return -1;
	}
	memcpy(all, t->replicas, (size_t)t->nparts * t->rf * sizeof(*all));
	memcpy(all + (size_t)t->nparts * t->rf, replicas,
	       (size_t)(total - t->nparts) * t->rf * sizeof(*all));
	wr_fence(cl, w);
	j = topic_json(t->id, total, t->rf, all);
	P(cl, w->paths[w->n], "/brokers/topics/%s", name);
	w->bufs[w->n] = j;
	zoo_set_op_init(&w->ops[w->n], w->paths[w->n], j,
			j != NULL ? (int)strlen(j) : 0, t->zk_version, NULL);
	w->n++;
	for (uint32_t p = t->nparts; p < total; p++) {
		wr_create(cl, w, NULL, "/brokers/topics/%s/partitions/%u",
			  name, p);
		wr_create(cl, w, state_json(cl, &all[(size_t)p * t->rf],
					    t->rf),
			  "/brokers/topics/%s/partitions/%u/state", name, p);
	}
	free(all);
	if (j == NULL) {
		wr_free(w);
		return -1;
	}
	return wr_send(cl, w, name);
}

/* Kafka's topic JSON with a reassignment: partitions, adding_replicas
 * and removing_replicas (nparts * rf each, -1 padded). */
static char *
topic_json_reassign(const uint8_t id[16], uint32_t nparts, uint16_t rf,
		    const int32_t *rep, const int32_t *add, const int32_t *rem)
{
	size_t cap = (size_t)nparts * (rf * 36u + 48u) + 256, n = 0;
	char *j = malloc(cap), uid[23];
	const int32_t *maps[3] = { rep, add, rem };
	static const char *const names[3] = { "partitions", "adding_replicas",
					      "removing_replicas" };

	if (j == NULL)
		return NULL;
	n += (size_t)snprintf(j + n, cap - n, "{\"version\":2");
	for (int m = 0; m < 3; m++) {
		bool first = true;
		n += (size_t)snprintf(j + n, cap - n, ",\"%s\":{", names[m]);
		for (uint32_t p = 0; p < nparts; p++) {
			const int32_t *r = &maps[m][(size_t)p * rf];
			if (m > 0 && r[0] < 0)
				continue;    /* none for this partition */
			n += (size_t)snprintf(j + n, cap - n, "%s\"%u\":[",
					      first ? "" : ",", p);
			first = false;
			for (uint16_t k = 0, o = 0; k < rf; k++)
				if (r[k] >= 0)
					n += (size_t)snprintf(j + n, cap - n,
						"%s%d", o++ ? "," : "", r[k]);
			n += (size_t)snprintf(j + n, cap - n, "]");
		}
		n += (size_t)snprintf(j + n, cap - n, "}");
	}
	b64_uuid_str(id, uid);
	snprintf(j + n, cap - n, ",\"topic_id\":\"%s\"}", uid);
	return j;
}

int16_t
fmq_cluster_set_assignment(struct fmq_cluster *cl, const char *name,
			   uint16_t rf, const int32_t *replicas,
			   const int32_t *adding, const int32_t *removing,
			   fmq_cluster_done_fn done, void *arg)
{
	const struct fmq_cluster_topic *t = fmq_cluster_topic(&cl->v, name);
	struct cl_wr *w;
	char *j;

	if (t == NULL)
		return 3;
	if (rf < 1 || rf > FMQ_CLUSTER_MAX_RF)
		return 39;    /* INVALID_REPLICA_ASSIGNMENT */
	w = wr_new(2, done, arg);
	j = topic_json_reassign(t->id, t->nparts, rf, replicas, adding,
				removing);
	if (w == NULL || j == NULL) {
		free(j);
		wr_free(w);
		return -1;
	}
	wr_fence(cl, w);
	P(cl, w->paths[w->n], "/brokers/topics/%s", name);
	w->bufs[w->n] = j;
	zoo_set_op_init(&w->ops[w->n], w->paths[w->n], j, (int)strlen(j),
			t->zk_version, NULL);
	w->n++;
	return wr_send(cl, w, name);
}
