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
 */
#ifndef BP_BP_H
#define BP_BP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

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
 * BP_SCHEME_IPN; bp_eid is NUL-terminated. Accepted wherever an address is,
 * and returned as a source when the source does not fit struct sockaddr_bp.
 */
struct sockaddr_bp_eid {
	sa_family_t bp_family; /* AF_BP */
	bp_scheme_t bp_scheme;
	char bp_eid[BP_EID_TEXT_MAX];
};

/*
 * Send flags, bp-socket's names and values. They overlap Linux MSG_* bits,
 * so libbp carries them to bpd and never passes them to the kernel; the one
 * Linux flag bp_sendmsg also honours is MSG_DONTWAIT.
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

/* Socket options at level SOL_BP. SO_RCVTIMEO works at SOL_SOCKET as usual. */
#define SOL_BP 0x4250
#define BP_LIFETIME 1	     /* uint64_t: bundle lifetime in ms (default 86400000) */
#define BP_REPORT_TO 2	     /* struct sockaddr_bp(_eid): report-to (default: own EID) */
#define BP_CRC_TYPE 3	     /* int: RFC 9171 CRC type of sent bundles (default 2, CRC-32C) */
#define BP_DELIVERY_POLICY 4 /* int: BP_DELIVERY_DEFER (default) or BP_DELIVERY_ABANDON */

/* What bpd does with bundles not consumed when the socket closes. */
#define BP_DELIVERY_DEFER 0   /* keep them; deliver again on the next bind */
#define BP_DELIVERY_ABANDON 1 /* delete them */

int bp_socket(int domain, int type, int protocol);
int bp_bind(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t bp_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dest,
		  socklen_t dest_len);
ssize_t bp_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t bp_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
		    socklen_t *src_len);
ssize_t bp_recvmsg(int fd, struct msghdr *msg, int flags);
int bp_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int bp_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int bp_close(int fd);

#ifdef __cplusplus
}
#endif

#endif
