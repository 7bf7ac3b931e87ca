/* control - see control.h. */
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "event_loop.h"
#include "log.h"
#include "stats.h"
#include "txn_log_query.h"

void control_config_defaults(struct control_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ctl_channel_config_default(&cfg->channel);
	cfg->repeats = 3;
	cfg->repeat_interval_ms = 50;
}

bool control_configured(const struct control_config *cfg)
{
	return cfg->channel.socket_path[0] || cfg->channel.bind.sin_family || cfg->channel.npeers;
}

static void on_msg(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	struct logger_control *ctl = arg;
	struct ctl_msg *reply = &ctl->reply; /* over 1 KiB: not on the stack */
	switch (m->type) {
	case CTL_CONN_QUERY:
		ctl->c.conn_queries++;
		reply->type = CTL_CONN_REPLY;
		txn_log_answer_conn(ctl->tl, &m->u.query, &reply->u.reply);
		ctl->c.replies_unknown += reply->u.reply.status == CTL_STATUS_UNKNOWN_CONN;
		break;
	case CTL_BYTES_QUERY:
		ctl->c.bytes_queries++;
		reply->type = CTL_BYTES_REPLY;
		txn_log_answer_bytes(ctl->tl, &m->u.bytes_query, &reply->u.bytes_reply);
		ctl->c.replies_unknown += reply->u.bytes_reply.status == CTL_STATUS_UNKNOWN_CONN;
		ctl->c.replies_not_held += reply->u.bytes_reply.status == CTL_STATUS_NOT_HELD;
		ctl->c.bytes_returned += reply->u.bytes_reply.n;
		break;
	default:
		ctl->c.unexpected++;
		return;
	}
	if (ctl_channel_reply(&ctl->ch, reply, from) < 0)
		ctl->c.reply_errors++;
}

static void on_repeat(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop, (void)expirations;
	struct logger_control *ctl = arg;
	unsigned keep = 0;
	for (unsigned i = 0; i < ctl->npending; i++) {
		struct control_pending *p = &ctl->pending[i];
		ctl_channel_broadcast(&ctl->ch, &p->msg);
		ctl->c.repeats_sent++;
		if (--p->left)
			ctl->pending[keep++] = *p;
	}
	ctl->npending = keep;
}

int control_open(struct logger_control *ctl, const struct control_config *cfg,
		 struct event_loop *loop, struct txn_log *tl, char *err, size_t errlen)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->cfg = cfg;
	ctl->tl = tl;
	ctl->loop = loop;
	ctl->timer_fd = -1;
	int rc = ctl_channel_open(&ctl->ch, loop, &cfg->channel, on_msg, ctl, err, errlen);
	if (rc < 0)
		return rc;
	ctl->open = true;
	if (cfg->repeats > 1) {
		rc = event_loop_add_timer(loop, (uint32_t)cfg->repeat_interval_ms, on_repeat, ctl);
		if (rc < 0) {
			snprintf(err, errlen, "control repeat timer: %s", strerror(-rc));
			control_close(ctl);
			return rc;
		}
		ctl->timer_fd = rc;
	}
	return 0;
}

void control_close(struct logger_control *ctl)
{
	if (!ctl->open)
		return; /* never opened: a zeroed struct, fd 0 is not ours */
	if (ctl->timer_fd >= 0)
		event_loop_del_fd(ctl->loop, ctl->timer_fd);
	ctl->timer_fd = -1;
	ctl_channel_close(&ctl->ch);
	ctl->open = false;
}

void control_announce(struct logger_control *ctl, const struct ctl_msg *m)
{
	if (!ctl->open)
		return;
	ctl->c.announced++;
	ctl_channel_broadcast(&ctl->ch, m);
	if (ctl->cfg->repeats <= 1)
		return;
	if (ctl->npending == CONTROL_MAX_PENDING) {
		ctl->c.repeats_overflow++;
		return;
	}
	ctl->pending[ctl->npending++] =
	    (struct control_pending){.msg = *m, .left = ctl->cfg->repeats - 1};
}

void control_collect_stats(const struct logger_control *ctl, struct stats_report *r)
{
	if (!ctl->open)
		return;
	ctl_channel_collect_stats(&ctl->ch, r, "ctl");
	const struct control_counters *c = &ctl->c;
	stats_add(r, "ctl", "conn_queries", c->conn_queries);
	stats_add(r, "ctl", "bytes_queries", c->bytes_queries);
	stats_add(r, "ctl", "replies_unknown", c->replies_unknown);
	stats_add(r, "ctl", "replies_not_held", c->replies_not_held);
	stats_add(r, "ctl", "bytes_returned", c->bytes_returned);
	stats_add(r, "ctl", "unexpected", c->unexpected);
	stats_add(r, "ctl", "reply_errors", c->reply_errors);
	stats_add(r, "ctl", "announced", c->announced);
	stats_add(r, "ctl", "repeats_sent", c->repeats_sent);
	stats_add(r, "ctl", "repeats_overflow", c->repeats_overflow);
}
