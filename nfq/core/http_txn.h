/* http_txn - HTTP/1.0 and 1.1 transactions for txn_parser, built on
 * Debian's libhttp-parser (the nodejs http-parser, 2.9.x, <http_parser.h>).
 *
 * Why that parser: it is packaged and security-maintained by Debian, it is
 * streaming (keeps a few dozen bytes of state per direction and never
 * buffers), callback-based, and it is the parser a large body of software
 * was hardened against (request smuggling: it rejects duplicate
 * Content-Length, Content-Length together with chunked, invalid chunk sizes,
 * a non-chunked Transfer-Encoding on a request).  Writing our own would add
 * risk without benefit.  Upstream declared it "maintenance only" in favour
 * of llhttp, for which no Debian C library package is available here; the 2.9
 * API is frozen, which suits an embedder.
 *
 * What this module adds on top:
 * - exact stream offsets: every notify callback pauses the parser, so the
 *   offset of each message's first and last byte is known exactly however
 *   the bytes were split (a request written a byte at a time gives the same
 *   events as one write);
 * - request/response matching, first in first out (pipelining), with HEAD
 *   responses (Content-Length but no body), 1xx interim responses (not the
 *   final response: Expect: 100-continue uploads), 204 and 304 (no body),
 *   close-delimited bodies (end at txn_parser_eof), CONNECT and Upgrade:
 *   the client's bytes after such a request are held (bounded) until the
 *   response decides; 101 or a 2xx to CONNECT make the connection opaque,
 *   any other answer resumes parsing with the held bytes;
 * - limits: the header section, each chunk-size line (with extensions) and
 *   the trailers are bounded by cfg.max_header_bytes (the library itself
 *   counts neither chunk lines nor a configurable limit per context);
 *   Content-Length or a chunk size above 2^63 - 1 is an error;
 * - holes: a hole inside a body of known remaining length (Content-Length
 *   or the current chunk) or in a close-delimited body is stepped over and
 *   the connection stays in sync; any other hole stops parsing;
 * - the transaction ID header (cfg.id_name, e.g. "X-Craft-Txn: 16 hex
 *   digits", case-insensitive name) for the aux logger.
 *
 * Limits of the library, inherited: no HTTP/0.9, no HTTP/2 (an h2c upgrade
 * is treated as any upgrade; prior-knowledge h2 is a syntax error), methods
 * must be ones it knows (its list covers RFC 7231, WebDAV, CalDAV, ...);
 * obsolete line folding and bare LF line ends are accepted.  It has a
 * process-wide header limit (80 KiB by default, never changed here), so
 * max_header_bytes is capped at HTTP_TXN_HEADER_CEILING.  Debian builds the
 * shared library with HTTP_PARSER_STRICT=0 (the upstream Makefile's library
 * target), which skips the checks that matter for framing: a CR followed by
 * anything but LF, the CRLF after chunk data, "HTTP/" in a status line, and
 * messages after Connection: close (or an HTTP/1.0 message without
 * keep-alive); http_txn makes those checks itself (TXN_ERR_SYNTAX,
 * TXN_ERR_AFTER_CLOSE).  Other constants it does not check strictly (the
 * "HTTP/" of a request line after its 'H') do not change framing. */
#ifndef CRAFT_HTTP_TXN_H
#define CRAFT_HTTP_TXN_H

#include "txn_parser.h"

/* The library's compiled-in header limit, which applies too. */
#define HTTP_TXN_HEADER_CEILING (80u * 1024u)

/* Client bytes held while an Upgrade/CONNECT is undecided: at most
 * max_header_bytes (counted in held_overflow when exceeded; the connection
 * then only stays parseable if it did switch protocols).  A hole stepped
 * over inside a body of known length is fed to the library as zeros, so
 * body byte counts include it. */

extern const struct txn_proto_ops http_txn_ops;

#endif /* CRAFT_HTTP_TXN_H */
