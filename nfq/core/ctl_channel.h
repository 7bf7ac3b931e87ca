/* ctl_channel - carries control messages (ctl_msg.h) between the logger
 * and recovery: a local socket for listeners on the same host and UDP for
 * remote ones, in the caller's event loop.
 *
 * Why two transports: recovery normally runs on the proxies (remote), but
 * operators' tools and a co-located recovery should not need keys or the
 * network. Trust follows the transport:
 *   - Local: a SOCK_SEQPACKET UNIX socket (e.g. /run/craft/logger.ctl,
 *     mode 0660: file permissions are the access control). One control
 *     message per packet, unauthenticated. The owner (the logger) listens;
 *     every connected client receives every broadcast and may send queries,
 *     whose replies go back on its connection. At most max_local clients;
 *     a client too slow to take a message loses it (counted), never stalls
 *     the daemon.
 *   - Remote: UDP. Every datagram is an auth_msg (HMAC-SHA256 over the
 *     whole message with the cluster key, per-sender anti-replay window and
 *     freshness, see auth_msg.h) whose body is exactly one control message
 *     and whose auth type is CTL_AUTH_TYPE(control type). Sending is one
 *     call (auth_msg_seal), receiving one (auth_msg_open) before the
 *     decoder sees a byte. Forged, replayed, stale, truncated or garbage
 *     datagrams are refused and counted by reason; so are authenticated
 *     ones that do not decode. A UDP socket exists when bind is set
 *     (receive + send) or peers are (send from an ephemeral port). UDP
 *     without a key is refused at open: remote messages are always
 *     authenticated.
 * UDP may lose a datagram: BACKEND_FAILED/RECOVERED carry an event id so
 * that a sender may repeat them (each repeat is a new auth sequence number,
 * not a replay) and receivers drop duplicates by (sender, event id).
 *
 * Bounds: CTL_MAX_PEERS peers, max_local clients, CTL_RX_BURST datagrams
 * per wake-up. No global state; one channel per event loop. */
#ifndef CRAFT_CTL_CHANNEL_H
#define CRAFT_CTL_CHANNEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "auth_msg.h"
#include "config.h"
#include "ctl_msg.h"

struct event_loop;
struct stats_report;

#define CTL_MAX_PEERS	 16
#define CTL_MAX_ALLOW	 16
#define CTL_MAX_LOCAL	 32
#define CTL_RX_BURST	 64
#define CTL_DATAGRAM_MAX (AUTH_MSG_OVERHEAD + CTL_MSG_MAX)
#define CTL_PATH_MAX	 sizeof(((struct sockaddr_un *)0)->sun_path)

struct ctl_channel_config {
	char socket_path[CTL_PATH_MAX]; /* local listener; "" = none */
	uint32_t max_local;		/* (8) */
	struct sockaddr_in bind;	/* UDP address; sin_family 0 = none */
	struct sockaddr_in peers[CTL_MAX_PEERS];
	unsigned npeers;
	char key_file[256];	       /* 64 hex digits (auth_msg.h) */
	uint32_t sender_id;	       /* our auth sender id */
	uint32_t allow[CTL_MAX_ALLOW]; /* accepted sender ids; none = any */
	unsigned nallow;
	uint64_t max_age_ms, max_future_ms; /* freshness (auth_msg.h) */
};

/* Section "control": socket, max_local, bind, peer (repeatable), key_file,
 * sender_id, allow_sender (repeatable), max_age, max_future. */
extern const struct config_key ctl_channel_config_keys[];
void ctl_channel_config_default(struct ctl_channel_config *cfg);

enum ctl_origin_kind { CTL_FROM_LOCAL, CTL_FROM_UDP };

struct ctl_origin {
	enum ctl_origin_kind kind;
	int local_fd;		 /* CTL_FROM_LOCAL: the client's connection */
	struct sockaddr_in addr; /* CTL_FROM_UDP: source address */
	uint32_t sender_id;	 /* CTL_FROM_UDP: authenticated sender */
};

typedef void ctl_recv_fn(void *arg, const struct ctl_msg *m, const struct ctl_origin *from);

struct ctl_counters {
	uint64_t tx_local, tx_udp, tx_errors, tx_local_dropped;
	uint64_t rx_local, rx_udp, rx_oversize, rx_type_mismatch;
	uint64_t rx_auth_rejected;	 /* sum of the auth receiver's reasons */
	uint64_t rx_malformed[CTL_NERR]; /* by ctl_err, [0] unused */
	uint64_t local_accepted, local_refused, local_closed;
};

struct ctl_channel {
	struct ctl_channel_config cfg;
	struct event_loop *loop;
	ctl_recv_fn *recv;
	void *arg;
	int listen_fd, udp_fd;
	int local[CTL_MAX_LOCAL];
	unsigned nlocal;
	bool have_key;
	struct auth_key key;
	struct auth_sender sender;
	struct auth_receiver receiver;
	bool receiver_ready;
	struct ctl_counters c;
};

/* Opens what cfg asks for and registers it with loop (recv may be NULL
 * for a send-only channel). 0, or -errno with a message in err. */
int ctl_channel_open(struct ctl_channel *ch, struct event_loop *loop,
		     const struct ctl_channel_config *cfg, ctl_recv_fn *recv, void *arg, char *err,
		     size_t errlen);
/* Closes everything, unlinks the local socket path, wipes the key. */
void ctl_channel_close(struct ctl_channel *ch);

/* To every local client and every peer. Returns the number of copies
 * handed to the kernel, or -EINVAL when m does not encode. */
int ctl_channel_broadcast(struct ctl_channel *ch, const struct ctl_msg *m);
/* To one UDP address (authenticated), or back to the origin of a received
 * message. 0 or -errno. */
int ctl_channel_send_udp(struct ctl_channel *ch, const struct ctl_msg *m,
			 const struct sockaddr_in *to);
int ctl_channel_reply(struct ctl_channel *ch, const struct ctl_msg *m, const struct ctl_origin *to);

/* The UDP socket's bound address (its port when bind said 0). */
int ctl_channel_udp_addr(const struct ctl_channel *ch, struct sockaddr_in *out);

void ctl_channel_collect_stats(const struct ctl_channel *ch, struct stats_report *r,
			       const char *prefix);

#endif
