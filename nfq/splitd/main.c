/* craft-splitd - the split-splice agent on a backend host (see splitd.h).
 * Fail-open: rules/backend.sh queues with --queue-bypass, and a segment the
 * agent cannot rewrite leaves unchanged toward the proxies. */
#include <arpa/inet.h>
#include <string.h>

#include "clock.h"
#include "splitd.h"

static void on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		      struct nfq_verdict *v)
{
	(void)engine;
	struct splitd *sd = ctx;
	struct tcp4_packet p;
	if (tcp4_parse(pkt->data, pkt->len, &p) < 0) {
		sd->count.malformed++;
		return;
	}
	enum splice_way way;
	struct splice_entry *e = splice_table_lookup(sd->splices, tcp4_saddr(&p), tcp4_sport(&p),
						     tcp4_daddr(&p), tcp4_dport(&p), &way);
	if (!e || way != SPLICE_B2C) {
		sd->count.seg_unknown++;
		return;
	}
	if (e->rec.state & SPLICE_ST_CLOSED) {
		/* A closed splice carries nothing more; its IVIP port may already
		 * serve a new backend connection of a proxy (proxy_packets.c does
		 * the same for the client side). */
		sd->count.closed_passed++;
		return;
	}
	splice_table_note(sd->splices, e, way, tcp4_flags(&p), tcp4_seq(&p), tcp4_ack(&p),
			  (uint32_t)p.payload_len, monotonic_ms());
	if (e->rec.state & SPLICE_ST_OWED) {
		/* The creating proxy still delivers the request bytes it drained
		 * and must see this backend's acknowledgements of them: leave the
		 * segment addressed to the IVIP, the proxies forward it. */
		sd->count.owed_passed++;
		return;
	}
	struct splice_csum_state cs = {.gso = pkt->gso, .csum_not_ready = pkt->csum_not_ready};
	if (pkt->orig_len > pkt->len ||
	    splice_rewrite(&e->rec.dir[SPLICE_B2C], &p, cs) != SPLICE_REWRITE_OK) {
		/* Unchanged, it still reaches the client through a proxy. */
		sd->count.rewrite_errors++;
		return;
	}
	sd->count.seg_rewritten++;
	sd->count.bytes_rewritten += p.payload_len;
	v->payload = pkt->data;
	v->payload_len = (uint32_t)p.len;
}

static void collect_stats(void *ctx, struct stats_report *r)
{
	struct splitd *sd = ctx;
	stats_add(r, NULL, "seg_rewritten", sd->count.seg_rewritten);
	stats_add(r, NULL, "bytes_rewritten", sd->count.bytes_rewritten);
	stats_add(r, NULL, "seg_unknown", sd->count.seg_unknown);
	stats_add(r, NULL, "owed_passed", sd->count.owed_passed);
	stats_add(r, NULL, "closed_passed", sd->count.closed_passed);
	stats_add(r, NULL, "rewrite_errors", sd->count.rewrite_errors);
	stats_add(r, NULL, "malformed", sd->count.malformed);
	if (sd->splices)
		splice_table_collect_stats(sd->splices, r, "splice");
	if (sd->repl)
		replication_collect_stats(sd->repl, r, "repl");
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct splitd *sd = arg;
	splice_table_expire(sd->splices, monotonic_ms());
}

static const struct config_key splitd_keys[] = {
    CONFIG_U32("splice", "max", struct splitd_config, max_splices, 16, 1u << 24),
    CONFIG_DURATION_MS("splice", "idle_timeout", struct splitd_config, splice_idle_ms, 1000,
		       86400000),
    CONFIG_DURATION_MS("splice", "linger", struct splitd_config, splice_linger_ms, 0, 600000),
    {0},
};

int main(int argc, char **argv)
{
	static struct splitd sd;
	sd.cfg.max_splices = 65536;
	sd.cfg.splice_idle_ms = 300000;
	sd.cfg.splice_linger_ms = 10000;
	replication_config_default(&sd.cfg.repl);
	sd.log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	static const struct config_table more[] = {{replication_config_keys, &sd.cfg.repl}};
	static const struct daemon_info info = {
	    .name = "craft-splitd",
	    .summary = "Split splice on a backend: rewrites this backend's responses to spliced "
		       "clients so they bypass the proxies (fail-open).",
	    .fail_open = true,
	    .keys = splitd_keys,
	    .config = &sd.cfg,
	    .more_tables = more,
	    .n_more_tables = 1,
	    .collect_stats = collect_stats,
	};
	struct daemon d;
	char err[256];
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	if (sd.cfg.repl.npeers == 0) {
		log_err("%s: [replication] lists no peer: nobody would send splices here",
			d.config_path[0] ? d.config_path : "(no config)");
		return DAEMON_EXIT_USAGE;
	}
	struct splice_table_config tc;
	splice_table_config_default(&tc);
	tc.max_entries = sd.cfg.max_splices;
	tc.idle_ms = sd.cfg.splice_idle_ms;
	tc.linger_ms = sd.cfg.splice_linger_ms;
	if (splice_table_create(&sd.splices, &tc, NULL) < 0) {
		log_err("cannot create the splice table");
		return DAEMON_EXIT_FAILURE;
	}
	const struct nfq_engine_handler handler = {.on_packet = on_packet, .ctx = &sd};
	rc = daemon_start(&d, &handler, &sd);
	if (rc == 0) {
		if (replication_create(&sd.repl, &sd.cfg.repl, &d.loop, sd.splices, NULL, NULL, err,
				       sizeof(err)) < 0) {
			log_err("replication: %s", err);
			rc = DAEMON_EXIT_FAILURE;
		} else if (event_loop_add_timer(&d.loop, 100, on_tick, &sd) < 0) {
			rc = DAEMON_EXIT_FAILURE;
		} else {
			replication_request_sync(sd.repl);
			rc = daemon_run(&d);
		}
	}
	daemon_stop(&d);
	replication_destroy(sd.repl);
	splice_table_destroy(sd.splices);
	return rc;
}
