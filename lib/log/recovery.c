/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Partition recovery at open (control thread): the segment files found,
 * the hot pool's chunks of a crashed run written through, torn tails cut.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fmq_codec.h"
#include "log_priv.h"

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Base offsets of the <20 digits>.log files in dir, sorted. */
int
list_segments(const char *dir, int64_t **bases, uint32_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t cap = 16;
	int64_t *v;

	*n = 0;
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
		long long b;

		if (strlen(nm) != 24 || strcmp(nm + 20, ".log") != 0)
			continue;
		b = strtoll(nm, &end, 10);
		if (end != nm + 20 || b < 0)
			continue;
		if (*n == cap) {
			int64_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[(*n)++] = b;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_i64);
	*bases = v;
	return 0;
}

/* Free every segment slot from i on (recovery found them unusable). */
static void
drop_segments_from(struct fmq_log_part *p, uint64_t i, uint64_t *truncated)
{
	uint64_t tail = atomic_load(&p->seg_tail);

	for (uint64_t j = i; j < tail; j++) {
		struct seg *s = part_seg(p, j);

		FMQ_WARN(LOG_COMP, "%s: deleting segment %" PRId64 " after a "
			 "gap or truncation", p->dir, s->base);
		*truncated += atomic_load(&s->size);
		seg_close(s);
		seg_unlink(p, s);
	}
	atomic_store(&p->seg_tail, i);
}

struct orphan_ref {
	int64_t base;
	uint64_t seq;
	uint32_t id;
};

static int
cmp_orphan(const void *a, const void *b)
{
	const struct orphan_ref *x = a, *y = b;

	if (x->base != y->base)
		return x->base < y->base ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool orphan_of(const struct fmq_log_part *p, uint32_t i);

/* Process crash: batches of this partition that reached the hot pool but
 * not the segment files are validated and written through. */
static int
recover_hot(struct fmq_log_part *p, uint64_t *batches)
{
	struct fmq_log *log = p->log;
	struct orphan_ref *refs;
	uint32_t n = 0;
	int64_t next = atomic_load(&part_active_seg(p)->next_offset);
	int rc = 0;
	bool gap = false;

	if (log->norphans == 0)
		return 0;
	refs = malloc(sizeof(*refs) * log->norphans);
	if (refs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < log->nchunks && n < log->norphans; i++) {
		struct chunk_hdr *h = log->chunks[i].hdr;

		if (!orphan_of(p, i))
			continue;
		refs[n].base = h->base_offset;
		refs[n].seq = h->seq;
		refs[n].id = i;
		n++;
	}
	qsort(refs, n, sizeof(*refs), cmp_orphan);
	for (uint32_t k = 0; k < n; k++) {
		struct chunk *c = &log->chunks[refs[k].id];
		uint32_t fill = c->hdr->fill, pos = 0;

		while (!gap && rc == 0 && pos + RB_RECORDS <= fill) {
			const uint8_t *b = c->data + pos;
			struct batch_info bi;
			bool crc_failed;

			batch_peek(b, &bi);
			if (bi.size < RB_RECORDS || bi.size > fill - pos)
				break;
			if (bi.base_offset + bi.last_delta < next) {
				pos += bi.size;         /* already durable */
				continue;
			}
			if (bi.base_offset != next) {
				FMQ_WARN(LOG_COMP, "%s: hot pool has offset %"
					 PRId64 " but the log ends at %" PRId64
					 "; not recovering past the gap",
					 p->dir, bi.base_offset, next);
				gap = true;
				break;
			}
			/* As the log holds them: transaction markers
			 * (control batches) included. */
			if (batch_validate_stored(b, bi.size, &bi,
						  &crc_failed) != 0) {
				FMQ_WARN(LOG_COMP, "%s: invalid batch at offset "
					 "%" PRId64 " in the hot pool; stopping "
					 "there", p->dir, bi.base_offset);
				gap = true;
				break;
			}
			rc = seg_append_durable(p, b, &bi);
			if (rc < 0) {
				FMQ_ERR(LOG_COMP, "%s: writing offset %" PRId64
					" from the hot pool: %s; nothing is "
					"discarded: the hot pool keeps it for "
					"the next start", p->dir,
					bi.base_offset, strerror(-rc));
				break;
			}
			next = bi.base_offset + bi.last_delta + 1;
			pos += bi.size;
			(*batches)++;
		}
		if (rc < 0)
			break;
	}
	/* The chunks go back to the pool only once everything is synced
	 * (orphans_release), never on a failure. */
	free(refs);
	return rc;
}

static bool
orphan_of(const struct fmq_log_part *p, uint32_t i)
{
	const struct chunk_hdr *h = p->log->chunks[i].hdr;

	return p->log->orphan[i] && h->topic_hash == p->topic_hash &&
		h->partition == p->pp.partition &&
		h->topic_len == strlen(p->topic) &&
		memcmp(h->topic, p->topic, h->topic_len) == 0;
}

/* The partition is recovered and synced: its hot chunks are not needed
 * any more. */
static void
orphans_release(struct fmq_log_part *p)
{
	struct fmq_log *log = p->log;

	for (uint32_t i = 0; i < log->nchunks && log->norphans > 0; i++) {
		if (!orphan_of(p, i))
			continue;
		log->orphan[i] = 0;
		log->norphans--;
		chunk_retire(log, &log->chunks[i]);
	}
}

int
part_recover(struct fmq_log_part *p)
{
	struct fmq_log *log = p->log;
	uint64_t truncated = 0, batches = 0, total = 0;
	int64_t *bases = NULL, next = 0;
	uint32_t nb = 0;
	uint64_t i, tail;
	int rc;

	rc = list_segments(p->dir, &bases, &nb);
	if (rc < 0)
		return rc;
	for (i = 0; i < nb && i <= p->seg_mask; i++) {
		rc = seg_open_existing(p, part_seg(p, i), bases[i]);
		if (rc < 0) {
			atomic_store(&p->seg_tail, i);
			free(bases);
			return rc;
		}
		total += atomic_load(&part_seg(p, i)->size);
		atomic_store(&p->seg_tail, i + 1);
	}
	free(bases);
	if (total >= (64u << 20))
		FMQ_INFO(LOG_COMP, "%s: recovering %u segments, %" PRIu64
			 " MiB", p->dir, nb, total >> 20);

	tail = atomic_load(&p->seg_tail);
	for (i = 0; i < tail; i++) {
		struct seg *s = part_seg(p, i);
		uint64_t t0 = truncated;

		if (i > 0 && s->base != next) {
			drop_segments_from(p, i, &truncated);
			break;
		}
		rc = seg_recover(p, s, &next, &truncated);
		if (rc < 0)
			return rc;
		if (truncated != t0 && i + 1 < tail) {
			drop_segments_from(p, i + 1, &truncated);
			break;
		}
	}
	tail = atomic_load(&p->seg_tail);
	/* An empty segment in front of later ones has nothing to offer. */
	if (tail == 0) {
		rc = seg_create(p, part_seg(p, 0), 0);
		if (rc < 0)
			return rc;
		atomic_store(&p->seg_tail, 1);
		tail = 1;
	}
	for (i = 0; i + 1 < tail; i++)
		seg_seal(part_seg(p, i));

	rc = recover_hot(p, &batches);
	if (rc < 0)
		return rc;
	tail = atomic_load(&p->seg_tail);
	for (i = 0; i < tail; i++) {
		if (fdatasync(part_seg(p, i)->fd_log) != 0) {
			rc = -errno;
			FMQ_ERR(LOG_COMP, "%s: recovery: fdatasync segment %"
				PRId64 ": %s; nothing is discarded: the hot "
				"pool keeps its data for the next start",
				p->dir, part_seg(p, i)->base, strerror(-rc));
			return rc;
		}
	}
	orphans_release(p);
	if (truncated > 0 || batches > 0) {
		STAT_ADD(log->recoveries, 1);
		STAT_ADD(log->truncated_bytes, truncated);
		STAT_ADD(log->recovered_batches, batches);
		FMQ_INFO(LOG_COMP, "%s: recovered: %" PRIu64 " bytes cut, %"
			 PRIu64 " batches taken from the hot pool", p->dir,
			 truncated, batches);
	}
	rc = ps_recover(p);
	if (rc == 0)
		rc = txn_log_rebuild(p);   /* a cluster's partitions */
	if (rc < 0)
		return rc;
	next = atomic_load(&part_active_seg(p)->next_offset);
	atomic_store(&p->next_offset, next);
	atomic_store(&p->written_off, next);
	atomic_store(&p->synced_off, next);
	atomic_store(&p->log_start, part_seg(p, 0)->base);
	log_start_load(p);
	cleaner_load_checkpoint(p);
	return 0;
}
