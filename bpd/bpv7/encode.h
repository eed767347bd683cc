/* SPDX-License-Identifier: MIT */
/*
 * BPv7 bundle encoding (RFC 9171 4) in deterministic CBOR (RFC 8949 4.2.1).
 *
 * The primary block of a decoded bundle (wire and primary_len set) is
 * copied verbatim, as RFC 9171 4.3.1 requires of a block that never changes;
 * otherwise it is encoded from its fields. Canonical blocks are encoded from their
 * header fields and data (or, for previous node, bundle age and hop count
 * blocks without data, from their parsed value), and every CRC is computed
 * afresh. Decoding a bundle and encoding it again gives the same bytes for
 * any bundle in deterministic encoding.
 */
#ifndef BPV7_ENCODE_H
#define BPV7_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

/* Encoded size of the bundle, or -EINVAL if it cannot be encoded. */
long bpv7_encoded_size(const struct bpv7_bundle *b);

/*
 * Encode into buf. Returns the length written, -ENOSPC when cap is too small
 * (nothing useful written), -EINVAL for a bundle that breaks a rule the
 * encoder will not emit (no payload last, bad CRC type, unknown EID scheme).
 */
long bpv7_encode(const struct bpv7_bundle *b, uint8_t *buf, size_t cap);

/* Encode into a new malloc'd buffer owned by the caller. */
long bpv7_encode_alloc(const struct bpv7_bundle *b, uint8_t **ret_buf);

/*
 * Encode as bpv7_encode_alloc() does, leaving out the payload block's data:
 * the new buffer holds the bytes before the data (*ret_at of them), then the
 * bytes after it, so the bundle is buf[0, at) + the data + buf[at, n). The
 * data is read (for the payload block's CRC), never copied: it may be a
 * read-only mapping of a file whose bytes then go out with sendfile or
 * copy_file_range. Returns n (the bundle's length less the data's), -EINVAL
 * or -ENOMEM.
 */
long bpv7_encode_split_alloc(const struct bpv7_bundle *b, uint8_t **ret_buf, size_t *ret_at);

/* Encode a block's data for a known extension block type from blk->ext. */
long bpv7_ext_encode(const struct bpv7_block *blk, uint8_t *buf, size_t cap);

#endif
