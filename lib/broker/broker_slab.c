/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per data lcore memory for request state that outlives one poll: the
 * progress of requests waiting on other lcores (struct xprog) and parked
 * fetches with their frame copies. Power-of-two classes from 128 B to
 * 64 KiB, carved at start from broker.slab.bytes (each class gets an equal
 * share), kept on LIFO free lists touched by the owning lcore only: no
 * lock, no atomic, no allocator call on the data path. A size past the
 * largest class, or a class that ran dry, comes from the DPDK heap and is
 * counted (fluxmq_broker_slab_heap_allocs_total), so an undersized slab
 * shows in /metrics rather than as failed requests.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "broker_priv.h"

#define SLAB_HDR 16u
#define SLAB_MAGIC 0x51ab51abu

struct slab_hdr {
	uint32_t cls;             /* SLAB_CLASSES: from the heap */
	uint32_t magic;
	uint64_t pad;
};

static inline uint32_t
class_bytes(uint32_t c)
{
	return (uint32_t)SLAB_MIN_BYTES << c;
}

int
slab_init(struct bslab *s, uint64_t bytes, int socket)
{
	uint64_t share = bytes / SLAB_CLASSES, total = 0;
	uint8_t *p;

	memset(s, 0, sizeof(*s));
	for (uint32_t c = 0; c < SLAB_CLASSES; c++) {
		s->total[c] = (uint32_t)(share / class_bytes(c));
		total += (uint64_t)s->total[c] * class_bytes(c);
	}
	if (total == 0)
		return 0;      /* broker.slab.bytes=0: heap only */
	s->mem = rte_malloc_socket("fmq_slab", total, RTE_CACHE_LINE_SIZE,
				   socket);
	if (s->mem == NULL)
		return -ENOMEM;
	s->mem_bytes = total;
	p = s->mem;
	for (uint32_t c = 0; c < SLAB_CLASSES; c++) {
		for (uint32_t i = 0; i < s->total[c]; i++) {
			struct slab_hdr *h = (struct slab_hdr *)p;
			h->cls = c;
			h->magic = SLAB_MAGIC;
			*(void **)(p + SLAB_HDR) = s->free[c];
			s->free[c] = p + SLAB_HDR;
			p += class_bytes(c);
		}
		s->nfree[c] = s->total[c];
	}
	return 0;
}

void
slab_fini(struct bslab *s)
{
	rte_free(s->mem);
	memset(s, 0, sizeof(*s));
}

void *
slab_alloc(struct bslab *s, size_t n)
{
	struct slab_hdr *h;

	for (uint32_t c = 0; c < SLAB_CLASSES; c++) {
		void *o;
		if (n + SLAB_HDR > class_bytes(c) || s->free[c] == NULL)
			continue;
		/* Smallest class that fits and has one (a dry class borrows
		 * from the next larger one before the heap). */
		o = s->free[c];
		s->free[c] = *(void **)o;
		s->nfree[c]--;
		s->used_bytes += class_bytes(c);
		return o;
	}
	h = rte_malloc("fmq_slab_big", n + SLAB_HDR, RTE_CACHE_LINE_SIZE);
	if (h == NULL)
		return NULL;
	h->cls = SLAB_CLASSES;
	h->magic = SLAB_MAGIC;
	s->heap_allocs++;
	return (uint8_t *)h + SLAB_HDR;
}

void *
slab_zalloc(struct bslab *s, size_t n)
{
	void *o = slab_alloc(s, n);

	if (o != NULL)
		memset(o, 0, n);
	return o;
}

void
slab_free(struct bslab *s, void *o)
{
	struct slab_hdr *h;

	if (o == NULL)
		return;
	h = (struct slab_hdr *)((uint8_t *)o - SLAB_HDR);
	RTE_ASSERT(h->magic == SLAB_MAGIC);
	if (h->cls >= SLAB_CLASSES) {
		rte_free(h);
		return;
	}
	*(void **)o = s->free[h->cls];
	s->free[h->cls] = o;
	s->nfree[h->cls]++;
	s->used_bytes -= class_bytes(h->cls);
}
