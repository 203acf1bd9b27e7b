/* SPDX-License-Identifier: Apache-2.0 */
/* NUMA placement (see steer.h); the flow hash is lib/net/net_steer.c. */
#include <errno.h>
#include <string.h>

#include "steer.h"

unsigned int
fmq_place_nodes(unsigned int host_nodes, const int *lcore_socket,
		unsigned int n_lcores, unsigned int forced, int *lcore_node,
		bool *injected)
{
	unsigned int real = host_nodes > 0 ? host_nodes : 1, n;

	for (unsigned int i = 0; i < n_lcores; i++)
		if (lcore_socket[i] >= 0 &&
		    (unsigned int)lcore_socket[i] + 1 > real)
			real = (unsigned int)lcore_socket[i] + 1;
	n = forced == 0 ? real : forced;
	*injected = forced != 0 && n != real;
	if (n > FMQ_PLACE_MAX_NODES)
		n = FMQ_PLACE_MAX_NODES;
	for (unsigned int i = 0; i < n_lcores; i++) {
		int node = *injected ? (int)(i % n) : lcore_socket[i];

		lcore_node[i] = node >= 0 && (unsigned int)node < n ? node : 0;
	}
	return n;
}

int
fmq_place(const struct fmq_place_in *in, struct fmq_place_out *out)
{
	unsigned int nn = in->n_nodes;

	if (nn == 0 || nn > FMQ_PLACE_MAX_NODES || in->n_lcores == 0 ||
	    in->n_lcores > FMQ_PLACE_MAX_LCORES ||
	    in->n_ports > FMQ_PLACE_MAX_PORTS)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (unsigned int l = 0; l < in->n_lcores; l++) {
		int node = in->lcore_node[l];
		if (node < 0 || (unsigned int)node >= nn)
			node = 0;
		out->lcore_node[l] = node;
		out->node_lcores[node]++;
		out->node_pool[node] = true;
	}
	for (unsigned int p = 0; p < in->n_ports; p++) {
		int pn = in->port_node[p];
		bool local = pn >= 0 && (unsigned int)pn < nn &&
			out->node_lcores[pn] > 0;
		unsigned int q = 0;

		/* Unknown node (virtual devices): treat as local to all. */
		out->port_remote[p] = pn >= 0 && !local;
		for (unsigned int l = 0; l < in->n_lcores; l++) {
			if (local && out->lcore_node[l] != pn)
				continue;
			if (q < in->port_max_queues[p])
				out->port_lcore[p][q++] = (uint16_t)l;
			else
				out->port_short[p] = true;
		}
		out->port_nq[p] = q;
		if (pn >= 0 && (unsigned int)pn < nn)
			out->node_pool[pn] = true;
	}
	/* Hot pool: in proportion to the data lcores of each node, rounded
	 * down to 2 MiB pages, the remainder to the first node that has any. */
	uint64_t page = 2ull << 20, given = 0;
	int first = -1;
	for (unsigned int n = 0; n < nn; n++) {
		if (out->node_lcores[n] == 0)
			continue;
		if (first < 0)
			first = (int)n;
		uint64_t share = in->hot_pool_bytes / in->n_lcores *
			out->node_lcores[n];
		share -= share % page;
		out->node_hot_bytes[n] = share;
		given += share;
	}
	if (first >= 0)
		out->node_hot_bytes[first] += in->hot_pool_bytes - given;
	return 0;
}
