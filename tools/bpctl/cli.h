/* SPDX-License-Identifier: MIT */
/*
 * What bpctl's commands share: exit statuses, the one error line, getopt's
 * complaints, bounded input, hex, strict numbers and output files. Every
 * function that reports an error prints its one line itself.
 */
#ifndef BPCTL_CLI_H
#define BPCTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses every bpctl command returns to main. */
enum bpctl_exit {
	BPCTL_EXIT_OK = 0,
	BPCTL_EXIT_FAIL = 1,  /* the operation failed (e.g. the bundle is invalid) */
	BPCTL_EXIT_USAGE = 2, /* bad arguments, unreadable or unwritable files */
};

/* The DTN epoch, 2000-01-01T00:00:00Z, in Unix milliseconds (RFC 9171 4.2.6). */
#define CLI_DTN_EPOCH_UNIX_MS 946684800000ull

/*
 * Print "bpctl: " and the formatted text as the command's one error line on
 * stderr (the text starts with the command's name); returns status.
 */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * getopt_long's complaint (opterr is off) about argv[optind - 1], for the
 * command cmd, as one line; c is what getopt_long returned ('?' or ':').
 * Returns BPCTL_EXIT_USAGE.
 */
int cli_bad_option(const char *cmd, char **argv, int c);

/*
 * Read the file path ("-" is standard input) into a new buffer (*ret_buf, the
 * caller frees it; untouched on failure): at most 64 MiB. Returns an enum
 * bpctl_exit: BPCTL_EXIT_OK, BPCTL_EXIT_FAIL when the input is larger,
 * BPCTL_EXIT_USAGE when it cannot be opened or read; prints the error line
 * itself ("bpctl: CMD: PATH: ...").
 */
int cli_read_input(const char *cmd, const char *path, uint8_t **ret_buf, size_t *ret_len);

/*
 * The input format rule of bpctl decode (see decode_cmd_usage): true when p
 * holds only hex digits and whitespace.
 */
bool cli_looks_like_hex(const uint8_t *p, size_t len);

/*
 * Decode hex digits into out, which may be text itself (the output never
 * overtakes the input). Whitespace is skipped when skip_space is set and
 * refused otherwise. Returns the byte count, or -EINVAL for a character that
 * is not a hex digit or an odd number of digits.
 */
long cli_hex_decode(const char *text, size_t len, bool skip_space, uint8_t *out);

/*
 * A number written in full in the len bytes at s: decimal, or hex after "0x";
 * no sign, no spaces, nothing after it, no overflow. Returns 0 or -EINVAL
 * (*ret untouched).
 */
int cli_parse_u64(const char *s, size_t len, uint64_t *ret);

/*
 * Write len bytes of buf to path (NULL or "-" is standard output), in binary
 * or, with hex, as one line of lowercase hex. Returns an enum bpctl_exit:
 * BPCTL_EXIT_USAGE when path cannot be opened, BPCTL_EXIT_FAIL when writing
 * fails; prints the error line itself ("bpctl: CMD: ...").
 */
int cli_write_output(const char *cmd, const char *path, bool hex, const uint8_t *buf, size_t len);

#endif
