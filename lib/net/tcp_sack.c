/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Out-of-order reassembly queue and the SACK blocks (RFC 2018) we report.
 *
 * The queue holds received payload chains, zero-copy, sorted by sequence
 * number and never overlapping (new data is trimmed against what is held).
 * Chains are concatenated through the last segment's ->next; each chain's
 * head keeps its own pkt_len and nb_segs and carries its sequence number in
 * hash.usr, so no side table is needed and nothing is bounded by a fixed
 * array: the limit is net.tcp.ooo_max segments.
 */
#include <string.h>

#include "tcp_priv.h"

#define CHAIN_SEQ(m) ((m)->hash.usr)

static struct rte_mbuf *
chain_last(struct rte_mbuf *h)
{
	struct rte_mbuf *m = h;

	for (uint16_t i = 1; i < h->nb_segs; i++)
		m = m->next;
	return m;
}

/* Free a chain (its own segments only; m->next after the chain is cut by
 * the caller). Works for chains of any nb_segs. */
void
tcp_chain_free(struct fmq_net *n, struct rte_mbuf *m)
{
	(void)n;
	while (m != NULL) {
		struct rte_mbuf *next = m->next;

		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
		m = next;
	}
}

/* Drop k bytes from the front of chain h (k < pkt_len); return the new
 * head with pkt_len/nb_segs fixed. held is decremented for freed segs. */
static struct rte_mbuf *
chain_trim_front(struct fmq_net *n, struct rte_mbuf *h, uint32_t k)
{
	uint32_t len = h->pkt_len - k;
	uint16_t segs = h->nb_segs;

	while (k > 0 && k >= h->data_len) {
		struct rte_mbuf *next = h->next;

		k -= h->data_len;
		h->next = NULL;
		h->nb_segs = 1;
		rte_pktmbuf_free_seg(h);
		n->st.mbufs_held--;
		segs--;
		h = next;
	}
	h->data_off += (uint16_t)k;
	h->data_len -= (uint16_t)k;
	h->pkt_len = len;
	h->nb_segs = segs;
	return h;
}

/* Keep only the first len bytes (0 < len < pkt_len) of chain h, which is
 * not linked to anything after it. */
static void
chain_trim_len(struct fmq_net *n, struct rte_mbuf *h, uint32_t len)
{
	struct rte_mbuf *m = h;
	uint32_t left = len;
	uint16_t segs = 1;

	while (left > m->data_len) {
		left -= m->data_len;
		m = m->next;
		segs++;
	}
	m->data_len = (uint16_t)left;
	if (m->next != NULL) {
		uint16_t freed = 0;
		for (struct rte_mbuf *x = m->next; x != NULL; x = x->next)
			freed++;
		n->st.mbufs_held -= freed;
		tcp_chain_free(n, m->next);
		m->next = NULL;
	}
	h->pkt_len = len;
	h->nb_segs = segs;
}

/*
 * Queue m (payload chain, pkt_len > 0 or a bare FIN) at seq. Returns true
 * if anything new was kept. m is consumed either way.
 */
bool
tcp_ooo_insert(struct fmq_net *n, struct tcp_conn *c, struct rte_mbuf *m,
	       uint32_t seq, bool fin)
{
	struct rte_mbuf *prev_last = NULL, *x = c->ooo_head;
	uint32_t s = seq, e = seq + m->pkt_len;
	bool fresh = false;

	if (fin && !c->ooo_fin) {
		c->ooo_fin = true;
		c->ooo_fin_seq = e;
		fresh = true;
	}
	if (m->pkt_len == 0) {
		rte_pktmbuf_free(m);
		return fresh;
	}
	n->st.mbufs_held += m->nb_segs;
	while (x != NULL) {
		uint32_t xs = CHAIN_SEQ(x), xe = xs + x->pkt_len;
		struct rte_mbuf *xl = chain_last(x);

		if (seq_leq(xe, s)) {              /* x entirely before */
			prev_last = xl;
			x = xl->next;
			continue;
		}
		if (seq_geq(xs, e))                /* x entirely after */
			break;
		if (seq_leq(xs, s) && seq_geq(xe, e)) {  /* covered */
			n->st.mbufs_held -= m->nb_segs;
			rte_pktmbuf_free(m);
			return fresh;
		}
		if (seq_leq(xs, s)) {              /* x covers our front */
			m = chain_trim_front(n, m, xe - s);
			s = xe;
			prev_last = xl;
			x = xl->next;
			continue;
		}
		if (seq_gt(e, xe)) {               /* we cover x: drop x */
			struct rte_mbuf *after = xl->next;

			xl->next = NULL;
			c->ooo_bytes -= x->pkt_len;
			c->ooo_segs -= x->nb_segs;
			n->st.mbufs_held -= x->nb_segs;
			tcp_chain_free(n, x);
			if (prev_last == NULL)
				c->ooo_head = after;
			else
				prev_last->next = after;
			x = after;
			continue;
		}
		/* x covers our tail. */
		chain_trim_len(n, m, xs - s);
		e = xs;
		break;
	}
	if (c->ooo_segs + m->nb_segs > n->tcp->p.ooo_max) {
		n->st.drop[FMQ_NET_DROP_TCP_OOO_FULL]++;
		n->st.mbufs_held -= m->nb_segs;
		rte_pktmbuf_free(m);
		return fresh;
	}
	CHAIN_SEQ(m) = s;
	chain_last(m)->next = x;
	if (prev_last == NULL)
		c->ooo_head = m;
	else
		prev_last->next = m;
	c->ooo_bytes += m->pkt_len;
	c->ooo_segs += m->nb_segs;
	c->ooo_last_seq = s;
	n->st.tcp_ooo++;
	return true;
}

/*
 * Pop the head chain if it starts at (or before) rcv_nxt, trimmed to start
 * exactly there. *fin is set when the queued FIN is now in order.
 */
struct rte_mbuf *
tcp_ooo_pull(struct fmq_net *n, struct tcp_conn *c, bool *fin)
{
	struct rte_mbuf *h;

	*fin = false;
	while ((h = c->ooo_head) != NULL) {
		uint32_t hs = CHAIN_SEQ(h), he = hs + h->pkt_len;
		struct rte_mbuf *hl = chain_last(h);

		if (seq_gt(hs, c->rcv_nxt))
			break;
		c->ooo_head = hl->next;
		hl->next = NULL;
		c->ooo_bytes -= h->pkt_len;
		c->ooo_segs -= h->nb_segs;
		if (seq_leq(he, c->rcv_nxt)) {
			n->st.mbufs_held -= h->nb_segs;
			tcp_chain_free(n, h);
			continue;
		}
		if (hs != c->rcv_nxt)
			h = chain_trim_front(n, h, c->rcv_nxt - hs);
		n->st.mbufs_held -= h->nb_segs;
		return h;
	}
	if (c->ooo_fin && c->ooo_head == NULL && c->ooo_fin_seq == c->rcv_nxt) {
		c->ooo_fin = false;
		*fin = true;
	}
	return NULL;
}

void
tcp_ooo_purge(struct fmq_net *n, struct tcp_conn *c)
{
	if (c->ooo_head != NULL) {
		n->st.mbufs_held -= c->ooo_segs;
		tcp_chain_free(n, c->ooo_head);
	}
	c->ooo_head = NULL;
	c->ooo_bytes = c->ooo_segs = 0;
	c->ooo_fin = false;
}

/*
 * SACK blocks for our ACK: contiguous runs of the queue, the run holding
 * the most recently received segment first (RFC 2018 section 4), then the
 * others in sequence order.
 */
unsigned int
tcp_sack_blocks(const struct tcp_conn *c, uint32_t blk[][2],
		unsigned int max)
{
	uint32_t runs[TCP_MAX_SACK * 4][2];
	unsigned int nr = 0, nb = 0, first = UINT32_MAX;
	struct rte_mbuf *x = c->ooo_head;

	while (x != NULL && nr < RTE_DIM(runs)) {
		uint32_t xs = CHAIN_SEQ(x), xe = xs + x->pkt_len;

		if (nr > 0 && runs[nr - 1][1] == xs)
			runs[nr - 1][1] = xe;
		else {
			runs[nr][0] = xs;
			runs[nr][1] = xe;
			nr++;
		}
		x = chain_last(x)->next;
	}
	for (unsigned int i = 0; i < nr; i++)
		if (seq_geq(c->ooo_last_seq, runs[i][0]) &&
		    seq_lt(c->ooo_last_seq, runs[i][1]))
			first = i;
	if (first != UINT32_MAX && max > 0) {
		blk[nb][0] = runs[first][0];
		blk[nb][1] = runs[first][1];
		nb++;
	}
	for (unsigned int i = 0; i < nr && nb < max; i++) {
		if (i == first)
			continue;
		blk[nb][0] = runs[i][0];
		blk[nb][1] = runs[i][1];
		nb++;
	}
	return nb;
}

/* ------------------------------------------------------------------
 * Sender side: the scoreboard of what the peer reports SACKed (RFC 6675),
 * used to retransmit only the holes during recovery and to skip SACKed
 * data after a timeout.
 * ---------------------------------------------------------------- */

static void
sb_recount(struct tcp_conn *c)
{
	c->sb_bytes = 0;
	for (unsigned int i = 0; i < c->nsb; i++)
		c->sb_bytes += c->sb[i][1] - c->sb[i][0];
}

void
tcp_sb_clear(struct tcp_conn *c)
{
	c->nsb = 0;
	c->sb_bytes = 0;
}

/* Forget what snd_una has passed. */
void
tcp_sb_trim(struct tcp_conn *c)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < c->nsb; i++) {
		if (seq_leq(c->sb[i][1], c->snd_una))
			continue;
		c->sb[k][0] = seq_max(c->sb[i][0], c->snd_una);
		c->sb[k][1] = c->sb[i][1];
		k++;
	}
	c->nsb = (uint8_t)k;
	sb_recount(c);
}

/* Merge the SACK blocks of an ACK (only sane ones: inside
 * (snd_una, snd_max]). When full, the highest range is given up: holes
 * near snd_una matter most. */
void
tcp_sb_update(struct tcp_conn *c, const struct tcp_opts *o)
{
	for (unsigned int b = 0; b < o->nsack; b++) {
		uint32_t s = o->sack[b][0], e = o->sack[b][1];
		unsigned int i, j;

		if (!seq_lt(s, e) || !seq_gt(e, c->snd_una) ||
		    seq_gt(e, c->snd_max))
			continue;
		s = seq_max(s, c->snd_una);
		/* Absorb every range that touches [s, e). */
		for (i = 0, j = 0; i < c->nsb; i++) {
			if (seq_lt(c->sb[i][1], s) || seq_gt(c->sb[i][0], e)) {
				c->sb[j][0] = c->sb[i][0];
				c->sb[j][1] = c->sb[i][1];
				j++;
				continue;
			}
			s = seq_min(s, c->sb[i][0]);
			e = seq_max(e, c->sb[i][1]);
		}
		c->nsb = (uint8_t)j;
		/* Insert sorted. */
		for (i = 0; i < c->nsb && seq_lt(c->sb[i][0], s); i++)
			;
		if (c->nsb == TCP_SB_MAX) {
			if (i == TCP_SB_MAX)
				continue;
			c->nsb--;
		}
		memmove(&c->sb[i + 1], &c->sb[i],
			(c->nsb - i) * sizeof(c->sb[0]));
		c->sb[i][0] = s;
		c->sb[i][1] = e;
		c->nsb++;
	}
	sb_recount(c);
}

/* First range at or after from that is not SACKed and lies below the
 * highest SACKed byte (RFC 6675 NextSeg rule 1, with every such hole
 * deemed lost). */
bool
tcp_sb_hole(const struct tcp_conn *c, uint32_t from, uint32_t *start,
	    uint32_t *len)
{
	uint32_t x = seq_max(from, c->snd_una);

	for (unsigned int i = 0; i < c->nsb; i++) {
		if (seq_geq(x, c->sb[i][1]))
			continue;
		if (seq_lt(x, c->sb[i][0])) {
			*start = x;
			*len = c->sb[i][0] - x;
			return true;
		}
		x = c->sb[i][1];
	}
	return false;
}

/* Hole bytes at or after from below the highest SACKed byte. */
uint32_t
tcp_sb_lost(const struct tcp_conn *c, uint32_t from)
{
	uint32_t x = seq_max(from, c->snd_una), lost = 0;

	for (unsigned int i = 0; i < c->nsb; i++) {
		if (seq_geq(x, c->sb[i][1]))
			continue;
		if (seq_lt(x, c->sb[i][0]))
			lost += c->sb[i][0] - x;
		x = c->sb[i][1];
	}
	return lost;
}
