/* SPDX-License-Identifier: Apache-2.0 */
/* lib/cluster internals. */
#ifndef FMQ_CLUSTER_PRIV_H
#define FMQ_CLUSTER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "fmq_cluster.h"

const char *cl_json_find(const char *j, size_t len, const char *key);
int cl_json_int(const char *p, const char *end, int64_t *v);
const char *cl_json_str(const char *p, const char *end, char *out, size_t len);
int cl_json_int_array(const char *p, const char *end, int32_t *out, int max);

#endif
