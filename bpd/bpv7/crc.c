/* SPDX-License-Identifier: MIT */
/*
 * CRC-16/X-25 and CRC-32C for RFC 9171 4.2.1.
 *
 * Software: slicing-by-8 (eight bytes per step through eight 256-entry
 * tables, one per byte position), for both CRCs.
 *
 * Hardware (CRC-32C only): x86-64 SSE 4.2 and the AArch64 CRC extension have
 * an instruction that folds eight bytes into a CRC-32C register. Its latency
 * is about three times its issue interval, so one dependency chain runs at a
 * third of the unit's speed. Long buffers are therefore cut into blocks of
 * three equal lanes, each lane gets its own register, and the three partial
 * CRCs are joined at the end of the block with a zero-extension operator (see
 * crc32c_hw_3way); this is the scheme of Intel's "Fast CRC Computation for
 * iSCSI Polynomial Using CRC32 Instruction" (Gopal et al., 2011).
 *
 * Every table is a compile-time constant, so there is nothing to initialise
 * and nothing to race on; the only run-time state is the cached CPU probe.
 */
#include "crc.h"

#include <stdatomic.h>
#include <string.h>

/*
 * Both CRCs are reflected: bit 0 of the register holds the coefficient of the
 * highest power of x, and bytes enter low bit first, as ITU-T X.25 and
 * RFC 4960 Appendix B (the references of RFC 9171 4.2.1) define them. The
 * register update is linear over GF(2) in the register and the data, which
 * the tables and the lane joining rely on.
 *
 * A table maps one byte of the register, at bits 8j..8j+7, to what the
 * register holds after n more bytes of zeros have been fed in. By linearity,
 * entry i is the XOR of the images of the set bits of i, so each table is
 * fully described by eight constants, the images of bits 0..7. The image of
 * register bit b (the coefficient of x^(W-1-b), W the register width) after n
 * zero bytes is x^(W-1-b+8n) mod P(x), in the same reflected bit order. The
 * constants below were computed once with a bit-at-a-time loop and are
 * checked by tests/unit/test_crc.c against a bitwise CRC.
 */
#define CRC_BIT(i, t, v) ((((i) >> (t)) & 1) ? (v) : 0)
#define CRC_ENTRY_(i, v0, v1, v2, v3, v4, v5, v6, v7)                                              \
	(CRC_BIT(i, 0, v0) ^ CRC_BIT(i, 1, v1) ^ CRC_BIT(i, 2, v2) ^ CRC_BIT(i, 3, v3) ^           \
	 CRC_BIT(i, 4, v4) ^ CRC_BIT(i, 5, v5) ^ CRC_BIT(i, 6, v6) ^ CRC_BIT(i, 7, v7))
#define CRC_ENTRY(i, ...) CRC_ENTRY_(i, __VA_ARGS__)
#define CRC_ROW4(i, ...)                                                                           \
	CRC_ENTRY(i, __VA_ARGS__), CRC_ENTRY(i + 1, __VA_ARGS__), CRC_ENTRY(i + 2, __VA_ARGS__),   \
		CRC_ENTRY(i + 3, __VA_ARGS__)
#define CRC_ROW16(i, ...)                                                                          \
	CRC_ROW4(i, __VA_ARGS__), CRC_ROW4(i + 4, __VA_ARGS__), CRC_ROW4(i + 8, __VA_ARGS__),      \
		CRC_ROW4(i + 12, __VA_ARGS__)
#define CRC_ROW64(i, ...)                                                                          \
	CRC_ROW16(i, __VA_ARGS__), CRC_ROW16(i + 16, __VA_ARGS__), CRC_ROW16(i + 32, __VA_ARGS__), \
		CRC_ROW16(i + 48, __VA_ARGS__)
/* The 256 entries of the table whose eight bit images are the arguments. */
#define CRC_TABLE(...)                                                                             \
	{                                                                                          \
		CRC_ROW64(0, __VA_ARGS__), CRC_ROW64(64, __VA_ARGS__),                             \
			CRC_ROW64(128, __VA_ARGS__), CRC_ROW64(192, __VA_ARGS__)                   \
	}

/* Little-endian loads: both CRCs take the first byte in the low bits. */
static inline uint64_t load64le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/*
 * CRC-16/X-25: P(x) = x^16 + x^12 + x^5 + 1, reflected 0x8408
 * (RFC 9171 4.2.1; ITU-T X.25 2.2.7.4). CRC16_FEEDn: bits 0..7 of the
 * register after n zero bytes, i.e. x^(15-t+8n) mod P for t = 0..7.
 */
#define CRC16_FEED1 0x1189, 0x2312, 0x4624, 0x8c48, 0x1081, 0x2102, 0x4204, 0x8408
#define CRC16_FEED2 0x19d8, 0x33b0, 0x6760, 0xcec0, 0x9591, 0x2333, 0x4666, 0x8ccc
#define CRC16_FEED3 0x5adc, 0xb5b8, 0x6361, 0xc6c2, 0x8595, 0x033b, 0x0676, 0x0cec
#define CRC16_FEED4 0x1cbb, 0x3976, 0x72ec, 0xe5d8, 0xc3a1, 0x8f53, 0x16b7, 0x2d6e
#define CRC16_FEED5 0x0b44, 0x1688, 0x2d10, 0x5a20, 0xb440, 0x6091, 0xc122, 0x8a55
#define CRC16_FEED6 0x042b, 0x0856, 0x10ac, 0x2158, 0x42b0, 0x8560, 0x02d1, 0x05a2
#define CRC16_FEED7 0x9fd5, 0x37bb, 0x6f76, 0xdeec, 0xb5c9, 0x6383, 0xc706, 0x861d
#define CRC16_FEED8 0x81bf, 0x0b6f, 0x16de, 0x2dbc, 0x5b78, 0xb6f0, 0x65f1, 0xcbe2

/* crc16_tab[k] feeds a byte through k + 1 bytes of the register. */
static const uint16_t crc16_tab[8][256] = {
	CRC_TABLE(CRC16_FEED1), CRC_TABLE(CRC16_FEED2), CRC_TABLE(CRC16_FEED3),
	CRC_TABLE(CRC16_FEED4), CRC_TABLE(CRC16_FEED5), CRC_TABLE(CRC16_FEED6),
	CRC_TABLE(CRC16_FEED7), CRC_TABLE(CRC16_FEED8),
};

/* Feeds the eight bytes of w (first byte lowest) into reg. */
static inline uint32_t crc16_slice8(uint32_t reg, uint64_t w)
{
	w ^= reg;
	return crc16_tab[7][w & 0xff] ^ crc16_tab[6][w >> 8 & 0xff] ^ crc16_tab[5][w >> 16 & 0xff] ^
	       crc16_tab[4][w >> 24 & 0xff] ^ crc16_tab[3][w >> 32 & 0xff] ^
	       crc16_tab[2][w >> 40 & 0xff] ^ crc16_tab[1][w >> 48 & 0xff] ^ crc16_tab[0][w >> 56];
}

uint16_t crc16_x25_update(uint16_t reg, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t r = reg;

	for (; len >= 8; p += 8, len -= 8)
		r = crc16_slice8(r, load64le(p));
	for (; len > 0; p++, len--)
		r = r >> 8 ^ crc16_tab[0][(r ^ *p) & 0xff];
	return (uint16_t)r;
}

uint16_t crc16_x25(const void *buf, size_t len)
{
	return crc16_x25_update(CRC16_X25_INIT, buf, len) ^ CRC16_X25_XOROUT;
}

/*
 * CRC-32C: Castagnoli's polynomial 0x1edc6f41, reflected 0x82f63b78
 * (RFC 9171 4.2.1; RFC 4960 Appendix B; the iSCSI digest of RFC 3720 and
 * RFC 7143, whose Appendix A.4 gives examples). CRC32C_FEEDn: bits 0..7 of
 * the register after n zero bytes, i.e. x^(31-t+8n) mod P for t = 0..7.
 */
/* clang-format off */
#define CRC32C_FEED1 \
	0xf26b8303, 0xe13b70f7, 0xc79a971f, 0x8ad958cf, \
	0x105ec76f, 0x20bd8ede, 0x417b1dbc, 0x82f63b78
#define CRC32C_FEED2 \
	0x13a29877, 0x274530ee, 0x4e8a61dc, 0x9d14c3b8, \
	0x3fc5f181, 0x7f8be302, 0xff17c604, 0xfbc3faf9
#define CRC32C_FEED3 \
	0xa541927e, 0x4f6f520d, 0x9edea41a, 0x38513ec5, \
	0x70a27d8a, 0xe144fb14, 0xc76580d9, 0x8b277743
#define CRC32C_FEED4 \
	0xdd45aab8, 0xbf672381, 0x7b2231f3, 0xf64463e6, \
	0xe964b13d, 0xd725148b, 0xaba65fe7, 0x52a0c93f
#define CRC32C_FEED5 \
	0x38116fac, 0x7022df58, 0xe045beb0, 0xc5670b91, \
	0x8f2261d3, 0x1ba8b557, 0x37516aae, 0x6ea2d55c
#define CRC32C_FEED6 \
	0xef306b19, 0xdb8ca0c3, 0xb2f53777, 0x6006181f, \
	0xc00c303e, 0x85f4168d, 0x0e045beb, 0x1c08b7d6
#define CRC32C_FEED7 \
	0x68032cc8, 0xd0065990, 0xa5e0c5d1, 0x4e2dfd53, \
	0x9c5bfaa6, 0x3d5b83bd, 0x7ab7077a, 0xf56e0ef4
#define CRC32C_FEED8 \
	0x493c7d27, 0x9278fa4e, 0x211d826d, 0x423b04da, \
	0x847609b4, 0x0d006599, 0x1a00cb32, 0x34019664
/* clang-format on */

/* crc32c_tab[k] feeds a byte through k + 1 bytes of the register. */
static const uint32_t crc32c_tab[8][256] = {
	CRC_TABLE(CRC32C_FEED1), CRC_TABLE(CRC32C_FEED2), CRC_TABLE(CRC32C_FEED3),
	CRC_TABLE(CRC32C_FEED4), CRC_TABLE(CRC32C_FEED5), CRC_TABLE(CRC32C_FEED6),
	CRC_TABLE(CRC32C_FEED7), CRC_TABLE(CRC32C_FEED8),
};

/* Feeds the eight bytes of w (first byte lowest) into reg. */
static inline uint32_t crc32c_slice8(uint32_t reg, uint64_t w)
{
	w ^= reg;
	return crc32c_tab[7][w & 0xff] ^ crc32c_tab[6][w >> 8 & 0xff] ^
	       crc32c_tab[5][w >> 16 & 0xff] ^ crc32c_tab[4][w >> 24 & 0xff] ^
	       crc32c_tab[3][w >> 32 & 0xff] ^ crc32c_tab[2][w >> 40 & 0xff] ^
	       crc32c_tab[1][w >> 48 & 0xff] ^ crc32c_tab[0][w >> 56];
}

uint32_t crc32c_update_sw(uint32_t reg, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (; len >= 8; p += 8, len -= 8)
		reg = crc32c_slice8(reg, load64le(p));
	for (; len > 0; p++, len--)
		reg = reg >> 8 ^ crc32c_tab[0][(reg ^ *p) & 0xff];
	return reg;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HW 1
#define CRC32C_HW_TARGET __attribute__((target("sse4.2")))

static CRC32C_HW_TARGET inline uint32_t crc32c_hw_u8(uint32_t reg, uint8_t b)
{
	return _mm_crc32_u8(reg, b);
}

static CRC32C_HW_TARGET inline uint32_t crc32c_hw_u64(uint32_t reg, uint64_t w)
{
	return (uint32_t)_mm_crc32_u64(reg, w);
}

static bool crc32c_hw_probe(void)
{
	/* Needed when the first call comes from another constructor. */
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}
#elif defined(__aarch64__) && (defined(__ARM_FEATURE_CRC32) || defined(__linux__))
#define CRC32C_HW 1
/*
 * The CRC instructions are optional in ARMv8.0, so unless the whole build
 * targets them (__ARM_FEATURE_CRC32) they are enabled for these functions
 * only and used after the kernel's HWCAP says they exist. clang's
 * <arm_acle.h> declares the ACLE intrinsics only for +crc builds; its
 * builtins have no such guard.
 */
#if defined(__clang__)
#define CRC32C_HW_TARGET __attribute__((target("crc")))
#define CRC32C_HW_U8 __builtin_arm_crc32cb
#define CRC32C_HW_U64 __builtin_arm_crc32cd
#else
#include <arm_acle.h>
#define CRC32C_HW_TARGET __attribute__((target("+crc")))
#define CRC32C_HW_U8 __crc32cb
#define CRC32C_HW_U64 __crc32cd
#endif

static CRC32C_HW_TARGET inline uint32_t crc32c_hw_u8(uint32_t reg, uint8_t b)
{
	return CRC32C_HW_U8(reg, b);
}

static CRC32C_HW_TARGET inline uint32_t crc32c_hw_u64(uint32_t reg, uint64_t w)
{
	return CRC32C_HW_U64(reg, w);
}

#if defined(__ARM_FEATURE_CRC32)
static bool crc32c_hw_probe(void)
{
	return true;
}
#else
#include <sys/auxv.h>

static bool crc32c_hw_probe(void)
{
	return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#endif
#else
#define CRC32C_HW 0
#endif

#if CRC32C_HW
/*
 * Lane lengths for the three-lane blocks, in bytes (multiples of 8). Long
 * lanes make the cost of joining negligible on big buffers; short lanes let
 * buffers of a few hundred bytes use all three lanes too. Below
 * 3 * CRC32C_LANE_SHORT bytes a single chain is used. 2048/128 measured best
 * over 0.5-8 KiB buffers among 64..256 x 2048..4096 on an AMD Zen 5.
 */
#define CRC32C_LANE_LONG 2048
#define CRC32C_LANE_SHORT 128

/*
 * crc32c_zeros_long/_short: the four bytes of the register after
 * CRC32C_LANE_LONG/_SHORT zero bytes. CRC32C_ZEROSn_j: images of register
 * bits 8j..8j+7 after n zero bytes, x^(31-8j-t+8n) mod P for t = 0..7.
 */
/* clang-format off */
#define CRC32C_ZEROS128_0 \
	0x6992cea2, 0xd3259d44, 0xa3a74c79, 0x42a2ee03, \
	0x8545dc06, 0x0f67cefd, 0x1ecf9dfa, 0x3d9f3bf4
#define CRC32C_ZEROS128_1 \
	0x7b3e77e8, 0xf67cefd0, 0xe915a951, 0xd7c72453, \
	0xaa623e57, 0x51280a5f, 0xa25014be, 0x414c5f8d
#define CRC32C_ZEROS128_2 \
	0x8298bf1a, 0x00dd08c5, 0x01ba118a, 0x03742314, \
	0x06e84628, 0x0dd08c50, 0x1ba118a0, 0x37423140
#define CRC32C_ZEROS128_3 \
	0x6e846280, 0xdd08c500, 0xbffdfcf1, 0x7a178f13, \
	0xf42f1e26, 0xedb24abd, 0xde88e38b, 0xb8fdb1e7
#define CRC32C_ZEROS2048_0 \
	0xf7506984, 0xeb4ca5f9, 0xd3753d03, 0xa3060cf7, \
	0x43e06f1f, 0x87c0de3e, 0x0a6dca8d, 0x14db951a
#define CRC32C_ZEROS2048_1 \
	0x29b72a34, 0x536e5468, 0xa6dca8d0, 0x48552751, \
	0x90aa4ea2, 0x24b8ebb5, 0x4971d76a, 0x92e3aed4
#define CRC32C_ZEROS2048_2 \
	0x202b2b59, 0x405656b2, 0x80acad64, 0x04b52c39, \
	0x096a5872, 0x12d4b0e4, 0x25a961c8, 0x4b52c390
#define CRC32C_ZEROS2048_3 \
	0x96a58720, 0x28a778b1, 0x514ef162, 0xa29de2c4, \
	0x40d7b379, 0x81af66f2, 0x06b2bb15, 0x0d65762a
/* clang-format on */

static const uint32_t crc32c_zeros_long[4][256] = {
	CRC_TABLE(CRC32C_ZEROS2048_0),
	CRC_TABLE(CRC32C_ZEROS2048_1),
	CRC_TABLE(CRC32C_ZEROS2048_2),
	CRC_TABLE(CRC32C_ZEROS2048_3),
};

static const uint32_t crc32c_zeros_short[4][256] = {
	CRC_TABLE(CRC32C_ZEROS128_0),
	CRC_TABLE(CRC32C_ZEROS128_1),
	CRC_TABLE(CRC32C_ZEROS128_2),
	CRC_TABLE(CRC32C_ZEROS128_3),
};

/* The register after the zero bytes that zeros[][] was built for. */
static inline uint32_t crc32c_shift(const uint32_t zeros[4][256], uint32_t reg)
{
	return zeros[0][reg & 0xff] ^ zeros[1][reg >> 8 & 0xff] ^ zeros[2][reg >> 16 & 0xff] ^
	       zeros[3][reg >> 24];
}

/*
 * Feeds the 3 * lane bytes at p into reg. Because the update is linear,
 * update(r, A B) = shift(update(r, A), |B|) ^ update(0, B): lanes B and C
 * start from a zero register, independently of A, and are joined by
 * shifting the left part over the right one.
 */
static CRC32C_HW_TARGET inline uint32_t crc32c_hw_3way(uint32_t reg, const uint8_t *p, size_t lane,
						       const uint32_t zeros[4][256])
{
	uint32_t a = reg, b = 0, c = 0;

	for (size_t i = 0; i < lane; i += 8) {
		a = crc32c_hw_u64(a, load64le(p + i));
		b = crc32c_hw_u64(b, load64le(p + lane + i));
		c = crc32c_hw_u64(c, load64le(p + 2 * lane + i));
	}
	return crc32c_shift(zeros, crc32c_shift(zeros, a) ^ b) ^ c;
}

static CRC32C_HW_TARGET uint32_t crc32c_hw(uint32_t reg, const uint8_t *p, size_t len)
{
	/* Aligned words never straddle a cache line. */
	for (; len > 0 && ((uintptr_t)p & 7) != 0; p++, len--)
		reg = crc32c_hw_u8(reg, *p);
	for (; len >= 3 * CRC32C_LANE_LONG; p += 3 * CRC32C_LANE_LONG, len -= 3 * CRC32C_LANE_LONG)
		reg = crc32c_hw_3way(reg, p, CRC32C_LANE_LONG, crc32c_zeros_long);
	for (; len >= 3 * CRC32C_LANE_SHORT;
	     p += 3 * CRC32C_LANE_SHORT, len -= 3 * CRC32C_LANE_SHORT)
		reg = crc32c_hw_3way(reg, p, CRC32C_LANE_SHORT, crc32c_zeros_short);
	for (; len >= 8; p += 8, len -= 8)
		reg = crc32c_hw_u64(reg, load64le(p));
	for (; len > 0; p++, len--)
		reg = crc32c_hw_u8(reg, *p);
	return reg;
}

bool crc32c_hw_available(void)
{
	/* 0: not probed yet. Racing first callers probe twice, harmlessly. */
	static atomic_int state;
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == 0) {
		s = crc32c_hw_probe() ? 2 : 1;
		atomic_store_explicit(&state, s, memory_order_relaxed);
	}
	return s == 2;
}

uint32_t crc32c_update_hw(uint32_t reg, const void *buf, size_t len)
{
	if (!crc32c_hw_available())
		return crc32c_update_sw(reg, buf, len);
	return crc32c_hw(reg, buf, len);
}
#else
bool crc32c_hw_available(void)
{
	return false;
}

uint32_t crc32c_update_hw(uint32_t reg, const void *buf, size_t len)
{
	return crc32c_update_sw(reg, buf, len);
}
#endif

uint32_t crc32c_update(uint32_t reg, const void *buf, size_t len)
{
	return crc32c_update_hw(reg, buf, len);
}

uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_update(CRC32C_INIT, buf, len) ^ CRC32C_XOROUT;
}
