/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.h - small helpers shared by every module
 *
 * Theory of operation: nothing here allocates or logs.  These are the
 * macros that every file would otherwise re-invent: array sizes, fds that
 * close themselves when they leave scope, and relaxed single-writer
 * counters that another thread may read at any time.
 */
#ifndef VS_UTIL_H
#define VS_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/**
 * vs_close_helper() - cleanup handler behind vs_autoclose
 * @fdp:	pointer to the fd; closed if >= 0, then set to -1
 */
static inline void vs_close_helper(int *fdp)
{
	if (*fdp >= 0) {
		int saved = errno;

		close(*fdp);
		errno = saved;
	}
	*fdp = -1;
}

/* An int fd that closes itself: vs_autoclose int fd = -1; */
#define vs_autoclose __attribute__((cleanup(vs_close_helper)))

/*
 * Counters have exactly one writer (the lcore that owns the port, or the
 * control thread for control-plane counters) and any number of readers.
 * Relaxed atomics make the read tear-free without costing a locked
 * instruction on the writer's side.
 */
#define VS_STAT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)
#define VS_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define VS_STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

#endif /* VS_UTIL_H */
