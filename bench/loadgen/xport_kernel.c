/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel-socket transport (--kernel): the same workloads against any
 * Kafka broker (FluxMQ through its TAP interface, Apache Kafka, the
 * librdkafka mock cluster). Non-blocking sockets, one epoll set,
 * edge-triggered; a per-connection input buffer that frames responses and
 * an output buffer that absorbs partial writes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define RBUF_INIT (1u << 20)
#define WBUF_INIT (4u << 20)
#define WRITE_MARK (1u << 20)    /* stop queueing above this much unsent */
#define CLOSE_FLUSH_NS 10000000000ull /* at most 10 s to send the rest */

struct kpriv {
	int ep;
	uint64_t rx_bytes, tx_bytes, syscalls;
};

static struct kpriv kp;

static int
k_init(struct bench *b, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	b->xp = &kp;
	kp.ep = epoll_create1(EPOLL_CLOEXEC);
	return kp.ep < 0 ? -errno : 0;
}

static int
k_tmpl_alloc(struct bench *b, struct tmpl *t, uint32_t len)
{
	(void)b;
	t->buf = aligned_alloc(64, ((size_t)len + 63) & ~(size_t)63);
	t->iova = 0;
	return t->buf == NULL ? -ENOMEM : 0;
}

static void
k_mark_closed(struct bconn *c, int reason)
{
	if (c->closed)
		return;
	c->closed = true;
	c->close_reason = reason;
	if (c->fd >= 0) {
		epoll_ctl(kp.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

static int
k_connect(struct bench *b, struct bconn *c)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(b->o.broker_port),
		.sin_addr.s_addr = b->o.broker_ip,
	};
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
		.data.ptr = c,
	};
	int one = 1;

	c->rbuf = malloc(RBUF_INIT);
	c->wbuf = malloc(WBUF_INIT);
	if (c->rbuf == NULL || c->wbuf == NULL)
		return -ENOMEM;
	c->rcap = RBUF_INIT;
	c->wcap = WBUF_INIT;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS)
		return -errno;
	if (epoll_ctl(kp.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	c->writable = true;
	return 0;
}

static void
k_flush(struct bconn *c)
{
	while (c->woff < c->wlen && !c->closed) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
				 MSG_NOSIGNAL);

		kp.syscalls++;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				k_mark_closed(c, -errno);
			break;
		}
		c->woff += (size_t)n;
		kp.tx_bytes += (uint64_t)n;
	}
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	c->writable = c->wlen - c->woff < WRITE_MARK;
}

static int
wbuf_put(struct bconn *c, const void *p, size_t n)
{
	if (c->wlen + n > c->wcap) {
		/* Move the unsent part to the front, grow if still short. */
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
		if (c->wlen + n > c->wcap) {
			size_t cap = c->wcap;
			uint8_t *nb;

			while (cap < c->wlen + n)
				cap *= 2;
			nb = realloc(c->wbuf, cap);
			if (nb == NULL)
				return -ENOMEM;
			c->wbuf = nb;
			c->wcap = cap;
		}
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

static int
k_send(struct bench *b, struct bconn *c, const struct req_out *r)
{
	int rc = 0;

	(void)b;
	if (c->closed || !c->up)
		return -ENOTCONN;
	if (r->hdr_len)
		rc = wbuf_put(c, r->hdr, r->hdr_len);
	if (rc == 0 && r->ref != NULL)
		rc = wbuf_put(c, r->ref->buf, r->ref->len);
	if (rc == 0 && r->tail_len)
		rc = wbuf_put(c, r->tail, r->tail_len);
	if (rc < 0)
		return rc;
	/* Written out by the next poll, so a burst of requests costs one
	 * send() instead of one each. */
	c->writable = c->wlen - c->woff < WRITE_MARK;
	return 0;
}

/* Hand every whole frame in rbuf to the protocol. */
static void
k_frames(struct bench *b, struct bconn *c)
{
	size_t off = 0;

	while (c->rlen - off >= 4 && !c->closed) {
		uint32_t size = rd_be32(c->rbuf + off);
		struct fmq_kafka_seg seg;

		if (size > BENCH_FRAME_MAX) {
			k_mark_closed(c, -EMSGSIZE);
			return;
		}
		if (c->rlen - off - 4 < size) {
			if ((size_t)size + 4 > c->rcap) {
				uint8_t *nb = realloc(c->rbuf, (size_t)size + 4);
				if (nb == NULL) {
					k_mark_closed(c, -ENOMEM);
					return;
				}
				c->rbuf = nb;
				c->rcap = (size_t)size + 4;
			}
			break;
		}
		seg.p = c->rbuf + off + 4;
		seg.len = size;
		proto_on_frame(b, c, &seg, 1, size);
		off += 4 + (size_t)size;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void
k_read(struct bench *b, struct bconn *c)
{
	while (!c->closed) {
		ssize_t n;

		if (c->rlen == c->rcap) {
			uint8_t *nb = realloc(c->rbuf, c->rcap * 2);
			if (nb == NULL) {
				k_mark_closed(c, -ENOMEM);
				return;
			}
			c->rbuf = nb;
			c->rcap *= 2;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		kp.syscalls++;
		if (n == 0) {
			k_mark_closed(c, 0);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				k_mark_closed(c, -errno);
			return;
		}
		kp.rx_bytes += (uint64_t)n;
		if (b->o.wl == WL_ECHO) {
			proto_on_echo(b, c, (uint64_t)n);
			continue;
		}
		c->rlen += (size_t)n;
		k_frames(b, c);
	}
}

static void
k_poll(struct bench *b, uint64_t wait_ns)
{
	struct epoll_event ev[64];
	struct timespec ts;
	int n;

	for (unsigned int i = 0; i < b->nconns; i++) {
		struct bconn *c = &b->conns[i];

		/* What stays unsent wakes us through EPOLLOUT. */
		if (c->wlen > c->woff && c->up && !c->closed)
			k_flush(c);
	}
	ts.tv_sec = (time_t)(wait_ns / 1000000000ull);
	ts.tv_nsec = (long)(wait_ns % 1000000000ull);
	n = epoll_pwait2(kp.ep, ev, 64, &ts, NULL);
	kp.syscalls++;
	for (int i = 0; i < n; i++) {
		struct bconn *c = ev[i].data.ptr;

		if (c->closed)
			continue;
		if (!c->up && (ev[i].events & (EPOLLOUT | EPOLLERR))) {
			int err = 0;
			socklen_t l = sizeof(err);

			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err != 0) {
				k_mark_closed(c, -err);
				continue;
			}
			c->up = true;
		}
		if (ev[i].events & EPOLLIN)
			k_read(b, c);
		if (!c->closed && (ev[i].events & EPOLLOUT))
			k_flush(c);
		if (!c->closed && (ev[i].events & (EPOLLERR | EPOLLHUP)))
			k_mark_closed(c, -ECONNRESET);
	}
}

static void
k_close(struct bench *b, struct bconn *c)
{
	uint64_t deadline = fmq_now_ns() + CLOSE_FLUSH_NS;

	(void)b;
	/* An acks=0 request counts as sent once it is queued here: what is
	 * still in wbuf must reach the socket before it closes, or it is
	 * counted and never sent (up to WRITE_MARK, thousands of one-record
	 * requests). A broker that holds us back with its window takes a
	 * while to take the rest. */
	k_flush(c);
	while (c->woff < c->wlen && !c->closed && fmq_now_ns() < deadline) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };

		poll(&p, 1, 10);
		kp.syscalls++;
		k_flush(c);
	}
	if (c->woff < c->wlen)
		fprintf(stderr, "fluxmq-bench: %zu bytes never sent before "
			"the close\n", c->wlen - c->woff);
	k_mark_closed(c, 0);
}

static void
k_fini(struct bench *b)
{
	for (unsigned int i = 0; i < b->nconns; i++) {
		k_mark_closed(&b->conns[i], 0);
		free(b->conns[i].rbuf);
		free(b->conns[i].wbuf);
	}
	for (unsigned int i = 0; i < b->ntmpl; i++)
		free(b->tmpl[i].buf);
	free(b->echo_tmpl.buf);
	if (kp.ep >= 0)
		close(kp.ep);
}

static void
k_stats_json(struct bench *b, FILE *f)
{
	(void)b;
	fprintf(f, "\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"syscalls\":%llu",
		(unsigned long long)kp.rx_bytes,
		(unsigned long long)kp.tx_bytes,
		(unsigned long long)kp.syscalls);
}

const struct xport_ops xport_kernel = {
	.name = "kernel",
	.init = k_init,
	.tmpl_alloc = k_tmpl_alloc,
	.connect = k_connect,
	.send = k_send,
	.poll = k_poll,
	.close = k_close,
	.fini = k_fini,
	.stats_json = k_stats_json,
};
