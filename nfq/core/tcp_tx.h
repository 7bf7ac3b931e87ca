/* tcp_tx - the transactional network interface for server applications
 * (thesis §6.2): network reads and writes of one TCP connection grouped in
 * transactions that commit (the peer receives the bytes written) or abort
 * (the peer never sees them; the bytes read are read again on restart).
 * The peer is unmodified and sees one ordinary TCP connection.
 *
 *   tcp_tx_attach(&tx, fd, &cfg);        right after accept(), before any I/O
 *   do {
 *       tcp_tx_start(tx);
 *       n = tcp_tx_receive(tx, req, sizeof(req));
 *       ... tcp_tx_send(tx, resp, len) ...
 *       if (conflict) { tcp_tx_abort(tx, true); continue; }   // re-executes
 *   } while (tcp_tx_commit(tx) != 0 && tcp_tx_abort(tx, true) == 0);
 *
 * Modes, chosen at run time (struct tcp_tx_config.mode):
 * - TCP_TX_TLA: the logger on the path holds the server's bytes in its
 *   packet queue until commit and erases aborted ones (nfq/tla). The
 *   library talks to it over an authenticated control connection (one per
 *   attached socket, tx_proto.h), synchronously: no transactional byte
 *   leaves before the logger confirmed TX_START (the wait for that answer
 *   is deferred to the first send, commit or abort, so it overlaps with
 *   waiting for the request). In this mode the socket's send buffer bounds
 *   what one transaction may write (the peer acknowledges nothing while it
 *   is held): attach raises SO_SNDBUF to max_txn_bytes. It also switches
 *   the socket to a loss-based congestion control (cubic by default): a
 *   rate-based one (BBR) takes the hold time for path delay and the held
 *   bytes' late ACKs for a slow path, and then paces the next responses at
 *   a fraction of the link's rate (measured here: 89 Mbit/s on a 20 Gbit/s
 *   path), which is what the thesis warns about (§6.3.1.4, skewed RTT).
 * - TCP_TX_2CA: the same protocol with the two-connection relay
 *   (tools/relay2ca), which terminates the peer's connection.
 * - TCP_TX_SMA: no logger; the library keeps the transaction's output in
 *   memory until commit and the bytes it read since the transaction
 *   started, which it hands out again after a restart.
 * - TCP_TX_PLAIN: plain socket I/O, for comparison (abort is -ENOTSUP).
 *
 * Offsets: the library counts the bytes it read from and wrote to the
 * socket since attach; the logger works in the same (server) numbering.
 * After a restart in TLA/2CA the logger resends the peer's bytes behind
 * whatever the socket already received; the library drops the socket's
 * bytes up to the replay start the logger names, so the application reads
 * the transaction's input again in order.
 *
 * Errors are -errno: -EPROTO when the logger answered TX_FAILURE (the
 * reason from tcp_tx_last_reason()), -ENOTCONN when the control connection
 * failed (reason TX_R_CTL_LOST; the next abort reconnects and tells the
 * logger where the aborted transaction ended), -ETIMEDOUT, -ENOBUFS when a
 * bound is hit, -EALREADY/-ENOENT for start without commit / commit
 * without start, -ECONNRESET when the peer closed. No global state; one
 * struct tcp_tx per socket, used by one thread at a time. */
#ifndef CRAFT_TCP_TX_H
#define CRAFT_TCP_TX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth_msg.h"
#include "tx_proto.h"

enum tcp_tx_mode { TCP_TX_PLAIN, TCP_TX_TLA, TCP_TX_2CA, TCP_TX_SMA };

struct tcp_tx_config {
	enum tcp_tx_mode mode;
	struct sockaddr_in logger; /* TLA/2CA: the control listener */
	struct auth_key key;	   /* TLA/2CA: shared with the logger */
	uint32_t sender_id;	   /* auth sender id; 0 picks a random one */
	unsigned timeout_ms;	   /* connect / answer wait (default 3000) */
	size_t max_txn_bytes;	   /* bytes one transaction may write (4 MiB) */
	size_t max_saved;	   /* SMA: bytes read kept for replay (4 MiB) */
	char congestion[16];	   /* TLA: TCP_CONGESTION for the socket ("cubic"; "" keeps it) */
};

void tcp_tx_config_default(struct tcp_tx_config *cfg);
/* "plain", "tla", "2ca", "sma" -> 0, or -EINVAL. */
int tcp_tx_mode_parse(const char *s, enum tcp_tx_mode *mode);
const char *tcp_tx_mode_name(enum tcp_tx_mode mode);

struct tcp_tx;

/* Prepares a listening socket for connections the library will attach to
 * (TLA: the congestion control, see above). Setting it on the listener
 * rather than on each accepted socket matters: a socket that started with
 * BBR keeps the kernel's internal pacing after it switches, and paces
 * held-and-released data by an RTT the hold inflated. 0 or -errno. */
int tcp_tx_prepare_listener(int lfd, const struct tcp_tx_config *cfg);

/* Attaches to a connected socket (not closed by detach). TLA/2CA open the
 * control connection here. 0 or -errno. */
int tcp_tx_attach(struct tcp_tx **out, int fd, const struct tcp_tx_config *cfg);
void tcp_tx_detach(struct tcp_tx *tx);

int tcp_tx_start(struct tcp_tx *tx);
/* Writes all of buf (blocking); returns len or -errno. */
ssize_t tcp_tx_send(struct tcp_tx *tx, const void *buf, size_t len);
/* Like recv(2): up to len bytes, blocking for at least one; 0 at EOF. */
ssize_t tcp_tx_receive(struct tcp_tx *tx, void *buf, size_t len);
int tcp_tx_commit(struct tcp_tx *tx);
/* Aborts the open transaction; with restart the input is read again. */
int tcp_tx_abort(struct tcp_tx *tx, bool restart);
/* 0 while the open transaction may still commit, else -errno (an
 * unsolicited TX_FAILURE from the logger, a lost control connection). */
int tcp_tx_validate(struct tcp_tx *tx);

bool tcp_tx_in_txn(const struct tcp_tx *tx);
int tcp_tx_last_reason(const struct tcp_tx *tx);
enum tcp_tx_mode tcp_tx_get_mode(const struct tcp_tx *tx);
/* Bytes read from / written to the socket since attach (server numbering). */
uint64_t tcp_tx_in_offset(const struct tcp_tx *tx);
uint64_t tcp_tx_out_offset(const struct tcp_tx *tx);

/* For tests of the logger: closes the control connection now, as if it
 * had failed (TLA/2CA). */
void tcp_tx_debug_drop_ctl(struct tcp_tx *tx);
/* For tests of the logger: sends one request as-is on the control
 * connection (req_id and session filled in unless keep_ids) sealed with
 * `key` (NULL: the real key) and waits for the answer. Returns the
 * answer's reason (0 for TX_SUCCESS) or -errno. With replay, the previous
 * frame sent is sent again byte for byte instead. */
int tcp_tx_debug_request(struct tcp_tx *tx, const struct tx_msg *req, const struct auth_key *key,
			 bool keep_ids, bool replay, struct tx_msg *ans);
/* The request tcp_tx would send for op now (offsets and connection). */
void tcp_tx_debug_fill(const struct tcp_tx *tx, int op, struct tx_msg *req);

#endif
