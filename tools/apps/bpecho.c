/* SPDX-License-Identifier: MIT */
/*
 * bpecho: bind an endpoint and send every data bundle that arrives back to
 * its source with the same payload (the other end of bping).
 *
 * A bundle is consumed only once its echo is stored, so a bpecho that dies
 * in between echoes it after its next bind. A bundle whose echo bpd refuses
 * for a reason of its own (a source one cannot send to, such as dtn:none) is
 * reported and dropped, so that it cannot wedge the endpoint; when the node
 * itself fails (no bpd, store full), bpecho stops and leaves it queued.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "common.h"

static const char usage[] =
	"Usage: bpecho [OPTIONS] ENDPOINT\n"
	"\n"
	"Bind ENDPOINT on the local bpd and send every bundle that arrives back to\n"
	"its source, with the same payload. Status reports are consumed and ignored.\n"
	"A bundle is taken from bpd only once its echo is stored.\n"
	"\n"
	"Options:\n"
	"  -c, --count COUNT     stop after COUNT echoes (default: run until SIGINT or\n"
	"                        SIGTERM)\n"
	"  -v, --verbose         print 'echoed N bytes to SOURCE' on stderr per bundle\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 after COUNT echoes or on SIGINT/SIGTERM; 1 on an error (no\n"
	"bpd, endpoint in use, the store refusing echoes); 2 bad arguments.\n"
	"\n";

struct echo_args {
	struct tool_addr endpoint;
	const char *endpoint_text;
	uint64_t count; /* 0: no limit */
	bool verbose;
};

/* Returns -1 to go on, else the exit status (help included). */
static int parse_args(int argc, char **argv, struct echo_args *a)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (tool_parse_u64(optarg, 1, UINT64_MAX, &a->count) < 0)
				return tool_usage("bad COUNT '%s': at least 1", optarg);
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			(void)fputs(usage, stdout);
			(void)fputs(tool_help_common, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_bad_option(argv, c);
		}
	}
	return tool_last_endpoint(argc, argv, "ENDPOINT", &a->endpoint_text, &a->endpoint);
}

/* Send errors that say the node cannot go on, rather than this bundle is bad. */
static bool node_failure(int err)
{
	return err == ECONNRESET || err == EPROTO || err == ENOBUFS || err == ENOMEM ||
	       err == EAGAIN || err == EPIPE;
}

/*
 * Echo the bundle just peeked at, then consume it. Returns 1 when it was
 * echoed, 0 when it was dropped (a status report, or an echo refused for
 * this bundle's sake), or -1 on a failure (printed).
 */
static int echo_one(int fd, const struct echo_args *a, const struct tool_rx *rx)
{
	char src[TOOL_ADDR_MAX];
	bool echoed = false;
	int r;

	tool_addr_format(&rx->src.sa, rx->src.len, src, sizeof(src));
	if (!rx->report) {
		if (bp_sendto(fd, rx->buf, rx->len, 0, &rx->src.sa, rx->src.len) >= 0) {
			echoed = true;
		} else if (node_failure(errno)) {
			(void)tool_fail(errno, "echo to %s", src);
			return -1;
		} else {
			(void)tool_fail(errno, "echo to %s (bundle dropped)", src);
		}
	}
	r = tool_rx_consume(fd, rx);
	if (r < 0) {
		(void)tool_fail(-r, "receive");
		return -1;
	}
	if (echoed && a->verbose)
		(void)fprintf(stderr, "echoed %zu bytes to %s\n", rx->len, src);
	return echoed;
}

/* Echo until COUNT, a stop signal or an error; returns the exit status. */
static int echo_loop(int fd, const struct echo_args *a, struct tool_rx *rx)
{
	uint64_t echoes = 0;
	int r;

	for (;;) {
		if (a->count && echoes >= a->count)
			return TOOL_EXIT_OK;
		r = tool_wait(fd, -1);
		if (r == -EINTR && tool_stop)
			return TOOL_EXIT_OK;
		if (r == -EINTR)
			continue;
		if (r < 0)
			return tool_fail(-r, "wait");
		r = tool_rx_peek(fd, rx);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		if (r < 0)
			return tool_fail(-r, "receive");
		r = echo_one(fd, a, rx);
		if (r < 0)
			return TOOL_EXIT_FAIL;
		echoes += (uint64_t)r;
	}
}

int main(int argc, char **argv)
{
	struct echo_args a = { 0 };
	struct tool_rx rx;
	int fd, r, status;

	tool_init("bpecho");
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	r = tool_signals_init();
	if (r < 0)
		return tool_fail(-r, "signals");
	r = tool_rx_init(&rx);
	if (r < 0)
		return tool_fail(-r, "receive buffer");
	fd = tool_open_bound(&a.endpoint, BP_DELIVERY_DEFER);
	if (fd < 0) {
		tool_rx_clear(&rx);
		return TOOL_EXIT_FAIL;
	}
	status = echo_loop(fd, &a, &rx);
	(void)bp_close(fd);
	tool_rx_clear(&rx);
	return status;
}
