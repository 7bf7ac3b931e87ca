/* recovery_fetch - one job's conversation with the logger: the CONN_QUERY
 * pages (transactions and marks), the plan, and the BYTES_QUERY chunks it
 * needs. Why a window of chunks in flight rather than one at a time: a
 * chunk is at most CTL_BYTES_MAX bytes, so a response of a few hundred
 * kilobytes to compare would otherwise cost hundreds of round trips of the
 * recovery time the client is waiting through. Lost datagrams are asked
 * again after query_timeout, query_retries times. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxy.h"
#include "recovery_fetch.h"
#include "txn_header_auth.h"
#include "session_sync.h"

static uint64_t query_id(const struct recovery_job *j, uint32_t item)
{
	return ((uint64_t)j->slot << 48) | ((uint64_t)j->epoch << 32) | item;
}

#define CONN_QUERY_ITEM 0xffffffffu

void rj_send_conn_query(struct recovery_job *j, uint64_t now_ms)
{
	struct ctl_msg m = {.type = CTL_CONN_QUERY};
	struct ctl_conn_query *q = &m.u.query;
	q->query_id = query_id(j, CONN_QUERY_ITEM);
	/* The logger knows the backend-side connection: IVIP:port is its
	 * client. */
	q->client_ip = htonl(j->old.backend_key.daddr);
	q->client_port = j->old.backend_key.dport;
	q->server_ip = htonl(j->old.backend_key.saddr);
	q->server_port = j->old.backend_key.sport;
	q->first_ordinal = j->ntxns ? j->txns[j->ntxns - 1].ordinal + 1u : 0;
	q->max_txns = CTL_REPLY_MAX_TXNS;
	q->flags = CTL_QUERY_MARKS | CTL_QUERY_TXNS;
	j->query_sent_ms = now_ms;
	recovery_send(j->r, &m);
}

static int add_txns(struct recovery_job *j, const struct ctl_conn_reply *rp)
{
	for (unsigned i = 0; i < rp->ntxn; i++) {
		const struct ctl_txn_entry *t = &rp->txn[i];
		uint32_t want = j->ntxns ? j->txns[j->ntxns - 1].ordinal + 1u : 1u;
		if (j->ntxns && t->ordinal < want)
			continue; /* a repeated page */
		if (j->ntxns == j->r->cfg.max_txns)
			return -ENOSPC;
		j->txn_ids[j->ntxns] = t->txn_id;
		/* A response not begun has no offsets yet: it will start where
		 * the previous one ended (HTTP answers in order). */
		uint64_t at = j->ntxns ? j->txns[j->ntxns - 1].resp_end : 0;
		bool begun = (t->state & (CTL_TXN_RESP_BEGUN | CTL_TXN_RESP_DONE)) != 0;
		bool req_done = (t->state & CTL_TXN_REQ_DONE) != 0;
		/* A request still arriving (an upload cut by the failure) has no
		 * end yet: it reaches as far as the client bytes the logger saw,
		 * and the client sends the rest to the alternate. */
		uint64_t req_end = t->req_end;
		if (!req_done && req_end < t->req_start)
			req_end =
			    j->last_client_byte > t->req_start ? j->last_client_byte : t->req_start;
		j->txns[j->ntxns++] = (struct recovery_txn){
		    .ordinal = (uint16_t)t->ordinal,
		    .read_only = (t->tags & 2u) != 0,
		    .deterministic = (t->tags & 1u) != 0,
		    .request_complete = req_done,
		    .response_complete = (t->state & CTL_TXN_RESP_DONE) != 0,
		    .req_start = t->req_start,
		    .req_end = req_end,
		    .resp_start = begun ? t->resp_start : at,
		    .resp_end = begun ? t->resp_end : at,
		};
	}
	return 0;
}

/* Splits [off, off + len) of one stream into chunks landing at dst. */
static int add_range(struct recovery_job *j, uint8_t kind, uint8_t stream, uint64_t off,
		     uint64_t len, uint8_t *dst, unsigned cap)
{
	while (len > 0) {
		if (j->nitems == cap)
			return -ENOSPC;
		uint32_t n = len > CTL_BYTES_MAX ? CTL_BYTES_MAX : (uint32_t)len;
		j->items[j->nitems++] = (struct rj_item){
		    .kind = kind, .stream = stream, .off = off, .len = n, .dst = dst};
		off += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static const struct recovery_txn *txn_of(const struct recovery_job *j, uint16_t ordinal)
{
	for (unsigned i = 0; i < j->ntxns; i++)
		if (j->txns[i].ordinal == ordinal)
			return &j->txns[i];
	return NULL;
}

static void note_request(struct recovery_job *j, uint64_t at, const struct recovery_txn *t)
{
	if (j->nhdr < RECOVERY_MAX_REPLAY + 1) {
		j->hdr_at[j->nhdr] = at;
		j->hdr_txn[j->nhdr++] = j->txn_ids[t - j->txns];
	}
}

/* Where the client stream is replayed from after the replayed updates:
 * T_L + 1's request and everything the client sent after it. */
static uint64_t tail_start(const struct recovery_job *j)
{
	const struct recovery_txn *next = txn_of(j, (uint16_t)(j->plan.t_l + 1));
	if (next)
		return next->req_start;
	return j->ntxns ? j->txns[j->ntxns - 1].req_end : 0;
}

/* The byte ranges the plan needs, as chunks. */
static int plan_items(struct recovery_job *j)
{
	const struct recovery_config *cfg = &j->r->cfg;
	const struct recovery_plan *pl = &j->plan;
	uint64_t replay = 0, tail = tail_start(j);
	for (unsigned i = 0; i < pl->nreplay; i++) {
		const struct recovery_txn *t = txn_of(j, pl->replay[i]);
		if (t && t->ordinal <= pl->t_l)
			replay += t->req_end - t->req_start;
	}
	if (j->last_client_byte > tail)
		replay += j->last_client_byte - tail;
	uint64_t compare = pl->p < cfg->max_compare_bytes ? pl->p : cfg->max_compare_bytes;
	uint64_t resend = pl->resend ? pl->resend_to - pl->resend_from : 0;
	if (replay > cfg->max_replay_bytes || resend > cfg->max_resend_bytes)
		return -EFBIG;
	j->replay = malloc(replay ? replay : 1);
	j->compare = malloc(compare ? compare : 1);
	j->resend = malloc(resend ? resend : 1);
	unsigned cap = (unsigned)((replay + compare + resend) / CTL_BYTES_MAX + pl->nreplay + 4);
	j->items = calloc(cap, sizeof(*j->items));
	if (!j->replay || !j->compare || !j->resend || !j->items)
		return -ENOMEM;
	/* Compare chunks first: item k covers compare offset k * CTL_BYTES_MAX. */
	const struct recovery_txn *next = txn_of(j, (uint16_t)(pl->t_l + 1));
	int rc = 0;
	if (compare && next)
		rc = add_range(j, RJ_K_COMPARE, CTL_STREAM_SERVER, next->resp_start, compare,
			       j->compare, cap);
	j->compare_len = compare;
	j->tl1_deterministic = next && next->deterministic;
	uint64_t at = 0;
	for (unsigned i = 0; rc == 0 && i < pl->nreplay; i++) {
		const struct recovery_txn *t = txn_of(j, pl->replay[i]);
		if (!t || t->ordinal > pl->t_l)
			continue;
		note_request(j, at, t);
		rc = add_range(j, RJ_K_REPLAY, CTL_STREAM_CLIENT, t->req_start,
			       t->req_end - t->req_start, j->replay + at, cap);
		at += t->req_end - t->req_start;
		/* Its response is regenerated and thrown away: the client has
		 * it. Assumed as long as the logged one (documented limit). */
		j->swallow_discard += t->resp_end - t->resp_start;
		j->r->c.txns_replayed++;
	}
	if (next && next->req_start == tail)
		note_request(j, at, next);
	if (rc == 0 && j->last_client_byte > tail)
		rc = add_range(j, RJ_K_REPLAY, CTL_STREAM_CLIENT, tail, j->last_client_byte - tail,
			       j->replay + at, cap);
	j->replay_len = replay;
	if (rc == 0 && resend)
		rc = add_range(j, RJ_K_RESEND, CTL_STREAM_SERVER, pl->resend_from, resend,
			       j->resend, cap);
	j->resend_len = resend;
	j->swallow_total = j->swallow_discard + pl->p;
	return rc;
}

int rj_make_plan(struct recovery_job *j)
{
	struct recovery_input in = {
	    .txns = j->txns, .ntxns = j->ntxns, .ack_cl = j->ack_cl, .t_s = j->t_s, .t_a = j->t_a};
	int rc = recovery_plan_compute(&in, &j->plan);
	if (rc < 0) {
		snprintf(j->detail, sizeof(j->detail), "plan: %s (%u transactions from %u, T_A %u)",
			 recovery_outcome_name(rc), j->ntxns, j->ntxns ? j->txns[0].ordinal : 0,
			 j->t_a);
		for (unsigned i = 0; i < j->ntxns; i++)
			log_info("txn %u: req %llu-%llu resp %llu-%llu%s%s", j->txns[i].ordinal,
				 (unsigned long long)j->txns[i].req_start,
				 (unsigned long long)j->txns[i].req_end,
				 (unsigned long long)j->txns[i].resp_start,
				 (unsigned long long)j->txns[i].resp_end,
				 j->txns[i].response_complete ? " complete" : "",
				 j->txns[i].read_only ? " read-only" : "");
		return rc;
	}
	rc = plan_items(j);
	if (rc < 0)
		snprintf(j->detail, sizeof(j->detail), "fetch list: %s", strerror(-rc));
	return rc;
}

static void send_item(struct recovery_job *j, uint32_t k, uint64_t now_ms)
{
	struct rj_item *it = &j->items[k];
	struct ctl_msg m = {.type = CTL_BYTES_QUERY};
	struct ctl_bytes_query *q = &m.u.bytes_query;
	q->query_id = query_id(j, k);
	q->conn_id = j->conn_id;
	q->client_ip = htonl(j->old.backend_key.daddr);
	q->client_port = j->old.backend_key.dport;
	q->server_ip = htonl(j->old.backend_key.saddr);
	q->server_port = j->old.backend_key.sport;
	q->stream = it->stream;
	q->offset = it->off;
	q->length = it->len;
	if (it->state == RJ_I_SENT)
		j->r->c.queries_resent++;
	it->state = RJ_I_SENT;
	it->tries++;
	it->sent_ms = now_ms;
	recovery_send(j->r, &m);
}

/* Keeps fetch_window chunks in flight; resends overdue ones. Returns -1
 * when a chunk ran out of retries, 1 when every chunk is answered. */
int rj_fetch_pump(struct recovery_job *j, uint64_t now_ms)
{
	const struct recovery_config *cfg = &j->r->cfg;
	unsigned inflight = 0;
	for (uint32_t k = 0; k < j->nitems; k++) {
		struct rj_item *it = &j->items[k];
		if (it->state == RJ_I_SENT && now_ms - it->sent_ms >= cfg->query_timeout_ms) {
			if (it->tries > cfg->query_retries) {
				snprintf(j->detail, sizeof(j->detail),
					 "logger did not answer BYTES_QUERY");
				return -1;
			}
			send_item(j, k, now_ms);
		}
		if (it->state == RJ_I_SENT)
			inflight++;
	}
	for (uint32_t k = 0; k < j->nitems && inflight < cfg->fetch_window; k++)
		if (j->items[k].state == RJ_I_TODO) {
			send_item(j, k, now_ms);
			inflight++;
		}
	return j->items_done == j->nitems ? 1 : 0;
}

/* Not held: compare chunks may be missing (checked by the tags later);
 * without replay or resend bytes there is no recovery. */
static void on_bytes(struct recovery_job *j, const struct ctl_bytes_reply *b, uint64_t now_ms)
{
	uint32_t k = (uint32_t)b->query_id;
	if (k >= j->nitems || j->items[k].state != RJ_I_SENT)
		return;
	struct rj_item *it = &j->items[k];
	if (b->status == CTL_STATUS_BUSY) {
		j->r->c.replies_busy++;
		return; /* asked again at the timeout */
	}
	if (b->status != CTL_STATUS_OK || b->n == 0 || b->offset != it->off || b->n > it->len) {
		it->state = RJ_I_NOT_HELD;
		j->items_done++;
		/* The logger keeps a message whole or not at all: the rest of
		 * the compared response is not worth asking for. */
		for (uint32_t k2 = k + 1; it->kind == RJ_K_COMPARE && k2 < j->nitems &&
					  j->items[k2].kind == RJ_K_COMPARE;
		     k2++)
			if (j->items[k2].state == RJ_I_TODO) {
				j->items[k2].state = RJ_I_NOT_HELD;
				j->items_done++;
			}
		return;
	}
	memcpy(it->dst, b->data, b->n);
	j->r->c.bytes_fetched += b->n;
	if (b->n < it->len) { /* the rest in another query */
		it->off += b->n;
		it->dst += b->n;
		it->len -= b->n;
		it->tries = 0;
		send_item(j, k, now_ms);
		return;
	}
	it->state = RJ_I_DONE;
	j->items_done++;
}

/* Returns 1 when the plan is ready to fetch, 0 to wait, -1 on failure. */
static int on_conn_reply(struct recovery_job *j, const struct ctl_conn_reply *rp, uint64_t now_ms)
{
	if (rp->status == CTL_STATUS_BUSY) {
		j->r->c.replies_busy++;
		return 0;
	}
	if (rp->status != CTL_STATUS_OK) {
		snprintf(j->detail, sizeof(j->detail), "logger: connection %s",
			 rp->status == CTL_STATUS_UNKNOWN_CONN ? "unknown" : "not supported");
		return -1;
	}
	if (rp->flags & CTL_REPLY_MARKS) {
		j->conn_id = rp->conn_id;
		j->ack_cl = rp->ack_cl;
		j->last_server_byte = rp->last_server_byte;
		j->last_client_byte = rp->last_client_byte;
		j->client_isn = rp->client_isn;
		j->server_isn = rp->server_isn;
		j->have_marks = true;
	}
	if (add_txns(j, rp) < 0) {
		snprintf(j->detail, sizeof(j->detail), "more than %u transactions",
			 j->r->cfg.max_txns);
		return -1;
	}
	j->query_tries = 0;
	if (rp->flags & CTL_REPLY_MORE) {
		rj_send_conn_query(j, now_ms);
		return 0;
	}
	if (!j->have_marks) {
		snprintf(j->detail, sizeof(j->detail), "logger sent no marks");
		return -1;
	}
	return 1;
}

int rj_fetch_on_ctl(struct recovery_job *j, const struct ctl_msg *m, uint64_t now_ms)
{
	if (m->type == CTL_CONN_REPLY && j->state == RJ_QUERY &&
	    (uint32_t)m->u.reply.query_id == CONN_QUERY_ITEM)
		return on_conn_reply(j, &m->u.reply, now_ms);
	if (m->type == CTL_BYTES_REPLY && j->state == RJ_FETCH)
		on_bytes(j, &m->u.bytes_reply, now_ms);
	return 0;
}

/* The p bytes the alternate returns, checked against the logged ones
 * where the logger held them; beyond, only a transaction tagged
 * deterministic is taken on trust. Returns false on a difference. */
bool rj_check_swallowed(struct recovery_job *j, const uint8_t *buf, size_t n, uint64_t pos)
{
	while (n > 0) {
		uint64_t k = pos / CTL_BYTES_MAX;
		size_t in_chunk = CTL_BYTES_MAX - (size_t)(pos % CTL_BYTES_MAX);
		size_t len = n < in_chunk ? n : in_chunk;
		bool held = pos < j->compare_len && k < j->nitems &&
			    j->items[k].kind == RJ_K_COMPARE && j->items[k].state == RJ_I_DONE;
		if (held) {
			int64_t at = recovery_compare(j->compare + pos, buf, len, pos, &j->mask);
			if (at >= 0) {
				snprintf(j->detail, sizeof(j->detail),
					 "replayed response of T_L+1 differs at byte %lld",
					 (long long)at);
				return false;
			}
			j->r->c.bytes_compared += len;
		} else if (!j->tl1_deterministic) {
			snprintf(j->detail, sizeof(j->detail),
				 "byte %llu of T_L+1 not held by the logger and not tagged "
				 "deterministic",
				 (unsigned long long)pos);
			return false;
		} else {
			j->r->c.bytes_unchecked += len;
		}
		buf += len;
		pos += len;
		n -= len;
	}
	return true;
}

/* With an agent, the alternate runs the application that takes over the
 * session: each replayed request tells it the ID the logger (and the
 * failed backend) gave it, after its request line (README of nfq/agent). */
int rj_add_txn_headers(struct recovery_job *j)
{
	if (j->nhdr == 0)
		return 0;
	char hdr[TXN_AUTH_HEADERS_LEN + 1];
	size_t add = (size_t)j->nhdr * TXN_AUTH_HEADERS_LEN;
	/* the replay connection, as the alternate sees it: the tag binds to it */
	const struct txn_auth_conn tc = {.client_ip = j->r->px->cfg.ivip.s_addr,
					 .client_port = j->ivip_port,
					 .server_ip = j->alt.sin_addr.s_addr,
					 .server_port = ntohs(j->alt.sin_port)};
	uint8_t *out = malloc(j->replay_len + add + 1);
	if (!out)
		return -1;
	uint64_t from = 0, o = 0;
	for (unsigned i = 0; i < j->nhdr; i++) {
		uint64_t end = i + 1 < j->nhdr ? j->hdr_at[i + 1] : j->replay_len;
		const uint8_t *req = j->replay + j->hdr_at[i];
		const uint8_t *eol = memmem(req, end - j->hdr_at[i], "\r\n", 2);
		if (!eol) {
			free(out);
			snprintf(j->detail, sizeof(j->detail),
				 "replayed request without a line end");
			return -1;
		}
		uint64_t cut = (uint64_t)(eol - j->replay) + 2;
		memcpy(out + o, j->replay + from, cut - from);
		o += cut - from;
		int n = txn_auth_headers(&j->r->agent_key, j->hdr_txn[i], &tc, hdr, sizeof(hdr));
		memcpy(out + o, hdr, (size_t)n);
		o += (uint64_t)n;
		from = cut;
	}
	memcpy(out + o, j->replay + from, j->replay_len - from);
	o += j->replay_len - from;
	free(j->replay);
	j->replay = out;
	j->replay_len = o;
	return 0;
}

/* After the fetch: every replay and resend byte must be there. */
int rj_fetch_complete(struct recovery_job *j)
{
	for (uint32_t k = 0; k < j->nitems; k++)
		if (j->items[k].kind != RJ_K_COMPARE && j->items[k].state != RJ_I_DONE) {
			snprintf(j->detail, sizeof(j->detail),
				 "logger does not hold %s bytes at offset %llu",
				 j->items[k].kind == RJ_K_REPLAY ? "request" : "response",
				 (unsigned long long)j->items[k].off);
			return -1;
		}
	size_t held = 0;
	while (held < j->compare_len && held / CTL_BYTES_MAX < j->nitems &&
	       j->items[held / CTL_BYTES_MAX].kind == RJ_K_COMPARE &&
	       j->items[held / CTL_BYTES_MAX].state == RJ_I_DONE)
		held += CTL_BYTES_MAX;
	recovery_mask_http_date(j->compare, held < j->compare_len ? held : j->compare_len,
				&j->mask);
	return 0; /* the X-Craft-Txn headers need the port: rj_add_txn_headers */
}
