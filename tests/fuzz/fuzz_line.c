// fuzz-sources: nfq/core/line_txn.c nfq/core/txn_parser.c nfq/core/http_txn.c nfq/core/stats.c
// fuzz-libs: -lhttp_parser
/* libFuzzer target for the line-oriented transaction parser (line_txn)
 * through the txn_parser interface.  The input format and the properties
 * checked are described in fuzz_txn_common.h; the seed also picks the
 * response rule (next request, literal terminator, matching line), the
 * delimiters, the terminator, the ID prefix and small limits. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_txn_common.h"
#include "line_txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const terminators[] = {"\n> ", "\r\n.\r\n", "aa", "END\r\n"};
static const char *const patterns[] = {"^[0-9]{3} ", "^craft[0-9a-f]* (OK|NO|BAD)", "^$",
				       "(a|b)*c"};
static const char *const delims[] = {"\n;", "\n", ";|", "\r"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct txn_parser_config cfg;
	struct txn_parser_ctx ctx;
	char err[160];
	uint64_t seed = 0;

	if (size < 8)
		return 0;
	memcpy(&seed, data, 8);
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_resp = (int)((seed >> 12) % 3);
	const char *d = delims[(seed >> 14) % 4];
	cfg.line_delims_len = (uint32_t)strlen(d);
	memcpy(cfg.line_delims, d, cfg.line_delims_len);
	const char *t = terminators[(seed >> 16) % 4];
	cfg.line_terminator_len = (uint32_t)strlen(t);
	memcpy(cfg.line_terminator, t, cfg.line_terminator_len);
	snprintf(cfg.line_pattern, sizeof(cfg.line_pattern), "%s", patterns[(seed >> 18) % 4]);
	snprintf(cfg.id_name, sizeof(cfg.id_name), "%s", (seed >> 20) & 1 ? "craft" : "");
	cfg.max_pending = (seed >> 21) & 1 ? 1 + (uint32_t)((seed >> 22) % 4) : 64;
	cfg.line_max = (seed >> 24) & 1 ? 1 + (seed >> 25) % 64 : 64 * 1024;
	fz_require(txn_parser_ctx_init(&ctx, &cfg, err, sizeof(err)) == 0);
	fz_exchange(&ctx, data, size);
	txn_parser_ctx_free(&ctx);
	return 0;
}
