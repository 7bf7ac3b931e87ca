/* sha256_stream - see sha256_stream.h. */
#include "sha256_stream.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

int sha256_stream_init(struct sha256_stream *s)
{
	s->failed = false;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx) {
		s->failed = true;
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		sha256_stream_free(s);
		s->failed = true;
		return -EIO;
	}
	return 0;
}

void sha256_stream_update(struct sha256_stream *s, const void *data, size_t len)
{
	if (!s->ctx || s->failed || len == 0)
		return;
	if (EVP_DigestUpdate(s->ctx, data, len) != 1)
		s->failed = true;
}

int sha256_stream_final(struct sha256_stream *s, uint8_t out[SHA256_DIGEST_LEN])
{
	unsigned int n = 0;
	bool ok = s->ctx && !s->failed && EVP_DigestFinal_ex(s->ctx, out, &n) == 1 &&
		  n == SHA256_DIGEST_LEN;
	sha256_stream_free(s);
	if (!ok) {
		memset(out, 0, SHA256_DIGEST_LEN);
		return -EIO;
	}
	return 0;
}

void sha256_stream_free(struct sha256_stream *s)
{
	EVP_MD_CTX_free(s->ctx); /* NULL is fine */
	s->ctx = NULL;
}

int sha256_digest(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN])
{
	unsigned int n = 0;
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA256_DIGEST_LEN) {
		memset(out, 0, SHA256_DIGEST_LEN);
		return -EIO;
	}
	return 0;
}
