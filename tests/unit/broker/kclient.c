/* SPDX-License-Identifier: Apache-2.0 */
/* See kclient.h. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "kclient.h"
#include "net_test_util.h"
#include "tcp_script.h"

#define MS 1000000ull
#define LPORT 9092

static struct nt_capture cap[KB_MAX_LCORES];
static struct kc clients[KC_MAX_CLIENTS];
static unsigned int nclients;
static uint16_t next_port = 40000;

/* ------------------------------------------------------------ broker */

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
set(struct kb *k, const char *kv)
{
	char err[512];

	if (fmq_config_set(&k->cfg, kv, "test", 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "setting %s: %s\n", kv, err);
		return -1;
	}
	return 0;
}

int
kb_start(struct kb *k, unsigned int nlc, const char *const *settings)
{
	struct fmq_log_params lp;
	struct fmq_net_conf nc = {
		.ip = nt_our_ip, .prefix = 24, .mac = nt_our_mac, .mtu = 1500,
	};
	char err[512], kv[512], cid[64];
	static int instance;

	if (nlc == 0 || nlc > KB_MAX_LCORES)
		return -1;
	memset(k, 0, sizeof(*k));
	k->nlc = nlc;
	memset(clients, 0, sizeof(clients));
	nclients = 0;
	snprintf(k->data_dir, sizeof(k->data_dir), "/tmp/fmq-brokertest-%d-%d",
		 (int)getpid(), instance);
	snprintf(k->hot_dir, sizeof(k->hot_dir), "%s/fmq-brokertest-%d-%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
		 (int)getpid(), instance);
	instance++;
	fmq_config_defaults(&k->cfg);
	snprintf(kv, sizeof(kv), "log.dirs=%s", k->data_dir);
	if (set(k, "net.ip=10.0.0.2/24") < 0 || set(k, kv) < 0)
		return -1;
	snprintf(kv, sizeof(kv), "log.hot.dir=%s", k->hot_dir);
	if (set(k, kv) < 0 || set(k, "log.hot.pool.bytes=33554432") < 0 ||
	    set(k, "log.hot.chunk.bytes=4194304") < 0)
		return -1;
	for (int i = 0; settings != NULL && settings[i] != NULL; i++)
		if (set(k, settings[i]) < 0)
			return -1;

	fmq_log_params_from_config(&lp, &k->cfg, nlc, 1024);
	lp.register_extmem = false;
	k->log = fmq_log_create(&lp, err, sizeof(err));
	if (k->log == NULL) {
		fprintf(stderr, "fmq_log_create: %s\n", err);
		return -1;
	}
	if (fmq_ctrl_cluster_id(&k->cfg, cid, sizeof(cid), err, sizeof(err)) < 0) {
		fprintf(stderr, "cluster id: %s\n", err);
		return -1;
	}
	k->b = fmq_broker_create(&k->cfg, k->log, nlc, cid, err, sizeof(err));
	if (k->b == NULL) {
		fprintf(stderr, "fmq_broker_create: %s\n", err);
		return -1;
	}
	k->ctrl = fmq_ctrl_create(&k->cfg, k->b, k->log, nlc, err, sizeof(err));
	if (k->ctrl == NULL) {
		fprintf(stderr, "fmq_ctrl_create: %s\n", err);
		return -1;
	}
	k->now = 5000 * MS;
	for (unsigned int i = 0; i < nlc; i++) {
		k->net[i] = nt_net_create_conf(&cap[i], &nc);
		if (k->net[i] == NULL)
			return -1;
		fmq_net_poll(k->net[i], k->now);
		k->bl[i] = fmq_broker_lcore_create(k->b, i, k->net[i], nt_pool,
						   SOCKET_ID_ANY, err,
						   sizeof(err));
		if (k->bl[i] == NULL) {
			fprintf(stderr, "fmq_broker_lcore_create: %s\n", err);
			return -1;
		}
	}
	k->metrics = fmq_metrics_create();
	if (k->metrics == NULL ||
	    fmq_metrics_register(k->metrics, fmq_broker_metrics, k->b) < 0)
		return -1;
	/* The peer is on-link: one IP frame from it teaches ARP. */
	for (unsigned int i = 0; i < nlc; i++) {
		struct rte_mbuf *m = nt_ipv4_frame(nt_peer_ip, nt_our_ip, 253,
						   "x", 1);
		fmq_net_rx(k->net[i], &m, 1, k->now);
		nt_capture_clear(&cap[i]);
	}
	kb_pump(k);
	return 0;
}

void
kb_stop(struct kb *k)
{
	for (unsigned int i = 0; i < nclients; i++)
		free(clients[i].rx);
	memset(clients, 0, sizeof(clients));
	nclients = 0;
	/* The order of app/fluxmq's shutdown. */
	fmq_ctrl_free(k->ctrl);
	for (unsigned int i = 0; i < k->nlc; i++) {
		nt_capture_clear(&cap[i]);
		fmq_broker_lcore_free(k->bl[i]);
		fmq_net_free(k->net[i]);
		nt_capture_clear(&cap[i]);
	}
	fmq_broker_free(k->b);
	fmq_log_free(k->log);
	fmq_metrics_free(k->metrics);
	nftw(k->data_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	nftw(k->hot_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct kc *
client_of(uint16_t port)
{
	for (unsigned int i = 0; i < nclients; i++)
		if (clients[i].used && clients[i].port == port)
			return &clients[i];
	return NULL;
}

static void
inject(struct kb *k, const struct kc *c, const struct ts_seg *s)
{
	struct rte_mbuf *m = ts_frame(s);

	if (m != NULL)
		fmq_net_rx(k->net[c->lc], &m, 1, k->now);
}

static struct ts_seg
seg_of(const struct kc *c, uint8_t flags, const void *d, uint32_t len)
{
	struct ts_seg s = {
		.sport = c->port, .dport = LPORT, .flags = flags,
		.seq = c->nxt, .ack = c->rcv, .win = 1024, /* x1024 */
		.data = d, .len = len,
	};

	ts_opt_ts(&s, c->ts, c->ecr);
	return s;
}

static void
rx_append(struct kc *c, const uint8_t *p, size_t n)
{
	if (c->rxlen + n > c->rxcap) {
		size_t cap2 = c->rxcap ? c->rxcap : 65536;
		while (cap2 < c->rxlen + n)
			cap2 *= 2;
		c->rx = realloc(c->rx, cap2);
		if (c->rx == NULL)
			abort();
		c->rxcap = cap2;
	}
	memcpy(c->rx + c->rxlen, p, n);
	c->rxlen += n;
}

/* Take what the stacks sent; true if anything was. */
static bool
drain(struct kb *k)
{
	static struct ts_out o;
	bool any = false;
	bool ack[KC_MAX_CLIENTS] = { false };

	for (unsigned int l = 0; l < k->nlc; l++) {
		any |= cap[l].n > 0;
		for (unsigned int i = 0; i < cap[l].n; i++) {
			struct kc *c;
			if (!ts_parse(cap[l].pkts[i], &o))
				continue;
			c = client_of(o.dport);
			if (c == NULL || c->lc != l)
				continue;
			if (o.flags & F_RST) {
				c->rst = true;
				continue;
			}
			if (o.flags & F_ACK) {
				if ((int32_t)(o.ack - c->una) > 0)
					c->una = o.ack;
				c->wnd = (uint32_t)o.win << c->wscale;
			}
			if (o.has_ts)
				c->ecr = o.tsval;
			if (o.len > 0) {
				if (o.seq == c->rcv) {
					rx_append(c, o.data, o.len);
					c->rcv += o.len;
				}
				ack[c - clients] = true;
			}
			if ((o.flags & F_FIN) && o.seq + o.len == c->rcv) {
				c->rcv++;
				c->fin = true;
				ack[c - clients] = true;
			}
		}
		nt_capture_clear(&cap[l]);
	}
	for (unsigned int i = 0; i < nclients; i++) {
		if (!ack[i])
			continue;
		struct ts_seg s = seg_of(&clients[i], F_ACK, NULL, 0);
		inject(k, &clients[i], &s);
	}
	return any;
}

static void
net_poll_all(struct kb *k)
{
	for (unsigned int i = 0; i < k->nlc; i++)
		fmq_net_poll(k->net[i], k->now);
}

void
kb_one_round(struct kb *k)
{
	for (unsigned int i = 0; i < k->nlc; i++)
		fmq_broker_lcore_poll(k->bl[i], k->now);
	net_poll_all(k);
	drain(k);
}

void
kb_pump(struct kb *k)
{
	int quiet = 0;

	for (int i = 0; i < 10000 && quiet < 3; i++) {
		bool any;
		net_poll_all(k);
		for (unsigned int l = 0; l < k->nlc; l++)
			fmq_broker_lcore_poll(k->bl[l], k->now);
		fmq_ctrl_poll(k->ctrl, k->now);
		net_poll_all(k);
		any = drain(k);
		quiet = any ? 0 : quiet + 1;
	}
}

void
kb_advance(struct kb *k, uint64_t ms)
{
	for (uint64_t i = 0; i < ms; i++) {
		k->now += MS;
		kb_pump(k);
	}
}

long long
kb_metric(struct kb *k, const char *series)
{
	size_t len, n = strlen(series);
	char *text = fmq_metrics_render(k->metrics, &len);
	long long v = -1;

	if (text == NULL)
		return -1;
	for (char *line = text; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		if (strncmp(line, series, n) == 0 && line[n] == ' ') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(text);
	return v;
}

/* ------------------------------------------------------------ clients */

struct kc *
kc_open(struct kb *k)
{
	return kc_open_on(k, 0);
}

struct kc *
kc_open_on(struct kb *k, unsigned int lc)
{
	static struct ts_out o;
	struct kc *c;
	struct ts_seg s;

	c = NULL;
	for (unsigned int i = 0; i < nclients; i++)
		if (!clients[i].used) {
			c = &clients[i];
			break;
		}
	if (c == NULL) {
		if (nclients == KC_MAX_CLIENTS)
			return NULL;
		c = &clients[nclients++];
	}
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->lc = lc < k->nlc ? lc : 0;
	c->port = next_port++;
	if (next_port > 60000)
		next_port = 40000;
	c->iss = 1000u * c->port;
	c->ts = 777;
	memset(&s, 0, sizeof(s));
	s.sport = c->port;
	s.dport = LPORT;
	s.flags = F_SYN;
	s.seq = c->iss;
	s.win = 64240;
	ts_opt_linux_syn(&s, c->ts);
	nt_capture_clear(&cap[c->lc]);
	inject(k, c, &s);
	fmq_net_poll(k->net[c->lc], k->now);
	for (unsigned int i = 0; i < cap[c->lc].n; i++) {
		if (!ts_parse(cap[c->lc].pkts[i], &o) || o.dport != c->port)
			continue;
		if (o.flags == (F_SYN | F_ACK)) {
			c->nxt = c->iss + 1;
			c->rcv = o.seq + 1;
			c->una = c->nxt;
			c->wscale = o.has_ws ? o.ws : 0;
			c->wnd = o.win;   /* not scaled on a SYN */
			c->ecr = o.tsval;
		}
	}
	nt_capture_clear(&cap[c->lc]);
	if (c->nxt == 0)
		return NULL;
	s = seg_of(c, F_ACK, NULL, 0);
	inject(k, c, &s);
	kb_pump(k);
	return c;
}

void
kc_inject(struct kb *k, struct kc *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		uint32_t n = len > KC_MSS ? KC_MSS : (uint32_t)len;
		/* Stay inside the broker's window; pump to get it reopened. */
		for (int tries = 0; (uint32_t)(c->nxt - c->una) + n > c->wnd &&
		     tries < 1000 && !c->rst && !c->fin; tries++) {
			kb_pump(k);
			if ((uint32_t)(c->nxt - c->una) + n > c->wnd)
				kb_advance(k, 1);
		}
		if (c->rst)
			return;
		struct ts_seg s = seg_of(c, F_ACK | F_PSH, p, n);
		inject(k, c, &s);
		c->nxt += n;
		p += n;
		len -= n;
		c->ts++;
		/* Let the broker see (and ack) every few segments. */
		if (((c->nxt - c->iss) / KC_MSS) % 16 == 0) {
			net_poll_all(k);
			drain(k);
		}
	}
}

void
kc_send(struct kb *k, struct kc *c, const void *buf, size_t len)
{
	kc_inject(k, c, buf, len);
	kb_pump(k);
}

int
kc_recv(struct kb *k, struct kc *c, int32_t *corr, const uint8_t **body,
	size_t *len)
{
	size_t avail = c->rxlen - c->rxoff;
	const uint8_t *p = c->rx + c->rxoff;
	int32_t size;

	(void)k;
	if (avail >= 8) {
		size = rd32(p);
		if (size >= 4 && avail >= 4 + (size_t)size) {
			*corr = rd32(p + 4);
			*body = p + 8;
			*len = (size_t)size - 4;
			c->rxoff += 4 + (size_t)size;
			return 1;
		}
	}
	return (c->fin || c->rst) ? -1 : 0;
}

int
kc_wait(struct kb *k, struct kc *c, int32_t *corr, const uint8_t **body,
	size_t *len)
{
	for (int i = 0; i < 200; i++) {
		int r = kc_recv(k, c, corr, body, len);
		if (r != 0)
			return r;
		kb_pump(k);
		r = kc_recv(k, c, corr, body, len);
		if (r != 0)
			return r;
		kb_advance(k, 1);
	}
	return 0;
}

bool
kc_closed(struct kc *c)
{
	return c->fin || c->rst;
}

void
kc_close(struct kb *k, struct kc *c)
{
	if (!c->rst) {
		struct ts_seg s = seg_of(c, F_ACK | F_FIN, NULL, 0);
		inject(k, c, &s);
		c->nxt++;
		kb_pump(k);
	}
}

void
kc_reset(struct kb *k, struct kc *c)
{
	struct ts_seg s = seg_of(c, F_RST | F_ACK, NULL, 0);

	inject(k, c, &s);
	c->rst = true;
}

void
kc_release(struct kc *c)
{
	free(c->rx);
	memset(c, 0, sizeof(*c));
}

void
kb_poll_lcore(struct kb *k, unsigned int lc)
{
	fmq_broker_lcore_poll(k->bl[lc], k->now);
}

/* ------------------------------------------------------------ building */

void
wb_init(struct wb *w)
{
	w->cap = 1 << 16;
	w->n = 0;
	w->b = malloc(w->cap);
	if (w->b == NULL)
		abort();
}

void
wb_free(struct wb *w)
{
	free(w->b);
	w->b = NULL;
}

void
wraw(struct wb *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		while (w->n + n > w->cap)
			w->cap *= 2;
		w->b = realloc(w->b, w->cap);
		if (w->b == NULL)
			abort();
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

void
w8(struct wb *w, int8_t v)
{
	wraw(w, &v, 1);
}

void
w16(struct wb *w, int16_t v)
{
	uint8_t b[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	wraw(w, b, 2);
}

void
w32(struct wb *w, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t b[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16),
			 (uint8_t)(u >> 8), (uint8_t)u };

	wraw(w, b, 4);
}

void
w64(struct wb *w, int64_t v)
{
	w32(w, (int32_t)((uint64_t)v >> 32));
	w32(w, (int32_t)(uint32_t)v);
}

void
wstr(struct wb *w, const char *s)
{
	if (s == NULL) {
		w16(w, -1);
		return;
	}
	w16(w, (int16_t)strlen(s));
	wraw(w, s, strlen(s));
}

void
wuv(struct wb *w, uint32_t v)
{
	while (v >= 0x80) {
		uint8_t b = (uint8_t)(v | 0x80);
		wraw(w, &b, 1);
		v >>= 7;
	}
	uint8_t b = (uint8_t)v;
	wraw(w, &b, 1);
}

void
wcstr(struct wb *w, const char *s)
{
	if (s == NULL) {
		wuv(w, 0);
		return;
	}
	wuv(w, (uint32_t)strlen(s) + 1);
	wraw(w, s, strlen(s));
}

size_t
wb_req(struct wb *w, int16_t key, int16_t ver, int32_t corr, int hv)
{
	size_t start = w->n;

	w32(w, 0);
	w16(w, key);
	w16(w, ver);
	w32(w, corr);
	wstr(w, "unit");
	if (hv == 2)
		wuv(w, 0);
	return start;
}

void
wb_end(struct wb *w, size_t start)
{
	uint32_t size = (uint32_t)(w->n - start - 4);

	w->b[start] = (uint8_t)(size >> 24);
	w->b[start + 1] = (uint8_t)(size >> 16);
	w->b[start + 2] = (uint8_t)(size >> 8);
	w->b[start + 3] = (uint8_t)size;
}

uint32_t
kc_crc32c(const uint8_t *p, size_t n)
{
	static uint32_t t[256];
	uint32_t c = 0xFFFFFFFF;

	if (t[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t x = i;
			for (int j = 0; j < 8; j++)
				x = (x & 1) ? (x >> 1) ^ 0x82F63B78 : x >> 1;
			t[i] = x;
		}
	for (size_t i = 0; i < n; i++)
		c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFF;
}

static size_t
put_varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

size_t
kc_batch(uint8_t *out, size_t cap, int n, size_t vlen, uint8_t seed,
	 int64_t ts, bool crc_ok)
{
	size_t pos = 61;   /* header */
	uint8_t tmp[16];

	for (int i = 0; i < n; i++) {
		uint8_t *bp;
		/* attributes, timestampDelta, offsetDelta, key -1, value,
		 * no headers */
		size_t body = 1 + put_varint(tmp, 0) + put_varint(tmp, i) +
			put_varint(tmp, -1) + put_varint(tmp, (int64_t)vlen) +
			vlen + put_varint(tmp, 0);
		if (pos + 10 + body > cap)
			return 0;
		bp = out + pos;
		bp += put_varint(bp, (int64_t)body);
		*bp++ = 0;
		bp += put_varint(bp, 0);
		bp += put_varint(bp, i);
		bp += put_varint(bp, -1);
		bp += put_varint(bp, (int64_t)vlen);
		for (size_t j = 0; j < vlen; j++)
			*bp++ = (uint8_t)(seed + i * 31 + j);
		bp += put_varint(bp, 0);
		pos = (size_t)(bp - out);
	}
	put64(out, 0);                          /* baseOffset */
	put32(out + 8, (uint32_t)(pos - 12));   /* batchLength */
	put32(out + 12, 0);                     /* partitionLeaderEpoch */
	out[16] = 2;                            /* magic */
	out[21] = 0;                            /* attributes */
	out[22] = 0;
	put32(out + 23, (uint32_t)(n - 1));     /* lastOffsetDelta */
	put64(out + 27, (uint64_t)ts);
	put64(out + 35, (uint64_t)ts);
	put64(out + 43, (uint64_t)-1);          /* producerId */
	out[51] = 0xff;                         /* producerEpoch -1 */
	out[52] = 0xff;
	put32(out + 53, 0xffffffffu);           /* baseSequence -1 */
	put32(out + 57, (uint32_t)n);
	put32(out + 17, kc_crc32c(out + 21, pos - 21) ^ (crc_ok ? 0 : 0xdead));
	return pos;
}
