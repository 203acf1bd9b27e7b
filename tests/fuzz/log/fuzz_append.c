/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes fed to fmq_log_append_buf(). Each input
 * must be appended whole (the high watermark moves by its record count and
 * reading it back gives the same bytes) or rejected whole (nothing moves),
 * and the verdict must agree with fmq_log_batch_check().
 *
 * Inputs whose first byte is 'F' get their batchLength and CRC repaired
 * first (baseOffset is overwritten by the log anyway), so the fuzzer also
 * reaches the checks behind the CRC.
 *
 * The fused copy-and-validate pass is also run directly with a block size
 * taken from the input's last byte (1 to 256 bytes, so small inputs cross
 * many block boundaries) and must give batch_validate()'s verdict, CRC
 * flag included, and an exact copy.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmq_log.h"
#include "log_priv.h"
#include "../../unit/log/tbatch.h"
#include "../../unit/log/tutil.h"

#define MAX_MSG (256u << 10)

static struct fmq_log *flog;
static struct fmq_log_part *part;
static char hot[256], data[256];
static uint8_t *buf, *back, *dst;
static unsigned long runs;

static void
cleanup(void)
{
	fmq_log_free(flog);
	fmq_log_destroy_pool(hot);
	tu_rm_rf(data);
}

static void
setup(void)
{
	struct fmq_log_params lp = {
		.hot_pool_bytes = 8u << 20, .hot_chunk_bytes = 1u << 20,
		.nb_lcores = 1, .max_partitions = 1,
	};
	struct fmq_log_part_params pp;
	char err[256];

	fmq_log_set_level(FMQ_LOG_ERR);
	snprintf(hot, sizeof(hot), "%s/fmq-logfuzz-%d", tu_shm_base(),
		 (int)getpid());
	snprintf(data, sizeof(data), "%s/fmq-logfuzz-%d", tu_data_base(),
		 (int)getpid());
	lp.hot_dir = hot;
	flog = fmq_log_create(&lp, err, sizeof(err));
	if (flog == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	fmq_log_part_params_default(&pp);
	pp.dir = data;
	pp.topic = "fuzz";
	pp.max_message_bytes = MAX_MSG;
	/* The verdict compared below is fmq_log_batch_check's, which does
	 * not decompress; fuzz_codec covers deep validation. */
	pp.deep_validation = false;
	pp.segment_bytes = 4u << 20;
	pp.hot_bytes = 0;
	pp.retention_bytes = 0;
	pp.retention_ms = -1;
	part = fmq_log_part_open(flog, &pp);
	if (part == NULL)
		abort();
	buf = malloc(MAX_MSG + 64);
	back = malloc(MAX_MSG + 64);
	dst = malloc(MAX_MSG + 64);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct fmq_log_append_result res;
	struct fmq_log_offsets o0, o1;
	struct fmq_log_stats s0, s1;
	uint32_t len, records = 0;
	int16_t verdict;
	int rc;

	if (flog == NULL)
		setup();
	if (size > MAX_MSG + 64)
		return 0;
	len = (uint32_t)size;
	memcpy(buf, in, size);
	if (len >= 61 && buf[0] == 'F') {
		tb_be32(buf + 8, len - 12);
		tb_fix_crc(buf, len);
	}
	verdict = fmq_log_batch_check(buf, len, MAX_MSG, &records);
	{
		struct batch_info bi0, bi1;
		struct batch_src src;
		uint32_t block = len > 0 ? 1u + in[size - 1] : 1;
		bool crc0, crc1;
		int16_t e0, e1;

		e0 = batch_validate(buf, len, MAX_MSG, &bi0, &crc0);
		batch_src_buf(&src, buf);
		e1 = batch_copy_validate(dst, &src, len, MAX_MSG, block, &bi1,
					 &crc1);
		if (e0 != verdict || e1 != e0 || crc1 != crc0 ||
		    (e0 == 0 && memcmp(dst, buf, len) != 0))
			abort();
	}
	fmq_log_part_offsets(part, &o0);
	fmq_log_stats(flog, &s0);
	rc = fmq_log_append_buf(part, buf, len, &res);
	if (rc == -EAGAIN) {
		fmq_log_flush(flog, fmq_now_ns(), true);
		rc = fmq_log_append_buf(part, buf, len, &res);
	}
	fmq_log_part_offsets(part, &o1);
	fmq_log_stats(flog, &s1);
	if (rc == 0 && res.duplicate) {
		/* A retry of one of the producer's last batches: answered
		 * with its first offsets, nothing appended. */
		if (verdict != 0 || o1.high_watermark != o0.high_watermark ||
		    s1.append_bytes != s0.append_bytes ||
		    res.base_offset >= o0.high_watermark)
			abort();
	} else if (rc == 0) {
		struct fmq_log_range r;
		struct fmq_log_read_result rr;

		if (verdict != 0 || res.base_offset != o0.high_watermark ||
		    o1.high_watermark != o0.high_watermark + records ||
		    s1.append_bytes != s0.append_bytes + len)
			abort();
		if (fmq_log_read(part, res.base_offset, 1, &r, 1, &rr) != 0 ||
		    rr.nranges != 1 || r.len != len ||
		    fmq_log_range_copy(&r, back) != 0 ||
		    memcmp(back + 16, buf + 16, len - 16) != 0 ||
		    fmq_log_batch_check(back, len, MAX_MSG, NULL) != 0)
			abort();
		fmq_log_range_release(&r);
	} else if (rc == -EBADMSG) {
		/* A well-framed batch can still be refused for its size, a
		 * record the append path checks beyond the framing, or, from an
		 * idempotent producer, its sequence, epoch or transaction bit.
		 * Whatever the reason, nothing may be appended (checked below). */
		if (verdict == 0 && res.error != 10 /* MESSAGE_TOO_LARGE */ &&
		    res.error != 45 /* OUT_OF_ORDER_SEQUENCE_NUMBER */ &&
		    res.error != 47 /* INVALID_PRODUCER_EPOCH */ &&
		    res.error != 48 /* INVALID_TXN_STATE: no transactions */ &&
		    res.error != 87 /* INVALID_RECORD */)
			abort();
		if (verdict != 0 && verdict != res.error)
			abort();
		if (o1.high_watermark != o0.high_watermark ||
		    s1.append_bytes != s0.append_bytes ||
		    s1.rejects != s0.rejects + 1)
			abort();
	} else if (rc == -ENOSPC) {
		/* Every segment slot in use (each batch with a huge offset
		 * delta rolls): refused whole too, and retention makes room. */
		if (verdict != 0 || o1.high_watermark != o0.high_watermark ||
		    s1.append_bytes != s0.append_bytes)
			abort();
		runs = 31;
	} else {
		abort();
	}
	if (++runs % 32 == 0) {
		fmq_log_flush(flog, fmq_now_ns(), true);
		fmq_log_retention(flog, fmq_wall_ms());
	}
	return 0;
}
