/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snappy through libsnappy's C API. Java producers (xerial snappy-java's
 * SnappyOutputStream) frame it: a 16-byte header, magic 0x82 "SNAPPY" 0,
 * then version and compatible version as big-endian int32, then blocks of
 * [big-endian int32 length][raw snappy]. librdkafka sends raw snappy (one
 * block, no header) and reads both. Java's SnappyInputStream tells them
 * apart by the magic and reads anything else as raw; so do we. We write
 * the xerial framing, as Kafka's broker does.
 *
 * libsnappy cannot stream, so input in several segments is gathered into
 * the context's scratch buffer first.
 */
#include <stdlib.h>

#include <snappy-c.h>

#include "codec_priv.h"

const uint8_t codec_xerial_magic[CODEC_XERIAL_MAGIC_LEN] = {
	0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
};

/* xerial stream version and compatible version (snappy-java writes 1, 1). */
#define XERIAL_VERSION 1
#define XERIAL_COMPAT 1

size_t
codec_snappy_bound(size_t in_len)
{
	size_t blocks = (in_len + CODEC_XERIAL_BLOCK - 1) / CODEC_XERIAL_BLOCK;

	return CODEC_XERIAL_HDR_LEN + blocks * 4 +
	       blocks * snappy_max_compressed_length(CODEC_XERIAL_BLOCK);
}

int
codec_snappy_init(struct fmq_codec_ctx *ctx)
{
	ctx->lin = malloc(ctx->lim.max_input);
	ctx->sn_blk_in = malloc(CODEC_XERIAL_BLOCK);
	ctx->sn_blk_out_size = snappy_max_compressed_length(CODEC_XERIAL_BLOCK);
	ctx->sn_blk_out = malloc(ctx->sn_blk_out_size);
	if (ctx->lin == NULL || ctx->sn_blk_in == NULL ||
	    ctx->sn_blk_out == NULL)
		return -ENOMEM;
	return 0;
}

/* Decode one raw snappy block into out[*pos, cap). */
static int
snappy_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *pos)
{
	size_t ulen;

	/* The length prefix is checked against the bound before anything
	 * is written: a bomb costs nothing. */
	if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
		return -EBADMSG;
	if (ulen > cap - *pos)
		return -ENOSPC;
	if (snappy_uncompress((const char *)in, n, (char *)out + *pos,
			      &ulen) != SNAPPY_OK)
		return -EBADMSG;
	*pos += ulen;
	return 0;
}

static bool
is_xerial(const uint8_t *p, size_t n)
{
	return n >= CODEC_XERIAL_HDR_LEN &&
	       memcmp(p, codec_xerial_magic, CODEC_XERIAL_MAGIC_LEN) == 0;
}

int
codec_snappy_dec(struct fmq_codec_ctx *ctx, const struct codec_in *cin,
		 uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *in = NULL;
	size_t n = codec_in_len(cin), off, pos = 0, k;
	struct codec_it it;
	int rc;

	if (n == 0)
		return -EBADMSG;
	codec_it_init(&it, cin);
	if (!codec_it_next(&it, &in, &k))
		return -EBADMSG;
	if (k < n) {
		/* Spread over segments: gather (snappy cannot stream). */
		if (n > ctx->lim.max_input)
			return -EMSGSIZE;
		codec_segs_copy(cin->segs, cin->nsegs, cin->skip, ctx->lin, n);
		in = ctx->lin;
	}

	if (!is_xerial(in, n)) {
		rc = snappy_raw(in, n, out, cap, &pos);
		if (rc < 0)
			return rc;
		*len = pos;
		return 0;
	}
	off = 0;
	while (off < n) {
		uint32_t blen;

		/* A stream may be several xerial streams back to back
		 * (snappy-java reads a header again where a block length
		 * would be; a real length never starts with 0x82). */
		if (is_xerial(in + off, n - off)) {
			off += CODEC_XERIAL_HDR_LEN;
			continue;
		}
		if (n - off < 4)
			return -EBADMSG;
		blen = codec_be32(in + off);
		off += 4;
		if (blen > n - off)
			return -EBADMSG;   /* also catches "negative" */
		if (blen > 0) {
			rc = snappy_raw(in + off, blen, out, cap, &pos);
			if (rc < 0)
				return rc;
		}
		off += blen;
	}
	*len = pos;
	return 0;
}

/* Compress one block of at most CODEC_XERIAL_BLOCK bytes at out + *pos. */
static int
snappy_block(struct fmq_codec_ctx *ctx, const uint8_t *p, size_t n,
	     uint8_t *out, size_t cap, size_t *pos)
{
	size_t clen;

	if (cap - *pos < 4)
		return -ENOSPC;
	if (cap - *pos - 4 >= ctx->sn_blk_out_size) {
		clen = cap - *pos - 4;
		if (snappy_compress((const char *)p, n,
				    (char *)out + *pos + 4, &clen) != SNAPPY_OK)
			return -EINVAL;
	} else {
		/* Near the bound: snappy wants room for the worst case. */
		clen = ctx->sn_blk_out_size;
		if (snappy_compress((const char *)p, n, (char *)ctx->sn_blk_out,
				    &clen) != SNAPPY_OK)
			return -EINVAL;
		if (clen > cap - *pos - 4)
			return -ENOSPC;
		memcpy(out + *pos + 4, ctx->sn_blk_out, clen);
	}
	codec_put_be32(out + *pos, (uint32_t)clen);
	*pos += 4 + clen;
	return 0;
}

int
codec_snappy_enc(struct fmq_codec_ctx *ctx, const struct codec_in *in,
		 uint8_t *out, size_t cap, size_t *len)
{
	size_t pos = 0, fill = 0, left;
	struct codec_it it;
	const uint8_t *p;
	int rc;

	if (cap < CODEC_XERIAL_HDR_LEN)
		return -ENOSPC;
	memcpy(out, codec_xerial_magic, CODEC_XERIAL_MAGIC_LEN);
	codec_put_be32(out + 8, XERIAL_VERSION);
	codec_put_be32(out + 12, XERIAL_COMPAT);
	pos = CODEC_XERIAL_HDR_LEN;

	/* Blocks of exactly 32 KiB of input (the last one shorter), as
	 * snappy-java cuts them; a block that straddles segments is
	 * gathered into sn_blk_in. */
	codec_it_init(&it, in);
	while (codec_it_next(&it, &p, &left)) {
		while (left > 0) {
			size_t n;

			if (fill == 0 && left >= CODEC_XERIAL_BLOCK) {
				rc = snappy_block(ctx, p, CODEC_XERIAL_BLOCK,
						  out, cap, &pos);
				if (rc < 0)
					return rc;
				p += CODEC_XERIAL_BLOCK;
				left -= CODEC_XERIAL_BLOCK;
				continue;
			}
			n = CODEC_XERIAL_BLOCK - fill;
			if (n > left)
				n = left;
			memcpy(ctx->sn_blk_in + fill, p, n);
			fill += n;
			p += n;
			left -= n;
			if (fill == CODEC_XERIAL_BLOCK) {
				rc = snappy_block(ctx, ctx->sn_blk_in, fill,
						  out, cap, &pos);
				if (rc < 0)
					return rc;
				fill = 0;
			}
		}
	}
	if (fill > 0) {
		rc = snappy_block(ctx, ctx->sn_blk_in, fill, out, cap, &pos);
		if (rc < 0)
			return rc;
	}
	*len = pos;
	return 0;
}
