/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lz4 for magic v2 batches: the standard LZ4 frame format (Kafka fixed its
 * header-checksum bug for v2). Reading goes through LZ4F, so any frame a
 * client writes is accepted: any block size, linked or independent blocks,
 * block and content checksums, a content size field. Writing matches
 * Kafka's KafkaLZ4BlockOutputStream: independent 64 KiB blocks, no
 * checksums, no content size (Kafka's reader rejects linked blocks).
 */
#include <stdlib.h>

#include "codec_priv.h"

static void
lz4_prefs_init(LZ4F_preferences_t *p, int level)
{
	memset(p, 0, sizeof(*p));
	p->frameInfo.blockSizeID = LZ4F_max64KB;
	p->frameInfo.blockMode = LZ4F_blockIndependent;
	p->frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	p->frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	p->compressionLevel = level;
	/*
	 * No autoFlush: LZ4F gathers small pieces (mbuf-sized segments) into
	 * whole 64 KiB blocks; whole blocks it compresses in place.
	 */
	p->autoFlush = 0;
}

size_t
codec_lz4_bound(size_t in_len)
{
	/* Header, every block (a full-block bound per 64 KiB plus one for the
	 * tail), end mark. */
	LZ4F_preferences_t p;

	lz4_prefs_init(&p, 0);
	return LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(in_len, &p) +
	       LZ4F_compressBound(0, &p);
}

int
codec_lz4_init(struct fmq_codec_ctx *ctx)
{
	LZ4F_preferences_t warm;
	uint8_t frame[64], dst[16];
	size_t fn, dn = sizeof(dst);

	lz4_prefs_init(&ctx->lz4_prefs, ctx->lim.lz4_level);
	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx->lz4d,
							   LZ4F_VERSION)))
		return -ENOMEM;
	if (LZ4F_isError(LZ4F_createCompressionContext(&ctx->lz4c,
							 LZ4F_VERSION)))
		return -ENOMEM;
	ctx->lz4_tmp_size = LZ4F_compressBound(CODEC_LZ4_BLOCK,
					       &ctx->lz4_prefs);
	if (ctx->lz4_tmp_size < LZ4F_HEADER_SIZE_MAX)
		ctx->lz4_tmp_size = LZ4F_HEADER_SIZE_MAX;
	ctx->lz4_tmp = malloc(ctx->lz4_tmp_size);
	if (ctx->lz4_tmp == NULL)
		return -ENOMEM;
	/*
	 * Decode an empty frame that declares 4 MiB blocks: LZ4F sizes its
	 * buffers from the header, so its largest allocation happens here
	 * and not on the data path. The compressor's buffers are sized by
	 * our fixed 64 KiB blocks on its first use.
	 */
	lz4_prefs_init(&warm, 0);
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
	LZ4F_freeCompressionContext(ctx->lz4c);
	free(ctx->lz4_tmp);
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

int
codec_lz4_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	      uint8_t *out, size_t cap, size_t *len)
{
	const LZ4F_preferences_t *pr = &ctx->lz4_prefs;
	size_t pos, r, left;
	struct codec_it it;
	const uint8_t *p;

	/* The frame header is at most 19 bytes. */
	r = LZ4F_compressBegin(ctx->lz4c, ctx->lz4_tmp, ctx->lz4_tmp_size, pr);
	if (LZ4F_isError(r))
		return -EINVAL;
	if (r > cap)
		return -ENOSPC;
	memcpy(out, ctx->lz4_tmp, r);
	pos = r;
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &left)) {
		while (left > 0) {
			size_t n = left < CODEC_LZ4_BLOCK ? left :
				   CODEC_LZ4_BLOCK;

			/* LZ4F refuses a destination smaller than the worst
			 * case; near the bound, go through the scratch. */
			if (cap - pos >= LZ4F_compressBound(n, pr)) {
				r = LZ4F_compressUpdate(ctx->lz4c, out + pos,
							cap - pos, p, n, NULL);
				if (LZ4F_isError(r))
					return -EINVAL;
			} else {
				r = LZ4F_compressUpdate(ctx->lz4c, ctx->lz4_tmp,
							ctx->lz4_tmp_size, p, n,
							NULL);
				if (LZ4F_isError(r))
					return -EINVAL;
				if (r > cap - pos)
					return -ENOSPC;
				memcpy(out + pos, ctx->lz4_tmp, r);
			}
			pos += r;
			p += n;
			left -= n;
		}
	}
	r = LZ4F_compressEnd(ctx->lz4c, ctx->lz4_tmp, ctx->lz4_tmp_size, NULL);
	if (LZ4F_isError(r))
		return -EINVAL;
	if (r > cap - pos)
		return -ENOSPC;
	memcpy(out + pos, ctx->lz4_tmp, r);
	*len = pos + r;
	return 0;
}
