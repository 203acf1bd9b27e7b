/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Management endpoint on a kernel socket, served by libmicrohttpd from the
 * control lcore's loop (external select mode: no extra thread). GET /health
 * and GET /metrics; libmicrohttpd answers malformed requests itself (400)
 * and closes the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>

#include <microhttpd.h>

#include "app.h"

struct mgmt {
	struct MHD_Daemon *d;
	struct app *a;
	uint64_t requests, bad_requests, failed;
};

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *type,
      char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
mgmt_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct mgmt *m = arg;

	fmq_metrics_one(out, "fluxmq_mgmt_requests_total", "counter",
			"HTTP requests served by the management endpoint",
			m->requests);
	fmq_metrics_one(out, "fluxmq_mgmt_bad_requests_total", "counter",
			"Management requests answered with a 4xx status",
			m->bad_requests);
	fmq_metrics_one(out, "fluxmq_mgmt_failed_total", "counter",
			"Management requests that ended in an error (malformed, "
			"oversized, timed out or closed early)", m->failed);
}

/*
 * Per-connection outcome. Requests libmicrohttpd rejects while parsing never
 * reach the request callbacks, so a connection that closes without one good
 * request counts as failed, and so does each request that ends in error.
 */
enum conn_mark { CONN_NONE, CONN_OK, CONN_COUNTED };

static void
completed(void *cls, struct MHD_Connection *c, void **state,
	  enum MHD_RequestTerminationCode toe)
{
	struct mgmt *m = cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	enum conn_mark *mark = ci != NULL ? ci->socket_context : NULL;

	(void)state;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		if (mark != NULL && *mark == CONN_NONE)
			*mark = CONN_OK;
		return;
	}
	if (mark == NULL || *mark != CONN_COUNTED) {
		m->failed++;
		if (mark != NULL)
			*mark = CONN_COUNTED;
	}
}

static void
conn_event(void *cls, struct MHD_Connection *c, void **ctx,
	   enum MHD_ConnectionNotificationCode ev)
{
	struct mgmt *m = cls;
	enum conn_mark *mark = *ctx;

	(void)c;
	if (ev == MHD_CONNECTION_NOTIFY_STARTED) {
		/* Control path only: one small allocation per connection. */
		*ctx = calloc(1, sizeof(enum conn_mark));
		return;
	}
	if (mark == NULL || *mark == CONN_NONE)
		m->failed++;
	free(mark);
	*ctx = NULL;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload,
	size_t *upload_size, void **state)
{
	struct mgmt *m = cls;
	static int first;

	(void)version;
	(void)upload;
	/* First call per request: headers only; answer on the second. */
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	m->requests++;
	if (*upload_size != 0) {
		*upload_size = 0;
		m->bad_requests++;
		return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain",
			     "no request body expected\n", 25,
			     MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		m->bad_requests++;
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "only GET\n", 9, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/health") == 0) {
		char why[1024];

		if (!atomic_load(&m->a->healthy))
			return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "text/plain", "starting\n", 9,
				     MHD_RESPMEM_PERSISTENT);
		/* A log dir that cannot take writes: 503, one line each. */
		if (fmq_log_dirs_offline(m->a->log, why, sizeof(why)) > 0)
			return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "text/plain", why, strlen(why),
				     MHD_RESPMEM_MUST_COPY);
		return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3,
			     MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/metrics") == 0) {
		size_t len;
		char *body = fmq_metrics_render(m->a->metrics, &len);
		if (body == NULL)
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "text/plain", "out of memory\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", body,
			     len, MHD_RESPMEM_MUST_FREE);
	}
	m->bad_requests++;
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10,
		     MHD_RESPMEM_PERSISTENT);
}

static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t l;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	l = strlen(msg);
	if (l > 0 && msg[l - 1] == '\n')
		msg[l - 1] = '\0';
	FMQ_DEBUG("mgmt", "%s", msg);
}

struct mgmt *
mgmt_start(struct app *a, char *err, size_t errlen)
{
	struct mgmt *m = calloc(1, sizeof(*m));
	struct sockaddr_in sin = { .sin_family = AF_INET };

	if (m == NULL) {
		snprintf(err, errlen, "mgmt: out of memory");
		return NULL;
	}
	m->a = a;
	sin.sin_addr.s_addr = htonl(a->cfg.mgmt_listen.addr);
	sin.sin_port = htons(a->cfg.mgmt_listen.port);
	m->d = MHD_start_daemon(MHD_USE_ERROR_LOG, a->cfg.mgmt_listen.port,
				NULL, NULL, handler, m,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
				MHD_OPTION_NOTIFY_COMPLETED, completed, m,
				MHD_OPTION_NOTIFY_CONNECTION, conn_event, m,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
				MHD_OPTION_END);
	if (m->d == NULL) {
		fmq_config_error(&a->cfg, "mgmt.listen", err, errlen,
				 "cannot listen on port %u (in use?)",
				 a->cfg.mgmt_listen.port);
		free(m);
		return NULL;
	}
	fmq_metrics_register(a->metrics, mgmt_metrics, m);
	return m;
}

void
mgmt_poll(struct mgmt *m, uint64_t timeout_us, int wake_fd)
{
	fd_set rs, ws, es;
	MHD_socket maxfd = 0;
	MHD_UNSIGNED_LONG_LONG to;
	struct timeval tv = { .tv_sec = (time_t)(timeout_us / 1000000),
			      .tv_usec = (suseconds_t)(timeout_us % 1000000) };

	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	if (MHD_get_fdset(m->d, &rs, &ws, &es, &maxfd) != MHD_YES)
		return;
	if (wake_fd >= 0) {
		FD_SET(wake_fd, &rs);
		if (wake_fd > maxfd)
			maxfd = wake_fd;
	}
	if (MHD_get_timeout(m->d, &to) == MHD_YES && to * 1000 < timeout_us) {
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)(to * 1000);
	}
	/*
	 * On any failure, EINTR included, the sets are left as they were
	 * filled: every connection marked readable, writable and in error.
	 * libmicrohttpd takes the error bit at its word and closes them, so
	 * a signal (net_tap's queue signals reach this thread) used to cut
	 * scrapes off with no response. Just select again next pass.
	 */
	if (select(maxfd + 1, &rs, &ws, &es, &tv) < 0)
		return;
	MHD_run_from_select(m->d, &rs, &ws, &es);
}

void
mgmt_stop(struct mgmt *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
