/* print - see print.h. */
#include "print.h"

#include <inttypes.h>
#include <sodium.h>

static void ip(char *buf, size_t len, uint32_t a, uint16_t port)
{
	snprintf(buf, len, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
		 port);
}

static void on_txn_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	struct pcap_print *p = ctx;
	char cli[32], srv[32], req[48], resp[48], tags[64];
	ip(cli, sizeof(cli), c->caddr, c->cport);
	ip(srv, sizeof(srv), c->saddr, c->sport);
	if (t->req_done)
		snprintf(req, sizeof(req), "%" PRIu64 "-%" PRIu64, t->req_start + 1,
			 t->req_end + 1);
	else
		snprintf(req, sizeof(req), "%" PRIu64 "-?", t->req_start + 1);
	if (!t->resp_started)
		snprintf(resp, sizeof(resp), "-");
	else if (t->resp_done)
		snprintf(resp, sizeof(resp), "%" PRIu64 "-%" PRIu64, t->resp_start + 1,
			 t->resp_end + 1);
	else
		snprintf(resp, sizeof(resp), "%" PRIu64 "-%" PRIu64 "?", t->resp_start + 1,
			 t->resp_end + 1);
	tags_format(t->tags, tags, sizeof(tags));
	for (char *s = tags; *s; s++)
		if (*s == ' ')
			*s = ',';
	fprintf(p->out,
		"txn conn=%" PRId64 " id=%016" PRIx64 " ord=%u %s>%s req=%s resp=%s status=%u "
		"end=%s tags=%s",
		c->conn_id, t->txn_id, t->ordinal, cli, srv, req, resp, t->status,
		txn_end_name(t->end), tags);
	if (t->has_aux_id)
		fprintf(p->out, " aux=%016" PRIx64, t->aux_id);
	if (t->resp_hashed) {
		char hex[65];
		sodium_bin2hex(hex, sizeof(hex), t->resp_sha256, 32);
		fprintf(p->out, " kept=no sha256=%.16s%s", hex, t->resp_hash_ok ? "" : "(partial)");
	}
	if (c->proto == TXN_PROTO_HTTP && t->method[0])
		fprintf(p->out, " %s %s", t->method, t->target);
	else if (t->target[0])
		fprintf(p->out, " %s", t->target);
	fputc('\n', p->out);
	p->lines++;
}

static void on_conn_open(void *ctx, const struct txn_log_conn *c)
{
	struct pcap_print *p = ctx;
	if (!p->conns)
		return;
	char cli[32], srv[32];
	ip(cli, sizeof(cli), c->caddr, c->cport);
	ip(srv, sizeof(srv), c->saddr, c->sport);
	fprintf(p->out, "open conn=%" PRId64 " %s>%s%s\n", c->conn_id, cli, srv,
		c->midstream ? " midstream" : "");
}

static void on_conn_close(void *ctx, const struct txn_log_conn *c)
{
	struct pcap_print *p = ctx;
	if (!p->conns)
		return;
	fprintf(p->out,
		"close conn=%" PRId64 " %s txns=%u ack_cl=%" PRIu64 " server_bytes=%" PRIu64
		" t_l=%u parse=%s\n",
		c->conn_id, txn_log_close_name(c), c->txns, c->ack_cl + 1, c->server_bytes + 1,
		c->t_l, txn_conn_state_name(c->parse_state));
}

struct txn_log_observer pcap_print_observer(struct pcap_print *p)
{
	return (struct txn_log_observer){
	    .conn_open = on_conn_open,
	    .conn_close = on_conn_close,
	    .txn_end = on_txn_end,
	    .ctx = p,
	};
}
