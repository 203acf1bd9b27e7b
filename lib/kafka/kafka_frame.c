/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request framing: 4-byte big-endian size, then the request header.
 *
 * Like Kafka's SocketServer, the size is validated as soon as its four bytes
 * are there, before any of the body is buffered: a negative size or one
 * above socket.request.max.bytes closes the connection. A complete frame
 * then gets its header parsed; an unknown API key or an unsupported version
 * also closes the connection in Kafka (InvalidRequestException), except
 * ApiVersions, which is answered in v0 (KIP-511).
 */
#include <errno.h>
#include <stdint.h>

#include "fmq_kafka.h"
#include "kafka_internal.h"

/* api_key + api_version + correlation_id + client_id length. */
#define HDR_V1_MIN 10

void
fmq_kafka_framer_init(struct fmq_kafka_framer *f, uint32_t max_bytes)
{
	f->max_bytes = max_bytes;
	f->size = -1;
}

const char *
fmq_kafka_frame_reason_str(enum fmq_kafka_frame_reason r)
{
	switch (r) {
	case FMQ_KAFKA_FR_OK:
		return "ok";
	case FMQ_KAFKA_FR_APIVERSIONS_FALLBACK:
		return "apiversions_fallback";
	case FMQ_KAFKA_FR_UNKNOWN_API_KEY:
		return "unknown_api_key";
	case FMQ_KAFKA_FR_UNSUPPORTED_VERSION:
		return "unsupported_version";
	case FMQ_KAFKA_FR_SIZE_NEGATIVE:
		return "size_negative";
	case FMQ_KAFKA_FR_SIZE_TOO_LARGE:
		return "size_too_large";
	case FMQ_KAFKA_FR_HEADER_TRUNCATED:
		return "header_truncated";
	case FMQ_KAFKA_FR_HEADER_MALFORMED:
		return "header_malformed";
	case FMQ_KAFKA_FR_NOMEM:
		return "nomem";
	}
	return "?";
}

int
fmq_kafka_rd_req_hdr(struct fmq_kafka_reader *r, int hdr_version,
		     struct fmq_kafka_arena *a, struct fmq_kafka_req_hdr *h)
{
	int rc;

	h->version = (uint8_t)hdr_version;
	h->n_unknown_tags = 0;
	h->unknown_tags = NULL;
	if ((rc = fmq_kafka_rd_i16(r, &h->api_key)) < 0 ||
	    (rc = fmq_kafka_rd_i16(r, &h->api_version)) < 0 ||
	    (rc = fmq_kafka_rd_i32(r, &h->correlation_id)) < 0)
		return rc;
	/* ClientId keeps the int16 length even in header v2
	 * ("flexibleVersions": "none" in RequestHeader.json). */
	if ((rc = fmq_kafka_rd_string(r, false, true, a, &h->client_id)) < 0)
		return rc;
	if (hdr_version >= 2) {
		uint32_t ntag, tag, tsz;

		if ((rc = fmq_kafka_rd_uvarint(r, &ntag)) < 0)
			return rc;
		if (ntag > fmq_kafka_rd_left(r) / 2)
			return -EBADMSG;
		for (uint32_t t = 0; t < ntag; t++) {
			struct fmq_kafka_reader sub;

			if ((rc = fmq_kafka_rd_uvarint(r, &tag)) < 0 ||
			    (rc = fmq_kafka_rd_uvarint(r, &tsz)) < 0)
				return rc;
			if (tsz > fmq_kafka_rd_left(r))
				return -EBADMSG;
			sub = *r;
			sub.left = tsz;
			/* RequestHeader defines no tags; keep them anyway. */
			if ((rc = fmq_kafka__rd_unknown_tag(&sub, tag, tsz, ntag,
					a, &h->unknown_tags,
					&h->n_unknown_tags)) < 0 ||
			    (rc = fmq_kafka_rd_skip(r, tsz)) < 0)
				return rc;
		}
	}
	return 0;
}

/* Read the 4-byte prefix from the first bytes of the segments. */
static int32_t
read_prefix(const struct fmq_kafka_seg *segs, uint32_t nseg)
{
	uint8_t b[4];
	uint32_t got = 0;

	for (uint32_t i = 0; i < nseg && got < 4; i++)
		for (uint32_t j = 0; j < segs[i].len && got < 4; j++)
			b[got++] = segs[i].p[j];
	return (int32_t)(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
			 ((uint32_t)b[2] << 8) | b[3]);
}

int
fmq_kafka_frame_parse(struct fmq_kafka_framer *f,
		      const struct fmq_kafka_seg *segs, uint32_t nseg,
		      uint64_t avail, struct fmq_kafka_arena *a,
		      struct fmq_kafka_frame *out)
{
	struct fmq_kafka_reader r;
	struct fmq_kafka_req_hdr *h = &out->hdr;
	const struct fmq_kafka_api_info *api;
	uint32_t size;
	int16_t key_ver[2];
	bool trunc = false;
	int hv, rc;

	out->reason = FMQ_KAFKA_FR_OK;
	out->frame_len = 0;
	out->need = 0;
	out->hdr_valid = false;
	if (f->size < 0) {
		int32_t s;

		if (avail < 4) {
			out->need = (uint32_t)(4 - avail);
			return FMQ_KAFKA_FRAME_NEED_MORE;
		}
		s = read_prefix(segs, nseg);
		/* Checked now, before a single body byte is buffered. */
		if (s < 0) {
			out->reason = FMQ_KAFKA_FR_SIZE_NEGATIVE;
			return FMQ_KAFKA_FRAME_CLOSE;
		}
		if ((uint32_t)s > f->max_bytes) {
			out->reason = FMQ_KAFKA_FR_SIZE_TOO_LARGE;
			return FMQ_KAFKA_FRAME_CLOSE;
		}
		f->size = s;
	}
	size = (uint32_t)f->size;
	if (avail < 4 + (uint64_t)size) {
		out->need = (uint32_t)(4 + (uint64_t)size - avail);
		return FMQ_KAFKA_FRAME_NEED_MORE;
	}
	/* A whole frame: from here on the framer starts the next one. */
	f->size = -1;
	out->frame_len = 4 + size;
	if (fmq_kafka_rd_init(&r, segs, nseg, 4, size) < 0) {
		/* avail promised more bytes than the segments hold. */
		out->reason = FMQ_KAFKA_FR_HEADER_TRUNCATED;
		return FMQ_KAFKA_FRAME_CLOSE;
	}
	if (size < HDR_V1_MIN) {
		out->reason = FMQ_KAFKA_FR_HEADER_TRUNCATED;
		return FMQ_KAFKA_FRAME_CLOSE;
	}
	/* The header version depends on the API version: peek at both, and
	 * at the client id length to tell a truncated header from a bad one. */
	{
		struct fmq_kafka_reader peek = r;
		int32_t corr;
		int16_t idlen;

		if (fmq_kafka_rd_i16(&peek, &key_ver[0]) < 0 ||
		    fmq_kafka_rd_i16(&peek, &key_ver[1]) < 0 ||
		    fmq_kafka_rd_i32(&peek, &corr) < 0 ||
		    fmq_kafka_rd_i16(&peek, &idlen) < 0) {
			out->reason = FMQ_KAFKA_FR_HEADER_TRUNCATED;
			return FMQ_KAFKA_FRAME_CLOSE;
		}
		if (idlen > 0 && (uint32_t)idlen > fmq_kafka_rd_left(&peek))
			trunc = true;
		else if (idlen >= -1 &&
			 fmq_kafka_rd_left(&peek) == (uint32_t)(idlen > 0 ? idlen : 0) &&
			 fmq_kafka_req_hdr_version(key_ver[0], key_ver[1]) == 2)
			trunc = true;   /* ends before the tag section */
	}
	api = fmq_kafka_api_find(key_ver[0]);
	hv = fmq_kafka_req_hdr_version(key_ver[0], key_ver[1]);
	rc = fmq_kafka_rd_req_hdr(&r, hv, a, h);
	/* api key, version and correlation id are in the first 8 bytes,
	 * which size >= HDR_V1_MIN guarantees. */
	out->hdr_valid = true;
	if (api == NULL) {
		out->reason = FMQ_KAFKA_FR_UNKNOWN_API_KEY;
		return FMQ_KAFKA_FRAME_CLOSE;
	}
	if (rc < 0) {
		out->reason = rc == -ENOMEM ? FMQ_KAFKA_FR_NOMEM :
			trunc ? FMQ_KAFKA_FR_HEADER_TRUNCATED :
			FMQ_KAFKA_FR_HEADER_MALFORMED;
		return FMQ_KAFKA_FRAME_CLOSE;
	}
	if (h->api_version < api->min_version ||
	    h->api_version > api->max_version) {
		if (h->api_key == FMQ_KAFKA_API_API_VERSIONS &&
		    h->api_version > api->max_version) {
			out->reason = FMQ_KAFKA_FR_APIVERSIONS_FALLBACK;
			return FMQ_KAFKA_FRAME_READY;
		}
		out->reason = FMQ_KAFKA_FR_UNSUPPORTED_VERSION;
		return FMQ_KAFKA_FRAME_CLOSE;
	}
	out->body = r;
	return FMQ_KAFKA_FRAME_READY;
}
