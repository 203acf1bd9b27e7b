/* SPDX-License-Identifier: Apache-2.0 */
/* Topic metadata snapshots: build, look up, publish, reclaim. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "broker_priv.h"

static inline uint32_t
name_hash(const char *s, uint32_t len)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

struct fmq_bmeta *
fmq_bmeta_alloc(uint32_t ntopics)
{
	struct fmq_bmeta *m = calloc(1, sizeof(*m));
	uint32_t cap = 16;

	if (m == NULL)
		return NULL;
	while (cap < ntopics * 2)
		cap <<= 1;
	m->ntopics = ntopics;
	m->topics = calloc(ntopics ? ntopics : 1, sizeof(*m->topics));
	m->hash = malloc(cap * sizeof(*m->hash));
	m->id_hash = malloc(cap * sizeof(*m->id_hash));
	m->hash_mask = cap - 1;
	if (m->topics == NULL || m->hash == NULL || m->id_hash == NULL) {
		fmq_bmeta_free(m);
		return NULL;
	}
	return m;
}

int
fmq_bmeta_alloc_parts(struct fmq_bmeta *m, uint32_t i, uint32_t nparts)
{
	m->topics[i].parts = calloc(nparts ? nparts : 1,
				    sizeof(*m->topics[i].parts));
	if (m->topics[i].parts == NULL)
		return -ENOMEM;
	m->topics[i].nparts = nparts;
	return 0;
}

const struct fmq_bbroker *
fmq_bmeta_broker(const struct fmq_bmeta *m, int32_t id)
{
	for (uint32_t i = 0; i < m->nbrokers; i++)
		if (m->brokers[i].id == id)
			return &m->brokers[i];
	return NULL;
}

void
fmq_bmeta_free(struct fmq_bmeta *m)
{
	if (m == NULL)
		return;
	if (m->topics != NULL)
		for (uint32_t i = 0; i < m->ntopics; i++)
			free(m->topics[i].parts);
	free(m->topics);
	free(m->hash);
	free(m->id_hash);
	free(m->brokers);
	free(m->ids);
	fmq_sec_snap_put(m->sec);
	free(m);
}

static bool
id_zero(const uint8_t id[16])
{
	static const uint8_t zero[16];

	return memcmp(id, zero, sizeof(zero)) == 0;
}

static void
bmeta_index(struct fmq_bmeta *m)
{
	memset(m->hash, 0xff, (m->hash_mask + 1) * sizeof(*m->hash));
	memset(m->id_hash, 0xff, (m->hash_mask + 1) * sizeof(*m->id_hash));
	for (uint32_t i = 0; i < m->ntopics; i++) {
		struct fmq_btopic *t = &m->topics[i];
		t->name_len = (uint16_t)strnlen(t->name, sizeof(t->name));
		uint32_t h = name_hash(t->name, t->name_len) & m->hash_mask;
		while (m->hash[h] >= 0)
			h = (h + 1) & m->hash_mask;
		m->hash[h] = (int32_t)i;
		if (id_zero(t->id))
			continue;
		h = name_hash((const char *)t->id, 16) & m->hash_mask;
		while (m->id_hash[h] >= 0)
			h = (h + 1) & m->hash_mask;
		m->id_hash[h] = (int32_t)i;
	}
}

const struct fmq_btopic *
fmq_bmeta_find_id(const struct fmq_bmeta *m, const uint8_t id[16])
{
	uint32_t h;

	if (m == NULL || id_zero(id))
		return NULL;
	h = name_hash((const char *)id, 16) & m->hash_mask;
	while (m->id_hash[h] >= 0) {
		const struct fmq_btopic *t = &m->topics[m->id_hash[h]];
		if (memcmp(t->id, id, 16) == 0)
			return t;
		h = (h + 1) & m->hash_mask;
	}
	return NULL;
}

const struct fmq_btopic *
fmq_bmeta_find(const struct fmq_bmeta *m, const char *name, uint32_t len)
{
	uint32_t h;

	if (m == NULL || len > FMQ_BROKER_TOPIC_MAX)
		return NULL;
	h = name_hash(name, len) & m->hash_mask;
	while (m->hash[h] >= 0) {
		const struct fmq_btopic *t = &m->topics[m->hash[h]];
		if (t->name_len == len && memcmp(t->name, name, len) == 0)
			return t;
		h = (h + 1) & m->hash_mask;
	}
	return NULL;
}

void
fmq_broker_publish(struct fmq_broker *b, struct fmq_bmeta *m)
{
	struct fmq_bmeta *old;

	bmeta_index(m);
	m->version = ++b->version;
	old = atomic_exchange_explicit(&b->meta, m, memory_order_acq_rel);
	if (old != NULL) {
		old->next_old = b->old;
		b->old = old;
	}
}

const struct fmq_bmeta *
fmq_broker_meta(const struct fmq_broker *b)
{
	return broker_meta_load(b);
}

/* Oldest snapshot version any data lcore may still be using. */
static uint64_t
min_seen(const struct fmq_broker *b)
{
	uint64_t v = b->version;

	for (unsigned int i = 0; i < b->n_lcores; i++) {
		if (b->lc[i] == NULL)
			continue;
		uint64_t s = atomic_load_explicit(
			&((struct fmq_broker *)b)->seen[i].v,
			memory_order_acquire);
		if (s < v)
			v = s;
	}
	return v;
}

bool
fmq_broker_all_current(const struct fmq_broker *b)
{
	return min_seen(b) >= b->version;
}

bool
fmq_broker_reclaim(struct fmq_broker *b)
{
	uint64_t v = min_seen(b);
	struct fmq_bmeta **pp = &b->old;

	/* A lcore that polled with version v no longer holds anything older. */
	while (*pp != NULL) {
		struct fmq_bmeta *m = *pp;
		if (m->version < v) {
			*pp = m->next_old;
			fmq_bmeta_free(m);
		} else {
			pp = &m->next_old;
		}
	}
	return b->old == NULL;
}
