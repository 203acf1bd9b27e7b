/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Partitions owned by another data lcore. A request that touches one sends
 * a struct xop (from a shared mempool) over the owner's ring; the owner
 * appends or reads and sends the op back on the origin's ring. The origin
 * keeps one struct xprog per waiting request with a result slot per
 * partition, and runs the request again once every answer is in. Appends
 * are also announced to lcores with parked fetches, so long-polls wake
 * across lcores. Nothing here takes a lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "broker_priv.h"

#define XOP_BURST 32

struct xprog *
xprog_get(struct req_ctx *rc, int16_t api, uint32_t n)
{
	struct xprog **slot = rc->xslot;
	struct xprog *xp = *slot;
	int32_t corr = rc->hdr->correlation_id;

	if (xp != NULL && xp->corr == corr && xp->api == api && xp->n == n)
		return xp;
	xprog_drop(rc->bl, slot);
	/* Only requests that cross lcores (or wait for the hot pool) get
	 * one, from the lcore's slab. */
	xp = slab_zalloc(&rc->bl->slab, sizeof(*xp) + (n ? n : 1) *
			 sizeof(xp->res[0]));
	if (xp == NULL)
		return NULL;
	xp->corr = corr;
	xp->api = api;
	xp->n = n;
	if (rc->waiter != NULL)
		xp->w = rc->waiter;
	else
		xp->k = rc->k;
	*slot = xp;
	return xp;
}

/* An op made here is out: its version holds our quiescent point back. */
static void
xver_hold(struct fmq_broker_lcore *bl, struct xop *op)
{
	op->ver = bl->qver;
	if (bl->nxver > 0 && bl->xver[bl->nxver - 1].ver >= op->ver) {
		bl->xver[bl->nxver - 1].n++;
		return;
	}
	if (bl->nxver == XVER_SLOTS) {
		bl->xver[XVER_SLOTS - 1].n++;   /* keeps its older version */
		return;
	}
	bl->xver[bl->nxver].ver = op->ver;
	bl->xver[bl->nxver].n = 1;
	bl->nxver++;
}

/* ... and is back for good (answered and used, or never sent). */
static void
xver_drop(struct fmq_broker_lcore *bl, const struct xop *op)
{
	/* The newest bucket whose version is not above the op's. */
	for (uint32_t i = bl->nxver; i-- > 0;) {
		if (bl->xver[i].ver > op->ver)
			continue;
		if (--bl->xver[i].n == 0) {
			memmove(&bl->xver[i], &bl->xver[i + 1],
				(bl->nxver - i - 1) * sizeof(bl->xver[0]));
			bl->nxver--;
		}
		return;
	}
}

uint64_t
xver_quiescent(const struct fmq_broker_lcore *bl, uint64_t current)
{
	return bl->nxver > 0 && bl->xver[0].ver < current ? bl->xver[0].ver :
		current;
}

static void
xop_free_results(struct xop *op)
{
	for (uint32_t i = 0; i < op->nranges; i++) {
		if (op->ranges[i].handle != NULL)
			fmq_log_range_release(&op->ranges[i]);
		op->ranges[i].handle = NULL;
	}
	op->nranges = 0;
	free(op->blob);
	op->blob = NULL;
	op->nblob = 0;
}

void
xprog_drop(struct fmq_broker_lcore *bl, struct xprog **slot)
{
	struct xprog *xp = *slot;

	if (xp == NULL)
		return;
	*slot = NULL;
	if (xp->outstanding > 0) {
		/* Answers still on their way: the last one frees it. */
		xp->orphan = true;
		return;
	}
	for (uint32_t i = 0; i < xp->n; i++) {
		struct xop *op = xp->res[i].op;
		if (op == NULL)
			continue;
		xop_free_results(op);
		xver_drop(bl, op);
		rte_mempool_put(rte_mempool_from_obj(op), op);
	}
	slab_free(&bl->slab, xp);
}

struct xop *
xop_new(struct fmq_broker_lcore *bl, uint8_t type, struct xprog *xp,
	uint32_t index, struct fmq_log_part *part)
{
	struct xop *op;

	if (rte_mempool_get(bl->b->xop_mp, (void **)&op) != 0)
		return NULL;
	memset(op, 0, offsetof(struct xop, ranges));
	op->nranges = 0;
	op->type = type;
	op->from = (uint16_t)bl->idx;
	op->xp = xp;
	op->index = index;
	op->part = part;
	xver_hold(bl, op);
	return op;
}

void
xop_release(struct fmq_broker_lcore *bl, struct xop *op)
{
	rte_pktmbuf_free(op->chain);
	op->chain = NULL;
	xop_free_results(op);
	if (op->from == bl->idx)
		xver_drop(bl, op);
	rte_mempool_put(bl->b->xop_mp, op);
}

int
xop_send(struct fmq_broker_lcore *bl, uint16_t to, struct xop *op)
{
	struct fmq_broker_lcore *dst = to < bl->b->n_lcores ? bl->b->lc[to] : NULL;

	if (dst == NULL || rte_ring_enqueue(dst->xin, op) != 0) {
		bl->st.xop_ring_full++;
		return -ENOBUFS;
	}
	fmq_doorbell_ring(&dst->bell);
	bl->st.xop_sent++;
	return 0;
}

/*
 * An mbuf chain of indirect mbufs over [abs, abs + len) of the current
 * request's segments: the owner appends from it while the connection is
 * free to drop its own references.
 */
struct rte_mbuf *
xop_chain_of(struct fmq_broker_lcore *bl, uint32_t nseg, uint64_t abs,
	     uint32_t len)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t left = len, n = 0;

	for (uint32_t i = 0; i < nseg && left > 0; i++) {
		uint32_t sl = bl->segs[i].len;
		if (abs >= sl) {
			abs -= sl;
			continue;
		}
		uint32_t take = RTE_MIN(sl - (uint32_t)abs, left);
		struct rte_mbuf *mi = rte_pktmbuf_alloc(bl->ext_mp);
		if (mi == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		rte_pktmbuf_attach(mi, bl->seg_mbuf[i]);
		mi->data_off = (uint16_t)(bl->seg_mbuf[i]->data_off +
					  bl->seg_off[i] + abs);
		mi->data_len = (uint16_t)take;
		mi->next = NULL;
		if (tail != NULL)
			tail->next = mi;
		else
			head = mi;
		tail = mi;
		n++;
		left -= take;
		abs = 0;
	}
	if (head == NULL || left > 0) {
		rte_pktmbuf_free(head);
		return NULL;
	}
	head->nb_segs = (uint16_t)RTE_MIN(n, (uint32_t)UINT16_MAX);
	head->pkt_len = len;
	return head;
}

/* Owner side: do the work of op. 1 done, 0 retry later (hot pool full). */
static int
xop_serve(struct fmq_broker_lcore *bl, struct xop *op)
{
	switch (op->type) {
	case XOP_PRODUCE: {
		/* Every batch of the records, from where a full pool last
		 * stopped us (op->offset bytes done). */
		while ((uint64_t)op->offset < op->len) {
			struct fmq_log_append_result ar;
			uint8_t hdr[12];
			const uint8_t *h = rte_pktmbuf_read(op->chain,
				(uint32_t)op->offset, sizeof(hdr), hdr);
			uint32_t blen;
			int rc;
			if (h == NULL) {
				op->r.err = FMQ_KERR_CORRUPT_MESSAGE;
				break;
			}
			blen = (uint32_t)((h[8] << 24) | (h[9] << 16) |
					  (h[10] << 8) | h[11]) + 12;
			rc = fmq_log_append(op->part, op->chain,
					    (uint32_t)op->offset, blen, &ar);
			if (rc == -EAGAIN) {
				bl->st.produce_backpressure++;
				return 0;
			}
			if (rc < 0) {
				op->r.err = ar.error ? ar.error :
					FMQ_KERR_KAFKA_STORAGE_ERROR;
				op->r.msg = ar.error_message;
				op->r.rec_index1 = ar.record_index + 1;
				break;
			}
			if (op->offset == 0) {
				op->r.base = ar.base_offset;
				op->r.append_time = ar.log_append_time;
			}
			op->r.log_start = ar.log_start_offset;
			bl->st.produce_batches++;
			bl->st.produce_bytes += blen;
			op->offset += blen;
		}
		if (op->offset > 0)
			note_own_append(bl, op->part);
		rte_pktmbuf_free(op->chain);
		op->chain = NULL;
		return 1;
	}
	case XOP_FETCH: {
		struct fmq_log_read_result rr;
		struct fmq_log_offsets lo;
		if (op->budget == 0) {
			fmq_log_part_offsets(op->part, &lo);
			op->r.hw = lo.high_watermark;
			op->r.log_start = lo.log_start;
			return 1;
		}
		if (fmq_log_read_upto(op->part, op->offset, op->upto,
				      op->budget, op->ranges,
				      XOP_MAX_RANGES, &rr) < 0) {
			op->r.err = FMQ_KERR_KAFKA_STORAGE_ERROR;
			return 1;
		}
		fmq_log_part_note_read(op->part, rr.bytes);
		op->r.err = rr.error;
		op->r.hw = rr.high_watermark;
		op->r.log_start = rr.log_start_offset;
		op->nranges = rr.error ? 0 : rr.nranges;
		op->bytes = rr.bytes;
		return 1;
	}
	case XOP_TIME:
		if (fmq_log_offset_for_time(op->part, op->ts, &op->r.off,
					    &op->r.ts) < 0)
			op->r.err = FMQ_KERR_KAFKA_STORAGE_ERROR;
		return 1;
	case XOP_PRODUCERS:
		/* op->ts: the origin's wall clock, for expiry. */
		op->nblob = fmq_log_producers_describe(op->part, op->ts,
						       NULL, 0);
		if (op->nblob == 0)
			return 1;
		op->blob = malloc(op->nblob * sizeof(*op->blob));
		if (op->blob == NULL) {
			op->nblob = 0;
			op->r.err = FMQ_KERR_UNKNOWN_SERVER_ERROR;
			return 1;
		}
		op->nblob = RTE_MIN(op->nblob,
			fmq_log_producers_describe(op->part, op->ts,
						   op->blob, op->nblob));
		return 1;
	}
	return 1;
}

/* Origin side: file the answer, and resume its request when complete. */
static void
xop_answer(struct fmq_broker_lcore *bl, struct xop *op)
{
	struct xprog *xp = op->xp;

	xp->outstanding--;
	if (xp->orphan) {
		if (xp->outstanding == 0) {
			struct xprog *tmp = xp;
			xp->orphan = false;
			xprog_drop(bl, &tmp);
		}
		xop_release(bl, op);
		return;
	}
	struct xres *r = &xp->res[op->index];
	r->state = XS_DONE;
	r->err = op->r.err;
	r->base = op->r.base;
	r->append_time = op->r.append_time;
	r->log_start = op->r.log_start;
	r->hw = op->r.hw;
	r->off = op->r.off;
	r->ts = op->r.ts;
	if (op->type == XOP_FETCH || op->type == XOP_PRODUCERS) {
		r->op = op;      /* keeps its results until the response */
	} else {
		xop_release(bl, op);
	}
	if (xp->outstanding > 0)
		return;
	/* Everything is in: run the request again. Not an orphan, so its
	 * holder still points at it. */
	if (xp->w != NULL) {
		RTE_ASSERT(xp->w->xp == xp);
		xp->w->ready = true;
	} else if (xp->k != NULL && xp->k->xp == xp && xp->k->live &&
		   !xp->k->closing) {
		xp->k->waiting = false;
		conn_schedule(bl, xp->k);
	}
}

void
xop_drain(struct fmq_broker_lcore *bl)
{
	struct xop *ops[XOP_BURST];
	struct xop **pp = &bl->xretry;
	unsigned int n;

	/* Appends that met a full pool, first, in order. */
	while (*pp != NULL) {
		struct xop *op = *pp;
		if (xop_serve(bl, op) == 0)
			break;   /* still full: try again next poll */
		*pp = op->next;
		op->next = NULL;
		op->done = true;
		while (xop_send(bl, op->from, op) < 0)
			rte_pause();   /* the origin drains every poll */
	}
	n = rte_ring_dequeue_burst(bl->xin, (void **)ops, XOP_BURST, NULL);
	for (unsigned int i = 0; i < n; i++) {
		struct xop *op = ops[i];
		if (op->type == XOP_APPENDED) {
			for (uint32_t k = 0; k < op->nkeys && k < WAITER_KEYS; k++)
				fetch_note_append(bl, op->keys[k]);
			if (op->nkeys > WAITER_KEYS)
				bl->nappended = WAITER_KEYS + 1;
			rte_mempool_put(bl->b->xop_mp, op);
			continue;
		}
		if (op->done) {
			xop_answer(bl, op);
			continue;
		}
		bl->st.xop_served++;
		if ((op->type == XOP_PRODUCE && bl->xretry != NULL) ||
		    xop_serve(bl, op) == 0) {
			/* Behind earlier appends that wait for the pool. */
			struct xop **tail = &bl->xretry;
			while (*tail != NULL)
				tail = &(*tail)->next;
			op->next = NULL;
			*tail = op;
			continue;
		}
		op->done = true;
		while (xop_send(bl, op->from, op) < 0)
			rte_pause();   /* the origin drains every poll */
	}
}

void
xop_broadcast_appends(struct fmq_broker_lcore *bl)
{
	struct fmq_broker *b = bl->b;

	if (bl->nown_appended == 0)
		return;
	for (unsigned int l = 0; l < b->n_lcores; l++) {
		struct fmq_broker_lcore *o = b->lc[l];
		struct xop *op;
		if (o == NULL || l == bl->idx ||
		    __atomic_load_n(&o->nwaiters, __ATOMIC_RELAXED) == 0)
			continue;
		if (rte_mempool_get(b->xop_mp, (void **)&op) != 0)
			break;
		op->type = XOP_APPENDED;
		op->done = false;
		op->nkeys = bl->nown_appended;
		memcpy(op->keys, bl->own_appended,
		       RTE_MIN(bl->nown_appended, (uint32_t)WAITER_KEYS) *
		       sizeof(op->keys[0]));
		if (rte_ring_enqueue(o->xin, op) != 0)
			rte_mempool_put(b->xop_mp, op);
		else
			fmq_doorbell_ring(&o->bell);
	}
	bl->nown_appended = 0;
}

void
note_own_append(struct fmq_broker_lcore *bl, const void *key)
{
	fetch_note_append(bl, key);
	if (bl->b->n_lcores < 2 || bl->nown_appended > WAITER_KEYS)
		return;
	for (uint32_t j = 0; j < bl->nown_appended; j++)
		if (bl->own_appended[j] == key)
			return;
	if (bl->nown_appended == WAITER_KEYS)
		bl->nown_appended++;   /* many: wake every waiter */
	else
		bl->own_appended[bl->nown_appended++] = key;
}
