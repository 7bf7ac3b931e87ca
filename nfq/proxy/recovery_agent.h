/* recovery_agent - the alternate's agent as recovery sees it (see
 * recovery_agent.c). */
#ifndef CRAFT_RECOVERY_AGENT_H
#define CRAFT_RECOVERY_AGENT_H

#include "recovery_int.h"

/* Opens the socket when an alternate line names an agent. */
int recovery_agent_open(struct recovery *r, char *err, size_t errlen);
void recovery_agent_close(struct recovery *r);
int recovery_agent_send(struct recovery *r, const struct sockaddr_in *agent,
			const struct state_msg *m);

#endif
