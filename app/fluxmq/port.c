/* SPDX-License-Identifier: Apache-2.0 */
/* Port bring-up from a drivers-config profile chosen by driver name. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <numa.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "app.h"
#include "steer.h"

#define APP_MBUF_CACHE 256

/* Symmetric Toeplitz key: 0x6d5a repeated gives the same hash both ways. */
static uint8_t rss_sym_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

static int
parse_tri(const char *v, enum tri *out)
{
	if (strcmp(v, "auto") == 0)
		*out = TRI_AUTO;
	else if (strcmp(v, "on") == 0)
		*out = TRI_ON;
	else if (strcmp(v, "off") == 0)
		*out = TRI_OFF;
	else
		return -EINVAL;
	return 0;
}

static int
parse_num(const char *v, long lo, long hi, long *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}

static int
profile_kv(void *arg, const char *key, const char *val, const char *src,
	   int line, char *err, size_t errlen)
{
	struct port_profile *p = arg;
	long x;

#define BAD(why) do { snprintf(err, errlen, "%s:%d: %s: %s", src, line, key, \
			       why); return -EINVAL; } while (0)
	if (strcmp(key, "rx.queues") == 0) {
		if (strcmp(val, "auto") == 0)
			p->rx_queues = 0;
		else if (parse_num(val, 1, 1024, &x) == 0)
			p->rx_queues = (int)x;
		else
			BAD("expected auto or 1..1024");
	} else if (strcmp(key, "rx.desc") == 0 || strcmp(key, "tx.desc") == 0) {
		if (parse_num(val, 64, 32768, &x) < 0)
			BAD("expected 64..32768");
		if (key[0] == 'r')
			p->rx_desc = (uint16_t)x;
		else
			p->tx_desc = (uint16_t)x;
	} else if (strcmp(key, "mtu") == 0) {
		if (parse_num(val, 576, 9600, &x) < 0)
			BAD("expected 576..9600");
		p->mtu = (uint16_t)x;
	} else if (strcmp(key, "offload.rx.checksum") == 0) {
		if (parse_tri(val, &p->rx_csum) < 0)
			BAD("expected auto, on or off");
	} else if (strcmp(key, "offload.tx.checksum") == 0) {
		if (parse_tri(val, &p->tx_csum) < 0)
			BAD("expected auto, on or off");
	} else if (strcmp(key, "offload.tso") == 0) {
		if (parse_tri(val, &p->tso) < 0)
			BAD("expected auto, on or off");
	} else if (strcmp(key, "rx.interrupts") == 0) {
		if (parse_tri(val, &p->rx_intr) < 0)
			BAD("expected auto, on or off");
	} else if (strcmp(key, "disconnect.guard") == 0) {
		if (strcmp(val, "on") == 0)
			p->disconnect_guard = true;
		else if (strcmp(val, "off") == 0)
			p->disconnect_guard = false;
		else
			BAD("expected on or off");
	} else if (strcmp(key, "rss") == 0) {
		if (strcmp(val, "off") == 0)
			p->rss_symmetric = false;
		else if (strcmp(val, "symmetric") == 0)
			p->rss_symmetric = true;
		else
			BAD("expected off or symmetric");
	} else {
		BAD("unknown key");
	}
#undef BAD
	return 0;
}

int
app_profile_load(struct port_profile *p, const char *path, char *err,
		 size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->rx_desc = 1024;
	p->tx_desc = 1024;
	p->mtu = 1500;
	snprintf(p->path, sizeof(p->path), "%s", path);
	return fmq_kv_parse_file(path, profile_kv, p, err, errlen);
}

const char *
app_profile_dir(const struct fmq_config *cfg, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (cfg->drivers_config_dir[0] != '\0')
		return cfg->drivers_config_dir;
	/* Run from a build directory: use the source tree's profiles. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strncmp(exe, FMQ_SOURCE_DIR "/", strlen(FMQ_SOURCE_DIR) + 1) == 0) {
			snprintf(buf, len, "%s/drivers-config", FMQ_SOURCE_DIR);
			return buf;
		}
	}
	snprintf(buf, len, "%s/drivers-config", FMQ_DATA_DIR);
	return buf;
}

static int
load_profile_for(struct app *a, const char *driver, char *err, size_t errlen)
{
	char dirbuf[PATH_MAX], path[PATH_MAX + 64];
	const char *dir = app_profile_dir(&a->cfg, dirbuf, sizeof(dirbuf));

	snprintf(path, sizeof(path), "%s/%s.conf", dir, driver);
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "%s/default.conf", dir);
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen,
			 "no drivers-config profile for %s in %s (set drivers.config.dir)",
			 driver, dir);
		return -ENOENT;
	}
	return app_profile_load(&a->port.prof, path, err, errlen);
}

/* Decide one offload from the profile and the port's capability. */
static int
want_offload(enum tri t, bool capable, const char *what, bool *out, char *err,
	     size_t errlen)
{
	if (t == TRI_ON && !capable) {
		snprintf(err, errlen,
			 "profile requires %s but the port does not offer it", what);
		return -ENOTSUP;
	}
	*out = t != TRI_OFF && capable;
	return 0;
}

/*
 * The NUMA layout placement works on: how many nodes, and each data
 * lcore's. numa.nodes=0 takes the host's (libnuma's node count, raised to
 * cover every data lcore's DPDK socket). numa.nodes=N forces N; when the
 * host does not have N nodes the layout is injected: data lcore i is put
 * on node i mod N, so a multi-node split can be exercised anywhere (the
 * port then counts as being on no particular node).
 */
_Static_assert(FMQ_PLACE_MAX_NODES == FMQ_LOG_MAX_NODES,
	       "placement and the log split over the same nodes");

static void
numa_layout(struct app *a)
{
	unsigned int host = 1, lid, li = 0;
	int sock[APP_MAX_DATA_LCORES];
	bool inject;

	if (numa_available() >= 0 && numa_max_node() >= 0)
		host = (unsigned int)numa_max_node() + 1;
	RTE_LCORE_FOREACH_WORKER(lid) {
		if (li == a->n_data)
			break;
		sock[li++] = (int)rte_lcore_to_socket_id(lid);
	}
	for (; li < a->n_data; li++)
		sock[li] = -1;
	a->n_nodes = fmq_place_nodes(host, sock, a->n_data,
				     (unsigned int)a->cfg.numa_nodes,
				     a->lcore_node, &inject);
	a->numa_injected = inject;
	if (a->n_nodes > 1)
		FMQ_INFO("numa", "%u NUMA nodes (%s)", a->n_nodes, inject ?
			 "numa.nodes forced: data lcore i on node i mod N" :
			 a->cfg.numa_nodes == 0 ? "detected" : "numa.nodes");
}

int
app_port_init(struct app *a, char *err, size_t errlen)
{
	struct port_state *ps = &a->port;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t pid = RTE_MAX_ETHPORTS;
	uint16_t nq, mtu;
	int rc;

	RTE_ETH_FOREACH_DEV(pid)
		break;
	if (pid >= RTE_MAX_ETHPORTS) {
		snprintf(err, errlen, "no Ethernet port: give one with --vdev or "
			 "-a <pci>, or run without EAL port options for the TAP default");
		return -ENODEV;
	}
	if (rte_eth_dev_count_avail() > 1)
		FMQ_WARN("port", "%u ports found; serving port %u only",
			 rte_eth_dev_count_avail(), pid);
	ps->port_id = pid;
	rc = rte_eth_dev_info_get(pid, &info);
	if (rc < 0) {
		snprintf(err, errlen, "port %u: dev_info: %s", pid, strerror(-rc));
		return rc;
	}
	snprintf(ps->driver, sizeof(ps->driver), "%s", info.driver_name);
	ps->socket = rte_eth_dev_socket_id(pid);
	if (ps->socket < 0)
		ps->socket = (int)rte_socket_id();
	rc = load_profile_for(a, ps->driver, err, errlen);
	if (rc < 0)
		return rc;
	if (ps->prof.disconnect_guard) {
		rc = app_guard_install(NULL);
		if (rc < 0) {
			snprintf(err, errlen, "disconnect.guard: sigaction: %s",
				 strerror(-rc));
			return rc;
		}
	}

	/* Which data lcores poll the port: fmq_place (those on its NUMA node,
	 * one queue each, up to what the port and profile allow). */
	numa_layout(a);
	struct fmq_place_in pin = { .n_nodes = a->n_nodes,
				    .n_lcores = a->n_data, .n_ports = 1 };
	struct fmq_place_out pout;
	uint16_t maxq = (uint16_t)RTE_MIN(info.max_rx_queues, info.max_tx_queues);
	if (ps->prof.rx_queues > 0 && ps->prof.rx_queues < maxq)
		maxq = (uint16_t)ps->prof.rx_queues;
	for (unsigned int i = 0; i < a->n_data; i++)
		pin.lcore_node[i] = a->lcore_node[i];
	/* An injected layout's nodes are not where the port is: its queues
	 * go to every lcore as for a port of unknown node. */
	pin.port_node[0] = a->numa_injected ? -1 : rte_eth_dev_socket_id(pid);
	pin.port_max_queues[0] = maxq;
	pin.hot_pool_bytes = a->cfg.log_hot_pool_bytes;
	if (fmq_place(&pin, &pout) < 0 || pout.port_nq[0] == 0) {
		snprintf(err, errlen, "port %u (%s): no data lcore can poll it",
			 pid, ps->driver);
		return -EINVAL;
	}
	/* The hot pool's split and the node each lcore draws chunks from. */
	for (unsigned int i = 0; i < a->n_data; i++)
		a->lcore_node[i] = pout.lcore_node[i];
	for (unsigned int n = 0; n < FMQ_PLACE_MAX_NODES; n++)
		a->node_hot_bytes[n] = n < a->n_nodes ? pout.node_hot_bytes[n] : 0;
	if (pout.port_remote[0])
		FMQ_WARN("port", "port %u is on NUMA node %d but no data lcore "
			 "is: lcores on other nodes poll it (slower)", pid,
			 pin.port_node[0]);
	nq = (uint16_t)pout.port_nq[0];
	for (unsigned int i = 0; i < a->n_data; i++)
		ps->rxq_of[i] = -1;
	for (uint16_t q = 0; q < nq; q++)
		ps->rxq_of[pout.port_lcore[0][q]] = q;
	ps->nb_queues = nq;
	ps->nb_txq = (uint16_t)RTE_MIN((unsigned int)info.max_tx_queues,
				       a->n_data);
	if (ps->prof.rx_queues > 0)
		ps->nb_txq = (uint16_t)RTE_MIN(ps->nb_txq,
					       (unsigned int)ps->prof.rx_queues);

	const uint64_t rxc = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
			     RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	const uint64_t txc = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
			     RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			     RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (want_offload(ps->prof.rx_csum, (info.rx_offload_capa & rxc) == rxc,
			 "offload.rx.checksum", &ps->rx_csum, err, errlen) < 0 ||
	    want_offload(ps->prof.tx_csum, (info.tx_offload_capa & txc) == txc,
			 "offload.tx.checksum", &ps->tx_csum, err, errlen) < 0 ||
	    want_offload(ps->prof.tso,
			 (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0,
			 "offload.tso", &ps->tso_capable, err, errlen) < 0)
		return -ENOTSUP;

	memset(&conf, 0, sizeof(conf));
	if (ps->rx_csum)
		conf.rxmode.offloads |= rxc;
	if (ps->tx_csum)
		conf.txmode.offloads |= txc;
	/* Chained send buffers (headers + zero-copy payload). */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (ps->prof.rss_symmetric && nq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = rss_sym_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(rss_sym_key);
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
		ps->rss = true;
	} else if (ps->prof.rss_symmetric && nq > 1) {
		FMQ_WARN("port", "%s has no RSS; flows spread by the driver's own policy",
			 ps->driver);
	}
	ps->rx_intr = a->adaptive && ps->prof.rx_intr != TRI_OFF;
	conf.intr_conf.rxq = ps->rx_intr ? 1 : 0;
	rc = rte_eth_dev_configure(pid, nq, ps->nb_txq, &conf);
	if (rc < 0 && ps->rx_intr && ps->prof.rx_intr == TRI_AUTO) {
		/* The PMD has no RX interrupts: fall back to timed sleeps. */
		ps->rx_intr = false;
		conf.intr_conf.rxq = 0;
		rc = rte_eth_dev_configure(pid, nq, ps->nb_txq, &conf);
	}
	/* Flows must reach the lcore that owns them: by the NIC's symmetric
	 * RSS when every data lcore has a queue, else by our own hash. */
	ps->steer = a->n_data > 1 && (!ps->rss || nq < a->n_data);
	if (rc < 0) {
		snprintf(err, errlen, "port %u (%s): configure: %s", pid,
			 ps->driver, strerror(-rc));
		return rc;
	}
	uint16_t nrxd = ps->prof.rx_desc, ntxd = ps->prof.tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd);

	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "fmq_mbuf_%d", ps->socket);
	ps->mp = rte_pktmbuf_pool_create(name, (unsigned int)a->cfg.mbuf_count,
					 APP_MBUF_CACHE, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, ps->socket);
	if (ps->mp == NULL) {
		snprintf(err, errlen, "mbuf pool of %" PRIu64 " on socket %d: %s "
			 "(reserve more hugepages or lower mbuf.count)",
			 a->cfg.mbuf_count, ps->socket, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint16_t q = 0; q < RTE_MAX(nq, ps->nb_txq); q++) {
		struct rte_eth_rxconf rxq = info.default_rxconf;
		struct rte_eth_txconf txq = info.default_txconf;
		rxq.offloads = conf.rxmode.offloads;
		txq.offloads = conf.txmode.offloads;
		rc = 0;
		if (q < nq)
			rc = rte_eth_rx_queue_setup(pid, q, nrxd, ps->socket,
						    &rxq, ps->mp);
		if (rc == 0 && q < ps->nb_txq)
			rc = rte_eth_tx_queue_setup(pid, q, ntxd, ps->socket, &txq);
		if (rc < 0) {
			snprintf(err, errlen, "port %u queue %u setup: %s", pid, q,
				 strerror(-rc));
			return rc;
		}
	}
	mtu = (uint16_t)RTE_MIN(a->cfg.net_mtu, (uint64_t)ps->prof.mtu);
	rc = rte_eth_dev_set_mtu(pid, mtu);
	if (rc < 0 && rc != -ENOTSUP)
		FMQ_WARN("port", "set MTU %u: %s", mtu, strerror(-rc));
	if (a->cfg.net_mac.set) {
		struct rte_ether_addr mac;
		memcpy(mac.addr_bytes, a->cfg.net_mac.b, 6);
		rc = rte_eth_dev_default_mac_addr_set(pid, &mac);
		if (rc < 0) {
			snprintf(err, errlen, "port %u: set MAC: %s", pid,
				 strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc < 0) {
		snprintf(err, errlen, "port %u start: %s", pid, strerror(-rc));
		return rc;
	}
	rte_eth_macaddr_get(pid, &ps->mac);
	if (ps->created_tap) {
		rc = app_tap_host_config(ps->tap_name, &a->cfg.dev_tap_host_ip,
					 (uint32_t)a->cfg.dev_tap_txqueuelen,
					 err, errlen);
		if (rc < 0)
			return rc;
	}
	rte_eth_dev_set_link_up(pid);
	FMQ_INFO("port", "port %u %s: profile %s, %u RX / %u TX queue(s)%s, "
		 "rx-csum %s, tx-csum %s, rss %s, rx-interrupts %s, mtu %u, mac "
		 RTE_ETHER_ADDR_PRT_FMT, pid, ps->driver, ps->prof.path, nq,
		 ps->nb_txq, ps->steer ? ", software steering" : "",
		 ps->rx_csum ? "hw" : "sw", ps->tx_csum ? "hw" : "sw",
		 ps->rss ? "symmetric" : "off", ps->rx_intr ? "on" : "off", mtu,
		 RTE_ETHER_ADDR_BYTES(&ps->mac));
	if (ps->tso_capable)
		FMQ_INFO("port", "port offers TSO; TCP-lite sends MSS-sized "
			 "segments, so it stays unused");
	return 0;
}

bool
app_port_link_up(const struct app *a)
{
	struct rte_eth_link link;

	if (rte_eth_link_get_nowait(a->port.port_id, &link) < 0)
		return false;
	return link.link_status == RTE_ETH_LINK_UP;
}

void
app_port_fini(struct app *a)
{
	uint16_t pid = a->port.port_id;

	if (!rte_eth_dev_is_valid_port(pid))
		return;
	rte_eth_dev_stop(pid);
	/* Closing a net_tap port removes the kernel interface. */
	rte_eth_dev_close(pid);
}

void
app_port_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct app *a = arg;
	struct rte_eth_stats st;
	char lbl[128];

	if (rte_eth_stats_get(a->port.port_id, &st) != 0)
		return;
	snprintf(lbl, sizeof(lbl), "port=\"%u\",driver=\"%s\"",
		 a->port.port_id, a->port.driver);
#define PORT(name, help, v) \
	do { \
		fmq_metrics_family(out, name, "counter", help); \
		fmq_metrics_u64(out, name, lbl, v); \
	} while (0)
	PORT("fluxmq_port_rx_packets_total", "Packets the port received", st.ipackets);
	PORT("fluxmq_port_tx_packets_total", "Packets the port sent", st.opackets);
	PORT("fluxmq_port_rx_bytes_total", "Bytes the port received", st.ibytes);
	PORT("fluxmq_port_tx_bytes_total", "Bytes the port sent", st.obytes);
	PORT("fluxmq_port_rx_errors_total", "Erroneous received packets", st.ierrors);
	PORT("fluxmq_port_tx_errors_total", "Failed transmissions", st.oerrors);
	PORT("fluxmq_port_rx_missed_total", "Packets dropped by the port: RX queue full", st.imissed);
	PORT("fluxmq_port_rx_nombuf_total", "RX mbuf allocation failures", st.rx_nombuf);
#undef PORT
	snprintf(lbl, sizeof(lbl), "pool=\"%s\"", a->port.mp->name);
	fmq_metrics_family(out, "fluxmq_mempool_in_use", "gauge",
			   "mbufs allocated from the pool (per-lcore caches count as free)");
	fmq_metrics_u64(out, "fluxmq_mempool_in_use", lbl,
			rte_mempool_in_use_count(a->port.mp));
	fmq_metrics_family(out, "fluxmq_mempool_size", "gauge",
			   "mbufs in the pool");
	fmq_metrics_u64(out, "fluxmq_mempool_size", lbl, a->port.mp->size);
}
