/* SPDX-License-Identifier: MIT */
/*
 * bprecv: bind an endpoint and write the payloads of the bundles that
 * arrive, in order, to a file or standard output.
 *
 * At least once: each bundle is peeked at whole, written out (and synced to
 * disk when the output is a file), and only then consumed. A bprecv killed
 * in between leaves the bundle with bpd, which delivers it again on the
 * next bind (the socket asks for BP_DELIVERY_DEFER): it may be written
 * twice, never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
	"Usage: bprecv [OPTIONS] ENDPOINT\n"
	"\n"
	"Bind ENDPOINT on the local bpd and write the payload of every bundle that\n"
	"arrives to standard output (or FILE), in arrival order, without separators.\n"
	"Bundles that arrived before bprecv started are delivered first. A bundle is\n"
	"taken from bpd only after its payload is written (and, for a regular file,\n"
	"synced to disk): if bprecv dies, the next bind of ENDPOINT gets it again.\n"
	"\n"
	"Options:\n"
	"  -c, --count COUNT     stop after COUNT bundles (default: run until SIGINT or\n"
	"                        SIGTERM)\n"
	"  -o, --output FILE     append the payloads to FILE (created with mode 0644)\n"
	"  -t, --timeout SECS    give up when no bundle arrives for SECS seconds\n"
	"                        (fractions allowed)\n"
	"  -v, --verbose         print 'from SOURCE: N bytes' on stderr per bundle\n"
	"  -h, --help            show this help\n"
	"\n"
	"Status reports addressed to ENDPOINT are not written out and do not count\n"
	"towards COUNT; -v prints 'status report from SOURCE (N bytes)' for each.\n"
	"\n"
	"Exit status: 0 after COUNT bundles, on SIGINT/SIGTERM, or on timeout without\n"
	"-c when at least one bundle arrived; 1 on timeout otherwise ('timed out') or\n"
	"on an error (no bpd, endpoint in use, write failed); 2 bad arguments.\n"
	"\n";

struct recv_args {
	struct tool_addr endpoint;
	const char *endpoint_text;
	const char *output; /* NULL: standard output */
	const char *timeout_text;
	uint64_t count;	    /* 0: no limit */
	int64_t timeout_ns; /* -1: none */
	bool verbose;
};

/* Where the payloads go. */
struct sink {
	int fd;
	const char *name;
	bool sync; /* a regular file: fsync before consuming */
};

/* Returns -1 to go on, else the exit status (help included). */
static int parse_args(int argc, char **argv, struct recv_args *a)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->timeout_ns = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:o:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (tool_parse_u64(optarg, 1, UINT64_MAX, &a->count) < 0)
				return tool_usage("bad COUNT '%s': at least 1", optarg);
			break;
		case 'o':
			a->output = optarg;
			break;
		case 't':
			if (tool_parse_seconds(optarg, &a->timeout_ns) < 0 || a->timeout_ns == 0)
				return tool_usage("bad timeout '%s': seconds, more than 0", optarg);
			a->timeout_text = optarg;
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

static int sink_open(struct sink *out, const char *path)
{
	struct stat st;

	out->fd = STDOUT_FILENO;
	out->name = "standard output";
	if (path) {
		out->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (out->fd < 0)
			return -errno;
		out->name = path;
	}
	out->sync = fstat(out->fd, &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

/* The payload, out and on disk. Returns 0 or -errno. */
static int sink_write(const struct sink *out, const struct tool_rx *rx)
{
	int r = tool_write_all(out->fd, rx->buf, rx->len);

	if (r == 0 && out->sync && fsync(out->fd) < 0)
		r = -errno;
	return r;
}

/*
 * Act on the bundle just peeked at, then consume it. Returns -1 to go on,
 * else the exit status.
 */
static int take_one(int fd, const struct recv_args *a, const struct sink *out, struct tool_rx *rx,
		    uint64_t *ret_data)
{
	char src[TOOL_ADDR_MAX];
	int r;

	if (!rx->report) {
		r = sink_write(out, rx);
		if (r < 0)
			return tool_fail(-r, "write %s", out->name);
	}
	r = tool_rx_consume(fd, rx);
	if (r < 0)
		return tool_fail(-r, "receive");
	if (!rx->report)
		(*ret_data)++;
	if (a->verbose) {
		tool_addr_format(&rx->src.sa, rx->src.len, src, sizeof(src));
		if (rx->report)
			(void)fprintf(stderr, "status report from %s (%zu bytes)\n", src, rx->len);
		else
			(void)fprintf(stderr, "from %s: %zu bytes\n", src, rx->len);
	}
	return -1;
}

static int timed_out(const struct recv_args *a, uint64_t data)
{
	if (a->count)
		return tool_error(TOOL_EXIT_FAIL,
				  "timed out after %s s: %" PRIu64 " of %" PRIu64 " bundles",
				  a->timeout_text, data, a->count);
	if (data == 0)
		return tool_error(TOOL_EXIT_FAIL, "timed out after %s s: no bundle",
				  a->timeout_text);
	return TOOL_EXIT_OK;
}

/* Receive until COUNT, a stop signal, the timeout or an error; returns the exit status. */
static int receive_loop(int fd, const struct recv_args *a, const struct sink *out,
			struct tool_rx *rx)
{
	uint64_t data = 0;
	int r;

	for (;;) {
		if (a->count && data >= a->count)
			return TOOL_EXIT_OK;
		r = tool_wait(fd, a->timeout_ns);
		if (r == -EINTR && tool_stop)
			return TOOL_EXIT_OK;
		if (r == -EINTR)
			continue;
		if (r < 0)
			return tool_fail(-r, "wait");
		if (r == 0)
			return timed_out(a, data);
		r = tool_rx_peek(fd, rx);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		if (r < 0)
			return tool_fail(-r, "receive");
		r = take_one(fd, a, out, rx, &data);
		if (r >= 0)
			return r;
	}
}

int main(int argc, char **argv)
{
	struct recv_args a = { 0 };
	struct sink out = { .fd = -1 };
	struct tool_rx rx;
	int fd, r, status = TOOL_EXIT_FAIL;

	tool_init("bprecv");
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	r = tool_signals_init();
	if (r < 0)
		return tool_fail(-r, "signals");
	r = sink_open(&out, a.output);
	if (r < 0)
		return tool_fail(-r, "open %s", a.output);
	r = tool_rx_init(&rx);
	if (r < 0) {
		(void)tool_fail(-r, "receive buffer");
		goto out_close_sink;
	}
	fd = tool_open_bound(&a.endpoint, BP_DELIVERY_DEFER);
	if (fd >= 0) {
		status = receive_loop(fd, &a, &out, &rx);
		(void)bp_close(fd);
	}
	tool_rx_clear(&rx);
out_close_sink:
	if (out.fd != STDOUT_FILENO && close(out.fd) < 0 && status == TOOL_EXIT_OK)
		status = tool_fail(errno, "close %s", out.name);
	return status;
}
