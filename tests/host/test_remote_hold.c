// SPDX-License-Identifier: MIT
/*
 * test_remote_hold - a CPU's cache held by another CPU
 * (hak_port_pcpu_enter_remote, as hak_trim, hak_check and
 * hak_cpu_offline hold it) is the holder's alone:
 *  - while it is held, a thread running on that CPU keeps allocating and
 *    freeing (its operations go elsewhere), and not one of them touches
 *    the held cache: its magazines' tops and allocation counts do not
 *    move;
 *  - in rseq mode, the fast table's entry for that CPU is the empty area
 *    while it is held, and the real one again after;
 *  - once it is let go, the same thread's operations hit that cache
 *    again, so the test can tell a held cache from an idle one.
 * The thread plays CPU 0 (pinned there); the holder is pinned to another
 * CPU it may run on; it reads the cache only while it holds it. On a
 * one-CPU machine the thread waits for the cache instead, which passes as
 * well (nothing touches the held cache). The last check needs the thread
 * to prefer cache 0, which it does when glibc registered rseq (its CPU id
 * picks the cache, in either mode); without rseq a hash of the thread
 * picks it, and that check is left out, said so on the output.
 */
#define _GNU_SOURCE
#include <sys/rseq.h>
#include <time.h>
#include <unistd.h>

#include "pin.h"
#include "../../mm/internal.h"

static int stop;	  /* atomics */
static unsigned long ops; /* the worker's operations, atomics */

/* Every magazine of area pc: tops and allocation counts, summed so that
 * any push, pop or refill moves the sum. */
static uint64_t area_sum(const struct hak_pcpu *pc)
{
	uint64_t s = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		s += (uintptr_t)hak_mag_top(&pc->mag[c]) * 31 +
		     __atomic_load_n(&pc->mag[c].allocs, __ATOMIC_RELAXED);
	return s;
}

static void *worker(void *arg)
{
	void *keep[8];
	int i;

	(void)arg;
	pin(0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < 8; i++) {
			keep[i] = hak_malloc(64);
			CHECK(keep[i], "malloc");
			memset(keep[i], i, 64);
		}
		for (i = 0; i < 8; i++)
			hak_free(keep[i]);
		__atomic_add_fetch(&ops, 16, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* A CPU other than 0 this process may run on, or 0 if there is none. */
static unsigned other_cpu(void)
{
	cpu_set_t set;
	unsigned c;

	CHECK(!sched_getaffinity(0, sizeof(set), &set), "sched_getaffinity");
	for (c = CPU_SETSIZE - 1; c > 0; c--)
		if (CPU_ISSET(c, &set))
			return c;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(void)
{
	unsigned holder = other_cpu();
	struct hak_pcpu *pc;
	struct hak_stats st;
	unsigned long flags, before, during;
	uint64_t sum, after;
	pthread_t t;
	int rseq;

	hak_free(hak_malloc(1)); /* the heap, its areas and its mode */
	hak_stats(&st);
	rseq = !strcmp(st.fast_path, "rseq");
	printf("fast path %s, the holder on CPU %u\n", st.fast_path, holder);
	CHECK(hak_heap.ncpus >= 1, "ncpus");
	pin(holder);
	pc = hak_heap.pcpu[0];
	CHECK(pc != &hak_pcpu_none, "CPU 0 has an area");
	CHECK((void *)hak_heap.pcpu_fast[0] == (void *)pc,
	      "the fast table agrees");
	pthread_create(&t, NULL, worker, NULL);
	while (__atomic_load_n(&ops, __ATOMIC_RELAXED) < 100000)
		sleep_ms(1);

	hak_port_pcpu_enter_remote(0, &flags, (void **)&hak_heap.pcpu[0]);
	sum = area_sum(pc);
	before = __atomic_load_n(&ops, __ATOMIC_RELAXED);
	sleep_ms(200);
	during = __atomic_load_n(&ops, __ATOMIC_RELAXED) - before;
	CHECK(area_sum(pc) == sum,
	      "the held cache moved under its holder (%lu operations)",
	      during);
	if (holder)
		CHECK(during > 1000,
		      "the thread on the held CPU stopped (%lu operations)",
		      during);
	if (rseq)
		CHECK((void *)hak_heap.pcpu_fast[0] == (void *)&hak_pcpu_none,
		      "held: the fast table's entry is the empty area");
	hak_port_pcpu_exit_remote(0, flags, (void **)&hak_heap.pcpu[0]);
	CHECK((void *)hak_heap.pcpu_fast[0] == (void *)pc,
	      "let go: the fast table's entry is the area again");

	/* The same work hits the cache again: the test sees a used cache. */
	before = __atomic_load_n(&ops, __ATOMIC_RELAXED);
	while (__atomic_load_n(&ops, __ATOMIC_RELAXED) - before < 10000)
		sleep_ms(1);
	hak_port_pcpu_enter_remote(0, &flags, (void **)&hak_heap.pcpu[0]);
	after = area_sum(pc);
	hak_port_pcpu_exit_remote(0, flags, (void **)&hak_heap.pcpu[0]);
	if (__rseq_size)
		CHECK(after != sum, "the thread does not use CPU 0's cache");
	else
		printf("glibc did not register rseq: the thread's cache is a "
		       "hash of it, not CPU 0's; that check left out\n");
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECK(hak_check() == 0, "check");
	printf("held for 200 ms: %lu operations on its CPU, none on its "
	       "cache\n",
	       during);
	printf("PASS remote_hold\n");
	return 0;
}
