/* line_txn - transactions of line-oriented command protocols for
 * txn_parser: command shells and REPLs, SMTP, FTP control connections,
 * tagged IMAP (paper §3.1: "each request (commands separated by
 * a newline or a semicolon)").
 *
 * Requests.  A request is everything from its first byte that is not blank
 * (space, tab, CR or a delimiter) up to and including the next delimiter
 * byte (cfg.line_delims, default "\n;"; so "ls; date\n" is two requests and
 * a blank line is none).  Blanks between requests belong to no
 * transaction.  The request text (blanks before it, trailing blanks, CR and
 * the delimiter removed) is kept in t->target, cut at TXN_TARGET_MAX - 1
 * bytes; t->method is its first word.  A request longer than cfg.line_max
 * bytes is an error.  There is no quoting: a delimiter inside quotes still
 * ends a request.
 *
 * Transaction ID (aux logger): if cfg.id_name is set and the first word
 * starts with it, the rest of that word is the ID in hex (1..16 digits, as
 * txn_id_format writes it, e.g. IMAP tag "craft00c612000a1f900001"); then
 * t->method is the second word.
 *
 * Responses (cfg.line_resp), matched to requests first in first out:
 * - next-request (default): a response is every byte the server sends
 *   after its request began, until the client begins a new request after
 *   at least one byte of that response arrived.  That rule fits prompts
 *   ("$ " without newline) and protocols without any end marker.  Requests
 *   sent back to back before any output ("a\nb\n" typed ahead) cannot be
 *   told apart: the first one gets all the output, the others end with
 *   empty responses at the same offset (TXN_F_GROUPED), which for recovery
 *   means the group is replayed together.  A FIN ends the open responses
 *   as complete: this mode cannot tell a finished response from one cut off
 *   by a crash that closed the socket.  Holes inside responses are stepped
 *   over (nothing to parse there).
 * - string: a response ends right after the first occurrence of a literal
 *   byte string (cfg.line_terminator), e.g. the prompt of a shell or REPL
 *   ("\n$ ", "\n> ") or "\r\n.\r\n" for a protocol whose every answer
 *   is dot-terminated.
 * - line: a response ends after the first complete line (ending in LF; the
 *   LF and a CR before it are not matched) that matches the POSIX extended
 *   regular expression cfg.line_pattern, e.g. "^[0-9]{3} " for SMTP/FTP
 *   (continuation lines read "250-"), "^craft[0-9a-f]+ (OK|NO|BAD)" for
 *   tagged IMAP.  Only the first LINE_TXN_RESP_LINE_MAX - 1 bytes of a line
 *   are matched, and a NUL byte ends what is matched; a last line without LF
 *   is matched at the FIN.
 * Server bytes that arrive while no request waits for a response (a
 * greeting, a notification between commands) belong to no transaction and
 * are counted (unsolicited_bytes); the next response starts afresh, so a
 * greeting need not match the terminator.
 * t->resp_body_bytes is the response's length. */
#ifndef CRAFT_LINE_TXN_H
#define CRAFT_LINE_TXN_H

#include "txn_parser.h"

#define LINE_TXN_RESP_LINE_MAX 512

extern const struct txn_proto_ops line_txn_ops;

#endif /* CRAFT_LINE_TXN_H */
