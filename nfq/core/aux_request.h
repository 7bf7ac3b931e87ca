/* aux_request - finds the client transaction ID in one aux request as the
 * backend wrote it (session_sync.h: an IMAP-style tag "craft<16 hex>" as
 * the first word of a line, or an "X-Craft-Txn: <16 hex>" header), and
 * where that request ends, so that the aux logger can answer it without
 * the aux server (nfq/logger/aux_answer.h).
 *
 * The rules are txn_log's aux mode (txn_parser.h: id = the prefix of the
 * first word for line protocols, the header for HTTP), restated for a
 * buffer that holds the start of a connection rather than a stream fed to
 * a parser: the answer module must know the ID before anything leaves for
 * the aux server. What it does not understand (no ID, chunked bodies, a
 * malformed length) it refuses, and the caller relays the connection. */
#ifndef CRAFT_AUX_REQUEST_H
#define CRAFT_AUX_REQUEST_H

#include <stddef.h>
#include <stdint.h>

struct aux_request_rule {
	int proto;	 /* enum txn_proto */
	char header[64]; /* HTTP: the header with the ID */
	char prefix[64]; /* line: the first word's prefix */
};

/* One request at buf[0..len): 1 with *id and its length in *used (line:
 * through its LF; HTTP: head and Content-Length body), 0 when more bytes
 * are needed, -1 when the request carries no usable ID or cannot be
 * framed. */
int aux_request_id(const struct aux_request_rule *rule, const uint8_t *buf, size_t len,
		   uint64_t *id, size_t *used);

#endif
