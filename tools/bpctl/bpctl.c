/* SPDX-License-Identifier: MIT */
/*
 * bpctl: the bpsock command-line tool. One table lists the commands; each
 * brings its own help text and runs with its own argv (argv[0] = its name).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon_cmd.h"
#include "decode_cmd.h"
#include "encode_cmd.h"

struct bpctl_cmd {
	const char *name;
	const char *summary; /* one line for the overview */
	const char *usage;   /* full help: `bpctl help NAME`, `bpctl NAME --help` */
	int (*run)(int argc, char **argv);
};

static int cmd_help(int argc, char **argv);

static const char help_usage[] = "usage: bpctl help [COMMAND]\n"
				 "\n"
				 "Show the list of commands, or the help of one command.\n";

static const struct bpctl_cmd cmds[] = {
	{ "bundles", "list, show or delete the bundles in bpd's store", daemon_bundles_usage,
	  daemon_cmd_run },
	{ "contact", "add or delete a contact window", daemon_contacts_usage, daemon_cmd_run },
	{ "contacts", "list bpd's contact windows", daemon_contacts_usage, daemon_cmd_run },
	{ "decode", "print a bundle (hex or binary) as JSON", decode_cmd_usage, decode_cmd_run },
	{ "encode", "build a bundle from options, write it in binary or hex", encode_cmd_usage,
	  encode_cmd_run },
	{ "endpoints", "list bpd's endpoints: bound by whom, queued, unconsumed",
	  daemon_endpoints_usage, daemon_cmd_run },
	{ "help", "show this overview or the help of one command", help_usage, cmd_help },
	{ "links", "list bpd's links to other nodes: peer, address, bundles in and out",
	  daemon_links_usage, daemon_cmd_run },
	{ "neighbor", "add a neighbour until bpd stops", daemon_neighbors_usage, daemon_cmd_run },
	{ "neighbors", "list bpd's neighbours: link, contact window, queue", daemon_neighbors_usage,
	  daemon_cmd_run },
	{ "route", "add or delete a route", daemon_routes_usage, daemon_cmd_run },
	{ "routes", "list bpd's routes", daemon_routes_usage, daemon_cmd_run },
	{ "stats", "counters: bundles by fate, deletions, queues, links (--watch)",
	  daemon_stats_usage, daemon_cmd_run },
	{ "status", "show the running node: ID, store, clients", daemon_status_usage,
	  daemon_cmd_run },
	{ "store", "show bpd's bundle store: use, segments, syncs, recovery", daemon_store_usage,
	  daemon_cmd_run },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct bpctl_cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

static void print_overview(FILE *f)
{
	(void)fputs("usage: bpctl COMMAND [ARGS...]\n"
		    "       bpctl help [COMMAND]\n"
		    "\n"
		    "Commands:\n",
		    f);
	for (size_t i = 0; i < NCMDS; i++)
		(void)fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	(void)fputs("\nRun 'bpctl help COMMAND' or 'bpctl COMMAND --help' for its options.\n", f);
}

static int cmd_help(int argc, char **argv)
{
	const struct bpctl_cmd *cmd;

	if (argc < 2) {
		print_overview(stdout);
		return BPCTL_EXIT_OK;
	}
	if (argc > 2) {
		(void)fputs("bpctl: help: one command at most\n", stderr);
		return BPCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		cmd = cmd_find("help");
	else
		cmd = cmd_find(argv[1]);
	if (!cmd) {
		(void)fprintf(stderr, "bpctl: help: unknown command '%s' (see bpctl --help)\n",
			      argv[1]);
		return BPCTL_EXIT_USAGE;
	}
	(void)fputs(cmd->usage, stdout);
	return BPCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct bpctl_cmd *cmd;

	if (argc < 2) {
		print_overview(stderr);
		return BPCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_overview(stdout);
		return BPCTL_EXIT_OK;
	}
	cmd = cmd_find(argv[1]);
	if (!cmd) {
		(void)fprintf(stderr, "bpctl: unknown command '%s' (see bpctl --help)\n", argv[1]);
		return BPCTL_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
