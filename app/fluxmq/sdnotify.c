/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service manager's side of the broker: systemd's notify protocol
 * (one AF_UNIX datagram per state to $NOTIFY_SOCKET, no libsystemd) and
 * the build identity in /metrics.
 *
 * READY=1 goes out once, when the control loop first sees the broker
 * healthy (port up, data lcores launched: /health answers 200).
 * WATCHDOG=1 goes out every $WATCHDOG_USEC / 3, and only if every data
 * lcore's poll loop ran since the previous check: a data lcore that hangs
 * (a PMD stuck, an endless loop) stops the pings and systemd restarts the
 * broker, though the control lcore and /health still answer. A data lcore
 * sleeps at most poll.idle.max_us (<= 100 ms) or 1 ms on RX interrupts
 * between two iterations, so a check interval of 1/3 s or more never
 * mistakes an idle lcore for a stuck one. STOPPING=1 goes out at the start
 * of a clean stop.
 *
 * Everything here runs on the control lcore (one sendto() per event).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app.h"
#include "version.h"

/* Below this, an adaptive data lcore's longest sleep could look like a
 * stall (see the header comment). */
#define SD_MIN_CHECK_NS 200000000ull

static struct {
	bool init;
	int fd;                  /* -1: no $NOTIFY_SOCKET */
	struct sockaddr_un addr;
	socklen_t addr_len;
	bool ready_sent;
	uint64_t check_ns;       /* 0: no watchdog requested */
	uint64_t next_check_ns;
	uint64_t last_polls[APP_MAX_DATA_LCORES];
	/* counters (control lcore only) */
	uint64_t pings, withheld, send_errors;
	int stalled_lcore;       /* last lcore found stalled, -1 */
} sd = { .fd = -1, .stalled_lcore = -1 };

static void
sd_send(const char *msg)
{
	if (sd.fd < 0)
		return;
	/* Never block the control lcore on a full socket. */
	if (sendto(sd.fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
		   (const struct sockaddr *)&sd.addr, sd.addr_len) < 0) {
		if (sd.send_errors++ == 0)
			FMQ_WARN("sdnotify", "notify socket: %s",
				 strerror(errno));
	}
}

static void
sd_metrics(struct fmq_metrics_out *out, void *arg)
{
	char lbl[160];

	(void)arg;
	snprintf(lbl, sizeof(lbl), "version=\"%s\",commit=\"%s\"",
		 FMQ_VERSION, FMQ_COMMIT);
	fmq_metrics_family(out, "fluxmq_build_info", "gauge",
			   "Always 1; the labels name the broker's version "
			   "and source commit");
	fmq_metrics_u64(out, "fluxmq_build_info", lbl, 1);
	fmq_metrics_family(out, "fluxmq_systemd_watchdog_interval_seconds",
			   "gauge", "Seconds between watchdog checks (0: the "
			   "service manager asked for no watchdog)");
	fmq_metrics_f64(out, "fluxmq_systemd_watchdog_interval_seconds", NULL,
			(double)sd.check_ns / 1e9);
	fmq_metrics_one(out, "fluxmq_systemd_watchdog_pings_total", "counter",
			"WATCHDOG=1 sent: every data lcore had run its loop "
			"since the previous check", sd.pings);
	fmq_metrics_one(out, "fluxmq_systemd_watchdog_withheld_total",
			"counter", "Watchdog checks that found a data lcore "
			"whose loop had not run, so sent nothing", sd.withheld);
	fmq_metrics_one(out, "fluxmq_systemd_notify_errors_total", "counter",
			"Notifications the service manager's socket refused",
			sd.send_errors);
}

/* Read the environment once; the socket stays open until exit. */
static void
sd_init(struct app *a)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");
	size_t len;

	sd.init = true;
	if (fmq_metrics_register(a->metrics, sd_metrics, NULL) < 0)
		FMQ_WARN("sdnotify", "no memory for the build/watchdog metrics");
	if (path == NULL || path[0] == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(sd.addr.sun_path)) {
		FMQ_WARN("sdnotify", "NOTIFY_SOCKET='%s' is not a socket path; "
			 "not notifying", path);
		return;
	}
	sd.addr.sun_family = AF_UNIX;
	memcpy(sd.addr.sun_path, path, len);
	if (path[0] == '@')
		sd.addr.sun_path[0] = '\0';   /* abstract namespace */
	sd.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	sd.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sd.fd < 0) {
		FMQ_WARN("sdnotify", "socket: %s; not notifying",
			 strerror(errno));
		return;
	}
	if (wd != NULL && (wpid == NULL || atol(wpid) == (long)getpid())) {
		char *end;
		unsigned long long us = strtoull(wd, &end, 10);

		if (*end != '\0' || us == 0) {
			FMQ_WARN("sdnotify", "WATCHDOG_USEC='%s' is not a "
				 "number of microseconds; no watchdog", wd);
			return;
		}
		sd.check_ns = us * 1000ull / 3;
		if (sd.check_ns < SD_MIN_CHECK_NS) {
			FMQ_WARN("sdnotify", "WatchdogSec below 0.6 s: checking "
				 "every 0.2 s, pings may come late");
			sd.check_ns = SD_MIN_CHECK_NS;
		}
		FMQ_INFO("sdnotify", "watchdog: checking the data lcores every "
			 "%llu ms", (unsigned long long)(sd.check_ns / 1000000));
	}
}

/* Has every data lcore run its loop since the last check? */
static bool
lcores_alive(const struct app *a)
{
	bool alive = true;

	for (unsigned int i = 0; i < a->n_data; i++) {
		uint64_t p = __atomic_load_n(&a->data[i].polls,
					     __ATOMIC_RELAXED);
		if (p == sd.last_polls[i]) {
			if (sd.stalled_lcore != (int)i)
				FMQ_WARN("sdnotify", "data lcore %u (EAL lcore "
					 "%u) has not polled for %llu ms: "
					 "withholding the watchdog", i,
					 a->data[i].lcore_id,
					 (unsigned long long)
					 (sd.check_ns / 1000000));
			sd.stalled_lcore = (int)i;
			alive = false;
		}
		sd.last_polls[i] = p;
	}
	if (alive)
		sd.stalled_lcore = -1;
	return alive;
}

void
app_sd_tick(struct app *a)
{
	uint64_t now;

	if (!sd.init)
		sd_init(a);
	if (sd.fd < 0)
		return;
	if (!sd.ready_sent && atomic_load(&a->healthy)) {
		char msg[96];

		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving, %u data "
			 "lcore(s)\nMAINPID=%ld", a->n_data, (long)getpid());
		sd_send(msg);
		sd.ready_sent = true;
		now = fmq_now_ns();
		sd.next_check_ns = now + sd.check_ns;
		for (unsigned int i = 0; i < a->n_data; i++)
			sd.last_polls[i] = __atomic_load_n(&a->data[i].polls,
							   __ATOMIC_RELAXED);
		return;
	}
	if (!sd.ready_sent || sd.check_ns == 0)
		return;
	now = fmq_now_ns();
	if (now < sd.next_check_ns)
		return;
	sd.next_check_ns = now + sd.check_ns;
	if (lcores_alive(a)) {
		sd_send("WATCHDOG=1");
		sd.pings++;
	} else {
		sd.withheld++;
	}
}

void
app_sd_stopping(struct app *a)
{
	(void)a;
	if (sd.fd < 0)
		return;
	sd_send("STOPPING=1\nSTATUS=stopping: flushing partitions");
}
