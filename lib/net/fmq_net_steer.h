/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow steering: which data lcore (RSS queue) a TCP flow lands on. The
 * broker uses it to aim software-steered packets and active opens at the
 * right lcore; the load generator (bench/loadgen) to aim its connections
 * at chosen data lcores. Pure functions of their inputs.
 */
#ifndef FMQ_NET_STEER_H
#define FMQ_NET_STEER_H

#include <stdint.h>

/** RETA size the default hardware indirection mirrors. */
#define FMQ_STEER_RETA 128u

/** The symmetric Toeplitz key: 0x6d5a repeated, 40 bytes. */
extern const uint8_t fmq_steer_key[40];

/**
 * Toeplitz hash of an IPv4 TCP/UDP 4-tuple (host byte order) with the
 * symmetric key: the same value in both directions, and the same value a
 * NIC computes with that key, so software and hardware steering agree.
 */
uint32_t fmq_steer_hash(uint32_t saddr, uint32_t daddr, uint16_t sport,
			uint16_t dport);

/** Lcore (queue) of a hash among n, as a default-filled RETA maps it. */
static inline unsigned int
fmq_steer_lcore(uint32_t hash, unsigned int n)
{
	return n <= 1 ? 0 : (hash & (FMQ_STEER_RETA - 1)) % n;
}

/**
 * A source port in [lo, hi] whose flow to daddr:dport steers to lcore
 * `want` of n (active opens keep their replies on their own lcore).
 * @return the port, or 0 when none in the range does.
 */
uint16_t fmq_steer_pick_sport(uint32_t saddr, uint32_t daddr, uint16_t dport,
			      unsigned int want, unsigned int n, uint16_t lo,
			      uint16_t hi);

#endif /* FMQ_NET_STEER_H */
