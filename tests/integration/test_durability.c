/* SPDX-License-Identifier: MIT */
/*
 * The store through a real bpd (docs/store.md):
 *
 * - crash: a sender streams bundles while bpd is killed with SIGKILL at
 *   random moments and restarted; the sender reconnects and goes on. At the
 *   end every bundle whose send was acknowledged is delivered exactly once,
 *   byte-exact, and nothing is delivered that was not sent. Cycles:
 *   BPSOCK_CRASH_CYCLES (default 20); the seed is printed and can be given
 *   back with BPSOCK_CRASH_SEED to replay a run.
 * - quota: filling the store gets ENOBUFS while bpd's memory stays flat (the
 *   bundles are in files, not in RAM); consuming frees room; a restart keeps
 *   what is queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp/bp.h"

#define DEST_SERVICE 2000
#define SRC_SERVICE 2001
#define MAGIC 0x62707363u /* "bpsc" */
#define HDR_LEN 12	  /* magic, seq, length: three little-endian u32 */
#define MAX_PAYLOAD (3u << 20)
#define BATCH_MAX 16

static char dir[64];
static char sock_path[128];
static pid_t bpd_pid = -1;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start bpd with config text (written to dir/bpd.conf); wait for its socket. */
static pid_t spawn_bpd(const char *conf)
{
	char conf_path[160], state[160];
	FILE *f;
	pid_t pid;

	snprintf(conf_path, sizeof(conf_path), "%s/bpd.conf", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	f = fopen(conf_path, "w");
	if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		/* A small quarantine: freed buffers must not look like growth. */
		setenv("ASAN_OPTIONS", "quarantine_size_mb=4:detect_leaks=1", 1);
		execl(BPD_PATH, "bpd", "-c", conf_path, "--socket", sock_path, "--state", state,
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok;

		strcpy(sun.sun_path, sock_path);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void stop_bpd(int sig)
{
	int status;

	if (bpd_pid <= 0)
		return;
	kill(bpd_pid, sig);
	waitpid(bpd_pid, &status, 0);
	if (sig == SIGTERM)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	bpd_pid = -1;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bpsock-durability-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/bpd.sock", dir);
	setenv("BPD_SOCKET", sock_path, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	if (bpd_pid > 0) {
		kill(bpd_pid, SIGKILL);
		waitpid(bpd_pid, NULL, 0);
		bpd_pid = -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sockaddr_bp ipn(uint32_t service)
{
	struct sockaddr_bp a = { .bp_family = AF_BP, .bp_scheme = BP_SCHEME_IPN };

	a.bp_addr.ipn.node_id = 1;
	a.bp_addr.ipn.service_id = service;
	return a;
}

static int bound_socket(uint32_t service)
{
	struct sockaddr_bp a = ipn(service);
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (bp_bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		bp_close(fd);
		return -1;
	}
	return fd;
}

/* Payloads say who they are: a header, then bytes from a PRNG seeded by seq. */
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void make_payload(uint8_t *buf, uint32_t seq, uint32_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seq + 1);

	put32(buf, MAGIC);
	put32(buf + 4, seq);
	put32(buf + 8, len);
	for (uint32_t i = HDR_LEN; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

static bool payload_ok(const uint8_t *buf, size_t n, uint8_t *scratch)
{
	uint32_t len;

	if (n < HDR_LEN || get32(buf) != MAGIC)
		return false;
	len = get32(buf + 8);
	if (len != n)
		return false;
	make_payload(scratch, get32(buf + 4), len);
	return memcmp(buf, scratch, n) == 0;
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

/* Sizes: mostly small, some up to 300 KiB, now and then 1-3 MiB (sent as memfds). */
static uint32_t pick_len(uint64_t *s)
{
	uint32_t r = rnd(s) % 100;

	if (r < 70)
		return HDR_LEN + rnd(s) % 500;
	if (r < 97)
		return HDR_LEN + rnd(s) % (300 << 10);
	return (1u << 20) + rnd(s) % (2u << 20);
}

/* What became of each sequence number. */
enum fate {
	UNSENT,
	ACKED,	   /* the send returned success */
	IN_FLIGHT, /* the send was under way when bpd died */
};

struct crash_run {
	uint8_t *fate;
	uint32_t nseq;
	uint64_t acked, in_flight;
};

/* Kills bpd after a delay: the moment is chosen by the main thread. */
struct killer {
	pthread_t th;
	pid_t pid;
	unsigned delay_ms;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_ms * 1000);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* Send until bpd dies (returns once a send failed because it did). */
static void send_until_dead(struct crash_run *cr, uint64_t *rs, uint8_t **bufs)
{
	struct sockaddr_bp dest = ipn(DEST_SERVICE);
	struct mmsghdr vec[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint32_t seqs[BATCH_MAX];
	int fd = bound_socket(SRC_SERVICE);

	if (fd < 0)
		return; /* killed before the bind: nothing sent this cycle */
	for (;;) {
		unsigned n = 1 + rnd(rs) % BATCH_MAX, i;
		int r;

		for (i = 0; i < n; i++) {
			uint32_t len = pick_len(rs);

			seqs[i] = cr->nseq++;
			make_payload(bufs[i], seqs[i], len);
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = len };
			vec[i] = (struct mmsghdr){ .msg_hdr = {
							   .msg_name = &dest,
							   .msg_namelen = sizeof(dest),
							   .msg_iov = &iov[i],
							   .msg_iovlen = 1,
						   } };
			cr->fate[seqs[i]] = IN_FLIGHT;
		}
		if (n == 1) {
			r = bp_sendto(fd, bufs[0], iov[0].iov_len, 0, (struct sockaddr *)&dest,
				      sizeof(dest)) == (ssize_t)iov[0].iov_len ?
				    1 :
				    -1;
		} else {
			r = bp_sendmmsg(fd, vec, n, 0);
		}
		for (i = 0; i < n && (int)i < r; i++) {
			cr->fate[seqs[i]] = ACKED;
			cr->acked++;
		}
		if (r < (int)n) {
			/* The rest stays IN_FLIGHT: stored or not, we cannot know. */
			cr->in_flight += n - (r > 0 ? (unsigned)r : 0);
			bp_close(fd);
			return;
		}
	}
}

/* Receive everything queued for DEST_SERVICE; count each sequence number. */
static void receive_all(uint8_t *count, uint32_t nseq, uint64_t *ret_total)
{
	uint8_t *buf = malloc(MAX_PAYLOAD + 16), *scratch = malloc(MAX_PAYLOAD + 16);
	int fd = bound_socket(DEST_SERVICE);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t total = 0;

	assert_true(fd >= 0 && buf && scratch);
	while (poll(&pfd, 1, 3000) == 1) {
		ssize_t n = bp_recvfrom(fd, buf, MAX_PAYLOAD + 16, MSG_DONTWAIT, NULL, NULL);
		uint32_t seq;

		if (n < 0 && errno == EAGAIN)
			continue;
		assert_true(n >= 0);
		if (!payload_ok(buf, (size_t)n, scratch))
			fail_msg("a delivered bundle is not byte-exact (%zd bytes)", n);
		seq = get32(buf + 4);
		assert_true(seq < nseq);
		count[seq]++;
		total++;
	}
	bp_close(fd);
	free(buf);
	free(scratch);
	*ret_total = total;
}

static void crash_cycles(const char *conf, unsigned cycles)
{
	struct crash_run cr = { 0 };
	const char *env_seed = getenv("BPSOCK_CRASH_SEED");
	uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	uint64_t rs = seed | 1, delivered = 0, dup = 0, lost = 0, phantom = 0, in_flight_seen = 0;
	uint8_t *bufs[BATCH_MAX], *count;
	double t0 = now_s();
	uint32_t cap = 4u << 20;

	printf("crash test: %u cycles, seed %" PRIu64 " (BPSOCK_CRASH_SEED replays it)\n", cycles,
	       seed);
	cr.fate = calloc(cap, 1);
	count = calloc(cap, 1);
	assert_non_null(cr.fate);
	assert_non_null(count);
	for (int i = 0; i < BATCH_MAX; i++) {
		bufs[i] = malloc(MAX_PAYLOAD);
		assert_non_null(bufs[i]);
	}
	for (unsigned c = 0; c < cycles; c++) {
		struct killer k;

		bpd_pid = spawn_bpd(conf);
		assert_true(bpd_pid > 0);
		k = (struct killer){ .pid = bpd_pid, .delay_ms = 10 + rnd(&rs) % 290 };
		assert_int_equal(pthread_create(&k.th, NULL, killer_main, &k), 0);
		send_until_dead(&cr, &rs, bufs);
		pthread_join(k.th, NULL);
		waitpid(bpd_pid, NULL, 0);
		bpd_pid = -1;
		assert_true(cr.nseq < cap - 1000);
	}
	/* A last start, normally, and a receiver. */
	bpd_pid = spawn_bpd(conf);
	assert_true(bpd_pid > 0);
	receive_all(count, cr.nseq, &delivered);
	for (uint32_t s = 0; s < cr.nseq; s++) {
		dup += count[s] > 1;
		lost += cr.fate[s] == ACKED && count[s] == 0;
		phantom += cr.fate[s] == UNSENT && count[s] > 0;
		in_flight_seen += cr.fate[s] == IN_FLIGHT && count[s] > 0;
	}
	printf("crash test: %" PRIu32 " sent, %" PRIu64 " acknowledged, %" PRIu64
	       " in flight at a kill (%" PRIu64 " of them stored), %" PRIu64 " delivered; %" PRIu64
	       " lost, %" PRIu64 " duplicated, %" PRIu64 " never sent; %.1f s\n",
	       cr.nseq, cr.acked, cr.in_flight, in_flight_seen, delivered, lost, dup, phantom,
	       now_s() - t0);
	assert_true(cr.acked > 0);
	assert_int_equal(lost, 0);
	assert_int_equal(dup, 0);
	assert_int_equal(phantom, 0);
	stop_bpd(SIGTERM);
	for (int i = 0; i < BATCH_MAX; i++)
		free(bufs[i]);
	free(cr.fate);
	free(count);
}

static unsigned env_cycles(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? (unsigned)atoi(v) : dflt;
}

static void killed_bpd_loses_no_acknowledged_bundle(void **state)
{
	crash_cycles("node ipn:1\n", env_cycles("BPSOCK_CRASH_CYCLES", 20));
}

/* "none" never syncs, but a killed process's writes are in the page cache. */
static void killed_bpd_loses_nothing_with_sync_none(void **state)
{
	crash_cycles("node ipn:1\nstore sync none\n",
		     env_cycles("BPSOCK_CRASH_CYCLES", 20) / 4 + 1);
}

/* Kibibytes of bpd's resident memory now. */
static long bpd_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)bpd_pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	fclose(f);
	return kib;
}

static int bpctl_ok(const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "%s %s > /dev/null", BPCTL_PATH, args);
	return system(cmd);
}

/*
 * 256 MiB of 1 MiB bundles fill the quota: the next send gets ENOBUFS, bpd
 * still answers, its memory grew by far less than what it holds; consuming
 * frees room; after a restart the queue is still there, byte-exact.
 */
static void a_full_store_says_enobufs_and_keeps_its_memory_flat(void **state)
{
	struct sockaddr_bp dest = ipn(DEST_SERVICE);
	uint8_t *buf = malloc(1u << 20), *scratch = malloc((1u << 20) + 16);
	uint8_t *count = calloc(4096, 1);
	long rss0, rss1;
	int tx, rx, sent = 0, got = 0;
	uint64_t total;

	assert_non_null(buf);
	assert_non_null(scratch);
	bpd_pid = spawn_bpd("node ipn:1\nstore quota 268435456 100000\n");
	assert_true(bpd_pid > 0);
	tx = bound_socket(SRC_SERVICE);
	assert_true(tx >= 0);
	make_payload(buf, 4095, 1000); /* one small send first: bpd's buffers warmed up */
	assert_int_equal(bp_sendto(tx, buf, 1000, 0, (struct sockaddr *)&dest, sizeof(dest)), 1000);
	rss0 = bpd_rss_kib();
	for (;;) {
		make_payload(buf, (uint32_t)sent, 1u << 20);
		if (bp_sendto(tx, buf, 1u << 20, 0, (struct sockaddr *)&dest, sizeof(dest)) < 0)
			break;
		sent++;
		assert_true(sent < 300);
	}
	assert_int_equal(errno, ENOBUFS);
	rss1 = bpd_rss_kib();
	printf("quota: %d x 1 MiB stored, then ENOBUFS; bpd RSS %ld -> %ld KiB\n", sent, rss0,
	       rss1);
	assert_true(sent >= 250);
	assert_true(rss1 - rss0 < 32 * 1024);
	/* Still serving: the socket works, the next send is refused too, admin commands work. */
	make_payload(buf, (uint32_t)sent, 1u << 20);
	assert_int_equal(bp_sendto(tx, buf, 1u << 20, 0, (struct sockaddr *)&dest, sizeof(dest)),
			 -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(bpctl_ok("store"), 0);
	/* Consuming three frees room for more. */
	rx = bound_socket(DEST_SERVICE);
	assert_true(rx >= 0);
	for (int i = 0; i < 3; i++) {
		ssize_t n = bp_recvfrom(rx, scratch, (1u << 20) + 16, 0, NULL, NULL);

		assert_true(n > 0);
		count[get32(scratch + 4)]++;
		got++;
	}
	bp_close(rx);
	make_payload(buf, (uint32_t)sent, 1u << 20);
	assert_int_equal(bp_sendto(tx, buf, 1u << 20, 0, (struct sockaddr *)&dest, sizeof(dest)),
			 1u << 20);
	sent++;
	bp_close(tx);
	/* A restart keeps the queue. */
	stop_bpd(SIGTERM);
	bpd_pid = spawn_bpd("node ipn:1\nstore quota 268435456 100000\n");
	assert_true(bpd_pid > 0);
	receive_all(count, 4096, &total);
	assert_int_equal(total + (uint64_t)got, (uint64_t)sent + 1);
	for (int s = 0; s < sent; s++)
		assert_int_equal(count[s], 1);
	assert_int_equal(count[4095], 1);
	free(buf);
	free(scratch);
	free(count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(killed_bpd_loses_no_acknowledged_bundle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(killed_bpd_loses_nothing_with_sync_none, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_full_store_says_enobufs_and_keeps_its_memory_flat,
						setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
