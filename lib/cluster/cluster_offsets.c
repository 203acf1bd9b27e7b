/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Committed offsets in ZooKeeper, at Kafka's pre-0.9 place
 * /consumers/<group>/offsets/<topic>/<partition> (under the chroot), the
 * znode's data the offset in decimal as Kafka's old tools read it
 * (ConsumerOffsetChecker, ZookeeperConsumerConnector: offsetString.toLong).
 *
 * A load reads the group's topics, their partitions and each znode with
 * its version and mtime. A write is one multi: setData at the version the
 * writer last saw (or create when it saw none; delete at the version), so
 * a coordinator whose view is stale cannot overwrite a newer offset: its
 * multi fails as a whole (BADVERSION, NODEEXISTS, NONODE) and nothing of
 * it is applied. The parents of a znode to create are created first in
 * the same pipeline (the session's requests run in order; NODEEXISTS on a
 * parent is the common case and ignored).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "cluster_priv.h"

#define ROOT "/consumers"
/* Group ids may be long (and escaping triples a byte): paths get more
 * room than the cluster's own. */
#define OFF_PATH 1280

/* ----------------------------------------------------------- naming */

/* One path component: bytes ZooKeeper refuses in a name ('/', control
 * characters, 0x7f and above) and '%' itself become %XX; "." and ".."
 * (not allowed as names) become %2E and %2E%2E. Kafka's group ids and
 * topic names of printable ASCII without '/' stay as Kafka wrote them. */
static int
esc(const char *s, char *out, size_t len)
{
	size_t n = strlen(s), k = 0;
	bool dots = (n == 1 && s[0] == '.') ||
		(n == 2 && s[0] == '.' && s[1] == '.');

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (dots || ch == '/' || ch == '%' || ch < 0x20 ||
		    ch >= 0x7f) {
			if (k + 3 >= len)
				return -1;
			snprintf(out + k, 4, "%%%02X", ch);
			k += 3;
		} else {
			if (k + 1 >= len)
				return -1;
			out[k++] = (char)ch;
		}
	}
	out[k] = '\0';
	return (int)k;
}

int
fmq_cluster_offset_path(const char *group, const char *topic,
			int32_t partition, char *out, size_t len)
{
	char g[OFF_PATH], t[OFF_PATH];
	int n;

	if (group == NULL || esc(group, g, sizeof(g)) < 0)
		return -1;
	if (topic == NULL)
		n = snprintf(out, len, ROOT "/%s/offsets", g);
	else if (esc(topic, t, sizeof(t)) < 0)
		return -1;
	else if (partition < 0)
		n = snprintf(out, len, ROOT "/%s/offsets/%s", g, t);
	else
		n = snprintf(out, len, ROOT "/%s/offsets/%s/%" PRId32, g, t,
			     partition);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int
fmq_cluster_offset_format(int64_t offset, char *out, size_t len)
{
	int n = snprintf(out, len, "%" PRId64, offset);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

int
fmq_cluster_offset_parse(const char *val, int len, int64_t *offset)
{
	int64_t v = 0;
	int i = 0;
	bool neg = false;

	if (val == NULL || len <= 0 || len > 20)
		return -1;
	if (val[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		int d = val[i] - '0';

		if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*offset = neg ? -v : v;
	return 0;
}

uint32_t
fmq_cluster_offsets_coalesce(struct fmq_cluster_off *ops, uint32_t n)
{
	uint32_t k = 0;

	/* The last operation on a znode wins; the first one's slot keeps
	 * it (the znodes of one multi are distinct). */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j;

		for (j = 0; j < k; j++)
			if (ops[j].partition == ops[i].partition &&
			    strcmp(ops[j].topic, ops[i].topic) == 0)
				break;
		if (j < k) {
			ops[j].offset = ops[i].offset;
			ops[j].del = ops[i].del;
		} else {
			ops[k++] = ops[i];
		}
	}
	return k;
}

/* rel under the chroot (out: OFF_PATH bytes). */
static int
abs_path(const struct fmq_cluster *cl, char *out, const char *rel)
{
	int n = snprintf(out, OFF_PATH, "%s%s", cl->chroot, rel);

	return n < 0 || n >= OFF_PATH ? -1 : 0;
}

/* ------------------------------------------------------------- load */

struct off_load {
	struct fmq_cluster *cl;
	uint64_t gen;
	uint32_t pending;
	bool failed;
	fmq_cluster_offload_fn done;
	void *arg;
	struct fmq_cluster_off *offs;
	uint32_t n, cap;
	int32_t gver;            /* offsets directory version, -1 none */
	char **topics;           /* names the entries point at */
	uint32_t ntopics;
	char base[OFF_PATH];
};

/* One read of a load: a topic's partition list or a partition's data. */
struct off_read {
	struct off_load *ld;
	uint32_t topic;          /* index into ld->topics */
	int32_t partition;
	char path[OFF_PATH];
};

static void
load_finish(struct off_load *ld)
{
	if (--ld->pending > 0)
		return;
	if (ld->failed || ld->cl->zh == NULL || ld->gen != ld->cl->gen)
		ld->done(ld->arg, -1, NULL, 0, -1);
	else
		ld->done(ld->arg, 0, ld->offs, ld->n, ld->gver);
	for (uint32_t i = 0; i < ld->ntopics; i++)
		free(ld->topics[i]);
	free(ld->topics);
	free(ld->offs);
	free(ld);
}

static bool
load_bad(struct off_load *ld, int rc, const char *path)
{
	if (rc == ZOK && ld->cl->zh != NULL && ld->gen == ld->cl->gen)
		return false;
	if (!lost(rc) && rc != ZOK) {
		ld->cl->st.op_errors++;
		FMQ_WARN("zk", "offsets load %s: %s", path, zerror(rc));
	}
	ld->failed = true;
	return true;
}

static void
cb_off_data(int rc, const char *val, int len, const struct Stat *st,
	    const void *data)
{
	struct off_read *r = (struct off_read *)(uintptr_t)data;
	struct off_load *ld = r->ld;
	int64_t off;

	if (rc == ZNONODE) {
		/* Deleted between the list and the read. */
	} else if (load_bad(ld, rc, r->path)) {
	} else if (fmq_cluster_offset_parse(val, len, &off) < 0) {
		FMQ_WARN("zk", "%s: not an offset (%.*s); ignored", r->path,
			 len > 0 ? (len > 40 ? 40 : len) : 0,
			 val != NULL ? val : "");
	} else if (ld->n == ld->cap) {
		ld->failed = true;     /* sized from the lists: cannot be */
	} else {
		struct fmq_cluster_off *o = &ld->offs[ld->n++];

		memset(o, 0, sizeof(*o));
		o->topic = ld->topics[r->topic];
		o->partition = r->partition;
		o->offset = off;
		o->version = st->version;
		o->mtime = st->mtime;
	}
	free(r);
	load_finish(ld);
}

static int
unesc(const char *s, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned int ch = (unsigned char)s[i];

		if (ch == '%' && s[i + 1] != '\0' && s[i + 2] != '\0' &&
		    sscanf(s + i + 1, "%2X", &ch) == 1)
			i += 2;
		if (k + 1 >= len)
			return -1;
		out[k++] = (char)ch;
	}
	out[k] = '\0';
	return 0;
}

static void
cb_off_parts(int rc, const struct String_vector *sv, const void *data)
{
	struct off_read *r = (struct off_read *)(uintptr_t)data;
	struct off_load *ld = r->ld;

	if (rc != ZNONODE && !load_bad(ld, rc, r->path)) {
		struct fmq_cluster_off *no = realloc(ld->offs,
			(ld->cap + (uint32_t)sv->count + 1) * sizeof(*no));

		if (no == NULL) {
			ld->failed = true;
		} else {
			ld->offs = no;
			ld->cap += (uint32_t)sv->count;
		}
		for (int32_t i = 0; !ld->failed && i < sv->count; i++) {
			struct off_read *pr;
			char *e;
			long p = strtol(sv->data[i], &e, 10);

			if (*e != '\0' || e == sv->data[i] || p < 0 ||
			    p > INT32_MAX)
				continue;
			pr = calloc(1, sizeof(*pr));
			if (pr == NULL) {
				ld->failed = true;
				break;
			}
			pr->ld = ld;
			pr->topic = r->topic;
			pr->partition = (int32_t)p;
			if (snprintf(pr->path, sizeof(pr->path), "%s/%s",
				     r->path, sv->data[i]) >=
			    (int)sizeof(pr->path)) {
				free(pr);
				continue;
			}
			ld->pending++;
			rc = zoo_aget(ld->cl->zh, pr->path, 0, cb_off_data, pr);
			if (rc != ZOK) {
				ld->pending--;
				ld->failed = true;
				free(pr);
			}
		}
	}
	free(r);
	load_finish(ld);
}

static void
cb_off_topics(int rc, const struct String_vector *sv, const struct Stat *st,
	      const void *data)
{
	struct off_load *ld = (struct off_load *)(uintptr_t)data;

	ld->gver = rc == ZOK && st != NULL ? st->version : -1;
	if (rc != ZNONODE && !load_bad(ld, rc, ld->base)) {
		ld->topics = calloc((size_t)sv->count + 1,
				    sizeof(*ld->topics));
		if (ld->topics == NULL)
			ld->failed = true;
		for (int32_t i = 0; !ld->failed && i < sv->count; i++) {
			char name[OFF_PATH];
			struct off_read *tr;

			if (unesc(sv->data[i], name, sizeof(name)) < 0)
				continue;
			tr = calloc(1, sizeof(*tr));
			ld->topics[ld->ntopics] = strdup(name);
			if (tr == NULL || ld->topics[ld->ntopics] == NULL) {
				free(tr);
				ld->failed = true;
				break;
			}
			tr->ld = ld;
			tr->topic = ld->ntopics++;
			tr->partition = -1;
			if (snprintf(tr->path, sizeof(tr->path), "%s/%s",
				     ld->base, sv->data[i]) >=
			    (int)sizeof(tr->path)) {
				free(tr);
				ld->failed = true;
				break;
			}
			ld->pending++;
			rc = zoo_aget_children(ld->cl->zh, tr->path, 0,
					       cb_off_parts, tr);
			if (rc != ZOK) {
				ld->pending--;
				ld->failed = true;
				free(tr);
			}
		}
	}
	load_finish(ld);
}

int
fmq_cluster_offsets_load(struct fmq_cluster *cl, const char *group,
			 fmq_cluster_offload_fn done, void *arg)
{
	char rel[OFF_PATH];
	struct off_load *ld;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    fmq_cluster_offset_path(group, NULL, -1, rel, sizeof(rel)) < 0)
		return -1;
	ld = calloc(1, sizeof(*ld));
	if (ld == NULL)
		return -1;
	ld->cl = cl;
	ld->gen = cl->gen;
	ld->done = done;
	ld->arg = arg;
	ld->pending = 1;
	if (abs_path(cl, ld->base, rel) < 0) {
		free(ld);
		return -1;
	}
	if (zoo_aget_children2(cl->zh, ld->base, 0, cb_off_topics, ld) !=
	    ZOK) {
		free(ld);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ write */

struct off_write {
	struct fmq_cluster *cl;
	uint64_t gen;
	fmq_cluster_offw_fn done;
	void *arg;
	struct fmq_cluster_off *ops;
	uint32_t n;                /* ops; slot n is the group's op */
	int32_t *gver;
	zoo_op_t *zops;
	zoo_op_result_t *res;
	struct Stat *st;
	char (*created)[OFF_PATH];
	char **mem;                /* copies freed after zoo_amulti */
	uint32_t nmem;
};

static void
off_write_free(struct off_write *w)
{
	for (uint32_t i = 0; i < w->nmem; i++)
		free(w->mem[i]);
	free(w->mem);
	free(w->zops);
	free(w->res);
	free(w->st);
	free(w->created);
	free(w);
}

static void
cb_parent(int rc, const char *name, const void *data)
{
	(void)name;
	(void)data;
	(void)rc;     /* NODEEXISTS mostly; the multi tells the rest */
}

static void
cb_off_multi(int rc, const void *data)
{
	struct off_write *w = (struct off_write *)(uintptr_t)data;
	struct fmq_cluster *cl = w->cl;
	int out;

	if (cl->zh == NULL || w->gen != cl->gen || lost(rc)) {
		out = -1;
	} else if (rc == ZOK) {
		out = 0;
		for (uint32_t i = 0; i < w->n; i++)
			w->ops[i].version = w->ops[i].del ? -1 :
				w->ops[i].version < 0 ? 0 : w->st[i].version;
		*w->gver = *w->gver < 0 ? 0 : w->st[w->n].version;
	} else {
		/* Another writer moved a znode: the whole multi failed. */
		out = 1;
		FMQ_INFO("zk", "offsets multi refused: %s", zerror(rc));
	}
	w->done(w->arg, out);
	off_write_free(w);
}

/* Pipeline a create of rel (under the chroot) whose outcome the multi
 * that follows shows. */
static void
create_parent(struct fmq_cluster *cl, const char *rel)
{
	char path[OFF_PATH];

	if (abs_path(cl, path, rel) < 0)
		return;
	(void)zoo_acreate(cl->zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
			  ZOO_PERSISTENT, cb_parent, NULL);
}

/* A copy of s (len bytes) owned by w until zoo_amulti serialized it. */
static char *
keep(struct off_write *w, const char *s, size_t len)
{
	char *c = strndup(s, len);

	if (c != NULL)
		w->mem[w->nmem++] = c;
	return c;
}

int
fmq_cluster_offsets_write(struct fmq_cluster *cl, const char *group,
			  int32_t *gver, struct fmq_cluster_off *ops,
			  uint32_t n, fmq_cluster_offw_fn done, void *arg)
{
	char rel[OFF_PATH], path[OFF_PATH], val[24];
	const char *last_topic = NULL;
	struct off_write *w;
	char *pc, *vc;
	int rc, vl;

	if (cl->zh == NULL || cl->v.sess != FMQ_CLUSTER_SESS_CONNECTED ||
	    (*gver < 0 && n > 0))
		return -1;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	w->cl = cl;
	w->gen = cl->gen;
	w->done = done;
	w->arg = arg;
	w->ops = ops;
	w->n = n;
	w->gver = gver;
	w->zops = calloc(n + 1, sizeof(*w->zops));
	w->res = calloc(n + 1, sizeof(*w->res));
	w->st = calloc(n + 1, sizeof(*w->st));
	w->created = calloc(n + 1, sizeof(*w->created));
	w->mem = calloc(2 * (n + 1), sizeof(*w->mem));
	if (w->zops == NULL || w->res == NULL || w->st == NULL ||
	    w->created == NULL || w->mem == NULL) {
		off_write_free(w);
		return -1;
	}
	/* zoo_amulti serializes paths and values at once; the results,
	 * stats and created names must live until the completion. */
	for (uint32_t i = 0; i < n; i++) {
		struct fmq_cluster_off *o = &ops[i];

		if (fmq_cluster_offset_path(group, o->topic, o->partition, rel,
					    sizeof(rel)) < 0 ||
		    abs_path(cl, path, rel) < 0)
			goto fail;
		vl = fmq_cluster_offset_format(o->offset, val, sizeof(val));
		pc = keep(w, path, strlen(path));
		vc = o->del || pc == NULL ? NULL : keep(w, val, (size_t)vl);
		if (pc == NULL || (!o->del && vc == NULL))
			goto fail;
		if (o->del) {
			zoo_delete_op_init(&w->zops[i], pc, o->version);
			continue;
		}
		if (o->version >= 0) {
			zoo_set_op_init(&w->zops[i], pc, vc, vl, o->version,
					&w->st[i]);
			continue;
		}
		if (last_topic == NULL || strcmp(last_topic, o->topic) != 0) {
			if (fmq_cluster_offset_path(group, o->topic, -1, rel,
						    sizeof(rel)) > 0)
				create_parent(cl, rel);
			last_topic = o->topic;
		}
		zoo_create_op_init(&w->zops[i], pc, vc, vl,
				   &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				   w->created[i], OFF_PATH);
	}
	/* The group's own op, last: its offsets directory set (or created)
	 * at the version this writer last saw. Every write moves it, so
	 * a writer that has not seen the last one (a stale coordinator) is
	 * refused, whichever partitions it writes, and a new coordinator's
	 * claim fails if anything was written since its read. */
	if (fmq_cluster_offset_path(group, NULL, -1, rel, sizeof(rel)) < 0 ||
	    abs_path(cl, path, rel) < 0 ||
	    (pc = keep(w, path, strlen(path))) == NULL)
		goto fail;
	if (*gver >= 0) {
		zoo_set_op_init(&w->zops[n], pc, "", 0, *gver, &w->st[n]);
	} else {
		create_parent(cl, ROOT);
		*strrchr(rel, '/') = '\0';
		create_parent(cl, rel);
		zoo_create_op_init(&w->zops[n], pc, "", 0,
				   &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				   w->created[n], OFF_PATH);
	}
	rc = zoo_amulti(cl->zh, (int)n + 1, w->zops, w->res, cb_off_multi,
			w);
	for (uint32_t i = 0; i < w->nmem; i++)
		free(w->mem[i]);
	w->nmem = 0;
	if (rc != ZOK) {
		off_write_free(w);
		return -1;
	}
	return 0;
fail:
	off_write_free(w);
	return -1;
}
