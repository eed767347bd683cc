/* SPDX-License-Identifier: MIT */
/*
 * The bundle protocol agent (RFC 9171 5): bundle transmission for local
 * applications, local delivery to registered endpoints, deletion. Convergence
 * layers and forwarding join in issue 5; until then a bundle for another node
 * waits in the store.
 */
#ifndef BPD_AGENT_H
#define BPD_AGENT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle.h"
#include "eid.h"

struct agent;
struct agent_binding;
struct link;
struct links;
struct node_id;
struct store;

/* One bundle handed to a bound endpoint. */
struct agent_delivery {
	uint64_t id; /* names the delivery until the application consumed it */
	bool is_report;
	/* Decoded bundle; valid only during the deliver call. */
	const struct bpv7_bundle *bundle;
};

/* Where deliveries for a binding go: the front end's delivery channel. */
struct agent_sink_ops {
	/*
	 * Hand one bundle over. 0: done; any -errno: not now, the bundle stays
	 * queued and the sink calls agent_binding_ready() when it can take
	 * more (a broken sink's owner unbinds instead, outside this call).
	 */
	int (*deliver)(void *ctx, const struct agent_delivery *d);
};

/* An application's request to send (RFC 9171 5.2). */
struct agent_send_req {
	struct bp_eid source; /* the sender's bound endpoint */
	struct bp_eid dest;
	struct bp_eid report_to;
	uint64_t bp_flags; /* bp-socket send flags (include/bp/bp.h) */
	uint64_t lifetime; /* ms */
	uint8_t crc_type;
	bool admin_record;	/* the agent's own: a status report (RFC 9171 6.1) */
	uint64_t hop_limit;	/* 1..255: a hop count block (4.4.3); 0: none */
	const uint8_t *payload; /* the caller's bytes, valid during agent_send() */
	size_t payload_len;
	/*
	 * With payload NULL and payload_len > 0: the payload is bytes
	 * [0, payload_len) of this memfd, sealed against writes and shrinking.
	 * It goes into the store from the file (copy_file_range, sendfile),
	 * never through a buffer of bpd's; agent_send() keeps its own dup.
	 */
	int payload_fd;
};

/* What a stored bundle is known by (RFC 9171 4.2.7): source + timestamp. */
struct agent_sent {
	uint64_t creation_time;
	uint64_t sequence;
};

/*
 * Called once the bundle is durable (status 0) or could not be stored
 * (-ENOBUFS when the store is full, ...), or with -ECANCELED (sent NULL)
 * when the agent is freed first. Never called from inside agent_send().
 */
typedef void agent_send_done_fn(void *ctx, int status, const struct agent_sent *sent);

struct agent *agent_new(struct ev_loop *loop, const struct node_id *node, struct store *store);
void agent_free(struct agent *a);

/*
 * RFC 9171 5.2: build the bundle and store it. Returns 0 when the request is
 * under way (done will be called), or -errno at once (done will not be).
 */
int agent_send(struct agent *a, const struct agent_send_req *req, agent_send_done_fn *done,
	       void *ctx);

/*
 * Register the endpoint (RFC 9171 3.1, "active" registration) with a sink:
 * queued bundles for it are delivered at once. -EADDRINUSE when another
 * binding holds it, -EADDRNOTAVAIL when it is not this node's.
 */
int agent_bind(struct agent *a, const struct bp_eid *eid, const struct agent_sink_ops *ops,
	       void *ctx, struct agent_binding **ret);
/* This node's ID. */
const struct node_id *agent_node(const struct agent *a);
/*
 * Could a payload of len bytes be stored now? 0, -ENOBUFS when the store
 * has not that much room left, -EMSGSIZE when it never could (the quota).
 */
int agent_room_for(struct agent *a, uint64_t len);
/* The endpoint a binding holds. */
int agent_binding_eid(const struct agent_binding *b, struct bp_eid *ret);
/* Bundles delivered on this binding and not yet consumed. */
size_t agent_binding_unconsumed(const struct agent_binding *b);
/* The sink can take deliveries again after -EAGAIN. */
void agent_binding_ready(struct agent_binding *b);
/* The application consumed delivery id: the bundle is deleted. -ENOENT if unknown. */
int agent_consumed(struct agent_binding *b, uint64_t id);
/*
 * Is eid known to the agent: bound, or with bundles waiting? (A free
 * ephemeral service is one that is not.)
 */
bool agent_endpoint_known(struct agent *a, const struct bp_eid *eid);
/* Is eid bound by a socket now? */
bool agent_endpoint_bound(struct agent *a, const struct bp_eid *eid);

/* What bpctl endpoints shows of one endpoint. */
struct agent_endpoint_info {
	const char *eid;
	bool bound;
	void *sink_ctx;	   /* the binding's sink, when bound */
	size_t queued;	   /* waiting for delivery */
	size_t unconsumed; /* delivered, not yet consumed */
};

/* Call fn for each endpoint the agent knows; info is valid during the call. */
void agent_walk_endpoints(struct agent *a,
			  void (*fn)(void *ctx, const struct agent_endpoint_info *info), void *ctx);

/*
 * Pick up what the store held at start (a persistent store's recovery):
 * bundles for local endpoints wait for them again, delivered but
 * unconsumed ones included, and every lifetime is watched. Call once,
 * after agent_new(), before any client connects.
 */
void agent_recover(struct agent *a);

/*
 * Delete a stored bundle on an operator's order (RFC 9171 5.10), whatever
 * queue holds it. -ENOENT if unknown, -EBUSY while it is being stored.
 */
int agent_delete(struct agent *a, uint64_t id);

/*
 * End the registration. Delivered but unconsumed bundles return to the
 * endpoint's queue for the next binding ("defer"), or are deleted ("abandon").
 */
void agent_unbind(struct agent_binding *b, bool abandon);

/*
 * Other nodes (RFC 9171 5.4, 5.6). With links set, bundles for other nodes
 * go out on the link whose peer owns their destination, as soon as one is
 * up; without one they wait in the store. A bundle received from a link is
 * stored, and only then is its transfer acknowledged; it is delivered here
 * or forwarded on. main wires the links' callbacks to these.
 */
void agent_set_links(struct agent *a, struct links *ls);
void agent_link_up(struct agent *a, struct link *l);
void agent_link_down(struct agent *a, struct link *l);
void agent_link_received(struct agent *a, struct link *l, uint64_t xfer, const uint8_t *data,
			 size_t len);
void agent_link_sent(struct agent *a, struct link *l, uint64_t id, int status);
void agent_link_ready(struct agent *a, struct link *l);

/* The node's policy on status reports (RFC 9171 6.1): on by default. */
void agent_set_reports(struct agent *a, bool on);

/* What the agent has done since bpd started, for bpctl stats. */
#define AGENT_REASONS 17 /* RFC 9171 9.5 reason codes 0..16 */
struct agent_stats {
	uint64_t originated;		 /* bundles local apps sent (and reports), stored */
	uint64_t received;		 /* from links, stored */
	uint64_t forwarded;		 /* confirmed by a link */
	uint64_t delivered;		 /* handed to local apps */
	uint64_t reports;		 /* status reports sent */
	uint64_t refused_full;		 /* received bundles the full store refused */
	uint64_t refused_bad;		 /* received bytes that did not decode */
	uint64_t deleted[AGENT_REASONS]; /* by reason code (0: an operator, ...) */
	size_t reassembly_waiting;	 /* fragments waiting for the rest of their bundle */
};
void agent_stats(const struct agent *a, struct agent_stats *ret);

#endif
