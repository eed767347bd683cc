/* SPDX-License-Identifier: MIT */
/*
 * libbp: receiving bundles (bp_recvmsg, bp_recvfrom).
 *
 * bpd writes one DELIVER message per bundle to the delivery socket, the fd
 * the app holds, so the kernel does the waiting: poll, O_NONBLOCK,
 * SO_RCVTIMEO and MSG_DONTWAIT act as on any socket. A receive peeks at the
 * message and copies the payload out; only when the app has really taken
 * the bundle (no MSG_PEEK, no EMSGSIZE) does it remove the message from the
 * socket and tell bpd CONSUMED. Peeking on the socket itself keeps poll()
 * truthful: a bundle peeked at, or refused with EMSGSIZE, is still readable.
 */
#include "bp/bp.h"

#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "sock.h"

/* One DELIVER message, decoded in the socket's receive buffer. */
struct delivery {
	struct bp_msg msg;
	uint64_t id;
	bool report;
	const struct bp_msg_field *source;
	const uint8_t *payload; /* inline payload, or NULL */
	uint64_t len;
	int fd; /* the payload's fd (a sealed memfd), or -1 */
};

static int decode_delivery(const uint8_t *buf, size_t len, struct delivery *d)
{
	const struct bp_msg_field *f;
	struct bp_msg_error err;

	if (bp_msg_decode(buf, len, &d->msg, &err) < 0 || d->msg.type != BP_MSG_DELIVER)
		return -EPROTO;
	d->id = bp_msg_u64(&d->msg, BP_F_DELIVERY_ID, 0);
	d->report = bp_msg_u64(&d->msg, BP_F_KIND, BP_DELIVERY_DATA) == BP_DELIVERY_REPORT;
	d->source = bp_msg_find(&d->msg, BP_F_SOURCE);
	f = bp_msg_find(&d->msg, BP_F_PAYLOAD);
	if (f) {
		d->payload = f->ptr;
		d->len = f->len;
		if (d->fd >= 0) {
			(void)close(d->fd); /* an fd nobody asked for */
			d->fd = -1;
		}
		return 0;
	}
	d->payload = NULL;
	d->len = bp_msg_u64(&d->msg, BP_F_PAYLOAD_FD, 0);
	return d->fd >= 0 && d->len <= SSIZE_MAX ? 0 : -EPROTO;
}

/* Drop the message at the head of the delivery socket (and any fd with it). */
static void discard(struct bp_sock *s)
{
	uint8_t byte;
	bool trunc;

	(void)conn_recv(s->fd, &byte, 1, MSG_DONTWAIT, NULL, &trunc);
}

/*
 * Peek at the next delivery, waiting as the socket and MSG_DONTWAIT say.
 * A message that breaks the protocol is dropped (so the socket does not
 * stay stuck on it) and reported as -EPROTO.
 */
static int peek(struct bp_sock *s, int flags, struct delivery *d)
{
	bool trunc;
	ssize_t n;
	int r;

	d->fd = -1;
	if (!s->rx)
		s->rx = malloc(BP_PROTO_MAX_MSG);
	if (!s->rx)
		return -ENOMEM;
	n = conn_recv(s->fd, s->rx, BP_PROTO_MAX_MSG, MSG_PEEK | (flags & MSG_DONTWAIT), &d->fd,
		      &trunc);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ECONNRESET; /* bpd closed the delivery channel */
	r = trunc ? -EPROTO : decode_delivery(s->rx, (size_t)n, d);
	if (r < 0) {
		if (d->fd >= 0)
			(void)close(d->fd);
		d->fd = -1;
		discard(s);
	}
	return r;
}

static int pread_all(int fd, uint8_t *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t k = pread(fd, p, len, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPROTO; /* the file is shorter than bpd said */
		p += k;
		off += k;
		len -= (size_t)k;
	}
	return 0;
}

/* The payload's first want bytes into the app's iovecs. */
static int copy_payload(const struct delivery *d, const struct iovec *iov, size_t n, size_t want)
{
	size_t off = 0;

	for (size_t i = 0; i < n && off < want; i++) {
		size_t k = iov[i].iov_len < want - off ? iov[i].iov_len : want - off;
		int r = 0;

		if (k == 0)
			continue;
		if (d->payload)
			memcpy(iov[i].iov_base, d->payload + off, k);
		else
			r = pread_all(d->fd, iov[i].iov_base, k, (off_t)off);
		if (r < 0)
			return r;
		off += k;
	}
	return 0;
}

static long consumed_msg(uint8_t *buf, size_t cap, uint32_t request, uint64_t delivery)
{
	struct bp_msg_wr w;

	bp_msg_begin(&w, buf, cap, BP_MSG_CONSUMED, request);
	bp_msg_put_u64(&w, BP_F_DELIVERY_ID, delivery);
	return bp_msg_end(&w);
}

/*
 * Tell bpd the app has the bundle: a CONSUMED as request 0, which bpd does
 * not answer, so a receive costs no round trip. It is in bpd's socket
 * before the receive returns, so bpd reads it even if the app dies right
 * after (or closes the socket: bpd reads what was queued before the end of
 * the stream). bpd may process it a moment after the receive returned; a
 * send failing here only means a later redelivery.
 */
static void consume(struct bp_sock *s, uint64_t delivery)
{
	uint8_t req[BP_PROTO_HDR_LEN + BP_PROTO_FIELD_HDR_LEN + 8];
	long n = consumed_msg(req, sizeof(req), 0, delivery);

	if (n > 0)
		(void)conn_send(s->ctl, req, (size_t)n, -1, false);
}

static void fill_name(struct msghdr *msg, const struct bp_msg_field *source)
{
	if (!msg->msg_name)
		msg->msg_namelen = 0;
	else
		addr_from_eid((const char *)source->ptr, source->len, msg->msg_name,
			      &msg->msg_namelen);
}

/* One receive; call with rx_lock held. Returns the payload's full length. */
static ssize_t recv_locked(struct bp_sock *s, struct msghdr *msg, int flags)
{
	struct delivery d;
	size_t room;
	int r;

	r = conn_iov_len(msg->msg_iov, msg->msg_iovlen, &room);
	if (r == 0)
		r = peek(s, flags, &d);
	if (r < 0)
		return r;
	/* Unlike bp-socket, a bundle too big for the buffer stays queued. */
	if (d.len > room && !(flags & MSG_TRUNC)) {
		r = -EMSGSIZE;
		goto out_close_fd;
	}
	r = copy_payload(&d, msg->msg_iov, msg->msg_iovlen, d.len < room ? (size_t)d.len : room);
	if (r == -EPROTO)
		discard(s); /* as peek() does: never stay stuck on a broken delivery */
	if (r < 0)
		goto out_close_fd;
	fill_name(msg, d.source);
	msg->msg_controllen = 0;
	msg->msg_flags = (d.len > room ? MSG_TRUNC : 0) | (d.report ? MSG_BP_STATUS_REPORT : 0);
	if (!(flags & MSG_PEEK)) {
		discard(s);
		consume(s, d.id);
	}
out_close_fd:
	if (d.fd >= 0)
		(void)close(d.fd);
	return r < 0 ? r : (ssize_t)d.len;
}

BP_EXPORT ssize_t bp_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct bp_sock *s = sock_get(fd);
	ssize_t r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	if (!msg) {
		r = -EFAULT;
	} else if (!atomic_load(&s->bound)) {
		r = -EADDRNOTAVAIL; /* nothing can ever arrive: do not wait for it */
	} else {
		pthread_mutex_lock(&s->rx_lock);
		r = recv_locked(s, msg, flags);
		pthread_mutex_unlock(&s->rx_lock);
	}
	sock_put(s);
	return r < 0 ? sock_fail((int)r) : r;
}

BP_EXPORT ssize_t bp_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
			      socklen_t *src_len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = src_len ? src : NULL,
		.msg_namelen = src && src_len ? *src_len : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t r = bp_recvmsg(fd, &msg, flags);

	if (r >= 0 && src && src_len)
		*src_len = msg.msg_namelen;
	return r;
}
