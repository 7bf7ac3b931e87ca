/* proxy_members - which peer proxies are alive, from their heartbeats.
 *
 * A segment of a connection not spliced yet belongs to the proxy whose
 * socket holds it: the jump hash of the client tuple over the cluster
 * (splice_owner). When that proxy dies its share must pass to a live one,
 * or every new connection hashing to it would be redirected into a black
 * hole until it returns. The proxies already send heartbeats to the load
 * balancers; with [cluster] heartbeat_port they also send them to each
 * other, and each keeps the membership the load balancer keeps (the same
 * heartbeat_receiver: authenticated, 3 missed = dead), so the owner follows
 * the live set (splice_owner_live) exactly as the load balancer's owner
 * preference does. Views can differ for at most the detection time, and
 * only for connections still being set up.
 *
 * The proxies detect a dead peer more slowly than the load balancer does
 * (PEER_DETECT_MIN_MS): a connection whose owner changes while it is being
 * set up is lost (its next segment reaches a proxy without its socket and
 * is reset), so ownership must not follow a peer's missed beats on a busy
 * machine (50 ms beats flap there), while a dead owner's new connections
 * lose little by waiting: the client's SYN is resent after 1 s anyway.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "proxy.h"

#define PEER_DETECT_MIN_MS 1000

int proxy_members_open(struct proxy *px, char *err, size_t errlen)
{
	const struct proxy_config *cfg = &px->cfg;
	if (cfg->peer_hb_port == 0 || cfg->npeers < 2)
		return 0;
	struct heartbeat_sender_config *hb = &px->cfg.hb;
	uint32_t ids[PROXY_MAX_PEERS];
	struct in_addr addrs[PROXY_MAX_PEERS];
	struct in_addr self = {0};
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->npeers; i++) {
		if (cfg->peers[i].id == cfg->id) {
			self = cfg->peers[i].addr;
			continue;
		}
		if (hb->ntargets == HEARTBEAT_MAX_TARGETS) {
			snprintf(err, errlen,
				 "[cluster] heartbeat_port: more than %u heartbeat targets",
				 HEARTBEAT_MAX_TARGETS);
			return -EINVAL;
		}
		hb->targets[hb->ntargets++] =
		    (struct sockaddr_in){.sin_family = AF_INET,
					 .sin_addr = cfg->peers[i].addr,
					 .sin_port = htons((uint16_t)cfg->peer_hb_port)};
		ids[n] = cfg->peers[i].id;
		addrs[n++] = cfg->peers[i].addr;
	}
	if (!hb->key_file[0])
		snprintf(hb->key_file, sizeof(hb->key_file), "%s", cfg->repl.key_file);
	struct heartbeat_receiver_config rcfg;
	heartbeat_receiver_config_default(&rcfg);
	rcfg.listen = (struct sockaddr_in){.sin_family = AF_INET,
					   .sin_addr = self,
					   .sin_port = htons((uint16_t)cfg->peer_hb_port)};
	rcfg.members.interval_ms = hb->interval_ms;
	uint64_t miss = (PEER_DETECT_MIN_MS + hb->interval_ms - 1) / hb->interval_ms;
	if (miss > rcfg.members.miss_count)
		rcfg.members.miss_count = (uint32_t)(miss > 100 ? 100 : miss);
	snprintf(rcfg.key_file, sizeof(rcfg.key_file), "%s", hb->key_file);
	int rc = heartbeat_receiver_init(&px->members, &rcfg, NULL, ids, addrs, n, NULL, NULL, err,
					 errlen);
	if (rc < 0)
		return rc;
	rc = heartbeat_receiver_open(&px->members, &px->daemon->loop, err, errlen);
	if (rc < 0) {
		heartbeat_receiver_close(&px->members);
		return rc;
	}
	px->members_open = true;
	return 0;
}

void proxy_members_close(struct proxy *px)
{
	if (px->members_open)
		heartbeat_receiver_close(&px->members);
	px->members_open = false;
}

bool proxy_member_live(const struct proxy *px, uint32_t id)
{
	if (!px->members_open || id == px->cfg.id)
		return true;
	int idx = hb_membership_find(&px->members.members, id);
	return idx >= 0 && hb_member_live(&px->members.members.members[idx]);
}

void proxy_members_live(const struct proxy *px, bool *live)
{
	for (unsigned i = 0; i < px->cfg.npeers; i++)
		live[i] = proxy_member_live(px, px->cfg.peers[i].id);
}
