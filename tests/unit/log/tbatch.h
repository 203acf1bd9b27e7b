/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: build Kafka record batches (v2, uncompressed) byte by byte,
 * independently of lib/log's parser. Shared by the unit suite, the crash
 * harness, the sample writer, the fuzzer seeds and the benchmark.
 */
#ifndef FMQ_TBATCH_H
#define FMQ_TBATCH_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmq_log.h"

static inline uint32_t
tb_varint(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	uint32_t n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

static inline void
tb_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline void
tb_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline void
tb_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t
tb_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
tb_rd64(const uint8_t *p)
{
	return (uint64_t)tb_rd32(p) << 32 | tb_rd32(p + 4);
}

/* Deterministic payload byte j of record i of batch `seed'. */
static inline uint8_t
tb_byte(uint64_t seed, int32_t i, uint32_t j)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 131 + j;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (uint8_t)(x >> 32);
}

/* Recompute the CRC field after editing a batch. */
static inline void
tb_fix_crc(uint8_t *b, uint32_t size)
{
	tb_be32(b + 17, fmq_log_crc32c(b + 21, size - 21));
}

/*
 * Build a batch of n records: record i has key "k<i>" (null when i % 5 ==
 * 4), a value of vlen bytes from tb_byte(seed, i, j), one header "h"="<i>"
 * when i % 3 == 0, timestamp ts + i. Returns its size, 0 if cap is short.
 */
static inline uint32_t
tb_build(uint8_t *buf, uint32_t cap, int32_t n, uint32_t vlen,
	 uint64_t seed, int64_t ts)
{
	uint32_t pos = 61;

	if (cap < 61)
		return 0;
	for (int32_t i = 0; i < n; i++) {
		uint8_t body[64];
		uint32_t bl = 0, kl, hl;
		char key[16], hv[16];
		int klen, hvlen;

		klen = snprintf(key, sizeof(key), "k%d", i);
		hvlen = snprintf(hv, sizeof(hv), "%d", i);
		kl = i % 5 == 4 ? 0 : (uint32_t)klen;
		hl = i % 3 == 0 ? (uint32_t)(1 + 1 + 1 + 1 + hvlen) : 1;
		/* attributes, tsDelta, offsetDelta, key */
		body[bl++] = 0;
		bl += tb_varint(body + bl, i);
		bl += tb_varint(body + bl, i);
		if (i % 5 == 4) {
			bl += tb_varint(body + bl, -1);
		} else {
			bl += tb_varint(body + bl, klen);
			memcpy(body + bl, key, kl);
			bl += kl;
		}
		/* record length = body + value len varint + value + headers */
		uint8_t vhdr[8];
		uint32_t vh = tb_varint(vhdr, vlen);
		uint32_t rec = bl + vh + vlen + hl;
		uint8_t lenb[8];
		uint32_t lh = tb_varint(lenb, rec);

		if (pos + lh + rec > cap)
			return 0;
		memcpy(buf + pos, lenb, lh);
		pos += lh;
		memcpy(buf + pos, body, bl);
		pos += bl;
		memcpy(buf + pos, vhdr, vh);
		pos += vh;
		for (uint32_t j = 0; j < vlen; j++)
			buf[pos + j] = tb_byte(seed, i, j);
		pos += vlen;
		if (i % 3 == 0) {
			pos += tb_varint(buf + pos, 1);
			pos += tb_varint(buf + pos, 1);
			buf[pos++] = 'h';
			pos += tb_varint(buf + pos, hvlen);
			memcpy(buf + pos, hv, (size_t)hvlen);
			pos += (uint32_t)hvlen;
		} else {
			pos += tb_varint(buf + pos, 0);
		}
	}
	tb_be64(buf + 0, 0);                 /* baseOffset */
	tb_be32(buf + 8, pos - 12);          /* batchLength */
	tb_be32(buf + 12, 0xFFFFFFFFu);      /* partitionLeaderEpoch */
	buf[16] = 2;                         /* magic */
	tb_be16(buf + 21, 0);                /* attributes */
	tb_be32(buf + 23, (uint32_t)(n - 1)); /* lastOffsetDelta */
	tb_be64(buf + 27, (uint64_t)ts);     /* baseTimestamp */
	tb_be64(buf + 35, (uint64_t)(ts + n - 1)); /* maxTimestamp */
	tb_be64(buf + 43, (uint64_t)-1);     /* producerId */
	tb_be16(buf + 51, 0xFFFF);           /* producerEpoch */
	tb_be32(buf + 53, 0xFFFFFFFFu);      /* baseSequence */
	tb_be32(buf + 57, (uint32_t)n);      /* records count */
	tb_fix_crc(buf, pos);
	return pos;
}

/* Records needed for a batch of about `bytes' with vlen-byte values. */
static inline int32_t
tb_records_for(uint32_t bytes, uint32_t vlen)
{
	int32_t n = (int32_t)((bytes > 61 ? bytes - 61 : 0) / (vlen + 12));

	return n < 1 ? 1 : n;
}

#endif /* FMQ_TBATCH_H */
