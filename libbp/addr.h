/* SPDX-License-Identifier: MIT */
/*
 * Application addresses (include/bp/bp.h) to and from the EID text the
 * client protocol carries.
 *
 * An address of exactly sizeof(struct sockaddr_bp) bytes is a struct
 * sockaddr_bp; any other length of at least offsetof(struct sockaddr_bp_eid,
 * bp_eid) + 1 is a struct sockaddr_bp_eid whose text must end with a NUL
 * within that length.
 */
#ifndef LIBBP_ADDR_H
#define LIBBP_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* What an address is for: the checks and errnos differ. */
enum addr_use {
	ADDR_BIND,   /* ipn service 0 ("any free one") allowed; bad family: EINVAL */
	ADDR_DEST,   /* bad family: EAFNOSUPPORT */
	ADDR_OPTION, /* bad family: EINVAL */
};

/*
 * The EID text of an application's address, NUL-terminated in text (cap
 * bytes). Errors as bp-socket's (docs/bp-socket-compat.md): -EINVAL for no
 * address, a bad length, a missing NUL, text that does not fit or does not
 * start with its scheme, or ipn service 0 (except to bind); a family other
 * than AF_BP fails as `use` says; -EAFNOSUPPORT for a scheme that struct
 * does not carry. Everything else about the EID is for bpd to judge
 * (ipn node 0 to bind means "this node"). Returns the text length.
 */
int addr_to_eid(const struct sockaddr *sa, socklen_t len, enum addr_use use, char *text,
		size_t cap);

/*
 * Write the address of EID text (len bytes, no NUL) to sa, which has room
 * for *salen bytes: a struct sockaddr_bp when the EID is ipn:N.S with 32-bit
 * numbers, else a struct sockaddr_bp_eid. Like a kernel socket, it writes
 * what fits and sets *salen to the address's full size.
 */
void addr_from_eid(const char *eid, size_t len, void *sa, socklen_t *salen);

#endif
