/* SPDX-License-Identifier: MIT */
/*
 * The bundle store: where the agent keeps every bundle it has accepted until
 * the bundle is delivered, forwarded or deleted (RFC 9171 5.10-5.11: a bundle
 * stays while it has retention constraints). docs/store.md has the contract.
 *
 * Bundles are kept in their encoded wire form, with the metadata the agent
 * needs without reading those bytes. The handle is opaque; a backend (the
 * in-memory one in store_mem.h, the persistent log of issue 4) sits behind a
 * vtable. The contract is the durable one whatever the backend:
 *
 * - store_put() returns an id at once, but the bundle is safe only when its
 *   done callback reports status 0. That callback runs from the event loop,
 *   at the end of a loop turn (an ev_prepare watcher), never from inside
 *   store_put(), and dones come in put order. Acknowledge nothing (a send
 *   reply, a transfer ack) before it.
 * - Deletes and state changes take effect at once; a backend makes them
 *   durable with a later commit. After a crash a bundle may come back in an
 *   earlier state (so delivery is at least once), but a bundle whose done
 *   reported 0 never vanishes unless it was deleted.
 * - Space is bounded by the quota given at open: a put over it fails with
 *   -ENOBUFS and changes nothing; deleting frees the space.
 *
 * Everything here runs on the loop thread; nothing is thread-safe.
 */
#ifndef BPD_STORE_H
#define BPD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

/* Longest EID text, NUL included: "dtn:" + a 1024-byte SSP (BP_EID_DTN_SSP_MAX). */
#define STORE_EID_TEXT_MAX 1040
/* Most pieces one put may gather a bundle from. */
#define STORE_PUT_MAX_SEGS 8
/* An expiry time meaning "never". */
#define STORE_EXPIRY_NEVER UINT64_MAX

/*
 * Where a bundle is in its life. The values are kept by the persistent log:
 * never renumber them. docs/store.md draws the state machine.
 */
enum store_state {
	/* Put accepted, not yet durable; the store moves it on before done. */
	STORE_STATE_PENDING = 0,
	/* For a local endpoint, waiting for a binding (RFC 9171 5.7 step 2). */
	STORE_STATE_QUEUED_LOCAL = 1,
	/* Handed to an application, waiting for it to be consumed. */
	STORE_STATE_DELIVERED = 2,
	/* Waiting for a convergence layer: no link, route or contact yet (5.4). */
	STORE_STATE_FORWARD = 3,
	/* Handed to a convergence layer, waiting for the transfer's outcome. */
	STORE_STATE_IN_TRANSIT = 4,
};
#define STORE_STATE_COUNT 5
/* A state as a bit of struct store_filter.states. */
#define STORE_STATE_BIT(st) (1u << (st))

/*
 * What the store knows of a bundle without reading its bytes. The strings
 * belong to the store and stay valid until the bundle is deleted (or the
 * store freed).
 */
struct store_meta {
	uint64_t id;	    /* assigned by the store, never 0, not reused while bpd runs */
	const char *dest;   /* destination EID text */
	const char *source; /* source node ID text */
	/* Identity (RFC 9171 4.2.7, 4.3.1): source, creation timestamp, fragment. */
	uint64_t creation_time; /* DTN time: ms since 2000-01-01 00:00 UTC */
	uint64_t sequence;
	bool is_fragment;
	uint64_t frag_offset; /* only with is_fragment */
	uint64_t frag_len;    /* payload length, only with is_fragment */
	/*
	 * Absolute expiry in DTN time (ms since 2000-01-01 00:00 UTC, read
	 * from CLOCK_REALTIME), so that it means the same after a restart;
	 * STORE_EXPIRY_NEVER for none. The agent computes it (RFC 9171 5.5).
	 */
	uint64_t expiry;
	uint64_t size; /* encoded length in bytes */
	enum store_state state;
	/*
	 * The agent's: which binding or link holds the bundle. Opaque to the
	 * store and not kept across a restart (recovery sets it to 0).
	 */
	uint32_t tag;
};

/*
 * One piece of an encoded bundle: ptr bytes in memory, or (ptr NULL) bytes
 * [offset, offset + len) of fd, which must support pread (a file or memfd).
 */
struct store_seg {
	const void *ptr;
	int fd;
	off_t offset;
	size_t len;
};

struct store_put_req {
	const char *dest;   /* NUL-terminated, shorter than STORE_EID_TEXT_MAX */
	const char *source; /* likewise */
	uint64_t creation_time;
	uint64_t sequence;
	bool is_fragment;
	uint64_t frag_offset;
	uint64_t frag_len;
	uint64_t expiry;
	/* The state it takes when durable: STORE_STATE_QUEUED_LOCAL or _FORWARD. */
	enum store_state state;
	uint32_t tag;
	/* The encoded bundle is the concatenation of the segments, not empty. */
	const struct store_seg *segs;
	size_t nsegs; /* 1..STORE_PUT_MAX_SEGS */
};

/* Which bundles store_iterate() visits. A zeroed filter matches every bundle. */
struct store_filter {
	uint32_t states;  /* STORE_STATE_BIT()s; 0 = any state */
	const char *dest; /* only bundles for this EID text; NULL = any */
	bool by_tag;	  /* only bundles whose tag is `tag` */
	uint32_t tag;
};

/* Both limits must be at least 1. Memory for metadata is bounded by max_bundles. */
struct store_limits {
	uint64_t max_bytes;   /* encoded bytes of every bundle held, pending ones included */
	uint64_t max_bundles; /* bundles held, pending ones included */
};

struct store_stats {
	uint64_t bytes;
	uint64_t bundles;
	uint64_t max_bytes;
	uint64_t max_bundles;
	uint64_t by_state[STORE_STATE_COUNT];
	uint64_t refused;    /* puts refused with -ENOBUFS since open */
	bool durable;	     /* false: everything is lost when bpd stops */
	const char *backend; /* "memory", "log" */
	/* A persistent backend's (0 from the memory one): */
	const char *sync;    /* the sync policy: "always", "batch", "none" */
	uint64_t segments;   /* files holding the log */
	uint64_t disk_bytes; /* their bytes: live bundles and what compaction has yet to reclaim */
	uint64_t syncs;	     /* fdatasync calls since open */
	uint64_t commits;    /* group commits since open */
	uint64_t puts;	     /* puts accepted since open (bundles per sync: puts / syncs) */
	uint64_t recovered;  /* bundles found at open */
	double recovery_s;   /* how long the replay at open took */
	uint64_t dropped;    /* records the replay cut off: torn, unfinished or damaged */
	uint64_t dropped_bytes; /* and their bytes */
};

/* A bundle's bytes in a file, for sendfile/splice. fd belongs to the store. */
struct store_span {
	int fd;
	off_t offset;
	size_t len;
};

/*
 * status 0: the bundle is durable and in the state its put asked for. Another
 * -errno (-EIO, ...): it could not be made durable and is gone; its id is no
 * longer valid. The callback may use the store (put, delete, ...) but must not
 * free it.
 */
typedef void store_done_fn(void *ctx, uint64_t id, int status);
/*
 * Called for each bundle a walk visits; m is valid during the call. Return 0
 * to go on, anything else to stop the walk with that value.
 */
typedef int store_iter_fn(void *ctx, const struct store_meta *m);

/*
 * Accept a bundle. Returns 0 with *ret_id set and done pending; or, with
 * nothing stored and done never called: -ENOBUFS when the quota has no room
 * now, -EMSGSIZE when the bundle is bigger than the whole byte quota,
 * -EINVAL for a bad request (or a file shorter than its segment), -ENOMEM,
 * or the errno of reading an fd. The store copies what it needs: req, its
 * strings and memory segments are the caller's again on return. The store
 * may read fd segments until done is called, so their bytes must not change
 * until then; the fds stay the caller's (the store dups one it keeps).
 */
int store_put(struct store *s, const struct store_put_req *req, store_done_fn *done, void *ctx,
	      uint64_t *ret_id);

/* Metadata of bundle id, copied to *ret (its strings stay the store's). -ENOENT if unknown. */
int store_get(struct store *s, uint64_t id, struct store_meta *ret);

/*
 * Copy up to len bytes of bundle id, from byte offset, into buf. Returns the
 * count copied (0 at the end), -ENOENT, or -EINVAL when offset is past the end.
 */
long store_read(struct store *s, uint64_t id, uint64_t offset, void *buf, size_t len);

/*
 * Where the bytes of bundle id lie in a file, for sendfile/splice: the fd is
 * the store's, valid until the bundle is deleted; dup it to keep it longer.
 * -EOPNOTSUPP from a backend that keeps bundles in memory (use store_read or
 * store_peek).
 */
int store_read_fd(struct store *s, uint64_t id, struct store_span *ret);

/*
 * The bytes of bundle id in memory, without a copy: valid until the bundle is
 * deleted. -EOPNOTSUPP from a backend that keeps bundles in files (use
 * store_read or store_read_fd).
 */
int store_peek(struct store *s, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len);

/*
 * The whole bundle, however the backend keeps it: its own bytes (peek,
 * *ret_copy NULL) or a malloc'd copy (read) that the caller frees.
 */
int store_load(struct store *s, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len,
	       uint8_t **ret_copy);

/*
 * Move bundle id to state with tag (the same state just changes the tag).
 * The moves allowed are drawn in docs/store.md; any other is -EINVAL. -EBUSY
 * while the bundle is pending (wait for its done), -ENOENT if unknown.
 */
int store_set_state(struct store *s, uint64_t id, enum store_state state, uint32_t tag);

/*
 * Delete bundle id and free its space (RFC 9171 5.11). -EBUSY while the bundle
 * is pending, -ENOENT if unknown.
 */
int store_delete(struct store *s, uint64_t id);

/*
 * Call fn for each bundle that matches filter (NULL: every bundle), at most
 * once each. With filter->dest, bundles come in id order (the order they were
 * put: RFC 9171 5.7's "least recently received" first); otherwise state by
 * state, each in the order bundles entered it. fn may delete or change the
 * state of any bundle, and put new ones (which the walk may or may not
 * visit), but not start another walk (-EBUSY) or free the store. Returns 0
 * after the last bundle, or fn's non-zero value.
 */
int store_iterate(struct store *s, const struct store_filter *filter, store_iter_fn *fn, void *ctx);

/* Fill *ret with the current figures. */
int store_stats(struct store *s, struct store_stats *ret);

/*
 * Close the store and free everything it holds; accepts NULL. Puts still
 * pending are dropped without calling their done: their contexts are the
 * caller's to free.
 */
void store_free(struct store *s);

/* "pending", "queued-local", ... (for logs and bpctl); "?" for a bad value. */
const char *store_state_name(enum store_state state);

/*
 * Backend interface: only store backends use what follows. store.c checks
 * every argument, the state machine and re-entrancy rules it can see before
 * calling an op; ops keep the rest of the contract above. impl is the
 * backend's own object.
 */
struct store_ops {
	/* len is the segments' total, already checked to be at least 1. */
	int (*put)(void *impl, const struct store_put_req *req, size_t len, store_done_fn *done,
		   void *ctx, uint64_t *ret_id);
	int (*get)(void *impl, uint64_t id, struct store_meta *ret);
	long (*read)(void *impl, uint64_t id, uint64_t offset, void *buf, size_t len);
	/* read_fd and peek may be NULL: store.c then answers -EOPNOTSUPP. */
	int (*read_fd)(void *impl, uint64_t id, struct store_span *ret);
	int (*peek)(void *impl, uint64_t id, const uint8_t **ret_ptr, size_t *ret_len);
	/* The bundle is not pending and the move fits the state machine (store.c checked). */
	int (*set_state)(void *impl, uint64_t id, enum store_state state, uint32_t tag);
	/* The bundle is not pending (store.c checked). */
	int (*remove)(void *impl, uint64_t id);
	/* filter is never NULL here. */
	int (*iterate)(void *impl, const struct store_filter *filter, store_iter_fn *fn, void *ctx);
	void (*stats)(void *impl, struct store_stats *ret);
	void (*free)(void *impl);
};

/*
 * Wrap a backend object in a store handle. Returns NULL on ENOMEM, and impl
 * then stays the caller's; on success the store owns it (store_free() calls
 * ops->free).
 */
struct store *store_new(const struct store_ops *ops, void *impl);

/*
 * May a put of len more bytes go in, with bytes and bundles held now?
 * 0; -EMSGSIZE when len is over the whole byte quota; -ENOBUFS (and
 * *refused counts it) when there is no room now.
 */
int store_quota_check(const struct store_limits *lim, uint64_t bytes, uint64_t bundles,
		      uint64_t len, uint64_t *refused);

/*
 * Copy the put's segments to dst, in order (dst holds their total). 0, -errno
 * of pread, or -EINVAL when a file ends before its segment does.
 */
int store_segs_copy(uint8_t *dst, const struct store_seg *segs, size_t nsegs);

/* 0 if the limits are usable, -EINVAL if not. */
int store_limits_check(const struct store_limits *lim);

/* May a bundle in state from be moved to state to by the agent? */
bool store_state_move_ok(enum store_state from, enum store_state to);

#endif
