/* SPDX-License-Identifier: MIT */
/*
 * The durable store through bpd (docs/store.md), beside the disk it writes to,
 * measured in the same run and the same directory:
 *
 *   disk    the disk's own rate of 64-byte append + fdatasync, and its
 *           sequential write bandwidth (1 MiB writes, fdatasync every 64 MiB)
 *   64      64 B bundles from 4 sender threads (bp_sendmmsg, 64 per batch) to
 *           an endpoint nobody reads (they queue in the store), with
 *           "store sync always" and "store sync none": bundles/s, and bundles
 *           per fdatasync (bpctl store: puts / syncs)
 *   1m      the same with 1 MiB bundles from 2 senders: MiB/s, as a share of
 *           the disk's bandwidth
 *   recover 1,000,000 queued 64 B bundles, bpd killed with SIGKILL and
 *           started again: the replay's time (bpctl store: recovery_s)
 *   rss     bpd's resident memory with GIB GiB of 1 MiB bundles queued
 *
 * Targets (issue 4): durable 64 B >= 40k bundles/s, durable 1 MiB >= 80% of
 * the disk's bandwidth, recovery >= 200k bundles/s, RSS < 64 MiB with 10 GiB
 * queued. Figures only: nothing here passes or fails on time.
 *
 * Usage: bench_store [-d DIR] [-t SECONDS] [-g GIB] [PART...]
 *   DIR: where the store and the disk test go (default /var/tmp); PARTs:
 *   disk 64 1m recover rss (default all).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bp/bp.h"

#define DEST 3000
#define MAX_SENDERS 4
#define BATCH 64

static char base[128] = "/var/tmp";
static char dir[192];
static char sock_path[256];
static pid_t bpd_pid = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The disk. */

static double disk_sync_rate(double secs)
{
	char path[256];
	uint8_t rec[64] = { 1 };
	double t0 = now(), t;
	long n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/disk-sync", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	do {
		if (write(fd, rec, sizeof(rec)) != sizeof(rec) || fdatasync(fd) < 0)
			die("fdatasync");
		n++;
	} while ((t = now() - t0) < secs);
	close(fd);
	unlink(path);
	return (double)n / t;
}

static double disk_write_bw(double secs)
{
	static uint8_t buf[1 << 20];
	char path[256];
	double t0 = now(), t;
	long n = 0;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	snprintf(path, sizeof(path), "%s/disk-bw", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	do {
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die("write");
		if (++n % 64 == 0 && fdatasync(fd) < 0)
			die("fdatasync");
	} while (now() - t0 < secs || n % 64 != 0);
	t = now() - t0;
	close(fd);
	unlink(path);
	return (double)n / t; /* MiB/s */
}

/* bpd. */

static void bpd_start(const char *conf)
{
	char conf_path[256], state[256];
	FILE *f;

	snprintf(conf_path, sizeof(conf_path), "%s/bpd.conf", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	f = fopen(conf_path, "w");
	if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
		die(conf_path);
	bpd_pid = fork();
	if (bpd_pid == 0) {
		execl(BPD_PATH, "bpd", "-c", conf_path, "--socket", sock_path, "--state", state,
		      "-q", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 6000; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok;

		strcpy(sun.sun_path, sock_path);
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return;
		usleep(10000);
	}
	fprintf(stderr, "bench_store: bpd did not start\n");
	exit(1);
}

static void bpd_stop(int sig)
{
	if (bpd_pid <= 0)
		return;
	kill(bpd_pid, sig);
	waitpid(bpd_pid, NULL, 0);
	bpd_pid = -1;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void wipe_state(void)
{
	char state[256];

	snprintf(state, sizeof(state), "%s/state", dir);
	nftw(state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A number from bpctl store --json. */
struct store_fig {
	double puts, syncs, bundles, recovered, recovery_s;
};

static double json_num(const char *js, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(js, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

static struct store_fig store_fig(void)
{
	char cmd[512], js[2048] = "";
	struct store_fig f;
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "BPD_SOCKET=%s %s store --json", sock_path, BPCTL_PATH);
	p = popen(cmd, "r");
	if (!p)
		die("popen");
	n = fread(js, 1, sizeof(js) - 1, p);
	js[n] = '\0';
	pclose(p);
	f.puts = json_num(js, "puts");
	f.syncs = json_num(js, "syncs");
	f.bundles = json_num(js, "bundles");
	f.recovered = json_num(js, "recovered");
	f.recovery_s = json_num(js, "recovery_s");
	return f;
}

static long rss_kib(const char *field)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)bpd_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kib = atol(line + strlen(field));
	fclose(f);
	return kib;
}

/* Senders: threads, each its own BP socket, bp_sendmmsg batches until time is up. */
struct sender {
	pthread_t th;
	unsigned service;
	size_t size;
	unsigned batch;
	double until;
	uint64_t max; /* stop after this many (0: only time) */
	uint64_t sent;
	int err;
};

static void *sender_main(void *p)
{
	struct sender *s = p;
	struct sockaddr_bp a = { .bp_family = AF_BP, .bp_scheme = BP_SCHEME_IPN };
	struct sockaddr_bp dest = a;
	struct mmsghdr vec[BATCH];
	struct iovec iov[BATCH];
	uint8_t *buf = calloc(1, s->size);
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	a.bp_addr.ipn.node_id = 1;
	a.bp_addr.ipn.service_id = s->service;
	dest.bp_addr.ipn.node_id = 1;
	dest.bp_addr.ipn.service_id = DEST;
	if (!buf || fd < 0 || bp_bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		s->err = errno;
		return NULL;
	}
	for (unsigned i = 0; i < s->batch; i++) {
		iov[i] = (struct iovec){ .iov_base = buf, .iov_len = s->size };
		vec[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dest,
							.msg_namelen = sizeof(dest),
							.msg_iov = &iov[i],
							.msg_iovlen = 1 } };
	}
	while (now() < s->until && (!s->max || s->sent < s->max)) {
		unsigned n = s->batch;
		int r;

		if (s->max && s->max - s->sent < n)
			n = (unsigned)(s->max - s->sent);
		r = bp_sendmmsg(fd, vec, n, 0);
		if (r < 0) {
			s->err = errno;
			break;
		}
		s->sent += (uint64_t)r;
	}
	bp_close(fd);
	free(buf);
	return NULL;
}

/* Stream for secs (or max bundles); returns bundles stored per second. */
static double stream(int nsenders, size_t size, unsigned batch, double secs, uint64_t max,
		     uint64_t *ret_sent)
{
	struct sender s[MAX_SENDERS];
	double t0 = now(), t;
	uint64_t total = 0;

	for (int i = 0; i < nsenders; i++) {
		s[i] = (struct sender){ .service = DEST + 1 + (unsigned)i,
					.size = size,
					.batch = batch,
					.until = t0 + secs,
					.max = max / (uint64_t)nsenders };
		if (pthread_create(&s[i].th, NULL, sender_main, &s[i]) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < nsenders; i++) {
		pthread_join(s[i].th, NULL);
		total += s[i].sent;
		if (s[i].err && s[i].err != ENOBUFS)
			fprintf(stderr, "bench_store: sender: %s\n", strerror(s[i].err));
	}
	t = now() - t0;
	if (ret_sent)
		*ret_sent = total;
	return (double)total / t;
}

struct sync_case {
	double rate, per_sync;
};

static struct sync_case run_sync_case(const char *sync, int nsenders, size_t size, unsigned batch,
				      double secs)
{
	char conf[256];
	struct store_fig a, b;
	struct sync_case c;

	wipe_state();
	snprintf(conf, sizeof(conf),
		 "node ipn:1\nstore sync %s\nstore quota 68719476736 100000000\n", sync);
	bpd_start(conf);
	(void)stream(nsenders, size, batch, 0.3, 0, NULL); /* warm up */
	a = store_fig();
	c.rate = stream(nsenders, size, batch, secs, 0, NULL);
	b = store_fig();
	c.per_sync = b.syncs > a.syncs ? (b.puts - a.puts) / (b.syncs - a.syncs) : 0;
	bpd_stop(SIGTERM);
	return c;
}

static bool want(int argc, char **argv, int first, const char *part)
{
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], part) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	double secs = 3, disk_bw = 0, sync_rate = 0;
	unsigned gib = 10;
	struct statvfs vfs;
	int c;

	while ((c = getopt(argc, argv, "d:t:g:h")) != -1) {
		switch (c) {
		case 'd':
			snprintf(base, sizeof(base), "%s", optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'g':
			gib = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_store [-d DIR] [-t SECONDS] [-g GIB] "
					"[disk|64|1m|recover|rss...]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	snprintf(dir, sizeof(dir), "%s/bench_store.XXXXXX", base);
	if (!mkdtemp(dir))
		die(dir);
	snprintf(sock_path, sizeof(sock_path), "%s/bpd.sock", dir);
	setenv("BPD_SOCKET", sock_path, 1); /* for libbp */
	signal(SIGPIPE, SIG_IGN);
	printf("bench_store in %s (%.0f s per case)\n\n", dir, secs);

	if (want(argc, argv, optind, "disk") || want(argc, argv, optind, "1m")) {
		sync_rate = disk_sync_rate(2);
		disk_bw = disk_write_bw(secs);
		printf("disk: %.0f fdatasyncs/s (64 B appends); sequential write %.0f MiB/s\n\n",
		       sync_rate, disk_bw);
	}
	if (want(argc, argv, optind, "64")) {
		struct sync_case d = run_sync_case("always", 4, 64, BATCH, secs);
		struct sync_case n = run_sync_case("none", 4, 64, BATCH, secs);

		printf("64 B, 4 senders   always %8.0f bundles/s (%6.1f per fdatasync)   none %8.0f "
		       "bundles/s   always/none %5.1f%%   target >= 40000\n",
		       d.rate, d.per_sync, n.rate, 100 * d.rate / n.rate);
	}
	if (want(argc, argv, optind, "1m")) {
		struct sync_case d = run_sync_case("always", 2, 1 << 20, 4, secs);
		struct sync_case n = run_sync_case("none", 2, 1 << 20, 4, secs);

		printf("1 MiB, 2 senders  always %8.0f MiB/s     (%6.1f per fdatasync)   none %8.0f "
		       "MiB/s       always/disk %5.1f%%   target >= 80%%\n",
		       d.rate, d.per_sync, n.rate, disk_bw > 0 ? 100 * d.rate / disk_bw : 0);
	}
	if (want(argc, argv, optind, "recover")) {
		struct store_fig f;
		uint64_t sent;
		double t;

		wipe_state();
		bpd_start("node ipn:1\nstore sync none\nstore quota 68719476736 2000000\n");
		t = now();
		(void)stream(4, 64, BATCH, 600, 1000000, &sent);
		t = now() - t;
		bpd_stop(SIGKILL);
		bpd_start("node ipn:1\nstore quota 68719476736 2000000\n");
		f = store_fig();
		printf("recovery: %" PRIu64 " bundles queued in %.1f s; after SIGKILL, replayed "
		       "%.0f in %.3f s = %.0f bundles/s (target >= 200000); bpd RSS %ld KiB\n",
		       sent, t, f.recovered, f.recovery_s,
		       f.recovery_s > 0 ? f.recovered / f.recovery_s : 0, rss_kib("VmRSS:"));
		bpd_stop(SIGTERM);
	}
	if (want(argc, argv, optind, "rss")) {
		uint64_t want_n = (uint64_t)gib * 1024, sent;
		char conf[256];
		long rss0;

		if (statvfs(dir, &vfs) == 0 &&
		    (uint64_t)vfs.f_bavail * vfs.f_frsize < (want_n + 2048) << 20) {
			want_n = (uint64_t)vfs.f_bavail * vfs.f_frsize / (1 << 20);
			want_n = want_n > 3072 ? want_n - 2048 : want_n / 2;
			printf("(only %" PRIu64 " MiB will fit on this disk with room to spare)\n",
			       want_n);
		}
		wipe_state();
		snprintf(conf, sizeof(conf), "node ipn:1\nstore quota %" PRIu64 " 100000\n",
			 (want_n + 16) << 20);
		bpd_start(conf);
		(void)stream(1, 1000, 1, 0.2, 10, NULL);
		rss0 = rss_kib("VmRSS:");
		(void)stream(2, 1 << 20, 4, 3600, want_n, &sent);
		printf("rss: %" PRIu64 " MiB queued; bpd RSS %ld KiB before, %ld KiB after, peak "
		       "%ld KiB (target < 65536 KiB)\n",
		       sent, rss0, rss_kib("VmRSS:"), rss_kib("VmHWM:"));
		bpd_stop(SIGTERM);
	}
	wipe_state();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
