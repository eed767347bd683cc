/* SPDX-License-Identifier: MIT */
/*
 * Endpoint IDs: the CBOR form (RFC 9171 4.2.5.1) and the text form, for the
 * dtn scheme (RFC 9171 4.2.5.1.1) and the ipn scheme as RFC 9758 updates it.
 *
 * The ipn rules applied (RFC 9758):
 * - An ipn EID names a node by its Fully Qualified Node Number, a 32-bit
 *   allocator identifier and a 32-bit node number (3.3); service numbers
 *   are 64-bit.
 * - CBOR: [FQNN, service] with FQNN = allocator << 32 | node (6.1.1), or
 *   [allocator, node, service] with each of the first two below 2^32 (6.1.2).
 *   A three-element SSP with allocator 0 is valid, if not the recommended
 *   form; the form received is kept so that re-encoding gives the same bytes.
 * - The null endpoint is ipn:0.0 (3.4.1, 5.2); ipn:0.S with S != 0 is treated
 *   as null as well rather than refused (a report-to seen in the wild).
 * - LocalNode is node number 2^32-1 of allocator 0, written "ipn:!.S"
 *   (3.4.2). Whether a bundle may carry it (5.4) is for the bundle layer.
 * - Text: "ipn:N.S" (allocator 0, N below 2^32), "ipn:A.N.S", "ipn:!.S";
 *   decimal numbers without sign or leading zeros, so that each EID has one
 *   spelling and format(parse(text)) == text.
 */
#include "eid.h"

#include "cbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Deepest nesting skipped inside the SSP of a scheme we do not know. */

/* Stable `why` texts: callers and tests compare them. */
#define WHY_NOT_PAIR "EID is not a 2-element array"
#define WHY_SCHEME_TYPE "EID scheme is not an unsigned integer"
#define WHY_SCHEME "unknown URI scheme"
#define WHY_NO_SCHEME "missing URI scheme"
#define WHY_DTN_TYPE "dtn: SSP is neither a text string nor 0"
#define WHY_DTN_UINT "dtn: SSP integer other than 0"
#define WHY_DTN_LONG "dtn: SSP too long"
#define WHY_DTN_SLASHES "dtn: missing \"//\""
#define WHY_DTN_EMPTY "dtn: empty node name"
#define WHY_DTN_NAME_CHAR "dtn: bad character in node name"
#define WHY_DTN_PCT "dtn: bad percent-encoding in node name"
#define WHY_DTN_DELIM "dtn: missing \"/\" after node name"
#define WHY_DTN_DEMUX "dtn: bad character in demux"
#define WHY_IPN_TYPE "ipn: SSP is not an array"
#define WHY_IPN_COUNT "ipn: SSP is not 2 or 3 elements"
#define WHY_IPN_PARTS "ipn: too many components"

/* The numbers of an ipn EID, for per-field messages. */
enum ipn_field {
	IPN_ALLOCATOR,
	IPN_NODE,
	IPN_SERVICE,
};

static const struct {
	const char *not_uint; /* CBOR: not an unsigned integer */
	const char *missing;  /* text: empty */
	const char *not_dec;  /* text: not a plain decimal number */
	const char *zero;     /* text: leading zero */
	const char *big;      /* over the field's width */
} ipn_why[] = {
	[IPN_ALLOCATOR] = {
		"ipn: allocator identifier is not an unsigned integer",
		"ipn: allocator identifier missing",
		"ipn: allocator identifier is not a decimal number",
		"ipn: allocator identifier has a leading zero",
		"ipn: allocator identifier exceeds 32 bits",
	},
	[IPN_NODE] = {
		"ipn: node number is not an unsigned integer",
		"ipn: node number missing",
		"ipn: node number is not a decimal number",
		"ipn: node number has a leading zero",
		"ipn: node number exceeds 32 bits",
	},
	[IPN_SERVICE] = {
		"ipn: service number is not an unsigned integer",
		"ipn: service number missing",
		"ipn: service number is not a decimal number",
		"ipn: service number has a leading zero",
		"ipn: service number exceeds 64 bits",
	},
};

static const uint64_t ipn_max[] = {
	[IPN_ALLOCATOR] = UINT32_MAX,
	[IPN_NODE] = UINT32_MAX,
	[IPN_SERVICE] = UINT64_MAX,
};

static int bad(const char **why, const char *text)
{
	*why = text;
	return -EBADMSG;
}

/* Values */

void bp_eid_set_none(struct bp_eid *eid)
{
	*eid = (struct bp_eid){ .scheme = BP_EID_DTN };
}

/*
 * `node` is read as an FQNN, as RFC 9171's 64-bit node numbers are by RFC
 * 9758 6.1.1, so a value of 2^32 or more lands in the allocator.
 */
void bp_eid_set_ipn(struct bp_eid *eid, uint64_t node, uint64_t service)
{
	*eid = (struct bp_eid){
		.scheme = BP_EID_IPN,
		.allocator = node >> 32,
		.node = node & UINT32_MAX,
		.service = service,
	};
	eid->ipn_elems = eid->allocator ? 3 : 2;
}

static bool ipn_is_localnode(const struct bp_eid *eid)
{
	return eid->allocator == 0 && eid->node == BP_EID_IPN_LOCALNODE;
}

bool bp_eid_is_null(const struct bp_eid *eid)
{
	if (eid->scheme == BP_EID_DTN)
		return eid->ssp_len == 0;
	return eid->scheme == BP_EID_IPN && eid->allocator == 0 && eid->node == 0;
}

bool bp_eid_equal(const struct bp_eid *a, const struct bp_eid *b)
{
	if (a->scheme != b->scheme)
		return false;
	if (a->scheme == BP_EID_IPN)
		return a->allocator == b->allocator && a->node == b->node &&
		       a->service == b->service;
	if (a->scheme == BP_EID_DTN)
		return a->ssp_len == b->ssp_len &&
		       (a->ssp_len == 0 || memcmp(a->ssp, b->ssp, a->ssp_len) == 0);
	return false;
}

/*
 * RFC 9171 4.2.5.1.1: a dtn EID with an empty demux, RFC 9758 5.7: an ipn EID
 * with service 0. The null endpoint names no node in either scheme.
 */
bool bp_eid_is_node_id(const struct bp_eid *eid)
{
	if (bp_eid_is_null(eid))
		return false;
	if (eid->scheme == BP_EID_IPN)
		return eid->service == 0;
	/* A valid SSP's first '/' after "//" ends the node name. */
	return eid->scheme == BP_EID_DTN && eid->ssp_len > 2 &&
	       (memchr(eid->ssp + 2, '/', eid->ssp_len - 2) == eid->ssp + eid->ssp_len - 1 ||
		bp_eid_dtn_legacy(eid));
}

bool bp_eid_dtn_legacy(const struct bp_eid *eid)
{
	return eid->scheme == BP_EID_DTN && eid->ssp_len > 2 &&
	       memchr(eid->ssp + 2, '/', eid->ssp_len - 2) == NULL;
}

/* dtn SSP syntax (RFC 9171 4.2.5.1.1) */

/* RFC 3986 3.2.2 reg-name: unreserved / sub-delims (pct-encoded apart). */
static bool reg_name_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL;
}

static bool hex_digit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * dtn-hier-part = "//" node-name "/" demux, node-name = reg-name (at least
 * one character here: an empty name names no node), demux = *VCHAR.
 * Returns NULL when s is one, else why not. With `legacy_ok`, "//node"
 * without the "/" is accepted too: RFC 5050-era node IDs that deployed
 * implementations still put on the wire (bp_eid_dtn_legacy()).
 */
static const char *dtn_ssp_check(const char *s, size_t len, bool legacy_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (len > BP_EID_DTN_SSP_MAX)
		return WHY_DTN_LONG;
	if (len < 2 || p[0] != '/' || p[1] != '/')
		return WHY_DTN_SLASHES;
	for (i = 2; i < len && p[i] != '/'; i++) {
		if (p[i] == '%') {
			if (len - i < 3 || !hex_digit(p[i + 1]) || !hex_digit(p[i + 2]))
				return WHY_DTN_PCT;
			i += 2;
		} else if (!reg_name_char(p[i])) {
			return WHY_DTN_NAME_CHAR;
		}
	}
	if (i == 2)
		return WHY_DTN_EMPTY;
	if (i == len)
		return legacy_ok ? NULL : WHY_DTN_DELIM;
	for (i++; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return WHY_DTN_DEMUX;
	return NULL;
}

/* CBOR form */

/* Size of a definite string head from its first byte (RFC 8949 3). */
static size_t str_head_size(uint8_t initial)
{
	static const uint8_t ext[] = { 2, 3, 5, 9 };
	uint8_t info = initial & 0x1f;

	return info < 24 || info > 27 ? 1 : ext[info - 24];
}

/*
 * The text string SSP of a dtn EID is cut short: refuse it already if
 * the length its head declares is over the limit, so that a hostile length
 * is not waited for.
 */
static int dtn_str_short(struct cbuf_rd *rd, size_t start, const char **why)
{
	size_t want = rd->need - start;
	size_t head = str_head_size(rd->buf[start]);

	if (rd->need == SIZE_MAX || (want > head && want - head > BP_EID_DTN_SSP_MAX))
		return bad(why, WHY_DTN_LONG);
	return -ENODATA;
}

static int dtn_decode(struct cbuf_rd *rd, struct bp_eid *eid, const char **why)
{
	size_t start = rd->pos;
	int kind = cbuf_peek(rd);
	uint64_t v;
	int r;

	/* cbuf_peek() leaves rd->need alone; the read sets it. */
	if (kind == -ENODATA || kind == CBUF_UINT) {
		r = cbuf_read_uint(rd, &v);
		if (r < 0)
			return r;
		if (v != 0)
			return bad(why, WHY_DTN_UINT);
		bp_eid_set_none(eid);
		return 0;
	}
	if (kind != CBUF_TSTR)
		return bad(why, WHY_DTN_TYPE);
	r = cbuf_read_tstr(rd, &eid->ssp, &eid->ssp_len);
	if (r == -ENODATA)
		return dtn_str_short(rd, start, why);
	if (r < 0)
		return bad(why, WHY_DTN_TYPE);
	*why = dtn_ssp_check(eid->ssp, eid->ssp_len, true);
	return *why ? -EBADMSG : 0;
}

/* The field an ipn SSP element stands for, by the array's size and position. */
static enum ipn_field ipn_field_at(unsigned count, unsigned i)
{
	static const enum ipn_field three[] = { IPN_ALLOCATOR, IPN_NODE, IPN_SERVICE };

	if (count == 3)
		return three[i];
	return i == 0 ? IPN_NODE : IPN_SERVICE;
}

/*
 * The elements of an ipn SSP array: 2 or 3 unsigned integers, then the
 * array's end. RFC 9171 4.1 allows the indefinite-length form, which ends
 * with a break instead of a count (its fields are known only at the end).
 */
static int ipn_elements(struct cbuf_rd *rd, bool indef, uint64_t count, uint64_t v[3],
			unsigned *ret_n, const char **why)
{
	unsigned n = 0;
	int r;

	while (indef ? cbuf_peek(rd) != CBUF_BREAK : n < count) {
		if (n == 3)
			return bad(why, WHY_IPN_COUNT);
		r = cbuf_read_uint(rd, &v[n]);
		if (r == -EBADMSG)
			return bad(why,
				   ipn_why[ipn_field_at(indef ? 2 : (unsigned)count, n)].not_uint);
		if (r < 0)
			return r;
		n++;
	}
	if (indef) {
		r = cbuf_read_break(rd);
		if (r < 0)
			return r;
	}
	if (n != 2 && n != 3)
		return bad(why, WHY_IPN_COUNT);
	*ret_n = n;
	return 0;
}

/* RFC 9758 6.1.1 ([FQNN, service]) and 6.1.2 ([allocator, node, service]). */
static int ipn_decode(struct cbuf_rd *rd, struct bp_eid *eid, const char **why)
{
	uint64_t count, v[3];
	unsigned n, i;
	bool indef;
	int r;

	r = cbuf_read_array_any(rd, &count, &indef);
	if (r == -EBADMSG)
		return bad(why, WHY_IPN_TYPE);
	if (r < 0)
		return r;
	if (!indef && count != 2 && count != 3)
		return bad(why, WHY_IPN_COUNT);
	r = ipn_elements(rd, indef, count, v, &n, why);
	if (r < 0)
		return r;
	/* A 2-element FQNN may use all 64 bits: both halves are 32-bit. */
	for (i = n == 3 ? 0 : 1; i < n; i++)
		if (v[i] > ipn_max[ipn_field_at(n, i)])
			return bad(why, ipn_why[ipn_field_at(n, i)].big);
	eid->ipn_elems = (uint8_t)n;
	eid->allocator = n == 3 ? v[0] : v[0] >> 32;
	eid->node = n == 3 ? v[1] : v[0] & UINT32_MAX;
	eid->service = v[n - 1];
	return 0;
}

/* A scheme we cannot interpret (RFC 9171 4.2.5.1 leaves the set open). */
static int bad_scheme(const char **why)
{
	*why = WHY_SCHEME;
	return -EPROTONOSUPPORT;
}

/*
 * RFC 9171 4.2.5.1: [scheme code, SSP], either array form (4.1). A scheme
 * other than dtn and ipn is refused as soon as its code is read: the code
 * alone decides, and waiting for an SSP nobody will read would let a peer
 * make an incremental decoder re-read a large item on every chunk.
 */
static int eid_decode(struct cbuf_rd *rd, struct bp_eid *eid, const char **why)
{
	uint64_t n, scheme;
	bool indef;
	int r;

	r = cbuf_read_array_any(rd, &n, &indef);
	if (r == -EBADMSG || (r == 0 && !indef && n != 2))
		return bad(why, WHY_NOT_PAIR);
	if (r < 0)
		return r;
	r = cbuf_read_uint(rd, &scheme);
	if (r == -EBADMSG)
		return bad(why,
			   indef && cbuf_peek(rd) == CBUF_BREAK ? WHY_NOT_PAIR : WHY_SCHEME_TYPE);
	if (r < 0)
		return r;
	eid->scheme = (uint8_t)scheme;
	if (indef && cbuf_peek(rd) == CBUF_BREAK)
		return bad(why, WHY_NOT_PAIR);
	if (scheme == BP_EID_DTN)
		r = dtn_decode(rd, eid, why);
	else if (scheme == BP_EID_IPN)
		r = ipn_decode(rd, eid, why);
	else
		return bad_scheme(why);
	if (r < 0 || !indef)
		return r;
	r = cbuf_read_break(rd);
	if (r == -EBADMSG)
		return bad(why, WHY_NOT_PAIR);
	return r;
}

int bp_eid_decode(struct cbuf_rd *rd, struct bp_eid *ret, const char **ret_why)
{
	size_t pos = rd->pos;
	bool noncanonical = rd->noncanonical;
	struct bp_eid eid = { 0 };
	const char *why = NULL;
	int r = eid_decode(rd, &eid, &why);

	if (r < 0) {
		rd->pos = pos;
		rd->noncanonical = noncanonical;
		if (ret_why && r != -ENODATA)
			*ret_why = why;
		return r;
	}
	*ret = eid;
	return 0;
}

void bp_eid_encode(struct cbuf_wr *wr, const struct bp_eid *eid)
{
	cbuf_write_array(wr, 2);
	cbuf_write_uint(wr, eid->scheme);
	if (eid->scheme == BP_EID_IPN && eid->ipn_elems == 3) {
		cbuf_write_array(wr, 3);
		cbuf_write_uint(wr, eid->allocator);
		cbuf_write_uint(wr, eid->node);
		cbuf_write_uint(wr, eid->service);
	} else if (eid->scheme == BP_EID_IPN) {
		cbuf_write_array(wr, 2);
		cbuf_write_uint(wr, eid->allocator << 32 | (eid->node & UINT32_MAX));
		cbuf_write_uint(wr, eid->service);
	} else if (eid->scheme == BP_EID_DTN && eid->ssp_len > 0) {
		cbuf_write_tstr(wr, eid->ssp, eid->ssp_len);
	} else {
		/* dtn:none; for another scheme at least well-formed CBOR. */
		cbuf_write_uint(wr, 0);
	}
}

/* Text form */

/*
 * One decimal field of an ipn EID: digits only, no leading zero, at most
 * the field's width. Returns NULL or why not.
 */
static const char *dec_parse(const char *s, size_t len, enum ipn_field f, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return ipn_why[f].missing;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return ipn_why[f].not_dec;
	if (s[0] == '0' && len > 1)
		return ipn_why[f].zero;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (ipn_max[f] - d) / 10)
			return ipn_why[f].big;
		v = v * 10 + d;
	}
	*ret = v;
	return NULL;
}

/* ipn-hier-part after "ipn:" (RFC 9758; see the rules at the top). */
static const char *ipn_parse(const char *s, size_t len, struct bp_eid *eid)
{
	const char *part[3];
	size_t plen[3], n = 0, i, start = 0;
	const char *why;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (n == 3)
			return WHY_IPN_PARTS;
		part[n] = s + start;
		plen[n++] = i - start;
		start = i + 1;
	}
	if (n == 1)
		return plen[0] ? ipn_why[IPN_SERVICE].missing : ipn_why[IPN_NODE].missing;

	*eid = (struct bp_eid){ .scheme = BP_EID_IPN };
	if (n == 3) {
		why = dec_parse(part[0], plen[0], IPN_ALLOCATOR, &eid->allocator);
		if (why)
			return why;
	}
	if (n == 2 && plen[0] == 1 && part[0][0] == '!')
		eid->node = BP_EID_IPN_LOCALNODE;
	else if ((why = dec_parse(part[n - 2], plen[n - 2], IPN_NODE, &eid->node)))
		return why;
	why = dec_parse(part[n - 1], plen[n - 1], IPN_SERVICE, &eid->service);
	eid->ipn_elems = eid->allocator ? 3 : 2;
	return why;
}

/* URI scheme names compare case-insensitively (RFC 3986 3.1). */
static bool scheme_is(const char *text, size_t len, const char *name)
{
	size_t i;

	if (len < 4 || text[3] != ':')
		return false;
	for (i = 0; i < 3; i++)
		if ((text[i] | 0x20) != name[i])
			return false;
	return true;
}

int bp_eid_parse(const char *text, size_t len, struct bp_eid *ret, const char **ret_why)
{
	struct bp_eid eid = { 0 };
	const char *why;

	if (scheme_is(text, len, "dtn")) {
		eid.scheme = BP_EID_DTN;
		eid.ssp = text + 4;
		eid.ssp_len = len - 4;
		if (eid.ssp_len == 4 && memcmp(eid.ssp, "none", 4) == 0) {
			bp_eid_set_none(&eid);
			why = NULL;
		} else {
			why = dtn_ssp_check(eid.ssp, eid.ssp_len, false);
		}
	} else if (scheme_is(text, len, "ipn")) {
		why = ipn_parse(text + 4, len - 4, &eid);
	} else {
		why = len && memchr(text, ':', len) ? WHY_SCHEME : WHY_NO_SCHEME;
	}
	if (why) {
		if (ret_why)
			*ret_why = why;
		return -EINVAL;
	}
	*ret = eid;
	return 0;
}

int bp_eid_format(const struct bp_eid *eid, char *buf, size_t cap)
{
	if (eid->scheme == BP_EID_DTN) {
		if (eid->ssp_len == 0)
			return snprintf(buf, cap, "dtn:none");
		if (eid->ssp_len > BP_EID_DTN_SSP_MAX || !eid->ssp)
			return -EINVAL;
		return snprintf(buf, cap, "dtn:%.*s", (int)eid->ssp_len, eid->ssp);
	}
	if (eid->scheme != BP_EID_IPN || eid->allocator > UINT32_MAX || eid->node > UINT32_MAX)
		return -EINVAL;
	if (ipn_is_localnode(eid))
		return snprintf(buf, cap, "ipn:!.%" PRIu64, eid->service);
	if (eid->allocator == 0)
		return snprintf(buf, cap, "ipn:%" PRIu64 ".%" PRIu64, eid->node, eid->service);
	return snprintf(buf, cap, "ipn:%" PRIu64 ".%" PRIu64 ".%" PRIu64, eid->allocator, eid->node,
			eid->service);
}
