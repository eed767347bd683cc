/* SPDX-License-Identifier: MIT */
/*
 * bping: send bundles to an endpoint where bpecho runs and time the echoes.
 *
 * Payload (SIZE bytes, at least 16): the sequence number and the
 * CLOCK_MONOTONIC send time in ns, both 64-bit big-endian, then bytes
 * i & 0xff at offset i. A reply counts only when it is exactly a payload
 * this bping sent and not yet answered, back within the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define HEADER_LEN 16
#define NS_PER_MS 1000000.0

static const char usage[] =
	"Usage: bping [OPTIONS] DEST\n"
	"\n"
	"Send bundles to DEST, where bpecho should answer, and time the echoes. Each\n"
	"payload is SIZE bytes: a 64-bit sequence number and the send time, then a\n"
	"fixed pattern; only exact echoes of this bping's bundles count. Output:\n"
	"  BPING DEST from SOURCE: SIZE bytes\n"
	"  N bytes from SOURCE: seq=K time=X.XXX ms     (per reply, unless -q)\n"
	"  --- DEST bping statistics ---\n"
	"  S bundles sent, R received, L% loss\n"
	"  rtt min/median/p99/max = A/B/C/D ms\n"
	"bping binds a free service of this node (SOURCE); replies still queued for\n"
	"it when it exits are dropped (BP_DELIVERY_ABANDON).\n"
	"\n"
	"Options:\n"
	"  -c, --count COUNT       send COUNT bundles, then wait for the last replies\n"
	"                          (default: until SIGINT or SIGTERM)\n"
	"  -i, --interval SECS     seconds between sends (default 1; fractions allowed)\n"
	"  -s, --size SIZE         payload bytes, at least 16 (default 64)\n"
	"  -W, --timeout SECS      a reply later than SECS after its send counts as lost;\n"
	"                          also each bundle's lifetime (default 5)\n"
	"  -q, --quiet             print only the summary\n"
	"  -h, --help              show this help\n"
	"\n"
	"Exit status: 0 when at least one reply came, 1 when none did or on an error,\n"
	"2 bad arguments.\n"
	"\n";

struct ping_args {
	struct tool_addr dest;
	const char *dest_text;
	uint64_t count; /* 0: until a stop signal */
	int64_t interval_ns, timeout_ns;
	size_t size;
	bool quiet;
};

/* One bundle sent. */
struct probe {
	int64_t sent_ns;
	bool answered;
};

struct ping {
	const struct ping_args *a;
	int fd;
	struct tool_addr dest; /* a->dest, resolved to this node's number */
	char dest_text[TOOL_ADDR_MAX];
	struct probe *probes; /* probes[k - 1] for seq k */
	size_t cap;
	uint64_t sent, received;
	uint64_t first_open; /* probes before this one are answered or lost */
	int64_t *rtts;	     /* received of them */
	uint8_t *tx, *rx;    /* a->size bytes each (rx one more, to see longer replies) */
};

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Returns -1 to go on, else the exit status (help included). */
static int parse_args(int argc, char **argv, struct ping_args *a)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r;

	a->interval_ns = 1000000000;
	a->timeout_ns = 5000000000;
	a->size = 64;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:i:s:W:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (tool_parse_u64(optarg, 1, UINT64_MAX, &a->count) < 0)
				return tool_usage("bad COUNT '%s': at least 1", optarg);
			break;
		case 'i':
			if (tool_parse_seconds(optarg, &a->interval_ns) < 0)
				return tool_usage("bad interval '%s': seconds", optarg);
			break;
		case 's':
			if (tool_parse_u64(optarg, HEADER_LEN, SIZE_MAX / 2, &v) < 0)
				return tool_usage("bad SIZE '%s': bytes, at least %d", optarg,
						  HEADER_LEN);
			a->size = (size_t)v;
			break;
		case 'W':
			if (tool_parse_seconds(optarg, &a->timeout_ns) < 0 || a->timeout_ns == 0)
				return tool_usage("bad timeout '%s': seconds, more than 0", optarg);
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			(void)fputs(usage, stdout);
			(void)fputs(tool_help_common, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_bad_option(argv, c);
		}
	}
	r = tool_last_endpoint(argc, argv, "DEST", &a->dest_text, &a->dest);
	if (r != -1)
		return r;
	if (a->dest.len == sizeof(a->dest.ipn) && a->dest.ipn.bp_addr.ipn.service_id == 0)
		return tool_usage("DEST service 0 is not an endpoint to send to");
	return -1;
}

/* The payload of probe seq sent at t. */
static void fill_payload(uint8_t *p, size_t size, uint64_t seq, int64_t t)
{
	put_be64(p, seq);
	put_be64(p + 8, (uint64_t)t);
	for (size_t i = HEADER_LEN; i < size; i++)
		p[i] = (uint8_t)i;
}

/* Room for one more probe and its RTT. Returns 0 or -ENOMEM. */
static int reserve(struct ping *p)
{
	size_t ncap = p->cap ? p->cap * 2 : 64;
	struct probe *np;
	int64_t *nr;

	if (p->sent < p->cap)
		return 0;
	np = realloc(p->probes, ncap * sizeof(*np));
	if (!np)
		return -ENOMEM;
	p->probes = np;
	nr = realloc(p->rtts, ncap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	p->rtts = nr;
	p->cap = ncap;
	return 0;
}

/* Send the next probe. Returns 0 or -errno. */
static int send_probe(struct ping *p)
{
	int64_t now = tool_now_ns();
	int r = reserve(p);

	if (r < 0)
		return r;
	fill_payload(p->tx, p->a->size, p->sent + 1, now);
	if (bp_sendto(p->fd, p->tx, p->a->size, 0, &p->dest.sa, p->dest.len) < 0)
		return -errno;
	p->probes[p->sent] = (struct probe){ .sent_ns = now };
	p->sent++;
	return 0;
}

/* The probe rx answers, if it is one of ours still waiting; else NULL. */
static struct probe *match(struct ping *p, size_t len, int64_t now)
{
	struct probe *pr;
	uint64_t seq;

	if (len != p->a->size)
		return NULL;
	seq = get_be64(p->rx);
	if (seq == 0 || seq > p->sent)
		return NULL;
	pr = &p->probes[seq - 1];
	if (pr->answered || now - pr->sent_ns > p->a->timeout_ns)
		return NULL;
	fill_payload(p->tx, p->a->size, seq, pr->sent_ns);
	return memcmp(p->tx, p->rx, len) == 0 ? pr : NULL;
}

/* Take every reply waiting. Returns 0 or -errno. */
static int take_replies(struct ping *p)
{
	char src[TOOL_ADDR_MAX];
	struct tool_addr from;
	struct probe *pr;
	int64_t now;
	ssize_t n;

	for (;;) {
		from.len = sizeof(from.raw);
		n = bp_recvfrom(p->fd, p->rx, p->a->size + 1, MSG_TRUNC | MSG_DONTWAIT, &from.sa,
				&from.len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		now = tool_now_ns();
		pr = match(p, (size_t)n, now);
		if (!pr)
			continue; /* not ours, a duplicate, too late, or a status report */
		pr->answered = true;
		p->rtts[p->received++] = now - pr->sent_ns;
		if (p->a->quiet)
			continue;
		tool_addr_format(&from.sa,
				 from.len < sizeof(from.raw) ? from.len : sizeof(from.raw), src,
				 sizeof(src));
		(void)printf("%zd bytes from %s: seq=%" PRIu64 " time=%.3f ms\n", n, src,
			     get_be64(p->rx), (double)(now - pr->sent_ns) / NS_PER_MS);
		(void)fflush(stdout);
	}
}

/* Skip the probes answered or past their timeout; the earliest open deadline, or -1. */
static int64_t next_deadline(struct ping *p, int64_t now)
{
	while (p->first_open < p->sent) {
		const struct probe *pr = &p->probes[p->first_open];

		if (!pr->answered && pr->sent_ns + p->a->timeout_ns > now)
			return pr->sent_ns + p->a->timeout_ns;
		p->first_open++;
	}
	return -1;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Send and wait until COUNT is done, a stop signal, or an error. Returns 0 or -errno. */
static int ping_loop(struct ping *p)
{
	int64_t next_send = tool_now_ns(), now, deadline;
	int r;

	for (;;) {
		bool more = !p->a->count || p->sent < p->a->count;

		now = tool_now_ns();
		if (more && now >= next_send) {
			r = send_probe(p);
			if (r < 0)
				return r;
			next_send += p->a->interval_ns;
			if (next_send < now)
				next_send = now; /* late (a slow send): do not burst */
			more = !p->a->count || p->sent < p->a->count;
		}
		deadline = min_deadline(next_deadline(p, now), more ? next_send : -1);
		if (deadline < 0)
			return 0; /* all sent, every probe answered or lost */
		r = tool_wait(p->fd, deadline > now ? deadline - now : 0);
		if (r == -EINTR && tool_stop)
			return 0;
		if (r < 0 && r != -EINTR)
			return r;
		if (r > 0) {
			r = take_replies(p);
			if (r < 0)
				return r;
		}
	}
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

static void print_summary(struct ping *p)
{
	uint64_t n = p->received;
	double loss = p->sent ? 100.0 * (double)(p->sent - n) / (double)p->sent : 0.0;
	double median;

	(void)printf("--- %s bping statistics ---\n", p->dest_text);
	(void)printf("%" PRIu64 " bundles sent, %" PRIu64 " received, %.1f%% loss\n", p->sent, n,
		     loss);
	if (n == 0)
		return;
	qsort(p->rtts, (size_t)n, sizeof(p->rtts[0]), cmp_i64);
	median = n % 2 ? (double)p->rtts[n / 2] :
			 ((double)p->rtts[n / 2 - 1] + (double)p->rtts[n / 2]) / 2;
	/* p99: the value at rank ceil(0.99 n), counted from 1. */
	(void)printf("rtt min/median/p99/max = %.3f/%.3f/%.3f/%.3f ms\n",
		     (double)p->rtts[0] / NS_PER_MS, median / NS_PER_MS,
		     (double)p->rtts[(99 * n + 99) / 100 - 1] / NS_PER_MS,
		     (double)p->rtts[n - 1] / NS_PER_MS);
}

/*
 * Bind a free service, with the timeout as the bundles' lifetime, and print
 * the header line. Returns 0, or -1 after printing the error.
 */
static int ping_open(struct ping *p)
{
	uint64_t lifetime_ms = (uint64_t)((p->a->timeout_ns + 999999) / 1000000);
	char src[TOOL_ADDR_MAX];
	struct tool_addr any, bound;
	int r;

	(void)tool_parse_endpoint("0", &any);
	p->fd = tool_open_bound(&any, BP_DELIVERY_ABANDON);
	if (p->fd < 0)
		return -1;
	if (bp_setsockopt(p->fd, SOL_BP, BP_LIFETIME, &lifetime_ms, sizeof(lifetime_ms)) < 0) {
		(void)tool_fail(errno, "set the lifetime");
		return -1;
	}
	r = tool_resolve_dest(p->fd, &p->dest);
	if (r < 0) {
		(void)tool_fail(-r, "DEST %s on this node", p->a->dest_text);
		return -1;
	}
	bound.len = sizeof(bound.raw);
	if (bp_getsockname(p->fd, &bound.sa, &bound.len) < 0) {
		(void)tool_fail(errno, "getsockname");
		return -1;
	}
	tool_addr_format(&bound.sa, bound.len, src, sizeof(src));
	tool_addr_format(&p->dest.sa, p->dest.len, p->dest_text, sizeof(p->dest_text));
	(void)printf("BPING %s from %s: %zu bytes\n", p->dest_text, src, p->a->size);
	(void)fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct ping_args a = { 0 };
	struct ping p = { .a = &a, .fd = -1 };
	int r, status = TOOL_EXIT_FAIL;

	tool_init("bping");
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	p.dest = a.dest;
	r = tool_signals_init();
	if (r < 0)
		return tool_fail(-r, "signals");
	p.tx = malloc(a.size);
	p.rx = malloc(a.size + 1);
	if (!p.tx || !p.rx) {
		(void)tool_fail(ENOMEM, "buffers of %zu bytes", a.size);
		goto out_free;
	}
	if (ping_open(&p) < 0)
		goto out_close;
	r = ping_loop(&p);
	print_summary(&p);
	if (r < 0)
		(void)tool_fail(-r, "ping %s", p.dest_text);
	else if (p.received > 0)
		status = TOOL_EXIT_OK;
out_close:
	if (p.fd >= 0)
		(void)bp_close(p.fd);
out_free:
	free(p.probes);
	free(p.rtts);
	free(p.tx);
	free(p.rx);
	return status;
}
