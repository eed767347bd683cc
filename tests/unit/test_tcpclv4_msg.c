/* SPDX-License-Identifier: MIT */
/*
 * TCPCLv4 messages (convergence/tcpclv4_msg.h) against RFC 9174's layouts:
 * the crafted conversations in tests/vectors/tcpclv4 (accepted by Wireshark's
 * dissector) decode message by message, their bundles reassemble and decode,
 * the encoders write the same bytes, and bad input gets the answer RFC 9174
 * asks for.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"
#include "tcpclv4_msg.h"
#include "vectors.h"

#define MRU (1u << 20)

/* Decode a whole side of a conversation: the contact header, then messages. */
static size_t decode_side(const uint8_t *p, size_t len, struct tcpcl4_msg *msgs, size_t max)
{
	struct tcpcl4_error err;
	uint8_t version, flags;
	size_t off, n = 0, need;
	long r;

	assert_int_equal(tcpcl4_contact_decode(p, len, &version, &flags), TCPCL4_CONTACT_LEN);
	assert_int_equal(version, 4);
	assert_int_equal(flags, 0);
	for (off = TCPCL4_CONTACT_LEN; off < len; off += (size_t)r) {
		assert_true(n < max);
		r = tcpcl4_decode(p + off, len - off, MRU, &msgs[n++], &need, &err);
		if (r <= 0)
			fail_msg("message %zu at %zu: %ld (%s)", n, off, r,
				 r < 0 ? err.why : "short");
		/* Every shorter prefix asks for more, never fails. */
		for (size_t cut = 0; cut < (size_t)r; cut += 1 + (size_t)r / 64) {
			struct tcpcl4_msg m;

			assert_int_equal(tcpcl4_decode(p + off, cut, MRU, &m, &need, &err),
					 TCPCL4_NEED_MORE);
			assert_true(need > cut && need <= (size_t)r);
		}
	}
	return n;
}

static void single_segment_session_decodes(void **state)
{
	size_t clen, slen, n;
	uint8_t *c = vector_load("tcpclv4/crafted_good_single_segment.client.hex", &clen);
	uint8_t *s = vector_load("tcpclv4/crafted_good_single_segment.server.hex", &slen);
	struct tcpcl4_msg m[8];
	struct bpv7_bundle b;
	struct bpv7_error err;

	assert_non_null(c);
	assert_non_null(s);
	n = decode_side(c, clen, m, 8);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].type, TCPCL4_SESS_INIT);
	assert_int_equal(m[0].u.init.keepalive, 60);
	assert_int_equal(m[0].u.init.segment_mru, 100000);
	assert_int_equal(m[0].u.init.transfer_mru, 1048576);
	assert_int_equal(m[0].u.init.node_id_len, 12);
	assert_memory_equal(m[0].u.init.node_id, "dtn://a.dtn/", 12);
	assert_int_equal(m[1].type, TCPCL4_XFER_SEGMENT);
	assert_int_equal(m[1].u.seg.flags, TCPCL4_XFER_START | TCPCL4_XFER_END);
	assert_int_equal(m[1].u.seg.id, 7);
	assert_int_equal(m[1].u.seg.data_len, 111);
	assert_false(m[1].u.seg.has_total);
	assert_int_equal(bpv7_decode(m[1].u.seg.data, m[1].u.seg.data_len, 0, &b, &err), 0);
	assert_int_equal(m[2].type, TCPCL4_SESS_TERM);
	assert_int_equal(m[2].u.term.flags, 0);

	n = decode_side(s, slen, m, 8);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].type, TCPCL4_SESS_INIT);
	assert_memory_equal(m[0].u.init.node_id, "dtn://c.dtn/", 12);
	assert_int_equal(m[1].type, TCPCL4_XFER_ACK);
	assert_int_equal(m[1].u.ack.flags, TCPCL4_XFER_START | TCPCL4_XFER_END);
	assert_int_equal(m[1].u.ack.id, 7);
	assert_int_equal(m[1].u.ack.len, 111);
	assert_int_equal(m[2].type, TCPCL4_SESS_TERM);
	assert_int_equal(m[2].u.term.flags, TCPCL4_TERM_REPLY);
	free(c);
	free(s);
}

/* Segmented transfers with a Transfer Length extension reassemble into bundles. */
static void segmented_transfers_reassemble(void **state)
{
	size_t clen, slen, n, nb = 0, have = 0;
	uint8_t *c = vector_load("tcpclv4/crafted_good_two_bundles.client.hex", &clen);
	uint8_t *s = vector_load("tcpclv4/crafted_good_two_bundles.server.hex", &slen);
	struct tcpcl4_msg m[16], a[16];
	uint8_t bundle[4096];
	uint64_t total = 0;
	size_t na;

	assert_non_null(c);
	assert_non_null(s);
	n = decode_side(c, clen, m, 16);
	na = decode_side(s, slen, a, 16);
	assert_int_equal(a[0].type, TCPCL4_SESS_INIT);
	assert_int_equal(a[0].u.init.segment_mru, 64);
	for (size_t i = 0, k = 1; i < n; i++) {
		struct bpv7_bundle b;
		struct bpv7_error err;

		if (m[i].type != TCPCL4_XFER_SEGMENT)
			continue;
		assert_true(m[i].u.seg.data_len <= 64); /* the server's segment MRU */
		if (m[i].u.seg.flags & TCPCL4_XFER_START) {
			have = 0;
			total = m[i].u.seg.has_total ? m[i].u.seg.total : 0;
		}
		assert_true(have + m[i].u.seg.data_len <= sizeof(bundle));
		memcpy(bundle + have, m[i].u.seg.data, m[i].u.seg.data_len);
		have += m[i].u.seg.data_len;
		/* Each segment is acknowledged with the length so far (5.2.3). */
		assert_true(k < na);
		assert_int_equal(a[k].type, TCPCL4_XFER_ACK);
		assert_int_equal(a[k].u.ack.id, m[i].u.seg.id);
		assert_int_equal(a[k].u.ack.len, have);
		assert_int_equal(a[k].u.ack.flags, m[i].u.seg.flags);
		k++;
		if (!(m[i].u.seg.flags & TCPCL4_XFER_END))
			continue;
		if (total)
			assert_int_equal(total, have);
		assert_int_equal(bpv7_decode(bundle, have, 0, &b, &err), 0);
		nb++;
	}
	assert_int_equal(nb, 2);
	free(c);
	free(s);
}

/* The encoders write what the decoders read, byte for byte. */
static void encoders_round_trip(void **state)
{
	uint8_t buf[128], data[3] = { 1, 2, 3 };
	struct tcpcl4_msg m;
	struct tcpcl4_error err;
	size_t need;
	long n;

	n = tcpcl4_encode_sess_init(buf, sizeof(buf), 30, 65483, 1 << 30, "ipn:20.0", 8);
	assert_int_equal(n, 25 + 8);
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, MRU, &m, &need, &err), n);
	assert_int_equal(m.u.init.keepalive, 30);
	assert_int_equal(m.u.init.segment_mru, 65483);
	assert_int_equal(m.u.init.transfer_mru, 1 << 30);
	assert_memory_equal(m.u.init.node_id, "ipn:20.0", 8);

	n = tcpcl4_encode_segment_head(buf, sizeof(buf), TCPCL4_XFER_START, 9, 1000, 3);
	assert_int_equal(n, TCPCL4_SEGMENT_HEAD_MAX);
	memcpy(buf + n, data, 3);
	assert_int_equal(tcpcl4_decode(buf, (size_t)n + 3, MRU, &m, &need, &err), n + 3);
	assert_true(m.u.seg.has_total);
	assert_int_equal(m.u.seg.total, 1000);
	assert_int_equal(m.u.seg.id, 9);
	assert_memory_equal(m.u.seg.data, data, 3);
	n = tcpcl4_encode_segment_head(buf, sizeof(buf), TCPCL4_XFER_END, 9, UINT64_MAX, 3);
	assert_int_equal(n, TCPCL4_SEGMENT_HEAD_MIN);
	n = tcpcl4_encode_segment_head(buf, sizeof(buf), TCPCL4_XFER_START | TCPCL4_XFER_END, 1,
				       UINT64_MAX, 0);
	assert_int_equal(n, TCPCL4_SEGMENT_HEAD_MIN + 4);
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, MRU, &m, &need, &err), n);
	assert_false(m.u.seg.has_total);

	assert_int_equal(tcpcl4_encode_ack(buf, sizeof(buf), 3, 5, 77), TCPCL4_XFER_ACK_LEN);
	assert_int_equal(tcpcl4_decode(buf, TCPCL4_XFER_ACK_LEN, MRU, &m, &need, &err),
			 TCPCL4_XFER_ACK_LEN);
	assert_int_equal(m.u.ack.len, 77);
	assert_int_equal(tcpcl4_encode_refuse(buf, sizeof(buf), TCPCL4_REFUSE_NO_RESOURCES, 5),
			 TCPCL4_XFER_REFUSE_LEN);
	assert_int_equal(tcpcl4_decode(buf, TCPCL4_XFER_REFUSE_LEN, MRU, &m, &need, &err),
			 TCPCL4_XFER_REFUSE_LEN);
	assert_int_equal(m.u.refuse.reason, TCPCL4_REFUSE_NO_RESOURCES);
	assert_int_equal(tcpcl4_encode_keepalive(buf, sizeof(buf)), 1);
	assert_int_equal(tcpcl4_decode(buf, 1, MRU, &m, &need, &err), 1);
	assert_int_equal(m.type, TCPCL4_KEEPALIVE);
	assert_int_equal(tcpcl4_encode_term(buf, sizeof(buf), 0, TCPCL4_TERM_IDLE_TIMEOUT), 3);
	assert_memory_equal(buf, "\x05\x00\x01", 3);
	assert_int_equal(tcpcl4_encode_reject(buf, sizeof(buf), TCPCL4_REJECT_UNEXPECTED, 0x01), 3);
	assert_memory_equal(buf, "\x06\x03\x01", 3);
	assert_int_equal(tcpcl4_encode_ack(buf, 17, 3, 5, 77), -EMSGSIZE);
	tcpcl4_contact_encode(buf, 0);
	assert_memory_equal(buf, "dtn!\x04\x00", 6);
}

/* Bad bytes get the answer RFC 9174 asks for. */
static void bad_input_gets_the_right_answer(void **state)
{
	uint8_t buf[64], version, flags;
	struct tcpcl4_msg m;
	struct tcpcl4_error err;
	size_t need;
	long n;

	/* 4.3: a wrong magic is closed without a word; a partial right one waits. */
	assert_int_equal(tcpcl4_contact_decode((const uint8_t *)"dtn?\x04\x00", 6, &version,
					       &flags),
			 -EBADMSG);
	assert_int_equal(tcpcl4_contact_decode((const uint8_t *)"GET ", 4, &version, &flags),
			 -EBADMSG);
	assert_int_equal(tcpcl4_contact_decode((const uint8_t *)"dt", 2, &version, &flags),
			 TCPCL4_NEED_MORE);
	assert_int_equal(
		tcpcl4_contact_decode((const uint8_t *)"dtn!\x03\x00", 6, &version, &flags), 6);
	assert_int_equal(version, 3); /* the session answers "version mismatch" */

	/* 5.1.2: an unknown type is a MSG_REJECT "type unknown" (then a close). */
	buf[0] = 0x08;
	assert_int_equal(tcpcl4_decode(buf, 1, MRU, &m, &need, &err), -EBADMSG);
	assert_int_equal(err.reject, TCPCL4_REJECT_TYPE_UNKNOWN);
	buf[0] = 0x00;
	assert_int_equal(tcpcl4_decode(buf, 1, MRU, &m, &need, &err), -EBADMSG);

	/* A segment over our MRU is refused from its head alone. */
	n = tcpcl4_encode_segment_head(buf, sizeof(buf), TCPCL4_XFER_START, 1, UINT64_MAX, 100);
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, 99, &m, &need, &err), -EBADMSG);
	assert_int_equal(err.reject, 0);
	assert_int_equal(err.term, TCPCL4_TERM_RESOURCE_EXHAUSTION);
	/* ... and so is a length near 2^64 whatever the MRU (no sum overflows). */
	n = tcpcl4_encode_segment_head(buf, sizeof(buf), 0, 1, UINT64_MAX, UINT64_MAX - 5);
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, UINT64_MAX, &m, &need, &err), -EBADMSG);

	/* An extension item that runs past its list. */
	n = tcpcl4_encode_segment_head(buf, sizeof(buf), TCPCL4_XFER_START, 1, 5, 0);
	buf[18] = 9; /* the item length's low byte: 5 + 9 > the 13-byte list */
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, MRU, &m, &need, &err), -EBADMSG);
	assert_int_equal(err.term, TCPCL4_TERM_CONTACT_FAILURE);

	/* A node ID over our bound. */
	n = tcpcl4_encode_sess_init(buf, sizeof(buf), 0, 1, 1, "x", 1);
	buf[19] = 0xff;
	assert_int_equal(tcpcl4_decode(buf, (size_t)n, MRU, &m, &need, &err), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_segment_session_decodes),
		cmocka_unit_test(segmented_transfers_reassemble),
		cmocka_unit_test(encoders_round_trip),
		cmocka_unit_test(bad_input_gets_the_right_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
