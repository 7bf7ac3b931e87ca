/* aux_request - see aux_request.h. */
#include "aux_request.h"

#include <stdlib.h>
#include <string.h>

#include "http_head_field.h"
#include "txn_parser.h"

static int parse_line(const struct aux_request_rule *cfg, const uint8_t *buf, size_t len,
		      uint64_t *id, size_t *used)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	if (!nl)
		return 0;
	*used = (size_t)(nl - buf) + 1;
	size_t w = 0;
	while (buf + w < nl && buf[w] != ' ' && buf[w] != '\r' && buf[w] != '\t')
		w++;
	size_t plen = strlen(cfg->prefix);
	if (w <= plen || memcmp(buf, cfg->prefix, plen))
		return -1;
	for (size_t i = plen; i < w; i++) /* hex only: txn_id_parse would take "0x" */
		if (buf[i] == 'x' || buf[i] == 'X')
			return -1;
	return txn_id_parse((const char *)buf + plen, w - plen, id) == 0 ? 1 : -1;
}

static int parse_http(const struct aux_request_rule *cfg, const uint8_t *buf, size_t len,
		      uint64_t *id, size_t *used)
{
	const uint8_t *eoh = memmem(buf, len, "\r\n\r\n", 4);
	if (!eoh)
		return 0;
	const char *head = (const char *)buf;
	size_t head_len = (size_t)(eoh - buf) + 4, vlen;
	uint64_t body = 0;
	if (http_head_field(head, head_len, "Transfer-Encoding", &vlen))
		return -1; /* chunked framing is not worth it here: relay */
	const char *v = http_head_field(head, head_len, "Content-Length", &vlen);
	if (v) {
		char num[24], *e;
		if (!vlen || vlen > 19)
			return -1;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		body = strtoull(num, &e, 10);
		if (*e)
			return -1;
	}
	v = http_head_field(head, head_len, cfg->header, &vlen);
	if (!v || txn_id_parse(v, vlen, id) < 0)
		return -1;
	if (len - head_len < body)
		return 0;
	*used = head_len + (size_t)body;
	return 1;
}

int aux_request_id(const struct aux_request_rule *cfg, const uint8_t *buf, size_t len, uint64_t *id,
		   size_t *used)
{
	return cfg->proto == TXN_PROTO_HTTP ? parse_http(cfg, buf, len, id, used)
					    : parse_line(cfg, buf, len, id, used);
}
