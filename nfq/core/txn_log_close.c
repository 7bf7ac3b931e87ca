/* txn_log_close - see txn_log_close.h. */
#include "txn_log_close.h"

#include <stddef.h>
#include <string.h>

#include "txn_log_int.h"

void txn_log_close_view(const struct txn_log *l, uint32_t saddr, uint16_t sport, uint32_t daddr,
			uint16_t dport, struct fdet_close_view *out)
{
	memset(out, 0, sizeof(*out));
	const struct txn_log_conn *pub = txn_log_conn_by_tuple(l, saddr, sport, daddr, dport);
	/* A server that never sent its SYN-ACK has no connection to close: an
	 * RST to a SYN is a refusal, the connect's business. */
	if (!pub || pub->closed || pub->saddr != saddr || pub->sport != sport ||
	    !pub->isn_server_known)
		return;
	const struct tl_conn *c =
	    (const struct tl_conn *)(const void *)((const char *)pub -
						   offsetof(struct tl_conn, pub));
	out->tracked = true;
	out->server_closed = pub->fin_server || pub->rst_server;
	out->client_closed = pub->fin_client || pub->rst_client;
	out->http = pub->proto == TXN_PROTO_HTTP;
	out->close_announced = c->close_announced;
	if (!c->parser)
		return; /* not parsed (no memory): nothing is explained */
	out->parse_ok = txn_parser_state(c->parser) == TXN_CONN_OK;
	const struct txn_parser *p = c->parser;
	out->open_txns = p->n;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct txn *t = &p->q[i];
		if (t->resp_complete && (t->flags & TXN_F_CONN_CLOSE))
			out->close_announced = true;
		if (t->resp_started && !t->resp_complete && (t->flags & TXN_F_CLOSE_DELIMITED))
			out->close_delimited = true;
		if (t->req_complete && !t->resp_complete)
			out->request_outstanding = true;
	}
}
