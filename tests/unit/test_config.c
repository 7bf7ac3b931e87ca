/* Unit tests for config: every error kind with its exact line:col, the
 * boundaries of every value type, comments, quoting, CRLF, NUL bytes, very
 * long lines, files, config_set and the dump/reload round trip. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

struct test_config {
	uint32_t queue_num;
	bool bypass;
	char name[32];
	struct in_addr addr;
	uint64_t timeout_ms;
	uint64_t bufsize;
	int mode;
	struct sockaddr_in backend;
	uint32_t top;
	unsigned nlist;
	char list[4][16];
};

static const char *const modes[] = {"passthrough", "logging", "transactional", NULL};

static int parse_list(void *dst, const struct config_key *key, const char *value, char *err,
		      size_t errlen)
{
	struct test_config *c = dst;
	(void)key;
	if (c->nlist >= 4) {
		snprintf(err, errlen, "too many entries (at most 4)");
		return -1;
	}
	return config_parse_str(value, c->list[c->nlist++], sizeof(c->list[0]), err, errlen) ? -1
											     : 0;
}

static void dump_list(FILE *out, const struct config_key *key, const void *dst)
{
	const struct test_config *c = dst;
	for (unsigned i = 0; i < c->nlist; i++) {
		fprintf(out, "%s = ", key->key);
		config_print_value(out, c->list[i]);
		fputc('\n', out);
	}
}

static const struct config_key keys[] = {
    CONFIG_U32("", "top", struct test_config, top, 0, 10),
    CONFIG_U32("queue", "num", struct test_config, queue_num, 0, 65535),
    CONFIG_BOOL("queue", "bypass", struct test_config, bypass),
    CONFIG_STR("main", "name", struct test_config, name),
    CONFIG_IPV4("main", "addr", struct test_config, addr),
    CONFIG_DURATION_MS("main", "timeout", struct test_config, timeout_ms, 10, 600000),
    CONFIG_SIZE("main", "bufsize", struct test_config, bufsize, 1024, 1ull << 30),
    CONFIG_ENUM("main", "mode", struct test_config, mode, modes),
    CONFIG_IPV4_PORT("main", "backend", struct test_config, backend),
    CONFIG_CUSTOM_DUMP("main", "item", parse_list, dump_list),
    {0},
};

static struct test_config cfg;
static struct config_error cerr;

static void set_defaults(struct test_config *c)
{
	memset(c, 0, sizeof(*c));
	c->queue_num = 7;
	c->timeout_ms = 200;
	c->bufsize = 65536;
	snprintf(c->name, sizeof(c->name), "default");
}

static int load(const char *text)
{
	set_defaults(&cfg);
	return config_load_string("t.conf", text, keys, &cfg, &cerr);
}

/* Loads text, expects failure at line:col with msg as the whole message. */
#define expect_error(text, l, c, want)                                                             \
	do {                                                                                       \
		ck_assert_int_eq(load(text), -EINVAL);                                             \
		ck_assert_str_eq(cerr.msg, want);                                                  \
		ck_assert_uint_eq(cerr.line, l);                                                   \
		ck_assert_uint_eq(cerr.col, c);                                                    \
	} while (0)

START_TEST(test_all_types)
{
	ck_assert_int_eq(load("top = 3\n"
			      "[queue]\n"
			      "num = 3\n"
			      "bypass = yes\n"
			      "[main]\n"
			      "name = hello\n"
			      "addr = 198.18.1.2\n"
			      "timeout = 2m\n"
			      "bufsize = 8MiB\n"
			      "mode = Logging\n"
			      "backend = 198.18.2.11:8080\n"
			      "item = a\n"
			      "item = b\n"),
			 0);
	ck_assert_uint_eq(cfg.top, 3);
	ck_assert_uint_eq(cfg.queue_num, 3);
	ck_assert(cfg.bypass);
	ck_assert_str_eq(cfg.name, "hello");
	ck_assert_uint_eq(cfg.addr.s_addr, inet_addr("198.18.1.2"));
	ck_assert_uint_eq(cfg.timeout_ms, 120000);
	ck_assert_uint_eq(cfg.bufsize, 8u << 20);
	ck_assert_int_eq(cfg.mode, 1);
	ck_assert_uint_eq(cfg.backend.sin_family, AF_INET);
	ck_assert_uint_eq(cfg.backend.sin_addr.s_addr, inet_addr("198.18.2.11"));
	ck_assert_uint_eq(ntohs(cfg.backend.sin_port), 8080);
	ck_assert_uint_eq(cfg.nlist, 2);
	ck_assert_str_eq(cfg.list[1], "b");
}
END_TEST

START_TEST(test_defaults_kept)
{
	ck_assert_int_eq(load("[queue]\nbypass = on\n"), 0);
	ck_assert_uint_eq(cfg.queue_num, 7);
	ck_assert_uint_eq(cfg.timeout_ms, 200);
	ck_assert_str_eq(cfg.name, "default");
	ck_assert_int_eq(load(""), 0);
	ck_assert_int_eq(load("\n\n   \n\t\n"), 0);
}
END_TEST

START_TEST(test_comments_and_whitespace)
{
	ck_assert_int_eq(load("# full line\n"
			      "; also full line\n"
			      "   # indented comment\n"
			      "  [ queue ]   # after header\n"
			      "\tnum\t=\t12   # trailing\n"
			      "[main]; directly after header\n"
			      "name = a#b;c ; trailing after blank\n"
			      "  addr=198.18.0.1  \n"),
			 0);
	ck_assert_uint_eq(cfg.queue_num, 12);
	ck_assert_str_eq(cfg.name, "a#b;c");
	ck_assert_uint_eq(cfg.addr.s_addr, inet_addr("198.18.0.1"));
	/* Case-insensitive section and key names. */
	ck_assert_int_eq(load("[QUEUE]\nNum = 4\n"), 0);
	ck_assert_uint_eq(cfg.queue_num, 4);
}
END_TEST

START_TEST(test_quoting)
{
	ck_assert_int_eq(load("[main]\nname = \"  two # words ; \"  # c\n"), 0);
	ck_assert_str_eq(cfg.name, "  two # words ; ");
	ck_assert_int_eq(load("[main]\nname = \"a\\\"b\\\\c\"\n"), 0);
	ck_assert_str_eq(cfg.name, "a\"b\\c");
	ck_assert_int_eq(load("[main]\nname = \"\"\n"), 0);
	ck_assert_str_eq(cfg.name, "");
	ck_assert_int_eq(load("[main]\nname =\n"), 0);
	ck_assert_str_eq(cfg.name, "");
	/* A quote inside an unquoted value is just a character. */
	ck_assert_int_eq(load("[main]\nname = a\"b\n"), 0);
	ck_assert_str_eq(cfg.name, "a\"b");
	ck_assert_int_eq(load("[queue]\nnum = \"42\"\n"), 0);
	ck_assert_uint_eq(cfg.queue_num, 42);
	expect_error("[main]\nname = \"abc\n", 2, 8, "t.conf:2:8: unterminated quoted value");
	expect_error("[main]\nname = \"abc\\\"\n", 2, 8, "t.conf:2:8: unterminated quoted value");
	expect_error("[main]\nname = \"a\\nb\"\n", 2, 10,
		     "t.conf:2:10: invalid escape '\\n' in quoted value (only \\\" and \\\\)");
	expect_error("[main]\nname = \"ab\" x\n", 2, 13,
		     "t.conf:2:13: unexpected text after quoted value");
}
END_TEST

START_TEST(test_crlf)
{
	ck_assert_int_eq(load("[queue]\r\nnum = 9\r\n[main]\r\nname = \"x y\"\r\n"), 0);
	ck_assert_uint_eq(cfg.queue_num, 9);
	ck_assert_str_eq(cfg.name, "x y");
	ck_assert_int_eq(load("\xef\xbb\xbf[queue]\nnum = 1"), 0); /* BOM, no final newline */
	ck_assert_uint_eq(cfg.queue_num, 1);
	expect_error("[queue]\r\nnum = 1\r\nnmu = 2\r\n", 3, 1,
		     "t.conf:3:1: unknown key 'nmu' in section [queue]");
}
END_TEST

START_TEST(test_errors_syntax)
{
	expect_error("[queue]\nnum = 1\n\n\n\n\n\n\n\n\n\n        nmu = 3\n", 12, 9,
		     "t.conf:12:9: unknown key 'nmu' in section [queue]");
	expect_error("[queue]\nnum 3\n", 2, 5, "t.conf:2:5: missing '=' after key 'num'");
	expect_error("[queue]\nnum\n", 2, 4, "t.conf:2:4: missing '=' after key 'num'");
	expect_error("[queue]\n  = 3\n", 2, 3, "t.conf:2:3: missing key before '='");
	expect_error("[queue]\nn!m = 3\n", 2, 2, "t.conf:2:2: invalid character '!' in key");
	expect_error("[queue]\n\x01 = 3\n", 2, 1,
		     "t.conf:2:1: invalid character '\\x01' at start of key");
	expect_error("\n  [queue\nnum = 1\n", 2, 3,
		     "t.conf:2:3: unterminated section header (missing ']')");
	expect_error("[ ]\n", 1, 1, "t.conf:1:1: empty section name");
	expect_error("[queue] x\n", 1, 9, "t.conf:1:9: unexpected text after section header");
	expect_error("[ nope ]\n", 1, 3, "t.conf:1:3: unknown section [nope]");
	expect_error("num = 1\n", 1, 1, "t.conf:1:1: unknown key 'num' (outside any section)");
	expect_error("[queue]\nnum = 1\nbypass = no\nNUM = 2\n", 4, 1,
		     "t.conf:4:1: duplicate key 'queue.num' (first set on line 2)");
	/* Repeating a section is allowed; the duplicate check spans both. */
	expect_error("[queue]\nnum = 1\n[main]\n[queue]\nnum = 2\n", 5, 1,
		     "t.conf:5:1: duplicate key 'queue.num' (first set on line 2)");
	ck_assert_int_eq(load("[queue]\nnum = 1\n[main]\n[queue]\nbypass = 1\n"), 0);
	/* Keys before any section are looked up in section "". */
	expect_error("top = 1\ntop = 2\n", 2, 1,
		     "t.conf:2:1: duplicate key 'top' (first set on line 1)");
}
END_TEST

START_TEST(test_errors_values)
{
	expect_error("[queue]\nnum = 300000\n", 2, 7,
		     "t.conf:2:7: value 300000 out of range 0..65535 for queue.num");
	expect_error("[queue]\nnum = 3x\n", 2, 7, "t.conf:2:7: invalid number '3x' for queue.num");
	expect_error("[queue]\nnum =\n", 2, 6, "t.conf:2:6: invalid number '' for queue.num");
	expect_error("[queue]\nnum = -1\n", 2, 7, "t.conf:2:7: invalid number '-1' for queue.num");
	expect_error("top = 11\n", 1, 7, "t.conf:1:7: value 11 out of range 0..10 for top");
	expect_error("[queue]\nbypass = maybe\n", 2, 10,
		     "t.conf:2:10: invalid boolean 'maybe' (expected true/false, yes/no, on/off, "
		     "1/0) for queue.bypass");
	expect_error("[main]\nname = 0123456789abcdef0123456789abcdef\n", 2, 8,
		     "t.conf:2:8: value too long (32 bytes, at most 31) for main.name");
	expect_error("[main]\naddr = 198.18.1\n", 2, 8,
		     "t.conf:2:8: invalid IPv4 address '198.18.1' for main.addr");
	expect_error("[main]\ntimeout = 5ms\n", 2, 11,
		     "t.conf:2:11: value 5ms out of range 10ms..10m for main.timeout");
	expect_error("[main]\ntimeout = 1 s\n", 2, 11,
		     "t.conf:2:11: invalid duration '1 s' (expected e.g. 200ms, 1s, 2m, 1h) for "
		     "main.timeout");
	expect_error(
	    "[main]\nbufsize = 8KB\n", 2, 11,
	    "t.conf:2:11: invalid size '8KB' (expected e.g. 4096, 64KiB, 8MiB, 1GiB; units "
	    "are binary) for main.bufsize");
	expect_error("[main]\nbufsize = 2GiB\n", 2, 11,
		     "t.conf:2:11: value 2GiB out of range 1KiB..1GiB for main.bufsize");
	expect_error("[main]\nmode = fast\n", 2, 8,
		     "t.conf:2:8: invalid value 'fast' (expected one of: passthrough, logging, "
		     "transactional) for main.mode");
	expect_error("[main]\nbackend = 198.18.2.11:0\n", 2, 11,
		     "t.conf:2:11: port 0 out of range 1..65535 for main.backend");
	expect_error("[main]\nitem=a\nitem=b\nitem=c\nitem=d\nitem=e\n", 6, 6,
		     "t.conf:6:6: too many entries (at most 4) for main.item");
}
END_TEST

START_TEST(test_nul_and_long_lines)
{
	static const char text[] = "[queue]\nnum = 1\0\n";
	set_defaults(&cfg);
	ck_assert_int_eq(config_load_buffer("t.conf", text, sizeof(text) - 1, keys, &cfg, &cerr),
			 -EINVAL);
	ck_assert_str_eq(cerr.msg, "t.conf:2:8: NUL byte in line");

	size_t n = CONFIG_LINE_MAX + 100;
	char *big = malloc(n + 32);
	ck_assert_ptr_nonnull(big);
	strcpy(big, "# ok\n");
	memset(big + 5, 'x', n);
	strcpy(big + 5 + n, "\n");
	ck_assert_int_eq(load(big), -EINVAL);
	ck_assert_str_eq(cerr.msg, "t.conf:2:4097: line too long (more than 4096 bytes)");

	/* Exactly CONFIG_LINE_MAX is accepted (a comment here). */
	memset(big, '#', CONFIG_LINE_MAX);
	big[CONFIG_LINE_MAX] = '\0';
	ck_assert_int_eq(load(big), 0);

	/* A value that fills the line is bounded by the field, not overrun. */
	memcpy(big, "[main]\nname = ", 14);
	memset(big + 14, 'y', CONFIG_LINE_MAX - 7);
	big[CONFIG_LINE_MAX + 7] = '\0';
	ck_assert_int_eq(load(big), -EINVAL);
	ck_assert_str_eq(cerr.msg, "t.conf:2:8: value too long (4089 bytes, at most 31) for "
				   "main.name");
	free(big);
}
END_TEST

START_TEST(test_parse_u32)
{
	uint32_t v = 99;
	char e[128];
	ck_assert_int_eq(config_parse_u32("0", 0, 65535, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(config_parse_u32("65535", 0, 65535, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 65535);
	ck_assert_int_eq(config_parse_u32("65536", 0, 65535, &v, e, sizeof(e)), -ERANGE);
	ck_assert_str_eq(e, "value 65536 out of range 0..65535");
	ck_assert_int_eq(config_parse_u32("4294967295", 0, UINT32_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(config_parse_u32("4294967296", 0, UINT32_MAX, &v, e, sizeof(e)), -ERANGE);
	ck_assert_int_eq(
	    config_parse_u32("99999999999999999999999", 0, UINT32_MAX, &v, e, sizeof(e)), -ERANGE);
	ck_assert_str_eq(e, "value 99999999999999999999999 out of range 0..4294967295");
	ck_assert_int_eq(config_parse_u32("4", 5, 9, &v, e, sizeof(e)), -ERANGE);
	ck_assert_int_eq(config_parse_u32(" 4", 0, 9, &v, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_u32("+4", 0, 9, &v, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_u32("0x4", 0, 9, &v, e, sizeof(e)), -EINVAL);
	ck_assert_uint_eq(v, UINT32_MAX); /* untouched on error */
	ck_assert_int_eq(config_parse_u32("007", 0, 9, &v, NULL, 0), 0);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_parse_bool_enum_str)
{
	bool b = false;
	int m = -1;
	char e[160], s[4];
	const char *yes[] = {"true", "YES", "on", "1"}, *no[] = {"false", "No", "OFF", "0"};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(config_parse_bool(yes[i], &b, e, sizeof(e)), 0);
		ck_assert(b);
		ck_assert_int_eq(config_parse_bool(no[i], &b, e, sizeof(e)), 0);
		ck_assert(!b);
	}
	ck_assert_int_eq(config_parse_bool("", &b, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_bool("2", &b, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_enum("transactional", modes, &m, e, sizeof(e)), 0);
	ck_assert_int_eq(m, 2);
	ck_assert_int_eq(config_parse_enum("", modes, &m, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(m, 2);
	ck_assert_int_eq(config_parse_str("abc", s, sizeof(s), e, sizeof(e)), 0);
	ck_assert_str_eq(s, "abc");
	ck_assert_int_eq(config_parse_str("abcd", s, sizeof(s), e, sizeof(e)), -ERANGE);
	ck_assert_str_eq(e, "value too long (4 bytes, at most 3)");
	ck_assert_str_eq(s, "abc");
}
END_TEST

START_TEST(test_parse_addresses)
{
	struct in_addr a;
	struct sockaddr_in sa;
	char e[128];
	ck_assert_int_eq(config_parse_ipv4("0.0.0.0", &a, e, sizeof(e)), 0);
	ck_assert_int_eq(config_parse_ipv4("255.255.255.255", &a, e, sizeof(e)), 0);
	ck_assert_uint_eq(a.s_addr, 0xffffffffu);
	ck_assert_int_eq(config_parse_ipv4("256.0.0.1", &a, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4("1.2.3", &a, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4("1.2.3.4 ", &a, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4("", &a, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1:80", &sa, e, sizeof(e)), 0);
	ck_assert_uint_eq(ntohs(sa.sin_port), 80);
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1:1", &sa, e, sizeof(e)), 0);
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1:65535", &sa, e, sizeof(e)), 0);
	ck_assert_uint_eq(ntohs(sa.sin_port), 65535);
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1:65536", &sa, e, sizeof(e)), -ERANGE);
	ck_assert_str_eq(e, "port 65536 out of range 1..65535");
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1:", &sa, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4_port("198.18.1.1", &sa, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4_port(":80", &sa, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4_port("host:80", &sa, e, sizeof(e)), -EINVAL);
	ck_assert_str_eq(e, "invalid IPv4 address 'host' in 'host:80'");
	ck_assert_int_eq(config_parse_ipv4_port("1.2.3.4:8x", &sa, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_ipv4_port("111.111.111.1111:80", &sa, e, sizeof(e)), -EINVAL);
}
END_TEST

START_TEST(test_parse_duration_size)
{
	uint64_t v = 0;
	char e[160], buf[32];
	ck_assert_int_eq(config_parse_duration_ms("200ms", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 200);
	ck_assert_int_eq(config_parse_duration_ms("1s", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 1000);
	ck_assert_int_eq(config_parse_duration_ms("2m", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 120000);
	ck_assert_int_eq(config_parse_duration_ms("3h", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 3 * 3600000ull);
	ck_assert_int_eq(config_parse_duration_ms("1d", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 86400000ull);
	ck_assert_int_eq(config_parse_duration_ms("1500", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 1500);
	ck_assert_int_eq(config_parse_duration_ms("1S", 0, UINT64_MAX, &v, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_duration_ms("s", 0, UINT64_MAX, &v, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_duration_ms("1.5s", 0, UINT64_MAX, &v, e, sizeof(e)),
			 -EINVAL);
	ck_assert_int_eq(
	    config_parse_duration_ms("18446744073709551615", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(
	    config_parse_duration_ms("18446744073709551615s", 0, UINT64_MAX, &v, e, sizeof(e)),
	    -ERANGE);
	ck_assert_int_eq(
	    config_parse_duration_ms("18446744073709551616", 0, UINT64_MAX, &v, e, sizeof(e)),
	    -ERANGE);
	ck_assert_int_eq(config_parse_duration_ms("1m", 0, 59999, &v, e, sizeof(e)), -ERANGE);
	ck_assert_str_eq(e, "value 1m out of range 0..59999ms");

	ck_assert_int_eq(config_parse_size("64KiB", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(config_parse_size("8MiB", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 8u << 20);
	ck_assert_int_eq(config_parse_size("1GiB", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 1u << 30);
	ck_assert_int_eq(config_parse_size("2g", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(config_parse_size("1000", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_uint_eq(v, 1000);
	ck_assert_int_eq(config_parse_size("1000B", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_int_eq(config_parse_size("16777216TiB", 0, UINT64_MAX, &v, e, sizeof(e)),
			 -ERANGE);
	ck_assert_int_eq(config_parse_size("16777215TiB", 0, UINT64_MAX, &v, e, sizeof(e)), 0);
	ck_assert_int_eq(config_parse_size("1MB", 0, UINT64_MAX, &v, e, sizeof(e)), -EINVAL);
	ck_assert_int_eq(config_parse_size("", 0, UINT64_MAX, &v, e, sizeof(e)), -EINVAL);

	config_format_duration_ms(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	config_format_duration_ms(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1500ms");
	config_format_duration_ms(120000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2m");
	config_format_size(65536, buf, sizeof(buf));
	ck_assert_str_eq(buf, "64KiB");
	config_format_size(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1000");
}
END_TEST

START_TEST(test_set_and_find)
{
	char e[256];
	set_defaults(&cfg);
	ck_assert_int_eq(config_set(keys, &cfg, "queue", "num", "5", e, sizeof(e)), 0);
	ck_assert_uint_eq(cfg.queue_num, 5);
	ck_assert_int_eq(config_set(keys, &cfg, "queue", "num", "70000", e, sizeof(e)), -EINVAL);
	ck_assert_str_eq(e, "value 70000 out of range 0..65535 for queue.num");
	ck_assert_int_eq(config_set(keys, &cfg, "queue", "nope", "1", e, sizeof(e)), -EINVAL);
	ck_assert_str_eq(e, "unknown key 'queue.nope'");
	ck_assert_ptr_nonnull(config_find(keys, NULL, "top"));
	ck_assert_ptr_nonnull(config_find(keys, "Main", "MODE"));
	ck_assert_ptr_null(config_find(keys, "main", "num"));
}
END_TEST

START_TEST(test_file)
{
	char path[] = "/tmp/craft-test-config-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char text[] = "[queue]\nnum = 11\n[main]\nbogus = 1\n";
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	set_defaults(&cfg);
	ck_assert_int_eq(config_load_file(path, keys, &cfg, &cerr), -EINVAL);
	ck_assert_uint_eq(cfg.queue_num, 11);
	ck_assert_uint_eq(cerr.line, 4);
	ck_assert_ptr_nonnull(strstr(cerr.msg, ":4:1: unknown key 'bogus' in section [main]"));
	ck_assert_int_eq(strncmp(cerr.msg, path, strlen(path)), 0);
	unlink(path);

	ck_assert_int_eq(config_load_file(path, keys, &cfg, &cerr), -ENOENT);
	ck_assert_uint_eq(cerr.line, 0);
	ck_assert_ptr_nonnull(strstr(cerr.msg, ": cannot open: No such file or directory"));
	ck_assert_int_eq(config_load_file("/tmp", keys, &cfg, &cerr), -EISDIR);
	ck_assert_int_eq(config_load_file(path, keys, &cfg, NULL), -ENOENT);
}
END_TEST

START_TEST(test_dump_roundtrip)
{
	ck_assert_int_eq(load("top = 2\n[queue]\nnum = 65535\nbypass = true\n[main]\n"
			      "name = \"a \\\"q\\\" #\"\naddr = 198.18.3.1\ntimeout = 1500\n"
			      "bufsize = 3MiB\nmode = transactional\nbackend = 198.18.2.12:443\n"
			      "item = x\nitem = \"y z\"\n"),
			 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_dump(f, keys, &cfg);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "top = 2\n\n[queue]\nnum = 65535\nbypass = true\n"));
	ck_assert_ptr_nonnull(strstr(text, "name = \"a \\\"q\\\" #\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "timeout = 1500ms\n"));
	ck_assert_ptr_nonnull(strstr(text, "bufsize = 3MiB\n"));
	ck_assert_ptr_nonnull(strstr(text, "backend = 198.18.2.12:443\n"));
	ck_assert_ptr_nonnull(strstr(text, "item = \"y z\"\n"));

	struct test_config first, again;
	memcpy(&first, &cfg, sizeof(first));
	set_defaults(&again);
	free(text);
	f = open_memstream(&text, &len);
	config_dump(f, keys, &first);
	fclose(f);
	ck_assert_int_eq(config_load_string("dump", text, keys, &again, &cerr), 0);
	ck_assert_mem_eq(&again, &first, sizeof(first));
	free(text);
}
END_TEST

struct extra_config {
	uint32_t depth;
};

static const struct config_key extra_keys[] = {
    CONFIG_U32("log", "depth", struct extra_config, depth, 1, 9),
    {0},
};

START_TEST(test_two_tables)
{
	struct extra_config extra = {.depth = 1};
	const struct config_table tables[] = {{keys, &cfg}, {extra_keys, &extra}};
	const char text[] = "[queue]\nnum = 2\n[log]\ndepth = 5\n[queue]\nbypass = 1\n";
	set_defaults(&cfg);
	ck_assert_int_eq(
	    config_load_buffer_tables("t.conf", text, sizeof(text) - 1, tables, 2, &cerr), 0);
	ck_assert_uint_eq(cfg.queue_num, 2);
	ck_assert(cfg.bypass);
	ck_assert_uint_eq(extra.depth, 5);
	const char bad[] = "[log]\ndepth = 0\n";
	ck_assert_int_eq(
	    config_load_buffer_tables("t.conf", bad, sizeof(bad) - 1, tables, 2, &cerr), -EINVAL);
	ck_assert_str_eq(cerr.msg, "t.conf:2:9: value 0 out of range 1..9 for log.depth");
	const char dup[] = "[log]\ndepth = 2\ndepth = 3\n";
	ck_assert_int_eq(
	    config_load_buffer_tables("t.conf", dup, sizeof(dup) - 1, tables, 2, &cerr), -EINVAL);
	ck_assert_str_eq(cerr.msg, "t.conf:3:1: duplicate key 'log.depth' (first set on line 2)");
}
END_TEST

Suite *config_suite(void);
Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_all_types);
	tcase_add_test(tc, test_defaults_kept);
	tcase_add_test(tc, test_comments_and_whitespace);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_errors_syntax);
	tcase_add_test(tc, test_errors_values);
	tcase_add_test(tc, test_nul_and_long_lines);
	tcase_add_test(tc, test_parse_u32);
	tcase_add_test(tc, test_parse_bool_enum_str);
	tcase_add_test(tc, test_parse_addresses);
	tcase_add_test(tc, test_parse_duration_size);
	tcase_add_test(tc, test_set_and_find);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_dump_roundtrip);
	tcase_add_test(tc, test_two_tables);
	suite_add_tcase(s, tc);
	return s;
}
