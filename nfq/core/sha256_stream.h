/* sha256_stream - incremental SHA-256 for message digests on the data path
 * (the logger hashes every response body above its keep limit).
 *
 * Why OpenSSL's libcrypto and not libsodium (which the project uses for
 * HMAC): libsodium's SHA-256 is portable C, about 0.4 GB/s here, while
 * libcrypto uses the CPU's SHA extensions (about 1.6 GB/s on the test
 * host): hashing was two thirds of the logger's CPU time in log mode.
 *
 * The state is allocated (EVP contexts are opaque), so every stream that
 * was initialised must end in sha256_stream_final or sha256_stream_free;
 * both are safe on a zeroed or already finished stream. An allocation or
 * library failure does not abort: the stream is marked failed and final
 * says so, so a caller records "no digest" instead of a wrong one. */
#ifndef CRAFT_SHA256_STREAM_H
#define CRAFT_SHA256_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

struct sha256_stream {
	void *ctx; /* EVP_MD_CTX */
	bool failed;
};

/* 0, or -ENOMEM / -EIO (the stream is then failed, updates are ignored). */
int sha256_stream_init(struct sha256_stream *s);
void sha256_stream_update(struct sha256_stream *s, const void *data, size_t len);
/* Writes the digest and releases the state: 0, or -EIO if the stream
 * failed at any point (out is then zeroed). */
int sha256_stream_final(struct sha256_stream *s, uint8_t out[SHA256_DIGEST_LEN]);
/* Releases the state without a digest. */
void sha256_stream_free(struct sha256_stream *s);

/* One-shot digest; 0 or -EIO. */
int sha256_digest(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
