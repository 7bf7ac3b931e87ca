/* rule_check - "does an iptables rule steer packets to my queue?"
 *
 * A daemon whose queue no rule feeds would run happily and see nothing, so
 * each daemon checks at start-up and refuses to run otherwise (unless told
 * --no-rule-check). The check runs in the caller's network namespace.
 *
 * Two backends hold iptables rules and neither sees the other's:
 *  - nf_tables (iptables-nft, the default here): libiptc cannot read it, so
 *    we run `iptables-save` (no shell, bounded output, timeout, empty signal
 *    mask) and parse its lines for `-j NFQUEUE`;
 *  - legacy (x_tables): read with libip4tc, only for the tables listed in
 *    /proc/net/ip_tables_names so that checking never creates a table.
 * `iptables -V` says which one the `iptables` command uses; that backend is
 * checked first, the other one when the first finds nothing.
 *
 * Only the target is checked: a rule in a user chain counts even if no
 * chain jumps to it, and the rule's matches (addresses, ports) are not
 * evaluated. Rules written with `nft` directly are not seen. */
#ifndef CRAFT_RULE_CHECK_H
#define CRAFT_RULE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rule_backend {
	RULE_BACKEND_UNKNOWN = 0,
	RULE_BACKEND_NFT,
	RULE_BACKEND_LEGACY,
};

struct rule_match {
	enum rule_backend backend;
	char table[32];
	char chain[32];
	/* Queues the rule spreads over; first == last for --queue-num. */
	uint16_t queue_first, queue_last;
	bool bypass;	  /* --queue-bypass: fail open when no one listens */
	bool cpu_fanout;  /* --queue-cpu-fanout */
	unsigned matches; /* rules covering the queue; the fields describe the first */
	char rule[256];	  /* the rule as iptables-save prints it (cut if longer) */
};

/* Checks both backends as described above. Returns 1 found (out filled),
 * 0 not found, -errno when the rules cannot be read (err says why). */
int rule_check_queue(uint16_t queue, struct rule_match *out, char *err, size_t errlen);

/* One backend only; same return convention. */
int rule_check_nft(uint16_t queue, struct rule_match *out, char *err, size_t errlen);
int rule_check_legacy(uint16_t queue, struct rule_match *out, char *err, size_t errlen);

/* Which backend `iptables -V` output names: "(nf_tables)" -> NFT,
 * "(legacy)" or no suffix (iptables < 1.8) -> LEGACY, else UNKNOWN. */
enum rule_backend rule_check_parse_version(const char *version_text);
const char *rule_backend_name(enum rule_backend backend);

/* Pure: scans iptables-save text for NFQUEUE rules covering queue.
 * Returns 1 found / 0 not found; out is zeroed first, backend left UNKNOWN. */
int rule_check_parse_save(const char *text, uint16_t queue, struct rule_match *out);

/* The same, fed one line at a time (without its newline). */
struct rule_save_parser {
	uint16_t queue;
	struct rule_match *out;
	char table[32];
	/* "# Warning: iptables-legacy tables present" seen (iptables 1.8.9
	 * prints it on stderr, so only text fed in by a caller carries it;
	 * rule_check_queue checks the legacy tables regardless). */
	bool legacy_warning;
};
void rule_save_parser_init(struct rule_save_parser *p, uint16_t queue, struct rule_match *out);
void rule_save_parser_line(struct rule_save_parser *p, const char *line, size_t len);

/* Pure: decodes the NFQUEUE target data of xt_NFQ_info revision 0..3.
 * Returns 0, or -EINVAL for an unknown revision or short data. */
int rule_check_decode_nfq(unsigned revision, const void *data, size_t len, uint16_t *first,
			  uint16_t *last, bool *bypass, bool *cpu_fanout);

#endif
