/* craft-store-crash-writer - load generator for the store's crash test
 * (tests/e2e/foundation/store_crash.sh), not an operator tool.
 *
 * Submits rows 1..N as counters (daemon "crash-writer", name "row",
 * value = row number) through the store, paced at --rate rows/s so that a
 * test can kill it part-way. Batches are exactly --batch rows (max_delay is
 * set far beyond the run), so a committed prefix always ends on a batch
 * boundary. After each commit the writer thread appends the highest
 * committed row number as one line to --progress with a single write(2):
 * once a line is there, its batch is in the database, so a SIGKILL at any
 * moment must leave every row up to the last line present. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "store.h"
#include "version.h"

struct progress {
	int fd;
};

static void on_commit(void *arg, uint64_t rows, uint64_t last_seq)
{
	struct progress *p = arg;
	char line[32];
	int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)last_seq);

	(void)rows;
	if (write(p->fd, line, (size_t)n) != n)
		_exit(3);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: craft-store-crash-writer --db FILE --progress FILE [--rows N]\n"
		     "       [--batch N] [--rate ROWS_PER_S] [--queue N]\n"
		     "Writes rows 1..N (default 100000) in batches of --batch (1000) at\n"
		     "--rate rows/s (default 40000, 0 = as fast as possible); appends the\n"
		     "last committed row number to --progress after every commit.\n");
}

static long arg_num(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "craft-store-crash-writer: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"progress", required_argument, NULL, 'p'},
	    {"rows", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"rate", required_argument, NULL, 'r'},
	    {"queue", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *progress = NULL;
	long rows = 100000, batch = 1000, rate = 40000, queue = 4096;
	struct store_config cfg;
	struct progress prog;
	struct store *st;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "d:p:n:b:r:q:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			progress = optarg;
			break;
		case 'n':
			rows = arg_num(optarg, "--rows");
			break;
		case 'b':
			batch = arg_num(optarg, "--batch");
			break;
		case 'r':
			rate = arg_num(optarg, "--rate");
			break;
		case 'q':
			queue = arg_num(optarg, "--queue");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("craft-store-crash-writer %s\n", CRAFT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!db || !progress || batch < 1 || queue < 1 || optind != argc) {
		usage(stderr);
		return 2;
	}
	prog.fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (prog.fd < 0) {
		fprintf(stderr, "craft-store-crash-writer: %s: %s\n", progress, strerror(errno));
		return 1;
	}
	store_config_defaults(&cfg);
	cfg.queue_rows = (uint32_t)queue;
	cfg.batch_rows = (uint32_t)batch;
	cfg.max_delay_ms = 3600u * 1000u;
	cfg.on_commit = on_commit;
	cfg.on_commit_arg = &prog;
	if (store_open(&st, db, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-store-crash-writer: %s\n", err);
		return 1;
	}

	uint64_t start = monotonic_us(), retries = 0;
	for (long i = 1; i <= rows; i++) {
		struct store_row r = {.stmt = STORE_COUNTER,
				      .nvals = 4,
				      .vals = {STORE_TEXT("crash-writer"), STORE_TEXT("row"),
					       STORE_INT(i), STORE_INT(realtime_us())}};
		int rc;

		/* Pace: row i is due at start + i / rate seconds. */
		if (rate > 0) {
			uint64_t due = start + (uint64_t)i * 1000000u / (uint64_t)rate;
			uint64_t now = monotonic_us();
			if (due > now + 1000)
				usleep((useconds_t)(due - now));
		}
		while ((rc = store_submit(st, &r)) == -EAGAIN) {
			retries++;
			usleep(200);
		}
		if (rc < 0) {
			fprintf(stderr, "craft-store-crash-writer: submit row %ld: %s\n", i,
				strerror(-rc));
			store_close(st);
			return 1;
		}
	}
	int rc = store_close(st);
	fprintf(stderr, "craft-store-crash-writer: %ld rows, %llu queue-full retries, %.2f s%s\n",
		rows, (unsigned long long)retries, (double)(monotonic_us() - start) / 1e6,
		rc < 0 ? ", ROWS LOST" : "");
	close(prog.fd);
	return rc < 0 ? 1 : 0;
}
