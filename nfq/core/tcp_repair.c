/* tcp_repair - see tcp_repair.h. */
#include "tcp_repair.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_int(int fd, int opt, int val)
{
	return setsockopt(fd, IPPROTO_TCP, opt, &val, sizeof(val)) < 0 ? -errno : 0;
}

int tcp_repair_on(int fd)
{
	return set_int(fd, TCP_REPAIR, TCP_REPAIR_ON);
}

int tcp_repair_off(int fd)
{
	return set_int(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
}

static int queue_seq(int fd, int queue, uint32_t *out)
{
	int rc = set_int(fd, TCP_REPAIR_QUEUE, queue);
	if (rc < 0)
		return rc;
	socklen_t len = sizeof(*out);
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, out, &len) < 0)
		return -errno;
	return 0;
}

int tcp_repair_dump(int fd, struct tcp_repair_state *st)
{
	int rc;
	*st = (struct tcp_repair_state){0};
	if ((rc = queue_seq(fd, TCP_SEND_QUEUE, &st->snd_nxt)) < 0)
		return rc;
	if ((rc = queue_seq(fd, TCP_RECV_QUEUE, &st->rcv_nxt)) < 0)
		return rc;
	set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);

	int n = 0;
	if (ioctl(fd, SIOCOUTQ, &n) < 0)
		return -errno;
	st->outq = (uint32_t)n;
	if (ioctl(fd, SIOCINQ, &n) < 0)
		return -errno;
	st->inq = (uint32_t)n;

	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	st->timestamps = ti.tcpi_options & TCPI_OPT_TIMESTAMPS;
	st->sack = ti.tcpi_options & TCPI_OPT_SACK;
	st->wscale = ti.tcpi_options & TCPI_OPT_WSCALE;
	st->snd_wscale = st->wscale ? ti.tcpi_snd_wscale : 0;
	st->rcv_wscale = st->wscale ? ti.tcpi_rcv_wscale : 0;
	st->mss = (uint16_t)ti.tcpi_snd_mss;

	len = sizeof(st->ts_now);
	if (getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &st->ts_now, &len) < 0)
		return -errno;

	struct tcp_repair_window w;
	len = sizeof(w);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) < 0)
		return -errno;
	st->snd_wnd = w.snd_wnd;
	st->rcv_wnd = w.rcv_wnd;
	return 0;
}

ssize_t tcp_repair_peek_recv(int fd, void *buf, size_t len)
{
	int rc = set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (rc < 0)
		return rc;
	ssize_t n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
	int err = errno;
	set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	return n < 0 ? -err : n;
}

int tcp_repair_close_silently(int fd)
{
	int rc = tcp_repair_on(fd);
	close(fd);
	return rc;
}
