/* recovery_plan_agent - one blocking question to an alternate backend's
 * craft-agent (QUERY by connection: T_S, T_A), for tools that plan a
 * recovery by hand. The proxy's recovery asks the same question from its
 * event loop (nfq/proxy/recovery_agent.c); a tool has no loop and waits.
 *
 * Why here and not in the tool: craft-agent's own --query and craft-recover
 * ask exactly this; one copy of the socket, sealing, deadline and reply
 * matching. */
#ifndef CRAFT_RECOVERY_PLAN_AGENT_H
#define CRAFT_RECOVERY_PLAN_AGENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_msg.h"
#include "state_msg.h"

/* Sends m (a QUERY or APPLY_UP_TO; its query_id is matched) sealed with key
 * as sender_id, waits up to timeout_ms for the REPLY. 0 with *out filled,
 * -ETIMEDOUT, or -errno with a message in err. */
int recovery_agent_ask(const struct sockaddr_in *agent, const struct auth_key *key,
		       uint32_t sender_id, const struct state_msg *m, uint64_t timeout_ms,
		       struct state_reply *out, char *err, size_t errlen);

#endif
