/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log compaction (cleanup.policy=compact), as Kafka's LogCleaner does it:
 * a map key -> latest offset is built over the dirty section of a
 * partition, then every closed, synced segment before the first
 * uncleanable one is rewritten keeping, per key, only the record the map
 * names (and records whose key the map does not know). Offsets never
 * change: batches keep their base offset and lastOffsetDelta (Kafka's
 * overrideLastOffset), only their record count, length, maxTimestamp and
 * CRC follow what is left. A batch left with no record is dropped, except
 * the last batch of a segment, which stays as an empty batch (Kafka's
 * RETAIN_EMPTY) so each segment still ends where its successor begins.
 *
 * It runs on the control thread in bounded slices (fmq_log_clean): the
 * same thread as the flusher and retention, so the segment ring's head,
 * the hot list's reclaim index and the flusher's state need no lock. Data
 * lcores only ever see a segment slot change while its state word is
 * SEG_DEAD (no reader pinned), for a few stores. docs/storage.md, "Log
 * compaction".
 *
 * The swap of a cleaned segment is crash-safe (recovered by
 * cleaner_recover_dir at open):
 *   1. write <base>.log.cleaned, .index.cleaned, .timeindex.cleaned and
 *      fdatasync them;
 *   2. rename .index.cleaned and .timeindex.cleaned to .swap, then
 *      .log.cleaned to .log.swap, fsync the directory: the commit;
 *   3. rename .log.swap over .log, then the index files, fsync the dir;
 *   4. open the new files and swap them into the segment slot.
 * A .log.cleaned found at open means step 2 did not finish: everything
 * cleaned/swap of that base is discarded. A .log.swap means it did: the
 * swap is completed. An .index.swap or .timeindex.swap alone belongs to a
 * step 3 that renamed the log: it is moved into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fmq_codec.h"
#include "log_priv.h"

#define CL_IO (1u << 20)            /* read and write buffers */
#define CL_MAP_DEFAULT (16u << 20)  /* offset map bytes */
#define CL_SWAP_WAIT_MS 2000        /* readers holding the old segment */

enum { CL_IDLE, CL_MAP, CL_CLEAN, CL_SWAP };

/* The offset map: open addressing over a 128-bit key hash (Kafka keeps a
 * 16-byte MD5), h1 == 0 marks a free slot. */
struct omap_ent {
	uint64_t h1;
	uint64_t h2;
	int64_t off;
};

struct cleaner {
	struct fmq_log_part *p;
	int phase;
	int64_t now_ms;
	uint64_t t0_ns;
	/* Segments [first, end) are cleaned; the map covers offsets
	 * [map_from, map_end). */
	uint64_t first;
	uint64_t end;
	int64_t end_off;
	int64_t map_from;
	int64_t map_end;
	bool map_full;
	uint64_t i;                 /* segment being read */
	uint64_t pos;               /* its next byte */
	uint64_t size;              /* its size */
	/* Map. */
	struct omap_ent *map;
	uint32_t map_mask;
	uint32_t map_n;
	uint32_t map_max;
	/* Input: whole batches from rpos..rpos + rlen of segment i. */
	uint8_t *rbuf;
	uint32_t rcap;
	uint64_t rpos;
	uint32_t rlen;
	/* Output segment. */
	int fd;
	uint8_t *wbuf;
	uint32_t wcap;
	uint32_t wlen;
	uint64_t wpos;              /* bytes of the output so far */
	uint8_t *bbuf;              /* a rebuilt batch */
	uint32_t bcap;
	uint8_t *dbuf;              /* decompressed records */
	uint32_t dcap;
	uint8_t *zbuf;              /* recompressed records */
	uint32_t zcap;
	struct seg ix;              /* index entries of the output */
	bool drop_tombstones;
	struct fmq_codec_ctx *codec;
	/* Round. */
	uint64_t removed;
	uint64_t tombs;
	uint64_t swap_wait_until;
	struct seg ns;              /* the new files, waiting for readers */
	int crash_at;               /* test hook: stop after this step */
	uint32_t rr;
};

/* ------------------------------------------------------------------------
 * Key hash and the map
 * ---------------------------------------------------------------------- */

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void
key_hash(const uint8_t *k, uint32_t n, uint64_t *h1, uint64_t *h2)
{
	uint64_t a = 0x9e3779b97f4a7c15ull ^ n, b = 0xcbf29ce484222325ull;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, k + i, 8);
		a = mix64(a ^ w) + 0x2545f4914f6cdd1dull;
		b = (b ^ w) * 0x100000001b3ull;
		b ^= b >> 29;
	}
	for (; i < n; i++) {
		a = (a ^ k[i]) * 0x9fb21c651e98df25ull;
		b = (b ^ k[i]) * 0x100000001b3ull;
	}
	*h1 = mix64(a) | 1;         /* never 0: that marks a free slot */
	*h2 = mix64(b ^ (a >> 7));
}

static struct omap_ent *
map_slot(struct cleaner *cl, uint64_t h1, uint64_t h2)
{
	uint32_t i = (uint32_t)h1 & cl->map_mask;

	for (;;) {
		struct omap_ent *e = &cl->map[i];

		if (e->h1 == 0 || (e->h1 == h1 && e->h2 == h2))
			return e;
		i = (i + 1) & cl->map_mask;
	}
}

/* Remember offset as the latest of its key; false when the map is full. */
static bool
map_put(struct cleaner *cl, const uint8_t *k, uint32_t n, int64_t off)
{
	uint64_t h1, h2;
	struct omap_ent *e;

	key_hash(k, n, &h1, &h2);
	e = map_slot(cl, h1, h2);
	if (e->h1 == 0) {
		if (cl->map_n >= cl->map_max)
			return false;
		e->h1 = h1;
		e->h2 = h2;
		cl->map_n++;
	}
	if (off > e->off)
		e->off = off;
	return true;
}

static int64_t
map_get(struct cleaner *cl, const uint8_t *k, uint32_t n)
{
	uint64_t h1, h2;
	struct omap_ent *e;

	key_hash(k, n, &h1, &h2);
	e = map_slot(cl, h1, h2);
	return e->h1 == 0 ? -1 : e->off;
}

/* ------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------- */

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void
cpath(const char *dir, int64_t base, const char *ext, const char *sfx,
      char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%020" PRId64 "%s%s", dir, base, ext,
		     sfx) >= (int)len)
		buf[0] = '\0';     /* the partition dir is checked shorter */
}

static const char *const cl_ext[] = { ".log", ".index", ".timeindex" };

/* Finish or discard a swap a crash interrupted (see the top). */
int
cleaner_recover_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int64_t *bases = NULL;
	uint32_t n = 0, cap = 0;
	char a[PATH_MAX], b[PATH_MAX];
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name, *dot;
		char *end;
		long long v;

		dot = strchr(nm, '.');
		if (dot == NULL || dot - nm != 20 ||
		    (strstr(dot, ".cleaned") == NULL &&
		     strstr(dot, ".swap") == NULL))
			continue;
		v = strtoll(nm, &end, 10);
		if (end != dot || v < 0)
			continue;
		if (n > 0 && bases[n - 1] == v)
			continue;
		if (n == cap) {
			uint32_t nc = cap ? cap * 2 : 8;
			int64_t *nb = realloc(bases, nc * sizeof(*nb));

			if (nb == NULL) {
				rc = -ENOMEM;
				break;
			}
			bases = nb;
			cap = nc;
		}
		bases[n++] = v;
	}
	closedir(d);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		int64_t base = bases[i];

		cpath(dir, base, ".log", ".cleaned", a, sizeof(a));
		if (exists(a)) {
			FMQ_WARN(LOG_COMP, "%s: segment %" PRId64 ": discarding "
				 "an unfinished clean", dir, base);
			for (unsigned int e = 0; e < RTE_DIM(cl_ext); e++) {
				cpath(dir, base, cl_ext[e], ".cleaned", a,
				      sizeof(a));
				unlink(a);
				cpath(dir, base, cl_ext[e], ".swap", a,
				      sizeof(a));
				unlink(a);
			}
			continue;
		}
		cpath(dir, base, ".log", ".swap", a, sizeof(a));
		if (exists(a)) {
			FMQ_WARN(LOG_COMP, "%s: segment %" PRId64 ": completing "
				 "the swap of a cleaned segment", dir, base);
			cpath(dir, base, ".log", "", b, sizeof(b));
			if (rename(a, b) != 0) {
				rc = -errno;
				break;
			}
		}
		/* Index files of a swap whose log is in place; without one
		 * the old index goes (recovery rebuilds it from the log). */
		for (unsigned int e = 1; e < RTE_DIM(cl_ext); e++) {
			cpath(dir, base, cl_ext[e], ".cleaned", a, sizeof(a));
			unlink(a);
			cpath(dir, base, cl_ext[e], ".swap", a, sizeof(a));
			cpath(dir, base, cl_ext[e], "", b, sizeof(b));
			if (exists(a) && rename(a, b) != 0) {
				rc = -errno;
				break;
			}
		}
	}
	free(bases);
	if (n > 0 && rc == 0)
		rc = fsync_dir(dir);
	return rc;
}

/* Where the next round starts: <dir>/cleaner-offset (Kafka keeps one
 * cleaner-offset-checkpoint per log dir; one file per partition keeps the
 * control thread from rewriting a shared file). */
void
cleaner_load_checkpoint(struct fmq_log_part *p)
{
	char path[PATH_MAX + 32];
	long long v;
	FILE *f;

	p->clean_off = atomic_load(&p->log_start);
	snprintf(path, sizeof(path), "%s/cleaner-offset", p->dir);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fscanf(f, "%lld", &v) == 1 && v > p->clean_off &&
	    v <= atomic_load(&p->next_offset))
		p->clean_off = v;
	fclose(f);
}

static int
write_checkpoint(struct fmq_log_part *p, int64_t off)
{
	char path[PATH_MAX + 32], line[32];
	int len;

	snprintf(path, sizeof(path), "%s/cleaner-offset", p->dir);
	len = snprintf(line, sizeof(line), "%" PRId64 "\n", off);
	return fmq_file_replace(path, 0644, line, (size_t)len);
}

/* ------------------------------------------------------------------------
 * The cleaner's memory
 * ---------------------------------------------------------------------- */

static int
grow(uint8_t **b, uint32_t *cap, uint32_t want)
{
	uint8_t *nb;
	uint32_t nc = *cap ? *cap : 4096;

	if (want <= *cap)
		return 0;
	while (nc < want)
		nc *= 2;
	nb = realloc(*b, nc);
	if (nb == NULL)
		return -ENOMEM;
	*b = nb;
	*cap = nc;
	return 0;
}

static struct cleaner *
cleaner_get(struct fmq_log *log)
{
	struct cleaner *cl = log->cl;
	uint64_t bytes = log->p.cleaner_map_bytes ? log->p.cleaner_map_bytes :
		CL_MAP_DEFAULT;
	uint32_t slots;

	if (cl != NULL)
		return cl;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return NULL;
	slots = rte_align32prevpow2((uint32_t)RTE_MIN(bytes /
		sizeof(struct omap_ent), (uint64_t)1 << 30));
	if (slots < 64)
		slots = 64;
	cl->map = calloc(slots, sizeof(*cl->map));
	cl->map_mask = slots - 1;
	cl->map_max = slots / 4 * 3;
	cl->fd = -1;
	struct fmq_codec_limits lim = {
		.max_input = log->p.codec_max_input,
		.max_output = log->p.codec_max_output,
	};
	cl->codec = fmq_codec_ctx_create(&lim);
	if (cl->map == NULL || cl->codec == NULL ||
	    grow(&cl->rbuf, &cl->rcap, CL_IO) < 0 ||
	    grow(&cl->wbuf, &cl->wcap, CL_IO) < 0) {
		free(cl->map);
		free(cl->rbuf);
		free(cl->wbuf);
		if (cl->codec != NULL)
			fmq_codec_ctx_free(cl->codec);
		free(cl);
		return NULL;
	}
	cl->crash_at = log->cl_crash_at;
	log->cl = cl;
	return cl;
}

static void
ix_free(struct seg *s)
{
	free(s->idx);
	free(s->tim);
	s->idx = s->tim = NULL;
}

/* Drop the round: the output files go, the segment slots are untouched. */
static void
cleaner_abort(struct cleaner *cl, const char *why)
{
	struct fmq_log_part *p = cl->p;
	char a[PATH_MAX];

	if (p != NULL && why != NULL)
		FMQ_WARN(LOG_COMP, "%s: log cleaner: round abandoned: %s",
			 p->dir, why);
	if (cl->fd >= 0) {
		close(cl->fd);
		cl->fd = -1;
	}
	if (p != NULL && cl->phase == CL_CLEAN) {
		for (unsigned int e = 0; e < RTE_DIM(cl_ext); e++) {
			cpath(p->dir, part_seg(p, cl->i)->base, cl_ext[e],
			      ".cleaned", a, sizeof(a));
			unlink(a);
		}
	}
	if (cl->phase == CL_SWAP)
		seg_close(&cl->ns);
	ix_free(&cl->ix);
	cl->p = NULL;
	cl->phase = CL_IDLE;
}

void
cleaner_forget(struct fmq_log_part *p)
{
	struct cleaner *cl = p->log->cl;

	if (cl != NULL && cl->p == p)
		cleaner_abort(cl, NULL);
}

void
cleaner_free(struct fmq_log *log)
{
	struct cleaner *cl = log->cl;

	if (cl == NULL)
		return;
	if (cl->p != NULL)
		cleaner_abort(cl, NULL);
	free(cl->map);
	free(cl->rbuf);
	free(cl->wbuf);
	free(cl->bbuf);
	free(cl->dbuf);
	free(cl->zbuf);
	fmq_codec_ctx_free(cl->codec);
	free(cl);
	log->cl = NULL;
}

/* ------------------------------------------------------------------------
 * Reading batches
 * ---------------------------------------------------------------------- */

/* The next whole batch of segment cl->i at cl->pos, through the read
 * buffer. 1 with *b, 0 at the segment's end, -errno. */
static int
next_batch(struct cleaner *cl, const uint8_t **b, struct batch_info *bi)
{
	struct seg *s = part_seg(cl->p, cl->i);
	uint32_t off, size;

	if (cl->pos >= cl->size)
		return 0;
	for (int pass = 0; pass < 3; pass++) {
		off = (uint32_t)(cl->pos - cl->rpos);
		if (cl->pos >= cl->rpos && cl->rlen >= off + RB_RECORDS) {
			size = rd_be32(cl->rbuf + off + RB_LENGTH);
			if (size > UINT32_MAX - RB_LOG_OVERHEAD)
				return -EBADMSG;
			size += RB_LOG_OVERHEAD;
			if (size < RB_RECORDS || cl->pos + size > cl->size)
				return -EBADMSG;
			if (cl->rlen >= off + size) {
				bool crc_failed;

				*b = cl->rbuf + off;
				if (batch_validate_stored(*b, size, bi,
							  &crc_failed) != 0)
					return -EBADMSG;
				return 1;
			}
			if (size > cl->rcap &&
			    grow(&cl->rbuf, &cl->rcap, size) < 0)
				return -ENOMEM;
		}
		/* Refill from pos. */
		uint64_t want = RTE_MIN((uint64_t)cl->rcap, cl->size - cl->pos);
		uint32_t got = 0;

		while (got < want) {
			ssize_t r = pread(s->fd_log, cl->rbuf + got,
					  want - got, (off_t)(cl->pos + got));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			got += (uint32_t)r;
		}
		cl->rpos = cl->pos;
		cl->rlen = got;
	}
	return -EBADMSG;
}

/* The records section of a batch, decompressed if needed. */
static int
records_of(struct cleaner *cl, const uint8_t *b, const struct batch_info *bi,
	   const uint8_t **rp, const uint8_t **re)
{
	int codec = bi->attributes & RB_ATTR_CODEC_MASK;
	struct fmq_codec_seg in = { b + RB_RECORDS, bi->size - RB_RECORDS };
	size_t n;
	int rc;

	if (codec == 0) {
		*rp = b + RB_RECORDS;
		*re = b + bi->size;
		return 0;
	}
	for (;;) {
		if (cl->dcap == 0 &&
		    grow(&cl->dbuf, &cl->dcap, 4 * bi->size + 4096) < 0)
			return -ENOMEM;
		rc = fmq_codec_decompress(cl->codec, codec, &in, 1, cl->dbuf,
					  cl->dcap, &n);
		if (rc != -ENOSPC)
			break;
		if (cl->dcap >= (1u << 30) ||
		    grow(&cl->dbuf, &cl->dcap, cl->dcap * 2) < 0)
			return -ENOMEM;
	}
	if (rc < 0)
		return rc;
	*rp = cl->dbuf;
	*re = cl->dbuf + n;
	return 0;
}

/* ------------------------------------------------------------------------
 * Phase 1: the offset map over the dirty section
 * ---------------------------------------------------------------------- */

static int
map_batch(struct cleaner *cl, const uint8_t *b, const struct batch_info *bi)
{
	const uint8_t *rp, *re;
	struct rec_view rv;
	int rc;

	if (bi->attributes & RB_ATTR_CONTROL)
		return 0;
	rc = records_of(cl, b, bi, &rp, &re);
	if (rc < 0)
		return rc;
	for (int32_t i = 0; i < bi->count && rp < re; i++) {
		if (batch_record_next(rp, re, &rv) != 0)
			return -EBADMSG;
		if (rv.key != NULL &&
		    !map_put(cl, rv.key, (uint32_t)rv.key_len,
			     bi->base_offset + rv.off_delta))
			return -ENOSPC;
		rp += rv.size;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Phase 2: rewrite
 * ---------------------------------------------------------------------- */

static int
out_flush(struct cleaner *cl)
{
	uint32_t done = 0;

	while (done < cl->wlen) {
		ssize_t w = pwrite(cl->fd, cl->wbuf + done, cl->wlen - done,
				   (off_t)(cl->wpos - cl->wlen + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (uint32_t)w;
	}
	cl->wlen = 0;
	return 0;
}

static int
ix_room(struct seg *s)
{
	if (s->idx_n + 1 >= s->idx_cap) {
		uint32_t nc = s->idx_cap ? s->idx_cap * 2 : 256;
		uint8_t *n = realloc(s->idx, (size_t)nc * IDX_ENTRY);

		if (n == NULL)
			return -ENOMEM;
		s->idx = n;
		s->idx_cap = nc;
		atomic_store(&s->idx_room, nc);
	}
	if (s->tim_n + 2 >= s->tim_cap) {
		uint32_t nc = s->tim_cap ? s->tim_cap * 2 : 256;
		uint8_t *n = realloc(s->tim, (size_t)nc * TIM_ENTRY);

		if (n == NULL)
			return -ENOMEM;
		s->tim = n;
		s->tim_cap = nc;
		atomic_store(&s->tim_room, nc - 1);
	}
	return 0;
}

/* Append a batch to the output, indexed as an append would be. */
static int
out_batch(struct cleaner *cl, const uint8_t *b, uint32_t size)
{
	struct batch_info bi;
	int rc;

	batch_peek(b, &bi);
	rc = ix_room(&cl->ix);
	if (rc < 0)
		return rc;
	seg_index_add(cl->p, &cl->ix, bi.base_offset + bi.last_delta,
		      (uint32_t)cl->wpos, bi.max_ts, size);
	while (size > 0) {
		uint32_t k;

		if (cl->wlen == cl->wcap) {
			rc = out_flush(cl);
			if (rc < 0)
				return rc;
		}
		k = RTE_MIN(size, cl->wcap - cl->wlen);
		memcpy(cl->wbuf + cl->wlen, b, k);
		cl->wlen += k;
		cl->wpos += k;
		b += k;
		size -= k;
	}
	return 0;
}

/* Does the record at off with this key survive? */
static bool
keep_record(struct cleaner *cl, const struct rec_view *rv, int64_t off)
{
	int64_t latest;

	if (rv->key == NULL)
		return true;        /* nothing to compare it with */
	latest = map_get(cl, rv->key, (uint32_t)rv->key_len);
	if (latest > off) {
		cl->removed++;
		return false;       /* a later record of the key exists */
	}
	if (rv->value_len < 0 && cl->drop_tombstones) {
		cl->tombs++;
		return false;       /* a tombstone past delete.retention.ms */
	}
	return true;
}

static int
clean_batch(struct cleaner *cl, const uint8_t *b, const struct batch_info *bi,
	    bool last)
{
	int codec = bi->attributes & RB_ATTR_CODEC_MASK;
	const uint8_t *rp, *re;
	struct rec_view rv;
	uint32_t kept = 0, len = 0, hdr = RB_RECORDS;
	int64_t max_ts = -1;
	uint8_t *o;
	int rc;

	if (bi->attributes & RB_ATTR_CONTROL)
		return out_batch(cl, b, bi->size);
	rc = records_of(cl, b, bi, &rp, &re);
	if (rc < 0)
		return rc;
	/* The kept records go to bbuf after the header. */
	rc = grow(&cl->bbuf, &cl->bcap, hdr + (uint32_t)(re - rp));
	if (rc < 0)
		return rc;
	o = cl->bbuf + hdr;
	for (int32_t i = 0; i < bi->count && rp < re; i++) {
		if (batch_record_next(rp, re, &rv) != 0)
			return -EBADMSG;
		if (keep_record(cl, &rv, bi->base_offset + rv.off_delta)) {
			memcpy(o + len, rv.rec, rv.size);
			len += rv.size;
			kept++;
			max_ts = RTE_MAX(max_ts, bi->first_ts + rv.ts_delta);
		}
		rp += rv.size;
	}
	if ((int32_t)kept == bi->count)
		return out_batch(cl, b, bi->size);  /* unchanged, as it was */
	if (kept == 0 && !last)
		return 0;                           /* the whole batch goes */
	if (kept > 0 && codec != 0) {
		struct fmq_codec_seg in = { o, len };
		size_t zn;

		rc = grow(&cl->zbuf, &cl->zcap,
			  (uint32_t)fmq_codec_compress_bound(codec, len) + 64);
		if (rc < 0)
			return rc;
		rc = fmq_codec_compress(cl->codec, codec, &in, 1, cl->zbuf,
					cl->zcap, &zn);
		if (rc < 0)
			return rc;
		rc = grow(&cl->bbuf, &cl->bcap, hdr + (uint32_t)zn);
		if (rc < 0)
			return rc;
		memcpy(cl->bbuf + hdr, cl->zbuf, zn);
		len = (uint32_t)zn;
	}
	if (kept == 0)
		len = 0;        /* an empty batch: no records, no codec */
	/* Header: the original's, with what changed (lastOffsetDelta and
	 * baseOffset stay: offsets are preserved). */
	memcpy(cl->bbuf, b, hdr);
	wr_be32(cl->bbuf + RB_LENGTH, hdr + len - RB_LOG_OVERHEAD);
	wr_be32(cl->bbuf + RB_COUNT, kept);
	if (kept == 0)
		wr_be16(cl->bbuf + RB_ATTRIBUTES,
			bi->attributes & ~RB_ATTR_CODEC_MASK);
	if (!(bi->attributes & RB_ATTR_TS_LOG_APPEND) && kept > 0)
		wr_be64(cl->bbuf + RB_MAX_TS, (uint64_t)max_ts);
	wr_be32(cl->bbuf + RB_CRC, batch_crc(cl->bbuf, hdr + len));
	return out_batch(cl, cl->bbuf, hdr + len);
}

/* ------------------------------------------------------------------------
 * Phase 3: swap
 * ---------------------------------------------------------------------- */

static int
write_file(const char *path, const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (fd < 0)
		return -errno;
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		b += w;
		n -= (size_t)w;
	}
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Steps 1 (the rest) to 3; the slot is swapped by swap_slot. */
static int
commit_files(struct cleaner *cl)
{
	struct fmq_log_part *p = cl->p;
	int64_t base = part_seg(p, cl->i)->base;
	char a[PATH_MAX], b[PATH_MAX];
	int rc;

	rc = out_flush(cl);
	if (rc == 0 && fdatasync(cl->fd) != 0)
		rc = -errno;
	close(cl->fd);
	cl->fd = -1;
	if (rc < 0)
		return rc;
	seg_seal(&cl->ix);          /* the last time index entry */
	cpath(p->dir, base, ".index", ".cleaned", a, sizeof(a));
	rc = write_file(a, cl->ix.idx, (size_t)cl->ix.idx_n * IDX_ENTRY);
	if (rc < 0)
		return rc;
	cpath(p->dir, base, ".timeindex", ".cleaned", a, sizeof(a));
	rc = write_file(a, cl->ix.tim, (size_t)cl->ix.tim_n * TIM_ENTRY);
	if (rc < 0)
		return rc;
	if (cl->crash_at == 1)
		return -ECANCELED;
	/* 2. Index files to .swap, then the log: the commit point. */
	for (int e = 1; e >= 0; e--) {
		unsigned int x = e == 1 ? 1 : 2;

		cpath(p->dir, base, cl_ext[x], ".cleaned", a, sizeof(a));
		cpath(p->dir, base, cl_ext[x], ".swap", b, sizeof(b));
		if (rename(a, b) != 0)
			return -errno;
	}
	if (cl->crash_at == 2)
		return -ECANCELED;
	cpath(p->dir, base, ".log", ".cleaned", a, sizeof(a));
	cpath(p->dir, base, ".log", ".swap", b, sizeof(b));
	if (rename(a, b) != 0)
		return -errno;
	rc = fsync_dir(p->dir);
	if (rc < 0)
		return rc;
	if (cl->crash_at == 3)
		return -ECANCELED;
	/* 3. Into place: the log first. */
	for (unsigned int x = 0; x < RTE_DIM(cl_ext); x++) {
		cpath(p->dir, base, cl_ext[x], ".swap", a, sizeof(a));
		cpath(p->dir, base, cl_ext[x], "", b, sizeof(b));
		if (rename(a, b) != 0)
			return -errno;
		if (x == 0 && cl->crash_at == 4)
			return -ECANCELED;
	}
	return fsync_dir(p->dir);
}

/* Step 4: open the new files, then exchange the slot's contents while no
 * reader holds it. 1 done, 0 try again later, -errno. */
static int
swap_slot(struct cleaner *cl)
{
	struct fmq_log_part *p = cl->p;
	struct seg *s = part_seg(p, cl->i);
	struct seg old;
	uint64_t zero = 0;

	memset(&old, 0, sizeof(old));

	if (!atomic_compare_exchange_strong(&s->state, &zero, SEG_DEAD))
		return 0;
	/* Readers spin on SEG_DEAD (read_durable) or skip the segment
	 * (time lookups) for these few stores. */
	old.fd_log = s->fd_log;
	old.fd_idx = s->fd_idx;
	old.fd_tim = s->fd_tim;
	old.idx = s->idx;
	old.tim = s->tim;
	old.idx_map = s->idx_map;
	old.tim_map = s->tim_map;
	s->fd_log = cl->ns.fd_log;
	s->fd_idx = cl->ns.fd_idx;
	s->fd_tim = cl->ns.fd_tim;
	s->idx = cl->ns.idx;
	s->tim = cl->ns.tim;
	s->idx_map = cl->ns.idx_map;
	s->tim_map = cl->ns.tim_map;
	s->idx_n = cl->ns.idx_n;
	s->tim_n = cl->ns.tim_n;
	s->idx_cap = cl->ns.idx_cap;
	s->tim_cap = cl->ns.tim_cap;
	atomic_store(&s->idx_room, cl->ns.idx_n);
	atomic_store(&s->tim_room, cl->ns.tim_n);
	atomic_store(&s->size, cl->wpos);
	atomic_store(&s->written, cl->wpos);
	atomic_store(&s->max_ts, atomic_load(&cl->ix.max_ts));
	s->max_ts_off = cl->ix.max_ts_off;
	/* Clear SEG_DEAD only (a reader that failed to pin meanwhile adds
	 * and removes its own 1). */
	atomic_fetch_sub_explicit(&s->state, SEG_DEAD, memory_order_release);
	seg_close(&old);
	return 1;
}

static int
open_new(struct cleaner *cl)
{
	struct fmq_log_part *p = cl->p;
	int rc;

	rc = seg_open_existing(p, &cl->ns, part_seg(p, cl->i)->base);
	if (rc < 0)
		return rc;
	cl->ns.idx_n = cl->ix.idx_n;
	cl->ns.tim_n = cl->ix.tim_n;
	cl->ns.sealed = false;
	atomic_store(&cl->ns.max_ts, -1);   /* seal adds nothing */
	seg_seal(&cl->ns);
	return 0;
}

/* ------------------------------------------------------------------------
 * Rounds
 * ---------------------------------------------------------------------- */

static int64_t
seg_ts(const struct seg *s)
{
	int64_t ts = atomic_load(&s->max_ts);

	return ts >= 0 ? ts : s->created_ms;
}

/* Pick the cleanable range of p; false if there is nothing worth it. */
static bool
plan(struct cleaner *cl, struct fmq_log_part *p, int64_t now_ms)
{
	uint64_t head = atomic_load(&p->seg_head);
	uint64_t tail = atomic_load(&p->seg_tail);
	int64_t synced = atomic_load(&p->synced_off);
	int64_t min_lag = __atomic_load_n(&p->pp.min_compaction_lag_ms,
					  __ATOMIC_RELAXED);
	int64_t max_lag = __atomic_load_n(&p->pp.max_compaction_lag_ms,
					  __ATOMIC_RELAXED);
	double ratio;
	uint64_t end = head, dirty_i, clean_b = 0, dirty_b = 0;
	int64_t hot_lo, from;

	__atomic_load(&p->pp.min_cleanable_ratio, &ratio, __ATOMIC_RELAXED);
	/* Closed, synced, old enough: never the active segment. */
	while (end + 1 < tail) {
		const struct seg *s = part_seg(p, end);
		const struct seg *nx = part_seg(p, end + 1);

		if (nx->base > synced || !s->sealed)
			break;
		if (min_lag > 0 && now_ms - seg_ts(s) < min_lag)
			break;
		end++;
	}
	if (end == head)
		return false;
	from = RTE_MAX(p->clean_off, atomic_load(&p->log_start));
	if (from >= part_seg(p, end)->base)
		return false;       /* nothing dirty */
	for (dirty_i = head; dirty_i + 1 < end &&
	     part_seg(p, dirty_i + 1)->base <= from; dirty_i++)
		clean_b += atomic_load(&part_seg(p, dirty_i)->size);
	for (uint64_t i = dirty_i; i < end; i++)
		dirty_b += atomic_load(&part_seg(p, i)->size);
	if (dirty_b == 0)
		return false;
	if ((double)dirty_b / (double)(clean_b + dirty_b) < ratio &&
	    !(max_lag < INT64_MAX &&
	      now_ms - seg_ts(part_seg(p, dirty_i)) > max_lag))
		return false;
	/* Not while hot chunks of those segments are in the pool: hot
	 * reads index into them by position. The synced ones go now. */
	hot_lo = part_release_hot_below(p, part_seg(p, end)->base);
	while (end > head && part_seg(p, end)->base > hot_lo)
		end--;
	if (end <= dirty_i || from >= part_seg(p, end)->base)
		return false;
	cl->p = p;
	cl->first = head;
	cl->end = end;
	cl->end_off = part_seg(p, end)->base;
	cl->map_from = from;
	cl->map_end = from;
	cl->map_full = false;
	cl->i = dirty_i;
	cl->pos = 0;
	cl->size = atomic_load(&part_seg(p, dirty_i)->size);
	cl->rlen = 0;
	cl->now_ms = now_ms;
	cl->t0_ns = fmq_now_ns();
	cl->removed = cl->tombs = 0;
	memset(cl->map, 0, ((size_t)cl->map_mask + 1) * sizeof(*cl->map));
	cl->map_n = 0;
	cl->phase = CL_MAP;
	FMQ_DEBUG(LOG_COMP, "%s: log cleaner: segments %" PRId64 "..%" PRId64
		  ", dirty from %" PRId64 " (%" PRIu64 " of %" PRIu64 " bytes)",
		  p->dir, part_seg(p, head)->base, cl->end_off, from, dirty_b,
		  clean_b + dirty_b);
	return true;
}

static int
start_segment(struct cleaner *cl)
{
	struct fmq_log_part *p = cl->p;
	struct seg *s = part_seg(p, cl->i);
	int64_t del = __atomic_load_n(&p->pp.delete_retention_ms,
				      __ATOMIC_RELAXED);
	char a[PATH_MAX];

	cl->pos = 0;
	cl->rlen = 0;
	cl->size = atomic_load(&s->size);
	cl->wpos = 0;
	cl->wlen = 0;
	ix_free(&cl->ix);
	memset(&cl->ix, 0, sizeof(cl->ix));
	cl->ix.base = s->base;
	cl->ix.fd_log = cl->ix.fd_idx = cl->ix.fd_tim = -1;
	atomic_init(&cl->ix.max_ts, -1);
	cl->ix.max_ts_off = s->base;
	cl->drop_tombstones = del >= 0 && cl->now_ms - seg_ts(s) > del;
	cpath(p->dir, s->base, ".log", ".cleaned", a, sizeof(a));
	cl->fd = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return cl->fd < 0 ? -errno : 0;
}

static void
finish_round(struct cleaner *cl)
{
	struct fmq_log_part *p = cl->p;
	struct fmq_log *log = p->log;
	int64_t next = cl->map_full ? cl->map_end : cl->end_off;
	int rc;

	p->clean_off = next;
	rc = write_checkpoint(p, next);
	if (rc < 0)
		FMQ_WARN(LOG_COMP, "%s: cleaner-offset: %s", p->dir,
			 strerror(-rc));
	STAT_ADD(log->cleaner_runs, 1);
	STAT_ADD(log->cleaner_records_removed, cl->removed);
	STAT_ADD(log->cleaner_tombstones_removed, cl->tombs);
	STAT_ADD(log->cleaner_ns, fmq_now_ns() - cl->t0_ns);
	FMQ_INFO(LOG_COMP, "%s: log cleaner: cleaned up to %" PRId64 ": %"
		 PRIu64 " records and %" PRIu64 " tombstones removed", p->dir,
		 next, cl->removed, cl->tombs);
	ix_free(&cl->ix);
	cl->p = NULL;
	cl->phase = CL_IDLE;
}

/* Work on the current round until about budget bytes were read. */
static int
step(struct cleaner *cl, uint64_t *budget)
{
	struct fmq_log_part *p = cl->p;
	struct fmq_log *log = p->log;
	const uint8_t *b;
	struct batch_info bi;
	int rc;

	/* Retention may have taken segments since the last slice. */
	if (atomic_load(&p->seg_head) > RTE_MIN(cl->first, cl->i)) {
		if (atomic_load(&p->seg_head) > cl->i) {
			cleaner_abort(cl, "retention deleted the segment");
			return 0;
		}
		cl->first = atomic_load(&p->seg_head);
	}
	switch (cl->phase) {
	case CL_MAP:
		while (*budget > 0) {
			rc = next_batch(cl, &b, &bi);
			if (rc < 0)
				goto fail;
			if (rc == 0) {
				if (++cl->i == cl->end) {
					cl->i = cl->first;
					cl->phase = CL_CLEAN;
					cl->fd = -1;
					return 0;
				}
				cl->pos = 0;
				cl->rlen = 0;
				cl->size = atomic_load(
					&part_seg(p, cl->i)->size);
				continue;
			}
			if (bi.base_offset + bi.last_delta >= cl->map_from) {
				rc = map_batch(cl, b, &bi);
				if (rc == -ENOSPC) {
					/* Full: what is mapped is the latest
					 * up to here; clean with it. */
					cl->map_full = true;
					cl->i = cl->first;
					cl->phase = CL_CLEAN;
					cl->fd = -1;
					return 0;
				}
				if (rc < 0)
					goto fail;
				cl->map_end = bi.base_offset + bi.last_delta +
					1;
			}
			cl->pos += bi.size;
			STAT_ADD(log->cleaner_read_bytes, bi.size);
			*budget -= RTE_MIN(*budget, (uint64_t)bi.size);
		}
		return 0;
	case CL_CLEAN:
		if (cl->fd < 0) {
			rc = start_segment(cl);
			if (rc < 0)
				goto fail;
		}
		while (*budget > 0) {
			rc = next_batch(cl, &b, &bi);
			if (rc < 0)
				goto fail;
			if (rc == 0)
				break;
			rc = clean_batch(cl, b, &bi,
					 cl->pos + bi.size >= cl->size);
			if (rc < 0)
				goto fail;
			cl->pos += bi.size;
			STAT_ADD(log->cleaner_read_bytes, bi.size);
			*budget -= RTE_MIN(*budget, (uint64_t)bi.size);
		}
		if (cl->pos < cl->size)
			return 0;
		rc = commit_files(cl);
		if (rc == -ECANCELED) {
			/* Test hook: leave the files as a crash would. */
			if (cl->fd >= 0)
				close(cl->fd);
			cl->fd = -1;
			ix_free(&cl->ix);
			cl->p = NULL;
			cl->phase = CL_IDLE;
			return -ECANCELED;
		}
		if (rc < 0)
			goto fail;
		STAT_ADD(log->cleaner_written_bytes, cl->wpos);
		rc = open_new(cl);
		if (rc < 0) {
			/* The files are in place; the slot still reads the
			 * old ones (their inodes live on while open) and
			 * the next open sees the new ones. */
			FMQ_ERR(LOG_COMP, "%s: log cleaner: cannot open the "
				"cleaned segment: %s", p->dir, strerror(-rc));
			cleaner_abort(cl, NULL);
			return rc;
		}
		cl->phase = CL_SWAP;
		cl->swap_wait_until = fmq_now_ns() +
			CL_SWAP_WAIT_MS * 1000000ull;
		/* fall through */
	case CL_SWAP:
		rc = swap_slot(cl);
		if (rc == 0) {
			if (fmq_now_ns() < cl->swap_wait_until) {
				STAT_ADD(log->cleaner_swap_waits, 1);
				*budget = 0;
				return 0;
			}
			/* A reader holds on: the old inode serves it, the
			 * files on disk are already the cleaned ones. The
			 * slot keeps the old view until the next open. */
			FMQ_WARN(LOG_COMP, "%s: log cleaner: segment %" PRId64
				 " still held by a reader; it keeps the "
				 "uncleaned view until the partition reopens",
				 p->dir, part_seg(p, cl->i)->base);
			seg_close(&cl->ns);
		}
		STAT_ADD(log->cleaner_segments, 1);
		ix_free(&cl->ix);
		if (++cl->i == cl->end) {
			finish_round(cl);
			return 0;
		}
		cl->phase = CL_CLEAN;
		cl->fd = -1;
		return 0;
	default:
		return 0;
	}
fail:
	FMQ_ERR(LOG_COMP, "%s: log cleaner: segment %" PRId64 ": %s", p->dir,
		part_seg(p, cl->i)->base, strerror(-rc));
	STAT_ADD(log->cleaner_errors, 1);
	cleaner_abort(cl, NULL);
	return rc;
}

int
fmq_log_clean(struct fmq_log *log, int64_t now_ms, uint64_t budget)
{
	struct cleaner *cl;
	int rc = 0;

	if (budget == 0)
		budget = CL_IO;
	cl = cleaner_get(log);
	if (cl == NULL)
		return -ENOMEM;
	if (cl->phase == CL_IDLE) {
		uint32_t n = log->p.max_partitions;

		for (uint32_t k = 0; k < n; k++) {
			struct fmq_log_part *p = log->parts[(cl->rr + k) % n];

			if (p == NULL || !(__atomic_load_n(&p->pp.cleanup,
					__ATOMIC_RELAXED) &
					FMQ_LOG_CLEANUP_COMPACT))
				continue;
			if (plan(cl, p, now_ms)) {
				cl->rr = (cl->rr + k + 1) % n;
				break;
			}
		}
		if (cl->phase == CL_IDLE)
			return 0;
	}
	while (budget > 0 && cl->phase != CL_IDLE && rc >= 0)
		rc = step(cl, &budget);
	if (rc < 0)
		return rc;
	return cl->phase != CL_IDLE;
}

int
fmq_log_part_clean(struct fmq_log_part *p, int64_t now_ms)
{
	struct fmq_log *log = p->log;
	struct cleaner *cl = cleaner_get(log);
	uint64_t before;
	int rc = 0;

	if (cl == NULL)
		return -ENOMEM;
	if (cl->phase != CL_IDLE && cl->p != p)
		return -EBUSY;
	before = STAT_GET(log->cleaner_segments);
	if (cl->phase == CL_IDLE && !plan(cl, p, now_ms))
		return 0;
	while (cl->phase != CL_IDLE && rc >= 0) {
		uint64_t budget = UINT64_MAX;

		rc = step(cl, &budget);
	}
	if (rc < 0)
		return rc;
	return (int)(STAT_GET(log->cleaner_segments) - before);
}

void
fmq_log_clean_crash_at(struct fmq_log *log, int step_no)
{
	log->cl_crash_at = step_no;
	if (log->cl != NULL)
		log->cl->crash_at = step_no;
}

/* ------------------------------------------------------------------------
 * DeleteRecords: the log start offset (control thread)
 * ---------------------------------------------------------------------- */

#define LOG_START_FILE "log-start-offset"

/* <dir>/log-start-offset (Kafka keeps log-start-offset-checkpoint per log
 * dir): the first offset a DeleteRecords left. Read at open. */
void
log_start_load(struct fmq_log_part *p)
{
	char path[PATH_MAX + 32];
	long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" LOG_START_FILE, p->dir);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fscanf(f, "%lld", &v) == 1 && v > atomic_load(&p->log_start)) {
		/* A start past the end (the end was lost with the hot pool
		 * after a power loss) is the end. */
		v = RTE_MIN(v, (long long)atomic_load(&p->next_offset));
		atomic_store(&p->log_start, v);
	}
	fclose(f);
}

int
fmq_log_part_delete_records(struct fmq_log_part *p, int64_t offset,
			    int64_t *low)
{
	int64_t hw = atomic_load_explicit(&p->next_offset,
					  memory_order_acquire);
	int64_t cur = atomic_load_explicit(&p->log_start,
					   memory_order_acquire);
	char path[PATH_MAX + 32], line[32];
	int len, rc;

	*low = cur;
	/* Kafka refuses it on a log that is not cleanup.policy=delete
	 * (POLICY_VIOLATION), before looking at the offset. */
	if (!(__atomic_load_n(&p->pp.cleanup, __ATOMIC_RELAXED) &
	      FMQ_LOG_CLEANUP_DELETE))
		return -EPERM;
	if (offset == -1)
		offset = hw;            /* Kafka: -1 is the high watermark */
	if (offset < 0 || offset > hw)
		return -ERANGE;
	if (offset <= cur)
		return 0;
	/* Durable before it is visible or acknowledged. */
	snprintf(path, sizeof(path), "%s/" LOG_START_FILE, p->dir);
	len = snprintf(line, sizeof(line), "%" PRId64 "\n", offset);
	rc = fmq_file_replace(path, 0644, line, (size_t)len);
	if (rc < 0) {
		FMQ_ERR(LOG_COMP, "%s: DeleteRecords to %" PRId64 ": %s",
			p->dir, offset, strerror(-rc));
		return rc;
	}
	atomic_store_explicit(&p->log_start, offset, memory_order_release);
	*low = offset;
	STAT_ADD(p->log->delete_records, 1);
	FMQ_INFO(LOG_COMP, "%s: log start moved to %" PRId64
		 " (DeleteRecords)", p->dir, offset);
	return 0;
}
