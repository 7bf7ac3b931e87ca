/* aux_divert - see aux_divert.h. */
#include "aux_divert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"
#include "stats.h"

#define TICK_MS 100

#define T struct aux_divert_config
const struct config_key aux_divert_config_keys[] = {
    CONFIG_BOOL("aux_divert", "enabled", T, enabled),
    CONFIG_IPV4_PORT("aux_divert", "listen", T, listen),
    CONFIG_U32("aux_divert", "port", T, port, 1, 65535),
    CONFIG_IPV4_PORT("aux_divert", "bind", T, bind),
    CONFIG_STR("aux_divert", "key_file", T, key_file),
    CONFIG_U32("aux_divert", "sender_id", T, sender_id, 0, UINT32_MAX),
    CONFIG_DURATION_MS("aux_divert", "max_age", T, max_age_ms, 1, 3600000),
    CONFIG_DURATION_MS("aux_divert", "max_future", T, max_future_ms, 0, 3600000),
    CONFIG_STR("aux_divert", "recent_file", T, recent_file),
    CONFIG_U32("aux_divert", "max_jobs", T, max_jobs, 1, 65536),
    CONFIG_DURATION_MS("aux_divert", "max_ttl", T, max_ttl_ms, 100, CTL_AUX_TTL_MAX_MS),
    CONFIG_DURATION_MS("aux_divert", "end_linger", T, end_linger_ms, 0, 600000),
    CONFIG_DURATION_MS("aux_divert", "refresh", T, refresh_ms, 100, 600000),
    CONFIG_U32("aux_divert", "max_entries", T, max_entries, 1, 1u << 20),
    CONFIG_SIZE("aux_divert", "max_response", T, max_response, 1, 64u << 20),
    CONFIG_U32("aux_divert", "max_conns", T, max_conns, 1, 65536),
    CONFIG_SIZE("aux_divert", "max_request", T, max_request, 64, 1u << 20),
    CONFIG_DURATION_MS("aux_divert", "wait", T, wait_ms, 0, 60000),
    CONFIG_DURATION_MS("aux_divert", "conn_timeout", T, conn_timeout_ms, 100, 3600000),
    {0},
};
#undef T

void aux_divert_config_default(struct aux_divert_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	struct ctl_channel_config ch;
	ctl_channel_config_default(&ch);
	cfg->max_age_ms = ch.max_age_ms;
	cfg->max_future_ms = ch.max_future_ms;
	snprintf(cfg->recent_file, sizeof(cfg->recent_file), "%s", AUX_DIVERT_RECENT_DEFAULT);
	cfg->max_jobs = 256;
	cfg->max_ttl_ms = 60000;
	cfg->end_linger_ms = 3000;
	cfg->refresh_ms = 5000;
	cfg->max_entries = 4096;
	cfg->max_response = 64u << 10;
	cfg->max_conns = 64;
	cfg->max_request = 16u << 10;
	cfg->wait_ms = 2000;
	cfg->conn_timeout_ms = 30000;
}

/* ---- the kernel switch ---- */

/* "+ADDR" puts the alternate into the diverted set (and refreshes it),
 * "-ADDR" takes it out, "/" empties the set. */
static void recent_write(void *ctx, char op, uint32_t ip)
{
	struct aux_divert *d = ctx;
	if (!d->cfg->recent_file[0])
		return; /* no kernel switch (dry runs) */
	char line[32];
	struct in_addr a = {.s_addr = ip};
	int n = op == '/' ? snprintf(line, sizeof(line), "/\n")
			  : snprintf(line, sizeof(line), "%c%s\n", op, inet_ntoa(a));
	int fd = open(d->cfg->recent_file, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		d->c.switch_errors++;
		log_warn("aux_divert: %s %.*s: %s", d->cfg->recent_file, n - 1, line,
			 strerror(errno));
	} else if (op != '+' || !d->quiet_refresh) {
		log_info("aux_divert: %.*s", n - 1, line);
	}
	if (fd >= 0)
		close(fd);
}

/* ---- wiring ---- */

static void on_msg(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	struct aux_divert *d = arg;
	if (m->type != CTL_AUX_DIVERT || from->kind != CTL_FROM_UDP) {
		d->c.unexpected++;
		return;
	}
	aux_jobs_on_msg(&d->jobs, &m->u.aux, from->sender_id, monotonic_ms());
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop, (void)expirations;
	struct aux_divert *d = arg;
	d->quiet_refresh = true; /* the periodic refresh is not news */
	aux_jobs_tick(&d->jobs, monotonic_ms());
	d->quiet_refresh = false;
}

int aux_divert_init(struct aux_divert *d, const struct aux_divert_config *cfg, struct txn_log *tl)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->timer_fd = -1;
	const struct txn_log_config *lc = txn_log_config_of(tl);
	int proto = -1;
	for (unsigned i = 0; i < lc->n_services; i++)
		if (lc->services[i].port == cfg->port)
			proto = lc->services[i].proto;
	if (!cfg->port || proto < 0 || !lc->aux || cfg->listen.sin_family != AF_INET ||
	    cfg->bind.sin_family != AF_INET || !cfg->key_file[0]) {
		log_err("[aux_divert] needs port (a logged service), listen, bind, key_file and "
			"[logger] aux = yes");
		return -EINVAL;
	}
	const struct aux_store_config sc = {.port = (uint16_t)cfg->port,
					    .max_entries = cfg->max_entries,
					    .max_response = cfg->max_response};
	if (aux_jobs_init(&d->jobs, cfg->max_jobs, cfg->max_ttl_ms, cfg->end_linger_ms,
			  cfg->refresh_ms, recent_write, d) < 0 ||
	    aux_store_init(&d->store, &sc, tl) < 0) {
		log_err("aux_divert: out of memory");
		return -ENOMEM;
	}
	d->store_ready = true;
	struct txn_log_observer o = aux_store_observer(&d->store);
	if (txn_log_add_observer(tl, &o) < 0) {
		log_err("aux_divert: too many observers");
		return -ENOSPC;
	}
	return 0;
}

int aux_divert_attach(struct aux_divert *d, struct event_loop *loop)
{
	char err[256] = "";
	d->loop = loop;
	const struct txn_log_config *lc = txn_log_config_of(d->store.tl);
	struct aux_answer_config ac = {.listen = d->cfg->listen,
				       .max_conns = d->cfg->max_conns,
				       .max_request = d->cfg->max_request,
				       .wait_ms = d->cfg->wait_ms,
				       .conn_timeout_ms = d->cfg->conn_timeout_ms};
	for (unsigned i = 0; i < lc->n_services; i++)
		if (lc->services[i].port == d->cfg->port)
			ac.rule.proto = lc->services[i].proto;
	snprintf(ac.rule.header, sizeof(ac.rule.header), "%s", lc->aux_header);
	snprintf(ac.rule.prefix, sizeof(ac.rule.prefix), "%s", lc->aux_prefix);
	struct ctl_channel_config cc;
	ctl_channel_config_default(&cc);
	cc.bind = d->cfg->bind;
	snprintf(cc.key_file, sizeof(cc.key_file), "%s", d->cfg->key_file);
	cc.sender_id = d->cfg->sender_id;
	cc.max_age_ms = d->cfg->max_age_ms;
	cc.max_future_ms = d->cfg->max_future_ms;
	int rc = aux_answer_open(&d->answer, &ac, &d->store, loop, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		return rc;
	}
	d->attached = d->opened = true;
	if ((rc = ctl_channel_open(&d->ch, loop, &cc, on_msg, d, err, sizeof(err))) < 0) {
		log_err("aux_divert control: %s", err);
		ctl_channel_close(&d->ch);
		return rc;
	}
	if ((rc = d->timer_fd = event_loop_add_timer(loop, TICK_MS, on_tick, d)) < 0) {
		log_err("aux_divert timer: %s", strerror(-rc));
		return rc;
	}
	aux_jobs_clear(&d->jobs); /* nothing is diverted until a recovery says so */
	log_notice("aux_divert: answering replays of aux port %u on %s:%u, control on port %u",
		   d->cfg->port, inet_ntoa(d->cfg->listen.sin_addr), ntohs(d->cfg->listen.sin_port),
		   ntohs(d->cfg->bind.sin_port));
	return 0;
}

void aux_divert_detach(struct aux_divert *d)
{
	if (!d->attached)
		return;
	aux_jobs_clear(&d->jobs);
	if (d->timer_fd >= 0)
		event_loop_del_fd(d->loop, d->timer_fd);
	d->timer_fd = -1;
	ctl_channel_close(&d->ch);
	aux_answer_close(&d->answer);
	d->attached = false;
}

void aux_divert_free(struct aux_divert *d)
{
	if (d->store_ready)
		aux_store_free(&d->store);
	d->store_ready = false;
	aux_jobs_free(&d->jobs);
}

void aux_divert_collect_stats(const struct aux_divert *d, struct stats_report *r)
{
	const struct aux_jobs_counters *c = &d->jobs.c;
	stats_add(r, "aux_divert", "jobs", d->jobs.j ? aux_jobs_live(&d->jobs) : 0);
	stats_add(r, "aux_divert", "msgs", c->msgs);
	stats_add(r, "aux_divert", "starts", c->starts);
	stats_add(r, "aux_divert", "ends", c->ends);
	stats_add(r, "aux_divert", "ends_unknown", c->ends_unknown);
	stats_add(r, "aux_divert", "expired", c->expired);
	stats_add(r, "aux_divert", "jobs_full", c->jobs_full);
	stats_add(r, "aux_divert", "switched_on", c->switched_on);
	stats_add(r, "aux_divert", "switched_off", c->switched_off);
	stats_add(r, "aux_divert", "unexpected", d->c.unexpected);
	stats_add(r, "aux_divert", "switch_errors", d->c.switch_errors);
	if (d->opened) { /* also after detach: the final stats file */
		aux_answer_collect_stats(&d->answer, r);
		ctl_channel_collect_stats(&d->ch, r, "aux_divert_ctl");
	}
	if (d->store_ready)
		aux_store_collect_stats(&d->store, r);
}
