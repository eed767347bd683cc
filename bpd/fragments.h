/* SPDX-License-Identifier: MIT */
/*
 * Fragments in the store: proactive fragmentation of a stored bundle too
 * large for its link (RFC 9171 5.8), and reassembly of the fragments of a
 * bundle for this node (5.9).
 *
 * Both go through the store, so that nothing is held only in memory: a
 * split stores every fragment (state forward), then deletes the original;
 * a reassembly stores the whole bundle (state queued-local), then deletes
 * its fragments. A crash in between leaves both forms stored, which costs
 * a duplicate at worst (fragments overlap harmlessly at reassembly).
 */
#ifndef BPD_FRAGMENTS_H
#define BPD_FRAGMENTS_H

#include <stddef.h>
#include <stdint.h>

struct fragments;
struct store;

/* The largest ADU reassembled (it is built in memory): bigger ones wait and expire. */
#define FRAGMENTS_REASSEMBLY_MAX (256u << 20)

struct fragments_ops {
	/* Bundle id (a fragment, or a reassembled whole) is durable: watch its lifetime. */
	void (*stored)(void *ctx, uint64_t id, uint64_t expiry);
	/*
	 * The split of id ended: 0, it is gone and its fragments wait in
	 * state forward; else -errno, and it is back in state forward.
	 */
	void (*split)(void *ctx, uint64_t id, int status);
	/* A whole bundle for dest was reassembled and stored as id (queued-local). */
	void (*whole)(void *ctx, uint64_t id, const char *dest);
};

struct fragments *fragments_new(struct store *store, const struct fragments_ops *ops, void *ctx);
/* Drops what is under way (the loop has stopped; the store is freed after). */
void fragments_free(struct fragments *f);

/*
 * Replace stored bundle id (state forward or in-transit) by fragments
 * whose encodings, grown by `grow` bytes each when forwarded, fit in max
 * bytes. The bundle moves to in-transit meanwhile. Returns 0 (ops->split
 * will answer), -EPERM when it must not be fragmented, -EMSGSIZE when no
 * fragment can be that small, or another -errno (ops->split will not be
 * called for these).
 */
int fragments_split(struct fragments *f, uint64_t id, size_t max, size_t grow);

/*
 * Fragment id for this node is stored (state queued-local): once the
 * fragments of its ADU cover it whole, the whole bundle is stored and
 * ops->whole called. Returns 0, or -errno (it waits for a later chance).
 */
int fragments_add(struct fragments *f, uint64_t id);
/* Fragment id was deleted (expired): forget it. */
void fragments_forget(struct fragments *f, uint64_t id);
/* Fragments waiting for the rest of their ADU, for bpctl. */
size_t fragments_waiting(const struct fragments *f);

#endif
