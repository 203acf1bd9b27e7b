/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few helpers rdkafka_performance.c (the example Debian's
 * librdkafka-dev ships) takes from librdkafka's private source tree, which
 * the package does not install. Our own minimal versions, so the example
 * builds unchanged against the system library.
 */
#ifndef FMQ_RDCOMPAT_RD_H
#define FMQ_RDCOMPAT_RD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Microseconds. */
typedef int64_t rd_ts_t;

/* Monotonic clock in microseconds. */
static inline rd_ts_t
rd_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define rd_snprintf snprintf
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))

#endif
