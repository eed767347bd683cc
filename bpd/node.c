/* SPDX-License-Identifier: MIT */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int node_id_parse(const char *text, struct node_id *ret, const char **ret_why)
{
	size_t len = strlen(text);
	int n;

	/* The node number alone names the node: ipn:N means ipn:N.0. */
	if (strncmp(text, "ipn:", 4) == 0 && !strchr(text + 4, '.'))
		n = snprintf(ret->text, sizeof(ret->text), "%s.0", text);
	else if (strncmp(text, "dtn://", 6) == 0 && !strchr(text + 6, '/'))
		n = snprintf(ret->text, sizeof(ret->text), "%s/", text);
	else
		n = snprintf(ret->text, sizeof(ret->text), "%s", text);
	if (n < 0 || (size_t)n >= sizeof(ret->text) || len == 0) {
		*ret_why = "node ID too long or empty";
		return -EINVAL;
	}
	if (bp_eid_parse(ret->text, (size_t)n, &ret->eid, ret_why) < 0)
		return -EINVAL;
	if (!bp_eid_is_node_id(&ret->eid) || bp_eid_is_null(&ret->eid)) {
		*ret_why = "not a node ID: use ipn:N or dtn://name";
		return -EINVAL;
	}
	return 0;
}

void node_id_copy(struct node_id *dst, const struct node_id *src)
{
	if (dst == src)
		return;
	memcpy(dst, src, sizeof(*dst));
	if (src->eid.ssp >= src->text && src->eid.ssp < src->text + sizeof(src->text))
		dst->eid.ssp = dst->text + (src->eid.ssp - src->text);
}

bool node_id_owns(const struct node_id *node, const struct bp_eid *eid)
{
	const struct bp_eid *me = &node->eid;
	size_t name;

	if (eid->scheme != me->scheme)
		return false;
	if (me->scheme == BP_EID_IPN)
		return eid->allocator == me->allocator && eid->node == me->node;
	/* dtn: same "//name/" prefix (RFC 9171 4.2.5.1.1). */
	name = me->ssp_len;
	return eid->ssp_len >= name && memcmp(eid->ssp, me->ssp, name) == 0;
}
