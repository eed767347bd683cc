/* SPDX-License-Identifier: MIT */
/*
 * A passive TCPCLv4 session (convergence/tcpclv4.h) fed a peer's bytes
 * through a socketpair: whatever they are, the session answers, accepts or
 * refuses what it receives (the first byte of the input decides which), and
 * goes down without a crash, a leak or a hang; a received bundle is never
 * larger than the transfer MRU.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpclv4.h"
#include "tcpclv4_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MRU 4096

struct state {
	bool down;
	bool refuse;
	struct tcpcl4_session *s;
};

static void on_up(void *ctx, struct tcpcl4_session *s, const char *id, size_t len)
{
	struct state *st = ctx;

	/* Send one back, to exercise acks and refusals from the peer's bytes. */
	{
		uint8_t *b = malloc(6);

		if (b) {
			memcpy(b, "bundle", 6);
			if (tcpcl4_session_send(s, 1, b, 6) < 0)
				free(b);
		}
	}
	(void)st;
}

static void on_received(void *ctx, struct tcpcl4_session *s, uint64_t id, const uint8_t *p,
			size_t len)
{
	struct state *st = ctx;

	if (len > MRU * 4)
		abort();
	tcpcl4_session_accept(s, id, st->refuse ? -ENOBUFS : 0, TCPCL4_REFUSE_NO_RESOURCES);
}

static void on_sent(void *ctx, struct tcpcl4_session *s, uint64_t token, int status, uint8_t reason)
{
}

static void on_down(void *ctx, struct tcpcl4_session *s, const char *why)
{
	struct state *st = ctx;

	st->down = true;
}

static const struct tcpcl4_session_ops ops = { on_up, on_received, on_sent, on_down };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	struct tcpcl4_config cfg = {
		.node_id = "ipn:1.0",
		.keepalive_s = 0,
		.segment_mru = MRU,
		.transfer_mru = MRU * 4,
		.segment_max = 1000,
		.setup_timeout_s = 5,
	};
	struct state st = { 0 };
	char sink[4096];
	int sv[2];

	if (size < 1 || size > 65536)
		return 0;
	if (!loop)
		loop = ev_loop_new(EVFLAG_AUTO);
	st.refuse = data[0] & 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	if (tcpcl4_session_new(loop, sv[0], false, &cfg, &ops, &st, &st.s) < 0)
		abort();
	if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	shutdown(sv[1], SHUT_WR); /* then the peer is gone: the session must go down */
	for (int i = 0; i < 10000 && !st.down; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
	}
	if (!st.down)
		abort(); /* a hang */
	close(sv[1]);
	return 0;
}
