/* SPDX-License-Identifier: MIT */
/* Access rules: who may bind what and run admin commands (access.h). */
#include "access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "pattern.h"

void access_init(struct access *ac, uid_t owner)
{
	memset(ac, 0, sizeof(*ac));
	ac->owner = owner;
}

void access_free(struct access *ac)
{
	for (unsigned i = 0; i < ac->nrules; i++)
		eid_pattern_free(&ac->rules[i].pat);
	free(ac->rules);
	ac->rules = NULL;
	ac->nrules = 0;
}

/* "user NAME|UID" or "group NAME|GID". */
static int parse_principal(const char *kind, const char *name, struct access_principal *ret,
			   const char **why)
{
	uint64_t id;

	ret->is_group = strcmp(kind, "group") == 0;
	if (!ret->is_group && strcmp(kind, "user") != 0) {
		*why = "expected \"user NAME|UID\" or \"group NAME|GID\"";
		return -EINVAL;
	}
	if (parse_u64(name, &id)) {
		if (id > UINT32_MAX - 1) {
			*why = "user or group ID out of range";
			return -EINVAL;
		}
		ret->id = (uint32_t)id;
		return 0;
	}
	if (ret->is_group) {
		const struct group *g = getgrnam(name);

		if (!g) {
			*why = "no such group";
			return -EINVAL;
		}
		ret->id = g->gr_gid;
	} else {
		const struct passwd *pw = getpwnam(name);

		if (!pw) {
			*why = "no such user";
			return -EINVAL;
		}
		ret->id = pw->pw_uid;
	}
	return 0;
}

/* The pattern of a bind rule: node 0 is never bound, so a rule naming it would match nothing. */
static int parse_pattern(const char *text, struct eid_pattern *p, const char **why)
{
	int r = eid_pattern_parse(text, p, why);

	if (r == 0 && p->scheme == BP_EID_IPN && !p->any_node && p->node == 0) {
		*why = "bad ipn pattern: node 0 is never bound; name the node's number or *";
		return -EINVAL;
	}
	return r;
}

int access_config(struct access *ac, int argc, char **argv, const char **ret_why)
{
	struct access_bind_rule r = { 0 };
	int rc;

	if (argc == 4 && strcmp(argv[1], "admin") == 0) {
		if (ac->nadmins == ACCESS_MAX_RULES) {
			*ret_why = "too many admin rules";
			return -EINVAL;
		}
		rc = parse_principal(argv[2], argv[3], &ac->admins[ac->nadmins], ret_why);
		if (rc == 0)
			ac->nadmins++;
		return rc;
	}
	if (argc != 5 || strcmp(argv[1], "bind") != 0) {
		*ret_why = "usage: access admin user|group NAME, or access bind PATTERN user|group "
			   "NAME";
		return -EINVAL;
	}
	if (ac->nrules == ACCESS_MAX_RULES) {
		*ret_why = "too many bind rules";
		return -EINVAL;
	}
	rc = parse_principal(argv[3], argv[4], &r.who, ret_why);
	if (rc == 0)
		rc = parse_pattern(argv[2], &r.pat, ret_why);
	if (rc == 0 && !ac->rules) {
		ac->rules = calloc(ACCESS_MAX_RULES, sizeof(*ac->rules));
		if (!ac->rules) {
			*ret_why = "out of memory";
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		eid_pattern_free(&r.pat);
		return rc;
	}
	ac->rules[ac->nrules++] = r;
	return 0;
}

static bool names(const struct access_principal *who, const struct access_peer *p)
{
	if (!who->is_group)
		return p->uid == who->id;
	if (p->gid == who->id)
		return true;
	for (unsigned i = 0; i < p->ngroups; i++)
		if (p->groups[i] == who->id)
			return true;
	return false;
}

bool access_is_admin(const struct access *ac, const struct access_peer *p)
{
	/*
	 * The user bpd runs as owns the node, unless it is the overflow uid
	 * that stands for every unmapped user of another user namespace.
	 */
	if (p->uid == 0 || (p->uid == ac->owner && ac->owner != ACCESS_OVERFLOW_UID))
		return true;
	for (unsigned i = 0; i < ac->nadmins; i++)
		if (names(&ac->admins[i], p))
			return true;
	return false;
}

bool access_reserved(const struct access *ac, const struct bp_eid *eid)
{
	for (unsigned i = 0; i < ac->nrules; i++)
		if (eid_pattern_match(&ac->rules[i].pat, eid))
			return true;
	return false;
}

int access_may_bind(const struct access *ac, const struct access_peer *p, const struct bp_eid *eid)
{
	bool reserved = false;

	if (access_is_admin(ac, p))
		return 0;
	for (unsigned i = 0; i < ac->nrules; i++) {
		if (!eid_pattern_match(&ac->rules[i].pat, eid))
			continue;
		if (names(&ac->rules[i].who, p))
			return 0;
		reserved = true;
	}
	if (reserved)
		return -EACCES;
	if (eid->scheme == BP_EID_IPN && eid->service < ACCESS_PRIVILEGED_SERVICES)
		return -EACCES;
	return 0;
}
