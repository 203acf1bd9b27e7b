/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Micro-benchmark of the group coordinator (not a test):
 *   bench_group [dir] [commits-per-flush]
 * 1. OffsetCommit throughput with group commit: 20000 commits of 10
 *    partitions, one fmq_group_flush (write + fdatasync) every N commits.
 * 2. A 1000-member rebalance (JoinGroup v3 + SyncGroup) and heartbeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmq_group.h"

enum { COMMITS = 20000, PARTS = 10, MEMBERS = 1000 };

static uint64_t answered;
static char last_member[128];
static char leader[128];
static int32_t last_gen;
static char mids[MEMBERS][128];
static uint32_t n_mids;

static void
emit(void *arg, uint64_t token, const struct fmq_group_resp *r)
{
	(void)arg;
	(void)token;
	answered++;
	if (r->api == FMQ_GROUP_JOIN && r->error == 0) {
		int n = r->u.join.member_id.len < 127 ?
			r->u.join.member_id.len : 127;

		memcpy(last_member, r->u.join.member_id.ptr, (size_t)n);
		last_member[n] = '\0';
		last_gen = r->u.join.generation_id;
		for (uint32_t i = 0; i < r->u.join.n_members && i < MEMBERS;
		     i++) {
			const struct fmq_group_join_member *m =
				&r->u.join.members[i];

			n = m->member_id.len < 127 ? m->member_id.len : 127;
			memcpy(mids[i], m->member_id.ptr, (size_t)n);
			mids[i][n] = '\0';
			n_mids = i + 1;
		}
		if (r->u.join.n_members > 0)
			snprintf(leader, sizeof(leader), "%s", mids[0]);
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char dir[256];
	struct fmq_group_params p;
	struct fmq_group *g;
	struct fmq_group_stats st;
	int batch = argc > 2 ? atoi(argv[2]) : 64;
	int64_t t = 1700000000000LL;
	uint64_t tok = 0;
	double t0, t1;

	snprintf(dir, sizeof(dir), "%s/fmq-group-bench-%d",
		 argc > 1 ? argv[1] : "/tmp", (int)getpid());
	memset(&p, 0, sizeof(p));
	fmq_group_conf_defaults(&p.conf);
	p.conf.initial_rebalance_delay_ms = 0;
	p.dir = dir;
	p.emit = emit;
	g = fmq_group_create(&p, t);
	if (g == NULL) {
		perror("fmq_group_create");
		return 1;
	}

	/* 1. Commits */
	struct fmq_group_commit_part parts[PARTS];
	struct fmq_group_commit_req req;

	memset(parts, 0, sizeof(parts));
	memset(&req, 0, sizeof(req));
	for (int i = 0; i < PARTS; i++) {
		parts[i].topic = FMQ_GROUP_STR("bench-topic");
		parts[i].partition = i;
		parts[i].leader_epoch = 3;
		parts[i].metadata = FMQ_GROUP_STR("");
	}
	req.group_id = FMQ_GROUP_STR("bench");
	req.generation_id = -1;
	req.member_id = FMQ_GROUP_STR("");
	req.group_instance_id = FMQ_GROUP_STR_NULL;
	req.retention_ms = -1;
	req.commit_timestamp = -1;
	req.parts = parts;
	req.n_parts = PARTS;
	t0 = now_s();
	for (int c = 0; c < COMMITS; c++) {
		for (int i = 0; i < PARTS; i++)
			parts[i].offset = c;
		fmq_group_offset_commit(g, ++tok, &req, t);
		if ((c + 1) % batch == 0)
			fmq_group_flush(g, t);
	}
	fmq_group_flush(g, t);
	t1 = now_s();
	fmq_group_get_stats(g, &st);
	printf("{\"bench\":\"offset_commit\",\"commits\":%d,\"partitions\":%d,"
	       "\"per_flush\":%d,\"commits_per_s\":%.0f,\"fsyncs\":%lu,"
	       "\"compactions\":%lu,\"journal_bytes\":%lu}\n",
	       COMMITS, PARTS, batch, COMMITS / (t1 - t0),
	       (unsigned long)st.journal_fsyncs,
	       (unsigned long)st.journal_compactions,
	       (unsigned long)st.journal_bytes);

	/* 2. A 1000-member rebalance */
	struct fmq_group_protocol pr = { FMQ_GROUP_STR("range"),
		{ (const uint8_t *)"metadata-bytes", 14 } };
	struct fmq_group_join_req jr;

	memset(&jr, 0, sizeof(jr));
	jr.version = 3;
	jr.group_id = FMQ_GROUP_STR("big");
	jr.member_id = FMQ_GROUP_STR("");
	jr.group_instance_id = FMQ_GROUP_STR_NULL;
	jr.client_id = FMQ_GROUP_STR("bench");
	jr.client_host = FMQ_GROUP_STR("/127.0.0.1");
	jr.session_timeout_ms = 30000;
	jr.rebalance_timeout_ms = 60000;
	jr.protocol_type = FMQ_GROUP_STR("consumer");
	jr.protocols = &pr;
	jr.n_protocols = 1;
	t0 = now_s();
	for (int m = 0; m < MEMBERS; m++)
		fmq_group_join(g, ++tok, &jr, t);
	fmq_group_tick(g, t);
	t1 = now_s();
	printf("{\"bench\":\"join_%d_members\",\"ms\":%.2f,\"generation\":%d}\n",
	       MEMBERS, (t1 - t0) * 1e3, last_gen);
	/* The leader's SyncGroup with every member's assignment. */
	{
		static struct fmq_group_assignment as[MEMBERS];
		struct fmq_group_sync_req sr;

		for (uint32_t i = 0; i < n_mids; i++) {
			as[i].member_id.ptr = mids[i];
			as[i].member_id.len = (int32_t)strlen(mids[i]);
			as[i].assignment.ptr = (const uint8_t *)"assignment";
			as[i].assignment.len = 10;
		}
		memset(&sr, 0, sizeof(sr));
		sr.group_id = FMQ_GROUP_STR("big");
		sr.generation_id = last_gen;
		sr.member_id.ptr = leader;
		sr.member_id.len = (int32_t)strlen(leader);
		sr.group_instance_id = FMQ_GROUP_STR_NULL;
		sr.protocol_type = FMQ_GROUP_STR_NULL;
		sr.protocol_name = FMQ_GROUP_STR_NULL;
		sr.assignments = as;
		sr.n_assignments = n_mids;
		t0 = now_s();
		fmq_group_sync(g, ++tok, &sr, t);
		t1 = now_s();
		printf("{\"bench\":\"leader_sync_%u_members\",\"ms\":%.2f}\n",
		       n_mids, (t1 - t0) * 1e3);
	}
	/* Heartbeats from unknown ids are cheap rejections; measure the
	 * real path with the leader id we saw last. */
	struct fmq_group_heartbeat_req hb = {
		.group_id = FMQ_GROUP_STR("big"),
		.generation_id = last_gen,
		.member_id = { last_member, (int32_t)strlen(last_member) },
		.group_instance_id = FMQ_GROUP_STR_NULL,
	};
	t0 = now_s();
	for (int i = 0; i < 200000; i++)
		fmq_group_heartbeat(g, ++tok, &hb, t);
	t1 = now_s();
	printf("{\"bench\":\"heartbeat\",\"per_s\":%.0f}\n", 200000 / (t1 - t0));
	fmq_group_shutdown(g, t);
	fmq_group_destroy(g);
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/offsets.journal", dir);
		unlink(path);
		rmdir(dir);
	}
	return 0;
}
