/* SPDX-License-Identifier: MIT */
/*
 * libbp: opening, binding, configuring and closing BP sockets
 * (include/bp/bp.h). Sending is in send.c, receiving in recv.c; sock.h says
 * how a socket's state is kept and locked, conn.h how libbp talks to bpd.
 */
#include "bp/bp.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "sock.h"

/* Big enough for any request but SEND: two EIDs and a few integers. */
#define SMALL_REQ_MAX (2 * BP_PROTO_MAX_EID + 256)

/* The delivery fd as the app asked for it: blocking unless SOCK_NONBLOCK. */
static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* SOCKET: bpd answers with the delivery fd. */
static int open_socket(struct bp_sock *s, bool nonblock)
{
	uint8_t req[BP_PROTO_HDR_LEN];
	struct conn_reply rep;
	struct bp_msg_wr w;
	uint32_t id = sock_request_id(s);
	long n;
	int r;

	r = conn_open();
	if (r < 0)
		return r;
	s->ctl = r;
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SOCKET, id);
	n = bp_msg_end(&w);
	if (n < 0)
		return (int)n;
	r = conn_call(s->ctl, req, (size_t)n, id, -1, false, &rep, &s->fd);
	if (r < 0)
		return r;
	if (s->fd < 0)
		return -EPROTO;
	return set_nonblock(s->fd, nonblock);
}

BP_EXPORT int bp_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct bp_sock *s;
	int fd, r;

	if (domain != AF_BP)
		return sock_fail(-EAFNOSUPPORT);
	if (base != SOCK_DGRAM && base != SOCK_SEQPACKET)
		return sock_fail(-ESOCKTNOSUPPORT);
	s = sock_new();
	if (!s)
		return sock_fail(-ENOMEM);
	r = open_socket(s, type & SOCK_NONBLOCK);
	fd = s->fd;
	if (r == 0)
		r = sock_table_add(s); /* from here on, another thread may close it */
	if (r < 0) {
		if (fd >= 0)
			(void)close(fd);
		sock_put(s);
		return sock_fail(r);
	}
	return fd;
}

/* BIND on the control connection; call with ctl_lock held. */
static int bind_locked(struct bp_sock *s, const char *eid, size_t len)
{
	const struct bp_msg_field *f;
	uint8_t req[SMALL_REQ_MAX];
	struct conn_reply rep;
	struct bp_msg_wr w;
	uint32_t id = sock_request_id(s);
	long n;
	int r;

	if (atomic_load(&s->bound))
		return -EINVAL;
	bp_msg_begin(&w, req, sizeof(req), BP_MSG_BIND, id);
	bp_msg_put_bytes(&w, BP_F_EID, eid, len);
	if (s->policy_set)
		bp_msg_put_u64(&w, BP_F_POLICY, (uint64_t)s->policy);
	n = bp_msg_end(&w);
	if (n < 0)
		return (int)n;
	r = conn_call(s->ctl, req, (size_t)n, id, -1, false, &rep, NULL);
	if (r < 0)
		return r;
	/* What bpd bound: "ipn:0.0" asks it to pick the node and a free service. */
	f = bp_msg_find(&rep.msg, BP_F_EID);
	if (f) {
		memcpy(s->eid, f->ptr, f->len);
		s->eid[f->len] = '\0';
	} else {
		memcpy(s->eid, eid, len + 1);
	}
	/* The policy in force: the app's, or the node's default. */
	s->policy = (int)bp_msg_u64(&rep.msg, BP_F_POLICY, (uint64_t)s->policy);
	atomic_store(&s->bound, true);
	return 0;
}

BP_EXPORT int bp_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	char eid[BP_PROTO_MAX_EID + 1];
	struct bp_sock *s = sock_get(fd);
	int r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	r = addr_to_eid(addr, len, ADDR_BIND, eid, sizeof(eid));
	if (r >= 0) {
		pthread_mutex_lock(&s->ctl_lock);
		r = bind_locked(s, eid, (size_t)r);
		pthread_mutex_unlock(&s->ctl_lock);
	}
	sock_put(s);
	return r < 0 ? sock_fail(r) : 0;
}

BP_EXPORT int bp_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	/* Unbound: the wildcard, as 0.0.0.0:0 for an unbound UDP socket. */
	static const char any[] = "ipn:0.0";
	struct bp_sock *s = sock_get(fd);
	int r = 0;

	if (!s)
		return sock_fail(sock_not_found(fd));
	if (!len || (!addr && *len > 0)) {
		r = -EFAULT;
	} else {
		pthread_mutex_lock(&s->ctl_lock);
		if (atomic_load(&s->bound))
			addr_from_eid(s->eid, strlen(s->eid), addr, len);
		else
			addr_from_eid(any, sizeof(any) - 1, addr, len);
		pthread_mutex_unlock(&s->ctl_lock);
	}
	sock_put(s);
	return r < 0 ? sock_fail(r) : 0;
}

BP_EXPORT int bp_close(int fd)
{
	struct bp_sock *s = sock_take(fd);
	int r;

	if (!s)
		return sock_fail(-EBADF);
	r = close(s->fd) < 0 && errno != EINTR ? -errno : 0;
	sock_put(s);
	return r < 0 ? sock_fail(r) : 0;
}

/* Options */

/* SETOPT on the control connection; call with ctl_lock held. */
static int setopt_locked(struct bp_sock *s, enum bp_sockopt_id opt, uint64_t value)
{
	uint8_t req[SMALL_REQ_MAX];
	struct conn_reply rep;
	struct bp_msg_wr w;
	uint32_t id = sock_request_id(s);
	long n;

	bp_msg_begin(&w, req, sizeof(req), BP_MSG_SETOPT, id);
	bp_msg_put_u64(&w, BP_F_OPTION, opt);
	bp_msg_put_u64(&w, BP_F_VALUE, value);
	n = bp_msg_end(&w);
	if (n < 0)
		return (int)n;
	return conn_call(s->ctl, req, (size_t)n, id, -1, false, &rep, NULL);
}

/* An int option's value, checked against [min, max]. */
static int get_int(const void *val, socklen_t len, int min, int max, int *ret)
{
	if (len < sizeof(int))
		return -EINVAL;
	if (!val)
		return -EFAULT;
	memcpy(ret, val, sizeof(int));
	return *ret < min || *ret > max ? -EINVAL : 0;
}

/*
 * The delivery policy lives in bpd: before bind, BIND carries it; after,
 * SETOPT changes it there first.
 */
static int set_policy_locked(struct bp_sock *s, int policy)
{
	int r = 0;

	if (atomic_load(&s->bound))
		r = setopt_locked(s, BP_OPT_DELIVERY_POLICY, (uint64_t)policy);
	if (r == 0) {
		s->policy = policy;
		s->policy_set = true;
	}
	return r;
}

/* A SOL_BP option; call with ctl_lock held. */
static int setsockopt_locked(struct bp_sock *s, int name, const void *val, socklen_t len)
{
	char eid[BP_PROTO_MAX_EID + 1];
	uint64_t lifetime;
	int v, r;

	switch (name) {
	case BP_LIFETIME:
		if (len < sizeof(lifetime))
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(&lifetime, val, sizeof(lifetime));
		if (lifetime == 0)
			return -EINVAL;
		s->lifetime = lifetime;
		return 0;
	case BP_REPORT_TO:
		/* No address: back to the default, the socket's own EID. */
		r = len == 0 ? 0 : addr_to_eid(val, len, ADDR_OPTION, eid, sizeof(eid));
		if (r >= 0)
			memcpy(s->report_to, len == 0 ? "" : eid, (size_t)r + 1);
		return r < 0 ? r : 0;
	case BP_CRC_TYPE:
		r = get_int(val, len, 0, SOCK_CRC_MAX, &v);
		if (r == 0)
			s->crc_type = v;
		return r;
	case BP_DELIVERY_POLICY:
		r = get_int(val, len, BP_DELIVERY_DEFER, BP_DELIVERY_ABANDON, &v);
		return r < 0 ? r : set_policy_locked(s, v);
	case BP_HOP_LIMIT:
		r = get_int(val, len, 0, 255, &v);
		if (r == 0)
			s->hop_limit = v;
		return r;
	default:
		return -ENOPROTOOPT;
	}
}

BP_EXPORT int bp_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct bp_sock *s = sock_get(fd);
	int r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	if (level == SOL_SOCKET) {
		/* SO_RCVTIMEO and the like act on the fd the app waits on. */
		r = setsockopt(s->fd, level, name, val, len) < 0 ? -errno : 0;
	} else if (level == SOL_BP) {
		pthread_mutex_lock(&s->ctl_lock);
		r = setsockopt_locked(s, name, val, len);
		pthread_mutex_unlock(&s->ctl_lock);
	} else {
		r = -ENOPROTOOPT;
	}
	sock_put(s);
	return r < 0 ? sock_fail(r) : 0;
}

static int put_value(void *val, socklen_t *len, const void *v, socklen_t size)
{
	if (*len < size)
		return -EINVAL;
	memcpy(val, v, size);
	*len = size;
	return 0;
}

/* A SOL_BP option's value; call with ctl_lock held. */
static int getsockopt_locked(struct bp_sock *s, int name, void *val, socklen_t *len)
{
	const char *rpt = s->report_to[0] ? s->report_to : s->eid;

	switch (name) {
	case BP_LIFETIME:
		return put_value(val, len, &s->lifetime, sizeof(s->lifetime));
	case BP_REPORT_TO:
		/* Unset and unbound: no address, as getsockname() of an unbound socket. */
		if (rpt[0])
			addr_from_eid(rpt, strlen(rpt), val, len);
		else
			*len = 0;
		return 0;
	case BP_CRC_TYPE:
		return put_value(val, len, &s->crc_type, sizeof(s->crc_type));
	case BP_DELIVERY_POLICY:
		return put_value(val, len, &s->policy, sizeof(s->policy));
	case BP_HOP_LIMIT:
		return put_value(val, len, &s->hop_limit, sizeof(s->hop_limit));
	case BP_SENT_ID:
		return put_value(val, len, &s->sent_id, sizeof(s->sent_id));
	default:
		return -ENOPROTOOPT;
	}
}

BP_EXPORT int bp_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct bp_sock *s = sock_get(fd);
	int r;

	if (!s)
		return sock_fail(sock_not_found(fd));
	if (level == SOL_SOCKET) {
		r = getsockopt(s->fd, level, name, val, len) < 0 ? -errno : 0;
	} else if (level != SOL_BP) {
		r = -ENOPROTOOPT;
	} else if (!len || (!val && *len > 0)) {
		r = -EFAULT;
	} else {
		pthread_mutex_lock(&s->ctl_lock);
		r = getsockopt_locked(s, name, val, len);
		pthread_mutex_unlock(&s->ctl_lock);
	}
	sock_put(s);
	return r < 0 ? sock_fail(r) : 0;
}
