/* SPDX-License-Identifier: MIT */
/*
 * The convergence-layer interface (DESIGN.md §6): one vtable per protocol,
 * which bpd's links layer drives without knowing the protocol.
 *
 * An adapter listens at an address and opens links to peer addresses. A
 * link carries bundles both ways; what it sees comes back through the
 * events its owner gave: up (with the peer's node ID when the protocol
 * announces one), a received bundle, a send answered, down. Events never
 * fire from inside open, send or accept; close and abort may call down.
 *
 * Each adapter is one file with its state machine: cl_tcpclv4.c (over
 * tcpclv4.c's session), cl_udp.c.
 */
#ifndef CONVERGENCE_CL_H
#define CONVERGENCE_CL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cl_link;
struct cl_listener;

/* Why a received bundle is refused (the adapter maps it to its protocol's code). */
enum cl_refuse {
	CL_REFUSE_NO_RESOURCES,	 /* the store is full: try later */
	CL_REFUSE_NOT_ACCEPTABLE /* the bundle is bad: do not send it again */
};

/* What a link has carried, for bpctl. */
struct cl_stats {
	uint64_t bundles_in, bytes_in, bundles_out, bytes_out;
	uint64_t refused_in;  /* bundles we refused */
	uint64_t refused_out; /* bundles the peer refused */
	uint64_t dropped_in;  /* input thrown away before it was a bundle (UDP: runts, garbage) */
};

/* The owner's side. Every link event gets the owner pointer its link was given. */
struct cl_events {
	/*
	 * A listener has a new link (a TCP connection, or the UDP socket's
	 * receiving side); addr is the remote or local address as text.
	 * Return the owner pointer for its events, or NULL to refuse it (the
	 * adapter then closes it, with no down event).
	 */
	void *(*incoming)(void *ctx, struct cl_link *cl, const char *addr);
	/* The link is up; peer (len bytes, not NUL-terminated) is the node ID the peer announced, or len 0. */
	void (*up)(void *owner, const char *peer, size_t len);
	/* A whole bundle arrived (data valid during the call); answer with ops->accept(). */
	void (*received)(void *owner, uint64_t xfer, const uint8_t *data, size_t len);
	/* The send of token ended: 0 when the peer took it, else -errno. */
	void (*sent)(void *owner, uint64_t token, int status);
	/* The link is gone (why: static text); every send was answered before. */
	void (*down)(void *owner, const char *why);
};

/* What every adapter gets from the links layer. */
struct cl_env {
	struct ev_loop *loop;
	const char *node_id; /* ours: "ipn:7.0" or "dtn://n7/" */
	const struct cl_events *ev;
	void *ctx; /* for ev->incoming */
};

/* The head of every adapter's link. */
struct cl_link {
	const struct cl_ops *ops;
	void *owner;
};

struct cl_ops {
	const char *scheme; /* "tcpcl", "udp": the address prefix */
	/*
	 * The largest bundle one send may carry (a datagram's limit), or 0 for
	 * no limit: the agent fragments bigger ones (RFC 9171 5.8).
	 */
	size_t max_bundle;
	/*
	 * Does the protocol confirm a transfer (TCPCL's acks)? Without that,
	 * "sent" means handed to the kernel, and received bundles cannot be
	 * refused.
	 */
	bool confirms;

	/* Listen at sa. 0 or -errno with *why. */
	int (*listen)(const struct cl_env *env, const struct sockaddr *sa, socklen_t len,
		      struct cl_listener **ret, const char **why);
	/* Stop listening; links it made go on (UDP's receiving link goes down with it). */
	void (*listener_free)(struct cl_listener *li);
	/*
	 * Open a link to the peer at sa, for owner. It comes up or goes down
	 * later. 0 or -errno with *why (then there is no link).
	 */
	int (*open)(const struct cl_env *env, const struct sockaddr *sa, socklen_t len, void *owner,
		    struct cl_link **ret, const char **why);
	/*
	 * Queue a bundle: data is malloc'd, and the adapter takes it (frees
	 * it) when this returns 0, so that no bundle is copied on its way to
	 * the socket; on an error it stays the caller's. events->sent answers
	 * with token. 0 or -errno.
	 */
	int (*send)(struct cl_link *cl, uint64_t token, uint8_t *data, size_t len);
	/* Enough is queued: send more when events->sent reports one done. */
	bool (*busy)(const struct cl_link *cl);
	/* Answer a received bundle: status 0 acknowledges it, else it is refused. */
	void (*accept)(struct cl_link *cl, uint64_t xfer, int status, enum cl_refuse why);
	/* End the link in an orderly way once what is queued has gone (or now, if not up yet). */
	void (*close)(struct cl_link *cl);
	/* End it now: sends hear -ECONNRESET, then down (even from inside this call). */
	void (*abort)(struct cl_link *cl);
	void (*stats)(const struct cl_link *cl, struct cl_stats *ret);
};

extern const struct cl_ops cl_tcpclv4_ops;
extern const struct cl_ops cl_udp_ops;

/* The adapter for an address's scheme ("udp:..."), and where the rest starts. */
const struct cl_ops *cl_find(const char *addr, const char **rest);

/*
 * "HOST:PORT" after the scheme: HOST a numeric IPv4 address or [IPv6].
 * 0 or -EINVAL with *why.
 */
int cl_addr_parse(const char *text, struct sockaddr_storage *sa, socklen_t *len, const char **why);
/* "scheme:HOST:PORT" of sa. */
void cl_addr_text(const char *scheme, const struct sockaddr_storage *sa, char *buf, size_t cap);

#endif
