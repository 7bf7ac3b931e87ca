/* recovery_agent - recovery's questions to the alternate backend's agent
 * (nfq/agent/README.md): QUERY gives T_S and T_A of the failed connection,
 * APPLY_UP_TO makes the alternate's application take the session state up
 * to T_R - 1 before the replay starts.
 *
 * Why its own socket: the agent speaks state_msg (auth types 0x04xx) on
 * UDP, not the logger's control messages, and answers to the sender's
 * address. One socket for every job, replies routed by query id like the
 * logger's. Sealed with the [control] key and sender id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "recovery_agent.h"

static void on_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct recovery *r = arg;
	for (int burst = 0; burst < 64; burst++) {
		ssize_t n = recv(fd, r->agent_buf, STATE_DATAGRAM_MAX, MSG_DONTWAIT);
		if (n < 0)
			return;
		struct state_msg m;
		if (state_msg_open(&r->agent_rx, &r->agent_key, r->agent_buf, (size_t)n,
				   realtime_us() / 1000, NULL, &m) < 0 ||
		    m.type != STATE_T_REPLY) {
			r->c.agent_refused++;
			continue;
		}
		uint64_t qid = m.u.reply.query_id;
		uint32_t slot = (uint32_t)(qid >> 48);
		struct recovery_job *j = slot < r->cfg.max_jobs ? &r->jobs[slot] : NULL;
		if (!j || j->state == RJ_FREE || j->epoch != (uint16_t)(qid >> 32)) {
			r->c.replies_stray++;
			continue;
		}
		rj_on_agent_reply(j, &m.u.reply, monotonic_ms());
	}
}

int recovery_agent_open(struct recovery *r, char *err, size_t errlen)
{
	bool any = false;
	for (unsigned i = 0; i < r->cfg.nalt; i++)
		any |= r->cfg.alt[i].agent.sin_family != 0;
	if (!any)
		return 0;
	if (auth_key_load_file(r->cfg.ctl.key_file, &r->agent_key, err, errlen) < 0)
		return -EINVAL;
	struct auth_receiver_config rcfg;
	auth_receiver_config_default(&rcfg);
	auth_sender_init(&r->agent_tx, r->cfg.ctl.sender_id, 0);
	r->agent_buf = malloc(STATE_DATAGRAM_MAX);
	r->agent_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!r->agent_buf || r->agent_fd < 0 || auth_receiver_init(&r->agent_rx, &rcfg) < 0) {
		snprintf(err, errlen, "agent socket: %s", strerror(errno));
		return -ENOMEM;
	}
	r->agent_open = true;
	int rc = event_loop_add_fd(&r->px->daemon->loop, r->agent_fd, EPOLLIN, on_readable, r);
	if (rc < 0)
		snprintf(err, errlen, "agent socket: %s", strerror(-rc));
	return rc;
}

void recovery_agent_close(struct recovery *r)
{
	if (r->agent_fd > 0) {
		event_loop_del_fd(&r->px->daemon->loop, r->agent_fd);
		close(r->agent_fd);
	}
	r->agent_fd = -1;
	if (r->agent_open) {
		auth_receiver_free(&r->agent_rx);
		auth_key_wipe(&r->agent_key);
	}
	r->agent_open = false;
	free(r->agent_buf);
	r->agent_buf = NULL;
}

int recovery_agent_send(struct recovery *r, const struct sockaddr_in *agent,
			const struct state_msg *m)
{
	if (!r->agent_open)
		return -ENOTCONN;
	r->c.agent_sent++;
	return state_msg_send(r->agent_fd, agent, &r->agent_tx, &r->agent_key, m);
}
