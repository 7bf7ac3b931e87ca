/* txn_log_query - the logger's answers to recovery's control queries
 * (ctl_msg.h CONN_QUERY and BYTES_QUERY), built from the live pipeline.
 *
 * Why here and not in the daemon: the answers are a pure function of the
 * pipeline's state (connection marks and ISNs from txn_log, transaction
 * offsets, tags and bytes from its byte_store), so they are unit-tested on
 * scripted conversations; the daemon (craft-logger's control.c) only
 * carries them.
 *
 * Offsets are stream offsets (first data byte after the SYN = 0), the
 * convention of ctl_msg.h. A connection is found by conn id, else by its
 * 4-tuple in either direction (addresses in network order as on the
 * wire, ports in host order). CONN_QUERY needs the connection still held by
 * the pipeline (open, or lingering after its close); BYTES_QUERY by conn
 * id also reads a connection the pipeline let go whose bytes the
 * byte_store still holds. A BYTES_REPLY holds the bytes from the asked
 * offset up to the first of: the length asked, the end of what was logged,
 * the first byte not held. Status "not held" when the first byte is not
 * held (evicted, trimmed after the client acknowledged a message too big
 * to keep, never seen); "ok" with n = 0 at or past the logged end. */
#ifndef CRAFT_TXN_LOG_QUERY_H
#define CRAFT_TXN_LOG_QUERY_H

#include "ctl_msg.h"
#include "txn_log.h"

void txn_log_answer_conn(struct txn_log *tl, const struct ctl_conn_query *q,
			 struct ctl_conn_reply *out);
void txn_log_answer_bytes(struct txn_log *tl, const struct ctl_bytes_query *q,
			  struct ctl_bytes_reply *out);

#endif
