/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of lib/log/codec: the context layout, the Kafka error enum and
 * helpers shared by the codec files. Not installed; do not include from
 * other libraries.
 */
#ifndef FMQ_CODEC_PRIV_H
#define FMQ_CODEC_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <isa-l/igzip_lib.h>
#include <lz4frame.h>

#include "fmq_codec.h"

#include "fmq_kerr.h"

/* Java's SnappyOutputStream (xerial) stream header and block size. */
#define CODEC_XERIAL_HDR_LEN 16
#define CODEC_XERIAL_MAGIC_LEN 8
#define CODEC_XERIAL_BLOCK (32 * 1024)
extern const uint8_t codec_xerial_magic[CODEC_XERIAL_MAGIC_LEN];

/* Kafka's LZ4 block size (KafkaLZ4BlockOutputStream: 64 KiB). */
#define CODEC_LZ4_BLOCK (64 * 1024)

#define CODEC_DEF_MAX_INPUT (8u << 20)
#define CODEC_DEF_MAX_OUTPUT (32u << 20)

struct ZSTD_DCtx_s;
struct ZSTD_CCtx_s;

struct fmq_codec_ctx {
	struct fmq_codec_limits lim;
	struct fmq_codec_stats st;

	/* gzip: ISA-L states and the level buffer for levels 1-3. */
	struct inflate_state inflate;
	struct isal_zstream deflate;
	uint8_t *gz_level_buf;
	uint32_t gz_level_buf_size;

	LZ4F_dctx *lz4d;
	void *lz4_state;       /* LZ4 (or LZ4 HC) compression state */
	size_t lz4_state_size;
	uint8_t *lz4_tmp;      /* one compressed block when out is short */
	size_t lz4_tmp_size;
	uint8_t *lz4_blk_in;   /* a 64 KiB block gathered from segments */

	struct ZSTD_DCtx_s *zd;    /* static, inside zd_work */
	struct ZSTD_CCtx_s *zc;    /* static, inside zc_work */
	void *zd_work;
	void *zc_work;

	/* snappy: gathered input and one xerial block in and out. */
	uint8_t *lin;          /* lim.max_input bytes */
	uint8_t *sn_blk_in;    /* CODEC_XERIAL_BLOCK */
	uint8_t *sn_blk_out;   /* snappy_max_compressed_length(block) */
	size_t sn_blk_out_size;

	/* Batch helpers: decompressed records, rebuilt records. */
	uint8_t *recs;         /* lim.max_output bytes */
	uint8_t *recs2;        /* lim.max_output bytes */
};

#define CODEC_DIM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Input of a codec: a segment list minus its first `skip` bytes (the batch
 * helpers pass a whole batch and skip its 61-byte header).
 */
struct codec_in {
	const struct fmq_codec_seg *segs;
	unsigned int nsegs;
	size_t skip;
};

/* Walks the pieces of a codec_in in order. */
struct codec_it {
	const struct fmq_codec_seg *segs;
	unsigned int nsegs, i;
	size_t skip;
};

static inline void
codec_it_init(struct codec_it *it, const struct codec_in *in)
{
	it->segs = in->segs;
	it->nsegs = in->nsegs;
	it->i = 0;
	it->skip = in->skip;
}

/* Next non-empty piece; false at the end. */
static inline bool
codec_it_next(struct codec_it *it, const uint8_t **p, size_t *len)
{
	while (it->i < it->nsegs) {
		const struct fmq_codec_seg *s = &it->segs[it->i++];

		if (it->skip >= s->len) {
			it->skip -= s->len;
			continue;
		}
		*p = s->p + it->skip;
		*len = s->len - it->skip;
		it->skip = 0;
		return true;
	}
	return false;
}

/* Codec entry points (codec_<name>.c). Same contract as the public calls. */
int codec_gzip_init(struct fmq_codec_ctx *ctx);
int codec_gzip_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		   uint8_t *out, size_t cap, size_t *len);
int codec_gzip_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		   uint8_t *out, size_t cap, size_t *len);

int codec_lz4_init(struct fmq_codec_ctx *ctx);
void codec_lz4_fini(struct fmq_codec_ctx *ctx);
int codec_lz4_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		  uint8_t *out, size_t cap, size_t *len);
int codec_lz4_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		  uint8_t *out, size_t cap, size_t *len);
size_t codec_lz4_bound(size_t in_len);

int codec_zstd_init(struct fmq_codec_ctx *ctx);
void codec_zstd_fini(struct fmq_codec_ctx *ctx);
int codec_zstd_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		   uint8_t *out, size_t cap, size_t *len);
int codec_zstd_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		   uint8_t *out, size_t cap, size_t *len);
size_t codec_zstd_bound(size_t in_len);

int codec_snappy_init(struct fmq_codec_ctx *ctx);
int codec_snappy_dec(struct fmq_codec_ctx *ctx,
		     const struct codec_in *in,
		     uint8_t *out, size_t cap, size_t *len);
int codec_snappy_enc(struct fmq_codec_ctx *ctx,
		     const struct codec_in *in,
		     uint8_t *out, size_t cap, size_t *len);
size_t codec_snappy_bound(size_t in_len);

/* Total bytes of a segment list. */
static inline size_t
codec_segs_len(const struct fmq_codec_seg *segs, unsigned int nsegs)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < nsegs; i++)
		n += segs[i].len;
	return n;
}

static inline size_t
codec_in_len(const struct codec_in *in)
{
	size_t n = codec_segs_len(in->segs, in->nsegs);

	return n > in->skip ? n - in->skip : 0;
}

/* Deep validation on a codec_in (records.c). */
int16_t codec_records_validate(const struct fmq_codec_batch *b,
			       const struct codec_in *in,
			       const struct fmq_codec_vopts *o,
			       struct fmq_codec_vresult *res);

/*
 * Copy `count` validated records from in to out, setting each offsetDelta
 * to the record's index. Returns the bytes written or -ENOSPC.
 */
ssize_t codec_records_rewrite_offsets(const uint8_t *in, size_t len,
				      int32_t count, uint8_t *out,
				      size_t cap);

/* Internal forms of the public calls, on a codec_in. */
int codec_decompress(struct fmq_codec_ctx *ctx, int codec,
		     const struct codec_in *in, uint8_t *out, size_t cap,
		     size_t *len);
int codec_compress(struct fmq_codec_ctx *ctx, int codec,
		   const struct codec_in *in, uint8_t *out, size_t cap,
		   size_t *len);

/*
 * Copy bytes [off, off + n) of a segment list to dst; returns the bytes
 * copied (less than n if the list is shorter).
 */
size_t codec_segs_copy(const struct fmq_codec_seg *segs, unsigned int nsegs,
		       size_t off, uint8_t *dst, size_t n);

static inline uint32_t
codec_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void
codec_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#endif /* FMQ_CODEC_PRIV_H */
