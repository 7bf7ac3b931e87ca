/* tags - the tag rules file and its matcher (paper §3.1: "For each
 * incoming request, the logger tries to match it with an internal table
 * (constructed from the user specification). If a match is found, the
 * corresponding information is used to tag the request. Otherwise, a
 * default, conservative tag assignment is made").
 *
 * Recovery uses the tags to decide what to replay: read-only transactions
 * whose response is logged are not replayed, non-idempotent ones never
 * twice, non-deterministic ones need their response saved first.  A wrong
 * "safe" tag silently corrupts a failover, so everything not matched is
 * tagged non-deterministic, update, non-idempotent (all bits clear), and a
 * rule may leave any attribute out to keep it conservative.
 *
 * File format, one rule per line, first match wins (file order); see the
 * example after this comment.
 * - HTTP rule: a method list ("*" for any; methods are case-sensitive, as
 *   in HTTP) and an fnmatch(3) glob matched against the request path: the
 *   target without "?query" and "#fragment", with "scheme://authority" of
 *   an absolute-form target removed.  Flags 0: "*" also matches "/", so
 *   the glob in the first example line covers "/static/css/a.css"; "[...]"
 *   and "\" work as in the shell.  CONNECT's target (host:port) and "*"
 *   (OPTIONS *) are matched as they are.
 * - Line rule: the word "line" and a POSIX extended regular expression
 *   (regcomp REG_EXTENDED), unanchored unless it says ^ or $, matched
 *   against the request text (line_txn.h: no leading blanks, no trailing
 *   CR or delimiter).  HTTP rules never match line requests and vice versa.
 * - Tags: deterministic | non-deterministic, read-only | update,
 *   idempotent | non-idempotent; each attribute at most once, in any order.
 * - Tokens are separated by blanks; a token with blanks or a leading # is
 *   written in double quotes, inside which \" and \\ stand for " and \.
 * Matching sees at most TXN_TARGET_MAX - 1 bytes of a target (txn_parser.h).
 * Errors name file:line:col (struct config_error, as config.h).  Limits:
 * TAGS_MAX_RULES rules, TAGS_PATTERN_MAX bytes per pattern, the line and
 * file limits of config.h.
 *
 * A loaded table is read-only, so threads may share it; each thread passes
 * its own struct tag_stats. */
// Example rules file:
//
//   # comment: a line, or anything after a token that starts with #
//   GET,HEAD  /static/*       deterministic read-only idempotent
//   POST      /login          non-deterministic update non-idempotent
//   *         /api/v1/items/* read-only
//   line      "^(ls|pwd)( |$)" deterministic read-only idempotent
//   line      "^GET "         deterministic read-only idempotent
//
#ifndef CRAFT_TAGS_H
#define CRAFT_TAGS_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "txn_parser.h"

#define TAG_DETERMINISTIC 0x1u
#define TAG_READ_ONLY	  0x2u
#define TAG_IDEMPOTENT	  0x4u
/* non-deterministic, update, non-idempotent */
#define TAGS_CONSERVATIVE 0x0u

#define TAGS_MAX_RULES	 1024
#define TAGS_PATTERN_MAX 512
#define TAGS_METHODS_MAX 128

enum tag_rule_kind {
	TAG_RULE_HTTP,
	TAG_RULE_LINE,
};

struct tag_rule {
	enum tag_rule_kind kind;
	unsigned tags;			/* TAG_* bits */
	unsigned line;			/* in the rules file */
	char methods[TAGS_METHODS_MAX]; /* HTTP: ",GET,HEAD," or "*" */
	char *glob;			/* HTTP */
	regex_t re;			/* line */
};

struct tag_rules {
	struct tag_rule *rules;
	unsigned n;
};

struct tag_match {
	unsigned tags; /* TAG_* bits */
	int rule;      /* index of the rule that matched, -1: the default */
	unsigned line; /* its line in the file, 0: the default */
};

struct tag_stats {
	uint64_t matched;   /* requests a rule matched */
	uint64_t defaulted; /* requests given the conservative default */
};

/* An empty table tags everything conservatively. */
void tags_init(struct tag_rules *r);
/* Replace nothing on error: r is left empty.  0, -EINVAL (syntax, message
 * "name:line:col: ..." in err), -E2BIG (too many rules), -EFBIG, -ENOMEM or
 * -errno from reading the file.  err may be NULL. */
int tags_load_file(struct tag_rules *r, const char *path, struct config_error *err);
int tags_load_buffer(struct tag_rules *r, const char *name, const char *data, size_t len,
		     struct config_error *err);
void tags_free(struct tag_rules *r);

/* st may be NULL. */
struct tag_match tags_match_http(const struct tag_rules *r, const char *method, const char *target,
				 struct tag_stats *st);
struct tag_match tags_match_line(const struct tag_rules *r, const char *text, struct tag_stats *st);
/* By protocol, from the transaction's method and target (REQUEST_HEAD). */
struct tag_match tags_match_txn(const struct tag_rules *r, enum txn_proto proto,
				const struct txn *t, struct tag_stats *st);

/* "deterministic read-only idempotent", "non-deterministic update
 * non-idempotent", ...: the words of the rules file, into buf. */
const char *tags_format(unsigned tags, char *buf, size_t len);

/* The path part a glob is matched against (see above), into buf. */
void tags_http_path(const char *target, char *buf, size_t len);

void tags_collect_stats(const struct tag_rules *r, const struct tag_stats *st,
			struct stats_report *rep, const char *prefix);

#endif /* CRAFT_TAGS_H */
