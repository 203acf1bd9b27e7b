/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data lcore poll loop. Busy mode spins. Adaptive mode, after
 * poll.idle.spins empty polls, sleeps on the queue's RX interrupt where the
 * PMD has one (bounded by 1 ms so timers keep running), else in short
 * sleeps that double up to poll.idle.max_us. Either sleep also ends when
 * the lcore's doorbell rings: another lcore steered it a packet, handed it
 * a frame to transmit, or sent it partition work or an answer, or the
 * control lcore answered a forwarded request. What the last poll queued
 * goes out before the lcore sleeps, and a net_tap queue's signal is
 * delivered to the lcore that reads the queue (own_rx_signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_epoll.h>
#include <rte_interrupts.h>

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "app.h"
#include "steer.h"

#define INTR_WAIT_MS 1
#define SLEEP_MIN_NS 10000ull

/* Sleep up to ns or until the doorbell rings. */
static enum app_wake
wait_bell(struct data_lcore *d, uint64_t ns)
{
	struct pollfd p = { .fd = d->bell->fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	return ppoll(&p, 1, &ts, NULL) == 1 && (p.revents & POLLIN) != 0 ?
	       APP_WAKE_BELL : APP_WAKE_TIMEOUT;
}

/*
 * Wait for RX, the doorbell (in the same per-thread epoll set) or the
 * timeout; returns with interrupts disabled again, why it woke, and in
 * *bell whether the doorbell fired. Some PMDs (net_tap) signal through the
 * queue's own fd and have no enable/disable op (-ENOTSUP): their event is
 * always armed.
 */
static enum app_wake
wait_rx_interrupt(struct data_lcore *d, bool *bell)
{
	struct rte_epoll_event ev[2];
	int rc = rte_eth_dev_rx_intr_enable(d->port_id, d->queue_id);
	enum app_wake why = APP_WAKE_TIMEOUT;
	int n;

	*bell = false;
	if (rc < 0 && rc != -ENOTSUP) {
		why = wait_bell(d, SLEEP_MIN_NS);
		*bell = why == APP_WAKE_BELL;
		return why;
	}
	n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, 2, INTR_WAIT_MS);
	for (int i = 0; i < n; i++) {
		if (ev[i].fd == d->bell->fd) {
			*bell = true;
			if (why == APP_WAKE_TIMEOUT)
				why = APP_WAKE_BELL;
		} else {
			why = APP_WAKE_RX;
		}
	}
	if (rc == 0)
		rte_eth_dev_rx_intr_disable(d->port_id, d->queue_id);
	return why;
}

/*
 * net_tap reads its queue only after its realtime signal (F_SETSIG on the
 * queue's fd, O_ASYNC) bumped a trigger, and sends that signal to the
 * process: the kernel hands it to the main thread, the control lcore. The
 * same packet wakes this lcore's epoll (edge-triggered): when the burst
 * runs before the control lcore ran the handler, it finds nothing, the
 * lcore sleeps again, and the packet waits for the 1 ms timeout. Owning
 * the signal makes this thread run the handler on its way out of the
 * wait, before its burst: the kernel queues the signal before it wakes
 * the epoll. It also stops waking the control lcore for every packet.
 */
static void
own_rx_signal(struct data_lcore *d, unsigned int lid)
{
	struct f_owner_ex o = { .type = F_OWNER_TID, .pid = rte_sys_gettid() };
	int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(d->port_id, d->queue_id);
	int fl;

	if (fd < 0)
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ASYNC) == 0)
		return;   /* no signal: a plain interrupt fd (eventfd, vfio) */
	if (fcntl(fd, F_SETOWN_EX, &o) < 0)
		FMQ_WARN("lcore", "lcore %u: the RX queue's signal stays with "
			 "the process (%s): a wake-up may miss its packet",
			 lid, strerror(errno));
}

/* Work another thread put on one of our rings (checked once armed). */
static bool
ring_work(const struct data_lcore *d)
{
	return (d->steer_in != NULL && !rte_ring_empty(d->steer_in)) ||
	       (d->tx_in != NULL && !rte_ring_empty(d->tx_in)) ||
	       fmq_broker_lcore_pending(d->broker);
}

/* TX callback of a data lcore without its own TX queue: the frames go to
 * the lcore that owns one. A full ring drops them (counted by the stack as
 * not sent); TCP retransmits. */
uint16_t
app_tx_handoff(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	struct data_lcore *d = arg;
	unsigned int sent = rte_ring_enqueue_burst(d->tx_out, (void **)pkts, n,
						   NULL);

	if (sent > 0)
		fmq_doorbell_ring(d->tx_bell);
	d->tx_handed += sent;
	return (uint16_t)sent;
}

/* TX callback of a data lcore that owns a TX queue on a port whose bursts
 * run guarded (drivers-config disconnect.guard). */
uint16_t
app_tx_guarded(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	struct data_lcore *d = arg;

	return app_guard_tx(d->port_id, d->txq, pkts, n, &d->pmd_faults);
}

/* Data lcore owning the flow of m, or -1 for "handle here". */
static inline int
steer_owner(struct rte_mbuf *m, unsigned int n)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const void *);
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	uint32_t ihl;

	if (m->data_len < sizeof(*eh) + sizeof(*ip) + 4 ||
	    eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return -1;
	ip = (const struct rte_ipv4_hdr *)(eh + 1);
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ip->next_proto_id != IPPROTO_TCP || ihl < sizeof(*ip) ||
	    m->data_len < sizeof(*eh) + ihl + 4)
		return -1;
	th = (const struct rte_tcp_hdr *)((const char *)ip + ihl);
	return (int)fmq_steer_lcore(fmq_steer_hash(
		rte_be_to_cpu_32(ip->src_addr), rte_be_to_cpu_32(ip->dst_addr),
		rte_be_to_cpu_16(th->src_port), rte_be_to_cpu_16(th->dst_port)),
		n);
}

/*
 * Software steering: keep our flows, pass the others to their lcore's
 * ring. ARP goes to everyone (each lcore keeps its own cache).
 * Returns how many of pkts stay here (compacted to the front).
 */
static uint16_t
steer_burst(struct app *a, struct data_lcore *d, struct rte_mbuf **pkts,
	    uint16_t nb)
{
	uint16_t keep = 0;
	bool ring[APP_MAX_DATA_LCORES] = { false };
	bool any = false;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const void *);
		int o = steer_owner(m, a->n_data);

		if (o < 0 || (unsigned int)o == d->idx) {
			if (m->data_len >= sizeof(*eh) &&
			    eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
				for (unsigned int l = 0; l < a->n_data; l++) {
					struct rte_mbuf *c;
					if (l == d->idx)
						continue;
					c = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
					if (c == NULL ||
					    rte_ring_enqueue(a->data[l].steer_in, c) != 0) {
						rte_pktmbuf_free(c);
						d->steer_drops++;
					} else {
						ring[l] = any = true;
					}
				}
			}
			pkts[keep++] = m;
			continue;
		}
		if (rte_ring_enqueue(a->data[o].steer_in, m) != 0) {
			rte_pktmbuf_free(m);
			d->steer_drops++;
		} else {
			d->steered_out++;
			ring[o] = any = true;
		}
	}
	/* Once per burst and target: a fence each, a write if it sleeps. */
	for (unsigned int l = 0; any && l < a->n_data; l++)
		if (ring[l])
			fmq_doorbell_ring(a->data[l].bell);
	return keep;
}

/*
 * The poll loop. guard (drivers-config disconnect.guard: bursts run under
 * the PMD guard) is a constant in each of the two copies below, so the
 * choice is made once at start, as l3fwd picks its loop, not per burst.
 */
static __rte_always_inline void
lcore_loop(struct app *a, struct data_lcore *d, const bool guard)
{
	struct rte_mbuf *pkts[APP_RX_BURST];
	uint64_t spins = a->cfg.poll_idle_spins;
	uint64_t max_sleep_ns = a->cfg.poll_idle_us * 1000ull;
	uint64_t empty = 0, sleep = SLEEP_MIN_NS;
	enum app_wake woke = APP_WAKE_NONE;

	while (!atomic_load_explicit(&a->quit, memory_order_relaxed)) {
		uint64_t t0 = rte_rdtsc();
		uint16_t nb = 0, got = 0;
		uint64_t now;

		if (d->has_rxq)
			got = nb = guard ?
				app_guard_rx(d->port_id, d->queue_id, pkts,
					     APP_RX_BURST, &d->pmd_faults) :
				rte_eth_rx_burst(d->port_id, d->queue_id, pkts,
						 APP_RX_BURST);
		now = fmq_now_ns();
		if (a->port.steer) {
			if (nb > 0)
				nb = steer_burst(a, d, pkts, nb);
			if (nb > 0)
				fmq_net_rx(d->net, pkts, nb, now);
			nb = (uint16_t)rte_ring_dequeue_burst(d->steer_in,
				(void **)pkts, APP_RX_BURST, NULL);
			d->steered_in += nb;
			got += nb;
		}
		if (nb > 0)
			fmq_net_rx(d->net, pkts, nb, now);
		if (d->tx_in != NULL) {
			/* Frames of lcores without a TX queue of their own. */
			uint16_t nt = (uint16_t)rte_ring_dequeue_burst(d->tx_in,
				(void **)pkts, APP_RX_BURST, NULL);
			if (nt > 0) {
				uint16_t s = guard ?
					app_guard_tx(d->port_id, d->txq, pkts,
						     nt, &d->pmd_faults) :
					rte_eth_tx_burst(d->port_id, d->txq,
							 pkts, nt);
				if (s < nt)
					rte_pktmbuf_free_bulk(&pkts[s], nt - s);
				got += nt;
			}
		}
		nb = got;
		fmq_net_poll(d->net, now);
		fmq_broker_lcore_poll(d->broker, now);
		d->polls++;
		uint64_t t1 = rte_rdtsc();
		if (woke != APP_WAKE_NONE) {
			/* First poll after a sleep: was it woken in time? */
			if (nb > 0 && woke == APP_WAKE_TIMEOUT)
				d->wakes_late++;
			else if (nb == 0 && woke == APP_WAKE_RX)
				d->wakes_empty++;
			woke = APP_WAKE_NONE;
		}
		/* Requests left over from this poll are work too: asleep, the
		 * lcore would get through one budget per wake-up. */
		if (nb > 0 || fmq_broker_lcore_busy(d->broker)) {
			d->rx_pkts += nb;
			d->busy_cycles += t1 - t0;
			empty = 0;
			sleep = SLEEP_MIN_NS;
			continue;
		}
		d->idle_cycles += t1 - t0;
		if (!a->adaptive || ++empty < spins)
			continue;
		/* The broker poll runs after the net poll: what it queued (an
		 * answer the doorbell woke us for) would otherwise go out only
		 * after the next sleep, up to INTR_WAIT_MS late. */
		const struct fmq_net_stats *ns = fmq_net_stats(d->net);
		uint64_t tx0 = ns->tx_pkts + ns->tx_dropped;
		fmq_net_poll(d->net, fmq_now_ns());
		d->tx_before_sleep += ns->tx_pkts + ns->tx_dropped - tx0;
		/* Arm, then look at the rings once more: a sender that
		 * enqueued before the arm is seen here, one after it rings. */
		fmq_doorbell_arm(d->bell);
		if (ring_work(d)) {
			fmq_doorbell_disarm(d->bell, false);
			continue;
		}
		d->sleeps++;
		bool rang;
		if (d->use_intr) {
			woke = wait_rx_interrupt(d, &rang);
		} else {
			woke = wait_bell(d, sleep);
			rang = woke == APP_WAKE_BELL;
			if (sleep < max_sleep_ns)
				sleep = RTE_MIN(sleep * 2, max_sleep_ns);
		}
		d->wakes[woke]++;
		fmq_doorbell_disarm(d->bell, rang);
		d->idle_cycles += rte_rdtsc() - t1;
	}
}

static __rte_noinline void
lcore_loop_guarded(struct app *a, struct data_lcore *d)
{
	lcore_loop(a, d, true);
}

static __rte_noinline void
lcore_loop_plain(struct app *a, struct data_lcore *d)
{
	lcore_loop(a, d, false);
}

int
app_data_lcore_main(void *arg)
{
	struct app *a = arg;
	unsigned int lid = rte_lcore_id();
	struct data_lcore *d = NULL;

	for (unsigned int i = 0; i < a->n_data; i++)
		if (a->data[i].lcore_id == lid)
			d = &a->data[i];
	if (d == NULL)
		return -1;
	if (!d->has_rxq)
		d->use_intr = false;
	if (d->use_intr &&
	    rte_eth_dev_rx_intr_ctl_q(d->port_id, d->queue_id,
				      RTE_EPOLL_PER_THREAD,
				      RTE_INTR_EVENT_ADD, NULL) < 0) {
		FMQ_WARN("lcore", "lcore %u: RX interrupts unavailable, "
			 "sleeping instead", lid);
		d->use_intr = false;
	}
	if (d->use_intr)
		own_rx_signal(d, lid);
	d->bell_ev.epdata.event = EPOLLIN;
	d->bell_ev.epdata.data = d;
	if (d->use_intr &&
	    rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, d->bell->fd,
			  &d->bell_ev) < 0) {
		FMQ_WARN("lcore", "lcore %u: doorbell not in the epoll set, "
			 "sleeping instead of waiting for RX interrupts", lid);
		rte_eth_dev_rx_intr_ctl_q(d->port_id, d->queue_id,
					  RTE_EPOLL_PER_THREAD,
					  RTE_INTR_EVENT_DEL, NULL);
		d->use_intr = false;
	}
	FMQ_INFO("lcore", "data lcore %u polls port %u queue %u (%s)", lid,
		 d->port_id, d->queue_id,
		 !a->adaptive ? "busy" : d->use_intr ? "adaptive, rx interrupts" :
		 "adaptive, sleeps");

	if (a->port.prof.disconnect_guard)
		lcore_loop_guarded(a, d);
	else
		lcore_loop_plain(a, d);
	return 0;
}

void
app_lcore_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct app *a = arg;
	char lbl[64];

	fmq_metrics_one(out, "fluxmq_tsc_hz", "gauge",
			"TSC frequency (cycles per second)", rte_get_tsc_hz());
	fmq_metrics_one(out, "fluxmq_uptime_seconds", "gauge",
			"Seconds since start",
			(fmq_now_ns() - a->start_ns) / 1000000000ull);
#define PER(name, type, help, field) \
	do { \
		fmq_metrics_family(out, name, type, help); \
		for (unsigned int i = 0; i < a->n_data; i++) { \
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\"", i); \
			fmq_metrics_u64(out, name, lbl, a->data[i].field); \
		} \
	} while (0)
	PER("fluxmq_lcore_busy_cycles_total", "counter",
	    "TSC cycles of polls that found packets or left requests to handle",
	    busy_cycles);
	PER("fluxmq_lcore_idle_cycles_total", "counter",
	    "TSC cycles of empty polls and idle sleeps", idle_cycles);
	PER("fluxmq_lcore_polls_total", "counter", "Poll loop iterations", polls);
	PER("fluxmq_lcore_rx_packets_total", "counter",
	    "Packets received by the lcore", rx_pkts);
	PER("fluxmq_lcore_sleeps_total", "counter",
	    "Times the lcore slept while idle (adaptive mode)", sleeps);
	PER("fluxmq_lcore_steered_out_total", "counter",
	    "Packets this lcore passed to the lcore owning their flow", steered_out);
	PER("fluxmq_lcore_steered_in_total", "counter",
	    "Packets other lcores passed to this one", steered_in);
	PER("fluxmq_lcore_steer_drops_total", "counter",
	    "Packets dropped because a steering ring was full", steer_drops);
	PER("fluxmq_lcore_tx_handed_total", "counter",
	    "Frames sent through another lcore's TX queue", tx_handed);
	PER("fluxmq_lcore_pmd_faults_total", "counter",
	    "Bursts abandoned because the PMD unmapped its rings under them "
	    "(net_memif peer left; drivers-config disconnect.guard)", pmd_faults);
	PER("fluxmq_lcore_wakeups_late_total", "counter",
	    "Sleeps that ran to their timeout while packets or ring work "
	    "waited: no RX interrupt or doorbell woke the lcore for them",
	    wakes_late);
	PER("fluxmq_lcore_tx_before_sleep_total", "counter",
	    "Frames the last poll queued (answers from other lcores or the "
	    "control lcore) sent just before the lcore slept", tx_before_sleep);
	PER("fluxmq_lcore_wakeups_empty_total", "counter",
	    "RX-interrupt wake-ups whose first poll found no packet", wakes_empty);
#undef PER
	fmq_metrics_family(out, "fluxmq_lcore_wakeups_total", "counter",
			   "Why the lcore's idle sleeps ended: the RX "
			   "interrupt, its doorbell, or the timeout");
	for (unsigned int i = 0; i < a->n_data; i++)
		for (int w = APP_WAKE_RX; w < APP_WAKE_N; w++) {
			static const char *const why[APP_WAKE_N] = {
				[APP_WAKE_RX] = "rx_interrupt",
				[APP_WAKE_BELL] = "doorbell",
				[APP_WAKE_TIMEOUT] = "timeout",
			};
			snprintf(lbl, sizeof(lbl), "lcore=\"%u\",reason=\"%s\"",
				 i, why[w]);
			fmq_metrics_u64(out, "fluxmq_lcore_wakeups_total", lbl,
					a->data[i].wakes[w]);
		}
	fmq_metrics_family(out, "fluxmq_lcore_doorbell_wakeups_total", "counter",
			   "Sleeps cut short because another lcore gave this "
			   "one work");
	for (unsigned int i = 0; i < a->n_data; i++) {
		snprintf(lbl, sizeof(lbl), "lcore=\"%u\"", i);
		fmq_metrics_u64(out, "fluxmq_lcore_doorbell_wakeups_total", lbl,
				__atomic_load_n(&a->data[i].bell->rung,
						__ATOMIC_RELAXED));
	}
}
