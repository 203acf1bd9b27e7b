/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The offset journal: <dir>/offsets.journal, append-only.
 *
 *   header  "FMQOFFJ\0" | u32 version (1) | u32 CRC-32C of the 12 bytes
 *   record  u32 length | u32 CRC-32C(length bytes, payload) | payload
 *
 * All integers little-endian. Payload: u8 type, then
 *   OFFSET      group, topic (str16) | i32 partition | i64 offset |
 *               i32 leader epoch | i64 commit ts | i64 expire ts | str32 metadata
 *   OFFSET_DEL  group, topic | i32 partition
 *   GROUP       group | i32 generation | i64 state ts | u8 empty |
 *               protocol type, protocol (str16, 0xffff = null)
 *   GROUP_DEL   group
 *
 * Replaying the records in order gives the state. Loading stops at the
 * first record that is short, too long or fails its CRC, and truncates the
 * file there: a crash can only tear the tail, and every record before the
 * tear was fdatasync'ed before anything depending on it was acknowledged.
 * Compaction writes a snapshot of the live records to offsets.journal.tmp,
 * fdatasyncs it, renames it over the journal and fsyncs the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "group_priv.h"

#define JOURNAL_NAME "offsets.journal"
#define JOURNAL_TMP "offsets.journal.tmp"
#define JOURNAL_MAGIC "FMQOFFJ"
#define JOURNAL_VERSION 1u
#define HDR_BYTES 16u
#define FRAME_BYTES 8u
/* No valid record comes near this: strings are at most 32767 bytes and
 * metadata at most offset.metadata.max.bytes (<= 1 MiB). */
#define REC_MAX (4u << 20)
#define REWRITE_CHUNK (256u << 10)

static uint32_t
crc32c(const void *a, size_t na, const void *b, size_t nb)
{
	uint32_t c = crc32_iscsi((unsigned char *)(uintptr_t)a, (int)na,
				 0xFFFFFFFFu);

	if (nb > 0)
		c = crc32_iscsi((unsigned char *)(uintptr_t)b, (int)nb, c);
	return c ^ 0xFFFFFFFFu;
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static uint32_t
str16_size(struct fmq_group_str s)
{
	return 2 + (s.len > 0 ? (uint32_t)s.len : 0);
}

static uint32_t
payload_size(const struct jrec *r)
{
	uint32_t n = 1 + str16_size(r->group);

	switch (r->type) {
	case JREC_OFFSET:
		n += str16_size(r->topic) + 4 + 8 + 4 + 8 + 8 + 4 +
			(r->metadata.len > 0 ? (uint32_t)r->metadata.len : 0);
		break;
	case JREC_OFFSET_DEL:
		n += str16_size(r->topic) + 4;
		break;
	case JREC_GROUP:
		n += 4 + 8 + 1 + str16_size(r->protocol_type) +
			str16_size(r->protocol);
		break;
	case JREC_GROUP_DEL:
		break;
	}
	return n;
}

uint32_t
journal_rec_size(const struct jrec *r)
{
	return FRAME_BYTES + payload_size(r);
}

static uint8_t *
enc_str16(uint8_t *p, struct fmq_group_str s)
{
	if (s.len < 0) {
		put_u16(p, 0xffff);
		return p + 2;
	}
	put_u16(p, (uint16_t)s.len);
	if (s.len > 0)
		memcpy(p + 2, s.ptr, (size_t)s.len);
	return p + 2 + s.len;
}

/* Encode the framed record into p (journal_rec_size(r) bytes). */
static void
encode(uint8_t *out, const struct jrec *r)
{
	uint8_t *p = out + FRAME_BYTES;
	uint32_t len = payload_size(r);

	*p++ = (uint8_t)r->type;
	p = enc_str16(p, r->group);
	switch (r->type) {
	case JREC_OFFSET:
		p = enc_str16(p, r->topic);
		put_u32(p, (uint32_t)r->partition);
		put_u64(p + 4, (uint64_t)r->offset);
		put_u32(p + 12, (uint32_t)r->leader_epoch);
		put_u64(p + 16, (uint64_t)r->commit_ts);
		put_u64(p + 24, (uint64_t)r->expire_ts);
		put_u32(p + 32, r->metadata.len > 0 ? (uint32_t)r->metadata.len : 0);
		p += 36;
		if (r->metadata.len > 0) {
			memcpy(p, r->metadata.ptr, (size_t)r->metadata.len);
			p += r->metadata.len;
		}
		break;
	case JREC_OFFSET_DEL:
		p = enc_str16(p, r->topic);
		put_u32(p, (uint32_t)r->partition);
		p += 4;
		break;
	case JREC_GROUP:
		put_u32(p, (uint32_t)r->generation);
		put_u64(p + 4, (uint64_t)r->state_ts);
		p[12] = r->empty;
		p += 13;
		p = enc_str16(p, r->protocol_type);
		p = enc_str16(p, r->protocol);
		break;
	case JREC_GROUP_DEL:
		break;
	}
	put_u32(out, len);
	put_u32(out + 4, crc32c(out, 4, out + FRAME_BYTES, len));
}

/* Bounds-checked reader over one payload. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint64_t
rd_u(struct rd *r, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	uint64_t v = 0;

	if (p == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static struct fmq_group_str
rd_str16(struct rd *r)
{
	uint16_t len = (uint16_t)rd_u(r, 2);
	struct fmq_group_str s = { NULL, -1 };

	if (r->bad || len == 0xffff)
		return s;
	if (len > KSTR_MAX) {
		r->bad = true;
		return s;
	}
	s.ptr = (const char *)rd_take(r, len);
	s.len = len;
	return s;
}

static bool
decode(const uint8_t *p, uint32_t len, struct jrec *out)
{
	struct rd r = { p, p + len, false };

	memset(out, 0, sizeof(*out));
	out->type = (enum jrec_type)rd_u(&r, 1);
	out->group = rd_str16(&r);
	if (out->group.len < 0)
		return false;
	switch (out->type) {
	case JREC_OFFSET:
		out->topic = rd_str16(&r);
		out->partition = (int32_t)rd_u(&r, 4);
		out->offset = (int64_t)rd_u(&r, 8);
		out->leader_epoch = (int32_t)rd_u(&r, 4);
		out->commit_ts = (int64_t)rd_u(&r, 8);
		out->expire_ts = (int64_t)rd_u(&r, 8);
		out->metadata.len = (int32_t)rd_u(&r, 4);
		if (out->metadata.len < 0)
			return false;
		out->metadata.ptr = (const char *)rd_take(&r,
			(size_t)out->metadata.len);
		if (out->topic.len < 0)
			return false;
		break;
	case JREC_OFFSET_DEL:
		out->topic = rd_str16(&r);
		out->partition = (int32_t)rd_u(&r, 4);
		if (out->topic.len < 0)
			return false;
		break;
	case JREC_GROUP:
		out->generation = (int32_t)rd_u(&r, 4);
		out->state_ts = (int64_t)rd_u(&r, 8);
		out->empty = (uint8_t)rd_u(&r, 1);
		out->protocol_type = rd_str16(&r);
		out->protocol = rd_str16(&r);
		break;
	case JREC_GROUP_DEL:
		break;
	default:
		return false;
	}
	return !r.bad && r.p == r.end;
}

/* ------------------------------------------------------------------------
 * File I/O
 * ---------------------------------------------------------------------- */

static int
write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static void
make_header(uint8_t h[HDR_BYTES])
{
	memset(h, 0, HDR_BYTES);
	memcpy(h, JOURNAL_MAGIC, 8);
	put_u32(h + 8, JOURNAL_VERSION);
	put_u32(h + 12, crc32c(h, 12, NULL, 0));
}

static int
start_fresh(struct journal *j)
{
	uint8_t h[HDR_BYTES];
	int rc;

	if (ftruncate(j->fd, 0) < 0)
		return -errno;
	make_header(h);
	rc = write_all(j->fd, h, HDR_BYTES, 0);
	if (rc < 0)
		return rc;
	if (fdatasync(j->fd) < 0 || fsync(j->dirfd) < 0)
		return -errno;
	j->file_bytes = HDR_BYTES;
	return 0;
}

int
journal_open(struct journal *j, const char *dir, struct fmq_group *co,
	     journal_load_fn fn, uint64_t *truncated)
{
	struct stat sb;
	uint8_t *map;
	uint64_t pos, size;
	int rc = 0;

	*truncated = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return -errno;
	if (unlinkat(j->dirfd, JOURNAL_TMP, 0) < 0 && errno != ENOENT)
		return -errno;
	j->fd = openat(j->dirfd, JOURNAL_NAME, O_RDWR | O_CREAT | O_CLOEXEC,
		       0644);
	if (j->fd < 0)
		return -errno;
	if (fstat(j->fd, &sb) < 0)
		return -errno;
	size = (uint64_t)sb.st_size;
	if (size < HDR_BYTES) {
		/* New, or the header itself was torn: nothing was ever
		 * acknowledged from this file. */
		*truncated = size;
		return start_fresh(j);
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, j->fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	{
		uint8_t h[HDR_BYTES];

		make_header(h);
		if (memcmp(map, h, HDR_BYTES) != 0) {
			/* Not ours, or a newer format: never truncate it. */
			munmap(map, size);
			return -EINVAL;
		}
	}
	pos = HDR_BYTES;
	while (pos + FRAME_BYTES <= size) {
		uint32_t len = get_u32(map + pos);
		uint32_t crc = get_u32(map + pos + 4);
		struct jrec r;

		if (len == 0 || len > REC_MAX || pos + FRAME_BYTES + len > size)
			break;
		if (crc32c(map + pos, 4, map + pos + FRAME_BYTES, len) != crc)
			break;
		if (!decode(map + pos + FRAME_BYTES, len, &r))
			break;
		rc = fn(co, &r, FRAME_BYTES + len);
		if (rc < 0)
			break;
		pos += FRAME_BYTES + len;
	}
	munmap(map, size);
	if (rc < 0)
		return rc;
	if (pos < size) {
		*truncated = size - pos;
		if (ftruncate(j->fd, (off_t)pos) < 0 || fdatasync(j->fd) < 0)
			return -errno;
	}
	j->file_bytes = pos;
	return 0;
}

void
journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->dirfd = -1;
	free(j->buf);
	j->buf = NULL;
	j->len = j->cap = 0;
}

uint32_t
journal_add(struct journal *j, const struct jrec *r)
{
	uint32_t sz = journal_rec_size(r);

	if (j->len + sz > j->cap) {
		size_t cap = j->cap ? j->cap : 4096;
		uint8_t *b;

		while (cap < j->len + sz)
			cap *= 2;
		b = realloc(j->buf, cap);
		if (b == NULL) {
			j->oom = true;
			return 0;
		}
		j->buf = b;
		j->cap = cap;
	}
	encode(j->buf + j->len, r);
	j->len += sz;
	return sz;
}

void
journal_drop_buffer(struct journal *j)
{
	j->len = 0;
	if (j->cap > (1u << 20)) {
		/* Do not keep a burst's buffer forever. */
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
}

int
journal_sync(struct journal *j)
{
	int rc = write_all(j->fd, j->buf, j->len, (off_t)j->file_bytes);

	if (rc == 0 && fdatasync(j->fd) < 0)
		rc = -errno;
	if (rc == 0)
		j->file_bytes += j->len;
	journal_drop_buffer(j);
	return rc;
}

/* Snapshot writer: chunks of encoded records to the temporary file. */
struct snap {
	int fd;
	uint8_t *buf;
	size_t len;
	uint64_t off;
	int rc;
};

static void
snap_flush(struct snap *s)
{
	if (s->rc == 0 && s->len > 0) {
		s->rc = write_all(s->fd, s->buf, s->len, (off_t)s->off);
		s->off += s->len;
	}
	s->len = 0;
}

static void
snap_add(struct snap *s, const struct jrec *r)
{
	uint32_t sz = journal_rec_size(r);

	if (s->len + sz > REWRITE_CHUNK)
		snap_flush(s);
	if (sz > REWRITE_CHUNK) {
		uint8_t *big = malloc(sz);

		if (big == NULL) {
			if (s->rc == 0)
				s->rc = -ENOMEM;
			return;
		}
		encode(big, r);
		if (s->rc == 0)
			s->rc = write_all(s->fd, big, sz, (off_t)s->off);
		s->off += sz;
		free(big);
		return;
	}
	encode(s->buf + s->len, r);
	s->len += sz;
}

int
journal_rewrite(struct journal *j, struct fmq_group *co)
{
	struct snap s = { .fd = -1 };
	struct group *grp;
	uint64_t live = 0;
	int rc;

	s.buf = malloc(REWRITE_CHUNK);
	if (s.buf == NULL)
		return -ENOMEM;
	s.fd = openat(j->dirfd, JOURNAL_TMP,
		      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s.fd < 0) {
		free(s.buf);
		return -errno;
	}
	make_header(s.buf);
	s.len = HDR_BYTES;
	TAILQ_FOREACH(grp, &co->glist, link) {
		struct jrec r;
		uint32_t i;
		struct hnode *n;

		if (grp->persisted) {
			memset(&r, 0, sizeof(r));
			r.type = JREC_GROUP;
			r.group = gstr_view(&grp->id);
			r.generation = grp->generation;
			r.state_ts = grp->state_ts;
			r.empty = grp->state == GS_EMPTY;
			r.protocol_type = gstr_view(&grp->protocol_type);
			r.protocol = gstr_view(&grp->protocol);
			snap_add(&s, &r);
			/* The group may have changed since its last record. */
			grp->rec_size = journal_rec_size(&r);
			live += grp->rec_size;
		}
		HTAB_FOREACH(&grp->offsets, i, n) {
			struct offset_entry *e =
				container_of(n, struct offset_entry, hn);

			if (!e->has_value)
				continue;
			memset(&r, 0, sizeof(r));
			r.type = JREC_OFFSET;
			r.group = gstr_view(&grp->id);
			r.topic = gstr_view(&e->topic);
			r.partition = e->partition;
			r.offset = e->offset;
			r.leader_epoch = e->leader_epoch;
			r.commit_ts = e->commit_ts;
			r.expire_ts = e->expire_ts;
			r.metadata = gstr_view(&e->metadata);
			snap_add(&s, &r);
			live += e->rec_size;
		}
	}
	snap_flush(&s);
	free(s.buf);
	co->journal_live_bytes = live;
	rc = s.rc;
	if (rc == 0 && fdatasync(s.fd) < 0)
		rc = -errno;
	if (rc == 0 && renameat(j->dirfd, JOURNAL_TMP, j->dirfd,
				JOURNAL_NAME) < 0)
		rc = -errno;
	if (rc < 0) {
		close(s.fd);
		unlinkat(j->dirfd, JOURNAL_TMP, 0);
		return rc;
	}
	/* The rename is durable only once the directory is. From here on
	 * the new file is the journal whatever happens. */
	if (fsync(j->dirfd) < 0)
		rc = -errno;
	close(j->fd);
	j->fd = s.fd;
	j->file_bytes = s.off;
	return rc;
}
