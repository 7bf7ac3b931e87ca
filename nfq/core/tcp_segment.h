/* tcp_segment - build a complete IPv4/TCP segment from scratch, and send
 * such segments through a raw socket.
 *
 * The daemons mostly rewrite segments the endpoints sent; a few times they
 * must speak for an endpoint themselves: the proxy delivers the request
 * bytes its frozen socket had accepted, recovery resends logged bytes, the
 * transactional logger acknowledges held data it discards. All of those
 * build segments here, with complete checksums, so they leave through the
 * normal OUTPUT path like any locally generated packet. */
#ifndef CRAFT_TCP_SEGMENT_H
#define CRAFT_TCP_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tcp_segment_spec {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;	 /* TCP_FL_* from packet.h */
	uint16_t window; /* raw field value (already scaled) */
	bool timestamp;
	uint32_t tsval, tsecr;
	const uint8_t *payload;
	size_t payload_len;
};

/* Header bytes a segment adds to its payload. */
#define TCP_SEGMENT_OVERHEAD (20 + 20 + 12)

/* Writes the segment into buf; returns its length, or -EMSGSIZE when it does
 * not fit in cap or in 65535 bytes. */
ssize_t tcp_segment_build(uint8_t *buf, size_t cap, const struct tcp_segment_spec *s);

/* A raw IPv4 socket that sends complete packets (IP_HDRINCL). */
int raw_sender_open(void);
/* Sends one complete packet; returns 0 or -errno. */
int raw_sender_send(int fd, const uint8_t *pkt, size_t len);

#endif
