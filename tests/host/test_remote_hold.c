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
 * Twice: the default heap's cache (malloc and free of 64 bytes), and an
 * object cache's (hak_cache_alloc and hak_cache_free), whose area its
 * CPU's first miss publishes (hak_area_publish).
 * The thread plays CPU 0 (pinned there); the holder is pinned to another
 * CPU it may run on; it reads the cache only while it holds it. On a
 * one-CPU machine the thread waits for the cache instead, which passes as
 * well (nothing touches the held cache). The last check needs the thread
 * to prefer cache 0, which it does when glibc registered rseq (its CPU id
 * picks the cache, in either mode); without rseq a hash of the thread
 * picks it, and that check is left out, said so on the output (as is the
 * object cache's hold, if the hash never picked cache 0).
 * Last, in rseq mode: a kernel that refuses the rseq fence
 * (membarrier's MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, which this program
 * makes fail through the library's test hook, hak_hosted_test_membarrier,
 * which a program linked with the static archive may define) stops a
 * hak_trim with a panic that names it, printed by the drop-in's default
 * panic hook, before it touches another CPU's cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pin.h"
#include "../../mm/internal.h"

static int stop;	  /* atomics */
static unsigned long ops; /* the worker's operations, atomics */
static struct hak_cache *cache; /* the worker's; NULL: malloc and free */

/* Every magazine of a default-heap area: tops and allocation counts,
 * summed so that any push, pop or refill moves the sum. */
static uint64_t heap_area_sum(const void *area)
{
	const struct hak_pcpu *pc = area;
	uint64_t s = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		s += (uintptr_t)hak_mag_top(&pc->mag[c]) * 31 +
		     __atomic_load_n(&pc->mag[c].allocs, __ATOMIC_RELAXED);
	return s;
}

/* The same for an object cache's area: one magazine. */
static uint64_t cache_area_sum(const void *area)
{
	const struct hak_pcpu_one *a = area;

	return (uintptr_t)hak_mag_top(&a->mag) * 31 +
	       __atomic_load_n(&a->mag.allocs, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	void *keep[8];
	int i;

	(void)arg;
	pin(0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < 8; i++) {
			keep[i] = cache ? hak_cache_alloc(cache)
					: hak_malloc(64);
			CHECK(keep[i], "allocation");
			memset(keep[i], i, 64);
		}
		for (i = 0; i < 8; i++) {
			if (cache)
				hak_cache_free(cache, keep[i]);
			else
				hak_free(keep[i]);
		}
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

static void wait_ops(unsigned long n)
{
	unsigned long before = __atomic_load_n(&ops, __ATOMIC_RELAXED);

	while (__atomic_load_n(&ops, __ATOMIC_RELAXED) - before < n)
		sleep_ms(1);
}

/* CPU 0's area behind table entry slot, held for 200 ms while the worker
 * runs on CPU 0; sum reads the area. */
static void hold(const char *name, void **slot,
		 uint64_t (*sum)(const void *area), int rseq, unsigned holder)
{
	unsigned long flags, before, during;
	uint64_t s0, s1;
	pthread_t t;
	void *area;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	pthread_create(&t, NULL, worker, NULL);
	wait_ops(100000);
	area = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!__rseq_size && area == (void *)&hak_pcpu_none) {
		/* A hash of the thread picked another cache: nothing of
		 * CPU 0's to hold. */
		printf("%s: glibc did not register rseq and the thread never "
		       "used CPU 0's cache: left out\n",
		       name);
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
		return;
	}
	CHECK(area != (void *)&hak_pcpu_none, "%s: CPU 0 has an area", name);
	CHECK(*HAK_PCPU_FAST(slot) == area, "%s: the fast table agrees",
	      name);

	hak_port_pcpu_enter_remote(0, &flags, slot);
	s0 = sum(area);
	before = __atomic_load_n(&ops, __ATOMIC_RELAXED);
	sleep_ms(200);
	during = __atomic_load_n(&ops, __ATOMIC_RELAXED) - before;
	CHECK(sum(area) == s0,
	      "%s: the held cache moved under its holder (%lu operations)",
	      name, during);
	if (holder)
		CHECK(during > 1000,
		      "%s: the thread on the held CPU stopped (%lu operations)",
		      name, during);
	if (rseq)
		CHECK(*HAK_PCPU_FAST(slot) == (void *)&hak_pcpu_none,
		      "%s: held, the fast table's entry is the empty area",
		      name);
	hak_port_pcpu_exit_remote(0, flags, slot);
	CHECK(*HAK_PCPU_FAST(slot) == area,
	      "%s: let go, the fast table's entry is the area again", name);

	/* The same work hits the cache again: the test sees a used cache. */
	wait_ops(10000);
	hak_port_pcpu_enter_remote(0, &flags, slot);
	s1 = sum(area);
	hak_port_pcpu_exit_remote(0, flags, slot);
	if (__rseq_size)
		CHECK(s1 != s0, "%s: the thread does not use CPU 0's cache",
		      name);
	else
		printf("%s: glibc did not register rseq, the thread's cache "
		       "is a hash of it, not CPU 0's; that check left out\n",
		       name);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	printf("%s: held for 200 ms, %lu operations on its CPU, none on its "
	       "cache\n",
	       name, during);
}

static int refuse_fence; /* set in the child only */

/* The library's membarrier calls come here (port/hosted/hosted.c). */
long hak_hosted_test_membarrier(int cmd, unsigned flags, int cpu)
{
	if (refuse_fence && cmd == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) {
		errno = ENOMEM;
		return -1;
	}
	return syscall(SYS_membarrier, cmd, flags, cpu);
}

static void refused_fence(void)
{
	char err[512];
	ssize_t n, got = 0;
	int fd[2], st;
	pid_t pid;

	CHECK(pipe(fd) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (!pid) {
		dup2(fd[1], 2);
		refuse_fence = 1;
		hak_trim(); /* holds every CPU's cache in turn */
		_exit(0);
	}
	close(fd[1]);
	while (got < (ssize_t)sizeof(err) - 1 &&
	       (n = read(fd[0], err + got, sizeof(err) - 1 - got)) > 0)
		got += n;
	err[got] = 0;
	close(fd[0]);
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	      "refused fence: expected SIGABRT, status %#x; stderr: %s", st,
	      err);
	CHECK(strstr(err, "membarrier's rseq fence failed"),
	      "refused fence: stderr: %s", err);
	printf("refused fence: hak_trim aborted, printed: %s", err);
}

int main(void)
{
	unsigned holder = other_cpu();
	struct hak_stats st;
	int rseq;

	hak_free(hak_malloc(1)); /* the heap, its areas and its mode */
	hak_stats(&st);
	rseq = !strcmp(st.fast_path, "rseq");
	printf("fast path %s, the holder on CPU %u\n", st.fast_path, holder);
	CHECK(hak_heap.ncpus >= 1, "ncpus");
	pin(holder);
	hold("default heap", (void **)&hak_heap.pcpu[0], heap_area_sum, rseq,
	     holder);
	cache = hak_cache_create(NULL, "held", 64, 0, 0, NULL, NULL);
	CHECK(cache, "hak_cache_create");
	hold("object cache", &cache->pcpu[0], cache_area_sum, rseq, holder);
	CHECK(hak_check() == 0, "check");
	CHECK(hak_cache_destroy(cache) == 0, "hak_cache_destroy");
	if (rseq)
		refused_fence();
	else
		printf("refused fence: not in rseq mode, nothing to fence\n");
	printf("PASS remote_hold\n");
	return 0;
}
