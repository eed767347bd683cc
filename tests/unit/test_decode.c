/* SPDX-License-Identifier: MIT */
/*
 * Bundle decoding (RFC 9171 4): public vectors with their verdicts, every
 * chunking, one crafted bundle per error code, findings and limits.
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
#include "crc.h"
#include "decode.h"
#include "encode.h"
#include "vectors.h"

static const char *const good_vectors[] = {
	"bpv7/rfc9173_A1_original.hex",
	"bpv7/rfc9173_A1_final.hex",
	"bpv7/rfc9173_A2_original.hex",
	"bpv7/rfc9173_A2_final.hex",
	"bpv7/rfc9173_A3_original.hex",
	"bpv7/rfc9173_A3_final.hex",
	"bpv7/rfc9173_A4_original.hex",
	"bpv7/rfc9173_A4_final.hex",
	"bpv7/bsl_cose_draft_exA_nosec.hex",
	"bpv7/ion52_unknown_block_type8.hex",
	"bpv7/bp7rs12_reserved_block_flags.hex",
	"bpv7/bp7rs15_report_to_ipn0.hex",
	"ion/ion_udp_bundle.hex",
};

static const struct {
	const char *file;
	enum bpv7_error_code code;
} bad_vectors[] = {
	{ "bpv7/bad/bad_crc16_primary.hex", BPV7_E_PRIMARY_CRC },
	{ "bpv7/bad/bad_crc32_payload_data.hex", BPV7_E_BLOCK_CRC },
	{ "bpv7/bad/bad_truncated_100.hex", BPV7_E_TRUNCATED },
	{ "bpv7/bad/bad_truncated_nobreak.hex", BPV7_E_TRUNCATED },
	{ "bpv7/bad/bad_version6.hex", BPV7_E_VERSION },
	{ "bpv7/bad/bad_trailing_garbage.hex", BPV7_E_TRAILING },
	{ "bpv7/bad/bad_definite_outer_array.hex", BPV7_E_NOT_INDEF_ARRAY },
};

static void decode_accepts_public_vectors_and_reencodes_byte_exact(void **state)
{
	for (size_t i = 0; i < sizeof(good_vectors) / sizeof(good_vectors[0]); i++) {
		struct bpv7_bundle b;
		struct bpv7_error err;
		size_t len;
		uint8_t *buf = vector_must_load(good_vectors[i], &len);
		int r = bpv7_decode(buf, len, 0, &b, &err);

		if (r != 0)
			fail_msg("%s: %s at %zu", good_vectors[i], bpv7_error_name(err.code),
				 err.offset);
		assert_int_equal(b.wire_len, len);
		assert_int_equal(b.blocks[b.nblocks - 1].type, BPV7_BLOCK_PAYLOAD);
		assert_false(b.findings & BPV7_F_NONCANONICAL);
		assert_encodes_to(&b, buf, len);
		free(buf);
	}
}

static void decode_reports_rfc9173_example_findings(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len;
	uint8_t *buf = vector_must_load("bpv7/rfc9173_A1_original.hex", &len);

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.findings, BPV7_F_NO_PRIMARY_CRC | BPV7_F_NO_AGE_BLOCK);
	assert_int_equal(b.primary.dest.scheme, BP_EID_IPN);
	assert_int_equal(b.primary.dest.node, 1);
	assert_int_equal(b.primary.dest.service, 2);
	assert_int_equal(b.primary.source.node, 2);
	assert_int_equal(b.primary.creation_time, 0);
	assert_int_equal(b.primary.sequence, 40);
	assert_int_equal(b.primary.lifetime, 1000000);
	assert_int_equal(b.primary_len, 28); /* RFC 9173 A.1.1.1 */
	assert_int_equal(b.nblocks, 1);
	assert_int_equal(b.blocks[0].data_len, 35);
	assert_memory_equal(b.blocks[0].data, "Ready to generate a 32-byte payload", 35);
	/* Zero copy: the payload is inside the input buffer. */
	assert_ptr_equal(b.blocks[0].data, buf + len - 1 - 35);
	free(buf);

	/* A3 carries a bundle age block; A3_final a BIB over the primary block. */
	buf = vector_must_load("bpv7/rfc9173_A3_original.hex", &len);
	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.findings, BPV7_F_NO_PRIMARY_CRC);
	assert_int_equal(bpv7_bundle_find(&b, BPV7_BLOCK_BUNDLE_AGE)->ext.age_ms, 300);
	free(buf);
	buf = vector_must_load("bpv7/rfc9173_A3_final.hex", &len);
	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.findings, 0);
	free(buf);
}

static void decode_reads_ion_bundle_fields(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len;
	uint8_t *buf = vector_must_load("ion/ion_udp_bundle.hex", &len);
	const struct bpv7_block *prev;

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.primary.crc_type, BPV7_CRC_16);
	assert_true(bp_eid_is_null(&b.primary.source));
	assert_int_equal(b.primary.dest.node, 20);
	assert_int_equal(b.nblocks, 4);
	assert_int_equal(b.blocks[1].type, 193);
	prev = bpv7_bundle_find(&b, BPV7_BLOCK_PREV_NODE);
	assert_non_null(prev);
	assert_int_equal(prev->ext.prev_node.node, 10);
	assert_int_equal(b.findings, 0);
	free(buf);
}

static void decode_rejects_bad_vectors_with_their_rule(void **state)
{
	for (size_t i = 0; i < sizeof(bad_vectors) / sizeof(bad_vectors[0]); i++) {
		struct bpv7_bundle b;
		struct bpv7_error err;
		size_t len;
		uint8_t *buf = vector_must_load(bad_vectors[i].file, &len);

		assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), -EBADMSG);
		if (err.code != bad_vectors[i].code)
			fail_msg("%s: got %s, want %s", bad_vectors[i].file,
				 bpv7_error_name(err.code), bpv7_error_name(bad_vectors[i].code));
		free(buf);
	}
}

/* Feed buf in chunks of `chunk` bytes; returns the decoder (caller frees). */
static struct bpv7_decoder *feed_chunked(const uint8_t *buf, size_t len, size_t chunk,
					 int *ret_result, size_t *ret_used)
{
	struct bpv7_decoder *d = bpv7_decoder_new(0);
	size_t off = 0, used_total = 0;
	int r = 0;

	assert_non_null(d);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, used;

		r = bpv7_decoder_feed(d, buf + off, n, &used);
		used_total += used;
		off += n;
		if (r != 0)
			break;
	}
	*ret_result = r;
	*ret_used = used_total;
	return d;
}

static void decoder_gives_same_result_for_every_chunk_size(void **state)
{
	for (size_t i = 0; i < sizeof(good_vectors) / sizeof(good_vectors[0]); i++) {
		size_t len;
		uint8_t *buf = vector_must_load(good_vectors[i], &len);

		for (size_t chunk = 1; chunk <= len; chunk++) {
			size_t used;
			int r;
			struct bpv7_decoder *d = feed_chunked(buf, len, chunk, &r, &used);
			const struct bpv7_bundle *b = bpv7_decoder_bundle(d);

			if (r != 1)
				fail_msg("%s chunk %zu: %d", good_vectors[i], chunk, r);
			assert_int_equal(used, len);
			assert_non_null(b);
			assert_encodes_to(b, buf, len);
			bpv7_decoder_free(d);
		}
		free(buf);
	}
}

static void decoder_rejects_bad_vectors_in_every_chunk_size(void **state)
{
	for (size_t i = 0; i < sizeof(bad_vectors) / sizeof(bad_vectors[0]); i++) {
		size_t len;
		uint8_t *buf = vector_must_load(bad_vectors[i].file, &len);
		enum bpv7_error_code want = bad_vectors[i].code;

		for (size_t chunk = 1; chunk <= len; chunk++) {
			size_t used;
			int r;
			struct bpv7_decoder *d = feed_chunked(buf, len, chunk, &r, &used);

			if (want == BPV7_E_TRUNCATED) {
				assert_int_equal(r, 0); /* still waiting for bytes */
			} else if (want == BPV7_E_TRAILING) {
				/* The stream decoder stops at the break: the rest is not its. */
				assert_int_equal(r, 1);
				assert_int_equal(used, len - 4);
			} else {
				assert_int_equal(r, -EBADMSG);
				assert_int_equal(bpv7_decoder_error(d)->code, want);
			}
			bpv7_decoder_free(d);
		}
		free(buf);
	}
}

static void decoder_takes_reads_straight_into_its_buffer(void **state)
{
	size_t len, used, total = 0;
	uint8_t *buf = vector_must_load("bpv7/rfc9173_A3_final.hex", &len);
	struct bpv7_decoder *d = bpv7_decoder_new(0);
	const struct bpv7_bundle *b;
	int r = 0;

	/* As a convergence layer would: read() into reserved room, commit. */
	while (r == 0) {
		uint8_t *dst;
		size_t room, n;

		assert_int_equal(bpv7_decoder_reserve(d, 10, &dst, &room), 0);
		assert_int_equal(room, 10);
		n = len - total < room ? len - total : room;
		memcpy(dst, buf + total, n);
		r = bpv7_decoder_commit(d, n, &used);
		total += used;
	}
	assert_int_equal(r, 1);
	assert_int_equal(total, len);
	b = bpv7_decoder_bundle(d);
	assert_non_null(b);
	assert_encodes_to(b, buf, len);
	/* The payload lies in the decoder's own buffer: it was never copied. */
	assert_ptr_equal(bpv7_bundle_payload_const(b)->data, b->wire + len - 1 - 35);
	bpv7_decoder_free(d);
	free(buf);
}

static void decoder_reserve_stops_at_the_size_limit(void **state)
{
	struct bpv7_decoder *d = bpv7_decoder_new(100);
	uint8_t *dst;
	size_t room, used;

	assert_int_equal(bpv7_decoder_reserve(d, 1000, &dst, &room), 0);
	assert_int_equal(room, 100);
	assert_int_equal(bpv7_decoder_commit(d, 101, &used), -EINVAL);
	memset(dst, 0x9f, room); /* a bundle head and then nonsense */
	assert_int_equal(bpv7_decoder_commit(d, 1, &used), 0);
	assert_int_equal(bpv7_decoder_reserve(d, 1000, &dst, &room), 0);
	assert_int_equal(room, 99);
	bpv7_decoder_free(d);
}

static void decoder_refuses_a_non_bundle_at_its_first_byte(void **state)
{
	struct bpv7_decoder *d = bpv7_decoder_new(0);
	size_t used;

	/* Only 0x9f starts a bundle (RFC 9171 4.1): a CL can drop a bad peer at once. */
	assert_int_equal(bpv7_decoder_feed(d, "\x5a", 1, &used), -EBADMSG);
	assert_int_equal(bpv7_decoder_error(d)->code, BPV7_E_NOT_INDEF_ARRAY);
	assert_int_equal(bpv7_decoder_error(d)->offset, 0);
	bpv7_decoder_free(d);
}

static void decoder_leaves_bytes_after_the_bundle_to_the_caller(void **state)
{
	size_t len, used;
	uint8_t *buf = vector_must_load("bpv7/rfc9173_A3_final.hex", &len);
	uint8_t *two = malloc(2 * len);
	struct bpv7_decoder *d = bpv7_decoder_new(0);

	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	assert_int_equal(bpv7_decoder_feed(d, two, 2 * len, &used), 1);
	assert_int_equal(used, len);
	assert_int_equal(bpv7_decoder_size(d), len);
	bpv7_decoder_reset(d);
	assert_int_equal(bpv7_decoder_feed(d, two + used, len, &used), 1);
	assert_int_equal(used, len);
	bpv7_decoder_free(d);
	free(two);
	free(buf);
}

static const struct {
	const char *name;
	const char *hex;
	enum bpv7_error_code code;
} crafted[] = {
	{ "outer is a uint", "01", BPV7_E_NOT_INDEF_ARRAY },
	{ "outer is an unfinished text string", "68656c6c6f", BPV7_E_NOT_INDEF_ARRAY },
	{ "outer is a definite array", "82" PRIMARY PAYLOAD, BPV7_E_NOT_INDEF_ARRAY },
	{ "primary is a uint", "9f01" PAYLOAD "ff", BPV7_E_PRIMARY_SHAPE },
	{ "primary has 7 items",
	  "9f8707000082028201028202820201820201821a2b000000001828" PAYLOAD "ff",
	  BPV7_E_PRIMARY_SHAPE },
	{ "primary 9 items without crc",
	  "9f89070000820282010282028202018202820201821a2b00000018281a000f424000" PAYLOAD "ff",
	  BPV7_E_PRIMARY_COUNT },
	{ "version 6",
	  "9f88060000820282010282028202018202820201821a2b00000018281a000f4240" PAYLOAD "ff",
	  BPV7_E_VERSION },
	{ "flags as byte string",
	  "9f8807400082028201028202820201820282020182"
	  "1a2b0000000018281a000f4240" PAYLOAD "ff",
	  BPV7_E_FIELD_TYPE },
	{ "crc type 3",
	  "9f88070003820282010282028202018202820201821a2b00000018281a000f4240" PAYLOAD "ff",
	  BPV7_E_CRC_TYPE },
	{ "ipn eid with one element",
	  "9f880700008202810182028202018202820201821a2b00000018281a000f4240" PAYLOAD "ff",
	  BPV7_E_EID },
	{ "eid scheme 3",
	  "9f88070000820300820282020182028202018218"
	  "2818281a000f4240" PAYLOAD "ff",
	  BPV7_E_EID_SCHEME },
	{ "timestamp of 3 items",
	  "9f8807000082028201028202820201820282020183000000"
	  "1a000f4240" PAYLOAD "ff",
	  BPV7_E_TIMESTAMP },
	{ "fragment offset at total",
	  "9f8a070100820282010282028202018202820201821a2b00000018281a000f42400505" PAYLOAD "ff",
	  BPV7_E_FRAG_OFFSET },
	{ "reserved CBOR head", "9f88070000820282010282028202018202820201821c" PAYLOAD "ff",
	  BPV7_E_CBOR },
	{ "block of 4 items", "9f" PRIMARY "8401010000" PAYLOAD "ff", BPV7_E_BLOCK_SHAPE },
	{ "block 6 items without crc", "9f" PRIMARY "860101000041aa00ff", BPV7_E_BLOCK_SHAPE },
	{ "block type 0", "9f" PRIMARY "850002000041aa" PAYLOAD "ff", BPV7_E_BLOCK_TYPE },
	{ "block number 0", "9f" PRIMARY "850700000041aa" PAYLOAD "ff", BPV7_E_BLOCK_NUMBER },
	{ "extension numbered 1", "9f" PRIMARY "85070100004100" PAYLOAD "ff", BPV7_E_BLOCK_NUMBER },
	{ "duplicate block number",
	  "9f" PRIMARY AGE "850a0200004382050"
	  "0" PAYLOAD "ff",
	  BPV7_E_DUP_NUMBER },
	{ "data is a text string", "9f" PRIMARY "850101000061aaff", BPV7_E_BLOCK_DATA },
	{ "data is indefinite", "9f" PRIMARY "85010100005f41aaffff", BPV7_E_BLOCK_DATA },
	{ "crc of wrong size",
	  "9f" PRIMARY "860101000141aa44000000"
	  "00ff",
	  BPV7_E_CRC_FIELD },
	{ "no payload", "9f" PRIMARY AGE "ff", BPV7_E_NO_PAYLOAD },
	{ "payload before extension", "9f" PRIMARY PAYLOAD AGE "ff", BPV7_E_PAYLOAD_NOT_LAST },
	{ "payload numbered 2", "9f" PRIMARY "850102000041aaff", BPV7_E_PAYLOAD_NUMBER },
	{ "no blocks", "9f" PRIMARY "ff", BPV7_E_NO_BLOCKS },
	{ "age is a text string", "9f" PRIMARY "8507020000426161" PAYLOAD "ff", BPV7_E_EXT_DATA },
	{ "age with trailing byte",
	  "9f" PRIMARY "850702000042"
	  "0000" PAYLOAD "ff",
	  BPV7_E_EXT_DATA },
	{ "hop count of one item", "9f" PRIMARY "850a020000428105" PAYLOAD "ff", BPV7_E_EXT_DATA },
	{ "previous node not an eid", "9f" PRIMARY "85060200004105" PAYLOAD "ff", BPV7_E_EXT_DATA },
	{ "trailing bytes", "9f" PRIMARY PAYLOAD "ff00", BPV7_E_TRAILING },
	{ "truncated", "9f" PRIMARY PAYLOAD, BPV7_E_TRUNCATED },
	{ "empty input", "", BPV7_E_TRUNCATED },
};

static void decode_rejects_each_rule_with_its_own_code(void **state)
{
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		struct bpv7_bundle b;
		struct bpv7_error err;
		size_t len;
		uint8_t *buf = vector_from_hex(crafted[i].hex, &len);
		int r;

		assert_non_null(buf);
		r = bpv7_decode(buf, len, 0, &b, &err);
		if (r != -EBADMSG || err.code != crafted[i].code)
			fail_msg("%s: r=%d got %s, want %s", crafted[i].name, r,
				 bpv7_error_name(err.code), bpv7_error_name(crafted[i].code));
		assert_true(err.offset <= len);
		assert_string_not_equal(bpv7_error_message(err.code), "unknown error");
		free(buf);
	}
}

static void decode_accepts_the_crafted_baseline(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len;
	uint8_t *buf = vector_from_hex("9f" PRIMARY AGE "850a03000043820500" PAYLOAD "ff", &len);

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_int_equal(b.nblocks, 3);
	assert_int_equal(b.blocks[1].ext.hop.limit, 5);
	assert_int_equal(b.findings, BPV7_F_NO_PRIMARY_CRC);
	free(buf);
}

/* Store the CRC-32C of buf[start..end) (field at value, zeroed) big-endian. */
static void fill_crc32c(uint8_t *buf, size_t start, size_t end, size_t value)
{
	uint32_t crc;

	memset(buf + value, 0, 4);
	crc = crc32c(buf + start, end - start);
	for (int i = 3; i >= 0; i--, crc >>= 8)
		buf[value + (size_t)i] = (uint8_t)crc;
}

static void decode_accepts_indefinite_length_arrays_everywhere(void **state)
{
	/*
	 * RFC 9171 4.1 does not prohibit indefinite-length items: primary block,
	 * EIDs, timestamp, hop count data and canonical blocks all as 0x9f..0xff,
	 * with the CRCs covering each block's closing break.
	 */
	size_t len;
	uint8_t *buf = vector_from_hex("9f"
				       "9f070002"
				       "9f029f0102ffff"
				       "8202820201"
				       "9f02820201ff"
				       "9f1a2b0000001828ff"
				       "1a000f4240"
				       "4400000000"
				       "ff"
				       "9f0a02000244"
				       "9f0500ff"
				       "4400000000"
				       "ff"
				       "9f01010000"
				       "41aa"
				       "ff"
				       "ff",
				       &len);
	struct bpv7_bundle b;
	struct bpv7_error err;
	uint8_t *again = NULL;
	long n;

	/* primary: bytes [1, 43), CRC value at 38; hop count block: [43, 59), at 54 */
	fill_crc32c(buf, 1, 43, 38);
	fill_crc32c(buf, 43, 59, 54);
	if (bpv7_decode(buf, len, 0, &b, &err) != 0)
		fail_msg("%s at %zu", bpv7_error_name(err.code), err.offset);
	assert_int_equal(b.primary.dest.node, 1);
	assert_int_equal(b.primary.report_to.node, 2);
	assert_int_equal(b.primary.sequence, 40);
	assert_int_equal(b.blocks[0].ext.hop.limit, 5);
	assert_int_equal(b.primary_len, 42);
	/* Re-encoded: the primary block as received, the others definite. */
	n = bpv7_encode_alloc(&b, &again);
	assert_true(n > 0);
	assert_memory_equal(again + 1, buf + 1, 42);
	assert_int_equal(bpv7_decode(again, (size_t)n, 0, &b, &err), 0);
	free(again);
	/* A break in the wrong place is refused. */
	buf[len - 2] = 0x00;
	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), -EBADMSG);
	free(buf);
}

static void one_shot_decode_honours_the_size_limit(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len, need = 0;
	uint8_t *buf = vector_must_load("bpv7/rfc9173_A1_final.hex", &len);

	assert_int_equal(bpv7_decode(buf, len, len - 1, &b, &err), -EBADMSG);
	assert_int_equal(err.code, BPV7_E_TOO_LARGE);
	assert_int_equal(bpv7_decode(buf, len, len, &b, &err), 0);
	/* A prefix that ends between blocks still says what it needs next. */
	assert_int_equal(bpv7_decode_prefix(buf, b.primary_len + 1, 0, &b, &need, &err), 0);
	assert_true(need > b.primary_len + 1);
	free(buf);
}

/* Encode, decode, and return the findings (or fail). */
static uint32_t findings_of(const struct bpv7_bundle *b)
{
	struct bpv7_bundle out;
	struct bpv7_error err;
	uint8_t *buf = NULL;
	long n = bpv7_encode_alloc(b, &buf);
	uint32_t f;

	assert_true(n > 0);
	if (bpv7_decode(buf, (size_t)n, 0, &out, &err) != 0)
		fail_msg("decode: %s", bpv7_error_name(err.code));
	f = out.findings;
	free(buf);
	return f;
}

static void decode_records_findings_without_failing(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_block blk = { .type = BPV7_BLOCK_BUNDLE_AGE, .number = 2 };

	build_basic(&b, BPV7_CRC_32C, "x", 1);
	assert_int_equal(findings_of(&b), 0);

	b.primary.flags = BPV7_BPF_ADMIN_RECORD | BPV7_BPF_RPT_DELIVERY;
	assert_int_equal(findings_of(&b), BPV7_F_ADMIN_REPORT_FLAGS);

	b.primary.flags = 0;
	bp_eid_set_none(&b.primary.source);
	assert_int_equal(findings_of(&b), BPV7_F_ANON_FLAGS);
	b.primary.flags = BPV7_BPF_MUST_NOT_FRAGMENT;
	assert_int_equal(findings_of(&b), 0);
	b.blocks[0].flags = BPV7_BLKF_REPORT_IF_UNPROC;
	assert_int_equal(findings_of(&b), BPV7_F_BLOCK_REPORT_FLAG);

	build_basic(&b, BPV7_CRC_16, "x", 1);
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	blk.number = 3;
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(findings_of(&b), BPV7_F_DUP_EXT_BLOCK);

	build_basic(&b, BPV7_CRC_16, "x", 1);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_HOP_COUNT, .number = 2 };
	blk.ext.hop.limit = 0;
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(findings_of(&b), BPV7_F_HOP_LIMIT_RANGE);
	b.blocks[0].ext.hop.limit = 256;
	assert_int_equal(findings_of(&b), BPV7_F_HOP_LIMIT_RANGE);
	b.blocks[0].ext.hop.limit = 255;
	assert_int_equal(findings_of(&b), 0);

	build_basic(&b, BPV7_CRC_16, "xy", 2);
	b.primary.flags = BPV7_BPF_IS_FRAGMENT;
	b.primary.frag_offset = 0;
	b.primary.total_adu_len = 1;
	assert_int_equal(findings_of(&b), BPV7_F_FRAGMENT_RANGE);

	build_basic(&b, BPV7_CRC_16, "x", 1);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_PREV_NODE, .number = 2 };
	bp_eid_set_ipn(&blk.ext.prev_node, 7, 3);
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(findings_of(&b), BPV7_F_PREV_NODE_NOT_NODE_ID);
	b.blocks[0].ext.prev_node.service = 0;
	assert_int_equal(findings_of(&b), 0);

	build_basic(&b, BPV7_CRC_16, "x", 1);
	b.primary.creation_time = 0;
	assert_int_equal(findings_of(&b), BPV7_F_NO_AGE_BLOCK);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_BUNDLE_AGE, .number = 2 };
	assert_int_equal(bpv7_bundle_add_block(&b, &blk), 0);
	assert_int_equal(findings_of(&b), 0);
}

static void decode_flags_noncanonical_cbor(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	size_t len;
	/* Lifetime 1000000 written with an 8-byte head instead of 4. */
	uint8_t *buf = vector_from_hex("9f88070000820282010282028202018202820201821a2b000000"
				       "18281b00000000000f4240" PAYLOAD "ff",
				       &len);

	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), 0);
	assert_true(b.findings & BPV7_F_NONCANONICAL);
	assert_int_equal(b.primary.lifetime, 1000000);
	free(buf);
}

static void decode_checks_crcs_of_both_types(void **state)
{
	for (uint8_t crc = BPV7_CRC_16; crc <= BPV7_CRC_32C; crc++) {
		struct bpv7_bundle b, out;
		struct bpv7_error err;
		uint8_t *buf = NULL;
		long n;

		build_basic(&b, crc, "hello", 5);
		n = bpv7_encode_alloc(&b, &buf);
		assert_true(n > 0);
		assert_int_equal(bpv7_decode(buf, (size_t)n, 0, &out, &err), 0);
		/* Flip each bit of the CRC-covered blocks in turn: every one is caught. */
		for (long i = 1; i < n - 1; i++) {
			for (int bit = 0; bit < 8; bit++) {
				buf[i] ^= (uint8_t)(1u << bit);
				assert_int_not_equal(bpv7_decode(buf, (size_t)n, 0, &out, &err), 0);
				buf[i] ^= (uint8_t)(1u << bit);
			}
		}
		/* The payload's own CRC: change a payload byte only. */
		buf[n - 1 - 1 - (crc == BPV7_CRC_16 ? 2 : 4) - 1 - 1] ^= 0x20;
		assert_int_equal(bpv7_decode(buf, (size_t)n, 0, &out, &err), -EBADMSG);
		assert_int_equal(err.code, BPV7_E_BLOCK_CRC);
		free(buf);
	}
}

static void decode_refuses_hostile_lengths_before_their_bytes(void **state)
{
	static const char *const heads[] = {
		"5a7fffffff",	      /* 2 GiB payload */
		"5bffffffffffffffff", /* 2^64-1: wraps naive length arithmetic */
		"5bfffffffffffffff7",
		"5b0000000100000000",
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		char hex[256];
		struct bpv7_bundle b;
		struct bpv7_error err;
		size_t len, need = 0;
		uint8_t *buf;
		struct bpv7_decoder *d = bpv7_decoder_new(1 << 20);
		size_t used;

		snprintf(hex, sizeof(hex), "9f" PRIMARY "85010100%s", heads[i]);
		buf = vector_from_hex(hex, &len);
		assert_int_equal(bpv7_decode_prefix(buf, len, 1 << 20, &b, &need, &err), -EBADMSG);
		assert_int_equal(err.code, BPV7_E_TOO_LARGE);
		assert_int_equal(bpv7_decoder_feed(d, buf, len, &used), -EBADMSG);
		assert_int_equal(bpv7_decoder_error(d)->code, BPV7_E_TOO_LARGE);
		assert_true(bpv7_decoder_size(d) <= 256); /* nothing was reserved for it */
		bpv7_decoder_free(d);
		free(buf);
	}
}

static void decoder_stops_at_its_size_limit(void **state)
{
	struct bpv7_bundle b;
	uint8_t payload[1000], *buf = NULL;
	struct bpv7_decoder *d;
	size_t used;
	long n;

	memset(payload, 0x5a, sizeof(payload));
	build_basic(&b, BPV7_CRC_32C, payload, sizeof(payload));
	n = bpv7_encode_alloc(&b, &buf);
	assert_true(n > 0);
	d = bpv7_decoder_new((size_t)n - 1);
	assert_int_equal(bpv7_decoder_feed(d, buf, (size_t)n, &used), -EBADMSG);
	assert_int_equal(bpv7_decoder_error(d)->code, BPV7_E_TOO_LARGE);
	bpv7_decoder_free(d);
	d = bpv7_decoder_new((size_t)n);
	assert_int_equal(bpv7_decoder_feed(d, buf, (size_t)n, &used), 1);
	bpv7_decoder_free(d);
	free(buf);
}

static void decode_refuses_more_blocks_than_the_limit(void **state)
{
	struct bpv7_bundle b;
	struct bpv7_error err;
	char *hex = malloc(8192);
	size_t len, off;
	uint8_t *buf;

	off = (size_t)sprintf(hex, "9f" PRIMARY);
	for (int i = 0; i < BPV7_MAX_BLOCKS; i++)
		off += (size_t)sprintf(hex + off, "8518c018%02x000040", 2 + i);
	sprintf(hex + off, PAYLOAD "ff");
	buf = vector_from_hex(hex, &len);
	assert_int_equal(bpv7_decode(buf, len, 0, &b, &err), -EBADMSG);
	assert_int_equal(err.code, BPV7_E_TOO_MANY_BLOCKS);
	free(buf);
	free(hex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_accepts_public_vectors_and_reencodes_byte_exact),
		cmocka_unit_test(decode_reports_rfc9173_example_findings),
		cmocka_unit_test(decode_reads_ion_bundle_fields),
		cmocka_unit_test(decode_rejects_bad_vectors_with_their_rule),
		cmocka_unit_test(decoder_gives_same_result_for_every_chunk_size),
		cmocka_unit_test(decoder_rejects_bad_vectors_in_every_chunk_size),
		cmocka_unit_test(decoder_takes_reads_straight_into_its_buffer),
		cmocka_unit_test(decoder_reserve_stops_at_the_size_limit),
		cmocka_unit_test(decoder_refuses_a_non_bundle_at_its_first_byte),
		cmocka_unit_test(decoder_leaves_bytes_after_the_bundle_to_the_caller),
		cmocka_unit_test(decode_rejects_each_rule_with_its_own_code),
		cmocka_unit_test(decode_accepts_the_crafted_baseline),
		cmocka_unit_test(decode_accepts_indefinite_length_arrays_everywhere),
		cmocka_unit_test(one_shot_decode_honours_the_size_limit),
		cmocka_unit_test(decode_records_findings_without_failing),
		cmocka_unit_test(decode_flags_noncanonical_cbor),
		cmocka_unit_test(decode_checks_crcs_of_both_types),
		cmocka_unit_test(decode_refuses_hostile_lengths_before_their_bytes),
		cmocka_unit_test(decoder_stops_at_its_size_limit),
		cmocka_unit_test(decode_refuses_more_blocks_than_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
