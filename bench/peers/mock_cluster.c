/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq-mock-cluster: librdkafka's mock cluster (rdkafka_mock.h) as a
 * stand-alone broker on loopback, the peer the benchmark suite compares
 * with. Prints "bootstrap HOST:PORT" on stdout once it listens and runs
 * until SIGINT/SIGTERM.
 *
 *   fluxmq-mock-cluster [--brokers N] [--topic NAME:PARTITIONS]...
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

int
main(int argc, char **argv)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk;
	int brokers = 1;

	/* The mock cluster lives inside a client handle; nothing is sent
	 * through that handle itself. */
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "fluxmq-mock-cluster: %s\n", err);
		return 1;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
			brokers = atoi(argv[++i]);
	mc = rd_kafka_mock_cluster_new(rk, brokers > 0 ? brokers : 1);
	if (mc == NULL) {
		fprintf(stderr, "fluxmq-mock-cluster: cannot create the cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		char name[256];
		int parts;

		if (strcmp(argv[i], "--brokers") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc ||
		    sscanf(argv[i + 1], "%255[^:]:%d", name, &parts) != 2 ||
		    parts < 1) {
			fprintf(stderr, "usage: %s [--brokers N] "
				"[--topic NAME:PARTITIONS]...\n", argv[0]);
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 2;
		}
		i++;
		if (rd_kafka_mock_topic_create(mc, name, parts, 1) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "fluxmq-mock-cluster: topic %s failed\n",
				name);
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!quit)
		pause();
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
