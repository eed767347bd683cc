/* SPDX-License-Identifier: MIT */
/*
 * libbp against a fake bpd: a thread in this process that speaks just
 * enough of the client protocol (docs/client-protocol.md: SOCKET, BIND,
 * SEND, CONSUMED, SETOPT) and records what it was asked. The tests check
 * libbp's side: errnos, what goes on the wire, and receiving from the
 * delivery socket, which the tests fill themselves through the fake's end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp/bp.h"
#include "bp/proto.h"

/* The fake's rules: binding this EID fails with EADDRINUSE... */
#define FAKE_EID_IN_USE "ipn:1.99"
/* ...sending here fails with ENOBUFS... */
#define FAKE_DEST_FULL 9, 9
/* ...and sending here makes the fake hang up without a reply. */
#define FAKE_DEST_HANGUP 9, 8

#define FAKE_CLIENTS 256
#define SEALS_ALL (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

struct fake_client {
	int ctl;      /* control connection, -1 once closed */
	int delivery; /* the fake's end of the delivery socketpair, or -1 */
	bool used;
	bool bound;
};

/* Everything but the thread's own buffers is guarded by lock. */
static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int listen_fd;
	int wake[2];
	char dir[64];
	char path[108]; /* sizeof(sun_path) */
	struct fake_client clients[FAKE_CLIENTS];
	int last_client; /* the one the last SOCKET came from */
	unsigned errors; /* protocol violations seen from libbp */
	unsigned binds, sends, consumed, setopts;
	char bind_eid[BP_PROTO_MAX_EID + 1];
	int64_t bind_policy; /* -1: absent */
	char dest[BP_PROTO_MAX_EID + 1];
	char report_to[BP_PROTO_MAX_EID + 1];
	uint64_t flags, lifetime, crc_type;
	uint64_t last_consumed;
	uint64_t setopt_option, setopt_value;
	uint8_t *payload;
	size_t payload_len;
	bool payload_by_fd;
	int seals;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint8_t fake_rx[2 << 20]; /* the fake thread's own: a 1 MiB inline SEND fits */

static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void fake_reply(int ctl, uint32_t request, int status, int pass_fd)
{
	uint8_t msg[64];
	struct bp_msg_wr w;
	long n;

	bp_msg_begin(&w, msg, sizeof(msg), BP_MSG_REPLY, request);
	bp_msg_put_u64(&w, BP_F_STATUS, (uint64_t)status);
	n = bp_msg_end(&w);
	if (n < 0 || send_with_fd(ctl, msg, (size_t)n, pass_fd) < 0)
		fake.errors++;
}

static void copy_text(char *dst, const struct bp_msg_field *f)
{
	dst[0] = '\0';
	if (f) {
		memcpy(dst, f->ptr, f->len);
		dst[f->len] = '\0';
	}
}

static int fake_socket(struct fake_client *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	c->delivery = sv[0];
	fake.last_client = (int)(c - fake.clients);
	return sv[1];
}

static int fake_bind(struct fake_client *c, const struct bp_msg *m)
{
	const struct bp_msg_field *pol = bp_msg_find(m, BP_F_POLICY);

	fake.binds++;
	copy_text(fake.bind_eid, bp_msg_find(m, BP_F_EID));
	fake.bind_policy = pol ? (int64_t)pol->u64 : -1;
	if (c->bound)
		return EINVAL;
	if (strcmp(fake.bind_eid, FAKE_EID_IN_USE) == 0)
		return EADDRINUSE;
	c->bound = true;
	return 0;
}

/* Record the payload: inline, or from the passed fd (with its seals). */
static void fake_payload(const struct bp_msg *m, int fd)
{
	const struct bp_msg_field *f = bp_msg_find(m, BP_F_PAYLOAD);
	size_t len = f ? f->len : bp_msg_u64(m, BP_F_PAYLOAD_FD, 0);

	free(fake.payload);
	fake.payload = malloc(len ? len : 1);
	fake.payload_len = len;
	fake.payload_by_fd = !f;
	fake.seals = 0;
	if (f) {
		memcpy(fake.payload, f->ptr, len);
		return;
	}
	fake.seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	if (fd < 0 || pread(fd, fake.payload, len, 0) != (ssize_t)len)
		fake.errors++;
}

/* Returns the status to reply, or -1: hang up instead. */
static int fake_send(const struct bp_msg *m, int fd)
{
	char rpt[32];

	fake.sends++;
	copy_text(fake.dest, bp_msg_find(m, BP_F_DEST));
	copy_text(fake.report_to, bp_msg_find(m, BP_F_REPORT_TO));
	fake.flags = bp_msg_u64(m, BP_F_FLAGS, 0);
	fake.lifetime = bp_msg_u64(m, BP_F_LIFETIME, 0);
	fake.crc_type = bp_msg_u64(m, BP_F_CRC_TYPE, 99);
	fake_payload(m, fd);
	snprintf(rpt, sizeof(rpt), "ipn:%d.%d", FAKE_DEST_FULL);
	if (strcmp(fake.dest, rpt) == 0)
		return ENOBUFS;
	snprintf(rpt, sizeof(rpt), "ipn:%d.%d", FAKE_DEST_HANGUP);
	return strcmp(fake.dest, rpt) == 0 ? -1 : 0;
}

static void fake_hangup(struct fake_client *c)
{
	(void)close(c->ctl);
	c->ctl = -1;
}

/* One request from a client; called with fake.lock held. */
static void fake_handle(struct fake_client *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = fake_rx, .iov_len = sizeof(fake_rx) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	struct bp_msg_error err;
	struct bp_msg m;
	struct cmsghdr *cm;
	int fd = -1, pass = -1, status = 0;
	ssize_t n = recvmsg(c->ctl, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0) {
		fake_hangup(c);
		return;
	}
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (bp_msg_decode(fake_rx, (size_t)n, &m, &err) < 0) {
		fake.errors++;
		fake_hangup(c);
		goto out;
	}
	switch (m.type) {
	case BP_MSG_SOCKET:
		pass = fake_socket(c);
		status = pass < 0 ? -pass : 0;
		break;
	case BP_MSG_BIND:
		status = fake_bind(c, &m);
		break;
	case BP_MSG_SEND:
		status = fake_send(&m, fd);
		break;
	case BP_MSG_CONSUMED:
		fake.consumed++;
		fake.last_consumed = bp_msg_u64(&m, BP_F_DELIVERY_ID, 0);
		break;
	case BP_MSG_SETOPT:
		fake.setopts++;
		fake.setopt_option = bp_msg_u64(&m, BP_F_OPTION, 0);
		fake.setopt_value = bp_msg_u64(&m, BP_F_VALUE, 0);
		break;
	default:
		fake.errors++;
		break;
	}
	if (status < 0)
		fake_hangup(c);
	else if (m.request != 0) /* request 0 (a CONSUMED) gets no reply, as from bpd */
		fake_reply(c->ctl, m.request, status, pass);
out:
	if (pass >= 0)
		(void)close(pass);
	if (fd >= 0)
		(void)close(fd);
}

static void fake_accept(void)
{
	int fd = accept4(fake.listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < FAKE_CLIENTS; i++) {
		if (!fake.clients[i].used) {
			struct fake_client *c = &fake.clients[i];

			*c = (struct fake_client){ .ctl = fd, .delivery = -1, .used = true };
			return;
		}
	}
	fake.errors++;
	(void)close(fd);
}

static void *fake_run(void *arg)
{
	static struct pollfd p[FAKE_CLIENTS + 2];
	static int who[FAKE_CLIENTS + 2];

	for (;;) {
		nfds_t n = 2;

		pthread_mutex_lock(&fake.lock);
		p[0] = (struct pollfd){ .fd = fake.wake[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = fake.listen_fd, .events = POLLIN };
		for (int i = 0; i < FAKE_CLIENTS; i++) {
			const struct fake_client *c = &fake.clients[i];

			if (c->used && c->ctl >= 0) {
				who[n] = i;
				p[n++] = (struct pollfd){ .fd = c->ctl, .events = POLLIN };
			}
		}
		pthread_mutex_unlock(&fake.lock);
		if (poll(p, n, -1) < 0 || p[0].revents)
			return NULL;
		pthread_mutex_lock(&fake.lock);
		if (p[1].revents & POLLIN)
			fake_accept();
		for (nfds_t i = 2; i < n; i++)
			if (p[i].revents)
				fake_handle(&fake.clients[who[i]]);
		pthread_mutex_unlock(&fake.lock);
	}
}

static int fake_start(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	strcpy(fake.dir, "/tmp/test_libbp.XXXXXX");
	if (!mkdtemp(fake.dir))
		return -1;
	snprintf(fake.path, sizeof(fake.path), "%s/bpd.sock", fake.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fake.path);
	fake.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fake.listen_fd < 0 || bind(fake.listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fake.listen_fd, 64) < 0 || pipe2(fake.wake, O_CLOEXEC) < 0)
		return -1;
	setenv("BPD_SOCKET", fake.path, 1);
	return pthread_create(&fake.thread, NULL, fake_run, NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
	ssize_t n = write(fake.wake[1], "x", 1);

	assert_int_equal(n, 1);
	pthread_join(fake.thread, NULL);
	for (int i = 0; i < FAKE_CLIENTS; i++) {
		if (fake.clients[i].used && fake.clients[i].ctl >= 0)
			(void)close(fake.clients[i].ctl);
		if (fake.clients[i].used && fake.clients[i].delivery >= 0)
			(void)close(fake.clients[i].delivery);
	}
	(void)close(fake.listen_fd);
	(void)close(fake.wake[0]);
	(void)close(fake.wake[1]);
	(void)unlink(fake.path);
	(void)rmdir(fake.dir);
	free(fake.payload);
	return 0;
}

/* Before each test: forget what the fake saw; free the slots of closed clients. */
static int fake_reset(void **state)
{
	pthread_mutex_lock(&fake.lock);
	for (int i = 0; i < FAKE_CLIENTS; i++) {
		struct fake_client *c = &fake.clients[i];

		if (c->used && c->ctl < 0) {
			if (c->delivery >= 0)
				(void)close(c->delivery);
			c->used = false;
		}
	}
	fake.binds = fake.sends = fake.consumed = fake.setopts = 0;
	fake.bind_eid[0] = fake.dest[0] = fake.report_to[0] = '\0';
	fake.bind_policy = -1;
	fake.last_client = -1;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static int fake_check(void **state)
{
	unsigned errors;

	pthread_mutex_lock(&fake.lock);
	errors = fake.errors;
	pthread_mutex_unlock(&fake.lock);
	return errors == 0 ? 0 : -1;
}

/* Read one recorded counter or value under the lock. */
#define FAKE(field)                                                                                \
	({                                                                                         \
		pthread_mutex_lock(&fake.lock);                                                    \
		__typeof__(fake.field) v_ = fake.field;                                            \
		pthread_mutex_unlock(&fake.lock);                                                  \
		v_;                                                                                \
	})

/* A recorded EID text, copied under the lock (valid until the next call). */
static const char *fake_str(const char *field)
{
	static char copy[BP_PROTO_MAX_EID + 1];

	pthread_mutex_lock(&fake.lock);
	memcpy(copy, field, sizeof(copy));
	pthread_mutex_unlock(&fake.lock);
	return copy;
}

#define FAKE_STR(field) fake_str(fake.field)

/*
 * A counter the fake bpd bumps for a message that gets no reply (CONSUMED
 * as request 0): wait (5 s at most) until it reaches want, then read it.
 */
#define FAKE_REACHES(field, want)                                                                  \
	({                                                                                         \
		for (int i_ = 0; i_ < 5000 && FAKE(field) < (want); i_++)                          \
			usleep(1000);                                                              \
		FAKE(field);                                                                       \
	})

/* Test helpers */

static struct sockaddr_bp ipn(uint32_t node, uint32_t service)
{
	return (struct sockaddr_bp){ .bp_family = AF_BP,
				     .bp_scheme = BP_SCHEME_IPN,
				     .bp_addr.ipn = { .node_id = node, .service_id = service } };
}

static struct sockaddr_bp_eid eid_addr(bp_scheme_t scheme, const char *text)
{
	struct sockaddr_bp_eid a = { .bp_family = AF_BP, .bp_scheme = scheme };

	snprintf(a.bp_eid, sizeof(a.bp_eid), "%s", text);
	return a;
}

/* A BP socket; *ret_client is the fake's index for it. */
static int open_socket(int *ret_client)
{
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	if (ret_client)
		*ret_client = FAKE(last_client);
	return fd;
}

/* Bound to ipn:1.service; a receive waits 10 s at most, so a regression fails, not hangs. */
static int open_bound(uint32_t service, int *ret_client)
{
	struct timeval tv = { .tv_sec = 10 };
	struct sockaddr_bp a = ipn(1, service);
	int fd = open_socket(ret_client);

	assert_int_equal(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(bp_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void assert_fails(long r, int err)
{
	assert_int_equal(r, -1);
	assert_int_equal(errno, err);
}

static int payload_memfd(const void *p, size_t len)
{
	int fd = memfd_create("test-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, SEALS_ALL), 0);
	return fd;
}

/* Push a DELIVER into client's delivery socket, as bpd would. */
static void deliver(int client, uint64_t id, uint64_t kind, const char *source, const void *p,
		    size_t len, bool by_fd)
{
	size_t cap = len + 4096;
	uint8_t *buf = malloc(cap);
	struct bp_msg_wr w;
	int fd = -1, sock;
	long n;

	bp_msg_begin(&w, buf, cap, BP_MSG_DELIVER, 0);
	bp_msg_put_u64(&w, BP_F_DELIVERY_ID, id);
	bp_msg_put_u64(&w, BP_F_KIND, kind);
	bp_msg_put_bytes(&w, BP_F_SOURCE, source, strlen(source));
	bp_msg_put_bytes(&w, BP_F_DEST, "ipn:1.5", 7);
	bp_msg_put_u64(&w, BP_F_CREATION_TIME, 1000);
	bp_msg_put_u64(&w, BP_F_SEQUENCE, 1);
	if (by_fd) {
		fd = payload_memfd(p, len);
		bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, len);
	} else {
		bp_msg_put_bytes(&w, BP_F_PAYLOAD, p, len);
	}
	n = bp_msg_end(&w);
	assert_true(n > 0);
	sock = FAKE(clients[client].delivery);
	assert_int_equal(send_with_fd(sock, buf, (size_t)n, fd), 0);
	if (fd >= 0)
		close(fd);
	free(buf);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static ssize_t recv_into(int fd, void *buf, size_t len, int flags, struct msghdr *ret)
{
	static struct iovec iov;

	iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	*ret = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = buf ? 1 : 0, .msg_flags = -1 };
	return bp_recvmsg(fd, ret, flags);
}

/* Opening */

static void socket_rejects_other_domains_and_types(void **state)
{
	assert_fails(bp_socket(AF_INET, SOCK_DGRAM, 0), EAFNOSUPPORT);
	assert_fails(bp_socket(AF_BP, SOCK_STREAM, 0), ESOCKTNOSUPPORT);
	assert_int_equal(FAKE(last_client), -1); /* bpd was not asked */
}

static void socket_returns_a_blocking_cloexec_delivery_fd(void **state)
{
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 1); /* the protocol is ignored, as by bp-socket */
	int nb = bp_socket(AF_BP, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	int type;
	socklen_t len = sizeof(type);

	assert_true(fd >= 0);
	assert_true(nb >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(nb, F_GETFL) & O_NONBLOCK);
	/* SOL_SOCKET options act on the delivery socket itself. */
	assert_int_equal(bp_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(type, SOCK_SEQPACKET);
	assert_int_equal(bp_close(fd), 0);
	assert_int_equal(bp_close(nb), 0);
}

static void socket_without_daemon_fails_with_econnrefused(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[108];
	int lonely;

	/* No socket file at all. */
	snprintf(path, sizeof(path), "%s/nobody.sock", fake.dir);
	setenv("BPD_SOCKET", path, 1);
	assert_fails(bp_socket(AF_BP, SOCK_DGRAM, 0), ECONNREFUSED);
	/* A socket file nobody accepts on. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lonely = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lonely, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_fails(bp_socket(AF_BP, SOCK_DGRAM, 0), ECONNREFUSED);
	close(lonely);
	unlink(path);
	setenv("BPD_SOCKET", fake.path, 1);
}

static void calls_on_other_fds_fail_with_ebadf_or_enotsock(void **state)
{
	struct sockaddr_bp a = ipn(1, 5);
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_fails(bp_bind(-1, (struct sockaddr *)&a, sizeof(a)), EBADF);
	assert_fails(bp_bind(4000, (struct sockaddr *)&a, sizeof(a)), EBADF);
	assert_fails(bp_bind(p[0], (struct sockaddr *)&a, sizeof(a)), ENOTSOCK);
	assert_fails(bp_sendto(p[1], "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), ENOTSOCK);
	assert_fails(bp_recvfrom(p[0], NULL, 0, 0, NULL, NULL), ENOTSOCK);
	assert_fails(bp_close(p[0]), EBADF);
	assert_true(fcntl(p[0], F_GETFD) >= 0); /* not closed by bp_close */
	close(p[0]);
	close(p[1]);
}

/* Binding */

static void bind_rejects_bad_addresses_like_bp_socket(void **state)
{
	struct sockaddr_bp a = ipn(1, 5);
	struct sockaddr_bp_eid e;
	socklen_t len;
	int fd = open_socket(NULL);

	assert_fails(bp_bind(fd, NULL, sizeof(a)), EINVAL);
	assert_fails(bp_bind(fd, (struct sockaddr *)&a, 8), EINVAL);
	assert_fails(bp_bind(fd, (struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
	a.bp_family = AF_INET;
	assert_fails(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	a = ipn(1, 5);
	a.bp_scheme = BP_SCHEME_DTN;
	assert_fails(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), EAFNOSUPPORT);
	e = eid_addr(BP_SCHEME_IPN, "dtn://node/app"); /* text of another scheme */
	assert_fails(bp_bind(fd, (struct sockaddr *)&e, sizeof(e)), EINVAL);
	e = eid_addr((bp_scheme_t)7, "ipn:1.5");
	assert_fails(bp_bind(fd, (struct sockaddr *)&e, sizeof(e)), EAFNOSUPPORT);
	/* The NUL lies beyond the length. */
	e = eid_addr(BP_SCHEME_DTN, "dtn://node/app");
	len = offsetof(struct sockaddr_bp_eid, bp_eid) + 9;
	assert_fails(bp_bind(fd, (struct sockaddr *)&e, len), EINVAL);
	assert_int_equal(FAKE(binds), 0);
	assert_int_equal(bp_close(fd), 0);
}

static void bind_sends_eid_and_policy_and_maps_status(void **state)
{
	struct sockaddr_bp used = ipn(1, 99), a = ipn(1, 5);
	int fd = open_socket(NULL);

	assert_fails(bp_bind(fd, (struct sockaddr *)&used, sizeof(used)), EADDRINUSE);
	assert_int_equal(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_string_equal(FAKE_STR(bind_eid), "ipn:1.5");
	assert_int_equal(FAKE(bind_policy), -1); /* not chosen: the node's default */
	assert_fails(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	assert_int_equal(FAKE(binds), 2); /* the second bind failed without asking */
	assert_int_equal(bp_close(fd), 0);
}

static void bind_accepts_eid_text(void **state)
{
	struct sockaddr_bp_eid e = eid_addr(BP_SCHEME_DTN, "dtn://node/app");
	int fd = open_socket(NULL);

	assert_int_equal(bp_bind(fd, (struct sockaddr *)&e, sizeof(e)), 0);
	assert_string_equal(FAKE_STR(bind_eid), "dtn://node/app");
	assert_int_equal(bp_close(fd), 0);
}

/* Sending */

static void send_and_recv_before_bind_fail_with_eaddrnotavail(void **state)
{
	struct sockaddr_bp d = ipn(2, 1);
	char buf[8];
	int fd = open_socket(NULL);

	assert_fails(bp_sendto(fd, "hi", 2, 0, (struct sockaddr *)&d, sizeof(d)), EADDRNOTAVAIL);
	assert_fails(bp_recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), EADDRNOTAVAIL);
	assert_int_equal(FAKE(sends), 0);
	assert_int_equal(bp_close(fd), 0);
}

static void sendto_rejects_bad_destinations(void **state)
{
	struct sockaddr_bp d = ipn(2, 1);
	int fd = open_bound(5, NULL);

	assert_fails(bp_sendto(fd, "hi", 2, 0, NULL, 0), EINVAL);
	assert_fails(bp_sendto(fd, "hi", 2, 0, (struct sockaddr *)&d, 8), EINVAL);
	d.bp_family = AF_INET;
	assert_fails(bp_sendto(fd, "hi", 2, 0, (struct sockaddr *)&d, sizeof(d)), EAFNOSUPPORT);
	d = ipn(2, 1);
	d.bp_scheme = BP_SCHEME_DTN;
	assert_fails(bp_sendto(fd, "hi", 2, 0, (struct sockaddr *)&d, sizeof(d)), EAFNOSUPPORT);
	d = ipn(2, 0);
	assert_fails(bp_sendto(fd, "hi", 2, 0, (struct sockaddr *)&d, sizeof(d)), EINVAL);
	assert_int_equal(FAKE(sends), 0);
	assert_int_equal(bp_close(fd), 0);
}

static void sendto_zero_length_sends_an_empty_bundle(void **state)
{
	struct sockaddr_bp d = ipn(2, 1);
	int fd = open_bound(5, NULL);

	assert_int_equal(bp_sendto(fd, "", 0, 0, (struct sockaddr *)&d, sizeof(d)), 0);
	assert_int_equal(FAKE(sends), 1);
	assert_int_equal(bp_close(fd), 0);
}

static void sendto_small_payload_travels_inline_with_flags(void **state)
{
	struct sockaddr_bp d = ipn(2, 1);
	int bp_flags = MSG_ACK_REQUESTED | MSG_DELIVERED_RPT | MSG_BP_EXPEDITED_PRIORITY;
	int fd = open_bound(5, NULL);

	assert_int_equal(bp_sendto(fd, "Hello!", 7, bp_flags | MSG_DONTWAIT, (struct sockaddr *)&d,
				   sizeof(d)),
			 7);
	assert_int_equal(FAKE(sends), 1);
	assert_string_equal(FAKE_STR(dest), "ipn:2.1");
	assert_int_equal(FAKE(flags), bp_flags); /* MSG_DONTWAIT is libbp's, not bpd's */
	assert_int_equal(FAKE(lifetime), 86400000);
	assert_int_equal(FAKE(crc_type), 2);
	assert_string_equal(FAKE_STR(report_to), "");
	assert_false(FAKE(payload_by_fd));
	assert_int_equal(FAKE(payload_len), 7);
	assert_memory_equal(fake.payload, "Hello!", 7);
	assert_int_equal(bp_close(fd), 0);
}

static void sendmsg_gathers_iovecs_inline(void **state)
{
	struct sockaddr_bp_eid d = eid_addr(BP_SCHEME_DTN, "dtn://peer/app");
	struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
	struct msghdr msg = {
		.msg_name = &d, .msg_namelen = sizeof(d), .msg_iov = iov, .msg_iovlen = 3
	};
	int fd = open_bound(5, NULL);

	assert_int_equal(bp_sendmsg(fd, &msg, 0), 5);
	assert_string_equal(FAKE_STR(dest), "dtn://peer/app");
	assert_false(FAKE(payload_by_fd));
	assert_int_equal(FAKE(payload_len), 5);
	assert_memory_equal(fake.payload, "abcde", 5);
	assert_int_equal(bp_close(fd), 0);
}

static void sendmsg_large_payload_travels_as_sealed_memfd(void **state)
{
	size_t len = (1 << 20) + 1, half = len / 2; /* one byte over the inline size */
	uint8_t *p = malloc(len);
	struct sockaddr_bp d = ipn(2, 1);
	struct iovec iov[2] = { { p, half }, { p + half, len - half } };
	struct msghdr msg = {
		.msg_name = &d, .msg_namelen = sizeof(d), .msg_iov = iov, .msg_iovlen = 2
	};
	int fd = open_bound(5, NULL);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7);
	assert_int_equal(bp_sendmsg(fd, &msg, 0), (ssize_t)len);
	assert_true(FAKE(payload_by_fd));
	assert_int_equal(FAKE(seals), SEALS_ALL);
	assert_int_equal(FAKE(payload_len), len);
	assert_memory_equal(fake.payload, p, len);
	/* At the threshold itself the payload still goes inline. */
	iov[0].iov_len = 1 << 20;
	msg.msg_iovlen = 1;
	assert_int_equal(bp_sendmsg(fd, &msg, 0), 1 << 20);
	assert_false(FAKE(payload_by_fd));
	free(p);
	assert_int_equal(bp_close(fd), 0);
}

static void send_fails_with_the_errno_bpd_gives(void **state)
{
	struct sockaddr_bp full = ipn(FAKE_DEST_FULL), gone = ipn(FAKE_DEST_HANGUP);
	int fd = open_bound(5, NULL);

	assert_fails(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&full, sizeof(full)), ENOBUFS);
	assert_fails(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&gone, sizeof(gone)), ECONNRESET);
	/* The connection stays unusable rather than out of step. */
	assert_fails(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&full, sizeof(full)), ECONNRESET);
	assert_int_equal(bp_close(fd), 0);
}

/* Options */

static void sockopts_reach_the_send_request(void **state)
{
	struct sockaddr_bp d = ipn(2, 1), rpt = ipn(1, 7), got;
	uint64_t lifetime = 5000, v64 = 0;
	int crc = 1, v = 0;
	socklen_t len;
	int fd = open_bound(5, NULL);

	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_LIFETIME, &lifetime, sizeof(lifetime)), 0);
	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_CRC_TYPE, &crc, sizeof(crc)), 0);
	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_REPORT_TO, &rpt, sizeof(rpt)), 0);
	assert_int_equal(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)), 1);
	assert_int_equal(FAKE(lifetime), 5000);
	assert_int_equal(FAKE(crc_type), 1);
	assert_string_equal(FAKE_STR(report_to), "ipn:1.7");

	len = sizeof(v64);
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_LIFETIME, &v64, &len), 0);
	assert_int_equal(v64, 5000);
	len = sizeof(v);
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_CRC_TYPE, &v, &len), 0);
	assert_int_equal(v, 1);
	len = sizeof(got);
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_REPORT_TO, &got, &len), 0);
	assert_int_equal(len, sizeof(got));
	assert_int_equal(got.bp_addr.ipn.service_id, 7);

	/* No address: back to the socket's own EID. */
	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_REPORT_TO, NULL, 0), 0);
	assert_int_equal(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)), 1);
	assert_string_equal(FAKE_STR(report_to), "");
	len = sizeof(got);
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_REPORT_TO, &got, &len), 0);
	assert_int_equal(got.bp_addr.ipn.service_id, 5);
	assert_int_equal(bp_close(fd), 0);
}

static void sockopts_reject_bad_sizes_values_and_names(void **state)
{
	uint64_t zero = 0;
	int v = 3, small = 0;
	socklen_t len = 2;
	int fd = open_socket(NULL);

	assert_fails(bp_setsockopt(fd, SOL_BP, BP_LIFETIME, &v, sizeof(v)), EINVAL);
	assert_fails(bp_setsockopt(fd, SOL_BP, BP_LIFETIME, &zero, sizeof(zero)), EINVAL);
	assert_fails(bp_setsockopt(fd, SOL_BP, BP_CRC_TYPE, &v, 2), EINVAL);
	assert_fails(bp_setsockopt(fd, SOL_BP, BP_CRC_TYPE, &v, sizeof(v)), EINVAL);
	v = 2;
	assert_fails(bp_setsockopt(fd, SOL_BP, BP_DELIVERY_POLICY, &v, sizeof(v)), EINVAL);
	assert_fails(bp_setsockopt(fd, SOL_BP, BP_REPORT_TO, &v, sizeof(v)), EINVAL);
	assert_fails(bp_setsockopt(fd, SOL_BP, 99, &v, sizeof(v)), ENOPROTOOPT);
	assert_fails(bp_setsockopt(fd, SOL_BP + 1, 1, &v, sizeof(v)), ENOPROTOOPT);
	assert_fails(bp_getsockopt(fd, SOL_BP, BP_CRC_TYPE, &small, &len), EINVAL);
	len = sizeof(v);
	assert_fails(bp_getsockopt(fd, SOL_BP, 99, &v, &len), ENOPROTOOPT);
	/* Unbound, no report-to set: no address. */
	len = sizeof(v);
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_REPORT_TO, &v, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(bp_close(fd), 0);
}

static void delivery_policy_goes_in_bind_then_setopt(void **state)
{
	struct sockaddr_bp a = ipn(1, 5);
	int v = BP_DELIVERY_ABANDON;
	socklen_t len = sizeof(v);
	int fd = open_socket(NULL);

	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_DELIVERY_POLICY, &v, sizeof(v)), 0);
	assert_int_equal(FAKE(setopts), 0);
	assert_int_equal(bp_bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(FAKE(bind_policy), BP_DELIVERY_ABANDON);
	v = BP_DELIVERY_DEFER;
	assert_int_equal(bp_setsockopt(fd, SOL_BP, BP_DELIVERY_POLICY, &v, sizeof(v)), 0);
	assert_int_equal(FAKE(setopts), 1);
	assert_int_equal(FAKE(setopt_option), BP_OPT_DELIVERY_POLICY);
	assert_int_equal(FAKE(setopt_value), BP_DELIVERY_DEFER);
	v = -1;
	assert_int_equal(bp_getsockopt(fd, SOL_BP, BP_DELIVERY_POLICY, &v, &len), 0);
	assert_int_equal(v, BP_DELIVERY_DEFER);
	assert_int_equal(bp_close(fd), 0);
}

/* Receiving */

static void recv_on_empty_socket_fails_with_eagain(void **state)
{
	char buf[8];
	struct msghdr msg;
	int fd = open_bound(5, NULL);

	assert_false(readable(fd));
	assert_fails(recv_into(fd, buf, sizeof(buf), MSG_DONTWAIT, &msg), EAGAIN);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_fails(recv_into(fd, buf, sizeof(buf), 0, &msg), EAGAIN);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_times_out_with_eagain_after_so_rcvtimeo(void **state)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 20000 }, got = { 0 };
	socklen_t len = sizeof(got);
	char buf[8];
	int fd = open_bound(5, NULL);

	assert_int_equal(bp_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(bp_getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
	assert_int_equal(got.tv_usec, 20000);
	assert_fails(bp_recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL), EAGAIN);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_fills_sockaddr_bp_and_consumes(void **state)
{
	struct sockaddr_bp src = { 0 };
	socklen_t len = sizeof(src);
	char buf[16];
	int client;
	int fd = open_bound(5, &client);

	deliver(client, 7, BP_DELIVERY_DATA, "ipn:3.4", "hello", 5, false);
	assert_true(readable(fd)); /* poll sees a waiting bundle */
	assert_int_equal(bp_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &len), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(len, sizeof(src));
	assert_int_equal(src.bp_family, AF_BP);
	assert_int_equal(src.bp_scheme, BP_SCHEME_IPN);
	assert_int_equal(src.bp_addr.ipn.node_id, 3);
	assert_int_equal(src.bp_addr.ipn.service_id, 4);
	assert_int_equal(FAKE_REACHES(consumed, 1), 1);
	assert_int_equal(FAKE(last_consumed), 7);
	assert_false(readable(fd));
	assert_int_equal(bp_close(fd), 0);
}

static void recv_peek_trunc_learns_the_size_then_receives(void **state)
{
	uint8_t payload[300], buf[300];
	struct msghdr msg;
	int client;
	int fd = open_bound(5, &client);

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	deliver(client, 11, BP_DELIVERY_DATA, "ipn:3.4", payload, sizeof(payload), false);
	/* bp-socket's two-step receive: learn the size... */
	assert_int_equal(recv_into(fd, NULL, 0, MSG_PEEK | MSG_TRUNC, &msg), 300);
	assert_true(msg.msg_flags & MSG_TRUNC);
	assert_int_equal(FAKE(consumed), 0);
	assert_true(readable(fd));
	/* ...then take it with a buffer that large. */
	assert_int_equal(recv_into(fd, buf, sizeof(buf), 0, &msg), 300);
	assert_int_equal(msg.msg_flags, 0);
	assert_memory_equal(buf, payload, sizeof(payload));
	assert_int_equal(FAKE_REACHES(consumed, 1), 1);
	assert_int_equal(FAKE(last_consumed), 11);
	assert_false(readable(fd));
	assert_int_equal(bp_close(fd), 0);
}

static void recv_too_small_without_trunc_fails_emsgsize_and_keeps_bundle(void **state)
{
	char payload[100], buf[100];
	struct msghdr msg;
	int client;
	int fd = open_bound(5, &client);

	memset(payload, 'p', sizeof(payload));
	deliver(client, 12, BP_DELIVERY_DATA, "ipn:3.4", payload, sizeof(payload), false);
	assert_fails(recv_into(fd, buf, 10, 0, &msg), EMSGSIZE);
	assert_fails(recv_into(fd, buf, 10, MSG_PEEK, &msg), EMSGSIZE);
	assert_int_equal(FAKE(consumed), 0);
	assert_true(readable(fd));
	assert_int_equal(recv_into(fd, buf, sizeof(buf), 0, &msg), 100);
	assert_memory_equal(buf, payload, sizeof(payload));
	assert_int_equal(FAKE_REACHES(consumed, 1), 1);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_trunc_without_peek_takes_what_fits(void **state)
{
	char payload[100], buf[10];
	struct msghdr msg;
	int client;
	int fd = open_bound(5, &client);

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	deliver(client, 13, BP_DELIVERY_DATA, "ipn:3.4", payload, sizeof(payload), false);
	assert_int_equal(recv_into(fd, buf, sizeof(buf), MSG_TRUNC, &msg), 100);
	assert_true(msg.msg_flags & MSG_TRUNC);
	assert_memory_equal(buf, payload, sizeof(buf));
	assert_int_equal(FAKE_REACHES(consumed, 1), 1);
	assert_fails(recv_into(fd, buf, sizeof(buf), MSG_DONTWAIT, &msg), EAGAIN);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_reads_a_payload_passed_as_fd(void **state)
{
	size_t len = 200 * 1024 + 3;
	uint8_t *payload = malloc(len), *buf = malloc(len);
	struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, len - 1000 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int client;
	int fd = open_bound(5, &client);

	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 13);
	deliver(client, 14, BP_DELIVERY_DATA, "ipn:3.4", payload, len, true);
	assert_int_equal(bp_recvmsg(fd, &msg, MSG_PEEK), (ssize_t)len);
	assert_int_equal(bp_recvmsg(fd, &msg, 0), (ssize_t)len);
	assert_memory_equal(buf, payload, len);
	assert_int_equal(FAKE(last_consumed), 14);
	free(payload);
	free(buf);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_marks_status_reports(void **state)
{
	char buf[16];
	struct msghdr msg;
	int client;
	int fd = open_bound(5, &client);

	deliver(client, 15, BP_DELIVERY_REPORT, "ipn:3.0", "\x82\x01\x80", 3, false);
	deliver(client, 16, BP_DELIVERY_DATA, "ipn:3.4", "data", 4, false);
	assert_int_equal(recv_into(fd, buf, sizeof(buf), 0, &msg), 3);
	assert_int_equal(msg.msg_flags, MSG_BP_STATUS_REPORT);
	assert_int_equal(recv_into(fd, buf, sizeof(buf), 0, &msg), 4);
	assert_int_equal(msg.msg_flags, 0);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_gives_sockaddr_bp_eid_for_other_sources(void **state)
{
	struct sockaddr_bp_eid e;
	struct sockaddr_bp small;
	socklen_t len = sizeof(e);
	size_t want = offsetof(struct sockaddr_bp_eid, bp_eid) + sizeof("dtn://node/app");
	char buf[8];
	int client;
	int fd = open_bound(5, &client);

	deliver(client, 17, BP_DELIVERY_DATA, "dtn://node/app", "a", 1, false);
	deliver(client, 18, BP_DELIVERY_DATA, "ipn:977000.1.5", "b", 1, false);
	deliver(client, 19, BP_DELIVERY_DATA, "dtn://node/app", "c", 1, false);
	assert_int_equal(bp_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&e, &len), 1);
	assert_int_equal(len, want);
	assert_int_equal(e.bp_family, AF_BP);
	assert_int_equal(e.bp_scheme, BP_SCHEME_DTN);
	assert_string_equal(e.bp_eid, "dtn://node/app");
	len = sizeof(e);
	assert_int_equal(bp_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&e, &len), 1);
	assert_int_equal(e.bp_scheme, BP_SCHEME_IPN);
	assert_string_equal(e.bp_eid, "ipn:977000.1.5");
	/* Too small: what fits, and the full size, as POSIX says. */
	memset(&small, 0, sizeof(small));
	len = sizeof(small);
	assert_int_equal(bp_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&small, &len), 1);
	assert_int_equal(len, want);
	assert_int_equal(small.bp_family, AF_BP);
	assert_int_equal(bp_close(fd), 0);
}

static void recv_drops_a_malformed_delivery_with_eproto(void **state)
{
	char buf[8];
	struct msghdr msg;
	int client;
	int fd = open_bound(5, &client);

	assert_int_equal(send_with_fd(FAKE(clients[client].delivery), "garbage!!!!!!", 13, -1), 0);
	assert_fails(recv_into(fd, buf, sizeof(buf), 0, &msg), EPROTO);
	assert_false(readable(fd));
	assert_int_equal(FAKE(consumed), 0);
	assert_int_equal(bp_close(fd), 0);
}

/* Closing and many sockets */

static void close_releases_both_channels(void **state)
{
	struct sockaddr_bp d = ipn(2, 1);
	struct pollfd p = { .events = POLLIN };
	int client;
	int fd = open_bound(5, &client);

	p.fd = FAKE(clients[client].delivery);
	assert_int_equal(bp_close(fd), 0);
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_true(p.revents & POLLHUP);
	assert_fails(bp_close(fd), EBADF);
	assert_fails(bp_sendto(fd, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)), EBADF);
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void sending_and_receiving_leave_no_fds_behind(void **state)
{
	size_t len = 100 * 1024;
	uint8_t *p = calloc(1, len);
	struct sockaddr_bp d = ipn(2, 1);
	struct msghdr msg;
	int before = count_fds(), client, fd;

	fd = open_bound(5, &client);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bp_sendto(fd, p, len, 0, (struct sockaddr *)&d, sizeof(d)), len);
		deliver(client, 20 + (uint64_t)i, BP_DELIVERY_DATA, "ipn:3.4", p, len, true);
		assert_int_equal(recv_into(fd, p, len, MSG_PEEK, &msg), len);
		assert_fails(recv_into(fd, p, 10, 0, &msg), EMSGSIZE);
		assert_int_equal(recv_into(fd, p, len, 0, &msg), len);
	}
	assert_int_equal(bp_close(fd), 0);
	/*
	 * What is left is the fake's: its delivery end, and its control end until
	 * its thread sees EOF (on a loaded machine, give it up to 2 s).
	 */
	for (int i = 0; i < 200 && count_fds() > before + 2; i++)
		usleep(10000);
	assert_in_range(count_fds(), before + 1, before + 2);
	free(p);
}

struct worker {
	uint32_t service;
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_bp a = ipn(1, w->service), d = ipn(2, 1);
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	if (fd < 0 || bp_bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		w->failures++;
	for (int i = 0; i < 50; i++)
		if (bp_sendto(fd, "ping", 4, 0, (struct sockaddr *)&d, sizeof(d)) != 4)
			w->failures++;
	if (bp_close(fd) < 0)
		w->failures++;
	return NULL;
}

static void distinct_sockets_work_from_many_threads(void **state)
{
	pthread_t t[4];
	struct worker w[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .service = 100 + (uint32_t)i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(FAKE(sends), 4 * 50);
}

static void many_sockets_each_keep_their_state(void **state)
{
	int fds[100];

	for (int i = 0; i < 100; i++) {
		uint64_t lifetime = 1000 + (uint64_t)i;

		fds[i] = open_socket(NULL);
		assert_int_equal(
			bp_setsockopt(fds[i], SOL_BP, BP_LIFETIME, &lifetime, sizeof(lifetime)), 0);
	}
	for (int i = 0; i < 100; i++) {
		uint64_t lifetime = 0;
		socklen_t len = sizeof(lifetime);

		assert_int_equal(bp_getsockopt(fds[i], SOL_BP, BP_LIFETIME, &lifetime, &len), 0);
		assert_int_equal(lifetime, 1000 + (uint64_t)i);
		assert_int_equal(bp_close(fds[i]), 0);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, fake_reset, fake_check)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(socket_rejects_other_domains_and_types),
		T(socket_returns_a_blocking_cloexec_delivery_fd),
		T(socket_without_daemon_fails_with_econnrefused),
		T(calls_on_other_fds_fail_with_ebadf_or_enotsock),
		T(bind_rejects_bad_addresses_like_bp_socket),
		T(bind_sends_eid_and_policy_and_maps_status),
		T(bind_accepts_eid_text),
		T(send_and_recv_before_bind_fail_with_eaddrnotavail),
		T(sendto_rejects_bad_destinations),
		T(sendto_zero_length_sends_an_empty_bundle),
		T(sendto_small_payload_travels_inline_with_flags),
		T(sendmsg_gathers_iovecs_inline),
		T(sendmsg_large_payload_travels_as_sealed_memfd),
		T(send_fails_with_the_errno_bpd_gives),
		T(sockopts_reach_the_send_request),
		T(sockopts_reject_bad_sizes_values_and_names),
		T(delivery_policy_goes_in_bind_then_setopt),
		T(recv_on_empty_socket_fails_with_eagain),
		T(recv_times_out_with_eagain_after_so_rcvtimeo),
		T(recv_fills_sockaddr_bp_and_consumes),
		T(recv_peek_trunc_learns_the_size_then_receives),
		T(recv_too_small_without_trunc_fails_emsgsize_and_keeps_bundle),
		T(recv_trunc_without_peek_takes_what_fits),
		T(recv_reads_a_payload_passed_as_fd),
		T(recv_marks_status_reports),
		T(recv_gives_sockaddr_bp_eid_for_other_sources),
		T(recv_drops_a_malformed_delivery_with_eproto),
		T(close_releases_both_channels),
		T(sending_and_receiving_leave_no_fds_behind),
		T(distinct_sockets_work_from_many_threads),
		T(many_sockets_each_keep_their_state),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
