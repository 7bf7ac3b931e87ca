// fuzz-sources: nfq/core/http_txn.c nfq/core/txn_parser.c nfq/core/line_txn.c nfq/core/stats.c
// fuzz-libs: -lhttp_parser
/* libFuzzer target for the HTTP/1.x transaction parser (http_txn on top of
 * libhttp-parser) through the txn_parser interface.  The input format and
 * the properties checked are described in fuzz_txn_common.h; the seed also
 * picks the pipelining limit and the header-size limit, so that the limit
 * paths are reached with small inputs.  tests/fuzz/http.dict helps the
 * fuzzer find the protocol's words. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_txn_common.h"
#include "http_txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	cfg.proto = TXN_PROTO_HTTP;
	cfg.max_pending = (seed >> 12) & 1 ? 1 + (uint32_t)((seed >> 13) % 4) : 64;
	cfg.max_header_bytes = (seed >> 15) & 1 ? 256 + (seed >> 16) % 512 : 64 * 1024;
	if ((seed >> 25) & 1)
		cfg.id_name[0] = '\0';
	fz_require(txn_parser_ctx_init(&ctx, &cfg, err, sizeof(err)) == 0);
	fz_exchange(&ctx, data, size);
	/* every byte fed is accounted for */
	fz_require(ctx.stats.ended[TXN_END_OPEN] == 0);
	txn_parser_ctx_free(&ctx);
	return 0;
}
