/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * TCP-lite network stack: Ethernet, ARP, IPv4, ICMP echo (and TCP on top).
 *
 * One struct fmq_net per data lcore and port queue. Everything in it is
 * owned by that lcore: no locks, no allocation on the packet path (mbufs
 * come from the pool given at creation). Received packets are handed in by
 * bursts with fmq_net_rx(); fmq_net_poll() runs timers and flushes TX.
 */
#ifndef FMQ_NET_H
#define FMQ_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fmq_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Reasons a received packet is dropped; see net_drop.def. */
enum fmq_net_drop {
#define FMQ_NET_DROP(name, help) FMQ_NET_DROP_##name,
#include "net_drop.def"
#undef FMQ_NET_DROP
	FMQ_NET_DROP_MAX
};

/**
 * TCP settings (net.tcp.* keys). A zero field takes the built-in default
 * (the key's default), so a zeroed struct is a valid configuration; the
 * booleans are "disable" flags for that reason.
 */
struct fmq_tcp_conf {
	uint32_t max_conns;       /**< per lcore, all states */
	uint32_t syn_backlog;     /**< SYN_RCVD per listener */
	uint32_t rto_min_ms, rto_max_ms, rto_init_ms;
	uint32_t msl_ms;          /**< TIME_WAIT = 2*MSL; UINT32_MAX: 0 */
	uint32_t delack_ms;       /**< UINT32_MAX: no delayed ACK */
	uint32_t rcv_buf, snd_buf;
	uint32_t init_cwnd;       /**< segments */
	uint32_t ooo_max;         /**< segments; UINT32_MAX: none kept */
	uint32_t syn_retries, retries;
	uint32_t ka_idle_ms;      /**< UINT32_MAX: keepalive off */
	uint32_t ka_intvl_ms, ka_probes;
	bool no_sack, no_timestamps, no_wscale;
	uint8_t congestion;       /**< enum fmq_tcp_cc; 0: CUBIC */
};

/** Congestion control (net.tcp.congestion). */
enum fmq_tcp_cc {
	FMQ_TCP_CC_DEFAULT = 0,   /**< CUBIC */
	FMQ_TCP_CC_CUBIC,
	FMQ_TCP_CC_NEWRENO,
};

/** Impairment of one direction (fractions 0..1). */
struct fmq_net_impair_dir {
	double loss, duplicate, reorder, corrupt;
	uint32_t delay_us;
};

/** Port-layer impairment for tests and diagnostics; all zero = off. */
struct fmq_net_impair {
	struct fmq_net_impair_dir rx, tx;
	uint64_t seed;
};

/** Built-in diagnostic services (net.services). */
enum fmq_net_service_kind {
	FMQ_NET_SVC_ECHO = 1,    /**< RFC 862: send back what arrives */
	FMQ_NET_SVC_DISCARD,     /**< RFC 863: drop what arrives */
};

struct fmq_net_service {
	enum fmq_net_service_kind kind;
	uint16_t port;
};

#define FMQ_NET_MAX_SERVICES 8

/** Static settings of one interface, shared by all its lcores. */
struct fmq_net_conf {
	uint32_t ip;             /**< our address, network order */
	uint8_t prefix;          /**< subnet prefix length */
	uint32_t gateway;        /**< network order; 0 = none */
	struct rte_ether_addr mac;
	uint16_t mtu;            /**< IP MTU */
	bool rx_csum_offload;    /**< port validates IPv4/TCP checksums */
	bool tx_csum_offload;    /**< port fills IPv4/TCP checksums */
	uint64_t arp_timeout_ns; /**< how long a learned entry stays valid */
	uint64_t arp_retry_ns;   /**< interval between ARP requests */
	struct fmq_tcp_conf tcp; /**< TCP settings (zero fields: defaults) */
	struct fmq_net_impair impair; /**< test impairment (all zero: off) */
	/** Built-in services started by fmq_net_create (net.services). */
	struct fmq_net_service services[FMQ_NET_MAX_SERVICES];
	unsigned int nb_services;
};

/** Per-lcore counters; plain uint64_t, written only by the owning lcore. */
struct fmq_net_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t tx_dropped;       /**< the driver did not take them */
	uint64_t tx_sw_l4_csum;    /**< offload on, checksum done in software
				    *   (odd-length inner segment) */
	uint64_t arp_rx, arp_tx, arp_replies, arp_requests_sent;
	uint64_t icmp_echo;
	uint64_t drop[FMQ_NET_DROP_MAX];
	/* TCP */
	uint64_t tcp_active;        /**< gauge: connections not CLOSED */
	uint64_t tcp_time_wait;     /**< gauge: of which in TIME_WAIT */
	uint64_t tcp_tw_recycled;   /**< TIME_WAITs ended early: table full */
	uint64_t tcp_passive_opens; /**< handshakes completed as server */
	uint64_t tcp_active_opens;  /**< connect() calls that sent a SYN */
	uint64_t tcp_refused;       /**< SYNs refused: limits, no memory */
	uint64_t tcp_rst_closed;    /**< SYNs/segments answered by RST: no listener */
	uint64_t tcp_resets_rx;     /**< connections reset by the peer */
	uint64_t tcp_resets_tx;     /**< connections we reset (abort, timeout) */
	uint64_t tcp_timeouts;      /**< connections given up on retransmission */
	uint64_t tcp_seg_in, tcp_seg_out;
	uint64_t tcp_bytes_in, tcp_bytes_out; /**< payload, first transmission */
	uint64_t tcp_retrans_timeout, tcp_retrans_fast;
	uint64_t tcp_retrans_bytes;
	uint64_t tcp_ooo;           /**< out-of-order segments queued */
	uint64_t tcp_dupacks;       /**< duplicate ACKs received */
	uint64_t tcp_challenge_acks;/**< RFC 5961 challenge ACKs sent */
	uint64_t tcp_zwp;           /**< zero-window probes sent */
	uint64_t tcp_tlp;           /**< tail loss probes sent (RFC 8985) */
	uint64_t tcp_tlp2;          /**< of which second probes (no ACK) */
	uint64_t tcp_rack_loss;     /**< recoveries started by RACK */
	uint64_t tcp_undo;          /**< spurious recoveries undone (RFC 3522) */
	uint64_t tcp_ka_probes;     /**< keepalive probes sent */
	uint64_t tcp_delacks;       /**< ACKs sent by the delayed-ACK timer */
	uint64_t mbufs_held;        /**< gauge: mbufs held by the stack */
	/* Impairment: [0] rx, [1] tx */
	uint64_t imp_loss[2], imp_dup[2], imp_reorder[2], imp_corrupt[2];
	uint64_t imp_delayed[2];
};

struct fmq_net;

/**
 * Fill the settings that come from configuration (net.* keys: address,
 * prefix, gateway, MTU, and what later layers add) and check them. The
 * caller then sets what the port decides: mac and the offload flags.
 *
 * @param err  receives "file:line: key: reason" on failure
 * @return 0 or -EINVAL.
 */
int fmq_net_conf_from_config(struct fmq_net_conf *nc,
			     const struct fmq_config *cfg, char *err,
			     size_t errlen);

/**
 * Transmit callback: send n packets, return how many were taken. The stack
 * frees the rest and counts them. The default sends on (port, queue).
 */
typedef uint16_t (*fmq_net_tx_fn)(void *arg, struct rte_mbuf **pkts,
				  uint16_t n);

/**
 * Create the stack state for one lcore.
 *
 * @param conf  interface settings (copied)
 * @param mp    pool for packets the stack builds (ARP, ICMP, ACKs)
 * @param port_id, queue_id  where the default TX callback sends
 * @param socket  NUMA socket for the allocation
 * @return the context, or NULL with rte_errno set (ENOMEM).
 */
struct fmq_net *fmq_net_create(const struct fmq_net_conf *conf,
			       struct rte_mempool *mp, uint16_t port_id,
			       uint16_t queue_id, int socket);

/** Free the context and every mbuf it still holds. */
void fmq_net_free(struct fmq_net *n);

/** Replace the TX callback (unit tests capture what the stack emits). */
void fmq_net_set_tx(struct fmq_net *n, fmq_net_tx_fn fn, void *arg);

/**
 * Process a burst of received frames; consumes every mbuf.
 * @param now_ns  current time (fmq_now_ns(), or a fake clock in tests)
 */
void fmq_net_rx(struct fmq_net *n, struct rte_mbuf **pkts, uint16_t nb,
		uint64_t now_ns);

/** Run due timers and flush buffered TX. Call once per poll loop. */
void fmq_net_poll(struct fmq_net *n, uint64_t now_ns);

/** Send a gratuitous ARP for our address (at start-up). */
void fmq_net_send_garp(struct fmq_net *n, uint64_t now_ns);

/**
 * Send an IPv4 packet. m's data starts at the L4 header and must have
 * RTE_PKTMBUF_HEADROOM for the IP and Ethernet headers. Consumes m. The
 * next hop is resolved through the ARP cache; while unresolved a few
 * packets are held and an ARP request goes out.
 *
 * Checksums: the IPv4 header checksum is always taken care of here. A TCP
 * or UDP sender sets RTE_MBUF_F_TX_TCP_CKSUM (or _UDP_) in m->ol_flags and
 * m->l4_len and leaves the checksum field zero; this function then either
 * fills the pseudo-header sum for the NIC (tx_csum_offload) or computes the
 * full checksum in software over the whole chain, so the policy lives in
 * one place.
 *
 * @return 0, or -EHOSTUNREACH / -ENOBUFS (m was freed and counted).
 */
int fmq_net_ip_output(struct fmq_net *n, struct rte_mbuf *m, uint32_t dst,
		      uint8_t proto, uint64_t now_ns);

/**
 * Handler for an IP protocol (TCP). Called with m's data at the L4 header,
 * m->l3_len set and the IPv4 header still in front of the data. Consumes m.
 */
typedef void (*fmq_net_l4_fn)(struct fmq_net *n, struct rte_mbuf *m,
			      const struct rte_ipv4_hdr *ip, uint64_t now_ns);

/**
 * Check the L4 (TCP/UDP) checksum of a received packet whose data starts at
 * the L4 header: trusts the port's verdict when it gave one, else computes.
 */
bool fmq_net_rx_l4_csum_ok(const struct fmq_net *n, struct rte_mbuf *m,
			   const struct rte_ipv4_hdr *ip);

/** Register the handler for IP protocol proto (one per protocol). */
void fmq_net_set_l4(struct fmq_net *n, uint8_t proto, fmq_net_l4_fn fn);

/** Counters of this context (read by the metrics renderer). */
const struct fmq_net_stats *fmq_net_stats(const struct fmq_net *n);

/** Increment a drop counter (for protocol handlers layered on top). */
void fmq_net_count_drop(struct fmq_net *n, enum fmq_net_drop why);

/** The interface settings this context was created with. */
const struct fmq_net_conf *fmq_net_conf(const struct fmq_net *n);

/** Name of a drop reason ("ip_bad_csum"). */
const char *fmq_net_drop_name(enum fmq_net_drop why);

/**
 * Render the counters of a set of contexts (one per lcore) as Prometheus
 * text; arg is a struct fmq_net_metrics_set.
 */
struct fmq_net_metrics_set {
	struct fmq_net **nets;
	unsigned int n;
};
void fmq_net_metrics(struct fmq_metrics_out *out, void *arg);

/* ------------------------------------------------------------------------
 * TCP upper-layer API
 *
 * Connections live on the lcore (context) that created or accepted them
 * and are named by a u32 handle: (queue_id << 24) | index, where queue_id
 * is the one given to fmq_net_create (one per data lcore). Every call
 * below must be made on that lcore with that context. A handle is valid
 * from accepted/connect until the closed callback returns (or until
 * fmq_tcp_abort returns); after that the index may be reused.
 *
 * Callbacks run inside fmq_net_rx / fmq_net_poll (and never from inside
 * another API call). They may call any function below, including for the
 * connection they are called for.
 * ---------------------------------------------------------------------- */

/** Handle of a connection. */
typedef uint32_t fmq_tcp_conn_t;
#define FMQ_TCP_HANDLE(q, idx) (((uint32_t)(q) << 24) | (uint32_t)(idx))
#define FMQ_TCP_HANDLE_QUEUE(h) ((h) >> 24)
#define FMQ_TCP_HANDLE_INDEX(h) ((h) & 0xffffff)
#define FMQ_TCP_INVALID UINT32_MAX

/** Upper-layer callbacks (any may be NULL). user is the per-connection
 * opaque pointer (fmq_tcp_set_user). */
struct fmq_tcp_callbacks {
	/**
	 * A passive open completed (ESTABLISHED). arg is the listener's arg;
	 * *user starts as arg and may be replaced. Return 0 to keep the
	 * connection, non-zero to reset it (no closed callback then).
	 */
	int (*accepted)(struct fmq_net *n, fmq_tcp_conn_t c, void *arg,
			void **user);
	/** An active open (fmq_tcp_connect) reached ESTABLISHED. */
	void (*connected)(struct fmq_net *n, fmq_tcp_conn_t c, void *user);
	/**
	 * In-order payload, zero-copy: m is a chain (pkt_len = bytes, nb_segs
	 * set) whose ownership passes to the callee. m == NULL: the peer sent
	 * FIN (no more data will come). Not called after fmq_tcp_close().
	 */
	void (*data)(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
		     struct rte_mbuf *m);
	/** Send space went back above half of net.tcp.snd_buf after a
	 * fmq_tcp_send returned 0. */
	void (*writable)(struct fmq_net *n, fmq_tcp_conn_t c, void *user);
	/**
	 * The connection is finished; called exactly once per accepted or
	 * connected (or connecting) connection unless fmq_tcp_abort was
	 * called. reason: 0 orderly close, -ECONNRESET (peer reset),
	 * -ECONNREFUSED (RST to our SYN), -ETIMEDOUT (retransmission or
	 * keepalive gave up), -ECONNABORTED (the stack reset it: out of
	 * resources or shutdown).
	 */
	void (*closed)(struct fmq_net *n, fmq_tcp_conn_t c, void *user,
		       int reason);
};

/**
 * Listen on port of our address. cb is kept by pointer (must outlive the
 * listener); arg goes to accepted.
 * @return 0, -EADDRINUSE, -ENOSPC (listener table full), -EINVAL.
 */
int fmq_tcp_listen(struct fmq_net *n, uint16_t port,
		   const struct fmq_tcp_callbacks *cb, void *arg);

/** Stop listening; established connections stay. 0 or -ENOENT. */
int fmq_tcp_unlisten(struct fmq_net *n, uint16_t port);

/**
 * Active open to ip:port (ip in network order, port host order) from an
 * ephemeral local port; the SYN goes out at the next fmq_net_poll.
 * @param out  receives the handle
 * @return 0, -ENOSPC (connection table full), -EADDRNOTAVAIL (no free
 *   local port), -EINVAL.
 */
int fmq_tcp_connect(struct fmq_net *n, uint32_t ip, uint16_t port,
		    const struct fmq_tcp_callbacks *cb, void *user,
		    fmq_tcp_conn_t *out);

/**
 * Filter for the local ports fmq_tcp_connect picks: return true if a
 * connection (addresses and ports in network order) would have its replies
 * delivered to this context's queue, e.g. by computing the port's RSS hash
 * (symmetric Toeplitz key) with rte_softrss. NULL (the default) takes any
 * free port.
 */
typedef bool (*fmq_tcp_port_fn)(void *arg, uint32_t lip, uint16_t lport,
				uint32_t rip, uint16_t rport);
void fmq_tcp_set_port_filter(struct fmq_net *n, fmq_tcp_port_fn fn,
			     void *arg);

/**
 * Queue an mbuf chain for sending; always consumes m. Segments may be
 * direct, indirect or external-buffer mbufs: the stack keeps references
 * (the retransmit queue holds the chain; transmissions attach indirect
 * mbufs to it), never copies. m's headroom is not used.
 *
 * @return send space left (> 0), 0 when net.tcp.snd_buf is reached (the
 *   data was still queued; wait for writable), or -ENOTCONN (connection
 *   not established / already closing for writes; m freed) or -EINVAL
 *   (bad handle; m freed).
 */
int fmq_tcp_send(struct fmq_net *n, fmq_tcp_conn_t c, struct rte_mbuf *m);

/** Bytes that may be queued before fmq_tcp_send returns 0 (or -errno). */
int fmq_tcp_send_space(struct fmq_net *n, fmq_tcp_conn_t c);

/**
 * Graceful close: FIN after queued data. No data callbacks after this;
 * closed comes once the connection is done. 0, -EINVAL, -EALREADY.
 */
int fmq_tcp_close(struct fmq_net *n, fmq_tcp_conn_t c);

/** Reset the connection (RST) and forget it at once; no closed callback.
 * 0 or -EINVAL. */
int fmq_tcp_abort(struct fmq_net *n, fmq_tcp_conn_t c);

/**
 * Stop (true) or resume delivering data: while paused, in-order data is
 * held and the advertised window shrinks to zero (back-pressure).
 */
int fmq_tcp_pause_rx(struct fmq_net *n, fmq_tcp_conn_t c, bool pause);

/**
 * The app holds part of a unit of work (a request begun) and needs bytes
 * more to finish it: under mbuf-pool pressure the advertised window stays
 * at least this open (within net.tcp.rcv_buf), so the connection is never
 * starved of what it needs by others' pressure. 0 clears it. The app
 * bounds what it reserves in total. 0 or -EINVAL.
 */
int fmq_tcp_set_rx_reserve(struct fmq_net *n, fmq_tcp_conn_t c,
			   uint32_t bytes);

/** Set / get the per-connection opaque pointer. */
/* Cap this connection's retransmission timeout (its exponential backoff
 * included) at ms, never below net.tcp.rto_min_ms; 0: the stack's
 * net.tcp.rto_max_ms again. For links that must come back quickly after
 * a partition heals (replication): the next retransmission is at most
 * ms away. No syscall, no allocation. */
int fmq_tcp_set_rto_max(struct fmq_net *n, fmq_tcp_conn_t c, uint32_t ms);
int fmq_tcp_set_user(struct fmq_net *n, fmq_tcp_conn_t c, void *user);
void *fmq_tcp_get_user(struct fmq_net *n, fmq_tcp_conn_t c);

/** Addresses of a connection (network order); 0 or -EINVAL. */
int fmq_tcp_get_addrs(struct fmq_net *n, fmq_tcp_conn_t c, uint32_t *lip,
		      uint16_t *lport, uint32_t *rip, uint16_t *rport);

/** Name of a TCP state ("ESTABLISHED"), for diagnostics. */
const char *fmq_tcp_state_name(int state);

/** State of a connection (RFC 9293 numbering of enum in net_priv), or
 * -EINVAL. */
int fmq_tcp_state(struct fmq_net *n, fmq_tcp_conn_t c);

/** Test hook: the next connection created uses this initial send
 * sequence number instead of the RFC 6528 one (sequence wrap tests). */
void fmq_tcp_test_set_iss(struct fmq_net *n, uint32_t iss);

/** mbufs currently held by the stack (queues, reassembly, ARP, delays). */
uint64_t fmq_net_mbufs_held(const struct fmq_net *n);

#ifdef __cplusplus
}
#endif

#endif /* FMQ_NET_H */
