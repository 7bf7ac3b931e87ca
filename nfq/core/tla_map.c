/* tla_map - the piecewise map between the server's and the peer's numbering
 * of one direction of a transactional connection (see tla.h).
 *
 * A gap is a run of server-space bytes without a peer-space counterpart:
 * peer bytes resent to the server after an abort (the peer sent them once,
 * the server receives them twice), or server bytes discarded after an
 * abort (the server sent them, the peer never sees them). The gap's anchor
 * is the peer offset where it sits. The list is short (one entry per
 * abort still relevant); when it is full the oldest gap is folded into
 * `base`, which keeps every mapping beyond it exact and gives up only on
 * offsets older than that gap (counted by the caller). */
#include <errno.h>

#include "tla.h"

/* Length an open gap counts for: beyond any real stream, no overflow. */
#define OPEN_LEN (UINT64_MAX / 4)

static uint64_t gap_len(const struct tla_gap *g)
{
	return g->open ? OPEN_LEN : g->len;
}

void tla_map_init(struct tla_map *m)
{
	m->n = 0;
	m->base = 0;
}

int tla_map_add(struct tla_map *m, uint64_t start, uint64_t len, bool open)
{
	int collapsed = 0;
	if (len == 0 && !open)
		return 0;
	if (m->n > 0) {
		struct tla_gap *last = &m->g[m->n - 1];
		if (last->open || start < last->start + last->len)
			return -EINVAL;
		if (start == last->start + last->len) {
			last->len += open ? 0 : len;
			last->open = open;
			return 0;
		}
	}
	if (m->n == TLA_MAP_MAX) {
		m->base += m->g[0].len;
		for (unsigned i = 1; i < m->n; i++)
			m->g[i - 1] = m->g[i];
		m->n--;
		collapsed = 1;
	}
	m->g[m->n++] = (struct tla_gap){.start = start, .len = open ? 0 : len, .open = open};
	return collapsed;
}

int tla_map_close(struct tla_map *m, uint64_t end)
{
	if (!tla_map_open(m) || end < m->g[m->n - 1].start)
		return -EINVAL;
	struct tla_gap *g = &m->g[m->n - 1];
	g->open = false;
	g->len = end - g->start;
	if (g->len == 0)
		m->n--;
	return 0;
}

bool tla_map_open(const struct tla_map *m)
{
	return m->n > 0 && m->g[m->n - 1].open;
}

uint64_t tla_map_to_server(const struct tla_map *m, uint64_t p)
{
	uint64_t acc = m->base;
	for (unsigned i = 0; i < m->n; i++) {
		const struct tla_gap *g = &m->g[i];
		if (g->start - acc > p)
			break;
		acc += gap_len(g);
	}
	return p + acc;
}

uint64_t tla_map_to_peer(const struct tla_map *m, uint64_t s, bool *in_gap)
{
	uint64_t acc = m->base;
	if (in_gap)
		*in_gap = false;
	for (unsigned i = 0; i < m->n; i++) {
		const struct tla_gap *g = &m->g[i];
		if (s < g->start)
			break;
		if (g->open || s < g->start + g->len) {
			if (in_gap)
				*in_gap = true;
			return g->start - acc;
		}
		acc += g->len;
	}
	return s >= acc ? s - acc : 0;
}

bool tla_map_gap_at(const struct tla_map *m, uint64_t s, uint64_t *edge)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct tla_gap *g = &m->g[i];
		if (s < g->start) {
			*edge = g->start;
			return false;
		}
		if (g->open) {
			*edge = UINT64_MAX;
			return true;
		}
		if (s < g->start + g->len) {
			*edge = g->start + g->len;
			return true;
		}
	}
	*edge = UINT64_MAX;
	return false;
}
