/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guard against a PMD that unmaps its rings under a running burst.
 *
 * DPDK 22.11's net_memif tears a connection down in the EAL interrupt
 * thread when the peer leaves (memif_disconnect: link down, then munmap of
 * the shared regions and rte_free of their descriptors) without waiting for
 * rx/tx bursts running on data lcores. A data lcore that is inside
 * eth_memif_rx's copy loop at that moment (likely when it was preempted
 * there) reads unmapped memory and the broker dies with SIGSEGV inside
 * librte_net_memif. The PMD raises no event before the unmap that we could
 * wait on, so the broker cannot keep its lcores off the rings in time.
 *
 * For ports whose profile says disconnect.guard = on, each burst runs under
 * sigsetjmp. A SIGSEGV or SIGBUS raised inside a guarded burst while the
 * port's link is down (memif marks it down before it unmaps) jumps back
 * out of the burst: RX returns nothing, TX reports every frame taken and
 * leaks them, since the PMD may already have freed some. memif resets its
 * ring positions when a peer connects again. Any other fault keeps its
 * previous action: a real bug still crashes, with its core.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include <rte_ethdev.h>

#include "fmq_util.h"
#include "pmd_guard.h"

static __thread sigjmp_buf guard_env;
static __thread volatile sig_atomic_t guard_in;
static __thread uint16_t guard_port;
static struct sigaction old_segv, old_bus;
static app_guard_gone_fn guard_gone;
static bool installed;

static bool
link_down(uint16_t port)
{
	struct rte_eth_link link;

	/* memif's link_update does nothing in a primary process: this only
	 * reads the status the interrupt thread stored before it unmapped. */
	return rte_eth_link_get_nowait(port, &link) == 0 &&
		link.link_status == RTE_ETH_LINK_DOWN;
}

static void
on_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)si;
	(void)ctx;
	if (guard_in && guard_gone(guard_port)) {
		guard_in = 0;
		siglongjmp(guard_env, 1);
	}
	/* Not the race we guard against: the previous action, on the same
	 * instruction once we return. */
	sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

int
app_guard_install(app_guard_gone_fn gone)
{
	struct sigaction sa;

	guard_gone = gone != NULL ? gone : link_down;
	/* Once: a second install would save our own handler as the one to
	 * fall back to. */
	if (installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* NODEFER: we leave the handler by siglongjmp without restoring the
	 * signal mask (sigsetjmp(env, 0) costs no syscall per burst), so the
	 * signal must not stay blocked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) < 0 ||
	    sigaction(SIGBUS, &sa, &old_bus) < 0)
		return -errno;
	installed = true;
	return 0;
}

uint16_t
app_guard_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	     uint64_t *faults)
{
	uint16_t nb;

	if (sigsetjmp(guard_env, 0) != 0) {
		(*faults)++;
		FMQ_WARN("port", "port %u RX queue %u: the PMD faulted in a burst "
			 "after its link went down (peer left); burst abandoned",
			 port, q);
		return 0;
	}
	guard_port = port;
	guard_in = 1;
	nb = rte_eth_rx_burst(port, q, pkts, n);
	guard_in = 0;
	return nb;
}

uint16_t
app_guard_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	     uint64_t *faults)
{
	uint16_t nb;

	if (sigsetjmp(guard_env, 0) != 0) {
		(*faults)++;
		FMQ_WARN("port", "port %u TX queue %u: the PMD faulted in a burst "
			 "after its link went down (peer left); %u frames "
			 "abandoned", port, q, n);
		return n;
	}
	guard_port = port;
	guard_in = 1;
	nb = rte_eth_tx_burst(port, q, pkts, n);
	guard_in = 0;
	return nb;
}
