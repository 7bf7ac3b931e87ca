/* craft-agent - see agent.h. The store decides, this file moves bytes:
 * the UDP socket in, acknowledgements and replies out, APPLY/SAVE to the
 * application and APPLIED back. A 20 ms timer reconnects to the
 * application, forces stalled records (the store's apply_timeout) and
 * answers recovery orders whose deadline passed. */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "stats.h"

#define RX_BURST   64
#define PUMP_MAX   256
#define TICK_MS	   20
#define APP_SNDBUF (1 << 20)

static int parse_allow(void *dst, const struct config_key *key, const char *value, char *err,
		       size_t errlen)
{
	(void)key;
	struct agent_config *cfg = dst;
	if (cfg->nallow >= AGENT_MAX_ALLOW) {
		snprintf(err, errlen, "more than %d allowed senders", AGENT_MAX_ALLOW);
		return -1;
	}
	return config_parse_u32(value, 1, UINT32_MAX, &cfg->allow[cfg->nallow++], err, errlen);
}

static void dump_allow(FILE *out, const struct config_key *key, const void *dst)
{
	const struct agent_config *cfg = dst;
	for (unsigned i = 0; i < cfg->nallow; i++)
		fprintf(out, "%s = %u\n", key->key, cfg->allow[i]);
}

const struct config_key agent_config_keys[] = {
    CONFIG_IPV4_PORT("agent", "bind", struct agent_config, bind),
    CONFIG_STR("agent", "key_file", struct agent_config, key_file),
    CONFIG_U32("agent", "sender_id", struct agent_config, sender_id, 1, UINT32_MAX),
    CONFIG_CUSTOM_DUMP("agent", "allow_sender", parse_allow, dump_allow),
    CONFIG_STR("agent", "app_socket", struct agent_config, app_socket),
    CONFIG_DURATION_MS("agent", "reconnect", struct agent_config, reconnect_ms, 10, 60000),
    CONFIG_DURATION_MS("agent", "recovery_timeout", struct agent_config, recovery_timeout_ms, 10,
		       600000),
    CONFIG_U32("agent", "max_recoveries", struct agent_config, max_recoveries, 1,
	       AGENT_MAX_RECOVERIES),
    CONFIG_DURATION_MS("agent", "max_age", struct agent_config, max_age_ms, 100, 3600000),
    CONFIG_DURATION_MS("agent", "max_future", struct agent_config, max_future_ms, 0, 3600000),
    CONFIG_U32("agent", "max_senders", struct agent_config, max_senders, 1, AUTH_MAX_SENDERS_LIMIT),
    {0},
};

void agent_config_default(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sender_id = 100;
	cfg->reconnect_ms = 200;
	cfg->recovery_timeout_ms = 2000;
	cfg->max_recoveries = 16;
	cfg->max_age_ms = AUTH_DEFAULT_MAX_AGE_MS;
	cfg->max_future_ms = AUTH_DEFAULT_MAX_FUTURE_MS;
	cfg->max_senders = AUTH_DEFAULT_MAX_SENDERS;
}

/* ---- remote side ---- */

static void reply_to(struct agent *a, const struct sockaddr_in *to, const struct state_msg *m)
{
	int rc = state_msg_send(a->udp, to, &a->sender, &a->key, m);
	if (rc < 0) {
		a->c.tx_errors++;
		log_debug("send %s: %s", state_type_name(m->type), strerror(-rc));
	} else {
		a->c.tx++;
	}
}

static void send_ack(struct agent *a, const struct sockaddr_in *to, uint64_t origin, uint64_t seq,
		     int status, uint32_t stored)
{
	struct state_msg m = {.type = STATE_T_ACK};
	m.u.ack = (struct state_ack){
	    .origin = origin, .seq = seq, .status = (uint8_t)status, .stored = stored};
	a->c.acks++;
	reply_to(a, to, &m);
}

/* ---- application side ---- */

static void app_disconnect(struct agent *a, const char *why)
{
	if (a->app < 0)
		return;
	if (a->app_registered)
		event_loop_del_fd(a->loop, a->app);
	close(a->app);
	a->app = -1;
	a->app_registered = false;
	a->c.app_disconnects++;
	state_store_requeue(&a->store);
	a->next_connect_ms = monotonic_ms() + a->cfg.reconnect_ms;
	log_notice("application socket %s: %s", a->cfg.app_socket, why);
}

static bool app_send(struct agent *a, const struct state_msg *m)
{
	uint8_t *buf = a->rxbuf + STATE_DATAGRAM_MAX; /* the tx half */
	int n = state_msg_encode(m, buf, STATE_MSG_MAX);
	if (n < 0 || send(a->app, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		a->c.app_tx_errors++;
		/* A full socket means the application does not keep up;
		 * start over on a fresh connection. */
		app_disconnect(a, n < 0 ? "encode failed" : strerror(errno));
		return false;
	}
	a->c.app_tx++;
	return true;
}

static void pump(struct agent *a)
{
	uint64_t now = monotonic_ms();
	for (int i = 0; i < PUMP_MAX && a->app >= 0; i++) {
		const struct ss_record *r = state_store_next(&a->store, now);
		if (!r)
			return;
		struct state_msg m = {.type = STATE_T_APPLY};
		m.u.push = (struct state_push){.origin = r->origin,
					       .seq = r->seq,
					       .txn_id = r->txn_id,
					       .flags = r->flags & STATE_F_DELETE,
					       .key_len = r->key_len,
					       .blob_len = r->blob_len,
					       .key = r->data,
					       .blob = r->data + r->key_len};
		if (r->forced)
			log_warn("txn %016llx applied without its LOGGED mark (apply_timeout)",
				 (unsigned long long)r->txn_id);
		app_send(a, &m);
	}
}

static void send_aids(struct agent *a, uint32_t ip, uint16_t port, uint32_t after)
{
	uint32_t cursor = 0;
	const struct ss_aid *aid;
	while (a->app >= 0 && (aid = state_store_conn_aid(&a->store, ip, port, after, &cursor))) {
		for (uint32_t off = 0; off < aid->total && a->app >= 0;) {
			uint32_t n = aid->total - off;
			if (n > STATE_CHUNK_MAX)
				n = STATE_CHUNK_MAX;
			struct state_msg m = {.type = STATE_T_SAVE};
			m.u.save = (struct state_save){.origin = aid->origin,
						       .seq = aid->seq,
						       .txn_id = aid->txn_id,
						       .kind = aid->kind,
						       .total = aid->total,
						       .offset = off,
						       .chunk_len = n,
						       .chunk = aid->data + off};
			if (!app_send(a, &m))
				return;
			off += n;
		}
		a->c.aids_sent++;
	}
}

static void finish_recoveries(struct agent *a, bool timer)
{
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; i < a->cfg.max_recoveries; i++) {
		struct agent_recovery *r = &a->rec[i];
		if (!r->used)
			continue;
		bool done = !state_store_conn_unapplied(&a->store, r->ip, r->port, r->up_to);
		if (!done && !(timer && now >= r->deadline_ms))
			continue;
		struct state_msg m = {.type = STATE_T_REPLY};
		state_store_query_conn(&a->store, r->ip, r->port, &m.u.reply);
		m.u.reply.query_id = r->query_id;
		if (done)
			m.u.reply.status = STATE_REPLY_OK;
		else {
			m.u.reply.status = a->app < 0 ? STATE_REPLY_NO_APP : STATE_REPLY_BUSY;
			a->c.recoveries_busy++;
		}
		a->c.replies++;
		reply_to(a, &r->from, &m);
		r->used = false;
	}
}

static void on_app(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	struct agent *a = arg;
	for (int i = 0; i < RX_BURST && a->app == fd; i++) {
		ssize_t n = recv(fd, a->rxbuf, STATE_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			app_disconnect(a, n == 0 ? "closed by the application" : strerror(errno));
			return;
		}
		a->c.app_rx++;
		struct state_msg m;
		if (n > STATE_MSG_MAX || state_msg_decode(a->rxbuf, (size_t)n, &m) < 0) {
			a->c.app_malformed++;
			continue;
		}
		if (m.type != STATE_T_APPLIED ||
		    !state_store_applied(&a->store, m.u.applied.origin, m.u.applied.seq,
					 m.u.applied.status == 0, monotonic_ms()))
			a->c.app_unexpected++;
	}
	(void)events;
	pump(a);
	finish_recoveries(a, false);
}

static void app_connect(struct agent *a)
{
	if (!a->cfg.app_socket[0] || a->app >= 0 || monotonic_ms() < a->next_connect_ms)
		return;
	a->next_connect_ms = monotonic_ms() + a->cfg.reconnect_ms;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->cfg.app_socket);
	int sndbuf = APP_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return;
	}
	if (event_loop_add_fd(a->loop, fd, EPOLLIN, on_app, a) < 0) {
		close(fd);
		return;
	}
	a->app = fd;
	a->app_registered = true;
	a->c.app_connects++;
	/* The application may have restarted empty: give it every session's
	 * last applied snapshot again before anything newer. */
	state_store_resync(&a->store);
	log_notice("connected to the application at %s", a->cfg.app_socket);
}

/* ---- remote messages ---- */

static void on_apply_up_to(struct agent *a, const struct state_apply_up_to *u,
			   const struct sockaddr_in *from)
{
	struct agent_recovery *slot = NULL;
	a->c.recoveries++;
	for (uint32_t i = 0; i < a->cfg.max_recoveries && !slot; i++)
		if (!a->rec[i].used)
			slot = &a->rec[i];
	uint64_t now = monotonic_ms();
	state_store_apply_up_to(&a->store, u->ipv4, u->port, u->up_to, u->flags, now);
	send_aids(a, u->ipv4, u->port, u->up_to);
	if (!slot) {
		struct state_msg m = {.type = STATE_T_REPLY};
		state_store_query_conn(&a->store, u->ipv4, u->port, &m.u.reply);
		m.u.reply.query_id = u->query_id;
		m.u.reply.status = STATE_REPLY_BUSY;
		a->c.recoveries_refused++;
		reply_to(a, from, &m);
		return;
	}
	*slot = (struct agent_recovery){.used = true,
					.query_id = u->query_id,
					.ip = u->ipv4,
					.port = u->port,
					.up_to = u->up_to,
					.deadline_ms = now + a->cfg.recovery_timeout_ms,
					.from = *from};
	pump(a);
	finish_recoveries(a, false);
}

static void dispatch(struct agent *a, const struct state_msg *m, const struct sockaddr_in *from)
{
	uint64_t now = monotonic_ms();
	switch (m->type) {
	case STATE_T_STATE: {
		int st = state_store_put(&a->store, &m->u.push, now);
		send_ack(a, from, m->u.push.origin, m->u.push.seq, st, 0);
		pump(a);
		break;
	}
	case STATE_T_SAVE: {
		uint32_t stored;
		int st = state_store_save(&a->store, &m->u.save, now, &stored);
		send_ack(a, from, m->u.save.origin, m->u.save.seq, st, stored);
		break;
	}
	case STATE_T_LOGGED:
		for (unsigned i = 0; i < m->u.logged.n; i++)
			state_store_logged(&a->store, m->u.logged.txn[i], now);
		pump(a);
		break;
	case STATE_T_QUERY: {
		struct state_msg r = {.type = STATE_T_REPLY};
		if (m->u.query.selector == STATE_SEL_CONN)
			state_store_query_conn(&a->store, m->u.query.ipv4, m->u.query.port,
					       &r.u.reply);
		else
			state_store_query_session(&a->store, m->u.query.key, m->u.query.key_len,
						  &r.u.reply);
		r.u.reply.query_id = m->u.query.query_id;
		a->c.queries++;
		a->c.replies++;
		reply_to(a, from, &r);
		break;
	}
	case STATE_T_APPLY_UP_TO:
		on_apply_up_to(a, &m->u.apply_up_to, from);
		break;
	default:
		a->c.rx_unexpected++;
		break;
	}
}

static void on_udp(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct agent *a = arg;
	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, a->rxbuf, STATE_DATAGRAM_MAX, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		a->c.rx++;
		if (n > STATE_DATAGRAM_MAX) {
			a->c.rx_truncated++;
			continue;
		}
		struct state_msg m;
		int rc = state_msg_open(&a->receiver, &a->key, a->rxbuf, (size_t)n,
					realtime_us() / 1000, NULL, &m);
		if (rc == STATE_E_AUTH) {
			a->c.rx_auth++;
			continue;
		}
		if (rc < 0) {
			a->c.rx_malformed[-rc < STATE_NERR ? -rc : 0]++;
			continue;
		}
		dispatch(a, &m, &from);
	}
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct agent *a = arg;
	app_connect(a);
	pump(a);
	finish_recoveries(a, true);
}

int agent_open(struct agent *a, const struct agent_config *cfg,
	       const struct state_store_config *store_cfg, struct event_loop *loop, char *err,
	       size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->udp = a->app = -1;
	a->cfg = *cfg;
	a->loop = loop;
	if (cfg->bind.sin_family != AF_INET) {
		snprintf(err, errlen, "agent.bind is required");
		return -EINVAL;
	}
	int rc = auth_key_load_file(cfg->key_file, &a->key, err, errlen);
	if (rc < 0)
		return rc;
	struct auth_receiver_config rcfg;
	auth_receiver_config_default(&rcfg);
	rcfg.max_senders = cfg->max_senders;
	rcfg.max_age_ms = cfg->max_age_ms;
	rcfg.max_future_ms = cfg->max_future_ms;
	if ((rc = auth_receiver_init(&a->receiver, &rcfg)) < 0) {
		snprintf(err, errlen, "auth receiver: %s", strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < cfg->nallow; i++)
		if ((rc = auth_receiver_allow(&a->receiver, cfg->allow[i])) < 0) {
			snprintf(err, errlen, "allow_sender: table full (max_senders)");
			return rc;
		}
	auth_sender_init(&a->sender, cfg->sender_id, 0);
	if ((rc = state_store_init(&a->store, store_cfg)) < 0) {
		snprintf(err, errlen, "store: %s", strerror(-rc));
		return rc;
	}
	a->rec = calloc(cfg->max_recoveries, sizeof(*a->rec));
	a->rxbuf = malloc(2 * STATE_DATAGRAM_MAX);
	if (!a->rec || !a->rxbuf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->udp < 0 ||
	    bind(a->udp, (const struct sockaddr *)&cfg->bind, sizeof(cfg->bind)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "udp %s:%u: %s", inet_ntoa(cfg->bind.sin_addr),
			 ntohs(cfg->bind.sin_port), strerror(errno));
		return rc;
	}
	int buf = 4 << 20;
	setsockopt(a->udp, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if ((rc = event_loop_add_fd(loop, a->udp, EPOLLIN, on_udp, a)) < 0 ||
	    (rc = event_loop_add_timer(loop, TICK_MS, on_tick, a)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return rc;
	}
	app_connect(a);
	return 0;
}

void agent_close(struct agent *a)
{
	if (a->app >= 0) {
		if (a->app_registered)
			event_loop_del_fd(a->loop, a->app);
		close(a->app);
	}
	if (a->udp >= 0) {
		event_loop_del_fd(a->loop, a->udp);
		close(a->udp);
	}
	a->udp = a->app = -1;
	a->app_registered = false;
}

void agent_free(struct agent *a)
{
	state_store_free(&a->store);
	auth_receiver_free(&a->receiver);
	auth_key_wipe(&a->key);
	free(a->rec);
	free(a->rxbuf);
	a->rec = NULL;
	a->rxbuf = NULL;
}

void agent_collect_stats(void *ctx, struct stats_report *r)
{
	struct agent *a = ctx;
	const struct agent_counters *c = &a->c;
	stats_add(r, NULL, "rx", c->rx);
	stats_add(r, NULL, "rx_auth_rejected", c->rx_auth);
	uint64_t bad = 0;
	for (int i = 1; i < STATE_NERR; i++)
		bad += c->rx_malformed[i];
	stats_add(r, NULL, "rx_malformed", bad);
	stats_add(r, NULL, "rx_truncated", c->rx_truncated);
	stats_add(r, NULL, "rx_unexpected", c->rx_unexpected);
	stats_add(r, NULL, "tx", c->tx);
	stats_add(r, NULL, "tx_errors", c->tx_errors);
	stats_add(r, NULL, "acks", c->acks);
	stats_add(r, NULL, "queries", c->queries);
	stats_add(r, NULL, "replies", c->replies);
	stats_add(r, NULL, "recoveries", c->recoveries);
	stats_add(r, NULL, "recoveries_busy", c->recoveries_busy);
	stats_add(r, NULL, "recoveries_refused", c->recoveries_refused);
	stats_add(r, NULL, "app_connected", a->app >= 0);
	stats_add(r, NULL, "app_connects", c->app_connects);
	stats_add(r, NULL, "app_disconnects", c->app_disconnects);
	stats_add(r, NULL, "app_tx", c->app_tx);
	stats_add(r, NULL, "app_tx_errors", c->app_tx_errors);
	stats_add(r, NULL, "app_rx", c->app_rx);
	stats_add(r, NULL, "app_malformed", c->app_malformed);
	stats_add(r, NULL, "app_unexpected", c->app_unexpected);
	stats_add(r, NULL, "aids_sent", c->aids_sent);
	state_store_collect_stats(&a->store, r, "store");
	auth_receiver_collect_stats(&a->receiver, r, "auth");
}
