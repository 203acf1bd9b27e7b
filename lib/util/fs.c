/* SPDX-License-Identifier: Apache-2.0 */
/* Small file-system helpers shared by the control lcore and the log. */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "fmq_util.h"

int
fmq_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* One number from a sysfs file of the hugepage pool of page_sz. */
static long
hugepage_count(size_t page_sz, const char *what)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/%s",
		 page_sz / 1024, what);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

long
fmq_hugepages_free(size_t page_sz)
{
	long fr = hugepage_count(page_sz, "free_hugepages");
	long resv = hugepage_count(page_sz, "resv_hugepages");

	if (fr < 0)
		return -1;
	return resv > 0 ? fr - resv : fr;
}
