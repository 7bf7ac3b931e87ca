/* config - the line parser, key table lookup and dump (see config.h).
 *
 * The whole file is read into memory (bounded by CONFIG_FILE_MAX) and cut
 * into lines; each line is copied into a fixed buffer of CONFIG_LINE_MAX, so
 * no input can make the parser allocate or overrun. Columns are 1-based byte
 * offsets in the raw line, pointing at the token an error is about. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct load_ctx {
	const char *name;
	const struct config_table *tables;
	unsigned ntables;
	struct config_error *err;
	unsigned *first_line; /* per key of all tables: line it was set on, or 0 */
	const char *section;  /* the table's spelling of the current section */
	unsigned line;
};

/* A key found in one of the tables; index counts across all tables. */
struct key_ref {
	const struct config_key *key;
	void *dst;
	size_t index;
};

static void fail(struct load_ctx *c, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct load_ctx *c, unsigned col, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	if (!c->err)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->err->line = c->line;
	c->err->col = col;
	snprintf(c->err->msg, sizeof(c->err->msg), "%.100s:%u:%u: %s", c->name, c->line, col, text);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static bool is_comment_start(char c)
{
	return c == '#' || c == ';';
}

/* "x" for a printable byte, "\xNN" otherwise, for messages. */
static const char *show_char(char c, char buf[8])
{
	unsigned char u = (unsigned char)c;
	if (u >= 0x21 && u < 0x7f)
		snprintf(buf, 8, "%c", c);
	else
		snprintf(buf, 8, "\\x%02x", u);
	return buf;
}

static bool name_eq(const char *table_name, const char *s, size_t len)
{
	return strlen(table_name) == len && strncasecmp(table_name, s, len) == 0;
}

static const char *section_of(const struct config_key *k)
{
	return k->section ? k->section : "";
}

static const char *find_section(const struct load_ctx *c, const char *s, size_t len)
{
	for (unsigned t = 0; t < c->ntables; t++)
		for (const struct config_key *k = c->tables[t].keys; k->key; k++)
			if (name_eq(section_of(k), s, len))
				return section_of(k);
	return NULL;
}

static bool find_key(const struct config_table *tables, unsigned ntables, const char *section,
		     const char *key, size_t len, struct key_ref *ref)
{
	size_t index = 0;
	for (unsigned t = 0; t < ntables; t++) {
		for (const struct config_key *k = tables[t].keys; k->key; k++, index++) {
			if (strcasecmp(section_of(k), section) == 0 && name_eq(k->key, key, len)) {
				*ref = (struct key_ref){k, tables[t].dst, index};
				return true;
			}
		}
	}
	return false;
}

const struct config_key *config_find(const struct config_key *keys, const char *section,
				     const char *key)
{
	const struct config_table table = {keys, NULL};
	struct key_ref ref;
	return find_key(&table, 1, section ? section : "", key, strlen(key), &ref) ? ref.key : NULL;
}

static void *field(void *dst, const struct config_key *k)
{
	return (char *)dst + k->offset;
}

/* Converts text into the key's field. 0 or -errno with a message. */
static int apply_value(const struct config_key *k, void *dst, const char *v, char *err,
		       size_t errlen)
{
	void *f = field(dst, k);
	uint32_t u32;
	uint64_t u64;
	int rc;

	switch (k->type) {
	case CONFIG_T_U32: {
		uint32_t hi = k->max > UINT32_MAX ? UINT32_MAX : (uint32_t)k->max;
		rc = config_parse_u32(v, (uint32_t)k->min, hi, &u32, err, errlen);
		if (rc == 0)
			memcpy(f, &u32, sizeof(u32));
		return rc;
	}
	case CONFIG_T_BOOL:
		return config_parse_bool(v, (bool *)f, err, errlen);
	case CONFIG_T_STR:
		return config_parse_str(v, (char *)f, k->size, err, errlen);
	case CONFIG_T_IPV4:
		return config_parse_ipv4(v, (struct in_addr *)f, err, errlen);
	case CONFIG_T_DURATION_MS:
		rc = config_parse_duration_ms(v, k->min, k->max, &u64, err, errlen);
		if (rc == 0)
			memcpy(f, &u64, sizeof(u64));
		return rc;
	case CONFIG_T_SIZE:
		rc = config_parse_size(v, k->min, k->max, &u64, err, errlen);
		if (rc == 0)
			memcpy(f, &u64, sizeof(u64));
		return rc;
	case CONFIG_T_ENUM:
		return config_parse_enum(v, k->names, (int *)f, err, errlen);
	case CONFIG_T_IPV4_PORT:
		return config_parse_ipv4_port(v, (struct sockaddr_in *)f, err, errlen);
	case CONFIG_T_CUSTOM:
		if (!k->parse || k->parse(dst, k, v, err, errlen) != 0) {
			if (!k->parse)
				snprintf(err, errlen, "key has no parser");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "key has an unknown type");
	return -EINVAL;
}

static void format_key_name(const char *section, const char *key, char *buf, size_t len)
{
	if (*section)
		snprintf(buf, len, "%s.%s", section, key);
	else
		snprintf(buf, len, "%s", key);
}

int config_set(const struct config_key *keys, void *dst, const char *section, const char *key,
	       const char *value, char *err, size_t errlen)
{
	char msg[300], full[160];
	const struct config_key *k = config_find(keys, section, key);

	format_key_name(section ? section : "", key, full, sizeof(full));
	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", full);
		return -EINVAL;
	}
	if (apply_value(k, dst, value, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "%s for %s", msg, full);
		return -EINVAL;
	}
	return 0;
}

/* [name] at line[i] == '['. */
static int parse_section(struct load_ctx *c, const char *line, size_t len, size_t i)
{
	size_t open = i, s, e;
	const char *close = memchr(line + i, ']', len - i);

	if (!close) {
		fail(c, (unsigned)open + 1, "unterminated section header (missing ']')");
		return -EINVAL;
	}
	s = open + 1;
	e = (size_t)(close - line);
	while (s < e && is_blank(line[s]))
		s++;
	while (e > s && is_blank(line[e - 1]))
		e--;
	if (s == e) {
		fail(c, (unsigned)open + 1, "empty section name");
		return -EINVAL;
	}
	size_t after = (size_t)(close - line) + 1;
	while (after < len && is_blank(line[after]))
		after++;
	if (after < len && !is_comment_start(line[after])) {
		fail(c, (unsigned)after + 1, "unexpected text after section header");
		return -EINVAL;
	}
	const char *sec = find_section(c, line + s, e - s);
	if (!sec) {
		fail(c, (unsigned)s + 1, "unknown section [%.*s]", (int)(e - s > 64 ? 64 : e - s),
		     line + s);
		return -EINVAL;
	}
	c->section = sec;
	return 0;
}

/* Reads the value starting at line[i], unquoted and unescaped, into out
 * (which holds len + 1 bytes). */
static int parse_value(struct load_ctx *c, const char *line, size_t len, size_t i, char *out)
{
	size_t n = 0;
	char cb[8];

	if (i < len && line[i] == '"') {
		size_t q = i++;
		for (;;) {
			if (i >= len) {
				fail(c, (unsigned)q + 1, "unterminated quoted value");
				return -EINVAL;
			}
			char ch = line[i];
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (i + 1 >= len || (line[i + 1] != '"' && line[i + 1] != '\\')) {
					fail(c, (unsigned)i + 1,
					     "invalid escape '\\%s' in quoted value (only \\\" and "
					     "\\\\)",
					     i + 1 < len ? show_char(line[i + 1], cb) : "");
					return -EINVAL;
				}
				ch = line[++i];
			}
			out[n++] = ch;
			i++;
		}
		i++; /* closing quote */
		while (i < len && is_blank(line[i]))
			i++;
		if (i < len && !is_comment_start(line[i])) {
			fail(c, (unsigned)i + 1, "unexpected text after quoted value");
			return -EINVAL;
		}
		out[n] = '\0';
		return 0;
	}
	/* Unquoted: up to a comment that follows a blank, then trimmed. */
	size_t end = i;
	while (end < len && !(is_comment_start(line[end]) && end > 0 && is_blank(line[end - 1])))
		end++;
	while (end > i && is_blank(line[end - 1]))
		end--;
	memcpy(out, line + i, end - i);
	out[end - i] = '\0';
	return 0;
}

static int parse_assignment(struct load_ctx *c, const char *line, size_t len, size_t i)
{
	char out[CONFIG_LINE_MAX + 1]; /* parse_line bounds len */
	size_t ks = i, ke, vcol;
	char cb[8], msg[300], full[160];

	while (i < len && is_key_char(line[i]))
		i++;
	ke = i;
	if (ke == ks) {
		if (line[i] == '=')
			fail(c, (unsigned)i + 1, "missing key before '='");
		else
			fail(c, (unsigned)i + 1, "invalid character '%s' at start of key",
			     show_char(line[i], cb));
		return -EINVAL;
	}
	if (i < len && !is_blank(line[i]) && line[i] != '=') {
		fail(c, (unsigned)i + 1, "invalid character '%s' in key", show_char(line[i], cb));
		return -EINVAL;
	}
	while (i < len && is_blank(line[i]))
		i++;
	if (i >= len || line[i] != '=') {
		fail(c, (unsigned)i + 1, "missing '=' after key '%.*s'",
		     (int)(ke - ks > 64 ? 64 : ke - ks), line + ks);
		return -EINVAL;
	}
	i++;
	while (i < len && is_blank(line[i]))
		i++;
	vcol = i + 1;

	struct key_ref ref;
	if (!find_key(c->tables, c->ntables, c->section, line + ks, ke - ks, &ref)) {
		if (*c->section)
			fail(c, (unsigned)ks + 1, "unknown key '%.*s' in section [%s]",
			     (int)(ke - ks > 64 ? 64 : ke - ks), line + ks, c->section);
		else
			fail(c, (unsigned)ks + 1, "unknown key '%.*s' (outside any section)",
			     (int)(ke - ks > 64 ? 64 : ke - ks), line + ks);
		return -EINVAL;
	}
	const struct config_key *k = ref.key;
	format_key_name(c->section, k->key, full, sizeof(full));
	if (!(k->flags & CONFIG_F_REPEATABLE) && c->first_line[ref.index]) {
		fail(c, (unsigned)ks + 1, "duplicate key '%s' (first set on line %u)", full,
		     c->first_line[ref.index]);
		return -EINVAL;
	}
	if (parse_value(c, line, len, i, out) != 0)
		return -EINVAL;
	msg[0] = '\0';
	if (apply_value(k, ref.dst, out, msg, sizeof(msg)) != 0) {
		fail(c, (unsigned)vcol, "%s for %s", msg, full);
		return -EINVAL;
	}
	if (!c->first_line[ref.index])
		c->first_line[ref.index] = c->line;
	return 0;
}

static int parse_line(struct load_ctx *c, const char *line, size_t len)
{
	const char *nul = memchr(line, '\0', len);
	size_t i = 0;

	if (nul) {
		fail(c, (unsigned)(nul - line) + 1, "NUL byte in line");
		return -EINVAL;
	}
	if (len > CONFIG_LINE_MAX) {
		fail(c, CONFIG_LINE_MAX + 1, "line too long (more than %d bytes)", CONFIG_LINE_MAX);
		return -EINVAL;
	}
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || is_comment_start(line[i]))
		return 0;
	if (line[i] == '[')
		return parse_section(c, line, len, i);
	return parse_assignment(c, line, len, i);
}

int config_load_buffer_tables(const char *name, const char *data, size_t len,
			      const struct config_table *tables, unsigned ntables,
			      struct config_error *err)
{
	struct load_ctx c = {.name = name ? name : "<config>",
			     .tables = tables,
			     .ntables = ntables,
			     .err = err,
			     .section = ""};
	size_t nkeys = 0, pos = 0;
	int rc = 0;

	if (err)
		memset(err, 0, sizeof(*err));
	for (unsigned t = 0; t < ntables; t++)
		for (const struct config_key *k = tables[t].keys; k->key; k++)
			nkeys++;
	c.first_line = calloc(nkeys + 1, sizeof(*c.first_line));
	if (!c.first_line) {
		fail(&c, 0, "out of memory");
		return -ENOMEM;
	}
	/* A UTF-8 byte order mark is an editor's habit, not content. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t llen = end - pos;

		c.line++;
		if (llen > 0 && data[pos + llen - 1] == '\r')
			llen--;
		rc = parse_line(&c, data + pos, llen);
		if (rc != 0)
			break;
		pos = end + 1;
	}
	free(c.first_line);
	return rc;
}

int config_load_buffer(const char *name, const char *data, size_t len,
		       const struct config_key *keys, void *dst, struct config_error *err)
{
	const struct config_table table = {keys, dst};
	return config_load_buffer_tables(name, data, len, &table, 1, err);
}

int config_load_string(const char *name, const char *text, const struct config_key *keys, void *dst,
		       struct config_error *err)
{
	return config_load_buffer(name, text, strlen(text), keys, dst, err);
}

static int file_error(struct config_error *err, const char *path, const char *what, int rc)
{
	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->msg, sizeof(err->msg), "%.200s: %s: %s", path, what, strerror(-rc));
	}
	return rc;
}

int config_load_file_tables(const char *path, const struct config_table *tables, unsigned ntables,
			    struct config_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(err, path, "cannot open", -errno);

	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t len = 0;
	int rc = 0;
	if (!buf) {
		close(fd);
		return file_error(err, path, "cannot read", -ENOMEM);
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = file_error(err, path, "cannot read", -errno);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			rc = file_error(err, path, "cannot read", -EFBIG);
			break;
		}
	}
	close(fd);
	if (rc == 0)
		rc = config_load_buffer_tables(path, buf, len, tables, ntables, err);
	free(buf);
	return rc;
}

int config_load_file(const char *path, const struct config_key *keys, void *dst,
		     struct config_error *err)
{
	const struct config_table table = {keys, dst};
	return config_load_file_tables(path, &table, 1, err);
}

/* Bare when the text reads back unchanged, else quoted with escapes. */
static void dump_string(FILE *out, const char *s, size_t n)
{
	bool bare = n > 0;
	for (size_t i = 0; i < n && bare; i++)
		bare = is_key_char(s[i]) || s[i] == ':' || s[i] == '/' || s[i] == '@' ||
		       s[i] == '+' || s[i] == ',';
	if (bare) {
		fwrite(s, 1, n, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fputc('\\', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

void config_print_value(FILE *out, const char *value)
{
	dump_string(out, value, strlen(value));
}

static void dump_key(FILE *out, const struct config_key *k, const void *dst)
{
	const void *f = (const char *)dst + k->offset;
	char buf[64];
	uint64_t u64;
	uint32_t u32;

	if (k->type == CONFIG_T_CUSTOM) {
		if (k->dump)
			k->dump(out, k, dst);
		else
			fprintf(out, "# %s = (not shown)\n", k->key);
		return;
	}
	if (k->type == CONFIG_T_IPV4_PORT &&
	    ((const struct sockaddr_in *)f)->sin_family != AF_INET) {
		/* Never set (no default): there is nothing that would load back. */
		fprintf(out, "# %s = (not set)\n", k->key);
		return;
	}
	if (k->type == CONFIG_T_ENUM) {
		int idx = *(const int *)f, n = 0;
		while (k->names && k->names[n])
			n++;
		if (idx < 0 || idx >= n)
			fprintf(out, "# %s = (invalid value %d)\n", k->key, idx);
		else
			fprintf(out, "%s = %s\n", k->key, k->names[idx]);
		return;
	}
	fprintf(out, "%s = ", k->key);
	switch (k->type) {
	case CONFIG_T_U32:
		memcpy(&u32, f, sizeof(u32));
		fprintf(out, "%u", u32);
		break;
	case CONFIG_T_BOOL:
		fputs(*(const bool *)f ? "true" : "false", out);
		break;
	case CONFIG_T_STR:
		/* Bounded in case the caller left it unterminated. */
		dump_string(out, f, strnlen(f, k->size));
		break;
	case CONFIG_T_IPV4:
		fputs(inet_ntop(AF_INET, f, buf, sizeof(buf)) ? buf : "?", out);
		break;
	case CONFIG_T_DURATION_MS:
		memcpy(&u64, f, sizeof(u64));
		config_format_duration_ms(u64, buf, sizeof(buf));
		fputs(buf, out);
		break;
	case CONFIG_T_SIZE:
		memcpy(&u64, f, sizeof(u64));
		config_format_size(u64, buf, sizeof(buf));
		fputs(buf, out);
		break;
	case CONFIG_T_IPV4_PORT: {
		const struct sockaddr_in *sa = f;
		fprintf(out, "%s:%u",
			inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof(buf)) ? buf : "?",
			ntohs(sa->sin_port));
		break;
	}
	default:
		break;
	}
	fputc('\n', out);
}

void config_dump(FILE *out, const struct config_key *keys, const void *dst)
{
	bool first = true;

	/* Keys outside any section must come before the first header. */
	for (const struct config_key *k = keys; k->key; k++) {
		if (*section_of(k) == '\0') {
			dump_key(out, k, dst);
			first = false;
		}
	}
	for (const struct config_key *s = keys; s->key; s++) {
		const char *sec = section_of(s);
		bool seen = *sec == '\0';
		for (const struct config_key *p = keys; p < s && !seen; p++)
			seen = strcasecmp(section_of(p), sec) == 0;
		if (seen)
			continue;
		fprintf(out, "%s[%s]\n", first ? "" : "\n", sec);
		first = false;
		for (const struct config_key *k = s; k->key; k++)
			if (strcasecmp(section_of(k), sec) == 0)
				dump_key(out, k, dst);
	}
}
