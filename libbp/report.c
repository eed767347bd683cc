/* SPDX-License-Identifier: MIT */
/* Status report records for applications (bp.h), on the codec's reader. */
#include <errno.h>
#include <string.h>

#include "admin.h"
#include "bp/bp.h"
#include "eid.h"
#include "sock.h"

BP_EXPORT int bp_status_report_parse(const void *buf, size_t len, struct bp_status_report *ret)
{
	struct bpv7_status_report r;
	const char *why;
	uint64_t type;
	int e;

	if (!buf || !ret) {
		errno = EINVAL;
		return -1;
	}
	e = bpv7_admin_decode(buf, len, &type, &r, &why);
	if (e == 0 && type != BPV7_ADMIN_STATUS_REPORT)
		e = -ENOTSUP;
	if (e == 0 && bp_eid_format(&r.source, ret->source, sizeof(ret->source)) < 0)
		e = -EBADMSG; /* a source longer than any address here holds */
	if (e < 0) {
		errno = e == -ENOTSUP ? ENOTSUP : EBADMSG;
		return -1;
	}
	ret->status = 0;
	for (int i = 0; i < BPV7_STATUS_COUNT; i++) {
		ret->time[i] = r.status[i].asserted && r.status[i].has_time ? r.status[i].time : 0;
		if (r.status[i].asserted)
			ret->status |= 1u << i;
	}
	ret->reason = r.reason > 255 ? 255 : (unsigned)r.reason;
	ret->id.creation_time = r.creation_time;
	ret->id.sequence = r.sequence;
	ret->is_fragment = r.is_fragment;
	ret->frag_offset = r.frag_offset;
	ret->frag_len = r.frag_len;
	return 0;
}

BP_EXPORT const char *bp_status_reason(unsigned reason)
{
	return bpv7_reason_message(reason);
}
