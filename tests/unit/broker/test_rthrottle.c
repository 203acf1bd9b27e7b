/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replication throttle's pieces (lib/broker/broker_rthrottle.c): the
 * *.replication.throttled.replicas lists and the token bucket.
 */
#include <stdint.h>

#include "fmq_broker.h"
#include "harness.h"

static void
test_listed(void)
{
	CU_ASSERT(fmq_broker_rthr_listed("*", 7, 3));
	CU_ASSERT(fmq_broker_rthr_listed("0:1,0:2,1:3", 0, 2));
	CU_ASSERT(fmq_broker_rthr_listed("0:1,0:2,1:3", 1, 3));
	CU_ASSERT(!fmq_broker_rthr_listed("0:1,0:2,1:3", 1, 2));
	CU_ASSERT(!fmq_broker_rthr_listed("0:1,0:2,1:3", 2, 3));
	CU_ASSERT(!fmq_broker_rthr_listed("", 0, 1));
	CU_ASSERT(!fmq_broker_rthr_listed("10:1", 1, 1));
	CU_ASSERT(!fmq_broker_rthr_listed("0:12", 0, 1));
	CU_ASSERT(!fmq_broker_rthr_listed("x:1", 0, 1));
}

static void
test_bucket(void)
{
	const uint64_t s = 1000000000ull;
	struct fmq_rthr_bucket k = { 0, 0 };

	/* Starts full: one second's worth. */
	fmq_rthr_refill(&k, 1000, 5 * s);
	CU_ASSERT_EQUAL(k.tokens, 1000);
	/* Spent and overdrawn by a batch, then paid back at the rate. */
	k.tokens -= 1500;
	fmq_rthr_refill(&k, 1000, 5 * s + s / 4);
	CU_ASSERT_EQUAL(k.tokens, -250);
	fmq_rthr_refill(&k, 1000, 5 * s + s);
	CU_ASSERT_EQUAL(k.tokens, 500);
	/* Never more than one second's worth. */
	fmq_rthr_refill(&k, 1000, 60 * s);
	CU_ASSERT_EQUAL(k.tokens, 1000);
	/* Many small steps add up: 1000 steps of 1 ms at 1 MB/s give 1 MB
	 * (a step loses its fraction of a byte, at most one per refill). */
	k.tokens = 0;
	for (int i = 1; i <= 1000; i++)
		fmq_rthr_refill(&k, 1000000, 60 * s + (uint64_t)i * 1000000);
	CU_ASSERT_EQUAL(k.tokens, 1000000);
	/* A huge rate does not overflow. */
	fmq_rthr_refill(&k, (uint64_t)INT64_MAX - 1, 3600 * s);
	CU_ASSERT(k.tokens > 0);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("rthrottle", NULL, NULL);
	CU_add_test(s, "throttled replicas lists", test_listed);
	CU_add_test(s, "token bucket", test_bucket);
	return fmq_test_run(argc, argv);
}
