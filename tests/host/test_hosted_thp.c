// SPDX-License-Identifier: MIT
/*
 * test_hosted_thp - the hosted port asks Linux for transparent huge pages
 * on fresh large runs of 2 MiB and more (port/hosted/hosted.c,
 * HAK_HOSTED_THP_BYTES), and on nothing else:
 *  - the mapping of a 4 MiB block is madvised MADV_HUGEPAGE ("hg" in its
 *    VmFlags in /proc/self/smaps), and a run the large-run cache serves
 *    again keeps the flag;
 *  - a 1 MiB large block's mapping is not (it holds no aligned 2 MiB);
 *  - each CPU's area of the default heap is advised MADV_NOHUGEPAGE
 *    ("nh"): it reserves 21.4 MiB of slots and touches few; so is the
 *    slab map over the arena (32 MiB, touched where superslabs are);
 *  - no mapping of the process is advised MADV_HUGEPAGE ("hg") that is
 *    not a live block of 2 MiB or more: not the superslabs, not the slab
 *    map over 64 GiB (sparse: a huge page would back 2 MiB for each
 *    touched entry), not the page map or the per-CPU areas.
 * The flag is what hakmem controls; whether the kernel then maps huge
 * pages depends on /sys/kernel/mm/transparent_hugepage/enabled and on
 * free memory, so that is printed, not asserted. A kernel without THP
 * fails the test: it cannot show the behaviour.
 */
#define _GNU_SOURCE
#include "check.h"
#include "../../mm/internal.h" /* HAK_RAW */

#define MiB (1UL << 20)

/* The allocator itself: the debug build's wrapping layer would move the
 * pointers this test looks up. */
#define M(n) HAK_RAW(hak_malloc)(n)
#define F(p) HAK_RAW(hak_free)(p)
#define U(p) HAK_RAW(hak_usable_size)(p)

struct vma {
	uintptr_t lo, hi;
	int hg;		/* VmFlags has "hg" */
	int nh;		/* and "nh" */
	long anon_huge; /* AnonHugePages, kB */
};

#define MAX_VMAS 4096
static struct vma vmas[MAX_VMAS];
static int nvmas;

/* The mappings, with their flag and huge-page bytes. */
static void read_smaps(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char *line = NULL; /* getline: a mapping's path may be long */
	size_t cap = 0;
	unsigned long lo, hi;

	CHECK(f, "open /proc/self/smaps");
	nvmas = 0;
	while (getline(&line, &cap, f) > 0) {
		long kb;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			CHECK(nvmas < MAX_VMAS, "too many mappings");
			vmas[nvmas].lo = lo;
			vmas[nvmas].hi = hi;
			vmas[nvmas].hg = 0;
			vmas[nvmas].nh = 0;
			vmas[nvmas].anon_huge = 0;
			nvmas++;
		} else if (nvmas && !strncmp(line, "VmFlags:", 8)) {
			vmas[nvmas - 1].hg = strstr(line, " hg") != NULL;
			vmas[nvmas - 1].nh = strstr(line, " nh") != NULL;
		} else if (nvmas &&
			   sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
			vmas[nvmas - 1].anon_huge = kb;
		}
	}
	free(line);
	fclose(f);
	CHECK(nvmas > 0, "no mappings read");
}

static const struct vma *vma_of(const void *p)
{
	int i;

	for (i = 0; i < nvmas; i++)
		if ((uintptr_t)p >= vmas[i].lo && (uintptr_t)p < vmas[i].hi)
			return &vmas[i];
	return NULL;
}

/* Every advised mapping lies within the live blocks big[0..n). */
static void only_big_blocks_advised(void *const *big, int n)
{
	int i, j;

	for (i = 0; i < nvmas; i++) {
		uintptr_t at = vmas[i].lo;

		if (!vmas[i].hg)
			continue;
		/* Walk the mapping through the blocks that cover it. */
		for (j = 0; j < n && at < vmas[i].hi; j++) {
			uintptr_t lo = (uintptr_t)big[j];

			if (at >= lo && at < lo + U(big[j])) {
				at = lo + U(big[j]);
				j = -1; /* restart: blocks are in no order */
			}
		}
		CHECK(at >= vmas[i].hi,
		      "mapping %lx-%lx is advised, but %lx is in no live "
		      "block of 2 MiB or more",
		      (unsigned long)vmas[i].lo, (unsigned long)vmas[i].hi,
		      (unsigned long)at);
	}
}

static void thp_present(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char mode[128] = "";

	CHECK(f, "this kernel has no transparent huge pages "
		 "(CONFIG_TRANSPARENT_HUGEPAGE): the behaviour cannot be "
		 "shown");
	if (!fgets(mode, sizeof(mode), f))
		mode[0] = 0;
	fclose(f);
	printf("transparent_hugepage/enabled: %s", mode);
}

int main(void)
{
	void *small[200], *big[3], *mid;
	const struct vma *v;
	int i;

	thp_present();
	/* Slabs of every tier, the slab map, page-map nodes, per-CPU
	 * areas: all made now, none of them may be advised
	 * MADV_HUGEPAGE. */
	for (i = 0; i < 200; i++) {
		small[i] = M(i < 100 ? 24 : 24000);
		CHECK(small[i], "small block %d", i);
		memset(small[i], 1, i < 100 ? 24 : 24000);
	}
	big[0] = M(4 * MiB);
	mid = M(1 * MiB);
	CHECK(big[0] && mid, "malloc");
	memset(big[0], 2, 4 * MiB);
	memset(mid, 3, 1 * MiB);
	read_smaps();
	v = vma_of(big[0]);
	CHECK(v && v->hg, "the 4 MiB block's mapping is not advised");
	printf("4 MiB block: advised, %ld kB of its mapping (%lu kB) in huge "
	       "pages\n",
	       v->anon_huge, (unsigned long)(v->hi - v->lo) >> 10);
	v = vma_of(mid);
	CHECK(v && !v->hg, "the 1 MiB block's mapping is advised");
	only_big_blocks_advised(big, 1);
	/* The per-CPU areas (21.4 MiB of slots each, mostly untouched):
	 * small pages only. */
	for (i = 0; i < (int)hak_heap.ncpus; i++) {
		v = vma_of(hak_heap.pcpu[i]);
		CHECK(v && v->nh && !v->hg,
		      "CPU %d's area is not advised MADV_NOHUGEPAGE", i);
	}
	printf("per-CPU areas: %u advised MADV_NOHUGEPAGE\n",
	       hak_heap.ncpus);
	/* The slab map over the arena (32 MiB, touched where superslabs
	 * are): small pages only. */
	CHECK(hak_heap.sm, "no slab map (the arena's span is missing)");
	v = vma_of(hak_heap.sm);
	CHECK(v && v->nh && !v->hg,
	      "the slab map is not advised MADV_NOHUGEPAGE");
	printf("slab map: advised MADV_NOHUGEPAGE\n");

	/* A run the cache serves again keeps the flag: 7 MiB served from
	 * a cached 8 MiB run; and a second fresh run gets it. */
	big[1] = M(8 * MiB);
	CHECK(big[1], "malloc 8 MiB");
	F(big[1]);
	big[1] = M(7 * MiB);
	big[2] = M(3 * MiB);
	CHECK(big[1] && big[2], "malloc 7 and 3 MiB");
	memset(big[1], 4, 7 * MiB);
	memset(big[2], 5, 3 * MiB);
	read_smaps();
	for (i = 0; i < 3; i++) {
		v = vma_of(big[i]);
		CHECK(v && v->hg, "block %d (%zu bytes) is not advised", i,
		      U(big[i]));
	}
	only_big_blocks_advised(big, 3);

	for (i = 0; i < 3; i++)
		F(big[i]);
	F(mid);
	for (i = 0; i < 200; i++)
		F(small[i]);
	CHECK(hak_check() == 0, "check");
	printf("PASS hosted_thp\n");
	return 0;
}
