/* SPDX-License-Identifier: MIT */
/*
 * libbp: Bundle Protocol sockets in userspace.
 *
 * The AF_BP socket model of the bp-socket kernel project, served by the bpd
 * daemon instead of a kernel module. Programs written for bp-socket compile
 * against this header with their socket calls renamed to bp_* (or run
 * unchanged under libbp-preload.so). docs/bp-socket-compat.md lists the
 * contract; docs/client-protocol.md how libbp talks to bpd.
 *
 * Every call returns -1 and sets errno on failure, with the errno a kernel
 * socket would give. The descriptor bp_socket() returns is a real file
 * descriptor: poll/select/epoll, O_NONBLOCK and SO_RCVTIMEO work on it, and
 * it becomes readable when a bundle arrives.
 *
 * Errors that only a daemon can cause: ECONNREFUSED from bp_socket() when no
 * bpd listens ($BPD_SOCKET, or the default path in include/bp/proto.h);
 * ECONNRESET from any later call once bpd has gone away (the socket stays
 * unusable: close it and open another); EPROTO when bpd breaks the client
 * protocol.
 *
 * Threads: any thread may use any socket. Calls on one socket are
 * serialised where they must be (one request to bpd at a time, one receive
 * at a time), so two threads may send and receive on the same socket. As
 * with any descriptor, closing a socket while another thread is still in a
 * call on it is a race the application must avoid. None of these calls is
 * async-signal-safe.
 *
 * A socket belongs to the process that opened it: after fork(), only one of
 * parent and child may use it. Close it with bp_close(), not close(): the
 * latter leaves libbp's connection to bpd open until the descriptor number
 * is reused by another bp_socket().
 */
#ifndef BP_BP_H
#define BP_BP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmsghdr; /* <sys/socket.h> defines it with _GNU_SOURCE */

#ifndef AF_BP
#define AF_BP 28
#endif

/* Endpoint ID schemes (values as bp-socket's). */
enum bp_scheme {
	BP_SCHEME_IPN = 1,
	BP_SCHEME_DTN = 2,
};
/* bp-socket's name for the enum, kept for source compatibility. */
typedef enum bp_scheme bp_scheme_t;

/*
 * An ipn endpoint, laid out exactly as bp-socket's (16 bytes on LP64):
 * ipn:node_id.service_id.
 */
struct sockaddr_bp {
	sa_family_t bp_family; /* AF_BP */
	bp_scheme_t bp_scheme; /* BP_SCHEME_IPN */
	union {
		struct {
			uint32_t node_id;
			uint32_t service_id;
		} ipn;
	} bp_addr;
};

/* Longest EID text struct sockaddr_bp_eid holds, with its NUL. */
#define BP_EID_TEXT_MAX 256

/*
 * Any endpoint by its text form ("dtn://node/app", "ipn:977000.1.5"): what
 * struct sockaddr_bp cannot say. bp_scheme is BP_SCHEME_DTN or
 * BP_SCHEME_IPN and must match the text's scheme; bp_eid is NUL-terminated.
 * Accepted wherever an address is, and returned as a source when the source
 * does not fit struct sockaddr_bp.
 *
 * An address's length tells the two structs apart: exactly
 * sizeof(struct sockaddr_bp) means struct sockaddr_bp; any other length
 * means struct sockaddr_bp_eid, whose NUL must lie within it. Passing
 * sizeof(struct sockaddr_bp_eid) is always right.
 */
struct sockaddr_bp_eid {
	sa_family_t bp_family; /* AF_BP */
	bp_scheme_t bp_scheme;
	char bp_eid[BP_EID_TEXT_MAX];
};

/*
 * Send flags, bp-socket's names and values. They overlap Linux MSG_* bits,
 * so libbp carries them to bpd and never passes them to the kernel; the one
 * Linux flag bp_sendmsg also honours is MSG_DONTWAIT (0x40, no bp-socket
 * bit). Other bits are ignored; no send ever raises SIGPIPE.
 *
 * A send returns the payload length once bpd has stored the bundle, or
 * fails with the reason (ENOBUFS when the store is full, EACCES, ...).
 * MSG_DONTWAIT, or O_NONBLOCK on the socket, means the call never waits for
 * room on its channel to bpd, nor for another thread's request on the same
 * socket (EAGAIN instead); it still waits for bpd's verdict, since that is
 * what it reports. A zero-length send sends a bundle with an empty payload
 * (bp-socket's sends nothing). There is no size limit but the store's.
 *
 * A file as the payload, without copying it through the application: give
 * bp_sendmsg() a control message (msg_control) with cmsg_level SOL_BP,
 * cmsg_type BP_PAYLOAD_FD and one int, a descriptor of a regular file or
 * memfd, and no data (a total iov length of 0). The payload is the file's
 * bytes from offset 0 to its size; the kernel copies them (sendfile) into
 * a sealed memfd that bpd reads, so the file may change once the call
 * returns. The call returns that size; EBADF for a negative descriptor,
 * EINVAL for one that is not a regular file.
 */
#define MSG_ACK_REQUESTED 0x00000001
#define MSG_RECEIVED_RPT 0x00000002
#define MSG_CUSTODY_RPT 0x00000004
#define MSG_FORWARDED_RPT 0x00000008
#define MSG_DELIVERED_RPT 0x00000010
#define MSG_DELETED_RPT 0x00000020
#define MSG_BP_BULK_PRIORITY 0x00000100
#define MSG_BP_STD_PRIORITY 0x00000200
#define MSG_BP_EXPEDITED_PRIORITY 0x00000400
#define MSG_SOURCE_CUSTODY_REQUIRED 0x00001000
#define MSG_SOURCE_CUSTODY_OPTIONAL 0x00002000
#define MSG_NO_CUSTODY_REQUIRED 0x00004000

/*
 * Set in msg_flags by bp_recvmsg() when what was received is a bundle status
 * report addressed to this endpoint (the data is the RFC 9171 6.1
 * administrative record), not application data.
 */
#define MSG_BP_STATUS_REPORT 0x10000000

/*
 * Socket options at level SOL_BP. A value shorter than its type fails with
 * EINVAL, an unknown option with ENOPROTOOPT. BP_REPORT_TO with length 0
 * returns to the default. BP_DELIVERY_POLICY set before bp_bind() travels
 * with the bind; set after, bpd applies it at once.
 *
 * Options at level SOL_SOCKET act on the descriptor itself, so SO_RCVTIMEO
 * has Linux's meaning: a zero timeout waits forever (bp-socket's means "do
 * not wait"; use MSG_DONTWAIT or O_NONBLOCK for that).
 */
#define SOL_BP 0x4250
#define BP_PAYLOAD_FD 1	     /* control message type at level SOL_BP (see above) */
#define BP_LIFETIME 1	     /* uint64_t: bundle lifetime in ms (default 86400000) */
#define BP_REPORT_TO 2	     /* struct sockaddr_bp(_eid): report-to (default: own EID) */
#define BP_CRC_TYPE 3	     /* int: RFC 9171 CRC type of sent bundles (default 2, CRC-32C) */
#define BP_DELIVERY_POLICY 4 /* int: BP_DELIVERY_DEFER (default) or BP_DELIVERY_ABANDON */
#define BP_HOP_LIMIT 5	     /* int: 1..255, a hop count block with that limit; 0: none (default) */
#define BP_SENT_ID 6	     /* struct bp_bundle_id, read only: the last bundle a send stored */

/*
 * A bundle's identity with its source (RFC 9171 4.2.7): what status reports
 * about it name. getsockopt(SOL_BP, BP_SENT_ID) gives the last one this
 * socket's sends stored (zeros before any).
 */
struct bp_bundle_id {
	uint64_t creation_time; /* DTN time: ms since 2000-01-01T00:00:00Z */
	uint64_t sequence;
};

/* What bpd does with bundles not consumed when the socket closes. */
#define BP_DELIVERY_DEFER 0   /* keep them; deliver again on the next bind */
#define BP_DELIVERY_ABANDON 1 /* delete them */

/*
 * domain AF_BP (else EAFNOSUPPORT); type SOCK_DGRAM or SOCK_SEQPACKET (else
 * ESOCKTNOSUPPORT: both give one bundle per datagram), optionally with
 * SOCK_NONBLOCK; the descriptor is always close-on-exec. protocol is
 * ignored, as by bp-socket.
 */
int bp_socket(int domain, int type, int protocol);
/*
 * Wildcards, as INADDR_ANY and port 0: ipn node 0 means this node's own
 * number, ipn service 0 a free service bpd picks (from 32768 to 60999).
 * bp_getsockname() tells what was bound.
 */
int bp_bind(int fd, const struct sockaddr *addr, socklen_t len);
/* The bound address (ipn:0.0 before bind); the address rules as bp_recvmsg's source. */
int bp_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
ssize_t bp_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dest,
		  socklen_t dest_len);
ssize_t bp_sendmsg(int fd, const struct msghdr *msg, int flags);
/*
 * Several sends in one call, as sendmmsg(2): vec[i].msg_hdr is one
 * bp_sendmsg()'s message, flags apply to all, at most 1024 are taken. The
 * requests are pipelined to bpd, so a stream of small bundles costs one
 * round trip per batch rather than per bundle. Returns how many bundles
 * were stored, counted from the first (each one's vec[i].msg_len set to its
 * payload length); none after the first failure is stored, so the caller
 * resends from there. -1 with errno when the first one fails. Should the
 * connection to bpd break mid-batch, more may have been stored than the
 * count says (at least that many were), as with a send whose reply is lost.
 */
int bp_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags);
ssize_t bp_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
		    socklen_t *src_len);
/*
 * One bundle per call; returns the full payload length. Flags: MSG_PEEK,
 * MSG_TRUNC and MSG_DONTWAIT (others are ignored). When the buffer is too
 * small: with MSG_TRUNC, what fits is copied and MSG_TRUNC set in msg_flags
 * (the rest is lost unless peeking); without it, the call fails with
 * EMSGSIZE and, unlike bp-socket, the bundle stays queued. The source is a
 * struct sockaddr_bp when it is ipn:N.S with 32-bit numbers, else a struct
 * sockaddr_bp_eid; msg_namelen says its full size even when it was cut.
 * Fails with EADDRNOTAVAIL before bp_bind(). A bundle received without
 * MSG_PEEK is consumed: bpd forgets it. One still queued when the socket
 * closes (or the app dies) is delivered again on the next bind of its
 * endpoint, unless the policy is BP_DELIVERY_ABANDON.
 */
ssize_t bp_recvmsg(int fd, struct msghdr *msg, int flags);
int bp_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int bp_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int bp_close(int fd);

/*
 * Status reports (RFC 9171 6.1). A bundle sent with MSG_*_RPT flags asks the
 * nodes on its way to report on it; the reports come to its report-to
 * endpoint (BP_REPORT_TO, by default the sender's own) as bundles whose
 * bp_recvmsg() sets MSG_BP_STATUS_REPORT in msg_flags and whose data is the
 * administrative record. The source address is the reporting node's
 * (ipn:N.0). bp_status_report_parse() reads the record; its id matches the
 * BP_SENT_ID of the send.
 */
#define BP_STATUS_RECEIVED 0x1
#define BP_STATUS_FORWARDED 0x2
#define BP_STATUS_DELIVERED 0x4
#define BP_STATUS_DELETED 0x8

struct bp_status_report {
	unsigned status;  /* the BP_STATUS_* the node asserts */
	uint64_t time[4]; /* DTN time (ms) of each, by bit number, when the bundle asked; else 0 */
	unsigned reason;  /* RFC 9171 9.5: 0 none, 1 lifetime expired, 9 hop limit exceeded, ... */
	char source[BP_EID_TEXT_MAX]; /* the reported bundle's source EID */
	struct bp_bundle_id id;	      /* and its creation timestamp */
	int is_fragment;
	uint64_t frag_offset, frag_len;
};

/* Read a status report's record (len bytes). 0, or -1 with errno EBADMSG or ENOTSUP. */
int bp_status_report_parse(const void *buf, size_t len, struct bp_status_report *ret);
/* The text of a reason code: "hop limit exceeded". */
const char *bp_status_reason(unsigned reason);

#ifdef __cplusplus
}
#endif

#endif
