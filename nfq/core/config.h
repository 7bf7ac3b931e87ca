/* config - wireguard-style configuration files, table-driven.
 *
 *   # comment            ; comment too
 *   [queue]
 *   num = 3              # trailing comment (after whitespace)
 *   name = "two words"   # double quotes keep spaces, # and ; (\" and \\ escape)
 *
 * A daemon describes its keys once, in a table that names the section, the
 * key, the type and where the value lands in its own config struct:
 *
 *   static const struct config_key keys[] = {
 *       CONFIG_U32("queue", "num", struct logger_config, queue_num, 0, 65535),
 *       CONFIG_DURATION_MS("detect", "timeout", struct logger_config, timeout_ms, 1, 60000),
 *       {0}};
 *
 * The macros check the field's C type at compile time. Keys that a file does
 * not mention keep whatever the caller put in dst beforehand (the defaults).
 * Section and key names are case-insensitive. Keys before any [section]
 * belong to section "" (write CONFIG_U32("", "key", ...)). Loading stops at
 * the first error, which names file:line:col; dst may then be partly updated.
 *
 * The typed parsers are public so command-line options use the same syntax
 * and the same error texts as the file. */
#ifndef CRAFT_CONFIG_H
#define CRAFT_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest accepted line (without its line ending) and file. */
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)

enum config_type {
	CONFIG_T_U32,	      /* uint32_t, decimal, within [min, max] */
	CONFIG_T_BOOL,	      /* bool: true/false, yes/no, on/off, 1/0 */
	CONFIG_T_STR,	      /* char[N]: at most N - 1 bytes */
	CONFIG_T_IPV4,	      /* struct in_addr: dotted quad */
	CONFIG_T_DURATION_MS, /* uint64_t ms: 200ms, 1s, 2m, 1h, 1d; plain = ms */
	CONFIG_T_SIZE,	      /* uint64_t bytes: 64KiB, 8MiB, 1GiB, 1TiB (K/M/G/T too); plain = B */
	CONFIG_T_ENUM,	      /* int: index into a NULL-terminated names array */
	CONFIG_T_IPV4_PORT,   /* struct sockaddr_in: 198.18.1.1:80, port 1..65535 */
	CONFIG_T_CUSTOM,      /* the key's parse function decides */
};

/* The key may appear more than once (CONFIG_CUSTOM keys, for lists). */
#define CONFIG_F_REPEATABLE 0x1u

struct config_key;

/* Parses value into dst (the whole config struct). Returns 0, or -1 after
 * writing a message without position into err. */
typedef int config_custom_fn(void *dst, const struct config_key *key, const char *value, char *err,
			     size_t errlen);
/* Prints the effective value as zero or more "key = value" lines. */
typedef void config_dump_fn(FILE *out, const struct config_key *key, const void *dst);

struct config_key {
	const char *section;
	const char *key; /* NULL ends the table */
	enum config_type type;
	unsigned flags;
	size_t offset; /* of the field in dst */
	size_t size;   /* of the field (buffer size for strings) */
	uint64_t min, max;
	const char *const *names;
	config_custom_fn *parse;
	config_dump_fn *dump;
};

struct config_error {
	char msg[512]; /* "file:line:col: text", or "file: text" with line 0 */
	unsigned line, col;
};

/* Compile-time check that T.f has type ftype; evaluates to 0. */
#define CONFIG__IS(T, f, ftype)                                                                    \
	(0 * sizeof(struct {                                                                       \
		 _Static_assert(__builtin_types_compatible_p(__typeof__(((T *)0)->f), ftype),      \
				"config field " #f " must be " #ftype);                            \
		 int config_check_;                                                                \
	 }))
#define CONFIG__FIELD(T, f, ftype)                                                                 \
	.offset = offsetof(T, f) + CONFIG__IS(T, f, ftype), .size = sizeof(ftype)

#define CONFIG_U32(sec, k, T, f, lo, hi)                                                           \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_U32, CONFIG__FIELD(T, f, uint32_t), \
		.min = (lo), .max = (hi)                                                           \
	}
#define CONFIG_BOOL(sec, k, T, f)                                                                  \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_BOOL, CONFIG__FIELD(T, f, bool)     \
	}
/* The buffer size comes from the array field itself. */
#define CONFIG_STR(sec, k, T, f)                                                                   \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_STR,                                \
		.offset = offsetof(T, f) + CONFIG__IS(T, f, char[sizeof(((T *)0)->f)]),            \
		.size = sizeof(((T *)0)->f)                                                        \
	}
#define CONFIG_IPV4(sec, k, T, f)                                                                  \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_IPV4,                               \
		CONFIG__FIELD(T, f, struct in_addr)                                                \
	}
#define CONFIG_DURATION_MS(sec, k, T, f, lo, hi)                                                   \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_DURATION_MS,                        \
		CONFIG__FIELD(T, f, uint64_t), .min = (lo), .max = (hi)                            \
	}
#define CONFIG_SIZE(sec, k, T, f, lo, hi)                                                          \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_SIZE,                               \
		CONFIG__FIELD(T, f, uint64_t), .min = (lo), .max = (hi)                            \
	}
#define CONFIG_ENUM(sec, k, T, f, name_array)                                                      \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_ENUM, CONFIG__FIELD(T, f, int),     \
		.names = (name_array)                                                              \
	}
#define CONFIG_IPV4_PORT(sec, k, T, f)                                                             \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_IPV4_PORT,                          \
		CONFIG__FIELD(T, f, struct sockaddr_in)                                            \
	}
/* Repeatable; fn sees the whole dst. config_dump prints "# key = (not shown)" for
 * it unless CONFIG_CUSTOM_DUMP supplies a printer. */
#define CONFIG_CUSTOM(sec, k, fn)                                                                  \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_CUSTOM,                             \
		.flags = CONFIG_F_REPEATABLE, .parse = (fn)                                        \
	}
#define CONFIG_CUSTOM_DUMP(sec, k, fn, dump_fn)                                                    \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_CUSTOM,                             \
		.flags = CONFIG_F_REPEATABLE, .parse = (fn), .dump = (dump_fn)                     \
	}

/* Return 0, -EINVAL for a syntax or value error, -errno when the file cannot
 * be read, -EFBIG when it exceeds CONFIG_FILE_MAX. err may be NULL. name is
 * only used in messages. */
int config_load_file(const char *path, const struct config_key *keys, void *dst,
		     struct config_error *err);
int config_load_string(const char *name, const char *text, const struct config_key *keys, void *dst,
		       struct config_error *err);
/* Like config_load_string for text that may hold NUL bytes (an error). */
int config_load_buffer(const char *name, const char *data, size_t len,
		       const struct config_key *keys, void *dst, struct config_error *err);

/* One file feeding several tables (e.g. the keys every daemon shares plus
 * the daemon's own): a key is looked up in each table in order. */
struct config_table {
	const struct config_key *keys;
	void *dst;
};
int config_load_file_tables(const char *path, const struct config_table *tables, unsigned ntables,
			    struct config_error *err);
int config_load_buffer_tables(const char *name, const char *data, size_t len,
			      const struct config_table *tables, unsigned ntables,
			      struct config_error *err);

/* Sets one key from outside a file (e.g. "--set queue.num=3"); the message
 * reads "value 7 out of range 0..5 for queue.num". 0 or -EINVAL. */
int config_set(const struct config_key *keys, void *dst, const char *section, const char *key,
	       const char *value, char *err, size_t errlen);
const struct config_key *config_find(const struct config_key *keys, const char *section,
				     const char *key);

/* Prints the effective configuration in the file syntax; loading the output
 * again yields the same values. An address:port never set (sin_family not
 * AF_INET) and custom keys without a dump function are printed as comments. */
void config_dump(FILE *out, const struct config_key *keys, const void *dst);
/* Prints a string value so that it reads back unchanged: bare when that is
 * safe, else in double quotes with \" and \\ escapes (for custom dumpers). */
void config_print_value(FILE *out, const char *value);

/* Typed parsers: 0, or -EINVAL / -ERANGE with a message such as
 * "value 300000 out of range 0..65535" or "invalid number 'x'" in err. The
 * whole string must be the value: no surrounding blanks, no sign. */
int config_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *err,
		     size_t errlen);
int config_parse_bool(const char *s, bool *out, char *err, size_t errlen);
int config_parse_str(const char *s, char *buf, size_t bufsize, char *err, size_t errlen);
int config_parse_ipv4(const char *s, struct in_addr *out, char *err, size_t errlen);
int config_parse_duration_ms(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
			     size_t errlen);
int config_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
		      size_t errlen);
int config_parse_enum(const char *s, const char *const *names, int *out, char *err, size_t errlen);
int config_parse_ipv4_port(const char *s, struct sockaddr_in *out, char *err, size_t errlen);

/* Canonical text of a duration ("1500ms", "2m") or size ("8MiB", "1000B"):
 * the largest unit that divides the value exactly. */
void config_format_duration_ms(uint64_t ms, char *buf, size_t len);
void config_format_size(uint64_t bytes, char *buf, size_t len);

#endif
