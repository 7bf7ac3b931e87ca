/* recovery_plan_splice - the numbers of a re-splice: how the logger's
 * stream offsets become the client's sequence numbers through the old
 * splice, which endpoints the new splice gets, and how the replayed
 * response bytes are compared with the logged ones.
 *
 * Why apart from the recovery manager: these are the places where an
 * off-by-one silently corrupts a client's byte stream, so they are pure
 * functions with unit tests, like recovery_plan.h.
 *
 * Numbering. The logger counts both streams of the backend-side connection
 * (IVIP:port <-> backend) from each side's ISN + 1. The old splice's
 * directions say how that connection's sequence numbers map onto the
 * client's (splice_rewrite.h): a server byte at backend sequence S reaches
 * the client as S + dir[B2C].seq_delta; a client byte at client sequence C
 * reaches the backend as C + dir[C2B].seq_delta. The client connection has
 * no socket any more (the proxy froze and closed it at the first splice),
 * so the new splice is built as if the proxy still held it: what the
 * client would receive next and what it would send next, in its own
 * numbering, plus its options, taken from the old record and from what the
 * client itself said while recovery ran (its TSval, its TSecr = the last
 * TSval it accepted from "us").
 *
 * Comparison (paper §3.4): the first p bytes the alternate returns for
 * T_L + 1 must equal the logged ones, or the client would hold a mix of two
 * different responses. One field is allowed to differ: the value of an
 * HTTP `Date:` header in the response head (RFC 9110 §6.6.1: the time the
 * message was generated, which a replay necessarily changes; same length
 * in the IMF-fixdate format every server uses). Everything else, body
 * included, must be identical. */
#ifndef CRAFT_RECOVERY_PLAN_SPLICE_H
#define CRAFT_RECOVERY_PLAN_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splice_rewrite.h"
#include "splice_table.h"
#include "tcp_repair.h"

/* Client sequence number of a server-stream offset (logger numbering). */
uint32_t recovery_client_seq_of_server_off(const struct splice_record *old, uint32_t server_isn,
					   uint64_t off);
/* Client sequence number of a client-stream offset (logger numbering). */
uint32_t recovery_client_seq_of_client_off(const struct splice_record *old, uint32_t client_isn,
					   uint64_t off);

/* What the client connection looks like at the re-splice, in the client's
 * numbering: the next client byte the new backend gets (c_rcv_nxt), the
 * client sequence of the first byte the new backend sends after what
 * recovery consumed (c_snd_nxt), the TSval the proxy shows the client now
 * and the client's last TSval. */
struct recovery_client_view {
	uint32_t c_rcv_nxt, c_snd_nxt;
	uint32_t c_ts_now, client_tsval_last;
};

/* The new backend connection: its frozen state, addresses (host order) and
 * the backend's last TSval. */
struct recovery_backend_view {
	const struct tcp_repair_state *bs;
	uint32_t ivip_addr, backend_addr;
	uint16_t ivip_port, backend_port;
	uint32_t backend_tsval_last;
};

/* Endpoints for splice_record_from_endpoints(): the client side from the
 * old record and the client view, the backend side from the new socket. */
void recovery_resplice_endpoints(struct splice_endpoints *e, const struct splice_record *old,
				 const struct recovery_client_view *cv,
				 const struct recovery_backend_view *bv);

/* Byte ranges [start, end) of a response, relative to its first byte, that
 * the comparison ignores. */
#define RECOVERY_MASK_MAX 4
struct recovery_mask {
	unsigned n;
	uint64_t start[RECOVERY_MASK_MAX], end[RECOVERY_MASK_MAX];
	bool head_complete; /* the head's end was found in the bytes given */
};

/* Finds the values of the Date headers in the head of a response whose
 * first len bytes (from its start) are given. */
void recovery_mask_http_date(const uint8_t *resp, size_t len, struct recovery_mask *m);

/* Compares n bytes at response offset pos; masked bytes are skipped.
 * Returns the response offset of the first difference, or -1 if equal. */
int64_t recovery_compare(const uint8_t *logged, const uint8_t *replayed, size_t n, uint64_t pos,
			 const struct recovery_mask *m);

#endif
