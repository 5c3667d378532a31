// SPDX-License-Identifier: MIT
/*
 * The rseq abort path, seen from user space: two workers allocate, fill,
 * verify and free at random while a third thread keeps sending them
 * signals and a fourth keeps trimming (which takes every CPU's cache
 * remotely: the empty area in the fast table, then the membarrier rseq
 * fence). A signal that lands in
 * a section makes the kernel move the PC to the section's abort handler
 * before the handler runs, so the handler counts the interrupted PCs that
 * lie in __rseq_failure: those are aborted and restarted sections. The
 * test needs some, and a consistent heap at the end.
 * Built for tests/aarch64-linux (static, hosted port); also runs on x86.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/rseq.h>
#include <time.h>
#include <ucontext.h>

#include "check.h"

#define WORKERS 2
#define LIVE 256
#define OPS 400000

extern const char __start___rseq_failure[], __stop___rseq_failure[];

static unsigned long signals, aborts;
static int stop;

static void on_signal(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	const char *pc;

	(void)sig;
	(void)si;
#if defined(__aarch64__)
	pc = (const char *)uc->uc_mcontext.pc;
#elif defined(__x86_64__)
	pc = (const char *)uc->uc_mcontext.gregs[REG_RIP];
#else
	pc = NULL;
#endif
	__atomic_fetch_add(&signals, 1, __ATOMIC_RELAXED);
	if (pc >= __start___rseq_failure && pc < __stop___rseq_failure)
		__atomic_fetch_add(&aborts, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL, tag = 0;
	static __thread void *live[LIVE];
	static __thread size_t size[LIVE];
	static __thread uint64_t tags[LIVE];
	unsigned i, j;

	for (i = 0; i < OPS; i++) {
		j = (unsigned)rng_range(&rng, 0, LIVE - 1);
		if (live[j]) {
			CHECK(verify(live[j], size[j], tags[j]), "block %p",
			      live[j]);
			hak_free(live[j]);
			live[j] = NULL;
		} else {
			size[j] = (size_t)rng_range(&rng, 1, 1024);
			tags[j] = ++tag * 1000 + (uintptr_t)arg;
			live[j] = hak_malloc(size[j]);
			CHECK(live[j], "malloc %zu", size[j]);
			fill(live[j], size[j], tags[j]);
		}
	}
	for (j = 0; j < LIVE; j++)
		if (live[j]) {
			CHECK(verify(live[j], size[j], tags[j]), "block %p",
			      live[j]);
			hak_free(live[j]);
		}
	return NULL;
}

static void *signaller(void *arg)
{
	pthread_t *w = arg;
	struct timespec ts = { 0, 20000 };
	unsigned i;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < WORKERS; i++)
			pthread_kill(w[i], SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *trimmer(void *arg)
{
	struct timespec ts = { 0, 2000000 };

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		hak_trim();
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(void)
{
	struct report_log log = { 0 };
	pthread_t w[WORKERS], sg, tr;
	struct sigaction sa = { 0 };
	struct hak_stats st;
	unsigned ncpus;
	uintptr_t i;

	ncpus = hak_hosted_possible_cpus();
	if (ncpus < 2)
		ncpus = 2;
	init_hosted(ncpus, &log);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	for (i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)(i + 1));
	pthread_create(&sg, NULL, signaller, w);
	pthread_create(&tr, NULL, trimmer, NULL);
	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(sg, NULL);
	pthread_join(tr, NULL);

	CHECK(hak_check() == 0, "final hak_check");
	for (i = 0; i < HAK_EV__COUNT; i++)
		CHECK(!log.count[i], "report %s", hak_event_name((enum hak_event)i));
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "%llu bytes still in use",
	      (unsigned long long)st.bytes_in_use);
	printf("fast path: %s, %lu signals, %lu landed in a section (aborted)\n",
	       st.fast_path, signals, aborts);
	CHECK(!strcmp(st.fast_path, __rseq_size ? "rseq" : "trylock"),
	      "fast path %s", st.fast_path);
	if (!strcmp(st.fast_path, "rseq"))
		CHECK(aborts > 0, "no signal interrupted a section");
	printf("PASS rseq_abort\n");
	return 0;
}
