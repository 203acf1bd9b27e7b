/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ListGroups, DescribeGroups, DeleteGroups and the metrics.
 */
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "group_priv.h"

static struct fmq_group_str
cstr(const char *s)
{
	return (struct fmq_group_str){ s, (int32_t)strlen(s) };
}

static struct fmq_group_str
type_or_empty(const struct group *grp)
{
	return grp->protocol_type.len < 0 ? cstr("") :
		gstr_view(&grp->protocol_type);
}

/* ------------------------------------------------------------------------
 * ListGroups
 * ---------------------------------------------------------------------- */

/* Is name in the filter (none: everything)? Kafka compares state and
 * type names case-insensitively. */
static bool
name_listed(const struct fmq_group_str *f, uint32_t n, const char *name)
{
	size_t nl = strlen(name);

	if (n == 0)
		return true;
	for (uint32_t i = 0; i < n; i++) {
		if (f[i].len == (int32_t)nl &&
		    strncasecmp(f[i].ptr, name, nl) == 0)
			return true;
	}
	return false;
}

int
fmq_group_list(struct fmq_group *co, uint64_t token,
	       const struct fmq_group_list_req *req, int64_t now)
{
	struct fmq_group_listed *l;
	struct fmq_group_resp r;
	struct group *grp;
	uint32_t n = 0;

	if (co == NULL || req == NULL || (req->states == NULL && req->n_states) ||
	    (req->types == NULL && req->n_types))
		return -EINVAL;
	co->last_now = now;
	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_LIST;
	if (!co->active) {
		r.error = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		emit(co, token, &r);
		return 0;
	}
	l = calloc(co->n_groups + 1, sizeof(*l));
	if (l == NULL) {
		r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		emit(co, token, &r);
		return 0;
	}
	TAILQ_FOREACH(grp, &co->glist, link) {
		const char *state = grp->cg != NULL ? cgroup_state_name(grp) :
			fmq_group_state_name(grp->state);
		const char *type = grp->cg != NULL ? "consumer" : "classic";

		if (!name_listed(req->states, req->n_states, state) ||
		    !name_listed(req->types, req->n_types, type))
			continue;
		l[n].group_id = gstr_view(&grp->id);
		l[n].protocol_type = grp->cg != NULL ? cstr("consumer") :
			type_or_empty(grp);
		l[n].state = cstr(state);
		l[n].type = cstr(type);
		n++;
	}
	r.u.list.groups = l;
	r.u.list.n_groups = n;
	emit(co, token, &r);
	free(l);
	return 0;
}

/* ------------------------------------------------------------------------
 * DescribeGroups
 * ---------------------------------------------------------------------- */

int
fmq_group_describe(struct fmq_group *co, uint64_t token,
		   const struct fmq_group_describe_req *req, int64_t now)
{
	struct fmq_group_described *d = NULL;
	struct fmq_group_described_member *dm = NULL;
	struct fmq_group_resp r;
	struct group **grps = NULL;
	size_t total = 0, k = 0;

	if (co == NULL || req == NULL ||
	    (req->group_ids == NULL && req->n_groups))
		return -EINVAL;
	co->last_now = now;
	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_DESCRIBE;
	d = calloc(req->n_groups + 1, sizeof(*d));
	grps = calloc(req->n_groups + 1, sizeof(*grps));
	if (d == NULL || grps == NULL)
		goto oom;
	for (uint32_t i = 0; i < req->n_groups; i++) {
		struct group *grp;

		d[i].group_id = req->group_ids[i];
		d[i].state = cstr("");
		d[i].protocol_type = cstr("");
		d[i].protocol = cstr("");
		d[i].error = validate_group_id(co, req->group_ids[i], true);
		if (d[i].error != FMQ_KERR_NONE)
			continue;
		grp = group_find(co, req->group_ids[i]);
		if (grp == NULL || grp->cg != NULL) {
			/* Kafka's DeadGroup summary; v6+ also says so. Kafka
			 * answers the same for a consumer-protocol group. */
			d[i].state = cstr("Dead");
			if (req->version >= 6)
				d[i].error = FMQ_KERR_GROUP_ID_NOT_FOUND;
			continue;
		}
		grps[i] = grp;
		total += grp->n_members;
	}
	dm = calloc(total + 1, sizeof(*dm));
	if (dm == NULL)
		goto oom;
	for (uint32_t i = 0; i < req->n_groups; i++) {
		struct group *grp = grps[i];
		bool stable;
		struct member *m;

		d[i].members = &dm[k];
		if (grp == NULL)
			continue;
		stable = grp->state == GS_STABLE;
		d[i].state = cstr(fmq_group_state_name(grp->state));
		d[i].protocol_type = type_or_empty(grp);
		if (stable && grp->protocol.len >= 0)
			d[i].protocol = gstr_view(&grp->protocol);
		TAILQ_FOREACH(m, &grp->mlist, link) {
			struct fmq_group_described_member *x = &dm[k++];

			x->member_id = gstr_view(&m->id);
			x->group_instance_id = gstr_view(&m->instance_id);
			x->client_id = gstr_view(&m->client_id);
			x->client_host = gstr_view(&m->client_host);
			x->metadata.ptr = (const uint8_t *)"";
			x->assignment.ptr = (const uint8_t *)"";
			if (!stable)
				continue;
			/* Only a Stable group shows what members run. */
			for (uint32_t p = 0; p < m->n_protos; p++) {
				if (gstr_eq(&m->protos[p].name,
					    gstr_view(&grp->protocol))) {
					x->metadata.ptr = m->protos[p].meta;
					x->metadata.len =
						(int32_t)m->protos[p].meta_len;
					break;
				}
			}
			if (m->assignment != NULL) {
				x->assignment.ptr = m->assignment;
				x->assignment.len = (int32_t)m->assignment_len;
			}
		}
		d[i].n_members = grp->n_members;
	}
	r.u.describe.groups = d;
	r.u.describe.n_groups = req->n_groups;
	emit(co, token, &r);
	free(dm);
	free(d);
	free(grps);
	return 0;
oom:
	free(d);
	free(grps);
	r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
	emit(co, token, &r);
	return 0;
}

/* ------------------------------------------------------------------------
 * DeleteGroups
 * ---------------------------------------------------------------------- */

int
fmq_group_delete(struct fmq_group *co, uint64_t token,
		 const struct fmq_group_delete_req *req, int64_t now)
{
	struct fmq_group_deleted *d;
	struct waiter *w;
	size_t strings = 0;
	uint32_t deleted = 0;
	char *sp;

	if (co == NULL || req == NULL ||
	    (req->group_ids == NULL && req->n_groups))
		return -EINVAL;
	co->last_now = now;
	for (uint32_t i = 0; i < req->n_groups; i++)
		strings += (req->group_ids[i].len > 0 ?
			    (size_t)req->group_ids[i].len : 0) + 1;
	w = calloc(1, sizeof(*w) + req->n_groups * sizeof(*d) + strings);
	if (w == NULL) {
		struct fmq_group_resp r;

		memset(&r, 0, sizeof(r));
		r.api = FMQ_GROUP_DELETE;
		r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		emit(co, token, &r);
		return 0;
	}
	w->token = token;
	w->api = FMQ_GROUP_DELETE;
	w->resp.api = FMQ_GROUP_DELETE;
	d = (struct fmq_group_deleted *)(w + 1);
	sp = (char *)(d + req->n_groups);
	for (uint32_t i = 0; i < req->n_groups; i++) {
		struct fmq_group_str id = req->group_ids[i];
		int32_t l = id.len > 0 ? id.len : 0;
		struct group *grp;
		uint32_t dup;

		if (l > 0)
			memcpy(sp, id.ptr, (size_t)l);
		sp[l] = '\0';
		d[i].group_id.ptr = sp;
		d[i].group_id.len = id.len < 0 ? -1 : l;
		sp += l + 1;
		/* Kafka handles the ids as a set: a repeated id gets the
		 * first one's answer. */
		for (dup = 0; dup < i; dup++)
			if (str_eq(req->group_ids[dup], id))
				break;
		if (dup < i) {
			d[i].error = d[dup].error;
			continue;
		}
		d[i].error = validate_group_id(co, id, true);
		if (d[i].error != FMQ_KERR_NONE)
			continue;
		grp = group_find(co, id);
		if (grp == NULL || grp->state == GS_DEAD) {
			d[i].error = FMQ_KERR_GROUP_ID_NOT_FOUND;
			continue;
		}
		if (grp->state != GS_EMPTY) {
			d[i].error = FMQ_KERR_NON_EMPTY_GROUP;
			continue;
		}
		uint32_t before = co->n_offsets;

		/* The store (cluster mode) removes each offset; the
		 * journal takes one tombstone for the group. */
		offsets_remove_all(co, grp, co->store != NULL);
		co->st.offsets_deleted += before - co->n_offsets;
		/* One tombstone covers the group and all its offsets. */
		group_tombstone(co, grp);
		group_free(co, grp);
		d[i].error = FMQ_KERR_NONE;
		deleted++;
	}
	w->resp.u.del.groups = d;
	w->resp.u.del.n_groups = req->n_groups;
	if (deleted > 0) {
		TAILQ_INSERT_TAIL(&co->waiters, w, link);
		return 0;
	}
	emit(co, token, &w->resp);
	free(w);
	return 0;
}

/* ------------------------------------------------------------------------
 * Metrics
 * ---------------------------------------------------------------------- */

struct lbuf {
	char *p;
	size_t cap;
};

/* Append a Prometheus label value, escaped. */
static bool
lbuf_fmt(struct lbuf *b, const struct gstr *g, const struct gstr *t,
	 int32_t partition)
{
	size_t need = 64 + 2 * (size_t)(g->len > 0 ? g->len : 0) +
		2 * (size_t)(t && t->len > 0 ? t->len : 0);
	size_t n = 0;

	if (need > b->cap) {
		char *p = realloc(b->p, need);

		if (p == NULL)
			return false;
		b->p = p;
		b->cap = need;
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct gstr *s = pass == 0 ? g : t;
		const char *key = pass == 0 ? "group=\"" : ",topic=\"";

		if (s == NULL)
			break;
		memcpy(b->p + n, key, strlen(key));
		n += strlen(key);
		for (int32_t i = 0; i < s->len; i++) {
			char c = s->ptr[i];

			if (c == '\\' || c == '"') {
				b->p[n++] = '\\';
				b->p[n++] = c;
			} else if (c == '\n') {
				b->p[n++] = '\\';
				b->p[n++] = 'n';
			} else {
				b->p[n++] = c;
			}
		}
		b->p[n++] = '"';
	}
	if (t != NULL)
		n += (size_t)snprintf(b->p + n, b->cap - n,
				      ",partition=\"%" PRId32 "\"", partition);
	b->p[n] = '\0';
	return true;
}

void
fmq_group_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct fmq_group *co = arg;
	struct fmq_group_stats st;
	struct lbuf lb = { NULL, 0 };
	struct group *grp;
	char labels[64];

	fmq_group_get_stats(co, &st);
	fmq_metrics_family(out, "fluxmq_group_groups", "gauge",
			   "Consumer groups by state.");
	for (int s = 0; s < GS_COUNT; s++) {
		snprintf(labels, sizeof(labels), "state=\"%s\"",
			 fmq_group_state_name(s));
		fmq_metrics_u64(out, "fluxmq_group_groups", labels,
				st.groups_by_state[s]);
	}
	static const struct fmq_metric_def defs[] = {
#define X(field, type, name, help) \
	FMQ_METRIC_DEF(struct fmq_group_stats, field, type, name, help),
#include "group_metrics.def"
#undef X
	};
	fmq_metrics_table(out, defs, sizeof(defs) / sizeof(defs[0]), &st);
	if (co->hw == NULL)
		return;
	fmq_metrics_family(out, "fluxmq_group_consumer_lag", "gauge",
			   "High watermark minus committed offset, per group "
			   "and partition.");
	TAILQ_FOREACH(grp, &co->glist, link) {
		struct hnode *n;
		uint32_t b;

		HTAB_FOREACH(&grp->offsets, b, n) {
			struct offset_entry *e =
				container_of(n, struct offset_entry, hn);
			int64_t hw;

			if (!e->has_value)
				continue;
			hw = co->hw(e->topic.ptr, e->partition, co->hw_arg);
			if (hw < 0)
				continue;
			if (!lbuf_fmt(&lb, &grp->id, &e->topic,
				      e->partition))
				continue;
			fmq_metrics_u64(out, "fluxmq_group_consumer_lag", lb.p,
					hw > e->offset ?
					(uint64_t)(hw - e->offset) : 0);
		}
	}
	fmq_metrics_family(out, "fluxmq_group_consumer_group_lag", "gauge",
			   "Sum of the consumer lag of a group's partitions.");
	TAILQ_FOREACH(grp, &co->glist, link) {
		struct hnode *n;
		uint32_t b;
		uint64_t sum = 0;
		bool any = false;

		HTAB_FOREACH(&grp->offsets, b, n) {
			struct offset_entry *e =
				container_of(n, struct offset_entry, hn);
			int64_t hw;

			if (!e->has_value)
				continue;
			hw = co->hw(e->topic.ptr, e->partition, co->hw_arg);
			if (hw < 0)
				continue;
			any = true;
			if (hw > e->offset)
				sum += (uint64_t)(hw - e->offset);
		}
		if (any && lbuf_fmt(&lb, &grp->id, NULL, 0))
			fmq_metrics_u64(out, "fluxmq_group_consumer_group_lag",
					lb.p, sum);
	}
	free(lb.p);
}

void
fmq_group_visit(struct fmq_group *co, fmq_group_view_fn gfn,
		fmq_group_offset_view_fn ofn, void *arg)
{
	struct group *grp;

	TAILQ_FOREACH(grp, &co->glist, link) {
		struct fmq_group_view v = {
			.id = { grp->id.ptr, grp->id.len },
			.state = fmq_group_state_name(grp->state),
			.generation = grp->generation,
			.members = grp->n_members,
			.protocol_type = { grp->protocol_type.ptr,
					   grp->protocol_type.len },
			.protocol = { grp->protocol.ptr, grp->protocol.len },
		};
		struct hnode *n;
		uint32_t b;

		if (grp->cg != NULL)
			cgroup_view(grp, &v);
		if (gfn != NULL)
			gfn(arg, &v);
		if (ofn == NULL)
			continue;
		HTAB_FOREACH(&grp->offsets, b, n) {
			struct offset_entry *e =
				container_of(n, struct offset_entry, hn);
			struct fmq_group_str t = { e->topic.ptr, e->topic.len };

			if (!e->has_value)
				continue;
			ofn(arg, t, e->partition, e->offset,
			    co->hw != NULL ? co->hw(e->topic.ptr, e->partition,
						    co->hw_arg) : -1);
		}
	}
}
