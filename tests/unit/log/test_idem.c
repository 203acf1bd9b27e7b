/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log: idempotent producer state (Kafka's sequence rules, duplicates,
 * epochs, wrap, eviction, snapshots and replay across reopen) and the
 * compression side of append (deep validation, recompression to every
 * codec, corrupt payloads, decompression bombs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <CUnit/CUnit.h>

#include "fmq_codec.h"
#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

#define K_MESSAGE_TOO_LARGE 10
#define K_OUT_OF_ORDER 45
#define K_INVALID_PRODUCER_EPOCH 47
#define K_INVALID_TXN_STATE 48
#define K_CORRUPT_MESSAGE 2
#define K_INVALID_RECORD 87

static char root[256], shm_root[256];
static uint8_t *big;
#define BIG (8u << 20)

static struct fmq_log *
mk_log(const char *name, uint32_t max_producers, uint32_t max_output,
       char *hot)
{
	struct fmq_log_params p = {
		.hot_pool_bytes = 16u << 20, .hot_chunk_bytes = 2u << 20,
		.nb_lcores = 1, .max_partitions = 16,
		.producer_state_max = max_producers,
		.codec_max_output = max_output, .gzip_level = 1,
		.zstd_level = 3,
	};

	return tu_log_create(&p, shm_root, name, hot);
}

static void
mk_pp(struct fmq_log_part_params *pp, const char *name, char *dir)
{
	tu_part_params(pp, root, name, dir, "t", 1u << 20);
}

/* An uncompressed batch of n records from producer (pid, epoch, seq). */
static uint32_t
idem_batch(uint8_t *b, int32_t n, int64_t pid, int16_t epoch, int32_t seq,
	   uint64_t seed)
{
	uint32_t len = tb_build(b, 65536, n, 20, seed, 1700000000000LL);

	tb_be64(b + 43, (uint64_t)pid);
	tb_be16(b + 51, (uint16_t)epoch);
	tb_be32(b + 53, (uint32_t)seq);
	tb_fix_crc(b, len);
	return len;
}

static int
app(struct fmq_log_part *p, const uint8_t *b, uint32_t len,
    struct fmq_log_append_result *r)
{
	return fmq_log_append_buf(p, b, len, r);
}

static int64_t
hw(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.high_watermark;
}

static void
test_sequences(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_producer_info info;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("seq", 0, 0, hot);
	struct fmq_log_part *p;
	uint8_t b[65536];
	int64_t base[8];
	uint32_t len;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "seq", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	/* Seven batches of 3 records: sequences 0, 3, ..., 18. */
	for (int i = 0; i < 7; i++) {
		len = idem_batch(b, 3, 42, 0, 3 * i, (uint64_t)i);
		CU_ASSERT_EQUAL_FATAL(app(p, b, len, &r), 0);
		CU_ASSERT(!r.duplicate);
		base[i] = r.base_offset;
	}
	CU_ASSERT_EQUAL(hw(p), 21);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(p, 42, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 20);
	CU_ASSERT_EQUAL(info.nbatches, 5);
	/* Each of the last 5 is a duplicate with its original offsets. */
	for (int i = 2; i < 7; i++) {
		len = idem_batch(b, 3, 42, 0, 3 * i, (uint64_t)i);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
		CU_ASSERT(r.duplicate);
		CU_ASSERT_EQUAL(r.base_offset, base[i]);
		CU_ASSERT_EQUAL(r.last_offset, base[i] + 2);
	}
	CU_ASSERT_EQUAL(hw(p), 21);
	/* Older than the last 5, a gap, a partial overlap: out of order. */
	len = idem_batch(b, 3, 42, 0, 3, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	len = idem_batch(b, 3, 42, 0, 22, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	len = idem_batch(b, 2, 42, 0, 18, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	/* Next in sequence. */
	len = idem_batch(b, 1, 42, 0, 21, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT_EQUAL(r.base_offset, 21);
	/* A new epoch must start at 0; then the old epoch is fenced. */
	len = idem_batch(b, 1, 42, 1, 22, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	len = idem_batch(b, 1, 42, 1, 0, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	len = idem_batch(b, 1, 42, 0, 22, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_INVALID_PRODUCER_EPOCH);
	/* The new epoch's duplicate cache starts empty of the old one. */
	len = idem_batch(b, 3, 42, 1, 18, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_OUT_OF_ORDER);
	/* An unknown producer starts anywhere (KIP-360); wrap at INT32_MAX:
	 * first INT32_MAX-1, 3 records -> last 0, then 1 follows. */
	len = idem_batch(b, 3, 7, 0, INT32_MAX - 1, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(p, 7, &info), 0);
	CU_ASSERT_EQUAL(info.last_seq, 0);
	len = idem_batch(b, 3, 7, 0, INT32_MAX - 1, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT(r.duplicate);
	len = idem_batch(b, 2, 7, 0, 1, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT(!r.duplicate);
	/* Not idempotent: never tracked, never a duplicate. */
	len = tb_build(b, sizeof(b), 2, 10, 1, 1700000000000LL);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT(!r.duplicate);
	/* producerId set with baseSequence < 0; transactional bit. */
	len = idem_batch(b, 1, 9, 0, -1, 1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_INVALID_RECORD);
	len = idem_batch(b, 1, 9, 0, 0, 1);
	tb_be16(b + 21, 0x10);
	tb_fix_crc(b, len);
	/* A transactional batch of a producer with no transaction open on
	 * the partition (KIP-890; test_txn.c has the rest). */
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_INVALID_TXN_STATE);
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(p, 9, &info), -ENOENT);
	/* A client's control batch is refused. */
	len = idem_batch(b, 1, 10, 0, 0, 1);
	tb_be16(b + 21, 0x30);
	tb_fix_crc(b, len);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, K_INVALID_RECORD);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.duplicates, 6);
	CU_ASSERT_EQUAL(st.out_of_order, 5);
	CU_ASSERT_EQUAL(st.invalid_epoch, 1);
	CU_ASSERT_EQUAL(st.producers, 2);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_eviction(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_producer_info info;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("evict", 4, 0, hot);
	struct fmq_log_part *p;
	uint8_t b[65536];
	uint32_t len;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "evict", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	/* 40 producers through a table of 4: the idlest go. Then many
	 * more with removals in between keep the hash table consistent. */
	for (int64_t pid = 100; pid < 140; pid++) {
		len = idem_batch(b, 1, pid, 0, 0, 1);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
		len = idem_batch(b, 1, pid, 0, 1, 1);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	}
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.producers, 4);
	CU_ASSERT_EQUAL(st.producers_evicted, 36);
	for (int64_t pid = 136; pid < 140; pid++) {
		CU_ASSERT_EQUAL(fmq_log_producer_lookup(p, pid, &info), 0);
		CU_ASSERT_EQUAL(info.last_seq, 1);
		len = idem_batch(b, 1, pid, 0, 1, 1);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
		CU_ASSERT(r.duplicate);
	}
	CU_ASSERT_EQUAL(fmq_log_producer_lookup(p, 100, &info), -ENOENT);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static struct fmq_log *cur_log;

static struct fmq_log *
fmq_log_part_log(struct fmq_log_part *p)
{
	(void)p;
	return cur_log;
}

/* Producers 1..np, each with nb batches of 2 records, round robin. */
static void
fill(struct fmq_log_part *p, int np, int nb, int64_t *last_base)
{
	struct fmq_log_append_result r;
	uint8_t b[65536];

	for (int k = 0; k < nb; k++)
		for (int i = 1; i <= np; i++) {
			uint32_t len = idem_batch(b, 2, i, 3, 2 * k,
						  (uint64_t)(k * 100 + i));

			CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
			CU_ASSERT(!r.duplicate);
			last_base[i] = r.base_offset;
			/* Segments roll often: give chunks back (and write
			 * the snapshots taken at each roll). */
			fmq_log_flush(fmq_log_part_log(p), fmq_now_ns(), false);
		}
}

/* After a reopen, every producer's last batch is a duplicate with its
 * original offset and the next sequence is accepted. */
static void
check_restored(struct fmq_log_part *p, int np, int nb, const int64_t *base)
{
	struct fmq_log_append_result r;
	uint8_t b[65536];
	int bad = 0;

	for (int i = 1; i <= np; i++) {
		uint32_t len = idem_batch(b, 2, i, 3, 2 * (nb - 1),
					  (uint64_t)((nb - 1) * 100 + i));

		if (app(p, b, len, &r) != 0 || !r.duplicate ||
		    r.base_offset != base[i])
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	for (int i = 1; i <= np; i++) {
		uint32_t len = idem_batch(b, 2, i, 3, 2 * (nb - 1) - 2, 5);

		if (app(p, b, len, &r) != 0 || !r.duplicate)
			bad++;
		len = idem_batch(b, 2, i, 2, 2 * nb, 5);
		if (app(p, b, len, &r) != -EBADMSG ||
		    r.error != K_INVALID_PRODUCER_EPOCH)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static int
count_snaps(const char *pdir)
{
	char cmd[600];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '\\.producers$'", pdir);
	f = popen(cmd, "r");
	if (f != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void
test_snapshots(void)
{
	char hot[256], dir[256], pdir[600], cmd[700];
	struct fmq_log_part_params pp;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("snap", 0, 0, hot);
	struct fmq_log_part *p;
	int64_t base[40];
	enum { NP = 30, NB = 40 };

	CU_ASSERT_FATAL(log != NULL);
	cur_log = log;
	mk_pp(&pp, "snap", dir);
	pp.segment_bytes = 16u << 10;     /* rolls: snapshots at each */
	pp.hot_bytes = 0;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fill(p, NP, NB, base);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.rolls > 5);
	CU_ASSERT(st.producer_snapshots >= 1);
	snprintf(pdir, sizeof(pdir), "%s/t-0", dir);
	CU_ASSERT_EQUAL(count_snaps(pdir), 2);   /* the newest two kept */

	/* 1. Clean close: snapshot at the end, nothing to replay. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	check_restored(p, NP, NB, base);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* 2. As after a crash: the end snapshot lost; the roll snapshot
	 *    plus a replay of the tail rebuild the same state. */
	snprintf(cmd, sizeof(cmd), "cd %s && rm -f $(ls *.producers | "
		 "tail -n 1)", pdir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	check_restored(p, NP, NB, base);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* 3. Every snapshot corrupt: replay of the whole log. */
	snprintf(cmd, sizeof(cmd), "cd %s && for f in *.producers; do "
		 "printf 'XXXX' | dd of=$f bs=1 seek=40 conv=notrunc "
		 "status=none; done", pdir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	check_restored(p, NP, NB, base);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* 4. No snapshot at all, and one from beyond the log end (the log
	 *    was cut under it): ignored and deleted. */
	snprintf(cmd, sizeof(cmd), "cd %s && rm -f *.producers && "
		 "printf 'garbage' > 00000000000999999999.producers", pdir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	check_restored(p, NP, NB, base);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	snprintf(cmd, sizeof(cmd), "test ! -e %s/00000000000999999999"
		 ".producers", pdir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

/* ------------------------------------------------------------------------
 * Compression in the append path
 * ---------------------------------------------------------------------- */

static struct fmq_codec_ctx *cc;

/* Rebuild the uncompressed batch b (len) with codec c; returns size. */
static uint32_t
to_codec(uint8_t *out, const uint8_t *b, uint32_t len, int c)
{
	struct fmq_codec_seg s = { b + 61, len - 61 };
	size_t n = 0;

	memcpy(out, b, 61);
	if (c == 0) {
		memcpy(out + 61, b + 61, len - 61);
		n = len - 61;
	} else if (fmq_codec_compress(cc, c, &s, 1, out + 61, BIG - 61,
				      &n) != 0) {
		return 0;
	}
	tb_be32(out + 8, (uint32_t)(61 + n - 12));
	tb_be16(out + 21, (uint16_t)c);
	tb_fix_crc(out, (uint32_t)(61 + n));
	return (uint32_t)(61 + n);
}

/* The records section of a stored batch, decompressed, equals orig's. */
static bool
same_records(const uint8_t *stored, uint32_t slen, const uint8_t *orig,
	     uint32_t olen)
{
	int c = stored[22] & 7;
	struct fmq_codec_seg s = { stored + 61, slen - 61 };
	static uint8_t tmp[1 << 20];
	size_t n = 0;

	if (c == 0)
		return slen == olen && memcmp(stored + 61, orig + 61,
					      olen - 61) == 0;
	if (fmq_codec_decompress(cc, c, &s, 1, tmp, sizeof(tmp), &n) != 0)
		return false;
	return n == olen - 61 && memcmp(tmp, orig + 61, n) == 0;
}

static uint32_t
read_one(struct fmq_log_part *p, int64_t off, uint8_t *dst)
{
	struct fmq_log_range rg;
	struct fmq_log_read_result rr;
	uint32_t len;

	if (fmq_log_read(p, off, 1, &rg, 1, &rr) != 0 || rr.nranges != 1)
		return 0;
	len = rg.len;
	if (fmq_log_range_copy(&rg, dst) != 0)
		len = 0;
	fmq_log_range_release(&rg);
	return len;
}

static void
test_recompress(void)
{
	static const int codecs[] = { 0, 1, 2, 3, 4 };
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("rc", 0, 0, hot);
	uint8_t *plain = malloc(1 << 20), *in = malloc(BIG), *out = malloc(BIG);
	int bad = 0;

	CU_ASSERT_FATAL(log != NULL && plain != NULL && in != NULL &&
			out != NULL);
	/* Every source codec into a topic of every codec, and producer
	 * mode (255): stored with the topic's codec, records unchanged,
	 * CRC valid. Batches of ~200 KiB so that a rebuilt one larger than
	 * its source needs a fresh chunk now and then. */
	for (int t = 0; t <= 5; t++) {
		char name[32];
		struct fmq_log_part *p;

		snprintf(name, sizeof(name), "rc%d", t);
		mk_pp(&pp, name, dir);
		pp.compression = t == 5 ? FMQ_LOG_COMPRESSION_PRODUCER :
			(uint8_t)codecs[t];
		p = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(p != NULL);
		for (int k = 0; k < 20; k++) {
			int src = codecs[k % 5];
			uint32_t plen = tb_build(plain, 1 << 20, 400, 500,
						 (uint64_t)k, 1700000000000LL);
			uint32_t ilen = to_codec(in, plain, plen, src);
			uint32_t olen;
			int want = t == 5 ? src : codecs[t];

			if (ilen == 0 || app(p, in, ilen, &r) != 0) {
				bad++;
				continue;
			}
			olen = read_one(p, r.base_offset, out);
			if (olen == 0 || (out[22] & 7) != want ||
			    fmq_log_batch_check(out, olen, 1u << 20, NULL) != 0 ||
			    !same_records(out, olen, plain, plen)) {
				fprintf(stderr, "topic %d src %d: stored codec "
					"%d\n", t, src, out[22] & 7);
				bad++;
			}
		}
		CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	}
	CU_ASSERT_EQUAL(bad, 0);
	fmq_log_stats(log, &st);
	/* Per topic codec: 16 of the 20 batches differ from it. */
	CU_ASSERT_EQUAL(st.recompressed, 5 * 16);
	CU_ASSERT(st.recompress_out_bytes > 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(plain);
	free(in);
	free(out);
}

static void
test_deep(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log_stats st;
	/* Decompression bound 2 MiB. */
	struct fmq_log *log = mk_log("deep", 0, 2u << 20, hot);
	struct fmq_log_part *p, *shallow;
	uint8_t *plain = malloc(1 << 20), *in = malloc(BIG);
	uint8_t *zeros = calloc(1, 4u << 20);
	int64_t h;

	CU_ASSERT_FATAL(log != NULL && plain != NULL && in != NULL &&
			zeros != NULL);
	mk_pp(&pp, "deep", dir);
	pp.deep_validation = true;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	mk_pp(&pp, "shallow", dir);
	pp.partition = 1;
	pp.deep_validation = false;	/* the default is deep, as Kafka */
	shallow = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(shallow != NULL);
	for (int c = 1; c <= 4; c++) {
		uint32_t plen = tb_build(plain, 1 << 20, 50, 100, 3,
					 1700000000000LL);
		uint32_t ilen = to_codec(in, plain, plen, c);

		CU_ASSERT_EQUAL(app(p, in, ilen, &r), 0);
		/* Truncated compressed payload, CRC recomputed. */
		ilen -= (ilen - 61) / 2;
		tb_be32(in + 8, ilen - 12);
		tb_fix_crc(in, ilen);
		h = hw(p);
		CU_ASSERT_EQUAL(app(p, in, ilen, &r), -EBADMSG);
		CU_ASSERT_EQUAL(r.error, K_CORRUPT_MESSAGE);
		CU_ASSERT(r.error_message != NULL);
		CU_ASSERT_EQUAL(hw(p), h);
		/* Shallow stores it as sent. */
		CU_ASSERT_EQUAL(app(shallow, in, ilen, &r), 0);
		/* A bomb: 4 MiB of zeros against the 2 MiB bound. */
		{
			struct fmq_codec_seg s = { zeros, 4u << 20 };
			size_t n = 0;

			memcpy(in, plain, 61);
			CU_ASSERT_FATAL(fmq_codec_compress(cc, c, &s, 1,
					in + 61, BIG - 61, &n) == 0);
			tb_be32(in + 8, (uint32_t)(61 + n - 12));
			tb_be32(in + 23, 0);
			tb_be32(in + 57, 1);
			tb_be16(in + 21, (uint16_t)c);
			tb_fix_crc(in, (uint32_t)(61 + n));
			CU_ASSERT_EQUAL(app(p, in, (uint32_t)(61 + n), &r),
					-EBADMSG);
			CU_ASSERT_EQUAL(r.error, K_MESSAGE_TOO_LARGE);
		}
	}
	/* A record that lies about its length, inside gzip: its index. */
	{
		uint32_t plen = tb_build(plain, 1 << 20, 5, 30, 4,
					 1700000000000LL);
		uint8_t *q = plain + 61;
		uint32_t ilen;

		/* Record 0 is short: skip it by its length varint. */
		q += 1 + (q[0] >> 1);
		q[0] = (uint8_t)(q[0] + 2);     /* record 1 claims 1 more */
		ilen = to_codec(in, plain, plen, 1);
		CU_ASSERT_EQUAL(app(p, in, ilen, &r), -EBADMSG);
		CU_ASSERT_EQUAL(r.error, K_INVALID_RECORD);
		CU_ASSERT_EQUAL(r.record_index, 1);
	}
	fmq_log_stats(log, &st);
	CU_ASSERT(st.decompress_errors >= 8);
	CU_ASSERT(st.deep_validated >= 13);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(plain);
	free(in);
	free(zeros);
}


/* ------------------------------------------------------------------------
 * Live settings, ListOffsets MAX_TIMESTAMP
 * ---------------------------------------------------------------------- */

/* An uncompressed batch of n records (value "v<i>") with the given record
 * timestamps; maxTimestamp is their maximum unless max_ts >= 0. */
static uint32_t
ts_batch(uint8_t *b, const int64_t *ts, int32_t n, int64_t max_ts)
{
	uint32_t pos = 61;
	int64_t mx = ts[0];

	for (int32_t i = 0; i < n; i++) {
		uint8_t body[64];
		uint32_t bl = 0;

		if (ts[i] > mx)
			mx = ts[i];
		body[bl++] = 0;
		bl += tb_varint(body + bl, ts[i] - ts[0]);
		bl += tb_varint(body + bl, i);
		bl += tb_varint(body + bl, -1);          /* null key */
		bl += tb_varint(body + bl, 2);
		body[bl++] = 'v';
		body[bl++] = (uint8_t)('0' + i % 10);
		bl += tb_varint(body + bl, 0);           /* no headers */
		pos += tb_varint(b + pos, bl);
		memcpy(b + pos, body, bl);
		pos += bl;
	}
	memset(b, 0, 61);
	tb_be32(b + 8, pos - 12);
	tb_be32(b + 12, 0xFFFFFFFFu);
	b[16] = 2;
	tb_be32(b + 23, (uint32_t)(n - 1));
	tb_be64(b + 27, (uint64_t)ts[0]);
	tb_be64(b + 35, (uint64_t)(max_ts >= 0 ? max_ts : mx));
	tb_be64(b + 43, (uint64_t)-1);
	tb_be16(b + 51, 0xFFFF);
	tb_be32(b + 53, 0xFFFFFFFFu);
	tb_be32(b + 57, (uint32_t)n);
	tb_fix_crc(b, pos);
	return pos;
}

static void
expect_max(struct fmq_log_part *p, int64_t off, int64_t ts)
{
	int64_t o = -2, t = -2;

	CU_ASSERT_EQUAL(fmq_log_offset_for_time(p, FMQ_LOG_TS_MAX, &o, &t), 0);
	CU_ASSERT_EQUAL(o, off);
	CU_ASSERT_EQUAL(t, ts);
	if (o != off || t != ts)
		fprintf(stderr, "max timestamp: offset %" PRId64 " ts %" PRId64
			", want %" PRId64 " %" PRId64 "\n", o, t, off, ts);
}

static void
test_max_timestamp(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_append_result r;
	struct fmq_log *log = mk_log("maxts", 0, 0, hot);
	struct fmq_log_part *p;
	uint8_t b[4096], z[4096];
	uint32_t len;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "maxts", dir);
	pp.segment_bytes = 1024;   /* a few batches per segment */
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	expect_max(p, -1, -1);     /* empty: unknown, as Kafka */

	static const int64_t t0[] = { 1000, 1001, 1002 };
	static const int64_t t1[] = { 3000, 7000, 7000, 6500 };
	len = ts_batch(b, t0, 3, -1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);            /* 0..2 */
	len = ts_batch(b, t1, 4, -1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);            /* 3..6 */
	expect_max(p, 4, 7000);    /* first record carrying the max */
	/* Filler across several segments, then a tie: the first one wins. */
	for (int i = 0; i < 20; i++) {
		int64_t tf[] = { 2000 + i, 2100 + i, 2050 };
		len = ts_batch(b, tf, 3, -1);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	}
	static const int64_t t2[] = { 7000, 6000 };
	len = ts_batch(b, t2, 2, -1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	expect_max(p, 4, 7000);
	/* A compressed batch: decompressed to find the record. */
	static const int64_t t3[] = { 8000, 9000, 8500, 9000 };
	len = ts_batch(b, t3, 4, -1);
	len = to_codec(z, b, len, 3);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(app(p, z, len, &r), 0);
	int64_t lz4_base = r.base_offset;
	expect_max(p, lz4_base + 1, 9000);
	/* A maxTimestamp no record carries (Kafka would have rewritten it):
	 * the batch's last offset. */
	static const int64_t t4[] = { 9100, 9200 };
	len = ts_batch(b, t4, 2, 9500);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	int64_t odd_last = r.last_offset;
	expect_max(p, odd_last, 9500);
	/* From the segment files after a restart (.timeindex). */
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	expect_max(p, odd_last, 9500);
	/* Smaller timestamps later change nothing; a larger one wins. */
	static const int64_t t5[] = { 100, 9600, 9600 };
	len = ts_batch(b, t5, 3, -1);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	expect_max(p, r.base_offset + 1, 9600);
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	expect_max(p, r.base_offset + 1, 9600);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);

	/* LogAppendTime: every record carries the append time; the first
	 * batch stamped with the latest time, its first record. */
	mk_pp(&pp, "maxts-lat", dir);
	pp.log_append_time = true;
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	int64_t best_t = -1, best_o = -1;
	for (int i = 0; i < 50; i++) {
		len = ts_batch(b, t1, 4, -1);
		CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
		if (r.log_append_time > best_t) {
			best_t = r.log_append_time;
			best_o = r.base_offset;
		}
	}
	expect_max(p, best_o, best_t);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

static void
test_set_config(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp, cur;
	struct fmq_log_append_result r;
	struct fmq_log *log = mk_log("setcfg", 0, 0, hot);
	struct fmq_log_part *p;
	struct fmq_log_range rg;
	struct fmq_log_read_result rr;
	struct fmq_log_stats st0, st1;
	uint8_t *b = malloc(65536), *m = malloc(65536);
	uint32_t len;

	CU_ASSERT_FATAL(log != NULL && b != NULL && m != NULL);
	mk_pp(&pp, "setcfg", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	len = tb_build(b, 65536, 10, 1000, 1, 1700000000000LL);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	/* max.message.bytes down: the same batch is now too large. */
	cur = pp;
	cur.max_message_bytes = 4096;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &cur), 0);
	CU_ASSERT_EQUAL(app(p, b, len, &r), -EBADMSG);
	CU_ASSERT_EQUAL(r.error, 10);     /* MESSAGE_TOO_LARGE */
	/* compression.type=lz4: stored batches are rebuilt with it. */
	cur.max_message_bytes = 1u << 20;
	cur.compression = 3;
	cur.retention_ms = 5;
	cur.flush_messages = 7;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &cur), 0);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	CU_ASSERT_EQUAL(fmq_log_read(p, r.base_offset, 1, &rg, 1, &rr), 0);
	CU_ASSERT_EQUAL_FATAL(rr.nranges, 1);
	CU_ASSERT_EQUAL(fmq_log_range_copy(&rg, m), 0);
	CU_ASSERT_EQUAL(m[22] & 7, 3);
	CU_ASSERT(same_records(m, rg.len, b, len));
	fmq_log_range_release(&rg);
	/* Refused settings change nothing. */
	struct fmq_log_part_params bad = cur;
	bad.max_message_bytes = 4u << 20;   /* above the 2 MiB chunk */
	bad.compression = 0;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &bad), -EINVAL);
	bad = cur;
	bad.segment_bytes = 100;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &bad), -EINVAL);
	fmq_log_part_get_config(p, &bad);
	CU_ASSERT_EQUAL(bad.compression, 3);
	CU_ASSERT_EQUAL(bad.retention_ms, 5);
	CU_ASSERT_EQUAL(bad.flush_messages, 7);
	CU_ASSERT_EQUAL(bad.max_message_bytes, 1u << 20);
	/* segment.bytes down: the next append rolls. */
	cur.segment_bytes = 1024;
	cur.compression = FMQ_LOG_COMPRESSION_PRODUCER;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &cur), 0);
	fmq_log_stats(log, &st0);
	len = tb_build(b, 65536, 2, 100, 2, 1700000000000LL);
	CU_ASSERT_EQUAL(app(p, b, len, &r), 0);
	fmq_log_stats(log, &st1);
	CU_ASSERT_EQUAL(st1.rolls, st0.rolls + 1);
	/* retention.ms=5 applies on the next pass: old segments go. */
	CU_ASSERT(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	usleep(20000);
	CU_ASSERT(fmq_log_part_retention(p, fmq_wall_ms()) >= 1);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(b);
	free(m);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-idemtest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-idemtest-%d",
		 tu_shm_base(), (int)getpid());
	big = malloc(BIG);
	cc = fmq_codec_ctx_create(NULL);
	if (big == NULL || cc == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-idem", NULL, NULL);
	CU_add_test(s, "producer sequences, duplicates, epochs, wrap",
		    test_sequences);
	CU_add_test(s, "producer table full: idlest forgotten", test_eviction);
	fmq_test_slow(CU_add_test(s, "producer state across reopen: snapshots, replay",
				  test_snapshots));
	fmq_test_slow(CU_add_test(s, "recompression: every codec to every codec",
				  test_recompress));
	CU_add_test(s, "deep validation: corrupt payloads, bombs, records",
		    test_deep);
	CU_add_test(s, "settings changed in place", test_set_config);
	CU_add_test(s, "ListOffsets MAX_TIMESTAMP", test_max_timestamp);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	fmq_codec_ctx_free(cc);
	free(big);
	return fails;
}
