/* tags - loading the rules file and matching requests against it (format
 * and semantics in tags.h).  The file is read whole (bounded), cut into
 * lines copied into a fixed buffer, and each line into tokens copied into
 * fixed buffers, so no input makes the loader overrun or allocate without
 * bound; patterns are compiled at load time so a bad one is reported with
 * its position instead of failing later per request. */
#include "tags.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

struct load {
	const char *name;
	unsigned line;
	struct config_error *err;
};

static void fail(struct load *l, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct load *l, unsigned col, const char *fmt, ...)
{
	char text[360];
	va_list ap;
	if (!l->err)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	l->err->line = l->line;
	l->err->col = col;
	if (l->line)
		snprintf(l->err->msg, sizeof(l->err->msg), "%.100s:%u:%u: %s", l->name, l->line,
			 col, text);
	else
		snprintf(l->err->msg, sizeof(l->err->msg), "%.100s: %s", l->name, text);
}

void tags_init(struct tag_rules *r)
{
	r->rules = NULL;
	r->n = 0;
}

void tags_free(struct tag_rules *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		if (r->rules[i].kind == TAG_RULE_HTTP)
			free(r->rules[i].glob);
		else
			regfree(&r->rules[i].re);
	}
	free(r->rules);
	tags_init(r);
}

/* ---- tokens ---- */

struct token {
	char text[TAGS_PATTERN_MAX + 1];
	size_t len;
	unsigned col; /* 1-based */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* 1: a token, 0: end of line (or comment), -1: error reported. */
static int next_token(struct load *l, const char *s, size_t len, size_t *pos, struct token *t)
{
	size_t i = *pos;
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i] == '#') {
		*pos = len;
		return 0;
	}
	t->col = (unsigned)i + 1;
	t->len = 0;
	bool quoted = s[i] == '"';
	if (quoted)
		i++;
	for (;;) {
		if (i == len) {
			if (quoted) {
				fail(l, t->col, "unterminated quote");
				return -1;
			}
			break;
		}
		char c = s[i];
		if (quoted && c == '"') {
			i++;
			if (i < len && !is_blank(s[i])) {
				fail(l, (unsigned)i + 1, "blank expected after closing quote");
				return -1;
			}
			break;
		}
		if (!quoted && is_blank(c))
			break;
		if (quoted && c == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
			c = s[++i];
		if (t->len >= TAGS_PATTERN_MAX) {
			fail(l, t->col, "token too long (at most %d bytes)", TAGS_PATTERN_MAX);
			return -1;
		}
		t->text[t->len++] = c;
		i++;
	}
	t->text[t->len] = '\0';
	*pos = i;
	return 1;
}

/* ---- one rule ---- */

static bool is_method_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '!' || c == '~';
}

static int parse_methods(struct load *l, const struct token *t, struct tag_rule *rule)
{
	if (strcmp(t->text, "*") == 0) {
		strcpy(rule->methods, "*");
		return 0;
	}
	if (t->len + 3 > sizeof(rule->methods)) {
		fail(l, t->col, "method list too long (at most %zu bytes)",
		     sizeof(rule->methods) - 3);
		return -1;
	}
	size_t word = 0;
	for (size_t i = 0; i <= t->len; i++) {
		char c = t->text[i];
		if (c == ',' || c == '\0') {
			if (word == 0) {
				fail(l, t->col + (unsigned)i, "empty method in list");
				return -1;
			}
			word = 0;
			continue;
		}
		if (!is_method_char(c)) {
			fail(l, t->col + (unsigned)i, "invalid character '%c' in method", c);
			return -1;
		}
		word++;
	}
	rule->methods[0] = ',';
	memcpy(rule->methods + 1, t->text, t->len);
	rule->methods[t->len + 1] = ',';
	rule->methods[t->len + 2] = '\0';
	return 0;
}

struct tag_word {
	const char *word;
	unsigned attr; /* the attribute's bit */
	bool set;      /* this word sets it */
};

static const struct tag_word tag_words[] = {
    {"deterministic", TAG_DETERMINISTIC, true}, {"non-deterministic", TAG_DETERMINISTIC, false},
    {"read-only", TAG_READ_ONLY, true},		{"update", TAG_READ_ONLY, false},
    {"idempotent", TAG_IDEMPOTENT, true},	{"non-idempotent", TAG_IDEMPOTENT, false},
};

static int parse_tag(struct load *l, const struct token *t, struct tag_rule *rule, unsigned *seen)
{
	for (size_t i = 0; i < sizeof(tag_words) / sizeof(tag_words[0]); i++) {
		const struct tag_word *w = &tag_words[i];
		if (strcmp(t->text, w->word) != 0)
			continue;
		if (*seen & w->attr) {
			fail(l, t->col, "'%s' repeats or contradicts an earlier tag", w->word);
			return -1;
		}
		*seen |= w->attr;
		if (w->set)
			rule->tags |= w->attr;
		return 0;
	}
	fail(l, t->col,
	     "unknown tag '%.64s' (deterministic, non-deterministic, read-only, update, "
	     "idempotent, non-idempotent)",
	     t->text);
	return -1;
}

/* 1: a rule in *rule, 0: blank line, -1: error reported. */
static int parse_line(struct load *l, const char *s, size_t len, struct tag_rule *rule)
{
	struct token t;
	size_t pos = 0;
	int rc = next_token(l, s, len, &pos, &t);
	if (rc <= 0)
		return rc;
	memset(rule, 0, sizeof(*rule));
	rule->line = l->line;
	unsigned kind_col = t.col;
	if (strcmp(t.text, "line") == 0)
		rule->kind = TAG_RULE_LINE;
	else if (parse_methods(l, &t, rule) < 0)
		return -1;
	else
		rule->kind = TAG_RULE_HTTP;

	rc = next_token(l, s, len, &pos, &t);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		fail(l, kind_col,
		     rule->kind == TAG_RULE_LINE ? "regular expression expected"
						 : "path pattern expected");
		return -1;
	}
	struct token pat = t;

	unsigned seen = 0;
	while ((rc = next_token(l, s, len, &pos, &t)) > 0)
		if (parse_tag(l, &t, rule, &seen) < 0)
			return -1;
	if (rc < 0)
		return -1;

	if (rule->kind == TAG_RULE_HTTP) {
		if (pat.len == 0) {
			fail(l, pat.col, "empty path pattern");
			return -1;
		}
		rule->glob = strdup(pat.text);
		if (!rule->glob) {
			fail(l, pat.col, "out of memory");
			return -ENOMEM;
		}
		return 1;
	}
	int e = regcomp(&rule->re, pat.text, REG_EXTENDED | REG_NOSUB);
	if (e != 0) {
		char msg[160];
		regerror(e, &rule->re, msg, sizeof(msg));
		fail(l, pat.col, "invalid regular expression: %s", msg);
		return -1;
	}
	return 1;
}

/* ---- the file ---- */

int tags_load_buffer(struct tag_rules *r, const char *name, const char *data, size_t len,
		     struct config_error *err)
{
	struct load l = {.name = name ? name : "tags", .line = 0, .err = err};
	struct tag_rules out;
	char line[CONFIG_LINE_MAX + 1];
	unsigned cap = 0;
	int rc = 0;

	tags_init(r);
	tags_init(&out);
	if (err) {
		err->msg[0] = '\0';
		err->line = err->col = 0;
	}
	if (len > CONFIG_FILE_MAX) {
		fail(&l, 0, "file too large (at most %d bytes)", CONFIG_FILE_MAX);
		return -EFBIG;
	}
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t n = end - pos;
		l.line++;
		if (n > CONFIG_LINE_MAX) {
			fail(&l, CONFIG_LINE_MAX + 1, "line too long (at most %d bytes)",
			     CONFIG_LINE_MAX);
			rc = -EINVAL;
			break;
		}
		memcpy(line, data + pos, n);
		line[n] = '\0';
		pos = end + 1;
		const char *nul = memchr(line, '\0', n);
		if (nul) {
			fail(&l, (unsigned)(nul - line) + 1, "NUL byte");
			rc = -EINVAL;
			break;
		}
		struct tag_rule rule;
		int got = parse_line(&l, line, n, &rule);
		if (got < 0) {
			rc = got == -ENOMEM ? -ENOMEM : -EINVAL;
			break;
		}
		if (got == 0)
			continue;
		if (out.n >= TAGS_MAX_RULES) {
			fail(&l, 1, "too many rules (at most %d)", TAGS_MAX_RULES);
			if (rule.kind == TAG_RULE_HTTP)
				free(rule.glob);
			else
				regfree(&rule.re);
			rc = -E2BIG;
			break;
		}
		if (out.n == cap) {
			unsigned ncap = cap ? cap * 2 : 8;
			if (ncap > TAGS_MAX_RULES)
				ncap = TAGS_MAX_RULES;
			struct tag_rule *nr = realloc(out.rules, ncap * sizeof(*nr));
			if (!nr) {
				fail(&l, 1, "out of memory");
				if (rule.kind == TAG_RULE_HTTP)
					free(rule.glob);
				else
					regfree(&rule.re);
				rc = -ENOMEM;
				break;
			}
			out.rules = nr;
			cap = ncap;
		}
		out.rules[out.n++] = rule;
	}
	if (rc != 0) {
		tags_free(&out);
		return rc;
	}
	*r = out;
	return 0;
}

int tags_load_file(struct tag_rules *r, const char *path, struct config_error *err)
{
	struct load l = {.name = path, .line = 0, .err = err};
	tags_init(r);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fail(&l, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		fail(&l, 0, "out of memory");
		return -ENOMEM;
	}
	size_t len = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			fail(&l, 0, "cannot read: %s", strerror(-rc));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			rc = -EFBIG;
			fail(&l, 0, "file too large (at most %d bytes)", CONFIG_FILE_MAX);
			break;
		}
	}
	close(fd);
	if (rc == 0)
		rc = tags_load_buffer(r, path, buf, len, err);
	free(buf);
	return rc;
}

/* ---- matching ---- */

void tags_http_path(const char *target, char *buf, size_t len)
{
	const char *s = target;
	if (len == 0)
		return;
	/* absolute-form: scheme "://" authority path */
	const char *sep = strstr(s, "://");
	if (sep && s[0] != '/') {
		const char *slash = strchr(sep + 3, '/');
		s = slash ? slash : "/";
	}
	size_t n = strcspn(s, "?#");
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

static bool method_in(const char *list, const char *method)
{
	if (strcmp(list, "*") == 0)
		return true;
	size_t m = strlen(method);
	if (m == 0)
		return false;
	for (const char *p = list; (p = strstr(p, method)) != NULL; p++)
		if (p > list && p[-1] == ',' && p[m] == ',')
			return true;
	return false;
}

static struct tag_match matched(const struct tag_rules *r, int i, struct tag_stats *st)
{
	struct tag_match m = {TAGS_CONSERVATIVE, -1, 0};
	if (i >= 0) {
		m.tags = r->rules[i].tags;
		m.rule = i;
		m.line = r->rules[i].line;
		if (st)
			st->matched++;
	} else if (st) {
		st->defaulted++;
	}
	return m;
}

struct tag_match tags_match_http(const struct tag_rules *r, const char *method, const char *target,
				 struct tag_stats *st)
{
	char path[TXN_TARGET_MAX];
	tags_http_path(target ? target : "", path, sizeof(path));
	for (unsigned i = 0; i < r->n; i++) {
		const struct tag_rule *rule = &r->rules[i];
		if (rule->kind != TAG_RULE_HTTP || !method_in(rule->methods, method ? method : ""))
			continue;
		if (fnmatch(rule->glob, path, 0) == 0)
			return matched(r, (int)i, st);
	}
	return matched(r, -1, st);
}

struct tag_match tags_match_line(const struct tag_rules *r, const char *text, struct tag_stats *st)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct tag_rule *rule = &r->rules[i];
		if (rule->kind == TAG_RULE_LINE &&
		    regexec(&rule->re, text ? text : "", 0, NULL, 0) == 0)
			return matched(r, (int)i, st);
	}
	return matched(r, -1, st);
}

struct tag_match tags_match_txn(const struct tag_rules *r, enum txn_proto proto,
				const struct txn *t, struct tag_stats *st)
{
	if (proto == TXN_PROTO_LINE)
		return tags_match_line(r, t->target, st);
	return tags_match_http(r, t->method, t->target, st);
}

const char *tags_format(unsigned tags, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s",
		 tags & TAG_DETERMINISTIC ? "deterministic" : "non-deterministic",
		 tags & TAG_READ_ONLY ? "read-only" : "update",
		 tags & TAG_IDEMPOTENT ? "idempotent" : "non-idempotent");
	return buf;
}

void tags_collect_stats(const struct tag_rules *r, const struct tag_stats *st,
			struct stats_report *rep, const char *prefix)
{
	stats_add(rep, prefix, "rules", r ? r->n : 0);
	stats_add(rep, prefix, "matched", st ? st->matched : 0);
	stats_add(rep, prefix, "defaulted", st ? st->defaulted : 0);
}
