/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Codec context, dispatch, counters and metrics.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec_priv.h"

static const char *const codec_names[FMQ_CODEC_COUNT] = {
	"none", "gzip", "snappy", "lz4", "zstd",
};

const char *
fmq_codec_name(int codec)
{
	if (codec < 0 || codec >= FMQ_CODEC_COUNT)
		return "unknown";
	return codec_names[codec];
}

size_t
codec_segs_copy(const struct fmq_codec_seg *segs, unsigned int nsegs,
		size_t off, uint8_t *dst, size_t n)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < nsegs && done < n; i++) {
		size_t l = segs[i].len, k;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off;
		if (k > n - done)
			k = n - done;
		memcpy(dst + done, segs[i].p + off, k);
		done += k;
		off = 0;
	}
	return done;
}

void
fmq_codec_ctx_free(struct fmq_codec_ctx *ctx)
{
	if (ctx == NULL)
		return;
	free(ctx->gz_level_buf);
	codec_lz4_fini(ctx);
	codec_zstd_fini(ctx);
	free(ctx->lin);
	free(ctx->sn_blk_in);
	free(ctx->sn_blk_out);
	free(ctx->recs);
	free(ctx->recs2);
	free(ctx);
}

struct fmq_codec_ctx *
fmq_codec_ctx_create(const struct fmq_codec_limits *lim)
{
	struct fmq_codec_ctx *ctx;
	int rc;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (lim != NULL)
		ctx->lim = *lim;
	if (ctx->lim.max_input == 0)
		ctx->lim.max_input = CODEC_DEF_MAX_INPUT;
	if (ctx->lim.max_output == 0)
		ctx->lim.max_output = CODEC_DEF_MAX_OUTPUT;
	if (ctx->lim.gzip_level < 0 ||
	    ctx->lim.gzip_level > ISAL_DEF_MAX_LEVEL ||
	    ctx->lim.zstd_level < 0 || ctx->lim.zstd_level > 19 ||
	    ctx->lim.lz4_level < 0 || ctx->lim.lz4_level > 12) {
		free(ctx);
		errno = EINVAL;
		return NULL;
	}
	rc = codec_gzip_init(ctx);
	if (rc == 0)
		rc = codec_lz4_init(ctx);
	if (rc == 0)
		rc = codec_zstd_init(ctx);
	if (rc == 0)
		rc = codec_snappy_init(ctx);
	if (rc == 0) {
		ctx->recs = malloc(ctx->lim.max_output);
		ctx->recs2 = malloc(ctx->lim.max_output);
		if (ctx->recs == NULL || ctx->recs2 == NULL)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		fmq_codec_ctx_free(ctx);
		errno = -rc;
		return NULL;
	}
	return ctx;
}

const struct fmq_codec_stats *
fmq_codec_ctx_stats(const struct fmq_codec_ctx *ctx)
{
	return &ctx->st;
}

const struct fmq_codec_limits *
fmq_codec_ctx_limits(const struct fmq_codec_ctx *ctx)
{
	return &ctx->lim;
}

size_t
fmq_codec_compress_bound(int codec, size_t in_len)
{
	switch (codec) {
	case FMQ_CODEC_NONE:
		return in_len;
	case FMQ_CODEC_GZIP:
		/* Stored blocks at worst: 5 bytes per 64 KiB, header and
		 * trailer; ISA-L's static-table blocks can exceed the input
		 * by a little more, so keep a margin. */
		return in_len + in_len / 16 + 64 + 18;
	case FMQ_CODEC_SNAPPY:
		return codec_snappy_bound(in_len);
	case FMQ_CODEC_LZ4:
		return codec_lz4_bound(in_len);
	case FMQ_CODEC_ZSTD:
		return codec_zstd_bound(in_len);
	default:
		return 0;
	}
}

int
codec_decompress(struct fmq_codec_ctx *ctx, int codec,
		 const struct codec_in *in, uint8_t *out, size_t cap,
		 size_t *out_len)
{
	size_t len = 0;
	int rc;

	switch (codec) {
	case FMQ_CODEC_GZIP:
		rc = codec_gzip_dec(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_SNAPPY:
		rc = codec_snappy_dec(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_LZ4:
		rc = codec_lz4_dec(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_ZSTD:
		rc = codec_zstd_dec(ctx, in, out, cap, &len);
		break;
	default:
		return -EINVAL;
	}
	ctx->st.dec_calls[codec]++;
	ctx->st.dec_bytes_in[codec] += codec_in_len(in);
	if (rc == 0) {
		ctx->st.dec_bytes_out[codec] += len;
		*out_len = len;
	} else if (rc == -ENOSPC) {
		ctx->st.dec_too_big[codec]++;
	} else {
		ctx->st.dec_corrupt[codec]++;
	}
	return rc;
}

int
codec_compress(struct fmq_codec_ctx *ctx, int codec,
	       const struct codec_in *in, uint8_t *out, size_t cap,
	       size_t *out_len)
{
	size_t len = 0;
	int rc;

	switch (codec) {
	case FMQ_CODEC_GZIP:
		rc = codec_gzip_enc(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_SNAPPY:
		rc = codec_snappy_enc(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_LZ4:
		rc = codec_lz4_enc(ctx, in, out, cap, &len);
		break;
	case FMQ_CODEC_ZSTD:
		rc = codec_zstd_enc(ctx, in, out, cap, &len);
		break;
	default:
		return -EINVAL;
	}
	ctx->st.enc_calls[codec]++;
	ctx->st.enc_bytes_in[codec] += codec_in_len(in);
	if (rc == 0) {
		ctx->st.enc_bytes_out[codec] += len;
		*out_len = len;
	} else if (rc == -ENOSPC) {
		ctx->st.enc_too_big[codec]++;
	}
	return rc;
}

int
fmq_codec_decompress(struct fmq_codec_ctx *ctx, int codec,
		     const struct fmq_codec_seg *segs, unsigned int nsegs,
		     uint8_t *out, size_t out_cap, size_t *out_len)
{
	struct codec_in in = { .segs = segs, .nsegs = nsegs, .skip = 0 };

	if (ctx == NULL || out_len == NULL || (segs == NULL && nsegs > 0) ||
	    (out == NULL && out_cap > 0))
		return -EINVAL;
	return codec_decompress(ctx, codec, &in, out, out_cap, out_len);
}

int
fmq_codec_compress(struct fmq_codec_ctx *ctx, int codec,
		   const struct fmq_codec_seg *segs, unsigned int nsegs,
		   uint8_t *out, size_t out_cap, size_t *out_len)
{
	struct codec_in in = { .segs = segs, .nsegs = nsegs, .skip = 0 };

	if (ctx == NULL || out_len == NULL || (segs == NULL && nsegs > 0) ||
	    out == NULL)
		return -EINVAL;
	return codec_compress(ctx, codec, &in, out, out_cap, out_len);
}

/* ------------------------------------------------------------------------
 * Metrics
 * ---------------------------------------------------------------------- */

struct codec_metric {
	const char *name;
	const char *help;
	size_t off;       /* offset of the per-codec array in the stats */
};

#define CODEC_M(field, name, help) \
	{ "fluxmq_codec_" name, help, offsetof(struct fmq_codec_stats, field) }

static const struct codec_metric codec_metrics_per_codec[] = {
	CODEC_M(dec_calls, "decompress_total",
		"Record sections decompressed (including failures)."),
	CODEC_M(dec_bytes_in, "decompress_in_bytes_total",
		"Compressed bytes given to the decompressor."),
	CODEC_M(dec_bytes_out, "decompress_out_bytes_total",
		"Bytes produced by successful decompressions."),
	CODEC_M(dec_corrupt, "decompress_corrupt_total",
		"Decompressions that failed on corrupt or truncated input."),
	CODEC_M(dec_too_big, "decompress_too_big_total",
		"Decompressions stopped at the output bound (bomb guard)."),
	CODEC_M(enc_calls, "compress_total",
		"Record sections compressed (including failures)."),
	CODEC_M(enc_bytes_in, "compress_in_bytes_total",
		"Bytes given to the compressor."),
	CODEC_M(enc_bytes_out, "compress_out_bytes_total",
		"Compressed bytes produced."),
	CODEC_M(enc_too_big, "compress_too_big_total",
		"Compressions that did not fit the output bound."),
};

static const struct codec_metric codec_metrics_scalar[] = {
	CODEC_M(batches_validated, "batches_validated_total",
		"Record batches deeply validated."),
	CODEC_M(batches_invalid, "batches_invalid_total",
		"Record batches that failed deep validation."),
	CODEC_M(crc_errors, "crc_errors_total",
		"Record batches whose CRC-32C did not match."),
	CODEC_M(batches_recompressed, "batches_recompressed_total",
		"Record batches rebuilt with another codec."),
	CODEC_M(records_validated, "records_validated_total",
		"Records walked by deep validation."),
};

void
fmq_codec_metrics(struct fmq_metrics_out *out, void *arg)
{
	const struct fmq_codec_metrics_set *set = arg;
	char labels[32];
	size_t m;
	unsigned int i;
	int c;

	for (m = 0; m < CODEC_DIM(codec_metrics_per_codec); m++) {
		const struct codec_metric *cm = &codec_metrics_per_codec[m];

		fmq_metrics_family(out, cm->name, "counter", cm->help);
		/* NONE has no codec work; start at gzip. */
		for (c = FMQ_CODEC_GZIP; c < FMQ_CODEC_COUNT; c++) {
			uint64_t sum = 0;

			for (i = 0; i < set->n; i++) {
				const uint64_t *v = (const uint64_t *)
					((const uint8_t *)&set->ctx[i]->st +
					 cm->off);

				sum += v[c];
			}
			snprintf(labels, sizeof(labels), "codec=\"%s\"",
				 codec_names[c]);
			fmq_metrics_u64(out, cm->name, labels, sum);
		}
	}
	for (m = 0; m < CODEC_DIM(codec_metrics_scalar); m++) {
		const struct codec_metric *cm = &codec_metrics_scalar[m];
		uint64_t sum = 0;

		for (i = 0; i < set->n; i++)
			sum += *(const uint64_t *)
				((const uint8_t *)&set->ctx[i]->st + cm->off);
		fmq_metrics_one(out, cm->name, "counter", cm->help, sum);
	}
}
