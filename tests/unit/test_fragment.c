/* SPDX-License-Identifier: MIT */
/* Fragmentation (RFC 9171 5.8) and reassembly (RFC 9171 5.9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "encode.h"
#include "fragment.h"
#include "vectors.h"

/* Small deterministic PRNG (xorshift64*) so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi]. */
static size_t rng_range(size_t lo, size_t hi)
{
	return lo + (size_t)(rng() % (hi - lo + 1));
}

static struct bpv7_bundle *bundle_new(void)
{
	struct bpv7_bundle *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	return b;
}

static struct bpv7_bundle *bundles_new(size_t n)
{
	struct bpv7_bundle *b = calloc(n ? n : 1, sizeof(*b));

	assert_non_null(b);
	return b;
}

static const uint8_t opaque_data[] = { 0x63, 'x', 'y', 'z' };

/*
 * A bundle built by hand with every kind of block: hop count and previous
 * node (not flagged "replicate", carried by every fragment all the same),
 * bundle age and an unknown type (flagged), and a payload of len bytes in
 * pattern.
 */
static void build_bundle(struct bpv7_bundle *b, uint8_t *payload, size_t len)
{
	struct bpv7_block blk;

	bpv7_bundle_init(b);
	b->primary.flags = BPV7_BPF_RPT_DELIVERY;
	bp_eid_set_ipn(&b->primary.dest, 2, 1);
	bp_eid_set_ipn(&b->primary.source, 1, 7);
	bp_eid_set_ipn(&b->primary.report_to, 1, 0);
	b->primary.creation_time = 755533838904ull;
	b->primary.sequence = 3;
	b->primary.lifetime = 3600000;
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 7 + (i >> 8));

	blk = (struct bpv7_block){ .type = BPV7_BLOCK_HOP_COUNT, .number = 2 };
	blk.ext.hop.limit = 30;
	blk.ext.hop.count = 1;
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_PREV_NODE,
				   .number = 3,
				   .crc_type = BPV7_CRC_16 };
	bp_eid_set_ipn(&blk.ext.prev_node, 9, 0);
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_BUNDLE_AGE,
				   .number = 4,
				   .flags = BPV7_BLKF_REPLICATE };
	blk.ext.age_ms = 1234;
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
	blk = (struct bpv7_block){ .type = 192,
				   .number = 5,
				   .flags = BPV7_BLKF_REPLICATE,
				   .crc_type = BPV7_CRC_32C,
				   .data = opaque_data,
				   .data_len = sizeof(opaque_data) };
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
	blk = (struct bpv7_block){ .type = BPV7_BLOCK_PAYLOAD,
				   .number = 1,
				   .crc_type = BPV7_CRC_32C,
				   .data = payload,
				   .data_len = len };
	assert_int_equal(bpv7_bundle_add_block(b, &blk), 0);
}

/* Blocks must be the same block: same header and the very same data pointer. */
static void assert_block_shared(const struct bpv7_block *a, const struct bpv7_block *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->number, b->number);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->crc_type, b->crc_type);
	assert_ptr_equal(a->data, b->data);
	assert_int_equal(a->data_len, b->data_len);
}

/* RFC 9171 5.8 for a split of b into frags by sizes. */
static void check_split(const struct bpv7_bundle *b, const struct bpv7_bundle *frags,
			const size_t *sizes, size_t n)
{
	const struct bpv7_block *op = bpv7_bundle_payload_const(b);
	bool was_frag = b->primary.flags & BPV7_BPF_IS_FRAGMENT;
	uint64_t base = was_frag ? b->primary.frag_offset : 0;
	uint64_t total = was_frag ? b->primary.total_adu_len : op->data_len;
	size_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		const struct bpv7_bundle *f = &frags[i];
		const struct bpv7_block *fp = bpv7_bundle_payload_const(f);
		unsigned k = 0;

		assert_int_equal(f->primary.flags, b->primary.flags | BPV7_BPF_IS_FRAGMENT);
		assert_int_equal(f->primary.frag_offset, base + pos);
		assert_int_equal(f->primary.total_adu_len, total);
		assert_true(bp_eid_equal(&f->primary.source, &b->primary.source));
		assert_int_equal(f->primary.creation_time, b->primary.creation_time);
		assert_int_equal(f->primary.sequence, b->primary.sequence);
		/* Zero copy: the payload points into the original's. */
		assert_ptr_equal(fp->data, op->data + pos);
		assert_int_equal(fp->data_len, sizes[i]);
		assert_int_equal(fp->number, op->number);
		assert_int_equal(fp->flags, op->flags);
		for (unsigned j = 0; j + 1 < b->nblocks; j++) {
			uint64_t t = b->blocks[j].type;
			bool per_bundle = t == BPV7_BLOCK_PREV_NODE || t == BPV7_BLOCK_BUNDLE_AGE ||
					  t == BPV7_BLOCK_HOP_COUNT;

			if (i > 0 && !(b->blocks[j].flags & BPV7_BLKF_REPLICATE) && !per_bundle)
				continue;
			assert_true(k + 1 < f->nblocks);
			assert_block_shared(&f->blocks[k++], &b->blocks[j]);
		}
		assert_int_equal(k + 1, f->nblocks);
		pos += sizes[i];
	}
	assert_int_equal(pos, op->data_len);
}

static void every_fragment_of_a_clockless_bundle_carries_its_age(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(2), *out = bundle_new();
	const size_t sizes[] = { 50, 50 };
	struct bpv7_error err;
	uint8_t *buf = NULL;
	long n;

	build_bundle(b, payload, sizeof(payload));
	b->primary.creation_time = 0; /* RFC 9171 4.4.2: an age block is a must */
	b->blocks[2].flags = 0;	      /* and not flagged "replicate" */
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);
	n = bpv7_encode_alloc(&frags[1], &buf);
	assert_true(n > 0);
	assert_int_equal(bpv7_decode(buf, (size_t)n, 0, out, &err), 0);
	assert_false(out->findings & BPV7_F_NO_AGE_BLOCK);
	assert_non_null(bpv7_bundle_find(out, BPV7_BLOCK_BUNDLE_AGE));
	assert_non_null(bpv7_bundle_find(out, BPV7_BLOCK_HOP_COUNT));
	assert_non_null(bpv7_bundle_find(out, 192)); /* flagged "replicate" */
	free(buf);
	free(out);
	free(frags);
	free(b);
}

static void fragment_shares_blocks_and_payload(void **state)
{
	static uint8_t payload[1000];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(3);
	const size_t sizes[] = { 1, 600, 399 };

	struct bpv7_block local = {
		.type = 193, .number = 6, .data = opaque_data, .data_len = sizeof(opaque_data)
	};

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_bundle_add_block(b, &local), 0); /* not "replicate" */
	assert_int_equal(bpv7_fragment(b, sizes, 3, frags), 0);
	check_split(b, frags, sizes, 3);
	/* First: all five extension blocks; the others all but type 193. */
	assert_int_equal(frags[0].nblocks, 6);
	assert_int_equal(frags[1].nblocks, 5);
	assert_int_equal(frags[2].nblocks, 5);
	assert_int_equal(frags[2].blocks[0].type, BPV7_BLOCK_HOP_COUNT);
	assert_int_equal(frags[2].blocks[3].type, 192);
	assert_int_equal(frags[2].blocks[4].type, BPV7_BLOCK_PAYLOAD);
	free(frags);
	free(b);
}

static void fragment_of_fragment_stays_relative_to_adu(void **state)
{
	static uint8_t payload[500];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(2), *sub = bundles_new(3);
	const size_t sizes[] = { 100, 400 }, sub_sizes[] = { 50, 300, 50 };

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);
	assert_int_equal(bpv7_fragment(&frags[1], sub_sizes, 3, sub), 0);
	check_split(&frags[1], sub, sub_sizes, 3);
	assert_int_equal(sub[0].primary.frag_offset, 100);
	assert_int_equal(sub[1].primary.frag_offset, 150);
	assert_int_equal(sub[2].primary.frag_offset, 450);
	assert_int_equal(sub[2].primary.total_adu_len, 500);
	assert_ptr_equal(bpv7_bundle_payload(&sub[2])->data, payload + 450);
	free(sub);
	free(frags);
	free(b);
}

static void fragment_refuses_must_not_fragment(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(2);
	const size_t sizes[] = { 50, 50 };
	size_t plan[4];

	build_bundle(b, payload, sizeof(payload));
	b->primary.flags |= BPV7_BPF_MUST_NOT_FRAGMENT;
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), -EPERM);
	assert_int_equal(bpv7_fragment_plan(b, 80, plan, 4), -EPERM);
	free(frags);
	free(b);
}

static void fragment_refuses_sizes_that_do_not_add_up(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(3);
	const size_t short_sizes[] = { 50, 49 }, long_sizes[] = { 50, 51 };
	const size_t zero_sizes[] = { 50, 0, 50 }, huge_sizes[] = { 50, SIZE_MAX - 10, 61 };

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, short_sizes, 2, frags), -EINVAL);
	assert_int_equal(bpv7_fragment(b, long_sizes, 2, frags), -EINVAL);
	assert_int_equal(bpv7_fragment(b, zero_sizes, 3, frags), -EINVAL);
	assert_int_equal(bpv7_fragment(b, huge_sizes, 3, frags), -EINVAL);
	assert_int_equal(bpv7_fragment(b, short_sizes, 0, frags), -EINVAL);
	/* A fragment whose payload reaches past its ADU (RFC 9171 4.3.1). */
	b->primary.flags |= BPV7_BPF_IS_FRAGMENT;
	b->primary.total_adu_len = 120;
	b->primary.frag_offset = 21;
	assert_int_equal(bpv7_fragment(b, long_sizes, 2, frags), -EINVAL);
	assert_int_equal(bpv7_fragment_plan(b, 1000, NULL, 0), -EINVAL);
	b->primary.frag_offset = 20;
	assert_int_equal(bpv7_fragment(b, (const size_t[]){ 50, 50 }, 2, frags), 0);
	assert_int_equal(frags[1].primary.frag_offset, 70);
	b->primary.frag_offset = UINT64_MAX - 10;
	b->primary.total_adu_len = UINT64_MAX;
	assert_int_equal(bpv7_fragment(b, (const size_t[]){ 50, 50 }, 2, frags), -EINVAL);
	free(frags);
	free(b);
}

/* Encoded size of the fragment of b at [pos, pos + len), first of its split or not. */
static long piece_size(const struct bpv7_bundle *b, size_t pos, size_t len, bool first)
{
	size_t total = bpv7_bundle_payload_const(b)->data_len;
	struct bpv7_bundle *f = bundles_new(3);
	size_t sizes[3], n = 0;
	long size;

	/* Built through a real split; a lead-in piece makes it not first. */
	assert_true(first ? pos == 0 : pos > 0);
	if (pos)
		sizes[n++] = pos;
	sizes[n++] = len;
	if (pos + len < total)
		sizes[n++] = total - pos - len;
	assert_int_equal(bpv7_fragment(b, sizes, n, f), 0);
	size = bpv7_encoded_size(&f[pos ? 1 : 0]);
	free(f);
	return size;
}

/*
 * plan() against its contract for one max_size: every fragment within the
 * limit, each (but the last) as large as it can be, and -EMSGSIZE only when
 * some 1-byte fragment would not fit.
 */
static void check_plan(const struct bpv7_bundle *b, size_t max_size)
{
	const struct bpv7_block *p = bpv7_bundle_payload_const(b);
	long n = bpv7_fragment_plan(b, max_size, NULL, 0), n2;
	size_t *sizes, sentinel[2];
	struct bpv7_bundle *frags;
	long bound_first = piece_size(b, 0, 1, true);
	long bound_last = p->data_len > 1 ? piece_size(b, p->data_len - 1, 1, false) : 0;

	if (n == -EMSGSIZE) {
		assert_true(max_size < (size_t)bound_first || max_size < (size_t)bound_last);
		return;
	}
	assert_true(n > 0);
	sizes = calloc((size_t)n + 1, sizeof(*sizes));
	frags = bundles_new((size_t)n);
	assert_non_null(sizes);
	sizes[n] = 0x5a5a;
	assert_int_equal(bpv7_fragment_plan(b, max_size, sizes, (size_t)n), n);
	assert_int_equal(sizes[n], 0x5a5a);
	/* A short array gets what fits and the full count. */
	sentinel[0] = 0;
	sentinel[1] = 0x5a5a;
	n2 = bpv7_fragment_plan(b, max_size, sentinel, 1);
	assert_int_equal(n2, n);
	assert_int_equal(sentinel[0], sizes[0]);
	assert_int_equal(sentinel[1], 0x5a5a);

	assert_int_equal(bpv7_fragment(b, sizes, (size_t)n, frags), 0);
	for (long i = 0; i < n; i++) {
		long size = bpv7_encoded_size(&frags[i]);

		assert_true(size > 0 && (size_t)size <= max_size);
		if (i + 1 < n) {
			/* One byte more would not have fitted. */
			bpv7_bundle_payload(&frags[i])->data_len++;
			assert_true((size_t)bpv7_encoded_size(&frags[i]) > max_size);
		}
	}
	free(frags);
	free(sizes);
}

static void plan_fits_every_max_size(void **state)
{
	static uint8_t payload[300];
	struct bpv7_bundle *b = bundle_new(), *f;
	long whole;

	build_bundle(b, payload, sizeof(payload));
	whole = bpv7_encoded_size(b);
	assert_true(whole > 0);
	for (size_t max = 1; max < (size_t)whole + 64; max++)
		check_plan(b, max);
	/* The same from a fragment in the middle of a larger ADU. */
	f = bundles_new(2);
	assert_int_equal(bpv7_fragment(b, (const size_t[]){ 20, 280 }, 2, f), 0);
	for (size_t max = 1; max < (size_t)whole + 64; max++)
		check_plan(&f[1], max);
	free(f);
	free(b);
}

static void plan_fits_across_head_sizes(void **state)
{
	/* Payload lengths where the byte string head grows, and two others. */
	static const size_t edges[] = { 23, 255, 1000, 65535, 70000 };
	const size_t len = 70000;
	uint8_t *payload = malloc(len);
	struct bpv7_bundle *b = bundle_new();
	size_t over;

	assert_non_null(payload);
	build_bundle(b, payload, len);
	/* A 1-byte first fragment: overhead, offset head, bstr head, 1 byte. */
	over = (size_t)piece_size(b, 0, 1, true) - 3;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		for (size_t d = 0; d <= 16; d++)
			check_plan(b, over + edges[i] + d - 6);
	check_plan(b, (size_t)bpv7_encoded_size(b) + 20);
	free(b);
	free(payload);
}

static void plan_refuses_when_one_byte_does_not_fit(void **state)
{
	static uint8_t payload[10];
	struct bpv7_bundle *b = bundle_new();
	size_t sizes[16];
	long min = 0;

	build_bundle(b, payload, sizeof(payload));
	min = piece_size(b, 0, 1, true);
	assert_int_equal(bpv7_fragment_plan(b, (size_t)min - 1, sizes, 16), -EMSGSIZE);
	assert_true(bpv7_fragment_plan(b, (size_t)min, sizes, 16) > 0);
	assert_int_equal(bpv7_fragment_plan(b, 0, sizes, 16), -EMSGSIZE);
	free(b);
}

/* Shuffle an array of bundles in place. */
static void shuffle(struct bpv7_bundle *f, size_t n)
{
	struct bpv7_bundle *tmp = bundle_new();

	for (size_t i = n; i > 1; i--) {
		size_t j = rng_range(0, i - 1);

		*tmp = f[i - 1];
		f[i - 1] = f[j];
		f[j] = *tmp;
	}
	free(tmp);
}

/* Random sizes adding up to len, at most max_n of them; returns the count. */
static size_t random_sizes(size_t len, size_t *sizes, size_t max_n)
{
	size_t n = rng_range(1, len < max_n ? len : max_n), left = len;

	for (size_t i = 0; i + 1 < n; i++) {
		sizes[i] = rng_range(1, left - (n - 1 - i));
		left -= sizes[i];
	}
	sizes[n - 1] = left;
	return n;
}

static void assert_reassembles_to(const struct bpv7_bundle *frags, size_t n, const uint8_t *want,
				  size_t want_len)
{
	uint8_t *out = NULL;
	long len = bpv7_reassemble(frags, n, &out);

	assert_int_equal(len, (long)want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
}

/*
 * Encode every fragment and decode it back: the wire form says fragment,
 * with the offset and total we meant. Returns the decoded fragments, which
 * point into *ret_wires (one malloc'd buffer per fragment).
 */
static struct bpv7_bundle *through_wire(const struct bpv7_bundle *frags, size_t n,
					uint8_t ***ret_wires)
{
	struct bpv7_bundle *out = bundles_new(n);
	uint8_t **wires = calloc(n ? n : 1, sizeof(*wires));

	assert_non_null(wires);
	for (size_t i = 0; i < n; i++) {
		struct bpv7_error err;
		long len = bpv7_encode_alloc(&frags[i], &wires[i]);

		assert_true(len > 0);
		assert_int_equal(bpv7_decode(wires[i], (size_t)len, 0, &out[i], &err), 0);
		assert_true(out[i].primary.flags & BPV7_BPF_IS_FRAGMENT);
		assert_int_equal(out[i].primary.flags, frags[i].primary.flags);
		assert_int_equal(out[i].primary.frag_offset, frags[i].primary.frag_offset);
		assert_int_equal(out[i].primary.total_adu_len, frags[i].primary.total_adu_len);
		assert_int_equal(out[i].nblocks, frags[i].nblocks);
		assert_int_equal(bpv7_bundle_payload(&out[i])->data_len,
				 bpv7_bundle_payload_const(&frags[i])->data_len);
		assert_false(out[i].findings & (BPV7_F_NONCANONICAL | BPV7_F_FRAGMENT_RANGE));
	}
	*ret_wires = wires;
	return out;
}

static void free_wires(uint8_t **wires, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(wires[i]);
	free(wires);
}

#define MAX_PIECES 8

/*
 * Random rounds on one decoded bundle: split, shuffle, sometimes add the
 * pieces of a second split (overlapping), and reassemble, in memory and
 * through the wire. want is the original's deterministic encoding.
 */
static void reassembly_rounds(const struct bpv7_bundle *b, const uint8_t *want, size_t want_len)
{
	size_t len = bpv7_bundle_payload_const(b)->data_len;
	struct bpv7_bundle *frags = bundles_new(2 * MAX_PIECES);
	size_t sizes[MAX_PIECES];

	for (unsigned round = 0; round < 40; round++) {
		size_t n = random_sizes(len, sizes, MAX_PIECES), n2 = 0;
		struct bpv7_bundle *decoded;
		uint8_t **wires;

		assert_int_equal(bpv7_fragment(b, sizes, n, frags), 0);
		check_split(b, frags, sizes, n);
		if (round % 2) {
			n2 = random_sizes(len, sizes, MAX_PIECES);
			assert_int_equal(bpv7_fragment(b, sizes, n2, frags + n), 0);
		}
		shuffle(frags, n + n2);
		assert_reassembles_to(frags, n + n2, want, want_len);
		decoded = through_wire(frags, n + n2, &wires);
		assert_reassembles_to(decoded, n + n2, want, want_len);
		free_wires(wires, n + n2);
		free(decoded);
	}
	free(frags);
}

/* Split b, then split one of its fragments again, and reassemble the mix. */
static void reassembly_of_refragmented(const struct bpv7_bundle *b, const uint8_t *want,
				       size_t want_len)
{
	size_t len = bpv7_bundle_payload_const(b)->data_len;
	struct bpv7_bundle *frags = bundles_new(2 * MAX_PIECES), *sub = bundles_new(MAX_PIECES);
	size_t sizes[MAX_PIECES];

	for (unsigned round = 0; round < 20; round++) {
		size_t n = random_sizes(len, sizes, MAX_PIECES), pick = rng_range(0, n - 1), m;
		const struct bpv7_block *pp;

		assert_int_equal(bpv7_fragment(b, sizes, n, frags), 0);
		pp = bpv7_bundle_payload_const(&frags[pick]);
		m = random_sizes(pp->data_len, sizes, MAX_PIECES);
		assert_int_equal(bpv7_fragment(&frags[pick], sizes, m, sub), 0);
		check_split(&frags[pick], sub, sizes, m);
		/* Replace the picked fragment by its pieces. */
		frags[pick] = frags[n - 1];
		memcpy(&frags[n - 1], sub, m * sizeof(*sub));
		shuffle(frags, n - 1 + m);
		assert_reassembles_to(frags, n - 1 + m, want, want_len);
	}
	free(sub);
	free(frags);
}

/* Every vector that decodes and may be fragmented; returns how many there were. */
static unsigned for_each_vector(void (*fn)(const struct bpv7_bundle *, const uint8_t *, size_t,
					   const char *))
{
	DIR *dir = opendir(BPSOCK_VECTORS "/bpv7");
	struct dirent *de;
	unsigned used = 0;

	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char rel[512];
		size_t len, nlen = strlen(de->d_name);
		struct bpv7_bundle *b;
		struct bpv7_error err;
		uint8_t *wire;

		if (nlen < 5 || strcmp(de->d_name + nlen - 4, ".hex") != 0)
			continue;
		snprintf(rel, sizeof(rel), "bpv7/%s", de->d_name);
		wire = vector_load(rel, &len);
		assert_non_null(wire);
		b = bundle_new();
		if (bpv7_decode(wire, len, 0, b, &err) == 0) {
			fn(b, wire, len, de->d_name);
			used++;
		}
		free(b);
		free(wire);
	}
	closedir(dir);
	return used;
}

static unsigned fragmented_vectors;

static void vector_round_trip(const struct bpv7_bundle *b, const uint8_t *wire, size_t len,
			      const char *name)
{
	uint8_t *want;
	long want_len;
	size_t sizes[2] = { 1, 1 };
	struct bpv7_bundle *frags = bundles_new(2);

	if (b->primary.flags & BPV7_BPF_MUST_NOT_FRAGMENT) {
		assert_int_equal(bpv7_fragment(b, sizes, 1, frags), -EPERM);
		free(frags);
		return;
	}
	if (bpv7_bundle_payload_const(b)->data_len == 0) {
		assert_int_equal(bpv7_fragment(b, sizes, 1, frags), -EINVAL);
		free(frags);
		return;
	}
	free(frags);
	want_len = bpv7_encode_alloc(b, &want);
	assert_true(want_len > 0);
	/* Deterministic input: the re-encoding is the original byte for byte. */
	if (!(b->findings & BPV7_F_NONCANONICAL)) {
		assert_int_equal(want_len, (long)len);
		assert_memory_equal(want, wire, len);
	}
	print_message("%s: payload %zu bytes\n", name, bpv7_bundle_payload_const(b)->data_len);
	reassembly_rounds(b, want, (size_t)want_len);
	reassembly_of_refragmented(b, want, (size_t)want_len);
	fragmented_vectors++;
	free(want);
}

static void reassembly_of_vectors_is_byte_exact(void **state)
{
	unsigned decoded = for_each_vector(vector_round_trip);

	assert_true(decoded >= 8);
	assert_true(fragmented_vectors >= 8);
}

static void vector_plan(const struct bpv7_bundle *b, const uint8_t *wire, size_t len,
			const char *name)
{
	if (b->primary.flags & BPV7_BPF_MUST_NOT_FRAGMENT) {
		assert_int_equal(bpv7_fragment_plan(b, len, NULL, 0), -EPERM);
		return;
	}
	for (size_t max = 1; max < len + 16; max++)
		check_plan(b, max);
}

static void plan_fits_every_max_size_on_vectors(void **state)
{
	assert_true(for_each_vector(vector_plan) >= 8);
}

static void reassembly_of_built_bundle_is_byte_exact(void **state)
{
	const size_t len = 3000;
	uint8_t *payload = malloc(len), *want;
	struct bpv7_bundle *b = bundle_new(), *d = bundle_new();
	struct bpv7_error err;
	long want_len;

	assert_non_null(payload);
	build_bundle(b, payload, len);
	want_len = bpv7_encode_alloc(b, &want);
	assert_true(want_len > 0);
	/* Fragment the decoded form too: block data then points into the wire. */
	assert_int_equal(bpv7_decode(want, (size_t)want_len, 0, d, &err), 0);
	reassembly_rounds(b, want, (size_t)want_len);
	reassembly_rounds(d, want, (size_t)want_len);
	reassembly_of_refragmented(d, want, (size_t)want_len);
	free(want);
	free(d);
	free(b);
	free(payload);
}

static void reassembly_waits_for_missing_piece(void **state)
{
	static uint8_t payload[200];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(5), *some = bundles_new(4);
	const size_t sizes[] = { 40, 40, 40, 40, 40 };
	static uint8_t untouched[] = "untouched";
	uint8_t *out = untouched;

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 5, frags), 0);
	for (size_t drop = 0; drop < 5; drop++) {
		size_t k = 0;

		for (size_t i = 0; i < 5; i++)
			if (i != drop)
				some[k++] = frags[i];
		assert_int_equal(bpv7_reassemble(some, 4, &out), -EAGAIN);
		assert_ptr_equal(out, untouched);
	}
	assert_int_equal(bpv7_reassemble(frags, 1, &out), -EAGAIN);
	assert_int_equal(bpv7_reassemble(&frags[4], 1, &out), -EAGAIN);
	free(some);
	free(frags);
	free(b);
}

static void reassembly_refuses_mixed_adus(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(2), *mix = bundles_new(2);
	const size_t sizes[] = { 50, 50 };
	uint8_t *out = NULL;

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);

	mix[0] = frags[0];
	mix[1] = frags[1];
	mix[1].primary.sequence++;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	mix[1] = frags[1];
	mix[1].primary.creation_time++;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	mix[1] = frags[1];
	bp_eid_set_ipn(&mix[1].primary.source, 1, 8);
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	mix[1] = frags[1];
	mix[1].primary.total_adu_len = 101;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	/* A bundle that is not a fragment. */
	mix[1] = *b;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	/* A fragment reaching past the ADU. */
	mix[1] = frags[1];
	mix[1].primary.frag_offset = 60;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	mix[1].primary.frag_offset = UINT64_MAX - 10;
	assert_int_equal(bpv7_reassemble(mix, 2, &out), -EINVAL);
	assert_int_equal(bpv7_reassemble(mix, 0, &out), -EINVAL);
	assert_null(out);
	free(mix);
	free(frags);
	free(b);
}

static void reassembly_refuses_overlaps_that_disagree(void **state)
{
	static uint8_t payload[100], other[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(3);
	const size_t sizes[] = { 60, 40 };
	uint8_t *out = NULL;

	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);
	memcpy(other, payload, sizeof(other));
	other[55] ^= 1;
	frags[2] = frags[1];
	frags[2].primary.frag_offset = 50;
	bpv7_bundle_payload(&frags[2])->data = other + 50;
	bpv7_bundle_payload(&frags[2])->data_len = 20;
	assert_int_equal(bpv7_reassemble(frags, 3, &out), -EINVAL);
	other[55] ^= 1;
	assert_true(bpv7_reassemble(frags, 3, &out) > 0);
	free(out);
	free(frags);
	free(b);
}

static void reassembly_keeps_blocks_of_first_fragment_at_offset_zero(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(3), *d = bundle_new();
	const size_t sizes[] = { 50, 50 };
	struct bpv7_error err;
	uint8_t *out = NULL;
	long len;

	/* Two fragmentation episodes whose offset-0 pieces saw different ages. */
	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);
	frags[2] = frags[0];
	bpv7_bundle_find(&frags[2], BPV7_BLOCK_BUNDLE_AGE)->ext.age_ms = 99999;
	for (unsigned order = 0; order < 2; order++) {
		struct bpv7_bundle set[3] = { frags[order ? 2 : 0], frags[1],
					      frags[order ? 0 : 2] };

		len = bpv7_reassemble(set, 3, &out);
		assert_true(len > 0);
		assert_int_equal(bpv7_decode(out, (size_t)len, 0, d, &err), 0);
		assert_int_equal(bpv7_bundle_find(d, BPV7_BLOCK_BUNDLE_AGE)->ext.age_ms,
				 order ? 99999 : 1234);
		free(out);
	}
	free(d);
	free(frags);
	free(b);
}

static void reassembly_does_not_trust_total_length(void **state)
{
	static uint8_t payload[100];
	struct bpv7_bundle *b = bundle_new(), *frags = bundles_new(2);
	const size_t sizes[] = { 50, 50 };
	uint8_t *out = NULL;

	/* A huge declared ADU that the fragments do not cover: no allocation of it. */
	build_bundle(b, payload, sizeof(payload));
	assert_int_equal(bpv7_fragment(b, sizes, 2, frags), 0);
	frags[0].primary.total_adu_len = frags[1].primary.total_adu_len = UINT64_MAX;
	assert_int_equal(bpv7_reassemble(frags, 2, &out), -EAGAIN);
	free(frags);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fragment_shares_blocks_and_payload),
		cmocka_unit_test(every_fragment_of_a_clockless_bundle_carries_its_age),
		cmocka_unit_test(fragment_of_fragment_stays_relative_to_adu),
		cmocka_unit_test(fragment_refuses_must_not_fragment),
		cmocka_unit_test(fragment_refuses_sizes_that_do_not_add_up),
		cmocka_unit_test(plan_fits_every_max_size),
		cmocka_unit_test(plan_fits_across_head_sizes),
		cmocka_unit_test(plan_refuses_when_one_byte_does_not_fit),
		cmocka_unit_test(reassembly_of_vectors_is_byte_exact),
		cmocka_unit_test(plan_fits_every_max_size_on_vectors),
		cmocka_unit_test(reassembly_of_built_bundle_is_byte_exact),
		cmocka_unit_test(reassembly_waits_for_missing_piece),
		cmocka_unit_test(reassembly_refuses_mixed_adus),
		cmocka_unit_test(reassembly_refuses_overlaps_that_disagree),
		cmocka_unit_test(reassembly_keeps_blocks_of_first_fragment_at_offset_zero),
		cmocka_unit_test(reassembly_does_not_trust_total_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
