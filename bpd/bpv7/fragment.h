/* SPDX-License-Identifier: MIT */
/*
 * Fragmentation (RFC 9171 5.8) and reassembly (5.9).
 *
 * Fragments made here point into the original bundle's payload; nothing is
 * copied until they are encoded. Reassembly encodes the original bundle
 * anew: for a bundle in deterministic encoding the result is byte-exact.
 */
#ifndef BPV7_FRAGMENT_H
#define BPV7_FRAGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

/*
 * Split b into n fragments whose payloads are sizes[0..n) bytes long, in
 * order, adding up to b's payload length (each > 0). The first fragment
 * keeps every block; the others keep the payload, the blocks flagged
 * "replicate in every fragment", and the previous node, bundle age and hop
 * count blocks (each fragment travels as a bundle of its own). A fragment of a fragment stays relative to
 * the original ADU. Returns 0, -EPERM when b's "must not be fragmented" flag is
 * set, -EINVAL for sizes that do not add up. ret_frags must hold n bundles.
 */
int bpv7_fragment(const struct bpv7_bundle *b, const size_t *sizes, size_t n,
		  struct bpv7_bundle *ret_frags);

/*
 * Payload sizes for fragments whose encoded size stays within max_size:
 * writes up to max_n sizes, returns how many fragments are needed (more than
 * max_n means sizes is incomplete), -EMSGSIZE when even a 1-byte payload
 * would not fit, -EPERM when b must not be fragmented.
 */
long bpv7_fragment_plan(const struct bpv7_bundle *b, size_t max_size, size_t *sizes, size_t max_n);

/*
 * Reassemble the original bundle from fragments of one ADU given in any
 * order (overlaps allowed). On success *ret_buf (malloc'd, caller frees)
 * holds the encoded original and the length is returned. -EAGAIN when the
 * fragments do not yet cover the whole ADU, -EINVAL when they are not all
 * fragments of the same ADU (source, creation timestamp, total length).
 */
long bpv7_reassemble(const struct bpv7_bundle *frags, size_t n, uint8_t **ret_buf);

#endif
