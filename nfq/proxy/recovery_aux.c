/* recovery_aux - see recovery_aux.h. */
#include "recovery_aux.h"

#include <errno.h>

#include "ctl_msg.h"

int recovery_aux_notify(struct ctl_channel *ch, const struct sockaddr_in *aux_logger,
			uint32_t alternate_ip, uint64_t job_id, bool start, uint64_t ttl_ms)
{
	if (!aux_logger || aux_logger->sin_family != AF_INET || !alternate_ip)
		return 0; /* no aux logger, or a job without an alternate */
	if (ttl_ms < 1)
		ttl_ms = 1;
	if (ttl_ms > CTL_AUX_TTL_MAX_MS)
		ttl_ms = CTL_AUX_TTL_MAX_MS;
	struct ctl_msg m = {.type = CTL_AUX_DIVERT};
	m.u.aux = (struct ctl_aux_divert){.alternate_ip = alternate_ip,
					  .op = start ? CTL_AUX_START : CTL_AUX_END,
					  .job_id = job_id,
					  .ttl_ms = start ? (uint32_t)ttl_ms : 0};
	int sent = 0, rc = 0;
	for (int i = 0; i < RECOVERY_AUX_COPIES; i++) {
		int r = ctl_channel_send_udp(ch, &m, aux_logger);
		if (r < 0)
			rc = r;
		else
			sent++;
	}
	return sent ? sent : rc;
}
