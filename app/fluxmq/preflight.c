/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up checks that run before anything touches a device, the log or
 * the hot pool: constraints between keys, and one instance per resource.
 * A second broker configured with the running one's TAP, data-plane
 * subnet, management address, log directory or hot pool stops here with
 * exit 2 and a message naming the key, and the first keeps serving.
 *
 * What is held for the life of the process (released by the kernel when
 * it exits, however it exits):
 *   - the management socket, bound without SO_REUSEPORT;
 *   - flock(LOCK_EX) on <dir>/.lock in every log.dirs entry (Kafka's lock
 *     file; it holds the owner's pid for the message);
 *   - flock(LOCK_EX) on the log.hot.dir directory itself (hugetlbfs takes
 *     no writes to small files);
 *   - with the embedded TAP, flock(LOCK_EX) on /run/fluxmq/tap-<name>.lock,
 *     so two brokers starting at the same moment cannot both find the name
 *     free.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "app.h"

#define RUN_DIR "/run/fluxmq"
#define CHUNK_HDR 512

/*
 * Every partition holds a few descriptors (segment, offset and time
 * indexes), and the management endpoint and the connections need their
 * own. Take the hard limit: the default soft limit of 1,024 is reached
 * after about 300 partitions.
 */
void
app_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want, old;
	FILE *f;
	unsigned long nr_open = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	old = rl.rlim_cur;
	want = rl.rlim_max;
	if (want == RLIM_INFINITY) {
		/* The kernel refuses more than fs.nr_open. */
		f = fopen("/proc/sys/fs/nr_open", "r");
		if (f != NULL) {
			if (fscanf(f, "%lu", &nr_open) != 1)
				nr_open = 0;
			fclose(f);
		}
		want = nr_open > 0 ? (rlim_t)nr_open : 1048576;
	}
	if (old != RLIM_INFINITY && old >= want) {
		FMQ_INFO("main", "open-file limit %llu (the hard limit)",
			 (unsigned long long)old);
		return;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		FMQ_WARN("main", "open-file limit stays %llu: raising it to "
			 "%llu: %s", (unsigned long long)old,
			 (unsigned long long)want, strerror(errno));
		return;
	}
	FMQ_INFO("main", "open-file limit raised from %llu to %llu (the "
		 "hard limit; raise that with LimitNOFILE= or ulimit -Hn for "
		 "more partitions)", (unsigned long long)old,
		 (unsigned long long)want);
}

/* Constraints between keys that the key table's ranges cannot say. */
static int
check_constraints(const struct fmq_config *cfg, char *err, size_t errlen)
{
	struct stat st;

	{
		/* The broker parses them again, the same way. */
		struct in_addr ip = { .s_addr = cfg->net_ip.addr };
		struct fmq_listeners ls;
		const char *key;
		char msg[256];

		if (fmq_listeners_parse(cfg->listeners,
					cfg->listener_security_protocol_map,
					cfg->advertised_listeners,
					cfg->controller_listener_names,
					inet_ntoa(ip), &ls, &key, msg,
					sizeof(msg)) < 0)
			return fmq_config_error(cfg, key, err, errlen, "%s",
						msg);
	}
	if (cfg->log_hot_chunk_bytes <= cfg->message_max_bytes + CHUNK_HDR)
		return fmq_config_error(cfg, "log.hot.chunk.bytes", err, errlen,
			"%" PRIu64 " must exceed message.max.bytes (%" PRIu64
			") plus the %d-byte chunk header, so the largest "
			"batch fits one chunk", cfg->log_hot_chunk_bytes,
			cfg->message_max_bytes, CHUNK_HDR);
	if (cfg->log_hot_chunk_bytes % 4096 != 0)
		return fmq_config_error(cfg, "log.hot.chunk.bytes", err, errlen,
			"%" PRIu64 " must be a multiple of 4096",
			cfg->log_hot_chunk_bytes);
	if (cfg->log_hot_pool_bytes < cfg->log_hot_chunk_bytes)
		return fmq_config_error(cfg, "log.hot.pool.bytes", err, errlen,
			"%" PRIu64 " is less than one chunk "
			"(log.hot.chunk.bytes=%" PRIu64 ")",
			cfg->log_hot_pool_bytes, cfg->log_hot_chunk_bytes);
	if (cfg->group_min_session_timeout_ms >
	    cfg->group_max_session_timeout_ms)
		return fmq_config_error(cfg, "group.min.session.timeout.ms",
			err, errlen, "%" PRId64 " is above "
			"group.max.session.timeout.ms=%" PRId64,
			cfg->group_min_session_timeout_ms,
			cfg->group_max_session_timeout_ms);
	if (cfg->drivers_config_dir[0] != '\0' &&
	    (stat(cfg->drivers_config_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
		return fmq_config_error(cfg, "drivers.config.dir", err, errlen,
			"%s is not a directory", cfg->drivers_config_dir);
	if (cfg->log_dirs[0] == '\0')
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"must name at least one directory");
	return 0;
}

static int
keep_lock(struct app *a, int fd)
{
	if (a->nlocks == RTE_DIM(a->lock_fd)) {
		close(fd);
		return -ENOSPC;
	}
	a->lock_fd[a->nlocks++] = fd;
	return 0;
}

/*
 * One log.dirs entry: a directory we can write, locked through its .lock
 * file. Nothing else in it is opened before the lock is ours.
 */
static int
lock_log_dir(struct app *a, const char *dir, char *err, size_t errlen)
{
	const struct fmq_config *cfg = &a->cfg;
	char path[FMQ_CFG_STR_MAX + 16], pid[32];
	struct stat st;
	int fd, rc;
	ssize_t n;

	rc = fmq_mkdir_p(dir);
	if (rc < 0 && rc != -ENOTDIR && rc != -EEXIST)
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"cannot create %s: %s", dir,
					strerror(-rc));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"%s is not a directory", dir);
	snprintf(path, sizeof(path), "%s/.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"%s is not writable: %s", dir,
					strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return fmq_config_error(cfg, "log.dirs", err, errlen,
				"%s is in use by another broker (pid %s holds "
				"%s)", dir, pid[0] ? pid : "?", path);
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"cannot lock %s: %s", path,
					strerror(e));
	}
	/* Also proves the directory takes writes (read-only mounts let
	 * an existing .lock be opened for reading only, not this). */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		rc = errno;
		close(fd);
		return fmq_config_error(cfg, "log.dirs", err, errlen,
					"%s is not writable: %s", dir,
					strerror(rc));
	}
	return keep_lock(a, fd);
}

static int
lock_log_dirs(struct app *a, char *err, size_t errlen)
{
	const char *s = a->cfg.log_dirs;
	char dir[FMQ_CFG_STR_MAX];

	while (*s != '\0') {
		size_t k;

		while (*s == ' ' || *s == ',')
			s++;
		k = strcspn(s, ",");
		if (k == 0)
			break;
		memcpy(dir, s, k);
		while (k > 0 && dir[k - 1] == ' ')
			k--;
		dir[k] = '\0';
		s += strcspn(s, ",");
		if (k > 0 && lock_log_dir(a, dir, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

/*
 * The hot pool's directory, locked; and on hugetlbfs, the pool must fit
 * the free hugepages (plus what our own pool files already hold: a
 * restart). lib/log checks again when it maps, with the EAL's memory
 * taken by then.
 */
static int
lock_hot_dir(struct app *a, char *err, size_t errlen)
{
	const struct fmq_config *cfg = &a->cfg;
	const char *dir = cfg->log_hot_dir;
	char path[FMQ_CFG_STR_MAX + 32];
	struct statfs sfs;
	struct stat st;
	uint64_t have = 0, need;
	long fr;
	int fd, rc;

	rc = fmq_mkdir_p(dir);
	if (rc < 0 && rc != -ENOTDIR)
		return fmq_config_error(cfg, "log.hot.dir", err, errlen,
					"cannot create %s: %s", dir,
					strerror(-rc));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fmq_config_error(cfg, "log.hot.dir", err, errlen,
					"%s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno;
		close(fd);
		return fmq_config_error(cfg, "log.hot.dir", err, errlen,
			"%s %s", dir, rc == EWOULDBLOCK ?
			"is in use by another broker (its hot pool is mapped "
			"there)" : strerror(rc));
	}
	if (keep_lock(a, fd) < 0)
		return fmq_config_error(cfg, "log.hot.dir", err, errlen,
					"too many locks");
	if (fstatfs(fd, &sfs) != 0 ||
	    (uint32_t)sfs.f_type != (uint32_t)HUGETLBFS_MAGIC)
		return 0;
	/* Every pool file of ours (one per NUMA node) counts as held. */
	for (unsigned int node = 0; node < FMQ_LOG_MAX_NODES; node++) {
		if (node == 0)
			snprintf(path, sizeof(path), "%s/hotpool", dir);
		else
			snprintf(path, sizeof(path), "%s/hotpool.node%u", dir,
				 node);
		if (stat(path, &st) == 0)
			have += (uint64_t)st.st_blocks * 512 /
				(uint64_t)sfs.f_bsize;
	}
	need = (cfg->log_hot_pool_bytes + (uint64_t)sfs.f_bsize - 1) /
	       (uint64_t)sfs.f_bsize;
	fr = fmq_hugepages_free((size_t)sfs.f_bsize);
	if (fr >= 0 && need > have && need - have > (uint64_t)fr)
		return fmq_config_error(cfg, "log.hot.pool.bytes", err, errlen,
			"%" PRIu64 " bytes need %" PRIu64 " more hugepages of "
			"%ld kB in %s but only %ld are free: reserve more "
			"(docs/operations.md, Hugepages) or lower "
			"log.hot.pool.bytes", cfg->log_hot_pool_bytes,
			need - have, (long)sfs.f_bsize / 1024, dir, fr);
	return 0;
}

/* The embedded TAP's name: ours alone (lock), and not an interface yet. */
static int
claim_tap(struct app *a, char *err, size_t errlen)
{
	const struct fmq_config *cfg = &a->cfg;
	const char *name = cfg->dev_tap_name;
	char path[sizeof(RUN_DIR) + FMQ_CFG_STR_MAX + 16];
	int fd;

	if (mkdir(RUN_DIR, 0755) == 0 || errno == EEXIST) {
		snprintf(path, sizeof(path), RUN_DIR "/tap-%s.lock", name);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			return fmq_config_error(cfg, "dev.tap.name", err,
				errlen, "TAP %s is in use by another broker "
				"(%s is locked)", name, path);
		}
		if (fd >= 0 && keep_lock(a, fd) < 0)
			return fmq_config_error(cfg, "dev.tap.name", err,
						errlen, "too many locks");
	}
	if (if_nametoindex(name) != 0)
		return fmq_config_error(cfg, "dev.tap.name", err, errlen,
			"interface %s already exists (another broker's TAP, or "
			"a device of this host): refusing to take it over",
			name);
	return 0;
}

static uint32_t
mask_of(uint8_t prefix)
{
	return prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
}

/*
 * The data-plane address must not be the host's: net.ip on an interface
 * here would make the kernel answer for it. With the embedded TAP the host
 * side gets dev.tap.host_ip on net.ip's subnet, so no interface may be on
 * that subnet already (a running broker's TAP is): two interfaces on one
 * subnet leave the host with two routes to it and cut one broker off.
 */
static int
check_addresses(struct app *a, bool embedded, char *err, size_t errlen)
{
	const struct fmq_config *cfg = &a->cfg;
	uint32_t ip = cfg->net_ip.addr, m = mask_of(cfg->net_ip.prefix);
	uint32_t hip = cfg->dev_tap_host_ip.addr;
	uint32_t hm = mask_of(cfg->dev_tap_host_ip.prefix);
	struct ifaddrs *ifa, *i;
	char s1[INET_ADDRSTRLEN], s2[INET_ADDRSTRLEN];
	int rc = 0;

	if (embedded && (hip & m) != (ip & m))
		return fmq_config_error(cfg, "dev.tap.host_ip", err, errlen,
			"%s is not on net.ip's subnet", inet_ntop(AF_INET,
			&hip, s1, sizeof(s1)));
	if (embedded && hip == ip)
		return fmq_config_error(cfg, "dev.tap.host_ip", err, errlen,
					"must differ from net.ip");
	if (getifaddrs(&ifa) != 0)
		return 0;
	for (i = ifa; i != NULL && rc == 0; i = i->ifa_next) {
		uint32_t x, xm;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		x = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		xm = i->ifa_netmask != NULL ?
		     ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr :
		     0xffffffff;
		inet_ntop(AF_INET, &x, s1, sizeof(s1));
		if (x == ip)
			rc = fmq_config_error(cfg, "net.ip", err, errlen,
				"%s is already an address of interface %s on "
				"this host", s1, i->ifa_name);
		else if (embedded && x == hip)
			rc = fmq_config_error(cfg, "dev.tap.host_ip", err,
				errlen, "%s is already an address of "
				"interface %s (another broker's TAP?)", s1,
				i->ifa_name);
		else if (embedded && ((x & hm) == (hip & hm) ||
				      (hip & xm) == (x & xm)))
			rc = fmq_config_error(cfg, "net.ip", err, errlen,
				"subnet %s/%u is already on interface %s (%s; "
				"another broker's TAP?): give this instance "
				"its own subnet", inet_ntop(AF_INET,
				&(uint32_t){ ip & m }, s2, sizeof(s2)),
				cfg->net_ip.prefix, i->ifa_name, s1);
	}
	freeifaddrs(ifa);
	return rc;
}

/* Bit cap of the effective capability set, from /proc/self/status. */
static bool
has_cap(unsigned int cap)
{
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && cap < 64 && (eff >> cap & 1) != 0;
}

static bool
hugetlbfs_mounted(void)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

#define CAP_NET_ADMIN_BIT 12
#define CAP_IPC_LOCK_BIT 14

int
app_check_host(bool nohuge, char *err, size_t errlen)
{
	if (geteuid() != 0 &&
	    (!has_cap(CAP_NET_ADMIN_BIT) || !has_cap(CAP_IPC_LOCK_BIT))) {
		snprintf(err, errlen, "not running as root: the TAP device "
			 "needs CAP_NET_ADMIN and hugepage memory "
			 "CAP_IPC_LOCK; run it with sudo (or grant both "
			 "capabilities, e.g. AmbientCapabilities= in the "
			 "systemd unit)");
		return -EPERM;
	}
	if (!nohuge && !hugetlbfs_mounted()) {
		snprintf(err, errlen, "hugepages are reserved but no "
			 "hugetlbfs is mounted: mount -t hugetlbfs -o "
			 "pagesize=2M nodev /dev/hugepages (scripts/setup.sh "
			 "does it; docs/operations.md, Hugepages), or pass "
			 "--no-huge to run on ordinary memory");
		return -ENOENT;
	}
	return 0;
}

int
app_preflight(struct app *a, bool embedded, char *err, size_t errlen)
{
	int rc;

	a->mgmt_fd = -1;
	rc = check_constraints(&a->cfg, err, errlen);
	if (rc < 0)
		return rc;
	if (embedded) {
		rc = claim_tap(a, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = check_addresses(a, embedded, err, errlen);
	if (rc < 0)
		return rc;
	a->mgmt_fd = mgmt_listen(&a->cfg, err, errlen);
	if (a->mgmt_fd < 0)
		return a->mgmt_fd;
	rc = lock_log_dirs(a, err, errlen);
	if (rc < 0)
		return rc;
	return lock_hot_dir(a, err, errlen);
}
