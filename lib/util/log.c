/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-line log messages on stderr: ISO 8601 local time with its UTC offset,
 * level, component and message, as text or as one JSON object per line.
 * Libraries that write to a FILE * (DPDK) get a stream that turns each of
 * their lines into one such message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmq_util.h"

static enum fmq_log_level cur_level = FMQ_LOG_INFO;
static bool json_lines;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

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
fmq_log_set_json(bool json)
{
	json_lines = json;
}

bool
fmq_log_is_json(void)
{
	return json_lines;
}

/* "2026-12-07T04:10:21.123+00:00": local time and its offset from UTC. */
static void
iso8601_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	long off;
	char sign = '+';

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	off = tm.tm_gmtoff;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, sign, off / 3600,
		 (off % 3600) / 60);
}

/* s as the inside of a JSON string (RFC 8259 escapes); truncates. */
static size_t
json_escape(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (c == '\t') {
			out[n++] = '\\';
			out[n++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, len - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

static void
emit(enum fmq_log_level lvl, const char *comp, const char *msg)
{
	char ts[96];

	iso8601_now(ts, sizeof(ts));
	/* One fprintf per line so concurrent lcores do not interleave. */
	if (json_lines) {
		char emsg[2048], ecomp[128];
		json_escape(emsg, sizeof(emsg), msg);
		json_escape(ecomp, sizeof(ecomp), comp);
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":\"%s\","
			"\"msg\":\"%s\"}\n", ts, level_names[lvl], ecomp, emsg);
	} else {
		fprintf(stderr, "%s %-5s %s: %s\n", ts, level_names[lvl], comp,
			msg);
	}
}

void
fmq_log(enum fmq_log_level lvl, const char *comp, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (lvl > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(lvl, comp, msg);
}

bool
fmq_log_rl(struct fmq_log_rl *rl, uint64_t interval_ns, enum fmq_log_level lvl,
	   const char *comp, const char *fmt, ...)
{
	uint64_t now = fmq_now_ns();
	char msg[1024];
	va_list ap;

	if (lvl > cur_level)
		return false;
	if (rl->last_ns != 0 && now - rl->last_ns < interval_ns) {
		rl->dropped++;
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->dropped > 0)
		fmq_log(lvl, comp, "%s (and %" PRIu64 " more like it in the last "
			"%" PRIu64 " ms)", msg, rl->dropped,
			(now - rl->last_ns) / 1000000);
	else
		emit(lvl, comp, msg);
	rl->last_ns = now;
	rl->dropped = 0;
	return true;
}

/* ---- a FILE * whose lines become log messages ------------------------ */

struct log_stream {
	char comp[32];
	enum fmq_log_level (*level_fn)(void);
};

/* The line being assembled by this thread (a message may come in pieces). */
static __thread char pend[1024];
static __thread size_t pend_len;

static void
flush_line(const struct log_stream *ls)
{
	enum fmq_log_level lvl = ls->level_fn ? ls->level_fn() : FMQ_LOG_INFO;

	pend[pend_len] = '\0';
	pend_len = 0;
	if (pend[0] != '\0' && lvl <= cur_level)
		emit(lvl, ls->comp, pend);
}

static ssize_t
stream_write(void *cookie, const char *buf, size_t size)
{
	const struct log_stream *ls = cookie;

	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			flush_line(ls);
			continue;
		}
		/* A line longer than the buffer is cut into messages. */
		if (pend_len == sizeof(pend) - 1)
			flush_line(ls);
		pend[pend_len++] = buf[i];
	}
	return (ssize_t)size;
}

static int
stream_close(void *cookie)
{
	if (pend_len > 0)
		flush_line(cookie);
	free(cookie);
	return 0;
}

FILE *
fmq_log_stream(const char *comp, enum fmq_log_level (*level_fn)(void))
{
	cookie_io_functions_t io = {
		.write = stream_write,
		.close = stream_close,
	};
	struct log_stream *ls = calloc(1, sizeof(*ls));
	FILE *f;

	if (ls == NULL)
		return NULL;
	snprintf(ls->comp, sizeof(ls->comp), "%s", comp);
	ls->level_fn = level_fn;
	f = fopencookie(ls, "w", io);
	if (f == NULL) {
		free(ls);
		return NULL;
	}
	/* Unbuffered: every write reaches stream_write from the thread
	 * that made it, so per-thread assembly keeps lines apart. */
	setvbuf(f, NULL, _IONBF, 0);
	return f;
}
