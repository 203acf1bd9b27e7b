/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic broker configs: the keys Kafka lets IncrementalAlterConfigs and
 * AlterConfigs change on a running broker (resource type BROKER), for the
 * ones FluxMQ has. Two layers over the configuration file, as Kafka's
 * /config/brokers/<default> and /config/brokers/<id>: the cluster default
 * (resource name "") and this broker (its node id); this broker's wins,
 * then the default, then the file, then the built-in default.
 *
 * Every key here reaches the log through the topic defaults: a change
 * recomputes them, every topic key a topic does not set takes the new
 * value, and the snapshot the caller publishes carries it to each
 * partition's owner (as a topic config change does). The layers are kept
 * in <first log dir>/__fluxmq/broker-configs, replaced atomically
 * (fmq_file_begin/commit) before the change is applied or answered, and
 * read back at start before any topic is opened; an entry that no longer
 * parses (its key gone or the file's limits changed) is logged and
 * skipped, as Kafka skips invalid dynamic configs.
 *
 * c->cfg points at the effective configuration (file + layers), so
 * everything on the control lcore sees the current values.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

#define DYN_FILE "broker-configs"

/* Kafka's dynamic broker configs (DynamicBrokerConfig.AllDynamicConfigs:
 * DynamicLogConfig's reconfigurable keys and message.max.bytes) that have
 * a FluxMQ key of the same name. */
static const char *const dyn_names[] = {
	"log.segment.bytes",
	"log.roll.ms",
	"log.index.size.max.bytes",
	"log.index.interval.bytes",
	"log.flush.interval.messages",
	"log.flush.interval.ms",
	"log.retention.ms",
	"log.retention.bytes",
	"log.message.timestamp.type",
	"compression.type",
	"message.max.bytes",
	"leader.replication.throttled.rate",
	"follower.replication.throttled.rate",
};
#define NDYN 13
_Static_assert(sizeof(dyn_names) / sizeof(dyn_names[0]) == NDYN,
	       "NDYN is the number of dyn_names");

struct ctrl_dyn {
	struct fmq_config stat;      /* the configuration file's */
	struct fmq_config eff;       /* file + layers: c->cfg */
	bool set[2][NDYN];
	char val[2][NDYN][FMQ_CFG_STR_MAX];
};

static int
dyn_idx(const char *name)
{
	for (size_t i = 0; i < NDYN; i++)
		if (strcmp(dyn_names[i], name) == 0)
			return (int)i;
	return -1;
}

bool
ctrl_dyn_key(const char *name)
{
	return dyn_idx(name) >= 0;
}

const char *
ctrl_dyn_get(const struct fmq_ctrl *c, int scope, const char *name)
{
	int i = dyn_idx(name);

	if (c->dyn == NULL || i < 0 || !c->dyn->set[scope][i])
		return NULL;
	return c->dyn->val[scope][i];
}

/* Topic keys whose default is a dynamic broker key (Kafka's
 * LogConfig synonyms, as fmq_tcfg_from_broker applies them). */
static const char *const topic_syn[][2] = {
	{ "max.message.bytes", "message.max.bytes" },
	{ "retention.ms", "log.retention.ms" },
	{ "retention.bytes", "log.retention.bytes" },
	{ "segment.bytes", "log.segment.bytes" },
	{ "segment.ms", "log.roll.ms" },
	{ "segment.index.bytes", "log.index.size.max.bytes" },
	{ "index.interval.bytes", "log.index.interval.bytes" },
	{ "flush.messages", "log.flush.interval.messages" },
	{ "flush.ms", "log.flush.interval.ms" },
	{ "compression.type", "compression.type" },
	{ "message.timestamp.type", "log.message.timestamp.type" },
};

const char *
ctrl_dyn_synonym(const char *topic_key)
{
	for (size_t i = 0; i < RTE_DIM(topic_syn); i++)
		if (strcmp(topic_syn[i][0], topic_key) == 0)
			return topic_syn[i][1];
	return NULL;
}

const struct fmq_config *
ctrl_dyn_static(const struct fmq_ctrl *c)
{
	return c->dyn != NULL ? &c->dyn->stat : c->cfg;
}

/* A value the log can take: max.message.bytes within a hot chunk. */
static int
dyn_check(const struct fmq_config *eff, char *msg, size_t msglen)
{
	uint64_t cap = eff->log_hot_chunk_bytes - FMQ_LOG_CHUNK_HDR;

	if (eff->message_max_bytes > cap) {
		snprintf(msg, msglen, "Invalid value %" PRIu64 " for "
			 "configuration message.max.bytes: above the hot chunk "
			 "payload of %" PRIu64 " bytes (log.hot.chunk.bytes "
			 "minus the chunk header)", eff->message_max_bytes, cap);
		return -EINVAL;
	}
	return 0;
}

/* The effective configuration of the file under the layers (default
 * first, this broker's over it). 0, or -EINVAL naming the bad value. */
static int
dyn_build(const struct fmq_config *stat, bool set[2][NDYN],
	  char val[2][NDYN][FMQ_CFG_STR_MAX], struct fmq_config *out,
	  char *msg, size_t msglen)
{
	char why[256];

	*out = *stat;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < NDYN; i++) {
			const struct fmq_cfg_key *k;
			if (!set[s][i])
				continue;
			k = fmq_config_find(dyn_names[i]);
			if (k == NULL ||
			    fmq_config_parse(out, k, val[s][i], why,
					     sizeof(why)) < 0) {
				snprintf(msg, msglen, "Invalid value %s for "
					 "configuration %s: %s", val[s][i],
					 dyn_names[i], k == NULL ?
					 "unknown key" : why);
				return -EINVAL;
			}
		}
	return dyn_check(out, msg, msglen);
}

static int
dyn_save(const struct fmq_ctrl *c, bool set[2][NDYN],
	 char val[2][NDYN][FMQ_CFG_STR_MAX])
{
	char path[sizeof(c->dir) + 32];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", c->dir, DYN_FILE);
	rc = fmq_file_begin(path, 0644, &f);
	if (rc < 0)
		return rc;
	fprintf(f, "# Dynamic broker configs (IncrementalAlterConfigs, "
		"AlterConfigs): <default> or node id, key=value\n");
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < NDYN; i++)
			if (set[s][i]) {
				if (s == 0)
					fprintf(f, "<default> ");
				else
					fprintf(f, "%" PRId64 " ",
						c->dyn->stat.node_id);
				fprintf(f, "%s=%s\n", dyn_names[i],
					val[s][i]);
			}
	return fmq_file_commit(f, path);
}

/* Start: read the layers and make c->cfg the effective configuration. */
int
ctrl_dyn_open(struct fmq_ctrl *c, char *err, size_t errlen)
{
	char path[sizeof(c->dir) + 32], line[FMQ_CFG_STR_MAX + 128];
	struct ctrl_dyn *d;
	FILE *f;
	int lineno = 0;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "ctrl: out of memory");
		return -ENOMEM;
	}
	d->stat = *c->cfg;
	d->eff = *c->cfg;
	c->dyn = d;
	c->cfg = &d->eff;
	snprintf(path, sizeof(path), "%s/%s", c->dir, DYN_FILE);
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *scope, *kv, *eq, *save, msg[512];
		bool set[2][NDYN];
		int s, i;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		scope = strtok_r(line, " ", &save);
		kv = strtok_r(NULL, "", &save);
		eq = kv != NULL ? strchr(kv, '=') : NULL;
		if (scope == NULL || eq == NULL) {
			FMQ_WARN("ctrl", "%s:%d: malformed, skipped", path,
				 lineno);
			continue;
		}
		*eq = '\0';
		if (strcmp(scope, "<default>") == 0) {
			s = 0;
		} else if (strtoll(scope, NULL, 10) == d->stat.node_id) {
			s = 1;
		} else {
			FMQ_WARN("ctrl", "%s:%d: %s is for broker %s, not this "
				 "one (%" PRId64 "): skipped", path, lineno, kv,
				 scope, d->stat.node_id);
			continue;
		}
		i = dyn_idx(kv);
		if (i < 0 || strlen(eq + 1) >= FMQ_CFG_STR_MAX) {
			FMQ_WARN("ctrl", "%s:%d: %s is not a dynamic broker "
				 "config: skipped", path, lineno, kv);
			continue;
		}
		/* Kafka skips a dynamic config that no longer validates. */
		memcpy(set, d->set, sizeof(set));
		set[s][i] = true;
		snprintf(d->val[s][i], FMQ_CFG_STR_MAX, "%s", eq + 1);
		if (dyn_build(&d->stat, set, d->val, &d->eff, msg,
			      sizeof(msg)) < 0) {
			FMQ_WARN("ctrl", "%s:%d: %s: skipped", path, lineno,
				 msg);
			continue;
		}
		d->set[s][i] = true;
	}
	fclose(f);
	if (dyn_build(&d->stat, d->set, d->val, &d->eff, err, errlen) < 0)
		return -EINVAL;   /* cannot be: each entry was checked */
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < NDYN; i++)
			if (d->set[s][i])
				FMQ_INFO("ctrl", "dynamic broker config (%s): "
					 "%s=%s", s == 0 ? "cluster default" :
					 "this broker", dyn_names[i],
					 d->val[s][i]);
	return 0;
}

void
ctrl_dyn_free(struct fmq_ctrl *c)
{
	if (c->dyn == NULL)
		return;
	c->cfg = NULL;
	free(c->dyn);
	c->dyn = NULL;
}

int16_t
ctrl_dyn_alter(struct fmq_ctrl *c, const char *name,
	       const struct fmq_alter *ops, size_t nops, bool replace,
	       bool validate_only, bool *changed, char *msg, size_t msglen)
{
	struct ctrl_dyn *d = c->dyn;
	bool set[2][NDYN];
	char (*val)[NDYN][FMQ_CFG_STR_MAX];
	struct fmq_config *eff;
	char idbuf[32], names[512];
	size_t l = 0;
	int scope;
	int16_t e = 0;

	snprintf(idbuf, sizeof(idbuf), "%" PRId64, d->stat.node_id);
	if (name[0] == '\0') {
		scope = 0;
	} else if (strcmp(name, idbuf) == 0) {
		scope = 1;
	} else {
		snprintf(msg, msglen, "Unexpected broker id, expected %s, "
			 "but received %s", idbuf, name);
		return FMQ_KERR_INVALID_REQUEST;
	}
	/* Keys Kafka does not let change at run time (or FluxMQ has not):
	 * Kafka's answer, naming them all. */
	for (size_t k = 0; k < nops; k++) {
		if (ops[k].key == NULL || ctrl_dyn_key(ops[k].key) ||
		    (replace && ops[k].value == NULL))
			continue;
		l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s",
				      l == 0 ? "" : ", ", ops[k].key);
		if (l >= sizeof(names))
			l = sizeof(names) - 1;
	}
	if (l > 0) {
		snprintf(msg, msglen, "Invalid config value for resource "
			 "ConfigResource(type=BROKER, name='%s'): Cannot update "
			 "these configs dynamically: Set(%s)", name, names);
		return FMQ_KERR_INVALID_CONFIG;
	}
	val = malloc(sizeof(d->val));
	eff = malloc(sizeof(*eff));
	if (val == NULL || eff == NULL) {
		free(val);
		free(eff);
		return -1;
	}
	memcpy(set, d->set, sizeof(set));
	memcpy(val, d->val, sizeof(d->val));
	if (replace)
		memset(set[scope], 0, sizeof(set[scope]));
	for (size_t k = 0; k < nops && e == 0; k++) {
		int i = ops[k].key != NULL ? dyn_idx(ops[k].key) : -1;
		/* AlterConfigs leaves a null value out (as Kafka). */
		if (i < 0 || (replace && ops[k].value == NULL))
			continue;
		switch (replace ? FMQ_ALTER_SET : ops[k].op) {
		case FMQ_ALTER_SET:
			if (ops[k].value == NULL) {
				snprintf(msg, msglen, "Null value not supported "
					 "for : %s", ops[k].key);
				e = FMQ_KERR_INVALID_REQUEST;
			} else if (strlen(ops[k].value) >= FMQ_CFG_STR_MAX) {
				snprintf(msg, msglen, "Invalid value for "
					 "configuration %s: too long",
					 ops[k].key);
				e = FMQ_KERR_INVALID_CONFIG;
			} else {
				set[scope][i] = true;
				snprintf(val[scope][i], FMQ_CFG_STR_MAX, "%s",
					 ops[k].value);
			}
			break;
		case FMQ_ALTER_DELETE:
			set[scope][i] = false;
			break;
		case FMQ_ALTER_APPEND:
		case FMQ_ALTER_SUBTRACT:
			snprintf(msg, msglen, "Config value append is not "
				 "allowed for config key: %s", ops[k].key);
			e = FMQ_KERR_INVALID_REQUEST;
			break;
		default:
			snprintf(msg, msglen, "Unknown alter operation %d",
				 ops[k].op);
			e = FMQ_KERR_INVALID_REQUEST;
		}
	}
	if (e == 0 && dyn_build(&d->stat, set, val, eff, msg, msglen) < 0)
		e = FMQ_KERR_INVALID_CONFIG;
	if (e == 0 && !validate_only) {
		if (dyn_save(c, set, val) < 0) {
			snprintf(msg, msglen, "Could not persist the dynamic "
				 "broker configs in %s", c->dir);
			e = FMQ_KERR_KAFKA_STORAGE_ERROR;
		} else {
			struct fmq_topic_cfg dflt;
			memcpy(d->set, set, sizeof(set));
			memcpy(d->val, val, sizeof(d->val));
			d->eff = *eff;
			fmq_tcfg_from_broker(&dflt, &d->eff);
			fmq_topics_set_defaults(c->topics, &dflt);
			c->st.dynamic_broker_changes++;
			*changed = true;
		}
	}
	free(val);
	free(eff);
	return e;
}
