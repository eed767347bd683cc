/* SPDX-License-Identifier: MIT */
/*
 * The front end: bpd's AF_UNIX SOCK_SEQPACKET listener and the client
 * connections on it (docs/client-protocol.md). Each connection is one BP
 * socket of an application: its control channel, plus the delivery channel
 * bpd creates and hands over at SOCKET.
 */
#ifndef BPD_FRONTEND_H
#define BPD_FRONTEND_H

#include <ev.h>
#include <stddef.h>

struct agent;
struct frontend;

/* Limits on what clients can make bpd spend. */
struct frontend_limits {
	unsigned max_clients;	      /* connections at once, all users */
	unsigned max_clients_per_uid; /* connections at once, one user */
	unsigned max_unconsumed;      /* deliveries awaiting CONSUMED, per socket */
	size_t inline_max;	      /* larger payloads are delivered as an fd */
};

/*
 * Listen at path (created 0666 in a 0755 directory it makes if missing, an
 * old socket file replaced). Returns NULL with errno set. The agent must
 * outlive the front end.
 */
struct frontend *frontend_new(struct ev_loop *loop, const char *path, struct agent *agent,
			      const struct frontend_limits *limits);
/* Close every connection and the listener, and remove the socket file. */
void frontend_free(struct frontend *fe);

#endif
