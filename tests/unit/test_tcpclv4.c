/* SPDX-License-Identifier: MIT */
/*
 * The TCPCLv4 session (convergence/tcpclv4.h) on a socketpair: it answers the
 * crafted conversations of tests/vectors/tcpclv4 byte for byte as their
 * passive side, two sessions exchange bundles of every segment count, and
 * malformed peers get the answer RFC 9174 asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcpclv4.h"
#include "tcpclv4_msg.h"
#include "vectors.h"

struct side {
	struct tcpcl4_session *s;
	bool up, down;
	int accept_status; /* what received() answers */
	uint8_t refuse_reason;
	uint8_t *got[8]; /* bundles received */
	size_t got_len[8], ngot;
	int sent_status[8];
	uint64_t sent_token[8];
	size_t nsent;
	char peer[64];
};

/* A malloc'd copy: what a send takes. */
static uint8_t *own(const void *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	assert_non_null(c);
	memcpy(c, p, len);
	return c;
}

static void on_up(void *ctx, struct tcpcl4_session *s, const char *id, size_t len)
{
	struct side *d = ctx;

	d->up = true;
	snprintf(d->peer, sizeof(d->peer), "%.*s", (int)len, id);
}

static void on_received(void *ctx, struct tcpcl4_session *s, uint64_t id, const uint8_t *data,
			size_t len)
{
	struct side *d = ctx;

	assert_true(d->ngot < 8);
	d->got[d->ngot] = malloc(len ? len : 1);
	memcpy(d->got[d->ngot], data, len);
	d->got_len[d->ngot++] = len;
	tcpcl4_session_accept(s, id, d->accept_status, d->refuse_reason);
}

static void on_sent(void *ctx, struct tcpcl4_session *s, uint64_t token, int status, uint8_t reason)
{
	struct side *d = ctx;

	assert_true(d->nsent < 8);
	d->sent_token[d->nsent] = token;
	d->sent_status[d->nsent++] = status;
}

static void on_down(void *ctx, struct tcpcl4_session *s, const char *why)
{
	struct side *d = ctx;

	d->down = true;
	d->s = NULL;
}

static const struct tcpcl4_session_ops ops = {
	.up = on_up,
	.received = on_received,
	.sent = on_sent,
	.down = on_down,
};

static void free_side(struct side *d)
{
	for (size_t i = 0; i < d->ngot; i++)
		free(d->got[i]);
}

/* Run the loop until cond or a few seconds. */
static void run_until(struct ev_loop *loop, bool *cond)
{
	for (int i = 0; i < 5000 && !*cond; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* Everything the session wrote to peer until it closed. */
static size_t drain(int peer, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(peer, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

/* Be the passive side of a recorded conversation; what we answer must be the recording. */
static void answer_conversation(const char *name)
{
	char path[128];
	size_t clen, slen, need;
	uint8_t *c, *sv, out[4096];
	struct tcpcl4_msg init;
	struct tcpcl4_error err;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct side d = { 0 };
	char node[64];
	int sv_pair[2];

	snprintf(path, sizeof(path), "tcpclv4/%s.client.hex", name);
	c = vector_load(path, &clen);
	snprintf(path, sizeof(path), "tcpclv4/%s.server.hex", name);
	sv = vector_load(path, &slen);
	assert_non_null(c);
	assert_non_null(sv);
	/* Our parameters are the recorded server's. */
	assert_true(tcpcl4_decode(sv + TCPCL4_CONTACT_LEN, slen - TCPCL4_CONTACT_LEN, 1 << 20,
				  &init, &need, &err) > 0);
	snprintf(node, sizeof(node), "%.*s", init.u.init.node_id_len, init.u.init.node_id);
	struct tcpcl4_config cfg = {
		.node_id = node,
		.keepalive_s = init.u.init.keepalive,
		.segment_mru = init.u.init.segment_mru,
		.transfer_mru = init.u.init.transfer_mru,
		.segment_max = 65000,
		.setup_timeout_s = 5,
	};

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv_pair), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv_pair[0], false, &cfg, &ops, &d, &d.s), 0);
	assert_int_equal(write(sv_pair[1], c, clen), (ssize_t)clen);
	run_until(loop, &d.down);
	assert_true(d.down);
	assert_true(d.up);
	assert_true(d.ngot >= 1);
	fcntl(sv_pair[1], F_SETFL, 0);
	assert_int_equal(drain(sv_pair[1], out, sizeof(out)), slen);
	assert_memory_equal(out, sv, slen);
	close(sv_pair[1]);
	free_side(&d);
	free(c);
	free(sv);
	ev_loop_destroy(loop);
}

static void answers_the_single_segment_conversation(void **state)
{
	answer_conversation("crafted_good_single_segment");
}

static void answers_the_segmented_conversation(void **state)
{
	answer_conversation("crafted_good_two_bundles");
}

static const struct tcpcl4_config cfg_a = {
	.node_id = "ipn:10.0",
	.keepalive_s = 30,
	.segment_mru = 1000,
	.transfer_mru = 1 << 20,
	.segment_max = 700,
	.setup_timeout_s = 5,
};

/* Two sessions on a socketpair exchange bundles of 1, 2 and many segments, both ways. */
static void two_sessions_exchange_bundles(void **state)
{
	static const size_t sizes[] = { 1, 700, 701, 5000, 600 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct side a = { 0 }, b = { 0 };
	struct tcpcl4_config cfg_b = cfg_a;
	uint8_t data[5000];
	int sv[2];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	cfg_b.node_id = "ipn:20.0";
	cfg_b.segment_mru = 600; /* a sends at most 600 per segment to b */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv[0], true, &cfg_a, &ops, &a, &a.s), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv[1], false, &cfg_b, &ops, &b, &b.s), 0);
	run_until(loop, &b.up);
	run_until(loop, &a.up);
	assert_true(a.up && b.up);
	assert_string_equal(a.peer, "ipn:20.0");
	assert_string_equal(b.peer, "ipn:10.0");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(tcpcl4_session_send(a.s, 100 + i, own(data, sizes[i]), sizes[i]),
				 0);
	{
		uint8_t *none = own(data, 0);

		assert_int_equal(tcpcl4_session_send(a.s, 99, none, 0), -EINVAL);
		free(none); /* refused: still ours */
	}
	assert_int_equal(tcpcl4_session_send(b.s, 7, own(data, 3000), 3000), 0);
	for (int i = 0; i < 5000 && (a.nsent < 5 || b.nsent < 1); i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	assert_int_equal(a.nsent, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(a.sent_status[i], 0);
		assert_int_equal(a.sent_token[i], 100 + i);
		assert_int_equal(b.got_len[i], sizes[i]);
		assert_memory_equal(b.got[i], data, sizes[i]);
	}
	assert_int_equal(b.nsent, 1);
	assert_int_equal(a.ngot, 1);
	assert_memory_equal(a.got[0], data, 3000);
	/* A closes: both sides go down cleanly. */
	tcpcl4_session_close(a.s, TCPCL4_TERM_UNKNOWN);
	run_until(loop, &b.down);
	run_until(loop, &a.down);
	assert_true(a.down && b.down);
	free_side(&a);
	free_side(&b);
	ev_loop_destroy(loop);
}

/* A bundle the receiver cannot store is refused, and the sender hears so. */
static void a_refused_bundle_reaches_the_sender(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct side a = { 0 },
		    b = { .accept_status = -ENOBUFS, .refuse_reason = TCPCL4_REFUSE_NO_RESOURCES };
	uint8_t data[2000] = { 1 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv[0], true, &cfg_a, &ops, &a, &a.s), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv[1], false, &cfg_a, &ops, &b, &b.s), 0);
	run_until(loop, &b.up);
	run_until(loop, &a.up);
	assert_int_equal(tcpcl4_session_send(a.s, 1, own(data, sizeof(data)), sizeof(data)), 0);
	assert_int_equal(tcpcl4_session_send(a.s, 2, own(data, 10), 10), 0);
	for (int i = 0; i < 5000 && a.nsent < 2; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	assert_int_equal(a.nsent, 2);
	assert_int_equal(a.sent_status[0], -ECONNREFUSED);
	assert_int_equal(a.sent_status[1], -ECONNREFUSED);
	tcpcl4_session_close(b.s, TCPCL4_TERM_UNKNOWN);
	run_until(loop, &a.down);
	run_until(loop, &b.down);
	free_side(&a);
	free_side(&b);
	ev_loop_destroy(loop);
}

/* A passive session fed bytes; returns what it answered before closing. */
static size_t feed(const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool *ret_down)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct side d = { 0 };
	int sv[2];
	size_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(tcpcl4_session_new(loop, sv[0], false, &cfg_a, &ops, &d, &d.s), 0);
	assert_int_equal(write(sv[1], in, len), (ssize_t)len);
	run_until(loop, &d.down);
	*ret_down = d.down;
	if (!d.down) {
		shutdown(sv[1], SHUT_WR);
		run_until(loop, &d.down);
	}
	fcntl(sv[1], F_SETFL, 0);
	n = drain(sv[1], out, cap);
	close(sv[1]);
	free_side(&d);
	ev_loop_destroy(loop);
	return n;
}

/* Bytes: the contact header and SESS_INIT of a good active peer, then extra. */
static size_t good_start(uint8_t *buf)
{
	long n;

	tcpcl4_contact_encode(buf, 0);
	n = tcpcl4_encode_sess_init(buf + 6, 64, 30, 1 << 20, 1 << 20, "ipn:5.0", 7);
	return 6 + (size_t)n;
}

/* Where the answer's messages start: after our contact header and SESS_INIT. */
static const uint8_t *after_init(const uint8_t *out, size_t n)
{
	assert_true(n >= 6 + 25 + 8);
	return out + 6 + 25 + 8; /* "ipn:10.0" */
}

static void malformed_peers_get_the_rfc_answer(void **state)
{
	uint8_t in[256], out[256];
	size_t n, k;
	bool down;

	/* 4.3: a wrong magic: closed without a word. */
	n = feed((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, out, sizeof(out), &down);
	assert_true(down);
	assert_int_equal(n, 0);

	/* 4.3: version 3: our contact header, then SESS_TERM "version mismatch". */
	memcpy(in, "dtn!\x03\x00", 6);
	n = feed(in, 6, out, sizeof(out), &down);
	assert_true(down);
	assert_int_equal(n, 6 + 3);
	assert_memory_equal(out + 6, "\x05\x00\x02", 3);

	/* 5.1.2: a segment before SESS_INIT: MSG_REJECT "unexpected". */
	tcpcl4_contact_encode(in, 0);
	k = 6 + (size_t)tcpcl4_encode_segment_head(in + 6, 64, 3, 1, UINT64_MAX, 1);
	in[k++] = 0x42;
	n = feed(in, k, out, sizeof(out), &down);
	assert_true(n >= 6 + 3);
	assert_memory_equal(out + 6, "\x06\x03\x01", 3);

	/* An oversize segment: SESS_TERM "resource exhaustion". */
	k = good_start(in);
	k += (size_t)tcpcl4_encode_segment_head(in + k, 64, 3, 1, UINT64_MAX, 1001);
	n = feed(in, k, out, sizeof(out), &down);
	assert_true(down);
	assert_memory_equal(after_init(out, n), "\x05\x00\x05", 3);

	/* 5.1.2: an unknown message type: MSG_REJECT "type unknown", then the end. */
	k = good_start(in);
	in[k++] = 0xee;
	n = feed(in, k, out, sizeof(out), &down);
	assert_true(down);
	assert_memory_equal(after_init(out, n), "\x06\x01\xee\x05\x00\x00", 6);

	/* An ACK for a transfer we never sent: MSG_REJECT "unexpected"; the session goes on. */
	k = good_start(in);
	k += (size_t)tcpcl4_encode_ack(in + k, 64, 3, 99, 5);
	k += (size_t)tcpcl4_encode_term(in + k, 64, 0, TCPCL4_TERM_UNKNOWN);
	n = feed(in, k, out, sizeof(out), &down);
	assert_true(down);
	assert_memory_equal(after_init(out, n), "\x06\x03\x02\x05\x01\x00", 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(answers_the_single_segment_conversation),
		cmocka_unit_test(answers_the_segmented_conversation),
		cmocka_unit_test(two_sessions_exchange_bundles),
		cmocka_unit_test(a_refused_bundle_reaches_the_sender),
		cmocka_unit_test(malformed_peers_get_the_rfc_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
