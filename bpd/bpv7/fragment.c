/* SPDX-License-Identifier: MIT */
/*
 * Fragmentation (RFC 9171 5.8) and ADU reassembly (RFC 9171 5.9).
 */
#include "fragment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbuf.h"
#include "encode.h"

/* Where the ADU of b starts, and how long the whole ADU is (RFC 9171 4.3.1). */
static uint64_t adu_base(const struct bpv7_bundle *b)
{
	return b->primary.flags & BPV7_BPF_IS_FRAGMENT ? b->primary.frag_offset : 0;
}

static uint64_t adu_total(const struct bpv7_bundle *b, const struct bpv7_block *payload)
{
	if (b->primary.flags & BPV7_BPF_IS_FRAGMENT)
		return b->primary.total_adu_len;
	return payload->data_len;
}

/*
 * Blocks every fragment carries whatever their flags: they describe the
 * journey each fragment makes as a bundle of its own. A bundle created
 * without a clock must carry its age (RFC 9171 4.4.2), and a hop limit or
 * the previous node applies to each fragment (4.4.1, 4.4.3).
 */
static bool per_bundle_block(const struct bpv7_block *blk)
{
	return blk->type == BPV7_BLOCK_PREV_NODE || blk->type == BPV7_BLOCK_BUNDLE_AGE ||
	       blk->type == BPV7_BLOCK_HOP_COUNT;
}

/*
 * The fragment of b carrying payload bytes [pos, pos + len). RFC 9171 5.8:
 * its primary block says "fragment" with offset and total ADU length; the
 * first fragment of the split keeps every extension block, the others those
 * flagged "replicate in every fragment" and the per-bundle ones above.
 * Block data is shared.
 */
static void build_fragment(const struct bpv7_bundle *b, const struct bpv7_block *payload,
			   bool first, size_t pos, size_t len, struct bpv7_bundle *f)
{
	f->primary = b->primary;
	f->primary.flags |= BPV7_BPF_IS_FRAGMENT;
	f->primary.frag_offset = adu_base(b) + pos;
	f->primary.total_adu_len = adu_total(b, payload);
	f->primary.crc = 0;
	f->nblocks = 0;
	for (unsigned i = 0; i + 1 < b->nblocks; i++)
		if (first || (b->blocks[i].flags & BPV7_BLKF_REPLICATE) ||
		    per_bundle_block(&b->blocks[i]))
			f->blocks[f->nblocks++] = b->blocks[i];
	f->blocks[f->nblocks] = *payload;
	f->blocks[f->nblocks].data = payload->data ? payload->data + pos : NULL;
	f->blocks[f->nblocks].data_len = len;
	f->blocks[f->nblocks].crc = 0;
	f->nblocks++;
	f->findings = 0;
	f->wire = NULL;
	f->wire_len = 0;
	f->primary_len = 0;
}

/* Does the payload of a fragment lie within its ADU (RFC 9171 4.3.1)? */
static bool within_adu(const struct bpv7_primary *pr, const struct bpv7_block *payload)
{
	return payload->data_len <= pr->total_adu_len &&
	       pr->frag_offset <= pr->total_adu_len - payload->data_len;
}

static bool payload_usable(const struct bpv7_block *payload)
{
	return payload && payload->type == BPV7_BLOCK_PAYLOAD &&
	       (payload->data || !payload->data_len);
}

/*
 * The payload of a bundle that may be fragmented, or NULL (errno in *ret).
 * A fragment reaching past its ADU would make fragments past it: refused.
 */
static const struct bpv7_block *fragmentable_payload(const struct bpv7_bundle *b, int *ret)
{
	const struct bpv7_block *payload = bpv7_bundle_payload_const(b);

	*ret = 0;
	if (b->primary.flags & BPV7_BPF_MUST_NOT_FRAGMENT)
		*ret = -EPERM;
	else if (!payload_usable(payload))
		*ret = -EINVAL;
	else if ((b->primary.flags & BPV7_BPF_IS_FRAGMENT) && !within_adu(&b->primary, payload))
		*ret = -EINVAL;
	return *ret ? NULL : payload;
}

int bpv7_fragment(const struct bpv7_bundle *b, const size_t *sizes, size_t n,
		  struct bpv7_bundle *ret_frags)
{
	const struct bpv7_block *payload;
	size_t pos = 0;
	int r;

	payload = fragmentable_payload(b, &r);
	if (!payload)
		return r;
	/* RFC 9171 5.8: the payloads concatenate to the original payload. */
	for (size_t i = 0; i < n; i++) {
		if (sizes[i] == 0 || sizes[i] > payload->data_len - pos)
			return -EINVAL;
		pos += sizes[i];
	}
	if (n == 0 || pos != payload->data_len)
		return -EINVAL;
	pos = 0;
	for (size_t i = 0; i < n; i++) {
		build_fragment(b, payload, i == 0, pos, sizes[i], &ret_frags[i]);
		pos += sizes[i];
	}
	return 0;
}

/*
 * A fragment's encoded size is its fixed overhead plus the two parts that
 * vary along the split: the head of the fragment offset and the payload
 * byte string (head and bytes). The overhead is measured once by encoding
 * the fragment with a 1-byte offset head and an empty payload.
 */
static long fragment_overhead(const struct bpv7_bundle *b, const struct bpv7_block *payload,
			      bool first, struct bpv7_bundle *scratch)
{
	long size;

	build_fragment(b, payload, first, 0, 0, scratch);
	scratch->primary.frag_offset = 0;
	size = bpv7_encoded_size(scratch);
	return size < 0 ? size : size - 2;
}

/* CBOR head sizes and the largest value each can carry (RFC 8949 3). */
static const struct {
	size_t head;
	uint64_t max;
} heads[] = {
	{ 1, 23 }, { 2, UINT8_MAX }, { 3, UINT16_MAX }, { 5, UINT32_MAX }, { 9, UINT64_MAX },
};

/* The longest byte string whose head and body fit in room bytes. */
static size_t longest_bstr(size_t room)
{
	size_t best = 0;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t len;

		if (room <= heads[i].head)
			break;
		len = room - heads[i].head;
		if (len > heads[i].max)
			len = (size_t)heads[i].max;
		if (len > best)
			best = len;
	}
	return best;
}

long bpv7_fragment_plan(const struct bpv7_bundle *b, size_t max_size, size_t *sizes, size_t max_n)
{
	const struct bpv7_block *payload;
	struct bpv7_bundle *scratch;
	long over[2]; /* [0] later fragments, [1] the first */
	size_t pos = 0, count = 0;
	int r;

	payload = fragmentable_payload(b, &r);
	if (!payload)
		return r;
	if (payload->data_len == 0)
		return -EINVAL;
	scratch = malloc(sizeof(*scratch));
	if (!scratch)
		return -ENOMEM;
	over[1] = fragment_overhead(b, payload, true, scratch);
	over[0] = fragment_overhead(b, payload, false, scratch);
	free(scratch);
	if (over[0] < 0 || over[1] < 0)
		return over[0] < 0 ? over[0] : over[1];
	while (pos < payload->data_len) {
		size_t fixed = (size_t)over[pos == 0] + cbuf_head_size(adu_base(b) + pos);
		size_t len = max_size > fixed ? longest_bstr(max_size - fixed) : 0;

		if (len == 0)
			return -EMSGSIZE;
		if (len > payload->data_len - pos)
			len = payload->data_len - pos;
		if (count < max_n)
			sizes[count] = len;
		count++;
		pos += len;
	}
	return (long)count;
}

/* One fragment's payload extent within the ADU. */
struct extent {
	uint64_t offset;
	size_t len;
	size_t index; /* in the caller's array: ties keep the caller's order */
};

static int extent_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* RFC 9171 5.9: fragments of one ADU share source, creation timestamp and total length. */
static bool same_adu(const struct bpv7_bundle *a, const struct bpv7_bundle *b)
{
	return bp_eid_equal(&a->primary.source, &b->primary.source) &&
	       a->primary.creation_time == b->primary.creation_time &&
	       a->primary.sequence == b->primary.sequence &&
	       a->primary.total_adu_len == b->primary.total_adu_len;
}

/* Check every fragment and list their extents in ADU order. */
static int collect_extents(const struct bpv7_bundle *frags, size_t n, struct extent *ext)
{
	for (size_t i = 0; i < n; i++) {
		const struct bpv7_bundle *f = &frags[i];
		const struct bpv7_block *payload = bpv7_bundle_payload_const(f);

		if (!(f->primary.flags & BPV7_BPF_IS_FRAGMENT) || !same_adu(&frags[0], f) ||
		    !payload_usable(payload) || !within_adu(&f->primary, payload))
			return -EINVAL;
		ext[i] = (struct extent){ f->primary.frag_offset, payload->data_len, i };
	}
	qsort(ext, n, sizeof(*ext), extent_cmp);
	return 0;
}

/* Do the extents, sorted by offset, cover [0, total) without a gap? */
static bool extents_cover(const struct extent *ext, size_t n, uint64_t total)
{
	uint64_t reach = 0;

	for (size_t i = 0; i < n; i++) {
		if (ext[i].offset > reach)
			return false;
		if (ext[i].offset + ext[i].len > reach)
			reach = ext[i].offset + ext[i].len;
	}
	return reach == total;
}

/*
 * Copy the material extents into adu. Bytes that two fragments both carry
 * must agree; if they do not, the fragments are not of one ADU.
 */
static int gather(const struct bpv7_bundle *frags, const struct extent *ext, size_t n, uint8_t *adu)
{
	uint64_t reach = 0;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *data = bpv7_bundle_payload_const(&frags[ext[i].index])->data;
		uint64_t end = ext[i].offset + ext[i].len;
		size_t seen = (size_t)((reach < end ? reach : end) - ext[i].offset);

		if (seen && memcmp(adu + ext[i].offset, data, seen) != 0)
			return -EINVAL;
		if (end > reach) {
			memcpy(adu + reach, data + seen, (size_t)(end - reach));
			reach = end;
		}
	}
	return 0;
}

/*
 * RFC 9171 5.9: the reassembled ADU replaces the payload of the fragment
 * whose material extents include offset zero, i.e. the first at offset zero
 * in the caller's (arrival) order; the result is no longer a fragment.
 */
static long encode_original(const struct bpv7_bundle *head, const uint8_t *adu, size_t len,
			    uint8_t **ret_buf)
{
	struct bpv7_bundle *b = malloc(sizeof(*b));
	struct bpv7_block *payload;
	long r;

	if (!b)
		return -ENOMEM;
	*b = *head;
	b->primary.flags &= ~(uint64_t)BPV7_BPF_IS_FRAGMENT;
	b->primary.frag_offset = 0;
	b->primary.total_adu_len = 0;
	b->primary.crc = 0;
	b->findings = 0;
	b->wire = NULL;
	b->wire_len = 0;
	b->primary_len = 0;
	payload = bpv7_bundle_payload(b);
	payload->data = adu;
	payload->data_len = len;
	payload->crc = 0;
	r = bpv7_encode_alloc(b, ret_buf);
	free(b);
	return r;
}

long bpv7_reassemble(const struct bpv7_bundle *frags, size_t n, uint8_t **ret_buf)
{
	struct extent *ext;
	uint64_t total;
	uint8_t *adu = NULL;
	long r;

	if (n == 0)
		return -EINVAL;
	ext = calloc(n, sizeof(*ext));
	if (!ext)
		return -ENOMEM;
	total = frags[0].primary.total_adu_len;
	r = collect_extents(frags, n, ext);
	if (r < 0)
		goto out_free_ext;
	/* Covered means total <= the bytes we hold: no hostile allocation. */
	if (!extents_cover(ext, n, total)) {
		r = -EAGAIN;
		goto out_free_ext;
	}
	adu = malloc(total ? (size_t)total : 1);
	if (!adu) {
		r = -ENOMEM;
		goto out_free_ext;
	}
	r = gather(frags, ext, n, adu);
	if (r == 0)
		r = encode_original(&frags[ext[0].index], adu, (size_t)total, ret_buf);
	free(adu);
out_free_ext:
	free(ext);
	return r;
}
