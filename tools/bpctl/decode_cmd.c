/* SPDX-License-Identifier: MIT */
/*
 * bpctl decode: the BPv7 decoder (bpd/bpv7) from the command line, for
 * inspecting bundles. The JSON it prints is what tests and scripts read.
 */
#include "decode_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "bundle.h"
#include "cli.h"
#include "decode.h"
#include "eid.h"
#include "json.h"

/* Payload bytes decode shows unless --full. */
#define PAYLOAD_SHOWN 64

const char decode_cmd_usage[] =
	"usage: bpctl decode [--full] [FILE|-]\n"
	"\n"
	"Decode one BPv7 bundle (RFC 9171) from FILE, or from standard input when FILE\n"
	"is - or missing, and print it as JSON: the primary block, every canonical block\n"
	"with its CRC, the parsed extension blocks, the administrative record if the\n"
	"bundle carries one, and the findings (RFC 9171 rules the bundle breaks without\n"
	"becoming unparseable). Blocks are numbered by \"index\" in wire order from 1;\n"
	"index 0 is the primary block, as in error messages.\n"
	"\n"
	"Input format: input made only of hex digits and whitespace is hex and must\n"
	"have an even number of digits; anything else is the binary bundle. A binary\n"
	"bundle starts with 0x9f (an indefinite-length CBOR array), which is neither a\n"
	"hex digit nor whitespace, so the two cannot be confused. At most 64 MiB of\n"
	"input is read (so a hex bundle can be at most 32 MiB).\n"
	"\n"
	"Options:\n"
	"  --full       show the whole payload (default: its first 64 bytes)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 when the bundle decodes with good CRCs (findings do not change\n"
	"this); 1 when it does not, with one line on standard error:\n"
	"  bpctl: decode: ERROR at offset N (block I): MESSAGE[: DETAIL]\n"
	"2 for usage errors and unreadable files.\n";

struct flag_name {
	uint64_t bit;
	const char *name;
};

/* RFC 9171 4.2.3; names as bpctl encode's options spell them. */
static const struct flag_name bundle_flags[] = {
	{ BPV7_BPF_IS_FRAGMENT, "is_fragment" },
	{ BPV7_BPF_ADMIN_RECORD, "admin_record" },
	{ BPV7_BPF_MUST_NOT_FRAGMENT, "must_not_fragment" },
	{ BPV7_BPF_ACK_REQUESTED, "ack_requested" },
	{ BPV7_BPF_STATUS_TIME, "status_time" },
	{ BPV7_BPF_RPT_RECEPTION, "report_received" },
	{ BPV7_BPF_RPT_FORWARDING, "report_forwarded" },
	{ BPV7_BPF_RPT_DELIVERY, "report_delivered" },
	{ BPV7_BPF_RPT_DELETION, "report_deleted" },
	{ 0, NULL },
};

/* RFC 9171 4.2.4. */
static const struct flag_name block_flags[] = {
	{ BPV7_BLKF_REPLICATE, "replicate" },
	{ BPV7_BLKF_REPORT_IF_UNPROC, "report_if_unprocessable" },
	{ BPV7_BLKF_DELETE_IF_UNPROC, "delete_if_unprocessable" },
	{ BPV7_BLKF_DISCARD_IF_UNPROC, "discard_if_unprocessable" },
	{ 0, NULL },
};

static const char *block_type_name(uint64_t type)
{
	switch (type) {
	case BPV7_BLOCK_PAYLOAD:
		return "payload";
	case BPV7_BLOCK_PREV_NODE:
		return "previous_node";
	case BPV7_BLOCK_BUNDLE_AGE:
		return "bundle_age";
	case BPV7_BLOCK_HOP_COUNT:
		return "hop_count";
	case BPV7_BLOCK_BIB:
		return "bib";
	case BPV7_BLOCK_BCB:
		return "bcb";
	default:
		return "unknown";
	}
}

static void put_flags(struct json_wr *w, uint64_t flags, const struct flag_name *names)
{
	json_member_uint(w, "flags", flags);
	json_key(w, "flags_decoded");
	json_array_begin(w);
	for (; names->name; names++) {
		if (flags & names->bit)
			json_string(w, names->name);
	}
	json_array_end(w);
}

static void put_crc(struct json_wr *w, uint8_t crc_type, uint32_t crc)
{
	char text[16];

	json_member_uint(w, "crc_type", crc_type);
	json_key(w, "crc");
	if (crc_type == BPV7_CRC_16) {
		(void)snprintf(text, sizeof(text), "%04x", (unsigned)(crc & 0xffff));
		json_string(w, text);
	} else if (crc_type == BPV7_CRC_32C) {
		(void)snprintf(text, sizeof(text), "%08x", (unsigned)crc);
		json_string(w, text);
	} else {
		json_null(w);
	}
	/* A bundle that decoded had every CRC it carries checked. */
	json_key(w, "crc_ok");
	if (crc_type == BPV7_CRC_NONE)
		json_null(w);
	else
		json_bool(w, true);
}

static void put_eid(struct json_wr *w, const char *key, const struct bp_eid *eid)
{
	char text[BP_EID_DTN_SSP_MAX + BP_EID_IPN_TEXT_MAX];
	int n = bp_eid_format(eid, text, sizeof(text));

	json_key(w, key);
	if (n < 0) {
		json_null(w);
	} else if ((size_t)n < sizeof(text)) {
		json_string_n(w, text, (size_t)n);
	} else {
		/* Longer than the codec's own limits allow; format it anyway. */
		char *big = malloc((size_t)n + 1);

		if (big && bp_eid_format(eid, big, (size_t)n + 1) == n)
			json_string_n(w, big, (size_t)n);
		else
			json_null(w);
		free(big);
	}
}

/* DTN time as ISO 8601 UTC with milliseconds; 0 (no clock) is null. */
static void put_time_utc(struct json_wr *w, const char *key, uint64_t dtn_ms)
{
	time_t t = (time_t)(dtn_ms / 1000 + CLI_DTN_EPOCH_UNIX_MS / 1000);
	char text[64];
	struct tm tm;
	size_t n;

	json_key(w, key);
	if (dtn_ms == 0 || !gmtime_r(&t, &tm) ||
	    (n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		json_null(w);
		return;
	}
	(void)snprintf(text + n, sizeof(text) - n, ".%03uZ", (unsigned)(dtn_ms % 1000));
	json_string(w, text);
}

static void put_primary(struct json_wr *w, const struct bpv7_bundle *b)
{
	const struct bpv7_primary *p = &b->primary;

	json_key(w, "primary");
	json_object_begin(w);
	json_member_uint(w, "version", 7); /* the decoder accepts no other */
	put_flags(w, p->flags, bundle_flags);
	put_crc(w, p->crc_type, p->crc);
	put_eid(w, "dest", &p->dest);
	put_eid(w, "source", &p->source);
	put_eid(w, "report_to", &p->report_to);
	json_member_uint(w, "creation_time", p->creation_time);
	put_time_utc(w, "creation_time_utc", p->creation_time);
	json_member_uint(w, "sequence", p->sequence);
	json_member_uint(w, "lifetime", p->lifetime);
	if (p->flags & BPV7_BPF_IS_FRAGMENT) {
		json_member_uint(w, "fragment_offset", p->frag_offset);
		json_member_uint(w, "total_adu_length", p->total_adu_len);
	}
	json_member_uint(w, "length", b->primary_len);
	json_object_end(w);
}

static bool is_printable(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	}
	return true;
}

static void put_block(struct json_wr *w, const struct bpv7_block *blk, unsigned index, bool full)
{
	bool payload = blk->type == BPV7_BLOCK_PAYLOAD;
	size_t shown = blk->data_len;

	if (payload && !full && shown > PAYLOAD_SHOWN)
		shown = PAYLOAD_SHOWN;
	json_object_begin(w);
	json_member_uint(w, "index", index);
	json_member_uint(w, "type", blk->type);
	json_member_string(w, "type_name", block_type_name(blk->type));
	json_member_uint(w, "number", blk->number);
	put_flags(w, blk->flags, block_flags);
	put_crc(w, blk->crc_type, blk->crc);
	json_member_uint(w, "data_length", blk->data_len);
	json_key(w, "data_hex");
	json_hex(w, blk->data, shown);
	if (shown < blk->data_len)
		json_member_bool(w, "truncated", true);
	if (payload && is_printable(blk->data, shown)) {
		json_key(w, "data_text");
		json_string_n(w, (const char *)blk->data, shown);
	}
	if (blk->type == BPV7_BLOCK_PREV_NODE) {
		put_eid(w, "previous_node", &blk->ext.prev_node);
	} else if (blk->type == BPV7_BLOCK_BUNDLE_AGE) {
		json_member_uint(w, "age_ms", blk->ext.age_ms);
	} else if (blk->type == BPV7_BLOCK_HOP_COUNT) {
		json_member_uint(w, "hop_limit", blk->ext.hop.limit);
		json_member_uint(w, "hop_count", blk->ext.hop.count);
	}
	json_object_end(w);
}

static void put_status_report(struct json_wr *w, const struct bpv7_status_report *r)
{
	json_key(w, "status");
	json_array_begin(w);
	for (unsigned s = 0; s < BPV7_STATUS_COUNT; s++) {
		json_object_begin(w);
		json_member_string(w, "name", bpv7_status_name((enum bpv7_status)s));
		json_member_bool(w, "asserted", r->status[s].asserted);
		json_key(w, "time");
		if (r->status[s].has_time)
			json_uint(w, r->status[s].time);
		else
			json_null(w);
		json_object_end(w);
	}
	json_array_end(w);
	json_member_uint(w, "reason", r->reason);
	json_member_string(w, "reason_name", bpv7_reason_name(r->reason));
	json_member_string(w, "reason_message", bpv7_reason_message(r->reason));
	put_eid(w, "source", &r->source);
	json_member_uint(w, "creation_time", r->creation_time);
	put_time_utc(w, "creation_time_utc", r->creation_time);
	json_member_uint(w, "sequence", r->sequence);
	json_member_bool(w, "is_fragment", r->is_fragment);
	if (r->is_fragment) {
		json_member_uint(w, "fragment_offset", r->frag_offset);
		json_member_uint(w, "fragment_length", r->frag_len);
	}
}

/* RFC 9171 6.1: the payload of a bundle flagged as an administrative record. */
static void put_admin_record(struct json_wr *w, const struct bpv7_bundle *b)
{
	const struct bpv7_block *payload = bpv7_bundle_payload_const(b);
	struct bpv7_status_report r;
	const char *why = NULL;
	uint64_t type = 0;
	int rc;

	if (!(b->primary.flags & BPV7_BPF_ADMIN_RECORD) || !payload)
		return;
	memset(&r, 0, sizeof(r));
	rc = bpv7_admin_decode(payload->data, payload->data_len, &type, &r, &why);
	json_key(w, "admin_record");
	json_object_begin(w);
	json_member_bool(w, "valid", rc == 0 || rc == -ENOTSUP);
	if (rc == 0 || rc == -ENOTSUP) {
		json_member_uint(w, "type", type);
		json_member_string(w, "type_name", rc == 0 ? "status_report" : "unknown");
		if (rc == 0)
			put_status_report(w, &r);
	} else {
		json_member_string(w, "error", why ? why : strerror(-rc));
	}
	json_object_end(w);
}

static void put_findings(struct json_wr *w, uint32_t findings)
{
	json_key(w, "findings");
	json_array_begin(w);
	for (unsigned i = 0; i < 32; i++) {
		enum bpv7_finding f = (enum bpv7_finding)(1u << i);
		const char *name, *msg;

		if (!(findings & f))
			continue;
		name = bpv7_finding_name(f);
		msg = bpv7_finding_message(f);
		json_object_begin(w);
		json_member_string(w, "name", name ? name : "unknown");
		json_member_string(w, "message", msg ? msg : "unknown finding");
		json_object_end(w);
	}
	json_array_end(w);
}

static int print_bundle(const struct bpv7_bundle *b, bool full)
{
	struct json_wr w;

	json_wr_init(&w, stdout);
	json_object_begin(&w);
	json_key(&w, "bundle");
	json_object_begin(&w);
	put_primary(&w, b);
	json_key(&w, "blocks");
	json_array_begin(&w);
	for (unsigned i = 0; i < b->nblocks; i++)
		put_block(&w, &b->blocks[i], i + 1, full);
	json_array_end(&w);
	put_admin_record(&w, b);
	put_findings(&w, b->findings);
	json_member_uint(&w, "size", b->wire_len);
	json_object_end(&w);
	json_object_end(&w);
	return json_finish(&w);
}

static int decode_error(int rc, const struct bpv7_error *err)
{
	const char *name, *msg;

	if (err->code == BPV7_E_OK)
		return cli_error(BPCTL_EXIT_FAIL, "decode: %s", strerror(rc < 0 ? -rc : EIO));
	name = bpv7_error_name(err->code);
	msg = bpv7_error_message(err->code);
	(void)fprintf(stderr, "bpctl: decode: %s at offset %zu", name ? name : "unknown",
		      err->offset);
	if (err->block >= 0)
		(void)fprintf(stderr, " (block %d)", err->block);
	(void)fprintf(stderr, ": %s", msg ? msg : "decoding failed");
	if (err->detail)
		(void)fprintf(stderr, ": %s", err->detail);
	(void)fputc('\n', stderr);
	return BPCTL_EXIT_FAIL;
}

static int decode_input(const char *path, bool full)
{
	struct bpv7_error err = { .code = BPV7_E_OK, .block = -1 };
	struct bpv7_bundle b;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, status;

	status = cli_read_input("decode", path, &buf, &len);
	if (status != BPCTL_EXIT_OK)
		return status;
	if (len > 0 && cli_looks_like_hex(buf, len)) {
		long n = cli_hex_decode((const char *)buf, len, true, buf);

		if (n < 0) {
			status = cli_error(BPCTL_EXIT_FAIL,
					   "decode: %s: hex input has an odd number of digits",
					   path);
			goto out_free;
		}
		len = (size_t)n;
	}
	rc = bpv7_decode(buf, len, 0, &b, &err);
	if (rc < 0) {
		status = decode_error(rc, &err);
		goto out_free;
	}
	rc = print_bundle(&b, full);
	if (rc < 0)
		status =
			cli_error(BPCTL_EXIT_FAIL, "decode: writing the output: %s", strerror(-rc));
out_free:
	free(buf);
	return status;
}

int decode_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool full = false;
	int c;

	optind = 0; /* GNU getopt: start afresh at argv[1] */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			full = true;
			break;
		case 'h':
			(void)fputs(decode_cmd_usage, stdout);
			return BPCTL_EXIT_OK;
		default:
			return cli_bad_option("decode", argv, c);
		}
	}
	if (argc - optind > 1)
		return cli_error(BPCTL_EXIT_USAGE,
				 "decode: one input at most (see bpctl help decode)");
	return decode_input(optind < argc ? argv[optind] : "-", full);
}
