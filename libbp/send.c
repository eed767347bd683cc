/* SPDX-License-Identifier: MIT */
/*
 * libbp: sending bundles (bp_sendmsg, bp_sendto).
 *
 * A send is one SEND request and its reply: it returns once bpd has stored
 * the bundle, or fails with the errno bpd gives (ENOBUFS when the store is
 * full, ...). Small payloads travel inside the request; larger ones in a
 * sealed memfd passed with it, so there is no size limit but the store's.
 */
#include "bp/bp.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "sock.h"

/*
 * Payloads up to this size travel inline, larger ones as a memfd. A tunable,
 * invisible to applications. Inline costs two copies (into the request,
 * through the socket); a fresh memfd costs its creation and page
 * allocation, which DESIGN.md 4 measured 2.4x slower than 1 MiB inline, so
 * the cut-over could rise. 64 KiB keeps every inline request well below the
 * default AF_UNIX send buffer; a larger one needs a larger SO_SNDBUF.
 */
static const size_t inline_max = 64 * 1024;

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

static void gather(const struct iovec *iov, size_t n, uint8_t *dst)
{
	for (size_t i = 0; i < n; i++) {
		if (iov[i].iov_len > 0)
			memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
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

static int send_inline(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		       int flags, bool dontwait)
{
	const void *payload = msg->msg_iovlen == 1 ? msg->msg_iov[0].iov_base : NULL;
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
	long n;

	/* The request, then room to gather a scattered payload. */
	if (!s->tx)
		s->tx = malloc(SEND_OVERHEAD + 2 * inline_max);
	if (!s->tx)
		return -ENOMEM;
	if (!payload) {
		gather(msg->msg_iov, msg->msg_iovlen, s->tx + SEND_OVERHEAD + inline_max);
		payload = s->tx + SEND_OVERHEAD + inline_max;
	}
	bp_msg_begin(&w, s->tx, SEND_OVERHEAD + inline_max, BP_MSG_SEND, id);
	put_send_fields(&w, s, dest, flags);
	bp_msg_put_bytes(&w, BP_F_PAYLOAD, payload, len);
	n = bp_msg_end(&w);
	if (n < 0)
		return (int)n;
	return conn_call(s->ctl, s->tx, (size_t)n, id, -1, dontwait, &rep, NULL);
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
		      int flags, bool dontwait)
{
	uint8_t req[SEND_OVERHEAD];
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
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
	r = n < 0 ? (int)n : conn_call(s->ctl, req, (size_t)n, id, mfd, dontwait, &rep, NULL);
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
	int fd = -1;

	*ret_fd = -1;
	if (!msg->msg_control || msg->msg_controllen == 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_BP || cm->cmsg_type != BP_PAYLOAD_FD)
			continue;
		if (fd >= 0 || cm->cmsg_len != CMSG_LEN(sizeof(int)))
			return -EINVAL;
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*ret_fd = fd;
	*ret_len = (size_t)st.st_size;
	return 0;
}

static int send_fd(struct bp_sock *s, const char *dest, int fd, size_t len, int flags,
		   bool dontwait)
{
	uint8_t req[SEND_OVERHEAD];
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	struct bp_msg_wr w;
	long n;

	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SEND, id);
	put_send_fields(&w, s, dest, flags);
	bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, len);
	n = bp_msg_end(&w);
	return n < 0 ? (int)n : conn_call(s->ctl, req, (size_t)n, id, fd, dontwait, &rep, NULL);
}

/*
 * MSG_DONTWAIT, or O_NONBLOCK on the socket, means: never wait for room on
 * the control connection, nor for another thread's request on this socket
 * (-EAGAIN instead). The send still waits for bpd's verdict: that verdict,
 * stored or not, is what it returns.
 */
static ssize_t send_msg(struct bp_sock *s, const struct msghdr *msg, int flags)
{
	char dest[BP_PROTO_MAX_EID + 1];
	bool dontwait = flags & MSG_DONTWAIT;
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
	if (!dontwait) {
		int fl = fcntl(s->fd, F_GETFL);

		dontwait = fl >= 0 && (fl & O_NONBLOCK);
	}
	if (!dontwait)
		pthread_mutex_lock(&s->ctl_lock);
	else if (pthread_mutex_trylock(&s->ctl_lock) != 0)
		return -EAGAIN;
	if (file >= 0) {
		len = file_len;
		r = send_fd(s, dest, file, len, flags, dontwait);
	} else if (len <= inline_max) {
		r = send_inline(s, dest, msg, len, flags, dontwait);
	} else {
		r = send_memfd(s, dest, msg, len, flags, dontwait);
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
