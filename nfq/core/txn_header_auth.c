/* txn_header_auth - see txn_header_auth.h. */
#include "txn_header_auth.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "session_sync.h"

#define DOMAIN "craft-txn-auth-v1"

_Static_assert(AUTH_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "key size");

void txn_auth_tag(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		  uint8_t tag[TXN_AUTH_TAG_LEN])
{
	uint8_t msg[sizeof(DOMAIN) - 1 + 8 + 12], *p = msg;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	memcpy(p, DOMAIN, sizeof(DOMAIN) - 1);
	p += sizeof(DOMAIN) - 1;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(txn_id >> (56 - 8 * i));
	memcpy(p, &c->client_ip, 4); /* network order already */
	p += 4;
	*p++ = (uint8_t)(c->client_port >> 8);
	*p++ = (uint8_t)c->client_port;
	memcpy(p, &c->server_ip, 4);
	p += 4;
	*p++ = (uint8_t)(c->server_port >> 8);
	*p++ = (uint8_t)c->server_port;
	crypto_auth_hmacsha256(mac, msg, (size_t)(p - msg), key->bytes);
	memcpy(tag, mac, TXN_AUTH_TAG_LEN);
	sodium_memzero(mac, sizeof(mac));
}

int txn_auth_headers(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		     char *buf, size_t len)
{
	uint8_t tag[TXN_AUTH_TAG_LEN];
	char hex[TXN_AUTH_TAG_HEX + 1];
	txn_auth_tag(key, txn_id, c, tag);
	sodium_bin2hex(hex, sizeof(hex), tag, sizeof(tag));
	int n = snprintf(buf, len, "%s: %016llx\r\n%s: %s\r\n", SESSION_SYNC_TXN_HEADER_NAME,
			 (unsigned long long)txn_id, TXN_AUTH_HEADER_NAME, hex);
	return n >= 0 && (size_t)n < len ? n : -ENOSPC;
}

int txn_auth_verify(const struct auth_key *key, uint64_t txn_id, const struct txn_auth_conn *c,
		    const char *hex, size_t len)
{
	uint8_t got[TXN_AUTH_TAG_LEN], want[TXN_AUTH_TAG_LEN];
	if (len != TXN_AUTH_TAG_HEX)
		return -EINVAL;
	for (size_t i = 0; i < TXN_AUTH_TAG_LEN; i++) {
		int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		got[i] = (uint8_t)(hi << 4 | lo);
	}
	txn_auth_tag(key, txn_id, c, want);
	return crypto_verify_16(got, want) == 0 ? 0 : -EBADMSG;
}
