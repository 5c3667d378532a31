// SPDX-License-Identifier: MIT
/*
 * test_cpu_ids - the hosted port picks rseq mode only when its per-CPU
 * table covers every CPU id the kernel may report: the rseq sections index
 * the table by the CPU id with no bound check.
 *
 * The library reads the highest possible CPU id from sysfs; this program
 * stands in for sysfs through the library's test hook
 * (hak_hosted_test_cpu_ids, weak and hidden: the shared library has none).
 * Each case runs the lazy init in a child process:
 *  - the machine's own count: rseq mode when glibc registered rseq (else
 *    trylock, said so on the output);
 *  - more ids than HAK_MAX_CPUS (a 128-CPU host): trylock mode, and
 *    ncpus capped at HAK_MAX_CPUS. Before the fix the mode test compared
 *    with the capped count, took rseq mode, and CPU 64's operations read
 *    past the table (checked: this case failed);
 *  - sysfs unreadable (0): trylock mode, ncpus the CPUs we may run on;
 *  - a sparse list longer than the library's read buffer (a file read
 *    instead of sysfs, hak_hosted_test_possible_path): its last, highest
 *    id counts (run_sparse_list).
 * In every case a thread on each online CPU then allocates, frees and
 * checks the heap, which must stay clean.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/rseq.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pin.h"

static unsigned fake_ids; /* what the hook says */
static const char *fake_path; /* or a file read as sysfs's list */
static int slow_init;	      /* the hook sleeps (inside the lazy init) */
static const char *want_mode; /* the child's expectations */
static unsigned want_ncpus;

static unsigned real_ids(void)
{
	char buf[4096];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned hi = 0, n = 0;
	size_t i, len;

	CHECK(f, "sysfs possible CPUs");
	len = fread(buf, 1, sizeof(buf), f);
	CHECK(len < sizeof(buf), "sysfs's possible CPU list is that long");
	fclose(f);
	for (i = 0; i < len; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			n = n * 10 + (unsigned)(buf[i] - '0');
			hi = n > hi ? n : hi;
		} else {
			n = 0;
		}
	}
	return hi + 1;
}

unsigned hak_hosted_test_cpu_ids(void);
unsigned hak_hosted_test_cpu_ids(void)
{
	if (slow_init) /* run_fork_during_init: the init is under way */
		usleep(200000);
	return fake_path ? ~0u : fake_ids;
}

/* With fake_path, the library reads that file as sysfs's list. */
const char *hak_hosted_test_possible_path(void);
const char *hak_hosted_test_possible_path(void)
{
	return fake_path;
}

static void *on_cpu(void *arg)
{
	void *p[256];
	unsigned i, r;

	pin((unsigned)(uintptr_t)arg);
	for (r = 0; r < 200; r++) {
		for (i = 0; i < 256; i++) {
			p[i] = hak_malloc(8 + (i * 37) % 3000);
			CHECK(p[i], "malloc");
			memset(p[i], (int)i, 8);
		}
		for (i = 0; i < 256; i++)
			hak_free(p[i]);
	}
	return NULL;
}

/* A child's end: the heap checks clean, nothing was reported. */
static void heap_clean(struct hak_stats *st)
{
	unsigned e;

	CHECK(hak_check() == 0, "heap faults");
	hak_stats(st);
	for (e = 0; e < HAK_EV__COUNT; e++)
		CHECK(st->events[e] == 0, "%llu %s events",
		      (unsigned long long)st->events[e],
		      hak_event_name((enum hak_event)e));
}

/* body in a child process (its lazy init under fake_ids = ids); the
 * child must exit 0. */
static void (*child_body)(void);
static unsigned child_ids;

static void with_ids(void)
{
	fake_ids = child_ids;
	child_body();
}

static void in_child(void (*body)(void), unsigned ids, const char *what)
{
	child_body = body;
	child_ids = ids;
	run_in_child(with_ids, 120, what);
}

/* The lazy init, then every online CPU's thread: the mode and ncpus are
 * what want_mode and want_ncpus say. */
static void child(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[64];
	struct hak_stats st;
	long c;

	hak_free(hak_malloc(1)); /* the lazy init, under the hook */
	hak_stats(&st);
	CHECK(!strcmp(st.fast_path, want_mode), "mode %s, want %s",
	      st.fast_path, want_mode);
	CHECK(st.ncpus == want_ncpus, "ncpus %u, want %u", st.ncpus,
	      want_ncpus);
	for (c = 0; c < online && c < 64; c++)
		CHECK(!pthread_create(&th[c], NULL, on_cpu, (void *)(uintptr_t)c),
		      "thread");
	for (c = 0; c < online && c < 64; c++)
		pthread_join(th[c], NULL);
	heap_clean(&st);
}

/* First calls racing the lazy init: threads released together, each
 * call possibly before, during or after the mode switch. Init turns rseq
 * mode on with every CPU's lock held and the locked paths look at the
 * mode again once they hold a lock, so no trylock operation overlaps an
 * rseq section on one cache (a review found the window by reading; it is
 * a few instructions wide and this stress test did not hit it before
 * the fix either). */
#define RACERS 8
static pthread_barrier_t start;

static void *racer(void *arg)
{
	void *p[64];
	unsigned i, r;

	(void)arg;
	pthread_barrier_wait(&start);
	for (r = 0; r < 2000; r++) {
		for (i = 0; i < 64; i++) {
			p[i] = hak_malloc(16 + (i * 24) % 700);
			CHECK(p[i], "malloc");
		}
		for (i = 0; i < 64; i++)
			hak_free(p[i]);
	}
	return NULL;
}

static void race_child(void)
{
	pthread_t th[RACERS];
	struct hak_stats st;
	unsigned i;

	pthread_barrier_init(&start, NULL, RACERS);
	for (i = 0; i < RACERS; i++)
		CHECK(!pthread_create(&th[i], NULL, racer, NULL), "thread");
	for (i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	heap_clean(&st);
	CHECK(st.tier[HAK_TIER_TINY].objects_in_use == 0 &&
		      st.tier[HAK_TIER_POOL].objects_in_use == 0,
	      "objects left in use");
}

static void run_race(unsigned rounds, unsigned ids)
{
	unsigned r;

	for (r = 0; r < rounds; r++)
		in_child(race_child, ids, "racing first calls");
	printf("  first calls racing the init: %u rounds\n", rounds);
}

static void run(const char *name, unsigned ids, const char *mode,
		unsigned ncpus)
{
	want_mode = mode;
	want_ncpus = ncpus;
	in_child(child, ids, name);
	printf("  %s: %s mode, %u caches\n", name, mode, ncpus);
}

/* A sparse list longer than the library's read buffer, "0-1,3,5,...",
 * whose highest id, 129, comes last: the whole list is read, so trylock
 * mode with HAK_MAX_CPUS caches. Before session 16 the library read the
 * first 63 bytes, took 43 for the highest id and rseq mode, whose
 * sections would then index past the table for ids 44 to 129. */
static void run_sparse_list(void)
{
	static char path[] = "/tmp/hakmem-possible-XXXXXX";
	char list[600];
	int fd, n, k;

	n = snprintf(list, sizeof(list), "0-1");
	for (k = 3; k <= 129; k += 2)
		n += snprintf(list + n, sizeof(list) - (size_t)n, ",%d", k);
	n += snprintf(list + n, sizeof(list) - (size_t)n, "\n");
	CHECK(n > 128 && n < (int)sizeof(list), "list of %d bytes", n);
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	CHECK(write(fd, list, (size_t)n) == n, "write");
	close(fd);
	fake_path = path;
	run("a sparse list of 130 ids, 207 bytes", 0, "trylock", HAK_MAX_CPUS);
	fake_path = NULL;
	unlink(path);
}

/*
 * fork() while another thread runs the lazy init: the child's only thread
 * is the forking one, and the init it inherited as running will never
 * finish there. The child's first malloc must init afresh, not wait for
 * it. Before session 16 it waited forever (the port's fork handler did
 * not reset the init state): the grandchild's alarm then killed it.
 */
static void *first_malloc(void *arg)
{
	(void)arg;
	hak_free(hak_malloc(1)); /* the lazy init, slowed by the hook */
	return NULL;
}

static void fork_during_init_child(void)
{
	struct hak_stats st;
	pthread_t th;
	int status;
	pid_t pid;
	void *p;

	slow_init = 1;
	CHECK(!pthread_create(&th, NULL, first_malloc, NULL), "thread");
	usleep(50000); /* the thread is in the hook now */
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (!pid) {
		alarm(20);
		p = hak_malloc(100);
		CHECK(p, "the child's first malloc");
		memset(p, 1, 100);
		hak_free(p);
		heap_clean(&st);
		exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "wait");
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status),
	      "the child of a fork during the lazy init: status %d%s", status,
	      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM
		      ? " (its first malloc hung)"
		      : "");
	pthread_join(th, NULL);
	heap_clean(&st);
}

int main(void)
{
	unsigned real = real_ids(), affine;
	cpu_set_t set;
	/* glibc registered rseq for this process: the machine's own count
	 * takes rseq mode then (membarrier's fence is on every kernel this
	 * project supports; test_remote_hold relies on it too). */
	const char *own = __rseq_size ? "rseq" : "trylock";

	CHECK(!sched_getaffinity(0, sizeof(set), &set), "affinity");
	affine = (unsigned)CPU_COUNT(&set);
	CHECK(real <= HAK_MAX_CPUS, "this machine has more than %d CPU ids",
	      HAK_MAX_CPUS);
	run("sysfs", real, own, real);
	run("128 CPU ids", 128, "trylock", HAK_MAX_CPUS);
	run("HAK_MAX_CPUS + 1 ids", HAK_MAX_CPUS + 1, "trylock",
	    HAK_MAX_CPUS);
	run("sysfs unreadable", 0, "trylock", affine);
	run_sparse_list();
	in_child(fork_during_init_child, real, "fork during the lazy init");
	printf("  fork during the lazy init: the child inits afresh\n");
	run_race(20, real);
	if (!__rseq_size)
		printf("  (glibc did not register rseq: no case ran rseq "
		       "mode)\n");
	printf("PASS test_cpu_ids\n");
	return 0;
}
