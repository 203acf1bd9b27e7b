/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PMD burst guard (app/fluxmq/pmd_guard.c): no burst starts on a link
 * that is down; a fault inside a guarded burst after the link went down is
 * survived, counted, and survived again (the signal is not left blocked);
 * a fault while the link is up, or outside a burst, still kills the
 * process.
 *
 * The fault is made inside rte_eth_rx_burst / rte_eth_tx_burst of a
 * net_null port by an RX/TX callback that marks the link down and reads a
 * page we unmapped: what memif's interrupt thread does to a running burst
 * when its peer leaves.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "pmd_guard.h"
#include "harness.h"

static uint16_t port;
static struct rte_mempool *mp;
static volatile const char *hole;   /* an unmapped page */
static volatile bool up = true;
static volatile int fault_armed;     /* the callbacks fault */
static volatile bool down_first;     /* ... after marking the link down */
static volatile unsigned int calls;  /* bursts that reached the port */

static bool
test_link_up(uint16_t p)
{
	(void)p;
	return up;
}

static void
maybe_fault(void)
{
	calls++;
	if (!fault_armed)
		return;
	if (down_first)
		up = false;
	(void)*hole;
}

static uint16_t
rx_cb(uint16_t p, uint16_t q, struct rte_mbuf **pkts, uint16_t nb,
      uint16_t max, void *arg)
{
	(void)p; (void)q; (void)max; (void)arg;
	maybe_fault();
	/* Not reached after a fault; otherwise hand nothing up. */
	rte_pktmbuf_free_bulk(pkts, nb);
	return 0;
}

static uint16_t
tx_cb(uint16_t p, uint16_t q, struct rte_mbuf **pkts, uint16_t nb, void *arg)
{
	(void)p; (void)q; (void)pkts; (void)arg;
	maybe_fault();
	return nb;
}

static void
test_rx_survives_twice(void)
{
	struct rte_mbuf *pkts[32];
	uint64_t faults = 0;

	fault_armed = 1;
	down_first = true;
	up = true;
	CU_ASSERT_EQUAL(app_guard_rx(port, 0, pkts, 32, &faults), 0);
	CU_ASSERT_EQUAL(faults, 1);
	up = true;
	CU_ASSERT_EQUAL(app_guard_rx(port, 0, pkts, 32, &faults), 0);
	CU_ASSERT_EQUAL(faults, 2);
	fault_armed = 0;
	up = true;
	/* Without a fault the burst runs as usual. */
	calls = 0;
	CU_ASSERT_EQUAL(app_guard_rx(port, 0, pkts, 32, &faults), 0);
	CU_ASSERT_EQUAL(calls, 1);
	CU_ASSERT_EQUAL(faults, 2);
}

static void
test_no_burst_on_link_down(void)
{
	struct rte_mbuf *pkts[4];
	uint64_t faults = 0;

	/* memif's connect race: a burst that starts before the rings are
	 * mapped faults even after the link comes up. None may start. */
	fault_armed = 1;
	down_first = false;
	up = false;
	calls = 0;
	CU_ASSERT_EQUAL(app_guard_rx(port, 0, pkts, 4, &faults), 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_alloc_bulk(mp, pkts, 4), 0);
	CU_ASSERT_EQUAL(app_guard_tx(port, 0, pkts, 4, &faults), 0);
	rte_pktmbuf_free_bulk(pkts, 4);
	CU_ASSERT_EQUAL(calls, 0);
	CU_ASSERT_EQUAL(faults, 0);
	fault_armed = 0;
	up = true;
}

static void
test_tx_survives(void)
{
	struct rte_mbuf *pkts[4];
	uint64_t faults = 0;

	CU_ASSERT_EQUAL(rte_pktmbuf_alloc_bulk(mp, pkts, 4), 0);
	up = true;
	down_first = true;
	fault_armed = 1;
	/* All frames reported taken (leaked: the PMD may have freed some). */
	CU_ASSERT_EQUAL(app_guard_tx(port, 0, pkts, 4, &faults), 4);
	CU_ASSERT_EQUAL(faults, 1);
	fault_armed = 0;
	up = true;
	rte_pktmbuf_free_bulk(pkts, 4);
}

/* Run fn in a child: did it die of the fault? (By SIGSEGV; under ASan
 * its own handler, which ours falls back to, reports and exits 1.) */
static bool
dies_in_child(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
		(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

static void
child_fault_link_up(void)
{
	struct rte_mbuf *pkts[32];
	uint64_t faults = 0;

	up = true;
	down_first = false;
	fault_armed = 1;
	app_guard_rx(port, 0, pkts, 32, &faults);
}

static void
child_fault_outside_burst(void)
{
	up = false;
	(void)*hole;
}

static void
test_real_faults_still_crash(void)
{
	CU_ASSERT(dies_in_child(child_fault_link_up));
	CU_ASSERT(dies_in_child(child_fault_outside_burst));
}

int
main(int argc, char **argv)
{
	char *eal[] = { "test_pmd_guard", "--no-huge", "--no-pci",
			"--no-shconf", "-m", "256", "--log-level=error",
			"-l", "0", "--no-telemetry", "--vdev=net_null0", NULL };
	struct rte_eth_conf conf = { 0 };
	int failed;
	void *page;

	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0)
		return 77;
	mp = rte_pktmbuf_pool_create("guard_mp", 1023, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL || rte_eth_dev_count_avail() == 0 ||
	    rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, 64, SOCKET_ID_ANY, NULL, mp) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, 64, SOCKET_ID_ANY, NULL) < 0 ||
	    rte_eth_dev_start(port) < 0 ||
	    rte_eth_add_rx_callback(port, 0, rx_cb, NULL) == NULL ||
	    rte_eth_add_tx_callback(port, 0, tx_cb, NULL) == NULL)
		return 77;
	page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || munmap(page, 4096) < 0)
		return 1;
	hole = page;
	if (app_guard_install(test_link_up) < 0)
		return 1;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("pmd_guard", NULL, NULL);
	CU_add_test(s, "rx fault after the link went down, twice", test_rx_survives_twice);
	CU_add_test(s, "tx fault after the link went down", test_tx_survives);
	CU_add_test(s, "no burst starts on a link that is down",
		    test_no_burst_on_link_down);
	CU_add_test(s, "other faults still crash", test_real_faults_still_crash);
	failed = fmq_test_run(argc, argv);
	rte_eth_dev_stop(port);
	rte_eal_cleanup();
	return failed;
}
