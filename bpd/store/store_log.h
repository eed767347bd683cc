/* SPDX-License-Identifier: MIT */
/*
 * The persistent store backend: an append-only log of segment files
 * (docs/store-format.md) in one directory, with group commit and recovery.
 * docs/store.md says what each sync policy promises and what it risks.
 *
 * Bundles stay in the files in their wire form; the memory holds only the
 * index (store_index.h), so memory does not grow with the bytes queued.
 * store_read_fd() works (a span of a segment file, for sendfile/splice);
 * store_peek() is -EOPNOTSUPP.
 */
#ifndef BPD_STORE_LOG_H
#define BPD_STORE_LOG_H

#include <ev.h>

#include "store.h"

/* When a group commit is made durable, and so when its puts are done. */
enum store_sync {
	/* fdatasync every group, then done: safe against power loss (the default). */
	STORE_SYNC_ALWAYS,
	/* done once written; fdatasync at most every batch_ms: power loss may lose that much. */
	STORE_SYNC_BATCH,
	/* done once written, never fdatasync: a crash of bpd loses nothing, power loss may. */
	STORE_SYNC_NONE,
};

struct store_log_opts {
	const char *dir; /* made if missing (mode 0700; its parent must exist) */
	struct store_limits lim;
	enum store_sync sync;
	unsigned batch_ms;	/* STORE_SYNC_BATCH: at most this long between syncs, >= 1 */
	uint64_t segment_bytes; /* a segment is closed once it holds this much, >= 4096 */
	unsigned compact_ms;	/* how often compaction looks (0: once a second) */
};

/* Default size of a segment file. */
#define STORE_LOG_SEGMENT_DEFAULT (64ull << 20)

/*
 * Open the log in o->dir, replaying what is there (recovery: the bundles
 * come back in state queued-local or forward, with tag 0), on loop, which
 * must outlive the store. Returns 0 and *ret; -EINVAL for bad options;
 * -EBUSY when another process holds the directory; -EPROTONOSUPPORT when a
 * segment is of another format version, -EBADMSG when an older segment's
 * header is damaged (both logged: an operator must look; nothing touched);
 * -ENOMEM; or the errno of a failed file operation. What recovery found and
 * dropped goes to the log (log.h).
 */
int store_log_new(struct ev_loop *loop, const struct store_log_opts *o, struct store **ret);

/* "always", "batch", "none". */
const char *store_sync_name(enum store_sync sync);

#endif
