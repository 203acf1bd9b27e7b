/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq-bench: the FluxMQ load generator.
 *
 *   fluxmq-bench [EAL options] -- [options]     DPDK (memif or a NIC)
 *   fluxmq-bench --kernel [options]             kernel sockets
 *   fluxmq-bench --workload ceilings            machine ceilings only
 *
 * One JSON line per run on stdout; progress on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_EAL_ARGS 64

static struct bench bench;

const char *const codec_names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

static void
on_signal(int sig)
{
	(void)sig;
	bench.stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fluxmq-bench [EAL options] -- [options]    (DPDK: memif or a NIC)\n"
"       fluxmq-bench --kernel [options]            (kernel sockets)\n"
"\n"
"Connection:\n"
"  --kernel               kernel TCP sockets instead of DPDK\n"
"  --broker IP:PORT       broker address (DPDK default 10.88.9.2:9092,\n"
"                         kernel default 127.0.0.1:9092)\n"
"  --local-ip CIDR        DPDK: our address (default 10.88.9.100/24)\n"
"  --net KEY=VALUE        DPDK: lib/net setting (net.tcp.*), repeatable\n"
"  --connections N        producing connections (default 1)\n"
"  --fetch-connections N  produce-fetch: fetching connections (default 1)\n"
"  --inflight N           requests in flight per connection (default 5)\n"
"  --queues N             DPDK: port queue pairs (default 1). Over memif\n"
"                         give exactly the broker's lcores.data: memif\n"
"                         maps a queue the peer lacks onto ring 0\n"
"  --broker-lcores N      DPDK: the broker's data lcores (default --queues);\n"
"                         source ports are chosen so connection i hashes\n"
"                         (symmetric Toeplitz, as the broker steers) to\n"
"                         lcore (i + shift) %% N\n"
"  --lcore-placement P    own (shift 0: connection i uses partitions of\n"
"                         lcore i %% N on a fresh broker), cross (shift 1:\n"
"                         every partition on another lcore), any (no\n"
"                         choice); default own\n"
"  --queue-by Q           flow (each frame on the queue of its broker\n"
"                         lcore; default) or first (all on queue 0: the\n"
"                         broker steers in software)\n"
"Workload:\n"
"  --workload W           produce | fetch | produce-fetch | echo | ceilings\n"
"  --acks A               0, 1 or -1/all (default 1)\n"
"  --msg-size B           value bytes per record (default 100)\n"
"  --batch N              records per batch = per produce request (1000)\n"
"  --compression C        none | gzip | snappy | lz4 | zstd (default none)\n"
"  --topic NAME           topic (prefix when --topics > 1); default a\n"
"                         fresh name per run: fmqbench-<pid>-<time>\n"
"  --topics N --partitions N   (default 1 and 1)\n"
"  --no-create            do not send CreateTopics (rely on auto-create)\n"
"  --rate MSGS_PER_S      open loop at this rate (latency under load);\n"
"                         default closed loop (as fast as acks return)\n"
"  --duration S --warmup S     measured time and warm-up (10 and 2)\n"
"  --count N              measure N messages instead of a duration\n"
"  --preload N            fetch: messages produced first (default 1000000)\n"
"  --fetch-max-bytes B    per partition and fetch (default 1048576)\n"
"  --templates N          distinct pre-encoded batches (default 8)\n"
"  --produce-version V --fetch-version V   force API versions\n"
"  --echo-size B          echo: bytes per message (default 64)\n"
"Output:\n"
"  --verify               fetch back every acknowledged message after the\n"
"                         run and compare it byte for byte; exit 1 on loss\n"
"  --progress S           progress line every S seconds (0: off; default 1)\n"
"  --cdf FILE             write the latency CDF (quantile, microseconds)\n"
"  --label TEXT           copied into the JSON line\n"
"  --busy                 kernel: spin instead of sleeping in epoll\n"
"  --connect-timeout S    (default 10)\n");
}

static int
parse_hostport(const char *s, uint32_t *ip, uint16_t *port)
{
	char buf[64];
	char *colon;
	long p;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return -EINVAL;
	*colon = '\0';
	p = strtol(colon + 1, NULL, 10);
	if (p <= 0 || p > 65535 || fmq_parse_ipv4(buf, ip) < 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

static int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_args(struct bench_opts *o, int argc, char **argv)
{
	enum { O_KERNEL = 256, O_BROKER, O_LOCAL, O_NET, O_CONNS, O_FCONNS,
	       O_INFL, O_WL, O_ACKS, O_SIZE, O_BATCH, O_COMP, O_TOPIC,
	       O_TOPICS, O_PARTS, O_NOCREATE, O_RATE, O_DUR, O_WARM, O_COUNT,
	       O_PRELOAD, O_FMAX, O_TMPL, O_PVER, O_FVER, O_ECHO, O_VERIFY,
	       O_PROG, O_CDF, O_LABEL, O_BUSY, O_CTO, O_HELP, O_FORGE,
	       O_QUEUES, O_BLCORES, O_PLACE, O_QBY };
	static const struct option opts[] = {
		{ "kernel", no_argument, NULL, O_KERNEL },
		{ "broker", required_argument, NULL, O_BROKER },
		{ "local-ip", required_argument, NULL, O_LOCAL },
		{ "net", required_argument, NULL, O_NET },
		{ "connections", required_argument, NULL, O_CONNS },
		{ "fetch-connections", required_argument, NULL, O_FCONNS },
		{ "inflight", required_argument, NULL, O_INFL },
		{ "workload", required_argument, NULL, O_WL },
		{ "acks", required_argument, NULL, O_ACKS },
		{ "msg-size", required_argument, NULL, O_SIZE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "compression", required_argument, NULL, O_COMP },
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "topics", required_argument, NULL, O_TOPICS },
		{ "partitions", required_argument, NULL, O_PARTS },
		{ "no-create", no_argument, NULL, O_NOCREATE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DUR },
		{ "warmup", required_argument, NULL, O_WARM },
		{ "count", required_argument, NULL, O_COUNT },
		{ "preload", required_argument, NULL, O_PRELOAD },
		{ "fetch-max-bytes", required_argument, NULL, O_FMAX },
		{ "templates", required_argument, NULL, O_TMPL },
		{ "produce-version", required_argument, NULL, O_PVER },
		{ "fetch-version", required_argument, NULL, O_FVER },
		{ "echo-size", required_argument, NULL, O_ECHO },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "progress", required_argument, NULL, O_PROG },
		{ "cdf", required_argument, NULL, O_CDF },
		{ "label", required_argument, NULL, O_LABEL },
		{ "busy", no_argument, NULL, O_BUSY },
		{ "connect-timeout", required_argument, NULL, O_CTO },
		{ "help", no_argument, NULL, O_HELP },
		/* Test hook: expect one batch that was never sent, so a test
		 * can show that verification fails when data is missing. */
		{ "test-forge-ack", no_argument, NULL, O_FORGE },
		{ "queues", required_argument, NULL, O_QUEUES },
		{ "broker-lcores", required_argument, NULL, O_BLCORES },
		{ "lcore-placement", required_argument, NULL, O_PLACE },
		{ "queue-by", required_argument, NULL, O_QBY },
		{ NULL, 0, NULL, 0 },
	};
	bool broker_given = false;
	uint64_t v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case O_KERNEL: o->kernel = true; break;
		case O_BROKER:
			rc = parse_hostport(optarg, &o->broker_ip,
					    &o->broker_port);
			broker_given = true;
			break;
		case O_LOCAL:
			rc = strlen(optarg) < sizeof(o->local_ip) ? 0 : -EINVAL;
			if (rc == 0)
				strcpy(o->local_ip, optarg);
			break;
		case O_NET:
			if (o->n_net_set == sizeof(o->net_set) / sizeof(o->net_set[0]) ||
			    strlen(optarg) >= sizeof(o->net_set[0]))
				rc = -EINVAL;
			else
				strcpy(o->net_set[o->n_net_set++], optarg);
			break;
		case O_CONNS:
			rc = parse_u64(optarg, 1, BENCH_MAX_CONNS / 2, &v);
			o->conns = (uint32_t)v;
			break;
		case O_FCONNS:
			rc = parse_u64(optarg, 1, BENCH_MAX_CONNS / 2, &v);
			o->fetch_conns = (uint32_t)v;
			break;
		case O_INFL:
			rc = parse_u64(optarg, 1, BENCH_MAX_INFLIGHT - 1, &v);
			o->inflight = (uint32_t)v;
			break;
		case O_WL:
			if (strcmp(optarg, "produce") == 0)
				o->wl = WL_PRODUCE;
			else if (strcmp(optarg, "fetch") == 0)
				o->wl = WL_FETCH;
			else if (strcmp(optarg, "produce-fetch") == 0)
				o->wl = WL_PRODUCE_FETCH;
			else if (strcmp(optarg, "echo") == 0)
				o->wl = WL_ECHO;
			else if (strcmp(optarg, "ceilings") == 0)
				o->wl = WL_CEILINGS;
			else
				rc = -EINVAL;
			break;
		case O_ACKS:
			if (strcmp(optarg, "all") == 0 || strcmp(optarg, "-1") == 0)
				o->acks = -1;
			else if (strcmp(optarg, "0") == 0 || strcmp(optarg, "1") == 0)
				o->acks = optarg[0] - '0';
			else
				rc = -EINVAL;
			break;
		case O_SIZE:
			rc = parse_u64(optarg, 1, 1 << 20, &v);
			o->msg_size = (uint32_t)v;
			break;
		case O_BATCH:
			rc = parse_u64(optarg, 1, 1 << 20, &v);
			o->batch = (uint32_t)v;
			break;
		case O_COMP:
			rc = -EINVAL;
			for (int k = CODEC_NONE; k <= CODEC_ZSTD; k++)
				if (strcmp(optarg, codec_names[k]) == 0) {
					o->codec = (enum codec)k;
					rc = 0;
				}
			break;
		case O_TOPIC:
			rc = strlen(optarg) < sizeof(o->topic) - 8 ? 0 : -EINVAL;
			if (rc == 0) {
				strcpy(o->topic, optarg);
				o->topic_given = true;
			}
			break;
		case O_TOPICS:
			rc = parse_u64(optarg, 1, 1024, &v);
			o->topics = (uint32_t)v;
			break;
		case O_PARTS:
			rc = parse_u64(optarg, 1, BENCH_MAX_TPS, &v);
			o->partitions = (uint32_t)v;
			break;
		case O_NOCREATE: o->create_topics = false; break;
		case O_RATE:
			o->rate = strtod(optarg, NULL);
			rc = o->rate > 0 ? 0 : -EINVAL;
			break;
		case O_DUR:
			o->duration_s = strtod(optarg, NULL);
			rc = o->duration_s > 0 ? 0 : -EINVAL;
			break;
		case O_WARM:
			o->warmup_s = strtod(optarg, NULL);
			rc = o->warmup_s >= 0 ? 0 : -EINVAL;
			break;
		case O_COUNT:
			rc = parse_u64(optarg, 1, UINT64_MAX, &o->count);
			break;
		case O_PRELOAD:
			rc = parse_u64(optarg, 1, UINT64_MAX, &o->preload);
			break;
		case O_FMAX:
			rc = parse_u64(optarg, 1024, 64 << 20, &v);
			o->fetch_max_bytes = (uint32_t)v;
			break;
		case O_TMPL:
			rc = parse_u64(optarg, 1, BENCH_MAX_TEMPLATES, &v);
			o->templates = (uint32_t)v;
			break;
		case O_PVER:
			rc = parse_u64(optarg, 3, 9, &v);
			o->produce_ver = (int)v;
			break;
		case O_FVER:
			rc = parse_u64(optarg, 4, 12, &v);
			o->fetch_ver = (int)v;
			break;
		case O_ECHO:
			rc = parse_u64(optarg, 1, 1 << 20, &v);
			o->echo_size = (uint32_t)v;
			break;
		case O_VERIFY: o->verify = true; break;
		case O_PROG:
			o->progress_s = strtod(optarg, NULL);
			break;
		case O_CDF:
			rc = strlen(optarg) < sizeof(o->cdf_path) ? 0 : -EINVAL;
			if (rc == 0)
				strcpy(o->cdf_path, optarg);
			break;
		case O_LABEL:
			rc = strlen(optarg) < sizeof(o->label) &&
				strpbrk(optarg, "\"\\") == NULL ? 0 : -EINVAL;
			if (rc == 0)
				strcpy(o->label, optarg);
			break;
		case O_BUSY: o->busy = true; break;
		case O_CTO:
			o->connect_timeout_s = strtod(optarg, NULL);
			rc = o->connect_timeout_s > 0 ? 0 : -EINVAL;
			break;
		case O_FORGE: o->test_forge_ack = true; break;
		case O_QUEUES:
			rc = parse_u64(optarg, 1, BENCH_MAX_QUEUES, &v);
			o->queues = (uint32_t)v;
			break;
		case O_BLCORES:
			rc = parse_u64(optarg, 1, 128, &v);
			o->broker_lcores = (uint32_t)v;
			break;
		case O_PLACE:
			if (strcmp(optarg, "own") == 0)
				o->lcore_shift = 0;
			else if (strcmp(optarg, "cross") == 0)
				o->lcore_shift = 1;
			else if (strcmp(optarg, "any") == 0)
				o->lcore_shift = -1;
			else
				rc = -EINVAL;
			break;
		case O_QBY:
			if (strcmp(optarg, "flow") == 0)
				o->queue_first = false;
			else if (strcmp(optarg, "first") == 0)
				o->queue_first = true;
			else
				rc = -EINVAL;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (rc < 0) {
			fprintf(stderr, "fluxmq-bench: bad value for --%s: %s\n",
				opts[c - O_KERNEL].name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fluxmq-bench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!broker_given) {
		if (o->kernel)
			parse_hostport("127.0.0.1:9092", &o->broker_ip,
				       &o->broker_port);
		else
			parse_hostport("10.88.9.2:9092", &o->broker_ip,
				       &o->broker_port);
	}
	if (o->wl == WL_ECHO && !broker_given)
		o->broker_port = 7;
	if (!o->topic_given)
		snprintf(o->topic, sizeof(o->topic), "fmqbench-%d-%" PRIu64,
			 (int)getpid(), (uint64_t)fmq_wall_ms() / 1000);
	if (o->wl == WL_ECHO && o->verify) {
		fprintf(stderr, "fluxmq-bench: --verify needs a Kafka workload\n");
		return -EINVAL;
	}
	if (o->acks == 0 && o->rate > 0) {
		fprintf(stderr, "fluxmq-bench: open loop needs acks (latency is "
			"measured to the acknowledgement)\n");
		return -EINVAL;
	}
	if (o->broker_lcores == 0)
		o->broker_lcores = o->queues;
	if ((uint64_t)o->topics * o->partitions > BENCH_MAX_TPS) {
		fprintf(stderr, "fluxmq-bench: at most %d partitions in all\n",
			BENCH_MAX_TPS);
		return -EINVAL;
	}
	return 0;
}

static void
defaults(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wl = WL_PRODUCE;
	strcpy(o->local_ip, "10.88.9.100/24");
	o->msg_size = 100;
	o->batch = 1000;
	o->topics = 1;
	o->partitions = 1;
	o->create_topics = true;
	o->conns = 1;
	o->fetch_conns = 1;
	o->inflight = 5;
	o->acks = 1;
	o->duration_s = 10;
	o->warmup_s = 2;
	o->templates = 8;
	o->preload = 1000000;
	o->fetch_max_bytes = 1 << 20;
	o->progress_s = 1;
	o->produce_ver = -1;
	o->fetch_ver = -1;
	o->echo_size = 64;
	o->connect_timeout_s = 10;
	o->queues = 1;
}

static int
write_cdf(const struct bench *b, const char *path)
{
	const struct fmq_hist *h = b->o.wl == WL_FETCH ? &b->fetch.lat :
		&b->prod.lat;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -errno;
	fprintf(f, "# quantile latency_us (%s, %" PRIu64 " samples)\n",
		b->o.label, h->count);
	if (h->count > 0) {
		/* Dense where the tail is: 1 - q spaced logarithmically. */
		for (double tail = 1.0; tail >= 1e-5; tail /= 1.2) {
			double q = 1.0 - tail;
			fprintf(f, "%.6f %.3f\n", q,
				fmq_hist_quantile(h, q) / 1e3);
		}
		fprintf(f, "1.000000 %.3f\n", (double)h->max / 1e3);
	}
	fclose(f);
	return 0;
}

/* Split argv at "--": EAL arguments before, ours after. */
static int
split_args(int argc, char **argv, char **eal, int *neal, int *ours)
{
	static char store[8][192];
	int sep = -1, n = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	eal[n++] = argv[0];
	if (sep > 0) {
		for (int i = 1; i < sep && n < MAX_EAL_ARGS - 1; i++)
			eal[n++] = argv[i];
		*ours = sep;
	} else {
		/* Defaults: the memif client of a broker on this host. */
		snprintf(store[0], sizeof(store[0]), "--lcores=0@(0-%ld)",
			 ncpu > 1 ? ncpu - 1 : 0);
		snprintf(store[1], sizeof(store[1]), "--in-memory");
		snprintf(store[2], sizeof(store[2]), "--file-prefix=fmqbench");
		snprintf(store[3], sizeof(store[3]), "--no-pci");
		snprintf(store[4], sizeof(store[4]),
			 "--vdev=net_memif0,role=client,id=0,"
			 "socket=/tmp/fmq-memif.sock,socket-abstract=no");
		snprintf(store[5], sizeof(store[5]), "--log-level=warning");
		for (int i = 0; i < 6; i++)
			eal[n++] = store[i];
		*ours = 0;
	}
	eal[n] = NULL;
	*neal = n;
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench *b = &bench;
	char *eal[MAX_EAL_ARGS];
	int neal, ours, rc, status = 0;
	static uint8_t arena[16 << 20];

	split_args(argc, argv, eal, &neal, &ours);
	defaults(&b->o);
	{
		char *save = argv[ours];
		argv[ours] = argv[0];
		rc = parse_args(&b->o, argc - ours, argv + ours);
		argv[ours] = save;
	}
	if (rc < 0)
		return 2;
	if (b->o.wl == WL_CEILINGS)
		return ceilings_run(stdout, 1.0) < 0 ? 1 : 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	b->x = b->o.kernel ? &xport_kernel : &xport_dpdk;
	b->nconns = b->o.conns +
		(b->o.wl == WL_PRODUCE_FETCH ? b->o.fetch_conns : 0);
	for (unsigned int i = 0; i < b->nconns; i++) {
		b->conns[i].idx = i;
		b->conns[i].fd = -1;
	}
	b->segs = calloc(BENCH_MAX_SEGS, sizeof(*b->segs));
	b->scratch = malloc(1 << 20);
	if (b->segs == NULL || b->scratch == NULL)
		return 1;
	fmq_kafka_arena_init(&b->arena, arena, sizeof(arena));
	rc = b->x->init(b, neal, eal);
	if (rc < 0) {
		status = 1;
		goto out;
	}
	if (b->o.wl == WL_ECHO) {
		rc = b->x->tmpl_alloc(b, &b->echo_tmpl, b->o.echo_size);
		if (rc < 0) {
			status = 1;
			goto out;
		}
		for (uint32_t i = 0; i < b->o.echo_size; i++)
			b->echo_tmpl.buf[i] = (uint8_t)('a' + i % 26);
		b->echo_tmpl.len = b->o.echo_size;
	} else {
		rc = records_build_templates(b);
		if (rc < 0) {
			fprintf(stderr, "fluxmq-bench: building batches: %s\n",
				strerror(-rc));
			status = 1;
			goto out;
		}
	}
	rc = proto_connect_all(b);
	if (rc == 0 && b->o.wl != WL_ECHO)
		rc = proto_setup(b);
	if (rc == 0 && b->o.wl == WL_ECHO)
		for (unsigned int i = 0; i < b->nconns; i++)
			b->conns[i].producer = true;
	if (rc == 0)
		rc = proto_run(b);
	if (rc == 0 && b->o.verify && !b->stop) {
		rc = proto_verify(b);
		if (rc < 0)
			fprintf(stderr, "fluxmq-bench: verification could not "
				"run: %s\n", strerror(-rc));
	}
	if (rc < 0) {
		status = 1;
	} else {
		report_json(b, stdout);
		report_summary(b, stderr);
		if (b->o.cdf_path[0] != '\0' &&
		    write_cdf(b, b->o.cdf_path) < 0)
			fprintf(stderr, "fluxmq-bench: %s: %s\n",
				b->o.cdf_path, strerror(errno));
		if (b->kafka_errors || b->proto_errors ||
		    (b->o.verify && !b->v_ok))
			status = 1;
	}
	/* Stop the traffic, then leave (a memif peer must not see us vanish
	 * under load). */
	proto_close_all(b);
out:
	b->x->fini(b);
	return status;
}
