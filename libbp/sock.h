/* SPDX-License-Identifier: MIT */
/*
 * libbp's per-socket state and the table that finds it from the app's fd.
 *
 * A BP socket is the delivery fd (what bp_socket() returns and the app
 * polls) plus a control connection to bpd. The table is indexed by the
 * delivery fd and grows as needed.
 *
 * Locking. The table lock guards the table and every refcount, and is held
 * only for a lookup. Each socket has two more:
 *  - ctl_lock: one request and its reply at a time on the control
 *    connection (a CONSUMED that asks for no reply needs no lock: it is
 *    one datagram); it also guards the options and the bound EID;
 *  - rx_lock: one receive at a time (a receive peeks, then consumes: two
 *    threads must not interleave there).
 * Order: rx_lock before ctl_lock. No lock is held while an app-visible wait
 * could be long except rx_lock (waiting for a bundle) and ctl_lock (waiting
 * for bpd's verdict on a request).
 *
 * Lifetime. The table holds one reference; every call in progress holds one
 * more, so bp_close() on one thread never frees a socket another thread is
 * using. The control connection closes with the last reference.
 */
#ifndef LIBBP_SOCK_H
#define LIBBP_SOCK_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bp/bp.h"
#include "bp/proto.h"

/* Marks the definitions of the public API (everything else is hidden). */
#define BP_EXPORT __attribute__((visibility("default")))

/* Defaults of the SOL_BP options (include/bp/bp.h). */
#define SOCK_LIFETIME_DEFAULT 86400000u /* ms: one day, as bp-socket */
#define SOCK_CRC_DEFAULT 2		/* RFC 9171 4.2.1: CRC-32C */
#define SOCK_CRC_MAX 2			/* RFC 9171 4.2.1: 0 none, 1 CRC-16, 2 CRC-32C */

struct bp_sock {
	int fd;	       /* the delivery fd: the app's descriptor */
	int ctl;       /* control connection to bpd, or -1 */
	unsigned refs; /* guarded by the table lock */
	atomic_bool bound;

	pthread_mutex_t ctl_lock;
	uint32_t next_request;		      /* never 0 (0 is a delivery's id) */
	char eid[BP_PROTO_MAX_EID + 1];	      /* as bound */
	char report_to[BP_PROTO_MAX_EID + 1]; /* "" means the bound EID */
	uint64_t lifetime;		      /* ms */
	int crc_type;
	int hop_limit;		     /* 0: no hop count block */
	struct bp_bundle_id sent_id; /* the last bundle stored (BP_SENT_ID) */
	int policy;		     /* enum bp_delivery_policy */
	bool policy_set;	     /* chosen by the app; else the node's default applies */

	pthread_mutex_t rx_lock;
	uint8_t *rx; /* one DELIVER message (BP_PROTO_MAX_MSG); allocated on first use */
	void *batch; /* bp_sendmmsg()'s room (send.c), allocated on first use; under ctl_lock */
};

/* A socket with default options and no fds, holding one reference; NULL on ENOMEM. */
struct bp_sock *sock_new(void);

/*
 * Put s in the table under s->fd, taking over the caller's reference (kept
 * on failure too: the caller then releases it). An entry already there is a
 * socket the app closed with close() instead of bp_close(): the kernel has
 * reused its fd number, so it is released without closing that fd.
 * Returns 0 or -ENOMEM.
 */
int sock_table_add(struct bp_sock *s);

/* The socket on fd with a new reference, or NULL. */
struct bp_sock *sock_get(int fd);

/* Remove fd's socket from the table; the caller gets the table's reference. NULL if none. */
struct bp_sock *sock_take(int fd);

/* Drop one reference; the last one closes the control connection and frees s. */
void sock_put(struct bp_sock *s);

/* The next request id for this socket; call with ctl_lock held. */
uint32_t sock_request_id(struct bp_sock *s);

/* The errno for an fd that is not a BP socket: ENOTSOCK when it is open, else EBADF. */
int sock_not_found(int fd);

/* Report a -errno result the POSIX way: set errno, return -1. */
static inline int sock_fail(int neg_errno)
{
	errno = -neg_errno;
	return -1;
}

#endif
