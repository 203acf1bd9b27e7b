/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gzip through ISA-L igzip. Inflate with crc_flag ISAL_GZIP parses the
 * RFC 1952 header (FEXTRA/FNAME/FCOMMENT/FHCRC included) and checks the
 * trailer's crc32 and isize itself (ISAL_INCORRECT_CHECKSUM). Deflate with
 * gzip_flag IGZIP_GZIP writes a plain 10-byte header and the trailer,
 * which Java's GZIPInputStream and librdkafka's zlib read.
 */
#include <stdlib.h>

#include "codec_priv.h"

int
codec_gzip_init(struct fmq_codec_ctx *ctx)
{
	static const uint32_t lvl_size[ISAL_DEF_MAX_LEVEL + 1] = {
		ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
		ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT,
	};
	int lvl = ctx->lim.gzip_level;

	isal_inflate_init(&ctx->inflate);
	ctx->gz_level_buf_size = lvl_size[lvl];
	if (ctx->gz_level_buf_size > 0) {
		ctx->gz_level_buf = malloc(ctx->gz_level_buf_size);
		if (ctx->gz_level_buf == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Start the next gzip member, writing after what is already produced. */
static void
gzip_member_start(struct inflate_state *st, uint8_t *out, size_t cap,
		  size_t done)
{
	isal_inflate_reset(st);
	st->crc_flag = ISAL_GZIP;
	st->next_out = out + done;
	/* ISA-L counts in 32 bits; a larger bound is clamped (never reached:
	 * batches are far below 4 GiB). */
	st->avail_out = (cap - done) > UINT32_MAX ? UINT32_MAX :
			(uint32_t)(cap - done);
}

int
codec_gzip_dec(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	       uint8_t *out, size_t cap, size_t *len)
{
	struct inflate_state *st = &ctx->inflate;
	size_t done = 0;   /* bytes of finished members */
	bool member = true;
	struct codec_it it;
	const uint8_t *p;
	size_t n;

	gzip_member_start(st, out, cap, 0);
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &n)) {
		st->next_in = (uint8_t *)(uintptr_t)p;
		st->avail_in = n;
		while (st->avail_in > 0) {
			uint32_t in0, out0;
			int r;

			if (!member) {
				/* Bytes after a finished member: Java's
				 * GZIPInputStream reads them as another
				 * member; so do we (anything else fails the
				 * header check below). */
				uint8_t *next = st->next_in;
				uint32_t avail = st->avail_in;

				done += st->total_out;
				gzip_member_start(st, out, cap, done);
				st->next_in = next;
				st->avail_in = avail;
				member = true;
			}
			in0 = st->avail_in;
			out0 = st->avail_out;
			r = isal_inflate(st);
			if (r < 0)
				return -EBADMSG;
			if (st->block_state == ISAL_BLOCK_FINISH) {
				member = false;
				continue;
			}
			if (st->avail_in == in0 && st->avail_out == out0) {
				/* No progress: the bound is reached (or
				 * ISA-L needs bytes we do not have). */
				return st->avail_out == 0 ? -ENOSPC : -EBADMSG;
			}
		}
	}
	if (member && st->block_state != ISAL_BLOCK_FINISH) {
		/* Input ended inside a member: truncated, unless the output
		 * is full, when the member is bigger than the bound. */
		return st->avail_out == 0 ? -ENOSPC : -EBADMSG;
	}
	*len = done + st->total_out;
	return 0;
}

int
codec_gzip_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
	       uint8_t *out, size_t cap, size_t *len)
{
	struct isal_zstream *zs = &ctx->deflate;
	size_t left = codec_in_len(in), n;
	struct codec_it it;
	const uint8_t *p;

	isal_deflate_init(zs);
	zs->level = ctx->lim.gzip_level;
	zs->level_buf = ctx->gz_level_buf;
	zs->level_buf_size = ctx->gz_level_buf_size;
	zs->gzip_flag = IGZIP_GZIP;
	zs->flush = NO_FLUSH;
	zs->next_out = out;
	zs->avail_out = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;

	if (left == 0) {
		/* Empty input still makes a valid gzip member. */
		zs->next_in = NULL;
		zs->avail_in = 0;
		zs->end_of_stream = 1;
		if (isal_deflate(zs) != COMP_OK)
			return -EINVAL;
	}
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &n)) {
		left -= n;
		zs->next_in = (uint8_t *)(uintptr_t)p;
		zs->avail_in = n;
		zs->end_of_stream = (left == 0);
		do {
			if (isal_deflate(zs) != COMP_OK)
				return -EINVAL;
			if (zs->avail_out == 0 &&
			    (zs->avail_in > 0 ||
			     (zs->end_of_stream &&
			      zs->internal_state.state != ZSTATE_END)))
				return -ENOSPC;
		} while (zs->avail_in > 0);
	}
	/* Flush what ISA-L still holds (trailer) once the input is in. */
	while (zs->internal_state.state != ZSTATE_END) {
		uint32_t out0 = zs->avail_out;

		if (isal_deflate(zs) != COMP_OK)
			return -EINVAL;
		if (zs->avail_out == 0 &&
		    zs->internal_state.state != ZSTATE_END)
			return -ENOSPC;
		if (zs->avail_out == out0 &&
		    zs->internal_state.state != ZSTATE_END)
			return -ENOSPC;
	}
	*len = zs->total_out;
	return 0;
}
