/* SPDX-License-Identifier: Apache-2.0 */
/* Private interfaces of the fluxmq application. */
#ifndef FMQ_APP_H
#define FMQ_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_epoll.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "fmq_broker.h"
#include "fmq_ctrl.h"
#include "fmq_log.h"
#include "fmq_net.h"
#include "fmq_util.h"
#include "pmd_guard.h"

#define APP_MAX_DATA_LCORES 127
#define APP_RX_BURST 32

enum tri { TRI_AUTO, TRI_ON, TRI_OFF };

/* A drivers-config profile. */
struct port_profile {
	char path[4096 + 64];
	int rx_queues;          /* 0 = one per data lcore */
	uint16_t rx_desc, tx_desc;
	uint16_t mtu;
	enum tri rx_csum, tx_csum, tso, rx_intr;
	bool rss_symmetric;
	bool disconnect_guard;  /* bursts survive the PMD unmapping its rings */
};

/* What bring-up decided for the port. */
struct port_state {
	uint16_t port_id;
	char driver[64];
	int socket;
	uint16_t nb_queues;        /* RX queues */
	uint16_t nb_txq;
	int rxq_of[APP_MAX_DATA_LCORES];  /* RX queue of each data lcore, -1 */
	bool steer;                /* software steering between data lcores */
	bool rx_csum, tx_csum, rss, rx_intr, tso_capable;
	struct rte_ether_addr mac;
	bool created_tap;        /* the embedded default */
	char tap_name[16];   /* IFNAMSIZ */
	struct rte_mempool *mp;
	struct port_profile prof;
};

/* Why a data lcore's sleep ended. */
enum app_wake {
	APP_WAKE_NONE,           /* not asleep, or the wake was accounted */
	APP_WAKE_RX,             /* the RX queue's interrupt */
	APP_WAKE_BELL,           /* the doorbell */
	APP_WAKE_TIMEOUT,        /* the sleep ran out */
	APP_WAKE_N
};

/* Per data lcore state, one cache line aligned struct each. */
struct data_lcore {
	unsigned int idx;        /* 0..n_data-1 */
	unsigned int lcore_id;
	uint16_t port_id, queue_id;
	bool has_rxq;            /* polls an RX queue (else steered input only) */
	bool tx_direct;          /* owns TX queue queue_id (else hands off) */
	uint16_t txq;
	struct rte_ring *steer_in;  /* packets other lcores steered to us */
	struct rte_ring *tx_in;     /* frames to send for lcores without a TX queue */
	struct rte_ring *tx_out;    /* where ours go when !tx_direct */
	bool use_intr;
	struct fmq_net *net;
	struct fmq_broker_lcore *broker;
	/* Ours (the broker lcore's), rung when a ring of ours gets work while
	 * we sleep; tx_bell: the lcore behind tx_out. */
	struct fmq_doorbell *bell, *tx_bell;
	struct rte_epoll_event bell_ev;
	/* counters, written only by this lcore */
	uint64_t busy_cycles, idle_cycles, polls, rx_pkts, sleeps;
	uint64_t steered_out, steered_in, steer_drops, tx_handed;
	uint64_t pmd_faults;     /* bursts abandoned by the PMD guard */
	/* Why each sleep ended (enum app_wake), and the first poll after it:
	 * late = a timeout wake that found packets or ring work (no
	 * interrupt or doorbell woke us for it), empty = an RX wake that
	 * found nothing. */
	uint64_t wakes[APP_WAKE_N], wakes_late, wakes_empty;
	uint64_t tx_before_sleep;  /* frames flushed on the way to sleep */
} __rte_cache_aligned;

struct app {
	struct fmq_config cfg;
	struct fmq_metrics *metrics;
	struct port_state port;
	unsigned int n_data;
	/* NUMA layout (port.c numa_layout, fmq_place): the hot pool is split
	 * over n_nodes, each data lcore draws from its node's share. */
	unsigned int n_nodes;
	bool numa_injected;      /* numa.nodes forced past the host's */
	int lcore_node[APP_MAX_DATA_LCORES];
	uint64_t node_hot_bytes[FMQ_LOG_MAX_NODES];
	struct data_lcore data[APP_MAX_DATA_LCORES];
	struct fmq_net *nets[APP_MAX_DATA_LCORES];
	struct fmq_net_metrics_set net_set;
	struct fmq_log *log;
	struct fmq_broker *broker;
	struct fmq_ctrl *ctrl;
	char cluster_id[64];
	atomic_bool quit;
	atomic_bool healthy;
	bool adaptive;
	uint64_t start_ns;
	struct mgmt *mgmt;
	int mgmt_fd;             /* bound by app_preflight, served by mgmt */
	int lock_fd[FMQ_LOG_MAX_NODES + 32];  /* held until exit */
	unsigned int nlocks;
};

/* port.c */
int app_profile_load(struct port_profile *p, const char *path, char *err,
		     size_t errlen);
const char *app_profile_dir(const struct fmq_config *cfg, char *buf,
			    size_t len);
int app_port_init(struct app *a, char *err, size_t errlen);
void app_port_fini(struct app *a);
bool app_port_link_up(const struct app *a);
void app_port_metrics(struct fmq_metrics_out *out, void *arg);


/* preflight.c: before the EAL starts (nothing touched yet). */
void app_raise_nofile(void);
/* Key constraints, then claim this instance's TAP name, data-plane
 * subnet, mgmt.listen, log.dirs and log.hot.dir. A failure is a
 * configuration error (exit 2): err names the key. */
int app_preflight(struct app *a, bool embedded, char *err, size_t errlen);
/* What the host must give before the EAL starts (root or the
 * capabilities, a hugetlbfs mount unless nohuge), with the fix in err:
 * the EAL would say "Permission denied" or "Cannot allocate memory". */
int app_check_host(bool nohuge, char *err, size_t errlen);

/* tap_host.c: configure the kernel side of the embedded TAP interface. */
int app_tap_host_config(const char *ifname, const struct fmq_ipv4_cidr *ip,
			uint32_t txqueuelen, char *err, size_t errlen);

/* lcore.c */
int app_data_lcore_main(void *arg);
uint16_t app_tx_handoff(void *arg, struct rte_mbuf **pkts, uint16_t n);
/* TX callback of a data lcore with its own TX queue on a guarded port. */
uint16_t app_tx_guarded(void *arg, struct rte_mbuf **pkts, uint16_t n);
void app_lcore_metrics(struct fmq_metrics_out *out, void *arg);

/* mgmt.c */
struct mgmt;
/* Bind and listen on mgmt.listen (no SO_REUSEPORT): the socket, or -errno
 * with err naming the key (the address in use is a configuration error). */
int mgmt_listen(const struct fmq_config *cfg, char *err, size_t errlen);
/* Serve the socket mgmt_listen gave (closed on failure and at stop). */
struct mgmt *mgmt_start(struct app *a, int listen_fd, char *err,
			size_t errlen);
/* Serve pending HTTP work, waiting at most timeout_us or until wake_fd
 * (if >= 0) is readable. */
void mgmt_poll(struct mgmt *m, uint64_t timeout_us, int wake_fd);
void mgmt_stop(struct mgmt *m);

/* Descriptors the process has open (mgmt.c). */
uint64_t app_open_fds(void);

/* status.c: liveness, readiness and the console's JSON (control lcore). */
/* Sample the data lcores' poll counters; one history sample a second. */
void app_status_tick(struct app *a, uint64_t now_ns);

/* telemetry.c: /fluxmq/... commands in DPDK telemetry. */
void app_telemetry_init(struct app *a);
void app_telemetry_tick(struct app *a, uint64_t now_ns);
void app_telemetry_fini(void);
/* /health (ready false) or /ready: the number of reasons against (0: ok);
 * *body (malloc'ed) says "ok"/"ready" or one reason a line; -ENOMEM. */
int app_status_health(struct app *a, bool ready, char **body, size_t *len);
/* The JSON of /v1/status, /v1/topics, /v1/groups or /v1/history (since:
 * the "since" query argument, or NULL), malloc'ed; NULL with errno ENOENT
 * (no such view), EINVAL (bad argument) or ENOMEM. */
char *app_status_json(struct app *a, const char *url, const char *since,
		      size_t *len);
/* fluxmq_process_resident_memory_bytes, _cpu_seconds_total,
 * fluxmq_lcore_stalled (arg: the app). */
void app_status_metrics(struct fmq_metrics_out *out, void *arg);

/* sdnotify.c: systemd notifications (READY, WATCHDOG while every data
 * lcore runs, STOPPING) and fluxmq_build_info. Control lcore only. */
void app_sd_tick(struct app *a);
void app_sd_stopping(struct app *a);

#endif
