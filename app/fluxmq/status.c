/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the management endpoint says about the broker besides /metrics:
 * liveness (/health), readiness (/ready), the JSON views the web console
 * reads (/v1/status, /v1/topics, /v1/groups, /v1/history) and the process
 * metrics (resident memory, CPU seconds).
 *
 * Liveness is the notion sdnotify.c feeds the watchdog with: a data lcore
 * lives while its poll counter moves. Here the control lcore samples the
 * counters on every pass of its loop (and again before answering, in case
 * the loop itself was held up), and a data lcore whose counter has not
 * moved for APP_LIVE_STALL_NS is stalled. An idle adaptive lcore sleeps at
 * most poll.idle.max_us (<= 100 ms) or 1 ms on RX interrupts, so a stall
 * is never just idleness. The bound is 3 s, not less: on a loaded 2-core
 * VM an lcore that was not held at all was seen without a poll for up to
 * 1.7 s (descheduled), and a liveness probe must not fail on that.
 *
 * The history is a ring of one sample a second over the last
 * APP_HIST_N seconds, so a console opened now draws the last minutes at
 * once. Everything here runs on the control lcore: no locks, and the
 * data lcores' counters are read with relaxed loads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "app.h"
#include "fmq_group.h"
#include "version.h"

/* A data lcore whose loop has not run for this long is stalled. */
#define APP_LIVE_STALL_NS 3000000000ull
#define APP_HIST_N 300
#define APP_HIST_STEP_NS 1000000000ull
/* /v1/topics sums segment file sizes of at most this many partitions
 * per request (one directory scan each); the rest report null. */
#define APP_SIZE_SCAN_MAX 2000

enum hist_series {
	HS_MSGS_IN,         /* records appended per second */
	HS_BYTES_IN,        /* record bytes appended per second */
	HS_NET_RX,          /* TCP payload bytes received per second */
	HS_NET_TX,          /* TCP payload bytes sent per second */
	HS_HOT_USED,        /* hot pool chunks in use, percent */
	HS_FLUSH_LAG,       /* bytes appended but not yet synced */
	HS_FLUSHED,         /* bytes written through per second */
	HS_TCP_CONNS,       /* connections open */
	HS_TCP_RETRANS,     /* retransmissions per second */
	HS_GROUP_LAG,       /* consumer lag summed over every group */
	HS_N
};

static const char *const hs_name[HS_N] = {
	"msgs_in", "bytes_in", "net_rx_bytes", "net_tx_bytes",
	"hot_used_pct", "flush_lag_bytes", "flushed_bytes", "tcp_connections",
	"tcp_retransmits", "consumer_lag",
};

struct hist_sample {
	int64_t t_ms;
	float v[HS_N];
	uint8_t busy[APP_MAX_DATA_LCORES];   /* percent per data lcore */
};

/* Counters at the previous sample, for rates. */
struct hist_prev {
	uint64_t ns;
	uint64_t recs, bytes, rx, tx, flushed, retrans;
	uint64_t busy[APP_MAX_DATA_LCORES], idle[APP_MAX_DATA_LCORES];
};

static struct {
	bool live_init;
	uint64_t polls[APP_MAX_DATA_LCORES];
	uint64_t moved_ns[APP_MAX_DATA_LCORES];
	uint64_t next_hist_ns;
	struct hist_prev prev;
	bool have_prev;
	struct hist_sample ring[APP_HIST_N];
	uint64_t nsamples;       /* ever taken; ring[(n - 1) % N] newest */
	uint64_t stalls;         /* lcores found stalled (transitions) */
	bool stalled[APP_MAX_DATA_LCORES];
} st;

/* ---- a growable JSON buffer (control path: malloc is fine) ---------- */

struct jbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
jb_reserve(struct jbuf *b, size_t more)
{
	size_t cap;
	char *np;

	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap == 0 ? 4096 : b->cap;
	while (cap < b->len + more + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void __rte_format_printf(2, 3)
jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	jb_reserve(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A JSON string of len bytes (len < 0: NUL-terminated; NULL: null). */
static void
jb_str(struct jbuf *b, const char *s, ssize_t len)
{
	size_t n;

	if (s == NULL) {
		jb_printf(b, "null");
		return;
	}
	n = len < 0 ? strlen(s) : (size_t)len;
	jb_reserve(b, n * 6 + 2);
	if (b->oom)
		return;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			b->len += (size_t)snprintf(b->p + b->len, 7,
						   "\\u%04x", c);
		} else {
			b->p[b->len++] = (char)c;
		}
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

static char *
jb_done(struct jbuf *b, size_t *len)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	jb_printf(b, "\n");
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	*len = b->len;
	return b->p;
}

/* ---- process --------------------------------------------------------- */

static uint64_t
proc_rss_bytes(void)
{
	unsigned long size, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double
proc_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void
app_status_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct app *a = arg;
	uint32_t n = 0;

	fmq_metrics_one(out, "fluxmq_process_resident_memory_bytes", "gauge",
			"Resident set size of the broker process (hugepages "
			"it maps count when touched)", proc_rss_bytes());
	fmq_metrics_family(out, "fluxmq_process_cpu_seconds_total", "counter",
			   "User and system CPU time the broker process used "
			   "(busy-polling data lcores count in full)");
	fmq_metrics_f64(out, "fluxmq_process_cpu_seconds_total", NULL,
			proc_cpu_seconds());
	for (unsigned int i = 0; i < a->n_data; i++)
		n += st.stalled[i];
	fmq_metrics_one(out, "fluxmq_lcore_stalled", "gauge",
			"Data lcores whose loop has not run for 3 s "
			"(/health answers 503 while any is)", n);
	fmq_metrics_one(out, "fluxmq_lcore_stalls_total", "counter",
			"Times a data lcore was found stalled", st.stalls);
}

/* ---- liveness -------------------------------------------------------- */

static void
live_sample(struct app *a, uint64_t now)
{
	for (unsigned int i = 0; i < a->n_data; i++) {
		uint64_t p = __atomic_load_n(&a->data[i].polls,
					     __ATOMIC_RELAXED);
		bool stalled;

		if (!st.live_init || p != st.polls[i]) {
			st.polls[i] = p;
			st.moved_ns[i] = now;
		}
		stalled = now - st.moved_ns[i] > APP_LIVE_STALL_NS;
		if (stalled && !st.stalled[i]) {
			st.stalls++;
			FMQ_WARN("status", "data lcore %u (EAL lcore %u) has "
				 "not polled for %llu ms: /health answers 503",
				 i, a->data[i].lcore_id,
				 (unsigned long long)
				 ((now - st.moved_ns[i]) / 1000000));
		} else if (!stalled && st.stalled[i]) {
			FMQ_INFO("status", "data lcore %u (EAL lcore %u) "
				 "polls again", i, a->data[i].lcore_id);
		}
		st.stalled[i] = stalled;
	}
	st.live_init = true;
}

/* Append one line per reason the broker is not live; returns how many. */
static int
live_reasons(struct app *a, uint64_t now, struct jbuf *why)
{
	int n = 0;

	if (!atomic_load(&a->healthy)) {
		jb_printf(why, atomic_load(&a->quit) ? "stopping\n" :
			  "starting\n");
		return 1;
	}
	live_sample(a, now);
	for (unsigned int i = 0; i < a->n_data; i++) {
		if (!st.stalled[i])
			continue;
		jb_printf(why, "data lcore %u (EAL lcore %u) has not polled "
			  "for %llu ms\n", i, a->data[i].lcore_id,
			  (unsigned long long)((now - st.moved_ns[i]) /
					       1000000));
		n++;
	}
	return n;
}

static int
ready_reasons(struct app *a, uint64_t now, struct jbuf *why)
{
	char off[2048];
	int n = live_reasons(a, now, why);

	if (!atomic_load(&a->healthy))
		return n;
	if (a->ctrl == NULL) {
		jb_printf(why, "recovering partitions\n");
		n++;
	}
	if (!app_port_link_up(a)) {
		jb_printf(why, "port %u link down\n", a->port.port_id);
		n++;
	}
	if (a->log != NULL) {
		int k = fmq_log_dirs_offline(a->log, off, sizeof(off));

		if (k > 0) {
			jb_printf(why, "%s", off);
			n += k;
		}
	}
	return n;
}

int
app_status_health(struct app *a, bool ready, char **body, size_t *len)
{
	struct jbuf b = { 0 };
	int n = ready ? ready_reasons(a, fmq_now_ns(), &b) :
			live_reasons(a, fmq_now_ns(), &b);

	if (n == 0)
		jb_printf(&b, ready ? "ready\n" : "ok\n");
	if (b.oom) {
		free(b.p);
		*body = NULL;
		return -ENOMEM;
	}
	*body = b.p;
	*len = b.len;
	return n;
}

/* ---- history ---------------------------------------------------------- */

struct totals {
	struct fmq_log_stats log;
	uint64_t rx, tx, retrans, conns, time_wait, resets_rx, resets_tx;
	uint64_t timeouts, opens, refused;
};

static void
totals(struct app *a, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	if (a->log != NULL)
		fmq_log_stats(a->log, &t->log);
	for (unsigned int i = 0; i < a->n_data; i++) {
		const struct fmq_net_stats *s;

		if (a->data[i].net == NULL)
			continue;
		s = fmq_net_stats(a->data[i].net);
		t->rx += s->tcp_bytes_in;
		t->tx += s->tcp_bytes_out;
		t->retrans += s->tcp_retrans_timeout + s->tcp_retrans_fast;
		t->conns += s->tcp_active;
		t->time_wait += s->tcp_time_wait;
		t->resets_rx += s->tcp_resets_rx;
		t->resets_tx += s->tcp_resets_tx;
		t->timeouts += s->tcp_timeouts;
		t->opens += s->tcp_passive_opens;
		t->refused += s->tcp_refused;
	}
}

static float
rate(uint64_t now, uint64_t prev, double secs)
{
	return now >= prev && secs > 0 ? (float)((double)(now - prev) / secs) :
					 0;
}

static void
lag_add(void *arg, struct fmq_group_str topic, int32_t partition,
	int64_t committed, int64_t hw)
{
	(void)topic;
	(void)partition;
	if (hw > committed)
		*(int64_t *)arg += hw - committed;
}

static void
hist_sample(struct app *a, uint64_t now)
{
	struct hist_sample *s = &st.ring[st.nsamples % APP_HIST_N];
	struct hist_prev *p = &st.prev;
	double secs = st.have_prev ? (double)(now - p->ns) / 1e9 : 0;
	struct totals t;

	totals(a, &t);
	memset(s, 0, sizeof(*s));
	s->t_ms = fmq_wall_ms();
	s->v[HS_MSGS_IN] = rate(t.log.append_records, p->recs, secs);
	s->v[HS_BYTES_IN] = rate(t.log.append_bytes, p->bytes, secs);
	s->v[HS_NET_RX] = rate(t.rx, p->rx, secs);
	s->v[HS_NET_TX] = rate(t.tx, p->tx, secs);
	s->v[HS_FLUSHED] = rate(t.log.flushed_bytes, p->flushed, secs);
	s->v[HS_TCP_RETRANS] = rate(t.retrans, p->retrans, secs);
	s->v[HS_HOT_USED] = t.log.chunks_total == 0 ? 0 :
		(float)(100.0 * (double)(t.log.chunks_total -
					 RTE_MIN(t.log.chunks_free,
						 t.log.chunks_total)) /
			(double)t.log.chunks_total);
	s->v[HS_FLUSH_LAG] = (float)t.log.flush_lag_bytes;
	s->v[HS_TCP_CONNS] = (float)t.conns;
	if (a->ctrl != NULL && fmq_ctrl_groups(a->ctrl) != NULL) {
		int64_t lag = 0;

		fmq_group_visit(fmq_ctrl_groups(a->ctrl), NULL, lag_add, &lag);
		s->v[HS_GROUP_LAG] = (float)lag;
	}
	for (unsigned int i = 0; i < a->n_data; i++) {
		uint64_t b = __atomic_load_n(&a->data[i].busy_cycles,
					     __ATOMIC_RELAXED);
		uint64_t id = __atomic_load_n(&a->data[i].idle_cycles,
					      __ATOMIC_RELAXED);
		uint64_t db = b - p->busy[i], di = id - p->idle[i];

		s->busy[i] = st.have_prev && db + di > 0 ?
			(uint8_t)(100 * db / (db + di)) : 0;
		p->busy[i] = b;
		p->idle[i] = id;
	}
	p->ns = now;
	p->recs = t.log.append_records;
	p->bytes = t.log.append_bytes;
	p->rx = t.rx;
	p->tx = t.tx;
	p->flushed = t.log.flushed_bytes;
	p->retrans = t.retrans;
	/* The first pass only sets the baseline. */
	if (st.have_prev)
		st.nsamples++;
	st.have_prev = true;
}

void
app_status_tick(struct app *a, uint64_t now)
{
	if (!atomic_load(&a->healthy))
		return;
	live_sample(a, now);
	if (now < st.next_hist_ns)
		return;
	st.next_hist_ns = (st.next_hist_ns == 0 ? now : st.next_hist_ns) +
			  APP_HIST_STEP_NS;
	/* Far behind (the loop was held up): start the cadence again. */
	if (st.next_hist_ns < now)
		st.next_hist_ns = now + APP_HIST_STEP_NS;
	hist_sample(a, now);
}

static void
json_history(struct app *a, struct jbuf *b, int64_t since_ms)
{
	uint64_t first = st.nsamples > APP_HIST_N ? st.nsamples - APP_HIST_N :
						    0;
	uint64_t i0 = first;

	while (i0 < st.nsamples && st.ring[i0 % APP_HIST_N].t_ms <= since_ms)
		i0++;
	jb_printf(b, "{\"interval_ms\":%llu,\"capacity\":%u,\"t\":[",
		  APP_HIST_STEP_NS / 1000000, APP_HIST_N);
	for (uint64_t i = i0; i < st.nsamples; i++)
		jb_printf(b, "%s%" PRId64, i == i0 ? "" : ",",
			  st.ring[i % APP_HIST_N].t_ms);
	jb_printf(b, "],\"series\":{");
	for (int k = 0; k < HS_N; k++) {
		jb_printf(b, "%s\"%s\":[", k == 0 ? "" : ",", hs_name[k]);
		for (uint64_t i = i0; i < st.nsamples; i++)
			jb_printf(b, "%s%.6g", i == i0 ? "" : ",",
				  (double)st.ring[i % APP_HIST_N].v[k]);
		jb_printf(b, "]");
	}
	jb_printf(b, "},\"lcore_busy_pct\":[");
	for (unsigned int l = 0; l < a->n_data; l++) {
		jb_printf(b, "%s[", l == 0 ? "" : ",");
		for (uint64_t i = i0; i < st.nsamples; i++)
			jb_printf(b, "%s%u", i == i0 ? "" : ",",
				  st.ring[i % APP_HIST_N].busy[l]);
		jb_printf(b, "]");
	}
	jb_printf(b, "]}");
}

/* ---- /v1/status ------------------------------------------------------- */

static const struct hist_sample *
newest(void)
{
	return st.nsamples == 0 ? NULL :
		&st.ring[(st.nsamples - 1) % APP_HIST_N];
}

static void
json_cfg(struct jbuf *b, const struct app *a, const char *key)
{
	char v[FMQ_CFG_STR_MAX + 64];
	const struct fmq_cfg_key *k = fmq_config_find(key);

	if (k == NULL) {
		jb_printf(b, "null");
		return;
	}
	fmq_config_format(&a->cfg, k, v, sizeof(v));
	jb_str(b, v, -1);
}

static void
json_log_dirs(struct jbuf *b, struct app *a)
{
	char off[4096];
	const char *s = a->cfg.log_dirs;
	bool firstd = true;

	off[0] = '\0';
	if (a->log != NULL)
		fmq_log_dirs_offline(a->log, off, sizeof(off));
	jb_printf(b, "[");
	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		char path[FMQ_CFG_STR_MAX];
		char pat[FMQ_CFG_STR_MAX + 32];
		const char *hit, *err = NULL;
		size_t elen = 0;
		size_t lead = 0;

		while (lead < n && s[lead] == ' ')
			lead++;
		snprintf(path, sizeof(path), "%.*s", (int)(n - lead),
			 s + lead);
		snprintf(pat, sizeof(pat), "log dir offline: %s: ", path);
		hit = path[0] != '\0' ? strstr(off, pat) : NULL;
		if (hit != NULL) {
			err = hit + strlen(pat);
			elen = strcspn(err, "\n");
		}
		if (path[0] != '\0') {
			jb_printf(b, "%s{\"path\":", firstd ? "" : ",");
			jb_str(b, path, -1);
			jb_printf(b, ",\"online\":%s,\"error\":",
				  err == NULL ? "true" : "false");
			jb_str(b, err, (ssize_t)elen);
			jb_printf(b, "}");
			firstd = false;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	jb_printf(b, "]");
}

static void
json_status(struct app *a, struct jbuf *b)
{
	uint64_t now = fmq_now_ns();
	struct jbuf why = { 0 }, lwhy = { 0 };
	const struct hist_sample *h = newest();
	struct rlimit rl;
	struct totals t;
	uint32_t ntopics = 0, nparts = 0, ngroups = 0;
	int nlive, nready;
	const char *r;

	nlive = live_reasons(a, now, &lwhy);
	free(lwhy.p);
	nready = ready_reasons(a, now, &why);
	totals(a, &t);
	if (a->ctrl != NULL)
		fmq_ctrl_counts(a->ctrl, &ntopics, &nparts);
	if (a->ctrl != NULL && fmq_ctrl_groups(a->ctrl) != NULL) {
		struct fmq_group_stats gs;

		fmq_group_get_stats(fmq_ctrl_groups(a->ctrl), &gs);
		for (int s = 0; s < (int)RTE_DIM(gs.groups_by_state); s++)
			ngroups += (uint32_t)gs.groups_by_state[s];
	}
	jb_printf(b, "{\"version\":\"%s\",\"commit\":", FMQ_VERSION);
	jb_str(b, FMQ_COMMIT, -1);
	jb_printf(b, ",\"cluster_id\":");
	jb_str(b, a->cluster_id, -1);
	jb_printf(b, ",\"node_id\":%" PRId64 ",\"pid\":%ld,"
		  "\"time_ms\":%" PRId64 ",\"uptime_s\":%.3f,",
		  a->cfg.node_id, (long)getpid(), fmq_wall_ms(),
		  (double)(now - a->start_ns) / 1e9);
	jb_printf(b, "\"live\":%s,\"ready\":%s,\"reasons\":[",
		  nlive == 0 ? "true" : "false",
		  nready == 0 ? "true" : "false");
	/* Every reason not to be ready (being dead is one of them). */
	r = why.p;
	if (r != NULL) {
		bool firstr = true;

		while (*r != '\0') {
			size_t n = strcspn(r, "\n");

			jb_printf(b, "%s", firstr ? "" : ",");
			jb_str(b, r, (ssize_t)n);
			firstr = false;
			r += n + (r[n] != '\0');
		}
	}
	free(why.p);
	jb_printf(b, "],\"listeners\":");
	json_cfg(b, a, "listeners");
	jb_printf(b, ",\"advertised_listeners\":");
	json_cfg(b, a, "advertised.listeners");
	jb_printf(b, ",\"net_ip\":");
	json_cfg(b, a, "net.ip");
	jb_printf(b, ",\"mgmt\":");
	json_cfg(b, a, "mgmt.listen");
	jb_printf(b, ",\"port\":{\"id\":%u,\"driver\":", a->port.port_id);
	jb_str(b, a->port.driver, -1);
	jb_printf(b, ",\"tap\":");
	jb_str(b, a->port.created_tap ? a->port.tap_name : NULL, -1);
	jb_printf(b, ",\"link_up\":%s,\"rx_queues\":%u,\"tx_queues\":%u,"
		  "\"steer\":%s,\"rx_intr\":%s},",
		  atomic_load(&a->healthy) && app_port_link_up(a) ?
		  "true" : "false", a->port.nb_queues, a->port.nb_txq,
		  a->port.steer ? "true" : "false",
		  a->port.rx_intr ? "true" : "false");
	jb_printf(b, "\"poll_mode\":");
	json_cfg(b, a, "poll.mode");
	jb_printf(b, ",\"lcores\":[");
	for (unsigned int i = 0; i < a->n_data; i++) {
		const struct data_lcore *d = &a->data[i];

		jb_printf(b, "%s{\"idx\":%u,\"lcore\":%u,\"node\":%d,"
			  "\"rx_queue\":%d,\"polls\":%" PRIu64 ","
			  "\"rx_packets\":%" PRIu64 ",\"busy_pct\":%u,"
			  "\"last_poll_ms\":%llu,\"stalled\":%s}",
			  i == 0 ? "" : ",", i, d->lcore_id, a->lcore_node[i],
			  d->has_rxq ? (int)d->queue_id : -1,
			  __atomic_load_n(&d->polls, __ATOMIC_RELAXED),
			  __atomic_load_n(&d->rx_pkts, __ATOMIC_RELAXED),
			  h != NULL ? h->busy[i] : 0,
			  st.live_init ? (unsigned long long)
			  ((now - st.moved_ns[i]) / 1000000) : 0ull,
			  st.stalled[i] ? "true" : "false");
	}
	jb_printf(b, "],\"topics\":%u,\"partitions\":%u,\"groups\":%u,"
		  "\"log_dirs\":", ntopics, nparts, ngroups);
	json_log_dirs(b, a);
	jb_printf(b, ",\"hot_pool\":{\"chunks_total\":%" PRIu64 ","
		  "\"chunks_free\":%" PRIu64 ",\"chunk_bytes\":%" PRIu64 ","
		  "\"flush_lag_bytes\":%" PRIu64 ","
		  "\"flush_lag_messages\":%" PRIu64 ","
		  "\"flushed_bytes\":%" PRIu64 ",\"syncs\":%" PRIu64 ","
		  "\"backpressure\":%" PRIu64 "},",
		  t.log.chunks_total, t.log.chunks_free,
		  a->cfg.log_hot_chunk_bytes, t.log.flush_lag_bytes,
		  t.log.flush_lag_messages, t.log.flushed_bytes, t.log.syncs,
		  t.log.backpressure);
	jb_printf(b, "\"log\":{\"appends\":%" PRIu64 ",\"records\":%" PRIu64
		  ",\"bytes\":%" PRIu64 ",\"rejects\":%" PRIu64 "},",
		  t.log.appends, t.log.append_records, t.log.append_bytes,
		  t.log.rejects);
	jb_printf(b, "\"tcp\":{\"connections\":%" PRIu64 ",\"time_wait\":%"
		  PRIu64 ",\"passive_opens\":%" PRIu64 ",\"refused\":%" PRIu64
		  ",\"retransmits\":%" PRIu64 ",\"resets_received\":%" PRIu64
		  ",\"resets_sent\":%" PRIu64 ",\"timeouts\":%" PRIu64
		  ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 "},",
		  t.conns, t.time_wait, t.opens, t.refused, t.retrans,
		  t.resets_rx, t.resets_tx, t.timeouts, t.rx, t.tx);
	jb_printf(b, "\"process\":{\"rss_bytes\":%" PRIu64 ",\"cpu_seconds\":"
		  "%.3f,\"open_fds\":%" PRIu64 ",\"max_fds\":%lld}}",
		  proc_rss_bytes(), proc_cpu_seconds(), app_open_fds(),
		  getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		  rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1);
}

/* ---- /v1/topics -------------------------------------------------------- */

struct topics_walk {
	struct jbuf *b;
	const struct fmq_topic *cur;
	uint32_t scanned;
};

/* Bytes of the partition's segment files (<dir>/<topic>-<p>/ *.log), as
 * Kafka's log-dirs tool counts a partition's size; -1 if unreadable. */
static int64_t
part_bytes(const char *dir, const char *topic, uint32_t p)
{
	char path[FMQ_CFG_STR_MAX + FMQ_TOPIC_NAME_MAX + 32];
	struct dirent *de;
	int64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s-%u", dir, topic, p);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		struct stat sb;

		if (l < 5 || strcmp(de->d_name + l - 4, ".log") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0)
			sum += sb.st_size;
	}
	closedir(d);
	return sum;
}

static void
topics_part(void *arg, const struct fmq_topic *t, uint32_t p, const char *dir,
	    const struct fmq_log_part *part)
{
	struct topics_walk *w = arg;
	struct jbuf *b = w->b;
	struct fmq_log_offsets o = { -1, -1, -1, -1 };
	int64_t bytes = -1;

	if (w->cur != t) {
		char id[23];

		fmq_topic_id_str(t->id, id);
		jb_printf(b, "%s{\"name\":", w->cur == NULL ? "" : "]},");
		jb_str(b, t->name, -1);
		jb_printf(b, ",\"id\":\"%s\",\"partitions\":[", id);
		w->cur = t;
	} else {
		jb_printf(b, ",");
	}
	if (part != NULL)
		fmq_log_part_offsets(part, &o);
	if (w->scanned < APP_SIZE_SCAN_MAX) {
		w->scanned++;
		bytes = part_bytes(dir, t->name, p);
	}
	jb_printf(b, "{\"partition\":%u,\"lcore\":%u,\"dir\":", p,
		  t->owner[p]);
	jb_str(b, dir, -1);
	jb_printf(b, ",\"log_start\":%" PRId64 ",\"end\":%" PRId64
		  ",\"written\":%" PRId64 ",\"synced\":%" PRId64
		  ",\"bytes\":", o.log_start, o.high_watermark, o.written,
		  o.synced);
	if (bytes >= 0)
		jb_printf(b, "%" PRId64, bytes);
	else
		jb_printf(b, "null");
	jb_printf(b, ",\"offline\":%s}", part != NULL &&
		  fmq_log_part_offline(part) ? "true" : "false");
}

static void
json_topics(struct app *a, struct jbuf *b)
{
	struct topics_walk w = { .b = b };

	jb_printf(b, "{\"time_ms\":%" PRId64 ",\"topics\":[", fmq_wall_ms());
	if (a->ctrl != NULL)
		fmq_ctrl_visit_partitions(a->ctrl, topics_part, &w);
	jb_printf(b, "%s]}", w.cur != NULL ? "]}" : "");
}

/* ---- /v1/groups -------------------------------------------------------- */

struct groups_walk {
	struct jbuf *b;
	bool any, any_off;
	int64_t lag;
};

static void
groups_close(struct groups_walk *w)
{
	if (w->any)
		jb_printf(w->b, "],\"lag\":%" PRId64 "}", w->lag);
}

static void
groups_group(void *arg, const struct fmq_group_view *g)
{
	struct groups_walk *w = arg;
	struct jbuf *b = w->b;

	groups_close(w);
	jb_printf(b, "%s{\"id\":", w->any ? "," : "");
	jb_str(b, g->id.ptr, g->id.len);
	jb_printf(b, ",\"state\":\"%s\",\"generation\":%d,\"members\":%u,"
		  "\"protocol_type\":", g->state, g->generation, g->members);
	jb_str(b, g->protocol_type.len < 0 ? NULL : g->protocol_type.ptr,
	       g->protocol_type.len);
	jb_printf(b, ",\"protocol\":");
	jb_str(b, g->protocol.len < 0 ? NULL : g->protocol.ptr,
	       g->protocol.len);
	jb_printf(b, ",\"offsets\":[");
	w->any = true;
	w->any_off = false;
	w->lag = 0;
}

static void
groups_offset(void *arg, struct fmq_group_str topic, int32_t partition,
	      int64_t committed, int64_t hw)
{
	struct groups_walk *w = arg;
	struct jbuf *b = w->b;
	int64_t lag = hw >= 0 ? RTE_MAX(hw - committed, (int64_t)0) : -1;

	jb_printf(b, "%s{\"topic\":", w->any_off ? "," : "");
	jb_str(b, topic.ptr, topic.len);
	jb_printf(b, ",\"partition\":%d,\"committed\":%" PRId64 ",\"end\":%"
		  PRId64 ",\"lag\":", partition, committed, hw);
	if (lag >= 0) {
		jb_printf(b, "%" PRId64 "}", lag);
		w->lag += lag;
	} else {
		jb_printf(b, "null}");
	}
	w->any_off = true;
}

static void
json_groups(struct app *a, struct jbuf *b)
{
	struct groups_walk w = { .b = b };

	jb_printf(b, "{\"time_ms\":%" PRId64 ",\"groups\":[", fmq_wall_ms());
	if (a->ctrl != NULL && fmq_ctrl_groups(a->ctrl) != NULL)
		fmq_group_visit(fmq_ctrl_groups(a->ctrl), groups_group,
				groups_offset, &w);
	groups_close(&w);
	jb_printf(b, "]}");
}

/* ---- entry point --------------------------------------------------------- */

char *
app_status_json(struct app *a, const char *url, const char *since,
		size_t *len)
{
	struct jbuf b = { 0 };

	if (strcmp(url, "/v1/status") == 0) {
		json_status(a, &b);
	} else if (strcmp(url, "/v1/topics") == 0) {
		json_topics(a, &b);
	} else if (strcmp(url, "/v1/groups") == 0) {
		json_groups(a, &b);
	} else if (strcmp(url, "/v1/history") == 0) {
		char *end = NULL;
		long long s = since != NULL ? strtoll(since, &end, 10) : 0;

		if (since != NULL && (end == since || *end != '\0')) {
			errno = EINVAL;
			return NULL;
		}
		json_history(a, &b, (int64_t)s);
	} else {
		errno = ENOENT;
		return NULL;
	}
	if (b.oom) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	return jb_done(&b, len);
}
