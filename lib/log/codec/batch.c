/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record batch v2: header parse, CRC-32C, deep validation, recompression.
 *
 * Error codes follow Kafka 3.x: DefaultRecordBatch.ensureValid() throws
 * CorruptRecordException (CORRUPT_MESSAGE) for a short batch or a CRC
 * mismatch; LogValidator.validateBatch() throws InvalidRecordException
 * (INVALID_RECORD) for the client batch checks. Where Kafka has no answer
 * of its own (see docs/compression.md) we pick a non-retriable code that
 * says what happened.
 */
#include <isa-l/crc.h>

#include "codec_priv.h"

static inline uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)codec_be32(p) << 32 | codec_be32(p + 4);
}

static inline uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int
fmq_codec_batch_parse(const struct fmq_codec_seg *segs, unsigned int nsegs,
		      struct fmq_codec_batch *b)
{
	uint8_t h[FMQ_CODEC_BATCH_HDR_LEN];

	if (codec_segs_copy(segs, nsegs, 0, h, sizeof(h)) != sizeof(h))
		return -EBADMSG;
	b->base_offset = (int64_t)be64(h + 0);
	b->batch_length = (int32_t)codec_be32(h + 8);
	b->leader_epoch = (int32_t)codec_be32(h + 12);
	b->magic = (int8_t)h[16];
	b->crc = codec_be32(h + 17);
	b->attributes = (int16_t)be16(h + 21);
	b->last_offset_delta = (int32_t)codec_be32(h + 23);
	b->base_timestamp = (int64_t)be64(h + 27);
	b->max_timestamp = (int64_t)be64(h + 35);
	b->producer_id = (int64_t)be64(h + 43);
	b->producer_epoch = (int16_t)be16(h + 51);
	b->base_sequence = (int32_t)codec_be32(h + 53);
	b->count = (int32_t)codec_be32(h + 57);
	return 0;
}

uint32_t
fmq_codec_crc32c(const struct fmq_codec_seg *segs, unsigned int nsegs,
		 size_t skip)
{
	struct codec_in in = { .segs = segs, .nsegs = nsegs, .skip = skip };
	uint32_t crc = 0xFFFFFFFFu;
	struct codec_it it;
	const uint8_t *p;
	size_t n;

	/* crc32_iscsi() takes and returns the raw register, so pieces
	 * chain; Kafka's value is the register inverted at the end. */
	codec_it_init(&it, &in);
	while (codec_it_next(&it, &p, &n)) {
		while (n > 0) {
			int k = n > (1u << 30) ? (1 << 30) : (int)n;

			crc = crc32_iscsi((unsigned char *)(uintptr_t)p, k,
					  crc);
			p += k;
			n -= (size_t)k;
		}
	}
	return crc ^ 0xFFFFFFFFu;
}

static void
vres_reset(struct fmq_codec_vresult *res)
{
	res->kerr = FMQ_KERR_NONE;
	res->record_index = -1;
	res->msg = NULL;
	res->offsets_in_place = true;
	res->records = 0;
	res->max_timestamp = -1;
	res->records_bytes = 0;
}

static int16_t
vres_fail(struct fmq_codec_vresult *res, int16_t kerr, const char *msg)
{
	res->kerr = kerr;
	res->record_index = -1;
	res->msg = msg;
	return kerr;
}

/* Framing and CRC; fills b. */
static int16_t
batch_frame(struct fmq_codec_ctx *ctx, const struct fmq_codec_seg *segs,
	    unsigned int nsegs, struct fmq_codec_batch *b, size_t *total,
	    struct fmq_codec_vresult *res)
{
	size_t n = codec_segs_len(segs, nsegs);

	*total = n;
	if (n < FMQ_CODEC_BATCH_HDR_LEN ||
	    fmq_codec_batch_parse(segs, nsegs, b) < 0)
		return vres_fail(res, FMQ_KERR_CORRUPT_MESSAGE,
				 "Record batch is corrupt (the size is "
				 "smaller than the minimum allowed overhead)");
	if (b->batch_length < 0 ||
	    (size_t)b->batch_length + FMQ_CODEC_BATCH_LOG_OVERHEAD != n)
		return vres_fail(res, FMQ_KERR_CORRUPT_MESSAGE,
				 "Record batch is corrupt (batchLength does "
				 "not match the bytes of the batch)");
	if (b->magic != 2)
		return vres_fail(res, FMQ_KERR_CORRUPT_MESSAGE,
				 "Record batch magic is not 2");
	if (fmq_codec_crc32c(segs, nsegs, FMQ_CODEC_BATCH_CRC_START) !=
	    b->crc) {
		ctx->st.crc_errors++;
		return vres_fail(res, FMQ_KERR_CORRUPT_MESSAGE,
				 "Record is corrupt (stored crc does not "
				 "match the computed crc)");
	}
	return FMQ_KERR_NONE;
}

int16_t
fmq_codec_batch_check_crc(struct fmq_codec_ctx *ctx,
			  const struct fmq_codec_seg *segs, unsigned int nsegs)
{
	struct fmq_codec_vresult res;
	struct fmq_codec_batch b;
	size_t total;

	return batch_frame(ctx, segs, nsegs, &b, &total, &res);
}

/* LogValidator.validateBatch for AppendOrigin.CLIENT, magic 2. */
static int16_t
batch_client_checks(const struct fmq_codec_batch *b,
		    struct fmq_codec_vresult *res)
{
	if ((int64_t)b->last_offset_delta + 1 <= 0)
		return vres_fail(res, FMQ_KERR_INVALID_RECORD,
				 "Batch has an invalid offset range");
	if (b->count <= 0)
		return vres_fail(res, FMQ_KERR_INVALID_RECORD,
				 "Invalid reported count for record batch");
	if ((int64_t)b->last_offset_delta + 1 != b->count)
		return vres_fail(res, FMQ_KERR_INVALID_RECORD,
				 "Inconsistent batch offset range and count "
				 "of records");
	if (b->attributes & FMQ_CODEC_ATTR_CONTROL)
		return vres_fail(res, FMQ_KERR_INVALID_RECORD,
				 "Clients are not allowed to write control "
				 "records");
	if (b->producer_id > -1 && b->base_sequence < 0)
		return vres_fail(res, FMQ_KERR_INVALID_RECORD,
				 "Invalid sequence number in record batch "
				 "with producerId");
	return FMQ_KERR_NONE;
}

/*
 * Validate a batch and find its records: *rin is either the batch's own
 * segments past the header (uncompressed) or ctx->recs (decompressed).
 */
static int16_t
batch_open(struct fmq_codec_ctx *ctx, const struct fmq_codec_seg *segs,
	   unsigned int nsegs, const struct fmq_codec_vopts *o,
	   struct fmq_codec_batch *b, struct codec_in *rin,
	   struct fmq_codec_seg *lin, struct fmq_codec_vresult *res)
{
	struct codec_in cin = { .segs = segs, .nsegs = nsegs,
				.skip = FMQ_CODEC_BATCH_HDR_LEN };
	size_t total, n;
	int16_t k;
	int codec, rc;

	vres_reset(res);
	k = batch_frame(ctx, segs, nsegs, b, &total, res);
	if (k != FMQ_KERR_NONE)
		return k;
	codec = b->attributes & FMQ_CODEC_ATTR_CODEC_MASK;
	if (codec >= FMQ_CODEC_COUNT)
		return vres_fail(res, FMQ_KERR_UNSUPPORTED_COMPRESSION_TYPE,
				 "Unknown compression type id");
	if (o != NULL && o->from_client) {
		k = batch_client_checks(b, res);
		if (k != FMQ_KERR_NONE)
			return k;
	}
	if (codec == FMQ_CODEC_NONE) {
		*rin = cin;
	} else {
		rc = codec_decompress(ctx, codec, &cin, ctx->recs,
				      ctx->lim.max_output, &n);
		if (rc == -ENOSPC || rc == -EMSGSIZE)
			return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
					 "Decompressed records exceed the "
					 "broker's limit");
		/* Undecodable under a valid CRC: the batch is corrupt
		 * (CORRUPT_MESSAGE, Kafka's code for a batch that is
		 * "otherwise corrupt"; see docs/compression.md). */
		if (rc < 0)
			return vres_fail(res, FMQ_KERR_CORRUPT_MESSAGE,
					 "Failed to decompress record stream");
		lin->p = ctx->recs;
		lin->len = (uint32_t)n;
		rin->segs = lin;
		rin->nsegs = 1;
		rin->skip = 0;
	}
	k = codec_records_validate(b, rin, o, res);
	ctx->st.records_validated += (uint64_t)res->records;
	return k;
}

int16_t
fmq_codec_batch_validate(struct fmq_codec_ctx *ctx,
			 const struct fmq_codec_seg *segs, unsigned int nsegs,
			 const struct fmq_codec_vopts *o,
			 struct fmq_codec_vresult *res)
{
	struct fmq_codec_vresult tmp;
	struct fmq_codec_batch b;
	struct fmq_codec_seg lin;
	struct codec_in rin;
	int16_t k;

	if (res == NULL)
		res = &tmp;
	ctx->st.batches_validated++;
	k = batch_open(ctx, segs, nsegs, o, &b, &rin, &lin, res);
	if (k != FMQ_KERR_NONE)
		ctx->st.batches_invalid++;
	return k;
}

int16_t
fmq_codec_batch_recompress(struct fmq_codec_ctx *ctx,
			   const struct fmq_codec_seg *segs,
			   unsigned int nsegs, int codec,
			   const struct fmq_codec_vopts *o, uint8_t *out,
			   size_t out_cap, size_t *out_len,
			   struct fmq_codec_vresult *res)
{
	struct fmq_codec_vresult tmp;
	struct fmq_codec_batch b;
	struct fmq_codec_seg lin;
	struct codec_in rin;
	size_t rlen, clen, total;
	uint16_t attr;
	int16_t k;
	int rc;

	if (res == NULL)
		res = &tmp;
	if (codec < 0 || codec >= FMQ_CODEC_COUNT)
		return vres_fail(res, FMQ_KERR_UNSUPPORTED_COMPRESSION_TYPE,
				 "Unknown target compression type");
	ctx->st.batches_validated++;
	k = batch_open(ctx, segs, nsegs, o, &b, &rin, &lin, res);
	if (k != FMQ_KERR_NONE) {
		ctx->st.batches_invalid++;
		return k;
	}
	rlen = codec_in_len(&rin);

	if (!res->offsets_in_place) {
		/* Kafka rebuilds such batches with offsetDelta = index. */
		ssize_t w;

		if (rin.segs != &lin) {
			if (rlen > ctx->lim.max_output)
				return vres_fail(res,
					FMQ_KERR_MESSAGE_TOO_LARGE,
					"Records exceed the broker's limit");
			codec_segs_copy(rin.segs, rin.nsegs, rin.skip,
					ctx->recs, rlen);
		}
		w = codec_records_rewrite_offsets(ctx->recs, rlen, b.count,
						  ctx->recs2,
						  ctx->lim.max_output);
		if (w < 0)
			return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
					 "Rebuilt records exceed the broker's "
					 "limit");
		lin.p = ctx->recs2;
		lin.len = (uint32_t)w;
		rin.segs = &lin;
		rin.nsegs = 1;
		rin.skip = 0;
		rlen = (size_t)w;
	}

	if (out_cap < FMQ_CODEC_BATCH_HDR_LEN)
		return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
				 "Rebuilt batch exceeds the size limit");
	codec_segs_copy(segs, nsegs, 0, out, FMQ_CODEC_BATCH_HDR_LEN);
	if (codec == FMQ_CODEC_NONE) {
		if (rlen > out_cap - FMQ_CODEC_BATCH_HDR_LEN)
			return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
					 "Rebuilt batch exceeds the size "
					 "limit");
		codec_segs_copy(rin.segs, rin.nsegs, rin.skip,
				out + FMQ_CODEC_BATCH_HDR_LEN, rlen);
		clen = rlen;
	} else {
		rc = codec_compress(ctx, codec, &rin,
				    out + FMQ_CODEC_BATCH_HDR_LEN,
				    out_cap - FMQ_CODEC_BATCH_HDR_LEN, &clen);
		if (rc == -ENOSPC)
			return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
					 "Rebuilt batch exceeds the size "
					 "limit");
		if (rc < 0)
			return vres_fail(res, FMQ_KERR_UNKNOWN_SERVER_ERROR,
					 "Compression failed");
	}
	total = FMQ_CODEC_BATCH_HDR_LEN + clen;
	if (total - FMQ_CODEC_BATCH_LOG_OVERHEAD > INT32_MAX)
		return vres_fail(res, FMQ_KERR_MESSAGE_TOO_LARGE,
				 "Rebuilt batch exceeds the size limit");

	attr = (uint16_t)((b.attributes & ~FMQ_CODEC_ATTR_CODEC_MASK) |
			  codec);
	out[21] = attr >> 8;
	out[22] = attr & 0xff;
	codec_put_be32(out + FMQ_CODEC_BATCH_LEN_OFF,
		       (uint32_t)(total - FMQ_CODEC_BATCH_LOG_OVERHEAD));
	{
		struct fmq_codec_seg whole = { .p = out,
					       .len = (uint32_t)total };

		codec_put_be32(out + FMQ_CODEC_BATCH_CRC_OFF,
			       fmq_codec_crc32c(&whole, 1,
						FMQ_CODEC_BATCH_CRC_START));
	}
	ctx->st.batches_recompressed++;
	*out_len = total;
	return FMQ_KERR_NONE;
}
