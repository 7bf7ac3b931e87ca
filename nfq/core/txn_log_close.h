/* txn_log_close - what the transaction log says about a backend's FIN or
 * RST before it is passed on (failure_detect_close.h decides with it).
 *
 * Why in the log: only the parser knows whether a response is complete,
 * close-delimited or announced the close; the crash guard asks after the
 * segment's payload went through the pipeline and before its FIN/RST did
 * (the guard feeds the two apart), so the view is the protocol's state at
 * the instant of the close. */
#ifndef CRAFT_TXN_LOG_CLOSE_H
#define CRAFT_TXN_LOG_CLOSE_H

#include <stdint.h>

#include "failure_detect_close.h"
#include "txn_log.h"

/* The view for a segment from saddr:sport to daddr:dport (host order).
 * out->tracked is false when no open logged connection has saddr:sport as
 * its server. */
void txn_log_close_view(const struct txn_log *l, uint32_t saddr, uint16_t sport, uint32_t daddr,
			uint16_t dport, struct fdet_close_view *out);

#endif
