/* SPDX-License-Identifier: MIT */
/*
 * bpsend: send one bundle through bpd. The payload is TEXT, a file (passed
 * to bpd as a descriptor, BP_PAYLOAD_FD, not copied through libbp) or all
 * of standard input. Exit 0 means bpd has stored the bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define REPORT_FLAGS (MSG_RECEIVED_RPT | MSG_FORWARDED_RPT | MSG_DELIVERED_RPT | MSG_DELETED_RPT)

static const char usage[] =
	"Usage: bpsend [OPTIONS] DEST [TEXT]\n"
	"       bpsend [OPTIONS] DEST -f FILE\n"
	"       bpsend [OPTIONS] DEST < FILE\n"
	"\n"
	"Send one bundle to DEST through the local bpd. Its payload is TEXT as given\n"
	"(no newline added), the bytes of FILE, or all of standard input when there\n"
	"is neither. bpsend exits once bpd has stored the bundle; delivery happens\n"
	"later, when DEST's application binds.\n"
	"\n"
	"Options:\n"
	"  -s, --source SOURCE   bind SOURCE and send from it (default 0: any free\n"
	"                        service of this node)\n"
	"  -f, --file FILE       the payload is FILE's content ('-': standard input);\n"
	"                        the kernel copies a regular file (it never passes\n"
	"                        through bpsend), so it may be of any size\n"
	"  -l, --lifetime SECS   bundle lifetime in seconds (default 86400)\n"
	"  -r, --report LIST     request status reports, a comma-separated list of\n"
	"                        received, forwarded, delivered, deleted, and wait\n"
	"                        for them: each is printed as it comes ('delivered\n"
	"                        by ipn:3.0 at 2026-11-22T15:04:05.123Z, 0.012 s\n"
	"                        after sending'), until a delivered or deleted one\n"
	"                        or the end of --wait\n"
	"  -w, --wait SECS       how long -r waits (default 30; 0: not at all, the\n"
	"                        reports then go to SOURCE: use -s and bprecv)\n"
	"  -a, --ack             set the 'acknowledgement by application requested' flag\n"
	"  -v, --verbose         print 'stored: SOURCE -> DEST, N bytes' on success\n"
	"  -h, --help            show this help\n"
	"\n"
	"Put '--' before a TEXT that starts with '-'.\n"
	"\n"
	"Exit status: 0 stored (and, waiting for a delivered report, delivered), 1 not\n"
	"stored (no bpd, store full, refused: the reason is printed), deleted on the\n"
	"way, or no delivered report within --wait; 2 bad arguments.\n"
	"\n";

struct send_args {
	struct tool_addr source, dest;
	const char *dest_text, *text, *file;
	uint64_t lifetime_ms; /* 0: libbp's default */
	int64_t wait_ns;      /* how long -r waits for reports */
	int flags;
	bool verbose;
};

/* -r's list: "received,deleted" -> MSG_*_RPT bits. Returns 0 or -EINVAL. */
static int parse_reports(const char *list, int *flags)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {
		{ "received", MSG_RECEIVED_RPT },
		{ "forwarded", MSG_FORWARDED_RPT },
		{ "delivered", MSG_DELIVERED_RPT },
		{ "deleted", MSG_DELETED_RPT },
	};

	while (*list) {
		size_t n = strcspn(list, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && strncmp(list, names[i].name, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		*flags |= names[i].flag;
		list += n;
		if (*list == ',' && *++list == '\0')
			return -EINVAL; /* a trailing comma */
	}
	return 0;
}

static int parse_option(int c, struct send_args *a)
{
	uint64_t v;

	switch (c) {
	case 's':
		if (tool_parse_endpoint(optarg, &a->source) < 0)
			return tool_usage("bad SOURCE '%s'", optarg);
		return 0;
	case 'f':
		a->file = optarg;
		return 0;
	case 'l':
		if (tool_parse_u64(optarg, 1, UINT64_MAX / 1000, &v) < 0)
			return tool_usage("bad lifetime '%s': seconds, at least 1", optarg);
		a->lifetime_ms = v * 1000;
		return 0;
	case 'r':
		if (parse_reports(optarg, &a->flags) < 0)
			return tool_usage("bad report list '%s'", optarg);
		return 0;
	case 'a':
		a->flags |= MSG_ACK_REQUESTED;
		return 0;
	case 'w':
		if (tool_parse_seconds(optarg, &a->wait_ns) < 0)
			return tool_usage("bad wait '%s': seconds", optarg);
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	default:
		return tool_usage("unexpected option");
	}
}

/* Returns -1 to go on, else the exit status (help included). */
static int parse_args(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "report", required_argument, NULL, 'r' },
		{ "ack", no_argument, NULL, 'a' },
		{ "wait", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	(void)tool_parse_endpoint("0", &a->source); /* any free service */
	a->wait_ns = 30 * (int64_t)1000000000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:f:l:r:w:avh", opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return tool_bad_option(argv, c);
		if (c == 'h') {
			(void)fputs(usage, stdout);
			(void)fputs(tool_help_common, stdout);
			return TOOL_EXIT_OK;
		}
		r = parse_option(c, a);
		if (r != 0)
			return r;
	}
	if (optind == argc)
		return tool_usage("missing DEST");
	a->dest_text = argv[optind++];
	if (optind < argc)
		a->text = argv[optind++];
	if (optind < argc)
		return tool_usage("unexpected argument '%s'", argv[optind]);
	if (a->text && a->file)
		return tool_usage("TEXT and -f FILE are two payloads: give one");
	if (tool_parse_endpoint(a->dest_text, &a->dest) < 0)
		return tool_usage("bad DEST '%s'", a->dest_text);
	if (a->dest.len == sizeof(a->dest.ipn) && a->dest.ipn.bp_addr.ipn.service_id == 0)
		return tool_usage("DEST service 0 is not an endpoint to send to");
	return -1;
}

#ifdef BP_PAYLOAD_FD
/* The file itself as the payload: bpd reads it, libbp copies nothing. */
static ssize_t send_fd(int s, int file, const struct tool_addr *dest, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr mh = {
		.msg_name = (void *)&dest->sa,
		.msg_namelen = dest->len,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *cm;

	memset(&cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_BP;
	cm->cmsg_type = BP_PAYLOAD_FD;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &file, sizeof(int));
	return bp_sendmsg(s, &mh, flags);
}
#endif

/*
 * Send the payload read from in (named name): a regular file at offset 0 by
 * descriptor when libbp can take one, anything else read into memory first.
 * Returns the payload length or -errno; *ret_what is name when reading
 * failed, NULL when sending did.
 */
static ssize_t send_from(int s, int in, const char *name, const struct send_args *a,
			 const char **ret_what)
{
	uint8_t *buf;
	size_t len;
	ssize_t n;
	int r;
#ifdef BP_PAYLOAD_FD
	struct stat st;
#endif

	*ret_what = NULL;
#ifdef BP_PAYLOAD_FD
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode) && lseek(in, 0, SEEK_CUR) == 0) {
		n = send_fd(s, in, &a->dest, a->flags);
		return n < 0 ? -errno : n;
	}
#endif
	r = tool_read_all(in, &buf, &len);
	if (r < 0) {
		*ret_what = name;
		return r;
	}
	n = bp_sendto(s, buf, len, a->flags, &a->dest.sa, a->dest.len);
	if (n < 0)
		n = -errno;
	free(buf);
	return n;
}

/* Send the one bundle. Returns as send_from(). */
static ssize_t send_payload(int s, const struct send_args *a, const char **ret_what)
{
	ssize_t n;
	int in;

	*ret_what = NULL;
	if (a->text) {
		n = bp_sendto(s, a->text, strlen(a->text), a->flags, &a->dest.sa, a->dest.len);
		return n < 0 ? -errno : n;
	}
	if (!a->file || strcmp(a->file, "-") == 0)
		return send_from(s, STDIN_FILENO, "standard input", a, ret_what);
	in = open(a->file, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		*ret_what = a->file;
		return -errno;
	}
	n = send_from(s, in, a->file, a, ret_what);
	(void)close(in);
	return n;
}

/* What was sent, from where, to where, for -v. */
static void print_stored(int s, const struct send_args *a, ssize_t n)
{
	char src[TOOL_ADDR_MAX], dst[TOOL_ADDR_MAX];
	struct tool_addr bound;

	bound.len = sizeof(bound.raw);
	if (bp_getsockname(s, &bound.sa, &bound.len) < 0)
		(void)snprintf(src, sizeof(src), "?");
	else
		tool_addr_format(&bound.sa, bound.len, src, sizeof(src));
	tool_addr_format(&a->dest.sa, a->dest.len, dst, sizeof(dst));
	(void)printf("stored: %s -> %s, %zd bytes\n", src, dst, n);
}

/* A DTN time (ms since 2000-01-01) as UTC ISO 8601. */
static void format_dtn_time(uint64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000 + 946684800);
	struct tm tm;
	char date[32];

	gmtime_r(&t, &tm);
	(void)strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(buf, cap, "%s.%03uZ", date, (unsigned)(ms % 1000));
}

/* Print one report about our bundle; true when it is final (delivered or deleted). */
static bool print_report(const struct bp_status_report *r, const struct tool_rx *rx,
			 int64_t sent_ns)
{
	static const char *const names[] = { "received", "forwarded", "delivered", "deleted" };
	char from[TOOL_ADDR_MAX], when[48];
	double after = (double)(tool_now_ns() - sent_ns) / 1e9;

	tool_addr_format(&rx->src.sa, rx->src.len, from, sizeof(from));
	for (unsigned i = 0; i < 4; i++) {
		if (!(r->status & (1u << i)))
			continue;
		if (r->time[i]) {
			format_dtn_time(r->time[i], when, sizeof(when));
			(void)printf("%s by %s at %s, %.3f s after sending", names[i], from, when,
				     after);
		} else {
			(void)printf("%s by %s, heard %.3f s after sending", names[i], from, after);
		}
		if (r->reason)
			(void)printf(": %s", bp_status_reason(r->reason));
		(void)putchar('\n');
	}
	(void)fflush(stdout);
	return r->status & (BP_STATUS_DELIVERED | BP_STATUS_DELETED);
}

/*
 * Wait for the reports about bundle id; print them. Returns the exit status:
 * 0 once delivered (or, when delivery was not asked about, at the end of
 * the wait), 1 when deleted or when the delivered report did not come.
 */
static int await_reports(int s, const struct send_args *a, const struct bp_bundle_id *id,
			 int64_t sent_ns)
{
	int64_t end = sent_ns + a->wait_ns;
	struct tool_rx rx;
	int status = a->flags & MSG_DELIVERED_RPT ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
	bool done = false;

	if (tool_rx_init(&rx) < 0)
		return tool_fail(ENOMEM, "waiting for reports");
	while (!done && !tool_stop) {
		int64_t left = end - tool_now_ns();
		struct bp_status_report r;
		int w = left > 0 ? tool_wait(s, left) : 0;

		if (w == 0)
			break;
		if (w < 0 && w != -EINTR) {
			status = tool_fail(-w, "waiting for reports");
			break;
		}
		if (w < 0 || tool_rx_peek(s, &rx) < 0)
			continue;
		/* Ours only: a bound SOURCE may hear about other bundles too. */
		if (rx.report && bp_status_report_parse(rx.buf, rx.len, &r) == 0 &&
		    r.id.creation_time == id->creation_time && r.id.sequence == id->sequence) {
			done = print_report(&r, &rx, sent_ns);
			if (done)
				status = r.status & BP_STATUS_DELETED ? TOOL_EXIT_FAIL :
									TOOL_EXIT_OK;
		}
		(void)tool_rx_consume(s, &rx);
	}
	if (!done && (a->flags & MSG_DELIVERED_RPT))
		(void)tool_error(TOOL_EXIT_FAIL, "no delivered report within the wait");
	tool_rx_clear(&rx);
	return status;
}

int main(int argc, char **argv)
{
	struct send_args a = { 0 };
	const char *what;
	int s, r, status = TOOL_EXIT_FAIL;
	int64_t sent_ns;
	ssize_t n;

	tool_init("bpsend");
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	s = tool_open_bound(&a.source, -1);
	if (s < 0)
		return TOOL_EXIT_FAIL;
	if (a.lifetime_ms &&
	    bp_setsockopt(s, SOL_BP, BP_LIFETIME, &a.lifetime_ms, sizeof(a.lifetime_ms)) < 0) {
		(void)tool_fail(errno, "set the lifetime");
		goto out_close;
	}
	r = tool_resolve_dest(s, &a.dest);
	if (r < 0) {
		(void)tool_fail(-r, "DEST %s on this node", a.dest_text);
		goto out_close;
	}
	(void)tool_signals_init();
	sent_ns = tool_now_ns();
	n = send_payload(s, &a, &what);
	if (n < 0) {
		if (what)
			(void)tool_fail((int)-n, "%s", what);
		else
			(void)tool_fail((int)-n, "send to %s", a.dest_text);
		goto out_close;
	}
	if (a.verbose)
		print_stored(s, &a, n);
	status = TOOL_EXIT_OK;
	if ((a.flags & REPORT_FLAGS) && a.wait_ns > 0) {
		struct bp_bundle_id id;
		socklen_t len = sizeof(id);

		if (bp_getsockopt(s, SOL_BP, BP_SENT_ID, &id, &len) < 0)
			status = tool_fail(errno, "the bundle's identity");
		else
			status = await_reports(s, &a, &id, sent_ns);
	}
out_close:
	(void)bp_close(s);
	return status;
}
