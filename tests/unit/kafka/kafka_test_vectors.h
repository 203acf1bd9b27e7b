/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests captured from real clients (tests/vectors/kafka/NAME.bin, see the
 * README there). Each file is one whole request frame, size prefix included.
 */
#ifndef KAFKA_TEST_VECTORS_H
#define KAFKA_TEST_VECTORS_H

#include "fmq_kafka.h"

struct kt_vector {
	const char *file;
	int16_t api_key;
	int16_t version;
	/** Optional semantic check of the decoded request. */
	bool (*check)(const struct fmq_kafka_req_hdr *h, const void *body);
};

extern const struct kt_vector kt_vectors[];
extern const size_t kt_nvectors;

#endif
