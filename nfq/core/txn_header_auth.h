/* txn_header_auth - the X-Craft-Txn header that a backend may believe.
 *
 * During a recovery the proxy's recovery manager replays requests on a
 * NEW connection to the alternate backend and tells the application which
 * transaction ID each one had ("X-Craft-Txn: <16 hex>", session_sync.h).
 * A client can write the same header into its own requests, and since the
 * proxies splice client bytes untouched after the first request (the
 * kernel rewrites sequence numbers, no one rewrites payload), the header
 * cannot be stripped where client requests enter: removing bytes from a
 * spliced stream would shift every later sequence number. So the header
 * is authenticated instead: the recovery manager adds
 *   X-Craft-Txn-Auth: <32 hex>
 * = the first 16 bytes of HMAC-SHA256(cluster key, "craft-txn-auth-v1" ||
 *   txn id (u64 BE) || client ipv4 || client port (u16 BE) ||
 *   server ipv4 || server port (u16 BE))
 * where client/server are the replay connection's ends (the proxy's IVIP
 * and port, the alternate's address and port). Binding the tag to the
 * connection means a tag seen once cannot be pasted into another
 * connection; binding it to the ID means it cannot be moved to another
 * transaction. A backend that holds the cluster key (webmail.txn_key_file)
 * believes X-Craft-Txn only with a valid tag on the same connection and
 * otherwise numbers the request as if the header were absent (counted).
 *
 * The logger reads X-Craft-Txn too (aux-logger mode, aux_txn_id of a
 * front transaction): that is a label in the log, never an identity the
 * logger acts on, so it needs no key. 128 bits of tag: a forger needs the
 * key. Comparison is constant time. */
#ifndef CRAFT_TXN_HEADER_AUTH_H
#define CRAFT_TXN_HEADER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth_msg.h"

#define TXN_AUTH_HEADER_NAME "X-Craft-Txn-Auth"
#define TXN_AUTH_TAG_LEN     16
#define TXN_AUTH_TAG_HEX     (2 * TXN_AUTH_TAG_LEN)
/* "X-Craft-Txn: " 16 hex CRLF "X-Craft-Txn-Auth: " 32 hex CRLF */
#define TXN_AUTH_HEADERS_LEN (13 + 16 + 2 + 18 + TXN_AUTH_TAG_HEX + 2)

/* The replay connection, as both ends see it. */
struct txn_auth_conn {
	uint32_t client_ip, server_ip;	   /* network order */
	uint16_t client_port, server_port; /* host order */
};

void txn_auth_tag(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		  uint8_t tag[TXN_AUTH_TAG_LEN]);

/* Both header lines (TXN_AUTH_HEADERS_LEN bytes, NUL after them):
 * the length, or -ENOSPC when len <= TXN_AUTH_HEADERS_LEN. What the
 * recovery manager inserts after each replayed request line. */
int txn_auth_headers(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		     char *buf, size_t len);

/* The value of an X-Craft-Txn-Auth header (blanks around it already
 * trimmed): 0 when it is the tag of (txn_id, c), -EINVAL when it is not 32
 * hex digits, -EBADMSG when it is another tag. */
int txn_auth_verify(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		    const char *hex, size_t len);

#endif
