/* SPDX-License-Identifier: MIT */
/*
 * The in-memory store backend (store_mem.h): one allocation per bundle holds
 * its index entry (store_index.h) and its bytes.
 */
#include "store_mem.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_index.h"

struct mem_bundle {
	struct sidx_bundle ix;
	uint8_t bytes[];
};

struct mem_store {
	struct ev_loop *loop;
	ev_prepare commit; /* finishes pending puts at the end of a loop turn */
	ev_idle wake;	   /* keeps the loop from blocking while puts are pending */
	struct store_limits lim;
	struct sidx ix;
	uint64_t next_id;
	uint64_t refused;
};

static struct mem_bundle *mem_bundle_of(struct sidx_bundle *b)
{
	return b ? sidx_container_of(b, struct mem_bundle, ix) : NULL;
}

/* Bundles. */

static struct mem_bundle *bundle_find(struct mem_store *m, uint64_t id)
{
	return mem_bundle_of(sidx_find(&m->ix, id));
}

/* Take b out of the index, release its space and free it. */
static void bundle_free(struct mem_store *m, struct mem_bundle *b)
{
	sidx_remove(&m->ix, &b->ix);
	free(b);
}

/* Finish one pending put: it is in memory, so it is as safe as it will get. */
static void bundle_complete(struct mem_store *m, struct sidx_bundle *b)
{
	store_done_fn *done = b->done;
	void *ctx = b->done_ctx;

	b->done = NULL;
	b->done_ctx = NULL;
	sidx_move(&m->ix, b, b->target);
	done(ctx, b->meta.id, 0); /* may delete b */
}

/*
 * The end of a loop turn (before the loop polls): finish every put made
 * before it, in put order. Puts made by the done callbacks wait for the next
 * turn; pending bundles cannot be deleted or moved, so the first n of the
 * pending list are exactly the ones there now.
 */
static void mem_commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct mem_store *m = sidx_container_of(w, struct mem_store, commit);
	uint64_t n = m->ix.states[STORE_STATE_PENDING].count;

	ev_prepare_stop(loop, &m->commit);
	ev_idle_stop(loop, &m->wake);
	while (n-- > 0)
		bundle_complete(m, sidx_first(&m->ix, STORE_STATE_PENDING));
}

/* Only there to make the loop poll without blocking; the commit does the work. */
static void mem_wake_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

static int mem_put(void *impl, const struct store_put_req *req, size_t len, store_done_fn *done,
		   void *ctx, uint64_t *ret_id)
{
	struct mem_store *m = impl;
	struct mem_bundle *b;
	int r;

	r = store_quota_check(&m->lim, m->ix.bytes, sidx_count(&m->ix), len, &m->refused);
	if (r < 0)
		return r;
	if (len > SIZE_MAX - sizeof(struct mem_bundle))
		return -EMSGSIZE;
	b = malloc(sizeof(*b) + len);
	if (!b)
		return -ENOMEM;
	r = store_segs_copy(b->bytes, req->segs, req->nsegs);
	if (r < 0)
		goto out_free;
	sidx_meta_init(&b->ix, req, len, m->next_id);
	r = sidx_add(&m->ix, &b->ix, req->dest, strlen(req->dest), req->source,
		     strlen(req->source));
	if (r < 0)
		goto out_free;
	m->next_id++;
	b->ix.done = done;
	b->ix.done_ctx = ctx;
	if (!ev_is_active(&m->commit)) {
		ev_prepare_start(m->loop, &m->commit);
		ev_idle_start(m->loop, &m->wake);
	}
	*ret_id = b->ix.meta.id;
	return 0;

out_free:
	free(b);
	return r;
}

static int mem_get(void *impl, uint64_t id, struct store_meta *ret)
{
	struct mem_store *m = impl;

	return sidx_get(&m->ix, id, ret);
}

static long mem_read(void *impl, uint64_t id, uint64_t offset, void *buf, size_t len)
{
	struct mem_bundle *b = bundle_find(impl, id);
	uint64_t n;

	if (!b)
		return -ENOENT;
	if (offset > b->ix.meta.size)
		return -EINVAL;
	n = b->ix.meta.size - offset;
	if (n > len)
		n = len;
	if (n > LONG_MAX)
		n = LONG_MAX;
	if (n > 0)
		memcpy(buf, b->bytes + offset, n);
	return (long)n;
}

static int mem_peek(void *impl, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len)
{
	struct mem_bundle *b = bundle_find(impl, id);

	if (!b)
		return -ENOENT;
	*ret_ptr = b->bytes;
	*ret_len = b->ix.meta.size;
	return 0;
}

static int mem_set_state(void *impl, uint64_t id, enum store_state state, uint32_t tag)
{
	struct mem_store *m = impl;
	struct sidx_bundle *b = sidx_find(&m->ix, id);

	if (!b)
		return -ENOENT;
	sidx_move(&m->ix, b, state);
	b->meta.tag = tag;
	return 0;
}

static int mem_remove(void *impl, uint64_t id)
{
	struct mem_bundle *b = bundle_find(impl, id);

	if (!b)
		return -ENOENT;
	bundle_free(impl, b);
	return 0;
}

static int mem_iterate(void *impl, const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct mem_store *m = impl;

	return sidx_iterate(&m->ix, f, fn, ctx);
}

static void mem_stats(void *impl, struct store_stats *ret)
{
	struct mem_store *m = impl;

	sidx_stats(&m->ix, ret);
	ret->max_bytes = m->lim.max_bytes;
	ret->max_bundles = m->lim.max_bundles;
	ret->refused = m->refused;
	ret->durable = false;
	ret->backend = "memory";
}

/* Also frees a half-built store from store_mem_new(). */
static void mem_free(void *impl)
{
	struct mem_store *m = impl;
	struct sidx_bundle *b;
	size_t st;

	ev_prepare_stop(m->loop, &m->commit);
	ev_idle_stop(m->loop, &m->wake);
	for (st = 0; st < STORE_STATE_COUNT; st++)
		while ((b = sidx_first(&m->ix, (enum store_state)st)))
			bundle_free(m, mem_bundle_of(b));
	sidx_clear(&m->ix);
	free(m);
}

static const struct store_ops mem_ops = {
	.put = mem_put,
	.get = mem_get,
	.read = mem_read,
	.read_fd = NULL,
	.peek = mem_peek,
	.set_state = mem_set_state,
	.remove = mem_remove,
	.iterate = mem_iterate,
	.stats = mem_stats,
	.free = mem_free,
};

int store_mem_new(struct ev_loop *loop, const struct store_limits *lim, struct store **ret)
{
	struct mem_store *m;
	int r;

	if (!loop || !ret)
		return -EINVAL;
	r = store_limits_check(lim);
	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->lim = *lim;
	m->next_id = 1;
	ev_prepare_init(&m->commit, mem_commit_cb);
	ev_idle_init(&m->wake, mem_wake_cb);
	if (sidx_init(&m->ix) < 0) {
		free(m);
		return -ENOMEM;
	}
	*ret = store_new(&mem_ops, m);
	if (!*ret)
		goto out_free;
	return 0;

out_free:
	mem_free(m);
	return -ENOMEM;
}
