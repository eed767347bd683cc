/* SPDX-License-Identifier: MIT */
/*
 * BPv7 decoding (RFC 9171 4).
 *
 * The parser works one block at a time over a buffer that holds a prefix of
 * the bundle. A block is taken only when all of its bytes are present; until
 * then the parser stops with "need more" and resumes at the same block when
 * more bytes arrive, so chunking never changes the outcome. Every declared
 * length is checked against the size limit as soon as its head is read.
 */
#include "decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbuf.h"
#include "crc.h"

enum parse_state {
	PARSE_START,  /* expecting the bundle's indefinite-length array head */
	PARSE_BLOCKS, /* expecting a canonical block or the break */
	PARSE_DONE,
};

struct parser {
	enum parse_state state;
	size_t pos;  /* where the next block starts (all before it is parsed) */
	size_t need; /* after "need more": total bytes needed to go on */
	size_t max_size;
	bool noncanonical;     /* some completed block was not deterministic CBOR */
	bool bib_over_primary; /* a BIB lists block 0 among its targets */
	unsigned ext_seen;     /* bit per extension type 6, 7, 10 already seen */
	struct bpv7_bundle *b;
	struct bpv7_error *err;
};

/* Result of a parse step, besides -EBADMSG. */
enum {
	STEP_NEED_MORE = 0,
	STEP_DONE = 1,
};

static void parser_init(struct parser *p, struct bpv7_bundle *b, struct bpv7_error *err,
			size_t max_size)
{
	*p = (struct parser){ .max_size = max_size ? max_size : BPV7_DEFAULT_MAX_SIZE,
			      .b = b,
			      .err = err };
	b->nblocks = 0;
	b->findings = 0;
	b->wire = NULL;
	b->wire_len = 0;
	b->primary_len = 0;
	*err = (struct bpv7_error){ .code = BPV7_E_OK, .block = -1 };
}

static int fail(struct parser *p, enum bpv7_error_code code, size_t offset, const char *detail)
{
	p->err->code = code;
	p->err->offset = offset;
	p->err->block = p->state == PARSE_START ? 0 : (int)p->b->nblocks + 1;
	if (p->state == PARSE_START && code == BPV7_E_NOT_INDEF_ARRAY)
		p->err->block = -1;
	p->err->detail = detail;
	return -EBADMSG;
}

/*
 * Map a read's result r to a step result: done, need more bytes (unless that
 * would pass the size limit), a malformed CBOR item, or the rule `code` (the
 * item is well-formed CBOR of the wrong kind).
 */
static int check_read(struct parser *p, const struct cbuf_rd *rd, int r, enum bpv7_error_code code,
		      const char *detail)
{
	if (r >= 0)
		return STEP_DONE;
	if (r == -ENODATA) {
		if (rd->need > p->max_size)
			return fail(p, BPV7_E_TOO_LARGE, rd->pos, detail);
		p->need = rd->need;
		return STEP_NEED_MORE;
	}
	if (cbuf_peek(rd) == -EBADMSG)
		return fail(p, BPV7_E_CBOR, rd->pos, detail);
	return fail(p, code, rd->pos, detail);
}

/* A block's CRC field, read before the block's end is known. */
struct crc_field {
	const uint8_t *value;
	size_t len;
	size_t at; /* offset of the field */
};

/* RFC 9171 4.2.2: a byte string of 2 (CRC-16) or 4 (CRC-32C) bytes. */
static int read_crc_field(struct parser *p, struct cbuf_rd *rd, uint8_t type, struct crc_field *ret)
{
	int s;

	ret->at = rd->pos;
	s = check_read(p, rd, cbuf_read_bstr(rd, &ret->value, &ret->len), BPV7_E_CRC_FIELD, "crc");
	if (s != STEP_DONE)
		return s;
	if (ret->len != (type == BPV7_CRC_16 ? 2u : 4u))
		return fail(p, BPV7_E_CRC_FIELD, ret->at, "crc");
	return STEP_DONE;
}

/*
 * RFC 9171 4.3.1, 4.3.2: the CRC covers every byte of the block, from its
 * array head to its end (a closing break included), with the CRC value
 * itself taken as zeros.
 */
static int check_crc(struct parser *p, const uint8_t *buf, size_t start, size_t end, uint8_t type,
		     const struct crc_field *f, enum bpv7_error_code mismatch, uint32_t *ret_crc)
{
	static const uint8_t zeros[4];
	size_t before = (size_t)(f->value - buf) - start;
	size_t after = end - start - before - f->len;
	uint32_t got = 0, calc;

	for (size_t i = 0; i < f->len; i++)
		got = got << 8 | f->value[i];
	if (type == BPV7_CRC_16) {
		uint16_t reg = crc16_x25_update(CRC16_X25_INIT, buf + start, before);

		reg = crc16_x25_update(reg, zeros, 2);
		calc = (uint16_t)(crc16_x25_update(reg, f->value + f->len, after) ^
				  CRC16_X25_XOROUT);
	} else {
		uint32_t reg = crc32c_update(CRC32C_INIT, buf + start, before);

		reg = crc32c_update(reg, zeros, 4);
		calc = crc32c_update(reg, f->value + f->len, after) ^ CRC32C_XOROUT;
	}
	*ret_crc = got;
	if (calc != got)
		return fail(p, mismatch, f->at, NULL);
	return STEP_DONE;
}

/* An array being read: definite with a count, or ended by a break (RFC 9171 4.1). */
struct frame {
	uint64_t count;
	bool indef;
};

static int open_frame(struct parser *p, struct cbuf_rd *rd, struct frame *f,
		      enum bpv7_error_code code, const char *detail)
{
	return check_read(p, rd, cbuf_read_array_any(rd, &f->count, &f->indef), code, detail);
}

/*
 * The array ends after `items` elements: a definite one said so in its head
 * (checked by the caller), an indefinite one must close with a break here.
 */
static int close_frame(struct parser *p, struct cbuf_rd *rd, const struct frame *f,
		       enum bpv7_error_code code, const char *detail)
{
	int r;

	if (!f->indef)
		return STEP_DONE;
	r = cbuf_read_break(rd);
	if (r == -EBADMSG)
		return fail(p, code, rd->pos, detail);
	return check_read(p, rd, r, code, detail);
}

static int read_eid(struct parser *p, struct cbuf_rd *rd, struct bp_eid *eid, const char *field)
{
	const char *why = NULL;
	size_t at = rd->pos;
	int r = bp_eid_decode(rd, eid, &why);

	if (r == -EPROTONOSUPPORT)
		return fail(p, BPV7_E_EID_SCHEME, at, field);
	if (r == -EBADMSG)
		return fail(p, BPV7_E_EID, at, why ? why : field);
	if (r < 0)
		return check_read(p, rd, r, BPV7_E_EID, field);
	if (bp_eid_dtn_legacy(eid))
		p->b->findings |= BPV7_F_DTN_LEGACY;
	return STEP_DONE;
}

/* RFC 9171 4.2.7: the creation timestamp, [time, sequence number]. */
static int parse_timestamp(struct parser *p, struct cbuf_rd *rd, struct bpv7_primary *pr)
{
	struct frame f;
	int s;

	s = open_frame(p, rd, &f, BPV7_E_TIMESTAMP, "creation timestamp");
	if (s != STEP_DONE)
		return s;
	if (!f.indef && f.count != 2)
		return fail(p, BPV7_E_TIMESTAMP, rd->pos, "creation timestamp");
	s = check_read(p, rd, cbuf_read_uint(rd, &pr->creation_time), BPV7_E_TIMESTAMP,
		       "creation time");
	if (s != STEP_DONE)
		return s;
	s = check_read(p, rd, cbuf_read_uint(rd, &pr->sequence), BPV7_E_TIMESTAMP,
		       "sequence number");
	if (s != STEP_DONE)
		return s;
	return close_frame(p, rd, &f, BPV7_E_TIMESTAMP, "creation timestamp");
}

/* RFC 9171 4.3.1: the fields after the CRC type, up to the CRC. */
static int parse_primary_fields(struct parser *p, struct cbuf_rd *rd, struct bpv7_primary *pr)
{
	size_t at;
	int s;

	s = read_eid(p, rd, &pr->dest, "destination");
	if (s == STEP_DONE)
		s = read_eid(p, rd, &pr->source, "source");
	if (s == STEP_DONE)
		s = read_eid(p, rd, &pr->report_to, "report-to");
	if (s == STEP_DONE)
		s = parse_timestamp(p, rd, pr);
	if (s == STEP_DONE)
		s = check_read(p, rd, cbuf_read_uint(rd, &pr->lifetime), BPV7_E_FIELD_TYPE,
			       "lifetime");
	pr->frag_offset = 0;
	pr->total_adu_len = 0;
	if (s != STEP_DONE || !(pr->flags & BPV7_BPF_IS_FRAGMENT))
		return s;
	at = rd->pos;
	s = check_read(p, rd, cbuf_read_uint(rd, &pr->frag_offset), BPV7_E_FIELD_TYPE,
		       "fragment offset");
	if (s == STEP_DONE)
		s = check_read(p, rd, cbuf_read_uint(rd, &pr->total_adu_len), BPV7_E_FIELD_TYPE,
			       "total ADU length");
	if (s == STEP_DONE && pr->frag_offset >= pr->total_adu_len)
		return fail(p, BPV7_E_FRAG_OFFSET, at, NULL);
	return s;
}

/* RFC 9171 4.3.1: the primary block, from the reader's position. */
static int parse_primary(struct parser *p, struct cbuf_rd *rd)
{
	struct bpv7_primary *pr = &p->b->primary;
	size_t start = rd->pos, at;
	uint64_t version, crc_type, want;
	struct crc_field crc;
	struct frame f;
	int s;

	s = open_frame(p, rd, &f, BPV7_E_PRIMARY_SHAPE, "primary block");
	if (s != STEP_DONE)
		return s;
	if (!f.indef && (f.count < 8 || f.count > 11))
		return fail(p, BPV7_E_PRIMARY_SHAPE, start, "primary block");
	at = rd->pos;
	s = check_read(p, rd, cbuf_read_uint(rd, &version), BPV7_E_FIELD_TYPE, "version");
	if (s != STEP_DONE)
		return s;
	if (version != 7)
		return fail(p, BPV7_E_VERSION, at, NULL);
	s = check_read(p, rd, cbuf_read_uint(rd, &pr->flags), BPV7_E_FIELD_TYPE, "flags");
	if (s != STEP_DONE)
		return s;
	at = rd->pos;
	s = check_read(p, rd, cbuf_read_uint(rd, &crc_type), BPV7_E_FIELD_TYPE, "crc type");
	if (s != STEP_DONE)
		return s;
	if (crc_type > BPV7_CRC_32C)
		return fail(p, BPV7_E_CRC_TYPE, at, "primary block");
	pr->crc_type = (uint8_t)crc_type;
	want = 8u + (pr->flags & BPV7_BPF_IS_FRAGMENT ? 2u : 0u) + (crc_type ? 1u : 0u);
	if (!f.indef && f.count != want)
		return fail(p, BPV7_E_PRIMARY_COUNT, start, NULL);
	s = parse_primary_fields(p, rd, pr);
	if (s == STEP_DONE && crc_type)
		s = read_crc_field(p, rd, pr->crc_type, &crc);
	if (s == STEP_DONE)
		s = close_frame(p, rd, &f, BPV7_E_PRIMARY_COUNT, NULL);
	pr->crc = 0;
	if (s != STEP_DONE || !crc_type)
		return s;
	return check_crc(p, rd->buf, start, rd->pos, pr->crc_type, &crc, BPV7_E_PRIMARY_CRC,
			 &pr->crc);
}

static unsigned ext_bit(uint64_t type)
{
	switch (type) {
	case BPV7_BLOCK_PREV_NODE:
		return 1;
	case BPV7_BLOCK_BUNDLE_AGE:
		return 2;
	case BPV7_BLOCK_HOP_COUNT:
		return 4;
	default:
		return 0;
	}
}

/* RFC 9171 4.4: the data of the extension blocks every node must process. */
static int parse_ext(struct parser *p, struct bpv7_block *blk, size_t data_at)
{
	struct cbuf_rd rd;
	uint64_t n;
	bool indef;
	int r = 0;

	cbuf_rd_init(&rd, blk->data, blk->data_len);
	switch (blk->type) {
	case BPV7_BLOCK_PREV_NODE: /* 4.4.1 */
		r = bp_eid_decode(&rd, &blk->ext.prev_node, NULL);
		if (r == 0 && !bp_eid_is_node_id(&blk->ext.prev_node))
			p->b->findings |= BPV7_F_PREV_NODE_NOT_NODE_ID;
		if (r == 0 && bp_eid_dtn_legacy(&blk->ext.prev_node))
			p->b->findings |= BPV7_F_DTN_LEGACY;
		break;
	case BPV7_BLOCK_BUNDLE_AGE: /* 4.4.2 */
		r = cbuf_read_uint(&rd, &blk->ext.age_ms);
		break;
	case BPV7_BLOCK_HOP_COUNT: /* 4.4.3, either array form (4.1) */
		r = cbuf_read_array_any(&rd, &n, &indef);
		if (r == 0 && !indef && n != 2)
			r = -EBADMSG;
		if (r == 0)
			r = cbuf_read_uint(&rd, &blk->ext.hop.limit);
		if (r == 0)
			r = cbuf_read_uint(&rd, &blk->ext.hop.count);
		if (r == 0 && indef)
			r = cbuf_read_break(&rd);
		if (r == 0 && (blk->ext.hop.limit < 1 || blk->ext.hop.limit > 255))
			p->b->findings |= BPV7_F_HOP_LIMIT_RANGE;
		break;
	default:
		return STEP_DONE;
	}
	if (r < 0 || cbuf_rd_left(&rd) != 0)
		return fail(p, BPV7_E_EXT_DATA, data_at, NULL);
	if (rd.noncanonical)
		p->noncanonical = true;
	if (p->ext_seen & ext_bit(blk->type))
		p->b->findings |= BPV7_F_DUP_EXT_BLOCK;
	p->ext_seen |= ext_bit(blk->type);
	return STEP_DONE;
}

/*
 * RFC 9172 3.6: a BIB's first field is its array of security targets. Only
 * "does it cover the primary block" matters to RFC 9171 4.3.1; a BIB we
 * cannot read covers nothing.
 */
static void note_bib_targets(struct parser *p, const struct bpv7_block *blk)
{
	struct cbuf_rd rd;
	uint64_t n, target;

	cbuf_rd_init(&rd, blk->data, blk->data_len);
	if (cbuf_read_array(&rd, &n) < 0)
		return;
	for (uint64_t i = 0; i < n && cbuf_read_uint(&rd, &target) == 0; i++)
		if (target == 0)
			p->bib_over_primary = true;
}

/* RFC 9171 4.1: block numbers and the payload's place. */
static int check_block_place(struct parser *p, const struct bpv7_block *blk, size_t start)
{
	const struct bpv7_bundle *b = p->b;

	if (b->nblocks == BPV7_MAX_BLOCKS)
		return fail(p, BPV7_E_TOO_MANY_BLOCKS, start, NULL);
	if (b->nblocks > 0 && b->blocks[b->nblocks - 1].type == BPV7_BLOCK_PAYLOAD)
		return fail(p, BPV7_E_PAYLOAD_NOT_LAST, start, NULL);
	if (blk->type == BPV7_BLOCK_PAYLOAD && blk->number != 1)
		return fail(p, BPV7_E_PAYLOAD_NUMBER, start, NULL);
	if (blk->type != BPV7_BLOCK_PAYLOAD && blk->number == 1)
		return fail(p, BPV7_E_BLOCK_NUMBER, start, "number 1 is the payload's");
	for (unsigned i = 0; i < b->nblocks; i++)
		if (b->blocks[i].number == blk->number)
			return fail(p, BPV7_E_DUP_NUMBER, start, NULL);
	return STEP_DONE;
}

/* RFC 9171 4.3.2: the block header, type to CRC type. */
static int parse_block_header(struct parser *p, struct cbuf_rd *rd, struct bpv7_block *blk)
{
	uint64_t crc_type;
	size_t at = rd->pos;
	int s;

	s = check_read(p, rd, cbuf_read_uint(rd, &blk->type), BPV7_E_FIELD_TYPE, "block type");
	if (s != STEP_DONE)
		return s;
	if (blk->type == 0)
		return fail(p, BPV7_E_BLOCK_TYPE, at, NULL);
	at = rd->pos;
	s = check_read(p, rd, cbuf_read_uint(rd, &blk->number), BPV7_E_FIELD_TYPE, "block number");
	if (s != STEP_DONE)
		return s;
	if (blk->number == 0)
		return fail(p, BPV7_E_BLOCK_NUMBER, at, "number 0 is the primary block's");
	s = check_read(p, rd, cbuf_read_uint(rd, &blk->flags), BPV7_E_FIELD_TYPE, "block flags");
	if (s != STEP_DONE)
		return s;
	at = rd->pos;
	s = check_read(p, rd, cbuf_read_uint(rd, &crc_type), BPV7_E_FIELD_TYPE, "crc type");
	if (s != STEP_DONE)
		return s;
	if (crc_type > BPV7_CRC_32C)
		return fail(p, BPV7_E_CRC_TYPE, at, "canonical block");
	blk->crc_type = (uint8_t)crc_type;
	return STEP_DONE;
}

/* RFC 9171 4.3.2: one canonical block, from the reader's position. */
static int parse_canonical(struct parser *p, struct cbuf_rd *rd)
{
	struct bpv7_block tmp = { 0 }, *blk;
	size_t start = rd->pos, data_at;
	struct crc_field crc;
	struct frame f;
	int s;

	s = open_frame(p, rd, &f, BPV7_E_BLOCK_SHAPE, "canonical block");
	if (s != STEP_DONE)
		return s;
	if (!f.indef && f.count != 5 && f.count != 6)
		return fail(p, BPV7_E_BLOCK_SHAPE, start, NULL);
	s = parse_block_header(p, rd, &tmp);
	if (s != STEP_DONE)
		return s;
	if (!f.indef && f.count != (tmp.crc_type ? 6u : 5u))
		return fail(p, BPV7_E_BLOCK_SHAPE, start, "item count disagrees with CRC type");
	data_at = rd->pos;
	s = check_read(p, rd, cbuf_read_bstr(rd, &tmp.data, &tmp.data_len), BPV7_E_BLOCK_DATA,
		       NULL);
	if (s == STEP_DONE && tmp.crc_type)
		s = read_crc_field(p, rd, tmp.crc_type, &crc);
	if (s == STEP_DONE)
		s = close_frame(p, rd, &f, BPV7_E_BLOCK_SHAPE,
				"item count disagrees with CRC type");
	if (s == STEP_DONE && tmp.crc_type)
		s = check_crc(p, rd->buf, start, rd->pos, tmp.crc_type, &crc, BPV7_E_BLOCK_CRC,
			      &tmp.crc);
	if (s == STEP_DONE)
		s = check_block_place(p, &tmp, start);
	if (s != STEP_DONE)
		return s;
	blk = &p->b->blocks[p->b->nblocks];
	*blk = tmp;
	s = parse_ext(p, blk, data_at);
	if (s != STEP_DONE)
		return s;
	if (blk->type == BPV7_BLOCK_BIB)
		note_bib_targets(p, blk);
	p->b->nblocks++;
	return STEP_DONE;
}

/* RFC 9171 4.2.3, 4.2.4, 4.3.1, 4.4: rules that leave the bundle parseable. */
static void record_findings(struct parser *p)
{
	struct bpv7_bundle *b = p->b;
	const struct bpv7_primary *pr = &b->primary;
	const struct bpv7_block *payload = &b->blocks[b->nblocks - 1];
	bool admin = pr->flags & BPV7_BPF_ADMIN_RECORD;
	bool anon = bp_eid_is_null(&pr->source);

	if (pr->crc_type == BPV7_CRC_NONE && !p->bib_over_primary)
		b->findings |= BPV7_F_NO_PRIMARY_CRC;
	if (pr->creation_time == 0 && !(p->ext_seen & ext_bit(BPV7_BLOCK_BUNDLE_AGE)))
		b->findings |= BPV7_F_NO_AGE_BLOCK;
	if (admin && (pr->flags & BPV7_BPF_RPT_ALL))
		b->findings |= BPV7_F_ADMIN_REPORT_FLAGS;
	if (anon && (!(pr->flags & BPV7_BPF_MUST_NOT_FRAGMENT) || (pr->flags & BPV7_BPF_RPT_ALL)))
		b->findings |= BPV7_F_ANON_FLAGS;
	for (unsigned i = 0; (admin || anon) && i < b->nblocks; i++)
		if (b->blocks[i].flags & BPV7_BLKF_REPORT_IF_UNPROC)
			b->findings |= BPV7_F_BLOCK_REPORT_FLAG;
	if ((pr->flags & BPV7_BPF_IS_FRAGMENT) &&
	    payload->data_len > pr->total_adu_len - pr->frag_offset)
		b->findings |= BPV7_F_FRAGMENT_RANGE;
	if (p->noncanonical)
		b->findings |= BPV7_F_NONCANONICAL;
}

/* The next item's first byte has not arrived (cbuf_peek() sets no `need`). */
static int need_byte(struct parser *p, struct cbuf_rd *rd)
{
	rd->need = rd->pos + 1;
	return check_read(p, rd, -ENODATA, BPV7_E_CBOR, NULL);
}

/* RFC 9171 4.1: only an indefinite-length array head (0x9f) starts a bundle. */
static int parse_start(struct parser *p, struct cbuf_rd *rd)
{
	int s;

	if (cbuf_rd_left(rd) == 0)
		return need_byte(p, rd);
	if (rd->buf[rd->pos] != 0x9f)
		return fail(p, BPV7_E_NOT_INDEF_ARRAY, rd->pos, NULL);
	rd->pos++;
	s = parse_primary(p, rd);
	if (s != STEP_DONE)
		return s;
	p->b->primary_len = rd->pos - 1;
	return STEP_DONE;
}

static int parse_end(struct parser *p, struct cbuf_rd *rd)
{
	struct bpv7_bundle *b = p->b;

	if (cbuf_read_break(rd) < 0) /* the caller peeked a break */
		return fail(p, BPV7_E_CBOR, rd->pos, NULL);
	if (b->nblocks == 0)
		return fail(p, BPV7_E_NO_BLOCKS, rd->pos - 1, NULL);
	if (b->blocks[b->nblocks - 1].type != BPV7_BLOCK_PAYLOAD)
		return fail(p, BPV7_E_NO_PAYLOAD, rd->pos - 1, NULL);
	record_findings(p);
	return STEP_DONE;
}

/*
 * Parse as far as buf[0..len) allows, from where the last call stopped.
 * Returns STEP_DONE (bundle complete, p->pos its length), STEP_NEED_MORE
 * (p->need set) or -EBADMSG.
 */
static int parse(struct parser *p, const uint8_t *buf, size_t len)
{
	struct cbuf_rd rd;

	cbuf_rd_init(&rd, buf, len);
	rd.pos = p->pos;
	while (p->state != PARSE_DONE) {
		int k = -1, s;

		rd.noncanonical = false;
		if (p->state == PARSE_START) {
			s = parse_start(p, &rd);
		} else {
			k = cbuf_peek(&rd);
			if (k == CBUF_BREAK)
				s = parse_end(p, &rd);
			else if (k == -ENODATA)
				s = need_byte(p, &rd);
			else
				s = parse_canonical(p, &rd);
		}
		if (s != STEP_DONE)
			return s;
		p->noncanonical |= rd.noncanonical;
		p->pos = rd.pos;
		p->state = p->state == PARSE_START ? PARSE_BLOCKS :
			   k == CBUF_BREAK	   ? PARSE_DONE :
						     PARSE_BLOCKS;
	}
	p->b->wire = buf;
	p->b->wire_len = p->pos;
	return STEP_DONE;
}

long bpv7_decode_prefix(const uint8_t *buf, size_t len, size_t max_size, struct bpv7_bundle *ret,
			size_t *ret_need, struct bpv7_error *ret_err)
{
	struct parser p;
	int s;

	parser_init(&p, ret, ret_err, max_size);
	/* Bytes past the limit cannot belong to an acceptable bundle. */
	s = parse(&p, buf, len < p.max_size ? len : p.max_size);
	if (s < 0)
		return s;
	if (s == STEP_NEED_MORE && len > p.max_size)
		return fail(&p, BPV7_E_TOO_LARGE, p.max_size, NULL);
	if (s == STEP_NEED_MORE) {
		*ret_need = p.need;
		/* Report where a caller with no more bytes would fail. */
		ret_err->code = BPV7_E_TRUNCATED;
		ret_err->offset = len;
		ret_err->block = p.state == PARSE_START ? (len ? 0 : -1) : (int)ret->nblocks + 1;
		return 0;
	}
	return (long)p.pos;
}

int bpv7_decode(const uint8_t *buf, size_t len, size_t max_size, struct bpv7_bundle *ret,
		struct bpv7_error *ret_err)
{
	size_t need = 0;
	long n = bpv7_decode_prefix(buf, len, max_size, ret, &need, ret_err);

	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EBADMSG; /* ret_err says "truncated" */
	if ((size_t)n != len) {
		*ret_err = (struct bpv7_error){
			.code = BPV7_E_TRAILING, .offset = (size_t)n, .block = -1, .detail = NULL
		};
		return -EBADMSG;
	}
	return 0;
}

/* Incremental decoder */

struct bpv7_decoder {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int status; /* 0 parsing, 1 complete, < 0 failed */
	struct parser p;
	struct bpv7_bundle bundle;
	struct bpv7_error err;
};

struct bpv7_decoder *bpv7_decoder_new(size_t max_size)
{
	struct bpv7_decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	parser_init(&d->p, &d->bundle, &d->err, max_size);
	return d;
}

void bpv7_decoder_free(struct bpv7_decoder *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d);
}

void bpv7_decoder_reset(struct bpv7_decoder *d)
{
	d->len = 0;
	d->status = 0;
	parser_init(&d->p, &d->bundle, &d->err, d->p.max_size);
}

static void rebase_ptr(const uint8_t **ptr, const uint8_t *old, uint8_t *new)
{
	if (*ptr)
		*ptr = new + (*ptr - old);
}

static void rebase_eid(struct bp_eid *eid, const uint8_t *old, uint8_t *new)
{
	const uint8_t *ssp = (const uint8_t *)eid->ssp;

	if (eid->scheme == BP_EID_DTN && eid->ssp_len) {
		rebase_ptr(&ssp, old, new);
		eid->ssp = (const char *)ssp;
	}
}

/*
 * The parsed part of the bundle points into the old buffer: move every such
 * pointer to the same offset in the new one. Called while both exist.
 */
static void rebase_bundle(struct bpv7_decoder *d, const uint8_t *old, uint8_t *new)
{
	struct bpv7_bundle *b = &d->bundle;

	if (d->p.state == PARSE_START)
		return;
	rebase_eid(&b->primary.dest, old, new);
	rebase_eid(&b->primary.source, old, new);
	rebase_eid(&b->primary.report_to, old, new);
	for (unsigned i = 0; i < b->nblocks; i++) {
		rebase_ptr(&b->blocks[i].data, old, new);
		if (b->blocks[i].type == BPV7_BLOCK_PREV_NODE)
			rebase_eid(&b->blocks[i].ext.prev_node, old, new);
	}
}

/* Make room for n more bytes, growing with what arrives (never past the limit). */
static int reserve(struct bpv7_decoder *d, size_t n)
{
	size_t cap = d->cap ? d->cap : 256;
	uint8_t *buf;

	if (d->len + n <= d->cap)
		return 0;
	while (cap < d->len + n)
		cap *= 2;
	if (cap > d->p.max_size)
		cap = d->p.max_size;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (d->len)
		memcpy(buf, d->buf, d->len);
	if (d->buf)
		rebase_bundle(d, d->buf, buf);
	free(d->buf);
	d->buf = buf;
	d->cap = cap;
	return 0;
}

int bpv7_decoder_reserve(struct bpv7_decoder *d, size_t want, uint8_t **ret_ptr, size_t *ret_room)
{
	size_t room = d->p.max_size - d->len;
	int r;

	*ret_ptr = NULL;
	*ret_room = 0;
	if (d->status != 0)
		return -EINVAL;
	if (want > room)
		want = room;
	if (want == 0)
		return 0;
	r = reserve(d, want);
	if (r < 0)
		return r;
	*ret_ptr = d->buf + d->len;
	*ret_room = want;
	return 0;
}

int bpv7_decoder_commit(struct bpv7_decoder *d, size_t n, size_t *ret_used)
{
	size_t before = d->len;
	int r;

	*ret_used = 0;
	if (d->status != 0)
		return d->status > 0 ? 1 : d->status;
	if (n > d->cap - d->len)
		return -EINVAL;
	d->len += n;
	r = parse(&d->p, d->buf, d->len);
	if (r < 0) {
		d->status = r;
		return r;
	}
	if (r == STEP_NEED_MORE) {
		if (d->len == d->p.max_size) /* full, and more is needed */
			return d->status = fail(&d->p, BPV7_E_TOO_LARGE, d->len, NULL);
		*ret_used = n;
		return 0;
	}
	/* Bytes past the bundle are the caller's: left behind, not taken. */
	*ret_used = d->p.pos - before;
	d->len = d->p.pos;
	d->status = 1;
	return 1;
}

int bpv7_decoder_feed(struct bpv7_decoder *d, const void *data, size_t len, size_t *ret_used)
{
	uint8_t *dst;
	size_t room;
	int r;

	*ret_used = 0;
	if (d->status != 0)
		return d->status > 0 ? 1 : d->status;
	r = bpv7_decoder_reserve(d, len, &dst, &room);
	if (r < 0)
		return r;
	if (room)
		memcpy(dst, data, room);
	/* Input the limit cut off is not lost silently: commit says "too large". */
	return bpv7_decoder_commit(d, room, ret_used);
}

const struct bpv7_bundle *bpv7_decoder_bundle(const struct bpv7_decoder *d)
{
	return d->status == 1 ? &d->bundle : NULL;
}

struct bpv7_bundle *bpv7_decoder_bundle_mut(struct bpv7_decoder *d)
{
	return d->status == 1 ? &d->bundle : NULL;
}

const struct bpv7_error *bpv7_decoder_error(const struct bpv7_decoder *d)
{
	return &d->err;
}

size_t bpv7_decoder_size(const struct bpv7_decoder *d)
{
	return d->len;
}
