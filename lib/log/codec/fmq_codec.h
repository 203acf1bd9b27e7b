/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * FluxMQ compression codecs and record batch v2 helpers.
 *
 * The partition log and the broker call this library to decompress,
 * validate ("validation=deep") and recompress Kafka record batches
 * (magic 2). Every data lcore creates one context at start-up with
 * fmq_codec_ctx_create(); all buffers and library states are allocated
 * there and reused, so the calls below do not allocate (see "Allocation"
 * in docs/compression.md for the one exception, libsnappy's compressor).
 * A context is not thread-safe: one lcore, one context.
 *
 * Two error vocabularies, never mixed:
 *  - codec-level functions (fmq_codec_compress/decompress) return 0 or a
 *    negative errno;
 *  - batch-level functions return an int16_t Kafka error code, one of the
 *    FMQ_KERR_* values of lib/util/fmq_kafka_err.def (0 = NONE).
 *
 * Output is always bounded by a capacity the caller gives: data that would
 * expand beyond it is an error (-ENOSPC / MESSAGE_TOO_LARGE), never a
 * larger allocation, so a decompression bomb costs at most the bound.
 */
#ifndef FMQ_CODEC_H
#define FMQ_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fmq_util.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Kafka's codec ids: attributes bits 0-2 of a record batch. */
enum fmq_codec {
	FMQ_CODEC_NONE = 0,
	FMQ_CODEC_GZIP = 1,
	FMQ_CODEC_SNAPPY = 2,
	FMQ_CODEC_LZ4 = 3,
	FMQ_CODEC_ZSTD = 4,
	FMQ_CODEC_COUNT = 5,
};

/** One piece of a discontiguous buffer (e.g. the data of one mbuf). */
struct fmq_codec_seg {
	const uint8_t *p;
	uint32_t len;
};

/** Sizes and levels fixed when a context is created. */
struct fmq_codec_limits {
	/**
	 * Largest snappy payload that arrives in several segments: libsnappy
	 * cannot stream, so such a payload is gathered into a scratch buffer
	 * of this size first (-EMSGSIZE beyond it). 0 = 8 MiB.
	 */
	uint32_t max_input;
	/**
	 * Largest decompressed records section the batch helpers accept
	 * (the decompression bomb bound); a buffer of this size is kept in
	 * the context (twice: a second one for offset rewrites). 0 = 32 MiB.
	 */
	uint32_t max_output;
	/** ISA-L igzip level 0..3 (0 = fastest). */
	int gzip_level;
	/** zstd level, 1..19; 0 = zstd's default (3). */
	int zstd_level;
	/** LZ4 level: 0..2 = fast (Kafka's default), 3..12 = LZ4 HC. */
	int lz4_level;
};

/** Counters of one context; owned and written by its lcore only. */
struct fmq_codec_stats {
	uint64_t dec_calls[FMQ_CODEC_COUNT];     /**< decompressions done */
	uint64_t dec_bytes_in[FMQ_CODEC_COUNT];  /**< compressed bytes read */
	uint64_t dec_bytes_out[FMQ_CODEC_COUNT]; /**< bytes produced */
	uint64_t dec_corrupt[FMQ_CODEC_COUNT];   /**< undecodable input */
	uint64_t dec_too_big[FMQ_CODEC_COUNT];   /**< output over the bound */
	uint64_t enc_calls[FMQ_CODEC_COUNT];     /**< compressions done */
	uint64_t enc_bytes_in[FMQ_CODEC_COUNT];
	uint64_t enc_bytes_out[FMQ_CODEC_COUNT];
	uint64_t enc_too_big[FMQ_CODEC_COUNT];   /**< output over the bound */
	uint64_t batches_validated;  /**< fmq_codec_batch_validate calls */
	uint64_t batches_invalid;    /**< ... that returned an error */
	uint64_t crc_errors;         /**< batch CRC-32C mismatches */
	uint64_t batches_recompressed;
	uint64_t records_validated;
};

struct fmq_codec_ctx;

/**
 * Create a codec context (one per data lcore). Allocates every buffer and
 * library state the calls need, at the sizes given.
 *
 * @param lim
 *   Sizes and levels; NULL for the defaults.
 * @return
 *   The context, or NULL with errno: EINVAL (a level out of range),
 *   ENOMEM.
 */
struct fmq_codec_ctx *fmq_codec_ctx_create(const struct fmq_codec_limits *lim);

/** Free a context; NULL is ignored. */
void fmq_codec_ctx_free(struct fmq_codec_ctx *ctx);

/** The context's counters (read them from any thread; never torn). */
const struct fmq_codec_stats *
fmq_codec_ctx_stats(const struct fmq_codec_ctx *ctx);

/** The limits in force (defaults filled in). */
const struct fmq_codec_limits *
fmq_codec_ctx_limits(const struct fmq_codec_ctx *ctx);

/** "none", "gzip", "snappy", "lz4", "zstd", or "unknown". */
const char *fmq_codec_name(int codec);

/**
 * Decompress one Kafka records section.
 *
 * gzip: RFC 1952, crc32 and isize checked, concatenated members accepted.
 * snappy: xerial framing (what Java clients send) or raw snappy, told
 * apart by the xerial magic as Java's SnappyInputStream does.
 * lz4: one LZ4 frame, any block size, checksums and content size honoured.
 * zstd: one or more frames, content size optional.
 * Bytes after the end of the last frame/member are an error.
 *
 * @param segs, nsegs
 *   The compressed bytes, in order; segments may be empty.
 * @param out, out_cap
 *   Destination and its capacity: the bound.
 * @param out_len
 *   Set to the bytes produced on success.
 * @return
 *   0; -EINVAL (unknown codec or FMQ_CODEC_NONE, NULL arguments);
 *   -ENOSPC (the data expands beyond out_cap); -EBADMSG (corrupt or
 *   truncated input); -EMSGSIZE (snappy input over limits.max_input).
 */
int fmq_codec_decompress(struct fmq_codec_ctx *ctx, int codec,
			 const struct fmq_codec_seg *segs, unsigned int nsegs,
			 uint8_t *out, size_t out_cap, size_t *out_len);

/**
 * Compress bytes into the framing Kafka's Java broker writes for the codec:
 * gzip (RFC 1952), xerial-framed snappy with 32 KiB blocks, an LZ4 frame
 * with independent 64 KiB blocks and no checksums, a zstd frame.
 *
 * @return
 *   0; -EINVAL; -ENOSPC (the result does not fit out_cap; out is then
 *   garbage).
 */
int fmq_codec_compress(struct fmq_codec_ctx *ctx, int codec,
		       const struct fmq_codec_seg *segs, unsigned int nsegs,
		       uint8_t *out, size_t out_cap, size_t *out_len);

/** Worst-case compressed size of in_len bytes (0 for an unknown codec). */
size_t fmq_codec_compress_bound(int codec, size_t in_len);

/* ------------------------------------------------------------------------
 * Record batch v2.
 * ---------------------------------------------------------------------- */

/** Bytes of a v2 batch header, baseOffset through records count. */
#define FMQ_CODEC_BATCH_HDR_LEN 61
/** Offset of the CRC field; the CRC covers [FMQ_CODEC_BATCH_CRC_START, end). */
#define FMQ_CODEC_BATCH_CRC_OFF 17
#define FMQ_CODEC_BATCH_CRC_START 21
/** Offset of the batchLength field and what it does not count. */
#define FMQ_CODEC_BATCH_LEN_OFF 8
#define FMQ_CODEC_BATCH_LOG_OVERHEAD 12

#define FMQ_CODEC_ATTR_CODEC_MASK 0x07
#define FMQ_CODEC_ATTR_LOG_APPEND_TIME 0x08
#define FMQ_CODEC_ATTR_TRANSACTIONAL 0x10
#define FMQ_CODEC_ATTR_CONTROL 0x20

/** A parsed v2 batch header (host byte order). */
struct fmq_codec_batch {
	int64_t base_offset;
	int32_t batch_length;
	int32_t leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t count;
};

/**
 * Parse the 61-byte header at the start of segs (it may straddle
 * segments). No validation beyond "61 bytes are there".
 *
 * @return 0, or -EBADMSG if fewer than 61 bytes are given.
 */
int fmq_codec_batch_parse(const struct fmq_codec_seg *segs,
			  unsigned int nsegs, struct fmq_codec_batch *b);

/**
 * CRC-32C (Castagnoli, as Kafka: ISA-L crc32_iscsi with ~0 in and out) of
 * bytes [skip, end) of segs.
 */
uint32_t fmq_codec_crc32c(const struct fmq_codec_seg *segs,
			  unsigned int nsegs, size_t skip);

/**
 * Check a whole batch's framing and CRC as Kafka's
 * DefaultRecordBatch.ensureValid() does: at least 61 bytes, batchLength
 * equal to the bytes given minus 12, magic 2, stored CRC equal to the
 * CRC-32C of attributes..end.
 *
 * @return FMQ_KERR NONE, or CORRUPT_MESSAGE (Kafka's code for a short
 *   batch, a bad length or a CRC mismatch). A magic other than 2 is also
 *   CORRUPT_MESSAGE here: the broker turns away other magics (with
 *   UNSUPPORTED_VERSION) before it gets this far.
 */
int16_t fmq_codec_batch_check_crc(struct fmq_codec_ctx *ctx,
				  const struct fmq_codec_seg *segs,
				  unsigned int nsegs);

/** Options for deep validation. */
struct fmq_codec_vopts {
	/** Require a key on every record (cleanup.policy=compact). */
	bool compacted;
	/**
	 * For CreateTime topics: reject record timestamps further than
	 * ts_diff_max_ms from now_ms (message.timestamp.difference.max.ms).
	 * INT64_MAX (or a negative value) disables the check.
	 */
	int64_t now_ms;
	int64_t ts_diff_max_ms;
	/** The topic uses LogAppendTime (message.timestamp.type). */
	bool log_append_time;
	/**
	 * Apply the checks Kafka's LogValidator makes on batches from
	 * clients (AppendOrigin.CLIENT): count == lastOffsetDelta + 1 > 0, no
	 * control batch, baseSequence >= 0 when a producer id is set.
	 */
	bool from_client;
};

/** What deep validation found. */
struct fmq_codec_vresult {
	int16_t kerr;          /**< same as the return value */
	int32_t record_index;  /**< failing record (Produce v8 batch_index), -1 if batch-level */
	const char *msg;       /**< static text for Produce v8 error_message, NULL if none */
	/**
	 * Every record's offsetDelta equals its index. When false Kafka's
	 * LogValidator rebuilds a compressed batch with corrected offsets
	 * instead of rejecting it (old clients); fmq_codec_batch_recompress()
	 * does the same rewrite.
	 */
	bool offsets_in_place;
	int32_t records;       /**< records walked */
	int64_t max_timestamp; /**< largest record timestamp, -1 if none */
	uint32_t records_bytes; /**< size of the (decompressed) records section */
};

/**
 * Walk a v2 records section (uncompressed, or the output of
 * fmq_codec_decompress) and check it as Kafka does when reading it
 * (DefaultRecord.readFrom, DefaultRecordBatch's iterators) and validating
 * it (LogValidator.validateRecord): each record's length varint matches
 * the bytes its fields take, varints are at most 5 (varlong 10) bytes,
 * key/value/header-value lengths are >= -1 and fit, header keys are
 * non-null, the number of records equals b->count, no bytes follow the
 * last record; plus keys (compacted), timestamps.
 *
 * @return FMQ_KERR NONE, INVALID_RECORD (structure, count, keys) or
 *   INVALID_TIMESTAMP; details in res (may be NULL).
 */
int16_t fmq_codec_records_validate(const struct fmq_codec_batch *b,
				   const struct fmq_codec_seg *segs,
				   unsigned int nsegs,
				   const struct fmq_codec_vopts *o,
				   struct fmq_codec_vresult *res);

/**
 * Deep validation of a whole batch: framing and CRC
 * (fmq_codec_batch_check_crc), the client batch checks, then decompress
 * (into the context's buffer, bounded by limits.max_output) and walk every
 * record (fmq_codec_records_validate).
 *
 * @return FMQ_KERR NONE; CORRUPT_MESSAGE (framing, CRC, compressed data
 *   that does not decode); INVALID_RECORD (batch checks, records);
 *   UNSUPPORTED_COMPRESSION_TYPE (codec bits 5-7); MESSAGE_TOO_LARGE
 *   (decompresses beyond limits.max_output); INVALID_TIMESTAMP.
 */
int16_t fmq_codec_batch_validate(struct fmq_codec_ctx *ctx,
				 const struct fmq_codec_seg *segs,
				 unsigned int nsegs,
				 const struct fmq_codec_vopts *o,
				 struct fmq_codec_vresult *res);

/**
 * Rebuild a v2 batch with another codec (FMQ_CODEC_NONE = uncompressed).
 * The header is kept except the codec bits of attributes, batchLength and
 * the CRC; records are kept byte for byte, except that offsetDeltas that
 * differ from the record's index are rewritten (what Kafka's rebuild
 * does). The input batch is validated first as fmq_codec_batch_validate()
 * does (o may be NULL: structure only).
 *
 * @param out, out_cap
 *   Where the new batch goes, and the bound on its size (e.g. the room
 *   left in a hot chunk, or message.max.bytes).
 * @return FMQ_KERR NONE, any code of fmq_codec_batch_validate(), or
 *   MESSAGE_TOO_LARGE if the new batch exceeds out_cap.
 */
int16_t fmq_codec_batch_recompress(struct fmq_codec_ctx *ctx,
				   const struct fmq_codec_seg *segs,
				   unsigned int nsegs, int codec,
				   const struct fmq_codec_vopts *o,
				   uint8_t *out, size_t out_cap,
				   size_t *out_len,
				   struct fmq_codec_vresult *res);

/* ------------------------------------------------------------------------
 * Metrics.
 * ---------------------------------------------------------------------- */

/** The contexts one render callback sums (e.g. one per data lcore). */
struct fmq_codec_metrics_set {
	struct fmq_codec_ctx *const *ctx;
	unsigned int n;
};

/**
 * fmq_metrics_fn rendering fluxmq_codec_* families summed over the set's
 * contexts, labelled by codec. arg: const struct fmq_codec_metrics_set *.
 */
void fmq_codec_metrics(struct fmq_metrics_out *out, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_CODEC_H */
