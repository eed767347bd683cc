/* SPDX-License-Identifier: MIT */
/*
 * bpd's settings: defaults, then the config file, then the command line.
 * A config file is bpctl commands, one per line (DESIGN.md §8); the ones a
 * daemon needs before it starts are read here.
 */
#ifndef BPD_CONFIG_H
#define BPD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "access.h"
#include "frontend.h"
#include "node.h"
#include "routing.h"
#include "store.h"
#include "store_log.h"

#define CONFIG_ADDR_MAX 96

struct config_neighbor {
	char node[NODE_TEXT_MAX];
	char addr[CONFIG_ADDR_MAX];
};

struct config {
	/* From the command line (NULL when not given). */
	const char *node_arg;
	const char *state_arg;
	const char *socket_arg;
	/* From the config file, or the defaults. */
	char node_text[NODE_TEXT_MAX];
	struct store_limits store_limits;
	bool store_memory;	      /* "store memory": nothing survives a stop */
	char store_dir_arg[PATH_MAX]; /* "store log DIR"; empty: STATE/store */
	enum store_sync store_sync;
	unsigned store_batch_ms;
	uint64_t store_segment;
	struct frontend_limits limits;
	struct access access;
	bool abandon;	 /* default delivery policy: "abandon" instead of "defer" */
	bool no_reports; /* "reports off": no status reports (RFC 9171 6.1) */
	/* "listen ADDR" and "neighbor add NODE ADDR" lines, applied when bpd starts. */
	char (*listen)[CONFIG_ADDR_MAX];
	size_t nlisten;
	struct config_neighbor *neighbors;
	size_t nneighbors;
	/* "route ..." and "contact ..." lines (NULL: none); bpd takes it over. */
	struct routing *routing;
	/* Resolved. */
	struct node_id node;
	char state_dir[PATH_MAX];
	char store_dir[PATH_MAX];
	char socket_path[108];
};

void config_init(struct config *cfg);
void config_free(struct config *cfg);

/*
 * Read a config file. Each line is a command; '#' starts a comment:
 *
 *	node EID				this node's ID (ipn:N or dtn://name)
 *	store quota BYTES [BUNDLES]		the store's bounds
 *	store log [DIR]				the persistent log (default STATE/store)
 *	store memory				keep bundles in memory only
 *	store sync always|none|batch MS		when a put is done (store_log.h)
 *	store segment BYTES			size of a log segment file
 *	limit sockets|sockets-per-user|unconsumed N
 *	delivery policy defer|abandon		for sockets that do not choose
 *	access ...				see access.h
 *	listen tcpcl:HOST:PORT			accept TCPCLv4 sessions (links.h)
 *	neighbor add NODE tcpcl:HOST:PORT	keep a link to NODE
 *
 * Returns 0, or -EINVAL after
 * logging "FILE:LINE: why" for the first bad line (nothing after it is
 * applied), or -errno when the file cannot be read.
 */
int config_load(struct config *cfg, const char *path);
/* The same from an open stream; name is what error lines call it. */
int config_load_stream(struct config *cfg, FILE *f, const char *name);

/* One command line, already split into words (for the file and for tests). */
int config_apply(struct config *cfg, int argc, char **argv, const char **ret_why);

#endif
