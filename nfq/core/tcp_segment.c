/* tcp_segment - see tcp_segment.h. */
#include "tcp_segment.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "packet.h"

ssize_t tcp_segment_build(uint8_t *buf, size_t cap, const struct tcp_segment_spec *s)
{
	size_t tcp_hlen = 20 + (s->timestamp ? 12 : 0);
	size_t total = 20 + tcp_hlen + s->payload_len;
	if (total > cap || total > 65535)
		return -EMSGSIZE;
	uint8_t *ip = buf, *tcp = buf + 20;
	memset(buf, 0, 20 + tcp_hlen);
	ip[0] = 0x45;
	pkt_store_be16(ip + 2, (uint16_t)total);
	pkt_store_be16(ip + 6, 0x4000); /* DF, like the kernel's own segments */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	pkt_store_be32(ip + 12, s->saddr);
	pkt_store_be32(ip + 16, s->daddr);
	pkt_store_be16(ip + 10, ipv4_header_checksum(ip, 20));

	pkt_store_be16(tcp, s->sport);
	pkt_store_be16(tcp + 2, s->dport);
	pkt_store_be32(tcp + 4, s->seq);
	pkt_store_be32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)((tcp_hlen / 4) << 4);
	tcp[13] = s->flags;
	pkt_store_be16(tcp + 14, s->window);
	if (s->timestamp) {
		uint8_t *o = tcp + 20;
		o[0] = 1; /* NOP, NOP, TS: the layout Linux uses */
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		pkt_store_be32(o + 4, s->tsval);
		pkt_store_be32(o + 8, s->tsecr);
	}
	if (s->payload_len)
		memcpy(tcp + tcp_hlen, s->payload, s->payload_len);
	pkt_store_be16(tcp + 16,
		       tcp4_checksum_full(s->saddr, s->daddr, tcp, tcp_hlen + s->payload_len));
	return (ssize_t)total;
}

int raw_sender_open(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	int on = 1;
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int raw_sender_send(int fd, const uint8_t *pkt, size_t len)
{
	if (len < 20)
		return -EINVAL;
	struct sockaddr_in to = {.sin_family = AF_INET};
	memcpy(&to.sin_addr, pkt + 16, 4);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}
