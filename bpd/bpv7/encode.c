/* SPDX-License-Identifier: MIT */
/*
 * BPv7 encoding (RFC 9171 4), deterministic CBOR (RFC 8949 4.2.1): shortest
 * heads and definite lengths everywhere but the bundle's own array (4.1). A
 * decoded bundle's primary block is copied as received (it is immutable).
 */
#include "encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbuf.h"
#include "crc.h"

static bool eid_encodable(const struct bp_eid *eid)
{
	return eid->scheme == BP_EID_DTN || eid->scheme == BP_EID_IPN;
}

static bool block_encodable(const struct bpv7_block *blk)
{
	if (blk->crc_type > BPV7_CRC_32C || blk->type == 0)
		return false;
	if (blk->data || blk->data_len == 0)
		return true;
	return bpv7_block_type_known(blk->type) && blk->type != BPV7_BLOCK_PAYLOAD;
}

static bool bundle_encodable(const struct bpv7_bundle *b)
{
	const struct bpv7_primary *pr = &b->primary;

	if (b->nblocks == 0 || b->nblocks > BPV7_MAX_BLOCKS ||
	    b->blocks[b->nblocks - 1].type != BPV7_BLOCK_PAYLOAD)
		return false;
	if (pr->crc_type > BPV7_CRC_32C || !eid_encodable(&pr->dest) ||
	    !eid_encodable(&pr->source) || !eid_encodable(&pr->report_to))
		return false;
	if (b->blocks[b->nblocks - 1].data == NULL && b->blocks[b->nblocks - 1].data_len)
		return false;
	for (unsigned i = 0; i < b->nblocks; i++)
		if (!block_encodable(&b->blocks[i]))
			return false;
	return true;
}

/*
 * RFC 9171 4.2.2: the CRC field closes the block that began at `start`; it is
 * computed over the whole block with the field's value zeroed, then stored.
 * A block written with a hole at `at` (bpv7_encode_split_alloc: the payload
 * data left out of the buffer) has its data read from `data` in between;
 * with no hole, at is start and dlen 0.
 */
static void put_crc(struct cbuf_wr *wr, size_t start, uint8_t type, size_t at, const uint8_t *data,
		    size_t dlen)
{
	size_t len = type == BPV7_CRC_16 ? 2 : 4;
	uint8_t *value;
	uint32_t crc;

	cbuf_write_bstr_head(wr, len);
	value = cbuf_write_reserve(wr, len);
	if (!value || !cbuf_wr_ok(wr))
		return; /* measuring only */
	memset(value, 0, len);
	if (type == BPV7_CRC_16) {
		uint16_t r = crc16_x25_update(CRC16_X25_INIT, wr->buf + start, at - start);

		r = crc16_x25_update(r, data, dlen);
		crc = crc16_x25_update(r, wr->buf + at, wr->len - at) ^ CRC16_X25_XOROUT;
	} else {
		uint32_t r = crc32c_update(CRC32C_INIT, wr->buf + start, at - start);

		r = crc32c_update(r, data, dlen);
		crc = crc32c_update(r, wr->buf + at, wr->len - at) ^ CRC32C_XOROUT;
	}
	for (size_t i = len; i-- > 0; crc >>= 8)
		value[i] = (uint8_t)crc;
}

/* RFC 9171 4.3.1 */
static void put_primary(struct cbuf_wr *wr, const struct bpv7_primary *pr)
{
	size_t start = wr->len;
	bool frag = pr->flags & BPV7_BPF_IS_FRAGMENT;

	cbuf_write_array(wr, 8 + (frag ? 2 : 0) + (pr->crc_type ? 1 : 0));
	cbuf_write_uint(wr, 7);
	cbuf_write_uint(wr, pr->flags);
	cbuf_write_uint(wr, pr->crc_type);
	bp_eid_encode(wr, &pr->dest);
	bp_eid_encode(wr, &pr->source);
	bp_eid_encode(wr, &pr->report_to);
	cbuf_write_array(wr, 2);
	cbuf_write_uint(wr, pr->creation_time);
	cbuf_write_uint(wr, pr->sequence);
	cbuf_write_uint(wr, pr->lifetime);
	if (frag) {
		cbuf_write_uint(wr, pr->frag_offset);
		cbuf_write_uint(wr, pr->total_adu_len);
	}
	if (pr->crc_type)
		put_crc(wr, start, pr->crc_type, start, NULL, 0);
}

/* RFC 9171 4.4: the data of a previous node, bundle age or hop count block. */
static void put_ext(struct cbuf_wr *wr, const struct bpv7_block *blk)
{
	switch (blk->type) {
	case BPV7_BLOCK_PREV_NODE:
		bp_eid_encode(wr, &blk->ext.prev_node);
		break;
	case BPV7_BLOCK_BUNDLE_AGE:
		cbuf_write_uint(wr, blk->ext.age_ms);
		break;
	case BPV7_BLOCK_HOP_COUNT:
		cbuf_write_array(wr, 2);
		cbuf_write_uint(wr, blk->ext.hop.limit);
		cbuf_write_uint(wr, blk->ext.hop.count);
		break;
	default:
		break;
	}
}

/*
 * The payload data left out of the buffer (bpv7_encode_split): where it
 * goes. Its CRC field is computed over the block's bytes before the data,
 * the data itself (read, not copied), and the bytes after it.
 */
struct split {
	size_t at;
};

/* RFC 9171 4.3.2 */
static void put_block(struct cbuf_wr *wr, const struct bpv7_block *blk, struct split *sp)
{
	size_t start = wr->len;

	cbuf_write_array(wr, blk->crc_type ? 6 : 5);
	cbuf_write_uint(wr, blk->type);
	cbuf_write_uint(wr, blk->number);
	cbuf_write_uint(wr, blk->flags);
	cbuf_write_uint(wr, blk->crc_type);
	if (sp && blk->type == BPV7_BLOCK_PAYLOAD) {
		cbuf_write_bstr_head(wr, blk->data_len);
		sp->at = wr->len;
		if (blk->crc_type)
			put_crc(wr, start, blk->crc_type, sp->at, blk->data, blk->data_len);
		return;
	}
	if (blk->data || !bpv7_block_type_known(blk->type) || blk->type == BPV7_BLOCK_PAYLOAD) {
		cbuf_write_bstr(wr, blk->data, blk->data_len);
	} else {
		struct cbuf_wr measure;

		cbuf_wr_init(&measure, NULL, 0);
		put_ext(&measure, blk);
		cbuf_write_bstr_head(wr, measure.len);
		put_ext(wr, blk);
	}
	if (blk->crc_type)
		put_crc(wr, start, blk->crc_type, start, NULL, 0);
}

static void put_bundle(struct cbuf_wr *wr, const struct bpv7_bundle *b, struct split *sp)
{
	cbuf_write_indef_array(wr);
	/* RFC 9171 4.3.1: a received primary block goes on unchanged, byte for byte. */
	if (b->wire && b->primary_len)
		cbuf_write_raw(wr, b->wire + 1, b->primary_len);
	else
		put_primary(wr, &b->primary);
	for (unsigned i = 0; i < b->nblocks; i++)
		put_block(wr, &b->blocks[i], sp);
	cbuf_write_break(wr);
}

long bpv7_encoded_size(const struct bpv7_bundle *b)
{
	struct cbuf_wr wr;

	if (!bundle_encodable(b))
		return -EINVAL;
	cbuf_wr_init(&wr, NULL, 0);
	put_bundle(&wr, b, NULL);
	return (long)wr.len;
}

long bpv7_encode(const struct bpv7_bundle *b, uint8_t *buf, size_t cap)
{
	struct cbuf_wr wr;

	if (!bundle_encodable(b))
		return -EINVAL;
	cbuf_wr_init(&wr, buf, cap);
	put_bundle(&wr, b, NULL);
	if (!cbuf_wr_ok(&wr))
		return -ENOSPC;
	return (long)wr.len;
}

long bpv7_encode_alloc(const struct bpv7_bundle *b, uint8_t **ret_buf)
{
	long size = bpv7_encoded_size(b), n;
	uint8_t *buf;

	if (size < 0)
		return size;
	buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	n = bpv7_encode(b, buf, (size_t)size);
	if (n < 0) {
		free(buf);
		return n;
	}
	*ret_buf = buf;
	return n;
}

long bpv7_ext_encode(const struct bpv7_block *blk, uint8_t *buf, size_t cap)
{
	struct cbuf_wr wr;

	if (!bpv7_block_type_known(blk->type) || blk->type == BPV7_BLOCK_PAYLOAD)
		return -EINVAL;
	cbuf_wr_init(&wr, buf, cap);
	put_ext(&wr, blk);
	return (long)wr.len;
}

long bpv7_encode_split_alloc(const struct bpv7_bundle *b, uint8_t **ret_buf, size_t *ret_at)
{
	struct split sp = { 0 };
	struct cbuf_wr wr;
	uint8_t *buf;
	size_t size;

	if (!bundle_encodable(b))
		return -EINVAL;
	cbuf_wr_init(&wr, NULL, 0);
	put_bundle(&wr, b, &sp);
	size = wr.len;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	cbuf_wr_init(&wr, buf, size);
	put_bundle(&wr, b, &sp);
	if (!cbuf_wr_ok(&wr) || wr.len != size) {
		free(buf);
		return -EINVAL;
	}
	*ret_buf = buf;
	*ret_at = sp.at;
	return (long)size;
}
