/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Committed offsets: OffsetCommit (staged, acknowledged after the journal
 * fdatasync), OffsetFetch, OffsetDelete, retention and journal replay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group_priv.h"

#define COMP "group"

static uint32_t
tp_hash(const struct fmq_group *co, struct fmq_group_str topic,
	int32_t partition)
{
	uint32_t h = hash_bytes(co->seed, topic.ptr,
				topic.len > 0 ? (size_t)topic.len : 0);

	return h ^ ((uint32_t)partition * 0x9e3779b1u);
}

struct offset_entry *
offset_find(struct fmq_group *co, struct group *grp,
	    struct fmq_group_str topic, int32_t partition)
{
	uint32_t h = tp_hash(co, topic, partition);
	struct hnode *n;

	for (n = htab_first(&grp->offsets, h); n != NULL; n = n->next) {
		struct offset_entry *e =
			container_of(n, struct offset_entry, hn);

		if (n->hash == h && e->partition == partition &&
		    gstr_eq(&e->topic, topic))
			return e;
	}
	return NULL;
}

/* NULL with *limit set when offsets.max.count is reached, else on ENOMEM. */
static struct offset_entry *
offset_get(struct fmq_group *co, struct group *grp,
	   struct fmq_group_str topic, int32_t partition, bool enforce,
	   bool *limit)
{
	struct offset_entry *e = offset_find(co, grp, topic, partition);

	*limit = false;
	if (e != NULL)
		return e;
	if (enforce && co->n_entries >= co->conf.offsets_max_count) {
		*limit = true;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->topic.len = -1;
	e->metadata.len = -1;
	if (gstr_set(&e->topic, topic) < 0) {
		free(e);
		return NULL;
	}
	e->grp = grp;
	e->partition = partition;
	e->leader_epoch = -1;
	e->expire_ts = -1;
	htab_insert(&grp->offsets, &e->hn, tp_hash(co, topic, partition));
	grp->n_offsets++;
	co->n_entries++;
	return e;
}

void
offset_remove(struct fmq_group *co, struct offset_entry *e, bool tomb)
{
	struct group *grp = e->grp;

	if (tomb && co->store != NULL && co->store->del != NULL &&
	    (e->has_value || e->n_staged > 0))
		co->store->del(co->store_arg, gstr_view(&grp->id),
			       gstr_view(&e->topic), e->partition);
	if (tomb && (e->has_value || e->n_staged > 0)) {
		struct jrec r;

		memset(&r, 0, sizeof(r));
		r.type = JREC_OFFSET_DEL;
		r.group = gstr_view(&grp->id);
		r.topic = gstr_view(&e->topic);
		r.partition = e->partition;
		(void)journal_add(&co->j, &r);
	}
	htab_remove(&grp->offsets, &e->hn);
	grp->n_offsets--;
	co->n_entries--;
	if (e->has_value) {
		co->n_offsets--;
		co->journal_live_bytes -= e->rec_size;
	}
	e->has_value = false;
	e->grp = NULL;
	if (e->n_staged > 0)
		return;  /* freed when its last staged commit is answered */
	gstr_clear(&e->topic);
	gstr_clear(&e->metadata);
	free(e);
}

void
offsets_remove_all(struct fmq_group *co, struct group *grp, bool tomb)
{
	for (uint32_t i = 0; i <= grp->offsets.mask; i++) {
		struct hnode *n = grp->offsets.b[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			offset_remove(co, container_of(n, struct offset_entry,
						       hn), tomb);
		}
	}
}

/* ------------------------------------------------------------------------
 * OffsetCommit
 * ---------------------------------------------------------------------- */

/* Kafka's validateOffsetCommit (non-transactional). */
static int16_t
validate_commit(struct fmq_group *co, struct group *grp,
		const struct fmq_group_commit_req *req)
{
	if (grp->state == GS_DEAD)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	if (grp->cg != NULL)
		return cgroup_validate_commit(co, grp, req);
	if (req->generation_id < 0 && grp->state == GS_EMPTY)
		return FMQ_KERR_NONE;   /* admin client or manual assignment */
	if (req->generation_id >= 0 || req->member_id.len > 0 ||
	    req->group_instance_id.len >= 0) {
		int16_t err = validate_current_member(co, grp, req->member_id,
						      req->group_instance_id);

		if (err != FMQ_KERR_NONE)
			return err;
		return req->generation_id != grp->generation ?
			FMQ_KERR_ILLEGAL_GENERATION : FMQ_KERR_NONE;
	}
	/* A non-empty group takes commits from its members only. */
	return grp->state != GS_EMPTY ? FMQ_KERR_UNKNOWN_MEMBER_ID :
		FMQ_KERR_NONE;
}

static struct waiter *
commit_waiter(const struct fmq_group_commit_req *req, uint64_t token)
{
	size_t strings = 0, sz;
	struct waiter *w;
	struct fmq_group_part_error *pe;
	char *sp;

	for (uint32_t i = 0; i < req->n_parts; i++) {
		const struct fmq_group_commit_part *p = &req->parts[i];

		strings += (p->topic.len > 0 ? (size_t)p->topic.len : 0) + 1;
		strings += (p->metadata.len > 0 ? (size_t)p->metadata.len : 0)
			+ 1;
	}
	sz = sizeof(*w) + req->n_parts * (sizeof(*pe) +
					  sizeof(struct staged_part)) + strings;
	w = calloc(1, sz);
	if (w == NULL)
		return NULL;
	w->token = token;
	w->api = FMQ_GROUP_OFFSET_COMMIT;
	w->resp.api = FMQ_GROUP_OFFSET_COMMIT;
	pe = (struct fmq_group_part_error *)(w + 1);
	w->staged = (struct staged_part *)(pe + req->n_parts);
	w->n_staged = req->n_parts;
	sp = (char *)(w->staged + req->n_parts);
	for (uint32_t i = 0; i < req->n_parts; i++) {
		const struct fmq_group_commit_part *p = &req->parts[i];
		int32_t tl = p->topic.len > 0 ? p->topic.len : 0;
		int32_t ml = p->metadata.len > 0 ? p->metadata.len : 0;

		if (tl > 0)
			memcpy(sp, p->topic.ptr, (size_t)tl);
		sp[tl] = '\0';
		pe[i].topic.ptr = sp;
		pe[i].topic.len = p->topic.len < 0 ? -1 : tl;
		pe[i].partition = p->partition;
		sp += tl + 1;
		if (ml > 0)
			memcpy(sp, p->metadata.ptr, (size_t)ml);
		sp[ml] = '\0';
		w->staged[i].metadata = sp;
		w->staged[i].metadata_len = (uint32_t)ml;
		sp += ml + 1;
	}
	w->resp.u.commit.parts = pe;
	w->resp.u.commit.n_parts = req->n_parts;
	return w;
}

static void
commit_fail_all(struct fmq_group *co, struct waiter *w,
		const struct fmq_group_commit_req *req, int16_t err)
{
	struct fmq_group_part_error *pe =
		(struct fmq_group_part_error *)w->resp.u.commit.parts;

	for (uint32_t i = 0; i < req->n_parts; i++) {
		pe[i].error = req->parts[i].preset_error != FMQ_KERR_NONE ?
			req->parts[i].preset_error : err;
		co->st.commit_errors++;
	}
	emit(co, w->token, &w->resp);
	free(w);
}

int
fmq_group_offset_commit(struct fmq_group *co, uint64_t token,
			const struct fmq_group_commit_req *req, int64_t now)
{
	struct fmq_group_part_error *pe;
	struct waiter *w;
	struct group *grp;
	uint32_t staged = 0;
	int64_t commit_ts, expire_ts;
	int16_t err;

	if (co == NULL || req == NULL || (req->parts == NULL && req->n_parts))
		return -EINVAL;
	co->last_now = now;
	w = commit_waiter(req, token);
	if (w == NULL) {
		struct fmq_group_resp r;

		/* Not even room for the answer: the broker answers every
		 * partition with this error. */
		memset(&r, 0, sizeof(r));
		r.api = FMQ_GROUP_OFFSET_COMMIT;
		r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		emit(co, token, &r);
		return 0;
	}
	if (req->n_parts == 0) {
		/* Kafka answers an empty commit without looking at the
		 * group. */
		emit(co, token, &w->resp);
		free(w);
		return 0;
	}
	err = validate_group_id(co, req->group_id, true);
	if (err != FMQ_KERR_NONE) {
		commit_fail_all(co, w, req, err);
		return 0;
	}
	grp = group_find(co, req->group_id);
	if (grp == NULL) {
		if (req->generation_id >= 0) {
			/* A member of a generation this coordinator does not
			 * know. */
			commit_fail_all(co, w, req,
					FMQ_KERR_ILLEGAL_GENERATION);
			return 0;
		}
		if (co->n_groups >= co->conf.max_groups) {
			co->st.limit_rejections++;
			commit_fail_all(co, w, req,
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
			return 0;
		}
		grp = group_create(co, req->group_id, now);
		if (grp == NULL) {
			commit_fail_all(co, w, req,
					FMQ_KERR_UNKNOWN_SERVER_ERROR);
			return 0;
		}
	}
	err = req->transactional ? (grp->state == GS_DEAD ?
		FMQ_KERR_COORDINATOR_NOT_AVAILABLE : FMQ_KERR_NONE) :
		validate_commit(co, grp, req);
	if (err == FMQ_KERR_NONE && !req->transactional) {
		switch (grp->state) {
		case GS_EMPTY:
			break;
		case GS_STABLE:
		case GS_PREPARING: {
			/* During PreparingRebalance commits of the current
			 * generation still count; the heartbeat answer tells
			 * the member to rejoin. A commit is a heartbeat. */
			struct member *m = NULL;
			struct hnode *n;
			uint32_t h = hash_bytes(co->seed, req->member_id.ptr,
				req->member_id.len > 0 ?
				(size_t)req->member_id.len : 0);

			for (n = htab_first(&grp->members, h); n != NULL;
			     n = n->next) {
				struct member *c =
					container_of(n, struct member, hn);

				if (n->hash == h &&
				    gstr_eq(&c->id, req->member_id)) {
					m = c;
					break;
				}
			}
			if (m != NULL)
				member_heartbeat(co, m, now);
			break;
		}
		case GS_COMPLETING:
			/* Valid member and generation, but the assignment is
			 * not known yet. */
			err = FMQ_KERR_REBALANCE_IN_PROGRESS;
			break;
		default:
			err = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
			break;
		}
	}
	if (err != FMQ_KERR_NONE) {
		commit_fail_all(co, w, req, err);
		return 0;
	}
	commit_ts = req->commit_timestamp < 0 ? now : req->commit_timestamp;
	expire_ts = req->retention_ms < 0 ? -1 : now + req->retention_ms;
	pe = (struct fmq_group_part_error *)w->resp.u.commit.parts;
	for (uint32_t i = 0; i < req->n_parts; i++) {
		const struct fmq_group_commit_part *p = &req->parts[i];
		struct staged_part *s = &w->staged[i];
		struct offset_entry *e;
		struct jrec r;
		bool limit;

		if (p->preset_error != FMQ_KERR_NONE) {
			pe[i].error = p->preset_error;
			co->st.commit_errors++;
			continue;
		}
		if (p->metadata.len > (int32_t)co->conf.offset_metadata_max_bytes) {
			pe[i].error = FMQ_KERR_OFFSET_METADATA_TOO_LARGE;
			co->st.commit_errors++;
			continue;
		}
		if (p->topic.len < 0 || p->topic.len > KSTR_MAX) {
			pe[i].error = FMQ_KERR_INVALID_TOPIC_EXCEPTION;
			co->st.commit_errors++;
			continue;
		}
		e = offset_get(co, grp, p->topic, p->partition, true, &limit);
		if (e == NULL) {
			if (limit)
				co->st.limit_rejections++;
			pe[i].error = limit ? FMQ_KERR_INVALID_COMMIT_OFFSET_SIZE :
				FMQ_KERR_UNKNOWN_SERVER_ERROR;
			co->st.commit_errors++;
			continue;
		}
		s->offset = p->offset;
		s->leader_epoch = p->leader_epoch;
		s->commit_ts = commit_ts;
		s->expire_ts = expire_ts;
		memset(&r, 0, sizeof(r));
		r.type = JREC_OFFSET;
		r.group = gstr_view(&grp->id);
		r.topic = p->topic;
		r.partition = p->partition;
		r.offset = p->offset;
		r.leader_epoch = p->leader_epoch;
		r.commit_ts = commit_ts;
		r.expire_ts = expire_ts;
		r.metadata.ptr = s->metadata;
		r.metadata.len = (int32_t)s->metadata_len;
		/* 0 means out of memory: the flush then fails the batch. */
		s->rec_size = journal_add(&co->j, &r);
		s->entry = e;
		e->n_staged++;
		staged++;
	}
	if (staged == 0) {
		emit(co, token, &w->resp);
		free(w);
		return 0;
	}
	TAILQ_INSERT_TAIL(&co->waiters, w, link);
	return 0;
}

/* ------------------------------------------------------------------------
 * OffsetFetch
 * ---------------------------------------------------------------------- */

static int
cmp_fetch_part(const void *a, const void *b)
{
	const struct fmq_group_fetch_part *x = a, *y = b;
	int c = strcmp(x->topic.ptr, y->topic.ptr);

	if (c != 0)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

static void
fill_part(struct fmq_group_fetch_part *fp, const struct offset_entry *e,
	  bool require_stable)
{
	fp->offset = -1;
	fp->leader_epoch = -1;
	fp->metadata.ptr = "";
	fp->metadata.len = 0;
	fp->error = FMQ_KERR_NONE;
	if (e == NULL)
		return;
	if (require_stable && e->n_staged > 0) {
		fp->error = FMQ_KERR_UNSTABLE_OFFSET_COMMIT;
		return;
	}
	if (!e->has_value)
		return;
	fp->offset = e->offset;
	fp->leader_epoch = e->leader_epoch;
	fp->metadata.ptr = e->metadata.ptr ? e->metadata.ptr : "";
	fp->metadata.len = e->metadata.len > 0 ? e->metadata.len : 0;
}

int
fmq_group_offset_fetch(struct fmq_group *co, uint64_t token,
		       const struct fmq_group_fetch_req *req, int64_t now)
{
	struct fmq_group_fetch_group_resp *gr;
	struct fmq_group_fetch_part *parts;
	struct group **grps;
	struct fmq_group_resp r;
	size_t total = 0, k = 0;

	if (co == NULL || req == NULL || (req->groups == NULL && req->n_groups))
		return -EINVAL;
	co->last_now = now;
	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_OFFSET_FETCH;
	grps = calloc(req->n_groups + 1, sizeof(*grps));
	gr = calloc(req->n_groups + 1, sizeof(*gr));
	if (grps == NULL || gr == NULL)
		goto oom;
	for (uint32_t i = 0; i < req->n_groups; i++) {
		const struct fmq_group_fetch_group *fg = &req->groups[i];

		if (fg->parts == NULL && fg->n_parts > 0) {
			free(grps);
			free(gr);
			return -EINVAL;
		}
		gr[i].group_id = fg->group_id;
		gr[i].error = validate_group_id(co, fg->group_id, true);
		if (gr[i].error != FMQ_KERR_NONE)
			continue;
		grps[i] = group_find(co, fg->group_id);
		/* v9: a consumer group checks who reads (KIP-848). */
		if (grps[i] != NULL && grps[i]->cg != NULL) {
			gr[i].error = cgroup_validate_fetch(co, grps[i], fg);
			if (gr[i].error != FMQ_KERR_NONE)
				continue;
		}
		if (fg->n_parts >= 0)
			total += (size_t)fg->n_parts;
		else if (grps[i] != NULL)
			total += grps[i]->n_offsets;
	}
	parts = calloc(total + 1, sizeof(*parts));
	if (parts == NULL)
		goto oom;
	for (uint32_t i = 0; i < req->n_groups; i++) {
		const struct fmq_group_fetch_group *fg = &req->groups[i];
		struct group *grp = grps[i];

		gr[i].parts = &parts[k];
		if (gr[i].error != FMQ_KERR_NONE)
			continue;
		if (fg->n_parts >= 0) {
			for (int32_t p = 0; p < fg->n_parts; p++) {
				struct fmq_group_fetch_part *fp = &parts[k++];
				const struct fmq_group_tp *tp = &fg->parts[p];

				fp->topic = tp->topic;
				fp->partition = tp->partition;
				fill_part(fp, grp ? offset_find(co, grp,
					tp->topic, tp->partition) : NULL,
					req->require_stable);
			}
			gr[i].n_parts = (uint32_t)fg->n_parts;
		} else if (grp != NULL) {
			struct hnode *n;
			uint32_t b, start = (uint32_t)k;

			HTAB_FOREACH(&grp->offsets, b, n) {
				struct offset_entry *e = container_of(n,
					struct offset_entry, hn);
				struct fmq_group_fetch_part *fp;

				if (!e->has_value)
					continue;
				fp = &parts[k++];
				fp->topic = gstr_view(&e->topic);
				fp->partition = e->partition;
				fill_part(fp, e, req->require_stable);
			}
			gr[i].n_parts = (uint32_t)k - start;
			qsort(&parts[start], gr[i].n_parts, sizeof(*parts),
			      cmp_fetch_part);
		}
	}
	r.u.fetch.groups = gr;
	r.u.fetch.n_groups = req->n_groups;
	emit(co, token, &r);
	free(parts);
	free(gr);
	free(grps);
	return 0;
oom:
	free(grps);
	free(gr);
	r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
	emit(co, token, &r);
	return 0;
}

/* ------------------------------------------------------------------------
 * OffsetDelete
 * ---------------------------------------------------------------------- */

int
fmq_group_offset_delete(struct fmq_group *co, uint64_t token,
			const struct fmq_group_offset_delete_req *req,
			int64_t now)
{
	struct fmq_group_part_error *pe;
	struct waiter *w;
	struct group *grp;
	size_t strings = 0;
	uint32_t removed = 0;
	bool consumer;
	char *sp;

	if (co == NULL || req == NULL || (req->parts == NULL && req->n_parts))
		return -EINVAL;
	co->last_now = now;
	for (uint32_t i = 0; i < req->n_parts; i++)
		strings += (req->parts[i].topic.len > 0 ?
			    (size_t)req->parts[i].topic.len : 0) + 1;
	strings += (req->group_id.len > 0 ? (size_t)req->group_id.len : 0) + 1;
	w = calloc(1, sizeof(*w) + req->n_parts * sizeof(*pe) + strings);
	if (w == NULL) {
		struct fmq_group_resp r;

		memset(&r, 0, sizeof(r));
		r.api = FMQ_GROUP_OFFSET_DELETE;
		r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
		emit(co, token, &r);
		return 0;
	}
	w->token = token;
	w->api = FMQ_GROUP_OFFSET_DELETE;
	w->resp.api = FMQ_GROUP_OFFSET_DELETE;
	pe = (struct fmq_group_part_error *)(w + 1);
	w->resp.error = validate_group_id(co, req->group_id, false);
	if (w->resp.error != FMQ_KERR_NONE)
		goto now;
	grp = group_find(co, req->group_id);
	if (grp == NULL || grp->state == GS_DEAD) {
		w->resp.error = FMQ_KERR_GROUP_ID_NOT_FOUND;
		goto now;
	}
	consumer = grp->protocol_type.len > 0 &&
		strcmp(grp->protocol_type.ptr, "consumer") == 0;
	if (grp->state != GS_EMPTY && !consumer) {
		w->resp.error = FMQ_KERR_NON_EMPTY_GROUP;
		goto now;
	}
	sp = (char *)(pe + req->n_parts);
	/* The group's id, for the store's confirmation (cluster mode). */
	w->gid.ptr = sp;
	w->gid.len = req->group_id.len > 0 ? req->group_id.len : 0;
	if (w->gid.len > 0)
		memcpy(sp, req->group_id.ptr, (size_t)w->gid.len);
	sp[w->gid.len] = '\0';
	sp += w->gid.len + 1;
	for (uint32_t i = 0; i < req->n_parts; i++) {
		const struct fmq_group_tp *tp = &req->parts[i];
		int32_t tl = tp->topic.len > 0 ? tp->topic.len : 0;
		struct offset_entry *e;

		if (tl > 0)
			memcpy(sp, tp->topic.ptr, (size_t)tl);
		sp[tl] = '\0';
		pe[i].topic.ptr = sp;
		pe[i].topic.len = tp->topic.len < 0 ? -1 : tl;
		pe[i].partition = tp->partition;
		if (grp->state != GS_EMPTY && group_is_subscribed(grp, sp)) {
			pe[i].error = FMQ_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
		} else {
			pe[i].error = FMQ_KERR_NONE;
			e = offset_find(co, grp, tp->topic, tp->partition);
			if (e != NULL) {
				offset_remove(co, e, true);
				co->st.offsets_deleted++;
				removed++;
			}
		}
		sp += tl + 1;
	}
	w->resp.u.offset_delete.parts = pe;
	w->resp.u.offset_delete.n_parts = req->n_parts;
	if (removed > 0) {
		/* Answer once the tombstones are durable. */
		TAILQ_INSERT_TAIL(&co->waiters, w, link);
		return 0;
	}
now:
	emit(co, token, &w->resp);
	free(w);
	return 0;
}

uint64_t
fmq_group_topic_deleted(struct fmq_group *co, const char *topic, int64_t now)
{
	struct fmq_group_str t = { topic, (int32_t)strlen(topic) };
	struct group *grp;
	uint64_t n = 0;

	co->last_now = now;
	TAILQ_FOREACH(grp, &co->glist, link) {
		for (uint32_t i = 0; i <= grp->offsets.mask; i++) {
			struct hnode *h = grp->offsets.b[i], *next;

			for (; h != NULL; h = next) {
				struct offset_entry *e = container_of(h,
					struct offset_entry, hn);

				next = h->next;
				if (!gstr_eq(&e->topic, t))
					continue;
				offset_remove(co, e, true);
				n++;
			}
		}
	}
	co->st.offsets_deleted += n;
	return n;
}

/* ------------------------------------------------------------------------
 * Retention (Kafka's removeExpiredOffsets and cleanupGroupMetadata)
 * ---------------------------------------------------------------------- */

enum expiry_base { BASE_NONE, BASE_EMPTY_SINCE, BASE_COMMIT };

void
retention_run(struct fmq_group *co, int64_t now)
{
	struct group *grp, *gnext;
	uint64_t expired = 0, removed_groups = 0;

	for (grp = TAILQ_FIRST(&co->glist); grp != NULL; grp = gnext) {
		enum expiry_base base = BASE_NONE;
		bool skip_subscribed = false;

		gnext = TAILQ_NEXT(grp, link);
		if (grp->protocol_type.len >= 0 && grp->state == GS_EMPTY) {
			/* No members: everything expires retention after the
			 * group became Empty. */
			base = BASE_EMPTY_SINCE;
		} else if (grp->protocol_type.len >= 0 &&
			   strcmp(grp->protocol_type.ptr, "consumer") == 0 &&
			   grp->subscribed_known && grp->state == GS_STABLE) {
			/* Stable consumer group: offsets of topics it no
			 * longer subscribes to expire by commit time. */
			base = BASE_COMMIT;
			skip_subscribed = true;
		} else if (grp->protocol_type.len < 0) {
			/* Standalone consumers: by commit time. */
			base = BASE_COMMIT;
		}
		if (base != BASE_NONE) {
			for (uint32_t i = 0; i <= grp->offsets.mask; i++) {
				struct hnode *h = grp->offsets.b[i], *next;

				for (; h != NULL; h = next) {
					struct offset_entry *e = container_of(
						h, struct offset_entry, hn);
					int64_t from;
					bool exp;

					next = h->next;
					if (!e->has_value || e->n_staged > 0)
						continue;
					if (skip_subscribed &&
					    group_is_subscribed(grp,
							e->topic.ptr))
						continue;
					from = base == BASE_EMPTY_SINCE ?
						grp->state_ts : e->commit_ts;
					if (e->expire_ts >= 0)
						/* v2-v4 explicit retention */
						exp = now >= e->expire_ts;
					else
						exp = now - from >=
						co->conf.offsets_retention_ms;
					if (!exp)
						continue;
					offset_remove(co, e, true);
					expired++;
				}
			}
		}
		if (grp->state == GS_EMPTY && grp->n_offsets == 0) {
			/* Empty and nothing left to remember: Dead. */
			if (grp->persisted)
				group_tombstone(co, grp);
			group_free(co, grp);
			removed_groups++;
		}
	}
	co->st.offsets_expired += expired;
	if (expired > 0 || removed_groups > 0)
		FMQ_INFO(COMP, "retention: %lu offsets expired, %lu groups "
			 "removed", (unsigned long)expired,
			 (unsigned long)removed_groups);
}

/* ------------------------------------------------------------------------
 * Journal replay
 * ---------------------------------------------------------------------- */

int
offset_load(struct fmq_group *co, const struct jrec *r, uint32_t size)
{
	struct group *grp = group_find(co, r->group);
	struct offset_entry *e;
	bool limit;

	switch (r->type) {
	case JREC_OFFSET:
		if (grp == NULL)
			grp = group_create(co, r->group, co->last_now);
		if (grp == NULL)
			return -ENOMEM;
		e = offset_get(co, grp, r->topic, r->partition, false, &limit);
		if (e == NULL || gstr_set(&e->metadata, r->metadata) < 0)
			return -ENOMEM;
		if (e->has_value)
			co->journal_live_bytes -= e->rec_size;
		else
			co->n_offsets++;
		e->has_value = true;
		e->offset = r->offset;
		e->leader_epoch = r->leader_epoch;
		e->commit_ts = r->commit_ts;
		e->expire_ts = r->expire_ts;
		e->rec_size = size;
		co->journal_live_bytes += size;
		break;
	case JREC_OFFSET_DEL:
		if (grp != NULL) {
			e = offset_find(co, grp, r->topic, r->partition);
			if (e != NULL)
				offset_remove(co, e, false);
		}
		break;
	case JREC_GROUP:
		if (grp == NULL)
			grp = group_create(co, r->group, co->last_now);
		if (grp == NULL)
			return -ENOMEM;
		if (gstr_set(&grp->protocol_type, r->protocol_type) < 0)
			return -ENOMEM;
		grp->generation = r->generation;
		/* Members are not persisted: the group is Empty now. If it
		 * had members, it became Empty at this start (fixed up by
		 * fmq_group_create, which marks it with -1 until then). */
		grp->state_ts = r->empty ? r->state_ts : -1;
		if (grp->persisted)
			co->journal_live_bytes -= grp->rec_size;
		grp->persisted = true;
		grp->rec_size = size;
		co->journal_live_bytes += size;
		break;
	case JREC_GROUP_DEL:
		if (grp != NULL)
			group_free(co, grp);
		break;
	}
	return 0;
}

int
fmq_group_load_offset(struct fmq_group *co, struct fmq_group_str group,
		      struct fmq_group_str topic, int32_t partition,
		      int64_t offset, int64_t commit_ms)
{
	struct jrec r;

	memset(&r, 0, sizeof(r));
	r.type = JREC_OFFSET;
	r.group = group;
	r.topic = topic;
	r.partition = partition;
	r.offset = offset;
	r.leader_epoch = -1;
	r.commit_ts = commit_ms;
	r.expire_ts = -1;
	r.metadata.ptr = "";
	r.metadata.len = 0;
	return offset_load(co, &r, 0);
}
