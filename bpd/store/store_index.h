/* SPDX-License-Identifier: MIT */
/*
 * The store's index, shared by its backends: every bundle's metadata, found
 * by id in a hash table, listed by state (in the order bundles entered it)
 * and by destination (in id order), with the walks of store_iterate(). It
 * knows nothing of where the bytes are: a backend embeds struct sidx_bundle
 * in its own bundle object and keeps the bytes (or their place) beside it.
 *
 * EID texts are interned (most bundles share a few) and hashed with keyed
 * SipHash-1-3, so a peer cannot choose colliding destinations. Add, find,
 * move and remove are O(1); a walk costs the bundles of the lists it reads.
 */
#ifndef BPD_STORE_INDEX_H
#define BPD_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define sidx_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct sidx_hnode {
	struct sidx_hnode *next;
	uint64_t key;
};

struct sidx_table {
	struct sidx_hnode **slots;
	unsigned bits;
	size_t count;
};

/* A bundle is on two lists: its state's and its destination's. */
enum sidx_link_kind {
	SIDX_LINK_STATE,
	SIDX_LINK_DEST,
};

struct sidx_bundle;

struct sidx_link {
	struct sidx_bundle *prev;
	struct sidx_bundle *next;
};

struct sidx_list {
	struct sidx_bundle *head;
	struct sidx_bundle *tail;
	uint64_t count;
};

struct sidx_eid;

/* The index's part of a bundle; the backend's object embeds it. */
struct sidx_bundle {
	struct sidx_hnode node;	   /* key: id */
	struct sidx_link links[2]; /* by enum sidx_link_kind */
	struct store_meta meta;	   /* dest and source point into the interned texts */
	struct sidx_eid *dest;
	struct sidx_eid *source;
	uint32_t visit;		 /* the walk that last visited it */
	enum store_state target; /* while pending: the state its put asked for */
	store_done_fn *done;	 /* while pending */
	void *done_ctx;
};

struct sidx_walk;

struct sidx {
	struct sidx_table ids;
	struct sidx_table eids;
	uint64_t hash_key[2]; /* random: peers choose EIDs, not their hash chains */
	struct sidx_list states[STORE_STATE_COUNT];
	uint64_t bytes;		/* meta.size of every bundle indexed */
	struct sidx_walk *walk; /* NULL when no walk is running */
	uint32_t epoch;		/* numbers walks, for struct sidx_bundle.visit */
};

/* An empty index: 0 or -ENOMEM. */
int sidx_init(struct sidx *x);
/* Free the index's own memory; the bundles must have been removed first. */
void sidx_clear(struct sidx *x);

struct sidx_bundle *sidx_find(struct sidx *x, uint64_t id);
/* Bundles indexed. */
static inline uint64_t sidx_count(const struct sidx *x)
{
	return x->ids.count;
}
/* The first bundle in state st (the one that entered it first), or NULL. */
static inline struct sidx_bundle *sidx_first(struct sidx *x, enum store_state st)
{
	return x->states[st].head;
}
/* The next bundle in b's state, or NULL. */
static inline struct sidx_bundle *sidx_next(const struct sidx_bundle *b)
{
	return b->links[SIDX_LINK_STATE].next;
}

/*
 * Fill b->meta for a new pending put of req (len bytes, id), leaving the
 * texts to sidx_add(); the put's target state goes to b->target.
 */
void sidx_meta_init(struct sidx_bundle *b, const struct store_put_req *req, uint64_t len,
		    uint64_t id);

/*
 * Index b: the caller filled b->meta (but dest and source, which are set
 * here), and the texts need no NUL (lengths given). b goes last on its
 * state's and destination's lists. 0, or -ENOMEM with nothing indexed.
 */
int sidx_add(struct sidx *x, struct sidx_bundle *b, const char *dest, size_t dest_len,
	     const char *source, size_t source_len);
/* Move b to state (last on that state's list; nothing if it is there already). */
void sidx_move(struct sidx *x, struct sidx_bundle *b, enum store_state state);
/* Take b out of the index (a walk in progress steps over it); b stays the caller's. */
void sidx_remove(struct sidx *x, struct sidx_bundle *b);
/*
 * Put every list in id order (after a recovery that indexed bundles out of
 * order). O(n log n); nothing else may run meanwhile.
 */
void sidx_sort(struct sidx *x);

/* store_iterate() on the index: the contract of store.h, filter never NULL. */
int sidx_iterate(struct sidx *x, const struct store_filter *f, store_iter_fn *fn, void *ctx);
/* Fill bytes, bundles and by_state of *ret. */
void sidx_stats(const struct sidx *x, struct store_stats *ret);

/*
 * The index's answers to the by-id store ops, for backends to use as they
 * are: get (store_get) and set_state (tag and state, the move already
 * checked by store.c).
 */
int sidx_get(struct sidx *x, uint64_t id, struct store_meta *ret);

#endif
