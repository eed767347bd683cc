/* SPDX-License-Identifier: MIT */
/*
 * The bundle type's helpers (bundle.c): block bookkeeping, the error and
 * finding tables, and RFC 9171 5.6 step 4 for blocks the node cannot process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bundle.h"
#include "bundles.h"

static void unknown_blocks_follow_their_processing_flags(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_block blk = {
		.type = 200, .number = 2, .data = (const uint8_t *)"", .data_len = 0
	};
	bool report;

	build_basic(&b, BPV7_CRC_32C, "x", 1);
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0); /* no flags: kept */
	blk = (struct bpv7_block){ .type = 201, .number = 3, .flags = BPV7_BLKF_DISCARD_IF_UNPROC };
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_HOP_COUNT,
				   .number = 4,
				   .flags = BPV7_BLKF_DELETE_IF_UNPROC };
	blk.ext.hop.limit = 9;
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0); /* known: untouched */
	assert_int_equal(bpv7_bundle_apply_unknown_blocks(&b, &report), 0);
	assert_false(report);
	assert_int_equal(b.nblocks, 3);
	assert_int_equal(b.blocks[0].type, 200);
	assert_int_equal(b.blocks[1].type, BPV7_BLOCK_HOP_COUNT);
	assert_int_equal(b.blocks[2].type, BPV7_BLOCK_PAYLOAD);

	blk = (struct bpv7_block){ .type = 202,
				   .number = 5,
				   .flags = BPV7_BLKF_REPORT_IF_UNPROC |
					    BPV7_BLKF_DISCARD_IF_UNPROC };
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(bpv7_bundle_apply_unknown_blocks(&b, &report), 0);
	assert_true(report);
	assert_int_equal(b.nblocks, 3);

	blk = (struct bpv7_block){ .type = 203, .number = 6, .flags = BPV7_BLKF_DELETE_IF_UNPROC };
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(bpv7_bundle_apply_unknown_blocks(&b, &report), 1);
}

static void add_block_keeps_the_payload_last(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_block blk = { .type = BPV7_BLOCK_BUNDLE_AGE };

	build_basic(&b, BPV7_CRC_16, "x", 1);
	blk.number = bpv7_bundle_free_number(&b);
	assert_int_equal(blk.number, 2);
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(bpv7_bundle_free_number(&b), 3);
	assert_int_equal(b.blocks[b.nblocks - 1].type, BPV7_BLOCK_PAYLOAD);
	while (b.nblocks < BPV7_MAX_BLOCKS)
		assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), -ENOSPC);
}

static void every_error_and_finding_has_its_own_name_and_message(void **state)
{
	for (int i = BPV7_E_OK + 1; i < BPV7_E_COUNT; i++) {
		assert_string_not_equal(bpv7_error_name(i), "unknown");
		assert_string_not_equal(bpv7_error_message(i), "unknown error");
		for (int j = BPV7_E_OK + 1; j < i; j++)
			assert_string_not_equal(bpv7_error_name(i), bpv7_error_name(j));
	}
	assert_string_equal(bpv7_error_name(BPV7_E_COUNT), "unknown");
	for (int i = 0; i < BPV7_F_COUNT; i++) {
		assert_string_not_equal(bpv7_finding_name(1u << i), "unknown");
		assert_string_not_equal(bpv7_finding_message(1u << i), "unknown finding");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(bpv7_finding_name(1u << i),
						bpv7_finding_name(1u << j));
	}
	assert_string_equal(bpv7_finding_name(1u << BPV7_F_COUNT), "unknown");
	assert_string_equal(bpv7_finding_name(3), "unknown"); /* one bit at a time */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_blocks_follow_their_processing_flags),
		cmocka_unit_test(add_block_keeps_the_payload_last),
		cmocka_unit_test(every_error_and_finding_has_its_own_name_and_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
