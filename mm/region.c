// SPDX-License-Identifier: MIT
/*
 * region.c - the default page provider: one static region, typically
 * bounded by linker-script symbols, managed as a page bitmap.
 *
 * The region's own bookkeeping (struct region and the bitmap, one bit per
 * page) is carved from the region's first pages. Allocation is first fit
 * at the requested alignment; it skips whole free and used words and jumps
 * past every used run it meets, so a call costs O(pages / 64 + used runs)
 * word reads: at most O(pages), a bound fixed by the region's size. Release
 * is O(pages released / 64).
 */
#include "internal.h"

struct region {
	uintptr_t base; /* first managed page */
	size_t npages;
	size_t used;
	uint64_t map[]; /* bit set = page in use */
};

static int page_used(const struct region *r, size_t i)
{
	return (r->map[i >> 6] >> (i & 63)) & 1;
}

/* First page in [i, end) whose bit equals used, or end. */
static size_t next_page(const struct region *r, size_t i, size_t end, int used)
{
	while (i < end) {
		uint64_t w =
			(used ? r->map[i >> 6] : ~r->map[i >> 6]) >> (i & 63);

		if (w)
			return i + (size_t)arch_ctz64(w) < end
				       ? i + (size_t)arch_ctz64(w)
				       : end;
		i = (i | 63) + 1;
	}
	return end;
}

/* Set or clear bits [i, i + n): whole words at a time. */
static void mark(struct region *r, size_t i, size_t n, int used)
{
	while (n) {
		size_t bit = i & 63, k = 64 - bit < n ? 64 - bit : n;
		uint64_t m = (k == 64 ? ~0ULL : ((1ULL << k) - 1)) << bit;

		if (used)
			r->map[i >> 6] |= m;
		else
			r->map[i >> 6] &= ~m;
		i += k;
		n -= k;
	}
}

static void *region_alloc(void *ctx, size_t bytes, size_t align)
{
	struct region *r = ctx;
	size_t n = bytes >> HAK_PAGE_SHIFT;
	uintptr_t first = r->base >> HAK_PAGE_SHIFT;
	size_t step = align >> HAK_PAGE_SHIFT; /* a power of two */
	size_t i = hak_round_up(first, step) - first;

	if (!n || n > r->npages - r->used)
		return NULL;
	while (i + n <= r->npages) {
		size_t u = next_page(r, i, i + n, 1);

		if (u == i + n) {
			mark(r, i, n, 1);
			r->used += n;
			return (void *)(r->base + (i << HAK_PAGE_SHIFT));
		}
		/* Skip the whole used run, then align. */
		u = next_page(r, u, r->npages, 0);
		i = hak_round_up(first + u, step) - first;
	}
	return NULL;
}

static void region_release(void *ctx, void *p, size_t bytes)
{
	struct region *r = ctx;
	size_t i = ((uintptr_t)p - r->base) >> HAK_PAGE_SHIFT;
	size_t n = bytes >> HAK_PAGE_SHIFT;

	/* Any page range the provider handed out (the provider splits):
	 * its first and last pages must be in use. */
	if ((uintptr_t)p < r->base || !n || i + n > r->npages ||
	    !page_used(r, i) || !page_used(r, i + n - 1))
		hak_panic("region provider: release of a run it never gave");
	mark(r, i, n, 0);
	r->used -= n;
}

int hak_region_provider(void *base, size_t size,
			struct hak_page_provider *out)
{
	uintptr_t lo = hak_round_up((uintptr_t)base, HAK_PAGE_SIZE);
	uintptr_t hi = ((uintptr_t)base + size) & ~(HAK_PAGE_SIZE - 1);
	struct region *r = (struct region *)lo;
	size_t pages, head;

	/* lo < base: base was in the last page and its round-up wrapped. */
	if (!base || !out || (uintptr_t)base + size < (uintptr_t)base ||
	    lo < (uintptr_t)base || hi <= lo || hi - lo < 16 * HAK_PAGE_SIZE)
		return -1;
	pages = (hi - lo) >> HAK_PAGE_SHIFT;
	/* Bookkeeping sized for all pages; the pages it covers are simply
	 * never handed out. */
	head = hak_round_up(sizeof(*r) + (pages + 63) / 64 * 8, HAK_PAGE_SIZE);
	hak_memset(r, 0, head);
	r->base = lo + head;
	r->npages = pages - (head >> HAK_PAGE_SHIFT);
	/* All of *out: a field this provider has no use for (zeroed,
	 * advise_large) must not keep what the caller's struct held. */
	hak_memset(out, 0, sizeof(*out));
	out->alloc = region_alloc;
	out->release = region_release;
	out->ctx = r;
	out->span_base = r->base;
	out->span_size = r->npages << HAK_PAGE_SHIFT;
	out->split = 1; /* a bitmap: any page range goes back */
	return 0;
}

int hak_init_region(void *base, size_t size, unsigned ncpus,
		    void (*report)(const struct hak_report *, void *),
		    void *report_ctx)
{
	struct hak_config cfg;

	/* Not "= {0}": GCC makes that a call to memset, which a
	 * freestanding build may not have (make test-nm). */
	hak_memset(&cfg, 0, sizeof(cfg));
	/* The region may be the live heap's, or that of an init running on
	 * another CPU: claim the init before touching it (a check of ready
	 * alone let a concurrent call zero the bookkeeping of the region
	 * that init was allocating from; found by review). */
	if (hak_init_claim(base, size,
			   "hak_init_region: hakmem is already initialised"))
		return -1;
	if (hak_region_provider(base, size, &cfg.provider)) {
		hak_init_unclaim();
		return -1;
	}
	cfg.ncpus = ncpus;
	cfg.report = report;
	cfg.report_ctx = report_ctx;
	return hak_init_claimed(&cfg);
}
