/* SPDX-License-Identifier: Apache-2.0 */
/* Per-lcore stack context: RX dispatch, TX batching, metrics. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "tcp_priv.h"

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
	if (tcp_init(n, socket) < 0 || net_impair_init(n, socket) < 0) {
		fmq_net_free(n);
		rte_errno = ENOMEM;
		return NULL;
	}
	tcp_services_start(n);
	return n;
}

void
fmq_net_free(struct fmq_net *n)
{
	if (n == NULL)
		return;
	tcp_fini(n);
	net_impair_fini(n);
	net_arp_flush_all(n);
	rte_pktmbuf_free_bulk(n->txq, n->ntx);
	rte_pktmbuf_free_bulk(n->hold, n->nhold);
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
net_tx_driver(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb)
{
	uint16_t sent;

	if (nb == 0 && n->nhold == 0)
		return;
	/* Earlier refused frames go first, so nothing is reordered. */
	if (n->nhold > 0) {
		sent = n->tx(n->tx_arg, n->hold, n->nhold);
		for (uint16_t i = 0; i < sent; i++) {
			n->st.tx_pkts++;
			n->st.tx_bytes += n->hold[i]->pkt_len;
		}
		if (sent == 0 && ++n->hold_fails >= 8) {
			/* The driver keeps refusing this one frame (a PMD
			 * that stops a burst at a frame it cannot take): drop
			 * it so the rest can go. */
			n->st.tx_dropped++;
			rte_pktmbuf_free(n->hold[0]);
			sent = 1;
		}
		if (sent > 0)
			n->hold_fails = 0;
		memmove(n->hold, n->hold + sent,
			(n->nhold - sent) * sizeof(n->hold[0]));
		n->nhold = (uint16_t)(n->nhold - sent);
	}
	sent = 0;
	if (n->nhold == 0) {
		sent = n->tx(n->tx_arg, pkts, nb);
		for (uint16_t i = 0; i < sent; i++) {
			n->st.tx_pkts++;
			n->st.tx_bytes += pkts[i]->pkt_len;
		}
	}
	/* Keep what the ring did not take for the next flush; past the
	 * hold queue, drop (counted) rather than grow without bound. */
	uint16_t keep = (uint16_t)RTE_MIN((uint32_t)(nb - sent),
					  (uint32_t)(NET_TX_HOLD - n->nhold));
	memcpy(n->hold + n->nhold, pkts + sent, keep * sizeof(pkts[0]));
	n->nhold = (uint16_t)(n->nhold + keep);
	if (sent + keep < nb) {
		n->st.tx_dropped += nb - sent - keep;
		rte_pktmbuf_free_bulk(pkts + sent + keep, nb - sent - keep);
	}
}

void
net_tx_flush(struct fmq_net *n)
{
	uint16_t nb = n->ntx;

	if (nb == 0) {
		if (n->nhold > 0)
			net_tx_driver(n, n->txq, 0);
		return;
	}
	/* Reset first: the impairment may queue more frames. */
	n->ntx = 0;
	if (n->imp != NULL)
		net_impair_tx(n, n->txq, nb);
	else
		net_tx_driver(n, n->txq, nb);
}

void
net_tx_frame(struct fmq_net *n, struct rte_mbuf *m)
{
	if (n->ntx == NET_TX_BURST)
		net_tx_flush(n);
	n->txq[n->ntx++] = m;
}

void
net_eth_input(struct fmq_net *n, struct rte_mbuf *m, uint64_t now)
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
	tcp_ctx(n)->now = now_ns;
	tcp_mem_update(n);
	if (n->imp != NULL) {
		net_impair_rx(n, pkts, nb, now_ns);
	} else {
		for (uint16_t i = 0; i < nb; i++) {
			if (i + 2 < nb)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2],
							       void *));
			net_eth_input(n, pkts[i], now_ns);
		}
	}
	tcp_flush_pending(n);
	net_tx_flush(n);
}

void
fmq_net_poll(struct fmq_net *n, uint64_t now_ns)
{
	tcp_ctx(n)->now = now_ns;
	tcp_mem_update(n);
	if (n->imp != NULL)
		net_impair_poll(n, now_ns);
	tcp_timers_run(n, now_ns);
	tcp_flush_pending(n);
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
	PER_LCORE("fluxmq_net_tx_sw_l4_csum_total", "counter",
		  "Frames whose L4 checksum was computed in software although the port offloads it (odd-length inner segment)",
		  tx_sw_l4_csum);
	PER_LCORE("fluxmq_net_arp_rx_total", "counter",
		  "ARP packets received", arp_rx);
	PER_LCORE("fluxmq_net_arp_tx_total", "counter",
		  "ARP packets sent (replies, requests, gratuitous)", arp_tx);
	PER_LCORE("fluxmq_net_icmp_echo_total", "counter",
		  "ICMP echo requests answered", icmp_echo);
	PER_LCORE("fluxmq_tcp_connections_active", "gauge",
		  "TCP connections not CLOSED (TIME_WAIT included)", tcp_active);
	PER_LCORE("fluxmq_tcp_connections_time_wait", "gauge",
		  "TCP connections in TIME_WAIT", tcp_time_wait);
	PER_LCORE("fluxmq_tcp_time_wait_recycled_total", "counter",
		  "TIME_WAIT connections ended early because the table was full",
		  tcp_tw_recycled);
	PER_LCORE("fluxmq_tcp_passive_opens_total", "counter",
		  "TCP handshakes completed as server", tcp_passive_opens);
	PER_LCORE("fluxmq_tcp_active_opens_total", "counter",
		  "TCP connections opened by us (SYN sent)", tcp_active_opens);
	PER_LCORE("fluxmq_tcp_refused_total", "counter",
		  "SYNs refused by net.max.connections / net.tcp.syn_backlog",
		  tcp_refused);
	PER_LCORE("fluxmq_tcp_rst_closed_port_total", "counter",
		  "Segments for no connection or listener answered by RST",
		  tcp_rst_closed);
	PER_LCORE("fluxmq_tcp_resets_received_total", "counter",
		  "Connections reset by the peer", tcp_resets_rx);
	PER_LCORE("fluxmq_tcp_resets_sent_total", "counter",
		  "Connections we reset (abort, timeout, refused accept)",
		  tcp_resets_tx);
	PER_LCORE("fluxmq_tcp_timeouts_total", "counter",
		  "Connections given up after retransmission or keepalive timeouts",
		  tcp_timeouts);
	PER_LCORE("fluxmq_tcp_segments_received_total", "counter",
		  "TCP segments received", tcp_seg_in);
	PER_LCORE("fluxmq_tcp_segments_sent_total", "counter",
		  "TCP segments sent", tcp_seg_out);
	PER_LCORE("fluxmq_tcp_bytes_received_total", "counter",
		  "TCP payload bytes received in order", tcp_bytes_in);
	PER_LCORE("fluxmq_tcp_bytes_sent_total", "counter",
		  "TCP payload bytes sent (first transmissions)", tcp_bytes_out);
	PER_LCORE("fluxmq_tcp_retransmits_timeout_total", "counter",
		  "Retransmission timeouts", tcp_retrans_timeout);
	PER_LCORE("fluxmq_tcp_retransmits_fast_total", "counter",
		  "Fast retransmits and NewReno partial-ACK retransmits",
		  tcp_retrans_fast);
	PER_LCORE("fluxmq_tcp_retransmitted_bytes_total", "counter",
		  "TCP payload bytes sent again", tcp_retrans_bytes);
	PER_LCORE("fluxmq_tcp_out_of_order_total", "counter",
		  "Out-of-order segments queued for reassembly", tcp_ooo);
	PER_LCORE("fluxmq_tcp_dup_acks_total", "counter",
		  "Duplicate ACKs received", tcp_dupacks);
	PER_LCORE("fluxmq_tcp_challenge_acks_total", "counter",
		  "RFC 5961 challenge ACKs sent", tcp_challenge_acks);
	PER_LCORE("fluxmq_tcp_zero_window_probes_total", "counter",
		  "Zero-window probes sent", tcp_zwp);
	PER_LCORE("fluxmq_tcp_tail_loss_probes_total", "counter",
		  "Tail loss probes sent (RFC 8985)", tcp_tlp);
	PER_LCORE("fluxmq_tcp_tail_loss_probes_second_total", "counter",
		  "Second tail loss probes: the first one got no ACK, the RTO was not waited for",
		  tcp_tlp2);
	PER_LCORE("fluxmq_tcp_rack_recoveries_total", "counter",
		  "Loss recoveries started by RACK time-based detection (RFC 8985)",
		  tcp_rack_loss);
	PER_LCORE("fluxmq_tcp_spurious_recoveries_total", "counter",
		  "Fast recoveries undone: the timestamp (RFC 3522) or DSACKs (RFC 2883) showed reordering, not loss",
		  tcp_undo);
	PER_LCORE("fluxmq_tcp_keepalive_probes_total", "counter",
		  "Keepalive probes sent", tcp_ka_probes);
	PER_LCORE("fluxmq_tcp_delayed_acks_total", "counter",
		  "ACKs sent by the delayed-ACK timer", tcp_delacks);
	PER_LCORE("fluxmq_net_mbufs_held", "gauge",
		  "mbufs held by the stack (send/reassembly/receive queues, impairment)",
		  mbufs_held);
#undef PER_LCORE
	static const char *const dirs[2] = { "rx", "tx" };
	static const struct {
		const char *kind;
		size_t off;
	} imp[] = {
		{ "loss", offsetof(struct fmq_net_stats, imp_loss) },
		{ "duplicate", offsetof(struct fmq_net_stats, imp_dup) },
		{ "reorder", offsetof(struct fmq_net_stats, imp_reorder) },
		{ "corrupt", offsetof(struct fmq_net_stats, imp_corrupt) },
		{ "delay", offsetof(struct fmq_net_stats, imp_delayed) },
	};
	fmq_metrics_family(out, "fluxmq_net_impair_total", "counter",
			   "Frames impaired by net.impair.* (test/diagnostic feature)");
	for (unsigned int k = 0; k < RTE_DIM(imp); k++)
		for (unsigned int d = 0; d < 2; d++)
			for (unsigned int i = 0; i < set->n; i++) {
				const uint64_t *v = (const uint64_t *)
					((const char *)&set->nets[i]->st +
					 imp[k].off);
				snprintf(lbl, sizeof(lbl),
					 "lcore=\"%u\",dir=\"%s\",kind=\"%s\"",
					 i, dirs[d], imp[k].kind);
				fmq_metrics_u64(out, "fluxmq_net_impair_total",
						lbl, v[d]);
			}
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
