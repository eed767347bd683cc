/* SPDX-License-Identifier: MIT */
/*
 * bpd's side of bpctl: the admin commands a client sends in an ADMIN message
 * (docs/client-protocol.md), answered in human form or JSON. The front end
 * has already checked that the client may run them (access.h).
 *
 *	status				node, store, clients, endpoints
 *	endpoints			each endpoint: bound by whom, queued, unconsumed
 *	bundles [list] [--state S] [--dest EID] [--limit N]
 *	bundles show ID			one bundle's metadata and primary block
 *	store				the store: use, segments, syncs, recovery
 *	bundles delete ID		delete it (RFC 9171 5.10); one already
 *					handed to an app may still be read there
 *	links				each link: peer, address, bundles in and out
 *	neighbors			each neighbour: link, contact window, queue
 *	neighbor add NODE ADDR		one more, until bpd stops
 *	routes, contacts		the routing tables (routing.h)
 *	route add|del ..., contact add|del ...
 *					change them, until bpd stops
 *	stats				counters: bundles by fate, deletions by
 *					reason, queues, store, each link
 *
 * "--json" anywhere among the arguments selects JSON.
 */
#ifndef BPD_CONTROL_H
#define BPD_CONTROL_H

#include <stdbool.h>

struct agent;
struct config;
struct frontend;
struct store;
struct textbuf;

struct links;
struct routing;

struct control_env {
	const struct config *cfg;
	struct agent *agent;
	struct store *store;
	struct frontend *fe;
	struct links *links;	 /* links to other nodes */
	struct routing *routing; /* routes and contacts */
	double started;		 /* ev_time() when bpd started */
};

/*
 * Run one command: argv[0] is its name. Returns 0 with the output in out,
 * or -errno with a one-line message in out (-EINVAL for a usage error,
 * -ENOENT for an unknown bundle, -EOPNOTSUPP for a command bpd does not run).
 */
int control_run(struct control_env *env, int argc, char **argv, bool json, struct textbuf *out);

#endif
