/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the group coordinator against a fake clock: membership
 * (JoinGroup/SyncGroup/Heartbeat/LeaveGroup and their timeouts), offsets
 * (commit, fetch, delete, retention) and the journal (crash, torn tail,
 * compaction).
 */
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "group_test.h"
#include "harness.h"

typedef char mid_t_[CAP_STR];

/* The response for tok; a failed assertion and an empty stand-in when
 * there is none, so that a missing answer fails the test, not the run. */
static const struct cap *
R(uint64_t tok)
{
	static struct cap none = { .error = -999 };
	const struct cap *c = t_resp(tok);

	CU_ASSERT_PTR_NOT_NULL(c);
	return c ? c : &none;
}

/* Build a Stable group of n dynamic members (JoinGroup v3, so no
 * MEMBER_ID_REQUIRED round trip); member i gets assignment "A<i>". The
 * first member is the leader. Returns the generation. */
static int32_t
stable_group(const char *gid, int n, mid_t_ *mids, const char *protocols)
{
	uint64_t jt[CAP_N], st[CAP_N];
	char assign[1024] = "";
	const struct cap *c;
	int32_t gen;

	for (int i = 0; i < n; i++)
		jt[i] = t_join(gid, "", NULL, 3, "consumer", protocols, 10000,
			       30000);
	t_tick(0);
	for (int i = 0; i < n; i++) {
		c = t_resp(jt[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT_EQUAL_FATAL(c->error, 0);
		strcpy(mids[i], c->member_id);
	}
	c = t_resp(jt[0]);
	gen = c->generation;
	CU_ASSERT_STRING_EQUAL(c->leader, mids[0]);
	CU_ASSERT_EQUAL(c->n_members, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		char one[CAP_STR + 16];

		snprintf(one, sizeof(one), "%s%s=A%d", i ? ";" : "", mids[i], i);
		strcat(assign, one);
	}
	for (int i = 1; i < n; i++)
		st[i] = t_sync(gid, mids[i], NULL, gen, NULL);
	st[0] = t_sync(gid, mids[0], NULL, gen, assign);
	for (int i = 0; i < n; i++) {
		char want[16];

		c = t_resp(st[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT_EQUAL(c->error, 0);
		snprintf(want, sizeof(want), "A%d", i);
		CU_ASSERT_STRING_EQUAL(c->assignment, want);
	}
	return gen;
}

static int
err_of(uint64_t tok)
{
	const struct cap *c = t_resp(tok);

	CU_ASSERT_PTR_NOT_NULL(c);
	return c ? c->error : -999;
}

static void
flush(void)
{
	CU_ASSERT_EQUAL(fmq_group_flush(t_co, t_now), 0);
}

static const char *
state_of(const char *gid)
{
	static char st[CAP_STR];
	const struct cap *c = t_resp(t_describe(gid));

	snprintf(st, sizeof(st), "%s", c ? c->groups[0].state : "?");
	return st;
}

/* ------------------------------------------------------------------------
 * Membership
 * ---------------------------------------------------------------------- */

static void
test_single_member(void)
{
	const struct cap *c;
	uint64_t j, s;
	char mid[CAP_STR];

	t_setup();
	j = t_join("g1", "", NULL, 3, "consumer", "range:m1", 10000, 30000);
	/* The first rebalance of an empty group waits for the initial
	 * delay (0 here) on the timer, never inline. */
	CU_ASSERT_PTR_NULL(t_resp(j));
	CU_ASSERT_STRING_EQUAL(state_of("g1"), "PreparingRebalance");
	t_tick(0);
	c = t_resp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_EQUAL(c->generation, 1);
	CU_ASSERT_STRING_EQUAL(c->protocol_name, "range");
	CU_ASSERT_STRING_EQUAL(c->protocol_type, "consumer");
	CU_ASSERT_STRING_EQUAL(c->leader, c->member_id);
	CU_ASSERT(strncmp(c->member_id, "client-", 7) == 0);
	CU_ASSERT_EQUAL(strlen(c->member_id), 7 + 36);
	CU_ASSERT_EQUAL(c->n_members, 1);
	strcpy(mid, c->member_id);
	CU_ASSERT_STRING_EQUAL(state_of("g1"), "CompletingRebalance");

	s = t_sync("g1", mid, NULL, 1, NULL);
	/* A leader SyncGroup without assignments completes the generation
	 * with empty ones, as in Kafka. */
	c = t_resp(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_STRING_EQUAL(c->assignment, "");
	CU_ASSERT_STRING_EQUAL(state_of("g1"), "Stable");

	CU_ASSERT_EQUAL(err_of(t_heartbeat("g1", mid, NULL, 1)), 0);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g1", mid, NULL, 2)),
			FMQ_KERR_ILLEGAL_GENERATION);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g1", "nobody", NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("nogroup", mid, NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("", mid, NULL, 1)),
			FMQ_KERR_INVALID_GROUP_ID);
	/* A follower-style rejoin of the only (leader) member rebalances. */
	j = t_join("g1", mid, NULL, 3, "consumer", "range:m1", 10000, 30000);
	c = t_resp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->generation, 2);
	t_teardown();
}

static void
test_three_members(void)
{
	mid_t_ m[3];
	uint64_t j[3], s[3];
	const struct cap *c;

	t_setup();
	/* v5: each new member goes through MEMBER_ID_REQUIRED. */
	for (int i = 0; i < 3; i++)
		j[i] = t_join_new("g", "range:meta", m[i]);
	CU_ASSERT_PTR_NULL(t_resp(j[0]));
	t_tick(0);
	for (int i = 0; i < 3; i++) {
		c = t_resp(j[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT_EQUAL(c->error, 0);
		CU_ASSERT_EQUAL(c->generation, 1);
		CU_ASSERT_STRING_EQUAL(c->leader, m[0]);
		CU_ASSERT_STRING_EQUAL(c->member_id, m[i]);
		/* Only the leader learns the members. */
		CU_ASSERT_EQUAL(c->n_members, i == 0 ? 3u : 0u);
	}
	c = t_resp(j[0]);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_STRING_EQUAL(c->members[i], m[i]);
	/* Followers wait for the leader's assignment. */
	s[1] = t_sync("g", m[1], NULL, 1, NULL);
	s[2] = t_sync("g", m[2], NULL, 1, NULL);
	CU_ASSERT_PTR_NULL(t_resp(s[1]));
	CU_ASSERT_PTR_NULL(t_resp(s[2]));
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[1], NULL, 1)), 0);
	{
		char a[512];

		snprintf(a, sizeof(a), "%s=X;%s=Y;%s=Z;stranger=W", m[0], m[1],
			 m[2]);
		s[0] = t_sync("g", m[0], NULL, 1, a);
	}
	CU_ASSERT_STRING_EQUAL(R(s[0])->assignment, "X");
	CU_ASSERT_STRING_EQUAL(R(s[1])->assignment, "Y");
	CU_ASSERT_STRING_EQUAL(R(s[2])->assignment, "Z");
	CU_ASSERT_STRING_EQUAL(R(s[2])->protocol_name, "range");
	/* A later SyncGroup in Stable returns the same assignment. */
	CU_ASSERT_STRING_EQUAL(t_resp(t_sync("g", m[2], NULL, 1,
					     NULL))->assignment, "Z");
	CU_ASSERT_EQUAL(err_of(t_sync("g", m[2], NULL, 0, NULL)),
			FMQ_KERR_ILLEGAL_GENERATION);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[2], NULL, 1)), 0);
	{
		struct fmq_group_stats st;

		fmq_group_get_stats(t_co, &st);
		CU_ASSERT_EQUAL(st.members, 3);
		CU_ASSERT_EQUAL(st.groups_by_state[GS_STABLE], 1);
		CU_ASSERT_EQUAL(st.rebalances_completed, 1);
	}
	t_teardown();
}

static void
test_member_id_required(void)
{
	const struct cap *c;
	mid_t_ m;
	char pid[CAP_STR];
	uint64_t j, lj;

	t_setup();
	j = t_join("g", "", NULL, 4, "consumer", "range", 10000, 30000);
	c = t_resp(j);
	CU_ASSERT_EQUAL(c->error, FMQ_KERR_MEMBER_ID_REQUIRED);
	CU_ASSERT_EQUAL(c->generation, -1);
	CU_ASSERT(strlen(c->member_id) > 7);
	strcpy(pid, c->member_id);
	/* An id the coordinator never handed out. */
	CU_ASSERT_EQUAL(err_of(t_join("g", "made-up", NULL, 4, "consumer",
				      "range", 10000, 30000)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	/* A member id for a group that does not exist. */
	CU_ASSERT_EQUAL(err_of(t_join("nogroup", "x", NULL, 4, "consumer",
				      "range", 10000, 30000)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	j = t_join("g", pid, NULL, 4, "consumer", "range", 10000, 30000);
	t_tick(0);
	c = t_resp(j);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_STRING_EQUAL(c->member_id, pid);
	strcpy(m, pid);
	CU_ASSERT_EQUAL(err_of(t_sync("g", m, NULL, 1, NULL)), 0);

	/* A pending member holds up the rebalance the leader starts... */
	j = t_join("g", "", NULL, 4, "consumer", "range", 10000, 30000);
	strcpy(pid, R(j)->member_id);
	CU_ASSERT_STRING_EQUAL(state_of("g"), "Stable");
	lj = t_join("g", m, NULL, 4, "consumer", "range", 10000, 30000);
	CU_ASSERT_PTR_NULL(t_resp(lj));
	/* ...until it joins with its id. */
	j = t_join("g", pid, NULL, 4, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(R(lj)->generation, 2);
	CU_ASSERT_EQUAL(R(lj)->n_members, 2);
	CU_ASSERT_EQUAL(R(j)->generation, 2);

	/* A pending id expires after the session timeout. */
	j = t_join("g2", "", NULL, 4, "consumer", "range", 10000, 30000);
	strcpy(pid, R(j)->member_id);
	t_tick(10001);
	CU_ASSERT_EQUAL(err_of(t_join("g2", pid, NULL, 4, "consumer", "range",
				      10000, 30000)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	t_teardown();
}

static void
test_protocol_selection(void)
{
	uint64_t j[4];
	const struct cap *c;

	t_setup();
	/* Common to all: rr and range; two members prefer rr. */
	j[0] = t_join("g", "", NULL, 3, "consumer", "rr,range", 10000, 30000);
	j[1] = t_join("g", "", NULL, 3, "consumer", "range,rr", 10000, 30000);
	j[2] = t_join("g", "", NULL, 3, "consumer", "rr,range,sticky", 10000,
		      30000);
	/* Nothing in common with the group. */
	j[3] = t_join("g", "", NULL, 3, "consumer", "sticky", 10000, 30000);
	c = t_resp(j[3]);
	CU_ASSERT_EQUAL(c->error, FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(c->member_id, "");
	/* Another protocol type. */
	CU_ASSERT_EQUAL(err_of(t_join("g", "", NULL, 3, "connect", "rr",
				      10000, 30000)),
			FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	t_tick(0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_STRING_EQUAL(R(j[i])->protocol_name, "rr");

	/* The only protocol every member supports wins whatever the votes. */
	j[0] = t_join("h", "", NULL, 3, "consumer", "rr,range", 10000, 30000);
	j[1] = t_join("h", "", NULL, 3, "consumer", "rr,range", 10000, 30000);
	j[2] = t_join("h", "", NULL, 3, "consumer", "range", 10000, 30000);
	t_tick(0);
	CU_ASSERT_STRING_EQUAL(R(j[0])->protocol_name, "range");

	/* The first member needs a protocol type and a protocol. */
	CU_ASSERT_EQUAL(err_of(t_join("e", "", NULL, 3, "", "rr", 10000,
				      30000)),
			FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	CU_ASSERT_EQUAL(err_of(t_join("e", "", NULL, 3, "consumer", "", 10000,
				      30000)),
			FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	t_teardown();
}

static void
test_rebalance_on_join(void)
{
	mid_t_ m[3];
	uint64_t j0, j1, j2, cm;
	const struct cap *c;

	t_setup();
	stable_group("g", 2, m, "range");
	j2 = t_join("g", "", NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_PTR_NULL(t_resp(j2));
	CU_ASSERT_STRING_EQUAL(state_of("g"), "PreparingRebalance");
	/* Members learn about the rebalance from their heartbeat... */
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[0], NULL, 1)),
			FMQ_KERR_REBALANCE_IN_PROGRESS);
	CU_ASSERT_EQUAL(err_of(t_sync("g", m[0], NULL, 1, NULL)),
			FMQ_KERR_REBALANCE_IN_PROGRESS);
	/* ...and may still commit for the old generation. */
	cm = t_commit("g", m[0], NULL, 1, "t:0=10");
	flush();
	CU_ASSERT_EQUAL(err_of(cm), 0);
	CU_ASSERT_EQUAL(R(cm)->item_errors[0], 0);
	j0 = t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_PTR_NULL(t_resp(j0));
	j1 = t_join("g", m[1], NULL, 3, "consumer", "range", 10000, 30000);
	/* The last one in completes the join at once. */
	c = t_resp(j2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->generation, 2);
	CU_ASSERT_EQUAL(R(j0)->generation, 2);
	CU_ASSERT_EQUAL(R(j0)->n_members, 3);
	CU_ASSERT_EQUAL(R(j1)->generation, 2);
	CU_ASSERT_STRING_EQUAL(R(j1)->leader, m[0]);
	t_teardown();
}

static void
test_leave(void)
{
	mid_t_ m[3];
	const struct cap *c;
	uint64_t l, s1, j0, j2;
	char who[1024];

	t_setup();
	stable_group("g", 3, m, "range");
	snprintf(who, sizeof(who), "%s/-;unknown-x/-;%s/zz", m[1], m[2]);
	l = t_leave("g", who);
	c = t_resp(l);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_EQUAL(c->n_items, 3);
	CU_ASSERT_EQUAL(c->item_errors[0], 0);
	CU_ASSERT_EQUAL(c->item_errors[1], FMQ_KERR_UNKNOWN_MEMBER_ID);
	/* An instance id that is not the member's: unknown. */
	CU_ASSERT_EQUAL(c->item_errors[2], FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_STRING_EQUAL(state_of("g"), "PreparingRebalance");
	j0 = t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	j2 = t_join("g", m[2], NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(R(j0)->generation, 2);
	CU_ASSERT_EQUAL(R(j0)->n_members, 2);
	CU_ASSERT_EQUAL(R(j2)->generation, 2);
	/* A follower parked in SyncGroup while another member leaves is
	 * told to rejoin. */
	s1 = t_sync("g", m[2], NULL, 2, NULL);
	CU_ASSERT_PTR_NULL(t_resp(s1));
	snprintf(who, sizeof(who), "%s/-", m[0]);
	CU_ASSERT_EQUAL(R(t_leave("g", who))->item_errors[0], 0);
	CU_ASSERT_EQUAL(err_of(s1), FMQ_KERR_REBALANCE_IN_PROGRESS);
	/* Unknown group: per-member UNKNOWN_MEMBER_ID. */
	c = t_resp(t_leave("nogroup", "a/-"));
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_EQUAL(c->item_errors[0], FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_EQUAL(err_of(t_leave("", "a/-")), FMQ_KERR_INVALID_GROUP_ID);
	t_teardown();
}

static void
test_session_expiry(void)
{
	mid_t_ m[2];
	uint64_t j;
	struct fmq_group_stats st;

	t_setup();
	stable_group("g", 2, m, "range");
	t_tick(6000);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[0], NULL, 1)), 0);
	t_tick(3999);
	CU_ASSERT_STRING_EQUAL(state_of("g"), "Stable");
	t_tick(2);   /* m[1] silent for 10001 ms */
	CU_ASSERT_STRING_EQUAL(state_of("g"), "PreparingRebalance");
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.members_expired, 1);
	CU_ASSERT_EQUAL(st.members, 1);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[1], NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[0], NULL, 1)),
			FMQ_KERR_REBALANCE_IN_PROGRESS);
	j = t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(R(j)->generation, 2);
	CU_ASSERT_EQUAL(R(j)->n_members, 1);
	t_teardown();
}

static void
test_rebalance_timeout(void)
{
	mid_t_ m[2];
	uint64_t j;

	t_setup();
	stable_group("g", 2, m, "range");
	j = t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	for (int i = 0; i < 5; i++) {
		t_tick(5000);
		/* Alive but not rejoining. */
		CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[1], NULL, 1)),
				FMQ_KERR_REBALANCE_IN_PROGRESS);
	}
	t_tick(4999);
	CU_ASSERT_PTR_NULL(t_resp(j));
	t_tick(1);   /* 30000 ms after the rebalance began */
	CU_ASSERT_EQUAL(R(j)->generation, 2);
	CU_ASSERT_EQUAL(R(j)->n_members, 1);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[1], NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	t_teardown();
}

static void
test_sync_timeout(void)
{
	mid_t_ m[2];
	uint64_t j0, j1, s1, j;

	t_setup();
	/* Sessions longer than the rebalance timeout, so that the silent
	 * leader is caught by the SyncGroup timeout, not its session. */
	j0 = t_join("g", "", NULL, 3, "consumer", "range", 30000, 20000);
	j1 = t_join("g", "", NULL, 3, "consumer", "range", 30000, 20000);
	t_tick(0);
	strcpy(m[0], R(j0)->member_id);
	strcpy(m[1], R(j1)->member_id);
	s1 = t_sync("g", m[1], NULL, 1, NULL);
	/* The leader never sends SyncGroup; m[1] keeps heartbeating. */
	for (int i = 0; i < 3; i++) {
		t_tick(6000);
		CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[1], NULL, 1)), 0);
	}
	CU_ASSERT_PTR_NULL(t_resp(s1));
	t_tick(2000);  /* rebalance timeout after the join completed */
	CU_ASSERT_EQUAL(err_of(s1), FMQ_KERR_REBALANCE_IN_PROGRESS);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m[0], NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	j = t_join("g", m[1], NULL, 3, "consumer", "range", 30000, 20000);
	CU_ASSERT_EQUAL(R(j)->generation, 2);
	CU_ASSERT_STRING_EQUAL(R(j)->leader, m[1]);
	t_teardown();
}

static void
test_initial_delay(void)
{
	uint64_t j1, j2, j3;

	t_setup();
	t_crash();
	t_conf.initial_rebalance_delay_ms = 3000;
	t_open();
	j1 = t_join("g", "", NULL, 3, "consumer", "range", 10000, 10000);
	t_tick(1000);
	j2 = t_join("g", "", NULL, 3, "consumer", "range", 10000, 10000);
	t_tick(2000);  /* t = 3000: a member came, wait another delay */
	CU_ASSERT_PTR_NULL(t_resp(j1));
	t_tick(2999);
	CU_ASSERT_PTR_NULL(t_resp(j1));
	t_tick(1);     /* t = 6000 */
	CU_ASSERT_EQUAL(R(j1)->generation, 1);
	CU_ASSERT_EQUAL(R(j1)->n_members, 2);
	CU_ASSERT_EQUAL(R(j2)->generation, 1);

	/* Never longer than the rebalance timeout (5000 here). */
	j1 = t_join("h", "", NULL, 3, "consumer", "range", 10000, 5000);
	t_tick(1000);
	j2 = t_join("h", "", NULL, 3, "consumer", "range", 10000, 5000);
	t_tick(3000);  /* t = 4000 */
	j3 = t_join("h", "", NULL, 3, "consumer", "range", 10000, 5000);
	t_tick(999);
	CU_ASSERT_PTR_NULL(t_resp(j1));
	t_tick(1);     /* t = 5000 */
	CU_ASSERT_EQUAL(R(j1)->n_members, 3);
	CU_ASSERT_EQUAL(R(j3)->generation, 1);
	t_teardown();
}

static void
test_static_membership(void)
{
	char m1[CAP_STR], m2[CAP_STR], m2b[CAP_STR], m1b[CAP_STR];
	const struct cap *c;
	uint64_t j1, j2, j, jold, lj;
	struct fmq_group_stats st;
	char a[512];

	t_setup();
	j1 = t_join("g", "", "i1", 5, "consumer", "range:x", 10000, 30000);
	j2 = t_join("g", "", "i2", 5, "consumer", "range:y", 10000, 30000);
	t_tick(0);
	/* Static members get their id at once (no MEMBER_ID_REQUIRED). */
	strcpy(m1, R(j1)->member_id);
	strcpy(m2, R(j2)->member_id);
	CU_ASSERT(strncmp(m1, "i1-", 3) == 0);
	snprintf(a, sizeof(a), "%s=A;%s=B", m1, m2);
	t_sync("g", m2, "i2", 1, NULL);
	t_sync("g", m1, "i1", 1, a);
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.rebalances, 1);

	/* i2 restarts: new member id, same generation, no rebalance. */
	j = t_join("g", "", "i2", 5, "consumer", "range:y", 10000, 30000);
	c = t_resp(j);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_EQUAL(c->generation, 1);
	CU_ASSERT_STRING_NOT_EQUAL(c->member_id, m2);
	CU_ASSERT_STRING_EQUAL(c->leader, m1);
	CU_ASSERT_EQUAL(c->n_members, 0);
	strcpy(m2b, c->member_id);
	CU_ASSERT_STRING_EQUAL(state_of("g"), "Stable");
	/* It keeps its assignment. */
	CU_ASSERT_STRING_EQUAL(t_resp(t_sync("g", m2b, "i2", 1,
					     NULL))->assignment, "B");
	/* The old incarnation is fenced. */
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m2, "i2", 1)),
			FMQ_KERR_FENCED_INSTANCE_ID);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m2, NULL, 1)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	CU_ASSERT_EQUAL(t_resp(t_commit("g", m2, "i2", 1,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_FENCED_INSTANCE_ID);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m2b, "i2", 1)), 0);

	/* The leader restarts with v5: it is told the old leader id so it
	 * does not run an assignment a Stable group would ignore. */
	j = t_join("g", "", "i1", 5, "consumer", "range:x", 10000, 30000);
	c = t_resp(j);
	strcpy(m1b, c->member_id);
	CU_ASSERT_STRING_EQUAL(c->leader, m1);
	CU_ASSERT_FALSE(c->skip_assignment);
	/* With v9 it is told it leads, and to skip the assignment. */
	j = t_join("g", "", "i1", 9, "consumer", "range:x", 10000, 30000);
	c = t_resp(j);
	CU_ASSERT_STRING_NOT_EQUAL(c->member_id, m1b);
	CU_ASSERT_STRING_EQUAL(c->leader, c->member_id);
	CU_ASSERT_TRUE(c->skip_assignment);
	CU_ASSERT_EQUAL(c->n_members, 2);
	strcpy(m1, c->member_id);
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.rebalances, 1);

	/* i2 changes its metadata: rebalance; then i2 restarts while its
	 * JoinGroup is parked: the parked one is fenced. */
	jold = t_join("g", m2b, "i2", 5, "consumer", "range:changed", 10000,
		      30000);
	CU_ASSERT_PTR_NULL(t_resp(jold));
	CU_ASSERT_STRING_EQUAL(state_of("g"), "PreparingRebalance");
	j = t_join("g", "", "i2", 5, "consumer", "range:y", 10000, 30000);
	CU_ASSERT_EQUAL(err_of(jold), FMQ_KERR_FENCED_INSTANCE_ID);
	CU_ASSERT_PTR_NULL(t_resp(j));
	lj = t_join("g", m1, "i1", 5, "consumer", "range:x", 10000, 30000);
	CU_ASSERT_EQUAL(R(lj)->generation, 2);
	CU_ASSERT_EQUAL(R(j)->generation, 2);
	strcpy(m2b, R(j)->member_id);
	snprintf(a, sizeof(a), "%s=A2;%s=B2", m1, m2b);
	t_sync("g", m1, "i1", 2, a);

	/* A static member that does not rejoin is not kicked by the
	 * rebalance timeout; it stays in the next generation. */
	lj = t_join("g", m1, "i1", 5, "consumer", "range:x", 10000, 30000);
	for (int i = 0; i < 6; i++) {
		t_tick(5000);
		t_heartbeat("g", m2b, "i2", 2);
	}
	CU_ASSERT_EQUAL(R(lj)->generation, 3);
	CU_ASSERT_EQUAL(R(lj)->n_members, 2);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m2b, "i2", 2)),
			FMQ_KERR_ILLEGAL_GENERATION);

	/* Administrative removal by instance id. */
	c = t_resp(t_leave("g", "/i2"));
	CU_ASSERT_EQUAL(c->item_errors[0], 0);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", m2b, "i2", 3)),
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	c = t_resp(t_leave("g", "/i2"));
	CU_ASSERT_EQUAL(c->item_errors[0], FMQ_KERR_UNKNOWN_MEMBER_ID);
	t_teardown();
}

static void
test_limits_and_validation(void)
{
	mid_t_ m[2];
	struct fmq_group_sync_req sr;
	uint64_t tok;

	t_setup();
	t_crash();
	t_conf.max_size = 2;
	t_conf.max_groups = 3;
	t_open();
	stable_group("g", 2, m, "range");
	CU_ASSERT_EQUAL(err_of(t_join("g", "", NULL, 3, "consumer", "range",
				      10000, 30000)),
			FMQ_KERR_GROUP_MAX_SIZE_REACHED);
	CU_ASSERT_EQUAL(err_of(t_join("g", "", NULL, 3, "consumer", "range",
				      5999, 30000)),
			FMQ_KERR_INVALID_SESSION_TIMEOUT);
	CU_ASSERT_EQUAL(err_of(t_join("g", "", NULL, 3, "consumer", "range",
				      1800001, 30000)),
			FMQ_KERR_INVALID_SESSION_TIMEOUT);
	CU_ASSERT_EQUAL(err_of(t_join("", "", NULL, 3, "consumer", "range",
				      10000, 30000)),
			FMQ_KERR_INVALID_GROUP_ID);
	/* SyncGroup v5 checks the protocol type and name. */
	memset(&sr, 0, sizeof(sr));
	sr.version = 5;
	sr.group_id = FMQ_GROUP_STR("g");
	sr.generation_id = 1;
	sr.member_id = (struct fmq_group_str){ m[1], (int32_t)strlen(m[1]) };
	sr.group_instance_id = FMQ_GROUP_STR_NULL;
	sr.protocol_type = FMQ_GROUP_STR_NULL;
	sr.protocol_name = FMQ_GROUP_STR("range");
	tok = t_token();
	fmq_group_sync(t_co, tok, &sr, t_now);
	CU_ASSERT_EQUAL(err_of(tok), FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	sr.protocol_type = FMQ_GROUP_STR("consumer");
	sr.protocol_name = FMQ_GROUP_STR("roundrobin");
	tok = t_token();
	fmq_group_sync(t_co, tok, &sr, t_now);
	CU_ASSERT_EQUAL(err_of(tok), FMQ_KERR_INCONSISTENT_GROUP_PROTOCOL);
	sr.protocol_name = FMQ_GROUP_STR("range");
	tok = t_token();
	fmq_group_sync(t_co, tok, &sr, t_now);
	CU_ASSERT_EQUAL(err_of(tok), 0);
	CU_ASSERT_STRING_EQUAL(R(tok)->assignment, "A1");
	/* group.max.groups */
	t_join("g2", "", NULL, 3, "consumer", "range", 10000, 30000);
	t_join("g3", "", NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(err_of(t_join("g4", "", NULL, 3, "consumer", "range",
				      10000, 30000)),
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(t_resp(t_commit("g5", "", NULL, -1,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(fmq_group_find_coordinator(t_co, 0,
						   FMQ_GROUP_STR("g")), 0);
	/* Transaction keys: the coordinator beside the groups. */
	CU_ASSERT_EQUAL(fmq_group_find_coordinator(t_co, 1,
						   FMQ_GROUP_STR("tx")), 0);
	CU_ASSERT_EQUAL(fmq_group_find_coordinator(t_co, 7,
						   FMQ_GROUP_STR("g")),
			FMQ_KERR_INVALID_REQUEST);
	t_teardown();
}

static void
test_shutdown(void)
{
	uint64_t j;

	t_setup();
	t_crash();
	t_conf.initial_rebalance_delay_ms = 3000;
	t_open();
	j = t_join("g", "", NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_PTR_NULL(t_resp(j));
	CU_ASSERT_EQUAL(fmq_group_shutdown(t_co, t_now), 0);
	CU_ASSERT_EQUAL(err_of(j), FMQ_KERR_NOT_COORDINATOR);
	CU_ASSERT_EQUAL(err_of(t_heartbeat("g", "x", NULL, 1)),
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(fmq_group_find_coordinator(t_co, 0,
						   FMQ_GROUP_STR("g")),
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	t_teardown();
}

/* ------------------------------------------------------------------------
 * Offsets
 * ---------------------------------------------------------------------- */

static void
test_commit_validation(void)
{
	mid_t_ m[1];
	uint64_t c1, j;
	const struct cap *c;

	t_setup();
	stable_group("g", 1, m, "range");
	c1 = t_commit("g", m[0], NULL, 1, "t:0=42;t:1=43");
	/* Not acknowledged, not visible, until durable. */
	CU_ASSERT_PTR_NULL(t_resp(c1));
	CU_ASSERT(fmq_group_flush_needed(t_co));
	CU_ASSERT_EQUAL(t_committed("g", "t", 0), -1);
	flush();
	c = t_resp(c1);
	CU_ASSERT_EQUAL(c->n_items, 2);
	CU_ASSERT_EQUAL(c->item_errors[0], 0);
	CU_ASSERT_EQUAL(c->item_errors[1], 0);
	CU_ASSERT_EQUAL(t_committed("g", "t", 0), 42);
	CU_ASSERT_FALSE(fmq_group_flush_needed(t_co));

	CU_ASSERT_EQUAL(t_resp(t_commit("g", m[0], NULL, 0,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_ILLEGAL_GENERATION);
	CU_ASSERT_EQUAL(t_resp(t_commit("g", "stranger", NULL, 1,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	/* Outside group management, but the group has members. */
	CU_ASSERT_EQUAL(t_resp(t_commit("g", "", NULL, -1,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_UNKNOWN_MEMBER_ID);
	/* A generation for a group nobody knows. */
	CU_ASSERT_EQUAL(t_resp(t_commit("nope", "x", NULL, 3,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_ILLEGAL_GENERATION);
	/* CompletingRebalance: a valid member of the new generation. */
	j = t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(R(j)->generation, 2);
	CU_ASSERT_EQUAL(t_resp(t_commit("g", m[0], NULL, 2,
					"t:0=1"))->item_errors[0],
			FMQ_KERR_REBALANCE_IN_PROGRESS);
	CU_ASSERT_EQUAL(t_committed("g", "t", 0), 42);

	/* A group without members takes generation -1 commits. */
	c1 = t_commit("simple", "", NULL, -1, "t:0=5");
	flush();
	CU_ASSERT_EQUAL(R(c1)->item_errors[0], 0);
	CU_ASSERT_EQUAL(t_committed("simple", "t", 0), 5);
	CU_ASSERT_STRING_EQUAL(state_of("simple"), "Empty");
	/* ... and member ids it does not know are still refused. */
	CU_ASSERT_EQUAL(t_resp(t_commit("simple", "ghost", NULL, 1,
					"t:0=6"))->item_errors[0],
			FMQ_KERR_UNKNOWN_MEMBER_ID);

	/* Per partition: preset errors and metadata too large. */
	{
		char big[5000];
		struct fmq_group_commit_part cp[3];
		struct fmq_group_commit_req req;
		uint64_t tok = t_token();

		memset(big, 'x', sizeof(big));
		memset(cp, 0, sizeof(cp));
		memset(&req, 0, sizeof(req));
		for (int i = 0; i < 3; i++) {
			cp[i].topic = FMQ_GROUP_STR("t");
			cp[i].partition = 10 + i;
			cp[i].offset = 100 + i;
			cp[i].leader_epoch = -1;
			cp[i].metadata = FMQ_GROUP_STR_NULL;
		}
		cp[1].metadata.ptr = big;
		cp[1].metadata.len = sizeof(big);
		cp[2].preset_error = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
		req.group_id = FMQ_GROUP_STR("simple");
		req.generation_id = -1;
		req.member_id = FMQ_GROUP_STR("");
		req.group_instance_id = FMQ_GROUP_STR_NULL;
		req.retention_ms = -1;
		req.commit_timestamp = -1;
		req.parts = cp;
		req.n_parts = 3;
		fmq_group_offset_commit(t_co, tok, &req, t_now);
		flush();
		c = t_resp(tok);
		CU_ASSERT_EQUAL(c->item_errors[0], 0);
		CU_ASSERT_EQUAL(c->item_errors[1],
				FMQ_KERR_OFFSET_METADATA_TOO_LARGE);
		CU_ASSERT_EQUAL(c->item_errors[2],
				FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION);
		CU_ASSERT_EQUAL(t_committed("simple", "t", 10), 100);
		CU_ASSERT_EQUAL(t_committed("simple", "t", 11), -1);
		CU_ASSERT_EQUAL(t_committed("simple", "t", 12), -1);
		/* A null metadata is stored as "". */
		c = t_resp(t_fetch("simple", "t:10", false));
		CU_ASSERT_STRING_EQUAL(c->groups[0].parts[0].metadata, "");
		CU_ASSERT_EQUAL(c->groups[0].parts[0].leader_epoch, -1);
	}
	t_teardown();
}


/* Cluster mode: a replicated store instead of the journal. */
struct fstore {
	int16_t refuse;          /* put answers this at once (0: holds) */
	uint32_t nputs;
	void *h[8];
	uint32_t n[8];
	char first[8][64];       /* "topic:partition=offset" of put 0 */
	uint32_t ndels;
	char del[64];
};

static int16_t
fs_put(void *arg, void *handle, struct fmq_group_str group,
       const struct fmq_group_store_put *puts, uint32_t n)
{
	struct fstore *f = arg;

	CU_ASSERT_EQUAL(group.len, 1);
	if (f->refuse != 0)
		return f->refuse;
	f->h[f->nputs] = handle;
	f->n[f->nputs] = n;
	if (n > 0)
		snprintf(f->first[f->nputs], sizeof(f->first[0]),
			 "%.*s:%d=%lld", puts[0].topic.len, puts[0].topic.ptr,
			 puts[0].partition, (long long)puts[0].offset);
	else
		snprintf(f->first[f->nputs], sizeof(f->first[0]),
			 "barrier %.*s", group.len, group.ptr);
	f->nputs++;
	return 0;
}

static void
fs_del(void *arg, struct fmq_group_str group, struct fmq_group_str topic,
       int32_t partition)
{
	struct fstore *f = arg;

	(void)group;
	f->ndels++;
	snprintf(f->del, sizeof(f->del), "%.*s:%d", topic.len, topic.ptr,
		 partition);
}

static void
test_store(void)
{
	static const struct fmq_group_store ops = { fs_put, fs_del };
	struct fstore f;
	uint64_t c1, c2, c3, od;
	const struct fmq_group_str s = FMQ_GROUP_STR("s");
	const struct fmq_group_str t = FMQ_GROUP_STR("t");
	struct stat sb;
	char path[600];

	memset(&f, 0, sizeof(f));
	t_store = &ops;
	t_store_arg = &f;
	t_setup();
	/* The journal is neither opened nor written. */
	snprintf(path, sizeof(path), "%s/offsets.journal", t_dir);
	CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
	c1 = t_commit("s", "", NULL, -1, "t:0=5;t:1=6");
	flush();
	CU_ASSERT_EQUAL_FATAL(f.nputs, 1);
	CU_ASSERT_EQUAL(f.n[0], 2);
	CU_ASSERT_STRING_EQUAL(f.first[0], "t:0=5");
	/* Held by the store: not answered, not visible. */
	CU_ASSERT_EQUAL(t_count(c1), 0);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), -1);
	CU_ASSERT_EQUAL(t_resp(t_fetch("s", "t:0", true))->groups[0].parts[0]
			.error, FMQ_KERR_UNSTABLE_OFFSET_COMMIT);
	c2 = t_commit("s", "", NULL, -1, "t:0=7");
	flush();
	CU_ASSERT_EQUAL_FATAL(f.nputs, 2);
	fmq_group_store_done(t_co, f.h[0], 0);
	CU_ASSERT_EQUAL(R(c1)->item_errors[0], 0);
	CU_ASSERT_EQUAL(R(c1)->item_errors[1], 0);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 5);
	CU_ASSERT_EQUAL(t_committed("s", "t", 1), 6);
	/* Refused by the store (a stale coordinator): nothing changes. */
	fmq_group_store_done(t_co, f.h[1], FMQ_KERR_NOT_COORDINATOR);
	CU_ASSERT_EQUAL(R(c2)->item_errors[0], FMQ_KERR_NOT_COORDINATOR);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 5);
	/* No session: answered at the flush. */
	f.refuse = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	c3 = t_commit("s", "", NULL, -1, "t:0=9");
	flush();
	CU_ASSERT_EQUAL(R(c3)->item_errors[0],
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 5);
	/* Deletions go to the store, and are answered once it confirms
	 * what it took for the group until then. */
	f.refuse = 0;
	od = t_offset_delete("s", "t:1");
	flush();
	CU_ASSERT_EQUAL(f.ndels, 1);
	CU_ASSERT_STRING_EQUAL(f.del, "t:1");
	CU_ASSERT_EQUAL_FATAL(f.nputs, 3);
	CU_ASSERT_EQUAL(f.n[2], 0);
	CU_ASSERT_STRING_EQUAL(f.first[2], "barrier s");
	CU_ASSERT_EQUAL(t_count(od), 0);
	fmq_group_store_done(t_co, f.h[2], 0);
	CU_ASSERT_EQUAL(t_count(od), 1);
	CU_ASSERT_EQUAL(R(od)->item_errors[0], 0);
	/* A deletion the store did not confirm is not answered as done. */
	CU_ASSERT_EQUAL(fmq_group_load_offset(t_co, s, t, 1, 8, t_now), 0);
	od = t_offset_delete("s", "t:1");
	flush();
	CU_ASSERT_EQUAL_FATAL(f.nputs, 4);
	fmq_group_store_done(t_co, f.h[3], FMQ_KERR_REQUEST_TIMED_OUT);
	CU_ASSERT_EQUAL(R(od)->item_errors[0], FMQ_KERR_REQUEST_TIMED_OUT);
	/* A store without a session: answered at the flush. */
	f.refuse = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	CU_ASSERT_EQUAL(fmq_group_load_offset(t_co, s, t, 1, 9, t_now), 0);
	od = t_offset_delete("s", "t:1");
	flush();
	CU_ASSERT_EQUAL(R(od)->item_errors[0],
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE);
	f.refuse = 0;
	/* A group moved away and back: forgotten, then loaded. */
	fmq_group_forget(t_co, s, t_now);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), -1);
	CU_ASSERT_EQUAL(fmq_group_load_offset(t_co, s, t, 0, 42, t_now), 0);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 42);
	CU_ASSERT_EQUAL(f.ndels, 3);
	/* DeleteGroups: answered once the store confirms the removals. */
	c1 = t_delete("s|x");
	flush();
	CU_ASSERT_EQUAL(f.ndels, 4);
	CU_ASSERT_EQUAL_FATAL(f.nputs, 5);
	CU_ASSERT_STRING_EQUAL(f.first[4], "barrier s");
	CU_ASSERT_EQUAL(t_count(c1), 0);
	fmq_group_store_done(t_co, f.h[4], 0);
	CU_ASSERT_EQUAL(t_count(c1), 1);
	CU_ASSERT_EQUAL(R(c1)->item_errors[0], 0);
	CU_ASSERT_EQUAL(R(c1)->item_errors[1], FMQ_KERR_GROUP_ID_NOT_FOUND);
	t_teardown();
	t_store = NULL;
	t_store_arg = NULL;
}

static void
test_offset_fetch(void)
{
	const struct cap *c;
	uint64_t cm;

	t_setup();
	cm = t_commit("s", "", NULL, -1, "u:0=7;t:1=6;t:0=5");
	t_commit("s2", "", NULL, -1, "t:0=9");
	flush();
	CU_ASSERT_EQUAL(R(cm)->item_errors[2], 0);
	c = t_resp(t_fetch("s", "t:0;t:1;zz:0", false));
	CU_ASSERT_EQUAL(c->n_groups, 1);
	CU_ASSERT_EQUAL(c->groups[0].n_parts, 3);
	CU_ASSERT_EQUAL(c->groups[0].parts[0].offset, 5);
	CU_ASSERT_EQUAL(c->groups[0].parts[0].leader_epoch, 7);
	CU_ASSERT_STRING_EQUAL(c->groups[0].parts[0].metadata, "md");
	CU_ASSERT_EQUAL(c->groups[0].parts[1].offset, 6);
	CU_ASSERT_EQUAL(c->groups[0].parts[2].offset, -1);
	CU_ASSERT_EQUAL(c->groups[0].parts[2].error, 0);
	/* All partitions of a group, by topic then partition. */
	c = t_resp(t_fetch("s", NULL, false));
	CU_ASSERT_EQUAL(c->groups[0].n_parts, 3);
	CU_ASSERT_STRING_EQUAL(c->groups[0].parts[0].topic, "t");
	CU_ASSERT_EQUAL(c->groups[0].parts[0].partition, 0);
	CU_ASSERT_EQUAL(c->groups[0].parts[1].partition, 1);
	CU_ASSERT_STRING_EQUAL(c->groups[0].parts[2].topic, "u");
	/* Several groups (v8), one unknown. */
	c = t_resp(t_fetch("s|s2|nobody", "t:0", false));
	CU_ASSERT_EQUAL(c->n_groups, 3);
	CU_ASSERT_STRING_EQUAL(c->groups[1].id, "s2");
	CU_ASSERT_EQUAL(c->groups[0].parts[0].offset, 5);
	CU_ASSERT_EQUAL(c->groups[1].parts[0].offset, 9);
	CU_ASSERT_EQUAL(c->groups[2].error, 0);
	CU_ASSERT_EQUAL(c->groups[2].parts[0].offset, -1);
	c = t_resp(t_fetch("s|nobody", NULL, false));
	CU_ASSERT_EQUAL(c->groups[0].n_parts, 3);
	CU_ASSERT_EQUAL(c->groups[1].n_parts, 0);
	/* A commit waiting for its fsync: UNSTABLE_OFFSET_COMMIT when the
	 * client asks for stable offsets, the old value otherwise. */
	cm = t_commit("s", "", NULL, -1, "t:0=50");
	c = t_resp(t_fetch("s", "t:0;t:1", true));
	CU_ASSERT_EQUAL(c->groups[0].parts[0].error,
			FMQ_KERR_UNSTABLE_OFFSET_COMMIT);
	CU_ASSERT_EQUAL(c->groups[0].parts[0].offset, -1);
	CU_ASSERT_EQUAL(c->groups[0].parts[1].error, 0);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 5);
	flush();
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 50);
	t_teardown();
}

static void
test_delete_groups(void)
{
	mid_t_ m[1];
	const struct cap *c;
	uint64_t d;

	t_setup();
	stable_group("busy", 1, m, "range");
	t_commit("simple", "", NULL, -1, "t:0=5");
	flush();
	d = t_delete("simple|busy|nope|simple");
	/* Acknowledged once the tombstone is durable. */
	CU_ASSERT_PTR_NULL(t_resp(d));
	flush();
	c = t_resp(d);
	CU_ASSERT_EQUAL(c->n_items, 4);
	CU_ASSERT_EQUAL(c->item_errors[0], 0);
	CU_ASSERT_EQUAL(c->item_errors[1], FMQ_KERR_NON_EMPTY_GROUP);
	CU_ASSERT_EQUAL(c->item_errors[2], FMQ_KERR_GROUP_ID_NOT_FOUND);
	CU_ASSERT_EQUAL(c->item_errors[3], 0);
	CU_ASSERT_EQUAL(t_committed("simple", "t", 0), -1);
	CU_ASSERT_STRING_EQUAL(state_of("simple"), "Dead");
	/* Nothing deleted: answered at once. */
	c = t_resp(t_delete("nope"));
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_EQUAL(c->item_errors[0], FMQ_KERR_GROUP_ID_NOT_FOUND);
	/* The deletion survives a restart. */
	t_reopen();
	CU_ASSERT_EQUAL(t_committed("simple", "t", 0), -1);
	t_teardown();
}

static void
test_offset_delete(void)
{
	uint64_t j, d;
	const struct cap *c;
	char mid[CAP_STR];

	t_setup();
	j = t_join_consumer("cg", "", NULL, 3, "t,v");
	t_tick(0);
	strcpy(mid, R(j)->member_id);
	t_sync("cg", mid, NULL, 1, NULL);
	t_commit("cg", mid, NULL, 1, "t:0=1;u:0=2");
	flush();
	d = t_offset_delete("cg", "t:0;u:0;w:3");
	flush();
	c = t_resp(d);
	CU_ASSERT_EQUAL(c->error, 0);
	CU_ASSERT_EQUAL(c->n_items, 3);
	CU_ASSERT_EQUAL(c->item_errors[0], FMQ_KERR_GROUP_SUBSCRIBED_TO_TOPIC);
	CU_ASSERT_EQUAL(c->item_errors[1], 0);
	CU_ASSERT_EQUAL(c->item_errors[2], 0);
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), 1);
	CU_ASSERT_EQUAL(t_committed("cg", "u", 0), -1);
	/* Not a consumer group and not empty. */
	j = t_join("connect", "", NULL, 3, "connect", "v1", 10000, 30000);
	t_tick(0);
	c = t_resp(t_offset_delete("connect", "t:0"));
	CU_ASSERT_EQUAL(c->error, FMQ_KERR_NON_EMPTY_GROUP);
	CU_ASSERT_EQUAL(c->n_items, 0);
	CU_ASSERT_EQUAL(R(t_offset_delete("nope", "t:0"))->error,
			FMQ_KERR_GROUP_ID_NOT_FOUND);
	CU_ASSERT_EQUAL(R(t_offset_delete("", "t:0"))->error,
			FMQ_KERR_INVALID_GROUP_ID);
	/* Once the member left, everything may go. */
	{
		char who[CAP_STR + 4];

		snprintf(who, sizeof(who), "%s/-", mid);
		t_leave("cg", who);
	}
	CU_ASSERT_STRING_EQUAL(state_of("cg"), "Empty");
	d = t_offset_delete("cg", "t:0");
	flush();
	CU_ASSERT_EQUAL(R(d)->item_errors[0], 0);
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), -1);
	t_reopen();
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), -1);
	CU_ASSERT_EQUAL(t_committed("cg", "u", 0), -1);
	t_teardown();
}

static void
test_list_describe(void)
{
	mid_t_ m[2];
	const struct cap *c;

	t_setup();
	stable_group("stable", 2, m, "range:meta");
	t_commit("simple", "", NULL, -1, "t:0=1");
	flush();
	t_join("prep", "", NULL, 3, "consumer", "range", 10000, 30000);
	c = t_resp(t_list(NULL));
	CU_ASSERT_EQUAL(c->n_groups, 3);
	c = t_resp(t_list("STABLE"));
	CU_ASSERT_EQUAL(c->n_groups, 1);
	CU_ASSERT_STRING_EQUAL(c->groups[0].id, "stable");
	CU_ASSERT_STRING_EQUAL(c->groups[0].state, "Stable");
	CU_ASSERT_STRING_EQUAL(c->groups[0].protocol_type, "consumer");
	c = t_resp(t_list("Empty|PreparingRebalance"));
	CU_ASSERT_EQUAL(c->n_groups, 2);
	CU_ASSERT_STRING_EQUAL(c->groups[0].id, "simple");
	CU_ASSERT_STRING_EQUAL(c->groups[0].protocol_type, "");
	c = t_resp(t_describe("stable|nope|prep"));
	CU_ASSERT_EQUAL(c->n_groups, 3);
	CU_ASSERT_EQUAL(c->groups[0].error, 0);
	CU_ASSERT_STRING_EQUAL(c->groups[0].state, "Stable");
	CU_ASSERT_STRING_EQUAL(c->groups[0].protocol, "range");
	CU_ASSERT_EQUAL(c->groups[0].n_members, 2);
	CU_ASSERT_STRING_EQUAL(c->groups[0].members[1], m[1]);
	CU_ASSERT_STRING_EQUAL(c->groups[0].assignments[1], "A1");
	CU_ASSERT_STRING_EQUAL(c->groups[0].metadata[1], "meta");
	CU_ASSERT_STRING_EQUAL(c->groups[0].instances[1], "<null>");
	CU_ASSERT_EQUAL(c->groups[1].error, 0);
	CU_ASSERT_STRING_EQUAL(c->groups[1].state, "Dead");
	/* Not Stable: no protocol, no metadata or assignment. */
	CU_ASSERT_STRING_EQUAL(c->groups[2].state, "PreparingRebalance");
	CU_ASSERT_STRING_EQUAL(c->groups[2].protocol, "");
	CU_ASSERT_EQUAL(c->groups[2].n_members, 1);
	CU_ASSERT_STRING_EQUAL(c->groups[2].assignments[0], "");
	t_teardown();
}

/* ------------------------------------------------------------------------
 * Durability
 * ---------------------------------------------------------------------- */

static char *
journal_path(void)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/offsets.journal", t_dir);
	return p;
}

static off_t
journal_size(void)
{
	struct stat sb;

	CU_ASSERT_FATAL(stat(journal_path(), &sb) == 0);
	return sb.st_size;
}

static void
commit_range(const char *gid, const char *topic, int from, int to,
	     int64_t base)
{
	char parts[2048] = "";

	for (int p = from; p < to; p++) {
		char one[64];

		snprintf(one, sizeof(one), "%s%s:%d=%lld", p > from ? ";" : "",
			 topic, p, (long long)(base + p));
		strcat(parts, one);
	}
	t_commit(gid, "", NULL, -1, parts);
}

static void
test_journal_crash(void)
{
	off_t before, after;
	struct fmq_group_stats st;
	int fd;

	t_setup();
	commit_range("a", "t", 0, 20, 1000);
	commit_range("b", "t", 0, 20, 2000);
	flush();
	/* Staged but never flushed, so never acknowledged: gone. */
	commit_range("c", "t", 0, 5, 3000);
	t_reopen();
	for (int p = 0; p < 20; p++) {
		CU_ASSERT_EQUAL(t_committed("a", "t", p), 1000 + p);
		CU_ASSERT_EQUAL(t_committed("b", "t", p), 2000 + p);
	}
	CU_ASSERT_EQUAL(t_committed("c", "t", 0), -1);

	/* A torn write: garbage after the last record. */
	fd = open(journal_path(), O_WRONLY | O_APPEND);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, "\x40\x00\x00\x00\x12\x34", 6) == 6);
	close(fd);
	before = journal_size();
	t_reopen();
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.journal_truncated_bytes, 6);
	CU_ASSERT_EQUAL(journal_size(), before - 6);
	for (int p = 0; p < 20; p++)
		CU_ASSERT_EQUAL(t_committed("b", "t", p), 2000 + p);

	/* A record cut in the middle (the write of d:t:0 torn). */
	before = journal_size();
	commit_range("d", "t", 0, 1, 4000);
	flush();
	after = journal_size();
	CU_ASSERT(after > before);
	CU_ASSERT(truncate(journal_path(), before + (after - before) / 2) == 0);
	t_reopen();
	CU_ASSERT_EQUAL(journal_size(), before);
	CU_ASSERT_EQUAL(t_committed("d", "t", 0), -1);
	for (int p = 0; p < 20; p++)
		CU_ASSERT_EQUAL(t_committed("a", "t", p), 1000 + p);
	/* Appending after the truncation point works. */
	commit_range("d", "t", 0, 1, 5000);
	flush();
	t_reopen();
	CU_ASSERT_EQUAL(t_committed("d", "t", 0), 5000);

	/* A flipped byte: loading stops there and keeps what precedes. */
	fd = open(journal_path(), O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	{
		char b;
		off_t at = journal_size() - 10;

		CU_ASSERT(pread(fd, &b, 1, at) == 1);
		b ^= 0x5a;
		CU_ASSERT(pwrite(fd, &b, 1, at) == 1);
	}
	close(fd);
	t_reopen();
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT(st.journal_truncated_bytes > 0);
	CU_ASSERT_EQUAL(t_committed("d", "t", 0), -1);
	CU_ASSERT_EQUAL(t_committed("a", "t", 19), 1019);
	t_teardown();
}

static void
test_journal_compaction(void)
{
	struct fmq_group_stats st;
	const struct cap *c;
	uint64_t d;

	t_setup();
	t_crash();
	t_conf.journal_compact_min_bytes = 8192;
	t_conf.journal_compact_factor = 2;
	t_open();
	for (int round = 0; round < 300; round++) {
		commit_range("g", "t", 0, 4, round * 10);
		flush();
	}
	commit_range("h", "x", 0, 2, 7);
	flush();
	d = t_offset_delete("g", "t:3");
	flush();
	CU_ASSERT_EQUAL(R(d)->item_errors[0], 0);
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT(st.journal_compactions >= 1);
	CU_ASSERT(st.journal_bytes < 8192 * 2);
	CU_ASSERT(st.journal_live_bytes > 0);
	CU_ASSERT_EQUAL(st.offsets, 5);
	/* Right after a compaction the file is exactly the live set plus
	 * the header. */
	t_crash();
	t_conf.journal_compact_min_bytes = 0;
	t_open();
	{
		uint64_t before;

		fmq_group_get_stats(t_co, &st);
		before = st.journal_compactions;
		for (int i = 0; i < 100 && st.journal_compactions == before;
		     i++) {
			commit_range("h", "x", 1, 2, 9);   /* x:1 = 10 */
			flush();
			fmq_group_get_stats(t_co, &st);
		}
		CU_ASSERT(st.journal_compactions > before);
		CU_ASSERT_EQUAL(st.journal_bytes, st.journal_live_bytes + 16);
		CU_ASSERT_EQUAL((uint64_t)journal_size(), st.journal_bytes);
	}
	t_reopen();
	c = R(t_fetch("g|h", NULL, false));
	CU_ASSERT_EQUAL(c->groups[0].n_parts, 3);
	for (int p = 0; p < 3; p++) {
		CU_ASSERT_EQUAL(c->groups[0].parts[p].partition, p);
		CU_ASSERT_EQUAL(c->groups[0].parts[p].offset, 2990 + p);
	}
	CU_ASSERT_EQUAL(c->groups[1].n_parts, 2);
	CU_ASSERT_EQUAL(c->groups[1].parts[0].offset, 7);
	CU_ASSERT_EQUAL(c->groups[1].parts[1].offset, 10);
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.offsets, 5);
	CU_ASSERT_EQUAL(st.journal_truncated_bytes, 0);
	t_teardown();
}

static void
test_retention(void)
{
	int64_t t0;
	uint64_t j;
	char mid[CAP_STR], who[CAP_STR + 4];
	const struct cap *c;

	t_setup();
	t_crash();
	t_conf.offsets_retention_ms = 60000;
	t_conf.retention_check_interval_ms = 1000;
	t_open();
	t0 = t_now;
	/* Standalone consumer: each offset expires by its commit time. */
	t_commit("s", "", NULL, -1, "t:0=1");
	flush();
	t_tick(30000);
	t_commit("s", "", NULL, -1, "t:1=2");
	flush();
	/* A consumer group that becomes Empty at t0 + 35000. */
	j = t_join_consumer("cg", "", NULL, 3, "t");
	t_tick(0);
	strcpy(mid, R(j)->member_id);
	t_sync("cg", mid, NULL, 1, NULL);
	t_commit("cg", mid, NULL, 1, "t:0=3");
	flush();
	t_tick(5000);
	snprintf(who, sizeof(who), "%s/-", mid);
	t_leave("cg", who);
	CU_ASSERT_STRING_EQUAL(state_of("cg"), "Empty");
	flush();   /* the group's empty-since is journaled */
	t_tick(t0 + 59999 - t_now);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 1);
	/* Checked every second: due at t0 + 60000, seen by t0 + 61000. */
	t_tick(t0 + 61001 - t_now);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), -1);
	CU_ASSERT_EQUAL(t_committed("s", "t", 1), 2);
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), 3);
	flush();
	/* The empty-since time survives a restart. */
	t_reopen();
	t_tick(t0 + 94000 - t_now);
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), 3);
	t_tick(t0 + 96000 - t_now);
	CU_ASSERT_EQUAL(t_committed("cg", "t", 0), -1);
	CU_ASSERT_EQUAL(t_committed("s", "t", 1), -1);
	/* Empty groups without offsets are gone. */
	c = t_resp(t_list(NULL));
	CU_ASSERT_EQUAL(c->n_groups, 0);
	flush();
	t_reopen();
	CU_ASSERT_EQUAL(R(t_list(NULL))->n_groups, 0);

	/* v2-v4 explicit retention time. */
	{
		struct fmq_group_commit_part cp = {
			.topic = FMQ_GROUP_STR("t"), .partition = 0,
			.offset = 9, .leader_epoch = -1,
			.metadata = FMQ_GROUP_STR(""),
		};
		struct fmq_group_commit_req req = {
			.group_id = FMQ_GROUP_STR("r"), .generation_id = -1,
			.member_id = FMQ_GROUP_STR(""),
			.group_instance_id = FMQ_GROUP_STR_NULL,
			.retention_ms = 5000, .commit_timestamp = -1,
			.parts = &cp, .n_parts = 1,
		};

		fmq_group_offset_commit(t_co, t_token(), &req, t_now);
		flush();
		t_tick(4000);
		CU_ASSERT_EQUAL(t_committed("r", "t", 0), 9);
		t_tick(2000);
		CU_ASSERT_EQUAL(t_committed("r", "t", 0), -1);
	}
	t_teardown();
}

static void
test_generation_survives_restart(void)
{
	mid_t_ m[1];
	uint64_t j;
	char who[CAP_STR + 4];

	t_setup();
	stable_group("g", 1, m, "range");
	t_commit("g", m[0], NULL, 1, "t:0=1");
	snprintf(who, sizeof(who), "%s/-", m[0]);
	t_leave("g", who);    /* Empty, generation 2 */
	flush();
	t_reopen();
	CU_ASSERT_STRING_EQUAL(state_of("g"), "Empty");
	j = t_join("g", "", NULL, 3, "consumer", "range", 10000, 30000);
	t_tick(0);
	CU_ASSERT_EQUAL(R(j)->generation, 3);
	t_teardown();
}

static void
test_journal_write_failure(void)
{
	uint64_t ok, bad, again;
	struct fmq_group_stats st;
	int fd;

	t_setup();
	ok = t_commit("s", "", NULL, -1, "t:0=1");
	flush();
	CU_ASSERT_EQUAL(R(ok)->item_errors[0], 0);
	/* Make the next write fail: the journal fd becomes read-only. */
	fd = open(journal_path(), O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(dup2(fd, t_co->j.fd) >= 0);
	close(fd);
	bad = t_commit("s", "", NULL, -1, "t:0=2;t:1=2");
	CU_ASSERT(fmq_group_flush(t_co, t_now) < 0);
	CU_ASSERT_EQUAL(R(bad)->item_errors[0], FMQ_KERR_NOT_COORDINATOR);
	CU_ASSERT_EQUAL(R(bad)->item_errors[1], FMQ_KERR_NOT_COORDINATOR);
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 1);
	CU_ASSERT_EQUAL(t_committed("s", "t", 1), -1);
	fmq_group_get_stats(t_co, &st);
	CU_ASSERT_EQUAL(st.journal_errors, 1);
	/* The next flush rewrites the journal from memory, then goes on. */
	CU_ASSERT(fmq_group_flush_needed(t_co));
	again = t_commit("s", "", NULL, -1, "t:2=3");
	flush();
	CU_ASSERT_EQUAL(R(again)->item_errors[0], 0);
	t_reopen();
	CU_ASSERT_EQUAL(t_committed("s", "t", 0), 1);
	CU_ASSERT_EQUAL(t_committed("s", "t", 1), -1);
	CU_ASSERT_EQUAL(t_committed("s", "t", 2), 3);
	/* A topic name no Kafka string can carry. */
	{
		static char longname[40000];
		struct fmq_group_commit_part cp = {
			.topic = { longname, sizeof(longname) },
			.partition = 0, .offset = 1, .leader_epoch = -1,
			.metadata = FMQ_GROUP_STR(""),
		};
		struct fmq_group_commit_req req = {
			.group_id = FMQ_GROUP_STR("s"), .generation_id = -1,
			.member_id = FMQ_GROUP_STR(""),
			.group_instance_id = FMQ_GROUP_STR_NULL,
			.retention_ms = -1, .commit_timestamp = -1,
			.parts = &cp, .n_parts = 1,
		};
		uint64_t tok = t_token();

		memset(longname, 'a', sizeof(longname));
		fmq_group_offset_commit(t_co, tok, &req, t_now);
		CU_ASSERT_EQUAL(R(tok)->item_errors[0],
				FMQ_KERR_INVALID_TOPIC_EXCEPTION);
	}
	t_teardown();
}

static void
test_duplicate_requests(void)
{
	mid_t_ m[2];
	uint64_t j1, j2, s1, s2;

	t_setup();
	stable_group("g", 2, m, "range");
	/* The same member sends JoinGroup twice while parked: the first is
	 * answered (Kafka would drop it), the second completes normally. */
	j1 = t_join("g", m[1], NULL, 3, "consumer", "range:new", 10000, 30000);
	j2 = t_join("g", m[1], NULL, 3, "consumer", "range:new", 10000, 30000);
	CU_ASSERT_EQUAL(err_of(j1), FMQ_KERR_REBALANCE_IN_PROGRESS);
	CU_ASSERT_PTR_NULL(t_resp(j2));
	t_join("g", m[0], NULL, 3, "consumer", "range", 10000, 30000);
	CU_ASSERT_EQUAL(R(j2)->generation, 2);
	s1 = t_sync("g", m[1], NULL, 2, NULL);
	s2 = t_sync("g", m[1], NULL, 2, NULL);
	CU_ASSERT_EQUAL(err_of(s1), FMQ_KERR_REBALANCE_IN_PROGRESS);
	CU_ASSERT_PTR_NULL(t_resp(s2));
	t_sync("g", m[0], NULL, 2, NULL);
	CU_ASSERT_EQUAL(err_of(s2), 0);
	t_teardown();
}

static int64_t
fake_hw(const char *topic, int32_t partition, void *arg)
{
	(void)arg;
	(void)partition;
	return strcmp(topic, "t") == 0 ? 100 : -1;
}

static void
test_metrics(void)
{
	struct fmq_metrics *reg;
	char *text;
	size_t len;

	t_setup();
	t_commit("s\"q", "", NULL, -1, "t:0=40;u:0=1");
	flush();
	/* The broker passes hw in fmq_group_params; the harness sets it
	 * afterwards. */
	t_co->hw = fake_hw;
	reg = fmq_metrics_create();
	CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
	CU_ASSERT_EQUAL(fmq_metrics_register(reg, fmq_group_metrics, t_co), 0);
	text = fmq_metrics_render(reg, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text,
		"fluxmq_group_consumer_lag{group=\"s\\\"q\",topic=\"t\","
		"partition=\"0\"} 60\n"));
	CU_ASSERT_PTR_NULL(strstr(text, "topic=\"u\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(text,
		"fluxmq_group_groups{state=\"Empty\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "fluxmq_group_offsets 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "fluxmq_group_journal_bytes "));
	free(text);
	fmq_metrics_free(reg);
	t_teardown();
}

/* What fmq_group_visit reported, as text. */
static char visit_buf[512];

static void
visit_group(void *arg, const struct fmq_group_view *g)
{
	size_t l = strlen(visit_buf);

	(void)arg;
	snprintf(visit_buf + l, sizeof(visit_buf) - l, "[%.*s %s gen %d "
		 "members %u]", (int)g->id.len, g->id.ptr, g->state,
		 g->generation, g->members);
}

static void
visit_offset(void *arg, struct fmq_group_str topic, int32_t partition,
	     int64_t committed, int64_t hw)
{
	size_t l = strlen(visit_buf);

	(void)arg;
	snprintf(visit_buf + l, sizeof(visit_buf) - l, " %.*s-%d=%" PRId64
		 "/%" PRId64, (int)topic.len, topic.ptr, partition, committed,
		 hw);
}

static void
test_visit(void)
{
	t_setup();
	t_commit("g1", "", NULL, -1, "t:0=40");
	t_commit("g2", "", NULL, -1, "u:3=7");
	flush();
	t_co->hw = fake_hw;
	visit_buf[0] = '\0';
	fmq_group_visit(t_co, visit_group, visit_offset, NULL);
	CU_ASSERT_STRING_EQUAL(visit_buf, "[g1 Empty gen 0 members 0] t-0=40/100"
			       "[g2 Empty gen 0 members 0] u-3=7/-1");
	/* Groups only. */
	visit_buf[0] = '\0';
	fmq_group_visit(t_co, visit_group, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(visit_buf, "[g1 Empty gen 0 members 0]"
			       "[g2 Empty gen 0 members 0]");
	t_teardown();
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	fmq_log_set_level(FMQ_LOG_ERR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("group", NULL, NULL);
	CU_add_test(s, "single member", test_single_member);
	CU_add_test(s, "three members", test_three_members);
	CU_add_test(s, "MEMBER_ID_REQUIRED", test_member_id_required);
	CU_add_test(s, "protocol selection", test_protocol_selection);
	CU_add_test(s, "rebalance on join", test_rebalance_on_join);
	CU_add_test(s, "leave", test_leave);
	CU_add_test(s, "session expiry", test_session_expiry);
	CU_add_test(s, "rebalance timeout", test_rebalance_timeout);
	CU_add_test(s, "sync timeout", test_sync_timeout);
	CU_add_test(s, "initial delay", test_initial_delay);
	CU_add_test(s, "static membership", test_static_membership);
	CU_add_test(s, "limits and validation", test_limits_and_validation);
	CU_add_test(s, "shutdown", test_shutdown);
	CU_add_test(s, "commit validation", test_commit_validation);
	CU_add_test(s, "offset fetch", test_offset_fetch);
	CU_add_test(s, "cluster mode: a replicated store", test_store);
	CU_add_test(s, "delete groups", test_delete_groups);
	CU_add_test(s, "offset delete", test_offset_delete);
	CU_add_test(s, "list and describe", test_list_describe);
	fmq_test_slow(CU_add_test(s, "journal crash",
				  test_journal_crash));
	fmq_test_slow(CU_add_test(s, "journal compaction",
				  test_journal_compaction));
	CU_add_test(s, "retention", test_retention);
	CU_add_test(s, "generation survives restart",
		    test_generation_survives_restart);
	CU_add_test(s, "journal write failure", test_journal_write_failure);
	CU_add_test(s, "duplicate requests", test_duplicate_requests);
	CU_add_test(s, "metrics", test_metrics);
	CU_add_test(s, "visit", test_visit);
	return fmq_test_run(argc, argv);
}
