/* aux_jobs - see aux_jobs.h. */
#include "aux_jobs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int aux_jobs_init(struct aux_jobs *t, uint32_t max, uint64_t max_ttl_ms, uint64_t end_linger_ms,
		  uint64_t refresh_ms, aux_switch_fn *sw, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->j = calloc(max ? max : 1, sizeof(*t->j));
	if (!t->j)
		return -ENOMEM;
	t->max = max;
	t->max_ttl_ms = max_ttl_ms;
	t->end_linger_ms = end_linger_ms;
	t->refresh_ms = refresh_ms;
	t->sw = sw;
	t->ctx = ctx;
	return 0;
}

void aux_jobs_free(struct aux_jobs *t)
{
	free(t->j);
	t->j = NULL;
}

bool aux_jobs_active(const struct aux_jobs *t, uint32_t ip)
{
	for (uint32_t i = 0; i < t->max; i++)
		if (t->j[i].used && t->j[i].ip == ip)
			return true;
	return false;
}

uint32_t aux_jobs_live(const struct aux_jobs *t)
{
	uint32_t n = 0;
	for (uint32_t i = 0; t->j && i < t->max; i++)
		n += t->j[i].used;
	return n;
}

static void drop(struct aux_jobs *t, struct aux_job *j)
{
	uint32_t ip = j->ip;
	memset(j, 0, sizeof(*j));
	if (!aux_jobs_active(t, ip)) {
		t->c.switched_off++;
		t->sw(t->ctx, '-', ip);
	}
}

void aux_jobs_on_msg(struct aux_jobs *t, const struct ctl_aux_divert *m, uint32_t sender,
		     uint64_t now_ms)
{
	struct aux_job *j = NULL, *free_slot = NULL;
	t->c.msgs++;
	for (uint32_t i = 0; i < t->max; i++) {
		struct aux_job *x = &t->j[i];
		if (x->used && x->ip == m->alternate_ip && x->job_id == m->job_id &&
		    x->sender == sender)
			j = x;
		else if (!x->used && !free_slot)
			free_slot = x;
	}
	if (m->op == CTL_AUX_END) {
		t->c.ends++;
		if (!j || j->ended) {
			t->c.ends_unknown++; /* a repeat, or the ttl was first */
			return;
		}
		j->ended = true; /* the alternate may still ask for T_L + 1 */
		if (!t->end_linger_ms)
			drop(t, j);
		else if (now_ms + t->end_linger_ms < j->expires_ms)
			j->expires_ms = now_ms + t->end_linger_ms;
		return;
	}
	t->c.starts++;
	if (j && j->ended)
		return; /* a late copy of the START: the END stands */
	if (!j) {
		if (!free_slot) {
			t->c.jobs_full++;
			return;
		}
		if (!aux_jobs_active(t, m->alternate_ip))
			t->c.switched_on++;
		j = free_slot;
		*j = (struct aux_job){
		    .used = true, .ip = m->alternate_ip, .sender = sender, .job_id = m->job_id};
	}
	uint64_t ttl = m->ttl_ms < t->max_ttl_ms ? m->ttl_ms : t->max_ttl_ms;
	j->expires_ms = now_ms + ttl;
	t->sw(t->ctx, '+', m->alternate_ip); /* also refreshes the kernel's clock */
}

void aux_jobs_tick(struct aux_jobs *t, uint64_t now_ms)
{
	for (uint32_t i = 0; i < t->max; i++)
		if (t->j[i].used && now_ms >= t->j[i].expires_ms) {
			t->c.expired++;
			drop(t, &t->j[i]);
		}
	if (now_ms < t->next_refresh_ms)
		return;
	t->next_refresh_ms = now_ms + t->refresh_ms;
	for (uint32_t i = 0; i < t->max; i++) {
		bool first = t->j[i].used; /* once per address */
		for (uint32_t k = 0; first && k < i; k++)
			first = !(t->j[k].used && t->j[k].ip == t->j[i].ip);
		if (first)
			t->sw(t->ctx, '+', t->j[i].ip);
	}
}

void aux_jobs_clear(struct aux_jobs *t)
{
	for (uint32_t i = 0; t->j && i < t->max; i++)
		memset(&t->j[i], 0, sizeof(t->j[i]));
	t->sw(t->ctx, '/', 0);
}
