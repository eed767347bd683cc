/* SPDX-License-Identifier: MIT */
/*
 * The store's generic half: argument checks, the bundle state machine and
 * dispatch to the backend (see store.h for the contract).
 */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct store {
	const struct store_ops *ops;
	void *impl;
};

static const char *const state_names[STORE_STATE_COUNT] = {
	[STORE_STATE_PENDING] = "pending",	 [STORE_STATE_QUEUED_LOCAL] = "queued-local",
	[STORE_STATE_DELIVERED] = "delivered",	 [STORE_STATE_FORWARD] = "forward",
	[STORE_STATE_IN_TRANSIT] = "in-transit",
};

/*
 * The agent's moves (docs/store.md). Pending is the store's alone: it leaves
 * it when the put is durable and nobody enters it again.
 */
static const uint8_t state_moves[STORE_STATE_COUNT] = {
	[STORE_STATE_QUEUED_LOCAL] = STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL) |
				     STORE_STATE_BIT(STORE_STATE_DELIVERED) |
				     STORE_STATE_BIT(STORE_STATE_FORWARD),
	[STORE_STATE_DELIVERED] = STORE_STATE_BIT(STORE_STATE_DELIVERED) |
				  STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL),
	[STORE_STATE_FORWARD] = STORE_STATE_BIT(STORE_STATE_FORWARD) |
				STORE_STATE_BIT(STORE_STATE_IN_TRANSIT) |
				STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL),
	[STORE_STATE_IN_TRANSIT] = STORE_STATE_BIT(STORE_STATE_IN_TRANSIT) |
				   STORE_STATE_BIT(STORE_STATE_FORWARD),
};

static bool state_valid(enum store_state state)
{
	return (unsigned)state < STORE_STATE_COUNT;
}

bool store_state_move_ok(enum store_state from, enum store_state to)
{
	return state_valid(from) && state_valid(to) && (state_moves[from] & STORE_STATE_BIT(to));
}

const char *store_state_name(enum store_state state)
{
	return state_valid(state) ? state_names[state] : "?";
}

static bool eid_text_ok(const char *text)
{
	size_t len;

	if (!text)
		return false;
	len = strnlen(text, STORE_EID_TEXT_MAX);
	return len > 0 && len < STORE_EID_TEXT_MAX;
}

/* A bundle enters the store waiting for one of these (RFC 9171 5.3). */
static bool put_state_ok(enum store_state state)
{
	return state == STORE_STATE_QUEUED_LOCAL || state == STORE_STATE_FORWARD;
}

/* The segments' total length, or -EINVAL for a bad or empty list. */
static int segs_len(const struct store_seg *segs, size_t nsegs, size_t *ret_len)
{
	size_t total = 0;
	size_t i;

	if (!segs || nsegs == 0 || nsegs > STORE_PUT_MAX_SEGS)
		return -EINVAL;
	for (i = 0; i < nsegs; i++) {
		const struct store_seg *g = &segs[i];

		if (g->len > 0 && !g->ptr && (g->fd < 0 || g->offset < 0))
			return -EINVAL;
		if (!g->ptr && (uint64_t)g->len > (uint64_t)INT64_MAX - (uint64_t)g->offset)
			return -EINVAL;
		if (g->len > SIZE_MAX - total)
			return -EINVAL;
		total += g->len;
	}
	if (total == 0)
		return -EINVAL;
	*ret_len = total;
	return 0;
}

int store_put(struct store *s, const struct store_put_req *req, store_done_fn *done, void *ctx,
	      uint64_t *ret_id)
{
	size_t len;
	int r;

	if (!s || !req || !done || !ret_id)
		return -EINVAL;
	if (!eid_text_ok(req->dest) || !eid_text_ok(req->source) || !put_state_ok(req->state))
		return -EINVAL;
	r = segs_len(req->segs, req->nsegs, &len);
	if (r < 0)
		return r;
	return s->ops->put(s->impl, req, len, done, ctx, ret_id);
}

int store_get(struct store *s, uint64_t id, struct store_meta *ret)
{
	if (!s || !ret || id == 0)
		return -EINVAL;
	return s->ops->get(s->impl, id, ret);
}

long store_read(struct store *s, uint64_t id, uint64_t offset, void *buf, size_t len)
{
	if (!s || id == 0 || (!buf && len > 0))
		return -EINVAL;
	return s->ops->read(s->impl, id, offset, buf, len);
}

int store_read_fd(struct store *s, uint64_t id, struct store_span *ret)
{
	if (!s || !ret || id == 0)
		return -EINVAL;
	if (!s->ops->read_fd)
		return -EOPNOTSUPP;
	return s->ops->read_fd(s->impl, id, ret);
}

int store_peek(struct store *s, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len)
{
	if (!s || !ret_ptr || !ret_len || id == 0)
		return -EINVAL;
	if (!s->ops->peek)
		return -EOPNOTSUPP;
	return s->ops->peek(s->impl, id, ret_ptr, ret_len);
}

int store_load(struct store *s, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len,
	       uint8_t **ret_copy)
{
	struct store_meta meta;
	uint8_t *buf;
	long n;
	int r;

	*ret_copy = NULL;
	r = store_peek(s, id, ret_ptr, ret_len);
	if (r != -EOPNOTSUPP)
		return r;
	r = store_get(s, id, &meta);
	if (r < 0)
		return r;
	buf = malloc(meta.size ? meta.size : 1);
	if (!buf)
		return -ENOMEM;
	n = store_read(s, id, 0, buf, meta.size);
	if (n < 0 || (uint64_t)n != meta.size) {
		free(buf);
		return n < 0 ? (int)n : -EIO;
	}
	*ret_ptr = buf;
	*ret_len = meta.size;
	*ret_copy = buf;
	return 0;
}

/* The bundle's current state, for the checks below. */
static int current_state(struct store *s, uint64_t id, enum store_state *ret)
{
	struct store_meta m;
	int r;

	r = s->ops->get(s->impl, id, &m);
	if (r < 0)
		return r;
	*ret = m.state;
	return 0;
}

/* The state of a bundle whose put is done: -EBUSY while it is pending. */
static int settled_state(struct store *s, uint64_t id, enum store_state *ret)
{
	int r = current_state(s, id, ret);

	if (r == 0 && *ret == STORE_STATE_PENDING)
		return -EBUSY;
	return r;
}

int store_set_state(struct store *s, uint64_t id, enum store_state state, uint32_t tag)
{
	enum store_state from;
	int r;

	if (!s || id == 0 || !state_valid(state) || state == STORE_STATE_PENDING)
		return -EINVAL;
	r = settled_state(s, id, &from);
	if (r < 0)
		return r;
	if (!store_state_move_ok(from, state))
		return -EINVAL;
	return s->ops->set_state(s->impl, id, state, tag);
}

int store_delete(struct store *s, uint64_t id)
{
	enum store_state from;
	int r;

	if (!s || id == 0)
		return -EINVAL;
	r = settled_state(s, id, &from);
	if (r < 0)
		return r;
	return s->ops->remove(s->impl, id);
}

int store_iterate(struct store *s, const struct store_filter *filter, store_iter_fn *fn, void *ctx)
{
	static const struct store_filter all;

	if (!s || !fn)
		return -EINVAL;
	if (!filter)
		filter = &all;
	if (filter->states >> STORE_STATE_COUNT)
		return -EINVAL;
	if (filter->dest && !eid_text_ok(filter->dest))
		return -EINVAL;
	return s->ops->iterate(s->impl, filter, fn, ctx);
}

int store_stats(struct store *s, struct store_stats *ret)
{
	if (!s || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	s->ops->stats(s->impl, ret);
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	s->ops->free(s->impl);
	free(s);
}

struct store *store_new(const struct store_ops *ops, void *impl)
{
	struct store *s;

	if (!ops || !impl)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ops = ops;
	s->impl = impl;
	return s;
}

int store_limits_check(const struct store_limits *lim)
{
	if (!lim || lim->max_bytes == 0 || lim->max_bundles == 0)
		return -EINVAL;
	return 0;
}

int store_quota_check(const struct store_limits *lim, uint64_t bytes, uint64_t bundles,
		      uint64_t len, uint64_t *refused)
{
	if (len > lim->max_bytes)
		return -EMSGSIZE;
	if (len > lim->max_bytes - bytes || bundles >= lim->max_bundles) {
		(*refused)++;
		return -ENOBUFS;
	}
	return 0;
}

/* Copy one segment to dst; a file shorter than the segment is -EINVAL. */
static int seg_copy(uint8_t *dst, const struct store_seg *g)
{
	size_t got = 0;
	ssize_t n;

	if (g->ptr) {
		memcpy(dst, g->ptr, g->len);
		return 0;
	}
	while (got < g->len) {
		n = pread(g->fd, dst + got, g->len - got, g->offset + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL;
		got += (size_t)n;
	}
	return 0;
}

int store_segs_copy(uint8_t *dst, const struct store_seg *segs, size_t nsegs)
{
	size_t i;
	int r;

	for (i = 0; i < nsegs; i++) {
		r = seg_copy(dst, &segs[i]);
		if (r < 0)
			return r;
		dst += segs[i].len;
	}
	return 0;
}
