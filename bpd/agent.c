/* SPDX-License-Identifier: MIT */
/*
 * The bundle protocol agent (RFC 9171 5) for one node: builds bundles for
 * local senders, stores them, and delivers those for local endpoints.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bp/bp.h"
#include "decode.h"
#include "encode.h"
#include "expiry.h"
#include "fragments.h"
#include "links.h"
#include "log.h"
#include "node.h"
#include "reports.h"
#include "store.h"

#define EID_TEXT_MAX 1100

/* Bundles waiting for one endpoint, oldest first. */
struct id_queue {
	uint64_t *ids;
	size_t head, len, cap;
};

/* A local endpoint: its queue outlives any one registration. */
struct endpoint {
	struct endpoint *next; /* in its hash bucket */
	struct bp_eid eid;
	struct id_queue queue;
	struct agent_binding *binding;
	char text[]; /* the EID's text; eid.ssp points in here */
};

struct agent_binding {
	struct agent *a;
	struct endpoint *ep;
	const struct agent_sink_ops *ops;
	void *ctx;
	bool paused;   /* the sink said -EAGAIN */
	uint64_t *out; /* delivered, not yet consumed */
	size_t nout, capout;
};

struct agent {
	struct ev_loop *loop;
	const struct node_id *node;
	struct store *store;
	/* Endpoints by EID: a chained hash table, grown to keep chains short. */
	struct endpoint **buckets;
	size_t nbuckets, nendpoints;
	struct send_op *sends;	 /* in flight, so that agent_free can cancel them */
	struct recv_op *recvs;	 /* received bundles being stored, likewise */
	struct links *links;	 /* NULL: no convergence layer (tests) */
	ev_timer retry;		 /* another forwarding pass after a failed send */
	double retry_s;		 /* its next delay */
	struct expiry *expiry;	 /* lifetimes of the bundles stored (RFC 9171 5.5) */
	struct fragments *frags; /* split for links, and reassembled here (5.8, 5.9) */
	uint64_t last_ms, seq;	 /* creation timestamps (RFC 9171 4.2.7) */
	bool reports;		 /* the node's policy: status reports allowed (6.1) */
	/* Bundles handed to a link whose forwarding is to be reported, by id. */
	struct fwd_report *fwd_reports;
	struct agent_stats stats;
};

struct fwd_report {
	struct fwd_report *next;
	uint64_t id;
	struct report_subject subject;
};

/* A send in flight: the bundle is being stored. */
struct send_op {
	struct send_op *prev, *next;
	struct agent *a;
	agent_send_done_fn *done;
	void *ctx;
	struct agent_sent sent;
	bool local; /* for an endpoint of this node */
	uint64_t expiry;
	int payload_fd; /* the store may read it until on_stored: ours, or -1 */
	char dest[EID_TEXT_MAX];
};

static int forward_one(struct agent *a, uint64_t id);
static void maybe_report(struct agent *a, const struct report_subject *s, enum bpv7_status st,
			 enum bpv7_reason reason);

static void send_op_free(struct send_op *op)
{
	if (op->payload_fd >= 0)
		close(op->payload_fd);
	free(op);
}

/* Queues */

static int queue_push(struct id_queue *q, uint64_t id, bool front)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4;
		uint64_t *ids = malloc(cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		for (size_t i = 0; i < q->len; i++)
			ids[i] = q->ids[(q->head + i) % q->cap];
		free(q->ids);
		q->ids = ids;
		q->head = 0;
		q->cap = cap;
	}
	if (front) {
		q->head = (q->head + q->cap - 1) % q->cap;
		q->ids[q->head] = id;
	} else {
		q->ids[(q->head + q->len) % q->cap] = id;
	}
	q->len++;
	return 0;
}

static uint64_t queue_pop(struct id_queue *q)
{
	uint64_t id = q->ids[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return id;
}

/* Endpoints */

/* FNV-1a over what bp_eid_equal() compares. */
static uint64_t eid_hash(const struct bp_eid *eid)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint64_t ipn[3] = { eid->allocator, eid->node, eid->service };
	const uint8_t *p = eid->scheme == BP_EID_IPN ? (const uint8_t *)ipn :
						       (const uint8_t *)eid->ssp;
	size_t n = eid->scheme == BP_EID_IPN ? sizeof(ipn) : eid->ssp_len;

	h = (h ^ eid->scheme) * 0x100000001b3ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static struct endpoint **bucket_of(struct agent *a, const struct bp_eid *eid)
{
	return &a->buckets[eid_hash(eid) & (a->nbuckets - 1)];
}

static struct endpoint *endpoint_find(struct agent *a, const struct bp_eid *eid)
{
	if (a->nbuckets == 0)
		return NULL;
	for (struct endpoint *ep = *bucket_of(a, eid); ep; ep = ep->next)
		if (bp_eid_equal(&ep->eid, eid))
			return ep;
	return NULL;
}

/* Double the table when it holds more endpoints than buckets. */
static int endpoints_grow(struct agent *a)
{
	size_t n = a->nbuckets ? a->nbuckets * 2 : 64, old = a->nbuckets;
	struct endpoint **b, **prev = a->buckets;

	if (a->nendpoints < a->nbuckets)
		return 0;
	b = calloc(n, sizeof(*b));
	if (!b)
		return a->nbuckets ? 0 : -ENOMEM; /* longer chains, still correct */
	a->buckets = b;
	a->nbuckets = n;
	for (size_t i = 0; i < old; i++) {
		while (prev[i]) {
			struct endpoint *ep = prev[i], **dst = bucket_of(a, &ep->eid);

			prev[i] = ep->next;
			ep->next = *dst;
			*dst = ep;
		}
	}
	free(prev);
	return 0;
}

static struct endpoint *endpoint_get(struct agent *a, const struct bp_eid *eid)
{
	struct endpoint *ep = endpoint_find(a, eid), **bucket;
	char text[EID_TEXT_MAX];
	const char *why;
	int n;

	if (ep)
		return ep;
	if (endpoints_grow(a) < 0)
		return NULL;
	/* As long as its text: anyone can make endpoints by sending bundles. */
	n = bp_eid_format(eid, text, sizeof(text));
	if (n < 0 || (size_t)n >= sizeof(text))
		return NULL;
	ep = calloc(1, sizeof(*ep) + (size_t)n + 1);
	if (!ep)
		return NULL;
	memcpy(ep->text, text, (size_t)n + 1);
	/* Keep an EID whose text is our own copy. */
	if (bp_eid_parse(ep->text, (size_t)n, &ep->eid, &why) < 0) {
		free(ep);
		return NULL;
	}
	bucket = bucket_of(a, &ep->eid);
	ep->next = *bucket;
	*bucket = ep;
	a->nendpoints++;
	return ep;
}

/*
 * An endpoint with no binding and nothing queued is forgotten, so that the
 * endpoints kept are bounded by the bindings and the bundles stored.
 */
static void endpoint_maybe_free(struct agent *a, struct endpoint *ep)
{
	struct endpoint **pp;

	if (ep->binding || ep->queue.len > 0)
		return;
	for (pp = bucket_of(a, &ep->eid); *pp; pp = &(*pp)->next)
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	a->nendpoints--;
	free(ep->queue.ids);
	free(ep);
}

/* Delivery (RFC 9171 5.7) */

static int outstanding_add(struct agent_binding *b, uint64_t id)
{
	if (b->nout == b->capout) {
		size_t cap = b->capout ? b->capout * 2 : 16;
		uint64_t *out = realloc(b->out, cap * sizeof(*out));

		if (!out)
			return -ENOMEM;
		b->out = out;
		b->capout = cap;
	}
	b->out[b->nout++] = id;
	return 0;
}

/* Offer one stored bundle to the binding's sink. */
static int deliver_one(struct agent_binding *b, uint64_t id)
{
	struct bpv7_bundle *bundle = malloc(sizeof(*bundle));
	struct agent_delivery d = { .id = id };
	struct bpv7_error err;
	const uint8_t *buf = NULL;
	uint8_t *copy = NULL;
	size_t len;
	int r;

	if (!bundle)
		return -ENOMEM;
	r = store_load(b->a->store, id, &buf, &len, &copy);
	if (r == 0 && bpv7_decode(buf, len, len, bundle, &err) < 0)
		r = -EBADMSG;	     /* we stored it: it must decode */
	if (r < 0 && r != -ENOMEM) { /* this bundle is unusable: never retry it */
		free(bundle);
		free(copy);
		return -EBADMSG;
	}
	if (r == 0) {
		d.bundle = bundle;
		d.is_report = bundle->primary.flags & BPV7_BPF_ADMIN_RECORD;
		r = b->ops->deliver(b->ctx, &d);
	}
	/* 5.7 step 2: delivered, once handed to the application. */
	if (r == 0 && b->a->reports && (bundle->primary.flags & BPV7_BPF_RPT_DELIVERY)) {
		struct report_subject *subj = malloc(sizeof(*subj));

		if (subj) {
			report_subject_of(bundle, subj);
			maybe_report(b->a, subj, BPV7_STATUS_DELIVERED, BPV7_REASON_NONE);
		}
		free(subj);
	}
	if (r == 0)
		r = outstanding_add(b, id);
	if (r == 0) {
		(void)store_set_state(b->a->store, id, STORE_STATE_DELIVERED, 0);
		b->a->stats.delivered++;
	}
	free(copy);
	free(bundle);
	return r;
}

/* Deliver the endpoint's queue until it is empty or the sink is full. */
static void drain(struct agent_binding *b)
{
	struct id_queue *q = &b->ep->queue;

	while (!b->paused && q->len > 0) {
		uint64_t id = queue_pop(q);
		int r = deliver_one(b, id);

		if (r == -EBADMSG) {
			log_err("bundle %llu for %s cannot be read back: deleted",
				(unsigned long long)id, b->ep->text);
			(void)store_delete(b->a->store, id);
		} else if (r < 0) { /* the sink resumes us (agent_binding_ready) */
			(void)queue_push(q, id, true);
			b->paused = true;
		}
	}
}

/* RFC 9171 5.7: a bundle for an endpoint of this node waits for it. */
static void deliver_local(struct agent *a, const char *dest_text, uint64_t id)
{
	struct bp_eid eid;
	struct endpoint *ep;
	const char *why;

	if (bp_eid_parse(dest_text, strlen(dest_text), &eid, &why) < 0)
		return;
	ep = endpoint_get(a, &eid);
	if (!ep || queue_push(&ep->queue, id, false) < 0) {
		log_err("bundle %llu for %s: out of memory; it stays stored",
			(unsigned long long)id, dest_text);
		return;
	}
	if (ep->binding)
		drain(ep->binding);
}

/* Transmission (RFC 9171 5.2) */

/* bp-socket's send flags to RFC 9171 4.2.3 bundle flags (custody has no BPv7 form). */
static uint64_t bundle_flags(uint64_t bp_flags)
{
	uint64_t f = 0;

	if (bp_flags & MSG_ACK_REQUESTED)
		f |= BPV7_BPF_ACK_REQUESTED;
	if (bp_flags & MSG_RECEIVED_RPT)
		f |= BPV7_BPF_RPT_RECEPTION;
	if (bp_flags & MSG_FORWARDED_RPT)
		f |= BPV7_BPF_RPT_FORWARDING;
	if (bp_flags & MSG_DELIVERED_RPT)
		f |= BPV7_BPF_RPT_DELIVERY;
	if (bp_flags & MSG_DELETED_RPT)
		f |= BPV7_BPF_RPT_DELETION;
	return f;
}

static void build_bundle(struct agent *a, const struct agent_send_req *req,
			 const uint8_t *payload_bytes, struct bpv7_bundle *b,
			 struct agent_sent *sent)
{
	struct bpv7_block payload = { .type = BPV7_BLOCK_PAYLOAD, .number = 1 };
	uint64_t now = expiry_now_ms();

	/* RFC 9171 4.2.7: the sequence restarts each millisecond. */
	a->seq = now == a->last_ms ? a->seq + 1 : 0;
	a->last_ms = now;
	bpv7_bundle_init(b);
	b->primary.flags = bundle_flags(req->bp_flags);
	if (req->admin_record)
		b->primary.flags = BPV7_BPF_ADMIN_RECORD; /* 4.2.3: and asks for no reports */
	b->primary.crc_type = req->crc_type;
	b->primary.dest = req->dest;
	b->primary.source = req->source;
	b->primary.report_to = req->report_to;
	b->primary.creation_time = now;
	b->primary.sequence = a->seq;
	b->primary.lifetime = req->lifetime;
	payload.crc_type = req->crc_type;
	payload.data = payload_bytes;
	payload.data_len = req->payload_len;
	if (req->hop_limit) {
		struct bpv7_block hop = { .type = BPV7_BLOCK_HOP_COUNT,
					  .number = 2,
					  .crc_type = req->crc_type,
					  .ext.hop = { .limit = req->hop_limit } };

		(void)bpv7_bundle_add_block(b, &hop);
	}
	(void)bpv7_bundle_add_block(b, &payload);
	sent->creation_time = now;
	sent->sequence = a->seq;
}

/*
 * Rebuild the expiry heap from the store: every bundle stored, once. For
 * when consumed and forwarded bundles have left too many stale entries.
 */
static int add_expiry(void *ctx, const struct store_meta *m)
{
	struct agent *a = ctx;

	if (m->expiry != STORE_EXPIRY_NEVER && m->state != STORE_STATE_PENDING)
		(void)expiry_add(a->expiry, m->expiry, m->id);
	return 0;
}

static void watch_expiry(struct agent *a, uint64_t id, uint64_t when)
{
	struct store_stats st;

	if (when == STORE_EXPIRY_NEVER)
		return;
	if (expiry_add(a->expiry, when, id) < 0)
		log_err("bundle %llu: out of memory for its expiry", (unsigned long long)id);
	if (store_stats(a->store, &st) == 0 && expiry_needs_rebuild(a->expiry, st.bundles)) {
		expiry_clear(a->expiry);
		(void)store_iterate(a->store, NULL, add_expiry, a);
	}
}

static void on_stored(void *ctx, uint64_t id, int status)
{
	struct send_op *op = ctx;

	if (op->prev)
		op->prev->next = op->next;
	else
		op->a->sends = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->done(op->ctx, status, &op->sent);
	if (status == 0) {
		op->a->stats.originated++;
		watch_expiry(op->a, id, op->expiry);
	}
	if (status == 0 && op->local)
		deliver_local(op->a, op->dest, id);
	else if (status == 0)
		(void)forward_one(op->a, id);
	send_op_free(op);
}

/* RFC 9171 5.5: the bundle expires its lifetime after its creation. */
/*
 * RFC 9171 5.5: when the bundle expires (DTN ms). A source without a clock
 * sets creation time 0 (4.2.6) and a bundle age block (4.4.2): the bundle
 * then expires lifetime minus its age after now, when it arrived.
 */
static uint64_t expiry_of(const struct bpv7_bundle *b)
{
	const struct bpv7_primary *pr = &b->primary;
	uint64_t base = pr->creation_time, life = pr->lifetime;

	if (base == 0) {
		const struct bpv7_block *age =
			bpv7_bundle_find((struct bpv7_bundle *)b, BPV7_BLOCK_BUNDLE_AGE);
		uint64_t aged = age ? age->ext.age_ms : 0;

		base = expiry_now_ms();
		life = aged >= life ? 0 : life - aged;
	}
	return life > UINT64_MAX - base ? STORE_EXPIRY_NEVER : base + life;
}

int agent_send(struct agent *a, const struct agent_send_req *req, agent_send_done_fn *done,
	       void *ctx)
{
	struct bpv7_bundle *b = malloc(sizeof(*b));
	struct send_op *op = calloc(1, sizeof(*op));
	bool in_fd = !req->payload && req->payload_len > 0;
	char source[EID_TEXT_MAX];
	struct store_put_req put = { 0 };
	struct store_seg segs[3];
	uint8_t *wire = NULL, *map = NULL;
	size_t nsegs = 1, at = 0;
	uint64_t id;
	long n = -ENOMEM;

	if (op)
		op->payload_fd = -1;
	if (!b || !op)
		goto out;
	op->a = a;
	op->done = done;
	op->ctx = ctx;
	op->local = node_id_owns(a->node, &req->dest);
	if (in_fd) {
		/* Mapped only to be read for the payload block's CRC: sealed, so no SIGBUS. */
		map = mmap(NULL, req->payload_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
			   req->payload_fd, 0);
		op->payload_fd = map == MAP_FAILED ? -1 :
						     fcntl(req->payload_fd, F_DUPFD_CLOEXEC, 0);
		if (map == MAP_FAILED || op->payload_fd < 0) {
			n = -errno;
			goto out;
		}
	}
	build_bundle(a, req, in_fd ? map : req->payload, b, &op->sent);
	n = in_fd ? bpv7_encode_split_alloc(b, &wire, &at) : bpv7_encode_alloc(b, &wire);
	if (n < 0)
		goto out;
	if (bp_eid_format(&req->dest, op->dest, sizeof(op->dest)) < 0 ||
	    bp_eid_format(&req->source, source, sizeof(source)) < 0) {
		n = -EINVAL;
		goto out;
	}
	/* The bundle: its encoding, or its encoding around the payload in the app's file. */
	segs[0] = (struct store_seg){ .ptr = wire, .fd = -1, .len = in_fd ? at : (size_t)n };
	if (in_fd) {
		segs[1] = (struct store_seg){ .fd = op->payload_fd, .len = req->payload_len };
		segs[2] = (struct store_seg){ .ptr = wire + at, .fd = -1, .len = (size_t)n - at };
		nsegs = 3;
	}
	put = (struct store_put_req){
		.dest = op->dest,
		.source = source,
		.creation_time = b->primary.creation_time,
		.sequence = b->primary.sequence,
		.expiry = op->expiry = expiry_of(b),
		.state = op->local ? STORE_STATE_QUEUED_LOCAL : STORE_STATE_FORWARD,
		.segs = segs,
		.nsegs = nsegs,
	};
	n = store_put(a->store, &put, on_stored, op, &id);
	if (n == 0) {
		/* on_stored owns it now; agent_free if the store never answers */
		op->next = a->sends;
		if (a->sends)
			a->sends->prev = op;
		a->sends = op;
		op = NULL;
	}
out:
	if (map && map != MAP_FAILED)
		munmap(map, req->payload_len);
	free(wire);
	free(b);
	if (op)
		send_op_free(op);
	return n < 0 ? (int)n : 0;
}

/* Registration (RFC 9171 3.1) */

int agent_bind(struct agent *a, const struct bp_eid *eid, const struct agent_sink_ops *ops,
	       void *ctx, struct agent_binding **ret)
{
	struct agent_binding *b;
	struct endpoint *ep;

	if (!node_id_owns(a->node, eid))
		return -EADDRNOTAVAIL;
	ep = endpoint_get(a, eid);
	if (!ep)
		return -ENOMEM;
	if (ep->binding)
		return -EADDRINUSE;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	*b = (struct agent_binding){ .a = a, .ep = ep, .ops = ops, .ctx = ctx };
	ep->binding = b;
	*ret = b;
	drain(b);
	return 0;
}

const struct node_id *agent_node(const struct agent *a)
{
	return a->node;
}

int agent_room_for(struct agent *a, uint64_t len)
{
	struct store_stats st;

	if (store_stats(a->store, &st) < 0)
		return -EIO;
	if (len > st.max_bytes)
		return -EMSGSIZE;
	return len > st.max_bytes - st.bytes || st.bundles >= st.max_bundles ? -ENOBUFS : 0;
}

int agent_binding_eid(const struct agent_binding *b, struct bp_eid *ret)
{
	*ret = b->ep->eid;
	return 0;
}

size_t agent_binding_unconsumed(const struct agent_binding *b)
{
	return b->nout;
}

void agent_binding_ready(struct agent_binding *b)
{
	b->paused = false;
	drain(b);
}

int agent_consumed(struct agent_binding *b, uint64_t id)
{
	for (size_t i = 0; i < b->nout; i++) {
		if (b->out[i] != id)
			continue;
		/* In order: on unbind they go back to the queue oldest first. */
		memmove(&b->out[i], &b->out[i + 1], (b->nout - i - 1) * sizeof(b->out[0]));
		b->nout--;
		return store_delete(b->a->store, id);
	}
	return -ENOENT;
}

void agent_unbind(struct agent_binding *b, bool abandon)
{
	/* Back to the front of the queue, oldest first, unless abandoned. */
	for (size_t i = b->nout; i-- > 0;) {
		if (abandon)
			(void)store_delete(b->a->store, b->out[i]);
		else if (queue_push(&b->ep->queue, b->out[i], true) == 0)
			(void)store_set_state(b->a->store, b->out[i], STORE_STATE_QUEUED_LOCAL, 0);
	}
	b->ep->binding = NULL;
	endpoint_maybe_free(b->a, b->ep);
	free(b->out);
	free(b);
}

bool agent_endpoint_known(struct agent *a, const struct bp_eid *eid)
{
	return endpoint_find(a, eid) != NULL;
}

bool agent_endpoint_bound(struct agent *a, const struct bp_eid *eid)
{
	const struct endpoint *ep = endpoint_find(a, eid);

	return ep && ep->binding;
}

void agent_walk_endpoints(struct agent *a,
			  void (*fn)(void *ctx, const struct agent_endpoint_info *info), void *ctx)
{
	for (size_t i = 0; i < a->nbuckets; i++) {
		for (struct endpoint *ep = a->buckets[i]; ep; ep = ep->next) {
			struct agent_endpoint_info info = {
				.eid = ep->text,
				.bound = ep->binding != NULL,
				.sink_ctx = ep->binding ? ep->binding->ctx : NULL,
				.queued = ep->queue.len,
				.unconsumed = ep->binding ? ep->binding->nout : 0,
			};

			fn(ctx, &info);
		}
	}
}

/* Take id out of a queue; true if it was there. */
static bool queue_remove(struct id_queue *q, uint64_t id)
{
	size_t i;

	for (i = 0; i < q->len; i++)
		if (q->ids[(q->head + i) % q->cap] == id)
			break;
	if (i == q->len)
		return false;
	for (; i + 1 < q->len; i++)
		q->ids[(q->head + i) % q->cap] = q->ids[(q->head + i + 1) % q->cap];
	q->len--;
	return true;
}

/* RFC 9171 6.1: a status report, if the subject asks and the node allows. */
static void maybe_report(struct agent *a, const struct report_subject *s, enum bpv7_status st,
			 enum bpv7_reason reason)
{
	if (a->reports && report_asked(s, st)) {
		report_send(a, s, st, reason);
		a->stats.reports++;
	}
}

/* 5.10: the deleted report for stored bundle id, which the store still holds. */
static void report_deleted(struct agent *a, uint64_t id, enum bpv7_reason reason)
{
	struct bpv7_bundle *b = a->reports ? malloc(sizeof(*b)) : NULL;
	struct report_subject *subj = b ? malloc(sizeof(*subj)) : NULL;
	struct bpv7_error err;
	const uint8_t *p;
	uint8_t *copy = NULL;
	size_t len;

	if (subj && store_load(a->store, id, &p, &len, &copy) == 0 &&
	    bpv7_decode(p, len, 0, b, &err) == 0) {
		report_subject_of(b, subj);
		maybe_report(a, subj, BPV7_STATUS_DELETED, reason);
	}
	free(copy);
	free(subj);
	free(b);
}

/* Take a stored bundle out of whatever queue holds it, and delete it (RFC 9171 5.10). */
static int forget_bundle(struct agent *a, uint64_t id, const char *why, enum bpv7_reason reason)
{
	struct endpoint *ep = NULL;
	struct agent_binding *b, *resume = NULL;
	struct store_meta meta;
	struct bp_eid eid;
	const char *err;
	int r = store_get(a->store, id, &meta);

	if (r < 0)
		return r;
	if (meta.state == STORE_STATE_PENDING)
		return -EBUSY;
	/* Only the endpoint the bundle is for can hold it. */
	if (bp_eid_parse(meta.dest, strlen(meta.dest), &eid, &err) == 0)
		ep = endpoint_find(a, &eid);
	b = ep ? ep->binding : NULL;
	for (size_t i = 0; b && i < b->nout; i++) {
		if (b->out[i] != id)
			continue;
		/* The app may still consume it: that finds nothing, harmlessly. */
		memmove(&b->out[i], &b->out[i + 1], (b->nout - i - 1) * sizeof(b->out[0]));
		b->nout--;
		resume = b;
		break;
	}
	if (ep && queue_remove(&ep->queue, id))
		endpoint_maybe_free(a, ep);
	if (meta.is_fragment)
		fragments_forget(a->frags, id);
	log_info("bundle %llu for %s: %s: deleted", (unsigned long long)id, meta.dest, why);
	a->stats.deleted[reason < AGENT_REASONS ? reason : 0]++;
	report_deleted(a, id, reason);
	r = store_delete(a->store, id);
	/* One less unconsumed: a sink held at its limit can take the next. */
	if (resume)
		agent_binding_ready(resume);
	return r;
}

int agent_delete(struct agent *a, uint64_t id)
{
	return forget_bundle(a, id, "by an operator", BPV7_REASON_NONE);
}

/* RFC 9171 5.5: a bundle whose lifetime is over is deleted. */
static void on_expire(void *ctx, uint64_t id)
{
	struct agent *a = ctx;
	struct store_meta meta;

	/* Gone already (consumed, forwarded), or kept longer than this entry says. */
	if (store_get(a->store, id, &meta) < 0 || meta.expiry > expiry_now_ms())
		return;
	(void)forget_bundle(a, id, "lifetime expired", BPV7_REASON_LIFETIME_EXPIRED);
}

/* Recovery: what the store held when bpd started. */
static int recover_one(void *ctx, const struct store_meta *m)
{
	struct agent *a = ctx;

	if (m->expiry != STORE_EXPIRY_NEVER)
		(void)expiry_add(a->expiry, m->expiry, m->id);
	if (m->state == STORE_STATE_DELIVERED) /* nobody is bound yet: offer it again */
		(void)store_set_state(a->store, m->id, STORE_STATE_QUEUED_LOCAL, 0);
	if (m->is_fragment)
		(void)fragments_add(a->frags, m->id); /* its ADU, once whole, is delivered */
	else if (m->state == STORE_STATE_DELIVERED || m->state == STORE_STATE_QUEUED_LOCAL)
		deliver_local(a, m->dest, m->id);
	return 0;
}

static int cmp_id(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

void agent_recover(struct agent *a)
{
	struct store_filter f = { .states = STORE_STATE_BIT(STORE_STATE_QUEUED_LOCAL) |
					    STORE_STATE_BIT(STORE_STATE_DELIVERED) };

	(void)store_iterate(a->store, &f, recover_one, a);
	/* Ids are given in arrival order: each queue oldest first (RFC 9171 5.7). */
	for (size_t i = 0; i < a->nbuckets; i++)
		for (struct endpoint *ep = a->buckets[i]; ep; ep = ep->next)
			if (ep->queue.head == 0 && ep->queue.len > 1)
				qsort(ep->queue.ids, ep->queue.len, sizeof(uint64_t), cmp_id);
	f.states = STORE_STATE_BIT(STORE_STATE_FORWARD) | STORE_STATE_BIT(STORE_STATE_IN_TRANSIT);
	(void)store_iterate(a->store, &f, add_expiry, a);
}

/* Forwarding (RFC 9171 5.4) and reception from other nodes (5.6) */

/* Another look at waiting bundles after a send failed: 1 s, doubling to 60 s. */
#define FORWARD_RETRY_MIN_S 1.0
#define FORWARD_RETRY_MAX_S 60.0
/* A fragment's hop count may take a byte more than the whole bundle's, and so on. */
#define FRAGMENT_SLACK 16

/* A received bundle on its way into the store; its transfer is answered when it is durable. */
struct recv_op {
	struct recv_op *prev, *next;
	struct agent *a;
	uint32_t link;
	uint64_t xfer;
	bool local;
	bool fragment;
	uint64_t expiry;
	char dest[EID_TEXT_MAX];
};

/*
 * 5.4 step 4: the bundle as it leaves this node: our previous node block
 * (4.4.1, replacing the sender's), its hop count one higher (4.4.3).
 * -ELOOP when the hop limit is exceeded (the bundle is then deleted).
 */
static long forward_encode(struct agent *a, const uint8_t *in, size_t len, uint64_t expiry,
			   uint8_t **ret, struct report_subject **ret_subject)
{
	struct bpv7_block prev = { .type = BPV7_BLOCK_PREV_NODE };
	struct bpv7_bundle b;
	struct bpv7_error err;
	struct bpv7_block *blk;

	if (bpv7_decode(in, len, 0, &b, &err) < 0)
		return -EBADMSG;
	if (a->reports && (b.primary.flags & BPV7_BPF_RPT_FORWARDING)) {
		*ret_subject = malloc(sizeof(**ret_subject));
		if (*ret_subject)
			report_subject_of(&b, *ret_subject);
	}
	blk = bpv7_bundle_find(&b, BPV7_BLOCK_HOP_COUNT);
	if (blk) {
		if (blk->ext.hop.count >= blk->ext.hop.limit)
			return -ELOOP;
		blk->ext.hop.count++;
		blk->data = NULL; /* encoded again from ext */
		blk->data_len = 0;
	}
	/*
	 * 4.4.2: the age block says how old the bundle is as it leaves: its
	 * lifetime less what is left of it here (expiry counted it at arrival).
	 */
	blk = bpv7_bundle_find(&b, BPV7_BLOCK_BUNDLE_AGE);
	if (blk && expiry != STORE_EXPIRY_NEVER) {
		uint64_t now = expiry_now_ms(), left = expiry > now ? expiry - now : 0;

		blk->ext.age_ms = left >= b.primary.lifetime ? 0 : b.primary.lifetime - left;
		blk->data = NULL; /* encoded again from ext */
		blk->data_len = 0;
	}
	blk = bpv7_bundle_find(&b, BPV7_BLOCK_PREV_NODE);
	if (!blk) {
		prev.number = bpv7_bundle_free_number(&b);
		if (bpv7_bundle_add_block(&b, &prev) < 0)
			return -ENOSPC;
		blk = bpv7_bundle_find(&b, BPV7_BLOCK_PREV_NODE);
	}
	blk->ext.prev_node = a->node->eid;
	blk->data = NULL;
	blk->data_len = 0;
	return bpv7_encode_alloc(&b, ret);
}

/*
 * Hand bundle id to the link towards its destination, if one is up and not
 * full. Returns -EBUSY when that link is full (a walk can stop there), else 0.
 */
static int forward_one(struct agent *a, uint64_t id)
{
	struct store_meta meta;
	const uint8_t *p;
	uint8_t *copy, *wire = NULL;
	struct bp_eid dest;
	const char *why;
	struct report_subject *subject = NULL;
	struct link *l;
	size_t len, max, grow;
	long n;
	int r;

	if (!a->links || store_get(a->store, id, &meta) < 0 || meta.state != STORE_STATE_FORWARD ||
	    bp_eid_parse(meta.dest, strlen(meta.dest), &dest, &why) < 0)
		return 0;
	l = links_route(a->links, &dest);
	if (l && link_busy(l))
		return -EBUSY; /* it waits its turn: more go when the link acknowledges */
	if (!l || store_load(a->store, id, &p, &len, &copy) < 0)
		return 0; /* it waits: store and forward */
	n = forward_encode(a, p, len, meta.expiry, &wire, &subject);
	free(copy);
	max = link_max_bundle(l);
	if (n > 0 && max && (size_t)n > max) {
		/* 5.8: proactive fragmentation; the fragments come back through the store. */
		free(wire);
		free(subject); /* each fragment is reported as it goes */
		grow = (size_t)n > len ? (size_t)n - len : 0;
		r = fragments_split(a->frags, id, max, grow + FRAGMENT_SLACK);
		if (r < 0)
			log_debug(
				"bundle %llu for %s: %zu bytes, over %s's %zu, cannot be split: %s",
				(unsigned long long)id, meta.dest, len, link_peer(l), max,
				strerror(-r));
		return 0;
	}
	if (n < 0)
		free(subject);
	if (n == -ELOOP) {
		(void)forget_bundle(a, id, "hop limit exceeded", BPV7_REASON_HOP_LIMIT_EXCEEDED);
		return 0;
	}
	if (n < 0) {
		log_warn("bundle %llu for %s: cannot forward: %s", (unsigned long long)id,
			 meta.dest, strerror((int)-n));
		return 0;
	}
	if (link_send(l, id, wire, (size_t)n) == 0) {
		wire = NULL; /* the link's now */
		(void)store_set_state(a->store, id, STORE_STATE_IN_TRANSIT, link_id(l));
		if (subject) { /* reported once the link confirms it (5.4 step 6) */
			struct fwd_report *fr = malloc(sizeof(*fr));

			if (fr) {
				fr->id = id;
				fr->subject = *subject;
				fr->next = a->fwd_reports;
				a->fwd_reports = fr;
			}
		}
	}
	free(subject);
	free(wire);
	return 0;
}

static int forward_each(void *ctx, const struct store_meta *m)
{
	struct agent *a = ctx;

	/*
	 * A busy link takes nothing more in this walk, so bundles keep their
	 * order per link; once no link can take any, the walk ends. It
	 * resumes on an ack, or when a link says it is ready.
	 */
	return forward_one(a, m->id) == -EBUSY && links_all_busy(a->links);
}

/* Every bundle waiting for a link: try again. */
static void forward_all(struct agent *a)
{
	struct store_filter f = { .states = STORE_STATE_BIT(STORE_STATE_FORWARD) };

	(void)store_iterate(a->store, &f, forward_each, a);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *a = w->data;

	forward_all(a);
}

static void retry_later(struct agent *a)
{
	if (ev_is_active(&a->retry))
		return;
	ev_timer_set(&a->retry, a->retry_s, 0.);
	ev_timer_start(a->loop, &a->retry);
	a->retry_s = a->retry_s * 2 > FORWARD_RETRY_MAX_S ? FORWARD_RETRY_MAX_S : a->retry_s * 2;
}

void agent_set_links(struct agent *a, struct links *ls)
{
	a->links = ls;
	forward_all(a); /* what recovery found waiting */
}

void agent_link_up(struct agent *a, struct link *l)
{
	forward_all(a);
}

void agent_link_down(struct agent *a, struct link *l)
{
}

void agent_link_ready(struct agent *a, struct link *l)
{
	forward_all(a);
}

void agent_set_reports(struct agent *a, bool on)
{
	a->reports = on;
}

void agent_stats(const struct agent *a, struct agent_stats *ret)
{
	*ret = a->stats;
	ret->reassembly_waiting = fragments_waiting(a->frags);
}

/* The forwarding report waiting for id's transfer, taken off the list (or NULL). */
static struct fwd_report *fwd_report_take(struct agent *a, uint64_t id)
{
	for (struct fwd_report **pp = &a->fwd_reports; *pp; pp = &(*pp)->next) {
		struct fwd_report *fr = *pp;

		if (fr->id == id) {
			*pp = fr->next;
			return fr;
		}
	}
	return NULL;
}

void agent_link_sent(struct agent *a, struct link *l, uint64_t id, int status)
{
	struct fwd_report *fr = a->fwd_reports ? fwd_report_take(a, id) : NULL;
	struct store_meta meta;

	if (fr && status == 0)
		maybe_report(a, &fr->subject, BPV7_STATUS_FORWARDED, BPV7_REASON_NONE);
	free(fr);

	if (store_get(a->store, id, &meta) < 0 || meta.state != STORE_STATE_IN_TRANSIT)
		return; /* deleted meanwhile (expired, an operator) */
	if (status == 0) {
		a->retry_s = FORWARD_RETRY_MIN_S;
		/* 5.4 step 6: forwarded; the node keeps no copy. */
		a->stats.forwarded++;
		log_debug("bundle %llu for %s: forwarded to %s", (unsigned long long)id, meta.dest,
			  link_peer(l));
		(void)store_delete(a->store, id);
		forward_all(a); /* room on the link: the next ones */
		return;
	}
	/* 5.4.2: not forwarded now; it waits for another chance, later each time. */
	(void)store_set_state(a->store, id, STORE_STATE_FORWARD, 0);
	retry_later(a);
}

static void recv_op_unlink(struct recv_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		op->a->recvs = op->next;
	if (op->next)
		op->next->prev = op->prev;
}

static void on_received_stored(void *ctx, uint64_t id, int status)
{
	struct recv_op *op = ctx;
	struct agent *a = op->a;
	struct link *l = links_get(a->links, op->link);

	recv_op_unlink(op);
	/* Only now, durable, does the peer hear that we have it (RFC 9174 5.2.3). */
	if (l)
		link_accept(l, op->xfer, status, CL_REFUSE_NO_RESOURCES);
	if (status < 0)
		a->stats.refused_full++;
	if (status == 0) {
		a->stats.received++;
		watch_expiry(a, id, op->expiry);
		if (op->local && op->fragment)
			(void)fragments_add(a->frags, id); /* 5.9: delivered once whole */
		else if (op->local)
			deliver_local(a, op->dest, id);
		else
			(void)forward_one(a, id);
	}
	free(op);
}

void agent_link_received(struct agent *a, struct link *l, uint64_t xfer, const uint8_t *data,
			 size_t len)
{
	struct recv_op *op = calloc(1, sizeof(*op));
	struct store_seg seg = { .ptr = data, .fd = -1, .len = len };
	char source[EID_TEXT_MAX];
	struct store_put_req put;
	struct bpv7_bundle b;
	struct bpv7_error err;
	bool block_report = false, unsupported;
	uint64_t id;
	int r;

	if (!op) {
		link_accept(l, xfer, -ENOMEM, CL_REFUSE_NO_RESOURCES);
		return;
	}
	/* 5.6: a bundle that does not decode is not acceptable. */
	if (bpv7_decode(data, len, 0, &b, &err) < 0 ||
	    bp_eid_format(&b.primary.dest, op->dest, sizeof(op->dest)) < 0 ||
	    bp_eid_format(&b.primary.source, source, sizeof(source)) < 0) {
		a->stats.refused_bad++;
		log_info("link %u (%s): a bundle that does not decode (%s): refused", link_id(l),
			 link_peer(l), bpv7_error_name(err.code));
		link_accept(l, xfer, -EBADMSG, CL_REFUSE_NOT_ACCEPTABLE);
		free(op);
		return;
	}
	/* 5.6 step 4: blocks this node cannot process may ask for a report, or deletion. */
	unsupported = bpv7_bundle_apply_unknown_blocks(&b, &block_report) == 1;
	if (a->reports) {
		struct report_subject *subj = malloc(sizeof(*subj));

		if (subj) {
			report_subject_of(&b, subj);
			/* 5.6 step 2; a block's own request needs no bundle flag (4.2.4). */
			if (block_report)
				subj->flags |= BPV7_BPF_RPT_RECEPTION;
			maybe_report(a, subj, BPV7_STATUS_RECEIVED,
				     block_report ? BPV7_REASON_BLOCK_UNSUPPORTED :
						    BPV7_REASON_NONE);
			if (unsupported)
				maybe_report(a, subj, BPV7_STATUS_DELETED,
					     BPV7_REASON_BLOCK_UNSUPPORTED);
		}
		free(subj);
	}
	if (unsupported) {
		/* Received whole, then deleted (5.10): the peer is done with it. */
		log_info("link %u (%s): a bundle for %s with a block it may not be forwarded "
			 "without: deleted",
			 link_id(l), link_peer(l), op->dest);
		a->stats.deleted[BPV7_REASON_BLOCK_UNSUPPORTED]++;
		link_accept(l, xfer, 0, CL_REFUSE_NOT_ACCEPTABLE);
		free(op);
		return;
	}
	op->a = a;
	op->link = link_id(l);
	op->xfer = xfer;
	op->local = node_id_owns(a->node, &b.primary.dest);
	op->fragment = b.primary.flags & BPV7_BPF_IS_FRAGMENT;
	op->expiry = expiry_of(&b);
	put = (struct store_put_req){
		.dest = op->dest,
		.source = source,
		.creation_time = b.primary.creation_time,
		.sequence = b.primary.sequence,
		.is_fragment = b.primary.flags & BPV7_BPF_IS_FRAGMENT,
		.frag_offset = b.primary.frag_offset,
		.frag_len = bpv7_bundle_payload_const(&b)->data_len,
		.expiry = op->expiry,
		.state = op->local ? STORE_STATE_QUEUED_LOCAL : STORE_STATE_FORWARD,
		.segs = &seg,
		.nsegs = 1,
	};
	r = store_put(a->store, &put, on_received_stored, op, &id);
	if (r < 0) {
		/* A full store refuses inbound transfers (issue 4); the node goes on. */
		a->stats.refused_full++;
		link_accept(l, xfer, r,
			    r == -ENOBUFS ? CL_REFUSE_NO_RESOURCES : CL_REFUSE_NOT_ACCEPTABLE);
		free(op);
		return;
	}
	op->next = a->recvs;
	if (a->recvs)
		a->recvs->prev = op;
	a->recvs = op;
}

static void frag_stored(void *ctx, uint64_t id, uint64_t expiry)
{
	watch_expiry(ctx, id, expiry);
}

static void frag_split(void *ctx, uint64_t id, int status)
{
	struct agent *a = ctx;

	if (status == 0) {
		forward_all(a); /* the fragments, in order */
	} else {
		log_warn("bundle %llu: its fragments could not be stored (%s); it waits",
			 (unsigned long long)id, strerror(-status));
		retry_later(a);
	}
}

static void frag_whole(void *ctx, uint64_t id, const char *dest)
{
	deliver_local(ctx, dest, id);
}

static const struct fragments_ops frag_ops = {
	.stored = frag_stored,
	.split = frag_split,
	.whole = frag_whole,
};

struct agent *agent_new(struct ev_loop *loop, const struct node_id *node, struct store *store)
{
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->loop = loop;
	a->node = node;
	a->store = store;
	a->expiry = expiry_new(loop, on_expire, a);
	a->frags = fragments_new(store, &frag_ops, a);
	if (!a->expiry || !a->frags) {
		expiry_free(a->expiry);
		fragments_free(a->frags);
		free(a);
		return NULL;
	}
	ev_timer_init(&a->retry, retry_cb, FORWARD_RETRY_MIN_S, 0.);
	a->retry_s = FORWARD_RETRY_MIN_S;
	a->reports = true;
	a->retry.data = a;
	return a;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	/* Sends still being stored: their callers hear -ECANCELED. */
	while (a->sends) {
		struct send_op *op = a->sends;

		a->sends = op->next;
		op->done(op->ctx, -ECANCELED, NULL);
		send_op_free(op);
	}
	while (a->recvs) {
		struct recv_op *op = a->recvs;

		a->recvs = op->next;
		free(op);
	}
	ev_timer_stop(a->loop, &a->retry);
	while (a->fwd_reports) {
		struct fwd_report *fr = a->fwd_reports;

		a->fwd_reports = fr->next;
		free(fr);
	}
	for (size_t i = 0; i < a->nbuckets; i++) {
		while (a->buckets[i]) {
			struct endpoint *ep = a->buckets[i];

			a->buckets[i] = ep->next;
			free(ep->queue.ids);
			free(ep);
		}
	}
	free(a->buckets);
	expiry_free(a->expiry);
	fragments_free(a->frags);
	free(a);
}
