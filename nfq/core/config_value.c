/* config_value - the typed value parsers and formatters behind config.h.
 *
 * Kept apart from the file loader because command-line options use them
 * directly: `-q 3` and `num = 3` must accept the same text and fail with
 * the same message. Every parser takes the whole string (no blanks, no
 * sign), checks overflow before it happens and never writes *out on error. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads the leading decimal digits of s. Returns 0, -EINVAL when there are
 * none, -ERANGE when they do not fit in 64 bits (end is still set). */
static int parse_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t acc = 0;
	int rc = 0;
	const char *p = s;

	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (acc > (UINT64_MAX - d) / 10)
			rc = -ERANGE;
		else
			acc = acc * 10 + d;
	}
	*end = p;
	if (p == s)
		return -EINVAL;
	*v = acc;
	return rc;
}

int config_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *err,
		     size_t errlen)
{
	uint64_t v = 0;
	const char *end;
	int rc = parse_digits(s, &v, &end);

	if (rc == -EINVAL || *end != '\0') {
		set_err(err, errlen, "invalid number '%.64s'", s);
		return -EINVAL;
	}
	if (rc == -ERANGE || v < min || v > max) {
		set_err(err, errlen, "value %.64s out of range %u..%u", s, min, max);
		return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int config_parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	set_err(err, errlen, "invalid boolean '%.64s' (expected true/false, yes/no, on/off, 1/0)",
		s);
	return -EINVAL;
}

int config_parse_str(const char *s, char *buf, size_t bufsize, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (bufsize == 0 || n >= bufsize) {
		set_err(err, errlen, "value too long (%zu bytes, at most %zu)", n,
			bufsize ? bufsize - 1 : 0);
		return -ERANGE;
	}
	memcpy(buf, s, n + 1);
	return 0;
}

int config_parse_ipv4(const char *s, struct in_addr *out, char *err, size_t errlen)
{
	struct in_addr a;
	/* inet_pton takes exactly four decimal octets, unlike inet_aton. */
	if (inet_pton(AF_INET, s, &a) != 1) {
		set_err(err, errlen, "invalid IPv4 address '%.64s'", s);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit duration_units[] = {
    {"d", 86400000ull}, {"h", 3600000ull}, {"m", 60000ull}, {"s", 1000ull}, {"ms", 1}, {"", 1},
};

/* Binary multiples only, any case: "KB" is refused rather than guessed. */
static const struct unit size_units[] = {
    {"TiB", 1ull << 40},
    {"GiB", 1ull << 30},
    {"MiB", 1ull << 20},
    {"KiB", 1ull << 10},
    {"T", 1ull << 40},
    {"G", 1ull << 30},
    {"M", 1ull << 20},
    {"K", 1ull << 10},
    {"B", 1},
    {"", 1},
};

/* number + unit -> value; -EINVAL bad syntax, -ERANGE overflow. */
static int parse_scaled(const char *s, const struct unit *units, size_t nunits, bool fold_case,
			uint64_t *out)
{
	uint64_t v = 0;
	const char *end;
	int rc = parse_digits(s, &v, &end);

	if (rc == -EINVAL)
		return -EINVAL;
	for (size_t i = 0; i < nunits; i++) {
		int cmp = fold_case ? strcasecmp(end, units[i].name) : strcmp(end, units[i].name);
		if (cmp != 0)
			continue;
		if (rc == -ERANGE || v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*out = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

int config_parse_duration_ms(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
			     size_t errlen)
{
	uint64_t v = 0;
	int rc = parse_scaled(s, duration_units, sizeof(duration_units) / sizeof(duration_units[0]),
			      false, &v);
	if (rc == -EINVAL) {
		set_err(err, errlen, "invalid duration '%.64s' (expected e.g. 200ms, 1s, 2m, 1h)",
			s);
		return rc;
	}
	if (rc == -ERANGE || v < min || v > max) {
		char lo[32], hi[32];
		config_format_duration_ms(min, lo, sizeof(lo));
		config_format_duration_ms(max, hi, sizeof(hi));
		set_err(err, errlen, "value %.64s out of range %s..%s", s, lo, hi);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int config_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
		      size_t errlen)
{
	uint64_t v = 0;
	int rc = parse_scaled(s, size_units, sizeof(size_units) / sizeof(size_units[0]), true, &v);
	if (rc == -EINVAL) {
		set_err(err, errlen,
			"invalid size '%.64s' (expected e.g. 4096, 64KiB, 8MiB, 1GiB; "
			"units are binary)",
			s);
		return rc;
	}
	if (rc == -ERANGE || v < min || v > max) {
		char lo[32], hi[32];
		config_format_size(min, lo, sizeof(lo));
		config_format_size(max, hi, sizeof(hi));
		set_err(err, errlen, "value %.64s out of range %s..%s", s, lo, hi);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int config_parse_enum(const char *s, const char *const *names, int *out, char *err, size_t errlen)
{
	char list[256];
	size_t len = 0;

	list[0] = '\0';
	for (int i = 0; names && names[i]; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
		int n = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
		if (n > 0 && (size_t)n < sizeof(list) - len)
			len += (size_t)n;
	}
	set_err(err, errlen, "invalid value '%.64s' (expected one of: %s)", s, list);
	return -EINVAL;
}

int config_parse_ipv4_port(const char *s, struct sockaddr_in *out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN];
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	struct sockaddr_in sa;
	uint64_t v = 0;
	const char *end;

	memset(&sa, 0, sizeof(sa));
	if (!colon || hlen == 0 || hlen >= sizeof(host)) {
		set_err(err, errlen, "invalid address:port '%.64s' (expected e.g. 198.18.1.1:80)",
			s);
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		set_err(err, errlen, "invalid IPv4 address '%s' in '%.64s'", host, s);
		return -EINVAL;
	}
	int rc = parse_digits(colon + 1, &v, &end);
	if (rc == -EINVAL || *end != '\0') {
		set_err(err, errlen, "invalid port in '%.64s'", s);
		return -EINVAL;
	}
	if (rc == -ERANGE || v < 1 || v > 65535) {
		set_err(err, errlen, "port %.32s out of range 1..65535", colon + 1);
		return -ERANGE;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)v);
	*out = sa;
	return 0;
}

static void format_scaled(uint64_t v, const struct unit *units, size_t nunits, char *buf,
			  size_t len)
{
	if (v == 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < nunits; i++) {
		if (v % units[i].factor == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].factor),
				 units[i].name);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

void config_format_duration_ms(uint64_t ms, char *buf, size_t len)
{
	/* Tries d, h, m, s, ms: the first exact one is the largest. */
	format_scaled(ms, duration_units, 5, buf, len);
}

void config_format_size(uint64_t bytes, char *buf, size_t len)
{
	/* Tries TiB..KiB, then plain bytes. */
	format_scaled(bytes, size_units, 4, buf, len);
}
