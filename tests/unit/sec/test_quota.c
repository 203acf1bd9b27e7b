/* SPDX-License-Identifier: Apache-2.0 */
/* Quotas: Kafka's entity precedence, sampled rates, throttle times, the
 * per-lcore rate table and the quota file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_quota.h"
#include "harness.h"

static const struct fmq_quota_win W = { .num = 11, .size_ms = 1000 };

static struct fmq_quota_entity
ent(uint8_t uk, const char *u, uint8_t ck, const char *c, int key, double v)
{
	struct fmq_quota_entity e;

	memset(&e, 0, sizeof(e));
	e.user_kind = uk;
	e.client_kind = ck;
	if (uk == FMQ_QS_NAME) {
		e.user_len = (uint16_t)strlen(u);
		memcpy(e.user, u, e.user_len);
	}
	if (ck == FMQ_QS_NAME) {
		e.client_len = (uint16_t)strlen(c);
		memcpy(e.client, c, e.client_len);
	}
	e.value[key] = v;
	e.set = (uint8_t)(1u << key);
	return e;
}

static bool
resolve(const struct fmq_quota_db *db, int key, const char *u, const char *c,
	struct fmq_quota_match *m)
{
	return fmq_quota_resolve(db, (enum fmq_quota_key)key, u, strlen(u), c,
				 strlen(c), m);
}

/* Kafka's eight levels, most specific first: with all eight configured,
 * taking away the winner each time walks down the order. */
static void
test_precedence(void)
{
	const uint8_t N = FMQ_QS_NAME, D = FMQ_QS_DEFAULT, X = FMQ_QS_NONE;
	struct fmq_quota_entity all[8] = {
		ent(N, "alice", N, "app", FMQ_QUOTA_PRODUCE, 1),
		ent(N, "alice", D, NULL, FMQ_QUOTA_PRODUCE, 2),
		ent(N, "alice", X, NULL, FMQ_QUOTA_PRODUCE, 3),
		ent(D, NULL, N, "app", FMQ_QUOTA_PRODUCE, 4),
		ent(D, NULL, D, NULL, FMQ_QUOTA_PRODUCE, 5),
		ent(D, NULL, X, NULL, FMQ_QUOTA_PRODUCE, 6),
		ent(X, NULL, N, "app", FMQ_QUOTA_PRODUCE, 7),
		ent(X, NULL, D, NULL, FMQ_QUOTA_PRODUCE, 8),
	};
	struct fmq_quota_match m;

	for (int drop = 0; drop < 8; drop++) {
		struct fmq_quota_db *db;

		db = fmq_quota_db_new(all + drop, (uint32_t)(8 - drop));
		CU_ASSERT_FATAL(db != NULL);
		CU_ASSERT(resolve(db, FMQ_QUOTA_PRODUCE, "alice", "app", &m));
		CU_ASSERT_EQUAL(m.level, drop + 1);
		CU_ASSERT_EQUAL(m.bound, (double)(drop + 1));
		/* Another key is not configured at all. */
		CU_ASSERT(!resolve(db, FMQ_QUOTA_FETCH, "alice", "app", &m));
		fmq_sec_part_put(&db->part);
	}
	fmq_sec_part_put(NULL);
	CU_ASSERT(!resolve(NULL, FMQ_QUOTA_PRODUCE, "alice", "app", &m));
}

/* Each key resolves on its own: a more specific entity that sets only
 * consumer_byte_rate does not hide a user's producer_byte_rate. */
static void
test_per_key(void)
{
	struct fmq_quota_entity e[2] = {
		ent(FMQ_QS_NAME, "bob", FMQ_QS_NAME, "c1",
		    FMQ_QUOTA_FETCH, 500),
		ent(FMQ_QS_NAME, "bob", FMQ_QS_NONE, NULL,
		    FMQ_QUOTA_PRODUCE, 900),
	};
	struct fmq_quota_db *db = fmq_quota_db_new(e, 2);
	struct fmq_quota_match m;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(resolve(db, FMQ_QUOTA_PRODUCE, "bob", "c1", &m));
	CU_ASSERT_EQUAL(m.level, 3);
	CU_ASSERT_EQUAL(m.bound, 900);
	CU_ASSERT(resolve(db, FMQ_QUOTA_FETCH, "bob", "c1", &m));
	CU_ASSERT_EQUAL(m.level, 1);
	CU_ASSERT(!resolve(db, FMQ_QUOTA_FETCH, "bob", "c2", &m));
	CU_ASSERT(!resolve(db, FMQ_QUOTA_PRODUCE, "carol", "c1", &m));
	fmq_sec_part_put(&db->part);
}

/* Who shares a quota: Kafka's metric tags. */
static void
test_sharing(void)
{
	struct fmq_quota_entity e[3] = {
		ent(FMQ_QS_NAME, "alice", FMQ_QS_NONE, NULL,
		    FMQ_QUOTA_PRODUCE, 100),
		ent(FMQ_QS_NONE, NULL, FMQ_QS_NAME, "shared",
		    FMQ_QUOTA_PRODUCE, 200),
		ent(FMQ_QS_NONE, NULL, FMQ_QS_DEFAULT, NULL,
		    FMQ_QUOTA_PRODUCE, 300),
	};
	struct fmq_quota_db *db = fmq_quota_db_new(e, 3);
	struct fmq_quota_match a, b;

	CU_ASSERT_FATAL(db != NULL);
	/* A user's quota: all of alice's client-ids share one rate. */
	resolve(db, FMQ_QUOTA_PRODUCE, "alice", "x", &a);
	resolve(db, FMQ_QUOTA_PRODUCE, "alice", "y", &b);
	CU_ASSERT_EQUAL(a.level, 3);
	CU_ASSERT_EQUAL(a.tag, b.tag);
	/* A client-id's quota: all its users share one rate. */
	resolve(db, FMQ_QUOTA_PRODUCE, "bob", "shared", &a);
	resolve(db, FMQ_QUOTA_PRODUCE, "carol", "shared", &b);
	CU_ASSERT_EQUAL(a.level, 7);
	CU_ASSERT_EQUAL(a.tag, b.tag);
	CU_ASSERT_EQUAL(a.bound, 200);
	/* The default client-id quota: each client-id has its own. */
	resolve(db, FMQ_QUOTA_PRODUCE, "bob", "p1", &a);
	resolve(db, FMQ_QUOTA_PRODUCE, "bob", "p2", &b);
	CU_ASSERT_EQUAL(a.level, 8);
	CU_ASSERT_EQUAL(a.bound, 300);
	CU_ASSERT_NOT_EQUAL(a.tag, b.tag);
	/* Same names, other key: another rate. */
	CU_ASSERT_NOT_EQUAL(a.tag, 0);
	fmq_sec_part_put(&db->part);
}

/* Kafka's windowed rate: a young rate counts (num - 1) whole samples. */
static void
test_window_rate(void)
{
	struct fmq_quota_rate r;
	struct fmq_quota_win w = W;

	fmq_quota_rate_init(&r, 1, 0, &w);
	fmq_quota_rate_record(&r, 5000, 0, &w);
	CU_ASSERT_EQUAL(fmq_quota_rate_window_ms(&r, 0, &w), 10000);
	CU_ASSERT_DOUBLE_EQUAL(fmq_quota_rate_measure(&r, 0, &w), 500, 1e-9);
	/* 1000 bytes every 100 ms for 15 s: 10 kB/s once the window is
	 * full (11 samples: 10 whole ones and the current). */
	for (int64_t t = 100; t <= 15000; t += 100)
		fmq_quota_rate_record(&r, 1000, t, &w);
	double rate = fmq_quota_rate_measure(&r, 15000, &w);
	CU_ASSERT(rate > 9000 && rate < 11000);
	int64_t win = fmq_quota_rate_window_ms(&r, 15000, &w);
	CU_ASSERT(win >= 10000 && win <= 11000);
	/* Silence longer than the whole window: nothing left. */
	CU_ASSERT_DOUBLE_EQUAL(fmq_quota_rate_measure(&r, 40000, &w), 0, 1e-9);
}

/* (rate - bound) / bound * window, capped at the whole window. */
static void
test_throttle_time(void)
{
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(1000, 1000, 10000, &W), 0);
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(900, 1000, 10000, &W), 0);
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(1500, 1000, 10000, &W), 5000);
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(1001, 1000, 10000, &W), 10);
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(2000, 1000, 10500, &W), 10500);
	CU_ASSERT_EQUAL(fmq_quota_throttle_ms(1e9, 1000, 10000, &W), 11000);
}

/*
 * A client that obeys its throttle times (sends, then waits what it was
 * told) ends up at its quota: 16 KiB batches as fast as allowed against
 * 100 kB/s for 120 simulated seconds, measured after the first 20 (a new
 * rate counts (num - 1) empty samples, so it starts with a burst, as in
 * Kafka), and an unthrottled one beside it.
 */
static void
test_obeying_client_converges(void)
{
	static struct fmq_quota_rate mem[64];
	struct fmq_quota_tbl t;
	struct fmq_quota_entity e = ent(FMQ_QS_NONE, NULL, FMQ_QS_NAME, "slow",
					FMQ_QUOTA_PRODUCE, 100000);
	struct fmq_quota_db *db = fmq_quota_db_new(&e, 1);
	int64_t now = 0, sent = 0, throttled = 0, sent0 = -1, t0 = 0;

	CU_ASSERT_FATAL(db != NULL);
	fmq_quota_tbl_init(&t, mem, 64);
	while (now < 120000) {
		int64_t th = fmq_quota_record(&t, db, FMQ_QUOTA_PRODUCE, "u", 1,
					      "slow", 4, 16384, now, &W, 1);
		sent += 16384;
		throttled += th > 0;
		now += th > 0 ? th : 5;  /* 5 ms per round trip otherwise */
		if (sent0 < 0 && now >= 20000) {
			sent0 = sent;
			t0 = now;
		}
	}
	double rate = (double)(sent - sent0) * 1000.0 / (double)(now - t0);
	CU_ASSERT(throttled > 0);
	CU_ASSERT(rate > 90000 && rate < 110000);
	/* No quota for "fast": never throttled. */
	CU_ASSERT_EQUAL(fmq_quota_record(&t, db, FMQ_QUOTA_PRODUCE, "u", 1,
					 "fast", 4, 1e12, now, &W, 1), 0);
	/* Two data lcores each enforce half. */
	fmq_quota_tbl_init(&t, mem, 64);
	CU_ASSERT_EQUAL(fmq_quota_record(&t, db, FMQ_QUOTA_PRODUCE, "u", 1,
					 "slow", 4, 800000, 0, &W, 1), 0);
	fmq_quota_tbl_init(&t, mem, 64);
	CU_ASSERT(fmq_quota_record(&t, db, FMQ_QUOTA_PRODUCE, "u", 1,
				   "slow", 4, 800000, 0, &W, 2) > 0);
	fmq_sec_part_put(&db->part);
}

/* A full probe run gives its least recently used rate to a newcomer. */
static void
test_table_eviction(void)
{
	static struct fmq_quota_rate mem[8];
	struct fmq_quota_tbl t;
	struct fmq_quota_rate *r[9];

	fmq_quota_tbl_init(&t, mem, 8);
	for (uint64_t i = 0; i < 8; i++)
		r[i] = fmq_quota_tbl_get(&t, 100 + i, (int64_t)i, &W);
	CU_ASSERT_EQUAL(t.used, 8);
	CU_ASSERT_EQUAL(t.evicted, 0);
	CU_ASSERT_PTR_EQUAL(fmq_quota_tbl_get(&t, 103, 50, &W), r[3]);
	r[8] = fmq_quota_tbl_get(&t, 999, 60, &W);
	CU_ASSERT_EQUAL(t.evicted, 1);
	CU_ASSERT_PTR_EQUAL(r[8], r[0]);   /* tag 100: used at 0, the oldest */
	CU_ASSERT_EQUAL(r[8]->tag, 999);
}

static void
test_file_round_trip(void)
{
	char dir[] = "/tmp/fmq_quota_XXXXXX", path[64], err[256];
	struct fmq_quota_entity e[3] = {
		ent(FMQ_QS_NAME, "al ice=%*", FMQ_QS_NAME, "",
		    FMQ_QUOTA_PRODUCE, 1024),
		ent(FMQ_QS_DEFAULT, NULL, FMQ_QS_NONE, NULL,
		    FMQ_QUOTA_REQUEST, 12.5),
		ent(FMQ_QS_NONE, NULL, FMQ_QS_DEFAULT, NULL,
		    FMQ_QUOTA_MUTATION, 3),
	};
	struct fmq_quota_db *db, *back;
	FILE *f;

	e[0].value[FMQ_QUOTA_FETCH] = 2048;
	e[0].set |= 1u << FMQ_QUOTA_FETCH;
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/quotas", dir);
	/* No file: no quotas. */
	CU_ASSERT_EQUAL(fmq_quota_db_load(path, &back, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(back);
	db = fmq_quota_db_new(e, 3);
	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_EQUAL(fmq_quota_db_save(db, path), 0);
	CU_ASSERT_EQUAL(fmq_quota_db_load(path, &back, err, sizeof(err)), 0);
	CU_ASSERT_FATAL(back != NULL);
	CU_ASSERT_EQUAL(back->n, 3);
	for (uint32_t i = 0; i < 3 && back->n == 3; i++) {
		CU_ASSERT_EQUAL(fmq_quota_entity_cmp(&db->e[i], &back->e[i]),
				0);
		CU_ASSERT_EQUAL(db->e[i].set, back->e[i].set);
		CU_ASSERT_EQUAL(memcmp(db->e[i].value, back->e[i].value,
				       sizeof(db->e[i].value)), 0);
	}
	fmq_sec_part_put(&back->part);
	/* An empty database saves as an empty file that loads as none. */
	CU_ASSERT_EQUAL(fmq_quota_db_save(NULL, path), 0);
	CU_ASSERT_EQUAL(fmq_quota_db_load(path, &back, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(back);
	/* Damage is refused with the line named. */
	f = fopen(path, "a");
	CU_ASSERT_FATAL(f != NULL);
	fputs("entity =x - producer_byte_rate=abc\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(fmq_quota_db_load(path, &back, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT(strstr(err, "line 2") != NULL);
	fmq_sec_part_put(&db->part);
	unlink(path);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("quota", NULL, NULL);
	CU_add_test(s, "Kafka's eight precedence levels", test_precedence);
	CU_add_test(s, "each key resolves on its own", test_per_key);
	CU_add_test(s, "who shares a rate (metric tags)", test_sharing);
	CU_add_test(s, "sampled window rate", test_window_rate);
	CU_add_test(s, "throttle time", test_throttle_time);
	CU_add_test(s, "an obeying client converges to its quota",
		    test_obeying_client_converges);
	CU_add_test(s, "rate table eviction", test_table_eviction);
	CU_add_test(s, "quota file round trip and damage",
		    test_file_round_trip);
	return fmq_test_run(argc, argv);
}
