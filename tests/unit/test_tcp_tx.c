/* Unit tests of the server library tcp_tx: SMA (holding and replay in the
 * library) over a socketpair, plain mode, and the logger modes against a
 * scripted fake logger on loopback inside a private network namespace
 * (skipped without CAP_SYS_ADMIN): the request sequence and offsets, the
 * replay skip after TX_RESTART, unsolicited failures, a refused START, a
 * lost control connection and a logger whose answers are forged. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "tcp_tx.h"

#define KEY_HEX	 "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210"
#define KEY2_HEX "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	buf[n] = 0;
}

static void recv_str(struct tcp_tx *tx, const char *want)
{
	char buf[64];
	size_t n = strlen(want), got = 0;
	while (got < n) {
		ssize_t r = tcp_tx_receive(tx, buf + got, n - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	buf[n] = 0;
	ck_assert_str_eq(buf, want);
}

static bool nothing_to_read(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

START_TEST(test_sma)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct tcp_tx_config cfg;
	tcp_tx_config_default(&cfg);
	cfg.mode = TCP_TX_SMA;
	cfg.max_txn_bytes = 100;
	struct tcp_tx *tx;
	ck_assert_int_eq(tcp_tx_attach(&tx, sv[0], &cfg), 0);
	ck_assert_int_eq(write(sv[1], "REQ1\n", 5), 5);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_eq(tcp_tx_start(tx), -EALREADY);
	recv_str(tx, "REQ1\n");
	ck_assert_int_eq(tcp_tx_send(tx, "partial", 7), 7);
	ck_assert(nothing_to_read(sv[1]));
	ck_assert_int_eq(tcp_tx_abort(tx, true), 0);
	ck_assert(nothing_to_read(sv[1]));
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ1\n"); /* replayed */
	ck_assert_int_eq(tcp_tx_send(tx, "RESP1", 5), 5);
	ck_assert_int_eq(tcp_tx_commit(tx), 0);
	char buf[64];
	read_exact(sv[1], buf, 5);
	ck_assert_str_eq(buf, "RESP1");
	/* pipelined requests: the replay is only the transaction's part */
	ck_assert_int_eq(write(sv[1], "REQ2\nREQ3\n", 10), 10);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ2\n");
	ck_assert_int_eq(tcp_tx_send(tx, "x", 1), 1);
	ck_assert_int_eq(tcp_tx_send(tx, buf, 100), -ENOBUFS);
	ck_assert_int_eq(tcp_tx_abort(tx, true), 0);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ2\n");
	ck_assert_int_eq(tcp_tx_commit(tx), 0);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ3\n");
	ck_assert_int_eq(tcp_tx_send(tx, "RESP3", 5), 5);
	ck_assert_int_eq(tcp_tx_abort(tx, false), 0); /* given up: not read again */
	ck_assert_int_eq(write(sv[1], "REQ4\n", 5), 5);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ4\n");
	ck_assert_int_eq(tcp_tx_commit(tx), 0);
	ck_assert_int_eq(tcp_tx_commit(tx), -ENOENT);
	ck_assert(nothing_to_read(sv[1]));
	ck_assert_uint_eq(tcp_tx_out_offset(tx), 5);
	tcp_tx_detach(tx);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_plain)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct tcp_tx_config cfg;
	tcp_tx_config_default(&cfg);
	enum tcp_tx_mode m;
	ck_assert_int_eq(tcp_tx_mode_parse("2ca", &m), 0);
	ck_assert_int_eq(m, TCP_TX_2CA);
	ck_assert_int_eq(tcp_tx_mode_parse("nope", &m), -EINVAL);
	struct tcp_tx *tx;
	ck_assert_int_eq(tcp_tx_attach(&tx, sv[0], &cfg), 0);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_eq(tcp_tx_send(tx, "abc", 3), 3);
	ck_assert_int_eq(tcp_tx_abort(tx, true), -ENOTSUP);
	ck_assert_int_eq(tcp_tx_commit(tx), 0);
	ck_assert_int_eq(tcp_tx_validate(tx), 0);
	char buf[8];
	read_exact(sv[1], buf, 3);
	ck_assert_str_eq(buf, "abc");
	tcp_tx_detach(tx);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- a scripted logger -------------------------------------------------- */

struct fake {
	int lfd;     /* control listener */
	int peer_fd; /* the peer's end of the data connection */
	struct auth_key key, answer_key;
	int fail_op;	  /* answer this op with TX_FAILURE(TX_R_OFFSETS) */
	bool unsolicited; /* send a TX_FAILURE(held_limit) after START */
	bool drop_after_start;
	unsigned sessions;
	struct tx_msg log[64];
	unsigned nlog;
	uint64_t peer_sent; /* bytes the peer wrote on the data connection */
	const char *resend; /* what TX_RESTART "resends" */
};

static void fake_send(struct fake *f, int fd, struct auth_sender *s, const struct tx_msg *m)
{
	uint8_t buf[TX_FRAME_MAX];
	ssize_t n = tx_seal(s, &f->answer_key, m, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(write(fd, buf, (size_t)n), n);
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct auth_sender snd;
	auth_sender_init(&snd, 900, 0);
	for (;;) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		f->sessions++;
		struct auth_receiver rcv;
		struct auth_receiver_config rc;
		auth_receiver_config_default(&rc);
		auth_receiver_init(&rcv, &rc);
		struct tx_msg hello = {.op = TX_HELLO, .session = 1000 + f->sessions};
		fake_send(f, fd, &snd, &hello);
		struct tx_reader rd = {0};
		for (;;) {
			uint8_t buf[512];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			tx_reader_feed(&rd, buf, (size_t)n);
			const uint8_t *fr;
			ssize_t fl;
			bool drop = false;
			while ((fl = tx_reader_next(&rd, &fr)) > 0) {
				struct tx_msg m, a;
				int rcode = tx_open(&rcv, &f->key, fr, (size_t)fl,
						    realtime_us() / 1000, &m, NULL);
				tx_reader_consume(&rd, (size_t)fl);
				ck_assert_int_eq(rcode, 0);
				ck_assert_uint_eq(m.session, hello.session);
				if (f->nlog < 64)
					f->log[f->nlog++] = m;
				tx_reply(&m, m.op == f->fail_op ? TX_R_OFFSETS : 0, &a);
				if (m.op == TX_RESTART && f->resend) {
					size_t len = strlen(f->resend);
					a.in_start = f->peer_sent;
					a.in_end = f->peer_sent + len;
					ck_assert_int_eq(write(f->peer_fd, f->resend, len),
							 (ssize_t)len);
					f->peer_sent += len;
				}
				fake_send(f, fd, &snd, &a);
				if (m.op == TX_START && f->unsolicited) {
					struct tx_msg u = {.op = TX_FAILURE,
							   .reason = TX_R_HELD_LIMIT,
							   .session = hello.session};
					fake_send(f, fd, &snd, &u);
				}
				if (m.op == TX_START && f->drop_after_start) {
					f->drop_after_start = false;
					drop = true;
				}
			}
			if (drop)
				break;
		}
		auth_receiver_free(&rcv);
		close(fd);
	}
}

static bool private_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return false;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	int rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return rc == 0;
}

static int listen_lo(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* Data connection: *srv the accepted end, return the peer's end. */
static int data_conn(int *srv)
{
	int l = listen_lo(7000);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7000)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	*srv = accept(l, NULL, NULL);
	close(l);
	return c;
}

static struct fake F;

static struct tcp_tx *logger_setup(void)
{
	if (!private_netns())
		return NULL;
	memset(&F, 0, sizeof(F));
	auth_key_from_hex(&F.key, KEY_HEX, NULL, 0);
	F.answer_key = F.key;
	F.lfd = listen_lo(7100);
	int srv;
	F.peer_fd = data_conn(&srv);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, fake_run, &F), 0);
	pthread_detach(th);
	struct tcp_tx_config cfg;
	tcp_tx_config_default(&cfg);
	cfg.mode = TCP_TX_TLA;
	cfg.key = F.key;
	cfg.timeout_ms = 1000;
	cfg.logger.sin_family = AF_INET;
	cfg.logger.sin_port = htons(7100);
	cfg.logger.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct tcp_tx *tx;
	ck_assert_int_eq(tcp_tx_attach(&tx, srv, &cfg), 0);
	return tx;
}

static void peer_write(const char *s)
{
	size_t n = strlen(s);
	ck_assert_int_eq(write(F.peer_fd, s, n), (ssize_t)n);
	F.peer_sent += n;
}

START_TEST(test_logger_protocol)
{
	struct tcp_tx *tx = logger_setup();
	if (!tx)
		return; /* no CAP_SYS_ADMIN: nothing to test here */
	peer_write("REQ1\n");
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ1\n");
	ck_assert_int_eq(tcp_tx_send(tx, "half", 4), 4);
	F.resend = "REQ1\n";
	peer_write("NEXT\n"); /* pipelined: before the replay on the socket */
	ck_assert_int_eq(tcp_tx_abort(tx, true), 0);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	recv_str(tx, "REQ1\n"); /* "NEXT\n" was skipped: it comes again later */
	ck_assert_int_eq(tcp_tx_send(tx, "full", 4), 4);
	ck_assert_int_eq(tcp_tx_commit(tx), 0);
	ck_assert_uint_eq(F.nlog, 5);
	ck_assert_int_eq(F.log[0].op, TX_START);
	ck_assert_uint_eq(F.log[0].in_start, 0);
	ck_assert_int_eq(F.log[1].op, TX_ABORT);
	ck_assert_uint_eq(F.log[1].in_end, 5);
	ck_assert_uint_eq(F.log[1].out_end, 4);
	ck_assert_int_eq(F.log[2].op, TX_RESTART);
	ck_assert_int_eq(F.log[3].op, TX_START);
	ck_assert_uint_eq(F.log[3].in_start, 10);
	ck_assert_uint_eq(F.log[3].out_start, 4);
	ck_assert_int_eq(F.log[4].op, TX_COMMIT);
	ck_assert_uint_eq(F.log[4].in_end, 15);
	ck_assert_uint_eq(F.log[4].out_end, 8);
	ck_assert_uint_eq(F.log[0].conn.server_port, 7000);
	tcp_tx_detach(tx);
}
END_TEST

START_TEST(test_logger_failures)
{
	struct tcp_tx *tx = logger_setup();
	if (!tx)
		return;
	/* a refused START: sends fail, abort cannot replay */
	F.fail_op = TX_START;
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_eq(tcp_tx_send(tx, "x", 1), -EPROTO);
	ck_assert_int_eq(tcp_tx_last_reason(tx), TX_R_OFFSETS);
	ck_assert_int_eq(tcp_tx_abort(tx, true), -EPROTO);
	F.fail_op = 0;
	/* an unsolicited failure reaches validate */
	F.unsolicited = true;
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_eq(tcp_tx_send(tx, "x", 1), 1);
	uint64_t t0 = monotonic_ms();
	while (tcp_tx_validate(tx) == 0 && monotonic_ms() - t0 < 1000)
		usleep(1000);
	ck_assert_int_eq(tcp_tx_validate(tx), -EPROTO);
	ck_assert_int_eq(tcp_tx_last_reason(tx), TX_R_HELD_LIMIT);
	F.unsolicited = false;
	ck_assert_int_eq(tcp_tx_abort(tx, false), 0);
	/* a lost control connection: abort reconnects */
	F.drop_after_start = true;
	unsigned before = F.sessions;
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_eq(tcp_tx_send(tx, "y", 1), 1);
	t0 = monotonic_ms();
	while (tcp_tx_validate(tx) == 0 && monotonic_ms() - t0 < 1000)
		usleep(1000);
	ck_assert_int_eq(tcp_tx_validate(tx), -ENOTCONN);
	ck_assert_int_eq(tcp_tx_commit(tx), -ENOTCONN);
	ck_assert_int_eq(tcp_tx_abort(tx, false), 0);
	ck_assert_uint_eq(F.sessions, before + 1);
	ck_assert_int_eq(F.log[F.nlog - 1].op, TX_ABORT);
	ck_assert_uint_eq(F.log[F.nlog - 1].out_end, 2);
	/* answers sealed with another key are not believed */
	auth_key_from_hex(&F.answer_key, KEY2_HEX, NULL, 0);
	ck_assert_int_eq(tcp_tx_start(tx), 0);
	ck_assert_int_lt(tcp_tx_send(tx, "z", 1), 0);
	tcp_tx_detach(tx);
}
END_TEST

Suite *tcp_tx_suite(void);
Suite *tcp_tx_suite(void)
{
	Suite *s = suite_create("tcp_tx");
	TCase *tc = tcase_create("lib");
	tcase_add_test(tc, test_sma);
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_logger_protocol);
	tcase_add_test(tc, test_logger_failures);
	suite_add_tcase(s, tc);
	return s;
}
