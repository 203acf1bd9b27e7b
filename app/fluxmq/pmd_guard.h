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

/** Is the port's link up (its rings mapped, its peer there)? */
typedef bool (*app_guard_link_fn)(uint16_t port);

/**
 * Install the SIGSEGV/SIGBUS handler (process-wide, once).
 * @param up  NULL: rte_eth_link_get_nowait (memif marks the link up after
 *   it maps its rings and down before it unmaps them); tests inject their
 *   own.
 * @return 0 or -errno from sigaction.
 */
int app_guard_install(app_guard_link_fn up);

/**
 * rte_eth_rx_burst, guarded: nothing (0) while the link is down; a fault
 * inside the burst once the link went down abandons the burst, counts it
 * in *faults and returns 0.
 */
uint16_t app_guard_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts,
		      uint16_t n, uint64_t *faults);

/**
 * rte_eth_tx_burst, guarded: 0 while the link is down (the caller frees
 * the frames); after a fault (as above) it returns n: the frames are
 * leaked, since the PMD may already have freed some of them.
 */
uint16_t app_guard_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts,
		      uint16_t n, uint64_t *faults);

#endif
