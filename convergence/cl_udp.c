/* SPDX-License-Identifier: MIT */
/*
 * The UDP adapter: one bundle per datagram, no framing, as ION's udp CLA
 * sends them (../shared/vectors/ion/ion_udp_bundle.hex). UDP confirms
 * nothing: a bundle is "sent" once the kernel took its datagram, and a
 * received one cannot be refused. Bundles larger than a datagram are
 * fragmented by the agent before they get here (cl_udp_ops.max_bundle).
 *
 * A listener is one socket and one receiving link ("incoming", no peer),
 * which reads up to UD_BATCH datagrams per wakeup with recvmmsg. A link
 * opened to a peer is a connected socket that sends what was queued during
 * a loop turn with one sendmmsg at its end.
 *
 *   STARTING --loop turn--> UP --close, queue empty / abort--> freed (down)
 *
 * Input that is not a bundle (empty, 1 byte, not a CBOR array, cut short by
 * the buffer) is dropped and counted (dropped_in); the agent refuses what
 * does not decode (refused_in). Neither stops the receiver.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl.h"

/* The largest UDP payload over IPv4 (65,535 - 20 - 8); IPv6 allows 20 more. */
#define UD_MAX_BUNDLE 65507u
/* Datagrams per recvmmsg/sendmmsg, and queued for sending before busy. */
#define UD_BATCH 32
#define UD_QUEUE_MAX 64
#define UD_TURN_BATCHES 8
/* Received bundles the agent has not answered yet: more wait in the socket. */
#define UD_MAX_UNACCEPTED 1024
/* Kernel buffers: a burst of fragments must not overflow the receiver. */
#define UD_SOCKBUF (8 << 20)
#define ADDR_TEXT_MAX 80

enum ud_state {
	UD_STARTING,
	UD_UP,
	UD_CLOSING
};

struct dgram {
	uint64_t token;
	uint8_t *data;
	size_t len;
};

struct ud_link {
	struct cl_link cl;
	const struct cl_env *env;
	enum ud_state state;
	bool rx;	 /* the receiving side of a listener, which frees it */
	bool silent;	 /* no events */
	bool downed;	 /* rx: down was called; it waits for its listener */
	const char *why; /* set: going; freed when depth is 0 */
	int depth;
	int fd;
	ev_io io;	 /* rx: readable; tx: writable again after EAGAIN */
	ev_timer start;	 /* up, from the loop */
	ev_check flush;	 /* tx: send the datagrams queued, right after the next poll */
	ev_idle more;	 /* tx: while flush is on, that poll does not block */
	struct dgram *q; /* tx: a ring of UD_QUEUE_MAX */
	size_t qhead, qlen;
	uint8_t *buf;	   /* rx: UD_BATCH buffers of UD_MAX_BUNDLE + 1 */
	uint64_t xfer;	   /* rx: numbers received bundles */
	size_t unaccepted; /* rx */
	struct cl_stats stats;
};

struct cl_listener {
	struct ud_link *rx;
};

static struct ud_link *ud_of(struct cl_link *cl)
{
	return (struct ud_link *)cl;
}

static void sockbufs(int fd, int opt_force, int opt)
{
	int size = UD_SOCKBUF;

	/* Past net.core.[rw]mem_max only with CAP_NET_ADMIN; else as much as allowed. */
	if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

static void hold(struct ud_link *u)
{
	u->depth++;
}

static void link_free(struct ud_link *u)
{
	close(u->fd);
	free(u->q);
	free(u->buf);
	free(u);
}

static void release(struct ud_link *u)
{
	if (--u->depth > 0 || !u->why || u->downed)
		return;
	u->depth++; /* what the callbacks below call does nothing more */
	u->downed = true;
	ev_io_stop(u->env->loop, &u->io);
	ev_timer_stop(u->env->loop, &u->start);
	ev_check_stop(u->env->loop, &u->flush);
	ev_idle_stop(u->env->loop, &u->more);
	for (; u->qlen; u->qlen--, u->qhead = (u->qhead + 1) % UD_QUEUE_MAX) {
		struct dgram *d = &u->q[u->qhead];

		if (!u->silent)
			u->env->ev->sent(u->cl.owner, d->token, -ECONNRESET);
		free(d->data);
	}
	if (!u->silent)
		u->env->ev->down(u->cl.owner, u->why);
	u->depth--;
	if (!u->rx)
		link_free(u);
}

static void die(struct ud_link *u, const char *why)
{
	hold(u);
	if (!u->why)
		u->why = why;
	release(u);
}

static void start_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ud_link *u = w->data;

	hold(u);
	if (u->state == UD_STARTING) {
		u->state = UD_UP;
		u->env->ev->up(u->cl.owner, "", 0);
	}
	release(u);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void flush_cb(struct ev_loop *loop, ev_check *w, int revents);
static void more_cb(struct ev_loop *loop, ev_idle *w, int revents);

static struct ud_link *link_new(const struct cl_env *env, int fd, bool rx)
{
	struct ud_link *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->cl.ops = &cl_udp_ops;
	u->env = env;
	u->fd = fd;
	u->rx = rx;
	if (rx)
		u->buf = malloc((size_t)UD_BATCH * (UD_MAX_BUNDLE + 1));
	else
		u->q = calloc(UD_QUEUE_MAX, sizeof(*u->q));
	if (rx ? !u->buf : !u->q) {
		free(u);
		return NULL;
	}
	ev_timer_init(&u->start, start_cb, 0., 0.);
	u->start.data = u;
	if (rx)
		ev_io_init(&u->io, read_cb, fd, EV_READ);
	else
		ev_io_init(&u->io, write_cb, fd, EV_WRITE);
	u->io.data = u;
	ev_check_init(&u->flush, flush_cb);
	u->flush.data = u;
	ev_idle_init(&u->more, more_cb);
	return u;
}

/* Receiving. */

/* Could this be a bundle (RFC 9171 4.1: a CBOR array, ION's and ours indefinite)? */
static bool looks_like_bundle(const uint8_t *p, size_t len)
{
	return len >= 2 && (p[0] == 0x9f || (p[0] >= 0x80 && p[0] <= 0x9b));
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ud_link *u = w->data;
	struct mmsghdr msgs[UD_BATCH];
	struct iovec iov[UD_BATCH];
	int n;

	for (int i = 0; i < UD_BATCH; i++) {
		iov[i] = (struct iovec){ u->buf + (size_t)i * (UD_MAX_BUNDLE + 1),
					 UD_MAX_BUNDLE + 1 };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	n = recvmmsg(u->fd, msgs, UD_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return; /* EAGAIN; an ICMP error reported here concerns nobody */
	hold(u);
	for (int i = 0; i < n && !u->why; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = msgs[i].msg_len;

		if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > UD_MAX_BUNDLE ||
		    !looks_like_bundle(p, len)) {
			u->stats.dropped_in++;
			continue;
		}
		u->stats.bundles_in++;
		u->stats.bytes_in += len;
		if (++u->unaccepted >= UD_MAX_UNACCEPTED)
			ev_io_stop(loop, &u->io); /* the socket buffers the rest, then drops */
		u->env->ev->received(u->cl.owner, ++u->xfer, p, len);
	}
	release(u);
}

static int ud_listen(const struct cl_env *env, const struct sockaddr *sa, socklen_t len,
		     struct cl_listener **ret, const char **why)
{
	struct cl_listener *li = calloc(1, sizeof(*li));
	struct sockaddr_storage local;
	char addr[ADDR_TEXT_MAX];
	socklen_t llen = sizeof(local);
	int fd, r;

	if (!li) {
		*why = "out of memory";
		return -ENOMEM;
	}
	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, sa, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) < 0) {
		r = -errno;
		*why = strerror(errno);
		if (fd >= 0)
			close(fd);
		free(li);
		return r;
	}
	sockbufs(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	li->rx = link_new(env, fd, true);
	cl_addr_text("udp", &local, addr, sizeof(addr));
	if (!li->rx || !(li->rx->cl.owner = env->ev->incoming(env->ctx, &li->rx->cl, addr))) {
		if (li->rx) {
			li->rx->silent = true;
			die(li->rx, "refused");
			link_free(li->rx);
		} else {
			close(fd);
		}
		free(li);
		*why = "no room for its link";
		return -ENOMEM;
	}
	ev_io_start(env->loop, &li->rx->io);
	ev_timer_start(env->loop, &li->rx->start);
	*ret = li;
	return 0;
}

static void ud_listener_free(struct cl_listener *li)
{
	die(li->rx, "listener closed");
	link_free(li->rx);
	free(li);
}

/* Sending. */

/* Send one batch. Returns false when there is nothing more to do now. */
static bool flush(struct ud_link *u)
{
	struct mmsghdr msgs[UD_BATCH];
	struct iovec iov[UD_BATCH];
	uint64_t tokens[UD_BATCH];
	int status[UD_BATCH];
	size_t n = 0, done;
	int r, err;

	for (; n < u->qlen && n < UD_BATCH; n++) {
		struct dgram *d = &u->q[(u->qhead + n) % UD_QUEUE_MAX];

		iov[n] = (struct iovec){ d->data, d->len };
		msgs[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n], .msg_iovlen = 1 } };
	}
	if (n == 0)
		return false;
	r = sendmmsg(u->fd, msgs, (unsigned)n, MSG_DONTWAIT);
	err = errno;
	if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) {
		ev_io_start(u->env->loop, &u->io); /* on again when there is room */
		return false;
	}
	/* The first datagram failed (e.g. ECONNREFUSED from an earlier ICMP): it alone. */
	done = r < 0 ? 1 : (size_t)r;
	for (size_t i = 0; i < done; i++) {
		struct dgram *d = &u->q[u->qhead];

		tokens[i] = d->token;
		status[i] = r < 0 ? -err : 0;
		if (r >= 0) {
			u->stats.bundles_out++;
			u->stats.bytes_out += d->len;
		}
		free(d->data);
		u->qhead = (u->qhead + 1) % UD_QUEUE_MAX;
		u->qlen--;
	}
	/* Answers last: they may queue more, or end the link. */
	hold(u);
	for (size_t i = 0; i < done && !u->why; i++)
		u->env->ev->sent(u->cl.owner, tokens[i], status[i]);
	release(u);
	return true;
}

static void kick(struct ud_link *u);

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ud_link *u = w->data;

	ev_io_stop(loop, &u->io);
	kick(u);
}

/*
 * Sends are batched per loop turn: a send queues, and the datagrams queued
 * go out together right after the next poll, which does not block while
 * there are some (an active idle watcher). A check watcher, not a prepare
 * one: a prepare watcher started from inside another prepare callback
 * (where the store may call back) would wait for the poll after, and that
 * poll may block for seconds. At most UD_TURN_BATCHES per turn: the rest
 * wait for the next, so that reading gets its turn.
 */
static void flush_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct ud_link *u = w->data;
	int batches = 0;

	hold(u);
	while (!u->why && flush(u) && ++batches < UD_TURN_BATCHES)
		;
	if (!u->why && (u->qlen == 0 || ev_is_active(&u->io))) {
		ev_check_stop(loop, &u->flush);
		ev_idle_stop(loop, &u->more);
	}
	if (!u->why && u->qlen == 0 && u->state == UD_CLOSING)
		u->why = "closed";
	release(u);
}

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps the next poll from blocking. */
}

static void kick(struct ud_link *u)
{
	if (ev_is_active(&u->io))
		return; /* waiting for room: write_cb kicks again */
	ev_check_start(u->env->loop, &u->flush);
	ev_idle_start(u->env->loop, &u->more);
}

static int ud_open(const struct cl_env *env, const struct sockaddr *sa, socklen_t len, void *owner,
		   struct cl_link **ret, const char **why)
{
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct ud_link *u;
	int r;

	if (fd < 0 || connect(fd, sa, len) < 0) {
		r = -errno;
		*why = strerror(errno);
		if (fd >= 0)
			close(fd);
		return r;
	}
	sockbufs(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	u = link_new(env, fd, false);
	if (!u) {
		close(fd);
		*why = "out of memory";
		return -ENOMEM;
	}
	u->cl.owner = owner;
	ev_timer_start(env->loop, &u->start);
	*ret = &u->cl;
	return 0;
}

/* A link's operations. */

static int ud_send(struct cl_link *cl, uint64_t token, uint8_t *data, size_t len)
{
	struct ud_link *u = ud_of(cl);
	struct dgram *d;

	if (u->rx || u->state != UD_UP || u->why)
		return -ENOTCONN;
	if (len == 0)
		return -EINVAL;
	if (len > UD_MAX_BUNDLE)
		return -EMSGSIZE;
	if (u->qlen == UD_QUEUE_MAX)
		return -ENOBUFS;
	d = &u->q[(u->qhead + u->qlen) % UD_QUEUE_MAX];
	d->data = data; /* ours from here */
	d->len = len;
	d->token = token;
	u->qlen++;
	kick(u);
	return 0;
}

static bool ud_busy(const struct cl_link *cl)
{
	const struct ud_link *u = (const struct ud_link *)cl;

	return u->rx || u->state != UD_UP || u->qlen >= UD_QUEUE_MAX;
}

static void ud_accept(struct cl_link *cl, uint64_t xfer, int status, enum cl_refuse why)
{
	struct ud_link *u = ud_of(cl);

	if (status < 0)
		u->stats.refused_in++; /* UDP cannot tell the sender: counted, and gone */
	if (u->unaccepted > 0 && u->unaccepted-- == UD_MAX_UNACCEPTED && !u->why)
		ev_io_start(u->env->loop, &u->io);
}

static void ud_abort(struct cl_link *cl)
{
	die(ud_of(cl), "closed");
}

static void ud_close(struct cl_link *cl)
{
	struct ud_link *u = ud_of(cl);

	if (u->rx || u->qlen == 0) {
		die(u, "closed");
		return;
	}
	u->state = UD_CLOSING; /* the queue goes first */
}

static void ud_stats(const struct cl_link *cl, struct cl_stats *ret)
{
	*ret = ((const struct ud_link *)cl)->stats;
}

const struct cl_ops cl_udp_ops = {
	.scheme = "udp",
	.max_bundle = UD_MAX_BUNDLE,
	.confirms = false,
	.listen = ud_listen,
	.listener_free = ud_listener_free,
	.open = ud_open,
	.send = ud_send,
	.busy = ud_busy,
	.accept = ud_accept,
	.close = ud_close,
	.abort = ud_abort,
	.stats = ud_stats,
};
