/* SPDX-License-Identifier: Apache-2.0 */
/* lib/sec ACLs: Kafka's decision order, patterns, wildcards, hosts,
 * implied operations, filters, validation and the file format. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "fmq_acl.h"
#include "harness.h"

#define T FMQ_ACL_RES_TOPIC
#define G FMQ_ACL_RES_GROUP
#define C FMQ_ACL_RES_CLUSTER
#define LIT FMQ_ACL_PAT_LITERAL
#define PRE FMQ_ACL_PAT_PREFIXED
#define ALLOW FMQ_ACL_PERM_ALLOW
#define DENY FMQ_ACL_PERM_DENY
#define OP(x) FMQ_ACL_OP_##x

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct fmq_principal alice, bob, admin, anon;

/* Does principal p from host h get op on topic/group/cluster name? */
static bool
may(const struct fmq_acl_db *db, const struct fmq_principal *p,
    const char *h, int res, const char *name, int op)
{
	return fmq_acl_authorize(db, p, ip(h), (enum fmq_acl_res)res, name,
				 strlen(name), (enum fmq_acl_op)op);
}

static struct fmq_acl_db *
build(const struct fmq_acl_binding *b, size_t n, const char *supers,
      bool allow_if_no_acl)
{
	struct fmq_acl_conf conf = { supers, allow_if_no_acl };
	struct fmq_acl_db *db = fmq_acl_db_new(&conf, b, n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	return db;
}

static void
test_no_authorizer_allows(void)
{
	CU_ASSERT_TRUE(may(NULL, &anon, "1.2.3.4", T, "t", OP(WRITE)));
	CU_ASSERT_EQUAL(fmq_acl_authorized_ops(NULL, &anon, 0, C,
					       "kafka-cluster", 13),
			(1 << 5) | (1 << 9) | (1 << 10) | (1 << 11) |
			(1 << 12) | (1 << 7) | (1 << 8));
}

static void
test_super_user_and_empty_db(void)
{
	static const struct fmq_acl_binding deny_all[] = {
		{ T, LIT, OP(ALL), DENY, "*", "User:*", "*" },
	};
	struct fmq_acl_db *db = build(NULL, 0, " User:admin ; User:bob;", false);

	/* No ACL at all, allow.everyone false: denied; super users: not. */
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", T, "t", OP(READ)));
	CU_ASSERT_FALSE(may(db, &anon, "10.0.0.1", C, "kafka-cluster",
			    OP(DESCRIBE)));
	CU_ASSERT_TRUE(may(db, &admin, "10.0.0.1", T, "t", OP(READ)));
	CU_ASSERT_TRUE(may(db, &bob, "10.0.0.1", G, "g", OP(DELETE)));
	fmq_acl_db_put(db);
	/* A super user wins even over a DENY. */
	db = build(deny_all, 1, "User:admin", false);
	CU_ASSERT_TRUE(may(db, &admin, "10.0.0.1", T, "t", OP(WRITE)));
	CU_ASSERT_FALSE(may(db, &bob, "10.0.0.1", T, "t", OP(WRITE)));
	fmq_acl_db_put(db);
	/* A super user entry that is not Type:name is refused. */
	struct fmq_acl_conf bad = { "admin", false };
	CU_ASSERT_PTR_NULL(fmq_acl_db_new(&bad, NULL, 0));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

static void
test_allow_deny_order(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, LIT, OP(READ), ALLOW, "orders", "User:alice", "*" },
		{ T, LIT, OP(WRITE), ALLOW, "orders", "User:*", "*" },
		{ T, LIT, OP(WRITE), DENY, "orders", "User:bob", "*" },
		{ T, LIT, OP(ALL), ALLOW, "all", "User:alice", "*" },
		{ T, LIT, OP(ALL), DENY, "all", "User:alice", "10.0.0.9" },
	};
	struct fmq_acl_db *db = build(b, 5, NULL, false);

	CU_ASSERT_TRUE(may(db, &alice, "10.0.0.1", T, "orders", OP(READ)));
	CU_ASSERT_FALSE(may(db, &bob, "10.0.0.1", T, "orders", OP(READ)));
	/* User:* allows WRITE to all users, the DENY for bob wins. */
	CU_ASSERT_TRUE(may(db, &alice, "10.0.0.1", T, "orders", OP(WRITE)));
	CU_ASSERT_TRUE(may(db, &anon, "10.0.0.1", T, "orders", OP(WRITE)));
	CU_ASSERT_FALSE(may(db, &bob, "10.0.0.1", T, "orders", OP(WRITE)));
	/* Not granted: denied (the resource has ACLs). */
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", T, "orders", OP(DELETE)));
	/* ALL grants every operation; DENY ALL from one host wins there. */
	CU_ASSERT_TRUE(may(db, &alice, "10.0.0.1", T, "all", OP(ALTER_CONFIGS)));
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.9", T, "all", OP(READ)));
	/* Other resources and types have no ACL. */
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", T, "other", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", G, "orders", OP(READ)));
	CU_ASSERT_EQUAL(fmq_acl_db_count(db), 5);
	fmq_acl_db_put(db);
}

static void
test_implied_describe(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, LIT, OP(READ), ALLOW, "r", "User:alice", "*" },
		{ T, LIT, OP(WRITE), ALLOW, "w", "User:alice", "*" },
		{ T, LIT, OP(DELETE), ALLOW, "d", "User:alice", "*" },
		{ T, LIT, OP(ALTER), ALLOW, "a", "User:alice", "*" },
		{ T, LIT, OP(CREATE), ALLOW, "c", "User:alice", "*" },
		{ T, LIT, OP(ALTER_CONFIGS), ALLOW, "ac", "User:alice", "*" },
		{ T, LIT, OP(DESCRIBE), ALLOW, "x", "User:alice", "*" },
		{ T, LIT, OP(READ), DENY, "x", "User:alice", "*" },
		{ T, LIT, OP(READ), ALLOW, "y", "User:alice", "*" },
		{ T, LIT, OP(DESCRIBE), DENY, "y", "User:alice", "*" },
	};
	struct fmq_acl_db *db = build(b, (sizeof(b) / sizeof(b[0])), NULL, false);
	const char *h = "10.0.0.1";

	CU_ASSERT_TRUE(may(db, &alice, h, T, "r", OP(DESCRIBE)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "w", OP(DESCRIBE)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "d", OP(DESCRIBE)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "a", OP(DESCRIBE)));
	/* CREATE does not imply DESCRIBE; DESCRIBE implies nothing. */
	CU_ASSERT_FALSE(may(db, &alice, h, T, "c", OP(DESCRIBE)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "r", OP(WRITE)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "ac", OP(DESCRIBE_CONFIGS)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "ac", OP(DESCRIBE)));
	/* A DENY of READ does not deny DESCRIBE; a DENY of DESCRIBE does
	 * not deny READ (no implication on DENY). */
	CU_ASSERT_TRUE(may(db, &alice, h, T, "x", OP(DESCRIBE)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "x", OP(READ)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "y", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "y", OP(DESCRIBE)));
	/* Authorized operations: READ and the DESCRIBE it implies. */
	CU_ASSERT_EQUAL(fmq_acl_authorized_ops(db, &alice, ip(h), T, "r", 1),
			(1 << 3) | (1 << 8));
	fmq_acl_db_put(db);
}

static void
test_prefixed_and_wildcards(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, PRE, OP(READ), ALLOW, "sales-", "User:alice", "*" },
		{ T, PRE, OP(READ), DENY, "sales-secret", "User:*", "*" },
		{ T, LIT, OP(WRITE), ALLOW, "*", "User:bob", "*" },
		{ G, LIT, OP(READ), ALLOW, "*", "User:*", "10.0.0.1" },
		{ G, PRE, OP(READ), ALLOW, "app", "User:alice", "*" },
	};
	struct fmq_acl_db *db = build(b, (sizeof(b) / sizeof(b[0])), NULL, true);
	const char *h = "10.0.0.1";

	CU_ASSERT_TRUE(may(db, &alice, h, T, "sales-eu", OP(READ)));
	CU_ASSERT_TRUE(may(db, &alice, h, T, "sales-", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "sales", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "xsales-eu", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, h, T, "sales-secret-1", OP(READ)));
	/* The "*" literal matches every topic name for bob's WRITE. */
	CU_ASSERT_TRUE(may(db, &bob, h, T, "anything", OP(WRITE)));
	CU_ASSERT_TRUE(may(db, &bob, h, T, "sales-eu", OP(WRITE)));
	/* ... and gives every topic an ACL: allow.everyone no longer
	 * applies to any topic. */
	CU_ASSERT_FALSE(may(db, &anon, h, T, "anything", OP(READ)));
	/* Wildcard principal, exact host. */
	CU_ASSERT_TRUE(may(db, &anon, "10.0.0.1", G, "g1", OP(READ)));
	CU_ASSERT_FALSE(may(db, &anon, "10.0.0.2", G, "g1", OP(READ)));
	CU_ASSERT_TRUE(may(db, &alice, "10.0.0.2", G, "apps", OP(READ)));
	/* No ACL on the cluster: allow.everyone.if.no.acl.found=true. */
	CU_ASSERT_TRUE(may(db, &anon, h, C, "kafka-cluster", OP(ALTER)));
	fmq_acl_db_put(db);
}

/* More distinct prefix lengths than the index keeps: the scan. */
static void
test_many_prefix_lengths(void)
{
	static char names[24][32];
	static struct fmq_acl_binding b[24];
	struct fmq_acl_db *db;
	char n[40];

	for (int k = 1; k <= 24; k++) {
		memset(names[k - 1], 'p', (size_t)k);
		names[k - 1][k] = '\0';
		b[k - 1] = (struct fmq_acl_binding){ T, PRE,
			k == 19 ? OP(ALL) : OP(READ), k == 19 ? DENY : ALLOW,
			names[k - 1], k == 17 ? "User:alice" :
			k == 19 ? "User:*" : "User:bob", "*" };
	}
	for (int pass = 0; pass < 2; pass++) {
		/* 24 lengths (scan), then 12 of them (binary searches). */
		db = build(b + (pass ? 12 : 0), pass ? 12 : 24, NULL, false);
		memset(n, 'p', 18);
		n[18] = '\0';
		CU_ASSERT_TRUE(may(db, &alice, "1.1.1.1", T, n, OP(READ)));
		n[16] = '\0';
		CU_ASSERT_FALSE(may(db, &alice, "1.1.1.1", T, n, OP(READ)));
		memset(n, 'p', 30);
		n[30] = '\0';
		CU_ASSERT_FALSE(may(db, &alice, "1.1.1.1", T, n, OP(READ)));
		CU_ASSERT_FALSE(may(db, &bob, "1.1.1.1", T, n, OP(READ)));
		n[18] = '\0';
		CU_ASSERT_TRUE(may(db, &bob, "1.1.1.1", T, n, OP(READ)));
		fmq_acl_db_put(db);
	}
}

static void
test_hosts_as_kafka_prints_them(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, LIT, OP(READ), ALLOW, "t", "User:alice", "10.0.0.1" },
		{ T, LIT, OP(READ), ALLOW, "u", "User:alice", "010.0.0.1" },
		{ T, LIT, OP(READ), ALLOW, "v", "User:alice", "host.example" },
	};
	struct fmq_acl_db *db = build(b, (sizeof(b) / sizeof(b[0])), NULL, false);

	CU_ASSERT_TRUE(may(db, &alice, "10.0.0.1", T, "t", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.10", T, "t", OP(READ)));
	/* Kafka compares strings: a differently written address or a host
	 * name never equals the client's printed address. */
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", T, "u", OP(READ)));
	CU_ASSERT_FALSE(may(db, &alice, "10.0.0.1", T, "v", OP(READ)));
	fmq_acl_db_put(db);
}

static void
test_many_literals_index(void)
{
	enum { N = 500 };
	static struct fmq_acl_binding b[N];
	static char names[N][16];
	struct fmq_acl_db *db;

	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "topic-%03d", (i * 7) % N);
		b[i] = (struct fmq_acl_binding){ T, LIT, OP(READ), ALLOW,
			names[i], i % 2 ? "User:alice" : "User:bob", "*" };
	}
	db = build(b, N, NULL, false);
	for (int i = 0; i < N; i++) {
		int t = (i * 7) % N;
		char n[16];

		snprintf(n, sizeof(n), "topic-%03d", t);
		CU_ASSERT_EQUAL(may(db, &alice, "1.1.1.1", T, n, OP(READ)),
				i % 2 == 1);
		CU_ASSERT_EQUAL(may(db, &bob, "1.1.1.1", T, n, OP(READ)),
				i % 2 == 0);
	}
	CU_ASSERT_FALSE(may(db, &alice, "1.1.1.1", T, "topic-5000", OP(READ)));
	fmq_acl_db_put(db);
}

static void
test_authorize_any(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, LIT, OP(WRITE), ALLOW, "orders", "User:alice", "*" },
		{ T, PRE, OP(ALL), ALLOW, "logs-", "User:bob", "*" },
		{ T, PRE, OP(WRITE), DENY, "logs", "User:bob", "*" },
		{ T, LIT, OP(READ), ALLOW, "x", "User:ANONYMOUS", "*" },
	};
	struct fmq_acl_db *db = build(b, sizeof(b) / sizeof(b[0]), NULL, true);
	uint32_t h = ip("10.0.0.1");

	/* alice may WRITE one topic: "WRITE on any topic" holds. */
	CU_ASSERT_TRUE(fmq_acl_authorize_any(db, &alice, h, T, OP(WRITE)));
	/* bob's ALLOW ALL on logs- is covered by a DENY WRITE on logs. */
	CU_ASSERT_FALSE(fmq_acl_authorize_any(db, &bob, h, T, OP(WRITE)));
	CU_ASSERT_TRUE(fmq_acl_authorize_any(db, &bob, h, T, OP(READ)));
	/* READ does not grant WRITE; topics have ACLs: no default. */
	CU_ASSERT_FALSE(fmq_acl_authorize_any(db, &anon, h, T, OP(WRITE)));
	/* No GROUP ACL at all: allow.everyone.if.no.acl.found. */
	CU_ASSERT_TRUE(fmq_acl_authorize_any(db, &anon, h, G, OP(READ)));
	fmq_acl_db_put(db);
}

static void
test_validate_and_filters(void)
{
	const char *why;
	struct fmq_acl_binding ok = { T, LIT, OP(READ), ALLOW, "t",
				      "User:alice", "*" };
	struct fmq_acl_binding x;

	CU_ASSERT_EQUAL(fmq_acl_validate(&ok, &why), 0);
	x = ok; x.res = FMQ_ACL_RES_ANY;
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.res = 9;
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.pat = FMQ_ACL_PAT_MATCH;
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.op = FMQ_ACL_OP_ANY;
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.perm = FMQ_ACL_PERM_ANY;
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.name = "";
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.principal = "alice";
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	x = ok; x.res = C; x.name = "other";
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "The only valid name for the CLUSTER "
			       "resource is kafka-cluster");
	x.name = "kafka-cluster";
	CU_ASSERT_EQUAL(fmq_acl_validate(&x, &why), 0);

	struct fmq_acl_binding lit = { T, LIT, OP(READ), ALLOW, "sales-eu",
				       "User:alice", "*" };
	struct fmq_acl_binding star = { T, LIT, OP(READ), ALLOW, "*",
					"User:alice", "*" };
	struct fmq_acl_binding pre = { T, PRE, OP(READ), ALLOW, "sales-",
				       "User:alice", "*" };
	struct fmq_acl_binding f = { FMQ_ACL_RES_ANY, FMQ_ACL_PAT_ANY,
				     FMQ_ACL_OP_ANY, FMQ_ACL_PERM_ANY,
				     NULL, NULL, NULL };

	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &lit));
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &pre));
	f.name = "sales-eu";   /* ANY: exact name, any pattern type */
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &lit));
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &star));
	f.pat = FMQ_ACL_PAT_MATCH;   /* every pattern that matches the name */
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &lit));
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &pre));
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &star));
	f.pat = PRE;
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
	f.name = "sales-";
	CU_ASSERT_TRUE(fmq_acl_filter_match(&f, &pre));
	f.principal = "User:bob";
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
	f.principal = NULL;
	f.op = OP(WRITE);
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
	f.op = OP(READ);
	f.perm = DENY;
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
	f.perm = ALLOW;
	f.res = G;
	CU_ASSERT_FALSE(fmq_acl_filter_match(&f, &pre));
}

static void
test_file_round_trip(void)
{
	static const struct fmq_acl_binding b[] = {
		{ T, LIT, OP(READ), ALLOW, "odd name%\twith\nbytes",
		  "User:CN=a b,O=x", "*" },
		{ G, PRE, OP(ALL), DENY, "g", "User:bob", "" },
		{ C, LIT, OP(ALTER), ALLOW, "kafka-cluster", "User:admin",
		  "10.0.0.1" },
		{ C, LIT, OP(ALTER), ALLOW, "kafka-cluster", "User:admin",
		  "10.0.0.1" },   /* a duplicate: stored once */
	};
	char err[128] = "";
	struct fmq_acl_db *db = build(b, (sizeof(b) / sizeof(b[0])), NULL, false), *db2;
	char *text = fmq_acl_db_dump(db);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(fmq_acl_db_count(db), 3);
	db2 = fmq_acl_db_load(NULL, text, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(db2);
	CU_ASSERT_EQUAL(fmq_acl_db_count(db2), 3);
	for (size_t i = 0; i < 3; i++) {
		const struct fmq_acl_binding *x = fmq_acl_db_at(db, i);
		const struct fmq_acl_binding *y = fmq_acl_db_at(db2, i);
		CU_ASSERT_STRING_EQUAL(x->name, y->name);
		CU_ASSERT_STRING_EQUAL(x->principal, y->principal);
		CU_ASSERT_STRING_EQUAL(x->host, y->host);
		CU_ASSERT_EQUAL(x->res, y->res);
		CU_ASSERT_EQUAL(x->pat, y->pat);
		CU_ASSERT_EQUAL(x->op, y->op);
		CU_ASSERT_EQUAL(x->perm, y->perm);
	}
	free(text);
	fmq_acl_db_put(db);
	fmq_acl_db_put(db2);
	/* Malformed files are refused with the line. */
	CU_ASSERT_PTR_NULL(fmq_acl_db_load(NULL, "# c\n2 3 3 3 t User:a\n",
					   err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "line 2: malformed binding");
	CU_ASSERT_PTR_NULL(fmq_acl_db_load(NULL, "4 3 7 3 x User:a *\n",
					   err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1: The only valid name"));
	CU_ASSERT_PTR_NULL(fmq_acl_db_load(NULL, "2 3 3 3 a%00b User:a *\n",
					   err, sizeof(err)));
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	fmq_principal_set(&alice, "User:alice", 10);
	fmq_principal_set(&bob, "User:bob", 8);
	fmq_principal_set(&admin, "User:admin", 10);
	fmq_principal_set(&anon, FMQ_PRINCIPAL_ANONYMOUS,
			  strlen(FMQ_PRINCIPAL_ANONYMOUS));
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("acl", NULL, NULL);
	CU_add_test(s, "no authorizer allows everything", test_no_authorizer_allows);
	CU_add_test(s, "super users, empty database", test_super_user_and_empty_db);
	CU_add_test(s, "DENY wins, then ALLOW, then nothing", test_allow_deny_order);
	CU_add_test(s, "implied DESCRIBE and DESCRIBE_CONFIGS", test_implied_describe);
	CU_add_test(s, "prefixed, wildcard names, principals, hosts",
		    test_prefixed_and_wildcards);
	CU_add_test(s, "many prefix lengths: scan and searches",
		    test_many_prefix_lengths);
	CU_add_test(s, "hosts compared as Kafka prints them",
		    test_hosts_as_kafka_prints_them);
	CU_add_test(s, "many literal names: the sorted index", test_many_literals_index);
	CU_add_test(s, "any resource of a type (InitProducerId)", test_authorize_any);
	CU_add_test(s, "validation and filters", test_validate_and_filters);
	CU_add_test(s, "file round trip and malformed files", test_file_round_trip);
	return fmq_test_run(argc, argv);
}
