/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util: configuration parsing and its error messages, histogram,
 * metrics rendering. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <CUnit/CUnit.h>

#include "fmq_util.h"
#include "harness.h"

static char tmpdir[] = "/tmp/fmq-util-XXXXXX";

/* Write text to a file in tmpdir and return its path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_defaults_round_trip(void)
{
	struct fmq_config cfg;
	char buf[512];
	size_t n;
	const struct fmq_cfg_key *k = fmq_config_keys(&n);

	fmq_config_defaults(&cfg);
	CU_ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		char err[512], kv[700];
		fmq_config_format(&cfg, &k[i], buf, sizeof(buf));
		snprintf(kv, sizeof(kv), "%s=%s", k[i].name, buf);
		int rc = fmq_config_set(&cfg, kv, "t", 1, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, 0);
		if (rc != 0)
			fprintf(stderr, "default of %s does not parse: %s\n",
				k[i].name, err);
		/* Every key is documented. */
		CU_ASSERT(k[i].doc != NULL && strlen(k[i].doc) > 10);
	}
}

static void
test_good_file(void)
{
	struct fmq_config cfg;
	char err[512];
	const char *p = write_file("good.properties",
		"# a comment\n"
		"! also a comment\n"
		"\n"
		"node.id = 7\n"
		"  net.ip=192.168.5.9/16  \n"
		"net.gateway=192.168.0.1\n"
		"net.mac=02:aa:bb:cc:dd:ee\n"
		"mgmt.listen=0.0.0.0:18080\n"
		"poll.mode=busy\n"
		"lcores.data=3\n"
		"dev.tap.name=tapx\n"
		"listeners=PLAINTEXT://0.0.0.0:9093\n");

	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL_FATAL(fmq_config_load_file(&cfg, p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.node_id, 7);
	CU_ASSERT_EQUAL(cfg.net_ip.addr, inet_addr("192.168.5.9"));
	CU_ASSERT_EQUAL(cfg.net_ip.prefix, 16);
	CU_ASSERT_EQUAL(cfg.net_gateway, inet_addr("192.168.0.1"));
	CU_ASSERT(cfg.net_mac.set);
	CU_ASSERT_EQUAL(cfg.net_mac.b[5], 0xee);
	CU_ASSERT_EQUAL(cfg.mgmt_listen.addr, 0);
	CU_ASSERT_EQUAL(cfg.mgmt_listen.port, 18080);
	CU_ASSERT_STRING_EQUAL(cfg.poll_mode, "busy");
	CU_ASSERT_EQUAL(cfg.lcores_data, 3);
	CU_ASSERT_STRING_EQUAL(cfg.dev_tap_name, "tapx");
	CU_ASSERT_STRING_EQUAL(cfg.listeners, "PLAINTEXT://0.0.0.0:9093");
	/* Untouched keys keep their defaults. */
	CU_ASSERT_EQUAL(cfg.mgmt_listen.port, 18080);
	CU_ASSERT_EQUAL(cfg.dev_tap_host_ip.prefix, 24);

	/* --set overrides the file, and errors later name where it came from. */
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "lcores.data=2", "--set", 1, err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.lcores_data, 2);
	fmq_config_error(&cfg, "lcores.data", err, sizeof(err), "too many");
	CU_ASSERT_STRING_EQUAL(err, "--set:1: lcores.data: too many");
	char want[400];
	snprintf(want, sizeof(want), "%s:9: poll.mode: no", p);
	fmq_config_error(&cfg, "poll.mode", err, sizeof(err), "no");
	CU_ASSERT_STRING_EQUAL(err, want);
	fmq_config_error(&cfg, "net.mtu", err, sizeof(err), "x");
	CU_ASSERT_STRING_EQUAL(err, "default: net.mtu: x");
}

/* One bad line after a good one: the exact message and line number. */
static void
expect_bad(const char *line, const char *msg_after_path)
{
	struct fmq_config cfg;
	char err[512], text[600], want[800];
	const char *p;

	snprintf(text, sizeof(text), "node.id=1\n%s\n", line);
	p = write_file("bad.properties", text);
	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_load_file(&cfg, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: %s", p, msg_after_path);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n got: %s\nwant: %s\n", err, want);
}

static void
test_bad_values(void)
{
	expect_bad("no.such.key=1", "no.such.key: unknown key");
	expect_bad("just some words", "just some words: expected key=value");
	expect_bad("=5", "(empty): missing key before '='");
	expect_bad("node.id=abc", "node.id: invalid value 'abc': expected an integer");
	expect_bad("node.id=-1", "node.id: out of range: must be 0..2147483647");
	expect_bad("lcores.data=0", "lcores.data: out of range: must be 1..127");
	expect_bad("lcores.data=2x", "lcores.data: invalid value '2x': expected an unsigned integer");
	expect_bad("lcores.data=-3", "lcores.data: invalid value '-3': expected an unsigned integer");
	expect_bad("lcores.data=99999999999999999999999",
		   "lcores.data: invalid value '99999999999999999999999': expected an unsigned integer");
	expect_bad("lcores.data=", "lcores.data: invalid value '': expected an unsigned integer");
	expect_bad("poll.mode=fast", "poll.mode: invalid value 'fast': must be one of adaptive|busy");
	expect_bad("poll.mode=busyx", "poll.mode: invalid value 'busyx': must be one of adaptive|busy");
	expect_bad("net.ip=10.0.0.1", "net.ip: invalid value '10.0.0.1': expected a.b.c.d/prefix");
	expect_bad("net.ip=10.0.0.256/24", "net.ip: invalid value '10.0.0.256/24': expected a.b.c.d/prefix");
	expect_bad("net.ip=10.0.0.1/33", "net.ip: invalid value '10.0.0.1/33': expected a.b.c.d/prefix");
	expect_bad("net.ip=10.0.0.1/", "net.ip: invalid value '10.0.0.1/': expected a.b.c.d/prefix");
	expect_bad("net.gateway=1.2.3", "net.gateway: invalid value '1.2.3': expected an IPv4 address");
	expect_bad("net.gateway=1.2.3.4.5", "net.gateway: invalid value '1.2.3.4.5': expected an IPv4 address");
	expect_bad("net.mac=02:00:00:00:00", "net.mac: invalid value '02:00:00:00:00': expected aa:bb:cc:dd:ee:ff");
	expect_bad("net.mac=zz:00:00:00:00:00", "net.mac: invalid value 'zz:00:00:00:00:00': expected aa:bb:cc:dd:ee:ff");
	expect_bad("mgmt.listen=127.0.0.1", "mgmt.listen: invalid value '127.0.0.1': expected a.b.c.d:port");
	expect_bad("mgmt.listen=127.0.0.1:70000", "mgmt.listen: invalid value '127.0.0.1:70000': expected a.b.c.d:port");
	expect_bad("mgmt.listen=localhost:80", "mgmt.listen: invalid value 'localhost:80': expected a.b.c.d:port");
}

static void
test_missing_file_and_long_value(void)
{
	struct fmq_config cfg;
	char err[512], line[600];

	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_load_file(&cfg, "/nonexistent/x.properties",
					     err, sizeof(err)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/x.properties:0: (file): "
			       "cannot open: No such file or directory");
	memset(line, 'a', sizeof(line));
	memcpy(line, "listeners=", 10);
	line[300] = '\0';
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, line, "--set", 1, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--set:1: listeners: value longer than 255 characters");
}

static void
test_doc_lists_every_key(void)
{
	char *buf = NULL;
	size_t len = 0, n;
	FILE *f = open_memstream(&buf, &len);
	const struct fmq_cfg_key *k = fmq_config_keys(&n);

	fmq_config_write_doc(f);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "| `%s` |", k[i].name);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, needle));
	}
	free(buf);
}

static void
test_hist_error(void)
{
	static struct fmq_hist h;
	uint64_t vals[] = { 0, 1, 127, 128, 129, 1000, 12345, 999999,
			    123456789, 1ull << 40, UINT64_MAX / 3 };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		fmq_hist_init(&h);
		fmq_hist_record(&h, vals[i]);
		fmq_hist_record(&h, vals[i]);
		uint64_t q = fmq_hist_quantile(&h, 0.5);
		double e = vals[i] ? ((double)q - (double)vals[i]) / (double)vals[i] : q;
		CU_ASSERT(e < 0.01 && e > -0.01);
	}
	/* Uniform 1..100000: p50 ~ 50000, p99 ~ 99000, within 1%. */
	fmq_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		fmq_hist_record(&h, v);
	double p50 = (double)fmq_hist_quantile(&h, 0.5);
	double p99 = (double)fmq_hist_quantile(&h, 0.99);
	CU_ASSERT(p50 > 49500 && p50 < 50500);
	CU_ASSERT(p99 > 98010 && p99 < 99990);
	CU_ASSERT_EQUAL(fmq_hist_quantile(&h, 1.0), 100000);
	CU_ASSERT_EQUAL(h.count, 100000);
}

/* Prometheus buckets: cumulative, within a bucket of the bound, all at
 * the top. */
static void
test_hist_count_le(void)
{
	static struct fmq_hist h;
	uint64_t prev = 0;

	fmq_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		fmq_hist_record(&h, v);
	CU_ASSERT_EQUAL(fmq_hist_count_le(&h, 0), 0);
	CU_ASSERT_EQUAL(fmq_hist_count_le(&h, 100), 100);    /* exact below 128 */
	for (uint64_t le = 1; le <= 200000; le = le * 3 / 2 + 1) {
		uint64_t n = fmq_hist_count_le(&h, le);
		uint64_t want = le < 100000 ? le : 100000;

		CU_ASSERT(n >= prev);
		/* Off by at most the bound's bucket: 1/64 of it. */
		CU_ASSERT((double)n >= (double)want * (1 - 1.0 / 64) &&
			  (double)n <= (double)want * (1 + 1.0 / 64) + 1);
		prev = n;
	}
	CU_ASSERT_EQUAL(fmq_hist_count_le(&h, UINT64_MAX), h.count);
}

static void
render_two(struct fmq_metrics_out *o, void *arg)
{
	fmq_metrics_family(o, "fluxmq_test_total", "counter", "A test counter");
	fmq_metrics_u64(o, "fluxmq_test_total", "lcore=\"0\"", *(uint64_t *)arg);
	fmq_metrics_u64(o, "fluxmq_test_total", NULL, 5);
}

static void
test_metrics_render(void)
{
	struct fmq_metrics *reg = fmq_metrics_create();
	uint64_t v = 42;
	size_t len;
	char *txt;

	CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
	/* Enough sources to force the output buffer to grow. */
	for (int i = 0; i < 2000; i++)
		CU_ASSERT_EQUAL(fmq_metrics_register(reg, render_two, &v), 0);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
	CU_ASSERT_EQUAL(strlen(txt), len);
	CU_ASSERT_EQUAL(strncmp(txt, "# HELP fluxmq_test_total A test counter\n"
				"# TYPE fluxmq_test_total counter\n"
				"fluxmq_test_total{lcore=\"0\"} 42\n"
				"fluxmq_test_total 5\n", 110), 0);
	free(txt);
	fmq_metrics_free(reg);
}

/* A library's X-macro table: 4- and 8-byte members, nested paths. */
struct tbl_inner {
	uint32_t gauge32;
};
struct tbl_stats {
	uint64_t hits;
	struct tbl_inner in;
	uint64_t big;
};

static void
render_table(struct fmq_metrics_out *o, void *arg)
{
	static const struct fmq_metric_def defs[] = {
		FMQ_METRIC_DEF(struct tbl_stats, hits, "counter",
			       "fluxmq_t_hits_total", "Hits"),
		FMQ_METRIC_DEF(struct tbl_stats, in.gauge32, "gauge",
			       "fluxmq_t_level", "Level"),
		FMQ_METRIC_DEF(struct tbl_stats, big, "counter",
			       "fluxmq_t_big_total", "Big"),
	};
	const struct tbl_stats *st = arg;
	const void *each[3] = { &st[0], NULL, &st[1] };

	fmq_metrics_table(o, defs, 3, &st[0]);
	fmq_metrics_table_each(o, defs, 2, each, 3, "lcore");
}

static void
test_metrics_table(void)
{
	struct fmq_metrics *reg = fmq_metrics_create();
	struct tbl_stats st[2] = {
		{ 7, { 4000000000u }, UINT64_MAX },
		{ 9, { 3 }, 1 },
	};
	size_t len;
	char *txt;

	CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
	CU_ASSERT_EQUAL(fmq_metrics_register(reg, render_table, st), 0);
	txt = fmq_metrics_render(reg, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
	CU_ASSERT_STRING_EQUAL(txt,
		"# HELP fluxmq_t_hits_total Hits\n"
		"# TYPE fluxmq_t_hits_total counter\n"
		"fluxmq_t_hits_total 7\n"
		"# HELP fluxmq_t_level Level\n"
		"# TYPE fluxmq_t_level gauge\n"
		"fluxmq_t_level 4000000000\n"
		"# HELP fluxmq_t_big_total Big\n"
		"# TYPE fluxmq_t_big_total counter\n"
		"fluxmq_t_big_total 18446744073709551615\n"
		"# HELP fluxmq_t_hits_total Hits\n"
		"# TYPE fluxmq_t_hits_total counter\n"
		"fluxmq_t_hits_total{lcore=\"0\"} 7\n"
		"fluxmq_t_hits_total{lcore=\"2\"} 9\n"
		"# HELP fluxmq_t_level Level\n"
		"# TYPE fluxmq_t_level gauge\n"
		"fluxmq_t_level{lcore=\"0\"} 4000000000\n"
		"fluxmq_t_level{lcore=\"2\"} 3\n");
	free(txt);
	fmq_metrics_free(reg);
}

/* ---- Kafka names, aliases, all errors in one pass -------------------- */

static const char *vectors_dir = "tests/vectors/config";

struct collected {
	unsigned int nerr, nwarn;
	char text[16384];
};

static void
collect(void *arg, bool is_error, const char *msg)
{
	struct collected *c = arg;
	size_t l = strlen(c->text);

	if (is_error)
		c->nerr++;
	else
		c->nwarn++;
	snprintf(c->text + l, sizeof(c->text) - l, "%s %s\n",
		 is_error ? "E" : "W", msg);
}

static void
test_kafka_names_sorted(void)
{
	/* Binary search needs it; every alias is a Kafka name. */
	CU_ASSERT_TRUE(fmq_config_is_kafka_key("process.roles"));
	CU_ASSERT_TRUE(fmq_config_is_kafka_key("advertised.host.name"));
	CU_ASSERT_TRUE(fmq_config_is_kafka_key("zookeeper.sync.time.ms"));
	CU_ASSERT_TRUE(fmq_config_is_kafka_key("num.io.threads"));
	CU_ASSERT_TRUE(fmq_config_is_kafka_key("log.retention.hours"));
	CU_ASSERT_FALSE(fmq_config_is_kafka_key("no.such.key"));
	CU_ASSERT_FALSE(fmq_config_is_kafka_key("lcores.data"));
	CU_ASSERT_FALSE(fmq_config_is_kafka_key(""));
}

/* Kafka's own sample files: no error, one warning per Kafka-only key. */
static void
expect_sample(const char *name, unsigned int warnings, int64_t node_id)
{
	struct fmq_config cfg;
	struct collected c = { 0 };
	char path[512], err[512];

	snprintf(path, sizeof(path), "%s/%s", vectors_dir, name);
	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_load_file(&cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_config_finish(&cfg, collect, &c), 0);
	CU_ASSERT_EQUAL(c.nerr, 0);
	CU_ASSERT_EQUAL(c.nwarn, warnings);
	if (c.nerr != 0 || c.nwarn != warnings)
		fprintf(stderr, "\n%s:\n%s", name, c.text);
	CU_ASSERT_EQUAL(cfg.node_id, node_id);
	CU_ASSERT_EQUAL(cfg.log_retention_ms, 168LL * 3600 * 1000);
	CU_ASSERT_EQUAL(cfg.log_segment_bytes, 1073741824);
	CU_ASSERT_EQUAL(cfg.num_partitions, 1);
	CU_ASSERT_EQUAL(cfg.log_retention_check_interval_ms, 300000);
}

static void
test_kafka_samples(void)
{
	char want[600];
	struct fmq_config cfg;
	struct collected c = { 0 };
	char path[512], err[512];

	/* KRaft: process.roles, controller.quorum.voters, ... 11 in all
	 * (listener.security.protocol.map and controller.listener.names are
	 * ours). */
	expect_sample("kafka-kraft-server.properties", 11, 1);
	/* ZooKeeper mode: broker.id=0 is node.id 0; zookeeper.connect and
	 * zookeeper.connection.timeout.ms are ours (a cluster). */
	expect_sample("kafka-3-server.properties", 8, 0);

	snprintf(path, sizeof(path), "%s/kafka-kraft-server.properties",
		 vectors_dir);
	fmq_config_defaults(&cfg);
	fmq_config_load_file(&cfg, path, err, sizeof(err));
	fmq_config_finish(&cfg, collect, &c);
	snprintf(want, sizeof(want), "W %s:25: process.roles: Kafka broker key "
		 "with no meaning in FluxMQ: ignored\n", path);
	CU_ASSERT_EQUAL(strncmp(c.text, want, strlen(want)), 0);

	/* config.unknown.keys=error (given last) turns them into errors. */
	memset(&c, 0, sizeof(c));
	fmq_config_defaults(&cfg);
	fmq_config_load_file(&cfg, path, err, sizeof(err));
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "config.unknown.keys=error",
				       "--set", 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_config_finish(&cfg, collect, &c), 11);
	CU_ASSERT_EQUAL(c.nwarn, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, ":25: process.roles: Kafka broker "
				      "key with no meaning in FluxMQ "
				      "(config.unknown.keys=error)"));
}

/* Every bad line is reported, in order; good lines after them apply. */
static void
test_all_errors_one_pass(void)
{
	struct fmq_config cfg;
	struct collected c = { 0 };
	char err[512], want[2048];
	const char *p = write_file("three.properties",
		"no.such.key=1\n"
		"num.io.threads=8\n"
		"lcores.data=0\n"
		"just words\n"
		"node.id=9\n");

	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_load_file(&cfg, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: no.such.key: unknown key", p);
	CU_ASSERT_STRING_EQUAL(err, want);      /* the first one */
	CU_ASSERT_EQUAL(cfg.node_id, 9);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "poll.mode=x", "--set", 1, err,
				       sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(fmq_config_finish(&cfg, collect, &c), 4);
	snprintf(want, sizeof(want),
		 "E %s:1: no.such.key: unknown key\n"
		 "W %s:2: num.io.threads: Kafka broker key with no meaning in "
		 "FluxMQ: ignored\n"
		 "E %s:3: lcores.data: out of range: must be 1..127\n"
		 "E %s:4: just words: expected key=value\n"
		 "E --set:1: poll.mode: invalid value 'x': must be one of "
		 "adaptive|busy\n", p, p, p, p);
	CU_ASSERT_STRING_EQUAL(c.text, want);
	if (strcmp(c.text, want) != 0)
		fprintf(stderr, "\n got:\n%swant:\n%s", c.text, want);
	/* Finish empties the list. */
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(fmq_config_finish(&cfg, collect, &c), 0);
	CU_ASSERT_EQUAL(c.nwarn, 0);
}

static int64_t
retention_after(const char *text, unsigned int *nwarn, unsigned int *nerr)
{
	struct fmq_config cfg;
	struct collected c = { 0 };
	char err[512];
	const char *p = write_file("alias.properties", text);

	fmq_config_defaults(&cfg);
	fmq_config_load_file(&cfg, p, err, sizeof(err));
	*nerr = fmq_config_finish(&cfg, collect, &c);
	*nwarn = c.nwarn;
	return cfg.log_retention_ms;
}

static void
test_aliases_and_precedence(void)
{
	struct fmq_config cfg;
	struct collected c = { 0 };
	unsigned int w, e;
	char err[512];

	CU_ASSERT_EQUAL(retention_after("log.retention.hours=2\n", &w, &e),
			7200000);
	CU_ASSERT_EQUAL(w + e, 0);
	CU_ASSERT_EQUAL(retention_after("log.retention.minutes=3\n", &w, &e),
			180000);
	/* ms over minutes over hours, whatever the order; each loser warns. */
	CU_ASSERT_EQUAL(retention_after("log.retention.ms=1000\n"
					"log.retention.minutes=3\n"
					"log.retention.hours=2\n", &w, &e), 1000);
	CU_ASSERT_EQUAL(w, 2);
	CU_ASSERT_EQUAL(retention_after("log.retention.hours=2\n"
					"log.retention.minutes=3\n", &w, &e),
			180000);
	CU_ASSERT_EQUAL(w, 0);
	CU_ASSERT_EQUAL(retention_after("log.retention.minutes=3\n"
					"log.retention.hours=2\n", &w, &e),
			180000);
	CU_ASSERT_EQUAL(w, 1);
	/* Equal names: the last one wins. */
	CU_ASSERT_EQUAL(retention_after("log.retention.hours=2\n"
					"log.retention.hours=5\n", &w, &e),
			18000000);
	/* Kafka's forever. */
	CU_ASSERT_EQUAL(retention_after("log.retention.hours=-1\n", &w, &e), -1);
	CU_ASSERT_EQUAL(e, 0);
	/* Out of 64 bits, or not a number: an error naming Kafka's key. */
	retention_after("log.retention.hours=9223372036854775807\n", &w, &e);
	CU_ASSERT_EQUAL(e, 1);
	retention_after("log.retention.hours=2h\n", &w, &e);
	CU_ASSERT_EQUAL(e, 1);

	fmq_config_defaults(&cfg);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "broker.id=7", "--set", 1, err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.node_id, 7);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "log.roll.hours=1", "--set", 2, err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.log_roll_ms, 3600000);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "log.dirs=/b", "--set", 3, err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "log.dir=/a", "--set", 4, err,
				       sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.log_dirs, "/b");
	CU_ASSERT_EQUAL(fmq_config_set(&cfg, "broker.id=x", "--set", 5, err,
				       sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--set:5: broker.id: invalid value 'x': "
			       "expected an integer");
	CU_ASSERT_EQUAL(fmq_config_finish(&cfg, collect, &c), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "W --set:4: log.dir: ignored: "
				      "log.dirs (--set:3) takes precedence\n"));
	/* An error later names the alias that set the key. */
	fmq_config_error(&cfg, "node.id", err, sizeof(err), "x");
	CU_ASSERT_STRING_EQUAL(err, "--set:1: node.id: x");
}

/* ---- logging --------------------------------------------------------- */

/* Run fn with stderr going to a file; return what it wrote (static). */
static const char *
capture_stderr(void (*fn)(void))
{
	static char out[8192];
	char path[300];
	int saved = dup(2), fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	fflush(stderr);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return out;
}

static enum fmq_log_level
warn_level(void)
{
	return FMQ_LOG_WARN;
}

static void
log_some(void)
{
	FILE *f = fmq_log_stream("dpdk", warn_level);

	FMQ_INFO("test", "hello \"q\" \\ %d", 42);
	FMQ_DEBUG("test", "not shown at info");
	/* A line in pieces, then two lines in one write. */
	fputs("EAL: Detected ", f);
	fprintf(f, "%d lcores\n", 2);
	fputs("EAL: one\nEAL: two\n", f);
	fclose(f);
}

/* "2026-12-07T04:10:21.123+00:00" at the start of s. */
static bool
iso_at(const char *s)
{
	int y, mo, d, h, mi, sec, ms, oh, om;
	char sign, t;

	return sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d.%3d%c%2d:%2d", &y, &mo, &d,
		      &t, &h, &mi, &sec, &ms, &sign, &oh, &om) == 11 &&
	       t == 'T' && (sign == '+' || sign == '-') &&
	       (s[29] == ' ' || s[29] == '"');
}

static void
log_limited(void)
{
	struct fmq_log_rl rl = { 0 };
	int wrote = 0;

	/* 1000 refusals in a burst: one line, the rest counted. */
	for (int i = 0; i < 1000; i++)
		wrote += fmq_log_rl(&rl, 200000000ull, FMQ_LOG_INFO, "test",
				    "client %d refused", i);
	CU_ASSERT_EQUAL(wrote, 1);
	CU_ASSERT_EQUAL(rl.dropped, 999);
	usleep(250000);
	CU_ASSERT_TRUE(fmq_log_rl(&rl, 200000000ull, FMQ_LOG_INFO, "test",
				  "client %d refused", 1000));
	CU_ASSERT_EQUAL(rl.dropped, 0);
	/* Below the level: neither written nor counted. */
	CU_ASSERT_FALSE(fmq_log_rl(&rl, 0, FMQ_LOG_DEBUG, "test", "quiet"));
}

static void
test_log_rate_limit(void)
{
	const char *out;

	fmq_log_set_level(FMQ_LOG_INFO);
	out = capture_stderr(log_limited);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " INFO  test: client 0 refused\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " INFO  test: client 1000 refused "
				      "(and 999 more like it in the last "));
	CU_ASSERT_PTR_NULL(strstr(out, "client 1 refused"));
	CU_ASSERT_PTR_NULL(strstr(out, "quiet"));
}

static void
test_log_text_and_json(void)
{
	const char *out, *l;

	fmq_log_set_level(FMQ_LOG_INFO);
	fmq_log_set_json(false);
	out = capture_stderr(log_some);
	/* Four lines, each "ISO LEVEL comp: msg". */
	l = out;
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_TRUE(iso_at(l));
		l = strchr(l, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		l++;
	}
	CU_ASSERT_EQUAL(*l, '\0');
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " INFO  test: hello \"q\" \\ 42\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " WARN  dpdk: EAL: Detected 2 lcores\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " WARN  dpdk: EAL: one\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " WARN  dpdk: EAL: two\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "not shown"));

	fmq_log_set_json(true);
	out = capture_stderr(log_some);
	fmq_log_set_json(false);
	CU_ASSERT_EQUAL(strncmp(out, "{\"ts\":\"", 7), 0);
	CU_ASSERT_TRUE(iso_at(out + 7));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\",\"level\":\"INFO\",\"comp\":\"test\","
				      "\"msg\":\"hello \\\"q\\\" \\\\ 42\"}\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"level\":\"WARN\",\"comp\":\"dpdk\","
				      "\"msg\":\"EAL: Detected 2 lcores\"}\n"));
}

static bool
readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Single thread: the bell only writes while armed, and disarm empties it. */
static void
test_doorbell_basics(void)
{
	struct fmq_doorbell db;

	CU_ASSERT_EQUAL_FATAL(fmq_doorbell_init(&db), 0);
	fmq_doorbell_ring(&db);                 /* not asleep: no write */
	CU_ASSERT_FALSE(readable(db.fd, 0));
	CU_ASSERT_EQUAL(db.rung, 0);
	fmq_doorbell_arm(&db);
	fmq_doorbell_ring(&db);
	fmq_doorbell_ring(&db);                 /* second sender: flag taken */
	CU_ASSERT_TRUE(readable(db.fd, 0));
	CU_ASSERT_EQUAL(db.rung, 1);
	fmq_doorbell_disarm(&db, true);
	CU_ASSERT_FALSE(readable(db.fd, 0));
	/* Armed, nobody rang, woke by timeout: nothing to read. */
	fmq_doorbell_arm(&db);
	fmq_doorbell_disarm(&db, false);
	CU_ASSERT_FALSE(readable(db.fd, 0));
	fmq_doorbell_fini(&db);
}

/*
 * Two threads hand a token back and forth through a "ring" (a counter);
 * the receiver sleeps on the bell after checking the counter. A lost
 * wakeup would show as a sleep that runs into its (1 s) timeout.
 */
#define DB_ROUNDS 20000
struct db_pair {
	struct fmq_doorbell bell;
	uint64_t sent;            /* the ring: producer's count */
	uint64_t seen;            /* consumer's progress */
	uint64_t timeouts;
};

static void *
db_sender(void *arg)
{
	struct db_pair *p = arg;

	for (uint64_t i = 1; i <= DB_ROUNDS; i++) {
		/* Wait until the consumer took the previous one, then send. */
		while (__atomic_load_n(&p->seen, __ATOMIC_ACQUIRE) != i - 1)
			;
		__atomic_store_n(&p->sent, i, __ATOMIC_RELEASE);
		fmq_doorbell_ring(&p->bell);
	}
	return NULL;
}

static void
test_doorbell_no_lost_wakeup(void)
{
	struct db_pair p = { .sent = 0 };
	pthread_t t;
	uint64_t sleeps = 0;

	CU_ASSERT_EQUAL_FATAL(fmq_doorbell_init(&p.bell), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, db_sender, &p), 0);
	while (p.seen < DB_ROUNDS) {
		bool fired;
		if (__atomic_load_n(&p.sent, __ATOMIC_ACQUIRE) > p.seen) {
			__atomic_store_n(&p.seen, p.seen + 1, __ATOMIC_RELEASE);
			continue;
		}
		fmq_doorbell_arm(&p.bell);
		if (__atomic_load_n(&p.sent, __ATOMIC_ACQUIRE) > p.seen) {
			fmq_doorbell_disarm(&p.bell, false);
			continue;
		}
		sleeps++;
		fired = readable(p.bell.fd, 1000);
		if (!fired)
			p.timeouts++;
		fmq_doorbell_disarm(&p.bell, fired);
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(p.timeouts, 0);
	CU_ASSERT_TRUE(sleeps > 0);               /* the sleep path ran */
	CU_ASSERT_TRUE(p.bell.rung > 0);
	fmq_doorbell_fini(&p.bell);
}

/* fmq_mkdir_p: parents made, an existing directory is fine, a file in the
 * way and bad paths are refused with their errno. */
static void
test_mkdir_p(void)
{
	char deep[256], file[256], under_file[300], longp[PATH_MAX + 16];
	struct stat st;

	snprintf(deep, sizeof(deep), "%s/a/b//c/", tmpdir);
	CU_ASSERT_EQUAL(fmq_mkdir_p(deep), 0);
	CU_ASSERT(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(fmq_mkdir_p(deep), 0);          /* exists: fine */
	snprintf(file, sizeof(file), "%s/a/f", tmpdir);
	CU_ASSERT_EQUAL(close(open(file, O_CREAT | O_WRONLY, 0644)), 0);
	snprintf(under_file, sizeof(under_file), "%s/g", file);
	CU_ASSERT_EQUAL(fmq_mkdir_p(under_file), -ENOTDIR);
	CU_ASSERT_EQUAL(fmq_mkdir_p(""), -EINVAL);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CU_ASSERT_EQUAL(fmq_mkdir_p(longp), -ENAMETOOLONG);
	unlink(file);
	snprintf(deep, sizeof(deep), "%s/a/b/c", tmpdir);
	rmdir(deep);
	snprintf(deep, sizeof(deep), "%s/a/b", tmpdir);
	rmdir(deep);
	snprintf(deep, sizeof(deep), "%s/a", tmpdir);
	CU_ASSERT_EQUAL(rmdir(deep), 0);                /* nothing else left */
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	int fails;

	if (getenv("FMQ_CONFIG_VECTORS") != NULL)
		vectors_dir = getenv("FMQ_CONFIG_VECTORS");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("util", NULL, NULL);
	CU_add_test(s, "defaults parse and are documented", test_defaults_round_trip);
	CU_add_test(s, "good file, --set override, error origins", test_good_file);
	CU_add_test(s, "bad values: exact messages", test_bad_values);
	CU_add_test(s, "missing file, overlong value", test_missing_file_and_long_value);
	CU_add_test(s, "configuration doc lists every key", test_doc_lists_every_key);
	CU_add_test(s, "Kafka's broker key names", test_kafka_names_sorted);
	CU_add_test(s, "Kafka's sample server.properties", test_kafka_samples);
	CU_add_test(s, "every error in one pass", test_all_errors_one_pass);
	CU_add_test(s, "Kafka aliases, units, precedence",
		    test_aliases_and_precedence);
	CU_add_test(s, "log lines: ISO 8601, JSON, FILE * stream",
		    test_log_text_and_json);
	CU_add_test(s, "rate-limited log lines", test_log_rate_limit);
	CU_add_test(s, "histogram error below 1%", test_hist_error);
	CU_add_test(s, "histogram counts at or below a bound",
		    test_hist_count_le);
	CU_add_test(s, "metrics text rendering", test_metrics_render);
	CU_add_test(s, "metrics from X-macro tables", test_metrics_table);
	CU_add_test(s, "doorbell: arm, ring, disarm", test_doorbell_basics);
	fmq_test_slow(CU_add_test(s, "doorbell: no lost wakeup (2 threads)",
				  test_doorbell_no_lost_wakeup));
	CU_add_test(s, "mkdir -p: parents, existing, errors", test_mkdir_p);
	fails = fmq_test_run(argc, argv);
	unlink(write_file("good.properties", ""));
	unlink(write_file("bad.properties", ""));
	unlink(write_file("three.properties", ""));
	unlink(write_file("alias.properties", ""));
	rmdir(tmpdir);
	return fails;
}
