/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A whole broker (lib/broker data lcore + lib/ctrl control state) on a
 * capture-only TCP-lite stack, driven on one thread with a fake clock, and
 * scripted Kafka clients that speak to it through injected TCP segments.
 * No NIC, no root, no hugepages.
 */
#ifndef KCLIENT_H
#define KCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmq_broker.h"
#include "fmq_ctrl.h"
#include "fmq_log.h"
#include "fmq_net.h"
#include "fmq_util.h"

#define KC_MSS 1448          /* 1460 minus the timestamp option */
#define KC_MAX_CLIENTS 256
#define KB_MAX_LCORES 2

/* One broker. */
struct kb {
	struct fmq_config cfg;
	struct fmq_log *log;
	struct fmq_broker *b;
	struct fmq_ctrl *ctrl;
	unsigned int nlc;        /* data lcores */
	struct fmq_net *net[KB_MAX_LCORES];
	struct fmq_broker_lcore *bl[KB_MAX_LCORES];
	struct fmq_metrics *metrics;
	uint64_t now;            /* fake clock, ns */
	char data_dir[256];
	char hot_dir[256];
};

/* One client connection. */
struct kc {
	uint16_t port;
	unsigned int lc;         /* the data lcore (stack) it talks to */
	uint32_t iss, nxt;       /* our sequence numbers */
	uint32_t rcv;            /* next byte expected from the broker */
	uint32_t una;            /* highest ack from the broker */
	uint32_t wnd;            /* broker's window, bytes */
	uint8_t wscale;
	uint32_t ts, ecr;
	bool fin, rst, used;
	uint8_t *rx;             /* bytes from the broker, in order */
	size_t rxlen, rxcap, rxoff;
};

/* A byte builder for requests. */
struct wb {
	uint8_t *b;
	size_t n, cap;
};

/* -- broker ---------------------------------------------------------- */
/* Start a broker with nlc data lcores, each behind its own stack (so a
 * client picks its lcore); extra "key=value" settings (NULL-terminated)
 * apply after the test defaults. 0 or -1 (message printed). */
int kb_start(struct kb *k, unsigned int nlc, const char *const *settings);
void kb_stop(struct kb *k);
/* Run the stack, the data lcore and the control lcore until quiet. */
void kb_pump(struct kb *k);
/* Advance the fake clock by ms in 1 ms polls. */
void kb_advance(struct kb *k, uint64_t ms);
/* One pass of the data lcore only (for fairness checks), then TX. */
void kb_one_round(struct kb *k);
/* The value of a metric series from /metrics text (name{labels}), or -1. */
long long kb_metric(struct kb *k, const char *series);

/* -- clients --------------------------------------------------------- */
struct kc *kc_open(struct kb *k);            /* on data lcore 0 */
struct kc *kc_open_on(struct kb *k, unsigned int lc);
void kc_send(struct kb *k, struct kc *c, const void *buf, size_t len);
/* Send without pumping (several clients' bytes in one burst). */
void kc_inject(struct kb *k, struct kc *c, const void *buf, size_t len);
/* Next response: 1 (corr, body, len set; body valid until the next
 * call), 0 (nothing yet), -1 (closed by the broker). */
int kc_recv(struct kb *k, struct kc *c, int32_t *corr, const uint8_t **body,
	    size_t *len);
/* Pump until a response or a close; same results as kc_recv. */
int kc_wait(struct kb *k, struct kc *c, int32_t *corr, const uint8_t **body,
	    size_t *len);
bool kc_closed(struct kc *c);
void kc_close(struct kb *k, struct kc *c);
/* The client resets the connection (no pump). */
void kc_reset(struct kb *k, struct kc *c);
/* Forget a client whose connection is gone; its slot is reused. */
void kc_release(struct kc *c);
/* One poll of one data lcore (no TX, no other lcore). */
void kb_poll_lcore(struct kb *k, unsigned int lc);

/* -- request building ------------------------------------------------ */
void wb_init(struct wb *w);
void wb_free(struct wb *w);
void w8(struct wb *w, int8_t v);
void w16(struct wb *w, int16_t v);
void w32(struct wb *w, int32_t v);
void w64(struct wb *w, int64_t v);
void wraw(struct wb *w, const void *p, size_t n);
void wstr(struct wb *w, const char *s);      /* int16 length, NULL: -1 */
void wuv(struct wb *w, uint32_t v);          /* unsigned varint */
void wcstr(struct wb *w, const char *s);     /* compact, NULL: null */
/* Start a frame: size placeholder + header v1 (v2 adds an empty tag
 * section); returns the frame's start for wb_end. */
size_t wb_req(struct wb *w, int16_t key, int16_t ver, int32_t corr, int hv);
void wb_end(struct wb *w, size_t start);

/* A magic-2 batch of n uncompressed records of value size vlen (byte
 * pattern from seed), timestamp ts; crc_ok false corrupts the CRC. */
size_t kc_batch(uint8_t *out, size_t cap, int n, size_t vlen, uint8_t seed,
		int64_t ts, bool crc_ok);
uint32_t kc_crc32c(const uint8_t *p, size_t n);

/* big-endian reads */
static inline int16_t
rd16(const uint8_t *p)
{
	return (int16_t)(p[0] << 8 | p[1]);
}

static inline int32_t
rd32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			 (uint32_t)p[2] << 8 | p[3]);
}

static inline int64_t
rd64(const uint8_t *p)
{
	return (int64_t)((uint64_t)(uint32_t)rd32(p) << 32 |
			 (uint32_t)rd32(p + 4));
}

#endif
