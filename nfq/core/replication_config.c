/* replication_config - the edges of replication.h that are not protocol:
 * the [replication] configuration keys, the peer line parser, the counter
 * report, and the default way received state lands in a splice_table. Kept
 * apart from replication.c so that file holds only the protocol; this one
 * reads the context only through the public accessors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "replication.h"
#include "stats.h"

void replication_config_default(struct replication_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen.sin_family = AF_INET;
	cfg->listen.sin_port = htons(7400);
	cfg->max_age_ms = 10000;
	cfg->max_future_ms = AUTH_DEFAULT_MAX_FUTURE_MS;
	cfg->resend_delay_ms = 30;
	cfg->resend_queue = 4096;
	cfg->max_datagram = 1400;
	cfg->sync_timeout_ms = 2000;
	cfg->sync_retries = 3;
	cfg->sync_burst = 16;
	cfg->tick_ms = 2;
	cfg->rcvbuf = 4u << 20;
	cfg->sndbuf = 1u << 20;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int replication_parse_peer(const char *value, struct replication_peer_config *out, char *err,
			   size_t errlen)
{
	char buf[256], msg[128];
	char *save = NULL, *tok[5];
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "peer line too long");
		return -EINVAL;
	}
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 4) {
			snprintf(err, errlen,
				 "peer: expected NAME ADDR:PORT [proxy|backend] [id=N]");
			return -EINVAL;
		}
		tok[n++] = t;
	}
	if (n < 2) {
		snprintf(err, errlen, "peer: expected NAME ADDR:PORT [proxy|backend] [id=N]");
		return -EINVAL;
	}
	size_t len = strlen(tok[0]);
	for (size_t i = 0; i < len; i++) {
		if (!name_char(tok[0][i])) {
			snprintf(err, errlen, "peer name '%s': letters, digits, '-', '_', '.' only",
				 tok[0]);
			return -EINVAL;
		}
	}
	if (len >= sizeof(out->name)) {
		snprintf(err, errlen, "peer name '%s' longer than %zu", tok[0],
			 sizeof(out->name) - 1);
		return -EINVAL;
	}
	memcpy(out->name, tok[0], len + 1);
	if (config_parse_ipv4_port(tok[1], &out->addr, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "peer %s: %s", out->name, msg);
		return -EINVAL;
	}
	bool kind_seen = false, id_seen = false;
	for (int i = 2; i < n; i++) {
		if (!kind_seen && strcmp(tok[i], "proxy") == 0) {
			out->kind = REPLICATION_PEER_PROXY;
			kind_seen = true;
		} else if (!kind_seen && strcmp(tok[i], "backend") == 0) {
			out->kind = REPLICATION_PEER_BACKEND;
			kind_seen = true;
		} else if (!id_seen && strncmp(tok[i], "id=", 3) == 0) {
			if (config_parse_u32(tok[i] + 3, 1, UINT32_MAX, &out->id, msg,
					     sizeof(msg)) < 0) {
				snprintf(err, errlen, "peer %s: id: %s", out->name, msg);
				return -EINVAL;
			}
			id_seen = true;
		} else {
			snprintf(err, errlen, "peer %s: unexpected '%s'", out->name, tok[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_peer_key(void *dst, const struct config_key *key, const char *value, char *err,
			  size_t errlen)
{
	struct replication_config *cfg = dst;
	struct replication_peer_config pc;

	(void)key;
	if (replication_parse_peer(value, &pc, err, errlen) < 0)
		return -1;
	if (cfg->npeers >= REPLICATION_MAX_PEERS) {
		snprintf(err, errlen, "more than %d peers", REPLICATION_MAX_PEERS);
		return -1;
	}
	for (unsigned i = 0; i < cfg->npeers; i++) {
		if (strcmp(cfg->peers[i].name, pc.name) == 0) {
			snprintf(err, errlen, "peer %s listed twice", pc.name);
			return -1;
		}
	}
	cfg->peers[cfg->npeers++] = pc;
	return 0;
}

static void dump_peers(FILE *out, const struct config_key *key, const void *dst)
{
	const struct replication_config *cfg = dst;
	char a[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < cfg->npeers; i++) {
		const struct replication_peer_config *p = &cfg->peers[i];
		inet_ntop(AF_INET, &p->addr.sin_addr, a, sizeof(a));
		fprintf(out, "%s = %s %s:%u %s", key->key, p->name, a, ntohs(p->addr.sin_port),
			p->kind == REPLICATION_PEER_BACKEND ? "backend" : "proxy");
		if (p->id)
			fprintf(out, " id=%u", p->id);
		fputc('\n', out);
	}
}

static int parse_key_value(void *dst, const struct config_key *key, const char *value, char *err,
			   size_t errlen)
{
	struct replication_config *cfg = dst;
	struct auth_key k;

	(void)key;
	if (auth_key_from_hex(&k, value, err, errlen) < 0)
		return -1;
	auth_key_wipe(&k);
	snprintf(cfg->key, sizeof(cfg->key), "%s", value);
	return 0;
}

/* The key itself never appears in --print-config output. */
static void dump_key_value(FILE *out, const struct config_key *key, const void *dst)
{
	const struct replication_config *cfg = dst;

	if (cfg->key[0])
		fprintf(out, "# %s = (set, not shown)\n", key->key);
}

const struct config_key replication_config_keys[] = {
    CONFIG_U32("replication", "id", struct replication_config, node_id, 0, UINT32_MAX),
    CONFIG_IPV4_PORT("replication", "listen", struct replication_config, listen),
    CONFIG_CUSTOM_DUMP("replication", "peer", parse_peer_key, dump_peers),
    CONFIG_STR("replication", "key_file", struct replication_config, key_file),
    CONFIG_CUSTOM_DUMP("replication", "key", parse_key_value, dump_key_value),
    CONFIG_DURATION_MS("replication", "max_age", struct replication_config, max_age_ms, 100,
		       3600000),
    CONFIG_DURATION_MS("replication", "max_future", struct replication_config, max_future_ms, 0,
		       3600000),
    CONFIG_DURATION_MS("replication", "resend_delay", struct replication_config, resend_delay_ms, 0,
		       10000),
    CONFIG_U32("replication", "resend_queue", struct replication_config, resend_queue, 16,
	       1u << 20),
    CONFIG_SIZE("replication", "max_datagram", struct replication_config, max_datagram, 256, 65000),
    CONFIG_DURATION_MS("replication", "sync_timeout", struct replication_config, sync_timeout_ms,
		       10, 600000),
    CONFIG_U32("replication", "sync_retries", struct replication_config, sync_retries, 0, 100),
    CONFIG_U32("replication", "sync_burst", struct replication_config, sync_burst, 1, 4096),
    CONFIG_DURATION_MS("replication", "tick", struct replication_config, tick_ms, 1, 1000),
    CONFIG_SIZE("replication", "rcvbuf", struct replication_config, rcvbuf, 0, 1ull << 30),
    CONFIG_SIZE("replication", "sndbuf", struct replication_config, sndbuf, 0, 1ull << 30),
    {0},
};

/* ---- defaults that apply to a splice_table ---- */

int replication_default_add(struct splice_table *t, const struct splice_record *rec)
{
	return splice_table_apply(t, rec, monotonic_ms(), NULL);
}

int replication_default_del(struct splice_table *t, const struct splice_del *d)
{
	struct splice_entry *e = splice_table_find(t, d->id);

	if (!e)
		return -ENOENT;
	if (d->reason == SPLICE_CLOSE_REUSED)
		splice_table_reused(t, e);
	else
		splice_table_close(t, e, (enum splice_close_reason)d->reason, monotonic_ms());
	return 0;
}

int replication_default_touch(struct splice_table *t, uint64_t id)
{
	struct splice_entry *e = splice_table_find(t, id);

	if (!e)
		return -ENOENT;
	splice_table_touch(t, e, monotonic_ms());
	return 0;
}

void replication_del_from_entry(struct splice_del *d, const struct splice_entry *e)
{
	d->id = e->rec.id;
	d->client_key = e->rec.client_key;
	d->backend_key = e->rec.backend_key;
	d->reason = e->rec.close_reason ? e->rec.close_reason : SPLICE_CLOSE_ADMIN;
}

/* ---- counters ---- */

static uint64_t sum(const uint64_t *a, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += a[i];
	return s;
}

void replication_collect_stats(const struct replication *r, struct stats_report *rep,
			       const char *prefix)
{
	const struct replication_stats *st = replication_stats(r);
	unsigned npeers = replication_peer_count(r);
	struct replication_peer_stats t = {0};
	char name[STATS_NAME_MAX];

	for (unsigned i = 0; i < npeers; i++) {
		const struct replication_peer_stats *s = &replication_peer_at(r, i)->st;
		t.sent += s->sent;
		t.send_errors += s->send_errors;
		t.received += s->received;
		for (int k = 1; k < AUTH_NRESULTS; k++)
			t.auth_rejected[k] += s->auth_rejected[k];
		for (int k = 1; k < SPLICE_MSG_NERRORS; k++)
			t.decode_rejected[k] += s->decode_rejected[k];
		t.applied += s->applied;
		t.duplicates += s->duplicates;
		t.stale += s->stale;
		t.refused += s->refused;
		t.del_missing += s->del_missing;
		t.wrong_source += s->wrong_source;
	}
	stats_add(rep, prefix, "sent", t.sent);
	stats_add(rep, prefix, "send_errors", t.send_errors);
	stats_add(rep, prefix, "received", t.received);
	for (int k = 1; k < AUTH_NRESULTS; k++) {
		snprintf(name, sizeof(name), "rejected_%s", auth_result_name(-k));
		stats_add(rep, prefix, name, t.auth_rejected[k] + st->unknown_source[k]);
	}
	stats_add(rep, prefix, "rejected_decode", sum(t.decode_rejected, SPLICE_MSG_NERRORS));
	stats_add(rep, prefix, "applied", t.applied);
	stats_add(rep, prefix, "duplicates", t.duplicates);
	stats_add(rep, prefix, "stale", t.stale);
	stats_add(rep, prefix, "refused", t.refused);
	stats_add(rep, prefix, "del_missing", t.del_missing);
	stats_add(rep, prefix, "wrong_source", t.wrong_source);
	stats_add(rep, prefix, "oversize", st->oversize);
	stats_add(rep, prefix, "resend_dropped", st->resend_dropped);
	stats_add(rep, prefix, "resends", st->resends);
	stats_add(rep, prefix, "dumps_served", st->dumps_served);
	stats_add(rep, prefix, "sync_state", (uint64_t)replication_sync_state(r));
	for (unsigned i = 0; i < npeers; i++) {
		const struct replication_peer *p = replication_peer_at(r, i);
		static const char *const what[] = {"sent", "received", "rejected", "applied"};
		uint64_t val[] = {p->st.sent, p->st.received,
				  sum(p->st.auth_rejected, AUTH_NRESULTS) +
				      sum(p->st.decode_rejected, SPLICE_MSG_NERRORS),
				  p->st.applied};
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "%s_%s", p->cfg.name, what[k]);
			stats_add(rep, prefix, name, val[k]);
		}
	}
}
