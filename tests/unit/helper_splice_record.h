/* helper_splice_record - splice records for the splice table, message and
 * replication tests: distinct tuples per index, random deltas and scales. */
#ifndef CRAFT_TEST_HELPER_SPLICE_RECORD_H
#define CRAFT_TEST_HELPER_SPLICE_RECORD_H

#include <stdint.h>

#include "helper_pktgen.h"
#include "splice_table.h"

#define TREC_CLIENT  0xc612000au /* 198.18.0.10 */
#define TREC_VIP     0xc6120a01u /* 198.18.10.1 */
#define TREC_IVIP    0xc6120b01u /* 198.18.11.1 */
#define TREC_BACKEND 0xc612020bu /* 198.18.2.11 */

/* Record number n of creator `creator` (id creator << 32 | n + 1): its
 * client and backend tuples differ from those of every other n. */
void trec_make(struct pktgen_rng *r, struct splice_record *rec, uint32_t creator, uint32_t n);

#endif
