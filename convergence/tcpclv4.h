/* SPDX-License-Identifier: MIT */
/*
 * A TCPCLv4 session (RFC 9174) on a connected TCP socket, driven by a libev
 * loop: contact header and SESS_INIT exchange, then bundle transfers both
 * ways, keepalives, and termination. Messages are tcpclv4_msg.h's.
 *
 * States (RFC 9174 3.3, 4.2-4.7, 6):
 *
 *   CONTACT --contact header both ways--> INIT --SESS_INIT both ways--> UP
 *   UP --SESS_TERM sent or received--> ENDING --reply, queue flushed--> closed
 *   any --timeout, bad bytes, I/O error--> closed
 *
 * The active side sends its contact header at once and its SESS_INIT once
 * the peer's contact header came; the passive side answers each (Figures 8
 * and 9). A whole bundle received is handed to ops->received; the final
 * XFER_ACK of its transfer goes out only when the owner calls
 * tcpcl4_session_accept() (once the bundle is durable: no acknowledgement
 * before), or an XFER_REFUSE when it refuses. Intermediate segments are
 * acknowledged as they arrive (5.2.3).
 *
 * Everything runs on the loop thread. Limits: the peer's segments and
 * transfers are bounded by the MRUs we announce; at most one transfer is
 * received at a time (5.2: transfers are not interleaved) and
 * TCPCL4_MAX_UNACCEPTED bundles wait for tcpcl4_session_accept().
 */
#ifndef CONVERGENCE_TCPCLV4_H
#define CONVERGENCE_TCPCLV4_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tcpcl4_session;

/* Received bundles waiting for tcpcl4_session_accept(); more stop reading. */
#define TCPCL4_MAX_UNACCEPTED 64

struct tcpcl4_config {
	const char *node_id;	/* ours, e.g. "ipn:7.0" or "dtn://n7/" (copied) */
	uint16_t keepalive_s;	/* what we ask for; 0: none */
	uint64_t segment_mru;	/* the largest segment we accept */
	uint64_t transfer_mru;	/* the largest bundle we accept */
	uint64_t segment_max;	/* the largest segment we send (also bounded by the peer's MRU) */
	double setup_timeout_s; /* for the contact header and SESS_INIT */
};

struct tcpcl4_session_ops {
	/* The session is up: the peer's node ID (not NUL-terminated) and its MRUs. */
	void (*up)(void *ctx, struct tcpcl4_session *s, const char *peer_id, size_t peer_id_len);
	/*
	 * A whole bundle arrived in transfer xfer_id; data is valid during the
	 * call only. Answer with tcpcl4_session_accept(), now or later.
	 */
	void (*received)(void *ctx, struct tcpcl4_session *s, uint64_t xfer_id, const uint8_t *data,
			 size_t len);
	/*
	 * The transfer of token ended: 0 when the peer acknowledged all of it,
	 * -ECONNREFUSED when it refused (reason in refuse_reason), -ECONNRESET
	 * when the session ended first.
	 */
	void (*sent)(void *ctx, struct tcpcl4_session *s, uint64_t token, int status,
		     uint8_t refuse_reason);
	/*
	 * The session is over (why: static text for the log); the session is
	 * freed on return, its fd closed. Every send and every unaccepted
	 * bundle has been answered before.
	 */
	void (*down)(void *ctx, struct tcpcl4_session *s, const char *why);
};

/*
 * Start a session on fd (connected, non-blocking; the session owns it from
 * here, even on failure). active: we connected. cfg and ops are copied.
 * Returns 0 with *ret, -EINVAL or -ENOMEM.
 */
int tcpcl4_session_new(struct ev_loop *loop, int fd, bool active, const struct tcpcl4_config *cfg,
		       const struct tcpcl4_session_ops *ops, void *ctx,
		       struct tcpcl4_session **ret);

/*
 * Queue a bundle for the peer: len bytes at data, a malloc'd buffer the
 * session takes (and frees) when this returns 0. Transfers go out
 * one after another, each split into segments no larger than the peer's
 * segment MRU and cfg->segment_max. ops->sent answers with token. -EINVAL
 * for nothing (a bundle is never empty), -ENOTCONN once the session is
 * ending, -EMSGSIZE over the peer's transfer MRU, -ENOMEM.
 */
int tcpcl4_session_send(struct tcpcl4_session *s, uint64_t token, uint8_t *data, size_t len);

/*
 * The owner's answer to a received bundle: status 0 sends the transfer's
 * final XFER_ACK; otherwise an XFER_REFUSE with refuse_reason (5.2.4:
 * "No Resources" when the store is full, "Not Acceptable" for a bundle that
 * does not decode).
 */
void tcpcl4_session_accept(struct tcpcl4_session *s, uint64_t xfer_id, int status,
			   uint8_t refuse_reason);

/* End the session with SESS_TERM (reason) once what is queued has gone. */
void tcpcl4_session_close(struct tcpcl4_session *s, uint8_t reason);

/*
 * End the session now, without a SESS_TERM (bpd is stopping): its sends
 * hear -ECONNRESET, then ops->down; freed on return unless called from one
 * of its callbacks (then when that returns).
 */
void tcpcl4_session_abort(struct tcpcl4_session *s);

/*
 * Bundles queued by tcpcl4_session_send() and not yet acknowledged: the
 * owner keeps the rest in its store (copies of them would grow bpd's memory
 * with the backlog) and sends more as ops->sent reports transfers done.
 */
#define TCPCL4_QUEUE_MAX 64
#define TCPCL4_QUEUE_BYTES_MAX (64u << 20)
/* As many as that are queued: send more when one is answered. */
bool tcpcl4_session_busy(const struct tcpcl4_session *s);

/* Counters for bpctl. */
struct tcpcl4_stats {
	uint64_t bundles_in, bytes_in, bundles_out, bytes_out, refused_in, refused_out;
};
void tcpcl4_session_stats(const struct tcpcl4_session *s, struct tcpcl4_stats *ret);

#endif
