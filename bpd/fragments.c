/* SPDX-License-Identifier: MIT */
/* Fragmentation and reassembly through the store: see fragments.h. */
#include "fragments.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "encode.h"
#include "fragment.h"
#include "log.h"
#include "store.h"

#define EID_TEXT_MAX 1100
#define NBUCKETS 256

/* A split under way: the fragments being stored. */
struct split_op {
	struct split_op *prev, *next;
	struct fragments *f;
	uint64_t id; /* the original */
	uint64_t expiry;
	size_t pending;
	int status; /* the first failure */
	size_t n;
	uint64_t ids[]; /* the fragments put (0: that put failed at once) */
};

/* A stored fragment of an ADU for this node. */
struct piece {
	uint64_t id, offset, len;
};

/* The fragments of one ADU (RFC 9171 5.9: same source and creation timestamp). */
struct adu {
	struct adu *next; /* in its bucket */
	struct fragments *f;
	char *source, *dest;
	uint64_t creation_time, sequence;
	uint64_t total;	 /* total ADU length, from the first fragment decoded */
	uint64_t sum;	 /* of the pieces' lengths: no sweep before it reaches total */
	uint64_t expiry; /* the whole bundle's: its first fragment's */
	struct piece *pieces;
	size_t n, cap;
	bool storing; /* the whole is being stored */
	bool refused; /* too large, or inconsistent fragments: they wait and expire */
};

struct fragments {
	struct store *store;
	struct fragments_ops ops;
	void *ctx;
	struct split_op *splits;
	struct adu *buckets[NBUCKETS];
	size_t waiting;
};

struct fragments *fragments_new(struct store *store, const struct fragments_ops *ops, void *ctx)
{
	struct fragments *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->store = store;
	f->ops = *ops;
	f->ctx = ctx;
	return f;
}

static void adu_free(struct adu *u)
{
	free(u->source);
	free(u->dest);
	free(u->pieces);
	free(u);
}

void fragments_free(struct fragments *f)
{
	if (!f)
		return;
	while (f->splits) {
		struct split_op *op = f->splits;

		f->splits = op->next;
		free(op);
	}
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (f->buckets[i]) {
			struct adu *u = f->buckets[i];

			f->buckets[i] = u->next;
			adu_free(u);
		}
	}
	free(f);
}

/* Fragmentation (RFC 9171 5.8) */

static void split_end(struct split_op *op)
{
	struct fragments *f = op->f;

	if (op->prev)
		op->prev->next = op->next;
	else
		f->splits = op->next;
	if (op->next)
		op->next->prev = op->prev;
	if (op->status == 0) {
		/* Every fragment is durable: the original can go. */
		(void)store_delete(f->store, op->id);
	} else {
		for (size_t i = 0; i < op->n; i++)
			if (op->ids[i])
				(void)store_delete(f->store, op->ids[i]);
		(void)store_set_state(f->store, op->id, STORE_STATE_FORWARD, 0);
	}
	f->ops.split(f->ctx, op->id, op->status);
	free(op);
}

static void on_fragment_stored(void *ctx, uint64_t id, int status)
{
	struct split_op *op = ctx;

	if (status == 0) {
		op->f->ops.stored(op->f->ctx, id, op->expiry);
	} else {
		for (size_t i = 0; i < op->n; i++)
			if (op->ids[i] == id)
				op->ids[i] = 0; /* gone with its failure */
		if (op->status == 0)
			op->status = status;
	}
	if (--op->pending == 0)
		split_end(op);
}

/* Store fragments[0..n) of b for op; how many puts are pending. */
static void put_fragments(struct split_op *op, const struct store_meta *meta,
			  const struct bpv7_bundle *frags)
{
	for (size_t i = 0; i < op->n && op->status == 0; i++) {
		struct store_seg seg = { .fd = -1 };
		struct store_put_req put;
		uint8_t *wire;
		long len = bpv7_encode_alloc(&frags[i], &wire);
		int r;

		if (len < 0) {
			op->status = (int)len;
			break;
		}
		seg.ptr = wire;
		seg.len = (size_t)len;
		put = (struct store_put_req){
			.dest = meta->dest,
			.source = meta->source,
			.creation_time = meta->creation_time,
			.sequence = meta->sequence,
			.is_fragment = true,
			.frag_offset = frags[i].primary.frag_offset,
			.frag_len = bpv7_bundle_payload_const(&frags[i])->data_len,
			.expiry = meta->expiry,
			.state = STORE_STATE_FORWARD,
			.segs = &seg,
			.nsegs = 1,
		};
		r = store_put(op->f->store, &put, on_fragment_stored, op, &op->ids[i]);
		free(wire);
		if (r < 0) {
			op->ids[i] = 0;
			op->status = r;
		} else {
			op->pending++;
		}
	}
}

int fragments_split(struct fragments *f, uint64_t id, size_t max, size_t grow)
{
	struct bpv7_bundle *b = malloc(sizeof(*b)), *frags = NULL;
	struct split_op *op = NULL;
	struct store_meta meta;
	struct bpv7_error err;
	const uint8_t *p;
	uint8_t *copy = NULL;
	size_t *sizes = NULL, len;
	long n;
	int r;

	if (!b)
		return -ENOMEM;
	r = store_get(f->store, id, &meta);
	if (r == 0)
		r = store_load(f->store, id, &p, &len, &copy);
	if (r == 0 && bpv7_decode(p, len, 0, b, &err) < 0)
		r = -EBADMSG;
	n = r < 0 ? r : max > grow ? bpv7_fragment_plan(b, max - grow, NULL, 0) : -EMSGSIZE;
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	sizes = calloc((size_t)n, sizeof(*sizes));
	frags = calloc((size_t)n, sizeof(*frags));
	op = calloc(1, sizeof(*op) + (size_t)n * sizeof(op->ids[0]));
	if (!sizes || !frags || !op) {
		r = -ENOMEM;
		goto out;
	}
	(void)bpv7_fragment_plan(b, max - grow, sizes, (size_t)n);
	r = bpv7_fragment(b, sizes, (size_t)n, frags);
	if (r < 0)
		goto out;
	*op = (struct split_op){ .f = f, .id = id, .expiry = meta.expiry, .n = (size_t)n };
	put_fragments(op, &meta, frags);
	if (op->pending == 0) {
		r = op->status;
		goto out;
	}
	log_info("bundle %llu for %s: %zu bytes, split into %ld fragments of at most %zu",
		 (unsigned long long)id, meta.dest, len, n, max);
	(void)store_set_state(f->store, id, STORE_STATE_IN_TRANSIT, 0);
	op->next = f->splits;
	if (f->splits)
		f->splits->prev = op;
	f->splits = op;
	op = NULL;
	r = 0;
out:
	free(op);
	free(frags);
	free(sizes);
	free(copy);
	free(b);
	return r;
}

/* Reassembly (RFC 9171 5.9) */

static size_t bucket_of(uint64_t creation_time, uint64_t sequence)
{
	uint64_t h = creation_time * 0x9e3779b97f4a7c15ull ^ sequence * 0xc2b2ae3d27d4eb4full;

	return (size_t)(h >> 56) % NBUCKETS;
}

static struct adu **adu_find(struct fragments *f, const struct store_meta *m)
{
	struct adu **pp = &f->buckets[bucket_of(m->creation_time, m->sequence)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->creation_time == m->creation_time && (*pp)->sequence == m->sequence &&
		    strcmp((*pp)->source, m->source) == 0)
			return pp;
	return pp;
}

static int cmp_piece(const void *x, const void *y)
{
	const struct piece *a = x, *b = y;

	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Do the pieces cover [0, total)? */
static bool covered(struct adu *u)
{
	uint64_t end = 0;

	qsort(u->pieces, u->n, sizeof(u->pieces[0]), cmp_piece);
	for (size_t i = 0; i < u->n && u->pieces[i].offset <= end; i++)
		if (u->pieces[i].offset + u->pieces[i].len > end)
			end = u->pieces[i].offset + u->pieces[i].len;
	return end >= u->total;
}

static void adu_remove(struct adu *u)
{
	struct adu **pp = &u->f->buckets[bucket_of(u->creation_time, u->sequence)];

	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	u->f->waiting -= u->n;
	adu_free(u);
}

static void drop_piece(struct adu *u, size_t i)
{
	u->sum -= u->pieces[i].len;
	u->pieces[i] = u->pieces[--u->n];
	u->f->waiting--;
}

static void on_whole_stored(void *ctx, uint64_t id, int status)
{
	struct adu *u = ctx;
	struct fragments *f = u->f;

	u->storing = false;
	if (status < 0) {
		log_warn("a bundle from %s reassembled but not stored (%s): its fragments wait",
			 u->source, strerror(-status));
		return;
	}
	for (size_t i = 0; i < u->n; i++)
		(void)store_delete(f->store, u->pieces[i].id);
	log_info("bundle %llu for %s: reassembled from %zu fragments", (unsigned long long)id,
		 u->dest, u->n);
	f->ops.stored(f->ctx, id, u->expiry);
	f->ops.whole(f->ctx, id, u->dest);
	adu_remove(u);
}

/* Build the whole bundle from the pieces and store it. */
static int reassemble(struct adu *u)
{
	struct fragments *f = u->f;
	struct bpv7_bundle *frags = calloc(u->n, sizeof(*frags));
	uint8_t **copies = calloc(u->n, sizeof(*copies));
	struct store_seg seg = { .fd = -1 };
	struct store_put_req put;
	struct bpv7_error err;
	uint8_t *whole = NULL;
	uint64_t id;
	long len = -ENOMEM;
	size_t i;
	int r = 0;

	for (i = 0; frags && copies && i < u->n; i++) {
		const uint8_t *p;
		size_t plen;

		r = store_load(f->store, u->pieces[i].id, &p, &plen, &copies[i]);
		if (r == 0 && bpv7_decode(p, plen, 0, &frags[i], &err) < 0)
			r = -EBADMSG;
		if (r < 0)
			break;
	}
	if (frags && copies && i == u->n)
		len = bpv7_reassemble(frags, u->n, &whole);
	for (size_t j = 0; copies && j < u->n; j++)
		free(copies[j]);
	free(copies);
	free(frags);
	if (r < 0) {
		drop_piece(u, i); /* unreadable: it waits for another copy */
		return r;
	}
	if (len < 0) {
		if (len == -EINVAL) {
			log_warn("fragments from %s do not make one bundle: left to expire",
				 u->source);
			u->refused = true;
		}
		return (int)len;
	}
	seg.ptr = whole;
	seg.len = (size_t)len;
	put = (struct store_put_req){
		.dest = u->dest,
		.source = u->source,
		.creation_time = u->creation_time,
		.sequence = u->sequence,
		.expiry = u->expiry,
		.state = STORE_STATE_QUEUED_LOCAL,
		.segs = &seg,
		.nsegs = 1,
	};
	r = store_put(f->store, &put, on_whole_stored, u, &id);
	free(whole);
	if (r == 0)
		u->storing = true;
	return r;
}

/* A new ADU entry for fragment m: its total length comes from decoding it. */
static struct adu *adu_new(struct fragments *f, const struct store_meta *m)
{
	struct adu *u = calloc(1, sizeof(*u));
	struct bpv7_bundle *b = malloc(sizeof(*b));
	struct bpv7_error err;
	const uint8_t *p;
	uint8_t *copy = NULL;
	size_t len;
	int r = -ENOMEM;

	if (u && b)
		r = store_load(f->store, m->id, &p, &len, &copy);
	if (r == 0 && bpv7_decode(p, len, 0, b, &err) < 0)
		r = -EBADMSG;
	if (r == 0) {
		u->f = f;
		u->total = b->primary.total_adu_len;
		u->creation_time = m->creation_time;
		u->sequence = m->sequence;
		u->expiry = m->expiry;
		u->source = strdup(m->source);
		u->dest = strdup(m->dest);
		u->refused = u->total > FRAGMENTS_REASSEMBLY_MAX;
		if (u->refused)
			log_warn("a bundle from %s of %llu bytes is too large to reassemble "
				 "(at most %u): its fragments wait and expire",
				 m->source, (unsigned long long)u->total, FRAGMENTS_REASSEMBLY_MAX);
	}
	free(copy);
	free(b);
	if (r < 0 || !u->source || !u->dest) {
		if (u)
			adu_free(u);
		return NULL;
	}
	return u;
}

int fragments_add(struct fragments *f, uint64_t id)
{
	struct store_meta m;
	struct adu **pp, *u;
	int r = store_get(f->store, id, &m);

	if (r < 0)
		return r;
	if (!m.is_fragment)
		return -EINVAL;
	pp = adu_find(f, &m);
	u = *pp;
	if (!u) {
		u = adu_new(f, &m);
		if (!u)
			return -ENOMEM;
		*pp = u;
	}
	for (size_t i = 0; i < u->n; i++)
		if (u->pieces[i].id == id)
			return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 8;
		struct piece *p = realloc(u->pieces, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		u->pieces = p;
		u->cap = cap;
	}
	if (m.frag_offset == 0)
		u->expiry = m.expiry;
	u->pieces[u->n++] = (struct piece){ id, m.frag_offset, m.frag_len };
	u->sum += m.frag_len;
	f->waiting++;
	if (u->storing || u->refused || u->sum < u->total || !covered(u))
		return 0;
	return reassemble(u);
}

void fragments_forget(struct fragments *f, uint64_t id)
{
	struct store_meta m;
	struct adu *u;

	if (store_get(f->store, id, &m) < 0 || !m.is_fragment)
		return;
	u = *adu_find(f, &m);
	for (size_t i = 0; u && i < u->n; i++) {
		if (u->pieces[i].id != id)
			continue;
		drop_piece(u, i);
		if (u->n == 0 && !u->storing)
			adu_remove(u);
		return;
	}
}

size_t fragments_waiting(const struct fragments *f)
{
	return f->waiting;
}
