/* SPDX-License-Identifier: MIT */
/*
 * The in-memory store backend: bundles and metadata in RAM, nothing on disk,
 * everything lost when bpd stops (issue 4's log replaces it). "Durable" here
 * means "in memory"; its done callbacks still run from the loop, at the end
 * of the turn, so callers are written for a backend that takes longer.
 * store_peek() works; store_read_fd() is -EOPNOTSUPP.
 */
#ifndef BPD_STORE_MEM_H
#define BPD_STORE_MEM_H

#include <ev.h>

#include "store.h"

/*
 * Open an empty store on loop with the quota in *lim (copied). Returns 0 and
 * *ret (the caller's, for store_free()), -EINVAL for bad limits, -ENOMEM.
 * The loop must outlive the store.
 */
int store_mem_new(struct ev_loop *loop, const struct store_limits *lim, struct store **ret);

#endif
