/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactions on the data lcores: the owner of a partition appends the
 * markers the coordinator (control lcore, lib/ctrl/ctrl_txn.c) sends it,
 * so a partition is only ever written by its owner; read_committed
 * fetches stop at the LSO and carry the aborted transactions.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "broker_priv.h"

/* Back to the coordinator; false if its ring is full (retry). */
static bool
answer(struct fmq_broker_lcore *bl, struct fmq_bfwd *f)
{
	uint64_t one = 1;
	ssize_t wr;

	if (rte_ring_enqueue(bl->to_ctrl, f) != 0)
		return false;
	wr = write(bl->b->wake_fd, &one, sizeof(one));
	(void)wr;   /* a full counter already means "wake up" */
	return true;
}

static void
retry_later(struct fmq_broker_lcore *bl, struct fmq_bfwd *f)
{
	f->marker->retry_next = bl->txn_retry;
	bl->txn_retry = f;
}

/* Append (once) and answer; false: try again next poll. */
static bool
marker_run(struct fmq_broker_lcore *bl, struct fmq_bfwd *f)
{
	struct fmq_btxn_marker *mk = f->marker;

	if (mk->offset < 0 && mk->rc == 0) {
		const struct fmq_bmeta *m = broker_meta_load(bl->b);
		const struct fmq_btopic *t = fmq_bmeta_find(m, mk->topic,
			(uint32_t)strlen(mk->topic));
		const struct fmq_bpart *bp = t != NULL && mk->partition >= 0 &&
			(uint32_t)mk->partition < t->nparts ?
			&t->parts[mk->partition] : NULL;
		struct fmq_log_append_result res;
		int rc;

		if (bp == NULL || bp->log == NULL || bp->log != mk->log ||
		    bp->owner != bl->idx) {
			mk->rc = -ENOENT;   /* deleted or moved meanwhile */
		} else {
			rc = fmq_log_txn_marker(bp->log, mk->pid, mk->epoch,
						mk->commit, mk->coord_epoch,
						mk->first_off, &res);
			if (rc == -EAGAIN)
				return false;   /* hot pool full: later */
			mk->rc = rc;
			if (rc == 0 || (rc == -ENOMEM && !mk->commit)) {
				mk->offset = res.base_offset;
				bl->st.txn_markers++;
				note_own_append(bl, bp->log);
			}
		}
	}
	return answer(bl, f);
}

void
txn_marker(struct fmq_broker_lcore *bl, struct fmq_bfwd *f)
{
	if (f->marker->wake) {
		const struct fmq_btxn_marker *mk = f->marker;
		const struct fmq_bmeta *m = broker_meta_load(bl->b);
		const struct fmq_btopic *t = fmq_bmeta_find(m, mk->topic,
			(uint32_t)strlen(mk->topic));

		if (t != NULL && mk->partition >= 0 &&
		    (uint32_t)mk->partition < t->nparts &&
		    t->parts[mk->partition].log == mk->log &&
		    t->parts[mk->partition].owner == bl->idx)
			note_own_append(bl, mk->log);
		fmq_bfwd_free(f);
		return;
	}
	f->marker->retry_next = NULL;
	f->marker->offset = -1;
	f->marker->rc = 0;
	if (!marker_run(bl, f))
		retry_later(bl, f);
}

void
txn_retry(struct fmq_broker_lcore *bl)
{
	struct fmq_bfwd *f = bl->txn_retry;

	bl->txn_retry = NULL;
	while (f != NULL) {
		struct fmq_bfwd *next = f->marker->retry_next;

		f->marker->retry_next = NULL;
		if (!marker_run(bl, f))
			retry_later(bl, f);
		f = next;
	}
}

int64_t
txn_fetch_upto(const struct fmq_log_part *log, int8_t isolation)
{
	return isolation == 1 ? fmq_log_part_lso(log) : INT64_MAX;
}

/* The aborted transactions overlapping [from, to) into op (arena). */
int
txn_fetch_aborted(struct req_ctx *rc, const struct fmq_log_part *log,
		  int64_t from, int64_t to,
		  struct fmq_kafka_fetch_resp_partition_data *op)
{
	struct fmq_log_aborted tmp[16], *a = tmp;
	uint32_t n = fmq_log_txn_aborted(log, from, to, tmp, RTE_DIM(tmp));

	if (n == 0)
		return 0;
	if (n > RTE_DIM(tmp)) {
		a = fmq_kafka_arena_alloc(&rc->bl->arena, n * sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
		n = RTE_MIN(n, fmq_log_txn_aborted(log, from, to, a, n));
	}
	op->aborted_transactions = fmq_kafka_arena_alloc(&rc->bl->arena,
		n * sizeof(*op->aborted_transactions));
	if (op->aborted_transactions == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		memset(&op->aborted_transactions[i], 0,
		       sizeof(op->aborted_transactions[i]));
		op->aborted_transactions[i].producer_id = a[i].pid;
		op->aborted_transactions[i].first_offset = a[i].first;
	}
	op->aborted_transactions_count = (int32_t)n;
	rc->bl->st.txn_aborted_sent += n;
	return 0;
}
