/* SPDX-License-Identifier: MIT */
/* Numbers in config lines and admin commands. */
#ifndef BPD_PARSE_H
#define BPD_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* The whole of s is a decimal number of 64 bits: no sign, blank or suffix. */
bool parse_u64(const char *s, uint64_t *ret);

#endif
