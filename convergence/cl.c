/* SPDX-License-Identifier: MIT */
/* Adapters by scheme, and the addresses they share: see cl.h. */
#include "cl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cl_ops *const adapters[] = { &cl_tcpclv4_ops, &cl_udp_ops };

const struct cl_ops *cl_find(const char *addr, const char **rest)
{
	for (size_t i = 0; i < sizeof(adapters) / sizeof(adapters[0]); i++) {
		size_t n = strlen(adapters[i]->scheme);

		if (strncmp(addr, adapters[i]->scheme, n) == 0 && addr[n] == ':') {
			*rest = addr + n + 1;
			return adapters[i];
		}
	}
	return NULL;
}

int cl_addr_parse(const char *text, struct sockaddr_storage *sa, socklen_t *len, const char **why)
{
	const char *colon = strrchr(text, ':');
	unsigned long port;
	char host[64];
	const char *h = text;
	char *end;
	size_t hl;

	if (!colon || colon == text || colon[1] == '\0') {
		*why = "address must be SCHEME:HOST:PORT";
		return -EINVAL;
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || colon[1] < '0' || colon[1] > '9') {
		*why = "port must be 1 to 65535";
		return -EINVAL;
	}
	hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		*why = "host too long";
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)sa)->sin_addr) == 1) {
		((struct sockaddr_in *)sa)->sin_family = AF_INET;
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)sa)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)sa)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	*why = "host must be a numeric IPv4 or [IPv6] address";
	return -EINVAL;
}

void cl_addr_text(const char *scheme, const struct sockaddr_storage *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, cap, "%s:%s:%u", scheme, host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "%s:[%s]:%u", scheme, host, ntohs(in6->sin6_port));
	}
}
