/* SPDX-License-Identifier: MIT */
/*
 * BPv7 bundle decoding (RFC 9171 4), one-shot or incremental.
 *
 * Both forms check every structural rule while parsing and stop at the first
 * violation with its own bpv7_error_code; rules that leave the bundle
 * parseable are recorded as findings (bpv7_bundle.findings). The size limit
 * is checked against each item's declared length as soon as its head is seen,
 * so a hostile length is refused before any of its bytes arrive and never
 * causes an allocation. Payload bytes are never copied by the parser.
 */
#ifndef BPV7_DECODE_H
#define BPV7_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

/* Default bound on one bundle's encoded size. */
#define BPV7_DEFAULT_MAX_SIZE (64ull << 20)

/*
 * Decode exactly one bundle that fills buf[0..len). The bundle points into
 * buf. Returns 0, or -EBADMSG with *ret_err saying which rule failed
 * (BPV7_E_TRUNCATED when buf ends early, BPV7_E_TRAILING when bytes follow).
 * max_size 0 means BPV7_DEFAULT_MAX_SIZE.
 */
int bpv7_decode(const uint8_t *buf, size_t len, size_t max_size, struct bpv7_bundle *ret,
		struct bpv7_error *ret_err);

/*
 * Decode the bundle at the start of buf, which may be followed by other
 * bytes: returns the bundle's length (> 0), 0 when buf holds only a prefix of
 * a bundle (*ret_need is then the total length known to be needed, a lower
 * bound), or -EBADMSG.
 */
long bpv7_decode_prefix(const uint8_t *buf, size_t len, size_t max_size, struct bpv7_bundle *ret,
			size_t *ret_need, struct bpv7_error *ret_err);

/*
 * Incremental decoder: bytes arrive in any chunking (a convergence layer's
 * reads) and are kept in one buffer that grows with the bytes received,
 * never with a declared length. Parsing resumes where it stopped, one block
 * at a time. When the bundle is complete the decoded bundle points into the
 * decoder's buffer.
 */
struct bpv7_decoder;

struct bpv7_decoder *bpv7_decoder_new(size_t max_size);
void bpv7_decoder_free(struct bpv7_decoder *d);
/* Forget the current bundle (and its bytes) to decode another. */
void bpv7_decoder_reset(struct bpv7_decoder *d);

/*
 * Offer bytes. Returns 1 when a bundle is complete (*ret_used says how many
 * of these bytes it took; the rest belong to whatever follows), 0 when all
 * bytes were taken and more are needed, -EBADMSG on a rule violation
 * (bpv7_decoder_error() says which), -ENOMEM. After 1 or an error, feeding
 * again needs bpv7_decoder_reset().
 */
int bpv7_decoder_feed(struct bpv7_decoder *d, const void *data, size_t len, size_t *ret_used);

/*
 * The same without the copy: reserve room for up to `want` bytes at the end
 * of the decoder's buffer (*ret_room may be less: the size limit), read()
 * into *ret_ptr, then commit the bytes written. commit returns as feed does;
 * bytes past the bundle's end stay unparsed in the buffer (so a caller
 * reserves only what its framing says belongs to this bundle). reserve
 * returns 0, -ENOMEM, or -EINVAL after the decoder finished or failed;
 * commit -EINVAL for more bytes than were reserved.
 */
int bpv7_decoder_reserve(struct bpv7_decoder *d, size_t want, uint8_t **ret_ptr, size_t *ret_room);
int bpv7_decoder_commit(struct bpv7_decoder *d, size_t n, size_t *ret_used);

const struct bpv7_bundle *bpv7_decoder_bundle(const struct bpv7_decoder *d);
struct bpv7_bundle *bpv7_decoder_bundle_mut(struct bpv7_decoder *d);
const struct bpv7_error *bpv7_decoder_error(const struct bpv7_decoder *d);
/* Bytes held so far. */
size_t bpv7_decoder_size(const struct bpv7_decoder *d);

#endif
