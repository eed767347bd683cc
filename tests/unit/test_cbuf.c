/* SPDX-License-Identifier: MIT */
/* The bounded CBOR cursor and writer under the codec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbuf.h"
#include "vectors.h"

static void reader_takes_items_in_order(void **state)
{
	size_t len;
	uint8_t *buf = vector_from_hex("83 18 2a 43 010203 63 616263 f5 9f ff", &len);
	struct cbuf_rd rd;
	uint64_t v;
	const uint8_t *b;
	const char *t;
	size_t n;
	bool flag, indef;

	cbuf_rd_init(&rd, buf, len);
	assert_int_equal(cbuf_read_array(&rd, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(cbuf_read_uint(&rd, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cbuf_read_bstr(&rd, &b, &n), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(b, buf + 4); /* points into the input */
	assert_int_equal(cbuf_read_tstr(&rd, &t, &n), 0);
	assert_memory_equal(t, "abc", 3);
	assert_int_equal(cbuf_read_bool(&rd, &flag), 0);
	assert_true(flag);
	assert_int_equal(cbuf_read_array_any(&rd, &v, &indef), 0);
	assert_true(indef);
	assert_int_equal(cbuf_peek(&rd), CBUF_BREAK);
	assert_int_equal(cbuf_read_break(&rd), 0);
	assert_int_equal(cbuf_rd_left(&rd), 0);
	assert_false(rd.noncanonical);
	free(buf);
}

static void reader_refuses_wrong_kinds_without_moving(void **state)
{
	size_t len;
	uint8_t *buf = vector_from_hex("43010203", &len);
	struct cbuf_rd rd;
	uint64_t v;

	cbuf_rd_init(&rd, buf, len);
	assert_int_equal(cbuf_read_uint(&rd, &v), -EBADMSG);
	assert_int_equal(cbuf_read_array(&rd, &v), -EBADMSG);
	assert_int_equal(cbuf_read_break(&rd), -EBADMSG);
	assert_int_equal(rd.pos, 0);
	free(buf);
}

static void reader_says_how_much_more_it_needs(void **state)
{
	size_t len;
	uint8_t *buf = vector_from_hex("1a000f4240", &len);
	struct cbuf_rd rd;
	uint64_t v;

	for (size_t cut = 0; cut < len; cut++) {
		cbuf_rd_init(&rd, buf, cut);
		assert_int_equal(cbuf_read_uint(&rd, &v), -ENODATA);
		assert_int_equal(rd.pos, 0);
		assert_true(rd.need > cut && rd.need <= len);
	}
	cbuf_rd_init(&rd, buf, len);
	assert_int_equal(cbuf_read_uint(&rd, &v), 0);
	assert_int_equal(v, 1000000);
	free(buf);
}

static void declared_string_length_is_reported_before_its_bytes(void **state)
{
	size_t len;
	uint8_t *big = vector_from_hex("5a00100000", &len); /* 1 MiB byte string */
	uint8_t *huge = vector_from_hex("5bffffffffffffffff00", &len);
	struct cbuf_rd rd;
	const uint8_t *b;
	size_t n;

	cbuf_rd_init(&rd, big, 5);
	assert_int_equal(cbuf_read_bstr(&rd, &b, &n), -ENODATA);
	assert_int_equal(rd.need, 5 + (1u << 20));
	/* A length that would wrap size arithmetic reads as "needs everything". */
	cbuf_rd_init(&rd, huge, len);
	assert_int_equal(cbuf_read_bstr(&rd, &b, &n), -ENODATA);
	assert_int_equal(rd.need, SIZE_MAX);
	free(big);
	free(huge);
}

static void reader_marks_non_shortest_heads(void **state)
{
	static const char *const longer[] = { "1805", "190005", "1a00000005", "1b0000000000000005",
					      "9800", "5800" };

	for (size_t i = 0; i < sizeof(longer) / sizeof(longer[0]); i++) {
		size_t len;
		uint8_t *buf = vector_from_hex(longer[i], &len);
		struct cbuf_rd rd;

		cbuf_rd_init(&rd, buf, len);
		assert_int_equal(cbuf_skip(&rd, 4), 0);
		if (buf[0] < 0x20) { /* skip does not judge; reading does */
			uint64_t v;

			cbuf_rd_init(&rd, buf, len);
			assert_int_equal(cbuf_read_uint(&rd, &v), 0);
			assert_int_equal(v, 5);
			assert_true(rd.noncanonical);
		}
		free(buf);
	}
}

static void skip_handles_nesting_and_bounds(void **state)
{
	size_t len;
	uint8_t *nested = vector_from_hex("82 a1 01 9f 02 03 ff c1 1a00000001 ff", &len);
	uint8_t *deep = vector_from_hex("8181818181818181818101", &len);
	struct cbuf_rd rd;

	cbuf_rd_init(&rd, nested, 12);
	assert_int_equal(cbuf_skip(&rd, 8), -ENODATA);
	assert_int_equal(rd.pos, 0);
	cbuf_rd_init(&rd, nested, 13);
	assert_int_equal(cbuf_skip(&rd, 8), 0);
	assert_int_equal(rd.pos, 13);
	assert_int_equal(cbuf_read_break(&rd), -ENODATA);
	cbuf_rd_init(&rd, nested, 14);
	assert_int_equal(cbuf_skip(&rd, 8), 0);
	assert_int_equal(cbuf_read_break(&rd), 0); /* the stray break is the next item */
	cbuf_rd_init(&rd, deep, len);
	assert_int_equal(cbuf_skip(&rd, 4), -EBADMSG);
	assert_int_equal(rd.pos, 0);
	cbuf_rd_init(&rd, deep, len - 1);
	assert_int_equal(cbuf_skip(&rd, 16), -ENODATA);
	free(nested);
	free(deep);
}

static void writer_measures_then_writes(void **state)
{
	uint8_t out[32];
	struct cbuf_wr wr;
	size_t measured;

	cbuf_wr_init(&wr, NULL, 0);
	cbuf_write_array(&wr, 3);
	cbuf_write_uint(&wr, 1000000);
	cbuf_write_bstr(&wr, "ab", 2);
	cbuf_write_tstr(&wr, "xyz", 3);
	measured = wr.len;
	assert_false(cbuf_wr_ok(&wr));
	assert_int_equal(measured, 1 + 5 + 3 + 4);

	cbuf_wr_init(&wr, out, sizeof(out));
	cbuf_write_array(&wr, 3);
	cbuf_write_uint(&wr, 1000000);
	cbuf_write_bstr(&wr, "ab", 2);
	cbuf_write_tstr(&wr, "xyz", 3);
	assert_true(cbuf_wr_ok(&wr));
	assert_int_equal(wr.len, measured);
	assert_memory_equal(out,
			    "\x83\x1a\x00\x0f\x42\x40\x42"
			    "ab"
			    "\x63xyz",
			    measured);

	cbuf_wr_init(&wr, out, 4); /* too small: stops writing, keeps counting */
	cbuf_write_uint(&wr, 1000000);
	cbuf_write_uint(&wr, 1);
	assert_false(cbuf_wr_ok(&wr));
	assert_int_equal(wr.len, 6);
	assert_null(cbuf_write_reserve(&wr, 2));
}

static void head_sizes_follow_rfc8949(void **state)
{
	assert_int_equal(cbuf_head_size(23), 1);
	assert_int_equal(cbuf_head_size(24), 2);
	assert_int_equal(cbuf_head_size(255), 2);
	assert_int_equal(cbuf_head_size(256), 3);
	assert_int_equal(cbuf_head_size(65535), 3);
	assert_int_equal(cbuf_head_size(65536), 5);
	assert_int_equal(cbuf_head_size(UINT32_MAX), 5);
	assert_int_equal(cbuf_head_size(UINT32_MAX + 1ull), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reader_takes_items_in_order),
		cmocka_unit_test(reader_refuses_wrong_kinds_without_moving),
		cmocka_unit_test(reader_says_how_much_more_it_needs),
		cmocka_unit_test(declared_string_length_is_reported_before_its_bytes),
		cmocka_unit_test(reader_marks_non_shortest_heads),
		cmocka_unit_test(skip_handles_nesting_and_bounds),
		cmocka_unit_test(writer_measures_then_writes),
		cmocka_unit_test(head_sizes_follow_rfc8949),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
