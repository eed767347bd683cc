/* SPDX-License-Identifier: MIT */
/* bpctl commands answered by bpd (daemon_cmd.h). */
#include "daemon_cmd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bp/proto.h"
#include "cli.h"

#define DAEMON_OPTIONS                                                                             \
	"\n"                                                                                       \
	"Options:\n"                                                                               \
	"  --json    print JSON instead of text\n"                                                 \
	"  --watch [SECS]  print again every SECS (default 1) until interrupted\n"                 \
	"\n"                                                                                       \
	"bpctl reaches bpd at $BPD_SOCKET, else $XDG_RUNTIME_DIR/bpsock/bpd.sock, else\n"          \
	"/tmp/bpsock-UID/bpd.sock, as libbp does. Only root, the user bpd runs as and\n"           \
	"the admins its config names (\"access admin\") may run these commands.\n"

const char daemon_status_usage[] =
	"usage: bpctl status [--json]\n"
	"\n"
	"Show the node: its ID, version, socket, state directory, store\n"
	"use by bundle state, clients and endpoints.\n" DAEMON_OPTIONS;

const char daemon_endpoints_usage[] =
	"usage: bpctl endpoints [--json]\n"
	"\n"
	"List the endpoints bpd knows: bound ones (with the process that holds\n"
	"them) and unbound ones with bundles waiting, with how many are queued\n"
	"and how many were delivered but not yet consumed.\n" DAEMON_OPTIONS;

const char daemon_links_usage[] =
	"usage: bpctl links [--json]\n"
	"\n"
	"List bpd's links to other nodes (TCPCLv4 sessions, RFC 9174): the\n"
	"peer's node ID, the address, whether the session is up, whether bpd\n"
	"opened it (a neighbor) or accepted it, and the bundles received and\n"
	"sent on it.\n" DAEMON_OPTIONS;

const char daemon_bundles_usage[] =
	"usage: bpctl bundles [list] [--state STATE] [--dest EID] [--limit N] [--json]\n"
	"       bpctl bundles show ID [--json]\n"
	"       bpctl bundles delete ID [--json]\n"
	"\n"
	"List the bundles in the store (at most N, default 1000; STATE is one of\n"
	"pending, queued-local, delivered, forward, in-transit, and may be given\n"
	"more than once), show one, or delete one. A deleted bundle that bpd had\n"
	"already handed to an application may still be read there once.\n" DAEMON_OPTIONS;

const char daemon_neighbors_usage[] =
	"usage: bpctl neighbors [--json] [--watch [SECS]]\n"
	"       bpctl neighbor add NODE tcpcl:HOST:PORT|udp:HOST:PORT\n"
	"\n"
	"List the neighbours bpd keeps links to: node, address, the link's state\n"
	"(up, connecting, or the next try), the contact window now (none: always\n"
	"open; open or closed, and until when), bundles waiting to go to it and\n"
	"bundles carried. 'neighbor add' adds one until bpd stops (the config\n"
	"file is where it lasts).\n" DAEMON_OPTIONS;

const char daemon_routes_usage[] =
	"usage: bpctl routes [--json]\n"
	"       bpctl route add PATTERN via NODE\n"
	"       bpctl route del PATTERN\n"
	"\n"
	"List, add or delete routes: bundles for PATTERN (ipn:30.*, ipn:*.*,\n"
	"dtn://c/ and a star) go to NODE's link when no link reaches their node\n"
	"directly; the most specific pattern wins. Changes last until bpd stops.\n" DAEMON_OPTIONS;

const char daemon_contacts_usage[] =
	"usage: bpctl contacts [--json]\n"
	"       bpctl contact add NODE from T1 to T2 [rate BYTES/S]\n"
	"       bpctl contact del NODE\n"
	"\n"
	"List, add or delete contacts: windows in which the link to NODE may carry\n"
	"bundles, paced to the rate (k, M, G: thousands). A node with contacts is\n"
	"used only inside one. T is +SECONDS from now or YYYY-MM-DDTHH:MM:SSZ.\n" DAEMON_OPTIONS;

const char daemon_stats_usage[] =
	"usage: bpctl stats [--json] [--watch [SECS]]\n"
	"\n"
	"Show the node's counters: bundles originated, received, forwarded,\n"
	"delivered, reports sent, refused and deleted by reason; the queues (bundles\n"
	"by state), the store, and bundles and bytes in and out of each link.\n"
	"--watch refreshes the view every SECS (default 1) until interrupted.\n" DAEMON_OPTIONS;

const char daemon_store_usage[] =
	"usage: bpctl store [--json]\n"
	"\n"
	"Show the bundle store: its backend, bundles and bytes held against the\n"
	"quota, puts refused because it was full and, for the persistent log,\n"
	"its segment files, fdatasync calls and group commits, and what the last\n"
	"start recovered and how long that took.\n" DAEMON_OPTIONS;

/* The REPLY can be a whole message: the protocol's maximum. */
static uint8_t reply_buf[BP_PROTO_MAX_MSG];

static int connect_bpd(const char *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (bp_proto_socket_path(sun.sun_path, sizeof(sun.sun_path)) < 0)
		return -cli_error(BPCTL_EXIT_USAGE, "%s: bpd's socket path is too long", cmd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -cli_error(BPCTL_EXIT_FAIL, "%s: socket: %s", cmd, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		(void)close(fd);
		return -cli_error(BPCTL_EXIT_FAIL, "%s: no bpd at %s: %s", cmd, sun.sun_path,
				  strerror(e == ENOENT ? ECONNREFUSED : e));
	}
	return fd;
}

/* A datagram, and the first fd passed with it in *ret_fd (others closed). */
static ssize_t recv_with_fd(int sock, void *buf, size_t cap, int *ret_fd)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	*ret_fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (cm = n < 0 ? NULL : CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; cm->cmsg_type == SCM_RIGHTS && i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*ret_fd < 0)
				*ret_fd = fd;
			else
				(void)close(fd);
		}
	}
	return n;
}

/* Copy len bytes of fd, from offset 0, to out. */
static int copy_output(const char *cmd, int fd, uint64_t len, FILE *out)
{
	static char buf[64 << 10];
	uint64_t off = 0;

	while (off < len) {
		size_t want = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cli_error(BPCTL_EXIT_FAIL, "%s: reading bpd's output: %s", cmd,
					 n < 0 ? strerror(errno) : "shorter than announced");
		(void)fwrite(buf, 1, (size_t)n, out);
		off += (uint64_t)n;
	}
	return BPCTL_EXIT_OK;
}

/*
 * One ADMIN request, its REPLY decoded into *ret (fields point into
 * reply_buf) and the fd that came with it in *ret_fd.
 */
static int exchange(const char *cmd, int fd, int argc, char **argv, bool json, struct bp_msg *ret,
		    int *ret_fd)
{
	size_t cap = BP_PROTO_HDR_LEN;
	struct bp_msg_error err;
	struct bp_msg_wr w;
	uint8_t *req;
	ssize_t n;
	long len;

	for (int i = 0; i < argc; i++)
		cap += BP_PROTO_FIELD_HDR_LEN + strlen(argv[i]);
	cap += BP_PROTO_FIELD_HDR_LEN + sizeof("--json");
	req = malloc(cap);
	if (!req)
		return cli_error(BPCTL_EXIT_FAIL, "%s: out of memory", cmd);
	bp_msg_begin(&w, req, cap, BP_MSG_ADMIN, 1);
	for (int i = 0; i < argc; i++)
		bp_msg_put_bytes(&w, BP_F_ARG, argv[i], strlen(argv[i]));
	if (json)
		bp_msg_put_bytes(&w, BP_F_ARG, "--json", 6);
	len = bp_msg_end(&w);
	if (len < 0) {
		free(req);
		return cli_error(BPCTL_EXIT_USAGE, "%s: too many or too long arguments", cmd);
	}
	n = send(fd, req, (size_t)len, MSG_NOSIGNAL);
	free(req);
	if (n < 0)
		return cli_error(BPCTL_EXIT_FAIL, "%s: send to bpd: %s", cmd, strerror(errno));
	n = recv_with_fd(fd, reply_buf, sizeof(reply_buf), ret_fd);
	if (n <= 0)
		return cli_error(BPCTL_EXIT_FAIL, "%s: bpd closed the connection%s%s", cmd,
				 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	if (bp_msg_decode(reply_buf, (size_t)n, ret, &err) < 0)
		return cli_error(BPCTL_EXIT_FAIL, "%s: bad reply from bpd (%s)", cmd, err.why);
	if (ret->type != BP_MSG_REPLY || ret->request != 1)
		return cli_error(BPCTL_EXIT_FAIL, "%s: bad reply from bpd (not the answer)", cmd);
	return BPCTL_EXIT_OK;
}

static const char *usage_of(const char *cmd)
{
	if (strcmp(cmd, "status") == 0)
		return daemon_status_usage;
	if (strcmp(cmd, "endpoints") == 0)
		return daemon_endpoints_usage;
	if (strcmp(cmd, "store") == 0)
		return daemon_store_usage;
	if (strcmp(cmd, "links") == 0)
		return daemon_links_usage;
	if (strcmp(cmd, "neighbors") == 0 || strcmp(cmd, "neighbor") == 0)
		return daemon_neighbors_usage;
	if (strcmp(cmd, "routes") == 0 || strcmp(cmd, "route") == 0)
		return daemon_routes_usage;
	if (strcmp(cmd, "contacts") == 0 || strcmp(cmd, "contact") == 0)
		return daemon_contacts_usage;
	if (strcmp(cmd, "stats") == 0)
		return daemon_stats_usage;
	return daemon_bundles_usage;
}

/* One command to bpd, its output printed. Returns the exit status. */
static int run_once(const char *cmd, int nargs, char **args, bool json)
{
	struct bp_msg *m = malloc(sizeof(*m));
	uint64_t status;
	int fd, out_fd = -1, r;
	FILE *out;

	if (!m)
		return cli_error(BPCTL_EXIT_FAIL, "%s: out of memory", cmd);
	fd = connect_bpd(cmd);
	if (fd < 0) {
		free(m);
		return -fd;
	}
	r = exchange(cmd, fd, nargs, args, json, m, &out_fd);
	(void)close(fd);
	if (r != BPCTL_EXIT_OK) {
		if (out_fd >= 0)
			(void)close(out_fd);
		free(m);
		return r;
	}
	status = bp_msg_u64(m, BP_F_STATUS, 0);
	out = status == 0 ? stdout : stderr;
	if (status != 0)
		(void)fputs("bpctl: ", stderr);
	for (unsigned i = 0; i < m->nfields; i++)
		if (m->fields[i].tag == BP_F_OUTPUT)
			(void)fwrite(m->fields[i].ptr, 1, m->fields[i].len, out);
	if (bp_msg_find(m, BP_F_OUTPUT_FD)) {
		r = out_fd < 0 ? cli_error(BPCTL_EXIT_FAIL, "%s: bpd's output fd is missing", cmd) :
				 copy_output(cmd, out_fd, bp_msg_u64(m, BP_F_OUTPUT_FD, 0), out);
		if (r != BPCTL_EXIT_OK)
			status = EPROTO;
	}
	if (out_fd >= 0)
		(void)close(out_fd);
	if (status != 0 && !bp_msg_find(m, BP_F_OUTPUT) && !bp_msg_find(m, BP_F_OUTPUT_FD))
		(void)fprintf(stderr, "%s: %s\n", cmd, strerror((int)status));
	free(m);
	if (status == EINVAL)
		return BPCTL_EXIT_USAGE;
	return status == 0 ? BPCTL_EXIT_OK : BPCTL_EXIT_FAIL;
}

int daemon_cmd_run(int argc, char **argv)
{
	const char *cmd = argv[0];
	char *args[BP_PROTO_MAX_FIELDS];
	double every = 0; /* --watch: seconds between refreshes */
	bool json = false;
	int nargs = 0, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			(void)fputs(usage_of(cmd), stdout);
			return BPCTL_EXIT_OK;
		}
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--watch") == 0) {
			char *end = NULL;

			every = 1;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
				every = strtod(argv[++i], &end);
				if (*end || every < 0.1 || every > 86400)
					return cli_error(BPCTL_EXIT_USAGE,
							 "%s: --watch SECS: 0.1 to 86400", cmd);
			}
		} else if (nargs == BP_PROTO_MAX_FIELDS - 2) {
			return cli_error(BPCTL_EXIT_USAGE, "%s: too many arguments", cmd);
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (every == 0)
		return run_once(cmd, nargs, args, json);
	/* A live view: the screen cleared and the answer printed again, until interrupted. */
	for (;;) {
		struct timespec ts = { (time_t)every,
				       (long)((every - (double)(time_t)every) * 1e9) };

		if (isatty(STDOUT_FILENO))
			(void)fputs("\033[H\033[2J", stdout);
		r = run_once(cmd, nargs, args, json);
		(void)fflush(stdout);
		if (r != BPCTL_EXIT_OK)
			return r;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}
