/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DescribeProducers (API 61) on the partition side: the producers of the
 * partition's idempotent producer state (producer.c), each with the
 * first offset of its open transaction here when it has one.
 *
 * Only the transaction coordinator (control thread) knows which
 * transactions are open on a partition: it publishes (producer id, first
 * offset) pairs next to the LSO bound (txn.c), under a sequence count
 * (odd while it writes), and the owner lcore reads them when it answers.
 */
#include <rte_pause.h>

#include "log_priv.h"

void
fmq_log_txn_set_starts(struct fmq_log_part *p, const int64_t *pids,
		       const int64_t *firsts, uint32_t n)
{
	uint32_t s = atomic_load_explicit(&p->txs_seq, memory_order_relaxed);

	if (n > TXN_PIDS)
		n = TXN_PIDS;
	atomic_store_explicit(&p->txs_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i < n; i++) {
		atomic_store_explicit(&p->txs_pid[i], pids[i],
				      memory_order_relaxed);
		atomic_store_explicit(&p->txs_first[i], firsts[i],
				      memory_order_relaxed);
	}
	atomic_store_explicit(&p->txs_n, n, memory_order_relaxed);
	atomic_store_explicit(&p->txs_seq, s + 2, memory_order_release);
}

/* The first offset of pid's open transaction here, or -1. */
static int64_t
txn_start_of(const struct fmq_log_part *p, int64_t pid)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&p->txs_seq,
						  memory_order_acquire);
		uint32_t n = atomic_load_explicit(&p->txs_n,
						  memory_order_relaxed);
		int64_t first = -1;

		for (uint32_t i = 0; i < n && i < TXN_PIDS; i++)
			if (atomic_load_explicit(&p->txs_pid[i],
						 memory_order_relaxed) == pid)
				first = atomic_load_explicit(&p->txs_first[i],
					memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if ((s & 1) == 0 &&
		    atomic_load_explicit(&p->txs_seq,
					 memory_order_relaxed) == s)
			return first;
		rte_pause();
	}
}

uint32_t
fmq_log_producers_describe(const struct fmq_log_part *p, int64_t now_ms,
			   struct fmq_log_producer_desc *out, uint32_t max)
{
	const struct pstate *ps = &p->ps;
	uint32_t n = 0;

	for (uint32_t e = 0; e < ps->n; e++) {
		const struct ps_entry *x = &ps->ent[e];
		const struct ps_batch *b;

		if (x->nb == 0)
			continue;
		/* Past producer.id.expiration.ms it is as good as gone
		 * (the next append of another producer drops it). */
		if (ps->expire_ms > 0 && now_ms - x->last_ms > ps->expire_ms)
			continue;
		if (n < max) {
			b = &x->b[(x->head + x->nb - 1) % PS_BATCHES];
			out[n].pid = x->pid;
			out[n].epoch = x->epoch;
			out[n].last_seq = b->last_seq;
			out[n].last_ms = x->last_ms;
			/* Open, and written to here since it began. */
			out[n].txn_start = txn_start_of(p, x->pid);
			if (out[n].txn_start > b->last_off)
				out[n].txn_start = -1;
		}
		n++;
	}
	return n;
}
