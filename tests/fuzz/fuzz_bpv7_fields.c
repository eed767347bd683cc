/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the codec's other parsers: administrative records
 * (RFC 9171 6.1), EIDs in CBOR (4.2.5.1) and in text (what bpctl and config
 * files hand in). The first byte picks the parser; whatever parses must
 * encode and parse again to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cbuf.h"
#include "eid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_admin(const uint8_t *data, size_t size)
{
	struct bpv7_status_report r, again;
	uint64_t type;
	const char *why;
	uint8_t *buf;
	long n;

	if (bpv7_admin_decode(data, size, &type, &r, &why) != 0)
		return;
	n = bpv7_status_report_encode(&r, NULL, 0);
	if (n < 0)
		abort();
	buf = malloc((size_t)n);
	if (!buf || bpv7_status_report_encode(&r, buf, (size_t)n) != n)
		abort();
	if (bpv7_admin_decode(buf, (size_t)n, &type, &again, &why) != 0 ||
	    again.reason != r.reason || !bp_eid_equal(&again.source, &r.source))
		abort();
	free(buf);
}

static void fuzz_eid_cbor(const uint8_t *data, size_t size)
{
	struct cbuf_rd rd;
	struct cbuf_wr wr;
	struct bp_eid eid, again;
	uint8_t out[BP_EID_DTN_SSP_MAX + 64];

	cbuf_rd_init(&rd, data, size);
	if (bp_eid_decode(&rd, &eid, NULL) != 0)
		return;
	cbuf_wr_init(&wr, out, sizeof(out));
	bp_eid_encode(&wr, &eid);
	if (!cbuf_wr_ok(&wr))
		abort();
	cbuf_rd_init(&rd, out, wr.len);
	if (bp_eid_decode(&rd, &again, NULL) != 0 || !bp_eid_equal(&eid, &again))
		abort();
}

static void fuzz_eid_text(const uint8_t *data, size_t size)
{
	struct bp_eid eid, again;
	char text[BP_EID_DTN_SSP_MAX + 64];
	const char *why;
	int n;

	if (bp_eid_parse((const char *)data, size, &eid, &why) != 0)
		return;
	n = bp_eid_format(&eid, text, sizeof(text));
	if (n < 0 || (size_t)n >= sizeof(text))
		abort();
	if (bp_eid_parse(text, (size_t)n, &again, &why) != 0 || !bp_eid_equal(&eid, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_admin(data + 1, size - 1);
		break;
	case 1:
		fuzz_eid_cbor(data + 1, size - 1);
		break;
	default:
		fuzz_eid_text(data + 1, size - 1);
		break;
	}
	return 0;
}
