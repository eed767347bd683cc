/* SPDX-License-Identifier: MIT */
/*
 * Local delivery benchmark: app -> bpd -> app through libbp, beside a plain
 * AF_UNIX SOCK_SEQPACKET relay measured in the same run. With -n, the
 * network case: app -> bpd ipn:1 -> TCPCLv4 on 127.0.0.1 -> bpd ipn:2 ->
 * app, beside an AF_UNIX -> relay -> TCP -> relay -> AF_UNIX chain of two
 * relay processes (each message framed by its 4-byte length on the TCP
 * connection), and then bping's round trip through both nodes to bpecho
 * beside a plain TCP ping-pong of the same size.
 *
 * Each case streams messages of one size from 1 or 4 sender threads to one
 * receiver thread for about SECONDS, then each sender sends an end marker;
 * the time runs from the first send to the last receive. The baseline is a
 * relay process with an epoll loop that reads each sender's socketpair and
 * writes the receiver's: the least any local relay costs. It runs twice:
 * streaming, and answering each message once forwarded, the sender waiting
 * for that answer ("ack": the shape of bp_sendto). The bpsock side is a
 * bp_sendto per bundle (which returns once bpd stored it) to an endpoint of
 * this node, and a bp_recvfrom per bundle on the other side. The three run
 * in turn for ROUNDS rounds and the best round of each counts, so that a
 * burst of load from elsewhere on a shared machine spoils one round, not
 * the figure.
 *
 * Every message carries its sender and sequence number: the receiver checks
 * the length of each and that none is lost, repeated or reordered per
 * sender (the exit status is 1 if any was). Besides the rates it prints the
 * CPU time and context switches per message of the app and of its peer (the
 * relay, or bpd). A benchmark, never a test.
 *
 * Usage: bench_local [-r ROUNDS] [SECONDS] [CASE...]
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bp/bp.h"

#define MAX_SENDERS 4
#define NODE 1
/* Each case binds fresh services from here up (receiver, then senders). */
#define SERVICE_BASE 1000
#define SOCKBUF (4 << 20)
/* A receiver gives up after this long without a message (a sender failed). */
#define RECV_TIMEOUT_S 10

/* What a payload starts with. */
struct stamp {
	uint32_t sender;
	uint32_t last; /* 1 on the end marker */
	uint64_t seq;
};

/* CPU time and context switches of one process so far. */
struct usage {
	double cpu; /* s, user + system */
	double csw; /* voluntary + involuntary */
};

/* What one side of one case measured in one round. */
struct result {
	uint64_t msgs;	   /* received, end markers included */
	uint64_t bad;	   /* wrong length, or lost/repeated/reordered */
	double secs;	   /* first send to last receive */
	struct usage app;  /* this process (senders and receiver) */
	struct usage peer; /* the relay's or bpd's */
	const char *fail;  /* why the case could not run, or NULL */
};

/* One case in one round, shared by its threads. */
struct run {
	size_t size;
	int nsenders;
	double secs;
	pthread_barrier_t start;
	double t0, t1;
	/* relay: the sockets; bpsock: the BP sockets */
	int tx[MAX_SENDERS];
	int rx;
	uint32_t service; /* bpsock: the receiver's service number */
	bool ack;	  /* relay: answers each message; the sender waits for that */
	unsigned batch;	  /* bpsock: bundles per bp_sendmmsg (1: bp_sendto) */
	struct result res;
};

struct sender_arg {
	struct run *run;
	uint32_t id;
};

static pid_t bpd_pid = -1;
static char tmp_dir[64];
/* -n: two nodes linked by TCPCLv4; the receiver binds on the second. */
static bool net;
static pid_t bpd2_pid = -1;
static char sock_a[96], sock_b[96];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static struct usage usage_of_rusage(const struct rusage *ru)
{
	return (struct usage){ .cpu = tv_secs(ru->ru_utime) + tv_secs(ru->ru_stime),
			       .csw = (double)ru->ru_nvcsw + (double)ru->ru_nivcsw };
}

static struct usage usage_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return usage_of_rusage(&ru);
}

/* In /proc/PID/stat after "(comm) ": state, then fields 4 to 13. */
#define STAT_SKIP_TO_UTIME "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "

/* Another process's usage so far, from /proc/PID/stat and /proc/PID/status. */
static struct usage usage_of(pid_t pid)
{
	struct usage u = { 0 };
	char path[64], line[256], *p;
	unsigned long utime, stime, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	/* Fields 14 and 15, counted after the command name (which may hold spaces). */
	p = f && fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	if (p && sscanf(p + 2, STAT_SKIP_TO_UTIME "%lu %lu", &utime, &stime) == 2)
		u.cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lu", &n) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %lu", &n) == 1)
			u.csw += (double)n;
	if (f)
		fclose(f);
	return u;
}

static struct usage usage_since(struct usage now_u, struct usage then)
{
	return (struct usage){ .cpu = now_u.cpu - then.cpu, .csw = now_u.csw - then.csw };
}

static void stamp_put(uint8_t *p, uint32_t sender, uint64_t seq, bool last)
{
	struct stamp s = { .sender = sender, .last = last, .seq = seq };

	memcpy(p, &s, sizeof(s)); /* read back by this same process: host order is fine */
}

/* The receiver's bookkeeping for one case. */
struct checker {
	uint64_t next[MAX_SENDERS];
	int ended;
};

/* Check one received message; returns true once every sender's end marker came. */
static bool check(struct run *r, struct checker *c, const uint8_t *p, ssize_t n)
{
	struct stamp s;

	r->res.msgs++;
	if (n != (ssize_t)r->size) {
		r->res.bad++;
		return false;
	}
	memcpy(&s, p, sizeof(s));
	if (s.sender >= (uint32_t)r->nsenders || s.seq != c->next[s.sender])
		r->res.bad++;
	if (s.sender < (uint32_t)r->nsenders)
		c->next[s.sender] = s.seq + 1;
	if (s.last)
		c->ended++;
	return c->ended == r->nsenders;
}

static void set_rcvtimeo(int fd)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int set_sockbuf(int fd)
{
	int size = SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* The baseline: a relay process. */

static int send_all(int fd, const uint8_t *p, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Forward every message from the inputs to out until every input closed.
 * Each readiness drains a batch, so that no sender starves the others.
 * With ack, each message is answered with one byte once forwarded.
 */
/* A message on a TCP stream: its length (4 bytes, big-endian), then it. */
static int send_frame(int fd, const uint8_t *p, size_t len)
{
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			   (uint8_t)len };
	struct iovec iov[2] = { { hdr, 4 }, { (void *)p, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	while (mh.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* The far relay: frames from the TCP connection to out as messages, until it closes. */
static int relay_unframe(int tcp, int out, size_t max)
{
	size_t cap = max + 4 + (1 << 20), len = 0, off = 0;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		while (len - off >= 4) {
			size_t m = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
				   (size_t)buf[off + 2] << 8 | buf[off + 3];

			if (m > max)
				return -EPROTO;
			if (len - off < 4 + m)
				break;
			if (send_all(out, buf + off + 4, m) < 0)
				return -EPIPE;
			off += 4 + m;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
		off = 0;
		n = recv(tcp, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	free(buf);
	return 0;
}

static int relay_loop(const int *in, int nin, int out, uint8_t *buf, size_t cap, bool ack,
		      bool framed)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), open = nin;

	if (ep < 0)
		return -errno;
	for (int i = 0; i < nin; i++) {
		ev.data.fd = in[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, in[i], &ev) < 0)
			return -errno;
	}
	while (open > 0) {
		struct epoll_event evs[MAX_SENDERS];
		int n = epoll_wait(ep, evs, MAX_SENDERS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			for (int k = 0; k < 64; k++) {
				ssize_t m = recv(fd, buf, cap, MSG_DONTWAIT);

				if (m < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (m <= 0) { /* closed, or broken: either way done */
					(void)epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
					open--;
					break;
				}
				if ((framed ? send_frame(out, buf, (size_t)m) :
					      send_all(out, buf, (size_t)m)) < 0)
					return -EPIPE;
				if (ack && send_all(fd, buf, 1) < 0)
					return -EPIPE;
			}
		}
	}
	close(ep);
	return 0;
}

/* One message to the relay; with ack, wait for its answer. */
static int relay_send(const struct run *r, int fd, uint8_t *buf)
{
	uint8_t byte;
	int e = send_all(fd, buf, r->size);

	if (e < 0 || !r->ack)
		return e;
	while (recv(fd, &byte, 1, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static void *relay_sender(void *p)
{
	struct sender_arg *a = p;
	struct run *r = a->run;
	uint8_t *buf = calloc(1, r->size);
	double end;
	uint64_t seq = 0;

	pthread_barrier_wait(&r->start);
	end = now() + r->secs;
	do
		stamp_put(buf, a->id, seq++, false);
	while (relay_send(r, r->tx[a->id], buf) == 0 && now() < end);
	stamp_put(buf, a->id, seq, true);
	if (relay_send(r, r->tx[a->id], buf) < 0 && !r->res.fail)
		r->res.fail = "relay: send failed (1 MiB needs net.core.wmem_max >= 2 MiB)";
	close(r->tx[a->id]); /* the relay ends when every sender closed */
	free(buf);
	return NULL;
}

static void *relay_receiver(void *p)
{
	struct run *r = p;
	uint8_t *buf = malloc(r->size + 1);
	struct checker c = { 0 };

	set_rcvtimeo(r->rx);
	pthread_barrier_wait(&r->start);
	for (;;) {
		ssize_t n = recv(r->rx, buf, r->size + 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->res.fail = "relay: the receiver missed end markers";
			break;
		}
		if (check(r, &c, buf, n))
			break;
	}
	r->t1 = now();
	free(buf);
	return NULL;
}

/* A port on 127.0.0.1 the kernel picked, free again for bpd to take; or -errno. */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -EADDRNOTAVAIL;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A connected TCP pair on 127.0.0.1: [0] dials, [1] was accepted. */
static int tcp_pair(int sv[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	(void)setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return sv[1] < 0 ? -1 : 0;
}

/* -n: the far relay process, TCP in, the receiver's socket out. */
static pid_t relay2_pid = -1;

/* Fork the relay between nsenders socketpairs and the receiver's. */
static pid_t relay_start(struct run *r)
{
	int in[MAX_SENDERS], out, sv[2], tcp[2];
	pid_t pid;

	for (int i = 0; i < r->nsenders; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		(void)set_sockbuf(sv[0]);
		r->tx[i] = sv[0];
		in[i] = sv[1];
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	(void)set_sockbuf(sv[0]);
	out = sv[0];
	r->rx = sv[1];
	if (net) { /* senders -> relay -> TCP -> relay2 -> receiver */
		if (tcp_pair(tcp) < 0)
			return -1;
		relay2_pid = fork();
		if (relay2_pid == 0) {
			for (int i = 0; i < r->nsenders; i++)
				close(r->tx[i]), close(in[i]);
			close(r->rx);
			close(tcp[0]);
			_exit(relay_unframe(tcp[1], out, r->size + 1) == 0 ? 0 : 1);
		}
		close(tcp[1]);
		close(out);
		out = tcp[0];
	}
	pid = fork();
	if (pid == 0) {
		uint8_t *buf = malloc(r->size + 1);
		int e;

		for (int i = 0; i < r->nsenders; i++)
			close(r->tx[i]);
		close(r->rx);
		e = buf ? relay_loop(in, r->nsenders, out, buf, r->size + 1, r->ack, net) : -ENOMEM;
		_exit(e == 0 ? 0 : 1);
	}
	for (int i = 0; i < r->nsenders; i++)
		close(in[i]);
	close(out);
	return pid;
}

static void run_threads(struct run *r, void *(*sender)(void *), void *(*receiver)(void *))
{
	struct sender_arg args[MAX_SENDERS];
	pthread_t tid[MAX_SENDERS], rx;

	pthread_barrier_init(&r->start, NULL, (unsigned)r->nsenders + 2);
	pthread_create(&rx, NULL, receiver, r);
	for (int i = 0; i < r->nsenders; i++) {
		args[i] = (struct sender_arg){ .run = r, .id = (uint32_t)i };
		pthread_create(&tid[i], NULL, sender, &args[i]);
	}
	pthread_barrier_wait(&r->start);
	r->t0 = now();
	for (int i = 0; i < r->nsenders; i++)
		pthread_join(tid[i], NULL);
	pthread_join(rx, NULL);
	pthread_barrier_destroy(&r->start);
	r->res.secs = r->t1 - r->t0;
}

static void measure_relay(struct run *r)
{
	struct usage app0 = usage_self();
	struct rusage ru;
	int status;
	pid_t pid = relay_start(r);

	if (pid < 0) {
		r->res.fail = "relay: socketpair or fork failed";
		return;
	}
	run_threads(r, relay_sender, relay_receiver);
	close(r->rx);
	r->res.app = usage_since(usage_self(), app0);
	if (wait4(pid, &status, 0, &ru) == pid)
		r->res.peer = usage_of_rusage(&ru);
	if (relay2_pid > 0 && wait4(relay2_pid, &status, 0, &ru) == relay2_pid) {
		struct usage u = usage_of_rusage(&ru);

		r->res.peer.cpu += u.cpu;
		r->res.peer.csw += u.csw;
	}
	relay2_pid = -1;
}

/* bpsock: the same streams through bpd. */

/* -n: senders on ipn:1, the receiver on ipn:2 (each through its own bpd). */
static uint32_t rx_node(void)
{
	return net ? 2 : NODE;
}

static struct sockaddr_bp ipn_of(uint32_t node, uint32_t service)
{
	struct sockaddr_bp a;

	memset(&a, 0, sizeof(a));
	a.bp_family = AF_BP;
	a.bp_scheme = BP_SCHEME_IPN;
	a.bp_addr.ipn.node_id = node;
	a.bp_addr.ipn.service_id = service;
	return a;
}

/* The receiver's endpoint: where senders send. */
static struct sockaddr_bp ipn(uint32_t service)
{
	return ipn_of(rx_node(), service);
}

/* A BP socket bound to ipn:node.service, through that node's bpd. */
static int bound_socket_on(uint32_t node, uint32_t service)
{
	struct sockaddr_bp a = ipn_of(node, service);
	int fd;

	setenv("BPD_SOCKET", net && node == 2 ? sock_b : sock_a, 1);
	fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	if (fd >= 0 && bp_bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		bp_close(fd);
		return -1;
	}
	return fd;
}

/* Batch size of the bp_sendmmsg cases: bpd's pipelining window. */
#define BATCH 64

/* bp_sendmmsg in batches; the end marker goes alone. */
static void bp_send_batches(struct sender_arg *a, int fd)
{
	struct run *r = a->run;
	struct sockaddr_bp dest = ipn(r->service);
	struct mmsghdr vec[BATCH];
	struct iovec iov[BATCH];
	uint8_t *buf = calloc(BATCH, r->size);
	uint64_t seq = 0;
	double end;
	int n = 0;

	pthread_barrier_wait(&r->start);
	end = now() + r->secs;
	do {
		for (unsigned i = 0; i < r->batch; i++) {
			stamp_put(buf + i * r->size, a->id, seq + i, false);
			iov[i] =
				(struct iovec){ .iov_base = buf + i * r->size, .iov_len = r->size };
			vec[i].msg_hdr = (struct msghdr){ .msg_name = &dest,
							  .msg_namelen = sizeof(dest),
							  .msg_iov = &iov[i],
							  .msg_iovlen = 1 };
		}
		n = bp_sendmmsg(fd, vec, r->batch, 0);
		seq += n > 0 ? (uint64_t)n : 0; /* a short batch: the rest goes again */
	} while (n > 0 && now() < end);
	stamp_put(buf, a->id, seq, true);
	if (n <= 0 || bp_sendto(fd, buf, r->size, 0, (struct sockaddr *)&dest, sizeof(dest)) !=
			      (ssize_t)r->size) {
		fprintf(stderr, "bench_local: bp_sendmmsg: %s\n", strerror(errno));
		r->res.fail = "bpsock: send failed";
	}
	free(buf);
}

static void *bp_sender(void *p)
{
	struct sender_arg *a = p;
	struct run *r = a->run;
	if (r->batch > 1) {
		bp_send_batches(a, r->tx[a->id]);
		return NULL;
	}
	struct sockaddr_bp dest = ipn(r->service);
	uint8_t *buf = calloc(1, r->size);
	int fd = r->tx[a->id];
	uint64_t seq = 0;
	double end;
	ssize_t n;

	pthread_barrier_wait(&r->start);
	end = now() + r->secs;
	do {
		stamp_put(buf, a->id, seq++, false);
		n = bp_sendto(fd, buf, r->size, 0, (struct sockaddr *)&dest, sizeof(dest));
	} while (n == (ssize_t)r->size && now() < end);
	stamp_put(buf, a->id, seq, true);
	if (n == (ssize_t)r->size)
		n = bp_sendto(fd, buf, r->size, 0, (struct sockaddr *)&dest, sizeof(dest));
	if (n != (ssize_t)r->size) {
		fprintf(stderr, "bench_local: bp_sendto: %s\n", strerror(errno));
		r->res.fail = "bpsock: send failed";
	}
	free(buf);
	return NULL;
}

static void *bp_receiver(void *p)
{
	struct run *r = p;
	uint8_t *buf = malloc(r->size);
	struct checker c = { 0 };

	set_rcvtimeo(r->rx);
	pthread_barrier_wait(&r->start);
	for (;;) {
		ssize_t n = bp_recvfrom(r->rx, buf, r->size, 0, NULL, NULL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "bench_local: bp_recvfrom: %s\n", strerror(errno));
			r->res.fail = "bpsock: the receiver missed end markers";
			break;
		}
		if (check(r, &c, buf, n))
			break;
	}
	r->t1 = now();
	free(buf);
	return NULL;
}

/* The bpd processes' usage so far: both nodes with -n. */
static struct usage bpd_usage(void)
{
	struct usage u = usage_of(bpd_pid);

	if (bpd2_pid > 0) {
		struct usage v = usage_of(bpd2_pid);

		u.cpu += v.cpu;
		u.csw += v.csw;
	}
	return u;
}

static void measure_bpsock(struct run *r)
{
	struct usage app0, peer0;
	int ok = 0;

	r->rx = bound_socket_on(rx_node(), r->service);
	for (int i = 0; i < r->nsenders; i++) {
		r->tx[i] = bound_socket_on(NODE, r->service + 1 + (uint32_t)i);
		ok += r->tx[i] >= 0;
	}
	if (r->rx < 0 || ok < r->nsenders) {
		r->res.fail = "bpsock: bp_socket or bp_bind failed";
	} else {
		app0 = usage_self();
		peer0 = bpd_usage();
		run_threads(r, bp_sender, bp_receiver);
		r->res.app = usage_since(usage_self(), app0);
		r->res.peer = usage_since(bpd_usage(), peer0);
	}
	for (int i = 0; i < r->nsenders; i++)
		if (r->tx[i] >= 0)
			bp_close(r->tx[i]);
	if (r->rx >= 0)
		bp_close(r->rx);
}

/* bpd, started for this run in a temporary directory. */

/* bpd's store: "memory" (the client path alone, the default) or a sync policy of the log. */
static const char *store_mode = "memory";

/* Start bpd ipn:node in tmp_dir with extra config lines; *ret_pid, its socket path in sock. */
static int node_start(unsigned node, const char *extra, char *sock, size_t cap, pid_t *ret_pid)
{
	char state[96], conf[96], arg[16];
	pid_t pid;
	FILE *f;

	snprintf(sock, cap, "%s/ipn%u.sock", tmp_dir, node);
	snprintf(state, sizeof(state), "%s/ipn%u", tmp_dir, node);
	snprintf(conf, sizeof(conf), "%s/ipn%u.conf", tmp_dir, node);
	snprintf(arg, sizeof(arg), "ipn:%u", node);
	f = fopen(conf, "w");
	if (!f)
		return -errno;
	if (strcmp(store_mode, "memory") == 0)
		fprintf(f, "store memory\n%s", extra);
	else
		fprintf(f, "store sync %s\n%s", store_mode, extra);
	if (fclose(f) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl(BPD_PATH, "bpd", "-c", conf, "--state", state, "--socket", sock, "--node",
		      arg, "-q", (char *)NULL);
		_exit(127);
	}
	*ret_pid = pid;
	/* Ready when the socket accepts; give up after 10 s or if bpd exits. */
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), ok;

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			*ret_pid = -1;
			return -ECHILD;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* One bundle from ipn:1 to ipn:2 and back out: the TCPCLv4 session is up. */
static int net_warm_up(void)
{
	struct sockaddr_bp dest = ipn_of(2, 99);
	int rx = bound_socket_on(2, 99), tx = bound_socket_on(NODE, 98), ok = 0;
	char b = 'x';

	if (rx >= 0 && tx >= 0) {
		set_rcvtimeo(rx);
		ok = bp_sendto(tx, &b, 1, 0, (struct sockaddr *)&dest, sizeof(dest)) == 1 &&
		     bp_recvfrom(rx, &b, 1, 0, NULL, NULL) == 1;
	}
	if (rx >= 0)
		bp_close(rx);
	if (tx >= 0)
		bp_close(tx);
	return ok ? 0 : -ETIMEDOUT;
}

static int bpd_start(void)
{
	char extra[160];
	int r, port;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/bench_local-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -errno;
	if (!net) {
		r = node_start(NODE, "", sock_a, sizeof(sock_a), &bpd_pid);
		setenv("BPD_SOCKET", sock_a, 1); /* for libbp in this process */
		return r;
	}
	/* ipn:2 listens; ipn:1 keeps a TCPCLv4 session to it. */
	port = free_port();
	if (port < 0)
		return port;
	snprintf(extra, sizeof(extra), "listen tcpcl:127.0.0.1:%d\n", port);
	r = node_start(2, extra, sock_b, sizeof(sock_b), &bpd2_pid);
	snprintf(extra, sizeof(extra), "neighbor add ipn:2 tcpcl:127.0.0.1:%d\n", port);
	if (r == 0)
		r = node_start(NODE, extra, sock_a, sizeof(sock_a), &bpd_pid);
	return r == 0 ? net_warm_up() : r;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void bpd_stop(void)
{
	if (bpd_pid > 0) {
		kill(bpd_pid, SIGTERM);
		waitpid(bpd_pid, NULL, 0);
	}
	if (bpd2_pid > 0) {
		kill(bpd2_pid, SIGTERM);
		waitpid(bpd2_pid, NULL, 0);
	}
	if (tmp_dir[0])
		(void)nftw(tmp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The table. */

/* What a case compares. */
enum side {
	SIDE_RELAY, /* streaming through the relay */
	SIDE_ACK,   /* through the relay, each message acknowledged (as bp_sendto is) */
	SIDE_BP,    /* through bpd */
	SIDE_COUNT
};

/* One case: every side, the best of the rounds for each. */
struct outcome {
	const char *name;
	struct run best[SIDE_COUNT];
	uint64_t bad[SIDE_COUNT], msgs[SIDE_COUNT];
	bool failed;
};

static double rate_of(const struct run *r)
{
	return r->res.fail || r->res.secs <= 0 ? 0 : (double)r->res.msgs / r->res.secs;
}

static void figure(char *out, size_t cap, const struct run *r, const char *unit)
{
	double rate = rate_of(r);

	if (rate <= 0)
		snprintf(out, cap, "failed");
	else if (r->size >= (1 << 20))
		snprintf(out, cap, "%.1f MiB/s", rate * (double)r->size / (1 << 20));
	else
		snprintf(out, cap, "%.0f %s/s", rate, unit);
}

static void print_outcome(const struct outcome *o)
{
	char f[SIDE_COUNT][32];
	double rate[SIDE_COUNT];

	for (int i = 0; i < SIDE_COUNT; i++) {
		rate[i] = rate_of(&o->best[i]);
		figure(f[i], sizeof(f[i]), &o->best[i], i == SIDE_BP ? "bundles" : "msg");
	}
	printf("%-16s %14s %14s %17s %7.1f%% %7.1f%%   ", o->name, f[SIDE_RELAY], f[SIDE_ACK],
	       f[SIDE_BP], rate[SIDE_RELAY] > 0 ? 100 * rate[SIDE_BP] / rate[SIDE_RELAY] : 0.0,
	       rate[SIDE_ACK] > 0 ? 100 * rate[SIDE_BP] / rate[SIDE_ACK] : 0.0);
	for (int i = 0; i < SIDE_COUNT; i++)
		printf(" %llu/%llu", (unsigned long long)o->bad[i], (unsigned long long)o->msgs[i]);
	printf("\n");
}

/* Per message: CPU and context switches of both processes, in the best round. */
static void print_costs(const struct outcome *o)
{
	static const char *const side[SIDE_COUNT] = { "relay", "ack", "bpsock" };

	for (int i = 0; i < SIDE_COUNT; i++) {
		const struct result *r = &o->best[i].res;
		double n = (double)(r->msgs ? r->msgs : 1);

		printf("%-16s %-7s %8.2f %8.2f %10.2f %8.2f\n", i ? "" : o->name, side[i],
		       r->app.cpu * 1e6 / n, r->peer.cpu * 1e6 / n, r->app.csw / n,
		       r->peer.csw / n);
	}
}

/* Run one case for some rounds, every side in turn; keep the best round of each. */
static void run_case(struct outcome *o, size_t size, int nsenders, unsigned batch, double secs,
		     int rounds, uint32_t service)
{
	for (int k = 0; k < rounds; k++) {
		struct run r[SIDE_COUNT];

		for (int i = 0; i < SIDE_COUNT; i++)
			r[i] = (struct run){ .size = size,
					     .nsenders = nsenders,
					     .secs = secs,
					     .ack = i == SIDE_ACK,
					     .batch = batch,
					     .service = service + 10 * (uint32_t)k };
		measure_relay(&r[SIDE_RELAY]);
		measure_relay(&r[SIDE_ACK]);
		measure_bpsock(&r[SIDE_BP]);
		for (int i = 0; i < SIDE_COUNT; i++) {
			o->bad[i] += r[i].res.bad;
			o->msgs[i] += r[i].res.msgs;
			o->failed |= r[i].res.fail != NULL;
			if (r[i].res.fail)
				fprintf(stderr, "bench_local: %s: %s\n", o->name, r[i].res.fail);
			if (k == 0 || rate_of(&r[i]) > rate_of(&o->best[i]))
				o->best[i] = r[i];
		}
	}
}

static void usage_exit(void)
{
	fprintf(stderr,
		"usage: bench_local [-n] [-r ROUNDS] [-s STORE] [SECONDS] [CASE...]\n"
		"  -n: through two nodes linked by TCPCLv4, beside a relay chain over TCP,\n"
		"  then round trips (bping to bpecho beside a TCP ping-pong);\n"
		"  SECONDS per measurement (default 1), ROUNDS per case (default 3);\n"
		"  STORE: memory (default: the client path alone), always, none\n"
		"  (the log with that sync policy; bench_store measures the store);\n"
		"  CASEs: 64x1 64x4 64x1b 64x4b 1Mx1 1Mx4 (payload size x senders;\n"
		"  b: bp_sendmmsg in batches of 64), default all\n");
	exit(2);
}

/* Round trips (-n) */

#define RTT_COUNT 1000
#define RTT_SIZE 64

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* The far side of the TCP ping-pong: every RTT_SIZE bytes back. */
static void *echo_thread(void *p)
{
	int fd = *(int *)p;
	uint8_t buf[RTT_SIZE];

	for (;;) {
		size_t got = 0;

		while (got < sizeof(buf)) {
			ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

			if (n <= 0)
				return NULL;
			got += (size_t)n;
		}
		if (send_all(fd, buf, sizeof(buf)) < 0)
			return NULL;
	}
}

/* Median and p99 (ms) of RTT_COUNT ping-pongs of RTT_SIZE bytes over loopback TCP. */
static int tcp_rtt(double *p50, double *p99)
{
	static double t[RTT_COUNT];
	uint8_t buf[RTT_SIZE] = { 0 };
	pthread_t echo;
	int sv[2], one = 1;

	if (tcp_pair(sv) < 0)
		return -1;
	(void)setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_create(&echo, NULL, echo_thread, &sv[1]);
	for (int i = 0; i < RTT_COUNT; i++) {
		double t0 = now();
		size_t got = 0;

		if (send_all(sv[0], buf, sizeof(buf)) < 0)
			break;
		while (got < sizeof(buf)) {
			ssize_t n = recv(sv[0], buf + got, sizeof(buf) - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		t[i] = (now() - t0) * 1e3;
	}
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(echo, NULL);
	close(sv[0]);
	close(sv[1]);
	qsort(t, RTT_COUNT, sizeof(t[0]), cmp_double);
	*p50 = t[RTT_COUNT / 2];
	*p99 = t[(RTT_COUNT * 99 + 99) / 100 - 1];
	return 0;
}

/* bping from ipn:1 to bpecho on ipn:2.7: its "rtt min/median/p99/max" line, or NULL. */
static char *bping_rtt(char *line, size_t cap)
{
	char cmd[512];
	pid_t echo = fork();
	FILE *p;
	char *found = NULL;

	if (echo == 0) {
		setenv("BPD_SOCKET", sock_b, 1);
		execl(BPECHO_PATH, "bpecho", "ipn:2.7", (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "BPD_SOCKET=%s %s -q -c %d -i 0.002 -s %d ipn:2.7", sock_a,
		 BPING_PATH, RTT_COUNT, RTT_SIZE);
	p = popen(cmd, "r");
	while (p && fgets(line, (int)cap, p))
		if (strncmp(line, "rtt ", 4) == 0)
			found = line;
	if (p)
		pclose(p);
	kill(echo, SIGTERM);
	waitpid(echo, NULL, 0);
	return found;
}

static void measure_rtt(void)
{
	char line[256], *rtt;
	double p50 = 0, p99 = 0;

	printf("\nround trips, %d B, %d of them (bping: one every 2 ms):\n", RTT_SIZE,
	       RTT_COUNT);
	if (tcp_rtt(&p50, &p99) == 0)
		printf("  TCP ping-pong on 127.0.0.1      median %.3f ms, p99 %.3f ms\n", p50, p99);
	rtt = bping_rtt(line, sizeof(line));
	printf("  bping ipn:1 -> ipn:2 bpecho     %s", rtt ? rtt : "failed\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		const char *label;
		size_t size;
		int nsenders;
		unsigned batch;
	} cases[] = {
		{ "64x1", "64 B, 1 sender", 64, 1, 1 },
		{ "64x4", "64 B, 4 senders", 64, 4, 1 },
		{ "64x1b", "64 B, 1, mmsg", 64, 1, BATCH },
		{ "64x4b", "64 B, 4, mmsg", 64, 4, BATCH },
		{ "1Mx1", "1 MiB, 1 sender", 1 << 20, 1, 1 },
		{ "1Mx4", "1 MiB, 4 senders", 1 << 20, 4, 1 },
	};
	struct outcome out[sizeof(cases) / sizeof(cases[0])];
	double secs = 1.0;
	int rounds = 3, nout = 0, failed = 0, c, r;

	while ((c = getopt(argc, argv, "nr:s:h")) != -1) {
		if (c == 'n')
			net = true;
		else if (c == 's' && (strcmp(optarg, "memory") == 0 ||
				      strcmp(optarg, "always") == 0 || strcmp(optarg, "none") == 0))
			store_mode = optarg;
		else if (c != 'r' || (rounds = atoi(optarg)) < 1)
			usage_exit();
	}
	if (optind < argc && strspn(argv[optind], "0123456789.") == strlen(argv[optind]))
		secs = atof(argv[optind++]);
	if (secs <= 0)
		usage_exit();
	signal(SIGPIPE, SIG_IGN);
	r = bpd_start();
	if (r < 0) {
		fprintf(stderr, "bench_local: cannot start %s: %s\n", BPD_PATH, strerror(-r));
		bpd_stop();
		return 1;
	}
	if (net)
		printf("bench_local -n: app -> bpd ipn:1 -> TCPCLv4 -> bpd ipn:2 -> app (bpsock) "
		       "beside\napp -> SEQPACKET -> relay -> TCP -> relay -> SEQPACKET -> app, "
		       "streaming (relay) and\nwith each message acknowledged by the first relay "
		       "(ack, as bp_sendto is by ipn:1);\n");
	else
		printf("bench_local: app -> bpd -> app (bpsock) beside app -> SEQPACKET relay "
		       "process -> app,\nstreaming (relay) and with each message acknowledged "
		       "(ack, as bp_sendto is);\n");
	printf("%.1f s per measurement, best of %d round(s), the sides in turn; store: %s\n\n",
	       secs, rounds, store_mode);
	printf("%-16s %14s %14s %17s %8s %8s   %s\n", "case", "relay", "ack", "bpsock", "/relay",
	       "/ack", "bad/received: relay ack bpsock");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool want = optind >= argc;

		for (int k = optind; k < argc; k++)
			want |= strcmp(argv[k], cases[i].name) == 0;
		if (!want)
			continue;
		out[nout] = (struct outcome){ .name = cases[i].label };
		run_case(&out[nout], cases[i].size, cases[i].nsenders, cases[i].batch, secs, rounds,
			 SERVICE_BASE + 1000 * (uint32_t)i);
		print_outcome(&out[nout]);
		failed |= out[nout].failed;
		for (int k = 0; k < SIDE_COUNT; k++)
			failed |= out[nout].bad[k] != 0;
		nout++;
	}
	printf("\nper message, best round  CPU us: app     peer   switches: app     peer\n");
	for (int i = 0; i < nout; i++)
		print_costs(&out[i]);
	if (net)
		measure_rtt();
	bpd_stop();
	return failed ? 1 : 0;
}
