/* SPDX-License-Identifier: MIT */
/* Application addresses <-> EID text (addr.h). */
#include "addr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bp/bp.h"
#include "bp/proto.h"

#define EID_OFF offsetof(struct sockaddr_bp_eid, bp_eid)
#define SCHEME_PREFIX_LEN 4 /* "ipn:" and "dtn:" */

/* The sockaddr may sit at any address: read its fields by copying them. */
static sa_family_t family_of(const struct sockaddr *sa)
{
	sa_family_t f;

	memcpy(&f, (const char *)sa + offsetof(struct sockaddr_bp, bp_family), sizeof(f));
	return f;
}

static bp_scheme_t scheme_of(const struct sockaddr *sa)
{
	bp_scheme_t s;

	memcpy(&s, (const char *)sa + offsetof(struct sockaddr_bp, bp_scheme), sizeof(s));
	return s;
}

static int bad_family(enum addr_use use)
{
	return use == ADDR_DEST ? -EAFNOSUPPORT : -EINVAL;
}

static int ipn_to_text(const struct sockaddr *sa, enum addr_use use, char *text, size_t cap)
{
	struct sockaddr_bp a;
	int n;

	memcpy(&a, sa, sizeof(a));
	if (a.bp_family != AF_BP)
		return bad_family(use);
	if (a.bp_scheme != BP_SCHEME_IPN)
		return -EAFNOSUPPORT;
	if (a.bp_addr.ipn.service_id == 0 && use != ADDR_BIND)
		return -EINVAL;
	n = snprintf(text, cap, "ipn:%" PRIu32 ".%" PRIu32, a.bp_addr.ipn.node_id,
		     a.bp_addr.ipn.service_id);
	return n < 0 || (size_t)n >= cap ? -EINVAL : n;
}

/* ipn text (after "ipn:") whose last number, the service, is 0. */
static bool ipn_service_zero(const char *ssp, size_t len)
{
	size_t i = len;

	while (i > 0 && ssp[i - 1] != '.')
		i--;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (ssp[i] != '0')
			return false;
	return true;
}

static int eid_to_text(const struct sockaddr *sa, socklen_t len, enum addr_use use, char *text,
		       size_t cap)
{
	const char *eid = (const char *)sa + EID_OFF, *nul;
	bp_scheme_t scheme = scheme_of(sa);
	size_t n;

	if (family_of(sa) != AF_BP)
		return bad_family(use);
	if (scheme != BP_SCHEME_IPN && scheme != BP_SCHEME_DTN)
		return -EAFNOSUPPORT;
	nul = memchr(eid, '\0', len - EID_OFF);
	if (!nul)
		return -EINVAL;
	n = (size_t)(nul - eid);
	if (n >= cap || n > BP_PROTO_MAX_EID || n < SCHEME_PREFIX_LEN)
		return -EINVAL;
	if (memcmp(eid, scheme == BP_SCHEME_IPN ? "ipn:" : "dtn:", SCHEME_PREFIX_LEN) != 0)
		return -EINVAL;
	if (scheme == BP_SCHEME_IPN && use != ADDR_BIND &&
	    ipn_service_zero(eid + SCHEME_PREFIX_LEN, n - SCHEME_PREFIX_LEN))
		return -EINVAL;
	memcpy(text, eid, n + 1);
	return (int)n;
}

int addr_to_eid(const struct sockaddr *sa, socklen_t len, enum addr_use use, char *text, size_t cap)
{
	if (!sa || len < EID_OFF + 1)
		return -EINVAL;
	if (len == sizeof(struct sockaddr_bp))
		return ipn_to_text(sa, use, text, cap);
	return eid_to_text(sa, len, use, text, cap);
}

/* A decimal number of at most 32 bits at *p (advanced past it). */
static bool parse_u32(const char **p, const char *end, uint32_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*p = s;
	*ret = (uint32_t)v;
	return true;
}

/* "ipn:N.S" with both numbers of 32 bits: what struct sockaddr_bp can say. */
static bool ipn32_parse(const char *eid, size_t len, uint32_t *node, uint32_t *service)
{
	const char *p = eid + SCHEME_PREFIX_LEN, *end = eid + len;

	if (len < SCHEME_PREFIX_LEN || memcmp(eid, "ipn:", SCHEME_PREFIX_LEN) != 0)
		return false;
	if (!parse_u32(&p, end, node) || p == end || *p++ != '.')
		return false;
	return parse_u32(&p, end, service) && p == end;
}

/* Copy what fits of the len bytes at src to offset off of an address with room for cap. */
static void put_part(void *sa, size_t cap, size_t off, const void *src, size_t len)
{
	if (off < cap)
		memcpy((char *)sa + off, src, len < cap - off ? len : cap - off);
}

void addr_from_eid(const char *eid, size_t len, void *sa, socklen_t *salen)
{
	struct sockaddr_bp ipn = { .bp_family = AF_BP, .bp_scheme = BP_SCHEME_IPN };
	struct sockaddr_bp_eid head = { .bp_family = AF_BP };
	size_t cap = *salen;

	if (ipn32_parse(eid, len, &ipn.bp_addr.ipn.node_id, &ipn.bp_addr.ipn.service_id)) {
		put_part(sa, cap, 0, &ipn, sizeof(ipn));
		*salen = sizeof(ipn);
		return;
	}
	head.bp_scheme = BP_SCHEME_DTN;
	if (len >= SCHEME_PREFIX_LEN && memcmp(eid, "ipn:", SCHEME_PREFIX_LEN) == 0)
		head.bp_scheme = BP_SCHEME_IPN;
	put_part(sa, cap, 0, &head, EID_OFF);
	put_part(sa, cap, EID_OFF, eid, len);
	put_part(sa, cap, EID_OFF + len, "", 1);
	*salen = (socklen_t)(EID_OFF + len + 1);
	/* The length tells the structs apart: never that of struct sockaddr_bp. */
	if (*salen == sizeof(struct sockaddr_bp)) {
		put_part(sa, cap, *salen, "", 1);
		(*salen)++;
	}
}
