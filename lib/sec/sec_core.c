/* SPDX-License-Identifier: Apache-2.0 */
/* Principals, security protocol names and the security snapshot. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmq_sec.h"

int
fmq_principal_set(struct fmq_principal *p, const char *s, size_t len)
{
	if (len >= sizeof(p->name))
		return -1;
	memcpy(p->name, s, len);
	p->name[len] = '\0';
	p->len = (uint16_t)len;
	return 0;
}

int
fmq_principal_set_user(struct fmq_principal *p, const char *name, size_t len)
{
	static const char pre[] = "User:";

	if (len + sizeof(pre) - 1 >= sizeof(p->name))
		return -1;
	memcpy(p->name, pre, sizeof(pre) - 1);
	memcpy(p->name + sizeof(pre) - 1, name, len);
	p->len = (uint16_t)(len + sizeof(pre) - 1);
	p->name[p->len] = '\0';
	return 0;
}

static const char *const proto_names[] = {
	[FMQ_SEC_PLAINTEXT] = "PLAINTEXT",
	[FMQ_SEC_SSL] = "SSL",
	[FMQ_SEC_SASL_PLAINTEXT] = "SASL_PLAINTEXT",
	[FMQ_SEC_SASL_SSL] = "SASL_SSL",
};

int
fmq_sec_proto_parse(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]);
	     i++)
		if (strlen(proto_names[i]) == len &&
		    strncasecmp(proto_names[i], s, len) == 0)
			return (int)i;
	return -1;
}

const char *
fmq_sec_proto_name(enum fmq_sec_proto p)
{
	return (unsigned)p < sizeof(proto_names) / sizeof(proto_names[0]) ?
		proto_names[p] : "?";
}

void
fmq_sec_part_get(struct fmq_sec_part *p)
{
	if (p != NULL)
		p->refs++;
}

void
fmq_sec_part_put(struct fmq_sec_part *p)
{
	if (p != NULL && --p->refs == 0)
		p->destroy(p);
}

struct fmq_sec_snap *
fmq_sec_snap_new(void)
{
	struct fmq_sec_snap *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->refs = 1;
	return s;
}

/* Every part struct starts with struct fmq_sec_part. */
#define PART(x) ((struct fmq_sec_part *)(void *)(x))

struct fmq_sec_snap *
fmq_sec_snap_derive(const struct fmq_sec_snap *s)
{
	struct fmq_sec_snap *n = fmq_sec_snap_new();

	if (n == NULL || s == NULL)
		return n;
	n->scram = s->scram;
	n->acl = s->acl;
	n->quota = s->quota;
	fmq_sec_part_get(PART(n->scram));
	fmq_sec_part_get(PART(n->acl));
	fmq_sec_part_get(PART(n->quota));
	return n;
}

void
fmq_sec_snap_get(struct fmq_sec_snap *s)
{
	if (s != NULL)
		s->refs++;
}

void
fmq_sec_snap_put(struct fmq_sec_snap *s)
{
	if (s == NULL || --s->refs != 0)
		return;
	fmq_sec_part_put(PART(s->scram));
	fmq_sec_part_put(PART(s->acl));
	fmq_sec_part_put(PART(s->quota));
	free(s);
}
