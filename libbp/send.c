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
#include <limits.h>
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
	 6 * (BP_PROTO_FIELD_HDR_LEN + 8) + BP_PROTO_FIELD_HDR_LEN)

/* bp-socket's send flags: carried to bpd in the request, never given to the kernel. */
#define SEND_BP_FLAGS                                                                              \
	(MSG_ACK_REQUESTED | MSG_RECEIVED_RPT | MSG_CUSTODY_RPT | MSG_FORWARDED_RPT |              \
	 MSG_DELIVERED_RPT | MSG_DELETED_RPT | MSG_BP_BULK_PRIORITY | MSG_BP_STD_PRIORITY |        \
	 MSG_BP_EXPEDITED_PRIORITY | MSG_SOURCE_CUSTODY_REQUIRED | MSG_SOURCE_CUSTODY_OPTIONAL |   \
	 MSG_NO_CUSTODY_REQUIRED)

#define MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* Most messages one bp_sendmmsg() takes, as sendmmsg(2) (UIO_MAXIOV). */
#define SENDMMSG_MAX 1024u

/* An inline payload in more iovecs than this goes as a memfd (rare: no copy to gather it). */
#define SEND_IOV_MAX 64

/*
 * Payloads up to this size travel inline, larger ones as a memfd. A tunable,
 * invisible to applications. Inline costs one copy into the kernel and one
 * out in bpd; a fresh memfd costs its creation and a page fault per page,
 * and bpd copies it out again: bench_local measured 1 MiB inline at about
 * 2.5x the MiB/s of memfds (bench/README.md). An inline request needs room
 * in the connection's send buffer (conn.h: CONN_SNDBUF, capped by
 * net.core.wmem_max); one the kernel will not take goes as a memfd.
 */
static const size_t inline_max = 1 << 20;

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
	if (s->hop_limit)
		bp_msg_put_u64(w, BP_F_HOP_LIMIT, (uint64_t)s->hop_limit);
}

/*
 * A SEND with the payload inline, sent from the app's own buffers: the
 * request's fields and the payload field's header in req, the field's value
 * in the app's iovecs, so libbp copies nothing. *ret_fallback says the
 * kernel would not take the datagram now (no memory for it in one piece):
 * the caller sends a memfd instead.
 */
/*
 * Lay out an inline SEND in req (SEND_OVERHEAD bytes) and iov (room for
 * 1 + SEND_IOV_MAX): returns the iovec count, or -errno.
 */
static int build_inline(const struct bp_sock *s, const char *dest, const struct msghdr *msg,
			size_t len, int flags, bool batch, uint32_t id, uint8_t *req,
			struct iovec *iov)
{
	struct bp_msg_wr w;
	long n;

	bp_msg_begin(&w, req, SEND_OVERHEAD - BP_PROTO_FIELD_HDR_LEN, BP_MSG_SEND, id);
	put_send_fields(&w, s, dest, flags);
	if (batch)
		bp_msg_put_u64(&w, BP_F_BATCH, 1);
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
	return 1 + (int)msg->msg_iovlen;
}

/* The kernel would not take a datagram now (no memory for it in one piece). */
static bool kernel_refused(int r)
{
	return r == -ENOBUFS || r == -ENOMEM || r == -EMSGSIZE;
}

/* What bpd named a bundle it stored (BP_SENT_ID); call with ctl_lock held. */
static void note_sent(struct bp_sock *s, const struct bp_msg *reply)
{
	if (bp_msg_find(reply, BP_F_CREATION_TIME)) {
		s->sent_id.creation_time = bp_msg_u64(reply, BP_F_CREATION_TIME, 0);
		s->sent_id.sequence = bp_msg_u64(reply, BP_F_SEQUENCE, 0);
	}
}

static int put_inline(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		      int flags, int wait, uint32_t id, bool *ret_fallback)
{
	struct iovec iov[1 + SEND_IOV_MAX];
	uint8_t req[SEND_OVERHEAD];
	int n = build_inline(s, dest, msg, len, flags, false, id, req, iov), r;

	if (n < 0)
		return n;
	r = conn_sendv(s->ctl, iov, (size_t)n, -1, wait);
	*ret_fallback = kernel_refused(r); /* nothing was sent: a memfd will do */
	return r;
}

static int send_inline(struct bp_sock *s, const char *dest, const struct msghdr *msg, size_t len,
		       int flags, int wait, bool *ret_fallback)
{
	uint32_t id = sock_request_id(s);
	struct conn_reply rep;
	int r = put_inline(s, dest, msg, len, flags, wait, id, ret_fallback);

	if (r == 0)
		r = conn_reply(s->ctl, id, &rep, NULL);
	if (r == 0)
		note_sent(s, &rep.msg);
	return r;
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
	if (r == 0)
		note_sent(s, &rep.msg);
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
		if (r == 0)
			note_sent(s, &rep.msg);
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

/* Everything a send checks before it asks bpd; the EID, length and file fd. */
static int send_prepare(struct bp_sock *s, const struct msghdr *msg, char *dest, size_t *ret_len,
			int *ret_file, size_t *ret_file_len)
{
	int r;

	if (!atomic_load(&s->bound))
		return -EADDRNOTAVAIL;
	r = addr_to_eid(msg->msg_name, msg->msg_namelen, ADDR_DEST, dest, BP_PROTO_MAX_EID + 1);
	if (r < 0)
		return r;
	r = conn_iov_len(msg->msg_iov, msg->msg_iovlen, ret_len);
	if (r < 0)
		return r;
	r = payload_fd_of(msg, ret_file, ret_file_len);
	if (r < 0)
		return r;
	if (*ret_file >= 0 && *ret_len > 0)
		return -EINVAL; /* the payload is the file or the data, not both */
	return 0;
}

/* One send, its verdict awaited; call with ctl_lock held. Returns the length or -errno. */
static ssize_t send_one_locked(struct bp_sock *s, const char *dest, const struct msghdr *msg,
			       size_t len, int file, size_t file_len, int flags, int wait)
{
	int r;

	if (file >= 0) {
		len = file_len;
		r = send_file(s, dest, file, len, flags,
			      wait == CONN_DONTWAIT || conn_nonblocking(s->fd));
	} else {
		r = send_data(s, dest, msg, len, flags, wait);
	}
	return r < 0 ? r : (ssize_t)len;
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
	ssize_t r;
	int file;

	/* Unlike bp-socket, an empty send is a bundle with an empty payload (issue 3). */
	r = send_prepare(s, msg, dest, &len, &file, &file_len);
	if (r < 0)
		return r;
	if (pthread_mutex_trylock(&s->ctl_lock) != 0) {
		if (wait == CONN_DONTWAIT || conn_nonblocking(s->fd))
			return -EAGAIN;
		pthread_mutex_lock(&s->ctl_lock);
	}
	r = send_one_locked(s, dest, msg, len, file, file_len, flags, wait);
	pthread_mutex_unlock(&s->ctl_lock);
	return r;
}

/*
 * A batch (bp_sendmmsg): inline SENDs pipelined, up to BP_PROTO_MAX_INFLIGHT
 * unanswered, each after the first marked as continuing the batch so that
 * bpd refuses (ECANCELED) whatever follows a failure: the bundles stored
 * are always the first ones. Requests are staged and go in one sendmmsg();
 * replies are read with recvmmsg(). They come as each send is settled, not
 * necessarily in order, so they are matched by request id. A message that
 * goes as a memfd or file waits for the pipeline to empty and goes alone.
 */
#define WINDOW BP_PROTO_MAX_INFLIGHT
/* A reply to a SEND: status, source, timestamp. */
#define BATCH_REPLY_MAX 512

/* Per-socket room for a batch, allocated on first use (sock.h: batch). */
struct batch_mem {
	uint8_t req[WINDOW][SEND_OVERHEAD];
	struct iovec iov[WINDOW][1 + SEND_IOV_MAX];
	struct mmsghdr out[WINDOW];
	uint8_t rep[WINDOW][BATCH_REPLY_MAX];
	struct iovec riov[WINDOW];
	struct mmsghdr in[WINDOW];
};

struct batch {
	struct bp_sock *s;
	struct batch_mem *m;
	struct mmsghdr *vec;
	int flags, wait;
	bool dontwait; /* MSG_DONTWAIT or O_NONBLOCK */
	/* messages: staged, handed to the kernel, answered in order, stored */
	unsigned staged, sent, settled, stored;
	/* By message index % window: */
	uint32_t ids[WINDOW];
	size_t lens[WINDOW];
	int status[WINDOW]; /* 1: unanswered */
	int err;	    /* the first failure, settled in order */
	unsigned alone;	    /* a message the kernel would not take inline: it goes alone */
};

#define SLOT(i) ((i) % WINDOW)

/* Record one message's verdict and settle what is now known in order. */
static void batch_settle(struct batch *b, unsigned i, int status)
{
	b->status[SLOT(i)] = status;
	while (b->settled < b->sent && b->status[SLOT(b->settled)] != 1) {
		int st = b->status[SLOT(b->settled)];

		if (st == 0 && b->err == 0) {
			b->vec[b->settled].msg_len = (unsigned)b->lens[SLOT(b->settled)];
			b->stored++;
		} else if (b->err == 0) {
			b->err = st;
		}
		b->settled++;
	}
}

/*
 * Hand the staged requests to the kernel in one sendmmsg(). Those it does
 * not take are unstaged, so they are never reported as sent; returns 0, or
 * -errno when it took none.
 */
static int batch_flush(struct batch *b)
{
	unsigned first = b->sent;
	int k;

	while (b->sent < b->staged) {
		/* The window is a ring: up to its end, then from its start. */
		unsigned n = b->staged - b->sent, end = WINDOW - SLOT(b->sent);

		k = sendmmsg(b->s->ctl, &b->m->out[SLOT(b->sent)], n < end ? n : end,
			     MSG_NOSIGNAL | (b->dontwait ? MSG_DONTWAIT : 0));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? -errno : -EIO;

			b->staged = b->sent; /* unstage the rest: never reported as sent */
			return b->sent > first ? 0 : (e == -EPIPE ? -ECONNRESET : e);
		}
		b->sent += (unsigned)k;
	}
	return 0;
}

/* Wait for replies of the pipeline (one at least). Returns 0 or a transport error. */
static int batch_read_replies(struct batch *b)
{
	unsigned want = b->sent - b->settled;
	struct bp_msg_error err;
	struct bp_msg msg;
	int k;

	for (unsigned i = 0; i < want; i++) {
		b->m->riov[i] =
			(struct iovec){ .iov_base = b->m->rep[i], .iov_len = BATCH_REPLY_MAX };
		b->m->in[i].msg_hdr = (struct msghdr){ .msg_iov = &b->m->riov[i], .msg_iovlen = 1 };
	}
	do
		k = recvmmsg(b->s->ctl, b->m->in, want, MSG_WAITFORONE, NULL);
	while (k < 0 && errno == EINTR);
	if (k <= 0) {
		(void)shutdown(b->s->ctl, SHUT_RDWR);
		return k == 0 || errno == EPIPE ? -ECONNRESET : -errno;
	}
	for (int j = 0; j < k; j++) {
		const struct mmsghdr *in = &b->m->in[j];
		unsigned i;

		if (in->msg_hdr.msg_flags & MSG_TRUNC || in->msg_len == 0 ||
		    bp_msg_decode(b->m->rep[j], in->msg_len, &msg, &err) < 0 ||
		    msg.type != BP_MSG_REPLY)
			goto bad;
		if (msg.request == 0)
			continue; /* a peer answering a CONSUMED anyway */
		for (i = b->settled; i < b->sent; i++)
			if (b->ids[SLOT(i)] == msg.request && b->status[SLOT(i)] == 1)
				break;
		if (i == b->sent || bp_msg_u64(&msg, BP_F_STATUS, 0) > 4095)
			goto bad; /* a reply to nothing we asked, or no errno */
		batch_settle(b, i, -(int)bp_msg_u64(&msg, BP_F_STATUS, 0));
		note_sent(b->s, &msg);
	}
	return 0;
bad:
	(void)shutdown(b->s->ctl, SHUT_RDWR);
	return -EPROTO;
}

/*
 * Stage the next message, or send it alone when it cannot go inline.
 * Returns 0, -EINPROGRESS when it must wait for the pipeline to empty, or
 * the message's own error (nothing staged for it then).
 */
static int batch_put(struct batch *b)
{
	const struct msghdr *msg = &b->vec[b->staged].msg_hdr;
	char dest[BP_PROTO_MAX_EID + 1];
	unsigned slot = SLOT(b->staged);
	size_t len, file_len = 0;
	uint32_t id;
	ssize_t n;
	int r, file;

	r = send_prepare(b->s, msg, dest, &len, &file, &file_len);
	if (r < 0)
		return r;
	if (file < 0 && len <= inline_max && msg->msg_iovlen <= SEND_IOV_MAX &&
	    b->staged != b->alone) {
		id = sock_request_id(b->s);
		r = build_inline(b->s, dest, msg, len, b->flags, b->staged > 0, id, b->m->req[slot],
				 b->m->iov[slot]);
		if (r < 0)
			return r;
		b->m->out[slot].msg_hdr =
			(struct msghdr){ .msg_iov = b->m->iov[slot], .msg_iovlen = (size_t)r };
		b->ids[slot] = id;
		b->lens[slot] = len;
		b->status[slot] = 1;
		b->staged++;
		return 0;
	}
	if (b->settled < b->staged)
		return -EINPROGRESS; /* alone, once the pipeline is empty */
	n = send_one_locked(b->s, dest, msg, len, file, file_len, b->flags, b->wait);
	b->lens[slot] = n < 0 ? 0 : (size_t)n;
	b->status[slot] = 1;
	b->staged = ++b->sent;
	batch_settle(b, b->sent - 1, n < 0 ? (int)n : 0);
	return 0;
}

static int send_batch_locked(struct bp_sock *s, struct mmsghdr *vec, unsigned vlen, int flags)
{
	struct batch b = { .s = s, .vec = vec, .flags = flags, .alone = UINT_MAX };
	bool more = true;
	int r = 0, p;

	b.wait = flags & MSG_DONTWAIT ? CONN_DONTWAIT : s->fd;
	b.dontwait = b.wait == CONN_DONTWAIT || conn_nonblocking(s->fd);
	if (!s->batch)
		s->batch = malloc(sizeof(struct batch_mem));
	if (!s->batch)
		return -ENOMEM;
	b.m = s->batch;
	while (r == 0 && (more || b.settled < b.staged)) {
		more = more && b.err == 0 && b.staged < vlen;
		/* Stage what the window allows, starting each window slot afresh. */
		while (more && b.staged - b.settled < WINDOW) {
			p = batch_put(&b);
			if (p == -EINPROGRESS)
				break;
			if (p < 0) {
				more = false;
				if (b.settled == b.staged && b.err == 0)
					b.err = p; /* this message is the first failure */
			}
			more = more && b.err == 0 && b.staged < vlen;
		}
		if (b.staged > b.sent) {
			p = batch_flush(&b);
			if (p < 0 && kernel_refused(p)) {
				b.alone = b.sent; /* it goes by itself, as a memfd if need be */
			} else if (p < 0) {
				more = false;
				if (b.settled == b.sent && b.err == 0)
					b.err = p;
			}
		}
		if (b.settled < b.sent)
			r = batch_read_replies(&b);
	}
	if (r < 0 && b.stored == 0)
		return r;
	return b.stored > 0 ? (int)b.stored : b.err;
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

BP_EXPORT int bp_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct bp_sock *s = sock_get(fd);
	int r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	if (!vec && vlen > 0) {
		r = -EFAULT;
	} else if (vlen == 0) {
		r = 0;
	} else {
		if (vlen > SENDMMSG_MAX)
			vlen = SENDMMSG_MAX;
		if (pthread_mutex_trylock(&s->ctl_lock) != 0) {
			if (flags & MSG_DONTWAIT || conn_nonblocking(s->fd)) {
				sock_put(s);
				return sock_fail(-EAGAIN);
			}
			pthread_mutex_lock(&s->ctl_lock);
		}
		r = send_batch_locked(s, vec, vlen, flags);
		pthread_mutex_unlock(&s->ctl_lock);
	}
	sock_put(s);
	return r < 0 ? sock_fail(r) : r;
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
