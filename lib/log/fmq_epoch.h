/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader epoch cache of a partition (KIP-101, KIP-279): the start
 * offset of each leader epoch seen in the log, Kafka's
 * LeaderEpochFileCache. The owner lcore changes it (an append of a
 * batch of a new epoch, a new leadership); any lcore reads it under a
 * sequence count (odd while the owner writes), with no lock. The
 * control thread writes it to <partition dir>/leader-epoch-checkpoint
 * (Kafka's format) when it changed.
 */
#ifndef FMQ_EPOCH_H
#define FMQ_EPOCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/** Entries kept; past that the oldest epoch is forgotten. */
#define FMQ_EPOCH_MAX 128
#define FMQ_EPOCH_FILE "leader-epoch-checkpoint"

struct fmq_epoch_entry {
	int32_t epoch;
	int64_t start;
};

struct fmq_epoch_cache {
	_Atomic uint32_t seq;        /* odd while the owner writes */
	_Atomic uint32_t n;
	_Atomic uint64_t changes;    /* bumped at each change */
	uint64_t written;            /* control thread: changes on disk */
	struct {
		_Atomic int32_t epoch;
		_Atomic int64_t start;
	} e[FMQ_EPOCH_MAX];
};

/** Empty cache. */
void fmq_epoch_init(struct fmq_epoch_cache *c);

/** The latest epoch, or -1 when empty (owner, or any lcore). */
int32_t fmq_epoch_latest(const struct fmq_epoch_cache *c);

/**
 * Kafka's assign(): epoch starts at start. Entries not below it (epoch
 * >= epoch or start >= start) are removed first. Nothing changes when
 * the latest entry has this epoch and a start not above start.
 * @return 1 if the cache changed, 0 if not, -1 for a negative argument.
 */
int fmq_epoch_assign(struct fmq_epoch_cache *c, int32_t epoch,
		     int64_t start);

/** Kafka's truncateFromEnd(): entries starting at or after end go. */
void fmq_epoch_truncate_end(struct fmq_epoch_cache *c, int64_t end);

/** Kafka's truncateFromStart(): entries starting at or before start go,
 * the last of them kept with start as its start. */
void fmq_epoch_truncate_start(struct fmq_epoch_cache *c, int64_t start);

/** A consistent copy of the entries (any lcore): returns their count. */
uint32_t fmq_epoch_snapshot(const struct fmq_epoch_cache *c,
			    struct fmq_epoch_entry *out);

/**
 * Kafka's endOffsetFor() over entries e[0..n): for requested epoch req
 * and log end offset leo, the largest epoch <= req and the start of the
 * next higher epoch (leo for the latest epoch); (-1, -1) when req is -1,
 * the cache empty or req above every epoch; (req, start of the first
 * epoch) when req is below every epoch.
 */
void fmq_epoch_end_offset_in(const struct fmq_epoch_entry *e, uint32_t n,
			     int32_t req, int64_t leo, int32_t *epoch,
			     int64_t *end);

/** fmq_epoch_end_offset_in() on a snapshot of c. */
void fmq_epoch_end_offset_for(const struct fmq_epoch_cache *c, int32_t req,
			      int64_t leo, int32_t *epoch, int64_t *end);

/**
 * Kafka's file: "0\n<count>\n" then "<epoch> <start>\n" per entry.
 * Parsing replaces c's entries (owner not running yet); a malformed file
 * gives -EINVAL and leaves c empty.
 */
int fmq_epoch_parse(struct fmq_epoch_cache *c, const char *buf, size_t len);
size_t fmq_epoch_format(const struct fmq_epoch_cache *c, char *buf,
			size_t cap);

/** Read dir/leader-epoch-checkpoint into c (-ENOENT: none). */
int fmq_epoch_load(struct fmq_epoch_cache *c, const char *dir);
/** Write c to dir/leader-epoch-checkpoint durably (temporary file,
 * fsync, rename, directory fsync). */
int fmq_epoch_save(const struct fmq_epoch_cache *c, const char *dir);

#endif /* FMQ_EPOCH_H */
