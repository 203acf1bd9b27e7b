/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Management endpoint on a kernel socket, served by libmicrohttpd from the
 * control lcore's loop: external mode on MHD's own epoll set, which the
 * loop waits on together with the broker's wake fd. No extra thread, so
 * the handlers read the control lcore's state without locks, and no
 * select(), which stops at descriptor 1,023 (a broker with a few hundred
 * partitions holds more). GET /health, /ready, /metrics, the web
 * console (/, /dashboard) and its JSON (/v1/..., status.c); libmicrohttpd
 * answers malformed requests itself (400) and closes the connection.
 *
 * Connections are bounded (MGMT_MAX_CONNS, each idle at most
 * MGMT_IDLE_TIMEOUT_S). A connection arriving when all are taken evicts
 * the one idle the longest (connected, no request in progress), so a
 * flood of idle connections cannot keep /health out; only when every
 * connection is inside a request is the newcomer turned away.
 *
 * Optional security (docs/security.md, "Management endpoint"): a bearer
 * token (mgmt.auth.token or mgmt.auth.token.file) that /metrics, /v1/...
 * and every other route but the probes (/health, /ready) and the static
 * console page require, compared in constant time; and HTTPS
 * (mgmt.ssl.certificate.location, mgmt.ssl.key.location) through
 * libmicrohttpd's GnuTLS support. Both are read at start (mgmt_listen,
 * so a bad value exits 2 naming its key before anything else starts).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "app.h"
#include "console_html.h"

#define MGMT_MAX_CONNS 64
/* MHD's own limit is higher: at its limit it stops accepting and new
 * connections (health checks too) wait in the kernel's backlog. It
 * accepts at most 10 in one pass, each evicting one of ours. */
#define MGMT_MHD_HEADROOM 32
#define MGMT_IDLE_TIMEOUT_S 5
#define MGMT_BACKLOG 1024
/* libmicrohttpd's own messages (accept failures and the like), at most
 * one per this many seconds, with a count of those left out. */
#define MGMT_LOG_INTERVAL_NS (10ull * 1000000000ull)
#define MGMT_TOKEN_MAX 4096
#define MGMT_PEM_MAX (1u << 20)

/*
 * The endpoint's token and TLS material, read by mgmt_listen during the
 * start-up checks and used by mgmt_start (one endpoint per process).
 */
static struct {
	char token[MGMT_TOKEN_MAX + 1];
	size_t token_len;            /* 0: no token required */
	char *cert, *key;            /* PEM, NUL-terminated; NULL: HTTP */
} msec;

/* One accepted connection. */
struct mconn {
	struct mconn *prev, *next;
	int fd;
	bool busy;               /* a request is being read or answered */
	bool evicted;            /* shut down, MHD closes it next pass */
	bool counted;            /* its failure is already counted */
	bool ok;                 /* served at least one request */
	uint64_t idle_since_ns;
};

struct mgmt {
	struct MHD_Daemon *d;
	struct app *a;
	int epoll_fd;
	struct mconn head;       /* list of live connections */
	uint32_t nconns;
	uint64_t requests, bad_requests, failed;
	uint64_t accepted, evicted, refused;
	uint64_t auth_failures;
	uint64_t log_last_ns, log_dropped;
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

/* Descriptors this process has open (the control lcore, at scrape time). */
uint64_t
app_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	uint64_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* Not the one opendir itself holds. */
	return n > 0 ? n - 1 : 0;
}

static void
mgmt_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct mgmt *m = arg;
	struct rlimit rl;

	fmq_metrics_one(out, "fluxmq_mgmt_requests_total", "counter",
			"HTTP requests served by the management endpoint",
			m->requests);
	fmq_metrics_one(out, "fluxmq_mgmt_bad_requests_total", "counter",
			"Management requests answered with a 4xx status",
			m->bad_requests);
	fmq_metrics_one(out, "fluxmq_mgmt_failed_total", "counter",
			"Management requests that ended in an error (malformed, "
			"oversized, timed out or closed early)", m->failed);
	fmq_metrics_one(out, "fluxmq_mgmt_connections", "gauge",
			"Open connections to the management endpoint",
			m->nconns);
	fmq_metrics_one(out, "fluxmq_mgmt_connections_accepted_total",
			"counter", "Connections the management endpoint accepted",
			m->accepted);
	fmq_metrics_one(out, "fluxmq_mgmt_connections_evicted_total",
			"counter", "Idle management connections closed to make "
			"room for a new one (connection limit reached)",
			m->evicted);
	fmq_metrics_one(out, "fluxmq_mgmt_connections_refused_total",
			"counter", "New management connections closed because "
			"every connection was inside a request", m->refused);
	fmq_metrics_one(out, "fluxmq_mgmt_auth_failures_total", "counter",
			"Management requests refused with 401 (no or a wrong "
			"bearer token)", m->auth_failures);
	fmq_metrics_one(out, "fluxmq_mgmt_tls", "gauge",
			"1 when the management endpoint serves HTTPS",
			msec.cert != NULL);
	fmq_metrics_one(out, "fluxmq_process_open_fds", "gauge",
			"File descriptors the broker process has open",
			app_open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fmq_metrics_one(out, "fluxmq_process_max_fds", "gauge",
				"Open-file limit of the broker process (soft "
				"RLIMIT_NOFILE)", rl.rlim_cur == RLIM_INFINITY ?
				UINT64_MAX : (uint64_t)rl.rlim_cur);
}

static struct mconn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/*
 * Per-connection outcome. Requests libmicrohttpd rejects while parsing never
 * reach the request callbacks, so a connection that closes without one good
 * request counts as failed, and so does each request that ends in error.
 */
static void
completed(void *cls, struct MHD_Connection *c, void **state,
	  enum MHD_RequestTerminationCode toe)
{
	struct mgmt *m = cls;
	struct mconn *mc = conn_of(c);

	(void)state;
	if (mc != NULL) {
		mc->busy = false;
		mc->idle_since_ns = fmq_now_ns();
	}
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		if (mc != NULL)
			mc->ok = true;
		return;
	}
	if (mc == NULL || !mc->counted) {
		m->failed++;
		if (mc != NULL)
			mc->counted = true;
	}
}

/* Make room for one more: shut the longest-idle connection down (MHD sees
 * the end of its stream and closes it), or, when every one is inside a
 * request, the newcomer. */
static void
make_room(struct mgmt *m, struct mconn *newc)
{
	struct mconn *victim = NULL;

	for (struct mconn *x = m->head.next; x != &m->head; x = x->next) {
		if (x == newc || x->busy || x->evicted)
			continue;
		if (victim == NULL || x->idle_since_ns < victim->idle_since_ns)
			victim = x;
	}
	if (victim != NULL) {
		m->evicted++;
	} else {
		victim = newc;
		m->refused++;
	}
	victim->evicted = true;
	/* Not counted as a failed request: the limit did its job. */
	victim->counted = true;
	victim->ok = true;
	shutdown(victim->fd, SHUT_RDWR);
}

static void
conn_event(void *cls, struct MHD_Connection *c, void **ctx,
	   enum MHD_ConnectionNotificationCode ev)
{
	struct mgmt *m = cls;
	struct mconn *mc = *ctx;

	if (ev == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
			MHD_CONNECTION_INFO_CONNECTION_FD);
		uint32_t live = 0;

		/* Control path only: one small allocation per connection. */
		mc = calloc(1, sizeof(*mc));
		*ctx = mc;
		if (mc == NULL)
			return;
		mc->fd = ci != NULL ? ci->connect_fd : -1;
		mc->idle_since_ns = fmq_now_ns();
		mc->prev = m->head.prev;
		mc->next = &m->head;
		m->head.prev->next = mc;
		m->head.prev = mc;
		m->nconns++;
		m->accepted++;
		for (struct mconn *x = m->head.next; x != &m->head; x = x->next)
			live += !x->evicted;
		if (live > MGMT_MAX_CONNS && mc->fd >= 0)
			make_room(m, mc);
		return;
	}
	if (mc == NULL) {
		m->failed++;
		return;
	}
	if (!mc->ok && !mc->counted)
		m->failed++;
	mc->prev->next = mc->next;
	mc->next->prev = mc->prev;
	m->nconns--;
	free(mc);
	*ctx = NULL;
}

/* Equal to the token, in a time that depends on the token's length only. */
static bool
token_eq(const char *p, size_t n)
{
	unsigned char d = n != msec.token_len;

	for (size_t i = 0; i < msec.token_len; i++)
		d |= (unsigned char)(msec.token[i] ^ (i < n ? p[i] : 0));
	return d == 0;
}

static bool
authorized(struct MHD_Connection *c)
{
	const char *h;

	if (msec.token_len == 0)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return token_eq(h, strnlen(h, MGMT_TOKEN_MAX + 1));
}

static enum MHD_Result
reply_401(struct MHD_Connection *c)
{
	static char body[] = "a bearer token is required "
		"(Authorization: Bearer <mgmt.auth.token>)\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(body) - 1, body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				"Bearer realm=\"fluxmq\"");
	ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return ret;
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
		struct mconn *mc = conn_of(c);

		if (mc != NULL)
			mc->busy = true;
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
	/* Probes and the static console page stay open; the rest needs the
	 * token when one is set. */
	if (strcmp(url, "/health") != 0 && strcmp(url, "/ready") != 0 &&
	    strcmp(url, "/") != 0 && strcmp(url, "/dashboard") != 0 &&
	    !authorized(c)) {
		m->auth_failures++;
		m->bad_requests++;
		return reply_401(c);
	}
	/* Liveness (every data lcore's loop runs) and readiness (live, port
	 * up, partitions recovered, every log dir online): 200 or 503, one
	 * reason a line (docs/operations.md). */
	if (strcmp(url, "/health") == 0 || strcmp(url, "/ready") == 0) {
		char *body;
		size_t len;
		int n = app_status_health(m->a, url[1] == 'r', &body, &len);

		if (n < 0)
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "text/plain", "out of memory\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		return reply(c, n == 0 ? MHD_HTTP_OK :
			     MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body,
			     len, MHD_RESPMEM_MUST_FREE);
	}
	/* The web console: one self-contained page built into the binary. */
	if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
			     (char *)(uintptr_t)fmq_console_html,
			     sizeof(fmq_console_html) - 1,
			     MHD_RESPMEM_PERSISTENT);
	if (strncmp(url, "/v1/", 4) == 0) {
		size_t len;
		const char *since = MHD_lookup_connection_value(c,
			MHD_GET_ARGUMENT_KIND, "since");
		char *body = app_status_json(m->a, url, since, &len);

		if (body != NULL)
			return reply(c, MHD_HTTP_OK, "application/json", body,
				     len, MHD_RESPMEM_MUST_FREE);
		if (errno == ENOMEM)
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "text/plain", "out of memory\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		if (errno == EINVAL) {
			m->bad_requests++;
			return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain",
				     "since: milliseconds since the epoch\n",
				     36, MHD_RESPMEM_PERSISTENT);
		}
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

/*
 * libmicrohttpd's messages are about the endpoint failing (accept errors
 * such as EMFILE, out of memory): warnings, but never more than one per
 * MGMT_LOG_INTERVAL_NS so a flood cannot flood the log too.
 */
static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct mgmt *m = cls;
	uint64_t now = fmq_now_ns();
	char msg[512];
	size_t l;

	if (m->log_last_ns != 0 && now - m->log_last_ns < MGMT_LOG_INTERVAL_NS) {
		m->log_dropped++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	l = strlen(msg);
	if (l > 0 && msg[l - 1] == '\n')
		msg[l - 1] = '\0';
	if (m->log_dropped > 0)
		FMQ_WARN("mgmt", "%s (and %" PRIu64 " more messages in the last "
			 "%llu s)", msg, m->log_dropped,
			 MGMT_LOG_INTERVAL_NS / 1000000000ull);
	else
		FMQ_WARN("mgmt", "%s", msg);
	m->log_last_ns = now;
	m->log_dropped = 0;
}

/* Read a small file whole, NUL-terminated; -errno, -EFBIG past max. */
static int
read_small(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = malloc(max + 1);
	size_t n = 0;
	ssize_t r;
	int fd, e;

	if (buf == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		free(buf);
		return -e;
	}
	while ((r = read(fd, buf + n, max + 1 - n)) > 0) {
		n += (size_t)r;
		if (n > max)
			break;
	}
	e = r < 0 ? errno : 0;
	close(fd);
	if (e != 0 || n > max) {
		free(buf);
		return e != 0 ? -e : -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int
set_token(const struct fmq_config *cfg, const char *key, const char *t,
	  size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return fmq_config_error(cfg, key, err, errlen,
					"the token is empty");
	if (n > MGMT_TOKEN_MAX)
		return fmq_config_error(cfg, key, err, errlen, "the token is "
					"longer than %d bytes", MGMT_TOKEN_MAX);
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return fmq_config_error(cfg, key, err, errlen,
				"the token must be printable ASCII without "
				"spaces (byte %zu is not)", i);
	memcpy(msec.token, t, n);
	msec.token[n] = '\0';
	msec.token_len = n;
	return 0;
}

static int
load_pem(const struct fmq_config *cfg, const char *key, const char *path,
	 const char *what, char **out, char *err, size_t errlen)
{
	size_t n;
	int rc = read_small(path, MGMT_PEM_MAX, out, &n);

	if (rc < 0)
		return fmq_config_error(cfg, key, err, errlen, "cannot read "
					"%s: %s", path, strerror(-rc));
	if (strstr(*out, "-----BEGIN ") == NULL ||
	    strstr(*out, what) == NULL) {
		free(*out);
		*out = NULL;
		return fmq_config_error(cfg, key, err, errlen, "%s holds no "
					"PEM %s", path, what);
	}
	return 0;
}

/* The token and TLS settings, checked and read (exit 2 on a bad one). */
static int
load_security(const struct fmq_config *cfg, char *err, size_t errlen)
{
	bool cert = cfg->mgmt_ssl_certificate_location[0] != '\0';
	bool key = cfg->mgmt_ssl_key_location[0] != '\0';
	int rc;

	msec.token_len = 0;
	if (cfg->mgmt_auth_token[0] != '\0' &&
	    cfg->mgmt_auth_token_file[0] != '\0')
		return fmq_config_error(cfg, "mgmt.auth.token.file", err,
					errlen, "set mgmt.auth.token or "
					"mgmt.auth.token.file, not both");
	if (cfg->mgmt_auth_token[0] != '\0') {
		rc = set_token(cfg, "mgmt.auth.token", cfg->mgmt_auth_token,
			       strlen(cfg->mgmt_auth_token), err, errlen);
		if (rc < 0)
			return rc;
	} else if (cfg->mgmt_auth_token_file[0] != '\0') {
		char *t;
		size_t n;

		rc = read_small(cfg->mgmt_auth_token_file, MGMT_TOKEN_MAX + 2,
				&t, &n);
		if (rc < 0)
			return fmq_config_error(cfg, "mgmt.auth.token.file",
				err, errlen, "cannot read %s: %s",
				cfg->mgmt_auth_token_file,
				rc == -EFBIG ? "longer than one token" :
				strerror(-rc));
		/* The first line, its end of line left out. */
		n = strcspn(t, "\r\n");
		rc = set_token(cfg, "mgmt.auth.token.file", t, n, err, errlen);
		memset(t, 0, n);
		free(t);
		if (rc < 0)
			return rc;
	}
	if (cert != key)
		return fmq_config_error(cfg, cert ? "mgmt.ssl.key.location" :
					"mgmt.ssl.certificate.location", err,
					errlen, "HTTPS needs both "
					"mgmt.ssl.certificate.location and "
					"mgmt.ssl.key.location");
	if (!cert)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return fmq_config_error(cfg, "mgmt.ssl.certificate.location",
					err, errlen, "this libmicrohttpd is "
					"built without TLS");
	rc = load_pem(cfg, "mgmt.ssl.certificate.location",
		      cfg->mgmt_ssl_certificate_location, "CERTIFICATE",
		      &msec.cert, err, errlen);
	if (rc == 0)
		rc = load_pem(cfg, "mgmt.ssl.key.location",
			      cfg->mgmt_ssl_key_location, "PRIVATE KEY",
			      &msec.key, err, errlen);
	if (rc < 0) {
		free(msec.cert);
		msec.cert = NULL;
	}
	return rc;
}

int
mgmt_listen(const struct fmq_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct in_addr a = { .s_addr = htonl(cfg->mgmt_listen.addr) };
	int fd, one = 1, e;

	e = load_security(cfg, err, errlen);
	if (e < 0)
		return e;
	sin.sin_addr.s_addr = htonl(cfg->mgmt_listen.addr);
	sin.sin_port = htons(cfg->mgmt_listen.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "mgmt: socket: %s", strerror(e));
		return -e;
	}
	/*
	 * SO_REUSEADDR only: a restart may bind while the old connections
	 * sit in TIME_WAIT, but Linux still refuses a second listener on the
	 * address. Never SO_REUSEPORT, which would let a second broker share
	 * the port and answer half of the health checks.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, MGMT_BACKLOG) != 0) {
		e = errno;
		close(fd);
		if (e == EADDRINUSE)
			fmq_config_error(cfg, "mgmt.listen", err, errlen,
					 "%s:%u is already in use (another "
					 "broker running?)", inet_ntoa(a),
					 cfg->mgmt_listen.port);
		else
			fmq_config_error(cfg, "mgmt.listen", err, errlen,
					 "cannot listen on %s:%u: %s",
					 inet_ntoa(a), cfg->mgmt_listen.port,
					 strerror(e));
		return -e;
	}
	return fd;
}

struct mgmt *
mgmt_start(struct app *a, int listen_fd, char *err, size_t errlen)
{
	struct mgmt *m = calloc(1, sizeof(*m));
	const union MHD_DaemonInfo *di;

	if (m == NULL) {
		snprintf(err, errlen, "mgmt: out of memory");
		return NULL;
	}
	m->a = a;
	m->head.next = m->head.prev = &m->head;
	m->d = MHD_start_daemon(MHD_USE_ERROR_LOG | MHD_USE_EPOLL |
				(msec.cert != NULL ? MHD_USE_TLS : 0),
				a->cfg.mgmt_listen.port, NULL, NULL, handler, m,
				MHD_OPTION_EXTERNAL_LOGGER, log_mhd, m,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned int)(MGMT_MAX_CONNS + MGMT_MHD_HEADROOM),
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)MGMT_IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				MHD_OPTION_NOTIFY_COMPLETED, completed, m,
				MHD_OPTION_NOTIFY_CONNECTION, conn_event, m,
				/* Last: without TLS they end the list. */
				msec.cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT :
				MHD_OPTION_END, msec.cert,
				MHD_OPTION_HTTPS_MEM_KEY, msec.key,
				MHD_OPTION_END);
	if (m->d == NULL && msec.cert != NULL) {
		fmq_config_error(&a->cfg, "mgmt.ssl.certificate.location", err,
				 errlen, "libmicrohttpd refused the "
				 "certificate or key (%s, %s: do they match? "
				 "an encrypted key?)", a->cfg.mgmt_ssl_certificate_location,
				 a->cfg.mgmt_ssl_key_location);
		close(listen_fd);
		free(m);
		return NULL;
	}
	if (m->d == NULL) {
		snprintf(err, errlen, "mgmt: libmicrohttpd did not start "
			 "(epoll support?)");
		close(listen_fd);
		free(m);
		return NULL;
	}
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || di->epoll_fd < 0) {
		snprintf(err, errlen, "mgmt: libmicrohttpd has no epoll set");
		MHD_stop_daemon(m->d);
		free(m);
		return NULL;
	}
	m->epoll_fd = di->epoll_fd;
	fmq_metrics_register(a->metrics, mgmt_metrics, m);
	return m;
}

void
mgmt_poll(struct mgmt *m, uint64_t timeout_us, int wake_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = m->epoll_fd, .events = POLLIN },
		{ .fd = wake_fd, .events = POLLIN },
	};
	MHD_UNSIGNED_LONG_LONG to;
	struct timespec ts;

	if (MHD_get_timeout(m->d, &to) == MHD_YES && to * 1000 < timeout_us)
		timeout_us = to * 1000;
	ts.tv_sec = (time_t)(timeout_us / 1000000);
	ts.tv_nsec = (long)(timeout_us % 1000000) * 1000;
	/* EINTR (net_tap's queue signals reach this thread) or a timeout:
	 * MHD_run still expires idle connections. */
	(void)ppoll(pfd, wake_fd >= 0 ? 2 : 1, &ts, NULL);
	MHD_run(m->d);
}

void
mgmt_stop(struct mgmt *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
	free(msec.cert);
	if (msec.key != NULL)
		memset(msec.key, 0, strlen(msec.key));
	free(msec.key);
	msec.cert = msec.key = NULL;
}
