/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: scratch directories, hugetlbfs discovery, reading a
 * partition back through the public read API. */
#ifndef FMQ_TUTIL_H
#define FMQ_TUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fmq_log.h"

static int
tu_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
tu_rm_rf(const char *path)
{
	nftw(path, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A hugetlbfs mount point with free pages, or NULL. */
static inline const char *
tu_hugetlbfs(void)
{
	static char mnt[256];
	char dev[256], type[64], line[1024];
	FILE *f = fopen("/proc/mounts", "r");

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%255s %255s %63s", dev, mnt, type) == 3 &&
		    strcmp(type, "hugetlbfs") == 0 && access(mnt, W_OK) == 0) {
			fclose(f);
			return mnt;
		}
	}
	fclose(f);
	return NULL;
}

/* Scratch space: ordinary-memory hot dirs go to /dev/shm (tmpfs, not
 * hugetlbfs) when it exists; data dirs to $FMQ_TEST_DIR or /tmp. */
static inline const char *
tu_shm_base(void)
{
	struct stat st;

	return stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
}

static inline const char *
tu_data_base(void)
{
	const char *d = getenv("FMQ_TEST_DIR");

	return d != NULL && d[0] != '\0' ? d : "/tmp";
}

/* Read every batch in [from, hw) through fmq_log_read into buf; calls
 * fn(batch bytes, size, arg) for each; returns batches seen or -1. */
typedef int (*tu_batch_fn)(const uint8_t *b, uint32_t size, void *arg);

static inline long
tu_read_all(struct fmq_log_part *p, int64_t from, uint8_t *buf,
	    uint32_t bufsz, tu_batch_fn fn, void *arg)
{
	struct fmq_log_range r[8];
	struct fmq_log_read_result res;
	int64_t cur = from;
	long n = 0;

	for (;;) {
		if (fmq_log_read(p, cur, bufsz, r, 8, &res) != 0 ||
		    res.error != 0)
			return -1;
		if (res.nranges == 0)
			break;
		for (uint32_t i = 0; i < res.nranges; i++) {
			uint32_t pos = 0;

			if (r[i].len > bufsz ||
			    fmq_log_range_copy(&r[i], buf) != 0) {
				for (uint32_t j = i; j < res.nranges; j++)
					fmq_log_range_release(&r[j]);
				return -1;
			}
			while (pos < r[i].len) {
				uint32_t sz = ((uint32_t)buf[pos + 8] << 24 |
					       (uint32_t)buf[pos + 9] << 16 |
					       (uint32_t)buf[pos + 10] << 8 |
					       buf[pos + 11]) + 12;

				if (sz < 61 || pos + sz > r[i].len) {
					fmq_log_range_release(&r[i]);
					return -1;
				}
				if (fn != NULL && fn(buf + pos, sz, arg) != 0) {
					for (uint32_t j = i; j < res.nranges;
					     j++)
						fmq_log_range_release(&r[j]);
					return -1;
				}
				pos += sz;
				n++;
			}
			cur = r[i].next_offset;
			fmq_log_range_release(&r[i]);
		}
		if (cur >= res.high_watermark)
			break;
	}
	return n;
}


/* A log with params p (hot pool at <shm_root>/<name>, written to hot). */
static inline struct fmq_log *
tu_log_create(struct fmq_log_params *p, const char *shm_root,
	      const char *name, char *hot)
{
	char err[512];
	struct fmq_log *log;

	snprintf(hot, 256, "%s/%s", shm_root, name);
	p->hot_dir = hot;
	log = fmq_log_create(p, err, sizeof(err));
	if (log == NULL)
		fprintf(stderr, "fmq_log_create: %s\n", err);
	return log;
}

/* Default partition parameters, data in <root>/<name> (written to dir). */
static inline void
tu_part_params(struct fmq_log_part_params *pp, const char *root,
	       const char *name, char *dir, const char *topic,
	       uint32_t max_message_bytes)
{
	fmq_log_part_params_default(pp);
	snprintf(dir, 256, "%s/%s", root, name);
	pp->dir = dir;
	pp->topic = topic;
	pp->max_message_bytes = max_message_bytes;
}

#endif /* FMQ_TUTIL_H */
