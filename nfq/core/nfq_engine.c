/* nfq_engine - see nfq_engine.h for the design. */
#include "nfq_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "clock.h"

/* One netlink message carries at most a 64 KiB packet plus attributes. */
#define NFQ_RECV_BUFFER (96u * 1024u)
/* Messages taken per recvmmsg: each syscall costs a kernel entry (expensive
 * on a paravirtualised host: most of the daemon's time was IRQ re-enabling
 * around syscalls and context switches), so one call takes what is queued. */
#define NFQ_RECV_VLEN 16
/* Verdicts of one round; a rewritten GSO packet is up to 64 KiB. */
#define NFQ_SEND_BUFFER (1024u * 1024u)
/* Messages read per readable event, so that a busy queue cannot starve the
 * other event sources (timers, control sockets) of the loop. */
#define NFQ_RECV_ROUND 64
/* Default of nfq_engine_config.busy_poll_us: off. On the 2-core test host,
 * where the daemon shares the CPUs with the endpoints, 30 us of polling
 * raised the daemon's CPU-s/GB by 10-35% without a consistent throughput
 * gain (tests/bench/foundation.sh). A build can set it to compare both in
 * one benchmark run (BENCH_BASELINE_BIN). */
#ifndef NFQ_BUSY_POLL_DEFAULT_US
#define NFQ_BUSY_POLL_DEFAULT_US 0
#endif
/* Messages drained per queue at shutdown. */
#define NFQ_DRAIN_MAX 4096
/* The kernel's batch verdict covers ids up to maxid in modular order; this
 * margin reaches every id the kernel can have handed out since. */
#define NFQ_SHUTDOWN_ID_MARGIN (1u << 30)

struct nfq_queue {
	struct nfq_engine *engine;
	struct mnl_socket *nl;
	uint16_t num;
	uint32_t portid;
	bool bound;
	bool seen_any;
	uint32_t last_id;
	uint32_t held;
	uint32_t batch_id; /* highest id of the pending batch */
	uint32_t batch_count;
	uint64_t idle_since_ns; /* when the socket was last found empty */
	uint8_t *sendbuf;
	size_t sendlen;
};

struct nfq_engine {
	struct nfq_engine_config cfg;
	struct nfq_engine_handler handler;
	struct event_loop *loop;
	struct nfq_engine_stats stats;
	uint8_t *recvbuf; /* NFQ_RECV_VLEN slots of NFQ_RECV_BUFFER bytes */
	struct mmsghdr msgs[NFQ_RECV_VLEN];
	struct iovec iov[NFQ_RECV_VLEN];
	unsigned nqueues;
	struct nfq_queue queues[NFQ_ENGINE_MAX_QUEUES];
};

void nfq_engine_config_defaults(struct nfq_engine_config *cfg)
{
	*cfg = (struct nfq_engine_config){
	    .queue_num = 0,
	    .queue_count = 1,
	    .copy_range = 0xffff,
	    .gso = true,
	    .fail_open = true,
	    .queue_maxlen = 8192,
	    .rcvbuf = 32u * 1024u * 1024u,
	    .batch_max = 64,
	    .busy_poll_us = NFQ_BUSY_POLL_DEFAULT_US,
	    .shutdown_accept = true,
	};
}

const struct nfq_engine_config *nfq_engine_get_config(const struct nfq_engine *engine)
{
	return &engine->cfg;
}

void nfq_engine_get_stats(const struct nfq_engine *engine, struct nfq_engine_stats *out)
{
	*out = engine->stats;
	uint64_t held_now = 0;
	for (unsigned i = 0; i < engine->nqueues; i++)
		held_now += engine->queues[i].held;
	out->held_now = held_now;
}

/* ---- configuration messages (synchronous, acknowledged) ---- */

static int packet_cb(const struct nlmsghdr *nlh, void *data);
static int queue_flush(struct nfq_queue *q);
static void queue_emit_pending_batch(struct nfq_queue *q);

/* Sends one config message and waits for the kernel's acknowledgement, so a
 * queue already bound by another process (EBUSY) or a kernel without a flag
 * (EINVAL) is reported at start, not discovered as silence later. Packets
 * may already arrive while we wait (the queue is live once its copy mode is
 * set): they go through the handler like any other. */
static int send_config(struct nfq_queue *q, struct nlmsghdr *nlh, uint32_t seq)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(q->nl, q->engine->recvbuf, NFQ_RECV_BUFFER);
		if (n < 0) {
			if (errno == ENOBUFS || errno == EINTR)
				continue;
			return -errno;
		}
		int rc = mnl_cb_run(q->engine->recvbuf, (size_t)n, seq, q->portid, packet_cb, q);
		if (rc == MNL_CB_ERROR)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static int queue_configure(struct nfq_queue *q, const struct nfq_engine_config *cfg, char *err,
			   size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = 1;
	int rc;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if ((rc = send_config(q, nlh, seq++)) < 0) {
		snprintf(err, errlen, "cannot bind queue %u: %s%s", q->num, strerror(-rc),
			 rc == -EBUSY ? " (another process owns it)" : "");
		return rc;
	}
	q->bound = true;

	/* The kernel ignores NFQA_CFG_FLAGS without NFQA_CFG_MASK (EINVAL). */
	uint32_t mask = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
	uint32_t flags =
	    (cfg->gso ? NFQA_CFG_F_GSO : 0) | (cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	if ((rc = send_config(q, nlh, seq++)) < 0) {
		snprintf(err, errlen, "queue %u: cannot set flags 0x%x: %s", q->num, flags,
			 strerror(-rc));
		return rc;
	}

	/* Last: from here on packets are delivered. */
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_params(nlh, cfg->copy_range ? NFQNL_COPY_PACKET : NFQNL_COPY_META,
				 (int)cfg->copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->queue_maxlen);
	if ((rc = send_config(q, nlh, seq++)) < 0) {
		snprintf(err, errlen, "queue %u: cannot set copy mode/length: %s", q->num,
			 strerror(-rc));
		return rc;
	}

	queue_emit_pending_batch(q);
	queue_flush(q);
	return 0;
}

static void queue_unbind(struct nfq_queue *q)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	/* Best effort: closing the socket unbinds as well. */
	mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
	q->bound = false;
}

/* ---- verdicts ---- */

static int queue_flush(struct nfq_queue *q)
{
	if (q->sendlen == 0)
		return 0;
	ssize_t n = mnl_socket_sendto(q->nl, q->sendbuf, q->sendlen);
	q->sendlen = 0;
	if (n < 0) {
		q->engine->stats.send_errors++;
		return -errno;
	}
	return 0;
}

/* Room for one more message of `need` bytes, flushing first if needed. */
static uint8_t *queue_reserve(struct nfq_queue *q, size_t need)
{
	if (q->sendlen + need > NFQ_SEND_BUFFER)
		queue_flush(q);
	return q->sendbuf + q->sendlen;
}

static void queue_emit_batch(struct nfq_queue *q, uint32_t maxid, int verdict)
{
	char *buf = (char *)queue_reserve(q, MNL_NLMSG_HDRLEN + 64);
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)maxid, verdict);
	q->sendlen += nlh->nlmsg_len;
	q->engine->stats.batch_messages++;
}

static void queue_emit_pending_batch(struct nfq_queue *q)
{
	if (q->batch_count == 0)
		return;
	queue_emit_batch(q, q->batch_id, NF_ACCEPT);
	q->batch_count = 0;
}

static void queue_emit_verdict(struct nfq_queue *q, uint32_t id, const struct nfq_verdict *v)
{
	struct nfq_engine_stats *st = &q->engine->stats;
	int verdict = v->decision == NFQ_DECIDE_DROP ? NF_DROP : NF_ACCEPT;
	uint32_t plen = v->payload ? v->payload_len : 0;
	char *buf = (char *)queue_reserve(q, MNL_NLMSG_HDRLEN + 128 + MNL_ALIGN(plen));
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (v->set_mark) {
		nfq_nlmsg_verdict_put_mark(nlh, v->mark);
		st->verdicts_marked++;
	}
	if (v->payload && verdict == NF_ACCEPT) {
		nfq_nlmsg_verdict_put_pkt(nlh, v->payload, v->payload_len);
		st->verdicts_modified++;
	}
	q->sendlen += nlh->nlmsg_len;
}

static void queue_apply(struct nfq_queue *q, uint32_t id, const struct nfq_verdict *v)
{
	struct nfq_engine *e = q->engine;
	switch (v->decision) {
	case NFQ_DECIDE_HOLD:
		q->held++;
		e->stats.held++;
		return;
	case NFQ_DECIDE_DROP:
		e->stats.verdicts_drop++;
		break;
	case NFQ_DECIDE_ACCEPT:
		e->stats.verdicts_accept++;
		break;
	}
	bool plain = v->decision == NFQ_DECIDE_ACCEPT && !v->set_mark && !v->payload;
	if (plain && e->cfg.batch_max > 1 && q->held == 0) {
		q->batch_id = id;
		if (++q->batch_count >= e->cfg.batch_max)
			queue_emit_pending_batch(q);
		return;
	}
	/* Keep packet order: what is pending goes out before this verdict. */
	queue_emit_pending_batch(q);
	queue_emit_verdict(q, id, v);
}

static struct nfq_queue *queue_find(struct nfq_engine *e, uint16_t num)
{
	for (unsigned i = 0; i < e->nqueues; i++)
		if (e->queues[i].num == num)
			return &e->queues[i];
	return NULL;
}

int nfq_engine_verdict(struct nfq_engine *engine, uint16_t queue, uint32_t id,
		       const struct nfq_verdict *v)
{
	struct nfq_queue *q = queue_find(engine, queue);
	if (!q || v->decision == NFQ_DECIDE_HOLD)
		return -EINVAL;
	if (q->held > 0)
		q->held--;
	queue_apply(q, id, v);
	return 0;
}

int nfq_engine_flush(struct nfq_engine *engine)
{
	int rc = 0;
	for (unsigned i = 0; i < engine->nqueues; i++) {
		queue_emit_pending_batch(&engine->queues[i]);
		int r = queue_flush(&engine->queues[i]);
		if (r < 0)
			rc = r;
	}
	return rc;
}

/* ---- receiving ---- */

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfq_queue *q = data;
	struct nfq_engine *e = q->engine;
	struct nlattr *attr[NFQA_MAX + 1] = {0};

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		e->stats.malformed_messages++;
		return MNL_CB_OK;
	}
	struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	struct nfq_packet pkt = {
	    .queue = q->num,
	    .id = ntohl(ph->packet_id),
	    .hook = ph->hook,
	    .hw_protocol = ntohs(ph->hw_protocol),
	};
	if (attr[NFQA_MARK])
		pkt.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_IFINDEX_INDEV])
		pkt.indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV])
		pkt.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
	if (attr[NFQA_PAYLOAD]) {
		pkt.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		pkt.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	pkt.orig_len = pkt.len;
	if (attr[NFQA_CAP_LEN]) {
		pkt.orig_len = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
		if (pkt.orig_len > pkt.len)
			e->stats.truncated++;
	}
	if (attr[NFQA_SKB_INFO]) {
		uint32_t info = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
		pkt.csum_not_ready = info & NFQA_SKB_CSUMNOTREADY;
		pkt.gso = info & NFQA_SKB_GSO;
	}
	e->stats.packets++;
	e->stats.bytes += pkt.orig_len;
	e->stats.gso_packets += pkt.gso;
	e->stats.csum_not_ready += pkt.csum_not_ready;
	q->seen_any = true;
	q->last_id = pkt.id;

	struct nfq_verdict v = {.decision = NFQ_DECIDE_ACCEPT};
	e->handler.on_packet(e->handler.ctx, e, &pkt, &v);
	queue_apply(q, pkt.id, &v);
	return MNL_CB_OK;
}

/* One recvmmsg without blocking: returns how many messages were read (0 when
 * the socket was empty or failed). */
static unsigned queue_receive_batch(struct nfq_queue *q, unsigned max)
{
	struct nfq_engine *e = q->engine;
	if (max > NFQ_RECV_VLEN)
		max = NFQ_RECV_VLEN;
	for (unsigned i = 0; i < max; i++) {
		e->msgs[i].msg_hdr.msg_flags = 0;
		e->msgs[i].msg_len = 0;
	}
	int n;
	for (;;) {
		n = recvmmsg(mnl_socket_get_fd(q->nl), e->msgs, max, MSG_DONTWAIT, NULL);
		if (n >= 0)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ENOBUFS) {
			/* The kernel could not deliver some packets; with fail-open
			 * it accepted them, otherwise it dropped them. Either way
			 * the socket is usable again. */
			e->stats.enobufs++;
			continue;
		}
		if (errno == EINTR)
			continue;
		e->stats.recv_errors++;
		return 0;
	}
	e->stats.recv_calls++;
	for (int i = 0; i < n; i++) {
		if (e->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			/* Cannot happen with our slot size; a cut message would
			 * hand the handler a wrong packet, so it is not parsed. */
			e->stats.malformed_messages++;
			continue;
		}
		uint8_t *buf = e->iov[i].iov_base;
		if (mnl_cb_run(buf, e->msgs[i].msg_len, 0, 0, packet_cb, q) == MNL_CB_ERROR)
			e->stats.netlink_errors++; /* an error reply to one of our verdicts */
	}
	return (unsigned)n;
}

/* Reads up to `max` messages without blocking; returns how many were read. */
static unsigned queue_receive(struct nfq_queue *q, unsigned max)
{
	unsigned got = 0;
	while (got < max) {
		unsigned n = queue_receive_batch(q, max - got);
		got += n;
		if (n == 0)
			break;
	}
	return got;
}

/* Each recvmmsg round is decided and its verdicts leave in one sendmsg
 * before the next round: a verdict often lets the kernel run the rest of a
 * forwarding path (and the TCP that answers it) inside that sendmsg, so
 * holding verdicts back to read more would only add latency. A round that
 * did not fill the vector found the socket empty: then we go back to
 * epoll_wait (level-triggered, it comes straight back when more arrived),
 * unless the queue is busy, see busy_poll_us. */
static void queue_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	struct nfq_queue *q = arg;
	struct nfq_engine *e = q->engine;
	uint64_t window = (uint64_t)e->cfg.busy_poll_us * 1000u;
	/* Busy means: the last time this queue went idle, the next packet came
	 * within the window, so polling would have caught it without the sleep
	 * and wakeup. A queue with sparse traffic never polls. */
	bool poll = window && clock_ns(CLOCK_MONOTONIC) - q->idle_since_ns < window;
	uint64_t deadline = 0;
	unsigned total = 0;
	e->stats.wakeups++;
	e->stats.busy_polls += poll;
	while (total < NFQ_RECV_ROUND) {
		unsigned n = queue_receive_batch(q, NFQ_RECV_VLEN);
		total += n;
		queue_emit_pending_batch(q);
		queue_flush(q);
		if (n == NFQ_RECV_VLEN)
			continue;
		if (!poll)
			break;
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (n > 0 || deadline == 0)
			deadline = now + window;
		else if (now >= deadline)
			break;
	}
	if (window)
		q->idle_since_ns = clock_ns(CLOCK_MONOTONIC);
}

/* ---- lifecycle ---- */

static int queue_open(struct nfq_engine *e, struct nfq_queue *q, uint16_t num, char *err,
		      size_t errlen)
{
	q->engine = e;
	q->num = num;
	q->sendbuf = malloc(NFQ_SEND_BUFFER);
	if (!q->sendbuf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		return -errno;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "netlink bind: %s", strerror(errno));
		return -errno;
	}
	q->portid = mnl_socket_get_portid(q->nl);
	int fd = mnl_socket_get_fd(q->nl);
	int size = (int)e->cfg.rcvbuf;
	/* FORCE ignores rmem_max (we run with CAP_NET_ADMIN anyway). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0) {
		snprintf(err, errlen, "SO_RCVBUF %d: %s", size, strerror(errno));
		return -errno;
	}
	size = (int)(NFQ_SEND_BUFFER * 2);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	int rc = queue_configure(q, &e->cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = event_loop_add_fd(e->loop, fd, EPOLLIN, queue_readable, q);
	if (rc < 0)
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
	return rc;
}

static void queue_close(struct nfq_queue *q)
{
	if (q->nl) {
		if (q->engine->loop)
			event_loop_del_fd(q->engine->loop, mnl_socket_get_fd(q->nl));
		if (q->bound)
			queue_unbind(q);
		mnl_socket_close(q->nl);
		q->nl = NULL;
	}
	free(q->sendbuf);
	q->sendbuf = NULL;
}

int nfq_engine_open(struct nfq_engine **out, const struct nfq_engine_config *cfg,
		    const struct nfq_engine_handler *handler, struct event_loop *loop, char *err,
		    size_t errlen)
{
	*out = NULL;
	if (!handler || !handler->on_packet) {
		snprintf(err, errlen, "no packet handler");
		return -EINVAL;
	}
	if (cfg->queue_count == 0 || cfg->queue_count > NFQ_ENGINE_MAX_QUEUES ||
	    (uint32_t)cfg->queue_num + cfg->queue_count > 65536u) {
		snprintf(err, errlen, "queue count %u out of range 1..%u", cfg->queue_count,
			 NFQ_ENGINE_MAX_QUEUES);
		return -EINVAL;
	}
	if (cfg->copy_range > 0xffff) {
		snprintf(err, errlen, "copy range %u above 65535", cfg->copy_range);
		return -EINVAL;
	}
	struct nfq_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->cfg = *cfg;
	if (e->cfg.batch_max == 0)
		e->cfg.batch_max = 1;
	e->handler = *handler;
	e->loop = loop;
	e->recvbuf = malloc((size_t)NFQ_RECV_VLEN * NFQ_RECV_BUFFER);
	if (!e->recvbuf) {
		free(e);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < NFQ_RECV_VLEN; i++) {
		e->iov[i] = (struct iovec){.iov_base = e->recvbuf + (size_t)i * NFQ_RECV_BUFFER,
					   .iov_len = NFQ_RECV_BUFFER};
		e->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &e->iov[i], .msg_iovlen = 1};
	}
	for (unsigned i = 0; i < cfg->queue_count; i++) {
		e->nqueues = i + 1;
		int rc = queue_open(e, &e->queues[i], (uint16_t)(cfg->queue_num + i), err, errlen);
		if (rc < 0) {
			for (unsigned j = 0; j <= i; j++)
				queue_close(&e->queues[j]);
			free(e->recvbuf);
			free(e);
			return rc;
		}
	}
	*out = e;
	return 0;
}

void nfq_engine_close(struct nfq_engine *e, struct nfq_engine_stats *final_stats)
{
	if (!e)
		return;
	/* 1. What already reached our sockets is decided by the handler. */
	for (unsigned i = 0; i < e->nqueues; i++) {
		struct nfq_queue *q = &e->queues[i];
		if (q->nl)
			queue_receive(q, NFQ_DRAIN_MAX);
	}
	/* 2. The handler releases what it holds. */
	if (e->handler.on_shutdown)
		e->handler.on_shutdown(e->handler.ctx, e);
	/* 3. Everything still queued in the kernel gets the shutdown verdict. */
	int verdict = e->cfg.shutdown_accept ? NF_ACCEPT : NF_DROP;
	for (unsigned i = 0; i < e->nqueues; i++) {
		struct nfq_queue *q = &e->queues[i];
		if (!q->nl)
			continue;
		queue_emit_pending_batch(q);
		struct nfq_kernel_queue_stats ks;
		uint32_t base = q->last_id;
		if (nfq_kernel_queue_stats(q->num, &ks) == 0)
			base = (uint32_t)ks.id_sequence;
		if (q->seen_any || base != 0) {
			queue_emit_batch(q, base + NFQ_SHUTDOWN_ID_MARGIN, verdict);
			e->stats.shutdown_batches++;
		}
		queue_flush(q);
	}
	if (final_stats)
		nfq_engine_get_stats(e, final_stats);
	/* 4. Unbind and close. */
	for (unsigned i = 0; i < e->nqueues; i++)
		queue_close(&e->queues[i]);
	free(e->recvbuf);
	free(e);
}

int nfq_kernel_queue_stats(uint16_t queue, struct nfq_kernel_queue_stats *out)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	if (!f)
		return -errno;
	char line[256];
	int rc = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		unsigned num, portid, total, mode, range;
		unsigned long long dropped, udropped, idseq;
		if (sscanf(line, "%u %u %u %u %u %llu %llu %llu", &num, &portid, &total, &mode,
			   &range, &dropped, &udropped, &idseq) != 8)
			continue;
		if (num != queue)
			continue;
		*out = (struct nfq_kernel_queue_stats){
		    .queue_total = total,
		    .copy_mode = mode,
		    .copy_range = range,
		    .queue_dropped = dropped,
		    .user_dropped = udropped,
		    .id_sequence = idseq,
		};
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}
