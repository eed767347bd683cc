/* SPDX-License-Identifier: MIT */
/*
 * The two CRCs of RFC 9171 4.2.1: CRC-16/X-25 and CRC-32C (Castagnoli).
 *
 * Both are exposed as running registers so a block's CRC can be computed over
 * the block's bytes followed by zeros standing in for the CRC field
 * (RFC 9171 4.3.1, 4.3.2) without copying the block:
 *
 *	uint32_t r = crc32c_update(CRC32C_INIT, block, n);
 *	r = crc32c_update(r, zeros, 4);
 *	uint32_t crc = r ^ CRC32C_XOROUT;
 *
 * crc32c_update uses the CPU's CRC-32C instruction when there is one
 * (SSE 4.2 on x86-64, the CRC extension on AArch64) and a table-driven
 * software version otherwise; both are exposed for testing and benchmarks.
 */
#ifndef BPV7_CRC_H
#define BPV7_CRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRC16_X25_INIT 0xffffu
#define CRC16_X25_XOROUT 0xffffu
#define CRC32C_INIT 0xffffffffu
#define CRC32C_XOROUT 0xffffffffu

uint16_t crc16_x25_update(uint16_t reg, const void *buf, size_t len);
uint32_t crc32c_update(uint32_t reg, const void *buf, size_t len);
uint32_t crc32c_update_sw(uint32_t reg, const void *buf, size_t len);
/* The CPU instruction; the same result through software when !crc32c_hw_available(). */
uint32_t crc32c_update_hw(uint32_t reg, const void *buf, size_t len);
bool crc32c_hw_available(void);

/* One-shot forms: the finished CRC of buf. */
uint16_t crc16_x25(const void *buf, size_t len);
uint32_t crc32c(const void *buf, size_t len);

#endif
