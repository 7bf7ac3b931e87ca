/* replication_udp - the UDP transport of replication.h: one non-blocking
 * datagram socket bound to the listen address, with large buffers so that
 * a burst of replication (a sync dump) is not dropped by the kernel.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replication.h"

struct udp_state {
	int fd;
};

static void set_buf(int fd, int force_opt, int opt, uint64_t bytes)
{
	int v = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;

	if (bytes == 0)
		return;
	/* FORCE ignores rmem_max/wmem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static int udp_open(void **state, const struct sockaddr_in *listen,
		    const struct replication_config *cfg)
{
	struct udp_state *u = malloc(sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		int e = errno;
		free(u);
		return -e;
	}
	set_buf(u->fd, SO_RCVBUFFORCE, SO_RCVBUF, cfg->rcvbuf);
	set_buf(u->fd, SO_SNDBUFFORCE, SO_SNDBUF, cfg->sndbuf);
	if (bind(u->fd, (const struct sockaddr *)listen, sizeof(*listen)) < 0) {
		int e = errno;
		close(u->fd);
		free(u);
		return -e;
	}
	*state = u;
	return u->fd;
}

static int udp_send(void *state, const struct sockaddr_in *to, const void *buf, size_t len)
{
	struct udp_state *u = state;
	ssize_t n = sendto(u->fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static ssize_t udp_recv(void *state, void *buf, size_t cap, struct sockaddr_in *from)
{
	struct udp_state *u = state;
	socklen_t alen = sizeof(*from);
	ssize_t n = recvfrom(u->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)from, &alen);

	return n < 0 ? -errno : n;
}

static int udp_local_addr(void *state, struct sockaddr_in *out)
{
	struct udp_state *u = state;
	socklen_t alen = sizeof(*out);

	return getsockname(u->fd, (struct sockaddr *)out, &alen) < 0 ? -errno : 0;
}

static void udp_close(void *state)
{
	struct udp_state *u = state;

	if (!u)
		return;
	close(u->fd);
	free(u);
}

const struct replication_transport_ops replication_udp_transport = {
    .name = "udp",
    .open = udp_open,
    .send = udp_send,
    .recv = udp_recv,
    .local_addr = udp_local_addr,
    .close = udp_close,
};
