/* SPDX-License-Identifier: Apache-2.0 */
/* Topic registry: Kafka's validation rules and error codes, persistence,
 * partition ownership. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fmq_ctrl.h"
#include "harness.h"

/* Kafka error codes used below (Errors.java). */
enum { INVALID_TOPIC = 17, EXISTS = 36, INVALID_PARTITIONS = 37,
       INVALID_RF = 38, INVALID_CONFIG = 40, UNKNOWN_TOPIC = 3 };

static char dir[] = "/tmp/fmq-topics-XXXXXX";
static char msg[512];

static void
rm_registry(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/topics.meta", dir);
	unlink(p);
}

static void
test_names(void)
{
	char long_name[300];

	memset(long_name, 'a', sizeof(long_name));
	long_name[250] = '\0';
	CU_ASSERT_EQUAL(fmq_topics_validate_name("orders", msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("a.b_c-D9", msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("__consumer_offsets", msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_validate_name(".", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("..", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("a b", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "contains a character other than"));
	CU_ASSERT_EQUAL(fmq_topics_validate_name("a/b", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_validate_name("ä", msg, sizeof(msg)), INVALID_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_validate_name(long_name, msg, sizeof(msg)), INVALID_TOPIC);
	long_name[249] = '\0';
	CU_ASSERT_EQUAL(fmq_topics_validate_name(long_name, msg, sizeof(msg)), 0);
}

static void
test_create_errors(void)
{
	struct fmq_topics *t;
	const struct fmq_topic *tp;
	struct fmq_kv bad_val[] = { { "retention.ms", "soon" } };
	struct fmq_kv bad_key[] = { { "no.such.config", "1" } };
	struct fmq_kv compact[] = { { "cleanup.policy", "compact,delete" },
				    { "min.cleanable.dirty.ratio", "0.01" } };
	struct fmq_kv bad_ratio[] = { { "min.cleanable.dirty.ratio", "1.5" } };
	struct fmq_kv bad_enum[] = { { "compression.type", "brotli" } };
	struct fmq_kv range[] = { { "segment.bytes", "10" } };

	rm_registry();
	t = fmq_topics_open(dir, 1, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "x", 3, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), &tp), 0);
	CU_ASSERT_EQUAL(tp->nparts, 3);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "x", 3, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), EXISTS);
	CU_ASSERT_STRING_EQUAL(msg, "Topic 'x' already exists.");
	CU_ASSERT_EQUAL(fmq_topics_create(t, "a.b", 1, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), 0);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "a_b", 1, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_TOPIC);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "collides"));
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 0, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", -5, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 100000, 1, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 3, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_RF);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 0, 1, NULL, 0, false, msg,
					  sizeof(msg), NULL), INVALID_RF);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, bad_val, 1, false, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(msg, "Invalid value soon for configuration "
			       "retention.ms: Not a number of type LONG");
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, bad_key, 1, false, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(msg, "Unknown topic config name: no.such.config");
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, bad_ratio, 1, false,
					  msg, sizeof(msg), NULL), INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(msg, "Invalid value 1.5 for configuration "
			       "min.cleanable.dirty.ratio: Value must be in 0..1");
	/* Compaction is a policy like any other (validate only). */
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, compact, 2, true, msg,
					  sizeof(msg), NULL), 0);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, bad_enum, 1, false, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 1, 1, 1, range, 1, false, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	/* None of the failures created anything; validate_only neither. */
	CU_ASSERT_EQUAL(fmq_topics_create(t, "y", 2, -1, 1, NULL, 0, true, msg,
					  sizeof(msg), NULL), 0);
	CU_ASSERT_PTR_NULL(fmq_topics_find(t, "y"));
	CU_ASSERT_EQUAL(fmq_topics_count(t), 2);
	/* -1 partitions: the broker default. */
	CU_ASSERT_EQUAL(fmq_topics_create(t, "z", -1, -1, 4, NULL, 0, false, msg,
					  sizeof(msg), &tp), 0);
	CU_ASSERT_EQUAL(tp->nparts, 4);
	fmq_topics_close(t);
}

static void
test_persistence_and_owners(void)
{
	struct fmq_topics *t;
	const struct fmq_topic *tp;
	struct fmq_kv cfgs[] = { { "retention.ms", "3600000" },
				 { "message.timestamp.type", "LogAppendTime" },
				 { "compression.type", "lz4" } };
	uint8_t id[16];
	char v[64];

	rm_registry();
	t = fmq_topics_open(dir, 2, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "events", 6, 1, 1, cfgs, 3, false,
					  msg, sizeof(msg), &tp), 0);
	memcpy(id, tp->id, 16);
	CU_ASSERT_EQUAL(tp->id[6] >> 4, 4); /* UUID v4 */
	/* Balanced: 3 partitions on each of 2 lcores. */
	int on0 = 0;
	for (uint32_t p = 0; p < 6; p++)
		on0 += tp->owner[p] == 0;
	CU_ASSERT_EQUAL(on0, 3);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "other", 1, 1, 1, NULL, 0, false,
					  msg, sizeof(msg), NULL), 0);
	CU_ASSERT_EQUAL(fmq_topics_add_partitions(t, "other", 1, false, msg,
						  sizeof(msg)), INVALID_PARTITIONS);
	CU_ASSERT_STRING_EQUAL(msg, "Topic currently has 1 partitions, 1 would "
			       "not be an increase.");
	CU_ASSERT_EQUAL(fmq_topics_add_partitions(t, "nope", 5, false, msg,
						  sizeof(msg)), UNKNOWN_TOPIC);
	CU_ASSERT_EQUAL(fmq_topics_add_partitions(t, "other", 3, false, msg,
						  sizeof(msg)), 0);
	uint64_t ver = fmq_topics_version(t);
	fmq_topics_close(t);

	/* Reopen: everything is back. */
	t = fmq_topics_open(dir, 2, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(fmq_topics_count(t), 2);
	tp = fmq_topics_find(t, "events");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tp);
	CU_ASSERT_EQUAL(memcmp(tp->id, id, 16), 0);
	CU_ASSERT_EQUAL(tp->nparts, 6);
	CU_ASSERT_EQUAL(tp->cfg.retention_ms, 3600000);
	CU_ASSERT(tp->cfg.set[FMQ_TCFG_IDX_retention_ms]);
	CU_ASSERT(!tp->cfg.set[FMQ_TCFG_IDX_segment_bytes]);
	fmq_tcfg_format(&tp->cfg, FMQ_TCFG_IDX_message_timestamp_type, v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "LogAppendTime");
	fmq_tcfg_format(&tp->cfg, FMQ_TCFG_IDX_compression_type, v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "lz4");
	CU_ASSERT_EQUAL(fmq_topics_find(t, "other")->nparts, 3);
	CU_ASSERT(ver > 0);

	/* Alter: all or nothing. */
	struct fmq_alter ok[] = { { "retention.ms", "1000", FMQ_ALTER_SET },
				  { "compression.type", NULL, FMQ_ALTER_DELETE } };
	struct fmq_alter bad[] = { { "retention.ms", "5", FMQ_ALTER_SET },
				   { "retention.bytes", "lots", FMQ_ALTER_SET } };
	struct fmq_alter app[] = { { "retention.ms", "5", FMQ_ALTER_APPEND } };
	CU_ASSERT_EQUAL(fmq_topics_alter(t, "events", bad, 2, false, msg,
					 sizeof(msg)), INVALID_CONFIG);
	CU_ASSERT_EQUAL(fmq_topics_find(t, "events")->cfg.retention_ms, 3600000);
	CU_ASSERT_EQUAL(fmq_topics_alter(t, "events", app, 1, false, msg,
					 sizeof(msg)), INVALID_CONFIG);
	CU_ASSERT_EQUAL(fmq_topics_alter(t, "events", ok, 2, true, msg,
					 sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_find(t, "events")->cfg.retention_ms, 3600000);
	CU_ASSERT_EQUAL(fmq_topics_alter(t, "events", ok, 2, false, msg,
					 sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_alter(t, "ghost", ok, 2, false, msg,
					 sizeof(msg)), UNKNOWN_TOPIC);
	fmq_topics_close(t);

	/* Fewer data lcores now: every owner moves inside the range. */
	t = fmq_topics_open(dir, 1, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	tp = fmq_topics_find(t, "events");
	for (uint32_t p = 0; p < tp->nparts; p++)
		CU_ASSERT_EQUAL(tp->owner[p], 0);
	CU_ASSERT_EQUAL(tp->cfg.retention_ms, 1000);
	CU_ASSERT(!tp->cfg.set[FMQ_TCFG_IDX_compression_type]);
	CU_ASSERT_EQUAL(fmq_topics_delete(t, "events", msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(fmq_topics_delete(t, "events", msg, sizeof(msg)), UNKNOWN_TOPIC);
	fmq_topics_close(t);
	t = fmq_topics_open(dir, 1, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NULL(fmq_topics_find(t, "events"));
	CU_ASSERT_EQUAL(fmq_topics_count(t), 1);
	fmq_topics_close(t);
}

static void
test_corrupt_registry(void)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/topics.meta", dir);
	f = fopen(p, "w");
	fputs("# fluxmq topic registry v1\ntopic ok 00112233445566778899aabbccddeeff 1 2 0,0\n"
	      "topic broken\n", f);
	fclose(f);
	CU_ASSERT_PTR_NULL(fmq_topics_open(dir, 1, NULL, msg, sizeof(msg)));
	char want[300];
	snprintf(want, sizeof(want), "%s:3: malformed topic registry line", p);
	CU_ASSERT_STRING_EQUAL(msg, want);
	f = fopen(p, "w");
	fputs("hello\n", f);
	fclose(f);
	CU_ASSERT_PTR_NULL(fmq_topics_open(dir, 1, NULL, msg, sizeof(msg)));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "not a FluxMQ topic registry"));
	rm_registry();
}

/* Every topic config Kafka documents (TopicConfig.java at the schemas'
 * commit, plus the two replication throttles of LogConfig), with a value
 * that is not its default: accepted on create, persisted, reloaded. */
static void
test_every_kafka_key(void)
{
	static const struct fmq_kv all[] = {
		{ "cleanup.policy", "compact,delete" },
		{ "compression.gzip.level", "5" },
		{ "compression.type", "zstd" },
		{ "compression.zstd.level", "7" },
		{ "delete.retention.ms", "1000" },
		{ "file.delete.delay.ms", "1" },
		{ "flush.messages", "100" },
		{ "flush.ms", "100" },
		{ "follower.replication.throttled.replicas", "0:1,1:1" },
		{ "index.interval.bytes", "8192" },
		{ "leader.replication.throttled.replicas", "*" },
		{ "local.retention.bytes", "100" },
		{ "local.retention.ms", "100" },
		{ "max.compaction.lag.ms", "60000" },
		{ "max.message.bytes", "1000" },
		{ "message.downconversion.enable", "false" },
		{ "message.format.version", "2.8-IV1" },
		{ "message.timestamp.after.max.ms", "3600000" },
		{ "message.timestamp.before.max.ms", "3600000" },
		{ "message.timestamp.difference.max.ms", "3600000" },
		{ "message.timestamp.type", "LogAppendTime" },
		{ "min.cleanable.dirty.ratio", "0.25" },
		{ "min.compaction.lag.ms", "10" },
		{ "min.insync.replicas", "1" },
		{ "preallocate", "true" },
		{ "remote.log.copy.disable", "true" },
		{ "remote.log.delete.on.disable", "true" },
		{ "remote.storage.enable", "false" },
		{ "retention.bytes", "1048576" },
		{ "retention.ms", "1000" },
		{ "segment.bytes", "1048576" },
		{ "segment.index.bytes", "4096" },
		{ "segment.jitter.ms", "5" },
		{ "segment.ms", "1000" },
		{ "unclean.leader.election.enable", "true" },
	};
	const size_t n = sizeof(all) / sizeof(all[0]);
	struct fmq_kv one;
	struct fmq_topics *t;
	const struct fmq_topic *tp;
	char v[64];

	rm_registry();
	t = fmq_topics_open(dir, 1, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(fmq_topics_create(t, "allkeys", 1, 1, 1, all,
					  (int)n, false, msg, sizeof(msg),
					  &tp), 0);
	/* Tiered storage cannot be switched on; a list value is checked. */
	one = (struct fmq_kv){ "remote.storage.enable", "true" };
	CU_ASSERT_EQUAL(fmq_topics_create(t, "x", 1, 1, 1, &one, 1, true, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	one = (struct fmq_kv){ "leader.replication.throttled.replicas",
			       "0:1\nconfig x" };
	CU_ASSERT_EQUAL(fmq_topics_create(t, "x", 1, 1, 1, &one, 1, true, msg,
					  sizeof(msg), NULL), INVALID_CONFIG);
	fmq_topics_close(t);
	t = fmq_topics_open(dir, 1, NULL, msg, sizeof(msg));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	tp = fmq_topics_find(t, "allkeys");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tp);
	for (size_t i = 0; i < n; i++) {
		int k = fmq_tcfg_find(all[i].key);

		CU_ASSERT_FATAL(k >= 0);
		CU_ASSERT(tp->cfg.set[k]);
		fmq_tcfg_format(&tp->cfg, k, v, sizeof(v));
		CU_ASSERT_STRING_EQUAL(v, all[i].value);
	}
	CU_ASSERT_EQUAL(FMQ_TCFG_N, (int)n + 1);    /* + validation */
	fmq_topics_close(t);
}

static void
test_topic_id_string(void)
{
	uint8_t id[16] = { 0 };
	char s[23];

	fmq_topic_id_str(id, s);
	CU_ASSERT_STRING_EQUAL(s, "AAAAAAAAAAAAAAAAAAAAAA");
	memset(id, 0xff, 16);
	fmq_topic_id_str(id, s);
	CU_ASSERT_STRING_EQUAL(s, "_____________________w");
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	if (mkdtemp(dir) == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("ctrl-topics", NULL, NULL);
	CU_add_test(s, "topic name rules", test_names);
	CU_add_test(s, "create: Kafka error codes, nothing half-created", test_create_errors);
	CU_add_test(s, "persistence, owners, alter, delete", test_persistence_and_owners);
	CU_add_test(s, "corrupt registry refused with file:line", test_corrupt_registry);
	CU_add_test(s, "topic id string", test_topic_id_string);
	CU_add_test(s, "every Kafka topic config accepted and kept",
		    test_every_kafka_key);
	fails = fmq_test_run(argc, argv);
	rm_registry();
	rmdir(dir);
	return fails;
}
