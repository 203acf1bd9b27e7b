/* SPDX-License-Identifier: Apache-2.0 */
#include <CUnit/Basic.h>

#include "fmq_util.h"

static void
test_defaults_parse(void)
{
	struct fmq_config cfg;
	char buf[512];
	size_t n;
	const struct fmq_cfg_key *k = fmq_config_keys(&n);

	fmq_config_defaults(&cfg);
	CU_ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		char err[512], kv[700];
		fmq_config_format(&cfg, &k[i], buf, sizeof(buf));
		snprintf(kv, sizeof(kv), "%s=%s", k[i].name, buf);
		CU_ASSERT_EQUAL(fmq_config_set(&cfg, kv, "t", 1, err, sizeof(err)), 0);
	}
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("util", NULL, NULL);
	CU_add_test(s, "defaults round-trip", test_defaults_parse);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned int fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
