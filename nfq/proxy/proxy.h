/* proxy - the proxy daemon's context: configuration, the client
 * connections it is still reading, and the splices it forwards.
 *
 * Life of a client connection (thesis Fig. 4.7, in user space):
 *   accept -> read the request head (bounded, timed) -> L7 route -> connect
 *   to the backend from IVIP -> splice: drain the client socket, freeze both
 *   sockets with TCP_REPAIR, compute the two splice_dirs, install them (and
 *   replicate), send the drained request bytes to the backend ourselves
 *   (splice_inject), close both sockets silently.
 * From then on the NFQUEUE handler (proxy_packets.c) rewrites every segment
 * of the connection; the proxy's own stack never sees it again.
 */
#ifndef CRAFT_PROXY_H
#define CRAFT_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "heartbeat.h"
#include "http_request_head.h"
#include "l7_route.h"
#include "replication.h"
#include "log.h"
#include "splice_inject.h"
#include "splice_table.h"
#include "stats.h"
#include "tsval_cache.h"

#define PROXY_MAX_PEERS 16

/* A proxy of the cluster (this one included): who owns which connections. */
struct proxy_peer {
	uint32_t id;
	struct in_addr addr; /* real address: next hop for redirected segments */
	uint32_t port_min, port_max;
};

struct proxy_config {
	struct sockaddr_in listen; /* VIP:port */
	struct in_addr ivip;
	uint32_t id;
	uint32_t port_min, port_max; /* IVIP ports for backend connections */
	uint32_t max_clients;	     /* connections not spliced yet */
	uint64_t request_timeout_ms, connect_timeout_ms;
	uint32_t max_head;
	uint64_t max_pending_bytes; /* request bytes read before the splice */
	uint64_t client_rcvbuf;
	uint32_t tsval_slots;
	uint64_t inject_rto_ms;
	uint32_t inject_retries;
	uint32_t max_splices;
	uint64_t splice_idle_ms, splice_linger_ms;
	struct l7_router router;
	struct proxy_peer peers[PROXY_MAX_PEERS]; /* sorted by id */
	unsigned npeers;
	uint32_t redirect_mark_base;	/* mark = base + owner id */
	uint32_t peer_hb_port;		/* heartbeats between proxies; 0 = none (proxy_members) */
	struct replication_config repl; /* [replication]; no peers = single proxy */
	struct heartbeat_sender_config hb; /* [heartbeat]; no target = no beats */
};

enum client_conn_state { CC_FREE, CC_READING, CC_CONNECTING };

struct client_conn {
	struct proxy *px;
	enum client_conn_state state;
	int cfd, bfd;
	struct sockaddr_in client;
	struct l7_backend *backend;
	uint16_t ivip_port;
	uint8_t *buf;
	size_t len, cap;
	uint64_t deadline_ms;
};

/* Bytes the proxy still owes a backend for one splice. */
struct pending_inject {
	bool used;
	uint64_t splice_id;
	struct splice_inject inj;
	bool clamped_any;	 /* see clamp_injected_ack */
	uint16_t clamped_window; /* as the client reads it */
};

struct proxy_counters {
	uint64_t accepted, rejected_full, head_garbage, head_too_large, head_timeout;
	uint64_t no_route, connect_failed, connect_timeout, spliced, splice_failed;
	uint64_t client_closed_early, socket_bytes_read, injected_bytes, inject_failed;
	uint64_t inject_resent, inject_recoveries;
	uint64_t ts_cache_miss, ports_exhausted;
	uint64_t seg_c2b, seg_b2c, bytes_c2b, bytes_b2c, seg_unspliced;
	uint64_t rewrite_errors, malformed, fin, rst, redirected, acks_clamped, acks_suppressed;
	uint64_t redirected_owed; /* backend segments sent to the creator (SPLICE_ST_OWED) */
	uint64_t tuple_reused;	  /* client SYNs on a splice's tuple (proxy_splice_reused) */
	uint64_t seg_closed;	  /* segments of closed splices, handled as unspliced */
};

struct recovery;

struct proxy {
	struct proxy_config cfg;
	struct daemon *daemon;
	int listen_fd, raw_fd;
	struct client_conn *conns;
	uint8_t *port_used; /* one byte per port in [port_min, port_max] */
	uint32_t next_port;
	struct tsval_cache tsvals;
	struct splice_table *splices;
	struct replication *repl;
	uint64_t last_touch_ms;
	struct heartbeat_sender hb;
	bool hb_open;
	struct heartbeat_receiver members; /* the peers' beats (proxy_members.c) */
	bool members_open;
	struct heartbeat_cpu cpu;
	struct pending_inject *injects;
	unsigned ninjects;
	struct proxy_counters count;
	struct log_ratelimit log_rl;
	struct recovery *rec; /* NULL: no [recovery] logger configured */
};

void proxy_config_defaults(struct proxy_config *cfg);
/* Routes, pools and the cluster list agree with each other. */
int proxy_config_validate(const struct proxy_config *cfg, char *err, size_t errlen);
extern const struct config_key proxy_config_keys[];

/* client_conn.c */
/* Everything the packet handler needs; call before the queue is bound. */
int proxy_init(struct proxy *px, char *err, size_t errlen);
/* Sockets in the daemon's event loop: listener, replication. */
int proxy_open(struct proxy *px, struct daemon *d, char *err, size_t errlen);
/* Heartbeats to the load balancers (section [heartbeat]); none configured:
 * nothing to do. */
int proxy_heartbeat_open(struct proxy *px, char *err, size_t errlen);
void proxy_close(struct proxy *px);
void proxy_tick(struct proxy *px, uint64_t now_ms);
void proxy_collect_stats(const struct proxy *px, struct stats_report *r);

/* A non-blocking socket from IVIP (a port of this proxy's range)
 * connecting to `to` (also used by recovery); mss > 0 clamps the MSS
 * announced. Returns the fd and the port in *port, or -errno. */
int proxy_backend_socket(struct proxy *px, const struct sockaddr_in *to, int mss, uint16_t *port);

/* proxy_members.c: which peers are alive, from their heartbeats. open adds
 * the peers to the heartbeat targets: call it before proxy_heartbeat_open. */
int proxy_members_open(struct proxy *px, char *err, size_t errlen);
void proxy_members_close(struct proxy *px);
/* live[i] for cfg.peers[i]; this proxy is always live, and every peer is
 * while no heartbeat_port is configured. */
void proxy_members_live(const struct proxy *px, bool *live);
bool proxy_member_live(const struct proxy *px, uint32_t id);

/* proxy_packets.c */
void proxy_on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		     struct nfq_verdict *v);
void proxy_release_port(struct proxy *px, uint16_t port);

#endif
