/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request dispatch on the data lcore, and the APIs answered from the
 * snapshot alone: ApiVersions, Metadata, DescribeCluster. Everything that
 * changes control state goes to the control lcore as a whole frame.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "broker_priv.h"

/* Decode the body of the current request into a fresh arena struct. */
void *
api_decode_body(struct req_ctx *rc, int *st)
{
	union fmq_kafka_request *req;
	int r;

	req = fmq_kafka_arena_alloc(&rc->bl->arena, sizeof(*req));
	if (req == NULL) {
		*st = REQ_CLOSE(BROKER_CLOSE_NOMEM);
		return NULL;
	}
	r = fmq_kafka_decode_request(rc->hdr->api_key, rc->hdr->api_version,
				     &rc->body, &rc->bl->arena, req);
	if (r == -ENOMEM) {
		*st = REQ_CLOSE(BROKER_CLOSE_NOMEM);
		return NULL;
	}
	if (r < 0) {
		*st = REQ_CLOSE(BROKER_CLOSE_MALFORMED);
		return NULL;
	}
	return req;
}

/* Encode body as the response of the current request and complete it. */
int
api_respond(struct req_ctx *rc, const void *body)
{
	struct rte_mbuf *m = resp_encode(rc->bl, rc->hdr->api_key,
					 rc->hdr->api_version,
					 rc->hdr->correlation_id, body);

	if (m == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	conn_complete(rc->bl, rc->k, rc->slot, m);
	return REQ_DONE;
}

static int
api_versions(struct req_ctx *rc)
{
	struct fmq_kafka_api_versions_resp resp;
	struct fmq_kafka_api_versions_resp_api_version *keys;
	int st = 0;

	if (api_decode_body(rc, &st) == NULL)
		return st;
	keys = fmq_kafka_arena_alloc(&rc->bl->arena,
				     FMQ_KAFKA_N_APIS * sizeof(*keys));
	if (keys == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	fmq_kafka_init_response(FMQ_KAFKA_API_API_VERSIONS,
				rc->hdr->api_version, &resp);
	fmq_kafka_apiversions_fill(&resp, keys, 0);
	return api_respond(rc, &resp);
}

static bool
topic_name_legal(const char *p, int32_t len)
{
	if (len <= 0 || len > FMQ_BROKER_TOPIC_MAX)
		return false;
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	for (int32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* May auth do op on the resource? Counted when auth->st. */
static bool
auth_dec(const struct fmq_bauth *auth, enum fmq_acl_res res,
	 const char *name, size_t len, enum fmq_acl_op op)
{
	if (auth == NULL || auth->db == NULL)
		return true;
	if (auth->st == NULL)
		return fmq_acl_authorize(auth->db, auth->principal,
					 auth->client_ip, res, name, len, op);
	return fmq_acl_check(auth->db, auth->principal, auth->client_ip,
			     res, name, len, op, auth->st);
}

static bool
auth_topic(const struct fmq_bauth *auth, const char *name, size_t len,
	   enum fmq_acl_op op)
{
	return auth_dec(auth, FMQ_ACL_RES_TOPIC, name, len, op);
}

/* Kafka lets a Metadata auto-create a topic with CREATE on the cluster
 * or on the topic. */
static bool
auth_create(const struct fmq_bauth *auth, const char *name, size_t len)
{
	return auth_dec(auth, FMQ_ACL_RES_CLUSTER, FMQ_ACL_CLUSTER_NAME,
			sizeof(FMQ_ACL_CLUSTER_NAME) - 1, FMQ_ACL_OP_CREATE) ||
		auth_topic(auth, name, len, FMQ_ACL_OP_CREATE);
}

/* Would this request auto-create a missing topic (config and request
 * allowing it)? */
static bool
auto_create_on(const struct fmq_broker *b, int16_t version,
	       const struct fmq_kafka_metadata_req *req)
{
	return b->auto_create &&
		(version < 4 || req->allow_auto_topic_creation);
}

bool
fmq_broker_metadata_wants_create(const struct fmq_broker *b,
				 const struct fmq_bmeta *m, int16_t version,
				 const struct fmq_kafka_metadata_req *req,
				 const struct fmq_bauth *auth)
{
	struct fmq_bauth quiet;

	if (req->topics_count <= 0 || !auto_create_on(b, version, req))
		return false;
	/* Decided again when answering: not counted twice. */
	if (auth != NULL) {
		quiet = *auth;
		quiet.st = NULL;
		auth = &quiet;
	}
	for (int32_t i = 0; i < req->topics_count; i++) {
		const struct fmq_kafka_str *n = &req->topics[i].name;
		if (n->len < 0)
			continue;   /* by topic id: never created */
		if (topic_name_legal(n->p, n->len) &&
		    fmq_bmeta_find(m, n->p, (uint32_t)n->len) == NULL &&
		    auth_topic(auth, n->p, (size_t)n->len, FMQ_ACL_OP_DESCRIBE))
			return true;
	}
	return false;
}

/* A partition in cluster mode: leader, replicas, ISR from the snapshot;
 * replicas on brokers that are not live are offline, and a partition
 * without a live leader answers LEADER_NOT_AVAILABLE (clients retry). */
static int
cluster_part(const struct fmq_bmeta *m, const struct fmq_bpart *bp,
	     struct fmq_kafka_arena *a,
	     struct fmq_kafka_metadata_resp_metadata_response_partition *pp)
{
	int32_t *off = fmq_kafka_arena_alloc(a, (bp->nreplicas + 1u) *
					     sizeof(*off));
	int32_t noff = 0;

	if (off == NULL)
		return -ENOMEM;
	for (uint16_t r = 0; r < bp->nreplicas; r++)
		if (fmq_bmeta_broker(m, bp->replicas[r]) == NULL)
			off[noff++] = bp->replicas[r];
	pp->leader_id = bp->leader >= 0 &&
		fmq_bmeta_broker(m, bp->leader) != NULL ? bp->leader : -1;
	pp->error_code = pp->leader_id < 0 ?
		FMQ_KERR_LEADER_NOT_AVAILABLE : 0;
	pp->leader_epoch = bp->leader_epoch;
	pp->replica_nodes = (int32_t *)(uintptr_t)bp->replicas;
	pp->replica_nodes_count = bp->nreplicas;
	pp->isr_nodes = (int32_t *)(uintptr_t)bp->isr;
	pp->isr_nodes_count = bp->nisr;
	pp->offline_replicas = off;
	pp->offline_replicas_count = noff;
	return 0;
}

/* The endpoint broker br advertises for listener l's name (its first
 * endpoint when it has none by that name). */
static void
cluster_ep(const struct fmq_bbroker *br, const struct fmq_listener *l,
	   struct fmq_kafka_str *host, int32_t *port)
{
	uint32_t e = 0;

	for (uint32_t i = 0; i < br->nep; i++)
		if (strcmp(br->ep[i].name, l->name) == 0)
			e = i;
	*host = fmq_kafka_str(br->ep[e].host);
	*port = br->ep[e].port;
}

static int
fill_topic(const struct fmq_broker *b, const struct fmq_bmeta *m,
	   const struct fmq_btopic *t,
	   struct fmq_kafka_arena *a, int32_t ops,
	   struct fmq_kafka_metadata_resp_metadata_response_topic *out)
{
	out->error_code = 0;
	out->name.p = t->name;
	out->name.len = t->name_len;
	memcpy(out->topic_id.b, t->id, 16);
	out->is_internal = false;
	out->topic_authorized_operations = ops;
	out->partitions = fmq_kafka_arena_alloc(a, t->nparts *
						sizeof(*out->partitions));
	int32_t *node = fmq_kafka_arena_alloc(a, sizeof(*node));
	if (out->partitions == NULL || node == NULL)
		return -ENOMEM;
	*node = b->node_id;
	out->partitions_count = (int32_t)t->nparts;
	for (uint32_t p = 0; p < t->nparts; p++) {
		struct fmq_kafka_metadata_resp_metadata_response_partition *pp =
			&out->partitions[p];
		if (m->nbrokers > 0) {
			if (cluster_part(m, &t->parts[p], a, pp) < 0)
				return -ENOMEM;
			pp->partition_index = (int32_t)p;
			continue;
		}
		pp->error_code = 0;
		pp->partition_index = (int32_t)p;
		pp->leader_id = b->node_id;
		pp->leader_epoch = t->parts[p].leader_epoch;
		pp->replica_nodes = node;
		pp->replica_nodes_count = 1;
		pp->isr_nodes = node;
		pp->isr_nodes_count = 1;
		pp->offline_replicas = NULL;
		pp->offline_replicas_count = 0;
	}
	return 0;
}

static const struct fmq_btopic *
find_by_id(const struct fmq_bmeta *m, const struct fmq_kafka_uuid *id)
{
	for (uint32_t i = 0; i < m->ntopics; i++)
		if (memcmp(m->topics[i].id, id->b, 16) == 0)
			return &m->topics[i];
	return NULL;
}

/* The topic's authorized operations when the request asks for them. */
static int32_t
topic_ops(const struct fmq_bauth *auth, bool want, const char *name,
	  size_t len)
{
	if (!want)
		return INT32_MIN;
	if (auth == NULL)
		return fmq_acl_authorized_ops(NULL, NULL, 0, FMQ_ACL_RES_TOPIC,
					      name, len);
	return fmq_acl_authorized_ops(auth->db, auth->principal,
				      auth->client_ip, FMQ_ACL_RES_TOPIC,
				      name, len);
}

int
fmq_broker_build_metadata(const struct fmq_broker *b, uint32_t listener,
			  const struct fmq_bmeta *m, int16_t version,
			  const struct fmq_kafka_metadata_req *req,
			  const struct fmq_bauth *auth,
			  struct fmq_kafka_arena *a,
			  struct fmq_kafka_metadata_resp *resp)
{
	struct fmq_kafka_metadata_resp_metadata_response_broker *br;
	const struct fmq_listener *l = fmq_broker_listener(b, listener);
	bool want_ops = version >= 8 &&
		req->include_topic_authorized_operations;
	bool all;

	fmq_kafka_init_response(FMQ_KAFKA_API_METADATA, version, resp);
	br = fmq_kafka_arena_alloc(a, sizeof(*br));
	if (br == NULL)
		return -ENOMEM;
	br->node_id = b->node_id;
	br->host = fmq_kafka_str(l->adv_host);
	br->port = l->adv_port;
	br->rack = FMQ_KAFKA_STR_NULL;
	resp->brokers = br;
	resp->brokers_count = 1;
	resp->cluster_id = fmq_kafka_str(b->cluster_id);
	resp->controller_id = b->node_id;
	if (m->nbrokers > 0) {
		br = fmq_kafka_arena_alloc(a, m->nbrokers * sizeof(*br));
		if (br == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < m->nbrokers; i++) {
			br[i].node_id = m->brokers[i].id;
			cluster_ep(&m->brokers[i], l, &br[i].host,
				   &br[i].port);
			br[i].rack = m->brokers[i].rack[0] != '\0' ?
				fmq_kafka_str(m->brokers[i].rack) :
				FMQ_KAFKA_STR_NULL;
		}
		resp->brokers = br;
		resp->brokers_count = (int32_t)m->nbrokers;
		resp->controller_id = m->controller_id;
	}
	resp->cluster_authorized_operations = INT32_MIN;
	if (version >= 8 && version <= 10 &&
	    req->include_cluster_authorized_operations)
		resp->cluster_authorized_operations = !auth_dec(auth,
			FMQ_ACL_RES_CLUSTER, FMQ_ACL_CLUSTER_NAME,
			sizeof(FMQ_ACL_CLUSTER_NAME) - 1, FMQ_ACL_OP_DESCRIBE) ?
			0 : fmq_acl_authorized_ops(
			auth != NULL ? auth->db : NULL,
			auth != NULL ? auth->principal : NULL,
			auth != NULL ? auth->client_ip : 0,
			FMQ_ACL_RES_CLUSTER, FMQ_ACL_CLUSTER_NAME,
			sizeof(FMQ_ACL_CLUSTER_NAME) - 1);
	/* v0: an empty list means all topics; v1+: null means all. */
	all = req->topics_count < 0 || (version == 0 && req->topics_count == 0);
	if (all) {
		resp->topics = fmq_kafka_arena_alloc(a, (m->ntopics ? m->ntopics : 1) *
						     sizeof(*resp->topics));
		if (resp->topics == NULL)
			return -ENOMEM;
		resp->topics_count = 0;
		for (uint32_t i = 0; i < m->ntopics; i++) {
			const struct fmq_btopic *t = &m->topics[i];

			/* Kafka leaves out what the client may not see. */
			if (!auth_topic(auth, t->name, t->name_len,
					FMQ_ACL_OP_DESCRIBE))
				continue;
			if (fill_topic(b, m, t, a, topic_ops(auth, want_ops,
				       t->name, t->name_len),
				       &resp->topics[resp->topics_count++]) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	resp->topics_count = req->topics_count;
	resp->topics = fmq_kafka_arena_alloc(a, (req->topics_count ? req->topics_count : 1) *
					     sizeof(*resp->topics));
	if (resp->topics == NULL)
		return -ENOMEM;
	for (int32_t i = 0; i < req->topics_count; i++) {
		const struct fmq_kafka_metadata_req_metadata_request_topic *rt =
			&req->topics[i];
		struct fmq_kafka_metadata_resp_metadata_response_topic *ot =
			&resp->topics[i];
		const struct fmq_btopic *t;
		bool legal = rt->name.len >= 0 &&
			topic_name_legal(rt->name.p, rt->name.len);

		if (rt->name.len >= 0)
			t = fmq_bmeta_find(m, rt->name.p, (uint32_t)rt->name.len);
		else
			t = find_by_id(m, &rt->topic_id);
		ot->name = rt->name;
		ot->topic_id = rt->topic_id;
		ot->partitions = NULL;
		ot->partitions_count = 0;
		ot->is_internal = false;
		ot->topic_authorized_operations = want_ops ? 0 : INT32_MIN;
		/* Not disclosed, existing or not, to who may not DESCRIBE;
		 * nor created for who may not CREATE. */
		if ((t != NULL && !auth_topic(auth, t->name, t->name_len,
					      FMQ_ACL_OP_DESCRIBE)) ||
		    (t == NULL && rt->name.len >= 0 &&
		     (!auth_topic(auth, rt->name.p, (size_t)rt->name.len,
				  FMQ_ACL_OP_DESCRIBE) ||
		      (legal && auto_create_on(b, version, req) &&
		       !auth_create(auth, rt->name.p,
				    (size_t)rt->name.len))))) {
			ot->error_code = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		if (t != NULL) {
			if (fill_topic(b, m, t, a, topic_ops(auth, want_ops,
				       t->name, t->name_len), ot) < 0)
				return -ENOMEM;
			continue;
		}
		ot->topic_authorized_operations = INT32_MIN;
		ot->error_code = (rt->name.len >= 0 && !legal) ?
			FMQ_KERR_INVALID_TOPIC_EXCEPTION :
			rt->name.len >= 0 ? FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION :
			FMQ_KERR_UNKNOWN_TOPIC_ID;
	}
	return 0;
}

static int
api_metadata(struct req_ctx *rc)
{
	struct fmq_kafka_metadata_req *req;
	struct fmq_kafka_metadata_resp *resp;
	int st = 0;

	req = api_decode_body(rc, &st);
	if (req == NULL)
		return st;
	struct fmq_bauth auth = { req_acl(rc), &rc->k->principal,
				  rc->k->client_ip, &rc->bl->st.acl };
	/* Creating topics is the control lcore's job: it answers. */
	if (fmq_broker_metadata_wants_create(rc->bl->b, rc->meta,
					     rc->hdr->api_version, req, &auth))
		return api_forward(rc);
	resp = fmq_kafka_arena_alloc(&rc->bl->arena, sizeof(*resp));
	if (resp == NULL || fmq_broker_build_metadata(rc->bl->b,
			rc->k->listener, rc->meta, rc->hdr->api_version, req,
			&auth, &rc->bl->arena, resp) < 0)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	for (int32_t i = 0; i < resp->topics_count; i++)
		count_error(rc->bl, resp->topics[i].error_code);
	return api_respond(rc, resp);
}

static int
api_describe_cluster(struct req_ctx *rc)
{
	struct fmq_kafka_describe_cluster_resp resp;
	struct fmq_kafka_describe_cluster_resp_describe_cluster_broker br;
	struct fmq_broker *b = rc->bl->b;
	const struct fmq_listener *l = fmq_broker_listener(b, rc->k->listener);
	int st = 0;

	struct fmq_kafka_describe_cluster_req *req = api_decode_body(rc, &st);

	if (req == NULL)
		return st;
	fmq_kafka_init_response(FMQ_KAFKA_API_DESCRIBE_CLUSTER,
				rc->hdr->api_version, &resp);
	br.broker_id = b->node_id;
	br.host = fmq_kafka_str(l->adv_host);
	br.port = l->adv_port;
	br.rack = FMQ_KAFKA_STR_NULL;
	br.unknown_tags = NULL;
	br.n_unknown_tags = 0;
	resp.error_code = 0;
	resp.error_message = FMQ_KAFKA_STR_NULL;
	resp.cluster_id = fmq_kafka_str(b->cluster_id);
	resp.controller_id = b->node_id;
	resp.brokers = &br;
	resp.brokers_count = 1;
	/* Kafka answers everyone; who may not DESCRIBE the cluster sees
	 * no operations (0) when it asks for them. */
	resp.cluster_authorized_operations = INT32_MIN;
	if (rc->meta->nbrokers > 0) {
		const struct fmq_bmeta *m = rc->meta;
		struct fmq_kafka_describe_cluster_resp_describe_cluster_broker
			*all = fmq_kafka_arena_alloc(&rc->bl->arena,
						     m->nbrokers *
						     sizeof(*all));
		if (all == NULL)
			return REQ_CLOSE(BROKER_CLOSE_NOMEM);
		for (uint32_t i = 0; i < m->nbrokers; i++) {
			all[i] = br;
			all[i].broker_id = m->brokers[i].id;
			cluster_ep(&m->brokers[i], l, &all[i].host,
				   &all[i].port);
			all[i].rack = m->brokers[i].rack[0] != '\0' ?
				fmq_kafka_str(m->brokers[i].rack) :
				FMQ_KAFKA_STR_NULL;
		}
		resp.brokers = all;
		resp.brokers_count = (int32_t)m->nbrokers;
		resp.controller_id = m->controller_id;
	}
	if (req->include_cluster_authorized_operations)
		resp.cluster_authorized_operations =
			!req_allow_cluster(rc, FMQ_ACL_OP_DESCRIBE) ? 0 :
			fmq_acl_authorized_ops(req_acl(rc), &rc->k->principal,
				rc->k->client_ip, FMQ_ACL_RES_CLUSTER,
				FMQ_ACL_CLUSTER_NAME,
				sizeof(FMQ_ACL_CLUSTER_NAME) - 1);
	return api_respond(rc, &resp);
}

/* Copy the current frame (header + body, no size prefix) out of the
 * connection's segments. */
static int
copy_frame(struct req_ctx *rc, uint8_t *dst)
{
	struct fmq_kafka_reader r;

	if (fmq_kafka_rd_init(&r, rc->bl->segs, rc->nseg, 4,
			      rc->frame_len - 4) < 0)
		return -EINVAL;
	return fmq_kafka_rd_raw(&r, dst, rc->frame_len - 4);
}

int
api_forward(struct req_ctx *rc)
{
	struct fmq_broker_lcore *bl = rc->bl;
	struct fmq_bfwd *f;

	if (rte_ring_full(bl->to_ctrl)) {
		bl->st.fwd_ring_full++;
		return REQ_RETRY;
	}
	f = rte_zmalloc("fmq_fwd", sizeof(*f), 0);
	if (f == NULL)
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	f->frame = rte_malloc("fmq_fwd_frame", rc->frame_len, 0);
	if (f->frame == NULL || copy_frame(rc, f->frame) < 0) {
		fmq_bfwd_free(f);
		return REQ_CLOSE(BROKER_CLOSE_NOMEM);
	}
	f->lcore = (uint16_t)bl->idx;
	f->conn = rc->k->idx;
	f->gen = rc->k->gen;
	f->slot = rc->slot;
	f->api_key = rc->hdr->api_key;
	f->api_version = rc->hdr->api_version;
	f->correlation_id = rc->hdr->correlation_id;
	f->client_ip = rc->k->client_ip;
	f->client_port = rc->k->client_port;
	f->principal = rc->k->principal;
	f->listener = rc->k->listener;
	f->len = rc->frame_len - 4;
	if (rte_ring_enqueue(bl->to_ctrl, f) != 0) {
		fmq_bfwd_free(f);
		bl->st.fwd_ring_full++;
		return REQ_RETRY;
	}
	bl->st.forwarded++;
	/* Wake the control lcore (control path only: one write). */
	uint64_t one = 1;
	ssize_t wr = write(bl->b->wake_fd, &one, sizeof(one));
	(void)wr;   /* a full counter already means "wake up" */
	return REQ_PARK;
}

int
api_dispatch(struct req_ctx *rc)
{
	switch (rc->hdr->api_key) {
	case FMQ_KAFKA_API_API_VERSIONS:
		return api_versions(rc);
	case FMQ_KAFKA_API_METADATA:
		return api_metadata(rc);
	case FMQ_KAFKA_API_PRODUCE:
		return api_produce(rc);
	case FMQ_KAFKA_API_FETCH:
		return api_fetch(rc, false, 0);
	case FMQ_KAFKA_API_LIST_OFFSETS:
		return api_list_offsets(rc);
	case FMQ_KAFKA_API_OFFSET_FOR_LEADER_EPOCH:
		return api_offset_for_leader_epoch(rc);
	case FMQ_KAFKA_API_DESCRIBE_CLUSTER:
		return api_describe_cluster(rc);
	case FMQ_KAFKA_API_DESCRIBE_PRODUCERS:
		return api_describe_producers(rc);
	case FMQ_KAFKA_API_SASL_HANDSHAKE:
	case FMQ_KAFKA_API_SASL_AUTHENTICATE:
		/* A SASL listener's gate serves these itself. */
		return broker_sasl_off(rc);
	default:
		/* Topic admin, configs, groups, producer ids. */
		return api_forward(rc);
	}
}
