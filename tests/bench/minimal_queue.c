/* minimal_queue - the floor for tests/bench/foundation.sh: the smallest
 * accept-all NFQUEUE reader we can write (libmnl, NFQA_CFG_F_GSO,
 * header-only copy, one NFQNL_MSG_VERDICT_BATCH per read), the shape the
 * foundation issue quotes as reaching 0.95 of kernel forwarding. It runs in
 * the same rounds as craft-logger's pass-through, so the distance between
 * the two is the engine's own cost and the distance between this and the
 * kernel is what NFQUEUE costs on this host. Not a daemon: no config, no
 * counters, no fail-open; it takes craft-logger's command line (only -q is
 * read) so the bench can start either the same way. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int remember_id(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_ERROR;
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	*(uint32_t *)data = ntohl(ph->packet_id);
	return MNL_CB_OK;
}

static int send_config(struct mnl_socket *nl, uint16_t queue, char *buf)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 128);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint16_t queue = 0;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-q") == 0)
			queue = (uint16_t)atoi(argv[i + 1]);
	/* No SA_RESTART: a signal must end the blocking read. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	size_t bufsize = 0xffff + MNL_SOCKET_BUFFER_SIZE / 2;
	char *buf = malloc(bufsize);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("minimal_queue: netlink");
		return 1;
	}
	int fd = mnl_socket_get_fd(nl), rcvbuf = 8 << 20, one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (send_config(nl, queue, buf) < 0) {
		perror("minimal_queue: bind queue");
		return 1;
	}
	unsigned portid = mnl_socket_get_portid(nl);
	while (!stopping) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, bufsize);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("minimal_queue: recv");
			return 1;
		}
		uint32_t last = 0;
		if (mnl_cb_run(buf, (size_t)n, 0, portid, remember_id, &last) < 0 || last == 0)
			continue;
		char vbuf[MNL_NLMSG_HDRLEN + 64];
		struct nlmsghdr *nlh = nfq_nlmsg_put(vbuf, NFQNL_MSG_VERDICT_BATCH, queue);
		nfq_nlmsg_verdict_put(nlh, last, NF_ACCEPT);
		mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
	}
	/* Unbinding would not give the queued packets a verdict; the bench
	 * stops traffic before it stops us, and the kernel drops the rest. */
	mnl_socket_close(nl);
	free(buf);
	return 0;
}
