/* craft-agent - backend support on the alternate backend (paper §4.1 steps
 * 3 and 5, §4.3): receives the session state the primary's application
 * pushes (session_sync.h), holds it (state_store.h), hands it to the
 * application running here (session_apply.h) once the logger reports the
 * transaction's response fully logged, and answers recovery's T_S/T_A
 * question and its "apply up to T_R - 1" order.
 *
 * Why a separate process and not a thread in the application: the agent
 * must keep state for an application that restarts, and it speaks to three
 * kinds of remote peers (applications, the logger, recovery) whose keys
 * and allow-lists an operator configures in one place. All remote traffic
 * is one UDP socket of authenticated datagrams (auth_msg.h, state_msg.h,
 * the 0x04xx types); the application is reached over its local
 * SOCK_SEQPACKET socket, which the agent connects to and reconnects to
 * every `reconnect` interval while it is absent. One thread, one event
 * loop. Bounded: the store's limits, max_recoveries orders waiting for
 * their reply, a receive burst per wake-up; refusals are counted.
 *
 * Messages handled (see state_msg.h for the layouts):
 *   STATE        -> ACK (stored / duplicate / full) to the sender
 *   SAVE         -> ACK with the bytes held
 *   LOGGED       -> marks; ready records go to the application
 *   QUERY        -> REPLY at once: T_S, T_A, pending, sessions, aids
 *   APPLY_UP_TO  -> the connection's aids after up_to go to the
 *                   application, its records up to up_to are applied,
 *                   then REPLY (OK), or after recovery_timeout REPLY BUSY
 *                   (NO_APP when no application is connected). */
#ifndef CRAFT_AGENT_H
#define CRAFT_AGENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "auth_msg.h"
#include "config.h"
#include "event_loop.h"
#include "state_msg.h"
#include "state_store.h"

#define AGENT_MAX_ALLOW	     32
#define AGENT_MAX_RECOVERIES 64
#define AGENT_PATH_MAX	     sizeof(((struct sockaddr_un *)0)->sun_path)

struct agent_config {
	struct sockaddr_in bind; /* UDP address (required) */
	char key_file[256];
	uint32_t sender_id; /* ours, on ACKs and REPLYs */
	uint32_t allow[AGENT_MAX_ALLOW];
	unsigned nallow; /* none = any holder of the key */
	char app_socket[AGENT_PATH_MAX];
	uint64_t reconnect_ms;
	uint64_t recovery_timeout_ms;
	uint32_t max_recoveries;
	uint64_t max_age_ms, max_future_ms;
	uint32_t max_senders;
};

/* Section "agent": bind, key_file, sender_id, allow_sender (repeatable),
 * app_socket, reconnect, recovery_timeout, max_recoveries, max_age,
 * max_future, max_senders. */
extern const struct config_key agent_config_keys[];
void agent_config_default(struct agent_config *cfg);

struct agent_counters {
	uint64_t rx, rx_auth, rx_malformed[STATE_NERR], rx_unexpected, rx_truncated;
	uint64_t tx, tx_errors, acks, queries, replies, recoveries, recoveries_busy;
	uint64_t recoveries_refused, app_connects, app_disconnects, app_tx, app_tx_errors;
	uint64_t app_rx, app_malformed, app_unexpected, aids_sent;
};

struct agent_recovery {
	bool used;
	uint64_t query_id;
	uint32_t ip;
	uint16_t port;
	uint32_t up_to;
	uint64_t deadline_ms;
	struct sockaddr_in from;
};

struct agent {
	struct agent_config cfg;
	struct event_loop *loop;
	struct state_store store;
	int udp, app;
	bool app_registered;
	uint64_t next_connect_ms;
	struct auth_key key;
	struct auth_sender sender;
	struct auth_receiver receiver;
	struct agent_recovery *rec;
	uint8_t *rxbuf;
	struct agent_counters c;
};

/* Opens the UDP socket, loads the key, inits the store, registers with
 * loop (socket, 20 ms timer). 0 or -errno (message in err). */
int agent_open(struct agent *a, const struct agent_config *cfg,
	       const struct state_store_config *store_cfg, struct event_loop *loop, char *err,
	       size_t errlen);
/* Closes the sockets (the loop must still exist); counters and the store
 * stay readable for the final stats until agent_free. */
void agent_close(struct agent *a);
void agent_free(struct agent *a);
void agent_collect_stats(void *ctx, struct stats_report *r);

#endif
