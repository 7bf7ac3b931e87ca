/* craft-pcap - runs a packet capture through the logger's pipeline offline.
 *
 *   craft-pcap [--config FILE] [--db FILE] [--print] [--service "PORT PROTO"]
 *              [--tags FILE] [--conns] CAPTURE.pcap
 *
 * Why: the same txn_log code as craft-logger (txn_log.h) turns a capture
 * (tcpdump on the logger host, or anywhere on the path) into the same
 * connection, transaction, tag, offset, marks and payload rows, so an
 * operator can rebuild or check a log, and a test can compare the daemon's
 * rows with an independent capture of the same traffic.
 *
 * Link types: Ethernet (with up to two VLAN tags), raw IPv4 (DLT_RAW,
 * DLT_IPV4), Linux cooked v1 and v2 (tcpdump -i any), BSD loopback. Time is
 * the capture's: idle timeouts and marks intervals behave as they did live.
 * A truncated or corrupt capture ends with a message and exit status 1;
 * every transaction completed before the damage is printed / written, the
 * ones still open end as "abort". Exit status: 0 ok, 1 damaged input or
 * database error, 2 usage or configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "print.h"
#include "stats.h"
#include "store.h"
#include "txn_log.h"
#include "txn_log_store.h"
#include "version.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif

struct pcap_config {
	struct txn_log_config log;
	struct store_config store;
};

/* Keys of craft-logger's config file that mean nothing offline: accepted so
 * that the daemon's file can be used as it is. */
static int ignore_key(void *dst, const struct config_key *k, const char *v, char *err,
		      size_t errlen)
{
	(void)dst, (void)k, (void)v, (void)err, (void)errlen;
	return 0;
}

#define IGNORED(sec, k) CONFIG_CUSTOM(sec, k, ignore_key)

static const struct config_key keys[] = {
    TXN_LOG_CONFIG_KEYS(struct pcap_config, log),
    STORE_CONFIG_KEYS(struct pcap_config, store),
    IGNORED("logger", "mode"),
    IGNORED("logger", "db"),
    IGNORED("logger", "backlog"),
    IGNORED("logger", "expire_interval"),
    IGNORED("logger", "counters_interval"),
    IGNORED("queue", "num"),
    IGNORED("queue", "count"),
    IGNORED("queue", "copy_range"),
    IGNORED("queue", "maxlen"),
    IGNORED("queue", "batch"),
    IGNORED("queue", "rcvbuf"),
    IGNORED("queue", "gso"),
    IGNORED("queue", "fail_open"),
    IGNORED("queue", "shutdown_verdict"),
    IGNORED("daemon", "log_level"),
    IGNORED("daemon", "stats_file"),
    IGNORED("daemon", "stats_interval"),
    IGNORED("daemon", "rule_check"),
    {0},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: craft-pcap [options] CAPTURE\n"
		"Runs a pcap file through craft-logger's transaction pipeline.\n\n"
		"  -c, --config FILE     craft-logger's config file: [logger] service, tags,\n"
		"                        aux, max_kept_message, ...; [flows]; [transactions];\n"
		"                        [store] (daemon-only keys are ignored)\n"
		"  -d, --db FILE         write the rows into FILE (created or migrated)\n"
		"  -p, --print           one line per transaction on stdout: conn, id,\n"
		"                        ordinal, endpoints, req=START-END resp=START-END\n"
		"                        (seq - ISN, end exclusive, as in the database),\n"
		"                        status, end reason, tags, request line\n"
		"      --conns           with --print: a line per connection open/close too\n"
		"  -s, --service \"P X\"   service port P with protocol X (http|line);\n"
		"                        repeatable, replaces the config's list\n"
		"  -t, --tags FILE       tag rules file (tags.h format)\n"
		"  -q, --quiet           no summary on stderr\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n\n"
		"Exit status: 0 ok, 1 damaged capture or database error, 2 usage.\n");
}

/* Offset of the IPv4 header in a frame of link type dlt, or -1. */
static int l3_offset(int dlt, const uint8_t *p, uint32_t caplen)
{
	switch (dlt) {
	case DLT_EN10MB: {
		uint32_t off = 12;
		for (int vlan = 0; vlan < 3; vlan++) {
			if (caplen < off + 2)
				return -1;
			uint16_t type = (uint16_t)(p[off] << 8 | p[off + 1]);
			if (type == 0x0800)
				return (int)off + 2;
			if (type != 0x8100 && type != 0x88a8)
				return -1;
			off += 4;
		}
		return -1;
	}
	case DLT_RAW:
	case DLT_IPV4:
		return caplen >= 1 && (p[0] >> 4) == 4 ? 0 : -1;
	case DLT_LINUX_SLL:
		return caplen >= 16 && p[14] == 0x08 && p[15] == 0x00 ? 16 : -1;
	case DLT_LINUX_SLL2:
		return caplen >= 20 && p[0] == 0x08 && p[1] == 0x00 ? 20 : -1;
	case DLT_NULL:
	case DLT_LOOP: {
		if (caplen < 4)
			return -1;
		uint32_t fam;
		memcpy(&fam, p, 4);
		return fam == 2 || ntohl(fam) == 2 ? 4 : -1;
	}
	default:
		return -1;
	}
}

static bool dlt_supported(int dlt)
{
	return dlt == DLT_EN10MB || dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_LINUX_SLL ||
	       dlt == DLT_LINUX_SLL2 || dlt == DLT_NULL || dlt == DLT_LOOP;
}

static int64_t next_conn_id(void *arg)
{
	return store_next_conn_id(arg);
}

struct opts {
	const char *config, *db, *tags, *capture;
	const char *services[TXN_LOG_MAX_SERVICES];
	unsigned nservices;
	bool print, conns, quiet;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},  {"db", required_argument, NULL, 'd'},
	    {"print", no_argument, NULL, 'p'},	       {"conns", no_argument, NULL, 'C'},
	    {"service", required_argument, NULL, 's'}, {"tags", required_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},	       {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	int c;
	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:d:ps:t:qhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 'p':
			o->print = true;
			break;
		case 'C':
			o->conns = true;
			break;
		case 's':
			if (o->nservices >= TXN_LOG_MAX_SERVICES) {
				fprintf(stderr, "craft-pcap: too many --service options\n");
				return 2;
			}
			o->services[o->nservices++] = optarg;
			break;
		case 't':
			o->tags = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("craft-pcap %s\n", CRAFT_VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "craft-pcap: expected one capture file (see --help)\n");
		return 2;
	}
	o->capture = argv[optind];
	if (!o->print && !o->db) {
		fprintf(stderr, "craft-pcap: nothing to do: give --print and/or --db FILE\n");
		return 2;
	}
	return 0;
}

static int load_config(const struct opts *o, struct pcap_config *pc)
{
	char err[256];
	txn_log_config_defaults(&pc->log);
	store_config_defaults(&pc->store);
	if (o->config) {
		struct config_error cerr;
		if (config_load_file(o->config, keys, pc, &cerr) < 0) {
			fprintf(stderr, "craft-pcap: %s\n", cerr.msg);
			return 2;
		}
	}
	if (o->nservices) {
		pc->log.services_given = false;
		for (unsigned i = 0; i < o->nservices; i++)
			if (config_set(keys, pc, "logger", "service", o->services[i], err,
				       sizeof(err)) < 0) {
				fprintf(stderr, "craft-pcap: --service %s: %s\n", o->services[i],
					err);
				return 2;
			}
	}
	if (o->tags)
		snprintf(pc->log.tags_file, sizeof(pc->log.tags_file), "%s", o->tags);
	return 0;
}

struct run {
	pcap_t *pc;
	int dlt;
	struct txn_log *tl;
	uint64_t frames, not_ipv4, last_expire_us;
};

/* Feeds every frame; returns 0 at the end of the file, 1 on damage. */
static int feed(struct run *r, const char *path)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(r->pc, &h, &data)) == 1) {
		r->frames++;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		int off = l3_offset(r->dlt, data, h->caplen);
		if (off < 0) {
			r->not_ipv4++;
			continue;
		}
		uint32_t wire = h->len > (uint32_t)off ? h->len - (uint32_t)off : 0;
		txn_log_packet(r->tl, data + off, h->caplen - (uint32_t)off, wire, ts);
		if (ts - r->last_expire_us >= 1000000u || ts < r->last_expire_us) {
			txn_log_expire(r->tl, ts);
			r->last_expire_us = ts;
		}
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "craft-pcap: %s: damaged after frame %" PRIu64 ": %s\n", path,
			r->frames, pcap_geterr(r->pc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	static struct pcap_config pc;
	char err[512] = "";
	char perr[PCAP_ERRBUF_SIZE] = "";

	log_set_ident("craft-pcap");
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	if ((rc = load_config(&o, &pc)) != 0)
		return rc;

	struct run r = {0};
	r.pc =
	    pcap_open_offline_with_tstamp_precision(o.capture, PCAP_TSTAMP_PRECISION_MICRO, perr);
	if (!r.pc) {
		fprintf(stderr, "craft-pcap: %s: %s\n", o.capture, perr);
		return 1;
	}
	r.dlt = pcap_datalink(r.pc);
	if (!dlt_supported(r.dlt)) {
		fprintf(stderr, "craft-pcap: %s: link type %s (%d) not supported\n", o.capture,
			pcap_datalink_val_to_name(r.dlt) ? pcap_datalink_val_to_name(r.dlt) : "?",
			r.dlt);
		pcap_close(r.pc);
		return 1;
	}
	if (txn_log_create(&r.tl, &pc.log, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-pcap: %s\n", err);
		pcap_close(r.pc);
		return 2;
	}
	struct store *st = NULL;
	struct txn_log_store obs;
	if (o.db) {
		if (store_open(&st, o.db, &pc.store, err, sizeof(err)) < 0) {
			fprintf(stderr, "craft-pcap: %s: %s\n", o.db, err);
			txn_log_destroy(r.tl);
			pcap_close(r.pc);
			return 1;
		}
		txn_log_set_conn_ids(r.tl, next_conn_id, st);
		if (txn_log_store_init(&obs, st, r.tl, pc.store.max_value_bytes) < 0) {
			fprintf(stderr, "craft-pcap: out of memory\n");
			return 1;
		}
		obs.wait_when_full = true; /* offline: lose nothing */
		struct txn_log_observer ob = txn_log_store_observer(&obs);
		txn_log_add_observer(r.tl, &ob);
	}
	struct pcap_print pr = {.out = stdout, .conns = o.conns};
	if (o.print) {
		struct txn_log_observer ob = pcap_print_observer(&pr);
		txn_log_add_observer(r.tl, &ob);
	}

	int status = feed(&r, o.capture);
	txn_log_finish(r.tl);
	fflush(stdout);

	struct txn_log_stats s = txn_log_get_stats(r.tl);
	if (!o.quiet)
		fprintf(stderr,
			"craft-pcap: %" PRIu64 " frames (%" PRIu64 " not IPv4), %" PRIu64
			" TCP segments logged of %" PRIu64 ", %" PRIu64 " connections, %" PRIu64
			" transactions (%" PRIu64 " complete), %" PRIu64 " malformed, %" PRIu64
			" not a service\n",
			r.frames, r.not_ipv4,
			s.packets - s.not_ipv4_tcp - s.malformed - s.not_service - s.untracked -
			    s.refused,
			s.packets, s.conns_opened, s.txns_ended, s.txns_complete, s.malformed,
			s.not_service);
	if (st) {
		txn_log_store_free(&obs); /* writes what is still pending */
		if (obs.s.dropped_full || obs.s.rejected)
			fprintf(stderr, "craft-pcap: %" PRIu64 " rows refused by the store\n",
				obs.s.dropped_full + obs.s.rejected);
		if (store_close(st) < 0) {
			fprintf(stderr, "craft-pcap: %s: rows were lost\n", o.db);
			status = 1;
		}
	}
	txn_log_destroy(r.tl);
	pcap_close(r.pc);
	return status;
}
