/* lb - the packet decision and the glue between heartbeats and the
 * selector (see lb.h). */
#include "lb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static unsigned live_count(const struct lb *lb)
{
	unsigned live = 0;
	for (unsigned i = 0; i < lb->sel.n; i++)
		live += lb->sel.live[i];
	return live;
}

/* Hands the membership collected during start-up to the selector. */
static void end_warmup(struct lb *lb, const char *why)
{
	lb->warming = false;
	for (unsigned i = 0; i < lb->hb.members.n; i++) {
		const struct hb_member *mb = &lb->hb.members.members[i];
		int s = lb_select_index(&lb->sel, mb->id);
		if (s < 0)
			continue;
		lb_select_set_live(&lb->sel, (unsigned)s, hb_member_live(mb));
		lb_select_set_weight(&lb->sel, (unsigned)s, mb->status.workload);
	}
	lb_select_commit(&lb->sel);
	log_notice("balancing (%s): %u of %u proxies live", why, live_count(lb), lb->sel.n);
}

/* Membership update: liveness and the workload factor go to the selector. */
static void on_member(void *ctx, unsigned idx, const struct hb_member *mb, bool changed)
{
	struct lb *lb = ctx;
	(void)idx;
	if (lb->warming) {
		unsigned up = 0;
		for (unsigned i = 0; i < lb->hb.members.n; i++)
			up += hb_member_live(&lb->hb.members.members[i]);
		if (up == lb->hb.members.n)
			end_warmup(lb, "every proxy heard");
		return;
	}
	int s = lb_select_index(&lb->sel, mb->id);
	if (s < 0)
		return;
	lb_select_set_live(&lb->sel, (unsigned)s, hb_member_live(mb));
	lb_select_set_weight(&lb->sel, (unsigned)s, mb->status.workload);
	if (changed) {
		lb_select_commit(&lb->sel);
		log_notice("proxy %u is %s; %u of %u proxies live", mb->id,
			   hb_member_live(mb) ? "live" : "out", live_count(lb), lb->sel.n);
	}
}

int lb_init(struct lb *lb, char *err, size_t errlen)
{
	struct lb_config *c = &lb->cfg;
	struct lb_member_def defs[LB_MAX_MEMBERS];
	uint32_t ids[LB_MAX_MEMBERS];
	struct in_addr addrs[LB_MAX_MEMBERS];
	int rc = lb_config_validate(c, err, errlen);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < c->nproxies; i++) {
		defs[i] = (struct lb_member_def){.id = c->proxies[i].id,
						 .port_min = c->proxies[i].port_min,
						 .port_max = c->proxies[i].port_max};
		ids[i] = c->proxies[i].id;
		addrs[i] = c->proxies[i].addr;
	}
	rc = lb_select_init(&lb->sel, &c->sel, defs, c->nproxies);
	if (rc < 0) {
		snprintf(err, errlen, "selector: %s", strerror(-rc));
		return rc;
	}
	lb->sel_ready = true;
	for (unsigned i = 0; i < c->nproxies; i++) {
		int s = lb_select_index(&lb->sel, c->proxies[i].id);
		lb->marks[s] = c->proxies[i].mark;
		lb->hb_index[s] = (int)i;
	}
	lb->vip = ntohl(c->vip.s_addr);
	rc = heartbeat_receiver_init(&lb->hb, &c->hb, NULL, ids, addrs, c->nproxies, on_member, lb,
				     err, errlen);
	if (rc < 0)
		return rc;
	lb->hb_ready = true;
	return 0;
}

static void on_warm_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)expirations;
	struct lb *lb = arg;
	if (lb->warming && monotonic_ms() >= lb->warm_until_ms)
		end_warmup(lb, "start-up wait over");
	if (!lb->warming && lb->warm_timer >= 0) {
		event_loop_del_fd(loop, lb->warm_timer);
		lb->warm_timer = -1;
	}
}

int lb_open(struct lb *lb, struct event_loop *loop, char *err, size_t errlen)
{
	uint64_t wait = (uint64_t)lb->cfg.startup_beats * lb->cfg.hb.members.interval_ms;
	lb->warm_timer = -1;
	lb->warming = wait > 0;
	lb->warm_until_ms = monotonic_ms() + wait;
	int rc = heartbeat_receiver_open(&lb->hb, loop, err, errlen);
	if (rc < 0 || !lb->warming)
		return rc;
	uint64_t tick = lb->cfg.hb.members.interval_ms / 4;
	rc = event_loop_add_timer(loop, (uint32_t)(tick < 5 ? 5 : tick), on_warm_tick, lb);
	if (rc < 0) {
		snprintf(err, errlen, "start-up timer: %s", strerror(-rc));
		return rc;
	}
	lb->warm_timer = rc;
	return 0;
}

void lb_close(struct lb *lb)
{
	if (lb->hb_ready)
		heartbeat_receiver_close(&lb->hb);
	lb->hb_ready = false;
	if (lb->sel_ready)
		lb_select_free(&lb->sel);
	lb->sel_ready = false;
}

void lb_on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		  struct nfq_verdict *v)
{
	(void)engine;
	struct lb *lb = ctx;
	struct lb_flow f;
	if (lb_flow_parse(pkt->data, pkt->len, &f) < 0) {
		/* Not IPv4 we can read: the kernel routes it as it is. */
		lb->count.malformed++;
		return;
	}
	if (f.daddr != lb->vip) {
		lb->count.not_vip++;
		return;
	}
	if (f.fragment)
		lb->count.fragments++;
	if (lb->warming) {
		if (monotonic_ms() < lb->warm_until_ms) {
			lb->count.startup_drop++;
			v->decision = NFQ_DECIDE_DROP;
			return;
		}
		end_warmup(lb, "start-up wait over");
	}
	int m = lb_select_pick(&lb->sel, &f);
	if (m < 0) {
		if (lb->cfg.no_proxy == LB_NO_PROXY_ACCEPT) {
			lb->count.no_proxy_accept++;
		} else {
			lb->count.no_proxy_drop++;
			v->decision = NFQ_DECIDE_DROP;
		}
		return;
	}
	lb->per[m].packets++;
	lb->per[m].bytes += pkt->orig_len;
	v->set_mark = true;
	v->mark = lb->marks[m];
}

void lb_collect_stats(void *ctx, struct stats_report *r)
{
	const struct lb *lb = ctx;
	const struct lb_select_stats *ss = &lb->sel.st;
	unsigned live = lb->sel_ready ? live_count(lb) : 0;
	stats_add(r, "lb", "mode", (uint64_t)lb->cfg.sel.mode);
	stats_add(r, "lb", "proxies", lb->sel.n);
	stats_add(r, "lb", "proxies_live", live);
	stats_add(r, "lb", "picks", ss->picks);
	stats_add(r, "lb", "bursts", ss->bursts);
	stats_add(r, "lb", "owner_hits", ss->owner_hits);
	stats_add(r, "lb", "owner_down", ss->owner_down);
	stats_add(r, "lb", "table_rebuilds", ss->rebuilds);
	stats_add(r, "lb", "weight_updates", ss->weight_updates);
	stats_add(r, "lb", "no_proxy_drop", lb->count.no_proxy_drop);
	stats_add(r, "lb", "no_proxy_accept", lb->count.no_proxy_accept);
	stats_add(r, "lb", "startup_drop", lb->count.startup_drop);
	stats_add(r, "lb", "warming", lb->warming);
	stats_add(r, "lb", "not_vip", lb->count.not_vip);
	stats_add(r, "lb", "malformed", lb->count.malformed);
	stats_add(r, "lb", "fragments", lb->count.fragments);
	if (lb->hb_ready)
		heartbeat_receiver_collect_stats(&lb->hb, r, "hb");
	for (unsigned i = 0; i < lb->sel.n; i++) {
		char p[32];
		const struct hb_member *mb = &lb->hb.members.members[lb->hb_index[i]];
		snprintf(p, sizeof(p), "proxy%u", lb->sel.def[i].id);
		stats_add(r, p, "live", lb->sel.live[i]);
		stats_add(r, p, "workload", lb->sel.weight[i]);
		stats_add(r, p, "packets", lb->per[i].packets);
		stats_add(r, p, "bytes", lb->per[i].bytes);
		stats_add(r, p, "beats", mb->beats);
		stats_add(r, p, "ups", mb->ups);
		stats_add(r, p, "downs", mb->downs);
		stats_add(r, p, "detect_last_ms", mb->detect_last_ms);
		stats_add(r, p, "detect_max_ms", mb->detect_max_ms);
		uint64_t timeouts = mb->downs - mb->drains;
		stats_add(r, p, "detect_avg_ms", timeouts ? mb->detect_sum_ms / timeouts : 0);
		stats_add(r, p, "drains", mb->drains);
	}
}
