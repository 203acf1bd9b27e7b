/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idempotent producer state of a partition, as Kafka's ProducerStateManager
 * and ProducerAppendInfo keep it for non-transactional producers:
 *
 *  - per producer id: the epoch and the last 5 batches (first/last
 *    sequence, first/last offset, append time);
 *  - a batch whose epoch is the producer's and whose (first, last)
 *    sequence matches a cached batch is a duplicate: answered with the
 *    cached offsets, not appended;
 *  - an older epoch is INVALID_PRODUCER_EPOCH; a newer one must start at
 *    sequence 0; the same epoch must continue at last + 1 (wrapping after
 *    INT32_MAX), else OUT_OF_ORDER_SEQUENCE_NUMBER;
 *  - a producer the partition does not know (new, expired or forgotten)
 *    may start at any sequence (Kafka >= 2.5, KIP-360).
 *
 * A follower builds the same state from every batch it appends from its
 * leader (fmq_log_append_follower: the leader's offsets and sequences),
 * so that it answers a retried batch as the leader would once it leads;
 * truncation rebuilds it from the snapshots and the log that remain.
 *
 * The state survives restarts through snapshot files
 * "<20-digit offset>.producers" in the partition directory (the state
 * after every batch below that offset), written by the control thread at
 * each segment roll (the owner serializes, the flusher writes) and on
 * close, plus a replay of the batch headers of the log after the newest
 * usable snapshot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log_priv.h"

#define PS_FIRST_CAP 8u
#define SNAP_MAGIC "FMQPS001"
#define SNAP_HDR 28u            /* magic, version, count, offset */
#define SNAP_ENT 20u            /* pid, last_ms, epoch, nb, pad */
#define SNAP_BATCH 32u
#define SNAP_EXT ".producers"
#define SNAP_KEEP 2

/* DefaultRecordBatch.incrementSequence. */
static inline int32_t
seq_add(int32_t seq, int32_t inc)
{
	if (seq > INT32_MAX - inc)
		return inc - (INT32_MAX - seq) - 1;
	return seq + inc;
}

/* ProducerAppendInfo.inSequence. */
static inline bool
in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 ||
		(next == 0 && last == INT32_MAX);
}

void
ps_key_of(const uint8_t *b, struct ps_key *k)
{
	int32_t delta = (int32_t)rd_be32(b + RB_LAST_OFFSET_DELTA);

	k->pid = (int64_t)rd_be64(b + RB_PRODUCER_ID);
	k->epoch = (int16_t)rd_be16(b + RB_PRODUCER_EPOCH);
	k->first_seq = (int32_t)rd_be32(b + RB_BASE_SEQ);
	k->last_seq = k->first_seq < 0 || delta < 0 ? k->first_seq :
		seq_add(k->first_seq, delta);
	k->attributes = rd_be16(b + RB_ATTRIBUTES);
	/* A transaction marker carries its producer's id but no sequence
	 * (base sequence -1): it is not one of the producer's batches. The
	 * leader never counts its own markers; a follower appending the
	 * leader's and a replay of the log must not either, or the state
	 * a follower takes over with (or a restart rebuilds) ends in
	 * sequence -1 and the producer's next batch is out of order. */
	if (k->attributes & RB_ATTR_CONTROL)
		k->pid = -1;
}

static inline uint32_t
pid_hash(int64_t pid)
{
	uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> 32);
}

int
ps_init(struct pstate *ps, uint32_t max, int64_t expire_ms)
{
	memset(ps, 0, sizeof(*ps));
	ps->max = max > 0 ? max : 1024;
	ps->expire_ms = expire_ms > 0 ? expire_ms : 86400000;
	return 0;
}

void
ps_fini(struct pstate *ps)
{
	free(ps->ent);
	free(ps->slot);
	ps->ent = NULL;
	ps->slot = NULL;
	ps->n = ps->cap = 0;
}

static int32_t
ps_find(const struct pstate *ps, int64_t pid)
{
	uint32_t i;

	if (ps->n == 0)
		return -1;
	for (i = pid_hash(pid) & ps->smask;; i = (i + 1) & ps->smask) {
		uint32_t s = ps->slot[i];

		if (s == 0)
			return -1;
		if (ps->ent[s - 1].pid == pid)
			return (int32_t)(s - 1);
	}
}

/* Slot that holds entry index e (it must be there). */
static uint32_t
ps_slot_of(const struct pstate *ps, uint32_t e)
{
	uint32_t i = pid_hash(ps->ent[e].pid) & ps->smask;

	while (ps->slot[i] != e + 1)
		i = (i + 1) & ps->smask;
	return i;
}

static void
ps_slot_put(struct pstate *ps, uint32_t e)
{
	uint32_t i = pid_hash(ps->ent[e].pid) & ps->smask;

	while (ps->slot[i] != 0)
		i = (i + 1) & ps->smask;
	ps->slot[i] = e + 1;
}

/* Grow to hold at least want entries (slots stay at most half full). */
static int
ps_grow(struct pstate *ps, uint32_t want)
{
	uint32_t cap = ps->cap ? ps->cap : PS_FIRST_CAP, nslots;
	struct ps_entry *ne;
	uint32_t *ns;

	while (cap < want)
		cap *= 2;
	if (cap > ps->max)
		cap = ps->max;
	if (cap <= ps->cap)
		return 0;
	nslots = rte_align32pow2(2 * cap);
	ne = realloc(ps->ent, (size_t)cap * sizeof(*ne));
	if (ne == NULL)
		return -ENOMEM;
	ps->ent = ne;
	ns = calloc(nslots, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	free(ps->slot);
	ps->slot = ns;
	ps->smask = nslots - 1;
	ps->cap = cap;
	for (uint32_t e = 0; e < ps->n; e++)
		ps_slot_put(ps, e);
	return 0;
}

/* Remove entry e: backward-shift deletion of its slot, then the last
 * entry moves into its place. */
static void
ps_remove(struct pstate *ps, uint32_t e)
{
	uint32_t i = ps_slot_of(ps, e), j = i, last = ps->n - 1;

	for (;;) {
		uint32_t k, home;

		ps->slot[i] = 0;
		for (;;) {
			j = (j + 1) & ps->smask;
			if (ps->slot[j] == 0)
				goto moved;
			k = ps->slot[j] - 1;
			home = pid_hash(ps->ent[k].pid) & ps->smask;
			/* Can the entry at j move back to i? Only if its home
			 * is not cyclically within (i, j]. */
			if (i <= j ? (home <= i || home > j) :
				     (home <= i && home > j))
				break;
		}
		ps->slot[i] = ps->slot[j];
		i = j;
	}
moved:
	if (e != last) {
		uint32_t s = ps_slot_of(ps, last);

		ps->ent[e] = ps->ent[last];
		ps->slot[s] = e + 1;
	}
	__atomic_store_n(&ps->n, last, __ATOMIC_RELAXED);
}

/* The producer idle the longest: the one to forget when the table is
 * full (a scan, once per new producer on a full table). */
static uint32_t
ps_oldest(const struct pstate *ps)
{
	uint32_t best = 0;

	for (uint32_t e = 1; e < ps->n; e++)
		if (ps->ent[e].touch < ps->ent[best].touch)
			best = e;
	return best;
}

static struct ps_entry *
ps_insert(struct pstate *ps, int64_t pid, int64_t *evicted)
{
	struct ps_entry *x;

	if (ps->n == ps->max) {
		ps_remove(ps, ps_oldest(ps));
		(*evicted)++;
	}
	if (ps->n == ps->cap && ps_grow(ps, ps->n + 1) < 0) {
		if (ps->n == 0)
			return NULL;
		/* No memory to grow: forget the oldest instead. */
		ps_remove(ps, ps_oldest(ps));
		(*evicted)++;
	}
	x = &ps->ent[ps->n];
	memset(x, 0, sizeof(*x));
	x->pid = pid;
	ps_slot_put(ps, ps->n);
	__atomic_store_n(&ps->n, ps->n + 1, __ATOMIC_RELAXED);
	return x;
}

static inline const struct ps_batch *
ps_newest(const struct ps_entry *x)
{
	return &x->b[(x->head + x->nb - 1) % PS_BATCHES];
}

int16_t
ps_check(struct pstate *ps, const struct ps_key *k, int64_t now_ms,
	 const struct ps_batch **dup)
{
	const struct ps_entry *x;
	int32_t e;

	*dup = NULL;
	if (k->pid < 0)
		return 0;       /* not an idempotent producer */
	/* LogValidator.validateBatch for client batches. */
	if (k->first_seq < 0)
		return FMQ_KERR_INVALID_RECORD;
	e = ps_find(ps, k->pid);
	if (e < 0)
		return 0;       /* unknown producer: any sequence */
	x = &ps->ent[e];
	if (now_ms - x->last_ms > ps->expire_ms || x->nb == 0)
		return 0;       /* expired: as unknown */
	if (k->epoch == x->epoch) {
		for (uint32_t i = 0; i < x->nb; i++) {
			const struct ps_batch *b = &x->b[i];

			if (b->first_seq == k->first_seq &&
			    b->last_seq == k->last_seq) {
				*dup = b;
				return 0;
			}
		}
		return in_sequence(ps_newest(x)->last_seq, k->first_seq) ? 0 :
			FMQ_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	}
	if (k->epoch < x->epoch)
		return FMQ_KERR_INVALID_PRODUCER_EPOCH;
	/* A new epoch restarts the sequence. */
	return k->first_seq == 0 ? 0 : FMQ_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
}

int
ps_commit(struct pstate *ps, const struct ps_key *k, int64_t first_off,
	  int64_t last_off, int64_t ts, int64_t now_ms, bool replay,
	  int64_t *evicted)
{
	struct ps_entry *x;
	struct ps_batch *b;
	int32_t e;

	if (k->pid < 0)
		return 0;
	e = ps_find(ps, k->pid);
	if (e < 0) {
		x = ps_insert(ps, k->pid, evicted);
		if (x == NULL)
			return -ENOMEM;
		x->epoch = k->epoch;
	} else {
		x = &ps->ent[e];
		if (!replay && now_ms - x->last_ms > ps->expire_ms)
			x->nb = 0;      /* expired: starts afresh */
	}
	/* ProducerStateEntry.maybeUpdateProducerEpoch: a different epoch
	 * (replay may even see an older one) drops the cached batches. */
	if (x->epoch != k->epoch) {
		x->epoch = k->epoch;
		x->nb = 0;
	}
	if (x->nb == 0)
		x->head = 0;
	if (x->nb == PS_BATCHES) {
		b = &x->b[x->head];
		x->head = (uint8_t)((x->head + 1) % PS_BATCHES);
	} else {
		b = &x->b[(x->head + x->nb) % PS_BATCHES];
		x->nb++;
	}
	b->first_seq = k->first_seq;
	b->last_seq = k->last_seq;
	b->first_off = first_off;
	b->last_off = last_off;
	b->ts = ts;
	x->last_ms = now_ms;
	x->touch = ++ps->clock;
	return 0;
}

int
fmq_log_producer_lookup(const struct fmq_log_part *part, int64_t pid,
			struct fmq_log_producer_info *info)
{
	const struct pstate *ps = &part->ps;
	const struct ps_entry *x;
	int32_t e = ps_find(ps, pid);

	if (e < 0 || ps->ent[e].nb == 0)
		return -ENOENT;
	x = &ps->ent[e];
	info->epoch = x->epoch;
	info->last_seq = ps_newest(x)->last_seq;
	info->last_offset = ps_newest(x)->last_off;
	info->nbatches = x->nb;
	return 0;
}

/* ------------------------------------------------------------------------
 * Snapshots
 *
 * "FMQPS001", u32 version (1), u32 count, i64 offset, then per producer:
 * i64 pid, i64 last_ms, i16 epoch, u8 nb, u8 0, and nb batches oldest
 * first (i32 first_seq, i32 last_seq, i64 first_off, i64 last_off,
 * i64 ts); a CRC-32C of everything before it closes the file. Big-endian.
 * ---------------------------------------------------------------------- */

struct ps_snap *
ps_serialize(const struct pstate *ps, int64_t offset, int64_t now_ms)
{
	size_t max = SNAP_HDR + 4 + (size_t)ps->n *
		(SNAP_ENT + PS_BATCHES * SNAP_BATCH);
	struct ps_snap *s = malloc(sizeof(*s) + max);
	uint32_t count = 0;
	uint8_t *q;

	if (s == NULL)
		return NULL;
	s->offset = offset;
	q = s->data + SNAP_HDR;
	for (uint32_t e = 0; e < ps->n; e++) {
		const struct ps_entry *x = &ps->ent[e];

		/* Expired producers are not carried over. */
		if (x->nb == 0 || now_ms - x->last_ms > ps->expire_ms)
			continue;
		wr_be64(q, (uint64_t)x->pid);
		wr_be64(q + 8, (uint64_t)x->last_ms);
		wr_be16(q + 16, (uint16_t)x->epoch);
		q[18] = x->nb;
		q[19] = 0;
		q += SNAP_ENT;
		for (uint32_t i = 0; i < x->nb; i++) {
			const struct ps_batch *b =
				&x->b[(x->head + i) % PS_BATCHES];

			wr_be32(q, (uint32_t)b->first_seq);
			wr_be32(q + 4, (uint32_t)b->last_seq);
			wr_be64(q + 8, (uint64_t)b->first_off);
			wr_be64(q + 16, (uint64_t)b->last_off);
			wr_be64(q + 24, (uint64_t)b->ts);
			q += SNAP_BATCH;
		}
		count++;
	}
	memcpy(s->data, SNAP_MAGIC, 8);
	wr_be32(s->data + 8, 1);
	wr_be32(s->data + 12, count);
	wr_be64(s->data + 16, (uint64_t)offset);
	wr_be32(s->data + 24, 0);
	wr_be32(q, fmq_log_crc32c(s->data, (size_t)(q - s->data)));
	q += 4;
	s->len = (uint32_t)(q - s->data);
	return s;
}

/* Parse a snapshot into ps. -EBADMSG if it is not a whole, valid one. */
static int
ps_load(struct pstate *ps, const uint8_t *d, size_t len, int64_t offset)
{
	const uint8_t *q = d + SNAP_HDR, *end = d + len - 4;
	uint32_t count;
	int64_t evicted = 0;

	if (len < SNAP_HDR + 4 || memcmp(d, SNAP_MAGIC, 8) != 0 ||
	    rd_be32(d + 8) != 1 || (int64_t)rd_be64(d + 16) != offset ||
	    fmq_log_crc32c(d, len - 4) != rd_be32(end))
		return -EBADMSG;
	count = rd_be32(d + 12);
	for (uint32_t i = 0; i < count; i++) {
		struct ps_key k;
		int64_t last_ms;
		uint8_t nb;

		if (end - q < SNAP_ENT)
			return -EBADMSG;
		k.pid = (int64_t)rd_be64(q);
		last_ms = (int64_t)rd_be64(q + 8);
		k.epoch = (int16_t)rd_be16(q + 16);
		k.attributes = 0;
		nb = q[18];
		q += SNAP_ENT;
		if (nb == 0 || nb > PS_BATCHES ||
		    end - q < (ptrdiff_t)nb * SNAP_BATCH)
			return -EBADMSG;
		for (uint32_t j = 0; j < nb; j++, q += SNAP_BATCH) {
			k.first_seq = (int32_t)rd_be32(q);
			k.last_seq = (int32_t)rd_be32(q + 4);
			if (ps_commit(ps, &k, (int64_t)rd_be64(q + 8),
				      (int64_t)rd_be64(q + 16),
				      (int64_t)rd_be64(q + 24), last_ms, true,
				      &evicted) < 0)
				return -ENOMEM;
		}
	}
	return q == end ? 0 : -EBADMSG;
}

static int
cmp_i64_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x > y ? -1 : x < y;
}

/* Offsets of the snapshot files in dir, newest first. */
static int
list_snaps(const char *dir, int64_t **offs, uint32_t *n)
{
	size_t extlen = strlen(SNAP_EXT);
	uint32_t cap = 8;
	struct dirent *de;
	int64_t *v;
	DIR *d;

	*n = 0;
	*offs = NULL;
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		char *end;
		long long o;

		if (strlen(nm) != 20 + extlen || strcmp(nm + 20, SNAP_EXT) != 0)
			continue;
		o = strtoll(nm, &end, 10);
		if (end != nm + 20 || o < 0)
			continue;
		if (*n == cap) {
			int64_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (nv == NULL)
				break;
			v = nv;
			cap *= 2;
		}
		v[(*n)++] = o;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_i64_desc);
	*offs = v;
	return 0;
}

static void
snap_path(const char *dir, int64_t off, const char *suffix, char *buf,
	  size_t len)
{
	snprintf(buf, len, "%s/%020" PRId64 SNAP_EXT "%s", dir, off, suffix);
}

int
ps_snap_write(const char *dir, const struct ps_snap *s)
{
	char path[PATH_MAX + 64];
	int64_t *offs;
	uint32_t n;
	int rc;

	snap_path(dir, s->offset, "", path, sizeof(path));
	rc = fmq_file_replace(path, 0644, s->data, s->len);
	if (rc < 0)
		return rc;
	/* Keep the newest few: an older one is only needed if the log is
	 * cut below the newest (power loss). */
	if (list_snaps(dir, &offs, &n) == 0) {
		for (uint32_t i = SNAP_KEEP; i < n; i++) {
			snap_path(dir, offs[i], "", path, sizeof(path));
			unlink(path);
		}
		free(offs);
	}
	return 0;
}

static int
read_file(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t sz;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	sz = lseek(fd, 0, SEEK_END);
	if (sz < 0 || sz > (1 << 30)) {
		close(fd);
		return -EBADMSG;
	}
	*buf = malloc((size_t)sz + 1);
	if (*buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)sz) {
		ssize_t r = pread(fd, *buf + got, (size_t)sz - got,
				  (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return got == (size_t)sz ? 0 : -EIO;
}

/* Replay the producer batches of segment s from offset `from' on, reading
 * batch headers through a buffer (payloads are skipped). */
#define REPLAY_BUF (256u << 10)

static int
replay_seg(struct fmq_log_part *p, struct seg *s, int64_t from, uint8_t *buf,
	   uint64_t *batches)
{
	uint64_t size = atomic_load(&s->size);
	uint64_t pos = seg_index_lookup(s, from), bpos = 0, blen = 0;
	int64_t evicted = 0, now = fmq_wall_ms();

	if (pos > size)
		pos = 0;
	while (pos + RB_RECORDS <= size) {
		struct batch_info bi;
		struct ps_key k;
		const uint8_t *h;

		if (pos < bpos || pos + RB_RECORDS > bpos + blen) {
			uint64_t want = RTE_MIN((uint64_t)REPLAY_BUF,
						size - pos);
			ssize_t r = pread(s->fd_log, buf, want, (off_t)pos);

			if (r < (ssize_t)RB_RECORDS)
				return r < 0 ? -errno : -EIO;
			bpos = pos;
			blen = (uint64_t)r;
		}
		h = buf + (pos - bpos);
		batch_peek(h, &bi);
		if (bi.size < RB_RECORDS)
			return -EIO;
		if (bi.base_offset >= from) {
			ps_key_of(h, &k);
			if (ps_commit(&p->ps, &k, bi.base_offset,
				      bi.base_offset + bi.last_delta,
				      (bi.attributes & RB_ATTR_TS_LOG_APPEND) ?
				      bi.max_ts : -1, now, true,
				      &evicted) < 0)
				return -ENOMEM;
			(*batches)++;
		}
		pos += bi.size;
	}
	return 0;
}

int
ps_recover(struct fmq_log_part *p)
{
	struct fmq_log *log = p->log;
	int64_t end = atomic_load(&part_active_seg(p)->next_offset);
	int64_t start = part_seg(p, atomic_load(&p->seg_head))->base;
	int64_t *offs = NULL, from = start, snap_off = -1;
	uint64_t head = atomic_load(&p->seg_head);
	uint64_t tail = atomic_load(&p->seg_tail), batches = 0;
	char path[PATH_MAX + 64];
	uint8_t *buf = NULL;
	uint32_t n = 0;
	int rc;

	rc = ps_init(&p->ps, log->p.producer_state_max,
		     log->p.producer_expiration_ms);
	if (rc < 0)
		return rc;
	rc = list_snaps(p->dir, &offs, &n);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = 0;

		snap_path(p->dir, offs[i], "", path, sizeof(path));
		if (offs[i] > end) {
			/* The log was cut below it (power loss): it describes
			 * batches that are gone. */
			FMQ_WARN(LOG_COMP, "%s: producer snapshot at %" PRId64
				 " is past the log end %" PRId64 "; deleted",
				 p->dir, offs[i], end);
			unlink(path);
			continue;
		}
		if (snap_off >= 0)
			break;
		if (read_file(path, &buf, &len) == 0 &&
		    ps_load(&p->ps, buf, len, offs[i]) == 0) {
			snap_off = offs[i];
		} else {
			FMQ_WARN(LOG_COMP, "%s: producer snapshot %s is "
				 "unreadable; using an older one or the log",
				 p->dir, path);
			ps_fini(&p->ps);
			ps_init(&p->ps, log->p.producer_state_max,
				log->p.producer_expiration_ms);
		}
		free(buf);
		buf = NULL;
	}
	free(offs);
	if (snap_off > from)
		from = snap_off;
	buf = malloc(REPLAY_BUF);
	if (buf == NULL)
		return -ENOMEM;
	for (uint64_t i = head; i < tail && rc == 0; i++) {
		struct seg *s = part_seg(p, i);

		if (atomic_load(&s->next_offset) <= from)
			continue;
		rc = replay_seg(p, s, from, buf, &batches);
	}
	free(buf);
	if (rc < 0) {
		FMQ_ERR(LOG_COMP, "%s: replaying producer state: %s", p->dir,
			strerror(-rc));
		return rc;
	}
	if (p->ps.n > 0 || batches > 0)
		FMQ_INFO(LOG_COMP, "%s: %u producer(s) restored (snapshot at %"
			 PRId64 ", %" PRIu64 " batch(es) replayed up to %"
			 PRId64 ")", p->dir, p->ps.n, snap_off, batches, end);
	return 0;
}
