/* SPDX-License-Identifier: MIT */
/*
 * The helpers bpctl's commands share; the contracts are in cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most bytes read from one input (a bundle to decode, a payload file). */
#define INPUT_MAX ((size_t)64 << 20)

int cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	(void)fputs("bpctl: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return status;
}

int cli_bad_option(const char *cmd, char **argv, int c)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return cli_error(BPCTL_EXIT_USAGE,
				 "%s: option '%s' needs a value (see bpctl help %s)", cmd, arg,
				 cmd);
	if (optopt >= 256 || (optopt > 0 && arg[0] == '-' && arg[1] == '-'))
		return cli_error(BPCTL_EXIT_USAGE,
				 "%s: option '%.*s' takes no value (see bpctl help %s)", cmd,
				 (int)strcspn(arg, "="), arg, cmd);
	if (optopt > 0 && optopt < 256)
		return cli_error(BPCTL_EXIT_USAGE, "%s: unknown option '-%c' (see bpctl help %s)",
				 cmd, optopt, cmd);
	return cli_error(BPCTL_EXIT_USAGE, "%s: unknown option '%s' (see bpctl help %s)", cmd, arg,
			 cmd);
}

/*
 * Read all of f into a new buffer (*ret_buf, caller frees): at most INPUT_MAX
 * bytes, growing with the bytes that arrive. Returns 0, -EFBIG when f holds
 * more, -ENOMEM, or the read's -errno.
 */
static int read_all(FILE *f, uint8_t **ret_buf, size_t *ret_len)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nbuf;

			if (cap > INPUT_MAX) {
				free(buf);
				return -EFBIG;
			}
			if (ncap > INPUT_MAX + 1)
				ncap = INPUT_MAX + 1;
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t want = cap - len, got = fread(buf + len, 1, want, f);

		len += got;
		if (got < want)
			break;
	}
	if (ferror(f)) {
		int err = errno ? errno : EIO;

		free(buf);
		return -err;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int cli_read_input(const char *cmd, const char *path, uint8_t **ret_buf, size_t *ret_len)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rbe");
	int rc;

	if (!f)
		return cli_error(BPCTL_EXIT_USAGE, "%s: %s: %s", cmd, path, strerror(errno));
	errno = 0;
	rc = read_all(f, ret_buf, ret_len);
	if (!is_stdin)
		(void)fclose(f);
	if (rc == -EFBIG)
		return cli_error(BPCTL_EXIT_FAIL, "%s: %s: input is larger than 64 MiB", cmd, path);
	if (rc < 0)
		return cli_error(BPCTL_EXIT_USAGE, "%s: %s: %s", cmd, path, strerror(-rc));
	return BPCTL_EXIT_OK;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool cli_looks_like_hex(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (hex_value(p[i]) < 0 && !is_space(p[i]))
			return false;
	}
	return true;
}

long cli_hex_decode(const char *text, size_t len, bool skip_space, uint8_t *out)
{
	size_t n = 0;
	int hi = -1;

	for (size_t i = 0; i < len; i++) {
		int v = hex_value((unsigned char)text[i]);

		if (v < 0) {
			if (skip_space && is_space((unsigned char)text[i]))
				continue;
			return -EINVAL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return hi < 0 ? (long)n : -EINVAL;
}

int cli_parse_u64(const char *s, size_t len, uint64_t *ret)
{
	char text[72], *end;
	int base = 10;
	unsigned long long v;

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, len);
	text[len] = '\0';
	if (len > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		base = 16;
	/* Only digits: strtoull would also take spaces, a sign or a second "0x". */
	for (size_t i = base == 16 ? 2 : 0; i < len; i++) {
		int d = hex_value((unsigned char)text[i]);

		if (d < 0 || d >= base)
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(base == 16 ? text + 2 : text, &end, base);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int cli_write_output(const char *cmd, const char *path, bool hex, const uint8_t *buf, size_t len)
{
	bool to_stdout = !path || strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "wbe");
	bool failed;

	if (!f)
		return cli_error(BPCTL_EXIT_USAGE, "%s: %s: %s", cmd, path, strerror(errno));
	if (hex) {
		for (size_t i = 0; i < len; i++)
			(void)fprintf(f, "%02x", buf[i]);
		(void)fputc('\n', f);
	} else {
		(void)fwrite(buf, 1, len, f);
	}
	errno = 0;
	failed = fflush(f) != 0 || ferror(f);
	if (!to_stdout && fclose(f) != 0)
		failed = true;
	if (failed)
		return cli_error(BPCTL_EXIT_FAIL, "%s: writing %s: %s", cmd,
				 to_stdout ? "the output" : path, strerror(errno ? errno : EIO));
	return BPCTL_EXIT_OK;
}
