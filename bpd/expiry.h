/* SPDX-License-Identifier: MIT */
/*
 * Bundle lifetimes (RFC 9171 5.5): a min-heap of (expiry, bundle id) and one
 * timer for the earliest, so that expired bundles are deleted on time
 * without a scan of the store per send. Times are DTN time (ms since
 * 2000-01-01 UTC, from CLOCK_REALTIME), as the store keeps them; the timer
 * re-reads the clock at least once a minute, so a clock step is followed.
 *
 * Entries are not removed when a bundle goes early (consumed, forwarded):
 * the owner checks at fire time whether the bundle is still there, and
 * rebuilds the heap from the store when stale entries outnumber live ones
 * (expiry_needs_rebuild), so memory stays bounded by the bundles stored.
 */
#ifndef BPD_EXPIRY_H
#define BPD_EXPIRY_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct expiry;

/* Called for each entry whose time has come, earliest first. */
typedef void expiry_fire_fn(void *ctx, uint64_t id);

struct expiry *expiry_new(struct ev_loop *loop, expiry_fire_fn *fire, void *ctx);
void expiry_free(struct expiry *e);

/* Watch bundle id, expiring at `when` (DTN ms). -ENOMEM, else 0. */
int expiry_add(struct expiry *e, uint64_t when, uint64_t id);
/* Forget every entry (before a rebuild). */
void expiry_clear(struct expiry *e);
size_t expiry_count(const struct expiry *e);
/* More than twice `live` entries (and a floor): time to rebuild from the store. */
bool expiry_needs_rebuild(const struct expiry *e, uint64_t live);

/* Unix time of the DTN epoch, 2000-01-01T00:00:00Z, in ms (RFC 9171 4.2.6). */
#define DTN_EPOCH_UNIX_MS 946684800000ull

/* DTN time now, ms. */
uint64_t expiry_now_ms(void);

#endif
