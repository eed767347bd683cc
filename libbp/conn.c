/* SPDX-License-Identifier: MIT */
/* libbp's AF_UNIX plumbing: the control connection and fd passing (conn.h). */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* More fds than any message carries: room to receive (and close) strays. */
#define CONN_FDS_MAX 4

/* Largest errno a status may carry; anything beyond is not an errno. */
#define CONN_ERRNO_MAX 4095

int conn_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	r = bp_proto_socket_path(sun.sun_path, sizeof(sun.sun_path));
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * Room for a 1 MiB inline SEND (send.c). The kernel caps it at
	 * net.core.wmem_max; a SEND it will not take in one piece goes as a
	 * memfd instead.
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ CONN_SNDBUF }, sizeof(int));
	do
		r = connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		/* "No daemon" either way: the socket file is missing or nobody accepts. */
		r = errno == ENOENT || errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

bool conn_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

int conn_sendv(int sock, const struct iovec *iov, size_t n, int pass_fd, int wait)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	int flags = MSG_NOSIGNAL | (wait == CONN_WAIT ? 0 : MSG_DONTWAIT);
	ssize_t r;

	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	for (;;) {
		r = sendmsg(sock, &mh, flags);
		if (r >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* No room: wait for it, unless the app's descriptor says not to. */
		if (errno == EAGAIN && (flags & MSG_DONTWAIT) && wait >= 0 &&
		    !conn_nonblocking(wait)) {
			flags &= ~MSG_DONTWAIT;
			continue;
		}
		return errno == EPIPE ? -ECONNRESET : -errno;
	}
}

int conn_send(int sock, const void *msg, size_t len, int pass_fd, bool dontwait)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return conn_sendv(sock, &iov, 1, pass_fd, dontwait ? CONN_DONTWAIT : CONN_WAIT);
}

/* Keep the first passed fd (when asked to), close every other one. */
static void take_fds(struct msghdr *mh, int *ret_fd)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (ret_fd && *ret_fd < 0)
				*ret_fd = fd;
			else
				(void)close(fd);
		}
	}
}

ssize_t conn_recv(int sock, void *buf, size_t cap, int flags, int *ret_fd, bool *ret_trunc)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CONN_FDS_MAX)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	if (ret_fd)
		*ret_fd = -1;
	n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	take_fds(&mh, ret_fd);
	*ret_trunc = mh.msg_flags & MSG_TRUNC;
	return n;
}

/* Read one message from the control connection into ret. */
static int read_one(int ctl, struct conn_reply *ret, int *ret_fd)
{
	struct bp_msg_error err;
	bool trunc;
	ssize_t n;

	do
		n = conn_recv(ctl, ret->buf, sizeof(ret->buf), 0, ret_fd, &trunc);
	while (n == -EINTR);
	if (n < 0)
		return n == -EPIPE ? -ECONNRESET : (int)n;
	if (n == 0)
		return -ECONNRESET;
	if (trunc || bp_msg_decode(ret->buf, (size_t)n, &ret->msg, &err) < 0)
		return -EPROTO;
	return ret->msg.type == BP_MSG_REPLY ? 0 : -EPROTO;
}

/* Read the one REPLY to `request`; any fd it carries goes to *ret_fd. */
static int read_reply(int ctl, uint32_t request, struct conn_reply *ret, int *ret_fd)
{
	for (;;) {
		int r = read_one(ctl, ret, ret_fd);

		if (r < 0 || ret->msg.request != 0)
			return r < 0 ? r : ret->msg.request == request ? 0 : -EPROTO;
		if (*ret_fd >= 0) /* a reply to request 0 carries nothing of ours */
			(void)close(*ret_fd);
	}
}

int conn_callv(int ctl, const struct iovec *iov, size_t n, uint32_t request, int pass_fd, int wait,
	       struct conn_reply *ret, int *ret_fd)
{
	int r;

	if (ret_fd)
		*ret_fd = -1;
	r = conn_sendv(ctl, iov, n, pass_fd, wait);
	if (r < 0)
		return r; /* nothing was sent: the connection is still in step */
	return conn_reply(ctl, request, ret, ret_fd);
}

int conn_reply(int ctl, uint32_t request, struct conn_reply *ret, int *ret_fd)
{
	uint64_t status;
	int fd = -1, r;

	if (ret_fd)
		*ret_fd = -1;
	r = read_reply(ctl, request, ret, &fd);
	if (r < 0) {
		if (fd >= 0)
			(void)close(fd);
		(void)shutdown(ctl, SHUT_RDWR);
		return r;
	}
	status = bp_msg_u64(&ret->msg, BP_F_STATUS, 0);
	if (status > CONN_ERRNO_MAX)
		(void)shutdown(ctl, SHUT_RDWR);
	if (status == 0 && ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		(void)close(fd);
	return status > CONN_ERRNO_MAX ? -EPROTO : -(int)status;
}

int conn_call(int ctl, const void *msg, size_t len, uint32_t request, int pass_fd, bool dontwait,
	      struct conn_reply *ret, int *ret_fd)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return conn_callv(ctl, &iov, 1, request, pass_fd, dontwait ? CONN_DONTWAIT : CONN_WAIT, ret,
			  ret_fd);
}

int conn_iov_len(const struct iovec *iov, size_t n, size_t *ret)
{
	size_t total = 0;

	if (n > IOV_MAX)
		return -EMSGSIZE;
	if (n > 0 && !iov)
		return -EFAULT;
	for (size_t i = 0; i < n; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		if (iov[i].iov_len > 0 && !iov[i].iov_base)
			return -EFAULT;
		total += iov[i].iov_len;
	}
	*ret = total;
	return 0;
}
