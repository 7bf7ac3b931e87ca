/* http_head_field - the value of one header in an HTTP/1.x message head,
 * for code that has the whole head in a buffer and needs one or two fields
 * (the aux logger's transaction-ID header, the demo application's framing
 * headers). Not a parser: the head's syntax is whoever framed it's
 * business; this finds "Name:" at the start of a line after the first,
 * case-insensitively, and trims blanks and the CR around its value. */
#ifndef CRAFT_HTTP_HEAD_FIELD_H
#define CRAFT_HTTP_HEAD_FIELD_H

#include <stddef.h>

/* The first value of header `name` in head[0..len), with its length in
 * *vlen (not NUL-terminated), or NULL when absent. */
const char *http_head_field(const char *head, size_t len, const char *name, size_t *vlen);

#endif
