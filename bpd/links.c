/* SPDX-License-Identifier: MIT */
/* Links to other nodes over any convergence layer: see links.h. */
#include "links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cl.h"
#include "log.h"
#include "routing.h"

/* Reconnecting to a neighbour: 1 s, doubling, at most 60 s. */
#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
#define ADDR_TEXT_MAX 80
#define PEER_MAX 1024

struct neighbor;

struct link {
	struct link *next;
	struct links *ls;
	uint32_t id;
	struct cl_link *cl;
	struct neighbor *nb; /* the neighbour it was opened for, or NULL (incoming) */
	bool up;
	bool peer_ok; /* peer parsed as a node ID into peer_node */
	struct node_id peer_node;
	char peer[PEER_MAX + 1];
	char addr[ADDR_TEXT_MAX];
	/* Contacts (routing.h): the window's pacing, a token bucket in bytes. */
	uint64_t rate; /* bytes per second now; 0: unpaced */
	double tokens;
	uint64_t filled_ms; /* when tokens were last topped up */
	ev_timer wake;	    /* the window opens, or the bucket refills */
};

struct neighbor {
	struct neighbor *next;
	struct links *ls;
	struct node_id node;
	const struct cl_ops *cl;
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[ADDR_TEXT_MAX];
	struct link *link; /* our outgoing link to it, while there is one */
	ev_timer retry;
	double delay;
};

struct listener {
	struct listener *next;
	const struct cl_ops *cl;
	struct cl_listener *li;
};

struct links {
	struct ev_loop *loop;
	struct node_id node;
	struct links_ops ops;
	void *ctx;
	struct cl_env env;
	struct link *links;
	struct neighbor *neighbors;
	struct listener *listeners;
	uint32_t next_id;
	bool stopping; /* no more reconnects */
	const struct routing *rt;
};

/* The adapter and socket address of "SCHEME:HOST:PORT". */
static const struct cl_ops *addr_parse(const char *text, struct sockaddr_storage *sa,
				       socklen_t *len, const char **why)
{
	const struct cl_ops *cl;
	const char *rest;

	cl = cl_find(text, &rest);
	if (!cl) {
		*why = "address must be tcpcl:HOST:PORT or udp:HOST:PORT";
		return NULL;
	}
	return cl_addr_parse(rest, sa, len, why) == 0 ? cl : NULL;
}

static void schedule_retry(struct neighbor *nb);

/* A link's events from its adapter. */

static void l_up(void *owner, const char *id, size_t len)
{
	struct link *l = owner;
	const char *why;

	/* A protocol without a handshake (UDP): the peer is who we opened it to. */
	if (len == 0 && l->nb)
		snprintf(l->peer, sizeof(l->peer), "%s", l->nb->node.text);
	else
		snprintf(l->peer, sizeof(l->peer), "%.*s", (int)(len > PEER_MAX ? PEER_MAX : len),
			 id);
	/* Parsed once: every bundle forwarded looks for the link whose peer owns it. */
	l->peer_ok = l->peer[0] && node_id_parse(l->peer, &l->peer_node, &why) == 0;
	if (!l->peer_ok && l->peer[0])
		log_warn("link %u: peer node ID '%s' is not one (%s): no bundles go to it", l->id,
			 l->peer, why);
	l->up = true;
	if (l->nb)
		l->nb->delay = RETRY_MIN_S;
	log_info("link %u: up with %s (%s)", l->id, l->peer[0] ? l->peer : "any sender", l->addr);
	l->ls->ops.up(l->ls->ctx, l);
}

static void l_received(void *owner, uint64_t xfer, const uint8_t *data, size_t len)
{
	struct link *l = owner;

	l->ls->ops.received(l->ls->ctx, l, xfer, data, len);
}

static void l_sent(void *owner, uint64_t token, int status)
{
	struct link *l = owner;

	if (status == -ECONNREFUSED)
		log_info("link %u: %s refused bundle %llu", l->id, l->peer,
			 (unsigned long long)token);
	l->ls->ops.sent(l->ls->ctx, l, token, status);
}

static void l_down(void *owner, const char *why)
{
	struct link *l = owner;
	struct links *ls = l->ls;
	struct link **pp;

	log_info("link %u (%s, %s): down: %s", l->id, l->peer[0] ? l->peer : "no peer yet", l->addr,
		 why);
	ev_timer_stop(ls->loop, &l->wake);
	if (l->up)
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

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = w->data;

	l->ls->ops.ready(l->ls->ctx, l);
}

static struct link *link_new(struct links *ls, struct neighbor *nb, const char *addr)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ls = ls;
	l->id = ++ls->next_id ? ls->next_id : ++ls->next_id;
	l->nb = nb;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	ev_timer_init(&l->wake, wake_cb, 0., 0.);
	l->wake.data = l;
	l->next = ls->links;
	ls->links = l;
	return l;
}

static void *l_incoming(void *ctx, struct cl_link *cl, const char *addr)
{
	struct link *l = link_new(ctx, NULL, addr);

	if (l)
		l->cl = cl;
	return l;
}

static const struct cl_events link_events = {
	.incoming = l_incoming,
	.up = l_up,
	.received = l_received,
	.sent = l_sent,
	.down = l_down,
};

/* Listeners. */

int links_listen(struct links *ls, const char *addr, const char **why)
{
	struct sockaddr_storage sa;
	struct listener *li;
	socklen_t len;
	int r;

	li = calloc(1, sizeof(*li));
	if (!li) {
		*why = "out of memory";
		return -ENOMEM;
	}
	li->cl = addr_parse(addr, &sa, &len, why);
	r = li->cl ? li->cl->listen(&ls->env, (struct sockaddr *)&sa, len, &li->li, why) : -EINVAL;
	if (r < 0) {
		free(li);
		return r;
	}
	li->next = ls->listeners;
	ls->listeners = li;
	return 0;
}

/* Neighbours: open a link, and again after a delay while they are away. */

static void try_open(struct neighbor *nb)
{
	const char *why;
	struct link *l;

	if (nb->link)
		return;
	l = link_new(nb->ls, nb, nb->addr);
	if (!l) {
		schedule_retry(nb);
		return;
	}
	if (nb->cl->open(&nb->ls->env, (struct sockaddr *)&nb->sa, nb->salen, l, &l->cl, &why) <
	    0) {
		log_debug("neighbor %s at %s: %s", nb->node.text, nb->addr, why);
		l_down(l, why); /* unlinks it, and schedules the next try */
		return;
	}
	nb->link = l;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	try_open(w->data);
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
	if (r == 0 && !(nb->cl = addr_parse(addr, &nb->sa, &nb->salen, why)))
		r = -EINVAL;
	if (r < 0) {
		free(nb);
		return r;
	}
	for (struct neighbor *o = ls->neighbors; o; o = o->next) {
		if (strcmp(o->node.text, nb->node.text) == 0 && strcmp(o->addr, addr) == 0) {
			free(nb);
			*why = "that neighbour is there already";
			return -EEXIST;
		}
	}
	nb->ls = ls;
	nb->delay = RETRY_MIN_S;
	snprintf(nb->addr, sizeof(nb->addr), "%s", addr);
	ev_timer_init(&nb->retry, retry_cb, 0., 0.);
	nb->retry.data = nb;
	nb->next = ls->neighbors;
	ls->neighbors = nb;
	/* The first try from the loop, once everything is set up. */
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
	ls->env = (struct cl_env){
		.loop = loop,
		.node_id = ls->node.text, /* ipn:N.0 or dtn://name/, as HDTN insists */
		.ev = &link_events,
		.ctx = ls,
	};
	return ls;
}

static void shutdown_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

void links_shutdown(struct links *ls, double timeout_s)
{
	struct listener *li;
	struct neighbor *nb;
	ev_timer t;

	if (!ls)
		return;
	ls->stopping = true;
	while ((li = ls->listeners)) {
		ls->listeners = li->next;
		li->cl->listener_free(li->li);
		free(li);
	}
	for (nb = ls->neighbors; nb; nb = nb->next)
		ev_timer_stop(ls->loop, &nb->retry);
	/* Closing may take any link down at once: start from the head each time. */
	for (uint32_t last = 0;;) {
		struct link *l;

		for (l = ls->links; l && l->id <= last; l = l->next)
			;
		if (!l)
			break;
		last = l->id;
		l->cl->ops->close(l->cl);
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
	ls->stopping = true;
	while ((li = ls->listeners)) {
		ls->listeners = li->next;
		li->cl->listener_free(li->li);
		free(li);
	}
	for (nb = ls->neighbors; nb; nb = nb->next)
		ev_timer_stop(ls->loop, &nb->retry);
	/* Each abort answers the link's sends and calls l_down, which unlinks it. */
	while (ls->links)
		ls->links->cl->ops->abort(ls->links->cl);
	while ((nb = ls->neighbors)) {
		ls->neighbors = nb->next;
		free(nb);
	}
	free(ls);
}

/* An up link to the node that owns eid: one with room first. */
static struct link *link_to(struct links *ls, const struct bp_eid *eid)
{
	struct link *l, *any = NULL;

	for (l = ls->links; l; l = l->next) {
		if (!l->up || !l->peer_ok || !node_id_owns(&l->peer_node, eid))
			continue;
		if (!l->cl->ops->busy(l->cl))
			return l;
		if (!any)
			any = l;
	}
	return any;
}

struct link *links_route(struct links *ls, const struct bp_eid *eid)
{
	const struct node_id *via;
	struct link *l = link_to(ls, eid);

	if (l)
		return l; /* straight to the destination's node */
	via = routing_via(ls->rt, eid);
	return via ? link_to(ls, &via->eid) : NULL;
}

void links_set_routing(struct links *ls, const struct routing *rt)
{
	ls->rt = rt;
	links_kick(ls);
}

void links_kick(struct links *ls)
{
	for (struct link *l = ls->links; l; l = l->next)
		if (l->up)
			ev_feed_event(ls->loop, &l->wake, EV_TIMER);
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake_at(struct link *l, uint64_t when_ms, uint64_t now_ms)
{
	ev_timer_stop(l->ls->loop, &l->wake);
	ev_timer_set(&l->wake, (double)(when_ms - now_ms) / 1000. + 0.001, 0.);
	ev_timer_start(l->ls->loop, &l->wake);
}

/* May l carry a bundle now, by its contacts? Else its wake timer is set. */
static bool link_open(struct link *l)
{
	uint64_t now = unix_ms(), rate, change;
	enum contact_state st;

	if (!l->ls->rt || !l->peer_ok)
		return true;
	st = routing_contact(l->ls->rt, &l->peer_node, now, &rate, &change);
	if (st == CONTACT_NONE)
		return true;
	if (st == CONTACT_CLOSED) {
		if (change != UINT64_MAX && !ev_is_active(&l->wake))
			wake_at(l, change, now);
		return false;
	}
	if (rate != l->rate) { /* a new window: a full bucket of 50 ms */
		l->rate = rate;
		l->tokens = (double)rate / 20;
		l->filled_ms = now;
	}
	if (rate == 0)
		return true;
	l->tokens += (double)(now - l->filled_ms) * (double)rate / 1000;
	if (l->tokens > (double)rate / 20)
		l->tokens = (double)rate / 20;
	l->filled_ms = now;
	if (l->tokens >= 0)
		return true;
	if (!ev_is_active(&l->wake))
		wake_at(l, now + (uint64_t)(-l->tokens * 1000 / (double)rate) + 1, now);
	return false;
}

bool links_all_busy(struct links *ls)
{
	for (struct link *l = ls->links; l; l = l->next)
		if (l->up && l->peer_ok && !link_busy(l))
			return false;
	return true;
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

size_t link_max_bundle(const struct link *l)
{
	return l->cl->ops->max_bundle;
}

bool link_busy(struct link *l)
{
	return !link_open(l) || l->cl->ops->busy(l->cl);
}

int link_send(struct link *l, uint64_t id, uint8_t *data, size_t len)
{
	int r = l->cl->ops->send(l->cl, id, data, len);

	if (r == 0 && l->rate)
		l->tokens -= (double)len; /* paced: the bucket may go below 0, then waits */
	return r;
}

void link_accept(struct link *l, uint64_t xfer, int status, enum cl_refuse why)
{
	l->cl->ops->accept(l->cl, xfer, status, why);
}

const char *links_next_hop(struct links *ls, const struct bp_eid *eid)
{
	const struct node_id *via;

	for (struct neighbor *nb = ls->neighbors; nb; nb = nb->next)
		if (node_id_owns(&nb->node, eid))
			return nb->node.text;
	for (struct link *l = ls->links; l; l = l->next)
		if (l->up && l->peer_ok && node_id_owns(&l->peer_node, eid))
			return l->peer_node.text;
	via = routing_via(ls->rt, eid);
	return via ? via->text : NULL;
}

void links_walk_neighbors(struct links *ls, void (*fn)(void *ctx, const struct neighbor_info *ni),
			  void *ctx)
{
	uint64_t now = unix_ms();

	for (struct neighbor *nb = ls->neighbors; nb; nb = nb->next) {
		struct neighbor_info ni = { .node = nb->node.text, .addr = nb->addr };

		if (nb->link) {
			ni.link = nb->link->id;
			ni.up = nb->link->up;
			nb->link->cl->ops->stats(nb->link->cl, &ni.stats);
		} else if (ev_is_active(&nb->retry)) {
			ni.retry_in_s = ev_timer_remaining(ls->loop, &nb->retry);
		}
		ni.contact = routing_contact(ls->rt, &nb->node, now, &ni.rate, &ni.change_ms);
		fn(ctx, &ni);
	}
}

void links_walk(struct links *ls, void (*fn)(void *ctx, const struct link_info *li), void *ctx)
{
	struct cl_stats st;
	struct link *l;

	for (l = ls->links; l; l = l->next) {
		l->cl->ops->stats(l->cl, &st);
		fn(ctx, &(struct link_info){ .id = l->id,
					     .peer = l->peer,
					     .addr = l->addr,
					     .up = l->up,
					     .outgoing = l->nb != NULL,
					     .stats = st });
	}
}
