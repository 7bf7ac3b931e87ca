/* craft-rulecheck - asks the same question a daemon asks at start-up: does
 * an iptables rule in this network namespace send packets to NFQUEUE N?
 * Exit 0 found, 1 not found, 2 error (or bad usage). Used by operators
 * before starting a daemon and by the end-to-end tests of rule_check. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "rule_check.h"
#include "version.h"

enum { EXIT_FOUND = 0, EXIT_NOT_FOUND = 1, EXIT_ERROR = 2 };

static const char *const backend_names[] = {"auto", "nft", "legacy", NULL};

static void usage(FILE *out)
{
	fprintf(out, "Usage: craft-rulecheck [-q N] [-b auto|nft|legacy]\n"
		     "Checks that an iptables rule in this network namespace sends packets to\n"
		     "NFQUEUE N (default 0). Exit status: 0 found, 1 not found, 2 error.\n\n"
		     "  -q, --queue N        queue number, 0..65535\n"
		     "  -b, --backend NAME   auto (both, iptables -V first), nft or legacy\n"
		     "  -h, --help           this text\n"
		     "  -V, --version        print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"queue", required_argument, NULL, 'q'},
	    {"backend", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	uint32_t queue = 0;
	int backend = 0, opt;
	char err[256] = "";

	log_set_ident("craft-rulecheck");
	while ((opt = getopt_long(argc, argv, "q:b:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			if (config_parse_u32(optarg, 0, 65535, &queue, err, sizeof(err)) < 0) {
				log_err("--queue: %s", err);
				return EXIT_ERROR;
			}
			break;
		case 'b':
			if (config_parse_enum(optarg, backend_names, &backend, err, sizeof(err)) <
			    0) {
				log_err("--backend: %s", err);
				return EXIT_ERROR;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("craft-rulecheck %s\n", CRAFT_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERROR;
	}

	struct rule_match m;
	int rc;
	if (backend == 1)
		rc = rule_check_nft((uint16_t)queue, &m, err, sizeof(err));
	else if (backend == 2)
		rc = rule_check_legacy((uint16_t)queue, &m, err, sizeof(err));
	else
		rc = rule_check_queue((uint16_t)queue, &m, err, sizeof(err));
	if (rc < 0) {
		log_err("cannot check the rules for queue %u: %s", queue, err);
		return EXIT_ERROR;
	}
	if (rc == 0) {
		printf("not found: no iptables rule sends packets to NFQUEUE %u\n", queue);
		return EXIT_NOT_FOUND;
	}
	printf("found: queue %u <- backend %s table %s chain %s queues %u..%u bypass %s "
	       "cpu-fanout %s rules %u\n  %s\n",
	       queue, rule_backend_name(m.backend), m.table, m.chain, m.queue_first, m.queue_last,
	       m.bypass ? "yes" : "no", m.cpu_fanout ? "yes" : "no", m.matches, m.rule);
	return EXIT_FOUND;
}
