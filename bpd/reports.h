/* SPDX-License-Identifier: MIT */
/*
 * Bundle status reports (RFC 9171 6.1): what the agent needs to remember of
 * a bundle to report on it later, and the report itself, sent as a bundle
 * of its own (an administrative record, 6.1.1) from this node's
 * administrative endpoint to the subject's report-to endpoint.
 *
 * A report is made when the subject's flags ask for that status (4.2.3),
 * it is not itself an administrative record, its report-to endpoint is not
 * dtn:none, and the node's policy allows ("reports off" in the config turns
 * them all off). An application bound to the report-to endpoint receives it
 * like a bundle, marked as a report (MSG_BP_STATUS_REPORT in msg_flags; the
 * data is the record: docs/client-protocol.md, "Status reports").
 */
#ifndef BPD_REPORTS_H
#define BPD_REPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "bundle.h"

struct agent;

#define REPORT_EID_MAX 1100

/* A bundle as its reports name it, with copies of its EIDs. */
struct report_subject {
	uint64_t flags; /* its bundle processing flags */
	uint64_t lifetime;
	uint64_t creation_time, sequence;
	bool is_fragment;
	uint64_t frag_offset, frag_len;
	char source[REPORT_EID_MAX];
	char report_to[REPORT_EID_MAX];
};

/* b's identity and wishes. */
void report_subject_of(const struct bpv7_bundle *b, struct report_subject *ret);

/* Does s ask for a report of status st (and may it have one)? */
bool report_asked(const struct report_subject *s, enum bpv7_status st);

/*
 * Send the report that st (with reason) holds for s, from this node, now.
 * Fire and forget: a report that cannot be stored is logged and dropped.
 */
void report_send(struct agent *a, const struct report_subject *s, enum bpv7_status st,
		 enum bpv7_reason reason);

#endif
