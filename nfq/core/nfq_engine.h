/* nfq_engine - the one NFQUEUE packet loop every daemon uses.
 *
 * Design
 * - libmnl directly (not the classic libnetfilter_queue handle API): one
 *   netlink socket per bound queue, registered in the daemon's event_loop,
 *   so `--queue-balance A:B` maps to several sockets in one thread.
 * - NFQA_CFG_F_GSO is on by default: without it the kernel cuts every 64 KB
 *   super-segment into MTU-sized packets before queueing, which costs ~30x
 *   in bulk throughput. The price is that a handler sees packets larger than
 *   the MTU whose TCP checksum may be only the pseudo-header sum
 *   (NFQA_SKB_CSUMNOTREADY, set on nearly every packet from a local sender or
 *   a veth): `struct nfq_packet` says so, and a handler that returns a
 *   rewritten payload must write a complete checksum for non-GSO packets
 *   (the kernel then treats it as final).
 * - Per-packet cost is mostly kernel entries and context switches (on the
 *   paravirtualised test hosts, re-enabling interrupts around each syscall
 *   and wakeup was ~45% of the daemon's profile), so a readable event takes
 *   up to NFQ_RECV_VLEN messages per recvmmsg, decides them, and writes
 *   their verdicts with one sendmsg, in packet order, so a rewritten packet
 *   never overtakes an earlier plain accept; a vector that came back full
 *   is followed by another round (bounded per event so that timers and other
 *   fds are not starved), one that did not means the socket is empty and the
 *   loop goes back to epoll_wait - unless the queue is busy (the last idle
 *   gap was shorter than busy_poll_us): then it polls that long first, which
 *   trades some CPU for the sleep, the wakeup IPI and the context switches
 *   a packet arriving a few microseconds later would cost. Sparse traffic
 *   never polls. Plain accepts with no mark are folded
 *   into NFQNL_MSG_VERDICT_BATCH messages when `batch_max` > 1; a batch
 *   verdict covers every packet with a smaller id, so batching is suspended
 *   on a queue while the handler holds packets there.
 * - ENOBUFS (the socket buffer overflowed; the kernel already dropped or,
 *   with fail-open, accepted what did not fit) is counted and survived.
 * - Shutdown gives every packet a verdict: the handler's held packets are
 *   released through its shutdown callback, then one batch verdict with the
 *   role's shutdown verdict covers every id the kernel still queues, then
 *   the queue is unbound.
 */
#ifndef CRAFT_NFQ_ENGINE_H
#define CRAFT_NFQ_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_loop.h"

#define NFQ_ENGINE_MAX_QUEUES 16

/* A copy range that holds every IPv4 + TCP header (60 + 60 bytes with all
 * options), for roles that read headers only: the kernel copies less and
 * the netlink socket carries more packets per read. */
#define NFQ_COPY_HEADERS 128u

struct nfq_engine_config {
	uint16_t queue_num;    /* first queue */
	uint16_t queue_count;  /* queues bound: queue_num .. queue_num+count-1 */
	uint32_t copy_range;   /* bytes copied to user space per packet (max 65531) */
	bool gso;	       /* NFQA_CFG_F_GSO */
	bool fail_open;	       /* NFQA_CFG_F_FAIL_OPEN: accept when the queue is full */
	uint32_t queue_maxlen; /* kernel queue length */
	uint32_t rcvbuf;       /* netlink socket receive buffer (SO_RCVBUFFORCE) */
	uint32_t batch_max;    /* plain accepts folded into one batch verdict; 1 = none */
	bool shutdown_accept;  /* verdict for packets still queued at shutdown */
	/* A busy queue (its previous idle gap was shorter than this) is polled
	 * this long after it runs empty before the loop sleeps; 0 = never (the
	 * default: worth it only where the daemon has a CPU to itself). */
	uint32_t busy_poll_us;
};

void nfq_engine_config_defaults(struct nfq_engine_config *cfg);

/* One queued packet, valid for the duration of the handler call only (the
 * data lives in the engine's receive buffer). */
struct nfq_packet {
	uint16_t queue;
	uint32_t id;
	uint8_t hook; /* NF_INET_* */
	uint16_t hw_protocol;
	uint32_t mark;
	uint32_t indev, outdev;
	uint8_t *data;	     /* network header onward; the handler may rewrite in place */
	uint32_t len;	     /* bytes present in data */
	uint32_t orig_len;   /* length of the packet in the kernel (>= len if truncated) */
	bool csum_not_ready; /* NFQA_SKB_CSUMNOTREADY: TCP checksum holds the pseudo sum */
	bool gso;	     /* NFQA_SKB_GSO: a super-segment, larger than the MTU */
};

enum nfq_decision {
	NFQ_DECIDE_ACCEPT,
	NFQ_DECIDE_DROP,
	NFQ_DECIDE_HOLD, /* the handler keeps the id and calls nfq_engine_verdict later */
};

struct nfq_verdict {
	enum nfq_decision decision;
	bool set_mark;
	uint32_t mark;
	/* When non-NULL on accept, the packet is replaced by these bytes. */
	const uint8_t *payload;
	uint32_t payload_len;
};

struct nfq_engine_stats {
	uint64_t packets, bytes;
	uint64_t verdicts_accept, verdicts_drop, verdicts_modified, verdicts_marked;
	uint64_t batch_messages; /* NFQNL_MSG_VERDICT_BATCH sent */
	uint64_t held, held_now;
	uint64_t gso_packets, csum_not_ready, truncated;
	uint64_t enobufs, recv_errors, send_errors, netlink_errors, malformed_messages;
	uint64_t shutdown_batches;
	uint64_t recv_calls; /* recvmmsg calls that returned messages */
	uint64_t wakeups;    /* readable events handled */
	uint64_t busy_polls; /* of those, events that polled on when empty */
};

/* What /proc/net/netfilter/nfnetlink_queue says about one queue. */
struct nfq_kernel_queue_stats {
	uint32_t queue_total, copy_mode, copy_range;
	uint64_t queue_dropped, user_dropped, id_sequence;
};

struct nfq_engine;

/* Decide one packet: fill `v` (defaults to accept). */
typedef void (*nfq_packet_fn)(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
			      struct nfq_verdict *v);
/* At shutdown, release every held packet with nfq_engine_verdict. */
typedef void (*nfq_shutdown_fn)(void *ctx, struct nfq_engine *engine);

struct nfq_engine_handler {
	nfq_packet_fn on_packet;
	nfq_shutdown_fn on_shutdown; /* may be NULL when the handler never holds */
	void *ctx;
};

/* Binds the queues and registers their sockets in `loop`. On failure
 * returns -errno with a message in err. */
int nfq_engine_open(struct nfq_engine **out, const struct nfq_engine_config *cfg,
		    const struct nfq_engine_handler *handler, struct event_loop *loop, char *err,
		    size_t errlen);

/* Verdict for a packet the handler held. Flushed with the next round, or at
 * once with nfq_engine_flush. */
int nfq_engine_verdict(struct nfq_engine *engine, uint16_t queue, uint32_t id,
		       const struct nfq_verdict *v);
int nfq_engine_flush(struct nfq_engine *engine);

/* Drains what the sockets still hold (through the handler), releases held
 * packets, gives every id still queued the shutdown verdict, unbinds and
 * frees. The final counters land in final_stats when it is not NULL. Safe
 * with a NULL engine. */
void nfq_engine_close(struct nfq_engine *engine, struct nfq_engine_stats *final_stats);

void nfq_engine_get_stats(const struct nfq_engine *engine, struct nfq_engine_stats *out);
/* Reads the kernel's counters for `queue` in the caller's network namespace.
 * Returns 0, -ENOENT when the queue is not bound, or -errno. */
int nfq_kernel_queue_stats(uint16_t queue, struct nfq_kernel_queue_stats *out);

const struct nfq_engine_config *nfq_engine_get_config(const struct nfq_engine *engine);

#endif
