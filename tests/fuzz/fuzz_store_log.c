/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the store log's format (bpd/store/logfmt.h): the input
 * is a segment file. Any bytes give a verdict, never a crash or a read past
 * the input; every record the scanner accepts re-encodes to exactly its own
 * bytes; and recovery's summary agrees with what the scanner saw.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The record at p, accepted by logfmt_next(), is what the encoders write. */
static void reencodes(const uint8_t *p, const struct logfmt_record *r)
{
	uint8_t buf[LOGFMT_HEAD_MAX];
	struct logfmt_record h;
	struct logfmt_error err;
	uint32_t crc;
	int n = -1;

	switch (r->type) {
	case LOGFMT_PUT:
		n = logfmt_put_head(buf, sizeof(buf), r->seq, &r->b, r->data_len, r->data_crc);
		break;
	case LOGFMT_DELETE:
		n = logfmt_delete(buf, sizeof(buf), r->seq, r->b.id);
		break;
	case LOGFMT_STATE:
		n = logfmt_state(buf, sizeof(buf), r->seq, r->b.id, r->b.state);
		break;
	case LOGFMT_COMMIT:
		n = logfmt_commit(buf, sizeof(buf), r->seq);
		break;
	}
	check(n > 0 && (uint64_t)n == r->data_off && memcmp(buf, p, (size_t)n) == 0);
	crc = logfmt_crc_final(logfmt_crc_update(LOGFMT_CRC_INIT, p + n, (size_t)r->data_len));
	check(crc == r->data_crc);
	/* The head alone decodes to the same record. */
	check(logfmt_head(p, (size_t)r->data_off, &h, &err) == 0 && h.len == r->len &&
	      h.seq == r->seq && h.type == r->type);
}

/* Scan records from off as a reader would; returns how many were accepted. */
static uint64_t scan(const uint8_t *data, size_t size, size_t off)
{
	struct logfmt_record r;
	struct logfmt_error err;
	uint64_t n = 0;
	int ret;

	while (off < size) {
		ret = logfmt_next(data + off, size - off, &r, &err);
		if (ret == LOGFMT_NEED_MORE)
			check(err.need > size - off);
		if (ret != 0)
			break;
		check(r.len >= LOGFMT_REC_HDR_LEN && r.len <= size - off);
		reencodes(data + off, &r);
		off += (size_t)r.len;
		n++;
	}
	return n;
}

struct replay {
	const uint8_t *data;
	size_t size;
	size_t next; /* where the next committed record must start */
	uint64_t n;
};

static int on_record(void *ctx, const struct logfmt_record *r, size_t offset)
{
	struct replay *rp = ctx;

	check(offset == rp->next && r->len <= rp->size - offset);
	reencodes(rp->data + offset, r);
	rp->next = offset + (size_t)r->len;
	rp->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logfmt_segment h;
	struct logfmt_error err;
	struct logfmt_prefix p;
	struct replay rp = { data, size, LOGFMT_SEGMENT_HDR_LEN, 0 };
	uint8_t buf[LOGFMT_SEGMENT_HDR_LEN];
	int ret;

	/* Records with no header in front, as a reader resyncing would see them. */
	(void)scan(data, size, 0);

	ret = logfmt_segment_header_check(data, size, &h, &err);
	if (ret == 0) {
		check(logfmt_segment_header(buf, sizeof(buf), &h) == LOGFMT_SEGMENT_HDR_LEN);
		check(memcmp(buf, data, sizeof(buf)) == 0);
	}
	ret = logfmt_valid_prefix(data, size, on_record, &rp, &p);
	if (ret != 0) {
		check(ret == -EPROTONOSUPPORT);
		return 0;
	}
	check(p.commit_len <= p.valid_len && p.valid_len <= size);
	check(p.committed <= p.records);
	check(p.committed == rp.n && (p.commit_len == 0 || p.commit_len == rp.next));
	check(p.stop != LOGFMT_STOP_END || p.valid_len == size);
	check(p.resync == 0 || (p.stop == LOGFMT_STOP_CORRUPT && p.resync > p.valid_len));
	check(p.resync != 0 || p.resync_commits == 0);
	if (p.valid_len > 0)
		check(scan(data, p.valid_len, LOGFMT_SEGMENT_HDR_LEN) == p.records);
	return 0;
}
