/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <errno.h>
#include <string.h>

struct text {
	const char *name;
	const char *message;
};

static const struct text errors[BPV7_E_COUNT] = {
	[BPV7_E_OK] = { "ok", "no error" },
	[BPV7_E_CBOR] = { "cbor", "malformed CBOR item" },
	[BPV7_E_TRUNCATED] = { "truncated", "input ends inside the bundle" },
	[BPV7_E_TOO_LARGE] = { "too_large", "bundle exceeds the size limit" },
	[BPV7_E_TOO_MANY_BLOCKS] = { "too_many_blocks", "bundle has more blocks than allowed" },
	[BPV7_E_NOT_INDEF_ARRAY] = { "not_indef_array",
				     "bundle is not a CBOR indefinite-length array (RFC 9171 4.1)" },
	[BPV7_E_TRAILING] = { "trailing", "bytes follow the bundle's break stop code" },
	[BPV7_E_PRIMARY_SHAPE] = { "primary_shape",
				   "primary block is not an array of 8 to 11 items (RFC 9171 4.3.1)" },
	[BPV7_E_PRIMARY_COUNT] = { "primary_count",
				   "primary block item count disagrees with its fragment flag and "
				   "CRC type (RFC 9171 4.3.1)" },
	[BPV7_E_VERSION] = { "version", "bundle protocol version is not 7 (RFC 9171 4.3.1)" },
	[BPV7_E_FIELD_TYPE] = { "field_type", "field is not of the CBOR type RFC 9171 requires" },
	[BPV7_E_CRC_TYPE] = { "crc_type", "CRC type is not 0, 1 or 2 (RFC 9171 4.2.1)" },
	[BPV7_E_CRC_FIELD] = { "crc_field",
			       "CRC is not a byte string of the CRC type's size (RFC 9171 4.2.2)" },
	[BPV7_E_PRIMARY_CRC] = { "primary_crc", "primary block CRC mismatch (RFC 9171 4.3.1)" },
	[BPV7_E_BLOCK_CRC] = { "block_crc", "canonical block CRC mismatch (RFC 9171 4.3.2)" },
	[BPV7_E_EID] = { "eid", "malformed endpoint ID (RFC 9171 4.2.5.1)" },
	[BPV7_E_EID_SCHEME] = { "eid_scheme",
				"endpoint ID URI scheme is neither dtn nor ipn (RFC 9171 4.2.5.1)" },
	[BPV7_E_TIMESTAMP] = { "timestamp",
			       "creation timestamp is not an array of two unsigned integers "
			       "(RFC 9171 4.2.7)" },
	[BPV7_E_FRAG_OFFSET] = { "frag_offset",
				 "fragment offset is not below the total ADU length (RFC 9171 4.3.1)" },
	[BPV7_E_BLOCK_SHAPE] = { "block_shape",
				 "canonical block is not an array of 5 or 6 items (RFC 9171 4.3.2)" },
	[BPV7_E_BLOCK_TYPE] = { "block_type", "block type code 0 is reserved (RFC 9171 9.1)" },
	[BPV7_E_BLOCK_NUMBER] = { "block_number",
				  "block number 0, or 1 on a block that is not the payload "
				  "(RFC 9171 4.1)" },
	[BPV7_E_DUP_NUMBER] = { "dup_number", "two blocks share a block number (RFC 9171 4.1)" },
	[BPV7_E_BLOCK_DATA] = { "block_data",
				"block-type-specific data is not a definite-length byte string "
				"(RFC 9171 4.3.2)" },
	[BPV7_E_NO_PAYLOAD] = { "no_payload",
				"the last block is not a payload block (RFC 9171 4.1)" },
	[BPV7_E_PAYLOAD_NOT_LAST] = { "payload_not_last",
				      "a payload block is followed by another block (RFC 9171 4.1)" },
	[BPV7_E_PAYLOAD_NUMBER] = { "payload_number",
				    "payload block number is not 1 (RFC 9171 4.1)" },
	[BPV7_E_NO_BLOCKS] = { "no_blocks",
			       "no canonical block follows the primary block (RFC 9171 4.1)" },
	[BPV7_E_EXT_DATA] = { "ext_data",
			      "previous node, bundle age or hop count data malformed (RFC 9171 4.4)" },
};

static const struct text findings[BPV7_F_COUNT] = {
	{ "no_primary_crc", "primary block has no CRC and no BIB targets it (RFC 9171 4.3.1)" },
	{ "no_age_block", "creation time is 0 but there is no bundle age block (RFC 9171 4.4.2)" },
	{ "admin_report_flags", "administrative record requests status reports (RFC 9171 4.2.3)" },
	{ "anonymous_flags",
	  "null source without 'must not fragment', or with report requests (RFC 9171 4.2.3)" },
	{ "block_report_flag",
	  "admin record or anonymous bundle has a block asking for a report (RFC 9171 4.2.4)" },
	{ "dup_ext_block",
	  "more than one previous node, bundle age or hop count block (RFC 9171 4.4)" },
	{ "hop_limit_range", "hop limit outside 1..255 (RFC 9171 4.4.3)" },
	{ "noncanonical", "CBOR not in deterministic encoding (RFC 9171 4.1, RFC 8949 4.2.1)" },
	{ "fragment_range",
	  "fragment offset plus payload length exceeds the total ADU length (RFC 9171 4.3.1)" },
	{ "prev_node_not_node_id", "previous node is not a node ID (RFC 9171 4.4.1)" },
	{ "dtn_no_demux_delimiter",
	  "dtn EID lacks the '/' after the node name (RFC 9171 4.2.5.1.1)" },
};

const char *bpv7_error_name(enum bpv7_error_code code)
{
	return (unsigned)code < BPV7_E_COUNT ? errors[code].name : "unknown";
}

const char *bpv7_error_message(enum bpv7_error_code code)
{
	return (unsigned)code < BPV7_E_COUNT ? errors[code].message : "unknown error";
}

static int finding_index(enum bpv7_finding f)
{
	for (int i = 0; i < BPV7_F_COUNT; i++)
		if ((uint32_t)f == 1u << i)
			return i;
	return -1;
}

const char *bpv7_finding_name(enum bpv7_finding f)
{
	int i = finding_index(f);

	return i < 0 ? "unknown" : findings[i].name;
}

const char *bpv7_finding_message(enum bpv7_finding f)
{
	int i = finding_index(f);

	return i < 0 ? "unknown finding" : findings[i].message;
}

struct bpv7_block *bpv7_bundle_payload(struct bpv7_bundle *b)
{
	return b->nblocks ? &b->blocks[b->nblocks - 1] : NULL;
}

const struct bpv7_block *bpv7_bundle_payload_const(const struct bpv7_bundle *b)
{
	return b->nblocks ? &b->blocks[b->nblocks - 1] : NULL;
}

struct bpv7_block *bpv7_bundle_find(struct bpv7_bundle *b, uint64_t type)
{
	for (unsigned i = 0; i < b->nblocks; i++)
		if (b->blocks[i].type == type)
			return &b->blocks[i];
	return NULL;
}

uint64_t bpv7_bundle_free_number(const struct bpv7_bundle *b)
{
	uint64_t n = 2;
	bool used;

	/* At most BPV7_MAX_BLOCKS numbers are taken, so this ends quickly. */
	do {
		used = false;
		for (unsigned i = 0; i < b->nblocks && !used; i++)
			used = b->blocks[i].number == n;
		n += used;
	} while (used);
	return n;
}

void bpv7_bundle_init(struct bpv7_bundle *b)
{
	memset(&b->primary, 0, sizeof(b->primary));
	b->primary.crc_type = BPV7_CRC_32C;
	bp_eid_set_none(&b->primary.dest);
	bp_eid_set_none(&b->primary.source);
	bp_eid_set_none(&b->primary.report_to);
	b->nblocks = 0;
	b->findings = 0;
	b->wire = NULL;
	b->wire_len = 0;
	b->primary_len = 0;
}

int bpv7_bundle_add_block(struct bpv7_bundle *b, const struct bpv7_block *blk)
{
	unsigned at = b->nblocks;

	if (b->nblocks == BPV7_MAX_BLOCKS)
		return -ENOSPC;
	/* Keep the payload last (RFC 9171 4.1) whatever the order of adding. */
	if (blk->type != BPV7_BLOCK_PAYLOAD && at > 0 &&
	    b->blocks[at - 1].type == BPV7_BLOCK_PAYLOAD) {
		b->blocks[at] = b->blocks[at - 1];
		at--;
	}
	b->blocks[at] = *blk;
	b->nblocks++;
	return 0;
}

void bpv7_bundle_remove_block(struct bpv7_bundle *b, unsigned i)
{
	if (i >= b->nblocks)
		return;
	memmove(&b->blocks[i], &b->blocks[i + 1], (b->nblocks - i - 1) * sizeof(b->blocks[0]));
	b->nblocks--;
}

bool bpv7_block_type_known(uint64_t type)
{
	switch (type) {
	case BPV7_BLOCK_PAYLOAD:
	case BPV7_BLOCK_PREV_NODE:
	case BPV7_BLOCK_BUNDLE_AGE:
	case BPV7_BLOCK_HOP_COUNT:
		return true;
	default:
		return false;
	}
}

int bpv7_bundle_apply_unknown_blocks(struct bpv7_bundle *b, bool *ret_report)
{
	bool report = false;
	unsigned i = 0;

	while (i < b->nblocks) {
		const struct bpv7_block *blk = &b->blocks[i];

		if (bpv7_block_type_known(blk->type)) {
			i++;
			continue;
		}
		if (blk->flags & BPV7_BLKF_REPORT_IF_UNPROC)
			report = true;
		if (blk->flags & BPV7_BLKF_DELETE_IF_UNPROC) {
			*ret_report = report;
			return 1;
		}
		if (blk->flags & BPV7_BLKF_DISCARD_IF_UNPROC)
			bpv7_bundle_remove_block(b, i);
		else
			i++;
	}
	*ret_report = report;
	return 0;
}
