/* SPDX-License-Identifier: MIT */
/* The store log's on-disk format (bpd/store/logfmt.h, docs/store-format.md). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logfmt.h"

/*
 * Known answers, built from the tables of docs/store-format.md by an
 * independent (bitwise) CRC-32C: a segment header (segno 0x0102030405060708,
 * first_seq 42, created 777000000000), then records 42..46.
 */
static const uint8_t kat_segment[] = {
	0x42, 0x50, 0x53, 0x4b, 0x4c, 0x4f, 0x47, 0x00, /* magic "BPSKLOG\0" */
	0x01, 0x00, 0x00, 0x00,				/* version 1 */
	0x00, 0x00, 0x00, 0x00,				/* flags */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* segno */
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* first_seq 42 */
	0x00, 0x1a, 0xcf, 0xe8, 0xb4, 0x00, 0x00, 0x00, /* created 777000000000 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* reserved: bytes 40..47 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* reserved: bytes 48..55 */
	0x00, 0x00, 0x00, 0x00,				/* reserved: bytes 56..59 */
	0xe8, 0x18, 0x18, 0x77,				/* CRC-32C of bytes 0..59 */
};
static const uint8_t kat_put[] = {
	0xb1, 0xe5, 0xa7, 0xc3,				/* magic */
	0xca, 0x35, 0x4f, 0x93,				/* head CRC: bytes 8..101 */
	0x01,						/* type PUT */
	0x00,						/* flags */
	0x46, 0x00,					/* meta_len 70 */
	0xab, 0x65, 0x3b, 0xf8,				/* data CRC */
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 42 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* data_len 2 */
	0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 7 */
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* creation_time 0x1122334455667788 */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sequence 3 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* expiry never */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* frag_offset 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* frag_len 0 */
	0x03,						/* state 3 */
	0x00,						/* flags */
	0x07, 0x00,					/* dest_len */
	0x07, 0x00,					/* source_len */
	0x00, 0x00,					/* reserved */
	0x69, 0x70, 0x6e, 0x3a, 0x32, 0x2e, 0x31,	/* "ipn:2.1" */
	0x69, 0x70, 0x6e, 0x3a, 0x31, 0x2e, 0x30,	/* "ipn:1.0" */
	0x81, 0x02,					/* the bundle */
};
static const uint8_t kat_put_frag[] = {
	0xb1, 0xe5, 0xa7, 0xc3,				/* magic */
	0x22, 0x9f, 0xe7, 0x47,				/* head CRC: bytes 8..102 */
	0x01,						/* type PUT */
	0x00,						/* flags */
	0x47, 0x00,					/* meta_len 71 */
	0x4c, 0xbb, 0x71, 0x9a,				/* data CRC */
	0x2b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 43 */
	0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* data_len 5 */
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 8 */
	0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* creation_time 1000 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sequence 0 */
	0x88, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* expiry 5000 */
	0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* frag_offset 100 */
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* frag_len 20 */
	0x01,						/* state 1 */
	0x01,						/* flags: fragment */
	0x08, 0x00,					/* dest_len */
	0x07, 0x00,					/* source_len */
	0x00, 0x00,					/* reserved */
	0x64, 0x74, 0x6e, 0x3a, 0x2f, 0x2f, 0x61, 0x2f, /* "dtn://a/" */
	0x64, 0x74, 0x6e, 0x3a, 0x2f, 0x2f, 0x62,	/* "dtn://b" */
	0x68, 0x65, 0x6c, 0x6c, 0x6f,			/* the bundle */
};
static const uint8_t kat_delete[] = {
	0xb1, 0xe5, 0xa7, 0xc3,				/* magic */
	0xe8, 0xba, 0x21, 0x8a,				/* head CRC: bytes 8..39 */
	0x02,						/* type DELETE */
	0x00,						/* flags */
	0x08, 0x00,					/* meta_len 8 */
	0x00, 0x00, 0x00, 0x00,				/* data CRC (none) */
	0x2c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 44 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* data_len 0 */
	0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 7 */
};
static const uint8_t kat_state[] = {
	0xb1, 0xe5, 0xa7, 0xc3,				/* magic */
	0x93, 0xa9, 0x3d, 0x8f,				/* head CRC: bytes 8..40 */
	0x03,						/* type STATE */
	0x00,						/* flags */
	0x09, 0x00,					/* meta_len 9 */
	0x00, 0x00, 0x00, 0x00,				/* data CRC (none) */
	0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 45 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* data_len 0 */
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 8 */
	0x04,						/* state 4 (in-transit) */
};
static const uint8_t kat_commit[] = {
	0xb1, 0xe5, 0xa7, 0xc3,				/* magic */
	0x8b, 0xb4, 0x45, 0xe4,				/* head CRC: bytes 8..31 */
	0x04,						/* type COMMIT */
	0x00,						/* flags */
	0x00, 0x00,					/* meta_len 0 */
	0x00, 0x00, 0x00, 0x00,				/* data CRC (none) */
	0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 46 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* data_len 0 */
};

static const uint8_t bundle2[] = { 0x81, 0x02 };

static struct logfmt_bundle kat_put_fields(void)
{
	return (struct logfmt_bundle){
		.id = 7,
		.dest = "ipn:2.1",
		.dest_len = 7,
		.source = "ipn:1.0",
		.source_len = 7,
		.creation_time = 0x1122334455667788,
		.sequence = 3,
		.expiry = STORE_EXPIRY_NEVER,
		.state = STORE_STATE_FORWARD,
	};
}

static struct logfmt_bundle kat_put_frag_fields(void)
{
	return (struct logfmt_bundle){
		.id = 8,
		.dest = "dtn://a/",
		.dest_len = 8,
		.source = "dtn://b",
		.source_len = 7,
		.creation_time = 1000,
		.sequence = 0,
		.is_fragment = true,
		.frag_offset = 100,
		.frag_len = 20,
		.expiry = 5000,
		.state = STORE_STATE_QUEUED_LOCAL,
	};
}

/* A heap copy of exactly len bytes, so that ASan catches any read past it. */
static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	assert_non_null(q);
	if (len)
		memcpy(q, p, len);
	return q;
}

static int next_exact(const uint8_t *p, size_t len, struct logfmt_record *r,
		      struct logfmt_error *err)
{
	uint8_t *q = exact(p, len);
	int ret = logfmt_next(q, len, r, err);

	free(q);
	return ret;
}

static void assert_bundle_equal(const struct logfmt_bundle *a, const struct logfmt_bundle *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->dest_len, b->dest_len);
	assert_memory_equal(a->dest, b->dest, a->dest_len);
	assert_int_equal(a->source_len, b->source_len);
	assert_memory_equal(a->source, b->source, a->source_len);
	assert_int_equal(a->creation_time, b->creation_time);
	assert_int_equal(a->sequence, b->sequence);
	assert_int_equal(a->is_fragment, b->is_fragment);
	assert_int_equal(a->frag_offset, b->frag_offset);
	assert_int_equal(a->frag_len, b->frag_len);
	assert_int_equal(a->expiry, b->expiry);
	assert_int_equal(a->state, b->state);
}

/* The known-answer segment: header, PUT, fragment PUT, DELETE, STATE, COMMIT. */
static size_t kat_log(uint8_t *buf, size_t cap)
{
	const uint8_t *parts[] = { kat_segment, kat_put,   kat_put_frag,
				   kat_delete,	kat_state, kat_commit };
	const size_t lens[] = { sizeof(kat_segment), sizeof(kat_put),	sizeof(kat_put_frag),
				sizeof(kat_delete),  sizeof(kat_state), sizeof(kat_commit) };
	size_t n = 0;

	for (size_t i = 0; i < 6; i++) {
		assert_true(n + lens[i] <= cap);
		memcpy(buf + n, parts[i], lens[i]);
		n += lens[i];
	}
	return n;
}

static void encoders_write_the_known_answers(void **state)
{
	struct logfmt_segment h = { 0x0102030405060708, 42, 777000000000 };
	struct logfmt_bundle b = kat_put_fields(), f = kat_put_frag_fields();
	uint8_t buf[256];

	assert_int_equal(logfmt_segment_header(buf, sizeof(buf), &h), LOGFMT_SEGMENT_HDR_LEN);
	assert_memory_equal(buf, kat_segment, sizeof(kat_segment));
	assert_int_equal(logfmt_put(buf, sizeof(buf), 42, &b, bundle2, 2), sizeof(kat_put));
	assert_memory_equal(buf, kat_put, sizeof(kat_put));
	assert_int_equal(logfmt_put(buf, sizeof(buf), 43, &f, "hello", 5), sizeof(kat_put_frag));
	assert_memory_equal(buf, kat_put_frag, sizeof(kat_put_frag));
	assert_int_equal(logfmt_delete(buf, sizeof(buf), 44, 7), sizeof(kat_delete));
	assert_memory_equal(buf, kat_delete, sizeof(kat_delete));
	assert_int_equal(logfmt_state(buf, sizeof(buf), 45, 8, STORE_STATE_IN_TRANSIT),
			 sizeof(kat_state));
	assert_memory_equal(buf, kat_state, sizeof(kat_state));
	assert_int_equal(logfmt_commit(buf, sizeof(buf), 46), sizeof(kat_commit));
	assert_memory_equal(buf, kat_commit, sizeof(kat_commit));
}

static void decoders_read_the_known_answers(void **state)
{
	struct logfmt_bundle b = kat_put_fields(), f = kat_put_frag_fields();
	struct logfmt_segment h;
	struct logfmt_record r;
	struct logfmt_error err;

	assert_int_equal(logfmt_segment_header_check(kat_segment, sizeof(kat_segment), &h, &err),
			 0);
	assert_int_equal(h.segno, 0x0102030405060708);
	assert_int_equal(h.first_seq, 42);
	assert_int_equal(h.created, 777000000000);

	assert_int_equal(next_exact(kat_put, sizeof(kat_put), &r, &err), 0);
	assert_int_equal(r.type, LOGFMT_PUT);
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.len, sizeof(kat_put));
	assert_int_equal(r.data_off, sizeof(kat_put) - 2);
	assert_int_equal(r.data_len, 2);
	assert_memory_equal(kat_put + r.data_off, bundle2, 2);
	assert_bundle_equal(&r.b, &b);

	assert_int_equal(logfmt_next(kat_put_frag, sizeof(kat_put_frag), &r, &err), 0);
	assert_int_equal(r.seq, 43);
	assert_bundle_equal(&r.b, &f);
	assert_memory_equal(kat_put_frag + r.data_off, "hello", 5);

	assert_int_equal(logfmt_next(kat_delete, sizeof(kat_delete), &r, &err), 0);
	assert_int_equal(r.type, LOGFMT_DELETE);
	assert_int_equal(r.b.id, 7);
	assert_int_equal(r.data_len, 0);

	assert_int_equal(logfmt_next(kat_state, sizeof(kat_state), &r, &err), 0);
	assert_int_equal(r.type, LOGFMT_STATE);
	assert_int_equal(r.b.id, 8);
	assert_int_equal(r.b.state, STORE_STATE_IN_TRANSIT);

	assert_int_equal(logfmt_next(kat_commit, sizeof(kat_commit), &r, &err), 0);
	assert_int_equal(r.type, LOGFMT_COMMIT);
	assert_int_equal(r.seq, 46);
	assert_int_equal(r.len, LOGFMT_REC_HDR_LEN);
}

static void put_round_trips_edge_values(void **state)
{
	static char dest[LOGFMT_EID_MAX], source[LOGFMT_EID_MAX];
	static uint8_t buf[LOGFMT_HEAD_MAX + 16];
	const uint8_t data[1] = { 0 };
	struct logfmt_bundle b = {
		.id = UINT64_MAX,
		.dest = dest,
		.dest_len = sizeof(dest),
		.source = "x",
		.source_len = 1,
		.creation_time = UINT64_MAX,
		.sequence = UINT64_MAX,
		.is_fragment = true,
		.frag_offset = UINT64_MAX,
		.frag_len = UINT64_MAX,
		.expiry = 0,
		.state = STORE_STATE_QUEUED_LOCAL,
	};
	struct logfmt_record r;
	struct logfmt_error err;
	long n;

	memset(dest, 'd', sizeof(dest));
	memset(source, 's', sizeof(source));
	n = logfmt_put(buf, sizeof(buf), UINT64_MAX, &b, data, 1);
	assert_true(n > 0);
	assert_int_equal(next_exact(buf, (size_t)n, &r, &err), 0);
	assert_int_equal(r.seq, UINT64_MAX);
	assert_int_equal(r.data_len, 1);
	assert_bundle_equal(&r.b, &b);

	/* Both EIDs of the longest: the longest head. */
	b.source = source;
	b.source_len = sizeof(source);
	n = logfmt_put(buf, sizeof(buf), 0, &b, data, 1);
	assert_int_equal(n, LOGFMT_HEAD_MAX + 1);
	assert_int_equal(next_exact(buf, (size_t)n, &r, &err), 0);
	assert_int_equal(r.data_off, LOGFMT_HEAD_MAX);
	assert_bundle_equal(&r.b, &b);
}

static void delete_and_state_round_trip_every_value(void **state)
{
	const uint64_t ids[] = { 1, 2, 0x8000000000000000u, UINT64_MAX };
	uint8_t buf[64];
	struct logfmt_record r;
	struct logfmt_error err;
	int n;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		n = logfmt_delete(buf, sizeof(buf), ids[i] ^ 1, ids[i]);
		assert_int_equal(n, LOGFMT_REC_HDR_LEN + LOGFMT_DELETE_META_LEN);
		assert_int_equal(next_exact(buf, (size_t)n, &r, &err), 0);
		assert_int_equal(r.type, LOGFMT_DELETE);
		assert_int_equal(r.seq, ids[i] ^ 1);
		assert_int_equal(r.b.id, ids[i]);
		for (int st = STORE_STATE_QUEUED_LOCAL; st < STORE_STATE_COUNT; st++) {
			n = logfmt_state(buf, sizeof(buf), 9, ids[i], st);
			assert_int_equal(n, LOGFMT_REC_HDR_LEN + LOGFMT_STATE_META_LEN);
			assert_int_equal(next_exact(buf, (size_t)n, &r, &err), 0);
			assert_int_equal(r.b.id, ids[i]);
			assert_int_equal(r.b.state, st);
		}
	}
}

static void encoders_refuse_what_no_reader_accepts(void **state)
{
	static char longest[LOGFMT_EID_MAX + 1];
	uint8_t buf[LOGFMT_HEAD_MAX + 16];
	struct logfmt_bundle b;

	memset(longest, 'e', sizeof(longest));
#define REFUSED(stmt)                                                                              \
	do {                                                                                       \
		b = kat_put_fields();                                                              \
		stmt;                                                                              \
		assert_int_equal(logfmt_put(buf, sizeof(buf), 1, &b, "x", 1), -EINVAL);            \
	} while (0)
	REFUSED(b.id = 0);
	REFUSED(b.dest_len = 0);
	REFUSED(b.source_len = 0);
	REFUSED((b.dest = longest, b.dest_len = LOGFMT_EID_MAX + 1));
	REFUSED((b.source = longest, b.source_len = STORE_EID_TEXT_MAX));
	REFUSED((b.dest = "ipn\0002.1", b.dest_len = 7));
	REFUSED(b.state = STORE_STATE_PENDING);
	REFUSED(b.state = STORE_STATE_DELIVERED);
	REFUSED(b.state = STORE_STATE_IN_TRANSIT);
	REFUSED(b.state = STORE_STATE_COUNT);
	REFUSED(b.frag_offset = 1);
	REFUSED(b.frag_len = 1);
#undef REFUSED
	b = kat_put_fields();
	/* A bundle is never empty, and the format bounds its length. */
	assert_int_equal(logfmt_put(buf, sizeof(buf), 1, &b, "", 0), -EINVAL);
	assert_int_equal(logfmt_put_head(buf, sizeof(buf), 1, &b, 0, 0), -EINVAL);
	assert_int_equal(logfmt_put_head(buf, sizeof(buf), 1, &b, LOGFMT_DATA_MAX + 1, 0), -EINVAL);
	assert_true(logfmt_put_head(buf, sizeof(buf), 1, &b, LOGFMT_DATA_MAX, 0) > 0);
	assert_int_equal(logfmt_delete(buf, sizeof(buf), 1, 0), -EINVAL);
	assert_int_equal(logfmt_state(buf, sizeof(buf), 1, 0, STORE_STATE_FORWARD), -EINVAL);
	assert_int_equal(logfmt_state(buf, sizeof(buf), 1, 1, STORE_STATE_PENDING), -EINVAL);
	assert_int_equal(logfmt_state(buf, sizeof(buf), 1, 1, STORE_STATE_COUNT), -EINVAL);
}

static void encoders_refuse_a_buffer_one_byte_short(void **state)
{
	struct logfmt_segment h = { 1, 1, 1 };
	struct logfmt_bundle b = kat_put_fields();
	uint8_t buf[256];

	assert_int_equal(logfmt_segment_header(buf, LOGFMT_SEGMENT_HDR_LEN - 1, &h), -EMSGSIZE);
	assert_int_equal(logfmt_put(buf, sizeof(kat_put) - 1, 1, &b, bundle2, 2), -EMSGSIZE);
	assert_int_equal(logfmt_put(buf, sizeof(kat_put) - 2, 1, &b, bundle2, 2), -EMSGSIZE);
	assert_int_equal(logfmt_put(buf, sizeof(kat_put) - 3, 1, &b, bundle2, 2), -EMSGSIZE);
	assert_int_equal(logfmt_put_head(buf, sizeof(kat_put) - 3, 1, &b, 2, 0), -EMSGSIZE);
	assert_int_equal(logfmt_delete(buf, sizeof(kat_delete) - 1, 1, 1), -EMSGSIZE);
	assert_int_equal(logfmt_state(buf, sizeof(kat_state) - 1, 1, 1, 1), -EMSGSIZE);
	assert_int_equal(logfmt_commit(buf, sizeof(kat_commit) - 1, 1), -EMSGSIZE);
}

static void incremental_crc_equals_one_shot(void **state)
{
	struct logfmt_bundle b = kat_put_fields();
	uint8_t data[300], one[512], inc[512];
	long n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	n = logfmt_put(one, sizeof(one), 5, &b, data, sizeof(data));
	assert_true(n > 0);
	for (size_t a = 0; a <= sizeof(data); a += 7) {
		for (size_t c = a; c <= sizeof(data); c += 13) {
			uint32_t reg = LOGFMT_CRC_INIT;
			int h;

			reg = logfmt_crc_update(reg, data, a);
			reg = logfmt_crc_update(reg, data + a, c - a);
			reg = logfmt_crc_update(reg, data + c, sizeof(data) - c);
			h = logfmt_put_head(inc, sizeof(inc), 5, &b, sizeof(data),
					    logfmt_crc_final(reg));
			assert_int_equal(h + sizeof(data), n);
			assert_memory_equal(inc, one, (size_t)h);
		}
	}
}

/* Records 42..46 all come out, each at its offset. */
static void scanner_walks_a_whole_segment(void **state)
{
	uint8_t seg[512];
	size_t len = kat_log(seg, sizeof(seg)), off = LOGFMT_SEGMENT_HDR_LEN;
	const unsigned types[] = { LOGFMT_PUT, LOGFMT_PUT, LOGFMT_DELETE, LOGFMT_STATE,
				   LOGFMT_COMMIT };
	struct logfmt_record r;
	struct logfmt_error err;

	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(logfmt_next(seg + off, len - off, &r, &err), 0);
		assert_int_equal(r.type, types[i]);
		assert_int_equal(r.seq, 42 + i);
		off += r.len;
	}
	assert_int_equal(off, len);
}

/*
 * Every prefix of a record is NEED_MORE, read from an exact-size buffer (a
 * read past the end would trip ASan), with a need beyond what was given that
 * is exact once the head is in.
 */
static void truncation_at_every_byte_needs_more(void **state)
{
	const uint8_t *recs[] = { kat_put, kat_put_frag, kat_delete, kat_state, kat_commit };
	const size_t lens[] = { sizeof(kat_put), sizeof(kat_put_frag), sizeof(kat_delete),
				sizeof(kat_state), sizeof(kat_commit) };
	struct logfmt_record r;
	struct logfmt_error err;

	for (size_t i = 0; i < 5; i++) {
		size_t head;

		assert_int_equal(logfmt_next(recs[i], lens[i], &r, &err), 0);
		head = (size_t)r.data_off;
		for (size_t cut = 0; cut < lens[i]; cut++) {
			assert_int_equal(next_exact(recs[i], cut, &r, &err), LOGFMT_NEED_MORE);
			assert_true(err.need > cut);
			assert_true(err.need <= lens[i]);
			if (cut >= head)
				assert_int_equal(err.need, lens[i]);
		}
	}
}

static void valid_prefix_stops_before_a_torn_last_record(void **state)
{
	uint8_t seg[512];
	size_t len = kat_log(seg, sizeof(seg));
	size_t last = len - sizeof(kat_commit) - sizeof(kat_state);
	struct logfmt_prefix p;

	/* Cut the STATE record (the one before the COMMIT) at every byte. */
	for (size_t cut = last; cut < last + sizeof(kat_state); cut++) {
		uint8_t *q = exact(seg, cut);

		assert_int_equal(logfmt_valid_prefix(q, cut, NULL, NULL, &p), 0);
		free(q);
		assert_int_equal(p.valid_len, last);
		assert_int_equal(p.records, 3);
		assert_int_equal(p.commit_len, LOGFMT_SEGMENT_HDR_LEN);
		assert_int_equal(p.committed, 0);
		assert_int_equal(p.next_seq, 42);
		assert_int_equal(p.stop, cut == last ? LOGFMT_STOP_END : LOGFMT_STOP_TORN);
	}
	/* And every cut of the segment gives a prefix that stops at or before it. */
	for (size_t cut = 0; cut <= len; cut++) {
		uint8_t *q = exact(seg, cut);

		assert_int_equal(logfmt_valid_prefix(q, cut, NULL, NULL, &p), 0);
		free(q);
		assert_true(p.valid_len <= cut);
		assert_true(p.stop == LOGFMT_STOP_END || p.stop == LOGFMT_STOP_TORN);
		if (cut < LOGFMT_SEGMENT_HDR_LEN)
			assert_int_equal(p.commit_len, 0);
		else
			assert_int_equal(p.commit_len, cut == len ? len : LOGFMT_SEGMENT_HDR_LEN);
	}
}

/* A reader fed the segment in chunks of every size decodes the same records. */
static void chunked_reads_of_every_size_give_the_same_records(void **state)
{
	uint8_t seg[512];
	size_t len = kat_log(seg, sizeof(seg));
	struct logfmt_record r;
	struct logfmt_error err;

	for (size_t chunk = 1; chunk <= len; chunk++) {
		size_t have = 0, pos = LOGFMT_SEGMENT_HDR_LEN;
		unsigned n = 0;

		while (pos < len) {
			int ret = next_exact(seg + pos, have > pos ? have - pos : 0, &r, &err);

			if (ret == 0) {
				assert_int_equal(r.seq, 42 + n);
				pos += r.len;
				n++;
				continue;
			}
			assert_int_equal(ret, LOGFMT_NEED_MORE);
			assert_true(pos + err.need <= len);
			assert_true(have < len);
			have = have + chunk < len ? have + chunk : len;
		}
		assert_int_equal(n, 5);
	}
}

/*
 * Flip every bit of a PUT record in turn, and every byte as a whole: the
 * scanner never says OK; a flip in the bundle bytes fails their CRC.
 */
static void every_flipped_bit_is_caught(void **state)
{
	uint8_t seg[512], bad[512];
	size_t len = kat_log(seg, sizeof(seg)), put = LOGFMT_SEGMENT_HDR_LEN;
	size_t data_off = put + sizeof(kat_put) - 2;
	struct logfmt_record r;
	struct logfmt_error err;
	struct logfmt_prefix p;

	for (size_t i = put; i < put + sizeof(kat_put); i++) {
		for (unsigned mask = 1; mask <= 0x100; mask <<= 1) {
			uint8_t flip = mask == 0x100 ? 0xff : (uint8_t)mask;
			int ret;

			memcpy(bad, seg, len);
			bad[i] ^= flip;
			ret = next_exact(bad + put, len - put, &r, &err);
			assert_int_not_equal(ret, 0);
			if (i >= data_off) {
				assert_int_equal(ret, -EBADMSG);
				assert_string_equal(err.why, "bundle CRC mismatch");
			}
			assert_int_equal(logfmt_valid_prefix(bad, len, NULL, NULL, &p), 0);
			assert_int_equal(p.valid_len, put);
			assert_int_equal(p.commit_len, put);
			assert_true(p.stop == LOGFMT_STOP_CORRUPT || p.stop == LOGFMT_STOP_TORN);
		}
	}
}

static void every_flipped_header_bit_is_caught(void **state)
{
	uint8_t h[LOGFMT_SEGMENT_HDR_LEN];
	struct logfmt_segment s;
	struct logfmt_error err;

	for (size_t i = 0; i < sizeof(h); i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			int ret;

			memcpy(h, kat_segment, sizeof(h));
			h[i] ^= (uint8_t)(1u << bit);
			ret = logfmt_segment_header_check(h, sizeof(h), &s, &err);
			if (i >= 8 && i < 12)
				assert_int_equal(ret, -EPROTONOSUPPORT);
			else
				assert_int_equal(ret, -EBADMSG);
		}
	}
}

/* Patch byte at of record rec (len bytes) to v and fix the head CRC. */
static void patch(uint8_t *rec, size_t len, size_t at, uint8_t v)
{
	size_t head = LOGFMT_REC_HDR_LEN + (size_t)(rec[10] | rec[11] << 8);
	uint32_t crc;

	rec[at] = v;
	if (head > len)
		head = len;
	crc = logfmt_crc_final(logfmt_crc_update(LOGFMT_CRC_INIT, rec + 8, head - 8));
	for (int i = 0; i < 4; i++)
		rec[4 + i] = (uint8_t)(crc >> (8 * i));
}

static int patched(const uint8_t *rec, size_t len, size_t at, uint8_t v, const char **ret_why)
{
	uint8_t buf[256];
	struct logfmt_record r;
	struct logfmt_error err = { 0 };
	int ret;

	assert_true(len <= sizeof(buf));
	memcpy(buf, rec, len);
	patch(buf, len, at, v);
	ret = next_exact(buf, len, &r, &err);
	*ret_why = err.why;
	return ret;
}

static void unknown_types_and_reserved_bits_are_corrupt(void **state)
{
	const uint8_t types[] = { 0, 5, 0x80, 0xff };
	const char *why;

	for (size_t i = 0; i < sizeof(types); i++) {
		assert_int_equal(patched(kat_commit, sizeof(kat_commit), 8, types[i], &why),
				 -EBADMSG);
		assert_string_equal(why, "unknown record type");
	}
	/* Right lengths, wrong type: a DELETE's body called a STATE or a COMMIT. */
	assert_int_equal(patched(kat_delete, sizeof(kat_delete), 8, LOGFMT_STATE, &why), -EBADMSG);
	assert_int_equal(patched(kat_delete, sizeof(kat_delete), 8, LOGFMT_COMMIT, &why), -EBADMSG);
	/* Record flags, PUT flags and reserved bytes, fields of a whole bundle. */
	assert_int_equal(patched(kat_commit, sizeof(kat_commit), 9, 1, &why), -EBADMSG);
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 49, 2, &why), -EBADMSG);
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 54, 1, &why), -EBADMSG);
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 55, 1, &why), -EBADMSG);
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 40, 1, &why), -EBADMSG);
	assert_string_equal(why, "PUT: fragment fields set on a whole bundle");
	/* Bad states, id 0, a NUL in an EID, EID lengths that do not add up. */
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 48, 2, &why), -EBADMSG);
	assert_int_equal(patched(kat_state, sizeof(kat_state), 40, 0, &why), -EBADMSG);
	assert_int_equal(patched(kat_state, sizeof(kat_state), 40, 5, &why), -EBADMSG);
	assert_int_equal(patched(kat_delete, sizeof(kat_delete), 32, 0, &why), -EBADMSG);
	assert_string_equal(why, "DELETE: bundle id 0");
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 56 + 3, 0, &why), -EBADMSG);
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 50, 8, &why), -EBADMSG);
	assert_string_equal(why, "PUT: EID lengths do not fill the metadata");
	assert_int_equal(patched(kat_put, sizeof(kat_put), 32 + 50, 0, &why), -EBADMSG);
}

/*
 * Lengths near the top: refused before their CRC when out of bounds, and a
 * record of the largest length waits for its bytes without overflowing.
 */
static void huge_lengths_never_overflow(void **state)
{
	struct logfmt_bundle b = kat_put_fields();
	uint8_t buf[256];
	struct logfmt_record r;
	struct logfmt_error err;
	const char *why;
	int h;

	for (int i = 29; i < 32; i++)
		assert_int_equal(patched(kat_put, sizeof(kat_put), (size_t)i, 0xff, &why),
				 -EBADMSG);
	assert_string_equal(why, "PUT: bundle length out of bounds");
	/* meta_len 0xffff */
	memcpy(buf, kat_put, sizeof(kat_put));
	buf[10] = buf[11] = 0xff;
	assert_int_equal(next_exact(buf, sizeof(kat_put), &r, &err), -EBADMSG);
	/* meta_len on a DELETE */
	assert_int_equal(patched(kat_delete, sizeof(kat_delete), 10, 9, &why), -EBADMSG);

	h = logfmt_put_head(buf, sizeof(buf), 1, &b, LOGFMT_DATA_MAX, 0);
	assert_true(h > 0);
	assert_int_equal(next_exact(buf, (size_t)h, &r, &err), LOGFMT_NEED_MORE);
	assert_int_equal(err.need, (uint64_t)h + LOGFMT_DATA_MAX);
	assert_int_equal(logfmt_head(buf, (size_t)h, &r, &err), 0);
	assert_int_equal(r.len, (uint64_t)h + LOGFMT_DATA_MAX);
	assert_int_equal(r.data_off, (uint64_t)h);
}

static void head_decodes_without_the_bundle_bytes(void **state)
{
	uint8_t buf[sizeof(kat_put)];
	struct logfmt_record r;
	struct logfmt_error err;
	size_t head = sizeof(kat_put) - 2;

	assert_int_equal(logfmt_head(kat_put, head, &r, &err), 0);
	assert_int_equal(r.data_off, head);
	assert_int_equal(r.len, sizeof(kat_put));
	/* Bad bundle bytes are the caller's to find, with the data CRC. */
	memcpy(buf, kat_put, sizeof(buf));
	buf[head] ^= 1;
	assert_int_equal(logfmt_head(buf, sizeof(buf), &r, &err), 0);
	assert_int_not_equal(logfmt_crc_final(logfmt_crc_update(LOGFMT_CRC_INIT, buf + head, 2)),
			     r.data_crc);
	assert_int_equal(logfmt_crc_final(logfmt_crc_update(LOGFMT_CRC_INIT, kat_put + head, 2)),
			 r.data_crc);
	assert_int_equal(logfmt_head(kat_put, head - 1, &r, &err), LOGFMT_NEED_MORE);
	assert_int_equal(err.need, head);
}

struct seen {
	unsigned n;
	uint64_t seq[16];
	size_t off[16];
	int stop_at;
};

static int on_record(void *ctx, const struct logfmt_record *r, size_t offset)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	s->seq[s->n] = r->seq;
	s->off[s->n] = offset;
	s->n++;
	return s->stop_at && (int)s->n == s->stop_at ? 99 : 0;
}

/* A segment: header (first_seq 1), then per group its records and a COMMIT. */
static size_t build(uint8_t *seg, size_t cap, const unsigned *groups, size_t ngroups)
{
	struct logfmt_segment h = { 3, 1, 0 };
	struct logfmt_bundle b = kat_put_fields();
	uint64_t seq = 1;
	size_t n = (size_t)logfmt_segment_header(seg, cap, &h);

	for (size_t g = 0; g < ngroups; g++) {
		for (unsigned i = 0; i < groups[g]; i++) {
			long m = logfmt_put(seg + n, cap - n, seq++, &b, "abc", 3);

			assert_true(m > 0);
			n += (size_t)m;
		}
		n += (size_t)logfmt_commit(seg + n, cap - n, seq++);
	}
	return n;
}

static void valid_prefix_hands_out_complete_groups_only(void **state)
{
	const unsigned groups[] = { 2, 0, 1 };
	uint8_t seg[1024];
	size_t len = build(seg, sizeof(seg), groups, 3), rec = sizeof(kat_put) + 1;
	struct seen s = { 0 };
	struct logfmt_prefix p;

	/* Two more records without their COMMIT: a group that never completed. */
	len += (size_t)logfmt_delete(seg + len, sizeof(seg) - len, 7, 1);
	len += (size_t)logfmt_delete(seg + len, sizeof(seg) - len, 8, 2);
	assert_int_equal(logfmt_valid_prefix(seg, len, on_record, &s, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_END);
	assert_int_equal(p.hdr.segno, 3);
	assert_int_equal(p.valid_len, len);
	assert_int_equal(p.records, 8);
	assert_int_equal(p.committed, 6);
	assert_int_equal(p.commit_len, len - 2 * (LOGFMT_REC_HDR_LEN + 8));
	assert_int_equal(p.next_seq, 7);
	assert_int_equal(s.n, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(s.seq[i], i + 1);
	assert_int_equal(s.off[0], LOGFMT_SEGMENT_HDR_LEN);
	assert_int_equal(s.off[1], LOGFMT_SEGMENT_HDR_LEN + rec);
	assert_int_equal(s.off[5], p.commit_len - LOGFMT_REC_HDR_LEN);

	/* fn's non-zero return stops the scan and comes back. */
	s = (struct seen){ .stop_at = 2 };
	assert_int_equal(logfmt_valid_prefix(seg, len, on_record, &s, &p), 99);
	assert_int_equal(s.n, 2);
}

static void valid_prefix_names_what_follows(void **state)
{
	const unsigned groups[] = { 1, 1 };
	uint8_t seg[1024];
	size_t len = build(seg, sizeof(seg), groups, 2), rec = sizeof(kat_put) + 1;
	size_t second = LOGFMT_SEGMENT_HDR_LEN + rec + LOGFMT_REC_HDR_LEN;
	struct logfmt_prefix p;

	/* Preallocated zeros after the last record. */
	memset(seg + len, 0, 100);
	assert_int_equal(logfmt_valid_prefix(seg, len + 100, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_ZEROS);
	assert_int_equal(p.valid_len, len);
	assert_int_equal(p.commit_len, len);

	/* Damage in the first group, a whole group after it: resync finds it. */
	seg[LOGFMT_SEGMENT_HDR_LEN + rec - 1] ^= 0x10;
	assert_int_equal(logfmt_valid_prefix(seg, len, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_CORRUPT);
	assert_string_equal(p.why, "bundle CRC mismatch");
	assert_int_equal(p.valid_len, LOGFMT_SEGMENT_HDR_LEN);
	assert_int_equal(p.resync, LOGFMT_SEGMENT_HDR_LEN + rec);
	assert_int_equal(p.resync_commits, 2); /* the first group had been synced */
	seg[LOGFMT_SEGMENT_HDR_LEN + rec - 1] ^= 0x10;

	/* Damage in the last group: only its own COMMIT follows, a torn write. */
	seg[second + rec - 1] ^= 0x10;
	assert_int_equal(logfmt_valid_prefix(seg, len, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_CORRUPT);
	assert_int_equal(p.valid_len, second);
	assert_int_equal(p.commit_len, second);
	assert_int_equal(p.resync, second + rec);
	assert_int_equal(p.resync_commits, 1);
	seg[second + rec - 1] ^= 0x10;

	/* Garbage, then nothing valid. */
	memset(seg + second, 0xa5, len - second);
	assert_int_equal(logfmt_valid_prefix(seg, len, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_CORRUPT);
	assert_int_equal(p.valid_len, second);
	assert_int_equal(p.commit_len, second);
	assert_int_equal(p.resync, 0);
	assert_int_equal(p.resync_commits, 0);
}

static void valid_prefix_refuses_a_sequence_gap(void **state)
{
	uint8_t seg[256];
	struct logfmt_segment h = { 0, 10, 0 };
	struct logfmt_prefix p;
	size_t n = (size_t)logfmt_segment_header(seg, sizeof(seg), &h);

	n += (size_t)logfmt_commit(seg + n, sizeof(seg) - n, 10);
	n += (size_t)logfmt_commit(seg + n, sizeof(seg) - n, 12); /* a stale record, say */
	assert_int_equal(logfmt_valid_prefix(seg, n, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_CORRUPT);
	assert_string_equal(p.why, "record out of sequence");
	assert_int_equal(p.valid_len, LOGFMT_SEGMENT_HDR_LEN + LOGFMT_REC_HDR_LEN);
	assert_int_equal(p.next_seq, 11);

	/* The first record must be first_seq. */
	h.first_seq = 9;
	(void)logfmt_segment_header(seg, sizeof(seg), &h);
	assert_int_equal(logfmt_valid_prefix(seg, n, NULL, NULL, &p), 0);
	assert_int_equal(p.valid_len, LOGFMT_SEGMENT_HDR_LEN);
	assert_int_equal(p.next_seq, 9);
}

static void valid_prefix_judges_the_segment_header(void **state)
{
	uint8_t seg[LOGFMT_SEGMENT_HDR_LEN + 8] = { 0 };
	struct logfmt_prefix p;

	/* A file created and never written, or one whose header was cut short. */
	assert_int_equal(logfmt_valid_prefix(seg, 0, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_END);
	assert_int_equal(logfmt_valid_prefix(seg, sizeof(seg), NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_ZEROS);
	assert_int_equal(p.valid_len, 0);
	assert_int_equal(logfmt_valid_prefix(kat_segment, 20, NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_TORN);
	assert_int_equal(p.valid_len, 0);
	assert_int_equal(logfmt_valid_prefix(kat_segment, sizeof(kat_segment), NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_END);
	assert_int_equal(p.valid_len, LOGFMT_SEGMENT_HDR_LEN);
	assert_int_equal(p.next_seq, 42);

	/* Another version: not ours to judge, whatever its CRC says. */
	memcpy(seg, kat_segment, sizeof(kat_segment));
	seg[8] = 2;
	assert_int_equal(logfmt_valid_prefix(seg, sizeof(kat_segment), NULL, NULL, &p),
			 -EPROTONOSUPPORT);
	memcpy(seg, "NOTALOG!", 8);
	assert_int_equal(logfmt_valid_prefix(seg, sizeof(kat_segment), NULL, NULL, &p), 0);
	assert_int_equal(p.stop, LOGFMT_STOP_CORRUPT);
	assert_int_equal(p.valid_len, 0);
}

static void segment_names_round_trip_and_nothing_else_parses(void **state)
{
	const char *bad[] = { "seg-0000000000000001.lo",   "seg-000000000000001.log",
			      "seg-00000000000000001.log", "seg-000000000000000A.log",
			      "seg-000000000000000g.log",  "seg-0000000000000001.log~",
			      "Seg-0000000000000001.log",  "" };
	const uint64_t nums[] = { 0, 1, 0xabcdef0123456789u, UINT64_MAX };
	char name[LOGFMT_SEGMENT_NAME_LEN];
	uint64_t v;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		assert_int_equal(logfmt_segment_name(name, sizeof(name), nums[i]),
				 LOGFMT_SEGMENT_NAME_LEN - 1);
		assert_int_equal(logfmt_segment_name_parse(name, &v), 0);
		assert_int_equal(v, nums[i]);
	}
	assert_string_equal(name, "seg-ffffffffffffffff.log");
	assert_int_equal(logfmt_segment_name(name, sizeof(name) - 1, 1), -ENAMETOOLONG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(logfmt_segment_name_parse(bad[i], &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoders_write_the_known_answers),
		cmocka_unit_test(decoders_read_the_known_answers),
		cmocka_unit_test(put_round_trips_edge_values),
		cmocka_unit_test(delete_and_state_round_trip_every_value),
		cmocka_unit_test(encoders_refuse_what_no_reader_accepts),
		cmocka_unit_test(encoders_refuse_a_buffer_one_byte_short),
		cmocka_unit_test(incremental_crc_equals_one_shot),
		cmocka_unit_test(scanner_walks_a_whole_segment),
		cmocka_unit_test(truncation_at_every_byte_needs_more),
		cmocka_unit_test(valid_prefix_stops_before_a_torn_last_record),
		cmocka_unit_test(chunked_reads_of_every_size_give_the_same_records),
		cmocka_unit_test(every_flipped_bit_is_caught),
		cmocka_unit_test(every_flipped_header_bit_is_caught),
		cmocka_unit_test(unknown_types_and_reserved_bits_are_corrupt),
		cmocka_unit_test(huge_lengths_never_overflow),
		cmocka_unit_test(head_decodes_without_the_bundle_bytes),
		cmocka_unit_test(valid_prefix_hands_out_complete_groups_only),
		cmocka_unit_test(valid_prefix_names_what_follows),
		cmocka_unit_test(valid_prefix_refuses_a_sequence_gap),
		cmocka_unit_test(valid_prefix_judges_the_segment_header),
		cmocka_unit_test(segment_names_round_trip_and_nothing_else_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
