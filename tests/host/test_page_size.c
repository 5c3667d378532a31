// SPDX-License-Identifier: MIT
/*
 * test_page_size - on a kernel whose pages are larger than hakmem's 4 KiB
 * (aarch64 kernels with 16 or 64 KiB pages), the hosted providers do not
 * declare split: the large-run cache then never gives back part of a run,
 * which munmap would round out to whole kernel pages, unmapping the
 * cached rest of the run or a live block beside it.
 *
 * The kernel's page size comes through the library's test hook
 * (hak_hosted_test_page_size, weak and hidden: the shared library has
 * none), as test_cpu_ids fakes sysfs. Each case runs in a child process:
 *  - this machine's own (4 KiB here) and 4 KiB: both providers split, and a
 *    40 KiB block allocated after a 2 MiB one was freed is cut from the
 *    cached 2 MiB run (the same address): the probe below can tell;
 *  - 16 KiB and 64 KiB: neither provider splits, and the 40 KiB block
 *    is a run of its own, not the cached one.
 * In each, large blocks of many sizes and alignments are then allocated,
 * written, checked and freed in a mix, and the heap must check clean.
 * Before the fix the providers split whatever the page size (the 64 KiB
 * case failed its first check). The real 64 KiB kernel was not available
 * here: what the kernel does with a partial munmap is not exercised.
 */
#define _GNU_SOURCE
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static unsigned long fake_page; /* 0: the real one */

unsigned long hak_hosted_test_page_size(void);
unsigned long hak_hosted_test_page_size(void)
{
	return fake_page;
}

/* Big blocks of many sizes and alignments, written, checked, freed. */
static void large_mix(void)
{
	static unsigned char *p[64];
	static size_t n[64];
	uint64_t rng = 42;
	unsigned r, i;
	size_t j;

	for (r = 0; r < 3000; r++) {
		i = (unsigned)rng_range(&rng, 0, 63);
		if (p[i]) {
			for (j = 0; j < n[i]; j += 4093)
				CHECK(p[i][j] == (unsigned char)(i + j),
				      "block %u byte %zu changed", i, j);
			hak_free(p[i]);
		}
		n[i] = (size_t)rng_range(&rng, 33 << 10, 3 << 20);
		if (r & 1)
			p[i] = hak_aligned_alloc(
				(size_t)1 << rng_range(&rng, 13, 21), n[i]);
		else
			p[i] = hak_malloc(n[i]);
		CHECK(p[i], "%zu bytes", n[i]);
		for (j = 0; j < n[i]; j += 4093)
			p[i][j] = (unsigned char)(i + j);
	}
	for (i = 0; i < 64; i++)
		hak_free(p[i]);
	CHECK(hak_check() == 0, "heap faults");
}

static void child(void)
{
	struct hak_page_provider arena, map;
	void *big, *small;
	unsigned long page = fake_page ? fake_page : getauxval(AT_PAGESZ);
	int split = page == 4096;

	hak_free(hak_malloc(1)); /* the lazy init */
	arena = hak_hosted_arena_provider();
	map = hak_hosted_mmap_provider();
	CHECK(arena.split == split && map.split == split,
	      "page size %lu: the providers split %d / %d, want %d",
	      fake_page, arena.split, map.split, split);
	big = hak_malloc(2 << 20);
	CHECK(big, "2 MiB");
	hak_free(big);
	small = hak_malloc(40 << 10);
	CHECK(small, "40 KiB");
	CHECK((small == big) == split,
	      "page size %lu: the 40 KiB block %s the cached 2 MiB run's "
	      "start", fake_page, small == big ? "is" : "is not");
	hak_free(small);
	large_mix();
}

int main(void)
{
	const unsigned long pages[] = { 0, 4096, 16384, 65536 };
	unsigned k;

	for (k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
		char what[32];

		fake_page = pages[k];
		snprintf(what, sizeof(what), "page size %lu", pages[k]);
		run_in_child(child, 60, what);
	}
	printf("PASS test_page_size\n");
	return 0;
}
