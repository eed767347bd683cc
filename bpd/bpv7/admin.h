/* SPDX-License-Identifier: MIT */
/*
 * Administrative records (RFC 9171 6.1): the payload of a bundle whose
 * "ADU is an administrative record" flag is set. The one record type RFC 9171
 * defines is the bundle status report (6.1.1).
 */
#ifndef BPV7_ADMIN_H
#define BPV7_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eid.h"

/* Administrative record type codes (RFC 9171 9.2). */
enum bpv7_admin_type {
	BPV7_ADMIN_STATUS_REPORT = 1,
};

/* Status report reason codes (RFC 9171 6.1.1 and 9.5; 12..16 from RFC 9172 11.2). */
enum bpv7_reason {
	BPV7_REASON_NONE = 0,
	BPV7_REASON_LIFETIME_EXPIRED = 1,
	BPV7_REASON_UNIDIRECTIONAL_LINK = 2,
	BPV7_REASON_TRANSMISSION_CANCELED = 3,
	BPV7_REASON_DEPLETED_STORAGE = 4,
	BPV7_REASON_DEST_EID_UNAVAILABLE = 5,
	BPV7_REASON_NO_ROUTE = 6,
	BPV7_REASON_NO_TIMELY_CONTACT = 7,
	BPV7_REASON_BLOCK_UNINTELLIGIBLE = 8,
	BPV7_REASON_HOP_LIMIT_EXCEEDED = 9,
	BPV7_REASON_TRAFFIC_PARED = 10,
	BPV7_REASON_BLOCK_UNSUPPORTED = 11,
	BPV7_REASON_MISSING_SECURITY_OPERATION = 12,
	BPV7_REASON_UNKNOWN_SECURITY_OPERATION = 13,
	BPV7_REASON_UNEXPECTED_SECURITY_OPERATION = 14,
	BPV7_REASON_FAILED_SECURITY_OPERATION = 15,
	BPV7_REASON_CONFLICTING_SECURITY_OPERATION = 16,
};

/* The four status assertions, in the order of the status information array. */
enum bpv7_status {
	BPV7_STATUS_RECEIVED = 0,
	BPV7_STATUS_FORWARDED = 1,
	BPV7_STATUS_DELIVERED = 2,
	BPV7_STATUS_DELETED = 3,
	BPV7_STATUS_COUNT
};

struct bpv7_status_item {
	bool asserted;
	bool has_time; /* only when asserted and status time was requested */
	uint64_t time; /* DTN time, ms */
};

/* RFC 9171 6.1.1. The subject bundle is identified by source, timestamp
 * and, for a fragment, offset and payload length. */
struct bpv7_status_report {
	struct bpv7_status_item status[BPV7_STATUS_COUNT];
	uint64_t reason; /* enum bpv7_reason, or any other code received */
	struct bp_eid source;
	uint64_t creation_time;
	uint64_t sequence;
	bool is_fragment;
	uint64_t frag_offset;
	uint64_t frag_len;
};

/* Name ("hop_limit_exceeded") and text of a reason code; "reserved" for 255,
 * "unassigned" for the other codes past 16 (RFC 9171 9.5). */
const char *bpv7_reason_name(uint64_t code);
const char *bpv7_reason_message(uint64_t code);
const char *bpv7_status_name(enum bpv7_status s);

/*
 * Decode an administrative record (a payload): its type, and for a status
 * report its content. Returns 0; -EBADMSG with *ret_why for a malformed
 * record; -ENOTSUP (type set) for a well-formed record of another type.
 * The report's source EID points into adu.
 */
int bpv7_admin_decode(const uint8_t *adu, size_t len, uint64_t *ret_type,
		      struct bpv7_status_report *ret_report, const char **ret_why);

/* Encode a status report as an administrative record; like snprintf, returns
 * the length needed, or -EINVAL. */
long bpv7_status_report_encode(const struct bpv7_status_report *r, uint8_t *buf, size_t cap);

#endif
