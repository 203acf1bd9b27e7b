/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One CUnit runner for every unit test program.
 *
 * A test program registers its suites and tests with CUnit as usual
 * (CU_initialize_registry, CU_add_suite, CU_add_test), wraps the few slow
 * tests in fmq_test_slow(), and ends main with
 *
 *	return fmq_test_run(argc, argv);
 *
 * The command line then selects what runs:
 *	--fast       every test not marked slow (meson suite 'fast')
 *	--slow       only the tests marked slow (meson suite 'slow')
 *	--list       print the selected tests, run nothing
 *	PATTERN...   only tests whose "suite: test" name contains one of them
 * Each test prints one line with its result, wall and CPU time, and the
 * file:line of every failed assertion.
 */
#ifndef FMQ_TEST_HARNESS_H
#define FMQ_TEST_HARNESS_H

#include <CUnit/CUnit.h>

/**
 * Mark a test slow: it takes about a second or more on an idle machine.
 * A slow test runs in the meson suite 'slow' only (the program is
 * registered twice, with --fast and with --slow).
 *
 * @param t
 *   What CU_add_test returned (NULL is passed through).
 * @return
 *   t.
 */
CU_pTest fmq_test_slow(CU_pTest t);

/**
 * Run the registered tests that argv selects (see above), print the
 * results, clean up the registry.
 *
 * @param argc, argv
 *   The options, from argv[1] on (argv[0] is the program name).
 * @return
 *   The process exit status: 0 if every selected test passed, 1 if an
 *   assertion failed, a suite's init or cleanup failed, the registry
 *   could not be built or nothing was selected, 2 on a bad option.
 */
int fmq_test_run(int argc, char **argv);

#endif /* FMQ_TEST_HARNESS_H */
