/* SPDX-License-Identifier: Apache-2.0 */
/* Per-lcore stack context: RX dispatch, TX batching, metrics. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "net_priv.h"

static const char *const drop_names[] = {
#define FMQ_NET_DROP(name, help) #name,
#include "net_drop.def"
#undef FMQ_NET_DROP
};

const char *
fmq_net_drop_name(enum fmq_net_drop why)
{
	static char lower[FMQ_NET_DROP_MAX][32];

	if ((unsigned int)why >= FMQ_NET_DROP_MAX)
		return "unknown";
	if (lower[why][0] == '\0') {
		const char *s = drop_names[why];
		size_t i;
		for (i = 0; s[i] != '\0' && i < sizeof(lower[0]) - 1; i++)
			lower[why][i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ?
					       s[i] - 'A' + 'a' : s[i]);
		lower[why][i] = '\0';
	}
	return lower[why];
}

static uint16_t
default_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	struct fmq_net *net = arg;

	return rte_eth_tx_burst(net->port_id, net->queue_id, pkts, n);
}

struct fmq_net *
fmq_net_create(const struct fmq_net_conf *conf, struct rte_mempool *mp,
	       uint16_t port_id, uint16_t queue_id, int socket)
{
	struct fmq_net *n;

	n = rte_zmalloc_socket("fmq_net", sizeof(*n), RTE_CACHE_LINE_SIZE,
			       socket);
	if (n == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	n->conf = *conf;
	if (n->conf.arp_timeout_ns == 0)
		n->conf.arp_timeout_ns = 60ull * 1000 * 1000 * 1000;
	if (n->conf.arp_retry_ns == 0)
		n->conf.arp_retry_ns = 1000ull * 1000 * 1000;
	n->netmask = conf->prefix == 0 ? 0 :
		rte_cpu_to_be_32(~0u << (32 - conf->prefix));
	n->mp = mp;
	n->port_id = port_id;
	n->queue_id = queue_id;
	n->tx = default_tx;
	n->tx_arg = n;
	return n;
}

void
fmq_net_free(struct fmq_net *n)
{
	if (n == NULL)
		return;
	net_arp_flush_all(n);
	rte_pktmbuf_free_bulk(n->txq, n->ntx);
	rte_free(n);
}

void
fmq_net_set_tx(struct fmq_net *n, fmq_net_tx_fn fn, void *arg)
{
	n->tx = fn;
	n->tx_arg = arg;
}

void
fmq_net_set_l4(struct fmq_net *n, uint8_t proto, fmq_net_l4_fn fn)
{
	n->l4[proto] = fn;
}

const struct fmq_net_stats *
fmq_net_stats(const struct fmq_net *n)
{
	return &n->st;
}

const struct fmq_net_conf *
fmq_net_conf(const struct fmq_net *n)
{
	return &n->conf;
}

void
fmq_net_count_drop(struct fmq_net *n, enum fmq_net_drop why)
{
	n->st.drop[why]++;
}

void
net_tx_flush(struct fmq_net *n)
{
	uint16_t sent;

	if (n->ntx == 0)
		return;
	sent = n->tx(n->tx_arg, n->txq, n->ntx);
	for (uint16_t i = 0; i < sent; i++) {
		n->st.tx_pkts++;
		n->st.tx_bytes += n->txq[i]->pkt_len;
	}
	if (sent < n->ntx) {
		n->st.tx_dropped += n->ntx - sent;
		rte_pktmbuf_free_bulk(&n->txq[sent], n->ntx - sent);
	}
	n->ntx = 0;
}

void
net_tx_frame(struct fmq_net *n, struct rte_mbuf *m)
{
	if (n->ntx == NET_TX_BURST)
		net_tx_flush(n);
	n->txq[n->ntx++] = m;
}

static inline void
eth_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now)
{
	const struct rte_ether_hdr *eh;

	n->st.rx_pkts++;
	n->st.rx_bytes += m->pkt_len;
	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*eh))) {
		net_drop(n, m, FMQ_NET_DROP_ETH_SHORT);
		return;
	}
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (unlikely(!rte_is_same_ether_addr(&eh->dst_addr, &n->conf.mac) &&
		     !rte_is_broadcast_ether_addr(&eh->dst_addr))) {
		net_drop(n, m, FMQ_NET_DROP_ETH_NOT_FOR_US);
		return;
	}
	switch (eh->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		net_ipv4_input(n, m, now);
		return;
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		net_arp_input(n, m, now);
		return;
	default:
		net_drop(n, m, FMQ_NET_DROP_ETH_UNKNOWN_TYPE);
	}
}

void
fmq_net_rx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb,
	   uint64_t now_ns)
{
	for (uint16_t i = 0; i < nb; i++) {
		if (i + 2 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void *));
		eth_input(n, pkts[i], now_ns);
	}
	net_tx_flush(n);
}

void
fmq_net_poll(struct fmq_net *n, uint64_t now_ns)
{
	if (now_ns >= n->next_arp_scan_ns) {
		n->next_arp_scan_ns = now_ns + ARP_SCAN_NS;
		net_arp_timers(n, now_ns);
	}
	net_tx_flush(n);
}

void
fmq_net_metrics(struct fmq_metrics_out *out, void *arg)
{
	const struct fmq_net_metrics_set *set = arg;
	char lbl[128];

#define PER_LCORE(name, type, help, field) \
	do { \
		fmq_metrics_family(out, name, type, help); \
		for (unsigned int i = 0; i < set->n; i++) { \
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\"", i); \
			fmq_metrics_u64(out, name, lbl, set->nets[i]->st.field); \
		} \
	} while (0)

	PER_LCORE("fluxmq_net_rx_packets_total", "counter",
		  "Frames received by the stack", rx_pkts);
	PER_LCORE("fluxmq_net_rx_bytes_total", "counter",
		  "Bytes received by the stack", rx_bytes);
	PER_LCORE("fluxmq_net_tx_packets_total", "counter",
		  "Frames the driver accepted", tx_pkts);
	PER_LCORE("fluxmq_net_tx_bytes_total", "counter",
		  "Bytes the driver accepted", tx_bytes);
	PER_LCORE("fluxmq_net_tx_dropped_total", "counter",
		  "Frames the driver did not accept (TX ring full)", tx_dropped);
	PER_LCORE("fluxmq_net_arp_rx_total", "counter",
		  "ARP packets received", arp_rx);
	PER_LCORE("fluxmq_net_arp_tx_total", "counter",
		  "ARP packets sent (replies, requests, gratuitous)", arp_tx);
	PER_LCORE("fluxmq_net_icmp_echo_total", "counter",
		  "ICMP echo requests answered", icmp_echo);
#undef PER_LCORE
	fmq_metrics_family(out, "fluxmq_net_rx_dropped_total", "counter",
			   "Received packets dropped, by reason");
	for (unsigned int r = 0; r < FMQ_NET_DROP_MAX; r++) {
		for (unsigned int i = 0; i < set->n; i++) {
			snprintf(lbl, sizeof(lbl),
				 "lcore=\"%u\",reason=\"%s\"", i,
				 fmq_net_drop_name(r));
			fmq_metrics_u64(out, "fluxmq_net_rx_dropped_total",
					lbl, set->nets[i]->st.drop[r]);
		}
	}
}
