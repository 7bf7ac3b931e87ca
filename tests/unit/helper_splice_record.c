/* helper_splice_record - see helper_splice_record.h. */
#include "helper_splice_record.h"

#include "splice_rewrite.h"

void trec_make(struct pktgen_rng *r, struct splice_record *rec, uint32_t creator, uint32_t n)
{
	struct splice_endpoints e = {
	    .client_addr = TREC_CLIENT + n / 50000u,
	    .vip_addr = TREC_VIP,
	    .ivip_addr = TREC_IVIP,
	    .backend_addr = TREC_BACKEND + n / 40000u,
	    .client_port = (uint16_t)(1024u + n % 50000u),
	    .vip_port = 80,
	    .ivip_port = (uint16_t)(20000u + n % 40000u),
	    .backend_port = 8080,
	    .c_rcv_nxt = pktgen_u32(r),
	    .c_snd_nxt = pktgen_u32(r),
	    .b_rcv_nxt = pktgen_u32(r),
	    .b_snd_nxt = pktgen_u32(r),
	    .c_snd_wscale = (uint8_t)pktgen_below(r, 15),
	    .c_rcv_wscale = (uint8_t)pktgen_below(r, 15),
	    .b_snd_wscale = (uint8_t)pktgen_below(r, 15),
	    .b_rcv_wscale = (uint8_t)pktgen_below(r, 15),
	    .c_timestamps = pktgen_chance(r, 80),
	    .b_timestamps = pktgen_chance(r, 90),
	    .c_ts_now = pktgen_u32(r),
	    .b_ts_now = pktgen_u32(r),
	    .client_tsval_last = pktgen_u32(r),
	    .backend_tsval_last = pktgen_u32(r),
	};
	splice_record_from_endpoints(rec, (uint64_t)creator << 32 | (n + 1u),
				     (uint16_t)pktgen_below(r, 8), &e);
}
