/* The numbers of a re-splice (recovery_plan_splice.h): a stream offset the
 * logger reports lands on the same client sequence number through the old
 * splice and through the new one, in both directions and across the 2^32
 * wrap; and the comparison of replayed response bytes ignores exactly the
 * Date header's value. */
#include <check.h>
#include <string.h>

#include "recovery_plan_splice.h"

#define CLIENT 0xc612000au
#define VIP    0xc6120a01u
#define IVIP   0xc6120b01u
#define B1     0xc612020bu
#define B2     0xc612020cu

/* The first splice, as proxy_splice.c makes it: client ISNs ci (client's)
 * and pc (ours toward the client), backend ISNs pb (ours toward b1) and
 * bi (b1's); `req` request bytes already crossed, nothing answered yet. */
static void first_splice(struct splice_record *old, uint32_t ci, uint32_t pc, uint32_t pb,
			 uint32_t bi, uint32_t req)
{
	struct splice_endpoints e = {
	    .client_addr = CLIENT,
	    .client_port = 40000,
	    .vip_addr = VIP,
	    .vip_port = 80,
	    .ivip_addr = IVIP,
	    .ivip_port = 20001,
	    .backend_addr = B1,
	    .backend_port = 80,
	    .c_rcv_nxt = ci + 1 + req,
	    .c_snd_nxt = pc + 1,
	    .b_rcv_nxt = bi + 1,
	    .b_snd_nxt = pb + 1 + req,
	    .c_snd_wscale = 7,
	    .c_rcv_wscale = 9,
	    .b_snd_wscale = 8,
	    .b_rcv_wscale = 6,
	    .c_timestamps = true,
	    .b_timestamps = true,
	    .c_ts_now = 1000,
	    .b_ts_now = 5000,
	    .client_tsval_last = 777,
	    .backend_tsval_last = 99999,
	};
	splice_record_from_endpoints(old, 1ull << 32 | 1, 0, &e);
}

static void check_resplice(uint32_t ci, uint32_t pc, uint32_t pb, uint32_t bi, uint32_t nb,
			   uint32_t b2i)
{
	struct splice_record old;
	first_splice(&old, ci, pc, pb, bi, 67);
	ck_assert_int_eq(splice_record_check(&old), 0);
	/* The logger numbers from the backend-side ISNs: its client ISN is
	 * ours toward b1 (pb), its server ISN b1's (bi). */
	uint64_t resp_off = 123456, req_off = 67 + 300;
	uint32_t want_c = pc + 1 + (uint32_t)resp_off;
	ck_assert_uint_eq(recovery_client_seq_of_server_off(&old, bi, resp_off), want_c);
	ck_assert_uint_eq(recovery_client_seq_of_client_off(&old, pb, req_off),
			  ci + 1 + (uint32_t)req_off);
	/* Through the old splice, b1's byte at that offset reaches the client
	 * at the same number. */
	ck_assert_uint_eq(bi + 1 + (uint32_t)resp_off + old.dir[SPLICE_B2C].seq_delta, want_c);

	/* The alternate: recovery wrote 200 request bytes (the replay) and
	 * consumed 5000 response bytes; the client resumes at resp_off and
	 * has sent req_off bytes. */
	struct tcp_repair_state bs = {
	    .snd_nxt = nb + 1 + 200,
	    .rcv_nxt = b2i + 1 + 5000,
	    .ts_now = 424242,
	    .snd_wscale = 10,
	    .rcv_wscale = 5,
	    .timestamps = true,
	};
	struct recovery_client_view cv = {
	    .c_rcv_nxt = recovery_client_seq_of_client_off(&old, pb, req_off),
	    .c_snd_nxt = recovery_client_seq_of_server_off(&old, bi, resp_off),
	    .c_ts_now = 2000,
	    .client_tsval_last = 888,
	};
	struct recovery_backend_view bv = {.bs = &bs,
					   .ivip_addr = IVIP,
					   .ivip_port = 20002,
					   .backend_addr = B2,
					   .backend_port = 80,
					   .backend_tsval_last = 31337};
	struct splice_endpoints e;
	recovery_resplice_endpoints(&e, &old, &cv, &bv);
	struct splice_record rec;
	splice_record_from_endpoints(&rec, 1ull << 32 | 2, 1, &e);
	ck_assert_int_eq(splice_record_check(&rec), 0);
	/* Same client tuple, new backend tuple. */
	ck_assert_uint_eq(rec.client_key.saddr, CLIENT);
	ck_assert_uint_eq(rec.client_key.sport, 40000);
	ck_assert_uint_eq(rec.backend_key.saddr, B2);
	ck_assert_uint_eq(rec.backend_key.dport, 20002);
	/* b2's next byte reaches the client where the client resumes. */
	ck_assert_uint_eq(bs.rcv_nxt + rec.dir[SPLICE_B2C].seq_delta, want_c);
	/* The client's next byte reaches b2 right after the replayed ones. */
	ck_assert_uint_eq(cv.c_rcv_nxt + rec.dir[SPLICE_C2B].seq_delta, bs.snd_nxt);
	/* Window scales: the client's come from the old splice. */
	ck_assert_uint_eq(rec.dir[SPLICE_C2B].wscale_from, 7);
	ck_assert_uint_eq(rec.dir[SPLICE_B2C].wscale_to, 9);
	ck_assert_uint_eq(rec.dir[SPLICE_B2C].wscale_from, 10);
	ck_assert_uint_eq(rec.dir[SPLICE_C2B].wscale_to, 5);
	/* Timestamps: b2's clock shows the client our clock as it knows it. */
	ck_assert(rec.dir[SPLICE_B2C].translate_ts);
	ck_assert_uint_eq(31337 + rec.dir[SPLICE_B2C].tsval_delta, 2000);
	ck_assert_uint_eq(888 + rec.dir[SPLICE_C2B].tsval_delta, 424242);
}

START_TEST(test_resplice_numbers)
{
	check_resplice(1000, 2000000, 3000, 4000000, 50000, 60000);
}
END_TEST

START_TEST(test_resplice_wraps)
{
	/* Every ISN near 2^32: the offsets cross the wrap on both sides. */
	check_resplice(0xfffffff0u, 0xffffff00u, 0xfffff000u, 0xffff0000u, 0xfffffffeu,
		       0xfffffff7u);
}
END_TEST

static const char RESP[] = "HTTP/1.1 200 OK\r\n"
			   "Server: nginx/1.22.1\r\n"
			   "date: Mon, 23 Nov 2026 22:00:00 GMT\r\n"
			   "Content-Length: 5\r\n"
			   "\r\n"
			   "hello";

START_TEST(test_date_masked)
{
	struct recovery_mask m;
	size_t n = strlen(RESP);
	recovery_mask_http_date((const uint8_t *)RESP, n, &m);
	ck_assert(m.head_complete);
	ck_assert_uint_eq(m.n, 1);
	const char *v = strstr(RESP, "Mon,");
	ck_assert_uint_eq(m.start[0], (uint64_t)(v - RESP));
	ck_assert_uint_eq(m.end[0], m.start[0] + strlen("Mon, 23 Nov 2026 22:00:00 GMT"));
	char other[sizeof(RESP)];
	memcpy(other, RESP, sizeof(RESP));
	memcpy(other + (v - RESP), "Tue, 24 Nov 2026 01:02:03 GMT", 29);
	ck_assert_int_eq(recovery_compare((const uint8_t *)RESP, (const uint8_t *)other, n, 0, &m),
			 -1);
	/* The same, fed in two pieces at their response offsets. */
	ck_assert_int_eq(recovery_compare((const uint8_t *)RESP + 40, (const uint8_t *)other + 40,
					  n - 40, 40, &m),
			 -1);
	/* A body byte differs: reported at its response offset. */
	other[n - 2] = 'X';
	ck_assert_int_eq(recovery_compare((const uint8_t *)RESP, (const uint8_t *)other, n, 0, &m),
			 (int64_t)(n - 2));
	/* Without the mask, the date differs too. */
	ck_assert_int_eq(
	    recovery_compare((const uint8_t *)RESP, (const uint8_t *)other, n, 0, NULL),
	    (int64_t)(v - RESP));
}
END_TEST

START_TEST(test_date_mask_edges)
{
	struct recovery_mask m;
	/* The head is cut before its end: what was found still counts. */
	recovery_mask_http_date((const uint8_t *)RESP, 80, &m);
	ck_assert(!m.head_complete);
	ck_assert_uint_eq(m.n, 1);
	/* A body line that looks like a header is not masked. */
	static const char body_date[] = "HTTP/1.1 200 OK\r\n\r\nDate: x\r\n";
	recovery_mask_http_date((const uint8_t *)body_date, strlen(body_date), &m);
	ck_assert(m.head_complete);
	ck_assert_uint_eq(m.n, 0);
	/* Not a header name ending in "date". */
	static const char upd[] = "HTTP/1.1 200 OK\r\nX-Update: 1\r\nDated: 2\r\n\r\n";
	recovery_mask_http_date((const uint8_t *)upd, strlen(upd), &m);
	ck_assert_uint_eq(m.n, 0);
	/* Garbage and nothing. */
	recovery_mask_http_date((const uint8_t *)"\r\n", 2, &m);
	ck_assert_uint_eq(m.n, 0);
	recovery_mask_http_date((const uint8_t *)"", 0, &m);
	ck_assert_uint_eq(m.n, 0);
	ck_assert(!m.head_complete);
}
END_TEST

Suite *recovery_plan_splice_suite(void);
Suite *recovery_plan_splice_suite(void)
{
	Suite *s = suite_create("recovery_plan_splice");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_resplice_numbers);
	tcase_add_test(tc, test_resplice_wraps);
	tcase_add_test(tc, test_date_masked);
	tcase_add_test(tc, test_date_mask_edges);
	suite_add_tcase(s, tc);
	return s;
}
