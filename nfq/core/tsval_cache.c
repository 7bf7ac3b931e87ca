/* tsval_cache - see tsval_cache.h. */
#include "tsval_cache.h"

#include <errno.h>
#include <stdlib.h>

int tsval_cache_init(struct tsval_cache *c, unsigned slots)
{
	unsigned n = 1;
	while (n < slots && n < (1u << 24))
		n <<= 1;
	*c = (struct tsval_cache){.mask = n - 1};
	c->slots = calloc(n, sizeof(*c->slots));
	return c->slots ? 0 : -ENOMEM;
}

void tsval_cache_free(struct tsval_cache *c)
{
	free(c->slots);
	c->slots = NULL;
}

static unsigned slot_of(const struct tsval_cache *c, uint32_t saddr, uint16_t sport, uint32_t daddr,
			uint16_t dport)
{
	/* A multiplicative mix of the tuple: cheap and spreads ports well. */
	uint64_t h = ((uint64_t)saddr << 32 | daddr) * 0x9e3779b97f4a7c15ull;
	h ^= ((uint64_t)sport << 16 | dport) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (unsigned)h & c->mask;
}

void tsval_cache_put(struct tsval_cache *c, uint32_t saddr, uint16_t sport, uint32_t daddr,
		     uint16_t dport, uint32_t tsval)
{
	struct tsval_slot *s = &c->slots[slot_of(c, saddr, sport, daddr, dport)];
	*s = (struct tsval_slot){saddr, daddr, sport, dport, tsval, true};
	c->updates++;
}

bool tsval_cache_get(struct tsval_cache *c, uint32_t saddr, uint16_t sport, uint32_t daddr,
		     uint16_t dport, uint32_t *tsval)
{
	const struct tsval_slot *s = &c->slots[slot_of(c, saddr, sport, daddr, dport)];
	if (s->used && s->saddr == saddr && s->daddr == daddr && s->sport == sport &&
	    s->dport == dport) {
		*tsval = s->tsval;
		c->hits++;
		return true;
	}
	c->misses++;
	return false;
}
