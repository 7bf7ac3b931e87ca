/* logged - see logged.h. */
#include "logged.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stats.h"

/* ---- config ------------------------------------------------------------- */

static int parse_route(void *dst, const struct config_key *key, const char *value, char *err,
		       size_t errlen)
{
	struct logged_config *cfg = dst;
	(void)key;
	if (cfg->nroutes >= LOGGED_MAX_ROUTES) {
		snprintf(err, errlen, "more than %d agent routes", LOGGED_MAX_ROUTES);
		return -1;
	}
	char backend[64], agent[64], extra[2];
	if (sscanf(value, "%63s %63s %1s", backend, agent, extra) != 2) {
		snprintf(err, errlen, "want \"BACKEND[:PORT] AGENT:PORT\", got \"%s\"", value);
		return -1;
	}
	struct logged_route *r = &cfg->routes[cfg->nroutes];
	struct sockaddr_in b;
	struct in_addr ip;
	if (strchr(backend, ':')) {
		if (config_parse_ipv4_port(backend, &b, err, errlen) < 0)
			return -1;
		r->backend_ip = ntohl(b.sin_addr.s_addr);
		r->backend_port = ntohs(b.sin_port);
	} else {
		if (config_parse_ipv4(backend, &ip, err, errlen) < 0)
			return -1;
		r->backend_ip = ntohl(ip.s_addr);
		r->backend_port = 0;
	}
	if (config_parse_ipv4_port(agent, &r->agent, err, errlen) < 0)
		return -1;
	cfg->nroutes++;
	return 0;
}

static void dump_routes(FILE *out, const struct config_key *key, const void *dst)
{
	const struct logged_config *cfg = dst;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	for (unsigned i = 0; i < cfg->nroutes; i++) {
		const struct logged_route *r = &cfg->routes[i];
		struct in_addr bi = {.s_addr = htonl(r->backend_ip)};
		inet_ntop(AF_INET, &bi, b, sizeof(b));
		inet_ntop(AF_INET, &r->agent.sin_addr, a, sizeof(a));
		if (r->backend_port)
			fprintf(out, "%s = \"%s:%u %s:%u\"\n", key->key, b, r->backend_port, a,
				ntohs(r->agent.sin_port));
		else
			fprintf(out, "%s = \"%s %s:%u\"\n", key->key, b, a,
				ntohs(r->agent.sin_port));
	}
}

const struct config_key logged_config_keys[] = {
    CONFIG_CUSTOM_DUMP("logged", "agent", parse_route, dump_routes),
    CONFIG_STR("logged", "key_file", struct logged_config, key_file),
    CONFIG_U32("logged", "sender_id", struct logged_config, sender_id, 0, UINT32_MAX),
    {0},
};

void logged_config_defaults(struct logged_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the observer -------------------------------------------------------- */

static void flush(struct logged_notifier *ln, unsigned route)
{
	struct logged_batch *b = &ln->batch[route];
	if (!b->n || ln->fd < 0)
		return;
	int rc = state_msg_send_logged(ln->fd, &ln->cfg->routes[route].agent, &ln->sender, &ln->key,
				       b->txn, b->n);
	if (rc < 0)
		ln->c.send_errors++;
	else
		ln->c.messages++;
	b->n = 0;
}

static int route_of(const struct logged_config *cfg, const struct txn_log_conn *c)
{
	for (unsigned i = 0; i < cfg->nroutes; i++) {
		const struct logged_route *r = &cfg->routes[i];
		if (r->backend_ip == c->saddr && (!r->backend_port || r->backend_port == c->sport))
			return (int)i;
	}
	return -1;
}

static void on_response_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			     uint64_t t_us)
{
	struct logged_notifier *ln = ctx;
	(void)t_us;
	if (ln->fd < 0)
		return;
	int r = route_of(ln->cfg, c);
	if (r < 0) {
		ln->c.unrouted++;
		return;
	}
	struct logged_batch *b = &ln->batch[r];
	b->txn[b->n++] = t->txn_id;
	ln->c.txns++;
	if (b->n == STATE_LOGGED_MAX)
		flush(ln, (unsigned)r);
}

static void on_batch_end(void *ctx)
{
	struct logged_notifier *ln = ctx;
	for (unsigned i = 0; i < ln->cfg->nroutes; i++)
		flush(ln, i);
}

static void on_tick(void *ctx, uint64_t now_us)
{
	(void)now_us;
	on_batch_end(ctx);
}

int logged_start(struct logged_notifier *ln, const struct logged_config *cfg, struct txn_log *tl,
		 char *err, size_t errlen)
{
	memset(ln, 0, sizeof(*ln));
	ln->cfg = cfg;
	ln->fd = -1;
	if (!cfg->nroutes)
		return 0;
	if (!cfg->key_file[0]) {
		snprintf(err, errlen, "[logged] agent routes need key_file");
		return -EINVAL;
	}
	if (auth_key_load_file(cfg->key_file, &ln->key, err, errlen) < 0)
		return -EINVAL;
	ln->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ln->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "[logged] socket: %s", strerror(e));
		auth_key_wipe(&ln->key);
		return -e;
	}
	auth_sender_init(&ln->sender, cfg->sender_id, 0);
	const struct txn_log_observer o = {
	    .txn_response_done = on_response_done,
	    .batch_end = on_batch_end,
	    .tick = on_tick,
	    .ctx = ln,
	};
	int rc = txn_log_add_observer(tl, &o);
	if (rc < 0) {
		snprintf(err, errlen, "[logged] too many pipeline observers");
		logged_stop(ln);
		return rc;
	}
	return 0;
}

void logged_stop(struct logged_notifier *ln)
{
	if (ln->fd < 0)
		return;
	on_batch_end(ln);
	close(ln->fd);
	ln->fd = -1;
	auth_key_wipe(&ln->key);
}

void logged_collect_stats(const struct logged_notifier *ln, struct stats_report *r)
{
	if (!ln->cfg || !ln->cfg->nroutes)
		return;
	stats_add(r, "logged", "txns", ln->c.txns);
	stats_add(r, "logged", "messages", ln->c.messages);
	stats_add(r, "logged", "send_errors", ln->c.send_errors);
	stats_add(r, "logged", "unrouted", ln->c.unrouted);
}
