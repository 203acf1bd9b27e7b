/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The group APIs on the control lcore: the coordinator (lib/ctrl/group)
 * does the protocol; this file owns its life cycle, its clock and its
 * commits, and maps Kafka requests and responses onto it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

/* High watermark for the lag metrics (any thread may read offsets). */
static int64_t
group_hw(const char *topic, int32_t partition, void *arg)
{
	struct fmq_ctrl *c = arg;
	struct ctrl_topic *ct = ctrl_topic_find(c, topic);
	struct fmq_log_offsets o;

	if (ct == NULL || partition < 0 ||
	    (uint32_t)partition >= ct->nparts || ct->parts[partition] == NULL)
		return -1;
	fmq_log_part_offsets(ct->parts[partition], &o);
	return o.high_watermark;
}

int
ctrl_groups_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	struct fmq_group_params p;
	void *buf = malloc(CTRL_GROUP_ARENA_BYTES);

	if (buf == NULL) {
		snprintf(err, errlen, "group coordinator: out of memory");
		return -ENOMEM;
	}
	fmq_kafka_arena_init(&c->garena, buf, CTRL_GROUP_ARENA_BYTES);
	memset(&p, 0, sizeof(p));
	fmq_group_conf_from_config(&p.conf, c->cfg);
	p.dir = c->dir;
	p.emit = ctrl_groups_emit;
	p.emit_arg = c;
	p.hw = group_hw;
	p.hw_arg = c;
	p.topic = ctrl_consumer_topic;
	p.topic_at = ctrl_consumer_topic_at;
	p.topics_version = ctrl_consumer_topics_version;
	p.topic_arg = c;
	/* Cluster mode: committed offsets live in ZooKeeper. */
	p.store = ctrl_zkoff_open(c, &p.store_arg);
	if (c->cl != NULL && p.store == NULL) {
		snprintf(err, errlen, "group coordinator: out of memory");
		return -ENOMEM;
	}
	c->group = fmq_group_create(&p, fmq_wall_ms());
	if (c->group == NULL) {
		snprintf(err, errlen, "group coordinator in %s: %s", c->dir,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

void
ctrl_groups_close(struct fmq_ctrl *c)
{
	if (c->group != NULL) {
		ctrl_zkoff_close(c);
		/* Shutdown answers parked requests: the emit arena is
		 * still needed for them. */
		fmq_group_shutdown(c->group, fmq_wall_ms());
		fmq_group_destroy(c->group);
		c->group = NULL;
		ctrl_zkoff_close(c);   /* second call: frees the store */
	}
	while (c->zkoff != NULL)       /* left by a failed open */
		ctrl_zkoff_close(c);
	free(c->garena.base);
	c->garena.base = NULL;
	ctrl_groups_forget_denied(c);
}

void
ctrl_groups_poll(struct fmq_ctrl *c, int64_t now_ms)
{
	fmq_group_tick(c->group, now_ms);
	/* Group commit: one fdatasync for everything staged this pass. */
	if (fmq_group_flush_needed(c->group))
		fmq_group_flush(c->group, now_ms);
	ctrl_zkoff_poll(c);
}

void
ctrl_groups_topic_deleted(struct fmq_ctrl *c, const char *name)
{
	fmq_group_topic_deleted(c->group, name, fmq_wall_ms());
}
