/* SPDX-License-Identifier: MIT */
/* TCPCLv4 messages (RFC 9174): see tcpclv4_msg.h. */
#include "tcpclv4_msg.h"

#include <errno.h>
#include <string.h>

static const uint8_t magic[4] = { 'd', 't', 'n', '!' };

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)(v >> 16)), (uint16_t)v);
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

int tcpcl4_contact_decode(const uint8_t *buf, size_t len, uint8_t *ret_version, uint8_t *ret_flags)
{
	if (memcmp(buf, magic, len < 4 ? len : 4) != 0)
		return -EBADMSG;
	if (len < TCPCL4_CONTACT_LEN)
		return TCPCL4_NEED_MORE;
	*ret_version = buf[4];
	*ret_flags = buf[5];
	return TCPCL4_CONTACT_LEN;
}

void tcpcl4_contact_encode(uint8_t *buf, uint8_t flags)
{
	memcpy(buf, magic, 4);
	buf[4] = TCPCL4_VERSION;
	buf[5] = flags;
}

static long bad(struct tcpcl4_error *err, const char *why, uint8_t reject, uint8_t term)
{
	err->why = why;
	err->reject = reject;
	err->term = term;
	return -EBADMSG;
}

static long need(size_t *ret_need, uint64_t n)
{
	*ret_need = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	return TCPCL4_NEED_MORE;
}

int tcpcl4_ext_next(const uint8_t *list, uint32_t list_len, uint32_t *pos, struct tcpcl4_ext *ret)
{
	uint32_t p = *pos;

	if (p == list_len)
		return 0;
	if (list_len - p < 5)
		return -EBADMSG;
	ret->flags = list[p];
	ret->type = get16(list + p + 1);
	ret->len = get16(list + p + 3);
	if (list_len - p - 5 < ret->len)
		return -EBADMSG;
	ret->value = list + p + 5;
	*pos = p + 5 + ret->len;
	return 1;
}

/* A list of extension items that fits its length exactly. */
static bool ext_list_ok(const uint8_t *list, uint32_t len)
{
	struct tcpcl4_ext e;
	uint32_t pos = 0;
	int r;

	while ((r = tcpcl4_ext_next(list, len, &pos, &e)) > 0)
		;
	return r == 0;
}

/* RFC 9174 4.6 */
static long decode_sess_init(const uint8_t *buf, size_t len, struct tcpcl4_msg *m, size_t *ret_need,
			     struct tcpcl4_error *err)
{
	uint64_t total;
	uint16_t id_len;
	uint32_t ext_len;

	if (len < 21)
		return need(ret_need, TCPCL4_SESS_INIT_MIN);
	id_len = get16(buf + 19);
	if (id_len > TCPCL4_NODE_ID_MAX)
		return bad(err, "SESS_INIT node ID too long", 0, TCPCL4_TERM_CONTACT_FAILURE);
	if (len < 25 + (size_t)id_len)
		return need(ret_need, 25 + (uint64_t)id_len);
	ext_len = get32(buf + 21 + id_len);
	total = 25 + (uint64_t)id_len + ext_len;
	if (ext_len > TCPCL4_EXT_LIST_MAX)
		return bad(err, "SESS_INIT extension items too long", 0,
			   TCPCL4_TERM_RESOURCE_EXHAUSTION);
	if (len < total)
		return need(ret_need, total);
	m->u.init.keepalive = get16(buf + 1);
	m->u.init.segment_mru = get64(buf + 3);
	m->u.init.transfer_mru = get64(buf + 11);
	m->u.init.node_id = (const char *)buf + 21;
	m->u.init.node_id_len = id_len;
	m->u.init.ext = buf + 25 + id_len;
	m->u.init.ext_len = ext_len;
	if (!ext_list_ok(m->u.init.ext, ext_len))
		return bad(err, "SESS_INIT extension item overruns its list", 0,
			   TCPCL4_TERM_CONTACT_FAILURE);
	return (long)total;
}

/* RFC 9174 5.2.2, 5.2.5 */
static long decode_segment(const uint8_t *buf, size_t len, uint64_t max_seg, struct tcpcl4_msg *m,
			   size_t *ret_need, struct tcpcl4_error *err)
{
	uint8_t flags;
	uint32_t ext_len = 0, pos = 0;
	uint64_t data_len, head;
	struct tcpcl4_ext e;
	int r;

	if (len < 2)
		return need(ret_need, TCPCL4_SEGMENT_HEAD_MIN);
	flags = buf[1];
	head = TCPCL4_SEGMENT_HEAD_MIN;
	if (flags & TCPCL4_XFER_START) {
		if (len < 14)
			return need(ret_need, TCPCL4_SEGMENT_HEAD_MIN + 4);
		ext_len = get32(buf + 10);
		if (ext_len > TCPCL4_EXT_LIST_MAX)
			return bad(err, "XFER_SEGMENT extension items too long", 0,
				   TCPCL4_TERM_RESOURCE_EXHAUSTION);
		head += 4 + (uint64_t)ext_len;
	}
	if (len < head)
		return need(ret_need, head);
	data_len = get64(buf + head - 8);
	if (data_len > max_seg || data_len > SIZE_MAX - head)
		return bad(err, "XFER_SEGMENT larger than our segment MRU", 0,
			   TCPCL4_TERM_RESOURCE_EXHAUSTION);
	if (len - head < data_len)
		return need(ret_need, head + data_len);
	m->u.seg.flags = flags;
	m->u.seg.id = get64(buf + 2);
	m->u.seg.ext = ext_len ? buf + 14 : NULL;
	m->u.seg.ext_len = ext_len;
	m->u.seg.data = buf + head;
	m->u.seg.data_len = data_len;
	m->u.seg.has_total = false;
	m->u.seg.total = 0;
	while ((r = tcpcl4_ext_next(m->u.seg.ext, ext_len, &pos, &e)) > 0) {
		if (e.type != TCPCL4_XFER_EXT_LENGTH)
			continue; /* an unknown critical one: the session refuses the transfer */
		if (e.len != 8)
			return bad(err, "Transfer Length extension not 8 bytes", 0,
				   TCPCL4_TERM_CONTACT_FAILURE);
		m->u.seg.has_total = true;
		m->u.seg.total = get64(e.value);
	}
	if (r < 0)
		return bad(err, "XFER_SEGMENT extension item overruns its list", 0,
			   TCPCL4_TERM_CONTACT_FAILURE);
	return (long)(head + data_len);
}

long tcpcl4_decode(const uint8_t *buf, size_t len, uint64_t max_seg, struct tcpcl4_msg *m,
		   size_t *ret_need, struct tcpcl4_error *err)
{
	if (len == 0)
		return need(ret_need, 1);
	memset(m, 0, sizeof(*m));
	m->type = (enum tcpcl4_type)buf[0];
	switch (buf[0]) {
	case TCPCL4_SESS_INIT:
		return decode_sess_init(buf, len, m, ret_need, err);
	case TCPCL4_XFER_SEGMENT:
		return decode_segment(buf, len, max_seg, m, ret_need, err);
	case TCPCL4_XFER_ACK:
		if (len < TCPCL4_XFER_ACK_LEN)
			return need(ret_need, TCPCL4_XFER_ACK_LEN);
		m->u.ack.flags = buf[1];
		m->u.ack.id = get64(buf + 2);
		m->u.ack.len = get64(buf + 10);
		return TCPCL4_XFER_ACK_LEN;
	case TCPCL4_XFER_REFUSE:
		if (len < TCPCL4_XFER_REFUSE_LEN)
			return need(ret_need, TCPCL4_XFER_REFUSE_LEN);
		m->u.refuse.reason = buf[1];
		m->u.refuse.id = get64(buf + 2);
		return TCPCL4_XFER_REFUSE_LEN;
	case TCPCL4_KEEPALIVE:
		return TCPCL4_KEEPALIVE_LEN;
	case TCPCL4_SESS_TERM:
		if (len < TCPCL4_SESS_TERM_LEN)
			return need(ret_need, TCPCL4_SESS_TERM_LEN);
		m->u.term.flags = buf[1];
		m->u.term.reason = buf[2];
		return TCPCL4_SESS_TERM_LEN;
	case TCPCL4_MSG_REJECT:
		if (len < TCPCL4_MSG_REJECT_LEN)
			return need(ret_need, TCPCL4_MSG_REJECT_LEN);
		m->u.reject.reason = buf[1];
		m->u.reject.rejected = buf[2];
		return TCPCL4_MSG_REJECT_LEN;
	default:
		/* 5.1.2: MSG_REJECT, then close: the next message cannot be found. */
		return bad(err, "unknown message type", TCPCL4_REJECT_TYPE_UNKNOWN,
			   TCPCL4_TERM_UNKNOWN);
	}
}

long tcpcl4_encode_sess_init(uint8_t *buf, size_t cap, uint16_t keepalive, uint64_t segment_mru,
			     uint64_t transfer_mru, const char *node_id, size_t node_id_len)
{
	uint8_t *p = buf;

	if (node_id_len > TCPCL4_NODE_ID_MAX || cap < 25 + node_id_len)
		return -EMSGSIZE;
	*p++ = TCPCL4_SESS_INIT;
	p = put16(p, keepalive);
	p = put64(p, segment_mru);
	p = put64(p, transfer_mru);
	p = put16(p, (uint16_t)node_id_len);
	memcpy(p, node_id, node_id_len);
	p = put32(p + node_id_len, 0); /* no session extensions */
	return p - buf;
}

long tcpcl4_encode_segment_head(uint8_t *buf, size_t cap, uint8_t flags, uint64_t id,
				uint64_t total, uint64_t data_len)
{
	bool ext = (flags & TCPCL4_XFER_START) && total != UINT64_MAX;
	size_t n = TCPCL4_SEGMENT_HEAD_MIN + ((flags & TCPCL4_XFER_START) ? 4 : 0) + (ext ? 13 : 0);
	uint8_t *p = buf;

	if (cap < n)
		return -EMSGSIZE;
	*p++ = TCPCL4_XFER_SEGMENT;
	*p++ = flags;
	p = put64(p, id);
	if (flags & TCPCL4_XFER_START) {
		p = put32(p, ext ? 13 : 0);
		if (ext) {
			*p++ = 0; /* not critical: a peer may ignore it (5.2.5) */
			p = put16(p, TCPCL4_XFER_EXT_LENGTH);
			p = put16(p, 8);
			p = put64(p, total);
		}
	}
	p = put64(p, data_len);
	return p - buf;
}

long tcpcl4_encode_ack(uint8_t *buf, size_t cap, uint8_t flags, uint64_t id, uint64_t len)
{
	if (cap < TCPCL4_XFER_ACK_LEN)
		return -EMSGSIZE;
	buf[0] = TCPCL4_XFER_ACK;
	buf[1] = flags;
	put64(put64(buf + 2, id), len);
	return TCPCL4_XFER_ACK_LEN;
}

long tcpcl4_encode_refuse(uint8_t *buf, size_t cap, uint8_t reason, uint64_t id)
{
	if (cap < TCPCL4_XFER_REFUSE_LEN)
		return -EMSGSIZE;
	buf[0] = TCPCL4_XFER_REFUSE;
	buf[1] = reason;
	put64(buf + 2, id);
	return TCPCL4_XFER_REFUSE_LEN;
}

long tcpcl4_encode_keepalive(uint8_t *buf, size_t cap)
{
	if (cap < TCPCL4_KEEPALIVE_LEN)
		return -EMSGSIZE;
	buf[0] = TCPCL4_KEEPALIVE;
	return TCPCL4_KEEPALIVE_LEN;
}

long tcpcl4_encode_term(uint8_t *buf, size_t cap, uint8_t flags, uint8_t reason)
{
	if (cap < TCPCL4_SESS_TERM_LEN)
		return -EMSGSIZE;
	buf[0] = TCPCL4_SESS_TERM;
	buf[1] = flags;
	buf[2] = reason;
	return TCPCL4_SESS_TERM_LEN;
}

long tcpcl4_encode_reject(uint8_t *buf, size_t cap, uint8_t reason, uint8_t rejected)
{
	if (cap < TCPCL4_MSG_REJECT_LEN)
		return -EMSGSIZE;
	buf[0] = TCPCL4_MSG_REJECT;
	buf[1] = reason;
	buf[2] = rejected;
	return TCPCL4_MSG_REJECT_LEN;
}

const char *tcpcl4_type_name(unsigned type)
{
	static const char *const names[] = {
		[TCPCL4_XFER_SEGMENT] = "XFER_SEGMENT", [TCPCL4_XFER_ACK] = "XFER_ACK",
		[TCPCL4_XFER_REFUSE] = "XFER_REFUSE",	[TCPCL4_KEEPALIVE] = "KEEPALIVE",
		[TCPCL4_SESS_TERM] = "SESS_TERM",	[TCPCL4_MSG_REJECT] = "MSG_REJECT",
		[TCPCL4_SESS_INIT] = "SESS_INIT",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "?";
}

const char *tcpcl4_term_name(unsigned reason)
{
	static const char *const names[] = {
		"unknown", "idle timeout",    "version mismatch",
		"busy",	   "contact failure", "resource exhaustion",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

const char *tcpcl4_refuse_name(unsigned reason)
{
	static const char *const names[] = {
		"unknown",	  "completed",	       "no resources",	      "retransmit",
		"not acceptable", "extension failure", "session terminating",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}
