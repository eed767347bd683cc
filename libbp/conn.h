/* SPDX-License-Identifier: MIT */
/*
 * libbp's plumbing on AF_UNIX SEQPACKET (docs/client-protocol.md): the
 * control connection to bpd, one request and its reply, and datagrams with
 * a file descriptor passed alongside (SCM_RIGHTS).
 *
 * Transport errors come back as the errno an application can act on:
 * -ECONNREFUSED when no bpd listens, -ECONNRESET when bpd closed the
 * connection, -EPROTO when a reply breaks the protocol.
 */
#ifndef LIBBP_CONN_H
#define LIBBP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "bp/proto.h"

/*
 * Replies libbp asks for are small (status, an EID, a timestamp); a reply
 * longer than this breaks the protocol.
 */
#define CONN_REPLY_MAX 4096
/* The control connection's send buffer, asked for (the kernel may give less). */
#define CONN_SNDBUF (4 << 20)

/*
 * Connect to bpd's socket (bp_proto_socket_path()). Returns the connected
 * fd (close-on-exec, blocking), -ECONNREFUSED when no bpd listens there (no
 * socket file, or nobody accepting), or another -errno.
 */
int conn_open(void);

/*
 * How a send waits for room on the connection: always (CONN_WAIT), never
 * (CONN_DONTWAIT: -EAGAIN instead), or, given an app's descriptor (>= 0),
 * unless that descriptor is O_NONBLOCK. The descriptor's flags are read
 * only when there is no room, so the usual send costs no fcntl().
 */
#define CONN_WAIT (-1)
#define CONN_DONTWAIT (-2)

/*
 * Send one datagram made of n iovecs on sock, with pass_fd (when >= 0) as
 * SCM_RIGHTS; pass_fd stays the caller's. wait: as above. Returns 0 or
 * -errno; on failure nothing was sent.
 */
int conn_sendv(int sock, const struct iovec *iov, size_t n, int pass_fd, int wait);

/* conn_sendv() of one buffer; dontwait: CONN_DONTWAIT, else CONN_WAIT. */
int conn_send(int sock, const void *msg, size_t len, int pass_fd, bool dontwait);

/*
 * Receive one datagram into buf. flags may hold MSG_PEEK and MSG_DONTWAIT.
 * A passed fd goes to *ret_fd (-1 if none); with ret_fd NULL, and for any
 * fd beyond the first, it is closed. *ret_trunc says the datagram was longer
 * than cap. Returns the bytes received (0 means the peer closed) or -errno;
 * EINTR is returned, not retried.
 */
ssize_t conn_recv(int sock, void *buf, size_t cap, int flags, int *ret_fd, bool *ret_trunc);

/* A decoded reply: its fields point into buf. */
struct conn_reply {
	struct bp_msg msg;
	uint8_t buf[CONN_REPLY_MAX];
};

/*
 * One request (the n iovecs of iov, with request id `request`, never 0) on
 * the control connection and its REPLY, waiting through EINTR. pass_fd,
 * wait: as conn_sendv(). When the status is 0 and ret_fd is not NULL, a
 * passed fd in the reply goes to *ret_fd (the caller owns it; -1 if none);
 * any other fd is closed. REPLYs to request 0 are skipped: request 0 asks
 * for none (docs/client-protocol.md), so one is a peer answering anyway,
 * never the reply awaited. Returns 0 when bpd's status is 0,
 * -status when it is an errno, or a transport error; after an error in
 * reading the reply, or a reply that breaks the protocol, the connection is
 * shut down, so that no later request reads a reply meant for this one (a
 * request that could not be sent leaves it in step).
 */
int conn_callv(int ctl, const struct iovec *iov, size_t n, uint32_t request, int pass_fd, int wait,
	       struct conn_reply *ret, int *ret_fd);

/* The second half of conn_callv(), for a request already sent with conn_sendv(). */
int conn_reply(int ctl, uint32_t request, struct conn_reply *ret, int *ret_fd);

/* conn_callv() of one buffer; dontwait: CONN_DONTWAIT, else CONN_WAIT. */
int conn_call(int ctl, const void *msg, size_t len, uint32_t request, int pass_fd, bool dontwait,
	      struct conn_reply *ret, int *ret_fd);

/* Is fd O_NONBLOCK? (An fd whose flags cannot be read counts as blocking.) */
bool conn_nonblocking(int fd);

/*
 * The total length of an app's iovec array, with the checks sendmsg(2) and
 * recvmsg(2) make: -EMSGSIZE for more than IOV_MAX entries, -EFAULT for a
 * NULL array or buffer, -EINVAL when the total passes SSIZE_MAX.
 */
int conn_iov_len(const struct iovec *iov, size_t n, size_t *ret);

#endif
