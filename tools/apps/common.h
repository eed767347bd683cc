/* SPDX-License-Identifier: MIT */
/*
 * What bpsend, bprecv, bpecho and bping share: exit statuses and the one
 * error line, endpoint arguments, numbers, signals, waiting, and the
 * at-least-once receive (peek the whole bundle, act on it, then consume).
 *
 * Only the public API of include/bp/bp.h is used. Functions print nothing
 * unless their comment says so; they return >= 0 or -errno, and only main
 * exits.
 */
#ifndef TOOLS_APPS_COMMON_H
#define TOOLS_APPS_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bp/bp.h"

/* Exit statuses of every tool. */
enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,  /* the operation failed: no daemon, refused, timed out */
	TOOL_EXIT_USAGE = 2, /* bad arguments */
};

/* Room for any address libbp returns: struct sockaddr_bp_eid with a long EID. */
#define TOOL_ADDR_MAX 2048

/* An endpoint as libbp takes and returns it: len says which struct (bp.h). */
struct tool_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_bp ipn;
		struct sockaddr_bp_eid eid;
		char raw[TOOL_ADDR_MAX];
	};
	socklen_t len;
	/*
	 * Set for "S" and "ipn:0.S", an endpoint of this node: bpd resolves
	 * node 0 in a bind, not in a destination (see tool_resolve_dest).
	 */
	bool own_node;
};

/* The help text every tool prints about endpoints and BPD_SOCKET. */
extern const char tool_help_common[];

/* The program's name for messages ("bpsend"); set once by main. */
void tool_init(const char *prog);

/* Print "PROG: " and the text as one line on stderr; returns status. */
int tool_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "PROG: TEXT: strerror(err)" (err > 0) as one line; returns TOOL_EXIT_FAIL. */
int tool_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "PROG: TEXT (see PROG --help)" as one line; returns TOOL_EXIT_USAGE. */
int tool_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * getopt_long's complaint (opterr off, optstring starting with ':') about
 * argv[optind - 1] as one usage line; c is '?' or ':'. Returns
 * TOOL_EXIT_USAGE.
 */
int tool_bad_option(char **argv, int c);

/*
 * An endpoint argument: "ipn:N.S", "ipn:A.N.S", "dtn://node/demux" (or
 * "dtn:none") become a struct sockaddr_bp_eid; a bare decimal "S" becomes
 * struct sockaddr_bp ipn:0.S, service S of this node. Only the syntax is
 * checked here; bpd judges the rest. Returns 0 or -EINVAL.
 */
int tool_parse_endpoint(const char *text, struct tool_addr *ret);

/*
 * The one operand left after getopt (argv[optind]), named `what` in
 * messages ("ENDPOINT", "DEST"): parsed into *ret, its text in *ret_text.
 * Returns -1 to go on, else the usage exit status (a message printed).
 */
int tool_last_endpoint(int argc, char **argv, const char *what, const char **ret_text,
		       struct tool_addr *ret);

/* An address of len bytes as EID text in buf (cap bytes, always NUL-terminated). */
void tool_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap);

/*
 * A destination with own_node set becomes the same service on the node fd is
 * bound to (read with bp_getsockname). Returns 0, -EADDRNOTAVAIL when that
 * node has no ipn number, or getsockname's -errno.
 */
int tool_resolve_dest(int fd, struct tool_addr *dest);

/* A decimal number in [min, max], nothing else. Returns 0 or -EINVAL. */
int tool_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *ret);

/* A non-negative number of seconds ("1", "0.05") as nanoseconds. Returns 0 or -EINVAL. */
int tool_parse_seconds(const char *text, int64_t *ret_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t tool_now_ns(void);

/* Write all len bytes to fd, retrying short writes. Returns 0 or -errno. */
int tool_write_all(int fd, const void *buf, size_t len);

/* Read fd to its end into a new buffer (*ret_buf, the caller frees it). Returns 0 or -errno. */
int tool_read_all(int fd, uint8_t **ret_buf, size_t *ret_len);

/*
 * Set by SIGINT or SIGTERM once tool_signals_init() has run. The two
 * signals stay blocked except inside tool_wait(), so they never cut a write
 * or a libbp call short: a tool checks this flag when tool_wait() returns.
 * SIGPIPE is ignored (a closed stdout is an EPIPE error instead).
 */
extern volatile sig_atomic_t tool_stop;

/* Returns 0 or -errno. */
int tool_signals_init(void);

/*
 * Wait until fd is readable (or hung up), at most timeout_ns (< 0: no limit).
 * Returns 1 when ready, 0 on timeout, -EINTR when a signal came (look at
 * tool_stop), or poll's -errno.
 */
int tool_wait(int fd, int64_t timeout_ns);

/* One received bundle, kept whole in a buffer that grows as needed. */
struct tool_rx {
	uint8_t *buf;
	size_t cap;
	size_t len;  /* the payload's length */
	bool report; /* a status report (MSG_BP_STATUS_REPORT), not data */
	struct tool_addr src;
};

/* An empty receive buffer. Returns 0 or -ENOMEM. */
int tool_rx_init(struct tool_rx *rx);

/* Free the buffer; accepts a zeroed or half-built rx. */
void tool_rx_clear(struct tool_rx *rx);

/*
 * Peek at the next bundle without waiting and without consuming it: the
 * whole payload into rx->buf (grown to fit), its source and kind. Returns 0,
 * -EAGAIN when none waits, -ENOMEM when the buffer cannot grow, else
 * bp_recvmsg's -errno.
 */
int tool_rx_peek(int fd, struct tool_rx *rx);

/*
 * Consume the bundle tool_rx_peek() returned: bpd forgets it. Call only
 * after acting on it (written, echoed), so that a tool that dies before
 * gets it again on its next bind. Returns 0, -EPROTO when the bundle at the
 * head is not the one peeked at (another reader on the socket), or
 * bp_recvmsg's -errno.
 */
int tool_rx_consume(int fd, const struct tool_rx *rx);

/*
 * Open a BP socket, set its delivery policy (BP_DELIVERY_*, or -1 for the
 * node's default) and bind it to addr. Prints the error line itself
 * ("PROG: bind ipn:1.7: Address already in use"); returns the fd, or -1.
 */
int tool_open_bound(const struct tool_addr *addr, int policy);

#endif
