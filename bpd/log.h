/* SPDX-License-Identifier: MIT */
/*
 * bpd's log: one line per event on stderr, with a UTC timestamp and level.
 * Only bpd logs (STYLE.md: the codec and libbp never do); log once, at the
 * edge, with the errno text where there is one.
 */
#ifndef BPD_LOG_H
#define BPD_LOG_H

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Lines above this level are dropped (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
