/* SPDX-License-Identifier: MIT */
/*
 * The UDP receive path: the input is cut into datagrams (each a 2-byte
 * big-endian length, then that many bytes), sent over 127.0.0.1 to a UDP
 * listener (convergence/cl_udp.c), which screens them and hands what may be
 * a bundle to the same decoding the agent does. Every datagram must come
 * out either received or dropped, and nothing may crash or leak.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "cl.h"
#include "decode.h"

#define MAX_DATAGRAMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct cl_listener *li;
static struct cl_link *rx;
static int tx = -1;
static struct sockaddr_in dst;
static int owner;

static void *on_incoming(void *ctx, struct cl_link *cl, const char *addr)
{
	const char *colon = strrchr(addr, ':');

	rx = cl;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	return &owner;
}

static void on_up(void *o, const char *peer, size_t len)
{
}

/* As the agent: decode, and answer (refusing what does not decode). */
static void on_received(void *o, uint64_t xfer, const uint8_t *data, size_t len)
{
	static struct bpv7_bundle b;
	struct bpv7_error err;
	int r = bpv7_decode(data, len, 0, &b, &err);

	rx->ops->accept(rx, xfer, r, CL_REFUSE_NOT_ACCEPTABLE);
}

static void on_sent(void *o, uint64_t token, int status)
{
}

static void on_down(void *o, const char *why)
{
}

static const struct cl_events events = {
	.incoming = on_incoming,
	.up = on_up,
	.received = on_received,
	.sent = on_sent,
	.down = on_down,
};

static struct cl_env env;

static void init(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *why;

	loop = ev_loop_new(EVFLAG_AUTO);
	env = (struct cl_env){ .loop = loop, .node_id = "ipn:1.0", .ev = &events };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst = sin;
	if (!loop || cl_udp_ops.listen(&env, (struct sockaddr *)&sin, sizeof(sin), &li, &why) < 0)
		abort();
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (tx < 0)
		abort();
}

static uint64_t seen(void)
{
	struct cl_stats st;

	rx->ops->stats(rx, &st);
	return st.bundles_in + st.dropped_in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t want;
	unsigned n = 0;

	if (!loop)
		init();
	want = seen();
	while (size >= 2 && n < MAX_DATAGRAMS) {
		size_t len = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (sendto(tx, data, len, 0, (struct sockaddr *)&dst, sizeof(dst)) == (ssize_t)len)
			want++;
		data += len;
		size -= len;
		n++;
	}
	for (int i = 0; i < 10000 && seen() < want; i++)
		ev_run(loop, EVRUN_NOWAIT);
	if (seen() != want)
		abort(); /* a datagram neither received nor dropped */
	return 0;
}
