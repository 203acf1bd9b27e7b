/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kafka group APIs on the control lcore (lib/ctrl/ctrl_groups_api.c)
 * against the real coordinator and topic registry, over the wire format:
 * each request is encoded as a client would at a given version, decoded the
 * way ctrl_core.c does, handed to ctrl_groups_handle(), and the encoded
 * answer is decoded again at that version. Checks Kafka's error codes for
 * bad input (unknown topics, stale generations, unknown members, rebalance
 * in progress, fenced instances), the level each version puts errors at,
 * commits answered only after the journal flush, and exactly one answer per
 * request (also when the coordinator shuts down with requests parked).
 *
 * ctrl_core.c and the broker are replaced by the small fakes below: the
 * answer path (ctrl_respond / ctrl_close_conn) and the advertised address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <CUnit/CUnit.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "harness.h"

/* Kafka error codes (Errors.java). */
enum {
	E_NONE = 0, E_UNKNOWN_TOPIC = 3, E_COORD_NOT_AVAILABLE = 15,
	E_NOT_COORDINATOR = 16, E_ILLEGAL_GENERATION = 22,
	E_INCONSISTENT_PROTOCOL = 23, E_UNKNOWN_MEMBER = 25,
	E_REBALANCE = 27, E_INVALID_REQUEST = 42, E_NON_EMPTY_GROUP = 68,
	E_GROUP_NOT_FOUND = 69, E_MEMBER_ID_REQUIRED = 79,
	E_FENCED_INSTANCE = 82, E_SUBSCRIBED = 86,
};

#define ARENA_BYTES (1u << 20)

/* One forwarded request and what the ctrl lcore did with it. */
struct tfwd {
	struct fmq_bfwd f;          /* first: the token points here */
	uint8_t frame[64 * 1024];
	int answers;                /* ctrl_respond calls */
	int closes;                 /* ctrl_close_conn calls */
	union fmq_kafka_response resp;
	struct fmq_kafka_arena arena;
	uint8_t *arena_buf;
};

static struct fmq_config cfg;
static struct fmq_ctrl C;
static char dir[] = "/tmp/fmq-groups-api-XXXXXX";
static int32_t next_corr = 1;

/* ------------------------------------------------------------------ fakes */

int
ctrl_respond(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *body)
{
	struct tfwd *t = (struct tfwd *)f;
	static uint8_t out[1 << 20];
	struct fmq_kafka_piece pieces[256];
	struct fmq_kafka_writer w;
	struct fmq_kafka_reader r;
	struct fmq_kafka_seg seg;
	uint32_t pos = 0;
	int32_t corr = 0;
	int n;

	(void)c;
	t->answers++;
	fmq_kafka_wr_init(&w, out, sizeof(out), pieces, 256);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_write_response(&w, f->api_key,
		f->api_version, f->correlation_id, body, NULL), 0);
	n = fmq_kafka_wr_finish(&w);
	CU_ASSERT_FATAL(n > 0);
	/* Everything is copied (no records): one contiguous output. */
	for (int i = 0; i < n; i++)
		pos += pieces[i].len;
	seg.p = out + 4;
	seg.len = pos - 4;
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_rd_init(&r, &seg, 1, 0, seg.len), 0);
	fmq_kafka_arena_reset(&t->arena);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_read_response(&r, f->api_key,
		f->api_version, &t->arena, &corr, &t->resp), 0);
	CU_ASSERT_EQUAL(corr, f->correlation_id);
	return 0;
}

void
ctrl_close_conn(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	(void)c;
	((struct tfwd *)f)->closes++;
}

struct ctrl_topic *
ctrl_topic_find(struct fmq_ctrl *c, const char *name)
{
	(void)c;
	(void)name;
	return NULL;
}

/* The authorizer (ctrl_acl.c): everything allowed except the resource
 * named by deny_type/deny_name (a test sets them). */
static int deny_type = -1;
static const char *deny_name;

bool
ctrl_acl_allow(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	       enum fmq_acl_res res, const char *name, size_t len,
	       enum fmq_acl_op op)
{
	(void)c;
	(void)f;
	(void)op;
	return !((int)res == deny_type && deny_name != NULL &&
		 strlen(deny_name) == len && memcmp(deny_name, name, len) == 0);
}

bool
ctrl_acl_cluster(struct fmq_ctrl *c, const struct fmq_bfwd *f,
		 enum fmq_acl_op op)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_CLUSTER, "kafka-cluster", 13,
			      op);
}

int32_t
ctrl_acl_ops(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	     enum fmq_acl_res res, const char *name, size_t len)
{
	(void)c;
	(void)f;
	(void)res;
	(void)name;
	(void)len;
	return (1 << 3) | (1 << 6) | (1 << 8);
}

int32_t
fmq_broker_node_id(const struct fmq_broker *b)
{
	(void)b;
	return 7;
}

/* ctrl_zk.c without a cluster (c->cl stays NULL here): this broker. */
int32_t
ctrl_zk_coordinator(struct fmq_ctrl *c, const char *key, int32_t len,
		    const struct fmq_listener *l, struct fmq_kafka_str *host,
		    int32_t *port)
{
	(void)key;
	(void)len;
	*host = fmq_kafka_str(l->adv_host);
	*port = l->adv_port;
	return fmq_broker_node_id(c->b);
}

/* ctrl_zkoff.c without a cluster: the journal, every group served. */
const struct fmq_group_store *
ctrl_zkoff_open(struct fmq_ctrl *c, void **arg)
{
	(void)c;
	*arg = NULL;
	return NULL;
}

int16_t
ctrl_zkoff_gate(struct fmq_ctrl *c, const char *id, int32_t len)
{
	(void)c;
	(void)id;
	(void)len;
	return 0;
}

void
ctrl_zkoff_poll(struct fmq_ctrl *c)
{
	(void)c;
}

void
ctrl_zkoff_close(struct fmq_ctrl *c)
{
	(void)c;
}

/* Two listeners: requests name the second, which FindCoordinator must
 * advertise (not the first). */
const struct fmq_listener *
fmq_broker_listener(const struct fmq_broker *b, uint32_t idx)
{
	static const struct fmq_listener l[2] = {
		{ .name = "PLAINTEXT", .port = 9093, .adv_host = "10.0.0.3",
		  .adv_port = 9093 },
		{ .name = "SASL_SSL", .port = 9092, .adv_host = "10.0.0.2",
		  .adv_port = 9092 },
	};
	(void)b;
	return &l[idx == 1];
}

/* --------------------------------------------------------------- harness */

static struct tfwd *
tf_new(void)
{
	struct tfwd *t = calloc(1, sizeof(*t));

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	t->arena_buf = malloc(ARENA_BYTES);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->arena_buf);
	fmq_kafka_arena_init(&t->arena, t->arena_buf, ARENA_BYTES);
	return t;
}

static void
tf_free(struct tfwd *t)
{
	if (t == NULL)
		return;
	/* Every request gets exactly one answer. */
	CU_ASSERT_EQUAL(t->answers + t->closes, 1);
	free(t->arena_buf);
	free(t);
}

static void
poll_groups(void)
{
	ctrl_groups_poll(&C, fmq_wall_ms());
}

/* Send body as API api at version v, the way a client and ctrl_core.c do. */
static struct tfwd *
send_req(int16_t api, int16_t v, void *body)
{
	struct tfwd *t = tf_new();
	struct fmq_kafka_piece pieces[64];
	struct fmq_kafka_writer w;
	struct fmq_kafka_reader r;
	struct fmq_kafka_req_hdr hdr;
	struct fmq_kafka_seg seg;
	union fmq_kafka_request *req;
	uint32_t len = 0;
	int n;

	fmq_kafka_wr_init(&w, t->frame, sizeof(t->frame), pieces, 64);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_write_request(&w, api, v, next_corr,
		FMQ_KAFKA_STR_LIT("test-client"), body), 0);
	n = fmq_kafka_wr_finish(&w);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	len = pieces[0].len;
	t->f.api_key = api;
	t->f.api_version = v;
	t->f.correlation_id = next_corr++;
	t->f.client_ip = inet_addr("10.1.2.3");
	t->f.listener = 1;
	t->f.frame = t->frame + 4;
	t->f.len = len - 4;
	/* As ctrl_core.c's handle(). */
	fmq_kafka_arena_reset(&C.arena);
	seg.p = t->f.frame;
	seg.len = t->f.len;
	req = fmq_kafka_arena_alloc(&C.arena, sizeof(*req));
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_rd_init(&r, &seg, 1, 0, seg.len), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_rd_req_hdr(&r,
		fmq_kafka_req_hdr_version(api, v), &C.arena, &hdr), 0);
	CU_ASSERT_EQUAL_FATAL(fmq_kafka_decode_request(api, v, &r, &C.arena,
						       req), 0);
	CU_ASSERT_TRUE(ctrl_groups_handle(&C, &t->f, &hdr, req));
	return t;
}

static bool
str_is(struct fmq_kafka_str s, const char *want)
{
	return s.len >= 0 && (size_t)s.len == strlen(want) &&
		memcmp(s.p, want, (size_t)s.len) == 0;
}

static void
str_copy(char *dst, size_t cap, struct fmq_kafka_str s)
{
	size_t n = s.len > 0 ? (size_t)s.len : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* Consumer protocol subscription (version 0): topics, no user data. */
static struct fmq_kafka_bytes
subscription(uint8_t *buf, const char *const *topics, int n)
{
	size_t k = 0;

	buf[k++] = 0;
	buf[k++] = 0;
	buf[k++] = 0;
	buf[k++] = 0;
	buf[k++] = 0;
	buf[k++] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(topics[i]);

		buf[k++] = (uint8_t)(l >> 8);
		buf[k++] = (uint8_t)l;
		memcpy(buf + k, topics[i], l);
		k += l;
	}
	memset(buf + k, 0xff, 4);   /* null user data */
	k += 4;
	return (struct fmq_kafka_bytes){ buf, (int32_t)k };
}

/* ------------------------------------------------------- request helpers */

static uint8_t sub_orders[64];

static struct tfwd *
join(int16_t v, const char *gid, const char *mid, const char *iid,
     const char *proto, int32_t session_ms)
{
	struct fmq_kafka_join_group_req req;
	struct fmq_kafka_join_group_req_join_group_request_protocol p;
	static const char *const topics[] = { "orders" };

	fmq_kafka_init_request(FMQ_KAFKA_API_JOIN_GROUP, v, &req);
	memset(&p, 0, sizeof(p));
	p.name = fmq_kafka_str(proto);
	p.metadata = subscription(sub_orders, topics, 1);
	req.group_id = fmq_kafka_str(gid);
	req.session_timeout_ms = session_ms;
	req.rebalance_timeout_ms = 2000;
	req.member_id = fmq_kafka_str(mid);
	req.group_instance_id = iid ? fmq_kafka_str(iid) : FMQ_KAFKA_STR_NULL;
	req.protocol_type = FMQ_KAFKA_STR_LIT("consumer");
	req.protocols = &p;
	req.protocols_count = 1;
	return send_req(FMQ_KAFKA_API_JOIN_GROUP, v, &req);
}

static struct tfwd *
sync_grp(int16_t v, const char *gid, int32_t gen, const char *mid,
	 const char *const *assign_to, const char *const *assign, int n)
{
	struct fmq_kafka_sync_group_req req;
	struct fmq_kafka_sync_group_req_sync_group_request_assignment a[4];

	fmq_kafka_init_request(FMQ_KAFKA_API_SYNC_GROUP, v, &req);
	memset(a, 0, sizeof(a));
	for (int i = 0; i < n; i++) {
		a[i].member_id = fmq_kafka_str(assign_to[i]);
		a[i].assignment.p = (const uint8_t *)assign[i];
		a[i].assignment.len = (int32_t)strlen(assign[i]);
	}
	req.group_id = fmq_kafka_str(gid);
	req.generation_id = gen;
	req.member_id = fmq_kafka_str(mid);
	req.protocol_type = FMQ_KAFKA_STR_LIT("consumer");
	req.protocol_name = FMQ_KAFKA_STR_LIT("range");
	req.assignments = a;
	req.assignments_count = n;
	return send_req(FMQ_KAFKA_API_SYNC_GROUP, v, &req);
}

static int16_t
heartbeat(int16_t v, const char *gid, int32_t gen, const char *mid,
	  const char *iid)
{
	struct fmq_kafka_heartbeat_req req;
	struct tfwd *t;
	int16_t e;

	fmq_kafka_init_request(FMQ_KAFKA_API_HEARTBEAT, v, &req);
	req.group_id = fmq_kafka_str(gid);
	req.generation_id = gen;
	req.member_id = fmq_kafka_str(mid);
	req.group_instance_id = iid ? fmq_kafka_str(iid) : FMQ_KAFKA_STR_NULL;
	t = send_req(FMQ_KAFKA_API_HEARTBEAT, v, &req);
	CU_ASSERT_EQUAL(t->answers, 1);
	e = t->answers == 1 ? t->resp.heartbeat.error_code : -1;
	tf_free(t);
	return e;
}

/* OffsetCommit of (topic, partition, offset) triples. */
struct cpart {
	const char *topic;
	int32_t partition;
	int64_t offset;
};

static struct tfwd *
commit(int16_t v, const char *gid, int32_t gen, const char *mid,
       const struct cpart *parts, int n)
{
	struct fmq_kafka_offset_commit_req req;
	struct fmq_kafka_offset_commit_req_offset_commit_request_topic t[8];
	struct fmq_kafka_offset_commit_req_offset_commit_request_partition p[16];
	int nt = 0;

	fmq_kafka_init_request(FMQ_KAFKA_API_OFFSET_COMMIT, v, &req);
	memset(t, 0, sizeof(t));
	memset(p, 0, sizeof(p));
	for (int i = 0; i < n; i++) {
		if (i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0) {
			t[nt].name = fmq_kafka_str(parts[i].topic);
			t[nt].partitions = &p[i];
			nt++;
		}
		t[nt - 1].partitions_count++;
		p[i].partition_index = parts[i].partition;
		p[i].committed_offset = parts[i].offset;
		p[i].committed_leader_epoch = 5;
		p[i].commit_timestamp = -1;
		p[i].committed_metadata = FMQ_KAFKA_STR_LIT("m");
	}
	req.group_id = fmq_kafka_str(gid);
	req.generation_id_or_member_epoch = gen;
	req.member_id = fmq_kafka_str(mid);
	req.topics = t;
	req.topics_count = nt;
	return send_req(FMQ_KAFKA_API_OFFSET_COMMIT, v, &req);
}

/* Error of partition (topic, p) in an OffsetCommit answer, -1 if absent. */
static int
commit_err(const struct tfwd *t, const char *topic, int32_t p)
{
	const struct fmq_kafka_offset_commit_resp *r = &t->resp.offset_commit;

	for (int32_t i = 0; i < r->topics_count; i++) {
		if (!str_is(r->topics[i].name, topic))
			continue;
		for (int32_t k = 0; k < r->topics[i].partitions_count; k++)
			if (r->topics[i].partitions[k].partition_index == p)
				return r->topics[i].partitions[k].error_code;
	}
	return -1;
}

/* OffsetFetch v0-v7 of one topic's partitions (n < 0: all). */
static struct tfwd *
fetch(int16_t v, const char *gid, const char *topic, const int32_t *parts,
      int n)
{
	struct fmq_kafka_offset_fetch_req req;
	struct fmq_kafka_offset_fetch_req_offset_fetch_request_topic t;

	fmq_kafka_init_request(FMQ_KAFKA_API_OFFSET_FETCH, v, &req);
	memset(&t, 0, sizeof(t));
	t.name = fmq_kafka_str(topic);
	t.partition_indexes = (int32_t *)parts;
	t.partition_indexes_count = n;
	req.group_id = fmq_kafka_str(gid);
	req.topics = n < 0 ? NULL : &t;
	req.topics_count = n < 0 ? -1 : 1;
	return send_req(FMQ_KAFKA_API_OFFSET_FETCH, v, &req);
}

static struct tfwd *
leave_v3(int16_t v, const char *gid, const char *const *mids, int n)
{
	struct fmq_kafka_leave_group_req req;
	struct fmq_kafka_leave_group_req_member_identity m[4];

	fmq_kafka_init_request(FMQ_KAFKA_API_LEAVE_GROUP, v, &req);
	memset(m, 0, sizeof(m));
	for (int i = 0; i < n; i++) {
		m[i].member_id = fmq_kafka_str(mids[i]);
		m[i].group_instance_id = FMQ_KAFKA_STR_NULL;
		m[i].reason = FMQ_KAFKA_STR_NULL;
	}
	req.group_id = fmq_kafka_str(gid);
	req.members = m;
	req.members_count = n;
	return send_req(FMQ_KAFKA_API_LEAVE_GROUP, v, &req);
}

static int16_t
leave_v1(const char *gid, const char *mid)
{
	struct fmq_kafka_leave_group_req req;
	struct tfwd *t;
	int16_t e;

	fmq_kafka_init_request(FMQ_KAFKA_API_LEAVE_GROUP, 1, &req);
	req.group_id = fmq_kafka_str(gid);
	req.member_id = fmq_kafka_str(mid);
	t = send_req(FMQ_KAFKA_API_LEAVE_GROUP, 1, &req);
	CU_ASSERT_EQUAL(t->answers, 1);
	e = t->answers == 1 ? t->resp.leave_group.error_code : -1;
	tf_free(t);
	return e;
}

/* A dynamic member joins alone with v5 (KIP-394 round trip) and syncs; the
 * group is then Stable at the returned generation with member id mid. */
static int32_t
lone_member(const char *gid, char *mid, size_t cap)
{
	struct tfwd *t = join(5, gid, "", NULL, "range", 10000);
	static const char *const assign[] = { "A0" };
	const char *to[1];
	int32_t gen;

	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL_FATAL(t->resp.join_group.error_code,
			      E_MEMBER_ID_REQUIRED);
	str_copy(mid, cap, t->resp.join_group.member_id);
	CU_ASSERT_TRUE(strncmp(mid, "test-client-", 12) == 0);
	tf_free(t);
	t = join(5, gid, mid, NULL, "range", 10000);
	poll_groups();   /* the initial delay (0 here) runs in the tick */
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL_FATAL(t->resp.join_group.error_code, 0);
	gen = t->resp.join_group.generation_id;
	tf_free(t);
	to[0] = mid;
	t = sync_grp(3, gid, gen, mid, to, assign, 1);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.sync_group.error_code, 0);
	tf_free(t);
	return gen;
}

/* ----------------------------------------------------------------- setup */

static int
suite_init(void)
{
	struct fmq_topic_cfg dflt;
	char err[256], msg[256];
	const struct fmq_topic *tp;

	if (mkdtemp(dir) == NULL)
		return -1;
	fmq_config_defaults(&cfg);
	cfg.group_initial_rebalance_delay_ms = 0;
	cfg.group_min_session_timeout_ms = 10;
	memset(&C, 0, sizeof(C));
	C.cfg = &cfg;
	snprintf(C.dir, sizeof(C.dir), "%s", dir);
	C.arena.base = malloc(ARENA_BYTES);
	if (C.arena.base == NULL)
		return -1;
	fmq_kafka_arena_init(&C.arena, C.arena.base, ARENA_BYTES);
	fmq_tcfg_from_broker(&dflt, &cfg);
	C.topics = fmq_topics_open(dir, 1, &dflt, err, sizeof(err));
	if (C.topics == NULL)
		return -1;
	if (fmq_topics_create(C.topics, "orders", 3, 1, 1, NULL, 0, false,
			      msg, sizeof(msg), &tp) != 0 ||
	    fmq_topics_create(C.topics, "audit", 1, 1, 1, NULL, 0, false,
			      msg, sizeof(msg), &tp) != 0)
		return -1;
	return ctrl_groups_open(&C, err, sizeof(err)) == 0 ? 0 : -1;
}

static int
suite_clean(void)
{
	char cmd[128];

	ctrl_groups_close(&C);
	fmq_topics_close(C.topics);
	free(C.arena.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ----------------------------------------------------------------- tests */

static void
test_find_coordinator(void)
{
	struct fmq_kafka_find_coordinator_req req;
	struct fmq_kafka_str keys[2] = { FMQ_KAFKA_STR_LIT("a"),
					 FMQ_KAFKA_STR_LIT("b") };
	struct tfwd *t;

	for (int16_t v = 0; v <= 3; v++) {
		fmq_kafka_init_request(FMQ_KAFKA_API_FIND_COORDINATOR, v, &req);
		req.key = FMQ_KAFKA_STR_LIT("g");
		t = send_req(FMQ_KAFKA_API_FIND_COORDINATOR, v, &req);
		CU_ASSERT_EQUAL(t->answers, 1);
		CU_ASSERT_EQUAL(t->resp.find_coordinator.error_code, 0);
		CU_ASSERT_EQUAL(t->resp.find_coordinator.node_id, 7);
		CU_ASSERT_TRUE(str_is(t->resp.find_coordinator.host, "10.0.0.2"));
		CU_ASSERT_EQUAL(t->resp.find_coordinator.port, 9092);
		tf_free(t);
	}
	/* Transaction keys: this node coordinates them too. */
	fmq_kafka_init_request(FMQ_KAFKA_API_FIND_COORDINATOR, 2, &req);
	req.key = FMQ_KAFKA_STR_LIT("txn");
	req.key_type = 1;
	t = send_req(FMQ_KAFKA_API_FIND_COORDINATOR, 2, &req);
	CU_ASSERT_EQUAL(t->resp.find_coordinator.error_code, 0);
	CU_ASSERT_EQUAL(t->resp.find_coordinator.node_id, 7);
	tf_free(t);
	/* v4 batches keys. */
	fmq_kafka_init_request(FMQ_KAFKA_API_FIND_COORDINATOR, 4, &req);
	req.coordinator_keys = keys;
	req.coordinator_keys_count = 2;
	t = send_req(FMQ_KAFKA_API_FIND_COORDINATOR, 4, &req);
	CU_ASSERT_EQUAL_FATAL(t->resp.find_coordinator.coordinators_count, 2);
	for (int i = 0; i < 2; i++) {
		const struct fmq_kafka_find_coordinator_resp_coordinator *co =
			&t->resp.find_coordinator.coordinators[i];

		CU_ASSERT_TRUE(str_is(co->key, i ? "b" : "a"));
		CU_ASSERT_EQUAL(co->error_code, 0);
		CU_ASSERT_EQUAL(co->node_id, 7);
		CU_ASSERT_EQUAL(co->port, 9092);
	}
	tf_free(t);
}

/* Join, sync, heartbeat, commit and fetch for one member, and the errors
 * of a stale generation, an unknown member and unknown topics. */
static void
test_member_lifecycle(void)
{
	char mid[128];
	struct tfwd *t;
	int32_t gen = lone_member("g1", mid, sizeof(mid));
	const struct cpart ok[] = { { "orders", 0, 10 }, { "orders", 1, 11 },
				    { "audit", 0, 12 } };
	const struct cpart bad[] = { { "orders", 3, 1 }, { "nope", 0, 1 },
				     { "orders", 2, 13 } };
	const int32_t p01[] = { 0, 1, 2 };

	CU_ASSERT_EQUAL(gen, 1);
	CU_ASSERT_EQUAL(heartbeat(3, "g1", gen, mid, NULL), E_NONE);
	CU_ASSERT_EQUAL(heartbeat(3, "g1", gen - 1, mid, NULL),
			E_ILLEGAL_GENERATION);
	CU_ASSERT_EQUAL(heartbeat(3, "g1", gen + 1, mid, NULL),
			E_ILLEGAL_GENERATION);
	CU_ASSERT_EQUAL(heartbeat(0, "g1", gen, "who", NULL), E_UNKNOWN_MEMBER);
	CU_ASSERT_EQUAL(heartbeat(4, "nogroup", 1, mid, NULL),
			E_UNKNOWN_MEMBER);

	/* A commit is acknowledged only once the journal flush ran. */
	t = commit(7, "g1", gen, mid, ok, 3);
	CU_ASSERT_EQUAL(t->answers, 0);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.offset_commit.topics_count, 2);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 0);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 1), 0);
	CU_ASSERT_EQUAL(commit_err(t, "audit", 0), 0);
	tf_free(t);

	/* Unknown topics and partitions out of range, decided by the
	 * broker; the rest of the request still commits. */
	t = commit(8, "g1", gen, mid, bad, 3);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 3), E_UNKNOWN_TOPIC);
	CU_ASSERT_EQUAL(commit_err(t, "nope", 0), E_UNKNOWN_TOPIC);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 2), 0);
	tf_free(t);

	/* Stale generation, unknown member. */
	t = commit(2, "g1", gen - 1, mid, ok, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), E_ILLEGAL_GENERATION);
	tf_free(t);
	t = commit(2, "g1", gen, "stranger", ok, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), E_UNKNOWN_MEMBER);
	tf_free(t);
	/* A generation this coordinator never had, for an unknown group. */
	t = commit(5, "ghost", 3, "m", ok, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), E_ILLEGAL_GENERATION);
	tf_free(t);

	/* OffsetFetch: v1 and v5 by partition, v7 all partitions. */
	t = fetch(1, "g1", "orders", p01, 3);
	CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.topics_count, 1);
	CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.topics[0].partitions_count, 3);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, 10);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[1].committed_offset, 11);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[2].committed_offset, 13);
	CU_ASSERT_TRUE(str_is(t->resp.offset_fetch.topics[0].partitions[0].metadata, "m"));
	tf_free(t);
	t = fetch(5, "g1", "orders", p01, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_leader_epoch, 5);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.error_code, 0);
	tf_free(t);
	t = fetch(7, "g1", NULL, NULL, -1);
	CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.topics_count, 2);
	/* Sorted by topic, then partition. */
	CU_ASSERT_TRUE(str_is(t->resp.offset_fetch.topics[0].name, "audit"));
	CU_ASSERT_TRUE(str_is(t->resp.offset_fetch.topics[1].name, "orders"));
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[1].partitions_count, 3);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[1].partitions[2].partition_index, 2);
	tf_free(t);
	/* Nothing committed: offset -1, no error. */
	t = fetch(3, "nogroup", "orders", p01, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, -1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].error_code, 0);
	tf_free(t);

	/* v8: several groups in one request. */
	{
		struct fmq_kafka_offset_fetch_req req;
		struct fmq_kafka_offset_fetch_req_offset_fetch_request_group g[2];
		struct fmq_kafka_offset_fetch_req_offset_fetch_request_topics tp;

		fmq_kafka_init_request(FMQ_KAFKA_API_OFFSET_FETCH, 8, &req);
		memset(g, 0, sizeof(g));
		memset(&tp, 0, sizeof(tp));
		tp.name = FMQ_KAFKA_STR_LIT("orders");
		tp.partition_indexes = (int32_t *)p01;
		tp.partition_indexes_count = 2;
		g[0].group_id = FMQ_KAFKA_STR_LIT("g1");
		g[0].topics = &tp;
		g[0].topics_count = 1;
		g[1].group_id = FMQ_KAFKA_STR_LIT("nogroup");
		g[1].topics = NULL;
		g[1].topics_count = -1;
		req.groups = g;
		req.groups_count = 2;
		t = send_req(FMQ_KAFKA_API_OFFSET_FETCH, 8, &req);
		CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.groups_count, 2);
		CU_ASSERT_TRUE(str_is(t->resp.offset_fetch.groups[0].group_id, "g1"));
		CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.groups[0].topics_count, 1);
		CU_ASSERT_EQUAL(t->resp.offset_fetch.groups[0].topics[0].partitions[1].committed_offset, 11);
		CU_ASSERT_EQUAL(t->resp.offset_fetch.groups[1].topics_count, 0);
		CU_ASSERT_EQUAL(t->resp.offset_fetch.groups[1].error_code, 0);
		tf_free(t);
	}

	/* Leaving: v1 answers the member's error at the top level. */
	CU_ASSERT_EQUAL(leave_v1("g1", "stranger"), E_UNKNOWN_MEMBER);
	CU_ASSERT_EQUAL(leave_v1("g1", mid), E_NONE);
	CU_ASSERT_EQUAL(heartbeat(1, "g1", gen, mid, NULL), E_UNKNOWN_MEMBER);
}

/* A second member makes the group rebalance: heartbeats say so, commits of
 * the current generation still count in PreparingRebalance, and are refused
 * in CompletingRebalance. Describe/List show what clients see. */
static void
test_rebalance(void)
{
	char m1[128], m2[128], leader[128], follower[128];
	struct tfwd *t, *j1, *j2, *s1, *s2;
	const struct cpart one[] = { { "orders", 0, 20 } };
	int32_t gen = lone_member("g2", m1, sizeof(m1));
	const char *to[2];
	const char *as[2] = { "AS-one", "AS-two" };

	/* KIP-394: v4 without an id gets MEMBER_ID_REQUIRED first. */
	t = join(4, "g2", "", NULL, "range", 10000);
	CU_ASSERT_EQUAL_FATAL(t->resp.join_group.error_code,
			      E_MEMBER_ID_REQUIRED);
	str_copy(m2, sizeof(m2), t->resp.join_group.member_id);
	tf_free(t);
	j2 = join(4, "g2", m2, NULL, "range", 10000);
	CU_ASSERT_EQUAL(j2->answers, 0);   /* parked: waiting for m1 */
	CU_ASSERT_EQUAL(heartbeat(2, "g2", gen, m1, NULL), E_REBALANCE);

	/* PreparingRebalance: a commit of the current generation counts. */
	t = commit(6, "g2", gen, m1, one, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 0);
	tf_free(t);

	/* DescribeGroups v4 while preparing. */
	{
		struct fmq_kafka_describe_groups_req req;
		struct fmq_kafka_str ids[1] = { FMQ_KAFKA_STR_LIT("g2") };

		fmq_kafka_init_request(FMQ_KAFKA_API_DESCRIBE_GROUPS, 4, &req);
		req.groups = ids;
		req.groups_count = 1;
		t = send_req(FMQ_KAFKA_API_DESCRIBE_GROUPS, 4, &req);
		CU_ASSERT_TRUE(str_is(t->resp.describe_groups.groups[0].group_state,
				      "PreparingRebalance"));
		tf_free(t);
	}

	j1 = join(4, "g2", m1, NULL, "range", 10000);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(j1->answers, 1);
	CU_ASSERT_EQUAL_FATAL(j2->answers, 1);
	CU_ASSERT_EQUAL(j1->resp.join_group.error_code, 0);
	CU_ASSERT_EQUAL(j2->resp.join_group.error_code, 0);
	CU_ASSERT_EQUAL(j1->resp.join_group.generation_id, gen + 1);
	CU_ASSERT_EQUAL(j2->resp.join_group.generation_id, gen + 1);
	CU_ASSERT_TRUE(str_is(j1->resp.join_group.protocol_name, "range"));
	/* The leader alone gets the member list. */
	str_copy(leader, sizeof(leader), j1->resp.join_group.leader);
	CU_ASSERT_STRING_EQUAL(leader, m1);
	CU_ASSERT_EQUAL(j1->resp.join_group.members_count, 2);
	CU_ASSERT_EQUAL(j2->resp.join_group.members_count, 0);
	CU_ASSERT_EQUAL(j1->resp.join_group.members[0].metadata.len,
			(int32_t)(6 + 2 + 6 + 4));
	strcpy(follower, m2);
	tf_free(j1);
	tf_free(j2);
	gen++;

	/* CompletingRebalance: commits wait for the assignment. */
	t = commit(6, "g2", gen, m1, one, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), E_REBALANCE);
	tf_free(t);
	CU_ASSERT_EQUAL(heartbeat(3, "g2", gen, m2, NULL), E_NONE);

	/* Follower first (parked), then the leader's assignment. */
	s2 = sync_grp(5, "g2", gen, follower, NULL, NULL, 0);
	CU_ASSERT_EQUAL(s2->answers, 0);
	to[0] = m1;
	to[1] = m2;
	s1 = sync_grp(5, "g2", gen, leader, to, as, 2);
	CU_ASSERT_EQUAL_FATAL(s1->answers, 1);
	CU_ASSERT_EQUAL_FATAL(s2->answers, 1);
	CU_ASSERT_EQUAL(s1->resp.sync_group.error_code, 0);
	CU_ASSERT_EQUAL(s1->resp.sync_group.assignment.len, 6);
	CU_ASSERT(memcmp(s2->resp.sync_group.assignment.p, "AS-two", 6) == 0);
	/* v5 names the protocol. */
	CU_ASSERT_TRUE(str_is(s2->resp.sync_group.protocol_type, "consumer"));
	CU_ASSERT_TRUE(str_is(s2->resp.sync_group.protocol_name, "range"));
	tf_free(s1);
	tf_free(s2);

	/* Stable: what DescribeGroups and ListGroups show. */
	{
		struct fmq_kafka_describe_groups_req req;
		struct fmq_kafka_str ids[2] = { FMQ_KAFKA_STR_LIT("g2"),
						FMQ_KAFKA_STR_LIT("unknown") };
		const struct fmq_kafka_describe_groups_resp_described_group *g;

		fmq_kafka_init_request(FMQ_KAFKA_API_DESCRIBE_GROUPS, 5, &req);
		req.groups = ids;
		req.groups_count = 2;
		req.include_authorized_operations = true;
		t = send_req(FMQ_KAFKA_API_DESCRIBE_GROUPS, 5, &req);
		CU_ASSERT_EQUAL_FATAL(t->resp.describe_groups.groups_count, 2);
		g = &t->resp.describe_groups.groups[0];
		CU_ASSERT_TRUE(str_is(g->group_state, "Stable"));
		CU_ASSERT_TRUE(str_is(g->protocol_type, "consumer"));
		CU_ASSERT_TRUE(str_is(g->protocol_data, "range"));
		CU_ASSERT_EQUAL_FATAL(g->members_count, 2);
		CU_ASSERT_TRUE(str_is(g->members[0].member_id, m1));
		CU_ASSERT_TRUE(str_is(g->members[0].client_id, "test-client"));
		CU_ASSERT_TRUE(str_is(g->members[0].client_host, "/10.1.2.3"));
		CU_ASSERT_EQUAL(g->members[0].group_instance_id.len, -1);
		CU_ASSERT_EQUAL(g->members[1].member_assignment.len, 6);
		CU_ASSERT(g->authorized_operations > 0);
		g = &t->resp.describe_groups.groups[1];
		CU_ASSERT_EQUAL(g->error_code, 0);
		CU_ASSERT_TRUE(str_is(g->group_state, "Dead"));
		CU_ASSERT_EQUAL(g->members_count, 0);
		tf_free(t);
	}
	{
		struct fmq_kafka_list_groups_req req;
		struct fmq_kafka_str st[1] = { FMQ_KAFKA_STR_LIT("sTaBlE") };
		bool seen = false;

		fmq_kafka_init_request(FMQ_KAFKA_API_LIST_GROUPS, 4, &req);
		req.states_filter = st;
		req.states_filter_count = 1;
		t = send_req(FMQ_KAFKA_API_LIST_GROUPS, 4, &req);
		CU_ASSERT_EQUAL(t->resp.list_groups.error_code, 0);
		for (int32_t i = 0; i < t->resp.list_groups.groups_count; i++) {
			CU_ASSERT_TRUE(str_is(t->resp.list_groups.groups[i].group_state,
					      "Stable"));
			if (str_is(t->resp.list_groups.groups[i].group_id, "g2"))
				seen = true;
		}
		CU_ASSERT_TRUE(seen);
		tf_free(t);
		fmq_kafka_init_request(FMQ_KAFKA_API_LIST_GROUPS, 0, &req);
		t = send_req(FMQ_KAFKA_API_LIST_GROUPS, 0, &req);
		CU_ASSERT(t->resp.list_groups.groups_count >= 2);
		tf_free(t);
	}

	/* OffsetDelete: a subscribed topic of a live consumer group is
	 * refused; unknown partitions are the broker's call. */
	{
		struct fmq_kafka_offset_delete_req req;
		struct fmq_kafka_offset_delete_req_offset_delete_request_topic tp[2];
		struct fmq_kafka_offset_delete_req_offset_delete_request_partition p0 = { 0 },
			p9 = { 9 };

		fmq_kafka_init_request(FMQ_KAFKA_API_OFFSET_DELETE, 0, &req);
		memset(tp, 0, sizeof(tp));
		tp[0].name = FMQ_KAFKA_STR_LIT("orders");
		tp[0].partitions = &p0;
		tp[0].partitions_count = 1;
		tp[1].name = FMQ_KAFKA_STR_LIT("orders");
		tp[1].partitions = &p9;
		tp[1].partitions_count = 1;
		req.group_id = FMQ_KAFKA_STR_LIT("g2");
		req.topics = tp;
		req.topics_count = 2;
		t = send_req(FMQ_KAFKA_API_OFFSET_DELETE, 0, &req);
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		CU_ASSERT_EQUAL(t->resp.offset_delete.error_code, 0);
		CU_ASSERT_EQUAL_FATAL(t->resp.offset_delete.topics_count, 1);
		CU_ASSERT_EQUAL_FATAL(t->resp.offset_delete.topics[0].partitions_count, 2);
		CU_ASSERT_EQUAL(t->resp.offset_delete.topics[0].partitions[0].error_code,
				E_SUBSCRIBED);
		CU_ASSERT_EQUAL(t->resp.offset_delete.topics[0].partitions[1].error_code,
				E_UNKNOWN_TOPIC);
		tf_free(t);
	}

	/* DeleteGroups of a group with members. */
	{
		struct fmq_kafka_delete_groups_req req;
		struct fmq_kafka_str ids[2] = { FMQ_KAFKA_STR_LIT("g2"),
						FMQ_KAFKA_STR_LIT("unknown") };

		fmq_kafka_init_request(FMQ_KAFKA_API_DELETE_GROUPS, 2, &req);
		req.groups_names = ids;
		req.groups_names_count = 2;
		t = send_req(FMQ_KAFKA_API_DELETE_GROUPS, 2, &req);
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->resp.delete_groups.results_count, 2);
		CU_ASSERT_EQUAL(t->resp.delete_groups.results[0].error_code,
				E_NON_EMPTY_GROUP);
		CU_ASSERT_EQUAL(t->resp.delete_groups.results[1].error_code,
				E_GROUP_NOT_FOUND);
		tf_free(t);
	}

	/* LeaveGroup v3+: batched members, an error per member. */
	{
		const char *mids[3] = { m1, "stranger", m2 };

		t = leave_v3(3, "g2", mids, 3);
		CU_ASSERT_EQUAL(t->resp.leave_group.error_code, 0);
		CU_ASSERT_EQUAL_FATAL(t->resp.leave_group.members_count, 3);
		CU_ASSERT_EQUAL(t->resp.leave_group.members[0].error_code, 0);
		CU_ASSERT_EQUAL(t->resp.leave_group.members[1].error_code,
				E_UNKNOWN_MEMBER);
		CU_ASSERT_EQUAL(t->resp.leave_group.members[2].error_code, 0);
		CU_ASSERT_TRUE(str_is(t->resp.leave_group.members[1].member_id,
				      "stranger"));
		tf_free(t);
	}

	/* Empty now: the group and its offsets can go. */
	{
		struct fmq_kafka_delete_groups_req req;
		struct fmq_kafka_str ids[1] = { FMQ_KAFKA_STR_LIT("g2") };
		const int32_t p0[] = { 0 };

		fmq_kafka_init_request(FMQ_KAFKA_API_DELETE_GROUPS, 0, &req);
		req.groups_names = ids;
		req.groups_names_count = 1;
		t = send_req(FMQ_KAFKA_API_DELETE_GROUPS, 0, &req);
		CU_ASSERT_EQUAL(t->answers, 0);   /* after the tombstone sync */
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		CU_ASSERT_EQUAL(t->resp.delete_groups.results[0].error_code, 0);
		tf_free(t);
		t = fetch(2, "g2", "orders", p0, 1);
		CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, -1);
		tf_free(t);
	}
}

/* Where each JoinGroup version puts a missing protocol name, and an
 * inconsistent protocol. */
static void
test_join_versions(void)
{
	char mid[128];
	struct tfwd *t;

	lone_member("g3", mid, sizeof(mid));
	for (int16_t v = 1; v <= 9; v++) {
		t = join(v, "g3", "", NULL, "roundrobin", 10000);
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		CU_ASSERT_EQUAL(t->resp.join_group.error_code,
				E_INCONSISTENT_PROTOCOL);
		CU_ASSERT_EQUAL(t->resp.join_group.generation_id, -1);
		/* Null from v7 on, "" before; type exists from v7. */
		if (v >= 7) {
			CU_ASSERT_EQUAL(t->resp.join_group.protocol_name.len, -1);
		} else {
			CU_ASSERT_EQUAL(t->resp.join_group.protocol_name.len, 0);
		}
		tf_free(t);
	}
	/* A made-up member id. */
	t = join(2, "g3", "made-up", NULL, "range", 10000);
	CU_ASSERT_EQUAL(t->resp.join_group.error_code, E_UNKNOWN_MEMBER);
	tf_free(t);
	/* JoinGroup v6 (flexible) of the known member: Stable, same
	 * protocol, so the current generation comes back at once. */
	t = join(6, "g3", mid, NULL, "range", 10000);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.join_group.error_code, 0);
	tf_free(t);
	CU_ASSERT_EQUAL(leave_v1("g3", mid), E_NONE);
}

/* KIP-345: a static member rejoining with an empty id fences the old id. */
static void
test_static_member(void)
{
	char old[128], cur[128];
	struct tfwd *t;
	const char *to[1];
	const char *as[1] = { "S" };
	int32_t gen;

	t = join(5, "g4", "", "inst-1", "range", 10000);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL_FATAL(t->resp.join_group.error_code, 0);
	str_copy(old, sizeof(old), t->resp.join_group.member_id);
	gen = t->resp.join_group.generation_id;
	CU_ASSERT_TRUE(str_is(t->resp.join_group.members[0].group_instance_id,
			      "inst-1"));
	tf_free(t);
	to[0] = old;
	t = sync_grp(3, "g4", gen, old, to, as, 1);
	CU_ASSERT_EQUAL(t->resp.sync_group.error_code, 0);
	tf_free(t);
	/* The instance restarts: new id, no rebalance (Stable, same
	 * protocol). */
	t = join(5, "g4", "", "inst-1", "range", 10000);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.join_group.error_code, 0);
	CU_ASSERT_EQUAL(t->resp.join_group.generation_id, gen);
	str_copy(cur, sizeof(cur), t->resp.join_group.member_id);
	CU_ASSERT_STRING_NOT_EQUAL(cur, old);
	tf_free(t);
	CU_ASSERT_EQUAL(heartbeat(3, "g4", gen, old, "inst-1"),
			E_FENCED_INSTANCE);
	CU_ASSERT_EQUAL(heartbeat(3, "g4", gen, cur, "inst-1"), E_NONE);
	/* Administrative removal by instance id alone (LeaveGroup v3+). */
	{
		struct fmq_kafka_leave_group_req req;
		struct fmq_kafka_leave_group_req_member_identity m;

		fmq_kafka_init_request(FMQ_KAFKA_API_LEAVE_GROUP, 4, &req);
		memset(&m, 0, sizeof(m));
		m.member_id = FMQ_KAFKA_STR_LIT("");
		m.group_instance_id = FMQ_KAFKA_STR_LIT("inst-1");
		m.reason = FMQ_KAFKA_STR_NULL;
		req.group_id = FMQ_KAFKA_STR_LIT("g4");
		req.members = &m;
		req.members_count = 1;
		t = send_req(FMQ_KAFKA_API_LEAVE_GROUP, 4, &req);
		CU_ASSERT_EQUAL(t->resp.leave_group.members[0].error_code, 0);
		CU_ASSERT_TRUE(str_is(t->resp.leave_group.members[0].group_instance_id,
				      "inst-1"));
		tf_free(t);
	}
	CU_ASSERT_EQUAL(heartbeat(3, "g4", gen, cur, "inst-1"),
			E_UNKNOWN_MEMBER);
}

/* A member that stops heartbeating is removed after its session timeout. */
static void
test_session_expiry(void)
{
	struct tfwd *t;
	char mid[128];
	int32_t gen;

	t = join(3, "g5", "", NULL, "range", 60);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	str_copy(mid, sizeof(mid), t->resp.join_group.member_id);
	gen = t->resp.join_group.generation_id;
	tf_free(t);
	usleep(150 * 1000);
	poll_groups();
	CU_ASSERT_EQUAL(heartbeat(3, "g5", gen, mid, NULL), E_UNKNOWN_MEMBER);
}

/* Committed offsets and generations survive a restart of the coordinator;
 * a clean shutdown answers parked requests exactly once. */
static void
test_restart_and_shutdown(void)
{
	char mid[128], err[256];
	struct tfwd *t, *parked;
	const struct cpart one[] = { { "audit", 0, 4242 } };
	const int32_t p0[] = { 0 };
	int32_t gen = lone_member("g6", mid, sizeof(mid));

	t = commit(8, "g6", gen, mid, one, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "audit", 0), 0);
	tf_free(t);
	/* A second member waits in JoinGroup when the coordinator stops. */
	t = join(3, "g6", "", NULL, "range", 10000);
	parked = t;
	CU_ASSERT_EQUAL(parked->answers, 0);
	ctrl_groups_close(&C);
	CU_ASSERT_EQUAL(parked->answers, 1);
	CU_ASSERT_EQUAL(parked->resp.join_group.error_code, E_NOT_COORDINATOR);
	tf_free(parked);
	CU_ASSERT_EQUAL_FATAL(ctrl_groups_open(&C, err, sizeof(err)), 0);
	t = fetch(6, "g6", "audit", p0, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, 4242);
	tf_free(t);
	/* Members are not persisted: the old id is unknown now. */
	CU_ASSERT_EQUAL(heartbeat(3, "g6", gen, mid, NULL), E_UNKNOWN_MEMBER);

	/* After shutdown, requests are refused; OffsetFetch v1 has no group
	 * error field, so each partition carries it; v2 at the top, v8 per
	 * group. */
	fmq_group_shutdown(C.group, fmq_wall_ms());
	t = fetch(1, "g6", "audit", p0, 1);
	CU_ASSERT_EQUAL_FATAL(t->resp.offset_fetch.topics_count, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].error_code,
			E_COORD_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, -1);
	tf_free(t);
	t = fetch(2, "g6", "audit", p0, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.error_code, E_COORD_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics_count, 0);
	tf_free(t);
	CU_ASSERT_EQUAL(heartbeat(0, "g6", gen, mid, NULL),
			E_COORD_NOT_AVAILABLE);
	t = commit(2, "g6", -1, "", one, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "audit", 0), E_COORD_NOT_AVAILABLE);
	tf_free(t);
	/* Reopen for the suite cleanup. */
	ctrl_groups_close(&C);
	CU_ASSERT_EQUAL_FATAL(ctrl_groups_open(&C, err, sizeof(err)), 0);
}

/* The ACLs (a fake authorizer: one denied resource): a denied group gets
 * GROUP_AUTHORIZATION_FAILED without reaching the coordinator, in every
 * API's shape; in multi-group answers the denied groups come after the
 * coordinator's (as in Kafka), also when the coordinator answers at a
 * later poll (DeleteGroups writes its journal first); a denied topic gets
 * 29 per committed partition. */
static void
test_acl_denials(void)
{
	const struct cpart parts[] = { { "orders", 0, 5 } };
	struct tfwd *t;

	deny_type = FMQ_ACL_RES_GROUP;
	deny_name = "g-deny";
	CU_ASSERT_EQUAL(heartbeat(0, "g-deny", 1, "m", NULL), 30);
	t = join(5, "g-deny", "", NULL, "range", 10000);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.join_group.error_code, 30);
	CU_ASSERT_EQUAL(t->resp.join_group.generation_id, -1);
	tf_free(t);
	t = commit(2, "g-deny", -1, "", parts, 1);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 30);
	tf_free(t);
	/* Nothing was committed for g-deny: allowed again, its offset
	 * is still unknown. */
	deny_name = NULL;
	t = fetch(3, "g-deny", "orders", (const int32_t[]){ 0 }, 1);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0]
			.committed_offset, -1);
	tf_free(t);
	/* Two groups with offsets; DescribeGroups / DeleteGroups with the
	 * denied group between them. */
	t = commit(2, "g-ok1", -1, "", parts, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 0);
	tf_free(t);
	t = commit(2, "g-ok2", -1, "", parts, 1);
	poll_groups();
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 0);
	tf_free(t);
	deny_name = "g-deny";
	{
		struct fmq_kafka_describe_groups_req req;
		struct fmq_kafka_str ids[3] = { FMQ_KAFKA_STR_LIT("g-ok1"),
						FMQ_KAFKA_STR_LIT("g-deny"),
						FMQ_KAFKA_STR_LIT("g-ok2") };
		const struct fmq_kafka_describe_groups_resp *r;

		fmq_kafka_init_request(FMQ_KAFKA_API_DESCRIBE_GROUPS, 5, &req);
		req.groups = ids;
		req.groups_count = 3;
		t = send_req(FMQ_KAFKA_API_DESCRIBE_GROUPS, 5, &req);
		r = &t->resp.describe_groups;
		CU_ASSERT_EQUAL_FATAL(r->groups_count, 3);
		CU_ASSERT_TRUE(str_is(r->groups[0].group_id, "g-ok1"));
		CU_ASSERT_EQUAL(r->groups[0].error_code, 0);
		CU_ASSERT_TRUE(str_is(r->groups[1].group_id, "g-ok2"));
		CU_ASSERT_EQUAL(r->groups[1].error_code, 0);
		CU_ASSERT_TRUE(str_is(r->groups[2].group_id, "g-deny"));
		CU_ASSERT_EQUAL(r->groups[2].error_code, 30);
		tf_free(t);
	}
	{
		struct fmq_kafka_delete_groups_req req;
		struct fmq_kafka_str ids[2] = { FMQ_KAFKA_STR_LIT("g-deny"),
						FMQ_KAFKA_STR_LIT("g-ok2") };
		const struct fmq_kafka_delete_groups_resp *r;

		fmq_kafka_init_request(FMQ_KAFKA_API_DELETE_GROUPS, 2, &req);
		req.groups_names = ids;
		req.groups_names_count = 2;
		t = send_req(FMQ_KAFKA_API_DELETE_GROUPS, 2, &req);
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		r = &t->resp.delete_groups;
		CU_ASSERT_EQUAL_FATAL(r->results_count, 2);
		CU_ASSERT_TRUE(str_is(r->results[0].group_id, "g-ok2"));
		CU_ASSERT_EQUAL(r->results[0].error_code, 0);
		CU_ASSERT_TRUE(str_is(r->results[1].group_id, "g-deny"));
		CU_ASSERT_EQUAL(r->results[1].error_code, 30);
		tf_free(t);
		/* Every group denied: the answer is built from the request. */
		req.groups_names_count = 1;
		t = send_req(FMQ_KAFKA_API_DELETE_GROUPS, 2, &req);
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		CU_ASSERT_EQUAL_FATAL(t->resp.delete_groups.results_count, 1);
		CU_ASSERT_EQUAL(t->resp.delete_groups.results[0].error_code, 30);
		tf_free(t);
	}
	/* A denied topic: 29 for its partitions, the group allowed. */
	deny_type = FMQ_ACL_RES_TOPIC;
	deny_name = "orders";
	t = commit(2, "g-ok1", -1, "", parts, 1);
	poll_groups();
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	CU_ASSERT_EQUAL(commit_err(t, "orders", 0), 29);
	tf_free(t);
	deny_type = -1;
	deny_name = NULL;
}

/* A standalone consumer (generation -1, no member) commits to a group
 * with no members, including v0 and the v1 timestamp. */
static void
test_simple_consumer(void)
{
	const struct cpart one[] = { { "orders", 1, 77 } };
	const int32_t p1[] = { 1 };
	struct tfwd *t;

	for (int16_t v = 0; v <= 8; v++) {
		t = commit(v, "simple", -1, "", one, 1);
		poll_groups();
		CU_ASSERT_EQUAL_FATAL(t->answers, 1);
		CU_ASSERT_EQUAL(commit_err(t, "orders", 1), 0);
		tf_free(t);
	}
	t = fetch(0, "simple", "orders", p1, 1);
	CU_ASSERT_EQUAL(t->resp.offset_fetch.topics[0].partitions[0].committed_offset, 77);
	tf_free(t);
	/* Bad request content answered, not dropped: an empty group id. */
	t = join(3, "", "", NULL, "range", 10000);
	CU_ASSERT_EQUAL(t->answers, 1);
	CU_ASSERT_NOT_EQUAL(t->resp.join_group.error_code, 0);
	tf_free(t);
	(void)E_INVALID_REQUEST;
}

/* ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848) over the
 * wire format: v1 with a client-made member id, the nullable assignment,
 * the registry's topic ids, describe with names, host and operations. */
static void
test_consumer_protocol(void)
{
	struct fmq_kafka_consumer_group_heartbeat_req hb;
	struct fmq_kafka_consumer_group_describe_req dr;
	struct fmq_kafka_str subs[1] = { FMQ_KAFKA_STR_LIT("orders") };
	struct fmq_kafka_str ids[2] = { FMQ_KAFKA_STR_LIT("cg"),
					FMQ_KAFKA_STR_LIT("nope") };
	const struct fmq_topic *tp = fmq_topics_find(C.topics, "orders");
	const struct fmq_kafka_consumer_group_heartbeat_resp *r;
	const struct fmq_kafka_consumer_group_describe_resp *d;
	struct tfwd *t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tp);
	fmq_kafka_init_request(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 1, &hb);
	hb.group_id = FMQ_KAFKA_STR_LIT("cg");
	hb.member_id = FMQ_KAFKA_STR_LIT("m-1");
	hb.member_epoch = 0;
	hb.rebalance_timeout_ms = 30000;
	hb.subscribed_topic_names = subs;
	hb.subscribed_topic_names_count = 1;
	hb.topic_partitions_count = 0;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 1, &hb);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	r = &t->resp.consumer_group_heartbeat;
	CU_ASSERT_EQUAL(r->error_code, 0);
	CU_ASSERT_TRUE(str_is(r->member_id, "m-1"));
	CU_ASSERT_EQUAL(r->member_epoch, 1);
	CU_ASSERT_EQUAL(r->heartbeat_interval_ms, 5000);
	CU_ASSERT_TRUE_FATAL(r->assignment_present);
	CU_ASSERT_EQUAL_FATAL(r->assignment.topic_partitions_count, 1);
	CU_ASSERT_EQUAL(memcmp(r->assignment.topic_partitions[0].topic_id.b,
			       tp->id, 16), 0);
	CU_ASSERT_EQUAL(r->assignment.topic_partitions[0].partitions_count, 3);
	tf_free(t);
	/* Steady heartbeat (nothing changed, owned null): null assignment. */
	hb.member_epoch = 1;
	hb.rebalance_timeout_ms = -1;
	hb.subscribed_topic_names_count = -1;
	hb.topic_partitions_count = -1;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 0, &hb);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.error_code, 0);
	CU_ASSERT_FALSE(t->resp.consumer_group_heartbeat.assignment_present);
	tf_free(t);
	/* v1 join without a member id: INVALID_REQUEST and a message. */
	hb.member_id = FMQ_KAFKA_STR_LIT("");
	hb.member_epoch = 0;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 1, &hb);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.error_code,
			FMQ_KERR_INVALID_REQUEST);
	CU_ASSERT(t->resp.consumer_group_heartbeat.error_message.len > 0);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.member_id.len, -1);
	tf_free(t);

	fmq_kafka_init_request(FMQ_KAFKA_API_CONSUMER_GROUP_DESCRIBE, 0, &dr);
	dr.group_ids = ids;
	dr.group_ids_count = 2;
	dr.include_authorized_operations = true;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_DESCRIBE, 0, &dr);
	CU_ASSERT_EQUAL_FATAL(t->answers, 1);
	d = &t->resp.consumer_group_describe;
	CU_ASSERT_EQUAL_FATAL(d->groups_count, 2);
	CU_ASSERT_EQUAL(d->groups[0].error_code, 0);
	CU_ASSERT_TRUE(str_is(d->groups[0].group_state, "Stable"));
	CU_ASSERT_TRUE(str_is(d->groups[0].assignor_name, "uniform"));
	CU_ASSERT_EQUAL(d->groups[0].group_epoch, 1);
	CU_ASSERT_NOT_EQUAL(d->groups[0].authorized_operations, INT32_MIN);
	CU_ASSERT_EQUAL_FATAL(d->groups[0].members_count, 1);
	CU_ASSERT_TRUE(str_is(d->groups[0].members[0].client_id,
			      "test-client"));
	CU_ASSERT_TRUE(str_is(d->groups[0].members[0].client_host,
			      "/10.1.2.3"));
	CU_ASSERT_EQUAL_FATAL(d->groups[0].members[0].assignment
			      .topic_partitions_count, 1);
	CU_ASSERT_TRUE(str_is(d->groups[0].members[0].assignment
			      .topic_partitions[0].topic_name, "orders"));
	CU_ASSERT_EQUAL(d->groups[1].error_code, FMQ_KERR_GROUP_ID_NOT_FOUND);
	tf_free(t);

	/* ACLs: a denied group is listed after the others (as Kafka); a
	 * subscription to a topic without DESCRIBE is refused. */
	deny_type = FMQ_ACL_RES_GROUP;
	deny_name = "cg";
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_DESCRIBE, 0, &dr);
	d = &t->resp.consumer_group_describe;
	CU_ASSERT_EQUAL_FATAL(d->groups_count, 2);
	CU_ASSERT_TRUE(str_is(d->groups[0].group_id, "nope"));
	CU_ASSERT_TRUE(str_is(d->groups[1].group_id, "cg"));
	CU_ASSERT_EQUAL(d->groups[1].error_code,
			FMQ_KERR_GROUP_AUTHORIZATION_FAILED);
	tf_free(t);
	deny_type = FMQ_ACL_RES_TOPIC;
	deny_name = "orders";
	hb.member_id = FMQ_KAFKA_STR_LIT("m-2");
	hb.member_epoch = 0;
	hb.rebalance_timeout_ms = 30000;
	hb.subscribed_topic_names_count = 1;
	hb.topic_partitions_count = 0;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 1, &hb);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.error_code,
			FMQ_KERR_TOPIC_AUTHORIZATION_FAILED);
	tf_free(t);
	deny_type = -1;
	deny_name = NULL;

	/* Leave. */
	hb.member_id = FMQ_KAFKA_STR_LIT("m-1");
	hb.member_epoch = -1;
	t = send_req(FMQ_KAFKA_API_CONSUMER_GROUP_HEARTBEAT, 1, &hb);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.error_code, 0);
	CU_ASSERT_EQUAL(t->resp.consumer_group_heartbeat.member_epoch, -1);
	tf_free(t);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int failed;

	fmq_log_set_level(FMQ_LOG_ERR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("ctrl_groups_api", suite_init, suite_clean);
	if (s == NULL ||
	    !CU_add_test(s, "find coordinator", test_find_coordinator) ||
	    !CU_add_test(s, "member life cycle and errors", test_member_lifecycle) ||
	    !CU_add_test(s, "rebalance, describe, list, delete", test_rebalance) ||
	    !CU_add_test(s, "join versions", test_join_versions) ||
	    !CU_add_test(s, "static membership", test_static_member) ||
	    !CU_add_test(s, "session expiry", test_session_expiry) ||
	    !CU_add_test(s, "restart and shutdown", test_restart_and_shutdown) ||
	    !CU_add_test(s, "standalone commits", test_simple_consumer) ||
	    !CU_add_test(s, "ACL denials", test_acl_denials) ||
	    !CU_add_test(s, "consumer group protocol (KIP-848)",
			 test_consumer_protocol)) {
		CU_cleanup_registry();
		return 1;
	}
	failed = fmq_test_run(argc, argv);
	return failed;
}
