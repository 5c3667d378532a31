// SPDX-License-Identifier: MIT
/*
 * test_fork_walk - fork() while another thread walks every CPU's caches.
 *
 * hak_check (like hak_trim and hak_cpu_offline) walks the caches under
 * the heap list lock and, for another CPU's cache, waits for that CPU's
 * lock (hak_port_pcpu_enter_remote). The hosted port's fork handler takes
 * every CPU's lock and the heap locks so that the child inherits none
 * held. Taken per-CPU locks first and the list lock after, a fork racing
 * a walk deadlocked both threads for good: the walker held the list lock
 * and waited for a CPU lock the forking thread held, which waited for the
 * list lock. The handler now takes the list lock first.
 *
 * A thread pinned to CPU 1 keeps its cache in use, one pinned to CPU 0
 * runs hak_check in a loop, and the main thread forks (the child exits at
 * once) until FORKS forks or SECONDS have passed. A watchdog fails the
 * test if neither side makes progress for STALL_SECONDS. Without the fix
 * it stalls within the first few hundred forks here (checked). Needs 2
 * CPUs; on one, the walk has no other CPU to wait for and the test says
 * so and fails.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pin.h"

#define FORKS 3000
#define SECONDS 6
#define STALL_SECONDS 10

static int stop;		     /* atomics */
static struct hak_cache *cache;	     /* the walk enters its CPU 1 area */
static unsigned long checks, forks; /* progress, atomics */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *user(void *arg)
{
	void *keep[64] = { 0 };
	unsigned i = 0;

	(void)arg;
	pin(1);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (keep[i % 64])
			hak_cache_free(cache, keep[i % 64]);
		keep[i % 64] = hak_cache_alloc(cache);
		CHECK(keep[i % 64], "hak_cache_alloc");
		i++;
	}
	for (i = 0; i < 64; i++)
		if (keep[i])
			hak_cache_free(cache, keep[i]);
	return NULL;
}

static void *walker(void *arg)
{
	(void)arg;
	pin(0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		CHECK(hak_check() == 0, "hak_check found a fault");
		__atomic_add_fetch(&checks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	unsigned long c = 0, f = 0;
	double last = now();

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned long c2 = __atomic_load_n(&checks, __ATOMIC_RELAXED);
		unsigned long f2 = __atomic_load_n(&forks, __ATOMIC_RELAXED);

		if (c2 != c || f2 != f) {
			c = c2;
			f = f2;
			last = now();
		} else if (now() - last > STALL_SECONDS) {
			fprintf(stderr,
				"FAIL test_fork_walk: no progress for %d s "
				"after %lu forks and %lu checks: fork() and "
				"the cache walk deadlocked\n",
				STALL_SECONDS, f, c);
			_exit(1);
		}
		usleep(100 * 1000);
	}
	return NULL;
}

int main(void)
{
	pthread_t u, w, d;
	double t0;
	unsigned long n = 0;

	CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 2,
	      "needs 2 CPUs: the walk must wait for another CPU's cache");
	hak_free(hak_malloc(1)); /* the heap and the fork handler are set up */
	cache = hak_cache_create(NULL, "fork_walk", 48, 0, 0, NULL, NULL);
	CHECK(cache, "hak_cache_create");
	CHECK(!pthread_create(&d, NULL, watchdog, NULL), "watchdog");
	CHECK(!pthread_create(&u, NULL, user, NULL), "user");
	CHECK(!pthread_create(&w, NULL, walker, NULL), "walker");
	t0 = now();
	while (n < FORKS && now() - t0 < SECONDS) {
		pid_t pid = fork();
		int st;

		CHECK(pid >= 0, "fork");
		if (!pid)
			_exit(0);
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
			      !WEXITSTATUS(st),
		      "child");
		__atomic_store_n(&forks, ++n, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(u, NULL);
	pthread_join(w, NULL);
	pthread_join(d, NULL);
	CHECK(__atomic_load_n(&checks, __ATOMIC_RELAXED) > 0,
	      "the walker ran");
	printf("PASS test_fork_walk (%lu forks, %lu checks)\n", n,
	       __atomic_load_n(&checks, __ATOMIC_RELAXED));
	return 0;
}
