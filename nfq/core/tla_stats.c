/* tla_stats - counters and introspection of the TLA (see tla.h). */
#include <errno.h>
#include <stdio.h>

#include "stats.h"
#include "tla_int.h"

/* ---- introspection ---------------------------------------------------- */

const struct tla_stats *tla_get_stats(const struct tla *t)
{
	return &t->st;
}

unsigned tla_conn_count(const struct tla *t)
{
	return t->nconns;
}

uint64_t tla_held_bytes(const struct tla *t)
{
	return t->held_now;
}

uint64_t tla_saved_bytes(const struct tla *t)
{
	return t->saved_now;
}

const char *tla_state_name(enum tla_state s)
{
	static const char *const names[] = {"pre_trans", "in_trans", "committed", "aborted"};
	return (unsigned)s < 4 ? names[s] : "?";
}

int tla_conn_state(const struct tla *t, const struct tx_conn_id *id, enum tla_state *state,
		   uint64_t *held, uint64_t *saved)
{
	const struct tla_conn *c = tla_find(t, id);
	if (!c)
		return -ENOENT;
	if (state)
		*state = c->state;
	if (held)
		*held = c->held_bytes;
	if (saved)
		*saved = c->s_end - c->s_base;
	return 0;
}

void tla_collect_stats(const struct tla *t, struct stats_report *r, const char *prefix)
{
	const struct tla_stats *s = &t->st;
#define ADD(f) stats_add(r, prefix, #f, s->f)
	stats_add(r, prefix, "conns", t->nconns);
	stats_add(r, prefix, "held_bytes", t->held_now);
	stats_add(r, prefix, "saved_bytes", t->saved_now);
	ADD(conns_created);
	ADD(conns_refused);
	ADD(conns_closed);
	ADD(conns_expired);
	ADD(untracked);
	ADD(malformed);
	ADD(p2s_segments);
	ADD(p2s_bytes);
	ADD(p2s_ooo_dropped);
	ADD(p2s_retrans);
	ADD(p2s_trimmed);
	ADD(p2s_rewritten);
	ADD(s2p_segments);
	ADD(s2p_bytes);
	ADD(s2p_rewritten);
	ADD(s2p_split);
	ADD(s2p_unmappable);
	ADD(held_packets);
	ADD(held_copies);
	ADD(held_bytes_total);
	ADD(held_retrans_dropped);
	ADD(released_packets);
	ADD(released_bytes);
	ADD(released_sent);
	ADD(discarded_bytes);
	ADD(discard_retrans);
	ADD(fake_acks);
	ADD(held_limit);
	ADD(saved_limit);
	ADD(aged_bytes);
	ADD(restarts);
	ADD(resend_bytes);
	ADD(resend_segments);
	ADD(resend_retrans);
	ADD(resend_failed);
	ADD(owner_lost);
	ADD(map_collapsed);
	ADD(send_errors);
#undef ADD
	for (int op = TX_START; op <= TX_RESTART; op++) {
		char name[32];
		snprintf(name, sizeof(name), "ctl_%s", tx_op_name(op));
		stats_add(r, prefix, name, s->ctl_ok[op]);
	}
	for (int i = 1; i < TX_NREASONS; i++) {
		char name[40];
		snprintf(name, sizeof(name), "ctl_fail_%s", tx_reason_name(i));
		stats_add(r, prefix, name, s->ctl_fail[i]);
	}
}
