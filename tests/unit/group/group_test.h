/* SPDX-License-Identifier: Apache-2.0 */
/* Test harness for the group coordinator: a fake clock, a coordinator in a
 * temporary directory, and an emit callback that copies every response. */
#ifndef GROUP_TEST_H
#define GROUP_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "fmq_group.h"
#include "group_priv.h"

#define CAP_STR 128
#define CAP_N 32

struct cap_part {
	char topic[CAP_STR];
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	char metadata[CAP_STR];
	int16_t error;
};

struct cap_group {
	char id[CAP_STR];
	int16_t error;
	char state[CAP_STR];
	char protocol_type[CAP_STR];
	char protocol[CAP_STR];
	uint32_t n_members;
	char members[CAP_N][CAP_STR];
	char instances[CAP_N][CAP_STR];
	char assignments[CAP_N][CAP_STR];
	char metadata[CAP_N][CAP_STR];
	uint32_t n_parts;
	struct cap_part parts[CAP_N];
};

/* A copy of one emitted response. */
struct cap {
	uint64_t token;
	enum fmq_group_api api;
	int16_t error;
	/* JoinGroup */
	int32_t generation;
	char member_id[CAP_STR];
	char leader[CAP_STR];
	char protocol_type[CAP_STR];  /* "<null>" for null */
	char protocol_name[CAP_STR];
	bool skip_assignment;
	uint32_t n_members;
	char members[CAP_N][CAP_STR];
	/* SyncGroup */
	char assignment[CAP_STR];
	/* per-item errors: Leave, Commit, Delete, OffsetDelete */
	uint32_t n_items;
	int16_t item_errors[CAP_N];
	/* Fetch, List, Describe */
	uint32_t n_groups;
	struct cap_group *groups;     /* n_groups of them, owned */
};

extern int64_t t_now;
extern struct fmq_group *t_co;
extern char t_dir[];
extern struct fmq_group_conf t_conf;
/* A replicated store for t_open (cluster mode); NULL: the journal. */
extern const struct fmq_group_store *t_store;
extern void *t_store_arg;

void t_setup(void);        /* fresh dir, default test conf, open */
void t_teardown(void);     /* check every token answered once, close, rm */
void t_reopen(void);       /* destroy (crash) and create again */
void t_crash(void);        /* destroy without flush */
void t_open(void);
uint64_t t_token(void);
/* The response for token, or NULL; fails the test if it came twice. */
const struct cap *t_resp(uint64_t token);
uint32_t t_count(uint64_t token);
void t_tick(int64_t advance_ms);

/* Consumer protocol subscription metadata for the given topics
 * (comma-separated). Returns its length. */
int t_sub_meta(uint8_t *buf, const char *topics);

/* JoinGroup: protocols is "name:meta,name:meta" (meta is plain text) or
 * "consumer-sub:topics" style handled by t_join_consumer. */
uint64_t t_join(const char *gid, const char *mid, const char *iid,
		int16_t version, const char *ptype, const char *protocols,
		int32_t session_ms, int32_t rebalance_ms);
/* Join as a "consumer" subscribed to topics with protocol "range". */
uint64_t t_join_consumer(const char *gid, const char *mid, const char *iid,
			 int16_t version, const char *topics);
/* Full join of a new dynamic member (v5, through MEMBER_ID_REQUIRED);
 * returns the second JoinGroup token, member id copied to mid_out. */
uint64_t t_join_new(const char *gid, const char *protocols, char *mid_out);
uint64_t t_sync(const char *gid, const char *mid, const char *iid,
		int32_t gen, const char *assign /* "m1=a1;m2=a2" or NULL */);
uint64_t t_heartbeat(const char *gid, const char *mid, const char *iid,
		     int32_t gen);
/* members: "mid/iid;mid/iid" ("-" for null iid, "" mid allowed) */
uint64_t t_leave(const char *gid, const char *members);
/* parts: "topic:partition=offset;..."; metadata "md" */
uint64_t t_commit(const char *gid, const char *mid, const char *iid,
		  int32_t gen, const char *parts);
/* groups: "g1|g2"; parts: NULL for all, else "t:p;t:p" for every group */
uint64_t t_fetch(const char *groups, const char *parts, bool stable);
uint64_t t_list(const char *states);
uint64_t t_describe(const char *groups);
uint64_t t_delete(const char *groups);
uint64_t t_offset_delete(const char *gid, const char *parts);

/* Offset of group/topic/partition via OffsetFetch; -1 when none. */
int64_t t_committed(const char *gid, const char *topic, int32_t p);

#endif
