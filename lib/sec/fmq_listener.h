/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka listeners: `listeners`, `listener.security.protocol.map` and
 * `advertised.listeners` parsed together, as Kafka reads them. One parser
 * for the start-up checks (exit 2, naming the key) and the broker.
 */
#ifndef FMQ_LISTENER_H
#define FMQ_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "fmq_sec.h"

#define FMQ_MAX_LISTENERS 8
#define FMQ_LISTENER_NAME_MAX 32
#define FMQ_LISTENER_HOST_MAX 64

struct fmq_listener {
	char name[FMQ_LISTENER_NAME_MAX];   /**< upper case, e.g. "SASL_SSL" */
	uint8_t proto;                      /**< enum fmq_sec_proto */
	char host[FMQ_LISTENER_HOST_MAX];   /**< bind host as written */
	uint16_t port;
	/** What Metadata and FindCoordinator tell clients that connected
	 * to this listener. */
	char adv_host[FMQ_LISTENER_HOST_MAX];
	uint16_t adv_port;
};

struct fmq_listeners {
	uint32_t n;
	struct fmq_listener l[FMQ_MAX_LISTENERS];
};

/**
 * Parse the three keys. listeners: "NAME://host:port,..." (host empty,
 * 0.0.0.0 or default_host: FluxMQ has one address, net.ip). map: Kafka's
 * "NAME:PROTOCOL,..." (empty: Kafka's default, each protocol mapped to
 * itself). advertised: "NAME://host:port,..." for some or all listener
 * names (empty or a listener left out: default_host and its port).
 * skip: Kafka's controller.listener.names, listeners of a KRaft
 * controller, left out (FluxMQ has no KRaft controller).
 * @return 0, or -1 with *key set to the key at fault and msg filled.
 */
int fmq_listeners_parse(const char *listeners, const char *map,
			const char *advertised, const char *skip,
			const char *default_host,
			struct fmq_listeners *out, const char **key,
			char *msg, size_t msglen);

/** The listener on local port port, or NULL. */
const struct fmq_listener *fmq_listeners_by_port(const struct fmq_listeners *ls,
						 uint16_t port);

#endif
