/* SPDX-License-Identifier: MIT */
/*
 * The in-memory store backend (store_mem.h).
 *
 * One allocation per bundle holds its metadata and its bytes. Bundles are
 * indexed by id in a chained hash table. EID texts are interned in a second
 * table (most bundles share a few destinations and sources), and each
 * interned destination lists its bundles in id order. Each state lists its
 * bundles in the order they entered it. So put, get, state change and delete
 * are O(1), and a walk costs the bundles of the lists it reads.
 *
 * The index half (tables, lists, walks) does not depend on where the bytes
 * are; the log of issue 4 needs the same index without the bytes.
 */
#include "store_mem.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A table starts with 2^6 slots, doubles at one entry per slot, halves at 1/8. */
#define TABLE_MIN_BITS 6

_Static_assert(sizeof(off_t) == 8, "segment offsets need a 64-bit off_t");

struct hnode {
	struct hnode *next;
	uint64_t key;
};

struct table {
	struct hnode **slots;
	unsigned bits;
	size_t count;
};

/* A bundle is on two lists: its state's and its destination's. */
enum link_kind {
	LINK_STATE,
	LINK_DEST,
};

struct mem_bundle;

struct link {
	struct mem_bundle *prev;
	struct mem_bundle *next;
};

struct list {
	struct mem_bundle *head;
	struct mem_bundle *tail;
	uint64_t count;
};

/* An interned EID text, shared by every bundle that names it. */
struct mem_eid {
	struct hnode node;   /* key: keyed hash of the text */
	uint64_t refs;	     /* bundles naming it as destination or source */
	struct list bundles; /* bundles for this destination, in id order */
	size_t len;
	char text[];
};

struct mem_bundle {
	struct hnode node;	/* key: id */
	struct link links[2];	/* by enum link_kind */
	struct store_meta meta; /* dest and source point into the interned texts */
	struct mem_eid *dest;
	struct mem_eid *source;
	uint32_t visit;		 /* the walk that last visited it */
	enum store_state target; /* while pending: the state its put asked for */
	store_done_fn *done;	 /* while pending */
	void *done_ctx;
	uint8_t bytes[];
};

/* The walk in progress: the bundle it visits next, kept right as bundles go. */
struct walk {
	enum link_kind kind;
	struct mem_bundle *next;
};

struct mem_store {
	struct ev_loop *loop;
	ev_prepare commit; /* finishes pending puts at the end of a loop turn */
	ev_idle wake;	   /* keeps the loop from blocking while puts are pending */
	struct store_limits lim;
	struct table ids;
	struct table eids;
	uint64_t hash_key[2]; /* random: peers choose EIDs, not their hash chains */
	struct list states[STORE_STATE_COUNT];
	uint64_t next_id;
	uint64_t bytes;
	uint64_t refused;
	struct walk *walk; /* NULL when no walk is running */
	uint32_t epoch;	   /* numbers walks, for struct mem_bundle.visit */
};

/* Hash tables of intrusive nodes, collisions chained. */

static size_t table_slot(const struct table *t, uint64_t key)
{
	/* Fibonacci hashing: the top bits of key * 2^64 / phi. */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - t->bits));
}

static int table_init(struct table *t)
{
	t->bits = TABLE_MIN_BITS;
	t->count = 0;
	t->slots = calloc((size_t)1 << t->bits, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

static void table_clear(struct table *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Rehash into 2^bits slots; without memory keep the old ones (chains grow). */
static void table_resize(struct table *t, unsigned bits)
{
	struct hnode **old = t->slots;
	size_t n = (size_t)1 << t->bits;
	struct hnode *h;
	size_t i;

	t->slots = calloc((size_t)1 << bits, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return;
	}
	t->bits = bits;
	for (i = 0; i < n; i++) {
		while ((h = old[i])) {
			size_t s = table_slot(t, h->key);

			old[i] = h->next;
			h->next = t->slots[s];
			t->slots[s] = h;
		}
	}
	free(old);
}

static struct hnode *table_first(const struct table *t, uint64_t key)
{
	struct hnode *h = t->slots[table_slot(t, key)];

	while (h && h->key != key)
		h = h->next;
	return h;
}

static struct hnode *table_next(struct hnode *h, uint64_t key)
{
	for (h = h->next; h && h->key != key; h = h->next)
		;
	return h;
}

static void table_insert(struct table *t, struct hnode *h)
{
	size_t s;

	if (t->count >= (size_t)1 << t->bits && t->bits < sizeof(size_t) * CHAR_BIT - 2)
		table_resize(t, t->bits + 1);
	s = table_slot(t, h->key);
	h->next = t->slots[s];
	t->slots[s] = h;
	t->count++;
}

static void table_remove(struct table *t, struct hnode *h)
{
	struct hnode **pp = &t->slots[table_slot(t, h->key)];

	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	t->count--;
	if (t->bits > TABLE_MIN_BITS && t->count < ((size_t)1 << t->bits) / 8)
		table_resize(t, t->bits - 1);
}

/* SipHash-1-3 of the EID texts, keyed per store. */

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
}

static uint64_t siphash13(const uint64_t key[2], const char *p, size_t len)
{
	uint64_t v[4] = { key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull,
			  key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull };
	uint64_t last = (uint64_t)len << 56;
	uint64_t m;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)(uint8_t)p[i + j] << (8 * j);
		sip_absorb(v, m);
	}
	for (j = 0; i + j < len; j++)
		last |= (uint64_t)(uint8_t)p[i + j] << (8 * j);
	sip_absorb(v, last);
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void hash_key_init(uint64_t key[2])
{
	struct timespec ts;

	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) == 2 * sizeof(key[0]))
		return;
	/* No entropy yet (early boot): weaker, but still not a constant. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)key;
	key[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
}

/* Intrusive lists; unlinking keeps the walk in progress on course. */

static void list_append(struct list *l, struct mem_bundle *b, enum link_kind k)
{
	b->links[k].prev = l->tail;
	b->links[k].next = NULL;
	if (l->tail)
		l->tail->links[k].next = b;
	else
		l->head = b;
	l->tail = b;
	l->count++;
}

static void list_unlink(struct mem_store *m, struct list *l, struct mem_bundle *b, enum link_kind k)
{
	struct link *lk = &b->links[k];

	if (m->walk && m->walk->kind == k && m->walk->next == b)
		m->walk->next = lk->next;
	if (lk->prev)
		lk->prev->links[k].next = lk->next;
	else
		l->head = lk->next;
	if (lk->next)
		lk->next->links[k].prev = lk->prev;
	else
		l->tail = lk->prev;
	l->count--;
}

/* Interned EID texts. */

static struct mem_eid *eid_find(struct mem_store *m, const char *text, size_t len, uint64_t hash)
{
	struct hnode *h;

	for (h = table_first(&m->eids, hash); h; h = table_next(h, hash)) {
		struct mem_eid *e = container_of(h, struct mem_eid, node);

		if (e->len == len && memcmp(e->text, text, len) == 0)
			return e;
	}
	return NULL;
}

static struct mem_eid *eid_lookup(struct mem_store *m, const char *text)
{
	size_t len = strlen(text);

	return eid_find(m, text, len, siphash13(m->hash_key, text, len));
}

/* A new reference to the interned copy of text (made if needed); NULL on ENOMEM. */
static struct mem_eid *eid_ref(struct mem_store *m, const char *text)
{
	size_t len = strlen(text);
	uint64_t hash = siphash13(m->hash_key, text, len);
	struct mem_eid *e = eid_find(m, text, len, hash);

	if (!e) {
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			return NULL;
		memcpy(e->text, text, len + 1);
		e->len = len;
		e->node.key = hash;
		table_insert(&m->eids, &e->node);
	}
	e->refs++;
	return e;
}

static void eid_unref(struct mem_store *m, struct mem_eid *e)
{
	if (--e->refs > 0)
		return;
	table_remove(&m->eids, &e->node);
	free(e);
}

/* Bundles. */

static struct mem_bundle *bundle_find(struct mem_store *m, uint64_t id)
{
	struct hnode *h = table_first(&m->ids, id);

	return h ? container_of(h, struct mem_bundle, node) : NULL;
}

static void bundle_move(struct mem_store *m, struct mem_bundle *b, enum store_state state)
{
	if (b->meta.state == state)
		return;
	list_unlink(m, &m->states[b->meta.state], b, LINK_STATE);
	list_append(&m->states[state], b, LINK_STATE);
	b->meta.state = state;
}

/* Take b out of every index, release its space and free it. */
static void bundle_free(struct mem_store *m, struct mem_bundle *b)
{
	table_remove(&m->ids, &b->node);
	list_unlink(m, &m->states[b->meta.state], b, LINK_STATE);
	list_unlink(m, &b->dest->bundles, b, LINK_DEST);
	m->bytes -= b->meta.size;
	eid_unref(m, b->dest);
	eid_unref(m, b->source);
	free(b);
}

/* Finish one pending put: it is in memory, so it is as safe as it will get. */
static void bundle_complete(struct mem_store *m, struct mem_bundle *b)
{
	store_done_fn *done = b->done;
	void *ctx = b->done_ctx;

	b->done = NULL;
	b->done_ctx = NULL;
	bundle_move(m, b, b->target);
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
	struct mem_store *m = container_of(w, struct mem_store, commit);
	struct list *pending = &m->states[STORE_STATE_PENDING];
	uint64_t n = pending->count;

	ev_prepare_stop(loop, &m->commit);
	ev_idle_stop(loop, &m->wake);
	while (n-- > 0)
		bundle_complete(m, pending->head);
}

/* Only there to make the loop poll without blocking; the commit does the work. */
static void mem_wake_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

static int quota_check(struct mem_store *m, size_t len)
{
	if (len > m->lim.max_bytes || len > SIZE_MAX - sizeof(struct mem_bundle))
		return -EMSGSIZE;
	if (len > m->lim.max_bytes - m->bytes || m->ids.count >= m->lim.max_bundles) {
		m->refused++;
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

static int segs_copy(uint8_t *dst, const struct store_seg *segs, size_t nsegs)
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

static void bundle_meta_init(struct mem_bundle *b, const struct store_put_req *req, size_t len,
			     uint64_t id)
{
	b->meta = (struct store_meta){
		.id = id,
		.dest = b->dest->text,
		.source = b->source->text,
		.creation_time = req->creation_time,
		.sequence = req->sequence,
		.is_fragment = req->is_fragment,
		.frag_offset = req->is_fragment ? req->frag_offset : 0,
		.frag_len = req->is_fragment ? req->frag_len : 0,
		.expiry = req->expiry,
		.size = len,
		.state = STORE_STATE_PENDING,
		.tag = req->tag,
	};
	b->target = req->state;
	b->visit = 0;
}

/* Index a new pending bundle and make sure the commit runs at the end of this turn. */
static void bundle_link(struct mem_store *m, struct mem_bundle *b)
{
	b->node.key = b->meta.id;
	table_insert(&m->ids, &b->node);
	list_append(&m->states[STORE_STATE_PENDING], b, LINK_STATE);
	list_append(&b->dest->bundles, b, LINK_DEST);
	m->bytes += b->meta.size;
	if (!ev_is_active(&m->commit)) {
		ev_prepare_start(m->loop, &m->commit);
		ev_idle_start(m->loop, &m->wake);
	}
}

static int mem_put(void *impl, const struct store_put_req *req, size_t len, store_done_fn *done,
		   void *ctx, uint64_t *ret_id)
{
	struct mem_store *m = impl;
	struct mem_bundle *b;
	int r;

	r = quota_check(m, len);
	if (r < 0)
		return r;
	b = malloc(sizeof(*b) + len);
	if (!b)
		return -ENOMEM;
	r = segs_copy(b->bytes, req->segs, req->nsegs);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	b->dest = eid_ref(m, req->dest);
	if (!b->dest)
		goto out_free;
	b->source = eid_ref(m, req->source);
	if (!b->source)
		goto out_unref_dest;
	bundle_meta_init(b, req, len, m->next_id++);
	b->done = done;
	b->done_ctx = ctx;
	bundle_link(m, b);
	*ret_id = b->meta.id;
	return 0;

out_unref_dest:
	eid_unref(m, b->dest);
out_free:
	free(b);
	return r;
}

static int mem_get(void *impl, uint64_t id, struct store_meta *ret)
{
	struct mem_bundle *b = bundle_find(impl, id);

	if (!b)
		return -ENOENT;
	*ret = b->meta;
	return 0;
}

static long mem_read(void *impl, uint64_t id, uint64_t offset, void *buf, size_t len)
{
	struct mem_bundle *b = bundle_find(impl, id);
	uint64_t n;

	if (!b)
		return -ENOENT;
	if (offset > b->meta.size)
		return -EINVAL;
	n = b->meta.size - offset;
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
	*ret_len = b->meta.size;
	return 0;
}

static int mem_set_state(void *impl, uint64_t id, enum store_state state, uint32_t tag)
{
	struct mem_bundle *b = bundle_find(impl, id);

	if (!b)
		return -ENOENT;
	bundle_move(impl, b, state);
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

/* Walks. */

static bool filter_match(const struct store_filter *f, const struct mem_bundle *b)
{
	if (f->states && !(f->states & STORE_STATE_BIT(b->meta.state)))
		return false;
	return !f->by_tag || b->meta.tag == f->tag;
}

/* Number a new walk; once in 2^32 walks, forget every old mark first. */
static void epoch_next(struct mem_store *m)
{
	struct mem_bundle *b;
	size_t st;

	if (++m->epoch != 0)
		return;
	for (st = 0; st < STORE_STATE_COUNT; st++)
		for (b = m->states[st].head; b; b = b->links[LINK_STATE].next)
			b->visit = 0;
	m->epoch = 1;
}

static int walk_list(struct mem_store *m, struct list *l, enum link_kind k,
		     const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct walk w = { .kind = k, .next = l->head };
	struct mem_bundle *b;
	int r = 0;

	m->walk = &w;
	while (r == 0 && (b = w.next)) {
		w.next = b->links[k].next;
		if (b->visit == m->epoch || !filter_match(f, b))
			continue;
		b->visit = m->epoch;
		r = fn(ctx, &b->meta); /* may free b, or w.next (which list_unlink then moves on) */
	}
	m->walk = NULL;
	return r;
}

static int mem_iterate(void *impl, const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct mem_store *m = impl;
	struct mem_eid *e;
	size_t st;
	int r;

	if (m->walk)
		return -EBUSY;
	epoch_next(m);
	if (f->dest) {
		e = eid_lookup(m, f->dest);
		return e ? walk_list(m, &e->bundles, LINK_DEST, f, fn, ctx) : 0;
	}
	for (st = 0; st < STORE_STATE_COUNT; st++) {
		if (f->states && !(f->states & STORE_STATE_BIT(st)))
			continue;
		r = walk_list(m, &m->states[st], LINK_STATE, f, fn, ctx);
		if (r != 0)
			return r;
	}
	return 0;
}

static void mem_stats(void *impl, struct store_stats *ret)
{
	struct mem_store *m = impl;
	size_t st;

	ret->bytes = m->bytes;
	ret->bundles = m->ids.count;
	ret->max_bytes = m->lim.max_bytes;
	ret->max_bundles = m->lim.max_bundles;
	for (st = 0; st < STORE_STATE_COUNT; st++)
		ret->by_state[st] = m->states[st].count;
	ret->refused = m->refused;
	ret->durable = false;
	ret->backend = "memory";
}

/* Also frees a half-built store from store_mem_new(). */
static void mem_free(void *impl)
{
	struct mem_store *m = impl;
	size_t st;

	ev_prepare_stop(m->loop, &m->commit);
	ev_idle_stop(m->loop, &m->wake);
	for (st = 0; st < STORE_STATE_COUNT; st++)
		while (m->states[st].head)
			bundle_free(m, m->states[st].head);
	table_clear(&m->ids);
	table_clear(&m->eids);
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
	hash_key_init(m->hash_key);
	if (table_init(&m->ids) < 0 || table_init(&m->eids) < 0)
		goto out_free;
	*ret = store_new(&mem_ops, m);
	if (!*ret)
		goto out_free;
	return 0;

out_free:
	mem_free(m);
	return -ENOMEM;
}
