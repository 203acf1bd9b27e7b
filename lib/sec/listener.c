/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka listener configuration (see fmq_listener.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_listener.h"

#define DEFAULT_MAP "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT," \
	"SASL_SSL:SASL_SSL"

/* Copy [s, s + len) upper-cased into dst (cap bytes); -1 when too long
 * or not a listener name (letters, digits, '_', '-'). */
static int
name_copy(char *dst, size_t cap, const char *s, size_t len)
{
	if (len == 0 || len >= cap)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '-')
			return -1;
		dst[i] = (char)toupper(c);
	}
	dst[len] = '\0';
	return 0;
}

/* Trimmed item [*b, *e) of a comma list starting at *p; false at the end. */
static bool
next_item(const char **p, const char **b, const char **e)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return false;
	*b = s;
	while (*s != '\0' && *s != ',')
		s++;
	*e = s;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
	*p = *s == ',' ? s + 1 : s;
	return true;
}

/* "NAME://host:port" in [b, e). */
static int
endpoint(const char *b, const char *e, char *name, char *host,
	 uint16_t *port, char *msg, size_t msglen)
{
	const char *sep = NULL, *colon = NULL;
	char num[8], *end;
	long x;

	for (const char *q = b; q + 3 <= e; q++)
		if (memcmp(q, "://", 3) == 0) {
			sep = q;
			break;
		}
	if (sep == NULL || name_copy(name, FMQ_LISTENER_NAME_MAX, b,
				     (size_t)(sep - b)) < 0)
		goto bad;
	for (const char *q = e; q > sep + 3; q--)
		if (q[-1] == ':') {
			colon = q - 1;
			break;
		}
	if (colon == NULL || (size_t)(colon - (sep + 3)) >=
	    FMQ_LISTENER_HOST_MAX || e - colon - 1 <= 0 ||
	    (size_t)(e - colon - 1) >= sizeof(num))
		goto bad;
	memcpy(host, sep + 3, (size_t)(colon - (sep + 3)));
	host[colon - (sep + 3)] = '\0';
	memcpy(num, colon + 1, (size_t)(e - colon - 1));
	num[e - colon - 1] = '\0';
	errno = 0;
	x = strtol(num, &end, 10);
	if (*end != '\0' || errno != 0 || x < 1 || x > 65535)
		goto bad;
	*port = (uint16_t)x;
	return 0;
bad:
	snprintf(msg, msglen, "'%.*s': expected NAME://host:port (port "
		 "1..65535, NAME a listener name such as PLAINTEXT or SASL_SSL)",
		 (int)(e - b), b);
	return -1;
}

/* The protocol NAME maps to in map, or -1. */
static int
map_lookup(const char *map, const char *name, char *msg, size_t msglen,
	   bool *bad)
{
	const char *p = map, *b, *e;

	*bad = false;
	while (next_item(&p, &b, &e)) {
		const char *c = memchr(b, ':', (size_t)(e - b));
		char n[FMQ_LISTENER_NAME_MAX];
		int proto;

		if (c == NULL || name_copy(n, sizeof(n), b,
					   (size_t)(c - b)) < 0 ||
		    (proto = fmq_sec_proto_parse(c + 1,
						 (size_t)(e - c - 1))) < 0) {
			snprintf(msg, msglen, "'%.*s': expected NAME:PROTOCOL "
				 "with PROTOCOL one of PLAINTEXT, SSL, "
				 "SASL_PLAINTEXT, SASL_SSL", (int)(e - b), b);
			*bad = true;
			return -1;
		}
		if (strcmp(n, name) == 0)
			return proto;
	}
	return -1;
}

/* Whether name is in the comma list s. */
static bool
in_list(const char *s, const char *name)
{
	const char *p = s != NULL ? s : "", *b, *e;
	char n[FMQ_LISTENER_NAME_MAX];

	while (next_item(&p, &b, &e))
		if (name_copy(n, sizeof(n), b, (size_t)(e - b)) == 0 &&
		    strcmp(n, name) == 0)
			return true;
	return false;
}

int
fmq_listeners_parse(const char *listeners, const char *map,
		    const char *advertised, const char *skip,
		    const char *default_host,
		    struct fmq_listeners *out, const char **key, char *msg,
		    size_t msglen)
{
	const char *p = listeners, *b, *e;
	const char *m = (map != NULL && map[0] != '\0') ? map : DEFAULT_MAP;

	memset(out, 0, sizeof(*out));
	*key = "listeners";
	while (next_item(&p, &b, &e)) {
		struct fmq_listener *l;
		bool bad;
		int proto;

		if (out->n == FMQ_MAX_LISTENERS) {
			snprintf(msg, msglen, "more than %d listeners",
				 FMQ_MAX_LISTENERS);
			return -1;
		}
		l = &out->l[out->n];
		if (endpoint(b, e, l->name, l->host, &l->port, msg,
			     msglen) < 0)
			return -1;
		if (in_list(skip, l->name))
			continue;
		if (l->host[0] != '\0' && strcmp(l->host, "0.0.0.0") != 0 &&
		    strcmp(l->host, default_host) != 0) {
			snprintf(msg, msglen, "'%.*s': host must be empty, "
				 "0.0.0.0 or net.ip (%s)", (int)(e - b), b,
				 default_host);
			return -1;
		}
		for (uint32_t i = 0; i < out->n; i++) {
			if (strcmp(out->l[i].name, l->name) == 0) {
				snprintf(msg, msglen, "listener name %s is "
					 "used twice", l->name);
				return -1;
			}
			if (out->l[i].port == l->port) {
				snprintf(msg, msglen, "port %u is used by "
					 "listeners %s and %s", l->port,
					 out->l[i].name, l->name);
				return -1;
			}
		}
		proto = map_lookup(m, l->name, msg, msglen, &bad);
		if (proto < 0) {
			if (bad) {
				*key = "listener.security.protocol.map";
				return -1;
			}
			snprintf(msg, msglen, "listener name %s is not in "
				 "listener.security.protocol.map (%s)",
				 l->name, m);
			return -1;
		}
		l->proto = (uint8_t)proto;
		snprintf(l->adv_host, sizeof(l->adv_host), "%s", default_host);
		l->adv_port = l->port;
		out->n++;
	}
	if (out->n == 0) {
		snprintf(msg, msglen, "no listener (expected NAME://host:port)");
		return -1;
	}
	*key = "advertised.listeners";
	p = advertised != NULL ? advertised : "";
	while (next_item(&p, &b, &e)) {
		char name[FMQ_LISTENER_NAME_MAX], host[FMQ_LISTENER_HOST_MAX];
		uint16_t port;
		struct fmq_listener *l = NULL;

		if (endpoint(b, e, name, host, &port, msg, msglen) < 0)
			return -1;
		for (uint32_t i = 0; i < out->n; i++)
			if (strcmp(out->l[i].name, name) == 0)
				l = &out->l[i];
		if (l == NULL && in_list(skip, name))
			continue;
		if (l == NULL) {
			snprintf(msg, msglen, "'%.*s': no listener named %s "
				 "in listeners", (int)(e - b), b, name);
			return -1;
		}
		if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
			snprintf(msg, msglen, "'%.*s': an advertised host "
				 "must be an address clients can reach",
				 (int)(e - b), b);
			return -1;
		}
		snprintf(l->adv_host, sizeof(l->adv_host), "%s", host);
		l->adv_port = port;
	}
	*key = NULL;
	return 0;
}

const struct fmq_listener *
fmq_listeners_by_port(const struct fmq_listeners *ls, uint16_t port)
{
	for (uint32_t i = 0; i < ls->n; i++)
		if (ls->l[i].port == port)
			return &ls->l[i];
	return NULL;
}
