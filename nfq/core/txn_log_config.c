/* txn_log_config - the configuration of the logging pipeline (txn_log.h):
 * defaults, the custom keys ("service = 80 http", "backend = b1
 * 198.18.2.11:80", the forwarded [transactions] keys) and the checks the
 * key table cannot express. Kept apart from txn_log.c so that the packet
 * path and the text parsing do not share a file. */
#include "txn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "byte_store.h"
#include "http_txn.h"

const char *const txn_log_persist_names[] = {"none", "update", "all", NULL};
static const char *const proto_names[] = {"http", "line", NULL};

void txn_log_config_defaults(struct txn_log_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->services[0] = (struct txn_log_service){.port = 80, .proto = TXN_PROTO_HTTP};
	cfg->n_services = 1;
	snprintf(cfg->aux_header, sizeof(cfg->aux_header), "X-Craft-Txn");
	snprintf(cfg->aux_prefix, sizeof(cfg->aux_prefix), "craft");
	cfg->byte_budget = BYTE_STORE_DEFAULT_BUDGET;
	cfg->max_kept_message = 1u << 20;
	cfg->txn_index = BYTE_STORE_DEFAULT_TXN_INDEX;
	cfg->marks_interval_ms = 100;
	cfg->persist_requests = TXN_LOG_PERSIST_UPDATE;
	cfg->persist_responses = true;
	cfg->payload_row_bytes = 16u << 10;
	cfg->max_conns = FLOW_DEFAULT_MAX_CONNS;
	cfg->idle_timeout_ms = FLOW_DEFAULT_IDLE_TIMEOUT;
	cfg->linger_timeout_ms = FLOW_DEFAULT_LINGER_TIMEOUT;
	cfg->hole_timeout_ms = FLOW_DEFAULT_HOLE_TIMEOUT;
	cfg->pickup_midstream = false;
	cfg->evict_when_full = true;
	cfg->reasm_stream_bytes = TCP_REASM_DEFAULT_STREAM_BYTES;
	cfg->reasm_total_bytes = TCP_REASM_DEFAULT_TOTAL_BYTES;
	txn_parser_config_default(&cfg->parser);
}

int txn_log_config_check(const struct txn_log_config *cfg, char *err, size_t errlen)
{
	if (cfg->n_services == 0) {
		snprintf(err, errlen, "no service port configured");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->n_services; i++)
		for (unsigned j = i + 1; j < cfg->n_services; j++)
			if (cfg->services[i].port == cfg->services[j].port) {
				snprintf(err, errlen, "service port %u given twice",
					 cfg->services[i].port);
				return -EINVAL;
			}
	if (cfg->aux && !cfg->aux_header[0] && !cfg->aux_prefix[0]) {
		snprintf(err, errlen, "aux = yes needs aux_header or aux_prefix");
		return -EINVAL;
	}
	if (cfg->parser.max_header_bytes > HTTP_TXN_HEADER_CEILING) {
		snprintf(err, errlen, "max_header_bytes above %u", HTTP_TXN_HEADER_CEILING);
		return -EINVAL;
	}
	return 0;
}

static struct txn_log_config *cfg_of(void *dst, const struct config_key *k)
{
	return (struct txn_log_config *)((char *)dst + k->offset);
}

static const struct txn_log_config *ccfg_of(const void *dst, const struct config_key *k)
{
	return (const struct txn_log_config *)((const char *)dst + k->offset);
}

/* Splits "a b" into two words (blanks between); false if not two. */
static bool two_words(const char *v, char *w1, size_t n1, char *w2, size_t n2)
{
	const char *p = v + strspn(v, " \t");
	size_t a = strcspn(p, " \t");
	const char *q = p + a + strspn(p + a, " \t");
	size_t b = strcspn(q, " \t");
	if (a == 0 || b == 0 || a >= n1 || b >= n2 || q[b + strspn(q + b, " \t")] != '\0')
		return false;
	memcpy(w1, p, a);
	w1[a] = '\0';
	memcpy(w2, q, b);
	w2[b] = '\0';
	return true;
}

int txn_log__service_key(void *dst, const struct config_key *k, const char *v, char *err,
			 size_t errlen)
{
	struct txn_log_config *c = cfg_of(dst, k);
	char port[16], proto[16];
	uint32_t p;
	int idx;

	if (!two_words(v, port, sizeof(port), proto, sizeof(proto))) {
		snprintf(err, errlen, "expected 'PORT http|line', got '%s'", v);
		return -1;
	}
	if (config_parse_u32(port, 1, 65535, &p, err, errlen) < 0)
		return -1;
	if (config_parse_enum(proto, proto_names, &idx, err, errlen) < 0)
		return -1;
	if (!c->services_given) {
		c->n_services = 0; /* the first line replaces the default */
		c->services_given = true;
	}
	for (unsigned i = 0; i < c->n_services; i++)
		if (c->services[i].port == p) {
			snprintf(err, errlen, "service port %u given twice", p);
			return -1;
		}
	if (c->n_services >= TXN_LOG_MAX_SERVICES) {
		snprintf(err, errlen, "more than %u services", TXN_LOG_MAX_SERVICES);
		return -1;
	}
	c->services[c->n_services++] = (struct txn_log_service){.port = (uint16_t)p, .proto = idx};
	return 0;
}

void txn_log__service_dump(FILE *out, const struct config_key *k, const void *dst)
{
	const struct txn_log_config *c = ccfg_of(dst, k);
	for (unsigned i = 0; i < c->n_services; i++)
		fprintf(out, "%s = \"%u %s\"\n", k->key, c->services[i].port,
			proto_names[c->services[i].proto]);
}

int txn_log__backend_key(void *dst, const struct config_key *k, const char *v, char *err,
			 size_t errlen)
{
	struct txn_log_config *c = cfg_of(dst, k);
	char name[TXN_LOG_NAME_MAX], addr[32];
	struct txn_log_backend b = {0};

	if (!two_words(v, name, sizeof(name), addr, sizeof(addr))) {
		snprintf(err, errlen, "expected 'NAME ADDR[:PORT]' (name < %u bytes), got '%s'",
			 TXN_LOG_NAME_MAX, v);
		return -1;
	}
	if (strchr(addr, ':')) {
		struct sockaddr_in sa;
		if (config_parse_ipv4_port(addr, &sa, err, errlen) < 0)
			return -1;
		b.addr = ntohl(sa.sin_addr.s_addr);
		b.port = ntohs(sa.sin_port);
	} else {
		struct in_addr ia;
		if (config_parse_ipv4(addr, &ia, err, errlen) < 0)
			return -1;
		b.addr = ntohl(ia.s_addr);
	}
	if (c->n_backends >= TXN_LOG_MAX_BACKENDS) {
		snprintf(err, errlen, "more than %u backends", TXN_LOG_MAX_BACKENDS);
		return -1;
	}
	memcpy(b.name, name, sizeof(b.name));
	c->backends[c->n_backends++] = b;
	return 0;
}

void txn_log__backend_dump(FILE *out, const struct config_key *k, const void *dst)
{
	const struct txn_log_config *c = ccfg_of(dst, k);
	for (unsigned i = 0; i < c->n_backends; i++) {
		const struct txn_log_backend *b = &c->backends[i];
		fprintf(out, "%s = \"%s %u.%u.%u.%u", k->key, b->name, b->addr >> 24,
			(b->addr >> 16) & 255, (b->addr >> 8) & 255, b->addr & 255);
		if (b->port)
			fprintf(out, ":%u", b->port);
		fputs("\"\n", out);
	}
}

int txn_log__parser_key(void *dst, const struct config_key *k, const char *v, char *err,
			size_t errlen)
{
	struct txn_log_config *c = cfg_of(dst, k);
	return config_set(txn_parser_config_keys, &c->parser, "transactions", k->key, v, err,
			  errlen) < 0
		   ? -1
		   : 0;
}

/* Prints one key of the parser's table: config_dump of a one-key table,
 * without the section header it starts with. */
void txn_log__parser_dump(FILE *out, const struct config_key *k, const void *dst)
{
	const struct txn_log_config *c = ccfg_of(dst, k);
	const struct config_key *inner =
	    config_find(txn_parser_config_keys, "transactions", k->key);
	if (!inner)
		return;
	struct config_key one[2] = {*inner, {0}};
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return;
	config_dump(m, one, &c->parser);
	fclose(m);
	const char *body = buf;
	if (body && body[0] == '[') {
		const char *nl = strchr(body, '\n');
		body = nl ? nl + 1 : "";
	}
	if (body)
		fputs(body, out);
	free(buf);
}
