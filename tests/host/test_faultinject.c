// SPDX-License-Identifier: MIT
/*
 * test_faultinject - a page provider that refuses exactly its Nth call,
 * for every N a fixed workload reaches. Each N runs in a fresh child
 * process (the heap is global): the refused call must be retried after a
 * reclaim pass, so that every allocation succeeds, the contents of
 * every block must survive, hak_check() must stay clean, and after freeing
 * everything and trimming, the provider must hold exactly the metadata
 * (nothing leaked on the failure path) and agree with hakmem's accounting.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static struct report_log log;
static struct hak_page_provider mm;
static long calls, fail_at;
static size_t held;

static void *inject_alloc(void *ctx, size_t bytes, size_t align)
{
	void *p;

	if (++calls == fail_at)
		return NULL;
	p = mm.alloc(ctx, bytes, align);
	if (p)
		held += bytes;
	return p;
}

static void inject_release(void *ctx, void *p, size_t bytes)
{
	held -= bytes;
	mm.release(ctx, p, bytes);
}

#define NBLK 1000
static char *blk[NBLK];
static size_t len[NBLK];

/* Sizes cycle through every tier; a few Large ones force provider calls. */
static size_t size_of(int i)
{
	static const size_t sizes[] = { 24, 100, 700, 3000, 9000, 30000,
					50000, 16, 64, 256, 1024, 2048, 200000 };

	return sizes[i % (int)(sizeof(sizes) / sizeof(sizes[0]))];
}

static int workload(void)
{
	struct hak_stats st;
	int i, nulls = 0;

	for (i = 0; i < NBLK; i++) {
		len[i] = size_of(i);
		blk[i] = hak_malloc(len[i]);
		if (!blk[i]) {
			nulls++;
			continue;
		}
		fill(blk[i], len[i], (uint64_t)i);
	}
	CHECK(hak_check() == 0, "check after allocation");
	for (i = 0; i < NBLK; i += 2)
		if (blk[i]) {
			CHECK(verify(blk[i], len[i], (uint64_t)i), "block %d", i);
			hak_free(blk[i]);
			blk[i] = NULL;
		}
	hak_trim();
	for (i = 0; i < NBLK; i += 2) {
		len[i] = len[i] / 2 + 1;
		blk[i] = hak_realloc(NULL, len[i]);
		if (!blk[i]) {
			nulls++;
			continue;
		}
		fill(blk[i], len[i], (uint64_t)i);
	}
	for (i = 0; i < NBLK; i++)
		if (blk[i]) {
			CHECK(verify(blk[i], len[i], (uint64_t)i), "block %d", i);
			hak_free(blk[i]);
		}
	hak_trim();
	CHECK(hak_check() == 0, "final check");
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "leak %llu", (unsigned long long)st.bytes_in_use);
	CHECK(st.provider_held == st.meta_bytes && held == st.provider_held,
	      "fail_at %ld: held %zu, hakmem %llu, meta %llu", fail_at, held,
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	/* No allocation fails: a refused call, for a block or for the
	 * metadata it needs (a large run's record page or page-map nodes,
	 * which returned NULL with no retry before: calls 6, 8 and 111),
	 * gets one reclaim pass and one more call, which succeeds here. */
	CHECK(nulls == 0, "fail_at %ld: %d allocations failed", fail_at, nulls);
	return (int)calls;
}

static int run_child(long n)
{
	struct hak_config cfg = { 0 };
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		mm = hak_hosted_mmap_provider();
		fail_at = n;
		cfg.provider.alloc = inject_alloc;
		cfg.provider.release = inject_release;
		cfg.ncpus = 2;
		cfg.report = report_record;
		cfg.report_ctx = &log;
		log.quiet = 1;
		if (hak_init(&cfg)) {
			/* Refusing a per-CPU area fails the init cleanly. */
			CHECK(n <= 2, "init failed at call %ld", n);
			_exit(100);
		}
		workload();
		_exit(0);
	}
	CHECK(pid > 0, "fork");
	CHECK(waitpid(pid, &status, 0) == pid, "wait");
	CHECK(WIFEXITED(status), "child %ld crashed (signal %d)", n,
	      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

int main(void)
{
	long n, total;
	int r;

	/* Count the calls of an undisturbed run first. */
	{
		struct hak_config cfg = { 0 };

		mm = hak_hosted_mmap_provider();
		fail_at = -1;
		cfg.provider.alloc = inject_alloc;
		cfg.provider.release = inject_release;
		cfg.ncpus = 2;
		cfg.report = report_record;
		cfg.report_ctx = &log;
		log.quiet = 1;
		fflush(stdout);
		if (fork() == 0) {
			CHECK(hak_init(&cfg) == 0, "init");
			workload();
			printf("undisturbed run: %ld provider calls\n", calls);
			fflush(stdout);
			_exit(calls > 250 ? 250 : (int)calls);
		}
		CHECK(wait(&r) > 0 && WIFEXITED(r), "reference run");
		total = WEXITSTATUS(r);
	}
	CHECK(total > 10 && total < 250, "workload makes %ld provider calls", total);
	for (n = 1; n <= total + 1; n++) {
		r = run_child(n);
		CHECK(r == 0 || r == 100, "fail_at %ld: exit %d", n, r);
	}
	printf("refused each of calls 1..%ld in turn: all recovered\n", total + 1);
	printf("PASS faultinject\n");
	return 0;
}
