/* SPDX-License-Identifier: Apache-2.0 */
/* fluxmq: placeholder entry point until the appliance skeleton lands. */
#include <stdlib.h>
#include <string.h>

#include "fmq_util.h"

int
main(int argc, char **argv)
{
	struct fmq_config cfg;
	char err[512];

	fmq_config_defaults(&cfg);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dump-config-doc") == 0) {
			fmq_config_write_doc(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			if (fmq_config_load_file(&cfg, argv[++i], err, sizeof(err)) < 0) {
				fprintf(stderr, "%s\n", err);
				return 2;
			}
		}
	}
	return 0;
}
