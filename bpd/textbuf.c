/* SPDX-License-Identifier: MIT */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_init(struct textbuf *tb, size_t max)
{
	*tb = (struct textbuf){ .max = max };
}

void tb_free(struct textbuf *tb)
{
	free(tb->buf);
	*tb = (struct textbuf){ 0 };
}

/* Room for n more bytes and a NUL, within the cap. */
static bool reserve(struct textbuf *tb, size_t n)
{
	size_t cap;
	char *p;

	if (tb->truncated || tb->len + n + 1 > tb->max) {
		tb->truncated = true;
		return false;
	}
	if (tb->len + n + 1 <= tb->cap)
		return true;
	cap = tb->cap ? tb->cap : 4096;
	while (cap < tb->len + n + 1)
		cap *= 2;
	if (cap > tb->max)
		cap = tb->max;
	p = realloc(tb->buf, cap);
	if (!p) {
		tb->truncated = true;
		return false;
	}
	tb->buf = p;
	tb->cap = cap;
	return true;
}

void tb_printf(struct textbuf *tb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(tb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(tb->buf + tb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	tb->len += (size_t)n;
}

void tb_json_str(struct textbuf *tb, const char *s)
{
	tb_printf(tb, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			tb_printf(tb, "\\%c", c);
		else if (c < 0x20)
			tb_printf(tb, "\\u%04x", c);
		else
			tb_printf(tb, "%c", c);
	}
	tb_printf(tb, "\"");
}
