/* SPDX-License-Identifier: MIT */
/* Administrative records and bundle status reports (RFC 9171 6.1, 6.1.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

/* Hex text (spaces ignored) into buf; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		assert_true(n < cap);
		buf[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Decode from an exactly-sized heap copy so any over-read is caught. */
static int decode_exact(const uint8_t *bytes, size_t len, uint64_t *type,
			struct bpv7_status_report *rep, const char **why)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	r = bpv7_admin_decode(copy, len, type, rep, why);
	/* A dtn source points into the record: check it while it lives. */
	if (r == 0 && rep && rep->source.scheme == BP_EID_DTN && rep->source.ssp_len)
		rep->source.ssp = (const char *)bytes + ((const uint8_t *)rep->source.ssp - copy);
	free(copy);
	return r;
}

static int decode_hex(const char *hex, uint64_t *type, struct bpv7_status_report *rep,
		      const char **why)
{
	uint8_t buf[256];
	size_t n = unhex(hex, buf, sizeof(buf));

	return decode_exact(buf, n, type, rep, why);
}

static void assert_eid_same(const struct bp_eid *a, const struct bp_eid *b)
{
	assert_int_equal(a->scheme, b->scheme);
	if (a->scheme == BP_EID_DTN) {
		assert_int_equal(a->ssp_len, b->ssp_len);
		if (a->ssp_len)
			assert_memory_equal(a->ssp, b->ssp, a->ssp_len);
		return;
	}
	assert_int_equal(a->allocator, b->allocator);
	assert_int_equal(a->node, b->node);
	assert_int_equal(a->service, b->service);
	assert_int_equal(a->ipn_elems ? a->ipn_elems : 2, b->ipn_elems ? b->ipn_elems : 2);
}

static void assert_report_same(const struct bpv7_status_report *a,
			       const struct bpv7_status_report *b)
{
	for (unsigned i = 0; i < BPV7_STATUS_COUNT; i++) {
		assert_int_equal(a->status[i].asserted, b->status[i].asserted);
		assert_int_equal(a->status[i].has_time, b->status[i].has_time);
		if (a->status[i].has_time)
			assert_int_equal(a->status[i].time, b->status[i].time);
	}
	assert_int_equal(a->reason, b->reason);
	assert_eid_same(&a->source, &b->source);
	assert_int_equal(a->creation_time, b->creation_time);
	assert_int_equal(a->sequence, b->sequence);
	assert_int_equal(a->is_fragment, b->is_fragment);
	if (a->is_fragment) {
		assert_int_equal(a->frag_offset, b->frag_offset);
		assert_int_equal(a->frag_len, b->frag_len);
	}
}

/* Encode with a measuring pass first; returns a malloc'd buffer. */
static uint8_t *encode_alloc(const struct bpv7_status_report *r, size_t *ret_len)
{
	long need = bpv7_status_report_encode(r, NULL, 0);
	uint8_t *buf;

	assert_true(need > 0);
	buf = malloc((size_t)need);
	assert_non_null(buf);
	assert_int_equal(bpv7_status_report_encode(r, buf, (size_t)need), need);
	*ret_len = (size_t)need;
	return buf;
}

/* [[[true, 1000], [false], [false], [false]], 6, ipn:5.0, [0, 7]] */
static const char report_ipn_hex[] = "82 01 84 84 82 f5 19 03e8 81 f4 81 f4 81 f4 06"
				     " 82 02 82 05 00 82 00 07";

static void report_ipn(struct bpv7_status_report *r)
{
	*r = (struct bpv7_status_report){ .reason = BPV7_REASON_NO_ROUTE, .sequence = 7 };
	r->status[BPV7_STATUS_RECEIVED] =
		(struct bpv7_status_item){ .asserted = true, .has_time = true, .time = 1000 };
	bp_eid_set_ipn(&r->source, 5, 0);
}

/* [[[false], [false], [true], [false]], 0, dtn://a/, [1000000, 1], 10, 300] */
static const char report_dtn_frag_hex[] = "82 01 86 84 81 f4 81 f4 81 f5 81 f4 00"
					  " 82 01 64 2f2f612f 82 1a 000f4240 01 0a 19 012c";

static void report_dtn_frag(struct bpv7_status_report *r)
{
	*r = (struct bpv7_status_report){
		.reason = BPV7_REASON_NONE,
		.source = { .scheme = BP_EID_DTN, .ssp = "//a/", .ssp_len = 4 },
		.creation_time = 1000000,
		.sequence = 1,
		.is_fragment = true,
		.frag_offset = 10,
		.frag_len = 300,
	};
	r->status[BPV7_STATUS_DELIVERED].asserted = true;
}

static void check_known(const char *hex, void (*make)(struct bpv7_status_report *))
{
	struct bpv7_status_report want, got;
	uint8_t expect[128];
	size_t n = unhex(hex, expect, sizeof(expect)), len;
	uint8_t *enc;
	uint64_t type = 99;
	const char *why = "unset";

	make(&want);
	enc = encode_alloc(&want, &len);
	assert_int_equal(len, n);
	assert_memory_equal(enc, expect, n);
	free(enc);
	assert_int_equal(decode_exact(expect, n, &type, &got, &why), 0);
	assert_int_equal(type, BPV7_ADMIN_STATUS_REPORT);
	assert_null(why);
	assert_report_same(&want, &got);
}

static void encode_matches_hand_computed_bytes(void **state)
{
	check_known(report_ipn_hex, report_ipn);
	check_known(report_dtn_frag_hex, report_dtn_frag);
}

/* Values at every CBOR head size boundary. */
static const uint64_t head_values[] = {
	0, 23, 24, 255, 256, 65535, 65536, 0xffffffffull, 0x100000000ull, UINT64_MAX,
};
#define NVALUES (sizeof(head_values) / sizeof(head_values[0]))

static void make_source(unsigned kind, struct bp_eid *e)
{
	switch (kind) {
	case 0:
		bp_eid_set_ipn(e, 1, 0);
		break;
	case 1:
		bp_eid_set_ipn(e, 0x12345678ull, 4000000000ull);
		break;
	case 2:
		*e = (struct bp_eid){ .scheme = BP_EID_IPN,
				      .ipn_elems = 3,
				      .allocator = 977,
				      .node = 3,
				      .service = 0 };
		break;
	case 3:
		*e = (struct bp_eid){ .scheme = BP_EID_DTN, .ssp = "//node/", .ssp_len = 7 };
		break;
	default:
		bp_eid_set_none(e);
		break;
	}
}
#define NSOURCES 5

/* Status combination c (base 3 per status): not asserted, asserted, asserted with time. */
static void make_status(unsigned c, unsigned salt, struct bpv7_status_report *r)
{
	for (unsigned i = 0; i < BPV7_STATUS_COUNT; i++, c /= 3) {
		r->status[i] =
			(struct bpv7_status_item){ .asserted = c % 3 > 0, .has_time = c % 3 == 2 };
		if (r->status[i].has_time)
			r->status[i].time = head_values[(salt + i) % NVALUES];
	}
}

static void round_trip(const struct bpv7_status_report *r)
{
	struct bpv7_status_report got;
	uint8_t *enc, *again;
	size_t len, len2;
	uint64_t type = 0;
	const char *why = "unset";

	enc = encode_alloc(r, &len);
	assert_int_equal(decode_exact(enc, len, &type, &got, &why), 0);
	assert_null(why);
	assert_int_equal(type, BPV7_ADMIN_STATUS_REPORT);
	assert_report_same(r, &got);
	again = encode_alloc(&got, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(enc, again, len);
	free(again);
	free(enc);
}

static void round_trip_every_combination(void **state)
{
	struct bpv7_status_report r;
	unsigned n = 0;

	for (unsigned c = 0; c < 81; c++)
		for (unsigned frag = 0; frag < 2; frag++)
			for (unsigned src = 0; src < NSOURCES; src++) {
				memset(&r, 0, sizeof(r));
				make_status(c, c + src, &r);
				r.reason = (c + src) % 17;
				make_source(src, &r.source);
				r.creation_time = head_values[c % NVALUES];
				r.sequence = head_values[(c + 3) % NVALUES];
				r.is_fragment = frag;
				r.frag_offset = head_values[(c + 5) % NVALUES];
				r.frag_len = head_values[(c + 7) % NVALUES];
				round_trip(&r);
				n++;
			}
	assert_int_equal(n, 81 * 2 * NSOURCES);
}

static void round_trip_every_reason_code(void **state)
{
	static const uint64_t extra[] = { 17, 254, 255, 256, 65536, UINT64_MAX };
	struct bpv7_status_report r;

	report_ipn(&r);
	for (uint64_t code = 0; code <= 16; code++) {
		r.reason = code;
		round_trip(&r);
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		r.reason = extra[i];
		round_trip(&r);
	}
}

static void reason_names_cover_registry(void **state)
{
	/* RFC 9171 9.5 and RFC 9172 11.2. */
	assert_string_equal(bpv7_reason_name(BPV7_REASON_NONE), "none");
	assert_string_equal(bpv7_reason_message(0), "No additional information");
	assert_string_equal(bpv7_reason_message(5), "Destination endpoint ID unavailable");
	assert_string_equal(bpv7_reason_name(BPV7_REASON_HOP_LIMIT_EXCEEDED), "hop_limit_exceeded");
	assert_string_equal(bpv7_reason_message(12), "Missing security operation");
	assert_string_equal(bpv7_reason_name(BPV7_REASON_CONFLICTING_SECURITY_OPERATION),
			    "conflicting_security_operation");
	for (uint64_t a = 0; a <= 16; a++) {
		assert_string_not_equal(bpv7_reason_name(a), "unassigned");
		assert_string_not_equal(bpv7_reason_message(a), "Unassigned");
		for (uint64_t b = 0; b < a; b++) {
			assert_string_not_equal(bpv7_reason_name(a), bpv7_reason_name(b));
			assert_string_not_equal(bpv7_reason_message(a), bpv7_reason_message(b));
		}
	}
	assert_string_equal(bpv7_reason_name(17), "unassigned");
	assert_string_equal(bpv7_reason_name(254), "unassigned");
	assert_string_equal(bpv7_reason_name(255), "reserved");
	assert_string_equal(bpv7_reason_message(255), "Reserved");
	assert_string_equal(bpv7_reason_name(256), "unassigned");
	assert_string_equal(bpv7_reason_name(UINT64_MAX), "unassigned");
}

static void status_names_in_array_order(void **state)
{
	assert_string_equal(bpv7_status_name(BPV7_STATUS_RECEIVED), "received");
	assert_string_equal(bpv7_status_name(BPV7_STATUS_FORWARDED), "forwarded");
	assert_string_equal(bpv7_status_name(BPV7_STATUS_DELIVERED), "delivered");
	assert_string_equal(bpv7_status_name(BPV7_STATUS_DELETED), "deleted");
	assert_string_equal(bpv7_status_name(BPV7_STATUS_COUNT), "unknown");
}

/* Each case: the record, and the why it must be rejected with. */
struct bad_case {
	const char *hex;
	const char *why;
};

#define ITEMS4 " 84 81f4 81f4 81f4 81f4 "
#define SRC " 82 02 82 01 00 "
#define TS " 82 00 00 "

static const struct bad_case bad_cases[] = {
	/* RFC 9171 6.1: the record */
	{ "01", "record is not an array of 2 elements" },
	{ "a0", "record is not an array of 2 elements" },
	{ "80", "record is not an array of 2 elements" },
	{ "81 01", "record is not an array of 2 elements" },
	{ "83 01 84" ITEMS4 "00" SRC TS "00", "record is not an array of 2 elements" },
	{ "82 20 80", "record type is not an unsigned integer" },
	{ "82 f5 80", "record type is not an unsigned integer" },
	{ "82 61 31 80", "record type is not an unsigned integer" },
	{ "82 01 84" ITEMS4 "00" SRC TS "00", "bytes after the record" },
	{ "82 02 80 00", "bytes after the record" },
	{ "82 02 ff", "malformed record content" },
	{ "82 02 1c", "malformed record content" },
	/* RFC 9171 6.1.1: the report */
	{ "82 01 01", "status report is not an array of 4 or 6 elements" },
	{ "82 01 80", "status report is not an array of 4 or 6 elements" },
	{ "82 01 83" ITEMS4 "00" SRC, "status report is not an array of 4 or 6 elements" },
	{ "82 01 85" ITEMS4 "00" SRC TS "00", "status report is not an array of 4 or 6 elements" },
	{ "82 01 87" ITEMS4 "00" SRC TS "00 00 00",
	  "status report is not an array of 4 or 6 elements" },
	{ "82 01 9f" ITEMS4 "00" SRC TS "00 ff",
	  "status report is not an array of 4 or 6 elements" },
	{ "82 01 9f" ITEMS4 "00" SRC TS "00 00 00 ff",
	  "status report is not an array of 4 or 6 elements" },
	/* status information */
	{ "82 01 84 f4 00" SRC TS, "status information is not an array of at least 4 items" },
	{ "82 01 84 83 81f4 81f4 81f4 00" SRC TS,
	  "status information is not an array of at least 4 items" },
	{ "82 01 84 9f 81f4 81f4 81f4 ff 00" SRC TS,
	  "status information is not an array of at least 4 items" },
	{ "82 01 84 85 81f4 81f4 81f4 81f4 ff 00" SRC TS,
	  "malformed extra status information item" },
	/* status items */
	{ "82 01 84 84 f4 81f4 81f4 81f4 00" SRC TS, "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 80 81f4 81f4 81f4 00" SRC TS, "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 81 01 81f4 81f4 81f4 00" SRC TS,
	  "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 81 f6 81f4 81f4 81f4 00" SRC TS,
	  "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 83 f5 01 02 81f4 81f4 81f4 00" SRC TS,
	  "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 9f f5 01 02 ff 81f4 81f4 81f4 00" SRC TS,
	  "status item is not [bool] or [true, time]" },
	{ "82 01 84 84 82 f4 01 81f4 81f4 81f4 00" SRC TS, "status time on a status not asserted" },
	{ "82 01 84 84 81f4 81f4 81f4 9f f4 01 ff 00" SRC TS,
	  "status time on a status not asserted" },
	{ "82 01 84 84 82 f5 20 81f4 81f4 81f4 00" SRC TS,
	  "status time is not an unsigned integer" },
	{ "82 01 84 84 82 f5 f5 81f4 81f4 81f4 00" SRC TS,
	  "status time is not an unsigned integer" },
	/* reason, source, timestamp, fragment fields */
	{ "82 01 84" ITEMS4 "20" SRC TS, "reason code is not an unsigned integer" },
	{ "82 01 84" ITEMS4 "41 00" SRC TS, "reason code is not an unsigned integer" },
	{ "82 01 84" ITEMS4 "00 82 01 82 00 00" TS, NULL },
	{ "82 01 84" ITEMS4 "00 82 07 00" TS, NULL },
	{ "82 01 84" ITEMS4 "00 00" TS, NULL },
	{ "82 01 84" ITEMS4 "00" SRC "00", "creation timestamp is not [time, sequence]" },
	{ "82 01 84" ITEMS4 "00" SRC "81 00", "creation timestamp is not [time, sequence]" },
	{ "82 01 84" ITEMS4 "00" SRC "83 00 00 00", "creation timestamp is not [time, sequence]" },
	{ "82 01 84" ITEMS4 "00" SRC "82 20 00", "creation timestamp is not [time, sequence]" },
	{ "82 01 84" ITEMS4 "00" SRC "82 00 f6", "creation timestamp is not [time, sequence]" },
	{ "82 01 86" ITEMS4 "00" SRC TS "20 00", "fragment offset is not an unsigned integer" },
	{ "82 01 86" ITEMS4 "00" SRC TS "00 40", "fragment length is not an unsigned integer" },
};

static void decode_rejects_malformed_records(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct bpv7_status_report rep, before;
		const char *why = NULL;
		uint64_t type = 1234;
		int r;

		memset(&rep, 0xa5, sizeof(rep));
		before = rep;
		r = decode_hex(bad_cases[i].hex, &type, &rep, &why);
		if (r != -EBADMSG || !why || (bad_cases[i].why && strcmp(why, bad_cases[i].why)))
			print_message("case %zu: %s -> %d (%s)\n", i, bad_cases[i].hex, r,
				      why ? why : "no why");
		assert_int_equal(r, -EBADMSG);
		assert_non_null(why);
		if (bad_cases[i].why)
			assert_string_equal(why, bad_cases[i].why);
		/* Nothing is written on failure. */
		assert_memory_equal(&rep, &before, sizeof(rep));
		assert_int_equal(type, 1234);
	}
}

static void check_prefixes(const uint8_t *enc, size_t len)
{
	for (size_t cut = 0; cut < len; cut++) {
		struct bpv7_status_report rep;
		const char *why = NULL;

		assert_int_equal(decode_exact(enc, cut, NULL, &rep, &why), -EBADMSG);
		assert_string_equal(why, "truncated");
	}
}

static void decode_rejects_every_truncation(void **state)
{
	static const char indef_hex[] = "9f 01 9f 9f 9f f5 19 03e8 ff 81f4 81f4 81f4 ff 06"
					" 82 02 82 05 00 9f 00 07 ff 0a 0b ff ff";
	uint8_t buf[128];
	struct bpv7_status_report r;
	size_t len;
	uint8_t *enc;

	for (unsigned c = 0; c < 81; c += 7)
		for (unsigned src = 0; src < NSOURCES; src++) {
			memset(&r, 0, sizeof(r));
			make_status(c, c, &r);
			make_source(src, &r.source);
			r.reason = 255;
			r.creation_time = 1ull << 40;
			r.is_fragment = (c + src) & 1;
			r.frag_offset = 70000;
			r.frag_len = 3;
			enc = encode_alloc(&r, &len);
			check_prefixes(enc, len);
			free(enc);
		}
	len = unhex(indef_hex, buf, sizeof(buf));
	assert_int_equal(decode_exact(buf, len, NULL, &r, NULL), 0);
	check_prefixes(buf, len);
	len = unhex("82 02 82 a1 01 02 9f 00 ff", buf, sizeof(buf));
	assert_int_equal(decode_exact(buf, len, NULL, NULL, NULL), -ENOTSUP);
	check_prefixes(buf, len);
}

static void decode_accepts_indefinite_arrays(void **state)
{
	/* RFC 9171 4.1 does not prohibit indefinite-length items. */
	struct bpv7_status_report want, got;
	const char *why = "unset";

	report_ipn(&want);
	assert_int_equal(decode_hex("9f 01 9f 9f 9f f5 19 03e8 ff 9f f4 ff 81f4 81f4 ff 06"
				    " 82 02 82 05 00 9f 00 07 ff ff ff",
				    NULL, &got, &why),
			 0);
	assert_null(why);
	assert_report_same(&want, &got);
}

static void decode_accepts_non_shortest_heads(void **state)
{
	struct bpv7_status_report want, got;

	report_ipn(&want);
	assert_int_equal(decode_hex("98 02 18 01 84 84 82 f5 1a 000003e8 81 f4 81 f4 81 f4 18 06"
				    " 82 02 82 05 00 82 00 07",
				    NULL, &got, NULL),
			 0);
	assert_report_same(&want, &got);
}

static void decode_skips_extra_status_information(void **state)
{
	/* RFC 9171 6.1.1: "a CBOR array of at least four elements". */
	struct bpv7_status_report want, got;

	report_ipn(&want);
	assert_int_equal(
		decode_hex("82 01 84 86 82 f5 19 03e8 81 f4 81 f4 81 f4 81 f5 a1 01 82 03 04"
			   " 06 82 02 82 05 00 82 00 07",
			   NULL, &got, NULL),
		0);
	assert_report_same(&want, &got);
}

static void decode_reports_other_record_types(void **state)
{
	static const struct {
		const char *hex;
		uint64_t type;
	} cases[] = {
		{ "82 00 00", 0 },
		{ "82 02 a1 01 82 02 03", 2 },
		{ "82 04 84" ITEMS4 "00" SRC TS, 4 },
		{ "82 19 ffff 9f 40 60 ff", 65535 },
		{ "9f 1b ffffffffffffffff c1 00 ff", UINT64_MAX },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpv7_status_report rep, before;
		const char *why = "unset";
		uint64_t type = 1;

		memset(&rep, 0x5a, sizeof(rep));
		before = rep;
		assert_int_equal(decode_hex(cases[i].hex, &type, &rep, &why), -ENOTSUP);
		assert_int_equal(type, cases[i].type);
		assert_null(why);
		assert_memory_equal(&rep, &before, sizeof(rep));
	}
}

static void decode_allows_null_outputs(void **state)
{
	uint8_t buf[64];
	size_t n = unhex(report_ipn_hex, buf, sizeof(buf));

	assert_int_equal(bpv7_admin_decode(buf, n, NULL, NULL, NULL), 0);
	assert_int_equal(bpv7_admin_decode(buf, n - 1, NULL, NULL, NULL), -EBADMSG);
}

static void encode_rejects_time_on_status_not_asserted(void **state)
{
	struct bpv7_status_report r;

	report_ipn(&r);
	r.status[BPV7_STATUS_DELETED].has_time = true;
	assert_int_equal(bpv7_status_report_encode(&r, NULL, 0), -EINVAL);
}

static void encode_rejects_unknown_scheme(void **state)
{
	struct bpv7_status_report r;

	report_ipn(&r);
	r.source.scheme = 3;
	assert_int_equal(bpv7_status_report_encode(&r, NULL, 0), -EINVAL);
	r.source.scheme = 0;
	assert_int_equal(bpv7_status_report_encode(&r, NULL, 0), -EINVAL);
}

static void encode_never_writes_past_cap(void **state)
{
	struct bpv7_status_report r;
	uint8_t full[128], buf[130];
	long need;

	report_dtn_frag(&r);
	need = bpv7_status_report_encode(&r, full, sizeof(full));
	assert_true(need > 0 && (size_t)need < sizeof(full));
	for (size_t cap = 0; cap <= (size_t)need; cap++) {
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(bpv7_status_report_encode(&r, buf, cap), need);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xee);
	}
	assert_memory_equal(buf, full, (size_t)need);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_matches_hand_computed_bytes),
		cmocka_unit_test(round_trip_every_combination),
		cmocka_unit_test(round_trip_every_reason_code),
		cmocka_unit_test(reason_names_cover_registry),
		cmocka_unit_test(status_names_in_array_order),
		cmocka_unit_test(decode_rejects_malformed_records),
		cmocka_unit_test(decode_rejects_every_truncation),
		cmocka_unit_test(decode_accepts_indefinite_arrays),
		cmocka_unit_test(decode_accepts_non_shortest_heads),
		cmocka_unit_test(decode_skips_extra_status_information),
		cmocka_unit_test(decode_reports_other_record_types),
		cmocka_unit_test(decode_allows_null_outputs),
		cmocka_unit_test(encode_rejects_time_on_status_not_asserted),
		cmocka_unit_test(encode_rejects_unknown_scheme),
		cmocka_unit_test(encode_never_writes_past_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
