/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transaction coordinator (KIP-98) on the control lcore: transactional
 * ids and their producer id and epoch, InitProducerId with a transactional
 * id, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn, the
 * markers, timeouts and recovery. docs/architecture.md, "Transactions".
 *
 * State lives in memory and in <dir>/transactions.journal, kept as the
 * offset journal is (lib/ctrl/group/group_journal.c): a header, then
 * records "u32 length | u32 CRC-32C(payload) | payload", each
 * fdatasync'ed before the answer that depends on it. Payload:
 *
 *   TXN      u8 1 | str16 transactional id | i64 pid | i16 epoch |
 *            u8 state | i32 timeout ms | i64 start ms |
 *            u32 n | n x (str16 topic | i32 partition | i64 first | u8 done)
 *            u32 m | m x (str16 group | str16 topic | i32 partition |
 *                         i64 offset | i32 leader epoch | str16 metadata)
 *   ABORTED  u8 2 | str16 topic | i32 partition | i64 pid | i64 first |
 *            i64 last
 *
 * The newest TXN record of an id is its state. ABORTED records are the
 * partitions' aborted transactions index (Kafka's .txnindex), entered
 * again into each partition at start-up. Loading stops at the first torn
 * record and truncates there; compaction rewrites the live records.
 *
 * A transaction's partitions are written only by their owner lcores: the
 * coordinator sends each a marker (struct fmq_btxn_marker) and, once the
 * owner has appended it, lifts the partition's LSO bound. The bound of a
 * partition is the smallest "first" of the transactions that have it and
 * whose marker is not written; "first" is the partition's high watermark
 * when it was added, a lower bound of the transaction's first offset
 * there (the producer cannot write before it is added).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_malloc.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

#define COMP "txn"
#define J_NAME "transactions.journal"
#define J_MAGIC "FMQTXNJ1"
#define J_HDR 8u
#define REC_MAX (16u << 20)
#define R_TXN 1
#define R_ABORTED 2
#define RETRY_MS 200

enum tstate {
	TS_EMPTY = 0,
	TS_ONGOING,
	TS_PREP_COMMIT,
	TS_PREP_ABORT,
	TS_COMPLETE_COMMIT,
	TS_COMPLETE_ABORT,
};

static const char *const state_names[] = {
	"Empty", "Ongoing", "PrepareCommit", "PrepareAbort",
	"CompleteCommit", "CompleteAbort",
};

struct tpart {
	char topic[FMQ_TOPIC_NAME_MAX + 1];
	int32_t part;
	int64_t first;
	bool done;       /* marker written */
	bool sent;       /* marker in flight */
};

struct toff {
	char *group, *meta;
	char topic[FMQ_TOPIC_NAME_MAX + 1];
	int32_t part;
	int64_t offset;
	int32_t lepoch;
};

struct txn {
	struct txn *next;
	char *tid;
	int64_t pid;
	int16_t epoch;
	uint8_t state;
	int32_t timeout_ms;
	int64_t start_ms, update_ms;
	struct tpart *parts;
	uint32_t nparts, cparts;
	struct toff *offs;
	uint32_t noffs, coffs;
	uint32_t inflight;
	int64_t retry_ms;    /* resend failed markers after this */
};

struct tabort {
	char topic[FMQ_TOPIC_NAME_MAX + 1];
	int32_t part;
	struct fmq_log_aborted a;
};

struct ctrl_txns {
	struct txn *list;
	uint32_t n;
	struct tabort *ab;
	uint32_t nab, cab;
	int fd;
	uint64_t file_bytes, live_bytes;
	bool recovered;      /* start-up markers sent */
	int64_t next_tick_ms;    /* marker retries */
	int64_t next_expire_ms;  /* timeouts */
	/* scratch record */
	uint8_t *buf;
	size_t cap, len;
	bool nomem;
};

/* ------------------------------------------------------------ encoding */

static void
put(struct ctrl_txns *x, const void *p, size_t n)
{
	if (x->len + n > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 4096;
		uint8_t *b;

		while (cap < x->len + n)
			cap *= 2;
		b = realloc(x->buf, cap);
		if (b == NULL) {
			x->nomem = true;
			return;
		}
		x->buf = b;
		x->cap = cap;
	}
	if (n > 0)
		memcpy(x->buf + x->len, p, n);
	x->len += n;
}

#define PUTV(x, v) do { __typeof__(v) v_ = (v); put(x, &v_, sizeof(v_)); } \
	while (0)

static void
put_str(struct ctrl_txns *x, const char *s)
{
	size_t n = s == NULL ? 0 : strlen(s);

	PUTV(x, (uint16_t)n);
	put(x, s, n);
}

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static void
get(struct rd *r, void *dst, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p, n);
	r->p += n;
}

#define GETV(r, T) ({ T v_; get(r, &v_, sizeof(v_)); v_; })

/* A string into dst (cap bytes) or, with dst NULL, a malloc'ed copy. */
static char *
get_str(struct rd *r, char *dst, size_t cap)
{
	uint16_t n = GETV(r, uint16_t);
	char *s = dst;

	if (r->bad || (size_t)(r->end - r->p) < n ||
	    (dst != NULL && n >= cap)) {
		r->bad = true;
		return NULL;
	}
	if (s == NULL && (s = malloc((size_t)n + 1)) == NULL) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	return s;
}

static void
enc_txn(struct ctrl_txns *x, const struct txn *t)
{
	PUTV(x, (uint8_t)R_TXN);
	put_str(x, t->tid);
	PUTV(x, t->pid);
	PUTV(x, t->epoch);
	PUTV(x, t->state);
	PUTV(x, t->timeout_ms);
	PUTV(x, t->start_ms);
	PUTV(x, t->nparts);
	for (uint32_t i = 0; i < t->nparts; i++) {
		put_str(x, t->parts[i].topic);
		PUTV(x, t->parts[i].part);
		PUTV(x, t->parts[i].first);
		PUTV(x, (uint8_t)t->parts[i].done);
	}
	PUTV(x, t->noffs);
	for (uint32_t i = 0; i < t->noffs; i++) {
		put_str(x, t->offs[i].group);
		put_str(x, t->offs[i].topic);
		PUTV(x, t->offs[i].part);
		PUTV(x, t->offs[i].offset);
		PUTV(x, t->offs[i].lepoch);
		put_str(x, t->offs[i].meta);
	}
}

static void
enc_abort(struct ctrl_txns *x, const struct tabort *a)
{
	PUTV(x, (uint8_t)R_ABORTED);
	put_str(x, a->topic);
	PUTV(x, a->part);
	PUTV(x, a->a.pid);
	PUTV(x, a->a.first);
	PUTV(x, a->a.last);
}

/* ------------------------------------------------------------ the table */

static void
txn_clear_offs(struct txn *t)
{
	for (uint32_t i = 0; i < t->noffs; i++) {
		free(t->offs[i].group);
		free(t->offs[i].meta);
	}
	t->noffs = 0;
}

static void
txn_free(struct txn *t)
{
	txn_clear_offs(t);
	free(t->offs);
	free(t->parts);
	free(t->tid);
	free(t);
}

static struct txn *
txn_find(struct ctrl_txns *x, const char *tid, size_t len)
{
	for (struct txn *t = x->list; t != NULL; t = t->next)
		if (strlen(t->tid) == len && memcmp(t->tid, tid, len) == 0)
			return t;
	return NULL;
}

static struct txn *
txn_new(struct ctrl_txns *x, const char *tid, size_t len)
{
	struct txn *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->tid = malloc(len + 1)) == NULL) {
		free(t);
		return NULL;
	}
	memcpy(t->tid, tid, len);
	t->tid[len] = '\0';
	t->pid = -1;
	t->epoch = -1;
	t->next = x->list;
	x->list = t;
	x->n++;
	return t;
}

static struct tpart *
txn_part(struct txn *t, const char *topic, int32_t part)
{
	for (uint32_t i = 0; i < t->nparts; i++)
		if (t->parts[i].part == part &&
		    strcmp(t->parts[i].topic, topic) == 0)
			return &t->parts[i];
	return NULL;
}

static struct tpart *
txn_add_part(struct txn *t, const char *topic, int32_t part, int64_t first)
{
	struct tpart *p;

	if (t->nparts == t->cparts) {
		uint32_t cap = t->cparts ? t->cparts * 2 : 8;
		p = realloc(t->parts, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		t->parts = p;
		t->cparts = cap;
	}
	p = &t->parts[t->nparts++];
	memset(p, 0, sizeof(*p));
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->part = part;
	p->first = first;
	return p;
}

static bool
open_state(uint8_t s)
{
	return s == TS_ONGOING || s == TS_PREP_COMMIT || s == TS_PREP_ABORT;
}

static const struct fmq_bpart *
bpart_of(struct fmq_ctrl *c, const char *topic, int32_t part)
{
	const struct fmq_bmeta *m = fmq_broker_meta(c->b);
	const struct fmq_btopic *t = m == NULL ? NULL :
		fmq_bmeta_find(m, topic, (uint32_t)strlen(topic));

	if (t == NULL || part < 0 || (uint32_t)part >= t->nparts ||
	    t->parts[part].log == NULL)
		return NULL;
	return &t->parts[part];
}

static struct fmq_log_part *
log_of(struct fmq_ctrl *c, const char *topic, int32_t part)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, topic);

	if (ct == NULL || part < 0 || (uint32_t)part >= ct->nparts)
		return NULL;
	return ct->parts[part];
}

/* The partition's LSO bound: the oldest transaction still open on it. */
static void
publish_bound(struct fmq_ctrl *c, const char *topic, int32_t part)
{
	struct fmq_log_part *lp = log_of(c, topic, part);
	int64_t first = -1, pids[9], spids[8], sfirst[8];
	uint32_t n = 0, ns = 0;

	if (lp == NULL)
		return;
	for (struct txn *t = c->txn->list; t != NULL; t = t->next) {
		struct tpart *p;

		if (!open_state(t->state) ||
		    (p = txn_part(t, topic, part)) == NULL || p->done)
			continue;
		if (first < 0 || p->first < first)
			first = p->first;
		if (ns < RTE_DIM(spids)) {   /* DescribeProducers */
			spids[ns] = t->pid;
			sfirst[ns++] = p->first;
		}
		/* Only an ongoing transaction may still write here. */
		if (t->state == TS_ONGOING && n < RTE_DIM(pids))
			pids[n++] = t->pid;
	}
	fmq_log_txn_set_open(lp, first, pids, n);
	fmq_log_txn_set_starts(lp, spids, sfirst, ns);
}

/* ------------------------------------------------------------ journal */

static int
j_write(struct fmq_ctrl *c, bool sync)
{
	struct ctrl_txns *x = c->txn;
	uint8_t hdr[8];
	uint32_t len = (uint32_t)x->len, crc;
	ssize_t n;

	if (x->nomem) {
		x->nomem = false;
		x->len = 0;
		return -ENOMEM;
	}
	if (x->fd < 0)
		return -EIO;
	crc = fmq_log_crc32c(x->buf, x->len);
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &crc, 4);
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = 8 },
		{ .iov_base = x->buf, .iov_len = x->len },
	};
	n = writev(x->fd, iov, 2);
	x->len = 0;
	if (n != (ssize_t)(8 + len)) {
		c->st.txn_journal_errors++;
		return n < 0 ? -errno : -EIO;
	}
	x->file_bytes += (uint64_t)n;
	if (sync && fdatasync(x->fd) < 0) {
		c->st.txn_journal_errors++;
		return -errno;
	}
	return 0;
}

static int
j_txn(struct fmq_ctrl *c, struct txn *t)
{
	c->txn->len = 0;
	enc_txn(c->txn, t);
	return j_write(c, true);
}

/* Rewrite the journal as its live records (at open, and when it has
 * grown four times past them). */
static int
j_compact(struct fmq_ctrl *c)
{
	struct ctrl_txns *x = c->txn;
	char path[sizeof(c->dir) + 32];
	uint8_t *img = NULL;
	size_t ilen = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", c->dir, J_NAME);
	/* Build the image in x->buf record by record. */
	size_t icap = 0;
#define APPEND_REC() do { \
	uint32_t l_ = (uint32_t)x->len, c_ = fmq_log_crc32c(x->buf, x->len); \
	if (ilen + 8 + x->len > icap) { \
		size_t nc_ = RTE_MAX(icap * 2, ilen + 8 + x->len + 4096); \
		uint8_t *ni_ = realloc(img, nc_); \
		if (ni_ == NULL) { rc = -ENOMEM; goto out; } \
		img = ni_; icap = nc_; \
	} \
	memcpy(img + ilen, &l_, 4); memcpy(img + ilen + 4, &c_, 4); \
	memcpy(img + ilen + 8, x->buf, x->len); ilen += 8 + x->len; \
	x->len = 0; } while (0)

	/* Entries of partitions gone, or below their log start, are no
	 * longer needed by any reader. */
	uint32_t keep = 0;
	for (uint32_t i = 0; i < x->nab; i++) {
		struct fmq_log_part *lp = log_of(c, x->ab[i].topic,
						 x->ab[i].part);
		struct fmq_log_offsets lo;

		if (lp == NULL)
			continue;
		fmq_log_part_offsets(lp, &lo);
		if (x->ab[i].a.last < lo.log_start)
			continue;
		x->ab[keep++] = x->ab[i];
	}
	x->nab = keep;
	img = malloc(4096);
	if (img == NULL)
		return -ENOMEM;
	icap = 4096;
	memcpy(img, J_MAGIC, J_HDR);
	ilen = J_HDR;
	x->len = 0;
	for (struct txn *t = x->list; t != NULL; t = t->next) {
		enc_txn(x, t);
		if (x->nomem) {
			rc = -ENOMEM;
			goto out;
		}
		APPEND_REC();
	}
	for (uint32_t i = 0; i < x->nab; i++) {
		enc_abort(x, &x->ab[i]);
		if (x->nomem) {
			rc = -ENOMEM;
			goto out;
		}
		APPEND_REC();
	}
#undef APPEND_REC
	rc = fmq_file_replace(path, 0644, img, ilen);
	if (rc < 0)
		goto out;
	if (x->fd >= 0)
		close(x->fd);
	x->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (x->fd < 0)
		rc = -errno;
	x->file_bytes = ilen;
	x->live_bytes = ilen;
out:
	x->nomem = false;
	x->len = 0;
	free(img);
	return rc;
}

static int
ab_add(struct ctrl_txns *x, const char *topic, int32_t part,
       const struct fmq_log_aborted *a)
{
	if (x->nab == x->cab) {
		uint32_t cap = x->cab ? x->cab * 2 : 64;
		struct tabort *n = realloc(x->ab, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		x->ab = n;
		x->cab = cap;
	}
	snprintf(x->ab[x->nab].topic, sizeof(x->ab[0].topic), "%s", topic);
	x->ab[x->nab].part = part;
	x->ab[x->nab].a = *a;
	x->nab++;
	return 0;
}

static int
load_txn(struct ctrl_txns *x, struct rd *r)
{
	char tid[32768];
	struct txn *t;

	if (get_str(r, tid, sizeof(tid)) == NULL)
		return -EBADMSG;
	t = txn_find(x, tid, strlen(tid));
	if (t == NULL && (t = txn_new(x, tid, strlen(tid))) == NULL)
		return -ENOMEM;
	t->nparts = 0;
	txn_clear_offs(t);
	t->pid = GETV(r, int64_t);
	t->epoch = GETV(r, int16_t);
	t->state = GETV(r, uint8_t);
	t->timeout_ms = GETV(r, int32_t);
	t->start_ms = GETV(r, int64_t);
	uint32_t n = GETV(r, uint32_t);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		char topic[FMQ_TOPIC_NAME_MAX + 1];
		struct tpart *p;

		if (get_str(r, topic, sizeof(topic)) == NULL)
			return -EBADMSG;
		int32_t part = GETV(r, int32_t);
		int64_t first = GETV(r, int64_t);
		p = txn_add_part(t, topic, part, first);
		if (p == NULL)
			return -ENOMEM;
		p->done = GETV(r, uint8_t) != 0;
	}
	n = GETV(r, uint32_t);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		struct toff o;

		memset(&o, 0, sizeof(o));
		o.group = get_str(r, NULL, 0);
		if (o.group == NULL || get_str(r, o.topic,
					       sizeof(o.topic)) == NULL) {
			free(o.group);
			return -EBADMSG;
		}
		o.part = GETV(r, int32_t);
		o.offset = GETV(r, int64_t);
		o.lepoch = GETV(r, int32_t);
		o.meta = get_str(r, NULL, 0);
		if (o.meta == NULL || t->noffs == UINT32_MAX) {
			free(o.group);
			return -EBADMSG;
		}
		if (t->noffs == t->coffs) {
			uint32_t cap = t->coffs ? t->coffs * 2 : 8;
			struct toff *no = realloc(t->offs, cap * sizeof(*no));
			if (no == NULL) {
				free(o.group);
				free(o.meta);
				return -ENOMEM;
			}
			t->offs = no;
			t->coffs = cap;
		}
		t->offs[t->noffs++] = o;
	}
	if (r->bad || t->state > TS_COMPLETE_ABORT)
		return -EBADMSG;
	return 0;
}

static int
j_load(struct fmq_ctrl *c)
{
	struct ctrl_txns *x = c->txn;
	char path[sizeof(c->dir) + 32];
	struct stat st;
	uint8_t *img;
	size_t off = J_HDR;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", c->dir, J_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	img = malloc((size_t)st.st_size + 1);
	if (img == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (pread(fd, img, (size_t)st.st_size, 0) != st.st_size) {
		rc = -EIO;
		goto out;
	}
	if (st.st_size < J_HDR || memcmp(img, J_MAGIC, J_HDR) != 0) {
		FMQ_ERR(COMP, "%s: not a transaction journal", path);
		rc = -EBADMSG;
		goto out;
	}
	while (off + 8 <= (size_t)st.st_size) {
		uint32_t len, crc;

		memcpy(&len, img + off, 4);
		memcpy(&crc, img + off + 4, 4);
		if (len == 0 || len > REC_MAX ||
		    off + 8 + len > (size_t)st.st_size ||
		    fmq_log_crc32c(img + off + 8, len) != crc)
			break;
		struct rd r = { img + off + 8, img + off + 8 + len, false };
		uint8_t type = GETV(&r, uint8_t);
		if (type == R_TXN) {
			rc = load_txn(x, &r);
		} else if (type == R_ABORTED) {
			struct tabort a;

			if (get_str(&r, a.topic, sizeof(a.topic)) == NULL) {
				rc = -EBADMSG;
			} else {
				a.part = GETV(&r, int32_t);
				a.a.pid = GETV(&r, int64_t);
				a.a.first = GETV(&r, int64_t);
				a.a.last = GETV(&r, int64_t);
				rc = r.bad ? -EBADMSG :
					ab_add(x, a.topic, a.part, &a.a);
			}
		} else {
			rc = -EBADMSG;
		}
		if (rc < 0)
			goto out;
		off += 8 + len;
	}
	if (off < (size_t)st.st_size)
		FMQ_WARN(COMP, "%s: torn tail at %zu of %jd bytes dropped",
			 path, off, (intmax_t)st.st_size);
out:
	free(img);
	close(fd);
	return rc;
}

static int
ab_cmp(const void *a, const void *b)
{
	const struct tabort *x = a, *y = b;
	int k = strcmp(x->topic, y->topic);

	if (k != 0)
		return k;
	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	return x->a.last < y->a.last ? -1 : x->a.last > y->a.last;
}

/* ------------------------------------------------------------ markers */

static void
send_markers(struct fmq_ctrl *c, struct txn *t, int64_t now_ms)
{
	bool commit = t->state == TS_PREP_COMMIT;

	for (uint32_t i = 0; i < t->nparts; i++) {
		struct tpart *p = &t->parts[i];
		const struct fmq_bpart *bp;
		struct fmq_bfwd *f;

		if (p->done || p->sent)
			continue;
		bp = bpart_of(c, p->topic, p->part);
		if (bp == NULL) {
			p->done = true;   /* the partition is gone */
			continue;
		}
		f = rte_zmalloc("fmq_txn_fwd", sizeof(*f), 0);
		if (f != NULL)
			f->marker = rte_zmalloc("fmq_txn_marker",
						sizeof(*f->marker), 0);
		if (f == NULL || f->marker == NULL) {
			fmq_bfwd_free(f);
			t->retry_ms = now_ms + RETRY_MS;
			continue;
		}
		f->lcore = bp->owner;
		f->api_key = -1;
		snprintf(f->marker->topic, sizeof(f->marker->topic), "%s",
			 p->topic);
		f->marker->partition = p->part;
		f->marker->log = bp->log;
		f->marker->pid = t->pid;
		f->marker->epoch = t->epoch;
		f->marker->commit = commit;
		f->marker->coord_epoch = 0;
		f->marker->first_off = p->first;
		f->marker->cookie = (uint64_t)(uintptr_t)t;
		p->sent = true;
		t->inflight++;
		c->st.txn_markers_sent++;
		fmq_broker_ctrl_respond(c->b, f);
	}
}

static bool
txn_live(struct ctrl_txns *x, const struct txn *t)
{
	for (struct txn *o = x->list; o != NULL; o = o->next)
		if (o == t)
			return true;
	return false;
}

/* The LSO of a partition moved up: its owner wakes the read_committed
 * fetches parked there (they woke at the marker, a moment too early). */
static void
send_wake(struct fmq_ctrl *c, const char *topic, int32_t part)
{
	const struct fmq_bpart *bp = bpart_of(c, topic, part);
	struct fmq_bfwd *f;

	if (bp == NULL)
		return;
	f = rte_zmalloc("fmq_txn_fwd", sizeof(*f), 0);
	if (f != NULL)
		f->marker = rte_zmalloc("fmq_txn_marker", sizeof(*f->marker),
					0);
	if (f == NULL || f->marker == NULL) {
		fmq_bfwd_free(f);
		return;   /* they wake at max_wait_ms */
	}
	f->lcore = bp->owner;
	f->api_key = -1;
	snprintf(f->marker->topic, sizeof(f->marker->topic), "%s", topic);
	f->marker->partition = part;
	f->marker->log = bp->log;
	f->marker->wake = true;
	fmq_broker_ctrl_respond(c->b, f);
}

/* Every marker written: the offsets of a commit become visible, the
 * transaction is complete, the LSO bounds lift. */
static void
complete(struct fmq_ctrl *c, struct txn *t, int64_t now_ms)
{
	bool commit = t->state == TS_PREP_COMMIT;

	for (uint32_t i = 0; commit && i < t->noffs; i++) {
		const struct toff *o = &t->offs[i];
		struct fmq_group_commit_part cp = {
			.topic = { o->topic, (int32_t)strlen(o->topic) },
			.partition = o->part,
			.offset = o->offset,
			.leader_epoch = o->lepoch,
			.metadata = { o->meta, (int32_t)strlen(o->meta) },
			.preset_error = 0,
		};
		struct fmq_group_commit_req cr = {
			.group_id = { o->group, (int32_t)strlen(o->group) },
			.generation_id = -1,
			.member_id = { "", 0 },
			.group_instance_id = { NULL, -1 },
			.retention_ms = -1,
			.commit_timestamp = -1,
			.parts = &cp,
			.n_parts = 1,
			.transactional = true,
		};
		/* Token 0: no one waits for this answer (ctrl_groups_emit
		 * drops it). */
		fmq_group_offset_commit(c->group, 0, &cr, now_ms);
	}
	/* The offsets are durable before the transaction is complete: a
	 * crash in between commits them again at start-up, never loses
	 * them. */
	if (commit && t->noffs > 0 && fmq_group_flush_needed(c->group) &&
	    fmq_group_flush(c->group, now_ms) < 0) {
		FMQ_WARN(COMP, "%s: offsets not durable; retrying", t->tid);
		t->retry_ms = now_ms + RETRY_MS;
		return;
	}
	txn_clear_offs(t);
	t->state = commit ? TS_COMPLETE_COMMIT : TS_COMPLETE_ABORT;
	t->update_ms = now_ms;
	if (commit)
		c->st.txn_committed++;
	else
		c->st.txn_aborted++;
	if (j_txn(c, t) < 0)
		FMQ_WARN(COMP, "%s: completion not journalled; the markers "
			 "are written again after a restart", t->tid);
	for (uint32_t i = 0; i < t->nparts; i++) {
		publish_bound(c, t->parts[i].topic, t->parts[i].part);
		send_wake(c, t->parts[i].topic, t->parts[i].part);
	}
}

void
ctrl_txn_marker_done(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	struct ctrl_txns *x = c->txn;
	struct fmq_btxn_marker *mk = f->marker;
	struct txn *t = (struct txn *)(uintptr_t)mk->cookie;
	int64_t now_ms = fmq_wall_ms();
	struct tpart *p;

	if (ctrl_txnmark_done(c, f))
		return;
	if (x == NULL || !txn_live(x, t) || t->pid != mk->pid ||
	    (p = txn_part(t, mk->topic, mk->partition)) == NULL || !p->sent) {
		fmq_bfwd_free(f);
		return;
	}
	p->sent = false;
	t->inflight--;
	if (mk->rc == 0 || mk->rc == -ENOENT ||
	    (mk->rc == -ENOMEM && mk->offset >= 0)) {
		if (!mk->commit && mk->offset >= 0) {
			struct fmq_log_aborted a = {
				.pid = mk->pid,
				.first = RTE_MIN(p->first, mk->offset),
				.last = mk->offset,
			};

			if (ab_add(x, p->topic, p->part, &a) == 0) {
				x->len = 0;
				enc_abort(x, &x->ab[x->nab - 1]);
				if (j_write(c, true) < 0)
					FMQ_WARN(COMP, "%s-%d: aborted "
						 "transaction not journalled",
						 p->topic, p->part);
			}
		}
		p->done = true;
	} else {
		FMQ_WARN(COMP, "%s-%d: marker for %s: %s; retrying", p->topic,
			 p->part, t->tid, strerror(-mk->rc));
		t->retry_ms = now_ms + RETRY_MS;
	}
	fmq_bfwd_free(f);
	if (t->inflight == 0 && t->retry_ms == 0) {
		bool all = true;

		for (uint32_t i = 0; i < t->nparts; i++)
			all = all && t->parts[i].done;
		if (all && (t->state == TS_PREP_COMMIT ||
			    t->state == TS_PREP_ABORT))
			complete(c, t, now_ms);
	}
}

/* PrepareCommit / PrepareAbort is durable: write the markers. */
static int
prepare(struct fmq_ctrl *c, struct txn *t, bool commit, int64_t now_ms)
{
	int rc;

	t->state = commit ? TS_PREP_COMMIT : TS_PREP_ABORT;
	t->update_ms = now_ms;
	rc = j_txn(c, t);
	if (rc < 0)
		return rc;
	/* Its producer may no longer write to the partitions. */
	for (uint32_t i = 0; i < t->nparts; i++)
		publish_bound(c, t->parts[i].topic, t->parts[i].part);
	t->retry_ms = 0;
	send_markers(c, t, now_ms);
	if (t->inflight == 0 && t->retry_ms == 0)
		complete(c, t, now_ms);
	return 0;
}

/* ------------------------------------------------------------ requests */

static struct txn *
find_kstr(struct fmq_ctrl *c, struct fmq_kafka_str s)
{
	return s.len > 0 ? txn_find(c->txn, s.p, (size_t)s.len) : NULL;
}

/* Kafka's ACL checks (all true with the authorizer off). */
static bool
tid_ok(struct fmq_ctrl *c, const struct fmq_bfwd *f, struct fmq_kafka_str s)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_TRANSACTIONAL_ID, s.p,
			      s.len > 0 ? (size_t)s.len : 0, FMQ_ACL_OP_WRITE);
}

static bool
group_read_ok(struct fmq_ctrl *c, const struct fmq_bfwd *f,
	      struct fmq_kafka_str s)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_GROUP, s.p,
			      s.len > 0 ? (size_t)s.len : 0, FMQ_ACL_OP_READ);
}

/* Kafka's checks of a transactional request's producer. */
static int16_t
check_producer(const struct txn *t, int64_t pid, int16_t epoch)
{
	if (t == NULL || t->pid != pid)
		return FMQ_KERR_INVALID_PRODUCER_ID_MAPPING;
	if (epoch != t->epoch)
		return FMQ_KERR_PRODUCER_FENCED;
	if (t->state == TS_PREP_COMMIT || t->state == TS_PREP_ABORT)
		return FMQ_KERR_CONCURRENT_TRANSACTIONS;
	return 0;
}

static void
begin(struct fmq_ctrl *c, struct txn *t, int64_t now_ms)
{
	if (t->state == TS_ONGOING)
		return;
	t->state = TS_ONGOING;
	t->nparts = 0;
	txn_clear_offs(t);
	t->start_ms = now_ms;
	c->st.txn_begun++;
}

void
ctrl_txn_init_pid(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_init_producer_id_req *req = reqp;
	struct fmq_kafka_init_producer_id_resp resp;
	int64_t now_ms = fmq_wall_ms();
	struct txn *t;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.producer_id = -1;
	resp.producer_epoch = -1;
	if (req->transactional_id.len == 0) {
		resp.error_code = FMQ_KERR_INVALID_REQUEST;
		goto out;
	}
	if (!tid_ok(c, f, req->transactional_id)) {
		resp.error_code = FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		goto out;
	}
	if (c->cl != NULL || c->txn == NULL) {
		/* Transactions are served on a single node only. */
		resp.error_code = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		goto out;
	}
	if (req->transaction_timeout_ms <= 0 ||
	    (uint64_t)req->transaction_timeout_ms >
	    c->cfg->transaction_max_timeout_ms) {
		resp.error_code = FMQ_KERR_INVALID_TRANSACTION_TIMEOUT;
		goto out;
	}
	t = find_kstr(c, req->transactional_id);
	if (t == NULL) {
		int64_t pid = ctrl_alloc_pid(c);

		if (pid < 0) {
			resp.error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
			goto out;
		}
		t = txn_new(c->txn, req->transactional_id.p,
			    (size_t)req->transactional_id.len);
		if (t == NULL) {
			resp.error_code = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
			goto out;
		}
		t->pid = pid;
		t->epoch = 0;
		t->state = TS_EMPTY;
	} else {
		if (t->state == TS_PREP_COMMIT || t->state == TS_PREP_ABORT) {
			resp.error_code = FMQ_KERR_CONCURRENT_TRANSACTIONS;
			goto out;
		}
		/* KIP-360: a producer that names itself must be current. */
		if (f->api_version >= 3 && req->producer_id >= 0 &&
		    (req->producer_id != t->pid ||
		     req->producer_epoch != t->epoch)) {
			resp.error_code = FMQ_KERR_PRODUCER_FENCED;
			goto out;
		}
		if (t->state != TS_ONGOING && t->epoch >= INT16_MAX - 1) {
			/* Epochs exhausted: the id moves to a new producer
			 * id (an ongoing transaction is aborted first). */
			int64_t pid = ctrl_alloc_pid(c);

			if (pid < 0) {
				resp.error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
				goto out;
			}
			t->pid = pid;
			t->epoch = -1;
		}
		if (t->epoch < INT16_MAX)
			t->epoch++;
		if (t->state == TS_ONGOING) {
			/* A new instance fences the old one and aborts its
			 * transaction; it retries until that is done. */
			if (prepare(c, t, false, now_ms) < 0)
				resp.error_code =
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
			else
				resp.error_code =
					FMQ_KERR_CONCURRENT_TRANSACTIONS;
			goto out;
		}
	}
	t->timeout_ms = req->transaction_timeout_ms;
	t->update_ms = now_ms;
	if (j_txn(c, t) < 0) {
		resp.error_code = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
		goto out;
	}
	resp.producer_id = t->pid;
	resp.producer_epoch = t->epoch;
out:
	ctrl_respond(c, f, &resp);
}

static void
add_partitions(struct fmq_ctrl *c, struct fmq_bfwd *f,
	       const struct fmq_kafka_add_partitions_to_txn_req *req)
{
	struct fmq_kafka_add_partitions_to_txn_resp resp;
	int32_t nt = RTE_MAX(req->v3_and_below_topics_count, 0);
	struct txn *t = find_kstr(c, req->v3_and_below_transactional_id);
	int16_t err = !tid_ok(c, f, req->v3_and_below_transactional_id) ?
		FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED :
		check_producer(t, req->v3_and_below_producer_id,
			       req->v3_and_below_producer_epoch);
	int64_t now_ms = fmq_wall_ms();
	bool unknown = false, denied = false;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.results_by_topic_v3_and_below_count = nt;
	resp.results_by_topic_v3_and_below = fmq_kafka_arena_alloc(&c->arena,
		(size_t)(nt ? nt : 1) *
		sizeof(*resp.results_by_topic_v3_and_below));
	if (resp.results_by_topic_v3_and_below == NULL)
		goto nomem;
	/* Kafka: an unknown partition fails it, the others are not
	 * attempted. */
	for (int32_t i = 0; err == 0 && i < nt; i++) {
		const struct fmq_kafka_add_partitions_to_txn_req_add_partitions_to_txn_topic
			*it = &req->v3_and_below_topics[i];
		char *name = ctrl_cstr(c, it->name);

		if (name != NULL && !CTRL_ACL_TOPIC(c, f, name, WRITE))
			denied = true;
		for (int32_t j = 0; name != NULL &&
		     j < RTE_MAX(it->partitions_count, 0); j++)
			if (log_of(c, name, it->partitions[j]) == NULL)
				unknown = true;
	}
	for (int32_t i = 0; i < nt; i++) {
		const struct fmq_kafka_add_partitions_to_txn_req_add_partitions_to_txn_topic
			*it = &req->v3_and_below_topics[i];
		struct fmq_kafka_add_partitions_to_txn_resp_add_partitions_to_txn_topic_result
			*ot = &resp.results_by_topic_v3_and_below[i];
		int32_t np = RTE_MAX(it->partitions_count, 0);
		char *name = ctrl_cstr(c, it->name);

		bool deny_this = name != NULL && err == 0 &&
			!CTRL_ACL_TOPIC(c, f, name, WRITE);

		memset(ot, 0, sizeof(*ot));
		ot->name = it->name;
		ot->results_by_partition_count = np;
		ot->results_by_partition = fmq_kafka_arena_alloc(&c->arena,
			(size_t)(np ? np : 1) *
			sizeof(*ot->results_by_partition));
		if (name == NULL || ot->results_by_partition == NULL)
			goto nomem;
		for (int32_t j = 0; j < np; j++) {
			int32_t pi = it->partitions[j];
			struct fmq_log_part *lp = log_of(c, name, pi);
			int16_t e = err;

			memset(&ot->results_by_partition[j], 0,
			       sizeof(ot->results_by_partition[j]));
			ot->results_by_partition[j].partition_index = pi;
			if (e == 0 && denied)
				e = deny_this ?
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED :
					FMQ_KERR_OPERATION_NOT_ATTEMPTED;
			if (e == 0 && unknown)
				e = lp == NULL ?
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION :
					FMQ_KERR_OPERATION_NOT_ATTEMPTED;
			if (e == 0) {
				struct fmq_log_offsets lo;

				begin(c, t, now_ms);
				if (txn_part(t, name, pi) == NULL) {
					fmq_log_part_offsets(lp, &lo);
					if (txn_add_part(t, name, pi,
						lo.high_watermark) == NULL)
						e = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
				}
			}
			ot->results_by_partition[j].partition_error_code = e;
		}
	}
	if (err == 0 && !unknown && !denied && t != NULL) {
		t->update_ms = now_ms;
		if (j_txn(c, t) < 0) {
			for (int32_t i = 0; i < nt; i++) {
				struct fmq_kafka_add_partitions_to_txn_resp_add_partitions_to_txn_topic_result
					*ot = &resp.results_by_topic_v3_and_below[i];

				for (int32_t j = 0;
				     j < ot->results_by_partition_count; j++)
					ot->results_by_partition[j]
						.partition_error_code =
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
			}
		}
		/* Before the answer: the producer's first batch lands at or
		 * after the bound. */
		for (uint32_t i = 0; i < t->nparts; i++)
			publish_bound(c, t->parts[i].topic, t->parts[i].part);
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

static void
add_offsets(struct fmq_ctrl *c, struct fmq_bfwd *f,
	    const struct fmq_kafka_add_offsets_to_txn_req *req)
{
	struct fmq_kafka_add_offsets_to_txn_resp resp;
	struct txn *t = find_kstr(c, req->transactional_id);
	int16_t err = !tid_ok(c, f, req->transactional_id) ?
		FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED :
		!group_read_ok(c, f, req->group_id) ?
		FMQ_KERR_GROUP_AUTHORIZATION_FAILED :
		check_producer(t, req->producer_id, req->producer_epoch);

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	if (err == 0 && req->group_id.len <= 0)
		err = FMQ_KERR_INVALID_GROUP_ID;
	if (err == 0) {
		/* Kafka adds the group's __consumer_offsets partition; here
		 * the offsets themselves are kept with the transaction
		 * (TxnOffsetCommit). */
		bool was = t->state == TS_ONGOING;

		begin(c, t, fmq_wall_ms());
		if (!was && j_txn(c, t) < 0)
			err = FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	}
	resp.error_code = err;
	ctrl_respond(c, f, &resp);
}

static int
put_off(struct txn *t, const char *group, const char *topic, int32_t part,
	int64_t offset, int32_t lepoch, const char *meta)
{
	struct toff *o = NULL;

	for (uint32_t i = 0; i < t->noffs; i++)
		if (t->offs[i].part == part &&
		    strcmp(t->offs[i].topic, topic) == 0 &&
		    strcmp(t->offs[i].group, group) == 0)
			o = &t->offs[i];
	if (o == NULL) {
		if (t->noffs == t->coffs) {
			uint32_t cap = t->coffs ? t->coffs * 2 : 8;
			struct toff *no = realloc(t->offs, cap * sizeof(*no));

			if (no == NULL)
				return -ENOMEM;
			t->offs = no;
			t->coffs = cap;
		}
		o = &t->offs[t->noffs];
		memset(o, 0, sizeof(*o));
		o->group = strdup(group);
		if (o->group == NULL)
			return -ENOMEM;
		snprintf(o->topic, sizeof(o->topic), "%s", topic);
		o->part = part;
		t->noffs++;
	}
	char *m = strdup(meta);
	if (m == NULL)
		return -ENOMEM;
	free(o->meta);
	o->meta = m;
	o->offset = offset;
	o->lepoch = lepoch;
	return 0;
}

static void
txn_offset_commit(struct fmq_ctrl *c, struct fmq_bfwd *f,
		  const struct fmq_kafka_txn_offset_commit_req *req)
{
	struct fmq_kafka_txn_offset_commit_resp resp;
	struct txn *t = find_kstr(c, req->transactional_id);
	int16_t err = !group_read_ok(c, f, req->group_id) ?
		FMQ_KERR_GROUP_AUTHORIZATION_FAILED :
		check_producer(t, req->producer_id, req->producer_epoch);
	int32_t nt = RTE_MAX(req->topics_count, 0);
	char *group = ctrl_cstr(c, req->group_id);

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	if (group == NULL)
		goto nomem;
	if (err == 0 && req->group_id.len <= 0)
		err = FMQ_KERR_INVALID_GROUP_ID;
	if (err == 0 && t->state != TS_ONGOING)
		err = FMQ_KERR_INVALID_TXN_STATE;
	resp.topics_count = nt;
	resp.topics = fmq_kafka_arena_alloc(&c->arena,
		(size_t)(nt ? nt : 1) * sizeof(*resp.topics));
	if (resp.topics == NULL)
		goto nomem;
	for (int32_t i = 0; i < nt; i++) {
		const struct fmq_kafka_txn_offset_commit_req_txn_offset_commit_request_topic
			*it = &req->topics[i];
		struct fmq_kafka_txn_offset_commit_resp_txn_offset_commit_response_topic
			*ot = &resp.topics[i];
		int32_t np = RTE_MAX(it->partitions_count, 0);
		char *name = ctrl_cstr(c, it->name);

		memset(ot, 0, sizeof(*ot));
		ot->name = it->name;
		ot->partitions_count = np;
		ot->partitions = fmq_kafka_arena_alloc(&c->arena,
			(size_t)(np ? np : 1) * sizeof(*ot->partitions));
		if (name == NULL || ot->partitions == NULL)
			goto nomem;
		for (int32_t j = 0; j < np; j++) {
			const struct fmq_kafka_txn_offset_commit_req_txn_offset_commit_request_partition
				*ip = &it->partitions[j];
			char *meta = ctrl_cstr(c, ip->committed_metadata);
			int16_t e = err;

			memset(&ot->partitions[j], 0, sizeof(ot->partitions[j]));
			ot->partitions[j].partition_index = ip->partition_index;
			if (e == 0 && !CTRL_ACL_TOPIC(c, f, name, READ))
				e = FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
			if (e == 0 && log_of(c, name, ip->partition_index) ==
			    NULL)
				e = FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
			if (e == 0 && (meta == NULL ||
			    put_off(t, group, name, ip->partition_index,
				    ip->committed_offset,
				    ip->committed_leader_epoch, meta) < 0))
				e = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			ot->partitions[j].error_code = e;
		}
	}
	if (err == 0 && j_txn(c, t) < 0) {
		for (int32_t i = 0; i < nt; i++)
			for (int32_t j = 0; j < resp.topics[i].partitions_count;
			     j++)
				resp.topics[i].partitions[j].error_code =
					FMQ_KERR_COORDINATOR_NOT_AVAILABLE;
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

static void
end_txn(struct fmq_ctrl *c, struct fmq_bfwd *f,
	const struct fmq_kafka_end_txn_req *req)
{
	struct fmq_kafka_end_txn_resp resp;
	struct txn *t = find_kstr(c, req->transactional_id);
	int16_t err;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	if (!tid_ok(c, f, req->transactional_id))
		err = FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	else if (t == NULL || t->pid != req->producer_id)
		err = FMQ_KERR_INVALID_PRODUCER_ID_MAPPING;
	else if (req->producer_epoch != t->epoch)
		err = FMQ_KERR_PRODUCER_FENCED;
	else if (t->state == TS_ONGOING)
		err = prepare(c, t, req->committed, fmq_wall_ms()) < 0 ?
			FMQ_KERR_COORDINATOR_NOT_AVAILABLE : 0;
	else if (t->state == TS_PREP_COMMIT || t->state == TS_PREP_ABORT)
		err = (t->state == TS_PREP_COMMIT) == req->committed ?
			FMQ_KERR_CONCURRENT_TRANSACTIONS :
			FMQ_KERR_INVALID_TXN_STATE;
	else if (t->state == TS_COMPLETE_COMMIT ||
		 t->state == TS_COMPLETE_ABORT)
		/* A retry of the end that already happened succeeds. */
		err = (t->state == TS_COMPLETE_COMMIT) == req->committed ?
			0 : FMQ_KERR_INVALID_TXN_STATE;
	else
		err = FMQ_KERR_INVALID_TXN_STATE;
	resp.error_code = err;
	ctrl_respond(c, f, &resp);
}

static bool
tid_describe_ok(struct fmq_ctrl *c, const struct fmq_bfwd *f, const char *s)
{
	return ctrl_acl_allow(c, f, FMQ_ACL_RES_TRANSACTIONAL_ID, s, strlen(s),
			      FMQ_ACL_OP_DESCRIBE);
}

/* DescribeTransactions (65): one id each, as the coordinator sees it. */
static void
describe_txns(struct fmq_ctrl *c, struct fmq_bfwd *f,
	      const struct fmq_kafka_describe_transactions_req *req)
{
	struct fmq_kafka_describe_transactions_resp resp;
	int32_t n = RTE_MAX(req->transactional_ids_count, 0);

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.transaction_states_count = n;
	resp.transaction_states = fmq_kafka_arena_alloc(&c->arena,
		(size_t)(n ? n : 1) * sizeof(*resp.transaction_states));
	if (resp.transaction_states == NULL)
		goto nomem;
	for (int32_t i = 0; i < n; i++) {
		struct fmq_kafka_describe_transactions_resp_transaction_state *o =
			&resp.transaction_states[i];
		char *id = ctrl_cstr(c, req->transactional_ids[i]);
		struct txn *t = id == NULL ? NULL :
			txn_find(c->txn, id, strlen(id));

		if (id == NULL)
			goto nomem;
		memset(o, 0, sizeof(*o));
		o->transactional_id = req->transactional_ids[i];
		o->transaction_state = fmq_kafka_str("");
		o->producer_id = -1;
		o->producer_epoch = -1;
		o->transaction_timeout_ms = 0;
		o->transaction_start_time_ms = -1;
		if (!tid_describe_ok(c, f, id)) {
			o->error_code =
				FMQ_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
			continue;
		}
		if (t == NULL) {
			o->error_code = FMQ_KERR_TRANSACTIONAL_ID_NOT_FOUND;
			continue;
		}
		o->transaction_state = fmq_kafka_str(ctrl_txn_state_name(t->state));
		o->producer_id = t->pid;
		o->producer_epoch = t->epoch;
		o->transaction_timeout_ms = t->timeout_ms;
		o->transaction_start_time_ms = open_state(t->state) ?
			t->start_ms : -1;
		/* Its partitions, grouped by topic. */
		uint32_t np = open_state(t->state) ? t->nparts : 0;
		o->topics = fmq_kafka_arena_alloc(&c->arena,
			(size_t)(np ? np : 1) * sizeof(*o->topics));
		if (o->topics == NULL)
			goto nomem;
		o->topics_count = 0;
		for (uint32_t k = 0; k < np; k++) {
			struct fmq_kafka_describe_transactions_resp_topic_data
				*td = NULL;
			const struct tpart *tp = &t->parts[k];

			for (int32_t j = 0; j < o->topics_count; j++)
				if (strcmp(o->topics[j].topic.p, tp->topic) == 0)
					td = &o->topics[j];
			if (td == NULL) {
				td = &o->topics[o->topics_count++];
				memset(td, 0, sizeof(*td));
				td->topic = fmq_kafka_str(tp->topic);
				td->partitions = fmq_kafka_arena_alloc(
					&c->arena, np * sizeof(int32_t));
				if (td->partitions == NULL)
					goto nomem;
			}
			td->partitions[td->partitions_count++] = tp->part;
		}
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

/* ListTransactions (66): ids this principal may describe, filtered. */
static void
list_txns(struct fmq_ctrl *c, struct fmq_bfwd *f,
	  const struct fmq_kafka_list_transactions_req *req)
{
	struct fmq_kafka_list_transactions_resp resp;
	int32_t ns = RTE_MAX(req->state_filters_count, 0);
	int32_t np = RTE_MAX(req->producer_id_filters_count, 0);
	int64_t now_ms = fmq_wall_ms();
	uint32_t n = 0;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.unknown_state_filters = fmq_kafka_arena_alloc(&c->arena,
		(size_t)(ns ? ns : 1) * sizeof(*resp.unknown_state_filters));
	resp.transaction_states = fmq_kafka_arena_alloc(&c->arena,
		(size_t)(c->txn->n ? c->txn->n : 1) *
		sizeof(*resp.transaction_states));
	if (resp.unknown_state_filters == NULL ||
	    resp.transaction_states == NULL)
		goto nomem;
	resp.unknown_state_filters_count = 0;
	for (int32_t i = 0; i < ns; i++) {
		bool known = false;

		for (size_t s = 0; s < RTE_DIM(state_names); s++)
			known = known || (req->state_filters[i].len ==
				(int32_t)strlen(state_names[s]) &&
				memcmp(req->state_filters[i].p, state_names[s],
				       strlen(state_names[s])) == 0);
		if (!known)
			resp.unknown_state_filters[
				resp.unknown_state_filters_count++] =
				req->state_filters[i];
	}
	for (struct txn *t = c->txn->list; t != NULL; t = t->next) {
		const char *st = ctrl_txn_state_name(t->state);
		bool ok = ns == 0, pok = np == 0;

		for (int32_t i = 0; i < ns && !ok; i++)
			ok = req->state_filters[i].len == (int32_t)strlen(st) &&
				memcmp(req->state_filters[i].p, st,
				       strlen(st)) == 0;
		for (int32_t i = 0; i < np && !pok; i++)
			pok = req->producer_id_filters[i] == t->pid;
		if (!ok || !pok || !tid_describe_ok(c, f, t->tid))
			continue;
		/* v1 (KIP-994): running at least duration_filter ms. */
		if (f->api_version >= 1 && req->duration_filter >= 0 &&
		    (!open_state(t->state) ||
		     now_ms - t->start_ms < req->duration_filter))
			continue;
		resp.transaction_states[n].transactional_id = fmq_kafka_str(t->tid);
		resp.transaction_states[n].producer_id = t->pid;
		resp.transaction_states[n].transaction_state = fmq_kafka_str(st);
		resp.transaction_states[n].unknown_tags = NULL;
		resp.transaction_states[n].n_unknown_tags = 0;
		n++;
	}
	resp.transaction_states_count = (int32_t)n;
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

bool
ctrl_txn_handle(struct fmq_ctrl *c, struct fmq_bfwd *f, void *req)
{
	bool ok = c->txn != NULL && c->cl == NULL;

	/* One line per API: its handler (the coordinator serves one node). */
#define TXN_API(api, fn) \
	case FMQ_KAFKA_API_##api: if (ok) fn(c, f, req); break;
	switch (f->api_key) {
	case FMQ_KAFKA_API_WRITE_TXN_MARKERS:
		/* The partition leader's side, cluster or not. */
		ctrl_txnmark_handle(c, f, req);
		return true;
	TXN_API(ADD_PARTITIONS_TO_TXN, add_partitions)
	TXN_API(ADD_OFFSETS_TO_TXN, add_offsets)
	TXN_API(END_TXN, end_txn)
	TXN_API(TXN_OFFSET_COMMIT, txn_offset_commit)
	TXN_API(DESCRIBE_TRANSACTIONS, describe_txns)
	TXN_API(LIST_TRANSACTIONS, list_txns)
	default:
		return false;
	}
#undef TXN_API
	if (!ok)
		ctrl_close_conn(c, f);
	return true;
}

/* ------------------------------------------------------------ life cycle */

int
ctrl_txn_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	struct ctrl_txns *x = calloc(1, sizeof(*x));
	int64_t now_ms = fmq_wall_ms();
	int rc;

	if (x == NULL) {
		snprintf(err, errlen, "transaction coordinator: out of memory");
		return -ENOMEM;
	}
	x->fd = -1;
	c->txn = x;
	rc = j_load(c);
	if (rc < 0) {
		snprintf(err, errlen, "%s/%s: %s", c->dir, J_NAME,
			 strerror(-rc));
		return rc;
	}
	/* The aborted transactions index of every partition, in marker
	 * order; those of partitions gone (or recreated: past their end)
	 * are dropped at the compaction below. */
	if (x->nab > 1)
		qsort(x->ab, x->nab, sizeof(*x->ab), ab_cmp);
	uint32_t keep = 0;
	for (uint32_t i = 0; i < x->nab; i++) {
		struct fmq_log_part *lp = log_of(c, x->ab[i].topic,
						 x->ab[i].part);
		struct fmq_log_offsets lo;

		if (lp == NULL)
			continue;
		fmq_log_part_offsets(lp, &lo);
		if (x->ab[i].a.last >= lo.high_watermark ||
		    x->ab[i].a.last < lo.log_start)
			continue;
		if (fmq_log_txn_restore(lp, &x->ab[i].a) < 0) {
			snprintf(err, errlen, "transaction index: out of "
				 "memory");
			return -ENOMEM;
		}
		x->ab[keep++] = x->ab[i];
	}
	x->nab = keep;
	/* Open transactions: a producer that was mid-transaction is gone
	 * with its session; abort (fencing it) what was ongoing, finish
	 * what was prepared. Markers go out at the first poll. */
	for (struct txn *t = x->list; t != NULL; t = t->next) {
		t->update_ms = now_ms;
		if (t->state == TS_ONGOING) {
			if (t->epoch < INT16_MAX)
				t->epoch++;
			t->state = TS_PREP_ABORT;
		}
		for (uint32_t i = 0; i < t->nparts; i++)
			t->parts[i].sent = false;
	}
	rc = j_compact(c);
	if (rc < 0) {
		snprintf(err, errlen, "%s/%s: %s", c->dir, J_NAME,
			 strerror(-rc));
		return rc;
	}
	for (struct txn *t = x->list; t != NULL; t = t->next)
		for (uint32_t i = 0; open_state(t->state) && i < t->nparts;
		     i++)
			publish_bound(c, t->parts[i].topic, t->parts[i].part);
	return 0;
}

void
ctrl_txn_poll(struct fmq_ctrl *c, int64_t now_ms)
{
	struct ctrl_txns *x = c->txn;

	ctrl_txnmark_poll(c, now_ms);
	if (x == NULL || c->cl != NULL)
		return;
	if (!x->recovered) {
		x->recovered = true;
		for (struct txn *t = x->list; t != NULL; t = t->next) {
			if (t->state != TS_PREP_COMMIT &&
			    t->state != TS_PREP_ABORT)
				continue;
			c->st.txn_recovered++;
			send_markers(c, t, now_ms);
			if (t->inflight == 0 && t->retry_ms == 0)
				complete(c, t, now_ms);
		}
	}
	if (now_ms < x->next_tick_ms)
		return;
	x->next_tick_ms = now_ms + RETRY_MS;
	bool expire = now_ms >= x->next_expire_ms;
	if (expire)
		x->next_expire_ms = now_ms + (int64_t)
		c->cfg->transaction_abort_timed_out_transaction_cleanup_interval_ms;
	for (struct txn *t = x->list; t != NULL; t = t->next) {
		if (t->retry_ms != 0 && now_ms >= t->retry_ms) {
			t->retry_ms = 0;
			send_markers(c, t, now_ms);
			if (t->inflight == 0 && t->retry_ms == 0)
				complete(c, t, now_ms);
		}
		if (expire && t->state == TS_ONGOING &&
		    now_ms - t->start_ms > t->timeout_ms) {
			/* Abandoned: fence the producer, abort. */
			FMQ_INFO(COMP, "%s: transaction timed out after %d ms; "
				 "aborting", t->tid, t->timeout_ms);
			int16_t e0 = t->epoch;

			c->st.txn_timed_out++;
			if (t->epoch < INT16_MAX)
				t->epoch++;
			if (prepare(c, t, false, now_ms) < 0) {
				t->epoch = e0;
				t->state = TS_ONGOING;
			}
		}
	}
	if (x->file_bytes > (1u << 20) && x->file_bytes > 4 * x->live_bytes &&
	    j_compact(c) < 0)
		c->st.txn_journal_errors++;
}

void
ctrl_txn_close(struct fmq_ctrl *c)
{
	struct ctrl_txns *x = c->txn;

	ctrl_txnmark_close(c);
	if (x == NULL)
		return;
	while (x->list != NULL) {
		struct txn *t = x->list;

		x->list = t->next;
		txn_free(t);
	}
	if (x->fd >= 0)
		close(x->fd);
	free(x->ab);
	free(x->buf);
	free(x);
	c->txn = NULL;
}

void
ctrl_txn_metrics(struct fmq_metrics_out *out, const struct fmq_ctrl *c)
{
	uint64_t open = 0;

	if (c->txn != NULL)
		for (const struct txn *t = c->txn->list; t != NULL;
		     t = t->next)
			open += open_state(t->state);
	fmq_metrics_one(out, "fluxmq_transactions_open", "gauge",
			"Transactions ongoing or being completed", open);
	fmq_metrics_one(out, "fluxmq_transactional_ids", "gauge",
			"Transactional ids the coordinator knows",
			c->txn != NULL ? c->txn->n : 0);
}

const char *
ctrl_txn_state_name(int s)
{
	return s >= 0 && s < (int)RTE_DIM(state_names) ? state_names[s] :
		"Unknown";
}
