/* txn_log_setup - the pipeline's lifecycle (create, finish, destroy), its
 * observers and the read-only queries (txn_log.h). The packet path is in
 * txn_log.c. */
#include "txn_log_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make_table(struct txn_log *l)
{
	struct flow_table_config fc;
	flow_table_config_default(&fc);
	fc.max_conns = l->cfg.max_conns;
	fc.idle_timeout = l->cfg.idle_timeout_ms;
	fc.linger_timeout = l->cfg.linger_timeout_ms;
	fc.hole_timeout = l->cfg.hole_timeout_ms;
	fc.pickup_midstream = l->cfg.pickup_midstream;
	fc.evict_when_full = l->cfg.evict_when_full;
	fc.server_ports = l->ports;
	fc.n_server_ports = l->cfg.n_services;
	fc.reasm.stream_bytes = l->cfg.reasm_stream_bytes;
	fc.reasm.total_bytes = l->cfg.reasm_total_bytes;
	struct flow_callbacks cb = {.created = tl_on_created, .closed = tl_on_closed, .ctx = l};
	return flow_table_create(&l->ft, &fc, &cb);
}

int txn_log_create(struct txn_log **out, const struct txn_log_config *cfg, char *err, size_t errlen)
{
	int rc = txn_log_config_check(cfg, err, errlen);
	if (rc < 0)
		return rc;
	struct txn_log *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->cfg = *cfg;
	tags_init(&l->tags);
	for (unsigned i = 0; i < cfg->n_services; i++) {
		l->port_proto[cfg->services[i].port] = (uint8_t)(cfg->services[i].proto + 1);
		l->ports[i] = cfg->services[i].port;
	}
	l->max_records = 2 * cfg->parser.max_pending + 8;
	for (int p = 0; p < 2; p++) {
		struct txn_parser_config pc = cfg->parser;
		pc.proto = p;
		const char *id = p == TXN_PROTO_HTTP ? cfg->aux_header : cfg->aux_prefix;
		snprintf(pc.id_name, sizeof(pc.id_name), "%s", cfg->aux ? id : "");
		char perr[256] = "";
		rc = txn_parser_ctx_init(&l->pctx[p], &pc, perr, sizeof(perr));
		if (rc < 0) {
			snprintf(err, errlen, "%s parser: %s", p ? "line" : "http", perr);
			goto fail;
		}
		l->pctx_ready[p] = true;
	}
	if (cfg->tags_file[0]) {
		struct config_error cerr;
		rc = tags_load_file(&l->tags, cfg->tags_file, &cerr);
		if (rc < 0) {
			snprintf(err, errlen, "%s", cerr.msg);
			goto fail;
		}
	}
	uint32_t n = 1;
	while (n < cfg->max_conns && n < (1u << 24))
		n <<= 1;
	l->by_id = calloc(n, sizeof(*l->by_id));
	if (!l->by_id) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	l->id_mask = n - 1;
	struct byte_store_config bc;
	byte_store_config_default(&bc);
	bc.budget = cfg->byte_budget;
	bc.txn_index = cfg->txn_index;
	bc.buckets = n;
	rc = byte_store_create(&l->bs, &bc);
	if (rc == 0)
		rc = make_table(l);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the tables: %s", strerror(-rc));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	txn_log_destroy(l);
	return rc;
}

static int collect_entry(void *ctx, struct flow_entry *e)
{
	struct flow_entry ***pp = ctx;
	*(*pp)++ = e;
	return 0;
}

void txn_log_finish(struct txn_log *l)
{
	if (!l->ft)
		return;
	unsigned n = flow_table_count(l->ft);
	struct flow_entry **all = n ? malloc(n * sizeof(*all)) : NULL;
	if (n && !all) {
		/* no memory: the same ends, at the price of the table's counters */
		flow_table_destroy(l->ft);
		if (make_table(l) < 0)
			l->ft = NULL; /* txn_log_packet must not be called again */
		return;
	}
	struct flow_entry **end = all;
	flow_table_foreach(l->ft, collect_entry, &end);
	l->finishing = true;
	for (struct flow_entry **e = all; e < end; e++)
		flow_table_remove(l->ft, *e);
	l->finishing = false;
	free(all);
}

void txn_log_destroy(struct txn_log *l)
{
	if (!l)
		return;
	if (l->ft)
		flow_table_destroy(l->ft);
	byte_store_destroy(l->bs);
	for (int p = 0; p < 2; p++)
		if (l->pctx_ready[p])
			txn_parser_ctx_free(&l->pctx[p]);
	tags_free(&l->tags);
	free(l->by_id);
	free(l->evs);
	free(l);
}

void txn_log_set_conn_ids(struct txn_log *l, int64_t (*next)(void *arg), void *arg)
{
	l->next_id = next;
	l->next_id_arg = arg;
}

int txn_log_add_observer(struct txn_log *l, const struct txn_log_observer *o)
{
	if (l->nobs >= TXN_LOG_MAX_OBSERVERS)
		return -ENOSPC;
	l->obs[l->nobs++] = *o;
	return 0;
}

/* ---- queries ---- */

const struct txn_log_conn *txn_log_conn_by_tuple(const struct txn_log *l, uint32_t saddr,
						 uint16_t sport, uint32_t daddr, uint16_t dport)
{
	if (!l->ft)
		return NULL;
	const struct flow_entry *e = flow_table_lookup(l->ft, saddr, sport, daddr, dport, NULL);
	return e && e->user ? &((const struct tl_conn *)e->user)->pub : NULL;
}

struct foreach_ctx {
	int (*fn)(void *ctx, const struct txn_log_conn *c);
	void *ctx;
};

static int foreach_one(void *ctx, struct flow_entry *e)
{
	struct foreach_ctx *f = ctx;
	const struct tl_conn *c = e->user;
	return c ? f->fn(f->ctx, &c->pub) : 0;
}

int txn_log_foreach_conn(const struct txn_log *l,
			 int (*fn)(void *ctx, const struct txn_log_conn *c), void *ctx)
{
	struct foreach_ctx f = {fn, ctx};
	return l->ft ? flow_table_foreach(l->ft, foreach_one, &f) : 0;
}

int txn_log_open_txns(const struct txn_log *l, int64_t conn_id,
		      int (*fn)(void *ctx, const struct txn_log_txn *t), void *ctx)
{
	const struct txn_log_conn *pc = txn_log_conn_by_id(l, conn_id);
	if (!pc)
		return -ENOENT;
	const struct tl_conn *c = (const struct tl_conn *)pc;
	for (uint32_t i = 0; i < c->ntx; i++) {
		int rc = fn(ctx, &c->tx[i].pub);
		if (rc)
			return rc;
	}
	return 0;
}

struct byte_store *txn_log_bytes(const struct txn_log *l)
{
	return l->bs;
}

int txn_log_recovery_point(const struct txn_log *l, int64_t conn_id, struct txn_log_recovery *out)
{
	const struct txn_log_conn *c = txn_log_conn_by_id(l, conn_id);
	if (!c)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->t_l = c->t_l;
	out->ack_tl = c->t_l ? c->ack_tl : 0;
	out->server_bytes = c->server_bytes;
	out->p = c->server_bytes > out->ack_tl ? c->server_bytes - out->ack_tl : 0;
	out->ack_cl_known = c->ack_cl_known;
	out->ack_cl = c->ack_cl_known ? c->ack_cl : 0;
	out->resend_from = out->ack_cl;
	out->resend_to = c->server_bytes > out->ack_cl ? c->server_bytes : out->ack_cl;
	out->held_until = out->resend_from;
	byte_store_held_until(l->bs, conn_id, BS_RESP, out->resend_from, &out->held_until);
	out->resend_held = out->held_until >= out->resend_to;
	return 0;
}

const struct txn_log_config *txn_log_config_of(const struct txn_log *l)
{
	return &l->cfg;
}

const char *txn_log_close_name(const struct txn_log_conn *c)
{
	if (!c->closed)
		return "open";
	switch (c->close_reason) {
	case FLOW_CLOSE_FINISHED:
		if (c->rst_server)
			return "reset-by-server";
		if (c->rst_client)
			return "reset-by-client";
		return "closed";
	case FLOW_CLOSE_IDLE:
		return "idle";
	case FLOW_CLOSE_EVICTED:
		return "evicted";
	case FLOW_CLOSE_REUSED:
		return "reused";
	case FLOW_CLOSE_REMOVED:
		return "removed";
	case FLOW_CLOSE_DESTROYED:
		return "shutdown";
	}
	return "closed";
}
