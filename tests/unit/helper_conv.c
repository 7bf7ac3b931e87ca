/* helper_conv.c - see helper_conv.h. */
#include "helper_conv.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "helper_pktgen.h"

void conv_init(struct conv *v, struct txn_log *log, uint16_t cport, uint16_t sport)
{
	memset(v, 0, sizeof(*v));
	v->log = log;
	v->caddr = CONV_CLIENT;
	v->saddr = CONV_SERVER;
	v->cport = cport;
	v->sport = sport;
	v->cisn = 0xfffff000u; /* wraps within the first 4 KiB */
	v->sisn = 0x7ffffff0u;
	v->cseq = v->cisn;
	v->sseq = v->sisn;
	v->t_us = 1700000000000000ull;
}

int conv_pkt(struct conv *v, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
	     const void *data, size_t len)
{
	static uint8_t buf[PKTGEN_MAX_LEN];
	struct pktgen_spec s;
	pktgen_spec_init(&s);
	s.saddr = from_client ? v->caddr : v->saddr;
	s.daddr = from_client ? v->saddr : v->caddr;
	s.sport = from_client ? v->cport : v->sport;
	s.dport = from_client ? v->sport : v->cport;
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.payload = data;
	s.payload_len = len;
	s.csum = CSUM_PARTIAL_PSEUDO;
	int n = pktgen_build(&s, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	v->t_us += 1000;
	v->last_rc = txn_log_packet(v->log, buf, (size_t)n, (size_t)n, v->t_us);
	return v->last_rc;
}

void conv_handshake(struct conv *v)
{
	conv_pkt(v, true, TCP_FL_SYN, v->cisn, 0, NULL, 0);
	conv_pkt(v, false, TCP_FL_SYN | TCP_FL_ACK, v->sisn, v->cisn + 1, NULL, 0);
	v->cseq = v->cisn + 1;
	v->sseq = v->sisn + 1;
	conv_pkt(v, true, TCP_FL_ACK, v->cseq, v->sseq, NULL, 0);
}

void conv_client(struct conv *v, const void *data, size_t len)
{
	conv_pkt(v, true, TCP_FL_ACK | TCP_FL_PSH, v->cseq, v->sseq, data, len);
	v->cseq += (uint32_t)len;
}

void conv_server(struct conv *v, const void *data, size_t len)
{
	conv_pkt(v, false, TCP_FL_ACK | TCP_FL_PSH, v->sseq, v->cseq, data, len);
	v->sseq += (uint32_t)len;
}

void conv_client_s(struct conv *v, const char *s)
{
	conv_client(v, s, strlen(s));
}

void conv_server_s(struct conv *v, const char *s)
{
	conv_server(v, s, strlen(s));
}

void conv_client_ack(struct conv *v)
{
	conv_pkt(v, true, TCP_FL_ACK, v->cseq, v->sseq, NULL, 0);
}

void conv_fin(struct conv *v, bool from_client)
{
	if (from_client) {
		conv_pkt(v, true, TCP_FL_ACK | TCP_FL_FIN, v->cseq, v->sseq, NULL, 0);
		v->cseq++;
	} else {
		conv_pkt(v, false, TCP_FL_ACK | TCP_FL_FIN, v->sseq, v->cseq, NULL, 0);
		v->sseq++;
	}
}

void conv_rst(struct conv *v, bool from_client)
{
	if (from_client)
		conv_pkt(v, true, TCP_FL_RST | TCP_FL_ACK, v->cseq, v->sseq, NULL, 0);
	else
		conv_pkt(v, false, TCP_FL_RST | TCP_FL_ACK, v->sseq, v->cseq, NULL, 0);
}

/* ---- recorder ---- */

void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
}

static void rec_add(struct rec *r, const char *kind, const struct txn_log_conn *c,
		    const struct txn_log_txn *t, uint64_t t_us)
{
	if (c->closed || r->opens == 0)
		r->order_error = true;
	if (r->n >= REC_MAX)
		return;
	struct rec_ev *e = &r->ev[r->n++];
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	e->conn_id = c->conn_id;
	if (t)
		e->t = *t;
	e->t_us = t_us;
}

static void r_open(void *ctx, const struct txn_log_conn *c)
{
	struct rec *r = ctx;
	r->opens++;
	r->conn = *c;
}

static void r_update(void *ctx, const struct txn_log_conn *c)
{
	struct rec *r = ctx;
	r->updates++;
	r->conn = *c;
}

static void r_close(void *ctx, const struct txn_log_conn *c)
{
	struct rec *r = ctx;
	r->closes++;
	r->conn = *c;
}

static void r_marks(void *ctx, const struct txn_log_conn *c)
{
	struct rec *r = ctx;
	r->marks++;
	r->conn = *c;
}

static void r_begin(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	rec_add(ctx, "begin", c, t, t->req_first_us);
}

static void r_req_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
		       uint64_t t_us)
{
	rec_add(ctx, "req_done", c, t, t_us);
}

static void r_resp_first(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			 uint64_t t_us)
{
	rec_add(ctx, "resp_first", c, t, t_us);
}

static void r_progress(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
		       uint64_t t_us)
{
	rec_add(ctx, "progress", c, t, t_us);
}

static void r_resp_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			uint64_t t_us)
{
	rec_add(ctx, "resp_done", c, t, t_us);
}

static void r_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	rec_add(ctx, "end", c, t, 0);
}

struct txn_log_observer rec_observer(struct rec *r)
{
	return (struct txn_log_observer){
	    .conn_open = r_open,
	    .conn_update = r_update,
	    .conn_close = r_close,
	    .txn_begin = r_begin,
	    .txn_request_done = r_req_done,
	    .txn_response_first_byte = r_resp_first,
	    .txn_response_progress = r_progress,
	    .txn_response_done = r_resp_done,
	    .txn_end = r_end,
	    .marks = r_marks,
	    .ctx = r,
	};
}

int rec_find(const struct rec *r, const char *kind, uint32_t ordinal)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->ev[i].t.ordinal == ordinal && strcmp(r->ev[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

unsigned rec_count(const struct rec *r, const char *kind)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->n; i++)
		n += strcmp(r->ev[i].kind, kind) == 0;
	return n;
}

struct txn_log *conv_make_log(void (*tweak)(struct txn_log_config *cfg))
{
	struct txn_log_config cfg;
	char err[256] = "";
	txn_log_config_defaults(&cfg);
	cfg.services[0] = (struct txn_log_service){.port = 80, .proto = TXN_PROTO_HTTP};
	cfg.services[1] = (struct txn_log_service){.port = 7000, .proto = TXN_PROTO_LINE};
	cfg.n_services = 2;
	cfg.max_conns = 64;
	if (tweak)
		tweak(&cfg);
	struct txn_log *l = NULL;
	int rc = txn_log_create(&l, &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "txn_log_create: %s", err);
	return l;
}
