/* rule_check - the iptables-save parser, the nf_tables path (running
 * iptables-save) and the dispatch between backends; the legacy path lives in
 * rule_check_legacy.c. See rule_check.h for why both exist.
 *
 * The helper programs run without a shell, from an absolute path found by
 * searching PATH and then the usual sbin directories (a daemon may start
 * with a minimal PATH), with stdin on /dev/null, all signals at their
 * default and unblocked (a daemon that handles signals with signalfd blocks
 * them, and a child would inherit that), and a deadline after which the
 * child is killed. Output is parsed line by line as it arrives, so no
 * rule set is too large; single lines over RULE_LINE_MAX are skipped. */
#include "rule_check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define RULE_LINE_MAX	  8192
#define RULE_TIMEOUT_MS	  5000
#define RULE_STDERR_MAX	  256
#define RULE_PATH_DEFAULT "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"

extern char **environ;

const char *rule_backend_name(enum rule_backend backend)
{
	switch (backend) {
	case RULE_BACKEND_NFT:
		return "nf_tables";
	case RULE_BACKEND_LEGACY:
		return "legacy";
	default:
		return "unknown";
	}
}

enum rule_backend rule_check_parse_version(const char *text)
{
	if (strstr(text, "(nf_tables)"))
		return RULE_BACKEND_NFT;
	if (strstr(text, "(legacy)"))
		return RULE_BACKEND_LEGACY;
	/* Before 1.8 there was only x_tables and no suffix. */
	if (strncmp(text, "iptables v", 10) == 0 && !strchr(text, '('))
		return RULE_BACKEND_LEGACY;
	return RULE_BACKEND_UNKNOWN;
}

int rule_check_decode_nfq(unsigned revision, const void *data, size_t len, uint16_t *first,
			  uint16_t *last, bool *bypass, bool *cpu_fanout)
{
	/* Layouts of xt_NFQ_info{,_v1,_v2,_v3}: u16 queuenum, then u16
	 * queues_total (v1+), then u16 bypass (v2) or flags (v3). */
	static const size_t need[] = {2, 4, 6, 6};
	uint16_t f[3] = {0, 1, 0};

	if (revision > 3 || len < need[revision])
		return -EINVAL;
	memcpy(f, data, need[revision]);
	if (revision == 0)
		f[1] = 1;
	if (f[1] == 0)
		f[1] = 1;
	*first = f[0];
	uint32_t end = (uint32_t)f[0] + f[1] - 1;
	*last = (uint16_t)(end > 0xffff ? 0xffff : end);
	*bypass = revision >= 2 && (f[2] & 0x1);
	*cpu_fanout = revision == 3 && (f[2] & 0x2);
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next blank-separated token; a double-quoted part (with \" escapes) may
 * contain blanks, as in `--comment "two words"`. */
static bool next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tlen)
{
	size_t i = *pos;
	bool quoted = false;

	while (i < len && is_space(s[i]))
		i++;
	if (i >= len)
		return false;
	size_t start = i;
	for (; i < len; i++) {
		if (quoted && s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && is_space(s[i]))
			break;
	}
	*tok = s + start;
	*tlen = i - start;
	*pos = i;
	return true;
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

static bool tok_u16(const char *tok, size_t len, uint16_t *out)
{
	uint32_t v = 0;
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(tok[i] - '0');
	}
	if (v > 0xffff)
		return false;
	*out = (uint16_t)v;
	return true;
}

static void copy_span(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void rule_save_parser_init(struct rule_save_parser *p, uint16_t queue, struct rule_match *out)
{
	memset(p, 0, sizeof(*p));
	memset(out, 0, sizeof(*out));
	p->queue = queue;
	p->out = out;
}

static void parse_rule(struct rule_save_parser *p, const char *line, size_t len)
{
	const char *tok, *chain = NULL;
	size_t tlen, chain_len = 0, pos = 0;
	bool nfqueue = false, bypass = false, fanout = false;
	uint16_t first = 0, last = 0;
	enum { NONE, CHAIN, TARGET, QNUM, QBAL } expect = NONE;

	while (next_token(line, len, &pos, &tok, &tlen)) {
		switch (expect) {
		case CHAIN:
			chain = tok;
			chain_len = tlen;
			expect = NONE;
			continue;
		case TARGET:
			nfqueue = tok_is(tok, tlen, "NFQUEUE");
			expect = NONE;
			continue;
		case QNUM:
			if (!tok_u16(tok, tlen, &first))
				return;
			last = first;
			expect = NONE;
			continue;
		case QBAL: {
			const char *colon = memchr(tok, ':', tlen);
			if (!colon || !tok_u16(tok, (size_t)(colon - tok), &first) ||
			    !tok_u16(colon + 1, tlen - (size_t)(colon - tok) - 1, &last))
				return;
			expect = NONE;
			continue;
		}
		case NONE:
			break;
		}
		if (tok_is(tok, tlen, "-A") || tok_is(tok, tlen, "--append"))
			expect = CHAIN;
		else if (tok_is(tok, tlen, "-j") || tok_is(tok, tlen, "--jump"))
			expect = TARGET;
		else if (nfqueue && tok_is(tok, tlen, "--queue-num"))
			expect = QNUM;
		else if (nfqueue && tok_is(tok, tlen, "--queue-balance"))
			expect = QBAL;
		else if (nfqueue && tok_is(tok, tlen, "--queue-bypass"))
			bypass = true;
		else if (nfqueue && tok_is(tok, tlen, "--queue-cpu-fanout"))
			fanout = true;
	}
	/* An option missing its argument makes the rule unreadable. */
	if (expect != NONE || !nfqueue || !chain || p->queue < first || p->queue > last)
		return;
	struct rule_match *m = p->out;
	if (m->matches++ > 0)
		return;
	copy_span(m->table, sizeof(m->table), p->table, strlen(p->table));
	copy_span(m->chain, sizeof(m->chain), chain, chain_len);
	m->queue_first = first;
	m->queue_last = last;
	m->bypass = bypass;
	m->cpu_fanout = fanout;
	copy_span(m->rule, sizeof(m->rule), line, len);
	if (len >= sizeof(m->rule))
		memcpy(m->rule + sizeof(m->rule) - 4, "...", 4);
}

void rule_save_parser_line(struct rule_save_parser *p, const char *line, size_t len)
{
	while (len > 0 && is_space(line[len - 1]))
		len--;
	if (len == 0)
		return;
	if (line[0] == '*') {
		copy_span(p->table, sizeof(p->table), line + 1, len - 1);
	} else if (line[0] == '#') {
		static const char warn[] = "iptables-legacy tables present";
		if (memmem(line, len, warn, sizeof(warn) - 1))
			p->legacy_warning = true;
	} else if (line[0] == '-') {
		parse_rule(p, line, len);
	}
}

int rule_check_parse_save(const char *text, uint16_t queue, struct rule_match *out)
{
	struct rule_save_parser p;
	rule_save_parser_init(&p, queue, out);
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		rule_save_parser_line(&p, text, len);
		text += len + (nl ? 1 : 0);
	}
	return out->matches > 0;
}

/* --- running a helper program --------------------------------------- */

typedef void line_fn(void *ctx, const char *line, size_t len);

struct capture {
	line_fn *on_line;
	void *ctx;
	char line[RULE_LINE_MAX];
	size_t line_len;
	bool line_cut;
	char errtext[RULE_STDERR_MAX];
	size_t errtext_len;
};

static void feed_stdout(struct capture *cap, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (!cap->line_cut)
				cap->on_line(cap->ctx, cap->line, cap->line_len);
			cap->line_len = 0;
			cap->line_cut = false;
		} else if (cap->line_len < sizeof(cap->line)) {
			cap->line[cap->line_len++] = buf[i];
		} else {
			cap->line_cut = true;
		}
	}
}

static void feed_stderr(struct capture *cap, const char *buf, size_t n)
{
	size_t room = sizeof(cap->errtext) - 1 - cap->errtext_len;
	if (n > room)
		n = room;
	memcpy(cap->errtext + cap->errtext_len, buf, n);
	cap->errtext_len += n;
	cap->errtext[cap->errtext_len] = '\0';
}

/* Finds name in PATH, then in the usual directories; 0 or -ENOENT. */
static int find_program(const char *name, char *path, size_t size)
{
	const char *env = getenv("PATH");
	const char *lists[2] = {env ? env : "", RULE_PATH_DEFAULT};

	for (int l = 0; l < 2; l++) {
		const char *p = lists[l];
		while (*p) {
			const char *colon = strchr(p, ':');
			size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
			if (dlen > 0 &&
			    (size_t)snprintf(path, size, "%.*s/%s", (int)dlen, p, name) < size &&
			    access(path, X_OK) == 0)
				return 0;
			p += dlen + (colon ? 1 : 0);
		}
	}
	return -ENOENT;
}

static int spawn(const char *path, char *const argv[], int out_w, int err_w, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads both pipes until EOF or the deadline. 0, -ETIMEDOUT or -errno. */
static int pump(struct capture *cap, int *out_r, int *err_r, uint64_t deadline)
{
	char buf[4096];

	while (*out_r >= 0 || *err_r >= 0) {
		uint64_t now = monotonic_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd[2] = {{.fd = *out_r, .events = POLLIN},
					{.fd = *err_r, .events = POLLIN}};
		int n = poll(pfd, 2, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			ssize_t r = read(pfd[i].fd, buf, sizeof(buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close_fd(i == 0 ? out_r : err_r);
				continue;
			}
			if (i == 0)
				feed_stdout(cap, buf, (size_t)r);
			else
				feed_stderr(cap, buf, (size_t)r);
		}
	}
	if (cap->line_len > 0 && !cap->line_cut) /* last line without newline */
		cap->on_line(cap->ctx, cap->line, cap->line_len);
	return 0;
}

/* Waits for the child until the deadline, then kills it. Exit status
 * (0..255), or -ETIMEDOUT / -ECHILD (killed by a signal). */
static int reap(pid_t pid, uint64_t deadline, bool kill_now)
{
	int status = 0;
	for (;;) {
		if (kill_now || monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0; /* SIGCHLD ignored: already reaped, status unknown */
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -ECHILD;
}

/* Runs argv[0] (searched as described above) and feeds its stdout to
 * cap->on_line. Returns the exit status or -errno, with err set. */
static int run_capture(char *const argv[], struct capture *cap, char *err, size_t errlen)
{
	char path[512];
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	pid_t pid;
	int rc = find_program(argv[0], path, sizeof(path));

	if (rc < 0) {
		snprintf(err, errlen, "%s: not found in PATH or sbin directories", argv[0]);
		return rc;
	}
	if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(-rc));
		close_fd(&out_p[0]);
		close_fd(&out_p[1]);
		return rc;
	}
	rc = spawn(path, argv, out_p[1], err_p[1], &pid);
	close_fd(&out_p[1]);
	close_fd(&err_p[1]);
	if (rc < 0) {
		snprintf(err, errlen, "cannot run %s: %s", path, strerror(-rc));
		close_fd(&out_p[0]);
		close_fd(&err_p[0]);
		return rc;
	}
	uint64_t deadline = monotonic_ms() + RULE_TIMEOUT_MS;
	int prc = pump(cap, &out_p[0], &err_p[0], deadline);
	close_fd(&out_p[0]);
	close_fd(&err_p[0]);
	rc = reap(pid, deadline, prc < 0);
	if (prc < 0 && prc != -ETIMEDOUT)
		rc = prc;
	if (rc == -ETIMEDOUT)
		snprintf(err, errlen, "%s did not finish within %d ms", path, RULE_TIMEOUT_MS);
	else if (rc == -ECHILD)
		snprintf(err, errlen, "%s was killed by a signal", path);
	else if (rc < 0)
		snprintf(err, errlen, "reading from %s: %s", path, strerror(-rc));
	else if (rc > 0)
		snprintf(err, errlen, "%s exited with status %d%s%.*s", path, rc,
			 cap->errtext_len ? ": " : "", (int)strcspn(cap->errtext, "\n"),
			 cap->errtext);
	return rc;
}

/* --- the nf_tables path and the dispatch ---------------------------- */

static void save_line(void *ctx, const char *line, size_t len)
{
	rule_save_parser_line(ctx, line, len);
}

static int run_save(const char *prog, uint16_t queue, struct rule_match *out, char *err,
		    size_t errlen)
{
	char *const argv[] = {(char *)prog, NULL};
	struct rule_save_parser p;
	struct capture *cap = calloc(1, sizeof(*cap));

	if (!cap)
		return -ENOMEM;
	rule_save_parser_init(&p, queue, out);
	cap->on_line = save_line;
	cap->ctx = &p;
	int rc = run_capture(argv, cap, err, errlen);
	free(cap);
	if (rc > 0)
		return -EIO;
	if (rc < 0)
		return rc;

	out->backend = RULE_BACKEND_NFT;
	return out->matches > 0;
}

/* iptables-nft-save names the backend explicitly; plain iptables-save is
 * the nft one only when `iptables -V` said so (plain_is_nft). */
static int check_nft(uint16_t queue, struct rule_match *out, bool plain_is_nft, char *err,
		     size_t errlen)
{
	int rc = run_save("iptables-nft-save", queue, out, err, errlen);
	if (rc == -ENOENT && plain_is_nft)
		rc = run_save("iptables-save", queue, out, err, errlen);
	return rc;
}

int rule_check_nft(uint16_t queue, struct rule_match *out, char *err, size_t errlen)
{
	return check_nft(queue, out, false, err, errlen);
}

struct version_text {
	char text[128];
};

static void version_line(void *ctx, const char *line, size_t len)
{
	struct version_text *v = ctx;
	if (v->text[0] == '\0')
		copy_span(v->text, sizeof(v->text), line, len);
}

static enum rule_backend detect_backend(char *err, size_t errlen)
{
	char *const argv[] = {"iptables", "-V", NULL};
	struct version_text v = {{0}};
	struct capture *cap = calloc(1, sizeof(*cap));

	if (!cap)
		return RULE_BACKEND_UNKNOWN;
	cap->on_line = version_line;
	cap->ctx = &v;
	int rc = run_capture(argv, cap, err, errlen);
	free(cap);
	return rc == 0 ? rule_check_parse_version(v.text) : RULE_BACKEND_UNKNOWN;
}

int rule_check_queue(uint16_t queue, struct rule_match *out, char *err, size_t errlen)
{
	char errs[2][256] = {"", ""};
	enum rule_backend preferred = detect_backend(errs[0], sizeof(errs[0]));
	int rc[2];
	int nft = preferred == RULE_BACKEND_LEGACY ? 1 : 0; /* which slot is nft */

	/* Found by either backend wins. -ENOENT means "that backend's tool
	 * is not installed", which is only an error when both are missing;
	 * any other failure is reported (preferred backend first) because
	 * then the rule may exist unseen. */
	for (int i = 0; i < 2; i++) {
		errs[i][0] = '\0';
		if (i == nft)
			rc[i] = check_nft(queue, out, preferred == RULE_BACKEND_NFT, errs[i],
					  sizeof(errs[i]));
		else
			rc[i] = rule_check_legacy(queue, out, errs[i], sizeof(errs[i]));
		if (rc[i] == 1)
			return 1;
	}
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 2; i++) {
		if (rc[i] < 0 && rc[i] != -ENOENT) {
			snprintf(err, errlen, "%s", errs[i]);
			return rc[i];
		}
	}
	if (rc[0] == -ENOENT && rc[1] == -ENOENT) {
		snprintf(err, errlen, "no iptables backend found (%s)", errs[nft]);
		return -ENOENT;
	}
	return 0;
}
