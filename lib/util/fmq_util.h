/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * FluxMQ utilities: configuration, logging, clock, metrics, histograms.
 *
 * This library is the bottom of the dependency chain and knows nothing about
 * packets or Kafka. Int functions return 0 or -errno; constructors return
 * NULL and set errno.
 */
#ifndef FMQ_UTIL_H
#define FMQ_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Configuration
 *
 * Every key is declared once, in lib/util/keys/<area>.def, as
 *   FMQ_KEY(field, "dotted.name", TYPE, "default", "limits", "doc")
 * TYPE is one of STR, U64, I64, BOOL, F64, ENUM, IPV4, IPV4_CIDR, MAC,
 * HOSTPORT. "limits" is "min..max" for numbers, "a|b|c" for ENUM, else "".
 * The same table produces struct fmq_config, the parser, and
 * docs/configuration.md (fluxmq --dump-config-doc).
 * ---------------------------------------------------------------------- */

#define FMQ_CFG_STR_MAX 256

/** An IPv4 address in network byte order with an optional prefix length. */
struct fmq_ipv4_cidr {
	uint32_t addr;   /**< network byte order */
	uint8_t prefix;  /**< 0..32 */
};

/** An IPv4 address and port, both in host byte order. */
struct fmq_hostport {
	uint32_t addr;   /**< host byte order */
	uint16_t port;
};

/** A MAC address; set is false when the key was left empty (auto). */
struct fmq_mac {
	uint8_t b[6];
	bool set;
};

#define FMQ_CT_STR char
#define FMQ_CT_ENUM char
#define FMQ_CT_U64 uint64_t
#define FMQ_CT_I64 int64_t
#define FMQ_CT_BOOL bool
#define FMQ_CT_F64 double
#define FMQ_CT_IPV4 uint32_t
#define FMQ_CT_IPV4_CIDR struct fmq_ipv4_cidr
#define FMQ_CT_MAC struct fmq_mac
#define FMQ_CT_HOSTPORT struct fmq_hostport
#define FMQ_CA_STR [FMQ_CFG_STR_MAX]
#define FMQ_CA_ENUM [FMQ_CFG_STR_MAX]
#define FMQ_CA_U64
#define FMQ_CA_I64
#define FMQ_CA_BOOL
#define FMQ_CA_F64
#define FMQ_CA_IPV4
#define FMQ_CA_IPV4_CIDR
#define FMQ_CA_MAC
#define FMQ_CA_HOSTPORT

/** Index of each key in the key table: FMQ_CFG_IDX_<field>. */
enum fmq_cfg_idx {
#define FMQ_KEY(field, name, type, dflt, limits, doc) FMQ_CFG_IDX_##field,
#include "keys/all.def"
#undef FMQ_KEY
	FMQ_CFG_NKEYS
};

/** Where a key's value came from: "file" and line, "--set", or default. */
struct fmq_cfg_origin {
	char src[128];   /**< "" for the built-in default */
	int line;
	int rank;         /**< precedence of the name that set it (aliases) */
	const char *name; /**< that name: the key's own or a Kafka alias */
};

/** All broker settings, one field per key of the key table. */
struct fmq_config {
#define FMQ_KEY(field, name, type, dflt, limits, doc) \
	FMQ_CT_##type field FMQ_CA_##type;
#include "keys/all.def"
#undef FMQ_KEY
	/** Where each key got its value, for later error messages. */
	struct fmq_cfg_origin origin[FMQ_CFG_NKEYS];
};

/** Kinds of value a key may hold. */
enum fmq_cfg_type {
	FMQ_CFG_STR, FMQ_CFG_ENUM, FMQ_CFG_U64, FMQ_CFG_I64, FMQ_CFG_BOOL,
	FMQ_CFG_F64, FMQ_CFG_IPV4, FMQ_CFG_IPV4_CIDR, FMQ_CFG_MAC,
	FMQ_CFG_HOSTPORT,
};

/** One row of the key table. */
struct fmq_cfg_key {
	const char *name;
	enum fmq_cfg_type type;
	const char *dflt;
	const char *limits;
	const char *doc;
	size_t offset;   /**< of the field in struct fmq_config */
};

/** The key table and its length. */
const struct fmq_cfg_key *fmq_config_keys(size_t *n);

/**
 * Set every key to its default. Never fails (defaults are checked by the
 * unit tests).
 */
void fmq_config_defaults(struct fmq_config *cfg);

/**
 * Parse a server.properties style file into cfg.
 *
 * @param err
 *   On failure, receives "file:line: key: reason" (NUL-terminated).
 * @return
 *   0, or -EINVAL (bad key or value), -ENOENT / -EACCES (file).
 */
int fmq_config_load_file(struct fmq_config *cfg, const char *path,
			 char *err, size_t errlen);

/**
 * A problem found while loading: is_error false for a warning. msg is
 * "src:line: key: reason".
 */
typedef void (*fmq_cfg_report_fn)(void *arg, bool is_error, const char *msg);

/**
 * After every fmq_config_load_file and fmq_config_set of one start-up:
 * report, in the order they were found, every bad line of every source
 * (loading does not stop at the first), every name shadowed by one of
 * higher precedence, and every Kafka broker key that has no meaning here
 * (a warning, or an error under config.unknown.keys=error). Clears the
 * list (fmq_config_defaults clears it too). Returns the number of errors.
 */
unsigned int fmq_config_finish(const struct fmq_config *cfg,
			       fmq_cfg_report_fn fn, void *arg);

/** Is name one of Apache Kafka's documented broker keys? */
bool fmq_config_is_kafka_key(const char *name);

/**
 * Apply one "key=value" override (from --set); origin names it in errors,
 * e.g. "--set" gives "--set:1: key: reason".
 */
int fmq_config_set(struct fmq_config *cfg, const char *kv, const char *origin,
		   int line, char *err, size_t errlen);

/**
 * Format an error about a key that parsed but is unusable (checked later by
 * its owner): "src:line: key: reason", or "default: key: reason". Returns
 * -EINVAL so callers can `return fmq_config_error(...)`.
 */
int fmq_config_error(const struct fmq_config *cfg, const char *name,
		     char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/** How many errors fmq_config_error has formatted so far (start-up maps a
 * failed step that reported one to exit status 2). */
unsigned int fmq_config_error_count(void);

/**
 * Callback for fmq_kv_parse_file: one key=value (both trimmed). Return 0 to
 * go on, or -errno after writing "src:line: key: reason" into err.
 */
typedef int (*fmq_kv_fn)(void *arg, const char *key, const char *val,
			 const char *src, int line, char *err, size_t errlen);

/**
 * Read a server.properties style file (# and ! comments, blank lines) and
 * call fn for each key=value. Used for the config and drivers-config
 * profiles. Returns 0, the callback's error, -EINVAL for a malformed line
 * or -errno for the file, with err filled.
 */
int fmq_kv_parse_file(const char *path, fmq_kv_fn fn, void *arg, char *err,
		      size_t errlen);

/** Find a key by name, or NULL. */
const struct fmq_cfg_key *fmq_config_find(const char *name);

/** Parse v into k's field of cfg at run time (dynamic broker configs): no
 * precedence, no start-up diagnostics. 0, or -EINVAL with the reason in
 * why. */
int fmq_config_parse(struct fmq_config *cfg, const struct fmq_cfg_key *k,
		     const char *v, char *why, size_t wl);

/** Format a key's current value into buf (as the parser would accept it). */
int fmq_config_format(const struct fmq_config *cfg,
		      const struct fmq_cfg_key *k, char *buf, size_t len);

/** Write docs/configuration.md (Markdown) for the whole key table. */
void fmq_config_write_doc(FILE *out);

/** Parse an IPv4 "a.b.c.d" into network order; 0 or -EINVAL. */
int fmq_parse_ipv4(const char *s, uint32_t *addr_be);

/** Split "a.b.c.d/len"; 0 or -EINVAL. */
int fmq_parse_ipv4_cidr(const char *s, struct fmq_ipv4_cidr *out);

/** Parse "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int fmq_parse_mac(const char *s, uint8_t mac[6]);

/* ------------------------------------------------------------------------
 * Logging: one line per message to stderr,
 * "2026-12-07T04:10:21.123+00:00 LEVEL component: message" (ISO 8601, local
 * time with its UTC offset), or one JSON object per line.
 * ---------------------------------------------------------------------- */

enum fmq_log_level { FMQ_LOG_ERR, FMQ_LOG_WARN, FMQ_LOG_INFO, FMQ_LOG_DEBUG };

void fmq_log_set_level(enum fmq_log_level lvl);
enum fmq_log_level fmq_log_get_level(void);
/** One JSON object per line instead of text (log.format=json). */
void fmq_log_set_json(bool json);
bool fmq_log_is_json(void);

/**
 * A stdio stream whose every line becomes one fmq_log message of component
 * comp, at the level level_fn returns when the line is complete (NULL:
 * info). For a library that logs to a FILE * (DPDK: rte_openlog_stream).
 * Unbuffered; a line is assembled per thread, so threads do not mix
 * their lines. NULL and errno on failure.
 */
FILE *fmq_log_stream(const char *comp, enum fmq_log_level (*level_fn)(void));
void fmq_log(enum fmq_log_level lvl, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * A rate limit for one kind of message that a client can provoke (a
 * refused request or connection): at most one line per interval, the
 * next one saying how many were left out. One per thread (no locking):
 * keep it in per-lcore or control-lcore state, zeroed to start.
 */
struct fmq_log_rl {
	uint64_t last_ns;   /**< when the last line was written, 0: never */
	uint64_t dropped;   /**< messages left out since */
};

/** Log like fmq_log unless rl wrote a line less than interval_ns ago;
 * returns true when it wrote one. */
bool fmq_log_rl(struct fmq_log_rl *rl, uint64_t interval_ns,
		enum fmq_log_level lvl, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define FMQ_ERR(comp, ...) fmq_log(FMQ_LOG_ERR, comp, __VA_ARGS__)
#define FMQ_WARN(comp, ...) fmq_log(FMQ_LOG_WARN, comp, __VA_ARGS__)
#define FMQ_INFO(comp, ...) fmq_log(FMQ_LOG_INFO, comp, __VA_ARGS__)
#define FMQ_DEBUG(comp, ...) \
	do { \
		if (fmq_log_get_level() >= FMQ_LOG_DEBUG) \
			fmq_log(FMQ_LOG_DEBUG, comp, __VA_ARGS__); \
	} while (0)

/* ------------------------------------------------------------------------
 * File system
 * ---------------------------------------------------------------------- */

/**
 * Create a directory and its missing parents (mode 0755), as `mkdir -p`.
 * An existing directory is success (so is an existing file of that name:
 * the caller's next open or mkdir under it fails instead).
 *
 * @return
 *   0, -EINVAL for an empty path, -ENAMETOOLONG beyond PATH_MAX, or the
 *   -errno of the mkdir that failed (-ENOTDIR: a file is in the way).
 */
int fmq_mkdir_p(const char *path);

/**
 * Replace the file at path atomically, so that a crash leaves either the
 * old content or the new: fmq_file_begin opens "<path>.tmp" for writing
 * (truncated, with mode, also applied to a temporary left over) into *fp;
 * fmq_file_commit flushes, fsyncs and closes it, renames it over path and
 * fsyncs the directory. Both return 0 or -errno, and on failure remove the
 * temporary (fmq_file_commit closes f in every case).
 */
int fmq_file_begin(const char *path, mode_t mode, FILE **fp);
int fmq_file_commit(FILE *f, const char *path);

/** The same for a buffer: len bytes at buf become path's content. */
int fmq_file_replace(const char *path, mode_t mode, const void *buf,
		     size_t len);

/**
 * Hugepages of size page_sz (bytes) that a new mapping can still take:
 * free_hugepages less resv_hugepages (pages promised to mappings that
 * have not touched them yet), from sysfs.
 *
 * @return
 *   The count, or -1 when the kernel has no pool of that size.
 */
long fmq_hugepages_free(size_t page_sz);

/* ------------------------------------------------------------------------
 * Clock
 * ---------------------------------------------------------------------- */

/** Monotonic time in nanoseconds (vDSO, no syscall). */
uint64_t fmq_now_ns(void);

/** Wall-clock time in milliseconds since the epoch (Kafka timestamps). */
int64_t fmq_wall_ms(void);

/* ------------------------------------------------------------------------
 * Metrics: Prometheus text exposition.
 *
 * Libraries keep their counters in their own per-lcore structs and register
 * a render callback; the management endpoint calls every callback on each
 * scrape. Readers on the control lcore may see a counter a few increments
 * stale, never torn (aligned 64-bit loads).
 * ---------------------------------------------------------------------- */

struct fmq_metrics;
struct fmq_metrics_out;

typedef void (*fmq_metrics_fn)(struct fmq_metrics_out *out, void *arg);

/** Create an empty registry; NULL and errno on failure. */
struct fmq_metrics *fmq_metrics_create(void);
void fmq_metrics_free(struct fmq_metrics *reg);

/** Add a render callback; 0 or -ENOMEM. Not for the data path. */
int fmq_metrics_register(struct fmq_metrics *reg, fmq_metrics_fn fn,
			 void *arg);

/** Emit "# HELP" and "# TYPE" for a family (type: counter, gauge). */
void fmq_metrics_family(struct fmq_metrics_out *out, const char *name,
			const char *type, const char *help);

/**
 * Emit one sample. labels is the inside of {...} (e.g. "port=\"0\"") or
 * NULL for none.
 */
void fmq_metrics_u64(struct fmq_metrics_out *out, const char *name,
		     const char *labels, uint64_t v);
void fmq_metrics_f64(struct fmq_metrics_out *out, const char *name,
		     const char *labels, double v);

/** Shorthand: family plus one unlabelled sample. */
void fmq_metrics_one(struct fmq_metrics_out *out, const char *name,
		     const char *type, const char *help, uint64_t v);

/**
 * A metric read from a struct: an unsigned integer of size bytes (4 or 8)
 * at byte offset off. Libraries keep their counters in one X-macro table
 * (a .def file, one line per metric) that declares the struct field and
 * this definition together; FMQ_METRIC_DEF fills one from a member.
 */
struct fmq_metric_def {
	const char *name;
	const char *type;            /**< "counter" or "gauge" */
	const char *help;
	size_t off;
	size_t size;
};

#define FMQ_METRIC_SIZE_(stype, member) sizeof(((stype *)0)->member)
/* The member's size, refused at compile time unless 4 or 8 bytes. */
#define FMQ_METRIC_DEF(stype, member, kind, mname, mhelp) \
	{ (mname), (kind), (mhelp), offsetof(stype, member), \
	  FMQ_METRIC_SIZE_(stype, member) + 0 * sizeof(char[ \
		(FMQ_METRIC_SIZE_(stype, member) == 4 || \
		 FMQ_METRIC_SIZE_(stype, member) == 8) ? 1 : -1]) }

/** One unlabelled series per definition, from the struct at base. */
void fmq_metrics_table(struct fmq_metrics_out *out,
		       const struct fmq_metric_def *d, size_t n,
		       const void *base);

/**
 * One family per definition with a series per instance, labelled
 * label="i" (per-lcore counters): bases[i] is instance i's struct (NULL:
 * skipped).
 */
void fmq_metrics_table_each(struct fmq_metrics_out *out,
			    const struct fmq_metric_def *d, size_t n,
			    const void *const *bases, unsigned int nbase,
			    const char *label);

/**
 * Render every registered source. Returns a malloc'd NUL-terminated buffer
 * (caller frees) and its length, or NULL on allocation failure.
 */
char *fmq_metrics_render(struct fmq_metrics *reg, size_t *len);

/* ------------------------------------------------------------------------
 * Histogram: log-linear buckets, relative error below 1% (64 sub-buckets
 * per power of two). Fixed size, no allocation after init; record is O(1).
 * ---------------------------------------------------------------------- */

#define FMQ_HIST_SUB_BITS 7
#define FMQ_HIST_SUB (1u << FMQ_HIST_SUB_BITS)
#define FMQ_HIST_BUCKETS \
	(FMQ_HIST_SUB + (64 - FMQ_HIST_SUB_BITS) * (FMQ_HIST_SUB / 2))

struct fmq_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t min;
	uint64_t b[FMQ_HIST_BUCKETS];
};

void fmq_hist_init(struct fmq_hist *h);
void fmq_hist_record(struct fmq_hist *h, uint64_t v);
/** Add src into dst. */
void fmq_hist_merge(struct fmq_hist *dst, const struct fmq_hist *src);
/** Value at quantile q (0..1); 0 when empty. */
uint64_t fmq_hist_quantile(const struct fmq_hist *h, double q);
/**
 * Values recorded at or below v, for Prometheus buckets (le). Counted by
 * bucket: the values of v's own bucket (at most v/64 wide) are included.
 * Monotonic in v; fmq_hist_count_le(h, UINT64_MAX) == h->count.
 */
uint64_t fmq_hist_count_le(const struct fmq_hist *h, uint64_t v);

/* ------------------------------------------------------------------------
 * Doorbell: wakes a thread that sleeps while idle when another thread hands
 * it work over a ring. The sleeper arms it, checks its rings once more, and
 * sleeps on the eventfd (with whatever else it waits for); a sender that
 * just enqueued rings it, which costs a fence and a load unless the target
 * is asleep, and one write(2) when it is (the sleep is the slow path).
 * ---------------------------------------------------------------------- */

struct fmq_doorbell {
	int fd;             /**< eventfd: readable once rung */
	uint32_t asleep;    /**< 1 from arm until rung or disarmed */
	uint64_t rung;      /**< times a sender woke the sleeper */
};

/** Create the eventfd; 0 or -errno. */
int fmq_doorbell_init(struct fmq_doorbell *db);
/** Close the eventfd (safe on a zeroed or failed doorbell). */
void fmq_doorbell_fini(struct fmq_doorbell *db);
/** Slow half of fmq_doorbell_ring: the write. */
void fmq_doorbell_signal(struct fmq_doorbell *db);

/**
 * Sleeper, before sleeping: from here on senders ring. Check the rings
 * AFTER this (the fence orders the flag before those loads).
 */
static inline void
fmq_doorbell_arm(struct fmq_doorbell *db)
{
	__atomic_store_n(&db->asleep, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/**
 * Sleeper, after waking (or when it decided not to sleep); fired: the
 * sleep reported db->fd readable. Consumes the eventfd's count when a
 * sender rang or the fd fired, so the next sleep is not cut short.
 */
void fmq_doorbell_disarm(struct fmq_doorbell *db, bool fired);

/**
 * Sender, after enqueueing work for db's owner (NULL: nothing to do). The
 * fence orders the enqueue before the flag load; paired with the one in
 * fmq_doorbell_arm, one of the two sides always sees the other.
 */
static inline void
fmq_doorbell_ring(struct fmq_doorbell *db)
{
	if (db == NULL)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&db->asleep, __ATOMIC_RELAXED) != 0 &&
	    __atomic_exchange_n(&db->asleep, 0, __ATOMIC_ACQ_REL) != 0)
		fmq_doorbell_signal(db);
}

#ifdef __cplusplus
}
#endif

#endif /* FMQ_UTIL_H */
