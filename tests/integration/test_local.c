/* SPDX-License-Identifier: MIT */
/*
 * Local delivery through a real bpd: two BP sockets on one node exchange
 * bundles through the daemon, started by this test in a temporary directory
 * (its socket path and state directory there, nothing shared).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp/bp.h"
#include "bp/proto.h"

static char dir[64];
static char sock_path[128];
static pid_t bpd_pid;

/* A group nobody is in: the config makes it the admin group. */
#define ADMIN_GID 4242
#define NOBODY 65534

/*
 * The node's config: service 7 is granted to nobody, 300-309 reserved for
 * root, and group ADMIN_GID runs admin commands.
 */
static const char config[] = "node ipn:1\n"
			     "access bind ipn:1.7 user 65534\n"
			     "access bind ipn:1.300-309 user 0   # root's own\n"
			     "access admin group 4242\n";

/* Start a bpd with config text on socket `sock` (state in dir/name). */
static pid_t spawn_bpd(const char *name, const char *conf, const char *sock)
{
	char state_dir[160], conf_path[160];
	FILE *f;
	pid_t pid;

	snprintf(state_dir, sizeof(state_dir), "%s/%s", dir, name);
	snprintf(conf_path, sizeof(conf_path), "%s/%s.conf", dir, name);
	f = fopen(conf_path, "w");
	if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		execl(BPD_PATH, "bpd", "-c", conf_path, "--socket", sock, "--state", state_dir,
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	/* Ready when the socket accepts (bounded wait: 10 s). */
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok;

		strcpy(sun.sun_path, sock);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* SIGTERM; true when it stopped cleanly, with status 0. */
static bool stop_pid(pid_t pid)
{
	int status = 0;

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A second node for one test; the teardown stops it even when the test fails. */
static pid_t extra_pid = -1;

static void use_extra_bpd(const char *name, const char *conf)
{
	static char sock[160];

	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	extra_pid = spawn_bpd(name, conf, sock);
	assert_true(extra_pid > 0);
	setenv("BPD_SOCKET", sock, 1);
}

static int stop_extra_bpd(void **state)
{
	bool clean = extra_pid <= 0 || stop_pid(extra_pid);

	extra_pid = -1;
	setenv("BPD_SOCKET", sock_path, 1);
	return clean ? 0 : -1;
}

static int start_bpd(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bpsock-test-XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0) /* other users' tests connect too */
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/bpd.sock", dir);
	setenv("BPD_SOCKET", sock_path, 1);
	bpd_pid = spawn_bpd("state", config, sock_path);
	return bpd_pid > 0 ? 0 : -1;
}

static int stop_bpd(void **state)
{
	bool clean = stop_pid(bpd_pid);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	return clean ? 0 : -1;
}

static struct sockaddr_bp ipn(uint32_t node, uint32_t service)
{
	struct sockaddr_bp a;

	memset(&a, 0, sizeof(a));
	a.bp_family = AF_BP;
	a.bp_scheme = BP_SCHEME_IPN;
	a.bp_addr.ipn.node_id = node;
	a.bp_addr.ipn.service_id = service;
	return a;
}

static int bound_socket(uint32_t service)
{
	struct sockaddr_bp a = ipn(1, service);
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 12));
}

/* Two apps exchange bundles of every size class, byte-exact. */
static void bundles_of_every_size_arrive_byte_exact(void **state)
{
	static const size_t sizes[] = { 0, 1, 64 << 10, 1 << 20, 100 << 20 };
	int rx = bound_socket(100), tx = bound_socket(101);
	struct sockaddr_bp dest = ipn(1, 100), src;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint8_t *out = malloc(n + 1), *in = malloc(n + 1);
		socklen_t slen = sizeof(src);

		fill(out, n, (unsigned)i);
		assert_int_equal(bp_sendto(tx, out, n, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 (ssize_t)n);
		assert_int_equal(bp_recvfrom(rx, in, n + 1, 0, (struct sockaddr *)&src, &slen),
				 (ssize_t)n);
		assert_memory_equal(in, out, n);
		assert_int_equal(src.bp_addr.ipn.node_id, 1);
		assert_int_equal(src.bp_addr.ipn.service_id, 101);
		free(in);
		free(out);
	}
	bp_close(rx);
	bp_close(tx);
}

/* bp-socket's documented receive: learn the size with MSG_PEEK | MSG_TRUNC. */
static void peek_trunc_tells_the_size_before_the_real_receive(void **state)
{
	int rx = bound_socket(102), tx = bound_socket(103);
	struct sockaddr_bp dest = ipn(1, 102);
	char small[4], *buf;
	ssize_t need;

	assert_int_equal(bp_sendto(tx, "Hello, DTN!", 12, MSG_ACK_REQUESTED,
				   (struct sockaddr *)&dest, sizeof(dest)),
			 12);
	need = bp_recvfrom(rx, small, sizeof(small), MSG_PEEK | MSG_TRUNC, NULL, NULL);
	assert_int_equal(need, 12);
	/* Too small without MSG_TRUNC: EMSGSIZE, and the bundle is not lost. */
	assert_int_equal(bp_recvfrom(rx, small, sizeof(small), 0, NULL, NULL), -1);
	assert_int_equal(errno, EMSGSIZE);
	buf = malloc((size_t)need);
	assert_int_equal(bp_recvfrom(rx, buf, (size_t)need, 0, NULL, NULL), 12);
	assert_string_equal(buf, "Hello, DTN!");
	free(buf);
	bp_close(rx);
	bp_close(tx);
}

static void rcvtimeo_nonblock_and_poll_behave_like_a_socket(void **state)
{
	int rx = bound_socket(104), tx = bound_socket(105);
	struct sockaddr_bp dest = ipn(1, 104);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	struct pollfd pfd = { .fd = rx, .events = POLLIN };
	char buf[8];

	assert_int_equal(bp_setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(bp_sendto(tx, "x", 1, 0, (struct sockaddr *)&dest, sizeof(dest)), 1);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLIN);
	assert_int_equal(fcntl(rx, F_SETFL, fcntl(rx, F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 1);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	bp_close(rx);
	bp_close(tx);
}

/* Ack-on-consume: what a dead receiver never consumed comes back on rebind. */
static void unconsumed_bundles_are_redelivered_after_the_receiver_dies(void **state)
{
	struct sockaddr_bp dest = ipn(1, 106);
	int tx = bound_socket(107), status, rx;
	char buf[16];
	pid_t child;

	child = fork();
	if (child == 0) {
		int fd = bound_socket(106);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* Let the bundles be delivered to us, then die without consuming. */
		(void)poll(&pfd, 1, 5000);
		raise(SIGKILL);
	}
	usleep(200000); /* the child binds first */
	assert_int_equal(bp_sendto(tx, "one", 4, 0, (struct sockaddr *)&dest, sizeof(dest)), 4);
	assert_int_equal(bp_sendto(tx, "two", 4, 0, (struct sockaddr *)&dest, sizeof(dest)), 4);
	waitpid(child, &status, 0);
	assert_true(WIFSIGNALED(status));
	rx = bound_socket(106);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 4);
	assert_string_equal(buf, "one");
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 4);
	assert_string_equal(buf, "two");
	bp_close(rx);
	bp_close(tx);
}

/*
 * What a receiver consumed right before it closed is not delivered again:
 * bpd reads the CONSUMEDs still queued on the connection before it hands
 * the unconsumed bundles back.
 */
static void consumed_bundles_stay_consumed_after_a_close(void **state)
{
	enum {
		N = 6000, /* more than bpd delivers before the first CONSUMED */
		TAKE = 3000
	};
	struct sockaddr_bp dest = ipn(1, 220);
	int tx = bound_socket(221), rx = bound_socket(220);
	uint32_t v;
	int got = 0;

	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(bp_sendto(tx, &i, sizeof(i), 0, (struct sockaddr *)&dest,
					   sizeof(dest)),
				 sizeof(i));
	for (int i = 0; i < TAKE; i++)
		assert_int_equal(bp_recvfrom(rx, &v, sizeof(v), 0, NULL, NULL), sizeof(v));
	bp_close(rx); /* at once: its CONSUMEDs may still be unread */
	rx = bound_socket(220);
	while (bp_recvfrom(rx, &v, sizeof(v), got < N - TAKE ? 0 : MSG_DONTWAIT, NULL, NULL) ==
	       sizeof(v)) {
		assert_int_equal(v, TAKE + got); /* in order, none again */
		got++;
	}
	assert_int_equal(got, N - TAKE);
	bp_close(rx);
	bp_close(tx);
}

/* Bundles waiting at bind are readable when bp_bind() returns. */
static void waiting_bundles_are_readable_when_bind_returns(void **state)
{
	struct sockaddr_bp dest = ipn(1, 222);
	int tx = bound_socket(223), rx;
	char buf[8];

	for (int i = 0; i < 50; i++) {
		assert_int_equal(bp_sendto(tx, "w", 2, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 2);
		rx = bound_socket(222);
		assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), 2);
		bp_close(rx);
	}
	bp_close(tx);
}

/* A bundle for an endpoint nobody has bound waits for the first bind. */
static void bundle_waits_for_the_first_bind(void **state)
{
	struct sockaddr_bp dest = ipn(1, 108);
	int tx = bound_socket(109), rx;
	char buf[16];

	assert_int_equal(bp_sendto(tx, "early", 6, 0, (struct sockaddr *)&dest, sizeof(dest)), 6);
	rx = bound_socket(108);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 6);
	assert_string_equal(buf, "early");
	bp_close(rx);
	bp_close(tx);
}

static void binding_an_endpoint_twice_fails_with_eaddrinuse(void **state)
{
	struct sockaddr_bp a = ipn(1, 110), other = ipn(2, 1);
	int first = bound_socket(110), second = bp_socket(AF_BP, SOCK_DGRAM, 0);

	assert_int_equal(bp_bind(second, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EADDRINUSE);
	/* Another node's endpoint is not ours to bind. */
	assert_int_equal(bp_bind(second, (struct sockaddr *)&other, sizeof(other)), -1);
	assert_int_equal(errno, EADDRNOTAVAIL);
	bp_close(first);
	bp_close(second);
}

/* Run fn as nobody (with extra group gid unless 0) in a child; its exit status. */
static int as_nobody(gid_t extra, int (*fn)(void))
{
	pid_t child = fork();
	int status;

	if (child == 0) {
		gid_t groups[1] = { extra };

		if (setgroups(extra ? 1 : 0, groups) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(100);
		_exit(fn());
	}
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

/* Which binds nobody may make (the config in `config`): the step that failed. */
static int nobody_binds(void)
{
	static const struct {
		uint32_t service;
		int err; /* 0: allowed */
	} cases[] = {
		{ 5, EACCES },	 /* below 64: root or admins only */
		{ 7, 0 },	 /* ... unless a rule grants it */
		{ 305, EACCES }, /* reserved for root by a rule */
		{ 111, 0 },	 /* open to everyone */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_bp a = ipn(1, cases[i].service);
		int fd = bp_socket(AF_BP, SOCK_DGRAM, 0), r;

		if (fd < 0)
			return 50;
		r = bp_bind(fd, (struct sockaddr *)&a, sizeof(a));
		if (cases[i].err ? r == 0 || errno != cases[i].err : r != 0)
			return (int)i + 1;
		bp_close(fd);
	}
	return 0;
}

/* Low services need root, and rules from the config grant and reserve. */
static void other_users_bind_only_what_the_rules_allow(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(as_nobody(0, nobody_binds), 0);
	/* Root may bind the service root reserved for itself. */
	bp_close(bound_socket(305));
}

/* Run bpctl with args; its exit status, its stdout in out (cap bytes). */
static int bpctl(char *out, size_t cap, const char *args)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", BPCTL_PATH, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

static int nobody_runs_status(void)
{
	char out[4096];
	int r = bpctl(out, sizeof(out), "status");

	if (r == 0)
		return 1;
	return strstr(out, "permission denied") ? 0 : 2;
}

static int admin_group_runs_status(void)
{
	char out[4096];

	return bpctl(out, sizeof(out), "status") == 0 && strstr(out, "ipn:1") ? 0 : 1;
}

/* Admin commands: root and the admin group yes, other users no. */
static void only_admins_run_admin_commands(void **state)
{
	char out[8192];

	assert_int_equal(bpctl(out, sizeof(out), "status"), 0);
	assert_non_null(strstr(out, "node       ipn:1.0"));
	assert_int_equal(bpctl(out, sizeof(out), "store"), 0);
	assert_non_null(strstr(out, "backend    log (durable)"));
	assert_non_null(strstr(out, "sync       always: "));
	assert_int_equal(bpctl(out, sizeof(out), "store --json"), 0);
	assert_non_null(strstr(out, "\"backend\":\"log\""));
	assert_int_equal(bpctl(out, sizeof(out), "status --json"), 0);
	assert_non_null(strstr(out, "\"node\":\"ipn:1.0\""));
	if (geteuid() != 0)
		skip();
	assert_int_equal(as_nobody(0, nobody_runs_status), 0);
	assert_int_equal(as_nobody(ADMIN_GID, admin_group_runs_status), 0);
}

/* bpctl sees a waiting bundle, and deletes it: the first bind gets nothing. */
static void bpctl_lists_and_deletes_a_waiting_bundle(void **state)
{
	struct sockaddr_bp dest = ipn(1, 150);
	int tx = bound_socket(151), rx;
	char out[8192], cmd[64], buf[8];
	unsigned long id;
	const char *p;

	assert_int_equal(bp_sendto(tx, "doomed", 7, 0, (struct sockaddr *)&dest, sizeof(dest)), 7);
	assert_int_equal(bpctl(out, sizeof(out), "endpoints"), 0);
	assert_non_null(strstr(out, "ipn:1.150"));
	assert_int_equal(bpctl(out, sizeof(out), "bundles --dest ipn:1.150 --json"), 0);
	p = strstr(out, "{\"id\":");
	assert_non_null(p);
	id = strtoul(p + 6, NULL, 10);
	assert_non_null(strstr(out, "\"state\":\"queued-local\""));
	snprintf(cmd, sizeof(cmd), "bundles show %lu", id);
	assert_int_equal(bpctl(out, sizeof(out), cmd), 0);
	assert_non_null(strstr(out, "dest       ipn:1.150"));
	snprintf(cmd, sizeof(cmd), "bundles delete %lu", id);
	assert_int_equal(bpctl(out, sizeof(out), cmd), 0);
	assert_int_equal(bpctl(out, sizeof(out), cmd), 1); /* gone */
	assert_non_null(strstr(out, "no bundle"));
	rx = bound_socket(150);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	bp_close(rx);
	bp_close(tx);
}

/* bp_sendmmsg: a pipelined batch arrives whole and in order, small and large mixed. */
static void a_batch_of_sends_arrives_in_order(void **state)
{
	enum {
		N = 300
	};
	static struct mmsghdr vec[N];
	static struct iovec iov[N];
	static uint8_t big[100 << 10];
	struct sockaddr_bp dest = ipn(1, 200);
	int tx = bound_socket(201), rx = bound_socket(200);
	uint32_t seqs[N];
	static uint8_t buf[sizeof(big)];

	for (int i = 0; i < N; i++) {
		seqs[i] = (uint32_t)i;
		/* Every 50th is 100 KiB: over the inline size, it goes alone. */
		iov[i] = (struct iovec){ .iov_base = i % 50 == 7 ? (void *)big : (void *)&seqs[i],
					 .iov_len = i % 50 == 7 ? sizeof(big) : sizeof(seqs[i]) };
		vec[i].msg_hdr = (struct msghdr){ .msg_name = &dest,
						  .msg_namelen = sizeof(dest),
						  .msg_iov = &iov[i],
						  .msg_iovlen = 1 };
	}
	fill(big, sizeof(big), 3);
	assert_int_equal(bp_sendmmsg(tx, vec, N, 0), N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(vec[i].msg_len, iov[i].iov_len);
		assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL),
				 (ssize_t)iov[i].iov_len);
		assert_memory_equal(buf, iov[i].iov_base, iov[i].iov_len);
	}
	bp_close(rx);
	bp_close(tx);
}

/*
 * When the store fills in the middle of a batch, the bundles stored are the
 * first ones and nothing after the failure is: the count bp_sendmmsg
 * returns is exactly what arrives.
 */
static void a_batch_stops_at_its_first_failure(void **state)
{
	enum {
		N = 40
	};
	static struct mmsghdr vec[N];
	static uint8_t payload[N][500];
	struct iovec iov[N];
	struct sockaddr_bp dest = ipn(1, 210);
	char buf[600];
	int tx, rx, n, got = 0;

	use_extra_bpd("small", "node ipn:1\nstore quota 8000 1000\n");
	tx = bound_socket(211);
	for (int i = 0; i < N; i++) {
		memset(payload[i], i, sizeof(payload[i]));
		iov[i] = (struct iovec){ .iov_base = payload[i], .iov_len = sizeof(payload[i]) };
		vec[i].msg_hdr = (struct msghdr){ .msg_name = &dest,
						  .msg_namelen = sizeof(dest),
						  .msg_iov = &iov[i],
						  .msg_iovlen = 1 };
	}
	n = bp_sendmmsg(tx, vec, N, 0);
	assert_in_range(n, 1, N - 1); /* 8000 bytes hold some, not 40 x 500 */
	assert_int_equal(bp_sendmmsg(tx, &vec[n], N - n, 0), -1);
	assert_int_equal(errno, ENOBUFS);
	rx = bound_socket(210);
	while (bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL) == 500) {
		assert_int_equal((uint8_t)buf[0], got);
		got++;
	}
	assert_int_equal(got, n);
	bp_close(rx);
	bp_close(tx);
}

/* A raw client: one request (with fd passed unless -1), its reply's status. */
static uint64_t raw_call(int sock, const uint8_t *req, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	static uint8_t rep[4096];
	static struct bp_msg m;
	struct bp_msg_error err;
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
	n = recv(sock, rep, sizeof(rep), 0); /* SOCKET's fd, if any, is closed with us */
	assert_true(n > 0);
	assert_int_equal(bp_msg_decode(rep, (size_t)n, &m, &err), 0);
	return bp_msg_u64(&m, BP_F_STATUS, 999);
}

/*
 * bpd reads a payload fd only if it is a memfd sealed against writes and
 * shrinking, at least as long as announced: anything else could block it
 * (a pipe nobody writes) or change under it.
 */
static void payload_fds_must_be_sealed_memfds(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), pipefd[2];
	int loose = memfd_create("loose", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int shortfd = memfd_create("short", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	uint8_t req[256];
	struct bp_msg_wr w;
	long n;

	strcpy(sun.sun_path, sock_path);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SOCKET, 1);
	assert_int_equal(raw_call(sock, req, (size_t)bp_msg_end(&w), -1), 0);
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_BIND, 2);
	bp_msg_put_bytes(&w, BP_F_EID, "ipn:1.170", 9);
	assert_int_equal(raw_call(sock, req, (size_t)bp_msg_end(&w), -1), 0);
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SEND, 3);
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:1.170", 9);
	bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, 4);
	n = bp_msg_end(&w);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(raw_call(sock, req, (size_t)n, pipefd[0]), EINVAL);
	assert_int_equal(write(loose, "abcd", 4), 4);
	assert_int_equal(raw_call(sock, req, (size_t)n, loose), EINVAL);
	assert_int_equal(write(shortfd, "ab", 2), 2);
	assert_int_equal(fcntl(shortfd, F_ADD_SEALS, seals), 0);
	assert_int_equal(raw_call(sock, req, (size_t)n, shortfd), EINVAL);
	assert_int_equal(fcntl(loose, F_ADD_SEALS, seals), 0);
	assert_int_equal(raw_call(sock, req, (size_t)n, loose), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	close(loose);
	close(shortfd);
	close(sock);
}

/*
 * RFC 9171 5.5: bundles whose lifetime ends are deleted on time, while
 * waiting for their endpoint, and the others stay.
 */
static void short_lived_bundles_expire_on_time(void **state)
{
	struct sockaddr_bp dest = ipn(1, 230);
	int tx = bound_socket(231), rx;
	uint64_t short_ms = 300, long_ms = 3600000;
	char out[8192], buf[8];

	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_LIFETIME, &short_ms, sizeof(short_ms)), 0);
	assert_int_equal(bp_sendto(tx, "s1", 3, 0, (struct sockaddr *)&dest, sizeof(dest)), 3);
	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_LIFETIME, &long_ms, sizeof(long_ms)), 0);
	assert_int_equal(bp_sendto(tx, "L", 2, 0, (struct sockaddr *)&dest, sizeof(dest)), 2);
	assert_int_equal(bp_setsockopt(tx, SOL_BP, BP_LIFETIME, &short_ms, sizeof(short_ms)), 0);
	assert_int_equal(bp_sendto(tx, "s2", 3, 0, (struct sockaddr *)&dest, sizeof(dest)), 3);
	assert_int_equal(bpctl(out, sizeof(out), "bundles --dest ipn:1.230"), 0);
	assert_non_null(strstr(out, "queued-local"));
	usleep(1200 * 1000); /* 300 ms lifetimes, with room for a busy machine */
	rx = bound_socket(230);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), 2);
	assert_string_equal(buf, "L");
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	bp_close(rx);
	bp_close(tx);
}

/* An admin listing larger than a datagram can hold arrives whole (as an fd). */
static void a_long_bundle_listing_arrives_whole(void **state)
{
	enum {
		N = 3000
	};
	struct sockaddr_bp dest = ipn(1, 180);
	int tx = bound_socket(181), rx, status;
	char cmd[256], line[512];
	unsigned lines = 0;
	FILE *p;

	for (int i = 0; i < N; i++)
		assert_int_equal(bp_sendto(tx, "x", 1, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 1);
	snprintf(cmd, sizeof(cmd), "%s bundles --dest ipn:1.180 --limit 5000", BPCTL_PATH);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		lines += strstr(line, "ipn:1.180") != NULL;
	status = pclose(p);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lines, N);
	/* Drain them so that they do not linger in the store. */
	rx = bound_socket(180);
	for (int i = 0; i < N; i++)
		assert_int_equal(bp_recvfrom(rx, line, sizeof(line), 0, NULL, NULL), 1);
	bp_close(rx);
	bp_close(tx);
}

/* ipn:0.0 binds this node and a free service, as INADDR_ANY and port 0. */
static void wildcard_bind_picks_the_node_and_a_free_service(void **state)
{
	struct sockaddr_bp any = ipn(0, 0), a, b, own = ipn(0, 120);
	socklen_t alen = sizeof(a), blen = sizeof(b);
	int x = bp_socket(AF_BP, SOCK_DGRAM, 0), y = bp_socket(AF_BP, SOCK_DGRAM, 0);
	int z = bp_socket(AF_BP, SOCK_DGRAM, 0);
	char buf[8];

	assert_int_equal(bp_getsockname(x, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(a.bp_addr.ipn.service_id, 0); /* unbound */
	assert_int_equal(bp_bind(x, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(bp_bind(y, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(bp_getsockname(x, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(bp_getsockname(y, (struct sockaddr *)&b, &blen), 0);
	assert_int_equal(alen, sizeof(a));
	assert_int_equal(a.bp_addr.ipn.node_id, 1);
	assert_int_equal(b.bp_addr.ipn.node_id, 1);
	assert_in_range(a.bp_addr.ipn.service_id, 32768, 60999);
	assert_in_range(b.bp_addr.ipn.service_id, 32768, 60999);
	assert_int_not_equal(a.bp_addr.ipn.service_id, b.bp_addr.ipn.service_id);
	/* The picked address works as a destination. */
	assert_int_equal(bp_sendto(y, "hi", 3, 0, (struct sockaddr *)&a, sizeof(a)), 3);
	assert_int_equal(bp_recvfrom(x, buf, sizeof(buf), 0, NULL, NULL), 3);
	assert_int_equal(bp_bind(z, (struct sockaddr *)&own, sizeof(own)), 0);
	assert_int_equal(bp_getsockname(z, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(a.bp_addr.ipn.node_id, 1);
	assert_int_equal(a.bp_addr.ipn.service_id, 120);
	/* Node 0 as a destination is this node too (as 0.0.0.0 is for IP). */
	assert_int_equal(bp_sendto(x, "me", 3, 0, (struct sockaddr *)&own, sizeof(own)), 3);
	assert_int_equal(bp_recvfrom(z, buf, sizeof(buf), 0, NULL, NULL), 3);
	assert_string_equal(buf, "me");
	bp_close(x);
	bp_close(y);
	bp_close(z);
}

/*
 * Deleting bundles delivered but not consumed frees the socket's credit:
 * with "limit unconsumed 2", the third bundle comes once the first two are
 * deleted (an app may still read the deleted ones already in its socket).
 */
static void deleting_delivered_bundles_frees_the_credit(void **state)
{
	char out[8192], cmd[64];
	struct sockaddr_bp dest = ipn(1, 190);
	struct pollfd pfd;
	const char *p;
	int tx, rx, seen = 0;
	char buf[8];

	use_extra_bpd("credit", "node ipn:1\nlimit unconsumed 2\n");
	tx = bound_socket(191);
	rx = bound_socket(190);
	assert_int_equal(bp_sendto(tx, "a", 2, 0, (struct sockaddr *)&dest, sizeof(dest)), 2);
	assert_int_equal(bp_sendto(tx, "b", 2, 0, (struct sockaddr *)&dest, sizeof(dest)), 2);
	assert_int_equal(bp_sendto(tx, "c", 2, 0, (struct sockaddr *)&dest, sizeof(dest)), 2);
	assert_int_equal(bpctl(out, sizeof(out), "bundles --state delivered --json"), 0);
	for (p = strstr(out, "{\"id\":"); p; p = strstr(p + 1, "{\"id\":")) {
		snprintf(cmd, sizeof(cmd), "bundles delete %lu", strtoul(p + 6, NULL, 10));
		assert_int_equal(bpctl(out + 4096, 4096, cmd), 0);
		seen++;
	}
	assert_int_equal(seen, 2);
	/* "c" is delivered now: the channel holds a, b and c. */
	for (int i = 0; i < 3; i++) {
		pfd = (struct pollfd){ .fd = rx, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 2);
	}
	assert_string_equal(buf, "c");
	bp_close(rx);
	bp_close(tx);
}

/*
 * The store survives bpd: bundles queued before a kill -9 are delivered
 * after the restart; a torn last record (the file cut inside it) is cut
 * off, every earlier bundle is kept, and bpctl store says what was dropped.
 */
static void bundles_survive_a_killed_bpd_and_a_torn_tail(void **state)
{
	char out[8192], seg[200], want[16], buf[16];
	struct sockaddr_bp dest = ipn(1, 170);
	struct stat st;
	int tx, rx, status;

	use_extra_bpd("torn", "node ipn:1\n");
	tx = bound_socket(171);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "bundle %d", i);
		assert_int_equal(bp_sendto(tx, want, 9, 0, (struct sockaddr *)&dest, sizeof(dest)),
				 9);
	}
	bp_close(tx);
	kill(extra_pid, SIGKILL);
	waitpid(extra_pid, &status, 0);
	/* Cut the last record (bundle 2's group) in the middle of its bytes. */
	snprintf(seg, sizeof(seg), "%s/torn/store/seg-0000000000000001.log", dir);
	assert_int_equal(stat(seg, &st), 0);
	assert_int_equal(truncate(seg, st.st_size - 40), 0);
	use_extra_bpd("torn", "node ipn:1\n");
	assert_int_equal(bpctl(out, sizeof(out), "store --json"), 0);
	assert_non_null(strstr(out, "\"recovered\":2,"));
	assert_non_null(strstr(out, "\"dropped\":1,"));
	rx = bound_socket(170);
	for (int i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "bundle %d", i);
		assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 9);
		assert_string_equal(buf, want);
	}
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	bp_close(rx);
}

/*
 * "delivery policy abandon" in the config: a bundle received but not
 * consumed when its socket closes is dropped, not redelivered; a socket may
 * still choose "defer" for itself.
 */
static void config_default_policy_abandon_drops_unconsumed_bundles(void **state)
{
	struct sockaddr_bp dest = ipn(1, 160);
	int tx, rx, v = -1;
	socklen_t vlen = sizeof(v);
	char buf[8];

	use_extra_bpd("abandon", "node ipn:1\ndelivery policy abandon\n");
	tx = bound_socket(161);
	rx = bound_socket(160);
	assert_int_equal(bp_getsockopt(rx, SOL_BP, BP_DELIVERY_POLICY, &v, &vlen), 0);
	assert_int_equal(v, BP_DELIVERY_ABANDON);
	assert_int_equal(bp_sendto(tx, "gone", 5, 0, (struct sockaddr *)&dest, sizeof(dest)), 5);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_PEEK, NULL, NULL), 5);
	bp_close(rx);
	rx = bound_socket(160);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	bp_close(rx);
	bp_close(tx);
}

/* A client sending garbage is dropped; the others go on. */
static void a_client_sending_garbage_is_dropped_alone(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int bad = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int rx = bound_socket(112), tx = bound_socket(113);
	struct sockaddr_bp dest = ipn(1, 112);
	char buf[8];

	strcpy(sun.sun_path, sock_path);
	assert_int_equal(connect(bad, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(send(bad, "garbage!garbage!", 16, 0), 16);
	/* bpd closes it: reading gives end of stream. */
	assert_int_equal(recv(bad, buf, sizeof(buf), 0), 0);
	close(bad);
	assert_int_equal(bp_sendto(tx, "ok", 3, 0, (struct sockaddr *)&dest, sizeof(dest)), 3);
	assert_int_equal(bp_recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 3);
	assert_string_equal(buf, "ok");
	bp_close(rx);
	bp_close(tx);
}

/* A second bpd on a live socket path refuses to start instead of taking it over. */
static void a_second_bpd_does_not_take_over_the_socket(void **state)
{
	char cmd[400];
	int status;

	snprintf(cmd, sizeof(cmd), "%s --quiet --state %s/state2 2>/dev/null", BPD_PATH, dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	/* The first one still serves. */
	bp_close(bound_socket(114));
}

/* A program written like bp-socket's examples runs against bpd (issue 3). */
static void a_bp_socket_style_program_exchanges_a_bundle(void **state)
{
	int status = system(EXAMPLE_PATH);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bundles_of_every_size_arrive_byte_exact),
		cmocka_unit_test(peek_trunc_tells_the_size_before_the_real_receive),
		cmocka_unit_test(rcvtimeo_nonblock_and_poll_behave_like_a_socket),
		cmocka_unit_test(unconsumed_bundles_are_redelivered_after_the_receiver_dies),
		cmocka_unit_test(bundle_waits_for_the_first_bind),
		cmocka_unit_test(consumed_bundles_stay_consumed_after_a_close),
		cmocka_unit_test(short_lived_bundles_expire_on_time),
		cmocka_unit_test(waiting_bundles_are_readable_when_bind_returns),
		cmocka_unit_test(binding_an_endpoint_twice_fails_with_eaddrinuse),
		cmocka_unit_test(other_users_bind_only_what_the_rules_allow),
		cmocka_unit_test(only_admins_run_admin_commands),
		cmocka_unit_test(bpctl_lists_and_deletes_a_waiting_bundle),
		cmocka_unit_test(a_batch_of_sends_arrives_in_order),
		cmocka_unit_test_teardown(a_batch_stops_at_its_first_failure, stop_extra_bpd),
		cmocka_unit_test(payload_fds_must_be_sealed_memfds),
		cmocka_unit_test(a_long_bundle_listing_arrives_whole),
		cmocka_unit_test(wildcard_bind_picks_the_node_and_a_free_service),
		cmocka_unit_test_teardown(config_default_policy_abandon_drops_unconsumed_bundles,
					  stop_extra_bpd),
		cmocka_unit_test_teardown(deleting_delivered_bundles_frees_the_credit,
					  stop_extra_bpd),
		cmocka_unit_test_teardown(bundles_survive_a_killed_bpd_and_a_torn_tail,
					  stop_extra_bpd),
		cmocka_unit_test(a_client_sending_garbage_is_dropped_alone),
		cmocka_unit_test(a_bp_socket_style_program_exchanges_a_bundle),
		cmocka_unit_test(a_second_bpd_does_not_take_over_the_socket),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, start_bpd, stop_bpd);
}
