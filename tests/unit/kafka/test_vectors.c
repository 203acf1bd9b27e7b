/* SPDX-License-Identifier: Apache-2.0 */
/* The captured client vectors and what each must decode to. */
#include "kafka_test_vectors.h"

const struct kt_vector kt_vectors[] = {
	{ NULL, 0, 0, NULL },
};
const size_t kt_nvectors = 0;
