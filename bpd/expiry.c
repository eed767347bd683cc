/* SPDX-License-Identifier: MIT */
/* Bundle lifetimes: a min-heap and one timer (expiry.h). */
#include "expiry.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Longest the timer sleeps before looking at the clock again. */
#define MAX_SLEEP_S 60.0
/* Below this many entries a rebuild is never worth it. */
#define REBUILD_FLOOR 4096

struct entry {
	uint64_t when, id;
};

struct expiry {
	struct ev_loop *loop;
	ev_timer timer;
	expiry_fire_fn *fire;
	void *ctx;
	struct entry *heap;
	size_t n, cap;
	bool firing; /* inside fire(): the timer is re-armed after the loop */
};

uint64_t expiry_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - DTN_EPOCH_UNIX_MS;
}

static void swap(struct entry *a, struct entry *b)
{
	struct entry t = *a;

	*a = *b;
	*b = t;
}

static void sift_up(struct entry *h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2].when > h[i].when) {
		swap(&h[(i - 1) / 2], &h[i]);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct entry *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && h[l].when < h[m].when)
			m = l;
		if (r < n && h[r].when < h[m].when)
			m = r;
		if (m == i)
			return;
		swap(&h[m], &h[i]);
		i = m;
	}
}

/* Sleep until the earliest entry is due (or a minute, to follow the clock). */
static void arm(struct expiry *e)
{
	uint64_t now = expiry_now_ms();
	double delay;

	ev_timer_stop(e->loop, &e->timer);
	if (e->n == 0)
		return;
	delay = e->heap[0].when <= now ? 0. : (double)(e->heap[0].when - now) / 1000.;
	ev_timer_set(&e->timer, delay < MAX_SLEEP_S ? delay : MAX_SLEEP_S, 0.);
	ev_timer_start(e->loop, &e->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct expiry *e = (struct expiry *)((char *)w - offsetof(struct expiry, timer));
	uint64_t now = expiry_now_ms();

	e->firing = true;
	while (e->n > 0 && e->heap[0].when <= now) {
		uint64_t id = e->heap[0].id;

		e->heap[0] = e->heap[--e->n];
		sift_down(e->heap, e->n, 0);
		e->fire(e->ctx, id); /* may add entries, or clear and rebuild */
	}
	e->firing = false;
	arm(e);
}

struct expiry *expiry_new(struct ev_loop *loop, expiry_fire_fn *fire, void *ctx)
{
	struct expiry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->loop = loop;
	e->fire = fire;
	e->ctx = ctx;
	ev_timer_init(&e->timer, on_timer, 0., 0.);
	return e;
}

void expiry_free(struct expiry *e)
{
	if (!e)
		return;
	ev_timer_stop(e->loop, &e->timer);
	free(e->heap);
	free(e);
}

int expiry_add(struct expiry *e, uint64_t when, uint64_t id)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct entry *h = realloc(e->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		e->heap = h;
		e->cap = cap;
	}
	e->heap[e->n] = (struct entry){ .when = when, .id = id };
	sift_up(e->heap, e->n++);
	/* A new earliest entry needs the timer moved (not from inside a fire). */
	if (!e->firing && e->heap[0].id == id && e->heap[0].when == when)
		arm(e);
	return 0;
}

void expiry_clear(struct expiry *e)
{
	e->n = 0;
	if (!e->firing)
		ev_timer_stop(e->loop, &e->timer);
}

size_t expiry_count(const struct expiry *e)
{
	return e->n;
}

bool expiry_needs_rebuild(const struct expiry *e, uint64_t live)
{
	return e->n > REBUILD_FLOOR && e->n > 2 * live;
}
