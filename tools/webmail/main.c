/* craft-webmail - the demo application (webmail.h): configuration, the
 * service frame (service.h), the backend-support wiring (session_sync to
 * the alternate's agent, session_apply for the local agent), the timer.
 *
 *   craft-webmail -c webmail.conf [--stats-file PATH]
 *   craft-webmail -o webmail.listen=198.18.2.11:80 -o webmail.static_dir=DIR ...
 *
 * Sections: [webmail] (below), [sync] (session_sync.h; enabled when
 * sync.agent is set), [daemon] (service.h). Exit codes as service.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "service.h"
#include "stats.h"
#include "webmail.h"

#define TICK_MS	 20
#define SWEEP_MS 1000

const struct config_key webmail_config_keys[] = {
    CONFIG_IPV4_PORT("webmail", "listen", struct webmail_config, listen),
    CONFIG_STR("webmail", "static_dir", struct webmail_config, static_dir),
    CONFIG_IPV4_PORT("webmail", "aux", struct webmail_config, aux),
    CONFIG_DURATION_MS("webmail", "aux_timeout", struct webmail_config, aux_timeout_ms, 1, 60000),
    CONFIG_STR("webmail", "apply_socket", struct webmail_config, apply_socket),
    CONFIG_STR("webmail", "secret", struct webmail_config, secret),
    CONFIG_U32("webmail", "max_conns", struct webmail_config, max_conns, 1, 65536),
    CONFIG_U32("webmail", "max_sessions", struct webmail_config, max_sessions, 1, 1u << 20),
    CONFIG_U32("webmail", "max_messages", struct webmail_config, max_messages, 2, WM_MESSAGES_MAX),
    CONFIG_U32("webmail", "max_aids", struct webmail_config, max_aids, 1, 4096),
    CONFIG_SIZE("webmail", "max_body", struct webmail_config, max_body, 1024, 1u << 20),
    CONFIG_SIZE("webmail", "max_static", struct webmail_config, max_static, 1024, 1ull << 30),
    CONFIG_DURATION_MS("webmail", "idle_timeout", struct webmail_config, idle_timeout_ms, 100,
		       3600000),
    CONFIG_BOOL("webmail", "trust_txn_header", struct webmail_config, trust_txn_header),
    CONFIG_STR("webmail", "txn_key_file", struct webmail_config, txn_key_file),
    CONFIG_BOOL("webmail", "sync_fail_refuse", struct webmail_config, sync_fail_refuse),
    {0},
};

void webmail_config_default(struct webmail_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->aux_timeout_ms = 2000;
	snprintf(cfg->secret, sizeof(cfg->secret), "craft-webmail-demo-secret");
	cfg->max_conns = 256;
	cfg->max_sessions = 1024;
	cfg->max_messages = 16;
	cfg->max_aids = 64;
	cfg->max_body = 16384;
	cfg->max_static = 8u << 20;
	cfg->idle_timeout_ms = 120000;
	cfg->trust_txn_header = true;
}

struct main_ctx {
	struct webmail w;
	struct session_sync_config sync_cfg;
	uint64_t sweep_due;
};

static void collect(void *arg, struct stats_report *r)
{
	struct main_ctx *m = arg;
	const struct wm_counters *c = &m->w.c;
	uint32_t open = 0;
	for (uint32_t i = 0; m->w.conns && i < m->w.cfg.max_conns; i++)
		open += m->w.conns[i].fd >= 0;
	stats_add(r, NULL, "conns_open", open);
	stats_add(r, NULL, "conns", c->conns);
	stats_add(r, NULL, "conns_refused", c->conns_refused);
	stats_add(r, NULL, "conns_idle", c->conns_idle);
	stats_add(r, NULL, "requests", c->requests);
	stats_add(r, NULL, "bad_requests", c->bad_requests);
	stats_add(r, NULL, "status_2xx", c->status_2xx);
	stats_add(r, NULL, "status_3xx", c->status_3xx);
	stats_add(r, NULL, "status_4xx", c->status_4xx);
	stats_add(r, NULL, "status_5xx", c->status_5xx);
	stats_add(r, NULL, "sessions", m->w.sessions ? wm_session_count(&m->w) : 0);
	stats_add(r, NULL, "sessions_full", c->sessions_full);
	stats_add(r, NULL, "logins", c->logins);
	stats_add(r, NULL, "inbox", c->inbox);
	stats_add(r, NULL, "composes", c->composes);
	stats_add(r, NULL, "sends", c->sends);
	stats_add(r, NULL, "logouts", c->logouts);
	stats_add(r, NULL, "randoms", c->randoms);
	stats_add(r, NULL, "dice", c->dice);
	stats_add(r, NULL, "clocks", c->clocks);
	stats_add(r, NULL, "statics", c->statics);
	stats_add(r, NULL, "aux_ok", c->aux_ok);
	stats_add(r, NULL, "aux_failed", c->aux_failed);
	stats_add(r, NULL, "pushes_failed", c->pushes_failed);
	stats_add(r, NULL, "nondet_saved", c->nondet_saved);
	stats_add(r, NULL, "nondet_save_failed", c->nondet_save_failed);
	stats_add(r, NULL, "txn_header", c->txn_header);
	stats_add(r, NULL, "txn_header_refused", c->txn_header_refused);
	stats_add(r, NULL, "replayed_responses", c->replayed_responses);
	stats_add(r, NULL, "regen_used", c->regen_used);
	stats_add(r, NULL, "applied", c->applied);
	stats_add(r, NULL, "apply_refused", c->apply_refused);
	stats_add(r, NULL, "apply_deleted", c->apply_deleted);
	stats_add(r, NULL, "aids_received", c->aids_received);
	stats_add(r, NULL, "aids_evicted", c->aids_evicted);
	if (m->w.sync)
		session_sync_collect_stats(m->w.sync, r, "sync");
	if (m->w.apply)
		session_apply_collect_stats(m->w.apply, r, "apply");
}

static void on_sync(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	session_sync_on_readable(arg);
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct main_ctx *m = arg;
	if (m->w.sync)
		session_sync_tick(m->w.sync);
	if (++m->sweep_due >= SWEEP_MS / TICK_MS) {
		m->sweep_due = 0;
		webmail_sweep_idle(&m->w);
	}
}

static int setup(struct main_ctx *m, struct service *svc)
{
	struct webmail *w = &m->w;
	char err[256] = "";
	w->loop = &svc->loop;
	w->lfd = -1;
	if (w->cfg.listen.sin_family != AF_INET) {
		log_err("webmail.listen is required");
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		log_err("libsodium init failed");
		return -EIO;
	}
	crypto_generichash(w->hmac_key, sizeof(w->hmac_key), (const uint8_t *)w->cfg.secret,
			   strlen(w->cfg.secret), NULL, 0);
	if (w->cfg.txn_key_file[0]) {
		int krc = auth_key_load_file(w->cfg.txn_key_file, &w->txn_key, err, sizeof(err));
		if (krc < 0) {
			log_err("webmail.txn_key_file: %s", err);
			return krc;
		}
		w->have_txn_key = true;
	} else if (w->cfg.trust_txn_header) {
		log_warn("X-Craft-Txn is believed without authentication: any client can pick "
			 "a transaction ID (set webmail.txn_key_file)");
	}
	w->conns = calloc(w->cfg.max_conns, sizeof(*w->conns));
	w->sessions = calloc(w->cfg.max_sessions, sizeof(*w->sessions));
	w->aids = calloc(w->cfg.max_aids, sizeof(*w->aids));
	w->blob = malloc(STATE_BLOB_MAX);
	if (!w->conns || !w->sessions || !w->aids || !w->blob)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->cfg.max_conns; i++)
		w->conns[i].fd = -1;
	int rc;
	if (m->sync_cfg.agent.sin_family == AF_INET) {
		if ((rc = session_sync_open(&w->sync, &m->sync_cfg, err, sizeof(err))) < 0 ||
		    (rc = event_loop_add_fd(w->loop, session_sync_fd(w->sync), EPOLLIN, on_sync,
					    w->sync)) < 0) {
			log_err("sync: %s", err[0] ? err : strerror(-rc));
			return rc;
		}
	}
	if (w->cfg.apply_socket[0] &&
	    (rc = session_apply_open(&w->apply, w->cfg.apply_socket, 4, STATE_AID_MAX,
				     &webmail_apply_ops, w, w->loop, err, sizeof(err))) < 0) {
		log_err("%s", err);
		return rc;
	}
	if ((rc = event_loop_add_timer(w->loop, TICK_MS, on_tick, m)) < 0)
		return rc;
	if ((rc = webmail_listen(w, err, sizeof(err))) < 0) {
		log_err("%s", err);
		return rc;
	}
	log_notice("listening on %s:%u; alternate agent %s; apply socket %s",
		   inet_ntoa(w->cfg.listen.sin_addr), ntohs(w->cfg.listen.sin_port),
		   w->sync ? "configured" : "none",
		   w->cfg.apply_socket[0] ? w->cfg.apply_socket : "none");
	return 0;
}

static void teardown(struct main_ctx *m)
{
	struct webmail *w = &m->w;
	webmail_close_all(w);
	if (w->sync) {
		event_loop_del_fd(w->loop, session_sync_fd(w->sync));
		session_sync_close(w->sync);
		w->sync = NULL;
	}
	session_apply_close(w->apply);
	w->apply = NULL;
	auth_key_wipe(&w->txn_key);
}

static void free_all(struct main_ctx *m)
{
	struct webmail *w = &m->w;
	for (uint32_t i = 0; w->sessions && i < w->cfg.max_sessions; i++)
		free(w->sessions[i]);
	for (uint32_t i = 0; w->aids && i < w->cfg.max_aids; i++)
		free(w->aids[i].data);
	free(w->sessions);
	free(w->aids);
	free(w->conns);
	free(w->blob);
	w->conns = NULL;
	w->sessions = NULL;
}

int main(int argc, char **argv)
{
	static struct main_ctx m;
	webmail_config_default(&m.w.cfg);
	session_sync_config_default(&m.sync_cfg);
	const struct config_table tables[] = {
	    {webmail_config_keys, &m.w.cfg},
	    {session_sync_config_keys, &m.sync_cfg},
	};
	const struct service_info info = {
	    .name = "craft-webmail",
	    .summary = "Demo webmail application (paper §6) using CRAFT backend support.",
	    .tables = tables,
	    .ntables = 2,
	    .collect_stats = collect,
	};
	struct service svc;
	int rc = service_parse_args(&svc, &info, &m, argc, argv);
	if (rc)
		return rc > 0 ? SERVICE_EXIT_OK : SERVICE_EXIT_USAGE;
	svc.loop_capacity = m.w.cfg.max_conns + 32;
	if ((rc = service_start(&svc)) == 0) {
		if (setup(&m, &svc) < 0)
			rc = SERVICE_EXIT_FAILURE;
		else
			rc = service_run(&svc);
		teardown(&m);
	}
	service_stop(&svc);
	free_all(&m);
	return rc;
}
