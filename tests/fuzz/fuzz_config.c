/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for bpd's config file reader (config lines are also what
 * an operator types): any bytes give a verdict, never a crash, a leak or
 * unbounded memory, and an accepted file yields a node ID bpd can resolve
 * or refuse with a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	struct node_id node;
	const char *why;
	FILE *f;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	log_set_level(LOG_LEVEL_ERR);
	config_init(&cfg);
	if (config_load_stream(&cfg, f, "fuzz") == 0)
		(void)node_id_parse(cfg.node_text, &node, &why);
	config_free(&cfg);
	fclose(f);
	return 0;
}
