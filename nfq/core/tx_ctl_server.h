/* tx_ctl_server - the logger's side of the transactional control
 * connections (tx_proto.h), shared by the TLA daemon and the 2CA relay.
 *
 * A TCP listener in the caller's event loop. Every accepted connection
 * gets an owner id (what the TLA records as a connection's controller), a
 * random session number sent in an authenticated HELLO, its own replay
 * window, and a bounded output buffer. Each complete frame is verified
 * before the handler sees it; a frame that fails authentication, carries
 * another session or does not decode is answered TX_FAILURE and changes
 * nothing. A header that cannot start a frame closes the connection (the
 * stream cannot be resynchronised), as does an output buffer that
 * overflows (a client that does not read its answers). When a connection
 * ends, for whatever reason, the handler's `closed` runs with its owner
 * id, so the state machine can abort what that client had open.
 *
 * Bounds: max_clients connections (more are accepted and closed at once,
 * counted), TX_FRAME_MAX per frame, TX_CTL_OUT_MAX buffered per client. */
#ifndef CRAFT_TX_CTL_SERVER_H
#define CRAFT_TX_CTL_SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_msg.h"
#include "tx_proto.h"

struct event_loop;
struct stats_report;

#define TX_CTL_OUT_MAX 16384

struct tx_ctl_server_config {
	struct sockaddr_in listen;
	unsigned max_clients;
	struct auth_key key;
	uint32_t sender_id;
};

struct tx_ctl_server_handler {
	/* An authenticated request; fill ans (its session is set afterwards). */
	void (*request)(void *ctx, uint64_t owner, const struct tx_msg *req, struct tx_msg *ans);
	/* The connection of `owner` is gone. */
	void (*closed)(void *ctx, uint64_t owner);
	void *ctx;
};

struct tx_ctl_server_stats {
	uint64_t accepted, refused, closed, garbage, overflow;
	uint64_t requests, answers_ok, answers_fail;
	uint64_t auth_fail, session_fail, malformed, notifies;
};

struct tx_ctl_server;

/* 0 or -errno with a message in err. Registers the listener in loop. */
int tx_ctl_server_open(struct tx_ctl_server **out, const struct tx_ctl_server_config *cfg,
		       const struct tx_ctl_server_handler *h, struct event_loop *loop, char *err,
		       size_t errlen);
/* Closes every connection (running `closed` for each) and the listener. */
void tx_ctl_server_close(struct tx_ctl_server *s);
/* Sends an unsolicited message to owner's connection. 0, -ENOENT, -ENOBUFS. */
int tx_ctl_server_notify(struct tx_ctl_server *s, uint64_t owner, const struct tx_msg *m);
unsigned tx_ctl_server_clients(const struct tx_ctl_server *s);
const struct tx_ctl_server_stats *tx_ctl_server_get_stats(const struct tx_ctl_server *s);
void tx_ctl_server_collect_stats(const struct tx_ctl_server *s, struct stats_report *r,
				 const char *prefix);

#endif
