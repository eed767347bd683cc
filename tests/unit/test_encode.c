/* SPDX-License-Identifier: MIT */
/*
 * Bundle encoding (RFC 9171 4): what the encoder refuses, byte-exact
 * re-encoding of what was decoded, and random bundles round trips.
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
#include "decode.h"
#include "encode.h"
#include "vectors.h"

/* Random bundles: everything the encoder can express survives a round trip. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t rnd_uint(uint64_t *s)
{
	static const uint64_t edges[] = {
		0, 23, 24, 255, 256, 65535, 65536, 0xffffffffull, 0x100000000ull, UINT64_MAX
	};
	uint64_t r = rnd(s);

	return r % 3 == 0 ? edges[(r >> 8) % 10] : r >> (r % 64);
}

static void rnd_eid(uint64_t *s, struct bp_eid *eid, char *text, size_t cap)
{
	uint64_t r = rnd(s) % 3;

	if (r == 0) {
		bp_eid_set_ipn(eid, rnd_uint(s) & 0xffffffffull, rnd_uint(s));
		if (rnd(s) & 1) {
			eid->allocator = rnd(s) & 0xffff;
			eid->ipn_elems = 3;
		}
	} else if (r == 1) {
		int n = snprintf(text, cap, "//node%u/svc%u", (unsigned)(rnd(s) % 1000),
				 (unsigned)(rnd(s) % 1000));

		eid->scheme = BP_EID_DTN;
		eid->ssp = text;
		eid->ssp_len = (size_t)n;
	} else {
		bp_eid_set_none(eid);
	}
}

static void assert_eid_equal(const struct bp_eid *a, const struct bp_eid *b)
{
	assert_true(bp_eid_equal(a, b));
}

static void build_random(uint64_t *s, struct bpv7_bundle *b, char text[9][64], uint8_t *payload,
			 size_t max_payload)
{
	struct bpv7_block blk;
	unsigned next = 2;

	bpv7_bundle_init(b);
	b->primary.flags = rnd(s) & 0x7fffe; /* any flags but "is a fragment" */
	b->primary.crc_type = (uint8_t)(rnd(s) % 3);
	rnd_eid(s, &b->primary.dest, text[0], 64);
	rnd_eid(s, &b->primary.source, text[1], 64);
	rnd_eid(s, &b->primary.report_to, text[2], 64);
	b->primary.creation_time = rnd_uint(s);
	b->primary.sequence = rnd_uint(s);
	b->primary.lifetime = rnd_uint(s);
	if (rnd(s) & 1) {
		b->primary.flags |= BPV7_BPF_IS_FRAGMENT;
		b->primary.total_adu_len = rnd_uint(s) | 1;
		b->primary.frag_offset = rnd(s) % b->primary.total_adu_len;
	}
	for (unsigned i = 0, n = (unsigned)(rnd(s) % 6); i < n; i++) {
		blk = (struct bpv7_block){ .number = next++,
					   .flags = rnd_uint(s),
					   .crc_type = (uint8_t)(rnd(s) % 3) };
		switch (rnd(s) % 4) {
		case 0:
			blk.type = BPV7_BLOCK_PREV_NODE;
			rnd_eid(s, &blk.ext.prev_node, text[3 + i], 64);
			break;
		case 1:
			blk.type = BPV7_BLOCK_BUNDLE_AGE;
			blk.ext.age_ms = rnd_uint(s);
			break;
		case 2:
			blk.type = BPV7_BLOCK_HOP_COUNT;
			blk.ext.hop.limit = 1 + rnd(s) % 255;
			blk.ext.hop.count = rnd_uint(s);
			break;
		default:
			blk.type = rnd_uint(s);
			if (blk.type == 0 || bpv7_block_type_known(blk.type))
				blk.type = 192;
			blk.data = payload;
			blk.data_len = rnd(s) % 40;
			break;
		}
		assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
	}
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_PAYLOAD,
				   .number = 1,
				   .flags = rnd_uint(s),
				   .crc_type = (uint8_t)(rnd(s) % 3) };
	blk.data = payload;
	blk.data_len = rnd(s) % max_payload;
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
}

static void encoder_refuses_bundles_it_cannot_emit(void **state)
{
	struct bpv7_bundle b;
	uint8_t out[256];
	struct bpv7_block ext = { .type = 200, .number = 2 };

	bpv7_bundle_init(&b);
	assert_int_equal(bpv7_encode(&b, out, sizeof(out)), -EINVAL); /* no payload */
	build_basic(&b, BPV7_CRC_16, "x", 1);
	b.primary.crc_type = 3;
	assert_int_equal(bpv7_encode(&b, out, sizeof(out)), -EINVAL);
	build_basic(&b, BPV7_CRC_16, "x", 1);
	b.primary.dest.scheme = 9;
	assert_int_equal(bpv7_encode(&b, out, sizeof(out)), -EINVAL);
	build_basic(&b, BPV7_CRC_16, "x", 1);
	ext.data_len = 3; /* unknown type, no data to emit */
	assert_int_equal(bpv7_bundle_add_block(&b, &ext), 0);
	assert_int_equal(bpv7_encode(&b, out, sizeof(out)), -EINVAL);
	build_basic(&b, BPV7_CRC_16, "x", 1);
	assert_int_equal(bpv7_encode(&b, out, 10), -ENOSPC);
	assert_true(bpv7_encode(&b, out, sizeof(out)) > 10);
}

static void unknown_blocks_are_reemitted_unchanged(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len;
	uint8_t *buf = vector_must_load("bpv7/ion52_unknown_block_type8.hex", &len);

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.blocks[0].type, 8);
	assert_false(bpv7_block_type_known(8));
	assert_encodes_to(&b, buf, len);
	free(buf);
}

static void decode_keeps_a_noncanonical_primary_block_verbatim(void **state)
{
	size_t len;
	uint8_t *buf = vector_from_hex("9f88070000820282010282028202018202820201821a2b000000"
				       "18281b00000000000f4240" PAYLOAD "ff",
				       &len);
	struct bpv7_bundle b;
	struct bpv7_error err;

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_true(b.findings & BPV7_F_NONCANONICAL);
	/* RFC 9171 4.3.1: the primary block is immutable; forwarding keeps it. */
	assert_encodes_to(&b, buf, len);
	b.primary_len = 0; /* as a caller that changed a primary field must */
	assert_int_equal(bpv7_encoded_size(&b), (long)len - 4);
	free(buf);
}

static void random_bundles_round_trip(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t payload[3000];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)rnd(&seed);
	for (int iter = 0; iter < 3000; iter++) {
		struct bpv7_bundle b, out;
		struct bpv7_error err;
		char text[9][64]; /* three primary EIDs, up to six previous nodes */
		uint8_t *buf = NULL, *again = NULL;
		long n;

		build_random(&seed, &b, text, payload, sizeof(payload));
		n = bpv7_encode_alloc(&b, &buf);
		assert_true(n > 0);
		if (bpv7_decode(buf, (size_t)n, 0, &out, &err) != 0)
			fail_msg("iteration %d: %s at %zu", iter, bpv7_error_name(err.code),
				 err.offset);
		assert_int_equal(out.primary.flags, b.primary.flags);
		assert_int_equal(out.primary.crc_type, b.primary.crc_type);
		assert_eid_equal(&out.primary.dest, &b.primary.dest);
		assert_eid_equal(&out.primary.source, &b.primary.source);
		assert_eid_equal(&out.primary.report_to, &b.primary.report_to);
		assert_int_equal(out.primary.creation_time, b.primary.creation_time);
		assert_int_equal(out.primary.sequence, b.primary.sequence);
		assert_int_equal(out.primary.lifetime, b.primary.lifetime);
		assert_int_equal(out.primary.frag_offset, b.primary.frag_offset);
		assert_int_equal(out.primary.total_adu_len, b.primary.total_adu_len);
		assert_int_equal(out.nblocks, b.nblocks);
		for (unsigned k = 0; k < b.nblocks; k++) {
			assert_int_equal(out.blocks[k].type, b.blocks[k].type);
			assert_int_equal(out.blocks[k].number, b.blocks[k].number);
			assert_int_equal(out.blocks[k].flags, b.blocks[k].flags);
			assert_int_equal(out.blocks[k].crc_type, b.blocks[k].crc_type);
		}
		assert_false(out.findings & BPV7_F_NONCANONICAL);
		assert_int_equal(bpv7_encode_alloc(&out, &again), n);
		assert_memory_equal(again, buf, (size_t)n);
		free(again);
		free(buf);
	}
}

/*
 * The split form, payload data left out: prefix + data + suffix is the
 * whole encoding, byte for byte, at every size where a CBOR head grows
 * and with each CRC type (the payload CRC covers data the buffer never held).
 */
static void split_encoding_is_the_same_bytes_around_the_payload(void **state)
{
	static const size_t sizes[] = { 0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20 };
	uint64_t seed = 7;
	uint8_t *payload = malloc(1 << 20);

	assert_non_null(payload);
	for (size_t i = 0; i < (1 << 20); i++)
		payload[i] = (uint8_t)rnd(&seed);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (uint8_t crc = 0; crc <= BPV7_CRC_32C; crc++) {
			struct bpv7_bundle b;
			char text[9][64];
			uint8_t *whole = NULL, *split = NULL, *joined;
			size_t at;
			long n, m;

			build_random(&seed, &b, text, payload, 100);
			b.blocks[b.nblocks - 1].crc_type = crc;
			b.blocks[b.nblocks - 1].data_len = sizes[k];
			n = bpv7_encode_alloc(&b, &whole);
			m = bpv7_encode_split_alloc(&b, &split, &at);
			assert_true(n > 0);
			assert_int_equal(m, n - (long)sizes[k]);
			assert_true(at <= (size_t)m);
			joined = malloc((size_t)n);
			assert_non_null(joined);
			memcpy(joined, split, at);
			memcpy(joined + at, payload, sizes[k]);
			memcpy(joined + at + sizes[k], split + at, (size_t)m - at);
			assert_memory_equal(joined, whole, (size_t)n);
			free(joined);
			free(whole);
			free(split);
		}
	}
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoder_refuses_bundles_it_cannot_emit),
		cmocka_unit_test(unknown_blocks_are_reemitted_unchanged),
		cmocka_unit_test(decode_keeps_a_noncanonical_primary_block_verbatim),
		cmocka_unit_test(random_bundles_round_trip),
		cmocka_unit_test(split_encoding_is_the_same_bytes_around_the_payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
