/* l7_route - see l7_route.h. */
#include "l7_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Splits value into at most max whitespace-separated words (in place). */
static unsigned split_words(char *s, char **words, unsigned max)
{
	unsigned n = 0;
	char *save = NULL;
	for (char *w = strtok_r(s, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		words[n++] = w;
	}
	return n;
}

static int copy_word(char *dst, size_t cap, const char *src, const char *what, char *err,
		     size_t errlen)
{
	if (strlen(src) >= cap) {
		snprintf(err, errlen, "%s '%s' longer than %zu bytes", what, src, cap - 1);
		return -EINVAL;
	}
	snprintf(dst, cap, "%s", src);
	return 0;
}

int l7_router_add_backend(struct l7_router *r, const char *value, char *err, size_t errlen)
{
	char buf[512];
	char *w[4];
	snprintf(buf, sizeof(buf), "%s", value);
	unsigned n = split_words(buf, w, 3);
	if (n < 2 || n > 3) {
		snprintf(err, errlen, "expected 'POOL ADDR:PORT [WEIGHT]'");
		return -EINVAL;
	}
	if (r->nbackends == L7_MAX_BACKENDS) {
		snprintf(err, errlen, "more than %d backends", L7_MAX_BACKENDS);
		return -EINVAL;
	}
	struct l7_backend *b = &r->backends[r->nbackends];
	memset(b, 0, sizeof(*b));
	if (copy_word(b->pool, sizeof(b->pool), w[0], "pool name", err, errlen) < 0)
		return -EINVAL;
	if (config_parse_ipv4_port(w[1], &b->addr, err, errlen) < 0)
		return -EINVAL;
	uint32_t weight = 1;
	if (n == 3 && config_parse_u32(w[2], 1, 1000, &weight, err, errlen) < 0)
		return -EINVAL;
	b->weight = (int)weight;
	r->nbackends++;
	return 0;
}

int l7_router_add_route(struct l7_router *r, const char *value, char *err, size_t errlen)
{
	char buf[512];
	char *w[4];
	snprintf(buf, sizeof(buf), "%s", value);
	if (split_words(buf, w, 3) != 3) {
		snprintf(err, errlen, "expected 'HOST PATH_PREFIX POOL'");
		return -EINVAL;
	}
	if (r->nroutes == L7_MAX_ROUTES) {
		snprintf(err, errlen, "more than %d routes", L7_MAX_ROUTES);
		return -EINVAL;
	}
	if (w[1][0] != '/') {
		snprintf(err, errlen, "path prefix '%s' must start with '/'", w[1]);
		return -EINVAL;
	}
	struct l7_route *rt = &r->routes[r->nroutes];
	memset(rt, 0, sizeof(*rt));
	if (copy_word(rt->host, sizeof(rt->host), w[0], "host", err, errlen) < 0 ||
	    copy_word(rt->path_prefix, sizeof(rt->path_prefix), w[1], "path", err, errlen) < 0 ||
	    copy_word(rt->pool, sizeof(rt->pool), w[2], "pool name", err, errlen) < 0)
		return -EINVAL;
	r->nroutes++;
	return 0;
}

static bool pool_has_backend(const struct l7_router *r, const char *pool)
{
	for (unsigned i = 0; i < r->nbackends; i++)
		if (strcmp(r->backends[i].pool, pool) == 0)
			return true;
	return false;
}

int l7_router_validate(const struct l7_router *r, char *err, size_t errlen)
{
	for (unsigned i = 0; i < r->nroutes; i++)
		if (!pool_has_backend(r, r->routes[i].pool)) {
			snprintf(err, errlen, "route %u names pool '%s' which has no backend",
				 i + 1, r->routes[i].pool);
			return -EINVAL;
		}
	if (r->default_pool[0] && !pool_has_backend(r, r->default_pool)) {
		snprintf(err, errlen, "default_pool '%s' has no backend", r->default_pool);
		return -EINVAL;
	}
	if (r->nroutes == 0 && !r->default_pool[0]) {
		snprintf(err, errlen, "no route and no default_pool: nothing can be routed");
		return -EINVAL;
	}
	return 0;
}

static bool host_matches(const char *pattern, const char *host, size_t host_len)
{
	if (strcmp(pattern, "*") == 0)
		return true;
	/* "example.org:8080" routes like "example.org". */
	const char *colon = memchr(host, ':', host_len);
	if (colon)
		host_len = (size_t)(colon - host);
	return strlen(pattern) == host_len && strncasecmp(pattern, host, host_len) == 0;
}

static struct l7_backend *pool_pick(struct l7_router *r, const char *pool)
{
	/* Smooth weighted round robin: every live member gains its weight,
	 * the largest wins and pays back the total. */
	struct l7_backend *best = NULL;
	int total = 0;
	for (unsigned i = 0; i < r->nbackends; i++) {
		struct l7_backend *b = &r->backends[i];
		if (b->down || strcmp(b->pool, pool) != 0)
			continue;
		b->current += b->weight;
		total += b->weight;
		if (!best || b->current > best->current)
			best = b;
	}
	if (!best) {
		r->pool_empty++;
		return NULL;
	}
	best->current -= total;
	best->chosen++;
	return best;
}

struct l7_backend *l7_route_request(struct l7_router *r, const char *host, size_t host_len,
				    const char *path, size_t path_len)
{
	for (unsigned i = 0; i < r->nroutes; i++) {
		struct l7_route *rt = &r->routes[i];
		size_t plen = strlen(rt->path_prefix);
		if (!host_matches(rt->host, host, host_len) || path_len < plen ||
		    memcmp(path, rt->path_prefix, plen) != 0)
			continue;
		rt->matched++;
		return pool_pick(r, rt->pool);
	}
	if (r->default_pool[0])
		return pool_pick(r, r->default_pool);
	r->no_route++;
	return NULL;
}

struct l7_backend *l7_router_find_backend(struct l7_router *r, uint32_t addr, uint16_t port)
{
	for (unsigned i = 0; i < r->nbackends; i++) {
		struct l7_backend *b = &r->backends[i];
		if (ntohl(b->addr.sin_addr.s_addr) == addr && ntohs(b->addr.sin_port) == port)
			return b;
	}
	return NULL;
}
