/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bursts on a port whose PMD may unmap its rings while a burst runs
 * (net_memif when its peer leaves): see pmd_guard.c.
 */
#ifndef FMQ_APP_PMD_GUARD_H
#define FMQ_APP_PMD_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;

/** Is the port's peer gone (the PMD may be tearing its rings down)? */
typedef bool (*app_guard_gone_fn)(uint16_t port);

/**
 * Install the SIGSEGV/SIGBUS handler (process-wide, once).
 * @param gone  NULL: the port's link is down (memif marks it down before
 *   it unmaps); tests inject their own.
 * @return 0 or -errno from sigaction.
 */
int app_guard_install(app_guard_gone_fn gone);

/**
 * rte_eth_rx_burst, guarded: a fault inside it while gone(port) holds
 * abandons the burst, counts it in *faults and returns 0.
 */
uint16_t app_guard_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts,
		      uint16_t n, uint64_t *faults);

/**
 * rte_eth_tx_burst, guarded: after a fault (as above) it returns n: the
 * frames are leaked, since the PMD may already have freed some of them.
 */
uint16_t app_guard_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts,
		      uint16_t n, uint64_t *faults);

#endif
