/* recovery_plan_agent - see recovery_plan_agent.h. */
#include "recovery_plan_agent.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

static uint64_t query_id_of(const struct state_msg *m)
{
	return m->type == STATE_T_QUERY ? m->u.query.query_id : m->u.apply_up_to.query_id;
}

int recovery_agent_ask(const struct sockaddr_in *agent, const struct auth_key *key,
		       uint32_t sender_id, const struct state_msg *m, uint64_t timeout_ms,
		       struct state_reply *out, char *err, size_t errlen)
{
	struct auth_sender sender;
	struct auth_receiver rx = {0};
	struct auth_receiver_config rcfg;
	auth_receiver_config_default(&rcfg);
	auth_sender_init(&sender, sender_id, 0);
	uint8_t *buf = malloc(STATE_DATAGRAM_MAX);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -ETIMEDOUT;
	if (!buf || fd < 0 || auth_receiver_init(&rx, &rcfg) < 0 ||
	    connect(fd, (const struct sockaddr *)agent, sizeof(*agent)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto out;
	}
	rc = state_msg_send(fd, agent, &sender, key, m);
	if (rc < 0) {
		snprintf(err, errlen, "send: %s", strerror(-rc));
		goto out_rx;
	}
	rc = -ETIMEDOUT;
	snprintf(err, errlen, "no reply within %llu ms", (unsigned long long)timeout_ms);
	for (uint64_t deadline = monotonic_ms() + timeout_ms;;) {
		uint64_t now = monotonic_ms();
		if (now >= deadline)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t n = recv(fd, buf, STATE_DATAGRAM_MAX, MSG_DONTWAIT);
		struct state_msg r;
		if (n <= 0 ||
		    state_msg_open(&rx, key, buf, (size_t)n, realtime_us() / 1000, NULL, &r) < 0)
			continue;
		if (r.type != STATE_T_REPLY || r.u.reply.query_id != query_id_of(m))
			continue;
		*out = r.u.reply;
		rc = 0;
		break;
	}
out_rx:
	auth_receiver_free(&rx);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
