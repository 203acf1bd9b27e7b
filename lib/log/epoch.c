/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader epoch cache (fmq_epoch.h) and its checkpoint file; the
 * partition's hooks (rebuild at open, write when changed) are at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_epoch.h"
#include "fmq_util.h"
#include "log_priv.h"

void
fmq_epoch_init(struct fmq_epoch_cache *c)
{
	memset(c, 0, sizeof(*c));
}

int32_t
fmq_epoch_latest(const struct fmq_epoch_cache *c)
{
	struct fmq_epoch_cache *m = (struct fmq_epoch_cache *)(uintptr_t)c;
	uint32_t s, n;
	int32_t e;

	do {
		s = atomic_load_explicit(&m->seq, memory_order_acquire);
		n = atomic_load_explicit(&m->n, memory_order_relaxed);
		e = n > 0 ? atomic_load_explicit(&m->e[n - 1].epoch,
						 memory_order_relaxed) : -1;
		atomic_thread_fence(memory_order_acquire);
	} while ((s & 1) != 0 ||
		 s != atomic_load_explicit(&m->seq, memory_order_relaxed));
	return e;
}

/* The writer's side: odd sequence while entries move. */
static void
wbegin(struct fmq_epoch_cache *c)
{
	atomic_store_explicit(&c->seq,
		atomic_load_explicit(&c->seq, memory_order_relaxed) + 1,
		memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void
wend(struct fmq_epoch_cache *c)
{
	atomic_store_explicit(&c->seq,
		atomic_load_explicit(&c->seq, memory_order_relaxed) + 1,
		memory_order_release);
	atomic_fetch_add_explicit(&c->changes, 1, memory_order_release);
}

static int32_t
ep(const struct fmq_epoch_cache *c, uint32_t i)
{
	return atomic_load_explicit(&c->e[i].epoch, memory_order_relaxed);
}

static int64_t
st(const struct fmq_epoch_cache *c, uint32_t i)
{
	return atomic_load_explicit(&c->e[i].start, memory_order_relaxed);
}

static void
put(struct fmq_epoch_cache *c, uint32_t i, int32_t epoch, int64_t start)
{
	atomic_store_explicit(&c->e[i].epoch, epoch, memory_order_relaxed);
	atomic_store_explicit(&c->e[i].start, start, memory_order_relaxed);
}

int
fmq_epoch_assign(struct fmq_epoch_cache *c, int32_t epoch, int64_t start)
{
	uint32_t n = atomic_load_explicit(&c->n, memory_order_relaxed);

	if (epoch < 0 || start < 0)
		return -1;
	if (n > 0 && ep(c, n - 1) == epoch && st(c, n - 1) <= start)
		return 0;
	wbegin(c);
	/* Monotonic epochs and start offsets: what is not below goes. */
	while (n > 0 && (ep(c, n - 1) >= epoch || st(c, n - 1) >= start))
		n--;
	if (n == FMQ_EPOCH_MAX) {
		for (uint32_t i = 1; i < n; i++)
			put(c, i - 1, ep(c, i), st(c, i));
		n--;
	}
	put(c, n, epoch, start);
	atomic_store_explicit(&c->n, n + 1, memory_order_relaxed);
	wend(c);
	return 1;
}

void
fmq_epoch_truncate_end(struct fmq_epoch_cache *c, int64_t end)
{
	uint32_t n = atomic_load_explicit(&c->n, memory_order_relaxed);

	if (end < 0 || n == 0 || st(c, n - 1) < end)
		return;
	wbegin(c);
	while (n > 0 && st(c, n - 1) >= end)
		n--;
	atomic_store_explicit(&c->n, n, memory_order_relaxed);
	wend(c);
}

void
fmq_epoch_truncate_start(struct fmq_epoch_cache *c, int64_t start)
{
	uint32_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
	uint32_t k = 0;

	while (k < n && st(c, k) <= start)
		k++;
	/* Entries [0, k) start at or before start: the last one stays. */
	if (k == 0 || (k == 1 && st(c, 0) == start))
		return;
	wbegin(c);
	put(c, 0, ep(c, k - 1), start);
	for (uint32_t i = k; i < n; i++)
		put(c, i - k + 1, ep(c, i), st(c, i));
	atomic_store_explicit(&c->n, n - k + 1, memory_order_relaxed);
	wend(c);
}

uint32_t
fmq_epoch_snapshot(const struct fmq_epoch_cache *c,
		   struct fmq_epoch_entry *out)
{
	struct fmq_epoch_cache *m = (struct fmq_epoch_cache *)(uintptr_t)c;
	uint32_t s, n;

	do {
		s = atomic_load_explicit(&m->seq, memory_order_acquire);
		n = atomic_load_explicit(&m->n, memory_order_relaxed);
		if (n > FMQ_EPOCH_MAX)
			n = FMQ_EPOCH_MAX;
		for (uint32_t i = 0; i < n; i++) {
			out[i].epoch = ep(m, i);
			out[i].start = st(m, i);
		}
		atomic_thread_fence(memory_order_acquire);
	} while ((s & 1) != 0 ||
		 s != atomic_load_explicit(&m->seq, memory_order_relaxed));
	return n;
}

void
fmq_epoch_end_offset_in(const struct fmq_epoch_entry *e, uint32_t n,
			int32_t req, int64_t leo, int32_t *epoch, int64_t *end)
{
	uint32_t hi = 0;

	*epoch = -1;
	*end = -1;
	if (req < 0 || n == 0)
		return;
	if (e[n - 1].epoch == req) {
		*epoch = req;
		*end = leo;
		return;
	}
	/* The first entry with a higher epoch. */
	while (hi < n && e[hi].epoch <= req)
		hi++;
	if (hi == n)
		return;          /* above every epoch known */
	*epoch = hi == 0 ? req : e[hi - 1].epoch;
	*end = e[hi].start;
}

void
fmq_epoch_end_offset_for(const struct fmq_epoch_cache *c, int32_t req,
			 int64_t leo, int32_t *epoch, int64_t *end)
{
	struct fmq_epoch_entry e[FMQ_EPOCH_MAX];
	uint32_t n = fmq_epoch_snapshot(c, e);

	fmq_epoch_end_offset_in(e, n, req, leo, epoch, end);
}

/* ------------------------------------------------------------- file */

static int
rd_num(const char **p, const char *end, long long *v)
{
	const char *s = *p;
	char tmp[24];
	size_t k = 0;
	char *e;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	while (s < end && k < sizeof(tmp) - 1 &&
	       (*s == '-' || (*s >= '0' && *s <= '9')))
		tmp[k++] = *s++;
	tmp[k] = '\0';
	if (k == 0)
		return -1;
	*v = strtoll(tmp, &e, 10);
	if (*e != '\0')
		return -1;
	*p = s;
	return 0;
}

static int
rd_eol(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	if (s < end && *s != '\n')
		return -1;
	*p = s < end ? s + 1 : s;
	return 0;
}

int
fmq_epoch_parse(struct fmq_epoch_cache *c, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	long long ver, cnt, e, s;

	atomic_store(&c->n, 0);
	if (rd_num(&p, end, &ver) < 0 || ver != 0 || rd_eol(&p, end) < 0 ||
	    rd_num(&p, end, &cnt) < 0 || cnt < 0 || rd_eol(&p, end) < 0)
		return -EINVAL;
	for (long long i = 0; i < cnt; i++) {
		if (rd_num(&p, end, &e) < 0 || rd_num(&p, end, &s) < 0 ||
		    rd_eol(&p, end) < 0 || e < 0 || e > INT32_MAX || s < 0) {
			atomic_store(&c->n, 0);
			return -EINVAL;
		}
		uint32_t n = atomic_load(&c->n);
		if (n > 0 && (e <= ep(c, n - 1) || s < st(c, n - 1))) {
			atomic_store(&c->n, 0);
			return -EINVAL;   /* not monotonic */
		}
		(void)fmq_epoch_assign(c, (int32_t)e, s);
	}
	return 0;
}

size_t
fmq_epoch_format(const struct fmq_epoch_cache *c, char *buf, size_t cap)
{
	struct fmq_epoch_entry e[FMQ_EPOCH_MAX];
	uint32_t n = fmq_epoch_snapshot(c, e);
	size_t len;

	len = (size_t)snprintf(buf, cap, "0\n%u\n", n);
	for (uint32_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%d %" PRId64
					"\n", e[i].epoch, e[i].start);
	return len < cap ? len : cap;
}

int
fmq_epoch_load(struct fmq_epoch_cache *c, const char *dir)
{
	char path[PATH_MAX], buf[FMQ_EPOCH_MAX * 40 + 64];
	ssize_t n;
	int fd;

	atomic_store(&c->n, 0);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     FMQ_EPOCH_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	return fmq_epoch_parse(c, buf, (size_t)n);
}

int
fmq_epoch_save(const struct fmq_epoch_cache *c, const char *dir)
{
	char path[PATH_MAX], buf[FMQ_EPOCH_MAX * 40 + 64];
	size_t len = fmq_epoch_format(c, buf, sizeof(buf));

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     FMQ_EPOCH_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	return fmq_file_replace(path, 0644, buf, len);
}

/* ------------------------------------------------------- partition */

/*
 * At open, after recovery (control thread): the checkpoint, cut to the
 * log (entries past its end or before its start go, as Kafka does), then
 * completed from the batches' partitionLeaderEpoch from the last entry's
 * start on: a crash between an append of a new epoch and the checkpoint
 * write loses nothing, since every batch carries its epoch.
 */
int
epoch_open(struct fmq_log_part *p)
{
	struct fmq_epoch_cache *c = &p->epochs;
	int64_t leo = atomic_load(&p->next_offset);
	int64_t from;
	uint64_t tail = atomic_load(&p->seg_tail);
	uint8_t h[RB_RECORDS];
	int rc;

	fmq_epoch_init(c);
	rc = fmq_epoch_load(c, p->dir);
	if (rc < 0 && rc != -ENOENT)
		FMQ_WARN(LOG_COMP, "%s/%s: %s; rebuilding it from the log",
			 p->dir, FMQ_EPOCH_FILE, strerror(-rc));
	fmq_epoch_truncate_end(c, leo);
	fmq_epoch_truncate_start(c, atomic_load(&p->log_start));
	uint32_t n = atomic_load(&c->n);
	from = n > 0 ? st(c, n - 1) : 0;
	for (uint64_t i = atomic_load(&p->seg_head); i < tail; i++) {
		struct seg *s = part_seg(p, i);
		uint64_t size = atomic_load(&s->size), pos = 0;

		if (i + 1 < tail && part_seg(p, i + 1)->base <= from)
			continue;
		while (seg_read_header(s, pos, h, size) == 0) {
			int64_t b = (int64_t)rd_be64(h + RB_BASE_OFFSET);
			uint32_t len = rd_be32(h + RB_LENGTH);
			int32_t e = (int32_t)rd_be32(h + RB_LEADER_EPOCH);

			if (len < RB_RECORDS - RB_LOG_OVERHEAD)
				break;
			if (b >= from && e >= 0 && e != fmq_epoch_latest(c))
				(void)fmq_epoch_assign(c, e, b);
			pos += RB_LOG_OVERHEAD + (uint64_t)len;
		}
	}
	c->written = atomic_load(&c->changes);
	if (c->written > 0)
		rc = fmq_epoch_save(c, p->dir);
	return 0;
}

/* Flusher (control thread): the checkpoint when the cache changed. */
void
epoch_write_pending(struct fmq_log_part *p)
{
	struct fmq_epoch_cache *c = &p->epochs;
	uint64_t ch = atomic_load_explicit(&c->changes, memory_order_acquire);
	int rc;

	if (ch == c->written)
		return;
	rc = fmq_epoch_save(c, p->dir);
	if (rc < 0) {
		FMQ_WARN(LOG_COMP, "%s/%s: %s (rebuilt from the log at the "
			 "next open)", p->dir, FMQ_EPOCH_FILE, strerror(-rc));
		return;
	}
	c->written = ch;
}

/* A closed partition's dir cut to end (truncate.c). */
void
epoch_dir_truncate(const char *dir, int64_t end)
{
	struct fmq_epoch_cache *c = malloc(sizeof(*c));

	if (c == NULL)
		return;
	fmq_epoch_init(c);
	if (fmq_epoch_load(c, dir) == 0) {
		fmq_epoch_truncate_end(c, end);
		(void)fmq_epoch_save(c, dir);
	}
	free(c);
}

int
fmq_log_epoch_end_offset(struct fmq_log_part *p, int32_t req,
			 int32_t *epoch, int64_t *end)
{
	int64_t leo = atomic_load_explicit(&p->next_offset,
					   memory_order_acquire);

	fmq_epoch_end_offset_for(&p->epochs, req, leo, epoch, end);
	return 0;
}

int32_t
fmq_log_epoch_latest(const struct fmq_log_part *p)
{
	return fmq_epoch_latest(&p->epochs);
}

void
fmq_log_epoch_truncate(struct fmq_log_part *p, int64_t end)
{
	fmq_epoch_truncate_end(&p->epochs, end);
}
