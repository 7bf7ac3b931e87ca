/* test_ctl_channel.c - control messages over real sockets on 127.0.0.1 and
 * a UNIX socket: delivery with the sender's identity, and refusal (counted)
 * of a wrong key, a replayed datagram, garbage, an unauthenticated message,
 * an authenticated body that does not decode and a type mismatch; the local
 * socket's broadcast, query and reply, and its client bound. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_channel.h"
#include "event_loop.h"
#include "stats.h"

#define KEY1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char dir[64], key1[96], key2[96];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/craft-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key1, sizeof(key1), "%s/k1", dir);
	snprintf(key2, sizeof(key2), "%s/k2", dir);
	write_file(key1, KEY1 "\n");
	write_file(key2, KEY2 "\n");
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

struct inbox {
	int n;
	struct ctl_msg last;
	struct ctl_origin from;
	struct ctl_channel *ch; /* reply to queries when set */
};

static void on_msg(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	struct inbox *in = arg;
	in->n++;
	in->last = *m;
	in->from = *from;
	if (in->ch && m->type == CTL_CONN_QUERY) {
		struct ctl_msg r = {.type = CTL_CONN_REPLY};
		r.u.reply.query_id = m->u.query.query_id;
		r.u.reply.status = CTL_STATUS_UNSUPPORTED;
		ck_assert_int_eq(ctl_channel_reply(in->ch, &r, from), 0);
	}
}

static void pump(struct event_loop *loop, int rounds)
{
	for (int i = 0; i < rounds; i++)
		event_loop_run_once(loop, 5);
}

static struct ctl_msg failed_msg(void)
{
	struct ctl_msg m = {.type = CTL_BACKEND_FAILED};
	m.u.failed.ip = inet_addr("198.18.2.11");
	m.u.failed.port = 80;
	m.u.failed.cause = CTL_CAUSE_PROBE_FAILED;
	m.u.failed.event_id = 3;
	m.u.failed.detected_us = realtime_us();
	return m;
}

static void raw_send(const void *buf, size_t len, const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)len);
	close(fd);
}

START_TEST(udp_authenticated)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	cfg.bind =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", key1);
	struct ctl_channel rx;
	struct inbox in = {0};
	char err[256];
	ck_assert_int_eq(ctl_channel_open(&rx, &loop, &cfg, on_msg, &in, err, sizeof(err)), 0);
	struct sockaddr_in at;
	ck_assert_int_eq(ctl_channel_udp_addr(&rx, &at), 0);
	ck_assert_uint_ne(at.sin_port, 0);

	/* A sender with the same key: delivered, with its identity. */
	struct ctl_channel_config scfg;
	ctl_channel_config_default(&scfg);
	scfg.peers[scfg.npeers++] = at;
	scfg.sender_id = 4242;
	snprintf(scfg.key_file, sizeof(scfg.key_file), "%s", key1);
	struct ctl_channel tx;
	ck_assert_int_eq(ctl_channel_open(&tx, &loop, &scfg, NULL, NULL, err, sizeof(err)), 0);
	struct ctl_msg m = failed_msg();
	ck_assert_int_eq(ctl_channel_broadcast(&tx, &m), 1);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 1);
	ck_assert_int_eq(in.last.type, CTL_BACKEND_FAILED);
	ck_assert_uint_eq(in.last.u.failed.event_id, 3);
	ck_assert_int_eq(in.from.kind, CTL_FROM_UDP);
	ck_assert_uint_eq(in.from.sender_id, 4242);
	/* Repeating the message is a new datagram, not a replay. */
	ck_assert_int_eq(ctl_channel_broadcast(&tx, &m), 1);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 2);

	/* The wrong key. */
	struct ctl_channel bad;
	snprintf(scfg.key_file, sizeof(scfg.key_file), "%s", key2);
	ck_assert_int_eq(ctl_channel_open(&bad, &loop, &scfg, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(ctl_channel_broadcast(&bad, &m), 1);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 2);
	ck_assert_uint_eq(rx.c.rx_auth_rejected, 1);
	ctl_channel_close(&bad);

	/* A captured datagram sent again: a replay. */
	struct auth_key k;
	ck_assert_int_eq(auth_key_from_hex(&k, KEY1, NULL, 0), 0);
	struct auth_sender s;
	auth_sender_init(&s, 7, 0);
	uint8_t body[CTL_MSG_MAX], dg[CTL_DATAGRAM_MAX];
	int blen = ctl_msg_encode(&m, body, sizeof(body));
	ssize_t n = auth_msg_seal(&s, &k, CTL_AUTH_TYPE(CTL_BACKEND_FAILED), body, (size_t)blen, dg,
				  sizeof(dg));
	ck_assert_int_gt(n, 0);
	raw_send(dg, (size_t)n, &at);
	raw_send(dg, (size_t)n, &at);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 3);
	ck_assert_uint_eq(rx.c.rx_auth_rejected, 2);

	/* Garbage, and a control message without authentication. */
	raw_send("garbage garbage garbage garbage garbage garbage garbage garbage garbage", 71,
		 &at);
	raw_send(body, (size_t)blen, &at);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 3);
	ck_assert_uint_eq(rx.c.rx_auth_rejected, 4);

	/* Authenticated, but the body does not decode / the types disagree. */
	uint8_t junk[12] = {1, CTL_BACKEND_FAILED, 0, 8};
	n = auth_msg_seal(&s, &k, CTL_AUTH_TYPE(CTL_BACKEND_FAILED), junk, sizeof(junk), dg,
			  sizeof(dg));
	raw_send(dg, (size_t)n, &at);
	n = auth_msg_seal(&s, &k, CTL_AUTH_TYPE(CTL_BACKEND_RECOVERED), body, (size_t)blen, dg,
			  sizeof(dg));
	raw_send(dg, (size_t)n, &at);
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 3);
	ck_assert_uint_eq(rx.c.rx_malformed[-CTL_E_LENGTH], 1);
	ck_assert_uint_eq(rx.c.rx_type_mismatch, 1);

	struct stats_report rep;
	stats_reset(&rep);
	ctl_channel_collect_stats(&rx, &rep, "ctl");
	ck_assert_uint_eq(stats_get(&rep, "ctl_rx_udp"), 3);
	ck_assert_uint_eq(stats_get(&rep, "ctl_rx_auth_rejected"), 4);
	ck_assert_uint_eq(stats_get(&rep, "ctl_rx_malformed"), 1);
	ck_assert_uint_eq(stats_get(&rep, "ctl_auth_bad_tag"), 1); /* the wrong key */
	ck_assert_uint_eq(stats_get(&rep, "ctl_auth_replay"), 1);

	ctl_channel_close(&tx);
	ctl_channel_close(&rx);
	auth_key_wipe(&k);
	event_loop_free(&loop);
}
END_TEST

START_TEST(udp_needs_a_key)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	cfg.bind =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct ctl_channel ch;
	char err[256];
	ck_assert_int_eq(ctl_channel_open(&ch, &loop, &cfg, NULL, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "key_file"));
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s/missing", dir);
	ck_assert_int_eq(ctl_channel_open(&ch, &loop, &cfg, NULL, NULL, err, sizeof(err)), -ENOENT);
	event_loop_free(&loop);
}
END_TEST

static int local_client(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

START_TEST(local_socket)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	cfg.max_local = 2;
	snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s/run/logger.ctl", dir);
	struct ctl_channel ch;
	struct inbox in = {.ch = &ch};
	char err[256];
	ck_assert_int_eq(ctl_channel_open(&ch, &loop, &cfg, on_msg, &in, err, sizeof(err)), 0);
	ck_assert_int_eq(access(cfg.socket_path, F_OK), 0);

	int c1 = local_client(cfg.socket_path), c2 = local_client(cfg.socket_path);
	int c3 = local_client(cfg.socket_path); /* over max_local: closed */
	pump(&loop, 5);
	ck_assert_uint_eq(ch.nlocal, 2);
	ck_assert_uint_eq(ch.c.local_refused, 1);
	uint8_t buf[CTL_MSG_MAX + 1];
	ck_assert_int_eq(recv(c3, buf, sizeof(buf), 0), 0);
	close(c3);

	struct ctl_msg m = failed_msg();
	ck_assert_int_eq(ctl_channel_broadcast(&ch, &m), 2);
	struct ctl_msg d;
	ssize_t n = recv(c1, buf, sizeof(buf), 0);
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_uint_eq(d.u.failed.event_id, 3);
	n = recv(c2, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, 4 + 72);

	/* A query from a local client is answered on its connection. */
	struct ctl_msg q = {.type = CTL_CONN_QUERY};
	q.u.query.query_id = 99;
	q.u.query.max_txns = 4;
	q.u.query.flags = CTL_QUERY_TXNS;
	int qn = ctl_msg_encode(&q, buf, sizeof(buf));
	ck_assert_int_eq(send(c2, buf, (size_t)qn, 0), qn);
	ck_assert_int_eq(send(c2, "junk", 4, 0), 4); /* refused, counted */
	pump(&loop, 5);
	ck_assert_int_eq(in.n, 1);
	ck_assert_int_eq(in.from.kind, CTL_FROM_LOCAL);
	ck_assert_uint_eq(ch.c.rx_malformed[-CTL_E_VERSION], 1);
	n = recv(c2, buf, sizeof(buf), 0);
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_int_eq(d.type, CTL_CONN_REPLY);
	ck_assert_uint_eq(d.u.reply.query_id, 99);
	ck_assert_uint_eq(d.u.reply.status, CTL_STATUS_UNSUPPORTED);

	/* A client that leaves is dropped. */
	close(c1);
	pump(&loop, 5);
	ck_assert_uint_eq(ch.nlocal, 1);
	close(c2);
	ctl_channel_close(&ch);
	ck_assert_int_eq(access(cfg.socket_path, F_OK), -1); /* unlinked */

	/* A non-socket file in the way is not removed. */
	write_file(cfg.socket_path, "precious");
	ck_assert_int_eq(ctl_channel_open(&ch, &loop, &cfg, on_msg, &in, err, sizeof(err)),
			 -EEXIST);
	ck_assert_int_eq(access(cfg.socket_path, F_OK), 0);
	event_loop_free(&loop);
}
END_TEST

START_TEST(config_keys)
{
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	struct config_error e;
	const char *text = "[control]\n"
			   "socket = /run/craft/logger.ctl\n"
			   "bind = 198.18.1.2:7400\n"
			   "peer = 198.18.1.11:7400\n"
			   "peer = 198.18.1.12:7400\n"
			   "key_file = /etc/craft/cluster.key\n"
			   "sender_id = 2\n"
			   "allow_sender = 11\n"
			   "max_age = 5s\n";
	ck_assert_int_eq(config_load_string("t", text, ctl_channel_config_keys, &cfg, &e), 0);
	ck_assert_uint_eq(cfg.npeers, 2);
	ck_assert_uint_eq(ntohs(cfg.peers[1].sin_port), 7400);
	ck_assert_uint_eq(cfg.nallow, 1);
	ck_assert_uint_eq(cfg.max_age_ms, 5000);
	ck_assert_str_eq(cfg.socket_path, "/run/craft/logger.ctl");
}
END_TEST

Suite *ctl_channel_suite(void);
Suite *ctl_channel_suite(void)
{
	Suite *s = suite_create("ctl_channel");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, udp_authenticated);
	tcase_add_test(tc, udp_needs_a_key);
	tcase_add_test(tc, local_socket);
	tcase_add_test(tc, config_keys);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
