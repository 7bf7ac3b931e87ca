/* test_session_sync.c - the application-side library against a fake agent
 * on 127.0.0.1 (a UDP socket, answered from a thread when a test needs
 * answers while the library blocks): async pushes acknowledged and
 * dequeued, the queue's entry and byte bounds, retransmission and giving
 * up, synchronous pushes and saves with and without an answer (timeout),
 * a saved response split into acknowledged chunks and reassembled, the
 * agent's refusals, forged and foreign acknowledgements ignored, and the
 * transaction-ID helpers. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "session_sync.h"

enum fake_mode { FAKE_STORED, FAKE_FULL, FAKE_REFUSED, FAKE_FORGED, FAKE_OTHER_ORIGIN };

struct fake_agent {
	int fd;
	struct sockaddr_in addr;
	struct auth_key key, other;
	enum fake_mode mode;
	volatile int stop;
	pthread_t thread;
	/* what arrived */
	unsigned states, saves;
	uint8_t last_key[STATE_KEY_MAX];
	size_t last_key_len, last_blob_len;
	uint8_t *assembled;
	uint32_t have;
};

static char key_path[64];

static void fake_open(struct fake_agent *f)
{
	memset(f, 0, sizeof(*f));
	memset(f->key.bytes, 0x5a, sizeof(f->key.bytes));
	memset(f->other.bytes, 0xa5, sizeof(f->other.bytes));
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(f->fd, 0);
	f->addr =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	socklen_t len = sizeof(f->addr);
	getsockname(f->fd, (struct sockaddr *)&f->addr, &len);
	f->assembled = calloc(1, 1 << 20);
	/* the key file the library reads */
	snprintf(key_path, sizeof(key_path), "/tmp/craft-ut-key-XXXXXX");
	int kfd = mkstemp(key_path);
	ck_assert_int_ge(kfd, 0);
	char hex[AUTH_KEY_HEX_LEN + 2];
	for (int i = 0; i < AUTH_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", f->key.bytes[i]);
	hex[AUTH_KEY_HEX_LEN] = '\n';
	ck_assert_int_eq(write(kfd, hex, AUTH_KEY_HEX_LEN + 1), AUTH_KEY_HEX_LEN + 1);
	close(kfd);
}

static void fake_close(struct fake_agent *f)
{
	close(f->fd);
	free(f->assembled);
	unlink(key_path);
}

/* Handles one datagram if one arrives within timeout_ms. */
static void fake_serve_one(struct fake_agent *f, struct auth_receiver *r, struct auth_sender *s,
			   int timeout_ms)
{
	static uint8_t buf[STATE_DATAGRAM_MAX];
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	struct state_msg m;
	if (n <= 0 || state_msg_open(r, &f->key, buf, (size_t)n, realtime_us() / 1000, NULL, &m))
		return;
	struct state_msg ack = {.type = STATE_T_ACK};
	if (m.type == STATE_T_STATE) {
		f->states++;
		f->last_key_len = m.u.push.key_len;
		memcpy(f->last_key, m.u.push.key, m.u.push.key_len);
		f->last_blob_len = m.u.push.blob_len;
		ack.u.ack.origin = m.u.push.origin;
		ack.u.ack.seq = m.u.push.seq;
	} else if (m.type == STATE_T_SAVE) {
		f->saves++;
		if (m.u.save.offset == f->have && f->have + m.u.save.chunk_len <= (1u << 20)) {
			memcpy(f->assembled + f->have, m.u.save.chunk, m.u.save.chunk_len);
			f->have += m.u.save.chunk_len;
		}
		ack.u.ack.origin = m.u.save.origin;
		ack.u.ack.seq = m.u.save.seq;
		ack.u.ack.stored = f->have;
	} else {
		return;
	}
	ack.u.ack.status = f->mode == FAKE_FULL	     ? STATE_ACK_FULL
			   : f->mode == FAKE_REFUSED ? STATE_ACK_REFUSED
						     : STATE_ACK_STORED;
	if (f->mode == FAKE_OTHER_ORIGIN)
		ack.u.ack.origin++;
	state_msg_send(f->fd, &from, s, f->mode == FAKE_FORGED ? &f->other : &f->key, &ack);
}

static void *fake_thread(void *arg)
{
	struct fake_agent *f = arg;
	struct auth_receiver r;
	struct auth_receiver_config cfg;
	struct auth_sender s;
	auth_receiver_config_default(&cfg);
	auth_receiver_init(&r, &cfg);
	auth_sender_init(&s, 100, 0);
	for (int i = 0; i < 2000 && !f->stop; i++) /* at most ~20 s */
		fake_serve_one(f, &r, &s, 10);
	auth_receiver_free(&r);
	return NULL;
}

static void fake_start(struct fake_agent *f, enum fake_mode mode)
{
	f->mode = mode;
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_thread, f), 0);
}

static void fake_join(struct fake_agent *f)
{
	f->stop = 1;
	pthread_join(f->thread, NULL);
}

static unsigned fake_drain(struct fake_agent *f)
{
	static uint8_t buf[STATE_DATAGRAM_MAX];
	unsigned n = 0;
	while (recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static struct session_sync *open_sync(const struct fake_agent *f,
				      void (*tweak)(struct session_sync_config *))
{
	struct session_sync_config cfg;
	session_sync_config_default(&cfg);
	cfg.agent = f->addr;
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", key_path);
	cfg.sync_timeout_ms = 1000;
	if (tweak)
		tweak(&cfg);
	struct session_sync *ss;
	char err[256] = "";
	int rc = session_sync_open(&ss, &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "open: %s", err);
	return ss;
}

/* Reads acks until nothing is pending or 2 s passed. */
static void pump_acks(struct session_sync *ss)
{
	uint64_t end = monotonic_ms() + 2000;
	while (session_sync_pending(ss) && monotonic_ms() < end) {
		struct pollfd p = {.fd = session_sync_fd(ss), .events = POLLIN};
		if (poll(&p, 1, 20) > 0)
			session_sync_on_readable(ss);
	}
}

START_TEST(async_push_acked)
{
	struct fake_agent f;
	fake_open(&f);
	fake_start(&f, FAKE_STORED);
	struct session_sync *ss = open_sync(&f, NULL);
	ck_assert_int_eq(session_sync_push(ss, 0xC612010BA0000001ull, "sid1", 4, "blob", 4, 0), 0);
	ck_assert_int_eq(
	    session_sync_push(ss, 0xC612010BA0000002ull, "sid1", 4, NULL, 0, SESSION_SYNC_DELETE),
	    0);
	pump_acks(ss);
	ck_assert_uint_eq(session_sync_pending(ss), 0);
	const struct session_sync_counters *c = session_sync_counters(ss);
	ck_assert_uint_eq(c->acked, 2);
	ck_assert_uint_eq(c->deletes, 1);
	session_sync_close(ss);
	fake_join(&f);
	ck_assert_uint_eq(f.states, 2);
	ck_assert_mem_eq(f.last_key, "sid1", 4);
	ck_assert_uint_eq(f.last_blob_len, 0);
	fake_close(&f);
}
END_TEST

static void small_queue(struct session_sync_config *c)
{
	c->queue_max = 4;
	c->queue_max_bytes = 65536;
}

START_TEST(queue_bounds)
{
	struct fake_agent f;
	fake_open(&f);
	struct session_sync *ss = open_sync(&f, small_queue);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, 0), 0);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, 0), -ENOBUFS);
	ck_assert_uint_eq(session_sync_counters(ss)->overflow, 1);
	ck_assert_uint_eq(session_sync_pending(ss), 4);
	ck_assert_uint_eq(fake_drain(&f), 4);
	/* invalid arguments are refused before they are counted as pushes */
	static uint8_t big[STATE_BLOB_MAX + 1];
	ck_assert_int_eq(session_sync_push(ss, 1, "", 0, "x", 1, 0), -EINVAL);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, 0x80), -EINVAL);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, big, sizeof(big), 0), -EMSGSIZE);
	ck_assert_uint_eq(session_sync_counters(ss)->too_big, 1);
	ck_assert_int_eq(session_sync_save_response(ss, 1, "", 0), -EINVAL);
	session_sync_close(ss);

	/* the byte bound: two 30000-byte snapshots fit in 64 KiB, a third not */
	ss = open_sync(&f, small_queue);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, big, 30000, 0), 0);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, big, 30000, 0), 0);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, big, 30000, 0), -ENOBUFS);
	session_sync_close(ss);
	fake_close(&f);
}
END_TEST

static void fast_retry(struct session_sync_config *c)
{
	c->retransmit_ms = 10;
	c->max_tries = 3;
}

START_TEST(retransmit_and_give_up)
{
	struct fake_agent f;
	fake_open(&f);
	struct session_sync *ss = open_sync(&f, fast_retry);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, 0), 0);
	for (int i = 0; i < 5; i++) {
		usleep(15000);
		session_sync_tick(ss);
	}
	const struct session_sync_counters *c = session_sync_counters(ss);
	ck_assert_uint_eq(c->sent, 1);
	ck_assert_uint_eq(c->retransmits, 2);
	ck_assert_uint_eq(c->given_up, 1);
	ck_assert_uint_eq(session_sync_pending(ss), 0);
	/* each resend is a fresh auth message, not a replay */
	ck_assert_uint_eq(fake_drain(&f), 3);
	session_sync_close(ss);
	fake_close(&f);
}
END_TEST

static void short_sync(struct session_sync_config *c)
{
	c->sync_timeout_ms = 100;
	c->retransmit_ms = 30;
}

START_TEST(sync_timeout)
{
	struct fake_agent f;
	fake_open(&f); /* nobody answers */
	struct session_sync *ss = open_sync(&f, short_sync);
	uint64_t t0 = monotonic_ms();
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, SESSION_SYNC_WAIT), -ETIMEDOUT);
	uint64_t dt = monotonic_ms() - t0;
	ck_assert_uint_ge(dt, 100);
	ck_assert_uint_lt(dt, 1000);
	const struct session_sync_counters *c = session_sync_counters(ss);
	ck_assert_uint_eq(c->wait_timeouts, 1);
	ck_assert_uint_ge(c->retransmits, 2); /* resent while waiting */
	/* the push stays queued and is retried in the background */
	ck_assert_uint_eq(session_sync_pending(ss), 1);
	t0 = monotonic_ms();
	ck_assert_int_eq(session_sync_save_response(ss, 2, "resp", 4), -ETIMEDOUT);
	ck_assert_uint_lt(monotonic_ms() - t0, 1000);
	ck_assert_uint_eq(session_sync_pending(ss), 1); /* a save is not kept */
	session_sync_close(ss);
	fake_close(&f);
}
END_TEST

START_TEST(sync_acknowledged)
{
	struct fake_agent f;
	fake_open(&f);
	fake_start(&f, FAKE_STORED);
	struct session_sync *ss = open_sync(&f, NULL);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, SESSION_SYNC_WAIT), 0);
	ck_assert_uint_eq(session_sync_pending(ss), 0);
	/* a response larger than one chunk: chunks acknowledged in order */
	size_t len = 2 * STATE_CHUNK_MAX + 12345;
	uint8_t *resp = malloc(len);
	for (size_t i = 0; i < len; i++)
		resp[i] = (uint8_t)(i * 31 + 7);
	ck_assert_int_eq(session_sync_save_response(ss, 0xC612010BA0000009ull, resp, len), 0);
	ck_assert_int_eq(session_sync_save_regen(ss, 0xC612010BA000000aull, "seed", 4), 0);
	const struct session_sync_counters *c = session_sync_counters(ss);
	ck_assert_uint_eq(c->waits_ok, 3);
	ck_assert_uint_eq(c->save_chunks, 4);
	ck_assert_uint_eq(c->save_bytes, len + 4);
	session_sync_close(ss);
	fake_join(&f);
	ck_assert_uint_eq(f.saves, 4);
	ck_assert_uint_eq(f.have, len); /* the regen save started over at 0 */
	ck_assert_mem_eq(f.assembled, resp, len);
	free(resp);
	fake_close(&f);
}
END_TEST

START_TEST(agent_refusals)
{
	struct fake_agent f;
	fake_open(&f);
	fake_start(&f, FAKE_FULL);
	struct session_sync *ss = open_sync(&f, NULL);
	ck_assert_int_eq(session_sync_save_response(ss, 1, "resp", 4), -ENOSPC);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, SESSION_SYNC_WAIT), -ENOSPC);
	ck_assert_uint_eq(session_sync_counters(ss)->agent_full, 2);
	ck_assert_uint_eq(session_sync_counters(ss)->wait_failed, 2);
	f.mode = FAKE_REFUSED;
	ck_assert_int_eq(session_sync_save_response(ss, 1, "resp", 4), -EPROTO);
	ck_assert_uint_eq(session_sync_counters(ss)->agent_refused, 1);
	session_sync_close(ss);
	fake_join(&f);
	fake_close(&f);
}
END_TEST

START_TEST(forged_and_foreign_acks)
{
	struct fake_agent f;
	fake_open(&f);
	fake_start(&f, FAKE_FORGED);
	struct session_sync *ss = open_sync(&f, short_sync);
	ck_assert_int_eq(session_sync_push(ss, 1, "k", 1, "x", 1, SESSION_SYNC_WAIT), -ETIMEDOUT);
	ck_assert_uint_ge(session_sync_counters(ss)->rx_bad, 1);
	ck_assert_uint_eq(session_sync_counters(ss)->acked, 0);
	f.mode = FAKE_OTHER_ORIGIN;
	ck_assert_int_eq(session_sync_push(ss, 2, "k", 1, "x", 1, SESSION_SYNC_WAIT), -ETIMEDOUT);
	ck_assert_uint_ge(session_sync_counters(ss)->rx_unexpected, 1);
	ck_assert_uint_eq(session_sync_counters(ss)->acked, 0);
	session_sync_close(ss);
	fake_join(&f);
	fake_close(&f);
}
END_TEST

START_TEST(open_refusals)
{
	struct session_sync_config cfg;
	session_sync_config_default(&cfg);
	struct session_sync *ss;
	char err[256];
	ck_assert_int_eq(session_sync_open(&ss, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(ss);
	cfg.agent = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(9)};
	snprintf(cfg.key_file, sizeof(cfg.key_file), "/nonexistent/key");
	ck_assert_int_lt(session_sync_open(&ss, &cfg, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/key"));
}
END_TEST

START_TEST(txn_helpers)
{
	char buf[64];
	ck_assert_int_eq(session_sync_txn_header(0xC612010BA0000003ull, buf, sizeof(buf)), 31);
	ck_assert_str_eq(buf, "X-Craft-Txn: c612010ba0000003\r\n");
	ck_assert_int_eq(session_sync_txn_header(1, buf, 10), -ENOSPC);
	ck_assert_int_eq(session_sync_txn_tag(0x00c612000a1f9001ull, buf, sizeof(buf)), 21);
	ck_assert_str_eq(buf, "craft00c612000a1f9001");
	uint64_t id;
	ck_assert_int_eq(session_sync_parse_txn_tag(buf, strlen(buf), &id), 0);
	ck_assert_uint_eq(id, 0x00c612000a1f9001ull);
	ck_assert_int_eq(session_sync_parse_txn_tag("craft", 5, &id), -EINVAL);
	ck_assert_int_eq(session_sync_parse_txn_tag("craft0x12", 9, &id), -EINVAL);
	ck_assert_int_eq(session_sync_parse_txn_tag("crafz12", 7, &id), -EINVAL);
	ck_assert_int_eq(session_sync_parse_txn_tag("craft12345678901234567", 22, &id), -EINVAL);
	ck_assert_int_eq(session_sync_parse_txn_tag("craftab", 7, &id), 0);
	ck_assert_uint_eq(id, 0xab);
}
END_TEST

Suite *session_sync_suite(void);
Suite *session_sync_suite(void)
{
	Suite *s = suite_create("session_sync");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, async_push_acked);
	tcase_add_test(tc, queue_bounds);
	tcase_add_test(tc, retransmit_and_give_up);
	tcase_add_test(tc, sync_timeout);
	tcase_add_test(tc, sync_acknowledged);
	tcase_add_test(tc, agent_refusals);
	tcase_add_test(tc, forged_and_foreign_acks);
	tcase_add_test(tc, open_refusals);
	tcase_add_test(tc, txn_helpers);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
