/* SPDX-License-Identifier: MIT */
/*
 * The persistent store backend (store_log.h): segment files of records
 * (docs/store-format.md, logfmt.h), written by the loop thread through a
 * small buffer, made durable by one fdatasync per group commit on a helper
 * thread, replayed at open.
 *
 * Group commit. The records of a loop turn form one group. At the end of the
 * turn (ev_prepare) the group gets its COMMIT and, under sync "always", its
 * fdatasync goes to the sync thread while the loop serves the next turn.
 * Records written meanwhile wait, without their COMMIT, until that sync
 * returns (the format's rule 3); then the waiting puts are done (ev_async),
 * and the records written since form the next group at once. So a busy
 * store syncs back to back, and every sync carries all that arrived during
 * the previous one.
 *
 * Segments and compaction. A group never spans segments; a new segment is
 * started at a group boundary once the last sync returned (rule 4). Each
 * segment counts the live records in it: PUTs of bundles still stored and
 * the latest STATE of each. A segment with none is deleted, unless it holds
 * records that cancel records in an older segment that still exists (a
 * DELETE of a bundle put there, a PUT that moved a bundle out of it): those
 * would be needed again if the older one were replayed alone, so the newer
 * segment is pinned until the older one is gone. A mostly dead segment has
 * its live bundles copied forward (copy_file_range, in slices per loop turn)
 * so that one long-lived bundle does not keep a whole segment, and the
 * segments pinned by it, on the disk.
 */
#include "store_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logfmt.h"
#include "store_index.h"

/* Small records gather here and go out in one write per group. */
#define WBUF_CAP (256u << 10)
/* Compaction: look once a second; copy at most this much forward per loop turn. */
#define COMPACT_PERIOD_MS 1000
#define RELOCATE_SLICE_BYTES (8u << 20)
#define RELOCATE_SLICE_BUNDLES 4096u

struct log_seg;

/* A segment whose records cancel records in this one, and how many. */
struct log_pin {
	struct log_seg *seg;
	uint64_t n;
};

struct log_bundle;

struct log_seg {
	struct log_seg *prev, *next; /* in segment number order */
	uint64_t segno;
	int fd;
	uint64_t len;		/* bytes in the file, the write buffer's included */
	uint64_t live;		/* live PUTs here, and latest STATEs of live bundles */
	uint64_t live_bytes;	/* record bytes of the live PUTs */
	uint64_t pins;		/* records here that cancel records of older, existing segments */
	uint64_t moved_seq;	/* seq of the last record that copied a bundle out of it */
	struct log_pin *pinned; /* newer segments holding records that cancel this one's */
	size_t npinned, cappinned;
	struct log_bundle *bundles; /* whose PUT is here */
};

struct log_bundle {
	struct sidx_bundle ix;
	struct log_seg *seg;	   /* holds its PUT */
	struct log_seg *state_seg; /* holds its latest STATE, if newer than the PUT */
	struct log_bundle *seg_prev, *seg_next;
	uint64_t off;		  /* of its PUT in seg */
	uint32_t head_len;	  /* its bytes start at off + head_len */
	uint32_t data_crc;	  /* CRC-32C of its bytes */
	enum store_state durable; /* the state the log says: queued-local or forward */
};

/* A bundle copied forward in a group not yet durable: where it was before. */
struct log_moved {
	uint64_t id;
	uint64_t seq; /* of the copy's record */
	struct log_seg *seg;
	uint64_t off;
	uint32_t head_len;
};

struct log_store {
	struct ev_loop *loop;
	struct store_log_opts o;
	char *dir;
	int dirfd;
	struct sidx ix;
	struct log_seg *first, *active; /* oldest and newest segment */
	uint64_t nsegs;
	uint64_t next_seq;
	uint64_t next_id;

	/* Writes to the active segment: wbuf's bytes go at wbuf_off. */
	uint8_t *wbuf;
	size_t wlen;
	uint64_t wbuf_off;
	uint64_t group_records; /* records since the last COMMIT */
	uint64_t commit_len;	/* active segment's length at its last COMMIT */
	uint64_t last_commit_seq;
	int write_error;  /* of the open group: it fails at its commit */
	bool roll_failed; /* the last try to start a segment failed (warned once) */
	/*
	 * A group failed in the active segment: nothing is written to it again
	 * (its tail is unknown), and every group fails with broken_err until a
	 * new segment could be started.
	 */
	bool broken;
	int broken_err;
	uint64_t fails;		  /* failed groups since the last error logged */
	ev_tstamp fail_logged;	  /* when */
	unsigned compact_pause;	  /* compaction periods to skip after a failure */
	struct log_seg *unlinked; /* removed segments whose unlink is not yet durable */

	/* Puts: the first n_syncing pending bundles wait for the sync in flight. */
	uint64_t n_syncing;
	bool syncing;
	uint64_t syncing_seq; /* the COMMIT that sync makes durable */
	uint64_t syncing_len; /* and the active segment's length then */
	uint64_t durable_seq; /* every record up to this one is durable */
	bool dirty;	      /* STORE_SYNC_BATCH: written since the last sync */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync_fd;	 /* -1: nothing asked */
	int sync_result; /* 1: not back yet */
	bool quit;
	ev_async sync_back;

	ev_prepare commit;
	ev_timer batch;
	ev_timer compact;
	struct log_seg *moving;	 /* being copied forward */
	struct log_moved *moved; /* copies not yet durable, in seq order */
	size_t nmoved, capmoved;

	uint64_t refused, syncs, commits, puts, recovered, dropped, dropped_bytes;
	double recovery_s;
};

static struct log_bundle *log_bundle_of(struct sidx_bundle *b)
{
	return b ? sidx_container_of(b, struct log_bundle, ix) : NULL;
}

static struct log_bundle *bundle_find(struct log_store *ls, uint64_t id)
{
	return log_bundle_of(sidx_find(&ls->ix, id));
}

const char *store_sync_name(enum store_sync sync)
{
	switch (sync) {
	case STORE_SYNC_ALWAYS:
		return "always";
	case STORE_SYNC_BATCH:
		return "batch";
	case STORE_SYNC_NONE:
		return "none";
	}
	return "?";
}

/* The log only knows queued-local and forward: the rest is the running process's. */
static enum store_state durable_state(enum store_state st)
{
	switch (st) {
	case STORE_STATE_DELIVERED:
		return STORE_STATE_QUEUED_LOCAL;
	case STORE_STATE_IN_TRANSIT:
		return STORE_STATE_FORWARD;
	default:
		return st;
	}
}

static uint64_t dtn_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	/* 946684800: 2000-01-01 00:00 UTC in Unix time */
	if (ts.tv_sec < 946684800)
		return 0;
	return (uint64_t)(ts.tv_sec - 946684800) * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* File I/O, retried on EINTR and short counts. */

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL; /* the file ends before the range does */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Copy len bytes from in_fd at in_off to out_fd at out_off inside the
 * kernel: copy_file_range (a reflink or an in-kernel copy on the same file
 * system), else sendfile (a memfd into a file: the kernel splices the
 * pages), else through a buffer.
 */
static int copy_range(int in_fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len)
{
	static uint8_t buf[64 << 10];
	loff_t ioff = (loff_t)in_off, ooff = (loff_t)out_off;
	off_t soff;
	ssize_t n;
	size_t chunk;
	int r;

	while (len > 0) {
		n = copy_file_range(in_fd, &ioff, out_fd, &ooff, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len -= (uint64_t)n;
	}
	if (len > 0 && lseek(out_fd, ooff, SEEK_SET) == ooff) {
		soff = ioff;
		while (len > 0) {
			n = sendfile(out_fd, in_fd, &soff, len > (1u << 30) ? (1u << 30) : len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len -= (uint64_t)n;
			ooff += n;
		}
		ioff = soff;
	}
	while (len > 0) {
		chunk = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		r = pread_all(in_fd, buf, chunk, (uint64_t)ioff);
		if (r == 0)
			r = pwrite_all(out_fd, buf, chunk, (uint64_t)ooff);
		if (r < 0)
			return r;
		ioff += (loff_t)chunk;
		ooff += (loff_t)chunk;
		len -= chunk;
	}
	return 0;
}

/* CRC-32C of bytes [off, off + len) of fd, read through a mapping (or a buffer). */
static int fd_crc(int fd, uint64_t off, uint64_t len, uint32_t *reg)
{
	static uint8_t buf[64 << 10];
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t base = off - off % page;
	size_t maplen = (size_t)(off - base + len);
	uint8_t *map;
	size_t chunk;
	int r;

	struct stat stbuf;
	int seals = fcntl(fd, F_GET_SEALS);

	/*
	 * Map only a file that cannot shrink (a sealed memfd: an app's payload),
	 * checked to be long enough: touching a page past its end is SIGBUS.
	 */
	map = seals >= 0 && (seals & F_SEAL_SHRINK) ?
		      mmap(NULL, maplen, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)base) :
		      MAP_FAILED;
	if (map != MAP_FAILED) {
		r = fstat(fd, &stbuf) == 0 && (uint64_t)stbuf.st_size >= off + len ? 0 : -EINVAL;
		if (r == 0)
			*reg = logfmt_crc_update(*reg, map + (off - base), (size_t)len);
		munmap(map, maplen);
		return r;
	}
	while (len > 0) {
		chunk = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		r = pread_all(fd, buf, chunk, off);
		if (r < 0)
			return r;
		*reg = logfmt_crc_update(*reg, buf, chunk);
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* The sync thread: fdatasync whatever fd the loop hands it, one at a time. */

static void *sync_main(void *arg)
{
	struct log_store *ls = arg;
	int fd, r;

	pthread_mutex_lock(&ls->mu);
	for (;;) {
		while (ls->sync_fd < 0 && !ls->quit)
			pthread_cond_wait(&ls->cv, &ls->mu);
		if (ls->quit)
			break;
		fd = ls->sync_fd;
		pthread_mutex_unlock(&ls->mu);
		r = fdatasync(fd) < 0 ? -errno : 0;
		pthread_mutex_lock(&ls->mu);
		ls->sync_fd = -1;
		ls->sync_result = r;
		ev_async_send(ls->loop, &ls->sync_back);
	}
	pthread_mutex_unlock(&ls->mu);
	return NULL;
}

static void sync_start(struct log_store *ls)
{
	ls->syncing = true;
	ls->syncing_seq = ls->last_commit_seq;
	ls->syncing_len = ls->active->len;
	pthread_mutex_lock(&ls->mu);
	ls->sync_result = 1;
	ls->sync_fd = ls->active->fd;
	pthread_cond_signal(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
}

/* Segments. */

static int seg_path(const struct log_store *ls, uint64_t segno, char *buf, size_t cap)
{
	char name[LOGFMT_SEGMENT_NAME_LEN];

	(void)logfmt_segment_name(name, sizeof(name), segno);
	return snprintf(buf, cap, "%s/%s", ls->dir, name) < (int)cap ? 0 : -ENAMETOOLONG;
}

static struct log_seg *seg_new(struct log_store *ls, uint64_t segno, int fd)
{
	struct log_seg *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->segno = segno;
	g->fd = fd;
	g->prev = ls->active;
	if (ls->active)
		ls->active->next = g;
	else
		ls->first = g;
	ls->active = g;
	ls->nsegs++;
	return g;
}

/* Remember that newer segment k holds a record cancelling one of g's. */
static void seg_pin(struct log_seg *g, struct log_seg *k)
{
	struct log_pin *p;
	size_t cap;

	if (g == k)
		return;
	k->pins++;
	if (g->npinned > 0 && g->pinned[g->npinned - 1].seg == k) {
		g->pinned[g->npinned - 1].n++;
		return;
	}
	if (g->npinned == g->cappinned) {
		cap = g->cappinned ? g->cappinned * 2 : 4;
		p = realloc(g->pinned, cap * sizeof(*p));
		if (!p) {
			/* Keep k pinned for good rather than forget why: safe, only wasteful. */
			return;
		}
		g->pinned = p;
		g->cappinned = cap;
	}
	g->pinned[g->npinned++] = (struct log_pin){ .seg = k, .n = 1 };
}

static void seg_link_bundle(struct log_seg *g, struct log_bundle *b)
{
	b->seg = g;
	b->seg_prev = NULL;
	b->seg_next = g->bundles;
	if (g->bundles)
		g->bundles->seg_prev = b;
	g->bundles = b;
}

static void seg_unlink_bundle(struct log_bundle *b)
{
	if (b->seg_prev)
		b->seg_prev->seg_next = b->seg_next;
	else
		b->seg->bundles = b->seg_next;
	if (b->seg_next)
		b->seg_next->seg_prev = b->seg_prev;
	b->seg_prev = b->seg_next = NULL;
}

static uint64_t record_len(const struct log_bundle *b)
{
	return b->head_len + b->ix.meta.size;
}

/* b's PUT record is no longer live where it is (deleted or moved on). */
static void bundle_leave(struct log_bundle *b)
{
	b->seg->live--;
	b->seg->live_bytes -= record_len(b);
	seg_unlink_bundle(b);
	if (b->state_seg) {
		b->state_seg->live--;
		b->state_seg = NULL;
	}
}

/* b's PUT record is now at off in g. */
static void bundle_enter(struct log_bundle *b, struct log_seg *g, uint64_t off)
{
	b->off = off;
	seg_link_bundle(g, b);
	g->live++;
	g->live_bytes += record_len(b);
}

static void bundle_set_state_seg(struct log_bundle *b, struct log_seg *g)
{
	if (b->state_seg)
		b->state_seg->live--;
	b->state_seg = g;
	g->live++;
}

/* Writing the active segment. */

static int wbuf_flush(struct log_store *ls)
{
	int r;

	if (ls->wlen == 0)
		return 0;
	r = pwrite_all(ls->active->fd, ls->wbuf, ls->wlen, ls->wbuf_off);
	ls->wbuf_off += ls->wlen;
	ls->wlen = 0;
	return r;
}

/* Append bytes to the active segment (through the buffer unless large). */
static void log_append(struct log_store *ls, const void *p, size_t len)
{
	int r;

	ls->active->len += len;
	if (ls->write_error)
		return;
	/* In file order: what is buffered goes first, before a large piece or when full. */
	if (len >= WBUF_CAP / 2 || len > WBUF_CAP - ls->wlen) {
		r = wbuf_flush(ls);
		if (r < 0) {
			ls->write_error = r;
			return;
		}
	}
	if (len >= WBUF_CAP / 2) {
		r = pwrite_all(ls->active->fd, p, len, ls->wbuf_off);
		ls->wbuf_off += len;
		if (r < 0)
			ls->write_error = r;
		return;
	}
	memcpy(ls->wbuf + ls->wlen, p, len);
	ls->wlen += len;
}

/* Append len bytes of in_fd from in_off, inside the kernel. */
static void log_append_fd(struct log_store *ls, int in_fd, uint64_t in_off, uint64_t len)
{
	int r;

	ls->active->len += len;
	if (ls->write_error)
		return;
	r = wbuf_flush(ls);
	if (r == 0)
		r = copy_range(in_fd, in_off, ls->active->fd, ls->wbuf_off, len);
	ls->wbuf_off += len;
	if (r < 0)
		ls->write_error = r;
}

/* Make sure bytes of the active segment before end are in the file, for reading. */
static int log_readable(struct log_store *ls, const struct log_seg *g, uint64_t end)
{
	int r;

	if (g != ls->active || end <= ls->wbuf_off)
		return 0;
	r = wbuf_flush(ls);
	if (r < 0 && !ls->write_error)
		ls->write_error = r;
	return r;
}

static int fsync_dir(struct log_store *ls)
{
	if (ls->o.sync == STORE_SYNC_NONE)
		return 0;
	return fsync(ls->dirfd) < 0 ? -errno : 0;
}

/*
 * Start segment segno at the next seq (rule 4: the last group's sync has
 * returned): header, fdatasync, directory fsync. Then it is the active one.
 */
static int seg_create(struct log_store *ls, uint64_t segno)
{
	uint8_t hdr[LOGFMT_SEGMENT_HDR_LEN];
	char path[PATH_MAX];
	struct log_seg *g = NULL;
	int fd, r;

	r = seg_path(ls, segno, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	(void)logfmt_segment_header(hdr, sizeof(hdr),
				    &(struct logfmt_segment){ .segno = segno,
							      .first_seq = ls->next_seq,
							      .created = dtn_now_ms() });
	r = pwrite_all(fd, hdr, sizeof(hdr), 0);
	if (r == 0 && ls->o.sync != STORE_SYNC_NONE && fdatasync(fd) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir(ls);
	if (r == 0 && !(g = seg_new(ls, segno, fd)))
		r = -ENOMEM;
	if (r < 0) {
		close(fd);
		(void)unlink(path);
		return r;
	}
	g->len = sizeof(hdr);
	ls->wbuf_off = g->len;
	ls->commit_len = g->len;
	return 0;
}

static void moved_forget(struct log_store *ls);

/* After a failure: go on in a new segment if one can be started now. */
static void seg_replace(struct log_store *ls)
{
	if (seg_create(ls, ls->active->segno + 1) == 0)
		ls->broken = false;
}

/* Roll to a new segment when the active one is full and the rules allow it. */
static void maybe_roll(struct log_store *ls)
{
	int r;

	if (ls->active->len < ls->o.segment_bytes || ls->syncing || ls->group_records > 0 ||
	    ls->write_error || ls->wlen > 0)
		return;
	/* batch: what was acknowledged in the old segment gets its sync before we leave it. */
	if (ls->o.sync == STORE_SYNC_BATCH && ls->dirty) {
		ls->syncs++;
		if (fdatasync(ls->active->fd) < 0) {
			log_err("store: fdatasync of segment %" PRIu64 " in %s: %s; acknowledged "
				"bundles may be lost on power loss",
				ls->active->segno, ls->dir, strerror(errno));
		} else {
			ls->dirty = false;
			ls->durable_seq = ls->last_commit_seq;
			moved_forget(ls);
		}
	}
	r = seg_create(ls, ls->active->segno + 1);
	if (r < 0 && !ls->roll_failed)
		log_warn("store: cannot start segment %" PRIu64
			 " in %s: %s (going on in the full one)",
			 ls->active->segno + 1, ls->dir, strerror(-r));
	ls->roll_failed = r < 0;
}

/* Open a group if none is: make sure the commit runs at the end of this turn. */
static void group_touch(struct log_store *ls)
{
	if (ls->group_records == 0 && ls->broken)
		seg_replace(ls);
	else if (ls->group_records == 0)
		maybe_roll(ls);
	if (ls->broken && !ls->write_error)
		ls->write_error = ls->broken_err;
	ls->group_records++;
	if (!ev_is_active(&ls->commit))
		ev_prepare_start(ls->loop, &ls->commit);
}

static void log_small(struct log_store *ls, const uint8_t *rec, int len)
{
	group_touch(ls);
	log_append(ls, rec, (size_t)len);
	ls->next_seq++;
}

/* The head of b's PUT record, in the state the log knows, into head: its length or -EINVAL. */
static int put_head(const struct log_store *ls, const struct log_bundle *b, uint8_t *head)
{
	const struct store_meta *m = &b->ix.meta;
	struct logfmt_bundle lb = {
		.id = m->id,
		.dest = m->dest,
		.dest_len = strlen(m->dest),
		.source = m->source,
		.source_len = strlen(m->source),
		.creation_time = m->creation_time,
		.sequence = m->sequence,
		.is_fragment = m->is_fragment,
		.frag_offset = m->frag_offset,
		.frag_len = m->frag_len,
		.expiry = m->expiry,
		.state = b->durable,
	};

	return logfmt_put_head(head, LOGFMT_HEAD_MAX, ls->next_seq, &lb, m->size, b->data_crc);
}

/* The PUT record of b, its bytes taken from the request's segments. */
static void log_put(struct log_store *ls, struct log_bundle *b, const struct store_put_req *req)
{
	uint8_t head[LOGFMT_HEAD_MAX];
	int n;
	size_t i;

	group_touch(ls);
	n = put_head(ls, b, head);
	if (n < 0) {
		/* The agent's fields broke the format's bounds: the group fails. */
		ls->write_error = n;
		bundle_enter(b, ls->active, ls->active->len);
		return;
	}
	b->head_len = (uint32_t)n;
	bundle_enter(b, ls->active, ls->active->len);
	log_append(ls, head, (size_t)n);
	for (i = 0; i < req->nsegs; i++) {
		const struct store_seg *g = &req->segs[i];

		if (g->ptr)
			log_append(ls, g->ptr, g->len);
		else
			log_append_fd(ls, g->fd, (uint64_t)g->offset, g->len);
	}
	ls->next_seq++;
}

/* Finishing groups. */

/* Copies forward up to durable_seq are safe: forget where the bundles were. */
static void moved_forget(struct log_store *ls)
{
	size_t i = 0;

	while (i < ls->nmoved && ls->moved[i].seq <= ls->durable_seq)
		i++;
	if (i == 0)
		return;
	memmove(ls->moved, ls->moved + i, (ls->nmoved - i) * sizeof(*ls->moved));
	ls->nmoved -= i;
}

/* The copies forward beyond keep_len are gone: point their bundles back. */
static void moved_restore(struct log_store *ls, uint64_t keep_len)
{
	struct log_bundle *b;
	size_t i;

	for (i = 0; i < ls->nmoved; i++) {
		struct log_moved *mv = &ls->moved[i];

		b = bundle_find(ls, mv->id);
		if (!b || b->seg != ls->active || b->off < keep_len)
			continue;
		bundle_leave(b);
		b->head_len = mv->head_len;
		bundle_enter(b, mv->seg, mv->off);
	}
	ls->nmoved = 0;
	ls->moving = NULL;
}

/* Finish the first n pending puts: status 0 moves them to their state. */
static void puts_finish(struct log_store *ls, uint64_t n, int status)
{
	struct sidx_bundle *b;
	store_done_fn *done;
	void *ctx;

	while (n-- > 0 && (b = sidx_first(&ls->ix, STORE_STATE_PENDING))) {
		struct log_bundle *lb = log_bundle_of(b);
		uint64_t id = b->meta.id;

		done = b->done;
		ctx = b->done_ctx;
		b->done = NULL;
		b->done_ctx = NULL;
		if (status == 0) {
			sidx_move(&ls->ix, b, b->target);
		} else {
			bundle_leave(lb);
			sidx_remove(&ls->ix, b);
			free(lb);
		}
		done(ctx, id, status); /* may put, move or delete */
	}
}

static int group_status(int err)
{
	/* A full disk is a full store to the sender (ENOBUFS); the rest is an I/O error. */
	return err == -ENOSPC || err == -EDQUOT ? -ENOBUFS : -EIO;
}

/*
 * The group being written failed (or the sync of the one before it did):
 * fail every put still pending, cut the segment back to what was last made
 * durable and go on in a fresh segment, since the page cache of this one can
 * no longer be trusted (a failed fdatasync may have dropped dirty pages).
 * Deletes and state changes of the lost groups may come back after a crash:
 * delivery stays at least once.
 */
static void groups_fail(struct log_store *ls, int err, uint64_t keep_len)
{
	struct log_seg *g = ls->active;
	uint64_t n = ls->ix.states[STORE_STATE_PENDING].count;
	static const uint8_t zeros[LOGFMT_REC_HDR_LEN];

	ls->fails++;
	if (ev_now(ls->loop) - ls->fail_logged >= 10.0) {
		log_err("store: writing %s/seg-%016" PRIx64 ".log failed: %s; %" PRIu64
			" bundles not stored (%" PRIu64 " failed group commits since the last "
			"message)",
			ls->dir, g->segno, strerror(-err), n, ls->fails);
		ls->fail_logged = ev_now(ls->loop);
		ls->fails = 0;
	}
	ls->wlen = 0;
	ls->write_error = 0;
	ls->group_records = 0;
	ls->n_syncing = 0;
	/*
	 * Cut the failed groups off for good, or at least break the first
	 * record's magic, so that a later replay never brings back a put that
	 * was reported failed.
	 */
	if (!ls->broken && g->len > keep_len &&
	    (ftruncate(g->fd, (off_t)keep_len) < 0 ||
	     (ls->o.sync != STORE_SYNC_NONE && fdatasync(g->fd) < 0)) &&
	    (pwrite_all(g->fd, zeros, sizeof(zeros), keep_len) < 0 ||
	     (ls->o.sync != STORE_SYNC_NONE && fdatasync(g->fd) < 0)))
		log_err("store: cannot cut the failed records off %s/seg-%016" PRIx64
			".log: they may come back after a restart",
			ls->dir, g->segno);
	g->len = keep_len;
	ls->wbuf_off = keep_len;
	ls->commit_len = keep_len;
	moved_restore(ls, keep_len);
	ls->compact_pause = 30;
	/* Never write after a failure in this segment again: a new one, when it can be made. */
	ls->broken = true;
	ls->broken_err = err;
	seg_replace(ls);
	puts_finish(ls, n, group_status(err)); /* their callbacks write to the new segment */
}

/* The end of a loop turn: the records written in it become a group. */
/* Write the open group's COMMIT and everything buffered. false: the groups failed. */
static bool commit_write(struct log_store *ls)
{
	uint8_t rec[LOGFMT_REC_HDR_LEN];
	int r;

	if (!ls->write_error) {
		r = logfmt_commit(rec, sizeof(rec), ls->next_seq);
		log_append(ls, rec, (size_t)r);
		ls->last_commit_seq = ls->next_seq++;
	}
	if (!ls->write_error)
		ls->write_error = wbuf_flush(ls);
	if (ls->write_error) {
		groups_fail(ls, ls->write_error, ls->commit_len);
		return false;
	}
	ls->commits++;
	ls->group_records = 0;
	return true;
}

static void group_commit(struct log_store *ls)
{
	uint64_t n;

	if (ls->group_records == 0 || ls->syncing || !commit_write(ls))
		return;
	n = ls->ix.states[STORE_STATE_PENDING].count;
	if (ls->o.sync == STORE_SYNC_ALWAYS) {
		ls->n_syncing = n;
		sync_start(ls);
		return;
	}
	/* batch, none: done on write; the page cache survives a killed bpd */
	ls->commit_len = ls->active->len;
	if (ls->o.sync == STORE_SYNC_NONE) {
		ls->durable_seq = ls->last_commit_seq; /* as durable as "none" gets */
		moved_forget(ls);
	}
	ls->dirty = true;
	if (ls->o.sync == STORE_SYNC_BATCH && !ev_is_active(&ls->batch))
		ev_timer_start(ls->loop, &ls->batch);
	puts_finish(ls, n, 0);
}

/*
 * Under "always", a busy store has a group open whenever a sync returns, so
 * a full segment never sees the quiet moment rule 4 asks for. Close it here,
 * once per segment: commit the group written during the last sync and sync
 * it on the loop thread, then start the next segment.
 */
static void close_full_segment(struct log_store *ls)
{
	uint64_t n = ls->ix.states[STORE_STATE_PENDING].count;
	int r;

	if (ls->o.sync != STORE_SYNC_ALWAYS || ls->syncing || ls->group_records == 0 ||
	    ls->active->len < ls->o.segment_bytes || !commit_write(ls))
		return;
	r = fdatasync(ls->active->fd) < 0 ? -errno : 0;
	ls->syncs++;
	if (r < 0) {
		groups_fail(ls, r, ls->commit_len);
		return;
	}
	ls->commit_len = ls->active->len;
	ls->durable_seq = ls->last_commit_seq;
	moved_forget(ls);
	maybe_roll(ls); /* before the dones, whose puts go to the new segment */
	puts_finish(ls, n, 0);
}

/* A sync came back. */
static void sync_back_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct log_store *ls = sidx_container_of(w, struct log_store, sync_back);
	int r;

	pthread_mutex_lock(&ls->mu);
	r = ls->sync_result;
	pthread_mutex_unlock(&ls->mu);
	if (r == 1 || !ls->syncing)
		return;
	ls->syncing = false;
	ls->syncs++;
	if (r < 0) {
		groups_fail(ls, r, ls->commit_len);
		return;
	}
	ls->durable_seq = ls->syncing_seq;
	moved_forget(ls);
	if (ls->o.sync == STORE_SYNC_ALWAYS) {
		ls->commit_len = ls->syncing_len;
		puts_finish(ls, ls->n_syncing, 0);
		ls->n_syncing = 0;
	}
	close_full_segment(ls);
	/* What arrived during the sync is the next group (the loop may block next). */
	group_commit(ls);
	if (!ls->syncing)
		maybe_roll(ls);
}

static void batch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct log_store *ls = sidx_container_of(w, struct log_store, batch);

	if (!ls->dirty) {
		ev_timer_stop(loop, w);
		return;
	}
	if (ls->syncing)
		return;
	ls->dirty = false;
	sync_start(ls);
}

/* Compaction. */

/* Copy b's PUT forward into the active segment (same id and bytes, current state). */
static void bundle_move_forward(struct log_store *ls, struct log_bundle *b)
{
	uint8_t head[LOGFMT_HEAD_MAX];
	const struct store_meta *m = &b->ix.meta;
	struct log_seg *from = b->seg;
	uint64_t from_off = b->off + b->head_len;
	int n;

	group_touch(ls);
	n = put_head(ls, b, head);
	if (n < 0) {
		ls->write_error = n;
		return;
	}
	if (ls->nmoved == ls->capmoved) {
		size_t cap = ls->capmoved ? ls->capmoved * 2 : 256;
		struct log_moved *v = realloc(ls->moved, cap * sizeof(*v));

		if (!v) {
			ls->moving = NULL; /* try again later */
			return;
		}
		ls->moved = v;
		ls->capmoved = cap;
	}
	ls->moved[ls->nmoved++] = (struct log_moved){ .id = m->id,
						      .seq = ls->next_seq,
						      .seg = from,
						      .off = b->off,
						      .head_len = b->head_len };
	from->moved_seq = ls->next_seq;
	bundle_leave(b);
	b->head_len = (uint32_t)n;
	seg_pin(from, ls->active);
	bundle_enter(b, ls->active, ls->active->len);
	log_append(ls, head, (size_t)n);
	log_append_fd(ls, from->fd, from_off, m->size);
	ls->next_seq++;
}

/* Rewrite forward the latest STATE of each bundle that has it in segment ctx. */
struct state_walk {
	struct log_store *ls;
	struct log_seg *g;
};

static int state_forward(void *ctx, const struct store_meta *m)
{
	struct state_walk *sw = ctx;
	struct log_store *ls = sw->ls;
	struct log_bundle *b = bundle_find(ls, m->id);
	uint8_t rec[LOGFMT_REC_HDR_LEN + LOGFMT_STATE_META_LEN];
	int n;

	if (!b || b->state_seg != sw->g || b->ix.meta.state == STORE_STATE_PENDING)
		return 0;
	n = logfmt_state(rec, sizeof(rec), ls->next_seq, m->id, b->durable);
	sw->g->moved_seq = ls->next_seq;
	log_small(ls, rec, n);
	bundle_set_state_seg(b, ls->active);
	return sw->g->live == 0;
}

/* Copy a slice of the segment being emptied forward (part of this turn's group). */
static void compact_slice(struct log_store *ls)
{
	struct log_seg *g = ls->moving;
	uint64_t bytes = 0, n = 0;

	if (!g->bundles && g->live > 0) {
		/* Only STATEs live here: one walk of the index rewrites them all. */
		struct state_walk sw = { .ls = ls, .g = g };

		if (sidx_iterate(&ls->ix, &(struct store_filter){ 0 }, state_forward, &sw) ==
		    -EBUSY)
			return; /* a walk is running (we are inside it): next turn */
		ls->moving = NULL;
		return;
	}

	while (g->bundles && bytes < RELOCATE_SLICE_BYTES && n < RELOCATE_SLICE_BUNDLES &&
	       !ls->write_error) {
		struct log_bundle *b = g->bundles;

		bytes += b->ix.meta.size;
		n++;
		bundle_move_forward(ls, b);
	}
	if (!g->bundles || ls->write_error)
		ls->moving = NULL;
}

static void seg_free(struct log_seg *g)
{
	if (g->fd >= 0)
		close(g->fd);
	free(g->pinned);
	free(g);
}

/* Free removed segments and the pins they held. */
static void segs_release(struct log_store *ls, struct log_seg *gone)
{
	struct log_seg *g;
	size_t i;

	while ((g = gone)) {
		gone = g->next;
		for (i = 0; i < g->npinned; i++)
			g->pinned[i].seg->pins -= g->pinned[i].n;
		if (ls->moving == g)
			ls->moving = NULL;
		seg_free(g);
	}
}

/*
 * Copy g's live records forward? When they are a small part of it (and it
 * is not small), when only STATEs live in it, or when it keeps more dead
 * bytes on disk through its pins than it holds itself.
 */
static bool compact_worth(const struct log_store *ls, const struct log_seg *g)
{
	uint64_t pinned_dead = 0;
	size_t i;

	if (g->live == 0)
		return false;
	if (g->live_bytes == 0)
		return true;
	if (g->live_bytes * 4 < g->len && g->len >= ls->o.segment_bytes / 2)
		return true;
	for (i = 0; i < g->npinned; i++)
		if (g->pinned[i].seg->live == 0)
			pinned_dead += g->pinned[i].seg->len;
	return pinned_dead > g->len;
}

static bool seg_removable(const struct log_store *ls, const struct log_seg *g)
{
	return g != ls->active && g->live == 0 && g->pins == 0 && g->moved_seq <= ls->durable_seq;
}

/*
 * Delete the segments nothing needs any more, then free the pins they held
 * (only once the deletions are durable: a segment pinned by a deleted one
 * must not go before it does). Then pick a mostly dead segment to empty.
 */
static void compact_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct log_store *ls = sidx_container_of(w, struct log_store, compact);
	struct log_seg *g, *next, *gone = NULL;
	char path[PATH_MAX];

	/* Segments unlinked last time whose directory fsync failed: try again first. */
	if (ls->unlinked && fsync_dir(ls) == 0) {
		gone = ls->unlinked;
		ls->unlinked = NULL;
		segs_release(ls, gone);
		gone = NULL;
	}
	for (g = ls->first; g && !ls->unlinked; g = next) {
		next = g->next;
		if (!seg_removable(ls, g) || seg_path(ls, g->segno, path, sizeof(path)) < 0)
			continue;
		if (unlink(path) < 0) {
			log_warn("store: cannot remove %s: %s", path, strerror(errno));
			continue;
		}
		if (g->prev)
			g->prev->next = g->next;
		else
			ls->first = g->next;
		g->next->prev = g->prev; /* never the active one: g->next exists */
		ls->nsegs--;
		g->next = gone;
		gone = g;
	}
	/* The segments they pinned may go only once these unlinks are durable. */
	if (gone && fsync_dir(ls) < 0) {
		log_warn("store: fsync of %s: %s (trying again)", ls->dir, strerror(errno));
		ls->unlinked = gone;
		gone = NULL;
	}
	segs_release(ls, gone);
	if (ls->compact_pause > 0) {
		ls->compact_pause--;
		return;
	}
	if (ls->moving)
		return;
	for (g = ls->first; g && g != ls->active; g = g->next) {
		if (compact_worth(ls, g)) {
			ls->moving = g;
			if (!ev_is_active(&ls->commit))
				ev_prepare_start(ls->loop, &ls->commit);
			break;
		}
	}
}

static void commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct log_store *ls = sidx_container_of(w, struct log_store, commit);

	if (ls->moving)
		compact_slice(ls);
	group_commit(ls);
	/* Stay on while something waits to be committed or copied forward. */
	if (ls->group_records == 0 && !ls->moving)
		ev_prepare_stop(loop, w);
}

/* The ops. */

static int log_put_op(void *impl, const struct store_put_req *req, size_t len, store_done_fn *done,
		      void *ctx, uint64_t *ret_id)
{
	struct log_store *ls = impl;
	struct log_bundle *b;
	uint32_t reg = LOGFMT_CRC_INIT;
	size_t i;
	int r;

	r = store_quota_check(&ls->o.lim, ls->ix.bytes, sidx_count(&ls->ix), len, &ls->refused);
	if (r < 0)
		return r;
	if (len > LOGFMT_DATA_MAX)
		return -EMSGSIZE;
	/* The data CRC goes in the head, before the bytes: read them once here. */
	for (i = 0; i < req->nsegs; i++) {
		const struct store_seg *g = &req->segs[i];

		if (g->ptr) {
			reg = logfmt_crc_update(reg, g->ptr, g->len);
			continue;
		}
		r = fd_crc(g->fd, (uint64_t)g->offset, g->len, &reg);
		if (r < 0)
			return r;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	sidx_meta_init(&b->ix, req, len, ls->next_id);
	r = sidx_add(&ls->ix, &b->ix, req->dest, strlen(req->dest), req->source,
		     strlen(req->source));
	if (r < 0) {
		free(b);
		return r;
	}
	ls->next_id++;
	ls->puts++;
	b->ix.done = done;
	b->ix.done_ctx = ctx;
	b->durable = req->state;
	b->data_crc = logfmt_crc_final(reg);
	log_put(ls, b, req);
	*ret_id = b->ix.meta.id;
	return 0;
}

static int log_get_op(void *impl, uint64_t id, struct store_meta *ret)
{
	struct log_store *ls = impl;

	return sidx_get(&ls->ix, id, ret);
}

static long log_read_op(void *impl, uint64_t id, uint64_t offset, void *buf, size_t len)
{
	struct log_store *ls = impl;
	struct log_bundle *b = bundle_find(ls, id);
	uint64_t n, at;
	int r;

	if (!b)
		return -ENOENT;
	if (offset > b->ix.meta.size)
		return -EINVAL;
	n = b->ix.meta.size - offset;
	if (n > len)
		n = len;
	if (n > LONG_MAX)
		n = LONG_MAX;
	at = b->off + b->head_len + offset;
	r = log_readable(ls, b->seg, at + n);
	if (r == 0 && n > 0)
		r = pread_all(b->seg->fd, buf, (size_t)n, at);
	return r < 0 ? r : (long)n;
}

static int log_read_fd_op(void *impl, uint64_t id, struct store_span *ret)
{
	struct log_store *ls = impl;
	struct log_bundle *b = bundle_find(ls, id);
	int r;

	if (!b)
		return -ENOENT;
	r = log_readable(ls, b->seg, b->off + record_len(b));
	if (r < 0)
		return r;
	*ret = (struct store_span){
		.fd = b->seg->fd,
		.offset = (off_t)(b->off + b->head_len),
		.len = (size_t)b->ix.meta.size,
	};
	return 0;
}

static int log_set_state_op(void *impl, uint64_t id, enum store_state state, uint32_t tag)
{
	struct log_store *ls = impl;
	struct log_bundle *b = bundle_find(ls, id);
	uint8_t rec[LOGFMT_REC_HDR_LEN + LOGFMT_STATE_META_LEN];
	enum store_state d = durable_state(state);
	int n;

	if (!b)
		return -ENOENT;
	sidx_move(&ls->ix, &b->ix, state);
	b->ix.meta.tag = tag;
	if (d == b->durable)
		return 0;
	n = logfmt_state(rec, sizeof(rec), ls->next_seq, id, d);
	b->durable = d;
	log_small(ls, rec, n);
	bundle_set_state_seg(b, ls->active);
	return 0;
}

static int log_remove_op(void *impl, uint64_t id)
{
	struct log_store *ls = impl;
	struct log_bundle *b = bundle_find(ls, id);
	uint8_t rec[LOGFMT_REC_HDR_LEN + LOGFMT_DELETE_META_LEN];
	struct log_seg *g;
	int n;

	if (!b)
		return -ENOENT;
	n = logfmt_delete(rec, sizeof(rec), ls->next_seq, id);
	log_small(ls, rec, n);
	g = b->seg;
	bundle_leave(b);
	seg_pin(g, ls->active);
	sidx_remove(&ls->ix, &b->ix);
	free(b);
	return 0;
}

static int log_iterate_op(void *impl, const struct store_filter *f, store_iter_fn *fn, void *ctx)
{
	struct log_store *ls = impl;

	return sidx_iterate(&ls->ix, f, fn, ctx);
}

static void log_stats_op(void *impl, struct store_stats *ret)
{
	struct log_store *ls = impl;
	const struct log_seg *g;

	sidx_stats(&ls->ix, ret);
	ret->max_bytes = ls->o.lim.max_bytes;
	ret->max_bundles = ls->o.lim.max_bundles;
	ret->refused = ls->refused;
	ret->durable = true;
	ret->backend = "log";
	ret->sync = store_sync_name(ls->o.sync);
	ret->segments = ls->nsegs;
	for (g = ls->first; g; g = g->next)
		ret->disk_bytes += g->len;
	ret->syncs = ls->syncs;
	ret->commits = ls->commits;
	ret->puts = ls->puts;
	ret->recovered = ls->recovered;
	ret->recovery_s = ls->recovery_s;
	ret->dropped = ls->dropped;
	ret->dropped_bytes = ls->dropped_bytes;
}

/* Also frees a half-opened store. Puts still pending are dropped (store.h). */
static void log_free_op(void *impl)
{
	struct log_store *ls = impl;
	struct sidx_bundle *b;
	struct log_seg *g;
	size_t st;

	if (ls->thread_started) {
		pthread_mutex_lock(&ls->mu);
		ls->quit = true;
		pthread_cond_signal(&ls->cv);
		pthread_mutex_unlock(&ls->mu);
		pthread_join(ls->thread, NULL);
	}
	/* A clean stop commits what was written (no done runs: nobody waits). */
	if (ls->active && ls->group_records > 0 && !ls->write_error) {
		uint8_t rec[LOGFMT_REC_HDR_LEN];
		int n = logfmt_commit(rec, sizeof(rec), ls->next_seq);

		log_append(ls, rec, (size_t)n);
		if (wbuf_flush(ls) == 0 && ls->o.sync != STORE_SYNC_NONE)
			(void)fdatasync(ls->active->fd);
	}
	if (ls->loop) {
		ev_prepare_stop(ls->loop, &ls->commit);
		ev_timer_stop(ls->loop, &ls->batch);
		ev_timer_stop(ls->loop, &ls->compact);
		ev_async_stop(ls->loop, &ls->sync_back);
	}
	for (st = 0; st < STORE_STATE_COUNT; st++)
		while ((b = sidx_first(&ls->ix, (enum store_state)st))) {
			sidx_remove(&ls->ix, b);
			free(log_bundle_of(b));
		}
	sidx_clear(&ls->ix);
	while ((g = ls->first)) {
		ls->first = g->next;
		seg_free(g);
	}
	while ((g = ls->unlinked)) {
		ls->unlinked = g->next;
		seg_free(g);
	}
	if (ls->thread_started) {
		pthread_mutex_destroy(&ls->mu);
		pthread_cond_destroy(&ls->cv);
	}
	if (ls->dirfd >= 0)
		close(ls->dirfd);
	free(ls->moved);
	free(ls->wbuf);
	free(ls->dir);
	free(ls);
}

static const struct store_ops log_ops = {
	.put = log_put_op,
	.get = log_get_op,
	.read = log_read_op,
	.read_fd = log_read_fd_op,
	.peek = NULL,
	.set_state = log_set_state_op,
	.remove = log_remove_op,
	.iterate = log_iterate_op,
	.stats = log_stats_op,
	.free = log_free_op,
};

/* Recovery. */

struct replay {
	struct log_store *ls;
	struct log_seg *seg;
	uint64_t max_id;
	bool out_of_order; /* a bundle was indexed after one with a higher id */
	int error;
};

static int replay_put(struct replay *rp, const struct logfmt_record *rec, size_t offset)
{
	struct log_store *ls = rp->ls;
	const struct logfmt_bundle *lb = &rec->b;
	struct log_bundle *b = bundle_find(ls, lb->id);
	int r;

	if (b) {
		/* Copied forward by compaction: this copy replaces the older one. */
		struct log_seg *from = b->seg;

		bundle_leave(b);
		seg_pin(from, rp->seg);
		sidx_move(&ls->ix, &b->ix, lb->state);
	} else {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->ix.meta = (struct store_meta){
			.id = lb->id,
			.creation_time = lb->creation_time,
			.sequence = lb->sequence,
			.is_fragment = lb->is_fragment,
			.frag_offset = lb->frag_offset,
			.frag_len = lb->frag_len,
			.expiry = lb->expiry,
			.size = rec->data_len,
			.state = lb->state,
		};
		r = sidx_add(&ls->ix, &b->ix, lb->dest, lb->dest_len, lb->source, lb->source_len);
		if (r < 0) {
			free(b);
			return r;
		}
		if (lb->id < rp->max_id)
			rp->out_of_order = true;
	}
	b->durable = lb->state;
	b->head_len = (uint32_t)rec->data_off;
	b->data_crc = rec->data_crc;
	bundle_enter(b, rp->seg, offset);
	return 0;
}

static int replay_cb(void *ctx, const struct logfmt_record *rec, size_t offset)
{
	struct replay *rp = ctx;
	struct log_store *ls = rp->ls;
	struct log_bundle *b;
	struct log_seg *g;
	int r = 0;

	if (rec->type != LOGFMT_COMMIT && rec->b.id > rp->max_id)
		rp->max_id = rec->b.id;
	switch (rec->type) {
	case LOGFMT_PUT:
		r = replay_put(rp, rec, offset);
		break;
	case LOGFMT_DELETE:
		/* Unknown: its PUT was in a segment compaction removed. */
		b = bundle_find(ls, rec->b.id);
		if (!b)
			break;
		g = b->seg;
		bundle_leave(b);
		seg_pin(g, rp->seg);
		sidx_remove(&ls->ix, &b->ix);
		free(b);
		break;
	case LOGFMT_STATE:
		b = bundle_find(ls, rec->b.id);
		if (!b)
			break;
		b->durable = durable_state(rec->b.state);
		sidx_move(&ls->ix, &b->ix, b->durable);
		bundle_set_state_seg(b, rp->seg);
		break;
	case LOGFMT_COMMIT:
		break;
	}
	if (r < 0)
		rp->error = r;
	return r;
}

static const char *stop_name(enum logfmt_stop stop)
{
	switch (stop) {
	case LOGFMT_STOP_END:
		return "end of file";
	case LOGFMT_STOP_ZEROS:
		return "zeros";
	case LOGFMT_STOP_TORN:
		return "torn";
	case LOGFMT_STOP_CORRUPT:
		return "corrupt";
	}
	return "?";
}

/*
 * Keep a copy of a damaged segment beside the log for an operator
 * (NAME.damaged, or NAME.damaged.N if that exists). 0, or -errno: then the
 * segment must not be cut either.
 */
static int keep_aside(int fd, const char *path, uint64_t len)
{
	char aside[PATH_MAX];
	int out = -1, r, i;

	for (i = 0; i < 1000 && out < 0; i++) {
		r = i ? snprintf(aside, sizeof(aside), "%s.damaged.%d", path, i) :
			snprintf(aside, sizeof(aside), "%s.damaged", path);
		if (r >= (int)sizeof(aside))
			return -ENAMETOOLONG;
		out = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0 && errno != EEXIST)
			break;
	}
	if (out < 0)
		return -errno;
	r = copy_range(fd, 0, out, 0, len);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	close(out);
	if (r < 0) {
		(void)unlink(aside);
		return r;
	}
	log_err("store: kept a copy of the damaged segment as %s", aside);
	return 0;
}

/*
 * Replay one segment file: apply its committed records and cut off what
 * follows them. newest: it is the last segment (where a torn tail is
 * expected). Returns 0 (the segment is in the list), 1 (the segment was
 * an unfinished creation and is gone), or -errno to stop.
 */
static int replay_segment(struct log_store *ls, struct replay *rp, uint64_t segno, bool newest,
			  uint64_t *expect_seq)
{
	char path[PATH_MAX];
	struct logfmt_prefix p;
	struct stat stbuf;
	uint8_t *map = NULL;
	struct log_seg *g;
	int fd, r;

	r = seg_path(ls, segno, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		log_err("store: %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &stbuf) < 0 || !S_ISREG(stbuf.st_mode)) {
		r = S_ISREG(stbuf.st_mode) ? -errno : -EINVAL;
		log_err("store: %s: %s", path, r == -EINVAL ? "not a regular file" : strerror(-r));
		goto out_close;
	}
	if (stbuf.st_size > 0) {
		map = mmap(NULL, (size_t)stbuf.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			r = -errno;
			goto out_close;
		}
		(void)madvise(map, (size_t)stbuf.st_size, MADV_SEQUENTIAL);
	}
	g = seg_new(ls, segno, fd);
	if (!g) {
		r = -ENOMEM;
		goto out_unmap;
	}
	rp->seg = g;
	r = logfmt_valid_prefix(map ? map : (const uint8_t *)"", (size_t)stbuf.st_size, replay_cb,
				rp, &p);
	if (r == -EPROTONOSUPPORT) {
		log_err("store: %s is of another format version than %d: not touching it", path,
			LOGFMT_VERSION);
		goto out_unmap;
	}
	if (r < 0)
		goto out_unmap; /* rp->error: out of memory */
	if (p.valid_len == 0) {
		if (newest && (p.stop != LOGFMT_STOP_CORRUPT || p.resync == 0)) {
			/* Created and not finished when bpd stopped: never held a record. */
			log_warn(
				"store: %s: segment header %s (%s); removing the unfinished segment",
				path, stop_name(p.stop), p.why ? p.why : "empty");
			(void)unlink(path);
			ls->active = g->prev;
			if (g->prev)
				g->prev->next = NULL;
			else
				ls->first = NULL;
			ls->nsegs--;
			seg_free(g);
			r = 1;
		} else {
			log_err("store: %s: segment header damaged (%s); an operator must look",
				path, p.why ? p.why : stop_name(p.stop));
			r = -EBADMSG;
		}
		goto out_unmap;
	}
	if (*expect_seq != 0 && p.hdr.first_seq != *expect_seq)
		log_info("store: %s starts at record %" PRIu64 " after %" PRIu64
			 " (the segments between were compacted away)",
			 path, p.hdr.first_seq, *expect_seq);
	*expect_seq = p.next_seq;
	if (p.commit_len < (uint64_t)stbuf.st_size) {
		uint64_t dropped = (uint64_t)stbuf.st_size - p.commit_len;
		bool torn = p.stop == LOGFMT_STOP_TORN || p.stop == LOGFMT_STOP_CORRUPT;

		/* The whole records of an unfinished group, and the broken one. */
		ls->dropped += p.records - p.committed + torn;
		ls->dropped_bytes += dropped;
		bool damage = !newest || (p.stop == LOGFMT_STOP_CORRUPT && p.resync_commits >= 2);

		if (damage) {
			log_err("store: %s: damaged acknowledged data (%s at byte %zu: %s%s%zu); the "
				"%" PRIu64 " bytes from byte %zu on are lost",
				path, stop_name(p.stop), p.valid_len, p.why ? p.why : "-",
				p.resync ? "; records resume at byte " : "", p.resync, dropped,
				p.commit_len);
			r = keep_aside(fd, path, (uint64_t)stbuf.st_size);
			if (r < 0) {
				log_err("store: cannot keep a copy of %s (%s): not cutting it; free "
					"space or move it away, then start again",
					path, strerror(-r));
				goto out_unmap;
			}
		} else if (p.stop == LOGFMT_STOP_TORN || p.stop == LOGFMT_STOP_CORRUPT ||
			   p.records > p.committed) {
			log_warn(
				"store: %s: dropped an unfinished group commit at the tail: %" PRIu64
				" bytes, %" PRIu64 " records (%s%s%s)",
				path, dropped, p.records - p.committed, stop_name(p.stop),
				p.why ? ": " : "", p.why ? p.why : "");
		}
		/* Rule 6: never leave bytes a later record could be mistaken to follow. */
		if (ftruncate(fd, (off_t)p.commit_len) < 0 ||
		    (ls->o.sync != STORE_SYNC_NONE && fdatasync(fd) < 0)) {
			r = -errno;
			log_err("store: cannot truncate %s: %s", path, strerror(-r));
			goto out_unmap;
		}
	}
	g->len = p.commit_len;
	if (p.next_seq > ls->next_seq)
		ls->next_seq = p.next_seq;
	r = 0;
out_unmap:
	if (map)
		munmap(map, (size_t)stbuf.st_size);
	if (rp->error)
		r = rp->error;
	return r;
out_close:
	close(fd);
	return r;
}

static int segno_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, in order. */
static int list_segments(struct log_store *ls, uint64_t **ret, size_t *ret_n)
{
	int fd = dup(ls->dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	uint64_t *v = NULL, *nv, segno;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		if (logfmt_segment_name_parse(e->d_name, &segno) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = segno;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), segno_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int recover(struct log_store *ls)
{
	struct replay rp = { .ls = ls };
	struct timespec t0, t1;
	uint64_t *segnos = NULL, expect = 0, last = 0;
	size_t n = 0, i;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = list_segments(ls, &segnos, &n);
	if (r < 0)
		return r;
	ls->next_seq = 1;
	for (i = 0; i < n && r >= 0; i++) {
		r = replay_segment(ls, &rp, segnos[i], i + 1 == n, &expect);
		last = segnos[i];
	}
	free(segnos);
	if (r < 0)
		return r;
	ls->next_id = rp.max_id + 1;
	if (rp.out_of_order)
		sidx_sort(&ls->ix);
	/* Write on in the newest segment if it has room, else in a new one. */
	if (!ls->active || ls->active->len >= ls->o.segment_bytes) {
		r = seg_create(ls, last + 1);
		if (r < 0)
			return r;
	}
	ls->wbuf_off = ls->active->len;
	ls->commit_len = ls->active->len;
	ls->recovered = sidx_count(&ls->ix);
	ls->durable_seq = ls->next_seq - 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ls->recovery_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (n > 0)
		log_info("store: %s: recovered %" PRIu64 " bundles (%" PRIu64
			 " bytes) from %" PRIu64 " segments in %.3f s",
			 ls->dir, ls->recovered, ls->ix.bytes, ls->nsegs, ls->recovery_s);
	return 0;
}

static int opts_check(const struct store_log_opts *o)
{
	if (!o->dir || !*o->dir || store_limits_check(&o->lim) < 0 || o->segment_bytes < 4096 ||
	    (o->sync == STORE_SYNC_BATCH && o->batch_ms == 0) || o->sync > STORE_SYNC_NONE)
		return -EINVAL;
	return 0;
}

int store_log_new(struct ev_loop *loop, const struct store_log_opts *o, struct store **ret)
{
	struct log_store *ls;
	int r;

	if (!loop || !o || !ret || opts_check(o) < 0)
		return -EINVAL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->o = *o;
	ls->dirfd = -1;
	ls->sync_fd = -1;
	ls->dir = strdup(o->dir);
	ls->wbuf = malloc(WBUF_CAP);
	r = -ENOMEM;
	if (!ls->dir || !ls->wbuf || sidx_init(&ls->ix) < 0)
		goto out_free;
	ls->o.dir = ls->dir;
	if (mkdir(ls->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto out_free;
	}
	ls->dirfd = open(ls->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ls->dirfd < 0) {
		r = -errno;
		goto out_free;
	}
	if (flock(ls->dirfd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out_free;
	}
	r = recover(ls);
	if (r < 0)
		goto out_free;
	pthread_mutex_init(&ls->mu, NULL);
	pthread_cond_init(&ls->cv, NULL);
	r = -pthread_create(&ls->thread, NULL, sync_main, ls);
	if (r < 0) {
		pthread_mutex_destroy(&ls->mu);
		pthread_cond_destroy(&ls->cv);
		goto out_free;
	}
	ls->thread_started = true;
	ls->loop = loop;
	ev_async_init(&ls->sync_back, sync_back_cb);
	ev_async_start(loop, &ls->sync_back);
	ev_prepare_init(&ls->commit, commit_cb);
	ev_timer_init(&ls->batch, batch_cb, o->batch_ms / 1000.0, o->batch_ms / 1000.0);
	ev_timer_init(&ls->compact, compact_cb, 0.,
		      (o->compact_ms ? o->compact_ms : COMPACT_PERIOD_MS) / 1000.0);
	ev_timer_again(loop, &ls->compact);
	*ret = store_new(&log_ops, ls);
	if (!*ret) {
		r = -ENOMEM;
		goto out_free;
	}
	return 0;

out_free:
	log_free_op(ls);
	return r;
}
