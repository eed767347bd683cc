/* SPDX-License-Identifier: MIT */
/*
 * bpd: the bpsock bundle agent. One libev loop owns everything: the client
 * front end, the agent and the store.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "bp/proto.h"
#include "config.h"
#include "control.h"
#include "frontend.h"
#include "links.h"
#include "log.h"
#include "node.h"
#include "store.h"
#include "store_log.h"
#include "store_mem.h"

static const char usage[] =
	"Usage: bpd [OPTIONS]\n"
	"\n"
	"The bpsock bundle agent: a Bundle Protocol v7 node (RFC 9171) serving BP\n"
	"sockets to local applications through libbp.\n"
	"\n"
	"Options:\n"
	"  -n, --node EID      this node's ID: ipn:N or dtn://name (default ipn:1)\n"
	"  -c, --config FILE   read FILE first: one bpctl command per line, '#'\n"
	"                      starts a comment (e.g. \"node ipn:7\")\n"
	"  -s, --state DIR     the node's state directory (default\n"
	"                      $XDG_STATE_HOME/bpsock, else ~/.local/state/bpsock)\n"
	"  -S, --socket PATH   where applications and bpctl reach bpd (default\n"
	"                      $BPD_SOCKET, else $XDG_RUNTIME_DIR/bpsock/bpd.sock,\n"
	"                      else /tmp/bpsock-UID/bpd.sock; libbp and the tools\n"
	"                      find it the same way)\n"
	"  -v, --verbose       log debug lines too\n"
	"  -q, --quiet         log errors only\n"
	"  -h, --help          show this help\n"
	"\n"
	"Config file lines (bpctl commands; README.md and docs/client-protocol.md):\n"
	"  node EID                          this node's ID\n"
	"  store quota BYTES [BUNDLES]       the store's bounds (default 1 GiB, 1000000)\n"
	"  store log [DIR]                   keep bundles in a log in DIR (default\n"
	"                                    STATE/store): they survive crashes\n"
	"  store memory                      keep bundles in memory only (lost on stop)\n"
	"  store sync always|none|batch MS   always (default): a send returns once its\n"
	"                                    bundle is on disk (fdatasync); batch: once\n"
	"                                    written, synced every MS ms; none: never\n"
	"                                    synced (docs/store.md says what each risks)\n"
	"  store segment BYTES               log segment size (default 64 MiB)\n"
	"  limit sockets|sockets-per-user|unconsumed N\n"
	"                                    client limits (default 4096, 1024, 4096)\n"
	"  delivery policy defer|abandon     for sockets that do not choose (defer)\n"
	"  access admin user|group NAME      may run admin commands, bind anything\n"
	"  listen tcpcl:HOST:PORT            accept TCPCLv4 sessions (RFC 9174) there\n"
	"  listen udp:HOST:PORT              receive bundles there, one per datagram\n"
	"  neighbor add NODE tcpcl:HOST:PORT keep a TCPCLv4 link to NODE (ipn:N or\n"
	"                                    dtn://name) at that address\n"
	"  neighbor add NODE udp:HOST:PORT   send bundles for NODE there as datagrams\n"
	"  route add PATTERN via NODE        bundles for PATTERN (ipn:30.*) go via NODE\n"
	"  contact add NODE from T1 to T2 [rate R]\n"
	"                                    use NODE's link only then (T: +SECONDS or\n"
	"                                    YYYY-MM-DDTHH:MM:SSZ), paced to R bytes/s\n"
	"  reports on|off                    send status reports bundles ask for (on)\n"
	"  access bind PATTERN user|group NAME\n"
	"                                    grant and reserve endpoints (ipn:1.7,\n"
	"                                    ipn:1.300-399, ipn:*.5, dtn://n/app*);\n"
	"                                    ipn services below 64 need an admin\n"
	"\n"
	"Command-line options override the config file. SIGTERM or SIGINT stops\n"
	"bpd cleanly. Several nodes run side by side with different --socket and\n"
	"--state values.\n";

struct bpd {
	struct ev_loop *loop;
	struct config cfg;
	struct store *store;
	struct agent *agent;
	struct links *links;
	struct frontend *fe;
	struct control_env control;
	ev_signal sigterm, sigint;
};

static int run_admin(void *ctx, int argc, char **argv, bool json, struct textbuf *out)
{
	return control_run(ctx, argc, argv, json, out);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* mkdir -p, with mode for the directories it makes. */
static int make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/* Default state directory under the user's home (XDG base directories). */
static int default_state_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(buf, cap, "%s/bpsock", xdg);
	else if (home && *home)
		n = snprintf(buf, cap, "%s/.local/state/bpsock", home);
	else
		n = snprintf(buf, cap, "/tmp/bpsock-%u/state", (unsigned)getuid());
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int parse_args(int argc, char **argv, struct config *cfg, const char **ret_config)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, verbose = 0;

	*ret_config = NULL;
	while ((c = getopt_long(argc, argv, "n:c:s:S:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg->node_arg = optarg;
			break;
		case 'c':
			*ret_config = optarg;
			break;
		case 's':
			cfg->state_arg = optarg;
			break;
		case 'S':
			cfg->socket_arg = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			verbose = -1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bpd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	log_set_level(verbose < 0  ? LOG_LEVEL_ERR :
		      verbose == 0 ? LOG_LEVEL_INFO :
				     LOG_LEVEL_DEBUG);
	return 0;
}

/* Settle every setting: command line over config file over defaults. */
static int resolve(struct config *cfg)
{
	const char *why;
	int r;

	r = node_id_parse(cfg->node_arg ? cfg->node_arg : cfg->node_text, &cfg->node, &why);
	if (r < 0) {
		log_err("node ID: %s", why);
		return r;
	}
	if (cfg->state_arg)
		r = snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", cfg->state_arg) <
				    (int)sizeof(cfg->state_dir) ?
			    0 :
			    -ENAMETOOLONG;
	else
		r = default_state_dir(cfg->state_dir, sizeof(cfg->state_dir));
	if (r == 0 && cfg->socket_arg)
		r = snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", cfg->socket_arg) <
				    (int)sizeof(cfg->socket_path) ?
			    0 :
			    -ENAMETOOLONG;
	else if (r == 0)
		r = bp_proto_socket_path(cfg->socket_path, sizeof(cfg->socket_path)) < 0 ?
			    -ENAMETOOLONG :
			    0;
	if (r == 0 && cfg->store_dir_arg[0])
		r = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s", cfg->store_dir_arg) <
				    (int)sizeof(cfg->store_dir) ?
			    0 :
			    -ENAMETOOLONG;
	else if (r == 0)
		r = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s/store", cfg->state_dir) <
				    (int)sizeof(cfg->store_dir) ?
			    0 :
			    -ENAMETOOLONG;
	if (r < 0)
		log_err("path too long");
	return r;
}

/* Links' events go to the agent. */
static void on_link_up(void *ctx, struct link *l)
{
	agent_link_up(ctx, l);
}

static void on_link_received(void *ctx, struct link *l, uint64_t xfer, const uint8_t *data,
			     size_t len)
{
	agent_link_received(ctx, l, xfer, data, len);
}

static void on_link_sent(void *ctx, struct link *l, uint64_t id, int status)
{
	agent_link_sent(ctx, l, id, status);
}

static void on_link_down(void *ctx, struct link *l)
{
	agent_link_down(ctx, l);
}

static void on_link_ready(void *ctx, struct link *l)
{
	agent_link_ready(ctx, l);
}

static const struct links_ops link_ops = {
	.up = on_link_up,
	.received = on_link_received,
	.sent = on_link_sent,
	.down = on_link_down,
	.ready = on_link_ready,
};

/* The listeners and neighbours of the config. */
static int start_links(struct bpd *d)
{
	const char *why;
	size_t i;

	d->links = links_new(d->loop, &d->cfg.node, &link_ops, d->agent);
	if (!d->cfg.routing) /* bpctl may add routes and contacts later */
		d->cfg.routing = routing_new();
	if (!d->links || !d->cfg.routing) {
		log_err("links: out of memory");
		return -ENOMEM;
	}
	links_set_routing(d->links, d->cfg.routing);
	for (i = 0; i < d->cfg.nlisten; i++)
		if (links_listen(d->links, d->cfg.listen[i], &why) < 0) {
			log_err("listen %s: %s", d->cfg.listen[i], why);
			return -EINVAL;
		}
	for (i = 0; i < d->cfg.nneighbors; i++)
		if (links_neighbor_add(d->links, d->cfg.neighbors[i].node, d->cfg.neighbors[i].addr,
				       &why) < 0) {
			log_err("neighbor %s %s: %s", d->cfg.neighbors[i].node,
				d->cfg.neighbors[i].addr, why);
			return -EINVAL;
		}
	agent_set_reports(d->agent, !d->cfg.no_reports);
	agent_set_links(d->agent, d->links);
	return 0;
}

static int start(struct bpd *d)
{
	struct frontend_opts opts = {
		.limits = d->cfg.limits,
		.access = &d->cfg.access,
		.abandon = d->cfg.abandon,
		.admin = run_admin,
		.admin_ctx = &d->control,
	};
	struct store_log_opts log_opts = {
		.dir = d->cfg.store_dir,
		.lim = d->cfg.store_limits,
		.sync = d->cfg.store_sync,
		.batch_ms = d->cfg.store_batch_ms,
		.segment_bytes = d->cfg.store_segment,
	};
	int r = d->cfg.store_memory ? store_mem_new(d->loop, &d->cfg.store_limits, &d->store) :
				      store_log_new(d->loop, &log_opts, &d->store);

	if (r < 0) {
		log_err("store %s: %s", d->cfg.store_memory ? "(memory)" : d->cfg.store_dir,
			r == -EBUSY ? "in use by another bpd" : strerror(-r));
		return r;
	}
	d->agent = agent_new(d->loop, &d->cfg.node, d->store);
	if (!d->agent) {
		log_err("agent: %s", strerror(errno));
		return -ENOMEM;
	}
	agent_recover(d->agent);
	r = start_links(d);
	if (r < 0)
		return r;
	d->control = (struct control_env){
		.cfg = &d->cfg,
		.agent = d->agent,
		.store = d->store,
		.started = ev_time(),
	};
	d->fe = frontend_new(d->loop, d->cfg.socket_path, d->agent, &opts);
	if (!d->fe) {
		log_err("listen on %s: %s", d->cfg.socket_path, strerror(errno));
		return -errno;
	}
	d->control.fe = d->fe;
	d->control.links = d->links;
	d->control.routing = d->cfg.routing;
	ev_signal_init(&d->sigterm, on_stop_signal, SIGTERM);
	ev_signal_init(&d->sigint, on_stop_signal, SIGINT);
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	return 0;
}

static void stop(struct bpd *d)
{
	frontend_free(d->fe);
	links_shutdown(d->links, 2.0);
	links_free(d->links);
	agent_free(d->agent);
	store_free(d->store);
}

int main(int argc, char **argv)
{
	struct bpd d = { 0 };
	const char *config_file;
	int r;

	signal(SIGPIPE, SIG_IGN);
	/*
	 * Bundles of a few MiB come and go all the time: serve them from the
	 * heap and keep freed memory for the next, instead of an mmap, 256
	 * page faults and an munmap per MiB (bench/README.md measures it).
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 128 << 20);
	config_init(&d.cfg);
	if (parse_args(argc, argv, &d.cfg, &config_file) < 0 ||
	    (config_file && config_load(&d.cfg, config_file) < 0) || resolve(&d.cfg) < 0) {
		config_free(&d.cfg);
		return 2;
	}
	r = make_dirs(d.cfg.state_dir, 0700);
	if (r < 0)
		log_err("state directory %s: %s", d.cfg.state_dir, strerror(-r));
	d.loop = r < 0 ? NULL : ev_default_loop(EVFLAG_AUTO);
	if (r == 0 && !d.loop)
		log_err("cannot create the event loop");
	if (!d.loop) {
		config_free(&d.cfg);
		return 1;
	}
	r = start(&d);
	if (r == 0) {
		log_info("node %s listening on %s", d.cfg.node.text, d.cfg.socket_path);
		ev_run(d.loop, 0);
	}
	stop(&d);
	config_free(&d.cfg);
	log_info("stopped");
	return r == 0 ? 0 : 1;
}
