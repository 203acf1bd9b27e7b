/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka protocol error codes (Errors.java numbering) as one enum for every
 * library: FMQ_KERR_<NAME>, from the X-macro table fmq_kafka_err.def. A
 * header with no code behind it, so lib/log, lib/ctrl and the others name
 * Kafka's codes without depending on lib/kafka.
 */
#ifndef FMQ_KERR_H
#define FMQ_KERR_H

enum fmq_kerr {
#define FMQ_KERR(name, code, retriable, msg) FMQ_KERR_##name = (code),
#include "fmq_kafka_err.def"
#undef FMQ_KERR
};

#endif /* FMQ_KERR_H */
