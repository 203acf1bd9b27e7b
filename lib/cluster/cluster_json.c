/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka's znode JSON (the few shapes ZooKeeper mode writes), the
 * zookeeper.connect syntax and Kafka's replica assignment rule.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include "cluster_priv.h"

#define CL_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ------------------------------------------------------------ connect */

int
fmq_cluster_parse_connect(const char *s, char *hosts, size_t hlen,
			  char *chroot, size_t clen, char *msg, size_t msglen)
{
	const char *slash = strchr(s, '/');
	size_t hl = slash != NULL ? (size_t)(slash - s) : strlen(s), n = 0;
	char buf[FMQ_CLUSTER_CONNECT_MAX];

	if (hl == 0) {
		snprintf(msg, msglen, "no ZooKeeper server in '%s'", s);
		return -1;
	}
	if (hl >= sizeof(buf)) {
		snprintf(msg, msglen, "too long");
		return -1;
	}
	memcpy(buf, s, hl);
	buf[hl] = '\0';
	/* Each entry host:port. A name is looked up here, once (start-up):
	 * the client gets numeric addresses and never resolves again. */
	for (char *save = NULL, *e = strtok_r(buf, ",", &save); e != NULL;
	     e = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(e, ':'), *end, ip[INET_ADDRSTRLEN];
		struct in_addr a;
		long port;

		while (*e == ' ')
			e++;
		if (colon == NULL) {
			snprintf(msg, msglen, "'%s' has no port (host:port)", e);
			return -1;
		}
		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || end == colon + 1 || port < 1 ||
		    port > 65535) {
			snprintf(msg, msglen, "bad port '%s'", colon + 1);
			return -1;
		}
		if (inet_pton(AF_INET, e, &a) != 1) {
			struct addrinfo hint = { .ai_family = AF_INET }, *r;
			if (getaddrinfo(e, NULL, &hint, &r) != 0 || r == NULL) {
				snprintf(msg, msglen, "cannot resolve '%s' "
					 "(IPv4)", e);
				return -1;
			}
			a = ((struct sockaddr_in *)r->ai_addr)->sin_addr;
			freeaddrinfo(r);
		}
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		int w = snprintf(hosts + n, hlen - n, "%s%s:%ld", n ? "," : "",
				 ip, port);
		if (w < 0 || (size_t)w >= hlen - n) {
			snprintf(msg, msglen, "too long");
			return -1;
		}
		n += (size_t)w;
	}
	chroot[0] = '\0';
	if (slash != NULL) {
		size_t cl = strlen(slash);

		while (cl > 0 && slash[cl - 1] == '/')
			cl--;     /* "/" alone or a trailing slash: none */
		if (cl >= clen) {
			snprintf(msg, msglen, "chroot too long");
			return -1;
		}
		for (size_t i = 0; i < cl; i++) {
			char c = slash[i];
			if (c == '/' && i > 0 && slash[i - 1] == '/') {
				snprintf(msg, msglen, "empty chroot component");
				return -1;
			}
			if (!(c == '/' || c == '_' || c == '-' || c == '.' ||
			      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9'))) {
				snprintf(msg, msglen, "chroot '%s': only "
					 "[A-Za-z0-9._-] and /", slash);
				return -1;
			}
		}
		memcpy(chroot, slash, cl);
		chroot[cl] = '\0';
	}
	return 0;
}

/* --------------------------------------------------------------- JSON */

/* The value after "key": at the top level of an object (depth 1), or
 * NULL. Strings are skipped whole, so a key inside a string never
 * matches. */
const char *
cl_json_find(const char *j, size_t len, const char *key)
{
	size_t kl = strlen(key);
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = j[i];

		if (c == '"') {
			size_t s = i + 1, e = s;
			while (e < len && j[e] != '"') {
				if (j[e] == '\\')
					e++;
				e++;
			}
			if (e >= len)
				return NULL;
			i = e;
			if (depth != 1 || e - s != kl ||
			    memcmp(j + s, key, kl) != 0)
				continue;
			size_t k = e + 1;
			while (k < len && (j[k] == ' ' || j[k] == '\t' ||
					   j[k] == '\n' || j[k] == '\r'))
				k++;
			if (k >= len || j[k] != ':')
				continue;
			k++;
			while (k < len && (j[k] == ' ' || j[k] == '\t' ||
					   j[k] == '\n' || j[k] == '\r'))
				k++;
			return k < len ? j + k : NULL;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
	}
	return NULL;
}

/* An integer (bare or quoted, as Kafka writes timestamps) at p. */
int
cl_json_int(const char *p, const char *end, int64_t *v)
{
	char buf[32];
	size_t n = 0;

	if (p == NULL)
		return -1;
	if (p < end && *p == '"')
		p++;
	while (p < end && n < sizeof(buf) - 1 &&
	       ((*p >= '0' && *p <= '9') || (*p == '-' && n == 0)))
		buf[n++] = *p++;
	buf[n] = '\0';
	if (n == 0 || (n == 1 && buf[0] == '-'))
		return -1;
	*v = strtoll(buf, NULL, 10);
	return 0;
}

/* A string at p (no escapes beyond \" and \\ kept verbatim). Returns
 * the position after it, or NULL. null gives "". */
const char *
cl_json_str(const char *p, const char *end, char *out, size_t len)
{
	size_t n = 0;

	if (p == NULL || p >= end)
		return NULL;
	if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
		out[0] = '\0';
		return p + 4;
	}
	if (*p != '"')
		return NULL;
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		if (n + 1 >= len)
			return NULL;
		out[n++] = *p;
	}
	if (p >= end)
		return NULL;
	out[n] = '\0';
	return p + 1;
}

/* An array of integers at p; returns the count (at most max) or -1. */
int
cl_json_int_array(const char *p, const char *end, int32_t *out, int max)
{
	int n = 0;

	if (p == NULL || p >= end || *p != '[')
		return -1;
	for (p++; p < end;) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p < end && *p == ']')
			return n;
		int64_t v;
		if (n >= max || cl_json_int(p, end, &v) < 0)
			return -1;
		out[n++] = (int32_t)v;
		while (p < end && ((*p >= '0' && *p <= '9') || *p == '-'))
			p++;
	}
	return -1;
}

/* "NAME://host:port" into ep (proto filled by the caller). */
static int
parse_endpoint(const char *s, struct fmq_cluster_ep *ep)
{
	const char *sep = strstr(s, "://"), *colon;
	size_t nl;

	if (sep == NULL)
		return -1;
	nl = (size_t)(sep - s);
	if (nl == 0 || nl >= sizeof(ep->name))
		return -1;
	memcpy(ep->name, s, nl);
	ep->name[nl] = '\0';
	s = sep + 3;
	colon = strrchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof(ep->host))
		return -1;
	memcpy(ep->host, s, (size_t)(colon - s));
	ep->host[colon - s] = '\0';
	long port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port > 65535)
		return -1;
	ep->port = (uint16_t)port;
	memcpy(ep->proto, ep->name, CL_MIN(sizeof(ep->proto) - 1, nl));
	ep->proto[CL_MIN(sizeof(ep->proto) - 1, nl)] = '\0';
	return 0;
}

int
fmq_cluster_broker_json(const struct fmq_cluster_opts *o, int64_t now_ms,
			char *out, size_t len)
{
	const struct fmq_cluster_ep *plain = NULL;
	size_t n = 0;
	int w;

#define PUT(...) do { \
		w = snprintf(out + n, len - n, __VA_ARGS__); \
		if (w < 0 || (size_t)w >= len - n) \
			return -1; \
		n += (size_t)w; \
	} while (0)

	for (uint32_t i = 0; i < o->nep; i++)
		if (strcmp(o->ep[i].proto, "PLAINTEXT") == 0 && plain == NULL)
			plain = &o->ep[i];
	PUT("{\"features\":{},\"listener_security_protocol_map\":{");
	for (uint32_t i = 0; i < o->nep; i++)
		PUT("%s\"%s\":\"%s\"", i ? "," : "", o->ep[i].name,
		    o->ep[i].proto);
	PUT("},\"endpoints\":[");
	for (uint32_t i = 0; i < o->nep; i++)
		PUT("%s\"%s://%s:%u\"", i ? "," : "", o->ep[i].name,
		    o->ep[i].host, o->ep[i].port);
	PUT("],\"jmx_port\":-1,");
	if (plain != NULL)
		PUT("\"port\":%u,\"host\":\"%s\",", plain->port, plain->host);
	else
		PUT("\"port\":-1,\"host\":null,");
	PUT("\"version\":5,\"timestamp\":\"%" PRId64 "\"", now_ms);
	if (o->rack != NULL && o->rack[0] != '\0')
		PUT(",\"rack\":\"%s\"", o->rack);
	PUT("}");
#undef PUT
	return (int)n;
}

int
fmq_cluster_broker_parse(const char *json, size_t len,
			 struct fmq_cluster_broker *b)
{
	const char *end = json + len, *p;
	char buf[FMQ_CLUSTER_HOST_MAX + 48];

	b->nep = 0;
	b->rack[0] = '\0';
	p = cl_json_find(json, len, "endpoints");
	if (p != NULL && p < end && *p == '[') {
		for (p++; p < end && *p != ']';) {
			while (p < end && (*p == ' ' || *p == ','))
				p++;
			if (p < end && *p == ']')
				break;
			p = cl_json_str(p, end, buf, sizeof(buf));
			if (p == NULL)
				return -1;
			if (b->nep < FMQ_CLUSTER_MAX_EP &&
			    parse_endpoint(buf, &b->ep[b->nep]) == 0)
				b->nep++;
		}
	}
	/* The protocol of each listener name, when the map is there. */
	p = cl_json_find(json, len, "listener_security_protocol_map");
	for (uint32_t i = 0; p != NULL && i < b->nep; i++) {
		const char *q = strstr(p, b->ep[i].name);
		if (q != NULL && q < end && q[-1] == '"' &&
		    q[strlen(b->ep[i].name)] == '"') {
			q += strlen(b->ep[i].name) + 1;
			while (q < end && (*q == ':' || *q == ' '))
				q++;
			if (cl_json_str(q, end, b->ep[i].proto,
					sizeof(b->ep[i].proto)) == NULL)
				return -1;
		}
	}
	if (b->nep == 0) {
		/* Version 1-2: host and port only. */
		int64_t port;
		p = cl_json_find(json, len, "host");
		if (cl_json_str(p, end, b->ep[0].host,
				sizeof(b->ep[0].host)) == NULL ||
		    cl_json_int(cl_json_find(json, len, "port"), end,
				&port) < 0 || port < 0 || port > 65535)
			return -1;
		b->ep[0].port = (uint16_t)port;
		snprintf(b->ep[0].name, sizeof(b->ep[0].name), "PLAINTEXT");
		snprintf(b->ep[0].proto, sizeof(b->ep[0].proto), "PLAINTEXT");
		b->nep = 1;
	}
	p = cl_json_find(json, len, "rack");
	if (p != NULL && cl_json_str(p, end, b->rack, sizeof(b->rack)) == NULL)
		return -1;
	return 0;
}

int
fmq_cluster_config_parse(const char *json, struct fmq_cluster_kv *kv, int max)
{
	size_t len = strlen(json);
	const char *end = json + len, *p = cl_json_find(json, len, "config");
	int n = 0;

	if (p == NULL || *p != '{')
		return -1;
	for (p++; p < end && *p != '}';) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p < end && *p == '}')
			break;
		if (n >= max)
			return -1;
		p = cl_json_str(p, end, kv[n].key, sizeof(kv[n].key));
		if (p == NULL)
			return -1;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		p = cl_json_str(p, end, kv[n].val, sizeof(kv[n].val));
		if (p == NULL)
			return -1;
		n++;
	}
	return n;
}

/* --------------------------------------------------------- assignment */

static int
cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static uint32_t
rnd(uint32_t n)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)fmq_now_ns();
	return n > 0 ? r % n : 0;
}

/* Kafka's replicaIndex: where the j-th follower of first goes. */
static uint32_t
replica_index(uint32_t first, uint32_t shift, uint32_t j, uint32_t n)
{
	uint32_t s = 1 + (shift + j) % (n - 1);

	return (first + s) % n;
}

int
fmq_cluster_assign(const int32_t *ids, const char *const *racks,
		   uint32_t nb, uint32_t nparts, uint32_t rf,
		   uint32_t first_part, int start_index, int shift,
		   int32_t *out)
{
	int32_t *list;
	const char **lrack;
	uint32_t nracks = 0;
	bool aware = racks != NULL && nb > 0;

	if (rf < 1 || rf > nb)
		return -1;
	for (uint32_t i = 0; aware && i < nb; i++)
		if (racks[i] == NULL || racks[i][0] == '\0')
			aware = false;
	list = malloc(nb * sizeof(*list));
	lrack = malloc(nb * sizeof(*lrack));
	if (list == NULL || lrack == NULL) {
		free(list);
		free(lrack);
		return -1;
	}
	if (!aware) {
		memcpy(list, ids, nb * sizeof(*list));
		qsort(list, nb, sizeof(*list), cmp_i32);
		for (uint32_t i = 0; i < nb; i++)
			lrack[i] = "";
		nracks = 1;
	} else {
		/* getRackAlternatedBrokerList: racks in name order, each
		 * rack's brokers by id, taken one rack at a time. */
		const char **rk = malloc(nb * sizeof(*rk));
		int32_t *sorted = malloc(nb * sizeof(*sorted));
		uint32_t *taken = calloc(nb, sizeof(*taken));
		if (rk == NULL || sorted == NULL || taken == NULL) {
			free(rk); free(sorted); free(taken);
			free(list); free(lrack);
			return -1;
		}
		for (uint32_t i = 0; i < nb; i++) {
			uint32_t k = 0;
			while (k < nracks && strcmp(rk[k], racks[i]) != 0)
				k++;
			if (k == nracks)
				rk[nracks++] = racks[i];
		}
		for (uint32_t a = 1; a < nracks; a++)   /* sort rack names */
			for (uint32_t b = a; b > 0 &&
			     strcmp(rk[b - 1], rk[b]) > 0; b--) {
				const char *t = rk[b];
				rk[b] = rk[b - 1];
				rk[b - 1] = t;
			}
		memcpy(sorted, ids, nb * sizeof(*sorted));
		qsort(sorted, nb, sizeof(*sorted), cmp_i32);
		uint32_t n = 0, ri = 0;
		while (n < nb) {
			/* next broker of rack rk[ri] not taken yet */
			uint32_t seen = 0;
			for (uint32_t s = 0; s < nb; s++) {
				uint32_t orig = 0;
				while (ids[orig] != sorted[s])
					orig++;
				if (strcmp(racks[orig], rk[ri]) != 0)
					continue;
				if (seen++ < taken[ri])
					continue;
				list[n] = sorted[s];
				lrack[n] = racks[orig];
				n++;
				taken[ri]++;
				break;
			}
			ri = (ri + 1) % nracks;
		}
		free(rk);
		free(sorted);
		free(taken);
	}
	uint32_t start = start_index >= 0 ? (uint32_t)start_index % nb :
		rnd(nb);
	uint32_t sh = shift >= 0 ? (uint32_t)shift : rnd(nb);
	for (uint32_t i = 0; i < nparts; i++) {
		uint32_t p = first_part + i;
		int32_t *rep = out + (size_t)i * rf;

		if (p > 0 && p % nb == 0)
			sh++;
		uint32_t first = (p + start) % nb;
		rep[0] = list[first];
		if (!aware) {
			for (uint32_t j = 0; j + 1 < rf; j++)
				rep[j + 1] = list[replica_index(first, sh, j,
								nb)];
			continue;
		}
		uint32_t got = 1, k = 0;
		while (got < rf) {
			uint32_t bi = replica_index(first, sh * nracks, k++,
						    nb);
			int32_t b = list[bi];
			bool rack_used = false, broker_used = false;
			uint32_t racks_used = 0;
			for (uint32_t x = 0; x < got; x++) {
				uint32_t y = 0;
				while (list[y] != rep[x])
					y++;
				if (strcmp(lrack[y], lrack[bi]) == 0)
					rack_used = true;
				if (rep[x] == b)
					broker_used = true;
				bool first_of_rack = true;
				for (uint32_t z = 0; z < x; z++) {
					uint32_t w = 0;
					while (list[w] != rep[z])
						w++;
					if (strcmp(lrack[w], lrack[y]) == 0)
						first_of_rack = false;
				}
				racks_used += first_of_rack;
			}
			if ((!rack_used || racks_used == nracks) &&
			    (!broker_used || got == nb))
				rep[got++] = b;
		}
	}
	free(list);
	free(lrack);
	return 0;
}
