/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zstd through libzstd's streaming API. Both contexts are "static": built
 * in a workspace we allocate once, so libzstd never allocates (or frees and
 * regrows, as it does for contexts it owns) on the data path. Decoding
 * writes straight into the caller's buffer (ZSTD_d_stableOutBuffer), so the
 * frame's window size costs no memory and a frame without a content size
 * (Java's zstd-jni and librdkafka stream theirs) is bounded by the buffer.
 */
#include <stdlib.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "codec_priv.h"

/*
 * Largest input buffer a DCtx needs: blocks are at most 128 KiB whatever
 * the window, and with a stable output buffer there is no output window.
 */
#define ZSTD_DWORK_WINDOW (1u << 17)

size_t
codec_zstd_bound(size_t in_len)
{
	/* Frame header, block headers, checksum: compressBound covers a
	 * single frame of in_len bytes. */
	return ZSTD_compressBound(in_len);
}

int
codec_zstd_init(struct fmq_codec_ctx *ctx)
{
	size_t dsz = ZSTD_estimateDStreamSize(ZSTD_DWORK_WINDOW);
	int level = ctx->lim.zstd_level ? ctx->lim.zstd_level :
		    ZSTD_CLEVEL_DEFAULT;
	size_t csz = ZSTD_estimateCStreamSize(level);

	ctx->zd_work = malloc(dsz);
	ctx->zc_work = malloc(csz);
	if (ctx->zd_work == NULL || ctx->zc_work == NULL)
		return -ENOMEM;
	ctx->zd = ZSTD_initStaticDStream(ctx->zd_work, dsz);
	ctx->zc = ZSTD_initStaticCStream(ctx->zc_work, csz);
	if (ctx->zd == NULL || ctx->zc == NULL)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(ctx->zd,
						ZSTD_d_stableOutBuffer, 1)))
		return -EINVAL;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(ctx->zc,
						ZSTD_c_compressionLevel,
						level)))
		return -EINVAL;
	return 0;
}

void
codec_zstd_fini(struct fmq_codec_ctx *ctx)
{
	/* Static contexts live in the workspaces; nothing else to free. */
	free(ctx->zd_work);
	free(ctx->zc_work);
}

static int
zstd_err(size_t r)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return -ENOSPC;
	default:
		return -EBADMSG;
	}
}

int
codec_zstd_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	       uint8_t *out, size_t cap, size_t *len)
{
	ZSTD_outBuffer ob = { .dst = out, .size = cap, .pos = 0 };
	size_t r = 1;   /* > 0: inside a frame (or none seen yet) */
	struct codec_it it;
	const uint8_t *p;
	size_t n;

	ZSTD_DCtx_reset(ctx->zd, ZSTD_reset_session_only);
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &n)) {
		ZSTD_inBuffer ib = { .src = p, .size = n };

		while (ib.pos < ib.size) {
			size_t in0 = ib.pos, out0 = ob.pos;

			r = ZSTD_decompressStream(ctx->zd, &ob, &ib);
			if (ZSTD_isError(r))
				return zstd_err(r);
			/* r == 0 ends a frame; bytes after it start the
			 * next one (concatenated frames are valid zstd). */
			if (r != 0 && ib.pos == in0 && ob.pos == out0)
				return ob.pos == ob.size ? -ENOSPC : -EBADMSG;
		}
	}
	if (r != 0) {
		/* Input ended inside a frame; flush whatever zstd holds. */
		ZSTD_inBuffer ib = { .src = NULL, .size = 0 };

		for (;;) {
			size_t out0 = ob.pos;

			r = ZSTD_decompressStream(ctx->zd, &ob, &ib);
			if (ZSTD_isError(r))
				return zstd_err(r);
			if (r == 0)
				break;
			if (ob.pos == out0)
				return ob.pos == ob.size ? -ENOSPC : -EBADMSG;
		}
	}
	*len = ob.pos;
	return 0;
}

int
codec_zstd_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	       uint8_t *out, size_t cap, size_t *len)
{
	ZSTD_outBuffer ob = { .dst = out, .size = cap, .pos = 0 };
	ZSTD_inBuffer ib;
	struct codec_it it;
	const uint8_t *p;
	size_t r, n;

	/*
	 * No pledged size: the parameters then stay those of the level for
	 * every input, so the static workspace always fits (a known small
	 * size would shrink them, a pledge is only an optimisation).
	 */
	ZSTD_CCtx_reset(ctx->zc, ZSTD_reset_session_only);
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &n)) {
		ib.src = p;
		ib.size = n;
		ib.pos = 0;
		while (ib.pos < ib.size) {
			size_t in0 = ib.pos;

			r = ZSTD_compressStream2(ctx->zc, &ob, &ib,
						 ZSTD_e_continue);
			if (ZSTD_isError(r))
				return zstd_err(r) == -ENOSPC ? -ENOSPC :
								-EINVAL;
			if (ib.pos == in0 && ob.pos == ob.size)
				return -ENOSPC;
		}
	}
	ib.src = NULL;
	ib.size = 0;
	ib.pos = 0;
	do {
		size_t out0 = ob.pos;

		r = ZSTD_compressStream2(ctx->zc, &ob, &ib, ZSTD_e_end);
		if (ZSTD_isError(r))
			return zstd_err(r) == -ENOSPC ? -ENOSPC : -EINVAL;
		if (r != 0 && ob.pos == out0)
			return -ENOSPC;
	} while (r != 0);
	*len = ob.pos;
	return 0;
}
