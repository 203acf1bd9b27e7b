/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guard against a PMD whose control thread maps and unmaps its rings
 * under a running burst.
 *
 * DPDK 22.11's net_memif changes its shared memory in the EAL interrupt
 * thread, with no synchronisation against rx/tx bursts on data lcores:
 *
 * - Disconnect (the peer leaves): memif_disconnect marks the link down,
 *   then unmaps the shared regions and frees their descriptors. A burst
 *   inside eth_memif_rx's copy loop at that moment (likely when its lcore
 *   was preempted there) reads unmapped memory: SIGSEGV.
 * - Connect: a burst computes its ring address from region 0 before it
 *   checks that the port is connected. If it starts while a peer connects
 *   (region 0 registered, not mapped yet: address NULL) and finds the port
 *   connected a moment later, it reads "ring + 4" near address 0 (seen:
 *   segfault at 0x4084, ring 1's offset 0x4080 plus the flags field).
 *
 * The PMD raises no event we could wait on. So for ports whose profile
 * says disconnect.guard = on:
 *
 * - A burst starts only on a link that is up. memif marks the link up last
 *   in its connect, after mapping, so the connect race cannot start.
 * - Each burst runs under sigsetjmp. A SIGSEGV or SIGBUS raised inside a
 *   guarded burst while the port's link is down (memif marks it down
 *   before it unmaps) jumps back out of the burst: RX returns nothing, TX
 *   reports every frame taken and leaks them, since the PMD may already
 *   have freed some. memif resets its ring positions when a peer connects
 *   again. Any other fault keeps its previous action: a real bug still
 *   crashes, with its core.
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
static app_guard_link_fn guard_link_up;
static bool installed;

static bool
link_up(uint16_t port)
{
	struct rte_eth_link link;

	/* memif's link_update does nothing in a primary process: this only
	 * reads the status its interrupt thread stores (up after mapping,
	 * down before unmapping). */
	return rte_eth_link_get_nowait(port, &link) == 0 &&
		link.link_status == RTE_ETH_LINK_UP;
}

static void
on_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)si;
	(void)ctx;
	if (guard_in && !guard_link_up(guard_port)) {
		guard_in = 0;
		siglongjmp(guard_env, 1);
	}
	/* Not the race we guard against: the previous action, on the same
	 * instruction once we return. */
	sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

int
app_guard_install(app_guard_link_fn up)
{
	struct sigaction sa;

	guard_link_up = up != NULL ? up : link_up;
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

/*
 * One burst under the guard (tx: rte_eth_tx_burst, else rx). Both
 * directions share this frame: sigsetjmp's frame must stay live while the
 * burst runs, so it cannot sit in a helper the burst is called after.
 */
static uint16_t
guarded_burst(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	      uint64_t *faults, bool tx)
{
	uint16_t nb;

	if (!guard_link_up(port))
		return 0;
	if (sigsetjmp(guard_env, 0) != 0) {
		(*faults)++;
		FMQ_WARN("port", "port %u %s queue %u: the PMD faulted in a "
			 "burst after its link went down (peer left); burst "
			 "abandoned%s", port, tx ? "TX" : "RX", q,
			 tx ? ", its frames leaked" : "");
		/* TX: report every frame taken, the PMD may have freed some. */
		return tx ? n : 0;
	}
	guard_port = port;
	guard_in = 1;
	nb = tx ? rte_eth_tx_burst(port, q, pkts, n) :
		rte_eth_rx_burst(port, q, pkts, n);
	guard_in = 0;
	return nb;
}

uint16_t
app_guard_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	     uint64_t *faults)
{
	return guarded_burst(port, q, pkts, n, faults, false);
}

uint16_t
app_guard_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	     uint64_t *faults)
{
	return guarded_burst(port, q, pkts, n, faults, true);
}
