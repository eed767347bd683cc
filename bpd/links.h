/* SPDX-License-Identifier: MIT */
/*
 * Links to other nodes: TCPCLv4 listeners ("listen tcpcl:HOST:PORT"), and
 * neighbours ("neighbor add NODE tcpcl:HOST:PORT") that bpd keeps connected,
 * retrying with a growing delay (1 s doubling to 60 s) while the peer is
 * away. Every session, incoming or outgoing, is a link; a link is known by
 * the node ID its peer announced in SESS_INIT (RFC 9174 4.6), and a bundle
 * goes out on the link whose peer node owns its destination.
 *
 * A link has a number (never 0, not reused while bpd runs): the agent keeps
 * it, not the pointer, across anything asynchronous, and looks the link up
 * again with links_get(), since a link can go at any loop turn.
 */
#ifndef BPD_LINKS_H
#define BPD_LINKS_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cl.h"
#include "eid.h"
#include "node.h"
#include "routing.h"

struct links;
struct link;
struct routing;

struct links_ops {
	/* The link is up: its peer's node is link_peer(l). */
	void (*up)(void *ctx, struct link *l);
	/*
	 * A whole bundle arrived; data is valid during the call. Answer with
	 * link_accept(), now or later (look the link up by number first).
	 */
	void (*received)(void *ctx, struct link *l, uint64_t xfer, const uint8_t *data, size_t len);
	/* The send of bundle id ended: 0 the peer took it all, else -errno. */
	void (*sent)(void *ctx, struct link *l, uint64_t id, int status);
	/* The link is going (its sends were answered first). */
	void (*down)(void *ctx, struct link *l);
	/* The link may take bundles again: its contact opened, its pacing allows, routes changed. */
	void (*ready)(void *ctx, struct link *l);
};

/* node: ours, announced in SESS_INIT as ipn:N.0 or dtn://name/. Copied. */
struct links *links_new(struct ev_loop *loop, const struct node_id *node,
			const struct links_ops *ops, void *ctx);
/*
 * Stopping: end every link with SESS_TERM (RFC 9174 6.1) and run the loop
 * until they are closed or timeout_s has passed. Accepts NULL.
 */
void links_shutdown(struct links *ls, double timeout_s);
/* Close every listener and link (their sends answered first); accepts NULL. */
void links_free(struct links *ls);

/*
 * Listen on "tcpcl:HOST:PORT" or "udp:HOST:PORT" (HOST numeric: 127.0.0.1,
 * [::1]). 0 or -errno with *why.
 */
int links_listen(struct links *ls, const char *addr, const char **why);
/* Keep a link to node (text: ipn:N or dtn://name) at "tcpcl:..." or "udp:...". */
int links_neighbor_add(struct links *ls, const char *node, const char *addr, const char **why);

/*
 * The link for eid (RFC 9171 5.4 step 1: the next hop), or NULL: an up
 * link whose peer owns eid, else one to the node the routes name.
 */
struct link *links_route(struct links *ls, const struct bp_eid *eid);
/* Routes and contacts to follow (the caller's; NULL: none). Links are told ready. */
void links_set_routing(struct links *ls, const struct routing *rt);
/* Tell every up link ready (after routes or contacts changed). */
void links_kick(struct links *ls);
/* No up link can take a bundle now. */
bool links_all_busy(struct links *ls);
/* The link numbered id, if it is still there. */
struct link *links_get(struct links *ls, uint32_t id);

uint32_t link_id(const struct link *l);
/* The peer's node as it announced it ("ipn:2.0"), once up. */
const char *link_peer(const struct link *l);

/* The largest bundle one send takes (a datagram's), or 0 for any. */
size_t link_max_bundle(const struct link *l);
/*
 * Not now: enough is queued on l (send more when ops->sent reports one
 * done), or its contact is closed or its pacing says wait (ops->ready says
 * when).
 */
bool link_busy(struct link *l);
/*
 * Send an encoded bundle (malloc'd: the link takes it on success, else it
 * stays the caller's); ops->sent answers with id. 0 or -errno.
 */
int link_send(struct link *l, uint64_t id, uint8_t *data, size_t len);
/* Answer a received bundle: 0 acknowledges it, else it is refused, saying why. */
void link_accept(struct link *l, uint64_t xfer, int status, enum cl_refuse why);

/* Walk the links for bpctl. */
struct link_info {
	uint32_t id;
	const char *peer; /* "" until up */
	const char *addr; /* the neighbour's address, or the remote address */
	bool up;
	bool outgoing;
	struct cl_stats stats;
};
void links_walk(struct links *ls, void (*fn)(void *ctx, const struct link_info *li), void *ctx);

/* The configured neighbours, for bpctl. */
struct neighbor_info {
	const char *node;
	const char *addr;
	uint32_t link;		    /* our link to it, 0 while there is none */
	bool up;		    /* that link is up */
	double retry_in_s;	    /* no link: the next try comes in this long */
	enum contact_state contact; /* by the contacts, now */
	uint64_t rate;		    /* bytes/s inside a contact, 0: unpaced */
	uint64_t change_ms;	    /* Unix ms: the contact ends, or the next one starts */
	struct cl_stats stats;	    /* of its link */
};
void links_walk_neighbors(struct links *ls, void (*fn)(void *ctx, const struct neighbor_info *ni),
			  void *ctx);
/* The node a bundle for eid goes to next (RFC 9171 5.4 step 1), as text, or NULL. */
const char *links_next_hop(struct links *ls, const struct bp_eid *eid);

#endif
