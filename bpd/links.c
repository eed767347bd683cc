/* SPDX-License-Identifier: MIT */
/* Links to other nodes over TCPCLv4: see links.h. */
#include "links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tcpclv4.h"
#include "tcpclv4_msg.h"

/* Our TCPCLv4 parameters (RFC 9174 4.6). */
#define KEEPALIVE_S 30
#define SEGMENT_MRU (16u << 20)
#define TRANSFER_MRU (1ull << 32)
/* DESIGN.md §4: head and data of a segment within 65,483 bytes on loopback. */
#define SEGMENT_MAX (65483u - TCPCL4_SEGMENT_HEAD_MAX)
#define SETUP_TIMEOUT_S 10.0
/* Reconnecting to a neighbour: 1 s, doubling, at most 60 s. */
#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
#define ADDR_TEXT_MAX 80

struct neighbor;

struct link {
	struct link *next;
	struct links *ls;
	uint32_t id;
	struct tcpcl4_session *s;
	struct neighbor *nb; /* the neighbour it was opened for, or NULL (incoming) */
	bool up;
	bool peer_ok; /* peer parsed as a node ID into peer_node */
	struct node_id peer_node;
	char peer[TCPCL4_NODE_ID_MAX + 1];
	char addr[ADDR_TEXT_MAX];
};

struct neighbor {
	struct neighbor *next;
	struct links *ls;
	struct node_id node;
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[ADDR_TEXT_MAX];
	struct link *link; /* our outgoing link to it, while there is one */
	int connecting;	   /* the fd of a connect in progress, or -1 */
	ev_io conn_w;
	ev_timer retry;
	double delay;
};

struct listener {
	struct listener *next;
	struct links *ls;
	int fd;
	ev_io w;
	char addr[ADDR_TEXT_MAX];
};

struct links {
	struct ev_loop *loop;
	struct node_id node;
	struct links_ops ops;
	void *ctx;
	struct link *links;
	struct neighbor *neighbors;
	struct listener *listeners;
	uint32_t next_id;
	struct tcpcl4_config cfg;
	bool stopping; /* no more reconnects */
};

/* "tcpcl:HOST:PORT", HOST an IPv4 address or [IPv6]. */
static int addr_parse(const char *text, struct sockaddr_storage *sa, socklen_t *len,
		      const char **why)
{
	char host[64];
	const char *h, *colon;
	unsigned long port;
	char *end;
	size_t hl;

	if (strncmp(text, "tcpcl:", 6) != 0) {
		*why = "address must be tcpcl:HOST:PORT";
		return -EINVAL;
	}
	h = text + 6;
	colon = strrchr(h, ':');
	if (!colon || colon == h) {
		*why = "address must be tcpcl:HOST:PORT";
		return -EINVAL;
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || colon[1] == '\0') {
		*why = "port must be 1 to 65535";
		return -EINVAL;
	}
	hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		*why = "host too long";
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)sa)->sin_addr) == 1) {
		((struct sockaddr_in *)sa)->sin_family = AF_INET;
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)sa)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)sa)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	*why = "host must be a numeric IPv4 or [IPv6] address";
	return -EINVAL;
}

static void tune(int fd)
{
	int one = 1;

	/* RFC 9174 5.2: a segment's head and data go out together, no Nagle steps. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Sessions to links. */

static void schedule_retry(struct neighbor *nb);

static void s_up(void *ctx, struct tcpcl4_session *s, const char *id, size_t len)
{
	struct link *l = ctx;
	const char *why;

	snprintf(l->peer, sizeof(l->peer), "%.*s", (int)len, id);
	/* Parsed once: every bundle forwarded looks for the link whose peer owns it. */
	l->peer_ok = node_id_parse(l->peer, &l->peer_node, &why) == 0;
	if (!l->peer_ok)
		log_warn("link %u: peer node ID '%s' is not one (%s): no bundles go to it", l->id,
			 l->peer, why);
	l->up = true;
	if (l->nb)
		l->nb->delay = RETRY_MIN_S;
	log_info("link %u: up with %s (%s)", l->id, l->peer, l->addr);
	l->ls->ops.up(l->ls->ctx, l);
}

static void s_received(void *ctx, struct tcpcl4_session *s, uint64_t xfer, const uint8_t *data,
		       size_t len)
{
	struct link *l = ctx;

	l->ls->ops.received(l->ls->ctx, l, xfer, data, len);
}

static void s_sent(void *ctx, struct tcpcl4_session *s, uint64_t token, int status, uint8_t reason)
{
	struct link *l = ctx;

	if (status == -ECONNREFUSED)
		log_info("link %u: %s refused bundle %llu (%s)", l->id, l->peer,
			 (unsigned long long)token, tcpcl4_refuse_name(reason));
	l->ls->ops.sent(l->ls->ctx, l, token, status);
}

static void s_down(void *ctx, struct tcpcl4_session *s, const char *why)
{
	struct link *l = ctx;
	struct links *ls = l->ls;
	struct link **pp;

	log_info("link %u (%s, %s): down: %s", l->id, l->peer[0] ? l->peer : "no peer yet", l->addr,
		 why);
	ls->ops.down(ls->ctx, l);
	for (pp = &ls->links; *pp != l; pp = &(*pp)->next)
		;
	*pp = l->next;
	if (l->nb) {
		l->nb->link = NULL;
		if (!ls->stopping)
			schedule_retry(l->nb);
	}
	free(l);
}

static const struct tcpcl4_session_ops session_ops = {
	.up = s_up,
	.received = s_received,
	.sent = s_sent,
	.down = s_down,
};

/* Run a session on fd (owned from here, even on failure). */
static struct link *link_start(struct links *ls, int fd, bool active, struct neighbor *nb,
			       const char *addr)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->ls = ls;
	l->id = ++ls->next_id ? ls->next_id : ++ls->next_id;
	l->nb = nb;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	tune(fd);
	if (tcpcl4_session_new(ls->loop, fd, active, &ls->cfg, &session_ops, l, &l->s) < 0) {
		free(l);
		return NULL;
	}
	l->next = ls->links;
	ls->links = l;
	return l;
}

/* Listeners. */

static void sa_text(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(buf, cap, "tcpcl:%s:%u", host, port);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			  sizeof(host));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(buf, cap, "tcpcl:[%s]:%u", host, port);
	}
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *li = w->data;
	struct sockaddr_storage sa;
	char addr[ADDR_TEXT_MAX];

	for (int i = 0; i < 64; i++) {
		socklen_t len = sizeof(sa);
		int fd =
			accept4(li->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("%s: accept: %s", li->addr, strerror(errno));
			return;
		}
		sa_text(&sa, addr, sizeof(addr));
		if (!link_start(li->ls, fd, false, NULL, addr))
			log_warn("%s: cannot start a session with %s", li->addr, addr);
	}
}

int links_listen(struct links *ls, const char *addr, const char **why)
{
	struct sockaddr_storage sa;
	struct listener *li;
	socklen_t len;
	int one = 1, r;

	r = addr_parse(addr, &sa, &len, why);
	if (r < 0)
		return r;
	li = calloc(1, sizeof(*li));
	if (!li) {
		*why = "out of memory";
		return -ENOMEM;
	}
	li->ls = ls;
	snprintf(li->addr, sizeof(li->addr), "%s", addr);
	li->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (li->fd < 0 || setsockopt(li->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(li->fd, (struct sockaddr *)&sa, len) < 0 || listen(li->fd, 64) < 0) {
		r = -errno;
		*why = strerror(errno);
		if (li->fd >= 0)
			close(li->fd);
		free(li);
		return r;
	}
	ev_io_init(&li->w, accept_cb, li->fd, EV_READ);
	li->w.data = li;
	ev_io_start(ls->loop, &li->w);
	li->next = ls->listeners;
	ls->listeners = li;
	return 0;
}

/* Neighbours: connect, and again after a delay while they are away. */

static void connect_done(struct neighbor *nb, int err)
{
	int fd = nb->connecting;

	ev_io_stop(nb->ls->loop, &nb->conn_w);
	nb->connecting = -1;
	if (err) {
		close(fd);
		log_debug("neighbor %s at %s: %s", nb->node.text, nb->addr, strerror(err));
		schedule_retry(nb);
		return;
	}
	nb->link = link_start(nb->ls, fd, true, nb, nb->addr);
	if (!nb->link)
		schedule_retry(nb);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct neighbor *nb = w->data;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(nb->connecting, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	connect_done(nb, err);
}

static void try_connect(struct neighbor *nb)
{
	int fd;

	if (nb->link || nb->connecting >= 0)
		return;
	fd = socket(nb->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		schedule_retry(nb);
		return;
	}
	nb->connecting = fd;
	if (connect(fd, (struct sockaddr *)&nb->sa, nb->salen) == 0) {
		connect_done(nb, 0);
	} else if (errno == EINPROGRESS) {
		ev_io_set(&nb->conn_w, fd, EV_WRITE);
		ev_io_start(nb->ls->loop, &nb->conn_w);
	} else {
		connect_done(nb, errno);
	}
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	try_connect(w->data);
}

static void schedule_retry(struct neighbor *nb)
{
	ev_timer_stop(nb->ls->loop, &nb->retry);
	ev_timer_set(&nb->retry, nb->delay, 0.);
	ev_timer_start(nb->ls->loop, &nb->retry);
	nb->delay = nb->delay * 2 > RETRY_MAX_S ? RETRY_MAX_S : nb->delay * 2;
}

int links_neighbor_add(struct links *ls, const char *node, const char *addr, const char **why)
{
	struct neighbor *nb = calloc(1, sizeof(*nb));
	int r;

	if (!nb) {
		*why = "out of memory";
		return -ENOMEM;
	}
	r = node_id_parse(node, &nb->node, why);
	if (r == 0)
		r = addr_parse(addr, &nb->sa, &nb->salen, why);
	if (r < 0) {
		free(nb);
		return r;
	}
	nb->ls = ls;
	nb->connecting = -1;
	nb->delay = RETRY_MIN_S;
	snprintf(nb->addr, sizeof(nb->addr), "%s", addr);
	ev_io_init(&nb->conn_w, conn_cb, -1, EV_WRITE);
	nb->conn_w.data = nb;
	ev_timer_init(&nb->retry, retry_cb, 0., 0.);
	nb->retry.data = nb;
	nb->next = ls->neighbors;
	ls->neighbors = nb;
	/* The first try from the loop, once everything is set up. */
	ev_timer_set(&nb->retry, 0., 0.);
	ev_timer_start(ls->loop, &nb->retry);
	return 0;
}

/* The rest. */

struct links *links_new(struct ev_loop *loop, const struct node_id *node,
			const struct links_ops *ops, void *ctx)
{
	struct links *ls = calloc(1, sizeof(*ls));
	const char *why;

	if (!ls)
		return NULL;
	ls->loop = loop;
	/* A copy that owns its text (the EID points into it). */
	if (node_id_parse(node->text, &ls->node, &why) < 0) {
		free(ls);
		return NULL;
	}
	ls->ops = *ops;
	ls->ctx = ctx;
	ls->cfg = (struct tcpcl4_config){
		.node_id = ls->node.text, /* ipn:N.0 or dtn://name/, as HDTN insists */
		.keepalive_s = KEEPALIVE_S,
		.segment_mru = SEGMENT_MRU,
		.transfer_mru = TRANSFER_MRU,
		.segment_max = SEGMENT_MAX,
		.setup_timeout_s = SETUP_TIMEOUT_S,
	};
	return ls;
}

static void shutdown_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

void links_shutdown(struct links *ls, double timeout_s)
{
	struct neighbor *nb;
	struct link *l, *next;
	ev_timer t;

	if (!ls)
		return;
	ls->stopping = true;
	for (struct listener *li = ls->listeners; li; li = li->next)
		ev_io_stop(ls->loop, &li->w);
	for (nb = ls->neighbors; nb; nb = nb->next)
		ev_timer_stop(ls->loop, &nb->retry);
	for (l = ls->links; l; l = next) {
		next = l->next; /* closing may take l down at once */
		tcpcl4_session_close(l->s, TCPCL4_TERM_UNKNOWN);
	}
	ev_timer_init(&t, shutdown_timeout_cb, timeout_s, 0.);
	ev_timer_start(ls->loop, &t);
	while (ls->links && ev_is_active(&t))
		ev_run(ls->loop, EVRUN_ONCE);
	ev_timer_stop(ls->loop, &t);
}

void links_free(struct links *ls)
{
	struct neighbor *nb;
	struct listener *li;

	if (!ls)
		return;
	while ((li = ls->listeners)) {
		ls->listeners = li->next;
		ev_io_stop(ls->loop, &li->w);
		close(li->fd);
		free(li);
	}
	for (nb = ls->neighbors; nb; nb = nb->next) {
		ev_timer_stop(ls->loop, &nb->retry);
		ev_io_stop(ls->loop, &nb->conn_w);
		if (nb->connecting >= 0)
			close(nb->connecting);
		nb->connecting = -1;
	}
	/* Each abort answers the link's sends and calls s_down, which unlinks it. */
	while (ls->links) {
		struct link *l = ls->links;

		if (l->nb)
			l->nb = NULL; /* no reconnect */
		tcpcl4_session_abort(l->s);
	}
	while ((nb = ls->neighbors)) {
		ls->neighbors = nb->next;
		free(nb);
	}
	free(ls);
}

struct link *links_route(struct links *ls, const struct bp_eid *eid)
{
	struct link *l;

	for (l = ls->links; l; l = l->next)
		if (l->up && l->peer_ok && node_id_owns(&l->peer_node, eid))
			return l;
	return NULL;
}

struct link *links_get(struct links *ls, uint32_t id)
{
	struct link *l;

	for (l = ls->links; l && l->id != id; l = l->next)
		;
	return l;
}

uint32_t link_id(const struct link *l)
{
	return l->id;
}

const char *link_peer(const struct link *l)
{
	return l->peer;
}

bool link_busy(const struct link *l)
{
	return tcpcl4_session_busy(l->s);
}

int link_send(struct link *l, uint64_t id, const uint8_t *data, size_t len)
{
	return tcpcl4_session_send(l->s, id, data, len);
}

void link_accept(struct link *l, uint64_t xfer, int status, uint8_t reason)
{
	tcpcl4_session_accept(l->s, xfer, status, reason);
}

void links_walk(struct links *ls, void (*fn)(void *ctx, const struct link_info *li), void *ctx)
{
	struct tcpcl4_stats st;
	struct link *l;

	for (l = ls->links; l; l = l->next) {
		tcpcl4_session_stats(l->s, &st);
		fn(ctx, &(struct link_info){ .id = l->id,
					     .peer = l->peer,
					     .addr = l->addr,
					     .up = l->up,
					     .outgoing = l->nb != NULL,
					     .bundles_in = st.bundles_in,
					     .bytes_in = st.bytes_in,
					     .bundles_out = st.bundles_out,
					     .bytes_out = st.bytes_out });
	}
}
