/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the whole broker (two data lcores and the control
 * state, on capture-only stacks, tests/unit/broker/kclient.c) fed request
 * streams on a fresh connection per input. What the lib/kafka target
 * cannot reach: the handlers behind the decoder (produce prechecks and
 * appends, fetch limits and parking, ListOffsets, forwarding to the
 * control lcore and the admin/group handlers there, partitions of the
 * other lcore), connection teardown with work in flight.
 *
 * Input: records of [flags u8][len u16 BE][len bytes]; each becomes a
 * frame (size prefix added) on the connection. flags bit 0: send it one
 * byte per segment; bit 1: pump before the next record; bit 2: use the
 * second data lcore's stack (first record only); bit 3: end with a FIN
 * instead of a reset. CreateTopics and CreatePartitions are turned into
 * ApiVersions (topics and partitions would pile up files across millions
 * of runs) and DeleteTopics likewise (the seeded topics stay). Crashes and
 * sanitizer reports are the findings; the broker must also keep
 * answering a plain request on a new connection after every input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kclient.h"
#include "net_test_util.h"

static struct kb kb;
static struct kb *k = &kb;
static int ready;

static void
create(const char *name, int parts)
{
	struct kc *c = kc_open(k);
	struct wb w;
	int32_t corr;
	const uint8_t *b;
	size_t len;

	if (c == NULL)
		abort();
	wb_init(&w);
	size_t st = wb_req(&w, 19, 0, 1, 1);
	w32(&w, 1);
	wstr(&w, name);
	w32(&w, parts);
	w16(&w, 1);
	w32(&w, 0);
	w32(&w, 0);
	w32(&w, 10000);
	wb_end(&w, st);
	kc_send(k, c, w.b, w.n);
	if (kc_wait(k, c, &corr, &b, &len) != 1)
		abort();
	kc_reset(k, c);
	kb_pump(k);
	kc_release(c);
	wb_free(&w);
}

/* Tear the broker down at exit, so the exit-time leak check sees only
 * what was really lost (and the scratch directories go away). */
static void
stop_broker(void)
{
	if (ready) {
		ready = 0;
		kb_stop(k);
	}
}

/*
 * Leak checks per input are off: the broker keeps state across inputs on
 * purpose (group members waiting for a rebalance, parked requests, the
 * logs), and much of it is reachable only through rte_malloc memory,
 * which LeakSanitizer does not scan, so every input that leaves state
 * behind would be reported with false leaks. ASan still checks every
 * access. libFuzzer parses its flags after this function, so the flag is
 * appended to argv here.
 */
static char *fuzz_argv[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const settings[] = {
		"auto.create.topics.enable=false",
		"socket.request.max.bytes=1048576",
		"group.initial.rebalance.delay.ms=0",
		NULL,
	};

	if (*argc < (int)(sizeof(fuzz_argv) / sizeof(fuzz_argv[0])) - 2) {
		for (int i = 0; i < *argc; i++)
			fuzz_argv[i] = (*argv)[i];
		fuzz_argv[*argc] = (char *)"-detect_leaks=0";
		fuzz_argv[*argc + 1] = NULL;
		*argc += 1;
		*argv = fuzz_argv;
	}
	if (nt_eal_init() < 0) {
		fprintf(stderr, "EAL init failed\n");
		abort();
	}
	fmq_log_set_level(FMQ_LOG_ERR);
	if (kb_start(k, 2, settings) < 0)
		abort();
	/* Names short and fixed so inputs can hit them. */
	create("f", 4);
	create("g", 1);
	ready = 1;
	atexit(stop_broker);
	return 0;
}

static void
sanitize_key(uint8_t *p, size_t len)
{
	int16_t key;

	if (len < 2)
		return;
	key = (int16_t)(p[0] << 8 | p[1]);
	if (key == 19 || key == 20 || key == 37) {
		p[0] = 0;
		p[1] = 18;
	}
}

/* The broker still answers ApiVersions on a new connection. */
static void
still_serving(void)
{
	static const uint8_t req[] = { 0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 9,
				       0, 0 };
	struct kc *c = kc_open(k);
	int32_t corr;
	const uint8_t *b;
	size_t len;

	if (c == NULL)
		abort();
	kc_send(k, c, req, sizeof(req));
	if (kc_wait(k, c, &corr, &b, &len) != 1 || corr != 9) {
		fprintf(stderr, "the broker stopped answering\n");
		abort();
	}
	kc_reset(k, c);
	kb_pump(k);
	kc_release(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[4 + 65535];
	struct kc *c;
	size_t pos = 0;
	bool fin = false;

	if (!ready || size < 3)
		return 0;
	c = kc_open_on(k, (data[0] & 4) ? 1 : 0);
	if (c == NULL)
		abort();
	while (pos + 3 <= size && !kc_closed(c)) {
		uint8_t flags = data[pos];
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		frame[0] = 0;
		frame[1] = 0;
		frame[2] = (uint8_t)(len >> 8);
		frame[3] = (uint8_t)len;
		memcpy(frame + 4, data + pos, len);
		sanitize_key(frame + 4, len);
		pos += len;
		if (flags & 1) {
			for (size_t i = 0; i < len + 4 && !kc_closed(c); i++)
				kc_inject(k, c, frame + i, 1);
		} else {
			kc_inject(k, c, frame, len + 4);
		}
		if (flags & 2)
			kb_pump(k);
		fin = (flags & 8) != 0;
	}
	kb_pump(k);
	/* Parked fetches and pending group operations see time pass. */
	kb_advance(k, 3);
	if (fin && !kc_closed(c))
		kc_close(k, c);
	/* Whatever state the connection is in, a reset ends it, so no
	 * half-closed connection outlives its input. */
	kc_reset(k, c);
	kb_pump(k);
	kc_release(c);
	still_serving();
	return 0;
}
