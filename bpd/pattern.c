/* SPDX-License-Identifier: MIT */
/* EID patterns: see pattern.h. */
#include "pattern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* The service part of an ipn pattern: "*", "N" or "LO-HI". */
static int parse_services(const char *s, struct eid_pattern *p, const char **why)
{
	const char *dash = strchr(s, '-');
	char lo[24];

	*why = "bad service: expected a number, LO-HI or *";
	if (strcmp(s, "*") == 0) {
		p->lo = 0;
		p->hi = UINT64_MAX;
		return 0;
	}
	if (!dash) {
		if (!parse_u64(s, &p->lo))
			return -EINVAL;
		p->hi = p->lo;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(lo))
		return -EINVAL;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (!parse_u64(lo, &p->lo) || !parse_u64(dash + 1, &p->hi))
		return -EINVAL;
	if (p->lo > p->hi) {
		*why = "bad service range: LO is above HI";
		return -EINVAL;
	}
	return 0;
}

int eid_pattern_parse(const char *text, struct eid_pattern *p, const char **why)
{
	size_t len = strlen(text);

	memset(p, 0, sizeof(*p));
	if (strncmp(text, "ipn:", 4) == 0) {
		const char *dot = strrchr(text, '.');
		char node[24];
		size_t nlen;

		p->scheme = BP_EID_IPN;
		*why = "bad ipn pattern: expected ipn:NODE.SERVICE";
		if (!dot)
			return -EINVAL;
		nlen = (size_t)(dot - text) - 4;
		if (nlen == 0 || nlen >= sizeof(node))
			return -EINVAL;
		memcpy(node, text + 4, nlen);
		node[nlen] = '\0';
		p->any_node = strcmp(node, "*") == 0;
		if (!p->any_node && !parse_u64(node, &p->node))
			return -EINVAL;
		return parse_services(dot + 1, p, why);
	}
	if (strncmp(text, "dtn://", 6) == 0 && len > 6) {
		p->scheme = BP_EID_DTN;
		p->prefix = text[len - 1] == '*';
		p->ssp = strndup(text + 4, len - 4 - p->prefix);
		if (!p->ssp) {
			*why = "out of memory";
			return -ENOMEM;
		}
		return 0;
	}
	*why = "bad pattern: expected ipn:NODE.SERVICE or dtn://NODE/DEMUX[*]";
	return -EINVAL;
}

void eid_pattern_free(struct eid_pattern *p)
{
	free(p->ssp);
	p->ssp = NULL;
}

bool eid_pattern_match(const struct eid_pattern *p, const struct bp_eid *eid)
{
	size_t n;

	if (p->scheme != eid->scheme)
		return false;
	if (eid->scheme == BP_EID_IPN) {
		uint64_t fqnn = eid->allocator << 32 | eid->node;

		return (p->any_node || p->node == fqnn) && eid->service >= p->lo &&
		       eid->service <= p->hi;
	}
	n = strlen(p->ssp);
	if (p->prefix)
		return eid->ssp_len >= n && memcmp(eid->ssp, p->ssp, n) == 0;
	return eid->ssp_len == n && memcmp(eid->ssp, p->ssp, n) == 0;
}

unsigned eid_pattern_rank(const struct eid_pattern *p)
{
	if (p->scheme == BP_EID_DTN)
		return p->prefix ? 1 + (unsigned)(strlen(p->ssp) > 6) : 3;
	if (p->any_node)
		return 0;
	return p->lo == p->hi ? 3 : p->lo == 0 && p->hi == UINT64_MAX ? 1 : 2;
}
