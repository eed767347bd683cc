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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp/bp.h"

static char dir[64];
static char sock_path[128];
static pid_t bpd_pid;

static int start_bpd(void **state)
{
	char state_dir[160];

	snprintf(dir, sizeof(dir), "/tmp/bpsock-test-XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0) /* other users' tests connect too */
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/bpd.sock", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	setenv("BPD_SOCKET", sock_path, 1);
	bpd_pid = fork();
	if (bpd_pid == 0) {
		execl(BPD_PATH, "bpd", "--node", "ipn:1", "--state", state_dir, "--quiet",
		      (char *)NULL);
		_exit(127);
	}
	/* Ready when the socket accepts (bounded wait: 10 s). */
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok;

		strcpy(sun.sun_path, sock_path);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int stop_bpd(void **state)
{
	int status = 0;
	char cmd[128];

	kill(bpd_pid, SIGTERM);
	waitpid(bpd_pid, &status, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	/* bpd stops cleanly on SIGTERM, with status 0. */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
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

/* Service numbers below 64 need root; run as nobody in a child to check. */
static void other_users_cannot_bind_low_services(void **state)
{
	pid_t child;
	int status;

	if (geteuid() != 0)
		skip();
	child = fork();
	if (child == 0) {
		struct sockaddr_bp low = ipn(1, 5), high = ipn(1, 111);
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		fd = bp_socket(AF_BP, SOCK_DGRAM, 0);
		if (fd < 0)
			_exit(11);
		if (bp_bind(fd, (struct sockaddr *)&low, sizeof(low)) == 0 || errno != EACCES)
			_exit(12);
		if (bp_bind(fd, (struct sockaddr *)&high, sizeof(high)) != 0)
			_exit(13);
		_exit(0);
	}
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
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
		cmocka_unit_test(binding_an_endpoint_twice_fails_with_eaddrinuse),
		cmocka_unit_test(other_users_cannot_bind_low_services),
		cmocka_unit_test(a_client_sending_garbage_is_dropped_alone),
		cmocka_unit_test(a_bp_socket_style_program_exchanges_a_bundle),
		cmocka_unit_test(a_second_bpd_does_not_take_over_the_socket),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, start_bpd, stop_bpd);
}
