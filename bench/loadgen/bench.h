/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fluxmq-bench: private interfaces of the load generator.
 *
 * One thread drives every connection. The Kafka client logic (proto.c) is
 * independent of the transport; a transport (xport_dpdk.c over lib/net and
 * net_memif or a NIC, xport_kernel.c over kernel sockets) is chosen once at
 * start through struct xport_ops, so the request path never branches on it.
 */
#ifndef FMQ_BENCH_H
#define FMQ_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fmq_kafka.h"
#include "fmq_util.h"

#define BENCH_MAX_CONNS 256
#define BENCH_MAX_QUEUES 16           /* DPDK port queue pairs */
#define BENCH_MAX_INFLIGHT 256       /* per connection, power of two */
#define BENCH_MAX_TEMPLATES 64
#define BENCH_MAX_TPS 4096           /* topic-partitions */
#define BENCH_TOPIC_MAX 128
#define BENCH_CHUNK 32768            /* bytes per external-buffer mbuf */
#define BENCH_MAX_SEGS 16384         /* segments of one received frame */
#define BENCH_FRAME_MAX (64u << 20)  /* largest response we accept */

enum workload {
	WL_PRODUCE,
	WL_FETCH,
	WL_PRODUCE_FETCH,
	WL_ECHO,        /* raw TCP echo (RFC 862 service): transport check */
	WL_CEILINGS,    /* memcpy / crc32_iscsi / lz4 rates, no network */
};

/* Kafka's codec ids (record batch attributes bits 0-2). */
enum codec { CODEC_NONE = 0, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD };

struct bench_opts {
	enum workload wl;
	bool kernel;
	uint32_t broker_ip;          /* network order */
	uint16_t broker_port;
	char local_ip[48];           /* DPDK: our address/prefix */
	uint32_t msg_size;
	uint32_t batch;              /* records per batch (= per request) */
	enum codec codec;
	uint32_t topics, partitions; /* partitions per topic */
	char topic[BENCH_TOPIC_MAX]; /* name, or prefix when topics > 1 */
	bool topic_given;
	bool create_topics;
	uint32_t conns;
	uint32_t fetch_conns;        /* produce-fetch: connections that fetch */
	uint32_t inflight;
	int acks;
	double duration_s, warmup_s;
	uint64_t count;              /* messages to measure (0: duration) */
	double rate;                 /* msgs/s, open loop; 0: closed loop */
	bool verify;
	uint32_t templates;
	uint64_t preload;            /* fetch: messages produced first */
	uint32_t fetch_max_bytes;    /* per partition */
	double progress_s;
	char cdf_path[256];
	char label[64];
	int produce_ver, fetch_ver;  /* -1: highest both sides serve */
	bool busy;                   /* kernel: spin instead of epoll wait */
	uint32_t echo_size;          /* echo: bytes per message */
	char net_set[16][128];       /* DPDK: --net key=value for lib/net */
	unsigned int n_net_set;
	double connect_timeout_s;
	/* DPDK: spreading connections over the broker's data lcores. */
	uint32_t queues;             /* port queue pairs (memif: = broker's) */
	uint32_t broker_lcores;      /* broker data lcores to aim at, 0: any */
	int lcore_shift;             /* connection i -> lcore (i + shift) % n,
	                              * -1: wherever its port hashes */
	bool queue_first;            /* send everything on queue 0 */
	bool test_forge_ack;         /* test hook, see --test-forge-ack */
};

/* One template batch: pre-encoded once, sent many times by reference. */
struct tmpl {
	uint8_t *buf;                /* batch bytes (DPDK: hugepage memory) */
	uint32_t len;
	uint64_t iova;               /* DPDK only */
	uint32_t crc;                /* the batch's CRC field, to identify it */
	void *shinfo;                /* DPDK external-buffer info */
};

/* Per request, the bytes that precede / follow the batch. */
struct prefix {
	uint8_t b[256];
	uint16_t len;
	uint8_t tail[8];
	uint8_t tail_len;
};

/* Acknowledged batch, for verification. */
struct ack {
	int64_t base;
	uint16_t tmpl;
};

#define E2E_RING 8192              /* batches remembered per partition */
struct e2e_slot {
	int64_t base;                /* -1: empty */
	uint64_t t0;                 /* ns: the produce request was sent */
};

struct tp {
	char topic[BENCH_TOPIC_MAX];
	int32_t partition;
	int64_t fetch_next;          /* next offset to fetch */
	int64_t fetch_start;         /* where fetching (re)starts */
	int64_t fetch_end;           /* fetch: end of preloaded data, -1 tail */
	int64_t hwm;                 /* last high watermark seen */
	int64_t off_start;           /* log end before the run (ListOffsets) */
	int64_t off_end;             /* log end after the run */
	int64_t off_first;           /* log start after the run */
	uint64_t sent_msgs;          /* produced to it (acks=0 verification) */
	/* produce-fetch: when each acknowledged batch was sent, by base
	 * offset / batch (a ring), for end-to-end latency at fetch */
	struct e2e_slot *e2e;
	struct ack *acks;
	size_t nacks, cap_acks;
};

enum req_kind { RK_RPC = 1, RK_PRODUCE, RK_FETCH, RK_ECHO };

struct bench;
struct bconn;

/* Synchronous request: called with the decoded response (pointing into
 * received data valid only during the call). */
typedef int (*rpc_fn)(struct bench *b, struct bconn *c, void *resp,
		      void *arg);

struct inflight {
	int32_t corr;
	uint8_t kind;
	uint16_t tmpl;
	int16_t api, ver;
	uint32_t tp;
	uint32_t nmsg;
	uint64_t t0;                 /* send (or scheduled) time, ns */
	uint64_t end;                /* echo: cumulative bytes at its end */
	void *arg;                   /* RK_RPC: struct rpc_wait */
};

struct bconn {
	unsigned int idx;
	bool up, closed, writable;
	bool fetch_busy;             /* its one Fetch is in flight */
	int close_reason;
	/* transport state */
	uint32_t h;                  /* lib/net handle */
	struct rte_mbuf *rx_head, *rx_tail;
	struct rte_mbuf *tx_head, *tx_tail;  /* DPDK: written, not yet sent */
	uint32_t tx_bytes;
	bool tx_dirty;
	uint32_t rx_off;             /* consumed bytes of rx_head */
	uint64_t rx_len;             /* unconsumed bytes */
	int fd;
	uint8_t *rbuf, *wbuf;
	size_t rlen, rcap, woff, wlen, wcap;
	/* Kafka client state */
	int32_t next_corr;
	struct inflight q[BENCH_MAX_INFLIGHT];
	uint32_t qh, qt;             /* FIFO: responses come back in order */
	bool producer;
	uint32_t *tps;               /* topic-partitions it produces to */
	uint32_t ntps, next_tp;
	uint32_t *ftps;              /* topic-partitions it fetches */
	uint32_t nftps;
	uint64_t echo_sent, echo_rcvd;
};

/* A request on its way out: hdr is copied, the batch goes by reference. */
struct req_out {
	const uint8_t *hdr;
	uint32_t hdr_len;
	const struct tmpl *ref;      /* NULL: no batch */
	const uint8_t *tail;
	uint32_t tail_len;
};

struct xport_ops {
	const char *name;
	/* Bring the transport up (argv: EAL arguments for DPDK). */
	int (*init)(struct bench *b, int argc, char **argv);
	/* Place a template's buffer where the transport can send it from. */
	int (*tmpl_alloc)(struct bench *b, struct tmpl *t, uint32_t len);
	int (*connect)(struct bench *b, struct bconn *c);
	/* Queue a request; 0 or -errno. Sets c->writable false when the
	 * send buffer is full (the request was still queued). */
	int (*send)(struct bench *b, struct bconn *c, const struct req_out *r);
	/* One iteration: receive, run timers, flush. wait_ns > 0 allows the
	 * kernel transport to block that long when idle. */
	void (*poll)(struct bench *b, uint64_t wait_ns);
	void (*close)(struct bench *b, struct bconn *c);
	void (*fini)(struct bench *b);
	/* Counters worth printing (retransmissions etc.), JSON fragment. */
	void (*stats_json)(struct bench *b, FILE *f);
};

extern const char *const codec_names[];   /* indexed by enum codec */
extern const struct xport_ops xport_dpdk;
extern const struct xport_ops xport_kernel;

struct side {
	uint64_t msgs, bytes, reqs, errors;
	struct fmq_hist lat;         /* ns */
};

enum phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

struct bench {
	struct bench_opts o;
	const struct xport_ops *x;
	void *xp;                    /* transport private */
	struct bconn conns[BENCH_MAX_CONNS];
	unsigned int nconns;
	struct tp tps[BENCH_MAX_TPS];
	unsigned int ntps;
	struct tmpl tmpl[BENCH_MAX_TEMPLATES];
	unsigned int ntmpl;
	struct prefix *prefixes;     /* [tp * ntmpl + tmpl] */
	uint32_t batch_payload;      /* value bytes per batch */
	/* negotiated versions */
	int16_t v_produce, v_fetch, v_metadata, v_create, v_list;
	bool has_create;
	/* phases */
	enum phase phase;
	uint64_t t_start, t_measure, t_end;
	struct side prod, fetch;
	/* produce-fetch: a record's send (produce request) to its arrival
	 * in a fetch response, per batch */
	struct fmq_hist e2e;
	uint64_t prod_sent_msgs;     /* every phase */
	uint64_t late;               /* open loop: sends behind schedule */
	uint64_t fetch_resets;       /* tail fetch overtaken by retention */
	uint64_t acks0_responses;    /* answers to acks=0 (should be none) */
	uint64_t kafka_errors;
	int16_t first_kerr;
	uint64_t proto_errors;
	/* open loop */
	uint64_t next_send_ns, send_interval_ns;
	unsigned int rr, tmpl_rr;
	bool producing, fetching;
	/* decode scratch */
	struct fmq_kafka_arena arena;
	struct fmq_kafka_seg *segs;
	uint8_t *scratch;
	/* progress */
	uint64_t last_prog_ns, last_prog_msgs, last_prog_fmsgs;
	uint64_t all_msgs, all_fmsgs;  /* every phase, for progress */
	/* verification */
	uint64_t v_acked, v_read, v_missing, v_corrupt, v_extra, v_expired;
	bool v_ok;
	/* echo */
	uint8_t *echo_buf;
	struct tmpl echo_tmpl;
	/* stop requested (signal) */
	volatile int stop;
};

/* records.c */
int records_build_templates(struct bench *b);
uint32_t records_crc32c(const void *p, size_t n);
/* Walk the batches of a records field spread over pieces. */
struct batch_cursor {
	const struct fmq_kafka_iov *iov;
	uint32_t niov, i, off;
	uint64_t left;
};
void batch_cursor_init(struct batch_cursor *bc,
		       const struct fmq_kafka_records *r);
/* Next whole batch: fills hdr (61 bytes) and returns its total length,
 * 0 at the end (or a trailing partial batch), -EBADMSG when malformed. */
int64_t batch_cursor_next(struct batch_cursor *bc, uint8_t hdr[61]);
/* Compare the next len bytes with p and skip them (bytes 0..15 of a batch
 * are baseOffset, length and leader epoch: the caller skips those). */
bool batch_cursor_equal(struct batch_cursor *bc, const uint8_t *p,
			uint32_t len);
void batch_cursor_skip(struct batch_cursor *bc, uint64_t n);

/* proto.c */
int proto_setup(struct bench *b);
int proto_run(struct bench *b);
int proto_verify(struct bench *b);
void proto_on_frame(struct bench *b, struct bconn *c,
		    const struct fmq_kafka_seg *segs, uint32_t nseg,
		    uint32_t len);
void proto_on_echo(struct bench *b, struct bconn *c, uint64_t bytes);
int proto_connect_all(struct bench *b);
void proto_close_all(struct bench *b);
void report_json(struct bench *b, FILE *f);
/* The same run in lines a person reads (as Kafka's perf tools print). */
void report_summary(struct bench *b, FILE *f);

/* ceilings.c */
int ceilings_run(FILE *out, double seconds);

static inline uint32_t
rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
rd_be64(const uint8_t *p)
{
	return (uint64_t)rd_be32(p) << 32 | rd_be32(p + 4);
}

static inline void
wr_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
wr_be64(uint8_t *p, uint64_t v)
{
	wr_be32(p, (uint32_t)(v >> 32));
	wr_be32(p + 4, (uint32_t)v);
}

#endif
