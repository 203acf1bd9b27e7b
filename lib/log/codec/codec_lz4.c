/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lz4 for magic v2 batches: the standard LZ4 frame format (Kafka fixed its
 * header-checksum bug for v2). Reading goes through LZ4F, so any frame a
 * client writes is accepted: any block size, linked or independent blocks,
 * block and content checksums, a content size field. Writing matches
 * Kafka's KafkaLZ4BlockOutputStream: independent 64 KiB blocks, no
 * checksums, no content size (Kafka's reader rejects linked blocks); a
 * block that does not shrink is stored with the "uncompressed" bit.
 */
#include <stdlib.h>

#include <lz4.h>
#include <lz4hc.h>

#include "codec_priv.h"

/*
 * The frame header we write: magic 0x184D2204 (LE), FLG 0x60 (version 01,
 * independent blocks, no block checksum, no content size, no content
 * checksum), BD 0x40 (64 KiB blocks), HC = second byte of XXH32(FLG BD).
 * It never varies, so the checksum is a constant (librdkafka writes the
 * same seven bytes; LZ4F checks HC on every frame we decode in the tests).
 *
 * We frame the blocks ourselves rather than through LZ4F's compressor:
 * liblz4 1.9.4's LZ4F_compressBegin() allocates and frees its 16 KiB
 * stream state on every frame, and this path must not allocate.
 */
static const uint8_t lz4_hdr[] = { 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82 };
#define LZ4_END_MARK 4
#define LZ4_UNCOMPRESSED_BIT 0x80000000u

size_t
codec_lz4_bound(size_t in_len)
{
	size_t blocks = (in_len + CODEC_LZ4_BLOCK - 1) / CODEC_LZ4_BLOCK;

	/* A block that does not shrink is stored: 4 + n at worst. */
	return sizeof(lz4_hdr) + blocks * 4 + in_len + LZ4_END_MARK;
}

int
codec_lz4_init(struct fmq_codec_ctx *ctx)
{
	LZ4F_preferences_t warm;
	uint8_t frame[64], dst[16];
	size_t fn, dn = sizeof(dst);

	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx->lz4d,
							   LZ4F_VERSION)))
		return -ENOMEM;
	ctx->lz4_state_size = ctx->lim.lz4_level >= LZ4HC_CLEVEL_MIN ?
			      (size_t)LZ4_sizeofStateHC() :
			      (size_t)LZ4_sizeofState();
	ctx->lz4_state = malloc(ctx->lz4_state_size);
	ctx->lz4_tmp_size = LZ4_COMPRESSBOUND(CODEC_LZ4_BLOCK);
	ctx->lz4_tmp = malloc(ctx->lz4_tmp_size);
	ctx->lz4_blk_in = malloc(CODEC_LZ4_BLOCK);
	if (ctx->lz4_state == NULL || ctx->lz4_tmp == NULL ||
	    ctx->lz4_blk_in == NULL)
		return -ENOMEM;
	/*
	 * Decode an empty frame that declares 4 MiB blocks: LZ4F sizes its
	 * buffers from the header, so its largest allocation happens here
	 * and not on the data path.
	 */
	memset(&warm, 0, sizeof(warm));
	warm.frameInfo.blockSizeID = LZ4F_max4MB;
	warm.frameInfo.blockMode = LZ4F_blockLinked;
	fn = LZ4F_compressFrame(frame, sizeof(frame), NULL, 0, &warm);
	if (LZ4F_isError(fn))
		return -EINVAL;
	(void)LZ4F_decompress(ctx->lz4d, dst, &dn, frame, &fn, NULL);
	LZ4F_resetDecompressionContext(ctx->lz4d);
	return 0;
}

void
codec_lz4_fini(struct fmq_codec_ctx *ctx)
{
	LZ4F_freeDecompressionContext(ctx->lz4d);
	free(ctx->lz4_state);
	free(ctx->lz4_tmp);
	free(ctx->lz4_blk_in);
}

int
codec_lz4_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	      uint8_t *out, size_t cap, size_t *len)
{
	LZ4F_decompressOptions_t opt = { .stableDst = 1 };
	size_t pos = 0, hint = 1, left;
	bool ended = false;
	struct codec_it it;
	const uint8_t *p;

	LZ4F_resetDecompressionContext(ctx->lz4d);
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &left)) {
		while (left > 0) {
			size_t dn = cap - pos, sn = left;

			if (ended)
				return -EBADMSG; /* bytes after the frame */
			hint = LZ4F_decompress(ctx->lz4d, out + pos, &dn, p,
					       &sn, &opt);
			if (LZ4F_isError(hint))
				return -EBADMSG;
			pos += dn;
			p += sn;
			left -= sn;
			if (hint == 0)
				ended = true;
			else if (sn == 0 && dn == 0)
				return pos == cap ? -ENOSPC : -EBADMSG;
		}
	}
	if (!ended) {
		/* Decoded data may still sit in LZ4F's buffer: drain it. */
		for (;;) {
			size_t dn = cap - pos, sn = 0;

			hint = LZ4F_decompress(ctx->lz4d, out + pos, &dn, NULL,
					       &sn, &opt);
			if (LZ4F_isError(hint))
				return -EBADMSG;
			pos += dn;
			if (hint == 0)
				break;
			if (dn == 0)
				return pos == cap ? -ENOSPC : -EBADMSG;
		}
	}
	*len = pos;
	return 0;
}

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One independent block of n <= 64 KiB bytes at out + *pos. */
static int
lz4_block(struct fmq_codec_ctx *ctx, const uint8_t *p, size_t n,
	  uint8_t *out, size_t cap, size_t *pos)
{
	size_t room = cap - *pos;
	uint8_t *dst;
	int r;

	if (room < 4)
		return -ENOSPC;
	/* Straight into the output when the worst case fits there. */
	dst = room - 4 >= (size_t)LZ4_COMPRESSBOUND(n) ? out + *pos + 4 :
							  ctx->lz4_tmp;
	if (ctx->lim.lz4_level >= LZ4HC_CLEVEL_MIN)
		r = LZ4_compress_HC_extStateHC(ctx->lz4_state,
					       (const char *)p, (char *)dst,
					       (int)n, LZ4_COMPRESSBOUND(n),
					       ctx->lim.lz4_level);
	else
		r = LZ4_compress_fast_extState(ctx->lz4_state,
					       (const char *)p, (char *)dst,
					       (int)n, LZ4_COMPRESSBOUND(n), 1);
	if (r <= 0 || (size_t)r >= n) {
		/* Incompressible: store it, flagged, as LZ4F does. */
		if (room - 4 < n)
			return -ENOSPC;
		put_le32(out + *pos, (uint32_t)n | LZ4_UNCOMPRESSED_BIT);
		memcpy(out + *pos + 4, p, n);
		*pos += 4 + n;
		return 0;
	}
	if (room - 4 < (size_t)r)
		return -ENOSPC;
	if (dst != out + *pos + 4)
		memcpy(out + *pos + 4, dst, (size_t)r);
	put_le32(out + *pos, (uint32_t)r);
	*pos += 4 + (size_t)r;
	return 0;
}

int
codec_lz4_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	      uint8_t *out, size_t cap, size_t *len)
{
	size_t pos, fill = 0, left;
	struct codec_it it;
	const uint8_t *p;
	int rc;

	if (cap < sizeof(lz4_hdr))
		return -ENOSPC;
	memcpy(out, lz4_hdr, sizeof(lz4_hdr));
	pos = sizeof(lz4_hdr);
	/* Whole 64 KiB blocks, as Kafka cuts them; a block that straddles
	 * segments (mbufs) is gathered first. */
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &left)) {
		while (left > 0) {
			size_t n;

			if (fill == 0 && left >= CODEC_LZ4_BLOCK) {
				rc = lz4_block(ctx, p, CODEC_LZ4_BLOCK, out,
					       cap, &pos);
				if (rc < 0)
					return rc;
				p += CODEC_LZ4_BLOCK;
				left -= CODEC_LZ4_BLOCK;
				continue;
			}
			n = CODEC_LZ4_BLOCK - fill;
			if (n > left)
				n = left;
			memcpy(ctx->lz4_blk_in + fill, p, n);
			fill += n;
			p += n;
			left -= n;
			if (fill == CODEC_LZ4_BLOCK) {
				rc = lz4_block(ctx, ctx->lz4_blk_in, fill, out,
					       cap, &pos);
				if (rc < 0)
					return rc;
				fill = 0;
			}
		}
	}
	if (fill > 0) {
		rc = lz4_block(ctx, ctx->lz4_blk_in, fill, out, cap, &pos);
		if (rc < 0)
			return rc;
	}
	if (cap - pos < LZ4_END_MARK)
		return -ENOSPC;
	put_le32(out + pos, 0);
	*len = pos + LZ4_END_MARK;
	return 0;
}
