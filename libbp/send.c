/* SPDX-License-Identifier: MIT */
/*
 * libbp: sending bundles (bp_sendmsg, bp_sendto).
 *
 * A send is one SEND request and its reply: it returns once bpd has stored
 * the bundle, or fails with the errno bpd gives (ENOBUFS when the store is
 * full, ...). Payloads that fit one datagram travel inside the request,
 * straight from the app's buffers; larger ones in a sealed memfd passed
 * with it, so there is no size limit but the store's.
 */
#include "bp/bp.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "sock.h"

/* Everything in a SEND but the payload: header, two EIDs, integer fields. */
#define SEND_OVERHEAD                                                                              \
	(BP_PROTO_HDR_LEN + 2 * (BP_PROTO_FIELD_HDR_LEN + BP_PROTO_MAX_EID) +                      \
	 5 * (BP_PROTO_FIELD_HDR_LEN + 8) + BP_PROTO_FIELD_HDR_LEN)

/* bp-socket's send flags: carried to bpd in the request, never given to the kernel. */
#define SEND_BP_FLAGS                                                                              \
	(MSG_ACK_REQUESTED | MSG_RECEIVED_RPT | MSG_CUSTODY_RPT | MSG_FORWARDED_RPT |              \
	 MSG_DELIVERED_RPT | MSG_DELETED_RPT | MSG_BP_BULK_PRIORITY | MSG_BP_STD_PRIORITY |        \
	 MSG_BP_EXPEDITED_PRIORITY | MSG_SOURCE_CUSTODY_REQUIRED | MSG_SOURCE_CUSTODY_OPTIONAL |   \
	 MSG_NO_CUSTODY_REQUIRED)

#define MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* An inline payload in more iovecs than this goes as a memfd (rare: no copy to gather it). */
#define SEND_IOV_MAX 64

/*
 * Payloads up to this size travel inline, larger ones as a memfd. A tunable,
 * invisible to applications. Inline costs one copy into the kernel and one
 * out in bpd; a fresh memfd costs its creation and its pages too, and bpd
 * copies it out again: with 1 MiB inline both ways, bench_local moved
 * about 2.5x the MiB/s of memfds (bench/README.md). 64 KiB keeps every
 * inline request well below the default AF_UNIX send buffer; a larger one
 * needs a larger SO_SNDBUF on the control connection (test_libbp checks
 * that 64 KiB + 1 goes as a memfd).
 */
static const size_t inline_max = 64 * 1024;

/* Write v as n big-endian bytes at p. */
static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* A SEND's fields before the payload; call with ctl_lock held (options). */
static void put_send_fields(struct bp_msg_wr *w, const struct bp_sock *s, const char *dest,
			    int flags)
{
	bp_msg_put_bytes(w, BP_F_DEST, dest, strlen(dest));
	if (s->report_to[0])
		bp_msg_put_bytes(w, BP_F_REPORT_TO, s->report_to, strlen(s->report_to));
	bp_msg_put_u64(w, BP_F_FLAGS, (uint64_t)(flags & SEND_BP_FLAGS));
	bp_msg_put_u64(w, BP_F_LIFETIME, s->lifetime);
	bp_msg_put_u64(w, BP_F_CRC_TYPE, (uint64_t)s->crc_type);
}

/*
 * A SEND with the payload inline, sent from the app's own buffers: the
 * request's fields and the payload field's header in req, the field's value
 * in the app's iovecs, so libbp copies nothing. *ret_fallback says the
 * kernel would not take the datagram now (no memory for it in one piece):
 * the caller sends a memfd instead.
 */
static int send_inline(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		       int flags, int wait, bool *ret_fallback)
{
	struct iovec iov[1 + SEND_IOV_MAX];
	uint8_t req[SEND_OVERHEAD];
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
	long n;
	int r;

	*ret_fallback = false;
	bp_msg_begin(&w, req, sizeof(req) - BP_PROTO_FIELD_HDR_LEN, BP_MSG_SEND, id);
	put_send_fields(&w, s, dest, flags);
	n = bp_msg_end(&w);
	if (n < 0)
		return (int)n;
	put_be(req + n, BP_F_PAYLOAD, 2);
	put_be(req + n + 2, len, 4);
	n += BP_PROTO_FIELD_HDR_LEN;
	put_be(req + 4, (uint64_t)n + len, 4); /* the header's length: the whole message */
	iov[0] = (struct iovec){ .iov_base = req, .iov_len = (size_t)n };
	if (msg->msg_iovlen > 0) /* an empty payload may come with no iovec array */
		memcpy(&iov[1], msg->msg_iov, msg->msg_iovlen * sizeof(iov[0]));
	r = conn_sendv(s->ctl, iov, 1 + msg->msg_iovlen, -1, wait);
	if (r == -ENOBUFS || r == -ENOMEM || r == -EMSGSIZE) {
		*ret_fallback = true; /* nothing was sent */
		return r;
	}
	return r < 0 ? r : conn_reply(s->ctl, id, &rep, NULL);
}

static int write_all(int fd, const struct iovec *iov, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0) {
			ssize_t k = write(fd, p, left);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			p += k;
			left -= (size_t)k;
		}
	}
	return 0;
}

/*
 * The payload in a fresh memfd, sealed so that bpd can map it knowing it
 * will not change under it. Sealing is final, so memfds are not pooled: a
 * pool would have to hand bpd a file the app can still write.
 */
static int send_memfd(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		      int flags, int wait)
{
	uint8_t req[SEND_OVERHEAD];
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
	struct iovec iov;
	int mfd, r;
	long n;

	mfd = memfd_create("bp-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	r = write_all(mfd, msg->msg_iov, msg->msg_iovlen);
	if (r == 0 && fcntl(mfd, F_ADD_SEALS, MEMFD_SEALS) < 0)
		r = -errno;
	if (r < 0)
		goto out_close_mfd;
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SEND, id);
	put_send_fields(&w, s, dest, flags);
	bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, len);
	n = bp_msg_end(&w);
	if (n < 0) {
		r = (int)n;
		goto out_close_mfd;
	}
	iov = (struct iovec){ .iov_base = req, .iov_len = (size_t)n };
	r = conn_callv(s->ctl, &iov, 1, id, mfd, wait, &rep, NULL);
out_close_mfd:
	(void)close(mfd);
	return r;
}

/*
 * The caller's own file as the payload (BP_PAYLOAD_FD): passed to bpd as it
 * is, which reads it from offset 0. Sets *ret_fd (-1 when the message has
 * none) and its size *ret_len; returns 0, or -EINVAL for a malformed control
 * message or a descriptor that is not a regular file.
 */
static int payload_fd_of(const struct msghdr *msg, int *ret_fd, size_t *ret_len)
{
	struct msghdr mh = *msg;
	struct cmsghdr *cm;
	struct stat st;
	bool found = false;
	int fd = -1;

	*ret_fd = -1;
	if (!msg->msg_control || msg->msg_controllen == 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_BP || cm->cmsg_type != BP_PAYLOAD_FD)
			continue;
		if (found || cm->cmsg_len != CMSG_LEN(sizeof(int)))
			return -EINVAL;
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		found = true;
	}
	if (!found)
		return 0;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*ret_fd = fd;
	*ret_len = (size_t)st.st_size;
	return 0;
}

/*
 * The caller's file, copied by the kernel (sendfile: no pass through user
 * memory) into a sealed memfd: bpd reads only sealed memfds, so that no
 * client can hand it a file that blocks or changes under it.
 */
static int send_file(struct bp_sock *s, const char *dest, int fd, size_t len, int flags,
		     bool dontwait)
{
	uint8_t req[SEND_OVERHEAD];
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
	off_t off = 0;
	int mfd, r = 0;
	long n;

	mfd = memfd_create("bp-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	while (r == 0 && (size_t)off < len) {
		ssize_t k = sendfile(mfd, fd, &off, len - (size_t)off);

		if (k < 0 && errno != EINTR)
			r = -errno;
		else if (k == 0)
			r = -EINVAL; /* the file shrank under us */
	}
	if (r == 0 && fcntl(mfd, F_ADD_SEALS, MEMFD_SEALS) < 0)
		r = -errno;
	if (r == 0) {
		bp_msg_begin(&w, req, sizeof(req), BP_MSG_SEND, id);
		put_send_fields(&w, s, dest, flags);
		bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, len);
		n = bp_msg_end(&w);
		r = n < 0 ? (int)n :
			    conn_call(s->ctl, req, (size_t)n, id, mfd, dontwait, &rep, NULL);
	}
	(void)close(mfd);
	return r;
}

/* The payload from the app's buffers: inline when it fits, else in a memfd. */
static int send_data(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		     int flags, int wait)
{
	bool fallback = false;
	int r;

	if (len > inline_max || msg->msg_iovlen > SEND_IOV_MAX)
		return send_memfd(s, dest, msg, len, flags, wait);
	r = send_inline(s, dest, msg, len, flags, wait, &fallback);
	return fallback ? send_memfd(s, dest, msg, len, flags, wait) : r;
}

/*
 * MSG_DONTWAIT, or O_NONBLOCK on the socket, means: never wait for room on
 * the control connection, nor for another thread's request on this socket
 * (-EAGAIN instead). The send still waits for bpd's verdict: that verdict,
 * stored or not, is what it returns. O_NONBLOCK is read only when there is
 * something to wait for, so the usual send costs no fcntl().
 */
static ssize_t send_msg(struct bp_sock *s, const struct msghdr *msg, int flags)
{
	char dest[BP_PROTO_MAX_EID + 1];
	int wait = flags & MSG_DONTWAIT ? CONN_DONTWAIT : s->fd;
	size_t len, file_len = 0;
	int r, file;

	if (!atomic_load(&s->bound))
		return -EADDRNOTAVAIL;
	r = addr_to_eid(msg->msg_name, msg->msg_namelen, ADDR_DEST, dest, sizeof(dest));
	if (r < 0)
		return r;
	r = conn_iov_len(msg->msg_iov, msg->msg_iovlen, &len);
	if (r < 0)
		return r;
	r = payload_fd_of(msg, &file, &file_len);
	if (r < 0)
		return r;
	if (file >= 0 && len > 0)
		return -EINVAL; /* the payload is the file or the data, not both */
	/* Unlike bp-socket, an empty send is a bundle with an empty payload (issue 3). */
	if (pthread_mutex_trylock(&s->ctl_lock) != 0) {
		if (wait == CONN_DONTWAIT || conn_nonblocking(s->fd))
			return -EAGAIN;
		pthread_mutex_lock(&s->ctl_lock);
	}
	if (file >= 0) {
		len = file_len;
		r = send_file(s, dest, file, len, flags,
			      wait == CONN_DONTWAIT || conn_nonblocking(s->fd));
	} else {
		r = send_data(s, dest, msg, len, flags, wait);
	}
	pthread_mutex_unlock(&s->ctl_lock);
	return r < 0 ? r : (ssize_t)len;
}

BP_EXPORT ssize_t bp_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct bp_sock *s = sock_get(fd);
	ssize_t r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	r = msg ? send_msg(s, msg, flags) : -EFAULT;
	sock_put(s);
	return r < 0 ? sock_fail((int)r) : r;
}

BP_EXPORT ssize_t bp_sendto(int fd, const void *buf, size_t len, int flags,
			    const struct sockaddr *dest, socklen_t dest_len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)dest,
		.msg_namelen = dest_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	return bp_sendmsg(fd, &msg, flags);
}
