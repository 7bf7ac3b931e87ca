/* session_sync - see session_sync.h for the contract.
 *
 * Every message waiting for its acknowledgement sits in one fixed table
 * (queue_max slots) as its encoded plain text; a resend seals it again
 * (a new auth sequence number: a resend is not a replay). Acks name the
 * message by (origin, seq): origin is this instance's start time, so acks
 * meant for an earlier incarnation of the application are ignored. A
 * synchronous call marks its slot and polls the socket until the slot is
 * answered or its deadline passes; the same resend routine serves the
 * timer and the waiting loop. */
#include "session_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "stats.h"
#include "txn_parser.h"

#define RX_BURST 64

const struct config_key session_sync_config_keys[] = {
    CONFIG_IPV4_PORT("sync", "agent", struct session_sync_config, agent),
    CONFIG_IPV4_PORT("sync", "bind", struct session_sync_config, bind),
    CONFIG_STR("sync", "key_file", struct session_sync_config, key_file),
    CONFIG_U32("sync", "sender_id", struct session_sync_config, sender_id, 1, UINT32_MAX),
    CONFIG_U32("sync", "agent_id", struct session_sync_config, agent_id, 0, UINT32_MAX),
    CONFIG_U32("sync", "queue_max", struct session_sync_config, queue_max, 1, 1u << 20),
    CONFIG_SIZE("sync", "queue_max_bytes", struct session_sync_config, queue_max_bytes, 65536,
		1ull << 32),
    CONFIG_DURATION_MS("sync", "sync_timeout", struct session_sync_config, sync_timeout_ms, 1,
		       60000),
    CONFIG_DURATION_MS("sync", "retransmit", struct session_sync_config, retransmit_ms, 1, 60000),
    CONFIG_U32("sync", "max_tries", struct session_sync_config, max_tries, 1, 1000),
    CONFIG_DURATION_MS("sync", "max_age", struct session_sync_config, max_age_ms, 100, 3600000),
    CONFIG_DURATION_MS("sync", "max_future", struct session_sync_config, max_future_ms, 0, 3600000),
    {0},
};

void session_sync_config_default(struct session_sync_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sender_id = 1;
	cfg->queue_max = 1024;
	cfg->queue_max_bytes = 16ull << 20;
	cfg->sync_timeout_ms = 500;
	cfg->retransmit_ms = 100;
	cfg->max_tries = 10;
	cfg->max_age_ms = AUTH_DEFAULT_MAX_AGE_MS;
	cfg->max_future_ms = AUTH_DEFAULT_MAX_FUTURE_MS;
}

struct sq_entry {
	bool used, sync, done;
	int result;
	enum state_type type;
	uint64_t seq;
	uint32_t tries;
	uint64_t next_ms;
	size_t len;
	uint8_t *msg; /* encoded state message */
};

struct session_sync {
	struct session_sync_config cfg;
	int fd;
	struct auth_key key;
	struct auth_sender sender;
	struct auth_receiver receiver;
	uint64_t origin, next_seq;
	struct sq_entry *q;
	unsigned nq;
	uint64_t qbytes;
	uint8_t *sealed; /* STATE_DATAGRAM_MAX */
	uint8_t *rxbuf;	 /* STATE_DATAGRAM_MAX */
	struct session_sync_counters c;
};

int session_sync_open(struct session_sync **out, const struct session_sync_config *cfg, char *err,
		      size_t errlen)
{
	*out = NULL;
	if (cfg->agent.sin_family != AF_INET) {
		snprintf(err, errlen, "sync: no agent address");
		return -EINVAL;
	}
	if (!cfg->queue_max || !cfg->max_tries || !cfg->retransmit_ms) {
		snprintf(err, errlen, "sync: zero limit");
		return -EINVAL;
	}
	struct session_sync *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->cfg = *cfg;
	ss->fd = -1;
	int rc = auth_key_load_file(cfg->key_file, &ss->key, err, errlen);
	if (rc < 0)
		goto fail;
	struct auth_receiver_config rc_cfg;
	auth_receiver_config_default(&rc_cfg);
	rc_cfg.max_senders = 4;
	rc_cfg.max_age_ms = cfg->max_age_ms;
	rc_cfg.max_future_ms = cfg->max_future_ms;
	rc = auth_receiver_init(&ss->receiver, &rc_cfg);
	if (rc < 0)
		goto fail;
	if (cfg->agent_id && (rc = auth_receiver_allow(&ss->receiver, cfg->agent_id)) < 0)
		goto fail;
	ss->q = calloc(cfg->queue_max, sizeof(*ss->q));
	ss->sealed = malloc(STATE_DATAGRAM_MAX);
	ss->rxbuf = malloc(STATE_DATAGRAM_MAX);
	if (!ss->q || !ss->sealed || !ss->rxbuf) {
		rc = -ENOMEM;
		goto fail;
	}
	ss->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ss->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "sync: socket: %s", strerror(errno));
		goto fail;
	}
	if (cfg->bind.sin_family == AF_INET &&
	    bind(ss->fd, (const struct sockaddr *)&cfg->bind, sizeof(cfg->bind)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "sync: bind: %s", strerror(errno));
		goto fail;
	}
	/* Connected: only the agent's datagrams reach us. */
	if (connect(ss->fd, (const struct sockaddr *)&cfg->agent, sizeof(cfg->agent)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "sync: connect: %s", strerror(errno));
		goto fail;
	}
	ss->origin = realtime_us();
	auth_sender_init(&ss->sender, cfg->sender_id, 0);
	*out = ss;
	return 0;
fail:
	session_sync_close(ss);
	return rc;
}

void session_sync_close(struct session_sync *ss)
{
	if (!ss)
		return;
	if (ss->fd >= 0)
		close(ss->fd);
	if (ss->q)
		for (unsigned i = 0; i < ss->cfg.queue_max; i++)
			free(ss->q[i].msg);
	free(ss->q);
	free(ss->sealed);
	free(ss->rxbuf);
	auth_receiver_free(&ss->receiver);
	auth_key_wipe(&ss->key);
	free(ss);
}

int session_sync_fd(const struct session_sync *ss)
{
	return ss->fd;
}

unsigned session_sync_pending(const struct session_sync *ss)
{
	return ss->nq;
}

const struct session_sync_counters *session_sync_counters(const struct session_sync *ss)
{
	return &ss->c;
}

static void entry_free(struct session_sync *ss, struct sq_entry *e)
{
	ss->qbytes -= e->len;
	free(e->msg);
	memset(e, 0, sizeof(*e));
	ss->nq--;
}

static void transmit(struct session_sync *ss, struct sq_entry *e, uint64_t now)
{
	ssize_t n = auth_msg_seal(&ss->sender, &ss->key, STATE_AUTH_TYPE(e->type), e->msg, e->len,
				  ss->sealed, STATE_DATAGRAM_MAX);
	e->tries++;
	e->next_ms = now + ss->cfg.retransmit_ms;
	if (n < 0 || send(ss->fd, ss->sealed, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		ss->c.send_errors++;
		return;
	}
	if (e->tries > 1)
		ss->c.retransmits++;
	else
		ss->c.sent++;
}

/* Encodes m into a new slot and sends it. The slot, or NULL (counted). */
static struct sq_entry *enqueue(struct session_sync *ss, struct state_msg *m, bool sync)
{
	size_t len = state_msg_encoded_len(m);
	if (!len)
		return NULL;
	if (ss->nq >= ss->cfg.queue_max || ss->qbytes + len > ss->cfg.queue_max_bytes) {
		ss->c.overflow++;
		return NULL;
	}
	struct sq_entry *e = NULL;
	for (unsigned i = 0; i < ss->cfg.queue_max && !e; i++)
		if (!ss->q[i].used)
			e = &ss->q[i];
	uint8_t *msg = e ? malloc(len) : NULL;
	if (!msg) {
		ss->c.overflow++;
		return NULL;
	}
	state_msg_encode(m, msg, len);
	*e = (struct sq_entry){.used = true, .sync = sync, .type = m->type, .len = len, .msg = msg};
	e->seq = m->type == STATE_T_SAVE ? m->u.save.seq : m->u.push.seq;
	ss->nq++;
	ss->qbytes += len;
	transmit(ss, e, monotonic_ms());
	return e;
}

static int ack_result(uint8_t status)
{
	switch (status) {
	case STATE_ACK_STORED:
	case STATE_ACK_DUPLICATE:
		return 0;
	case STATE_ACK_FULL:
		return -ENOSPC;
	default:
		return -EPROTO;
	}
}

static void on_ack(struct session_sync *ss, const struct state_ack *a)
{
	struct sq_entry *e = NULL;
	if (a->origin == ss->origin)
		for (unsigned i = 0; i < ss->cfg.queue_max && !e; i++)
			if (ss->q[i].used && !ss->q[i].done && ss->q[i].seq == a->seq)
				e = &ss->q[i];
	if (!e) {
		ss->c.rx_unexpected++; /* late duplicate ack, or not ours */
		return;
	}
	int r = ack_result(a->status);
	if (a->status == STATE_ACK_DUPLICATE)
		ss->c.acked_duplicate++;
	else if (r == -ENOSPC)
		ss->c.agent_full++;
	else if (r < 0)
		ss->c.agent_refused++;
	else
		ss->c.acked++;
	if (e->sync) {
		e->done = true;
		e->result = r;
	} else {
		entry_free(ss, e);
	}
}

void session_sync_on_readable(struct session_sync *ss)
{
	for (int i = 0; i < RX_BURST; i++) {
		ssize_t n = recv(ss->fd, ss->rxbuf, STATE_DATAGRAM_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				ss->c.send_errors++; /* ICMP errors of earlier sends */
			if (errno != EINTR && errno != ECONNREFUSED)
				return;
			continue;
		}
		ss->c.rx++;
		struct state_msg m;
		if (n > STATE_DATAGRAM_MAX ||
		    state_msg_open(&ss->receiver, &ss->key, ss->rxbuf, (size_t)n,
				   realtime_us() / 1000, NULL, &m) < 0 ||
		    m.type != STATE_T_ACK) {
			ss->c.rx_bad++;
			continue;
		}
		on_ack(ss, &m.u.ack);
	}
}

void session_sync_tick(struct session_sync *ss)
{
	uint64_t now = monotonic_ms();
	for (unsigned i = 0; i < ss->cfg.queue_max && ss->nq; i++) {
		struct sq_entry *e = &ss->q[i];
		if (!e->used || e->done || e->next_ms > now)
			continue;
		if (!e->sync && e->tries >= ss->cfg.max_tries) {
			ss->c.given_up++;
			entry_free(ss, e);
			continue;
		}
		transmit(ss, e, now);
	}
}

/* Polls until e is answered or the deadline passes, resending what is due
 * meanwhile. Returns the ack's result or -ETIMEDOUT. */
static int wait_for(struct session_sync *ss, struct sq_entry *e, uint64_t deadline)
{
	for (;;) {
		if (e->done)
			return e->result;
		uint64_t now = monotonic_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		session_sync_tick(ss);
		uint64_t wake = e->next_ms < deadline ? e->next_ms : deadline;
		int ms = wake > now ? (int)(wake - now) : 0;
		struct pollfd p = {.fd = ss->fd, .events = POLLIN};
		int rc = poll(&p, 1, ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0)
			session_sync_on_readable(ss);
	}
}

int session_sync_push(struct session_sync *ss, uint64_t txn_id, const void *key, size_t key_len,
		      const void *blob, size_t len, unsigned flags)
{
	if (key_len < 1 || key_len > STATE_KEY_MAX ||
	    (flags & ~(SESSION_SYNC_WAIT | SESSION_SYNC_DELETE)))
		return -EINVAL;
	if (flags & SESSION_SYNC_DELETE)
		len = 0;
	if (len > STATE_BLOB_MAX) {
		ss->c.too_big++;
		return -EMSGSIZE;
	}
	bool sync = flags & SESSION_SYNC_WAIT;
	struct state_msg m = {.type = STATE_T_STATE};
	m.u.push = (struct state_push){
	    .origin = ss->origin,
	    .seq = ++ss->next_seq,
	    .txn_id = txn_id,
	    .flags = (uint8_t)((sync ? STATE_F_SYNC : 0) |
			       (flags & SESSION_SYNC_DELETE ? STATE_F_DELETE : 0)),
	    .key_len = (uint8_t)key_len,
	    .blob_len = (uint32_t)len,
	    .key = key,
	    .blob = len ? blob : (const uint8_t *)"",
	};
	ss->c.pushes++;
	if (flags & SESSION_SYNC_DELETE)
		ss->c.deletes++;
	struct sq_entry *e = enqueue(ss, &m, sync);
	if (!e)
		return -ENOBUFS;
	if (!sync)
		return 0;
	ss->c.pushes_sync++;
	int rc = wait_for(ss, e, monotonic_ms() + ss->cfg.sync_timeout_ms);
	if (rc == -ETIMEDOUT && !e->done) {
		/* Keep trying in the background: T_A still benefits. */
		e->sync = false;
		ss->c.wait_timeouts++;
		return rc;
	}
	entry_free(ss, e);
	if (rc == 0)
		ss->c.waits_ok++;
	else
		ss->c.wait_failed++;
	return rc;
}

static int save_aid(struct session_sync *ss, uint64_t txn_id, uint8_t kind, const uint8_t *data,
		    size_t len)
{
	if (!len || len > STATE_AID_MAX)
		return -EINVAL;
	uint64_t deadline = monotonic_ms() + ss->cfg.sync_timeout_ms;
	uint64_t seq = ++ss->next_seq;
	ss->c.saves++;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < STATE_CHUNK_MAX ? len - off : STATE_CHUNK_MAX;
		struct state_msg m = {.type = STATE_T_SAVE};
		m.u.save = (struct state_save){.origin = ss->origin,
					       .seq = seq,
					       .txn_id = txn_id,
					       .kind = kind,
					       .total = (uint32_t)len,
					       .offset = (uint32_t)off,
					       .chunk_len = (uint32_t)n,
					       .chunk = data + off};
		struct sq_entry *e = enqueue(ss, &m, true);
		if (!e) {
			ss->c.wait_failed++;
			return -ENOBUFS;
		}
		ss->c.save_chunks++;
		int rc = wait_for(ss, e, deadline);
		entry_free(ss, e);
		if (rc < 0) {
			if (rc == -ETIMEDOUT)
				ss->c.wait_timeouts++;
			else
				ss->c.wait_failed++;
			return rc;
		}
		off += n;
	}
	ss->c.save_bytes += len;
	ss->c.waits_ok++;
	return 0;
}

int session_sync_save_response(struct session_sync *ss, uint64_t txn_id, const void *bytes,
			       size_t len)
{
	return save_aid(ss, txn_id, STATE_AID_RESPONSE, bytes, len);
}

int session_sync_save_regen(struct session_sync *ss, uint64_t txn_id, const void *state, size_t len)
{
	return save_aid(ss, txn_id, STATE_AID_REGEN, state, len);
}

void session_sync_collect_stats(const struct session_sync *ss, struct stats_report *r,
				const char *prefix)
{
	const struct session_sync_counters *c = &ss->c;
	stats_add(r, prefix, "queue", ss->nq);
	stats_add(r, prefix, "queue_bytes", ss->qbytes);
	stats_add(r, prefix, "pushes", c->pushes);
	stats_add(r, prefix, "pushes_sync", c->pushes_sync);
	stats_add(r, prefix, "deletes", c->deletes);
	stats_add(r, prefix, "sent", c->sent);
	stats_add(r, prefix, "retransmits", c->retransmits);
	stats_add(r, prefix, "send_errors", c->send_errors);
	stats_add(r, prefix, "acked", c->acked);
	stats_add(r, prefix, "acked_duplicate", c->acked_duplicate);
	stats_add(r, prefix, "agent_full", c->agent_full);
	stats_add(r, prefix, "agent_refused", c->agent_refused);
	stats_add(r, prefix, "overflow", c->overflow);
	stats_add(r, prefix, "given_up", c->given_up);
	stats_add(r, prefix, "too_big", c->too_big);
	stats_add(r, prefix, "waits_ok", c->waits_ok);
	stats_add(r, prefix, "wait_timeouts", c->wait_timeouts);
	stats_add(r, prefix, "wait_failed", c->wait_failed);
	stats_add(r, prefix, "saves", c->saves);
	stats_add(r, prefix, "save_bytes", c->save_bytes);
	stats_add(r, prefix, "rx", c->rx);
	stats_add(r, prefix, "rx_bad", c->rx_bad);
	stats_add(r, prefix, "rx_unexpected", c->rx_unexpected);
}

int session_sync_txn_header(uint64_t txn_id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s: %016llx\r\n", SESSION_SYNC_TXN_HEADER_NAME,
			 (unsigned long long)txn_id);
	return n >= 0 && (size_t)n < len ? n : -ENOSPC;
}

int session_sync_txn_tag(uint64_t txn_id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%016llx", SESSION_SYNC_TXN_TAG_PREFIX,
			 (unsigned long long)txn_id);
	return n >= 0 && (size_t)n < len ? n : -ENOSPC;
}

int session_sync_parse_txn_tag(const char *s, size_t len, uint64_t *txn_id)
{
	size_t plen = strlen(SESSION_SYNC_TXN_TAG_PREFIX);
	if (len <= plen || strncmp(s, SESSION_SYNC_TXN_TAG_PREFIX, plen) != 0)
		return -EINVAL;
	s += plen;
	len -= plen;
	for (size_t i = 0; i < len; i++) /* txn_id_parse would take "0x" too */
		if (s[i] == 'x' || s[i] == 'X')
			return -EINVAL;
	return txn_id_parse(s, len, txn_id);
}
