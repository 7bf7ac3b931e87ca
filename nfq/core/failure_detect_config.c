/* failure_detect_config - the detector's configuration (keys, defaults,
 * consistency check), names, the estimator arithmetic and the request-kind
 * helper: the parts of failure_detect.h that hold no detector state, kept
 * apart so that failure_detect.c is only the state machine. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "failure_detect.h"

#define SAMPLE_MAX_US (1ull << 40) /* ~12 days: keeps the scaled sums in range */

/* ---- config ------------------------------------------------------------ */

#define K(type, key, field, ...)                                                                   \
	CONFIG_##type("detect", key, struct fdet_config, field, __VA_ARGS__)
const struct config_key fdet_config_keys[] = {
    K(U32, "k", k, 1, 64),
    K(DURATION_MS, "floor", floor_ms, 1, 3600000),
    K(DURATION_MS, "ceiling", ceiling_ms, 1, 3600000),
    K(DURATION_MS, "initial", initial_ms, 0, 3600000),
    K(U32, "min_samples", min_samples, 1, 100000),
    K(DURATION_MS, "confirm", confirm_ms, 1, 600000),
    K(DURATION_MS, "idle_probe", idle_probe_ms, 10, 3600000),
    K(U32, "idle_fail_threshold", idle_fail_threshold, 1, 100),
    K(U32, "recover_probes", recover_probes, 1, 100),
    K(U32, "max_backends", max_backends, 1, FDET_MAX_BACKENDS),
    K(U32, "max_kinds", max_kinds, 1, FDET_MAX_KINDS),
    K(U32, "max_conns", max_conns, 1, FDET_MAX_CONNS),
    {0},
};
#undef K

void fdet_config_default(struct fdet_config *cfg)
{
	*cfg = (struct fdet_config){
	    .k = 4,
	    .floor_ms = 200,
	    .ceiling_ms = 5000,
	    .initial_ms = 0,
	    .min_samples = 8,
	    .confirm_ms = 300,
	    .idle_probe_ms = 3000,
	    .idle_fail_threshold = 2,
	    .recover_probes = 3,
	    .max_backends = 64,
	    .max_kinds = 32,
	    .max_conns = 16384,
	};
}

int fdet_config_check(const struct fdet_config *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	if (cfg->k == 0)
		why = "k must be at least 1";
	else if (cfg->floor_ms == 0 || cfg->floor_ms > cfg->ceiling_ms)
		why = "floor must be between 1ms and ceiling";
	else if (cfg->initial_ms > cfg->ceiling_ms)
		why = "initial must not exceed ceiling";
	else if (cfg->min_samples == 0)
		why = "min_samples must be at least 1";
	else if (cfg->confirm_ms == 0 || cfg->idle_probe_ms == 0)
		why = "confirm and idle_probe must be positive";
	else if (cfg->idle_fail_threshold == 0 || cfg->recover_probes == 0)
		why = "idle_fail_threshold and recover_probes must be at least 1";
	else if (cfg->max_backends == 0 || cfg->max_backends > FDET_MAX_BACKENDS ||
		 cfg->max_kinds == 0 || cfg->max_kinds > FDET_MAX_KINDS || cfg->max_conns == 0 ||
		 cfg->max_conns > FDET_MAX_CONNS)
		why = "table size out of range";
	if (!why)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "detect: %s", why);
	return -EINVAL;
}

const char *fdet_state_name(enum fdet_state s)
{
	switch (s) {
	case FDET_UP:
		return "up";
	case FDET_SUSPECT:
		return "suspect";
	case FDET_FAILED:
		return "failed";
	}
	return "?";
}

const char *fdet_cause_name(enum fdet_cause c)
{
	switch (c) {
	case FDET_CAUSE_CONFIRM_TIMEOUT:
		return "confirm_timeout";
	case FDET_CAUSE_PROBE_FAILED:
		return "probe_failed";
	case FDET_CAUSE_IDLE_PROBE:
		return "idle_probe";
	}
	return "?";
}

void fdet_ewma_sample(struct fdet_ewma *e, uint64_t sample_us)
{
	int64_t m = (int64_t)(sample_us > SAMPLE_MAX_US ? SAMPLE_MAX_US : sample_us);
	if (e->samples == 0) {
		e->mean_x8 = m * 8; /* mean = s */
		e->dev_x4 = m * 2;  /* dev = s / 2 */
	} else {
		int64_t err = m - e->mean_x8 / 8;
		e->mean_x8 += err;				     /* mean += err / 8 */
		e->dev_x4 += (err < 0 ? -err : err) - e->dev_x4 / 4; /* dev += (|err| - dev) / 4 */
	}
	if (e->samples < UINT32_MAX)
		e->samples++;
}

void fdet_kind_http(const char *method, const char *target, char *out, size_t outlen)
{
	if (!outlen)
		return;
	const char *p = target ? target : "";
	const char *sch = strstr(p, "://");
	if (sch && *p != '/') { /* absolute form: drop scheme://authority */
		p = strchr(sch + 3, '/');
		if (!p)
			p = "/";
	}
	size_t n = 0;
	if (*p == '/') {
		n = 1;
		while (p[n] && p[n] != '/' && p[n] != '?' && p[n] != '#')
			n++;
	} else { /* "*" or CONNECT's host:port: the method says enough */
		p = "";
	}
	snprintf(out, outlen, "%s %.*s", method && *method ? method : "?", (int)n, p);
}
