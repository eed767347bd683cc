/* SPDX-License-Identifier: MIT */
/*
 * The TCPCLv4 adapter (RFC 9174): TCP listeners and connections, each
 * connection a tcpclv4.c session.
 *
 *   CONNECTING --connect() done--> SESSION --session down--> freed
 *   CONNECTING --connect() failed, close, abort--> freed (down)
 *
 * An accepted connection starts in SESSION (passive).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl.h"
#include "tcpclv4.h"
#include "tcpclv4_msg.h"

/* Our session parameters (RFC 9174 4.6). */
#define KEEPALIVE_S 30
#define SEGMENT_MRU (16u << 20)
#define TRANSFER_MRU (1ull << 32)
/* DESIGN.md §4: head and data of a segment within 65,483 bytes on loopback. */
#define SEGMENT_MAX (65483u - TCPCL4_SEGMENT_HEAD_MAX)
#define SETUP_TIMEOUT_S 10.0
#define ADDR_TEXT_MAX 80

enum tl_state {
	TL_CONNECTING,
	TL_SESSION
};

struct tl_link {
	struct cl_link cl;
	const struct cl_env *env;
	enum tl_state state;
	bool silent; /* refused by the owner: no events */
	int fd;	     /* while CONNECTING */
	ev_io conn_w;
	ev_timer conn_t;
	struct tcpcl4_session *s;
};

struct cl_listener {
	const struct cl_env *env;
	int fd;
	ev_io w;
};

static void tune(int fd)
{
	int one = 1;

	/* RFC 9174 5.2: a segment's head and data go out together, no Nagle steps. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct tl_link *tl_of(struct cl_link *cl)
{
	return (struct tl_link *)cl;
}

/* Session events, passed on. */

static void s_up(void *ctx, struct tcpcl4_session *s, const char *id, size_t len)
{
	struct tl_link *t = ctx;

	t->env->ev->up(t->cl.owner, id, len);
}

static void s_received(void *ctx, struct tcpcl4_session *s, uint64_t xfer, const uint8_t *data,
		       size_t len)
{
	struct tl_link *t = ctx;

	t->env->ev->received(t->cl.owner, xfer, data, len);
}

static void s_sent(void *ctx, struct tcpcl4_session *s, uint64_t token, int status, uint8_t reason)
{
	struct tl_link *t = ctx;

	t->env->ev->sent(t->cl.owner, token, status);
}

static void s_down(void *ctx, struct tcpcl4_session *s, const char *why)
{
	struct tl_link *t = ctx;

	if (!t->silent)
		t->env->ev->down(t->cl.owner, why);
	free(t);
}

static const struct tcpcl4_session_ops session_ops = {
	.up = s_up,
	.received = s_received,
	.sent = s_sent,
	.down = s_down,
};

static int session_start(struct tl_link *t, int fd, bool active)
{
	const struct tcpcl4_config cfg = {
		.node_id = t->env->node_id, /* ipn:N.0 or dtn://name/, as HDTN insists */
		.keepalive_s = KEEPALIVE_S,
		.segment_mru = SEGMENT_MRU,
		.transfer_mru = TRANSFER_MRU,
		.segment_max = SEGMENT_MAX,
		.setup_timeout_s = SETUP_TIMEOUT_S,
	};

	tune(fd);
	t->state = TL_SESSION;
	return tcpcl4_session_new(t->env->loop, fd, active, &cfg, &session_ops, t, &t->s);
}

/* Connecting. */

static void connect_end(struct tl_link *t, int err)
{
	int fd = t->fd;
	const char *why;

	ev_io_stop(t->env->loop, &t->conn_w);
	ev_timer_stop(t->env->loop, &t->conn_t);
	t->fd = -1;
	if (!err && session_start(t, fd, true) == 0)
		return;
	if (err)
		close(fd);
	why = err == ETIMEDOUT ? "connect timed out" : err ? strerror(err) : "no session";
	if (!t->silent)
		t->env->ev->down(t->cl.owner, why);
	free(t);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tl_link *t = w->data;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	connect_end(t, err);
}

static void conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	connect_end(w->data, ETIMEDOUT);
}

static int tl_open(const struct cl_env *env, const struct sockaddr *sa, socklen_t len, void *owner,
		   struct cl_link **ret, const char **why)
{
	struct tl_link *t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		*why = "out of memory";
		return -ENOMEM;
	}
	t->cl = (struct cl_link){ .ops = &cl_tcpclv4_ops, .owner = owner };
	t->env = env;
	t->state = TL_CONNECTING;
	t->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || (connect(t->fd, sa, len) < 0 && errno != EINPROGRESS)) {
		r = -errno;
		*why = strerror(errno);
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return r;
	}
	/* Done or not, the outcome comes from the loop: never from inside open. */
	ev_io_init(&t->conn_w, conn_cb, t->fd, EV_WRITE);
	t->conn_w.data = t;
	ev_io_start(env->loop, &t->conn_w);
	ev_timer_init(&t->conn_t, conn_timeout_cb, SETUP_TIMEOUT_S, 0.);
	t->conn_t.data = t;
	ev_timer_start(env->loop, &t->conn_t);
	*ret = &t->cl;
	return 0;
}

/* Listening. */

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cl_listener *li = w->data;
	struct sockaddr_storage sa;
	char addr[ADDR_TEXT_MAX];

	for (int i = 0; i < 64; i++) {
		socklen_t len = sizeof(sa);
		int fd =
			accept4(li->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tl_link *t;

		if (fd < 0)
			return; /* EAGAIN, or a connection that went (ECONNABORTED): next time */
		t = calloc(1, sizeof(*t));
		if (!t) {
			close(fd);
			return;
		}
		t->cl.ops = &cl_tcpclv4_ops;
		t->env = li->env;
		t->fd = -1;
		if (session_start(t, fd, false) < 0) {
			free(t);
			continue;
		}
		cl_addr_text("tcpcl", &sa, addr, sizeof(addr));
		t->cl.owner = li->env->ev->incoming(li->env->ctx, &t->cl, addr);
		if (!t->cl.owner) {
			t->silent = true;
			tcpcl4_session_abort(t->s);
		}
	}
}

static int tl_listen(const struct cl_env *env, const struct sockaddr *sa, socklen_t len,
		     struct cl_listener **ret, const char **why)
{
	struct cl_listener *li = calloc(1, sizeof(*li));
	int one = 1, r;

	if (!li) {
		*why = "out of memory";
		return -ENOMEM;
	}
	li->env = env;
	li->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (li->fd < 0 || setsockopt(li->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(li->fd, sa, len) < 0 || listen(li->fd, 64) < 0) {
		r = -errno;
		*why = strerror(errno);
		if (li->fd >= 0)
			close(li->fd);
		free(li);
		return r;
	}
	ev_io_init(&li->w, accept_cb, li->fd, EV_READ);
	li->w.data = li;
	ev_io_start(env->loop, &li->w);
	*ret = li;
	return 0;
}

static void tl_listener_free(struct cl_listener *li)
{
	ev_io_stop(li->env->loop, &li->w);
	close(li->fd);
	free(li);
}

/* A link's operations. */

static int tl_send(struct cl_link *cl, uint64_t token, uint8_t *data, size_t len)
{
	struct tl_link *t = tl_of(cl);

	return t->state == TL_SESSION ? tcpcl4_session_send(t->s, token, data, len) : -ENOTCONN;
}

static bool tl_busy(const struct cl_link *cl)
{
	const struct tl_link *t = (const struct tl_link *)cl;

	return t->state != TL_SESSION || tcpcl4_session_busy(t->s);
}

static void tl_accept(struct cl_link *cl, uint64_t xfer, int status, enum cl_refuse why)
{
	/* RFC 9174 5.2.4: a full store asks the peer to try later; a bad bundle, never again. */
	tcpcl4_session_accept(tl_of(cl)->s, xfer, status,
			      why == CL_REFUSE_NO_RESOURCES ? TCPCL4_REFUSE_NO_RESOURCES :
							      TCPCL4_REFUSE_NOT_ACCEPTABLE);
}

static void tl_abort(struct cl_link *cl)
{
	struct tl_link *t = tl_of(cl);

	if (t->state == TL_CONNECTING) {
		close(t->fd);
		t->fd = -1;
		ev_io_stop(t->env->loop, &t->conn_w);
		ev_timer_stop(t->env->loop, &t->conn_t);
		if (!t->silent)
			t->env->ev->down(t->cl.owner, "closed");
		free(t);
		return;
	}
	tcpcl4_session_abort(t->s);
}

static void tl_close(struct cl_link *cl)
{
	struct tl_link *t = tl_of(cl);

	if (t->state == TL_CONNECTING)
		tl_abort(cl);
	else
		tcpcl4_session_close(t->s, TCPCL4_TERM_UNKNOWN);
}

static void tl_stats(const struct cl_link *cl, struct cl_stats *ret)
{
	const struct tl_link *t = (const struct tl_link *)cl;
	struct tcpcl4_stats st = { 0 };

	if (t->state == TL_SESSION)
		tcpcl4_session_stats(t->s, &st);
	*ret = (struct cl_stats){ .bundles_in = st.bundles_in,
				  .bytes_in = st.bytes_in,
				  .bundles_out = st.bundles_out,
				  .bytes_out = st.bytes_out,
				  .refused_in = st.refused_in,
				  .refused_out = st.refused_out };
}

const struct cl_ops cl_tcpclv4_ops = {
	.scheme = "tcpcl",
	.max_bundle = 0,
	.confirms = true,
	.listen = tl_listen,
	.listener_free = tl_listener_free,
	.open = tl_open,
	.send = tl_send,
	.busy = tl_busy,
	.accept = tl_accept,
	.close = tl_close,
	.abort = tl_abort,
	.stats = tl_stats,
};
