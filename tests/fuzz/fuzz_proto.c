/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the client protocol's message decoder (what bpd reads
 * from every client): whatever decodes must re-encode, field by field, to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[BP_PROTO_MAX_MSG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bp_msg m;
	struct bp_msg_error err;
	struct bp_msg_wr w;
	long n;

	if (bp_msg_decode(data, size, &m, &err) != 0)
		return 0;
	bp_msg_begin(&w, out, sizeof(out), m.type, m.request);
	for (unsigned i = 0; i < m.nfields; i++)
		bp_msg_put_bytes(&w, m.fields[i].tag, m.fields[i].ptr, m.fields[i].len);
	n = bp_msg_end(&w);
	if (n != (long)size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
