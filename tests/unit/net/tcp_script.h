/* SPDX-License-Identifier: Apache-2.0 */
/* Packet-script helpers for TCP unit tests: a scripted peer injects crafted
 * segments with a fake clock; emitted segments are parsed and checked. */
#ifndef TCP_SCRIPT_H
#define TCP_SCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_tcp.h>

#include "net_test_util.h"

#define F_FIN RTE_TCP_FIN_FLAG
#define F_SYN RTE_TCP_SYN_FLAG
#define F_RST RTE_TCP_RST_FLAG
#define F_PSH RTE_TCP_PSH_FLAG
#define F_ACK RTE_TCP_ACK_FLAG
#define F_URG RTE_TCP_URG_FLAG

/* A segment the peer sends. */
struct ts_seg {
	uint16_t sport, dport;       /* host order */
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t opts[40];
	uint8_t olen;                /* multiple of 4 */
	const void *data;
	uint32_t len;
};

/* A segment the stack emitted, parsed. */
struct ts_out {
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint32_t len;
	uint8_t data[2048];
	bool has_mss, has_ws, has_ts, sack_ok;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	unsigned int nsack;
	uint32_t sack[4][2];
	bool csum_ok;                /* TCP checksum (flat copy) */
	bool ipsum_ok;               /* IPv4 header checksum */
};

/* Option builders: append to s->opts (pads to 4 with NOPs at the end). */
void ts_opt_linux_syn(struct ts_seg *s, uint32_t tsval);  /* mss 1460,
	sackOK, TS, nop, wscale 10 */
void ts_opt_ts(struct ts_seg *s, uint32_t tsval, uint32_t tsecr);
void ts_opt_sack(struct ts_seg *s, const uint32_t (*blk)[2], unsigned int n);
void ts_opt_raw(struct ts_seg *s, const uint8_t *b, uint8_t len);

/* Build the frame (valid checksums). */
struct rte_mbuf *ts_frame(const struct ts_seg *s);
/* Parse emitted frame i of a capture; false if it is not TCP. */
bool ts_parse(struct rte_mbuf *m, struct ts_out *o);

#endif
