// SPDX-License-Identifier: MIT
/*
 * tsc-khz: print this machine's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW.
 *
 * A TCG guest's TSC is the host's (qemu returns the host's rdtsc), but the guest kernel
 * calibrates it against the emulated PIT, which a busy host can make read 20x wrong. run.sh
 * passes this figure as tsc_early_khz= so that the guest's clock runs at the host's rate.
 *
 * Three 50 ms samples, each bracketed by the two clock reads taken closest together; the
 * median is printed. Exits 1 (printing nothing on stdout) on a machine without a usable TSC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

static int64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* a (tsc, ns) pair whose two reads were closest together out of 16 tries */
static void pair(uint64_t *tsc, int64_t *ns)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 16; i++) {
		int64_t a = ns_now();
		uint64_t t = __rdtsc();
		int64_t b = ns_now();

		if (b - a < best) {
			best = b - a;
			*tsc = t;
			*ns = a + (b - a) / 2;
		}
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	double khz[3];

	for (int i = 0; i < 3; i++) {
		struct timespec nap = { 0, 50 * 1000 * 1000 };
		uint64_t t0, t1;
		int64_t n0, n1;

		pair(&t0, &n0);
		nanosleep(&nap, NULL);
		pair(&t1, &n1);
		if (t1 <= t0 || n1 <= n0)
			return 1;
		khz[i] = (double)(t1 - t0) * 1e6 / (double)(n1 - n0);
	}
	qsort(khz, 3, sizeof(khz[0]), cmp);
	if (khz[1] < 100000 || khz[1] > 20000000)	/* 100 MHz .. 20 GHz, or not a TSC */
		return 1;
	printf("%.0f\n", khz[1]);
	return 0;
}
