/* ctl.h - what the parts of craft-ctl share: the options, the exit codes
 * and the helpers main.c defines for exchange.c (request/reply over the
 * local socket or authenticated UDP, and `fetch`). */
#ifndef CRAFT_TOOLS_CTL_H
#define CRAFT_TOOLS_CTL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_channel.h"
#include "ctl_msg.h"

enum { EXIT_OK = 0, EXIT_TIMEOUT = 1, EXIT_USAGE = 2 };

struct opts {
	const char *key, *unix_path;
	struct sockaddr_in bind, to;
	bool have_bind, have_to, twice, no_auth;
	uint32_t sender_id, garbage, count;
	uint64_t timeout_ms, wait_ms;
	uint32_t allow[CTL_MAX_ALLOW];
	unsigned nallow;
	const char *probe_send;
	struct in_addr source;
	const char *out;
};

int field_u64(const char *v, uint64_t *out);
/* A message from TYPE field=value words; 0 or -1 (logged). */
int msg_from_words(int argc, char **argv, struct ctl_msg *m);
void print_msg(const struct ctl_msg *m, const char *suffix);
int unix_connect(const char *path);

/* exchange.c */
int send_wait_udp(const struct opts *o, const struct ctl_msg *m);
int cmd_fetch(const struct opts *o, int argc, char **argv);

#endif
