/* craft-txserver - a test server built on the transactional library
 * (tcp_tx.h), for the end-to-end tests and the benchmark of the
 * transactional network interface (thesis §6.5.2).
 *
 *   craft-txserver --mode tla|2ca|sma|plain --listen ADDR:PORT
 *                  [--logger ADDR:PORT --key-file FILE]      (tla, 2ca)
 *                  [--commit-rate PCT] [--max-aborts N] [--abort-point half|random]
 *                  [--compute-ms MS] [--abort-compute-ms MS] [--seed N]
 *                  [--max-conns N] [--log FILE] [--max-txn-bytes N]
 *                  [--drop-ctl-every N] [--probe-bad-every N]
 *
 * Protocol: the peer sends lines "REQ <id> <size> [<commit-rate>]\n" and
 * expects <size> response bytes, a function of <id> alone (lowercase
 * letters, see resp_byte; tests/e2e/tni/_client.py computes the same).
 * Every request is one transaction: start, read the request line (byte by
 * byte, so no byte of the next request is consumed), compute, write half
 * the response, compute, write the rest, commit. An attempt aborts with
 * probability 100 - commit-rate (at most --max-aborts times per request):
 * it computes --abort-compute-ms, writes the first k bytes of an aborted
 * response made of 'X' (k = half, or random in 0..size), aborts and
 * restarts, then reads the request again and checks it is the same bytes.
 * A byte 'X' reaching the peer is therefore a leaked aborted byte.
 *
 * Test hooks: --drop-ctl-every N closes the control connection in the
 * middle of every Nth transaction's response (the logger must abort it;
 * the library reconnects on the abort that follows); --probe-bad-every N
 * sends, before every Nth commit, control requests the logger must refuse
 * (wrong offsets, unknown connection, forged, replayed, wrong session) and
 * checks each answer is TX_FAILURE with the right reason.
 *
 * The log (--log) has one line per attempt and one per connection:
 *   conn=C req=ID attempt=A abort_at=K | commit size=S  replay=ok|bad
 *   conn=C done txns=T aborts=A commit_fail=F probes_ok=P probes_bad=Q replay_bad=R
 * Exit: 0 on SIGTERM, 1 runtime error, 2 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "tcp_tx.h"

struct srv {
	struct tcp_tx_config tx;
	struct sockaddr_in listen;
	unsigned commit_rate, max_aborts, max_conns, drop_ctl_every, probe_every;
	bool abort_random;
	unsigned compute_ms, abort_compute_ms;
	uint64_t seed;
	FILE *log;
	pthread_mutex_t mu;
	unsigned active, next_conn;
};

struct conn {
	struct srv *s;
	int fd;
	unsigned no;
	uint64_t rng;
	unsigned txns, aborts, commit_fail, probes_ok, probes_bad, replay_bad;
};

static uint8_t resp_byte(uint64_t id, uint64_t k)
{
	return (uint8_t)('a' + (id * 131 + k * 7 + k / 26) % 26);
}

static uint64_t rnd(struct conn *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

static void logf_(struct srv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct srv *s, const char *fmt, ...)
{
	if (!s->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&s->mu);
	vfprintf(s->log, fmt, ap);
	fflush(s->log);
	pthread_mutex_unlock(&s->mu);
	va_end(ap);
}

/* Reads one request line, byte by byte. 0 at EOF, -errno, or its length. */
static int read_line(struct tcp_tx *tx, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = tcp_tx_receive(tx, buf + n, 1);
		if (r <= 0)
			return r == 0 && n == 0 ? 0 : (r < 0 ? (int)r : -EPROTO);
		if (buf[n++] == '\n') {
			buf[n] = 0;
			return (int)n;
		}
	}
	return -EMSGSIZE;
}

static int send_resp(struct tcp_tx *tx, uint64_t id, uint64_t from, uint64_t to, bool aborted)
{
	uint8_t chunk[65536];
	while (from < to) {
		size_t n = to - from < sizeof(chunk) ? (size_t)(to - from) : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = aborted ? 'X' : resp_byte(id, from + i);
		ssize_t w = tcp_tx_send(tx, chunk, n);
		if (w < 0)
			return (int)w;
		from += n;
	}
	return 0;
}

/* Control requests the logger must refuse, each with its reason. */
static void probe_bad(struct conn *c, struct tcp_tx *tx)
{
	struct tx_msg req, ans;
	struct auth_key forged;
	getrandom(forged.bytes, sizeof(forged.bytes), 0);
	struct {
		const char *what;
		int want;
	} probes[] = {{"replay", TX_R_AUTH},	   {"offsets", TX_R_OFFSETS},
		      {"in_beyond", TX_R_OFFSETS}, {"unknown", TX_R_UNKNOWN_CONN},
		      {"forged", TX_R_AUTH},	   {"session", TX_R_SESSION}};
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		tcp_tx_debug_fill(tx, TX_COMMIT, &req);
		const struct auth_key *key = NULL;
		bool keep = false, replay = false;
		switch (i) {
		case 0:
			replay = true; /* the START frame, answered already */
			break;
		case 1:
			req.out_start += 1;
			break;
		case 2:
			req.in_end += 1000000;
			break;
		case 3:
			req.conn.peer_port ^= 0x5555;
			break;
		case 4:
			key = &forged;
			break;
		case 5:
			keep = true;
			req.req_id = 0x7fff0000u + i;
			req.session = 12345;
			break;
		}
		int r = tcp_tx_debug_request(tx, &req, key, keep, replay, &ans);
		if (r == probes[i].want) {
			c->probes_ok++;
		} else {
			c->probes_bad++;
			logf_(c->s, "conn=%u probe=%s want=%s got=%d\n", c->no, probes[i].what,
			      tx_reason_name(probes[i].want), r);
		}
	}
}

/* One request, from its first attempt to its commit. 1 done, 0 EOF, <0. */
static int one_request(struct conn *c, struct tcp_tx *tx)
{
	struct srv *s = c->s;
	char first[128] = "", line[128];
	for (unsigned attempt = 0;; attempt++) {
		int rc = tcp_tx_start(tx);
		if (rc < 0)
			return rc;
		rc = read_line(tx, line, sizeof(line));
		if (rc <= 0) {
			if (tcp_tx_in_txn(tx))
				tcp_tx_abort(tx, false);
			return rc;
		}
		bool replay_ok = attempt == 0 || strcmp(first, line) == 0;
		if (attempt == 0)
			snprintf(first, sizeof(first), "%s", line);
		else if (!replay_ok)
			c->replay_bad++;
		unsigned long long id = 0, size = 0;
		unsigned rate = s->commit_rate;
		if (sscanf(line, "REQ %llu %llu %u", &id, &size, &rate) < 2 || size > (1u << 28)) {
			tcp_tx_abort(tx, false);
			return -EPROTO;
		}
		bool do_abort = attempt < s->max_aborts && rnd(c) % 100 >= rate;
		if (do_abort) {
			uint64_t k = s->abort_random ? rnd(c) % (size + 1) : size / 2;
			clock_sleep_ms(s->abort_compute_ms);
			rc = send_resp(tx, id, 0, k, true);
			int ar = tcp_tx_abort(tx, true);
			logf_(s, "conn=%u req=%llu attempt=%u abort_at=%llu replay=%s\n", c->no, id,
			      attempt, (unsigned long long)k, replay_ok ? "ok" : "bad");
			if (rc < 0 && rc != -ENOTCONN)
				return rc;
			if (ar < 0)
				return ar;
			c->aborts++;
			continue;
		}
		clock_sleep_ms(s->compute_ms / 2);
		rc = send_resp(tx, id, 0, size / 2, false);
		bool drop =
		    s->drop_ctl_every && (c->txns + 1) % s->drop_ctl_every == 0 && attempt == 0;
		if (drop)
			tcp_tx_debug_drop_ctl(tx);
		clock_sleep_ms(s->compute_ms - s->compute_ms / 2);
		if (rc == 0)
			rc = send_resp(tx, id, size / 2, size, false);
		if (rc == 0 && !drop && s->probe_every && (c->txns + 1) % s->probe_every == 0)
			probe_bad(c, tx);
		if (rc == 0)
			rc = tcp_tx_commit(tx);
		if (rc < 0) {
			/* The logger refused or the control connection failed:
			 * abort and run the transaction again. */
			c->commit_fail++;
			logf_(s, "conn=%u req=%llu attempt=%u commit_failed=%d reason=%s\n", c->no,
			      id, attempt, rc, tx_reason_name(tcp_tx_last_reason(tx)));
			int ar = tcp_tx_abort(tx, true);
			if (ar < 0)
				return ar;
			if (attempt > 20)
				return -EPROTO;
			continue;
		}
		logf_(s, "conn=%u req=%llu attempt=%u commit size=%llu replay=%s\n", c->no, id,
		      attempt, size, replay_ok ? "ok" : "bad");
		c->txns++;
		return 1;
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct srv *s = c->s;
	struct tcp_tx *tx;
	int rc = tcp_tx_attach(&tx, c->fd, &s->tx);
	if (rc < 0) {
		logf_(s, "conn=%u attach failed: %s\n", c->no, strerror(-rc));
	} else {
		while ((rc = one_request(c, tx)) > 0)
			;
		if (rc < 0)
			logf_(s, "conn=%u error %s reason=%s\n", c->no, strerror(-rc),
			      tx_reason_name(tcp_tx_last_reason(tx)));
		tcp_tx_detach(tx);
	}
	logf_(s,
	      "conn=%u done txns=%u aborts=%u commit_fail=%u probes_ok=%u probes_bad=%u "
	      "replay_bad=%u\n",
	      c->no, c->txns, c->aborts, c->commit_fail, c->probes_ok, c->probes_bad,
	      c->replay_bad);
	close(c->fd);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_mutex_unlock(&s->mu);
	free(c);
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: craft-txserver --mode tla|2ca|sma|plain --listen ADDR:PORT\n"
		     "       [--logger ADDR:PORT --key-file FILE] [--commit-rate PCT]\n"
		     "       [--max-aborts N] [--abort-point half|random] [--compute-ms MS]\n"
		     "       [--abort-compute-ms MS] [--seed N] [--max-conns N] [--log FILE]\n"
		     "       [--max-txn-bytes N] [--drop-ctl-every N] [--probe-bad-every N]\n");
}

static int parse_u(const char *v, unsigned max, unsigned *out)
{
	char err[128];
	uint32_t x;
	if (config_parse_u32(v, 0, max, &x, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-txserver: %s\n", err);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_args(struct srv *s, int argc, char **argv)
{
	static const struct option opts[] = {{"mode", 1, 0, 'm'},
					     {"listen", 1, 0, 'l'},
					     {"logger", 1, 0, 'L'},
					     {"key-file", 1, 0, 'k'},
					     {"commit-rate", 1, 0, 'r'},
					     {"max-aborts", 1, 0, 'a'},
					     {"abort-point", 1, 0, 'p'},
					     {"compute-ms", 1, 0, 'c'},
					     {"abort-compute-ms", 1, 0, 'C'},
					     {"seed", 1, 0, 's'},
					     {"max-conns", 1, 0, 'n'},
					     {"log", 1, 0, 'o'},
					     {"max-txn-bytes", 1, 0, 'b'},
					     {"drop-ctl-every", 1, 0, 'd'},
					     {"probe-bad-every", 1, 0, 'P'},
					     {"help", 0, 0, 'h'},
					     {0, 0, 0, 0}};
	char err[256];
	const char *key_file = NULL;
	bool have_abort_ms = false, have_listen = false;
	unsigned v;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (tcp_tx_mode_parse(optarg, &s->tx.mode) < 0) {
				fprintf(stderr, "craft-txserver: unknown mode '%s'\n", optarg);
				return -1;
			}
			break;
		case 'l':
		case 'L':
			if (config_parse_ipv4_port(optarg, o == 'l' ? &s->listen : &s->tx.logger,
						   err, sizeof(err)) < 0) {
				fprintf(stderr, "craft-txserver: %s\n", err);
				return -1;
			}
			have_listen |= o == 'l';
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'r':
			if (parse_u(optarg, 100, &s->commit_rate) < 0)
				return -1;
			break;
		case 'a':
			if (parse_u(optarg, 100, &s->max_aborts) < 0)
				return -1;
			break;
		case 'p':
			s->abort_random = strcmp(optarg, "random") == 0;
			if (!s->abort_random && strcmp(optarg, "half") != 0)
				return -1;
			break;
		case 'c':
			if (parse_u(optarg, 600000, &s->compute_ms) < 0)
				return -1;
			break;
		case 'C':
			if (parse_u(optarg, 600000, &s->abort_compute_ms) < 0)
				return -1;
			have_abort_ms = true;
			break;
		case 's':
			s->seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			if (parse_u(optarg, 100000, &s->max_conns) < 0)
				return -1;
			break;
		case 'o':
			s->log = fopen(optarg, "a");
			if (!s->log) {
				perror(optarg);
				return -1;
			}
			break;
		case 'b':
			if (parse_u(optarg, 1u << 30, &v) < 0)
				return -1;
			s->tx.max_txn_bytes = v;
			break;
		case 'd':
			if (parse_u(optarg, 1000000, &s->drop_ctl_every) < 0)
				return -1;
			break;
		case 'P':
			if (parse_u(optarg, 1000000, &s->probe_every) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!have_abort_ms)
		s->abort_compute_ms = s->compute_ms / 2;
	bool logger = s->tx.mode == TCP_TX_TLA || s->tx.mode == TCP_TX_2CA;
	if (!have_listen || (logger && (!key_file || s->tx.logger.sin_family != AF_INET))) {
		usage(stderr);
		return -1;
	}
	if (logger && auth_key_load_file(key_file, &s->tx.key, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-txserver: key %s: %s\n", key_file, err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct srv s;
	tcp_tx_config_default(&s.tx);
	s.commit_rate = 100;
	s.max_aborts = 1;
	s.max_conns = 64;
	getrandom(&s.seed, sizeof(s.seed), 0);
	pthread_mutex_init(&s.mu, NULL);
	if (parse_args(&s, argc, argv) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int on = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (lfd < 0 || tcp_tx_prepare_listener(lfd, &s.tx) < 0 ||
	    bind(lfd, (struct sockaddr *)&s.listen, sizeof(s.listen)) < 0 || listen(lfd, 128) < 0) {
		perror("craft-txserver: listen");
		return 1;
	}
	fprintf(stderr, "craft-txserver: mode %s, listening\n", tcp_tx_mode_name(s.tx.mode));
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return 1;
		}
		int one = 1; /* responses go out as written: no Nagle wait on their tails */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&s.mu);
		bool ok = s.active < s.max_conns;
		if (ok)
			s.active++;
		unsigned no = ++s.next_conn;
		pthread_mutex_unlock(&s.mu);
		struct conn *c = ok ? calloc(1, sizeof(*c)) : NULL;
		pthread_t th;
		if (c) {
			c->s = &s;
			c->fd = fd;
			c->no = no;
			c->rng = (s.seed ^ (0x9e3779b97f4a7c15ull * no)) | 1;
		}
		if (!c || pthread_create(&th, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			if (ok) {
				pthread_mutex_lock(&s.mu);
				s.active--;
				pthread_mutex_unlock(&s.mu);
			}
			continue;
		}
		pthread_detach(th);
	}
}
