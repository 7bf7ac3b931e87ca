// fuzz-sources: nfq/core/txn_log.c nfq/core/txn_log_setup.c nfq/core/txn_log_route.c
// nfq/core/txn_log_config.c nfq/core/txn_log_stats.c nfq/core/byte_store.c nfq/core/flow_table.c
// nfq/core/tcp_stream.c nfq/core/txn_parser.c nfq/core/http_txn.c nfq/core/line_txn.c
// nfq/core/tags.c nfq/core/packet.c nfq/core/checksum.c nfq/core/tcp_options.c nfq/core/stats.c
// nfq/core/config.c nfq/core/config_value.c nfq/core/log.c fuzz-libs: -lhttp_parser -lsodium
/* libFuzzer target for the logging pipeline (txn_log.h) fed with IPv4/TCP
 * packets: a program of operations on four connections (two HTTP, two line
 * protocol) with fuzzed payloads, sequence jumps, retransmissions, FIN,
 * RST, ACKs and time steps, plus raw fuzzed bytes given as packets, with a
 * tiny byte budget and max_kept_message so that eviction and hashing run.
 *
 * Properties checked beyond "no crash, no sanitizer report":
 * - per connection: conn_open first, conn_close last and once, no event
 *   after it; per transaction: txn_begin first and once, txn_end last and
 *   once, ordinals increasing;
 * - offsets: req_start <= req_end, resp_start <= resp_end <= the
 *   connection's server bytes; T_L never moves backwards;
 * - byte store reads of [AckCL, server bytes) either succeed or say ENOENT;
 * - after txn_log_finish every connection was closed. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "packet.h"
#include "txn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONN  4
#define MAXORD 4096

static void require(int cond)
{
	if (!cond)
		abort();
}

struct track {
	int64_t id;
	bool open, closed;
	uint32_t last_ord;
	uint32_t t_l;
	uint8_t state[MAXORD]; /* 0 none, 1 begun, 2 ended */
};

struct h {
	struct txn_log *l;
	struct track tr[64];
	unsigned ntr;
	uint32_t seq[NCONN][2];
	bool up[NCONN];
	uint64_t t;
	uint8_t buf[70000];
};

static struct track *track_of(struct h *h, int64_t id, bool create)
{
	for (unsigned i = 0; i < h->ntr; i++)
		if (h->tr[i].id == id)
			return &h->tr[i];
	if (!create || h->ntr == 64)
		return NULL;
	struct track *t = &h->tr[h->ntr++];
	memset(t, 0, sizeof(*t));
	t->id = id;
	return t;
}

static void o_open(void *ctx, const struct txn_log_conn *c)
{
	struct track *t = track_of(ctx, c->conn_id, true);
	if (!t)
		return;
	require(!t->open && !t->closed);
	t->open = true;
}

static void o_close(void *ctx, const struct txn_log_conn *c)
{
	struct track *t = track_of(ctx, c->conn_id, false);
	if (!t)
		return;
	require(t->open && !t->closed);
	t->closed = true;
}

static void check_txn(struct h *h, const struct txn_log_conn *c, const struct txn_log_txn *x,
		      int kind)
{
	struct track *t = track_of(h, c->conn_id, false);
	if (!t)
		return;
	require(t->open && !t->closed && !c->closed);
	require(x->req_done ? x->req_start <= x->req_end : true);
	if (x->resp_started)
		require(x->resp_start <= x->resp_end && x->resp_end <= c->server_bytes);
	require(c->t_l >= t->t_l);
	t->t_l = c->t_l;
	if (x->ordinal >= MAXORD)
		return;
	uint8_t *st = &t->state[x->ordinal];
	if (kind == 0) { /* begin */
		require(*st == 0 && x->ordinal > t->last_ord);
		t->last_ord = x->ordinal;
		*st = 1;
	} else {
		require(*st == 1);
		if (kind == 2)
			*st = 2;
	}
}

static void o_begin(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *x)
{
	check_txn(ctx, c, x, 0);
}

static void o_ev(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *x, uint64_t t)
{
	(void)t;
	check_txn(ctx, c, x, 1);
}

static void o_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *x)
{
	check_txn(ctx, c, x, 2);
}

static void o_marks(void *ctx, const struct txn_log_conn *c)
{
	struct h *h = ctx;
	if (!c->ack_cl_known || c->ack_cl > c->server_bytes || c->server_bytes - c->ack_cl > 65536)
		return;
	int rc = byte_store_read(txn_log_bytes(h->l), c->conn_id, BS_RESP, c->ack_cl,
				 c->server_bytes, h->buf);
	require(rc == 0 || rc == -ENOENT);
}

static const uint16_t sports[NCONN] = {80, 80, 7000, 7000};

static void send_pkt(struct h *h, int conn, bool from_client, uint8_t flags, uint32_t seq,
		     uint32_t ack, const uint8_t *payload, size_t len)
{
	static uint8_t pkt[65600];
	if (len > 65000)
		len = 65000;
	size_t tot = 40 + len;
	memset(pkt, 0, 40);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(tot >> 8);
	pkt[3] = (uint8_t)tot;
	pkt[8] = 64;
	pkt[9] = 6;
	uint32_t cli = 0xc612000au + (uint32_t)conn, srv = 0xc612020bu;
	pkt_store_be32(pkt + 12, from_client ? cli : srv);
	pkt_store_be32(pkt + 16, from_client ? srv : cli);
	uint16_t cport = (uint16_t)(40000 + conn);
	pkt_store_be16(pkt + 20, from_client ? cport : sports[conn]);
	pkt_store_be16(pkt + 22, from_client ? sports[conn] : cport);
	pkt_store_be32(pkt + 24, seq);
	pkt_store_be32(pkt + 28, ack);
	pkt[32] = 0x50;
	pkt[33] = flags;
	if (len)
		memcpy(pkt + 40, payload, len);
	h->t += 1000;
	txn_log_packet(h->l, pkt, tot, tot, h->t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h h;
	struct txn_log_config cfg;
	char err[256];
	memset(&h, 0, sizeof(h));
	h.t = 1000000;
	txn_log_config_defaults(&cfg);
	cfg.services[0] = (struct txn_log_service){.port = 80, .proto = TXN_PROTO_HTTP};
	cfg.services[1] = (struct txn_log_service){.port = 7000, .proto = TXN_PROTO_LINE};
	cfg.n_services = 2;
	cfg.max_conns = 8;
	cfg.byte_budget = 16384;
	cfg.max_kept_message = 300;
	cfg.txn_index = 4;
	cfg.marks_interval_ms = 0;
	cfg.parser.max_pending = 4;
	cfg.reasm_stream_bytes = 8192;
	cfg.idle_timeout_ms = 5000;
	cfg.linger_timeout_ms = 100;
	cfg.hole_timeout_ms = 50;
	require(txn_log_create(&h.l, &cfg, err, sizeof(err)) == 0);
	struct txn_log_observer o = {
	    .conn_open = o_open,
	    .conn_close = o_close,
	    .txn_begin = o_begin,
	    .txn_request_done = o_ev,
	    .txn_response_first_byte = o_ev,
	    .txn_response_progress = o_ev,
	    .txn_response_done = o_ev,
	    .txn_end = o_end,
	    .marks = o_marks,
	    .ctx = &h,
	};
	txn_log_add_observer(h.l, &o);

	size_t i = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
		i += 3;
		int conn = a % NCONN;
		bool cl = (a & 4) != 0;
		size_t len = (size_t)b * ((a & 8) ? 64 : 1);
		if (len > size - i)
			len = size - i;
		const uint8_t *p = data + i;
		uint32_t *my = &h.seq[conn][cl ? 0 : 1], *peer = &h.seq[conn][cl ? 1 : 0];
		switch (op % 10) {
		case 0: /* handshake */
			h.seq[conn][0] = 0xfffffff0u - (uint32_t)b * 1000;
			h.seq[conn][1] = (uint32_t)a << 24;
			send_pkt(&h, conn, true, TCP_FL_SYN, h.seq[conn][0]++, 0, NULL, 0);
			send_pkt(&h, conn, false, TCP_FL_SYN | TCP_FL_ACK, h.seq[conn][1]++,
				 h.seq[conn][0], NULL, 0);
			send_pkt(&h, conn, true, TCP_FL_ACK, h.seq[conn][0], h.seq[conn][1], NULL,
				 0);
			h.up[conn] = true;
			break;
		case 1:
		case 2:
		case 3: /* data, in order */
			send_pkt(&h, conn, cl, TCP_FL_ACK, *my, *peer, p, len);
			*my += (uint32_t)len;
			i += len;
			break;
		case 4: /* data ahead (a hole) */
			send_pkt(&h, conn, cl, TCP_FL_ACK, *my + b, *peer, p, len);
			i += len;
			break;
		case 5: /* retransmission of the last bytes */
			send_pkt(&h, conn, cl, TCP_FL_ACK, *my - b, *peer, p, len < b ? len : b);
			i += len < b ? len : b;
			break;
		case 6:
			send_pkt(&h, conn, cl, TCP_FL_ACK | TCP_FL_FIN, (*my)++, *peer, NULL, 0);
			break;
		case 7:
			send_pkt(&h, conn, cl, TCP_FL_RST, *my, 0, NULL, 0);
			break;
		case 8: /* time passes */
			h.t += (uint64_t)b * 1000;
			txn_log_expire(h.l, h.t);
			break;
		case 9: /* a raw packet */
			h.t += 10;
			txn_log_packet(h.l, p, len, len + (a & 1), h.t);
			i += len;
			break;
		}
	}
	txn_log_finish(h.l);
	for (unsigned k = 0; k < h.ntr; k++)
		require(h.tr[k].closed);
	txn_log_destroy(h.l);
	return 0;
}
