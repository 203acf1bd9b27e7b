/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Committed offsets in ZooKeeper (cluster mode, issue 17): the group
 * coordinator's store (fmq_group_store) on the control lcore.
 *
 * - Load: the first request for a group this broker coordinates starts
 *   reading its offsets (/consumers/<group>/offsets/...) and is answered
 *   COORDINATOR_LOAD_IN_PROGRESS, as is every request until the read is
 *   done; the group's old state here (if any) is forgotten first.
 * - Commit: an OffsetCommit is answered once ZooKeeper took it. Each
 *   group has at most one multi in flight; commits arriving meanwhile
 *   wait and go together in the next one (group commit). Each znode is
 *   written at the version this broker last saw, so a broker that
 *   coordinated the group before and still believes it does cannot
 *   overwrite a newer offset: its multi fails, its commits are answered
 *   NOT_COORDINATOR and the group is dropped here (loaded again on the
 *   next request).
 * - Deletions (OffsetDelete, DeleteGroups, retention, topic deletion) go
 *   in order with the commits. OffsetDelete and DeleteGroups are answered
 *   like a commit of no offsets: once ZooKeeper took every operation
 *   queued for the group before them.
 * - ZooKeeper away: COORDINATOR_NOT_AVAILABLE without a session, and
 *   REQUEST_TIMED_OUT for a multi not answered within the commit timeout
 *   or lost with the connection (its outcome unknown: the group is
 *   dropped and loaded again). Nothing is acknowledged that ZooKeeper
 *   did not confirm.
 * - A group whose coordinator moves away (live brokers changed) or a new
 *   session (the old one expired) drops the group here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_cluster.h"

#define COMP "zkoff"
#define ZOFF_BUCKETS 1024u
/* Bounds: requests waiting per group and in all, operations waiting per
 * group (one multi must stay well under ZooKeeper's 1 MiB jute.maxbuffer:
 * a set op is about 100 bytes). */
#define ZOFF_GROUP_MAX_REQ 256u
#define ZOFF_MAX_REQ 8192u
#define ZOFF_GROUP_MAX_OPS 4096u
/* Kafka's offsets.commit.timeout.ms default. */
#define ZOFF_COMMIT_TIMEOUT_MS 5000

struct zver {
	char *topic;
	int32_t partition;
	int32_t version;
};

struct zop {
	char *topic;
	int32_t partition;
	int64_t offset;
	bool del;
};

struct zwrite;
struct zload;

enum zg_state { ZG_LOADING, ZG_READY, ZG_BROKEN };

struct zgroup {
	struct zgroup *next;       /* hash chain */
	char *id;
	uint32_t hash;
	enum zg_state state;
	uint64_t t0_ns;
	struct zload *load;
	struct zver *ver;
	uint32_t nver, capver;
	struct zop *pend;
	uint32_t npend, cappend;
	void **hpend;
	uint32_t nhpend, caphpend;
	struct zwrite *inflight;
	int32_t gver;              /* offsets directory version (epoch) */
	bool dirty;
};

struct zwrite {
	struct ctrl_zkoff *z;
	struct zgroup *g;          /* NULL: orphaned */
	struct fmq_cluster_off *ops;
	uint32_t n;
	struct zop *src;           /* owns the topic strings */
	uint32_t nsrc;
	void **h;
	uint32_t nh;
	int64_t deadline_ms;
	uint64_t t0_ns;
	int32_t gver;              /* the group's, updated on success */
	bool claim;                /* the load's claim (no ops) */
	bool answered;
};

struct zload {
	struct ctrl_zkoff *z;
	struct zgroup *g;          /* NULL: orphaned */
};

struct ctrl_zkoff {
	struct fmq_ctrl *c;
	struct zgroup *b[ZOFF_BUCKETS];
	uint32_t ngroups;
	uint32_t npending;         /* requests waiting or in flight */
	uint32_t ninflight;
	uint64_t view_version;
	int64_t session_id;
	bool closing;
	struct {
		uint64_t commits, offsets_written, multis, multi_us;
		uint64_t loads, load_us, load_last_us, load_errors;
		uint64_t fenced, errors, timeouts, rejected;
	} st;
};

static uint32_t
zhash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct zgroup *
zfind(struct ctrl_zkoff *z, const char *id, size_t n)
{
	uint32_t h = zhash(id, n);

	for (struct zgroup *g = z->b[h % ZOFF_BUCKETS]; g != NULL;
	     g = g->next)
		if (g->hash == h && strlen(g->id) == n &&
		    memcmp(g->id, id, n) == 0)
			return g;
	return NULL;
}

static struct fmq_group_str
gid(const struct zgroup *g)
{
	return (struct fmq_group_str){ g->id, (int32_t)strlen(g->id) };
}

static void
answer(struct ctrl_zkoff *z, void **h, uint32_t n, int16_t err)
{
	for (uint32_t i = 0; i < n; i++)
		fmq_group_store_done(z->c->group, h[i], err);
	z->npending -= n;
	if (err == 0)
		z->st.commits += n;
}

static void
free_ops(struct zop *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(ops[i].topic);
	free(ops);
}

static void
write_free(struct zwrite *w)
{
	free_ops(w->src, w->nsrc);
	free(w->ops);
	free(w->h);
	free(w);
}

/*
 * Drop a group here: its waiting commits get err, a multi in flight is
 * orphaned (answered err unless it already was), the coordinator forgets
 * the group. The next request loads it again.
 */
static void
zdrop(struct ctrl_zkoff *z, struct zgroup *g, int16_t err)
{
	struct zgroup **pp = &z->b[g->hash % ZOFF_BUCKETS];

	if (g->inflight != NULL) {
		struct zwrite *w = g->inflight;

		if (!w->answered)
			answer(z, w->h, w->nh, err);
		w->answered = true;
		w->g = NULL;
		z->ninflight--;
	}
	answer(z, g->hpend, g->nhpend, err);
	if (g->load != NULL)
		g->load->g = NULL;
	while (*pp != g)
		pp = &(*pp)->next;
	*pp = g->next;
	z->ngroups--;
	if (!z->closing)
		fmq_group_forget(z->c->group, gid(g), fmq_wall_ms());
	for (uint32_t i = 0; i < g->nver; i++)
		free(g->ver[i].topic);
	free(g->ver);
	free_ops(g->pend, g->npend);
	free(g->hpend);
	free(g->id);
	free(g);
}

static struct zver *
ver_find(struct zgroup *g, const char *topic, int32_t p)
{
	for (uint32_t i = 0; i < g->nver; i++)
		if (g->ver[i].partition == p &&
		    strcmp(g->ver[i].topic, topic) == 0)
			return &g->ver[i];
	return NULL;
}

static int
ver_set(struct zgroup *g, const char *topic, int32_t p, int32_t version)
{
	struct zver *v = ver_find(g, topic, p);

	if (v != NULL) {
		if (version >= 0) {
			v->version = version;
		} else {
			free(v->topic);
			*v = g->ver[--g->nver];
		}
		return 0;
	}
	if (version < 0)
		return 0;
	if (g->nver == g->capver) {
		uint32_t cap = g->capver ? g->capver * 2 : 8;
		struct zver *nv = realloc(g->ver, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		g->ver = nv;
		g->capver = cap;
	}
	v = &g->ver[g->nver];
	v->topic = strdup(topic);
	if (v->topic == NULL)
		return -ENOMEM;
	v->partition = p;
	v->version = version;
	g->nver++;
	return 0;
}

/* ------------------------------------------------------------ writes */

static void kick(struct ctrl_zkoff *z, struct zgroup *g);

static void
written(void *arg, int rc)
{
	struct zwrite *w = arg;
	struct ctrl_zkoff *z = w->z;
	struct zgroup *g = w->g;

	if (g == NULL) {
		write_free(w);
		return;
	}
	g->inflight = NULL;
	z->ninflight--;
	z->st.multi_us += (fmq_now_ns() - w->t0_ns) / 1000;
	if (rc == 0 && !w->answered)
		g->gver = w->gver;
	if (w->claim) {
		bool late = w->answered;

		write_free(w);
		if (rc != 0 || late) {
			/* Written since the read, or the outcome unknown:
			 * the next request loads again. */
			z->st.load_errors++;
			zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
			return;
		}
		g->state = ZG_READY;
		z->st.loads++;
		z->st.load_last_us = (fmq_now_ns() - g->t0_ns) / 1000;
		z->st.load_us += z->st.load_last_us;
		FMQ_INFO(COMP, "group %s: %u committed offsets loaded from "
			 "ZooKeeper in %.1f ms", g->id, g->nver,
			 (double)z->st.load_last_us / 1e3);
		kick(z, g);
		return;
	}
	if (rc == 0 && !w->answered) {
		bool ok = true;

		for (uint32_t i = 0; i < w->n; i++)
			if (ver_set(g, w->ops[i].topic, w->ops[i].partition,
				    w->ops[i].version) < 0)
				ok = false;
		z->st.offsets_written += w->n;
		answer(z, w->h, w->nh, 0);
		write_free(w);
		if (!ok)        /* versions unknown: read them again */
			zdrop(z, g, FMQ_KERR_NOT_COORDINATOR);
		else
			kick(z, g);
		return;
	}
	if (rc == 1) {
		z->st.fenced++;
		FMQ_WARN(COMP, "group %s: another broker wrote its offsets "
			 "(stale coordinator view); dropped here", g->id);
	} else if (rc < 0) {
		z->st.errors++;
	}
	if (!w->answered)
		answer(z, w->h, w->nh, rc == 1 ? FMQ_KERR_NOT_COORDINATOR :
		       FMQ_KERR_REQUEST_TIMED_OUT);
	w->answered = true;
	write_free(w);
	/* Versions are stale or unknown: load again before the next. */
	zdrop(z, g, rc == 1 ? FMQ_KERR_NOT_COORDINATOR :
	      FMQ_KERR_REQUEST_TIMED_OUT);
}

/* Send g's waiting operations as one multi (none in flight). */
static void
kick(struct ctrl_zkoff *z, struct zgroup *g)
{
	struct zwrite *w;
	uint32_t k = 0;

	if (g->inflight != NULL || g->state != ZG_READY ||
	    (g->npend == 0 && g->nhpend == 0))
		return;
	w = calloc(1, sizeof(*w));
	if (w != NULL)
		w->ops = calloc(g->npend + 1, sizeof(*w->ops));
	if (w == NULL || w->ops == NULL) {
		free(w);
		zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	w->z = z;
	w->src = g->pend;
	w->nsrc = g->npend;
	w->h = g->hpend;
	w->nh = g->nhpend;
	g->pend = NULL;
	g->npend = g->cappend = 0;
	g->hpend = NULL;
	g->nhpend = g->caphpend = 0;
	for (uint32_t i = 0; i < w->nsrc; i++) {
		w->ops[i].topic = w->src[i].topic;
		w->ops[i].partition = w->src[i].partition;
		w->ops[i].offset = w->src[i].offset;
		w->ops[i].del = w->src[i].del;
	}
	w->n = fmq_cluster_offsets_coalesce(w->ops, w->nsrc);
	for (uint32_t i = 0; i < w->n; i++) {
		struct zver *v = ver_find(g, w->ops[i].topic,
					  w->ops[i].partition);

		w->ops[i].version = v != NULL ? v->version : -1;
		if (w->ops[i].del && v == NULL)
			continue;    /* never written: nothing to delete */
		w->ops[k++] = w->ops[i];
	}
	w->n = k;
	if (w->n == 0) {
		answer(z, w->h, w->nh, 0);
		write_free(w);
		return;
	}
	w->g = g;
	w->t0_ns = fmq_now_ns();
	w->deadline_ms = fmq_wall_ms() + ZOFF_COMMIT_TIMEOUT_MS;
	g->inflight = w;
	z->ninflight++;
	w->gver = g->gver;
	if (fmq_cluster_offsets_write(z->c->cl, g->id, &w->gver, w->ops, w->n,
				      written, w) < 0) {
		/* Not sent (no session): nothing changed in ZooKeeper. */
		g->inflight = NULL;
		z->ninflight--;
		z->st.rejected += w->nh;
		answer(z, w->h, w->nh, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		write_free(w);
		zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	z->st.multis++;
}

static int
grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t c = *cap ? *cap : 8;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * size);
	if (n == NULL)
		return -ENOMEM;
	*arr = n;
	*cap = c;
	return 0;
}

static int
queue_op(struct zgroup *g, struct fmq_group_str topic, int32_t p,
	 int64_t offset, bool del)
{
	struct zop *o;

	if (grow((void **)&g->pend, &g->cappend, g->npend + 1,
		 sizeof(*g->pend)) < 0)
		return -ENOMEM;
	o = &g->pend[g->npend];
	o->topic = strndup(topic.ptr != NULL ? topic.ptr : "",
			   topic.len > 0 ? (size_t)topic.len : 0);
	if (o->topic == NULL)
		return -ENOMEM;
	o->partition = p;
	o->offset = offset;
	o->del = del;
	g->npend++;
	g->dirty = true;
	return 0;
}

/* fmq_group_store.put: called from fmq_group_flush. */
static int16_t
store_put(void *arg, void *handle, struct fmq_group_str group,
	  const struct fmq_group_store_put *puts, uint32_t n)
{
	struct ctrl_zkoff *z = arg;
	struct zgroup *g = z->closing ? NULL :
		zfind(z, group.ptr, group.len > 0 ? (size_t)group.len : 0);
	uint32_t n0;
	uint32_t inflight;

	if (g == NULL || g->state == ZG_LOADING)
		return FMQ_KERR_NOT_COORDINATOR;
	inflight = g->inflight != NULL && !g->inflight->answered ?
		g->inflight->nh : 0;
	if (g->state == ZG_BROKEN ||
	    fmq_cluster_view(z->c->cl)->sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    g->nhpend + inflight >= ZOFF_GROUP_MAX_REQ ||
	    z->npending >= ZOFF_MAX_REQ ||
	    g->npend + n > ZOFF_GROUP_MAX_OPS) {
		z->st.rejected++;
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	}
	if (grow((void **)&g->hpend, &g->caphpend, g->nhpend + 1,
		 sizeof(*g->hpend)) < 0)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	n0 = g->npend;
	for (uint32_t i = 0; i < n; i++)
		if (queue_op(g, puts[i].topic, puts[i].partition,
			     puts[i].offset, false) < 0) {
			while (g->npend > n0)
				free(g->pend[--g->npend].topic);
			return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		}
	g->hpend[g->nhpend++] = handle;
	z->npending++;
	return 0;
}

/* fmq_group_store.del: an offset removed; in order with the commits. */
static void
store_del(void *arg, struct fmq_group_str group, struct fmq_group_str topic,
	  int32_t partition)
{
	struct ctrl_zkoff *z = arg;
	struct zgroup *g = z->closing ? NULL :
		zfind(z, group.ptr, group.len > 0 ? (size_t)group.len : 0);

	if (g == NULL || g->state != ZG_READY)
		return;   /* not loaded here: nothing of it is ours */
	if (queue_op(g, topic, partition, -1, true) < 0) {
		z->st.errors++;
		FMQ_WARN(COMP, "group %s: out of memory queueing the removal "
			 "of %.*s-%d", g->id, topic.len, topic.ptr,
			 partition);
	}
}

static const struct fmq_group_store store_ops = {
	.put = store_put,
	.del = store_del,
};

/* ------------------------------------------------------------- loads */

/* The load's claim: move the group's epoch at the version read, so
 * that any broker that wrote before (and may still think it coordinates)
 * is refused from now on, and fail if one wrote since the read. */
static void
claim(struct ctrl_zkoff *z, struct zgroup *g)
{
	struct zwrite *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	w->z = z;
	w->g = g;
	w->claim = true;
	w->gver = g->gver;
	w->t0_ns = fmq_now_ns();
	w->deadline_ms = fmq_wall_ms() + ZOFF_COMMIT_TIMEOUT_MS;
	g->inflight = w;
	z->ninflight++;
	if (fmq_cluster_offsets_write(z->c->cl, g->id, &w->gver, NULL, 0,
				      written, w) < 0) {
		g->inflight = NULL;
		z->ninflight--;
		write_free(w);
		z->st.load_errors++;
		zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	z->st.multis++;
}

static void
loaded(void *arg, int rc, const struct fmq_cluster_off *offs, uint32_t n,
       int32_t gver)
{
	struct zload *ld = arg;
	struct ctrl_zkoff *z = ld->z;
	struct zgroup *g = ld->g;
	int64_t now = fmq_wall_ms();

	free(ld);
	if (g == NULL)
		return;
	g->load = NULL;
	if (rc != 0) {
		z->st.load_errors++;
		zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct fmq_group_str t = { offs[i].topic,
					   (int32_t)strlen(offs[i].topic) };

		if (fmq_group_load_offset(z->c->group, gid(g), t,
					  offs[i].partition, offs[i].offset,
					  offs[i].mtime > 0 ? offs[i].mtime :
					  now) < 0 ||
		    ver_set(g, offs[i].topic, offs[i].partition,
			    offs[i].version) < 0) {
			z->st.load_errors++;
			zdrop(z, g, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
			return;
		}
	}
	g->gver = gver;
	claim(z, g);
}

int16_t
ctrl_zkoff_gate(struct fmq_ctrl *c, const char *id, int32_t len)
{
	struct ctrl_zkoff *z = c->zkoff;
	struct zgroup *g;
	struct zload *ld;

	if (z == NULL || len <= 0)
		return 0;
	if (z->closing)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	g = zfind(z, id, (size_t)len);
	if (g != NULL)
		return g->state == ZG_READY ? 0 : g->state == ZG_LOADING ?
			FMQ_KERR_COORDINATOR_LOAD_IN_PROGRESS :
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	if (fmq_cluster_view(c->cl)->sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    z->ngroups >= c->cfg->group_max_groups)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	g = calloc(1, sizeof(*g));
	ld = calloc(1, sizeof(*ld));
	if (g == NULL || ld == NULL || (g->id = strndup(id, (size_t)len)) ==
	    NULL) {
		free(g);
		free(ld);
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	}
	g->hash = zhash(id, (size_t)len);
	g->state = ZG_LOADING;
	g->t0_ns = fmq_now_ns();
	ld->z = z;
	ld->g = g;
	/* Whatever this broker knew of the group is stale now. */
	fmq_group_forget(c->group, gid(g), fmq_wall_ms());
	if (fmq_cluster_offsets_load(c->cl, g->id, loaded, ld) < 0) {
		free(ld);
		free(g->id);
		free(g);
		z->st.load_errors++;
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	}
	g->load = ld;
	g->next = z->b[g->hash % ZOFF_BUCKETS];
	z->b[g->hash % ZOFF_BUCKETS] = g;
	z->ngroups++;
	return FMQ_KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

/* ------------------------------------------------------------ driver */

const struct fmq_group_store *
ctrl_zkoff_open(struct fmq_ctrl *c, void **arg)
{
	struct ctrl_zkoff *z;

	if (c->cl == NULL)
		return NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	z->c = c;
	z->session_id = fmq_cluster_view(c->cl)->session_id;
	z->view_version = fmq_cluster_view(c->cl)->version;
	c->zkoff = z;
	*arg = z;
	return &store_ops;
}

/* Every group: f decides whether to drop it (with err). */
static void
drop_if(struct ctrl_zkoff *z, bool (*f)(struct ctrl_zkoff *,
					struct zgroup *), int16_t err)
{
	for (uint32_t b = 0; b < ZOFF_BUCKETS; b++) {
		struct zgroup *g = z->b[b], *next;

		for (; g != NULL; g = next) {
			next = g->next;
			if (f(z, g))
				zdrop(z, g, err);
		}
	}
}

static bool
always(struct ctrl_zkoff *z, struct zgroup *g)
{
	(void)z;
	(void)g;
	return true;
}

static bool
moved(struct ctrl_zkoff *z, struct zgroup *g)
{
	struct fmq_ctrl *c = z->c;
	struct fmq_kafka_str host;
	int32_t port;

	return ctrl_zk_coordinator(c, g->id, (int32_t)strlen(g->id),
				   fmq_broker_listener(c->b, 0), &host,
				   &port) != fmq_broker_node_id(c->b);
}

static bool
timed_out(struct ctrl_zkoff *z, struct zgroup *g)
{
	struct zwrite *w = g->inflight;

	if (w == NULL || w->answered || fmq_wall_ms() < w->deadline_ms)
		return false;
	/* ZooKeeper did not answer in time: the outcome is unknown. The
	 * group stays broken (refusing commits) until the answer or the
	 * connection loss comes, then is dropped. */
	z->st.timeouts++;
	answer(z, w->h, w->nh, FMQ_KERR_REQUEST_TIMED_OUT);
	answer(z, g->hpend, g->nhpend, FMQ_KERR_REQUEST_TIMED_OUT);
	g->nhpend = 0;
	w->answered = true;
	g->state = ZG_BROKEN;
	return false;
}

void
ctrl_zkoff_poll(struct fmq_ctrl *c)
{
	struct ctrl_zkoff *z = c->zkoff;
	const struct fmq_cluster_view *v;

	if (z == NULL || z->closing || c->cl == NULL)
		return;
	v = fmq_cluster_view(c->cl);
	if (v->session_id != z->session_id) {
		/* A new session: another broker may have coordinated every
		 * group meanwhile. */
		z->session_id = v->session_id;
		drop_if(z, always, FMQ_KERR_NOT_COORDINATOR);
	} else if (v->version != z->view_version) {
		drop_if(z, moved, FMQ_KERR_NOT_COORDINATOR);
	}
	z->view_version = v->version;
	if (z->ninflight > 0)
		drop_if(z, timed_out, 0);
	for (uint32_t b = 0; b < ZOFF_BUCKETS; b++)
		for (struct zgroup *g = z->b[b], *next; g != NULL; g = next) {
			next = g->next;
			if (g->dirty) {
				g->dirty = false;
				kick(z, g);
			}
		}
}

void
ctrl_zkoff_close(struct fmq_ctrl *c)
{
	struct ctrl_zkoff *z = c->zkoff;

	if (z == NULL)
		return;
	if (!z->closing) {
		/* Before the coordinator's shutdown: every commit held is
		 * answered, later ones are refused (the coordinator still
		 * calls the store until it is destroyed). */
		drop_if(z, always, FMQ_KERR_NOT_COORDINATOR);
		z->closing = true;
		return;
	}
	/* After fmq_group_destroy. Orphaned writes and loads free
	 * themselves on completion and never look at z; the session is
	 * closed before this, so their completions have run. */
	c->zkoff = NULL;
	free(z);
}

void
ctrl_zkoff_metrics(struct fmq_metrics_out *out, struct fmq_ctrl *c)
{
	struct ctrl_zkoff *z = c->zkoff;

	if (z == NULL)
		return;
	fmq_metrics_one(out, "fluxmq_group_zk_commits_total", "counter",
			"OffsetCommit requests acknowledged after ZooKeeper "
			"took them", z->st.commits);
	fmq_metrics_one(out, "fluxmq_group_zk_offsets_written_total",
			"counter", "Offset znodes created, set or deleted",
			z->st.offsets_written);
	fmq_metrics_one(out, "fluxmq_group_zk_multis_total", "counter",
			"Multi operations sent (one per group commit)",
			z->st.multis);
	fmq_metrics_family(out, "fluxmq_group_zk_multi_seconds_total",
			   "counter", "Time from sending a multi to its "
			   "answer, summed");
	fmq_metrics_f64(out, "fluxmq_group_zk_multi_seconds_total", NULL,
			(double)z->st.multi_us / 1e6);
	fmq_metrics_one(out, "fluxmq_group_zk_multis_in_flight", "gauge",
			"Multi operations waiting for ZooKeeper",
			z->ninflight);
	fmq_metrics_one(out, "fluxmq_group_zk_pending_commits", "gauge",
			"OffsetCommit requests waiting for ZooKeeper",
			z->npending);
	fmq_metrics_one(out, "fluxmq_group_zk_groups", "gauge",
			"Groups loaded (or loading) on this coordinator",
			z->ngroups);
	fmq_metrics_one(out, "fluxmq_group_zk_loads_total", "counter",
			"Groups whose offsets were loaded from ZooKeeper",
			z->st.loads);
	fmq_metrics_family(out, "fluxmq_group_zk_load_seconds_total",
			   "counter", "Time spent loading groups");
	fmq_metrics_f64(out, "fluxmq_group_zk_load_seconds_total", NULL,
			(double)z->st.load_us / 1e6);
	fmq_metrics_family(out, "fluxmq_group_zk_load_last_seconds", "gauge",
			   "The last group load's duration");
	fmq_metrics_f64(out, "fluxmq_group_zk_load_last_seconds", NULL,
			(double)z->st.load_last_us / 1e6);
	fmq_metrics_one(out, "fluxmq_group_zk_load_errors_total", "counter",
			"Group loads that failed (retried on the next request)",
			z->st.load_errors);
	fmq_metrics_one(out, "fluxmq_group_zk_fenced_total", "counter",
			"Multis refused because another broker wrote the "
			"group's offsets first (stale coordinator)",
			z->st.fenced);
	fmq_metrics_one(out, "fluxmq_group_zk_errors_total", "counter",
			"Multis whose outcome is unknown (connection lost)",
			z->st.errors);
	fmq_metrics_one(out, "fluxmq_group_zk_timeouts_total", "counter",
			"Multis not answered within the commit timeout",
			z->st.timeouts);
	fmq_metrics_one(out, "fluxmq_group_zk_rejected_total", "counter",
			"Commits refused at once (no session, a bound reached)",
			z->st.rejected);
}
