/* craft-recover - the recovery plan of one logged connection, by hand: what
 * the proxy's recovery manager (nfq/proxy/recovery.h) would do if the
 * connection's backend failed now. It reads the logger's database (read
 * only) and, when given the alternate's agent, asks it for T_S and T_A.
 *
 *   craft-recover --db LOGGER_DB (--conn-id N | --client IP:PORT [--server IP:PORT])
 *                 [--agent ADDR:PORT --key FILE [--sender-id N]] [--t-a N --t-s N]
 *                 --dry-run
 *
 * Why only a dry run: the recovery itself needs the live splice state and
 * the frozen sockets of the proxy that created the splice; a tool would
 * have to take them over. craft-proxy's [recovery] does it; this prints the
 * numbers (T_L, p, AckCL, AckTL, T_S, T_A, T_R, T_SP, equation 1's resend
 * range and the replay list) for an operator or a test to check. The
 * database lags the live logger by its row delay: a response still in
 * flight is p = last server byte - its start.
 *
 * Exit: 0 plan printed (also "nothing in flight"), 1 no such connection or
 * the log is inconsistent, 2 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "recovery_plan.h"
#include "recovery_plan_agent.h"
#include "store.h"
#include "version.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct opts {
	const char *db, *key;
	int64_t conn_id;
	struct sockaddr_in client, server, agent;
	bool have_client, have_server, have_agent, dry_run;
	uint32_t t_a, t_s, sender_id;
	bool have_t;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: craft-recover --db FILE (--conn-id N | --client IP:PORT [--server IP:PORT])\n"
	    "                     [--agent ADDR:PORT --key FILE [--sender-id N]]\n"
	    "                     [--t-a N --t-s N] --dry-run\n"
	    "Prints the recovery plan of a connection the logger logged (paper 4.2-4.3):\n"
	    "T_L, p, AckCL, AckTL, T_S, T_A, T_R, T_SP, the bytes equation 1 resends and\n"
	    "the transactions replayed to the alternate. The client is the backend side's\n"
	    "(behind the proxies: IVIP:port). T_S/T_A come from --agent (the alternate's\n"
	    "craft-agent) or --t-a/--t-s; without either they are 0 (every logged update\n"
	    "is replayed). Recovery itself runs in craft-proxy ([recovery]); this tool only\n"
	    "plans (--dry-run is required).\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"conn-id", required_argument, NULL, 'c'},
	    {"client", required_argument, NULL, 'C'},
	    {"server", required_argument, NULL, 'S'},
	    {"agent", required_argument, NULL, 'a'},
	    {"key", required_argument, NULL, 'k'},
	    {"sender-id", required_argument, NULL, 'i'},
	    {"t-a", required_argument, NULL, 'A'},
	    {"t-s", required_argument, NULL, 's'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	char err[128];
	int opt;
	o->sender_id = 9998;
	while ((opt = getopt_long(argc, argv, "d:c:C:S:a:k:i:A:s:nhV", lopts, NULL)) != -1) {
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
	if (optind != argc || !o->db || (!o->conn_id && !o->have_client) ||
	    (o->have_agent && !o->key)) {
		usage(stderr);
		return -1;
	}
	if (!o->dry_run) {
		fprintf(stderr, "craft-recover: only --dry-run is supported: the recovery itself "
				"runs in craft-proxy ([recovery])\n");
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

int main(int argc, char **argv)
{
	struct opts o = {0};
	int prc = parse(argc, argv, &o);
	if (prc != 0)
		return prc > 0 ? EXIT_OK : EXIT_USAGE;
	sqlite3 *db = NULL;
	char err[512];
	if (store_open_readonly(o.db, &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-recover: %s: %s\n", o.db, err);
		return EXIT_FAIL;
	}
	int rc = EXIT_FAIL;
	struct conn_info ci = {0};
	static struct recovery_txn txns[RECOVERY_MAX_REPLAY];
	static char summary[RECOVERY_MAX_REPLAY][64];
	unsigned n = 0;
	if (find_conn(db, &o, &ci) < 0) {
		fprintf(stderr, "craft-recover: no such connection in %s\n", o.db);
		goto out;
	}
	if (load_txns(db, &ci, txns, summary, &n) < 0) {
		fprintf(stderr, "craft-recover: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	uint16_t t_s = (uint16_t)o.t_s, t_a = (uint16_t)o.t_a;
	if (o.have_agent && ask_agent(&o, &ci, &t_s, &t_a) < 0)
		goto out;
	struct recovery_input in = {
	    .txns = txns, .ntxns = n, .ack_cl = ci.ack_cl, .t_s = t_s, .t_a = t_a};
	struct recovery_plan pl;
	int pr = recovery_plan_compute(&in, &pl);
	if (pr < 0) {
		fprintf(stderr, "craft-recover: conn %" PRId64 ": %s\n", ci.conn_id,
			recovery_outcome_name(pr));
		goto out;
	}
	if (!ci.have_marks)
		printf("warning: no AckCL mark logged yet: AckCL taken as 0\n");
	print_plan(&ci, &in, &pl, summary);
	if (pr == RECOVERY_PLAN_NOTHING)
		printf("nothing in flight: re-splice only\n");
	rc = EXIT_OK;
out:
	sqlite3_close(db);
	return rc;
}
