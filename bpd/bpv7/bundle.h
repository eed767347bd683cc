/* SPDX-License-Identifier: MIT */
/*
 * The BPv7 bundle as the codec sees it (RFC 9171 4).
 *
 * A decoded struct bpv7_bundle is an index over the encoded bytes: block data
 * (the payload included) and dtn EID text point into the buffer it was
 * decoded from, which must outlive it. A bundle built for encoding points at
 * the caller's memory the same way.
 */
#ifndef BPV7_BUNDLE_H
#define BPV7_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eid.h"

/* Most canonical blocks a bundle may have; more is refused as a limit. */
#define BPV7_MAX_BLOCKS 32

/* CRC types (RFC 9171 4.2.1). */
enum bpv7_crc_type {
	BPV7_CRC_NONE = 0,
	BPV7_CRC_16 = 1,
	BPV7_CRC_32C = 2,
};

/* Bundle processing control flags (RFC 9171 4.2.3). */
#define BPV7_BPF_IS_FRAGMENT 0x000001u
#define BPV7_BPF_ADMIN_RECORD 0x000002u
#define BPV7_BPF_MUST_NOT_FRAGMENT 0x000004u
#define BPV7_BPF_ACK_REQUESTED 0x000020u
#define BPV7_BPF_STATUS_TIME 0x000040u
#define BPV7_BPF_RPT_RECEPTION 0x004000u
#define BPV7_BPF_RPT_FORWARDING 0x010000u
#define BPV7_BPF_RPT_DELIVERY 0x020000u
#define BPV7_BPF_RPT_DELETION 0x040000u
#define BPV7_BPF_RPT_ALL                                                                           \
	(BPV7_BPF_RPT_RECEPTION | BPV7_BPF_RPT_FORWARDING | BPV7_BPF_RPT_DELIVERY |                \
	 BPV7_BPF_RPT_DELETION)

/* Block processing control flags (RFC 9171 4.2.4). */
#define BPV7_BLKF_REPLICATE 0x01u
#define BPV7_BLKF_REPORT_IF_UNPROC 0x02u
#define BPV7_BLKF_DELETE_IF_UNPROC 0x04u
#define BPV7_BLKF_DISCARD_IF_UNPROC 0x10u

/* Block type codes (RFC 9171 9.1, RFC 9172 11.1). */
enum bpv7_block_type {
	BPV7_BLOCK_PAYLOAD = 1,
	BPV7_BLOCK_PREV_NODE = 6,
	BPV7_BLOCK_BUNDLE_AGE = 7,
	BPV7_BLOCK_HOP_COUNT = 10,
	BPV7_BLOCK_BIB = 11,
	BPV7_BLOCK_BCB = 12,
};

struct bpv7_primary {
	uint64_t flags; /* BPV7_BPF_* and any others, kept as received */
	uint8_t crc_type;
	struct bp_eid dest;
	struct bp_eid source;
	struct bp_eid report_to;
	uint64_t creation_time; /* DTN time, ms since 2000-01-01 UTC; 0 = no clock */
	uint64_t sequence;
	uint64_t lifetime;	/* ms */
	uint64_t frag_offset;	/* only with BPV7_BPF_IS_FRAGMENT */
	uint64_t total_adu_len; /* only with BPV7_BPF_IS_FRAGMENT */
	uint32_t crc;		/* decoded: the CRC value received */
};

/* What the codec understood of a known extension block's data (RFC 9171 4.4). */
union bpv7_ext {
	struct bp_eid prev_node; /* BPV7_BLOCK_PREV_NODE */
	uint64_t age_ms;	 /* BPV7_BLOCK_BUNDLE_AGE */
	struct {
		uint64_t limit;
		uint64_t count;
	} hop; /* BPV7_BLOCK_HOP_COUNT */
};

struct bpv7_block {
	uint64_t type;
	uint64_t number;
	uint64_t flags; /* BPV7_BLKF_* and any others */
	uint8_t crc_type;
	uint32_t crc; /* decoded: the CRC value received */
	/*
	 * Block-type-specific data. When encoding a block of a type the codec
	 * knows (6, 7, 10) with data == NULL, the data is encoded from `ext`.
	 */
	const uint8_t *data;
	size_t data_len;
	union bpv7_ext ext;
};

/*
 * Findings: RFC 9171 rules a bundle breaks without becoming unparseable. The
 * decoder records them and the caller's policy decides; the daemon's is
 * BPV7_F_REJECT_DEFAULT (docs/bpv7.md).
 */
enum bpv7_finding {
	BPV7_F_NO_PRIMARY_CRC = 1u << 0,	/* 4.3.1: no CRC and no BIB over block 0 */
	BPV7_F_NO_AGE_BLOCK = 1u << 1,		/* 4.4.2: creation time 0, no age block */
	BPV7_F_ADMIN_REPORT_FLAGS = 1u << 2,	/* 4.2.3: admin record asks for reports */
	BPV7_F_ANON_FLAGS = 1u << 3,		/* 4.2.3: null source, fragmentable or reports */
	BPV7_F_BLOCK_REPORT_FLAG = 1u << 4,	/* 4.2.4: report-if-unprocessable on admin/anon */
	BPV7_F_DUP_EXT_BLOCK = 1u << 5,		/* 4.4: two previous node, age or hop blocks */
	BPV7_F_HOP_LIMIT_RANGE = 1u << 6,	/* 4.4.3: hop limit outside 1..255 */
	BPV7_F_NONCANONICAL = 1u << 7,		/* 4.1: CBOR not in deterministic encoding */
	BPV7_F_FRAGMENT_RANGE = 1u << 8,	/* 4.3.1: offset + payload > total ADU length */
	BPV7_F_PREV_NODE_NOT_NODE_ID = 1u << 9, /* 4.4.1: previous node is not a node ID */
	BPV7_F_DTN_LEGACY = 1u << 10,		/* 4.2.5.1.1: "dtn://node" without the "/" */
};
#define BPV7_F_COUNT 11

/*
 * The findings that make bpd refuse a bundle: ones that leave its processing
 * ambiguous (two age blocks, a fragment past its ADU, an unusable hop limit).
 * The rest are tolerated because deployed peers and the RFCs' own examples
 * produce them (docs/bpv7.md, "Decoding policy").
 */
#define BPV7_F_REJECT_DEFAULT                                                                      \
	(BPV7_F_DUP_EXT_BLOCK | BPV7_F_FRAGMENT_RANGE | BPV7_F_HOP_LIMIT_RANGE)

struct bpv7_bundle {
	struct bpv7_primary primary;
	struct bpv7_block blocks[BPV7_MAX_BLOCKS]; /* wire order; the payload is last */
	unsigned nblocks;
	uint32_t findings; /* enum bpv7_finding bits */
	/*
	 * Decoded bundles: the wire bytes, and the primary block's encoded
	 * length (it starts at offset 1, after the array head). While both are
	 * set the encoder copies that primary block verbatim; whoever changes a
	 * primary field (e.g. to make a fragment) sets primary_len to 0.
	 */
	const uint8_t *wire;
	size_t wire_len;
	size_t primary_len;
};

/* Rules whose violation stops decoding (each its own code and message). */
enum bpv7_error_code {
	BPV7_E_OK = 0,
	BPV7_E_CBOR,		 /* malformed CBOR item */
	BPV7_E_TRUNCATED,	 /* input ended inside the bundle */
	BPV7_E_TOO_LARGE,	 /* over the decoder's size limit */
	BPV7_E_TOO_MANY_BLOCKS,	 /* over BPV7_MAX_BLOCKS */
	BPV7_E_NOT_INDEF_ARRAY,	 /* 4.1: bundle is not an indefinite-length array */
	BPV7_E_TRAILING,	 /* bytes after the bundle's break */
	BPV7_E_PRIMARY_SHAPE,	 /* 4.3.1: primary block not an array of 8..11 */
	BPV7_E_PRIMARY_COUNT,	 /* 4.3.1: element count disagrees with flags/CRC type */
	BPV7_E_VERSION,		 /* 4.3.1: version is not 7 */
	BPV7_E_FIELD_TYPE,	 /* a field is not of the CBOR type its rule requires */
	BPV7_E_CRC_TYPE,	 /* 4.2.1: CRC type not 0, 1 or 2 */
	BPV7_E_CRC_FIELD,	 /* 4.2.2: CRC not a byte string of the CRC type's size */
	BPV7_E_PRIMARY_CRC,	 /* 4.3.1: primary block CRC does not match */
	BPV7_E_BLOCK_CRC,	 /* 4.3.2: canonical block CRC does not match */
	BPV7_E_EID,		 /* 4.2.5.1: malformed EID */
	BPV7_E_EID_SCHEME,	 /* 4.2.5.1: URI scheme code not dtn or ipn */
	BPV7_E_TIMESTAMP,	 /* 4.2.7: creation timestamp not [uint, uint] */
	BPV7_E_FRAG_OFFSET,	 /* 4.3.1: fragment offset not below total ADU length */
	BPV7_E_BLOCK_SHAPE,	 /* 4.3.2: canonical block not an array of 5 or 6 */
	BPV7_E_BLOCK_TYPE,	 /* 4.3.2: block type 0 */
	BPV7_E_BLOCK_NUMBER,	 /* 4.1: block number 0, or 1 on a non-payload block */
	BPV7_E_DUP_NUMBER,	 /* 4.1: two blocks with one block number */
	BPV7_E_BLOCK_DATA,	 /* 4.3.2: block data not a definite-length byte string */
	BPV7_E_NO_PAYLOAD,	 /* 4.1: the last block is not a payload block */
	BPV7_E_PAYLOAD_NOT_LAST, /* 4.1: a payload block before the last block */
	BPV7_E_PAYLOAD_NUMBER,	 /* 4.1: payload block number is not 1 */
	BPV7_E_NO_BLOCKS,	 /* 4.1: no canonical block after the primary */
	BPV7_E_EXT_DATA,	 /* 4.4: previous node, age or hop count data malformed */
	BPV7_E_COUNT
};

/* Where and why decoding stopped. */
struct bpv7_error {
	enum bpv7_error_code code;
	size_t offset;	    /* byte offset of the offending item in the bundle */
	int block;	    /* index of the block (0 = primary, 1.. canonical), -1 if none */
	const char *detail; /* static text naming the field, or NULL */
};

/* Stable identifier ("primary_crc") and one-line message for an error code. */
const char *bpv7_error_name(enum bpv7_error_code code);
const char *bpv7_error_message(enum bpv7_error_code code);
/* Stable identifier and message for one finding bit. */
const char *bpv7_finding_name(enum bpv7_finding f);
const char *bpv7_finding_message(enum bpv7_finding f);

/* The payload block (the last one), or NULL for an empty bundle. */
struct bpv7_block *bpv7_bundle_payload(struct bpv7_bundle *b);
const struct bpv7_block *bpv7_bundle_payload_const(const struct bpv7_bundle *b);
/* First block of a type, or NULL. */
struct bpv7_block *bpv7_bundle_find(struct bpv7_bundle *b, uint64_t type);
/* Smallest block number >= 2 not used by the bundle. */
uint64_t bpv7_bundle_free_number(const struct bpv7_bundle *b);

/*
 * Initialise an empty bundle for encoding: version-7 defaults, no blocks.
 * Then fill the primary and append blocks with bpv7_bundle_add_block().
 */
void bpv7_bundle_init(struct bpv7_bundle *b);
/* Append a block before the payload (or as the payload, type 1); -ENOSPC when full. */
int bpv7_bundle_add_block(struct bpv7_bundle *b, const struct bpv7_block *blk);
/* Remove the block at index i. */
void bpv7_bundle_remove_block(struct bpv7_bundle *b, unsigned i);

/* Does this node's codec know how to process blocks of this type? */
bool bpv7_block_type_known(uint64_t type);

/*
 * RFC 9171 5.6 step 4 (and 4.2.4): apply the block processing flags of every
 * block whose type the node cannot process. Blocks flagged "discard" are
 * removed. Returns 1 when the bundle must be deleted (reason "block
 * unsupported", BPV7_REASON_BLOCK_UNSUPPORTED), 0 otherwise; *ret_report is
 * set when some unprocessable block asks for a reception status report
 * (reason "block unsupported" too).
 */
int bpv7_bundle_apply_unknown_blocks(struct bpv7_bundle *b, bool *ret_report);

#endif
