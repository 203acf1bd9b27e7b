/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow steering and NUMA placement: pure functions of their inputs, so
 * the unit tests can drive them with injected topologies and flows. The
 * flow hash is lib/net's (fmq_net_steer.h, shared with the load
 * generator); the placement is the application's (steer.c).
 */
#ifndef FMQ_APP_STEER_H
#define FMQ_APP_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include "fmq_net_steer.h"

/* ------------------------------------------------------------------------
 * NUMA placement
 * ---------------------------------------------------------------------- */

#define FMQ_PLACE_MAX_LCORES 128
#define FMQ_PLACE_MAX_PORTS 16
#define FMQ_PLACE_MAX_NODES 8

/**
 * The NUMA topology placement works on. host_nodes: nodes the host has
 * (libnuma; 0 or 1 when it has no NUMA support); lcore_socket[i]: DPDK
 * socket of data lcore i (-1: unknown); forced: numa.nodes (0: detect).
 * Detected, the node count covers every lcore's socket. Forced to N and
 * the host does not have N nodes, the layout is injected: data lcore i is
 * on node i mod N (*injected is then true). At most FMQ_PLACE_MAX_NODES.
 * @return the node count (>= 1); lcore_node[0..n_lcores) is filled.
 */
unsigned int fmq_place_nodes(unsigned int host_nodes, const int *lcore_socket,
			     unsigned int n_lcores, unsigned int forced,
			     int *lcore_node, bool *injected);

struct fmq_place_in {
	unsigned int n_nodes;                    /**< >= 1 */
	unsigned int n_lcores;                   /**< data lcores */
	int lcore_node[FMQ_PLACE_MAX_LCORES];    /**< -1: unknown */
	unsigned int n_ports;
	int port_node[FMQ_PLACE_MAX_PORTS];      /**< -1: unknown */
	unsigned int port_max_queues[FMQ_PLACE_MAX_PORTS];
	uint64_t hot_pool_bytes;                 /**< total, split per node */
};

struct fmq_place_out {
	/** node whose memory each data lcore's state, rings and pool use */
	int lcore_node[FMQ_PLACE_MAX_LCORES];
	/** data lcores polling each port, queue q served by port_lcore[p][q] */
	unsigned int port_nq[FMQ_PLACE_MAX_PORTS];
	uint16_t port_lcore[FMQ_PLACE_MAX_PORTS][FMQ_PLACE_MAX_LCORES];
	/** warning: no data lcore on the port's node, remote lcores poll it */
	bool port_remote[FMQ_PLACE_MAX_PORTS];
	/** fewer queues than lcores: the others get flows by steering */
	bool port_short[FMQ_PLACE_MAX_PORTS];
	/** per node: data lcores, mbuf pool needed, share of the hot pool */
	unsigned int node_lcores[FMQ_PLACE_MAX_NODES];
	bool node_pool[FMQ_PLACE_MAX_NODES];
	uint64_t node_hot_bytes[FMQ_PLACE_MAX_NODES];
};

/**
 * Decide where everything lives: each port is polled by the data lcores on
 * its own node (all of them, with a warning, when its node has none), one
 * queue per polling lcore up to what the port offers; per-lcore state on
 * the lcore's node; one mbuf pool per node that polls or hosts a port; the
 * hot pool split between nodes in proportion to their data lcores.
 * @return 0, or -EINVAL for an impossible input (no lcores, bad counts).
 */
int fmq_place(const struct fmq_place_in *in, struct fmq_place_out *out);

#endif
