/* recovery_config - the [recovery] section of craft-proxy: where the logger
 * answers, which backend takes over for which, the limits of one job. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "recovery.h"
#include "recovery_plan.h"

void recovery_config_default(struct recovery_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_jobs = 64;
	cfg->max_txns = RECOVERY_MAX_REPLAY;
	cfg->max_replay_bytes = 1u << 20;
	cfg->max_resend_bytes = 4u << 20;
	cfg->max_compare_bytes = 1u << 20;
	cfg->query_timeout_ms = 200;
	cfg->query_retries = 5;
	cfg->fetch_window = 64;
	cfg->job_timeout_ms = 10000;
	cfg->tickle_interval_ms = 100;
	ctl_channel_config_default(&cfg->ctl);
}

/* alternate = FAILED_ADDR:PORT ALTERNATE_ADDR:PORT [AGENT_ADDR:PORT] */
static int parse_alternate(void *dst, const struct config_key *key, const char *value, char *err,
			   size_t errlen)
{
	(void)key;
	struct recovery_config *cfg = dst;
	char failed[64], alt[64], agent[64];
	int n = sscanf(value, "%63s %63s %63s", failed, alt, agent);
	if (n < 2) {
		snprintf(err, errlen, "expected 'FAILED_ADDR:PORT ALTERNATE_ADDR:PORT [AGENT]'");
		return -1;
	}
	if (cfg->nalt == RECOVERY_MAX_ALTERNATES) {
		snprintf(err, errlen, "more than %d alternate lines", RECOVERY_MAX_ALTERNATES);
		return -1;
	}
	struct recovery_alternate *a = &cfg->alt[cfg->nalt];
	if (config_parse_ipv4_port(failed, &a->failed, err, errlen) < 0 ||
	    config_parse_ipv4_port(alt, &a->alternate, err, errlen) < 0 ||
	    (n == 3 && config_parse_ipv4_port(agent, &a->agent, err, errlen) < 0))
		return -1;
	if (a->failed.sin_addr.s_addr == a->alternate.sin_addr.s_addr &&
	    a->failed.sin_port == a->alternate.sin_port) {
		snprintf(err, errlen, "a backend cannot be its own alternate");
		return -1;
	}
	cfg->nalt++;
	return 0;
}

static void print_addr(FILE *out, const struct sockaddr_in *a)
{
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
	fprintf(out, "%s:%u", s, ntohs(a->sin_port));
}

static void dump_alternates(FILE *out, const struct config_key *key, const void *dst)
{
	const struct recovery_config *cfg = dst;
	for (unsigned i = 0; i < cfg->nalt; i++) {
		fprintf(out, "%s = \"", key->key);
		print_addr(out, &cfg->alt[i].failed);
		fputc(' ', out);
		print_addr(out, &cfg->alt[i].alternate);
		if (cfg->alt[i].agent.sin_family) {
			fputc(' ', out);
			print_addr(out, &cfg->alt[i].agent);
		}
		fprintf(out, "\"\n");
	}
}

#define RC struct recovery_config
const struct config_key recovery_config_keys[] = {
    CONFIG_IPV4_PORT("recovery", "logger", RC, logger),
    CONFIG_IPV4_PORT("recovery", "aux_logger", RC, aux_logger),
    CONFIG_CUSTOM_DUMP("recovery", "alternate", parse_alternate, dump_alternates),
    CONFIG_STR("recovery", "db", RC, db),
    CONFIG_U32("recovery", "max_jobs", RC, max_jobs, 1, 4096),
    CONFIG_U32("recovery", "max_txns", RC, max_txns, 1, RECOVERY_MAX_REPLAY),
    CONFIG_SIZE("recovery", "max_replay_bytes", RC, max_replay_bytes, 1024, 64ull << 20),
    CONFIG_SIZE("recovery", "max_resend_bytes", RC, max_resend_bytes, 1024, 64ull << 20),
    CONFIG_SIZE("recovery", "max_compare_bytes", RC, max_compare_bytes, 0, 64ull << 20),
    CONFIG_DURATION_MS("recovery", "query_timeout", RC, query_timeout_ms, 10, 10000),
    CONFIG_U32("recovery", "query_retries", RC, query_retries, 0, 100),
    CONFIG_U32("recovery", "fetch_window", RC, fetch_window, 1, 1024),
    CONFIG_DURATION_MS("recovery", "job_timeout", RC, job_timeout_ms, 100, 600000),
    CONFIG_DURATION_MS("recovery", "tickle_interval", RC, tickle_interval_ms, 10, 10000),
    {0},
};
#undef RC
