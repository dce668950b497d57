/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tap.h - result lines for the selftests that run as roles on two nodes
 * (scif_linkconn, scif_linkrma): "ok - ..." / "not ok - ...", counted, from
 * any thread; the program prints "N passed, N failed" at its end.
 */
#ifndef SCIF_TAP_H
#define SCIF_TAP_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int passed, failed;
static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((format(printf, 2, 3))) result(int ok, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
	pthread_mutex_unlock(&tap_lock);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* SCIF_TAP_H */
