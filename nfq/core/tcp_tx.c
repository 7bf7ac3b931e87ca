/* tcp_tx - see tcp_tx.h. The control-connection client is in
 * tcp_tx_ctl.c; this file holds the modes' data paths. */
#include "tcp_tx.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_tx_int.h"

void tcp_tx_config_default(struct tcp_tx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = TCP_TX_PLAIN;
	cfg->timeout_ms = 3000;
	cfg->max_txn_bytes = 4u << 20;
	cfg->max_saved = 4u << 20;
	snprintf(cfg->congestion, sizeof(cfg->congestion), "cubic");
}

static const char *const mode_names[] = {"plain", "tla", "2ca", "sma"};

int tcp_tx_mode_parse(const char *s, enum tcp_tx_mode *mode)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum tcp_tx_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *tcp_tx_mode_name(enum tcp_tx_mode mode)
{
	return (unsigned)mode < 4 ? mode_names[mode] : "?";
}

static int set_congestion(int fd, const struct tcp_tx_config *cfg)
{
	if (cfg->mode != TCP_TX_TLA || !cfg->congestion[0])
		return 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cfg->congestion,
		       (socklen_t)strnlen(cfg->congestion, sizeof(cfg->congestion))) == 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0)
		return 0;
	return -errno;
}

int tcp_tx_prepare_listener(int lfd, const struct tcp_tx_config *cfg)
{
	return set_congestion(lfd, cfg);
}

static bool logger_mode(const struct tcp_tx *tx)
{
	return tx->cfg.mode == TCP_TX_TLA || tx->cfg.mode == TCP_TX_2CA;
}

int tcp_tx_attach(struct tcp_tx **out, int fd, const struct tcp_tx_config *cfg)
{
	*out = NULL;
	if ((unsigned)cfg->mode > TCP_TX_SMA)
		return -EINVAL;
	struct tcp_tx *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	tx->cfg = *cfg;
	if (!tx->cfg.timeout_ms)
		tx->cfg.timeout_ms = 3000;
	tx->fd = fd;
	tx->ctl = -1;
	if (logger_mode(tx)) {
		if (cfg->mode == TCP_TX_TLA && cfg->max_txn_bytes) {
			/* Nothing is acknowledged while held: the send buffer
			 * must take a whole transaction (the kernel doubles). */
			int sz =
			    cfg->max_txn_bytes > (1u << 29) ? 1 << 29 : (int)cfg->max_txn_bytes;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		}
		set_congestion(fd, cfg);
		int rc = tcp_tx_ctl_open(tx);
		if (rc < 0) {
			tcp_tx_detach(tx);
			return rc;
		}
	}
	*out = tx;
	return 0;
}

void tcp_tx_detach(struct tcp_tx *tx)
{
	if (!tx)
		return;
	tcp_tx_ctl_close(tx);
	if (tx->receiver_ready)
		auth_receiver_free(&tx->receiver);
	free(tx->obuf);
	free(tx->rbuf);
	free(tx);
}

bool tcp_tx_in_txn(const struct tcp_tx *tx)
{
	return tx->in_txn;
}

int tcp_tx_last_reason(const struct tcp_tx *tx)
{
	return tx->last_reason;
}

enum tcp_tx_mode tcp_tx_get_mode(const struct tcp_tx *tx)
{
	return tx->cfg.mode;
}

uint64_t tcp_tx_in_offset(const struct tcp_tx *tx)
{
	return tx->in_off;
}

uint64_t tcp_tx_out_offset(const struct tcp_tx *tx)
{
	return tx->out_off;
}

/* ---- socket I/O --------------------------------------------------------- */

static ssize_t write_all(int fd, const uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = {.fd = fd, .events = POLLOUT};
				poll(&pf, 1, 1000);
				continue;
			}
			return -errno;
		}
		done += (size_t)n;
	}
	return (ssize_t)len;
}

static ssize_t read_some(int fd, uint8_t *p, size_t len)
{
	for (;;) {
		ssize_t n = recv(fd, p, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			poll(&pf, 1, 1000);
			continue;
		}
		return -errno;
	}
}

/* TLA/2CA after a restart: the socket's bytes before the replay start are
 * copies of bytes the replay brings again. */
static int skip_to_replay(struct tcp_tx *tx)
{
	uint8_t junk[4096];
	while (tx->in_off < tx->skip_to) {
		uint64_t want = tx->skip_to - tx->in_off;
		ssize_t n =
		    read_some(tx->fd, junk, want < sizeof(junk) ? (size_t)want : sizeof(junk));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		tx->in_off += (uint64_t)n;
	}
	return 0;
}

/* ---- the API ------------------------------------------------------------ */

int tcp_tx_start(struct tcp_tx *tx)
{
	if (tx->in_txn)
		return -EALREADY;
	tx->last_reason = 0;
	tx->start_failed = false;
	tx->pending_failure = 0;
	if (logger_mode(tx)) {
		int rc = skip_to_replay(tx);
		if (rc < 0)
			return rc;
		rc = tcp_tx_ctl_begin_start(tx);
		if (rc < 0)
			return rc;
	}
	tx->txn_in = tx->in_off;
	tx->txn_out = tx->out_off;
	tx->in_txn = true;
	tx->txn_no++;
	if (tx->cfg.mode == TCP_TX_SMA) {
		tx->rmark = tx->rpos;
		tx->olen = 0;
	}
	return 0;
}

ssize_t tcp_tx_send(struct tcp_tx *tx, const void *buf, size_t len)
{
	if (tx->in_txn && tx->cfg.mode == TCP_TX_SMA) {
		if (tx->olen + len > tx->cfg.max_txn_bytes)
			return -ENOBUFS;
		if (tx->olen + len > tx->ocap) {
			size_t cap = tx->ocap ? tx->ocap : 65536;
			while (cap < tx->olen + len)
				cap *= 2;
			uint8_t *nb = realloc(tx->obuf, cap);
			if (!nb)
				return -ENOMEM;
			tx->obuf = nb;
			tx->ocap = cap;
		}
		memcpy(tx->obuf + tx->olen, buf, len);
		tx->olen += len;
		return (ssize_t)len;
	}
	if (tx->in_txn && logger_mode(tx)) {
		int rc = tcp_tx_ctl_finish_start(tx);
		if (rc < 0)
			return rc;
		if (tx->out_off + len - tx->txn_out > tx->cfg.max_txn_bytes)
			return -ENOBUFS;
	}
	ssize_t n = write_all(tx->fd, buf, len);
	if (n > 0)
		tx->out_off += (uint64_t)n;
	return n;
}

/* SMA: serves from the kept bytes, reading more from the socket. */
static ssize_t sma_receive(struct tcp_tx *tx, uint8_t *buf, size_t len)
{
	if (tx->rpos == tx->rlen) {
		if (!tx->in_txn) {
			tx->rpos = tx->rlen = 0; /* nothing to keep */
			ssize_t n = read_some(tx->fd, buf, len);
			if (n > 0)
				tx->in_off += (uint64_t)n;
			return n;
		}
		size_t base = tx->rmark;
		if (base > 0) { /* drop what no transaction can replay */
			memmove(tx->rbuf, tx->rbuf + base, tx->rlen - base);
			tx->rlen -= base;
			tx->rpos -= base;
			tx->rmark = 0;
		}
		if (tx->rlen + len > tx->cfg.max_saved)
			return -ENOBUFS;
		if (tx->rlen + len > tx->rcap) {
			size_t cap = tx->rcap ? tx->rcap : 65536;
			while (cap < tx->rlen + len)
				cap *= 2;
			uint8_t *nb = realloc(tx->rbuf, cap);
			if (!nb)
				return -ENOMEM;
			tx->rbuf = nb;
			tx->rcap = cap;
		}
		ssize_t n = read_some(tx->fd, tx->rbuf + tx->rlen, len);
		if (n <= 0)
			return n;
		tx->rlen += (size_t)n;
		tx->in_off += (uint64_t)n;
	}
	size_t n = tx->rlen - tx->rpos < len ? tx->rlen - tx->rpos : len;
	memcpy(buf, tx->rbuf + tx->rpos, n);
	tx->rpos += n;
	return (ssize_t)n;
}

ssize_t tcp_tx_receive(struct tcp_tx *tx, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (tx->cfg.mode == TCP_TX_SMA)
		return sma_receive(tx, buf, len);
	if (logger_mode(tx)) {
		int rc = skip_to_replay(tx);
		if (rc < 0)
			return rc;
	}
	ssize_t n = read_some(tx->fd, buf, len);
	if (n > 0)
		tx->in_off += (uint64_t)n;
	return n;
}

int tcp_tx_commit(struct tcp_tx *tx)
{
	if (!tx->in_txn)
		return -ENOENT;
	if (tx->cfg.mode == TCP_TX_SMA) {
		ssize_t n = write_all(tx->fd, tx->obuf, tx->olen);
		if (n < 0)
			return (int)n;
		tx->out_off += tx->olen;
		tx->olen = 0;
		tx->rmark = tx->rpos;
	} else if (logger_mode(tx)) {
		int rc = tcp_tx_ctl_finish_start(tx);
		if (rc == 0)
			rc = tcp_tx_ctl_call(tx, TX_COMMIT, NULL);
		if (rc < 0)
			return rc;
	}
	tx->in_txn = false;
	return 0;
}

int tcp_tx_abort(struct tcp_tx *tx, bool restart)
{
	if (!tx->in_txn)
		return -ENOENT;
	if (tx->cfg.mode == TCP_TX_PLAIN)
		return -ENOTSUP;
	if (tx->cfg.mode == TCP_TX_SMA) {
		tx->olen = 0;
		if (restart)
			tx->rpos = tx->rmark;
		else
			tx->rmark = tx->rpos;
		tx->in_txn = false;
		return 0;
	}
	int rc = tcp_tx_ctl_finish_start(tx);
	if (tx->start_failed) {
		/* The logger refused START: it holds nothing, and cannot
		 * replay the input either. */
		tx->in_txn = false;
		return restart ? -EPROTO : 0;
	}
	if (tx->ctl < 0 && (rc = tcp_tx_ctl_open(tx)) < 0)
		return rc;
	rc = tcp_tx_ctl_call(tx, TX_ABORT, NULL);
	if (rc < 0)
		return rc;
	tx->in_txn = false;
	if (!restart)
		return 0;
	struct tx_msg ans;
	rc = tcp_tx_ctl_call(tx, TX_RESTART, &ans);
	if (rc < 0)
		return rc;
	/* The replay starts at ans.in_start in our numbering. */
	tx->skip_to = ans.in_start;
	return 0;
}

int tcp_tx_validate(struct tcp_tx *tx)
{
	if (!logger_mode(tx))
		return 0;
	return tcp_tx_ctl_poll(tx);
}
