/* SPDX-License-Identifier: Apache-2.0 */
/* Interface settings from the broker configuration. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_priv.h"

/* A u64 key into a u32 field; 0 in the field means "default", so a key
 * that allows 0 maps it to the field's "none" value UINT32_MAX. */
static uint32_t
u32_or_none(uint64_t v)
{
	return v == 0 ? UINT32_MAX : (uint32_t)v;
}

int
net_tcp_conf_from_config(struct fmq_tcp_conf *t, const struct fmq_config *cfg,
			 char *err, size_t errlen)
{
	t->max_conns = (uint32_t)cfg->net_max_connections;
	t->syn_backlog = (uint32_t)cfg->net_tcp_syn_backlog;
	t->rto_min_ms = (uint32_t)cfg->net_tcp_rto_min_ms;
	t->rto_max_ms = (uint32_t)cfg->net_tcp_rto_max_ms;
	t->rto_init_ms = (uint32_t)cfg->net_tcp_rto_init_ms;
	t->msl_ms = u32_or_none(cfg->net_tcp_msl_ms);
	t->delack_ms = u32_or_none(cfg->net_tcp_delack_ms);
	t->rcv_buf = (uint32_t)cfg->net_tcp_rcv_buf;
	t->snd_buf = (uint32_t)cfg->net_tcp_snd_buf;
	t->init_cwnd = (uint32_t)cfg->net_tcp_init_cwnd;
	t->ooo_max = u32_or_none(cfg->net_tcp_ooo_max);
	t->syn_retries = (uint32_t)cfg->net_tcp_syn_retries;
	t->retries = (uint32_t)cfg->net_tcp_retries;
	t->ka_idle_ms = u32_or_none(cfg->net_tcp_keepalive_idle_ms);
	t->ka_intvl_ms = (uint32_t)cfg->net_tcp_keepalive_intvl_ms;
	t->ka_probes = (uint32_t)cfg->net_tcp_keepalive_probes;
	t->no_sack = !cfg->net_tcp_sack;
	t->no_timestamps = !cfg->net_tcp_timestamps;
	t->no_wscale = !cfg->net_tcp_wscale;
	t->congestion = strcmp(cfg->net_tcp_congestion, "newreno") == 0 ?
		FMQ_TCP_CC_NEWRENO : FMQ_TCP_CC_CUBIC;
	if (cfg->net_tcp_rto_min_ms > cfg->net_tcp_rto_max_ms)
		return fmq_config_error(cfg, "net.tcp.rto_min_ms", err, errlen,
					"larger than net.tcp.rto_max_ms");
	if (cfg->net_tcp_syn_backlog > cfg->net_max_connections)
		return fmq_config_error(cfg, "net.tcp.syn_backlog", err,
					errlen, "larger than net.max.connections");
	return 0;
}

/* "echo:7,discard:9" */
static int
services_from_config(struct fmq_net_conf *nc, const struct fmq_config *cfg,
		     char *err, size_t errlen)
{
	const char *p = cfg->net_services;

	nc->nb_services = 0;
	while (*p != '\0') {
		char name[16];
		unsigned long port;
		size_t len = strcspn(p, ":,");
		char *end;

		while (*p == ' ')
			p++, len--;
		if (len == 0 || len >= sizeof(name) || p[len] != ':')
			return fmq_config_error(cfg, "net.services", err,
				errlen, "expected name:port[,name:port...]");
		memcpy(name, p, len);
		name[len] = '\0';
		p += len + 1;
		port = strtoul(p, &end, 10);
		if (end == p || port == 0 || port > 65535 ||
		    (*end != '\0' && *end != ','))
			return fmq_config_error(cfg, "net.services", err,
				errlen, "bad port for %s", name);
		p = *end == ',' ? end + 1 : end;
		if (nc->nb_services == FMQ_NET_MAX_SERVICES)
			return fmq_config_error(cfg, "net.services", err,
				errlen, "more than %d services",
				FMQ_NET_MAX_SERVICES);
		struct fmq_net_service *s = &nc->services[nc->nb_services];
		if (strcmp(name, "echo") == 0)
			s->kind = FMQ_NET_SVC_ECHO;
		else if (strcmp(name, "discard") == 0)
			s->kind = FMQ_NET_SVC_DISCARD;
		else
			return fmq_config_error(cfg, "net.services", err,
				errlen, "unknown service '%s' (echo, discard)",
				name);
		for (unsigned int i = 0; i < nc->nb_services; i++)
			if (nc->services[i].port == port)
				return fmq_config_error(cfg, "net.services",
					err, errlen, "port %lu used twice",
					port);
		s->port = (uint16_t)port;
		nc->nb_services++;
	}
	return 0;
}

static int
impair_from_config(struct fmq_net_impair *im, const struct fmq_config *cfg)
{
	im->rx.loss = cfg->net_impair_rx_loss;
	im->rx.duplicate = cfg->net_impair_rx_duplicate;
	im->rx.reorder = cfg->net_impair_rx_reorder;
	im->rx.corrupt = cfg->net_impair_rx_corrupt;
	im->rx.delay_us = (uint32_t)cfg->net_impair_rx_delay_us;
	im->tx.loss = cfg->net_impair_tx_loss;
	im->tx.duplicate = cfg->net_impair_tx_duplicate;
	im->tx.reorder = cfg->net_impair_tx_reorder;
	im->tx.corrupt = cfg->net_impair_tx_corrupt;
	im->tx.delay_us = (uint32_t)cfg->net_impair_tx_delay_us;
	im->seed = cfg->net_impair_seed;
	return 0;
}

int
fmq_net_conf_from_config(struct fmq_net_conf *nc, const struct fmq_config *cfg,
			 char *err, size_t errlen)
{
	uint32_t mask;
	int rc;

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
	rc = net_tcp_conf_from_config(&nc->tcp, cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = services_from_config(nc, cfg, err, errlen);
	if (rc < 0)
		return rc;
	return impair_from_config(&nc->impair, cfg);
}
