// clang-format off
// fuzz-sources: nfq/core/tla.c nfq/core/tla_map.c nfq/core/tla_out.c nfq/core/tla_ctl.c nfq/core/tla_stats.c nfq/core/tx_proto.c nfq/core/splice_rewrite.c nfq/core/splice_inject.c nfq/core/tcp_segment.c nfq/core/packet.c nfq/core/checksum.c nfq/core/tcp_options.c nfq/core/auth_msg.c nfq/core/log.c nfq/core/stats.c
// fuzz-libs: -lsodium
// clang-format on
/* libFuzzer target for the TLA state machine (tla.h): the input is a
 * script of operations on a few connections of one service port — segments
 * in either direction with fuzzer-chosen flags, sequence and
 * acknowledgement numbers near the real ones, lengths, payloads and SACK
 * blocks, control requests with fuzzer-chosen offsets, lost control
 * connections and timer ticks — plus, once per input, the raw input bytes
 * as a packet. Properties:
 * - no crash, no sanitizer report, no leak;
 * - a verdict is only ever given for a packet answered TLA_HOLD, exactly
 *   once, and every held packet has had its verdict after tla_destroy;
 * - every packet the TLA accepts rewritten, releases rewritten or sends
 *   parses as IPv4/TCP;
 * - the held-bytes gauge never exceeds max_held per connection. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "tcp_segment.h"
#include "tla.h"

#define MAX_IDS 4096
#define NCONN	3

struct fz {
	uint8_t held[MAX_IDS]; /* 1: answered HOLD, waiting for its verdict */
	unsigned nheld;
};

static void check_pkt(const uint8_t *pkt, size_t len)
{
	struct tcp4_view v;
	if (tcp4_view_parse(pkt, len, PKT_PARSE_ALLOW_TRUNCATED, &v) != 0)
		abort();
}

static void on_verdict(void *ctx, uint16_t queue, uint32_t id, bool accept, const uint8_t *pkt,
		       size_t len)
{
	struct fz *f = ctx;
	(void)queue;
	(void)accept;
	if (id >= MAX_IDS || !f->held[id])
		abort(); /* a verdict for a packet that was not held, or twice */
	f->held[id] = 0;
	f->nheld--;
	if (pkt)
		check_pkt(pkt, len);
}

static void on_send(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	check_pkt(pkt, len);
}

static void on_notify(void *ctx, uint64_t owner, const struct tx_msg *m)
{
	(void)ctx;
	(void)owner;
	(void)m;
}

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct rd *r, unsigned bytes)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (r->n ? *r->p : 0);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static uint8_t buf[70000], payload[66000];
	memset(&f, 0, sizeof(f));
	struct tla_config cfg;
	tla_config_default(&cfg);
	cfg.ports[0] = 7000;
	cfg.nports = 1;
	cfg.max_held = 20000;
	cfg.max_saved = 5000;
	cfg.max_conns = 2;
	struct tla_ops ops = {
	    .verdict = on_verdict, .send = on_send, .notify = on_notify, .ctx = &f};
	struct tla *t;
	if (tla_create(&t, &cfg, &ops) != 0)
		abort();
	uint32_t isn_p[NCONN] = {1000, 0xfffff000u, 7}, isn_s[NCONN] = {5000, 0xffffff00u, 99};
	uint64_t now = 1000;
	uint32_t id = 1;
	struct rd r = {data, size};
	for (unsigned step = 0; step < 200 && r.n; step++) {
		uint8_t op = (uint8_t)take(&r, 1);
		unsigned c = op % NCONN;
		uint16_t pport = (uint16_t)(40000 + c);
		if ((op >> 2) % 8 < 5) { /* a segment */
			bool to_srv = op & 0x80;
			uint8_t flags = (uint8_t)take(&r, 1);
			uint32_t rel = take(&r, 2), rack = take(&r, 2);
			uint32_t len = take(&r, 2) % 4000;
			struct tcp_segment_spec s = {
			    .saddr = to_srv ? 0xc612000a : 0xc612020b,
			    .daddr = to_srv ? 0xc612020b : 0xc612000a,
			    .sport = to_srv ? pport : 7000,
			    .dport = to_srv ? 7000 : pport,
			    .seq = (to_srv ? isn_p[c] : isn_s[c]) + rel,
			    .ack = (to_srv ? isn_s[c] : isn_p[c]) + rack,
			    .flags = flags,
			    .window = (uint16_t)take(&r, 1),
			    .timestamp = op & 0x40,
			    .payload = payload,
			    .payload_len = len,
			};
			if ((flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN)
				s.seq = isn_p[c];
			if (flags & TCP_FL_SYN && to_srv == false)
				s.seq = isn_s[c];
			memset(payload, 'a' + (int)(step % 26), len);
			ssize_t n = tcp_segment_build(buf, sizeof(buf), &s);
			if (n < 0)
				continue;
			struct tla_packet p = {.data = buf,
					       .len = (size_t)n,
					       .id = id,
					       .gso = op & 0x20,
					       .csum_not_ready = op & 0x10};
			struct tla_result res;
			tla_packet(t, &p, now, &res);
			if (res.decision == TLA_HOLD) {
				if (id >= MAX_IDS)
					abort();
				f.held[id] = 1;
				f.nheld++;
			} else if (res.decision == TLA_ACCEPT && res.modified) {
				check_pkt(buf, res.len);
			}
			id++;
			if (id >= MAX_IDS)
				break;
		} else if ((op >> 2) % 8 < 7) { /* a control request */
			struct tx_msg req =
					  {
					      .op = (uint8_t)(1 + take(&r, 1) % 4),
					      .req_id = step,
					      .conn = {0xc612000a, 0xc612020b, pport, 7000},
					      .in_start = take(&r, 2),
					      .in_end = take(&r, 2),
					      .out_start = take(&r, 2),
					      .out_end = take(&r, 2),
					  },
				      ans;
			if (req.in_end < req.in_start)
				req.in_end = req.in_start;
			if (req.out_end < req.out_start)
				req.out_end = req.out_start;
			tla_control(t, 1 + (op & 1), &req, now, &ans);
			if (ans.req_id != req.req_id ||
			    (ans.op != TX_SUCCESS && ans.op != TX_FAILURE))
				abort();
		} else if (op & 1) {
			tla_owner_closed(t, 1 + ((op >> 1) & 1), now);
		} else {
			now += take(&r, 2) * 10u;
			tla_tick(t, now);
		}
		struct tx_conn_id cid = {0xc612000a, 0xc612020b, pport, 7000};
		uint64_t held;
		if (tla_conn_state(t, &cid, NULL, &held, NULL) == 0 && held > cfg.max_held)
			abort();
	}
	/* The raw input as a packet. */
	if (size >= 40 && size < sizeof(buf)) {
		memcpy(buf, data, size);
		struct tla_packet p = {.data = buf, .len = size, .id = id};
		struct tla_result res;
		tla_packet(t, &p, now, &res);
		if (res.decision == TLA_HOLD && id < MAX_IDS) {
			f.held[id] = 1;
			f.nheld++;
		}
	}
	tla_destroy(t);
	if (f.nheld)
		abort(); /* a held packet was never answered */
	return 0;
}
