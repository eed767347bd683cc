/* SPDX-License-Identifier: MIT */
/*
 * EID patterns, as access rules and routes write them: an ipn EID whose node
 * and service may each be '*', and whose service may be a range "LO-HI"
 * (ipn:1.200, ipn:1.300-399, ipn:*.7, ipn:30.*), or a dtn EID, exact or
 * ending in '*' to match a prefix (dtn://node/sensors/ then '*').
 */
#ifndef BPD_PATTERN_H
#define BPD_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#include "eid.h"

struct eid_pattern {
	uint8_t scheme; /* enum bp_eid_scheme */
	/* ipn: node (FQNN) unless any_node; services lo..hi */
	bool any_node;
	uint64_t node;
	uint64_t lo, hi;
	/* dtn: text after "dtn:", a prefix when prefix is set (malloc'd) */
	char *ssp;
	bool prefix;
};

/* Parse text into *ret. 0, or -EINVAL/-ENOMEM with *why (static text). */
int eid_pattern_parse(const char *text, struct eid_pattern *ret, const char **why);
void eid_pattern_free(struct eid_pattern *p);
bool eid_pattern_match(const struct eid_pattern *p, const struct bp_eid *eid);
/*
 * How narrow p is, to pick the most specific of several that match: an
 * exact EID ranks above a node with a service range, above a node with
 * any service, above any node.
 */
unsigned eid_pattern_rank(const struct eid_pattern *p);

#endif
