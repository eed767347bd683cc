/* SPDX-License-Identifier: MIT */
/*
 * bpctl commands that a running bpd answers (status, endpoints, bundles):
 * the arguments travel in one ADMIN message (docs/client-protocol.md) and
 * bpd's output is printed as it comes.
 */
#ifndef BPCTL_DAEMON_CMD_H
#define BPCTL_DAEMON_CMD_H

extern const char daemon_status_usage[];
extern const char daemon_endpoints_usage[];
extern const char daemon_links_usage[];
extern const char daemon_bundles_usage[];
extern const char daemon_store_usage[];
extern const char daemon_neighbors_usage[];
extern const char daemon_routes_usage[];
extern const char daemon_contacts_usage[];
extern const char daemon_stats_usage[];

/* Send argv (argv[0] the command) to bpd; print its output. */
int daemon_cmd_run(int argc, char **argv);

#endif
