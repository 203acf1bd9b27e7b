/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kafka group APIs on the control lcore, mapped onto the coordinator
 * (lib/ctrl/group): FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
 * DeleteGroups and OffsetDelete.
 *
 * ctrl_core.c decodes the forwarded frame; ctrl_groups_handle() turns the
 * decoded request into the coordinator's plain structs and calls it with the
 * request's struct fmq_bfwd as the token. Every answer, whether emitted
 * during the call or later (a rebalance completing, a commit made durable by
 * the next flush), arrives in ctrl_groups_emit(), which builds the Kafka
 * response for the API version the client used and sends it. FindCoordinator
 * is answered directly: the coordinator has nothing to park for it.
 *
 * Version rules live here, not in the coordinator: which fields a version
 * carries (the encoder drops the others, but refuses a null where the version
 * does not allow one), and at which level an error goes (OffsetFetch v0-v1
 * per partition, v2-v7 top level, v8 per group; LeaveGroup v0-v2 top level,
 * v3+ per member).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

#define COMP "ctrl"

/* What DescribeGroups v3+ reports when asked for the authorized operations:
 * with no authorizer, every operation a group supports (Kafka's
 * AclOperation codes READ 3, DELETE 6, DESCRIBE 8). */
#define GROUP_ALL_OPERATIONS ((1 << 3) | (1 << 6) | (1 << 8))

/* ------------------------------------------------------------- helpers */

/* Bytes fields of group responses are never nullable. */
static inline struct fmq_kafka_bytes
kbytes_nn(struct fmq_group_bytes b)
{
	if (b.len <= 0 || b.ptr == NULL)
		return (struct fmq_kafka_bytes){ (const uint8_t *)"", 0 };
	return (struct fmq_kafka_bytes){ b.ptr, b.len };
}

static inline bool
gstr_same(struct fmq_group_str a, struct fmq_group_str b)
{
	return a.len == b.len &&
		(a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static inline int32_t
count(int32_t n)
{
	return n < 0 ? 0 : n;
}

/* Arrays for a request's conversion (the per-request arena). */
static void *
ralloc(struct fmq_ctrl *c, size_t n, size_t sz)
{
	return fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) * sz);
}

/* Arrays for a response (the emit arena). */
static void *
ealloc(struct fmq_ctrl *c, size_t n, size_t sz)
{
	return fmq_kafka_arena_alloc(&c->garena, (n ? n : 1) * sz);
}

/*
 * Does the topic partition exist? Kafka answers commits (and offset
 * deletions) for partitions missing from its metadata with
 * UNKNOWN_TOPIC_OR_PARTITION before the coordinator sees them. The last
 * lookup is kept: requests list partitions topic by topic.
 */
struct tp_cache {
	struct fmq_group_str name;
	const struct fmq_topic *t;
	bool valid;
};

static bool
tp_exists(struct fmq_ctrl *c, struct tp_cache *tc, struct fmq_group_str topic,
	  int32_t partition)
{
	char name[FMQ_TOPIC_NAME_MAX + 1];

	if (!tc->valid || !gstr_same(tc->name, topic)) {
		tc->valid = true;
		tc->name = topic;
		tc->t = NULL;
		if (topic.len > 0 && topic.len <= FMQ_TOPIC_NAME_MAX) {
			memcpy(name, topic.ptr, (size_t)topic.len);
			name[topic.len] = '\0';
			tc->t = fmq_topics_find(c->topics, name);
		}
	}
	return tc->t != NULL && partition >= 0 &&
		(uint32_t)partition < tc->t->nparts;
}

/* Hand a request to the coordinator: answers emitted during the call may
 * look at the decoded request. A malformed call (the coordinator refuses
 * it and emits nothing) closes the connection. */
#define CALL(c, f, req, expr) do {					\
	int rc_;							\
	(c)->gcur = (f);						\
	(c)->gcur_req = (req);						\
	rc_ = (expr);							\
	(c)->gcur = NULL;						\
	(c)->gcur_req = NULL;						\
	if (rc_ < 0) {							\
		free(gdeny_take((c), (f)));				\
		fmq_log_rl(&(c)->refused_rl, 1000000000ull, FMQ_LOG_INFO, \
			   COMP, "group API %d v%d refused: %s",	\
			   (f)->api_key, (f)->api_version, strerror(-rc_)); \
		(c)->st.malformed++;					\
		ctrl_close_conn((c), (f));				\
	}								\
} while (0)

static void
nomem(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	FMQ_ERR(COMP, "out of request memory for group API %d v%d",
		f->api_key, f->api_version);
	ctrl_close_conn(c, f);
}

/* ------------------------------------------------------------- the ACLs */

static bool
group_ok(struct fmq_ctrl *c, const struct fmq_bfwd *f, struct fmq_kafka_str g,
	 enum fmq_acl_op op)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_GROUP, g.p,
			      g.len > 0 ? (size_t)g.len : 0, op);
}

static bool
gtopic_ok(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	  struct fmq_group_str t, enum fmq_acl_op op)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_TOPIC, t.ptr,
			      t.len > 0 ? (size_t)t.len : 0, op);
}

/* Answer f with the coordinator's error-only answer err (every emit
 * function turns it into the API's shape, from the request). */
static void
deny(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *req,
     enum fmq_group_api api, int16_t err)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = api;
	r.error = err;
	if (api == FMQ_GROUP_JOIN) {
		const struct fmq_kafka_join_group_req *jr = req;
		r.u.join.generation_id = -1;
		r.u.join.protocol_type = FMQ_GROUP_STR_NULL;
		r.u.join.protocol_name = FMQ_GROUP_STR_NULL;
		r.u.join.leader = FMQ_GROUP_STR("");
		r.u.join.member_id = gstr(jr->member_id);
	} else if (api == FMQ_GROUP_SYNC) {
		r.u.sync.protocol_type = FMQ_GROUP_STR_NULL;
		r.u.sync.protocol_name = FMQ_GROUP_STR_NULL;
	}
	c->gcur = f;
	c->gcur_req = req;
	ctrl_groups_emit(c, (uintptr_t)f, &r);
	c->gcur = NULL;
	c->gcur_req = NULL;
}

/* The groups of one request the ACLs kept from the coordinator. */
struct ctrl_gdeny {
	struct ctrl_gdeny *next;
	const struct fmq_bfwd *f;
	uint32_t n;
	struct fmq_kafka_str ids[];   /* strings copied after the array */
};

/* Remember the n ids of f marked in den (none: nothing kept). */
static int
gdeny_add(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	  const struct fmq_kafka_str *ids, const bool *den, int32_t n)
{
	size_t bytes = 0;
	uint32_t k = 0;
	struct ctrl_gdeny *g;
	char *p;

	for (int32_t i = 0; i < n; i++)
		if (den[i]) {
			bytes += (size_t)(ids[i].len > 0 ? ids[i].len : 0);
			k++;
		}
	if (k == 0)
		return 0;
	g = malloc(sizeof(*g) + k * sizeof(g->ids[0]) + bytes);
	if (g == NULL)
		return -ENOMEM;
	g->f = f;
	g->n = k;
	p = (char *)&g->ids[k];
	k = 0;
	for (int32_t i = 0; i < n; i++) {
		if (!den[i])
			continue;
		g->ids[k].p = p;
		g->ids[k].len = ids[i].len;
		if (ids[i].len > 0) {
			memcpy(p, ids[i].p, (size_t)ids[i].len);
			p += ids[i].len;
		}
		k++;
	}
	g->next = c->gdeny;
	c->gdeny = g;
	return 0;
}

/* Unlink and return f's entry (NULL: none); the caller frees it. */
static struct ctrl_gdeny *
gdeny_take(struct fmq_ctrl *c, const struct fmq_bfwd *f)
{
	for (struct ctrl_gdeny **pp = &c->gdeny; *pp != NULL;
	     pp = &(*pp)->next)
		if ((*pp)->f == f) {
			struct ctrl_gdeny *g = *pp;
			*pp = g->next;
			return g;
		}
	return NULL;
}

/* At shutdown: requests never answered leave their entries. */
void
ctrl_groups_forget_denied(struct fmq_ctrl *c)
{
	while (c->gdeny != NULL) {
		struct ctrl_gdeny *g = c->gdeny;
		c->gdeny = g->next;
		free(g);
	}
}

static bool
gdeny_has(const struct ctrl_gdeny *g, struct fmq_kafka_str id)
{
	for (uint32_t i = 0; g != NULL && i < g->n; i++)
		if (g->ids[i].len == id.len &&
		    (id.len <= 0 || memcmp(g->ids[i].p, id.p,
					   (size_t)id.len) == 0))
			return true;
	return false;
}

/* ------------------------------------------------------- FindCoordinator */

/* Kafka: DESCRIBE on the group (or the transactional id). */
static int16_t
find_denied(struct fmq_ctrl *c, const struct fmq_bfwd *f, int8_t type,
	    struct fmq_kafka_str key)
{
	if (type == FMQ_GROUP_COORD_GROUP)
		return group_ok(c, f, key, FMQ_ACL_OP_DESCRIBE) ? 0 :
			FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_TRANSACTIONAL_ID, key.p,
			      key.len > 0 ? (size_t)key.len : 0,
			      FMQ_ACL_OP_DESCRIBE) ? 0 :
		FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

/* Who coordinates group key: 0 with its node and endpoint, or
 * COORDINATOR_NOT_AVAILABLE (a cluster with no live broker known). */
static int16_t
coordinator(struct fmq_ctrl *c, const struct fmq_listener *l,
	    struct fmq_kafka_str key, int32_t *node, struct fmq_kafka_str *host,
	    int32_t *port)
{
	*node = ctrl_zk_coordinator(c, key.p, key.len > 0 ? key.len : 0, l,
				    host, port);
	return *node < 0 ? FMQ_KERR_COORDINATOR_NOT_AVAILABLE : 0;
}

/* In a cluster, a group another broker coordinates: NOT_COORDINATOR (the
 * client asks FindCoordinator again). True when f was answered. */
static bool
not_mine(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *req,
	 enum fmq_group_api api, struct fmq_kafka_str group)
{
	const struct fmq_listener *l;
	struct fmq_kafka_str host;
	int32_t port;

	if (c->cl == NULL)
		return false;
	l = fmq_broker_listener(c->b, f->listener);
	int16_t e;

	if (ctrl_zk_coordinator(c, group.p, group.len > 0 ? group.len : 0, l,
				&host, &port) == fmq_broker_node_id(c->b)) {
		/* Ours: served once its offsets are loaded (ctrl_zkoff.c). */
		e = ctrl_zkoff_gate(c, group.p, group.len);
		if (e == 0)
			return false;
	} else {
		c->st.not_coordinator++;
		e = FMQ_KERR_NOT_COORDINATOR;
	}
	deny(c, f, req, api, e);
	return true;
}

/* DescribeGroups and DeleteGroups in a cluster: a group another broker
 * coordinates (NOT_COORDINATOR) or one whose offsets are not loaded here
 * yet (COORDINATOR_LOAD_IN_PROGRESS, the load started) answers the whole
 * request; clients send these per coordinator and retry. True when f was
 * answered. */
static bool
not_ready(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *req,
	  enum fmq_group_api api, const struct fmq_group_str *ids, uint32_t n)
{
	int16_t e = 0;

	for (uint32_t i = 0; c->cl != NULL && i < n && e == 0; i++) {
		const struct fmq_listener *l =
			fmq_broker_listener(c->b, f->listener);
		struct fmq_kafka_str host;
		int32_t port;

		if (ctrl_zk_coordinator(c, ids[i].ptr,
					ids[i].len > 0 ? ids[i].len : 0, l,
					&host, &port) !=
		    fmq_broker_node_id(c->b)) {
			c->st.not_coordinator++;
			e = FMQ_KERR_NOT_COORDINATOR;
		} else {
			e = ctrl_zkoff_gate(c, ids[i].ptr, ids[i].len);
		}
	}
	if (e == 0)
		return false;
	free(gdeny_take(c, f));
	deny(c, f, req, api, e);
	return true;
}

/* The checks every single-group request starts with: the ACL on the group
 * (GROUP_AUTHORIZATION_FAILED), then the coordinator (NOT_COORDINATOR).
 * True when f was answered. */
static bool
group_gate(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *req,
	   enum fmq_group_api api, struct fmq_kafka_str group,
	   enum fmq_acl_op op)
{
	if (!group_ok(c, f, group, op)) {
		deny(c, f, req, api, FMQ_KERR_GROUP_AUTHORIZATION_FAILED);
		return true;
	}
	return not_mine(c, f, req, api, group);
}

static void
find_coordinator(struct fmq_ctrl *c, struct fmq_bfwd *f,
		 const struct fmq_kafka_find_coordinator_req *req)
{
	struct fmq_kafka_find_coordinator_resp resp;
	int16_t v = f->api_version;
	const struct fmq_listener *l = fmq_broker_listener(c->b, f->listener);
	struct fmq_kafka_str host = FMQ_KAFKA_STR_LIT("");
	int32_t node = -1, port = -1;

	fmq_kafka_init_response(f->api_key, v, &resp);
	if (v < 4) {
		int8_t type = v >= 1 ? req->key_type : FMQ_GROUP_COORD_GROUP;
		int16_t e = find_denied(c, f, type, req->key);

		if (e == 0)
			e = fmq_group_find_coordinator(c->group, type,
						       gstr(req->key));
		if (e == 0 && type == FMQ_GROUP_COORD_TRANSACTION &&
		    c->cl != NULL)
			/* Transactions are served on one node only
			 * (docs/protocol.md, "Transactions"). */
			e = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		if (e == 0)
			e = coordinator(c, l, req->key, &node, &host, &port);

		resp.error_code = e;
		/* Kafka puts the error's message here, "NONE" included. */
		resp.error_message = e == 0 ? FMQ_KAFKA_STR_LIT("NONE") :
			fmq_kafka_str(fmq_kafka_err_message(e));
		resp.node_id = e == 0 ? node : -1;
		resp.host = e == 0 ? host : FMQ_KAFKA_STR_LIT("");
		resp.port = e == 0 ? port : -1;
		ctrl_respond(c, f, &resp);
		return;
	}
	int32_t n = count(req->coordinator_keys_count);
	struct fmq_kafka_find_coordinator_resp_coordinator *co =
		ralloc(c, (size_t)n, sizeof(*co));

	if (co == NULL) {
		nomem(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		int16_t e = find_denied(c, f, req->key_type,
					req->coordinator_keys[i]);

		if (e == 0)
			e = fmq_group_find_coordinator(c->group, req->key_type,
				gstr(req->coordinator_keys[i]));
		if (e == 0 && req->key_type == FMQ_GROUP_COORD_TRANSACTION &&
		    c->cl != NULL)
			e = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		if (e == 0)
			e = coordinator(c, l, req->coordinator_keys[i], &node,
					&host, &port);

		co[i].key = req->coordinator_keys[i].len < 0 ?
			FMQ_KAFKA_STR_LIT("") : req->coordinator_keys[i];
		co[i].error_code = e;
		co[i].error_message = e == 0 ? FMQ_KAFKA_STR_NULL :
			fmq_kafka_str(fmq_kafka_err_message(e));
		co[i].node_id = e == 0 ? node : -1;
		co[i].host = e == 0 ? host : FMQ_KAFKA_STR_LIT("");
		co[i].port = e == 0 ? port : -1;
	}
	resp.coordinators = co;
	resp.coordinators_count = n;
	ctrl_respond(c, f, &resp);
}

/* ------------------------------------------------------------- requests */

static void
join_group(struct fmq_ctrl *c, struct fmq_bfwd *f,
	   const struct fmq_kafka_req_hdr *hdr,
	   const struct fmq_kafka_join_group_req *req)
{
	struct fmq_group_join_req jr;
	struct fmq_group_protocol *protos;
	int32_t n = count(req->protocols_count);
	char host[INET_ADDRSTRLEN + 1];
	struct in_addr ip = { .s_addr = f->client_ip };

	if (group_gate(c, f, req, FMQ_GROUP_JOIN, req->group_id,
		       FMQ_ACL_OP_READ))
		return;
	protos = ralloc(c, (size_t)n, sizeof(*protos));
	if (protos == NULL) {
		nomem(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		protos[i].name = gstr(req->protocols[i].name);
		protos[i].metadata = gbytes(req->protocols[i].metadata);
	}
	/* Kafka's client host is the peer address as Java prints it. */
	host[0] = '/';
	if (inet_ntop(AF_INET, &ip, host + 1, sizeof(host) - 1) == NULL)
		host[1] = '\0';
	memset(&jr, 0, sizeof(jr));
	jr.version = f->api_version;
	jr.group_id = gstr(req->group_id);
	jr.member_id = gstr(req->member_id);
	jr.group_instance_id = f->api_version >= 5 ?
		gstr(req->group_instance_id) : FMQ_GROUP_STR_NULL;
	jr.client_id = hdr->client_id.len < 0 ? FMQ_GROUP_STR("") :
		gstr(hdr->client_id);
	jr.client_host = FMQ_GROUP_STR(host);
	jr.session_timeout_ms = req->session_timeout_ms;
	/* v0 has no rebalance timeout: the decoder leaves its default -1,
	 * which the coordinator reads as "the session timeout". */
	jr.rebalance_timeout_ms = f->api_version >= 1 ?
		req->rebalance_timeout_ms : -1;
	jr.protocol_type = gstr(req->protocol_type);
	jr.protocols = protos;
	jr.n_protocols = (uint32_t)n;
	CALL(c, f, req, fmq_group_join(c->group, (uintptr_t)f, &jr,
				       fmq_wall_ms()));
}

static void
sync_group(struct fmq_ctrl *c, struct fmq_bfwd *f,
	   const struct fmq_kafka_sync_group_req *req)
{
	struct fmq_group_sync_req sr;
	struct fmq_group_assignment *as;
	int32_t n = count(req->assignments_count);

	if (group_gate(c, f, req, FMQ_GROUP_SYNC, req->group_id,
		       FMQ_ACL_OP_READ))
		return;
	as = ralloc(c, (size_t)n, sizeof(*as));
	if (as == NULL) {
		nomem(c, f);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		as[i].member_id = gstr(req->assignments[i].member_id);
		as[i].assignment = gbytes(req->assignments[i].assignment);
	}
	memset(&sr, 0, sizeof(sr));
	sr.version = f->api_version;
	sr.group_id = gstr(req->group_id);
	sr.generation_id = req->generation_id;
	sr.member_id = gstr(req->member_id);
	sr.group_instance_id = f->api_version >= 3 ?
		gstr(req->group_instance_id) : FMQ_GROUP_STR_NULL;
	sr.protocol_type = f->api_version >= 5 ?
		gstr(req->protocol_type) : FMQ_GROUP_STR_NULL;
	sr.protocol_name = f->api_version >= 5 ?
		gstr(req->protocol_name) : FMQ_GROUP_STR_NULL;
	sr.assignments = as;
	sr.n_assignments = (uint32_t)n;
	CALL(c, f, req, fmq_group_sync(c->group, (uintptr_t)f, &sr,
				       fmq_wall_ms()));
}

static void
heartbeat(struct fmq_ctrl *c, struct fmq_bfwd *f,
	  const struct fmq_kafka_heartbeat_req *req)
{
	struct fmq_group_heartbeat_req hr = {
		.group_id = gstr(req->group_id),
		.generation_id = req->generation_id,
		.member_id = gstr(req->member_id),
		.group_instance_id = f->api_version >= 3 ?
			gstr(req->group_instance_id) : FMQ_GROUP_STR_NULL,
	};

	if (group_gate(c, f, req, FMQ_GROUP_HEARTBEAT, req->group_id,
		       FMQ_ACL_OP_READ))
		return;
	CALL(c, f, req, fmq_group_heartbeat(c->group, (uintptr_t)f, &hr,
					    fmq_wall_ms()));
}

static void
leave_group(struct fmq_ctrl *c, struct fmq_bfwd *f,
	    const struct fmq_kafka_leave_group_req *req)
{
	struct fmq_group_leave_req lr;
	struct fmq_group_leave_member *m;
	int32_t n = f->api_version >= 3 ? count(req->members_count) : 1;

	if (group_gate(c, f, req, FMQ_GROUP_LEAVE, req->group_id,
		       FMQ_ACL_OP_READ))
		return;
	m = ralloc(c, (size_t)n, sizeof(*m));
	if (m == NULL) {
		nomem(c, f);
		return;
	}
	if (f->api_version < 3) {
		/* v0-v2: the one member of the connection, never static. */
		m[0].member_id = gstr(req->member_id);
		m[0].group_instance_id = FMQ_GROUP_STR_NULL;
	} else {
		for (int32_t i = 0; i < n; i++) {
			m[i].member_id = gstr(req->members[i].member_id);
			m[i].group_instance_id =
				gstr(req->members[i].group_instance_id);
		}
	}
	lr.group_id = gstr(req->group_id);
	lr.members = m;
	lr.n_members = (uint32_t)n;
	CALL(c, f, req, fmq_group_leave(c->group, (uintptr_t)f, &lr,
					fmq_wall_ms()));
}

static void
offset_commit(struct fmq_ctrl *c, struct fmq_bfwd *f,
	      const struct fmq_kafka_offset_commit_req *req)
{
	int16_t v = f->api_version;
	struct fmq_group_commit_req cr;
	struct fmq_group_commit_part *parts;
	struct tp_cache tc = { .valid = false };
	size_t n = 0, k = 0;

	if (group_gate(c, f, req, FMQ_GROUP_OFFSET_COMMIT, req->group_id,
		       FMQ_ACL_OP_READ))
		return;
	for (int32_t t = 0; t < req->topics_count; t++)
		n += (size_t)count(req->topics[t].partitions_count);
	parts = ralloc(c, n, sizeof(*parts));
	if (parts == NULL) {
		nomem(c, f);
		return;
	}
	memset(&cr, 0, sizeof(cr));
	cr.commit_timestamp = -1;
	for (int32_t t = 0; t < req->topics_count; t++) {
		const struct fmq_kafka_offset_commit_req_offset_commit_request_topic
			*rt = &req->topics[t];
		/* READ on the topic, else 29 for its partitions. */
		bool topic_ok = count(rt->partitions_count) == 0 ||
			gtopic_ok(c, f, gstr(rt->name), FMQ_ACL_OP_READ);

		for (int32_t i = 0; i < count(rt->partitions_count); i++) {
			const struct fmq_kafka_offset_commit_req_offset_commit_request_partition
				*rp = &rt->partitions[i];
			struct fmq_group_commit_part *p = &parts[k++];

			p->topic = gstr(rt->name);
			p->partition = rp->partition_index;
			p->offset = rp->committed_offset;
			p->leader_epoch = v >= 6 ? rp->committed_leader_epoch :
				-1;
			p->metadata = gstr(rp->committed_metadata);
			p->preset_error = !topic_ok ?
				FMQ_KERR_TOPIC_AUTHORIZATION_FAILED :
				tp_exists(c, &tc, p->topic, p->partition) ? 0 :
				FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
			/* v1 carries a timestamp per partition; the
			 * coordinator takes one per request: the first
			 * given (clients set them all alike). */
			if (v == 1 && cr.commit_timestamp < 0)
				cr.commit_timestamp = rp->commit_timestamp;
		}
	}
	cr.group_id = gstr(req->group_id);
	/* v0 has neither generation nor member: a simple consumer. */
	cr.generation_id = v >= 1 ? req->generation_id_or_member_epoch : -1;
	cr.member_id = v >= 1 ? gstr(req->member_id) : FMQ_GROUP_STR("");
	if (cr.member_id.len < 0)
		cr.member_id = FMQ_GROUP_STR("");
	cr.group_instance_id = v >= 7 ? gstr(req->group_instance_id) :
		FMQ_GROUP_STR_NULL;
	cr.retention_ms = (v >= 2 && v <= 4) ? req->retention_time_ms : -1;
	cr.api_version = v;
	cr.parts = parts;
	cr.n_parts = (uint32_t)n;
	CALL(c, f, req, fmq_group_offset_commit(c->group, (uintptr_t)f, &cr,
						fmq_wall_ms()));
}

/* A requested OffsetFetch topic, whichever version's struct it came in. */
struct fetch_topic {
	struct fmq_kafka_str name;
	const int32_t *parts;
	int32_t n;
};

/* One group of an OffsetFetch: its topics flattened into partitions, or
 * n_parts = -1 for "all" (ntopics -1: null topics, v2+). */
static int
fetch_group(struct fmq_ctrl *c, struct fmq_group_fetch_group *g,
	    struct fmq_kafka_str group_id, const struct fetch_topic *t,
	    int32_t ntopics)
{
	struct fmq_group_tp *tp;
	size_t n = 0, k = 0;

	g->group_id = gstr(group_id);
	g->member_id = FMQ_GROUP_STR_NULL;   /* v9: set by the caller */
	g->member_epoch = -1;
	if (ntopics < 0) {
		g->parts = NULL;
		g->n_parts = -1;
		return 0;
	}
	for (int32_t i = 0; i < ntopics; i++)
		n += (size_t)count(t[i].n);
	tp = ralloc(c, n, sizeof(*tp));
	if (tp == NULL)
		return -ENOMEM;
	for (int32_t i = 0; i < ntopics; i++)
		for (int32_t p = 0; p < count(t[i].n); p++) {
			tp[k].topic = gstr(t[i].name);
			tp[k].partition = t[i].parts[p];
			k++;
		}
	g->parts = tp;
	g->n_parts = (int32_t)n;
	return 0;
}

/* The two topic layouts (v0-v7, v8 groups) have the same fields. */
#define FETCH_TOPICS(c, src, nsrc, out) do {				\
	(out) = ralloc((c), (size_t)count(nsrc), sizeof(*(out)));	\
	for (int32_t i_ = 0; (out) != NULL && i_ < (nsrc); i_++) {	\
		(out)[i_].name = (src)[i_].name;			\
		(out)[i_].parts = (src)[i_].partition_indexes;		\
		(out)[i_].n = (src)[i_].partition_indexes_count;	\
	}								\
} while (0)

static void
offset_fetch(struct fmq_ctrl *c, struct fmq_bfwd *f,
	     const struct fmq_kafka_offset_fetch_req *req)
{
	int16_t v = f->api_version;
	struct fmq_group_fetch_req fr;
	struct fmq_group_fetch_group *g;
	int32_t n = v >= 8 ? count(req->groups_count) : 1;
	int rc = 0;

	g = ralloc(c, (size_t)n, sizeof(*g));
	if (g == NULL) {
		nomem(c, f);
		return;
	}
	bool *den = NULL;
	int32_t k = 0;

	if (v < 8 && !group_ok(c, f, req->group_id, FMQ_ACL_OP_DESCRIBE)) {
		deny(c, f, req, FMQ_GROUP_OFFSET_FETCH,
		     FMQ_KERR_GROUP_AUTHORIZATION_FAILED);
		return;
	}
	if (v < 8 && not_mine(c, f, req, FMQ_GROUP_OFFSET_FETCH,
			      req->group_id))
		return;
	if (v >= 8 && c->cl != NULL) {
		/* Cluster: every group coordinated and loaded here. */
		struct fmq_group_str *ids = ralloc(c, (size_t)n,
						   sizeof(*ids));

		if (ids == NULL) {
			nomem(c, f);
			return;
		}
		uint32_t m = 0;

		for (int32_t i = 0; i < n; i++)
			if (group_ok(c, f, req->groups[i].group_id,
				     FMQ_ACL_OP_DESCRIBE))
				ids[m++] = gstr(req->groups[i].group_id);
		if (not_ready(c, f, req, FMQ_GROUP_OFFSET_FETCH, ids, m))
			return;
	}
	if (v < 8) {
		struct fetch_topic *t;

		k = 1;
		/* Null topics (v2+) ask for every committed partition. */
		FETCH_TOPICS(c, req->topics, req->topics_count, t);
		rc = t == NULL ? -ENOMEM : fetch_group(c, &g[0], req->group_id,
						       t, req->topics_count);
	} else {
		/* DESCRIBE on each group: the coordinator sees only the
		 * allowed ones (the answer puts the others back). */
		den = ralloc(c, (size_t)n, sizeof(*den));
		if (den == NULL)
			rc = -ENOMEM;
		for (int32_t i = 0; i < n && rc == 0; i++) {
			const struct fmq_kafka_offset_fetch_req_offset_fetch_request_group
				*rg = &req->groups[i];
			struct fetch_topic *t;

			den[i] = !group_ok(c, f, rg->group_id,
					   FMQ_ACL_OP_DESCRIBE);
			if (den[i])
				continue;
			FETCH_TOPICS(c, rg->topics, rg->topics_count, t);
			rc = t == NULL ? -ENOMEM : fetch_group(c, &g[k],
				rg->group_id, t, rg->topics_count);
			if (v >= 9) {     /* KIP-848 */
				g[k].member_id = gstr(rg->member_id);
				g[k].member_epoch = rg->member_epoch;
			}
			k++;
		}
	}
	if (rc < 0) {
		nomem(c, f);
		return;
	}
	fr.require_stable = v >= 7 && req->require_stable;
	fr.groups = g;
	fr.n_groups = (uint32_t)k;
	if (den != NULL) {
		struct fmq_kafka_str *ids = ralloc(c, (size_t)n, sizeof(*ids));

		for (int32_t i = 0; ids != NULL && i < n; i++)
			ids[i] = req->groups[i].group_id;
		if (ids == NULL || gdeny_add(c, f, ids, den, n) < 0) {
			nomem(c, f);
			return;
		}
	}
	if (k == 0 && n > 0) {
		struct fmq_group_resp r;

		/* Every group denied: an empty answer, filled back. */
		memset(&r, 0, sizeof(r));
		r.api = FMQ_GROUP_OFFSET_FETCH;
		c->gcur = f;
		c->gcur_req = req;
		ctrl_groups_emit(c, (uintptr_t)f, &r);
		c->gcur = NULL;
		c->gcur_req = NULL;
	} else {
		CALL(c, f, req, fmq_group_offset_fetch(c->group, (uintptr_t)f,
						       &fr, fmq_wall_ms()));
	}
}

static void
list_groups(struct fmq_ctrl *c, struct fmq_bfwd *f,
	    const struct fmq_kafka_list_groups_req *req)
{
	struct fmq_group_list_req lr = { .states = NULL, .n_states = 0 };
	struct fmq_group_str *st = NULL;
	int32_t n = f->api_version >= 4 ? count(req->states_filter_count) : 0;

	if (n > 0) {
		st = ralloc(c, (size_t)n, sizeof(*st));
		if (st == NULL) {
			nomem(c, f);
			return;
		}
		for (int32_t i = 0; i < n; i++)
			st[i] = gstr(req->states_filter[i]);
	}
	lr.states = st;
	lr.n_states = (uint32_t)n;
	n = f->api_version >= 5 ? count(req->types_filter_count) : 0;
	if (n > 0) {
		st = ralloc(c, (size_t)n, sizeof(*st));
		if (st == NULL) {
			nomem(c, f);
			return;
		}
		for (int32_t i = 0; i < n; i++)
			st[i] = gstr(req->types_filter[i]);
		lr.types = st;
		lr.n_types = (uint32_t)n;
	}
	CALL(c, f, req, fmq_group_list(c->group, (uintptr_t)f, &lr,
				       fmq_wall_ms()));
}

/* The ids op is allowed on, and which of the request's were denied. */
static struct fmq_group_str *
allowed_ids(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	    const struct fmq_kafka_str *ids, int32_t n, enum fmq_acl_op op,
	    bool **den, uint32_t *nout)
{
	struct fmq_group_str *g = ralloc(c, (size_t)count(n), sizeof(*g));
	uint32_t k = 0;

	*den = ralloc(c, (size_t)count(n), sizeof(**den));
	if (g == NULL || *den == NULL)
		return NULL;
	for (int32_t i = 0; i < n; i++) {
		(*den)[i] = !group_ok(c, f, ids[i], op);
		if (!(*den)[i])
			g[k++] = gstr(ids[i]);
	}
	*nout = k;
	return g;
}

/* An answer with no group in it (all denied), filled back from the
 * request by the emit function. */
static void
empty_answer(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *req,
	     enum fmq_group_api api)
{
	struct fmq_group_resp r;

	memset(&r, 0, sizeof(r));
	r.api = api;
	c->gcur = f;
	c->gcur_req = req;
	ctrl_groups_emit(c, (uintptr_t)f, &r);
	c->gcur = NULL;
	c->gcur_req = NULL;
}

static void
describe_groups(struct fmq_ctrl *c, struct fmq_bfwd *f,
		const struct fmq_kafka_describe_groups_req *req)
{
	struct fmq_group_describe_req dr;
	bool *den;

	dr.version = f->api_version;
	dr.group_ids = allowed_ids(c, f, req->groups, req->groups_count,
				   FMQ_ACL_OP_DESCRIBE, &den, &dr.n_groups);
	if (dr.group_ids == NULL) {
		nomem(c, f);
		return;
	}
	if (gdeny_add(c, f, req->groups, den, req->groups_count) < 0) {
		nomem(c, f);
		return;
	}
	if (not_ready(c, f, req, FMQ_GROUP_DESCRIBE, dr.group_ids,
		      dr.n_groups))
		return;
	if (dr.n_groups == 0 && req->groups_count > 0)
		empty_answer(c, f, req, FMQ_GROUP_DESCRIBE);
	else
		CALL(c, f, req, fmq_group_describe(c->group, (uintptr_t)f,
						   &dr, fmq_wall_ms()));
}

static void
delete_groups(struct fmq_ctrl *c, struct fmq_bfwd *f,
	      const struct fmq_kafka_delete_groups_req *req)
{
	struct fmq_group_delete_req dr;
	bool *den;

	dr.group_ids = allowed_ids(c, f, req->groups_names,
				   req->groups_names_count, FMQ_ACL_OP_DELETE,
				   &den, &dr.n_groups);
	if (dr.group_ids == NULL) {
		nomem(c, f);
		return;
	}
	if (gdeny_add(c, f, req->groups_names, den,
		      req->groups_names_count) < 0) {
		nomem(c, f);
		return;
	}
	if (not_ready(c, f, req, FMQ_GROUP_DELETE, dr.group_ids,
		      dr.n_groups))
		return;
	if (dr.n_groups == 0 && req->groups_names_count > 0)
		empty_answer(c, f, req, FMQ_GROUP_DELETE);
	else
		CALL(c, f, req, fmq_group_delete(c->group, (uintptr_t)f, &dr,
						 fmq_wall_ms()));
}

static void
offset_delete(struct fmq_ctrl *c, struct fmq_bfwd *f,
	      const struct fmq_kafka_offset_delete_req *req)
{
	struct fmq_group_offset_delete_req dr;
	struct fmq_group_tp *tp;
	size_t n = 0, k = 0;

	if (group_gate(c, f, req, FMQ_GROUP_OFFSET_DELETE, req->group_id,
		       FMQ_ACL_OP_DELETE))
		return;
	for (int32_t t = 0; t < req->topics_count; t++)
		n += (size_t)count(req->topics[t].partitions_count);
	tp = ralloc(c, n, sizeof(*tp));
	if (tp == NULL) {
		nomem(c, f);
		return;
	}
	/* READ on each topic: the coordinator sees only those (the
	 * answer gives the others 29). */
	for (int32_t t = 0; t < req->topics_count; t++)
		for (int32_t i = 0; i < count(req->topics[t].partitions_count);
		     i++) {
			if (i == 0 && !gtopic_ok(c, f,
					gstr(req->topics[t].name),
					FMQ_ACL_OP_READ))
				break;
			tp[k].topic = gstr(req->topics[t].name);
			tp[k].partition =
				req->topics[t].partitions[i].partition_index;
			k++;
		}
	dr.group_id = gstr(req->group_id);
	dr.parts = tp;
	dr.n_parts = (uint32_t)k;
	CALL(c, f, req, fmq_group_offset_delete(c->group, (uintptr_t)f, &dr,
						fmq_wall_ms()));
}

bool
ctrl_groups_handle(struct fmq_ctrl *c, struct fmq_bfwd *f,
		   const struct fmq_kafka_req_hdr *hdr, void *req)
{
	union fmq_kafka_request *r = req;

	/* One line per API: its handler and the request's union member. */
#define GROUP_API(api, call) \
	case FMQ_KAFKA_API_##api: call; return true;
	switch (f->api_key) {
	GROUP_API(FIND_COORDINATOR,
		  find_coordinator(c, f, &r->find_coordinator))
	GROUP_API(JOIN_GROUP, join_group(c, f, hdr, &r->join_group))
	GROUP_API(SYNC_GROUP, sync_group(c, f, &r->sync_group))
	GROUP_API(HEARTBEAT, heartbeat(c, f, &r->heartbeat))
	GROUP_API(LEAVE_GROUP, leave_group(c, f, &r->leave_group))
	GROUP_API(OFFSET_COMMIT, offset_commit(c, f, &r->offset_commit))
	GROUP_API(OFFSET_FETCH, offset_fetch(c, f, &r->offset_fetch))
	GROUP_API(LIST_GROUPS, list_groups(c, f, &r->list_groups))
	GROUP_API(DESCRIBE_GROUPS,
		  describe_groups(c, f, &r->describe_groups))
	GROUP_API(DELETE_GROUPS, delete_groups(c, f, &r->delete_groups))
	GROUP_API(OFFSET_DELETE, offset_delete(c, f, &r->offset_delete))
	GROUP_API(CONSUMER_GROUP_HEARTBEAT,
		  ctrl_consumer_heartbeat(c, f, hdr,
					  &r->consumer_group_heartbeat))
	GROUP_API(CONSUMER_GROUP_DESCRIBE,
		  ctrl_consumer_describe(c, f, &r->consumer_group_describe))
	default:
		return false;
	}
#undef GROUP_API
}

/* ------------------------------------------------------------ responses */

/* A per-partition result, flat, in the order it is answered. */
struct flat_part {
	struct fmq_group_str topic;
	int32_t partition;
	int16_t error;
	int64_t offset;         /* OffsetFetch only */
	int32_t leader_epoch;
	struct fmq_group_str metadata;
};

/* Number of topic runs in a flat list (consecutive equal names). */
static uint32_t
topic_runs(const struct flat_part *p, uint32_t n)
{
	uint32_t runs = 0;

	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || !gstr_same(p[i].topic, p[i - 1].topic))
			runs++;
	return runs;
}

/*
 * Where the response element types keep the fields emit_topics() fills.
 * The generated types differ per API and version but share field names;
 * FIELD() refuses at compile time a field of another type.
 */
#define NO_FIELD SIZE_MAX
#define FIELD(T, f, ty) (offsetof(T, f) + 0 * sizeof(char[ \
	__builtin_types_compatible_p(__typeof__(((T *)0)->f), ty) ? 1 : -1]))
#define TOPIC_LAYOUT(T, P) \
	sizeof(T), FIELD(T, name, struct fmq_kafka_str), \
	FIELD(T, partitions, P *), FIELD(T, partitions_count, int32_t), \
	sizeof(P), FIELD(P, partition_index, int32_t), \
	FIELD(P, error_code, int16_t)
#define OFFSETS_LAYOUT(P) \
	FIELD(P, committed_offset, int64_t), \
	FIELD(P, committed_leader_epoch, int32_t), \
	FIELD(P, metadata, struct fmq_kafka_str)

struct topic_layout {
	size_t t_size, t_name, t_parts, t_count;
	size_t p_size, p_index, p_error;
	size_t p_offset, p_epoch, p_metadata;   /* NO_FIELD: not in the type */
};

#define PUT(base, off, val) do { \
	__typeof__(val) v_ = (val); \
	memcpy((char *)(base) + (off), &v_, sizeof(v_)); \
} while (0)

/*
 * The topics array of a response from a flat partition list: one topic per
 * run of equal names, each pointing at its partitions (in order).
 */
static int
emit_topics(struct fmq_ctrl *c, const struct topic_layout *l,
	    const struct flat_part *fp, uint32_t n, void **topics,
	    int32_t *ntopics)
{
	uint32_t runs = topic_runs(fp, n);
	char *tt = ealloc(c, runs, l->t_size);
	char *pp = ealloc(c, n, l->p_size);
	char *t = NULL;
	int32_t cnt = 0;

	if (tt == NULL || pp == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		char *p = pp + (size_t)i * l->p_size;

		if (i == 0 || !gstr_same(fp[i].topic, fp[i - 1].topic)) {
			t = t == NULL ? tt : t + l->t_size;
			PUT(t, l->t_name, gkstr_nn(fp[i].topic));
			PUT(t, l->t_parts, (void *)p);
			cnt = 0;
		}
		PUT(t, l->t_count, ++cnt);
		PUT(p, l->p_index, fp[i].partition);
		PUT(p, l->p_error, fp[i].error);
		if (l->p_offset != NO_FIELD) {
			PUT(p, l->p_offset, fp[i].offset);
			PUT(p, l->p_epoch, fp[i].leader_epoch);
			PUT(p, l->p_metadata, gkstr(fp[i].metadata));
		}
	}
	*topics = tt;
	*ntopics = (int32_t)runs;
	return 0;
}

/* OffsetCommit's and OffsetDelete's topics have the same fields: their
 * partitions, flat, each with error e (fp NULL when out of memory). */
#define FLAT_PARTS(c, r, e, fp, n) do {					\
	size_t k_ = 0;							\
	for (int32_t t_ = 0; t_ < (r)->topics_count; t_++)		\
		(n) += (size_t)count((r)->topics[t_].partitions_count);	\
	(fp) = ealloc((c), (n), sizeof(*(fp)));				\
	for (int32_t t_ = 0; (fp) != NULL && t_ < (r)->topics_count;	\
	     t_++)							\
		for (int32_t i_ = 0;					\
		     i_ < count((r)->topics[t_].partitions_count); i_++) { \
			(fp)[k_].topic = gstr((r)->topics[t_].name);	\
			(fp)[k_].partition =				\
				(r)->topics[t_].partitions[i_].partition_index; \
			(fp)[k_++].error = (e);				\
		}							\
} while (0)

/* The partitions of an OffsetCommit or OffsetDelete request, flat, each
 * with err: for answers the coordinator could not build. */
static struct flat_part *
commit_req_flat(struct fmq_ctrl *c, const void *kreq, bool is_delete,
		int16_t err, uint32_t *np)
{
	size_t n = 0;
	struct flat_part *fp;

	*np = 0;
	if (kreq == NULL)
		return NULL;
	if (is_delete) {
		const struct fmq_kafka_offset_delete_req *r = kreq;

		FLAT_PARTS(c, r, err, fp, n);
	} else {
		const struct fmq_kafka_offset_commit_req *r = kreq;

		FLAT_PARTS(c, r, err, fp, n);
	}
	if (fp == NULL)
		return NULL;
	*np = (uint32_t)n;
	return fp;
}
#undef FLAT_PARTS

static int
emit_join(struct fmq_ctrl *c, int16_t v, const struct fmq_group_resp *r,
	  struct fmq_kafka_join_group_resp *o)
{
	const struct fmq_group_join_resp *j = &r->u.join;

	o->error_code = r->error;
	o->generation_id = j->generation_id;
	/* Protocol type is new in v7 (nullable); the name is nullable from
	 * v7 on and "" before. */
	o->protocol_type = gkstr(j->protocol_type);
	o->protocol_name = v >= 7 ? gkstr(j->protocol_name) :
		gkstr_nn(j->protocol_name);
	o->leader = gkstr_nn(j->leader);
	o->skip_assignment = j->skip_assignment;
	o->member_id = gkstr_nn(j->member_id);
	o->members_count = (int32_t)j->n_members;
	if (j->n_members == 0)
		return 0;
	o->members = ealloc(c, j->n_members, sizeof(*o->members));
	if (o->members == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < j->n_members; i++) {
		o->members[i].member_id = gkstr_nn(j->members[i].member_id);
		o->members[i].group_instance_id =
			gkstr(j->members[i].group_instance_id);
		o->members[i].metadata = kbytes_nn(j->members[i].metadata);
	}
	return 0;
}

static int
emit_sync(const struct fmq_group_resp *r, struct fmq_kafka_sync_group_resp *o)
{
	o->error_code = r->error;
	o->protocol_type = gkstr(r->u.sync.protocol_type);
	o->protocol_name = gkstr(r->u.sync.protocol_name);
	o->assignment = kbytes_nn(r->u.sync.assignment);
	return 0;
}

static int
emit_leave(struct fmq_ctrl *c, int16_t v, const struct fmq_group_resp *r,
	   struct fmq_kafka_leave_group_resp *o)
{
	const struct fmq_group_leave_resp *l = &r->u.leave;

	o->error_code = r->error;
	if (v < 3) {
		/* One member, no list: its error is the answer. */
		if (o->error_code == 0 && l->n_members > 0)
			o->error_code = l->members[0].error;
		return 0;
	}
	o->members_count = (int32_t)l->n_members;
	if (l->n_members == 0)
		return 0;
	o->members = ealloc(c, l->n_members, sizeof(*o->members));
	if (o->members == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->n_members; i++) {
		o->members[i].member_id = gkstr_nn(l->members[i].member_id);
		o->members[i].group_instance_id =
			gkstr(l->members[i].group_instance_id);
		o->members[i].error_code = l->members[i].error;
	}
	return 0;
}

static int
emit_commit(struct fmq_ctrl *c, const struct fmq_group_resp *r,
	    const void *kreq, struct fmq_kafka_offset_commit_resp *o)
{
	static const struct topic_layout layout = {
		TOPIC_LAYOUT(
		struct fmq_kafka_offset_commit_resp_offset_commit_response_topic,
		struct fmq_kafka_offset_commit_resp_offset_commit_response_partition),
		NO_FIELD, NO_FIELD, NO_FIELD,
	};
	const struct fmq_group_commit_resp *cr = &r->u.commit;
	struct flat_part *fp;
	uint32_t n = cr->n_parts;
	void *tt;

	if (r->error != 0 && n == 0) {
		/* The coordinator could not even build the answer: every
		 * partition of the request gets the error. */
		fp = commit_req_flat(c, kreq, false, r->error, &n);
		if (fp == NULL && n > 0)
			return -ENOMEM;
	} else {
		fp = ealloc(c, n, sizeof(*fp));
		if (fp == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			fp[i].topic = cr->parts[i].topic;
			fp[i].partition = cr->parts[i].partition;
			fp[i].error = cr->parts[i].error;
		}
	}
	if (emit_topics(c, &layout, fp, n, &tt, &o->topics_count) < 0)
		return -ENOMEM;
	o->topics = tt;
	return 0;
}

/* The topics of one OffsetFetch group (v0-v7 and v8 use different element
 * types with the same fields: filled through the v8 layout for v8, else
 * the v0-v7 one). */
static int
fetch_topics(struct fmq_ctrl *c, bool v8, const struct flat_part *fp,
	     uint32_t n, void **topics, int32_t *ntopics)
{
	static const struct topic_layout layout_v8 = {
		TOPIC_LAYOUT(
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_topics,
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_partitions),
		OFFSETS_LAYOUT(
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_partitions),
	};
	static const struct topic_layout layout_v0 = {
		TOPIC_LAYOUT(
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_topic,
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_partition),
		OFFSETS_LAYOUT(
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_partition),
	};

	return emit_topics(c, v8 ? &layout_v8 : &layout_v0, fp, n, topics,
			   ntopics);
}

/* The group's partitions, as Kafka shows them: a topic the client may
 * not DESCRIBE is left out of an "all" answer, else answered 29 (an
 * answer emitted later, without the request at hand, leaves it out). */
static struct flat_part *
fetch_flat(struct fmq_ctrl *c, const struct fmq_group_fetch_group_resp *g,
	   bool listed, uint32_t *np)
{
	struct flat_part *fp = ealloc(c, g->n_parts, sizeof(*fp));
	struct fmq_group_str last = FMQ_GROUP_STR_NULL;
	bool last_ok = true;
	uint32_t k = 0;

	if (fp == NULL)
		return NULL;
	for (uint32_t i = 0; i < g->n_parts; i++) {
		const struct fmq_group_fetch_part *x = &g->parts[i];

		if (i == 0 || !gstr_same(last, x->topic)) {
			last = x->topic;
			last_ok = c->gemit == NULL || gtopic_ok(c, c->gemit,
						x->topic, FMQ_ACL_OP_DESCRIBE);
		}
		if (!last_ok && !listed)
			continue;
		fp[k].topic = x->topic;
		fp[k].partition = x->partition;
		fp[k].offset = last_ok ? x->offset : -1;
		fp[k].leader_epoch = last_ok ? x->leader_epoch : -1;
		fp[k].metadata = last_ok ? x->metadata : FMQ_GROUP_STR("");
		fp[k].error = last_ok ? x->error :
			FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
		k++;
	}
	*np = k;
	return fp;
}

/* v0-v1 have no group-level error: Kafka puts it on every requested
 * partition (offset -1, metadata ""). */
static struct flat_part *
fetch_error_flat(struct fmq_ctrl *c,
		 const struct fmq_kafka_offset_fetch_req *req, int16_t err,
		 uint32_t *np)
{
	size_t n = 0, k = 0;
	struct flat_part *fp;

	for (int32_t t = 0; t < req->topics_count; t++)
		n += (size_t)count(req->topics[t].partition_indexes_count);
	fp = ealloc(c, n, sizeof(*fp));
	if (fp == NULL)
		return NULL;
	for (int32_t t = 0; t < req->topics_count; t++)
		for (int32_t i = 0;
		     i < count(req->topics[t].partition_indexes_count); i++) {
			fp[k].topic = gstr(req->topics[t].name);
			fp[k].partition = req->topics[t].partition_indexes[i];
			fp[k].offset = -1;
			fp[k].leader_epoch = -1;
			fp[k].metadata = FMQ_GROUP_STR("");
			fp[k++].error = err;
		}
	*np = (uint32_t)n;
	return fp;
}

/* Did the v8 request list x's partitions (not "all")? Unknown without
 * the request: treated as "all" (left out, not named). */
static bool
fetch_listed(const struct fmq_kafka_offset_fetch_req *req,
	     const struct fmq_group_fetch_group_resp *x)
{
	for (int32_t i = 0; req != NULL && i < req->groups_count; i++)
		if (gstr_same(gstr(req->groups[i].group_id), x->group_id))
			return req->groups[i].topics_count >= 0;
	return false;
}

static int
emit_fetch(struct fmq_ctrl *c, int16_t v, const struct fmq_group_resp *r,
	   const void *kreq, struct fmq_kafka_offset_fetch_resp *o)
{
	const struct fmq_kafka_offset_fetch_req *req = kreq;
	const struct fmq_group_fetch_resp *fr = &r->u.fetch;
	struct flat_part *fp;
	uint32_t n;

	if (v >= 8) {
		struct fmq_kafka_offset_fetch_resp_offset_fetch_response_group *gg;
		const struct ctrl_gdeny *gd = c->gd_cur;
		uint32_t ng = fr->n_groups, nd = gd != NULL ? gd->n : 0;
		bool all_err = r->error != 0 && ng == 0 && req != NULL;

		if (all_err)
			ng = (uint32_t)count(req->groups_count);
		gg = ealloc(c, ng + nd, sizeof(*gg));
		if (gg == NULL)
			return -ENOMEM;
		/* The groups the ACLs kept from the coordinator, last. */
		for (uint32_t i = 0; i < nd && !all_err; i++) {
			gg[ng + i].group_id = gkstr_nn(gstr(gd->ids[i]));
			gg[ng + i].error_code =
				FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
		}
		for (uint32_t i = 0; i < ng; i++) {
			const struct fmq_group_fetch_group_resp *x;
			void *tt = NULL;
			int32_t nt = 0;
			uint32_t np;

			if (all_err) {
				gg[i].group_id = gkstr_nn(gstr(
					req->groups[i].group_id));
				gg[i].error_code = gdeny_has(gd,
					req->groups[i].group_id) ?
					FMQ_KERR_GROUP_AUTHORIZATION_FAILED :
					r->error;
				continue;
			}
			x = &fr->groups[i];
			gg[i].group_id = gkstr_nn(x->group_id);
			gg[i].error_code = x->error;
			if (x->error != 0)
				continue;
			fp = fetch_flat(c, x, fetch_listed(req, x), &np);
			if (fp == NULL || fetch_topics(c, true, fp, np, &tt,
						       &nt) < 0)
				return -ENOMEM;
			gg[i].topics = tt;
			gg[i].topics_count = nt;
		}
		o->groups = gg;
		o->groups_count = (int32_t)(ng + (all_err ? 0 : nd));
		return 0;
	}
	int16_t err = r->error;

	if (err == 0 && fr->n_groups > 0)
		err = fr->groups[0].error;
	if (err != 0) {
		void *tt = NULL;
		int32_t nt = 0;

		o->error_code = err;
		if (v >= 2 || req == NULL)
			return 0;
		fp = fetch_error_flat(c, req, err, &n);
		if (fp == NULL || fetch_topics(c, false, fp, n, &tt, &nt) < 0)
			return -ENOMEM;
		o->topics = tt;
		o->topics_count = nt;
		return 0;
	}
	if (fr->n_groups == 0)
		return 0;
	void *tt = NULL;
	int32_t nt = 0;

	fp = fetch_flat(c, &fr->groups[0], req != NULL &&
			req->topics_count >= 0, &n);
	if (fp == NULL || fetch_topics(c, false, fp, n, &tt, &nt) < 0)
		return -ENOMEM;
	o->topics = tt;
	o->topics_count = nt;
	return 0;
}

static int
emit_list(struct fmq_ctrl *c, const struct fmq_group_resp *r,
	  struct fmq_kafka_list_groups_resp *o)
{
	const struct fmq_group_list_resp *l = &r->u.list;

	o->error_code = r->error;
	o->groups_count = 0;
	if (l->n_groups == 0)
		return 0;
	o->groups = ealloc(c, l->n_groups, sizeof(*o->groups));
	if (o->groups == NULL)
		return -ENOMEM;
	/* Kafka: DESCRIBE on the cluster lists every group, else only
	 * the groups the client may DESCRIBE. */
	bool all = c->gemit == NULL ||
		ctrl_acl_cluster(c, c->gemit, FMQ_ACL_OP_DESCRIBE);
	for (uint32_t i = 0; i < l->n_groups; i++) {
		struct fmq_kafka_list_groups_resp_listed_group *g =
			&o->groups[o->groups_count];

		if (!all && !group_ok(c, c->gemit,
				      gkstr_nn(l->groups[i].group_id),
				      FMQ_ACL_OP_DESCRIBE))
			continue;
		g->group_id = gkstr_nn(l->groups[i].group_id);
		g->protocol_type = gkstr_nn(l->groups[i].protocol_type);
		g->group_state = gkstr_nn(l->groups[i].state);
		g->group_type = gkstr_nn(l->groups[i].type);
		o->groups_count++;
	}
	return 0;
}

static int
emit_describe(struct fmq_ctrl *c, int16_t v, const struct fmq_group_resp *r,
	      const void *kreq, struct fmq_kafka_describe_groups_resp *o)
{
	const struct fmq_kafka_describe_groups_req *req = kreq;
	const struct fmq_group_describe_resp *d = &r->u.describe;
	bool all_err = r->error != 0 && d->n_groups == 0 && req != NULL;
	const struct ctrl_gdeny *gd = c->gd_cur;
	uint32_t ng = all_err ? (uint32_t)count(req->groups_count) :
		d->n_groups;
	uint32_t nd = gd != NULL && !all_err ? gd->n : 0;
	bool want_ops = v >= 3 && req != NULL &&
		req->include_authorized_operations;
	struct fmq_kafka_describe_groups_resp_described_group *gg;

	(void)GROUP_ALL_OPERATIONS;
	gg = ealloc(c, ng + nd, sizeof(*gg));
	if (gg == NULL)
		return -ENOMEM;
	/* The groups the ACLs kept from the coordinator, last (Kafka). */
	for (uint32_t i = 0; i < nd; i++) {
		struct fmq_kafka_describe_groups_resp_described_group *x =
			&gg[ng + i];

		x->authorized_operations = INT32_MIN;
		x->error_code = FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
		x->group_id = gkstr_nn(gstr(gd->ids[i]));
		x->group_state = FMQ_KAFKA_STR_LIT("");
		x->protocol_type = FMQ_KAFKA_STR_LIT("");
		x->protocol_data = FMQ_KAFKA_STR_LIT("");
	}
	for (uint32_t i = 0; i < ng; i++) {
		const struct fmq_group_described *x;

		gg[i].authorized_operations = INT32_MIN;
		if (all_err) {
			gg[i].error_code = gdeny_has(gd, req->groups[i]) ?
				FMQ_KERR_GROUP_AUTHORIZATION_FAILED :
				r->error;
			gg[i].group_id = gkstr_nn(gstr(req->groups[i]));
			gg[i].group_state = FMQ_KAFKA_STR_LIT("");
			gg[i].protocol_type = FMQ_KAFKA_STR_LIT("");
			gg[i].protocol_data = FMQ_KAFKA_STR_LIT("");
			continue;
		}
		x = &d->groups[i];
		if (want_ops && c->gemit != NULL) {
			struct fmq_kafka_str id = gkstr_nn(x->group_id);
			gg[i].authorized_operations = ctrl_acl_ops(c, c->gemit,
				FMQ_ACL_RES_GROUP, id.p,
				id.len > 0 ? (size_t)id.len : 0);
		}
		gg[i].error_code = x->error;
		gg[i].group_id = gkstr_nn(x->group_id);
		gg[i].group_state = gkstr_nn(x->state);
		gg[i].protocol_type = gkstr_nn(x->protocol_type);
		gg[i].protocol_data = gkstr_nn(x->protocol);
		gg[i].members_count = (int32_t)x->n_members;
		if (x->n_members == 0)
			continue;
		gg[i].members = ealloc(c, x->n_members, sizeof(*gg[i].members));
		if (gg[i].members == NULL)
			return -ENOMEM;
		for (uint32_t m = 0; m < x->n_members; m++) {
			const struct fmq_group_described_member *xm =
				&x->members[m];
			struct fmq_kafka_describe_groups_resp_described_group_member
				*om = &gg[i].members[m];

			om->member_id = gkstr_nn(xm->member_id);
			om->group_instance_id = gkstr(xm->group_instance_id);
			om->client_id = gkstr_nn(xm->client_id);
			om->client_host = gkstr_nn(xm->client_host);
			om->member_metadata = kbytes_nn(xm->metadata);
			om->member_assignment = kbytes_nn(xm->assignment);
		}
	}
	o->groups = gg;
	o->groups_count = (int32_t)(ng + nd);
	return 0;
}

static int
emit_delete(struct fmq_ctrl *c, const struct fmq_group_resp *r,
	    const void *kreq, struct fmq_kafka_delete_groups_resp *o)
{
	const struct fmq_kafka_delete_groups_req *req = kreq;
	const struct fmq_group_delete_resp *d = &r->u.del;
	bool all_err = r->error != 0 && d->n_groups == 0 && req != NULL;
	const struct ctrl_gdeny *gd = c->gd_cur;
	uint32_t ng = all_err ? (uint32_t)count(req->groups_names_count) :
		d->n_groups;
	uint32_t nd = gd != NULL && !all_err ? gd->n : 0;

	o->results = ealloc(c, ng + nd, sizeof(*o->results));
	if (o->results == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < ng; i++) {
		o->results[i].group_id = gkstr_nn(all_err ?
			gstr(req->groups_names[i]) : d->groups[i].group_id);
		o->results[i].error_code = !all_err ? d->groups[i].error :
			gdeny_has(gd, req->groups_names[i]) ?
			FMQ_KERR_GROUP_AUTHORIZATION_FAILED : r->error;
	}
	/* The groups the ACLs kept from the coordinator, last (Kafka). */
	for (uint32_t i = 0; i < nd; i++) {
		o->results[ng + i].group_id = gkstr_nn(gstr(gd->ids[i]));
		o->results[ng + i].error_code =
			FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
	}
	o->results_count = (int32_t)(ng + nd);
	return 0;
}

static int
emit_offset_delete(struct fmq_ctrl *c, const struct fmq_group_resp *r,
		   const void *kreq, struct fmq_kafka_offset_delete_resp *o)
{
	static const struct topic_layout layout = {
		TOPIC_LAYOUT(
		struct fmq_kafka_offset_delete_resp_offset_delete_response_topic,
		struct fmq_kafka_offset_delete_resp_offset_delete_response_partition),
		NO_FIELD, NO_FIELD, NO_FIELD,
	};
	const struct fmq_group_offset_delete_resp *d = &r->u.offset_delete;
	const struct fmq_kafka_offset_delete_req *req = kreq;
	struct tp_cache tc = { .valid = false };
	struct flat_part *fp;
	uint32_t n = d->n_parts, j = 0;
	void *tt;

	/* A group-level error answers alone, as in Kafka. */
	o->error_code = r->error;
	if (r->error != 0)
		return 0;
	/* Topics the client may not READ never reached the coordinator:
	 * with the request at hand, they are answered 29 in place. */
	if (req != NULL) {
		fp = commit_req_flat(c, kreq, true, 0, &n);
		if (fp == NULL && n > 0)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			bool first = i == 0 ||
				!gstr_same(fp[i].topic, fp[i - 1].topic) ||
				fp[i - 1].error ==
				FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;

			if (c->gemit != NULL && first &&
			    !gtopic_ok(c, c->gemit, fp[i].topic,
				       FMQ_ACL_OP_READ)) {
				fp[i].error =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			if (j >= d->n_parts)
				return -EINVAL;
			fp[i].error = tp_exists(c, &tc, fp[i].topic,
						fp[i].partition) ?
				d->parts[j].error :
				FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
			j++;
		}
		goto encode;
	}
	fp = ealloc(c, n, sizeof(*fp));
	if (fp == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		fp[i].topic = d->parts[i].topic;
		fp[i].partition = d->parts[i].partition;
		/* Kafka refuses partitions missing from its metadata before
		 * the coordinator sees them; with no offset to delete there,
		 * the coordinator's own answer would be 0. */
		fp[i].error = tp_exists(c, &tc, fp[i].topic, fp[i].partition) ?
			d->parts[i].error :
			FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
encode:
	if (emit_topics(c, &layout, fp, n, &tt, &o->topics_count) < 0)
		return -ENOMEM;
	o->topics = tt;
	return 0;
}

/* The Kafka API a coordinator answer belongs to. */
static int16_t
api_of(enum fmq_group_api api)
{
	switch (api) {
	case FMQ_GROUP_JOIN: return FMQ_KAFKA_API_JOIN_GROUP;
	case FMQ_GROUP_SYNC: return FMQ_KAFKA_API_SYNC_GROUP;
	case FMQ_GROUP_HEARTBEAT: return FMQ_KAFKA_API_HEARTBEAT;
	case FMQ_GROUP_LEAVE: return FMQ_KAFKA_API_LEAVE_GROUP;
	case FMQ_GROUP_OFFSET_COMMIT: return FMQ_KAFKA_API_OFFSET_COMMIT;
	case FMQ_GROUP_OFFSET_FETCH: return FMQ_KAFKA_API_OFFSET_FETCH;
	case FMQ_GROUP_LIST: return FMQ_KAFKA_API_LIST_GROUPS;
	case FMQ_GROUP_DESCRIBE: return FMQ_KAFKA_API_DESCRIBE_GROUPS;
	case FMQ_GROUP_DELETE: return FMQ_KAFKA_API_DELETE_GROUPS;
	case FMQ_GROUP_OFFSET_DELETE: return FMQ_KAFKA_API_OFFSET_DELETE;
	}
	return -1;
}

void
ctrl_groups_emit(void *arg, uint64_t token, const struct fmq_group_resp *r)
{
	struct fmq_ctrl *c = arg;
	struct fmq_bfwd *f = (struct fmq_bfwd *)(uintptr_t)token;

	if (f == NULL)
		return;   /* a committed transaction's offsets (ctrl_txn.c) */
	const void *kreq = c->gcur == f ? c->gcur_req : NULL;
	struct ctrl_gdeny *gd = gdeny_take(c, f);
	union fmq_kafka_response *o;
	int16_t v = f->api_version;
	int rc;

	if (api_of(r->api) != f->api_key) {
		/* A coordinator bug; the client cannot parse a foreign
		 * answer, so it loses the connection instead. */
		FMQ_ERR(COMP, "group answer %d for a request of API %d",
			(int)r->api, f->api_key);
		free(gd);
		ctrl_close_conn(c, f);
		return;
	}
	fmq_kafka_arena_reset(&c->garena);
	o = ealloc(c, 1, sizeof(*o));
	if (o == NULL) {
		free(gd);
		ctrl_close_conn(c, f);
		return;
	}
	c->gemit = f;
	c->gd_cur = gd;
	fmq_kafka_init_response(f->api_key, v, o);
	switch (r->api) {
	case FMQ_GROUP_JOIN:
		rc = emit_join(c, v, r, &o->join_group);
		break;
	case FMQ_GROUP_SYNC:
		rc = emit_sync(r, &o->sync_group);
		break;
	case FMQ_GROUP_HEARTBEAT:
		o->heartbeat.error_code = r->error;
		rc = 0;
		break;
	case FMQ_GROUP_LEAVE:
		rc = emit_leave(c, v, r, &o->leave_group);
		break;
	case FMQ_GROUP_OFFSET_COMMIT:
		rc = emit_commit(c, r, kreq, &o->offset_commit);
		break;
	case FMQ_GROUP_OFFSET_FETCH:
		rc = emit_fetch(c, v, r, kreq, &o->offset_fetch);
		break;
	case FMQ_GROUP_LIST:
		rc = emit_list(c, r, &o->list_groups);
		break;
	case FMQ_GROUP_DESCRIBE:
		rc = emit_describe(c, v, r, kreq, &o->describe_groups);
		break;
	case FMQ_GROUP_DELETE:
		rc = emit_delete(c, r, kreq, &o->delete_groups);
		break;
	case FMQ_GROUP_OFFSET_DELETE:
		rc = emit_offset_delete(c, r, kreq, &o->offset_delete);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	c->gemit = NULL;
	c->gd_cur = NULL;
	if (rc < 0) {
		FMQ_ERR(COMP, "cannot build the answer to group API %d v%d: %s",
			f->api_key, v, strerror(-rc));
		free(gd);
		ctrl_close_conn(c, f);
		return;
	}
	ctrl_respond(c, f, o);
	free(gd);   /* the answer names the denied groups from it */
}
