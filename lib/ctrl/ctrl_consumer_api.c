/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer group protocol's APIs (KIP-848) on the control lcore:
 * ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69), mapped onto
 * the coordinator's fmq_group_consumer_heartbeat / _describe. Both are
 * answered during the call (nothing parks), so they are encoded here from
 * the coordinator's answer and sent with ctrl_respond, in the request
 * arena. ctrl_groups_handle() dispatches them here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

#define COMP "ctrl"

/* What ConsumerGroupDescribe reports when asked for the authorized
 * operations: with no authorizer, every operation a group supports
 * (READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11). */
#define CGROUP_ALL_OPERATIONS \
	((1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11))

static void *
ralloc(struct fmq_ctrl *c, size_t n, size_t sz)
{
	return fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) * sz);
}

static void
nomem(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	FMQ_ERR(COMP, "out of request memory for consumer group API %d v%d",
		f->api_key, f->api_version);
	ctrl_close_conn(c, f);
}

/* Topic metadata for the coordinator's assignors (the registry). */
int
ctrl_consumer_topic(void *arg, const char *name, uint8_t id[16],
		    uint32_t *nparts)
{
	struct fmq_ctrl *c = arg;
	const struct fmq_topic *t;

	if (strlen(name) > FMQ_TOPIC_NAME_MAX)
		return -1;
	t = fmq_topics_find(c->topics, name);
	if (t == NULL)
		return -1;
	memcpy(id, t->id, 16);
	*nparts = t->nparts;
	return 0;
}

/* The topics, for regex subscriptions. */
const char *
ctrl_consumer_topic_at(void *arg, size_t i)
{
	struct fmq_ctrl *c = arg;
	const struct fmq_topic *t;

	if (i >= fmq_topics_count(c->topics))
		return NULL;
	t = fmq_topics_at(c->topics, i);
	return t != NULL ? t->name : "";
}

uint64_t
ctrl_consumer_topics_version(void *arg)
{
	struct fmq_ctrl *c = arg;

	return fmq_topics_version(c->topics);
}

/* In a cluster, a group another broker coordinates. */
static bool
not_mine(struct fmq_ctrl *c, const struct fmq_bfwd *f, struct fmq_kafka_str g)
{
	const struct fmq_listener *l;
	struct fmq_kafka_str host;
	int32_t port;

	if (c->cl == NULL)
		return false;
	l = fmq_broker_listener(c->b, f->listener);
	if (ctrl_zk_coordinator(c, g.p, g.len > 0 ? g.len : 0, l, &host,
				&port) == fmq_broker_node_id(c->b))
		return false;
	c->st.not_coordinator++;
	return true;
}

void
ctrl_consumer_heartbeat(struct fmq_ctrl *c, struct fmq_bfwd *f,
	const struct fmq_kafka_req_hdr *hdr,
	const struct fmq_kafka_consumer_group_heartbeat_req *req)
{
	struct fmq_kafka_consumer_group_heartbeat_resp o;
	struct fmq_group_cheartbeat_req q;
	struct fmq_group_cheartbeat_resp r;
	struct fmq_group_str *subs = NULL;
	struct fmq_group_ctp *owned = NULL;
	struct in_addr ip = { .s_addr = f->client_ip };
	char host[INET_ADDRSTRLEN + 2];
	int16_t v = f->api_version;

	fmq_kafka_init_response(f->api_key, v, &o);
	memset(&r, 0, sizeof(r));
	if (!ctrl_acl_allow(c, f, FMQ_ACL_RES_GROUP, req->group_id.p,
			    req->group_id.len > 0 ? (size_t)req->group_id.len :
			    0, FMQ_ACL_OP_READ)) {
		o.error_code = FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
		goto send;
	}
	if (not_mine(c, f, req->group_id)) {
		o.error_code = FMQ_KERR_NOT_COORDINATOR;
		goto send;
	}
	/* Cluster: served once its offsets are loaded (ctrl_zkoff.c). */
	o.error_code = ctrl_zkoff_gate(c, req->group_id.p, req->group_id.len);
	if (o.error_code != 0)
		goto send;
	host[0] = '/';
	if (inet_ntop(AF_INET, &ip, host + 1, sizeof(host) - 1) == NULL)
		host[1] = '\0';
	memset(&q, 0, sizeof(q));
	q.version = v;
	q.group_id = gstr(req->group_id);
	q.member_id = gstr(req->member_id);
	q.member_epoch = req->member_epoch;
	q.instance_id = gstr(req->instance_id);
	q.rack_id = gstr(req->rack_id);
	q.rebalance_timeout_ms = req->rebalance_timeout_ms;
	q.n_subscribed = req->subscribed_topic_names_count;
	if (q.n_subscribed > 0) {
		subs = ralloc(c, (size_t)q.n_subscribed, sizeof(*subs));
		if (subs == NULL) {
			nomem(c, f);
			return;
		}
		for (int32_t i = 0; i < q.n_subscribed; i++) {
			struct fmq_kafka_str t = req->subscribed_topic_names[i];

			subs[i] = gstr(t);
			/* Kafka: DESCRIBE on every subscribed topic. */
			if (!ctrl_acl_allow(c, f, FMQ_ACL_RES_TOPIC, t.p,
					    t.len > 0 ? (size_t)t.len : 0,
					    FMQ_ACL_OP_DESCRIBE)) {
				o.error_code =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				goto send;
			}
		}
	}
	q.subscribed = subs;
	q.regex = v >= 1 ? gstr(req->subscribed_topic_regex) :
		FMQ_GROUP_STR_NULL;
	q.server_assignor = gstr(req->server_assignor);
	q.n_owned = req->topic_partitions_count;
	if (q.n_owned > 0) {
		owned = ralloc(c, (size_t)q.n_owned, sizeof(*owned));
		if (owned == NULL) {
			nomem(c, f);
			return;
		}
		for (int32_t i = 0; i < q.n_owned; i++) {
			const struct
			fmq_kafka_consumer_group_heartbeat_req_topic_partitions
				*t = &req->topic_partitions[i];

			memcpy(owned[i].topic_id, t->topic_id.b, 16);
			owned[i].topic = FMQ_GROUP_STR_NULL;
			owned[i].parts = t->partitions;
			owned[i].n_parts = t->partitions_count < 0 ? 0 :
				(uint32_t)t->partitions_count;
		}
	}
	q.owned = owned;
	q.client_id = hdr->client_id.len < 0 ? FMQ_GROUP_STR("") :
		gstr(hdr->client_id);
	q.client_host = FMQ_GROUP_STR(host);
	if (fmq_group_consumer_heartbeat(c->group, &q, &r, fmq_wall_ms()) < 0) {
		o.error_code = FMQ_KERR_INVALID_REQUEST;
		goto send;
	}
	o.error_code = r.error;
	o.error_message = r.error_message != NULL ?
		fmq_kafka_str(r.error_message) : FMQ_KAFKA_STR_NULL;
	o.member_id = gkstr(r.member_id);
	o.member_epoch = r.member_epoch;
	o.heartbeat_interval_ms = r.heartbeat_interval_ms;
	o.assignment_present = r.has_assignment;
	if (r.has_assignment) {
		struct fmq_kafka_consumer_group_heartbeat_resp_topic_partitions
			*tp = ralloc(c, r.n_assignment, sizeof(*tp));

		if (tp == NULL) {
			nomem(c, f);
			return;
		}
		for (uint32_t i = 0; i < r.n_assignment; i++) {
			memcpy(tp[i].topic_id.b, r.assignment[i].topic_id, 16);
			tp[i].partitions = (int32_t *)(uintptr_t)
				r.assignment[i].parts;
			tp[i].partitions_count =
				(int32_t)r.assignment[i].n_parts;
		}
		o.assignment.topic_partitions = tp;
		o.assignment.topic_partitions_count = (int32_t)r.n_assignment;
	}
send:
	if (o.error_code != 0 && o.error_message.len < 0)
		o.error_message =
			fmq_kafka_str(fmq_kafka_err_message(o.error_code));
	ctrl_respond(c, f, &o);
}

static int
fill_assignment(struct fmq_ctrl *c,
		struct fmq_kafka_consumer_group_describe_resp_assignment *a,
		const struct fmq_group_ctp *t, uint32_t n)
{
	struct fmq_kafka_consumer_group_describe_resp_topic_partitions *tp =
		ralloc(c, n, sizeof(*tp));

	if (tp == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(tp[i].topic_id.b, t[i].topic_id, 16);
		tp[i].topic_name = gkstr_nn(t[i].topic);
		tp[i].partitions = (int32_t *)(uintptr_t)t[i].parts;
		tp[i].partitions_count = (int32_t)t[i].n_parts;
	}
	a->topic_partitions = tp;
	a->topic_partitions_count = (int32_t)n;
	return 0;
}

void
ctrl_consumer_describe(struct fmq_ctrl *c, struct fmq_bfwd *f,
		       const struct fmq_kafka_consumer_group_describe_req *req)
{
	struct fmq_kafka_consumer_group_describe_resp o;
	struct fmq_kafka_consumer_group_describe_resp_described_group *g;
	const struct fmq_group_cgroup_desc *d = NULL;
	struct fmq_group_str *ids;
	int16_t *denied;
	uint32_t *order;
	uint32_t n = req->group_ids_count < 0 ? 0 :
		(uint32_t)req->group_ids_count, k = 0;

	fmq_kafka_init_response(f->api_key, f->api_version, &o);
	g = ralloc(c, n, sizeof(*g));
	ids = ralloc(c, n, sizeof(*ids));
	denied = ralloc(c, n, sizeof(*denied));
	order = ralloc(c, n, sizeof(*order));
	if (g == NULL || ids == NULL || denied == NULL || order == NULL) {
		nomem(c, f);
		return;
	}
	/* Denied or foreign groups are answered here; the rest asked. */
	for (uint32_t i = 0; i < n; i++) {
		struct fmq_kafka_str id = req->group_ids[i];

		denied[i] = 0;
		if (!ctrl_acl_allow(c, f, FMQ_ACL_RES_GROUP, id.p,
				    id.len > 0 ? (size_t)id.len : 0,
				    FMQ_ACL_OP_DESCRIBE))
			denied[i] = FMQ_KERR_GROUP_AUTHORIZATION_FAILED;
		else if (not_mine(c, f, id))
			denied[i] = FMQ_KERR_NOT_COORDINATOR;
		if (!denied[i])
			ids[k++] = gstr(id);
	}
	if (fmq_group_consumer_describe(c->group, ids, k, &d,
					fmq_wall_ms()) < 0) {
		nomem(c, f);
		return;
	}
	/* The described groups in request order, then (as Kafka) the
	 * denied ones. */
	for (uint32_t i = 0, j = 0; i < n; i++)
		if (!denied[i])
			order[j++] = i;
	for (uint32_t i = 0, j = k; i < n; i++)
		if (denied[i])
			order[j++] = i;
	k = 0;
	for (uint32_t oi = 0; oi < n; oi++) {
		uint32_t i = order[oi];
		struct fmq_kafka_consumer_group_describe_resp_described_group
			*x = &g[oi];
		const struct fmq_group_cgroup_desc *y;

		memset(x, 0, sizeof(*x));
		x->group_id = req->group_ids[i].len < 0 ?
			FMQ_KAFKA_STR_LIT("") : req->group_ids[i];
		x->error_message = FMQ_KAFKA_STR_NULL;
		x->group_state = FMQ_KAFKA_STR_LIT("");
		x->assignor_name = FMQ_KAFKA_STR_LIT("");
		x->authorized_operations = INT32_MIN;
		if (denied[i]) {
			x->error_code = denied[i];
			continue;
		}
		y = &d[k++];
		x->error_code = y->error;
		if (y->error_message != NULL)
			x->error_message = fmq_kafka_str(y->error_message);
		x->group_state = fmq_kafka_str(y->state);
		x->group_epoch = y->group_epoch;
		x->assignment_epoch = y->assignment_epoch;
		x->assignor_name = fmq_kafka_str(y->assignor);
		if (y->error == 0 && req->include_authorized_operations)
			x->authorized_operations = CGROUP_ALL_OPERATIONS;
		x->members = ralloc(c, y->n_members, sizeof(*x->members));
		if (x->members == NULL) {
			nomem(c, f);
			return;
		}
		x->members_count = (int32_t)y->n_members;
		for (uint32_t j = 0; j < y->n_members; j++) {
			const struct fmq_group_cmember_desc *ym =
				&y->members[j];
			struct fmq_kafka_consumer_group_describe_resp_member
				*xm = &x->members[j];
			struct fmq_kafka_str *subs =
				ralloc(c, ym->n_subscribed, sizeof(*subs));

			memset(xm, 0, sizeof(*xm));
			if (subs == NULL ||
			    fill_assignment(c, &xm->assignment, ym->assigned,
					    ym->n_assigned) < 0 ||
			    fill_assignment(c, &xm->target_assignment,
					    ym->target, ym->n_target) < 0) {
				nomem(c, f);
				return;
			}
			for (uint32_t s = 0; s < ym->n_subscribed; s++)
				subs[s] = gkstr_nn(ym->subscribed[s]);
			xm->member_id = gkstr_nn(ym->member_id);
			xm->instance_id = gkstr(ym->instance_id);
			xm->rack_id = gkstr(ym->rack_id);
			xm->member_epoch = ym->member_epoch;
			xm->client_id = gkstr_nn(ym->client_id);
			xm->client_host = gkstr_nn(ym->client_host);
			xm->subscribed_topic_names = subs;
			xm->subscribed_topic_names_count =
				(int32_t)ym->n_subscribed;
			xm->subscribed_topic_regex = gkstr(ym->regex);
		}
	}
	o.groups = g;
	o.groups_count = (int32_t)n;
	ctrl_respond(c, f, &o);
}
