/* craft-agent - backend support on the alternate backend (agent.h), plus
 * client modes that send one message to a running agent, for tests,
 * operators and recovery scripts:
 *
 *   craft-agent -c agent.conf                      run the agent
 *   craft-agent [-c agent.conf] --notify-logged TXN[,TXN...]
 *       the logger's LOGGED message (up to 64 hex transaction IDs)
 *   craft-agent [-c agent.conf] --query IP:PORT | --query-session KEY
 *       recovery's QUERY; prints one line of the REPLY
 *   craft-agent [-c agent.conf] --apply-up-to IP:PORT:ORDINAL [--discard-after]
 *       recovery's APPLY_UP_TO; waits for the REPLY and prints it
 * Client options: --to ADDR:PORT (default agent.bind), --key FILE (default
 * agent.key_file), --id N (our sender id, default 9999), --timeout D
 * (default 3s). Exit: 0 done (client: a reply with status ok), 1 runtime
 * error / timeout / other status, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "log.h"
#include "recovery_plan_agent.h"
#include "service.h"
#include "txn_parser.h"

enum {
	OPT_NOTIFY = 256,
	OPT_QUERY,
	OPT_QUERY_SESSION,
	OPT_APPLY,
	OPT_DISCARD,
	OPT_TO,
	OPT_KEY,
	OPT_ID,
	OPT_TIMEOUT,
};

struct main_ctx {
	struct agent_config cfg;
	struct state_store_config store_cfg;
	struct agent agent;
	/* client mode */
	int mode;
	const char *arg, *to_arg, *key_arg;
	uint32_t id;
	uint64_t timeout_ms;
	bool discard;
};

static const struct option options[] = {
    {"notify-logged", required_argument, NULL, OPT_NOTIFY},
    {"query", required_argument, NULL, OPT_QUERY},
    {"query-session", required_argument, NULL, OPT_QUERY_SESSION},
    {"apply-up-to", required_argument, NULL, OPT_APPLY},
    {"discard-after", no_argument, NULL, OPT_DISCARD},
    {"to", required_argument, NULL, OPT_TO},
    {"key", required_argument, NULL, OPT_KEY},
    {"id", required_argument, NULL, OPT_ID},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {NULL, 0, NULL, 0},
};

static int on_option(void *arg, int val, const char *optarg_)
{
	struct main_ctx *m = arg;
	char err[128];
	switch (val) {
	case OPT_NOTIFY:
	case OPT_QUERY:
	case OPT_QUERY_SESSION:
	case OPT_APPLY:
		if (m->mode) {
			fprintf(stderr, "craft-agent: one client mode at a time\n");
			return -1;
		}
		m->mode = val;
		m->arg = optarg_;
		return 0;
	case OPT_DISCARD:
		m->discard = true;
		return 0;
	case OPT_TO:
		m->to_arg = optarg_;
		return 0;
	case OPT_KEY:
		m->key_arg = optarg_;
		return 0;
	case OPT_ID:
		if (config_parse_u32(optarg_, 1, UINT32_MAX, &m->id, err, sizeof(err)) < 0)
			break;
		return 0;
	case OPT_TIMEOUT:
		if (config_parse_duration_ms(optarg_, 1, 600000, &m->timeout_ms, err, sizeof(err)) <
		    0)
			break;
		return 0;
	default:
		snprintf(err, sizeof(err), "unknown option");
	}
	fprintf(stderr, "craft-agent: %s\n", err);
	return -1;
}

static const char usage_text[] =
    "\nClient modes (send one message to a running agent):\n"
    "      --notify-logged TXN[,TXN...]  LOGGED: these responses are fully logged\n"
    "      --query IP:PORT               T_S/T_A of a connection (as the backend saw it)\n"
    "      --query-session KEY           T_S/T_A of a session\n"
    "      --apply-up-to IP:PORT:ORD     apply the connection's state up to ORD (T_R - 1)\n"
    "      --discard-after               ... and drop its later records\n"
    "      --to ADDR:PORT  --key FILE  --id N  --timeout D\n";

/* ---- client modes ---- */

static void print_reply(const struct state_reply *r)
{
	static const char *const st[] = {"ok", "unknown", "busy", "no_app"};
	printf("status=%s t_s=%016" PRIx64 " t_s_ord=%u t_a=%016" PRIx64
	       " t_a_ord=%u pending=%u sessions=%u aids=%u forced=%u\n",
	       r->status <= STATE_REPLY_NO_APP ? st[r->status] : "?", r->t_s,
	       txn_id_ordinal(r->t_s), r->t_a, txn_id_ordinal(r->t_a), r->pending, r->sessions,
	       r->aids, (r->flags & STATE_REPLY_F_FORCED) != 0);
}

static int parse_conn(const char *s, uint32_t *ip, uint16_t *port, uint32_t *ord, bool want_ord)
{
	char buf[64], err[128];
	snprintf(buf, sizeof(buf), "%s", s);
	char *last = strrchr(buf, ':');
	if (want_ord) {
		if (!last || config_parse_u32(last + 1, 0, 65535, ord, err, sizeof(err)) < 0)
			return -1;
		*last = '\0';
	}
	struct sockaddr_in a;
	if (config_parse_ipv4_port(buf, &a, err, sizeof(err)) < 0)
		return -1;
	*ip = ntohl(a.sin_addr.s_addr);
	*port = ntohs(a.sin_port);
	return 0;
}

static int build_client_msg(struct main_ctx *m, struct state_msg *msg, uint64_t qid)
{
	memset(msg, 0, sizeof(*msg));
	if (m->mode == OPT_NOTIFY) {
		msg->type = STATE_T_LOGGED;
		const char *p = m->arg;
		while (*p && msg->u.logged.n < STATE_LOGGED_MAX) {
			size_t n = strcspn(p, ",");
			if (txn_id_parse(p, n, &msg->u.logged.txn[msg->u.logged.n]) < 0)
				return -1;
			msg->u.logged.n++;
			p += n + (p[n] == ',');
		}
		return msg->u.logged.n && !*p ? 0 : -1;
	}
	if (m->mode == OPT_QUERY || m->mode == OPT_QUERY_SESSION) {
		msg->type = STATE_T_QUERY;
		msg->u.query.query_id = qid;
		if (m->mode == OPT_QUERY_SESSION) {
			size_t n = strlen(m->arg);
			if (!n || n > STATE_KEY_MAX)
				return -1;
			msg->u.query.selector = STATE_SEL_SESSION;
			msg->u.query.key_len = (uint8_t)n;
			msg->u.query.key = (const uint8_t *)m->arg;
			return 0;
		}
		msg->u.query.selector = STATE_SEL_CONN;
		return parse_conn(m->arg, &msg->u.query.ipv4, &msg->u.query.port, NULL, false);
	}
	msg->type = STATE_T_APPLY_UP_TO;
	msg->u.apply_up_to.query_id = qid;
	msg->u.apply_up_to.flags = m->discard ? STATE_APPLY_DISCARD_AFTER : 0;
	return parse_conn(m->arg, &msg->u.apply_up_to.ipv4, &msg->u.apply_up_to.port,
			  &msg->u.apply_up_to.up_to, true);
}

static int run_client(struct main_ctx *m)
{
	char err[256];
	struct sockaddr_in to = m->cfg.bind;
	if (m->to_arg && config_parse_ipv4_port(m->to_arg, &to, err, sizeof(err)) < 0) {
		fprintf(stderr, "craft-agent: --to: %s\n", err);
		return SERVICE_EXIT_USAGE;
	}
	if (to.sin_family != AF_INET) {
		fprintf(stderr, "craft-agent: no agent address (--to or agent.bind)\n");
		return SERVICE_EXIT_USAGE;
	}
	struct auth_key key;
	if (auth_key_load_file(m->key_arg ? m->key_arg : m->cfg.key_file, &key, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "craft-agent: %s\n", err);
		return SERVICE_EXIT_USAGE;
	}
	uint64_t qid = 0;
	if (getrandom(&qid, sizeof(qid), 0) != sizeof(qid))
		qid = realtime_us();
	struct state_msg msg;
	if (build_client_msg(m, &msg, qid) < 0) {
		fprintf(stderr, "craft-agent: bad argument '%s'\n", m->arg);
		return SERVICE_EXIT_USAGE;
	}
	int rc = SERVICE_EXIT_FAILURE;
	if (msg.type != STATE_T_LOGGED) {
		struct state_reply r;
		int q =
		    recovery_agent_ask(&to, &key, m->id, &msg, m->timeout_ms, &r, err, sizeof(err));
		if (q < 0)
			fprintf(stderr, "craft-agent: %s\n", err);
		else {
			print_reply(&r);
			rc = r.status == STATE_REPLY_OK ? SERVICE_EXIT_OK : SERVICE_EXIT_FAILURE;
		}
		auth_key_wipe(&key);
		return rc;
	}
	/* LOGGED is fire and forget: no reply to wait for. */
	struct auth_sender sender;
	auth_sender_init(&sender, m->id, 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int s = fd < 0 ? -errno : state_msg_send(fd, &to, &sender, &key, &msg);
	if (s < 0)
		fprintf(stderr, "craft-agent: send: %s\n", strerror(-s));
	else
		rc = SERVICE_EXIT_OK;
	if (fd >= 0)
		close(fd);
	auth_key_wipe(&key);
	return rc;
}

int main(int argc, char **argv)
{
	static struct main_ctx m; /* large; not on the stack */
	agent_config_default(&m.cfg);
	state_store_config_default(&m.store_cfg);
	m.id = 9999;
	m.timeout_ms = 3000;
	const struct config_table tables[] = {
	    {agent_config_keys, &m.cfg},
	    {state_store_config_keys, &m.store_cfg},
	};
	const struct service_info info = {
	    .name = "craft-agent",
	    .summary = "Backend support on the alternate backend: holds pushed session state, "
		       "applies it once logged, answers recovery (T_S, T_A).",
	    .usage = usage_text,
	    .tables = tables,
	    .ntables = 2,
	    .options = options,
	    .on_option = on_option,
	    .collect_stats = agent_collect_stats,
	};
	struct service svc;
	int rc = service_parse_args(&svc, &info, &m, argc, argv);
	if (rc)
		return rc > 0 ? SERVICE_EXIT_OK : SERVICE_EXIT_USAGE;
	if (m.mode)
		return run_client(&m);
	svc.ctx = &m.agent;
	if ((rc = service_start(&svc)) != 0) {
		service_stop(&svc);
		return rc;
	}
	char err[256] = "";
	if (agent_open(&m.agent, &m.cfg, &m.store_cfg, &svc.loop, err, sizeof(err)) < 0) {
		log_err("%s", err);
		agent_close(&m.agent);
		service_stop(&svc);
		agent_free(&m.agent);
		return SERVICE_EXIT_FAILURE;
	}
	log_notice("started: udp %s:%u, application socket %s", inet_ntoa(m.cfg.bind.sin_addr),
		   ntohs(m.cfg.bind.sin_port), m.cfg.app_socket[0] ? m.cfg.app_socket : "(none)");
	rc = service_run(&svc);
	agent_close(&m.agent);
	service_stop(&svc);
	agent_free(&m.agent);
	return rc;
}
