/* heartbeat - proxies tell the load balancers that they are alive and how
 * much spare capacity they have (thesis 4.5.2: "a proxy sends a workload
 * factor which reflects the resources currently available on that proxy");
 * a load balancer turns those messages into a membership: who is live, and
 * with which weight.
 *
 * Message: one UDP datagram, auth_msg type HEARTBEAT_MSG_TYPE (HMAC-SHA256
 * with the cluster key, sender id = the proxy's id, epoch + sequence window
 * against replay, timestamp against stale copies). Body, 16 bytes, big
 * endian:
 *    0 u8  version (1)       1 u8  flags (HEARTBEAT_F_*)
 *    2 u16 workload W, 0..1000 (per mille of capacity still available)
 *    4 u32 interval_ms the sender uses
 *    8 u32 connections (informational)
 *   12 u16 cpu per mille busy   14 u16 queue per mille full (informational)
 * A body of another length, another version, unknown flags or a field out of
 * range is refused as malformed.
 *
 * Workload factor (heartbeat_workload): the thesis defines W_i as the
 * fraction of a proxy's capacity still available. A proxy runs out of the
 * scarcest resource first, so we take the minimum of the free fractions:
 *     W = 1000 * min(1 - conns/max_conns, 1 - cpu, 1 - queue/queue_max)
 * where conns are the proxy's connections (accepted + spliced) against its
 * configured maximum, cpu the host's busy fraction over the last interval
 * (from /proc/stat, smoothed: the splice is forwarded in softirq, which a
 * per-process figure would miss), and queue the NFQUEUE backlog against its
 * maximum length (a queue that fills means the daemon is the bottleneck).
 * A term whose maximum is 0 counts as fully free. W = 0 means "alive, send
 * nothing new"; the load balancer then gives it traffic only when every
 * live proxy reports 0.
 *
 * Membership on the load balancer (hb_membership, pure: the caller passes
 * the monotonic clock, so tests use a fake one). Per configured member:
 *   UNKNOWN --good beat--> JOINING --join_count (first time) or
 *   rejoin_count (after a failure) consecutive good beats--> UP
 *   UP --no beat for miss_count * interval--> DOWN (counted, with the
 *        detection time: now - last beat)
 *   UP --beat with HEARTBEAT_F_NOT_READY--> DOWN (a resyncing or draining
 *        proxy leaves at once, and needs rejoin_count good beats to return)
 *   JOINING --gap > miss_count * interval--> back to UNKNOWN/DOWN, count
 *        restarts
 * "Consecutive" means each beat within miss_count * interval of the last.
 * Only beats that authenticated, decoded and came from the member's
 * configured address reach the state machine; everything else is counted
 * by reason and changes nothing.
 */
#ifndef CRAFT_HEARTBEAT_H
#define CRAFT_HEARTBEAT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth_msg.h"
#include "config.h"

struct event_loop;
struct stats_report;

#define HEARTBEAT_MSG_TYPE     0x0201
#define HEARTBEAT_VERSION      1
#define HEARTBEAT_BODY_LEN     16
#define HEARTBEAT_MSG_LEN      (AUTH_MSG_OVERHEAD + HEARTBEAT_BODY_LEN)
#define HEARTBEAT_WORKLOAD_MAX 1000u
#define HEARTBEAT_F_NOT_READY  0x01u /* alive, but give me no traffic */
#define HEARTBEAT_F_ALL	       HEARTBEAT_F_NOT_READY

#define HEARTBEAT_MAX_TARGETS	     8u
#define HEARTBEAT_MAX_MEMBERS	     64u
#define HEARTBEAT_DEFAULT_INTERVAL   200u  /* ms */
#define HEARTBEAT_DEFAULT_PORT	     7401u /* replication has 7400 */
#define HEARTBEAT_DEFAULT_MAX_AGE    2000u /* ms: short, see auth_msg.h */
#define HEARTBEAT_DEFAULT_MAX_FUTURE 1000u

/* ---- message ---------------------------------------------------------- */

struct heartbeat_status {
	uint8_t flags;
	uint16_t workload; /* 0..HEARTBEAT_WORKLOAD_MAX */
	uint32_t interval_ms;
	uint32_t connections;
	uint16_t cpu_permille, queue_permille;
};

/* Refusals beyond auth_msg's (which are -1..-9). */
enum heartbeat_error {
	HEARTBEAT_E_MALFORMED = -101,	 /* body: length, version, flags, range */
	HEARTBEAT_E_WRONG_TYPE = -102,	 /* an authenticated message, not a beat */
	HEARTBEAT_E_WRONG_SOURCE = -103, /* not from the member's address */
	HEARTBEAT_E_TRUNCATED = -104,	 /* datagram larger than a beat */
};

void heartbeat_encode(const struct heartbeat_status *st, uint8_t out[HEARTBEAT_BODY_LEN]);
/* 0 or HEARTBEAT_E_MALFORMED. */
int heartbeat_decode(const uint8_t *body, size_t len, struct heartbeat_status *out);
/* Seals a heartbeat into out (HEARTBEAT_MSG_LEN bytes). Returns the length
 * or a negative auth_msg_seal error. */
ssize_t heartbeat_seal(struct auth_sender *s, const struct auth_key *key,
		       const struct heartbeat_status *st, void *out, size_t cap, uint64_t now_ms);

/* ---- workload ---------------------------------------------------------- */

/* The formula above; every input is clamped to its maximum. */
uint16_t heartbeat_workload(uint32_t conns, uint32_t max_conns, uint32_t cpu_permille,
			    uint32_t queue_len, uint32_t queue_max);

/* Host CPU busy fraction from /proc/stat between two calls, smoothed with
 * an EWMA of gain 1/4. The first call primes it and returns 0. */
struct heartbeat_cpu {
	uint64_t busy, total;
	uint32_t smoothed; /* per mille * 16 */
	bool primed;
};
/* Feeds one /proc/stat "cpu" line's counters (tests), returns per mille. */
uint32_t heartbeat_cpu_feed(struct heartbeat_cpu *c, uint64_t busy, uint64_t total);
/* Reads /proc/stat. Returns per mille, or -errno. */
int heartbeat_cpu_sample(struct heartbeat_cpu *c);

/* ---- sender (the proxy side) ------------------------------------------- */

struct heartbeat_sender_config {
	uint32_t id; /* auth sender id: the proxy's id */
	struct sockaddr_in targets[HEARTBEAT_MAX_TARGETS];
	unsigned ntargets;
	struct in_addr source; /* bind address; 0.0.0.0 = the kernel's choice */
	uint64_t interval_ms;
	char key_file[256];
};

void heartbeat_sender_config_default(struct heartbeat_sender_config *cfg);

/* Section [heartbeat] of a proxy's config file, for a daemon whose config
 * struct T holds a struct heartbeat_sender_config in field f: put
 *   HEARTBEAT_SENDER_KEYS(struct proxy_config, hb),
 * into its key table. Keys: target (repeatable ADDR:PORT, one per load
 * balancer), interval, source (bind address), key_file (empty: the daemon
 * passes its cluster key to heartbeat_sender_open). */
#define HEARTBEAT_SENDER_KEYS(T, f)                                                                \
	{.section = "heartbeat",                                                                   \
	 .key = "target",                                                                          \
	 .type = CONFIG_T_CUSTOM,                                                                  \
	 .flags = CONFIG_F_REPEATABLE,                                                             \
	 .offset = offsetof(T, f) + CONFIG__IS(T, f, struct heartbeat_sender_config),              \
	 .parse = heartbeat_parse_target,                                                          \
	 .dump = heartbeat_dump_targets},                                                          \
	    CONFIG_DURATION_MS("heartbeat", "interval", T, f.interval_ms, 5, 60000),               \
	    CONFIG_IPV4("heartbeat", "source", T, f.source),                                       \
	    CONFIG_STR("heartbeat", "key_file", T, f.key_file)
/* The custom key's parser and printer (key->offset locates the config). */
config_custom_fn heartbeat_parse_target;
config_dump_fn heartbeat_dump_targets;
/* The same keys as a table of their own, whose dst is a struct
 * heartbeat_sender_config (for daemon_info.more_tables:
 * {heartbeat_sender_config_keys, &px.cfg.hb}). */
extern const struct config_key heartbeat_sender_config_keys[];

/* Fills the status of the next beat (flags, workload, informational
 * fields; interval_ms is set by the sender). Return 0 to send, < 0 to skip
 * this beat. */
typedef int (*heartbeat_status_fn)(void *ctx, struct heartbeat_status *st);

struct heartbeat_sender_stats {
	uint64_t sent, send_errors, skipped, seal_errors;
	uint16_t last_workload;
	uint8_t last_flags;
};

struct heartbeat_sender {
	struct heartbeat_sender_config cfg;
	struct auth_key key;
	struct auth_sender auth;
	struct event_loop *loop;
	int fd, timer_fd;
	heartbeat_status_fn status;
	void *ctx;
	struct heartbeat_sender_stats st;
};

/* Opens the socket, sends the first beat at once and then one every
 * interval from a timer in loop. key: the cluster key, or NULL to load
 * cfg->key_file. status may be NULL (then W = 1000, no flags). 0 or
 * -errno with a message in err. */
int heartbeat_sender_open(struct heartbeat_sender *s, const struct heartbeat_sender_config *cfg,
			  const struct auth_key *key, struct event_loop *loop,
			  heartbeat_status_fn status, void *ctx, char *err, size_t errlen);
/* Sends one beat now (e.g. right after the proxy became ready). 0 when at
 * least one target got it, else -errno. */
int heartbeat_sender_beat(struct heartbeat_sender *s);
void heartbeat_sender_close(struct heartbeat_sender *s);
void heartbeat_sender_collect_stats(const struct heartbeat_sender *s, struct stats_report *r,
				    const char *prefix);

/* ---- membership (the load balancer side, pure) ------------------------- */

enum hb_member_state { HB_UNKNOWN = 0, HB_JOINING, HB_UP, HB_DOWN };

struct hb_membership_config {
	uint64_t interval_ms;
	uint32_t miss_count;   /* beats missed before removal (3) */
	uint32_t join_count;   /* good beats to admit a member never up (1) */
	uint32_t rejoin_count; /* good beats to re-admit after a failure (3) */
};

struct hb_member {
	uint32_t id;
	struct in_addr addr; /* the member's real address: beats must come from it */
	enum hb_member_state state;
	bool ever_up;
	uint32_t run; /* consecutive good beats while not UP */
	uint64_t last_beat_ms;
	struct heartbeat_status status; /* of the last good beat */
	/* counters */
	uint64_t beats, not_ready_beats;
	uint64_t ups, downs, drains;
	uint64_t detect_last_ms, detect_max_ms, detect_sum_ms;
	uint64_t up_since_ms, down_since_ms;
};

struct hb_membership {
	struct hb_membership_config cfg;
	struct hb_member members[HEARTBEAT_MAX_MEMBERS];
	unsigned n;
	uint64_t changes; /* transitions into or out of UP */
};

void hb_membership_config_default(struct hb_membership_config *cfg);
/* 0 or -EINVAL (n too large, duplicate ids, zero interval or counts). */
int hb_membership_init(struct hb_membership *m, const struct hb_membership_config *cfg,
		       const uint32_t *ids, const struct in_addr *addrs, unsigned n);
int hb_membership_find(const struct hb_membership *m, uint32_t id);
/* A verified beat of member idx at now_ms. Returns true when the member
 * entered or left UP. */
bool hb_membership_beat(struct hb_membership *m, unsigned idx, const struct heartbeat_status *st,
			uint64_t now_ms);
/* Expires silent members. Returns the number that left UP. */
unsigned hb_membership_tick(struct hb_membership *m, uint64_t now_ms);
static inline bool hb_member_live(const struct hb_member *mb)
{
	return mb->state == HB_UP;
}
const char *hb_member_state_name(enum hb_member_state s);

/* ---- receiver (socket + authentication + membership) ------------------- */

struct heartbeat_receiver_config {
	struct sockaddr_in listen;
	struct hb_membership_config members;
	char key_file[256];
	uint64_t max_age_ms, max_future_ms;
	bool check_source;
	uint64_t rcvbuf;
};

void heartbeat_receiver_config_default(struct heartbeat_receiver_config *cfg);
/* Section [heartbeat] of a load balancer whose config struct T holds a
 * struct heartbeat_receiver_config in field f: listen, interval, miss,
 * join, rejoin, key_file, max_age, max_future, check_source, rcvbuf. */
#define HEARTBEAT_RECEIVER_KEYS(T, f)                                                              \
	CONFIG_IPV4_PORT("heartbeat", "listen", T, f.listen),                                      \
	    CONFIG_DURATION_MS("heartbeat", "interval", T, f.members.interval_ms, 5, 60000),       \
	    CONFIG_U32("heartbeat", "miss", T, f.members.miss_count, 1, 100),                      \
	    CONFIG_U32("heartbeat", "join", T, f.members.join_count, 1, 100),                      \
	    CONFIG_U32("heartbeat", "rejoin", T, f.members.rejoin_count, 1, 100),                  \
	    CONFIG_STR("heartbeat", "key_file", T, f.key_file),                                    \
	    CONFIG_DURATION_MS("heartbeat", "max_age", T, f.max_age_ms, 10, 3600000),              \
	    CONFIG_DURATION_MS("heartbeat", "max_future", T, f.max_future_ms, 0, 3600000),         \
	    CONFIG_BOOL("heartbeat", "check_source", T, f.check_source),                           \
	    CONFIG_SIZE("heartbeat", "rcvbuf", T, f.rcvbuf, 0, 1ull << 28)
/* As a table of its own over a struct heartbeat_receiver_config. */
extern const struct config_key heartbeat_receiver_config_keys[];

/* Reasons a datagram was refused after authentication. */
struct heartbeat_receiver_stats {
	uint64_t datagrams; /* received, whatever they hold */
	uint64_t good;	    /* beats that reached the membership */
	uint64_t truncated, wrong_type, malformed, wrong_source, recv_errors;
};

/* Called for every good beat of member idx; changed = it entered/left UP. */
typedef void (*heartbeat_update_fn)(void *ctx, unsigned idx, const struct hb_member *mb,
				    bool changed);

struct heartbeat_receiver {
	struct heartbeat_receiver_config cfg;
	struct auth_key key;
	struct auth_receiver auth;
	struct hb_membership members;
	struct event_loop *loop;
	int fd, timer_fd;
	heartbeat_update_fn update;
	void *ctx;
	struct heartbeat_receiver_stats st;
	bool auth_ready;
};

/* Sets up authentication (allow-list = the member ids) and the membership
 * without a socket: heartbeat_receiver_input and _tick then work on
 * buffers (tests). 0 or -errno with a message in err. */
int heartbeat_receiver_init(struct heartbeat_receiver *r,
			    const struct heartbeat_receiver_config *cfg, const struct auth_key *key,
			    const uint32_t *ids, const struct in_addr *addrs, unsigned n,
			    heartbeat_update_fn update, void *ctx, char *err, size_t errlen);
/* Binds the socket and registers it and a tick timer in loop. */
int heartbeat_receiver_open(struct heartbeat_receiver *r, struct event_loop *loop, char *err,
			    size_t errlen);
/* One datagram from `from` (NULL: no source check) at the given clocks.
 * Returns 0 for a beat that reached the membership, else a negative
 * auth_result or heartbeat_error. */
int heartbeat_receiver_input(struct heartbeat_receiver *r, const void *buf, size_t len,
			     const struct sockaddr_in *from, uint64_t wall_ms, uint64_t mono_ms);
void heartbeat_receiver_tick(struct heartbeat_receiver *r, uint64_t mono_ms);
void heartbeat_receiver_close(struct heartbeat_receiver *r);
/* hb_accepted, hb_bad_tag, ..., hb_wrong_source, ... (global counters). */
void heartbeat_receiver_collect_stats(const struct heartbeat_receiver *r, struct stats_report *rep,
				      const char *prefix);

#endif
