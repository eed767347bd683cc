/* SPDX-License-Identifier: MIT */
/*
 * Streaming JSON writer (see json.h for the contract).
 */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void json_wr_init(struct json_wr *w, FILE *f)
{
	*w = (struct json_wr){ .f = f };
}

static void fail(struct json_wr *w)
{
	if (!w->err)
		w->err = -EINVAL;
}

static void indent(struct json_wr *w, unsigned depth)
{
	for (unsigned i = 0; i < depth; i++)
		(void)fputs("  ", w->f);
}

/*
 * Everything that goes before a value: nothing at the top level, nothing
 * after a key, a separator and the indentation inside an array. Returns false
 * (and writes nothing) when a value is not allowed here.
 */
static bool value_prefix(struct json_wr *w)
{
	if (w->err)
		return false;
	if (w->done) {
		fail(w);
		return false;
	}
	if (w->depth == 0)
		return true;
	if (w->in_object[w->depth - 1]) {
		if (!w->after_key) {
			fail(w);
			return false;
		}
		w->after_key = false;
		return true;
	}
	(void)fputs(w->has_items[w->depth - 1] ? ",\n" : "\n", w->f);
	indent(w, w->depth);
	w->has_items[w->depth - 1] = true;
	return true;
}

/* After a scalar: at the top level the document is complete. */
static void value_done(struct json_wr *w)
{
	if (w->depth == 0)
		w->done = true;
}

static void begin(struct json_wr *w, bool object)
{
	if (!value_prefix(w))
		return;
	if (w->depth == JSON_MAX_DEPTH) {
		fail(w);
		return;
	}
	(void)fputc(object ? '{' : '[', w->f);
	w->in_object[w->depth] = object;
	w->has_items[w->depth] = false;
	w->depth++;
}

static void end(struct json_wr *w, bool object)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->in_object[w->depth - 1] != object || w->after_key) {
		fail(w);
		return;
	}
	w->depth--;
	if (w->has_items[w->depth]) {
		(void)fputc('\n', w->f);
		indent(w, w->depth);
	}
	(void)fputc(object ? '}' : ']', w->f);
	value_done(w);
}

void json_object_begin(struct json_wr *w)
{
	begin(w, true);
}

void json_object_end(struct json_wr *w)
{
	end(w, true);
}

void json_array_begin(struct json_wr *w)
{
	begin(w, false);
}

void json_array_end(struct json_wr *w)
{
	end(w, false);
}

/*
 * Length of the valid UTF-8 sequence (2..4 bytes) starting at p, or 0 when
 * the bytes there are not one: no overlong forms, no surrogates, nothing past
 * U+10FFFF (RFC 3629 4).
 */
static size_t utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return len;
}

static void write_escaped(struct json_wr *w, const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	(void)fputc('"', w->f);
	while (i < len) {
		uint8_t c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			(void)fputc('\\', w->f);
			(void)fputc(c, w->f);
		} else if (c == '\n') {
			(void)fputs("\\n", w->f);
		} else if (c == '\t') {
			(void)fputs("\\t", w->f);
		} else if (c == '\r') {
			(void)fputs("\\r", w->f);
		} else if (c >= 0x20 && c < 0x7f) {
			(void)fputc(c, w->f);
		} else if (c >= 0x80 && (n = utf8_seq_len(p + i, len - i)) > 0) {
			(void)fwrite(p + i, 1, n, w->f);
			i += n;
			continue;
		} else {
			/* Other controls, DEL, and bytes that are not UTF-8. */
			(void)fprintf(w->f, "\\u%04x", c);
		}
		i++;
	}
	(void)fputc('"', w->f);
}

void json_key(struct json_wr *w, const char *key)
{
	if (w->err)
		return;
	if (w->depth == 0 || !w->in_object[w->depth - 1] || w->after_key) {
		fail(w);
		return;
	}
	(void)fputs(w->has_items[w->depth - 1] ? ",\n" : "\n", w->f);
	indent(w, w->depth);
	write_escaped(w, key, strlen(key));
	(void)fputs(": ", w->f);
	w->has_items[w->depth - 1] = true;
	w->after_key = true;
}

void json_string_n(struct json_wr *w, const char *s, size_t len)
{
	if (!value_prefix(w))
		return;
	write_escaped(w, s, len);
	value_done(w);
}

void json_string(struct json_wr *w, const char *s)
{
	json_string_n(w, s, strlen(s));
}

void json_hex(struct json_wr *w, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	if (!value_prefix(w))
		return;
	(void)fputc('"', w->f);
	for (size_t i = 0; i < len; i++) {
		(void)fputc(digits[data[i] >> 4], w->f);
		(void)fputc(digits[data[i] & 0xf], w->f);
	}
	(void)fputc('"', w->f);
	value_done(w);
}

void json_uint(struct json_wr *w, uint64_t v)
{
	if (!value_prefix(w))
		return;
	(void)fprintf(w->f, "%" PRIu64, v);
	value_done(w);
}

void json_bool(struct json_wr *w, bool v)
{
	if (!value_prefix(w))
		return;
	(void)fputs(v ? "true" : "false", w->f);
	value_done(w);
}

void json_null(struct json_wr *w)
{
	if (!value_prefix(w))
		return;
	(void)fputs("null", w->f);
	value_done(w);
}

void json_member_string(struct json_wr *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_member_uint(struct json_wr *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_uint(w, v);
}

void json_member_bool(struct json_wr *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

int json_finish(struct json_wr *w)
{
	if (!w->err && !w->done)
		fail(w);
	if (w->err)
		return w->err;
	(void)fputc('\n', w->f);
	errno = 0;
	if (fflush(w->f) != 0 || ferror(w->f))
		return errno ? -errno : -EIO;
	return 0;
}
