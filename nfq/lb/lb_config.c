/* lb_config - craft-lb's configuration keys, defaults and checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"

static const char *const no_proxy_names[] = {"drop", "accept", NULL};

void lb_config_defaults(struct lb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	inet_pton(AF_INET, "198.18.10.1", &cfg->vip);
	lb_select_config_default(&cfg->sel);
	cfg->no_proxy = LB_NO_PROXY_DROP;
	cfg->mark_base = 0x100;
	cfg->startup_beats = 3;
	heartbeat_receiver_config_default(&cfg->hb);
}

static int parse_mark(const char *s, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v == 0 || v > 0xffffffffu || s[0] == '-') {
		snprintf(err, errlen, "invalid mark '%s' (1..0xffffffff)", s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* proxy = ID ADDR [PORTMIN-PORTMAX] [mark=M] */
static int parse_proxy(void *dst, const struct config_key *key, const char *value, char *err,
		       size_t errlen)
{
	(void)key;
	struct lb_config *cfg = dst;
	char w[4][64];
	int n = sscanf(value, "%63s %63s %63s %63s", w[0], w[1], w[2], w[3]);
	if (n < 2) {
		snprintf(err, errlen, "expected 'ID ADDR [PORTMIN-PORTMAX] [mark=M]'");
		return -1;
	}
	if (cfg->nproxies == LB_MAX_MEMBERS) {
		snprintf(err, errlen, "more than %u proxies", LB_MAX_MEMBERS);
		return -1;
	}
	struct lb_proxy_def p = {0};
	if (config_parse_u32(w[0], 1, 0x7fffffff, &p.id, err, errlen) < 0 ||
	    config_parse_ipv4(w[1], &p.addr, err, errlen) < 0)
		return -1;
	for (int i = 2; i < n; i++) {
		if (strncmp(w[i], "mark=", 5) == 0) {
			if (parse_mark(w[i] + 5, &p.mark, err, errlen) < 0)
				return -1;
			continue;
		}
		char *dash = strchr(w[i], '-');
		uint32_t lo, hi;
		if (!dash) {
			snprintf(err, errlen, "'%s' is neither PORTMIN-PORTMAX nor mark=M", w[i]);
			return -1;
		}
		*dash = '\0';
		if (config_parse_u32(w[i], 1, 65535, &lo, err, errlen) < 0 ||
		    config_parse_u32(dash + 1, lo, 65535, &hi, err, errlen) < 0)
			return -1;
		p.port_min = (uint16_t)lo;
		p.port_max = (uint16_t)hi;
	}
	/* Sorted by id, as the proxies number the cluster. */
	unsigned i = cfg->nproxies;
	while (i > 0 && cfg->proxies[i - 1].id > p.id) {
		cfg->proxies[i] = cfg->proxies[i - 1];
		i--;
	}
	if (i > 0 && cfg->proxies[i - 1].id == p.id) {
		snprintf(err, errlen, "proxy id %u listed twice", p.id);
		return -1;
	}
	cfg->proxies[i] = p;
	cfg->nproxies++;
	return 0;
}

static void dump_proxies(FILE *out, const struct config_key *key, const void *dst)
{
	const struct lb_config *cfg = dst;
	for (unsigned i = 0; i < cfg->nproxies; i++) {
		const struct lb_proxy_def *p = &cfg->proxies[i];
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->addr, a, sizeof(a));
		fprintf(out, "%s = %u %s", key->key, p->id, a);
		if (p->port_max)
			fprintf(out, " %u-%u", p->port_min, p->port_max);
		if (p->mark)
			fprintf(out, " mark=0x%x", p->mark);
		fputc('\n', out);
	}
}

const struct config_key lb_config_keys[] = {
    CONFIG_IPV4("lb", "vip", struct lb_config, vip),
    CONFIG_ENUM("lb", "mode", struct lb_config, sel.mode, lb_mode_names),
    CONFIG_ENUM("lb", "owner", struct lb_config, sel.owner, lb_owner_names),
    CONFIG_U32("lb", "burst", struct lb_config, sel.burst, 1, LB_BURST_MAX),
    CONFIG_U32("lb", "table_size", struct lb_config, sel.table_size, LB_TABLE_SIZE_MIN,
	       LB_TABLE_SIZE_MAX),
    CONFIG_U32("lb", "hash_seed", struct lb_config, hash_seed, 0, UINT32_MAX),
    CONFIG_U32("lb", "rng_seed", struct lb_config, rng_seed, 0, UINT32_MAX),
    CONFIG_ENUM("lb", "no_proxy", struct lb_config, no_proxy, no_proxy_names),
    CONFIG_U32("lb", "startup_beats", struct lb_config, startup_beats, 0, 100),
    CONFIG_CUSTOM_DUMP("cluster", "proxy", parse_proxy, dump_proxies),
    CONFIG_U32("cluster", "mark_base", struct lb_config, mark_base, 1, 0x7fffffff),
    HEARTBEAT_RECEIVER_KEYS(struct lb_config, hb),
    {0},
};

int lb_config_validate(struct lb_config *cfg, char *err, size_t errlen)
{
	if (cfg->nproxies == 0) {
		snprintf(err, errlen, "[cluster] lists no proxy");
		return -EINVAL;
	}
	if (!lb_is_prime(cfg->sel.table_size)) {
		snprintf(err, errlen, "[lb] table_size %u is not a prime (try 65537 or 251)",
			 cfg->sel.table_size);
		return -EINVAL;
	}
	if (cfg->sel.owner != LB_OWNER_NONE && cfg->sel.mode != LB_MODE_FLOW_HASH) {
		snprintf(err, errlen, "[lb] owner needs mode = flow-hash");
		return -EINVAL;
	}
	if (!cfg->hb.key_file[0]) {
		snprintf(err, errlen, "[heartbeat] key_file is required");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nproxies; i++) {
		struct lb_proxy_def *p = &cfg->proxies[i];
		if (cfg->sel.owner == LB_OWNER_IVIP_PORT && p->port_max == 0) {
			snprintf(err, errlen, "owner = ivip-port: proxy %u has no port range",
				 p->id);
			return -EINVAL;
		}
		uint64_t mark = p->mark ? p->mark : (uint64_t)cfg->mark_base + p->id;
		if (mark > UINT32_MAX) {
			snprintf(err, errlen, "mark of proxy %u overflows", p->id);
			return -EINVAL;
		}
		p->mark = (uint32_t)mark;
		for (unsigned j = 0; j < i; j++) {
			if (cfg->proxies[j].mark == p->mark) {
				snprintf(err, errlen, "proxies %u and %u share mark 0x%x",
					 cfg->proxies[j].id, p->id, p->mark);
				return -EINVAL;
			}
			if (p->port_max && cfg->proxies[j].port_max &&
			    p->port_min <= cfg->proxies[j].port_max &&
			    cfg->proxies[j].port_min <= p->port_max) {
				snprintf(err, errlen, "port ranges of proxies %u and %u overlap",
					 cfg->proxies[j].id, p->id);
				return -EINVAL;
			}
		}
	}
	cfg->sel.hash_seed = cfg->hash_seed;
	cfg->sel.rng_seed = cfg->rng_seed;
	return 0;
}
