/* SPDX-License-Identifier: MIT */
/*
 * Endpoint IDs (RFC 9171 4.2.5.1, ipn updated by RFC 9758).
 *
 * A struct bp_eid is a plain value. The text of a dtn EID is not copied: `ssp`
 * points into whatever it was decoded or parsed from (a bundle's wire bytes,
 * a command-line argument), which must outlive the EID.
 */
#ifndef BPV7_EID_H
#define BPV7_EID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cbuf_rd;
struct cbuf_wr;

/* URI scheme code numbers (RFC 9171 9.6). */
enum bp_eid_scheme {
	BP_EID_DTN = 1,
	BP_EID_IPN = 2,
};

/* Longest text form bp_eid_format() writes for an ipn EID, with the NUL. */
#define BP_EID_IPN_TEXT_MAX 64
/* Longest dtn SSP accepted from the wire or from text. */
#define BP_EID_DTN_SSP_MAX 1024
/* RFC 9758: the node number meaning "this node" ("ipn:!.S"). */
#define BP_EID_IPN_LOCALNODE UINT32_MAX

struct bp_eid {
	uint8_t scheme; /* enum bp_eid_scheme */
	/*
	 * ipn: how many CBOR elements the SSP has (RFC 9758 6.1): 2
	 * ([FQNN, service], FQNN = allocator << 32 | node) or 3 ([allocator,
	 * node, service]). Decoding records the form received; encoding uses
	 * it, 0 meaning 2. Parsing and bp_eid_set_ipn() pick 2 for allocator
	 * 0 and 3 otherwise.
	 */
	uint8_t ipn_elems;
	uint64_t allocator; /* ipn */
	uint64_t node;	    /* ipn: node number within the allocator */
	uint64_t service;   /* ipn */
	const char *ssp;    /* dtn: text after "dtn:", e.g. "//node/demux" */
	size_t ssp_len;	    /* dtn: 0 means dtn:none */
};

/* The null endpoint, dtn:none (RFC 9171 4.2.5.1.1). */
void bp_eid_set_none(struct bp_eid *eid);
/*
 * ipn:node.service. `node` is an FQNN (RFC 9758 6.1.1): a value of 2^32 or
 * more carries an allocator in its upper half, and the EID then encodes in
 * the three-element form.
 */
void bp_eid_set_ipn(struct bp_eid *eid, uint64_t node, uint64_t service);

/*
 * True for the null endpoint in either scheme: dtn:none, and ipn EIDs whose
 * FQNN is 0, i.e. allocator 0 and node 0 (RFC 9758 ipn:0.0; ipn:0.x
 * report-to is treated the same).
 */
bool bp_eid_is_null(const struct bp_eid *eid);
/* Same scheme and value; the ipn element form does not count. */
bool bp_eid_equal(const struct bp_eid *a, const struct bp_eid *b);
/*
 * Could this EID serve as a node ID (RFC 9171 4.2.5.2)? ipn:N.0, dtn://n/;
 * not the null endpoint.
 */
bool bp_eid_is_node_id(const struct bp_eid *eid);

/*
 * A dtn EID of the RFC 5050 form "dtn://node", without the "/" RFC 9171
 * 4.2.5.1.1 requires after the node name. Decoding accepts it (peers send
 * it, read as a node ID); text parsing does not.
 */
bool bp_eid_dtn_legacy(const struct bp_eid *eid);

/*
 * CBOR form (RFC 9171 4.2.5.1: [scheme code, SSP]). Decode returns 0,
 * -ENODATA (more bytes needed, see cbuf_rd), -EBADMSG, or -EPROTONOSUPPORT
 * for a well-formed EID of a scheme other than dtn and ipn; a failed decode
 * leaves the reader (pos and noncanonical) where it was and *ret untouched.
 * *ret_why, when given, names the rule on -EBADMSG and -EPROTONOSUPPORT
 * (static text, stable). Encode expects a valid EID (as decode, parse and
 * the setters make) and writes its shortest form.
 */
int bp_eid_decode(struct cbuf_rd *rd, struct bp_eid *ret, const char **ret_why);
void bp_eid_encode(struct cbuf_wr *wr, const struct bp_eid *eid);

/*
 * Text form: "dtn:none", "dtn://node/demux", "ipn:N.S", "ipn:A.N.S",
 * "ipn:!.S". Parse returns 0 or -EINVAL (with *ret_why); the EID's ssp
 * points into text. Format writes like snprintf: returns the length the
 * text needs, NUL-terminates when cap > 0; -EINVAL for an invalid EID.
 * Format writes allocator 0 as "ipn:N.S" and LocalNode as "ipn:!.S".
 */
int bp_eid_parse(const char *text, size_t len, struct bp_eid *ret, const char **ret_why);
int bp_eid_format(const struct bp_eid *eid, char *buf, size_t cap);

#endif
