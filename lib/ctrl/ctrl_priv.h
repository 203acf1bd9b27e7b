/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ctrl internals. */
#ifndef FMQ_CTRL_PRIV_H
#define FMQ_CTRL_PRIV_H

/* Kafka error codes from the shared table: FMQ_CTRL_E_<NAME>. */
enum fmq_ctrl_kerr {
#define FMQ_KERR(name, code, retriable, msg) FMQ_CTRL_E_##name = code,
#include "fmq_kafka_err.def"
#undef FMQ_KERR
};

#endif
