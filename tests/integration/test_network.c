/* SPDX-License-Identifier: MIT */
/*
 * bpd nodes on 127.0.0.1 linked by TCPCLv4 (RFC 9174) and UDP: bundles from
 * an app on one reach an app on another byte-exact, both ways and through a
 * node between (routes); while the next hop is down they wait in the store,
 * and go once it is back; a contact window holds them until it opens; a
 * bundle too large for a datagram is fragmented and reassembled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp/bp.h"

struct node {
	unsigned num;
	char sock[128];
	char conf[2048];
	pid_t pid;
};

static char dir[64];
static struct node a = { .num = 1 }, b = { .num = 2 }, c = { .num = 3 };

/* A free port on 127.0.0.1 (the kernel's choice, released for bpd to take). */
static unsigned free_port_of(int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);
	unsigned port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static unsigned free_port(void)
{
	return free_port_of(SOCK_STREAM);
}

__attribute__((format(printf, 2, 3))) static void node_conf(struct node *n, const char *fmt, ...)
{
	va_list ap;
	int len;

	len = snprintf(n->conf, sizeof(n->conf), "node ipn:%u\n", n->num);
	va_start(ap, fmt);
	vsnprintf(n->conf + len, sizeof(n->conf) - (size_t)len, fmt, ap);
	va_end(ap);
}

static void node_start(struct node *n)
{
	char conf_path[160], state[160];
	FILE *f;

	snprintf(conf_path, sizeof(conf_path), "%s/ipn%u.conf", dir, n->num);
	snprintf(state, sizeof(state), "%s/ipn%u", dir, n->num);
	f = fopen(conf_path, "w");
	assert_non_null(f);
	fputs(n->conf, f);
	fclose(f);
	n->pid = fork();
	if (n->pid == 0) {
		execl(BPD_PATH, "bpd", "-c", conf_path, "--socket", n->sock, "--state", state,
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok;

		strcpy(sun.sun_path, n->sock);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return;
		usleep(10000);
	}
	fail_msg("bpd ipn:%u did not start", n->num);
}

static void node_stop(struct node *n)
{
	int status;

	if (n->pid <= 0)
		return;
	kill(n->pid, SIGTERM);
	waitpid(n->pid, &status, 0);
	n->pid = -1;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bpsock-net-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(a.sock, sizeof(a.sock), "%s/ipn1.sock", dir);
	snprintf(b.sock, sizeof(b.sock), "%s/ipn2.sock", dir);
	snprintf(c.sock, sizeof(c.sock), "%s/ipn3.sock", dir);
	a.pid = b.pid = c.pid = -1;
	return 0;
}

static unsigned port_b; /* ipn:2's TCPCL listener, in the pair */

/* ipn:1 <-> ipn:2 over TCPCLv4, each a neighbour of the other. */
static int setup(void **state)
{
	unsigned pa = free_port(), pb = free_port();

	port_b = pb;
	if (make_dir() < 0)
		return -1;
	node_conf(&a, "listen tcpcl:127.0.0.1:%u\nneighbor add ipn:2 tcpcl:127.0.0.1:%u\n", pa, pb);
	node_conf(&b, "listen tcpcl:127.0.0.1:%u\nneighbor add ipn:1 tcpcl:127.0.0.1:%u\n", pb, pa);
	node_start(&a);
	node_start(&b);
	return 0;
}

/*
 * ipn:1 -> ipn:2 -> ipn:3 over scheme ("tcpcl" or "udp"): a knows ipn:3
 * only by a route via ipn:2; extra is more of a's config.
 */
static void chain(const char *scheme, const char *extra)
{
	int type = strcmp(scheme, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
	unsigned pb = free_port_of(type), pc = free_port_of(type);

	assert_int_equal(make_dir(), 0);
	node_conf(&a, "neighbor add ipn:2 %s:127.0.0.1:%u\nroute add ipn:3.* via ipn:2\n%s", scheme,
		  pb, extra);
	node_conf(&b, "listen %s:127.0.0.1:%u\nneighbor add ipn:3 %s:127.0.0.1:%u\n", scheme, pb,
		  scheme, pc);
	/* c answers (status reports) over the session b opened, via ipn:2. */
	node_conf(&c, "listen %s:127.0.0.1:%u\nroute add ipn:1.* via ipn:2\n", scheme, pc);
	node_start(&c);
	node_start(&b);
	node_start(&a);
}

static int setup_chain_tcp(void **state)
{
	chain("tcpcl", "");
	return 0;
}

static int setup_chain_udp(void **state)
{
	chain("udp", "");
	return 0;
}

/* The link from ipn:1 to ipn:2 opens 3 s after a starts, for a minute. */
static int setup_chain_contact(void **state)
{
	chain("tcpcl", "contact add ipn:2 from +3 to +60 rate 10M\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sockaddr_bp ipn(unsigned node, unsigned service)
{
	struct sockaddr_bp s;

	memset(&s, 0, sizeof(s));
	s.bp_family = AF_BP;
	s.bp_scheme = BP_SCHEME_IPN;
	s.bp_addr.ipn.node_id = node;
	s.bp_addr.ipn.service_id = service;
	return s;
}

/* A BP socket on node n, bound to ipn:n.service. */
static int bound(struct node *n, unsigned service)
{
	struct sockaddr_bp s = ipn(n->num, service);
	int fd;

	setenv("BPD_SOCKET", n->sock, 1);
	fd = bp_socket(AF_BP, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bp_bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	return fd;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 10));
}

static size_t size_of(unsigned i)
{
	static const size_t sizes[] = { 1, 100, 65400, 65536, 200000, 3u << 20, 5u << 20 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

#define SIZE_MAX_SENT (5u << 20)

/* Send n bundles from `from` to ipn:to.7, then receive them there, byte-exact, in order. */
static void exchange(struct node *from, struct node *to, unsigned n, unsigned seed,
		     bool receiver_first)
{
	struct sockaddr_bp dest = ipn(to->num, 7);
	uint8_t *buf = malloc(SIZE_MAX_SENT), *want = malloc(SIZE_MAX_SENT);
	int tx, rx = -1;

	if (receiver_first)
		rx = bound(to, 7);
	tx = bound(from, 8);
	for (unsigned i = 0; i < n; i++) {
		size_t len = size_of(i);

		fill(buf, len, seed + i);
		assert_int_equal(bp_sendto(tx, buf, len, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 (ssize_t)len);
	}
	bp_close(tx);
	if (rx < 0)
		rx = bound(to, 7);
	for (unsigned i = 0; i < n; i++) {
		struct pollfd p = { .fd = rx, .events = POLLIN };
		size_t len = size_of(i);

		assert_int_equal(poll(&p, 1, 20000), 1);
		assert_int_equal(bp_recvfrom(rx, buf, SIZE_MAX_SENT, 0, NULL, NULL), (ssize_t)len);
		fill(want, len, seed + i);
		assert_memory_equal(buf, want, len);
	}
	bp_close(rx);
	free(buf);
	free(want);
}

/* bpctl ARGS on node n: its output; its exit status must be 0. */
static void bpctl(struct node *n, const char *args, char *out, size_t cap)
{
	char cmd[512];
	FILE *p;
	size_t k;

	snprintf(cmd, sizeof(cmd), "BPD_SOCKET=%s %s %s", n->sock, BPCTL_PATH, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	k = fread(out, 1, cap - 1, p);
	out[k] = '\0';
	assert_int_equal(pclose(p), 0);
}

/* The number after "key": in JSON text, from the first occurrence. */
static unsigned long json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	assert_non_null(p);
	return strtoul(p + strlen(pat), NULL, 10);
}

static void links_json(struct node *n, char *out, size_t cap)
{
	bpctl(n, "links --json", out, cap);
}

static void bundles_cross_a_tcpclv4_link_both_ways(void **state)
{
	char out[4096];

	exchange(&a, &b, 12, 1, true);
	exchange(&b, &a, 6, 100, false);
	/* a's links to ipn:2 (its own and the one ipn:2 opened) carried the 12 bundles. */
	links_json(&a, out, sizeof(out));
	assert_non_null(strstr(out, "\"peer\":\"ipn:2.0\""));
	assert_non_null(strstr(out, "\"up\":true"));
	{
		unsigned long sent = 0, got = 0;

		for (const char *p = out; (p = strstr(p, "\"bundles_out\":")); p++)
			sent += strtoul(p + 14, NULL, 10);
		for (const char *p = out; (p = strstr(p, "\"bundles_in\":")); p++)
			got += strtoul(p + 13, NULL, 10);
		assert_int_equal(sent, 12);
		assert_int_equal(got, 6);
	}
}

/*
 * Store and forward: the far node is down, the bundles wait, then go: more
 * than a link queues at once (TCPCL4_QUEUE_MAX), in order.
 */
static void bundles_wait_while_the_next_hop_is_down(void **state)
{
	node_stop(&b);
	exchange(&a, &a, 0, 0, false); /* nothing: just makes sure a is up */
	{
		struct sockaddr_bp dest = ipn(2, 7);
		uint8_t buf[1000];
		int tx = bound(&a, 9);

		for (unsigned i = 0; i < 150; i++) {
			fill(buf, sizeof(buf), 500 + i);
			assert_int_equal(bp_sendto(tx, buf, sizeof(buf), 0,
						   (struct sockaddr *)&dest, sizeof(dest)),
					 (ssize_t)sizeof(buf));
		}
		bp_close(tx);
	}
	node_start(&b);
	{
		uint8_t buf[2000], want[1000];
		int rx = bound(&b, 7);

		for (unsigned i = 0; i < 150; i++) {
			struct pollfd p = { .fd = rx, .events = POLLIN };

			/* a retries its link with a growing delay: allow for a few rounds. */
			assert_int_equal(poll(&p, 1, 30000), 1);
			assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 1000);
			fill(want, sizeof(want), 500 + i);
			assert_memory_equal(buf, want, sizeof(want));
		}
		bp_close(rx);
	}
}

/* Send n bundles of len bytes from `from` to ipn:to.7, without waiting. */
static void send_some(struct node *from, struct node *to, unsigned n, size_t len, unsigned seed)
{
	struct sockaddr_bp dest = ipn(to->num, 7);
	uint8_t *buf = malloc(len);
	int tx = bound(from, 9);

	for (unsigned i = 0; i < n; i++) {
		fill(buf, len, seed + i);
		assert_int_equal(bp_sendto(tx, buf, len, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 (ssize_t)len);
	}
	bp_close(tx);
	free(buf);
}

/* Receive n bundles of len bytes on rx as send_some() made them, each within timeout_ms. */
static void receive_some(int rx, unsigned n, size_t len, unsigned seed, int timeout_ms)
{
	uint8_t *buf = malloc(len + 1), *want = malloc(len);

	for (unsigned i = 0; i < n; i++) {
		struct pollfd p = { .fd = rx, .events = POLLIN };

		assert_int_equal(poll(&p, 1, timeout_ms), 1);
		assert_int_equal(bp_recvfrom(rx, buf, len + 1, 0, NULL, NULL), (ssize_t)len);
		fill(want, len, seed + i);
		assert_memory_equal(buf, want, len);
	}
	free(buf);
	free(want);
}

/* Like receive_some(), in any order. */
static void receive_any(int rx, unsigned n, size_t len, unsigned seed, int timeout_ms)
{
	uint8_t *buf = malloc(len + 1), *want = malloc(len);
	bool got[64] = { false };

	assert_true(n <= 64);
	for (unsigned k = 0; k < n; k++) {
		struct pollfd p = { .fd = rx, .events = POLLIN };
		unsigned i;

		assert_int_equal(poll(&p, 1, timeout_ms), 1);
		assert_int_equal(bp_recvfrom(rx, buf, len + 1, 0, NULL, NULL), (ssize_t)len);
		for (i = 0; i < n; i++) {
			fill(want, len, seed + i);
			if (!got[i] && memcmp(buf, want, len) == 0)
				break;
		}
		assert_true(i < n);
		got[i] = true;
	}
	free(buf);
	free(want);
}

/* A -> B -> C over TCPCLv4, a route at A; B stopped meanwhile: all arrive. */
static void bundles_go_through_a_node_between(void **state)
{
	int rx;

	char out[4096];

	exchange(&a, &c, 7, 200, true);
	node_stop(&b);
	send_some(&a, &c, 40, 3000, 700);
	/* a says they wait for ipn:2, whose link is down. */
	bpctl(&a, "neighbors --json", out, sizeof(out));
	assert_non_null(strstr(out, "\"node\":\"ipn:2.0\""));
	assert_non_null(strstr(out, "\"up\":false"));
	assert_int_equal(json_num(out, "queued"), 40);
	node_start(&b);
	rx = bound(&c, 7);
	receive_some(rx, 40, 3000, 700, 30000);
	bp_close(rx);
	bpctl(&a, "stats --json", out, sizeof(out));
	assert_int_equal(json_num(out, "originated"), 47);
	assert_int_equal(json_num(out, "forwarded"), 47);
	bpctl(&c, "stats --json", out, sizeof(out));
	assert_int_equal(json_num(out, "received"), 47);
	assert_int_equal(json_num(out, "delivered"), 47);
}

/* Routes change at run time: without one the bundles wait; with it they go. */
static void routes_change_while_bpd_runs(void **state)
{
	char out[4096];
	int rx = bound(&c, 7);

	bpctl(&a, "route del ipn:3.*", out, sizeof(out));
	bpctl(&a, "routes --json", out, sizeof(out));
	assert_string_equal(out, "[]\n");
	send_some(&a, &c, 5, 100, 50);
	{
		struct pollfd p = { .fd = rx, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 1000), 0); /* no way there */
	}
	bpctl(&a, "route add ipn:3.* via ipn:2", out, sizeof(out));
	bpctl(&a, "routes", out, sizeof(out));
	assert_non_null(strstr(out, "ipn:3.*"));
	receive_some(rx, 5, 100, 50, 15000);
	bp_close(rx);
}

/*
 * A -> B -> C over UDP: one bundle per datagram; the 3 MiB and 5 MiB ones
 * are split at A into fragments that fit one (RFC 9171 5.8), which B
 * forwards as bundles of their own and C reassembles (5.9) byte-exact.
 */
static void bundles_go_through_a_node_between_over_udp(void **state)
{
	int rx;

	exchange(&a, &c, 7, 300, true);
	/* Fragments travel apart: whole bundles may come in another order. */
	rx = bound(&c, 7);
	send_some(&a, &c, 4, 5u << 20, 400);
	receive_any(rx, 4, 5u << 20, 400, 30000);
	bp_close(rx);
}

/* A contact window 3 s ahead: the bundles wait for it, then go. */
static void bundles_wait_for_the_contact_window(void **state)
{
	struct pollfd p;
	int rx = bound(&c, 7);

	send_some(&a, &c, 20, 1000, 900);
	p = (struct pollfd){ .fd = rx, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 1500), 0);
	receive_some(rx, 20, 1000, 900, 15000);
	bp_close(rx);
}

/* One status report received on rx: its record, and the node that sent it. */
struct got_report {
	struct bp_status_report r;
	unsigned from; /* ipn node number of the report's source */
	uint8_t raw[2048];
};

static void receive_report(int rx, struct got_report *g, int timeout_ms)
{
	struct sockaddr_bp src;
	struct iovec iov = { g->raw, sizeof(g->raw) };
	struct msghdr mh = {
		.msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1
	};
	struct pollfd p = { .fd = rx, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, timeout_ms), 1);
	n = bp_recvmsg(rx, &mh, 0);
	assert_true(n > 0);
	assert_true(mh.msg_flags & MSG_BP_STATUS_REPORT);
	assert_int_equal(bp_status_report_parse(g->raw, (size_t)n, &g->r), 0);
	assert_int_equal(src.bp_addr.ipn.service_id, 0); /* a node's administrative endpoint */
	g->from = src.bp_addr.ipn.node_id;
}

/* The report is about the bundle id sent from ipn:1.9. */
static void assert_subject(const struct got_report *g, const struct bp_bundle_id *id)
{
	assert_string_equal(g->r.source, "ipn:1.9");
	assert_int_equal(g->r.id.creation_time, id->creation_time);
	assert_int_equal(g->r.id.sequence, id->sequence);
}

/* Send one bundle from ipn:1.9 (tx) to ipn:3.7 with flags; its identity. */
static struct bp_bundle_id send_one(int tx, int flags, size_t len)
{
	struct sockaddr_bp dest = ipn(3, 7);
	struct bp_bundle_id id;
	socklen_t idlen = sizeof(id);
	uint8_t buf[100] = { 7 };

	assert_int_equal(bp_sendto(tx, buf, len, flags, (struct sockaddr *)&dest, sizeof(dest)),
			 (ssize_t)len);
	assert_int_equal(bp_getsockopt(tx, SOL_BP, BP_SENT_ID, &id, &idlen), 0);
	assert_int_equal(idlen, sizeof(id));
	assert_true(id.creation_time > 0);
	return id;
}

/*
 * RFC 9171 6.1: a bundle that asks for them gets received, forwarded and
 * delivered reports from every node on its way, at its report-to endpoint
 * (the sender's socket by default), marked as reports and naming it.
 */
static void status_reports_reach_the_sender(void **state)
{
	/* By node: what each should say */
	static const unsigned want[4] = {
		[1] = BP_STATUS_FORWARDED,
		[2] = BP_STATUS_RECEIVED | BP_STATUS_FORWARDED,
		[3] = BP_STATUS_RECEIVED | BP_STATUS_DELIVERED,
	};
	unsigned seen[4] = { 0 };
	int tx = bound(&a, 9), rx = bound(&c, 7);
	struct bp_bundle_id id;
	struct got_report g;

	id = send_one(tx, MSG_RECEIVED_RPT | MSG_FORWARDED_RPT | MSG_DELIVERED_RPT, 10);
	{
		struct pollfd p = { .fd = rx, .events = POLLIN };
		uint8_t buf[100];

		assert_int_equal(poll(&p, 1, 15000), 1);
		assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 10);
	}
	for (int i = 0; i < 5; i++) {
		unsigned st;

		receive_report(tx, &g, 15000);
		assert_subject(&g, &id);
		assert_true(g.from >= 1 && g.from <= 3);
		st = g.r.status;
		assert_true(st && (st & (st - 1)) == 0); /* one status per report */
		assert_true((want[g.from] & st) && !(seen[g.from] & st));
		seen[g.from] |= st;
		assert_int_equal(g.r.reason, 0);
	}
	bp_close(tx);
	/* bpsend -r delivered waits for the report and says when the bundle arrived. */
	{
		char cmd[512], out[512];
		FILE *p;
		size_t k;

		snprintf(cmd, sizeof(cmd), "BPD_SOCKET=%s %s -r delivered -w 20 ipn:3.7 hello",
			 a.sock, BPSEND_PATH);
		p = popen(cmd, "r");
		assert_non_null(p);
		k = fread(out, 1, sizeof(out) - 1, p);
		out[k] = '\0';
		assert_int_equal(pclose(p), 0);
		assert_non_null(strstr(out, "delivered by ipn:3.0"));
		assert_non_null(strstr(out, "after sending"));
	}
	bp_close(rx);
}

/*
 * Deleted reports: at ipn:2 for a bundle over its hop limit (it left ipn:1
 * with its count at the limit), and at ipn:1 for one whose lifetime ended
 * while it waited there for ipn:2.
 */
static void hop_limit_and_expiry_give_deleted_reports(void **state)
{
	int tx = bound(&a, 9), one = 1;
	uint64_t lifetime = 1000;
	struct bp_bundle_id id;
	struct got_report g;

	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_HOP_LIMIT, &one, sizeof(one)), 0);
	id = send_one(tx, MSG_DELETED_RPT, 10);
	receive_report(tx, &g, 15000);
	assert_subject(&g, &id);
	assert_int_equal(g.from, 2);
	assert_int_equal(g.r.status, BP_STATUS_DELETED);
	assert_int_equal(g.r.reason, 9); /* RFC 9171 9.5: hop limit exceeded */
	assert_string_equal(bp_status_reason(g.r.reason), "Hop limit exceeded");

	node_stop(&b);
	one = 0;
	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_HOP_LIMIT, &one, sizeof(one)), 0);
	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_LIFETIME, &lifetime, sizeof(lifetime)), 0);
	id = send_one(tx, MSG_DELETED_RPT, 10);
	receive_report(tx, &g, 15000);
	assert_subject(&g, &id);
	assert_int_equal(g.from, 1);
	assert_int_equal(g.r.status, BP_STATUS_DELETED);
	assert_int_equal(g.r.reason, 1); /* lifetime expired */
	bp_close(tx);
}

/* Malformed peers (RFC 9174), talking raw TCP to ipn:2's listener. */

static int tcp_to(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void put(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Everything bpd says until it closes (a 5 s read timeout fails the test). */
static size_t read_to_close(int fd, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;

	while ((k = recv(fd, buf + n, cap - n, 0)) > 0)
		n += (size_t)k;
	assert_int_equal(k, 0); /* closed, not timed out */
	return n;
}

static const uint8_t contact_v4[6] = { 'd', 't', 'n', '!', 4, 0 };

/* SESS_INIT (4.6): keepalive 0, MRUs 1 MiB, node ID ipn:9.0, no extensions. */
static void put_sess_init(int fd)
{
	uint8_t m[1 + 2 + 8 + 8 + 2 + 7 + 4] = { 0x07 };

	m[1 + 2 + 5] = 0x10;	 /* segment MRU 0x100000 */
	m[1 + 2 + 8 + 5] = 0x10; /* transfer MRU */
	m[1 + 2 + 8 + 8 + 1] = 7;
	memcpy(m + 1 + 2 + 8 + 8 + 2, "ipn:9.0", 7);
	put(fd, m, sizeof(m));
}

/* bpd's contact header and SESS_INIT as ipn:2.0: 6 + 32 bytes. */
#define B_OPENING (6 + 1 + 2 + 8 + 8 + 2 + 7 + 4)

static void malformed_peers_get_the_rfc_answers(void **state)
{
	uint8_t buf[4096];
	size_t n;
	int fd;

	/* 4.3: not "dtn!": closed, nothing said. */
	fd = tcp_to(port_b);
	put(fd, "xtn!\x04\x00", 6);
	assert_int_equal(read_to_close(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* 4.3: version 3 (here, until TCPCLv3 comes): our header, SESS_TERM "version mismatch". */
	fd = tcp_to(port_b);
	put(fd, "dtn!\x03\x00", 6);
	n = read_to_close(fd, buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, contact_v4, 6);
	assert_memory_equal(buf + 6, "\x05\x00\x02", 3);
	close(fd);

	/* 5.1.2: a segment before SESS_INIT: MSG_REJECT "unexpected", the session goes on. */
	fd = tcp_to(port_b);
	put(fd, contact_v4, 6);
	put(fd, "\x01\x03\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01x", 23);
	put_sess_init(fd);
	put(fd, "\x05\x00\x00", 3); /* SESS_TERM from us: the reply, then the close */
	n = read_to_close(fd, buf, sizeof(buf));
	assert_true(n >= 6 + 3);
	assert_memory_equal(buf, contact_v4, 6);
	assert_memory_equal(buf + 6, "\x06\x03\x01", 3);
	assert_memory_equal(buf + n - 3, "\x05\x01\x00", 3);
	close(fd);

	/* 5.2.2: a segment over our segment MRU: SESS_TERM "resource exhaustion". */
	fd = tcp_to(port_b);
	put(fd, contact_v4, 6);
	put_sess_init(fd);
	put(fd, "\x01\x03\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\x01\0\0\0\0\0", 22);
	n = read_to_close(fd, buf, sizeof(buf));
	assert_int_equal(n, B_OPENING + 3);
	assert_memory_equal(buf + B_OPENING, "\x05\x00\x05", 3);
	close(fd);

	/* 5.1.2: garbage (type 0xee): MSG_REJECT "type unknown", then SESS_TERM. */
	fd = tcp_to(port_b);
	put(fd, contact_v4, 6);
	put_sess_init(fd);
	put(fd, "\xee\xee\xee\xee", 4);
	n = read_to_close(fd, buf, sizeof(buf));
	assert_int_equal(n, B_OPENING + 6);
	assert_memory_equal(buf + B_OPENING, "\x06\x01\xee", 3);
	assert_int_equal(buf[B_OPENING + 3], 0x05);
	close(fd);

	/* Only those sessions ended: ipn:2 still serves ipn:1. */
	exchange(&a, &b, 3, 77, true);
}

/*
 * A bundle from a node without a clock (creation time 0, RFC 9171 4.2.6)
 * lives by its bundle age block (4.4.2): it must not count as expired in
 * the year 2000. Sent by a raw TCPCLv4 peer to ipn:2, for an app there.
 */
static void a_clockless_bundle_lives_by_its_age(void **state)
{
	char cmd[512], hex[1024];
	uint8_t seg[600], buf[4096];
	size_t n = 0, k;
	ssize_t got;
	FILE *p;
	int fd, rx;

	snprintf(cmd, sizeof(cmd),
		 "%s encode --source ipn:9.1 --dest ipn:2.7 --time 0 --age 5000 "
		 "--lifetime 3600000 --payload clockless --hex",
		 BPCTL_PATH);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(hex, sizeof(hex), p));
	assert_int_equal(pclose(p), 0);
	/* XFER_SEGMENT, START|END, transfer 1, no extensions, then the bundle. */
	seg[n++] = 0x01;
	seg[n++] = 0x03;
	memset(seg + n, 0, 7);
	seg[n + 7] = 1;
	n += 8;
	memset(seg + n, 0, 4);
	n += 4;
	k = strspn(hex, "0123456789abcdef") / 2;
	memset(seg + n, 0, 8);
	seg[n + 7] = (uint8_t)k;
	seg[n + 6] = (uint8_t)(k >> 8);
	n += 8;
	for (size_t i = 0; i < k; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		seg[n++] = (uint8_t)v;
	}
	fd = tcp_to(port_b);
	put(fd, contact_v4, 6);
	put_sess_init(fd);
	put(fd, seg, n);
	/* Its XFER_ACK (type 2, END flag) after bpd's opening: it was stored. */
	for (size_t have = 0; have < B_OPENING + 2;) {
		got = recv(fd, buf + have, sizeof(buf) - have, 0);
		assert_true(got > 0);
		have += (size_t)got;
	}
	assert_int_equal(buf[B_OPENING], 0x02);
	/* It waits in the store a while (a bundle counted as expired would be deleted now). */
	sleep(1);
	rx = bound(&b, 7);
	{
		struct pollfd pf = { .fd = rx, .events = POLLIN };
		char text[32];

		assert_int_equal(poll(&pf, 1, 5000), 1);
		assert_int_equal(bp_recvfrom(rx, text, sizeof(text), 0, NULL, NULL), 9);
		assert_memory_equal(text, "clockless", 9);
	}
	put(fd, "\x05\x00\x00", 3);
	close(fd);
	bp_close(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bundles_cross_a_tcpclv4_link_both_ways, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bundles_wait_while_the_next_hop_is_down, setup,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_peers_get_the_rfc_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_clockless_bundle_lives_by_its_age, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bundles_go_through_a_node_between, setup_chain_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(bundles_go_through_a_node_between_over_udp,
						setup_chain_udp, teardown),
		cmocka_unit_test_setup_teardown(bundles_wait_for_the_contact_window,
						setup_chain_contact, teardown),
		cmocka_unit_test_setup_teardown(routes_change_while_bpd_runs, setup_chain_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(status_reports_reach_the_sender, setup_chain_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(hop_limit_and_expiry_give_deleted_reports,
						setup_chain_tcp, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
