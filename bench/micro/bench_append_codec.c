/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq-bench-append-codec: lib/log append throughput (one core, the data
 * lcore's cost; the flusher runs with the clock stopped) for 1 MiB batches
 * of JSON-like records with 100 B - 1 KiB values:
 *   - uncompressed vs LZ4 as the producer sent them (shallow validation),
 *   - the same with validation=deep,
 *   - broker recompression from uncompressed and from LZ4 to each codec,
 * beside the single-core ceilings measured in the same run: memcpy,
 * crc32_iscsi, and each codec's compress/decompress rate on the same bytes.
 * MB/s are of uncompressed record bytes. The batch holds ~1900 records. One JSON line per figure on stdout.
 *
 *   fluxmq-bench-append-codec [-t seconds] [-H hot-dir] [-D data-dir]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "fmq_codec.h"
#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"

#define BATCH (1u << 20)

static double secs = 1.0;

static double
now_s(void)
{
	return (double)fmq_now_ns() / 1e9;
}

/* 1 MiB uncompressed batch of JSON-like records; returns its size and the
 * bytes of its records section in *rec_bytes. */
static uint32_t
json_batch(uint8_t *b, uint32_t cap)
{
	static const char *ev[] = { "click", "view", "purchase", "scroll" };
	uint32_t pos = 61;
	int32_t n = 0;

	for (;; n++) {
		char v[1100];
		uint32_t vl, lh, rec;
		uint8_t body[32], lenb[8], vh[8];
		uint32_t bl = 0, vhl;
		int w = snprintf(v, sizeof(v), "{\"user\":\"u%05d\",\"event\":"
				 "\"%s\",\"ts\":%d,\"page\":\"/p/%d\","
				 "\"attrs\":{\"a\":%d,\"b\":\"%s\"},\"note\":\"",
				 n * 7919 % 10007, ev[n % 4], 1700000 + n,
				 n % 97, n % 13, ev[(n / 4) % 4]);
		uint32_t want = 100 + (uint32_t)(n * 389 % 925);

		while ((uint32_t)w < want - 2)
		{
			v[w] = "lorem ipsum dolor sit amet "[w % 27];
			w++;
		}
		v[w++] = '"';
		v[w++] = '}';
		vl = (uint32_t)w;
		body[bl++] = 0;
		bl += tb_varint(body + bl, n);      /* timestampDelta */
		bl += tb_varint(body + bl, n);      /* offsetDelta */
		bl += tb_varint(body + bl, -1);     /* null key */
		vhl = tb_varint(vh, vl);
		rec = bl + vhl + vl + 1;
		lh = tb_varint(lenb, rec);
		if (pos + lh + rec > cap)
			break;
		memcpy(b + pos, lenb, lh);
		pos += lh;
		memcpy(b + pos, body, bl);
		pos += bl;
		memcpy(b + pos, vh, vhl);
		pos += vhl;
		memcpy(b + pos, v, vl);
		pos += vl;
		b[pos++] = 0;                       /* no headers */
	}
	tb_be64(b, 0);
	tb_be32(b + 8, pos - 12);
	tb_be32(b + 12, 0);
	b[16] = 2;
	tb_be16(b + 21, 0);
	tb_be32(b + 23, (uint32_t)(n - 1));
	tb_be64(b + 27, 1700000000000ull);
	tb_be64(b + 35, 1700000000000ull + (uint64_t)n);
	tb_be64(b + 43, (uint64_t)-1);
	tb_be16(b + 51, 0xFFFF);
	tb_be32(b + 53, 0xFFFFFFFFu);
	tb_be32(b + 57, (uint32_t)n);
	tb_fix_crc(b, pos);
	return pos;
}

static uint32_t
recode(struct fmq_codec_ctx *cc, uint8_t *out, const uint8_t *b, uint32_t len,
       int c)
{
	struct fmq_codec_seg s = { b + 61, len - 61 };
	size_t n = 0;

	memcpy(out, b, 61);
	if (fmq_codec_compress(cc, c, &s, 1, out + 61, 4 * BATCH, &n) != 0)
		return 0;
	tb_be32(out + 8, (uint32_t)(61 + n - 12));
	tb_be16(out + 21, (uint16_t)c);
	tb_fix_crc(out, (uint32_t)(61 + n));
	return (uint32_t)(61 + n);
}

static struct fmq_log *log_;
static const char *data_dir = "/dev/shm";
static int part_no;

/* Append the batch for secs seconds into a fresh partition with the given
 * settings; MB/s of raw (uncompressed records) bytes. */
static double
append_rate(const uint8_t *b, uint32_t len, uint32_t raw, uint8_t comp,
	    bool deep)
{
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_part *p;
	char name[32];
	double busy = 0, t0;
	uint64_t n = 0;

	fmq_log_part_params_default(&pp);
	snprintf(name, sizeof(name), "b%d", part_no++);
	pp.dir = data_dir;
	pp.topic = name;
	pp.max_message_bytes = 4 * BATCH;
	pp.hot_bytes = 0;
	pp.compression = comp;
	pp.deep_validation = deep;
	pp.flush_ms = 1u << 30;
	p = fmq_log_part_open(log_, &pp);
	if (p == NULL)
		return -1;
	t0 = now_s();
	while (busy < secs) {
		int rc = fmq_log_append_buf(p, b, len, &r);

		if (rc == -EAGAIN) {
			busy += now_s() - t0;
			fmq_log_flush(log_, fmq_now_ns(), false);
			t0 = now_s();
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "append: %d (error %d)\n", rc, r.error);
			return -1;
		}
		n++;
	}
	fmq_log_part_delete(p);
	return (double)n * raw / busy / 1e6;
}

static double
codec_rate(struct fmq_codec_ctx *cc, int c, bool dec, const uint8_t *raw,
	   uint32_t rlen, uint8_t *tmp, uint8_t *tmp2)
{
	struct fmq_codec_seg s = { raw, rlen };
	size_t n = 0, m;
	double t0 = now_s(), t;
	uint64_t k = 0;

	if (fmq_codec_compress(cc, c, &s, 1, tmp, 4 * BATCH, &n) != 0)
		return -1;
	s.p = tmp;
	s.len = (uint32_t)n;
	do {
		if (dec)
			fmq_codec_decompress(cc, c, &s, 1, tmp2, 4 * BATCH, &m);
		else {
			struct fmq_codec_seg r = { raw, rlen };

			fmq_codec_compress(cc, c, &r, 1, tmp2, 4 * BATCH, &m);
		}
		k++;
		t = now_s();
	} while (t - t0 < secs);
	return (double)k * rlen / (t - t0) / 1e6;
}

int
main(int argc, char **argv)
{
	static const char *cn[] = { "none", "gzip", "snappy", "lz4", "zstd" };
	struct fmq_log_params lp = {
		.hot_pool_bytes = 256u << 20, .hot_chunk_bytes = 8u << 20,
		.nb_lcores = 1, .max_partitions = 64, .gzip_level = 1,
		.zstd_level = 3, .lz4_level = 0,
	};
	char hot[256] = "/dev/shm/fmq-bench-codec-hot", err[256];
	uint8_t *plain = malloc(BATCH), *lz4b = malloc(4 * BATCH);
	uint8_t *tmp = malloc(4 * BATCH), *tmp2 = malloc(4 * BATCH);
	uint8_t *src = malloc(4 * BATCH), *dst = malloc(64u << 20);
	struct fmq_codec_ctx *cc = fmq_codec_ctx_create(NULL);
	uint32_t plen, llen, raw;
	double t0, t, v;
	uint64_t k;
	int o;

	while ((o = getopt(argc, argv, "t:H:D:")) != -1) {
		if (o == 't')
			secs = atof(optarg);
		else if (o == 'H')
			snprintf(hot, sizeof(hot), "%s", optarg);
		else if (o == 'D')
			data_dir = optarg;
	}
	if (plain == NULL || lz4b == NULL || tmp == NULL || tmp2 == NULL ||
	    src == NULL || dst == NULL || cc == NULL)
		return 1;
	fmq_log_set_level(FMQ_LOG_WARN);
	lp.hot_dir = hot;
	log_ = fmq_log_create(&lp, err, sizeof(err));
	if (log_ == NULL) {
		fprintf(stderr, "fmq_log_create: %s\n", err);
		return 1;
	}
	plen = json_batch(plain, BATCH);
	raw = plen - 61;
	llen = recode(cc, lz4b, plain, plen, 3);
	fprintf(stderr, "batch: %u B uncompressed, %u B lz4 (%.2fx), %.1f s "
		"per figure\n", plen, llen, (double)plen / llen, secs);

	/* Ceilings. */
	memcpy(src, plain, plen);
	k = 0;
	t0 = now_s();
	do {
		memcpy(dst + (k % 64) * BATCH, src, BATCH);
		k++;
		t = now_s();
	} while (t - t0 < secs);
	printf("{\"figure\":\"ceiling\",\"what\":\"memcpy 1 MiB into 64 MiB\","
	       "\"MBps\":%.0f}\n", (double)k * BATCH / (t - t0) / 1e6);
	k = 0;
	t0 = now_s();
	do {
		(void)crc32_iscsi(src, (int)plen, 0xFFFFFFFFu);
		k++;
		t = now_s();
	} while (t - t0 < secs);
	printf("{\"figure\":\"ceiling\",\"what\":\"crc32_iscsi\","
	       "\"MBps\":%.0f}\n", (double)k * plen / (t - t0) / 1e6);
	for (int c = 1; c <= 4; c++) {
		printf("{\"figure\":\"ceiling\",\"what\":\"%s compress\","
		       "\"MBps\":%.0f}\n", cn[c],
		       codec_rate(cc, c, false, plain + 61, raw, tmp, tmp2));
		printf("{\"figure\":\"ceiling\",\"what\":\"%s decompress\","
		       "\"MBps\":%.0f}\n", cn[c],
		       codec_rate(cc, c, true, plain + 61, raw, tmp, tmp2));
	}

	/* Appends (a first pass touches every pool page, not counted). */
	(void)append_rate(plain, plen, raw, FMQ_LOG_COMPRESSION_PRODUCER,
			  false);
	v = append_rate(plain, plen, raw, FMQ_LOG_COMPRESSION_PRODUCER, false);
	printf("{\"figure\":\"append\",\"what\":\"uncompressed, shallow\","
	       "\"MBps\":%.0f}\n", v);
	v = append_rate(lz4b, llen, raw, FMQ_LOG_COMPRESSION_PRODUCER, false);
	printf("{\"figure\":\"append\",\"what\":\"lz4 as sent, shallow\","
	       "\"MBps\":%.0f}\n", v);
	v = append_rate(plain, plen, raw, FMQ_LOG_COMPRESSION_PRODUCER, true);
	printf("{\"figure\":\"append\",\"what\":\"uncompressed, deep\","
	       "\"MBps\":%.0f}\n", v);
	for (int c = 1; c <= 4; c++) {
		uint32_t l = recode(cc, tmp, plain, plen, c);

		memcpy(src, tmp, l);
		v = append_rate(src, l, raw, FMQ_LOG_COMPRESSION_PRODUCER,
				true);
		printf("{\"figure\":\"append\",\"what\":\"%s as sent, deep\","
		       "\"MBps\":%.0f}\n", cn[c], v);
	}
	for (int c = 0; c <= 4; c++) {
		if (c != 0) {
			v = append_rate(plain, plen, raw, (uint8_t)c, false);
			printf("{\"figure\":\"append\",\"what\":\"recompress "
			       "none->%s\",\"MBps\":%.0f}\n", cn[c], v);
		}
		if (c != 3) {
			v = append_rate(lz4b, llen, raw, (uint8_t)c, false);
			printf("{\"figure\":\"append\",\"what\":\"recompress "
			       "lz4->%s\",\"MBps\":%.0f}\n", cn[c], v);
		}
	}
	fmq_log_free(log_);
	fmq_log_destroy_pool(hot);
	fmq_codec_ctx_free(cc);
	return 0;
}
