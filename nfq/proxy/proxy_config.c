/* proxy_config - the proxy's configuration keys and their defaults. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy.h"

void proxy_config_defaults(struct proxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen.sin_family = AF_INET;
	cfg->listen.sin_port = htons(80);
	inet_pton(AF_INET, "198.18.10.1", &cfg->listen.sin_addr);
	inet_pton(AF_INET, "198.18.11.1", &cfg->ivip);
	cfg->id = 1;
	cfg->port_min = 20000;
	cfg->port_max = 29999;
	cfg->max_clients = 4096;
	cfg->request_timeout_ms = 10000;
	cfg->connect_timeout_ms = 3000;
	cfg->max_head = 16384;
	cfg->max_pending_bytes = 256 * 1024;
	cfg->client_rcvbuf = 64 * 1024;
	cfg->tsval_slots = 65536;
	cfg->inject_rto_ms = 200;
	cfg->inject_retries = 8;
	cfg->max_splices = 65536;
	cfg->splice_idle_ms = 300000;
	cfg->splice_linger_ms = 10000;
	cfg->redirect_mark_base = 0x100;
	replication_config_default(&cfg->repl);
	heartbeat_sender_config_default(&cfg->hb);
}

/* proxy = ID ADDR PORTMIN-PORTMAX */
static int parse_peer(void *dst, const struct config_key *key, const char *value, char *err,
		      size_t errlen)
{
	(void)key;
	struct proxy_config *cfg = dst;
	char id[16], addr[64], ports[32];
	if (sscanf(value, "%15s %63s %31s", id, addr, ports) != 3) {
		snprintf(err, errlen, "expected 'ID ADDR PORTMIN-PORTMAX'");
		return -1;
	}
	if (cfg->npeers == PROXY_MAX_PEERS) {
		snprintf(err, errlen, "more than %d proxies", PROXY_MAX_PEERS);
		return -1;
	}
	struct proxy_peer p = {0};
	char *dash = strchr(ports, '-');
	if (!dash) {
		snprintf(err, errlen, "port range '%s' is not MIN-MAX", ports);
		return -1;
	}
	*dash = '\0';
	if (config_parse_u32(id, 1, 65535, &p.id, err, errlen) < 0 ||
	    config_parse_ipv4(addr, &p.addr, err, errlen) < 0 ||
	    config_parse_u32(ports, 1024, 65535, &p.port_min, err, errlen) < 0 ||
	    config_parse_u32(dash + 1, p.port_min, 65535, &p.port_max, err, errlen) < 0)
		return -1;
	/* Keep them sorted by id: every proxy must number the cluster alike. */
	unsigned i = cfg->npeers;
	while (i > 0 && cfg->peers[i - 1].id > p.id) {
		cfg->peers[i] = cfg->peers[i - 1];
		i--;
	}
	if (i > 0 && cfg->peers[i - 1].id == p.id) {
		snprintf(err, errlen, "proxy id %u listed twice", p.id);
		return -1;
	}
	cfg->peers[i] = p;
	cfg->npeers++;
	return 0;
}

static int parse_backend(void *dst, const struct config_key *key, const char *value, char *err,
			 size_t errlen)
{
	(void)key;
	struct proxy_config *cfg = dst;
	return l7_router_add_backend(&cfg->router, value, err, errlen) < 0 ? -1 : 0;
}

static int parse_route(void *dst, const struct config_key *key, const char *value, char *err,
		       size_t errlen)
{
	(void)key;
	struct proxy_config *cfg = dst;
	return l7_router_add_route(&cfg->router, value, err, errlen) < 0 ? -1 : 0;
}

const struct config_key proxy_config_keys[] = {
    CONFIG_IPV4_PORT("proxy", "listen", struct proxy_config, listen),
    CONFIG_IPV4("proxy", "ivip", struct proxy_config, ivip),
    CONFIG_U32("proxy", "id", struct proxy_config, id, 1, 65535),
    CONFIG_U32("proxy", "backend_port_min", struct proxy_config, port_min, 1024, 65535),
    CONFIG_U32("proxy", "backend_port_max", struct proxy_config, port_max, 1024, 65535),
    CONFIG_U32("proxy", "max_clients", struct proxy_config, max_clients, 1, 1u << 20),
    CONFIG_DURATION_MS("proxy", "request_timeout", struct proxy_config, request_timeout_ms, 10,
		       3600000),
    CONFIG_DURATION_MS("proxy", "connect_timeout", struct proxy_config, connect_timeout_ms, 10,
		       600000),
    CONFIG_U32("proxy", "max_head", struct proxy_config, max_head, 256, 1u << 20),
    CONFIG_SIZE("proxy", "max_pending_bytes", struct proxy_config, max_pending_bytes, 4096,
		64ull << 20),
    CONFIG_SIZE("proxy", "client_rcvbuf", struct proxy_config, client_rcvbuf, 4096, 64ull << 20),
    CONFIG_U32("proxy", "tsval_slots", struct proxy_config, tsval_slots, 16, 1u << 24),
    CONFIG_DURATION_MS("proxy", "inject_rto", struct proxy_config, inject_rto_ms, 10, 60000),
    CONFIG_U32("proxy", "inject_retries", struct proxy_config, inject_retries, 1, 100),
    CONFIG_U32("splice", "max", struct proxy_config, max_splices, 16, 1u << 24),
    CONFIG_DURATION_MS("splice", "idle_timeout", struct proxy_config, splice_idle_ms, 1000,
		       86400000),
    CONFIG_DURATION_MS("splice", "linger", struct proxy_config, splice_linger_ms, 0, 600000),
    CONFIG_CUSTOM("routing", "backend", parse_backend),
    CONFIG_CUSTOM("routing", "route", parse_route),
    CONFIG_STR("routing", "default_pool", struct proxy_config, router.default_pool),
    CONFIG_CUSTOM("cluster", "proxy", parse_peer),
    CONFIG_U32("cluster", "redirect_mark_base", struct proxy_config, redirect_mark_base, 1,
	       0x7fffffff),
    CONFIG_U32("cluster", "heartbeat_port", struct proxy_config, peer_hb_port, 0, 65535),
    {0},
};

int proxy_config_validate(const struct proxy_config *cfg, char *err, size_t errlen)
{
	if (l7_router_validate(&cfg->router, err, errlen) < 0)
		return -EINVAL;
	if (cfg->port_max < cfg->port_min) {
		snprintf(err, errlen, "backend_port_max below backend_port_min");
		return -EINVAL;
	}
	if (cfg->npeers == 0)
		return 0;
	for (unsigned i = 0; i < cfg->npeers; i++) {
		const struct proxy_peer *p = &cfg->peers[i];
		if (p->id == cfg->id) {
			if (p->port_min != cfg->port_min || p->port_max != cfg->port_max) {
				snprintf(err, errlen,
					 "[cluster] gives this proxy (id %u) ports %u-%u but "
					 "[proxy] says %u-%u",
					 p->id, p->port_min, p->port_max, cfg->port_min,
					 cfg->port_max);
				return -EINVAL;
			}
			continue;
		}
		for (unsigned j = 0; j < i; j++)
			if (p->port_min <= cfg->peers[j].port_max &&
			    cfg->peers[j].port_min <= p->port_max) {
				snprintf(err, errlen,
					 "[cluster] port ranges of proxies %u and %u overlap",
					 cfg->peers[j].id, p->id);
				return -EINVAL;
			}
	}
	for (unsigned i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].id == cfg->id)
			return 0;
	snprintf(err, errlen, "[cluster] does not list this proxy (id %u)", cfg->id);
	return -EINVAL;
}
