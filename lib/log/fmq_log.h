/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * FluxMQ partition log: a hugepage-backed hot pool in front of segment files
 * in Kafka's own on-disk format (record batch v2, .log/.index/.timeindex).
 *
 * Objects and the threads that may touch them:
 *
 *  - struct fmq_log: the hot pool (one shared mapping per NUMA node, cut
 *    into chunks), a free-chunk ring per node, one context per data lcore, the partition registry and
 *    the counters. Created once by the control lcore.
 *  - struct fmq_log_part: one partition. Opened (with recovery), flushed,
 *    and closed by the control thread; appended to and read from only by
 *    the data lcore that owns it (params.lcore). Retention runs on the
 *    control thread.
 *
 * "Control thread" means one thread: fmq_log_create, fmq_log_part_open,
 * fmq_log_part_close/delete, fmq_log_flush, fmq_log_retention and
 * fmq_log_recovery_done must all be called from it (they share the
 * partition registry without a lock). The owner-side calls (append, read,
 * offset_for_time) take no lock and make no system call except when a
 * segment rolls (a few open/ftruncate/mmap calls once per segment) and when
 * a read has to scan a durable file for batch boundaries.
 *
 * Hand-off between the owner and the flusher (no locks): the owner copies a
 * batch into its current chunk and then publishes the chunk's fill mark with
 * a release store; the flusher loads it with acquire, writes the bytes
 * through with pwrite and publishes the partition's written and synced
 * offsets the same way. Chunks are recycled by the flusher only after they
 * are written through and their pin count (an atomic word that also holds a
 * generation) is zero.
 *
 * Error contract: int functions return 0 or -errno; constructors return
 * NULL and set errno. Kafka error codes are int16_t values (the numbers of
 * lib/util/fmq_kafka_err.def) reported in the result structs, never mixed
 * with errno.
 */
#ifndef FMQ_LOG_H
#define FMQ_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct fmq_log;
struct fmq_log_part;

/** Bytes of the self-describing header at the start of every hot chunk. */
#define FMQ_LOG_CHUNK_HDR 512u
/** Record batch v2 header size (an empty batch). */
#define FMQ_LOG_BATCH_OVERHEAD 61u
/** Longest topic name Kafka allows. */
#define FMQ_LOG_TOPIC_MAX 249u
/** Most NUMA nodes the hot pool is split over (numa.nodes). */
#define FMQ_LOG_MAX_NODES 8u

/** Parameters of the hot pool and the log as a whole. */
struct fmq_log_params {
	/**
	 * Directory of the pool files (log.hot.dir): "hotpool", and
	 * "hotpool.node<n>" for nodes n > 0. Created.
	 */
	const char *hot_dir;
	/** Pool size (log.hot.pool.bytes); rounded up to the page size. */
	uint64_t hot_pool_bytes;
	/** Chunk size (log.hot.chunk.bytes), a multiple of 4096. */
	uint32_t hot_chunk_bytes;
	/** Number of data lcore slots partitions may name as owner (>= 1). */
	uint32_t nb_lcores;
	/** Most partitions open at once (registry size, >= 1). */
	uint32_t max_partitions;
	/**
	 * Register the pool with rte_extmem_register() so chunks can be sent
	 * as external-buffer mbufs. Needs an initialised EAL.
	 */
	bool register_extmem;
	/*
	 * Compression (docs/compression.md). Every data lcore slot gets one
	 * codec context and one rebuild buffer of the chunk's payload size,
	 * allocated here; pages are touched only when used.
	 */
	/** Snappy gather bound (message.max.bytes); 0: the chunk payload. */
	uint32_t codec_max_input;
	/**
	 * Decompression bound: largest decompressed records section accepted
	 * by deep validation and recompression (log.decompress.max.ratio x
	 * message.max.bytes); 0: 16 x the chunk payload, at most 256 MiB.
	 */
	uint32_t codec_max_output;
	int gzip_level;             /**< compression.gzip.level (ISA-L 0..3) */
	int zstd_level;             /**< compression.zstd.level (1..19; 0: 3) */
	int lz4_level;              /**< compression.lz4.level (0..12) */
	/*
	 * Idempotent producers (docs/storage.md, "Producer state").
	 */
	/** Producers remembered per partition; 0: 1024. */
	uint32_t producer_state_max;
	/** Idle producers are forgotten after this (ms); 0: one day. */
	int64_t producer_expiration_ms;
	/*
	 * NUMA split (docs/storage.md, "One pool per NUMA node"). With
	 * nb_nodes 0 or 1 there is one pool file, "hotpool", of
	 * hot_pool_bytes, with no memory binding: the single-node layout.
	 */
	/** Nodes of the layout, 0..FMQ_LOG_MAX_NODES (0 and 1: one pool). */
	uint32_t nb_nodes;
	/**
	 * nb_nodes > 1: bytes of the pool on each node; a node with 0 has no
	 * pool file. Each is rounded up to whole pages and chunks. Node 0's
	 * file is "hotpool", node n's "hotpool.node<n>"; each is bound to
	 * its node with mbind(MPOL_PREFERRED) before its pages are touched.
	 * hot_pool_bytes is not used then.
	 */
	uint64_t node_hot_bytes[FMQ_LOG_MAX_NODES];
	/**
	 * NUMA node of each data lcore slot (nb_lcores entries; copied), or
	 * NULL: all on node 0. An lcore takes chunks from its node's pool,
	 * and from the others only when that one is empty.
	 */
	const int *lcore_node;
	/** Log cleaner offset map (key -> latest offset), 24 bytes a key;
	 * 0: 16 MiB. Allocated at the first clean. */
	uint64_t cleaner_map_bytes;
};

/** fmq_log_part_params.compression: keep batches as the producer sent them. */
#define FMQ_LOG_COMPRESSION_PRODUCER 255

/** Per-partition parameters: broker defaults merged with topic overrides. */
struct fmq_log_part_params {
	const char *dir;            /**< one entry of log.dirs */
	const char *topic;          /**< 1..249 bytes, Kafka's legal chars */
	int32_t partition;          /**< >= 0 */
	uint32_t lcore;             /**< owner slot, < fmq_log_params.nb_lcores */
	int32_t leader_epoch;       /**< written as partitionLeaderEpoch */
	uint32_t max_message_bytes; /**< message.max.bytes */
	uint64_t segment_bytes;     /**< segment.bytes, 1024..2^31-1 */
	int64_t roll_ms;            /**< segment.ms (> 0) */
	uint32_t index_interval_bytes; /**< index.interval.bytes */
	uint32_t index_max_bytes;   /**< segment.index.bytes */
	uint64_t hot_bytes;         /**< log.hot.bytes */
	uint64_t flush_messages;    /**< flush.messages */
	uint64_t flush_ms;          /**< flush.ms (0: sync every pass) */
	int64_t retention_ms;       /**< retention.ms, -1: unlimited */
	int64_t retention_bytes;    /**< retention.bytes, -1: unlimited */
	bool log_append_time;       /**< message.timestamp.type=LogAppendTime */
	/**
	 * compression.type: FMQ_LOG_COMPRESSION_PRODUCER (store as sent) or
	 * a Kafka codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) that
	 * every stored batch is rebuilt to when it differs.
	 */
	uint8_t compression;
	/**
	 * validation=deep: decompress and check every record of every batch
	 * (INVALID_RECORD / CORRUPT_MESSAGE / MESSAGE_TOO_LARGE). Shallow
	 * (false) checks framing, CRC and the batch header, and the records
	 * of uncompressed batches.
	 */
	bool deep_validation;
	/*
	 * Compaction (docs/storage.md, "Log compaction"). Read by the
	 * control thread's retention and cleaner passes.
	 */
	/** cleanup.policy: FMQ_LOG_CLEANUP_DELETE and/or _COMPACT. */
	uint8_t cleanup;
	/** min.cleanable.dirty.ratio (0..1). */
	double min_cleanable_ratio;
	/** min.compaction.lag.ms: newer segments are not cleaned. */
	int64_t min_compaction_lag_ms;
	/** max.compaction.lag.ms: older dirty data is cleaned whatever the
	 * ratio. */
	int64_t max_compaction_lag_ms;
	/** delete.retention.ms: how long a tombstone outlives its segment's
	 * last record before the cleaner removes it. */
	int64_t delete_retention_ms;
	/**
	 * Transactions in a cluster (docs/architecture.md, "Transactions
	 * in a cluster"): the partition derives its open transactions from
	 * the transactional batches and markers it appends, as leader or
	 * follower, into its LSO and aborted index, and does not refuse a
	 * transactional batch whose producer the local coordinator did not
	 * list (the coordinator may be another broker).
	 */
	bool txn_from_log;
};

/** fmq_log_part_params.cleanup: retention deletes old segments. */
#define FMQ_LOG_CLEANUP_DELETE 0x1
/** fmq_log_part_params.cleanup: the cleaner keeps the last record per key. */
#define FMQ_LOG_CLEANUP_COMPACT 0x2

/**
 * Fill the log parameters from the broker configuration. hot_dir points
 * into cfg. nb_lcores and max_partitions are the caller's.
 */
void fmq_log_params_from_config(struct fmq_log_params *p,
				const struct fmq_config *cfg,
				uint32_t nb_lcores, uint32_t max_partitions);

/**
 * Fill partition parameters from the broker defaults in cfg. dir is chosen
 * among log.dirs: the first that already has <topic>-<partition>/, else
 * one picked by a hash of the name. dir_buf (at least FMQ_CFG_STR_MAX bytes)
 * holds it; topic is not copied. Topic overrides are applied by the caller
 * afterwards.
 */
void fmq_log_part_params_from_config(struct fmq_log_part_params *pp,
				     const struct fmq_config *cfg,
				     const char *topic, int32_t partition,
				     uint32_t lcore, char *dir_buf);

/** Partition parameters with Kafka's defaults (for tests and tools). */
void fmq_log_part_params_default(struct fmq_log_part_params *pp);

/**
 * Map the hot pool (one file per NUMA node of the layout) and get the log
 * ready. On hugetlbfs the pages are
 * reserved here: a pool larger than the free hugepages fails with ENOMEM and
 * err says how many pages to reserve. On any other file system the pool is
 * an ordinary shared file mapping (a warning is logged once and
 * fmq_log_hot_is_huge() is false). Chunks found in the file with a valid
 * header are kept for fmq_log_part_open() to recover from, in every pool
 * file of hot_dir: also those of nodes this layout does not have and past
 * the end of a file that shrank (both are kept until
 * fmq_log_recovery_done(), then unmapped and removed or cut).
 *
 * @param err
 *   Receives a one-line reason on failure.
 * @return
 *   The log, or NULL with errno: EINVAL (parameters), ENOMEM (pool does not
 *   fit), or the errno of a failed file operation.
 */
struct fmq_log *fmq_log_create(const struct fmq_log_params *p,
			       char *err, size_t errlen);

/**
 * Close every partition still open, unregister and unmap the pool. The pool
 * file stays (it is what a restart recovers from); see fmq_log_destroy_pool.
 */
void fmq_log_free(struct fmq_log *log);

/**
 * Remove the pool files (every node's) of a freed log's hot_dir and the
 * directory if empty (tests, clean shutdown).
 */
int fmq_log_destroy_pool(const char *hot_dir);

/** True when the pool is on hugetlbfs, false for the ordinary fallback. */
bool fmq_log_hot_is_huge(const struct fmq_log *log);

/**
 * Base address and length of the first pool's mapping (node 0's on a
 * single-node layout), and the page size. See fmq_log_hot_pool_info for
 * the others.
 */
void fmq_log_hot_region(const struct fmq_log *log, void **va, size_t *len,
			size_t *page_sz);

/** One NUMA node's hot pool. */
struct fmq_log_pool_info {
	const char *path;        /**< the pool file */
	void *va;                /**< chunks handed out: [va, va + len) */
	size_t len;
	uint32_t chunks_total;
	uint32_t chunks_free;    /**< in its free ring (racy snapshot) */
	bool bound;              /**< mbind to the node succeeded */
	uint64_t mbind_failures; /**< 1 when it could not be bound */
	uint64_t misplaced_pages; /**< hugepages found on another node */
};

/**
 * Describe the pool of a NUMA node.
 * @return 0, or -ENOENT when the node has no pool in this layout.
 */
int fmq_log_hot_pool_info(const struct fmq_log *log, uint32_t node,
			  struct fmq_log_pool_info *info);

/**
 * Declare that every partition that exists on disk has been opened: chunks
 * of the pool that no partition claimed go back to the free rings; pool
 * files of nodes the layout no longer has are removed, and files that
 * shrank are cut to their new size.
 */
void fmq_log_recovery_done(struct fmq_log *log);

/**
 * Open (creating if needed) a partition and recover it: every segment is
 * checked from its last valid index entry onward (CRC of each batch), cut at
 * the first invalid batch, and its indexes rebuilt; then batches newer than
 * the durable tier found in hot-pool chunks of this partition are validated
 * and written through. Prints progress for large logs. Control thread.
 *
 * @return
 *   The partition, or NULL with errno: EINVAL, EEXIST (already open),
 *   ENOSPC (registry full), or the errno of a failed file operation.
 */
struct fmq_log_part *fmq_log_part_open(struct fmq_log *log,
				       const struct fmq_log_part_params *pp);

/**
 * Write through what is left, sync, and close the partition. The owner must
 * no longer use it and every range it returned must have been released.
 * Control thread.
 */
int fmq_log_part_close(struct fmq_log_part *part);

/**
 * Close the partition and remove its directory with every file in it
 * (topic deletion). Control thread.
 */
int fmq_log_part_delete(struct fmq_log_part *part);

/**
 * Change a partition's settings in place (topic configs altered): taken
 * from pp are max_message_bytes, segment_bytes, roll_ms,
 * index_interval_bytes, index_max_bytes, flush_messages, flush_ms,
 * retention_ms, retention_bytes, log_append_time, compression,
 * deep_validation and the compaction settings (cleanup,
 * min_cleanable_ratio, min/max_compaction_lag_ms, delete_retention_ms);
 * the rest of pp is ignored. The next append uses them
 * (a smaller segment_bytes or roll_ms rolls then; index_max_bytes sizes
 * the next segment's indexes); the next flusher and retention passes use
 * the flush and retention settings. Owner lcore (no lock: the owner is
 * the only reader of the append settings).
 *
 * @return 0, or -EINVAL when pp fails the checks of fmq_log_part_open()
 *   (nothing changed then).
 */
int fmq_log_part_set_config(struct fmq_log_part *part,
			    const struct fmq_log_part_params *pp);

/**
 * The partition's current settings (dir is NULL). Owner lcore, or the
 * control thread for the flush and retention settings.
 */
void fmq_log_part_get_config(const struct fmq_log_part *part,
			     struct fmq_log_part_params *pp);

/* ------------------------------------------------------------------------
 * Append (owner lcore)
 * ---------------------------------------------------------------------- */

/** Result of one append. */
struct fmq_log_append_result {
	int16_t error;        /**< Kafka error code, 0 on success */
	uint32_t records;     /**< records in the batch */
	int64_t base_offset;  /**< offset given to the first record */
	int64_t last_offset;  /**< offset of the last record */
	int64_t log_append_time; /**< ms, or -1 (CreateTime topics) */
	int64_t log_start_offset;
	/**
	 * The batch repeats one of the last 5 batches of its idempotent
	 * producer: nothing was appended, the offsets (and append time) are
	 * those the original got. The return value is 0.
	 */
	bool duplicate;
	/**
	 * On INVALID_RECORD / INVALID_TIMESTAMP from deep validation: the
	 * failing record's index in the batch (Produce v8 batch_index), or -1
	 * when the batch as a whole failed.
	 */
	int32_t record_index;
	/** Static text for Produce v8 error_message, or NULL. */
	const char *error_message;
};

/**
 * Append one record batch (magic 2) held in bytes [off, off + len) of an
 * mbuf chain. The batch is validated (size, magic, length fields, CRC-32C,
 * record count and, for uncompressed batches, every record's framing),
 * given offsets (baseOffset and partitionLeaderEpoch are rewritten; with
 * LogAppendTime maxTimestamp too and the CRC recomputed), copied once into
 * the partition's hot chunk, indexed, and made visible: the high watermark
 * moves past it. A rejected batch leaves nothing behind.
 *
 * The chain is not modified or freed.
 *
 * With deep validation the records are decompressed (bounded) and walked;
 * with a topic codec (pp.compression) a batch of another codec is rebuilt
 * with it (CRC recomputed) before it is stored. Batches of idempotent
 * producers (producerId >= 0) are checked against the partition's
 * producer state as Kafka's ProducerStateManager does: a repeat of one of
 * the producer's last 5 batches is not appended again (res->duplicate,
 * original offsets), an older epoch is INVALID_PRODUCER_EPOCH, a sequence
 * that does not follow the last one (or a new epoch not starting at 0) is
 * OUT_OF_ORDER_SEQUENCE_NUMBER; an unknown producer starts at any
 * sequence.
 *
 * @return
 *   0 on success (also for a duplicate); -EBADMSG if the batch was
 *   rejected (res->error holds the Kafka code: CORRUPT_MESSAGE,
 *   MESSAGE_TOO_LARGE, INVALID_RECORD, INVALID_TIMESTAMP,
 *   UNSUPPORTED_FOR_MESSAGE_FORMAT, UNSUPPORTED_COMPRESSION_TYPE,
 *   RECORD_LIST_TOO_LARGE, OUT_OF_ORDER_SEQUENCE_NUMBER,
 *   INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE); -EAGAIN if no
 *   node's hot pool has a free chunk (the owner's node first, then the
 *   others, counted as remote; the flusher is behind: stop reading from
 *   producers of this partition and retry later; counted); -ENOSPC or
 *   another -errno if a segment could not be rolled (res->error is
 *   KAFKA_STORAGE_ERROR).
 */
int fmq_log_append(struct fmq_log_part *part, const struct rte_mbuf *m,
		   uint32_t off, uint32_t len,
		   struct fmq_log_append_result *res);

/** fmq_log_append() for a batch in one contiguous buffer. */
int fmq_log_append_buf(struct fmq_log_part *part, const void *buf,
		       uint32_t len, struct fmq_log_append_result *res);

/**
 * Append one batch as a follower (replication): the leader's batch is
 * kept byte for byte (baseOffset, partitionLeaderEpoch, timestamps and
 * CRC as the leader wrote them; the CRC and framing are checked as for
 * fmq_log_append) and must start at this log's end offset. The
 * producer state learns the batch (so this replica can lead with it)
 * but does not judge it: the leader did.
 * @return 0; -ERANGE (res->error OFFSET_OUT_OF_RANGE) when the batch's
 *   base offset is not the log end; the codes of fmq_log_append().
 */
int fmq_log_append_follower(struct fmq_log_part *part, const void *buf,
			    uint32_t len, struct fmq_log_append_result *res);

/** The partitionLeaderEpoch that appends write from now on (owner
 * lcore): the leader epoch this broker leads the partition under. */
void fmq_log_part_set_leader_epoch(struct fmq_log_part *part, int32_t epoch);

/**
 * Kafka's endOffsetFor() on the partition's leader epoch cache (any
 * lcore): the largest epoch <= req and its end offset (the log end for
 * the latest epoch), or (-1, -1) (lib/log/fmq_epoch.h).
 */
int fmq_log_epoch_end_offset(struct fmq_log_part *part, int32_t req,
			     int32_t *epoch, int64_t *end);

/** Owner lcore: forget the epochs starting at or past end (a follower
 * whose last epoch the leader does not have, with nothing to cut). */
void fmq_log_epoch_truncate(struct fmq_log_part *part, int64_t end);

/** The latest leader epoch in the partition's cache, or -1. */
int32_t fmq_log_epoch_latest(const struct fmq_log_part *part);

/**
 * Truncate a closed partition's directory (dir: <log dir>/<topic>-<p>)
 * so that the log ends before offset: segments starting at or after it
 * are removed, the one holding it is cut before the first batch whose
 * last offset is at or past it (a batch is never split), producer
 * snapshots past the new end are removed; the next
 * fmq_log_part_open() rebuilds the indexes. Control thread.
 * @return the new log end offset (<= offset), or -errno.
 */
int64_t fmq_log_dir_truncate(const char *dir, int64_t offset);

/** Offsets of a partition (owner lcore; other threads see recent values). */
struct fmq_log_offsets {
	int64_t log_start;   /**< first offset still in the log */
	int64_t high_watermark; /**< next offset to be assigned */
	int64_t written;     /**< next offset not yet written through */
	int64_t synced;      /**< next offset not yet fdatasync'ed */
};

void fmq_log_part_offsets(const struct fmq_log_part *part,
			  struct fmq_log_offsets *o);

/** Size and traffic of one partition, for per-partition metrics. */
struct fmq_log_part_stats {
	int64_t log_start;         /**< first offset still in the log */
	int64_t log_end;           /**< next offset to be assigned */
	uint64_t size_bytes;       /**< bytes of its segments (the log's size) */
	uint32_t segments;
	uint64_t appended_bytes;   /**< batch bytes appended since open */
	uint64_t appended_records; /**< records appended since open */
	uint64_t read_bytes;       /**< bytes fetched (fmq_log_part_note_read) */
};

/**
 * Read a partition's stats. Any thread that may run retention (the
 * control lcore): the segment ring is walked with atomic loads; values
 * may be a few appends old.
 */
void fmq_log_part_stats(const struct fmq_log_part *part,
			struct fmq_log_part_stats *s);

/** Owner lcore: count bytes handed to a fetch (consumers or followers). */
void fmq_log_part_note_read(struct fmq_log_part *part, uint64_t bytes);

/**
 * True while the log.dirs entry of the partition is offline: a write,
 * fdatasync or index reservation there failed (ENOSPC, EIO, EDQUOT,
 * EROFS...) and no retry has succeeded yet. Produce must then answer
 * KAFKA_STORAGE_ERROR. Any thread; one atomic load.
 */
bool fmq_log_part_offline(const struct fmq_log_part *part);

/** True while the log.dirs entry path is offline (any thread). */
bool fmq_log_dir_offline(const struct fmq_log *log, const char *path);

/** The log.dirs entry a partition lives in (its directory's parent). */
const char *fmq_log_part_log_dir(const struct fmq_log_part *part);

/**
 * Offline log dirs: returns how many, and writes one line per dir
 * ("log dir offline: <path>: <error>\n") into buf (truncated to len).
 * Any thread.
 */
int fmq_log_dirs_offline(const struct fmq_log *log, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Read (owner lcore), for zero-copy fetch
 * ---------------------------------------------------------------------- */

/**
 * One run of whole batches, in a hot chunk or in a segment file. A hot range
 * is pinned (its chunk is not recycled) and a durable one holds its segment
 * open until fmq_log_range_release().
 */
struct fmq_log_range {
	const uint8_t *addr;  /**< hot: bytes in the pool; NULL if durable */
	int fd;               /**< durable: .log file; -1 if hot */
	uint64_t pos;         /**< durable: position in the file */
	uint32_t len;         /**< bytes, whole batches */
	int64_t first_offset; /**< base offset of the first batch */
	int64_t next_offset;  /**< one past the last batch's last offset */
	void *handle;         /**< pin; see fmq_log_range_release */
};

/** Result of a read. */
struct fmq_log_read_result {
	int16_t error;        /**< 0 or OFFSET_OUT_OF_RANGE */
	uint32_t nranges;
	uint32_t bytes;
	int64_t high_watermark;
	int64_t log_start_offset;
};

/**
 * Collect whole batches starting with the batch that holds offset, up to
 * max_bytes (always at least one batch if any is available, as Kafka
 * does), into at most nmax ranges. Ranges are in offset order.
 *
 * @return
 *   0 (res->error tells OFFSET_OUT_OF_RANGE apart; no ranges then), or
 *   -EIO if a durable file could not be read.
 */
int fmq_log_read(struct fmq_log_part *part, int64_t offset,
		 uint32_t max_bytes, struct fmq_log_range *ranges,
		 uint32_t nmax, struct fmq_log_read_result *res);

/**
 * fmq_log_read() that stops before batches starting at or after upto:
 * a replicated partition's high watermark (consumers read no further),
 * and for read_committed also the last stable offset, whichever is lower.
 * res->high_watermark stays the log end: the caller knows which bound it
 * gave. An offset past the log end is still OFFSET_OUT_OF_RANGE; one
 * between upto and the log end reads nothing.
 */
int fmq_log_read_upto(struct fmq_log_part *part, int64_t offset,
		      int64_t upto, uint32_t max_bytes,
		      struct fmq_log_range *ranges, uint32_t nmax,
		      struct fmq_log_read_result *res);

/** Drop the pin of a range from fmq_log_read(). Any lcore or thread. */
void fmq_log_range_release(const struct fmq_log_range *r);

/**
 * An rte_mbuf_extbuf_free_callback_t: attach a hot range with
 * rte_pktmbuf_attach_extbuf() and a shared info whose free_cb is this and
 * fcb_opaque is range.handle; the pin drops when the last mbuf is freed.
 */
void fmq_log_extbuf_free_cb(void *addr, void *opaque);

/**
 * Copy a range's bytes into dst (len bytes): memcpy for hot ranges, pread
 * for durable ones. For tools, tests and the copy-once fetch path.
 *
 * @return 0 or -errno.
 */
int fmq_log_range_copy(const struct fmq_log_range *r, void *dst);

/** fmq_log_offset_for_time(): ListOffsets MAX_TIMESTAMP (KIP-734). */
#define FMQ_LOG_TS_MAX (-3)

/**
 * ListOffsets by timestamp: the first offset whose record timestamp is at
 * least ts (exact for uncompressed batches; the batch's base offset for
 * compressed ones), found through the time index. Owner lcore.
 *
 * With ts = FMQ_LOG_TS_MAX: the record with the largest timestamp, as
 * Kafka finds it (the earliest of equal ones: first segment, first batch,
 * first record; the first record of a LogAppendTime batch; compressed
 * batches are decompressed), and that timestamp. The segments' maximum
 * timestamps are rebuilt from the .timeindex on open, so this survives a
 * restart.
 *
 * @return
 *   0 and *offset (-1 when no record is that new, or the log holds no
 *   timestamped batch; *ts_found the timestamp), or -errno.
 */
int fmq_log_offset_for_time(struct fmq_log_part *part, int64_t ts,
			    int64_t *offset, int64_t *ts_found);

/* ------------------------------------------------------------------------
 * Flush, retention (control thread)
 * ---------------------------------------------------------------------- */

/**
 * One flusher pass over every open partition: write new hot data through
 * to the segment files (pwrite), fdatasync the partitions whose policy says
 * so (or all with force), publish written/synced offsets, and give chunks
 * back to the pool (past log.hot.bytes, or any flushed one under pressure).
 *
 * @return
 *   Bytes written through in this pass (>= 0), or -errno of the first
 *   failed write (the other partitions are still flushed).
 */
int64_t fmq_log_flush(struct fmq_log *log, uint64_t now_ns, bool force);

/** fmq_log_flush() for one partition. */
int64_t fmq_log_part_flush(struct fmq_log_part *part, uint64_t now_ns,
			   bool force);

/**
 * Test and maintenance hook: while stalled, fmq_log_flush() does nothing
 * (appends then back off with -EAGAIN once the pool is exhausted).
 */
void fmq_log_flush_stall(struct fmq_log *log, bool stalled);

/**
 * Delete whole segments past retention.ms / retention.bytes: never the
 * active segment, never one not yet synced, never one a reader holds.
 *
 * @return number of segments deleted, or -errno.
 */
int fmq_log_retention(struct fmq_log *log, int64_t now_ms);

/** fmq_log_retention() for one partition. */
int fmq_log_part_retention(struct fmq_log_part *part, int64_t now_ms);

/**
 * DeleteRecords: move the partition's log start offset up to offset (-1:
 * the high watermark). The new start is written to
 * <partition dir>/log-start-offset (fdatasync, rename, directory fsync)
 * before it takes effect, so it survives a restart and a SIGKILL.
 * Fetches below it get OFFSET_OUT_OF_RANGE, ListOffsets earliest returns
 * it, and the next retention pass deletes the whole segments below it
 * (whatever the cleanup.policy). An offset at or below the current start
 * changes nothing. Control thread.
 *
 * @param low
 *   The log start offset afterwards (Kafka's low watermark).
 * @return 0; -EPERM when the partition's cleanup.policy has no delete
 *   (POLICY_VIOLATION, as Kafka); -ERANGE when offset is past the high
 *   watermark or below -1 (OFFSET_OUT_OF_RANGE); or -errno of the failed
 *   write (KAFKA_STORAGE_ERROR; nothing changed).
 */
int fmq_log_part_delete_records(struct fmq_log_part *part, int64_t offset,
				int64_t *low);

/* ------------------------------------------------------------------------
 * Log compaction (control thread)
 * ---------------------------------------------------------------------- */

/**
 * One bounded slice of log compaction (docs/storage.md, "Log
 * compaction"): picks a partition with cleanup.policy=compact whose dirty
 * ratio reached min.cleanable.dirty.ratio (or whose oldest dirty segment
 * passed max.compaction.lag.ms), and works on it until about budget bytes
 * were read (0: 1 MiB). Only closed segments whose bytes are synced and
 * whose hot chunks left the pool are rewritten; never the active one.
 *
 * @return 1 when a round is still under way (call again soon), 0 when
 *   idle, or -errno of a failed round (abandoned; the log is unchanged).
 */
int fmq_log_clean(struct fmq_log *log, int64_t now_ms, uint64_t budget);

/**
 * Clean one partition now, whatever the other partitions (tests, tools).
 * @return segments rewritten, 0 if nothing was cleanable, -EBUSY if the
 *   cleaner is in the middle of another partition, or -errno.
 */
int fmq_log_part_clean(struct fmq_log_part *part, int64_t now_ms);

/**
 * Test hook: stop every later swap after step n (1: cleaned files
 * written, 2: index files renamed to .swap, 3: log renamed to .swap (the
 * commit), 4: log renamed into place), leaving the files as a crash
 * would; the call returns -ECANCELED. 0 turns it off.
 */
void fmq_log_clean_crash_at(struct fmq_log *log, int step);

/* ------------------------------------------------------------------------
 * Counters, /metrics
 * ---------------------------------------------------------------------- */

/** Totals over every lcore (readers may see values a few updates old). */
struct fmq_log_stats {
	uint64_t mbind_failures;   /**< pools left unbound (one per pool) */
	/** Batches appended, by the codec they are stored with. */
	uint64_t batches_by_codec[5];
	uint64_t cleaner_ns;         /**< time spent in finished rounds */
	/* The rest, one line each in log_metrics.def. */
#define X(field, type, name, help) uint64_t field;
#include "log_metrics.def"
#undef X
};

void fmq_log_stats(const struct fmq_log *log, struct fmq_log_stats *st);

/** fmq_metrics_fn rendering the log's counters; arg is the fmq_log. */
void fmq_log_metrics(struct fmq_metrics_out *out, void *arg);

/* ------------------------------------------------------------------------
 * Idempotent producer state
 * ---------------------------------------------------------------------- */

/** What a partition remembers of one producer. */
struct fmq_log_producer_info {
	int16_t epoch;
	int32_t last_seq;        /**< last sequence of the newest batch */
	int64_t last_offset;     /**< last offset of the newest batch */
	uint32_t nbatches;       /**< batches cached for duplicates (<= 5) */
};

/**
 * Look a producer up in a partition's state. Owner lcore, or the control
 * thread while the owner does not append (tests, tools).
 *
 * @return 0 and *info, or -ENOENT.
 */
int fmq_log_producer_lookup(const struct fmq_log_part *part, int64_t pid,
			    struct fmq_log_producer_info *info);

/** One producer of a partition as DescribeProducers shows it. */
struct fmq_log_producer_desc {
	int64_t pid;
	int16_t epoch;
	int32_t last_seq;        /**< last sequence of its newest batch */
	int64_t last_ms;         /**< wall clock of its last append */
	int64_t txn_start;       /**< its open transaction's first offset, -1 */
};

/**
 * The producers a partition's state holds (not expired), in no order:
 * at most max into out. Owner lcore. Returns how many there are (may
 * exceed max: call again with room for them all).
 */
uint32_t fmq_log_producers_describe(const struct fmq_log_part *part,
				    int64_t now_ms,
				    struct fmq_log_producer_desc *out,
				    uint32_t max);

/**
 * Publish the first offset on the partition of each open transaction
 * (producer ids pids[i], first offsets firsts[i]; beyond 8, the rest
 * answer -1). Control thread (the transaction coordinator).
 */
void fmq_log_txn_set_starts(struct fmq_log_part *part, const int64_t *pids,
			    const int64_t *firsts, uint32_t n);

/* ------------------------------------------------------------------------
 * Transactions (txn.c; docs/architecture.md, "Transactions")
 * ---------------------------------------------------------------------- */

/** An aborted transaction of one producer in a partition: its records
 * lie in [first, last), last is its abort marker's offset. */
struct fmq_log_aborted {
	int64_t pid;
	int64_t first;
	int64_t last;
};

/**
 * Append a transaction marker (a control batch: attributes transactional
 * and control, one record, key version 0 and type 0 abort / 1 commit,
 * value version 0 and the coordinator epoch) for producer pid/epoch.
 * An abort also enters (pid, first_off, marker offset) in the aborted
 * index. Owner lcore. Returns as fmq_log_append_buf() (-EAGAIN: retry).
 */
int fmq_log_txn_marker(struct fmq_log_part *part, int64_t pid, int16_t epoch,
		       bool commit, int32_t coord_epoch, int64_t first_off,
		       struct fmq_log_append_result *res);

/**
 * Set the first offset of the oldest transaction still open on the
 * partition (-1: none; the LSO is min(it, high watermark)) and the
 * producer ids with a transaction open on it: a transactional batch of
 * another producer is refused with INVALID_TXN_STATE (Kafka's partition
 * verification, KIP-890); with more than 8 of them none is refused.
 * Written by one thread (the transaction coordinator on the control
 * lcore).
 */
void fmq_log_txn_set_open(struct fmq_log_part *part, int64_t first,
			  const int64_t *pids, uint32_t npids);

/** The last stable offset (any thread). */
int64_t fmq_log_part_lso(const struct fmq_log_part *part);

/**
 * The aborted transactions that overlap [from, to): at most max of them,
 * oldest first, into out. Any thread. Returns how many there were (may
 * exceed max: then only the first max are stored).
 */
uint32_t fmq_log_txn_aborted(const struct fmq_log_part *part, int64_t from,
			     int64_t to, struct fmq_log_aborted *out,
			     uint32_t max);

/**
 * Enter an aborted transaction known from elsewhere (the coordinator's
 * journal at start-up), in marker offset order, before any marker is
 * appended to the partition. 0 or -ENOMEM.
 */
int fmq_log_txn_restore(struct fmq_log_part *part,
			const struct fmq_log_aborted *a);

/* ------------------------------------------------------------------------
 * Record batch helpers (pure functions, any thread)
 * ---------------------------------------------------------------------- */

/** Kafka's CRC-32C (Castagnoli) of n bytes, via ISA-L crc32_iscsi. */
uint32_t fmq_log_crc32c(const void *p, size_t n);

/**
 * Validate one record batch in a contiguous buffer exactly as append does
 * (without offsets or size limits other than max_bytes).
 *
 * @return 0 or a Kafka error code.
 */
int16_t fmq_log_batch_check(const void *buf, uint32_t len,
			    uint32_t max_bytes, uint32_t *records);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_LOG_H */
