/* l7_route - layer-7 routing of a client's first request to a backend pool,
 * and the weighted choice of a backend inside the pool.
 *
 * Config lines (repeatable, first matching route wins):
 *   backend = POOL ADDR:PORT [WEIGHT]     (weight 1..1000, default 1)
 *   route   = HOST PATH_PREFIX POOL       (HOST "*" matches any Host)
 *   default_pool = POOL                   (used when no route matches)
 * Host comparison ignores case and a ":port" suffix. The choice inside a
 * pool is smooth weighted round robin (nginx's scheme): deterministic, so
 * tests can predict it, and it spreads a pool's backends evenly even for
 * small request counts. A backend marked down is skipped.
 */
#ifndef CRAFT_L7_ROUTE_H
#define CRAFT_L7_ROUTE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L7_MAX_BACKENDS 64
#define L7_MAX_ROUTES	64
#define L7_NAME_MAX	32
#define L7_HOST_MAX	128
#define L7_PATH_MAX	256

struct l7_backend {
	char pool[L7_NAME_MAX];
	struct sockaddr_in addr;
	int weight;
	int current; /* smooth weighted round robin state */
	bool down;
	uint64_t chosen;
};

struct l7_route {
	char host[L7_HOST_MAX];
	char path_prefix[L7_PATH_MAX];
	char pool[L7_NAME_MAX];
	uint64_t matched;
};

struct l7_router {
	unsigned nbackends, nroutes;
	struct l7_backend backends[L7_MAX_BACKENDS];
	struct l7_route routes[L7_MAX_ROUTES];
	char default_pool[L7_NAME_MAX];
	uint64_t no_route, pool_empty;
};

/* Config parsers (config_custom_fn shape) over a struct l7_router at
 * `offset` inside the daemon's config struct is awkward; instead the daemon
 * forwards the value text to these. Return 0 or -EINVAL with a message. */
int l7_router_add_backend(struct l7_router *r, const char *value, char *err, size_t errlen);
int l7_router_add_route(struct l7_router *r, const char *value, char *err, size_t errlen);
/* Checks that every route and the default name a pool with backends. */
int l7_router_validate(const struct l7_router *r, char *err, size_t errlen);

/* Picks the backend for a request; NULL when no route and no default pool
 * match or the pool has no live backend (both counted). */
struct l7_backend *l7_route_request(struct l7_router *r, const char *host, size_t host_len,
				    const char *path, size_t path_len);
/* Finds a backend by address (host order) and port. */
struct l7_backend *l7_router_find_backend(struct l7_router *r, uint32_t addr, uint16_t port);

#endif
