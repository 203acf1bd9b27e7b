/* SPDX-License-Identifier: Apache-2.0 */
/* lib/broker internals. Do not include from outside lib/broker. */
#ifndef FMQ_BROKER_PRIV_H
#define FMQ_BROKER_PRIV_H

#include <stdatomic.h>
#include <sys/queue.h>

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fmq_broker.h"
#include "fmq_kafka.h"
#include "fmq_log.h"
#include "fmq_listener.h"
#include "fmq_net.h"
#include "fmq_quota.h"
#include "fmq_tls.h"
#include "fmq_sasl.h"
#include "broker_fsess.h"

#define BROKER_MAX_LCORES 128
#define BROKER_API_MAX 64          /* api keys we count (ours are < 64) */
#define BROKER_VER_MAX 16
#define BROKER_ERR_MIN (-1)
#define BROKER_ERR_MAX 135
#define BROKER_RING_SIZE 4096
#define BROKER_MAX_SEGS 65536      /* segments of one frame */
#define BROKER_FWD_BURST 32
#define BROKER_MAX_RANGES 4096     /* log ranges in one fetch response */
#define WAITER_KEYS 8

/* Why a connection was closed by us, for /metrics. */
#define BROKER_CLOSE_REASONS(X) \
	X(FRAME, "framing error (size, truncated or malformed header)") \
	X(UNKNOWN_API, "unknown API key") \
	X(UNSUPPORTED_VERSION, "API version outside the advertised range") \
	X(MALFORMED, "request body could not be decoded") \
	X(ACKS0_ERROR, "acks=0 produce failed (Kafka closes to tell the client)") \
	X(NOMEM, "out of mbufs or memory while answering") \
	X(OVERSIZED, "request needs more receive segments than a connection may hold") \
	X(CTRL, "the control lcore asked to close") \
	X(TOO_LARGE, "request larger than one connection may hold of the mbuf pool (refused at its size prefix)") \
	X(SEGMENT_ABUSE, "unfinished request held in far more mbufs than its bytes need (tiny segments)") \
	X(REQUEST_TIMEOUT, "request begun but not received whole within broker.request.receive.timeout.ms") \
	X(IDLE, "no request for connections.max.idle.ms") \
	X(TLS, "TLS handshake failed, or a record did not decrypt (a plaintext client on a TLS listener, a refused certificate)") \
	X(SASL_UNAUTHENTICATED, "request other than ApiVersions, SaslHandshake or SaslAuthenticate before SASL authentication") \
	X(SASL_FAILED, "SASL authentication failed (or its mechanism is not enabled)") \
	X(SASL_EXPIRED, "SASL session past its lifetime without re-authentication (KIP-368)") \
	X(SASL_BUSY, "no free SASL session on the lcore (too many connections authenticating at once)") \
	X(SASL_TIMEOUT, "SASL exchange begun (SaslHandshake) but not finished within 10 s")

enum broker_close {
#define X(n, h) BROKER_CLOSE_##n,
	BROKER_CLOSE_REASONS(X)
#undef X
	BROKER_CLOSE_MAX
};

enum slot_state { SLOT_FREE = 0, SLOT_WAIT, SLOT_READY };

struct kslot {
	uint8_t state;
	int16_t api;
	uint64_t t0_tsc;         /* TSC when the request was parsed */
	struct rte_mbuf *resp;   /* READY: the whole response frame */
};

/*
 * Work on partitions owned by another data lcore travels there as a
 * struct xop on that lcore's ring and comes back the same way. The request
 * that sent it waits (its frame stays in the connection, or in its parked
 * fetch) with a struct xprog that collects one result per partition.
 */
#define XOP_MAX_RANGES 16
enum xop_type { XOP_PRODUCE = 1, XOP_FETCH, XOP_TIME, XOP_APPENDED,
	XOP_PRODUCERS };
enum xstate { XS_NONE = 0, XS_PARTIAL, XS_SENT, XS_DONE };

struct xop;

struct xres {
	uint8_t state;
	int16_t err;
	uint64_t pos;             /* produce: bytes appended here so far */
	int64_t base, append_time, log_start, hw;
	int64_t off, ts;          /* ListOffsets */
	struct xop *op;           /* fetch: the answer, holding its ranges */
	/* produce v8+: deep validation's record index + 1 (0: none) and
	 * message (static text), for record_errors / error_message. */
	int32_t rec_index1;
	const char *msg;
};

struct xprog {
	/* Who runs the request again once every answer is in: a connection
	 * (its current request) or a parked fetch. */
	struct kconn *k;
	struct fwaiter *w;
	int32_t corr;
	int16_t api;
	uint32_t n;
	uint32_t outstanding;
	bool orphan;              /* the request is gone: free when answered */
	struct xres res[];
};

struct xop {
	struct xop *next;         /* owner's retry list */
	uint64_t ver;             /* origin's quiescent version at creation */
	uint8_t type;
	bool done;
	uint16_t from;
	struct xprog *xp;
	uint32_t index;
	struct fmq_log_part *part;
	struct rte_mbuf *chain;   /* produce: the batch bytes (indirect mbufs) */
	uint32_t len;
	int64_t offset;           /* fetch */
	uint32_t budget;
	int64_t ts;               /* ListOffsets by time */
	int64_t upto;             /* fetch: read no batch from here on: the
	                           * HW for consumers, the LSO for
	                           * read_committed, INT64_MAX */
	uint32_t nkeys;           /* XOP_APPENDED */
	const void *keys[WAITER_KEYS];
	/* XOP_PRODUCERS: the owner's answer (malloc'd, freed with the op;
	 * an admin request, not the data path). */
	struct fmq_log_producer_desc *blob;
	uint32_t nblob;
	struct xres r;
	uint32_t nranges, bytes;
	struct fmq_log_range ranges[XOP_MAX_RANGES];
};

/* broker_repl.c: replication counters per data lcore. */
#define BREPL_MAX_LEADERS 32
#define BREPL_STATS(X) \
	X(fetches, "fluxmq_replica_fetch_requests_total", "Fetch requests sent to leaders by this broker's followers") \
	X(fetch_errors, "fluxmq_replica_fetch_errors_total", "Follower fetches that failed (error answer, malformed or oversized response)") \
	X(fetch_timeouts, "fluxmq_replica_fetch_timeouts_total", "Follower fetches unanswered in time (connection reset)") \
	X(out_of_range, "fluxmq_replica_fetch_out_of_range_total", "Follower fetch offsets past the leader's log end (the log is cut back to its high watermark)") \
	X(connects, "fluxmq_replica_connects_total", "Follower connections to leaders established") \
	X(disconnects, "fluxmq_replica_disconnects_total", "Follower connections to leaders closed") \
	X(append_backpressure, "fluxmq_replica_append_backpressure_total", "Follower appends deferred: hot pool full") \
	X(append_errors, "fluxmq_replica_append_errors_total", "Leader batches a follower refused (CRC, framing, offset not at its log end)") \
	X(acks_all_parked, "fluxmq_replica_acks_all_waits_total", "acks=all produce requests that waited for the high watermark") \
	X(acks_all_done, "fluxmq_replica_acks_all_answered_total", "acks=all produce requests answered after waiting") \
	X(acks_all_timeouts, "fluxmq_replica_acks_all_timeouts_total", "Partitions of acks=all requests answered REQUEST_TIMED_OUT") \
	X(acks_all_after_append, "fluxmq_replica_acks_all_not_enough_after_append_total", "Partitions answered NOT_ENOUGH_REPLICAS_AFTER_APPEND") \
	X(acks_all_not_leader, "fluxmq_replica_acks_all_not_leader_total", "Partitions of waiting acks=all requests whose leadership moved (NOT_LEADER_OR_FOLLOWER)") \
	X(lease_refused, "fluxmq_replica_lease_refused_total", "Produce to replicated partitions refused (NOT_LEADER_OR_FOLLOWER): ZooKeeper not heard from within 2/3 of the session timeout") \
	X(diverging, "fluxmq_replica_fetch_diverging_total", "Follower fetches answered with a diverging epoch (the log is cut back to where it left the leader's)")
struct brepl_stats {
#define X(f, n, h) uint64_t f;
	BREPL_STATS(X)
#undef X
};
struct brepl_lc;

struct kconn {
	struct fmq_broker_lcore *bl;
	fmq_tcp_conn_t tcp;
	uint32_t idx;
	uint32_t gen;
	bool live;
	bool peer_fin;
	bool closing;
	bool paused;
	bool in_work;
	bool retry;              /* the first frame waits for the hot pool */
	bool rx_full;            /* paused: requests piled up unhandled */
	bool mem_wait;           /* paused: no room in the lcore's rx budget */
	uint32_t resv;           /* mbufs reserved for the unfinished first
				  * request (0: none, or it is whole) */
	TAILQ_ENTRY(kconn) mem_link; /* on mem_waitq while mem_wait */
	bool muted;              /* paused: throttled by a client quota */
	uint64_t mute_until_ns;
	TAILQ_ENTRY(kconn) mute_link; /* on muteq while muted */
	uint64_t partial_since;  /* ns: first unconsumed byte arrived */
	uint64_t last_active_ns; /* ns: last byte received or answer sent */
	uint32_t client_ip;
	uint16_t client_port;
	uint8_t listener;        /* index in b->ls */
	uint8_t proto;           /* its enum fmq_sec_proto */
	/* SASL (broker_sasl.c): enum bsasl_state, the session while
	 * authenticating (from the lcore's pool), the session's end. */
	uint8_t sasl;
	struct fmq_sasl_sess *sess;
	uint64_t sess_ns;         /* when sess was taken */
	uint64_t sasl_expire_ns;  /* 0: does not expire */
	struct fmq_principal principal;  /* ANONYMOUS until authenticated */
	struct fmq_tls *tls;     /* SSL and SASL_SSL listeners, else NULL */
	uint32_t tls_off;        /* bytes of the first response encrypted */
	/* unconsumed received bytes: mbuf segments linked by next */
	struct rte_mbuf *rx_head, *rx_tail;
	uint32_t rx_off;
	uint64_t rx_bytes;
	uint32_t rx_nseg;
	struct fmq_kafka_framer framer;
	uint64_t need;
	/* response slots in request order: [head, tail) */
	uint32_t head, tail;
	struct kslot *slots;
	/* a request waiting for other lcores or the hot pool, to resume */
	struct xprog *xp;
	bool waiting;            /* for other lcores' answers */
	struct kconn *work_next;
};

/* A parked Fetch. */
struct fwaiter {
	struct fwaiter *next;
	uint32_t conn, gen, slot;
	uint64_t deadline_ns;
	uint8_t *frame;          /* copy of the request (header + body) */
	uint32_t len;
	uint32_t nkeys;          /* > WAITER_KEYS: wake on any append */
	const void *keys[WAITER_KEYS];
	struct xprog *xp;        /* remote reads of its last run */
	bool ready;              /* remote reads done: run again */
};

#define XVER_SLOTS 8

/* broker_slab.c: per-lcore memory for state that outlives a poll. */
#define SLAB_CLASSES 10           /* 128 B .. 64 KiB */
#define SLAB_MIN_BYTES 128u
struct bslab {
	void *free[SLAB_CLASSES];
	uint32_t nfree[SLAB_CLASSES], total[SLAB_CLASSES];
	void *mem;
	uint64_t mem_bytes, used_bytes;
	uint64_t heap_allocs;     /* too big, or every class dry */
};
int slab_init(struct bslab *s, uint64_t bytes, int socket);
void slab_fini(struct bslab *s);
void *slab_alloc(struct bslab *s, size_t n);
void *slab_zalloc(struct bslab *s, size_t n);
void slab_free(struct bslab *s, void *o);

/* Per data lcore counters; written by the owning lcore only. */
struct broker_stats {
	struct fmq_acl_stats acl;   /* authorization decisions */
	uint64_t conns_opened, conns_closed, conns_refused;
	uint64_t close_reason[BROKER_CLOSE_MAX];
	uint64_t req[BROKER_API_MAX][BROKER_VER_MAX];
	uint64_t err[BROKER_ERR_MAX - BROKER_ERR_MIN + 1];
	uint64_t requests;         /* every API, every version */
	uint64_t txn_markers;      /* transaction markers appended */
	uint64_t txn_aborted_sent; /* aborted txns in read_committed fetches */
	uint64_t bytes_in, bytes_out;
	uint64_t produce_batches, produce_bytes, produce_backpressure;
	uint64_t rx_backlog_pauses;
	uint64_t rx_mem_waits;     /* requests that waited for rx budget */
	uint64_t rx_collapsed;     /* small segments copied into the tail */
	uint64_t conns_refused_ip; /* max.connections.per.ip reached */
	uint64_t fetch_bytes_zero_copy, fetch_bytes_copied;
	uint64_t fetch_waits, fetch_wait_overflow;
	uint64_t forwarded, fwd_ring_full;
	uint64_t xop_sent, xop_served, xop_ring_full;
	uint64_t nomem;
	/* client quotas, by key (produce, fetch, request time) */
	uint64_t quota_throttled[FMQ_QUOTA_NKEYS];
	uint64_t quota_throttle_ms[FMQ_QUOTA_NKEYS];
	/* TLS (broker_tls.c), by negotiated version */
	uint64_t tls_hs_ok[FMQ_TLS_NVER], tls_hs_failed;
	uint64_t tls_bytes_dec[FMQ_TLS_NVER], tls_bytes_enc[FMQ_TLS_NVER];
	uint64_t tls_hs_ns;        /* CPU time of handshake steps */
	struct fmq_hist lat[BROKER_API_MAX];
	/* leader epochs (broker_ofle.c, KIP-101/320) */
	uint64_t ofle_lookups, epoch_fenced, epoch_unknown, diverging;
	/* replication throttle (broker_rthrottle.c), by RTHR_LEADER/FOLLOWER */
	uint64_t rthr_held[2], rthr_bytes[2];
};

/* broker_tls.c: TLS on a data lcore. */
struct btls {
	struct fmq_tls_ctx *ctx;    /* this lcore's reference for new conns */
	/* A newer context from a reload (the control lcore stores it, the
	 * lcore takes it at its next TLS accept). */
	_Atomic(struct fmq_tls_ctx *) next;
	struct fmq_tls_stage *stage; /* plaintext gathered into records */
	struct rte_mbuf *out_head, *out_tail; /* ciphertext being built */
	uint32_t out_len, out_segs;
	struct iovec iov[64];       /* received segments, for the session */
};

/* SASL on one data lcore: a fixed pool of sessions (only connections in
 * the middle of authenticating hold one) and the counters. */
#define BSASL_SESSIONS 256
/* An exchange holds its session at most this long (a client that sends
 * SaslHandshake and nothing more must not keep it from others). */
#define BSASL_EXCHANGE_NS (10ull * 1000 * 1000 * 1000)
struct bsasl_lcore {
	struct fmq_sasl_sess *pool;
	uint32_t free[BSASL_SESSIONS];
	uint32_t nfree;
	uint64_t auth[FMQ_SASL_MECH_MAX][2];   /* [mech][0 ok, 1 failed] */
	uint64_t reauth;                       /* re-authentications done */
	uint64_t bad_mech;                     /* handshakes refused */
};

/*
 * One data lcore's broker state, allocated cache-aligned on its socket.
 * Written by that lcore only, except bell (below) and tls.next (a TLS
 * reload, rare); other threads reach it through rings.
 */
struct fmq_broker_lcore {
	struct fmq_broker *b;
	struct fmq_bfwd *txn_retry;  /* markers to append again (broker_txn.c) */
	unsigned int idx;
	struct fmq_net *net;
	struct rte_mempool *mp;     /* packet mbufs */
	struct rte_mempool *ext_mp; /* header mbufs for external buffers */
	struct rte_mempool *zsh_mp; /* their shared infos (broker_resp.c) */
	struct rte_ring *to_ctrl, *from_ctrl;
	struct kconn *conns;
	uint32_t nconns;
	uint32_t *free_conns;
	uint32_t nfree;
	struct kconn *work_head, *work_tail;
	struct fwaiter *waiters;
	uint32_t nwaiters;
	const void *appended[WAITER_KEYS];
	uint32_t nappended;         /* > WAITER_KEYS: many */
	const void *own_appended[WAITER_KEYS]; /* ours, told to other lcores */
	uint32_t nown_appended;
	struct rte_ring *xin;       /* xops to serve and answers to ours */
	struct xop *xretry;         /* produce xops waiting for the hot pool */
	struct fmq_kafka_arena arena;
	struct fmq_rthr_bucket rthr[2]; /* broker_rthrottle.c */
	struct fmq_kafka_seg *segs;
	struct rte_mbuf **seg_mbuf;
	uint32_t *seg_off;          /* offset of each seg inside its mbuf */
	struct fmq_log_range *ranges;
	uint64_t now_ns;
	uint64_t tsc_mhz;           /* TSC ticks per microsecond */
	struct bslab slab;
	uint64_t cfg_version;       /* snapshot whose log settings we applied */
	/*
	 * Partition pointers (and pinned segment ranges) travel in xops and
	 * outlive the poll that made them. While any is out, the lcore's
	 * quiescent version stays at the oldest one's, so the control lcore
	 * does not close a partition an xop still names. Ops counted by
	 * version, oldest first; past XVER_SLOTS versions the newest bucket
	 * absorbs newer ones (it keeps its older version: conservative).
	 */
	uint64_t qver;              /* version published at the last poll end */
	struct {
		uint64_t ver;
		uint32_t n;
	} xver[XVER_SLOTS];
	uint32_t nxver;
	/*
	 * Receive budget: mbufs of the mbuf pool that unfinished requests
	 * of this lcore may hold. A request reserves what it needs when
	 * its size prefix arrives; one that does not fit waits (paused) in
	 * mem_waitq, so every request admitted can finish.
	 */
	uint32_t rx_budget, rx_reserved, rx_conn_max;
	uint32_t rx_held;           /* mbufs on every connection's rx list */
	TAILQ_HEAD(, kconn) mem_waitq;
	uint64_t next_scan_ns;      /* idle / request timeout scan */
	uint64_t log_ns;            /* rate limit of close messages */
	uint32_t log_skipped;
	struct rte_hash *per_ip;    /* client IPv4 -> open connections */
	/*
	 * Copy buffer for checking each batch of a multi-batch Produce
	 * before the first is appended: sized to the largest
	 * max.message.bytes seen, so it is allocated once per lcore (again
	 * only when a topic's limit grows), never per request.
	 */
	uint8_t *precheck;
	uint32_t precheck_len;
	/* Client quotas (broker_quota.c): this lcore's rates, and the
	 * connections muted by a throttle, with the soonest end (0: none). */
	struct fmq_quota_tbl qtbl;
	TAILQ_HEAD(, kconn) muteq;
	uint64_t mute_next_ns;
	struct btls tls;
	struct bsasl_lcore sasl;
	struct brepl_lc *repl;      /* broker_repl.c */
	struct fsess_cache fsess;   /* fetch sessions (broker_fsess.c) */
	/*
	 * Rung by whoever enqueues on xin or from_ctrl while we sleep: every
	 * other lcore reads (and may swap) bell.asleep on each enqueue, so it
	 * has a cache line of its own, apart from the fields this lcore
	 * writes every poll (now_ns, qver, the counters below).
	 */
	struct fmq_doorbell bell __rte_cache_aligned;
	/* Written by this lcore only; the control lcore reads them for
	 * /metrics. */
	struct broker_stats st __rte_cache_aligned;
};

struct fmq_broker {
	struct fmq_log *log;
	unsigned int n_lcores;
	int32_t node_id;
	struct fmq_listeners ls;    /* listeners (security protocol, ports) */
	/* SASL (broker_sasl.c): mechanisms, OAUTHBEARER keys, limits. */
	struct fmq_sasl_conf sasl_conf;
	struct fmq_oauth_conf *oauth;
	uint32_t sasl_max_receive;  /* sasl.server.max.receive.size */
	uint64_t reauth_ms;         /* connections.max.reauth.ms; 0 off */
	char adv_host[64];          /* the first listener's, for status */
	int32_t adv_port;
	char cluster_id[64];
	uint32_t max_request;
	uint32_t max_conns;
	uint32_t slots;             /* power of two >= broker.max.inflight */
	uint32_t max_waiters;
	uint32_t frames_per_poll;
	uint64_t idle_ns;           /* connections.max.idle.ms; 0 off */
	uint64_t req_timeout_ns;    /* broker.request.receive.timeout.ms */
	uint32_t max_per_ip;        /* max.connections.per.ip; 0 off */
	uint64_t arena_bytes;
	uint64_t slab_bytes;
	bool auto_create;
	struct fmq_quota_win qwin;  /* quota.window.num, .size.seconds */
	uint32_t quota_slots;       /* quota.entities.per.lcore */
	uint32_t fsess_slots;       /* fetch sessions per data lcore */
	_Atomic(struct fmq_bmeta *) meta;
	uint64_t version;
	struct fmq_bmeta *old;      /* replaced snapshots, newest first */
	struct fmq_broker_lcore *lc[BROKER_MAX_LCORES];
	/* version each lcore last polled with (quiescent state) */
	struct {
		_Atomic uint64_t v;
	} __rte_cache_aligned seen[BROKER_MAX_LCORES];
	uint64_t ctrl_resp_retries;
	struct rte_mempool *xop_mp; /* shared by all data lcores */
	int wake_fd;                /* eventfd: a request was forwarded */
	struct fmq_tls_ctx *tls_ctx; /* newest TLS context (control lcore) */
	/* Replication (broker_repl.c): replica.fetch.* */
	uint64_t repl_backoff_ns;
	uint32_t repl_rto_max_ms;   /* replica.socket.rto.max.ms */
	/* Replicated partitions are led only until then (set by the
	 * control lcore while its ZooKeeper session is connected and its
	 * view fresh); 0: not in a cluster. */
	_Atomic uint64_t lead_lease_ns;
	uint64_t repl_part_bytes, repl_resp_bytes, repl_wait_ms;
};

/* broker_conn.c */
int conn_accepted(struct fmq_net *n, fmq_tcp_conn_t c, void *arg, void **user);
void conn_data(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
	       struct rte_mbuf *m);
void conn_writable(struct fmq_net *n, fmq_tcp_conn_t c, void *user);
void conn_closed(struct fmq_net *n, fmq_tcp_conn_t c, void *user, int reason);
void conn_work(struct fmq_broker_lcore *bl);
void conn_timers(struct fmq_broker_lcore *bl);
void conn_close(struct fmq_broker_lcore *bl, struct kconn *k,
		enum broker_close why);
struct kconn *conn_lookup(struct fmq_broker_lcore *bl, uint32_t idx,
			  uint32_t gen);
/* Complete slot seq of k with a response chain (NULL: no response). */
void conn_complete(struct fmq_broker_lcore *bl, struct kconn *k, uint32_t seq,
		   struct rte_mbuf *resp);
void conn_flush(struct fmq_broker_lcore *bl, struct kconn *k);
void conn_schedule(struct fmq_broker_lcore *bl, struct kconn *k);

struct req_ctx;
/* broker_quota.c: client quotas. quota_charge records v for key (enum
 * fmq_quota_key) of the request's connection and returns its throttle
 * time in ms, muting the connection that long (0: within quota). */
int32_t quota_charge(struct req_ctx *rc, int key, double v);
/* Request time quota: tsc cycles spent handling the request. */
void quota_request_time(struct req_ctx *rc, uint64_t tsc);
/* Unmute connections whose throttle time has passed. */
void quota_poll(struct fmq_broker_lcore *bl);
/* k is closing: off the mute list. */
void quota_conn_gone(struct fmq_broker_lcore *bl, struct kconn *k);
/* broker_tls.c */
int tls_lcore_init(struct fmq_broker_lcore *bl, int socket);
void tls_lcore_fini(struct fmq_broker_lcore *bl);
/* A new connection on a TLS listener: its session. 0 or -ENOMEM. */
int tls_conn_open(struct fmq_broker_lcore *bl, struct kconn *k);
void tls_conn_free(struct kconn *k);
/* An orderly close: close_notify goes out ahead of the FIN. */
void tls_conn_close_notify(struct fmq_broker_lcore *bl, struct kconn *k);
/* Received ciphertext (consumed) to plaintext: the chain to append, or
 * NULL (nothing to append, or the connection was closed). */
struct rte_mbuf *tls_rx(struct fmq_broker_lcore *bl, struct kconn *k,
			struct rte_mbuf *m);
/* Encrypt up to max more bytes of a response (from k->tls_off on); the
 * last record waits for tls_tx_end. 1: all of it is out (m freed), 0:
 * part is left (k->tls_off says how much went), -1: out of mbufs (m
 * still the caller's). */
int tls_tx(struct fmq_broker_lcore *bl, struct kconn *k, struct rte_mbuf *m,
	   uint32_t max);
/* Encrypt what is staged and send the ciphertext. 0 or -1. */
int tls_tx_end(struct fmq_broker_lcore *bl, struct kconn *k);
void tls_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b);

/* broker_resp.c: encode a response body into an mbuf chain. */
struct rte_mempool *resp_zsh_pool_create(const char *name, unsigned int n,
					 int socket);
struct rte_mbuf *resp_encode(struct fmq_broker_lcore *bl, int16_t api,
			     int16_t version, int32_t corr, const void *body);
/* Copy a contiguous response frame into an mbuf chain. */
struct rte_mbuf *resp_from_bytes(struct fmq_broker_lcore *bl,
				 const uint8_t *p, uint32_t len);
void count_error(struct fmq_broker_lcore *bl, int16_t code);

/* broker_api.c: requests answered on the data lcore. */
struct req_ctx {
	struct fmq_broker_lcore *bl;
	struct kconn *k;
	uint32_t slot;
	const struct fmq_kafka_req_hdr *hdr;
	struct fmq_kafka_reader body;
	/* frame position in the connection's segments */
	uint32_t frame_len;
	uint32_t nseg;
	struct xprog **xslot;     /* where this request keeps remote progress */
	struct fwaiter *waiter;   /* the parked fetch being run, or NULL */
	const struct fmq_bmeta *meta;
};

/* broker_sasl.c: the SASL gate of SASL_PLAINTEXT / SASL_SSL listeners. */
enum bsasl_state {
	BSASL_OFF = 0,      /* not a SASL listener */
	BSASL_HANDSHAKE,    /* ApiVersions or SaslHandshake expected */
	BSASL_AUTH,         /* SaslHandshake v1 done: SaslAuthenticate */
	BSASL_RAW,          /* SaslHandshake v0 done: raw length + token */
	BSASL_DONE,         /* authenticated */
};
/* Result of broker_sasl_gate: go on with api_dispatch. */
#define BSASL_PASS 100
int broker_sasl_init(struct fmq_broker *b, const struct fmq_config *cfg,
		     char *err, size_t errlen);
void broker_sasl_fini(struct fmq_broker *b);
int broker_sasl_lcore_init(struct fmq_broker_lcore *bl, int socket);
void broker_sasl_lcore_fini(struct fmq_broker_lcore *bl);
void broker_sasl_conn_init(struct fmq_broker_lcore *bl, struct kconn *k);
void broker_sasl_conn_release(struct fmq_broker_lcore *bl, struct kconn *k);
/* broker_api.c: decode the current request's body into the arena (NULL
 * with *st set to the close reason), and answer it with body. */
void *api_decode_body(struct req_ctx *rc, int *st);
int api_respond(struct req_ctx *rc, const void *body);
int broker_sasl_gate(struct req_ctx *rc);
/* SaslHandshake / SaslAuthenticate where the listener has no SASL. */
int broker_sasl_off(struct req_ctx *rc);
int broker_sasl_raw(struct fmq_broker_lcore *bl, struct kconn *k,
		    uint32_t seq, uint32_t nseg, uint64_t avail,
		    uint32_t *frame_len);
void broker_sasl_metrics(struct fmq_metrics_out *out,
			 const struct fmq_broker *b);
/* The ACLs of the request's snapshot (NULL: no authorizer). */
static inline const struct fmq_acl_db *
req_acl(const struct req_ctx *rc)
{
	return rc->meta->sec != NULL ? rc->meta->sec->acl : NULL;
}

/* May the connection do op on the resource? Counted per lcore. */
static inline bool
req_allow(struct req_ctx *rc, enum fmq_acl_res res, const char *name,
	  size_t len, enum fmq_acl_op op)
{
	return fmq_acl_check(req_acl(rc), &rc->k->principal, rc->k->client_ip,
			     res, name, len, op, &rc->bl->st.acl);
}

static inline bool
req_allow_topic(struct req_ctx *rc, struct fmq_kafka_str name,
		enum fmq_acl_op op)
{
	return req_allow(rc, FMQ_ACL_RES_TOPIC, name.p,
			 name.len > 0 ? (size_t)name.len : 0, op);
}

static inline bool
req_allow_cluster(struct req_ctx *rc, enum fmq_acl_op op)
{
	return req_allow(rc, FMQ_ACL_RES_CLUSTER, FMQ_ACL_CLUSTER_NAME,
			 sizeof(FMQ_ACL_CLUSTER_NAME) - 1, op);
}

/*
 * Handler results: DONE (slot completed or no response), PARK (the slot
 * stays WAIT and someone completes it later), RETRY (nothing consumed, try
 * the same frame again later), or a close reason (negative).
 */
enum { REQ_DONE = 0, REQ_PARK = 1, REQ_RETRY = 2, REQ_WAIT = 3 };
#define REQ_CLOSE(reason) (-(int)(reason) - 1)
#define REQ_CLOSE_REASON(st) ((enum broker_close)(-(st) - 1))

/* broker_xlcore.c */
struct xprog *xprog_get(struct req_ctx *rc, int16_t api, uint32_t n);
void xprog_drop(struct fmq_broker_lcore *bl, struct xprog **slot);
/* The version bl may publish as quiescent, given the current one. */
uint64_t xver_quiescent(const struct fmq_broker_lcore *bl, uint64_t current);
struct xop *xop_new(struct fmq_broker_lcore *bl, uint8_t type,
		    struct xprog *xp, uint32_t index, struct fmq_log_part *part);
int xop_send(struct fmq_broker_lcore *bl, uint16_t to, struct xop *op);
void xop_release(struct fmq_broker_lcore *bl, struct xop *op);
struct rte_mbuf *xop_chain_of(struct fmq_broker_lcore *bl, uint32_t nseg,
			      uint64_t abs, uint32_t len);
void xop_drain(struct fmq_broker_lcore *bl);
void xop_broadcast_appends(struct fmq_broker_lcore *bl);

int api_dispatch(struct req_ctx *rc);
int api_forward(struct req_ctx *rc);
int api_produce(struct req_ctx *rc);
int api_fetch(struct req_ctx *rc, bool from_waiter, uint64_t deadline_ns);
int api_list_offsets(struct req_ctx *rc);
/* broker_dprod.c: DescribeProducers (API 61). */
int api_describe_producers(struct req_ctx *rc);
/* broker_ofle.c */
int api_offset_for_leader_epoch(struct req_ctx *rc);
int16_t ofle_epoch_check(const struct fmq_bpart *bp, int32_t current);
bool ofle_diverging(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp,
		    int32_t last_fetched, int64_t fetch_offset,
		    int32_t *epoch, int64_t *end);
void repl_diverged(const struct fmq_bpart *bp, int32_t de, int64_t dend);
bool fetch_epochs(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp,
		  int16_t v,
		  const struct fmq_kafka_fetch_req_fetch_partition *qp,
		  struct fmq_kafka_fetch_resp_partition_data *op);
void fetch_poll_waiters(struct fmq_broker_lcore *bl);
void fetch_free_waiters(struct fmq_broker_lcore *bl);
void fetch_note_append(struct fmq_broker_lcore *bl, const void *key);
/* broker_fsess.c: fetch sessions (KIP-227). */
int fsess_lcore_init(struct fmq_broker_lcore *bl, int socket);
void fsess_lcore_fini(struct fmq_broker_lcore *bl);
/* Before a Fetch v7+ is run: its session context; an incremental request
 * is rewritten to the session's partitions. 0, or -ENOMEM. */
int fsess_begin(struct req_ctx *rc, struct fmq_kafka_fetch_req *req,
		struct fsess_ctx *fc);
/* The answer is final: create or update the session, and leave out of an
 * incremental answer the partitions that did not change. */
void fsess_end(struct req_ctx *rc, struct fsess_ctx *fc,
	       struct fmq_kafka_fetch_resp *resp);
/* An append to a partition this lcore owns (also told to other lcores). */
void note_own_append(struct fmq_broker_lcore *bl, const void *key);

/* broker_kip951.c: the current leader of a partition answered
 * NOT_LEADER_OR_FOLLOWER (Produce v10+, Fetch v16+), and the leaders
 * whose endpoints the answer lists. */
#define LEADER_HINTS_MAX 16
struct leader_hints {
	int32_t ids[LEADER_HINTS_MAX];
	uint32_t n;
};
void leader_hint(const struct req_ctx *rc, const struct fmq_bpart *bp,
		 struct leader_hints *h, int32_t *leader_id,
		 int32_t *leader_epoch);
void leader_hint_ep(const struct req_ctx *rc, int32_t id,
		    struct fmq_kafka_str *host, int32_t *port,
		    struct fmq_kafka_str *rack);

/* broker_txn.c */
void txn_marker(struct fmq_broker_lcore *bl, struct fmq_bfwd *f);
void txn_retry(struct fmq_broker_lcore *bl);
int64_t txn_fetch_upto(const struct fmq_log_part *log, int8_t isolation);
int txn_fetch_aborted(struct req_ctx *rc, const struct fmq_log_part *log,
		      int64_t from, int64_t to,
		      struct fmq_kafka_fetch_resp_partition_data *op);
/* broker_rthrottle.c: replication quotas (KIP-73). Sides: */
#define RTHR_LEADER 0
#define RTHR_FOLLOWER 1
/* -1: bp is not throttled on this side for replica (not listed, replica
 * in the ISR, no rate); 0: the bucket is spent, hold it back; else the
 * bytes it may take now. */
int64_t rthr_budget(struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
		    const struct fmq_bpart *bp, int side, int32_t replica);
/* Whether bp is throttled on this side for replica now. */
bool rthr_on(const struct fmq_broker_lcore *bl, const struct fmq_bmeta *m,
	     const struct fmq_bpart *bp, int side, int32_t replica);
/* Throttled bytes sent or fetched on one side. */
void rthr_charge(struct fmq_broker_lcore *bl, int side, uint64_t bytes);
void rthr_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b);
/* broker_repl.c: replication (issue 17). */
int repl_lcore_init(struct fmq_broker_lcore *bl);
void repl_lcore_fini(struct fmq_broker_lcore *bl);
void repl_poll(struct fmq_broker_lcore *bl);
void repl_metrics(struct fmq_metrics_out *out, const struct fmq_broker *b);
/* Leader: move the HW to the min LEO over the ISR; true if it moved. */
bool repl_advance(struct fmq_broker_lcore *bl, const struct fmq_bpart *bp);
/* The HW consumers see (leo when the partition is not replicated). */
int64_t repl_hw(const struct fmq_bpart *bp, int64_t leo);
/* A Fetch of a replicated partition led here: epochs checked, a
 * follower's position recorded; *upto bounds the read (the HW for
 * consumers). 0 or a Kafka error for the partition. */
/* A follower fetches on k: its retransmissions capped as the
 * follower's own (replica.socket.rto.max.ms). */
void repl_leader_conn(struct fmq_broker_lcore *bl, struct kconn *k);
int16_t repl_leader_fetch(struct fmq_broker_lcore *bl,
			  const struct fmq_bpart *bp, int32_t replica_id,
			  int32_t cur_epoch, int64_t offset, int64_t *upto);
/* Produce to a replicated partition led here: NOT_LEADER_OR_FOLLOWER
 * past the leadership lease (ZooKeeper not heard from in time), and for
 * acks=all NOT_ENOUGH_REPLICAS when the ISR is below min.insync. */
int16_t repl_produce_check(const struct fmq_broker_lcore *bl,
			   const struct fmq_bpart *bp, int16_t acks);
/* acks=all after the appends: REQ_PARK (answered by the purgatory) or
 * REQ_DONE (nothing to wait for: answer now). */
struct fmq_kafka_produce_req;
int repl_produce_park(struct req_ctx *rc,
		      const struct fmq_kafka_produce_req *req,
		      struct xres *res, uint32_t n, int32_t throttle);

static inline const struct fmq_bmeta *
broker_meta_load(const struct fmq_broker *b)
{
	return atomic_load_explicit(&((struct fmq_broker *)b)->meta,
				    memory_order_acquire);
}

#endif
