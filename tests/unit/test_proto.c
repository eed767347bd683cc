/* SPDX-License-Identifier: MIT */
/* The client protocol's message codec (docs/client-protocol.md). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp/proto.h"

static uint8_t buf[BP_PROTO_MAX_MSG + 64];

static long build_send(uint8_t *out, size_t cap, const char *dest, const void *payload, size_t len)
{
	struct bp_msg_wr w;

	bp_msg_begin(&w, out, cap, BP_MSG_SEND, 42);
	bp_msg_put_bytes(&w, BP_F_DEST, dest, strlen(dest));
	bp_msg_put_u64(&w, BP_F_LIFETIME, 86400000);
	bp_msg_put_u64(&w, BP_F_FLAGS, 0x1234);
	bp_msg_put_bytes(&w, BP_F_PAYLOAD, payload, len);
	return bp_msg_end(&w);
}

static void send_round_trips_with_exact_bytes(void **state)
{
	/* clang-format off */
	static const uint8_t want[] = {
		1, 3, 0, 0, 0, 0, 0, 61, 0, 0, 0, 42,		/* header: SEND, 61 bytes, id 42 */
		0, 3, 0, 0, 0, 7, 'i', 'p', 'n', ':', '2', '.', '1', /* dest */
		0, 7, 0, 0, 0, 8, 0, 0, 0, 0, 0x05, 0x26, 0x5c, 0x00, /* lifetime 86400000 */
		0, 6, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x12, 0x34,	/* flags */
		0, 9, 0, 0, 0, 2, 'h', 'i',			/* payload */
	};
	/* clang-format on */
	struct bp_msg m;
	struct bp_msg_error err;
	const struct bp_msg_field *f;
	long n = build_send(buf, sizeof(buf), "ipn:2.1", "hi", 2);

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), 0);
	assert_int_equal(m.type, BP_MSG_SEND);
	assert_int_equal(m.request, 42);
	assert_int_equal(bp_msg_u64(&m, BP_F_LIFETIME, 0), 86400000);
	assert_int_equal(bp_msg_u64(&m, BP_F_CRC_TYPE, 2), 2); /* absent: default */
	f = bp_msg_find(&m, BP_F_DEST);
	assert_non_null(f);
	assert_int_equal(f->len, 7);
	assert_memory_equal(f->ptr, "ipn:2.1", 7);
	f = bp_msg_find(&m, BP_F_PAYLOAD);
	assert_ptr_equal(f->ptr, buf + n - 2); /* points into the datagram */
}

static void decode_rejects_every_malformation(void **state)
{
	static const struct {
		const char *what;
		size_t at; /* byte to change (or length to cut when value < 0) */
		int value; /* new byte value, or -1: cut the message to `at` bytes */
		const char *why;
	} cases[] = {
		{ "empty", 0, -1, "shorter than the header" },
		{ "header only half", 6, -1, "shorter than the header" },
		{ "version 2", 0, 2, "unknown protocol version" },
		{ "type 99", 1, 99, "unknown message type" },
		{ "reserved bits", 3, 1, "reserved header bits set" },
		{ "length too small", 7, 62, "header length disagrees with the datagram" },
		{ "datagram cut", 60, -1, "header length disagrees with the datagram" },
		{ "unknown tag", 13, 99, "field not allowed in this message type" },
		{ "tag not for send", 13, BP_F_DELIVERY_ID,
		  "field not allowed in this message type" },
		{ "integer of 7 bytes", 30, 7, "integer field is not 8 bytes" },
		{ "field past the end", 17, 200, "field longer than the message" },
		{ "dest repeated", 40, BP_F_DEST, "field repeated" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bp_msg m;
		struct bp_msg_error err = { 0 };
		long n = build_send(buf, sizeof(buf), "ipn:2.1", "hi", 2);
		size_t len = (size_t)n;

		if (cases[i].value < 0)
			len = cases[i].at;
		else
			buf[cases[i].at] = (uint8_t)cases[i].value;
		if (bp_msg_decode(buf, len, &m, &err) != -EBADMSG)
			fail_msg("%s: accepted", cases[i].what);
		if (strcmp(err.why, cases[i].why) != 0)
			fail_msg("%s: '%s', want '%s'", cases[i].what, err.why, cases[i].why);
	}
}

static void send_needs_destination_and_exactly_one_payload(void **state)
{
	struct bp_msg_wr w;
	struct bp_msg m;
	struct bp_msg_error err;
	long n;

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_SEND, 1);
	bp_msg_put_bytes(&w, BP_F_PAYLOAD, "x", 1);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), -EBADMSG);
	assert_string_equal(err.why, "required field missing");

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_SEND, 1);
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:2.1", 7);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), -EBADMSG);
	assert_string_equal(err.why, "needs exactly one of payload and payload_fd");

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_SEND, 1);
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:2.1", 7);
	bp_msg_put_bytes(&w, BP_F_PAYLOAD, "x", 1);
	bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, 1);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), -EBADMSG);

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_SEND, 1);
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:2.1", 7);
	bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, 1 << 30); /* the payload travels as an fd */
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), 0);
	assert_int_equal(bp_msg_u64(&m, BP_F_PAYLOAD_FD, 0), 1 << 30);
}

static void limits_hold_on_both_sides(void **state)
{
	struct bp_msg_wr w;
	struct bp_msg m;
	struct bp_msg_error err;
	char eid[BP_PROTO_MAX_EID + 1];
	long n;

	/* The writer refuses a message over the protocol's bound... */
	assert_int_equal(build_send(buf, sizeof(buf), "ipn:2.1", buf, BP_PROTO_MAX_MSG), -EMSGSIZE);
	/* ...and a buffer too small. */
	assert_int_equal(build_send(buf, 20, "ipn:2.1", "x", 1), -EMSGSIZE);
	/* The reader refuses over-long values and too many fields. */
	memset(eid, 'a', sizeof(eid));
	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_BIND, 1);
	bp_msg_put_bytes(&w, BP_F_EID, eid, sizeof(eid));
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), -EBADMSG);
	assert_string_equal(err.why, "field value too long");
	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_ADMIN, 1);
	for (int i = 0; i <= BP_PROTO_MAX_FIELDS; i++)
		bp_msg_put_bytes(&w, BP_F_ARG, "x", 1);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), -EBADMSG);
	assert_string_equal(err.why, "too many fields");
}

static void every_message_type_has_a_schema(void **state)
{
	static const uint8_t types[] = { BP_MSG_SOCKET,	  BP_MSG_BIND,	 BP_MSG_SEND,
					 BP_MSG_CONSUMED, BP_MSG_ADMIN,	 BP_MSG_SETOPT,
					 BP_MSG_REPLY,	  BP_MSG_DELIVER };

	for (size_t i = 0; i < sizeof(types); i++)
		assert_string_not_equal(bp_msg_type_name(types[i]), "unknown");
	assert_string_equal(bp_msg_type_name(0), "unknown");
	for (uint16_t tag = 1; tag < BP_F_COUNT; tag++)
		assert_string_not_equal(bp_field_name(tag), "unknown");
	assert_string_equal(bp_field_name(BP_F_COUNT), "unknown");
}

static void reply_and_deliver_carry_their_fields(void **state)
{
	struct bp_msg_wr w;
	struct bp_msg m;
	struct bp_msg_error err;
	long n;

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_REPLY, 7);
	bp_msg_put_u64(&w, BP_F_STATUS, ENOBUFS);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), 0);
	assert_int_equal(bp_msg_u64(&m, BP_F_STATUS, 0), ENOBUFS);

	bp_msg_begin(&w, buf, sizeof(buf), BP_MSG_DELIVER, 0);
	bp_msg_put_u64(&w, BP_F_DELIVERY_ID, 9);
	bp_msg_put_u64(&w, BP_F_KIND, BP_DELIVERY_REPORT);
	bp_msg_put_bytes(&w, BP_F_SOURCE, "ipn:1.0", 7);
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:2.1", 7);
	bp_msg_put_u64(&w, BP_F_CREATION_TIME, 1);
	bp_msg_put_u64(&w, BP_F_SEQUENCE, 2);
	bp_msg_put_bytes(&w, BP_F_PAYLOAD, "", 0);
	n = bp_msg_end(&w);
	assert_int_equal(bp_msg_decode(buf, (size_t)n, &m, &err), 0);
	assert_int_equal(bp_msg_u64(&m, BP_F_KIND, 0), BP_DELIVERY_REPORT);
	assert_int_equal(bp_msg_find(&m, BP_F_PAYLOAD)->len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(send_round_trips_with_exact_bytes),
		cmocka_unit_test(decode_rejects_every_malformation),
		cmocka_unit_test(send_needs_destination_and_exactly_one_payload),
		cmocka_unit_test(limits_hold_on_both_sides),
		cmocka_unit_test(every_message_type_has_a_schema),
		cmocka_unit_test(reply_and_deliver_carry_their_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
