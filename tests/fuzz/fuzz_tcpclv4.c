/* SPDX-License-Identifier: MIT */
/*
 * The TCPCLv4 message decoder (convergence/tcpclv4_msg.h) on a peer's byte
 * stream: a contact header, then messages until the bytes run out or one is
 * refused. Checks beside the sanitizers: a decoded message lies within the
 * buffer; a shorter prefix of it asks for more (never fails, never decodes);
 * fixed-size messages encode back to the same bytes; extension lists walk
 * to their end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcpclv4_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void reencode(const struct tcpcl4_msg *m, const uint8_t *p, long n)
{
	uint8_t buf[TCPCL4_XFER_ACK_LEN];
	long k = -1;

	switch (m->type) {
	case TCPCL4_XFER_ACK:
		k = tcpcl4_encode_ack(buf, sizeof(buf), m->u.ack.flags, m->u.ack.id, m->u.ack.len);
		break;
	case TCPCL4_XFER_REFUSE:
		k = tcpcl4_encode_refuse(buf, sizeof(buf), m->u.refuse.reason, m->u.refuse.id);
		break;
	case TCPCL4_KEEPALIVE:
		k = tcpcl4_encode_keepalive(buf, sizeof(buf));
		break;
	case TCPCL4_SESS_TERM:
		k = tcpcl4_encode_term(buf, sizeof(buf), m->u.term.flags, m->u.term.reason);
		break;
	case TCPCL4_MSG_REJECT:
		k = tcpcl4_encode_reject(buf, sizeof(buf), m->u.reject.reason,
					 m->u.reject.rejected);
		break;
	default:
		return;
	}
	check(k == n && memcmp(buf, p, (size_t)n) == 0);
}

static void walk_ext(const uint8_t *list, uint32_t len)
{
	struct tcpcl4_ext e;
	uint32_t pos = 0;
	int r;

	while ((r = tcpcl4_ext_next(list, len, &pos, &e)) > 0)
		check(e.value + e.len <= list + len);
	check(r == 0 && pos == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte picks our segment MRU, as a session would have announced it. */
	uint64_t mru = size ? (uint64_t)1 << (data[0] % 40) : 1;
	struct tcpcl4_error err;
	struct tcpcl4_msg m, m2;
	uint8_t version, flags;
	size_t off, need;
	long n;

	if (size < 1)
		return 0;
	data++;
	size--;
	n = tcpcl4_contact_decode(data, size, &version, &flags);
	if (n <= 0)
		return 0;
	for (off = (size_t)n; off < size; off += (size_t)n) {
		n = tcpcl4_decode(data + off, size - off, mru, &m, &need, &err);
		if (n == TCPCL4_NEED_MORE) {
			check(need > size - off);
			break;
		}
		if (n < 0) {
			check(err.why != NULL);
			break;
		}
		check((size_t)n <= size - off);
		check(tcpcl4_decode(data + off, (size_t)n - 1, mru, &m2, &need, &err) ==
		      TCPCL4_NEED_MORE);
		reencode(&m, data + off, n);
		if (m.type == TCPCL4_SESS_INIT)
			walk_ext(m.u.init.ext, m.u.init.ext_len);
		if (m.type == TCPCL4_XFER_SEGMENT) {
			walk_ext(m.u.seg.ext, m.u.seg.ext_len);
			check(m.u.seg.data_len <= mru);
		}
	}
	return 0;
}
