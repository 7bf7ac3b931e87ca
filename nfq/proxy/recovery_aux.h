/* recovery_aux - the recovery manager's word to the aux logger: "a replay
 * on this alternate begins" / "... is over" (ctl_msg.h AUX_DIVERT), so that
 * the aux requests the alternate makes while it replays are answered from
 * the aux logger's log instead of reaching the aux server a second time
 * (nfq/logger/aux_divert.h explains the other end).
 *
 * Sent on the recovery's own control channel (authenticated with the
 * cluster key, like every control datagram) to the aux logger's
 * [aux_divert] bind address. START goes out when a job starts, well
 * before the replay (the job queries the logger and the agent first), END
 * when it finishes, whatever the outcome. Each is sent twice (UDP may lose
 * one; a repeated START only refreshes the job, a repeated END is counted
 * and ignored); a lost END is covered by the ttl, which the caller sets
 * above the job's own deadline. Nothing waits for an answer: a recovery
 * never stalls on the aux logger. */
#ifndef CRAFT_RECOVERY_AUX_H
#define CRAFT_RECOVERY_AUX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_channel.h"

#define RECOVERY_AUX_COPIES 2

/* aux_logger with sin_family 0 or no alternate: nothing sent (0). Else the
 * copies handed to the kernel, or -errno of the last failure. job_id names
 * the job (the client splice's id); ttl_ms is used by START only (clamped
 * to 1..CTL_AUX_TTL_MAX_MS). alternate_ip in network order. */
int recovery_aux_notify(struct ctl_channel *ch, const struct sockaddr_in *aux_logger,
			uint32_t alternate_ip, uint64_t job_id, bool start, uint64_t ttl_ms);

#endif
