/* SPDX-License-Identifier: MIT */
/* Test helpers: load hex vectors from tests/vectors (BPSOCK_VECTORS). */
#ifndef TEST_VECTORS_H
#define TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read a file of hex digits (whitespace ignored) below BPSOCK_VECTORS, e.g.
 * "bpv7/rfc9173_A1_final.hex". Returns a malloc'd buffer (caller frees) and
 * its length, or NULL when the file is missing or not hex.
 */
uint8_t *vector_load(const char *relpath, size_t *ret_len);

/* Decode hex text into a malloc'd buffer; NULL on bad hex. */
uint8_t *vector_from_hex(const char *hex, size_t *ret_len);

#endif
