/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer group protocol (KIP-848) of the coordinator: the assignors
 * (uniform, range), reconciliation (revocation before reassignment), epochs
 * and fencing, timeouts, metadata changes, describe, offset commits with
 * the member epoch. A fake topic table stands for the broker's registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_group.h"
#include "group_priv.h"
#include "harness.h"

static int64_t now = 1700000000000LL;
static struct fmq_group *co;
static char dir[64];

/* ------------------------------------------------------------ topics */

struct ftopic {
	const char *name;
	uint8_t id[16];
	uint32_t nparts;
	bool exists;
};

static struct ftopic topics[4] = {
	{ "t6", { 6 }, 6, true },
	{ "t3", { 3 }, 3, true },
	{ "t8", { 8 }, 8, true },
	{ "gone", { 9 }, 2, false },
};

static int
topic_fn(void *arg, const char *name, uint8_t id[16], uint32_t *nparts)
{
	(void)arg;
	for (size_t i = 0; i < 4; i++)
		if (topics[i].exists && strcmp(topics[i].name, name) == 0) {
			memcpy(id, topics[i].id, 16);
			*nparts = topics[i].nparts;
			return 0;
		}
	return -1;
}

static uint64_t tver = 1;

static const char *
topic_at(void *arg, size_t i)
{
	size_t k = 0;

	(void)arg;
	for (size_t t = 0; t < 4; t++)
		if (topics[t].exists && k++ == i)
			return topics[t].name;
	return NULL;
}

static uint64_t
topics_version(void *arg)
{
	(void)arg;
	return tver;
}

static const char *
topic_name(const uint8_t id[16])
{
	for (size_t i = 0; i < 4; i++)
		if (memcmp(topics[i].id, id, 16) == 0)
			return topics[i].name;
	return "?";
}

static int commit_err;
static int join_err = -100;
static int offsets_seen;
static char list_buf[512];

static void
emit_cb(void *arg, uint64_t token, const struct fmq_group_resp *r)
{
	(void)arg;
	(void)token;
	if (r->api == FMQ_GROUP_LIST) {
		size_t o = 0;

		list_buf[0] = '\0';
		for (uint32_t i = 0; i < r->u.list.n_groups; i++) {
			const struct fmq_group_listed *l = &r->u.list.groups[i];

			o += (size_t)snprintf(list_buf + o,
				sizeof(list_buf) - o, "[%.*s %.*s %.*s %.*s]",
				l->group_id.len, l->group_id.ptr,
				l->protocol_type.len, l->protocol_type.ptr,
				l->state.len, l->state.ptr, l->type.len,
				l->type.ptr);
		}
	}
	if (r->api == FMQ_GROUP_JOIN)
		join_err = r->error;
	if (r->api == FMQ_GROUP_OFFSET_COMMIT)
		commit_err = r->u.commit.n_parts > 0 ?
			r->u.commit.parts[0].error : r->error;
}

static void
setup(void)
{
	struct fmq_group_params p;

	snprintf(dir, sizeof(dir), "/tmp/fmq-cgroup-test-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	memset(&p, 0, sizeof(p));
	fmq_group_conf_defaults(&p.conf);
	p.conf.consumer_session_timeout_ms = 45000;
	p.conf.consumer_heartbeat_interval_ms = 5000;
	p.dir = dir;
	p.emit = emit_cb;
	p.topic = topic_fn;
	p.topic_at = topic_at;
	p.topics_version = topics_version;
	co = fmq_group_create(&p, now);
	CU_ASSERT_PTR_NOT_NULL_FATAL(co);
	topics[0].nparts = 6;
	topics[0].exists = true;
	topics[0].id[1] = 0;
	topics[3].exists = false;
}

static void
teardown(void)
{
	char cmd[128];

	fmq_group_destroy(co);
	co = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ------------------------------------------------------------ members */

/* A member as the test drives it: what it holds (as "t6:0 t6:1 ..."). */
struct tm {
	char id[64];
	int32_t epoch;
	int32_t parts[64][2];   /* (topic index into topics[], partition) */
	uint32_t n;
	int16_t err;
	bool got_assignment;
};

/* "t6:0 t3:2" of a member's holdings, sorted by topic then partition. */
static const char *
held(const struct tm *m)
{
	static char buf[1024];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t t = 0; t < 4; t++)
		for (int32_t p = 0; p < 64; p++)
			for (uint32_t i = 0; i < m->n; i++)
				if (m->parts[i][0] == (int32_t)t &&
				    m->parts[i][1] == p)
					o += (size_t)snprintf(buf + o,
						sizeof(buf) - o, "%s%s:%d",
						o ? " " : "", topics[t].name,
						p);
	return buf;
}

static size_t
tindex(const uint8_t id[16])
{
	for (size_t i = 0; i < 4; i++)
		if (memcmp(topics[i].id, id, 16) == 0)
			return i;
	return 0;
}

/*
 * One heartbeat. subs: "t6,t3" or NULL (unchanged); report: send the held
 * partitions as owned (else null). Takes the answer's assignment.
 */
static void
hb(struct tm *m, const char *gid, const char *subs, const char *assignor,
   bool report)
{
	struct fmq_group_cheartbeat_req q;
	struct fmq_group_cheartbeat_resp r;
	struct fmq_group_str sv[8];
	struct fmq_group_ctp owned[4];
	int32_t op[4][64];
	char sb[64];
	int32_t ns = -1, no = -1;

	memset(&q, 0, sizeof(q));
	q.group_id = FMQ_GROUP_STR(gid);
	q.member_id = FMQ_GROUP_STR(m->id);
	q.member_epoch = m->epoch;
	q.instance_id = FMQ_GROUP_STR_NULL;
	q.rack_id = FMQ_GROUP_STR_NULL;
	q.rebalance_timeout_ms = m->epoch == 0 ? 30000 : -1;
	q.regex = FMQ_GROUP_STR_NULL;
	q.server_assignor = assignor != NULL ? FMQ_GROUP_STR(assignor) :
		FMQ_GROUP_STR_NULL;
	q.client_id = FMQ_GROUP_STR("cid");
	q.client_host = FMQ_GROUP_STR("/127.0.0.1");
	if (subs != NULL) {
		char *save = NULL, *tok;

		snprintf(sb, sizeof(sb), "%s", subs);
		ns = 0;
		for (tok = strtok_r(sb, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save))
			sv[ns++] = FMQ_GROUP_STR(tok);
	}
	q.subscribed = sv;
	q.n_subscribed = ns;
	if (report || m->epoch == 0) {
		no = 0;
		for (size_t t = 0; t < 4; t++) {
			uint32_t k = 0;

			for (uint32_t i = 0; i < m->n; i++)
				if (m->parts[i][0] == (int32_t)t)
					op[no][k++] = m->parts[i][1];
			if (k == 0)
				continue;
			memcpy(owned[no].topic_id, topics[t].id, 16);
			owned[no].parts = op[no];
			owned[no].n_parts = k;
			no++;
		}
	}
	q.owned = owned;
	q.n_owned = no;
	CU_ASSERT_EQUAL_FATAL(fmq_group_consumer_heartbeat(co, &q, &r, now), 0);
	m->err = r.error;
	m->got_assignment = r.has_assignment;
	if (r.error != 0)
		return;
	CU_ASSERT_EQUAL(r.heartbeat_interval_ms, 5000);
	snprintf(m->id, sizeof(m->id), "%.*s", r.member_id.len,
		 r.member_id.ptr);
	m->epoch = r.member_epoch;
	if (!r.has_assignment)
		return;
	m->n = 0;
	for (uint32_t i = 0; i < r.n_assignment; i++)
		for (uint32_t j = 0; j < r.assignment[i].n_parts; j++) {
			m->parts[m->n][0] =
				(int32_t)tindex(r.assignment[i].topic_id);
			m->parts[m->n][1] = r.assignment[i].parts[j];
			m->n++;
		}
}

static void
join(struct tm *m, const char *gid, const char *subs, const char *assignor)
{
	memset(m, 0, sizeof(*m));
	hb(m, gid, subs, assignor, true);
	CU_ASSERT_EQUAL(m->err, 0);
}

static const struct fmq_group_cgroup_desc *
desc(const char *gid)
{
	const struct fmq_group_cgroup_desc *d = NULL;
	struct fmq_group_str id = FMQ_GROUP_STR(gid);

	CU_ASSERT_EQUAL_FATAL(fmq_group_consumer_describe(co, &id, 1, &d,
							  now), 0);
	return d;
}

/* The target of member mid in the group, as held() prints it. */
static const char *
target_of(const char *gid, const char *mid)
{
	static char buf[1024];
	const struct fmq_group_cgroup_desc *d = desc(gid);
	struct tm x;

	memset(&x, 0, sizeof(x));
	for (uint32_t i = 0; i < d->n_members; i++) {
		const struct fmq_group_cmember_desc *dm = &d->members[i];

		if (dm->member_id.len != (int32_t)strlen(mid) ||
		    memcmp(dm->member_id.ptr, mid, strlen(mid)) != 0)
			continue;
		for (uint32_t t = 0; t < dm->n_target; t++)
			for (uint32_t j = 0; j < dm->target[t].n_parts; j++) {
				x.parts[x.n][0] = (int32_t)
					tindex(dm->target[t].topic_id);
				x.parts[x.n][1] = dm->target[t].parts[j];
				x.n++;
			}
	}
	snprintf(buf, sizeof(buf), "%s", held(&x));
	return buf;
}

static bool
holds(const struct tm *m, int32_t t, int32_t p)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->parts[i][0] == t && m->parts[i][1] == p)
			return true;
	return false;
}

/* No partition held by two members; returns how many are held. */
static uint32_t
disjoint(struct tm **ms, size_t n)
{
	uint32_t total = 0;

	for (size_t i = 0; i < n; i++) {
		total += ms[i]->n;
		for (size_t j = i + 1; j < n; j++)
			for (uint32_t k = 0; k < ms[i]->n; k++)
				CU_ASSERT_FALSE(holds(ms[j],
						      ms[i]->parts[k][0],
						      ms[i]->parts[k][1]));
	}
	return total;
}

/* Heartbeat everyone (reporting what they hold) until nothing changes. */
static void
settle(struct tm **ms, size_t n, const char *gid)
{
	for (int round = 0; round < 10; round++) {
		for (size_t i = 0; i < n; i++) {
			hb(ms[i], gid, NULL, NULL, true);
			CU_ASSERT_EQUAL_FATAL(ms[i]->err, 0);
			disjoint(ms, n);
		}
		if (strcmp(desc(gid)->state, "Stable") == 0)
			return;
	}
	CU_FAIL("group did not become Stable");
}

/* ------------------------------------------------------------ tests */

static char view_buf[256];

static void
view_cb(void *arg, const struct fmq_group_view *v)
{
	(void)arg;
	snprintf(view_buf, sizeof(view_buf), "%.*s %s %d %u %.*s %.*s",
		 v->id.len, v->id.ptr, v->state, v->generation, v->members,
		 v->protocol_type.len, v->protocol_type.ptr, v->protocol.len,
		 v->protocol.ptr);
}

static void
test_join_alone(void)
{
	struct tm a;

	setup();
	join(&a, "g", "t6", NULL);
	CU_ASSERT_EQUAL(strlen(a.id), 22);
	CU_ASSERT_EQUAL(a.epoch, 1);
	CU_ASSERT_STRING_EQUAL(held(&a), "t6:0 t6:1 t6:2 t6:3 t6:4 t6:5");
	CU_ASSERT_STRING_EQUAL(desc("g")->state, "Stable");
	CU_ASSERT_EQUAL(desc("g")->group_epoch, 1);
	/* A steady heartbeat without owned partitions carries no
	 * assignment: nothing changed. */
	hb(&a, "g", NULL, NULL, false);
	CU_ASSERT_EQUAL(a.err, 0);
	CU_ASSERT_FALSE(a.got_assignment);
	/* The management console's view. */
	fmq_group_visit(co, view_cb, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(view_buf, "g Stable 1 1 consumer uniform");
	teardown();
}

/* B joins a group where A holds everything: A revokes first. */
static void
test_revocation_first(void)
{
	struct tm a, b;
	char ta[256], tb[256];
	int32_t gone = -1;

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6", NULL);
	CU_ASSERT_EQUAL(b.epoch, 2);
	CU_ASSERT_EQUAL(b.n, 0);           /* all still owned by A */
	snprintf(ta, sizeof(ta), "%s", target_of("g", a.id));
	snprintf(tb, sizeof(tb), "%s", target_of("g", b.id));
	CU_ASSERT_EQUAL(strlen(ta), strlen("t6:0 t6:1 t6:2"));
	CU_ASSERT_EQUAL(strlen(tb), strlen("t6:0 t6:1 t6:2"));
	/* A's heartbeat without owned partitions: revoke, same epoch. */
	hb(&a, "g", NULL, NULL, false);
	CU_ASSERT_EQUAL(a.epoch, 1);
	CU_ASSERT_STRING_EQUAL(held(&a), ta);
	for (int32_t k = 0; k < 6 && gone < 0; k++)
		if (!holds(&a, 0, k))
			gone = k;
	CU_ASSERT_STRING_EQUAL(desc("g")->state, "Reconciling");
	/* B asks again: A has not reported the revocation. */
	hb(&b, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(b.n, 0);
	/* A reports it still owns a revoked partition: still epoch 1. */
	a.parts[a.n][0] = 0;
	a.parts[a.n][1] = gone;
	a.n++;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(a.epoch, 1);
	hb(&b, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(b.n, 0);
	a.n--;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(a.epoch, 2);
	hb(&b, "g", NULL, NULL, true);
	CU_ASSERT_STRING_EQUAL(held(&b), tb);
	CU_ASSERT_STRING_EQUAL(desc("g")->state, "Stable");
	teardown();
}

static void
test_uniform_balance_sticky(void)
{
	struct tm a, b, c, d;
	struct tm *ms[4] = { &a, &b, &c, &d };
	char before[3][256];
	uint32_t moved = 0;

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6", NULL);
	join(&c, "g", "t6", NULL);
	settle(ms, 3, "g");
	CU_ASSERT_EQUAL(disjoint(ms, 3), 6);
	CU_ASSERT_EQUAL(a.n, 2);
	CU_ASSERT_EQUAL(b.n, 2);
	CU_ASSERT_EQUAL(c.n, 2);
	CU_ASSERT_STRING_EQUAL(desc("g")->assignor, "uniform");
	for (int i = 0; i < 3; i++)
		snprintf(before[i], sizeof(before[i]), "%s", held(ms[i]));
	join(&d, "g", "t6", NULL);
	settle(ms, 4, "g");
	CU_ASSERT_EQUAL(disjoint(ms, 4), 6);
	CU_ASSERT_TRUE(d.n == 1 || d.n == 2);
	/* Sticky: only what the new member got has moved. */
	for (int i = 0; i < 3; i++)
		for (uint32_t k = 0; k < 6; k++) {
			char tp[16];

			snprintf(tp, sizeof(tp), "t6:%u", k);
			if (strstr(before[i], tp) != NULL &&
			    !holds(ms[i], 0, (int32_t)k))
				moved++;
		}
	CU_ASSERT_EQUAL(moved, d.n);
	teardown();
}

/* Members subscribed to different topics: only their topics, balanced. */
static void
test_uniform_heterogeneous(void)
{
	struct tm a, b;
	struct tm *ms[2] = { &a, &b };

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6,t3", NULL);
	settle(ms, 2, "g");
	CU_ASSERT_EQUAL(disjoint(ms, 2), 9);
	for (uint32_t i = 0; i < a.n; i++)
		CU_ASSERT_EQUAL(a.parts[i][0], 0);   /* t6 only */
	CU_ASSERT_TRUE((a.n == 4 && b.n == 5) || (a.n == 5 && b.n == 4));
	teardown();
}

static void
test_range(void)
{
	struct tm a, b;
	struct tm *ms[2] = { &a, &b };
	struct tm *first, *second;

	setup();
	join(&a, "g", "t6,t3", "range");
	join(&b, "g", "t3,t6", "range");
	settle(ms, 2, "g");
	CU_ASSERT_STRING_EQUAL(desc("g")->assignor, "range");
	first = strcmp(a.id, b.id) < 0 ? &a : &b;
	second = first == &a ? &b : &a;
	CU_ASSERT_STRING_EQUAL(held(first), "t6:0 t6:1 t6:2 t3:0 t3:1");
	CU_ASSERT_STRING_EQUAL(held(second), "t6:3 t6:4 t6:5 t3:2");
	teardown();
}

static void
test_fencing(void)
{
	struct tm a, b, x;

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6", NULL);
	/* A reports its revocation: epoch 2, previous epoch 1. */
	hb(&a, "g", NULL, NULL, false);
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(a.epoch, 2);
	/* The previous epoch is accepted with owned partitions within the
	 * assignment (a lost answer), not without them. */
	x = a;
	x.epoch = 1;
	hb(&x, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(x.err, 0);
	CU_ASSERT_EQUAL(x.epoch, 2);
	x = a;
	x.epoch = 1;
	hb(&x, "g", NULL, NULL, false);
	CU_ASSERT_EQUAL(x.err, FMQ_KERR_FENCED_MEMBER_EPOCH);
	x = a;
	x.epoch = 1;
	x.parts[x.n][0] = 0;
	x.parts[x.n][1] = 0;
	while (holds(&a, 0, x.parts[x.n][1]))
		x.parts[x.n][1]++;                     /* not its own */
	x.n++;
	hb(&x, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(x.err, FMQ_KERR_FENCED_MEMBER_EPOCH);
	x = a;
	x.epoch = 3;
	hb(&x, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(x.err, FMQ_KERR_FENCED_MEMBER_EPOCH);
	x = a;
	snprintf(x.id, sizeof(x.id), "nobody");
	hb(&x, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(x.err, FMQ_KERR_UNKNOWN_MEMBER_ID);
	teardown();
}

static void
test_leave_and_expiry(void)
{
	struct tm a, b, c;
	struct tm *ms[3] = { &a, &b, &c };
	struct fmq_group_stats st;
	int32_t e;

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6", NULL);
	join(&c, "g", "t6", NULL);
	settle(ms, 3, "g");
	e = desc("g")->group_epoch;
	c.epoch = -1;
	hb(&c, "g", NULL, NULL, false);
	CU_ASSERT_EQUAL(c.err, 0);
	CU_ASSERT_EQUAL(c.epoch, -1);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e + 1);
	CU_ASSERT_EQUAL(desc("g")->n_members, 2);
	settle(ms, 2, "g");
	CU_ASSERT_EQUAL(disjoint(ms, 2), 6);
	CU_ASSERT_EQUAL(a.n, 3);
	/* B goes silent; A keeps heartbeating past B's session. */
	for (int i = 0; i < 10; i++) {
		now += 5000;
		fmq_group_tick(co, now);
		hb(&a, "g", NULL, NULL, true);
		CU_ASSERT_EQUAL(a.err, 0);
	}
	CU_ASSERT_EQUAL(desc("g")->n_members, 1);
	CU_ASSERT_EQUAL(a.n, 6);
	hb(&b, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(b.err, FMQ_KERR_UNKNOWN_MEMBER_ID);
	fmq_group_get_stats(co, &st);
	CU_ASSERT_EQUAL(st.consumer_members_expired, 1);
	CU_ASSERT_EQUAL(st.consumer_leaves, 1);
	CU_ASSERT_EQUAL(st.consumer_members, 1);
	CU_ASSERT_EQUAL(st.consumer_groups, 1);
	/* The last one leaves: Empty. */
	a.epoch = -1;
	hb(&a, "g", NULL, NULL, false);
	CU_ASSERT_STRING_EQUAL(desc("g")->state, "Empty");
	teardown();
}

/* A member that never acknowledges a revocation is removed after its
 * rebalance timeout, and its partitions go to the other member. */
static void
test_rebalance_timeout(void)
{
	struct tm a, b;

	setup();
	join(&a, "g", "t6", NULL);
	join(&b, "g", "t6", NULL);
	hb(&a, "g", NULL, NULL, false);     /* asked to revoke */
	CU_ASSERT_EQUAL(a.epoch, 1);
	now += 30001;
	fmq_group_tick(co, now);
	CU_ASSERT_EQUAL(desc("g")->n_members, 1);
	hb(&b, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(b.n, 6);
	teardown();
}

/* Partitions added to a subscribed topic bump the group epoch. */
static void
test_metadata_change(void)
{
	struct tm a;
	int32_t e;

	setup();
	join(&a, "g", "t6,gone", NULL);
	CU_ASSERT_EQUAL(a.n, 6);
	e = desc("g")->group_epoch;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e);
	topics[0].nparts = 8;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e + 1);
	CU_ASSERT_EQUAL(a.n, 8);
	topics[3].exists = true;            /* a subscribed topic appears */
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e + 2);
	CU_ASSERT_EQUAL(a.n, 10);
	/* t6 deleted: its partitions are revoked. */
	topics[0].exists = false;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e + 3);
	CU_ASSERT_STRING_EQUAL(held(&a), "gone:0 gone:1");
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_STRING_EQUAL(desc("g")->state, "Stable");
	/* Recreated under a new id: other partitions, new topic id. */
	topics[0].exists = true;
	topics[0].id[1] = 1;
	hb(&a, "g", NULL, NULL, true);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e + 4);
	CU_ASSERT_EQUAL(a.n, 10);
	CU_ASSERT_TRUE(holds(&a, 0, 7));
	teardown();
}

/* A regex subscription: whole-name matches, followed as topics change. */
static void
test_regex(void)
{
	struct fmq_group_cheartbeat_req q;
	struct fmq_group_cheartbeat_resp r;
	const struct fmq_group_cgroup_desc *d;
	uint32_t n;
	char id[64];

	setup();
	memset(&q, 0, sizeof(q));
	q.version = 1;
	q.group_id = FMQ_GROUP_STR("g");
	q.member_id = FMQ_GROUP_STR("rx-1");
	q.instance_id = FMQ_GROUP_STR_NULL;
	q.rack_id = FMQ_GROUP_STR_NULL;
	q.server_assignor = FMQ_GROUP_STR_NULL;
	q.rebalance_timeout_ms = 1000;
	q.n_subscribed = -1;
	q.regex = FMQ_GROUP_STR("(");
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, FMQ_KERR_INVALID_REGULAR_EXPRESSION);
	q.regex = FMQ_GROUP_STR("t[0-9]");   /* whole name: not "t6x" */
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL_FATAL(r.error, 0);
	n = 0;
	for (uint32_t i = 0; i < r.n_assignment; i++)
		n += r.assignment[i].n_parts;
	CU_ASSERT_EQUAL(n, 6 + 3 + 8);
	snprintf(id, sizeof(id), "%.*s", r.member_id.len, r.member_id.ptr);
	d = desc("g");
	CU_ASSERT_EQUAL(d->members[0].n_subscribed, 0);
	CU_ASSERT_EQUAL(d->members[0].regex.len, 6);
	/* t8 is deleted: the next heartbeat drops it. */
	topics[2].exists = false;
	tver++;
	q.member_epoch = r.member_epoch;
	q.regex = FMQ_GROUP_STR_NULL;
	q.rebalance_timeout_ms = -1;
	q.n_owned = -1;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, 0);
	CU_ASSERT_TRUE(r.has_assignment);
	n = 0;
	for (uint32_t i = 0; i < r.n_assignment; i++)
		n += r.assignment[i].n_parts;
	CU_ASSERT_EQUAL(n, 6 + 3);
	topics[2].exists = true;
	tver++;
	teardown();
}

/* A static member leaves with -2, keeps its partitions, comes back. */
static void
test_static_rejoin(void)
{
	struct fmq_group_cheartbeat_req q;
	struct fmq_group_cheartbeat_resp r;
	struct fmq_group_str subs = FMQ_GROUP_STR("t3");
	char id[64];
	int32_t e;

	setup();
	memset(&q, 0, sizeof(q));
	q.group_id = FMQ_GROUP_STR("g");
	q.member_id = FMQ_GROUP_STR("");
	q.instance_id = FMQ_GROUP_STR("i1");
	q.rack_id = FMQ_GROUP_STR_NULL;
	q.regex = FMQ_GROUP_STR_NULL;
	q.server_assignor = FMQ_GROUP_STR_NULL;
	q.rebalance_timeout_ms = 1000;
	q.subscribed = &subs;
	q.n_subscribed = 1;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL_FATAL(r.error, 0);
	CU_ASSERT_EQUAL(r.n_assignment, 1);
	snprintf(id, sizeof(id), "%.*s", r.member_id.len, r.member_id.ptr);
	e = r.member_epoch;
	q.member_id = FMQ_GROUP_STR(id);
	q.member_epoch = -2;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, 0);
	CU_ASSERT_EQUAL(r.member_epoch, -2);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e);   /* no rebalance */
	/* The same member comes back: its epoch and partitions. */
	q.member_epoch = 0;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, 0);
	CU_ASSERT_EQUAL(r.member_epoch, e);
	CU_ASSERT_TRUE(r.has_assignment);
	CU_ASSERT_EQUAL(r.n_assignment, 1);
	CU_ASSERT_EQUAL(r.assignment[0].n_parts, 3);
	CU_ASSERT_EQUAL(desc("g")->group_epoch, e);
	/* Past the session while gone: removed. */
	q.member_epoch = -2;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	now += 45001;
	fmq_group_tick(co, now);
	CU_ASSERT_EQUAL(desc("g")->n_members, 0);
	teardown();
}

static void
test_invalid_and_describe(void)
{
	struct fmq_group_cheartbeat_req q;
	struct fmq_group_cheartbeat_resp r;
	struct fmq_group_str subs = FMQ_GROUP_STR("t6");
	const struct fmq_group_cgroup_desc *d;
	struct fmq_group_str ids[2] = { FMQ_GROUP_STR("g"),
					FMQ_GROUP_STR("none") };
	struct tm a;

	setup();
	memset(&q, 0, sizeof(q));
	q.group_id = FMQ_GROUP_STR("g");
	q.member_id = FMQ_GROUP_STR("");
	q.instance_id = FMQ_GROUP_STR_NULL;
	q.rack_id = FMQ_GROUP_STR_NULL;
	q.regex = FMQ_GROUP_STR_NULL;
	q.server_assignor = FMQ_GROUP_STR_NULL;
	q.rebalance_timeout_ms = 1000;
	q.n_subscribed = -1;
	q.n_owned = 0;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, FMQ_KERR_INVALID_REQUEST);
	CU_ASSERT_PTR_NOT_NULL(r.error_message);
	q.subscribed = &subs;
	q.n_subscribed = 1;
	q.n_owned = -1;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, FMQ_KERR_INVALID_REQUEST);
	q.n_owned = 0;
	q.version = 1;     /* v1: the client makes the member id */
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, FMQ_KERR_INVALID_REQUEST);
	q.member_id = FMQ_GROUP_STR("client-made-id");
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, 0);
	CU_ASSERT_EQUAL(r.member_id.len, 14);
	CU_ASSERT_EQUAL(r.member_epoch, 1);
	q.member_epoch = -3;
	fmq_group_consumer_heartbeat(co, &q, &r, now);
	CU_ASSERT_EQUAL(r.error, FMQ_KERR_INVALID_REQUEST);
	join(&a, "g", "t6", NULL);
	CU_ASSERT_EQUAL_FATAL(fmq_group_consumer_describe(co, ids, 2, &d, now),
			      0);
	CU_ASSERT_EQUAL(d[0].error, 0);
	CU_ASSERT_EQUAL(d[0].n_members, 2);
	CU_ASSERT_EQUAL(d[0].members[1].n_subscribed, 1);
	CU_ASSERT_EQUAL(d[0].members[1].client_id.len, 3);
	CU_ASSERT_STRING_EQUAL(topic_name(d[0].members[0].target[0].topic_id),
			       "t6");
	CU_ASSERT_EQUAL(d[1].error, FMQ_KERR_GROUP_ID_NOT_FOUND);
	teardown();
}

/* OffsetCommit from a member: the member epoch is the generation. */
static void
test_commit_epoch(void)
{
	struct fmq_group_commit_part part = {
		.topic = FMQ_GROUP_STR("t6"), .partition = 0, .offset = 7,
		.leader_epoch = -1, .metadata = FMQ_GROUP_STR(""),
	};
	struct fmq_group_commit_req cr;
	struct tm a;

	setup();
	join(&a, "g", "t6", NULL);
	memset(&cr, 0, sizeof(cr));
	cr.group_id = FMQ_GROUP_STR("g");
	cr.member_id = FMQ_GROUP_STR(a.id);
	cr.group_instance_id = FMQ_GROUP_STR_NULL;
	cr.generation_id = a.epoch;
	cr.retention_ms = -1;
	cr.commit_timestamp = -1;
	cr.parts = &part;
	cr.n_parts = 1;
	cr.api_version = 9;
	commit_err = -100;
	fmq_group_offset_commit(co, 1, &cr, now);
	fmq_group_flush(co, now);
	CU_ASSERT_EQUAL(commit_err, 0);
	cr.generation_id = a.epoch + 1;
	fmq_group_offset_commit(co, 2, &cr, now);
	fmq_group_flush(co, now);
	CU_ASSERT_EQUAL(commit_err, FMQ_KERR_STALE_MEMBER_EPOCH);
	/* A consumer-protocol member below v9 (Kafka 3.9). */
	cr.generation_id = a.epoch;
	cr.api_version = 8;
	fmq_group_offset_commit(co, 4, &cr, now);
	fmq_group_flush(co, now);
	CU_ASSERT_EQUAL(commit_err, FMQ_KERR_UNSUPPORTED_VERSION);
	cr.api_version = 9;
	cr.generation_id = -1;
	cr.member_id = FMQ_GROUP_STR("");
	fmq_group_offset_commit(co, 3, &cr, now);
	fmq_group_flush(co, now);
	CU_ASSERT_EQUAL(commit_err, FMQ_KERR_UNKNOWN_MEMBER_ID);
	teardown();
}

/* ListGroups v5: the group type, and the type and state filters. */
static void
test_list_types(void)
{
	struct fmq_group_list_req lr;
	struct fmq_group_str f[2] = { FMQ_GROUP_STR("CONSUMER"),
				      FMQ_GROUP_STR("classic") };
	struct fmq_group_str st = FMQ_GROUP_STR("stable");
	struct fmq_group_commit_part part = {
		.topic = FMQ_GROUP_STR("t6"), .partition = 0, .offset = 7,
		.leader_epoch = -1, .metadata = FMQ_GROUP_STR(""),
	};
	struct fmq_group_commit_req cr;
	struct tm a;

	setup();
	join(&a, "g", "t6", NULL);
	/* A classic group: standalone commits make an empty one. */
	memset(&cr, 0, sizeof(cr));
	cr.group_id = FMQ_GROUP_STR("simple");
	cr.member_id = FMQ_GROUP_STR("");
	cr.group_instance_id = FMQ_GROUP_STR_NULL;
	cr.generation_id = -1;
	cr.retention_ms = -1;
	cr.commit_timestamp = -1;
	cr.parts = &part;
	cr.n_parts = 1;
	fmq_group_offset_commit(co, 1, &cr, now);
	fmq_group_flush(co, now);
	memset(&lr, 0, sizeof(lr));
	fmq_group_list(co, 2, &lr, now);
	CU_ASSERT_STRING_EQUAL(list_buf, "[g consumer Stable consumer]"
			       "[simple  Empty classic]");
	lr.types = f;
	lr.n_types = 1;
	fmq_group_list(co, 3, &lr, now);
	CU_ASSERT_STRING_EQUAL(list_buf, "[g consumer Stable consumer]");
	lr.types = &f[1];
	fmq_group_list(co, 4, &lr, now);
	CU_ASSERT_STRING_EQUAL(list_buf, "[simple  Empty classic]");
	lr.types = f;
	lr.n_types = 2;
	lr.states = &st;
	lr.n_states = 1;
	fmq_group_list(co, 5, &lr, now);
	CU_ASSERT_STRING_EQUAL(list_buf, "[g consumer Stable consumer]");
	teardown();
}

static void
offset_cb(void *arg, struct fmq_group_str t, int32_t p, int64_t off,
	  int64_t hw)
{
	(void)arg;
	(void)t;
	(void)hw;
	if (p == 0 && off == 7)
		offsets_seen++;
}

static void
classic_join(const char *gid)
{
	static const uint8_t meta[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct fmq_group_protocol proto = {
		.name = FMQ_GROUP_STR("range"),
		.metadata = { meta, sizeof(meta) },
	};
	struct fmq_group_join_req jr;

	memset(&jr, 0, sizeof(jr));
	jr.version = 3;
	jr.group_id = FMQ_GROUP_STR(gid);
	jr.member_id = FMQ_GROUP_STR("");
	jr.group_instance_id = FMQ_GROUP_STR_NULL;
	jr.client_id = FMQ_GROUP_STR("c");
	jr.client_host = FMQ_GROUP_STR("/1.2.3.4");
	jr.session_timeout_ms = 10000;
	jr.rebalance_timeout_ms = 10000;
	jr.protocol_type = FMQ_GROUP_STR("consumer");
	jr.protocols = &proto;
	jr.n_protocols = 1;
	join_err = -100;
	fmq_group_join(co, 9, &jr, now);
}

/* A group is classic or consumer: each protocol is refused on a group of
 * the other with members; an empty group switches, keeping its offsets. */
static void
test_protocol_mixing(void)
{
	struct fmq_group_commit_part part = {
		.topic = FMQ_GROUP_STR("t6"), .partition = 0, .offset = 7,
		.leader_epoch = -1, .metadata = FMQ_GROUP_STR(""),
	};
	struct fmq_group_commit_req cr;
	struct tm a, b;

	setup();
	join(&a, "g", "t6", NULL);
	classic_join("g");
	CU_ASSERT_EQUAL(join_err, FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	/* A classic group with a member (joining). */
	classic_join("cl");
	memset(&b, 0, sizeof(b));
	hb(&b, "cl", "t6", NULL, true);
	CU_ASSERT_EQUAL(b.err, FMQ_KERR_GROUP_ID_NOT_FOUND);
	/* An empty classic group with offsets becomes a consumer group. */
	memset(&cr, 0, sizeof(cr));
	cr.group_id = FMQ_GROUP_STR("simple");
	cr.member_id = FMQ_GROUP_STR("");
	cr.group_instance_id = FMQ_GROUP_STR_NULL;
	cr.generation_id = -1;
	cr.retention_ms = -1;
	cr.commit_timestamp = -1;
	cr.parts = &part;
	cr.n_parts = 1;
	fmq_group_offset_commit(co, 1, &cr, now);
	fmq_group_flush(co, now);
	join(&b, "simple", "t6", NULL);
	CU_ASSERT_EQUAL(b.epoch, 1);
	CU_ASSERT_EQUAL(b.n, 6);
	offsets_seen = 0;
	fmq_group_visit(co, NULL, offset_cb, NULL);
	CU_ASSERT_EQUAL(offsets_seen, 1);
	/* Once empty again, a classic member may take it back. */
	b.epoch = -1;
	hb(&b, "simple", NULL, NULL, false);
	classic_join("simple");
	CU_ASSERT_NOT_EQUAL(join_err, FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	teardown();
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	fmq_log_set_level(FMQ_LOG_ERR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("consumer group protocol", NULL, NULL);
	CU_add_test(s, "join alone", test_join_alone);
	CU_add_test(s, "revocation before reassignment",
		    test_revocation_first);
	CU_add_test(s, "uniform: balanced and sticky",
		    test_uniform_balance_sticky);
	CU_add_test(s, "uniform: heterogeneous subscriptions",
		    test_uniform_heterogeneous);
	CU_add_test(s, "range", test_range);
	CU_add_test(s, "fencing", test_fencing);
	CU_add_test(s, "leave and session expiry", test_leave_and_expiry);
	CU_add_test(s, "rebalance timeout", test_rebalance_timeout);
	CU_add_test(s, "metadata change", test_metadata_change);
	CU_add_test(s, "static member leaves and returns", test_static_rejoin);
	CU_add_test(s, "regex subscription", test_regex);
	CU_add_test(s, "invalid heartbeats and describe",
		    test_invalid_and_describe);
	CU_add_test(s, "offset commit with the member epoch",
		    test_commit_epoch);
	CU_add_test(s, "ListGroups types", test_list_types);
	CU_add_test(s, "classic and consumer protocols do not mix",
		    test_protocol_mixing);
	return fmq_test_run(argc, argv);
}
