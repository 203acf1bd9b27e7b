/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DeleteRecords (API 21) and DescribeLogDirs (API 35), answered on the
 * control lcore (docs/protocol.md).
 *
 * DeleteRecords moves a partition's log start offset. It runs here rather
 * than on the partition's owner lcore because what it touches is the
 * control thread's already: the log start is written by retention (this
 * thread) and read by the owner with acquire loads, the new start must be
 * fdatasync'ed to <partition>/log-start-offset before it is acknowledged
 * (a data lcore makes no system call), and the segments below it are
 * deleted by the next retention pass, which runs here.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

static void *
aalloc(struct fmq_ctrl *c, size_t n, size_t sz)
{
	return fmq_kafka_arena_alloc(&c->arena, (n ? n : 1) * sz);
}

static struct fmq_log_part *
part_of(struct fmq_ctrl *c, const char *topic, int32_t p)
{
	struct ctrl_topic *ct = ctrl_topic_find(c, topic);

	if (ct == NULL || p < 0 || (uint32_t)p >= ct->nparts)
		return NULL;
	return ct->parts[p];
}

void
ctrl_delete_records(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_delete_records_req *req = reqp;
	struct fmq_kafka_delete_records_resp resp;
	int32_t nt = req->topics_count < 0 ? 0 : req->topics_count;

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	resp.topics_count = nt;
	resp.topics = aalloc(c, (size_t)nt, sizeof(*resp.topics));
	if (resp.topics == NULL)
		goto nomem;
	for (int32_t i = 0; i < nt; i++) {
		const struct fmq_kafka_delete_records_req_delete_records_topic
			*it = &req->topics[i];
		struct fmq_kafka_delete_records_resp_delete_records_topic_result
			*ot = &resp.topics[i];
		int32_t np = it->partitions_count < 0 ? 0 :
			it->partitions_count;
		char *name = ctrl_cstr(c, it->name);
		bool allowed;

		memset(ot, 0, sizeof(*ot));
		ot->name = it->name;
		ot->partitions_count = np;
		ot->partitions = aalloc(c, (size_t)np,
					sizeof(*ot->partitions));
		if (name == NULL || ot->partitions == NULL)
			goto nomem;
		/* Kafka checks DELETE on the topic (once per topic) before
		 * it looks its partitions up. */
		allowed = CTRL_ACL_TOPIC(c, f, name, DELETE);
		for (int32_t j = 0; j < np; j++) {
			struct fmq_kafka_delete_records_resp_delete_records_partition_result
				*op = &ot->partitions[j];
			struct fmq_log_part *p =
				part_of(c, name, it->partitions[j].partition_index);
			int64_t low = -1;
			int rc;

			memset(op, 0, sizeof(*op));
			op->partition_index = it->partitions[j].partition_index;
			op->low_watermark = -1;
			if (!allowed) {
				op->error_code =
					FMQ_KERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			if (p == NULL) {
				op->error_code =
					FMQ_KERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			rc = fmq_log_part_delete_records(p,
					it->partitions[j].offset, &low);
			/* Kafka: -1 with any error. */
			op->low_watermark = rc == 0 ? low : -1;
			op->error_code = rc == 0 ? 0 : rc == -ERANGE ?
				FMQ_KERR_OFFSET_OUT_OF_RANGE : rc == -EPERM ?
				FMQ_KERR_POLICY_VIOLATION :
				FMQ_KERR_KAFKA_STORAGE_ERROR;
		}
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}

/* Is partition p of topic wanted by the request (null topics: all)? */
static bool
wanted(const struct fmq_kafka_describe_log_dirs_req *req, const char *topic,
       int32_t p)
{
	if (req->topics_count < 0)
		return true;
	for (int32_t i = 0; i < req->topics_count; i++) {
		const struct fmq_kafka_describe_log_dirs_req_describable_log_dir_topic
			*t = &req->topics[i];

		if (!fmq_kafka_str_eq(t->topic, topic))
			continue;
		for (int32_t j = 0; j < t->partitions_count; j++)
			if (t->partitions[j] == p)
				return true;
	}
	return false;
}

/* The n-th entry of the comma-separated log.dirs, trimmed. */
static bool
dir_nth(const char *list, unsigned int n, char *buf, size_t len)
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

void
ctrl_describe_log_dirs(struct fmq_ctrl *c, struct fmq_bfwd *f, void *reqp)
{
	struct fmq_kafka_describe_log_dirs_req *req = reqp;
	struct fmq_kafka_describe_log_dirs_resp resp;
	size_t ntop = fmq_topics_count(c->topics);
	unsigned int nd = 0;
	char d[FMQ_CFG_STR_MAX];

	fmq_kafka_init_response(f->api_key, f->api_version, &resp);
	/* DESCRIBE on the cluster, as Kafka: without it no log dir, and
	 * CLUSTER_AUTHORIZATION_FAILED where v3+ has an error code. */
	if (!ctrl_acl_cluster(c, f, FMQ_ACL_OP_DESCRIBE)) {
		resp.error_code = FMQ_KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.results_count = 0;
		resp.results = NULL;
		ctrl_respond(c, f, &resp);
		return;
	}
	while (dir_nth(c->cfg->log_dirs, nd, d, sizeof(d)))
		nd++;
	resp.error_code = 0;
	resp.results_count = (int32_t)nd;
	resp.results = aalloc(c, nd, sizeof(*resp.results));
	if (resp.results == NULL)
		goto nomem;
	for (unsigned int k = 0; k < nd; k++) {
		struct fmq_kafka_describe_log_dirs_resp_describe_log_dirs_result
			*r = &resp.results[k];
		struct statvfs vfs;
		char *path = fmq_kafka_arena_alloc(&c->arena,
						   FMQ_CFG_STR_MAX);
		char *abs;
		int32_t nt = 0;

		if (path == NULL)
			goto nomem;
		dir_nth(c->cfg->log_dirs, k, path, FMQ_CFG_STR_MAX);
		memset(r, 0, sizeof(*r));
		/* Kafka answers the absolute path; log.dirs may be relative. */
		abs = fmq_kafka_arena_alloc(&c->arena, PATH_MAX);
		r->log_dir = fmq_kafka_str(abs != NULL &&
					   realpath(path, abs) != NULL ?
					   abs : path);
		r->total_bytes = -1;
		r->usable_bytes = -1;
		if (statvfs(path, &vfs) == 0) {
			r->total_bytes = (int64_t)(vfs.f_blocks * vfs.f_frsize);
			r->usable_bytes = (int64_t)(vfs.f_bavail * vfs.f_frsize);
		}
		/* An offline dir: Kafka answers KAFKA_STORAGE_ERROR and no
		 * topics for it. */
		if (fmq_log_dir_offline(c->log, path)) {
			r->error_code = FMQ_KERR_KAFKA_STORAGE_ERROR;
			r->topics_count = 0;
			r->topics = NULL;
			continue;
		}
		r->topics = aalloc(c, ntop, sizeof(*r->topics));
		if (r->topics == NULL)
			goto nomem;
		for (size_t i = 0; i < ntop; i++) {
			const struct fmq_topic *t = fmq_topics_at(c->topics, i);
			struct ctrl_topic *ct = ctrl_topic_find(c, t->name);
			struct fmq_kafka_describe_log_dirs_resp_describe_log_dirs_topic
				*ot = &r->topics[nt];
			int32_t np = 0;

			if (ct == NULL)
				continue;
			ot->partitions = aalloc(c, ct->nparts,
						sizeof(*ot->partitions));
			if (ot->partitions == NULL)
				goto nomem;
			for (uint32_t p = 0; p < ct->nparts; p++) {
				struct fmq_log_part_stats ps;
				struct fmq_kafka_describe_log_dirs_resp_describe_log_dirs_partition
					*op = &ot->partitions[np];

				if (ct->parts[p] == NULL ||
				    !wanted(req, t->name, (int32_t)p) ||
				    strcmp(fmq_log_part_log_dir(ct->parts[p]),
					   path) != 0)
					continue;
				fmq_log_part_stats(ct->parts[p], &ps);
				memset(op, 0, sizeof(*op));
				op->partition_index = (int32_t)p;
				op->partition_size = (int64_t)ps.size_bytes;
				/* Kafka: log end - high watermark; one node
				 * has them equal. */
				op->offset_lag = 0;
				op->is_future_key = false;
				np++;
			}
			if (np == 0)
				continue;
			ot->name = fmq_kafka_str(t->name);
			ot->partitions_count = np;
			ot->unknown_tags = NULL;
			ot->n_unknown_tags = 0;
			nt++;
		}
		r->topics_count = nt;
	}
	ctrl_respond(c, f, &resp);
	return;
nomem:
	ctrl_close_conn(c, f);
}
