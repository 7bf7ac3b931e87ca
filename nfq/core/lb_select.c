/* lb_select - see lb_select.h.
 *
 * Costs: a weighted pick is one splitmix64 draw and a linear scan of at
 * most LB_MAX_MEMBERS cumulative sums (once per burst); a flow-hash pick is
 * one hash and one byte load. Rebuilding the effective table walks the M
 * slots once plus, for each slot whose primary is down, one hash per live
 * member; it runs only when the live set changes.
 */
#include "lb_select.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "packet.h"
#include "splice_table.h"

const char *const lb_mode_names[] = {"weighted", "flow-hash", NULL};
const char *const lb_owner_names[] = {"none", "client-hash", "ivip-port", NULL};

/* Independent hash families for the flows, the permutations and HRW. */
#define SALT_OFFSET 0x9e3779b97f4a7c15ull
#define SALT_SKIP   0xc2b2ae3d27d4eb4full
#define SALT_HRW    0x165667b19e3779f9ull

_Static_assert((uint64_t)LB_MAX_MEMBERS *LB_WEIGHT_MAX < (1ull << 32), "weights fit 32 bits");

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* x mod m without a division, for x uniform over 32 bits (Lemire). */
static uint32_t reduce32(uint32_t x, uint32_t m)
{
	return (uint32_t)(((uint64_t)x * m) >> 32);
}

void lb_select_config_default(struct lb_select_config *cfg)
{
	*cfg = (struct lb_select_config){
	    .mode = LB_MODE_FLOW_HASH,
	    .owner = LB_OWNER_NONE,
	    .burst = LB_BURST_DEFAULT,
	    .table_size = LB_TABLE_SIZE_DEFAULT,
	    .hash_seed = 0,
	    .rng_seed = 0,
	};
}

bool lb_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

int lb_flow_parse(const uint8_t *pkt, size_t len, struct lb_flow *out)
{
	memset(out, 0, sizeof(*out));
	if (len < IPV4_HDR_MIN || (pkt[0] >> 4) != 4)
		return -EINVAL;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN || len < ihl)
		return -EINVAL;
	out->proto = pkt[IPV4_OFF_PROTO];
	out->saddr = pkt_load_be32(pkt + IPV4_OFF_SADDR);
	out->daddr = pkt_load_be32(pkt + IPV4_OFF_DADDR);
	uint16_t frag = pkt_load_be16(pkt + IPV4_OFF_FRAG);
	out->fragment = (frag & 0x3fff) != 0; /* MF or an offset */
	bool first = (frag & 0x1fff) == 0;
	bool ported = out->proto == 6 || out->proto == 17 || out->proto == 132 ||
		      out->proto == 136; /* TCP, UDP, SCTP, UDP-Lite */
	/* A first fragment has the ports too, but its later fragments do not:
	 * hash every fragment by addresses so a datagram stays together. */
	if (ported && first && !out->fragment && len >= ihl + 4) {
		out->sport = pkt_load_be16(pkt + ihl);
		out->dport = pkt_load_be16(pkt + ihl + 2);
		out->has_ports = true;
	}
	return 0;
}

uint64_t lb_flow_hash(uint64_t seed, const struct lb_flow *f)
{
	uint64_t h = mix64(seed ^ ((uint64_t)f->saddr << 32 | f->daddr));
	uint64_t p = f->has_ports ? ((uint64_t)f->sport << 16 | f->dport) : 0;
	return mix64(h ^ (p << 8 | f->proto) ^ (seed >> 29));
}

static int cmp_def(const void *a, const void *b)
{
	const struct lb_member_def *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The Maglev population over every configured member. */
static void build_primary(struct lb_select *s)
{
	uint32_t m = s->cfg.table_size;
	uint64_t offset[LB_MAX_MEMBERS], skip[LB_MAX_MEMBERS], next[LB_MAX_MEMBERS];
	for (unsigned i = 0; i < s->n; i++) {
		offset[i] = mix64(s->cfg.hash_seed ^ SALT_OFFSET ^ s->def[i].id) % m;
		skip[i] =
		    mix64(s->cfg.hash_seed ^ SALT_SKIP ^ ((uint64_t)s->def[i].id << 32)) % (m - 1) +
		    1;
		next[i] = 0;
	}
	memset(s->primary, LB_NONE, m);
	uint32_t filled = 0;
	/* Each turn claims one slot, and a member's permutation visits every
	 * slot (skip and m are coprime as m is prime), so this ends after m
	 * claims; the inner walk is bounded by m as well. */
	while (filled < m) {
		for (unsigned i = 0; i < s->n && filled < m; i++) {
			uint64_t c = (offset[i] + next[i] * skip[i]) % m;
			while (s->primary[c] != LB_NONE) {
				next[i]++;
				c = (offset[i] + next[i] * skip[i]) % m;
			}
			s->primary[c] = (uint8_t)i;
			next[i]++;
			filled++;
		}
	}
}

static unsigned hrw(const struct lb_select *s, uint32_t slot)
{
	uint64_t best = 0;
	unsigned who = LB_NONE;
	for (unsigned i = 0; i < s->n; i++) {
		if (!s->live[i])
			continue;
		uint64_t score =
		    mix64(s->cfg.hash_seed ^ SALT_HRW ^ ((uint64_t)slot << 32 | s->def[i].id));
		if (who == LB_NONE || score > best) {
			best = score;
			who = i;
		}
	}
	return who;
}

static void build_table(struct lb_select *s)
{
	for (uint32_t c = 0; c < s->cfg.table_size; c++) {
		uint8_t p = s->primary[c];
		s->table[c] = s->live[p] ? p : (uint8_t)hrw(s, c);
	}
	s->table_dirty = false;
	s->st.rebuilds++;
}

static void build_weights(struct lb_select *s)
{
	uint64_t total = 0;
	unsigned k = 0;
	bool any_weight = false;
	for (unsigned i = 0; i < s->n; i++)
		if (s->live[i] && s->weight[i] > 0)
			any_weight = true;
	for (unsigned i = 0; i < s->n; i++) {
		if (!s->live[i] || (any_weight && s->weight[i] == 0))
			continue;
		total += any_weight ? s->weight[i] : 1;
		s->cum[k] = total;
		s->cum_idx[k] = (uint8_t)i;
		k++;
	}
	s->ncum = k;
	s->total = total;
	s->weights_dirty = false;
	s->st.weight_updates++;
	/* A burst whose member left the eligible set ends now. */
	if (s->cur >= 0 && (!s->live[s->cur] || (any_weight && s->weight[s->cur] == 0))) {
		s->cur = -1;
		s->burst_left = 0;
	}
}

int lb_select_init(struct lb_select *s, const struct lb_select_config *cfg,
		   const struct lb_member_def *members, unsigned n)
{
	memset(s, 0, sizeof(*s));
	s->cur = -1;
	if (n == 0 || n > LB_MAX_MEMBERS || cfg->mode < 0 || cfg->mode > LB_MODE_FLOW_HASH ||
	    cfg->owner < 0 || cfg->owner > LB_OWNER_IVIP_PORT || cfg->burst == 0 ||
	    cfg->burst > LB_BURST_MAX || cfg->table_size < LB_TABLE_SIZE_MIN ||
	    cfg->table_size > LB_TABLE_SIZE_MAX || !lb_is_prime(cfg->table_size))
		return -EINVAL;
	s->cfg = *cfg;
	s->n = n;
	memcpy(s->def, members, n * sizeof(*members));
	qsort(s->def, n, sizeof(s->def[0]), cmp_def);
	for (unsigned i = 1; i < n; i++)
		if (s->def[i].id == s->def[i - 1].id)
			return -EINVAL;
	s->rng = cfg->rng_seed;
	if (s->rng == 0 && getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
		s->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)s;
	s->primary = malloc(cfg->table_size);
	s->table = malloc(cfg->table_size);
	if (!s->primary || !s->table) {
		lb_select_free(s);
		return -ENOMEM;
	}
	build_primary(s);
	s->table_dirty = s->weights_dirty = true;
	lb_select_commit(s);
	return 0;
}

void lb_select_free(struct lb_select *s)
{
	free(s->primary);
	free(s->table);
	s->primary = s->table = NULL;
	s->n = 0;
}

int lb_select_index(const struct lb_select *s, uint32_t id)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->def[i].id == id)
			return (int)i;
	return -1;
}

void lb_select_set_live(struct lb_select *s, unsigned idx, bool live)
{
	if (idx >= s->n || s->live[idx] == live)
		return;
	s->live[idx] = live;
	s->table_dirty = s->weights_dirty = true;
}

void lb_select_set_weight(struct lb_select *s, unsigned idx, uint32_t weight)
{
	if (idx >= s->n)
		return;
	if (weight > LB_WEIGHT_MAX)
		weight = LB_WEIGHT_MAX;
	if (s->weight[idx] == weight)
		return;
	s->weight[idx] = weight;
	s->weights_dirty = true;
}

void lb_select_commit(struct lb_select *s)
{
	if (s->table_dirty)
		build_table(s);
	if (s->weights_dirty)
		build_weights(s);
}

uint32_t lb_select_slot(const struct lb_select *s, const struct lb_flow *f)
{
	return reduce32((uint32_t)(lb_flow_hash(s->cfg.hash_seed, f) >> 32), s->cfg.table_size);
}

int lb_select_flow(struct lb_select *s, const struct lb_flow *f)
{
	if (s->table_dirty)
		build_table(s);
	uint8_t m = s->table[lb_select_slot(s, f)];
	return m == LB_NONE ? -1 : m;
}

int lb_select_owner(const struct lb_select *s, const struct lb_flow *f)
{
	if (!f->has_ports)
		return -1;
	if (s->cfg.owner == LB_OWNER_CLIENT_HASH) {
		struct splice_key k = {
		    .saddr = f->saddr, .daddr = f->daddr, .sport = f->sport, .dport = f->dport};
		return (int)splice_owner(&k, s->n);
	}
	if (s->cfg.owner == LB_OWNER_IVIP_PORT) {
		for (unsigned i = 0; i < s->n; i++)
			if (s->def[i].port_max && f->dport >= s->def[i].port_min &&
			    f->dport <= s->def[i].port_max)
				return (int)i;
	}
	return -1;
}

int lb_select_weighted(struct lb_select *s)
{
	if (s->weights_dirty)
		build_weights(s);
	if (s->total == 0)
		return -1;
	/* r uniform in [0, total); total < 2^32 (LB_MAX_MEMBERS * LB_WEIGHT_MAX). */
	uint64_t r = reduce32((uint32_t)(splitmix64(&s->rng) >> 32), (uint32_t)s->total);
	for (unsigned k = 0; k < s->ncum; k++)
		if (r < s->cum[k])
			return s->cum_idx[k];
	return s->cum_idx[s->ncum - 1];
}

int lb_select_pick(struct lb_select *s, const struct lb_flow *f)
{
	int m;
	s->st.picks++;
	if (s->cfg.mode == LB_MODE_FLOW_HASH) {
		if (s->cfg.owner != LB_OWNER_NONE && f) {
			int o = lb_select_owner(s, f);
			if (o >= 0 && s->live[o]) {
				s->st.owner_hits++;
				return o;
			}
			if (o >= 0)
				s->st.owner_down++;
			/* The proxies hand a dead owner's connections on by the
			 * same rule: send them there directly. */
			if (o >= 0 && s->cfg.owner == LB_OWNER_CLIENT_HASH) {
				struct splice_key k = {.saddr = f->saddr,
						       .daddr = f->daddr,
						       .sport = f->sport,
						       .dport = f->dport};
				int l = (int)splice_owner_live(&k, s->n, s->live);
				if (s->live[l])
					return l;
			}
		}
		m = f ? lb_select_flow(s, f) : -1;
	} else {
		if (s->weights_dirty)
			build_weights(s);
		if (s->cur >= 0 && s->burst_left > 0) {
			s->burst_left--;
			return s->cur;
		}
		m = lb_select_weighted(s);
		s->cur = m;
		s->burst_left = m >= 0 ? s->cfg.burst - 1 : 0;
		if (m >= 0)
			s->st.bursts++;
	}
	if (m < 0)
		s->st.no_member++;
	return m;
}
