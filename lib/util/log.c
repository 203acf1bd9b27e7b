/* SPDX-License-Identifier: Apache-2.0 */
/* One-line log messages on stderr. */
#include <time.h>

#include "fmq_util.h"

static enum fmq_log_level cur_level = FMQ_LOG_INFO;

void
fmq_log_set_level(enum fmq_log_level lvl)
{
	cur_level = lvl;
}

enum fmq_log_level
fmq_log_get_level(void)
{
	return cur_level;
}

void
fmq_log(enum fmq_log_level lvl, const char *comp, const char *fmt, ...)
{
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (lvl > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* One fprintf per line so concurrent lcores do not interleave. */
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s: %s\n", tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[lvl], comp, msg);
}
