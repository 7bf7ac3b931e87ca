/* proxy_splice - turning a connected client/backend socket pair into a
 * splice, and the bookkeeping of splices this proxy created: the request
 * bytes it still owes the backend, the IVIP port each splice holds, and
 * replication of splice state to the peers. */
#ifndef CRAFT_PROXY_SPLICE_H
#define CRAFT_PROXY_SPLICE_H

#include <stddef.h>
#include <stdint.h>

struct proxy;
struct client_conn;

/* Tables (before the queue is bound) and sockets (in the event loop). */
int proxy_splice_init(struct proxy *px, char *err, size_t errlen);
int proxy_splice_open(struct proxy *px, char *err, size_t errlen);
void proxy_splice_close(struct proxy *px);
/* Freezes both sockets of c and installs the splice. On success the
 * sockets are closed (silently) and c's port belongs to the splice. */
int proxy_splice_create(struct proxy *px, struct client_conn *c);
/* Installs a record made elsewhere (recovery's re-splice) and replicates
 * it; *out gets the entry. 0 or -errno. */
struct splice_record;
struct splice_entry;
int proxy_splice_install(struct proxy *px, const struct splice_record *rec,
			 struct splice_entry **out);
/* Retransmits owed bytes, expires splices. */
void proxy_splice_tick(struct proxy *px, uint64_t now_ms);
/* A segment seen here closed the splice (FIN acknowledged both ways, or
 * RST): the peers that saw none of it must learn it too. */
struct splice_entry;
void proxy_splice_closed_here(struct proxy *px, struct splice_entry *e);
/* A client SYN on e's client tuple: the splice is over. Every node drops
 * it now (a lingering copy would take the new connection's segments). */
void proxy_splice_reused(struct proxy *px, struct splice_entry *e);
/* An acknowledgement from the backend of a splice this proxy owes bytes,
 * with its options (SACK blocks, TSecr; NULL when unparsable). */
struct tcp_options;
void proxy_splice_backend_ack(struct proxy *px, uint64_t splice_id, uint32_t ack,
			      uint32_t wnd_bytes, const struct tcp_options *o);

#endif
