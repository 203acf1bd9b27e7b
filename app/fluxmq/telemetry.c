/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FluxMQ's own commands in DPDK telemetry, next to the EAL's and ethdev's,
 * so dpdk-telemetry.py (-f <file prefix>) shows the broker:
 *
 *   /fluxmq/info                       version, node, uptime, counts
 *   /fluxmq/lcores                     per data lcore: polls, cycles, packets
 *   /fluxmq/topics                     topic names
 *   /fluxmq/partitions,<topic>         per partition: owner lcore, offsets, size
 *
 * Callbacks run on the EAL's telemetry thread. Per-lcore counters are
 * single-writer words read as /metrics reads them; the topic and partition
 * view is a copy the control lcore refreshes every second
 * (app_telemetry_tick), handed over under a mutex (neither side is a data
 * path). Telemetry dictionary keys allow only [A-Za-z0-9_/] and replies are
 * capped at 16 KiB, so partitions come as parallel arrays, at most
 * TEL_MAX_PARTS per reply.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "app.h"
#include "version.h"

#define TEL_MAX_TOPICS 512     /* RTE_TEL_MAX_ARRAY_ENTRIES */
#define TEL_MAX_PARTS 200      /* five u64 arrays fit a 16 KiB reply */

struct tel_part {
	uint32_t topic;           /* index in names */
	uint32_t partition;
	uint16_t lcore;
	int64_t start, end;
	uint64_t size;
};

static struct {
	pthread_mutex_t mu;
	struct app *a;
	char (*names)[FMQ_TOPIC_NAME_MAX + 1];
	uint32_t ntopics;
	struct tel_part *parts;
	uint32_t nparts;
	uint64_t next_ns;
	uint64_t refreshes;
} tel = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* ---------------------------------------------------------------- refresh */

struct fill {
	struct tel_part *parts;
	uint32_t n, cap;
	char (*names)[FMQ_TOPIC_NAME_MAX + 1];
	uint32_t nt, cap_t;
	bool nomem;
};

static void
fill_part(void *arg, const struct fmq_topic *t, uint32_t p, const char *dir,
	  const struct fmq_log_part *part)
{
	struct fill *f = arg;
	struct tel_part *tp;

	(void)dir;
	if (f->nomem)
		return;
	if (f->nt == 0 || strcmp(f->names[f->nt - 1], t->name) != 0) {
		if (f->nt == f->cap_t) {
			uint32_t cap = f->cap_t ? f->cap_t * 2 : 64;
			void *n = realloc(f->names, cap * sizeof(*f->names));

			if (n == NULL) {
				f->nomem = true;
				return;
			}
			f->names = n;
			f->cap_t = cap;
		}
		snprintf(f->names[f->nt++], sizeof(f->names[0]), "%s", t->name);
	}
	if (f->n == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 256;
		void *n = realloc(f->parts, cap * sizeof(*f->parts));

		if (n == NULL) {
			f->nomem = true;
			return;
		}
		f->parts = n;
		f->cap = cap;
	}
	tp = &f->parts[f->n++];
	memset(tp, 0, sizeof(*tp));
	tp->topic = f->nt - 1;
	tp->partition = p;
	tp->lcore = t->owner[p];
	tp->start = tp->end = -1;
	if (part != NULL) {
		struct fmq_log_part_stats s;

		fmq_log_part_stats(part, &s);
		tp->start = s.log_start;
		tp->end = s.log_end;
		tp->size = s.size_bytes;
	}
}

void
app_telemetry_tick(struct app *a, uint64_t now_ns)
{
	struct fill f = { 0 };
	void *old_parts, *old_names;

	if (a->ctrl == NULL || now_ns < tel.next_ns)
		return;
	tel.next_ns = now_ns + 1000000000ull;
	/* Build a new view outside the lock, then swap it in; a failed
	 * build keeps the old one. */
	fmq_ctrl_visit_partitions(a->ctrl, fill_part, &f);
	if (f.nomem) {
		free(f.parts);
		free(f.names);
		return;
	}
	pthread_mutex_lock(&tel.mu);
	old_parts = tel.parts;
	old_names = tel.names;
	tel.parts = f.parts;
	tel.names = f.names;
	tel.nparts = f.n;
	tel.ntopics = f.nt;
	tel.refreshes++;
	pthread_mutex_unlock(&tel.mu);
	free(old_parts);
	free(old_names);
}

/* --------------------------------------------------------------- commands */

static int
cmd_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct app *a = tel.a;
	uint32_t nt, np;

	(void)cmd;
	(void)params;
	pthread_mutex_lock(&tel.mu);
	nt = tel.ntopics;
	np = tel.nparts;
	pthread_mutex_unlock(&tel.mu);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", FMQ_VERSION);
	rte_tel_data_add_dict_string(d, "commit", FMQ_COMMIT);
	rte_tel_data_add_dict_u64(d, "node_id", (uint64_t)a->cfg.node_id);
	rte_tel_data_add_dict_string(d, "cluster_id", a->cluster_id);
	rte_tel_data_add_dict_u64(d, "uptime_s",
				  (fmq_now_ns() - a->start_ns) / 1000000000ull);
	rte_tel_data_add_dict_u64(d, "data_lcores", a->n_data);
	rte_tel_data_add_dict_u64(d, "topics", nt);
	rte_tel_data_add_dict_u64(d, "partitions", np);
	rte_tel_data_add_dict_u64(d, "healthy", atomic_load(&a->healthy));
	return 0;
}

/* One u64 array per lcore counter. */
#define LCORE_FIELDS(X) \
	X(lcore_id, lcore_id) \
	X(polls, polls) \
	X(busy_cycles, busy_cycles) \
	X(idle_cycles, idle_cycles) \
	X(rx_packets, rx_pkts) \
	X(sleeps, sleeps) \
	X(steered_in, steered_in) \
	X(steered_out, steered_out)

static int
cmd_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct app *a = tel.a;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
#define X(name, field) do { \
		struct rte_tel_data *arr = rte_tel_data_alloc(); \
		if (arr == NULL) \
			return -ENOMEM; \
		rte_tel_data_start_array(arr, RTE_TEL_U64_VAL); \
		for (unsigned int i = 0; i < a->n_data; i++) \
			rte_tel_data_add_array_u64(arr, \
				(uint64_t)a->data[i].field); \
		rte_tel_data_add_dict_container(d, #name, arr, 0); \
	} while (0);
	LCORE_FIELDS(X)
#undef X
	return 0;
}

static int
cmd_topics(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&tel.mu);
	for (uint32_t i = 0; i < tel.ntopics && i < TEL_MAX_TOPICS; i++)
		rte_tel_data_add_array_string(d, tel.names[i]);
	pthread_mutex_unlock(&tel.mu);
	return 0;
}

static int
cmd_partitions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const keys[] = { "partition", "lcore",
		"log_start_offset", "log_end_offset", "size_bytes" };
	struct rte_tel_data *arr[RTE_DIM(keys)];
	uint32_t t = UINT32_MAX, shown = 0, total = 0;

	(void)cmd;
	if (params == NULL || params[0] == '\0')
		return -EINVAL;     /* the topic is required */
	for (unsigned int k = 0; k < RTE_DIM(keys); k++) {
		arr[k] = rte_tel_data_alloc();
		if (arr[k] == NULL) {
			while (k-- > 0)
				rte_tel_data_free(arr[k]);
			return -ENOMEM;
		}
		rte_tel_data_start_array(arr[k], RTE_TEL_U64_VAL);
	}
	pthread_mutex_lock(&tel.mu);
	for (uint32_t i = 0; i < tel.ntopics; i++)
		if (strcmp(tel.names[i], params) == 0)
			t = i;
	for (uint32_t i = 0; t != UINT32_MAX && i < tel.nparts; i++) {
		const struct tel_part *p = &tel.parts[i];

		if (p->topic != t)
			continue;
		total++;
		if (shown == TEL_MAX_PARTS)
			continue;
		shown++;
		rte_tel_data_add_array_u64(arr[0], p->partition);
		rte_tel_data_add_array_u64(arr[1], p->lcore);
		rte_tel_data_add_array_u64(arr[2], (uint64_t)RTE_MAX(p->start, 0));
		rte_tel_data_add_array_u64(arr[3], (uint64_t)RTE_MAX(p->end, 0));
		rte_tel_data_add_array_u64(arr[4], p->size);
	}
	pthread_mutex_unlock(&tel.mu);
	if (t == UINT32_MAX) {
		for (unsigned int k = 0; k < RTE_DIM(keys); k++)
			rte_tel_data_free(arr[k]);
		return -ENOENT;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "topic", params);
	rte_tel_data_add_dict_u64(d, "partitions", total);
	rte_tel_data_add_dict_u64(d, "shown", shown);
	for (unsigned int k = 0; k < RTE_DIM(keys); k++)
		rte_tel_data_add_dict_container(d, keys[k], arr[k], 0);
	return 0;
}

void
app_telemetry_init(struct app *a)
{
	tel.a = a;
	rte_telemetry_register_cmd("/fluxmq/info", cmd_info,
		"FluxMQ version, node, uptime, topic and partition counts. "
		"No parameters.");
	rte_telemetry_register_cmd("/fluxmq/lcores", cmd_lcores,
		"Per data lcore counters (parallel arrays). No parameters.");
	rte_telemetry_register_cmd("/fluxmq/topics", cmd_topics,
		"Topic names (refreshed every second). No parameters.");
	rte_telemetry_register_cmd("/fluxmq/partitions", cmd_partitions,
		"A topic's partitions: owner lcore, log start and end "
		"offsets, size (parallel arrays, first 200). Parameter: topic.");
}

void
app_telemetry_fini(void)
{
	pthread_mutex_lock(&tel.mu);
	free(tel.parts);
	free(tel.names);
	tel.parts = NULL;
	tel.names = NULL;
	tel.nparts = tel.ntopics = 0;
	pthread_mutex_unlock(&tel.mu);
}
