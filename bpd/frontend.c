/* SPDX-License-Identifier: MIT */
/*
 * bpd's front end: accepts client connections, reads one protocol message
 * per datagram, and turns them into agent calls (docs/client-protocol.md).
 * A malformed message closes that client with a log line, never the daemon.
 */
#include "frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "agent.h"
#include "bp/proto.h"
#include "log.h"
#include "node.h"
#include "textbuf.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Ephemeral services: what a bind to service 0 picks from (as Linux's ports). */
#define EPHEMERAL_FIRST 32768u
#define EPHEMERAL_LAST 60999u
/* Admin command output, at most; past ADMIN_INLINE_MAX it travels as a memfd. */
#define ADMIN_OUTPUT_MAX (64u << 20)
#define ADMIN_INLINE_MAX (32u << 10)
/* Kernel buffer for the delivery channel: a whole inline message fits. */
#define DELIVERY_SNDBUF (4 << 20)

/* Queued DELIVERs: how many, their bytes, and the largest one queued. */
#define DQ_MAX 64
#define DQ_ARENA (32u << 10)
#define DQ_ITEM_MAX (4u << 10)

enum client_state {
	CLIENT_NEW,   /* connected, no SOCKET yet */
	CLIENT_OPEN,  /* has its delivery channel */
	CLIENT_BOUND, /* registered to an endpoint */
};

struct client {
	struct frontend *fe;
	struct client *next;
	int fd;		 /* control connection */
	int delivery_fd; /* bpd's end of the delivery socketpair, or -1 */
	ev_io io;
	ev_io delivery_io;	 /* waits for room after a full delivery channel */
	ev_timer retry;		 /* after a transient failure, or to close a broken channel */
	bool broken;		 /* the delivery channel failed: close on the next turn */
	struct access_peer peer; /* who the kernel says it is */
	pid_t pid;
	enum client_state state;
	bool closing;
	unsigned refs;	  /* the connection, plus one per send in flight */
	unsigned sending; /* SENDs in flight (at most BP_PROTO_MAX_INFLIGHT) */
	/* Replies to SENDs settled this loop turn, sent together at its end. */
	struct queued_reply *replies; /* BP_PROTO_MAX_INFLIGHT of them, allocated on first use */
	unsigned nreplies;
	struct client *next_flush; /* on the front end's list while nreplies > 0 */
	bool listed;		   /* on that list */
	size_t inline_max;	   /* largest payload delivered inline on this channel */
	/*
	 * Small DELIVERs of this loop turn, sent together at its end (or when
	 * the queue fills): one system call for a burst of bundles. The arena
	 * lives only while something is queued.
	 */
	uint8_t *dq;
	size_t dq_bytes;
	struct iovec dq_iov[DQ_MAX];
	unsigned dq_n, dq_sent;
	bool batch_failed; /* a SEND failed: refuse the rest of its batch */
	struct agent_binding *binding;
	bool abandon;			     /* delivery policy */
	char eid_text[BP_PROTO_MAX_EID + 1]; /* the bound EID's text */
};

struct frontend {
	struct ev_loop *loop;
	struct agent *agent;
	struct frontend_limits limits;
	const struct access *access;
	bool abandon; /* default delivery policy */
	frontend_admin_fn *admin;
	void *admin_ctx;
	uint32_t next_ephemeral;
	int listen_fd;
	ev_io accept_io;
	ev_timer accept_retry;
	char path[108];
	struct client *clients;
	unsigned nclients;
	uint8_t *buf;		 /* one message at a time: the loop is single-threaded */
	ev_prepare flush;	 /* sends the queued replies, after the store's commit */
	struct client *to_flush; /* clients with queued replies */
};

/* A REPLY to a SEND: status, creation timestamp. */
#define QUEUED_REPLY_MAX (BP_PROTO_HDR_LEN + 3 * (BP_PROTO_FIELD_HDR_LEN + 8))

struct queued_reply {
	uint8_t msg[QUEUED_REPLY_MAX];
	struct iovec iov;
};

/* A pending SEND: the client and the request id to answer. */
struct send_ctx {
	struct client *c;
	uint32_t request;
};

static void client_release(struct client *c);
static void client_close(struct client *c, const char *why);
static int payload_memfd(const uint8_t *p, size_t len);
static void flush_replies(struct client *c);
static void list_for_flush(struct client *c);
static int flush_deliveries(struct client *c);
static int delivery_result(struct client *c, int r);
static bool serve_one(struct client *c, struct bp_msg *m);
static void flush_before_reply(struct client *c);

/* Replies */

static int send_with_fd(int fd, const uint8_t *msg, size_t len, int pass_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (pass_fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Replies are small and a client reads them before sending again, so the
 * control socket never fills; if it did, the client is not following the
 * protocol and is dropped.
 */
static void reply(struct client *c, uint32_t request, int status, const struct agent_sent *sent,
		  int pass_fd)
{
	uint8_t msg[256];
	struct bp_msg_wr w;
	long n;
	int r;

	if (c->closing)
		return;
	flush_before_reply(c);
	if (c->closing)
		return;
	bp_msg_begin(&w, msg, sizeof(msg), BP_MSG_REPLY, request);
	bp_msg_put_u64(&w, BP_F_STATUS, (uint64_t)(status < 0 ? -status : status));
	if (sent) {
		bp_msg_put_u64(&w, BP_F_CREATION_TIME, sent->creation_time);
		bp_msg_put_u64(&w, BP_F_SEQUENCE, sent->sequence);
	}
	n = bp_msg_end(&w);
	r = n < 0 ? (int)n : send_with_fd(c->fd, msg, (size_t)n, pass_fd);
	if (r < 0)
		client_close(c, "cannot reply");
}

/*
 * Before a reply sent at once: what was queued for the client goes first,
 * so that, say, the bundles a bind found waiting are readable when the
 * bind returns. A full delivery channel keeps the rest for later.
 */
static void flush_before_reply(struct client *c)
{
	int r;

	if (c->nreplies > 0)
		flush_replies(c); /* it stays listed until the end of the turn */
	if (!c->closing && c->dq_n > c->dq_sent) {
		r = flush_deliveries(c);
		if (r < 0 && r != -EAGAIN)
			(void)delivery_result(c, r);
		else if (r == -EAGAIN)
			ev_io_start(c->fe->loop, &c->delivery_io);
	}
}

/* Send a client's queued replies in one sendmmsg(); it is then off the list. */
static void flush_replies(struct client *c)
{
	struct mmsghdr mm[BP_PROTO_MAX_INFLIGHT];
	unsigned done = 0;

	for (unsigned i = 0; i < c->nreplies; i++)
		mm[i].msg_hdr = (struct msghdr){ .msg_iov = &c->replies[i].iov, .msg_iovlen = 1 };
	while (done < c->nreplies && !c->closing) {
		int k = sendmmsg(c->fd, mm + done, c->nreplies - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			client_close(c, "cannot reply"); /* a client reads its replies */
		else
			done += (unsigned)k;
	}
	c->nreplies = 0;
}

static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct frontend *fe = container_of(w, struct frontend, flush);

	while (fe->to_flush) {
		struct client *c = fe->to_flush;

		fe->to_flush = c->next_flush;
		c->listed = false;
		flush_replies(c);
		if (!c->closing && c->dq_n > c->dq_sent) {
			int r = flush_deliveries(c);

			if (r < 0)
				(void)delivery_result(c, r);
		}
		client_release(c);
	}
}

/*
 * A SEND's reply, queued: the store settles SENDs together at the end of a
 * loop turn (a pipelined batch in one commit), and their replies go out
 * together too, in one system call.
 */
static void queue_reply(struct client *c, uint32_t request, int status,
			const struct agent_sent *sent)
{
	struct queued_reply *q;
	struct bp_msg_wr w;
	long n;

	if (!c->replies)
		c->replies = malloc(BP_PROTO_MAX_INFLIGHT * sizeof(*c->replies));
	if (!c->replies || c->nreplies == BP_PROTO_MAX_INFLIGHT) {
		reply(c, request, status, sent, -1);
		return;
	}
	q = &c->replies[c->nreplies];
	bp_msg_begin(&w, q->msg, sizeof(q->msg), BP_MSG_REPLY, request);
	bp_msg_put_u64(&w, BP_F_STATUS, (uint64_t)(status < 0 ? -status : status));
	if (sent) {
		bp_msg_put_u64(&w, BP_F_CREATION_TIME, sent->creation_time);
		bp_msg_put_u64(&w, BP_F_SEQUENCE, sent->sequence);
	}
	n = bp_msg_end(&w);
	if (n < 0) {
		client_close(c, "cannot reply");
		return;
	}
	q->iov = (struct iovec){ .iov_base = q->msg, .iov_len = (size_t)n };
	c->nreplies++;
	list_for_flush(c);
}

/* Requests */

static void handle_socket(struct client *c, const struct bp_msg *m)
{
	int sv[2], size = DELIVERY_SNDBUF;
	socklen_t len;

	if (c->state != CLIENT_NEW) {
		reply(c, m->request, -EINVAL, NULL, -1);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		reply(c, m->request, -errno, NULL, -1);
		return;
	}
	/* Root may go past net.core.wmem_max; others get what the kernel allows. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/*
	 * Inline payloads up to what one datagram can carry through this
	 * socket (half its buffer: the kernel counts overhead), else a memfd.
	 */
	len = sizeof(size);
	c->inline_max = c->fe->limits.inline_max;
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, &len) == 0 &&
	    (size_t)size / 2 < c->inline_max + 4096)
		c->inline_max = (size_t)size / 2 > 4096 ? (size_t)size / 2 - 4096 : 0;
	c->delivery_fd = sv[0];
	ev_io_set(&c->delivery_io, sv[0], EV_WRITE);
	c->state = CLIENT_OPEN;
	reply(c, m->request, 0, NULL, sv[1]);
	close(sv[1]);
}

static int parse_eid_field(const struct bp_msg *m, enum bp_field tag, struct bp_eid *ret,
			   char *text, size_t cap)
{
	const struct bp_msg_field *f = bp_msg_find(m, tag);
	const char *why;

	if (!f || f->len >= cap)
		return -EINVAL;
	memcpy(text, f->ptr, f->len);
	text[f->len] = '\0';
	return bp_eid_parse(text, f->len, ret, &why) < 0 ? -EINVAL : 0;
}

static int deliver_to_client(void *ctx, const struct agent_delivery *d);

static const struct agent_sink_ops client_sink = { .deliver = deliver_to_client };

/*
 * The wildcards of bp_bind(), as INADDR_ANY and port 0: ipn node 0 (or
 * RFC 9758's "!") is this node's number; service 0 is left for bind_ephemeral().
 */
static int resolve_node(const struct node_id *node, struct bp_eid *eid)
{
	bool local = eid->node == BP_EID_IPN_LOCALNODE || (eid->allocator == 0 && eid->node == 0);

	if (eid->scheme != BP_EID_IPN || !local)
		return 0;
	if (node->eid.scheme != BP_EID_IPN)
		return -EADDRNOTAVAIL; /* a dtn node has no number */
	bp_eid_set_ipn(eid, node->eid.allocator << 32 | node->eid.node, eid->service);
	return 0;
}

static int bind_one(struct client *c, const struct bp_eid *eid)
{
	int r;

	if (!node_id_owns(agent_node(c->fe->agent), eid))
		return -EADDRNOTAVAIL;
	r = access_may_bind(c->fe->access, &c->peer, eid);
	return r < 0 ? r : agent_bind(c->fe->agent, eid, &client_sink, c, &c->binding);
}

/*
 * A free service for bind to service 0, taken round-robin so that a service
 * just released is not handed out again at once, and never one an access
 * rule reserves. First choice: one nobody holds and no bundle waits for.
 * Failing that (anyone may queue bundles for unbound services, so the range
 * can be filled on purpose), one nobody holds: its waiting bundles go to
 * the new socket, as a kernel socket gets what was queued on its port.
 */
static int bind_ephemeral(struct client *c, struct bp_eid *eid)
{
	struct frontend *fe = c->fe;
	uint32_t span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < span; i++) {
			eid->service = EPHEMERAL_FIRST + (fe->next_ephemeral + i) % span;
			if (access_reserved(fe->access, eid) ||
			    (pass == 0 ? agent_endpoint_known(fe->agent, eid) :
					 agent_endpoint_bound(fe->agent, eid)))
				continue;
			fe->next_ephemeral = (fe->next_ephemeral + i + 1) % span;
			return bind_one(c, eid);
		}
	}
	return -EADDRINUSE;
}

static void reply_bind(struct client *c, uint32_t request, int status)
{
	uint8_t msg[BP_PROTO_HDR_LEN + 3 * BP_PROTO_FIELD_HDR_LEN + 16 + BP_PROTO_MAX_EID];
	struct bp_msg_wr w;
	long n;

	if (status < 0) {
		reply(c, request, status, NULL, -1);
		return;
	}
	flush_before_reply(c);
	if (c->closing)
		return;
	bp_msg_begin(&w, msg, sizeof(msg), BP_MSG_REPLY, request);
	bp_msg_put_u64(&w, BP_F_STATUS, 0);
	bp_msg_put_bytes(&w, BP_F_EID, c->eid_text, strlen(c->eid_text));
	bp_msg_put_u64(&w, BP_F_POLICY, c->abandon ? BP_POLICY_ABANDON : BP_POLICY_DEFER);
	n = bp_msg_end(&w);
	if (n < 0 || send_with_fd(c->fd, msg, (size_t)n, -1) < 0)
		client_close(c, "cannot reply");
}

static void handle_bind(struct client *c, const struct bp_msg *m)
{
	uint64_t policy = bp_msg_u64(m, BP_F_POLICY, c->fe->abandon);
	struct bp_eid eid;
	int r;

	if (c->state != CLIENT_OPEN) {
		reply(c, m->request, c->state == CLIENT_NEW ? -ENOTCONN : -EINVAL, NULL, -1);
		return;
	}
	r = parse_eid_field(m, BP_F_EID, &eid, c->eid_text, sizeof(c->eid_text));
	if (r == 0)
		r = resolve_node(agent_node(c->fe->agent), &eid);
	if (r == 0 && policy > BP_POLICY_ABANDON)
		r = -EINVAL;
	c->abandon = policy == BP_POLICY_ABANDON;
	/* Bound before the reply: queued bundles may already be on their way. */
	if (r == 0 && eid.scheme == BP_EID_IPN && eid.service == 0)
		r = bind_ephemeral(c, &eid);
	else if (r == 0)
		r = bind_one(c, &eid);
	if (r == 0) {
		char text[sizeof(c->eid_text)];

		c->state = CLIENT_BOUND;
		/* What was bound, for the reply (a dtn eid points into eid_text). */
		if (bp_eid_format(&eid, text, sizeof(text)) < 0)
			text[0] = '\0';
		memcpy(c->eid_text, text, sizeof(text));
	}
	reply_bind(c, m->request, r);
}

static void send_done(void *ctx, int status, const struct agent_sent *sent)
{
	struct send_ctx *s = ctx;

	s->c->sending--;
	if (status < 0)
		s->c->batch_failed = true;
	if (!s->c->closing)
		queue_reply(s->c, s->request, status, status == 0 ? sent : NULL);
	client_release(s->c);
	free(s);
}

/*
 * The payload of a SEND: inline in the message, or the first BP_PAYLOAD_FD
 * bytes of the fd that came with it. That fd must be a memfd sealed against
 * writes and shrinking, at least as long as announced: reading anything else
 * could block the loop (a FIFO, a device, a file on a hung NFS mount) or
 * change under us. Its bytes are not read here: the agent hands the file to
 * the store, which copies it in the kernel. A length over the store's free
 * space is refused at once.
 */
static int load_payload(struct client *c, const struct bp_msg *m, int fd,
			struct agent_send_req *req)
{
	const int need = F_SEAL_SHRINK | F_SEAL_WRITE;
	const struct bp_msg_field *f = bp_msg_find(m, BP_F_PAYLOAD);
	uint64_t len = bp_msg_u64(m, BP_F_PAYLOAD_FD, 0);
	struct stat st;
	int seals, r;

	if (f) {
		req->payload = f->ptr;
		req->payload_len = f->len;
		return 0;
	}
	if (fd < 0)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & need) != need || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size < len || len > SIZE_MAX)
		return -EINVAL;
	r = agent_room_for(c->fe->agent, len);
	if (r < 0)
		return r;
	req->payload = NULL;
	req->payload_len = (size_t)len;
	req->payload_fd = fd;
	return 0;
}

static int build_send_req(struct client *c, const struct bp_msg *m, struct agent_send_req *req,
			  char *dest_text, char *rpt_text)
{
	int r;

	memset(req, 0, sizeof(*req));
	if (c->state != CLIENT_BOUND)
		return -EADDRNOTAVAIL;
	r = parse_eid_field(m, BP_F_DEST, &req->dest, dest_text, BP_PROTO_MAX_EID + 1);
	if (r == 0) /* ipn:0.S and ipn:!.S mean this node, as bind's wildcard */
		r = resolve_node(agent_node(c->fe->agent), &req->dest);
	if (r < 0)
		return r;
	/* Nobody receives at the null endpoint or at service 0 (a node's admin endpoint). */
	if (bp_eid_is_null(&req->dest) ||
	    (req->dest.scheme == BP_EID_IPN && req->dest.service == 0))
		return -EINVAL;
	if (bp_msg_find(m, BP_F_REPORT_TO))
		r = parse_eid_field(m, BP_F_REPORT_TO, &req->report_to, rpt_text,
				    BP_PROTO_MAX_EID + 1);
	if (r < 0)
		return r;
	req->bp_flags = bp_msg_u64(m, BP_F_FLAGS, 0);
	req->lifetime = bp_msg_u64(m, BP_F_LIFETIME, 86400000);
	req->crc_type = (uint8_t)bp_msg_u64(m, BP_F_CRC_TYPE, BPV7_CRC_32C);
	req->hop_limit = bp_msg_u64(m, BP_F_HOP_LIMIT, 0);
	if (req->crc_type > BPV7_CRC_32C || req->hop_limit > 255)
		return -EINVAL;
	return 0;
}

static void handle_send(struct client *c, const struct bp_msg *m, int fd)
{
	char dest[BP_PROTO_MAX_EID + 1], rpt[BP_PROTO_MAX_EID + 1];
	struct agent_send_req req;
	struct send_ctx *s;
	int r;

	if (c->sending == BP_PROTO_MAX_INFLIGHT) {
		client_close(c, "too many requests in flight");
		return;
	}
	/* A batch stops at its first failure: nothing after it is stored. */
	if (!bp_msg_u64(m, BP_F_BATCH, 0))
		c->batch_failed = false;
	r = c->batch_failed ? -ECANCELED : build_send_req(c, m, &req, dest, rpt);
	if (r == 0)
		r = agent_binding_eid(c->binding, &req.source);
	if (r == 0 && !bp_msg_find(m, BP_F_REPORT_TO))
		req.report_to = req.source;
	if (r == 0)
		r = load_payload(c, m, fd, &req);
	s = r == 0 ? malloc(sizeof(*s)) : NULL;
	if (r == 0 && !s)
		r = -ENOMEM;
	if (r == 0) {
		*s = (struct send_ctx){ .c = c, .request = m->request };
		c->refs++;
		c->sending++;
		r = agent_send(c->fe->agent, &req, send_done, s);
		if (r < 0) {
			c->sending--;
			c->refs--;
			free(s);
		}
	}
	if (r < 0) {
		c->batch_failed = true;
		reply(c, m->request, r, NULL, -1);
	}
}

/*
 * A CONSUMED with request id 0 gets no reply (docs/client-protocol.md):
 * libbp sends those while more deliveries wait for the app, so that a
 * receive does not wait for bpd. Nobody hears of a failure then: a delivery
 * id that is not outstanding is ignored (the bundle the client meant stays
 * stored and is delivered again: never lost), and a CONSUMED before BIND
 * breaks the protocol.
 */
static void handle_consumed(struct client *c, const struct bp_msg *m)
{
	int r = -EINVAL;

	if (c->state == CLIENT_BOUND)
		r = agent_consumed(c->binding, bp_msg_u64(m, BP_F_DELIVERY_ID, 0));
	if (r == 0 && agent_binding_unconsumed(c->binding) + 1 == c->fe->limits.max_unconsumed)
		agent_binding_ready(c->binding);
	if (m->request != 0)
		reply(c, m->request, r, NULL, -1);
	else if (c->state != CLIENT_BOUND)
		client_close(c, "CONSUMED before BIND");
}

static void handle_setopt(struct client *c, const struct bp_msg *m)
{
	uint64_t opt = bp_msg_u64(m, BP_F_OPTION, 0), v = bp_msg_u64(m, BP_F_VALUE, 0);
	int r = 0;

	if (opt == BP_OPT_DELIVERY_POLICY && v <= BP_POLICY_ABANDON)
		c->abandon = v == BP_POLICY_ABANDON;
	else
		r = opt == BP_OPT_DELIVERY_POLICY ? -EINVAL : -ENOPROTOOPT;
	reply(c, m->request, r, NULL, -1);
}

/*
 * The REPLY to an ADMIN: status and output. Small output goes inline; more
 * goes in a sealed memfd, since a datagram larger than the socket's send
 * buffer (about 200 KiB by default) cannot be sent at all.
 */
static void reply_output(struct client *c, uint32_t request, int status, const struct textbuf *out)
{
	uint8_t msg[BP_PROTO_HDR_LEN + 2 * (BP_PROTO_FIELD_HDR_LEN + 8) + BP_PROTO_FIELD_HDR_LEN +
		    ADMIN_INLINE_MAX];
	struct bp_msg_wr w;
	int fd = -1, r;
	long n;

	bp_msg_begin(&w, msg, sizeof(msg), BP_MSG_REPLY, request);
	bp_msg_put_u64(&w, BP_F_STATUS, (uint64_t)(status < 0 ? -status : status));
	if (out->len <= ADMIN_INLINE_MAX) {
		bp_msg_put_bytes(&w, BP_F_OUTPUT, out->buf, out->len);
	} else {
		fd = payload_memfd((const uint8_t *)out->buf, out->len);
		if (fd < 0) {
			reply(c, request, fd, NULL, -1);
			return;
		}
		bp_msg_put_u64(&w, BP_F_OUTPUT_FD, out->len);
	}
	n = bp_msg_end(&w);
	r = n < 0 ? (int)n : send_with_fd(c->fd, msg, (size_t)n, fd);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		client_close(c, "cannot reply");
}

/*
 * A bpctl command. Only admins (access.h) may run one: root, the user bpd
 * runs as, and the users and groups the config names.
 */
static void handle_admin(struct client *c, const struct bp_msg *m)
{
	char *argv[BP_PROTO_MAX_FIELDS];
	struct textbuf out;
	bool json = false;
	int argc = 0, r;

	tb_init(&out, ADMIN_OUTPUT_MAX);
	if (!access_is_admin(c->fe->access, &c->peer)) {
		tb_printf(&out, "permission denied: admin commands need root or an admin "
				"user or group (\"access admin\" in the config)\n");
		reply_output(c, m->request, -EACCES, &out);
		tb_free(&out);
		return;
	}
	r = 0;
	for (unsigned i = 0; i < m->nfields && r == 0; i++) {
		const struct bp_msg_field *f = &m->fields[i];

		if (f->tag != BP_F_ARG)
			continue;
		if (memchr(f->ptr, '\0', f->len)) {
			tb_printf(&out, "argument %d holds a NUL byte\n", argc + 1);
			r = -EINVAL;
		} else if (f->len == 6 && memcmp(f->ptr, "--json", 6) == 0) {
			json = true;
		} else if (!(argv[argc] = strndup((const char *)f->ptr, f->len))) {
			r = -ENOMEM;
		} else {
			argc++;
		}
	}
	if (r == 0)
		r = c->fe->admin(c->fe->admin_ctx, argc, argv, json, &out);
	if (out.truncated) { /* never a silently cut listing: say so instead */
		tb_free(&out);
		tb_init(&out, ADMIN_INLINE_MAX);
		tb_printf(&out, "output over %u MiB: narrow it down (bundles --limit, --state)\n",
			  ADMIN_OUTPUT_MAX >> 20);
		r = -EMSGSIZE;
	}
	log_info("client pid %d uid %u: admin command '%s': %s", (int)c->pid, (unsigned)c->peer.uid,
		 argc ? argv[0] : "", r < 0 ? strerror(-r) : "done");
	reply_output(c, m->request, r, &out);
	while (argc > 0)
		free(argv[--argc]);
	tb_free(&out);
}

static void dispatch(struct client *c, const struct bp_msg *m, int fd)
{
	switch (m->type) {
	case BP_MSG_SOCKET:
		handle_socket(c, m);
		break;
	case BP_MSG_BIND:
		handle_bind(c, m);
		break;
	case BP_MSG_SEND:
		handle_send(c, m, fd);
		break;
	case BP_MSG_CONSUMED:
		handle_consumed(c, m);
		break;
	case BP_MSG_SETOPT:
		handle_setopt(c, m);
		break;
	case BP_MSG_ADMIN:
		handle_admin(c, m);
		break;
	default: /* a REPLY or DELIVER sent to bpd */
		client_close(c, "message type only bpd sends");
		break;
	}
}

/* Deliveries */

/* A payload too big to go inline travels as a sealed memfd. */
static int payload_memfd(const uint8_t *p, size_t len)
{
	int fd = memfd_create("bpd-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		off += (size_t)n;
	}
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

static void put_eid(struct bp_msg_wr *w, enum bp_field tag, const struct bp_eid *eid)
{
	char text[BP_PROTO_MAX_EID + 1];
	int n = bp_eid_format(eid, text, sizeof(text));

	bp_msg_put_bytes(w, tag, text, n < 0 || (size_t)n >= sizeof(text) ? 0 : (size_t)n);
}

/*
 * What a failed delivery means. A full channel waits for the app to read;
 * running short of fds or memory (ours, or the kernel's for fds in flight)
 * retries shortly; anything else breaks the channel, and the client is
 * closed on the next loop turn (not here: the agent is iterating). Every
 * failure but the last is -EAGAIN to the agent: the bundle stays queued.
 */
/*
 * Send the queued DELIVERs. 0: all gone (the arena is freed); -EAGAIN: the
 * channel is full, the rest waits for room; another -errno: it is broken.
 */
static int flush_deliveries(struct client *c)
{
	struct mmsghdr mm[DQ_MAX];

	while (c->dq_sent < c->dq_n) {
		unsigned n = c->dq_n - c->dq_sent;
		int k;

		for (unsigned i = 0; i < n; i++)
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &c->dq_iov[c->dq_sent + i],
							 .msg_iovlen = 1 };
		k = sendmmsg(c->delivery_fd, mm, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		c->dq_sent += (unsigned)k;
	}
	free(c->dq);
	c->dq = NULL;
	c->dq_bytes = 0;
	c->dq_n = c->dq_sent = 0;
	return 0;
}

static void list_for_flush(struct client *c)
{
	if (c->listed)
		return;
	c->listed = true;
	c->refs++; /* the list's */
	c->next_flush = c->fe->to_flush;
	c->fe->to_flush = c;
}

/* Queue a small DELIVER (msg, n bytes). 0, or -EAGAIN when the queue is full and stuck. */
static int queue_delivery(struct client *c, const uint8_t *msg, size_t n)
{
	int r;

	if (c->dq_n == DQ_MAX || c->dq_bytes + n > DQ_ARENA) {
		r = flush_deliveries(c);
		if (r < 0)
			return r;
	}
	if (!c->dq)
		c->dq = malloc(DQ_ARENA);
	if (!c->dq)
		return -ENOMEM;
	memcpy(c->dq + c->dq_bytes, msg, n);
	c->dq_iov[c->dq_n++] = (struct iovec){ .iov_base = c->dq + c->dq_bytes, .iov_len = n };
	c->dq_bytes += n;
	list_for_flush(c);
	return 0;
}

static int delivery_result(struct client *c, int r)
{
	switch (r) {
	case 0:
		return 0;
	case -EAGAIN:
		ev_io_start(c->fe->loop, &c->delivery_io);
		return -EAGAIN;
	case -EMFILE:
	case -ENFILE:
	case -ETOOMANYREFS:
	case -ENOMEM:
	case -ENOBUFS:
		ev_timer_set(&c->retry, 0.1, 0.);
		break;
	default:
		log_warn("client pid %d uid %u: delivery channel: %s", (int)c->pid,
			 (unsigned)c->peer.uid, strerror(-r));
		c->broken = true;
		ev_timer_set(&c->retry, 0., 0.);
		break;
	}
	ev_timer_start(c->fe->loop, &c->retry);
	return -EAGAIN;
}

/*
 * A DELIVER in fe->buf, the payload inline or (inline false) in a sealed
 * memfd left in *ret_fd. Returns its length or -errno.
 */
static long build_deliver(struct client *c, const struct agent_delivery *d, bool inline_payload,
			  int *ret_fd)
{
	const struct bpv7_bundle *b = d->bundle;
	const struct bpv7_block *pay = bpv7_bundle_payload_const(b);
	struct bp_msg_wr w;

	*ret_fd = -1;
	bp_msg_begin(&w, c->fe->buf, BP_PROTO_MAX_MSG, BP_MSG_DELIVER, 0);
	bp_msg_put_u64(&w, BP_F_DELIVERY_ID, d->id);
	bp_msg_put_u64(&w, BP_F_KIND, d->is_report ? BP_DELIVERY_REPORT : BP_DELIVERY_DATA);
	put_eid(&w, BP_F_SOURCE, &b->primary.source);
	put_eid(&w, BP_F_DEST, &b->primary.dest);
	bp_msg_put_u64(&w, BP_F_CREATION_TIME, b->primary.creation_time);
	bp_msg_put_u64(&w, BP_F_SEQUENCE, b->primary.sequence);
	bp_msg_put_u64(&w, BP_F_BUNDLE_FLAGS, b->primary.flags);
	if (inline_payload) {
		bp_msg_put_bytes(&w, BP_F_PAYLOAD, pay->data, pay->data_len);
	} else {
		*ret_fd = payload_memfd(pay->data, pay->data_len);
		if (*ret_fd < 0)
			return *ret_fd;
		bp_msg_put_u64(&w, BP_F_PAYLOAD_FD, pay->data_len);
	}
	return bp_msg_end(&w);
}

/*
 * Hand a bundle to the app: small DELIVERs are queued and go out together;
 * payloads up to inline_max travel inside the message (a copy through the
 * kernel is cheaper than a fresh memfd's page faults); anything larger, or
 * an inline one the kernel will not take in one piece, as a sealed memfd.
 */
static int deliver_to_client(void *ctx, const struct agent_delivery *d)
{
	struct client *c = ctx;
	const struct bpv7_block *pay = bpv7_bundle_payload_const(d->bundle);
	bool inl = pay->data_len <= c->inline_max;
	int fd, r;
	long n;

	if (agent_binding_unconsumed(c->binding) >= c->fe->limits.max_unconsumed)
		return -EAGAIN; /* resumed by CONSUMED */
	if (c->dq_sent > 0)
		return -EAGAIN; /* the channel is full: resumed when it has room */
	n = build_deliver(c, d, inl, &fd);
	if (n < 0)
		return delivery_result(c, (int)n);
	if (fd < 0 && (size_t)n <= DQ_ITEM_MAX)
		return delivery_result(c, queue_delivery(c, c->fe->buf, (size_t)n));
	r = flush_deliveries(c); /* in order: the queue first */
	if (r == 0) {
		r = send_with_fd(c->delivery_fd, c->fe->buf, (size_t)n, fd);
		if (inl && (r == -EMSGSIZE || r == -ENOBUFS)) {
			n = build_deliver(c, d, false, &fd);
			r = n < 0 ? (int)n :
				    send_with_fd(c->delivery_fd, c->fe->buf, (size_t)n, fd);
		}
	}
	if (fd >= 0)
		close(fd);
	return delivery_result(c, r);
}

/*
 * A broken delivery channel usually means the app closed its socket or
 * died: the CONSUMEDs it sent before that still sit on the control
 * connection. Read them (a bounded number) before the close hands the
 * unconsumed bundles back, or those would be delivered twice.
 */
static void drain_then_close(struct client *c)
{
	struct bp_msg *m = malloc(sizeof(*m));
	unsigned budget = c->fe->limits.max_unconsumed + BP_PROTO_MAX_INFLIGHT;

	c->refs++;
	while (m && budget-- > 0 && serve_one(c, m))
		;
	free(m);
	client_close(c, NULL);
	client_release(c);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, retry);
	int r;

	if (c->broken) {
		drain_then_close(c);
		return;
	}
	r = flush_deliveries(c);
	if (r < 0)
		(void)delivery_result(c, r);
	else if (c->binding)
		agent_binding_ready(c->binding);
}

static void on_delivery_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, delivery_io);

	int r;

	ev_io_stop(loop, w);
	r = flush_deliveries(c);
	if (r < 0) /* a full channel again, or a broken one */
		(void)delivery_result(c, r);
	else if (c->binding)
		agent_binding_ready(c->binding);
}

/* Connections */

/*
 * Read one message and the fd that may come with it. Returns the message
 * length, 0 at end of stream, -EAGAIN, or -EBADMSG for a truncated one.
 */
static long read_message(struct client *c, int *ret_fd)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { .iov_base = c->fe->buf, .iov_len = BP_PROTO_MAX_MSG };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	*ret_fd = -1;
	do
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Take every fd that came; keep the first, close the rest unread. */
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*ret_fd < 0)
				*ret_fd = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EBADMSG;
	return (long)n;
}

/* Read and handle one message. Returns false when there is none now or the client is gone. */
static bool serve_one(struct client *c, struct bp_msg *m)
{
	struct bp_msg_error err;
	int fd = -1;
	bool more = false;
	long n;

	n = read_message(c, &fd);
	if (n == -EAGAIN)
		return false;
	if (n <= 0) {
		client_close(c, n == 0 ? NULL : "malformed datagram");
	} else if (bp_msg_decode(c->fe->buf, (size_t)n, m, &err) < 0) {
		log_warn("client pid %d uid %u: %s at byte %zu: closing it", (int)c->pid,
			 (unsigned)c->peer.uid, err.why, err.offset);
		client_close(c, NULL);
	} else {
		dispatch(c, m, m->type == BP_MSG_SEND ? fd : -1);
		more = !c->closing;
	}
	if (fd >= 0)
		close(fd);
	return more;
}

/*
 * Several messages per readiness (a pipelined batch arrives at once), but
 * a bounded number, so that one busy client cannot starve the others.
 */
static void on_client_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, io);
	struct bp_msg *m = malloc(sizeof(*m));

	if (!m)
		return; /* try again on the next readiness */
	c->refs++;	/* the handlers may close it */
	for (int i = 0; i < BP_PROTO_MAX_INFLIGHT && serve_one(c, m); i++)
		;
	client_release(c);
	free(m);
}

static void client_close(struct client *c, const char *why)
{
	struct client **pp;

	if (c->closing)
		return;
	if (why)
		log_warn("client pid %d uid %u: %s: closing it", (int)c->pid, (unsigned)c->peer.uid,
			 why);
	c->closing = true;
	ev_io_stop(c->fe->loop, &c->io);
	ev_io_stop(c->fe->loop, &c->delivery_io);
	ev_timer_stop(c->fe->loop, &c->retry);
	if (c->binding)
		agent_unbind(c->binding, c->abandon);
	c->binding = NULL;
	for (pp = &c->fe->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->fe->nclients--;
	close(c->fd);
	if (c->delivery_fd >= 0)
		close(c->delivery_fd);
	client_release(c);
}

static void client_release(struct client *c)
{
	if (--c->refs == 0) {
		free(c->replies);
		free(c->dq);
		free(c);
	}
}

static unsigned clients_of(const struct frontend *fe, uid_t uid)
{
	unsigned n = 0;

	for (const struct client *c = fe->clients; c; c = c->next)
		n += c->peer.uid == uid;
	return n;
}

/* The client's supplementary groups (SO_PEERGROUPS, Linux 4.13); none if unknown. */
static void peer_groups(int fd, struct access_peer *p)
{
	socklen_t len = sizeof(p->groups);

	p->ngroups = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
		p->ngroups = len / sizeof(gid_t);
	else if (errno == ERANGE)
		log_warn("client with over %d groups: only its primary group counts",
			 ACCESS_MAX_GROUPS);
}

static void accept_one(struct frontend *fe, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("client without credentials: %s", strerror(errno));
		close(fd);
		return;
	}
	if (fe->nclients >= fe->limits.max_clients ||
	    clients_of(fe, cred.uid) >= fe->limits.max_clients_per_uid) {
		log_warn("client pid %d uid %u: too many connections: refused", (int)cred.pid,
			 (unsigned)cred.uid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	*c = (struct client){ .fe = fe,
			      .fd = fd,
			      .delivery_fd = -1,
			      .peer = { .uid = cred.uid, .gid = cred.gid },
			      .pid = cred.pid,
			      .refs = 1,
			      .next = fe->clients };
	peer_groups(fd, &c->peer);
	fe->clients = c;
	fe->nclients++;
	ev_io_init(&c->io, on_client_readable, fd, EV_READ);
	ev_io_start(fe->loop, &c->io);
	ev_init(&c->delivery_io, on_delivery_writable);
	ev_init(&c->retry, on_retry);
	log_debug("client pid %d uid %u connected", (int)c->pid, (unsigned)c->peer.uid);
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct frontend *fe = container_of(w, struct frontend, accept_retry);

	ev_io_start(loop, &fe->accept_io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct frontend *fe = container_of(w, struct frontend, accept_io);

	for (;;) {
		int fd = accept4(fe->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_one(fe, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			return;
		/*
		 * Out of fds (or memory): the listener stays readable, so stop
		 * watching it for a while instead of spinning on it.
		 */
		log_warn("accept: %s: pausing new connections for 1 s", strerror(errno));
		ev_io_stop(loop, w);
		ev_timer_set(&fe->accept_retry, 1., 0.);
		ev_timer_start(loop, &fe->accept_retry);
		return;
	}
}

/* The listener */

/* Does a daemon accept connections at path? */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return live;
}

/* Make the socket's directory (one level) and clear a stale socket file. */
static int prepare_path(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (socket_is_live(path))
			return -EADDRINUSE; /* another bpd serves it */
		if (unlink(path) < 0)
			return -errno;
	}
	return 0;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	r = prepare_path(path);
	if (r < 0)
		return r;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

struct frontend *frontend_new(struct ev_loop *loop, const char *path, struct agent *agent,
			      const struct frontend_opts *opts)
{
	struct frontend *fe = calloc(1, sizeof(*fe));
	int fd;

	if (!fe)
		return NULL;
	fe->buf = malloc(BP_PROTO_MAX_MSG);
	fd = fe->buf ? listen_at(path) : -ENOMEM;
	if (fd < 0) {
		free(fe->buf);
		free(fe);
		errno = -fd;
		return NULL;
	}
	fe->loop = loop;
	fe->agent = agent;
	fe->limits = opts->limits;
	fe->access = opts->access;
	fe->abandon = opts->abandon;
	fe->admin = opts->admin;
	fe->admin_ctx = opts->admin_ctx;
	fe->listen_fd = fd;
	snprintf(fe->path, sizeof(fe->path), "%s", path);
	ev_prepare_init(&fe->flush, on_flush);
	/*
	 * Always active, at the lowest priority: it runs in every prepare
	 * phase after the store's commit (a watcher started during the phase
	 * would wait for the next turn, after the loop has slept).
	 */
	ev_set_priority(&fe->flush, EV_MINPRI);
	ev_prepare_start(loop, &fe->flush);
	ev_io_init(&fe->accept_io, on_accept, fd, EV_READ);
	ev_io_start(loop, &fe->accept_io);
	ev_init(&fe->accept_retry, on_accept_retry);
	return fe;
}

void frontend_counts(const struct frontend *fe, unsigned *ret_clients, unsigned *ret_bound)
{
	*ret_clients = fe->nclients;
	*ret_bound = 0;
	for (const struct client *c = fe->clients; c; c = c->next)
		*ret_bound += c->state == CLIENT_BOUND;
}

bool frontend_sink_owner(void *sink_ctx, pid_t *ret_pid, uid_t *ret_uid)
{
	const struct client *c = sink_ctx;

	*ret_pid = c->pid;
	*ret_uid = c->peer.uid;
	return true;
}

void frontend_free(struct frontend *fe)
{
	if (!fe)
		return;
	while (fe->clients)
		client_close(fe->clients, NULL);
	on_flush(fe->loop, &fe->flush, 0); /* releases the listed clients */
	ev_prepare_stop(fe->loop, &fe->flush);
	ev_io_stop(fe->loop, &fe->accept_io);
	ev_timer_stop(fe->loop, &fe->accept_retry);
	close(fe->listen_fd);
	(void)unlink(fe->path);
	free(fe->buf);
	free(fe);
}
