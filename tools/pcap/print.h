/* print - craft-pcap's text observer: one line per transaction when it
 * ends, with its id, offsets (database convention: seq - ISN, ends
 * exclusive), status, end reason, tags and request line; connections are
 * announced and closed with one line each when verbose.
 *
 *   txn conn=1 id=c612000a9c400001 ord=1 198.18.0.10:40000>198.18.2.11:80
 *       req=1-79 resp=1-1043 status=200 end=complete
 *       tags=deterministic,read-only,idempotent GET /1k   (one line)
 *
 * A hashed response adds sha256=HEX (its first 16 hex digits) and kept=no. */
#ifndef CRAFT_PCAP_PRINT_H
#define CRAFT_PCAP_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "txn_log.h"

struct pcap_print {
	FILE *out;
	bool conns; /* also a line per connection open/close */
	unsigned long long lines;
};

struct txn_log_observer pcap_print_observer(struct pcap_print *p);

#endif
