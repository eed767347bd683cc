/* SPDX-License-Identifier: MIT */
/*
 * The store interface (bpd/store/store.h, docs/store.md) against a backend:
 * the in-memory one, or (built with STORE_TEST_LOG) the log with sync
 * "none", whose dones come at the end of the loop turn as the memory
 * backend's do. test_store_log.c has what only the log does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_log.h"
#include "store_mem.h"

#define MAX_DONE 64
/* Bundles for the put/delete churn test. */
#define N 100000

struct fixture {
	char dir[64]; /* the log's, with STORE_TEST_LOG */
	struct ev_loop *loop;
	struct store *s;
	size_t ndone;
	uint64_t done_id[MAX_DONE];
	int done_status[MAX_DONE];
};

static int setup_limits(void **state, uint64_t max_bytes, uint64_t max_bundles)
{
	struct store_limits lim = { .max_bytes = max_bytes, .max_bundles = max_bundles };
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->loop = ev_loop_new(EVFLAG_AUTO);
	if (!f->loop)
		return -1;
#ifdef STORE_TEST_LOG
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	struct store_log_opts o = {
		.dir = f->dir,
		.lim = lim,
		.sync = STORE_SYNC_NONE,
		.segment_bytes = 1 << 20,
	};
	if (store_log_new(f->loop, &o, &f->s) < 0)
		return -1;
#else
	if (store_mem_new(f->loop, &lim, &f->s) < 0)
		return -1;
#endif
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_limits(state, 1u << 30, 1u << 20);
}

static int setup_small(void **state)
{
	return setup_limits(state, 1000, 4);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->s);
	ev_loop_destroy(f->loop);
	if (f->dir[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
		if (system(cmd) != 0)
			return -1;
	}
	free(f);
	return 0;
}

static void on_done(void *ctx, uint64_t id, int status)
{
	struct fixture *f = ctx;

	if (f->ndone < MAX_DONE) {
		f->done_id[f->ndone] = id;
		f->done_status[f->ndone] = status;
	}
	f->ndone++;
}

static void no_done(void *ctx, uint64_t id, int status)
{
	fail_msg("done called for bundle %llu", (unsigned long long)id);
}

static struct store_put_req req_for(const char *dest, enum store_state st, const void *bytes,
				    size_t len, struct store_seg *seg)
{
	*seg = (struct store_seg){ .ptr = bytes, .fd = -1, .len = len };
	return (struct store_put_req){
		.dest = dest,
		.source = "ipn:1.5",
		.creation_time = 770000000000,
		.sequence = 7,
		.expiry = STORE_EXPIRY_NEVER,
		.state = st,
		.segs = seg,
		.nsegs = 1,
	};
}

/* Put len bytes of 'x' for dest in state st; the store's answer. */
static int put_st(struct fixture *f, const char *dest, enum store_state st, size_t len,
		  uint64_t *ret_id)
{
	static const uint8_t xs[512] = { [0 ... 511] = 'x' };
	struct store_seg seg;
	struct store_put_req req = req_for(dest, st, xs, len, &seg);

	assert_true(len <= sizeof(xs));
	return store_put(f->s, &req, on_done, f, ret_id);
}

/* Put and finish: the bundle is durable when this returns. */
static uint64_t put_durable(struct fixture *f, const char *dest, enum store_state st)
{
	uint64_t id;
	size_t before = f->ndone;

	assert_int_equal(put_st(f, dest, st, 10, &id), 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, before + 1);
	return id;
}

static enum store_state state_of(struct fixture *f, uint64_t id)
{
	struct store_meta m;

	assert_int_equal(store_get(f->s, id, &m), 0);
	return m.state;
}

static void put_completes_on_a_later_loop_turn(void **state)
{
	struct fixture *f = *state;
	uint64_t id = 0;

	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_QUEUED_LOCAL, 10, &id), 0);
	assert_true(id != 0);
	assert_int_equal(f->ndone, 0); /* never from inside store_put */
	assert_int_equal(state_of(f, id), STORE_STATE_PENDING);

	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->done_id[0], id);
	assert_int_equal(f->done_status[0], 0);
	assert_int_equal(state_of(f, id), STORE_STATE_QUEUED_LOCAL);
}

static void dones_come_in_put_order(void **state)
{
	struct fixture *f = *state;
	uint64_t ids[5];
	size_t i;

	for (i = 0; i < 5; i++)
		assert_int_equal(put_st(f, i % 2 ? "ipn:2.1" : "ipn:3.1", STORE_STATE_FORWARD, 10,
					&ids[i]),
				 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(f->done_id[i], ids[i]);
}

struct chain {
	struct fixture *f;
	uint64_t second;
	int puts_left;
};

static void put_again_on_done(void *ctx, uint64_t id, int status)
{
	struct chain *c = ctx;

	on_done(c->f, id, status);
	if (c->puts_left-- > 0)
		assert_int_equal(put_st(c->f, "ipn:2.1", STORE_STATE_FORWARD, 10, &c->second), 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(bool *)w->data = true;
}

/*
 * A done that puts again: the new put completes on the next turn, and the
 * loop does not go to sleep in between (EVRUN_ONCE would block in poll until
 * the guard timer if the store let it).
 */
static void put_from_a_done_completes_on_the_next_turn_without_sleeping(void **state)
{
	struct fixture *f = *state;
	struct chain c = { .f = f, .puts_left = 1 };
	struct store_seg seg;
	struct store_put_req req = req_for("ipn:2.1", STORE_STATE_FORWARD, "abc", 3, &seg);
	bool woken_by_guard = false;
	ev_timer guard;
	uint64_t id;

	ev_timer_init(&guard, guard_cb, 5.0, 0.0);
	guard.data = &woken_by_guard;
	ev_timer_start(f->loop, &guard);
	assert_int_equal(store_put(f->s, &req, put_again_on_done, &c, &id), 0);

	ev_run(f->loop, EVRUN_ONCE);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(state_of(f, c.second), STORE_STATE_PENDING);
	assert_false(woken_by_guard);

	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 2);
	assert_int_equal(f->done_id[1], c.second);
	assert_int_equal(state_of(f, c.second), STORE_STATE_FORWARD);
	assert_false(woken_by_guard);
	ev_timer_stop(f->loop, &guard);
}

static int memfd_with(const void *bytes, size_t len)
{
	int fd = memfd_create("test_store", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	return fd;
}

static void get_and_read_round_trip_byte_exact(void **state)
{
	struct fixture *f = *state;
	uint8_t bytes[3000], out[3000];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 3);
	fd = memfd_with(bytes, sizeof(bytes));
	/* Gathered from memory, a file range, and memory again. */
	struct store_seg segs[3] = {
		{ .ptr = bytes, .fd = -1, .len = 100 },
		{ .ptr = NULL, .fd = fd, .offset = 100, .len = 2800 },
		{ .ptr = bytes + 2900, .fd = -1, .len = 100 },
	};
	struct store_put_req req = {
		.dest = "dtn://far/inbox",
		.source = "ipn:1.5",
		.creation_time = 770000000123,
		.sequence = 42,
		.is_fragment = true,
		.frag_offset = 5000,
		.frag_len = 2900,
		.expiry = 770086400123,
		.state = STORE_STATE_FORWARD,
		.tag = 9,
		.segs = segs,
		.nsegs = 3,
	};
	struct store_meta m;
	const uint8_t *p;
	size_t len;
	struct store_span span;
	uint64_t id;

	assert_int_equal(store_put(f->s, &req, on_done, f, &id), 0);
	assert_int_equal(close(fd), 0); /* the store needs no fd of ours after the put */
	ev_run(f->loop, EVRUN_NOWAIT);

	assert_int_equal(store_get(f->s, id, &m), 0);
	assert_int_equal(m.id, id);
	assert_string_equal(m.dest, "dtn://far/inbox");
	assert_string_equal(m.source, "ipn:1.5");
	assert_int_equal(m.creation_time, 770000000123);
	assert_int_equal(m.sequence, 42);
	assert_true(m.is_fragment);
	assert_int_equal(m.frag_offset, 5000);
	assert_int_equal(m.frag_len, 2900);
	assert_int_equal(m.expiry, 770086400123);
	assert_int_equal(m.size, sizeof(bytes));
	assert_int_equal(m.state, STORE_STATE_FORWARD);
	assert_int_equal(m.tag, 9);

	assert_int_equal(store_read(f->s, id, 0, out, sizeof(out)), sizeof(bytes));
	assert_memory_equal(out, bytes, sizeof(bytes));
	assert_int_equal(store_read(f->s, id, 2990, out, 100), 10); /* short at the end */
	assert_memory_equal(out, bytes + 2990, 10);
	assert_int_equal(store_read(f->s, id, 1000, out, 5), 5);
	assert_memory_equal(out, bytes + 1000, 5);
	assert_int_equal(store_read(f->s, id, sizeof(bytes), out, 5), 0);
	assert_int_equal(store_read(f->s, id, sizeof(bytes) + 1, out, 5), -EINVAL);

#ifdef STORE_TEST_LOG
	/* In a file, ready for sendfile. */
	assert_int_equal(store_peek(f->s, id, &p, &len), -EOPNOTSUPP);
	assert_int_equal(store_read_fd(f->s, id, &span), 0);
	assert_int_equal(span.len, sizeof(bytes));
	memset(out, 0, sizeof(out));
	assert_int_equal(pread(span.fd, out, span.len, span.offset), sizeof(bytes));
	assert_memory_equal(out, bytes, sizeof(bytes));
#else
	assert_int_equal(store_peek(f->s, id, &p, &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(p, bytes, sizeof(bytes));
	assert_int_equal(store_read_fd(f->s, id, &span), -EOPNOTSUPP);
#endif
}

static void put_from_a_short_file_fails_and_stores_nothing(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_with("0123456789", 10);
	struct store_seg seg;
	struct store_put_req req = req_for("ipn:2.1", STORE_STATE_FORWARD, NULL, 0, &seg);
	struct store_stats st;
	uint64_t id;

	seg = (struct store_seg){ .fd = fd, .offset = 5, .len = 6 }; /* one byte past the end */
	assert_int_equal(store_put(f->s, &req, no_done, NULL, &id), -EINVAL);
	seg.fd = 1000; /* not open */
	assert_int_equal(store_put(f->s, &req, no_done, NULL, &id), -EBADF);
	assert_int_equal(close(fd), 0);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, 0);
	assert_int_equal(st.bytes, 0);
	ev_run(f->loop, EVRUN_NOWAIT);
}

static void quota_refuses_with_enobufs_until_a_delete_frees_space(void **state)
{
	struct fixture *f = *state; /* 1000 bytes, 4 bundles */
	struct store_stats st;
	uint64_t a, b, c;

	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 400, &a), 0);
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 400, &b), 0);
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 201, &c), -ENOBUFS);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 2); /* no done for the refused put */

	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bytes, 800);
	assert_int_equal(st.bundles, 2);
	assert_int_equal(st.max_bytes, 1000);
	assert_int_equal(st.max_bundles, 4);
	assert_int_equal(st.refused, 1);
#ifdef STORE_TEST_LOG
	assert_true(st.durable);
#else
	assert_false(st.durable);
#endif

	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 200, &c), 0); /* exactly full */
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 1, &c), -ENOBUFS);
	assert_int_equal(store_delete(f->s, c), -EBUSY); /* still pending */
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(store_delete(f->s, a), 0);
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 400, &a), 0);
}

static void quota_counts_bundles_and_refuses_what_can_never_fit(void **state)
{
	struct fixture *f = *state; /* 1000 bytes, 4 bundles */
	static const uint8_t big[1001];
	struct store_seg seg;
	struct store_put_req req = req_for("ipn:2.1", STORE_STATE_FORWARD, big, sizeof(big), &seg);
	struct store_stats st;
	uint64_t ids[5];
	int i;

	assert_int_equal(store_put(f->s, &req, no_done, NULL, &ids[0]), -EMSGSIZE);
	for (i = 0; i < 4; i++)
		assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 1, &ids[i]), 0);
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 1, &ids[4]), -ENOBUFS);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(store_delete(f->s, ids[2]), 0);
	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_FORWARD, 1, &ids[4]), 0);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, 4);
	assert_int_equal(st.refused, 1);
}

static void pending_bundle_cannot_be_deleted_or_moved(void **state)
{
	struct fixture *f = *state;
	uint64_t id;

	assert_int_equal(put_st(f, "ipn:2.1", STORE_STATE_QUEUED_LOCAL, 10, &id), 0);
	assert_int_equal(store_delete(f->s, id), -EBUSY);
	assert_int_equal(store_set_state(f->s, id, STORE_STATE_DELIVERED, 1), -EBUSY);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(store_set_state(f->s, id, STORE_STATE_DELIVERED, 1), 0);
	assert_int_equal(store_delete(f->s, id), 0);
	assert_int_equal(store_delete(f->s, id), -ENOENT);
}

static void state_changes_follow_the_state_machine(void **state)
{
	struct fixture *f = *state;
	uint64_t local = put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	uint64_t fwd = put_durable(f, "ipn:2.1", STORE_STATE_FORWARD);
	struct store_stats st;
	struct store_meta m;

	/* Local delivery, then the application went away ("defer"). */
	assert_int_equal(store_set_state(f->s, local, STORE_STATE_DELIVERED, 3), 0);
	assert_int_equal(store_get(f->s, local, &m), 0);
	assert_int_equal(m.state, STORE_STATE_DELIVERED);
	assert_int_equal(m.tag, 3);
	assert_int_equal(store_set_state(f->s, local, STORE_STATE_DELIVERED, 4), 0); /* retag */
	assert_int_equal(store_get(f->s, local, &m), 0);
	assert_int_equal(m.tag, 4);
	assert_int_equal(store_set_state(f->s, local, STORE_STATE_IN_TRANSIT, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, local, STORE_STATE_FORWARD, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, local, STORE_STATE_QUEUED_LOCAL, 0), 0);

	/* Forwarding: handed to a link, the transfer failed, handed again. */
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_IN_TRANSIT, 8), 0);
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_DELIVERED, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_QUEUED_LOCAL, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_FORWARD, 0), 0);
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_IN_TRANSIT, 9), 0);

	/* Nobody moves a bundle back to pending. */
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_PENDING, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, fwd, STORE_STATE_COUNT, 0), -EINVAL);

	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.by_state[STORE_STATE_PENDING], 0);
	assert_int_equal(st.by_state[STORE_STATE_QUEUED_LOCAL], 1);
	assert_int_equal(st.by_state[STORE_STATE_DELIVERED], 0);
	assert_int_equal(st.by_state[STORE_STATE_FORWARD], 0);
	assert_int_equal(st.by_state[STORE_STATE_IN_TRANSIT], 1);
	assert_string_equal(store_state_name(STORE_STATE_IN_TRANSIT), "in-transit");
	assert_string_equal(store_state_name(STORE_STATE_COUNT), "?");
}

/* What a walk saw. */
struct seen {
	struct fixture *f;
	size_t n;
	uint64_t ids[64];
	int action; /* what to do to each visited bundle */
	uint64_t victim;
	int stop_after;
};

enum {
	SEEN_NOTHING,
	SEEN_DELETE_SELF,
	SEEN_DELETE_VICTIM,
	SEEN_MOVE_TO_DELIVERED,
	SEEN_WALK_AGAIN,
};

static int visit_nothing(void *ctx, const struct store_meta *m)
{
	return 0;
}

static int see(void *ctx, const struct store_meta *m)
{
	struct seen *s = ctx;
	struct store *st = s->f->s;
	uint64_t id = m->id;

	assert_true(s->n < 64);
	s->ids[s->n++] = id;
	switch (s->action) {
	case SEEN_DELETE_SELF:
		assert_int_equal(store_delete(st, id), 0);
		break;
	case SEEN_DELETE_VICTIM:
		if (s->victim)
			assert_int_equal(store_delete(st, s->victim), 0);
		s->victim = 0;
		break;
	case SEEN_MOVE_TO_DELIVERED:
		assert_int_equal(store_set_state(st, id, STORE_STATE_DELIVERED, 1), 0);
		break;
	case SEEN_WALK_AGAIN:
		assert_int_equal(store_iterate(st, NULL, visit_nothing, NULL), -EBUSY);
		break;
	}
	return s->stop_after && (int)s->n == s->stop_after ? 77 : 0;
}

static void iterate_by_state_visits_only_that_state(void **state)
{
	struct fixture *f = *state;
	uint64_t l1 = put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	uint64_t w1 = put_durable(f, "ipn:2.1", STORE_STATE_FORWARD);
	uint64_t l2 = put_durable(f, "ipn:1.8", STORE_STATE_QUEUED_LOCAL);
	uint64_t w2 = put_durable(f, "ipn:3.1", STORE_STATE_FORWARD);
	struct store_filter fl = { .states = STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL) };
	struct seen s = { .f = f };
	uint64_t pend;

	assert_int_equal(put_st(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL, 10, &pend), 0);
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], l1);
	assert_int_equal(s.ids[1], l2);

	s.n = 0;
	fl.states = STORE_STATE_BIT(STORE_STATE_FORWARD) | STORE_STATE_BIT(STORE_STATE_PENDING);
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[0], pend); /* states in enum order */
	assert_int_equal(s.ids[1], w1);
	assert_int_equal(s.ids[2], w2);

	s.n = 0;
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 0); /* everything */
	assert_int_equal(s.n, 5);
	ev_run(f->loop, EVRUN_NOWAIT);
}

static void iterate_by_destination_is_in_put_order(void **state)
{
	struct fixture *f = *state;
	uint64_t a = put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	uint64_t b = put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	uint64_t c = put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	struct store_filter fl = { .dest = "ipn:1.7" };
	struct seen s = { .f = f };

	(void)put_durable(f, "ipn:1.8", STORE_STATE_QUEUED_LOCAL);
	/* a delivered and returned: it entered queued-local last, but it is the oldest. */
	assert_int_equal(store_set_state(f->s, a, STORE_STATE_DELIVERED, 5), 0);
	assert_int_equal(store_set_state(f->s, a, STORE_STATE_QUEUED_LOCAL, 0), 0);
	assert_int_equal(store_set_state(f->s, c, STORE_STATE_DELIVERED, 5), 0);

	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[0], a);
	assert_int_equal(s.ids[1], b);
	assert_int_equal(s.ids[2], c);

	s.n = 0;
	fl.states = STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL);
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], a);
	assert_int_equal(s.ids[1], b);

	s.n = 0;
	fl = (struct store_filter){ .by_tag = true, .tag = 5 };
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], c);

	s.n = 0;
	fl = (struct store_filter){ .dest = "ipn:9.9" };
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 0);
}

static void deleting_during_iteration_is_safe(void **state)
{
	struct fixture *f = *state;
	struct store_filter by_dest = { .dest = "ipn:1.7" };
	struct seen s = { .f = f, .action = SEEN_DELETE_SELF };
	struct store_stats st;
	uint64_t ids[6];
	int i;

	for (i = 0; i < 6; i++)
		ids[i] = put_durable(f, i < 3 ? "ipn:1.7" : "ipn:2.1",
				     i < 3 ? STORE_STATE_QUEUED_LOCAL : STORE_STATE_FORWARD);

	/* Each visited bundle deletes itself, walking a destination's list. */
	assert_int_equal(store_iterate(f->s, &by_dest, see, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(store_get(f->s, ids[0], &(struct store_meta){ 0 }), -ENOENT);

	/* The first visited deletes the one the walk would visit next. */
	s = (struct seen){ .f = f, .action = SEEN_DELETE_VICTIM, .victim = ids[4] };
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], ids[3]);
	assert_int_equal(s.ids[1], ids[5]);

	/* And everything left deletes itself, walking by state. */
	s = (struct seen){ .f = f, .action = SEEN_DELETE_SELF };
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, 0);
	assert_int_equal(st.bytes, 0);
}

static void state_change_during_iteration_visits_each_bundle_once(void **state)
{
	struct fixture *f = *state;
	struct store_filter fl = { .states = STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL) |
					     STORE_STATE_BIT(STORE_STATE_DELIVERED) };
	struct seen s = { .f = f, .action = SEEN_MOVE_TO_DELIVERED };
	int i;

	for (i = 0; i < 4; i++)
		(void)put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	/* Each moves into the delivered list, which the walk reads next. */
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 4);

	s = (struct seen){ .f = f, .action = SEEN_NOTHING };
	fl.states = STORE_STATE_BIT(STORE_STATE_DELIVERED);
	assert_int_equal(store_iterate(f->s, &fl, see, &s), 0);
	assert_int_equal(s.n, 4);
}

static void iterate_stops_with_the_callbacks_value_and_refuses_nesting(void **state)
{
	struct fixture *f = *state;
	struct seen s = { .f = f, .stop_after = 2 };
	int i;

	for (i = 0; i < 4; i++)
		(void)put_durable(f, "ipn:1.7", STORE_STATE_QUEUED_LOCAL);
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 77);
	assert_int_equal(s.n, 2);

	s = (struct seen){ .f = f, .action = SEEN_WALK_AGAIN };
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 0);
	assert_int_equal(s.n, 4);
	s = (struct seen){ .f = f };
	assert_int_equal(store_iterate(f->s, NULL, see, &s), 0); /* usable again after */
	assert_int_equal(s.n, 4);
}

static void on_done_count(void *ctx, uint64_t id, int status)
{
	size_t *n = ctx;

	assert_int_equal(status, 0);
	(*n)++;
}

static int delete_all(void *ctx, const struct store_meta *m)
{
	struct store *s = ctx;

	return store_delete(s, m->id);
}

static void many_bundles_put_and_delete_without_leaks(void **state)
{
	struct fixture *f = *state;
	uint64_t *ids = calloc(N, sizeof(*ids));
	char dest[32];
	size_t i, ndone = 0;
	struct store_stats st;

	assert_non_null(ids);
	for (i = 0; i < N; i++) {
		uint8_t payload[64];
		struct store_seg seg;
		struct store_put_req req;

		snprintf(dest, sizeof(dest), "ipn:%zu.1", i % 1000);
		memset(payload, (int)i, sizeof(payload));
		req = req_for(dest, STORE_STATE_FORWARD, payload, sizeof(payload), &seg);
		assert_int_equal(store_put(f->s, &req, on_done_count, &ndone, &ids[i]), 0);
		assert_true(i == 0 || ids[i] > ids[i - 1]);
	}
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(ndone, N);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, N);
	assert_int_equal(st.bytes, 64 * N);

	/* Every other one directly, the rest through a walk. */
	for (i = 0; i < N; i += 2)
		assert_int_equal(store_delete(f->s, ids[i]), 0);
	for (i = 1; i < N; i += 1000) {
		uint8_t b;

		assert_int_equal(store_read(f->s, ids[i], 63, &b, 1), 1);
		assert_int_equal(b, (uint8_t)i);
	}
	assert_int_equal(store_iterate(f->s, NULL, delete_all, f->s), 0);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, 0);
	assert_int_equal(st.bytes, 0);
	free(ids);
}

static void free_with_pending_puts_calls_no_done(void **state)
{
	struct fixture *f = *state;
	struct store_seg seg;
	struct store_put_req req = req_for("ipn:2.1", STORE_STATE_FORWARD, "x", 1, &seg);
	uint64_t id;

	assert_int_equal(store_put(f->s, &req, no_done, NULL, &id), 0);
	store_free(f->s);
	f->s = NULL;
	ev_run(f->loop, EVRUN_NOWAIT); /* no watcher of the store is left to fire */
	store_free(NULL);
}

static void bad_arguments_are_einval(void **state)
{
	struct fixture *f = *state;
	char long_eid[STORE_EID_TEXT_MAX + 1];
	struct store_seg seg, segs[STORE_PUT_MAX_SEGS + 1];
	struct store_put_req req = req_for("ipn:2.1", STORE_STATE_FORWARD, "abc", 3, &seg);
	struct store_put_req bad;
	struct store_limits lim = { .max_bytes = 0, .max_bundles = 1 };
	struct store_filter fl = { .states = 1u << STORE_STATE_COUNT };
	struct store_meta m;
	struct store_stats st;
	struct store *s2;
	const uint8_t *p;
	size_t len, i;
	uint64_t id = put_durable(f, "ipn:2.1", STORE_STATE_FORWARD);
	uint8_t buf[4];

	memset(long_eid, 'a', sizeof(long_eid) - 1);
	long_eid[sizeof(long_eid) - 1] = '\0';
	for (i = 0; i <= STORE_PUT_MAX_SEGS; i++)
		segs[i] = (struct store_seg){ .ptr = "a", .fd = -1, .len = 1 };

	assert_int_equal(store_put(NULL, &req, on_done, f, &id), -EINVAL);
	assert_int_equal(store_put(f->s, NULL, on_done, f, &id), -EINVAL);
	assert_int_equal(store_put(f->s, &req, NULL, f, &id), -EINVAL);
	assert_int_equal(store_put(f->s, &req, on_done, f, NULL), -EINVAL);
	bad = req;
	bad.dest = NULL;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.source = "";
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.dest = long_eid;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.state = STORE_STATE_PENDING;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.state = STORE_STATE_DELIVERED;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.nsegs = 0;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	bad.segs = segs;
	bad.nsegs = STORE_PUT_MAX_SEGS + 1;
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	bad = req;
	seg.len = 0; /* empty bundle */
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	seg = (struct store_seg){ .ptr = NULL, .fd = -1, .len = 3 }; /* no bytes, no fd */
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	seg = (struct store_seg){ .ptr = NULL, .fd = 0, .offset = -1, .len = 3 };
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);
	seg = (struct store_seg){ .ptr = NULL, .fd = 0, .offset = INT64_MAX, .len = 3 };
	assert_int_equal(store_put(f->s, &bad, on_done, f, &id), -EINVAL);

	assert_int_equal(store_get(f->s, 0, &m), -EINVAL);
	assert_int_equal(store_get(f->s, id, NULL), -EINVAL);
	assert_int_equal(store_get(NULL, id, &m), -EINVAL);
	assert_int_equal(store_read(f->s, id, 0, NULL, 4), -EINVAL);
	assert_int_equal(store_read(f->s, 0, 0, buf, 4), -EINVAL);
	assert_int_equal(store_peek(f->s, id, NULL, &len), -EINVAL);
	assert_int_equal(store_peek(f->s, id, &p, NULL), -EINVAL);
	assert_int_equal(store_read_fd(f->s, id, NULL), -EINVAL);
	assert_int_equal(store_set_state(f->s, 0, STORE_STATE_FORWARD, 0), -EINVAL);
	assert_int_equal(store_set_state(f->s, id, (enum store_state) - 1, 0), -EINVAL);
	assert_int_equal(store_delete(f->s, 0), -EINVAL);
	assert_int_equal(store_delete(NULL, id), -EINVAL);
	assert_int_equal(store_iterate(f->s, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(store_iterate(f->s, &fl, see, NULL), -EINVAL);
	fl = (struct store_filter){ .dest = "" };
	assert_int_equal(store_iterate(f->s, &fl, see, NULL), -EINVAL);
	assert_int_equal(store_stats(f->s, NULL), -EINVAL);
	assert_int_equal(store_stats(NULL, &st), -EINVAL);

	assert_int_equal(store_mem_new(f->loop, &lim, &s2), -EINVAL);
	lim = (struct store_limits){ .max_bytes = 1, .max_bundles = 0 };
	assert_int_equal(store_mem_new(f->loop, &lim, &s2), -EINVAL);
	assert_int_equal(store_mem_new(f->loop, NULL, &s2), -EINVAL);
	assert_int_equal(store_mem_new(NULL, &(struct store_limits){ 1, 1 }, &s2), -EINVAL);

	/* Nothing above was stored, and the good bundle is untouched. */
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(store_stats(f->s, &st), 0);
	assert_int_equal(st.bundles, 1);
	assert_int_equal(store_read(f->s, id, 0, buf, 4), 4);
}

static void unknown_ids_are_enoent(void **state)
{
	struct fixture *f = *state;
	struct store_meta m;
	const uint8_t *p;
	size_t len;
	uint8_t buf[4];

	assert_int_equal(store_get(f->s, 12345, &m), -ENOENT);
	assert_int_equal(store_read(f->s, 12345, 0, buf, 4), -ENOENT);
#ifdef STORE_TEST_LOG
	assert_int_equal(store_peek(f->s, 12345, &p, &len), -EOPNOTSUPP);
#else
	assert_int_equal(store_peek(f->s, 12345, &p, &len), -ENOENT);
#endif
	assert_int_equal(store_set_state(f->s, 12345, STORE_STATE_FORWARD, 0), -ENOENT);
	assert_int_equal(store_delete(f->s, 12345), -ENOENT);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T_SMALL(name) cmocka_unit_test_setup_teardown(name, setup_small, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(put_completes_on_a_later_loop_turn),
		T(dones_come_in_put_order),
		T(put_from_a_done_completes_on_the_next_turn_without_sleeping),
		T(get_and_read_round_trip_byte_exact),
		T(put_from_a_short_file_fails_and_stores_nothing),
		T_SMALL(quota_refuses_with_enobufs_until_a_delete_frees_space),
		T_SMALL(quota_counts_bundles_and_refuses_what_can_never_fit),
		T(pending_bundle_cannot_be_deleted_or_moved),
		T(state_changes_follow_the_state_machine),
		T(iterate_by_state_visits_only_that_state),
		T(iterate_by_destination_is_in_put_order),
		T(deleting_during_iteration_is_safe),
		T(state_change_during_iteration_visits_each_bundle_once),
		T(iterate_stops_with_the_callbacks_value_and_refuses_nesting),
		T(many_bundles_put_and_delete_without_leaks),
		T(free_with_pending_puts_calls_no_done),
		T(bad_arguments_are_einval),
		T(unknown_ids_are_enoent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
