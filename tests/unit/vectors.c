/* SPDX-License-Identifier: MIT */
#include "vectors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint8_t *vector_from_hex(const char *hex, size_t *ret_len)
{
	size_t n = strlen(hex), len = 0;
	uint8_t *out = malloc(n / 2 + 1);
	int hi = -1;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (isspace((unsigned char)hex[i]))
			continue;
		v = hexval((unsigned char)hex[i]);
		if (v < 0)
			goto fail;
		if (hi < 0) {
			hi = v;
		} else {
			out[len++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		goto fail;
	*ret_len = len;
	return out;
fail:
	free(out);
	return NULL;
}

uint8_t *vector_load(const char *relpath, size_t *ret_len)
{
	char path[1024];
	char *text = NULL;
	size_t cap = 0;
	uint8_t *out = NULL;
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/%s", BPSOCK_VECTORS, relpath);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		cap = (size_t)size;
		text = malloc(cap + 1);
		if (text && fread(text, 1, cap, f) == cap) {
			text[cap] = '\0';
			out = vector_from_hex(text, ret_len);
		}
	}
	free(text);
	fclose(f);
	return out;
}
