/* SPDX-License-Identifier: MIT */
/*
 * The bpsock client protocol: the messages libbp and bpd exchange over
 * AF_UNIX SOCK_SEQPACKET (docs/client-protocol.md is the specification; this
 * header is its C form, for libbp, bpd and other languages' bindings).
 *
 * One message per datagram: a 12-byte header, then fields.
 *
 *	header:	version  u8	BP_PROTO_VERSION
 *		type	 u8	enum bp_msg_type
 *		reserved u16	0
 *		length	 u32	whole message, header included
 *		request	 u32	request id, echoed by the reply; 0 on deliveries
 *	field:	tag	 u16	enum bp_field
 *		length	 u32	value bytes that follow
 *		value		an integer (exactly 8 bytes) or bytes
 *
 * Every integer is big-endian. Each message type allows a fixed set of
 * fields (bp_msg_decode() enforces it): an unknown tag, a repeated tag that
 * may appear once, an integer of another length or a missing required field
 * makes the message malformed.
 */
#ifndef BP_PROTO_H
#define BP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_PROTO_VERSION 1
#define BP_PROTO_HDR_LEN 12
#define BP_PROTO_FIELD_HDR_LEN 6
/* The largest message either side sends or accepts (SEQPACKET's own bound is ~4 MiB). */
#define BP_PROTO_MAX_MSG (4u << 20)
/* Most fields one message may carry (ADMIN arguments are the many ones). */
#define BP_PROTO_MAX_FIELDS 64
/* Longest EID text in any field. */
#define BP_PROTO_MAX_EID 1100
/*
 * Most requests a client may have unanswered at once (pipelined SENDs); bpd
 * closes a client that sends more.
 */
#define BP_PROTO_MAX_INFLIGHT 64
/* Longest admin argument or output chunk. */
#define BP_PROTO_MAX_TEXT (1u << 20)

enum bp_msg_type {
	/* libbp -> bpd, on the control connection; each gets a REPLY (but CONSUMED with request 0) */
	BP_MSG_SOCKET = 1,   /* open a BP socket: the reply carries the delivery fd */
	BP_MSG_BIND = 2,     /* bind the socket to an endpoint */
	BP_MSG_SEND = 3,     /* send a bundle; replied to once it is stored */
	BP_MSG_CONSUMED = 4, /* the app consumed a delivery: bpd may forget it */
	BP_MSG_ADMIN = 5,    /* a bpctl command */
	BP_MSG_SETOPT = 6,   /* a socket option bpd keeps (delivery policy) */
	/* bpd -> libbp */
	BP_MSG_REPLY = 0x80,   /* the answer to one request */
	BP_MSG_DELIVER = 0x81, /* a bundle or status report, on the delivery channel */
};

enum bp_field {
	BP_F_STATUS = 1,	 /* u64: 0, or the errno the call fails with */
	BP_F_EID = 2,		 /* bytes: an endpoint ID in text form */
	BP_F_DEST = 3,		 /* bytes: destination EID */
	BP_F_SOURCE = 4,	 /* bytes: source EID */
	BP_F_REPORT_TO = 5,	 /* bytes: report-to EID */
	BP_F_FLAGS = 6,		 /* u64: bp-socket send flags (MSG_ACK_REQUESTED, ...) */
	BP_F_LIFETIME = 7,	 /* u64: ms */
	BP_F_CRC_TYPE = 8,	 /* u64: RFC 9171 4.2.1 CRC type */
	BP_F_PAYLOAD = 9,	 /* bytes: the payload, inline */
	BP_F_PAYLOAD_FD = 10,	 /* u64: payload length; the payload is the fd passed with
				   the message (SCM_RIGHTS), read from offset 0 */
	BP_F_DELIVERY_ID = 11,	 /* u64: names one delivery until it is consumed */
	BP_F_CREATION_TIME = 12, /* u64: DTN time, ms */
	BP_F_SEQUENCE = 13,	 /* u64: creation timestamp sequence number */
	BP_F_POLICY = 14,	 /* u64: enum bp_delivery_policy */
	BP_F_KIND = 15,		 /* u64: enum bp_delivery_kind */
	BP_F_ARG = 16,		 /* bytes: one admin argument (repeated, in order) */
	BP_F_OUTPUT = 17,	 /* bytes: admin command output */
	BP_F_OPTION = 18,	 /* u64: enum bp_sockopt_id, with BP_F_VALUE */
	BP_F_VALUE = 19,	 /* u64 */
	BP_F_BUNDLE_FLAGS = 20,	 /* u64: RFC 9171 4.2.3 flags of a delivered bundle */
	BP_F_OUTPUT_FD = 21,	 /* u64: admin output length; the output is the fd passed
				   with the reply (a sealed memfd), read from offset 0 */
	BP_F_BATCH = 22,	 /* u64 1: this SEND continues the previous one's batch:
				   refused with ECANCELED if a SEND before it failed */
	BP_F_HOP_LIMIT = 23, /* u64 1..255: the bundle gets a hop count block (RFC 9171 4.4.3) */
	BP_F_COUNT
};

/* What happens to a socket's unconsumed bundles when it closes. */
enum bp_delivery_policy {
	BP_POLICY_DEFER = 0,   /* keep them; deliver again on the next bind (RFC 9171 3.1) */
	BP_POLICY_ABANDON = 1, /* delete them */
};

enum bp_delivery_kind {
	BP_DELIVERY_DATA = 0,	/* an application bundle */
	BP_DELIVERY_REPORT = 1, /* an administrative record: the payload is the record */
};

enum bp_sockopt_id {
	BP_OPT_DELIVERY_POLICY = 1,
};

/* One field of a decoded message; bytes point into the message buffer. */
struct bp_msg_field {
	uint16_t tag;
	uint64_t u64;	    /* integer fields */
	const uint8_t *ptr; /* byte fields */
	uint32_t len;
};

struct bp_msg {
	uint8_t type;
	uint32_t request;
	unsigned nfields;
	struct bp_msg_field fields[BP_PROTO_MAX_FIELDS];
};

/* Why a message was malformed; static text. */
struct bp_msg_error {
	const char *why;
	size_t offset;
};

/*
 * Decode and validate one message of len bytes (a whole datagram). Returns
 * 0, or -EBADMSG with *ret_err saying why. The message's byte fields point
 * into buf.
 */
int bp_msg_decode(const uint8_t *buf, size_t len, struct bp_msg *ret, struct bp_msg_error *ret_err);

/* The first field with this tag, or NULL. */
const struct bp_msg_field *bp_msg_find(const struct bp_msg *m, enum bp_field tag);
/* The integer field's value, or def when the message has none. */
uint64_t bp_msg_u64(const struct bp_msg *m, enum bp_field tag, uint64_t def);

/*
 * Where bpd listens unless told otherwise: $BPD_SOCKET if set, else
 * $XDG_RUNTIME_DIR/bpsock/bpd.sock, else /tmp/bpsock-UID/bpd.sock. Writes
 * like snprintf; returns the length the path needs, or -ENAMETOOLONG when it
 * exceeds a sockaddr_un path.
 */
int bp_proto_socket_path(char *buf, size_t cap);

/* Stable names, for logs and tools. */
const char *bp_msg_type_name(uint8_t type);
const char *bp_field_name(uint16_t tag);

/*
 * Building a message into a caller buffer: begin, put fields, end. The writer
 * is sticky: once a field does not fit, end returns -EMSGSIZE.
 */
struct bp_msg_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void bp_msg_begin(struct bp_msg_wr *w, uint8_t *buf, size_t cap, enum bp_msg_type type,
		  uint32_t request);
void bp_msg_put_u64(struct bp_msg_wr *w, enum bp_field tag, uint64_t v);
void bp_msg_put_bytes(struct bp_msg_wr *w, enum bp_field tag, const void *p, size_t len);
/* Returns the message length, or -EMSGSIZE. */
long bp_msg_end(struct bp_msg_wr *w);

#endif
