/* failure_detect_close - see failure_detect_close.h. */
#include "failure_detect_close.h"

enum fdet_close_spec fdet_close_spec(const struct fdet_close_view *v)
{
	if (!v->tracked)
		return FDET_CLOSE_UNTRACKED;
	/* A retransmitted FIN, or an RST after a FIN that was passed: the
	 * close was judged already. */
	if (v->server_closed)
		return FDET_CLOSE_EXPECTED;
	/* The client ended the connection; nothing is left to keep. */
	if (v->client_closed)
		return FDET_CLOSE_EXPECTED;
	/* Without the protocol's framing nothing is explained. */
	if (!v->http || !v->parse_ok)
		return FDET_CLOSE_UNEXPLAINED;
	if (v->close_announced || v->close_delimited)
		return FDET_CLOSE_EXPECTED;
	return FDET_CLOSE_UNEXPLAINED;
}

enum fdet_close_probe fdet_close_probe_of(int probe_result)
{
	return probe_result == 0 ? FDET_CLOSE_PROBE_ALIVE : FDET_CLOSE_PROBE_DEAD;
}

enum fdet_close_verdict fdet_close_decide(enum fdet_close_spec spec, enum fdet_close_probe probe)
{
	switch (spec) {
	case FDET_CLOSE_UNTRACKED:
	case FDET_CLOSE_EXPECTED:
		return FDET_CLOSE_PASS;
	case FDET_CLOSE_UNEXPLAINED:
		break;
	}
	switch (probe) {
	case FDET_CLOSE_PROBE_NONE:
		return FDET_CLOSE_PROBE;
	case FDET_CLOSE_PROBE_DEAD:
		return FDET_CLOSE_DROP;
	case FDET_CLOSE_PROBE_ALIVE:
	case FDET_CLOSE_PROBE_UNAVAILABLE:
		break;
	}
	return FDET_CLOSE_PASS;
}

const char *fdet_close_spec_name(enum fdet_close_spec s)
{
	switch (s) {
	case FDET_CLOSE_UNTRACKED:
		return "untracked";
	case FDET_CLOSE_EXPECTED:
		return "expected";
	case FDET_CLOSE_UNEXPLAINED:
		return "unexplained";
	}
	return "?";
}

const char *fdet_close_verdict_name(enum fdet_close_verdict v)
{
	switch (v) {
	case FDET_CLOSE_PASS:
		return "pass";
	case FDET_CLOSE_PROBE:
		return "probe";
	case FDET_CLOSE_DROP:
		return "drop";
	}
	return "?";
}
