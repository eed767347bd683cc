/* SPDX-License-Identifier: MIT */
/*
 * The log backend against a model: the input is a program of store
 * operations (puts of varied sizes, deletes, state changes, loop turns,
 * compaction passes, and "crashes": the store's files copied as a killed
 * bpd would leave them, then opened). After every reopen the recovered
 * bundles must be exactly the model's, byte for byte and in the right state;
 * this is what compaction's pins and copies forward must never break.
 *
 * Segments are 4 KiB so that a few dozen puts roll several and compaction
 * has work. Sync "none": a crash here is a killed process, whose page cache
 * survives; test_store_log.c covers torn tails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BUNDLES 64
#define MAX_LEN 3000

struct model {
	uint64_t id; /* 0: free slot */
	uint32_t seed;
	size_t len;
	enum store_state state; /* as the log keeps it: queued-local or forward */
	bool pending;
};

static struct ev_loop *loop;
static struct store *s;
static struct model m[MAX_BUNDLES];
static char dirs[2][64];
static int cur;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_store_ops: %s\n", what);
		abort();
	}
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((seed + i * 2654435761u) >> 11);
}

static void on_done(void *ctx, uint64_t id, int status)
{
	struct model *b = ctx;

	check(status == 0 && b->id == id && b->pending,
	      "done for a bundle the model has not pending");
	b->pending = false;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[160];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/* A copy of the files as they are now: what a killed process leaves behind. */
static void copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;
	char a[160], b[160];
	struct stat st;

	check(d && mkdir(to, 0700) == 0, "copy dir");
	while ((e = readdir(d))) {
		int in, out;
		loff_t off = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		in = open(a, O_RDONLY);
		out = open(b, O_WRONLY | O_CREAT, 0600);
		check(in >= 0 && out >= 0 && fstat(in, &st) == 0, "copy file");
		while (off < st.st_size)
			check(copy_file_range(in, &off, out, NULL, (size_t)(st.st_size - off), 0) >
				      0,
			      "copy_file_range");
		close(in);
		close(out);
	}
	closedir(d);
}

static void open_store(void)
{
	struct store_log_opts o = {
		.dir = dirs[cur],
		.lim = { .max_bytes = 1 << 20, .max_bundles = MAX_BUNDLES },
		.sync = STORE_SYNC_NONE,
		.segment_bytes = 4096,
		.compact_ms = 1,
	};

	check(store_log_new(loop, &o, &s) == 0, "open");
}

/* The store holds exactly the model's bundles. */
static void compare(void)
{
	static uint8_t want[MAX_LEN], got[MAX_LEN];
	struct store_stats st;
	struct store_meta meta;
	uint64_t n = 0;

	for (int i = 0; i < MAX_BUNDLES; i++) {
		if (!m[i].id)
			continue;
		n++;
		check(store_get(s, m[i].id, &meta) == 0, "a bundle is missing");
		check(meta.size == m[i].len, "size");
		check(meta.state == m[i].state, "state");
		fill(want, m[i].len, m[i].seed);
		check(store_read(s, m[i].id, 0, got, sizeof(got)) == (long)m[i].len, "read");
		check(memcmp(want, got, m[i].len) == 0, "bytes");
	}
	check(store_stats(s, &st) == 0 && st.bundles == n, "a deleted bundle came back");
}

/* Kill and restart: copy the files, drop the store, open the copy. */
static void crash(void)
{
	int next = !cur;

	rm_dir(dirs[next]);
	copy_dir(dirs[cur], dirs[next]);
	store_free(s);
	rm_dir(dirs[cur]);
	cur = next;
	open_store();
	compare();
}

static struct model *pick(uint8_t k, bool settled)
{
	for (int i = 0; i < MAX_BUNDLES; i++) {
		struct model *b = &m[(k + i) % MAX_BUNDLES];

		if (b->id && (!settled || !b->pending))
			return b;
	}
	return NULL;
}

static void turn(void)
{
	ev_run(loop, EVRUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[MAX_LEN];
	struct model *b;
	uint32_t seed = 1;

	if (!loop) {
		loop = ev_default_loop(0);
		log_set_level(LOG_LEVEL_ERR);
		snprintf(dirs[0], sizeof(dirs[0]), "/tmp/fuzz_store_ops.%d.a", (int)getpid());
		snprintf(dirs[1], sizeof(dirs[1]), "/tmp/fuzz_store_ops.%d.b", (int)getpid());
	}
	rm_dir(dirs[0]);
	rm_dir(dirs[1]);
	cur = 0;
	memset(m, 0, sizeof(m));
	open_store();
	for (size_t i = 0; i + 1 < size && size < 4096; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];

		switch (op % 8) {
		case 0:
		case 1:
		case 2: { /* put */
			struct store_seg seg = { .ptr = buf,
						 .fd = -1,
						 .len = 1 + (arg * 11u) % MAX_LEN };
			struct store_put_req req = {
				.dest = op & 8 ? "ipn:2.1" : "ipn:3.7",
				.source = "ipn:1.1",
				.expiry = STORE_EXPIRY_NEVER,
				.state = op & 16 ? STORE_STATE_FORWARD : STORE_STATE_QUEUED_LOCAL,
				.segs = &seg,
				.nsegs = 1,
			};
			uint64_t id;

			for (b = m; b < m + MAX_BUNDLES && b->id; b++)
				;
			if (b == m + MAX_BUNDLES)
				break;
			fill(buf, seg.len, ++seed);
			if (store_put(s, &req, on_done, b, &id) != 0)
				break;
			*b = (struct model){ .id = id,
					     .seed = seed,
					     .len = seg.len,
					     .state = req.state,
					     .pending = true };
			break;
		}
		case 3: /* delete */
			b = pick(arg, true);
			if (b) {
				check(store_delete(s, b->id) == 0, "delete");
				b->id = 0;
			}
			break;
		case 4: { /* move: forward <-> queued-local, or out to an app or a link and back */
			static const enum store_state to[] = { STORE_STATE_QUEUED_LOCAL,
							       STORE_STATE_FORWARD,
							       STORE_STATE_DELIVERED,
							       STORE_STATE_IN_TRANSIT };
			struct store_meta meta;
			enum store_state st = to[arg % 4];

			b = pick(arg >> 2, true);
			if (!b || store_get(s, b->id, &meta) < 0 ||
			    !store_state_move_ok(meta.state, st))
				break;
			check(store_set_state(s, b->id, st, 0) == 0, "set_state");
			b->state = st == STORE_STATE_DELIVERED	? STORE_STATE_QUEUED_LOCAL :
				   st == STORE_STATE_IN_TRANSIT ? STORE_STATE_FORWARD :
								  st;
			break;
		}
		case 5:
			turn();
			break;
		case 6: /* let compaction run (its timer is 1 ms here) */
			turn();
			usleep(1100);
			turn();
			turn(); /* copies forward become a group, then durable */
			break;
		case 7:
			turn(); /* what is acknowledged and deleted is in the log */
			crash();
			break;
		}
	}
	turn();
	crash();
	store_free(s);
	s = NULL;
	rm_dir(dirs[0]);
	rm_dir(dirs[1]);
	return 0;
}
