/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The classic group membership protocol: JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup and the expirations that drive them. It follows Apache Kafka's
 * GroupCoordinator/GroupMetadata state machine:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable/CompletingRebalance --join with new metadata, leader join, leave,
 *   member expiry--> PreparingRebalance; PreparingRebalance with no member
 *   left --> Empty (next generation).
 *
 * Kafka parks JoinGroup and SyncGroup callbacks in purgatories; here a member
 * remembers the token of its parked request and the group's timers (join,
 * sync) and the members' session timers live in the coordinator's heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group_priv.h"

#define COMP "group"

static void prepare_rebalance(struct fmq_group *co, struct group *grp,
			      int64_t now);
static void maybe_complete_join(struct fmq_group *co, struct group *grp,
				int64_t now);

static const struct fmq_group_str empty_str = { "", 0 };
static const struct fmq_group_str null_str = { NULL, -1 };

int16_t
validate_group_id(const struct fmq_group *co, struct fmq_group_str id,
		  bool empty_ok)
{
	/* Kafka: OffsetCommit, OffsetFetch, DescribeGroups and DeleteGroups
	 * accept the empty group id; the others need a real one. */
	if (id.len < 0 || (id.len == 0 && !empty_ok) || id.len > KSTR_MAX)
		return FMQ_KERR_INVALID_GROUP_ID;
	if (!co->active)
		return FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	return FMQ_KERR_NONE;
}

/* ------------------------------------------------------------------------
 * Lookups
 * ---------------------------------------------------------------------- */

static uint32_t
str_hash(const struct fmq_group *co, struct fmq_group_str s)
{
	return hash_bytes(co->seed, s.ptr, s.len > 0 ? (size_t)s.len : 0);
}

static struct member *
member_find(struct fmq_group *co, struct group *grp, struct fmq_group_str id)
{
	uint32_t h;
	struct hnode *n;

	if (id.len < 0)
		return NULL;
	h = str_hash(co, id);
	for (n = htab_first(&grp->members, h); n != NULL; n = n->next) {
		struct member *m = container_of(n, struct member, hn);

		if (n->hash == h && gstr_eq(&m->id, id))
			return m;
	}
	return NULL;
}

static struct member *
static_find(struct fmq_group *co, struct group *grp, struct fmq_group_str iid)
{
	uint32_t h;
	struct hnode *n;

	if (iid.len < 0)
		return NULL;
	h = str_hash(co, iid);
	for (n = htab_first(&grp->statics, h); n != NULL; n = n->next) {
		struct member *m = container_of(n, struct member, hn_static);

		if (n->hash == h && gstr_eq(&m->instance_id, iid))
			return m;
	}
	return NULL;
}

static struct pending_member *
pending_find(struct fmq_group *co, struct group *grp, struct fmq_group_str id)
{
	uint32_t h;
	struct hnode *n;

	if (id.len <= 0)
		return NULL;
	h = str_hash(co, id);
	for (n = htab_first(&grp->pendings, h); n != NULL; n = n->next) {
		struct pending_member *p =
			container_of(n, struct pending_member, hn);

		if (n->hash == h && gstr_eq(&p->id, id))
			return p;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Protocols
 * ---------------------------------------------------------------------- */

static void
protos_free(struct mproto *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		gstr_clear(&p[i].name);
		free(p[i].meta);
	}
	free(p);
}

/* Copy a JoinGroup's protocols; NULL with n = 0 is a valid empty list. */
static int
protos_copy(const struct fmq_group_join_req *req, struct mproto **out)
{
	struct mproto *p;

	*out = NULL;
	if (req->n_protocols == 0)
		return 0;
	p = calloc(req->n_protocols, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < req->n_protocols; i++) {
		const struct fmq_group_protocol *q = &req->protocols[i];
		int32_t ml = q->metadata.len > 0 ? q->metadata.len : 0;

		p[i].name.len = -1;
		if (gstr_set(&p[i].name, q->name.len < 0 ? empty_str : q->name)
		    < 0)
			goto fail;
		p[i].meta = malloc(ml > 0 ? (size_t)ml : 1);
		if (p[i].meta == NULL)
			goto fail;
		if (ml > 0)
			memcpy(p[i].meta, q->metadata.ptr, (size_t)ml);
		p[i].meta_len = (uint32_t)ml;
	}
	*out = p;
	return 0;
fail:
	protos_free(p, req->n_protocols);
	return -ENOMEM;
}

static struct proto_count *
proto_count_find(struct group *grp, struct fmq_group_str name)
{
	for (uint32_t i = 0; i < grp->n_protos; i++)
		if (gstr_eq(&grp->protos[i].name, name))
			return &grp->protos[i];
	return NULL;
}

/* Is this protocol name listed before index i in the member's list? */
static bool
proto_dup(const struct mproto *p, uint32_t i)
{
	for (uint32_t k = 0; k < i; k++)
		if (gstr_eq(&p[k].name, gstr_view(&p[i].name)))
			return true;
	return false;
}

/* Count each distinct protocol of a member; the counts say which protocols
 * every member supports. Room is made first, so the update cannot fail
 * halfway. */
static int
protos_reserve(struct group *grp, uint32_t more)
{
	if (grp->n_protos + more <= grp->cap_protos)
		return 0;
	uint32_t cap = grp->cap_protos ? grp->cap_protos : 4;

	while (cap < grp->n_protos + more)
		cap *= 2;
	struct proto_count *pc = realloc(grp->protos, cap * sizeof(*pc));

	if (pc == NULL)
		return -ENOMEM;
	grp->protos = pc;
	grp->cap_protos = cap;
	return 0;
}

static void
protos_dec(struct group *grp, const struct mproto *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct proto_count *pc;

		if (proto_dup(p, i))
			continue;
		pc = proto_count_find(grp, gstr_view(&p[i].name));
		if (pc == NULL)
			continue;
		if (--pc->count == 0) {
			gstr_clear(&pc->name);
			*pc = grp->protos[--grp->n_protos];
		}
	}
}

/* On failure (a new name could not be copied) nothing has changed. */
static int
protos_inc(struct group *grp, const struct mproto *p, uint32_t n)
{
	if (protos_reserve(grp, n) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct proto_count *pc;

		if (proto_dup(p, i))
			continue;
		pc = proto_count_find(grp, gstr_view(&p[i].name));
		if (pc == NULL) {
			pc = &grp->protos[grp->n_protos];
			pc->name.ptr = NULL;
			pc->name.len = -1;
			if (gstr_set(&pc->name, gstr_view(&p[i].name)) < 0) {
				protos_dec(grp, p, i);
				return -ENOMEM;
			}
			pc->count = 0;
			grp->n_protos++;
		}
		pc->count++;
	}
	return 0;
}

static bool
protocol_is_common(const struct group *grp, struct fmq_group_str name)
{
	for (uint32_t i = 0; i < grp->n_protos; i++)
		if (gstr_eq(&grp->protos[i].name, name))
			return grp->protos[i].count == grp->n_members;
	/* A name nobody lists is "common" only to a group without members,
	 * as in Kafka (supportedProtocols(name) == members.size). */
	return grp->n_members == 0;
}

/* Kafka's GroupMetadata.supportsProtocols. */
static bool
supports_protocols(const struct group *grp, struct fmq_group_str ptype,
		   const struct mproto *p, uint32_t n)
{
	if (grp->state == GS_EMPTY)
		return ptype.len > 0 && n > 0;
	if (grp->protocol_type.len < 0 || !gstr_eq(&grp->protocol_type, ptype))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (protocol_is_common(grp, gstr_view(&p[i].name)))
			return true;
	return false;
}

/* Every member votes for the first protocol of its own list that all
 * members support; the most votes win. Ties go to the protocol the earliest
 * member prefers, so the choice does not depend on hash order. */
static const struct gstr *
select_protocol(struct group *grp)
{
	const struct member *m;
	struct proto_count *best = NULL;

	for (uint32_t i = 0; i < grp->n_protos; i++)
		grp->protos[i].votes = 0;
	TAILQ_FOREACH(m, &grp->mlist, link) {
		for (uint32_t k = 0; k < m->n_protos; k++) {
			struct proto_count *pc = proto_count_find(grp,
				gstr_view(&m->protos[k].name));

			if (pc != NULL && pc->count == grp->n_members) {
				pc->votes++;
				break;
			}
		}
	}
	TAILQ_FOREACH(m, &grp->mlist, link) {
		for (uint32_t k = 0; k < m->n_protos; k++) {
			struct proto_count *pc = proto_count_find(grp,
				gstr_view(&m->protos[k].name));

			if (pc != NULL && pc->count == grp->n_members) {
				if (best == NULL || pc->votes > best->votes)
					best = pc;
				break;
			}
		}
	}
	return best != NULL ? &best->name : NULL;
}

static const struct mproto *
member_proto(const struct member *m, const struct gstr *name)
{
	for (uint32_t i = 0; i < m->n_protos; i++)
		if (gstr_eq(&m->protos[i].name, gstr_view(name)))
			return &m->protos[i];
	return NULL;
}

/* Same protocols, names and metadata, in the same order. */
static bool
member_matches(const struct member *m, const struct mproto *p, uint32_t n)
{
	if (m->n_protos != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (!gstr_eq(&m->protos[i].name, gstr_view(&p[i].name)) ||
		    m->protos[i].meta_len != p[i].meta_len ||
		    (p[i].meta_len > 0 &&
		     memcmp(m->protos[i].meta, p[i].meta, p[i].meta_len) != 0))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Subscribed topics (consumer protocol), for OffsetDelete and retention.
 * ConsumerProtocolSubscription starts, in every version, with
 * int16 version, then [int32 count, count x (int16 len, bytes)] topics.
 * ---------------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
subscribed_clear(struct group *grp)
{
	for (uint32_t i = 0; i < grp->n_subscribed; i++)
		free(grp->subscribed[i]);
	free(grp->subscribed);
	grp->subscribed = NULL;
	grp->n_subscribed = 0;
	grp->subscribed_known = false;
}

static bool
subscribed_add(char ***arr, uint32_t *n, uint32_t *cap, const uint8_t *p,
	       uint16_t len)
{
	char *s;

	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 8;
		char **a = realloc(*arr, nc * sizeof(*a));

		if (a == NULL)
			return false;
		*arr = a;
		*cap = nc;
	}
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return false;
	memcpy(s, p, len);
	s[len] = '\0';
	(*arr)[(*n)++] = s;
	return true;
}

static void
compute_subscribed(struct group *grp)
{
	char **arr = NULL;
	uint32_t n = 0, cap = 0;
	const struct member *m;

	subscribed_clear(grp);
	if (grp->protocol_type.len < 0 ||
	    strcmp(grp->protocol_type.ptr, "consumer") != 0)
		return;
	if (grp->n_members == 0) {
		grp->subscribed_known = true;
		return;
	}
	if (grp->protocol.len < 0)
		return;
	TAILQ_FOREACH(m, &grp->mlist, link) {
		const struct mproto *mp = member_proto(m, &grp->protocol);
		const uint8_t *p, *end;
		uint32_t cnt;

		if (mp == NULL || mp->meta_len < 6)
			goto fail;
		p = mp->meta;
		end = p + mp->meta_len;
		if ((int16_t)(p[0] << 8 | p[1]) < 0)
			goto fail;
		cnt = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 |
			(uint32_t)p[4] << 8 | p[5];
		p += 6;
		if (cnt > (uint32_t)(end - p) / 2)
			goto fail;
		for (uint32_t i = 0; i < cnt; i++) {
			uint16_t len;

			if (end - p < 2)
				goto fail;
			len = (uint16_t)(p[0] << 8 | p[1]);
			p += 2;
			if (len > KSTR_MAX || end - p < len)
				goto fail;
			if (!subscribed_add(&arr, &n, &cap, p, len))
				goto fail;
			p += len;
		}
	}
	if (n > 0)
		qsort(arr, n, sizeof(*arr), cmp_str);
	/* Deduplicate. */
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(arr[k - 1], arr[i]) == 0)
			free(arr[i]);
		else
			arr[k++] = arr[i];
	}
	grp->subscribed = arr;
	grp->n_subscribed = k;
	grp->subscribed_known = true;
	return;
fail:
	/* As in Kafka: unparsable metadata means "unknown subscription". */
	for (uint32_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

bool
group_is_subscribed(const struct group *grp, const char *topic)
{
	if (!grp->subscribed_known || grp->n_subscribed == 0)
		return false;
	return bsearch(&topic, grp->subscribed, grp->n_subscribed,
		       sizeof(char *), cmp_str) != NULL;
}

/* ------------------------------------------------------------------------
 * Responses
 * ---------------------------------------------------------------------- */

static void
send_join_error(struct fmq_group *co, uint64_t token, struct fmq_group_str mid,
		int16_t err)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_JOIN;
	r.error = err;
	r.u.join.generation_id = -1;
	r.u.join.protocol_type = null_str;
	r.u.join.protocol_name = null_str;
	r.u.join.leader = empty_str;
	r.u.join.member_id = mid.len < 0 ? empty_str : mid;
	emit(co, token, &r);
}

static void
send_sync_error(struct fmq_group *co, uint64_t token, int16_t err)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_SYNC;
	r.error = err;
	r.u.sync.protocol_type = null_str;
	r.u.sync.protocol_name = null_str;
	r.u.sync.assignment.ptr = (const uint8_t *)"";
	r.u.sync.assignment.len = 0;
	emit(co, token, &r);
}

static void
send_simple(struct fmq_group *co, uint64_t token, enum fmq_group_api api,
	    int16_t err)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = api;
	r.error = err;
	emit(co, token, &r);
}

/* The group's view for a JoinGroup answer; the leader also gets the
 * members and their metadata for the chosen protocol. */
static void
send_join_ok(struct fmq_group *co, struct group *grp, uint64_t token,
	     struct fmq_group_str mid, struct fmq_group_str leader,
	     bool with_members, bool skip)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_JOIN;
	r.u.join.generation_id = grp->generation;
	r.u.join.protocol_type = gstr_view(&grp->protocol_type);
	r.u.join.protocol_name = gstr_view(&grp->protocol);
	r.u.join.leader = leader;
	r.u.join.member_id = mid;
	r.u.join.skip_assignment = skip;
	if (with_members) {
		struct member *m;
		uint32_t i = 0;

		/* Sized when members were added (scratch_reserve). */
		TAILQ_FOREACH(m, &grp->mlist, link) {
			const struct mproto *mp =
				member_proto(m, &grp->protocol);
			struct fmq_group_join_member *jm = &co->scratch[i++];

			jm->member_id = gstr_view(&m->id);
			jm->group_instance_id = gstr_view(&m->instance_id);
			jm->metadata.ptr = mp ? mp->meta : NULL;
			jm->metadata.len = mp ? (int32_t)mp->meta_len : 0;
		}
		r.u.join.members = co->scratch;
		r.u.join.n_members = i;
	}
	emit(co, token, &r);
}

static struct fmq_group_str
leader_id(const struct group *grp)
{
	return grp->leader ? gstr_view(&grp->leader->id) : empty_str;
}

static int
scratch_reserve(struct fmq_group *co, uint32_t n)
{
	struct fmq_group_join_member *s;
	uint32_t cap;

	if (n <= co->scratch_cap)
		return 0;
	cap = co->scratch_cap ? co->scratch_cap : 16;
	while (cap < n)
		cap *= 2;
	s = realloc(co->scratch, cap * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	co->scratch = s;
	co->scratch_cap = cap;
	return 0;
}

/* Answer the member's parked JoinGroup, if any. */
static bool
invoke_join_error(struct fmq_group *co, struct group *grp, struct member *m,
		  struct fmq_group_str mid, int16_t err)
{
	if (!m->awaiting_join)
		return false;
	m->awaiting_join = false;
	grp->n_awaiting_join--;
	send_join_error(co, m->join_token, mid, err);
	return true;
}

static bool
invoke_sync_error(struct fmq_group *co, struct member *m, int16_t err)
{
	if (!m->awaiting_sync)
		return false;
	m->awaiting_sync = false;
	send_sync_error(co, m->sync_token, err);
	return true;
}

/* ------------------------------------------------------------------------
 * Members
 * ---------------------------------------------------------------------- */

static int32_t
group_rebalance_timeout(const struct group *grp)
{
	const struct member *m;
	int32_t t = 0;

	TAILQ_FOREACH(m, &grp->mlist, link)
		if (m->rebalance_timeout_ms > t)
			t = m->rebalance_timeout_ms;
	return t;
}

/* Kafka's completeAndScheduleNextExpiration: the member proved alive. */
static void
member_schedule(struct fmq_group *co, struct member *m, int64_t now,
		int64_t timeout)
{
	timer_arm(co, &m->timer, now + timeout);
}

void
member_heartbeat(struct fmq_group *co, struct member *m, int64_t now)
{
	member_schedule(co, m, now, m->session_timeout_ms);
}

static void
pending_sync_clear(struct group *grp)
{
	struct member *m;

	TAILQ_FOREACH(m, &grp->mlist, link)
		m->pending_sync = false;
	grp->n_pending_sync = 0;
}

static void
remove_sync_expiration(struct fmq_group *co, struct group *grp)
{
	pending_sync_clear(grp);
	timer_cancel(co, &grp->sync_timer);
}

static void
remove_pending_sync(struct fmq_group *co, struct group *grp, struct member *m)
{
	if (!m->pending_sync)
		return;
	m->pending_sync = false;
	if (--grp->n_pending_sync == 0)
		timer_cancel(co, &grp->sync_timer);
}

/* Unlink and free a member. With answer, parked requests get
 * UNKNOWN_MEMBER_ID (Kafka answers the JoinGroup so; its SyncGroup would
 * wait for the client's timeout, we answer it too). */
static void
member_remove(struct fmq_group *co, struct group *grp, struct member *m,
	      bool answer)
{
	if (answer) {
		invoke_join_error(co, grp, m, empty_str,
				  FMQ_KERR_UNKNOWN_MEMBER_ID);
		invoke_sync_error(co, m, FMQ_KERR_UNKNOWN_MEMBER_ID);
	}
	if (m->awaiting_join)
		grp->n_awaiting_join--;
	remove_pending_sync(co, grp, m);
	protos_dec(grp, m->protos, m->n_protos);
	htab_remove(&grp->members, &m->hn);
	if (m->instance_id.len >= 0)
		htab_remove(&grp->statics, &m->hn_static);
	TAILQ_REMOVE(&grp->mlist, m, link);
	grp->n_members--;
	if (grp->leader == m)
		grp->leader = TAILQ_FIRST(&grp->mlist);
	timer_cancel(co, &m->timer);
	timers_reserve(co, -1);
	gstr_clear(&m->id);
	gstr_clear(&m->instance_id);
	gstr_clear(&m->client_id);
	gstr_clear(&m->client_host);
	protos_free(m->protos, m->n_protos);
	free(m->assignment);
	free(m);
}

void
member_free(struct fmq_group *co, struct member *m)
{
	member_remove(co, m->grp, m, false);
}

void
pending_free(struct fmq_group *co, struct pending_member *p)
{
	struct group *grp = p->grp;

	htab_remove(&grp->pendings, &p->hn);
	TAILQ_REMOVE(&grp->plist, p, link);
	grp->n_pending--;
	timer_cancel(co, &p->timer);
	timers_reserve(co, -1);
	gstr_clear(&p->id);
	free(p);
}

/* Set (or replace) the parked JoinGroup of a member. Kafka overwrites the
 * callback of a duplicate JoinGroup and never answers the first; we answer
 * it with REBALANCE_IN_PROGRESS so that every token gets a response. */
static void
member_await_join(struct fmq_group *co, struct group *grp, struct member *m,
		  uint64_t token, bool v9)
{
	if (m->awaiting_join)
		send_join_error(co, m->join_token, gstr_view(&m->id),
				FMQ_KERR_REBALANCE_IN_PROGRESS);
	else
		grp->n_awaiting_join++;
	m->awaiting_join = true;
	m->join_token = token;
	m->join_v9 = v9;
}

/* Take over the protocols and timeouts of a JoinGroup (Kafka's
 * updateMember); protos is owned by the member afterwards. */
static int
member_update(struct fmq_group *co, struct group *grp, struct member *m,
	      struct mproto *protos, uint32_t n, int32_t rebalance_ms,
	      int32_t session_ms, uint64_t token, bool v9)
{
	/* Count the new list before dropping the old one, so that names on
	 * both never leave the table and nothing can fail after the swap. */
	if (protos_inc(grp, protos, n) < 0)
		return -ENOMEM;
	protos_dec(grp, m->protos, m->n_protos);
	protos_free(m->protos, m->n_protos);
	m->protos = protos;
	m->n_protos = n;
	m->rebalance_timeout_ms = rebalance_ms;
	m->session_timeout_ms = session_ms;
	member_await_join(co, grp, m, token, v9);
	return 0;
}

static struct member *
member_new(struct fmq_group *co, struct group *grp, struct gstr *id,
	   const struct fmq_group_join_req *req, int32_t rebalance_ms,
	   struct mproto *protos)
{
	struct member *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->instance_id.len = -1;
	m->client_id.len = -1;
	m->client_host.len = -1;
	if (gstr_set(&m->instance_id, req->group_instance_id) < 0 ||
	    gstr_set(&m->client_id, req->client_id.len < 0 ? empty_str :
		     req->client_id) < 0 ||
	    gstr_set(&m->client_host, req->client_host.len < 0 ? empty_str :
		     req->client_host) < 0 ||
	    scratch_reserve(co, grp->n_members + 1) < 0 ||
	    protos_reserve(grp, req->n_protocols) < 0 ||
	    timers_reserve(co, 1) < 0)
		goto fail;
	if (protos_inc(grp, protos, req->n_protocols) < 0) {
		timers_reserve(co, -1);
		goto fail;
	}
	m->grp = grp;
	m->id = *id;
	id->ptr = NULL;
	id->len = -1;
	m->protos = protos;
	m->n_protos = req->n_protocols;
	m->session_timeout_ms = req->session_timeout_ms;
	m->rebalance_timeout_ms = rebalance_ms;
	timer_init(&m->timer, T_MEMBER);
	return m;
fail:
	gstr_clear(&m->instance_id);
	gstr_clear(&m->client_id);
	gstr_clear(&m->client_host);
	free(m);
	return NULL;
}

/* Kafka's GroupMetadata.add. */
static void
group_add(struct fmq_group *co, struct group *grp, struct member *m)
{
	struct pending_member *p;

	if (m->instance_id.len >= 0)
		htab_insert(&grp->statics, &m->hn_static,
			    str_hash(co, gstr_view(&m->instance_id)));
	if (grp->leader == NULL)
		grp->leader = m;
	htab_insert(&grp->members, &m->hn, str_hash(co, gstr_view(&m->id)));
	TAILQ_INSERT_TAIL(&grp->mlist, m, link);
	grp->n_members++;
	p = pending_find(co, grp, gstr_view(&m->id));
	if (p != NULL)
		pending_free(co, p);
}

/* ------------------------------------------------------------------------
 * Rebalance
 * ---------------------------------------------------------------------- */

static bool
can_rebalance(const struct group *grp)
{
	return grp->state == GS_STABLE || grp->state == GS_COMPLETING ||
		grp->state == GS_EMPTY;
}

static void
reset_and_propagate_error(struct fmq_group *co, struct group *grp,
			  int16_t err, int64_t now)
{
	struct member *m;

	TAILQ_FOREACH(m, &grp->mlist, link) {
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
		if (invoke_sync_error(co, m, err))
			member_heartbeat(co, m, now);
	}
}

static void
prepare_rebalance(struct fmq_group *co, struct group *grp, int64_t now)
{
	int32_t rto = group_rebalance_timeout(grp);

	if (grp->state == GS_COMPLETING)
		reset_and_propagate_error(co, grp, FMQ_KERR_REBALANCE_IN_PROGRESS,
					  now);
	remove_sync_expiration(co, grp);
	if (grp->state == GS_EMPTY) {
		int64_t d = co->conf.initial_rebalance_delay_ms;

		grp->join_kind = JOIN_INITIAL;
		grp->initial_remaining_ms = rto > d ? rto - d : 0;
		grp->initial_delay_cur_ms = d;
		timer_arm(co, &grp->join_timer, now + d);
	} else {
		grp->join_kind = JOIN_DELAYED;
		timer_arm(co, &grp->join_timer, now + rto);
	}
	group_transition(co, grp, GS_PREPARING, now);
	co->st.rebalances++;
	FMQ_DEBUG(COMP, "group %s: preparing rebalance from generation %d",
		  grp->id.ptr, grp->generation);
	maybe_complete_join(co, grp, now);
}

static void
maybe_prepare_rebalance(struct fmq_group *co, struct group *grp, int64_t now)
{
	if (can_rebalance(grp))
		prepare_rebalance(co, grp, now);
}

static bool
all_members_joined(const struct group *grp)
{
	return grp->n_members == grp->n_awaiting_join && grp->n_pending == 0;
}

/* Kafka's maybeElectNewJoinedLeader. */
static bool
elect_joined_leader(struct group *grp)
{
	struct member *m;

	if (grp->leader == NULL)
		return false;
	if (grp->leader->awaiting_join)
		return true;
	TAILQ_FOREACH(m, &grp->mlist, link) {
		if (m->awaiting_join) {
			grp->leader = m;
			return true;
		}
	}
	return false;
}

static void
init_next_generation(struct fmq_group *co, struct group *grp, int64_t now)
{
	grp->generation++;
	if (grp->n_members > 0) {
		const struct gstr *p = select_protocol(grp);
		struct gstr copy = { NULL, -1 };

		/* select_protocol returns a member's string; copy it before
		 * the member can go. A failed copy leaves no protocol, which
		 * every SyncGroup v5 and JoinGroup answer shows. */
		if (p != NULL && gstr_set(&copy, gstr_view(p)) < 0)
			FMQ_WARN(COMP, "out of memory selecting a protocol");
		gstr_clear(&grp->protocol);
		grp->protocol = copy;
		compute_subscribed(grp);
		group_transition(co, grp, GS_COMPLETING, now);
	} else {
		gstr_clear(&grp->protocol);
		compute_subscribed(grp);
		group_transition(co, grp, GS_EMPTY, now);
	}
	pending_sync_clear(grp);
}

/* Kafka's onCompleteJoin. */
static void
complete_join(struct fmq_group *co, struct group *grp, int64_t now)
{
	struct member *m, *next;

	grp->join_kind = JOIN_NONE;
	timer_cancel(co, &grp->join_timer);
	/* Dynamic members that did not rejoin within the rebalance timeout
	 * are out; static ones stay until their session expires. */
	for (m = TAILQ_FIRST(&grp->mlist); m != NULL; m = next) {
		next = TAILQ_NEXT(m, link);
		if (!m->awaiting_join && m->instance_id.len < 0) {
			FMQ_INFO(COMP, "group %s: member %s did not rejoin in "
				 "time, removed", grp->id.ptr, m->id.ptr);
			co->st.members_expired++;
			member_remove(co, grp, m, true);
		}
	}
	if (grp->state == GS_DEAD)
		return;
	if (!elect_joined_leader(grp) && grp->n_members > 0) {
		/* Only static members that have not rejoined are left: wait
		 * another rebalance timeout for them (or their sessions). */
		grp->join_kind = JOIN_DELAYED;
		timer_arm(co, &grp->join_timer,
			  now + group_rebalance_timeout(grp));
		return;
	}
	init_next_generation(co, grp, now);
	if (grp->state == GS_EMPTY) {
		group_persist(co, grp);
		return;
	}
	FMQ_DEBUG(COMP, "group %s: generation %d with %u members",
		  grp->id.ptr, grp->generation, grp->n_members);
	TAILQ_FOREACH(m, &grp->mlist, link) {
		if (m->awaiting_join) {
			m->awaiting_join = false;
			grp->n_awaiting_join--;
			send_join_ok(co, grp, m->join_token, gstr_view(&m->id),
				     leader_id(grp), m == grp->leader, false);
		}
		member_heartbeat(co, m, now);
		m->is_new = false;
		m->pending_sync = true;
		grp->n_pending_sync++;
	}
	grp->sync_generation = grp->generation;
	timer_arm(co, &grp->sync_timer, now + group_rebalance_timeout(grp));
}

static void
maybe_complete_join(struct fmq_group *co, struct group *grp, int64_t now)
{
	if (grp->state == GS_PREPARING && grp->join_kind == JOIN_DELAYED &&
	    all_members_joined(grp))
		complete_join(co, grp, now);
}

/* Kafka's removeMemberAndUpdateGroup. */
static void
remove_member_and_update(struct fmq_group *co, struct group *grp,
			 struct member *m, int64_t now)
{
	member_remove(co, grp, m, true);
	switch (grp->state) {
	case GS_STABLE:
	case GS_COMPLETING:
		maybe_prepare_rebalance(co, grp, now);
		break;
	case GS_PREPARING:
		maybe_complete_join(co, grp, now);
		break;
	default:
		break;
	}
}

static void
add_member_and_rebalance(struct fmq_group *co, struct group *grp,
			 struct member *m, uint64_t token, bool v9,
			 int64_t now)
{
	m->is_new = true;
	if (grp->state == GS_PREPARING && grp->generation == 0)
		grp->new_member_added = true;
	group_add(co, grp, m);
	member_await_join(co, grp, m, token, v9);
	/* A new member has no id to heartbeat with yet; bound its wait. */
	member_schedule(co, m, now, NEW_MEMBER_JOIN_TIMEOUT_MS);
	maybe_prepare_rebalance(co, grp, now);
}

/* Kafka's validateCurrentMember. */
int16_t
validate_current_member(struct fmq_group *co, struct group *grp,
			struct fmq_group_str mid, struct fmq_group_str iid)
{
	if (iid.len >= 0) {
		struct member *s = static_find(co, grp, iid);

		if (s == NULL)
			return FMQ_KERR_UNKNOWN_MEMBER_ID;
		if (!gstr_eq(&s->id, mid))
			return FMQ_KERR_FENCED_INSTANCE_ID;
	}
	if (member_find(co, grp, mid) == NULL)
		return FMQ_KERR_UNKNOWN_MEMBER_ID;
	return FMQ_KERR_NONE;
}

/* ------------------------------------------------------------------------
 * JoinGroup
 * ---------------------------------------------------------------------- */

struct join_ctx {
	struct fmq_group *co;
	struct group *grp;
	const struct fmq_group_join_req *req;
	uint64_t token;
	int64_t now;
	int32_t rebalance_ms;
	bool v9;
	struct mproto *protos;    /* owned until handed to a member */
	uint32_t n_protos;
};

static void
join_add_new(struct join_ctx *c, struct gstr *id)
{
	struct gstr pt = { NULL, -1 };
	struct member *m;

	/* The first member sets the group's protocol type (Kafka's add). */
	if (c->grp->n_members == 0 &&
	    gstr_set(&pt, c->req->protocol_type) < 0)
		goto fail;
	m = member_new(c->co, c->grp, id, c->req, c->rebalance_ms, c->protos);
	if (m == NULL)
		goto fail;
	c->protos = NULL;
	if (c->grp->n_members == 0) {
		gstr_clear(&c->grp->protocol_type);
		c->grp->protocol_type = pt;
	}
	add_member_and_rebalance(c->co, c->grp, m, c->token, c->v9, c->now);
	return;
fail:
	gstr_clear(&pt);
	send_join_error(c->co, c->token, empty_str,
			FMQ_KERR_UNKNOWN_SERVER_ERROR);
}

static void
join_static_replace(struct join_ctx *c, struct member *m, struct gstr *new_id)
{
	struct fmq_group *co = c->co;
	struct group *grp = c->grp;
	struct gstr old_id = m->id;
	bool was_leader = grp->leader == m;
	struct fmq_group_str cur_leader;

	if (protos_reserve(grp, c->n_protos) < 0) {
		send_join_error(co, c->token, empty_str,
				FMQ_KERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	/* Fence the old incarnation's parked requests right away. */
	invoke_join_error(co, grp, m, gstr_view(&old_id),
			  FMQ_KERR_FENCED_INSTANCE_ID);
	invoke_sync_error(co, m, FMQ_KERR_FENCED_INSTANCE_ID);
	htab_remove(&grp->members, &m->hn);
	m->id = *new_id;
	new_id->ptr = NULL;
	new_id->len = -1;
	htab_insert(&grp->members, &m->hn, str_hash(co, gstr_view(&m->id)));
	member_heartbeat(co, m, c->now);
	cur_leader = was_leader ? gstr_view(&old_id) : leader_id(grp);
	if (member_update(co, grp, m, c->protos, c->n_protos, c->rebalance_ms,
			  c->req->session_timeout_ms, c->token, c->v9) < 0) {
		send_join_error(co, c->token, empty_str,
				FMQ_KERR_UNKNOWN_SERVER_ERROR);
		gstr_clear(&old_id);
		return;
	}
	c->protos = NULL;
	switch (grp->state) {
	case GS_STABLE: {
		const struct gstr *next = select_protocol(grp);

		if (next != NULL && grp->protocol.len >= 0 &&
		    gstr_eq(&grp->protocol, gstr_view(next))) {
			/* Same protocol: no rebalance; the member keeps its
			 * assignment and fetches it with SyncGroup. */
			bool lead = grp->leader == m;

			m->awaiting_join = false;
			grp->n_awaiting_join--;
			if (c->v9)
				send_join_ok(co, grp, c->token,
					     gstr_view(&m->id), leader_id(grp),
					     lead, lead);
			else
				/* Before v9 the old leader id is returned so
				 * the leader does not run a useless
				 * assignment that a Stable group ignores. */
				send_join_ok(co, grp, c->token,
					     gstr_view(&m->id), cur_leader,
					     false, false);
		} else {
			maybe_prepare_rebalance(co, grp, c->now);
		}
		break;
	}
	case GS_COMPLETING:
		/* The leader may already be assigning for the old id. */
		prepare_rebalance(co, grp, c->now);
		break;
	default:
		break;
	}
	gstr_clear(&old_id);
}

static void
join_new_member(struct join_ctx *c)
{
	struct fmq_group *co = c->co;
	struct group *grp = c->grp;
	const struct fmq_group_join_req *req = c->req;
	bool is_static = req->group_instance_id.len >= 0;
	struct gstr id = { NULL, -1 };

	if (grp->state == GS_DEAD) {
		send_join_error(co, c->token, empty_str,
				FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	if (!supports_protocols(grp, req->protocol_type, c->protos,
				c->n_protos)) {
		send_join_error(co, c->token, empty_str,
				FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	if (gen_member_id(co, &id, is_static ? req->group_instance_id :
			  req->client_id) < 0) {
		send_join_error(co, c->token, empty_str,
				FMQ_KERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	if (is_static) {
		struct member *old = static_find(co, grp,
						 req->group_instance_id);

		if (old != NULL)
			join_static_replace(c, old, &id);
		else
			join_add_new(c, &id);
	} else if (req->version >= 4) {
		/* KIP-394: hand out the id and have the member come back
		 * with it, so that a retried first join does not leave a
		 * phantom member behind. */
		struct pending_member *p;

		if (grp->n_pending >= co->conf.max_size) {
			send_join_error(co, c->token, empty_str,
					FMQ_KERR_GROUP_MAX_SIZE_REACHED);
			goto out;
		}
		p = calloc(1, sizeof(*p));
		if (p == NULL || timers_reserve(co, 1) < 0) {
			free(p);
			send_join_error(co, c->token, empty_str,
					FMQ_KERR_UNKNOWN_SERVER_ERROR);
			goto out;
		}
		p->grp = grp;
		p->id = id;
		id.ptr = NULL;
		id.len = -1;
		timer_init(&p->timer, T_PENDING);
		htab_insert(&grp->pendings, &p->hn,
			    str_hash(co, gstr_view(&p->id)));
		TAILQ_INSERT_TAIL(&grp->plist, p, link);
		grp->n_pending++;
		timer_arm(co, &p->timer, c->now + req->session_timeout_ms);
		send_join_error(co, c->token, gstr_view(&p->id),
				FMQ_KERR_MEMBER_ID_REQUIRED);
	} else {
		join_add_new(c, &id);
	}
out:
	gstr_clear(&id);
}

static void
join_current_member(struct join_ctx *c)
{
	struct fmq_group *co = c->co;
	struct group *grp = c->grp;
	const struct fmq_group_join_req *req = c->req;
	struct pending_member *p;
	struct member *m;
	int16_t err;

	if (grp->state == GS_DEAD) {
		send_join_error(co, c->token, req->member_id,
				FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	if (!supports_protocols(grp, req->protocol_type, c->protos,
				c->n_protos)) {
		send_join_error(co, c->token, req->member_id,
				FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	p = pending_find(co, grp, req->member_id);
	if (p != NULL) {
		struct gstr id = { NULL, -1 };

		if (req->group_instance_id.len >= 0) {
			/* Pending ids are only handed to dynamic members;
			 * Kafka raises IllegalStateException here. */
			send_join_error(co, c->token, req->member_id,
					FMQ_KERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		if (gstr_set(&id, req->member_id) < 0) {
			send_join_error(co, c->token, req->member_id,
					FMQ_KERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		join_add_new(c, &id);
		gstr_clear(&id);
		return;
	}
	err = validate_current_member(co, grp, req->member_id,
				      req->group_instance_id);
	if (err != FMQ_KERR_NONE) {
		send_join_error(co, c->token, req->member_id, err);
		return;
	}
	m = member_find(co, grp, req->member_id);
	switch (grp->state) {
	case GS_COMPLETING:
		if (member_matches(m, c->protos, c->n_protos)) {
			/* A retry of a JoinGroup whose answer was lost. */
			send_join_ok(co, grp, c->token, gstr_view(&m->id),
				     leader_id(grp), grp->leader == m, false);
			return;
		}
		break;
	case GS_STABLE:
		if (grp->leader != m && member_matches(m, c->protos,
							c->n_protos)) {
			/* A follower with nothing new: the current
			 * generation, then SyncGroup. The leader's JoinGroup
			 * always rebalances (e.g. topic metadata changed). */
			send_join_ok(co, grp, c->token, gstr_view(&m->id),
				     leader_id(grp), false, false);
			return;
		}
		break;
	case GS_PREPARING:
		break;
	default:
		send_join_error(co, c->token, req->member_id,
				FMQ_KERR_UNKNOWN_MEMBER_ID);
		return;
	}
	if (member_update(co, grp, m, c->protos, c->n_protos, c->rebalance_ms,
			  req->session_timeout_ms, c->token, c->v9) < 0) {
		send_join_error(co, c->token, req->member_id,
				FMQ_KERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	c->protos = NULL;
	maybe_prepare_rebalance(co, grp, c->now);
}

/* Kafka's acceptJoiningMember (group.max.size). */
static bool
accept_joining_member(struct fmq_group *co, struct group *grp,
		      struct fmq_group_str mid)
{
	struct member *m;

	switch (grp->state) {
	case GS_PREPARING:
		m = member_find(co, grp, mid);
		return (m != NULL && m->awaiting_join) ||
			grp->n_awaiting_join < co->conf.max_size;
	case GS_COMPLETING:
	case GS_STABLE:
		return member_find(co, grp, mid) != NULL ||
			grp->n_members < co->conf.max_size;
	default:
		return true;
	}
}

int
fmq_group_join(struct fmq_group *co, uint64_t token,
	       const struct fmq_group_join_req *req, int64_t now)
{
	struct join_ctx c;
	uint64_t bytes = 0;
	bool unknown;
	int16_t err;

	if (co == NULL || req == NULL ||
	    (req->protocols == NULL && req->n_protocols > 0))
		return -EINVAL;
	co->last_now = now;
	err = validate_group_id(co, req->group_id, false);
	if (err != FMQ_KERR_NONE) {
		send_join_error(co, token, req->member_id, err);
		return 0;
	}
	if (req->session_timeout_ms < co->conf.min_session_timeout_ms ||
	    req->session_timeout_ms > co->conf.max_session_timeout_ms) {
		send_join_error(co, token, req->member_id,
				FMQ_KERR_INVALID_SESSION_TIMEOUT);
		return 0;
	}
	/* Kafka strings are at most 32767 bytes; the journal relies on it. */
	if (req->protocol_type.len > KSTR_MAX)
		bytes = UINT64_MAX;
	for (uint32_t i = 0; i < req->n_protocols; i++) {
		if (req->protocols[i].name.len > KSTR_MAX)
			bytes = UINT64_MAX;
	}
	for (uint32_t i = 0; i < req->n_protocols && bytes != UINT64_MAX; i++)
		bytes += (uint64_t)(req->protocols[i].name.len > 0 ?
				    req->protocols[i].name.len : 0) +
			(uint64_t)(req->protocols[i].metadata.len > 0 ?
				   req->protocols[i].metadata.len : 0) + 16;
	if (bytes > co->conf.member_metadata_max_bytes) {
		co->st.limit_rejections++;
		send_join_error(co, token, req->member_id,
				FMQ_KERR_INVALID_REQUEST);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	c.co = co;
	c.req = req;
	c.token = token;
	c.now = now;
	c.v9 = req->version >= 9;
	/* JoinGroup v0 has no rebalance timeout: the session timeout is. */
	c.rebalance_ms = req->rebalance_timeout_ms < 0 ?
		req->session_timeout_ms : req->rebalance_timeout_ms;
	unknown = req->member_id.len <= 0;
	c.grp = group_find(co, req->group_id);
	if (c.grp != NULL && c.grp->cg != NULL) {
		/* A consumer-protocol group (KIP-848): Kafka without online
		 * migration refuses classic members while it has members,
		 * and turns an empty one into a classic group. */
		if (c.grp->state != GS_EMPTY) {
			send_join_error(co, token, req->member_id,
					FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
			return 0;
		}
		cgroup_free(co, c.grp);
	}
	if (c.grp == NULL) {
		if (!unknown) {
			send_join_error(co, token, req->member_id,
					FMQ_KERR_UNKNOWN_MEMBER_ID);
			return 0;
		}
		if (co->n_groups >= co->conf.max_groups) {
			co->st.limit_rejections++;
			send_join_error(co, token, req->member_id,
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
			return 0;
		}
		c.grp = group_create(co, req->group_id, now);
		if (c.grp == NULL) {
			send_join_error(co, token, req->member_id,
					FMQ_KERR_UNKNOWN_SERVER_ERROR);
			return 0;
		}
	}
	if (protos_copy(req, &c.protos) < 0) {
		send_join_error(co, token, req->member_id,
				FMQ_KERR_UNKNOWN_SERVER_ERROR);
		return 0;
	}
	c.n_protos = req->n_protocols;
	if (!accept_joining_member(co, c.grp, req->member_id)) {
		struct member *m = member_find(co, c.grp, req->member_id);
		struct pending_member *p =
			pending_find(co, c.grp, req->member_id);

		if (m != NULL)
			member_remove(co, c.grp, m, true);
		if (p != NULL)
			pending_free(co, p);
		send_join_error(co, token, empty_str,
				FMQ_KERR_GROUP_MAX_SIZE_REACHED);
	} else if (unknown) {
		join_new_member(&c);
	} else {
		join_current_member(&c);
	}
	if (c.protos != NULL)
		protos_free(c.protos, c.n_protos);
	if (c.grp->state == GS_PREPARING)
		maybe_complete_join(co, c.grp, now);
	return 0;
}

/* ------------------------------------------------------------------------
 * SyncGroup
 * ---------------------------------------------------------------------- */

struct next_assign {
	struct member *m;
	uint8_t *p;
	uint32_t len;
};

/* Stage the leader's assignments: all copies are made before any member
 * changes, so running out of memory leaves the group as it was. */
static int
stage_assignments(struct fmq_group *co, struct group *grp,
		  const struct fmq_group_sync_req *req, struct next_assign **out)
{
	struct next_assign *na = calloc(grp->n_members ? grp->n_members : 1,
					sizeof(*na));
	struct member *m;
	uint32_t i = 0;

	if (na == NULL)
		return -ENOMEM;
	TAILQ_FOREACH(m, &grp->mlist, link)
		na[i++].m = m;
	for (uint32_t k = 0; k < req->n_assignments; k++) {
		const struct fmq_group_assignment *a = &req->assignments[k];
		uint32_t idx;

		m = member_find(co, grp, a->member_id);
		if (m == NULL)
			continue;  /* not a member: ignored, as in Kafka */
		for (idx = 0; na[idx].m != m; idx++)
			;
		free(na[idx].p);
		na[idx].len = a->assignment.len > 0 ?
			(uint32_t)a->assignment.len : 0;
		na[idx].p = malloc(na[idx].len ? na[idx].len : 1);
		if (na[idx].p == NULL) {
			for (i = 0; i < grp->n_members; i++)
				free(na[i].p);
			free(na);
			return -ENOMEM;
		}
		if (na[idx].len)
			memcpy(na[idx].p, a->assignment.ptr, na[idx].len);
	}
	*out = na;
	return 0;
}

static void
send_sync_ok(struct fmq_group *co, struct group *grp, uint64_t token,
	     const struct member *m)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_SYNC;
	r.u.sync.protocol_type = gstr_view(&grp->protocol_type);
	r.u.sync.protocol_name = gstr_view(&grp->protocol);
	r.u.sync.assignment.ptr = m->assignment ? m->assignment :
		(const uint8_t *)"";
	r.u.sync.assignment.len = (int32_t)m->assignment_len;
	emit(co, token, &r);
}

static void
leader_assign(struct fmq_group *co, struct group *grp,
	      const struct fmq_group_sync_req *req, int64_t now)
{
	struct next_assign *na;
	struct member *m;
	uint32_t i = 0;

	if (stage_assignments(co, grp, req, &na) < 0) {
		/* As Kafka does when storing the assignment fails. */
		reset_and_propagate_error(co, grp, FMQ_KERR_UNKNOWN_SERVER_ERROR,
					  now);
		maybe_prepare_rebalance(co, grp, now);
		return;
	}
	TAILQ_FOREACH(m, &grp->mlist, link) {
		free(m->assignment);
		m->assignment = na[i].p;
		m->assignment_len = na[i].len;
		i++;
	}
	free(na);
	group_transition(co, grp, GS_STABLE, now);
	group_persist(co, grp);
	co->st.rebalances_completed++;
	TAILQ_FOREACH(m, &grp->mlist, link) {
		if (!m->awaiting_sync)
			continue;
		m->awaiting_sync = false;
		send_sync_ok(co, grp, m->sync_token, m);
		member_heartbeat(co, m, now);
	}
}

int
fmq_group_sync(struct fmq_group *co, uint64_t token,
	       const struct fmq_group_sync_req *req, int64_t now)
{
	struct group *grp;
	struct member *m;
	int16_t err;

	if (co == NULL || req == NULL ||
	    (req->assignments == NULL && req->n_assignments > 0))
		return -EINVAL;
	co->last_now = now;
	err = validate_group_id(co, req->group_id, false);
	if (err == FMQ_KERR_NONE && req->version >= 5 &&
	    (req->protocol_type.len < 0 || req->protocol_name.len < 0))
		err = FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL;
	for (uint32_t i = 0; err == FMQ_KERR_NONE && i < req->n_assignments;
	     i++) {
		if (req->assignments[i].assignment.len >
		    (int32_t)co->conf.member_metadata_max_bytes) {
			co->st.limit_rejections++;
			err = FMQ_KERR_INVALID_REQUEST;
		}
	}
	if (err != FMQ_KERR_NONE) {
		send_sync_error(co, token, err);
		return 0;
	}
	grp = group_find(co, req->group_id);
	if (grp == NULL) {
		send_sync_error(co, token, FMQ_KERR_UNKNOWN_MEMBER_ID);
		return 0;
	}
	if (grp->state == GS_DEAD)
		err = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	else
		err = validate_current_member(co, grp, req->member_id,
					      req->group_instance_id);
	if (err == FMQ_KERR_NONE && req->generation_id != grp->generation)
		err = FMQ_KERR_ILLEGAL_GENERATION;
	if (err == FMQ_KERR_NONE && req->protocol_type.len >= 0 &&
	    (grp->protocol_type.len < 0 ||
	     !gstr_eq(&grp->protocol_type, req->protocol_type)))
		err = FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL;
	if (err == FMQ_KERR_NONE && req->protocol_name.len >= 0 &&
	    (grp->protocol.len < 0 ||
	     !gstr_eq(&grp->protocol, req->protocol_name)))
		err = FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL;
	if (err != FMQ_KERR_NONE) {
		send_sync_error(co, token, err);
		return 0;
	}
	m = member_find(co, grp, req->member_id);
	switch (grp->state) {
	case GS_EMPTY:
		send_sync_error(co, token, FMQ_KERR_UNKNOWN_MEMBER_ID);
		break;
	case GS_PREPARING:
		send_sync_error(co, token, FMQ_KERR_REBALANCE_IN_PROGRESS);
		break;
	case GS_COMPLETING:
		/* A duplicate SyncGroup replaces the parked one; answer the
		 * first rather than drop it (Kafka drops it). */
		invoke_sync_error(co, m, FMQ_KERR_REBALANCE_IN_PROGRESS);
		m->awaiting_sync = true;
		m->sync_token = token;
		remove_pending_sync(co, grp, m);
		if (grp->leader == m)
			leader_assign(co, grp, req, now);
		break;
	case GS_STABLE:
		remove_pending_sync(co, grp, m);
		send_sync_ok(co, grp, token, m);
		member_heartbeat(co, m, now);
		break;
	default:
		send_sync_error(co, token, FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Heartbeat, LeaveGroup
 * ---------------------------------------------------------------------- */

int
fmq_group_heartbeat(struct fmq_group *co, uint64_t token,
		    const struct fmq_group_heartbeat_req *req, int64_t now)
{
	struct group *grp;
	struct member *m;
	int16_t err;

	if (co == NULL || req == NULL)
		return -EINVAL;
	co->last_now = now;
	err = validate_group_id(co, req->group_id, false);
	if (err != FMQ_KERR_NONE)
		goto out;
	grp = group_find(co, req->group_id);
	if (grp == NULL) {
		err = FMQ_KERR_UNKNOWN_MEMBER_ID;
		goto out;
	}
	if (grp->state == GS_DEAD) {
		err = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		goto out;
	}
	err = validate_current_member(co, grp, req->member_id,
				      req->group_instance_id);
	if (err == FMQ_KERR_NONE && req->generation_id != grp->generation)
		err = FMQ_KERR_ILLEGAL_GENERATION;
	if (err != FMQ_KERR_NONE)
		goto out;
	m = member_find(co, grp, req->member_id);
	switch (grp->state) {
	case GS_EMPTY:
		err = FMQ_KERR_UNKNOWN_MEMBER_ID;
		break;
	case GS_PREPARING:
		member_heartbeat(co, m, now);
		err = FMQ_KERR_REBALANCE_IN_PROGRESS;
		break;
	default:
		/* CompletingRebalance too: members may heartbeat between
		 * their JoinGroup answer and SyncGroup. */
		member_heartbeat(co, m, now);
		err = FMQ_KERR_NONE;
		break;
	}
out:
	send_simple(co, token, FMQ_GROUP_HEARTBEAT, err);
	return 0;
}

int
fmq_group_leave(struct fmq_group *co, uint64_t token,
		const struct fmq_group_leave_req *req, int64_t now)
{
	struct fmq_group_leave_member_resp *res = NULL;
	struct fmq_group_resp r;
	struct group *grp;
	int16_t err;

	if (co == NULL || req == NULL ||
	    (req->members == NULL && req->n_members > 0))
		return -EINVAL;
	co->last_now = now;
	memset(&r, 0, sizeof(r));
	r.api = FMQ_GROUP_LEAVE;
	err = validate_group_id(co, req->group_id, false);
	if (err != FMQ_KERR_NONE) {
		r.error = err;
		emit(co, token, &r);
		return 0;
	}
	grp = group_find(co, req->group_id);
	if (grp != NULL && grp->state == GS_DEAD) {
		r.error = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		emit(co, token, &r);
		return 0;
	}
	if (req->n_members > 0) {
		res = calloc(req->n_members, sizeof(*res));
		if (res == NULL) {
			r.error = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			emit(co, token, &r);
			return 0;
		}
	}
	for (uint32_t i = 0; i < req->n_members; i++) {
		const struct fmq_group_leave_member *lm = &req->members[i];
		struct member *m = NULL;
		struct pending_member *p;

		res[i].member_id = lm->member_id;
		res[i].group_instance_id = lm->group_instance_id;
		if (grp == NULL) {
			res[i].error = FMQ_KERR_UNKNOWN_MEMBER_ID;
			continue;
		}
		if (lm->member_id.len <= 0) {
			/* Administrative removal by group.instance.id. */
			m = static_find(co, grp, lm->group_instance_id);
			if (m == NULL) {
				res[i].error = FMQ_KERR_UNKNOWN_MEMBER_ID;
				continue;
			}
		} else if ((p = pending_find(co, grp, lm->member_id)) != NULL) {
			pending_free(co, p);
			if (grp->state == GS_PREPARING)
				maybe_complete_join(co, grp, now);
			res[i].error = FMQ_KERR_NONE;
			continue;
		} else {
			res[i].error = validate_current_member(co, grp,
				lm->member_id, lm->group_instance_id);
			if (res[i].error != FMQ_KERR_NONE)
				continue;
			m = member_find(co, grp, lm->member_id);
		}
		FMQ_DEBUG(COMP, "group %s: member %s leaves", grp->id.ptr,
			  m->id.ptr);
		remove_member_and_update(co, grp, m, now);
		res[i].error = FMQ_KERR_NONE;
	}
	r.u.leave.members = res;
	r.u.leave.n_members = req->n_members;
	emit(co, token, &r);
	free(res);
	return 0;
}

/* ------------------------------------------------------------------------
 * Expirations
 * ---------------------------------------------------------------------- */

void
member_timer_fired(struct fmq_group *co, struct member *m, int64_t now)
{
	struct group *grp = m->grp;

	/* Members parked in a rebalance count as alive, except new ones,
	 * which are bounded by the new-member join timeout. */
	if (!m->is_new && (m->awaiting_join || m->awaiting_sync))
		return;
	FMQ_INFO(COMP, "group %s: member %s session expired", grp->id.ptr,
		 m->id.ptr);
	co->st.members_expired++;
	remove_member_and_update(co, grp, m, now);
}

void
pending_timer_fired(struct fmq_group *co, struct pending_member *p,
		    int64_t now)
{
	struct group *grp = p->grp;

	pending_free(co, p);
	if (grp->state == GS_PREPARING)
		maybe_complete_join(co, grp, now);
}

void
join_timer_fired(struct fmq_group *co, struct group *grp, int64_t now)
{
	if (grp->join_kind == JOIN_INITIAL && grp->new_member_added &&
	    grp->initial_remaining_ms != 0) {
		/* Members keep arriving: wait some more, within the
		 * rebalance timeout. */
		int64_t d = co->conf.initial_rebalance_delay_ms;
		int64_t delay = d < grp->initial_remaining_ms ? d :
			grp->initial_remaining_ms;
		int64_t rem = grp->initial_remaining_ms -
			grp->initial_delay_cur_ms;

		/* From the deadline, not from a late tick. */
		int64_t base = grp->join_timer.when < now ?
			grp->join_timer.when : now;

		grp->new_member_added = false;
		grp->initial_remaining_ms = rem > 0 ? rem : 0;
		grp->initial_delay_cur_ms = delay;
		timer_arm(co, &grp->join_timer, base + delay);
		return;
	}
	if (grp->state == GS_PREPARING)
		complete_join(co, grp, now);
}

void
sync_timer_fired(struct fmq_group *co, struct group *grp, int64_t now)
{
	struct member *m, *next;

	if (grp->sync_generation != grp->generation ||
	    (grp->state != GS_COMPLETING && grp->state != GS_STABLE) ||
	    grp->n_pending_sync == 0)
		return;
	for (m = TAILQ_FIRST(&grp->mlist); m != NULL; m = next) {
		next = TAILQ_NEXT(m, link);
		if (m->pending_sync) {
			FMQ_INFO(COMP, "group %s: member %s sent no SyncGroup "
				 "in time, removed", grp->id.ptr, m->id.ptr);
			co->st.members_expired++;
			member_remove(co, grp, m, true);
		}
	}
	prepare_rebalance(co, grp, now);
}

void
group_unload(struct fmq_group *co, struct group *grp, int16_t err)
{
	struct member *m;

	TAILQ_FOREACH(m, &grp->mlist, link) {
		invoke_join_error(co, grp, m, gstr_view(&m->id), err);
		invoke_sync_error(co, m, err);
	}
}
