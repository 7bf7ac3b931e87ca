/* libFuzzer target for the configuration parser and the typed value
 * parsers. Properties checked beyond "no crash, no sanitizer report":
 * a file that loads is dumped, and the dump loads again to the same values;
 * every error names a line and column inside the input.
 *
 * fuzz-sources: nfq/core/config.c nfq/core/config_value.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct fuzz_config {
	uint32_t num;
	bool flag;
	char name[24];
	struct in_addr addr;
	uint64_t timeout_ms;
	uint64_t size;
	int mode;
	struct sockaddr_in peer;
	uint32_t top;
	unsigned nitems;
	char items[3][12];
};

static const char *const modes[] = {"one", "two", "three", NULL};

static int parse_item(void *dst, const struct config_key *key, const char *value, char *err,
		      size_t errlen)
{
	struct fuzz_config *c = dst;
	(void)key;
	if (c->nitems >= 3) {
		snprintf(err, errlen, "too many items");
		return -1;
	}
	if (config_parse_str(value, c->items[c->nitems], sizeof(c->items[0]), err, errlen) != 0)
		return -1;
	c->nitems++;
	return 0;
}

static void dump_items(FILE *out, const struct config_key *key, const void *dst)
{
	const struct fuzz_config *c = dst;
	for (unsigned i = 0; i < c->nitems; i++) {
		fprintf(out, "%s = ", key->key);
		config_print_value(out, c->items[i]);
		fputc('\n', out);
	}
}

static const struct config_key keys[] = {
    CONFIG_U32("", "top", struct fuzz_config, top, 0, 100),
    CONFIG_U32("q", "num", struct fuzz_config, num, 0, 65535),
    CONFIG_BOOL("q", "flag", struct fuzz_config, flag),
    CONFIG_STR("s", "name", struct fuzz_config, name),
    CONFIG_IPV4("s", "addr", struct fuzz_config, addr),
    CONFIG_DURATION_MS("s", "timeout", struct fuzz_config, timeout_ms, 1, UINT64_MAX),
    CONFIG_SIZE("s", "size", struct fuzz_config, size, 0, UINT64_MAX),
    CONFIG_ENUM("s", "mode", struct fuzz_config, mode, modes),
    CONFIG_IPV4_PORT("s", "peer", struct fuzz_config, peer),
    CONFIG_CUSTOM_DUMP("s", "item", parse_item, dump_items),
    {0},
};

static void defaults(struct fuzz_config *c)
{
	memset(c, 0, sizeof(*c));
	c->num = 5;
	c->timeout_ms = 200;
	snprintf(c->name, sizeof(c->name), "x");
}

static void check_typed_parsers(const uint8_t *data, size_t size)
{
	char s[128], err[256];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	uint32_t u32;
	uint64_t u64;
	bool b;
	int e;
	struct in_addr a;
	struct sockaddr_in sa;

	memcpy(s, data, n);
	s[n] = '\0';
	config_parse_u32(s, 0, UINT32_MAX, &u32, err, sizeof(err));
	config_parse_bool(s, &b, err, sizeof(err));
	config_parse_ipv4(s, &a, err, sizeof(err));
	config_parse_ipv4_port(s, &sa, err, sizeof(err));
	config_parse_enum(s, modes, &e, err, sizeof(err));
	if (config_parse_duration_ms(s, 0, UINT64_MAX, &u64, err, sizeof(err)) == 0) {
		/* The canonical form parses back to the same value. */
		char buf[32];
		uint64_t again = 0;
		config_format_duration_ms(u64, buf, sizeof(buf));
		if (config_parse_duration_ms(buf, 0, UINT64_MAX, &again, err, sizeof(err)) != 0 ||
		    again != u64)
			abort();
	}
	if (config_parse_size(s, 0, UINT64_MAX, &u64, err, sizeof(err)) == 0) {
		char buf[32];
		uint64_t again = 0;
		config_format_size(u64, buf, sizeof(buf));
		if (config_parse_size(buf, 0, UINT64_MAX, &again, err, sizeof(err)) != 0 ||
		    again != u64)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_config first, again;
	struct config_error err;

	check_typed_parsers(data, size);
	defaults(&first);
	int rc = config_load_buffer("fuzz", (const char *)data, size, keys, &first, &err);
	if (rc != 0) {
		if (rc != -EINVAL || err.line == 0 || err.col == 0 || err.msg[0] == '\0')
			abort();
		return 0;
	}

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return 0;
	config_dump(f, keys, &first);
	fclose(f);
	defaults(&again);
	rc = config_load_string("dump", text, keys, &again, &err);
	if (rc != 0) {
		fprintf(stderr, "dump does not load: %s\n---\n%s---\n", err.msg, text);
		abort();
	}
	if (memcmp(&first, &again, sizeof(first)) != 0) {
		fprintf(stderr, "dump loads to different values\n---\n%s---\n", text);
		abort();
	}
	free(text);
	return 0;
}
