// SPDX-License-Identifier: MIT
/*
 * line_cost - what moving one cache line between two CPUs costs right
 * now: two threads pinned to CPUs 0 and 1 pass a counter back and forth
 * in one line, 200,000 round trips, and the mean round trip is printed.
 * Not a workload: bench/run.sh runs it at the start of each round, since
 * on the development VMs this cost changes over minutes (104-112 ns at
 * some moments, 430-1830 ns at others; docs/performance.md), and the
 * 2-thread rows follow it. Needs 2 CPUs; prints "line_round_trip_ns=n/a"
 * and exits 0 without them.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 200000L

static long line[32] __attribute__((aligned(128)));

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *answer(void *arg)
{
	long i;

	if (pin(1))
		abort(); /* checked by main before the thread starts */
	for (i = 1; i <= ROUNDS; i++) {
		while (__atomic_load_n(&line[0], __ATOMIC_ACQUIRE) != 2 * i - 1)
			;
		__atomic_store_n(&line[0], 2 * i, __ATOMIC_RELEASE);
	}
	return arg;
}

int main(void)
{
	pthread_t t;
	double t0, t1;
	long i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(1) || pin(0)) {
		printf("line_round_trip_ns=n/a\n");
		return 0;
	}
	if (pthread_create(&t, NULL, answer, NULL))
		abort();
	t0 = now_sec();
	for (i = 1; i <= ROUNDS; i++) {
		__atomic_store_n(&line[0], 2 * i - 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&line[0], __ATOMIC_ACQUIRE) != 2 * i)
			;
	}
	t1 = now_sec();
	pthread_join(t, NULL);
	printf("line_round_trip_ns=%.0f\n", (t1 - t0) * 1e9 / (double)ROUNDS);
	return 0;
}
