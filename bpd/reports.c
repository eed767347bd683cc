/* SPDX-License-Identifier: MIT */
/* Bundle status reports: see reports.h. */
#include "reports.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "expiry.h"
#include "log.h"
#include "node.h"

/* A report's own lifetime when its subject's is shorter: long enough to get home. */
#define REPORT_MIN_LIFETIME_MS (3600u * 1000)

void report_subject_of(const struct bpv7_bundle *b, struct report_subject *ret)
{
	const struct bpv7_block *payload = bpv7_bundle_payload_const(b);

	memset(ret, 0, sizeof(*ret));
	ret->flags = b->primary.flags;
	ret->lifetime = b->primary.lifetime;
	ret->creation_time = b->primary.creation_time;
	ret->sequence = b->primary.sequence;
	ret->is_fragment = b->primary.flags & BPV7_BPF_IS_FRAGMENT;
	ret->frag_offset = b->primary.frag_offset;
	ret->frag_len = payload ? payload->data_len : 0;
	if (bp_eid_format(&b->primary.source, ret->source, sizeof(ret->source)) < 0 ||
	    bp_eid_format(&b->primary.report_to, ret->report_to, sizeof(ret->report_to)) < 0)
		ret->report_to[0] = '\0'; /* unreportable */
}

bool report_asked(const struct report_subject *s, enum bpv7_status st)
{
	static const uint64_t flag[BPV7_STATUS_COUNT] = {
		[BPV7_STATUS_RECEIVED] = BPV7_BPF_RPT_RECEPTION,
		[BPV7_STATUS_FORWARDED] = BPV7_BPF_RPT_FORWARDING,
		[BPV7_STATUS_DELIVERED] = BPV7_BPF_RPT_DELIVERY,
		[BPV7_STATUS_DELETED] = BPV7_BPF_RPT_DELETION,
	};

	/* 4.2.3: an administrative record never asks for reports (no loops of reports). */
	return (s->flags & flag[st]) && !(s->flags & BPV7_BPF_ADMIN_RECORD) && s->report_to[0] &&
	       strcmp(s->report_to, "dtn:none") != 0;
}

static void report_stored(void *ctx, int status, const struct agent_sent *sent)
{
	if (status < 0 && status != -ECANCELED)
		log_info("a status report could not be stored: %s", strerror(-status));
}

void report_send(struct agent *a, const struct report_subject *s, enum bpv7_status st,
		 enum bpv7_reason reason)
{
	struct bpv7_status_report r = { .reason = reason };
	struct agent_send_req req = { .payload_fd = -1 };
	uint8_t record[REPORT_EID_MAX + 128];
	const char *why;
	long n;
	int e;

	r.status[st].asserted = true;
	if (s->flags & BPV7_BPF_STATUS_TIME) {
		r.status[st].has_time = true;
		r.status[st].time = expiry_now_ms();
	}
	if (bp_eid_parse(s->source, strlen(s->source), &r.source, &why) < 0 ||
	    bp_eid_parse(s->report_to, strlen(s->report_to), &req.dest, &why) < 0)
		return;
	r.creation_time = s->creation_time;
	r.sequence = s->sequence;
	r.is_fragment = s->is_fragment;
	r.frag_offset = s->frag_offset;
	r.frag_len = s->frag_len;
	n = bpv7_status_report_encode(&r, record, sizeof(record));
	if (n < 0 || (size_t)n > sizeof(record))
		return;
	/* 6.1: from the node's administrative endpoint; a report asks for no reports. */
	req.source = agent_node(a)->eid;
	(void)bp_eid_parse("dtn:none", 8, &req.report_to, &why);
	req.admin_record = true;
	req.lifetime = s->lifetime > REPORT_MIN_LIFETIME_MS ? s->lifetime : REPORT_MIN_LIFETIME_MS;
	req.crc_type = BPV7_CRC_32C;
	req.payload = record;
	req.payload_len = (size_t)n;
	e = agent_send(a, &req, report_stored, NULL);
	if (e < 0)
		log_info("a %s report for %s: %s", bpv7_status_name(st), s->report_to,
			 strerror(-e));
	else
		log_debug("a %s report (%s) for %s's bundle %llu.%llu to %s", bpv7_status_name(st),
			  bpv7_reason_name(reason), s->source, (unsigned long long)s->creation_time,
			  (unsigned long long)s->sequence, s->report_to);
}
