/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error code names, the advertised version table, whole-frame helpers and
 * ApiVersions (incl. the KIP-511 fallback).
 */
#include <errno.h>
#include <stdint.h>

#include "fmq_kafka.h"
#include "kafka_internal.h"

/* ------------------------------------------------------------------------
 * Error codes
 * ---------------------------------------------------------------------- */

struct kerr_row {
	int16_t code;
	bool retriable;
	const char *name;
	const char *msg;
};

static const struct kerr_row kerr_rows[] = {
#define FMQ_KERR(name, code, retriable, msg) { code, retriable, #name, msg },
#include "fmq_kafka_err.def"
#undef FMQ_KERR
};

/* Codes are dense from -1 upwards, so the row of code c is normally at
 * c + 1; fall back to a scan if the table ever gets a gap. */
static const struct kerr_row *
kerr_find(int16_t code)
{
	size_t n = sizeof(kerr_rows) / sizeof(kerr_rows[0]);
	size_t i = (size_t)((int32_t)code + 1);

	if (code >= -1 && i < n && kerr_rows[i].code == code)
		return &kerr_rows[i];
	for (i = 0; i < n; i++)
		if (kerr_rows[i].code == code)
			return &kerr_rows[i];
	return NULL;
}

const char *
fmq_kafka_err_name(int16_t code)
{
	const struct kerr_row *r = kerr_find(code);

	return r != NULL ? r->name : "UNKNOWN_CODE";
}

const char *
fmq_kafka_err_message(int16_t code)
{
	const struct kerr_row *r = kerr_find(code);

	return r != NULL ? r->msg : "";
}

bool
fmq_kafka_err_retriable(int16_t code)
{
	const struct kerr_row *r = kerr_find(code);

	return r != NULL && r->retriable;
}

/* ------------------------------------------------------------------------
 * Version table
 * ---------------------------------------------------------------------- */

const struct fmq_kafka_api_info *
fmq_kafka_api_table(size_t *n)
{
	*n = FMQ_KAFKA_N_APIS;
	return fmq_kafka__apis;
}

const struct fmq_kafka_api_info *
fmq_kafka_api_find(int16_t api_key)
{
	/* Keys are sorted; the table is short enough for a linear scan that
	 * stops early (the hot APIs are first). */
	for (size_t i = 0; i < FMQ_KAFKA_N_APIS; i++) {
		if (fmq_kafka__apis[i].api_key == api_key)
			return &fmq_kafka__apis[i];
		if (fmq_kafka__apis[i].api_key > api_key)
			break;
	}
	return NULL;
}

bool
fmq_kafka_api_supported(int16_t api_key, int16_t version)
{
	const struct fmq_kafka_api_info *a = fmq_kafka_api_find(api_key);

	return a != NULL && version >= a->min_version &&
	       version <= a->max_version;
}

bool
fmq_kafka_api_flexible(int16_t api_key, int16_t version)
{
	const struct fmq_kafka_api_info *a = fmq_kafka_api_find(api_key);

	return a != NULL && version >= a->flexible_min;
}

int
fmq_kafka_req_hdr_version(int16_t api_key, int16_t version)
{
	return fmq_kafka_api_flexible(api_key, version) ? 2 : 1;
}

int
fmq_kafka_resp_hdr_version(int16_t api_key, int16_t version)
{
	/* ApiVersions answers with header v0 at every version, so that a
	 * client that does not yet know our versions can parse it. */
	if (api_key == FMQ_KAFKA_API_API_VERSIONS)
		return 0;
	return fmq_kafka_api_flexible(api_key, version) ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Whole frames
 * ---------------------------------------------------------------------- */

int
fmq_kafka_write_response(struct fmq_kafka_writer *w, int16_t api_key,
			 int16_t version, int32_t correlation_id,
			 const void *body, struct fmq_kafka_sizer *info)
{
	struct fmq_kafka_sizer s;
	int hv, rc;

	if (!fmq_kafka_api_supported(api_key, version))
		return -ENOTSUP;
	hv = fmq_kafka_resp_hdr_version(api_key, version);
	fmq_kafka_sizer_init(&s, w->ref_min);
	s.bytes = 4 + (hv == 1 ? 1 : 0);
	if ((rc = fmq_kafka_size_response(&s, api_key, version, body)) < 0)
		return rc;
	if (s.bytes > INT32_MAX)
		return -EINVAL;
	if ((rc = fmq_kafka_wr_i32(w, (int32_t)s.bytes)) < 0 ||
	    (rc = fmq_kafka_wr_i32(w, correlation_id)) < 0)
		return rc;
	/* Response header v1 adds an (empty) tagged field section. */
	if (hv == 1 && (rc = fmq_kafka_wr_uvarint(w, 0)) < 0)
		return rc;
	if ((rc = fmq_kafka_encode_response(w, api_key, version, body)) < 0)
		return rc;
	if (info != NULL) {
		*info = s;
		info->bytes += 4;
	}
	return 0;
}

int
fmq_kafka_write_request(struct fmq_kafka_writer *w, int16_t api_key,
			int16_t version, int32_t correlation_id,
			struct fmq_kafka_str client_id, const void *body)
{
	struct fmq_kafka_sizer s;
	int hv, rc;

	if (!fmq_kafka_api_supported(api_key, version))
		return -ENOTSUP;
	hv = fmq_kafka_req_hdr_version(api_key, version);
	fmq_kafka_sizer_init(&s, w->ref_min);
	s.bytes = 8;
	/* The client id stays a classic nullable string in header v2. */
	fmq_kafka_sz_string(&s, false, client_id);
	if (hv == 2)
		s.bytes += 1;
	if ((rc = fmq_kafka_size_request(&s, api_key, version, body)) < 0)
		return rc;
	if (s.bytes > INT32_MAX)
		return -EINVAL;
	if ((rc = fmq_kafka_wr_i32(w, (int32_t)s.bytes)) < 0 ||
	    (rc = fmq_kafka_wr_i16(w, api_key)) < 0 ||
	    (rc = fmq_kafka_wr_i16(w, version)) < 0 ||
	    (rc = fmq_kafka_wr_i32(w, correlation_id)) < 0 ||
	    (rc = fmq_kafka_wr_string(w, false, true, client_id)) < 0)
		return rc;
	if (hv == 2 && (rc = fmq_kafka_wr_uvarint(w, 0)) < 0)
		return rc;
	return fmq_kafka_encode_request(w, api_key, version, body);
}

int
fmq_kafka_read_response(struct fmq_kafka_reader *r, int16_t api_key,
			int16_t version, struct fmq_kafka_arena *a,
			int32_t *correlation_id, void *out)
{
	int rc;

	if (!fmq_kafka_api_supported(api_key, version))
		return -ENOTSUP;
	if ((rc = fmq_kafka_rd_i32(r, correlation_id)) < 0)
		return rc;
	if (fmq_kafka_resp_hdr_version(api_key, version) == 1) {
		uint32_t ntag, tag, tsz;

		if ((rc = fmq_kafka_rd_uvarint(r, &ntag)) < 0)
			return rc;
		/* ResponseHeader defines no tags: skip whatever comes. */
		for (uint32_t t = 0; t < ntag; t++) {
			if ((rc = fmq_kafka_rd_uvarint(r, &tag)) < 0 ||
			    (rc = fmq_kafka_rd_uvarint(r, &tsz)) < 0 ||
			    (rc = fmq_kafka_rd_skip(r, tsz)) < 0)
				return rc;
		}
	}
	return fmq_kafka_decode_response(api_key, version, r, a, out);
}

/* ------------------------------------------------------------------------
 * ApiVersions
 * ---------------------------------------------------------------------- */

void
fmq_kafka_apiversions_fill(struct fmq_kafka_api_versions_resp *resp,
			   struct fmq_kafka_api_versions_resp_api_version *keys,
			   int16_t error_code)
{
	fmq_kafka_api_versions_resp_init(resp);
	for (size_t i = 0; i < FMQ_KAFKA_N_APIS; i++) {
		memset(&keys[i], 0, sizeof(keys[i]));
		keys[i].api_key = fmq_kafka__apis[i].api_key;
		keys[i].min_version = fmq_kafka__apis[i].min_version;
		keys[i].max_version = fmq_kafka__apis[i].max_version;
	}
	resp->error_code = error_code;
	resp->api_keys = keys;
	resp->api_keys_count = FMQ_KAFKA_N_APIS;
}

int
fmq_kafka_write_apiversions_fallback(struct fmq_kafka_writer *w,
				     int32_t correlation_id)
{
	struct fmq_kafka_api_versions_resp_api_version keys[FMQ_KAFKA_N_APIS];
	struct fmq_kafka_api_versions_resp resp;

	/* KIP-511: the client sent a version we do not know, so it cannot
	 * expect a body in that version. Answer in v0 (header v0, no throttle
	 * time, no tags) with UNSUPPORTED_VERSION and our ranges; the client
	 * then retries with the highest version both sides support. */
	fmq_kafka_apiversions_fill(&resp, keys, FMQ_KERR_UNSUPPORTED_VERSION);
	return fmq_kafka_write_response(w, FMQ_KAFKA_API_API_VERSIONS, 0,
					correlation_id, &resp, NULL);
}
