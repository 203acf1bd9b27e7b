/* SPDX-License-Identifier: Apache-2.0 */
/* The only place lib/log reads struct fmq_config, and live settings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log_priv.h"

void
fmq_log_params_from_config(struct fmq_log_params *p,
			   const struct fmq_config *cfg, uint32_t nb_lcores,
			   uint32_t max_partitions)
{
	memset(p, 0, sizeof(*p));
	p->hot_dir = cfg->log_hot_dir;
	p->hot_pool_bytes = cfg->log_hot_pool_bytes;
	p->hot_chunk_bytes = (uint32_t)cfg->log_hot_chunk_bytes;
	p->nb_lcores = nb_lcores;
	p->max_partitions = max_partitions;
	p->register_extmem = true;
	p->codec_max_input = (uint32_t)cfg->message_max_bytes;
	p->codec_max_output = (uint32_t)RTE_MIN(cfg->log_decompress_max_ratio *
						cfg->message_max_bytes,
						(uint64_t)UINT32_MAX >> 1);
	p->gzip_level = (int)cfg->compression_gzip_level;
	p->zstd_level = (int)cfg->compression_zstd_level;
	p->lz4_level = (int)cfg->compression_lz4_level;
	p->producer_state_max = (uint32_t)cfg->log_producer_state_max;
	p->producer_expiration_ms = cfg->producer_id_expiration_ms;
}

/* The n-th comma-separated entry of list, trimmed, into buf. */
static bool
list_nth(const char *list, unsigned int n, char *buf, size_t len)
{
	const char *s = list;

	for (unsigned int i = 0; i < n; i++) {
		s = strchr(s, ',');
		if (s == NULL)
			return false;
		s++;
	}
	while (*s == ' ')
		s++;
	size_t k = strcspn(s, ",");
	while (k > 0 && s[k - 1] == ' ')
		k--;
	if (k == 0 || k >= len)
		return false;
	memcpy(buf, s, k);
	buf[k] = '\0';
	return true;
}

/*
 * Topic-level defaults (cleanup.policy and the compaction keys), read from
 * the topic key table: a partition opened through the control lcore gets
 * its topic's values instead (ctrl_core.c), one opened directly (tests,
 * tools) these.
 */
enum {
#define FMQ_TCFG(field, name, type, dflt, limits, doc) TD_##field,
#include "keys/topic.def"
#undef FMQ_TCFG
};
static const char *const tcfg_dflt[] = {
#define FMQ_TCFG(field, name, type, dflt, limits, doc) dflt,
#include "keys/topic.def"
#undef FMQ_TCFG
};

/* The broker keys a partition takes (message.max.bytes, log.*, validation). */
static void
part_from_broker(struct fmq_log_part_params *pp, const struct fmq_config *cfg)
{
	pp->max_message_bytes = (uint32_t)cfg->message_max_bytes;
	pp->segment_bytes = cfg->log_segment_bytes;
	pp->roll_ms = cfg->log_roll_ms;
	pp->index_interval_bytes = (uint32_t)cfg->log_index_interval_bytes;
	pp->index_max_bytes = (uint32_t)cfg->log_index_size_max_bytes;
	pp->hot_bytes = cfg->log_hot_bytes;
	pp->flush_messages = cfg->log_flush_interval_messages;
	pp->flush_ms = cfg->log_flush_interval_ms;
	pp->retention_ms = cfg->log_retention_ms;
	pp->retention_bytes = cfg->log_retention_bytes;
	pp->log_append_time =
		strcmp(cfg->message_timestamp_type, "LogAppendTime") == 0;
	pp->compression = FMQ_LOG_COMPRESSION_PRODUCER;
	pp->deep_validation = strcmp(cfg->validation, "deep") == 0;
}

static void
part_from_topic_defaults(struct fmq_log_part_params *pp)
{
	const char *pol = tcfg_dflt[TD_cleanup_policy];

	pp->cleanup = (strstr(pol, "delete") != NULL ?
		       FMQ_LOG_CLEANUP_DELETE : 0) |
		      (strstr(pol, "compact") != NULL ?
		       FMQ_LOG_CLEANUP_COMPACT : 0);
	pp->min_cleanable_ratio =
		strtod(tcfg_dflt[TD_min_cleanable_dirty_ratio], NULL);
	pp->min_compaction_lag_ms =
		strtoll(tcfg_dflt[TD_min_compaction_lag_ms], NULL, 10);
	pp->max_compaction_lag_ms =
		strtoll(tcfg_dflt[TD_max_compaction_lag_ms], NULL, 10);
	pp->delete_retention_ms =
		strtoll(tcfg_dflt[TD_delete_retention_ms], NULL, 10);
}

void
fmq_log_part_params_default(struct fmq_log_part_params *pp)
{
	/* About 20 KiB; tests and tools, not the broker's open path. */
	struct fmq_config cfg;

	memset(pp, 0, sizeof(*pp));
	fmq_config_defaults(&cfg);
	part_from_broker(pp, &cfg);
	part_from_topic_defaults(pp);
}

void
fmq_log_part_params_from_config(struct fmq_log_part_params *pp,
				const struct fmq_config *cfg,
				const char *topic, int32_t partition,
				uint32_t lcore, char *dir_buf)
{
	char path[PATH_MAX + 300];
	unsigned int ndirs = 0;
	struct stat st;

	memset(pp, 0, sizeof(*pp));
	part_from_topic_defaults(pp);
	pp->topic = topic;
	pp->partition = partition;
	pp->lcore = lcore;
	part_from_broker(pp, cfg);

	/* The directory that already holds the partition, else by hash. */
	while (list_nth(cfg->log_dirs, ndirs, dir_buf, FMQ_CFG_STR_MAX)) {
		snprintf(path, sizeof(path), "%s/%s-%d", dir_buf, topic,
			 partition);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			pp->dir = dir_buf;
			return;
		}
		ndirs++;
	}
	if (ndirs == 0) {
		snprintf(dir_buf, FMQ_CFG_STR_MAX, "%s", cfg->log_dirs);
	} else {
		uint64_t h = topic_hash(topic) + (uint64_t)partition;

		list_nth(cfg->log_dirs, (unsigned int)(h % ndirs), dir_buf,
			 FMQ_CFG_STR_MAX);
	}
	pp->dir = dir_buf;
}

/* Settings a running partition takes in place (Kafka applies topic config
 * changes without reopening the log). The owner reads most of them on
 * every append; the flusher and retention (control thread) read flush.*
 * and retention.*, so those are stored atomically and read the same way. */
int
fmq_log_part_set_config(struct fmq_log_part *p,
			const struct fmq_log_part_params *pp)
{
	uint32_t chunk_cap = p->log->chunk_bytes - FMQ_LOG_CHUNK_HDR;

	if (pp->max_message_bytes < RB_RECORDS ||
	    pp->max_message_bytes > chunk_cap ||
	    pp->segment_bytes < 1024 || pp->segment_bytes > INT32_MAX ||
	    pp->roll_ms <= 0 || pp->index_max_bytes < 4 * TIM_ENTRY)
		return -EINVAL;
	/* Owner-only fields: plain stores, read by the next append. A
	 * smaller segment.bytes or segment.ms rolls at the next append; a
	 * new segment.index.bytes sizes the next segment's indexes. */
	p->pp.max_message_bytes = pp->max_message_bytes;
	p->pp.segment_bytes = pp->segment_bytes;
	p->pp.roll_ms = pp->roll_ms;
	p->pp.index_interval_bytes = pp->index_interval_bytes;
	p->pp.index_max_bytes = pp->index_max_bytes;
	p->pp.log_append_time = pp->log_append_time;
	p->pp.compression = pp->compression;
	p->pp.deep_validation = pp->deep_validation;
	/* Read by the control thread's next flusher / retention pass. */
	__atomic_store_n(&p->pp.flush_messages, pp->flush_messages,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&p->pp.flush_ms, pp->flush_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pp.retention_ms, pp->retention_ms,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&p->pp.retention_bytes, pp->retention_bytes,
			 __ATOMIC_RELAXED);
	/* Read by the cleaner (control thread). */
	__atomic_store_n(&p->pp.cleanup, pp->cleanup, __ATOMIC_RELAXED);
	{
		/* clang wants a non-const source for the generic store. */
		double ratio = pp->min_cleanable_ratio;

		__atomic_store(&p->pp.min_cleanable_ratio, &ratio,
			       __ATOMIC_RELAXED);
	}
	__atomic_store_n(&p->pp.min_compaction_lag_ms,
			 pp->min_compaction_lag_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pp.max_compaction_lag_ms,
			 pp->max_compaction_lag_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pp.delete_retention_ms, pp->delete_retention_ms,
			 __ATOMIC_RELAXED);
	return 0;
}

void
fmq_log_part_get_config(const struct fmq_log_part *p,
			struct fmq_log_part_params *pp)
{
	*pp = p->pp;
	pp->flush_messages = __atomic_load_n(&p->pp.flush_messages,
					     __ATOMIC_RELAXED);
	pp->flush_ms = __atomic_load_n(&p->pp.flush_ms, __ATOMIC_RELAXED);
	pp->retention_ms = __atomic_load_n(&p->pp.retention_ms,
					   __ATOMIC_RELAXED);
	pp->retention_bytes = __atomic_load_n(&p->pp.retention_bytes,
					      __ATOMIC_RELAXED);
	pp->cleanup = __atomic_load_n(&p->pp.cleanup, __ATOMIC_RELAXED);
	__atomic_load(&p->pp.min_cleanable_ratio, &pp->min_cleanable_ratio,
		      __ATOMIC_RELAXED);
	pp->min_compaction_lag_ms = __atomic_load_n(
		&p->pp.min_compaction_lag_ms, __ATOMIC_RELAXED);
	pp->max_compaction_lag_ms = __atomic_load_n(
		&p->pp.max_compaction_lag_ms, __ATOMIC_RELAXED);
	pp->delete_retention_ms = __atomic_load_n(&p->pp.delete_retention_ms,
						  __ATOMIC_RELAXED);
}
