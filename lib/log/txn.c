/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactions on the partition side (KIP-98): the commit and abort
 * markers the coordinator has the owner lcore append, the last stable
 * offset, and the aborted transactions index read_committed fetches use.
 *
 * The LSO is min(first offset of the oldest open transaction, high
 * watermark). The coordinator (control lcore) alone knows which
 * transactions are open on a partition, so it publishes that first
 * offset (txn_open1, +1 so that 0 means none) and lifts it only after
 * the owner has appended the marker: a reader never sees past an open
 * transaction, nor an ended one without its marker and index entry.
 *
 * The aborted index is an append-only array in marker offset order. The
 * owner writes an entry, then publishes the count (release); a reader
 * loads the count (acquire), then the array. A full array is copied into
 * one twice its size, published before the count moves, and the old one
 * kept until close, so a reader holding it reads valid memory (growth is
 * once per doubling, on the abort path, never per batch). It lives in
 * memory: the coordinator journals each entry and enters them again at
 * start-up (fmq_log_txn_restore), the role Kafka's .txnindex files play.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_pause.h>

#include "log_priv.h"

#define MARKER_REC 17u                 /* length varint + 16 bytes */
#define MARKER_LEN (RB_RECORDS + MARKER_REC)
#define AIDX_FIRST 16u

void
txn_fini(struct fmq_log_part *p)
{
	struct txn_aidx *a = atomic_load(&p->aidx);

	while (a != NULL) {
		struct txn_aidx *o = a->older;

		free(a);
		a = o;
	}
	atomic_store(&p->aidx, NULL);
	atomic_store(&p->aidx_n, 0);
}

/* Append one entry (one writer at a time: the owner, or the control
 * thread before the owner writes markers). */
int
txn_aidx_add(struct fmq_log_part *p, const struct fmq_log_aborted *e)
{
	struct txn_aidx *a = atomic_load_explicit(&p->aidx,
						  memory_order_relaxed);
	uint32_t n = atomic_load_explicit(&p->aidx_n, memory_order_relaxed);

	if (a == NULL || n == a->cap) {
		uint32_t cap = a == NULL ? AIDX_FIRST : a->cap * 2;
		struct txn_aidx *b;

		if (a != NULL && a->cap > UINT32_MAX / 4)
			return -ENOMEM;
		b = malloc(sizeof(*b) + (size_t)cap * sizeof(b->e[0]));
		if (b == NULL)
			return -ENOMEM;
		b->cap = cap;
		b->older = a;
		if (n > 0)
			memcpy(b->e, a->e, (size_t)n * sizeof(b->e[0]));
		atomic_store_explicit(&p->aidx, b, memory_order_release);
		a = b;
	}
	a->e[n] = *e;
	atomic_store_explicit(&p->aidx_n, n + 1, memory_order_release);
	return 0;
}

int
fmq_log_txn_restore(struct fmq_log_part *p, const struct fmq_log_aborted *a)
{
	return txn_aidx_add(p, a);
}

uint32_t
fmq_log_txn_aborted(const struct fmq_log_part *p, int64_t from, int64_t to,
		    struct fmq_log_aborted *out, uint32_t max)
{
	uint32_t n = atomic_load_explicit(&p->aidx_n, memory_order_acquire);
	const struct txn_aidx *a = atomic_load_explicit(&p->aidx,
							memory_order_acquire);
	uint32_t lo, got = 0;

	if (a == NULL || n == 0 || from >= to)
		return 0;
	if (n > a->cap)
		n = a->cap;
	/* Sorted by marker offset: skip those that ended before from. */
	lo = n;
	while (lo > 0 && a->e[lo - 1].last >= from)
		lo--;
	for (uint32_t i = lo; i < n; i++) {
		if (a->e[i].first >= to)
			continue;
		if (got < max)
			out[got] = a->e[i];
		got++;
	}
	return got;
}

void
fmq_log_txn_set_open(struct fmq_log_part *p, int64_t first,
		     const int64_t *pids, uint32_t npids)
{
	uint32_t s = atomic_load_explicit(&p->txn_seq, memory_order_relaxed);

	/* Odd while writing: a reader that sees it, or a different count
	 * after reading, reads again. */
	atomic_store_explicit(&p->txn_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i < npids && i < TXN_PIDS; i++)
		atomic_store_explicit(&p->txn_pids[i], pids[i],
				      memory_order_relaxed);
	atomic_store_explicit(&p->txn_npids,
			      npids > TXN_PIDS ? UINT32_MAX : npids,
			      memory_order_relaxed);
	atomic_store_explicit(&p->txn_seq, s + 2, memory_order_release);
	atomic_store_explicit(&p->txn_open1, first < 0 ? 0 : first + 1,
			      memory_order_release);
}

bool
txn_pid_open(const struct fmq_log_part *p, int64_t pid)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&p->txn_seq,
						  memory_order_acquire);
		uint32_t n = atomic_load_explicit(&p->txn_npids,
						  memory_order_relaxed);
		bool found = n == UINT32_MAX;

		for (uint32_t i = 0; !found && i < n && i < TXN_PIDS; i++)
			found = atomic_load_explicit(&p->txn_pids[i],
				memory_order_relaxed) == pid;
		atomic_thread_fence(memory_order_acquire);
		if ((s & 1) == 0 &&
		    atomic_load_explicit(&p->txn_seq,
					 memory_order_relaxed) == s)
			return found;
		rte_pause();
	}
}

int64_t
fmq_log_part_lso(const struct fmq_log_part *p)
{
	int64_t hw = atomic_load_explicit(&p->next_offset,
					  memory_order_acquire);
	int64_t o1 = atomic_load_explicit(&p->txn_open1,
					  memory_order_acquire);
	int64_t d1 = atomic_load_explicit(&p->txn_dfirst1,
					  memory_order_acquire);

	if (o1 > 0 && o1 - 1 < hw)
		hw = o1 - 1;
	/* The bound the log itself shows (txn_open.c; 0 without
	 * txn_from_log). */
	return d1 > 0 && d1 - 1 < hw ? d1 - 1 : hw;
}

/* ControlRecord: key (version 0, type), value EndTransactionMarker
 * (version 0, coordinator epoch), no headers; in one record batch. */
static void
marker_build(uint8_t *b, int64_t pid, int16_t epoch, bool commit,
	     int32_t coord_epoch, int64_t now_ms)
{
	uint8_t *r = b + RB_RECORDS;

	memset(b, 0, MARKER_LEN);
	wr_be32(b + RB_LENGTH, MARKER_LEN - RB_LOG_OVERHEAD);
	b[RB_MAGIC] = 2;
	wr_be16(b + RB_ATTRIBUTES, RB_ATTR_TXN | RB_ATTR_CONTROL);
	wr_be32(b + RB_LAST_OFFSET_DELTA, 0);
	wr_be64(b + RB_FIRST_TS, (uint64_t)now_ms);
	wr_be64(b + RB_MAX_TS, (uint64_t)now_ms);
	wr_be64(b + RB_PRODUCER_ID, (uint64_t)pid);
	wr_be16(b + RB_PRODUCER_EPOCH, (uint16_t)epoch);
	wr_be32(b + RB_BASE_SEQ, UINT32_MAX);     /* -1 */
	wr_be32(b + RB_COUNT, 1);
	r[0] = 2 * (MARKER_REC - 1);   /* zigzag varint of 16 */
	r[1] = 0;                      /* attributes */
	r[2] = 0;                      /* timestamp delta */
	r[3] = 0;                      /* offset delta */
	r[4] = 2 * 4;                  /* key length 4 */
	wr_be16(r + 5, 0);             /* key version */
	wr_be16(r + 7, commit ? 1 : 0);
	r[9] = 2 * 6;                  /* value length 6 */
	wr_be16(r + 10, 0);            /* value version */
	wr_be32(r + 12, (uint32_t)coord_epoch);
	r[16] = 0;                     /* no headers */
	wr_be32(b + RB_CRC, batch_crc(b, MARKER_LEN));
}

int
fmq_log_txn_marker(struct fmq_log_part *p, int64_t pid, int16_t epoch,
		   bool commit, int32_t coord_epoch, int64_t first_off,
		   struct fmq_log_append_result *res)
{
	uint8_t b[MARKER_LEN];
	int rc;

	marker_build(b, pid, epoch, commit, coord_epoch, fmq_wall_ms());
	rc = log_append_control(p, b, MARKER_LEN, res);
	/* txn_from_log: the append indexed it (txn_open.c). */
	if (rc < 0 || commit || p->pp.txn_from_log)
		return rc;
	/* Unknown to the caller (WriteTxnMarkers): what the log saw. */
	if (first_off < 0)
		first_off = p->dopen_closed;
	struct fmq_log_aborted e = {
		.pid = pid,
		.first = first_off >= 0 && first_off <= res->base_offset ?
			first_off : res->base_offset,
		.last = res->base_offset,
	};
	/* The marker is in: without memory for the entry, read_committed
	 * consumers would see the aborted records; say so loudly. */
	if (txn_aidx_add(p, &e) < 0)
		return -ENOMEM;
	return 0;
}
