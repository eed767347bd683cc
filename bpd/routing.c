/* SPDX-License-Identifier: MIT */
/* Routes and contacts: see routing.h. */
#include "routing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "pattern.h"

#define PATTERN_TEXT_MAX 300

struct route {
	struct eid_pattern pat;
	char text[PATTERN_TEXT_MAX];
	struct node_id via;
};

struct contact {
	struct node_id node;
	uint64_t from_ms, to_ms, rate;
};

/* Each entry its own allocation: a node ID's EID points into its own text. */
struct routing {
	struct route **routes;
	size_t nroutes, caproutes;
	struct contact **contacts;
	size_t ncontacts, capcontacts;
};

struct routing *routing_new(void)
{
	return calloc(1, sizeof(struct routing));
}

void routing_free(struct routing *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->nroutes; i++) {
		eid_pattern_free(&rt->routes[i]->pat);
		free(rt->routes[i]);
	}
	for (size_t i = 0; i < rt->ncontacts; i++)
		free(rt->contacts[i]);
	free(rt->routes);
	free(rt->contacts);
	free(rt);
}

/* Room for one more pointer in an array of n of cap, growing it. */
static int grow(void ***arr, size_t *cap, size_t n)
{
	void **p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 16) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

static int route_add(struct routing *rt, const char *pattern, const char *via, const char **why)
{
	struct route *r;
	int e;

	if (strlen(pattern) >= sizeof(r->text)) {
		*why = "pattern too long";
		return -EINVAL;
	}
	for (size_t i = 0; i < rt->nroutes; i++) {
		if (strcmp(rt->routes[i]->text, pattern) == 0) {
			*why = "a route for that pattern exists: delete it first";
			return -EEXIST;
		}
	}
	if (rt->nroutes == ROUTING_MAX_ROUTES) {
		*why = "too many routes";
		return -ENOSPC;
	}
	r = calloc(1, sizeof(*r));
	if (!r || grow((void ***)&rt->routes, &rt->caproutes, rt->nroutes) < 0) {
		free(r);
		*why = "out of memory";
		return -ENOMEM;
	}
	e = node_id_parse(via, &r->via, why) < 0 ? -EINVAL :
						   eid_pattern_parse(pattern, &r->pat, why);
	if (e < 0) {
		free(r);
		return e;
	}
	strcpy(r->text, pattern);
	rt->routes[rt->nroutes++] = r;
	return 0;
}

static int route_del(struct routing *rt, const char *pattern, const char **why)
{
	for (size_t i = 0; i < rt->nroutes; i++) {
		if (strcmp(rt->routes[i]->text, pattern) != 0)
			continue;
		eid_pattern_free(&rt->routes[i]->pat);
		free(rt->routes[i]);
		memmove(&rt->routes[i], &rt->routes[i + 1],
			(rt->nroutes - i - 1) * sizeof(rt->routes[0]));
		rt->nroutes--;
		return 0;
	}
	*why = "no route for that pattern";
	return -ENOENT;
}

/* "+SECONDS" after now, or "YYYY-MM-DDTHH:MM:SSZ"; Unix ms. */
static bool parse_time(const char *s, uint64_t now_ms, uint64_t *ret)
{
	struct tm tm = { 0 };
	uint64_t sec;
	const char *end;
	time_t t;

	if (s[0] == '+') {
		if (!parse_u64(s + 1, &sec) || sec > UINT64_MAX / 1000 - now_ms / 1000)
			return false;
		*ret = now_ms + sec * 1000;
		return true;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return false;
	t = timegm(&tm);
	if (t < 0)
		return false;
	*ret = (uint64_t)t * 1000;
	return true;
}

/* Bytes per second: N, Nk, NM or NG (powers of 1000). */
static bool parse_rate(const char *s, uint64_t *ret)
{
	char num[24];
	size_t n = strlen(s);
	uint64_t mult = 1, v;

	if (n == 0 || n >= sizeof(num))
		return false;
	switch (s[n - 1]) {
	case 'k':
		mult = 1000;
		break;
	case 'M':
		mult = 1000000;
		break;
	case 'G':
		mult = 1000000000;
		break;
	}
	memcpy(num, s, n);
	num[mult > 1 ? n - 1 : n] = '\0';
	if (!parse_u64(num, &v) || v == 0 || v > UINT64_MAX / mult)
		return false;
	*ret = v * mult;
	return true;
}

static int contact_add(struct routing *rt, int argc, char **argv, uint64_t now_ms, const char **why)
{
	struct contact c = { 0 }, *p;

	/* contact add NODE from T1 to T2 [rate R] */
	if ((argc != 7 && argc != 9) || strcmp(argv[3], "from") != 0 ||
	    strcmp(argv[5], "to") != 0 || (argc == 9 && strcmp(argv[7], "rate") != 0)) {
		*why = "usage: contact add NODE from T1 to T2 [rate BYTES/S]";
		return -EINVAL;
	}
	if (node_id_parse(argv[2], &c.node, why) < 0)
		return -EINVAL;
	if (!parse_time(argv[4], now_ms, &c.from_ms) || !parse_time(argv[6], now_ms, &c.to_ms)) {
		*why = "a time is +SECONDS or YYYY-MM-DDTHH:MM:SSZ (UTC)";
		return -EINVAL;
	}
	if (c.to_ms <= c.from_ms) {
		*why = "a contact must end after it starts";
		return -EINVAL;
	}
	if (argc == 9 && !parse_rate(argv[8], &c.rate)) {
		*why = "rate is bytes per second, at least 1, with k, M or G for thousands";
		return -EINVAL;
	}
	if (rt->ncontacts == ROUTING_MAX_CONTACTS) {
		*why = "too many contacts";
		return -ENOSPC;
	}
	p = malloc(sizeof(*p));
	if (!p || grow((void ***)&rt->contacts, &rt->capcontacts, rt->ncontacts) < 0) {
		free(p);
		*why = "out of memory";
		return -ENOMEM;
	}
	*p = c;
	node_id_copy(&p->node, &c.node); /* its EID points into its own text */
	rt->contacts[rt->ncontacts++] = p;
	return 0;
}

static int contact_del(struct routing *rt, const char *node, const char **why)
{
	struct node_id n;
	size_t kept = 0, i;

	if (node_id_parse(node, &n, why) < 0)
		return -EINVAL;
	for (i = 0; i < rt->ncontacts; i++) {
		if (strcmp(rt->contacts[i]->node.text, n.text) == 0)
			free(rt->contacts[i]);
		else
			rt->contacts[kept++] = rt->contacts[i];
	}
	if (kept == rt->ncontacts) {
		*why = "no contacts for that node";
		return -ENOENT;
	}
	rt->ncontacts = kept;
	return 0;
}

int routing_command(struct routing *rt, int argc, char **argv, uint64_t now_ms, const char **why)
{
	bool route = argc > 0 && strcmp(argv[0], "route") == 0;
	const char *sub = argc > 1 ? argv[1] : "";

	if (route && strcmp(sub, "add") == 0 && argc == 5 && strcmp(argv[3], "via") == 0)
		return route_add(rt, argv[2], argv[4], why);
	if (route && strcmp(sub, "del") == 0 && argc == 3)
		return route_del(rt, argv[2], why);
	if (route) {
		*why = "usage: route add PATTERN via NODE | route del PATTERN";
		return -EINVAL;
	}
	if (strcmp(sub, "add") == 0)
		return contact_add(rt, argc, argv, now_ms, why);
	if (strcmp(sub, "del") == 0 && argc == 3)
		return contact_del(rt, argv[2], why);
	*why = "usage: contact add NODE from T1 to T2 [rate BYTES/S] | contact del NODE";
	return -EINVAL;
}

const struct node_id *routing_via(const struct routing *rt, const struct bp_eid *eid)
{
	const struct route *best = NULL;

	for (size_t i = 0; rt && i < rt->nroutes; i++) {
		const struct route *r = rt->routes[i];

		if (eid_pattern_match(&r->pat, eid) &&
		    (!best || eid_pattern_rank(&r->pat) > eid_pattern_rank(&best->pat)))
			best = r;
	}
	return best ? &best->via : NULL;
}

enum contact_state routing_contact(const struct routing *rt, const struct node_id *node,
				   uint64_t now_ms, uint64_t *rate, uint64_t *change)
{
	bool any = false;

	*rate = 0;
	*change = UINT64_MAX;
	for (size_t i = 0; rt && i < rt->ncontacts; i++) {
		const struct contact *c = rt->contacts[i];

		if (strcmp(c->node.text, node->text) != 0)
			continue;
		any = true;
		if (c->from_ms <= now_ms && now_ms < c->to_ms) {
			*rate = c->rate;
			*change = c->to_ms;
			return CONTACT_OPEN;
		}
		if (c->from_ms > now_ms && c->from_ms < *change)
			*change = c->from_ms;
	}
	return any ? CONTACT_CLOSED : CONTACT_NONE;
}

void routing_walk_routes(const struct routing *rt,
			 void (*fn)(void *ctx, const struct route_info *ri), void *ctx)
{
	for (size_t i = 0; i < rt->nroutes; i++)
		fn(ctx, &(struct route_info){ rt->routes[i]->text, rt->routes[i]->via.text });
}

void routing_walk_contacts(const struct routing *rt,
			   void (*fn)(void *ctx, const struct contact_info *ci), void *ctx)
{
	for (size_t i = 0; i < rt->ncontacts; i++) {
		const struct contact *c = rt->contacts[i];

		fn(ctx, &(struct contact_info){ c->node.text, c->from_ms, c->to_ms, c->rate });
	}
}
