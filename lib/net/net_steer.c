/* SPDX-License-Identifier: Apache-2.0 */
/* Flow steering: the symmetric Toeplitz hash (see fmq_net_steer.h). */
#include <rte_thash.h>

#include "fmq_net_steer.h"

const uint8_t fmq_steer_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

uint32_t
fmq_steer_hash(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
	/* rte_softrss takes the tuple as host-order 32-bit words. */
	uint32_t t[3] = { saddr, daddr, (uint32_t)sport << 16 | dport };

	return rte_softrss(t, 3, fmq_steer_key);
}

uint16_t
fmq_steer_pick_sport(uint32_t saddr, uint32_t daddr, uint16_t dport,
		     unsigned int want, unsigned int n, uint16_t lo, uint16_t hi)
{
	for (uint32_t p = lo; p <= hi; p++)
		if (fmq_steer_lcore(fmq_steer_hash(saddr, daddr, (uint16_t)p,
						   dport), n) == want)
			return (uint16_t)p;
	return 0;
}
