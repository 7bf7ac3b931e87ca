/* test_line_txn.c - line-oriented command protocols: requests cut at
 * newline and ';', the three response rules (next request, literal string,
 * matching line), IDs in a tag prefix, limits, holes, FINs, and the same
 * events however the bytes are split. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_txn.h"
#include "line_txn.h"

static struct txn_parser_ctx ctx;
static bool ctx_live;
static struct txn_rec *rec;

static void use(int resp, const char *delims, const char *term, const char *pattern, const char *id)
{
	struct txn_parser_config cfg;
	char err[200];
	if (ctx_live)
		txn_parser_ctx_free(&ctx);
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_resp = resp;
	if (delims) {
		cfg.line_delims_len = (uint32_t)strlen(delims);
		memcpy(cfg.line_delims, delims, cfg.line_delims_len);
	}
	if (term) {
		cfg.line_terminator_len = (uint32_t)strlen(term);
		memcpy(cfg.line_terminator, term, cfg.line_terminator_len);
	}
	if (pattern)
		snprintf(cfg.line_pattern, sizeof(cfg.line_pattern), "%s", pattern);
	snprintf(cfg.id_name, sizeof(cfg.id_name), "%s", id ? id : "");
	int rc = txn_parser_ctx_init(&ctx, &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ctx_live = true;
	trec_init(rec);
}

static void setup(void)
{
	rec = malloc(sizeof(*rec));
	ck_assert_ptr_nonnull(rec);
	ctx_live = false;
	use(TXN_LINE_RESP_NEXT_REQUEST, NULL, NULL, NULL, NULL);
}

static void teardown(void)
{
	if (ctx_live)
		txn_parser_ctx_free(&ctx);
	free(rec);
}

#define RUN(steps) trec_run(&ctx, (steps), sizeof(steps) / sizeof((steps)[0]), SPLIT_WHOLE, 0, rec)
#define SPLITS(steps)                                                                              \
	do {                                                                                       \
		const char *bad_ =                                                                 \
		    trec_check_splits(&ctx, (steps), sizeof(steps) / sizeof((steps)[0]), 200);     \
		ck_assert_msg(bad_ == NULL, "%s", bad_);                                           \
	} while (0)

static void no_violation(void)
{
	ck_assert_msg(rec->violation[0] == '\0', "%s", rec->violation);
	ck_assert_uint_eq(rec->begins, rec->ends);
}

static void expect(unsigned i, uint64_t qs, uint64_t qe, uint64_t rs, uint64_t re, const char *text,
		   enum txn_end end)
{
	ck_assert_uint_gt(rec->ndone, i);
	const struct txn *t = &rec->done[i];
	ck_assert_msg(t->req_start == qs && t->req_end == qe,
		      "txn %u: request %llu-%llu, want %llu-%llu", i,
		      (unsigned long long)t->req_start, (unsigned long long)t->req_end,
		      (unsigned long long)qs, (unsigned long long)qe);
	ck_assert_msg(t->resp_start == rs && t->resp_end == re,
		      "txn %u: response %llu-%llu, want %llu-%llu", i,
		      (unsigned long long)t->resp_start, (unsigned long long)t->resp_end,
		      (unsigned long long)rs, (unsigned long long)re);
	ck_assert_str_eq(t->target, text);
	ck_assert_int_eq(t->end, end);
}

START_TEST(semicolon_and_newline)
{
	const struct txn_step s[] = {REQ("ls; date\n"), RESP("a.txt\nMon\n$ "), REQ("pwd\n"),
				     RESP("/home\n$ "), EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 3);
	expect(0, 0, 3, 0, 12, "ls", TXN_END_COMPLETE);
	ck_assert_str_eq(rec->done[0].method, "ls");
	ck_assert_uint_eq(rec->done[0].resp_body_bytes, 12);
	/* typed ahead: grouped behind "ls" with an empty response */
	expect(1, 4, 9, 12, 12, "date", TXN_END_COMPLETE);
	ck_assert(rec->done[1].flags & TXN_F_GROUPED);
	expect(2, 9, 13, 12, 20, "pwd", TXN_END_COMPLETE);
	ck_assert_uint_eq(ctx.stats.grouped, 1);
	SPLITS(s);
}
END_TEST

START_TEST(crlf_blanks_and_words)
{
	const struct txn_step s[] = {REQ("\r\n\n  ;\nGET  key:1 \r\n"), RESP("VALUE 1\r\n"),
				     REQ("\t set k v ;"), RESP("OK\r\n"), END_ALL};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	expect(0, 7, 20, 0, 9, "GET  key:1", TXN_END_COMPLETE);
	ck_assert_str_eq(rec->done[0].method, "GET");
	expect(1, 22, 31, 9, 13, "set k v", TXN_END_ABORT);
	ck_assert_str_eq(rec->done[1].method, "set");
	ck_assert_uint_eq(rec->done[1].resp_body_bytes, 4);
	SPLITS(s);
}
END_TEST

START_TEST(string_terminator)
{
	use(TXN_LINE_RESP_STRING, "\n", "\n> ", NULL, NULL);
	const struct txn_step s[] = {RESP("Welcome\n> "), REQ("1+1\n"),	  RESP("2\n> "),
				     REQ("2*3\n"),	  RESP("6\n"),	  RESP("> "),
				     REQ("x\n"),	  RESP("\n\n> "), REQ("y\n"),
				     RESP("7\n>"),	  EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(ctx.stats.unsolicited_bytes, 10);
	ck_assert_uint_eq(rec->ndone, 4);
	expect(0, 0, 4, 10, 14, "1+1", TXN_END_COMPLETE);
	expect(1, 4, 8, 14, 18, "2*3", TXN_END_COMPLETE);
	expect(2, 8, 10, 18, 22, "x", TXN_END_COMPLETE);
	/* the last one never saw its terminator */
	expect(3, 10, 12, 22, 25, "y", TXN_END_EOF);
	SPLITS(s);
}
END_TEST

START_TEST(string_terminator_overlapping)
{
	use(TXN_LINE_RESP_STRING, "\n", "\r\n.\r\n", NULL, NULL);
	const struct txn_step s[] = {REQ("LIST\n"), RESP("1 a\r\n\r\n.\r\n"), REQ("TOP\n"),
				     RESP("\r\n\r\n\r\n.\r\n")};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	expect(0, 0, 5, 0, 10, "LIST", TXN_END_COMPLETE);
	expect(1, 5, 9, 10, 19, "TOP", TXN_END_COMPLETE);
	SPLITS(s);
}
END_TEST

#define SMTP_EHLO "250-mx\r\n250-SIZE 1000\r\n250 OK\r\n"

START_TEST(line_pattern_smtp)
{
	use(TXN_LINE_RESP_LINE, "\n", NULL, "^[0-9]{3} ", NULL);
	const struct txn_step s[] = {RESP("220 mx ready\r\n"),	REQ("EHLO a\r\n"),
				     RESP(SMTP_EHLO),		REQ("NOOP\r\nQUIT\r\n"),
				     RESP("250 ok\r\n221 bye"), EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(ctx.stats.unsolicited_bytes, 14);
	ck_assert_uint_eq(rec->ndone, 3);
	uint64_t r0 = 14, r1 = r0 + strlen(SMTP_EHLO);
	expect(0, 0, 8, r0, r1, "EHLO a", TXN_END_COMPLETE);
	expect(1, 8, 14, r1, r1 + 8, "NOOP", TXN_END_COMPLETE);
	/* a last line without LF is matched at the FIN */
	expect(2, 14, 20, r1 + 8, r1 + 15, "QUIT", TXN_END_COMPLETE);
	SPLITS(s);

	/* a response that does not end before the FIN */
	trec_init(rec);
	const struct txn_step e[] = {REQ("DATA\r\n"), RESP("354-go\r\n"), EOF_RESP};
	RUN(e);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_EOF);
}
END_TEST

START_TEST(transaction_id_prefix)
{
	use(TXN_LINE_RESP_LINE, "\n", NULL, "^craft[0-9a-z]* (OK|NO|BAD)", "craft");
	const struct txn_step s[] = {RESP("* OK IMAP ready\r\n"),
				     REQ("craftc612000a1f900001 SELECT INBOX\r\n"),
				     RESP("* 3 EXISTS\r\ncraftc612000a1f900001 OK done\r\n"),
				     REQ("craftzz NOOP\r\nA1 NOOP\r\n"),
				     RESP("craftzz BAD tag\r\n"),
				     RESP("A1 OK\r\n"),
				     END_ALL};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 3);
	const struct txn *t = &rec->done[0];
	ck_assert(t->has_txn_id);
	ck_assert_uint_eq(t->txn_id, 0xc612000a1f900001ull);
	ck_assert_str_eq(t->method, "SELECT");
	ck_assert_str_eq(t->target, "craftc612000a1f900001 SELECT INBOX");
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	ck_assert(!rec->done[1].has_txn_id);
	ck_assert(rec->done[1].flags & TXN_F_ID_INVALID);
	ck_assert_str_eq(rec->done[1].method, "NOOP");
	ck_assert_int_eq(rec->done[1].end, TXN_END_COMPLETE);
	/* "A1 OK" does not match the pattern: still open when aborted */
	ck_assert_str_eq(rec->done[2].method, "A1");
	ck_assert_int_eq(rec->done[2].end, TXN_END_ABORT);
	ck_assert_uint_eq(ctx.stats.ids, 1);
	ck_assert_uint_eq(ctx.stats.ids_invalid, 1);
	SPLITS(s);
}
END_TEST

START_TEST(limits)
{
	struct txn_parser_config cfg;
	char err[200];
	txn_parser_ctx_free(&ctx);
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_max = 16;
	cfg.max_pending = 2;
	ck_assert_int_eq(txn_parser_ctx_init(&ctx, &cfg, err, sizeof(err)), 0);

	char big[100];
	memset(big, 'a', sizeof(big));
	const struct txn_step s[] = {REQN(big, sizeof(big)), REQ("\nls\n"), RESP("x"), EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_LINE_TOO_LONG], 1);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_ERROR);
	ck_assert(rec->done[0].flags & TXN_F_REQ_TRUNCATED);

	/* exactly line_max is fine */
	trec_init(rec);
	const struct txn_step ok[] = {REQN(big, 16), REQ("\n"), RESP("x"), EOF_RESP};
	ck_assert_int_eq(RUN(ok), TXN_CONN_OK);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);

	/* silent commands pile up */
	trec_init(rec);
	const struct txn_step p[] = {REQ("a\nb\nc\n"), RESP("out"), EOF_RESP};
	ck_assert_int_eq(RUN(p), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_PENDING], 1);
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
}
END_TEST

START_TEST(target_cut)
{
	char line[400];
	memset(line, 'w', 300);
	memcpy(line + 300, " rest\n", 7);
	const struct txn_step s[] = {REQ(line), REQN("a\0b\n", 4), EOF_RESP};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert(rec->done[0].flags & TXN_F_TARGET_TRUNCATED);
	ck_assert_uint_eq(strlen(rec->done[0].target), TXN_TARGET_MAX - 1);
	ck_assert_uint_eq(strlen(rec->done[0].method), TXN_METHOD_MAX - 1);
	ck_assert_uint_eq(rec->done[0].req_end, 306);
	ck_assert_str_eq(rec->done[1].target, "a");
	ck_assert(rec->done[1].flags & TXN_F_TARGET_TRUNCATED);
	ck_assert_uint_eq(rec->done[1].req_end, 310);
}
END_TEST

START_TEST(gaps)
{
	/* a hole in a request: nothing after it is guessed */
	const struct txn_step q[] = {REQ("ls\nca"), GAP(TXN_DIR_REQUEST, 5), REQ("t x\n"),
				     RESP("out"), EOF_RESP};
	ck_assert_int_eq(RUN(q), TXN_CONN_UNSYNC);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert_int_eq(rec->done[1].end, TXN_END_GAP);
	ck_assert(rec->done[1].flags & TXN_F_REQ_TRUNCATED);

	/* next-request mode steps over holes in responses */
	trec_init(rec);
	const struct txn_step r[] = {REQ("cat f\n"), RESP("ab"),  GAP(TXN_DIR_RESPONSE, 1000),
				     RESP("yz"),     REQ("ls\n"), EOF_RESP};
	ck_assert_int_eq(RUN(r), TXN_CONN_OK);
	no_violation();
	expect(0, 0, 6, 0, 1004, "cat f", TXN_END_COMPLETE);
	ck_assert(rec->done[0].flags & TXN_F_GAP_IN_BODY);
	ck_assert_uint_eq(rec->done[0].resp_body_bytes, 1004);
	SPLITS(r);

	/* the terminator modes cannot */
	use(TXN_LINE_RESP_STRING, "\n", "\n$ ", NULL, NULL);
	const struct txn_step t[] = {REQ("cat f\n"), RESP("ab"), GAP(TXN_DIR_RESPONSE, 10),
				     RESP("\n$ ")};
	ck_assert_int_eq(RUN(t), TXN_CONN_UNSYNC);
	no_violation();
	ck_assert_int_eq(rec->done[0].end, TXN_END_GAP);
}
END_TEST

START_TEST(eof_rules)
{
	const struct txn_step s[] = {REQ("a\nb\n"), RESP("out"),  REQ("partial"),
				     EOF_REQ,	    RESP("more"), EOF_RESP};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 3);
	/* "partial" began after output: a and b end there */
	expect(0, 0, 2, 0, 3, "a", TXN_END_COMPLETE);
	expect(1, 2, 4, 3, 3, "b", TXN_END_COMPLETE);
	ck_assert_int_eq(rec->done[2].end, TXN_END_EOF);
	ck_assert(rec->done[2].flags & TXN_F_REQ_TRUNCATED);
	ck_assert_uint_eq(rec->done[2].resp_end, 7);
	ck_assert_uint_eq(ctx.stats.eof_mid_request, 1);

	/* a FIN ends every complete request's response */
	trec_init(rec);
	const struct txn_step f[] = {REQ("ls\nexit\n"), RESP("x y\n"), EOF_RESP};
	RUN(f);
	no_violation();
	expect(0, 0, 3, 0, 4, "ls", TXN_END_COMPLETE);
	expect(1, 3, 8, 4, 4, "exit", TXN_END_COMPLETE);
	SPLITS(f);
}
END_TEST

START_TEST(config_errors)
{
	struct txn_parser_config cfg;
	struct txn_parser_ctx c;
	char err[200];
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_resp = TXN_LINE_RESP_LINE;
	snprintf(cfg.line_pattern, sizeof(cfg.line_pattern), "(unclosed");
	ck_assert_int_eq(txn_parser_ctx_init(&c, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line_pattern"));
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_resp = TXN_LINE_RESP_STRING;
	ck_assert_int_eq(txn_parser_ctx_init(&c, &cfg, err, sizeof(err)), -EINVAL);
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_delims_len = 0;
	ck_assert_int_eq(txn_parser_ctx_init(&c, &cfg, err, sizeof(err)), -EINVAL);
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_LINE;
	cfg.line_resp = 9;
	ck_assert_int_eq(txn_parser_ctx_init(&c, &cfg, err, sizeof(err)), -EINVAL);
}
END_TEST

/* The [transactions] keys for a daemon's config file. */
START_TEST(config_keys)
{
	struct txn_parser_config cfg;
	struct config_error err;
	txn_parser_config_default(&cfg);
	const char *text = "[transactions]\n"
			   "protocol = line\n"
			   "max_pending = 8\n"
			   "max_header_bytes = 16KiB\n"
			   "id = \"craft-\"\n"
			   "line_delimiters = \"\\\\n;|\"\n"
			   "line_response = string\n"
			   "line_terminator = \\r\\n.\\r\\n\n";
	ck_assert_int_eq(config_load_string("t.conf", text, txn_parser_config_keys, &cfg, &err), 0);
	ck_assert_int_eq(cfg.proto, TXN_PROTO_LINE);
	ck_assert_uint_eq(cfg.max_pending, 8);
	ck_assert_uint_eq(cfg.max_header_bytes, 16384);
	ck_assert_str_eq(cfg.id_name, "craft-");
	ck_assert_uint_eq(cfg.line_delims_len, 3);
	ck_assert(memcmp(cfg.line_delims, "\n;|", 3) == 0);
	ck_assert_int_eq(cfg.line_resp, TXN_LINE_RESP_STRING);
	ck_assert_uint_eq(cfg.line_terminator_len, 5);
	ck_assert(memcmp(cfg.line_terminator, "\r\n.\r\n", 5) == 0);
	ck_assert_int_eq(config_load_string("t.conf", "[transactions]\nline_terminator = \\q\n",
					    txn_parser_config_keys, &cfg, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "t.conf:2:"));

	/* the context checks what a table cannot */
	struct txn_parser_ctx c2;
	char msg[200];
	txn_parser_config_default(&cfg);
	cfg.max_header_bytes = 1 << 20;
	ck_assert_int_eq(txn_parser_ctx_init(&c2, &cfg, msg, sizeof(msg)), -EINVAL);
	txn_parser_config_default(&cfg);
	cfg.max_pending = 0;
	ck_assert_int_eq(txn_parser_ctx_init(&c2, &cfg, msg, sizeof(msg)), -EINVAL);
	txn_parser_config_default(&cfg);
	cfg.proto = 7;
	ck_assert_int_eq(txn_parser_ctx_init(&c2, &cfg, msg, sizeof(msg)), -EINVAL);
}
END_TEST

Suite *line_txn_suite(void);

Suite *line_txn_suite(void)
{
	Suite *s = suite_create("line_txn");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, semicolon_and_newline);
	tcase_add_test(tc, crlf_blanks_and_words);
	tcase_add_test(tc, string_terminator);
	tcase_add_test(tc, string_terminator_overlapping);
	tcase_add_test(tc, line_pattern_smtp);
	tcase_add_test(tc, transaction_id_prefix);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, target_cut);
	tcase_add_test(tc, gaps);
	tcase_add_test(tc, eof_rules);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, config_keys);
	suite_add_tcase(s, tc);
	return s;
}
