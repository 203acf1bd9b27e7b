/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/log: log compaction. A keyed log with overwrites and tombstones
 * compacts to the last record per key at its original offset, every batch
 * keeps a valid CRC-32C, tombstones live for delete.retention.ms, the
 * active segment is never touched, gzip batches are rebuilt, a reader
 * holding the old segment keeps reading it, and a crash after each step
 * of the swap reopens into a valid log that lost no latest value.
 * DeleteRecords moves the log start durably.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_codec.h"
#include "fmq_log.h"
#include "tbatch.h"
#include "tutil.h"
#include "harness.h"

static char root[256], shm_root[256];
static struct fmq_codec_ctx *cc;

#define NKEYS 7
#define NREC 240        /* records in the keyed part of each test log */
#define PER_BATCH 4

static struct fmq_log *
mk_log(const char *name, char *hot)
{
	struct fmq_log_params p = {
		.hot_pool_bytes = 16u << 20, .hot_chunk_bytes = 64u << 10,
		.nb_lcores = 1, .max_partitions = 4, .gzip_level = 1,
	};

	return tu_log_create(&p, shm_root, name, hot);
}

static void
mk_pp(struct fmq_log_part_params *pp, const char *name, char *dir)
{
	tu_part_params(pp, root, name, dir, "c", 16u << 10);
	pp->segment_bytes = 1024;
	pp->hot_bytes = 0;
	pp->index_interval_bytes = 200;
	pp->cleanup = FMQ_LOG_CLEANUP_COMPACT;
	pp->min_cleanable_ratio = 0.01;
}

/* Key of the record at offset o and whether it is a tombstone. */
static int
key_of(int64_t o)
{
	return (int)(o % NKEYS);
}

static bool
tomb_of(int64_t o)
{
	return o % 13 == 5;
}

/*
 * A batch of n keyed records for offsets base..base+n-1 (the log assigns
 * them; the test appends in order so they match): key "key<o % 7>",
 * value "v<o>" or null. codec 1 gzips the records.
 */
static uint32_t
keyed_batch(uint8_t *b, int64_t base, int n, int codec, int64_t ts)
{
	uint8_t recs[4096];
	uint32_t rl = 0, len;

	for (int i = 0; i < n; i++) {
		uint8_t body[128], lb[8];
		uint32_t bl = 0;
		char k[16], v[24];
		int kl = snprintf(k, sizeof(k), "key%d", key_of(base + i));
		int vl = snprintf(v, sizeof(v), "v%" PRId64, base + i);

		body[bl++] = 0;
		bl += tb_varint(body + bl, i);          /* tsDelta */
		bl += tb_varint(body + bl, i);          /* offsetDelta */
		bl += tb_varint(body + bl, kl);
		memcpy(body + bl, k, (size_t)kl);
		bl += (uint32_t)kl;
		if (tomb_of(base + i)) {
			bl += tb_varint(body + bl, -1);
		} else {
			bl += tb_varint(body + bl, vl);
			memcpy(body + bl, v, (size_t)vl);
			bl += (uint32_t)vl;
		}
		bl += tb_varint(body + bl, 0);          /* headers */
		uint32_t n1 = tb_varint(lb, bl);
		memcpy(recs + rl, lb, n1);
		memcpy(recs + rl + n1, body, bl);
		rl += n1 + bl;
	}
	memset(b, 0, 61);
	if (codec != 0) {
		struct fmq_codec_seg in = { recs, rl };
		size_t zn;

		if (fmq_codec_compress(cc, codec, &in, 1, b + 61, 8192,
				       &zn) != 0)
			return 0;
		len = 61 + (uint32_t)zn;
	} else {
		memcpy(b + 61, recs, rl);
		len = 61 + rl;
	}
	tb_be32(b + 8, len - 12);
	b[16] = 2;
	tb_be16(b + 21, (uint16_t)codec);
	tb_be32(b + 23, (uint32_t)(n - 1));
	tb_be64(b + 27, (uint64_t)ts);
	tb_be64(b + 35, (uint64_t)(ts + n - 1));
	tb_be64(b + 43, UINT64_MAX);                    /* producerId -1 */
	tb_be16(b + 51, 0xffff);
	tb_be32(b + 53, UINT32_MAX);
	tb_be32(b + 57, (uint32_t)n);
	tb_fix_crc(b, len);
	return len;
}

static int64_t
hwm(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.high_watermark;
}

/* NREC keyed records (every third batch gzip when gz), then a roll and
 * one filler batch alone in the active segment. Returns its offset. */
static int64_t
fill(struct fmq_log *log, struct fmq_log_part *p, bool gz, int64_t ts)
{
	struct fmq_log_append_result r;
	struct fmq_log_part_params pp;
	uint8_t b[8192];
	int64_t o = hwm(p), filler;
	uint32_t len;

	while (o < NREC) {
		len = keyed_batch(b, o, PER_BATCH,
					   gz && ((o / PER_BATCH) % 3 == 0 ||
						  o + 2 * PER_BATCH >= NREC),
					   ts);

		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
		CU_ASSERT_EQUAL_FATAL(r.base_offset, o);
		o += PER_BATCH;
		CU_ASSERT_FATAL(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	}
	/* A roll before the filler: everything keyed is closed. */
	fmq_log_part_get_config(p, &pp);
	pp.roll_ms = 1;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	usleep(3000);
	filler = hwm(p);
	len = keyed_batch(b, filler, 1, 0, ts);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL_FATAL(fmq_log_append_buf(p, b, len, &r), 0);
	pp.roll_ms = 604800000;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	CU_ASSERT_FATAL(fmq_log_flush(log, fmq_now_ns(), true) >= 0);
	return filler;
}

/* What a read of the whole log found. */
struct seen {
	int nrec;
	int nbatch;
	int bad_crc;
	int bad;
	int tombs;
	int64_t last_off;       /* records must come in offset order */
	int64_t off[NREC + 64];
	int key[NREC + 64];
	bool tomb[NREC + 64];
	int empty_batches;
	int gz_batches;
};

static int
vint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t u = 0;

	for (int i = 0; i < 10 && *p < end; i++) {
		uint8_t c = *(*p)++;

		u |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = (int64_t)((u >> 1) ^ -(u & 1));
			return 0;
		}
	}
	return -1;
}

static int
on_batch(const uint8_t *b, uint32_t size, void *arg)
{
	struct seen *s = arg;
	int64_t base = (int64_t)tb_rd64(b);
	int32_t count = (int32_t)tb_rd32(b + 57);
	int32_t lod = (int32_t)tb_rd32(b + 23);
	int codec = b[22] & 7;
	uint8_t dec[16384];
	const uint8_t *p = b + 61, *end = b + size;

	s->nbatch++;
	if (tb_rd32(b + 17) != fmq_log_crc32c(b + 21, size - 21))
		s->bad_crc++;
	if (count == 0)
		s->empty_batches++;
	if (count > lod + 1)
		s->bad++;
	if (codec != 0) {
		struct fmq_codec_seg in = { p, (uint32_t)(end - p) };
		size_t n;

		s->gz_batches++;
		if (fmq_codec_decompress(cc, codec, &in, 1, dec, sizeof(dec),
					 &n) != 0) {
			s->bad++;
			return 0;
		}
		p = dec;
		end = dec + n;
	}
	for (int32_t i = 0; i < count; i++) {
		int64_t len, tsd, od, kl, vl;
		const uint8_t *r;
		char k[16], v[24];

		if (vint(&p, end, &len) != 0 || len > end - p) {
			s->bad++;
			return 0;
		}
		r = p + 1;
		p += len;
		if (vint(&r, p, &tsd) || vint(&r, p, &od) || vint(&r, p, &kl) ||
		    kl < 0 || kl > 15) {
			s->bad++;
			return 0;
		}
		memcpy(k, r, (size_t)kl);
		k[kl] = '\0';
		r += kl;
		if (vint(&r, p, &vl) || vl > 23) {
			s->bad++;
			return 0;
		}
		int64_t o = base + od;
		if (o <= s->last_off || od > lod || s->nrec >= NREC + 64) {
			s->bad++;
			return 0;
		}
		s->last_off = o;
		s->off[s->nrec] = o;
		s->key[s->nrec] = atoi(k + 3);
		s->tomb[s->nrec] = vl < 0;
		if (vl < 0) {
			s->tombs++;
		} else {
			/* The value names the offset it was written at. */
			memcpy(v, r, (size_t)vl);
			v[vl] = '\0';
			if (strtoll(v + 1, NULL, 10) != o ||
			    key_of(o) != s->key[s->nrec])
				s->bad++;
		}
		s->nrec++;
	}
	return 0;
}

static void
read_log(struct fmq_log_part *p, struct seen *s)
{
	static uint8_t buf[1u << 20];

	memset(s, 0, sizeof(*s));
	s->last_off = -1;
	CU_ASSERT(tu_read_all(p, 0, buf, sizeof(buf), on_batch, s) >= 0);
	CU_ASSERT_EQUAL(s->bad_crc, 0);
	CU_ASSERT_EQUAL(s->bad, 0);
}

/*
 * Compacted: below `upto' exactly one record per key, the last one
 * written, at its offset (tombstones only if kept); from upto on,
 * everything as written.
 */
static void
check_compacted(const struct seen *s, int64_t upto, int64_t end,
		bool tombs_kept)
{
	int64_t last[NKEYS];
	int n = 0;

	for (int k = 0; k < NKEYS; k++)
		last[k] = -1;
	for (int64_t o = 0; o < upto; o++)
		last[key_of(o)] = o;
	for (int k = 0; k < NKEYS; k++)
		if (last[k] >= 0 && (tombs_kept || !tomb_of(last[k])))
			n++;
	n += (int)(end - upto);
	CU_ASSERT_EQUAL(s->nrec, n);
	for (int i = 0; i < s->nrec; i++) {
		int64_t o = s->off[i];

		if (o >= upto)
			continue;
		CU_ASSERT_EQUAL(o, last[key_of(o)]);
		CU_ASSERT(tombs_kept || !s->tomb[i]);
	}
}

/* The uncompacted log: every record. */
static void
check_all(const struct seen *s, int64_t end)
{
	CU_ASSERT_EQUAL(s->nrec, end);
	for (int i = 0; i < s->nrec; i++)
		CU_ASSERT_EQUAL(s->off[i], i);
}

/* Every latest value (by key) of [0, upto) is there at its offset. */
static void
check_latest(const struct seen *s, int64_t upto)
{
	for (int k = 0; k < NKEYS; k++) {
		int64_t last = -1;
		bool found = false;

		for (int64_t o = 0; o < upto; o++)
			if (key_of(o) == k)
				last = o;
		for (int i = 0; i < s->nrec; i++)
			if (s->off[i] == last)
				found = true;
		CU_ASSERT(last < 0 || found);
	}
}

static int
count_suffix(const char *dir, const char *sfx)
{
	char path[512];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/c-0", dir);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, sfx) != NULL)
			n++;
	closedir(d);
	return n;
}

static long
file_size(const char *dir, int64_t base)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/c-0/%020" PRId64 ".log", dir, base);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void
test_compact(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_part_stats ps;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("basic", hot);
	struct fmq_log_part *p;
	struct seen *s = malloc(sizeof(*s));
	int64_t filler, ts = fmq_wall_ms();
	long active_size;
	int n;

	CU_ASSERT_FATAL(log != NULL && s != NULL);
	mk_pp(&pp, "basic", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	filler = fill(log, p, false, ts);
	CU_ASSERT_EQUAL(filler, NREC);
	fmq_log_part_stats(p, &ps);
	CU_ASSERT(ps.segments > 5);
	active_size = file_size(dir, filler);
	CU_ASSERT(active_size > 0);
	read_log(p, s);
	check_all(s, NREC + 1);

	/* A delete-only topic is not the cleaner's business. */
	fmq_log_part_get_config(p, &pp);
	pp.cleanup = FMQ_LOG_CLEANUP_DELETE;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	CU_ASSERT_EQUAL(fmq_log_clean(log, fmq_wall_ms(), 0), 0);
	pp.cleanup = FMQ_LOG_CLEANUP_COMPACT;
	/* Below min.cleanable.dirty.ratio nothing happens either... */
	pp.min_cleanable_ratio = 1.01;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	CU_ASSERT_EQUAL(fmq_log_part_clean(p, fmq_wall_ms()), 0);
	/* ...nor under min.compaction.lag.ms... */
	pp.min_cleanable_ratio = 0.01;
	pp.min_compaction_lag_ms = 3600000;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	CU_ASSERT_EQUAL(fmq_log_part_clean(p, fmq_wall_ms()), 0);
	/* ...unless max.compaction.lag.ms forces it whatever the ratio. */
	pp.min_compaction_lag_ms = 0;
	pp.min_cleanable_ratio = 1.01;
	pp.max_compaction_lag_ms = 1;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);

	/* Clean in slices through the control-loop entry point. */
	n = 0;
	while (fmq_log_clean(log, fmq_wall_ms() + 10, 512) == 1 && n < 100000)
		n++;
	CU_ASSERT(n > 3);       /* really in slices */
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.cleaner_runs, 1);
	CU_ASSERT(st.cleaner_segments > 5);
	CU_ASSERT(st.cleaner_records_removed > 150);
	CU_ASSERT_EQUAL(st.cleaner_tombstones_removed, 0);
	CU_ASSERT_EQUAL(st.cleaner_errors, 0);
	CU_ASSERT(st.cleaner_written_bytes < st.cleaner_read_bytes / 3);
	read_log(p, s);
	check_compacted(s, filler, filler + 1, true);
	/* Segments that lost every batch keep an empty one at their end. */
	CU_ASSERT(s->empty_batches > 0);
	/* The active segment: not a byte changed. */
	CU_ASSERT_EQUAL(file_size(dir, filler), active_size);
	CU_ASSERT_EQUAL(hwm(p), filler + 1);
	/* Nothing dirty left: the next pass has nothing to do. */
	CU_ASSERT_EQUAL(fmq_log_part_clean(p, fmq_wall_ms()), 0);
	CU_ASSERT_EQUAL(count_suffix(dir, ".cleaned"), 0);
	CU_ASSERT_EQUAL(count_suffix(dir, ".swap"), 0);

	/* Reopen: recovery accepts the shrunk batches, cuts nothing, and
	 * the checkpoint says it is clean. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	pp.dir = dir;
	pp.topic = "c";
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.truncated_bytes, 0);
	CU_ASSERT_EQUAL(hwm(p), filler + 1);
	read_log(p, s);
	check_compacted(s, filler, filler + 1, true);
	CU_ASSERT_EQUAL(fmq_log_part_clean(p, fmq_wall_ms()), 0);

	/* Appends go on; tombstones older than delete.retention.ms go at
	 * the next round. */
	fmq_log_part_get_config(p, &pp);
	pp.delete_retention_ms = 1000;
	pp.min_cleanable_ratio = 0.01;
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	{
		struct fmq_log_append_result r;
		uint8_t b[8192];
		uint32_t len = keyed_batch(b, hwm(p), PER_BATCH, 0, ts);

		CU_ASSERT_EQUAL(fmq_log_append_buf(p, b, len, &r), 0);
	}
	filler = fill(log, p, false, ts);
	CU_ASSERT(fmq_log_part_clean(p, fmq_wall_ms() + 5000) > 0);
	read_log(p, s);
	check_compacted(s, filler, filler + 1, false);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.cleaner_tombstones_removed > 0);

	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(s);
}

/* gzip batches: rebuilt with the kept records, recompressed. */
static void
test_compressed(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log *log = mk_log("gz", hot);
	struct fmq_log_part *p;
	struct seen *s = malloc(sizeof(*s));
	int64_t filler;

	CU_ASSERT_FATAL(log != NULL && s != NULL);
	mk_pp(&pp, "gz", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	filler = fill(log, p, true, fmq_wall_ms());
	read_log(p, s);
	CU_ASSERT(s->gz_batches > 10);
	CU_ASSERT(fmq_log_part_clean(p, fmq_wall_ms()) > 0);
	read_log(p, s);
	check_compacted(s, filler, filler + 1, true);
	CU_ASSERT(s->gz_batches > 0);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(s);
}

/* A reader holding the old segment (a durable range of a zero-copy
 * fetch) keeps reading the old bytes; the swap waits for it. */
static void
test_reader_held(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_range r;
	struct fmq_log_read_result rr;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("held", hot);
	struct fmq_log_part *p;
	struct seen *s = malloc(sizeof(*s));
	uint8_t *before = malloc(1u << 16), *after = malloc(1u << 16);
	int64_t filler;

	CU_ASSERT_FATAL(log != NULL && s != NULL && before && after);
	mk_pp(&pp, "held", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	filler = fill(log, p, false, fmq_wall_ms());
	CU_ASSERT_EQUAL(fmq_log_read(p, 0, 1u << 16, &r, 1, &rr), 0);
	CU_ASSERT_FATAL(rr.nranges == 1);
	CU_ASSERT(r.addr == NULL);      /* durable: the pool let it go */
	CU_ASSERT_EQUAL(fmq_log_range_copy(&r, before), 0);
	/* The held segment's swap gives up after a while; the others
	 * are swapped. */
	CU_ASSERT(fmq_log_part_clean(p, fmq_wall_ms()) > 0);
	fmq_log_stats(log, &st);
	CU_ASSERT(st.cleaner_swap_waits > 0);
	CU_ASSERT_EQUAL(fmq_log_range_copy(&r, after), 0);
	CU_ASSERT_EQUAL(memcmp(before, after, r.len), 0);
	fmq_log_range_release(&r);
	/* What the partition serves is consistent: either view of the
	 * held segment, every latest value present. */
	read_log(p, s);
	check_latest(s, filler);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	/* Reopened: the cleaned files on disk. */
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	read_log(p, s);
	check_compacted(s, filler, filler + 1, true);
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
	free(s);
	free(before);
	free(after);
}

/* A crash after each step of the swap: the reopened log is valid, has
 * every latest value, and holds no leftover .cleaned or .swap file. */
static void
test_crash(void)
{
	for (int step = 1; step <= 4; step++) {
		char hot[256], dir[256], name[32];
		struct fmq_log_part_params pp;
		struct fmq_log_stats st;
		struct fmq_log *log;
		struct fmq_log_part *p;
		struct seen *s = malloc(sizeof(*s));
		int64_t filler;

		snprintf(name, sizeof(name), "crash%d", step);
		log = mk_log(name, hot);
		CU_ASSERT_FATAL(log != NULL && s != NULL);
		mk_pp(&pp, name, dir);
		p = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(p != NULL);
		filler = fill(log, p, step == 2, fmq_wall_ms());
		fmq_log_clean_crash_at(log, step);
		CU_ASSERT_EQUAL(fmq_log_part_clean(p, fmq_wall_ms()),
				-ECANCELED);
		fmq_log_clean_crash_at(log, 0);
		if (step < 3)
			CU_ASSERT(count_suffix(dir, ".cleaned") > 0);
		if (step >= 3)
			CU_ASSERT(count_suffix(dir, ".swap") > 0);
		CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
		p = fmq_log_part_open(log, &pp);
		CU_ASSERT_FATAL(p != NULL);
		CU_ASSERT_EQUAL(count_suffix(dir, ".cleaned"), 0);
		CU_ASSERT_EQUAL(count_suffix(dir, ".swap"), 0);
		fmq_log_stats(log, &st);
		CU_ASSERT_EQUAL(st.truncated_bytes, 0);
		CU_ASSERT_EQUAL(hwm(p), filler + 1);
		read_log(p, s);
		check_latest(s, filler);
		if (step < 3)
			check_all(s, filler + 1);   /* not committed */
		else
			CU_ASSERT(s->nrec < filler);    /* first one swapped */
		/* And the cleaner finishes the job afterwards. */
		CU_ASSERT(fmq_log_part_clean(p, fmq_wall_ms()) > 0);
		read_log(p, s);
		check_compacted(s, filler, filler + 1, true);
		CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
		fmq_log_free(log);
		fmq_log_destroy_pool(hot);
		free(s);
	}
}

/* Kafka's OFFSET_OUT_OF_RANGE, as fmq_log_read_result.error has it. */
#define OUT_OF_RANGE 1

/* Read at offset: 0 or OUT_OF_RANGE; pins released. */
static int
read_at(struct fmq_log_part *p, int64_t off)
{
	struct fmq_log_range rg[4];
	struct fmq_log_read_result res;

	CU_ASSERT_EQUAL(fmq_log_read(p, off, 1024, rg, 4, &res), 0);
	for (uint32_t i = 0; i < res.nranges; i++)
		fmq_log_range_release(&rg[i]);
	return res.error;
}

static int64_t
start_of(struct fmq_log_part *p)
{
	struct fmq_log_offsets o;

	fmq_log_part_offsets(p, &o);
	return o.log_start;
}

/*
 * DeleteRecords: refused on a compact-only log (POLICY_VIOLATION), the
 * offset checked against the high watermark, the log start moved (reads
 * below it out of range), never moved back, the whole segments below it
 * deleted by retention whatever retention.ms says, and the start read
 * back from disk on reopen.
 */
static void
test_delete_records(void)
{
	char hot[256], dir[256];
	struct fmq_log_part_params pp;
	struct fmq_log_part_stats ps;
	struct fmq_log_stats st;
	struct fmq_log *log = mk_log("delrec", hot);
	struct fmq_log_part *p;
	int64_t filler, low = -7, end;
	uint32_t nseg;

	CU_ASSERT_FATAL(log != NULL);
	mk_pp(&pp, "delrec", dir);
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	filler = fill(log, p, false, fmq_wall_ms());
	end = filler + 1;
	CU_ASSERT_EQUAL(start_of(p), 0);

	/* cleanup.policy=compact alone: Kafka refuses. */
	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, 10, &low), -EPERM);
	CU_ASSERT_EQUAL(low, 0);
	CU_ASSERT_EQUAL(start_of(p), 0);

	fmq_log_part_get_config(p, &pp);
	pp.cleanup = FMQ_LOG_CLEANUP_COMPACT | FMQ_LOG_CLEANUP_DELETE;
	pp.retention_ms = -1;           /* only the log start deletes */
	CU_ASSERT_EQUAL(fmq_log_part_set_config(p, &pp), 0);
	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, end + 1, &low),
			-ERANGE);
	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, -2, &low), -ERANGE);
	CU_ASSERT_EQUAL(start_of(p), 0);
	CU_ASSERT_EQUAL(read_at(p, 0), 0);

	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, 101, &low), 0);
	CU_ASSERT_EQUAL(low, 101);
	CU_ASSERT_EQUAL(start_of(p), 101);
	CU_ASSERT_EQUAL(read_at(p, 100), OUT_OF_RANGE);
	CU_ASSERT_EQUAL(read_at(p, 0), OUT_OF_RANGE);
	CU_ASSERT_EQUAL(read_at(p, 101), 0);
	/* A time lookup never answers below the start (Kafka searches from
	 * it), though the segments below are still there. */
	{
		int64_t off = -7, tsf;

		CU_ASSERT_EQUAL(fmq_log_offset_for_time(p, 0, &off, &tsf), 0);
		CU_ASSERT_EQUAL(off, 101);
	}
	/* Never backwards. */
	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, 50, &low), 0);
	CU_ASSERT_EQUAL(low, 101);
	CU_ASSERT_EQUAL(start_of(p), 101);

	/* Retention drops the segments wholly below 101, nothing else. */
	fmq_log_part_stats(p, &ps);
	nseg = ps.segments;
	CU_ASSERT(fmq_log_part_retention(p, fmq_wall_ms()) > 0);
	fmq_log_part_stats(p, &ps);
	CU_ASSERT(ps.segments < nseg);
	CU_ASSERT(ps.segments > 1);
	CU_ASSERT_EQUAL(start_of(p), 101);
	CU_ASSERT_EQUAL(read_at(p, 101), 0);
	CU_ASSERT_EQUAL(fmq_log_part_retention(p, fmq_wall_ms()), 0);

	/* The start survives a reopen, though the first segment that is
	 * left begins below it. */
	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	pp.dir = dir;
	pp.topic = "c";
	p = fmq_log_part_open(log, &pp);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(start_of(p), 101);
	CU_ASSERT_EQUAL(read_at(p, 100), OUT_OF_RANGE);
	CU_ASSERT_EQUAL(hwm(p), end);

	/* -1: up to the high watermark; the log is then empty. */
	CU_ASSERT_EQUAL(fmq_log_part_delete_records(p, -1, &low), 0);
	CU_ASSERT_EQUAL(low, end);
	CU_ASSERT_EQUAL(read_at(p, end - 1), OUT_OF_RANGE);
	fmq_log_stats(log, &st);
	CU_ASSERT_EQUAL(st.delete_records, 2);

	CU_ASSERT_EQUAL(fmq_log_part_close(p), 0);
	fmq_log_free(log);
	fmq_log_destroy_pool(hot);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	fmq_log_set_level(getenv("FMQ_TEST_VERBOSE") ? FMQ_LOG_DEBUG :
			  FMQ_LOG_ERR);
	snprintf(root, sizeof(root), "%s/fmq-compacttest-%d", tu_data_base(),
		 (int)getpid());
	snprintf(shm_root, sizeof(shm_root), "%s/fmq-compacttest-%d",
		 tu_shm_base(), (int)getpid());
	cc = fmq_codec_ctx_create(NULL);
	if (cc == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("log-compact", NULL, NULL);
	fmq_test_slow(CU_add_test(s, "keyed log compacts to the last value per key",
				  test_compact));
	fmq_test_slow(CU_add_test(s, "gzip batches rebuilt", test_compressed));
	fmq_test_slow(CU_add_test(s, "a reader holding the old segment",
				  test_reader_held));
	fmq_test_slow(CU_add_test(s, "crash at each step of the swap",
				  test_crash));
	CU_add_test(s, "DeleteRecords moves the log start",
		    test_delete_records);
	fails = fmq_test_run(argc, argv);
	tu_rm_rf(root);
	tu_rm_rf(shm_root);
	fmq_codec_ctx_free(cc);
	return fails;
}
