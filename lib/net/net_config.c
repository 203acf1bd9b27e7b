/* SPDX-License-Identifier: Apache-2.0 */
/* Interface settings from the broker configuration. */
#include <errno.h>
#include <string.h>

#include "net_priv.h"

int
fmq_net_conf_from_config(struct fmq_net_conf *nc, const struct fmq_config *cfg,
			 char *err, size_t errlen)
{
	uint32_t mask;

	memset(nc, 0, sizeof(*nc));
	nc->ip = cfg->net_ip.addr;
	nc->prefix = cfg->net_ip.prefix;
	nc->gateway = cfg->net_gateway;
	nc->mtu = (uint16_t)cfg->net_mtu;
	if (nc->ip == 0)
		return fmq_config_error(cfg, "net.ip", err, errlen,
					"0.0.0.0 is not a usable address");
	if (nc->prefix == 0 || nc->prefix > 30)
		return fmq_config_error(cfg, "net.ip", err, errlen,
					"prefix must be 1..30");
	mask = rte_cpu_to_be_32(~0u << (32 - nc->prefix));
	if ((nc->ip & ~mask) == 0 || (nc->ip & ~mask) == ~mask)
		return fmq_config_error(cfg, "net.ip", err, errlen,
					"network or broadcast address of its subnet");
	if (nc->gateway != 0 && ((nc->gateway ^ nc->ip) & mask) != 0)
		return fmq_config_error(cfg, "net.gateway", err, errlen,
					"not inside net.ip's subnet");
	return 0;
}
