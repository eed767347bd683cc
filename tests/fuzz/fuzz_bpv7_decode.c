/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the BPv7 decoder: the one-shot decoder, the
 * incremental decoder fed in several chunk sizes (all must agree), and
 * for every accepted bundle a re-encode whose decoding must give the same
 * bytes again. Also runs the admin-record decoder on accepted payloads and
 * the unknown-block policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "bundle.h"
#include "decode.h"
#include "encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencode(const struct bpv7_bundle *b)
{
	struct bpv7_bundle again, third;
	struct bpv7_error err;
	uint8_t *buf = NULL, *buf2 = NULL;
	long n = bpv7_encode_alloc(b, &buf), n2;

	if (n < 0)
		abort(); /* whatever decodes must encode */
	if (bpv7_decode(buf, (size_t)n, (size_t)n, &again, &err) != 0)
		abort();
	n2 = bpv7_encode_alloc(&again, &buf2);
	if (n2 != n || memcmp(buf, buf2, (size_t)n) != 0)
		abort();
	(void)bpv7_decode(buf2, (size_t)n2, 0, &third, &err);
	free(buf2);
	free(buf);
}

static void check_admin(const struct bpv7_bundle *b)
{
	const struct bpv7_block *payload = bpv7_bundle_payload_const(b);
	struct bpv7_status_report report;
	uint64_t type;
	const char *why;

	(void)bpv7_admin_decode(payload->data, payload->data_len, &type, &report, &why);
}

/* Feed data in `chunk`-byte pieces; returns the result and the bytes taken. */
static int feed_chunked(const uint8_t *data, size_t size, size_t chunk, size_t *ret_total)
{
	struct bpv7_decoder *d = bpv7_decoder_new(1 << 20);
	size_t off = 0, used;
	int r = 0;

	*ret_total = 0;
	if (!d)
		abort();
	while (off < size && r == 0) {
		size_t n = size - off < chunk ? size - off : chunk;

		r = bpv7_decoder_feed(d, data + off, n, &used);
		*ret_total += used;
		off += n;
	}
	bpv7_decoder_free(d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = { 1, 7, 4096 };
	struct bpv7_bundle b;
	struct bpv7_error err;
	bool report;
	int one = bpv7_decode(data, size, 1 << 20, &b, &err);

	if (one == 0) {
		check_reencode(&b);
		check_admin(&b);
		(void)bpv7_bundle_apply_unknown_blocks(&b, &report);
		if (bpv7_encoded_size(&b) < 0)
			abort();
	}
	/* Chunking never changes the verdict (RFC 9171 bundles arrive in pieces). */
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		size_t total;
		int inc = feed_chunked(data, size, chunks[i], &total);

		if (one == 0 && (inc != 1 || total != size))
			abort();
		if (inc == 1 && total == size && one != 0)
			abort();
	}
	return 0;
}
