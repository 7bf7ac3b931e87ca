/* pkt_backlog - see pkt_backlog.h. Records are a 16-byte header and the packet,
 * padded to 8 bytes, written contiguously; a record that does not fit at
 * the end of the buffer starts over at offset 0 (wrap_end remembers where
 * the old data ends). */
#include "pkt_backlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

struct rec_hdr {
	uint32_t len, wire_len;
	uint64_t ts_us;
};

static size_t rec_size(uint32_t len)
{
	return sizeof(struct rec_hdr) + (((size_t)len + 7) & ~(size_t)7);
}

int pkt_backlog_init(struct pkt_backlog *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap < 65536)
		return -EINVAL;
	b->buf = malloc(cap);
	if (!b->buf)
		return -ENOMEM;
	b->cap = cap;
	return 0;
}

void pkt_backlog_free(struct pkt_backlog *b)
{
	free(b->buf);
	b->buf = NULL;
}

int pkt_backlog_push(struct pkt_backlog *b, const uint8_t *data, uint32_t len, uint32_t wire_len,
		     uint64_t ts_us)
{
	size_t need = rec_size(len);
	bool was_empty = b->count == 0;
	size_t at;

	if (was_empty) {
		b->head = b->tail = 0;
		b->wrapped = false;
	}
	if (!b->wrapped && b->cap - b->tail >= need) {
		at = b->tail;
	} else if (!b->wrapped && b->head > need) {
		b->wrap_end = b->tail;
		b->wrapped = true;
		at = 0;
	} else if (b->wrapped && b->head - b->tail > need) {
		at = b->tail;
	} else {
		b->dropped++;
		b->dropped_bytes += len;
		return -ENOBUFS;
	}
	struct rec_hdr h = {.len = len, .wire_len = wire_len, .ts_us = ts_us};
	memcpy(b->buf + at, &h, sizeof(h));
	memcpy(b->buf + at + sizeof(h), data, len);
	b->tail = at + need;
	b->count++;
	b->pushed++;
	b->used += need;
	if (b->used > b->used_max)
		b->used_max = b->used;
	return was_empty ? 1 : 0;
}

bool pkt_backlog_pop(struct pkt_backlog *b, struct pkt_backlog_pkt *out)
{
	if (b->count == 0)
		return false;
	if (b->wrapped && b->head == b->wrap_end) {
		b->head = 0;
		b->wrapped = false;
	}
	struct rec_hdr h;
	memcpy(&h, b->buf + b->head, sizeof(h));
	out->data = b->buf + b->head + sizeof(h);
	out->len = h.len;
	out->wire_len = h.wire_len;
	out->ts_us = h.ts_us;
	size_t need = rec_size(h.len);
	b->head += need;
	b->used -= need;
	b->count--;
	/* The record stays intact until the next push: an empty backlog is
	 * only reset there. */
	return true;
}

void pkt_backlog_collect_stats(const struct pkt_backlog *b, struct stats_report *r,
			       const char *prefix)
{
	stats_add(r, prefix, "packets", b->pushed);
	stats_add(r, prefix, "dropped", b->dropped);
	stats_add(r, prefix, "dropped_bytes", b->dropped_bytes);
	stats_add(r, prefix, "queued", b->count);
	stats_add(r, prefix, "used_max", b->used_max);
}
