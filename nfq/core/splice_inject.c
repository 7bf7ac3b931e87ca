/* splice_inject - see splice_inject.h. */
#include "splice_inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "seq.h"

#define RTO_MAX_MS 4000

int splice_inject_init(struct splice_inject *in, const struct tcp_segment_spec *tmpl,
		       uint32_t start_seq, const uint8_t *data, size_t len, uint16_t mss,
		       uint32_t wnd, unsigned rto_ms, unsigned max_retries)
{
	memset(in, 0, sizeof(*in));
	if (mss == 0 || mss > 65535 - TCP_SEGMENT_OVERHEAD || rto_ms == 0)
		return -EINVAL;
	in->data = malloc(len ? len : 1);
	if (!in->data)
		return -ENOMEM;
	if (len)
		memcpy(in->data, data, len);
	in->tmpl = *tmpl;
	in->tmpl.payload = NULL;
	in->tmpl.payload_len = 0;
	in->start_seq = start_seq;
	in->len = len;
	in->mss = mss;
	in->wnd = wnd;
	in->rto_initial_ms = in->rto_ms = rto_ms;
	in->max_retries = max_retries;
	return 0;
}

void splice_inject_free(struct splice_inject *in)
{
	free(in->data);
	in->data = NULL;
}

/* Sends [from, to) in MSS-sized segments. */
static int send_range(struct splice_inject *in, int rawfd, size_t from, size_t to)
{
	uint8_t pkt[65536];
	int n = 0;
	while (from < to) {
		size_t chunk = to - from < in->mss ? to - from : in->mss;
		struct tcp_segment_spec s = in->tmpl;
		s.seq = in->start_seq + (uint32_t)from;
		s.payload = in->data + from;
		s.payload_len = chunk;
		s.flags = TCP_FL_ACK | (from + chunk == in->len ? TCP_FL_PSH : 0);
		ssize_t len = tcp_segment_build(pkt, sizeof(pkt), &s);
		if (len < 0 || raw_sender_send(rawfd, pkt, (size_t)len) < 0) {
			in->send_errors++;
			break;
		}
		from += chunk;
		n++;
	}
	return n;
}

static size_t window_end(const struct splice_inject *in)
{
	size_t end = in->acked + in->wnd;
	return end < in->len ? end : in->len;
}

int splice_inject_pump(struct splice_inject *in, int rawfd, uint64_t now_ms)
{
	int n = 0;
	if (splice_inject_done(in) || splice_inject_failed(in))
		return 0;
	if (in->sent > in->acked && now_ms - in->last_send_ms >= in->rto_ms) {
		/* Timeout: go back to the first unacknowledged byte. */
		size_t end = window_end(in);
		if (end < in->acked + 1)
			end = in->acked + 1 <= in->len ? in->acked + 1 : in->len; /* probe */
		int k = send_range(in, rawfd, in->acked, end);
		in->segments_resent += (uint64_t)k;
		n += k;
		if (end > in->sent)
			in->sent = end;
		in->retries++;
		in->rto_ms = in->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : in->rto_ms * 2;
		in->last_send_ms = now_ms;
	}
	size_t end = window_end(in);
	if (end > in->sent) {
		int k = send_range(in, rawfd, in->sent, end);
		in->segments_sent += (uint64_t)k;
		n += k;
		in->sent = end;
		in->last_send_ms = now_ms;
	}
	return n;
}

void splice_inject_ack(struct splice_inject *in, uint32_t ack, uint32_t wnd_bytes)
{
	uint32_t acked_seq = in->start_seq + (uint32_t)in->acked;
	uint32_t end_seq = in->start_seq + (uint32_t)in->len;
	if (seq_before(ack, acked_seq))
		return; /* old */
	in->wnd = wnd_bytes;
	if (ack == acked_seq)
		return;
	/* Past the end: the receiver also acknowledges bytes the endpoint
	 * sent itself through the splice after ours. */
	in->acked = seq_after(ack, end_seq) ? in->len : (size_t)(ack - in->start_seq);
	in->retries = 0;
	in->rto_ms = in->rto_initial_ms;
}
