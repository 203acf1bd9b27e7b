/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open transactions as the partition's own log shows them (issue 18;
 * docs/architecture.md, "Transactions in a cluster").
 *
 * On one node the transaction coordinator publishes each partition's LSO
 * bound (txn.c). In a cluster the coordinator of a transaction may be
 * another broker, and the leader of a partition changes, so a partition
 * opened with txn_from_log derives the bound itself, as Kafka's leader
 * and followers do from their producer state (ProducerStateManager's
 * ongoing transactions): the first transactional batch of a producer
 * opens its transaction at that batch's offset, its COMMIT or ABORT
 * marker closes it, and an ABORT also enters (producer, first offset,
 * marker offset) in the aborted index (fmq_log_txn_marker leaves it to
 * this on such partitions: the log knows the exact first offset).
 * Leader and follower appends both pass here, so a follower that takes
 * over has the same LSO and index.
 *
 * Without txn_from_log (one node) the table is kept too but neither
 * bounds the LSO nor fills the index (the local coordinator does both);
 * it gives a marker sent without a first offset (WriteTxnMarkers) the
 * one the log saw.
 *
 * Owner lcore only (the append path), no allocation: a fixed table of
 * TXN_DOPEN producers. The bound (smallest first offset + 1, 0: none) is
 * published with a release store before the batch that opens it becomes
 * visible, and lifted after the marker (and its index entry) is.
 * A producer beyond the table keeps the bound at its first offset until
 * the table has emptied (conservative: read_committed waits longer,
 * never reads past an open transaction).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "log_priv.h"

/* Read a zigzag varint; false past end. */
static bool
rd_varint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t u = 0;

	for (unsigned int sh = 0; sh < 64 && *p < end; sh += 7) {
		uint8_t b = *(*p)++;

		u |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return true;
		}
	}
	return false;
}

/* A control batch's marker type: 0 abort, 1 commit, -1 not a marker. */
static int
marker_type(const uint8_t *b, uint32_t len)
{
	const uint8_t *p = b + RB_RECORDS, *end = b + len;
	int64_t v;

	if ((rd_be16(b + RB_ATTRIBUTES) & RB_ATTR_CODEC_MASK) != 0 ||
	    rd_be32(b + RB_COUNT) < 1)
		return -1;
	if (!rd_varint(&p, end, &v) || p >= end)   /* record length */
		return -1;
	p++;                                       /* attributes */
	if (!rd_varint(&p, end, &v) ||             /* timestamp delta */
	    !rd_varint(&p, end, &v) ||             /* offset delta */
	    !rd_varint(&p, end, &v) || v < 4 ||    /* key length */
	    p + 4 > end)
		return -1;
	switch (rd_be16(p + 2)) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		return -1;
	}
}

static void
publish(struct fmq_log_part *p)
{
	int64_t lo = p->dopen_ovf1 - 1;

	for (uint32_t i = 0; i < p->dopen_n; i++)
		if (lo < 0 || p->dopen[i].first < lo)
			lo = p->dopen[i].first;
	/* Alone, the coordinator's bound is the LSO's (a transactional
	 * batch it never listed must not hold read_committed forever). */
	if (p->pp.txn_from_log)
		atomic_store_explicit(&p->txn_dfirst1, lo < 0 ? 0 : lo + 1,
				      memory_order_release);
}

static int
find(const struct fmq_log_part *p, int64_t pid)
{
	for (uint32_t i = 0; i < p->dopen_n; i++)
		if (p->dopen[i].pid == pid)
			return (int)i;
	return -1;
}

void
txn_log_pre(struct fmq_log_part *p, const uint8_t *b, uint32_t len,
	    int64_t base, struct txn_seen *ts)
{
	uint16_t attr = rd_be16(b + RB_ATTRIBUTES);
	int64_t pid = (int64_t)rd_be64(b + RB_PRODUCER_ID);

	ts->type = -1;
	if (!(attr & RB_ATTR_TXN) || pid < 0)
		return;
	ts->pid = pid;
	if (attr & RB_ATTR_CONTROL) {
		ts->type = marker_type(b, len);
		return;
	}
	/* A transactional batch: its producer's transaction is open here
	 * from this offset, before the batch becomes visible. */
	if (find(p, pid) >= 0)
		return;
	if (p->dopen_n < TXN_DOPEN) {
		p->dopen[p->dopen_n].pid = pid;
		p->dopen[p->dopen_n++].first = base;
	} else if (p->dopen_ovf1 == 0) {
		p->dopen_ovf1 = base + 1;
	}
	publish(p);
}

/* A marker at marker_off closes ts->pid's transaction; false: no memory
 * for the aborted index entry. */
static bool
close_txn(struct fmq_log_part *p, const struct txn_seen *ts,
	  int64_t marker_off)
{
	int64_t first = marker_off;
	bool ok = true;
	int i;

	i = find(p, ts->pid);
	if (i >= 0) {
		first = p->dopen[i].first;
		p->dopen[i] = p->dopen[--p->dopen_n];
	}
	p->dopen_closed = first;   /* for fmq_log_txn_marker */
	if (ts->type == 0 && p->pp.txn_from_log) {
		struct fmq_log_aborted e = {
			.pid = ts->pid, .first = first, .last = marker_off,
		};

		/* Before the bound lifts: a reader past it sees the entry. */
		ok = txn_aidx_add(p, &e) == 0;
	}
	if (p->dopen_n == 0)
		p->dopen_ovf1 = 0;
	publish(p);
	return ok;
}

void
txn_log_post(struct fmq_log_part *p, const struct txn_seen *ts,
	     int64_t marker_off)
{
	if (ts->type < 0)
		return;
	if (!close_txn(p, ts, marker_off))
		STAT_ADD(p->lc->txn_index_nomem, 1);
	STAT_ADD(p->lc->txn_log_markers, 1);
}

/* At open (control thread, before any append): the open transactions
 * and the aborted index from the whole log, batch headers read through
 * a buffer, markers whole. As Kafka's producer snapshots and .txnindex
 * files give them back, at the cost of one read of the log. */
#define REBUILD_BUF (256u << 10)

int
txn_log_rebuild(struct fmq_log_part *p)
{
	uint64_t head = atomic_load(&p->seg_head);
	uint64_t tail = atomic_load(&p->seg_tail);
	uint8_t *buf;
	uint64_t markers = 0;

	if (!p->pp.txn_from_log)
		return 0;
	buf = malloc(REBUILD_BUF);
	if (buf == NULL)
		return -ENOMEM;
	for (uint64_t i = head; i < tail; i++) {
		struct seg *s = part_seg(p, i);
		uint64_t size = atomic_load(&s->size), pos = 0;
		uint64_t bpos = 0, blen = 0;

		while (pos + RB_RECORDS <= size) {
			struct batch_info bi;
			struct txn_seen ts;
			const uint8_t *h;

			if (pos < bpos || pos + RB_RECORDS > bpos + blen) {
				uint64_t want = RTE_MIN((uint64_t)REBUILD_BUF,
							size - pos);
				ssize_t r = pread(s->fd_log, buf, want,
						  (off_t)pos);

				if (r < (ssize_t)RB_RECORDS) {
					free(buf);
					return r < 0 ? -errno : -EIO;
				}
				bpos = pos;
				blen = (uint64_t)r;
			}
			h = buf + (pos - bpos);
			batch_peek(h, &bi);
			if (bi.size < RB_RECORDS || bi.size > size - pos)
				break;   /* recovery cut the log before this */
			/* Only a marker is read whole (its record); any other
			 * batch, however large, by its header. */
			if ((bi.attributes & RB_ATTR_CONTROL) &&
			    pos + bi.size > bpos + blen) {
				if (bpos == pos)
					break;     /* no marker is this large */
				bpos = blen = 0;   /* read it whole */
				continue;
			}
			txn_log_pre(p, h, bi.size, bi.base_offset, &ts);
			if (ts.type >= 0) {
				(void)close_txn(p, &ts, bi.base_offset);
				markers++;
			}
			pos += bi.size;
		}
	}
	free(buf);
	if (markers > 0 || p->dopen_n > 0)
		FMQ_INFO(LOG_COMP, "%s: %" PRIu64 " transaction marker(s) "
			 "read, %u transaction(s) open", p->dir, markers,
			 p->dopen_n);
	return 0;
}
