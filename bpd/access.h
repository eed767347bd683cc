/* SPDX-License-Identifier: MIT */
/*
 * Who may do what on this node: bind which endpoints, run admin commands.
 * Clients are known by the credentials the kernel gives at accept
 * (SO_PEERCRED, SO_PEERGROUPS); rules come from the config file:
 *
 *	access admin group NAME|GID	members may run admin commands and
 *					bind any endpoint of the node
 *	access admin user NAME|UID	likewise, one user
 *	access bind PATTERN user NAME|UID
 *	access bind PATTERN group NAME|GID
 *
 * PATTERN is an ipn EID whose node and service may each be '*', and whose
 * service may be a range "LO-HI" (ipn:1.200, ipn:1.300-399, ipn:*.7), or a
 * dtn EID, exact or ending in '*' to match a prefix ("dtn://node/sensors/"
 * then '*').
 *
 * Decisions, in order: root, the user bpd runs as (unless that is nobody,
 * ACCESS_OVERFLOW_UID), and admins may bind
 * anything of the node; an endpoint that some "access bind" pattern matches
 * may be bound only by the users and groups of the rules that match it (a
 * rule both grants and reserves); any other ipn service below 64 needs an
 * admin; everything else is open to every user.
 */
#ifndef BPD_ACCESS_H
#define BPD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eid.h"
#include "pattern.h"

/* Services below this need an admin unless a rule grants them. */
#define ACCESS_PRIVILEGED_SERVICES 64
/* Most supplementary groups looked at per client. */
#define ACCESS_MAX_GROUPS 64
/* The uid the kernel shows for users unmapped in a user namespace ("nobody"). */
#define ACCESS_OVERFLOW_UID 65534
/* Most rules of each kind. */
#define ACCESS_MAX_RULES 256

/* A client as the kernel vouches for it. */
struct access_peer {
	uid_t uid;
	gid_t gid;
	unsigned ngroups;
	gid_t groups[ACCESS_MAX_GROUPS]; /* supplementary */
};

/* Who a rule names. */
struct access_principal {
	bool is_group;
	uint32_t id; /* uid or gid */
};

struct access_bind_rule {
	struct eid_pattern pat;
	struct access_principal who;
};

struct access {
	uid_t owner; /* the user bpd runs as */
	struct access_principal admins[ACCESS_MAX_RULES];
	unsigned nadmins;
	struct access_bind_rule *rules;
	unsigned nrules;
};

void access_init(struct access *ac, uid_t owner);
void access_free(struct access *ac);

/*
 * One "access ..." config line, split into words (argv[0] is "access").
 * Returns 0, or -EINVAL with *ret_why (static text).
 */
int access_config(struct access *ac, int argc, char **argv, const char **ret_why);

bool access_is_admin(const struct access *ac, const struct access_peer *p);

/*
 * May p bind eid (an endpoint of this node)? 0 or -EACCES. An endpoint
 * reserved by a rule that does not name p is -EACCES even when the default
 * would allow it.
 */
int access_may_bind(const struct access *ac, const struct access_peer *p, const struct bp_eid *eid);

/* Does some rule name eid? (Ephemeral services skip reserved ones.) */
bool access_reserved(const struct access *ac, const struct bp_eid *eid);

#endif
