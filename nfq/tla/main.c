/* craft-tla - the transport-layer architecture of the transactional network
 * interface on the logger host (thesis §6.3.1, §6.4.1): the state machine of
 * nfq/core/tla.h on an NFQUEUE of the FORWARD path (both directions of the
 * transactional service's port, rules/tla.sh), plus the listener for the
 * servers' control connections (tx_ctl_server.h).
 *
 * It is a daemon of its own, separate from craft-logger: it holds packets
 * and rewrites them, so it is fail-CLOSED where the logger is fail-open —
 * the rule has no --queue-bypass, a full queue drops (no
 * NFQA_CFG_F_FAIL_OPEN), packets still queued at shutdown are dropped and
 * held packets are dropped too, because a held byte that leaked would be an
 * uncommitted byte reaching the peer. The peer's TCP retransmits whatever a
 * drop cost it; the server's transaction fails and restarts.
 *
 * Ordering: verdicts of released packets are flushed right after the
 * control request that released them, and the engine's pending verdicts are
 * flushed before any packet the daemon sends itself, so nothing the TLA
 * emits overtakes what it decided earlier. Unsolicited failures found on
 * the packet path are queued and sent after the packet was decided (the
 * control server may close a client, which re-enters the TLA). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "tcp_segment.h"
#include "tla.h"
#include "tx_ctl_server.h"

#define MAX_NOTES 64

struct tlad_config {
	uint32_t port, max_conns, max_clients, ctl_id, resend_rto_ms, resend_retries;
	struct in_addr server_addr;
	uint64_t max_held, max_saved, pretrans_age_ms, idle_ms, linger_ms;
	struct sockaddr_in listen;
	char key_file[256];
};

struct tlad {
	struct tlad_config cfg;
	struct daemon *d;
	struct tla *tla;
	struct tx_ctl_server *ctl;
	int rawfd;
	struct {
		uint64_t owner;
		struct tx_msg m;
	} notes[MAX_NOTES];
	unsigned nnotes;
	uint64_t raw_sent, raw_errors, notes_dropped;
	struct log_ratelimit rl;
};

static void flush_notes(struct tlad *td)
{
	for (unsigned i = 0; i < td->nnotes && td->ctl; i++)
		tx_ctl_server_notify(td->ctl, td->notes[i].owner, &td->notes[i].m);
	td->nnotes = 0;
}

static void op_verdict(void *ctx, uint16_t queue, uint32_t id, bool accept, const uint8_t *pkt,
		       size_t len)
{
	struct tlad *td = ctx;
	struct nfq_verdict v = {.decision = accept ? NFQ_DECIDE_ACCEPT : NFQ_DECIDE_DROP};
	if (accept && pkt) {
		v.payload = pkt;
		v.payload_len = (uint32_t)len;
	}
	if (td->d->engine)
		nfq_engine_verdict(td->d->engine, queue, id, &v);
}

static void op_send(void *ctx, const uint8_t *pkt, size_t len)
{
	struct tlad *td = ctx;
	if (td->d->engine)
		nfq_engine_flush(td->d->engine);
	int rc = raw_sender_send(td->rawfd, pkt, len);
	if (rc < 0) {
		td->raw_errors++;
		log_rl(&td->rl, LOG_WARNING, "raw send of %zu bytes: %s", len, strerror(-rc));
	} else {
		td->raw_sent++;
	}
}

static void op_notify(void *ctx, uint64_t owner, const struct tx_msg *m)
{
	struct tlad *td = ctx;
	if (td->nnotes == MAX_NOTES) {
		td->notes_dropped++;
		return;
	}
	td->notes[td->nnotes].owner = owner;
	td->notes[td->nnotes].m = *m;
	td->nnotes++;
}

static void on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		      struct nfq_verdict *v)
{
	(void)engine;
	struct tlad *td = ctx;
	struct tla_packet tp = {
	    .data = pkt->data,
	    .len = pkt->len,
	    .queue = pkt->queue,
	    .id = pkt->id,
	    .gso = pkt->gso,
	    .csum_not_ready = pkt->csum_not_ready,
	    .truncated = pkt->orig_len > pkt->len,
	};
	struct tla_result r;
	tla_packet(td->tla, &tp, monotonic_ms(), &r);
	switch (r.decision) {
	case TLA_ACCEPT:
		if (r.modified) {
			v->payload = pkt->data;
			v->payload_len = (uint32_t)r.len;
		}
		break;
	case TLA_DROP:
		v->decision = NFQ_DECIDE_DROP;
		break;
	case TLA_HOLD:
		v->decision = NFQ_DECIDE_HOLD;
		break;
	}
	if (td->nnotes)
		flush_notes(td);
}

static void on_shutdown(void *ctx, struct nfq_engine *engine)
{
	(void)engine;
	struct tlad *td = ctx;
	tla_drop_all_held(td->tla); /* fail closed: never leak a held byte */
}

static void on_request(void *ctx, uint64_t owner, const struct tx_msg *req, struct tx_msg *ans)
{
	struct tlad *td = ctx;
	tla_control(td->tla, owner, req, monotonic_ms(), ans);
	if (ans->op == TX_FAILURE)
		log_rl(&td->rl, LOG_INFO, "control %llu: %s on %u:%u refused: %s",
		       (unsigned long long)owner, tx_op_name(req->op), req->conn.peer_addr & 0xff,
		       req->conn.peer_port, tx_reason_name(ans->reason));
	if (td->d->engine)
		nfq_engine_flush(td->d->engine);
}

static void on_ctl_closed(void *ctx, uint64_t owner)
{
	struct tlad *td = ctx;
	tla_owner_closed(td->tla, owner, monotonic_ms());
	if (td->d->engine)
		nfq_engine_flush(td->d->engine);
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct tlad *td = arg;
	tla_tick(td->tla, monotonic_ms());
	if (td->d->engine)
		nfq_engine_flush(td->d->engine);
	if (td->nnotes)
		flush_notes(td);
}

static void collect_stats(void *ctx, struct stats_report *r)
{
	struct tlad *td = ctx;
	if (td->tla)
		tla_collect_stats(td->tla, r, NULL);
	if (td->ctl)
		tx_ctl_server_collect_stats(td->ctl, r, "ctl");
	stats_add(r, NULL, "raw_sent", td->raw_sent);
	stats_add(r, NULL, "raw_errors", td->raw_errors);
	stats_add(r, NULL, "notes_dropped", td->notes_dropped);
}

static const struct config_key tla_keys[] = {
    CONFIG_U32("tla", "port", struct tlad_config, port, 1, 65535),
    CONFIG_IPV4("tla", "server_addr", struct tlad_config, server_addr),
    CONFIG_U32("tla", "max_conns", struct tlad_config, max_conns, 1, TLA_MAX_CONNS_MAX),
    CONFIG_SIZE("tla", "max_held", struct tlad_config, max_held, 4096, 1ull << 30),
    CONFIG_SIZE("tla", "max_saved", struct tlad_config, max_saved, 1024, 1ull << 30),
    CONFIG_DURATION_MS("tla", "pretrans_age", struct tlad_config, pretrans_age_ms, 1, 3600000),
    CONFIG_DURATION_MS("tla", "idle_timeout", struct tlad_config, idle_ms, 1000, 86400000),
    CONFIG_DURATION_MS("tla", "linger", struct tlad_config, linger_ms, 0, 600000),
    CONFIG_U32("tla", "resend_rto_ms", struct tlad_config, resend_rto_ms, 10, 10000),
    CONFIG_U32("tla", "resend_retries", struct tlad_config, resend_retries, 1, 100),
    CONFIG_IPV4_PORT("control", "listen", struct tlad_config, listen),
    CONFIG_STR("control", "key_file", struct tlad_config, key_file),
    CONFIG_U32("control", "max_clients", struct tlad_config, max_clients, 1, 60000),
    CONFIG_U32("control", "id", struct tlad_config, ctl_id, 1, UINT32_MAX),
    {0},
};

static void config_defaults(struct tlad_config *c)
{
	struct tla_config t;
	tla_config_default(&t);
	memset(c, 0, sizeof(*c));
	c->max_conns = t.max_conns;
	c->max_held = t.max_held;
	c->max_saved = t.max_saved;
	c->pretrans_age_ms = t.pretrans_age_ms;
	c->idle_ms = t.idle_ms;
	c->linger_ms = t.linger_ms;
	c->resend_rto_ms = t.resend_rto_ms;
	c->resend_retries = t.resend_retries;
	c->max_clients = 1024;
	c->ctl_id = 1;
}

static int setup(struct tlad *td, struct daemon *d)
{
	char err[256];
	struct tla_config t;
	tla_config_default(&t);
	t.ports[0] = (uint16_t)td->cfg.port;
	t.nports = 1;
	t.server_addr = ntohl(td->cfg.server_addr.s_addr);
	t.max_conns = td->cfg.max_conns;
	t.max_held = td->cfg.max_held;
	t.max_saved = td->cfg.max_saved;
	t.pretrans_age_ms = td->cfg.pretrans_age_ms;
	t.idle_ms = td->cfg.idle_ms;
	t.linger_ms = td->cfg.linger_ms;
	t.resend_rto_ms = td->cfg.resend_rto_ms;
	t.resend_retries = td->cfg.resend_retries;
	struct tla_ops ops = {
	    .verdict = op_verdict, .send = op_send, .notify = op_notify, .ctx = td};
	if (tla_create(&td->tla, &t, &ops) < 0) {
		log_err("cannot create the TLA table");
		return DAEMON_EXIT_FAILURE;
	}
	td->rawfd = raw_sender_open();
	if (td->rawfd < 0) {
		log_errnum(LOG_ERR, -td->rawfd, "raw socket");
		return DAEMON_EXIT_FAILURE;
	}
	struct tx_ctl_server_config cc = {
	    .listen = td->cfg.listen,
	    .max_clients = td->cfg.max_clients,
	    .sender_id = td->cfg.ctl_id,
	};
	int rc = auth_key_load_file(td->cfg.key_file, &cc.key, err, sizeof(err));
	if (rc < 0) {
		log_err("control key %s: %s", td->cfg.key_file, err);
		return DAEMON_EXIT_USAGE;
	}
	struct tx_ctl_server_handler h = {
	    .request = on_request, .closed = on_ctl_closed, .ctx = td};
	rc = tx_ctl_server_open(&td->ctl, &cc, &h, &d->loop, err, sizeof(err));
	auth_key_wipe(&cc.key);
	if (rc < 0) {
		log_err("%s", err);
		return DAEMON_EXIT_FAILURE;
	}
	if (event_loop_add_timer(&d->loop, 10, on_tick, td) < 0)
		return DAEMON_EXIT_FAILURE;
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &td->cfg.listen.sin_addr, a, sizeof(a));
	log_notice("transactional port %u, control on %s:%u, held <= %llu bytes per connection",
		   td->cfg.port, a, ntohs(td->cfg.listen.sin_port),
		   (unsigned long long)td->cfg.max_held);
	return 0;
}

int main(int argc, char **argv)
{
	static struct tlad td;
	static struct daemon d;
	config_defaults(&td.cfg);
	td.d = &d;
	td.rawfd = -1;
	td.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	static const struct daemon_info info = {
	    .name = "craft-tla",
	    .summary = "Transactional network interface, transport layer (TLA): holds a server's "
		       "transactional bytes in the FORWARD queue until commit (fail-closed).",
	    .fail_open = false,
	    .keys = tla_keys,
	    .config = &td.cfg,
	    .collect_stats = collect_stats,
	};
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	if (!td.cfg.port || td.cfg.listen.sin_family != AF_INET || !td.cfg.key_file[0]) {
		log_err("%s: [tla] port, [control] listen and key_file are required",
			d.config_path[0] ? d.config_path : "(no config)");
		return DAEMON_EXIT_USAGE;
	}
	d.loop_capacity = td.cfg.max_clients + 32;
	const struct nfq_engine_handler handler = {
	    .on_packet = on_packet, .on_shutdown = on_shutdown, .ctx = &td};
	rc = daemon_start(&d, &handler, &td);
	if (rc == 0)
		rc = setup(&td, &d);
	if (rc == 0)
		rc = daemon_run(&d);
	tx_ctl_server_close(td.ctl);
	td.ctl = NULL;
	daemon_stop(&d);
	tla_destroy(td.tla);
	if (td.rawfd >= 0)
		close(td.rawfd);
	return rc;
}
