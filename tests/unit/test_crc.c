/* SPDX-License-Identifier: MIT */
/*
 * Tests for crc: the published check values and iSCSI examples, every
 * implementation against an independent bit-at-a-time CRC, the hardware path
 * against the software one at every length and alignment that reaches its
 * separate code paths, and incremental updates against one-shot ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc.h"

#define CRC16_X25_POLY_REFLECTED 0x8408u
#define CRC32C_POLY_REFLECTED 0x82f63b78u

/* Longer than every lane and block size crc.c uses, and not a multiple. */
#define LARGE_LEN ((size_t)1 << 20)

static const char check_input[] = "123456789";

/* splitmix64: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint8_t *random_buffer(size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng_next(&seed);
	return buf;
}

/* The CRCs as RFC 9171 4.2.1 defines them, one bit at a time. */
static uint16_t ref_crc16_x25_update(uint16_t reg, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		reg ^= p[i];
		for (int k = 0; k < 8; k++)
			reg = (reg & 1) ? (reg >> 1) ^ CRC16_X25_POLY_REFLECTED : reg >> 1;
	}
	return reg;
}

static uint32_t ref_crc32c_update(uint32_t reg, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		reg ^= p[i];
		for (int k = 0; k < 8; k++)
			reg = (reg & 1) ? (reg >> 1) ^ CRC32C_POLY_REFLECTED : reg >> 1;
	}
	return reg;
}

static void crc16_x25_check_value_is_906e(void **state)
{
	(void)state;
	assert_int_equal(crc16_x25(check_input, 9), 0x906e);
	assert_int_equal(crc16_x25_update(CRC16_X25_INIT, check_input, 9) ^ CRC16_X25_XOROUT,
			 0x906e);
}

static void crc32c_check_value_is_e3069283_in_every_implementation(void **state)
{
	(void)state;
	assert_int_equal(crc32c(check_input, 9), 0xe3069283u);
	assert_int_equal(crc32c_update(CRC32C_INIT, check_input, 9) ^ CRC32C_XOROUT, 0xe3069283u);
	assert_int_equal(crc32c_update_sw(CRC32C_INIT, check_input, 9) ^ CRC32C_XOROUT,
			 0xe3069283u);
	assert_int_equal(crc32c_update_hw(CRC32C_INIT, check_input, 9) ^ CRC32C_XOROUT,
			 0xe3069283u);
}

/*
 * RFC 7143 Appendix A.4 (RFC 3720 B.4) lists each CRC as the four bytes sent
 * on the wire, least significant first: "aa 36 91 8a" is 0x8a9136aa.
 */
static void crc32c_matches_rfc7143_iscsi_examples(void **state)
{
	/* The order of buf[] below. */
	static const uint32_t want[] = {
		0x8a9136aau, /* 32 bytes of zeros */
		0x62a8ab43u, /* 32 bytes of 0xff */
		0x46dd794eu, /* 32 bytes counting up from 0 */
		0x113fdb5cu, /* 32 bytes counting down from 31 */
	};
	uint8_t buf[4][32];

	(void)state;
	for (int i = 0; i < 32; i++) {
		buf[0][i] = 0x00;
		buf[1][i] = 0xff;
		buf[2][i] = (uint8_t)i;
		buf[3][i] = (uint8_t)(31 - i);
	}
	for (int v = 0; v < 4; v++) {
		uint32_t sw = crc32c_update_sw(CRC32C_INIT, buf[v], 32);
		uint32_t hw = crc32c_update_hw(CRC32C_INIT, buf[v], 32);

		assert_int_equal(sw ^ CRC32C_XOROUT, want[v]);
		assert_int_equal(hw ^ CRC32C_XOROUT, want[v]);
		assert_int_equal(crc32c(buf[v], 32), want[v]);
	}
}

static void empty_input_leaves_register_unchanged(void **state)
{
	(void)state;
	assert_int_equal(crc16_x25_update(0x1234, NULL, 0), 0x1234);
	assert_int_equal(crc32c_update_sw(0xdeadbeefu, NULL, 0), 0xdeadbeefu);
	assert_int_equal(crc32c_update_hw(0xdeadbeefu, NULL, 0), 0xdeadbeefu);
	assert_int_equal(crc32c_update(0xdeadbeefu, NULL, 0), 0xdeadbeefu);
	assert_int_equal(crc16_x25(NULL, 0), 0);
	assert_int_equal(crc32c(NULL, 0), 0);
}

/* Every length reaches a different tail path; 2 MiB of random bytes in all
 * reach every table entry. */
static void crc16_x25_matches_bitwise_reference_at_every_length(void **state)
{
	uint8_t *buf = random_buffer(2048 + 16, 1);
	uint64_t seed = 2;

	(void)state;
	for (size_t len = 0; len <= 2048; len++) {
		const uint8_t *p = buf + len % 16;
		uint16_t reg = (uint16_t)rng_next(&seed);

		assert_int_equal(crc16_x25_update(reg, p, len), ref_crc16_x25_update(reg, p, len));
	}
	free(buf);
}

static void crc32c_sw_matches_bitwise_reference_at_every_length(void **state)
{
	uint8_t *buf = random_buffer(2048 + 16, 3);
	uint64_t seed = 4;

	(void)state;
	for (size_t len = 0; len <= 2048; len++) {
		const uint8_t *p = buf + len % 16;
		uint32_t reg = (uint32_t)rng_next(&seed);

		assert_int_equal(crc32c_update_sw(reg, p, len), ref_crc32c_update(reg, p, len));
	}
	free(buf);
}

static void note_if_no_crc32c_instruction(void)
{
	if (!crc32c_hw_available())
		print_message("note: this CPU has no CRC-32C instruction; "
			      "crc32c_update_hw runs the software fallback\n");
}

static void crc32c_hw_matches_sw_on_random_buffers(void **state)
{
	uint8_t *buf = random_buffer(2048 + 16, 5);
	uint64_t seed = 6;

	(void)state;
	note_if_no_crc32c_instruction();
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; len <= 2048; len++) {
			uint32_t reg = (uint32_t)rng_next(&seed);

			assert_int_equal(crc32c_update_hw(reg, buf + off, len),
					 crc32c_update_sw(reg, buf + off, len));
		}
	}
	free(buf);
}

/* Sizes around the three-lane block edges of crc.c and odd large ones. */
static void crc32c_hw_matches_sw_on_large_buffers(void **state)
{
	static const size_t lens[] = {
		383,   384,    385,	      767,	  6143,
		6144,  6145,   6144 + 384,    6144 + 383, 3 * 6144 + 384 + 15,
		65535, 100003, LARGE_LEN - 1, LARGE_LEN,
	};
	uint8_t *buf = random_buffer(LARGE_LEN + 16, 7);

	(void)state;
	note_if_no_crc32c_instruction();
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t off = 0; off < 16; off += 5) {
			const uint8_t *p = buf + off;

			assert_int_equal(crc32c_update_hw(CRC32C_INIT, p, lens[i]),
					 crc32c_update_sw(CRC32C_INIT, p, lens[i]));
		}
	}
	free(buf);
}

static void sw_crcs_match_bitwise_reference_on_a_large_buffer(void **state)
{
	uint8_t *buf = random_buffer(LARGE_LEN + 3, 10);

	(void)state;
	assert_int_equal(crc32c_update_sw(CRC32C_INIT, buf + 3, LARGE_LEN),
			 ref_crc32c_update(CRC32C_INIT, buf + 3, LARGE_LEN));
	assert_int_equal(crc16_x25_update(CRC16_X25_INIT, buf + 1, LARGE_LEN),
			 ref_crc16_x25_update(CRC16_X25_INIT, buf + 1, LARGE_LEN));
	free(buf);
}

/* Up to eight cut points per round, sorted, anywhere in the buffer. */
static size_t random_cuts(uint64_t *seed, size_t len, size_t cuts[10])
{
	size_t n = 1 + rng_next(seed) % 8;

	cuts[0] = 0;
	for (size_t i = 1; i <= n; i++)
		cuts[i] = rng_next(seed) % (len + 1);
	cuts[n + 1] = len;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = i; j > 0 && cuts[j] < cuts[j - 1]; j--) {
			size_t t = cuts[j];

			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
	}
	return n + 2;
}

static void updates_split_at_random_points_equal_one_shot(void **state)
{
	const size_t len = 3 * 6144 + 1000;
	uint8_t *buf = random_buffer(len, 8);
	uint64_t seed = 9;
	uint16_t want16 = crc16_x25(buf, len);
	uint32_t want32 = crc32c_update_sw(CRC32C_INIT, buf, len) ^ CRC32C_XOROUT;

	(void)state;
	assert_int_equal(crc32c(buf, len), want32);
	for (int round = 0; round < 300; round++) {
		size_t cuts[10];
		size_t n = random_cuts(&seed, len, cuts);
		uint16_t r16 = CRC16_X25_INIT;
		uint32_t sw = CRC32C_INIT, hw = CRC32C_INIT, any = CRC32C_INIT;

		for (size_t i = 0; i + 1 < n; i++) {
			const uint8_t *p = buf + cuts[i];
			size_t piece = cuts[i + 1] - cuts[i];

			r16 = crc16_x25_update(r16, p, piece);
			sw = crc32c_update_sw(sw, p, piece);
			hw = crc32c_update_hw(hw, p, piece);
			any = crc32c_update(any, p, piece);
		}
		assert_int_equal(r16 ^ CRC16_X25_XOROUT, want16);
		assert_int_equal(sw ^ CRC32C_XOROUT, want32);
		assert_int_equal(hw ^ CRC32C_XOROUT, want32);
		assert_int_equal(any ^ CRC32C_XOROUT, want32);
	}
	free(buf);
}

/*
 * The use crc.h is shaped for (RFC 9171 4.3.1): the CRC of a block whose CRC
 * field is zeros, fed as the block's bytes and then the zeros separately.
 */
static void zeros_fed_after_block_equal_zeroed_field(void **state)
{
	uint8_t block[64 + 4];
	static const uint8_t zeros[4];
	uint32_t r;
	uint16_t r16;

	(void)state;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7 + 1);
	memset(block + 64, 0, 4);
	r = crc32c_update(CRC32C_INIT, block, 64);
	r = crc32c_update(r, zeros, 4);
	assert_int_equal(r ^ CRC32C_XOROUT, crc32c(block, sizeof(block)));
	r16 = crc16_x25_update(CRC16_X25_INIT, block, 64);
	r16 = crc16_x25_update(r16, zeros, 2);
	assert_int_equal(r16 ^ CRC16_X25_XOROUT, crc16_x25(block, 66));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc16_x25_check_value_is_906e),
		cmocka_unit_test(crc32c_check_value_is_e3069283_in_every_implementation),
		cmocka_unit_test(crc32c_matches_rfc7143_iscsi_examples),
		cmocka_unit_test(empty_input_leaves_register_unchanged),
		cmocka_unit_test(crc16_x25_matches_bitwise_reference_at_every_length),
		cmocka_unit_test(crc32c_sw_matches_bitwise_reference_at_every_length),
		cmocka_unit_test(crc32c_hw_matches_sw_on_random_buffers),
		cmocka_unit_test(crc32c_hw_matches_sw_on_large_buffers),
		cmocka_unit_test(sw_crcs_match_bitwise_reference_on_a_large_buffer),
		cmocka_unit_test(updates_split_at_random_points_equal_one_shot),
		cmocka_unit_test(zeros_fed_after_block_equal_zeroed_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
