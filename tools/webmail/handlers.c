/* craft-webmail handlers - one function per endpoint (see webmail.h for
 * the list and the tags). Update handlers change the session and push its
 * snapshot after the change; /send first asks the aux server (the state
 * changes only when it answered OK); the non-deterministic /random and
 * /dice save what a replay needs synchronously before answering.
 *
 * A request whose transaction ID has a saved RESPONSE aid (delivered by
 * the agent during a recovery) is answered with those bytes verbatim,
 * whatever its path: that is the replay of a non-deterministic
 * transaction. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"
#include "log.h"
#include "webmail.h"

#define AUX_LINE_MAX (64 + 3 * (WM_TO_MAX + WM_SUBJECT_MAX + WM_BODY_MAX))

static const char *const folder_names[] = {"inbox", "draft", "sent"};

static const char login_page[] =
    "<!DOCTYPE html>\n<html><head><title>craft-webmail</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
    "<script src=\"/static/app.js\"></script></head>\n"
    "<body><img src=\"/static/logo.svg\" alt=\"craft\">\n"
    "<form method=\"post\" action=\"/login\"><input name=\"user\">"
    "<input name=\"password\" type=\"password\"><button>Log in</button></form>\n"
    "</body></html>\n";

bool wm_form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	for (size_t i = 0; i + nlen < len; i++) {
		if ((i && body[i - 1] != '&') || strncmp(body + i, name, nlen) ||
		    body[i + nlen] != '=')
			continue;
		size_t o = 0;
		for (size_t j = i + nlen + 1; j < len && body[j] != '&'; j++) {
			int ch = (unsigned char)body[j];
			if (ch == '+')
				ch = ' ';
			else if (ch == '%') {
				int hi = j + 2 < len ? hex_digit_value(body[j + 1]) : -1;
				int lo = j + 2 < len ? hex_digit_value(body[j + 2]) : -1;
				if (hi < 0 || lo < 0)
					return false;
				ch = hi << 4 | lo;
				j += 2;
			}
			if (!ch || o + 1 >= cap)
				return false;
			out[o++] = (char)ch;
		}
		out[o] = '\0';
		return true;
	}
	return false;
}

static void pct_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~@", ch)) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static void respond_text(struct webmail *w, struct wm_conn *c, int status, const char *text)
{
	wm_respond(w, c, status, "text/plain", NULL, text, strlen(text));
}

static struct wm_session *need_session(struct webmail *w, struct wm_conn *c,
				       const struct wm_request *req)
{
	struct wm_session *s = req->cookie[0] ? wm_session_find(w, req->cookie) : NULL;
	if (!s)
		respond_text(w, c, 401, "no session\n");
	else
		s->last_use_ms = monotonic_ms();
	return s;
}

static bool valid_user(const char *u)
{
	size_t n = strlen(u);
	if (!n || n > WM_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    u[i]))
			return false;
	return true;
}

/* The cookie is a function of the transaction and the user only, so a
 * login replayed on the alternate issues the same one. */
static void login_key(const struct webmail *w, uint64_t txn, const char *user, char *out)
{
	uint8_t msg[8 + 5 + WM_USER_MAX], mac[crypto_auth_hmacsha256_BYTES];
	memcpy(msg, "login", 5);
	for (int i = 0; i < 8; i++)
		msg[5 + i] = (uint8_t)(txn >> (56 - 8 * i));
	size_t ulen = strlen(user);
	memcpy(msg + 13, user, ulen);
	crypto_auth_hmacsha256(mac, msg, 13 + ulen, w->hmac_key);
	for (int i = 0; i < WM_KEY_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void do_login(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	char user[WM_USER_MAX + 1], key[WM_KEY_LEN + 1];
	if (!wm_form_get(req->body, req->body_len, "user", user, sizeof(user)) ||
	    !valid_user(user)) {
		respond_text(w, c, 400, "bad user\n");
		return;
	}
	login_key(w, req->txn_id, user, key);
	struct wm_session *s = wm_session_create(w, key, monotonic_ms());
	if (!s) {
		respond_text(w, c, 503, "too many sessions\n");
		return;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	struct wm_message *m = &s->msg[s->nmsg++];
	m->id = s->next_id++;
	m->folder = WM_INBOX;
	snprintf(m->to, sizeof(m->to), "%s", user);
	snprintf(m->subject, sizeof(m->subject), "Welcome");
	m->body_len =
	    (uint16_t)snprintf(m->body, sizeof(m->body), "Hello %s, this is craft-webmail.", user);
	s->last_txn = req->txn_id;
	w->c.logins++;
	wm_session_push(w, s, req->txn_id, false, s->key);
	char hdr[96], body[128];
	snprintf(hdr, sizeof(hdr), "Set-Cookie: sid=%s; Path=/\r\n", key);
	int n = snprintf(body, sizeof(body), "welcome %s\nsession %s\n", user, key);
	wm_respond(w, c, 200, "text/plain", hdr, body, (size_t)n);
}

static void do_inbox(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	struct wm_session *s = need_session(w, c, req);
	if (!s)
		return;
	char *out = malloc(64 + s->nmsg * (WM_TO_MAX + WM_SUBJECT_MAX + 48));
	if (!out) {
		respond_text(w, c, 500, "out of memory\n");
		return;
	}
	int n = sprintf(out, "user %s messages %u\n", s->user, s->nmsg);
	for (uint32_t i = 0; i < s->nmsg; i++) {
		const struct wm_message *m = &s->msg[i];
		n += sprintf(out + n, "%u %s %s %s %u\n", m->id, folder_names[m->folder], m->to,
			     m->subject, m->body_len);
	}
	w->c.inbox++;
	wm_respond(w, c, 200, "text/plain", NULL, out, (size_t)n);
	free(out);
}

static void do_compose(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	struct wm_session *s = need_session(w, c, req);
	if (!s)
		return;
	struct wm_message m = {.folder = WM_DRAFT};
	if (!wm_form_get(req->body, req->body_len, "to", m.to, sizeof(m.to)) || !m.to[0] ||
	    strchr(m.to, ' ')) {
		respond_text(w, c, 400, "bad recipient\n");
		return;
	}
	if (!wm_form_get(req->body, req->body_len, "subject", m.subject, sizeof(m.subject)))
		m.subject[0] = '\0';
	if (!m.subject[0])
		snprintf(m.subject, sizeof(m.subject), "(none)");
	for (char *p = m.subject; *p; p++) /* the inbox listing is space-separated */
		if (*p == ' ' || *p == '\n' || *p == '\r')
			*p = '_';
	if (!wm_form_get(req->body, req->body_len, "body", m.body, sizeof(m.body)))
		m.body[0] = '\0';
	m.body_len = (uint16_t)strlen(m.body);
	if (s->nmsg >= w->cfg.max_messages) {
		respond_text(w, c, 409, "mailbox full\n");
		return;
	}
	m.id = s->next_id++;
	s->msg[s->nmsg++] = m;
	s->last_txn = req->txn_id;
	w->c.composes++;
	wm_session_push(w, s, req->txn_id, false, s->key);
	char body[64];
	snprintf(body, sizeof(body), "draft %u\n", m.id);
	respond_text(w, c, 200, body);
}

/* One aux request, blocking for at most aux_timeout. The count the aux
 * server reports, or -errno. */
static long aux_call(struct webmail *w, uint64_t txn, const struct wm_message *m)
{
	if (w->cfg.aux.sin_family != AF_INET)
		return -ENOTCONN;
	char *line = malloc(AUX_LINE_MAX), tag[40], to[3 * WM_TO_MAX + 1];
	char subj[3 * WM_SUBJECT_MAX + 1], body[3 * WM_BODY_MAX + 1];
	if (!line)
		return -ENOMEM;
	session_sync_txn_tag(txn, tag, sizeof(tag));
	pct_encode(m->to, to, sizeof(to));
	pct_encode(m->subject, subj, sizeof(subj));
	pct_encode(m->body, body, sizeof(body));
	int len =
	    snprintf(line, AUX_LINE_MAX, "%s SEND %s %s %s\n", tag, to, subj, body[0] ? body : "-");
	long rc = -EIO;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	uint64_t deadline = monotonic_ms() + w->cfg.aux_timeout_ms;
	if (fd < 0 || (connect(fd, (struct sockaddr *)&w->cfg.aux, sizeof(w->cfg.aux)) < 0 &&
		       errno != EINPROGRESS))
		goto out;
	size_t sent = 0, got = 0;
	char ans[256];
	bool connected = false;
	while (monotonic_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = sent < (size_t)len ? POLLOUT : POLLIN};
		int left = (int)(deadline - monotonic_ms());
		if (poll(&p, 1, left > 0 ? left : 0) <= 0)
			continue;
		if (!connected) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (e) {
				rc = -e;
				goto out;
			}
			connected = true;
		}
		if (sent < (size_t)len) {
			ssize_t n = send(fd, line + sent, (size_t)len - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				goto out;
			sent += n > 0 ? (size_t)n : 0;
			continue;
		}
		ssize_t n = recv(fd, ans + got, sizeof(ans) - 1 - got, 0);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				continue;
			goto out;
		}
		got += (size_t)n;
		ans[got] = '\0';
		char *nl = strchr(ans, '\n');
		if (!nl && got < sizeof(ans) - 1)
			continue;
		char rtag[40], verdict[8];
		unsigned long count = 0;
		if (nl && sscanf(ans, "%39s %7s %lu", rtag, verdict, &count) >= 2 &&
		    !strcmp(rtag, tag) && !strcmp(verdict, "OK"))
			rc = (long)count;
		else
			rc = -EPROTO;
		goto out;
	}
	rc = -ETIMEDOUT;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

static void do_send(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	struct wm_session *s = need_session(w, c, req);
	if (!s)
		return;
	char idbuf[16];
	struct wm_message *m = NULL;
	if (wm_form_get(req->body, req->body_len, "id", idbuf, sizeof(idbuf))) {
		unsigned long id = strtoul(idbuf, NULL, 10);
		for (uint32_t i = 0; i < s->nmsg && !m; i++)
			if (s->msg[i].id == id && s->msg[i].folder == WM_DRAFT)
				m = &s->msg[i];
	}
	if (!m) {
		respond_text(w, c, 404, "no such draft\n");
		return;
	}
	long count = aux_call(w, req->txn_id, m);
	if (count < 0) {
		w->c.aux_failed++;
		log_warn("aux request of txn %016" PRIx64 ": %s", req->txn_id,
			 strerror((int)-count));
		respond_text(w, c, 502, "aux server failed\n");
		return;
	}
	w->c.aux_ok++;
	m->folder = WM_SENT;
	s->last_txn = req->txn_id;
	w->c.sends++;
	wm_session_push(w, s, req->txn_id, false, s->key);
	char body[64];
	snprintf(body, sizeof(body), "sent %u aux %ld\n", m->id, count);
	respond_text(w, c, 200, body);
}

static void do_logout(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	struct wm_session *s = need_session(w, c, req);
	if (!s)
		return;
	char key[WM_KEY_LEN + 1];
	snprintf(key, sizeof(key), "%s", s->key);
	wm_session_delete(w, key);
	w->c.logouts++;
	wm_session_push(w, NULL, req->txn_id, true, key);
	wm_respond(w, c, 200, "text/plain", "Set-Cookie: sid=; Max-Age=0; Path=/\r\n", "bye\n", 4);
}

/* A failed synchronous save: serve anyway (counted) or refuse. true when
 * the caller should go on. */
static bool sync_failed(struct webmail *w, struct wm_conn *c, uint64_t txn, int rc)
{
	w->c.nondet_save_failed++;
	log_warn("synchronous save of txn %016" PRIx64 ": %s", txn, strerror(-rc));
	if (!w->cfg.sync_fail_refuse)
		return true;
	respond_text(w, c, 503, "cannot save state\n");
	return false;
}

static void do_random(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	uint8_t rnd[16];
	char body[128];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	int n = snprintf(body, sizeof(body), "random ");
	for (size_t i = 0; i < sizeof(rnd); i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "%02x", rnd[i]);
	n += snprintf(body + n, sizeof(body) - (size_t)n, " time %" PRIu64 "\n", realtime_us());
	size_t len;
	uint8_t *resp = wm_build_response(200, "text/plain", NULL, body, (size_t)n, &len);
	if (!resp) {
		respond_text(w, c, 500, "out of memory\n");
		return;
	}
	w->c.randoms++;
	int rc = w->sync ? session_sync_save_response(w->sync, req->txn_id, resp, len) : 0;
	if (w->sync && rc == 0)
		w->c.nondet_saved++;
	if (rc == 0 || sync_failed(w, c, req->txn_id, rc)) {
		wm_send_raw(c, resp, len);
		w->c.status_2xx++;
	}
	free(resp);
}

static void do_dice(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	uint64_t seed;
	const struct wm_aid *a = wm_aid_find(w, req->txn_id, STATE_AID_REGEN);
	if (a && a->len == sizeof(seed)) {
		memcpy(&seed, a->data, sizeof(seed));
		w->c.regen_used++;
		wm_aid_drop(w, req->txn_id);
	} else {
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = realtime_us();
		int rc = w->sync
			     ? session_sync_save_regen(w->sync, req->txn_id, &seed, sizeof(seed))
			     : 0;
		if (w->sync && rc == 0)
			w->c.nondet_saved++;
		if (rc < 0 && !sync_failed(w, c, req->txn_id, rc))
			return;
	}
	char body[64];
	int n = snprintf(body, sizeof(body), "dice");
	uint64_t x = seed | 1;
	for (int i = 0; i < 5; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n += snprintf(body + n, sizeof(body) - (size_t)n, " %u", (unsigned)(x % 6) + 1);
	}
	body[n++] = '\n';
	w->c.dice++;
	wm_respond(w, c, 200, "text/plain", NULL, body, (size_t)n);
}

static void do_clock(struct webmail *w, struct wm_conn *c)
{
	char body[64];
	snprintf(body, sizeof(body), "time %" PRIu64 "\n", realtime_us());
	w->c.clocks++;
	respond_text(w, c, 200, body);
}

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".css"))
		return "text/css";
	if (!strcmp(dot, ".js"))
		return "application/javascript";
	if (!strcmp(dot, ".html"))
		return "text/html";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	if (!strcmp(dot, ".txt"))
		return "text/plain";
	return "application/octet-stream";
}

static void do_static(struct webmail *w, struct wm_conn *c, const char *name)
{
	char path[512];
	bool ok = name[0] && name[0] != '.' && w->cfg.static_dir[0];
	for (const char *p = name; ok && *p; p++)
		ok =
		    strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p);
	int fd = -1;
	struct stat st;
	if (ok &&
	    snprintf(path, sizeof(path), "%s/%s", w->cfg.static_dir, name) < (int)sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		respond_text(w, c, 404, "not found\n");
		return;
	}
	if ((uint64_t)st.st_size > w->cfg.max_static) {
		close(fd);
		respond_text(w, c, 413, "file too large\n");
		return;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != (ssize_t)st.st_size) {
		free(buf);
		respond_text(w, c, 500, "read error\n");
		return;
	}
	w->c.statics++;
	wm_respond(w, c, 200, content_type(name), NULL, buf, (size_t)n);
	free(buf);
}

void webmail_handle(struct webmail *w, struct wm_conn *c, const struct wm_request *req)
{
	const struct wm_aid *a = wm_aid_find(w, req->txn_id, STATE_AID_RESPONSE);
	if (a) {
		wm_send_raw(c, a->data, a->len);
		w->c.replayed_responses++;
		w->c.status_2xx++;
		wm_aid_drop(w, req->txn_id);
		return;
	}
	bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
	const char *p = req->path;
	if (get && !strcmp(p, "/"))
		wm_respond(w, c, 200, "text/html", NULL, login_page, sizeof(login_page) - 1);
	else if (get && !strncmp(p, "/static/", 8))
		do_static(w, c, p + 8);
	else if (post && !strcmp(p, "/login"))
		do_login(w, c, req);
	else if (get && !strcmp(p, "/inbox"))
		do_inbox(w, c, req);
	else if (post && !strcmp(p, "/compose"))
		do_compose(w, c, req);
	else if (post && !strcmp(p, "/send"))
		do_send(w, c, req);
	else if (post && !strcmp(p, "/logout"))
		do_logout(w, c, req);
	else if (get && !strcmp(p, "/random"))
		do_random(w, c, req);
	else if (get && !strcmp(p, "/dice"))
		do_dice(w, c, req);
	else if (get && !strcmp(p, "/clock"))
		do_clock(w, c);
	else if (!get && !post)
		respond_text(w, c, 405, "method not allowed\n");
	else
		respond_text(w, c, 404, "not found\n");
}
