/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Truncation of a closed partition's files (replication: a follower
 * drops what its leader never committed before it fetches again). The
 * partition is reopened afterwards, and recovery rebuilds the indexes of
 * the segment that was cut (entries past its end are dropped there).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_priv.h"

/* "<20 digits><ext>": the base offset, or -1. */
static int64_t
name_offset(const char *name, const char *ext)
{
	size_t n = strlen(name), el = strlen(ext);
	char *end;
	long long v;

	if (n != 20 + el || strcmp(name + 20, ext) != 0)
		return -1;
	v = strtoll(name, &end, 10);
	return end == name + 20 && v >= 0 ? (int64_t)v : -1;
}

static void
unlink_at(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		FMQ_WARN(LOG_COMP, "%s: unlink: %s", path, strerror(errno));
}

/* Cut the segment file at the first batch whose last offset is at or
 * past offset; returns the log end after it (its next offset). */
static int64_t
cut_segment(const char *dir, int64_t base, int64_t offset)
{
	char path[PATH_MAX];
	uint8_t h[RB_RECORDS];
	int64_t next = base;
	uint64_t pos = 0;
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", dir, base);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) != 0)
		goto err;
	while (pos + RB_RECORDS <= (uint64_t)sb.st_size) {
		if (pread(fd, h, sizeof(h), (off_t)pos) != (ssize_t)sizeof(h))
			goto err;
		int64_t b = (int64_t)rd_be64(h + RB_BASE_OFFSET);
		int32_t len = (int32_t)rd_be32(h + RB_LENGTH);
		int32_t last = (int32_t)rd_be32(h + RB_LAST_OFFSET_DELTA);
		if (len < RB_RECORDS - RB_LOG_OVERHEAD ||
		    pos + RB_LOG_OVERHEAD + (uint64_t)len >
		    (uint64_t)sb.st_size || b + last >= offset)
			break;
		pos += RB_LOG_OVERHEAD + (uint64_t)len;
		next = b + last + 1;
	}
	if ((off_t)pos < sb.st_size && ftruncate(fd, (off_t)pos) != 0)
		goto err;
	if (fdatasync(fd) != 0)
		goto err;
	close(fd);
	return next;
err:;
	int e = errno;
	close(fd);
	return -e;
}

int64_t
fmq_log_dir_truncate(const char *dir, int64_t offset)
{
	int64_t keep = -1, end;
	struct dirent *de;
	DIR *d;

	if (offset < 0)
		return -EINVAL;
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	/* The segment that holds offset: the last starting before it. */
	while ((de = readdir(d)) != NULL) {
		int64_t b = name_offset(de->d_name, ".log");
		if (b >= 0 && b < offset && b > keep)
			keep = b;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		int64_t b = name_offset(de->d_name, ".log");
		if (b < 0)
			b = name_offset(de->d_name, ".index");
		if (b < 0)
			b = name_offset(de->d_name, ".timeindex");
		if (b >= 0 && b > keep)
			unlink_at(dir, de->d_name);
	}
	end = keep >= 0 ? cut_segment(dir, keep, offset) : 0;
	if (end < 0) {
		closedir(d);
		return end;
	}
	epoch_dir_truncate(dir, end);
	/* Producer snapshots past the new end describe batches gone. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		int64_t s = name_offset(de->d_name, ".producers");
		if (s > end)
			unlink_at(dir, de->d_name);
	}
	closedir(d);
	return end;
}
