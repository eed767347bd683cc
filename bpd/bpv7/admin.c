/* SPDX-License-Identifier: MIT */
/*
 * Administrative records and bundle status reports (RFC 9171 6.1, 6.1.1).
 *
 * Decoding is strict about shape (array lengths, item types, nothing after
 * the record) but, like the rest of the codec, accepts indefinite-length
 * arrays, which RFC 9171 4.1 does not prohibit, and heads that are not in
 * their shortest form. Encoding is always definite-length and shortest-form.
 */
#include "admin.h"

#include <errno.h>
#include <string.h>

#include "cbuf.h"

/* Nesting allowed inside content skipped unread (extra status info items,
 * records of other types). */
#define SKIP_DEPTH 16

struct reason_text {
	const char *name;
	const char *message;
};

/*
 * RFC 9171 9.5 Table 6 (0..11) and RFC 9172 11.2 Table 3 (12..16, described
 * in RFC 9172 7.1). Note RFC 9171 renamed code 5 from RFC 5050's
 * "unintelligible" to "unavailable".
 */
static const struct reason_text reasons[] = {
	[BPV7_REASON_NONE] = { "none", "No additional information" },
	[BPV7_REASON_LIFETIME_EXPIRED] = { "lifetime_expired", "Lifetime expired" },
	[BPV7_REASON_UNIDIRECTIONAL_LINK] = { "unidirectional_link",
					      "Forwarded over unidirectional link" },
	[BPV7_REASON_TRANSMISSION_CANCELED] = { "transmission_canceled", "Transmission canceled" },
	[BPV7_REASON_DEPLETED_STORAGE] = { "depleted_storage", "Depleted storage" },
	[BPV7_REASON_DEST_EID_UNAVAILABLE] = { "dest_eid_unavailable",
					       "Destination endpoint ID unavailable" },
	[BPV7_REASON_NO_ROUTE] = { "no_route", "No known route to destination from here" },
	[BPV7_REASON_NO_TIMELY_CONTACT] = { "no_timely_contact",
					    "No timely contact with next node on route" },
	[BPV7_REASON_BLOCK_UNINTELLIGIBLE] = { "block_unintelligible", "Block unintelligible" },
	[BPV7_REASON_HOP_LIMIT_EXCEEDED] = { "hop_limit_exceeded", "Hop limit exceeded" },
	[BPV7_REASON_TRAFFIC_PARED] = { "traffic_pared", "Traffic pared" },
	[BPV7_REASON_BLOCK_UNSUPPORTED] = { "block_unsupported", "Block unsupported" },
	[BPV7_REASON_MISSING_SECURITY_OPERATION] = { "missing_security_operation",
						     "Missing security operation" },
	[BPV7_REASON_UNKNOWN_SECURITY_OPERATION] = { "unknown_security_operation",
						     "Unknown security operation" },
	[BPV7_REASON_UNEXPECTED_SECURITY_OPERATION] = { "unexpected_security_operation",
							"Unexpected security operation" },
	[BPV7_REASON_FAILED_SECURITY_OPERATION] = { "failed_security_operation",
						    "Failed security operation" },
	[BPV7_REASON_CONFLICTING_SECURITY_OPERATION] = { "conflicting_security_operation",
							 "Conflicting security operation" },
};

/* RFC 9171 9.5: 255 is reserved, everything else past 16 unassigned. */
#define REASON_RESERVED 255

static const struct reason_text reason_reserved = { "reserved", "Reserved" };
static const struct reason_text reason_unassigned = { "unassigned", "Unassigned" };

static const struct reason_text *reason_lookup(uint64_t code)
{
	if (code < sizeof(reasons) / sizeof(reasons[0]))
		return &reasons[code];
	if (code == REASON_RESERVED)
		return &reason_reserved;
	return &reason_unassigned;
}

const char *bpv7_reason_name(uint64_t code)
{
	return reason_lookup(code)->name;
}

const char *bpv7_reason_message(uint64_t code)
{
	return reason_lookup(code)->message;
}

const char *bpv7_status_name(enum bpv7_status s)
{
	static const char *const names[BPV7_STATUS_COUNT] = {
		[BPV7_STATUS_RECEIVED] = "received",
		[BPV7_STATUS_FORWARDED] = "forwarded",
		[BPV7_STATUS_DELIVERED] = "delivered",
		[BPV7_STATUS_DELETED] = "deleted",
	};

	if ((unsigned)s >= BPV7_STATUS_COUNT)
		return "unknown";
	return names[s];
}

/* Decoding */

/* An open array of either form: elements left, or closed by a break. */
struct arr {
	bool indef;
	uint64_t left;
};

static int arr_open(struct cbuf_rd *rd, struct arr *a)
{
	return cbuf_read_array_any(rd, &a->left, &a->indef);
}

/*
 * Is another element there? 1 yes, 0 no, or a negative errno: at the end of
 * the input an indefinite array cannot tell (-ENODATA).
 */
static int arr_more(const struct cbuf_rd *rd, const struct arr *a)
{
	int kind;

	if (!a->indef)
		return a->left > 0;
	kind = cbuf_peek(rd);
	if (kind < 0)
		return kind;
	return kind != CBUF_BREAK;
}

/* Account for one element about to be read; -EBADMSG if the array has ended. */
static int arr_next(const struct cbuf_rd *rd, struct arr *a)
{
	int r = arr_more(rd, a);

	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	if (!a->indef)
		a->left--;
	return 0;
}

/* The array must end here. */
static int arr_close(struct cbuf_rd *rd, const struct arr *a)
{
	if (a->indef)
		return cbuf_read_break(rd);
	return a->left == 0 ? 0 : -EBADMSG;
}

/* Decoder state: where we are and why we stopped. */
struct dec {
	struct cbuf_rd rd;
	const char *why;
};

/* Record why decoding failed: any short read means the record is truncated. */
static int fail(struct dec *d, int r, const char *why)
{
	d->why = r == -ENODATA ? "truncated" : why;
	return -EBADMSG;
}

/* The next element of array a, an unsigned integer. */
static int elem_uint(struct dec *d, struct arr *a, uint64_t *ret, const char *why_shape,
		     const char *why_type)
{
	int r = arr_next(&d->rd, a);

	if (r < 0)
		return fail(d, r, why_shape);
	r = cbuf_read_uint(&d->rd, ret);
	return r < 0 ? fail(d, r, why_type) : 0;
}

/* The next element of array a is there (its reading is left to the caller). */
static int elem(struct dec *d, struct arr *a, const char *why_shape)
{
	int r = arr_next(&d->rd, a);

	return r < 0 ? fail(d, r, why_shape) : 0;
}

static int close_arr(struct dec *d, const struct arr *a, const char *why_shape)
{
	int r = arr_close(&d->rd, a);

	return r < 0 ? fail(d, r, why_shape) : 0;
}

/*
 * RFC 9171 6.1.1: a status item is [false], [true] or, when the subject
 * asked for status times, [true, DTN time]. [false, time] is refused: the
 * item has 2 elements only if the status indicator is true.
 */
static int decode_status_item(struct dec *d, struct bpv7_status_item *it)
{
	static const char why[] = "status item is not [bool] or [true, time]";
	struct arr a;
	int r;

	*it = (struct bpv7_status_item){ 0 };
	r = arr_open(&d->rd, &a);
	if (r == 0)
		r = arr_next(&d->rd, &a);
	if (r == 0)
		r = cbuf_read_bool(&d->rd, &it->asserted);
	if (r == 0)
		r = arr_more(&d->rd, &a);
	if (r < 0)
		return fail(d, r, why);
	if (r > 0) {
		if (!it->asserted)
			return fail(d, -EBADMSG, "status time on a status not asserted");
		r = elem_uint(d, &a, &it->time, why, "status time is not an unsigned integer");
		if (r < 0)
			return r;
		it->has_time = true;
	}
	return close_arr(d, &a, why);
}

/*
 * RFC 9171 6.1.1: status information is an array of at least four items;
 * the first four are ours, any others belong to later specifications and
 * are skipped.
 */
static int decode_status_info(struct dec *d, struct bpv7_status_report *rep)
{
	static const char why[] = "status information is not an array of at least 4 items";
	struct arr a;
	int r;

	r = arr_open(&d->rd, &a);
	if (r < 0)
		return fail(d, r, why);
	for (unsigned i = 0; i < BPV7_STATUS_COUNT; i++) {
		r = elem(d, &a, why);
		if (r == 0)
			r = decode_status_item(d, &rep->status[i]);
		if (r < 0)
			return r;
	}
	while ((r = arr_more(&d->rd, &a)) > 0) {
		(void)arr_next(&d->rd, &a);
		r = cbuf_skip(&d->rd, SKIP_DEPTH);
		if (r < 0)
			return fail(d, r, "malformed extra status information item");
	}
	if (r < 0)
		return fail(d, r, why);
	return close_arr(d, &a, why);
}

/* RFC 9171 4.2.7: [creation time, sequence number]. */
static int decode_timestamp(struct dec *d, struct bpv7_status_report *rep)
{
	static const char why[] = "creation timestamp is not [time, sequence]";
	struct arr a;
	int r;

	r = arr_open(&d->rd, &a);
	if (r < 0)
		return fail(d, r, why);
	r = elem_uint(d, &a, &rep->creation_time, why, why);
	if (r == 0)
		r = elem_uint(d, &a, &rep->sequence, why, why);
	if (r < 0)
		return r;
	return close_arr(d, &a, why);
}

/* RFC 9171 6.1.1 names RFC 9171 4.2.5.1 for the source node ID. */
static int decode_source(struct dec *d, struct bpv7_status_report *rep)
{
	const char *why = NULL;
	int r = bp_eid_decode(&d->rd, &rep->source, &why);

	return r < 0 ? fail(d, r, why ? why : "malformed source node ID") : 0;
}

/* RFC 9171 6.1.1: the fifth and sixth elements, present only for a fragment. */
static int decode_fragment(struct dec *d, struct arr *a, struct bpv7_status_report *rep,
			   const char *why_shape)
{
	int r = arr_more(&d->rd, a);

	if (r <= 0)
		return r < 0 ? fail(d, r, why_shape) : 0;
	rep->is_fragment = true;
	r = elem_uint(d, a, &rep->frag_offset, why_shape,
		      "fragment offset is not an unsigned integer");
	if (r == 0)
		r = elem_uint(d, a, &rep->frag_len, why_shape,
			      "fragment length is not an unsigned integer");
	return r;
}

/*
 * RFC 9171 6.1.1: [status information, reason code, source node ID,
 * creation timestamp] followed, for a fragment only, by the fragment offset
 * and the payload length.
 */
static int decode_status_report(struct dec *d, struct bpv7_status_report *rep)
{
	static const char why[] = "status report is not an array of 4 or 6 elements";
	struct arr a;
	int r;

	*rep = (struct bpv7_status_report){ 0 };
	r = arr_open(&d->rd, &a);
	if (r < 0)
		return fail(d, r, why);
	r = elem(d, &a, why);
	if (r == 0)
		r = decode_status_info(d, rep);
	if (r == 0)
		r = elem_uint(d, &a, &rep->reason, why, "reason code is not an unsigned integer");
	if (r == 0)
		r = elem(d, &a, why);
	if (r == 0)
		r = decode_source(d, rep);
	if (r == 0)
		r = elem(d, &a, why);
	if (r == 0)
		r = decode_timestamp(d, rep);
	if (r == 0)
		r = decode_fragment(d, &a, rep, why);
	if (r < 0)
		return r;
	return close_arr(d, &a, why);
}

/* RFC 9171 6.1: [record type code, record content], and nothing after it. */
static int decode_record(struct dec *d, uint64_t *type, struct bpv7_status_report *rep)
{
	static const char why[] = "record is not an array of 2 elements";
	struct arr a;
	int r;

	r = arr_open(&d->rd, &a);
	if (r < 0)
		return fail(d, r, why);
	r = elem_uint(d, &a, type, why, "record type is not an unsigned integer");
	if (r == 0)
		r = elem(d, &a, why);
	if (r < 0)
		return r;
	if (*type == BPV7_ADMIN_STATUS_REPORT)
		r = decode_status_report(d, rep);
	else if ((r = cbuf_skip(&d->rd, SKIP_DEPTH)) < 0)
		r = fail(d, r, "malformed record content");
	if (r == 0)
		r = close_arr(d, &a, why);
	if (r == 0 && cbuf_rd_left(&d->rd) > 0)
		r = fail(d, -EBADMSG, "bytes after the record");
	return r;
}

int bpv7_admin_decode(const uint8_t *adu, size_t len, uint64_t *ret_type,
		      struct bpv7_status_report *ret_report, const char **ret_why)
{
	struct dec d = { .why = NULL };
	struct bpv7_status_report rep;
	uint64_t type = 0;
	int r;

	cbuf_rd_init(&d.rd, adu, len);
	r = decode_record(&d, &type, &rep);
	if (ret_why)
		*ret_why = r < 0 ? d.why : NULL;
	if (r < 0)
		return r;
	if (ret_type)
		*ret_type = type;
	if (type != BPV7_ADMIN_STATUS_REPORT)
		return -ENOTSUP;
	if (ret_report)
		*ret_report = rep;
	return 0;
}

/* Encoding */

static bool report_valid(const struct bpv7_status_report *r)
{
	for (unsigned i = 0; i < BPV7_STATUS_COUNT; i++)
		if (r->status[i].has_time && !r->status[i].asserted)
			return false;
	return r->source.scheme == BP_EID_DTN || r->source.scheme == BP_EID_IPN;
}

long bpv7_status_report_encode(const struct bpv7_status_report *r, uint8_t *buf, size_t cap)
{
	struct cbuf_wr wr;

	if (!report_valid(r))
		return -EINVAL;
	cbuf_wr_init(&wr, buf, cap);
	/* RFC 9171 6.1 */
	cbuf_write_array(&wr, 2);
	cbuf_write_uint(&wr, BPV7_ADMIN_STATUS_REPORT);
	/* RFC 9171 6.1.1 */
	cbuf_write_array(&wr, r->is_fragment ? 6 : 4);
	cbuf_write_array(&wr, BPV7_STATUS_COUNT);
	for (unsigned i = 0; i < BPV7_STATUS_COUNT; i++) {
		const struct bpv7_status_item *it = &r->status[i];

		cbuf_write_array(&wr, it->has_time ? 2 : 1);
		cbuf_write_bool(&wr, it->asserted);
		if (it->has_time)
			cbuf_write_uint(&wr, it->time);
	}
	cbuf_write_uint(&wr, r->reason);
	bp_eid_encode(&wr, &r->source);
	cbuf_write_array(&wr, 2);
	cbuf_write_uint(&wr, r->creation_time);
	cbuf_write_uint(&wr, r->sequence);
	if (r->is_fragment) {
		cbuf_write_uint(&wr, r->frag_offset);
		cbuf_write_uint(&wr, r->frag_len);
	}
	return (long)wr.len;
}
