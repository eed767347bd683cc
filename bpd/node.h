/* SPDX-License-Identifier: MIT */
/*
 * This node's identity (RFC 9171 4.2.5.2): an ipn node number or a dtn node
 * name, and which endpoints are its own.
 */
#ifndef BPD_NODE_H
#define BPD_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "eid.h"

#define NODE_TEXT_MAX 300

struct node_id {
	struct bp_eid eid;	  /* the administrative endpoint: ipn:N.0 or dtn://name/ */
	char text[NODE_TEXT_MAX]; /* its text form; eid.ssp points in here */
};

/*
 * "ipn:N", "ipn:N.0", "dtn://name" or "dtn://name/". Returns 0, or -EINVAL
 * with *ret_why.
 */
int node_id_parse(const char *text, struct node_id *ret, const char **ret_why);

/* Copy src to dst (a node ID's EID points into its own text). */
void node_id_copy(struct node_id *dst, const struct node_id *src);

/* Is eid an endpoint of this node (same node number, or same dtn node name)? */
bool node_id_owns(const struct node_id *node, const struct bp_eid *eid);

#endif
