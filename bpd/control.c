/* SPDX-License-Identifier: MIT */
/* Admin commands for bpctl (control.h). */
#include "control.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "bp/proto.h"
#include "config.h"
#include "admin.h"
#include "decode.h"
#include "expiry.h"
#include "frontend.h"
#include "links.h"
#include "parse.h"
#include "routing.h"
#include "store.h"
#include "textbuf.h"

/* Bundles listed when --limit is not given. */
#define LIST_DEFAULT_LIMIT 1000

static int usage(struct textbuf *out, const char *text)
{
	tb_printf(out, "usage: %s\n", text);
	return -EINVAL;
}

/* "1.5 KiB" style, for people. */
static void human_bytes(struct textbuf *out, uint64_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		tb_printf(out, "%" PRIu64 " B", n);
	else
		tb_printf(out, "%.1f %s", v, units[u]);
}

/* An absolute DTN time (ms) as UTC ISO 8601, or "never". */
static void dtn_time(struct textbuf *out, uint64_t ms, bool json)
{
	char buf[40];
	time_t t;
	struct tm tm;

	if (ms == STORE_EXPIRY_NEVER) {
		tb_printf(out, json ? "null" : "never");
		return;
	}
	t = (time_t)((ms + DTN_EPOCH_UNIX_MS) / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	tb_printf(out, json ? "\"%s.%03uZ\"" : "%s.%03uZ", buf, (unsigned)(ms % 1000));
}

/* status */

static void count_endpoint(void *ctx, const struct agent_endpoint_info *info)
{
	(*(unsigned *)ctx)++;
}

static int cmd_status(struct control_env *env, int argc, char **argv, bool json,
		      struct textbuf *out)
{
	const struct config *cfg = env->cfg;
	double up = ev_time() - env->started;
	unsigned clients, bound, endpoints = 0;
	struct store_stats st;

	if (argc != 1)
		return usage(out, "status");
	(void)store_stats(env->store, &st);
	frontend_counts(env->fe, &clients, &bound);
	agent_walk_endpoints(env->agent, count_endpoint, &endpoints);
	if (json) {
		tb_printf(out, "{\"node\":");
		tb_json_str(out, cfg->node.text);
		tb_printf(out, ",\"version\":\"%s\",\"protocol\":%d,\"pid\":%d,\"uptime_s\":%.3f",
			  BPSOCK_VERSION, BP_PROTO_VERSION, (int)getpid(), up);
		tb_printf(out, ",\"socket\":");
		tb_json_str(out, cfg->socket_path);
		tb_printf(out, ",\"state_dir\":");
		tb_json_str(out, cfg->state_dir);
		tb_printf(out,
			  ",\"store\":{\"durable\":%s,\"bundles\":%" PRIu64 ",\"bytes\":%" PRIu64
			  ",\"max_bundles\":%" PRIu64 ",\"max_bytes\":%" PRIu64
			  ",\"refused\":%" PRIu64 ",\"by_state\":{",
			  st.durable ? "true" : "false", st.bundles, st.bytes, st.max_bundles,
			  st.max_bytes, st.refused);
		for (int i = 0; i < STORE_STATE_COUNT; i++)
			tb_printf(out, "%s\"%s\":%" PRIu64, i ? "," : "",
				  store_state_name((enum store_state)i), st.by_state[i]);
		tb_printf(out, "}},\"clients\":%u,\"bound\":%u,\"endpoints\":%u}\n", clients, bound,
			  endpoints);
		return 0;
	}
	tb_printf(out, "node       %s\n", cfg->node.text);
	tb_printf(out, "version    bpsock %s (client protocol %d)\n", BPSOCK_VERSION,
		  BP_PROTO_VERSION);
	tb_printf(out, "pid        %d, up %.0f s\n", (int)getpid(), up);
	tb_printf(out, "socket     %s\n", cfg->socket_path);
	tb_printf(out, "state      %s\n", cfg->state_dir);
	tb_printf(out, "store      %s: %" PRIu64 " of %" PRIu64 " bundles, ",
		  st.durable ? "durable" : "in memory (lost when bpd stops)", st.bundles,
		  st.max_bundles);
	human_bytes(out, st.bytes);
	tb_printf(out, " of ");
	human_bytes(out, st.max_bytes);
	tb_printf(out, "\n          ");
	for (int i = 0; i < STORE_STATE_COUNT; i++)
		tb_printf(out, " %s %" PRIu64 "%s", store_state_name((enum store_state)i),
			  st.by_state[i], i + 1 < STORE_STATE_COUNT ? "," : "\n");
	tb_printf(out, "           refused when full: %" PRIu64 "\n", st.refused);
	tb_printf(out, "clients    %u (%u bound)\n", clients, bound);
	tb_printf(out, "endpoints  %u\n", endpoints);
	return 0;
}

/* endpoints */

struct ep_walk {
	struct control_env *env;
	struct textbuf *out;
	bool json;
	unsigned n;
};

static void print_endpoint(void *ctx, const struct agent_endpoint_info *info)
{
	struct ep_walk *w = ctx;
	pid_t pid = 0;
	uid_t uid = 0;
	bool owned = info->bound && frontend_sink_owner(info->sink_ctx, &pid, &uid);

	if (w->json) {
		tb_printf(w->out, "%s{\"eid\":", w->n ? "," : "");
		tb_json_str(w->out, info->eid);
		tb_printf(w->out, ",\"bound\":%s", info->bound ? "true" : "false");
		if (owned)
			tb_printf(w->out, ",\"pid\":%d,\"uid\":%u", (int)pid, (unsigned)uid);
		tb_printf(w->out, ",\"queued\":%zu,\"unconsumed\":%zu}", info->queued,
			  info->unconsumed);
	} else {
		char who[48] = "-";

		if (owned)
			snprintf(who, sizeof(who), "pid %d uid %u", (int)pid, (unsigned)uid);
		tb_printf(w->out, "%-28s %-7s %-22s %8zu %10zu\n", info->eid,
			  info->bound ? "bound" : "waiting", who, info->queued, info->unconsumed);
	}
	w->n++;
}

static int cmd_endpoints(struct control_env *env, int argc, char **argv, bool json,
			 struct textbuf *out)
{
	struct ep_walk w = { .env = env, .out = out, .json = json };

	if (argc != 1)
		return usage(out, "endpoints");
	if (json) {
		tb_printf(out, "[");
	} else {
		tb_printf(out, "%-28s %-7s %-22s %8s %10s\n", "ENDPOINT", "STATE", "BOUND BY",
			  "QUEUED", "UNCONSUMED");
	}
	agent_walk_endpoints(env->agent, print_endpoint, &w);
	if (json)
		tb_printf(out, "]\n");
	return 0;
}

/* links */

struct link_walk {
	struct textbuf *out;
	bool json;
	unsigned n;
};

static void print_link(void *ctx, const struct link_info *li)
{
	struct link_walk *w = ctx;
	const struct cl_stats *st = &li->stats;

	if (w->json) {
		tb_printf(w->out, "%s{\"id\":%u,\"peer\":", w->n++ ? "," : "", li->id);
		tb_json_str(w->out, li->peer);
		tb_printf(w->out, ",\"address\":");
		tb_json_str(w->out, li->addr);
		tb_printf(w->out,
			  ",\"up\":%s,\"outgoing\":%s,\"bundles_in\":%" PRIu64
			  ",\"bytes_in\":%" PRIu64 ",\"bundles_out\":%" PRIu64
			  ",\"bytes_out\":%" PRIu64 ",\"refused_in\":%" PRIu64
			  ",\"refused_out\":%" PRIu64 ",\"dropped_in\":%" PRIu64 "}",
			  li->up ? "true" : "false", li->outgoing ? "true" : "false",
			  st->bundles_in, st->bytes_in, st->bundles_out, st->bytes_out,
			  st->refused_in, st->refused_out, st->dropped_in);
		return;
	}
	tb_printf(w->out, "%-5u %-22s %-28s %-4s %-3s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
		  li->id, li->peer[0] ? li->peer : "-", li->addr, li->up ? "up" : "init",
		  li->outgoing ? "out" : "in", st->bundles_in, st->bundles_out,
		  st->refused_in + st->refused_out + st->dropped_in);
}

static int cmd_links(struct control_env *env, int argc, char **argv, bool json, struct textbuf *out)
{
	struct link_walk w = { .out = out, .json = json };

	if (argc != 1)
		return usage(out, "links");
	if (json)
		tb_printf(out, "[");
	else
		tb_printf(out, "%-5s %-22s %-28s %-4s %-3s %10s %10s %8s\n", "LINK", "PEER",
			  "ADDRESS", "STATE", "DIR", "BUNDLES IN", "OUT", "REFUSED");
	if (env->links)
		links_walk(env->links, print_link, &w);
	if (json)
		tb_printf(out, "]\n");
	return 0;
}

/* Routing: neighbours, routes, contacts */

/* Unix ms as UTC ISO 8601 ("never" for UINT64_MAX). */
static void unix_time(struct textbuf *out, uint64_t ms, bool json)
{
	if (ms == UINT64_MAX) {
		tb_printf(out, json ? "null" : "never");
		return;
	}
	dtn_time(out, ms < DTN_EPOCH_UNIX_MS ? 0 : ms - DTN_EPOCH_UNIX_MS, json);
}

static uint64_t unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *const contact_names[] = { "none", "open", "closed" };

/* Bundles waiting to go to each neighbour (forward, in-transit), by its node's text. */
struct queue_count {
	struct links *links;
	const char **nodes;
	uint64_t *counts;
	size_t n;
};

static int count_queued(void *ctx, const struct store_meta *m)
{
	struct queue_count *q = ctx;
	struct bp_eid eid;
	const char *why, *hop;

	if (bp_eid_parse(m->dest, strlen(m->dest), &eid, &why) < 0)
		return 0;
	hop = links_next_hop(q->links, &eid);
	for (size_t i = 0; hop && i < q->n; i++)
		if (strcmp(q->nodes[i], hop) == 0) {
			q->counts[i]++;
			break;
		}
	return 0;
}

struct nb_walk {
	struct textbuf *out;
	bool json;
	unsigned n;
	struct queue_count *q; /* NULL: collecting the nodes */
};

static void collect_neighbor(void *ctx, const struct neighbor_info *ni)
{
	struct queue_count *q = ctx;
	const char **nodes = realloc(q->nodes, (q->n + 1) * sizeof(*nodes));

	if (!nodes)
		return;
	q->nodes = nodes;
	q->nodes[q->n++] = ni->node;
}

static void print_neighbor(void *ctx, const struct neighbor_info *ni)
{
	struct nb_walk *w = ctx;
	uint64_t queued = w->q->counts && w->n < w->q->n ? w->q->counts[w->n] : 0;

	if (w->json) {
		tb_printf(w->out, "%s{\"node\":", w->n ? "," : "");
		tb_json_str(w->out, ni->node);
		tb_printf(w->out, ",\"address\":");
		tb_json_str(w->out, ni->addr);
		tb_printf(w->out, ",\"link\":%u,\"up\":%s,\"retry_in_s\":%.1f,\"contact\":\"%s\"",
			  ni->link, ni->up ? "true" : "false", ni->retry_in_s,
			  contact_names[ni->contact]);
		if (ni->contact != CONTACT_NONE) {
			tb_printf(w->out, ",\"contact_change\":");
			unix_time(w->out, ni->change_ms, true);
			tb_printf(w->out, ",\"rate\":%" PRIu64, ni->rate);
		}
		tb_printf(w->out,
			  ",\"queued\":%" PRIu64 ",\"bundles_in\":%" PRIu64
			  ",\"bundles_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64
			  ",\"bytes_out\":%" PRIu64 "}",
			  queued, ni->stats.bundles_in, ni->stats.bundles_out, ni->stats.bytes_in,
			  ni->stats.bytes_out);
	} else {
		char state[40];

		if (ni->up)
			snprintf(state, sizeof(state), "up (link %u)", ni->link);
		else if (ni->link)
			snprintf(state, sizeof(state), "connecting");
		else
			snprintf(state, sizeof(state), "retry in %.0f s", ni->retry_in_s);
		tb_printf(w->out, "%-16s %-28s %-16s %-6s ", ni->node, ni->addr, state,
			  contact_names[ni->contact]);
		if (ni->contact != CONTACT_NONE)
			unix_time(w->out, ni->change_ms, false);
		else
			tb_printf(w->out, "%-24s", "-");
		tb_printf(w->out, " %8" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", queued,
			  ni->stats.bundles_in, ni->stats.bundles_out);
	}
	w->n++;
}

static int cmd_neighbors(struct control_env *env, int argc, char **argv, bool json,
			 struct textbuf *out)
{
	struct queue_count q = { .links = env->links };
	struct nb_walk w = { .out = out, .json = json, .q = &q };
	struct store_filter f = { .states = STORE_STATE_BIT(STORE_STATE_FORWARD) |
					    STORE_STATE_BIT(STORE_STATE_IN_TRANSIT) };
	const char *why;
	int r;

	if (argc == 4 && strcmp(argv[1], "add") == 0) {
		r = links_neighbor_add(env->links, argv[2], argv[3], &why);
		if (r < 0)
			tb_printf(out, "neighbor add: %s\n", why);
		return r;
	}
	if (argc != 1)
		return usage(out, "neighbors | neighbor add NODE tcpcl:HOST:PORT|udp:HOST:PORT");
	links_walk_neighbors(env->links, collect_neighbor, &q);
	q.counts = calloc(q.n ? q.n : 1, sizeof(*q.counts));
	if (q.counts && q.n)
		(void)store_iterate(env->store, &f, count_queued, &q);
	if (json)
		tb_printf(out, "[");
	else
		tb_printf(out, "%-16s %-28s %-16s %-6s %-24s %8s %10s %10s\n", "NODE", "ADDRESS",
			  "LINK", "WINDOW", "UNTIL", "QUEUED", "BUNDLES IN", "OUT");
	links_walk_neighbors(env->links, print_neighbor, &w);
	if (json)
		tb_printf(out, "]\n");
	free(q.counts);
	free(q.nodes);
	return 0;
}

struct rt_walk {
	struct textbuf *out;
	bool json;
	unsigned n;
	uint64_t now;
};

static void print_route(void *ctx, const struct route_info *ri)
{
	struct rt_walk *w = ctx;

	if (w->json) {
		tb_printf(w->out, "%s{\"pattern\":", w->n ? "," : "");
		tb_json_str(w->out, ri->pattern);
		tb_printf(w->out, ",\"via\":");
		tb_json_str(w->out, ri->via);
		tb_printf(w->out, "}");
	} else {
		tb_printf(w->out, "%-32s %s\n", ri->pattern, ri->via);
	}
	w->n++;
}

static void print_contact(void *ctx, const struct contact_info *ci)
{
	struct rt_walk *w = ctx;
	const char *state = w->now < ci->from_ms ? "ahead" : w->now < ci->to_ms ? "open" : "past";

	if (w->json) {
		tb_printf(w->out, "%s{\"node\":", w->n ? "," : "");
		tb_json_str(w->out, ci->node);
		tb_printf(w->out, ",\"from\":");
		unix_time(w->out, ci->from_ms, true);
		tb_printf(w->out, ",\"to\":");
		unix_time(w->out, ci->to_ms, true);
		tb_printf(w->out, ",\"rate\":%" PRIu64 ",\"state\":\"%s\"}", ci->rate, state);
	} else {
		tb_printf(w->out, "%-16s ", ci->node);
		unix_time(w->out, ci->from_ms, false);
		tb_printf(w->out, " ");
		unix_time(w->out, ci->to_ms, false);
		if (ci->rate)
			tb_printf(w->out, " %12" PRIu64 " %s\n", ci->rate, state);
		else
			tb_printf(w->out, " %12s %s\n", "-", state);
	}
	w->n++;
}

/* "route add|del ..." and "contact add|del ...": the routing tables, at once. */
static int change_routing(struct control_env *env, int argc, char **argv, struct textbuf *out)
{
	const char *why;
	int r = routing_command(env->routing, argc, argv, unix_now_ms(), &why);

	if (r < 0) {
		tb_printf(out, "%s: %s\n", argv[0], why);
		return r;
	}
	links_kick(env->links); /* bundles waiting may have a way now */
	return 0;
}

static int cmd_routes(struct control_env *env, int argc, char **argv, bool json,
		      struct textbuf *out)
{
	struct rt_walk w = { .out = out, .json = json };

	if (argc != 1)
		return usage(out, "routes");
	if (json)
		tb_printf(out, "[");
	else
		tb_printf(out, "%-32s %s\n", "PATTERN", "VIA");
	routing_walk_routes(env->routing, print_route, &w);
	if (json)
		tb_printf(out, "]\n");
	return 0;
}

static int cmd_contacts(struct control_env *env, int argc, char **argv, bool json,
			struct textbuf *out)
{
	struct rt_walk w = { .out = out, .json = json, .now = unix_now_ms() };

	if (argc != 1)
		return usage(out, "contacts");
	if (json)
		tb_printf(out, "[");
	else
		tb_printf(out, "%-16s %-24s %-24s %12s %s\n", "NODE", "FROM", "TO", "RATE (B/S)",
			  "STATE");
	routing_walk_contacts(env->routing, print_contact, &w);
	if (json)
		tb_printf(out, "]\n");
	return 0;
}

/* stats */

static void print_link_stats(void *ctx, const struct link_info *li)
{
	struct link_walk *w = ctx;
	const struct cl_stats *st = &li->stats;

	if (w->json) {
		tb_printf(w->out, "%s{\"id\":%u,\"peer\":", w->n++ ? "," : "", li->id);
		tb_json_str(w->out, li->peer);
		tb_printf(w->out,
			  ",\"bundles_in\":%" PRIu64 ",\"bytes_in\":%" PRIu64
			  ",\"bundles_out\":%" PRIu64 ",\"bytes_out\":%" PRIu64
			  ",\"refused_in\":%" PRIu64 ",\"refused_out\":%" PRIu64
			  ",\"dropped_in\":%" PRIu64 "}",
			  st->bundles_in, st->bytes_in, st->bundles_out, st->bytes_out,
			  st->refused_in, st->refused_out, st->dropped_in);
		return;
	}
	tb_printf(w->out, "  %-5u %-16s %10" PRIu64 " ", li->id, li->peer[0] ? li->peer : "-",
		  st->bundles_in);
	human_bytes(w->out, st->bytes_in);
	tb_printf(w->out, "\t%10" PRIu64 " ", st->bundles_out);
	human_bytes(w->out, st->bytes_out);
	tb_printf(w->out, "\trefused %" PRIu64 "/%" PRIu64 " dropped %" PRIu64 "\n", st->refused_in,
		  st->refused_out, st->dropped_in);
}

static int cmd_stats(struct control_env *env, int argc, char **argv, bool json, struct textbuf *out)
{
	struct link_walk w = { .out = out, .json = json };
	struct agent_stats as;
	struct store_stats st;
	unsigned n = 0;

	if (argc != 1)
		return usage(out, "stats");
	agent_stats(env->agent, &as);
	(void)store_stats(env->store, &st);
	if (json) {
		tb_printf(out,
			  "{\"bundles\":{\"originated\":%" PRIu64 ",\"received\":%" PRIu64
			  ",\"forwarded\":%" PRIu64 ",\"delivered\":%" PRIu64
			  ",\"reports\":%" PRIu64 ",\"refused_store_full\":%" PRIu64
			  ",\"refused_undecodable\":%" PRIu64 ",\"reassembly_waiting\":%zu},"
			  "\"deleted\":{",
			  as.originated, as.received, as.forwarded, as.delivered, as.reports,
			  as.refused_full, as.refused_bad, as.reassembly_waiting);
		for (unsigned r = 0; r < AGENT_REASONS; r++)
			if (as.deleted[r])
				tb_printf(out, "%s\"%s\":%" PRIu64, n++ ? "," : "",
					  bpv7_reason_name(r), as.deleted[r]);
		tb_printf(out, "},\"queues\":{");
		for (int i = 0; i < STORE_STATE_COUNT; i++)
			tb_printf(out, "%s\"%s\":%" PRIu64, i ? "," : "",
				  store_state_name((enum store_state)i), st.by_state[i]);
		tb_printf(out,
			  "},\"store\":{\"bundles\":%" PRIu64 ",\"bytes\":%" PRIu64
			  ",\"max_bundles\":%" PRIu64 ",\"max_bytes\":%" PRIu64 "},\"links\":[",
			  st.bundles, st.bytes, st.max_bundles, st.max_bytes);
		links_walk(env->links, print_link_stats, &w);
		tb_printf(out, "]}\n");
		return 0;
	}
	tb_printf(out,
		  "bundles    %" PRIu64 " originated, %" PRIu64 " received, %" PRIu64
		  " forwarded, %" PRIu64 " delivered, %" PRIu64 " reports sent\n",
		  as.originated, as.received, as.forwarded, as.delivered, as.reports);
	tb_printf(out,
		  "refused    %" PRIu64 " (store full), %" PRIu64 " (undecodable)\n"
		  "deleted   ",
		  as.refused_full, as.refused_bad);
	for (unsigned r = 0; r < AGENT_REASONS; r++)
		if (as.deleted[r])
			tb_printf(out, "%s %" PRIu64 " %s", n++ ? "," : "", as.deleted[r],
				  bpv7_reason_name(r));
	tb_printf(out, "%s\nqueues    ", n ? "" : " none");
	for (int i = 0; i < STORE_STATE_COUNT; i++)
		tb_printf(out, " %s %" PRIu64 "%s", store_state_name((enum store_state)i),
			  st.by_state[i], i + 1 < STORE_STATE_COUNT ? "," : "\n");
	tb_printf(out, "reassembly %zu fragments waiting\nstore      %" PRIu64 " bundles, ",
		  as.reassembly_waiting, st.bundles);
	human_bytes(out, st.bytes);
	tb_printf(out, " of ");
	human_bytes(out, st.max_bytes);
	tb_printf(out,
		  "\nlinks      LINK  PEER             BUNDLES IN  BYTES\t       OUT  BYTES\n");
	links_walk(env->links, print_link_stats, &w);
	return 0;
}

/* bundles */

struct bundle_walk {
	struct textbuf *out;
	bool json;
	uint64_t limit, n;
	bool more; /* the walk stopped at the limit */
};

/* A bundle's metadata as JSON members, without the braces. */
static void bundle_json_members(struct textbuf *out, const struct store_meta *m)
{
	tb_printf(out, "\"id\":%" PRIu64 ",\"state\":\"%s\",\"size\":%" PRIu64 ",\"dest\":", m->id,
		  store_state_name(m->state), m->size);
	tb_json_str(out, m->dest);
	tb_printf(out, ",\"source\":");
	tb_json_str(out, m->source);
	tb_printf(out, ",\"creation_time\":%" PRIu64 ",\"sequence\":%" PRIu64 ",\"created\":",
		  m->creation_time, m->sequence);
	dtn_time(out, m->creation_time, true);
	tb_printf(out, ",\"expires\":");
	dtn_time(out, m->expiry, true);
	if (m->is_fragment)
		tb_printf(out, ",\"fragment\":{\"offset\":%" PRIu64 ",\"length\":%" PRIu64 "}",
			  m->frag_offset, m->frag_len);
}

static int list_one(void *ctx, const struct store_meta *m)
{
	struct bundle_walk *w = ctx;

	if (w->n == w->limit) {
		w->more = true;
		return 1; /* stop: a listing costs what it shows, not the store's size */
	}
	if (w->json) {
		tb_printf(w->out, "%s{", w->n ? "," : "");
		bundle_json_members(w->out, m);
		tb_printf(w->out, "}");
	} else {
		tb_printf(w->out, "%-8" PRIu64 " %-12s %10" PRIu64 " %-22s %-22s ", m->id,
			  store_state_name(m->state), m->size, m->dest, m->source);
		dtn_time(w->out, m->expiry, false);
		tb_printf(w->out, "\n");
	}
	w->n++;
	return 0;
}

static int state_by_name(const char *name, enum store_state *ret)
{
	for (int i = 0; i < STORE_STATE_COUNT; i++)
		if (strcmp(name, store_state_name((enum store_state)i)) == 0) {
			*ret = (enum store_state)i;
			return 0;
		}
	return -EINVAL;
}

static int bundles_list(struct control_env *env, int argc, char **argv, bool json,
			struct textbuf *out)
{
	static const char use[] = "bundles [list] [--state STATE] [--dest EID] [--limit N]";
	struct bundle_walk w = { .out = out, .json = json, .limit = LIST_DEFAULT_LIMIT };
	struct store_filter f = { 0 };
	enum store_state st;

	for (int i = 0; i < argc; i += 2) { /* OPTION VALUE pairs */
		if (i + 1 == argc)
			return usage(out, use);
		if (strcmp(argv[i], "--state") == 0 && state_by_name(argv[i + 1], &st) == 0)
			f.states |= STORE_STATE_BIT(st);
		else if (strcmp(argv[i], "--dest") == 0)
			f.dest = argv[i + 1];
		else if (strcmp(argv[i], "--limit") != 0 || !parse_u64(argv[i + 1], &w.limit))
			return usage(out, use);
	}
	if (json)
		tb_printf(out, "{\"bundles\":[");
	else
		tb_printf(out, "%-8s %-12s %10s %-22s %-22s %s\n", "ID", "STATE", "BYTES", "DEST",
			  "SOURCE", "EXPIRES");
	(void)store_iterate(env->store, &f, list_one, &w);
	if (json)
		tb_printf(out, "],\"more\":%s}\n", w.more ? "true" : "false");
	else if (w.more)
		tb_printf(out, "... and more (--limit N shows more)\n");
	return 0;
}

/* The primary block of a stored bundle, decoded from its first bytes. */
static void show_primary(struct control_env *env, uint64_t id, bool json, struct textbuf *out)
{
	static uint8_t head[64 << 10];
	struct bpv7_bundle *b = malloc(sizeof(*b));
	struct bpv7_error err;
	const uint8_t *p;
	size_t len, need;
	long n;

	if (!b)
		return;
	/* The in-memory store lends its bytes; another store is read in part. */
	if (store_peek(env->store, id, &p, &len) < 0) {
		n = store_read(env->store, id, 0, head, sizeof(head));
		p = head;
		len = n < 0 ? 0 : (size_t)n;
	}
	if (len > 0 && bpv7_decode_prefix(p, len, SIZE_MAX, b, &need, &err) > 0) {
		if (json)
			tb_printf(out,
				  ",\"flags\":%" PRIu64 ",\"lifetime_ms\":%" PRIu64
				  ",\"crc_type\":%u",
				  b->primary.flags, b->primary.lifetime, b->primary.crc_type);
		else
			tb_printf(out,
				  "flags      0x%" PRIx64 "\nlifetime   %" PRIu64
				  " ms\ncrc        %u\n",
				  b->primary.flags, b->primary.lifetime, b->primary.crc_type);
	}
	free(b);
}

static int bundles_show(struct control_env *env, const char *arg, bool json, struct textbuf *out)
{
	struct store_meta m;
	uint64_t id;

	if (!parse_u64(arg, &id))
		return usage(out, "bundles show ID");
	if (store_get(env->store, id, &m) < 0) {
		tb_printf(out, "no bundle %s\n", arg);
		return -ENOENT;
	}
	if (json) {
		tb_printf(out, "{");
		bundle_json_members(out, &m);
		show_primary(env, id, true, out);
		tb_printf(out, "}\n");
		return 0;
	}
	tb_printf(out, "id         %" PRIu64 "\nstate      %s\nsize       %" PRIu64 " bytes\n",
		  m.id, store_state_name(m.state), m.size);
	tb_printf(out, "dest       %s\nsource     %s\ncreated    ", m.dest, m.source);
	dtn_time(out, m.creation_time, false);
	tb_printf(out, " (seq %" PRIu64 ")\nexpires    ", m.sequence);
	dtn_time(out, m.expiry, false);
	tb_printf(out, "\n");
	if (m.is_fragment)
		tb_printf(out, "fragment   offset %" PRIu64 ", %" PRIu64 " bytes\n", m.frag_offset,
			  m.frag_len);
	show_primary(env, id, false, out);
	return 0;
}

static int bundles_delete(struct control_env *env, const char *arg, bool json, struct textbuf *out)
{
	uint64_t id;
	int r;

	if (!parse_u64(arg, &id))
		return usage(out, "bundles delete ID");
	r = agent_delete(env->agent, id);
	if (r == -ENOENT)
		tb_printf(out, "no bundle %s\n", arg);
	else if (r < 0)
		tb_printf(out, "bundle %s: %s\n", arg, strerror(-r));
	else if (json)
		tb_printf(out, "{\"deleted\":%" PRIu64 "}\n", id);
	else
		tb_printf(out, "deleted bundle %" PRIu64 "\n", id);
	return r;
}

static int cmd_bundles(struct control_env *env, int argc, char **argv, bool json,
		       struct textbuf *out)
{
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return argc == 3 ? bundles_show(env, argv[2], json, out) :
				   usage(out, "bundles show ID");
	if (argc >= 2 && strcmp(argv[1], "delete") == 0)
		return argc == 3 ? bundles_delete(env, argv[2], json, out) :
				   usage(out, "bundles delete ID");
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return bundles_list(env, argc - 2, argv + 2, json, out);
	return bundles_list(env, argc - 1, argv + 1, json, out);
}

/* store: the store's own figures (issue 4) */
static int cmd_store(struct control_env *env, int argc, char **argv, bool json, struct textbuf *out)
{
	struct store_stats st = { 0 };

	(void)store_stats(env->store, &st);
	if (json) {
		tb_printf(out,
			  "{\"backend\":\"%s\",\"durable\":%s,\"bundles\":%" PRIu64
			  ",\"bytes\":%" PRIu64 ",\"max_bundles\":%" PRIu64
			  ",\"max_bytes\":%" PRIu64 ",\"refused\":%" PRIu64
			  ",\"sync\":\"%s\",\"segments\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
			  ",\"syncs\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"puts\":%" PRIu64
			  ",\"recovered\":%" PRIu64 ",\"recovery_s\":%.3f,\"dropped\":%" PRIu64
			  ",\"dropped_bytes\":%" PRIu64 "}\n",
			  st.backend ? st.backend : "?", st.durable ? "true" : "false", st.bundles,
			  st.bytes, st.max_bundles, st.max_bytes, st.refused,
			  st.sync ? st.sync : "", st.segments, st.disk_bytes, st.syncs, st.commits,
			  st.puts, st.recovered, st.recovery_s, st.dropped, st.dropped_bytes);
		return 0;
	}
	tb_printf(out, "backend    %s (%s)\n", st.backend ? st.backend : "?",
		  st.durable ? "durable" : "lost when bpd stops");
	tb_printf(out, "bundles    %" PRIu64 " of %" PRIu64 "\nbytes      ", st.bundles,
		  st.max_bundles);
	human_bytes(out, st.bytes);
	tb_printf(out, " of ");
	human_bytes(out, st.max_bytes);
	tb_printf(out, "\nrefused    %" PRIu64 " puts (store full)\n", st.refused);
	if (st.durable) {
		tb_printf(out, "segments   %" PRIu64 " (", st.segments);
		human_bytes(out, st.disk_bytes);
		tb_printf(out,
			  " on disk)\nsync       %s: %" PRIu64 " syncs, %" PRIu64
			  " group commits, %" PRIu64 " puts\nrecovery   %" PRIu64
			  " bundles in %.3f s; %" PRIu64 " torn or damaged records (%" PRIu64
			  " bytes) cut off\n",
			  st.sync ? st.sync : "?", st.syncs, st.commits, st.puts, st.recovered,
			  st.recovery_s, st.dropped, st.dropped_bytes);
	}
	return 0;
}

int control_run(struct control_env *env, int argc, char **argv, bool json, struct textbuf *out)
{
	static const char *const config_only[] = { "node",   "store",  "limit",	 "delivery",
						   "access", "listen", "reports" };

	if (argc == 0)
		return usage(out, "bpctl COMMAND [ARGS]");
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(env, argc, argv, json, out);
	if (strcmp(argv[0], "endpoints") == 0)
		return cmd_endpoints(env, argc, argv, json, out);
	if (strcmp(argv[0], "links") == 0)
		return cmd_links(env, argc, argv, json, out);
	if (strcmp(argv[0], "neighbors") == 0 ||
	    (strcmp(argv[0], "neighbor") == 0 && argc > 1 && strcmp(argv[1], "add") == 0))
		return cmd_neighbors(env, argc, argv, json, out);
	if (strcmp(argv[0], "routes") == 0)
		return cmd_routes(env, argc, argv, json, out);
	if (strcmp(argv[0], "contacts") == 0)
		return cmd_contacts(env, argc, argv, json, out);
	if (strcmp(argv[0], "route") == 0 || strcmp(argv[0], "contact") == 0)
		return change_routing(env, argc, argv, out);
	if (strcmp(argv[0], "stats") == 0)
		return cmd_stats(env, argc, argv, json, out);
	if (strcmp(argv[0], "bundles") == 0)
		return cmd_bundles(env, argc, argv, json, out);
	/* "store" alone shows the store; "store quota ..." is a config line. */
	if (strcmp(argv[0], "store") == 0 && argc == 1)
		return cmd_store(env, argc, argv, json, out);
	for (size_t i = 0; i < sizeof(config_only) / sizeof(config_only[0]); i++)
		if (strcmp(argv[0], config_only[i]) == 0) {
			tb_printf(out,
				  "%s: a config-file command; change the file and restart bpd\n",
				  argv[0]);
			return -EOPNOTSUPP;
		}
	tb_printf(out, "unknown command '%s'\n", argv[0]);
	return -EINVAL;
}
