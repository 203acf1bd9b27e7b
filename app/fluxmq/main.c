/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq: EAL start-up, configuration, port bring-up, lcore roles
 * (the main lcore is the control lcore; the others are data lcores),
 * signals and orderly shutdown.
 *
 *   fluxmq [EAL options] -- [--config FILE] [--set key=value]...
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_log.h>

#include "app.h"
#include "fmq_sasl.h"
#include "steer.h"

#define EXIT_CONFIG 2
#define MAX_EAL_ARGS 128
/* The control lcore also answers forwarded requests and runs the
 * flusher, so it looks at its rings every millisecond. */
#define CONTROL_TICK_US 1000
#define MAX_PARTITIONS 100000

static struct app app;
/* --add-scram specs: credentials written before any start (no DPDK). */
static const char **add_scram;
static int n_add_scram;

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&app.quit, true);
}

/* SIGHUP: read the TLS key, certificates and CA files again. */
static atomic_bool hup;

static void
on_hup(int sig)
{
	(void)sig;
	atomic_store(&hup, true);
}

static void
reload_tls(struct app *a)
{
	char err[512];

	if (fmq_broker_tls_reload(a->broker, &a->cfg, err, sizeof(err)) < 0)
		FMQ_ERR("main", "SIGHUP: %s; the certificates in use stay",
			err);
	else
		FMQ_INFO("main", "SIGHUP: TLS key and certificates read again "
			 "(new connections use them)");
}

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [EAL options] -- [--config FILE] [--set key=value]...\n"
		"       %s --dump-config-doc | --version | --help\n"
		"       %s [--config FILE] [--set key=value]... --add-scram "
		"'SCRAM-SHA-256=[name=alice,password=secret]'...\n\n"
		"With no port in the EAL options, FluxMQ creates the TAP interface\n"
		"dev.tap.name (fmq0), takes net.ip (10.77.0.2/24) and gives the\n"
		"kernel side dev.tap.host_ip (10.77.0.1/24).\n"
		"--add-scram (repeatable; also iterations=N, salt=<base64>)\n"
		"adds SCRAM credentials to sasl.credentials.file and exits,\n"
		"without starting DPDK.\n"
		"Configuration keys: docs/configuration.md.\n", prog, prog, prog);
}

/* Does the EAL argument list contain one of the given options? */
static bool
eal_has(int argc, char **argv, const char *const *opts)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *o = opts; *o != NULL; o++) {
			size_t l = strlen(*o);
			if (strncmp(argv[i], *o, l) == 0 &&
			    (argv[i][l] == '\0' || argv[i][l] == '=' ||
			     (*o)[1] != '-'))
				return true;
		}
	return false;
}

static bool
hugepages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long freep = 0;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &freep) == 1)
			break;
	fclose(f);
	return freep > 0;
}

/*
 * Build the EAL argument list: the user's, plus defaults for what the user
 * left out (lcores, memory mode, and the embedded TAP port).
 */
static int
build_eal_args(int uargc, char **uargv, char **out, char *storage,
	       size_t storage_len, bool *embedded_tap)
{
	static const char *const lcore_opts[] = { "-l", "-c", "--lcores", "-L", NULL };
	static const char *const mem_opts[] = { "--in-memory", "--file-prefix",
						"--no-shconf", NULL };
	static const char *const port_opts[] = { "--vdev", "-a", "--allow", "-b",
						 "--block", NULL };
	static const char *const huge_opts[] = { "--no-huge", "-m",
						 "--socket-mem", NULL };
	int n = 0;
	size_t used = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

#define ADD(...) \
	do { \
		int l_ = snprintf(storage + used, storage_len - used, __VA_ARGS__); \
		if (l_ < 0 || (size_t)l_ >= storage_len - used || n >= MAX_EAL_ARGS - 2) \
			return -E2BIG; \
		out[n++] = storage + used; \
		used += (size_t)l_ + 1; \
	} while (0)

	out[n++] = uargv[0];
	for (int i = 1; i < uargc; i++) {
		if (n >= MAX_EAL_ARGS - 8)
			return -E2BIG;
		out[n++] = uargv[i];
	}
	if (!eal_has(uargc, uargv, lcore_opts)) {
		/* Control lcore 0 floats; data lcore i runs on CPU i % ncpu. */
		char list[512];
		size_t l = 0;
		if (ncpu < 1)
			ncpu = 1;
		l += (size_t)snprintf(list + l, sizeof(list) - l, "0@(0-%ld)",
				      ncpu - 1);
		for (uint64_t i = 1; i <= app.cfg.lcores_data && l < sizeof(list); i++)
			l += (size_t)snprintf(list + l, sizeof(list) - l,
					      ",%" PRIu64 "@%ld", i,
					      (long)(i % (uint64_t)ncpu));
		if (l >= sizeof(list))
			return -E2BIG;
		ADD("--lcores=%s", list);
	}
	bool nohuge = eal_has(uargc, uargv, (const char *const[]){ "--no-huge", NULL });
	if (!eal_has(uargc, uargv, huge_opts) && !hugepages_free()) {
		FMQ_WARN("main", "no free hugepages: running on ordinary memory "
			 "(--no-huge); reserve some with scripts/setup.sh");
		ADD("--no-huge");
		ADD("-m");
		ADD("1024");
		nohuge = true;
	}
	if (!eal_has(uargc, uargv, mem_opts)) {
		ADD("%s", nohuge ? "--no-shconf" : "--in-memory");
		/* Runtime dir (telemetry socket) per instance. */
		ADD("--file-prefix=fluxmq-%s", app.cfg.dev_tap_name);
	} else if (!nohuge &&
		   !eal_has(uargc, uargv, (const char *const[]){
				"--in-memory", "--huge-unlink", NULL })) {
		/*
		 * A --file-prefix of the user's: the EAL backs its memory
		 * with <prefix>map_* files in hugetlbfs, which outlive the
		 * process (33 of them, 66 MiB, after every clean stop, and a
		 * kill -9 leaves them too). Unlinked once mapped, they go
		 * with the process. No secondary process attaches to ours,
		 * so nothing needs to find them. (The hot pool in
		 * log.hot.dir is not EAL memory: it stays, by design.)
		 */
		ADD("--huge-unlink");
	}
	*embedded_tap = !eal_has(uargc, uargv, port_opts);
	if (*embedded_tap) {
		uint8_t mac[6] = { 0x02, 0x00, 0x4d, 0x51, 0x00, 0x02 };
		if (app.cfg.net_mac.set)
			memcpy(mac, app.cfg.net_mac.b, 6);
		if (!eal_has(uargc, uargv, (const char *const[]){ "--no-pci", NULL }))
			ADD("--no-pci");
		ADD("--vdev=net_tap0,iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x",
		    app.cfg.dev_tap_name, mac[0], mac[1], mac[2], mac[3],
		    mac[4], mac[5]);
	}
	out[n] = NULL;
#undef ADD
	return n;
}

/* The partition log, the cluster id and the broker's shared state. */
static int
setup_storage(struct app *a, char *err, size_t errlen)
{
	struct fmq_log_params lp;

	fmq_log_params_from_config(&lp, &a->cfg, a->n_data, MAX_PARTITIONS);
	lp.register_extmem = true;
	/* One node: nb_nodes stays 0, the single "hotpool" of before. */
	if (a->n_nodes > 1) {
		lp.nb_nodes = a->n_nodes;
		memcpy(lp.node_hot_bytes, a->node_hot_bytes,
		       sizeof(lp.node_hot_bytes));
		lp.lcore_node = a->lcore_node;
	}
	a->log = fmq_log_create(&lp, err, errlen);
	if (a->log == NULL)
		return -errno;
	fmq_metrics_register(a->metrics, fmq_log_metrics, a->log);
	if (fmq_ctrl_cluster_id(&a->cfg, a->cluster_id, sizeof(a->cluster_id),
				err, errlen) < 0)
		return -EINVAL;
	a->broker = fmq_broker_create(&a->cfg, a->log, a->n_data,
				      a->cluster_id, err, errlen);
	if (a->broker == NULL)
		return -EINVAL;
	fmq_metrics_register(a->metrics, fmq_broker_metrics, a->broker);
	return 0;
}

/*
 * Parse everything after "--". Returns 0, 1 (exit 0 done), or -1 with err
 * (a bad option). Every --config is read, then every --set applied, so
 * --set wins whatever the order; bad lines do not stop the reading: they
 * wait in the config's list for fmq_config_finish.
 */
static int
parse_app_args(int argc, char **argv, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "dump-config-doc", no_argument, NULL, 'D' },
		{ "add-scram", required_argument, NULL, 'A' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *files[argc + 1], *sets[argc + 1];
	int c, nfiles = 0, nsets = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			files[nfiles++] = optarg;
			break;
		case 's':
			sets[nsets++] = optarg;
			break;
		case 'A':
			if (add_scram == NULL)
				add_scram = calloc((size_t)argc,
						   sizeof(*add_scram));
			if (add_scram == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			add_scram[n_add_scram++] = optarg;
			break;
		case 'D':
			fmq_config_write_doc(stdout);
			return 1;
		case 'V':
			printf("fluxmq %s\n", FMQ_VERSION);
			return 1;
		case 'h':
			usage(stdout, argv[0]);
			return 1;
		default:
			snprintf(err, errlen, "unknown option %s (see --help)",
				 argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)",
			 argv[optind]);
		return -1;
	}
	for (int i = 0; i < nfiles; i++)
		fmq_config_load_file(&app.cfg, files[i], err, errlen);
	for (int i = 0; i < nsets; i++)
		fmq_config_set(&app.cfg, sets[i], "--set", i + 1, err, errlen);
	return 0;
}

/* A start-up failure: "fluxmq: reason" on stderr, or a JSON log line. */
static void
say_fail(const char *msg)
{
	if (fmq_log_is_json())
		FMQ_ERR("main", "%s", msg);
	else
		fprintf(stderr, "fluxmq: %s\n", msg);
}

/* fmq_config_finish's report: errors as start-up failures, warnings
 * through the log. */
static void
config_report(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	if (is_error)
		say_fail(msg);
	else
		FMQ_WARN("config", "%s", msg);
}

/* DPDK's log through ours: the level of the message being written. */
static enum fmq_log_level
dpdk_level(void)
{
	int l = rte_log_cur_msg_loglevel();

	if (l <= (int)RTE_LOG_ERR)
		return FMQ_LOG_ERR;
	if (l == (int)RTE_LOG_WARNING)
		return FMQ_LOG_WARN;
	if (l <= (int)RTE_LOG_INFO)
		return FMQ_LOG_INFO;
	return FMQ_LOG_DEBUG;
}

static void
apply_log_level(const struct fmq_config *cfg)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(cfg->log_level, names[i]) == 0)
			fmq_log_set_level((enum fmq_log_level)i);
	fmq_log_set_json(strcmp(cfg->log_format, "json") == 0);
}

/* Active opens keep their flow on the opening lcore: the local port is
 * chosen so the symmetric hash steers the replies back here. */
static bool
own_flow(void *arg, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	const struct data_lcore *d = arg;

	return fmq_steer_lcore(fmq_steer_hash(rte_be_to_cpu_32(lip),
					      rte_be_to_cpu_32(rip),
					      rte_be_to_cpu_16(lport),
					      rte_be_to_cpu_16(rport)),
			       app.n_data) == d->idx;
}

static int
setup_data_lcores(struct app *a, char *err, size_t errlen)
{
	struct fmq_net_conf nc;
	unsigned int lid, i = 0;
	int rc;

	rc = fmq_net_conf_from_config(&nc, &a->cfg, err, errlen);
	if (rc < 0)
		return rc;
	nc.mac = a->port.mac;
	nc.rx_csum_offload = a->port.rx_csum;
	nc.tx_csum_offload = a->port.tx_csum;
	/* Rings first: every lcore may hand packets to every other. */
	RTE_LCORE_FOREACH_WORKER(lid) {
		char name[RTE_RING_NAMESIZE];
		struct data_lcore *d;
		if (i == a->n_data)
			break;
		d = &a->data[i];
		d->idx = i;
		d->lcore_id = lid;
		d->port_id = a->port.port_id;
		d->has_rxq = a->port.rxq_of[i] >= 0;
		d->queue_id = d->has_rxq ? (uint16_t)a->port.rxq_of[i] : 0;
		d->tx_direct = i < a->port.nb_txq;
		d->txq = (uint16_t)(i % a->port.nb_txq);
		if (a->port.steer) {
			snprintf(name, sizeof(name), "fmq_steer_%u", i);
			d->steer_in = rte_ring_create(name, 4096,
				(int)rte_lcore_to_socket_id(lid), RING_F_SC_DEQ);
		}
		if (d->tx_direct && a->n_data > a->port.nb_txq) {
			snprintf(name, sizeof(name), "fmq_txin_%u", i);
			d->tx_in = rte_ring_create(name, 4096,
				(int)rte_lcore_to_socket_id(lid), RING_F_SC_DEQ);
		}
		if ((a->port.steer && d->steer_in == NULL) ||
		    (d->tx_direct && a->n_data > a->port.nb_txq && d->tx_in == NULL)) {
			snprintf(err, errlen, "lcore %u: rings: %s", lid,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
		i++;
	}
	i = 0;
	RTE_LCORE_FOREACH_WORKER(lid) {
		struct data_lcore *d;
		if (i == a->n_data)
			break;
		d = &a->data[i];
		d->use_intr = a->port.rx_intr;
		/* The stack's queue id names its connections (one per lcore). */
		d->net = fmq_net_create(&nc, a->port.mp, d->port_id,
					(uint16_t)i,
					(int)rte_lcore_to_socket_id(lid));
		if (d->net == NULL) {
			snprintf(err, errlen, "lcore %u: stack: %s", lid,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
		if (!d->tx_direct) {
			d->tx_out = a->data[d->txq].tx_in;
			fmq_net_set_tx(d->net, app_tx_handoff, d);
		} else if (a->port.prof.disconnect_guard) {
			fmq_net_set_tx(d->net, app_tx_guarded, d);
		}
		if (a->n_data > 1)
			fmq_tcp_set_port_filter(d->net, own_flow, d);
		a->nets[i] = d->net;
		d->broker = fmq_broker_lcore_create(a->broker, i, d->net,
			a->port.mp, (int)rte_lcore_to_socket_id(lid), err,
			errlen);
		if (d->broker == NULL)
			return -ENOMEM;
		d->bell = fmq_broker_lcore_doorbell(d->broker);
		i++;
	}
	for (i = 0; i < a->n_data; i++)
		if (!a->data[i].tx_direct)
			a->data[i].tx_bell = a->data[a->data[i].txq].bell;
	a->net_set.nets = a->nets;
	a->net_set.n = a->n_data;
	fmq_metrics_register(a->metrics, fmq_net_metrics, &a->net_set);
	/* Announce ourselves before the first client asks. */
	fmq_net_send_garp(a->data[0].net, fmq_now_ns());
	return 0;
}

/*
 * Exit status of a start-up step that failed: 2 when it blamed a key's
 * value, through fmq_config_error or with a message that starts with the
 * key's name (lib/log: "log.hot.pool.bytes: ... needs N hugepages"), else 1.
 */
static int
fail_code(unsigned int nerr_before, const char *err)
{
	char key[64];
	size_t n = strcspn(err, ": ");

	if (fmq_config_error_count() != nerr_before)
		return EXIT_CONFIG;
	if (err[n] == ':' && n < sizeof(key)) {
		memcpy(key, err, n);
		key[n] = '\0';
		if (fmq_config_find(key) != NULL)
			return EXIT_CONFIG;
	}
	return 1;
}

static void
print_reach(const struct app *a)
{
	char ip[32], host[32], mgmt[32];
	const struct fmq_cfg_key *k;

	fmq_config_format(&a->cfg, (k = fmq_config_find("net.ip")), ip, sizeof(ip));
	fmq_config_format(&a->cfg, (k = fmq_config_find("dev.tap.host_ip")),
			  host, sizeof(host));
	fmq_config_format(&a->cfg, (k = fmq_config_find("mgmt.listen")), mgmt,
			  sizeof(mgmt));
	*strchr(ip, '/') = '\0';
	/* log.format=json: every line on stdout and stderr is JSON. */
	if (fmq_log_is_json()) {
		if (a->port.created_tap)
			FMQ_INFO("main", "FluxMQ is up on TAP %s: this host is "
				 "%s, the broker %s; management http://%s/health",
				 a->port.tap_name, host, ip, mgmt);
		else
			FMQ_INFO("main", "FluxMQ is up on port %u (%s) at %s; "
				 "management http://%s/health", a->port.port_id,
				 a->port.driver, ip, mgmt);
		return;
	}
	if (a->port.created_tap)
		printf("FluxMQ is up on TAP %s: this host is %s, the broker %s "
		       "(try: ping %s); console http://%s/\n",
		       a->port.tap_name, host, ip, ip, mgmt);
	else
		printf("FluxMQ is up on port %u (%s) at %s; console "
		       "http://%s/\n", a->port.port_id, a->port.driver, ip,
		       mgmt);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	char err[1024];
	char *eal_argv[MAX_EAL_ARGS];
	char eal_store[4096];
	int sep = -1, eal_argc, rc;
	unsigned int nerr;
	bool embedded;
	FILE *dpdk_log;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	fmq_config_defaults(&app.cfg);
	/* Without "--" every argument is ours; with it, ours follow it. */
	{
		int aargc = sep < 0 ? argc : argc - sep;
		char **aargv = sep < 0 ? argv : argv + sep;
		char *save = aargv[0];
		aargv[0] = argv[0];
		rc = parse_app_args(aargc, aargv, err, sizeof(err));
		aargv[0] = save;
	}
	if (rc < 0) {
		fprintf(stderr, "fluxmq: %s\n", err);
		return EXIT_CONFIG;
	}
	if (rc > 0)
		return 0;
	apply_log_level(&app.cfg);
	/* Every bad line of every source, then exit 2; warnings go on. */
	{
		unsigned int nbad = fmq_config_finish(&app.cfg, config_report,
						      NULL);
		if (nbad > 0) {
			snprintf(err, sizeof(err), "%u configuration error%s",
				 nbad, nbad > 1 ? "s" : "");
			say_fail(err);
			return EXIT_CONFIG;
		}
	}
	if (n_add_scram > 0) {
		char path[FMQ_CFG_STR_MAX + 64];

		fmq_scram_db_path(&app.cfg, path, sizeof(path));
		if (fmq_scram_add_specs(&app.cfg, add_scram, n_add_scram, err,
					sizeof(err)) < 0) {
			say_fail(err);
			return EXIT_CONFIG;
		}
		printf("fluxmq: %d SCRAM credential%s written to %s\n",
		       n_add_scram, n_add_scram > 1 ? "s" : "", path);
		free(add_scram);
		return 0;
	}
	/* EAL's own lines too: set before rte_eal_init. Closed after
	 * rte_eal_cleanup, when no lcore is left to write to it. */
	dpdk_log = fmq_log_stream("dpdk", dpdk_level);
	if (dpdk_log != NULL)
		rte_openlog_stream(dpdk_log);
	app_raise_nofile();
	app.adaptive = strcmp(app.cfg.poll_mode, "adaptive") == 0;
	app.n_data = (unsigned int)app.cfg.lcores_data;
	if (strlen(app.cfg.dev_tap_name) >= sizeof(app.port.tap_name) ||
	    app.cfg.dev_tap_name[0] == '\0' ||
	    strpbrk(app.cfg.dev_tap_name, "/ ,=:") != NULL) {
		fmq_config_error(&app.cfg, "dev.tap.name", err, sizeof(err),
				 "must be 1..15 characters without '/', ' ', ',', '=' or ':'");
		say_fail(err);
		return EXIT_CONFIG;
	}
	{
		struct fmq_net_conf nc;
		if (fmq_net_conf_from_config(&nc, &app.cfg, err, sizeof(err)) < 0) {
			say_fail(err);
			return EXIT_CONFIG;
		}
	}

	eal_argc = build_eal_args(sep < 0 ? 1 : sep, argv, eal_argv, eal_store,
				  sizeof(eal_store), &embedded);
	if (eal_argc < 0) {
		say_fail("too many EAL arguments");
		return EXIT_CONFIG;
	}
	app.port.created_tap = embedded;
	memcpy(app.port.tap_name, app.cfg.dev_tap_name,
	       strlen(app.cfg.dev_tap_name) + 1);
	/* Before the EAL creates the TAP and before the log or the hot
	 * pool is opened: another instance's must stay untouched. */
	if (app_check_host(eal_has(eal_argc, eal_argv, (const char *const[]){
				   "--no-huge", NULL }), err, sizeof(err)) < 0) {
		say_fail(err);
		return 1;
	}
	if (app_preflight(&app, embedded, err, sizeof(err)) < 0) {
		say_fail(err);
		return EXIT_CONFIG;
	}
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		snprintf(err, sizeof(err), "EAL init failed: %s",
			 rte_strerror(rte_errno));
		say_fail(err);
		return 1;
	}
	app.start_ns = fmq_now_ns();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hup);
	if (rte_lcore_count() < app.n_data + 1) {
		snprintf(err, sizeof(err), "lcores.data=%u needs %u lcores, EAL "
			 "has %u (check -l/--lcores)", app.n_data,
			 app.n_data + 1, rte_lcore_count());
		say_fail(err);
		rc = EXIT_CONFIG;
		goto out_eal;
	}
	app.metrics = fmq_metrics_create();
	if (app.metrics == NULL) {
		rc = 1;
		goto out_eal;
	}
	fmq_metrics_register(app.metrics, app_lcore_metrics, &app);
	fmq_metrics_register(app.metrics, app_status_metrics, &app);
	nerr = fmq_config_error_count();
	app.mgmt = mgmt_start(&app, app.mgmt_fd, err, sizeof(err));
	if (app.mgmt == NULL) {
		say_fail(err);
		rc = fail_code(nerr, err);
		goto out_eal;
	}
	/* From here a step that failed on a key's value (it said so with
	 * fmq_config_error) exits 2, anything else 1. */
	nerr = fmq_config_error_count();
	rc = app_port_init(&app, err, sizeof(err));
	if (rc < 0) {
		say_fail(err);
		rc = fail_code(nerr, err);
		goto out_port;
	}
	fmq_metrics_register(app.metrics, app_port_metrics, &app);
	rc = setup_storage(&app, err, sizeof(err));
	if (rc < 0) {
		say_fail(err);
		rc = fail_code(nerr, err);
		goto out_port;
	}
	rc = setup_data_lcores(&app, err, sizeof(err));
	if (rc < 0) {
		say_fail(err);
		rc = fail_code(nerr, err);
		goto out_port;
	}
	/* Topics, partitions (recovered here), groups; then the first
	 * metadata snapshot goes to the data lcores. */
	app.ctrl = fmq_ctrl_create(&app.cfg, app.broker, app.log, app.n_data,
				   err, sizeof(err));
	if (app.ctrl == NULL) {
		say_fail(err);
		rc = fail_code(nerr, err);
		goto out_port;
	}
	fmq_metrics_register(app.metrics, fmq_ctrl_metrics, app.ctrl);
	/* In a cluster the id is ZooKeeper's (it may differ from the one
	 * read at start-up when this log dir was new). */
	snprintf(app.cluster_id, sizeof(app.cluster_id), "%s",
		 fmq_broker_cluster_id(app.broker));
	app_telemetry_init(&app);
	for (unsigned int i = 0; i < app.n_data; i++)
		rte_eal_remote_launch(app_data_lcore_main, &app,
				      app.data[i].lcore_id);

	/* Control lcore loop. */
	bool announced = false;
	uint64_t sleep_us = 0;
	while (!atomic_load(&app.quit)) {
		if (!announced && app_port_link_up(&app)) {
			atomic_store(&app.healthy, true);
			print_reach(&app);
			announced = true;
		}
		/* Sleeps until HTTP, a forwarded request, or the control
		 * work's own next deadline. */
		mgmt_poll(app.mgmt, announced ? sleep_us : CONTROL_TICK_US,
			  fmq_ctrl_wake_fd(app.ctrl));
		if (atomic_exchange(&hup, false))
			reload_tls(&app);
		sleep_us = fmq_ctrl_poll(app.ctrl, fmq_now_ns());
		app_sd_tick(&app);
		app_status_tick(&app, fmq_now_ns());
		app_telemetry_tick(&app, fmq_now_ns());
	}
	app_sd_stopping(&app);
	FMQ_INFO("main", "shutting down");
	atomic_store(&app.healthy, false);
	rte_eal_mp_wait_lcore();
	rc = 0;
out_port:
	/* Data lcores are stopped: close partitions (flushing them), then
	 * connections, stacks and the port. */
	app_telemetry_fini();
	fmq_ctrl_free(app.ctrl);
	for (unsigned int i = 0; i < app.n_data; i++) {
		fmq_broker_lcore_free(app.data[i].broker);
		fmq_net_free(app.data[i].net);
	}
	fmq_broker_free(app.broker);
	fmq_log_free(app.log);
	app_port_fini(&app);
	mgmt_stop(app.mgmt);
out_eal:
	fmq_metrics_free(app.metrics);
	rte_eal_cleanup();
	if (dpdk_log != NULL) {
		rte_openlog_stream(NULL);
		fclose(dpdk_log);
	}
	return rc;
}
