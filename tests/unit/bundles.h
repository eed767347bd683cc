/* SPDX-License-Identifier: MIT */
/* Test helpers shared by the codec tests (decode, encode, bundle, fragment). */
#ifndef TEST_BUNDLES_H
#define TEST_BUNDLES_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

/* Hex pieces for crafted bundles: no CRCs, so the bytes stay readable. */
/* Hex bundle pieces for crafted cases: no CRCs, so the bytes stay readable. */
/* ipn:2.1 -> ipn:1.2, created 0x2b000000 ms, sequence 40, lifetime 1000 s. */
#define PRIMARY "88070000820282010282028202018202820201821a2b00000018281a000f4240"
#define PAYLOAD "850101000041aa"
#define AGE                                                                                        \
	"850702000041"                                                                             \
	"00"

/* Load a vector below tests/vectors, or fail the test. Caller frees. */
uint8_t *vector_must_load(const char *file, size_t *len);
/* Encode b; the bytes (and bpv7_encoded_size) must equal want. */
void assert_encodes_to(const struct bpv7_bundle *b, const uint8_t *want, size_t len);
/* ipn:1.1 -> ipn:2.1 with a clock, one payload block; CRC type crc everywhere. */
void build_basic(struct bpv7_bundle *b, uint8_t crc, const void *payload, size_t len);

#endif
