/* SPDX-License-Identifier: MIT */
/*
 * TCPCLv4 messages (RFC 9174): the contact header and the seven message
 * types, decoded from and encoded into byte buffers. No I/O and no session
 * state: the session (its state machine, timers, transfers) is built on
 * these. Every integer on the wire is big-endian (RFC 9174 3).
 */
#ifndef CONVERGENCE_TCPCLV4_MSG_H
#define CONVERGENCE_TCPCLV4_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9174 4.2: "dtn!", version, flags. */
#define TCPCL4_CONTACT_LEN 6
#define TCPCL4_VERSION 4
#define TCPCL4_CONTACT_CAN_TLS 0x01

/* RFC 9174 9.5 (Table 10): message type codes. */
enum tcpcl4_type {
	TCPCL4_XFER_SEGMENT = 0x01,
	TCPCL4_XFER_ACK = 0x02,
	TCPCL4_XFER_REFUSE = 0x03,
	TCPCL4_KEEPALIVE = 0x04,
	TCPCL4_SESS_TERM = 0x05,
	TCPCL4_MSG_REJECT = 0x06,
	TCPCL4_SESS_INIT = 0x07,
};

/* RFC 9174 5.2.2, 5.2.3: XFER_SEGMENT and XFER_ACK flags. */
#define TCPCL4_XFER_END 0x01
#define TCPCL4_XFER_START 0x02
/* RFC 9174 6.1: SESS_TERM flags. */
#define TCPCL4_TERM_REPLY 0x01
/* RFC 9174 4.8: extension item flags. */
#define TCPCL4_EXT_CRITICAL 0x01
/* RFC 9174 5.2.5: the one transfer extension, Transfer Length. */
#define TCPCL4_XFER_EXT_LENGTH 0x0001

/* RFC 9174 5.2.4 (Table 8). */
enum tcpcl4_refuse {
	TCPCL4_REFUSE_UNKNOWN = 0x00,
	TCPCL4_REFUSE_COMPLETED = 0x01,
	TCPCL4_REFUSE_NO_RESOURCES = 0x02,
	TCPCL4_REFUSE_RETRANSMIT = 0x03,
	TCPCL4_REFUSE_NOT_ACCEPTABLE = 0x04,
	TCPCL4_REFUSE_EXTENSION_FAILURE = 0x05,
	TCPCL4_REFUSE_SESSION_TERMINATING = 0x06,
};

/* RFC 9174 6.1 (Table 9). */
enum tcpcl4_term {
	TCPCL4_TERM_UNKNOWN = 0x00,
	TCPCL4_TERM_IDLE_TIMEOUT = 0x01,
	TCPCL4_TERM_VERSION_MISMATCH = 0x02,
	TCPCL4_TERM_BUSY = 0x03,
	TCPCL4_TERM_CONTACT_FAILURE = 0x04,
	TCPCL4_TERM_RESOURCE_EXHAUSTION = 0x05,
};

/* RFC 9174 5.1.1 (Table 6). */
enum tcpcl4_reject {
	TCPCL4_REJECT_TYPE_UNKNOWN = 0x01,
	TCPCL4_REJECT_UNSUPPORTED = 0x02,
	TCPCL4_REJECT_UNEXPECTED = 0x03,
};

/* Fixed lengths (type byte included). */
#define TCPCL4_SESS_INIT_MIN 25	   /* type, keepalive, 2 MRUs, node id length, ext length */
#define TCPCL4_SEGMENT_HEAD_MIN 18 /* type, flags, transfer id, data length */
#define TCPCL4_XFER_ACK_LEN 18
#define TCPCL4_XFER_REFUSE_LEN 10
#define TCPCL4_KEEPALIVE_LEN 1
#define TCPCL4_SESS_TERM_LEN 3
#define TCPCL4_MSG_REJECT_LEN 3
/*
 * Bounds of this code, not of RFC 9174 (which sets none): a SESS_INIT node ID
 * (an EID, RFC 9171 limits those) and an extension item list (no extension
 * but Transfer Length is defined; 64 KiB of them is a peer to hang up on).
 */
#define TCPCL4_NODE_ID_MAX 1024
#define TCPCL4_EXT_LIST_MAX 65536
/* Longest XFER_SEGMENT head this code writes: with a Transfer Length extension. */
#define TCPCL4_SEGMENT_HEAD_MAX (TCPCL4_SEGMENT_HEAD_MIN + 4 + 13)

/* The decoders' third result, beside a length and -errno: more bytes needed. */
#define TCPCL4_NEED_MORE 0

/* One extension item (RFC 9174 4.8); value points into the decoded buffer. */
struct tcpcl4_ext {
	uint8_t flags;
	uint16_t type;
	uint16_t len;
	const uint8_t *value;
};

/*
 * A decoded message. Pointers point into the buffer decoded. Extension items
 * are not copied: ext/ext_len is the raw item list, walked with
 * tcpcl4_ext_next().
 */
struct tcpcl4_msg {
	enum tcpcl4_type type;
	union {
		struct {
			uint16_t keepalive; /* seconds; 0: none */
			uint64_t segment_mru;
			uint64_t transfer_mru;
			const char *node_id; /* UTF-8, not NUL-terminated */
			uint16_t node_id_len;
			const uint8_t *ext;
			uint32_t ext_len;
		} init;
		struct {
			uint8_t flags;
			uint64_t id;
			const uint8_t *ext; /* START only */
			uint32_t ext_len;
			const uint8_t *data;
			uint64_t data_len;
			bool has_total; /* a Transfer Length extension came */
			uint64_t total;
		} seg;
		struct {
			uint8_t flags;
			uint64_t id;
			uint64_t len; /* acknowledged length, cumulative */
		} ack;
		struct {
			uint8_t reason;
			uint64_t id;
		} refuse;
		struct {
			uint8_t flags;
			uint8_t reason;
		} term;
		struct {
			uint8_t reason;
			uint8_t rejected; /* the rejected message's type */
		} reject;
	} u;
};

/* Why a decode failed, and what RFC 9174 says to answer. */
struct tcpcl4_error {
	const char *why; /* static text */
	/*
	 * 0: close with SESS_TERM (reason term); else send MSG_REJECT with
	 * this reason (an unknown type: the session goes on after it).
	 */
	uint8_t reject;
	uint8_t term;
};

/*
 * The contact header at buf. Returns TCPCL4_CONTACT_LEN with *ret_version
 * and *ret_flags set; TCPCL4_NEED_MORE when len is shorter (and what there is
 * matches "dtn!"); -EBADMSG when the magic is wrong (RFC 9174 4.3: close
 * without a word). A version other than 4 is the caller's to answer (4.3:
 * SESS_TERM with "Version mismatch" where it can be understood).
 */
int tcpcl4_contact_decode(const uint8_t *buf, size_t len, uint8_t *ret_version, uint8_t *ret_flags);
/* Write the contact header (TCPCL4_CONTACT_LEN bytes). */
void tcpcl4_contact_encode(uint8_t *buf, uint8_t flags);

/*
 * The message at buf, whole: its length (> 0); TCPCL4_NEED_MORE when buf
 * holds only part of it (*ret_need is then at least how many bytes it needs
 * in all, a lower bound until its lengths are in); -EBADMSG with *err set
 * when the bytes cannot be a message. max_seg bounds an XFER_SEGMENT's data
 * length (the segment MRU we announced; more is a protocol error, 5.2.2),
 * and nothing is accepted whose length could exceed the buffer's type.
 */
long tcpcl4_decode(const uint8_t *buf, size_t len, uint64_t max_seg, struct tcpcl4_msg *ret,
		   size_t *ret_need, struct tcpcl4_error *err);

/*
 * Walk an extension item list: *pos starts at 0. Returns 1 with *ret set,
 * 0 at the end, -EBADMSG when an item runs past the list.
 */
int tcpcl4_ext_next(const uint8_t *list, uint32_t list_len, uint32_t *pos, struct tcpcl4_ext *ret);

/*
 * Encoders: each writes one message into buf (cap bytes) and returns its
 * length, or -EMSGSIZE. For XFER_SEGMENT only the head is written: the
 * data_len bytes of data follow it on the wire (writev, sendfile). total:
 * with START, a Transfer Length extension (not critical) of that value;
 * UINT64_MAX for none.
 */
long tcpcl4_encode_sess_init(uint8_t *buf, size_t cap, uint16_t keepalive, uint64_t segment_mru,
			     uint64_t transfer_mru, const char *node_id, size_t node_id_len);
long tcpcl4_encode_segment_head(uint8_t *buf, size_t cap, uint8_t flags, uint64_t id,
				uint64_t total, uint64_t data_len);
long tcpcl4_encode_ack(uint8_t *buf, size_t cap, uint8_t flags, uint64_t id, uint64_t len);
long tcpcl4_encode_refuse(uint8_t *buf, size_t cap, uint8_t reason, uint64_t id);
long tcpcl4_encode_keepalive(uint8_t *buf, size_t cap);
long tcpcl4_encode_term(uint8_t *buf, size_t cap, uint8_t flags, uint8_t reason);
long tcpcl4_encode_reject(uint8_t *buf, size_t cap, uint8_t reason, uint8_t rejected);

/* "XFER_SEGMENT", ... for logs; "?" for another value. */
const char *tcpcl4_type_name(unsigned type);
const char *tcpcl4_term_name(unsigned reason);
const char *tcpcl4_refuse_name(unsigned reason);

#endif
