/* craft-webmail - the demo application for backend failover, shaped like
 * the paper's RoundCube workload (§6, Table 1: Action 1 "login screen",
 * Action 2 "log in, compose, send, log out"), and the reference user of
 * session_sync.h / session_apply.h.
 *
 * A small HTTP/1.1 server (keep-alive, Content-Length bodies, pipelining
 * answered in order, one epoll loop). Endpoints and their tags (the tag
 * rules for the logger are in tools/webmail/tags.conf):
 *   GET  /                 login page               deterministic read-only
 *   GET  /static/<file>    static files             deterministic read-only
 *   POST /login            user=NAME: new session   deterministic update non-idempotent
 *   GET  /inbox            the session's messages   deterministic read-only
 *   POST /compose          to=&subject=&body=: draft deterministic update
 *   POST /send             id=DRAFT: aux request    deterministic update non-idempotent
 *   POST /logout           ends the session         deterministic update
 *   GET  /random           random bytes and time    NON-deterministic: the whole
 *                          response is saved at the alternate before it is sent
 *   GET  /dice             random dice              NON-deterministic: the seed is
 *                          saved (regeneration state) before the response is sent
 *   GET  /clock            the time                 non-deterministic, NOT saved
 *                          (the "unforeseen" case: a failover must RST)
 *
 * Determinism by construction: no Date header; the session cookie of a
 * login is HMAC(secret, transaction ID, user), so replaying the login on
 * the alternate (same secret) yields the same cookie; no "100 Continue"
 * (whether it is sent would depend on timing: a replay delivers the body
 * at once), so a client sending "Expect: 100-continue" waits its own
 * timeout (curl: 1 s; use -H 'Expect:').
 *
 * Transaction IDs (paper Fig. 3). The application numbers the requests of
 * each accepted TCP connection 1, 2, ... and takes the "client" part from
 * the peer address it sees. Behind the proxies that peer is the proxy's
 * inner address IVIP and its port: exactly the backend-side 4-tuple the
 * logger sees and numbers (txn_log uses the SYN sender as client), so both
 * compute the same ID without any cooperation. The client's real address
 * is never needed. During recovery the alternate sees a NEW connection
 * (another proxy port), so recovery must say which old IDs the replayed
 * requests had: a request carrying "X-Craft-Txn: <16 hex>" gets that ID,
 * and later requests on the same connection without the header continue
 * from it (next ordinal). The logger's txn_parser reads the same header
 * (id = X-Craft-Txn). A client can send that header too (the proxies
 * splice its bytes untouched), and with it pick another transaction's ID:
 * the login cookie of someone else's session, a "replay" of someone
 * else's send. So with webmail.txn_key_file (the cluster key) the header
 * counts only together with a valid "X-Craft-Txn-Auth" tag for this very
 * connection (txn_header_auth.h: the recovery manager adds it); without
 * it the request is numbered as if the header were absent
 * (txn_header_refused). Without a key file the header is believed as is
 * (trust_txn_header, the old behaviour, warned about at start); with
 * trust_txn_header off it is always ignored.
 *
 * Session state: the session (user, messages, next id) serialised as one
 * blob (webmail_session_encode) is pushed through session_sync after
 * every update transaction; on the alternate, APPLY messages from
 * craft-agent (session_apply.h) replace the session with the snapshot.
 *
 * Aux requests (to craft-auxd) are one line each, tagged with the
 * transaction ID so the aux logger can match them during replay:
 *   craft<16 hex> SEND <to> <subject> <body>\n   (fields %-encoded)
 * answered by "craft<16 hex> OK <count>\n" or "craft<16 hex> NO <why>\n". */
#ifndef CRAFT_WEBMAIL_H
#define CRAFT_WEBMAIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_msg.h"
#include "event_loop.h"
#include "session_apply.h"
#include "session_sync.h"
#include "state_msg.h"

#define WM_KEY_LEN	32 /* cookie: 32 hex digits */
#define WM_USER_MAX	32
#define WM_TO_MAX	64
#define WM_SUBJECT_MAX	128
#define WM_BODY_MAX	1024
#define WM_MESSAGES_MAX 32
#define WM_HEAD_MAX	8192
#define WM_PATH_MAX	256

enum wm_folder { WM_INBOX = 0, WM_DRAFT = 1, WM_SENT = 2 };

struct webmail_config {
	struct sockaddr_in listen;
	char static_dir[256];
	struct sockaddr_in aux; /* sin_family 0 = no aux server */
	uint64_t aux_timeout_ms;
	char apply_socket[108]; /* listen for craft-agent; "" = none */
	char secret[128];	/* shared by the backends: login cookies */
	uint32_t max_conns, max_sessions, max_messages, max_aids;
	uint64_t max_body, max_static, idle_timeout_ms;
	bool trust_txn_header;
	char txn_key_file[256]; /* cluster key: X-Craft-Txn needs its tag */
	bool sync_fail_refuse;	/* a failed synchronous save answers 503 */
};

struct wm_message {
	uint32_t id;
	uint8_t folder;
	char to[WM_TO_MAX + 1];
	char subject[WM_SUBJECT_MAX + 1];
	uint16_t body_len;
	char body[WM_BODY_MAX + 1];
};

struct wm_session {
	char key[WM_KEY_LEN + 1];
	char user[WM_USER_MAX + 1];
	uint32_t next_id;
	uint32_t nmsg;
	uint64_t last_txn;
	uint64_t last_use_ms;
	struct wm_message msg[]; /* max_messages */
};

struct wm_aid {
	uint64_t txn_id;
	unsigned kind;
	size_t len;
	uint8_t *data;
};

struct webmail;

struct wm_conn {
	int fd;
	struct webmail *w;
	uint32_t peer_ip, local_ip; /* host order */
	uint16_t peer_port, local_port;
	uint32_t ordinal;   /* requests read on this connection */
	uint64_t alias_txn; /* X-Craft-Txn seen (0 = none) */
	uint32_t alias_ord; /* ... on this ordinal */
	uint8_t *in;	    /* WM_HEAD_MAX + max_body */
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool close_after, writing, peer_eof;
	uint64_t last_ms;
};

struct wm_counters {
	uint64_t conns, conns_refused, conns_idle, requests, bad_requests;
	uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
	uint64_t logins, inbox, composes, sends, logouts, randoms, dice, clocks, statics;
	uint64_t aux_ok, aux_failed, pushes_failed, nondet_saved, nondet_save_failed;
	uint64_t txn_header, txn_header_refused, replayed_responses, regen_used, sessions_full;
	uint64_t applied, apply_refused, apply_deleted, aids_received, aids_evicted;
};

struct webmail {
	struct webmail_config cfg;
	struct event_loop *loop;
	int lfd;
	struct wm_conn *conns;
	struct wm_session **sessions;
	struct wm_aid *aids;
	uint32_t aid_next;
	struct session_sync *sync; /* NULL: no alternate configured */
	struct session_apply *apply;
	uint8_t hmac_key[32];
	bool have_txn_key;
	struct auth_key txn_key; /* txn_key_file */
	uint8_t *blob;		 /* STATE_BLOB_MAX scratch */
	struct wm_counters c;
};

/* main.c */
extern const struct config_key webmail_config_keys[];
void webmail_config_default(struct webmail_config *cfg);

/* http.c: the server */
int webmail_listen(struct webmail *w, char *err, size_t errlen);
void webmail_close_all(struct webmail *w);
void webmail_sweep_idle(struct webmail *w);
/* Appends a complete response (status line, headers, body). */
int wm_respond(struct webmail *w, struct wm_conn *c, int status, const char *ctype,
	       const char *extra_headers, const void *body, size_t len);
/* Builds the same bytes into a new buffer (for saving before sending). */
uint8_t *wm_build_response(int status, const char *ctype, const char *extra_headers,
			   const void *body, size_t len, size_t *out_len);
int wm_send_raw(struct wm_conn *c, const void *bytes, size_t len);

/* handlers.c: one request */
struct wm_request {
	char method[16];
	char path[WM_PATH_MAX];
	char query[WM_PATH_MAX];
	char cookie[WM_KEY_LEN + 1];
	const char *body;
	size_t body_len;
	uint64_t txn_id;
};
void webmail_handle(struct webmail *w, struct wm_conn *c, const struct wm_request *req);
/* %-decodes the value of `name` from an x-www-form-urlencoded body. */
bool wm_form_get(const char *body, size_t len, const char *name, char *out, size_t cap);

/* session.c: sessions, their blobs, the agent's APPLY/aids */
struct wm_session *wm_session_find(struct webmail *w, const char *key);
struct wm_session *wm_session_create(struct webmail *w, const char *key, uint64_t now_ms);
void wm_session_delete(struct webmail *w, const char *key);
/* Pushes the session's snapshot after txn (async). */
void wm_session_push(struct webmail *w, const struct wm_session *s, uint64_t txn, bool deleted,
		     const char *key);
/* Blob codec: bytes written or -ENOSPC; decode 0 or -EINVAL. */
int webmail_session_encode(const struct wm_session *s, uint32_t max_messages, uint8_t *buf,
			   size_t cap);
int webmail_session_decode(struct wm_session *s, uint32_t max_messages, const uint8_t *buf,
			   size_t len);
const struct wm_aid *wm_aid_find(const struct webmail *w, uint64_t txn, unsigned kind);
void wm_aid_drop(struct webmail *w, uint64_t txn);
extern const struct session_apply_ops webmail_apply_ops;
size_t wm_session_size(uint32_t max_messages);
uint32_t wm_session_count(const struct webmail *w);

#endif
