/* tsval_cache - the last TCP timestamp (TSval) each peer sent on a
 * connection that is not spliced yet.
 *
 * When the proxy splices, each peer's next TSval must continue the clock the
 * other peer's connection used, or PAWS drops the segments. The proxy's own
 * clocks come from the sockets (TCP_TIMESTAMP); the peers' clocks are seen
 * only on the wire, so the packet handler records the last TSval of every
 * unspliced segment here. Direct-mapped and fixed-size: a collision simply
 * overwrites, which costs a lookup miss (counted) and never memory. */
#ifndef CRAFT_TSVAL_CACHE_H
#define CRAFT_TSVAL_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct tsval_slot {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t tsval;
	bool used;
};

struct tsval_cache {
	unsigned mask; /* slots - 1, slots a power of two */
	struct tsval_slot *slots;
	uint64_t updates, hits, misses;
};

/* slots is rounded up to a power of two. Returns 0 or -ENOMEM. */
int tsval_cache_init(struct tsval_cache *c, unsigned slots);
void tsval_cache_free(struct tsval_cache *c);
void tsval_cache_put(struct tsval_cache *c, uint32_t saddr, uint16_t sport, uint32_t daddr,
		     uint16_t dport, uint32_t tsval);
bool tsval_cache_get(struct tsval_cache *c, uint32_t saddr, uint16_t sport, uint32_t daddr,
		     uint16_t dport, uint32_t *tsval);

#endif
