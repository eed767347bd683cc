/* SPDX-License-Identifier: MIT */
/*
 * bpctl decode: one bundle (hex or binary) to JSON. Needs no running daemon.
 */
#ifndef BPCTL_DECODE_CMD_H
#define BPCTL_DECODE_CMD_H

/* Full help text, as `bpctl help decode` prints it. */
extern const char decode_cmd_usage[];

/*
 * Run bpctl decode: argv[0] is "decode", the rest its arguments (getopt
 * starts again at argv[1]). Returns an enum bpctl_exit (cli.h); writes the
 * JSON to stdout and at most one error line to stderr.
 */
int decode_cmd_run(int argc, char **argv);

#endif
