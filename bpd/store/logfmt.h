/* SPDX-License-Identifier: MIT */
/*
 * The on-disk format of the persistent store's log (docs/store-format.md is
 * the specification): segment headers and records, as pure functions on
 * buffers. Nothing here opens, reads, writes or syncs a file; the backend
 * decides where bytes go and when they are durable.
 *
 * A segment is a 64-byte header, then records back to back. A record is a
 * head (a 32-byte fixed part and the metadata of its type, checked by one
 * CRC-32C) and, for a PUT, data (the encoded bundle, checked by a second
 * CRC-32C), so the head can be trusted before any bundle byte is read and a
 * reader can sendfile() the bundle straight from the file. All integers are
 * little-endian.
 *
 * Decoders never read past the length they are given, and say how many bytes
 * they need when a buffer ends inside a record.
 */
#ifndef BPD_STORE_LOGFMT_H
#define BPD_STORE_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define LOGFMT_VERSION 1
#define LOGFMT_SEGMENT_HDR_LEN 64
/* A record's fixed part; its metadata follows. */
#define LOGFMT_REC_HDR_LEN 32
/* Metadata of a PUT before its two EID texts. */
#define LOGFMT_PUT_FIXED_LEN 56
#define LOGFMT_DELETE_META_LEN 8
#define LOGFMT_STATE_META_LEN 9
/* Longest EID text in a record (no NUL is stored). */
#define LOGFMT_EID_MAX (STORE_EID_TEXT_MAX - 1)
/* Longest head of any record: a PUT with two EIDs of the longest. */
#define LOGFMT_HEAD_MAX (LOGFMT_REC_HDR_LEN + LOGFMT_PUT_FIXED_LEN + 2 * LOGFMT_EID_MAX)
/* Largest bundle the format allows (bpd's own limits are far lower). */
#define LOGFMT_DATA_MAX (1ull << 40)
/* Longest segment file name, NUL included: "seg-" 16 hex digits ".log". */
#define LOGFMT_SEGMENT_NAME_LEN 25

/* The decoders' third result, beside 0 and -errno: the buffer ends too soon. */
#define LOGFMT_NEED_MORE 1

/* Record types. Kept on disk: never renumber them. */
enum logfmt_type {
	LOGFMT_PUT = 1,	   /* a bundle entered the store: metadata and bytes */
	LOGFMT_DELETE = 2, /* a bundle left it */
	LOGFMT_STATE = 3,  /* a bundle moved to another state */
	LOGFMT_COMMIT = 4, /* the records since the last COMMIT form one complete group */
};

/* What a segment header says. */
struct logfmt_segment {
	uint64_t segno;	    /* the number in the file name */
	uint64_t first_seq; /* seq of the segment's first record (the next one, if empty) */
	uint64_t created;   /* DTN time, ms since 2000-01-01 00:00 UTC */
};

/*
 * What a record says about a bundle: everything for a PUT, id for a DELETE,
 * id and state for a STATE. EID texts are not NUL-terminated; after decoding
 * they point into the buffer that was decoded.
 */
struct logfmt_bundle {
	uint64_t id; /* never 0 */
	const char *dest;
	size_t dest_len; /* 1..LOGFMT_EID_MAX, no NUL byte */
	const char *source;
	size_t source_len; /* likewise */
	uint64_t creation_time;
	uint64_t sequence;
	bool is_fragment;
	uint64_t frag_offset; /* both 0 unless is_fragment */
	uint64_t frag_len;
	uint64_t expiry;
	/* PUT: QUEUED_LOCAL or FORWARD; STATE: any state but PENDING. */
	enum store_state state;
};

/* One decoded record. Offsets are from the record's first byte. */
struct logfmt_record {
	enum logfmt_type type;
	uint64_t seq; /* one more than the previous record's, across segments */
	struct logfmt_bundle b;
	uint64_t len;	   /* the whole record: head and data */
	uint64_t data_off; /* where the bundle bytes start (the head's length) */
	uint64_t data_len; /* bundle bytes (PUT: at least 1; others: 0) */
	uint32_t data_crc; /* CRC-32C of those bytes */
};

/* Why a decoder stopped. */
struct logfmt_error {
	const char *why; /* -EBADMSG: the check that failed (static text) */
	uint64_t need;	 /* LOGFMT_NEED_MORE: bytes needed from the buffer's start */
};

/* The CRC-32C of the data, fed in pieces: r = init; r = update(r, ...); final(r). */
#define LOGFMT_CRC_INIT 0xffffffffu
uint32_t logfmt_crc_update(uint32_t reg, const void *buf, size_t len);
uint32_t logfmt_crc_final(uint32_t reg);

/*
 * "seg-%016llx.log" (lower-case hex) into buf: returns the name's length, or
 * -ENAMETOOLONG when cap is smaller than LOGFMT_SEGMENT_NAME_LEN.
 */
int logfmt_segment_name(char *buf, size_t cap, uint64_t segno);
/* Parse a name made by logfmt_segment_name() (exactly): 0, or -EINVAL. */
int logfmt_segment_name_parse(const char *name, uint64_t *ret_segno);

/* Write a segment header into buf: LOGFMT_SEGMENT_HDR_LEN, or -EMSGSIZE. */
int logfmt_segment_header(uint8_t *buf, size_t cap, const struct logfmt_segment *h);

/*
 * Check the segment header at buf's start. Returns 0 with *ret filled;
 * LOGFMT_NEED_MORE when len is shorter than the header; -EPROTONOSUPPORT
 * when the magic is ours and the version is not (checked before the CRC: do
 * not truncate or rewrite that file); -EBADMSG with ret_err->why otherwise.
 */
int logfmt_segment_header_check(const uint8_t *buf, size_t len, struct logfmt_segment *ret,
				struct logfmt_error *ret_err);

/*
 * Encoders: each writes one record, with sequence number seq, into buf and
 * returns its length, -EMSGSIZE when cap is too small, or -EINVAL when a
 * field breaks the rules of struct logfmt_bundle.
 *
 * A PUT is written in two parts so that the bundle can come from anywhere
 * (memory, a file range) and go out with writev() or copy_file_range():
 * logfmt_put_head() writes the head, given the bundle's length and its
 * CRC-32C (logfmt_crc_*() over its bytes, in order); the bundle's bytes
 * follow the head in the file. The head is at most LOGFMT_HEAD_MAX bytes.
 */
int logfmt_put_head(uint8_t *buf, size_t cap, uint64_t seq, const struct logfmt_bundle *b,
		    uint64_t data_len, uint32_t data_crc);
/* A whole PUT, head and bundle, for a bundle in memory. */
long logfmt_put(uint8_t *buf, size_t cap, uint64_t seq, const struct logfmt_bundle *b,
		const void *data, size_t data_len);
int logfmt_delete(uint8_t *buf, size_t cap, uint64_t seq, uint64_t id);
int logfmt_state(uint8_t *buf, size_t cap, uint64_t seq, uint64_t id, enum store_state state);
int logfmt_commit(uint8_t *buf, size_t cap, uint64_t seq);

/*
 * Decode and check the record at buf's start; bytes after it are not looked
 * at. Returns 0 with *ret filled (ret->len bytes make the record; ret->b's
 * texts point into buf); LOGFMT_NEED_MORE when buf ends inside the record
 * (ret_err->need is a lower bound of the record's length until the head is
 * complete, then its length); -EBADMSG when the bytes cannot be a record:
 * bad magic, unknown type, a non-zero reserved field, a length out of
 * bounds, a CRC that does not match, a malformed metadata field
 * (ret_err->why says which).
 */
int logfmt_next(const uint8_t *buf, size_t len, struct logfmt_record *ret,
		struct logfmt_error *ret_err);

/*
 * The same, checking the head only: the data need not be in buf (ret->len
 * may exceed len) and its CRC is not checked. For a reader that reads heads
 * and checks bundle bytes later: compare logfmt_crc_final() of the bytes
 * with ret->data_crc.
 */
int logfmt_head(const uint8_t *buf, size_t len, struct logfmt_record *ret,
		struct logfmt_error *ret_err);

/* Where a segment's valid records end, and what follows them. */
enum logfmt_stop {
	LOGFMT_STOP_END,     /* the segment ends right after a record (or its header) */
	LOGFMT_STOP_ZEROS,   /* only zero bytes follow: unwritten, preallocated space */
	LOGFMT_STOP_TORN,    /* the segment ends inside a record (or its header) */
	LOGFMT_STOP_CORRUPT, /* bytes that are not the next record (why says why) */
};

struct logfmt_prefix {
	struct logfmt_segment hdr; /* valid when valid_len > 0 */
	size_t valid_len;	   /* header and every record that checks out, in order */
	size_t commit_len;	   /* header and records up to the last COMMIT: keep this */
	uint64_t records;	   /* records in valid_len, COMMITs included */
	uint64_t committed;	   /* records in commit_len, COMMITs included */
	uint64_t next_seq;	   /* seq of the record that would follow commit_len */
	enum logfmt_stop stop;	   /* what lies at valid_len */
	const char *why;	   /* LOGFMT_STOP_CORRUPT and _TORN: static text */
	/*
	 * LOGFMT_STOP_CORRUPT: the offset of the first later record that
	 * checks out on its own (0: none), and how many COMMITs the records
	 * that follow each other from there hold. Two or more mean that
	 * the damaged bytes had been synced: media damage, not a torn tail
	 * (docs/store-format.md).
	 */
	size_t resync;
	uint64_t resync_commits;
};

/*
 * Called for each committed record, in order; offset is the record's in the
 * segment (its bundle bytes start at offset + rec->data_off). A non-zero
 * return stops the scan.
 */
typedef int logfmt_record_fn(void *ctx, const struct logfmt_record *rec, size_t offset);

/*
 * Recovery of one whole segment in memory (read or mapped): check its header
 * and its records, each record's seq one more than the last (the first one
 * hdr.first_seq), and call fn (may be NULL) for every record of every
 * complete group, i.e. up to and including the last COMMIT before the first
 * bad byte. Returns 0 with *ret filled, -EPROTONOSUPPORT for a header of
 * another version (*ret then says nothing), or fn's non-zero value.
 * docs/store-format.md says what recovery does with each outcome.
 */
int logfmt_valid_prefix(const uint8_t *seg, size_t len, logfmt_record_fn *fn, void *ctx,
			struct logfmt_prefix *ret);

/* "put", "delete", ... for logs; "?" for another value. */
const char *logfmt_type_name(unsigned type);

#endif
