// SPDX-License-Identifier: MIT
/*
 * test_stress - model-based random stress on one thread. A shadow table
 * holds every live block with its size and pattern tag; each operation is
 * malloc, calloc, aligned_alloc, realloc or free with sizes across all
 * three tiers. Every block is pattern-filled and verified on free and
 * realloc; after each phase the live blocks are sorted by address to
 * prove no two overlap, hak_check() must be clean and the per-tier stats
 * must equal the shadow's counts. The seed is printed; pass it as argv[1]
 * to replay a failure. The heap runs over a fixed region (the provider the
 * bare-metal images use) when argv[2] is "region".
 */
#include "check.h"

#define MAX_LIVE 4096
#define PHASES 12
#define OPS_PER_PHASE 40000

struct blk {
	char *p;
	size_t size;
	uint64_t tag;
	int tier; /* where the block must have come from */
};

static struct blk live[MAX_LIVE];
static unsigned nlive;
static struct report_log log;
static uint64_t rng;

static size_t pick_size(void)
{
	unsigned r = (unsigned)rng_range(&rng, 0, 99);

	if (r < 60)
		return rng_range(&rng, 0, 1024);
	if (r < 90)
		return rng_range(&rng, 1025, 32768);
	if (r < 99)
		return rng_range(&rng, 32769, 256 << 10);
	return rng_range(&rng, 256 << 10, 1 << 20);
}

/* The tier a request must land in: the smallest class that fits the size
 * and (for aligned requests) is a multiple of the alignment. */
static int tier_of(size_t size, size_t align)
{
	size_t need;

#if HAK_DEBUG /* mm/debug.c adds a header (48 rounded up to the alignment)
	       * and at least one red-zone byte */
	size += (align > 16 ? (48 + align - 1) / align * align : 48) + 1;
#endif
	need = size < align ? align : size;
	if (size > 32768 || align > 4096)
		return HAK_TIER_LARGE;
	if (need <= 1024)
		return HAK_TIER_TINY;
	return HAK_TIER_POOL;
}

static void add(char *p, size_t size, int tier)
{
	struct blk *b = &live[nlive++];

	/* 16-byte aligned, but a block of at most 8 bytes (8-byte class;
	 * the aligned requests here ask for at least 16). */
	CHECK(((uintptr_t)p & (size <= 8 ? 7 : 15)) == 0, "misaligned %p", p);
	CHECK(hak_usable_size(p) >= size, "usable < %zu", size);
	b->p = p;
	b->size = size;
	b->tag = rng_next(&rng);
	b->tier = tier;
	fill(p, size, b->tag);
}

static void drop(unsigned i)
{
	struct blk *b = &live[i];

	CHECK(verify(b->p, b->size, b->tag), "block %p (%zu) corrupted", b->p,
	      b->size);
	hak_free(b->p);
	live[i] = live[--nlive];
}

static void op(void)
{
	unsigned r = (unsigned)rng_range(&rng, 0, 99);
	size_t size = pick_size();
	char *p;

	if (nlive && (r < 45 || nlive == MAX_LIVE)) {
		drop((unsigned)rng_range(&rng, 0, nlive - 1));
		return;
	}
	if (nlive && r < 55) {
		struct blk *b = &live[rng_range(&rng, 0, nlive - 1)];
		size_t keep = size < b->size ? size : b->size;

		if (!size)
			size = 1;
		CHECK(verify(b->p, b->size, b->tag), "before realloc");
		p = hak_realloc(b->p, size);
		CHECK(p, "realloc %zu", size);
		CHECK(verify(p, keep, b->tag), "realloc lost data");
		if (p != b->p)
			b->tier = tier_of(size, 0);
		b->p = p;
		b->size = size;
		fill(p, size, b->tag);
		return;
	}
	if (r < 62) {
		size_t n = rng_range(&rng, 1, 16);
		size_t i;

		p = hak_calloc(n, size / n);
		CHECK(p, "calloc");
		PAT_FOR_EACH(i, n * (size / n))
		CHECK(p[i] == 0, "calloc not zero at %zu", i);
		add(p, n * (size / n), tier_of(n * (size / n), 0));
		return;
	}
	if (r < 70) {
		size_t a = (size_t)1 << rng_range(&rng, 4, 14);

		p = hak_aligned_alloc(a, size);
		CHECK(p && ((uintptr_t)p & (a - 1)) == 0, "aligned %zu", a);
		add(p, size, tier_of(size, a));
		return;
	}
	p = hak_malloc(size);
	CHECK(p, "malloc %zu", size);
	add(p, size, tier_of(size, 0));
}

static int by_addr(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

static void check_phase(int phase)
{
	uint64_t count[HAK_TIER__COUNT] = { 0 };
	struct hak_stats st;
	unsigned i;

	qsort(live, nlive, sizeof(live[0]), by_addr);
	for (i = 0; i < nlive; i++) {
		size_t u = hak_usable_size(live[i].p);

		if (i + 1 < nlive)
			CHECK(live[i].p + u <= live[i + 1].p,
			      "phase %d: %p+%zu overlaps %p", phase, live[i].p,
			      u, live[i + 1].p);
		count[live[i].tier]++;
	}
	CHECK(hak_check() == 0, "phase %d: hak_check", phase);
	hak_stats(&st);
	for (i = 0; i < HAK_TIER__COUNT; i++)
		CHECK(st.tier[i].objects_in_use == count[i],
		      "phase %d tier %u: stats %llu, shadow %llu", phase, i,
		      (unsigned long long)st.tier[i].objects_in_use,
		      (unsigned long long)count[i]);
	for (i = 0; i < HAK_EV__COUNT; i++)
		CHECK(!log.count[i], "unexpected report %s", hak_event_name(i));
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
	int use_region = argc > 2 && !strcmp(argv[2], "region");
	static char region[192 << 20] __attribute__((aligned(4096)));
	struct hak_stats st;
	int phase, i;

	if (!seed) {
		FILE *f = fopen("/dev/urandom", "rb");

		if (!f || fread(&seed, sizeof(seed), 1, f) != 1)
			seed = 0x1234;
		if (f)
			fclose(f);
		seed |= 1;
	}
	printf("seed %llu%s (replay: %s %llu%s)\n", (unsigned long long)seed,
	       use_region ? " region" : "", argv[0], (unsigned long long)seed,
	       use_region ? " region" : "");
	fflush(stdout);
	rng = seed;
	if (use_region)
		CHECK(hak_init_region(region, sizeof(region), 2, report_record,
				      &log) == 0,
		      "init region");
	else
		init_hosted(2, &log);
	log.quiet = 0;
	for (phase = 0; phase < PHASES; phase++) {
		for (i = 0; i < OPS_PER_PHASE; i++)
			op();
		check_phase(phase);
		if (phase % 4 == 3)
			hak_trim();
	}
	while (nlive)
		drop(nlive - 1);
	hak_trim();
	CHECK(hak_check() == 0, "final hak_check");
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "bytes in use %llu",
	      (unsigned long long)st.bytes_in_use);
	CHECK(st.provider_held == st.meta_bytes, "held %llu meta %llu",
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	printf("provider peak %llu KiB, out peak %llu KiB, hits %llu misses %llu\n",
	       (unsigned long long)st.provider_peak >> 10,
	       (unsigned long long)st.peak_bytes_out >> 10,
	       (unsigned long long)st.cache_hits,
	       (unsigned long long)st.cache_misses);
	printf("PASS stress%s\n", use_region ? " (region)" : "");
	return 0;
}
