/* SPDX-License-Identifier: Apache-2.0 */
/* Small file-system helpers shared by the control lcore and the log. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int
tmp_path(const char *path, char *tmp, size_t len)
{
	if ((size_t)snprintf(tmp, len, "%s.tmp", path) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int
fmq_file_begin(const char *path, mode_t mode, FILE **fp)
{
	char tmp[PATH_MAX];
	int fd, rc = tmp_path(path, tmp, sizeof(tmp));

	if (rc < 0)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* O_CREAT keeps the mode of a temporary that was already there. */
	if (fchmod(fd, mode) != 0 || (*fp = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	return 0;
}

int
fmq_file_commit(FILE *f, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, rc = tmp_path(path, tmp, sizeof(tmp));

	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
fmq_file_replace(const char *path, mode_t mode, const void *buf, size_t len)
{
	FILE *f;
	int rc = fmq_file_begin(path, mode, &f);

	if (rc < 0)
		return rc;
	if (len > 0 && fwrite(buf, 1, len, f) != len) {
		char tmp[PATH_MAX];

		rc = errno != 0 ? -errno : -EIO;
		fclose(f);
		if (tmp_path(path, tmp, sizeof(tmp)) == 0)
			unlink(tmp);
		return rc;
	}
	return fmq_file_commit(f, path);
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
