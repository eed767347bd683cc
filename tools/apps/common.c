/* SPDX-License-Identifier: MIT */
/* What the libbp tools share; the contracts are in common.h. */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define EID_OFF offsetof(struct sockaddr_bp_eid, bp_eid)
/* The longest accepted number of seconds: about 31 years. */
#define SECONDS_MAX 1e9

const char tool_help_common[] =
	"Endpoints (ENDPOINT, DEST, SOURCE):\n"
	"  ipn:N.S             service S of node N\n"
	"  ipn:A.N.S           the same, with allocator A\n"
	"  dtn://NODE/DEMUX    a dtn endpoint\n"
	"  S                   service S of this node (ipn:0.S); to bind, 0 means\n"
	"                      any free service (bpd picks one from 32768..60999)\n"
	"\n"
	"Environment:\n"
	"  BPD_SOCKET          the socket where bpd listens (default\n"
	"                      $XDG_RUNTIME_DIR/bpsock/bpd.sock, else\n"
	"                      /tmp/bpsock-UID/bpd.sock), as bpd -S\n";

volatile sig_atomic_t tool_stop;

static const char *prog = "bptool";
static sigset_t wait_mask;
static bool signals_ready;

void tool_init(const char *name)
{
	prog = name;
}

static void __attribute__((format(printf, 1, 0)))
vline(const char *fmt, va_list ap, const char *tail)
{
	(void)fprintf(stderr, "%s: ", prog);
	(void)vfprintf(stderr, fmt, ap);
	(void)fprintf(stderr, "%s\n", tail);
}

int tool_error(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(fmt, ap, "");
	va_end(ap);
	return status;
}

int tool_fail(int err, const char *fmt, ...)
{
	char tail[256];
	va_list ap;

	(void)snprintf(tail, sizeof(tail), ": %s", strerror(err));
	va_start(ap, fmt);
	vline(fmt, ap, tail);
	va_end(ap);
	return TOOL_EXIT_FAIL;
}

int tool_usage(const char *fmt, ...)
{
	char tail[64];
	va_list ap;

	(void)snprintf(tail, sizeof(tail), " (see %s --help)", prog);
	va_start(ap, fmt);
	vline(fmt, ap, tail);
	va_end(ap);
	return TOOL_EXIT_USAGE;
}

int tool_bad_option(char **argv, int c)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return tool_usage("option '%s' needs a value", arg);
	if (optopt >= 256 || (optopt > 0 && arg[0] == '-' && arg[1] == '-'))
		return tool_usage("option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
	if (optopt > 0)
		return tool_usage("unknown option '-%c'", optopt);
	return tool_usage("unknown option '%s'", arg);
}

/* One or more decimal digits at *p (advanced past them). */
static bool skip_digits(const char **p)
{
	const char *s = *p;

	while (*s >= '0' && *s <= '9')
		s++;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

/* "N.S" or "A.N.S" (after "ipn:"): 2 or 3 decimal numbers. Sets *ret_parts. */
static bool ipn_ssp_ok(const char *ssp, int *ret_parts)
{
	const char *p = ssp;
	int parts = 0;

	do {
		if (!skip_digits(&p))
			return false;
		parts++;
	} while (*p++ == '.');
	*ret_parts = parts;
	return p[-1] == '\0' && (parts == 2 || parts == 3);
}

/* "none" or "//NODE/..." (after "dtn:"), NODE not empty. */
static bool dtn_ssp_ok(const char *ssp)
{
	size_t node;

	if (strcmp(ssp, "none") == 0)
		return true;
	if (strncmp(ssp, "//", 2) != 0)
		return false;
	node = strcspn(ssp + 2, "/");
	return node > 0 && ssp[2 + node] == '/';
}

/* An EID's text as a struct sockaddr_bp_eid, never of sizeof(struct sockaddr_bp) bytes. */
static int eid_addr(const char *text, enum bp_scheme scheme, struct tool_addr *ret)
{
	size_t n = strlen(text);

	if (EID_OFF + n + 1 > sizeof(ret->raw))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->eid.bp_family = AF_BP;
	ret->eid.bp_scheme = scheme;
	memcpy(ret->raw + EID_OFF, text, n + 1);
	ret->len = (socklen_t)(EID_OFF + n + 1);
	if (ret->len < sizeof(struct sockaddr_bp_eid))
		ret->len = sizeof(struct sockaddr_bp_eid);
	return 0;
}

int tool_parse_endpoint(const char *text, struct tool_addr *ret)
{
	uint64_t service;
	int parts, r;

	if (tool_parse_u64(text, 0, UINT32_MAX, &service) == 0) {
		memset(ret, 0, sizeof(*ret));
		ret->ipn.bp_family = AF_BP;
		ret->ipn.bp_scheme = BP_SCHEME_IPN;
		ret->ipn.bp_addr.ipn.service_id = (uint32_t)service;
		ret->len = sizeof(ret->ipn);
		ret->own_node = true;
		return 0;
	}
	if (strncmp(text, "ipn:", 4) == 0) {
		if (!ipn_ssp_ok(text + 4, &parts))
			return -EINVAL;
		r = eid_addr(text, BP_SCHEME_IPN, ret);
		if (r == 0 && parts == 2)
			ret->own_node = strncmp(text + 4, "0.", 2) == 0;
		return r;
	}
	if (strncmp(text, "dtn:", 4) == 0 && dtn_ssp_ok(text + 4))
		return eid_addr(text, BP_SCHEME_DTN, ret);
	return -EINVAL;
}

int tool_last_endpoint(int argc, char **argv, const char *what, const char **ret_text,
		       struct tool_addr *ret)
{
	if (optind == argc)
		return tool_usage("missing %s", what);
	*ret_text = argv[optind++];
	if (optind < argc)
		return tool_usage("unexpected argument '%s'", argv[optind]);
	if (tool_parse_endpoint(*ret_text, ret) < 0)
		return tool_usage("bad %s '%s'", what, *ret_text);
	return -1;
}

void tool_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap)
{
	struct sockaddr_bp ipn;
	size_t n;

	if (cap == 0)
		return;
	if (len == sizeof(ipn)) {
		memcpy(&ipn, sa, sizeof(ipn));
		(void)snprintf(buf, cap, "ipn:%" PRIu32 ".%" PRIu32, ipn.bp_addr.ipn.node_id,
			       ipn.bp_addr.ipn.service_id);
		return;
	}
	if (len <= EID_OFF) {
		(void)snprintf(buf, cap, "(no address)");
		return;
	}
	n = strnlen((const char *)sa + EID_OFF, len - EID_OFF);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, (const char *)sa + EID_OFF, n);
	buf[n] = '\0';
}

int tool_resolve_dest(int fd, struct tool_addr *dest)
{
	char own[TOOL_ADDR_MAX], text[TOOL_ADDR_MAX + 32], *dot;
	const char *service;
	struct tool_addr bound;

	if (!dest->own_node)
		return 0;
	bound.len = sizeof(bound.raw);
	if (bp_getsockname(fd, &bound.sa, &bound.len) < 0)
		return -errno;
	if (bound.len > sizeof(bound.raw))
		bound.len = sizeof(bound.raw);
	tool_addr_format(&bound.sa, bound.len, own, sizeof(own));
	dot = strrchr(own, '.');
	if (strncmp(own, "ipn:", 4) != 0 || !dot)
		return -EADDRNOTAVAIL; /* a dtn node has no number */
	*dot = '\0';
	if (dest->len == sizeof(dest->ipn)) {
		(void)snprintf(text, sizeof(text), "%s.%" PRIu32, own,
			       dest->ipn.bp_addr.ipn.service_id);
	} else {
		service = strrchr(dest->raw + EID_OFF, '.') + 1;
		(void)snprintf(text, sizeof(text), "%s.%s", own, service);
	}
	return eid_addr(text, BP_SCHEME_IPN, dest);
}

int tool_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = text;

	if (!skip_digits(&p) || *p != '\0')
		return -EINVAL;
	for (p = text; *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int tool_parse_seconds(const char *text, int64_t *ret_ns)
{
	char *end;
	double v;

	/* Digits or a point first: no sign, no "inf", no "nan", no hex. */
	if (!((*text >= '0' && *text <= '9') || *text == '.') || strpbrk(text, "xX"))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end != '\0' || !isfinite(v) || v < 0 || v > SECONDS_MAX)
		return -EINVAL;
	*ret_ns = (int64_t)(v * (double)NS_PER_S + 0.5);
	return 0;
}

int64_t tool_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int tool_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int tool_read_all(int fd, uint8_t **ret_buf, size_t *ret_len)
{
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t k;
	int r;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				r = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
		}
		k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out_free;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
out_free:
	free(buf);
	return r;
}

static void on_stop_signal(int sig)
{
	tool_stop = 1;
}

int tool_signals_init(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigset_t stop;

	(void)sigemptyset(&stop);
	(void)sigaddset(&stop, SIGINT);
	(void)sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, &wait_mask) < 0)
		return -errno;
	(void)sigdelset(&wait_mask, SIGINT);
	(void)sigdelset(&wait_mask, SIGTERM);
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	signals_ready = true;
	return 0;
}

int tool_wait(int fd, int64_t timeout_ns)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts;
	int r;

	if (tool_stop)
		return -EINTR;
	if (timeout_ns >= 0) {
		ts.tv_sec = (time_t)(timeout_ns / NS_PER_S);
		ts.tv_nsec = (long)(timeout_ns % NS_PER_S);
	}
	/* The stop signals are let in only here, atomically with the wait. */
	r = ppoll(&p, 1, timeout_ns >= 0 ? &ts : NULL, signals_ready ? &wait_mask : NULL);
	if (r < 0)
		return -errno;
	return r > 0 ? 1 : 0;
}

int tool_rx_init(struct tool_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->cap = 65536;
	rx->buf = malloc(rx->cap);
	return rx->buf ? 0 : -ENOMEM;
}

void tool_rx_clear(struct tool_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
	rx->cap = 0;
}

static int rx_grow(struct tool_rx *rx, size_t need)
{
	uint8_t *nbuf = realloc(rx->buf, need);

	if (!nbuf)
		return -ENOMEM;
	rx->buf = nbuf;
	rx->cap = need;
	return 0;
}

int tool_rx_peek(int fd, struct tool_rx *rx)
{
	for (;;) {
		struct iovec iov = { .iov_base = rx->buf, .iov_len = rx->cap };
		struct msghdr mh = {
			.msg_name = rx->src.raw,
			.msg_namelen = sizeof(rx->src.raw),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		/* MSG_TRUNC: the full length even when the buffer is too small. */
		ssize_t n = bp_recvmsg(fd, &mh, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		int r;

		if (n < 0)
			return -errno;
		if ((size_t)n <= rx->cap) {
			rx->len = (size_t)n;
			rx->report = mh.msg_flags & MSG_BP_STATUS_REPORT;
			rx->src.len = mh.msg_namelen < sizeof(rx->src.raw) ? mh.msg_namelen :
									     sizeof(rx->src.raw);
			rx->src.own_node = false;
			return 0;
		}
		r = rx_grow(rx, (size_t)n);
		if (r < 0)
			return r;
	}
}

int tool_rx_consume(int fd, const struct tool_rx *rx)
{
	struct msghdr mh = { .msg_iov = NULL, .msg_iovlen = 0 };
	/* No buffer and MSG_TRUNC: take the bundle without copying it again. */
	ssize_t n = bp_recvmsg(fd, &mh, MSG_TRUNC | MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	return (size_t)n == rx->len ? 0 : -EPROTO;
}

int tool_open_bound(const struct tool_addr *addr, int policy)
{
	char text[TOOL_ADDR_MAX];
	int fd, err;

	fd = bp_socket(AF_BP, SOCK_DGRAM, 0);
	if (fd < 0) {
		(void)tool_fail(errno, "connect to bpd");
		return -1;
	}
	if (policy >= 0 &&
	    bp_setsockopt(fd, SOL_BP, BP_DELIVERY_POLICY, &policy, sizeof(policy)) < 0) {
		(void)tool_fail(errno, "set the delivery policy");
		goto out_close;
	}
	if (bp_bind(fd, &addr->sa, addr->len) < 0) {
		err = errno;
		tool_addr_format(&addr->sa, addr->len, text, sizeof(text));
		(void)tool_fail(err, "bind %s", text);
		goto out_close;
	}
	return fd;
out_close:
	(void)bp_close(fd);
	return -1;
}
