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
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct access;
struct agent;
struct frontend;
struct textbuf;

/* Limits on what clients can make bpd spend. */
struct frontend_limits {
	unsigned max_clients;	      /* connections at once, all users */
	unsigned max_clients_per_uid; /* connections at once, one user */
	unsigned max_unconsumed;      /* deliveries awaiting CONSUMED, per socket */
	size_t inline_max;	      /* larger payloads are delivered as an fd */
};

/* Runs one admin command (control.h); same contract as control_run(). */
typedef int frontend_admin_fn(void *ctx, int argc, char **argv, bool json, struct textbuf *out);

struct frontend_opts {
	struct frontend_limits limits;
	const struct access *access; /* who may bind what and run admin commands */
	bool abandon;		     /* delivery policy of sockets that do not choose */
	frontend_admin_fn *admin;
	void *admin_ctx;
};

/*
 * Listen at path (created 0666 in a 0755 directory it makes if missing, an
 * old socket file replaced). Returns NULL with errno set. The agent and
 * opts->access must outlive the front end.
 */
struct frontend *frontend_new(struct ev_loop *loop, const char *path, struct agent *agent,
			      const struct frontend_opts *opts);

/* Connections open, and how many of them are bound. */
void frontend_counts(const struct frontend *fe, unsigned *ret_clients, unsigned *ret_bound);
/* The process behind a binding's sink context (agent_endpoint_info.sink_ctx). */
bool frontend_sink_owner(void *sink_ctx, pid_t *ret_pid, uid_t *ret_uid);
/* Close every connection and the listener, and remove the socket file. */
void frontend_free(struct frontend *fe);

#endif
