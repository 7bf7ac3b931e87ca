/* http_request_head - see http_request_head.h. */
#include "http_request_head.h"

#include <http_parser.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct head_state {
	struct first_request *out;
	bool in_host; /* the header being read is Host */
	bool field_is_host;
	bool complete;
};

static void append(char *dst, size_t cap, size_t *len, const char *at, size_t n)
{
	size_t room = cap - 1 - *len;
	if (n > room)
		n = room;
	memcpy(dst + *len, at, n);
	*len += n;
	dst[*len] = '\0';
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct head_state *s = p->data;
	append(s->out->path, sizeof(s->out->path), &s->out->path_len, at, n);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct head_state *s = p->data;
	/* A field may arrive in pieces only across buffers; we parse one buffer. */
	s->field_is_host = n == 4 && strncasecmp(at, "host", 4) == 0;
	s->in_host = false;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct head_state *s = p->data;
	if (s->field_is_host && !s->in_host && s->out->host_len == 0) {
		s->in_host = true;
		append(s->out->host, sizeof(s->out->host), &s->out->host_len, at, n);
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct head_state *s = p->data;
	s->complete = true;
	/* Stop right after the head: execute() then returns its length. */
	http_parser_pause(p, 1);
	return 0;
}

int first_request_parse(const uint8_t *buf, size_t len, size_t max_head, struct first_request *out)
{
	memset(out, 0, sizeof(*out));
	struct head_state s = {.out = out};
	http_parser parser;
	http_parser_settings settings;
	http_parser_settings_init(&settings);
	settings.on_url = on_url;
	settings.on_header_field = on_header_field;
	settings.on_header_value = on_header_value;
	settings.on_headers_complete = on_headers_complete;
	http_parser_init(&parser, HTTP_REQUEST);
	parser.data = &s;

	size_t n = len < max_head ? len : max_head;
	size_t used = http_parser_execute(&parser, &settings, (const char *)buf, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&parser);
	if (s.complete) {
		/* Paused in on_headers_complete, the parser has not yet counted
		 * the blank line's final LF. */
		if (used < n && buf[used] == '\n')
			used++;
		out->head_len = used;
		const char *m = http_method_str((enum http_method)parser.method);
		strncpy(out->method, m, sizeof(out->method) - 1);
		return FIRST_REQUEST_COMPLETE;
	}
	if (e != HPE_OK && e != HPE_PAUSED)
		return FIRST_REQUEST_GARBAGE;
	if (len >= max_head)
		return FIRST_REQUEST_TOO_LARGE;
	return FIRST_REQUEST_INCOMPLETE;
}

const char *first_request_error_response(int http_status)
{
	switch (http_status) {
	case 400:
		return "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	case 408:
		return "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: "
		       "0\r\n\r\n";
	case 431:
		return "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
		       "Content-Length: 0\r\n\r\n";
	case 503:
		return "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
		       "Content-Length: 0\r\n\r\n";
	default:
		return "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	}
}
