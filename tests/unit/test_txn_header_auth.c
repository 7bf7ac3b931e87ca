/* test_txn_header_auth.c - the authenticated X-Craft-Txn: the headers the
 * recovery manager writes verify for the same (key, ID, connection) and
 * for nothing else (another key, ID, client port, client or server
 * address, server port; a flipped digit, a truncated or non-hex tag), the
 * header text has its fixed length, and the tag is the documented HMAC. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "txn_header_auth.h"

static struct auth_key key_of(uint8_t fill)
{
	struct auth_key k;
	memset(k.bytes, fill, sizeof(k.bytes));
	return k;
}

static const struct txn_auth_conn conn0 = {
    .client_ip = 0x010bb2c6u, /* 198.178.11.1 in network order on little endian */
    .client_port = 40001,
    .server_ip = 0x0c02b2c6u,
    .server_port = 8080,
};

/* The tag part of the headers txn_auth_headers wrote. */
static const char *tag_of(const char *headers)
{
	const char *t = strstr(headers, TXN_AUTH_HEADER_NAME ": ");
	return t ? t + strlen(TXN_AUTH_HEADER_NAME ": ") : NULL;
}

START_TEST(headers_verify)
{
	ck_assert_int_ge(sodium_init(), 0);
	struct auth_key k = key_of(0x5a);
	char buf[128];
	int n = txn_auth_headers(&k, 0x00c6120b9c400003ull, &conn0, buf, sizeof(buf));
	ck_assert_int_eq(n, TXN_AUTH_HEADERS_LEN);
	ck_assert_uint_eq(strlen(buf), (size_t)n);
	ck_assert(!strncmp(buf, "X-Craft-Txn: 00c6120b9c400003\r\nX-Craft-Txn-Auth: ", 49));
	ck_assert(!strcmp(buf + n - 2, "\r\n"));
	const char *tag = tag_of(buf);
	ck_assert_ptr_nonnull(tag);
	ck_assert_int_eq(txn_auth_verify(&k, 0x00c6120b9c400003ull, &conn0, tag, TXN_AUTH_TAG_HEX),
			 0);
	/* too small a buffer */
	ck_assert_int_eq(txn_auth_headers(&k, 1, &conn0, buf, TXN_AUTH_HEADERS_LEN), -ENOSPC);
}
END_TEST

START_TEST(refuses_everything_else)
{
	ck_assert_int_ge(sodium_init(), 0);
	struct auth_key k = key_of(0x5a), other = key_of(0x5b);
	const uint64_t id = 0x00c6120b9c400003ull;
	char buf[128], tag[TXN_AUTH_TAG_HEX + 1];
	txn_auth_headers(&k, id, &conn0, buf, sizeof(buf));
	memcpy(tag, tag_of(buf), TXN_AUTH_TAG_HEX);
	tag[TXN_AUTH_TAG_HEX] = '\0';
	ck_assert_int_eq(txn_auth_verify(&other, id, &conn0, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	ck_assert_int_eq(txn_auth_verify(&k, id + 1, &conn0, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	struct txn_auth_conn c = conn0;
	c.client_port++;
	ck_assert_int_eq(txn_auth_verify(&k, id, &c, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	c = conn0;
	c.client_ip ^= htonl(1);
	ck_assert_int_eq(txn_auth_verify(&k, id, &c, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	c = conn0;
	c.server_ip ^= htonl(1);
	ck_assert_int_eq(txn_auth_verify(&k, id, &c, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	c = conn0;
	c.server_port = 80;
	ck_assert_int_eq(txn_auth_verify(&k, id, &c, tag, TXN_AUTH_TAG_HEX), -EBADMSG);
	/* every single digit matters */
	for (int i = 0; i < TXN_AUTH_TAG_HEX; i++) {
		char t2[TXN_AUTH_TAG_HEX + 1];
		memcpy(t2, tag, sizeof(t2));
		t2[i] = t2[i] == '0' ? '1' : '0';
		ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, t2, TXN_AUTH_TAG_HEX), -EBADMSG);
	}
	/* upper case hex is the same tag */
	char up[TXN_AUTH_TAG_HEX + 1];
	for (int i = 0; i <= TXN_AUTH_TAG_HEX; i++)
		up[i] = (char)(tag[i] >= 'a' && tag[i] <= 'f' ? tag[i] - 32 : tag[i]);
	ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, up, TXN_AUTH_TAG_HEX), 0);
	/* malformed */
	ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, tag, TXN_AUTH_TAG_HEX - 1), -EINVAL);
	ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, "", 0), -EINVAL);
	char bad[TXN_AUTH_TAG_HEX + 1];
	memcpy(bad, tag, sizeof(bad));
	bad[7] = 'g';
	ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, bad, TXN_AUTH_TAG_HEX), -EINVAL);
	/* a client's guess: all zeros */
	memset(bad, '0', TXN_AUTH_TAG_HEX);
	ck_assert_int_eq(txn_auth_verify(&k, id, &conn0, bad, TXN_AUTH_TAG_HEX), -EBADMSG);
}
END_TEST

/* The tag is HMAC-SHA256 over the layout txn_header_auth.h documents,
 * truncated: rebuilt here byte by byte from that comment, so that the
 * recovery manager and any other implementation can rely on it. */
START_TEST(tag_is_truncated_hmac)
{
	ck_assert_int_ge(sodium_init(), 0);
	struct auth_key k = key_of(0x0b);
	const uint64_t id = 0x0102030405060708ull;
	uint8_t msg[64], mac[32], tag[TXN_AUTH_TAG_LEN];
	size_t n = 0;
	memcpy(msg, "craft-txn-auth-v1", 17);
	n = 17;
	for (int i = 0; i < 8; i++)
		msg[n++] = (uint8_t)(i + 1);
	memcpy(msg + n, &conn0.client_ip, 4);
	n += 4;
	msg[n++] = 40001 >> 8;
	msg[n++] = 40001 & 255;
	memcpy(msg + n, &conn0.server_ip, 4);
	n += 4;
	msg[n++] = 8080 >> 8;
	msg[n++] = 8080 & 255;
	crypto_auth_hmacsha256(mac, msg, n, k.bytes);
	txn_auth_tag(&k, id, &conn0, tag);
	ck_assert_mem_eq(tag, mac, TXN_AUTH_TAG_LEN);
}
END_TEST

Suite *txn_header_auth_suite(void);
Suite *txn_header_auth_suite(void)
{
	Suite *s = suite_create("txn_header_auth");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, headers_verify);
	tcase_add_test(tc, refuses_everything_else);
	tcase_add_test(tc, tag_is_truncated_hmac);
	suite_add_tcase(s, tc);
	return s;
}
