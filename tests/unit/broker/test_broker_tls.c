/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker on an SSL listener, end to end without a NIC (kclient.c's
 * capture-only stack) against an OpenSSL client: produce and fetch
 * through TLS, a zero-copy fetch much larger than TCP's send buffer
 * encrypted as the client acknowledges it (ciphertext held by the
 * connection stays near net.tcp.snd_buf), and a plaintext client on the
 * TLS port closed (reason TLS) while a TLS client beside it goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <rte_eal.h>
#include <rte_mempool.h>

#include "kclient.h"
#include "broker_priv.h"
#include "net_test_util.h"
#include "harness.h"
#include "tls_pair.h"

static struct kb kb;
static struct kb *k = &kb;
static struct tls_files files;
static int32_t corr_n = 1;

/* A TLS client on a kclient connection. */
struct tc {
	struct kc *c;
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *in, *out;
	uint8_t *plain;
	size_t len, cap;
};

static void
tc_flush(struct tc *t)
{
	uint8_t buf[16384];
	int n;

	while ((n = BIO_read(t->out, buf, sizeof(buf))) > 0)
		kc_send(k, t->c, buf, (size_t)n);
}

/* What the broker sent, to the client's SSL. */
static void
tc_pull(struct tc *t)
{
	struct kc *c = t->c;

	if (c->rxlen > c->rxoff)
		BIO_write(t->in, c->rx + c->rxoff, (int)(c->rxlen - c->rxoff));
	c->rxoff = c->rxlen;
}

static int
tc_open(struct tc *t)
{
	memset(t, 0, sizeof(*t));
	t->c = kc_open(k);
	if (t->c == NULL)
		return -1;
	t->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_load_verify_locations(t->ctx, files.ca, NULL);
	t->ssl = SSL_new(t->ctx);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(t->in, -1);
	SSL_set_bio(t->ssl, t->in, t->out);
	SSL_set_connect_state(t->ssl);
	for (int i = 0; i < 20; i++) {
		int rc = SSL_do_handshake(t->ssl);

		tc_flush(t);
		if (rc == 1)
			return 0;
		if (SSL_get_error(t->ssl, rc) != SSL_ERROR_WANT_READ ||
		    kc_closed(t->c))
			return -1;
		kb_pump(k);
		tc_pull(t);
	}
	return -1;
}

static void
tc_free(struct tc *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t->plain);
	ERR_clear_error();
}

/* Decrypt what is there; true when a whole response is in t->plain. */
static bool
tc_have_frame(struct tc *t)
{
	for (;;) {
		int n;

		if (t->cap - t->len < 16384) {
			t->cap = t->cap * 2 + 65536;
			t->plain = realloc(t->plain, t->cap);
		}
		n = SSL_read(t->ssl, t->plain + t->len,
			     (int)(t->cap - t->len));
		if (n <= 0)
			break;
		t->len += (size_t)n;
	}
	return t->len >= 4 && t->len >= 4 + (size_t)rd32(t->plain);
}

/* Send a request, wait for its answer: the body (after the correlation
 * id) or NULL. Valid until the next call. */
static const uint8_t *
tc_call(struct tc *t, struct wb *w, size_t *len)
{
	int32_t want = rd32(w->b + 8);
	size_t size;

	/* Consume the previous answer. */
	if (t->len >= 4 && t->len >= 4 + (size_t)rd32(t->plain)) {
		size = 4 + (size_t)rd32(t->plain);
		memmove(t->plain, t->plain + size, t->len - size);
		t->len -= size;
	}
	SSL_write(t->ssl, w->b, (int)w->n);
	w->n = 0;
	tc_flush(t);
	for (int i = 0; i < 20000 && !tc_have_frame(t); i++) {
		if (kc_closed(t->c))
			return NULL;
		kb_advance(k, 1);
		tc_pull(t);
	}
	if (!tc_have_frame(t))
		return NULL;
	CU_ASSERT_EQUAL(rd32(t->plain + 4), want);
	*len = (size_t)rd32(t->plain) - 4;
	return t->plain + 8;
}

/* -------------------------------------------------------- requests */

static void
req_create_topic(struct wb *w, int32_t corr, const char *name)
{
	size_t st = wb_req(w, 19, 0, corr, 1);

	w32(w, 1);
	wstr(w, name);
	w32(w, 1);
	w16(w, 1);
	w32(w, 0);
	w32(w, 0);
	w32(w, 10000);
	wb_end(w, st);
}

static void
req_produce(struct wb *w, int32_t corr, const char *topic,
	    const uint8_t *batch, size_t blen)
{
	size_t st = wb_req(w, 0, 7, corr, 1);

	wstr(w, NULL);
	w16(w, 1);
	w32(w, 5000);
	w32(w, 1);
	wstr(w, topic);
	w32(w, 1);
	w32(w, 0);
	w32(w, (int32_t)blen);
	wraw(w, batch, blen);
	wb_end(w, st);
}

static void
req_fetch(struct wb *w, int32_t corr, const char *topic, int64_t off,
	  int32_t pmax)
{
	size_t st = wb_req(w, 1, 5, corr, 1);

	w32(w, -1);
	w32(w, 0);
	w32(w, 1);
	w32(w, 50 << 20);
	w8(w, 0);
	w32(w, 1);
	wstr(w, topic);
	w32(w, 1);
	w32(w, 0);
	w64(w, off);
	w64(w, -1);
	w32(w, pmax);
	wb_end(w, st);
}

/* Fetch v5, one partition: error and the records' bytes. */
static int16_t
fetch_records(const uint8_t *b, size_t len, const uint8_t **recs,
	      int32_t *n)
{
	size_t p = 8;
	int16_t nl = rd16(b + p);
	int32_t na;

	p += 2 + (size_t)(nl > 0 ? nl : 0) + 4 + 4;
	if (p + 30 > len)
		return -999;
	na = rd32(b + p + 26);
	p += 30 + (size_t)(na > 0 ? na : 0) * 16;
	if (p + 4 > len)
		return -999;
	*n = rd32(b + p);
	*recs = b + p + 4;
	return rd16(b + 8 + 2 + (size_t)(nl > 0 ? nl : 0) + 4 + 4);
}

static void
create_topic(struct tc *t, const char *name)
{
	struct wb w;
	const uint8_t *b;
	size_t len;

	wb_init(&w);
	req_create_topic(&w, corr_n++, name);
	b = tc_call(t, &w, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(rd16(b + 4 + 2 + strlen(name)), 0);
	wb_free(&w);
}

/* n batches of 'recs' records of vlen bytes; their bytes in *all. */
static size_t
produce_batches(struct tc *t, const char *topic, int n, int recs,
		size_t vlen, uint8_t **all)
{
	static uint8_t batch[65536];
	size_t total = 0;
	struct wb w;

	wb_init(&w);
	*all = malloc((size_t)n * sizeof(batch));
	for (int i = 0; i < n; i++) {
		size_t bl = kc_batch(batch, sizeof(batch), recs, vlen,
				     (uint8_t)i, 1000 + i, true);
		const uint8_t *b;
		size_t len;

		req_produce(&w, corr_n++, topic, batch, bl);
		b = tc_call(t, &w, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		/* Batches are stored as sent but for the base offset. */
		memcpy(*all + total, batch, bl);
		total += bl;
	}
	wb_free(&w);
	return total;
}

/* Compare fetched batches with what was produced, base offsets aside
 * (the first 8 bytes of each batch). */
static bool
same_batches(const uint8_t *got, const uint8_t *want, size_t n)
{
	size_t p = 0;

	while (p + 12 <= n) {
		size_t bl = 12 + (size_t)rd32(want + p + 8);

		if (p + bl > n || memcmp(got + p + 8, want + p + 8, bl - 8))
			return false;
		p += bl;
	}
	return p == n;
}

static void
test_produce_fetch(void)
{
	struct tc t;
	struct wb w;
	uint8_t *all;
	const uint8_t *b, *recs;
	size_t len, total;
	int32_t n;

	CU_ASSERT_FATAL(tc_open(&t) == 0);
	create_topic(&t, "tls");
	total = produce_batches(&t, "tls", 3, 10, 100, &all);
	wb_init(&w);
	req_fetch(&w, corr_n++, "tls", 0, 1 << 20);
	b = tc_call(&t, &w, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(fetch_records(b, len, &recs, &n), 0);
	CU_ASSERT_EQUAL((size_t)n, total);
	CU_ASSERT(same_batches(recs, all, total));
	CU_ASSERT(kb_metric(k, "fluxmq_tls_handshakes_total{lcore=\"0\","
			    "version=\"TLSv1.3\",result=\"ok\"}") >= 1);
	free(all);
	wb_free(&w);
	kc_close(k, t.c);
	tc_free(&t);
}

/* A 3 MB fetch (zero-copy plaintext) over a 256 KiB send buffer: the
 * broker encrypts as the client acknowledges, and the pool never holds
 * much more than the send buffer of its ciphertext. */
static void
test_large_fetch_bounded(void)
{
	struct tc t;
	struct wb w;
	uint8_t *all;
	const uint8_t *b, *recs;
	size_t len, total;
	unsigned int low;
	int32_t n;

	CU_ASSERT_FATAL(tc_open(&t) == 0);
	create_topic(&t, "tls-big");
	total = produce_batches(&t, "tls-big", 60, 50, 1000, &all);
	CU_ASSERT(total > 3000000);
	wb_init(&w);
	req_fetch(&w, corr_n++, "tls-big", 0, 8 << 20);
	SSL_write(t.ssl, w.b, (int)w.n);
	w.n = 0;
	/* The request in without a pump (no ACK from the client), a few
	 * polls of the lcore: the response is built and what TCP takes is
	 * encrypted; count the mbufs that holds before any ACK. */
	low = rte_mempool_avail_count(nt_pool);
	{
		uint8_t buf[4096];
		int n = BIO_read(t.out, buf, sizeof(buf));

		CU_ASSERT_FATAL(n > 0 && n < KC_MSS);
		kc_inject(k, t.c, buf, (size_t)n);
	}
	for (int i = 0; i < 5; i++)
		kb_poll_lcore(k, 0);
	CU_ASSERT(low - rte_mempool_avail_count(nt_pool) < 600);
	if (low - rte_mempool_avail_count(nt_pool) >= 600)
		fprintf(stderr, "\n  %u mbufs held after one poll\n",
			low - rte_mempool_avail_count(nt_pool));
	t.len = 0;
	for (int i = 0; i < 20000 && !tc_have_frame(&t); i++) {
		kb_advance(k, 1);
		tc_pull(&t);
	}
	CU_ASSERT_FATAL(tc_have_frame(&t));
	b = t.plain + 8;
	len = (size_t)rd32(t.plain) - 4;
	CU_ASSERT_EQUAL(fetch_records(b, len, &recs, &n), 0);
	CU_ASSERT_EQUAL((size_t)n, total);
	CU_ASSERT(same_batches(recs, all, total));
	free(all);
	wb_free(&w);
	kc_close(k, t.c);
	tc_free(&t);
}

/* A plaintext ApiVersions on the TLS port: closed, reason TLS; a TLS
 * client beside it goes on. */
static void
test_plaintext_refused(void)
{
	static const uint8_t av[] = { 0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 7,
				      0, 4, 'u', 'n', 'i', 't' };
	long long tls0 = kb_metric(k, "fluxmq_kafka_connection_closes_total"
				   "{reason=\"TLS\"}");
	struct kc *p;
	struct tc t;
	struct wb w;
	const uint8_t *b;
	size_t len;

	CU_ASSERT_FATAL(tc_open(&t) == 0);
	p = kc_open(k);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	kc_send(k, p, av, sizeof(av));
	kb_advance(k, 5);
	CU_ASSERT(kc_closed(p));
	CU_ASSERT_EQUAL(kb_metric(k, "fluxmq_kafka_connection_closes_total"
				  "{reason=\"TLS\"}"), tls0 + 1);
	wb_init(&w);
	req_create_topic(&w, corr_n++, "tls-after");
	b = tc_call(&t, &w, &len);
	CU_ASSERT_PTR_NOT_NULL(b);
	wb_free(&w);
	kc_release(p);
	kc_close(k, t.c);
	tc_free(&t);
}

int
main(int argc, char **argv)
{
	static char ks[160];
	const char *settings[] = {
		"listeners=SSL://:9092",
		ks,
		"socket.request.max.bytes=1048576",
		"log.hot.pool.bytes=33554432",
		NULL,
	};
	CU_pSuite s;
	int fails;

	if (nt_eal_init() < 0) {
		fprintf(stderr, "EAL init failed: skipping\n");
		return 77;
	}
	fmq_log_set_level(FMQ_LOG_ERR);
	if (tls_files_make(&files) < 0)
		return 1;
	snprintf(ks, sizeof(ks), "ssl.keystore.location=%s", files.server);
	if (kb_start(k, 1, settings) < 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("broker over TLS", NULL, NULL);
	CU_add_test(s, "produce and fetch through TLS", test_produce_fetch);
	CU_add_test(s, "a 3 MB zero-copy fetch encrypted as the client acks",
		    test_large_fetch_bounded);
	CU_add_test(s, "plaintext on the TLS port closed, a TLS client goes on",
		    test_plaintext_refused);
	fails = fmq_test_run(argc, argv);
	kb_stop(k);
	tls_files_remove(&files);
	rte_eal_cleanup();
	return fails;
}
