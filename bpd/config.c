/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cl.h"
#include "log.h"
#include "parse.h"
#include "routing.h"

/* Longest config line, and most words on one. */
#define LINE_MAX_LEN 4096
#define WORDS_MAX 16

/* Default store bounds: 1 GiB and a million bundles. */
#define DEFAULT_QUOTA_BYTES (1ull << 30)
#define DEFAULT_QUOTA_BUNDLES 1000000ull

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->node_text, sizeof(cfg->node_text), "ipn:1");
	cfg->store_limits.max_bytes = DEFAULT_QUOTA_BYTES;
	cfg->store_limits.max_bundles = DEFAULT_QUOTA_BUNDLES;
	cfg->store_sync = STORE_SYNC_ALWAYS;
	cfg->store_segment = STORE_LOG_SEGMENT_DEFAULT;
	cfg->limits = (struct frontend_limits){
		.max_clients = 4096,
		.max_clients_per_uid = 1024,
		.max_unconsumed = 4096,
		.inline_max = 1 << 20,
	};
	access_init(&cfg->access, geteuid());
}

void config_free(struct config *cfg)
{
	access_free(&cfg->access);
	routing_free(cfg->routing);
	cfg->routing = NULL;
	free(cfg->listen);
	free(cfg->neighbors);
}

/* A convergence-layer address ("tcpcl:HOST:PORT", "udp:HOST:PORT"), checked whole. */
static bool addr_ok(const char *addr, const char **why)
{
	struct sockaddr_storage sa;
	const char *rest;
	socklen_t len;

	*why = "address must be tcpcl:HOST:PORT or udp:HOST:PORT";
	return strlen(addr) < CONFIG_ADDR_MAX && cl_find(addr, &rest) &&
	       cl_addr_parse(rest, &sa, &len, why) == 0;
}

static int cmd_listen(struct config *cfg, int argc, char **argv, const char **why)
{
	char(*l)[CONFIG_ADDR_MAX];

	if (argc != 2) {
		*why = "usage: listen tcpcl:HOST:PORT | udp:HOST:PORT";
		return -EINVAL;
	}
	if (!addr_ok(argv[1], why))
		return -EINVAL;
	if (cfg->nlisten == 64) {
		*why = "at most 64 listen lines";
		return -EINVAL;
	}
	l = realloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*l));
	if (!l) {
		*why = "out of memory";
		return -ENOMEM;
	}
	cfg->listen = l;
	strcpy(l[cfg->nlisten++], argv[1]);
	return 0;
}

static int cmd_neighbor(struct config *cfg, int argc, char **argv, const char **why)
{
	struct config_neighbor *n;
	struct node_id node;

	if (argc != 4 || strcmp(argv[1], "add") != 0) {
		*why = "usage: neighbor add NODE tcpcl:HOST:PORT | udp:HOST:PORT";
		return -EINVAL;
	}
	if (node_id_parse(argv[2], &node, why) < 0 || !addr_ok(argv[3], why))
		return -EINVAL;
	if (cfg->nneighbors == 1024) {
		*why = "at most 1024 neighbors";
		return -EINVAL;
	}
	n = realloc(cfg->neighbors, (cfg->nneighbors + 1) * sizeof(*n));
	if (!n) {
		*why = "out of memory";
		return -ENOMEM;
	}
	cfg->neighbors = n;
	n += cfg->nneighbors++;
	snprintf(n->node, sizeof(n->node), "%s", node.text);
	strcpy(n->addr, argv[3]);
	return 0;
}

static int cmd_node(struct config *cfg, int argc, char **argv, const char **why)
{
	if (argc != 2) {
		*why = "usage: node EID";
		return -EINVAL;
	}
	if (strlen(argv[1]) >= sizeof(cfg->node_text)) {
		*why = "node ID too long";
		return -EINVAL;
	}
	strcpy(cfg->node_text, argv[1]);
	return 0;
}

static int store_quota(struct config *cfg, int argc, char **argv, const char **why)
{
	uint64_t bytes, bundles = cfg->store_limits.max_bundles;

	if (argc < 3 || argc > 4 || !parse_u64(argv[2], &bytes) || bytes == 0 ||
	    (argc == 4 && (!parse_u64(argv[3], &bundles) || bundles == 0))) {
		*why = "usage: store quota BYTES [BUNDLES] (each at least 1)";
		return -EINVAL;
	}
	cfg->store_limits.max_bytes = bytes;
	cfg->store_limits.max_bundles = bundles;
	return 0;
}

static int store_sync(struct config *cfg, int argc, char **argv, const char **why)
{
	uint64_t ms;

	if (argc == 3 && strcmp(argv[2], "always") == 0) {
		cfg->store_sync = STORE_SYNC_ALWAYS;
	} else if (argc == 3 && strcmp(argv[2], "none") == 0) {
		cfg->store_sync = STORE_SYNC_NONE;
	} else if (argc == 4 && strcmp(argv[2], "batch") == 0 && parse_u64(argv[3], &ms) &&
		   ms >= 1 && ms <= 60000) {
		cfg->store_sync = STORE_SYNC_BATCH;
		cfg->store_batch_ms = (unsigned)ms;
	} else {
		*why = "usage: store sync always|none|batch MS (1 to 60000 ms)";
		return -EINVAL;
	}
	return 0;
}

static int cmd_store(struct config *cfg, int argc, char **argv, const char **why)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "quota") == 0)
		return store_quota(cfg, argc, argv, why);
	if (strcmp(sub, "sync") == 0)
		return store_sync(cfg, argc, argv, why);
	if (strcmp(sub, "memory") == 0 && argc == 2) {
		cfg->store_memory = true;
		return 0;
	}
	if (strcmp(sub, "log") == 0 && argc <= 3) {
		if (argc == 3 &&
		    (argv[2][0] == '\0' || strlen(argv[2]) >= sizeof(cfg->store_dir_arg))) {
			*why = "store directory: empty or too long";
			return -EINVAL;
		}
		cfg->store_memory = false;
		strcpy(cfg->store_dir_arg, argc == 3 ? argv[2] : "");
		return 0;
	}
	if (strcmp(sub, "segment") == 0 && argc == 3) {
		uint64_t n;

		if (!parse_u64(argv[2], &n) || n < (1u << 20) || n > (1ull << 40)) {
			*why = "usage: store segment BYTES (1 MiB to 1 TiB)";
			return -EINVAL;
		}
		cfg->store_segment = n;
		return 0;
	}
	*why = "usage: store quota BYTES [BUNDLES] | store log [DIR] | store memory | "
	       "store sync always|none|batch MS | store segment BYTES";
	return -EINVAL;
}

/* Bounds on what clients may make bpd spend (frontend.h). */
static int cmd_limit(struct config *cfg, int argc, char **argv, const char **why)
{
	uint64_t n;
	unsigned *dst = NULL;

	if (argc == 3 && strcmp(argv[1], "sockets") == 0)
		dst = &cfg->limits.max_clients;
	else if (argc == 3 && strcmp(argv[1], "sockets-per-user") == 0)
		dst = &cfg->limits.max_clients_per_uid;
	else if (argc == 3 && strcmp(argv[1], "unconsumed") == 0)
		dst = &cfg->limits.max_unconsumed;
	if (!dst || !parse_u64(argv[2], &n) || n == 0 || n > 1000000) {
		*why = "usage: limit sockets|sockets-per-user|unconsumed N (1 to 1000000)";
		return -EINVAL;
	}
	*dst = (unsigned)n;
	return 0;
}

static int cmd_delivery(struct config *cfg, int argc, char **argv, const char **why)
{
	if (argc != 3 || strcmp(argv[1], "policy") != 0 ||
	    (strcmp(argv[2], "defer") != 0 && strcmp(argv[2], "abandon") != 0)) {
		*why = "usage: delivery policy defer|abandon";
		return -EINVAL;
	}
	cfg->abandon = strcmp(argv[2], "abandon") == 0;
	return 0;
}

/* "route ..." and "contact ...": the tables bpd starts with. */
static int cmd_routing(struct config *cfg, int argc, char **argv, const char **why)
{
	struct timespec ts;

	if (!cfg->routing)
		cfg->routing = routing_new();
	if (!cfg->routing) {
		*why = "out of memory";
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return routing_command(cfg->routing, argc, argv,
			       (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, why);
}

int config_apply(struct config *cfg, int argc, char **argv, const char **ret_why)
{
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "limit") == 0)
		return cmd_limit(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "delivery") == 0)
		return cmd_delivery(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "access") == 0)
		return access_config(&cfg->access, argc, argv, ret_why);
	if (strcmp(argv[0], "node") == 0)
		return cmd_node(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "store") == 0)
		return cmd_store(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "listen") == 0)
		return cmd_listen(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "reports") == 0) {
		if (argc != 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0)) {
			*ret_why = "usage: reports on|off";
			return -EINVAL;
		}
		cfg->no_reports = strcmp(argv[1], "off") == 0;
		return 0;
	}
	if (strcmp(argv[0], "route") == 0 || strcmp(argv[0], "contact") == 0)
		return cmd_routing(cfg, argc, argv, ret_why);
	if (strcmp(argv[0], "neighbor") == 0)
		return cmd_neighbor(cfg, argc, argv, ret_why);
	*ret_why = "unknown command";
	return -EINVAL;
}

/* Split a line into words at blanks; '#' starts a comment. */
static int split(char *line, char **words, const char **why)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			*p++ = '\0';
		if (*p == '\0' || *p == '#')
			return n;
		if (n == WORDS_MAX) {
			*why = "too many words";
			return -EINVAL;
		}
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
	}
}

int config_load_stream(struct config *cfg, FILE *f, const char *name)
{
	char *line = NULL, *words[WORDS_MAX];
	const char *why = NULL;
	unsigned lineno = 0;
	size_t cap = 0;
	ssize_t len;
	int r = 0, n;

	while (r == 0 && (len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (len > LINE_MAX_LEN) {
			why = "line too long";
			r = -EINVAL;
		} else if (strlen(line) != (size_t)len) {
			why = "NUL byte in line";
			r = -EINVAL;
		} else {
			n = split(line, words, &why);
			r = n < 0 ? n : config_apply(cfg, n, words, &why);
		}
	}
	free(line);
	if (r < 0)
		log_err("%s:%u: %s", name, lineno, why);
	return r;
}

int config_load(struct config *cfg, const char *path)
{
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		log_err("%s: %s", path, strerror(errno));
		return r;
	}
	r = config_load_stream(cfg, f, path);
	fclose(f);
	return r;
}
