/* SPDX-License-Identifier: MIT */
/*
 * A growing text buffer with a hard cap, for admin command output. Past the
 * cap, writes are dropped and `truncated` is set: output is bounded however
 * many bundles the store holds.
 */
#ifndef BPD_TEXTBUF_H
#define BPD_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *buf; /* NUL-terminated while len > 0 */
	size_t len, cap, max;
	bool truncated;
};

void tb_init(struct textbuf *tb, size_t max);
void tb_free(struct textbuf *tb);
void tb_printf(struct textbuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string: quoted, with '"', '\\' and control bytes escaped. */
void tb_json_str(struct textbuf *tb, const char *s);

#endif
