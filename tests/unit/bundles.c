/* SPDX-License-Identifier: MIT */
/* Test helpers shared by the codec tests: loading vectors, building bundles. */
#include "bundles.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "encode.h"
#include "vectors.h"

uint8_t *vector_must_load(const char *file, size_t *len)
{
	uint8_t *buf = vector_load(file, len);

	if (!buf)
		fail_msg("cannot load vector %s", file);
	return buf;
}

/* Encode b and compare with the expected bytes. */
void assert_encodes_to(const struct bpv7_bundle *b, const uint8_t *want, size_t len)
{
	uint8_t *out = NULL;
	long n = bpv7_encode_alloc(b, &out);

	assert_int_equal(n, (long)len);
	assert_memory_equal(out, want, len);
	assert_int_equal(bpv7_encoded_size(b), (long)len);
	free(out);
}

/* A well-formed bundle built field by field, for encoder-side cases. */
void build_basic(struct bpv7_bundle *b, uint8_t crc, const void *payload, size_t len)
{
	struct bpv7_block pay = { .type = BPV7_BLOCK_PAYLOAD, .number = 1, .crc_type = crc };

	bpv7_bundle_init(b);
	b->primary.crc_type = crc;
	bp_eid_set_ipn(&b->primary.dest, 2, 1);
	bp_eid_set_ipn(&b->primary.source, 1, 1);
	bp_eid_set_ipn(&b->primary.report_to, 1, 1);
	b->primary.creation_time = 800000000000ull;
	b->primary.lifetime = 3600000;
	pay.data = payload;
	pay.data_len = len;
	assert_int_equal(bpv7_bundle_add_block(b, &pay), 0);
}
