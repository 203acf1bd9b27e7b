/* SPDX-License-Identifier: Apache-2.0 */
/* Flow steering (symmetric Toeplitz) and NUMA placement over injected
 * 1-, 2- and 4-node topologies. */
#include <string.h>

#include <CUnit/CUnit.h>

#include "steer.h"
#include "harness.h"

static void
test_hash_symmetric(void)
{
	uint32_t seed = 12345;

	for (int i = 0; i < 10000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t a = seed;
		seed = seed * 1103515245u + 12345u;
		uint32_t b = seed;
		uint16_t sp = (uint16_t)(seed >> 7), dp = (uint16_t)(seed >> 13);
		CU_ASSERT_EQUAL(fmq_steer_hash(a, b, sp, dp),
				fmq_steer_hash(b, a, dp, sp));
	}
}

static void
test_hash_known_vector(void)
{
	/* Toeplitz is linear: with a key whose 32-bit windows are all the
	 * same (0x6d5a6d5a at even shifts), swapping the halves of the tuple
	 * changes nothing; and the all-zero tuple hashes to 0. */
	CU_ASSERT_EQUAL(fmq_steer_hash(0, 0, 0, 0), 0);
	/* Different flows spread over lcores. */
	unsigned int count[4] = { 0 };
	for (uint32_t p = 1024; p < 1024 + 4000; p++)
		count[fmq_steer_lcore(fmq_steer_hash(0x0a4d0001, 0x0a4d0002,
						     (uint16_t)p, 9092), 4)]++;
	for (int l = 0; l < 4; l++)
		CU_ASSERT(count[l] > 700 && count[l] < 1300);
}

static void
test_pick_sport(void)
{
	for (unsigned int n = 1; n <= 8; n++) {
		for (unsigned int want = 0; want < n; want++) {
			uint16_t p = fmq_steer_pick_sport(0x0a000001, 0x0a000002,
							  9092, want, n,
							  32768, 61000);
			CU_ASSERT_NOT_EQUAL(p, 0);
			/* Both directions of that flow land on `want`. */
			CU_ASSERT_EQUAL(fmq_steer_lcore(fmq_steer_hash(
				0x0a000001, 0x0a000002, p, 9092), n), want);
			CU_ASSERT_EQUAL(fmq_steer_lcore(fmq_steer_hash(
				0x0a000002, 0x0a000001, 9092, p), n), want);
		}
	}
	CU_ASSERT_EQUAL(fmq_steer_pick_sport(1, 2, 3, 5, 4, 100, 100), 0);
}

static void
test_place_nodes(void)
{
	int sock[4] = { 0, 0, 1, 1 }, node[4];
	bool inj;

	/* Detected: the host's nodes, each lcore on its socket. */
	CU_ASSERT_EQUAL(fmq_place_nodes(2, sock, 4, 0, node, &inj), 2);
	CU_ASSERT(!inj);
	CU_ASSERT(node[0] == 0 && node[1] == 0 && node[2] == 1 &&
		  node[3] == 1);
	/* No libnuma support, but DPDK sees socket 1: two nodes. */
	CU_ASSERT_EQUAL(fmq_place_nodes(0, sock, 4, 0, node, &inj), 2);
	CU_ASSERT(!inj);
	/* Forced to what the host has: still the real sockets. */
	CU_ASSERT_EQUAL(fmq_place_nodes(2, sock, 4, 2, node, &inj), 2);
	CU_ASSERT(!inj && node[2] == 1 && node[1] == 0);
	/* Injected on a one-node host: lcore i on node i mod N. */
	memset(sock, 0, sizeof(sock));
	CU_ASSERT_EQUAL(fmq_place_nodes(1, sock, 4, 2, node, &inj), 2);
	CU_ASSERT(inj);
	CU_ASSERT(node[0] == 0 && node[1] == 1 && node[2] == 0 &&
		  node[3] == 1);
	CU_ASSERT_EQUAL(fmq_place_nodes(1, sock, 4, 4, node, &inj), 4);
	CU_ASSERT(inj && node[3] == 3);
	/* Forced down to one node on a two-node host: everything on 0. */
	sock[2] = sock[3] = 1;
	CU_ASSERT_EQUAL(fmq_place_nodes(2, sock, 4, 1, node, &inj), 1);
	CU_ASSERT(inj && node[2] == 0 && node[3] == 0);
	/* Unknown sockets count as node 0; never more than the maximum. */
	sock[1] = -1;
	CU_ASSERT_EQUAL(fmq_place_nodes(1, sock, 2, 0, node, &inj), 1);
	CU_ASSERT(node[1] == 0);
	CU_ASSERT_EQUAL(fmq_place_nodes(64, sock, 4, 0, node, &inj),
			FMQ_PLACE_MAX_NODES);
}

static void
test_place_single_node(void)
{
	struct fmq_place_in in = { .n_nodes = 1, .n_lcores = 2, .n_ports = 1,
				   .hot_pool_bytes = 256ull << 20 };
	struct fmq_place_out out;

	in.lcore_node[0] = 0;
	in.lcore_node[1] = 0;
	in.port_node[0] = -1;          /* virtual device */
	in.port_max_queues[0] = 16;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), 0);
	CU_ASSERT_EQUAL(out.port_nq[0], 2);
	CU_ASSERT_EQUAL(out.port_lcore[0][0], 0);
	CU_ASSERT_EQUAL(out.port_lcore[0][1], 1);
	CU_ASSERT(!out.port_remote[0]);
	CU_ASSERT(!out.port_short[0]);
	CU_ASSERT_EQUAL(out.node_hot_bytes[0], 256ull << 20);
	/* A one-queue port (af_packet): one poller, the other steers in. */
	in.port_max_queues[0] = 1;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), 0);
	CU_ASSERT_EQUAL(out.port_nq[0], 1);
	CU_ASSERT(out.port_short[0]);
}

static void
test_place_two_nodes(void)
{
	struct fmq_place_in in = { .n_nodes = 2, .n_lcores = 4, .n_ports = 2,
				   .hot_pool_bytes = 1ull << 30 };
	struct fmq_place_out out;
	int nodes[4] = { 0, 0, 1, 1 };

	memcpy(in.lcore_node, nodes, sizeof(nodes));
	in.port_node[0] = 0;
	in.port_node[1] = 1;
	in.port_max_queues[0] = in.port_max_queues[1] = 64;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), 0);
	/* Each port served by the two lcores of its own node. */
	CU_ASSERT_EQUAL(out.port_nq[0], 2);
	CU_ASSERT_EQUAL(out.port_lcore[0][0], 0);
	CU_ASSERT_EQUAL(out.port_lcore[0][1], 1);
	CU_ASSERT_EQUAL(out.port_nq[1], 2);
	CU_ASSERT_EQUAL(out.port_lcore[1][0], 2);
	CU_ASSERT_EQUAL(out.port_lcore[1][1], 3);
	CU_ASSERT(!out.port_remote[0] && !out.port_remote[1]);
	CU_ASSERT_EQUAL(out.lcore_node[3], 1);
	CU_ASSERT_EQUAL(out.node_hot_bytes[0], 512ull << 20);
	CU_ASSERT_EQUAL(out.node_hot_bytes[1], 512ull << 20);
	CU_ASSERT(out.node_pool[0] && out.node_pool[1]);
}

static void
test_place_four_nodes_uneven(void)
{
	struct fmq_place_in in = { .n_nodes = 4, .n_lcores = 3, .n_ports = 2,
				   .hot_pool_bytes = 300ull << 20 };
	struct fmq_place_out out;
	int nodes[3] = { 0, 2, 2 };

	memcpy(in.lcore_node, nodes, sizeof(nodes));
	in.port_node[0] = 3;          /* no data lcore on node 3 */
	in.port_node[1] = 2;
	in.port_max_queues[0] = 8;
	in.port_max_queues[1] = 1;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), 0);
	/* Port 0: remote, all lcores poll it, and a warning. */
	CU_ASSERT(out.port_remote[0]);
	CU_ASSERT_EQUAL(out.port_nq[0], 3);
	/* Port 1: one queue for two local lcores. */
	CU_ASSERT_EQUAL(out.port_nq[1], 1);
	CU_ASSERT_EQUAL(out.port_lcore[1][0], 1);
	CU_ASSERT(out.port_short[1]);
	/* Node 3 hosts a port, so its RX mbufs need a pool there; no hot
	 * pool for nodes without data lcores. */
	CU_ASSERT(out.node_pool[3]);
	CU_ASSERT(!out.node_pool[1]);
	CU_ASSERT_EQUAL(out.node_hot_bytes[1], 0);
	CU_ASSERT_EQUAL(out.node_hot_bytes[3], 0);
	CU_ASSERT_EQUAL(out.node_hot_bytes[0] + out.node_hot_bytes[2],
			300ull << 20);
	CU_ASSERT_EQUAL(out.node_hot_bytes[2] % (2u << 20), 0);
	/* Bad input. */
	in.n_lcores = 0;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), -EINVAL);
	in.n_lcores = 1;
	in.n_nodes = 9;
	CU_ASSERT_EQUAL(fmq_place(&in, &out), -EINVAL);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("steer", NULL, NULL);
	CU_add_test(s, "hash is symmetric", test_hash_symmetric);
	CU_add_test(s, "hash spreads flows", test_hash_known_vector);
	CU_add_test(s, "source port picked for an lcore", test_pick_sport);
	CU_add_test(s, "placement: node layout (detected, forced, injected)",
		    test_place_nodes);
	CU_add_test(s, "placement: one node", test_place_single_node);
	CU_add_test(s, "placement: two nodes", test_place_two_nodes);
	CU_add_test(s, "placement: four nodes, uneven", test_place_four_nodes_uneven);
	fails = fmq_test_run(argc, argv);
	return fails;
}
