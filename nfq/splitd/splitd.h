/* splitd - the split-splice agent on a backend host.
 *
 * The proxies send it the state of every splice to this backend
 * (replication); its NFQUEUE handler, in raw OUTPUT, rewrites the backend's
 * own response segments (backend:port -> IVIP:port) into the client
 * connection's numbering (VIP:port -> client) and lets the kernel route them
 * straight to the client, so the response bypasses the proxies. A response
 * segment of a splice the agent does not know (yet) leaves unchanged toward
 * the IVIP, where any proxy rewrites it: split splice is an optimisation
 * that can never break a connection, hence fail-open (rules/backend.sh). */
#ifndef CRAFT_SPLITD_H
#define CRAFT_SPLITD_H

#include <netinet/in.h>
#include <stdint.h>

#include "daemon.h"
#include "log.h"
#include "replication.h"
#include "splice_table.h"
#include "stats.h"

#define SPLITD_MAX_ADDRS 8

struct splitd_config {
	uint32_t id;
	uint32_t max_splices;
	uint64_t splice_idle_ms, splice_linger_ms;
	struct replication_config repl;
};

struct splitd_counters {
	uint64_t seg_rewritten, bytes_rewritten, seg_unknown, rewrite_errors, malformed;
	uint64_t owed_passed;	/* left to the proxies: the creator still owes bytes */
	uint64_t closed_passed; /* left to the proxies: the splice is closed */
};

struct splitd {
	struct splitd_config cfg;
	struct splice_table *splices;
	struct replication *repl;
	struct splitd_counters count;
	struct log_ratelimit log_rl;
};

#endif
