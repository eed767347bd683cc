/* SPDX-License-Identifier: MIT */
/* Endpoint IDs: CBOR and text forms, predicates (RFC 9171 4.2.5, RFC 9758). */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbuf.h"
#include "eid.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_MAX 2048

/* Hex text (spaces allowed between bytes) to bytes; fails the test on bad hex. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	for (;;) {
		while (*hex == ' ')
			hex++;
		if (!*hex)
			return n;
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		assert_true(hex[1] != '\0' && hex[1] != ' ');
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
}

static size_t encode(const struct bp_eid *eid, uint8_t *buf, size_t cap)
{
	struct cbuf_wr wr;

	cbuf_wr_init(&wr, buf, cap);
	bp_eid_encode(&wr, eid);
	assert_true(cbuf_wr_ok(&wr));
	return wr.len;
}

static int decode(const uint8_t *buf, size_t len, struct bp_eid *ret, const char **why)
{
	struct cbuf_rd rd;
	int r;

	cbuf_rd_init(&rd, buf, len);
	r = bp_eid_decode(&rd, ret, why);
	if (r == 0)
		assert_int_equal(rd.pos, len);
	else
		assert_int_equal(rd.pos, 0);
	return r;
}

static void parse_ok(const char *text, struct bp_eid *ret)
{
	const char *why = NULL;
	int r = bp_eid_parse(text, strlen(text), ret, &why);

	if (r != 0)
		fail_msg("parse \"%s\": %s", text, why);
}

/* Known answers: wire bytes, their text, and the fields they carry. */
struct vec {
	const char *hex;
	const char *text;
	uint8_t scheme;
	uint8_t elems;
	uint64_t allocator, node, service;
	const char *ssp;
	bool text_same_bytes; /* parsing the text encodes to hex again */
};

static const struct vec vecs[] = {
	{ "820100", "dtn:none", BP_EID_DTN, 0, 0, 0, 0, NULL, true },
	{ "8202820102", "ipn:1.2", BP_EID_IPN, 2, 0, 1, 2, NULL, true },
	{ "8202820000", "ipn:0.0", BP_EID_IPN, 2, 0, 0, 0, NULL, true },
	{ "8202820100", "ipn:1.0", BP_EID_IPN, 2, 0, 1, 0, NULL, true },
	{ "8201652f2f612f62", "dtn://a/b", BP_EID_DTN, 0, 0, 0, 0, "//a/b", true },
	{ "8201672f2f6e6f64652f", "dtn://node/", BP_EID_DTN, 0, 0, 0, 0, "//node/", true },
	{ "8201781c2f2f612534312124262728292a2b2c3b3d2d2e5f7e392f783f79237a",
	  "dtn://a%41!$&'()*+,;=-._~9/x?y#z", BP_EID_DTN, 0, 0, 0, 0,
	  "//a%41!$&'()*+,;=-._~9/x?y#z", true },
	{ "82016a2f2f6e2f7e612f2f622f", "dtn://n/~a//b/", BP_EID_DTN, 0, 0, 0, 0, "//n/~a//b/",
	  true },
	/* RFC 9758 6.1.2: three elements, allocator 977000. */
	{ "8202831a000ee868186401", "ipn:977000.100.1", BP_EID_IPN, 3, 977000, 100, 1, NULL, true },
	/* RFC 9758 6.1.1: the same EID as one FQNN. */
	{ "8202821b000ee8680000006401", "ipn:977000.100.1", BP_EID_IPN, 2, 977000, 100, 1, NULL,
	  false },
	/* Three elements with allocator 0: valid, kept as received. */
	{ "820283000506", "ipn:5.6", BP_EID_IPN, 3, 0, 5, 6, NULL, false },
	/* RFC 9758 3.4.2: LocalNode. */
	{ "8202821affffffff07", "ipn:!.7", BP_EID_IPN, 2, 0, UINT32_MAX, 7, NULL, true },
	{ "8202821afffffffe1bffffffffffffffff", "ipn:4294967294.18446744073709551615", BP_EID_IPN,
	  2, 0, 4294967294u, UINT64_MAX, NULL, true },
	{ "8202821bffffffffffffffff1bffffffffffffffff",
	  "ipn:4294967295.4294967295.18446744073709551615", BP_EID_IPN, 2, UINT32_MAX, UINT32_MAX,
	  UINT64_MAX, NULL, false },
	{ "8202831affffffff1affffffff1bffffffffffffffff",
	  "ipn:4294967295.4294967295.18446744073709551615", BP_EID_IPN, 3, UINT32_MAX, UINT32_MAX,
	  UINT64_MAX, NULL, true },
	{ "8202821818190100", "ipn:24.256", BP_EID_IPN, 2, 0, 24, 256, NULL, true },
	{ "8202821a000100001b0000000100000000", "ipn:65536.4294967296", BP_EID_IPN, 2, 0, 65536,
	  4294967296u, NULL, true },
};

static void check_fields(const struct vec *v, const struct bp_eid *eid)
{
	assert_int_equal(eid->scheme, v->scheme);
	if (v->scheme == BP_EID_IPN) {
		assert_int_equal(eid->ipn_elems, v->elems);
		assert_int_equal(eid->allocator, v->allocator);
		assert_int_equal(eid->node, v->node);
		assert_int_equal(eid->service, v->service);
	} else if (v->ssp) {
		assert_int_equal(eid->ssp_len, strlen(v->ssp));
		assert_memory_equal(eid->ssp, v->ssp, eid->ssp_len);
	} else {
		assert_int_equal(eid->ssp_len, 0);
	}
}

static void decode_reads_known_vectors(void **state)
{
	uint8_t buf[BUF_MAX];
	struct bp_eid eid;
	struct cbuf_rd rd;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		cbuf_rd_init(&rd, buf, len);
		assert_int_equal(bp_eid_decode(&rd, &eid, NULL), 0);
		assert_int_equal(rd.pos, len);
		assert_false(rd.noncanonical);
		check_fields(&vecs[i], &eid);
		/* dtn text is not copied: it points into the wire bytes. */
		if (vecs[i].ssp)
			assert_ptr_equal(eid.ssp, buf + len - eid.ssp_len);
	}
}

static void encode_gives_back_known_vectors(void **state)
{
	uint8_t buf[BUF_MAX], out[BUF_MAX];
	struct cbuf_wr wr;
	struct bp_eid eid;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		assert_int_equal(decode(buf, len, &eid, NULL), 0);
		assert_int_equal(encode(&eid, out, sizeof(out)), len);
		assert_memory_equal(out, buf, len);
		/* Measuring pass, then one byte short. */
		cbuf_wr_init(&wr, NULL, 0);
		bp_eid_encode(&wr, &eid);
		assert_int_equal(wr.len, len);
		cbuf_wr_init(&wr, out, len - 1);
		bp_eid_encode(&wr, &eid);
		assert_false(cbuf_wr_ok(&wr));
	}
}

static void format_writes_known_text(void **state)
{
	uint8_t buf[BUF_MAX];
	char text[BUF_MAX];
	struct bp_eid eid;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		assert_int_equal(decode(buf, len, &eid, NULL), 0);
		assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), strlen(vecs[i].text));
		assert_string_equal(text, vecs[i].text);
	}
}

static void parse_reads_known_text(void **state)
{
	uint8_t buf[BUF_MAX], out[BUF_MAX];
	struct bp_eid wire, eid;
	size_t i, len, n;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		assert_int_equal(decode(buf, len, &wire, NULL), 0);
		parse_ok(vecs[i].text, &eid);
		assert_true(bp_eid_equal(&eid, &wire));
		n = encode(&eid, out, sizeof(out));
		if (vecs[i].text_same_bytes) {
			assert_int_equal(n, len);
			assert_memory_equal(out, buf, len);
		}
	}
}

/* RFC 9758 6.1: allocator 0 as two elements, others as three, unless kept. */
static void parse_picks_element_form_by_allocator(void **state)
{
	struct bp_eid eid;

	parse_ok("ipn:0.5.6", &eid);
	assert_int_equal(eid.ipn_elems, 2);
	assert_int_equal(eid.allocator, 0);
	parse_ok("ipn:1.5.6", &eid);
	assert_int_equal(eid.ipn_elems, 3);
	parse_ok("ipn:!.0", &eid);
	assert_int_equal(eid.ipn_elems, 2);
}

static void decode_needs_more_at_every_prefix(void **state)
{
	uint8_t buf[BUF_MAX];
	struct bp_eid eid, untouched;
	struct cbuf_rd rd;
	const char *why;
	size_t i, len, cut;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		/* Two bytes before the EID, so "where it was" is not 0. */
		buf[0] = 0xaa;
		buf[1] = 0xbb;
		len = 2 + unhex(vecs[i].hex, buf + 2, sizeof(buf) - 2);
		for (cut = 2; cut < len; cut++) {
			cbuf_rd_init(&rd, buf, cut);
			rd.pos = 2;
			why = "untouched";
			memset(&eid, 0x5a, sizeof(eid));
			untouched = eid;
			assert_int_equal(bp_eid_decode(&rd, &eid, &why), -ENODATA);
			assert_int_equal(rd.pos, 2);
			assert_false(rd.noncanonical);
			assert_true(rd.need > cut);
			assert_true(rd.need <= len);
			assert_string_equal(why, "untouched");
			assert_memory_equal(&eid, &untouched, sizeof(eid));
		}
	}
}

/* Feeding the bytes as they come, need tells when to try again. */
static void decode_need_leads_to_the_whole_eid(void **state)
{
	uint8_t buf[BUF_MAX];
	struct bp_eid eid;
	struct cbuf_rd rd;
	size_t i, len, have, tries;
	int r;

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		have = 0;
		tries = 0;
		cbuf_rd_init(&rd, buf, have);
		while ((r = bp_eid_decode(&rd, &eid, NULL)) == -ENODATA) {
			assert_true(rd.need > have && rd.need <= len);
			have = rd.need;
			rd.len = have;
			assert_true(++tries <= len);
		}
		assert_int_equal(r, 0);
		assert_int_equal(rd.pos, len);
		check_fields(&vecs[i], &eid);
	}
}

struct bad {
	const char *hex;
	int err;
	const char *why;
};

static const struct bad bads[] = {
	/* RFC 9171 4.2.5.1: [scheme code, SSP] */
	{ "00", -EBADMSG, "EID is not a 2-element array" },
	{ "80", -EBADMSG, "EID is not a 2-element array" },
	{ "8101", -EBADMSG, "EID is not a 2-element array" },
	{ "83010000", -EBADMSG, "EID is not a 2-element array" },
	{ "9f01ff", -EBADMSG, "EID is not a 2-element array" },
	{ "9f010000ff", -EBADMSG, "EID is not a 2-element array" },
	{ "a10100", -EBADMSG, "EID is not a 2-element array" },
	{ "652f2f612f62", -EBADMSG, "EID is not a 2-element array" },
	{ "822000", -EBADMSG, "EID scheme is not an unsigned integer" },
	{ "82613100", -EBADMSG, "EID scheme is not an unsigned integer" },
	{ "82f500", -EBADMSG, "EID scheme is not an unsigned integer" },
	{ "82820102820102", -EBADMSG, "EID scheme is not an unsigned integer" },
	{ "820300", -EPROTONOSUPPORT, "unknown URI scheme" },
	{ "820000", -EPROTONOSUPPORT, "unknown URI scheme" },
	{ "821903e8826161a0", -EPROTONOSUPPORT, "unknown URI scheme" },
	{ "82031c", -EPROTONOSUPPORT, "unknown URI scheme" }, /* SSP never read */
	/* dtn SSP: uint 0 or text (RFC 9171 4.2.5.1.1) */
	{ "820101", -EBADMSG, "dtn: SSP integer other than 0" },
	{ "82011bffffffffffffffff", -EBADMSG, "dtn: SSP integer other than 0" },
	{ "820120", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "820140", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "8201f6", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "820180", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "82011c", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "82017f652f2f612f62ff", -EBADMSG, "dtn: SSP is neither a text string nor 0" },
	{ "820160", -EBADMSG, "dtn: missing \"//\"" },
	{ "8201646e6f6e65", -EBADMSG, "dtn: missing \"//\"" },		       /* "none" */
	{ "8201632f612f", -EBADMSG, "dtn: missing \"//\"" },		       /* "/a/" */
	{ "8201635c5c61", -EBADMSG, "dtn: missing \"//\"" },		       /* "\\a" */
	{ "8201622f2f", -EBADMSG, "dtn: empty node name" },		       /* "//" */
	{ "8201632f2f2f", -EBADMSG, "dtn: empty node name" },		       /* "///" */
	{ "8201642f2f2f62", -EBADMSG, "dtn: empty node name" },		       /* "///b" */
	{ "8201662f2f6120622f", -EBADMSG, "dtn: bad character in node name" }, /* space */
	{ "8201662f2f613a312f", -EBADMSG, "dtn: bad character in node name" }, /* ':' */
	{ "8201662f2f6140622f", -EBADMSG, "dtn: bad character in node name" }, /* '@' */
	{ "8201652f2f5b5d2f", -EBADMSG, "dtn: bad character in node name" },   /* "[]" */
	{ "8201652f2f61002f", -EBADMSG, "dtn: bad character in node name" },   /* NUL */
	{ "8201652f2fc3a92f", -EBADMSG, "dtn: bad character in node name" },   /* UTF-8 */
	{ "8201642f2f6125", -EBADMSG, "dtn: bad percent-encoding in node name" },
	{ "8201662f2f6125322f", -EBADMSG, "dtn: bad percent-encoding in node name" },
	{ "8201672f2f61257a7a2f", -EBADMSG, "dtn: bad percent-encoding in node name" },
	{ "8201662f2f612f6220", -EBADMSG, "dtn: bad character in demux" }, /* space */
	{ "8201652f2f612f7f", -EBADMSG, "dtn: bad character in demux" },   /* DEL */
	{ "8201652f2f612f0a", -EBADMSG, "dtn: bad character in demux" },   /* LF */
	{ "8201652f2f612f00", -EBADMSG, "dtn: bad character in demux" },   /* NUL */
	{ "8201662f2f612fc3a9", -EBADMSG, "dtn: bad character in demux" }, /* UTF-8 */
	/* ipn SSP (RFC 9758 6.1) */
	{ "820200", -EBADMSG, "ipn: SSP is not an array" },
	{ "8202652f2f612f62", -EBADMSG, "ipn: SSP is not an array" },
	{ "820280", -EBADMSG, "ipn: SSP is not 2 or 3 elements" },
	{ "82028101", -EBADMSG, "ipn: SSP is not 2 or 3 elements" },
	{ "82028400010203", -EBADMSG, "ipn: SSP is not 2 or 3 elements" },
	{ "8202822001", -EBADMSG, "ipn: node number is not an unsigned integer" },
	{ "820282616101", -EBADMSG, "ipn: node number is not an unsigned integer" },
	{ "820282f93c0001", -EBADMSG, "ipn: node number is not an unsigned integer" },
	{ "8202821c01", -EBADMSG, "ipn: node number is not an unsigned integer" },
	{ "8202820120", -EBADMSG, "ipn: service number is not an unsigned integer" },
	{ "820282013bffffffffffffffff", -EBADMSG,
	  "ipn: service number is not an unsigned integer" },
	{ "820282014101", -EBADMSG, "ipn: service number is not an unsigned integer" },
	{ "820283200102", -EBADMSG, "ipn: allocator identifier is not an unsigned integer" },
	{ "820283012002", -EBADMSG, "ipn: node number is not an unsigned integer" },
	{ "82028301026131", -EBADMSG, "ipn: service number is not an unsigned integer" },
	{ "8202831b00000001000000000102", -EBADMSG, "ipn: allocator identifier exceeds 32 bits" },
	{ "820283011b0000000100000000 02", -EBADMSG, "ipn: node number exceeds 32 bits" },
	{ "8202831bffffffffffffffff0102", -EBADMSG, "ipn: allocator identifier exceeds 32 bits" },
};

static void check_rejects(const struct bad *b)
{
	uint8_t buf[BUF_MAX];
	struct bp_eid eid, untouched;
	struct cbuf_rd rd;
	const char *why = NULL;
	size_t len;

	buf[0] = 0xaa;
	len = 1 + unhex(b->hex, buf + 1, sizeof(buf) - 1);
	cbuf_rd_init(&rd, buf, len);
	rd.pos = 1;
	memset(&eid, 0x5a, sizeof(eid));
	untouched = eid;
	if (bp_eid_decode(&rd, &eid, &why) != b->err)
		fail_msg("%s: expected %d (%s)", b->hex, b->err, b->why);
	assert_non_null(why);
	assert_string_equal(why, b->why);
	assert_int_equal(rd.pos, 1);
	assert_false(rd.noncanonical);
	assert_memory_equal(&eid, &untouched, sizeof(eid));
}

static void decode_rejects_malformed_eids(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bads); i++)
		check_rejects(&bads[i]);
}

static void decode_works_without_why(void **state)
{
	uint8_t buf[16];
	struct bp_eid eid;
	size_t len = unhex("820101", buf, sizeof(buf));

	assert_int_equal(decode(buf, len, &eid, NULL), -EBADMSG);
	len = unhex("820300", buf, sizeof(buf));
	assert_int_equal(decode(buf, len, &eid, NULL), -EPROTONOSUPPORT);
}

/* A dtn SSP of n bytes "//n/xxx...", as CBOR [1, text]. */
static size_t dtn_of_len(uint8_t *buf, size_t cap, size_t n)
{
	struct cbuf_wr wr;
	char *text = malloc(n);

	assert_non_null(text);
	assert_true(n >= 4);
	memcpy(text, "//n/", 4);
	memset(text + 4, 'x', n - 4);
	cbuf_wr_init(&wr, buf, cap);
	cbuf_write_array(&wr, 2);
	cbuf_write_uint(&wr, BP_EID_DTN);
	cbuf_write_tstr(&wr, text, n);
	free(text);
	assert_true(cbuf_wr_ok(&wr));
	return wr.len;
}

static void decode_accepts_dtn_ssp_at_limit(void **state)
{
	uint8_t buf[BUF_MAX];
	struct bp_eid eid;
	const char *why;
	size_t len;

	len = dtn_of_len(buf, sizeof(buf), BP_EID_DTN_SSP_MAX);
	assert_int_equal(decode(buf, len, &eid, NULL), 0);
	assert_int_equal(eid.ssp_len, BP_EID_DTN_SSP_MAX);
	len = dtn_of_len(buf, sizeof(buf), BP_EID_DTN_SSP_MAX + 1);
	assert_int_equal(decode(buf, len, &eid, &why), -EBADMSG);
	assert_string_equal(why, "dtn: SSP too long");
}

/* The limit is checked on the declared length, before the text arrives. */
static void decode_refuses_long_dtn_ssp_from_its_head(void **state)
{
	static const char *heads[] = {
		"82017904",		  /* 1025 */
		"82017a000186a0",	  /* 100000 */
		"82017bffffffffffffffff", /* 2^64-1 */
		"82017b7fffffffffffffff",
	};
	uint8_t buf[BUF_MAX];
	struct bp_eid eid;
	const char *why;
	size_t i, len;

	len = dtn_of_len(buf, sizeof(buf), BP_EID_DTN_SSP_MAX + 1);
	for (i = 5; i < len; i++) {
		why = NULL;
		assert_int_equal(decode(buf, i, &eid, &why), -EBADMSG);
		assert_string_equal(why, "dtn: SSP too long");
	}
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		char hex[64];

		snprintf(hex, sizeof(hex), "%s%s", heads[i], i == 0 ? "01" : "");
		len = unhex(hex, buf, sizeof(buf));
		why = NULL;
		assert_int_equal(decode(buf, len, &eid, &why), -EBADMSG);
		assert_string_equal(why, "dtn: SSP too long");
	}
	/* At the limit it waits for the text. */
	len = dtn_of_len(buf, sizeof(buf), BP_EID_DTN_SSP_MAX);
	assert_int_equal(decode(buf, 5, &eid, NULL), -ENODATA);
}

static void decode_refuses_unknown_scheme_at_its_code(void **state)
{
	uint8_t buf[32];
	struct bp_eid eid;
	const char *why;
	size_t len = unhex("8207820163616263", buf, sizeof(buf));

	/* The scheme code decides: no waiting for an SSP nobody will read. */
	assert_int_equal(decode(buf, 1, &eid, NULL), -ENODATA);
	assert_int_equal(decode(buf, 2, &eid, &why), -EPROTONOSUPPORT);
	assert_string_equal(why, "unknown URI scheme");
	assert_int_equal(decode(buf, len, &eid, &why), -EPROTONOSUPPORT);
}

static void decode_accepts_indefinite_length_arrays(void **state)
{
	static const char *const forms[] = {
		"9f02820102ff",	  /* outer array indefinite */
		"82029f0102ff",	  /* ipn SSP indefinite */
		"9f029f0102ffff", /* both */
		"9f01652f2f612f62ff",
	};
	uint8_t buf[32];
	struct bp_eid eid;
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		size_t len = unhex(forms[i], buf, sizeof(buf));

		if (decode(buf, len, &eid, &why) != 0)
			fail_msg("%s: %s", forms[i], why);
		for (size_t cut = 0; cut < len; cut++)
			assert_int_equal(decode(buf, cut, &eid, NULL), -ENODATA);
	}
	unhex("82029f010203ff", buf, sizeof(buf));
	assert_int_equal(decode(buf, 7, &eid, &why), 0);
	assert_int_equal(eid.ipn_elems, 3);
	assert_int_equal(eid.allocator, 1);
	assert_int_equal(eid.node, 2);
	assert_int_equal(eid.service, 3);
	unhex("82029f01020304ff", buf, sizeof(buf));
	assert_int_equal(decode(buf, 8, &eid, &why), -EBADMSG);
	unhex("82029f01ff", buf, sizeof(buf));
	assert_int_equal(decode(buf, 5, &eid, &why), -EBADMSG);
}

/* RFC 8949 4.2.1 via cbuf: longer heads than needed are read and flagged. */
static void decode_marks_noncanonical_heads(void **state)
{
	static const struct {
		const char *hex, *shortest;
	} cases[] = {
		{ "82 01 1800", "820100" },
		{ "82 1801 00", "820100" },
		{ "9802 01 00", "820100" },
		{ "82 01 7805 2f2f612f62", "8201652f2f612f62" },
		{ "82 02 82 190001 02", "8202820102" },
		{ "82 02 82 01 1802", "8202820102" },
		{ "82 02 9802 01 02", "8202820102" },
		{ "8202831a000ee8681900641b0000000000000001", "8202831a000ee868186401" },
	};
	uint8_t buf[64], want[64], out[64];
	struct bp_eid eid;
	struct cbuf_rd rd;
	size_t i, len, wlen;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		len = unhex(cases[i].hex, buf, sizeof(buf));
		cbuf_rd_init(&rd, buf, len);
		if (bp_eid_decode(&rd, &eid, NULL) != 0)
			fail_msg("%s did not decode", cases[i].hex);
		assert_int_equal(rd.pos, len);
		assert_true(rd.noncanonical);
		wlen = unhex(cases[i].shortest, want, sizeof(want));
		assert_int_equal(encode(&eid, out, sizeof(out)), wlen);
		assert_memory_equal(out, want, wlen);
	}
}

/* A failed decode leaves the flag as it found it, set or not. */
static void decode_failure_restores_noncanonical(void **state)
{
	uint8_t buf[16];
	struct bp_eid eid;
	struct cbuf_rd rd;
	size_t len = unhex("82 02 82 1801 20", buf, sizeof(buf));

	cbuf_rd_init(&rd, buf, len);
	assert_int_equal(bp_eid_decode(&rd, &eid, NULL), -EBADMSG);
	assert_false(rd.noncanonical);
	cbuf_rd_init(&rd, buf, len - 1);
	assert_int_equal(bp_eid_decode(&rd, &eid, NULL), -ENODATA);
	assert_false(rd.noncanonical);
	rd.noncanonical = true;
	assert_int_equal(bp_eid_decode(&rd, &eid, NULL), -ENODATA);
	assert_true(rd.noncanonical);
	cbuf_rd_init(&rd, buf, len);
	rd.noncanonical = true;
	assert_int_equal(bp_eid_decode(&rd, &eid, NULL), -EBADMSG);
	assert_true(rd.noncanonical);
}

static void decode_reads_consecutive_eids(void **state)
{
	uint8_t buf[64];
	struct bp_eid a, b, c;
	struct cbuf_rd rd;
	size_t len = unhex("8202820102 820100 8201652f2f612f62", buf, sizeof(buf));

	cbuf_rd_init(&rd, buf, len);
	assert_int_equal(bp_eid_decode(&rd, &a, NULL), 0);
	assert_int_equal(rd.pos, 5);
	assert_int_equal(bp_eid_decode(&rd, &b, NULL), 0);
	assert_int_equal(rd.pos, 8);
	assert_int_equal(bp_eid_decode(&rd, &c, NULL), 0);
	assert_int_equal(rd.pos, len);
	assert_int_equal(a.scheme, BP_EID_IPN);
	assert_true(bp_eid_is_null(&b));
	assert_int_equal(c.ssp_len, 5);
	assert_int_equal(bp_eid_decode(&rd, &c, NULL), -ENODATA);
	assert_int_equal(rd.need, len + 1);
}

static void encode_uses_three_elements_only_when_asked(void **state)
{
	uint8_t out[64], want[64];
	struct bp_eid eid = { .scheme = BP_EID_IPN, .allocator = 977000, .node = 100, .service = 1 };
	size_t n, wlen;

	wlen = unhex("8202821b000ee8680000006401", want, sizeof(want));
	n = encode(&eid, out, sizeof(out)); /* ipn_elems 0 means 2 */
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);
	eid.ipn_elems = 3;
	wlen = unhex("8202831a000ee868186401", want, sizeof(want));
	n = encode(&eid, out, sizeof(out));
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);
}

static void set_none_and_set_ipn_build_values(void **state)
{
	uint8_t out[64], want[64];
	struct bp_eid eid;
	size_t n, wlen;

	memset(&eid, 0x5a, sizeof(eid));
	bp_eid_set_none(&eid);
	assert_true(bp_eid_is_null(&eid));
	wlen = unhex("820100", want, sizeof(want));
	n = encode(&eid, out, sizeof(out));
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);

	memset(&eid, 0x5a, sizeof(eid));
	bp_eid_set_ipn(&eid, 1, 2);
	assert_int_equal(eid.scheme, BP_EID_IPN);
	assert_int_equal(eid.allocator, 0);
	assert_int_equal(eid.node, 1);
	assert_int_equal(eid.service, 2);
	assert_null(eid.ssp);
	assert_int_equal(eid.ssp_len, 0);
	wlen = unhex("8202820102", want, sizeof(want));
	n = encode(&eid, out, sizeof(out));
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);

	/* A 64-bit node number is an FQNN (RFC 9758 6.1.1). */
	bp_eid_set_ipn(&eid, (uint64_t)977000 << 32 | 100, 1);
	assert_int_equal(eid.allocator, 977000);
	assert_int_equal(eid.node, 100);
	wlen = unhex("8202831a000ee868186401", want, sizeof(want));
	n = encode(&eid, out, sizeof(out));
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);
}

struct text_bad {
	const char *text;
	const char *why;
};

static const struct text_bad text_bads[] = {
	{ "", "missing URI scheme" },
	{ "dtn", "missing URI scheme" },
	{ "ipn", "missing URI scheme" },
	{ "none", "missing URI scheme" },
	{ "http://a/b", "unknown URI scheme" },
	{ "dt:none", "unknown URI scheme" },
	{ ":1.2", "unknown URI scheme" },
	{ "ipnx:1.2", "unknown URI scheme" },
	{ " ipn:1.2", "unknown URI scheme" },
	{ "dtn:", "dtn: missing \"//\"" },
	{ "dtn:None", "dtn: missing \"//\"" },
	{ "dtn:none ", "dtn: missing \"//\"" },
	{ "dtn:nonee", "dtn: missing \"//\"" },
	{ "dtn:/a/b", "dtn: missing \"//\"" },
	{ "dtn://", "dtn: empty node name" },
	{ "dtn:///b", "dtn: empty node name" },
	{ "dtn://a", "dtn: missing \"/\" after node name" },
	{ "dtn://a b/c", "dtn: bad character in node name" },
	{ "dtn://a:4556/c", "dtn: bad character in node name" },
	{ "dtn://user@a/c", "dtn: bad character in node name" },
	{ "dtn://a%4/c", "dtn: bad percent-encoding in node name" },
	{ "dtn://a%g0/c", "dtn: bad percent-encoding in node name" },
	{ "dtn://a/b c", "dtn: bad character in demux" },
	{ "dtn://a/b\n", "dtn: bad character in demux" },
	{ "dtn://a/b\t", "dtn: bad character in demux" },
	{ "dtn://a/\x7f", "dtn: bad character in demux" },
	{ "dtn://a/\xc3\xa9", "dtn: bad character in demux" },
	{ "ipn:", "ipn: node number missing" },
	{ "ipn:1", "ipn: service number missing" },
	{ "ipn:!", "ipn: service number missing" },
	{ "ipn:1.", "ipn: service number missing" },
	{ "ipn:.1", "ipn: node number missing" },
	{ "ipn:.", "ipn: node number missing" },
	{ "ipn:1..2", "ipn: node number missing" },
	{ "ipn:.1.2", "ipn: allocator identifier missing" },
	{ "ipn:1.2.", "ipn: service number missing" },
	{ "ipn:1.2.3.4", "ipn: too many components" },
	{ "ipn:1.2.3.", "ipn: too many components" },
	{ "ipn:+1.2", "ipn: node number is not a decimal number" },
	{ "ipn:-1.2", "ipn: node number is not a decimal number" },
	{ "ipn: 1.2", "ipn: node number is not a decimal number" },
	{ "ipn:0x1.2", "ipn: node number is not a decimal number" },
	{ "ipn:1.+2", "ipn: service number is not a decimal number" },
	{ "ipn:1.-2", "ipn: service number is not a decimal number" },
	{ "ipn:1.2 ", "ipn: service number is not a decimal number" },
	{ "ipn:1.2x", "ipn: service number is not a decimal number" },
	{ "ipn:1.2\n", "ipn: service number is not a decimal number" },
	{ "ipn:1.!", "ipn: service number is not a decimal number" },
	{ "ipn:!.!", "ipn: service number is not a decimal number" },
	{ "ipn:!!.1", "ipn: node number is not a decimal number" },
	{ "ipn:0.!.1", "ipn: node number is not a decimal number" },
	{ "ipn:!.1.2", "ipn: allocator identifier is not a decimal number" },
	{ "ipn:-1.2.3", "ipn: allocator identifier is not a decimal number" },
	{ "ipn:01.2", "ipn: node number has a leading zero" },
	{ "ipn:00.2", "ipn: node number has a leading zero" },
	{ "ipn:1.02", "ipn: service number has a leading zero" },
	{ "ipn:1.00", "ipn: service number has a leading zero" },
	{ "ipn:01.2.3", "ipn: allocator identifier has a leading zero" },
	{ "ipn:4294967296.1", "ipn: node number exceeds 32 bits" },
	{ "ipn:18446744073709551616.1", "ipn: node number exceeds 32 bits" },
	{ "ipn:4294967296.1.1", "ipn: allocator identifier exceeds 32 bits" },
	{ "ipn:1.4294967296.1", "ipn: node number exceeds 32 bits" },
	{ "ipn:1.18446744073709551616", "ipn: service number exceeds 64 bits" },
	{ "ipn:1.18446744073709551620", "ipn: service number exceeds 64 bits" },
	{ "ipn:1.99999999999999999999", "ipn: service number exceeds 64 bits" },
	{ "ipn:1.184467440737095516150", "ipn: service number exceeds 64 bits" },
	{ "ipn:1.1000000000000000000000000000000", "ipn: service number exceeds 64 bits" },
};

static void parse_rejects_bad_text(void **state)
{
	struct bp_eid eid, untouched;
	const char *why;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(text_bads); i++) {
		why = NULL;
		memset(&eid, 0x5a, sizeof(eid));
		untouched = eid;
		if (bp_eid_parse(text_bads[i].text, strlen(text_bads[i].text), &eid, &why) !=
		    -EINVAL)
			fail_msg("\"%s\" parsed", text_bads[i].text);
		assert_non_null(why);
		if (strcmp(why, text_bads[i].why) != 0)
			fail_msg("\"%s\": \"%s\", expected \"%s\"", text_bads[i].text, why,
				 text_bads[i].why);
		assert_memory_equal(&eid, &untouched, sizeof(eid));
	}
	/* Text with a NUL inside, and no why pointer. */
	assert_int_equal(bp_eid_parse("ipn:1.2\0", 8, &eid, &why), -EINVAL);
	assert_string_equal(why, "ipn: service number is not a decimal number");
	assert_int_equal(bp_eid_parse("dtn://a/b\0", 10, &eid, NULL), -EINVAL);
}

static void parse_rejects_too_long_dtn(void **state)
{
	char text[BP_EID_DTN_SSP_MAX + 8];
	struct bp_eid eid;
	const char *why;
	size_t len = 4 + BP_EID_DTN_SSP_MAX;

	memcpy(text, "dtn://n/", 8);
	memset(text + 8, 'x', sizeof(text) - 8);
	assert_int_equal(bp_eid_parse(text, len, &eid, &why), 0);
	assert_int_equal(eid.ssp_len, BP_EID_DTN_SSP_MAX);
	assert_int_equal(bp_eid_parse(text, len + 1, &eid, &why), -EINVAL);
	assert_string_equal(why, "dtn: SSP too long");
}

static void parse_reads_only_len_bytes(void **state)
{
	static const char text[] = { 'i', 'p', 'n', ':', '1', '.', '2', '3' };
	static const char dtn[] = { 'd', 't', 'n', ':', '/', '/', 'a', '/', 'b', 'c' };
	struct bp_eid eid;

	assert_int_equal(bp_eid_parse(text, 7, &eid, NULL), 0);
	assert_int_equal(eid.service, 2);
	assert_int_equal(bp_eid_parse(text, sizeof(text), &eid, NULL), 0);
	assert_int_equal(eid.service, 23);
	assert_int_equal(bp_eid_parse(dtn, 9, &eid, NULL), 0);
	assert_ptr_equal(eid.ssp, dtn + 4);
	assert_int_equal(eid.ssp_len, 5);
	assert_int_equal(bp_eid_parse(dtn, 8, &eid, NULL), 0);
	assert_true(bp_eid_is_node_id(&eid));
	assert_int_equal(bp_eid_parse(dtn, 3, &eid, NULL), -EINVAL);
	assert_int_equal(bp_eid_parse(NULL, 0, &eid, NULL), -EINVAL);
}

/* RFC 9758 3.4.2: "!" and 4294967295 are two spellings of LocalNode. */
static void parse_localnode_spellings_are_equal(void **state)
{
	struct bp_eid a, b, c;
	char text[BP_EID_IPN_TEXT_MAX];

	parse_ok("ipn:!.5", &a);
	parse_ok("ipn:4294967295.5", &b);
	parse_ok("ipn:0.4294967295.5", &c);
	assert_int_equal(a.node, BP_EID_IPN_LOCALNODE);
	assert_int_equal(a.allocator, 0);
	assert_true(bp_eid_equal(&a, &b));
	assert_true(bp_eid_equal(&a, &c));
	assert_int_equal(bp_eid_format(&b, text, sizeof(text)), 7);
	assert_string_equal(text, "ipn:!.5");
	/* Not LocalNode under another allocator. */
	parse_ok("ipn:1.4294967295.5", &a);
	assert_int_equal(bp_eid_format(&a, text, sizeof(text)), 18);
	assert_string_equal(text, "ipn:1.4294967295.5");
}

/* RFC 3986 3.1: scheme names are case-insensitive; the SSP is not. */
static void parse_scheme_is_case_insensitive(void **state)
{
	struct bp_eid eid;
	char text[64];

	parse_ok("IPN:1.2", &eid);
	assert_int_equal(eid.node, 1);
	parse_ok("Dtn:none", &eid);
	assert_true(bp_eid_is_null(&eid));
	parse_ok("DTN://A/B", &eid);
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), 9);
	assert_string_equal(text, "dtn://A/B");
	assert_int_equal(bp_eid_parse("dtn:NONE", 8, &eid, NULL), -EINVAL);
}

static void format_truncates_like_snprintf(void **state)
{
	struct bp_eid eid;
	char text[8];

	bp_eid_set_ipn(&eid, 12345, 678);
	memset(text, 'z', sizeof(text));
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), 13);
	assert_string_equal(text, "ipn:123");
	assert_int_equal(bp_eid_format(&eid, text, 1), 13);
	assert_string_equal(text, "");
	assert_int_equal(bp_eid_format(&eid, NULL, 0), 13);
	parse_ok("dtn://node/demux", &eid);
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), 16);
	assert_string_equal(text, "dtn://n");
}

static void format_fits_ipn_text_max(void **state)
{
	struct bp_eid eid = { .scheme = BP_EID_IPN,
			      .ipn_elems = 3,
			      .allocator = UINT32_MAX,
			      .node = UINT32_MAX - 1,
			      .service = UINT64_MAX };
	char text[BP_EID_IPN_TEXT_MAX];

	assert_true(bp_eid_format(&eid, text, sizeof(text)) < BP_EID_IPN_TEXT_MAX);
}

static void format_rejects_invalid_eids(void **state)
{
	struct bp_eid eid = { .scheme = BP_EID_IPN, .allocator = (uint64_t)1 << 32 };
	char text[BP_EID_IPN_TEXT_MAX];

	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), -EINVAL);
	eid = (struct bp_eid){ .scheme = BP_EID_IPN, .node = (uint64_t)1 << 32 };
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), -EINVAL);
	eid = (struct bp_eid){ .scheme = 3 };
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), -EINVAL);
	eid = (struct bp_eid){ .scheme = BP_EID_DTN, .ssp = NULL, .ssp_len = 3 };
	assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), -EINVAL);
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Values near the edges of CBOR head sizes and field widths. */
static uint64_t pick(uint64_t *s, uint64_t max)
{
	static const uint64_t edges[] = {
		0,	    1,	   23,	       24,	   255,		256,
		65535,	    65536, 0xfffffffe, 0xffffffff, 0x100000000, UINT64_MAX - 1,
		UINT64_MAX,
	};
	uint64_t r = rng_next(s);
	uint64_t v;

	if (r % 3 == 0) {
		v = edges[(r >> 8) % ARRAY_SIZE(edges)];
		return v > max ? max : v;
	}
	v = rng_next(s) >> (r % 64);
	return max == UINT64_MAX ? v : v % (max + 1);
}

/* struct -> text -> struct and struct -> CBOR -> struct -> text. */
static void check_round_trip(const struct bp_eid *eid)
{
	char text[BUF_MAX], again[BUF_MAX];
	uint8_t buf[BUF_MAX];
	struct bp_eid parsed, decoded;
	size_t len;
	int n;

	n = bp_eid_format(eid, text, sizeof(text));
	assert_true(n > 0 && (size_t)n < sizeof(text));
	parse_ok(text, &parsed);
	assert_true(bp_eid_equal(&parsed, eid));
	assert_int_equal(bp_eid_is_null(&parsed), bp_eid_is_null(eid));
	assert_int_equal(bp_eid_is_node_id(&parsed), bp_eid_is_node_id(eid));

	len = encode(eid, buf, sizeof(buf));
	assert_int_equal(decode(buf, len, &decoded, NULL), 0);
	assert_true(bp_eid_equal(&decoded, eid));
	if (eid->scheme == BP_EID_IPN)
		assert_int_equal(decoded.ipn_elems, eid->ipn_elems == 3 ? 3 : 2);
	assert_int_equal(bp_eid_format(&decoded, again, sizeof(again)), n);
	assert_string_equal(again, text);
}

static void round_trip_ipn_eids(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct bp_eid eid;
	int i;

	for (i = 0; i < 5000; i++) {
		eid = (struct bp_eid){ .scheme = BP_EID_IPN };
		eid.allocator = i % 2 ? 0 : pick(&seed, UINT32_MAX);
		eid.node = pick(&seed, UINT32_MAX);
		eid.service = pick(&seed, UINT64_MAX);
		eid.ipn_elems = (uint8_t[]){ 0, 2, 3 }[i % 3];
		check_round_trip(&eid);
	}
}

static void round_trip_dtn_eids(void **state)
{
	static const char *texts[] = {
		"dtn:none",
		"dtn://a/",
		"dtn://a/b",
		"dtn://node.example.org/incoming",
		"dtn://n/~group",
		"dtn://n//",
		"dtn://n/a/b/c?x=1&y=2#f",
		"dtn://%41%42/%41",
		"dtn://!$&'()*+,;=-._~/!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
		"dtn://N0de-1/Demux_2",
	};
	struct bp_eid eid;
	char text[BUF_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		parse_ok(texts[i], &eid);
		check_round_trip(&eid);
		assert_int_equal(bp_eid_format(&eid, text, sizeof(text)), strlen(texts[i]));
		assert_string_equal(text, texts[i]);
	}
}

static void is_null_names_both_null_endpoints(void **state)
{
	static const struct {
		const char *text;
		bool null;
	} cases[] = {
		{ "dtn:none", true },	  { "ipn:0.0", true },	{ "ipn:0.1", true },
		{ "ipn:0.0.0", true },	  { "ipn:1.0", false }, { "ipn:1.0.0", false },
		{ "ipn:1.0.5", false },	  { "ipn:!.0", false }, { "dtn://a/", false },
		{ "dtn://none/", false },
	};
	struct bp_eid eid;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		parse_ok(cases[i].text, &eid);
		if (bp_eid_is_null(&eid) != cases[i].null)
			fail_msg("%s", cases[i].text);
	}
}

static void is_node_id_needs_service_0_or_empty_demux(void **state)
{
	static const struct {
		const char *text;
		bool node_id;
	} cases[] = {
		{ "ipn:5.0", true },	     { "ipn:5.1", false },   { "ipn:977000.1.0", true },
		{ "ipn:!.0", true },	     { "ipn:!.1", false },   { "ipn:0.0", false },
		{ "dtn:none", false },	     { "dtn://a/", true },   { "dtn://a/b", false },
		{ "dtn://node.org/", true }, { "dtn://a//", false }, { "dtn://a/~", false },
		{ "dtn://a%2F/", true },
	};
	struct bp_eid eid;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		parse_ok(cases[i].text, &eid);
		if (bp_eid_is_node_id(&eid) != cases[i].node_id)
			fail_msg("%s", cases[i].text);
	}
}

static void decode_accepts_rfc5050_style_dtn_node_ids(void **state)
{
	uint8_t buf[32];
	size_t n = unhex("8201662f2f6e6f6465", buf, sizeof(buf)); /* "//node" */
	struct bp_eid eid;

	assert_int_equal(decode(buf, n, &eid, NULL), 0);
	assert_true(bp_eid_dtn_legacy(&eid));
	assert_true(bp_eid_is_node_id(&eid));
	parse_ok("dtn://node/", &eid);
	assert_false(bp_eid_dtn_legacy(&eid));
}

static void equal_ignores_element_form_only(void **state)
{
	uint8_t b2[32], b3[32];
	size_t n2 = unhex("8202821b000ee8680000006401", b2, sizeof(b2));
	size_t n3 = unhex("8202831a000ee868186401", b3, sizeof(b3));
	struct bp_eid a, b;
	char other[] = "dtn://a/b";

	assert_int_equal(decode(b2, n2, &a, NULL), 0);
	assert_int_equal(decode(b3, n3, &b, NULL), 0);
	assert_true(bp_eid_equal(&a, &b));
	b.service = 2;
	assert_false(bp_eid_equal(&a, &b));
	b.service = 1;
	b.node = 101;
	assert_false(bp_eid_equal(&a, &b));
	b.node = 100;
	b.allocator = 0;
	assert_false(bp_eid_equal(&a, &b));

	/* dtn: same bytes, wherever they are. */
	parse_ok("dtn://a/b", &a);
	assert_int_equal(bp_eid_parse(other, strlen(other), &b, NULL), 0);
	assert_ptr_not_equal(a.ssp, b.ssp);
	assert_true(bp_eid_equal(&a, &b));
	parse_ok("dtn://a/B", &b);
	assert_false(bp_eid_equal(&a, &b));
	parse_ok("dtn://a/bc", &b);
	assert_false(bp_eid_equal(&a, &b));

	/* Two null endpoints of different schemes are different EIDs. */
	parse_ok("dtn:none", &a);
	parse_ok("ipn:0.0", &b);
	assert_false(bp_eid_equal(&a, &b));
	parse_ok("dtn:none", &b);
	assert_true(bp_eid_equal(&a, &b));
}

/* Mutated and cut vectors: never a crash; whatever decodes re-encodes. */
static void decode_survives_mutated_input(void **state)
{
	uint64_t seed = 12345;
	uint8_t buf[BUF_MAX], out[BUF_MAX];
	struct bp_eid eid, again;
	struct cbuf_rd rd;
	size_t i, len, n;
	int round, r;

	for (round = 0; round < 20000; round++) {
		i = (size_t)rng_next(&seed) % ARRAY_SIZE(vecs);
		len = unhex(vecs[i].hex, buf, sizeof(buf));
		for (n = 1 + rng_next(&seed) % 3; n > 0; n--)
			buf[rng_next(&seed) % len] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
		len -= (size_t)(rng_next(&seed) % 4 == 0 ? rng_next(&seed) % len : 0);
		cbuf_rd_init(&rd, buf, len);
		r = bp_eid_decode(&rd, &eid, NULL);
		assert_true(r == 0 || r == -ENODATA || r == -EBADMSG || r == -EPROTONOSUPPORT);
		if (r != 0) {
			assert_int_equal(rd.pos, 0);
			continue;
		}
		n = encode(&eid, out, sizeof(out));
		assert_int_equal(decode(out, n, &again, NULL), 0);
		assert_true(bp_eid_equal(&eid, &again));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_reads_known_vectors),
		cmocka_unit_test(encode_gives_back_known_vectors),
		cmocka_unit_test(format_writes_known_text),
		cmocka_unit_test(parse_reads_known_text),
		cmocka_unit_test(parse_picks_element_form_by_allocator),
		cmocka_unit_test(decode_needs_more_at_every_prefix),
		cmocka_unit_test(decode_need_leads_to_the_whole_eid),
		cmocka_unit_test(decode_rejects_malformed_eids),
		cmocka_unit_test(decode_works_without_why),
		cmocka_unit_test(decode_accepts_dtn_ssp_at_limit),
		cmocka_unit_test(decode_refuses_long_dtn_ssp_from_its_head),
		cmocka_unit_test(decode_refuses_unknown_scheme_at_its_code),
		cmocka_unit_test(decode_accepts_indefinite_length_arrays),
		cmocka_unit_test(decode_marks_noncanonical_heads),
		cmocka_unit_test(decode_failure_restores_noncanonical),
		cmocka_unit_test(decode_reads_consecutive_eids),
		cmocka_unit_test(encode_uses_three_elements_only_when_asked),
		cmocka_unit_test(set_none_and_set_ipn_build_values),
		cmocka_unit_test(parse_rejects_bad_text),
		cmocka_unit_test(parse_rejects_too_long_dtn),
		cmocka_unit_test(parse_reads_only_len_bytes),
		cmocka_unit_test(parse_localnode_spellings_are_equal),
		cmocka_unit_test(parse_scheme_is_case_insensitive),
		cmocka_unit_test(format_truncates_like_snprintf),
		cmocka_unit_test(format_fits_ipn_text_max),
		cmocka_unit_test(format_rejects_invalid_eids),
		cmocka_unit_test(round_trip_ipn_eids),
		cmocka_unit_test(round_trip_dtn_eids),
		cmocka_unit_test(is_null_names_both_null_endpoints),
		cmocka_unit_test(is_node_id_needs_service_0_or_empty_demux),
		cmocka_unit_test(decode_accepts_rfc5050_style_dtn_node_ids),
		cmocka_unit_test(equal_ignores_element_form_only),
		cmocka_unit_test(decode_survives_mutated_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
