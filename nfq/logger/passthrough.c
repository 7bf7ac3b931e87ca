/* passthrough - see passthrough.h. */
#include "passthrough.h"

void passthrough_packet(struct passthrough *pt, int rc, const struct tcp4_view *v)
{
	if (rc == PKT_ENOTTCP || rc == PKT_EVERSION) {
		pt->count.not_ipv4_tcp++;
		return;
	}
	if (rc < 0) {
		pt->count.malformed[-rc]++;
		return;
	}
	uint8_t flags = tcp4v_flags(v);
	pt->count.tcp_segments++;
	pt->count.payload_bytes += v->payload_len;
	pt->count.syn += (flags & TCP_FL_SYN) != 0;
	pt->count.fin += (flags & TCP_FL_FIN) != 0;
	pt->count.rst += (flags & TCP_FL_RST) != 0;
}

void passthrough_collect_stats(const struct passthrough *pt, struct stats_report *r)
{
	uint64_t malformed = 0;
	for (int i = 1; i < PKT_NERRORS; i++)
		malformed += pt->count.malformed[i];
	stats_add(r, NULL, "tcp_segments", pt->count.tcp_segments);
	stats_add(r, NULL, "payload_bytes", pt->count.payload_bytes);
	stats_add(r, NULL, "syn", pt->count.syn);
	stats_add(r, NULL, "fin", pt->count.fin);
	stats_add(r, NULL, "rst", pt->count.rst);
	stats_add(r, NULL, "not_ipv4_tcp", pt->count.not_ipv4_tcp);
	stats_add(r, NULL, "malformed", malformed);
	for (int i = 1; i < PKT_NERRORS; i++)
		if (pt->count.malformed[i])
			stats_add(r, "malformed", pkt_strerror(-i), pt->count.malformed[i]);
}
