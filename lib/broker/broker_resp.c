/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Responses as mbuf chains. The Kafka writer fills the data rooms of fresh
 * mbufs and hands back a list of pieces; record data in the hot pool comes
 * back as reference pieces, which become external-buffer mbufs pointing
 * into the pool (zero copy, the chunk pinned until the last mbuf is freed).
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_memory.h>

#include "broker_priv.h"
#include "broker_zref.h"

#define WBUF_MAX 4096
#define EXT_SEG_MAX 32768u   /* data_len and buf_len are 16 bits */

void
count_error(struct fmq_broker_lcore *bl, int16_t code)
{
	if (code != 0 && code >= BROKER_ERR_MIN && code <= BROKER_ERR_MAX)
		bl->st.err[code - BROKER_ERR_MIN]++;
}

struct wbuild {
	struct fmq_broker_lcore *bl;
	struct rte_mbuf *bufs[WBUF_MAX];
	bool linked[WBUF_MAX];
	uint32_t nbufs;
};

static int
wb_refill(void *arg, uint8_t **buf, size_t *cap)
{
	struct wbuild *wb = arg;
	struct rte_mbuf *m;

	if (wb->nbufs == WBUF_MAX)
		return -ENOBUFS;
	m = rte_pktmbuf_alloc(wb->bl->mp);
	if (m == NULL)
		return -ENOMEM;
	wb->bufs[wb->nbufs] = m;
	wb->linked[wb->nbufs] = false;
	wb->nbufs++;
	*buf = rte_pktmbuf_mtod(m, uint8_t *);
	*cap = rte_pktmbuf_tailroom(m);
	return 0;
}

struct chain {
	struct rte_mbuf *head, *tail;
	uint32_t nsegs;
	uint64_t len;
};

static inline void
chain_add(struct chain *c, struct rte_mbuf *m)
{
	m->next = NULL;
	if (c->tail != NULL)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->nsegs++;
	c->len += m->data_len;
}

/*
 * The shared info of a hot range's external-buffer mbufs, with the range's
 * pin. It cannot live in the private area of one of those header mbufs:
 * that mbuf goes back to ext_mp when its own segment is acknowledged while
 * the others (and TCP-lite's indirect mbufs, which copy the shinfo
 * pointer) still use it, and the next allocation re-initialises it under
 * them: pins leaked and pins dropped twice (a chunk with pin count -2),
 * until the hot pool ran dry under follower fetches. Its own mempool
 * instead; the last free gives it back from whichever thread frees.
 */
struct zsh {
	struct rte_mbuf_ext_shared_info sh;
	void *handle;                 /* fmq_log_range.handle */
};

struct rte_mempool *
resp_zsh_pool_create(const char *name, unsigned int n, int socket)
{
	return rte_mempool_create(name, n, sizeof(struct zsh), 256, 0, NULL,
				  NULL, NULL, NULL, socket, 0);
}

static void
zsh_free_cb(void *addr, void *opaque)
{
	struct zsh *z = opaque;

	RTE_SET_USED(addr);
	fmq_log_extbuf_free_cb(addr, z->handle);
	rte_mempool_put(rte_mempool_from_obj(z), z);
}

/* Attach one hot range piece as external-buffer mbufs. */
static int
chain_add_hot(struct fmq_broker_lcore *bl, struct chain *c, const uint8_t *p,
	      uint32_t len, struct zref *z)
{
	struct zsh *zs = NULL;
	uint32_t off = 0;

	while (off < len) {
		uint32_t n = RTE_MIN(len - off, EXT_SEG_MAX);
		struct rte_mbuf *m = rte_pktmbuf_alloc(bl->ext_mp);
		void *va = (void *)(uintptr_t)(p + off);

		if (m == NULL)
			return -ENOMEM;
		if (zs == NULL) {
			/* One shared info for the whole range; the pin
			 * drops when the last of these mbufs is freed. */
			if (rte_mempool_get(bl->zsh_mp, (void **)&zs) < 0) {
				rte_pktmbuf_free(m);
				return -ENOMEM;
			}
			zs->handle = z->handle;
			zs->sh.free_cb = zsh_free_cb;
			zs->sh.fcb_opaque = zs;
			rte_mbuf_ext_refcnt_set(&zs->sh, 1);
			z->attached = true;
		} else {
			rte_mbuf_ext_refcnt_update(&zs->sh, 1);
		}
		rte_pktmbuf_attach_extbuf(m, va, rte_mem_virt2iova(va),
					  (uint16_t)n, &zs->sh);
		m->data_len = (uint16_t)n;
		chain_add(c, m);
		off += n;
	}
	return 0;
}

static void
zrefs_drop_unused(struct zref *z, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (z[i].type == ZREF_HOT && !z[i].attached) {
			struct fmq_log_range r = { .handle = z[i].handle };
			fmq_log_range_release(&r);
			z[i].attached = true;
		} else if (z[i].type == ZREF_CHAIN && z[i].chain != NULL) {
			rte_pktmbuf_free(z[i].chain);
			z[i].chain = NULL;
		}
	}
}

struct rte_mbuf *
resp_encode_z(struct fmq_broker_lcore *bl, int16_t api, int16_t version,
	      int32_t corr, const void *body, struct zref *zrefs,
	      uint32_t nzrefs)
{
	struct wbuild *wb;
	struct fmq_kafka_writer w;
	struct fmq_kafka_piece *pieces;
	struct chain c = { 0 };
	uint32_t max_pieces = WBUF_MAX + 2 * nzrefs + 16;
	uint8_t *buf;
	size_t cap;
	int n, rc;

	/* The writer state and piece list live in the request arena. */
	wb = fmq_kafka_arena_alloc(&bl->arena, sizeof(*wb));
	pieces = fmq_kafka_arena_alloc(&bl->arena, max_pieces * sizeof(*pieces));
	if (wb == NULL || pieces == NULL)
		goto fail_nowb;
	wb->bl = bl;
	wb->nbufs = 0;
	if (wb_refill(wb, &buf, &cap) < 0)
		goto fail;
	fmq_kafka_wr_init(&w, buf, cap, pieces, max_pieces);
	fmq_kafka_wr_set_refill(&w, wb_refill, wb);
	fmq_kafka_wr_set_ref_min(&w, 1);
	if (version < 0)
		rc = fmq_kafka_write_apiversions_fallback(&w, corr);
	else
		rc = fmq_kafka_write_response(&w, api, version, corr, body, NULL);
	n = fmq_kafka_wr_finish(&w);
	if (rc < 0 || n < 0)
		goto fail;

	uint32_t bi = 0;
	for (int i = 0; i < n; i++) {
		const struct fmq_kafka_piece *pc = &pieces[i];
		if (pc->len == 0)
			continue;
		if (pc->is_ref) {
			struct zref *z = pc->cookie;
			if (z == NULL)
				goto fail;
			if (z->type == ZREF_HOT) {
				if (chain_add_hot(bl, &c, pc->p, pc->len, z) < 0)
					goto fail;
				bl->st.fetch_bytes_zero_copy += pc->len;
			} else {
				/* Bytes already copied into mbufs (durable). */
				struct rte_mbuf *m = z->chain, *next;
				z->chain = NULL;
				for (; m != NULL; m = next) {
					next = m->next;
					chain_add(&c, m);
				}
				bl->st.fetch_bytes_copied += pc->len;
			}
			continue;
		}
		/* A copied piece lies in one writer buffer, in order. The
		 * buffer's end is its buf_len: once its first piece is
		 * linked, data_len is set and the tailroom no longer reaches
		 * the later pieces in it. */
		while (bi < wb->nbufs &&
		       (pc->p < rte_pktmbuf_mtod(wb->bufs[bi], uint8_t *) ||
			pc->p >= (uint8_t *)wb->bufs[bi]->buf_addr +
				 wb->bufs[bi]->buf_len))
			bi++;
		if (bi == wb->nbufs)
			goto fail;
		struct rte_mbuf *bm = wb->bufs[bi];
		if (!wb->linked[bi]) {
			bm->data_len = (uint16_t)pc->len;
			wb->linked[bi] = true;
			chain_add(&c, bm);
		} else {
			/* Later bytes of a buffer already in the chain. */
			struct rte_mbuf *mi = rte_pktmbuf_alloc(bl->ext_mp);
			if (mi == NULL)
				goto fail;
			rte_pktmbuf_attach(mi, bm);
			mi->data_off = (uint16_t)(pc->p - (uint8_t *)bm->buf_addr);
			mi->data_len = (uint16_t)pc->len;
			chain_add(&c, mi);
		}
	}
	for (uint32_t i = 0; i < wb->nbufs; i++)
		if (!wb->linked[i])
			rte_pktmbuf_free(wb->bufs[i]);
	zrefs_drop_unused(zrefs, nzrefs);
	if (c.head == NULL || c.nsegs > UINT16_MAX) {
		rte_pktmbuf_free(c.head);
		bl->st.nomem++;
		return NULL;
	}
	c.head->nb_segs = (uint16_t)c.nsegs;
	c.head->pkt_len = (uint32_t)c.len;
	return c.head;
fail:
	for (uint32_t i = 0; i < wb->nbufs; i++)
		if (!wb->linked[i])
			rte_pktmbuf_free(wb->bufs[i]);
fail_nowb:
	if (c.head != NULL) {
		c.head->nb_segs = (uint16_t)RTE_MIN(c.nsegs, (uint32_t)UINT16_MAX);
		rte_pktmbuf_free(c.head);
	}
	zrefs_drop_unused(zrefs, nzrefs);
	bl->st.nomem++;
	return NULL;
}

struct rte_mbuf *
resp_encode(struct fmq_broker_lcore *bl, int16_t api, int16_t version,
	    int32_t corr, const void *body)
{
	return resp_encode_z(bl, api, version, corr, body, NULL, 0);
}

struct rte_mbuf *
resp_from_bytes(struct fmq_broker_lcore *bl, const uint8_t *p, uint32_t len)
{
	struct chain c = { 0 };

	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(bl->mp);
		uint32_t n;
		if (m == NULL)
			goto fail;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_mtod(m, void *), p, n);
		m->data_len = (uint16_t)n;
		chain_add(&c, m);
		p += n;
		len -= n;
	}
	if (c.head == NULL || c.nsegs > UINT16_MAX)
		goto fail;
	c.head->nb_segs = (uint16_t)c.nsegs;
	c.head->pkt_len = (uint32_t)c.len;
	return c.head;
fail:
	if (c.head != NULL) {
		c.head->nb_segs = (uint16_t)RTE_MIN(c.nsegs, (uint32_t)UINT16_MAX);
		rte_pktmbuf_free(c.head);
	}
	bl->st.nomem++;
	return NULL;
}
