/* SPDX-License-Identifier: MIT */
/* The store's index (store_index.h). */
#include "store_index.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* A table starts with 2^6 slots, doubles at one entry per slot, halves at 1/8. */
#define TABLE_MIN_BITS 6

/* An interned EID text, shared by every bundle that names it. */
struct sidx_eid {
	struct sidx_hnode node;	  /* key: keyed hash of the text */
	uint64_t refs;		  /* bundles naming it as destination or source */
	struct sidx_list bundles; /* bundles for this destination, in id order */
	size_t len;
	char text[];
};

/* The walk in progress: the bundle it visits next, kept right as bundles go. */
struct sidx_walk {
	enum sidx_link_kind kind;
	struct sidx_bundle *next;
};

/* Hash tables of intrusive nodes, collisions chained. */

static size_t table_slot(const struct sidx_table *t, uint64_t key)
{
	/* Fibonacci hashing: the top bits of key * 2^64 / phi. */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - t->bits));
}

static int table_init(struct sidx_table *t)
{
	t->bits = TABLE_MIN_BITS;
	t->count = 0;
	t->slots = calloc((size_t)1 << t->bits, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

static void table_clear(struct sidx_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Rehash into 2^bits slots; without memory keep the old ones (chains grow). */
static void table_resize(struct sidx_table *t, unsigned bits)
{
	struct sidx_hnode **old = t->slots;
	size_t n = (size_t)1 << t->bits;
	struct sidx_hnode *h;
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

static struct sidx_hnode *table_first(const struct sidx_table *t, uint64_t key)
{
	struct sidx_hnode *h = t->slots[table_slot(t, key)];

	while (h && h->key != key)
		h = h->next;
	return h;
}

static struct sidx_hnode *table_next(struct sidx_hnode *h, uint64_t key)
{
	for (h = h->next; h && h->key != key; h = h->next)
		;
	return h;
}

static void table_insert(struct sidx_table *t, struct sidx_hnode *h)
{
	size_t s;

	if (t->count >= (size_t)1 << t->bits && t->bits < sizeof(size_t) * CHAR_BIT - 2)
		table_resize(t, t->bits + 1);
	s = table_slot(t, h->key);
	h->next = t->slots[s];
	t->slots[s] = h;
	t->count++;
}

static void table_remove(struct sidx_table *t, struct sidx_hnode *h)
{
	struct sidx_hnode **pp = &t->slots[table_slot(t, h->key)];

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

static void list_append(struct sidx_list *l, struct sidx_bundle *b, enum sidx_link_kind k)
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

static void list_unlink(struct sidx *x, struct sidx_list *l, struct sidx_bundle *b,
			enum sidx_link_kind k)
{
	struct sidx_link *lk = &b->links[k];

	if (x->walk && x->walk->kind == k && x->walk->next == b)
		x->walk->next = lk->next;
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

static struct sidx_eid *eid_find(struct sidx *x, const char *text, size_t len, uint64_t hash)
{
	struct sidx_hnode *h;

	for (h = table_first(&x->eids, hash); h; h = table_next(h, hash)) {
		struct sidx_eid *e = sidx_container_of(h, struct sidx_eid, node);

		if (e->len == len && memcmp(e->text, text, len) == 0)
			return e;
	}
	return NULL;
}

static struct sidx_eid *eid_lookup(struct sidx *x, const char *text)
{
	size_t len = strlen(text);

	return eid_find(x, text, len, siphash13(x->hash_key, text, len));
}

/* A new reference to the interned copy of text (made if needed); NULL on ENOMEM. */
static struct sidx_eid *eid_ref(struct sidx *x, const char *text, size_t len)
{
	uint64_t hash = siphash13(x->hash_key, text, len);
	struct sidx_eid *e = eid_find(x, text, len, hash);

	if (!e) {
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			return NULL;
		memcpy(e->text, text, len);
		e->text[len] = '\0';
		e->len = len;
		e->node.key = hash;
		table_insert(&x->eids, &e->node);
	}
	e->refs++;
	return e;
}

static void eid_unref(struct sidx *x, struct sidx_eid *e)
{
	if (--e->refs > 0)
		return;
	table_remove(&x->eids, &e->node);
	free(e);
}

/* Walks. */

static bool filter_match(const struct store_filter *f, const struct sidx_bundle *b)
{
	if (f->states && !(f->states & STORE_STATE_BIT(b->meta.state)))
		return false;
	return !f->by_tag || b->meta.tag == f->tag;
}

/* Number a new walk; once in 2^32 walks, forget every old mark first. */
static void epoch_next(struct sidx *x)
{
	struct sidx_bundle *b;
	size_t st;

	if (++x->epoch != 0)
		return;
	for (st = 0; st < STORE_STATE_COUNT; st++)
		for (b = x->states[st].head; b; b = b->links[SIDX_LINK_STATE].next)
			b->visit = 0;
	x->epoch = 1;
}

static int walk_list(struct sidx *x, struct sidx_list *l, enum sidx_link_kind k,
		     const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct sidx_walk w = { .kind = k, .next = l->head };
	struct sidx_bundle *b;
	int r = 0;

	x->walk = &w;
	while (r == 0 && (b = w.next)) {
		w.next = b->links[k].next;
		if (b->visit == x->epoch || !filter_match(f, b))
			continue;
		b->visit = x->epoch;
		r = fn(ctx, &b->meta); /* may free b, or w.next (which list_unlink then moves on) */
	}
	x->walk = NULL;
	return r;
}

int sidx_iterate(struct sidx *x, const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct sidx_eid *e;
	size_t st;
	int r;

	if (x->walk)
		return -EBUSY;
	epoch_next(x);
	if (f->dest) {
		e = eid_lookup(x, f->dest);
		return e ? walk_list(x, &e->bundles, SIDX_LINK_DEST, f, fn, ctx) : 0;
	}
	for (st = 0; st < STORE_STATE_COUNT; st++) {
		if (f->states && !(f->states & STORE_STATE_BIT(st)))
			continue;
		r = walk_list(x, &x->states[st], SIDX_LINK_STATE, f, fn, ctx);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Index upkeep. */

int sidx_init(struct sidx *x)
{
	memset(x, 0, sizeof(*x));
	hash_key_init(x->hash_key);
	if (table_init(&x->ids) < 0 || table_init(&x->eids) < 0) {
		sidx_clear(x);
		return -ENOMEM;
	}
	return 0;
}

void sidx_clear(struct sidx *x)
{
	table_clear(&x->ids);
	table_clear(&x->eids);
}

struct sidx_bundle *sidx_find(struct sidx *x, uint64_t id)
{
	struct sidx_hnode *h = table_first(&x->ids, id);

	return h ? sidx_container_of(h, struct sidx_bundle, node) : NULL;
}

void sidx_meta_init(struct sidx_bundle *b, const struct store_put_req *req, uint64_t len,
		    uint64_t id)
{
	b->meta = (struct store_meta){
		.id = id,
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
	b->done = NULL;
	b->done_ctx = NULL;
}

int sidx_add(struct sidx *x, struct sidx_bundle *b, const char *dest, size_t dest_len,
	     const char *source, size_t source_len)
{
	b->dest = eid_ref(x, dest, dest_len);
	if (!b->dest)
		return -ENOMEM;
	b->source = eid_ref(x, source, source_len);
	if (!b->source) {
		eid_unref(x, b->dest);
		return -ENOMEM;
	}
	b->meta.dest = b->dest->text;
	b->meta.source = b->source->text;
	b->visit = 0;
	b->node.key = b->meta.id;
	table_insert(&x->ids, &b->node);
	list_append(&x->states[b->meta.state], b, SIDX_LINK_STATE);
	list_append(&b->dest->bundles, b, SIDX_LINK_DEST);
	x->bytes += b->meta.size;
	return 0;
}

void sidx_move(struct sidx *x, struct sidx_bundle *b, enum store_state state)
{
	if (b->meta.state == state)
		return;
	list_unlink(x, &x->states[b->meta.state], b, SIDX_LINK_STATE);
	list_append(&x->states[state], b, SIDX_LINK_STATE);
	b->meta.state = state;
}

void sidx_remove(struct sidx *x, struct sidx_bundle *b)
{
	table_remove(&x->ids, &b->node);
	list_unlink(x, &x->states[b->meta.state], b, SIDX_LINK_STATE);
	list_unlink(x, &b->dest->bundles, b, SIDX_LINK_DEST);
	x->bytes -= b->meta.size;
	eid_unref(x, b->dest);
	eid_unref(x, b->source);
	b->dest = b->source = NULL;
	b->meta.dest = b->meta.source = NULL;
}

/* Merge sort of one list by id (stable, O(n log n), no allocation). */
static struct sidx_bundle *merge(struct sidx_bundle *a, struct sidx_bundle *b,
				 enum sidx_link_kind k)
{
	struct sidx_bundle *head = NULL, **tail = &head;

	while (a && b) {
		struct sidx_bundle **p = a->meta.id <= b->meta.id ? &a : &b;

		*tail = *p;
		tail = &(*p)->links[k].next;
		*p = (*p)->links[k].next;
	}
	*tail = a ? a : b;
	return head;
}

static void list_sort(struct sidx_list *l, enum sidx_link_kind k)
{
	struct sidx_bundle *runs[64] = { 0 };
	struct sidx_bundle *b, *next, *prev = NULL;
	size_t i;

	/* Bottom-up: runs[i] holds a sorted run of 2^i bundles. */
	for (b = l->head; b; b = next) {
		next = b->links[k].next;
		b->links[k].next = NULL;
		for (i = 0; runs[i]; i++) {
			b = merge(runs[i], b, k);
			runs[i] = NULL;
		}
		runs[i] = b;
	}
	for (b = NULL, i = 0; i < 64; i++)
		if (runs[i])
			b = merge(runs[i], b, k);
	l->head = b;
	for (; b; prev = b, b = b->links[k].next)
		b->links[k].prev = prev;
	l->tail = prev;
}

void sidx_sort(struct sidx *x)
{
	struct sidx_eid *e;
	struct sidx_hnode *h;
	size_t i;

	for (i = 0; i < STORE_STATE_COUNT; i++)
		list_sort(&x->states[i], SIDX_LINK_STATE);
	for (i = 0; i < (size_t)1 << x->eids.bits; i++)
		for (h = x->eids.slots[i]; h; h = h->next) {
			e = sidx_container_of(h, struct sidx_eid, node);
			list_sort(&e->bundles, SIDX_LINK_DEST);
		}
}

void sidx_stats(const struct sidx *x, struct store_stats *ret)
{
	size_t st;

	ret->bytes = x->bytes;
	ret->bundles = x->ids.count;
	for (st = 0; st < STORE_STATE_COUNT; st++)
		ret->by_state[st] = x->states[st].count;
}

int sidx_get(struct sidx *x, uint64_t id, struct store_meta *ret)
{
	struct sidx_bundle *b = sidx_find(x, id);

	if (!b)
		return -ENOENT;
	*ret = b->meta;
	return 0;
}
