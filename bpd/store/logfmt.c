/* SPDX-License-Identifier: MIT */
/*
 * The store log's on-disk format (logfmt.h, docs/store-format.md).
 *
 * Every record is decoded in the same order: the fixed part's plausibility
 * (magic, type, flags, lengths), then the head CRC, then the metadata, then
 * the data CRC. So a length is trusted only once its CRC matched, and a
 * buffer that ends early gets LOGFMT_NEED_MORE with what is known about the
 * record's length. Decoding accepts exactly what the encoders write: every
 * reserved byte is zero and every unused field is zero, so a record that
 * decodes re-encodes to the same bytes.
 */
#include "logfmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc.h"

/* Segment header (docs/store-format.md has the table). */
static const uint8_t segment_magic[8] = { 'B', 'P', 'S', 'K', 'L', 'O', 'G', 0 };
#define SEG_VERSION 8
#define SEG_FLAGS 12
#define SEG_SEGNO 16
#define SEG_FIRST_SEQ 24
#define SEG_CREATED 32
#define SEG_RESERVED 40
#define SEG_CRC 60

/* Record header. */
#define REC_MAGIC 0xc3a7e5b1u /* on disk: b1 e5 a7 c3 */
#define REC_HEAD_CRC 4	      /* CRC-32C of bytes [8, head length) */
#define REC_TYPE 8
#define REC_FLAGS 9
#define REC_META_LEN 10
#define REC_DATA_CRC 12
#define REC_SEQ 16
#define REC_DATA_LEN 24

/* PUT metadata, from its start. */
#define PUT_ID 0
#define PUT_CREATION_TIME 8
#define PUT_SEQUENCE 16
#define PUT_EXPIRY 24
#define PUT_FRAG_OFFSET 32
#define PUT_FRAG_LEN 40
#define PUT_STATE 48
#define PUT_FLAGS 49
#define PUT_DEST_LEN 50
#define PUT_SOURCE_LEN 52
#define PUT_RESERVED 54
#define PUT_F_FRAGMENT 0x01

_Static_assert(LOGFMT_HEAD_MAX <= UINT16_MAX + LOGFMT_REC_HDR_LEN, "meta_len is a u16");

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int bad(struct logfmt_error *err, const char *why)
{
	err->why = why;
	err->need = 0;
	return -EBADMSG;
}

static int need(struct logfmt_error *err, uint64_t n)
{
	err->why = NULL;
	err->need = n;
	return LOGFMT_NEED_MORE;
}

uint32_t logfmt_crc_update(uint32_t reg, const void *buf, size_t len)
{
	return crc32c_update(reg, buf, len);
}

uint32_t logfmt_crc_final(uint32_t reg)
{
	return reg ^ CRC32C_XOROUT;
}

const char *logfmt_type_name(unsigned type)
{
	switch (type) {
	case LOGFMT_PUT:
		return "put";
	case LOGFMT_DELETE:
		return "delete";
	case LOGFMT_STATE:
		return "state";
	case LOGFMT_COMMIT:
		return "commit";
	}
	return "?";
}

int logfmt_segment_name(char *buf, size_t cap, uint64_t segno)
{
	if (cap < LOGFMT_SEGMENT_NAME_LEN)
		return -ENAMETOOLONG;
	return snprintf(buf, cap, "seg-%016llx.log", (unsigned long long)segno);
}

int logfmt_segment_name_parse(const char *name, uint64_t *ret_segno)
{
	uint64_t v = 0;

	if (strncmp(name, "seg-", 4) != 0 || strcmp(name + 20, ".log") != 0)
		return -EINVAL;
	for (const char *p = name + 4; p < name + 20; p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v << 4 | (uint64_t)(*p - 'a' + 10);
		else
			return -EINVAL;
	}
	*ret_segno = v;
	return 0;
}

int logfmt_segment_header(uint8_t *buf, size_t cap, const struct logfmt_segment *h)
{
	if (cap < LOGFMT_SEGMENT_HDR_LEN)
		return -EMSGSIZE;
	memset(buf, 0, LOGFMT_SEGMENT_HDR_LEN);
	memcpy(buf, segment_magic, sizeof(segment_magic));
	put32(buf + SEG_VERSION, LOGFMT_VERSION);
	put64(buf + SEG_SEGNO, h->segno);
	put64(buf + SEG_FIRST_SEQ, h->first_seq);
	put64(buf + SEG_CREATED, h->created);
	put32(buf + SEG_CRC, crc32c(buf, SEG_CRC));
	return LOGFMT_SEGMENT_HDR_LEN;
}

int logfmt_segment_header_check(const uint8_t *buf, size_t len, struct logfmt_segment *ret,
				struct logfmt_error *ret_err)
{
	size_t n = len < sizeof(segment_magic) ? len : sizeof(segment_magic);

	if (memcmp(buf, segment_magic, n) != 0)
		return bad(ret_err, "not a segment: bad magic");
	/*
	 * The version before the CRC: a header this reader cannot check must
	 * stop the store, never be taken for damage and truncated.
	 */
	if (len >= SEG_VERSION + 4 && get32(buf + SEG_VERSION) != LOGFMT_VERSION) {
		ret_err->why = "segment of another format version";
		ret_err->need = 0;
		return -EPROTONOSUPPORT;
	}
	if (len < LOGFMT_SEGMENT_HDR_LEN)
		return need(ret_err, LOGFMT_SEGMENT_HDR_LEN);
	if (get32(buf + SEG_CRC) != crc32c(buf, SEG_CRC))
		return bad(ret_err, "segment header CRC mismatch");
	if (get32(buf + SEG_FLAGS) != 0 || !all_zero(buf + SEG_RESERVED, SEG_CRC - SEG_RESERVED))
		return bad(ret_err, "segment header: reserved bits set");
	ret->segno = get64(buf + SEG_SEGNO);
	ret->first_seq = get64(buf + SEG_FIRST_SEQ);
	ret->created = get64(buf + SEG_CREATED);
	return 0;
}

static bool eid_ok(const char *s, size_t len)
{
	return len >= 1 && len <= LOGFMT_EID_MAX && !memchr(s, 0, len);
}

/* The rules of struct logfmt_bundle for a PUT: NULL, or the one broken. */
static const char *put_fields_check(const struct logfmt_bundle *b)
{
	if (b->id == 0)
		return "PUT: bundle id 0";
	if (b->state != STORE_STATE_QUEUED_LOCAL && b->state != STORE_STATE_FORWARD)
		return "PUT: state is neither queued-local nor forward";
	if (!b->is_fragment && (b->frag_offset || b->frag_len))
		return "PUT: fragment fields set on a whole bundle";
	if (!eid_ok(b->dest, b->dest_len))
		return "PUT: destination EID empty, too long or with a NUL";
	if (!eid_ok(b->source, b->source_len))
		return "PUT: source EID empty, too long or with a NUL";
	return NULL;
}

static bool state_ok(enum store_state st)
{
	return st > STORE_STATE_PENDING && st < STORE_STATE_COUNT;
}

/* The fixed part and the CRC over [8, head_len); meta is already in place. */
static void head_finish(uint8_t *buf, enum logfmt_type type, size_t meta_len, uint64_t seq,
			uint64_t data_len, uint32_t data_crc)
{
	size_t head_len = LOGFMT_REC_HDR_LEN + meta_len;

	put32(buf, REC_MAGIC);
	buf[REC_TYPE] = (uint8_t)type;
	buf[REC_FLAGS] = 0;
	put16(buf + REC_META_LEN, (uint16_t)meta_len);
	put32(buf + REC_DATA_CRC, data_crc);
	put64(buf + REC_SEQ, seq);
	put64(buf + REC_DATA_LEN, data_len);
	put32(buf + REC_HEAD_CRC, crc32c(buf + REC_TYPE, head_len - REC_TYPE));
}

int logfmt_put_head(uint8_t *buf, size_t cap, uint64_t seq, const struct logfmt_bundle *b,
		    uint64_t data_len, uint32_t data_crc)
{
	size_t meta_len, head_len;
	uint8_t *m = buf + LOGFMT_REC_HDR_LEN;

	if (put_fields_check(b) || data_len == 0 || data_len > LOGFMT_DATA_MAX)
		return -EINVAL;
	meta_len = LOGFMT_PUT_FIXED_LEN + b->dest_len + b->source_len;
	head_len = LOGFMT_REC_HDR_LEN + meta_len;
	if (cap < head_len)
		return -EMSGSIZE;
	put64(m + PUT_ID, b->id);
	put64(m + PUT_CREATION_TIME, b->creation_time);
	put64(m + PUT_SEQUENCE, b->sequence);
	put64(m + PUT_EXPIRY, b->expiry);
	put64(m + PUT_FRAG_OFFSET, b->frag_offset);
	put64(m + PUT_FRAG_LEN, b->frag_len);
	m[PUT_STATE] = (uint8_t)b->state;
	m[PUT_FLAGS] = b->is_fragment ? PUT_F_FRAGMENT : 0;
	put16(m + PUT_DEST_LEN, (uint16_t)b->dest_len);
	put16(m + PUT_SOURCE_LEN, (uint16_t)b->source_len);
	put16(m + PUT_RESERVED, 0);
	memcpy(m + LOGFMT_PUT_FIXED_LEN, b->dest, b->dest_len);
	memcpy(m + LOGFMT_PUT_FIXED_LEN + b->dest_len, b->source, b->source_len);
	head_finish(buf, LOGFMT_PUT, meta_len, seq, data_len, data_crc);
	return (int)head_len;
}

long logfmt_put(uint8_t *buf, size_t cap, uint64_t seq, const struct logfmt_bundle *b,
		const void *data, size_t data_len)
{
	uint32_t crc = logfmt_crc_final(logfmt_crc_update(LOGFMT_CRC_INIT, data, data_len));
	int head_len = logfmt_put_head(buf, cap, seq, b, data_len, crc);

	if (head_len < 0)
		return head_len;
	if (cap - (size_t)head_len < data_len)
		return -EMSGSIZE;
	memcpy(buf + head_len, data, data_len);
	return (long)(head_len + data_len);
}

int logfmt_delete(uint8_t *buf, size_t cap, uint64_t seq, uint64_t id)
{
	if (id == 0)
		return -EINVAL;
	if (cap < LOGFMT_REC_HDR_LEN + LOGFMT_DELETE_META_LEN)
		return -EMSGSIZE;
	put64(buf + LOGFMT_REC_HDR_LEN, id);
	head_finish(buf, LOGFMT_DELETE, LOGFMT_DELETE_META_LEN, seq, 0, 0);
	return LOGFMT_REC_HDR_LEN + LOGFMT_DELETE_META_LEN;
}

int logfmt_state(uint8_t *buf, size_t cap, uint64_t seq, uint64_t id, enum store_state state)
{
	if (id == 0 || !state_ok(state))
		return -EINVAL;
	if (cap < LOGFMT_REC_HDR_LEN + LOGFMT_STATE_META_LEN)
		return -EMSGSIZE;
	put64(buf + LOGFMT_REC_HDR_LEN, id);
	buf[LOGFMT_REC_HDR_LEN + 8] = (uint8_t)state;
	head_finish(buf, LOGFMT_STATE, LOGFMT_STATE_META_LEN, seq, 0, 0);
	return LOGFMT_REC_HDR_LEN + LOGFMT_STATE_META_LEN;
}

int logfmt_commit(uint8_t *buf, size_t cap, uint64_t seq)
{
	if (cap < LOGFMT_REC_HDR_LEN)
		return -EMSGSIZE;
	head_finish(buf, LOGFMT_COMMIT, 0, seq, 0, 0);
	return LOGFMT_REC_HDR_LEN;
}

/*
 * The fixed part, before its CRC can be checked: anything that no encoder
 * writes is refused here, so a wild length never makes a reader wait for
 * bytes that will not come.
 */
static int fixed_check(const uint8_t *p, struct logfmt_record *r, struct logfmt_error *err)
{
	size_t meta_len = get16(p + REC_META_LEN);
	bool empty;

	if (p[REC_FLAGS] != 0)
		return bad(err, "record flags set");
	r->type = p[REC_TYPE];
	r->data_crc = get32(p + REC_DATA_CRC);
	r->seq = get64(p + REC_SEQ);
	r->data_len = get64(p + REC_DATA_LEN);
	r->data_off = LOGFMT_REC_HDR_LEN + meta_len;
	r->len = r->data_off + r->data_len;
	empty = r->data_len == 0 && r->data_crc == 0;
	switch (r->type) {
	case LOGFMT_PUT:
		if (meta_len < LOGFMT_PUT_FIXED_LEN + 2 || r->data_off > LOGFMT_HEAD_MAX)
			return bad(err, "PUT: metadata length out of bounds");
		if (r->data_len == 0 || r->data_len > LOGFMT_DATA_MAX)
			return bad(err, "PUT: bundle length out of bounds");
		return 0;
	case LOGFMT_DELETE:
		if (meta_len != LOGFMT_DELETE_META_LEN || !empty)
			return bad(err, "DELETE: lengths out of bounds");
		return 0;
	case LOGFMT_STATE:
		if (meta_len != LOGFMT_STATE_META_LEN || !empty)
			return bad(err, "STATE: lengths out of bounds");
		return 0;
	case LOGFMT_COMMIT:
		if (meta_len != 0 || !empty)
			return bad(err, "COMMIT: lengths out of bounds");
		return 0;
	}
	return bad(err, "unknown record type");
}

static int put_meta_parse(const uint8_t *m, size_t meta_len, struct logfmt_bundle *b,
			  struct logfmt_error *err)
{
	const char *why;

	b->id = get64(m + PUT_ID);
	b->creation_time = get64(m + PUT_CREATION_TIME);
	b->sequence = get64(m + PUT_SEQUENCE);
	b->expiry = get64(m + PUT_EXPIRY);
	b->frag_offset = get64(m + PUT_FRAG_OFFSET);
	b->frag_len = get64(m + PUT_FRAG_LEN);
	b->state = m[PUT_STATE];
	b->is_fragment = m[PUT_FLAGS] & PUT_F_FRAGMENT;
	b->dest_len = get16(m + PUT_DEST_LEN);
	b->source_len = get16(m + PUT_SOURCE_LEN);
	b->dest = (const char *)m + LOGFMT_PUT_FIXED_LEN;
	b->source = b->dest + b->dest_len;
	if (m[PUT_FLAGS] & ~PUT_F_FRAGMENT || get16(m + PUT_RESERVED) != 0)
		return bad(err, "PUT: reserved bits set");
	if (LOGFMT_PUT_FIXED_LEN + b->dest_len + b->source_len != meta_len)
		return bad(err, "PUT: EID lengths do not fill the metadata");
	why = put_fields_check(b);
	return why ? bad(err, why) : 0;
}

static int meta_parse(const uint8_t *m, size_t meta_len, struct logfmt_record *r,
		      struct logfmt_error *err)
{
	memset(&r->b, 0, sizeof(r->b));
	switch (r->type) {
	case LOGFMT_PUT:
		return put_meta_parse(m, meta_len, &r->b, err);
	case LOGFMT_DELETE:
		r->b.id = get64(m);
		return r->b.id ? 0 : bad(err, "DELETE: bundle id 0");
	case LOGFMT_STATE:
		r->b.id = get64(m);
		r->b.state = m[8];
		if (r->b.id == 0)
			return bad(err, "STATE: bundle id 0");
		return state_ok(r->b.state) ? 0 : bad(err, "STATE: bad state");
	case LOGFMT_COMMIT:
		return 0;
	}
	return bad(err, "unknown record type");
}

/* What decode() checks beyond the structure. */
enum {
	CHECK_HEAD_CRC = 1,
	CHECK_DATA = 2, /* the data must be in buf, and its CRC match */
};

static int decode(const uint8_t *buf, size_t len, struct logfmt_record *r, struct logfmt_error *err,
		  unsigned checks)
{
	uint8_t magic[4];
	int ret;

	put32(magic, REC_MAGIC);
	if (memcmp(buf, magic, len < 4 ? len : 4) != 0)
		return bad(err, "bad record magic");
	if (len < LOGFMT_REC_HDR_LEN)
		return need(err, LOGFMT_REC_HDR_LEN);
	ret = fixed_check(buf, r, err);
	if (ret < 0)
		return ret;
	if (len < r->data_off)
		return need(err, r->data_off);
	if ((checks & CHECK_HEAD_CRC) &&
	    get32(buf + REC_HEAD_CRC) != crc32c(buf + REC_TYPE, r->data_off - REC_TYPE))
		return bad(err, "record head CRC mismatch");
	ret = meta_parse(buf + LOGFMT_REC_HDR_LEN, r->data_off - LOGFMT_REC_HDR_LEN, r, err);
	if (ret < 0 || !(checks & CHECK_DATA))
		return ret;
	if (len < r->len)
		return need(err, r->len);
	if (crc32c(buf + r->data_off, r->data_len) != r->data_crc)
		return bad(err, "bundle CRC mismatch");
	return 0;
}

int logfmt_next(const uint8_t *buf, size_t len, struct logfmt_record *ret,
		struct logfmt_error *ret_err)
{
	return decode(buf, len, ret, ret_err, CHECK_HEAD_CRC | CHECK_DATA);
}

int logfmt_head(const uint8_t *buf, size_t len, struct logfmt_record *ret,
		struct logfmt_error *ret_err)
{
	return decode(buf, len, ret, ret_err, CHECK_HEAD_CRC);
}

/* The first offset after from where a whole record checks out; 0 if none. */
static size_t resync_at(const uint8_t *seg, size_t len, size_t from)
{
	const uint8_t first = REC_MAGIC & 0xff;
	struct logfmt_record r;
	struct logfmt_error err;

	for (size_t off = from + 1; off + LOGFMT_REC_HDR_LEN <= len; off++) {
		const uint8_t *p = memchr(seg + off, first, len - off);

		if (!p)
			break;
		off = (size_t)(p - seg);
		if (logfmt_next(p, len - off, &r, &err) == 0)
			return off;
	}
	return 0;
}

/* Find valid records after damage at from, and count the COMMITs among them. */
static void resync(const uint8_t *seg, size_t len, size_t from, struct logfmt_prefix *p)
{
	struct logfmt_record r;
	struct logfmt_error err;
	size_t off = resync_at(seg, len, from);
	uint64_t seq = 0;

	p->resync = off;
	if (off == 0)
		return;
	for (; off < len && logfmt_next(seg + off, len - off, &r, &err) == 0;
	     off += (size_t)r.len) {
		if (off > p->resync && r.seq != seq + 1)
			break;
		seq = r.seq;
		if (r.type == LOGFMT_COMMIT)
			p->resync_commits++;
	}
}

/* Fill in why the scan stopped at off, where a decoder returned ret. */
static void stop_at(const uint8_t *seg, size_t len, size_t off, int ret, const char *why,
		    struct logfmt_prefix *p)
{
	if (off == len) {
		p->stop = LOGFMT_STOP_END;
	} else if (all_zero(seg + off, len - off)) {
		p->stop = LOGFMT_STOP_ZEROS;
	} else if (ret == LOGFMT_NEED_MORE) {
		p->stop = LOGFMT_STOP_TORN;
		p->why = off == 0 ? "segment header cut short" : "record cut short";
	} else {
		p->stop = LOGFMT_STOP_CORRUPT;
		p->why = why;
		resync(seg, len, off, p);
	}
}

/* Hand fn the records of one complete group, [from, to): they checked out already. */
static int replay(const uint8_t *seg, size_t from, size_t to, logfmt_record_fn *fn, void *ctx)
{
	struct logfmt_record r;
	struct logfmt_error err;
	int ret;

	for (size_t off = from; off < to; off += (size_t)r.len) {
		ret = decode(seg + off, to - off, &r, &err, 0);
		if (ret != 0)
			return -EIO; /* cannot happen: the same bytes decoded a moment ago */
		ret = fn(ctx, &r, off);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int logfmt_valid_prefix(const uint8_t *seg, size_t len, logfmt_record_fn *fn, void *ctx,
			struct logfmt_prefix *ret)
{
	struct logfmt_record r;
	struct logfmt_error err = { 0 };
	size_t off = 0, group = LOGFMT_SEGMENT_HDR_LEN;
	uint64_t expect;
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = logfmt_segment_header_check(seg, len, &ret->hdr, &err);
	if (rc == -EPROTONOSUPPORT)
		return rc;
	if (rc != 0) {
		stop_at(seg, len, 0, rc, err.why, ret);
		return 0;
	}
	off = ret->valid_len = ret->commit_len = LOGFMT_SEGMENT_HDR_LEN;
	expect = ret->next_seq = ret->hdr.first_seq;
	while (off < len) {
		rc = logfmt_next(seg + off, len - off, &r, &err);
		if (rc == 0 && r.seq != expect)
			rc = bad(&err, "record out of sequence");
		if (rc != 0)
			break;
		off += (size_t)r.len;
		expect++;
		ret->valid_len = off;
		ret->records++;
		if (r.type != LOGFMT_COMMIT)
			continue;
		if (fn && (rc = replay(seg, group, off, fn, ctx)) != 0)
			return rc;
		group = ret->commit_len = off;
		ret->committed = ret->records;
		ret->next_seq = expect;
	}
	stop_at(seg, len, off, rc, err.why, ret);
	return 0;
}
