/* SPDX-License-Identifier: Apache-2.0 */
/* The shared CUnit runner: see harness.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>

#include "harness.h"

#define MAX_SLOW 64

static CU_pTest slow_tests[MAX_SLOW];
static unsigned int n_slow;
static bool slow_overflow;
static struct timespec t0_wall, t0_cpu;

CU_pTest
fmq_test_slow(CU_pTest t)
{
	if (t == NULL)
		return NULL;
	if (n_slow < MAX_SLOW)
		slow_tests[n_slow++] = t;
	else
		slow_overflow = true;
	return t;
}

static bool
is_slow(CU_pTest t)
{
	unsigned int i;

	for (i = 0; i < n_slow; i++)
		if (slow_tests[i] == t)
			return true;
	return false;
}

static double
since(const struct timespec *t0, clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
		(double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
on_start(const CU_pTest t, const CU_pSuite s)
{
	printf("  %s: %s ...", s->pName, t->pName);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0_wall);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0_cpu);
}

static void
on_complete(const CU_pTest t, const CU_pSuite s,
	    const CU_pFailureRecord first)
{
	CU_pFailureRecord f = first;
	double wall = since(&t0_wall, CLOCK_MONOTONIC);
	double cpu = since(&t0_cpu, CLOCK_PROCESS_CPUTIME_ID);
	unsigned int i = 0;

	(void)s;
	printf(" %s (%.3f s, cpu %.3f s)%s\n", f == NULL ? "passed" : "FAILED",
	       wall, cpu, is_slow(t) ? " [slow]" : "");
	for (; f != NULL; f = f->pNext)
		printf("    %u. %s:%u - %s\n", ++i,
		       f->strFileName ? f->strFileName : "?", f->uiLineNumber,
		       f->strCondition ? f->strCondition : "?");
	fflush(stdout);
}

static void
on_suite_init_failure(const CU_pSuite s)
{
	printf("  %s: suite init FAILED, its tests did not run\n", s->pName);
}

static void
on_suite_cleanup_failure(const CU_pSuite s)
{
	printf("  %s: suite cleanup FAILED\n", s->pName);
}

static bool
matches(const CU_pSuite s, const CU_pTest t, char **pat, int npat)
{
	char name[512];
	int i;

	if (npat == 0)
		return true;
	snprintf(name, sizeof(name), "%s: %s", s->pName, t->pName);
	for (i = 0; i < npat; i++)
		if (strstr(name, pat[i]) != NULL)
			return true;
	return false;
}

int
fmq_test_run(int argc, char **argv)
{
	CU_pTestRegistry reg = CU_get_registry();
	bool fast = false, slow = false, list = false;
	char *pat[64];
	int npat = 0, i, rc;
	unsigned int selected = 0, failed;
	CU_pSuite s;
	CU_pTest t;

	if (reg == NULL || CU_get_error() != CUE_SUCCESS || slow_overflow) {
		fprintf(stderr, "test registry: %s\n",
			slow_overflow ? "too many slow tests" :
			CU_get_error_msg());
		CU_cleanup_registry();
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fast") == 0) {
			fast = true;
		} else if (strcmp(argv[i], "--slow") == 0) {
			slow = true;
		} else if (strcmp(argv[i], "--list") == 0) {
			list = true;
		} else if (strncmp(argv[i], "--", 2) == 0 ||
			   npat == (int)(sizeof(pat) / sizeof(pat[0]))) {
			fprintf(stderr, "usage: %s [--fast|--slow] [--list] "
				"[PATTERN...]\n", argv[0]);
			CU_cleanup_registry();
			return 2;
		} else {
			pat[npat++] = argv[i];
		}
	}
	for (s = reg->pSuite; s != NULL; s = s->pNext) {
		unsigned int in_suite = 0;

		for (t = s->pTest; t != NULL; t = t->pNext) {
			bool on = matches(s, t, pat, npat) &&
				!(fast && is_slow(t)) && !(slow && !is_slow(t));

			CU_set_test_active(t, on ? CU_TRUE : CU_FALSE);
			in_suite += on;
			if (on && list)
				printf("%s: %s%s\n", s->pName, t->pName,
				       is_slow(t) ? " [slow]" : "");
		}
		/* A suite with nothing selected does not even initialise. */
		CU_set_suite_active(s, in_suite > 0 ? CU_TRUE : CU_FALSE);
		selected += in_suite;
	}
	if (selected == 0) {
		fprintf(stderr, "%s: no test selected\n", argv[0]);
		CU_cleanup_registry();
		return 1;
	}
	if (list) {
		CU_cleanup_registry();
		return 0;
	}
	CU_set_fail_on_inactive(CU_FALSE);
	CU_set_test_start_handler(on_start);
	CU_set_test_complete_handler(on_complete);
	CU_set_suite_init_failure_handler(on_suite_init_failure);
	CU_set_suite_cleanup_failure_handler(on_suite_cleanup_failure);
	rc = CU_run_all_tests();
	failed = CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	printf("%u of %u tests run, %u failed, %u assertions failed\n",
	       CU_get_number_of_tests_run(), selected,
	       CU_get_number_of_tests_failed(), CU_get_number_of_failures());
	CU_cleanup_registry();
	return rc != CUE_SUCCESS || failed > 0 ? 1 : 0;
}
