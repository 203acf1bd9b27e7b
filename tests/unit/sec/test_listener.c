/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka listener configuration: listeners, the protocol map, advertised. */
#include <string.h>

#include "fmq_listener.h"
#include "harness.h"

#define HOST "10.77.0.2"

static int
parse(const char *l, const char *map, const char *adv, const char *skip,
      struct fmq_listeners *out, const char **key, char *msg)
{
	return fmq_listeners_parse(l, map, adv, skip, HOST, out, key, msg,
				   256);
}

static void
test_default_map(void)
{
	struct fmq_listeners ls;
	const char *key;
	char msg[256];

	CU_ASSERT_EQUAL_FATAL(parse("PLAINTEXT://0.0.0.0:9092, SASL_SSL://:9093,"
				    "ssl://" HOST ":9094,SASL_PLAINTEXT://:9095",
				    "", "", "", &ls, &key, msg), 0);
	CU_ASSERT_EQUAL_FATAL(ls.n, 4);
	CU_ASSERT_STRING_EQUAL(ls.l[0].name, "PLAINTEXT");
	CU_ASSERT_EQUAL(ls.l[0].proto, FMQ_SEC_PLAINTEXT);
	CU_ASSERT_EQUAL(ls.l[0].port, 9092);
	CU_ASSERT_STRING_EQUAL(ls.l[0].adv_host, HOST);
	CU_ASSERT_EQUAL(ls.l[0].adv_port, 9092);
	CU_ASSERT_EQUAL(ls.l[1].proto, FMQ_SEC_SASL_SSL);
	CU_ASSERT_STRING_EQUAL(ls.l[1].host, "");
	CU_ASSERT_STRING_EQUAL(ls.l[2].name, "SSL");   /* upper-cased */
	CU_ASSERT_EQUAL(ls.l[2].proto, FMQ_SEC_SSL);
	CU_ASSERT_EQUAL(ls.l[3].proto, FMQ_SEC_SASL_PLAINTEXT);
	CU_ASSERT_PTR_EQUAL(fmq_listeners_by_port(&ls, 9094), &ls.l[2]);
	CU_ASSERT_PTR_NULL(fmq_listeners_by_port(&ls, 9096));
}

static void
test_named_and_advertised(void)
{
	struct fmq_listeners ls;
	const char *key;
	char msg[256];

	CU_ASSERT_EQUAL_FATAL(parse("INTERNAL://:9092,EXTERNAL://:9093",
				    "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
				    "EXTERNAL://kafka.example.com:19093", "",
				    &ls, &key, msg), 0);
	CU_ASSERT_EQUAL(ls.l[0].proto, FMQ_SEC_PLAINTEXT);
	CU_ASSERT_EQUAL(ls.l[1].proto, FMQ_SEC_SASL_SSL);
	/* Left out of advertised.listeners: net.ip and its own port. */
	CU_ASSERT_STRING_EQUAL(ls.l[0].adv_host, HOST);
	CU_ASSERT_EQUAL(ls.l[0].adv_port, 9092);
	CU_ASSERT_STRING_EQUAL(ls.l[1].adv_host, "kafka.example.com");
	CU_ASSERT_EQUAL(ls.l[1].adv_port, 19093);
}

/* Kafka's KRaft sample: the controller listener is not ours. */
static void
test_kraft_sample(void)
{
	struct fmq_listeners ls;
	const char *key;
	char msg[256];

	CU_ASSERT_EQUAL_FATAL(parse("PLAINTEXT://:9092,CONTROLLER://:9093",
				    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
				    "PLAINTEXT://localhost:9092", "CONTROLLER",
				    &ls, &key, msg), 0);
	CU_ASSERT_EQUAL(ls.n, 1);
	CU_ASSERT_STRING_EQUAL(ls.l[0].adv_host, "localhost");
	/* Without controller.listener.names it would serve Kafka on 9093. */
	CU_ASSERT_EQUAL(parse("PLAINTEXT://:9092,CONTROLLER://:9093",
			      "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT", "",
			      "", &ls, &key, msg), 0);
	CU_ASSERT_EQUAL(ls.n, 2);
}

static void
expect_err(const char *l, const char *map, const char *adv,
	   const char *want_key, const char *want_msg)
{
	struct fmq_listeners ls;
	const char *key = NULL;
	char msg[256] = "";

	CU_ASSERT_EQUAL(parse(l, map, adv, "", &ls, &key, msg), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	CU_ASSERT_STRING_EQUAL(key, want_key);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want_msg));
	if (strstr(msg, want_msg) == NULL)
		fprintf(stderr, "\n  %s: got '%s'\n", l, msg);
}

static void
test_errors(void)
{
	expect_err("", "", "", "listeners", "no listener");
	expect_err("PLAINTEXT:9092", "", "", "listeners", "NAME://host:port");
	expect_err("PLAINTEXT://:0", "", "", "listeners", "port");
	expect_err("PLAINTEXT://:65536", "", "", "listeners", "port");
	expect_err("PLAINTEXT://:90x", "", "", "listeners", "port");
	expect_err("PLAINTEXT://10.9.9.9:9092", "", "", "listeners",
		   "net.ip");
	expect_err("PLAINTEXT://:9092,PLAINTEXT://:9093", "", "",
		   "listeners", "used twice");
	expect_err("PLAINTEXT://:9092,SSL://:9092", "", "", "listeners",
		   "port 9092");
	expect_err("CLIENT://:9092", "", "", "listeners",
		   "not in listener.security.protocol.map");
	expect_err("CLIENT://:9092", "CLIENT:TLS", "",
		   "listener.security.protocol.map", "NAME:PROTOCOL");
	expect_err("PLAINTEXT://:9092", "", "SSL://h:1", "advertised.listeners",
		   "no listener named SSL");
	expect_err("PLAINTEXT://:9092", "", "PLAINTEXT://0.0.0.0:1",
		   "advertised.listeners", "reach");
	expect_err("A://:1,B://:2,C://:3,D://:4,E://:5,F://:6,G://:7,H://:8,"
		   "I://:9", "A:SSL,B:SSL,C:SSL,D:SSL,E:SSL,F:SSL,G:SSL,H:SSL,"
		   "I:SSL", "", "listeners", "more than 8");
}

static void
test_proto_names(void)
{
	CU_ASSERT_EQUAL(fmq_sec_proto_parse("sasl_ssl", 8), FMQ_SEC_SASL_SSL);
	CU_ASSERT_EQUAL(fmq_sec_proto_parse("SASL", 4), -1);
	CU_ASSERT_STRING_EQUAL(fmq_sec_proto_name(FMQ_SEC_SSL), "SSL");
	CU_ASSERT_TRUE(fmq_sec_proto_tls(FMQ_SEC_SASL_SSL));
	CU_ASSERT_FALSE(fmq_sec_proto_tls(FMQ_SEC_SASL_PLAINTEXT));
	CU_ASSERT_TRUE(fmq_sec_proto_sasl(FMQ_SEC_SASL_PLAINTEXT));
	CU_ASSERT_FALSE(fmq_sec_proto_sasl(FMQ_SEC_SSL));
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("listener", NULL, NULL);
	CU_add_test(s, "default protocol map", test_default_map);
	CU_add_test(s, "named listeners, advertised per name",
		    test_named_and_advertised);
	CU_add_test(s, "Kafka's KRaft sample", test_kraft_sample);
	CU_add_test(s, "errors name the key", test_errors);
	CU_add_test(s, "security protocol names", test_proto_names);
	return fmq_test_run(argc, argv);
}
