/* SPDX-License-Identifier: MIT */
/* libbp's socket table (sock.h says how it is locked). */
#include "sock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bp_sock **table; /* indexed by delivery fd */
static size_t table_cap;

struct bp_sock *sock_new(void)
{
	struct bp_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	s->ctl = -1;
	s->refs = 1;
	atomic_init(&s->bound, false);
	s->next_request = 1;
	s->lifetime = SOCK_LIFETIME_DEFAULT;
	s->crc_type = SOCK_CRC_DEFAULT;
	s->policy = BP_POLICY_DEFER;
	if (pthread_mutex_init(&s->ctl_lock, NULL) != 0)
		goto out_free;
	if (pthread_mutex_init(&s->rx_lock, NULL) != 0)
		goto out_ctl_lock;
	return s;

out_ctl_lock:
	pthread_mutex_destroy(&s->ctl_lock);
out_free:
	free(s);
	return NULL;
}

/* The delivery fd is not closed here: bp_close() does that (sock_table_add() says why). */
static void sock_free(struct bp_sock *s)
{
	if (s->ctl >= 0)
		(void)close(s->ctl);
	pthread_mutex_destroy(&s->rx_lock);
	pthread_mutex_destroy(&s->ctl_lock);
	free(s->rx);
	free(s->batch);
	free(s);
}

static int table_grow(size_t need)
{
	size_t cap = table_cap ? table_cap : 64;
	struct bp_sock **t;

	while (cap < need)
		cap *= 2;
	t = realloc(table, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = table_cap; i < cap; i++)
		t[i] = NULL;
	table = t;
	table_cap = cap;
	return 0;
}

int sock_table_add(struct bp_sock *s)
{
	struct bp_sock *stale = NULL;
	size_t fd = (size_t)s->fd;
	int r = 0;

	pthread_mutex_lock(&table_lock);
	if (fd >= table_cap)
		r = table_grow(fd + 1);
	if (r == 0) {
		stale = table[fd];
		table[fd] = s;
	}
	pthread_mutex_unlock(&table_lock);
	if (stale)
		sock_put(stale);
	return r;
}

struct bp_sock *sock_get(int fd)
{
	struct bp_sock *s = NULL;

	pthread_mutex_lock(&table_lock);
	if (fd >= 0 && (size_t)fd < table_cap && table[fd]) {
		s = table[fd];
		s->refs++;
	}
	pthread_mutex_unlock(&table_lock);
	return s;
}

struct bp_sock *sock_take(int fd)
{
	struct bp_sock *s = NULL;

	pthread_mutex_lock(&table_lock);
	if (fd >= 0 && (size_t)fd < table_cap) {
		s = table[fd];
		table[fd] = NULL;
	}
	pthread_mutex_unlock(&table_lock);
	return s;
}

void sock_put(struct bp_sock *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&table_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&table_lock);
	if (last)
		sock_free(s);
}

uint32_t sock_request_id(struct bp_sock *s)
{
	uint32_t id = s->next_request++;

	if (s->next_request == 0)
		s->next_request = 1;
	return id;
}

int sock_not_found(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0 ? -ENOTSOCK : -EBADF;
}
