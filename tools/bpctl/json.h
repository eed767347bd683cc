/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer for bpctl's machine-readable output.
 *
 * Values go straight to a FILE*, pretty-printed with a 2-space indent (the
 * layout of Python's json.dumps(indent=2)). The writer places commas,
 * newlines and indentation itself and checks the nesting: a key outside an
 * object, a value without a key inside one, an unbalanced end or nesting
 * deeper than JSON_MAX_DEPTH makes it stop writing and json_finish() report
 * -EINVAL. Strings are written as bytes: quotes, backslashes and control
 * characters are escaped, valid UTF-8 passes through, and every byte that is
 * not part of a valid UTF-8 sequence is written as \u00XX.
 */
#ifndef BPCTL_JSON_H
#define BPCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_wr {
	FILE *f; /* borrowed; the caller closes it */
	unsigned depth;
	bool in_object[JSON_MAX_DEPTH]; /* per open container: object or array */
	bool has_items[JSON_MAX_DEPTH];
	bool after_key; /* a key was written, its value comes next */
	bool done;	/* the top-level value is complete */
	int err;	/* first misuse (-EINVAL); sticky */
};

void json_wr_init(struct json_wr *w, FILE *f);

void json_object_begin(struct json_wr *w);
void json_object_end(struct json_wr *w);
void json_array_begin(struct json_wr *w);
void json_array_end(struct json_wr *w);
/* A member name inside an object; the next call writes its value. */
void json_key(struct json_wr *w, const char *key);

void json_string(struct json_wr *w, const char *s);
/* A string of len bytes, which may hold NULs and non-UTF-8 bytes. */
void json_string_n(struct json_wr *w, const char *s, size_t len);
/* Bytes as a string of lowercase hex digits. */
void json_hex(struct json_wr *w, const uint8_t *data, size_t len);
void json_uint(struct json_wr *w, uint64_t v);
void json_bool(struct json_wr *w, bool v);
void json_null(struct json_wr *w);

/* Key and value in one call, for the common members. */
void json_member_string(struct json_wr *w, const char *key, const char *s);
void json_member_uint(struct json_wr *w, const char *key, uint64_t v);
void json_member_bool(struct json_wr *w, const char *key, bool v);

/*
 * End the document with a newline and flush. Returns 0; -EINVAL when the
 * calls did not make one complete value; -EIO (or the stream's errno) when
 * writing failed.
 */
int json_finish(struct json_wr *w);

#endif
