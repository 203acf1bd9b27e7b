/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-layer impairment, a TEST AND DIAGNOSTIC feature (net.impair.*):
 * this kernel has no netem, and the load generator tests the stack against
 * itself over memif. Per direction: loss, duplicate, reorder (hold a frame
 * back behind the next 1-3), corrupt (flip one byte; checksums are then
 * verified or computed in software so the corruption is seen like a wire
 * error), and a fixed delay. Off unless a key is set; every action counted.
 *
 * Only frames are touched here, never the stack's queues: a duplicated or
 * corrupted TX frame is a deep copy (its payload mbufs are shared with the
 * retransmit queue and must stay intact).
 */
#include <errno.h>

#include <rte_malloc.h>

#include "tcp_priv.h"

#define IMP_DELAY_Q 8192      /* frames in flight in the delay line */
#define IMP_REORDER_MAX_NS (20ull * 1000 * 1000)
#define IMP_BURST 64

struct imp_dir {
	struct fmq_net_impair_dir cfg;
	uint64_t p_loss, p_dup, p_reorder, p_corrupt;  /* of 2^32 */
	bool on;
	/* Reorder: one frame held until `hold_left` more have passed. */
	struct rte_mbuf *held;
	uint32_t hold_left;
	uint64_t held_ns;
	/* Delay line (FIFO, release time per frame). */
	struct rte_mbuf *dq[IMP_DELAY_Q];
	uint64_t dt[IMP_DELAY_Q];
	uint32_t dhead, dcnt;
};

struct net_impair {
	uint64_t rng;
	struct imp_dir d[2];   /* 0 rx, 1 tx */
};

static inline uint32_t
rnd(struct net_impair *im)
{
	/* xorshift64*: cheap, seeded from net.impair.seed. */
	uint64_t x = im->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	im->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint64_t
frac(double f)
{
	return (uint64_t)(f * 4294967296.0);
}

int
net_impair_init(struct fmq_net *n, int socket)
{
	const struct fmq_net_impair *c = &n->conf.impair;
	struct net_impair *im;
	const struct fmq_net_impair_dir *src[2] = { &c->rx, &c->tx };
	bool any = false;

	for (int i = 0; i < 2; i++)
		any |= src[i]->loss > 0 || src[i]->duplicate > 0 ||
		       src[i]->reorder > 0 || src[i]->corrupt > 0 ||
		       src[i]->delay_us > 0;
	if (!any)
		return 0;
	im = rte_zmalloc_socket("fmq_impair", sizeof(*im), 0, socket);
	if (im == NULL)
		return -ENOMEM;
	im->rng = (c->seed ? c->seed : 1) * 0x9E3779B97F4A7C15ull +
		  n->queue_id + 1;
	for (int i = 0; i < 2; i++) {
		struct imp_dir *d = &im->d[i];

		d->cfg = *src[i];
		d->p_loss = frac(d->cfg.loss);
		d->p_dup = frac(d->cfg.duplicate);
		d->p_reorder = frac(d->cfg.reorder);
		d->p_corrupt = frac(d->cfg.corrupt);
		d->on = d->p_loss || d->p_dup || d->p_reorder ||
			d->p_corrupt || d->cfg.delay_us;
	}
	n->imp = im;
	return 0;
}

void
net_impair_fini(struct fmq_net *n)
{
	struct net_impair *im = n->imp;

	if (im == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		struct imp_dir *d = &im->d[i];

		rte_pktmbuf_free(d->held);
		while (d->dcnt > 0) {
			rte_pktmbuf_free(d->dq[d->dhead]);
			d->dhead = (d->dhead + 1) % IMP_DELAY_Q;
			d->dcnt--;
		}
	}
	rte_free(im);
	n->imp = NULL;
}

/* Complete checksums in software (a TX frame that leaves with offload
 * flags would get a fresh, valid checksum from the NIC after we corrupt
 * it). */
static void
finish_csums(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;

	if (!(m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)))
		return;
	if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) +
	    sizeof(*ip))
		return;
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
				     sizeof(struct rte_ether_hdr));
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (l4 == RTE_MBUF_F_TX_TCP_CKSUM) {
		uint16_t *sum = (uint16_t *)((char *)(ip + 1) + 16);
		*sum = 0;
		*sum = net_l4_cksum(m, ip, sizeof(struct rte_ether_hdr) +
				    sizeof(*ip));
	}
	m->ol_flags &= ~(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IP_CKSUM |
			 RTE_MBUF_F_TX_IPV4);
}

static void
flip_byte(struct net_impair *im, struct rte_mbuf *m)
{
	uint32_t off, len = m->pkt_len;

	if (len <= sizeof(struct rte_ether_hdr))
		return;
	/* Past the Ethernet header: what a checksum is meant to catch. */
	off = (uint32_t)sizeof(struct rte_ether_hdr) +
	      rnd(im) % (len - (uint32_t)sizeof(struct rte_ether_hdr));
	for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
		if (off < s->data_len) {
			*rte_pktmbuf_mtod_offset(s, uint8_t *, off) ^=
				(uint8_t)(1u << (rnd(im) & 7));
			return;
		}
		off -= s->data_len;
	}
}

/*
 * Apply loss / corrupt / duplicate / reorder to nb frames of direction
 * dir; survivors go to out[] (capacity 2 * nb + 1). Returns their count.
 */
static uint16_t
impair_burst(struct fmq_net *n, int dir, struct rte_mbuf **pkts, uint16_t nb,
	     struct rte_mbuf **out, uint64_t now)
{
	struct net_impair *im = n->imp;
	struct imp_dir *d = &im->d[dir];
	uint16_t k = 0;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];

		if (d->p_loss && rnd(im) < d->p_loss) {
			n->st.imp_loss[dir]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (d->p_corrupt && rnd(im) < d->p_corrupt) {
			if (dir == 1) {
				/* Private copy: payload mbufs are shared. */
				struct rte_mbuf *cp = rte_pktmbuf_copy(m,
						n->mp, 0, UINT32_MAX);
				rte_pktmbuf_free(m);
				if (cp == NULL) {
					n->st.drop[FMQ_NET_DROP_NO_MBUF]++;
					continue;
				}
				m = cp;
				finish_csums(m);
			} else {
				/* Make the stack verify in software. */
				m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK |
						 RTE_MBUF_F_RX_L4_CKSUM_MASK);
			}
			flip_byte(im, m);
			n->st.imp_corrupt[dir]++;
		}
		if (d->p_dup && rnd(im) < d->p_dup) {
			struct rte_mbuf *cp = rte_pktmbuf_copy(m, n->mp, 0,
							       UINT32_MAX);
			if (cp != NULL) {
				n->st.imp_dup[dir]++;
				out[k++] = cp;
			}
		}
		if (d->held == NULL && d->p_reorder &&
		    rnd(im) < d->p_reorder) {
			d->held = m;
			d->hold_left = 1 + rnd(im) % 3;
			d->held_ns = now;
			n->st.imp_reorder[dir]++;
			n->st.mbufs_held += m->nb_segs;
			continue;
		}
		out[k++] = m;
		if (d->held != NULL && --d->hold_left == 0) {
			n->st.mbufs_held -= d->held->nb_segs;
			out[k++] = d->held;
			d->held = NULL;
		}
	}
	return k;
}

/* Put frames on the delay line, or pass them on when there is none. */
static void
impair_emit(struct fmq_net *n, int dir, struct rte_mbuf **pkts, uint16_t nb,
	    uint64_t now)
{
	struct imp_dir *d = &n->imp->d[dir];

	if (d->cfg.delay_us == 0) {
		if (dir == 0)
			for (uint16_t i = 0; i < nb; i++)
				net_eth_input(n, pkts[i], now);
		else
			net_tx_driver(n, pkts, nb);
		return;
	}
	for (uint16_t i = 0; i < nb; i++) {
		if (d->dcnt == IMP_DELAY_Q) {
			/* Line full: the frame is lost like on a full queue. */
			n->st.imp_loss[dir]++;
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		uint32_t tail = (d->dhead + d->dcnt) % IMP_DELAY_Q;
		d->dq[tail] = pkts[i];
		d->dt[tail] = now + d->cfg.delay_us * 1000ull;
		d->dcnt++;
		n->st.imp_delayed[dir]++;
		n->st.mbufs_held += pkts[i]->nb_segs;
	}
}

void
net_impair_rx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb,
	      uint64_t now)
{
	struct rte_mbuf *out[2 * IMP_BURST + 1];

	if (!n->imp->d[0].on) {
		for (uint16_t i = 0; i < nb; i++)
			net_eth_input(n, pkts[i], now);
		return;
	}
	for (uint16_t off = 0; off < nb; off += IMP_BURST) {
		uint16_t c = (uint16_t)(nb - off > IMP_BURST ? IMP_BURST :
					nb - off);
		uint16_t k = impair_burst(n, 0, pkts + off, c, out, now);
		impair_emit(n, 0, out, k, now);
	}
}

void
net_impair_tx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb)
{
	struct rte_mbuf *out[2 * IMP_BURST + 1];
	uint64_t now = n->tcp->now;

	if (!n->imp->d[1].on) {
		net_tx_driver(n, pkts, nb);
		return;
	}
	for (uint16_t off = 0; off < nb; off += IMP_BURST) {
		uint16_t c = (uint16_t)(nb - off > IMP_BURST ? IMP_BURST :
					nb - off);
		uint16_t k = impair_burst(n, 1, pkts + off, c, out, now);
		impair_emit(n, 1, out, k, now);
	}
}

/* Release due frames of the delay lines and reorder holds gone stale. */
void
net_impair_poll(struct fmq_net *n, uint64_t now)
{
	struct net_impair *im = n->imp;

	for (int dir = 0; dir < 2; dir++) {
		struct imp_dir *d = &im->d[dir];
		struct rte_mbuf *burst[IMP_BURST];
		uint16_t k = 0;

		if (d->held != NULL && now - d->held_ns > IMP_REORDER_MAX_NS) {
			struct rte_mbuf *m = d->held;

			d->held = NULL;
			n->st.mbufs_held -= m->nb_segs;
			impair_emit(n, dir, &m, 1, now);
		}
		while (d->dcnt > 0 && d->dt[d->dhead] <= now) {
			burst[k] = d->dq[d->dhead];
			n->st.mbufs_held -= burst[k]->nb_segs;
			k++;
			d->dhead = (d->dhead + 1) % IMP_DELAY_Q;
			d->dcnt--;
			if (k == IMP_BURST || d->dcnt == 0 ||
			    d->dt[d->dhead] > now) {
				if (dir == 0)
					for (uint16_t i = 0; i < k; i++)
						net_eth_input(n, burst[i], now);
				else
					net_tx_driver(n, burst, k);
				k = 0;
			}
		}
	}
}
