/* failure_detect_close - is a backend's FIN or RST a crash or a normal
 * close? The decision the logger's crash guard (nfq/logger/crash_guard.h)
 * makes for every FIN/RST a backend sends, as pure functions of what the
 * application protocol says about the connection at that moment and of a
 * liveness probe's outcome.
 *
 * Why: when a backend's server process dies (SIGKILL, a crash), its kernel
 * closes the process's sockets: a FIN (or an RST when data was unread)
 * goes toward the client and later client segments draw RSTs. Passed on,
 * they end the very connection recovery exists to keep; the adaptive
 * detector (failure_detect.h) would only notice afterwards. The logger
 * gives every packet its verdict, so it can hold such a FIN until it knows
 * which it is:
 *   - the protocol explains it (a response complete under Connection:
 *     close, a close-delimited body in progress) or the client closed
 *     first: a normal close, PASS;
 *   - otherwise (a request outstanding, a response cut short, an idle
 *     keep-alive connection) it is suspicious, not proof: a server may
 *     close idle connections at will, and one of several worker processes
 *     may die while the service lives on. A liveness probe of the service
 *     port decides: it answers - PASS (a real close the client must see);
 *     refused, timed out or reset - the service is gone: DROP the close and
 *     declare the backend failed, so that recovery moves the connection.
 * A probe that could not be made at all is no evidence: PASS, the
 * behaviour without the guard (fail-open, counted by the caller).
 *
 * Line protocols have no way to announce a close in their messages, so
 * every close of theirs is checked by a probe. */
#ifndef CRAFT_FAILURE_DETECT_CLOSE_H
#define CRAFT_FAILURE_DETECT_CLOSE_H

#include <stdbool.h>
#include <stdint.h>

/* What the transaction log knows about a connection when its backend's
 * FIN/RST arrives (txn_log_close_view() fills it), the segment's payload
 * already taken into account. */
struct fdet_close_view {
	bool tracked;	    /* a logged connection, and the packet is its server's */
	bool server_closed; /* a FIN or RST of the server was passed on before */
	bool client_closed; /* the client's FIN or RST came first: the server answers it */
	bool http;	    /* HTTP/1.x; false: a line protocol */
	bool parse_ok;	    /* in sync (not opaque, desynchronised or failed) */
	/* A response completed under Connection: close (the request's or its
	 * own): the server announced the close. */
	bool close_announced;
	/* A close-delimited response has begun and not ended: it ends at the
	 * FIN by definition. */
	bool close_delimited;
	uint32_t open_txns;	  /* transactions not ended */
	bool request_outstanding; /* a request complete, its response not */
};

enum fdet_close_spec {
	FDET_CLOSE_UNTRACKED = 0, /* not ours to judge (not logged, client side) */
	FDET_CLOSE_EXPECTED,	  /* the protocol explains the close */
	FDET_CLOSE_UNEXPLAINED,	  /* a probe must decide */
};

/* The outcome of the liveness probe asked for an unexplained close. */
enum fdet_close_probe {
	FDET_CLOSE_PROBE_NONE = 0,    /* none yet */
	FDET_CLOSE_PROBE_ALIVE,	      /* the service answered */
	FDET_CLOSE_PROBE_DEAD,	      /* refused, timed out, reset, unreachable */
	FDET_CLOSE_PROBE_UNAVAILABLE, /* could not be made: no evidence */
};

enum fdet_close_verdict {
	FDET_CLOSE_PASS = 0, /* accept the FIN/RST: a normal close */
	FDET_CLOSE_PROBE,    /* hold it and probe (or wait for the probe) */
	FDET_CLOSE_DROP,     /* the process crashed: drop it, declare the failure */
};

enum fdet_close_spec fdet_close_spec(const struct fdet_close_view *v);
/* A liveness_probe.h result (0 or -errno) as an outcome. */
enum fdet_close_probe fdet_close_probe_of(int probe_result);
enum fdet_close_verdict fdet_close_decide(enum fdet_close_spec spec, enum fdet_close_probe probe);

const char *fdet_close_spec_name(enum fdet_close_spec s);
const char *fdet_close_verdict_name(enum fdet_close_verdict v);

#endif
