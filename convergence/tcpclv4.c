/* SPDX-License-Identifier: MIT */
/* A TCPCLv4 session (RFC 9174): see tcpclv4.h. */
#include "tcpclv4.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpclv4_msg.h"

/* Keep at most this much queued for the socket before adding segments. */
#define OUT_LOW_WATER (256u << 10)
/* Pieces per writev. */
#define OUT_IOV 64
/* Read this much at a time. */
#define READ_CHUNK (64u << 10)

enum sess_state {
	SESS_CONTACT, /* contact headers */
	SESS_INIT,    /* SESS_INIT messages */
	SESS_UP,
	SESS_ENDING, /* SESS_TERM sent or received */
};

/* A bundle queued for the peer. */
struct out_xfer {
	struct out_xfer *next;
	uint64_t token;
	uint64_t id;
	uint8_t *data;
	size_t len;
	size_t sent;	 /* bytes put into segments */
	size_t acked;	 /* bytes the peer acknowledged */
	unsigned pieces; /* out pieces still pointing into data */
	struct out_xfer *next_dead;
};

/*
 * What goes to the socket, in order: the next len bytes of the out buffer
 * (control messages, segment heads), or, with x, a segment's data written
 * straight from its transfer's buffer with writev, never copied.
 */
struct out_piece {
	struct out_xfer *x;
	size_t off, len;
};
#define OUT_PIECES 128

/* A received bundle waiting for tcpcl4_session_accept(): its final ACK. */
struct pending_ack {
	uint64_t id;
	uint8_t flags;
	uint64_t len;
};

struct tcpcl4_session {
	struct ev_loop *loop;
	int fd;
	bool active;
	enum sess_state state;
	struct tcpcl4_config cfg;
	char *node_id;
	struct tcpcl4_session_ops ops;
	void *ctx;
	ev_io rio, wio;
	/*
	 * Sends and acks of one loop turn go out together, right after the
	 * next poll (which the idle watcher keeps from blocking): one write
	 * for many bundles, not one each.
	 */
	ev_check flush;
	ev_idle flush_idle;
	ev_timer setup, keepalive;
	ev_tstamp last_rx, last_tx;

	/* Input: bytes read and not yet decoded. */
	uint8_t *in;
	size_t in_len, in_cap;
	bool got_contact, sent_init;

	/* Negotiated (4.7). */
	uint64_t peer_segment_mru, peer_transfer_mru;
	uint16_t keepalive_s;

	/* Output: bytes for the socket, written from out_off, and the pieces they go in. */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct out_piece pc[OUT_PIECES]; /* a ring */
	unsigned pc_head, pc_n;
	size_t pending; /* bytes in the pieces */
	/* Transfers done (acknowledged, refused) while pieces still point into them. */
	struct out_xfer *dead;
	struct out_xfer *xq, *xq_tail;
	/*
	 * The first transfer with bytes not yet in the out buffer. Transfers
	 * are pipelined (RFC 9174 5.2.2): the next one's segments follow the
	 * last of the one before without waiting for its XFER_ACK, one
	 * transfer after another, never interleaved.
	 */
	struct out_xfer *xsend;
	size_t nqueued, queued_bytes; /* in xq */
	uint64_t next_id;

	/* The transfer being received. */
	bool rx_on;
	uint64_t rx_id;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	bool rx_refused; /* refused: its remaining segments are dropped */
	struct pending_ack pend[TCPCL4_MAX_UNACCEPTED];
	size_t npend;

	bool term_sent, term_rcvd;
	const char *why; /* the session is over: why */
	unsigned depth;	 /* nested entry points; the session is freed at 0 */
	struct tcpcl4_stats stats;
};

static void pump(struct tcpcl4_session *s);

/* Lifetime: entry points hold the session; the last one out frees it if it died. */

static void hold(struct tcpcl4_session *s)
{
	s->depth++;
}

static void session_free(struct tcpcl4_session *s)
{
	struct out_xfer *x;

	ev_io_stop(s->loop, &s->rio);
	ev_io_stop(s->loop, &s->wio);
	ev_check_stop(s->loop, &s->flush);
	ev_idle_stop(s->loop, &s->flush_idle);
	ev_timer_stop(s->loop, &s->setup);
	ev_timer_stop(s->loop, &s->keepalive);
	while ((x = s->xq)) {
		s->xq = x->next;
		free(x->data);
		free(x);
	}
	while ((x = s->dead)) {
		s->dead = x->next_dead;
		free(x->data);
		free(x);
	}
	close(s->fd);
	free(s->in);
	free(s->out);
	free(s->rx);
	free(s->node_id);
	free(s);
}

/* Release the hold; when the session died, tell its owner and free it. */
static void release(struct tcpcl4_session *s)
{
	struct out_xfer *x;

	if (--s->depth > 0 || !s->why)
		return;
	s->depth++; /* the callbacks below may call in again: nothing more happens */
	while ((x = s->xq)) {
		s->xq = x->next;
		s->ops.sent(s->ctx, s, x->token, -ECONNRESET, 0);
		free(x->data);
		free(x);
	}
	s->ops.down(s->ctx, s, s->why);
	session_free(s);
}

/* The session is over; it goes when the outermost entry point returns. */
static void die(struct tcpcl4_session *s, const char *why)
{
	if (s->why)
		return;
	s->why = why;
	ev_io_stop(s->loop, &s->rio);
	ev_io_stop(s->loop, &s->wio);
	ev_check_stop(s->loop, &s->flush);
	ev_idle_stop(s->loop, &s->flush_idle);
	ev_timer_stop(s->loop, &s->setup);
	ev_timer_stop(s->loop, &s->keepalive);
}

/* Output. */

static uint8_t *out_reserve(struct tcpcl4_session *s, size_t n)
{
	if (s->out_off > 0 && s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
	if (s->out_cap - s->out_len < n) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		uint8_t *p;

		if (s->out_off > 0) { /* slide down first */
			memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
			s->out_len -= s->out_off;
			s->out_off = 0;
		}
		while (cap - s->out_len < n)
			cap *= 2;
		if (cap != s->out_cap) {
			p = realloc(s->out, cap);
			if (!p)
				return NULL;
			s->out = p;
			s->out_cap = cap;
		}
	}
	return s->out + s->out_len;
}

/* n more bytes at the end of the out buffer go out next, after what is queued. */
static void piece_bytes(struct tcpcl4_session *s, size_t n)
{
	struct out_piece *last = s->pc_n ? &s->pc[(s->pc_head + s->pc_n - 1) % OUT_PIECES] : NULL;

	if (last && !last->x) {
		last->len += n;
	} else if (s->pc_n == OUT_PIECES) { /* segments leave room: never */
		die(s, "out of output pieces");
		return;
	} else {
		s->pc[(s->pc_head + s->pc_n++) % OUT_PIECES] = (struct out_piece){ .len = n };
	}
	s->pending += n;
}

/* Queue a control message built by an encoder into a small buffer. */
static void out_put(struct tcpcl4_session *s, const uint8_t *msg, long n)
{
	uint8_t *p;

	if (n <= 0 || s->why)
		return;
	p = out_reserve(s, (size_t)n);
	if (!p) {
		die(s, "out of memory");
		return;
	}
	memcpy(p, msg, (size_t)n);
	s->out_len += (size_t)n;
	piece_bytes(s, (size_t)n);
}

static void send_term(struct tcpcl4_session *s, uint8_t flags, uint8_t reason)
{
	uint8_t m[TCPCL4_SESS_TERM_LEN];

	out_put(s, m, tcpcl4_encode_term(m, sizeof(m), flags, reason));
	s->term_sent = true;
	s->state = SESS_ENDING;
}

/* Refuse what the peer sent: MSG_REJECT (5.1.2). */
static void send_reject(struct tcpcl4_session *s, uint8_t reason, uint8_t type)
{
	uint8_t m[TCPCL4_MSG_REJECT_LEN];

	out_put(s, m, tcpcl4_encode_reject(m, sizeof(m), reason, type));
}

/* The next segment of the transfer being sent, head and data. */
static void add_segment(struct tcpcl4_session *s)
{
	struct out_xfer *x = s->xsend;
	uint64_t mtu = s->peer_segment_mru < s->cfg.segment_max ? s->peer_segment_mru :
								  s->cfg.segment_max;
	size_t n = x->len - x->sent;
	uint8_t flags = 0;
	uint8_t *p;
	long h;

	if (mtu == 0)
		mtu = 1;
	if (n > mtu)
		n = (size_t)mtu;
	if (x->sent == 0)
		flags |= TCPCL4_XFER_START;
	if (x->sent + n == x->len)
		flags |= TCPCL4_XFER_END;
	p = out_reserve(s, TCPCL4_SEGMENT_HEAD_MAX);
	if (!p) {
		die(s, "out of memory");
		return;
	}
	/* 5.2.5: the Transfer Length extension, when the bundle takes several segments. */
	h = tcpcl4_encode_segment_head(p, TCPCL4_SEGMENT_HEAD_MAX, flags, x->id,
				       (flags & TCPCL4_XFER_END) ? UINT64_MAX : x->len, n);
	s->out_len += (size_t)h;
	piece_bytes(s, (size_t)h);
	/* The data itself goes from the transfer's buffer. */
	s->pc[(s->pc_head + s->pc_n++) % OUT_PIECES] =
		(struct out_piece){ .x = x, .off = x->sent, .len = n };
	s->pending += n;
	x->pieces++;
	x->sent += n;
	if (x->sent == x->len)
		s->xsend = x->next;
}

/* Free a transfer, or keep it until no piece points into it. */
static void xfer_done(struct tcpcl4_session *s, struct out_xfer *x)
{
	if (x->pieces > 0) {
		x->next_dead = s->dead;
		s->dead = x;
		return;
	}
	free(x->data);
	free(x);
}

/* n bytes went out: the pieces they were. */
static void written(struct tcpcl4_session *s, size_t n)
{
	while (n > 0) {
		struct out_piece *pc = &s->pc[s->pc_head];
		size_t k = n < pc->len ? n : pc->len;

		pc->len -= k;
		pc->off += k;
		s->pending -= k;
		n -= k;
		if (!pc->x)
			s->out_off += k;
		if (pc->len > 0)
			break;
		if (pc->x && --pc->x->pieces == 0) { /* a done transfer can go now */
			for (struct out_xfer **pp = &s->dead; *pp; pp = &(*pp)->next_dead) {
				if (*pp == pc->x) {
					*pp = pc->x->next_dead;
					free(pc->x->data);
					free(pc->x);
					break;
				}
			}
		}
		s->pc_head = (s->pc_head + 1) % OUT_PIECES;
		s->pc_n--;
	}
}

/* Write what is queued; top the queue up with segments while the socket takes them. */
static void pump(struct tcpcl4_session *s)
{
	ssize_t n;

	while (!s->why) {
		struct iovec iov[OUT_IOV];
		struct msghdr mh = { .msg_iov = iov };
		size_t at;

		/* Segments while little is pending: one transfer after another. */
		while (s->state == SESS_UP && s->xsend && s->pending < OUT_LOW_WATER &&
		       s->pc_n + 4 <= OUT_PIECES && !s->why)
			add_segment(s);
		if (s->pc_n == 0)
			break;
		at = s->out_off; /* after add_segment: it may slide the out buffer down */
		for (unsigned i = 0; i < s->pc_n && i < OUT_IOV; i++) {
			const struct out_piece *pc = &s->pc[(s->pc_head + i) % OUT_PIECES];

			iov[i].iov_base = pc->x ? pc->x->data + pc->off : s->out + at;
			iov[i].iov_len = pc->len;
			at += pc->x ? 0 : pc->len;
			mh.msg_iovlen++;
		}
		n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(s->loop, &s->wio);
			return;
		}
		if (n < 0) {
			die(s, "send failed");
			return;
		}
		written(s, (size_t)n);
		s->last_tx = ev_now(s->loop);
	}
	ev_io_stop(s->loop, &s->wio);
	/* 6.1: both SESS_TERMs exchanged and everything written: close. */
	if (!s->why && s->term_sent && s->term_rcvd && s->pc_n == 0)
		die(s, "session ended");
}

/* Input handling. */

static void send_init(struct tcpcl4_session *s)
{
	uint8_t m[TCPCL4_SESS_INIT_MIN + TCPCL4_NODE_ID_MAX];

	out_put(s, m,
		tcpcl4_encode_sess_init(m, sizeof(m), s->cfg.keepalive_s, s->cfg.segment_mru,
					s->cfg.transfer_mru, s->node_id, strlen(s->node_id)));
	s->sent_init = true;
}

/* 4.3: the contact header. */
static long on_contact(struct tcpcl4_session *s)
{
	uint8_t version, flags, hdr[TCPCL4_CONTACT_LEN];
	int r = tcpcl4_contact_decode(s->in, s->in_len, &version, &flags);

	if (r < 0) {
		die(s, "not a TCPCL peer (bad magic)");
		return r;
	}
	if (r == TCPCL4_NEED_MORE)
		return 0;
	if (version != TCPCL4_VERSION) {
		/* Answer in its version's terms where we can: a v4 SESS_TERM. */
		if (!s->active) {
			tcpcl4_contact_encode(hdr, 0);
			out_put(s, hdr, sizeof(hdr));
		}
		send_term(s, 0, TCPCL4_TERM_VERSION_MISMATCH);
		s->term_rcvd = true; /* nothing more to wait for */
		return r;
	}
	(void)flags; /* CAN_TLS: no TLS yet; we never set it, so neither side uses it */
	s->got_contact = true;
	s->state = SESS_INIT;
	if (!s->active) {
		tcpcl4_contact_encode(hdr, 0);
		out_put(s, hdr, sizeof(hdr));
	} else {
		send_init(s); /* Figure 8: the active entity speaks first */
	}
	return r;
}

static void on_sess_init(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	struct tcpcl4_ext e;
	uint32_t pos = 0;

	if (s->state != SESS_INIT) {
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_SESS_INIT);
		return;
	}
	/* 4.8: an unknown critical session extension ends the session. */
	while (tcpcl4_ext_next(m->u.init.ext, m->u.init.ext_len, &pos, &e) > 0)
		if (e.flags & TCPCL4_EXT_CRITICAL) {
			send_term(s, 0, TCPCL4_TERM_CONTACT_FAILURE);
			return;
		}
	/* 4.7: the MRUs are the peer's; zero could carry nothing. */
	if (m->u.init.segment_mru == 0 || m->u.init.transfer_mru == 0 ||
	    m->u.init.node_id_len == 0) {
		send_term(s, 0, TCPCL4_TERM_CONTACT_FAILURE);
		return;
	}
	s->peer_segment_mru = m->u.init.segment_mru;
	s->peer_transfer_mru = m->u.init.transfer_mru;
	s->keepalive_s = m->u.init.keepalive < s->cfg.keepalive_s ? m->u.init.keepalive :
								    s->cfg.keepalive_s;
	if (!s->sent_init)
		send_init(s); /* Figure 9: the passive entity answers */
	s->state = SESS_UP;
	ev_timer_stop(s->loop, &s->setup);
	if (s->keepalive_s) {
		s->keepalive.repeat = 1.0;
		ev_timer_again(s->loop, &s->keepalive);
	}
	s->ops.up(s->ctx, s, m->u.init.node_id, m->u.init.node_id_len);
}

static void send_ack(struct tcpcl4_session *s, uint8_t flags, uint64_t id, uint64_t len)
{
	uint8_t m[TCPCL4_XFER_ACK_LEN];

	out_put(s, m, tcpcl4_encode_ack(m, sizeof(m), flags, id, len));
}

static void send_refuse(struct tcpcl4_session *s, uint8_t reason, uint64_t id)
{
	uint8_t m[TCPCL4_XFER_REFUSE_LEN];

	out_put(s, m, tcpcl4_encode_refuse(m, sizeof(m), reason, id));
	s->stats.refused_in++;
}

/* 5.2.2: a segment of the transfer being received. */
static void on_segment(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	uint8_t flags = m->u.seg.flags;
	struct tcpcl4_ext e;
	uint32_t pos = 0;

	if (s->state != SESS_UP && s->state != SESS_ENDING) {
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_XFER_SEGMENT);
		return;
	}
	if (flags & TCPCL4_XFER_START) {
		if (s->rx_on && !s->rx_refused) {
			/* A transfer left unfinished: drop it (5.2: not interleaved). */
			send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_XFER_SEGMENT);
		}
		s->rx_on = true;
		s->rx_id = m->u.seg.id;
		s->rx_len = 0;
		s->rx_refused = false;
		while (tcpcl4_ext_next(m->u.seg.ext, m->u.seg.ext_len, &pos, &e) > 0)
			if ((e.flags & TCPCL4_EXT_CRITICAL) && e.type != TCPCL4_XFER_EXT_LENGTH) {
				send_refuse(s, TCPCL4_REFUSE_EXTENSION_FAILURE, s->rx_id);
				s->rx_refused = true;
			}
		if (!s->rx_refused && m->u.seg.has_total && m->u.seg.total > s->cfg.transfer_mru) {
			send_refuse(s, TCPCL4_REFUSE_NOT_ACCEPTABLE, s->rx_id);
			s->rx_refused = true;
		}
		if (s->term_rcvd || s->term_sent) {
			/* 6.1: no new transfer once the session is ending. */
			if (!s->rx_refused)
				send_refuse(s, TCPCL4_REFUSE_SESSION_TERMINATING, s->rx_id);
			s->rx_refused = true;
		}
	} else if (!s->rx_on || m->u.seg.id != s->rx_id) {
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_XFER_SEGMENT);
		return;
	}
	if (!s->rx_refused && m->u.seg.data_len > s->cfg.transfer_mru - s->rx_len) {
		send_refuse(s, TCPCL4_REFUSE_NOT_ACCEPTABLE, s->rx_id);
		s->rx_refused = true;
	}
	if (!s->rx_refused && s->rx_cap - s->rx_len < m->u.seg.data_len) {
		size_t cap = s->rx_cap ? s->rx_cap : 4096;
		uint8_t *p;

		while (cap - s->rx_len < m->u.seg.data_len)
			cap *= 2;
		p = realloc(s->rx, cap);
		if (!p) {
			send_refuse(s, TCPCL4_REFUSE_NO_RESOURCES, s->rx_id);
			s->rx_refused = true;
		} else {
			s->rx = p;
			s->rx_cap = cap;
		}
	}
	if (s->rx_refused) {
		if (flags & TCPCL4_XFER_END)
			s->rx_on = false;
		return;
	}
	if (m->u.seg.data_len > 0)
		memcpy(s->rx + s->rx_len, m->u.seg.data, m->u.seg.data_len);
	s->rx_len += m->u.seg.data_len;
	if (!(flags & TCPCL4_XFER_END)) {
		send_ack(s, flags, s->rx_id, s->rx_len); /* 5.2.3: cumulative */
		return;
	}
	if (s->rx_len == 0) {
		/* Segments carrying nothing at all: no bundle is empty. */
		send_refuse(s, TCPCL4_REFUSE_NOT_ACCEPTABLE, s->rx_id);
		s->rx_on = false;
		return;
	}
	/* The whole bundle: its final ACK waits for the owner's accept. */
	s->rx_on = false;
	s->pend[s->npend++] =
		(struct pending_ack){ .id = s->rx_id, .flags = flags, .len = s->rx_len };
	s->stats.bundles_in++;
	s->stats.bytes_in += s->rx_len;
	s->ops.received(s->ctx, s, s->rx_id, s->rx, s->rx_len);
	if (s->npend == TCPCL4_MAX_UNACCEPTED)
		ev_io_stop(s->loop, &s->rio); /* the owner catches up first */
}

/* 5.2.3: the peer acknowledged bytes of the transfer at the queue's head. */
static void on_ack(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	struct out_xfer *x = s->xq;

	if (!x || m->u.ack.id != x->id || m->u.ack.len > x->sent || m->u.ack.len < x->acked) {
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_XFER_ACK);
		return;
	}
	x->acked = (size_t)m->u.ack.len;
	if (!(m->u.ack.flags & TCPCL4_XFER_END) || x->acked != x->len)
		return;
	s->xq = x->next;
	if (!s->xq)
		s->xq_tail = NULL;
	s->nqueued--;
	s->queued_bytes -= x->len;
	s->stats.bundles_out++;
	s->stats.bytes_out += x->len;
	s->ops.sent(s->ctx, s, x->token, 0, 0);
	xfer_done(s, x);
}

/* 5.2.4: the peer refused a transfer (the current one, or one not begun). */
static void on_refuse(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	struct out_xfer **pp, *x;

	for (pp = &s->xq; (x = *pp) && x->id != m->u.refuse.id; pp = &x->next)
		;
	if (!x) {
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, TCPCL4_XFER_REFUSE);
		return;
	}
	/* 5.2.4: stop sending it (segments already queued still go; the peer drops them). */
	if (s->xsend == x)
		s->xsend = x->next;
	*pp = x->next;
	s->nqueued--;
	s->queued_bytes -= x->len;
	if (s->xq_tail == x) {
		struct out_xfer *t = s->xq;

		while (t && t->next)
			t = t->next;
		s->xq_tail = t;
	}
	s->stats.refused_out++;
	s->ops.sent(s->ctx, s, x->token, -ECONNREFUSED, m->u.refuse.reason);
	xfer_done(s, x); /* its queued segments still go (the peer drops them) */
}

/* 6.1 */
static void on_term(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	s->term_rcvd = true;
	if (!s->term_sent)
		send_term(s, TCPCL4_TERM_REPLY, m->u.term.reason);
	s->state = SESS_ENDING;
}

static void handle(struct tcpcl4_session *s, const struct tcpcl4_msg *m)
{
	if (s->state == SESS_INIT && m->type != TCPCL4_SESS_INIT && m->type != TCPCL4_SESS_TERM &&
	    m->type != TCPCL4_MSG_REJECT) {
		/* 5.1.2: not expected before SESS_INIT. */
		send_reject(s, TCPCL4_REJECT_UNEXPECTED, (uint8_t)m->type);
		return;
	}
	switch (m->type) {
	case TCPCL4_SESS_INIT:
		on_sess_init(s, m);
		break;
	case TCPCL4_XFER_SEGMENT:
		on_segment(s, m);
		break;
	case TCPCL4_XFER_ACK:
		on_ack(s, m);
		break;
	case TCPCL4_XFER_REFUSE:
		on_refuse(s, m);
		break;
	case TCPCL4_KEEPALIVE:
		break;
	case TCPCL4_SESS_TERM:
		on_term(s, m);
		break;
	case TCPCL4_MSG_REJECT:
		/* A message of ours it could not take: nothing to retry. */
		break;
	}
}

/* Decode and handle what the input buffer holds. */
static void process(struct tcpcl4_session *s)
{
	size_t off = 0, need;
	struct tcpcl4_error err;
	struct tcpcl4_msg m;
	long n;

	while (!s->why && off < s->in_len && s->npend < TCPCL4_MAX_UNACCEPTED) {
		if (!s->got_contact) { /* the first bytes of the stream: off is 0 */
			n = on_contact(s);
			if (n <= 0 || s->term_sent)
				break;
			off += (size_t)n;
			continue;
		}
		if (s->term_sent && s->term_rcvd)
			break; /* nothing more is read once both ends said goodbye */
		n = tcpcl4_decode(s->in + off, s->in_len - off, s->cfg.segment_mru, &m, &need,
				  &err);
		if (n == TCPCL4_NEED_MORE)
			break;
		if (n < 0) {
			if (err.reject)
				send_reject(s, err.reject, s->in[off]);
			send_term(s, 0, err.term);
			s->term_rcvd = true; /* the stream is lost: do not wait for a reply */
			break;
		}
		handle(s, &m);
		off += (size_t)n;
	}
	if (off > 0) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcpcl4_session *s = w->data;
	size_t room;
	ssize_t n;

	hold(s);
	/* Room for the largest message we accept: a segment of segment_mru. */
	if (s->in_cap - s->in_len < READ_CHUNK) {
		size_t cap = s->in_len + READ_CHUNK;
		uint8_t *p = realloc(s->in, cap);

		if (!p) {
			die(s, "out of memory");
			goto out;
		}
		s->in = p;
		s->in_cap = cap;
	}
	room = s->in_cap - s->in_len;
	n = recv(s->fd, s->in + s->in_len, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		goto out;
	if (n <= 0) {
		die(s, n == 0 ? "peer closed the connection" : "receive failed");
		goto out;
	}
	s->in_len += (size_t)n;
	s->last_rx = ev_now(loop);
	process(s);
	pump(s);
out:
	release(s);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcpcl4_session *s = w->data;

	hold(s);
	pump(s);
	release(s);
}

static void setup_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcpcl4_session *s = w->data;

	hold(s);
	die(s, s->got_contact ? "no SESS_INIT in time" : "no contact header in time");
	release(s);
}

/* 5.1.1: a KEEPALIVE when we were quiet; an idle peer is gone after two intervals. */
static void flush_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct tcpcl4_session *s = w->data;

	ev_check_stop(loop, &s->flush);
	ev_idle_stop(loop, &s->flush_idle);
	hold(s);
	pump(s);
	release(s);
}

static void flush_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

/* Write after this loop turn, with whatever else it queues. */
static void flush_soon(struct tcpcl4_session *s)
{
	if (s->why)
		return;
	ev_check_start(s->loop, &s->flush);
	ev_idle_start(s->loop, &s->flush_idle);
}

static void keepalive_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcpcl4_session *s = w->data;
	ev_tstamp now = ev_now(loop);
	uint8_t m[TCPCL4_KEEPALIVE_LEN];

	hold(s);
	if (now - s->last_rx > 2.0 * s->keepalive_s && !s->term_sent) {
		send_term(s, 0, TCPCL4_TERM_IDLE_TIMEOUT);
		s->term_rcvd = true;
	} else if (now - s->last_tx >= s->keepalive_s && s->pc_n == 0) {
		out_put(s, m, tcpcl4_encode_keepalive(m, sizeof(m)));
	}
	pump(s);
	release(s);
}

int tcpcl4_session_new(struct ev_loop *loop, int fd, bool active, const struct tcpcl4_config *cfg,
		       const struct tcpcl4_session_ops *ops, void *ctx, struct tcpcl4_session **ret)
{
	struct tcpcl4_session *s;
	uint8_t hdr[TCPCL4_CONTACT_LEN];

	if (!loop || fd < 0 || !cfg || !cfg->node_id || !ops || !ret ||
	    strlen(cfg->node_id) > TCPCL4_NODE_ID_MAX || cfg->segment_mru == 0 ||
	    cfg->segment_max == 0) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->node_id = strdup(cfg->node_id))) {
		free(s);
		close(fd);
		return -ENOMEM;
	}
	s->loop = loop;
	s->fd = fd;
	s->active = active;
	s->cfg = *cfg;
	s->cfg.node_id = s->node_id;
	s->ops = *ops;
	s->ctx = ctx;
	s->next_id = 1;
	s->state = SESS_CONTACT;
	s->last_rx = s->last_tx = ev_now(loop);
	ev_io_init(&s->rio, read_cb, fd, EV_READ);
	ev_io_init(&s->wio, write_cb, fd, EV_WRITE);
	ev_check_init(&s->flush, flush_cb);
	s->flush.data = s;
	ev_idle_init(&s->flush_idle, flush_idle_cb);
	ev_timer_init(&s->setup, setup_cb, cfg->setup_timeout_s > 0 ? cfg->setup_timeout_s : 10.0,
		      0.);
	ev_init(&s->keepalive, keepalive_cb);
	s->rio.data = s->wio.data = s->setup.data = s->keepalive.data = s;
	ev_io_start(loop, &s->rio);
	ev_timer_start(loop, &s->setup);
	if (active) {
		/* 4.2: the active entity speaks first; written from the loop, like all else. */
		tcpcl4_contact_encode(hdr, 0);
		out_put(s, hdr, sizeof(hdr));
		ev_io_start(loop, &s->wio);
	}
	*ret = s;
	return 0;
}

int tcpcl4_session_send(struct tcpcl4_session *s, uint64_t token, uint8_t *data, size_t len)
{
	struct out_xfer *x;

	if (len == 0)
		return -EINVAL; /* a bundle is never empty */
	if (s->why || s->term_sent || s->term_rcvd)
		return -ENOTCONN;
	if (s->state == SESS_UP && len > s->peer_transfer_mru)
		return -EMSGSIZE;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->data = data; /* ours from here: no copy of the bundle */
	x->len = len;
	x->token = token;
	x->id = s->next_id++;
	if (s->xq_tail)
		s->xq_tail->next = x;
	else
		s->xq = x;
	s->xq_tail = x;
	if (!s->xsend)
		s->xsend = x;
	s->nqueued++;
	s->queued_bytes += len;
	flush_soon(s);
	return 0;
}

void tcpcl4_session_accept(struct tcpcl4_session *s, uint64_t xfer_id, int status,
			   uint8_t refuse_reason)
{
	size_t i;

	for (i = 0; i < s->npend && s->pend[i].id != xfer_id; i++)
		;
	if (i == s->npend)
		return;
	hold(s);
	if (status == 0)
		send_ack(s, s->pend[i].flags, s->pend[i].id, s->pend[i].len);
	else
		send_refuse(s, refuse_reason, xfer_id);
	memmove(&s->pend[i], &s->pend[i + 1], (s->npend - i - 1) * sizeof(s->pend[0]));
	s->npend--;
	if (!s->why && !ev_is_active(&s->rio)) {
		ev_io_start(s->loop, &s->rio);
		process(s); /* what was read before we stopped */
	}
	flush_soon(s);
	release(s);
}

void tcpcl4_session_close(struct tcpcl4_session *s, uint8_t reason)
{
	hold(s);
	if (!s->term_sent && s->state >= SESS_INIT)
		send_term(s, 0, reason);
	else if (s->state < SESS_INIT)
		die(s, "closed before it was up");
	pump(s);
	release(s);
}

void tcpcl4_session_abort(struct tcpcl4_session *s)
{
	hold(s);
	die(s, "closed");
	release(s);
}

void tcpcl4_session_stats(const struct tcpcl4_session *s, struct tcpcl4_stats *ret)
{
	*ret = s->stats;
}

bool tcpcl4_session_busy(const struct tcpcl4_session *s)
{
	return s->nqueued >= TCPCL4_QUEUE_MAX || s->queued_bytes >= TCPCL4_QUEUE_BYTES_MAX;
}
