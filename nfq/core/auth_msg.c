/* auth_msg - see auth_msg.h.
 *
 * The receiver's windows live in a small array searched linearly: a
 * cluster has tens of hosts, not thousands, and only messages whose tag
 * verified ever search it, so a flood of forgeries cannot make it slow.
 * The checks run from cheapest to dearest (length, magic, body length,
 * tag) and only the authenticated rest (freshness, sender, window) may
 * touch state.
 */
#include "auth_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"
#include "log.h"
#include "packet.h"
#include "stats.h"

_Static_assert(AUTH_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "key size");
_Static_assert(AUTH_MSG_TAG_LEN == crypto_auth_hmacsha256_BYTES, "tag size");

static const char *const result_names[AUTH_NRESULTS] = {
    "accepted", "too_short", "bad_magic", "bad_length",	    "bad_tag",
    "replay",	"too_old",   "future",	  "unknown_sender", "table_full",
};

const char *auth_result_name(int code)
{
	if (code > 0 || code <= -AUTH_NRESULTS)
		return "unknown";
	return result_names[-code];
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

static void store_be64(uint8_t *b, uint64_t v)
{
	pkt_store_be32(b, (uint32_t)(v >> 32));
	pkt_store_be32(b + 4, (uint32_t)v);
}

static uint64_t load_be64(const uint8_t *b)
{
	return (uint64_t)pkt_load_be32(b) << 32 | pkt_load_be32(b + 4);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int auth_key_from_hex(struct auth_key *key, const char *hex, char *err, size_t errlen)
{
	const char *p = hex;
	struct auth_key k;
	size_t n = 0;

	while (is_blank(*p))
		p++;
	while (p[n] && !is_blank(p[n]))
		n++;
	for (const char *q = p + n; *q; q++) {
		if (!is_blank(*q)) {
			set_err(err, errlen, "key: one word of 64 hex digits expected");
			return -EINVAL;
		}
	}
	if (n != AUTH_KEY_HEX_LEN) {
		if (err && errlen)
			snprintf(err, errlen, "key: %zu characters, exactly %d hex digits needed",
				 n, AUTH_KEY_HEX_LEN);
		return -EINVAL;
	}
	uint8_t any = 0;
	for (size_t i = 0; i < AUTH_KEY_LEN; i++) {
		int hi = hex_digit_value(p[2 * i]), lo = hex_digit_value(p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			sodium_memzero(&k, sizeof(k));
			set_err(err, errlen, "key: not a hex digit");
			return -EINVAL;
		}
		k.bytes[i] = (uint8_t)(hi << 4 | lo);
		any |= k.bytes[i];
	}
	if (!any) {
		set_err(err, errlen, "key: the all-zero key is refused");
		return -EINVAL;
	}
	*key = k;
	sodium_memzero(&k, sizeof(k));
	return 0;
}

int auth_key_load_file(const char *path, struct auth_key *key, char *err, size_t errlen)
{
	char buf[256];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_warn("%s: key file is readable by group or others", path);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n) {
		sodium_memzero(buf, sizeof(buf));
		if (err && errlen)
			snprintf(err, errlen, "%s: key file holds a NUL byte", path);
		return -EINVAL;
	}
	char msg[128];
	int rc = auth_key_from_hex(key, buf, msg, sizeof(msg));
	sodium_memzero(buf, sizeof(buf));
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s: %s", path, msg);
	return rc;
}

void auth_key_wipe(struct auth_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

bool auth_tag_equal(const uint8_t a[AUTH_MSG_TAG_LEN], const uint8_t b[AUTH_MSG_TAG_LEN])
{
	return crypto_verify_32(a, b) == 0;
}

void auth_sender_init(struct auth_sender *s, uint32_t id, uint64_t epoch)
{
	if (sodium_init() < 0)
		log_err("libsodium failed to initialise");
	s->id = id;
	s->epoch = epoch ? epoch : realtime_us();
	s->next_seq = 1;
}

ssize_t auth_msg_seal_at(struct auth_sender *s, const struct auth_key *key, uint16_t type,
			 const void *body, size_t len, void *out, size_t cap, uint64_t now_ms)
{
	uint8_t *o = out;

	if (len > AUTH_MSG_MAX_BODY)
		return -EMSGSIZE;
	if (cap < AUTH_MSG_OVERHEAD + len)
		return -ENOSPC;
	if (s->next_seq == UINT64_MAX)
		return -EOVERFLOW;
	pkt_store_be32(o, AUTH_MSG_MAGIC);
	o[4] = AUTH_MSG_VERSION;
	o[5] = 0;
	pkt_store_be16(o + 6, type);
	pkt_store_be32(o + 8, s->id);
	store_be64(o + 12, s->epoch);
	store_be64(o + 20, s->next_seq);
	store_be64(o + 28, now_ms);
	pkt_store_be32(o + 36, (uint32_t)len);
	if (len)
		memmove(o + AUTH_MSG_HEADER_LEN, body, len);
	crypto_auth_hmacsha256(o + AUTH_MSG_HEADER_LEN + len, o, AUTH_MSG_HEADER_LEN + len,
			       key->bytes);
	s->next_seq++;
	return (ssize_t)(AUTH_MSG_OVERHEAD + len);
}

ssize_t auth_msg_seal(struct auth_sender *s, const struct auth_key *key, uint16_t type,
		      const void *body, size_t len, void *out, size_t cap)
{
	return auth_msg_seal_at(s, key, type, body, len, out, cap, realtime_us() / 1000u);
}

void auth_receiver_config_default(struct auth_receiver_config *cfg)
{
	cfg->max_senders = AUTH_DEFAULT_MAX_SENDERS;
	cfg->max_age_ms = AUTH_DEFAULT_MAX_AGE_MS;
	cfg->max_future_ms = AUTH_DEFAULT_MAX_FUTURE_MS;
}

int auth_receiver_init(struct auth_receiver *r, const struct auth_receiver_config *cfg)
{
	memset(r, 0, sizeof(*r));
	if (cfg->max_senders == 0 || cfg->max_senders > AUTH_MAX_SENDERS_LIMIT)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	r->cfg = *cfg;
	r->windows = calloc(cfg->max_senders, sizeof(*r->windows));
	return r->windows ? 0 : -ENOMEM;
}

void auth_receiver_free(struct auth_receiver *r)
{
	free(r->windows);
	r->windows = NULL;
	r->nwindows = 0;
}

static struct auth_window *find_window(struct auth_receiver *r, uint32_t id)
{
	for (unsigned i = 0; i < r->nwindows; i++)
		if (r->windows[i].id == id)
			return &r->windows[i];
	return NULL;
}

static bool silent(const struct auth_receiver *r, const struct auth_window *w, uint64_t now_ms)
{
	return w->seen && now_ms > w->last_ms && now_ms - w->last_ms > r->cfg.max_age_ms;
}

/* A window for a new id: a free slot, else the oldest silent one that is
 * not allow-listed (its messages are stale anyway, see auth_msg.h). */
static struct auth_window *new_window(struct auth_receiver *r, uint32_t id, uint64_t now_ms)
{
	struct auth_window *w = NULL;

	if (r->nwindows < r->cfg.max_senders) {
		w = &r->windows[r->nwindows++];
	} else {
		for (unsigned i = 0; i < r->nwindows; i++) {
			struct auth_window *c = &r->windows[i];
			if (!c->allowed && silent(r, c, now_ms) && (!w || c->last_ms < w->last_ms))
				w = c;
		}
		if (!w)
			return NULL;
		r->forgotten++;
	}
	memset(w, 0, sizeof(*w));
	w->id = id;
	return w;
}

int auth_receiver_allow(struct auth_receiver *r, uint32_t id)
{
	struct auth_window *w = find_window(r, id);

	if (!w) {
		if (r->nwindows >= r->cfg.max_senders)
			return -ENOSPC;
		w = new_window(r, id, 0);
	}
	w->allowed = true;
	r->allow_list = true;
	return 0;
}

/* The sliding window proper; AUTH_OK records seq as seen. */
static int window_check(struct auth_receiver *r, struct auth_window *w, uint64_t epoch,
			uint64_t seq, uint64_t now_ms)
{
	if (!w->seen || silent(r, w, now_ms) || epoch > w->epoch) {
		if (w->seen && epoch != w->epoch)
			r->epoch_resets++;
		w->seen = true;
		w->epoch = epoch;
		w->top = seq;
		w->bitmap = 1;
		return AUTH_OK;
	}
	if (epoch < w->epoch)
		return AUTH_E_REPLAY;
	if (seq > w->top) {
		uint64_t shift = seq - w->top;
		w->bitmap = shift >= AUTH_WINDOW_SIZE ? 1 : (w->bitmap << shift) | 1;
		w->top = seq;
		return AUTH_OK;
	}
	uint64_t back = w->top - seq;
	if (back >= AUTH_WINDOW_SIZE)
		return AUTH_E_REPLAY;
	uint64_t bit = 1ull << back;
	if (w->bitmap & bit)
		return AUTH_E_REPLAY;
	w->bitmap |= bit;
	return AUTH_OK;
}

static int open_checked(struct auth_receiver *r, const struct auth_key *key, const uint8_t *m,
			size_t len, uint64_t now_ms, struct auth_msg_view *out)
{
	if (len < AUTH_MSG_OVERHEAD)
		return AUTH_E_TOO_SHORT;
	if (pkt_load_be32(m) != AUTH_MSG_MAGIC || m[4] != AUTH_MSG_VERSION || m[5] != 0)
		return AUTH_E_BAD_MAGIC;
	uint32_t body_len = pkt_load_be32(m + 36);
	if (body_len > AUTH_MSG_MAX_BODY || (size_t)body_len != len - AUTH_MSG_OVERHEAD)
		return AUTH_E_BAD_LENGTH;
	size_t covered = AUTH_MSG_HEADER_LEN + body_len;
	if (crypto_auth_hmacsha256_verify(m + covered, m, covered, key->bytes) != 0)
		return AUTH_E_BAD_TAG;

	struct auth_msg_view v = {
	    .type = pkt_load_be16(m + 6),
	    .sender = pkt_load_be32(m + 8),
	    .epoch = load_be64(m + 12),
	    .seq = load_be64(m + 20),
	    .timestamp_ms = load_be64(m + 28),
	    .body = m + AUTH_MSG_HEADER_LEN,
	    .body_len = body_len,
	};
	if (v.timestamp_ms < now_ms && now_ms - v.timestamp_ms > r->cfg.max_age_ms)
		return AUTH_E_TOO_OLD;
	if (v.timestamp_ms > now_ms && v.timestamp_ms - now_ms > r->cfg.max_future_ms)
		return AUTH_E_FUTURE;
	struct auth_window *w = find_window(r, v.sender);
	if (!w) {
		if (r->allow_list)
			return AUTH_E_UNKNOWN_SENDER;
		w = new_window(r, v.sender, now_ms);
		if (!w)
			return AUTH_E_TABLE_FULL;
	}
	int rc = window_check(r, w, v.epoch, v.seq, now_ms);
	if (rc != AUTH_OK)
		return rc;
	w->last_ms = now_ms;
	if (out)
		*out = v;
	return AUTH_OK;
}

int auth_msg_open(struct auth_receiver *r, const struct auth_key *key, const void *msg, size_t len,
		  uint64_t now_ms, struct auth_msg_view *out)
{
	int rc = open_checked(r, key, msg, len, now_ms, out);

	r->counts[-rc]++;
	return rc;
}

void auth_receiver_collect_stats(const struct auth_receiver *r, struct stats_report *rep,
				 const char *prefix)
{
	for (int i = 0; i < AUTH_NRESULTS; i++)
		stats_add(rep, prefix, result_names[i], r->counts[i]);
	stats_add(rep, prefix, "epoch_resets", r->epoch_resets);
	stats_add(rep, prefix, "forgotten", r->forgotten);
	stats_add(rep, prefix, "senders", r->nwindows);
}
