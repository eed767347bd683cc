/* SPDX-License-Identifier: MIT */
/*
 * bpctl encode: build one bundle from options, for crafting bundles in tests.
 * Needs no running daemon.
 */
#ifndef BPCTL_ENCODE_CMD_H
#define BPCTL_ENCODE_CMD_H

/* Full help text, as `bpctl help encode` prints it. */
extern const char encode_cmd_usage[];

/*
 * Run bpctl encode: argv[0] is "encode", the rest its arguments (getopt
 * starts again at argv[1]). Returns an enum bpctl_exit (cli.h); writes the
 * bundle to stdout or -o FILE and at most one error line to stderr.
 */
int encode_cmd_run(int argc, char **argv);

#endif
