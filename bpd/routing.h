/* SPDX-License-Identifier: MIT */
/*
 * Routes and contacts (DESIGN.md §7), as config lines and bpctl commands:
 *
 *	route add PATTERN via NODE     bundles for PATTERN (pattern.h: ipn:30.*,
 *	                               ipn:*.*, dtn://c/ and a star) go to NODE's link
 *	route del PATTERN
 *	contact add NODE from T1 to T2 [rate R]
 *	contact del NODE               all of NODE's contacts
 *
 * A route names the next hop; the link to it is found by its peer's node
 * ID. Among routes that match, the most specific wins (an exact EID over a
 * node's services over any node), then the first added. A link straight to
 * the destination's node always wins over a route.
 *
 * Contacts are windows in which the link to NODE may carry bundles, as in
 * ION's contact plans: a node with contacts is used only inside one, paced
 * to its rate (bytes per second, a k, M or G suffix for thousands; no rate:
 * the link's own speed). A node without contacts is always available.
 * T is "+SECONDS" from when the line is read, or UTC "YYYY-MM-DDTHH:MM:SSZ".
 */
#ifndef BPD_ROUTING_H
#define BPD_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eid.h"
#include "node.h"

struct routing;

#define ROUTING_MAX_ROUTES 4096
#define ROUTING_MAX_CONTACTS 4096

struct routing *routing_new(void);
void routing_free(struct routing *rt);

/*
 * One "route ..." or "contact ..." line in words; now_ms (Unix time, ms)
 * anchors "+SECONDS". 0, or -EINVAL/-ENOENT/-ENOMEM with *why.
 */
int routing_command(struct routing *rt, int argc, char **argv, uint64_t now_ms, const char **why);

/* The next hop for eid by the routes, or NULL. */
const struct node_id *routing_via(const struct routing *rt, const struct bp_eid *eid);

enum contact_state {
	CONTACT_NONE,	/* no contacts for the node: always available */
	CONTACT_OPEN,	/* inside a window: *rate (0: unpaced), *change when it ends */
	CONTACT_CLOSED, /* between windows: *change when the next opens (UINT64_MAX: none) */
};
enum contact_state routing_contact(const struct routing *rt, const struct node_id *node,
				   uint64_t now_ms, uint64_t *rate, uint64_t *change);

/* For bpctl. */
struct route_info {
	const char *pattern;
	const char *via;
};
struct contact_info {
	const char *node;
	uint64_t from_ms, to_ms; /* Unix time */
	uint64_t rate;		 /* bytes per second, 0: unpaced */
};
void routing_walk_routes(const struct routing *rt,
			 void (*fn)(void *ctx, const struct route_info *ri), void *ctx);
void routing_walk_contacts(const struct routing *rt,
			   void (*fn)(void *ctx, const struct contact_info *ci), void *ctx);

#endif
