/* craft-heartbeat - a standalone heartbeat sender (heartbeat.h), for tests
 * and for hosts that should be balanced without running craft-proxy, plus
 * the bad inputs the load balancer must shrug off.
 *
 *   craft-heartbeat --id N --to ADDR:PORT [--to ...] --key FILE
 *                   [--interval 200ms] [--workload W | --workload-file F]
 *                   [--not-ready] [--source ADDR] [--count N] [--record FILE]
 *       sends a beat every interval (through heartbeat_sender, the module
 *       craft-proxy uses) until SIGTERM/SIGINT or N beats. --workload-file
 *       is re-read before every beat (an integer 0..1000, optionally
 *       followed by "not-ready"), so a test can change the load at run
 *       time. --record appends every sealed datagram as one hex line.
 *   craft-heartbeat --replay FILE --to ADDR:PORT [--interval 10ms]
 *       sends recorded datagrams again, verbatim, once each.
 *   craft-heartbeat --garbage N --to ADDR:PORT [--id N] [--seed S]
 *       sends N datagrams that are not valid heartbeats: random bytes of
 *       random length, a valid-looking header with a random tag, beats of
 *       the right length sealed with a random key, cut-short beats.
 * A forged beat is a normal beat sealed with another key (--key OTHER).
 * Exit: 0 done, 1 runtime error, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth_msg.h"
#include "clock.h"
#include "config.h"
#include "event_loop.h"
#include "heartbeat.h"
#include "hex.h"
#include "log.h"
#include "version.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct tool {
	struct heartbeat_sender_config cfg;
	struct event_loop loop;
	uint32_t workload;
	bool not_ready;
	const char *workload_file, *record, *replay;
	uint32_t count, garbage;
	uint64_t seed;
	uint32_t beats;
	/* record mode */
	struct auth_sender auth;
	struct auth_key key;
	int fd;
	FILE *rec;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: craft-heartbeat --id N --to ADDR:PORT [--to ...] --key FILE [options]\n"
		"       craft-heartbeat --replay FILE --to ADDR:PORT [--interval D]\n"
		"       craft-heartbeat --garbage N --to ADDR:PORT [--id N] [--seed S]\n"
		"Sends authenticated UDP heartbeats carrying a workload factor to load\n"
		"balancers (craft-lb), or bad ones for tests.\n\n"
		"  -i, --id N             sender id (the proxy's id in the lb's [cluster])\n"
		"  -t, --to ADDR:PORT     a load balancer's heartbeat address (repeatable)\n"
		"  -k, --key FILE         the cluster key (64 hex digits)\n"
		"  -I, --interval D       between beats (200ms; replay: 10ms)\n"
		"  -w, --workload W       0..1000, spare capacity per mille (1000)\n"
		"  -W, --workload-file F  re-read before each beat: 'W [not-ready]'\n"
		"      --not-ready        flag every beat NOT_READY\n"
		"  -s, --source ADDR      send from ADDR\n"
		"  -n, --count N          stop after N beats (0 = run until SIGTERM)\n"
		"  -r, --record FILE      append each datagram sent as a hex line\n"
		"      --replay FILE      send recorded datagrams again\n"
		"      --garbage N        send N invalid datagrams\n"
		"      --seed S           for --garbage (0 = random)\n"
		"  -h, --help, -V, --version\n");
}

static void read_workload_file(struct tool *t)
{
	FILE *f = fopen(t->workload_file, "re");
	if (!f)
		return;
	unsigned w;
	char flag[32] = "";
	int n = fscanf(f, "%u %31s", &w, flag);
	fclose(f);
	if (n >= 1)
		t->workload = w > HEARTBEAT_WORKLOAD_MAX ? HEARTBEAT_WORKLOAD_MAX : w;
	if (n >= 1)
		t->not_ready = n == 2 && strcmp(flag, "not-ready") == 0;
}

static int status_cb(void *ctx, struct heartbeat_status *st)
{
	struct tool *t = ctx;
	if (t->workload_file)
		read_workload_file(t);
	st->workload = (uint16_t)t->workload;
	st->flags = t->not_ready ? HEARTBEAT_F_NOT_READY : 0;
	t->beats++;
	if (t->count && t->beats >= t->count)
		event_loop_stop(&t->loop);
	return 0;
}

static void send_all(struct tool *t, const void *buf, size_t len)
{
	for (unsigned i = 0; i < t->cfg.ntargets; i++)
		if (sendto(t->fd, buf, len, 0, (const struct sockaddr *)&t->cfg.targets[i],
			   sizeof(t->cfg.targets[i])) < 0)
			log_warn("sendto: %s", strerror(errno));
}

/* --record: the same beats, sealed here so that the bytes can be kept. */
static void record_tick(struct event_loop *loop, uint64_t exp, void *arg)
{
	(void)loop;
	(void)exp;
	struct tool *t = arg;
	struct heartbeat_status st = {.interval_ms = (uint32_t)t->cfg.interval_ms};
	status_cb(t, &st);
	uint8_t buf[HEARTBEAT_MSG_LEN];
	ssize_t len =
	    heartbeat_seal(&t->auth, &t->key, &st, buf, sizeof(buf), realtime_us() / 1000);
	if (len < 0)
		return;
	send_all(t, buf, (size_t)len);
	for (ssize_t i = 0; i < len; i++)
		fprintf(t->rec, "%02x", buf[i]);
	fputc('\n', t->rec);
	fflush(t->rec);
}

static void on_signal(struct event_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	event_loop_stop(loop);
}

static int open_socket(struct tool *t)
{
	t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	if (t->cfg.source.s_addr) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = t->cfg.source};
		if (bind(t->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -errno;
	}
	return 0;
}

static int run_replay(struct tool *t)
{
	FILE *f = fopen(t->replay, "re");
	if (!f) {
		log_err("%s: %s", t->replay, strerror(errno));
		return EXIT_RUNTIME;
	}
	char line[1024];
	unsigned sent = 0;
	while (fgets(line, sizeof(line), f)) {
		uint8_t buf[512];
		size_t n = 0;
		for (size_t i = 0; line[i] && line[i + 1] && n < sizeof(buf); i += 2) {
			int hi = hex_digit_value(line[i]), lo = hex_digit_value(line[i + 1]);
			if (hi < 0 || lo < 0)
				break;
			buf[n++] = (uint8_t)(hi << 4 | lo);
		}
		if (n == 0)
			continue;
		send_all(t, buf, n);
		sent++;
		clock_sleep_ms(t->cfg.interval_ms);
	}
	fclose(f);
	log_info("replayed %u datagrams", sent);
	return EXIT_OK;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int run_garbage(struct tool *t)
{
	uint64_t s = t->seed;
	if (s == 0 && getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = monotonic_us();
	struct auth_key wrong;
	for (size_t i = 0; i < sizeof(wrong.bytes); i++)
		wrong.bytes[i] = (uint8_t)rnd(&s) | 1;
	struct auth_sender as;
	auth_sender_init(&as, t->cfg.id, 0);
	for (uint32_t k = 0; k < t->garbage; k++) {
		uint8_t buf[600];
		size_t len;
		struct heartbeat_status st = {.workload = 1000, .interval_ms = 200};
		switch (k % 4) {
		case 0: /* random bytes, random length (0 included) */
			len = rnd(&s) % sizeof(buf);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rnd(&s);
			break;
		case 1: /* a heartbeat-shaped datagram with a random tag */
			heartbeat_seal(&as, &wrong, &st, buf, sizeof(buf), realtime_us() / 1000);
			len = HEARTBEAT_MSG_LEN;
			for (size_t i = len - AUTH_MSG_TAG_LEN; i < len; i++)
				buf[i] = (uint8_t)rnd(&s);
			break;
		case 2: /* sealed with a wrong key */
			heartbeat_seal(&as, &wrong, &st, buf, sizeof(buf), realtime_us() / 1000);
			len = HEARTBEAT_MSG_LEN;
			break;
		default: /* cut short */
			heartbeat_seal(&as, &wrong, &st, buf, sizeof(buf), realtime_us() / 1000);
			len = rnd(&s) % HEARTBEAT_MSG_LEN;
			break;
		}
		send_all(t, buf, len);
		if (k % 64 == 63)
			clock_sleep_ms(1); /* stay under the receiver's socket buffer */
	}
	log_info("sent %u garbage datagrams", t->garbage);
	return EXIT_OK;
}

static int parse_args(struct tool *t, int argc, char **argv)
{
	enum { OPT_NOT_READY = 256, OPT_REPLAY, OPT_GARBAGE, OPT_SEED };
	static const struct option opts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"to", required_argument, NULL, 't'},
	    {"key", required_argument, NULL, 'k'},
	    {"interval", required_argument, NULL, 'I'},
	    {"workload", required_argument, NULL, 'w'},
	    {"workload-file", required_argument, NULL, 'W'},
	    {"not-ready", no_argument, NULL, OPT_NOT_READY},
	    {"source", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"record", required_argument, NULL, 'r'},
	    {"replay", required_argument, NULL, OPT_REPLAY},
	    {"garbage", required_argument, NULL, OPT_GARBAGE},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char err[256];
	bool interval_set = false;
	int o, rc = 0;
	uint32_t u;
	while ((o = getopt_long(argc, argv, "i:t:k:I:w:W:s:n:r:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			rc = config_parse_u32(optarg, 1, 0x7fffffff, &t->cfg.id, err, sizeof(err));
			break;
		case 't':
			rc = heartbeat_parse_target(&t->cfg, &(struct config_key){.key = "to"},
						    optarg, err, sizeof(err));
			break;
		case 'k':
			rc = config_parse_str(optarg, t->cfg.key_file, sizeof(t->cfg.key_file), err,
					      sizeof(err));
			break;
		case 'I':
			rc = config_parse_duration_ms(optarg, 1, 60000, &t->cfg.interval_ms, err,
						      sizeof(err));
			interval_set = true;
			break;
		case 'w':
			rc = config_parse_u32(optarg, 0, HEARTBEAT_WORKLOAD_MAX, &t->workload, err,
					      sizeof(err));
			break;
		case 'W':
			t->workload_file = optarg;
			break;
		case OPT_NOT_READY:
			t->not_ready = true;
			break;
		case 's':
			rc = config_parse_ipv4(optarg, &t->cfg.source, err, sizeof(err));
			break;
		case 'n':
			rc = config_parse_u32(optarg, 0, UINT32_MAX, &t->count, err, sizeof(err));
			break;
		case 'r':
			t->record = optarg;
			break;
		case OPT_REPLAY:
			t->replay = optarg;
			break;
		case OPT_GARBAGE:
			rc = config_parse_u32(optarg, 1, 10000000, &t->garbage, err, sizeof(err));
			break;
		case OPT_SEED:
			rc = config_parse_u32(optarg, 0, UINT32_MAX, &u, err, sizeof(err));
			t->seed = u;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("craft-heartbeat %s\n", CRAFT_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0) {
			fprintf(stderr, "craft-heartbeat: %s: %s\n", argv[optind - 1], err);
			return -1;
		}
	}
	if (optind < argc || t->cfg.ntargets == 0) {
		fprintf(stderr, "craft-heartbeat: %s (see --help)\n",
			optind < argc ? "unexpected argument" : "--to is required");
		return -1;
	}
	if (t->replay && !interval_set)
		t->cfg.interval_ms = 10;
	if (!t->replay && !t->garbage && (!t->cfg.id || !t->cfg.key_file[0])) {
		fprintf(stderr, "craft-heartbeat: --id and --key are required\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct tool t;
	heartbeat_sender_config_default(&t.cfg);
	t.workload = HEARTBEAT_WORKLOAD_MAX;
	t.fd = -1;
	log_set_ident("craft-heartbeat");
	int rc = parse_args(&t, argc, argv);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (t.replay || t.garbage || t.record) {
		if (open_socket(&t) < 0) {
			log_err("socket: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	if (t.replay || t.garbage) {
		rc = t.replay ? run_replay(&t) : run_garbage(&t);
		close(t.fd);
		return rc;
	}
	if (event_loop_init(&t.loop) < 0)
		return EXIT_RUNTIME;
	static const int sigs[] = {SIGTERM, SIGINT};
	event_loop_add_signals(&t.loop, sigs, 2, on_signal, NULL);
	struct heartbeat_sender s = {.fd = -1, .timer_fd = -1};
	char err[256];
	rc = EXIT_OK;
	if (t.record) {
		t.rec = fopen(t.record, "ae");
		if (!t.rec || auth_key_load_file(t.cfg.key_file, &t.key, err, sizeof(err)) < 0) {
			log_err("%s: %s", t.rec ? t.cfg.key_file : t.record,
				t.rec ? err : strerror(errno));
			rc = EXIT_RUNTIME;
		} else {
			auth_sender_init(&t.auth, t.cfg.id, 0);
			record_tick(&t.loop, 1, &t);
			if (event_loop_add_timer(&t.loop, (uint32_t)t.cfg.interval_ms, record_tick,
						 &t) < 0)
				rc = EXIT_RUNTIME;
		}
	} else if (heartbeat_sender_open(&s, &t.cfg, NULL, &t.loop, status_cb, &t, err,
					 sizeof(err)) < 0) {
		log_err("%s", err);
		rc = EXIT_RUNTIME;
	}
	if (rc == EXIT_OK && !(t.count && t.beats >= t.count))
		event_loop_run(&t.loop);
	if (!t.record && rc == EXIT_OK) {
		log_info("sent %llu beats, %llu send errors", (unsigned long long)s.st.sent,
			 (unsigned long long)s.st.send_errors);
		heartbeat_sender_close(&s);
	}
	if (t.rec)
		fclose(t.rec);
	if (t.fd >= 0)
		close(t.fd);
	auth_key_wipe(&t.key);
	event_loop_free(&t.loop);
	return rc;
}
