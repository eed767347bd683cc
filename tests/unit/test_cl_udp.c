/* SPDX-License-Identifier: MIT */
/*
 * The UDP convergence-layer adapter (convergence/cl_udp.c) on 127.0.0.1:
 * what is not a bundle is dropped and counted without stopping the
 * receiver, ION's bundle comes through byte-exact, a link sends batches in
 * order and answers every send, and closing waits for the queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "cl.h"
#include "vectors.h"

#define MAX_GOT 512

struct rec {
	struct ev_loop *loop;
	struct cl_env env;
	struct cl_link *rx; /* the listener's link */
	unsigned port;	    /* the listener's */
	int ups, downs;
	unsigned ngot;
	uint8_t *got[MAX_GOT];
	size_t got_len[MAX_GOT];
	unsigned nsent;
	int sent_status[MAX_GOT];
	uint64_t sent_token[MAX_GOT];
	unsigned sent_at_down; /* sends answered when down came */
	int owner;	       /* what owner pointers point at */
};

/* A malloc'd copy: what a send takes. */
static uint8_t *own(const void *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	assert_non_null(c);
	memcpy(c, p, len);
	return c;
}

static struct rec r;

static void *ev_incoming(void *ctx, struct cl_link *cl, const char *addr)
{
	const char *colon = strrchr(addr, ':');

	assert_non_null(colon);
	r.rx = cl;
	r.port = (unsigned)atoi(colon + 1);
	return &r.owner;
}

static void ev_up(void *owner, const char *peer, size_t len)
{
	assert_int_equal(len, 0); /* UDP announces nobody */
	r.ups++;
}

static void ev_received(void *owner, uint64_t xfer, const uint8_t *data, size_t len)
{
	assert_true(r.ngot < MAX_GOT);
	r.got[r.ngot] = malloc(len);
	memcpy(r.got[r.ngot], data, len);
	r.got_len[r.ngot++] = len;
	r.rx->ops->accept(r.rx, xfer, 0, CL_REFUSE_NOT_ACCEPTABLE);
}

static void ev_sent(void *owner, uint64_t token, int status)
{
	assert_true(r.nsent < MAX_GOT);
	r.sent_token[r.nsent] = token;
	r.sent_status[r.nsent++] = status;
}

static void ev_down(void *owner, const char *why)
{
	r.downs++;
	r.sent_at_down = r.nsent;
}

static const struct cl_events events = {
	.incoming = ev_incoming,
	.up = ev_up,
	.received = ev_received,
	.sent = ev_sent,
	.down = ev_down,
};

static struct cl_listener *li;

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *why;

	memset(&r, 0, sizeof(r));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	r.env = (struct cl_env){ .loop = r.loop, .node_id = "ipn:1.0", .ev = &events };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (cl_udp_ops.listen(&r.env, (struct sockaddr *)&sin, sizeof(sin), &li, &why) < 0)
		return -1;
	if (r.ups != 0) /* never from inside listen */
		return -1;
	while (r.ups == 0)
		ev_run(r.loop, EVRUN_ONCE);
	return 0;
}

static int teardown(void **state)
{
	cl_udp_ops.listener_free(li);
	for (unsigned i = 0; i < r.ngot; i++)
		free(r.got[i]);
	ev_loop_destroy(r.loop);
	return 0;
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until *cond holds (or 5 s pass: then fail). */
static void run_until(bool (*cond)(void))
{
	ev_timer t;

	ev_timer_init(&t, timeout_cb, 5., 0.);
	ev_timer_start(r.loop, &t);
	while (!cond() && ev_is_active(&t))
		ev_run(r.loop, EVRUN_ONCE);
	ev_timer_stop(r.loop, &t);
	assert_true(cond());
}

static unsigned want_got, want_sent;

static bool got_enough(void)
{
	return r.ngot >= want_got;
}

static bool sent_enough(void)
{
	return r.nsent >= want_sent;
}

static bool down_came(void)
{
	return r.downs > 0;
}

static void send_raw(int fd, const void *p, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r.port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, p, len, 0, (struct sockaddr *)&sin, sizeof(sin)), (ssize_t)len);
}

static void not_bundles_are_dropped_and_counted(void **state)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t *big = malloc(65507);
	size_t ion_len;
	uint8_t *ion = vector_load("ion/ion_udp_bundle.hex", &ion_len);
	struct cl_stats st;

	assert_non_null(ion);
	memset(big, 0x9f, 65507);
	send_raw(fd, "", 0);
	send_raw(fd, "\x9f", 1);
	send_raw(fd, "hello, not a bundle", 19);
	send_raw(fd, big, 65507); /* the largest datagram: passed on (the agent judges it) */
	send_raw(fd, ion, ion_len);
	want_got = 2;
	run_until(got_enough);
	assert_int_equal(r.got_len[0], 65507);
	assert_int_equal(r.got_len[1], ion_len);
	assert_memory_equal(r.got[1], ion, ion_len);
	r.rx->ops->stats(r.rx, &st);
	assert_int_equal(st.dropped_in, 3);
	assert_int_equal(st.bundles_in, 2);
	assert_int_equal(st.bytes_in, 65507 + ion_len);
	assert_int_equal(r.ups, 1);
	free(ion);
	free(big);
	close(fd);
}

static bool link_up(void)
{
	return r.ups >= 2; /* the listener's, and the link's */
}

static void a_link_sends_in_order_and_answers_every_send(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct cl_link *cl;
	const char *why;
	uint8_t buf[300];
	unsigned queued = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)r.port);
	assert_int_equal(cl_udp_ops.open(&r.env, (struct sockaddr *)&sin, sizeof(sin), &r.owner,
					 &cl, &why),
			 0);
	assert_int_equal(r.ups, 1); /* never from inside open */
	run_until(link_up);
	{
		uint8_t *big = calloc(1, cl_udp_ops.max_bundle + 1);

		assert_int_equal(cl->ops->send(cl, 1, buf, 0), -EINVAL);
		assert_int_equal(cl->ops->send(cl, 1, big, cl_udp_ops.max_bundle + 1), -EMSGSIZE);
		free(big); /* refused: still ours */
	}
	/* 300 bundles, as fast as the link takes them. */
	while (queued < 300) {
		if (cl->ops->busy(cl)) {
			want_sent = r.nsent + 1;
			run_until(sent_enough);
			continue;
		}
		memset(buf, 0x9f, sizeof(buf));
		buf[1] = (uint8_t)queued;
		buf[2] = (uint8_t)(queued >> 8);
		assert_int_equal(cl->ops->send(cl, 1000 + queued, own(buf, 10 + queued % 200),
					       10 + queued % 200),
				 0);
		queued++;
	}
	want_sent = 300;
	run_until(sent_enough);
	want_got = 300;
	run_until(got_enough);
	for (unsigned i = 0; i < 300; i++) {
		assert_int_equal(r.sent_token[i], 1000 + i);
		assert_int_equal(r.sent_status[i], 0);
		assert_int_equal(r.got_len[i], 10 + i % 200);
		assert_int_equal(r.got[i][1] | r.got[i][2] << 8, i);
	}
	/* Closing lets the queue go first, then down. */
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(cl->ops->send(cl, 5000 + i, own(buf, 50), 50), 0);
	cl->ops->close(cl);
	run_until(down_came);
	assert_int_equal(r.sent_at_down, 320);
	for (unsigned i = 300; i < 320; i++)
		assert_int_equal(r.sent_status[i], 0);
}

static void abort_answers_what_is_queued(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct cl_link *cl;
	const char *why;
	uint8_t buf[50];

	memset(buf, 0x9f, sizeof(buf));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)r.port);
	assert_int_equal(cl_udp_ops.open(&r.env, (struct sockaddr *)&sin, sizeof(sin), &r.owner,
					 &cl, &why),
			 0);
	run_until(link_up);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(cl->ops->send(cl, i, own(buf, sizeof(buf)), sizeof(buf)), 0);
	cl->ops->abort(cl); /* before the loop sent them */
	assert_int_equal(r.downs, 1);
	assert_int_equal(r.nsent, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(r.sent_status[i], -ECONNRESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(not_bundles_are_dropped_and_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_link_sends_in_order_and_answers_every_send, setup,
						teardown),
		cmocka_unit_test_setup_teardown(abort_answers_what_is_queued, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
