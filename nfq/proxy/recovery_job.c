/* recovery_job - one client connection moved from a failed backend to its
 * alternate (steps 1-5 of recovery.h): the suspension and the tickle, the
 * alternate connection (replay, swallow and compare), the freeze and the
 * re-splice, the bytes sent to the client, and the end (recorded; RST to
 * the client on every failure, so that no client hangs on a dead splice). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "proxy_splice.h"
#include "recovery_agent.h"
#include "recovery_aux.h"
#include "recovery_fetch.h"
#include "seq.h"
#include "tcp_options.h"
#include "tcp_repair.h"
#include "tcp_segment.h"

#define MAX_TICKLES 30

static uint32_t cseq_server(const struct recovery_job *j, uint64_t off)
{
	return recovery_client_seq_of_server_off(&j->old, j->server_isn, off);
}

static uint32_t cseq_client(const struct recovery_job *j, uint64_t off)
{
	return recovery_client_seq_of_client_off(&j->old, j->client_isn, off);
}

static bool client_timestamps(const struct recovery_job *j)
{
	return j->old.dir[SPLICE_C2B].translate_ts;
}

/* A segment from the VIP to the client, as the proxy's side of the
 * client connection. */
static void send_to_client(struct recovery_job *j, uint32_t seq, uint8_t flags)
{
	struct proxy *px = j->r->px;
	struct tcp_segment_spec s = {
	    .saddr = j->old.client_key.daddr,
	    .daddr = j->old.client_key.saddr,
	    .sport = j->old.client_key.dport,
	    .dport = j->old.client_key.sport,
	    .seq = seq,
	    .ack = cseq_client(j, j->last_client_byte),
	    .flags = flags,
	};
	uint8_t pkt[128];
	ssize_t n = tcp_segment_build(pkt, sizeof(pkt), &s);
	if (n > 0)
		raw_sender_send(px->raw_fd, pkt, (size_t)n);
}

/* An ACK with a sequence number long before the client's window: the
 * client answers with a duplicate ACK (RFC 793 §3.9), which shows its
 * acknowledged point, its window and, without a timestamp on ours (no
 * PAWS check), its TSval and the last TSval it accepted from us. */
static void tickle(struct recovery_job *j, uint64_t now_ms)
{
	if (!j->have_marks || j->client_seen || j->tickles >= MAX_TICKLES)
		return;
	j->tickles++;
	j->tickle_ms = now_ms;
	j->r->c.tickles++;
	send_to_client(j, cseq_server(j, j->ack_cl) - (1u << 24), TCP_FL_ACK);
}

static void close_splice(struct recovery_job *j, uint64_t id, uint64_t now_ms)
{
	struct proxy *px = j->r->px;
	struct splice_entry *e = id ? splice_table_find(px->splices, id) : NULL;
	if (e && splice_table_close(px->splices, e, SPLICE_CLOSE_ADMIN, now_ms))
		proxy_splice_closed_here(px, e);
}

void rj_finish(struct recovery_job *j, const char *outcome, uint64_t now_ms)
{
	struct recovery *r = j->r;
	struct proxy *px = r->px;
	bool ok = strcmp(outcome, "recovered") == 0;
	j->end_us = realtime_us();
	recovery_aux_notify(&r->ch, &r->cfg.aux_logger, j->alt.sin_addr.s_addr, j->splice_id, false,
			    0);
	if (!ok) {
		/* The client must not wait on a splice that leads nowhere. RST at
		 * its acknowledged point: the one sequence it accepts at once. */
		if (j->client_seen)
			send_to_client(j, j->cl_ack, TCP_FL_RST | TCP_FL_ACK);
		else if (j->have_marks)
			send_to_client(j, cseq_server(j, j->ack_cl), TCP_FL_RST | TCP_FL_ACK);
		close_splice(j, j->splice_id, now_ms);
		close_splice(j, j->new_splice_id, now_ms);
		r->c.reset++;
	} else {
		r->c.recovered++;
	}
	if (j->fd >= 0) {
		event_loop_del_fd(&px->daemon->loop, j->fd);
		close(j->fd);
	}
	if (j->ivip_port)
		proxy_release_port(px, j->ivip_port);
	recovery_record(r, j, outcome);
	if (j->inj_used)
		splice_inject_free(&j->inj);
	free(j->txns);
	free(j->txn_ids);
	free(j->items);
	free(j->replay);
	free(j->compare);
	free(j->resend);
	uint16_t slot = j->slot, epoch = j->epoch;
	memset(j, 0, sizeof(*j));
	j->r = r;
	j->slot = slot;
	j->epoch = epoch;
	j->fd = -1;
	j->state = RJ_FREE;
	r->active--;
}

static void fail(struct recovery_job *j, const char *outcome, uint64_t now_ms)
{
	rj_finish(j, outcome, now_ms);
}

int rj_start(struct recovery *r, struct recovery_job *j, struct splice_entry *e,
	     const struct sockaddr_in *failed, const struct recovery_alternate *alt,
	     uint64_t detected_us, uint64_t now_ms)
{
	uint16_t epoch = (uint16_t)(j->epoch + 1);
	memset(j, 0, sizeof(*j));
	j->r = r;
	j->slot = (uint16_t)(j - r->jobs);
	j->epoch = epoch;
	j->fd = -1;
	j->txns = calloc(r->cfg.max_txns, sizeof(*j->txns));
	j->txn_ids = calloc(r->cfg.max_txns, sizeof(*j->txn_ids));
	if (!j->txns || !j->txn_ids) {
		free(j->txns);
		free(j->txn_ids);
		return -ENOMEM;
	}
	j->state = RJ_QUERY;
	j->splice_id = e->rec.id;
	j->old = e->rec;
	j->failed = *failed;
	if (alt) {
		j->alt = alt->alternate;
		j->agent = alt->agent;
	}
	j->detected_us = detected_us ? detected_us : realtime_us();
	j->start_us = realtime_us();
	j->deadline_ms = now_ms + r->cfg.job_timeout_ms;
	recovery_aux_notify(&r->ch, &r->cfg.aux_logger, j->alt.sin_addr.s_addr, j->splice_id, true,
			    r->cfg.job_timeout_ms + 1000);
	rj_send_conn_query(j, now_ms);
	return 0;
}

static void on_alternate_io(struct event_loop *loop, int fd, uint32_t events, void *arg);

static void start_connect(struct recovery_job *j, uint64_t now_ms)
{
	struct proxy *px = j->r->px;
	if (!j->alt.sin_family) {
		j->r->c.no_alternate++;
		fail(j, "no-alternate", now_ms);
		return;
	}
	int fd = proxy_backend_socket(px, &j->alt, 0, &j->ivip_port);
	if (fd < 0 || event_loop_add_fd(&px->daemon->loop, fd, EPOLLOUT, on_alternate_io, j) < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(j->detail, sizeof(j->detail), "connect: %s", strerror(fd < 0 ? -fd : EIO));
		j->r->c.connect_failed++;
		fail(j, "failed", now_ms);
		return;
	}
	j->fd = fd;
	j->state = RJ_CONNECT;
	if (j->agent.sin_family && rj_add_txn_headers(j) < 0) {
		j->r->c.log_incomplete++;
		fail(j, "failed", now_ms);
	}
}

static void fetch_step(struct recovery_job *j, uint64_t now_ms)
{
	int rc = rj_fetch_pump(j, now_ms);
	if (rc < 0) {
		j->r->c.log_incomplete++;
		fail(j, "failed", now_ms);
	} else if (rc == 1) {
		if (rj_fetch_complete(j) < 0) {
			j->r->c.log_incomplete++;
			fail(j, "failed", now_ms);
			return;
		}
		start_connect(j, now_ms);
	}
}

static void begin_fetch(struct recovery_job *j, uint64_t now_ms)
{
	tickle(j, now_ms);
	j->state = RJ_FETCH;
	fetch_step(j, now_ms);
}

/* QUERY before the plan (T_S, T_A), APPLY_UP_TO after it (T_R - 1). */
static void agent_send(struct recovery_job *j, uint64_t now_ms)
{
	struct state_msg m = {0};
	uint64_t qid = ((uint64_t)j->slot << 48) | ((uint64_t)j->epoch << 32) | 0xfffffffeu;
	uint32_t ip = j->old.backend_key.daddr; /* as the failed backend saw it */
	uint16_t port = j->old.backend_key.dport;
	if (!j->agent_applying) {
		m.type = STATE_T_QUERY;
		m.u.query = (struct state_query){
		    .query_id = qid, .selector = STATE_SEL_CONN, .ipv4 = ip, .port = port};
	} else {
		m.type = STATE_T_APPLY_UP_TO;
		m.u.apply_up_to = (struct state_apply_up_to){
		    .query_id = qid,
		    .ipv4 = ip,
		    .port = port,
		    .up_to = (uint32_t)(j->plan.t_r - 1u),
		    .flags = j->plan.t_l < j->t_a ? STATE_APPLY_DISCARD_AFTER : 0,
		};
	}
	j->agent_sent_ms = now_ms;
	j->agent_tries++;
	recovery_agent_send(j->r, &j->agent, &m);
}

void rj_on_agent_reply(struct recovery_job *j, const struct state_reply *rp, uint64_t now_ms)
{
	if (j->state != RJ_AGENT)
		return;
	if (rp->flags & STATE_REPLY_F_FORCED) {
		/* Another connection's unlogged state was applied: a replay
		 * would act on a session the client never saw. */
		j->r->c.agent_forced++;
		snprintf(j->detail, sizeof(j->detail), "agent applied state by force");
		fail(j, "failed", now_ms);
		return;
	}
	if (!j->agent_applying) {
		/* No state for the connection: T_S = T_A = 0, all updates replay. */
		if (rp->status == STATE_REPLY_OK) {
			j->t_s = (uint16_t)rp->t_s;
			j->t_a = (uint16_t)rp->t_a;
		}
		if (rj_make_plan(j) < 0) {
			j->r->c.log_incomplete++;
			fail(j, "failed", now_ms);
			return;
		}
		j->agent_applying = true;
		j->agent_tries = 0;
		agent_send(j, now_ms);
		return;
	}
	if (rp->status != STATE_REPLY_OK && rp->status != STATE_REPLY_UNKNOWN) {
		snprintf(j->detail, sizeof(j->detail), "agent: APPLY_UP_TO status %u", rp->status);
		fail(j, "failed", now_ms);
		return;
	}
	begin_fetch(j, now_ms);
}

void rj_on_ctl(struct recovery_job *j, const struct ctl_msg *m, uint64_t now_ms)
{
	enum rj_state before = j->state;
	int rc = rj_fetch_on_ctl(j, m, now_ms);
	if (rc < 0) {
		j->r->c.log_incomplete++;
		fail(j, "failed", now_ms);
		return;
	}
	if (before == RJ_QUERY && rc == 1) {
		if (j->agent.sin_family) {
			j->state = RJ_AGENT;
			agent_send(j, now_ms);
			return;
		}
		if (rj_make_plan(j) < 0) {
			j->r->c.log_incomplete++;
			fail(j, "failed", now_ms);
			return;
		}
		begin_fetch(j, now_ms);
		return;
	}
	if (j->state == RJ_FETCH)
		fetch_step(j, now_ms);
}

static uint32_t outq(int fd)
{
	int n = 0;
	return ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0 ? (uint32_t)n : 0;
}

/* The alternate's index in the proxy's routing table (the record's
 * informational backend number); the failed one's if not routed. */
static uint16_t backend_index(const struct recovery_job *j)
{
	const struct l7_router *rt = &j->r->px->cfg.router;
	for (unsigned i = 0; i < rt->nbackends; i++)
		if (rt->backends[i].addr.sin_addr.s_addr == j->alt.sin_addr.s_addr &&
		    rt->backends[i].addr.sin_port == j->alt.sin_port)
			return (uint16_t)i;
	return j->old.backend;
}

/* Builds the new splice from the frozen alternate socket and the client's
 * state, installs it, and sends the client what it lacks. */
static int resplice(struct recovery_job *j, uint64_t now_ms)
{
	struct proxy *px = j->r->px;
	struct tcp_repair_state bs;
	int rc = tcp_repair_on(j->fd);
	if (rc < 0 || (rc = tcp_repair_dump(j->fd, &bs)) < 0) {
		snprintf(j->detail, sizeof(j->detail), "freeze: %s", strerror(-rc));
		return rc;
	}
	/* Bytes the alternate sent past the swallowed ones are acknowledged
	 * already: the client gets them from us, after the logged ones. */
	size_t extra = bs.inq;
	if (j->resend_len + extra > j->r->cfg.max_resend_bytes) {
		snprintf(j->detail, sizeof(j->detail), "%zu bytes past p already received", extra);
		return -EFBIG;
	}
	uint8_t *out = malloc(j->resend_len + extra + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, j->resend, j->resend_len);
	if (extra && tcp_repair_peek_recv(j->fd, out + j->resend_len, extra) != (ssize_t)extra) {
		free(out);
		snprintf(j->detail, sizeof(j->detail), "cannot read the alternate's queue");
		return -EIO;
	}
	uint32_t alt_addr = ntohl(j->alt.sin_addr.s_addr), ivip = ntohl(px->cfg.ivip.s_addr);
	uint16_t alt_port = ntohs(j->alt.sin_port);
	struct recovery_backend_view bv = {.bs = &bs,
					   .ivip_addr = ivip,
					   .ivip_port = j->ivip_port,
					   .backend_addr = alt_addr,
					   .backend_port = alt_port};
	bool ts = client_timestamps(j) && bs.timestamps;
	if (ts && !tsval_cache_get(&px->tsvals, alt_addr, alt_port, ivip, j->ivip_port,
				   &bv.backend_tsval_last)) {
		free(out);
		snprintf(j->detail, sizeof(j->detail), "no TSval seen from the alternate");
		return -ENOENT;
	}
	uint64_t logged_end = j->plan.ack_tl + j->plan.p;
	struct recovery_client_view cv = {
	    .c_rcv_nxt = cseq_client(j, j->last_client_byte),
	    .c_snd_nxt = cseq_server(j, logged_end) + (uint32_t)extra,
	    /* Our clock as the client knows it, moved on by the time since
	     * it echoed it: never behind, so PAWS keeps accepting. */
	    .c_ts_now = j->cl_tsecr + (uint32_t)(now_ms - j->cl_seen_ms) + 1u,
	    .client_tsval_last = j->cl_tsval,
	};
	struct splice_endpoints ep;
	recovery_resplice_endpoints(&ep, &j->old, &cv, &bv);
	struct splice_record rec;
	splice_record_from_endpoints(&rec, splice_table_new_id(px->splices), backend_index(j), &ep);
	struct splice_entry *e = NULL;
	rc = proxy_splice_install(px, &rec, &e);
	if (rc < 0) {
		free(out);
		snprintf(j->detail, sizeof(j->detail), "install: %s", strerror(-rc));
		return rc;
	}
	j->new_splice_id = rec.id;
	tcp_repair_close_silently(j->fd);
	j->fd = -1;
	j->ivip_port = 0; /* the splice holds it now */
	size_t len = j->resend_len + extra;
	if (len) {
		uint32_t field = bs.rcv_wnd >> rec.dir[SPLICE_B2C].wscale_to;
		struct tcp_segment_spec tmpl = {
		    .saddr = ep.vip_addr,
		    .daddr = ep.client_addr,
		    .sport = ep.vip_port,
		    .dport = ep.client_port,
		    .ack = cv.c_rcv_nxt,
		    .window = (uint16_t)(field > 65535 ? 65535 : field),
		    .timestamp = ts,
		    .tsval = cv.c_ts_now,
		    .tsecr = cv.client_tsval_last,
		};
		uint32_t start = j->plan.resend ? cseq_server(j, j->plan.resend_from)
						: cseq_server(j, logged_end);
		uint32_t wnd = j->client_seen
				   ? (uint32_t)j->cl_window << j->old.dir[SPLICE_C2B].wscale_from
				   : 65535u;
		rc = splice_inject_init(&j->inj, &tmpl, start, out, len, bs.mss ? bs.mss : 536,
					wnd ? wnd : 65535u, (unsigned)px->cfg.inject_rto_ms,
					px->cfg.inject_retries);
		if (rc == 0) {
			j->inj_used = true;
			j->r->c.bytes_resent += len;
			splice_inject_pump(&j->inj, px->raw_fd, now_ms);
		}
	}
	free(out);
	j->resend_len += extra;
	return rc;
}

static void try_freeze(struct recovery_job *j, uint64_t now_ms)
{
	j->state = RJ_FREEZE;
	if (outq(j->fd) != 0 || (client_timestamps(j) && !j->client_seen))
		return; /* the tick and the client's answer try again */
	if (resplice(j, now_ms) < 0) {
		j->r->c.freeze_failed++;
		fail(j, "failed", now_ms);
		return;
	}
	if (j->inj_used && !splice_inject_done(&j->inj)) {
		j->state = RJ_INJECT;
		return;
	}
	rj_finish(j, "recovered", now_ms);
}

static int replay_write(struct recovery_job *j)
{
	while (j->written < j->replay_len) {
		ssize_t n = write(j->fd, j->replay + j->written, j->replay_len - j->written);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		j->written += (uint64_t)n;
		j->r->c.bytes_replayed += (uint64_t)n;
	}
	return 1;
}

/* Reads no further than the swallowed part: what follows belongs to the
 * client and stays in the socket for the freeze. */
static int swallow(struct recovery_job *j)
{
	uint8_t buf[16384];
	while (j->swallowed < j->swallow_total) {
		uint64_t want = j->swallow_total - j->swallowed;
		ssize_t n = read(j->fd, buf, want < sizeof(buf) ? (size_t)want : sizeof(buf));
		if (n == 0) {
			snprintf(j->detail, sizeof(j->detail), "alternate closed after %llu bytes",
				 (unsigned long long)j->swallowed);
			return -EPIPE;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		/* Responses of replayed updates first (thrown away), then the
		 * p bytes of T_L + 1 (compared). */
		size_t skip = 0;
		if (j->swallowed < j->swallow_discard) {
			uint64_t d = j->swallow_discard - j->swallowed;
			skip = d < (uint64_t)n ? (size_t)d : (size_t)n;
		}
		if ((size_t)n > skip &&
		    !rj_check_swallowed(j, buf + skip, (size_t)n - skip,
					j->swallowed + skip - j->swallow_discard)) {
			j->r->c.nondeterministic++;
			return -EBADMSG;
		}
		j->swallowed += (uint64_t)n;
		j->r->c.bytes_swallowed += (uint64_t)n;
	}
	return 1;
}

static void on_alternate_io(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct recovery_job *j = arg;
	uint64_t now = monotonic_ms();
	if (j->state == RJ_CONNECT) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			snprintf(j->detail, sizeof(j->detail), "connect: %s", strerror(soerr));
			j->r->c.connect_failed++;
			fail(j, "failed", now);
			return;
		}
		j->state = RJ_REPLAY;
		event_loop_del_fd(loop, fd);
		if (event_loop_add_fd(loop, fd, EPOLLIN | EPOLLOUT, on_alternate_io, j) < 0) {
			fail(j, "failed", now);
			return;
		}
	}
	if (j->state != RJ_REPLAY)
		return;
	int w = replay_write(j);
	int s = w < 0 ? 0 : swallow(j);
	if (w < 0 || s < 0) {
		if (w < 0)
			snprintf(j->detail, sizeof(j->detail), "replay: %s", strerror(-w));
		fail(j, s == -EBADMSG ? "nondeterministic" : "failed", now);
		return;
	}
	if (w == 1 && s == 1) {
		event_loop_del_fd(loop, fd);
		try_freeze(j, now);
	} else if (w == 1 && (events & EPOLLOUT)) {
		event_loop_del_fd(loop, fd); /* all written: only reading is left */
		if (event_loop_add_fd(loop, fd, EPOLLIN, on_alternate_io, j) < 0)
			fail(j, "failed", now);
	}
}

bool rj_on_segment(struct recovery_job *j, enum splice_way way, const struct tcp4_packet *p,
		   uint64_t now_ms)
{
	struct tcp_options o;
	bool have_opts = tcp_options_parse(p, &o) == 0;
	if (j->state == RJ_INJECT) {
		if (way == SPLICE_C2B && (tcp4_flags(p) & TCP_FL_ACK)) {
			uint8_t ws = j->old.dir[SPLICE_C2B].wscale_from;
			splice_inject_ack(&j->inj, tcp4_ack(p), (uint32_t)tcp4_window(p) << ws);
			if (have_opts && o.sack_count)
				splice_inject_sack(&j->inj, o.sack, o.sack_count);
			if (splice_inject_done(&j->inj))
				rj_finish(j, "recovered", now_ms);
			else
				splice_inject_pump(&j->inj, j->r->px->raw_fd, now_ms);
		}
		return false;
	}
	/* Suspended: nothing reaches the failed backend or the client. */
	j->r->c.segs_dropped++;
	if (way == SPLICE_C2B && (tcp4_flags(p) & TCP_FL_ACK) && !(tcp4_flags(p) & TCP_FL_RST)) {
		if (!j->client_seen)
			j->r->c.client_seen++;
		j->client_seen = true;
		j->cl_ack = tcp4_ack(p);
		j->cl_window = tcp4_window(p);
		j->cl_seen_ms = now_ms;
		if (have_opts && o.has_timestamp) {
			j->cl_tsval = o.tsval;
			j->cl_tsecr = o.tsecr;
		}
		if (j->state == RJ_FREEZE)
			try_freeze(j, now_ms);
	}
	return true;
}

void rj_tick(struct recovery_job *j, uint64_t now_ms)
{
	struct recovery *r = j->r;
	if (j->state == RJ_INJECT) {
		splice_inject_pump(&j->inj, r->px->raw_fd, now_ms);
		if (splice_inject_failed(&j->inj)) {
			snprintf(j->detail, sizeof(j->detail),
				 "client never acknowledged the resent bytes");
			fail(j, "failed", now_ms);
		}
		return;
	}
	if ((int64_t)(now_ms - j->deadline_ms) >= 0) {
		if (!j->detail[0])
			snprintf(j->detail, sizeof(j->detail), "timeout in state %d", j->state);
		r->c.timeouts++;
		fail(j, "timeout", now_ms);
		return;
	}
	if (j->have_marks && !j->client_seen && now_ms - j->tickle_ms >= r->cfg.tickle_interval_ms)
		tickle(j, now_ms);
	switch (j->state) {
	case RJ_QUERY:
		if (now_ms - j->query_sent_ms >= r->cfg.query_timeout_ms) {
			if (++j->query_tries > r->cfg.query_retries) {
				snprintf(j->detail, sizeof(j->detail),
					 "logger did not answer CONN_QUERY");
				r->c.log_incomplete++;
				fail(j, "failed", now_ms);
				return;
			}
			r->c.queries_resent++;
			rj_send_conn_query(j, now_ms);
		}
		break;
	case RJ_FETCH:
		fetch_step(j, now_ms); /* resends overdue chunks */
		break;
	case RJ_AGENT:
		/* APPLY_UP_TO waits for the application: asked again less often. */
		if (now_ms - j->agent_sent_ms >=
		    r->cfg.query_timeout_ms * (j->agent_applying ? 5u : 1u)) {
			if (j->agent_tries > r->cfg.query_retries) {
				snprintf(j->detail, sizeof(j->detail), "agent did not answer");
				fail(j, "failed", now_ms);
				return;
			}
			agent_send(j, now_ms);
		}
		break;
	case RJ_FREEZE:
		try_freeze(j, now_ms);
		break;
	default:
		break;
	}
}
