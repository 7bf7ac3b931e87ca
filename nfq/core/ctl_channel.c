/* ctl_channel - see ctl_channel.h: local SEQPACKET clients and
 * authenticated UDP, both feeding one receive callback. */
#include "ctl_channel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"
#include "stats.h"

/* ---- config ------------------------------------------------------------- */

static int parse_peer(void *dst, const struct config_key *key, const char *value, char *err,
		      size_t errlen)
{
	struct ctl_channel_config *cfg = dst;
	(void)key;
	if (cfg->npeers >= CTL_MAX_PEERS) {
		snprintf(err, errlen, "more than %d peers", CTL_MAX_PEERS);
		return -1;
	}
	if (config_parse_ipv4_port(value, &cfg->peers[cfg->npeers], err, errlen) < 0)
		return -1;
	cfg->npeers++;
	return 0;
}

static void dump_peers(FILE *out, const struct config_key *key, const void *dst)
{
	const struct ctl_channel_config *cfg = dst;
	char a[INET_ADDRSTRLEN];
	for (unsigned i = 0; i < cfg->npeers; i++)
		fprintf(out, "%s = %s:%u\n", key->key,
			inet_ntop(AF_INET, &cfg->peers[i].sin_addr, a, sizeof(a)),
			ntohs(cfg->peers[i].sin_port));
}

static int parse_allow(void *dst, const struct config_key *key, const char *value, char *err,
		       size_t errlen)
{
	struct ctl_channel_config *cfg = dst;
	(void)key;
	if (cfg->nallow >= CTL_MAX_ALLOW) {
		snprintf(err, errlen, "more than %d allowed senders", CTL_MAX_ALLOW);
		return -1;
	}
	uint32_t id;
	if (config_parse_u32(value, 0, UINT32_MAX, &id, err, errlen) < 0)
		return -1;
	cfg->allow[cfg->nallow++] = id;
	return 0;
}

static void dump_allow(FILE *out, const struct config_key *key, const void *dst)
{
	const struct ctl_channel_config *cfg = dst;
	for (unsigned i = 0; i < cfg->nallow; i++)
		fprintf(out, "%s = %u\n", key->key, cfg->allow[i]);
}

#define T struct ctl_channel_config
const struct config_key ctl_channel_config_keys[] = {
    CONFIG_STR("control", "socket", T, socket_path),
    CONFIG_U32("control", "max_local", T, max_local, 0, CTL_MAX_LOCAL),
    CONFIG_IPV4_PORT("control", "bind", T, bind),
    CONFIG_CUSTOM_DUMP("control", "peer", parse_peer, dump_peers),
    CONFIG_STR("control", "key_file", T, key_file),
    CONFIG_U32("control", "sender_id", T, sender_id, 0, UINT32_MAX),
    CONFIG_CUSTOM_DUMP("control", "allow_sender", parse_allow, dump_allow),
    CONFIG_DURATION_MS("control", "max_age", T, max_age_ms, 1, 3600000),
    CONFIG_DURATION_MS("control", "max_future", T, max_future_ms, 0, 3600000),
    {0},
};
#undef T

void ctl_channel_config_default(struct ctl_channel_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_local = 8;
	/* Control messages matter for seconds: a shorter window than the
	 * auth default bounds what a captured datagram is worth. */
	cfg->max_age_ms = 10000;
	cfg->max_future_ms = AUTH_DEFAULT_MAX_FUTURE_MS;
}

/* ---- local clients ------------------------------------------------------ */

static void deliver(struct ctl_channel *ch, const uint8_t *buf, size_t len,
		    const struct ctl_origin *from)
{
	struct ctl_msg m;
	int rc = ctl_msg_decode(buf, len, &m);
	if (rc < 0) {
		ch->c.rx_malformed[-rc]++;
		return;
	}
	if (from->kind == CTL_FROM_LOCAL)
		ch->c.rx_local++;
	else
		ch->c.rx_udp++;
	if (ch->recv)
		ch->recv(ch->arg, &m, from);
}

static void local_drop(struct ctl_channel *ch, int fd)
{
	for (unsigned i = 0; i < ch->nlocal; i++) {
		if (ch->local[i] != fd)
			continue;
		event_loop_del_fd(ch->loop, fd);
		close(fd);
		ch->local[i] = ch->local[--ch->nlocal];
		ch->c.local_closed++;
		return;
	}
}

static void on_local(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_channel *ch = arg;
	(void)loop, (void)events;
	uint8_t buf[CTL_MSG_MAX + 1];
	for (int i = 0; i < CTL_RX_BURST; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			local_drop(ch, fd);
			return;
		}
		if (n < 0)
			return;
		if ((size_t)n > CTL_MSG_MAX) {
			ch->c.rx_oversize++;
			continue;
		}
		struct ctl_origin from = {.kind = CTL_FROM_LOCAL, .local_fd = fd};
		deliver(ch, buf, (size_t)n, &from);
	}
}

static void on_accept(struct event_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct ctl_channel *ch = arg;
	(void)events;
	for (int i = 0; i < CTL_RX_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (ch->nlocal >= ch->cfg.max_local ||
		    event_loop_add_fd(loop, fd, EPOLLIN, on_local, ch) < 0) {
			ch->c.local_refused++;
			close(fd);
			continue;
		}
		ch->local[ch->nlocal++] = fd;
		ch->c.local_accepted++;
	}
}

static int open_local(struct ctl_channel *ch, char *err, size_t errlen)
{
	const char *path = ch->cfg.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* Parent directory (e.g. /run/craft), one level; a stale socket from
	 * a previous run is replaced, any other file is not. */
	char dir[CTL_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "mkdir %s: %s", dir, strerror(e));
			return -e;
		}
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	int rc = event_loop_add_fd(ch->loop, fd, EPOLLIN, on_accept, ch);
	if (rc < 0) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "control socket: event loop: %s", strerror(-rc));
		return rc;
	}
	ch->listen_fd = fd;
	return 0;
}

/* ---- UDP ---------------------------------------------------------------- */

static void on_udp(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_channel *ch = arg;
	(void)loop, (void)events;
	uint8_t buf[CTL_DATAGRAM_MAX + 1];
	for (int i = 0; i < CTL_RX_BURST; i++) {
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&src, &slen);
		if (n < 0)
			return;
		if ((size_t)n > CTL_DATAGRAM_MAX) {
			ch->c.rx_oversize++;
			continue;
		}
		struct auth_msg_view v;
		int rc = auth_msg_open(&ch->receiver, &ch->key, buf, (size_t)n,
				       realtime_us() / 1000, &v);
		if (rc != AUTH_OK) {
			ch->c.rx_auth_rejected++;
			continue;
		}
		if (v.body_len < 2 || v.type != CTL_AUTH_TYPE(v.body[1])) {
			ch->c.rx_type_mismatch++;
			continue;
		}
		struct ctl_origin from = {.kind = CTL_FROM_UDP, .addr = src, .sender_id = v.sender};
		deliver(ch, v.body, v.body_len, &from);
	}
}

static int open_udp(struct ctl_channel *ch, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ch->cfg.bind.sin_family == AF_INET) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ch->cfg.bind, sizeof(ch->cfg.bind)) < 0) {
			int e = errno;
			char a[INET_ADDRSTRLEN];
			snprintf(err, errlen, "control bind %s:%u: %s",
				 inet_ntop(AF_INET, &ch->cfg.bind.sin_addr, a, sizeof(a)),
				 ntohs(ch->cfg.bind.sin_port), strerror(e));
			close(fd);
			return -e;
		}
	}
	int rc = event_loop_add_fd(ch->loop, fd, EPOLLIN, on_udp, ch);
	if (rc < 0) {
		close(fd);
		snprintf(err, errlen, "control udp: event loop: %s", strerror(-rc));
		return rc;
	}
	ch->udp_fd = fd;
	return 0;
}

int ctl_channel_open(struct ctl_channel *ch, struct event_loop *loop,
		     const struct ctl_channel_config *cfg, ctl_recv_fn *recv, void *arg, char *err,
		     size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	memset(ch, 0, sizeof(*ch));
	ch->listen_fd = ch->udp_fd = -1;
	if (!loop || !cfg || cfg->max_local > CTL_MAX_LOCAL || cfg->npeers > CTL_MAX_PEERS ||
	    cfg->nallow > CTL_MAX_ALLOW) {
		snprintf(err, errlen, "control: bad configuration");
		return -EINVAL;
	}
	ch->cfg = *cfg;
	ch->loop = loop;
	ch->recv = recv;
	ch->arg = arg;
	bool udp = cfg->bind.sin_family == AF_INET || cfg->npeers > 0;
	if (udp) {
		if (!cfg->key_file[0]) {
			snprintf(err, errlen,
				 "control: UDP needs key_file (remote messages are "
				 "always authenticated)");
			return -EINVAL;
		}
		int rc = auth_key_load_file(cfg->key_file, &ch->key, err, errlen);
		if (rc < 0)
			return rc;
		ch->have_key = true;
		auth_sender_init(&ch->sender, cfg->sender_id, 0);
		struct auth_receiver_config rc_cfg;
		auth_receiver_config_default(&rc_cfg);
		rc_cfg.max_age_ms = cfg->max_age_ms;
		rc_cfg.max_future_ms = cfg->max_future_ms;
		rc = auth_receiver_init(&ch->receiver, &rc_cfg);
		if (rc < 0) {
			snprintf(err, errlen, "control: auth receiver: %s", strerror(-rc));
			ctl_channel_close(ch);
			return rc;
		}
		ch->receiver_ready = true;
		for (unsigned i = 0; i < cfg->nallow; i++)
			auth_receiver_allow(&ch->receiver, cfg->allow[i]);
		rc = open_udp(ch, err, errlen);
		if (rc < 0) {
			ctl_channel_close(ch);
			return rc;
		}
	}
	if (cfg->socket_path[0]) {
		int rc = open_local(ch, err, errlen);
		if (rc < 0) {
			ctl_channel_close(ch);
			return rc;
		}
	}
	return 0;
}

void ctl_channel_close(struct ctl_channel *ch)
{
	while (ch->nlocal > 0)
		local_drop(ch, ch->local[ch->nlocal - 1]);
	if (ch->listen_fd >= 0) {
		event_loop_del_fd(ch->loop, ch->listen_fd);
		close(ch->listen_fd);
		unlink(ch->cfg.socket_path);
		ch->listen_fd = -1;
	}
	if (ch->udp_fd >= 0) {
		event_loop_del_fd(ch->loop, ch->udp_fd);
		close(ch->udp_fd);
		ch->udp_fd = -1;
	}
	if (ch->receiver_ready)
		auth_receiver_free(&ch->receiver);
	ch->receiver_ready = false;
	auth_key_wipe(&ch->key);
	ch->have_key = false;
}

/* ---- sending ------------------------------------------------------------ */

static int send_sealed(struct ctl_channel *ch, const uint8_t *body, size_t len,
		       const struct sockaddr_in *to)
{
	if (ch->udp_fd < 0 || !ch->have_key)
		return -ENOTCONN;
	uint8_t dg[CTL_DATAGRAM_MAX];
	ssize_t n =
	    auth_msg_seal(&ch->sender, &ch->key, CTL_AUTH_TYPE(body[1]), body, len, dg, sizeof(dg));
	if (n < 0)
		return (int)n;
	if (sendto(ch->udp_fd, dg, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)to,
		   sizeof(*to)) != n) {
		ch->c.tx_errors++;
		return -errno;
	}
	ch->c.tx_udp++;
	return 0;
}

static int send_local(struct ctl_channel *ch, int fd, const uint8_t *buf, size_t len)
{
	if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
		ch->c.tx_local++;
		return 0;
	}
	int e = errno;
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
		ch->c.tx_local_dropped++; /* slow reader: its loss, not ours */
		return -e;
	}
	ch->c.tx_errors++;
	local_drop(ch, fd);
	return -e;
}

int ctl_channel_broadcast(struct ctl_channel *ch, const struct ctl_msg *m)
{
	uint8_t buf[CTL_MSG_MAX];
	int n = ctl_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	int copies = 0;
	for (unsigned i = ch->nlocal; i-- > 0;)
		if (send_local(ch, ch->local[i], buf, (size_t)n) == 0)
			copies++;
	for (unsigned i = 0; i < ch->cfg.npeers; i++)
		if (send_sealed(ch, buf, (size_t)n, &ch->cfg.peers[i]) == 0)
			copies++;
	return copies;
}

int ctl_channel_send_udp(struct ctl_channel *ch, const struct ctl_msg *m,
			 const struct sockaddr_in *to)
{
	uint8_t buf[CTL_MSG_MAX];
	int n = ctl_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	return send_sealed(ch, buf, (size_t)n, to);
}

int ctl_channel_reply(struct ctl_channel *ch, const struct ctl_msg *m, const struct ctl_origin *to)
{
	if (to->kind == CTL_FROM_UDP)
		return ctl_channel_send_udp(ch, m, &to->addr);
	uint8_t buf[CTL_MSG_MAX];
	int n = ctl_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	for (unsigned i = 0; i < ch->nlocal; i++)
		if (ch->local[i] == to->local_fd)
			return send_local(ch, to->local_fd, buf, (size_t)n);
	return -ENOTCONN; /* the client left */
}

int ctl_channel_udp_addr(const struct ctl_channel *ch, struct sockaddr_in *out)
{
	if (ch->udp_fd < 0)
		return -ENOTCONN;
	socklen_t len = sizeof(*out);
	return getsockname(ch->udp_fd, (struct sockaddr *)out, &len) < 0 ? -errno : 0;
}

void ctl_channel_collect_stats(const struct ctl_channel *ch, struct stats_report *r,
			       const char *prefix)
{
	const struct ctl_counters *c = &ch->c;
	stats_add(r, prefix, "tx_local", c->tx_local);
	stats_add(r, prefix, "tx_udp", c->tx_udp);
	stats_add(r, prefix, "tx_errors", c->tx_errors);
	stats_add(r, prefix, "tx_local_dropped", c->tx_local_dropped);
	stats_add(r, prefix, "rx_local", c->rx_local);
	stats_add(r, prefix, "rx_udp", c->rx_udp);
	stats_add(r, prefix, "rx_oversize", c->rx_oversize);
	stats_add(r, prefix, "rx_type_mismatch", c->rx_type_mismatch);
	stats_add(r, prefix, "rx_auth_rejected", c->rx_auth_rejected);
	uint64_t malformed = 0;
	for (int i = 1; i < CTL_NERR; i++)
		malformed += c->rx_malformed[i];
	stats_add(r, prefix, "rx_malformed", malformed);
	stats_add(r, prefix, "local_clients", ch->nlocal);
	stats_add(r, prefix, "local_accepted", c->local_accepted);
	stats_add(r, prefix, "local_refused", c->local_refused);
	if (ch->receiver_ready) {
		char p[STATS_NAME_MAX];
		snprintf(p, sizeof(p), "%s%sauth", prefix ? prefix : "",
			 prefix && *prefix ? "_" : "");
		auth_receiver_collect_stats(&ch->receiver, r, p);
	}
}
