/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log internals. Not part of the public API: include fmq_log.h.
 */
#ifndef FMQ_LOG_PRIV_H
#define FMQ_LOG_PRIV_H

#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_byteorder.h>

#include "fmq_epoch.h"
#include "fmq_log.h"

#define LOG_COMP "log"

#include "fmq_kerr.h"

/* Record batch v2 field offsets (all big-endian). */
#define RB_BASE_OFFSET 0
#define RB_LENGTH 8
#define RB_LEADER_EPOCH 12
#define RB_MAGIC 16
#define RB_CRC 17
#define RB_ATTRIBUTES 21
#define RB_LAST_OFFSET_DELTA 23
#define RB_FIRST_TS 27
#define RB_MAX_TS 35
#define RB_PRODUCER_ID 43
#define RB_PRODUCER_EPOCH 51
#define RB_BASE_SEQ 53
#define RB_COUNT 57
#define RB_RECORDS 61
#define RB_LOG_OVERHEAD 12   /* baseOffset + batchLength */

#define RB_ATTR_CODEC_MASK 0x07
#define RB_ATTR_TS_LOG_APPEND 0x08
#define RB_ATTR_TXN 0x10
#define RB_ATTR_CONTROL 0x20

static inline uint64_t
rd_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return rte_be_to_cpu_64(v);
}

static inline uint32_t
rd_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

static inline uint16_t
rd_be16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return rte_be_to_cpu_16(v);
}

static inline void
wr_be64(uint8_t *p, uint64_t v)
{
	v = rte_cpu_to_be_64(v);
	memcpy(p, &v, 8);
}

static inline void
wr_be32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_be_32(v);
	memcpy(p, &v, 4);
}

static inline void
wr_be16(uint8_t *p, uint16_t v)
{
	v = rte_cpu_to_be_16(v);
	memcpy(p, &v, 2);
}

/* Decoded batch header fields that the log uses. */
struct batch_info {
	int64_t base_offset;
	uint32_t size;          /* whole batch incl. the 12-byte log overhead */
	uint16_t attributes;
	int32_t last_delta;
	int64_t first_ts;
	int64_t max_ts;
	int32_t count;
};

/* batch.c */
void batch_peek(const uint8_t *b, struct batch_info *bi);
int16_t batch_validate(const uint8_t *b, uint32_t len, uint32_t max_bytes,
		       struct batch_info *bi, bool *crc_failed);
int16_t batch_validate_stored(const uint8_t *b, uint32_t len,
			      struct batch_info *bi, bool *crc_failed);
uint32_t batch_crc(const uint8_t *b, uint32_t size);
int batch_first_ts_at_least(const uint8_t *b, uint32_t size, int64_t ts,
			    int64_t *offset, int64_t *ts_found);
/* One record of an uncompressed records section (cleaner). */
struct rec_view {
	const uint8_t *rec;     /* its length varint */
	uint32_t size;          /* bytes from rec to the next record */
	int64_t ts_delta;
	int64_t off_delta;
	const uint8_t *key;     /* NULL: null key */
	int32_t key_len;        /* -1: null */
	int32_t value_len;      /* -1: null (a tombstone) */
};

/* Parse the record at p (bounded by end). 0 or -1 if malformed. */
int batch_record_next(const uint8_t *p, const uint8_t *end,
		      struct rec_view *rv);

struct fmq_codec_ctx;
int batch_offset_of_max_ts(const uint8_t *b, uint32_t size,
			   struct fmq_codec_ctx *ctx, int64_t *offset);

/*
 * The append's fused pass. The batch is copied into the chunk block by
 * block (BATCH_BLOCK bytes); each block's CRC-32C is computed and the
 * records whose bytes are all copied are walked while the block is still
 * in L1/L2, so nothing is read back from memory after the copy. Same
 * checks, order and codes as batch_validate().
 */
#define BATCH_BLOCK (8u << 10)

struct rte_mbuf;

/* Where the batch bytes come from: a flat buffer (m == NULL) or an mbuf
 * chain; p/left are the rest of the current segment. */
struct batch_src {
	const struct rte_mbuf *m;
	const uint8_t *p;
	uint32_t left;
	bool control;   /* the broker's own control batch (txn.c) */
};

void batch_src_buf(struct batch_src *s, const void *buf);
/* The chain must hold off + the bytes to copy (checked by the caller);
 * off may be its end. */
void batch_src_chain(struct batch_src *s, const struct rte_mbuf *m,
		     uint32_t off);
/* Copies len bytes from src to dst (all of them only if the header checks
 * pass) and validates them; dst must have room for len bytes. */
int16_t batch_copy_validate(uint8_t *dst, struct batch_src *src, uint32_t len,
			    uint32_t max_bytes, uint32_t block,
			    struct batch_info *bi, bool *crc_failed);

/* ------------------------------------------------------------------------
 * Hot pool
 * ---------------------------------------------------------------------- */

#define CHUNK_MAGIC 0x31434f48514d4646ull  /* "FFMQHOC1" little-endian */
#define CHUNK_VERSION 1u

/* Self-describing header at the start of each chunk, in pool memory (host
 * byte order: the pool never leaves this machine). hdr_crc covers every
 * field but fill and itself, so a torn header is ignored by recovery. */
struct chunk_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t chunk_bytes;
	uint64_t seq;           /* allocation order, pool-wide */
	uint64_t topic_hash;
	int32_t partition;
	uint32_t topic_len;
	int64_t base_offset;    /* offset of the first batch */
	int64_t seg_base;       /* segment the batches belong to */
	uint64_t seg_pos;       /* their position in that segment */
	uint32_t hdr_crc;
	uint32_t fill;          /* bytes of whole batches; release-stored */
	char topic[256];
};

_Static_assert(sizeof(struct chunk_hdr) <= FMQ_LOG_CHUNK_HDR,
	       "chunk header too large");

/* Chunk state word: generation in the high 32 bits, pin count below. The
 * flusher recycles a chunk by moving (gen, 0) to (gen + 1, 0) with a CAS,
 * so a pin taken with a stale generation fails and nothing can pin a
 * chunk that is being recycled. */
#define ST_GEN(s) ((uint32_t)((s) >> 32))
#define ST_PINS(s) ((uint32_t)(s))

struct seg;

struct chunk {
	_Atomic uint64_t state;
	struct chunk_hdr *hdr;
	uint8_t *data;          /* hdr + FMQ_LOG_CHUNK_HDR */
	/* Written by the owner before the chunk is published in its
	 * partition's hot list; read by the flusher after an acquire. */
	struct seg *seg;
	uint64_t seg_pos;
	int64_t base_offset;
	uint32_t id;
	uint16_t pool;          /* index in fmq_log.pools */
} __rte_cache_aligned;

static inline bool
chunk_pin(struct chunk *c, uint32_t gen)
{
	uint64_t s = atomic_load_explicit(&c->state, memory_order_relaxed);

	for (;;) {
		if (ST_GEN(s) != gen)
			return false;
		if (atomic_compare_exchange_weak_explicit(&c->state, &s, s + 1,
				memory_order_acquire, memory_order_relaxed))
			return true;
	}
}

static inline void
chunk_unpin(struct chunk *c)
{
	atomic_fetch_sub_explicit(&c->state, 1, memory_order_release);
}

/* Per data lcore: chunk cache, codec context, rebuild buffer and counters
 * (single writer). */
#define LCORE_CACHE_MAX 16

struct fmq_codec_ctx;

struct fmq_log_lcore {
	uint32_t ncache;
	uint32_t cache_max;
	uint32_t cache[LCORE_CACHE_MAX];
	uint32_t home;                 /* pool index its chunks come from */
	int node;                      /* its NUMA node (params) */
	struct fmq_codec_ctx *codec;   /* deep validation, recompression */
	uint8_t *rebuild;              /* a rebuilt batch (chunk payload) */
	uint32_t rebuild_cap;
	uint64_t appends;
	uint64_t append_bytes;
	uint64_t append_records;
	uint64_t rejects;
	uint64_t crc_failures;
	uint64_t backpressure;
	uint64_t rolls;
	uint64_t by_codec[5];
	uint64_t deep_validated;
	uint64_t recompressed;
	uint64_t recompress_in;
	uint64_t recompress_out;
	uint64_t duplicates;
	uint64_t out_of_order;
	uint64_t invalid_epoch;
	uint64_t producers;            /* states held by its partitions */
	uint64_t producers_evicted;
	uint64_t remote_chunks;        /* taken from another node's pool */
	uint64_t follower_pbatches;    /* producer batches learnt as follower */
	uint64_t txn_log_markers;      /* markers closing a derived txn */
	uint64_t txn_index_nomem;      /* aborted index entries lost */
} __rte_cache_aligned;

/* Single-writer counter bump that a concurrent reader never sees torn. */
#define STAT_ADD(field, v) \
	__atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* ------------------------------------------------------------------------
 * Segments
 * ---------------------------------------------------------------------- */

#define SEG_DEAD (1ull << 63)
#define IDX_ENTRY 8u
#define TIM_ENTRY 12u

struct seg {
	_Atomic uint64_t state;     /* SEG_DEAD | reader refs */
	int64_t base;
	int fd_log;
	int fd_idx;
	int fd_tim;
	uint8_t *idx;               /* mmap of .index (idx_cap entries) */
	uint8_t *tim;               /* mmap of .timeindex */
	size_t idx_map;             /* mapped bytes */
	size_t tim_map;
	uint32_t idx_n;             /* entries; owner (recovery: control) */
	uint32_t tim_n;
	uint32_t idx_cap;
	uint32_t tim_cap;
	/* Entries whose file blocks are allocated (fallocate), so writing
	 * them through the mapping cannot SIGBUS on a full disk; the owner
	 * adds no entry past them (the index is only sparser). */
	_Atomic uint32_t idx_room;
	_Atomic uint32_t tim_room;
	uint32_t bytes_since_idx;
	bool sealed;                /* indexes trimmed: no more appends */
	_Atomic uint64_t size;      /* bytes appended (owner) */
	_Atomic uint64_t written;   /* bytes written through (flusher) */
	_Atomic int64_t next_offset; /* one past the last batch (owner) */
	_Atomic int64_t max_ts;     /* largest batch maxTimestamp (owner) */
	int64_t max_ts_off;         /* offset of that batch's last record */
	int64_t created_ms;
};

/* ------------------------------------------------------------------------
 * Log and partition
 * ---------------------------------------------------------------------- */

/* One pool file. Live pools (one per NUMA node that has a share of the
 * pool) hand out chunks [first, first + nlive); chunks past nlive (the
 * file was larger last run) and every chunk of a retired pool (a node
 * this layout no longer has) are read only by recovery, and are unmapped
 * and cut off by fmq_log_recovery_done. */
struct hot_pool {
	char path[PATH_MAX];
	uint8_t *va;
	size_t map_len;             /* mapped: live + recovery-only tail */
	size_t live_len;            /* nlive chunks */
	int fd;
	int node;                   /* NUMA node (from the file name) */
	bool live;
	bool bound;                 /* mbind succeeded */
	bool extmem;
	uint32_t first;             /* global id of its first chunk */
	uint32_t nchunks;           /* mapped chunks */
	uint32_t nlive;             /* chunks that go through the ring */
	struct rte_ring *free_ring; /* live pools only */
	void *ring_mem;
	size_t ring_len;
	uint64_t mbind_failures;
	uint64_t misplaced_pages;   /* found on another node after binding */
	_Atomic uint32_t pressure;  /* an owner found this pool empty */
};

#define LOG_POOLS_MAX (2 * FMQ_LOG_MAX_NODES)

/*
 * One entry of log.dirs, as partitions name it. When a write, fdatasync or
 * index reservation fails in it (ENOSPC, EIO, EDQUOT, EROFS), it goes
 * offline: produce to its partitions is refused (KAFKA_STORAGE_ERROR), its
 * hot chunks stay in the pool, and the flusher retries with backoff; the
 * first pass in which every retried write of the dir succeeds brings it
 * back. Control thread, except offline (read by any thread).
 */
#define LOG_DIRS_MAX 64
#define LOG_DIR_BACKOFF_MIN_NS (100ull * 1000000)
#define LOG_DIR_BACKOFF_MAX_NS (2000ull * 1000000)
#define LOG_DIR_REMIND_NS (30ull * 1000000000)

struct log_dir {
	char path[PATH_MAX];
	_Atomic bool offline;
	bool probing;               /* retried in this flusher pass */
	bool failed;                /* an error in this pass */
	int err;                    /* last errno */
	uint64_t write_errors;      /* every failed write/sync (counter) */
	uint64_t offline_total;     /* times it went offline (counter) */
	uint64_t since_ns;          /* offline since */
	uint64_t retry_ns;          /* next retry */
	uint64_t backoff_ns;
	uint64_t remind_ns;         /* next reminder in the log */
	uint64_t quiet;             /* errors not logged since then */
};

struct fmq_log {
	struct fmq_log_params p;
	char hot_dir[PATH_MAX];
	size_t page_sz;
	bool huge;
	struct hot_pool pools[LOG_POOLS_MAX];
	uint32_t npools;            /* live first, then retired */
	uint32_t nlive_pools;
	int node_pool[FMQ_LOG_MAX_NODES]; /* live pool of a node, or -1 */
	uint32_t nchunks;           /* every mapped chunk, all pools */
	uint32_t nlive;             /* chunks that can be handed out */
	uint32_t chunk_bytes;
	struct chunk *chunks;
	uint8_t *orphan;            /* per chunk: valid header, unclaimed */
	uint32_t norphans;
	/* Chunks of closed partitions still pinned by packets in flight
	 * (zero-copy fetch): returned by the flusher once unpinned. */
	struct pinned_chunk {
		uint32_t id, gen;
	} *pinned;
	uint32_t npinned, pinned_cap;
	_Atomic uint64_t seq;
	_Atomic bool stalled;
	struct log_dir *dirs;       /* LOG_DIRS_MAX */
	uint32_t ndirs;
	struct fmq_log_lcore *lcores;
	struct fmq_log_part **parts;
	uint32_t nparts;
	/* Control-thread counters. */
	uint64_t recoveries;
	uint64_t recovered_batches;
	uint64_t truncated_bytes;
	uint64_t flushed_bytes;
	uint64_t syncs;
	uint64_t flush_lag_bytes;
	uint64_t flush_lag_messages;
	uint64_t segments_deleted;
	uint64_t producer_snapshots;
	uint32_t rr;                /* pressure reclaim round robin */
	/* Log cleaner (cleaner.c; control thread). */
	struct cleaner *cl;
	int cl_crash_at;
	uint64_t cleaner_runs;
	uint64_t cleaner_segments;
	uint64_t cleaner_read_bytes;
	uint64_t cleaner_written_bytes;
	uint64_t cleaner_records_removed;
	uint64_t cleaner_tombstones_removed;
	uint64_t cleaner_swap_waits;
	uint64_t cleaner_errors;
	uint64_t cleaner_ns;
	uint64_t delete_records;
};

/* ------------------------------------------------------------------------
 * Idempotent producer state (producer.c)
 * ---------------------------------------------------------------------- */

#define PS_BATCHES 5            /* Kafka's NUM_BATCHES_TO_RETAIN */

/* One cached batch of a producer. */
struct ps_batch {
	int32_t first_seq;
	int32_t last_seq;
	int64_t first_off;
	int64_t last_off;
	int64_t ts;             /* append time (LogAppendTime) or -1 */
};

struct ps_entry {
	int64_t pid;
	int64_t last_ms;        /* wall clock of its last append */
	uint64_t touch;         /* ps clock of its last append (LRU order) */
	int16_t epoch;
	uint8_t nb;             /* cached batches */
	uint8_t head;           /* index of the oldest */
	struct ps_batch b[PS_BATCHES];
};

/* Open addressing over pid (slots hold entry index + 1), entries dense.
 * Owned by the partition's owner lcore; the control thread touches it
 * only before the owner starts (recovery) and after it stops (close). */
struct pstate {
	struct ps_entry *ent;
	uint32_t n;
	uint32_t cap;           /* entries allocated */
	uint32_t max;           /* log.producer.state.max.producers */
	uint32_t *slot;
	uint32_t smask;         /* slots - 1 (2 x cap, power of two) */
	int64_t expire_ms;
	uint64_t clock;         /* commits so far */
};

/* A serialized snapshot handed from the owner to the flusher. */
struct ps_snap {
	int64_t offset;         /* state after every batch below it */
	uint32_t len;
	uint8_t data[];
};

/* Header fields of a batch the producer state looks at. */
struct ps_key {
	int64_t pid;
	int16_t epoch;
	int32_t first_seq;
	int32_t last_seq;
	uint16_t attributes;
};

void ps_key_of(const uint8_t *b, struct ps_key *k);
int ps_init(struct pstate *ps, uint32_t max, int64_t expire_ms);
void ps_fini(struct pstate *ps);
int16_t ps_check(struct pstate *ps, const struct ps_key *k, int64_t now_ms,
		 const struct ps_batch **dup);
int ps_commit(struct pstate *ps, const struct ps_key *k, int64_t first_off,
	      int64_t last_off, int64_t ts, int64_t now_ms, bool replay,
	      int64_t *evicted);
struct ps_snap *ps_serialize(const struct pstate *ps, int64_t offset,
			     int64_t now_ms);
int ps_snap_write(const char *dir, const struct ps_snap *s);
int ps_recover(struct fmq_log_part *p);

/* One chunk of a partition's hot list (owner-written, immutable once
 * published). */
struct hot_ent {
	uint32_t id;
	uint32_t gen;
	int64_t base;           /* offset of its first batch */
};

#define DIRTY_MAX 4

#define TXN_PIDS 8   /* open transactions listed per partition */
#define TXN_DOPEN 64 /* open transactions a partition derives (txn_open.c) */

/*
 * One partition's log, in three sections by writer so that the owner
 * lcore's appends and the flusher's progress never share a cache line
 * (each section starts on its own line; partition_open allocates the
 * struct cache-aligned):
 *  - set at open, read by all;
 *  - written by the owner lcore (appends, fetch accounting, producers);
 *  - written by the control thread (flusher, retention, DeleteRecords,
 *    the cleaner).
 */
struct fmq_log_part {
	/* ---- set at open, read-mostly ---- */
	struct fmq_log *log;
	struct fmq_log_lcore *lc;
	struct fmq_log_part_params pp;
	char topic[FMQ_LOG_TOPIC_MAX + 1];
	char dir[PATH_MAX];         /* <log.dir>/<topic>-<p> */
	struct log_dir *ld;         /* the log.dirs entry it lives in */
	uint64_t topic_hash;
	uint32_t reg_idx;
	/* Segment ring: the owner adds at tail, retention (control) retires
	 * at head. Slots are embedded so a retired one stays valid memory
	 * until the owner reuses it (the owner is the only one that pins). */
	struct seg *segs;
	uint32_t seg_mask;
	/* Hot list: chunks in offset order. The owner adds at tail; the
	 * flusher recycles from the head (publishing reclaimed). */
	struct hot_ent *hot;
	uint32_t hot_mask;

	/* ---- owner lcore ---- */
	alignas(RTE_CACHE_LINE_SIZE) _Atomic int64_t next_offset; /* high
							 * watermark */
	struct chunk *cur;             /* append target, or NULL */
	uint32_t cur_gen;
	uint32_t cur_fill;
	_Atomic uint64_t app_bytes;    /* appended, for the flush lag */
	_Atomic uint64_t app_records;  /* records appended since open */
	_Atomic uint64_t read_bytes;   /* handed to fetches since open */
	_Atomic uint64_t hot_tail;
	_Atomic uint64_t seg_tail;
	/* Idempotent producers (owner), and a snapshot the owner took at a
	 * roll for the flusher to write (exchanged atomically). */
	struct pstate ps;
	struct ps_snap *_Atomic snap_pending;

	/* ---- control thread: flusher, retention, cleaner ---- */
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint64_t reclaimed;
	_Atomic uint64_t seg_head;
	_Atomic int64_t log_start;
	/* Flusher. Chunks [reclaimed, sync_idx) and the first sync_pos bytes
	 * of chunk sync_idx are written and fdatasync'ed: only those may be
	 * recycled, and a failed fdatasync rewinds the flusher there (the
	 * kernel may have dropped the pages it could not write). */
	uint64_t fl_idx;
	uint32_t fl_pos;
	uint64_t sync_idx;
	uint32_t sync_pos;
	int64_t err_seg;            /* segment of the last failure, or -1 */
	const char *err_op;         /* "write", "fdatasync", ... */
	_Atomic int64_t written_off;
	_Atomic int64_t synced_off;
	uint64_t wr_bytes;
	uint64_t unsynced_msgs;
	uint64_t unsynced_since_ns;
	struct seg *dirty[DIRTY_MAX];
	uint32_t ndirty;
	/* Log cleaner: offsets below are clean. */
	int64_t clean_off;

	/* ---- transactions (txn.c) ---- */
	/* First offset of the oldest open transaction + 1, 0: none
	 * (control thread writes; the LSO for every reader). */
	alignas(RTE_CACHE_LINE_SIZE) _Atomic int64_t txn_open1;
	/* Aborted transactions index, in marker offset order: the owner
	 * appends (marker), any lcore reads (read_committed Fetch). */
	struct txn_aidx *_Atomic aidx;
	_Atomic uint32_t aidx_n;
	/* Producers with a transaction open here (KIP-890 verification):
	 * the control thread writes under a sequence count (odd while it
	 * writes), the owner reads; more than TXN_PIDS: not verified. */
	_Atomic uint32_t txn_seq;
	_Atomic uint32_t txn_npids;
	_Atomic int64_t txn_pids[TXN_PIDS];
	/* DescribeProducers (producer_describe.c): the first offset here
	 * of each open transaction, by producer id; the control thread
	 * writes under its own sequence count, any lcore reads. */
	_Atomic uint32_t txs_seq;
	_Atomic uint32_t txs_n;
	_Atomic int64_t txs_pid[TXN_PIDS];
	_Atomic int64_t txs_first[TXN_PIDS];
	/* Open transactions derived from the log (txn_open.c, with
	 * pp.txn_from_log): the owner writes the table; the bound (oldest
	 * first offset + 1, 0: none) is read by every LSO reader. */
	_Atomic int64_t txn_dfirst1;
	int64_t dopen_ovf1;         /* beyond the table: first + 1, 0 */
	int64_t dopen_closed;       /* first offset the last marker closed */
	uint32_t dopen_n;
	struct {
		int64_t pid;
		int64_t first;
	} dopen[TXN_DOPEN];

	/* ---- leader epoch cache (epoch.c): owner writes ---- */
	alignas(RTE_CACHE_LINE_SIZE) struct fmq_epoch_cache epochs;
};

static inline struct seg *
part_seg(const struct fmq_log_part *p, uint64_t i)
{
	return &p->segs[i & p->seg_mask];
}

static inline struct seg *
part_active_seg(const struct fmq_log_part *p)
{
	return part_seg(p, atomic_load_explicit(&p->seg_tail,
						memory_order_relaxed) - 1);
}

/* txn.c */
bool txn_pid_open(const struct fmq_log_part *p, int64_t pid);
struct txn_aidx {
	struct txn_aidx *older;   /* retired arrays, freed at close */
	uint32_t cap;
	struct fmq_log_aborted e[];
};
void txn_fini(struct fmq_log_part *p);
int txn_aidx_add(struct fmq_log_part *p, const struct fmq_log_aborted *e);
/* txn_open.c: what one appended batch does to the derived open
 * transactions; type -1: nothing, 0 abort marker, 1 commit marker. */
struct txn_seen {
	int64_t pid;
	int type;
};
void txn_log_pre(struct fmq_log_part *p, const uint8_t *b, uint32_t len,
		 int64_t base, struct txn_seen *ts);
void txn_log_post(struct fmq_log_part *p, const struct txn_seen *ts,
		  int64_t marker_off);
int txn_log_rebuild(struct fmq_log_part *p);
int log_append_control(struct fmq_log_part *part, const void *buf,
		       uint32_t len, struct fmq_log_append_result *res);

/* pool.c */
struct chunk *pool_get(struct fmq_log *log, struct fmq_log_lcore *lc);
void pool_put(struct fmq_log *log, struct chunk *c);
bool pool_low(const struct fmq_log *log, uint32_t pool);
void pool_pressure_settle(struct fmq_log *log);
uint64_t pool_free_chunks(const struct fmq_log *log);
void chunk_hdr_seal(struct chunk_hdr *h);
bool chunk_hdr_valid(const struct fmq_log *log, const struct chunk_hdr *h);
uint64_t topic_hash(const char *topic);

/* segment.c */
void seg_path(const struct fmq_log_part *p, int64_t base, const char *ext,
	      char *buf, size_t len);
int seg_create(struct fmq_log_part *p, struct seg *s, int64_t base);
int seg_open_existing(struct fmq_log_part *p, struct seg *s, int64_t base);
int seg_recover(struct fmq_log_part *p, struct seg *s, int64_t *next,
		uint64_t *truncated);
void seg_seal(struct seg *s);
int seg_index_reserve(struct seg *s);
void seg_close(struct seg *s);
int seg_unlink(const struct fmq_log_part *p, struct seg *s);
void seg_index_add(struct fmq_log_part *p, struct seg *s, int64_t last_off,
		   uint32_t pos, int64_t max_ts, uint32_t batch_bytes);
uint32_t seg_index_lookup(const struct seg *s, int64_t offset);
int seg_time_lookup(const struct seg *s, int64_t ts, int64_t *offset);
int seg_append_durable(struct fmq_log_part *p, const uint8_t *b,
		       const struct batch_info *bi);
bool seg_pin(struct seg *s);
void seg_unpin(struct seg *s);
int seg_read_header(const struct seg *s, uint64_t pos, uint8_t *hdr,
		    uint64_t limit);

/* partition.c */
int part_roll(struct fmq_log_part *p, int64_t now_ms);
/* recovery.c (control thread, at open) */
int list_segments(const char *dir, int64_t **bases, uint32_t *n);
int part_recover(struct fmq_log_part *p);

/* cleaner.c */
int cleaner_recover_dir(const char *dir);
void cleaner_load_checkpoint(struct fmq_log_part *p);
void cleaner_forget(struct fmq_log_part *p);
void cleaner_free(struct fmq_log *log);
void log_start_load(struct fmq_log_part *p);

/* epoch.c */
int epoch_open(struct fmq_log_part *p);
void epoch_write_pending(struct fmq_log_part *p);
void epoch_dir_truncate(const char *dir, int64_t end);

/* flush.c */
int64_t part_release_hot_below(struct fmq_log_part *p, int64_t off);
void chunk_retire(struct fmq_log *log, struct chunk *c);
struct log_dir *log_dir_get(struct fmq_log *log, const char *path);


#endif /* FMQ_LOG_PRIV_H */
