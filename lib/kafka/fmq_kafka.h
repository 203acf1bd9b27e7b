/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * FluxMQ Kafka wire layer: error codes, the advertised API version table,
 * wire primitives over segmented buffers, request framing, and generated
 * codecs for every API and version FluxMQ advertises.
 *
 * Memory model
 * ------------
 * - Input is a list of segments (struct fmq_kafka_seg) that the caller fills
 *   from an mbuf chain. Nothing is linearized: a records field is returned as
 *   a reference into the segments; strings and bytes point into a segment
 *   when they lie inside one and are copied into the arena only when they
 *   straddle a boundary.
 * - Decoded structs and their arrays come from a caller-supplied arena
 *   (struct fmq_kafka_arena): a bump allocator over a fixed buffer, reset
 *   per request. No function of this library calls malloc.
 * - Output goes through a writer (struct fmq_kafka_writer) that appends
 *   into caller-provided buffers and produces a list of pieces
 *   (struct fmq_kafka_piece); large records pieces can be emitted as
 *   references so fetch data is never copied. All sizes, including the
 *   4-byte frame size prefix, are known before any referenced byte is read.
 *
 * Errors
 * ------
 * Int functions return 0 (or a count) on success and a negative errno:
 *   -EBADMSG  malformed input (truncated, bad length, bad varint, null
 *             where the schema does not allow it)
 *   -ENOMEM   the arena is exhausted
 *   -ENOBUFS  the writer ran out of buffer space or piece slots
 *   -EINVAL   a value that cannot be encoded (null into a non-nullable
 *             field, string longer than 32767 bytes, records length not
 *             matching its pieces) or a bad argument
 *   -ENOTSUP  API key or version outside the advertised table
 * Kafka error codes (enum fmq_kerr) are a separate int16_t space and are
 * never returned as errno values.
 */
#ifndef FMQ_KAFKA_H
#define FMQ_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Kafka error codes
 * ---------------------------------------------------------------------- */

/** Kafka protocol error codes: enum fmq_kerr, FMQ_KERR_<NAME>. */
#include "fmq_kerr.h"

/** Name of a Kafka error code ("UNSUPPORTED_VERSION"), or "UNKNOWN_CODE". */
const char *fmq_kafka_err_name(int16_t code);

/** Apache Kafka's default message for a code, or "" when unknown. */
const char *fmq_kafka_err_message(int16_t code);

/** True when Kafka clients treat the code as retriable. */
bool fmq_kafka_err_retriable(int16_t code);

/* ------------------------------------------------------------------------
 * Basic value types
 * ---------------------------------------------------------------------- */

/** A string field: not NUL-terminated; len < 0 means null. */
struct fmq_kafka_str {
	const char *p;
	int32_t len;
};

/** A bytes field: len < 0 means null. */
struct fmq_kafka_bytes {
	const uint8_t *p;
	int32_t len;
};

/** A UUID (topic ids): 16 bytes, big-endian as on the wire. */
struct fmq_kafka_uuid {
	uint8_t b[16];
};

/** Null string value. */
#define FMQ_KAFKA_STR_NULL ((struct fmq_kafka_str){ NULL, -1 })
/** String value from a literal. */
#define FMQ_KAFKA_STR_LIT(s) ((struct fmq_kafka_str){ (s), (int32_t)sizeof(s) - 1 })

/** String value from a NUL-terminated C string (NULL gives a null string). */
static inline struct fmq_kafka_str
fmq_kafka_str(const char *s)
{
	struct fmq_kafka_str r = { s, s == NULL ? -1 : (int32_t)strlen(s) };
	return r;
}

/** True when a (non-null) string field equals the C string s. */
static inline bool
fmq_kafka_str_eq(struct fmq_kafka_str a, const char *s)
{
	size_t n = strlen(s);
	return a.len >= 0 && (size_t)a.len == n && memcmp(a.p, s, n) == 0;
}

/** One piece of records data for encoding: p[0..len), plus a caller cookie
 * (e.g. the hot chunk to pin) handed back in the writer's output. */
struct fmq_kafka_iov {
	const void *p;
	uint32_t len;
	void *cookie;
};

/**
 * A records field (record batches).
 *
 * Decoding fills len, seg/off (position of the first byte in the reader's
 * segments, to map back to the mbuf) and iov/niov (one piece per segment
 * spanned, allocated from the arena; cookie NULL). The bytes are not copied.
 *
 * For encoding, set iov/niov and len = the sum of the pieces (or use
 * fmq_kafka_records_set()); len = -1 encodes null where allowed.
 */
struct fmq_kafka_records {
	int32_t len;
	uint32_t niov;
	const struct fmq_kafka_iov *iov;
	uint32_t seg;
	uint32_t off;
};

/** Point a records field at pieces; len becomes their total. */
static inline void
fmq_kafka_records_set(struct fmq_kafka_records *r,
		      const struct fmq_kafka_iov *iov, uint32_t niov)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < niov; i++)
		n += iov[i].len;
	r->len = n > INT32_MAX ? -1 : (int32_t)n;
	r->iov = iov;
	r->niov = niov;
	r->seg = 0;
	r->off = 0;
}

/** A tagged field this library does not know: kept so it re-encodes. */
struct fmq_kafka_tagged {
	uint32_t tag;
	struct fmq_kafka_bytes data;
};

/* ------------------------------------------------------------------------
 * Arena: per-request bump allocator over a caller-supplied buffer.
 * ---------------------------------------------------------------------- */

struct fmq_kafka_arena {
	uint8_t *base;
	size_t cap;
	size_t used;
	size_t peak;   /**< highest `used` seen since init (for sizing) */
};

/** Use buf[0..cap) as the arena. */
void fmq_kafka_arena_init(struct fmq_kafka_arena *a, void *buf, size_t cap);

/** Forget every allocation (call once per request). */
static inline void
fmq_kafka_arena_reset(struct fmq_kafka_arena *a)
{
	a->used = 0;
}

/**
 * Allocate n bytes aligned to 8, zeroed.
 * @return NULL when the arena cannot hold them.
 */
void *fmq_kafka_arena_alloc(struct fmq_kafka_arena *a, size_t n);

/* ------------------------------------------------------------------------
 * Reader over a segmented buffer
 * ---------------------------------------------------------------------- */

/** One contiguous piece of input (e.g. one mbuf's data). */
struct fmq_kafka_seg {
	const uint8_t *p;
	uint32_t len;
};

/**
 * Reader state. A plain value: copying it gives an independent cursor
 * (used for tagged fields). `left` is the number of bytes the reader may
 * still consume (the frame or field limit).
 */
struct fmq_kafka_reader {
	const struct fmq_kafka_seg *segs;
	uint32_t nseg;
	uint32_t seg;    /**< current segment */
	uint32_t off;    /**< offset in the current segment */
	uint32_t left;   /**< bytes left before the limit */
};

/**
 * Position a reader `skip` bytes into the segments, limited to `len`
 * bytes. The segments must outlive the reader and everything decoded.
 * @return 0, or -EINVAL if skip + len exceeds the segments.
 */
int fmq_kafka_rd_init(struct fmq_kafka_reader *r,
		      const struct fmq_kafka_seg *segs, uint32_t nseg,
		      uint64_t skip, uint32_t len);

/** Bytes the reader may still consume. */
static inline uint32_t
fmq_kafka_rd_left(const struct fmq_kafka_reader *r)
{
	return r->left;
}

/*
 * Reads. Each consumes its field and returns 0, or -EBADMSG (nothing
 * consumed that matters: the request is malformed) when the field does not
 * fit in the bytes left or is invalid. Fixed-width integers are big-endian.
 */

/** Copy the next n bytes to dst. */
int fmq_kafka_rd_raw(struct fmq_kafka_reader *r, void *dst, uint32_t n);
/** Skip n bytes. */
int fmq_kafka_rd_skip(struct fmq_kafka_reader *r, uint32_t n);
int fmq_kafka_rd_bool(struct fmq_kafka_reader *r, bool *v);
int fmq_kafka_rd_i8(struct fmq_kafka_reader *r, int8_t *v);
int fmq_kafka_rd_i16(struct fmq_kafka_reader *r, int16_t *v);
int fmq_kafka_rd_u16(struct fmq_kafka_reader *r, uint16_t *v);
int fmq_kafka_rd_i32(struct fmq_kafka_reader *r, int32_t *v);
int fmq_kafka_rd_u32(struct fmq_kafka_reader *r, uint32_t *v);
int fmq_kafka_rd_i64(struct fmq_kafka_reader *r, int64_t *v);
int fmq_kafka_rd_f64(struct fmq_kafka_reader *r, double *v);
int fmq_kafka_rd_uuid(struct fmq_kafka_reader *r, struct fmq_kafka_uuid *v);
/** Unsigned varint, at most 5 bytes and 32 bits; else -EBADMSG. */
int fmq_kafka_rd_uvarint(struct fmq_kafka_reader *r, uint32_t *v);
/** Unsigned varlong, at most 10 bytes and 64 bits. */
int fmq_kafka_rd_uvarlong(struct fmq_kafka_reader *r, uint64_t *v);
/** Zigzag varint (int32). */
int fmq_kafka_rd_varint(struct fmq_kafka_reader *r, int32_t *v);
/** Zigzag varlong (int64). */
int fmq_kafka_rd_varlong(struct fmq_kafka_reader *r, int64_t *v);

/**
 * Pointer to the next n bytes, consuming them: into the segment when they
 * are contiguous there, else copied into the arena.
 * @return NULL with *rc set (-EBADMSG, -ENOMEM) on failure.
 */
const uint8_t *fmq_kafka_rd_ptr(struct fmq_kafka_reader *r, uint32_t n,
				struct fmq_kafka_arena *a, int *rc);

/** string (int16 length) or compact string (uvarint length + 1).
 * Lengths above 32767 are rejected, as by Kafka. */
int fmq_kafka_rd_string(struct fmq_kafka_reader *r, bool compact,
			bool nullable, struct fmq_kafka_arena *a,
			struct fmq_kafka_str *out);
/** bytes (int32 length) or compact bytes. */
int fmq_kafka_rd_bytes(struct fmq_kafka_reader *r, bool compact,
		       bool nullable, struct fmq_kafka_arena *a,
		       struct fmq_kafka_bytes *out);
/** records (int32 length) or compact records, by reference. */
int fmq_kafka_rd_records(struct fmq_kafka_reader *r, bool compact,
			 bool nullable, struct fmq_kafka_arena *a,
			 struct fmq_kafka_records *out);
/**
 * Array length (int32, or compact uvarint N+1). -1 means null (only when
 * nullable). A count that cannot fit in the remaining bytes at min_elem
 * bytes per element is rejected before anything is allocated.
 */
int fmq_kafka_rd_array_len(struct fmq_kafka_reader *r, bool compact,
			   bool nullable, uint32_t min_elem, int32_t *n);

/* ------------------------------------------------------------------------
 * Writer into caller-provided buffers, producing pieces
 * ---------------------------------------------------------------------- */

/** One piece of output: copied bytes in a caller buffer, or a reference
 * to records data (is_ref) with the caller's cookie from fmq_kafka_iov. */
struct fmq_kafka_piece {
	const uint8_t *p;
	uint32_t len;
	bool is_ref;
	void *cookie;
};

/**
 * Called when the current buffer is full: store the next buffer (e.g. the
 * data room of a fresh mbuf) in *buf / *cap and return 0, or a negative
 * errno to fail the write.
 */
typedef int (*fmq_kafka_refill_fn)(void *arg, uint8_t **buf, size_t *cap);

struct fmq_kafka_writer {
	uint8_t *buf;         /**< current buffer */
	size_t cap;
	size_t pos;           /**< bytes used in buf */
	size_t mark;          /**< start of the open copy piece in buf */
	struct fmq_kafka_piece *pieces;
	uint32_t max_pieces;
	uint32_t npieces;
	uint32_t ref_min;     /**< records pieces this long or longer are refs */
	int err;              /**< first error, sticky */
	uint64_t total;       /**< bytes written (copied + referenced) */
	fmq_kafka_refill_fn refill;
	void *refill_arg;
};

/**
 * Start writing into buf[0..cap) with room for max_pieces output pieces.
 * ref_min starts at UINT32_MAX (records are copied); see
 * fmq_kafka_wr_set_ref_min().
 */
void fmq_kafka_wr_init(struct fmq_kafka_writer *w, void *buf, size_t cap,
		       struct fmq_kafka_piece *pieces, uint32_t max_pieces);

/** Let the writer ask for more buffers instead of failing with -ENOBUFS. */
static inline void
fmq_kafka_wr_set_refill(struct fmq_kafka_writer *w, fmq_kafka_refill_fn fn,
			void *arg)
{
	w->refill = fn;
	w->refill_arg = arg;
}

/** Records pieces of at least n bytes are emitted by reference (0 < n),
 * shorter ones are copied. UINT32_MAX copies everything. */
static inline void
fmq_kafka_wr_set_ref_min(struct fmq_kafka_writer *w, uint32_t n)
{
	w->ref_min = n == 0 ? 1 : n;
}

/**
 * Close the output. @return the number of pieces in w->pieces, or the
 * first error (negative errno) of any write.
 */
int fmq_kafka_wr_finish(struct fmq_kafka_writer *w);

/*
 * Writes. Each returns 0, or the writer's first error (sticky): -ENOBUFS
 * when buffers or piece slots run out (and no refill gives more), -EINVAL
 * for a value the field cannot carry (null into a non-nullable field, a
 * string over 32767 bytes, records whose len does not match the pieces).
 * `compact` selects the flexible-version encoding of lengths.
 */

/** Copy p[0..n) into the output. */
int fmq_kafka_wr_raw(struct fmq_kafka_writer *w, const void *p, size_t n);
/** Emit p[0..n) as a reference piece (not copied). */
int fmq_kafka_wr_ref(struct fmq_kafka_writer *w, const void *p, uint32_t n,
		     void *cookie);
int fmq_kafka_wr_bool(struct fmq_kafka_writer *w, bool v);
int fmq_kafka_wr_i8(struct fmq_kafka_writer *w, int8_t v);
int fmq_kafka_wr_i16(struct fmq_kafka_writer *w, int16_t v);
int fmq_kafka_wr_u16(struct fmq_kafka_writer *w, uint16_t v);
int fmq_kafka_wr_i32(struct fmq_kafka_writer *w, int32_t v);
int fmq_kafka_wr_u32(struct fmq_kafka_writer *w, uint32_t v);
int fmq_kafka_wr_i64(struct fmq_kafka_writer *w, int64_t v);
int fmq_kafka_wr_f64(struct fmq_kafka_writer *w, double v);
int fmq_kafka_wr_uuid(struct fmq_kafka_writer *w,
		      const struct fmq_kafka_uuid *v);
int fmq_kafka_wr_uvarint(struct fmq_kafka_writer *w, uint32_t v);
int fmq_kafka_wr_uvarlong(struct fmq_kafka_writer *w, uint64_t v);
int fmq_kafka_wr_varint(struct fmq_kafka_writer *w, int32_t v);
int fmq_kafka_wr_varlong(struct fmq_kafka_writer *w, int64_t v);
int fmq_kafka_wr_string(struct fmq_kafka_writer *w, bool compact,
			bool nullable, struct fmq_kafka_str s);
int fmq_kafka_wr_bytes(struct fmq_kafka_writer *w, bool compact,
		       bool nullable, struct fmq_kafka_bytes b);
int fmq_kafka_wr_records(struct fmq_kafka_writer *w, bool compact,
			 bool nullable, const struct fmq_kafka_records *rec);
int fmq_kafka_wr_array_len(struct fmq_kafka_writer *w, bool compact,
			   bool nullable, int32_t n);

/** Encoded length of an unsigned varint / varlong. */
static inline uint32_t
fmq_kafka_uvarint_len(uint32_t v)
{
	uint32_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint32_t
fmq_kafka_uvarlong_len(uint64_t v)
{
	uint32_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------------
 * Sizer: computes encoded sizes without touching referenced data.
 * ---------------------------------------------------------------------- */

struct fmq_kafka_sizer {
	uint64_t bytes;      /**< total encoded bytes */
	uint64_t ref_bytes;  /**< of which emitted by reference */
	uint32_t ref_pieces; /**< number of reference pieces */
	uint32_t ref_min;    /**< same meaning as in the writer */
};

/** Start a sizer that mirrors a writer with the given ref_min. */
static inline void
fmq_kafka_sizer_init(struct fmq_kafka_sizer *s, uint32_t ref_min)
{
	s->bytes = 0;
	s->ref_bytes = 0;
	s->ref_pieces = 0;
	s->ref_min = ref_min == 0 ? 1 : ref_min;
}

void fmq_kafka_sz_string(struct fmq_kafka_sizer *s, bool compact,
			 struct fmq_kafka_str v);
void fmq_kafka_sz_bytes(struct fmq_kafka_sizer *s, bool compact,
			struct fmq_kafka_bytes v);
void fmq_kafka_sz_records(struct fmq_kafka_sizer *s, bool compact,
			  const struct fmq_kafka_records *v);
void fmq_kafka_sz_array_len(struct fmq_kafka_sizer *s, bool compact,
			    int32_t n);

/* ------------------------------------------------------------------------
 * Generated message structs and codecs (lib/kafka/gen, from Kafka's JSON
 * message schemas): struct fmq_kafka_<api>_req / _resp, enum
 * fmq_kafka_api_key, and per message _init/_decode/_encode/_size.
 * ---------------------------------------------------------------------- */
#include "gen/fmq_kafka_msgs.h"

/* ------------------------------------------------------------------------
 * Advertised API versions
 * ---------------------------------------------------------------------- */

/** Marks an API without flexible versions in fmq_kafka_api_info. */
#define FMQ_KAFKA_NOT_FLEXIBLE INT16_MAX

/** One row of the advertised version table. */
struct fmq_kafka_api_info {
	int16_t api_key;
	int16_t min_version;
	int16_t max_version;
	int16_t flexible_min;   /**< first flexible version, or NOT_FLEXIBLE */
	const char *name;       /**< "Produce" */
};

/** The advertised table, sorted by API key; *n receives its length. */
const struct fmq_kafka_api_info *fmq_kafka_api_table(size_t *n);

/** Row of api_key, or NULL when the key is not served. */
const struct fmq_kafka_api_info *fmq_kafka_api_find(int16_t api_key);

/** True when api_key is served at this version. */
bool fmq_kafka_api_supported(int16_t api_key, int16_t version);

/** True when this version of api_key uses the flexible encoding. */
bool fmq_kafka_api_flexible(int16_t api_key, int16_t version);

/** Request header version (1 or 2) for an API version. */
int fmq_kafka_req_hdr_version(int16_t api_key, int16_t version);

/** Response header version (0 or 1); ApiVersions is always 0. */
int fmq_kafka_resp_hdr_version(int16_t api_key, int16_t version);

/* ------------------------------------------------------------------------
 * Framing and the request header
 * ---------------------------------------------------------------------- */

/** Request header v1 / v2 (v2 = v1 + tagged fields, for flexible APIs). */
struct fmq_kafka_req_hdr {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct fmq_kafka_str client_id;  /**< may be null */
	uint8_t version;                 /**< 1 or 2 */
	uint32_t n_unknown_tags;
	struct fmq_kafka_tagged *unknown_tags;
};

/** Per-connection frame parser state. */
struct fmq_kafka_framer {
	uint32_t max_bytes;   /**< socket.request.max.bytes */
	int64_t size;         /**< size prefix of the current frame, -1 if unread */
};

/** What fmq_kafka_frame_parse() returns. */
enum fmq_kafka_frame_status {
	/** A protocol violation: close the connection (see reason). */
	FMQ_KAFKA_FRAME_CLOSE = -1,
	/** Not enough bytes yet; frame.need says at least how many more. */
	FMQ_KAFKA_FRAME_NEED_MORE = 0,
	/** A whole frame is there and its header parsed; act on reason. */
	FMQ_KAFKA_FRAME_READY = 1,
};

/** Why a frame is ready or why the connection must close. */
enum fmq_kafka_frame_reason {
	/** READY: decode the body with fmq_kafka_decode_request(). */
	FMQ_KAFKA_FR_OK = 0,
	/** READY: ApiVersions above our max; answer with
	 * fmq_kafka_write_apiversions_fallback() (KIP-511), keep going. */
	FMQ_KAFKA_FR_APIVERSIONS_FALLBACK,
	/** CLOSE, header known: the API key is not served. Kafka closes the
	 * connection (InvalidRequestException), there is no response format
	 * to answer with. */
	FMQ_KAFKA_FR_UNKNOWN_API_KEY,
	/** CLOSE, header known: version outside the advertised range (not
	 * ApiVersions). Kafka closes the connection here too. */
	FMQ_KAFKA_FR_UNSUPPORTED_VERSION,
	/** CLOSE: the size prefix is negative. */
	FMQ_KAFKA_FR_SIZE_NEGATIVE,
	/** CLOSE: size prefix above socket.request.max.bytes; detected from
	 * the 4 prefix bytes alone, before the body is buffered. */
	FMQ_KAFKA_FR_SIZE_TOO_LARGE,
	/** CLOSE: the frame ends inside the request header. */
	FMQ_KAFKA_FR_HEADER_TRUNCATED,
	/** CLOSE: the header is malformed (bad client id length or tags). */
	FMQ_KAFKA_FR_HEADER_MALFORMED,
	/** CLOSE: the arena could not hold the header (client id copy). */
	FMQ_KAFKA_FR_NOMEM,
};

/** Result of fmq_kafka_frame_parse(). */
struct fmq_kafka_frame {
	enum fmq_kafka_frame_reason reason;
	/** Bytes of this frame incl. the 4-byte prefix: consume them after
	 * READY (and for the header-known CLOSE reasons). */
	uint32_t frame_len;
	/** NEED_MORE: minimum number of further bytes worth waiting for. */
	uint32_t need;
	/** api_key, api_version and correlation_id are valid. */
	bool hdr_valid;
	struct fmq_kafka_req_hdr hdr;
	/** READY + OK: reader positioned at the body, limited to it. */
	struct fmq_kafka_reader body;
};

/** Reset a framer for a new connection. */
void fmq_kafka_framer_init(struct fmq_kafka_framer *f, uint32_t max_bytes);

/**
 * Look for the next request at the start of the pending data.
 *
 * segs/nseg hold the connection's unconsumed bytes starting at a frame
 * boundary; avail is their total length (the caller knows it from the mbuf
 * chain, so the parser need not walk the segments while waiting). The
 * parser is restartable: after NEED_MORE call it again when at least
 * frame.need more bytes arrived; the size prefix is read and checked only
 * once. The client id is taken from the segments (or copied into `a` when
 * it straddles two).
 *
 * @return an enum fmq_kafka_frame_status; out->reason says more.
 */
int fmq_kafka_frame_parse(struct fmq_kafka_framer *f,
			  const struct fmq_kafka_seg *segs, uint32_t nseg,
			  uint64_t avail, struct fmq_kafka_arena *a,
			  struct fmq_kafka_frame *out);

/** Short description of a frame reason, for logs and counters. */
const char *fmq_kafka_frame_reason_str(enum fmq_kafka_frame_reason r);

/**
 * Parse a request header at the reader (no size prefix) for a known
 * api/version pair; used by the framer and by tests.
 * @return 0, -EBADMSG, -ENOMEM.
 */
int fmq_kafka_rd_req_hdr(struct fmq_kafka_reader *r, int hdr_version,
			 struct fmq_kafka_arena *a,
			 struct fmq_kafka_req_hdr *h);

/* ------------------------------------------------------------------------
 * Dispatch over API keys (bodies are the generated per-API structs:
 * Produce -> struct fmq_kafka_produce_req / _resp, etc.; the unions
 * fmq_kafka_request / fmq_kafka_response hold any of them).
 * ---------------------------------------------------------------------- */

/**
 * Decode a request body of api_key at version into *out, which must point
 * to the matching struct (e.g. struct fmq_kafka_produce_req) or to a union
 * fmq_kafka_request. Trailing bytes after the body are ignored, as Kafka
 * does; fmq_kafka_rd_left() tells how many there were.
 * @return 0, -ENOTSUP (not served), -EBADMSG, -ENOMEM.
 */
int fmq_kafka_decode_request(int16_t api_key, int16_t version,
			     struct fmq_kafka_reader *r,
			     struct fmq_kafka_arena *a, void *out);

/** Decode a response body (client side, tests). */
int fmq_kafka_decode_response(int16_t api_key, int16_t version,
			      struct fmq_kafka_reader *r,
			      struct fmq_kafka_arena *a, void *out);

/** Encode a request / response body (no header, no size prefix). */
int fmq_kafka_encode_request(struct fmq_kafka_writer *w, int16_t api_key,
			     int16_t version, const void *body);
int fmq_kafka_encode_response(struct fmq_kafka_writer *w, int16_t api_key,
			      int16_t version, const void *body);

/** Add the encoded size of a request / response body to s. */
int fmq_kafka_size_request(struct fmq_kafka_sizer *s, int16_t api_key,
			   int16_t version, const void *body);
int fmq_kafka_size_response(struct fmq_kafka_sizer *s, int16_t api_key,
			    int16_t version, const void *body);

/** Set a request / response struct to the schema defaults. */
int fmq_kafka_init_request(int16_t api_key, int16_t version, void *body);
int fmq_kafka_init_response(int16_t api_key, int16_t version, void *body);

/**
 * Write a whole response frame: size prefix, response header (v0, or v1
 * for flexible versions except ApiVersions), body. The size is computed
 * first, so referenced records are never read.
 * @param info if not NULL, receives the sizes (bytes includes the prefix).
 * @return 0 or negative errno (-ENOBUFS, -EINVAL, -ENOTSUP).
 */
int fmq_kafka_write_response(struct fmq_kafka_writer *w, int16_t api_key,
			     int16_t version, int32_t correlation_id,
			     const void *body, struct fmq_kafka_sizer *info);

/** Write a whole request frame: size prefix, header v1/v2, body. */
int fmq_kafka_write_request(struct fmq_kafka_writer *w, int16_t api_key,
			    int16_t version, int32_t correlation_id,
			    struct fmq_kafka_str client_id, const void *body);

/**
 * Read a response frame's header and body (no size prefix: the reader is
 * limited to the frame body) at api_key/version.
 */
int fmq_kafka_read_response(struct fmq_kafka_reader *r, int16_t api_key,
			    int16_t version, struct fmq_kafka_arena *a,
			    int32_t *correlation_id, void *out);

/**
 * Fill an ApiVersions response body with the advertised table.
 * api_keys must have room for the table (FMQ_KAFKA_N_APIS entries).
 */
void fmq_kafka_apiversions_fill(struct fmq_kafka_api_versions_resp *resp,
				struct fmq_kafka_api_versions_resp_api_version *api_keys,
				int16_t error_code);

/**
 * KIP-511 answer to an ApiVersions request whose version is above our max:
 * response header v0 and a v0 body with error UNSUPPORTED_VERSION (35) and
 * our version ranges, so the client can retry with a version we serve.
 */
int fmq_kafka_write_apiversions_fallback(struct fmq_kafka_writer *w,
					 int32_t correlation_id);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_KAFKA_H */
