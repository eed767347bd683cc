/* SPDX-License-Identifier: MIT */
/*
 * bpctl encode: the BPv7 encoder (bpd/bpv7) from the command line, for
 * crafting bundles in tests. Options are collected first, then built into one
 * bundle, then encoded and written.
 */
#include "encode_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "bundle.h"
#include "cli.h"
#include "eid.h"
#include "encode.h"

const char encode_cmd_usage[] =
	"usage: bpctl encode [OPTIONS]\n"
	"\n"
	"Build one BPv7 bundle (RFC 9171) and write it in binary to standard output\n"
	"(never to a terminal), as one line of lowercase hex with --hex, or to -o FILE.\n"
	"Numbers are decimal or 0x-prefixed hex; times are in milliseconds.\n"
	"\n"
	"Primary block:\n"
	"  --source EID          source (default ipn:1.1)\n"
	"  --dest EID            destination (default ipn:2.1)\n"
	"  --report-to EID       report-to (default: the source)\n"
	"  --flags N             bundle processing flags, ORed with those below\n"
	"  --must-not-fragment   set \"bundle must not be fragmented\"\n"
	"  --ack-requested       set \"acknowledgement by application requested\"\n"
	"  --status-time         set \"status time requested in reports\"\n"
	"  --report LIST         request status reports: comma list of\n"
	"                        received,forwarded,delivered,deleted\n"
	"  --lifetime MS         lifetime (default 86400000)\n"
	"  --time MS             creation time, DTN ms since 2000-01-01T00:00:00Z\n"
	"                        (default: now). With --time 0 a bundle age block\n"
	"                        (age 0) is added unless --age is given.\n"
	"  --seq N               creation timestamp sequence number (default 0)\n"
	"  --fragment OFF:TOTAL  mark as a fragment at offset OFF of a TOTAL-byte ADU\n"
	"  --crc none|16|32c     CRC type of every block (default 32c)\n"
	"\n"
	"Payload (default: empty; at most one of):\n"
	"  --payload TEXT        the bytes of TEXT\n"
	"  --payload-file FILE   the bytes of FILE (- for standard input; at most 64 MiB)\n"
	"  --payload-hex HEX     the bytes written as hex digits\n"
	"  --status-report STATUS:REASON:SRC-EID:TIME:SEQ\n"
	"                        a bundle status report (RFC 9171 6.1.1) as the payload,\n"
	"                        with the administrative record flag: STATUS is a comma\n"
	"                        list of received,forwarded,delivered,deleted; REASON a\n"
	"                        reason code or its name (e.g. no_route); SRC-EID, TIME\n"
	"                        and SEQ identify the subject bundle. With --status-time\n"
	"                        the asserted items carry the current time.\n"
	"\n"
	"Extension blocks (numbered from 2 upward, in this order):\n"
	"  --prev-node EID       previous node block\n"
	"  --age MS              bundle age block\n"
	"  --hop-limit N         hop count block with this limit (1..255)\n"
	"  --hop-count N         its hop count (default 0; needs --hop-limit)\n"
	"  --block TYPE:FLAGS:HEX\n"
	"                        a block of any type but 0 and 1 with these block\n"
	"                        processing flags and raw data bytes (repeatable)\n"
	"\n"
	"Output:\n"
	"  --hex                 write hex instead of binary\n"
	"  -o, --output FILE     write to FILE instead of standard output\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 on success, 1 when the codec refuses the bundle or writing\n"
	"fails, 2 for bad options and unreadable files.\n";

/* What the options asked for; built into a bundle once all are read. */
struct enc_args {
	struct bpv7_primary primary;
	bool has_report_to, has_time;
	const uint8_t *payload;
	size_t payload_len;
	bool has_payload;
	uint8_t *owned[BPV7_MAX_BLOCKS + 2]; /* buffers to free: block data, payload */
	unsigned nowned;
	struct bpv7_block ext[BPV7_MAX_BLOCKS]; /* --block blocks, in order */
	unsigned next;
	struct bp_eid prev_node;
	bool has_prev_node, has_age, has_hop_limit, has_hop_count;
	uint64_t age, hop_limit, hop_count;
	bool status_report;
	struct bpv7_status_report report;
	bool hex;
	const char *output;
};

enum {
	OPT_SOURCE = 256,
	OPT_DEST,
	OPT_REPORT_TO,
	OPT_FLAGS,
	OPT_MUST_NOT_FRAGMENT,
	OPT_ACK_REQUESTED,
	OPT_STATUS_TIME,
	OPT_REPORT,
	OPT_LIFETIME,
	OPT_TIME,
	OPT_SEQ,
	OPT_FRAGMENT,
	OPT_CRC,
	OPT_PAYLOAD,
	OPT_PAYLOAD_FILE,
	OPT_PAYLOAD_HEX,
	OPT_STATUS_REPORT,
	OPT_PREV_NODE,
	OPT_AGE,
	OPT_HOP_LIMIT,
	OPT_HOP_COUNT,
	OPT_BLOCK,
	OPT_HEX,
};

static const struct option encode_opts[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "dest", required_argument, NULL, OPT_DEST },
	{ "report-to", required_argument, NULL, OPT_REPORT_TO },
	{ "flags", required_argument, NULL, OPT_FLAGS },
	{ "must-not-fragment", no_argument, NULL, OPT_MUST_NOT_FRAGMENT },
	{ "ack-requested", no_argument, NULL, OPT_ACK_REQUESTED },
	{ "status-time", no_argument, NULL, OPT_STATUS_TIME },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "fragment", required_argument, NULL, OPT_FRAGMENT },
	{ "crc", required_argument, NULL, OPT_CRC },
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "payload-file", required_argument, NULL, OPT_PAYLOAD_FILE },
	{ "payload-hex", required_argument, NULL, OPT_PAYLOAD_HEX },
	{ "status-report", required_argument, NULL, OPT_STATUS_REPORT },
	{ "prev-node", required_argument, NULL, OPT_PREV_NODE },
	{ "age", required_argument, NULL, OPT_AGE },
	{ "hop-limit", required_argument, NULL, OPT_HOP_LIMIT },
	{ "hop-count", required_argument, NULL, OPT_HOP_COUNT },
	{ "block", required_argument, NULL, OPT_BLOCK },
	{ "hex", no_argument, NULL, OPT_HEX },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The long name of an option value, for error lines. */
static const char *opt_name(int c)
{
	for (const struct option *o = encode_opts; o->name; o++) {
		if (o->val == c)
			return o->name;
	}
	return "?";
}

static int opt_u64(int c, const char *arg, uint64_t *ret)
{
	if (cli_parse_u64(arg, strlen(arg), ret) < 0)
		return cli_error(BPCTL_EXIT_USAGE, "encode: --%s: not a number: '%s'", opt_name(c),
				 arg);
	return 0;
}

static int opt_eid(int c, const char *arg, size_t len, struct bp_eid *ret)
{
	const char *why = NULL;

	if (bp_eid_parse(arg, len, ret, &why) < 0)
		return cli_error(BPCTL_EXIT_USAGE, "encode: --%s: bad EID '%.*s': %s", opt_name(c),
				 (int)len, arg, why ? why : "malformed");
	return 0;
}

/* Keep buf (malloc'd, may be NULL) to free it in enc_args_clear(). */
static int own(struct enc_args *a, uint8_t *buf)
{
	if (!buf || a->nowned == sizeof(a->owned) / sizeof(a->owned[0])) {
		free(buf);
		return cli_error(BPCTL_EXIT_FAIL, "encode: %s", strerror(ENOMEM));
	}
	a->owned[a->nowned++] = buf;
	return 0;
}

/* Hex digits into a new buffer owned by a (freed by enc_args_clear()). */
static int opt_hex(struct enc_args *a, int c, const char *arg, const uint8_t **ret, size_t *ret_len)
{
	size_t len = strlen(arg);
	uint8_t *buf = malloc(len / 2 + 1);
	long n;

	if (own(a, buf) != 0)
		return BPCTL_EXIT_FAIL;
	n = cli_hex_decode(arg, len, false, buf);
	if (n < 0)
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --%s: bad hex (an even number of hex digits, no spaces)",
				 opt_name(c));
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

/* "received,forwarded,..." as a mask of 1 << enum bpv7_status; 0 if malformed. */
static unsigned parse_status_list(const char *s, size_t len)
{
	unsigned mask = 0;

	while (len > 0) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma ? (size_t)(comma - s) : len;
		unsigned st;

		for (st = 0; st < BPV7_STATUS_COUNT; st++) {
			const char *name = bpv7_status_name((enum bpv7_status)st);

			if (strlen(name) == n && memcmp(name, s, n) == 0)
				break;
		}
		if (st == BPV7_STATUS_COUNT)
			return 0;
		mask |= 1u << st;
		if (!comma)
			return mask;
		s = comma + 1;
		len -= n + 1;
		if (len == 0)
			return 0; /* trailing comma */
	}
	return mask;
}

static int opt_report(struct enc_args *a, const char *arg)
{
	static const uint64_t flag[BPV7_STATUS_COUNT] = {
		[BPV7_STATUS_RECEIVED] = BPV7_BPF_RPT_RECEPTION,
		[BPV7_STATUS_FORWARDED] = BPV7_BPF_RPT_FORWARDING,
		[BPV7_STATUS_DELIVERED] = BPV7_BPF_RPT_DELIVERY,
		[BPV7_STATUS_DELETED] = BPV7_BPF_RPT_DELETION,
	};
	unsigned mask = parse_status_list(arg, strlen(arg));

	if (!mask)
		return cli_error(
			BPCTL_EXIT_USAGE,
			"encode: --report: '%s' is not a comma list of received,forwarded,delivered,deleted",
			arg);
	for (unsigned st = 0; st < BPV7_STATUS_COUNT; st++) {
		if (mask & (1u << st))
			a->primary.flags |= flag[st];
	}
	return 0;
}

/* The n-th ':' of s, or NULL. */
static const char *nth_colon(const char *s, unsigned n)
{
	for (; *s; s++) {
		if (*s == ':' && --n == 0)
			return s;
	}
	return NULL;
}

/* A reason code by number or by name (RFC 9171 9.5, RFC 9172 11.2). */
static int parse_reason(const char *s, size_t len, uint64_t *ret)
{
	if (cli_parse_u64(s, len, ret) == 0)
		return 0;
	for (uint64_t code = 0; code <= BPV7_REASON_CONFLICTING_SECURITY_OPERATION; code++) {
		const char *name = bpv7_reason_name(code);

		if (strlen(name) == len && memcmp(name, s, len) == 0) {
			*ret = code;
			return 0;
		}
	}
	return -EINVAL;
}

/* STATUS:REASON:SRC-EID:TIME:SEQ; the EID has colons of its own. */
static int opt_status_report(struct enc_args *a, const char *arg)
{
	struct bpv7_status_report *r = &a->report;
	const char *c1 = nth_colon(arg, 1), *c2 = nth_colon(arg, 2);
	const char *last = strrchr(arg, ':'), *prev = last;
	unsigned mask;

	while (prev && prev > arg && *--prev != ':')
		;
	if (!c2 || !prev || prev <= c2)
		return cli_error(
			BPCTL_EXIT_USAGE,
			"encode: --status-report: expected STATUS:REASON:SRC-EID:TIME:SEQ, got '%s'",
			arg);
	memset(r, 0, sizeof(*r));
	mask = parse_status_list(arg, (size_t)(c1 - arg));
	if (!mask)
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --status-report: bad STATUS list in '%s'", arg);
	for (unsigned st = 0; st < BPV7_STATUS_COUNT; st++)
		r->status[st].asserted = (mask & (1u << st)) != 0;
	if (parse_reason(c1 + 1, (size_t)(c2 - c1 - 1), &r->reason) < 0)
		return cli_error(BPCTL_EXIT_USAGE, "encode: --status-report: bad REASON in '%s'",
				 arg);
	if (opt_eid(OPT_STATUS_REPORT, c2 + 1, (size_t)(prev - c2 - 1), &r->source) != 0)
		return BPCTL_EXIT_USAGE;
	if (cli_parse_u64(prev + 1, (size_t)(last - prev - 1), &r->creation_time) < 0 ||
	    cli_parse_u64(last + 1, strlen(last + 1), &r->sequence) < 0)
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --status-report: bad TIME or SEQ in '%s'", arg);
	a->status_report = true;
	return 0;
}

static int opt_fragment(struct enc_args *a, const char *arg)
{
	const char *colon = strchr(arg, ':');

	if (!colon || cli_parse_u64(arg, (size_t)(colon - arg), &a->primary.frag_offset) < 0 ||
	    cli_parse_u64(colon + 1, strlen(colon + 1), &a->primary.total_adu_len) < 0)
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --fragment: expected OFFSET:TOTAL, got '%s'", arg);
	a->primary.flags |= BPV7_BPF_IS_FRAGMENT;
	return 0;
}

/* TYPE:FLAGS:HEX, an extension block with raw data. */
static int opt_block(struct enc_args *a, const char *arg)
{
	const char *c1 = nth_colon(arg, 1), *c2 = nth_colon(arg, 2);
	struct bpv7_block *blk;

	if (a->next == BPV7_MAX_BLOCKS - 1)
		return cli_error(BPCTL_EXIT_USAGE, "encode: --block: at most %d blocks",
				 BPV7_MAX_BLOCKS);
	blk = &a->ext[a->next];
	memset(blk, 0, sizeof(*blk));
	if (!c2 || cli_parse_u64(arg, (size_t)(c1 - arg), &blk->type) < 0 ||
	    cli_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &blk->flags) < 0)
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --block: expected TYPE:FLAGS:HEX, got '%s'", arg);
	if (blk->type == 0 || blk->type == BPV7_BLOCK_PAYLOAD)
		return cli_error(
			BPCTL_EXIT_USAGE,
			"encode: --block: type must not be 0 or 1 (the payload has its own options)");
	if (opt_hex(a, OPT_BLOCK, c2 + 1, &blk->data, &blk->data_len) != 0)
		return BPCTL_EXIT_USAGE;
	if (!blk->data_len)
		blk->data = (const uint8_t *)""; /* data, not "encode from ext" */
	a->next++;
	return 0;
}

static int opt_crc(struct enc_args *a, const char *arg)
{
	if (strcmp(arg, "none") == 0)
		a->primary.crc_type = BPV7_CRC_NONE;
	else if (strcmp(arg, "16") == 0)
		a->primary.crc_type = BPV7_CRC_16;
	else if (strcmp(arg, "32c") == 0 || strcmp(arg, "32C") == 0)
		a->primary.crc_type = BPV7_CRC_32C;
	else
		return cli_error(BPCTL_EXIT_USAGE,
				 "encode: --crc: expected none, 16 or 32c, got '%s'", arg);
	return 0;
}

static int opt_payload_file(struct enc_args *a, const char *path)
{
	uint8_t *buf;
	size_t len;
	int status = cli_read_input("encode", path, &buf, &len);

	if (status != BPCTL_EXIT_OK)
		return BPCTL_EXIT_USAGE;
	if (own(a, buf) != 0)
		return BPCTL_EXIT_FAIL;
	a->payload = buf;
	a->payload_len = len;
	return 0;
}

/* Numeric options and the flag shortcuts; -1 when c is none of them. */
static int encode_opt_number(struct enc_args *a, int c, const char *arg)
{
	struct bpv7_primary *p = &a->primary;
	uint64_t flags;

	switch (c) {
	case OPT_FLAGS:
		if (opt_u64(c, arg, &flags) != 0)
			return BPCTL_EXIT_USAGE;
		p->flags |= flags;
		return 0;
	case OPT_MUST_NOT_FRAGMENT:
		p->flags |= BPV7_BPF_MUST_NOT_FRAGMENT;
		return 0;
	case OPT_ACK_REQUESTED:
		p->flags |= BPV7_BPF_ACK_REQUESTED;
		return 0;
	case OPT_STATUS_TIME:
		p->flags |= BPV7_BPF_STATUS_TIME;
		return 0;
	case OPT_LIFETIME:
		return opt_u64(c, arg, &p->lifetime);
	case OPT_TIME:
		a->has_time = true;
		return opt_u64(c, arg, &p->creation_time);
	case OPT_SEQ:
		return opt_u64(c, arg, &p->sequence);
	case OPT_AGE:
		a->has_age = true;
		return opt_u64(c, arg, &a->age);
	case OPT_HOP_LIMIT:
		a->has_hop_limit = true;
		if (opt_u64(c, arg, &a->hop_limit) != 0)
			return BPCTL_EXIT_USAGE;
		if (a->hop_limit < 1 || a->hop_limit > 255)
			return cli_error(BPCTL_EXIT_USAGE, "encode: --hop-limit: must be 1..255");
		return 0;
	case OPT_HOP_COUNT:
		a->has_hop_count = true;
		return opt_u64(c, arg, &a->hop_count);
	default:
		return -1;
	}
}

/* The payload comes from one option only. */
static int payload_option(struct enc_args *a)
{
	if (a->has_payload)
		return cli_error(
			BPCTL_EXIT_USAGE,
			"encode: give one of --payload, --payload-file, --payload-hex, --status-report");
	a->has_payload = true;
	return 0;
}

static int encode_opt(struct enc_args *a, int c, const char *arg)
{
	int rc = encode_opt_number(a, c, arg);

	if (rc >= 0)
		return rc;
	switch (c) {
	case OPT_SOURCE:
		return opt_eid(c, arg, strlen(arg), &a->primary.source);
	case OPT_DEST:
		return opt_eid(c, arg, strlen(arg), &a->primary.dest);
	case OPT_REPORT_TO:
		a->has_report_to = true;
		return opt_eid(c, arg, strlen(arg), &a->primary.report_to);
	case OPT_REPORT:
		return opt_report(a, arg);
	case OPT_FRAGMENT:
		return opt_fragment(a, arg);
	case OPT_CRC:
		return opt_crc(a, arg);
	case OPT_PAYLOAD:
		if (payload_option(a) != 0)
			return BPCTL_EXIT_USAGE;
		a->payload = (const uint8_t *)arg;
		a->payload_len = strlen(arg);
		return 0;
	case OPT_PAYLOAD_FILE:
		if (payload_option(a) != 0)
			return BPCTL_EXIT_USAGE;
		return opt_payload_file(a, arg);
	case OPT_PAYLOAD_HEX:
		if (payload_option(a) != 0)
			return BPCTL_EXIT_USAGE;
		return opt_hex(a, c, arg, &a->payload, &a->payload_len);
	case OPT_STATUS_REPORT:
		if (payload_option(a) != 0)
			return BPCTL_EXIT_USAGE;
		return opt_status_report(a, arg);
	case OPT_PREV_NODE:
		a->has_prev_node = true;
		return opt_eid(c, arg, strlen(arg), &a->prev_node);
	case OPT_BLOCK:
		return opt_block(a, arg);
	case OPT_HEX:
		a->hex = true;
		return 0;
	case 'o':
		a->output = arg;
		return 0;
	default:
		return BPCTL_EXIT_USAGE;
	}
}

static uint64_t dtn_now_ms(void)
{
	struct timespec ts;
	uint64_t ms;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return ms > CLI_DTN_EPOCH_UNIX_MS ? ms - CLI_DTN_EPOCH_UNIX_MS : 0;
}

/* Defaults that depend on other options, and the checks across options. */
static int encode_finish_args(struct enc_args *a)
{
	if (a->has_hop_count && !a->has_hop_limit)
		return cli_error(BPCTL_EXIT_USAGE, "encode: --hop-count needs --hop-limit");
	if (!a->has_report_to)
		a->primary.report_to = a->primary.source;
	if (!a->has_time)
		a->primary.creation_time = dtn_now_ms();
	if (a->status_report) {
		uint64_t now = dtn_now_ms();

		a->primary.flags |= BPV7_BPF_ADMIN_RECORD;
		for (unsigned st = 0; st < BPV7_STATUS_COUNT; st++) {
			struct bpv7_status_item *item = &a->report.status[st];

			item->has_time = item->asserted &&
					 (a->primary.flags & BPV7_BPF_STATUS_TIME);
			item->time = item->has_time ? now : 0;
		}
	}
	if (!a->hex && (!a->output || strcmp(a->output, "-") == 0) && isatty(STDOUT_FILENO))
		return cli_error(
			BPCTL_EXIT_USAGE,
			"encode: refusing to write binary to a terminal; use --hex or -o FILE");
	return 0;
}

static int add_block(struct bpv7_bundle *b, struct bpv7_block *blk)
{
	blk->crc_type = b->primary.crc_type;
	if (blk->type != BPV7_BLOCK_PAYLOAD)
		blk->number = bpv7_bundle_free_number(b);
	if (bpv7_bundle_add_block(b, blk) < 0)
		return cli_error(BPCTL_EXIT_USAGE, "encode: too many blocks (at most %d)",
				 BPV7_MAX_BLOCKS);
	return 0;
}

/* The payload of a status report bundle: the encoded administrative record. */
static int encode_status_report(struct enc_args *a)
{
	long n = bpv7_status_report_encode(&a->report, NULL, 0);
	uint8_t *buf;

	if (n < 0)
		return cli_error(BPCTL_EXIT_FAIL,
				 "encode: the codec cannot encode this status report");
	buf = malloc((size_t)n + 1);
	if (own(a, buf) != 0)
		return BPCTL_EXIT_FAIL;
	if (bpv7_status_report_encode(&a->report, buf, (size_t)n + 1) != n)
		return cli_error(BPCTL_EXIT_FAIL,
				 "encode: the codec cannot encode this status report");
	a->payload = buf;
	a->payload_len = (size_t)n;
	return 0;
}

/* RFC 9171 4.1: extension blocks, then the payload block (number 1) last. */
static int encode_build(struct enc_args *a, struct bpv7_bundle *b)
{
	struct bpv7_block blk;

	bpv7_bundle_init(b);
	b->primary = a->primary;
	if (a->has_prev_node) {
		blk = (struct bpv7_block){ .type = BPV7_BLOCK_PREV_NODE,
					   .ext.prev_node = a->prev_node };
		if (add_block(b, &blk) != 0)
			return BPCTL_EXIT_USAGE;
	}
	if (a->has_age || a->primary.creation_time == 0) {
		blk = (struct bpv7_block){ .type = BPV7_BLOCK_BUNDLE_AGE, .ext.age_ms = a->age };
		if (add_block(b, &blk) != 0)
			return BPCTL_EXIT_USAGE;
	}
	if (a->has_hop_limit) {
		blk = (struct bpv7_block){ .type = BPV7_BLOCK_HOP_COUNT,
					   .ext.hop = { a->hop_limit, a->hop_count } };
		if (add_block(b, &blk) != 0)
			return BPCTL_EXIT_USAGE;
	}
	for (unsigned i = 0; i < a->next; i++) {
		if (add_block(b, &a->ext[i]) != 0)
			return BPCTL_EXIT_USAGE;
	}
	if (a->status_report && encode_status_report(a) != 0)
		return BPCTL_EXIT_FAIL;
	blk = (struct bpv7_block){
		.type = BPV7_BLOCK_PAYLOAD,
		.number = 1,
		.data = a->payload ? a->payload : (const uint8_t *)"",
		.data_len = a->payload_len,
	};
	return add_block(b, &blk);
}

static void enc_args_init(struct enc_args *a)
{
	memset(a, 0, sizeof(*a));
	a->primary.crc_type = BPV7_CRC_32C;
	a->primary.lifetime = 86400000;
	bp_eid_set_ipn(&a->primary.source, 1, 1);
	bp_eid_set_ipn(&a->primary.dest, 2, 1);
}

static void enc_args_clear(struct enc_args *a)
{
	for (unsigned i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	a->nowned = 0;
}

static int encode_run(struct enc_args *a)
{
	struct bpv7_bundle b;
	uint8_t *out = NULL;
	long n;
	int status;

	status = encode_build(a, &b);
	if (status != 0)
		return status;
	n = bpv7_encode_alloc(&b, &out);
	if (n < 0)
		return cli_error(BPCTL_EXIT_FAIL, "encode: the codec refuses this bundle: %s",
				 strerror((int)-n));
	status = cli_write_output("encode", a->output, a->hex, out, (size_t)n);
	free(out);
	return status;
}

int encode_cmd_run(int argc, char **argv)
{
	struct enc_args *a = malloc(sizeof(*a));
	int c, status = BPCTL_EXIT_OK;

	if (!a)
		return cli_error(BPCTL_EXIT_FAIL, "encode: %s", strerror(ENOMEM));
	enc_args_init(a);
	optind = 0; /* GNU getopt: start afresh at argv[1] */
	opterr = 0;
	while (status == BPCTL_EXIT_OK &&
	       (c = getopt_long(argc, argv, ":ho:", encode_opts, NULL)) != -1) {
		if (c == 'h') {
			(void)fputs(encode_cmd_usage, stdout);
			goto out_free;
		}
		if (c == '?' || c == ':')
			status = cli_bad_option("encode", argv, c);
		else if (encode_opt(a, c, optarg) != 0)
			status = BPCTL_EXIT_USAGE;
	}
	if (status == BPCTL_EXIT_OK && optind < argc)
		status = cli_error(BPCTL_EXIT_USAGE,
				   "encode: unexpected argument '%s' (see bpctl help encode)",
				   argv[optind]);
	if (status == BPCTL_EXIT_OK)
		status = encode_finish_args(a);
	if (status == BPCTL_EXIT_OK)
		status = encode_run(a);
out_free:
	enc_args_clear(a);
	free(a);
	return status;
}
