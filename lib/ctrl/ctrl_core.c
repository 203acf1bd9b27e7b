/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control lcore: opens every partition at start (recovery), publishes
 * metadata snapshots to the data lcores, answers forwarded requests, runs
 * the flusher and retention, and closes replaced partitions only once no
 * data lcore can still be using them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <rte_common.h>
#include <rte_malloc.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"
#include "fmq_cluster.h"
#include "fmq_sasl.h"

#define PID_FILE "producer_ids"

/* ----------------------------------------------------------- helpers */

/* First entry of the comma-separated log.dirs. */
static void
first_log_dir(const struct fmq_config *cfg, char *out, size_t len)
{
	size_t n = strcspn(cfg->log_dirs, ",");

	if (n >= len)
		n = len - 1;
	memcpy(out, cfg->log_dirs, n);
	out[n] = '\0';
}

int
fmq_ctrl_cluster_id(const struct fmq_config *cfg, char *out, size_t len,
		    char *err, size_t errlen)
{
	char dir[FMQ_CFG_STR_MAX], path[FMQ_CFG_STR_MAX + 32], line[256];
	char id[256] = "";
	long node = -1;
	FILE *f;
	int rc;

	first_log_dir(cfg, dir, sizeof(dir));
	rc = fmq_mkdir_p(dir);
	if (rc < 0) {
		fmq_config_error(cfg, "log.dirs", err, errlen,
				 "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/meta.properties", dir);
	f = fopen(path, "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(line, "cluster.id=", 11) == 0)
				snprintf(id, sizeof(id), "%s", line + 11);
			else if (strncmp(line, "node.id=", 8) == 0)
				node = strtol(line + 8, NULL, 10);
		}
		fclose(f);
		if (id[0] == '\0') {
			snprintf(err, errlen, "%s: no cluster.id", path);
			return -EINVAL;
		}
		if (node != cfg->node_id) {
			snprintf(err, errlen, "%s: node.id=%ld but the "
				 "configuration says node.id=%" PRId64
				 " (this log belongs to another node)", path,
				 node, cfg->node_id);
			return -EINVAL;
		}
		snprintf(out, len, "%s", id);
		return 0;
	}
	uint8_t raw[16];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	raw[6] = (uint8_t)((raw[6] & 0x0f) | 0x40);
	raw[8] = (uint8_t)((raw[8] & 0x3f) | 0x80);
	fmq_topic_id_str(raw, id);
	rc = ctrl_write_meta(cfg, id, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(out, len, "%s", id);
	return 0;
}

int
ctrl_write_meta(const struct fmq_config *cfg, const char *id, char *err,
		size_t errlen)
{
	char dir[FMQ_CFG_STR_MAX], path[FMQ_CFG_STR_MAX + 32], text[256];
	int rc;

	first_log_dir(cfg, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/meta.properties", dir);
	snprintf(text, sizeof(text), "#FluxMQ\nversion=1\ncluster.id=%s\n"
		 "node.id=%" PRId64 "\n", id, cfg->node_id);
	rc = fmq_file_replace(path, 0644, text, strlen(text));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------- topics */

static unsigned int
topic_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h % 1024;
}

struct ctrl_topic *
ctrl_topic_find(struct fmq_ctrl *c, const char *name)
{
	struct ctrl_topic *t = c->hash[topic_bucket(name)];

	while (t != NULL && strcmp(t->name, name) != 0)
		t = t->next;
	return t;
}

/* Partition parameters: broker defaults, then the topic's settings. */
static void
part_params(struct fmq_ctrl *c, const struct fmq_topic *t, int32_t p,
	    struct fmq_log_part_params *pp, char *dirbuf)
{
	const struct fmq_topic_cfg *tc = &t->cfg;

	fmq_log_part_params_from_config(pp, c->cfg, t->name, p, t->owner[p],
					dirbuf);
	pp->max_message_bytes = (uint32_t)tc->max_message_bytes;
	pp->segment_bytes = (uint64_t)RTE_MAX(tc->segment_bytes, 1024);
	pp->roll_ms = tc->segment_ms;
	pp->index_interval_bytes = (uint32_t)tc->index_interval_bytes;
	pp->index_max_bytes = (uint32_t)RTE_MAX(tc->segment_index_bytes, 4096);
	pp->flush_messages = (uint64_t)tc->flush_messages;
	pp->flush_ms = (uint64_t)tc->flush_ms;
	pp->retention_ms = tc->retention_ms;
	pp->retention_bytes = tc->retention_bytes;
	pp->log_append_time = tc->message_timestamp_type == 1;
	/* compression.type producer|uncompressed|gzip|snappy|lz4|zstd as
	 * the log's codec ids (Kafka's attribute numbers). */
	static const uint8_t codec[] = { FMQ_LOG_COMPRESSION_PRODUCER, 0, 1,
					 2, 3, 4 };
	pp->compression = tc->compression_type < RTE_DIM(codec) ?
		codec[tc->compression_type] : FMQ_LOG_COMPRESSION_PRODUCER;
	pp->deep_validation = tc->validation == 1;   /* shallow|deep */
	/* cleanup.policy delete|compact|compact,delete|delete,compact */
	pp->cleanup = tc->cleanup_policy == 0 ? FMQ_LOG_CLEANUP_DELETE :
		tc->cleanup_policy == 1 ? FMQ_LOG_CLEANUP_COMPACT :
		FMQ_LOG_CLEANUP_DELETE | FMQ_LOG_CLEANUP_COMPACT;
	pp->delete_retention_ms = tc->delete_retention_ms;
	pp->min_cleanable_ratio = tc->min_cleanable_dirty_ratio;
	pp->min_compaction_lag_ms = tc->min_compaction_lag_ms;
	pp->max_compaction_lag_ms = tc->max_compaction_lag_ms;
	/* A cluster: the coordinator may be elsewhere, the leader moves. */
	pp->txn_from_log = c->cl != NULL;
}

int
ctrl_open_topic(struct fmq_ctrl *c, const struct fmq_topic *t,
		uint32_t first_part)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, t->name);
	struct fmq_log_part **parts;

	if (ct == NULL) {
		ct = calloc(1, sizeof(*ct));
		if (ct == NULL)
			return -ENOMEM;
		snprintf(ct->name, sizeof(ct->name), "%s", t->name);
		unsigned int bkt = topic_bucket(t->name);
		ct->next = c->hash[bkt];
		c->hash[bkt] = ct;
	}
	parts = realloc(ct->parts, t->nparts * sizeof(*parts));
	if (parts == NULL)
		return -ENOMEM;
	ct->parts = parts;
	for (uint32_t p = first_part; p < t->nparts; p++) {
		struct fmq_log_part_params pp;
		char dirbuf[FMQ_CFG_STR_MAX];

		if (c->cl != NULL && !ctrl_zk_hosted(c, t->name, p)) {
			ct->parts[p] = NULL;    /* another broker's */
			ct->nparts = p + 1;
			continue;
		}
		part_params(c, t, (int32_t)p, &pp, dirbuf);
		ct->parts[p] = fmq_log_part_open(c->log, &pp);
		if (ct->parts[p] == NULL) {
			int e = errno;
			FMQ_ERR("ctrl", "open %s-%u in %s: %s", t->name, p,
				dirbuf, strerror(e));
			ct->nparts = p;
			return -e;
		}
		ct->nparts = p + 1;
	}
	return 0;
}

int
ctrl_open_one(struct fmq_ctrl *c, const struct fmq_topic *t, uint32_t p)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, t->name);
	struct fmq_log_part_params pp;
	char dirbuf[FMQ_CFG_STR_MAX];

	if (ct == NULL || p >= ct->nparts || p >= t->nparts)
		return -ENOENT;
	if (ct->parts[p] != NULL)
		return 0;
	part_params(c, t, (int32_t)p, &pp, dirbuf);
	ct->parts[p] = fmq_log_part_open(c->log, &pp);
	if (ct->parts[p] == NULL) {
		int e = errno;
		FMQ_ERR("ctrl", "open %s-%u in %s: %s", t->name, p, dirbuf,
			strerror(e));
		return -e;
	}
	return 0;
}

/* Hand a partition to the deferred list: closed (or deleted) once every
 * data lcore has moved past the snapshot that still named it. */
static void
defer_close(struct fmq_ctrl *c, const char *topic, struct fmq_log_part *part,
	    bool delete_files)
{
	struct ctrl_deferred *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		FMQ_ERR("ctrl", "out of memory deferring a partition close");
		return;
	}
	d->part = part;
	snprintf(d->topic, sizeof(d->topic), "%s", topic);
	d->delete_files = delete_files;
	d->truncate_to = -1;
	d->version = UINT64_MAX;   /* set by the next publish */
	d->next = c->deferred;
	c->deferred = d;
}

void
ctrl_defer_truncate(struct fmq_ctrl *c, const char *topic, uint32_t p,
		    int64_t offset)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, topic);
	struct fmq_log_part *part;

	if (ct == NULL || p >= ct->nparts || ct->parts[p] == NULL)
		return;
	part = ct->parts[p];
	ct->parts[p] = NULL;
	defer_close(c, topic, part, false);
	c->deferred->truncate_to = offset;
	c->deferred->partition = p;
	snprintf(c->deferred->dir, sizeof(c->deferred->dir), "%s/%s-%u",
		 fmq_log_part_log_dir(part), topic, p);
	(void)ctrl_publish(c);
}

void
ctrl_drop_part(struct fmq_ctrl *c, const char *topic, uint32_t p,
	       bool delete_files)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, topic);

	if (ct == NULL || p >= ct->nparts || ct->parts[p] == NULL)
		return;
	defer_close(c, topic, ct->parts[p], delete_files);
	ct->parts[p] = NULL;
}

void
ctrl_drop_topic(struct fmq_ctrl *c, const char *name, bool delete_files)
{
	unsigned int bkt = topic_bucket(name);
	struct ctrl_topic **pp = &c->hash[bkt];

	while (*pp != NULL && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return;
	struct ctrl_topic *ct = *pp;
	*pp = ct->next;
	for (uint32_t p = 0; p < ct->nparts; p++)
		if (ct->parts[p] != NULL)
			defer_close(c, name, ct->parts[p], delete_files);
	free(ct->parts);
	free(ct);
}

static uint8_t
codec_of(uint8_t compression_idx)
{
	/* producer|uncompressed|gzip|snappy|lz4|zstd */
	static const uint8_t map[] = { FMQ_BCODEC_PRODUCER, FMQ_BCODEC_NONE,
				       FMQ_BCODEC_GZIP, FMQ_BCODEC_SNAPPY,
				       FMQ_BCODEC_LZ4, FMQ_BCODEC_ZSTD };
	return compression_idx < sizeof(map) ? map[compression_idx] :
		FMQ_BCODEC_PRODUCER;
}

int
ctrl_publish(struct fmq_ctrl *c)
{
	size_t n = fmq_topics_count(c->topics);
	struct fmq_bmeta *m = fmq_bmeta_alloc((uint32_t)n);

	if (m == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		struct ctrl_topic *ct = ctrl_topic_find(c, t->name);
		struct fmq_btopic *bt = &m->topics[i];

		if (fmq_bmeta_alloc_parts(m, (uint32_t)i, t->nparts) < 0) {
			fmq_bmeta_free(m);
			return -ENOMEM;
		}
		snprintf(bt->name, sizeof(bt->name), "%s", t->name);
		memcpy(bt->id, t->id, 16);
		bt->max_message_bytes = (uint32_t)t->cfg.max_message_bytes;
		bt->log_append_time = t->cfg.message_timestamp_type == 1;
		bt->compression = codec_of(t->cfg.compression_type);
		bt->deep_validation = t->cfg.validation == 1;
		if (t->nparts > 0) {
			/* Altered configs reach the partitions through this:
			 * each owner applies them in place (no reopen). */
			char dirbuf[FMQ_CFG_STR_MAX];
			part_params(c, t, 0, &bt->log_cfg, dirbuf);
			bt->log_cfg.dir = NULL;
			bt->log_cfg.topic = NULL;
			bt->has_log_cfg = true;
		}
		for (uint32_t p = 0; p < t->nparts; p++) {
			bt->parts[p].owner = t->owner[p];
			bt->parts[p].leader_epoch = 0;
			bt->parts[p].log = (ct != NULL && p < ct->nparts) ?
				ct->parts[p] : NULL;
		}
	}
	if (ctrl_zk_fill(c, m) < 0) {
		fmq_bmeta_free(m);
		return -ENOMEM;
	}
	if (m->nbrokers > 0 && ctrl_zk_parts(c, m) < 0) {
		fmq_bmeta_free(m);
		return -ENOMEM;
	}
	m->repl_rate[0] = c->cfg->leader_replication_throttled_rate;
	m->repl_rate[1] = c->cfg->follower_replication_throttled_rate;
	m->sec = c->sec;
	fmq_sec_snap_get(m->sec);
	fmq_broker_publish(c->b, m);
	/* Partitions dropped before this publish wait for this version. */
	for (struct ctrl_deferred *d = c->deferred; d != NULL; d = d->next)
		if (d->version == UINT64_MAX)
			d->version = m->version;
	c->st.snapshots++;
	return 0;
}

int
ctrl_sec_publish(struct fmq_ctrl *c, struct fmq_sec_snap *s)
{
	fmq_sec_snap_put(c->sec);
	c->sec = s;
	return ctrl_publish(c);
}

static void
run_deferred(struct fmq_ctrl *c, uint64_t now_ns)
{
	struct ctrl_deferred **pp = &c->deferred;
	bool current = fmq_broker_all_current(c->b);

	while (*pp != NULL) {
		struct ctrl_deferred *d = *pp;
		if (!current || d->version == UINT64_MAX) {
			pp = &d->next;
			continue;
		}
		if (d->ready_ns == 0) {
			d->ready_ns = now_ns + CTRL_CLOSE_GRACE_NS;
			pp = &d->next;
			continue;
		}
		if (now_ns < d->ready_ns) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		if (d->delete_files)
			fmq_log_part_delete(d->part);
		else
			fmq_log_part_close(d->part);
		if (d->truncate_to >= 0)
			ctrl_repl_truncated(c, d->topic, d->partition, d->dir,
					    d->truncate_to);
		free(d);
	}
}

/* ------------------------------------------------------- producer ids */

static int
pid_load(struct fmq_ctrl *c)
{
	char path[sizeof(c->dir) + 32], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", c->dir, PID_FILE);
	f = fopen(path, "r");
	c->next_pid = 0;
	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL)
			c->next_pid = strtoll(buf, NULL, 10);
		fclose(f);
	}
	/* The rest of the last block may have been handed out: skip it. */
	c->pid_limit = c->next_pid;
	return 0;
}

int64_t
ctrl_alloc_pid(struct fmq_ctrl *c)
{
	if (c->next_pid >= c->pid_limit) {
		char path[sizeof(c->dir) + 32], text[64];
		int64_t limit = c->next_pid + CTRL_PID_BLOCK;

		snprintf(path, sizeof(path), "%s/%s", c->dir, PID_FILE);
		snprintf(text, sizeof(text), "%" PRId64 "\n", limit);
		/* Persist the block end first: after a crash ids restart
		 * past it, so none is ever handed out twice. */
		if (fmq_file_replace(path, 0644, text, strlen(text)) < 0)
			return -1;
		c->pid_limit = limit;
	}
	c->st.producer_ids++;
	return c->next_pid++;
}

/* ------------------------------------------------------------ answers */

struct outbuf {
	uint8_t *chunks[64];
	uint32_t n;
};

static int
out_refill(void *arg, uint8_t **buf, size_t *cap)
{
	struct outbuf *o = arg;

	if (o->n == 64)
		return -ENOBUFS;
	o->chunks[o->n] = malloc(1 << 20);
	if (o->chunks[o->n] == NULL)
		return -ENOMEM;
	*buf = o->chunks[o->n++];
	*cap = 1 << 20;
	return 0;
}

int
ctrl_respond(struct fmq_ctrl *c, struct fmq_bfwd *f, const void *body)
{
	struct outbuf o = { .n = 0 };
	struct fmq_kafka_writer w;
	struct fmq_kafka_piece pieces[128];
	uint8_t *buf;
	size_t cap;
	int n, rc = -ENOMEM;

	(void)c;
	if (out_refill(&o, &buf, &cap) < 0)
		goto out;
	fmq_kafka_wr_init(&w, buf, cap, pieces, 128);
	fmq_kafka_wr_set_refill(&w, out_refill, &o);
	rc = fmq_kafka_write_response(&w, f->api_key, f->api_version,
				      f->correlation_id, body, NULL);
	n = fmq_kafka_wr_finish(&w);
	if (rc < 0 || n < 0) {
		rc = rc < 0 ? rc : n;
		goto out;
	}
	uint64_t total = 0;
	for (int i = 0; i < n; i++)
		total += pieces[i].len;
	rc = fmq_bfwd_resp_alloc(f, (uint32_t)total);
	if (rc < 0)
		goto out;
	uint64_t pos = 0;
	for (int i = 0; i < n; i++) {
		memcpy(f->resp + pos, pieces[i].p, pieces[i].len);
		pos += pieces[i].len;
	}
	fmq_broker_ctrl_respond(c->b, f);
	rc = 0;
out:
	for (uint32_t i = 0; i < o.n; i++)
		free(o.chunks[i]);
	if (rc < 0) {
		FMQ_ERR("ctrl", "cannot encode a response to API %d v%d: %s",
			f->api_key, f->api_version, strerror(-rc));
		ctrl_close_conn(c, f);
	}
	return rc;
}

void
ctrl_close_conn(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	rte_free(f->resp);
	f->resp = NULL;
	f->close = true;
	fmq_broker_ctrl_respond(c->b, f);
}

/* ------------------------------------------------------------- requests */

static void
handle(struct fmq_ctrl *c, struct fmq_bfwd *f)
{
	struct fmq_kafka_seg seg = { f->frame, f->len };
	struct fmq_kafka_reader r;
	struct fmq_kafka_req_hdr hdr;
	union fmq_kafka_request *req;
	int hv;

	if (f->marker != NULL) {
		ctrl_txn_marker_done(c, f);
		return;
	}
	c->st.requests++;
	fmq_kafka_arena_reset(&c->arena);
	hv = fmq_kafka_req_hdr_version(f->api_key, f->api_version);
	req = fmq_kafka_arena_alloc(&c->arena, sizeof(*req));
	if (req == NULL || hv < 0 ||
	    fmq_kafka_rd_init(&r, &seg, 1, 0, f->len) < 0 ||
	    fmq_kafka_rd_req_hdr(&r, hv, &c->arena, &hdr) < 0 ||
	    fmq_kafka_decode_request(f->api_key, f->api_version, &r, &c->arena,
				     req) < 0) {
		c->st.malformed++;
		ctrl_close_conn(c, f);
		return;
	}
	switch (f->api_key) {
	case FMQ_KAFKA_API_METADATA:
		ctrl_metadata(c, f, req);
		return;
	case FMQ_KAFKA_API_CREATE_TOPICS:
		if (c->cl != NULL)
			ctrl_zk_create_topics(c, f, req);
		else
			ctrl_create_topics(c, f, req);
		return;
	case FMQ_KAFKA_API_DELETE_TOPICS:
		if (c->cl != NULL)
			ctrl_zk_delete_topics(c, f, req);
		else
			ctrl_delete_topics(c, f, req);
		return;
	case FMQ_KAFKA_API_CREATE_PARTITIONS:
		if (c->cl != NULL)
			ctrl_zk_create_partitions(c, f, req);
		else
			ctrl_create_partitions(c, f, req);
		return;
	case FMQ_KAFKA_API_DESCRIBE_CONFIGS:
		ctrl_describe_configs(c, f, req);
		return;
	case FMQ_KAFKA_API_ALTER_CONFIGS:
		ctrl_legacy_alter_configs(c, f, req);
		return;
	case FMQ_KAFKA_API_INCREMENTAL_ALTER_CONFIGS:
		ctrl_alter_configs(c, f, req);
		return;
	case FMQ_KAFKA_API_INIT_PRODUCER_ID:
		ctrl_init_producer_id(c, f, req);
		return;
	case FMQ_KAFKA_API_DELETE_RECORDS:
		ctrl_delete_records(c, f, req);
		return;
	case FMQ_KAFKA_API_DESCRIBE_LOG_DIRS:
		ctrl_describe_log_dirs(c, f, req);
		return;
	case FMQ_KAFKA_API_DESCRIBE_CLIENT_QUOTAS:
		ctrl_describe_client_quotas(c, f, req);
		return;
	case FMQ_KAFKA_API_ALTER_CLIENT_QUOTAS:
		ctrl_alter_client_quotas(c, f, req);
		return;
	case FMQ_KAFKA_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
		ctrl_describe_scram(c, f, req);
		return;
	case FMQ_KAFKA_API_ALTER_USER_SCRAM_CREDENTIALS:
		ctrl_alter_scram(c, f, req);
		return;
	case FMQ_KAFKA_API_DESCRIBE_ACLS:
		ctrl_describe_acls(c, f, req);
		return;
	case FMQ_KAFKA_API_CREATE_ACLS:
		ctrl_create_acls(c, f, req);
		return;
	case FMQ_KAFKA_API_DELETE_ACLS:
		ctrl_delete_acls(c, f, req);
		return;
	case FMQ_KAFKA_API_ELECT_LEADERS:
		ctrl_elect_leaders(c, f, req);
		return;
	case FMQ_KAFKA_API_ALTER_PARTITION_REASSIGNMENTS:
		ctrl_alter_reassignments(c, f, req);
		return;
	case FMQ_KAFKA_API_LIST_PARTITION_REASSIGNMENTS:
		ctrl_list_reassignments(c, f, req);
		return;
	default:
		if (ctrl_txn_handle(c, f, req))
			return;
		if (ctrl_groups_handle(c, f, &hdr, req))
			return;
		/* A data lcore forwarded something no one here serves. */
		c->st.malformed++;
		ctrl_close_conn(c, f);
	}
}

uint64_t
fmq_ctrl_poll(struct fmq_ctrl *c, uint64_t now_ns)
{
	struct fmq_bfwd *fw[CTRL_FWD_BURST];
	unsigned int n;
	int64_t now_ms = fmq_wall_ms();
	uint64_t sleep_us = CTRL_IDLE_US;
	uint64_t drain;

	if (read(fmq_broker_ctrl_fd(c->b), &drain, sizeof(drain)) < 0)
		drain = 0;   /* EAGAIN: nothing signalled, the rings may still hold work */
	n = fmq_broker_ctrl_dequeue(c->b, fw, CTRL_FWD_BURST);
	for (unsigned int i = 0; i < n; i++)
		handle(c, fw[i]);
	if (n == CTRL_FWD_BURST)
		sleep_us = 0;
	ctrl_groups_poll(c, now_ms);
	ctrl_txn_poll(c, now_ms);
	if (now_ns >= c->next_flush_ns) {
		/* Write hot data through every millisecond while there is
		 * some; back off when a pass finds nothing. */
		int64_t w = fmq_log_flush(c->log, now_ns, false);
		if (w < 0)
			c->st.flush_errors++;
		c->flush_busy = w != 0;
		c->next_flush_ns = now_ns + (c->flush_busy ? 1000000ull :
					     CTRL_IDLE_US * 1000ull);
	}
	if (c->flush_busy)
		sleep_us = RTE_MIN(sleep_us, 1000ull);
	if (now_ms >= c->next_retention_ms) {
		c->next_retention_ms = now_ms +
			(int64_t)c->cfg->log_retention_check_interval_ms;
		int d = fmq_log_retention(c->log, now_ms);
		if (d > 0)
			c->st.retention_deleted += (uint64_t)d;
	}
	/* Log compaction in slices of about 1 MiB read (docs/storage.md,
	 * "Log compaction"): a round under way comes back next loop. */
	if (now_ms >= c->next_clean_ms) {
		int k = fmq_log_clean(c->log, now_ms, 0);
		if (k > 0)
			sleep_us = 0;
		else
			c->next_clean_ms = now_ms + CTRL_CLEAN_IDLE_MS;
	}
	run_deferred(c, now_ns);
	sleep_us = RTE_MIN(sleep_us, ctrl_zk_poll(c));
	if (!fmq_broker_reclaim(c->b) || c->deferred != NULL ||
	    ctrl_txnmark_waiting(c))
		sleep_us = RTE_MIN(sleep_us, 1000ull);
	int64_t gt = fmq_group_next_timeout(c->group, now_ms);
	if (gt >= 0)
		sleep_us = RTE_MIN(sleep_us, (uint64_t)gt * 1000ull);
	return sleep_us;
}

/* ------------------------------------------------------------ life cycle */

struct fmq_ctrl *
fmq_ctrl_create(const struct fmq_config *cfg, struct fmq_broker *b,
		struct fmq_log *log, unsigned int n_lcores, char *err,
		size_t errlen)
{
	struct fmq_ctrl *c = calloc(1, sizeof(*c));
	struct fmq_topic_cfg dflt;
	char dir[FMQ_CFG_STR_MAX];
	void *arena;
	int rc;

	if (c == NULL) {
		snprintf(err, errlen, "ctrl: out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->wake_epfd = -1;
	c->zk_fd = -1;
	c->b = b;
	c->log = log;
	c->n_lcores = n_lcores;
	first_log_dir(cfg, dir, sizeof(dir));
	snprintf(c->dir, sizeof(c->dir), "%s/__fluxmq", dir);
	rc = fmq_mkdir_p(c->dir);
	if (rc < 0) {
		fmq_config_error(cfg, "log.dirs", err, errlen,
				 "cannot create %s: %s", c->dir, strerror(-rc));
		goto fail;
	}
	arena = malloc(CTRL_ARENA_BYTES);
	if (arena == NULL) {
		snprintf(err, errlen, "ctrl: out of memory");
		goto fail;
	}
	fmq_kafka_arena_init(&c->arena, arena, CTRL_ARENA_BYTES);
	if (ctrl_dyn_open(c, err, errlen) < 0)
		goto fail;
	fmq_tcfg_from_broker(&dflt, c->cfg);
	c->topics = fmq_topics_open(c->dir, n_lcores, &dflt, err, errlen);
	if (c->topics == NULL)
		goto fail;
	pid_load(c);
	/* In a cluster: ZooKeeper's topics first, so that only the
	 * partitions this broker hosts are opened below. */
	if (ctrl_zk_open(c, err, errlen) < 0)
		goto fail;
	if (c->cl != NULL)
		ctrl_zk_sync(c, false);

	/* Recover and open every partition of every topic. */
	size_t nt = fmq_topics_count(c->topics);
	uint64_t t0 = fmq_now_ns(), nparts = 0;
	if (nt > 0)
		FMQ_INFO("ctrl", "opening %zu topic(s)", nt);
	for (size_t i = 0; i < nt; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		rc = ctrl_open_topic(c, t, 0);
		if (rc < 0) {
			snprintf(err, errlen, "cannot open topic %s: %s "
				 "(see the log above)", t->name, strerror(-rc));
			goto fail;
		}
		nparts += t->nparts;
		if ((i + 1) % 100 == 0)
			FMQ_INFO("ctrl", "opened %zu/%zu topics", i + 1, nt);
	}
	fmq_log_recovery_done(log);
	if (nt > 0)
		FMQ_INFO("ctrl", "opened %zu topic(s), %" PRIu64 " partition(s) "
			 "in %.1f ms", nt, nparts,
			 (double)(fmq_now_ns() - t0) / 1e6);
	if (ctrl_groups_open(c, err, errlen) < 0 ||
	    ctrl_txn_open(c, err, errlen) < 0)
		goto fail;
	if (ctrl_quota_load(c, err, errlen) < 0 ||
	    ctrl_scram_open(c, err, errlen) < 0 ||
	    ctrl_acl_open(c, err, errlen) < 0)
		goto fail;
	if (ctrl_publish(c) < 0) {
		snprintf(err, errlen, "ctrl: out of memory");
		goto fail;
	}
	c->next_retention_ms = fmq_wall_ms() +
		(int64_t)cfg->log_retention_check_interval_ms;
	return c;
fail:
	fmq_ctrl_free(c);
	return NULL;
}

void
fmq_ctrl_free(struct fmq_ctrl *c)
{
	if (c == NULL)
		return;
	ctrl_elect_free(c);
	ctrl_zk_close(c);
	ctrl_reassign_free(c);
	ctrl_repl_free(c);
	free(c->zk_seen);
	ctrl_txn_close(c);
	ctrl_groups_close(c);
	/* The data lcores are stopped: close everything now. */
	while (c->deferred != NULL) {
		struct ctrl_deferred *d = c->deferred;
		c->deferred = d->next;
		if (d->delete_files)
			fmq_log_part_delete(d->part);
		else
			fmq_log_part_close(d->part);
		if (d->truncate_to >= 0)
			ctrl_repl_truncated(c, d->topic, d->partition, d->dir,
					    d->truncate_to);
		free(d);
	}
	for (int i = 0; i < 1024; i++) {
		while (c->hash[i] != NULL) {
			struct ctrl_topic *ct = c->hash[i];
			c->hash[i] = ct->next;
			for (uint32_t p = 0; p < ct->nparts; p++)
				if (ct->parts[p] != NULL)
					fmq_log_part_close(ct->parts[p]);
			free(ct->parts);
			free(ct);
		}
	}
	fmq_topics_close(c->topics);
	fmq_sec_snap_put(c->sec);
	free(c->arena.base);
	ctrl_dyn_free(c);
	free(c);
}

/* One partition's stats, gathered once per scrape. */
struct pstat {
	const char *topic;
	uint32_t part;
	bool open;
	struct fmq_log_part_stats s;
	int64_t lso_lag;    /* high watermark - LSO (open transactions) */
};

#define PS_FIELD_U64(f) offsetof(struct pstat, s.f)

/* One family per statistic: per topic (summed) and per partition. */
static const struct {
	const char *name, *type, *help;
	size_t off;
	bool topic_sum;     /* also a per-topic family (name "topic_...") */
	bool signed64;
} part_families[] = {
	{ "messages_in_total", "counter", "Records appended since start",
	  PS_FIELD_U64(appended_records), true, false },
	{ "bytes_in_total", "counter",
	  "Record batch bytes appended since start",
	  PS_FIELD_U64(appended_bytes), true, false },
	{ "bytes_out_total", "counter",
	  "Record batch bytes read for fetches since start (a batch read "
	  "again after a fetch was cut short counts again)",
	  PS_FIELD_U64(read_bytes), true, false },
	{ "size_bytes", "gauge", "Bytes of the log's segments",
	  PS_FIELD_U64(size_bytes), true, false },
	{ "log_start_offset", "gauge", "First offset still in the log",
	  PS_FIELD_U64(log_start), false, true },
	{ "log_end_offset", "gauge",
	  "Next offset to be assigned (the high watermark)",
	  PS_FIELD_U64(log_end), false, true },
	{ "lso_lag", "gauge",
	  "Offsets between the last stable offset and the high watermark "
	  "(held back from read_committed by open transactions)",
	  offsetof(struct pstat, lso_lag), true, true },
};

static uint64_t
pstat_get(const struct pstat *p, unsigned int f)
{
	const uint8_t *b = (const uint8_t *)p + part_families[f].off;

	if (part_families[f].signed64) {
		int64_t v;

		memcpy(&v, b, sizeof(v));
		return v < 0 ? 0 : (uint64_t)v;
	}
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/*
 * Per topic and per partition traffic and size (labels topic, partition),
 * from the partitions the control lcore opened. Topic names are
 * [a-zA-Z0-9._-] only, so they need no escaping in a label.
 */
static void
metrics_partitions(struct fmq_metrics_out *out, struct fmq_ctrl *c)
{
	size_t nt = fmq_topics_count(c->topics), np = 0, k = 0;
	struct pstat *ps;
	char name[96], lbl[FMQ_TOPIC_NAME_MAX + 48];

	for (size_t i = 0; i < nt; i++)
		np += fmq_topics_at(c->topics, i)->nparts;
	ps = calloc(np ? np : 1, sizeof(*ps));
	if (ps == NULL)
		return;
	for (size_t i = 0; i < nt; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		struct ctrl_topic *ct = ctrl_topic_find(c, t->name);

		for (uint32_t p = 0; p < t->nparts; p++, k++) {
			ps[k].topic = t->name;
			ps[k].part = p;
			if (ct != NULL && p < ct->nparts &&
			    ct->parts[p] != NULL) {
				fmq_log_part_stats(ct->parts[p], &ps[k].s);
				ps[k].lso_lag = ps[k].s.log_end -
					fmq_log_part_lso(ct->parts[p]);
				ps[k].open = true;
			}
		}
	}
	for (unsigned int f = 0; f < RTE_DIM(part_families); f++) {
		if (!part_families[f].topic_sum)
			continue;
		snprintf(name, sizeof(name), "fluxmq_topic_%s",
			 part_families[f].name);
		fmq_metrics_family(out, name, part_families[f].type,
				   part_families[f].help);
		for (size_t i = 0; i < np;) {
			const char *t = ps[i].topic;
			uint64_t sum = 0;

			for (; i < np && ps[i].topic == t; i++)
				sum += pstat_get(&ps[i], f);
			snprintf(lbl, sizeof(lbl), "topic=\"%s\"", t);
			fmq_metrics_u64(out, name, lbl, sum);
		}
	}
	if (c->cfg->metrics_partition_series) {
		for (unsigned int f = 0; f < RTE_DIM(part_families); f++) {
			snprintf(name, sizeof(name), "fluxmq_partition_%s",
				 part_families[f].name);
			fmq_metrics_family(out, name, part_families[f].type,
					   part_families[f].help);
			for (size_t i = 0; i < np; i++) {
				if (!ps[i].open)
					continue;
				snprintf(lbl, sizeof(lbl), "topic=\"%s\","
					 "partition=\"%u\"", ps[i].topic,
					 ps[i].part);
				fmq_metrics_u64(out, name, lbl,
						pstat_get(&ps[i], f));
			}
		}
	}
	free(ps);
}

void
fmq_ctrl_metrics(struct fmq_metrics_out *out, void *arg)
{
	struct fmq_ctrl *c = arg;

	static const struct fmq_metric_def defs[] = {
#define X(field, name, help) \
	FMQ_METRIC_DEF(struct ctrl_stats, field, "counter", name, help),
#include "ctrl_metrics.def"
#undef X
	};

	fmq_metrics_table(out, defs, RTE_DIM(defs), &c->st);
	ctrl_txn_metrics(out, c);
	fmq_metrics_one(out, "fluxmq_topics", "gauge", "Topics",
			fmq_topics_count(c->topics));
	fmq_metrics_one(out, "fluxmq_scram_users", "gauge",
			"Users with SCRAM credentials",
			c->sec != NULL && c->sec->scram != NULL ?
			c->sec->scram->n : 0);
	fmq_metrics_one(out, "fluxmq_acls", "gauge",
			"ACL bindings in force (authorizer on)",
			ctrl_acl_count(c));
	fmq_acl_stats_render(out, "fluxmq_ctrl_acl_decisions_total",
			     "Authorization decisions on the control lcore, "
			     "by operation and result", &c->acl_st);
	metrics_partitions(out, c);
	if (c->cl != NULL)
		fmq_cluster_metrics(out, c->cl);
	ctrl_repl_metrics(c, out);
	ctrl_elect_metrics(c, out);
	ctrl_reassign_metrics(c, out);
	ctrl_quota_metrics(out, c);
	if (c->group != NULL)
		fmq_group_metrics(out, c->group);
	ctrl_zkoff_metrics(out, c);
}

void
fmq_ctrl_visit_partitions(struct fmq_ctrl *c, fmq_ctrl_part_fn fn, void *arg)
{
	size_t n = fmq_topics_count(c->topics);

	for (size_t i = 0; i < n; i++) {
		const struct fmq_topic *t = fmq_topics_at(c->topics, i);
		struct ctrl_topic *ct = ctrl_topic_find(c, t->name);

		for (uint32_t p = 0; p < t->nparts; p++) {
			struct fmq_log_part_params pp;
			char dirbuf[FMQ_CFG_STR_MAX];

			fmq_log_part_params_from_config(&pp, c->cfg, t->name,
							(int32_t)p, t->owner[p],
							dirbuf);
			fn(arg, t, p, pp.dir, ct != NULL && p < ct->nparts ?
			   ct->parts[p] : NULL);
		}
	}
}

void
fmq_ctrl_counts(const struct fmq_ctrl *c, uint32_t *topics,
		uint32_t *partitions)
{
	size_t n = fmq_topics_count(c->topics);
	uint32_t np = 0;

	for (size_t i = 0; i < n; i++)
		np += fmq_topics_at(c->topics, i)->nparts;
	*topics = (uint32_t)n;
	*partitions = np;
}

struct fmq_group *
fmq_ctrl_groups(struct fmq_ctrl *c)
{
	return c->group;
}
