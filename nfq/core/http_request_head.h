/* http_request_head - reads the head of the client's first HTTP request, which
 * is all the proxy needs before it splices: the Host header and the path
 * decide the backend pool; everything after the head (body, pipelined
 * requests) is forwarded as bytes. Framing is libhttp-parser's (strict
 * request-line and header syntax); parsing restarts from the first byte on
 * every call because the head is small and bounded. */
#ifndef CRAFT_HTTP_REQUEST_HEAD_H
#define CRAFT_HTTP_REQUEST_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define FIRST_REQUEST_HOST_MAX 256
#define FIRST_REQUEST_PATH_MAX 1024

struct first_request {
	char host[FIRST_REQUEST_HOST_MAX];
	char path[FIRST_REQUEST_PATH_MAX];
	size_t host_len, path_len;
	size_t head_len; /* bytes up to and including the blank line */
	char method[16];
};

enum first_request_status {
	FIRST_REQUEST_COMPLETE = 1,
	FIRST_REQUEST_INCOMPLETE = 0,
	FIRST_REQUEST_GARBAGE = -400,	/* not HTTP/1.x: answer 400 and close */
	FIRST_REQUEST_TOO_LARGE = -431, /* head longer than max_head */
};

/* Parses buf[0..len). Returns a first_request_status. */
int first_request_parse(const uint8_t *buf, size_t len, size_t max_head, struct first_request *out);

/* The response the proxy sends before closing, for a negative status
 * (400, 408, 431, 502, 503). Static text. */
const char *first_request_error_response(int http_status);

#endif
