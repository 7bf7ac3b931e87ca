/* tcp_repair - read the exact state of a live TCP socket and make it go
 * silent, with the kernel's TCP_REPAIR interface (needs CAP_NET_ADMIN).
 *
 * This is the user-space equivalent of the papers' PRE_SPLICE: once the
 * proxy has read the client's request and connected to the backend, it
 * freezes both sockets, reads their sequence numbers, negotiated options and
 * timestamp clocks, hands the numbers to the splice rewrite engine, and
 * closes them in repair mode. A socket closed in repair mode sends nothing
 * (no FIN, no RST), so the kernel forgets the connection while the packets
 * of the splice keep flowing through the NFQUEUE handler.
 *
 * TCP_QUEUE_SEQ is readable only in repair mode and only for the queue
 * selected with TCP_REPAIR_QUEUE; in repair mode it returns write_seq for
 * the send queue and rcv_nxt for the receive queue. Every function returns
 * 0 or -errno.
 */
#ifndef CRAFT_TCP_REPAIR_H
#define CRAFT_TCP_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tcp_repair_state {
	uint32_t snd_nxt;   /* write_seq: sequence of the next byte written */
	uint32_t rcv_nxt;   /* next byte expected from the peer */
	uint32_t outq;	    /* bytes written and not yet acknowledged */
	uint32_t inq;	    /* bytes received and not yet read */
	uint32_t ts_now;    /* our current TSval on this socket */
	uint16_t mss;	    /* effective send MSS */
	uint8_t snd_wscale; /* the peer's window scale */
	uint8_t rcv_wscale; /* ours */
	bool timestamps, sack, wscale;
	uint32_t snd_wnd, rcv_wnd; /* from TCP_REPAIR_WINDOW */
};

int tcp_repair_on(int fd);
/* Leaves repair mode without a window probe. */
int tcp_repair_off(int fd);
/* Reads everything above; the socket must be in repair mode. */
int tcp_repair_dump(int fd, struct tcp_repair_state *st);
/* Copies up to len bytes of the receive queue without consuming them (the
 * socket must be in repair mode): nothing is acknowledged or announced.
 * Returns the bytes copied or -errno. */
ssize_t tcp_repair_peek_recv(int fd, void *buf, size_t len);
/* Puts the socket in repair mode (if it is not yet) and closes it: the peer
 * hears nothing. The fd is closed in every case. */
int tcp_repair_close_silently(int fd);

#endif
