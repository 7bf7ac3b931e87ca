/* tcp_tx_ctl - the library's side of the control connection (tx_proto.h):
 * connect, authenticate the logger's HELLO, and synchronous requests.
 *
 * Blocking with a deadline (cfg.timeout_ms) on every wait: a logger that
 * stops answering turns into -ETIMEDOUT, never into a hung server. The
 * answers are authenticated with the same key and must carry this
 * connection's session number; an unsolicited TX_FAILURE (req_id 0) is
 * remembered and reported by tcp_tx_validate() and the next request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "tcp_tx_int.h"

static int connect_deadline(const struct sockaddr_in *sa, uint64_t deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct pollfd pf = {.fd = fd, .events = POLLOUT};
	uint64_t now = monotonic_ms();
	int n = poll(&pf, 1, now < deadline ? (int)(deadline - now) : 0);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		close(fd);
		return n == 0 ? -ETIMEDOUT : -(soerr ? soerr : ECONNREFUSED);
	}
	return fd;
}

void tcp_tx_ctl_close(struct tcp_tx *tx)
{
	if (tx->ctl >= 0)
		close(tx->ctl);
	tx->ctl = -1;
	tx->rd.have = 0;
	tx->start_req = 0;
}

static int lost(struct tcp_tx *tx, int err)
{
	tcp_tx_ctl_close(tx);
	tx->last_reason = TX_R_CTL_LOST;
	return err;
}

/* Reads one authenticated frame before the deadline. */
static int read_msg(struct tcp_tx *tx, struct tx_msg *m, uint64_t deadline)
{
	for (;;) {
		const uint8_t *frame;
		ssize_t len = tx_reader_next(&tx->rd, &frame);
		if (len < 0)
			return lost(tx, -EPROTO);
		if (len > 0) {
			int rc = tx_open(&tx->receiver, &tx->cfg.key, frame, (size_t)len,
					 realtime_us() / 1000u, m, NULL);
			tx_reader_consume(&tx->rd, (size_t)len);
			if (rc < 0)
				return lost(tx, -EPROTO); /* a logger we cannot trust */
			if (m->op != TX_HELLO && m->session != tx->session)
				continue; /* not for this connection: ignore */
			return 0;
		}
		uint64_t now = monotonic_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = tx->ctl, .events = POLLIN};
		int n = poll(&pf, 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			return lost(tx, -errno);
		if (n <= 0)
			continue;
		uint8_t buf[TX_FRAME_MAX];
		size_t room = sizeof(tx->rd.buf) - tx->rd.have;
		ssize_t r = recv(tx->ctl, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
		if (r == 0)
			return lost(tx, -ENOTCONN);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return lost(tx, -errno);
		}
		tx_reader_feed(&tx->rd, buf, (size_t)r);
	}
}

int tcp_tx_ctl_open(struct tcp_tx *tx)
{
	if (!tx->receiver_ready) {
		struct auth_receiver_config rc;
		auth_receiver_config_default(&rc);
		rc.max_senders = 4;
		if (auth_receiver_init(&tx->receiver, &rc) < 0)
			return -ENOMEM;
		tx->receiver_ready = true;
		uint32_t id = tx->cfg.sender_id;
		while (id == 0 && getrandom(&id, sizeof(id), 0) != sizeof(id))
			;
		auth_sender_init(&tx->sender, id, 0);
		struct sockaddr_in l, p;
		socklen_t ll = sizeof(l), pl = sizeof(p);
		if (getsockname(tx->fd, (struct sockaddr *)&l, &ll) < 0 ||
		    getpeername(tx->fd, (struct sockaddr *)&p, &pl) < 0 || l.sin_family != AF_INET)
			return -ENOTCONN;
		tx->conn.server_addr = ntohl(l.sin_addr.s_addr);
		tx->conn.server_port = ntohs(l.sin_port);
		tx->conn.peer_addr = ntohl(p.sin_addr.s_addr);
		tx->conn.peer_port = ntohs(p.sin_port);
	}
	tcp_tx_ctl_close(tx);
	uint64_t deadline = monotonic_ms() + tx->cfg.timeout_ms;
	int fd = connect_deadline(&tx->cfg.logger, deadline);
	if (fd < 0)
		return lost(tx, fd);
	tx->ctl = fd;
	struct tx_msg m;
	int rc = read_msg(tx, &m, deadline);
	if (rc < 0)
		return lost(tx, rc);
	if (m.op != TX_HELLO)
		return lost(tx, -EPROTO);
	tx->session = m.session;
	return 0;
}

static int send_frame(struct tcp_tx *tx, const uint8_t *f, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(tx->ctl, f + done, len - done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = {.fd = tx->ctl, .events = POLLOUT};
				if (poll(&pf, 1, (int)tx->cfg.timeout_ms) <= 0)
					return lost(tx, -ETIMEDOUT);
				continue;
			}
			return lost(tx, -errno);
		}
		done += (size_t)n;
	}
	return 0;
}

static int send_req(struct tcp_tx *tx, const struct tx_msg *req, const struct auth_key *key)
{
	if (tx->ctl < 0) {
		tx->last_reason = TX_R_CTL_LOST;
		return -ENOTCONN;
	}
	ssize_t len = tx_seal(&tx->sender, key ? key : &tx->cfg.key, req, tx->last_frame,
			      sizeof(tx->last_frame));
	if (len < 0)
		return (int)len;
	tx->last_frame_len = (size_t)len;
	return send_frame(tx, tx->last_frame, (size_t)len);
}

/* Waits for the answer to req_id; unsolicited failures are remembered. */
static int wait_answer(struct tcp_tx *tx, uint32_t req_id, struct tx_msg *ans)
{
	uint64_t deadline = monotonic_ms() + tx->cfg.timeout_ms;
	for (;;) {
		int rc = read_msg(tx, ans, deadline);
		if (rc < 0)
			return rc;
		if (ans->req_id == 0 && ans->op == TX_FAILURE) {
			tx->pending_failure = ans->reason;
			continue;
		}
		if (ans->req_id == req_id && (ans->op == TX_SUCCESS || ans->op == TX_FAILURE))
			return 0;
	}
}

void tcp_tx_debug_fill(const struct tcp_tx *tx, int op, struct tx_msg *req)
{
	memset(req, 0, sizeof(*req));
	req->op = (uint8_t)op;
	req->session = tx->session;
	req->conn = tx->conn;
	req->txn = tx->txn_no;
	req->in_start = op == TX_START ? tx->in_off : tx->txn_in;
	req->out_start = op == TX_START ? tx->out_off : tx->txn_out;
	if (op == TX_COMMIT || op == TX_ABORT) {
		req->in_end = tx->in_off;
		req->out_end = tx->out_off;
	}
}

int tcp_tx_ctl_begin_start(struct tcp_tx *tx)
{
	if (tx->ctl < 0) {
		int rc = tcp_tx_ctl_open(tx);
		if (rc < 0)
			return rc;
	}
	struct tx_msg req;
	tcp_tx_debug_fill(tx, TX_START, &req);
	req.txn = tx->txn_no + 1;
	req.req_id = ++tx->next_req ? tx->next_req : ++tx->next_req;
	int rc = send_req(tx, &req, NULL);
	if (rc < 0)
		return rc;
	tx->start_req = req.req_id;
	return 0;
}

int tcp_tx_ctl_finish_start(struct tcp_tx *tx)
{
	if (!tx->start_req)
		return tx->start_failed ? -EPROTO : 0;
	struct tx_msg ans;
	uint32_t id = tx->start_req;
	tx->start_req = 0;
	int rc = wait_answer(tx, id, &ans);
	if (rc < 0)
		return rc;
	if (ans.op == TX_FAILURE) {
		tx->last_reason = ans.reason;
		tx->start_failed = true;
		return -EPROTO;
	}
	return 0;
}

int tcp_tx_ctl_call(struct tcp_tx *tx, int op, struct tx_msg *ans_out)
{
	struct tx_msg req, ans;
	tcp_tx_debug_fill(tx, op, &req);
	req.req_id = ++tx->next_req ? tx->next_req : ++tx->next_req;
	int rc = send_req(tx, &req, NULL);
	if (rc == 0)
		rc = wait_answer(tx, req.req_id, &ans);
	if (rc < 0)
		return rc;
	if (ans.op == TX_FAILURE) {
		tx->last_reason = ans.reason;
		return -EPROTO;
	}
	if (ans_out)
		*ans_out = ans;
	return 0;
}

int tcp_tx_ctl_poll(struct tcp_tx *tx)
{
	while (tx->ctl >= 0 && !tx->start_req) {
		const uint8_t *f;
		if (tx_reader_next(&tx->rd, &f) == 0) {
			struct pollfd pf = {.fd = tx->ctl, .events = POLLIN};
			if (poll(&pf, 1, 0) <= 0)
				break;
		}
		struct tx_msg m;
		int rc = read_msg(tx, &m, monotonic_ms() + 1);
		if (rc == -ETIMEDOUT)
			break;
		if (rc < 0)
			return rc;
		if (m.req_id == 0 && m.op == TX_FAILURE)
			tx->pending_failure = m.reason;
	}
	if (tx->pending_failure) {
		tx->last_reason = tx->pending_failure;
		return -EPROTO;
	}
	return tx->ctl < 0 ? -ENOTCONN : 0;
}

void tcp_tx_debug_drop_ctl(struct tcp_tx *tx)
{
	if (tx->ctl >= 0)
		shutdown(tx->ctl, SHUT_RDWR);
	tcp_tx_ctl_close(tx);
}

int tcp_tx_debug_request(struct tcp_tx *tx, const struct tx_msg *req, const struct auth_key *key,
			 bool keep_ids, bool replay, struct tx_msg *ans)
{
	struct tx_msg m = *req;
	int rc;
	if (replay) {
		struct tx_msg sent;
		if (!tx->last_frame_len ||
		    tx_decode(tx->last_frame + AUTH_MSG_HEADER_LEN, TX_BODY_LEN, &sent) < 0)
			return -ENOENT;
		m = sent;
		rc = tx->ctl < 0 ? -ENOTCONN : send_frame(tx, tx->last_frame, tx->last_frame_len);
	} else {
		if (!keep_ids) {
			m.req_id = ++tx->next_req ? tx->next_req : ++tx->next_req;
			m.session = tx->session;
		}
		rc = send_req(tx, &m, key);
	}
	if (rc == 0)
		rc = wait_answer(tx, m.req_id, ans);
	if (rc < 0)
		return rc;
	return ans->op == TX_FAILURE ? ans->reason : 0;
}
