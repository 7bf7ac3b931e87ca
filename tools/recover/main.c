/* craft-recover - the recovery of a failed backend by hand: its plan, and
 * the recovery itself.
 *
 * The plan of one logged connection: what
 * the proxy's recovery manager (nfq/proxy/recovery.h) would do if the
 * connection's backend failed now. It reads the logger's database (read
 * only) and, when given the alternate's agent, asks it for T_S and T_A.
 *
 *   craft-recover --db LOGGER_DB (--conn-id N | --client IP:PORT [--server IP:PORT]
 *                                 | --backend IP:PORT)
 *                 [--agent ADDR:PORT --key FILE [--sender-id N]] [--t-a N --t-s N]
 *                 --dry-run
 *   craft-recover --backend IP:PORT --proxy ADDR:PORT [--proxy ...] --key FILE
 *                 [--sender-id N] [--db LOGGER_DB]
 *
 * --backend plans every connection to that backend the log still has open,
 * one after the other, as the recovery manager would if it failed now.
 *
 * The recovery by hand (no --dry-run): the recovery needs the live splice
 * state and the frozen sockets of the proxy that created each splice, so
 * the tool does not take them over; it declares the backend failed to the
 * proxies' recovery managers exactly as the logger would (an authenticated
 * BACKEND_FAILED, cause "manual", sent three times with one event id over
 * the [control] channel), and each proxy recovers the connections it
 * spliced. For an operator who knows a backend is gone before the logger
 * does (detection off, or a backend to retire). The proxies' [control]
 * must accept --sender-id (allow_sender) when it lists senders; the
 * outcome is in each proxy's failover history (v_failover_history). With
 * --db, the plans are printed first. The dry run prints the numbers (T_L, p, AckCL, AckTL, T_S,
 * T_A, T_R, T_SP, equation 1's resend range and the replay list) for an operator or a test to
 * check. The database lags the live logger by its row delay: a response still in flight is p = last
 * server byte - its start.
 *
 * Exit: 0 plan(s) printed (also "nothing in flight"), 1 no such connection
 * (or, with --backend, none open) or the log is inconsistent, 2 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "ctl_channel.h"
#include "event_loop.h"
#include "recovery_plan.h"
#include "recovery_plan_agent.h"
#include "store.h"
#include "version.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct opts {
	const char *db, *key;
	int64_t conn_id;
	struct sockaddr_in client, server, agent, backend;
	bool have_client, have_server, have_agent, have_backend, dry_run;
	struct sockaddr_in proxy[CTL_MAX_PEERS];
	unsigned nproxy;
	uint32_t t_a, t_s, sender_id;
	bool have_t;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: craft-recover --db FILE (--conn-id N | --client IP:PORT [--server IP:PORT]\n"
	    "                                | --backend IP:PORT)\n"
	    "                     [--agent ADDR:PORT --key FILE [--sender-id N]]\n"
	    "                     [--t-a N --t-s N] --dry-run\n"
	    "       craft-recover --backend IP:PORT --proxy ADDR:PORT [--proxy ...] --key FILE\n"
	    "                     [--sender-id N] [--db FILE]\n"
	    "Prints the recovery plan of a connection the logger logged (paper 4.2-4.3):\n"
	    "T_L, p, AckCL, AckTL, T_S, T_A, T_R, T_SP, the bytes equation 1 resends and\n"
	    "the transactions replayed to the alternate; with --backend, of every connection\n"
	    "to that backend still open in the log. The client is the backend side's\n"
	    "(behind the proxies: IVIP:port). T_S/T_A come from --agent (the alternate's\n"
	    "craft-agent) or --t-a/--t-s; without either they are 0 (every logged update\n"
	    "is replayed).\n"
	    "Without --dry-run: declares the backend failed to each --proxy's [control]\n"
	    "(authenticated BACKEND_FAILED, cause manual), whose [recovery] then moves every\n"
	    "connection it spliced to that backend; see its failover history for the outcome.\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"conn-id", required_argument, NULL, 'c'},
	    {"client", required_argument, NULL, 'C'},
	    {"server", required_argument, NULL, 'S'},
	    {"backend", required_argument, NULL, 'b'},
	    {"agent", required_argument, NULL, 'a'},
	    {"key", required_argument, NULL, 'k'},
	    {"sender-id", required_argument, NULL, 'i'},
	    {"t-a", required_argument, NULL, 'A'},
	    {"t-s", required_argument, NULL, 's'},
	    {"proxy", required_argument, NULL, 'p'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	char err[128];
	int opt;
	o->sender_id = 9998;
	while ((opt = getopt_long(argc, argv, "d:c:C:S:b:a:k:i:A:s:p:nhV", lopts, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'd':
			o->db = optarg;
			break;
		case 'c':
			o->conn_id = strtoll(optarg, NULL, 10);
			rc = o->conn_id > 0 ? 0 : -1;
			break;
		case 'C':
			rc = config_parse_ipv4_port(optarg, &o->client, err, sizeof(err));
			o->have_client = true;
			break;
		case 'S':
			rc = config_parse_ipv4_port(optarg, &o->server, err, sizeof(err));
			o->have_server = true;
			break;
		case 'b':
			rc = config_parse_ipv4_port(optarg, &o->backend, err, sizeof(err));
			o->have_backend = true;
			break;
		case 'a':
			rc = config_parse_ipv4_port(optarg, &o->agent, err, sizeof(err));
			o->have_agent = true;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'i':
			rc = config_parse_u32(optarg, 1, UINT32_MAX, &o->sender_id, err,
					      sizeof(err));
			break;
		case 'A':
			rc = config_parse_u32(optarg, 0, 65535, &o->t_a, err, sizeof(err));
			o->have_t = true;
			break;
		case 's':
			rc = config_parse_u32(optarg, 0, 65535, &o->t_s, err, sizeof(err));
			o->have_t = true;
			break;
		case 'p':
			if (o->nproxy == CTL_MAX_PEERS) {
				fprintf(stderr, "craft-recover: at most %d --proxy\n",
					CTL_MAX_PEERS);
				return -1;
			}
			rc = config_parse_ipv4_port(optarg, &o->proxy[o->nproxy++], err,
						    sizeof(err));
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("craft-recover %s\n", CRAFT_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0) {
			fprintf(stderr, "craft-recover: bad value '%s'\n", optarg);
			return -1;
		}
	}
	int selectors = (o->conn_id != 0) + o->have_client + o->have_backend;
	bool plan_ok = o->db && selectors == 1 && (!o->have_server || o->have_client) &&
		       (!o->have_agent || o->key);
	bool act_ok = o->have_backend && selectors == 1 && o->nproxy > 0 && o->key;
	if (optind != argc || (o->dry_run ? !plan_ok || o->nproxy : !act_ok)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

struct conn_info {
	int64_t conn_id;
	uint32_t cip, sip;
	uint16_t cport, sport;
	uint64_t ack_cl, last_server, last_client;
	bool have_marks;
};

static int find_conn(sqlite3 *db, const struct opts *o, struct conn_info *ci)
{
	sqlite3_stmt *st = NULL;
	const char *sql =
	    "SELECT c.conn_id, c.client_ip, c.client_port, c.server_ip, c.server_port, "
	    "m.ack_cl, m.last_server_byte, m.last_client_byte, m.conn_id IS NOT NULL "
	    "FROM connections c LEFT JOIN conn_marks m ON m.conn_id = c.conn_id "
	    "WHERE (?1 = 0 OR c.conn_id = ?1) AND (?2 = 0 OR (c.client_ip = ?2 AND "
	    "c.client_port = ?3)) AND (?4 = 0 OR (c.server_ip = ?4 AND c.server_port = ?5)) "
	    "ORDER BY c.conn_id DESC LIMIT 1";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, o->conn_id);
	sqlite3_bind_int64(st, 2, o->have_client ? ntohl(o->client.sin_addr.s_addr) : 0);
	sqlite3_bind_int64(st, 3, ntohs(o->client.sin_port));
	sqlite3_bind_int64(st, 4, o->have_server ? ntohl(o->server.sin_addr.s_addr) : 0);
	sqlite3_bind_int64(st, 5, ntohs(o->server.sin_port));
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		ci->conn_id = sqlite3_column_int64(st, 0);
		ci->cip = (uint32_t)sqlite3_column_int64(st, 1);
		ci->cport = (uint16_t)sqlite3_column_int64(st, 2);
		ci->sip = (uint32_t)sqlite3_column_int64(st, 3);
		ci->sport = (uint16_t)sqlite3_column_int64(st, 4);
		ci->ack_cl = (uint64_t)sqlite3_column_int64(st, 5);
		ci->last_server = (uint64_t)sqlite3_column_int64(st, 6);
		ci->last_client = (uint64_t)sqlite3_column_int64(st, 7);
		ci->have_marks = sqlite3_column_int(st, 8) != 0;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The connection's transactions in ordinal order; a response in flight
 * ends at the last server byte logged, a request at the last client byte. */
static int load_txns(sqlite3 *db, const struct conn_info *ci, struct recovery_txn *t,
		     char (*summary)[64], unsigned *n)
{
	sqlite3_stmt *st = NULL;
	const char *sql =
	    "SELECT t.txn_id & 65535, coalesce(g.read_only, 0), coalesce(g.deterministic, 0), "
	    "o.req_start, o.req_end, o.resp_start, o.resp_end, coalesce(t.summary, '') "
	    "FROM transactions t LEFT JOIN tags g USING (conn_id, txn_id) "
	    "LEFT JOIN seq_offsets o USING (conn_id, txn_id) WHERE t.conn_id = ?1 "
	    "ORDER BY t.txn_id & 65535";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, ci->conn_id);
	*n = 0;
	while (sqlite3_step(st) == SQLITE_ROW && *n < RECOVERY_MAX_REPLAY) {
		struct recovery_txn *x = &t[*n];
		uint64_t prev_end = *n ? t[*n - 1].resp_end : 0;
		bool req_done = sqlite3_column_type(st, 4) != SQLITE_NULL;
		bool begun = sqlite3_column_type(st, 5) != SQLITE_NULL;
		bool done = sqlite3_column_type(st, 6) != SQLITE_NULL;
		*x = (struct recovery_txn){
		    .ordinal = (uint16_t)sqlite3_column_int64(st, 0),
		    .read_only = sqlite3_column_int(st, 1) != 0,
		    .deterministic = sqlite3_column_int(st, 2) != 0,
		    .request_complete = req_done,
		    .response_complete = done,
		    .req_start = (uint64_t)sqlite3_column_int64(st, 3),
		    .req_end = req_done ? (uint64_t)sqlite3_column_int64(st, 4) : ci->last_client,
		    .resp_start = begun ? (uint64_t)sqlite3_column_int64(st, 5) : prev_end,
		    .resp_end = done	? (uint64_t)sqlite3_column_int64(st, 6)
				: begun ? ci->last_server
					: prev_end,
		};
		snprintf(summary[*n], 64, "%s", (const char *)sqlite3_column_text(st, 7));
		(*n)++;
	}
	sqlite3_finalize(st);
	return 0;
}

static int ask_agent(const struct opts *o, const struct conn_info *ci, uint16_t *t_s, uint16_t *t_a)
{
	struct auth_key key;
	char err[256];
	if (auth_key_load_file(o->key, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-recover: %s\n", err);
		return -1;
	}
	struct state_msg m = {.type = STATE_T_QUERY};
	m.u.query = (struct state_query){.query_id = (uint64_t)ci->conn_id,
					 .selector = STATE_SEL_CONN,
					 .ipv4 = ci->cip,
					 .port = ci->cport};
	struct state_reply r;
	int rc = recovery_agent_ask(&o->agent, &key, o->sender_id, &m, 2000, &r, err, sizeof(err));
	auth_key_wipe(&key);
	if (rc < 0) {
		fprintf(stderr, "craft-recover: agent: %s\n", err);
		return -1;
	}
	*t_s = (uint16_t)r.t_s;
	*t_a = (uint16_t)r.t_a;
	if (r.flags & STATE_REPLY_F_FORCED)
		printf("warning: the agent applied state by force (FORCED): recovery would RST\n");
	return 0;
}

static void print_plan(const struct conn_info *ci, const struct recovery_input *in,
		       const struct recovery_plan *pl, char (*summary)[64])
{
	struct in_addr c = {htonl(ci->cip)}, s = {htonl(ci->sip)};
	printf("conn %" PRId64 " client %s:%u", ci->conn_id, inet_ntoa(c), ci->cport);
	printf(" server %s:%u\n", inet_ntoa(s), ci->sport);
	printf("T_L %u  p %" PRIu64 "  AckCL %" PRIu64 "  AckTL %" PRIu64 "\n", pl->t_l, pl->p,
	       in->ack_cl, pl->ack_tl);
	printf("T_S %u  T_A %u  T_R %u  T_SP %u\n", in->t_s, in->t_a, pl->t_r, pl->t_sp);
	if (pl->resend)
		printf("resend [%" PRIu64 ", %" PRIu64 ") = %" PRIu64 " bytes from the log "
		       "(equation 1)\n",
		       pl->resend_from, pl->resend_to, pl->resend_to - pl->resend_from);
	else
		printf("resend nothing (AckCL = AckTL + p)\n");
	printf("replay %u:\n", pl->nreplay);
	for (unsigned i = 0; i < pl->nreplay; i++)
		for (unsigned k = 0; k < in->ntxns; k++)
			if (in->txns[k].ordinal == pl->replay[i])
				printf("  %u %s%s%s\n", pl->replay[i], summary[k],
				       in->txns[k].read_only ? " (read-only)" : " (update)",
				       pl->replay[i] == pl->t_sp
					   ? " = T_L+1, first p bytes compared"
					   : "");
}

/* Prints the plan of one connection: 0, or -1 after a message. */
static int plan_one(sqlite3 *db, const struct opts *o)
{
	struct conn_info ci = {0};
	static struct recovery_txn txns[RECOVERY_MAX_REPLAY];
	static char summary[RECOVERY_MAX_REPLAY][64];
	unsigned n = 0;
	if (find_conn(db, o, &ci) < 0) {
		fprintf(stderr, "craft-recover: no such connection in %s\n", o->db);
		return -1;
	}
	if (load_txns(db, &ci, txns, summary, &n) < 0) {
		fprintf(stderr, "craft-recover: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	uint16_t t_s = (uint16_t)o->t_s, t_a = (uint16_t)o->t_a;
	if (o->have_agent && ask_agent(o, &ci, &t_s, &t_a) < 0)
		return -1;
	struct recovery_input in = {
	    .txns = txns, .ntxns = n, .ack_cl = ci.ack_cl, .t_s = t_s, .t_a = t_a};
	struct recovery_plan pl;
	int pr = recovery_plan_compute(&in, &pl);
	if (pr < 0) {
		fprintf(stderr, "craft-recover: conn %" PRId64 ": %s\n", ci.conn_id,
			recovery_outcome_name(pr));
		return -1;
	}
	if (!ci.have_marks)
		printf("warning: no AckCL mark logged yet: AckCL taken as 0\n");
	print_plan(&ci, &in, &pl, summary);
	if (pr == RECOVERY_PLAN_NOTHING)
		printf("nothing in flight: re-splice only\n");
	return 0;
}

/* --backend: the plan of every connection to it that is still open. */
static int plan_backend(sqlite3 *db, const struct opts *o)
{
	sqlite3_stmt *st = NULL;
	const char *sql = "SELECT conn_id FROM connections WHERE server_ip = ?1 AND "
			  "server_port = ?2 AND close_us IS NULL ORDER BY conn_id";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "craft-recover: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, ntohl(o->backend.sin_addr.s_addr));
	sqlite3_bind_int64(st, 2, ntohs(o->backend.sin_port));
	unsigned planned = 0, failed = 0;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct opts one = *o;
		one.have_backend = false;
		one.conn_id = sqlite3_column_int64(st, 0);
		if (planned + failed)
			printf("\n");
		if (plan_one(db, &one) < 0)
			failed++;
		else
			planned++;
	}
	if (step != SQLITE_DONE)
		fprintf(stderr, "craft-recover: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	printf("%sbackend %s:%u: %u open connection(s) planned, %u could not be\n",
	       planned + failed ? "\n" : "", inet_ntoa(o->backend.sin_addr),
	       ntohs(o->backend.sin_port), planned, failed);
	return step == SQLITE_DONE && planned > 0 && failed == 0 ? 0 : -1;
}

/* The recovery by hand: BACKEND_FAILED (cause manual) to every --proxy,
 * three times 50 ms apart with one event id (UDP may lose one; receivers
 * drop the repeats by event id). 0, or -1 after a message. */
static int declare_failed(const struct opts *o)
{
	struct event_loop loop;
	struct ctl_channel ch;
	char err[256];
	if (event_loop_init(&loop) < 0) {
		fprintf(stderr, "craft-recover: event loop: %s\n", strerror(errno));
		return -1;
	}
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	memcpy(cfg.peers, o->proxy, o->nproxy * sizeof(o->proxy[0]));
	cfg.npeers = o->nproxy;
	cfg.sender_id = o->sender_id;
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", o->key);
	if (ctl_channel_open(&ch, &loop, &cfg, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-recover: %s\n", err);
		event_loop_free(&loop);
		return -1;
	}
	uint64_t now = realtime_us();
	struct ctl_msg m = {.type = CTL_BACKEND_FAILED};
	m.u.failed = (struct ctl_backend_failed){
	    .ip = o->backend.sin_addr.s_addr,
	    .port = ntohs(o->backend.sin_port),
	    .cause = CTL_CAUSE_MANUAL,
	    .event_id = now,
	    .detected_us = now,
	};
	int sent = 0;
	for (int i = 0; i < 3; i++) {
		if (i)
			clock_sleep_ms(50);
		int n = ctl_channel_broadcast(&ch, &m);
		if (n > 0)
			sent += n;
	}
	ctl_channel_close(&ch);
	event_loop_free(&loop);
	if (sent == 0) {
		fprintf(stderr, "craft-recover: no BACKEND_FAILED could be sent\n");
		return -1;
	}
	printf("declared %s:%u failed to %u proxies (event %" PRIu64 ", %d datagrams); the "
	       "outcome is in each proxy's failover history\n",
	       inet_ntoa(o->backend.sin_addr), ntohs(o->backend.sin_port), o->nproxy, now, sent);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	int prc = parse(argc, argv, &o);
	if (prc != 0)
		return prc > 0 ? EXIT_OK : EXIT_USAGE;
	if (!o.dry_run && !o.db)
		return declare_failed(&o) < 0 ? EXIT_FAIL : EXIT_OK;
	sqlite3 *db = NULL;
	char err[512];
	if (store_open_readonly(o.db, &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-recover: %s: %s\n", o.db, err);
		return EXIT_FAIL;
	}
	int rc = o.have_backend ? plan_backend(db, &o) : plan_one(db, &o);
	sqlite3_close(db);
	if (!o.dry_run) {
		/* the plans are information; a backend with nothing open is still declared */
		printf("\n");
		rc = declare_failed(&o);
	}
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
