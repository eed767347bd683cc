/* SPDX-License-Identifier: MIT */
/*
 * Bounded CBOR cursor and writer over libcbor (see cbuf.h for the contract).
 */
#include "cbuf.h"

#include <cbor.h>
#include <errno.h>
#include <string.h>

/* What one call of cbor_stream_decode() saw. */
struct item {
	enum cbuf_kind kind;
	uint64_t val;	    /* integer value, string length or array/map count */
	const uint8_t *ptr; /* string body */
};

static void on_uint8(void *ctx, uint8_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_UINT, .val = v };
}

static void on_uint16(void *ctx, uint16_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_UINT, .val = v };
}

static void on_uint32(void *ctx, uint32_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_UINT, .val = v };
}

static void on_uint64(void *ctx, uint64_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_UINT, .val = v };
}

static void on_negint8(void *ctx, uint8_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_NEGINT, .val = v };
}

static void on_negint16(void *ctx, uint16_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_NEGINT, .val = v };
}

static void on_negint32(void *ctx, uint32_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_NEGINT, .val = v };
}

static void on_negint64(void *ctx, uint64_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_NEGINT, .val = v };
}

static void on_bstr(void *ctx, cbor_data data, size_t len)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_BSTR, .val = len, .ptr = data };
}

static void on_tstr(void *ctx, cbor_data data, size_t len)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_TSTR, .val = len, .ptr = data };
}

static void on_indef(void *ctx)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_INDEF };
}

static void on_array(void *ctx, size_t n)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_ARRAY, .val = n };
}

static void on_map(void *ctx, size_t n)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_MAP, .val = n };
}

static void on_tag(void *ctx, uint64_t v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_TAG, .val = v };
}

static void on_float2(void *ctx, float v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_SIMPLE };
}

static void on_float8(void *ctx, double v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_SIMPLE };
}

static void on_simple(void *ctx)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_SIMPLE };
}

static void on_bool(void *ctx, bool v)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_SIMPLE, .val = v ? 21 : 20 };
}

static void on_break(void *ctx)
{
	*(struct item *)ctx = (struct item){ .kind = CBUF_BREAK };
}

static const struct cbor_callbacks callbacks = {
	.uint8 = on_uint8,
	.uint16 = on_uint16,
	.uint32 = on_uint32,
	.uint64 = on_uint64,
	.negint8 = on_negint8,
	.negint16 = on_negint16,
	.negint32 = on_negint32,
	.negint64 = on_negint64,
	.byte_string_start = on_indef,
	.byte_string = on_bstr,
	.string = on_tstr,
	.string_start = on_indef,
	.indef_array_start = on_indef,
	.array_start = on_array,
	.indef_map_start = on_indef,
	.map_start = on_map,
	.tag = on_tag,
	.float2 = on_float2,
	.float4 = on_float2,
	.float8 = on_float8,
	.undefined = on_simple,
	.null = on_simple,
	.boolean = on_bool,
	.indef_break = on_break,
};

size_t cbuf_head_size(uint64_t v)
{
	if (v < 24)
		return 1;
	if (v <= UINT8_MAX)
		return 2;
	if (v <= UINT16_MAX)
		return 3;
	if (v <= UINT32_MAX)
		return 5;
	return 9;
}

void cbuf_rd_init(struct cbuf_rd *rd, const void *buf, size_t len)
{
	*rd = (struct cbuf_rd){ .buf = buf, .len = len };
}

/*
 * Decode the head (and, for strings, the body) of the next item without
 * consuming it. Returns its encoded size, -ENODATA or -EBADMSG.
 */
static long next_item(struct cbuf_rd *rd, struct item *it)
{
	size_t left = rd->len - rd->pos;
	struct cbor_decoder_result r;

	if (left == 0) {
		rd->need = rd->pos + 1;
		return -ENODATA;
	}
	r = cbor_stream_decode(rd->buf + rd->pos, left, &callbacks, it);
	if (r.status == CBOR_DECODER_FINISHED)
		return (long)r.read;
	if (r.status == CBOR_DECODER_NEDATA) {
		/*
		 * libcbor adds a declared string length to the head size
		 * without checking for overflow; a result that is not past
		 * what we have can only be such a wrap: need "everything".
		 */
		if (r.required <= left || r.required > SIZE_MAX - rd->pos)
			rd->need = SIZE_MAX;
		else
			rd->need = rd->pos + r.required;
		return -ENODATA;
	}
	return -EBADMSG;
}

/*
 * An unsigned integer or array head that fits in its first byte (additional
 * information < 24, RFC 8949 3): most items of a bundle. Taking these here
 * saves a call into libcbor for each; everything else goes through it.
 */
static bool take_tiny(struct cbuf_rd *rd, enum cbuf_kind kind, struct item *it)
{
	uint8_t b;

	if (rd->pos == rd->len)
		return false;
	b = rd->buf[rd->pos];
	if ((b & 0x1f) >= 24 || (kind != CBUF_UINT && kind != CBUF_ARRAY))
		return false;
	if ((b >> 5) != (kind == CBUF_UINT ? 0 : 4))
		return false;
	it->kind = kind;
	it->val = b & 0x1f;
	rd->pos++;
	return true;
}

/* Take an item of the wanted kind, checking its head is shortest-form. */
static int take(struct cbuf_rd *rd, enum cbuf_kind kind, struct item *it)
{
	long n;
	size_t head;

	if (take_tiny(rd, kind, it))
		return 0;
	n = next_item(rd, it);

	if (n < 0)
		return (int)n;
	if (it->kind != kind)
		return -EBADMSG;
	head = (size_t)n;
	if (kind == CBUF_BSTR || kind == CBUF_TSTR)
		head -= it->val;
	if (kind != CBUF_BREAK && kind != CBUF_INDEF && head != cbuf_head_size(it->val))
		rd->noncanonical = true;
	rd->pos += (size_t)n;
	return 0;
}

int cbuf_read_uint(struct cbuf_rd *rd, uint64_t *ret)
{
	struct item it;
	int r = take(rd, CBUF_UINT, &it);

	if (r == 0)
		*ret = it.val;
	return r;
}

int cbuf_read_bool(struct cbuf_rd *rd, bool *ret)
{
	struct item it;
	size_t pos = rd->pos;
	int r = take(rd, CBUF_SIMPLE, &it);

	if (r < 0)
		return r;
	if (it.val != 20 && it.val != 21) {
		rd->pos = pos;
		return -EBADMSG;
	}
	*ret = it.val == 21;
	return 0;
}

int cbuf_read_array(struct cbuf_rd *rd, uint64_t *ret_count)
{
	struct item it;
	int r = take(rd, CBUF_ARRAY, &it);

	if (r == 0)
		*ret_count = it.val;
	return r;
}

int cbuf_read_array_any(struct cbuf_rd *rd, uint64_t *ret_count, bool *ret_indef)
{
	/* 0x9f is the one head of an indefinite-length array (RFC 8949 3.2.2). */
	if (rd->pos < rd->len && rd->buf[rd->pos] == 0x9f) {
		rd->pos++;
		*ret_count = 0;
		*ret_indef = true;
		return 0;
	}
	*ret_indef = false;
	return cbuf_read_array(rd, ret_count);
}

int cbuf_read_bstr(struct cbuf_rd *rd, const uint8_t **ret, size_t *ret_len)
{
	struct item it;
	int r = take(rd, CBUF_BSTR, &it);

	if (r == 0) {
		*ret = it.ptr;
		*ret_len = (size_t)it.val;
	}
	return r;
}

int cbuf_read_tstr(struct cbuf_rd *rd, const char **ret, size_t *ret_len)
{
	struct item it;
	int r = take(rd, CBUF_TSTR, &it);

	if (r == 0) {
		*ret = (const char *)it.ptr;
		*ret_len = (size_t)it.val;
	}
	return r;
}

int cbuf_read_break(struct cbuf_rd *rd)
{
	struct item it;

	return take(rd, CBUF_BREAK, &it);
}

/*
 * Kinds from the first byte alone (RFC 8949 3): the parser peeks before
 * every block, so this avoids a libcbor call. Simple values and floats
 * (major type 7) are left to libcbor, which knows which are well-formed.
 */
int cbuf_peek(const struct cbuf_rd *rd)
{
	static const enum cbuf_kind kinds[] = { CBUF_UINT,  CBUF_NEGINT, CBUF_BSTR, CBUF_TSTR,
						CBUF_ARRAY, CBUF_MAP,	 CBUF_TAG };
	struct cbuf_rd copy = *rd;
	struct item it;
	uint8_t major, info;
	long n;

	if (rd->pos == rd->len)
		return -ENODATA;
	major = rd->buf[rd->pos] >> 5;
	info = rd->buf[rd->pos] & 0x1f;
	if (major < 7) {
		if (info >= 28 && info <= 30) /* reserved */
			return -EBADMSG;
		if (info == 31) /* indefinite length: strings and containers only */
			return major >= 2 && major <= 5 ? CBUF_INDEF : -EBADMSG;
		return (int)kinds[major];
	}
	n = next_item(&copy, &it);
	if (n < 0)
		return (int)n;
	return (int)it.kind;
}

/* Items a container holds: a map's count is pairs; a tag holds one item. */
static uint64_t container_items(const struct item *it)
{
	switch (it->kind) {
	case CBUF_INDEF:
		return UINT64_MAX;
	case CBUF_TAG:
		return 1;
	case CBUF_MAP:
		return it->val >= UINT64_MAX / 2 ? UINT64_MAX - 1 : it->val * 2;
	default: /* a definite count never reads as "indefinite" */
		return it->val == UINT64_MAX ? UINT64_MAX - 1 : it->val;
	}
}

/*
 * Skipping keeps its own stack of open containers: remaining items for a
 * definite one, or SIZE_MAX for an indefinite one closed by a break.
 */
int cbuf_skip(struct cbuf_rd *rd, unsigned max_depth)
{
	uint64_t left[16];
	unsigned depth = 0;
	size_t start = rd->pos;
	struct item it;
	long n;

	if (max_depth > 16)
		max_depth = 16;
	do {
		n = next_item(rd, &it);
		if (n < 0)
			goto fail;
		rd->pos += (size_t)n;
		if (it.kind == CBUF_BREAK) {
			if (depth == 0 || left[depth - 1] != UINT64_MAX)
				goto fail_bad;
			depth--;
		} else {
			if (depth > 0 && left[depth - 1] != UINT64_MAX)
				left[depth - 1]--;
			if (it.kind == CBUF_ARRAY || it.kind == CBUF_MAP || it.kind == CBUF_INDEF ||
			    it.kind == CBUF_TAG) {
				if (depth == max_depth)
					goto fail_bad;
				left[depth++] = container_items(&it);
			}
		}
		while (depth > 0 && left[depth - 1] == 0)
			depth--;
	} while (depth > 0);
	return 0;

fail_bad:
	n = -EBADMSG;
fail:
	rd->pos = start;
	return (int)n;
}

/* Writer */

static void put_head(struct cbuf_wr *wr, uint64_t v,
		     size_t (*enc)(uint64_t, unsigned char *, size_t))
{
	size_t room = wr->len < wr->cap ? wr->cap - wr->len : 0;
	size_t n = cbuf_head_size(v);

	if (room >= n)
		(void)enc(v, wr->buf + wr->len, room);
	wr->len += n;
}

static size_t enc_uint(uint64_t v, unsigned char *b, size_t n)
{
	return cbor_encode_uint(v, b, n);
}

static size_t enc_array(uint64_t v, unsigned char *b, size_t n)
{
	return cbor_encode_array_start((size_t)v, b, n);
}

static size_t enc_bstr(uint64_t v, unsigned char *b, size_t n)
{
	return cbor_encode_bytestring_start((size_t)v, b, n);
}

static size_t enc_tstr(uint64_t v, unsigned char *b, size_t n)
{
	return cbor_encode_string_start((size_t)v, b, n);
}

void cbuf_write_uint(struct cbuf_wr *wr, uint64_t v)
{
	put_head(wr, v, enc_uint);
}

static void put_byte(struct cbuf_wr *wr, uint8_t b)
{
	if (wr->len < wr->cap)
		wr->buf[wr->len] = b;
	wr->len++;
}

void cbuf_write_bool(struct cbuf_wr *wr, bool v)
{
	put_byte(wr, v ? 0xf5 : 0xf4);
}

void cbuf_write_array(struct cbuf_wr *wr, uint64_t count)
{
	put_head(wr, count, enc_array);
}

void cbuf_write_indef_array(struct cbuf_wr *wr)
{
	put_byte(wr, 0x9f);
}

void cbuf_write_break(struct cbuf_wr *wr)
{
	put_byte(wr, 0xff);
}

void cbuf_write_bstr_head(struct cbuf_wr *wr, uint64_t len)
{
	put_head(wr, len, enc_bstr);
}

void cbuf_write_raw(struct cbuf_wr *wr, const void *data, size_t len)
{
	if (len && wr->len <= wr->cap && wr->cap - wr->len >= len)
		memcpy(wr->buf + wr->len, data, len);
	wr->len += len;
}

void cbuf_write_bstr(struct cbuf_wr *wr, const void *data, size_t len)
{
	cbuf_write_bstr_head(wr, len);
	cbuf_write_raw(wr, data, len);
}

void cbuf_write_tstr(struct cbuf_wr *wr, const char *text, size_t len)
{
	put_head(wr, len, enc_tstr);
	cbuf_write_raw(wr, text, len);
}

uint8_t *cbuf_write_reserve(struct cbuf_wr *wr, size_t n)
{
	uint8_t *p = NULL;

	if (wr->len <= wr->cap && wr->cap - wr->len >= n)
		p = wr->buf + wr->len;
	wr->len += n;
	return p;
}
