/* SPDX-License-Identifier: MIT */
/*
 * cbuf: bounded CBOR reading and writing for the BPv7 codec.
 *
 * The reader is a cursor over a borrowed buffer that decodes one item head at
 * a time with libcbor's streaming decoder. It never allocates and never reads
 * past the buffer: when an item is incomplete it returns -ENODATA and sets
 * `need` to the total buffer length that would let it go on, so a caller
 * feeding bytes incrementally knows how much more to wait for, and a caller
 * with a size limit can refuse a hostile length before any byte of it arrives.
 *
 * Every head that is not in its shortest form sets `noncanonical` (RFC 8949
 * 4.2.1, required of bundles by RFC 9171 4.1); indefinite-length items are
 * reported by the functions that accept them and rejected by the others.
 *
 * The writer appends to a caller buffer over libcbor's encode helpers. It is
 * sticky: once the buffer is too small it stops writing but keeps counting,
 * so one pass with cap 0 measures an encoding and a second pass writes it.
 */
#ifndef BPV7_CBUF_H
#define BPV7_CBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CBOR major types (RFC 8949 3.1) plus the two specials the codec cares about. */
enum cbuf_kind {
	CBUF_UINT,
	CBUF_NEGINT,
	CBUF_BSTR,
	CBUF_TSTR,
	CBUF_ARRAY,
	CBUF_MAP,
	CBUF_TAG,
	CBUF_SIMPLE, /* true, false, null, undefined, floats, simple values */
	CBUF_BREAK,
	CBUF_INDEF, /* indefinite-length byte string, text string, array or map */
};

struct cbuf_rd {
	const uint8_t *buf;
	size_t len;	   /* bytes available in buf */
	size_t pos;	   /* offset of the next item head */
	size_t need;	   /* after -ENODATA: total length needed to go on (saturating) */
	bool noncanonical; /* some head was longer than its shortest form */
};

struct cbuf_wr {
	uint8_t *buf;
	size_t cap;
	size_t len; /* bytes the encoding takes so far, written or not */
};

void cbuf_rd_init(struct cbuf_rd *rd, const void *buf, size_t len);

/*
 * Readers. Each returns 0 and advances past the item, -ENODATA (nothing
 * consumed, `need` set) when the buffer ends inside the item, or -EBADMSG
 * (nothing consumed) when the next item is malformed or of another kind.
 */
int cbuf_read_uint(struct cbuf_rd *rd, uint64_t *ret);
int cbuf_read_bool(struct cbuf_rd *rd, bool *ret);
/* A definite-length array head; its elements follow. */
int cbuf_read_array(struct cbuf_rd *rd, uint64_t *ret_count);
/* An array head of either form; *ret_indef tells which (count is 0 then). */
int cbuf_read_array_any(struct cbuf_rd *rd, uint64_t *ret_count, bool *ret_indef);
/* A definite-length byte or text string; *ret points into the buffer. */
int cbuf_read_bstr(struct cbuf_rd *rd, const uint8_t **ret, size_t *ret_len);
int cbuf_read_tstr(struct cbuf_rd *rd, const char **ret, size_t *ret_len);
/* The "break" stop code that ends an indefinite-length item. */
int cbuf_read_break(struct cbuf_rd *rd);
/* Skip one whole data item of any kind, nesting at most max_depth deep. */
int cbuf_skip(struct cbuf_rd *rd, unsigned max_depth);
/*
 * The kind of the next item, from its first byte, without consuming it:
 * >= 0 a cbuf_kind, -ENODATA when no byte is left (rd->need is not set),
 * -EBADMSG for a reserved head byte. The rest of the item may be missing.
 */
int cbuf_peek(const struct cbuf_rd *rd);

static inline size_t cbuf_rd_left(const struct cbuf_rd *rd)
{
	return rd->len - rd->pos;
}

static inline void cbuf_wr_init(struct cbuf_wr *wr, void *buf, size_t cap)
{
	wr->buf = buf;
	wr->cap = buf ? cap : 0;
	wr->len = 0;
}

/* True when everything counted so far was also written. */
static inline bool cbuf_wr_ok(const struct cbuf_wr *wr)
{
	return wr->len <= wr->cap;
}

/* Encoded size of a head carrying value v (major type irrelevant). */
size_t cbuf_head_size(uint64_t v);

void cbuf_write_uint(struct cbuf_wr *wr, uint64_t v);
void cbuf_write_bool(struct cbuf_wr *wr, bool v);
void cbuf_write_array(struct cbuf_wr *wr, uint64_t count);
void cbuf_write_indef_array(struct cbuf_wr *wr);
void cbuf_write_break(struct cbuf_wr *wr);
void cbuf_write_bstr_head(struct cbuf_wr *wr, uint64_t len);
void cbuf_write_bstr(struct cbuf_wr *wr, const void *data, size_t len);
void cbuf_write_tstr(struct cbuf_wr *wr, const char *text, size_t len);
/* Raw bytes, already CBOR (or the body of a string whose head was written). */
void cbuf_write_raw(struct cbuf_wr *wr, const void *data, size_t len);
/*
 * Reserve n bytes and return where they go (NULL when they do not fit, the
 * length still counted), for fields filled in later such as a CRC value.
 */
uint8_t *cbuf_write_reserve(struct cbuf_wr *wr, size_t n);

#endif
