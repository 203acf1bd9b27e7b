/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the group coordinator. Not installed; the broker uses
 * fmq_group.h only. The unit tests include this header for the error names.
 */
#ifndef FMQ_GROUP_PRIV_H
#define FMQ_GROUP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "fmq_group.h"

#include "fmq_kerr.h"

/* Group states; the order is the one of fmq_group_stats.groups_by_state. */
enum gstate {
	GS_EMPTY,
	GS_PREPARING,
	GS_COMPLETING,
	GS_STABLE,
	GS_DEAD,
	GS_COUNT
};

/* Five minutes: how long a new member may wait in JoinGroup (Kafka's
 * NewMemberJoinTimeoutMs), since it cannot heartbeat before it has an id. */
#define NEW_MEMBER_JOIN_TIMEOUT_MS (5 * 60 * 1000)

/* Kafka strings have an int16 length. */
#define KSTR_MAX 32767

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------
 * Intrusive chained hash table keyed by a 32-bit hash; callers compare keys.
 * ---------------------------------------------------------------------- */

struct hnode {
	struct hnode *next;
	uint32_t hash;
};

struct htab {
	struct hnode **b;
	uint32_t mask;   /* buckets - 1 */
	uint32_t n;
};

int htab_init(struct htab *h, uint32_t buckets);
void htab_free(struct htab *h);
/* Grows first when needed; 0 or -ENOMEM (then nothing was inserted). */
int htab_insert(struct htab *h, struct hnode *n, uint32_t hash);
void htab_remove(struct htab *h, struct hnode *n);

static inline struct hnode *
htab_first(const struct htab *h, uint32_t hash)
{
	return h->b[hash & h->mask];
}

#define HTAB_FOREACH(h, i, n) \
	for ((i) = 0; (i) <= (h)->mask; (i)++) \
		for ((n) = (h)->b[i]; (n) != NULL; (n) = (n)->next)

uint32_t hash_bytes(uint64_t seed, const void *p, size_t len);

/* A NUL-terminated copy of a Kafka string; len -1 (ptr NULL) is null. */
struct gstr {
	char *ptr;
	int32_t len;
};

int gstr_set(struct gstr *d, struct fmq_group_str s);
void gstr_clear(struct gstr *d);
bool gstr_eq(const struct gstr *a, struct fmq_group_str b);

static inline struct fmq_group_str
gstr_view(const struct gstr *s)
{
	return (struct fmq_group_str){ .ptr = s->ptr, .len = s->len };
}

static inline bool
str_eq(struct fmq_group_str a, struct fmq_group_str b)
{
	if (a.len != b.len)
		return false;
	return a.len <= 0 || __builtin_memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

static inline bool
str_null(struct fmq_group_str s)
{
	return s.len < 0;
}

/* ------------------------------------------------------------------------
 * Timers: one min-heap of deadlines; each owner embeds a struct gtimer.
 * The heap always has room for every timer that exists (reserved when its
 * owner is created), so arming a timer never allocates.
 * ---------------------------------------------------------------------- */

enum gtimer_kind {
	T_MEMBER,    /* session expiry (or new-member join timeout) */
	T_PENDING,   /* MEMBER_ID_REQUIRED member that did not rejoin */
	T_JOIN,      /* DelayedJoin / InitialDelayedJoin */
	T_SYNC,      /* DelayedSync: members that never sent SyncGroup */
	T_CSESSION,  /* consumer protocol: member session expiry */
	T_CREBAL,    /* consumer protocol: revocation not acknowledged */
};

#define GTIMER_OFF UINT32_MAX

struct gtimer {
	int64_t when;
	uint32_t idx;    /* position in the heap, GTIMER_OFF when disarmed */
	uint8_t kind;
};

struct fmq_group;

void timer_init(struct gtimer *t, enum gtimer_kind kind);
int timers_reserve(struct fmq_group *co, int delta);
void timer_arm(struct fmq_group *co, struct gtimer *t, int64_t when);
void timer_cancel(struct fmq_group *co, struct gtimer *t);

/* ------------------------------------------------------------------------
 * Members, groups, offsets.
 * ---------------------------------------------------------------------- */

struct mproto {
	struct gstr name;
	uint8_t *meta;
	uint32_t meta_len;
};

struct member {
	struct hnode hn;           /* group->members (by member id) */
	struct hnode hn_static;    /* group->statics (by instance id) */
	TAILQ_ENTRY(member) link;  /* group->mlist, in join order */
	struct group *grp;
	struct gstr id;
	struct gstr instance_id;   /* len -1: dynamic */
	struct gstr client_id;
	struct gstr client_host;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;
	struct mproto *protos;
	uint32_t n_protos;
	uint8_t *assignment;
	uint32_t assignment_len;
	bool awaiting_join;
	bool awaiting_sync;
	bool is_new;
	bool pending_sync;         /* joined, SyncGroup not yet received */
	bool join_v9;              /* parked JoinGroup supports skip_assignment */
	uint64_t join_token;
	uint64_t sync_token;
	struct gtimer timer;       /* T_MEMBER */
};

TAILQ_HEAD(member_list, member);

struct pending_member {
	struct hnode hn;
	TAILQ_ENTRY(pending_member) link;
	struct group *grp;
	struct gstr id;
	struct gtimer timer;       /* T_PENDING */
};

TAILQ_HEAD(pending_list, pending_member);

/* How many members support a protocol name (for the common set). */
struct proto_count {
	struct gstr name;
	uint32_t count;
	uint32_t votes;    /* scratch of select_protocol */
};

/* A committed offset. Staged commits point at it (n_staged); when its group
 * or the partition is deleted meanwhile it is detached (grp NULL) and freed
 * once the last staged commit is done with it. */
struct offset_entry {
	struct hnode hn;           /* group->offsets by (topic, partition) */
	struct group *grp;         /* NULL: detached */
	struct gstr topic;
	int32_t partition;
	bool has_value;            /* durable value present */
	uint32_t n_staged;
	int64_t offset;
	int32_t leader_epoch;
	int64_t commit_ts;
	int64_t expire_ts;         /* -1: none (v5+ semantics) */
	struct gstr metadata;
	uint32_t rec_size;         /* size of its live journal record */
};

enum join_kind { JOIN_NONE, JOIN_DELAYED, JOIN_INITIAL };

struct group {
	struct hnode hn;           /* co->groups */
	TAILQ_ENTRY(group) link;   /* co->glist, in creation order */
	struct gstr id;
	uint64_t incarnation;
	enum gstate state;
	int64_t state_ts;          /* when the current state was entered */
	int32_t generation;
	struct gstr protocol_type; /* len -1: none */
	struct gstr protocol;      /* len -1: none */
	struct member *leader;
	struct member_list mlist;
	struct htab members;
	struct htab statics;
	uint32_t n_members;
	uint32_t n_awaiting_join;
	uint32_t n_pending_sync;
	struct pending_list plist;
	struct htab pendings;
	uint32_t n_pending;
	bool new_member_added;
	struct proto_count *protos;
	uint32_t n_protos, cap_protos;
	enum join_kind join_kind;
	int64_t initial_remaining_ms;
	int64_t initial_delay_cur_ms;
	struct gtimer join_timer;  /* T_JOIN */
	int32_t sync_generation;
	struct gtimer sync_timer;  /* T_SYNC */
	/* Topics the consumer protocol metadata subscribes to, sorted. */
	bool subscribed_known;
	char **subscribed;
	uint32_t n_subscribed;
	struct htab offsets;
	uint32_t n_offsets;        /* entries, with or without a value */
	bool persisted;            /* has a live GROUP record */
	uint32_t rec_size;         /* its size */
	struct cgroup *cg;         /* consumer protocol (KIP-848); NULL:
				    * classic (group_consumer.c) */
};

TAILQ_HEAD(group_list, group);

/* ------------------------------------------------------------------------
 * Responses that wait for fmq_group_flush.
 * ---------------------------------------------------------------------- */

struct staged_part {
	struct offset_entry *entry;  /* NULL: not committed (error set) */
	int64_t offset;
	int32_t leader_epoch;
	int64_t commit_ts;
	int64_t expire_ts;
	char *metadata;              /* into the waiter's block */
	uint32_t metadata_len;
	uint32_t rec_size;
};

struct waiter {
	TAILQ_ENTRY(waiter) link;
	uint64_t token;
	enum fmq_group_api api;
	/* COMMIT: resp.u.commit.parts and staged[] (same index). DELETE /
	 * OFFSET_DELETE: the prepared response. All in one allocation. */
	struct fmq_group_resp resp;
	struct staged_part *staged;
	uint32_t n_staged;
	/* Cluster mode, DELETE / OFFSET_DELETE: the store confirmations
	 * still awaited, the first error among them, and OFFSET_DELETE's
	 * group id (in the same allocation). */
	uint32_t store_wait;
	int16_t store_err;
	struct fmq_group_str gid;
};

TAILQ_HEAD(waiter_list, waiter);

/* ------------------------------------------------------------------------
 * Journal
 * ---------------------------------------------------------------------- */

enum jrec_type {
	JREC_OFFSET = 1,
	JREC_OFFSET_DEL = 2,
	JREC_GROUP = 3,
	JREC_GROUP_DEL = 4,
};

struct journal {
	int dirfd;
	int fd;
	uint64_t file_bytes;
	uint8_t *buf;            /* records not yet written */
	size_t len, cap;
	bool need_rewrite;       /* after a failed write: rewrite from memory */
	bool oom;                /* a record could not be buffered */
};

/* A decoded record, handed to the loader. Strings point into the file. */
struct jrec {
	enum jrec_type type;
	struct fmq_group_str group;
	struct fmq_group_str topic;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	int64_t commit_ts;
	int64_t expire_ts;
	struct fmq_group_str metadata;
	int32_t generation;
	int64_t state_ts;
	uint8_t empty;
	struct fmq_group_str protocol_type;
	struct fmq_group_str protocol;
};

typedef int (*journal_load_fn)(struct fmq_group *co, const struct jrec *r,
			       uint32_t rec_size);

int journal_open(struct journal *j, const char *dir, struct fmq_group *co,
		 journal_load_fn fn, uint64_t *truncated);
void journal_close(struct journal *j);
/* Buffer a record; returns its framed size, or 0 when out of memory. */
uint32_t journal_add(struct journal *j, const struct jrec *r);
/* Size a record would have. */
uint32_t journal_rec_size(const struct jrec *r);
/* Write and fdatasync the buffer; 0 or -errno (buffer dropped either way). */
int journal_sync(struct journal *j);
/* Rewrite the journal as a snapshot of co's live state; 0 or -errno. */
int journal_rewrite(struct journal *j, struct fmq_group *co);
void journal_drop_buffer(struct journal *j);

/* ------------------------------------------------------------------------
 * The coordinator.
 * ---------------------------------------------------------------------- */

struct fmq_group {
	struct fmq_group_conf conf;
	fmq_group_emit_fn emit;
	void *emit_arg;
	fmq_group_hw_fn hw;
	void *hw_arg;
	bool active;
	uint64_t seed;           /* hash seed */
	uint64_t rng;            /* member id generator state */
	uint64_t next_incarnation;
	struct htab groups;
	struct group_list glist;
	uint32_t n_groups;
	uint32_t n_offsets;      /* entries with a value, all groups */
	uint32_t n_entries;      /* entries incl. staged-only, all groups */
	struct gtimer **heap;
	uint32_t heap_n, heap_cap;
	uint32_t timers_reserved;
	int64_t next_retention_ms;
	struct journal j;
	struct waiter_list waiters;
	/* Cluster mode: the replicated store, and the commits it holds. */
	const struct fmq_group_store *store;
	void *store_arg;
	struct waiter_list held;
	uint64_t journal_live_bytes;
	int64_t last_now;
	/* Scratch for JoinGroup member lists, sized at join time so that a
	 * completing rebalance never allocates. */
	struct fmq_group_join_member *scratch;
	uint32_t scratch_cap;
	/* Consumer protocol: topic metadata, and the answers of the last
	 * fmq_group_consumer_* call (freed by the next one). */
	int (*topic)(void *arg, const char *name, uint8_t id[16],
		     uint32_t *nparts);
	const char *(*topic_at)(void *arg, size_t i);
	uint64_t (*topics_version)(void *arg);
	void *topic_arg;
	void **cans;
	uint32_t n_cans, cap_cans;
	struct fmq_group_stats st;
};

/* group_core.c */
void emit(struct fmq_group *co, uint64_t token, struct fmq_group_resp *r);
struct group *group_find(struct fmq_group *co, struct fmq_group_str id);
struct group *group_create(struct fmq_group *co, struct fmq_group_str id,
			   int64_t now);
void group_free(struct fmq_group *co, struct group *grp);
void group_transition(struct fmq_group *co, struct group *grp, enum gstate s,
		      int64_t now);
void group_persist(struct fmq_group *co, struct group *grp);
void group_tombstone(struct fmq_group *co, struct group *grp);
int gen_member_id(struct fmq_group *co, struct gstr *out,
		  struct fmq_group_str prefix);

/* group_rebalance.c */
void member_timer_fired(struct fmq_group *co, struct member *m, int64_t now);
void pending_timer_fired(struct fmq_group *co, struct pending_member *p,
			 int64_t now);
void join_timer_fired(struct fmq_group *co, struct group *grp, int64_t now);
void sync_timer_fired(struct fmq_group *co, struct group *grp, int64_t now);
void group_unload(struct fmq_group *co, struct group *grp, int16_t err);
void member_free(struct fmq_group *co, struct member *m);
void pending_free(struct fmq_group *co, struct pending_member *p);
bool group_is_subscribed(const struct group *grp, const char *topic);
int16_t validate_current_member(struct fmq_group *co, struct group *grp,
				struct fmq_group_str mid,
				struct fmq_group_str iid);
void member_heartbeat(struct fmq_group *co, struct member *m, int64_t now);
int16_t validate_group_id(const struct fmq_group *co, struct fmq_group_str id,
			  bool empty_ok);

/* group_consumer.c */
struct cmember;
void cmember_timer_fired(struct fmq_group *co, struct gtimer *t, int64_t now);
void cgroup_free(struct fmq_group *co, struct group *grp);
void consumer_free_answers(struct fmq_group *co);
/* OffsetCommit from a consumer-protocol group: the member epoch is the
 * generation. */
int16_t cgroup_validate_commit(struct fmq_group *co, struct group *grp,
			       const struct fmq_group_commit_req *req);
/* OffsetFetch v9 against a consumer group: the member and its epoch. */
int16_t cgroup_validate_fetch(struct fmq_group *co, struct group *grp,
			      const struct fmq_group_fetch_group *fg);
const char *cgroup_state_name(const struct group *grp);
/* The console's view of a consumer-protocol group: its KIP-848 state, the
 * group epoch as generation, protocol type "consumer", the assignor. */
void cgroup_view(const struct group *grp, struct fmq_group_view *v);

/* group_offsets.c */
struct offset_entry *offset_find(struct fmq_group *co, struct group *grp,
				 struct fmq_group_str topic, int32_t partition);
void offset_remove(struct fmq_group *co, struct offset_entry *e, bool tomb);
void offsets_remove_all(struct fmq_group *co, struct group *grp, bool tomb);
void retention_run(struct fmq_group *co, int64_t now);
int offset_load(struct fmq_group *co, const struct jrec *r, uint32_t size);

#endif /* FMQ_GROUP_PRIV_H */
