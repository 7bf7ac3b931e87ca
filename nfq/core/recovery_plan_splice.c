/* recovery_plan_splice - see recovery_plan_splice.h. */
#include "recovery_plan_splice.h"

#include <ctype.h>
#include <string.h>

uint32_t recovery_client_seq_of_server_off(const struct splice_record *old, uint32_t server_isn,
					   uint64_t off)
{
	return server_isn + 1u + (uint32_t)off + old->dir[SPLICE_B2C].seq_delta;
}

uint32_t recovery_client_seq_of_client_off(const struct splice_record *old, uint32_t client_isn,
					   uint64_t off)
{
	return client_isn + 1u + (uint32_t)off - old->dir[SPLICE_C2B].seq_delta;
}

void recovery_resplice_endpoints(struct splice_endpoints *e, const struct splice_record *old,
				 const struct recovery_client_view *cv,
				 const struct recovery_backend_view *bv)
{
	const struct splice_dir *c2b = &old->dir[SPLICE_C2B], *b2c = &old->dir[SPLICE_B2C];
	*e = (struct splice_endpoints){
	    .client_addr = old->client_key.saddr,
	    .client_port = old->client_key.sport,
	    .vip_addr = old->client_key.daddr,
	    .vip_port = old->client_key.dport,
	    .ivip_addr = bv->ivip_addr,
	    .ivip_port = bv->ivip_port,
	    .backend_addr = bv->backend_addr,
	    .backend_port = bv->backend_port,
	    .c_rcv_nxt = cv->c_rcv_nxt,
	    .c_snd_nxt = cv->c_snd_nxt,
	    .b_rcv_nxt = bv->bs->rcv_nxt,
	    .b_snd_nxt = bv->bs->snd_nxt,
	    /* The client's scale governs the windows it sends (read by c2b);
	     * the one it applies to ours is what b2c scaled to. */
	    .c_snd_wscale = c2b->wscale_from,
	    .c_rcv_wscale = b2c->wscale_to,
	    .b_snd_wscale = bv->bs->snd_wscale,
	    .b_rcv_wscale = bv->bs->rcv_wscale,
	    /* translate_ts was set only when the client had timestamps. */
	    .c_timestamps = c2b->translate_ts,
	    .b_timestamps = bv->bs->timestamps,
	    .c_ts_now = cv->c_ts_now,
	    .b_ts_now = bv->bs->ts_now,
	    .client_tsval_last = cv->client_tsval_last,
	    .backend_tsval_last = bv->backend_tsval_last,
	};
}

static bool header_name_is(const uint8_t *p, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n < k + 1 || p[k] != ':')
		return false;
	for (size_t i = 0; i < k; i++)
		if (tolower(p[i]) != name[i])
			return false;
	return true;
}

void recovery_mask_http_date(const uint8_t *resp, size_t len, struct recovery_mask *m)
{
	memset(m, 0, sizeof(*m));
	/* Skip the status line; then one header per line until the empty one. */
	size_t i = 0;
	while (i + 1 < len && !(resp[i] == '\r' && resp[i + 1] == '\n'))
		i++;
	if (i + 1 >= len)
		return;
	i += 2;
	while (i < len) {
		size_t eol = i;
		while (eol + 1 < len && !(resp[eol] == '\r' && resp[eol + 1] == '\n'))
			eol++;
		if (eol + 1 >= len)
			return; /* the head goes on beyond what we were given */
		if (eol == i) {
			m->head_complete = true;
			return;
		}
		if (header_name_is(resp + i, eol - i, "date") && m->n < RECOVERY_MASK_MAX) {
			size_t v = i + 5;
			while (v < eol && (resp[v] == ' ' || resp[v] == '\t'))
				v++;
			m->start[m->n] = v;
			m->end[m->n] = eol;
			m->n++;
		}
		i = eol + 2;
	}
}

static bool masked(const struct recovery_mask *m, uint64_t off)
{
	for (unsigned k = 0; m && k < m->n; k++)
		if (off >= m->start[k] && off < m->end[k])
			return true;
	return false;
}

int64_t recovery_compare(const uint8_t *logged, const uint8_t *replayed, size_t n, uint64_t pos,
			 const struct recovery_mask *m)
{
	for (size_t i = 0; i < n; i++)
		if (logged[i] != replayed[i] && !masked(m, pos + i))
			return (int64_t)(pos + i);
	return -1;
}
