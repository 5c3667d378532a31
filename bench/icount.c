// SPDX-License-Identifier: MIT
/*
 * icount - the loop that `make bench-icount` measures under callgrind:
 * one block of `size` bytes is kept live, a warm-up loop runs outside the
 * measurement, then measured_loop() does `iters` malloc(size)/free pairs.
 * bench/icount.sh runs this with --collect-atstart=no
 * --toggle-collect=measured_loop, so the instruction count is exactly that
 * function: the loop, the calls (PLT included) and the allocator.
 *
 * --baseline 1 calls two empty noinline functions instead of malloc/free:
 * the loop-and-call overhead alone, for reference.
 *
 * Natively it also works as a quick timing (ns per pair, printed in the
 * RESULT line), but the number that matters is callgrind's.
 */
#include <sys/rseq.h>

#include "common.h"

static long o_size = 64, o_iters = 1000000, o_baseline = 0, o_seed = 42;

__attribute__((noinline, noclone)) void *empty_malloc(size_t n)
{
	__asm__ volatile("" : : "r"(n) : "memory");
	return (void *)&o_size;
}

__attribute__((noinline, noclone)) void empty_free(void *p)
{
	escape(p);
}

__attribute__((noinline, noclone)) void measured_loop(size_t size, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		void *p = malloc(size);

		escape(p);
		free(p);
	}
}

__attribute__((noinline, noclone)) void measured_baseline(size_t size, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		void *p = empty_malloc(size);

		escape(p);
		empty_free(p);
	}
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--size", NULL, &o_size, "block size" },
		{ "--iters", NULL, &o_iters, "measured pairs" },
		{ "--baseline", NULL, &o_baseline, "1: empty calls instead" },
		{ "--seed", NULL, &o_seed, "unused; accepted for uniformity" },
		{ NULL, NULL, NULL, NULL },
	};
	void (*loop)(size_t, long);
	double t0, t1;
	char extra[128];
	void *keep;

	bench_parse(argc, argv, opts);
	if (o_size < 1 || o_iters < 1) {
		fprintf(stderr, "icount: bad parameters\n");
		return 2;
	}
	loop = o_baseline ? measured_baseline : measured_loop;
	keep = malloc((size_t)o_size);
	escape(keep);
	/* Warm-up, not measured: lazy binding, first refills, page faults. */
	measured_baseline((size_t)o_size, 1000);
	if (!o_baseline) {
		long i;

		for (i = 0; i < 10000; i++) {
			void *p = malloc((size_t)o_size);

			escape(p);
			free(p);
		}
	}
	t0 = now_sec();
	loop((size_t)o_size, o_iters);
	t1 = now_sec();
	free(keep);
	live_set_peak(2 * o_size, o_baseline ? 1 : (uint64_t)o_iters + 10001);
	snprintf(extra, sizeof(extra),
		 "threads=1 size=%ld iters=%ld baseline=%ld rseq=%d ns_per_pair=%.2f",
		 o_size, o_iters, o_baseline, __rseq_size != 0,
		 (t1 - t0) * 1e9 / (double)o_iters);
	bench_report("icount", extra, (double)o_iters, t1 - t0);
	return 0;
}
