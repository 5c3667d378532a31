// SPDX-License-Identifier: MIT
/*
 * fuzz_heap - libFuzzer harness for the whole public API, driven by a
 * shadow model.
 *
 * The heap: hak_init_region over one fixed 32 MiB region (1 MiB aligned),
 * 4 CPUs, built with HAK_HOSTED_NO_RSEQ_BUILD + HAK_HOSTED_TEST_HOOKS so
 * that this one thread plays CPU k by setting hak_hosted_test_cpu. The
 * region (not mmap) is the choice because it makes exhaustion reachable and
 * deterministic, and fuzzes the region page provider the bare-metal images
 * use. The heap is global and initialised once per process, so every input
 * ends by freeing all it allocated and trimming: inputs are independent and
 * a crash replays from its file alone.
 *
 * An input is a byte string decoded as operations (opcode byte, then its
 * arguments; a missing byte reads 0): malloc, calloc, realloc (any size,
 * grow, shrink, to 0, from NULL, to an overflowing size), aligned_alloc
 * (valid and invalid alignments), free, bursts of each, a deliberate
 * double free right after a free (nothing allocates in between, so the
 * block cannot have been handed out again), an interior pointer, foreign
 * pointers (stack, global, libc heap, the region's bookkeeping, a
 * superslab header, a per-CPU area, non-canonical addresses), usable_size,
 * hak_trim, hak_cpu_offline, switching the simulated CPU, hak_check, and
 * "hogs" of several MiB that exhaust the region.
 *
 * Every live block is in the shadow with its request, usable size and a
 * pattern tag; its whole usable range is pattern-filled (densely for the
 * first 4 KiB, then the first and last 16 bytes of each page, then 16
 * bytes per 64 KiB past 2 MiB, plus its last 16 bytes) and verified on
 * free, realloc and check. Checked on every allocation: no overlap with a
 * live block nor with hakmem's metadata (per-CPU areas, page-map nodes,
 * superslab headers), inside the region, alignment (asked for, and the
 * natural one of the class / page), usable >= request and the
 * class-rounding bound, the tier the request must land in (from the page
 * map), calloc zeroing.
 * Every call must produce exactly the reports expected (a report hook
 * records them): none for a good call, exactly one of the precise kind and
 * pointer for a bad one, one out-of-memory report iff an allocation
 * returned NULL - and NULL only when out of memory is possible at all (a
 * bound over the live set: see oom_possible). hak_check() must be clean
 * every 64 operations, on demand and at the end; hak_stats must match the
 * shadow exactly (per-tier live objects and bytes, allocations and frees
 * served, events, provider bytes = superslabs + large runs + metadata, no
 * superslab without a live block after a trim), and after the final
 * free-all and trim nothing may be held but the metadata - which a probe
 * then confirms from the region's side: first fit must fit exactly as many
 * 1 MiB runs as the gaps between the metadata runs allow.
 *
 * A failed check prints the operation and why, then aborts: libFuzzer
 * saves the input. tests/fuzz/README.md tells how to run and replay.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem.h"
/* White-box: the page map says which tier a block is in and whether a
 * freed block's slab is still carved (double free vs. invalid free). */
#include "../../mm/internal.h"

/* The harness's own hot loops (patterns, overlap scan) stay out of the
 * coverage and ASan instrumentation: it would cost most of the run time,
 * and only tells the fuzzer about the harness, or checks region memory,
 * which ASan sees as one plain mapping. noinline: inlined into an
 * instrumented caller, they would be instrumented with it. */
#if defined(__clang__) && __clang_major__ >= 13
#define NOCOV __attribute__((no_sanitize("coverage", "address"), noinline))
#else
#define NOCOV
#endif
#define INLINE inline __attribute__((always_inline))

#ifndef HAK_HOSTED_TEST_HOOKS
#error "build with -DHAK_HOSTED_TEST_HOOKS -DHAK_HOSTED_NO_RSEQ_BUILD"
#endif

#define NCPUS 4
#define MIB ((size_t)1 << 20)
#define REGION_SIZE (32 * MIB)
#define MAX_LIVE 256
#define MAX_OPS 2000
#define CHECK_EVERY 64
/* The largest block the out-of-memory bound below reasons about. */
#define BIG_LIMIT (MIB + 64 * 1024)
#define PAGE 4096UL

/* Freed large runs a large-run cache keeps (when the tree has one) are
 * held from the provider, not live; hak_trim gives them back. */
#ifdef HAK_LARGE_CACHE_BYTES
#define LARGE_CACHED(st) ((st).large_cached)
#else
#define LARGE_CACHED(st) 0
#endif

enum { TINY = HAK_TIER_TINY, POOL = HAK_TIER_POOL, LARGE = HAK_TIER_LARGE };

struct blk {
	unsigned char *p;
	size_t req;	/* bytes asked for */
	size_t usable;	/* hak_usable_size, fixed for the block's life */
	uint64_t tag;	/* pattern seed */
	int tier;
};

static struct blk live[MAX_LIVE];
static unsigned nlive;

static uintptr_t region_lo, region_hi;
static void *libc_block; /* a foreign pointer from the system allocator */
static int global_array[16];

/* Reports seen: counted by kind, the last one kept. */
static struct {
	unsigned count[HAK_EV__COUNT + 1];
	unsigned total;
	enum hak_event last_ev;
	const void *last_ptr;
	size_t last_size;
	unsigned bad_cpu;
} rep;

/* Per input: what the shadow says hak_stats must have counted. */
static uint64_t n_allocs[HAK_TIER__COUNT], n_frees[HAK_TIER__COUNT];
static struct hak_stats st0; /* at the input's start */

static const uint8_t *in_data;
static size_t in_len, in_pos;
static unsigned opno;
static const char *opname = "init";
static uint64_t tag_ctr;
static int trace; /* FUZZ_HEAP_TRACE set: print each operation */

/* ---- failure -------------------------------------------------------- */

#define REQUIRE(cond, ...)                                                    \
	do {                                                                  \
		if (!(cond))                                                  \
			fail(__LINE__, #cond, __VA_ARGS__);                   \
	} while (0)

__attribute__((noreturn, format(printf, 3, 4))) static void
fail(int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_heap: FAIL at op %u (%s), line %d: %s\n  ",
		opno, opname, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  live blocks %u, cpu %d, reports %u (last %s ptr %p)\n",
		nlive, hak_hosted_test_cpu, rep.total,
		hak_event_name(rep.last_ev), rep.last_ptr);
	abort();
}

/* ---- input ---------------------------------------------------------- */

static unsigned g8(void)
{
	return in_pos < in_len ? in_data[in_pos++] : 0;
}

static unsigned g16(void)
{
	unsigned v = g8();

	return v | g8() << 8;
}

static unsigned g24(void)
{
	unsigned v = g16();

	return v | g8() << 16;
}

static const size_t boundary_sizes[] = {
	0,	1,	15,	16,	17,	 63,	 64,	 65,	128,
	129,	1023,	1024,	1025,	 1279,	 1280,	 4095,	 4096,
	4097,	8192,	16383,	32767,	 32768,	 32769,	 36864,	 65535,
	65536,	65537,	MIB - 1, MIB,	 MIB + 1, BIG_LIMIT,
};
#define NBOUNDARY (sizeof(boundary_sizes) / sizeof(boundary_sizes[0]))

/* Sizes across all tiers: 0..64 KiB mostly, sometimes up to 1 MiB. */
static size_t get_size(void)
{
	unsigned sel = g8() & 15;

	if (sel <= 5)
		return g16() % 1025;
	if (sel <= 9)
		return 1025 + g16() % (32768 - 1024);
	if (sel <= 12)
		return g24() % 65537;
	if (sel == 13)
		return g24() % (MIB + 1);
	if (sel == 14)
		return boundary_sizes[g8() % NBOUNDARY];
	return g8() % 64;
}

/* ---- the report hook ------------------------------------------------ */

static void on_report(const struct hak_report *r, void *ctx)
{
	(void)ctx;
	rep.count[(unsigned)r->event < HAK_EV__COUNT ? r->event : HAK_EV__COUNT]++;
	rep.total++;
	rep.last_ev = r->event;
	rep.last_ptr = r->ptr;
	rep.last_size = r->size;
	if (r->cpu >= NCPUS)
		rep.bad_cpu++;
}

static void expect_none(unsigned before)
{
	REQUIRE(rep.total == before, "unexpected report: %s ptr %p size %zu",
		hak_event_name(rep.last_ev), rep.last_ptr, rep.last_size);
}

static void expect_one(unsigned before, enum hak_event ev, const void *ptr)
{
	REQUIRE(rep.total == before + 1,
		"expected one %s report for %p, got %u (last %s ptr %p)",
		hak_event_name(ev), ptr, rep.total - before,
		hak_event_name(rep.last_ev), rep.last_ptr);
	REQUIRE(rep.last_ev == ev && rep.last_ptr == ptr,
		"expected %s for %p, got %s for %p", hak_event_name(ev), ptr,
		hak_event_name(rep.last_ev), rep.last_ptr);
	REQUIRE(rep.bad_cpu == 0, "report with cpu >= %d", NCPUS);
}

/* ---- patterns ------------------------------------------------------- */

static INLINE unsigned char pat(uint64_t tag, size_t i)
{
	uint64_t x = tag + i * 0x9e3779b97f4a7c15ULL;

	return (unsigned char)((x >> 56) ^ i);
}

/* The positions a pattern covers depend on the position only, so a
 * prefix of a block (what realloc keeps) verifies against the same set. */
static INLINE size_t pos_next(size_t i)
{
	size_t j;

	if (i < PAGE)
		return i + 1;
	if (i < 2 * MIB) {
		j = i & (PAGE - 1);
		return j == 15 ? i + (PAGE - 16 - 15) : i + 1;
	}
	j = i & 65535;
	return j == 15 ? i + 65536 - 15 : i + 1;
}

static INLINE size_t tail_from(size_t n)
{
	return n > 16 ? n - 16 : 0;
}

NOCOV static void fill(unsigned char *p, size_t n, uint64_t tag)
{
	size_t i;

	for (i = 0; i < n; i = pos_next(i))
		p[i] = pat(tag, i);
	for (i = tail_from(n); i < n; i++)
		p[i] = pat(tag, i);
}

/* Verify [0, n) (the covered positions), and its last 16 bytes if
 * with_tail (only when n is the filled extent itself). */
NOCOV static void verify(const struct blk *b, const unsigned char *p, size_t n,
		   int with_tail)
{
	size_t i;

	for (i = 0; i < n; i = pos_next(i))
		REQUIRE(p[i] == pat(b->tag, i),
			"block %p (req %zu usable %zu) corrupted at %zu: %02x != %02x",
			(void *)b->p, b->req, b->usable, i, p[i], pat(b->tag, i));
	if (with_tail)
		for (i = tail_from(n); i < n; i++)
			REQUIRE(p[i] == pat(b->tag, i),
				"block %p (usable %zu) tail corrupted at %zu",
				(void *)b->p, b->usable, i);
}

static void verify_block(const struct blk *b)
{
	verify(b, b->p, b->usable, 1);
}

NOCOV static void verify_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i = pos_next(i))
		REQUIRE(p[i] == 0, "calloc block %p not zero at %zu", (void *)p, i);
	for (i = tail_from(n); i < n; i++)
		REQUIRE(p[i] == 0, "calloc block %p not zero at %zu", (void *)p, i);
}

/* ---- hakmem's metadata in the region -------------------------------- */

#define NODE_BYTES (HAK_PM_FANOUT * sizeof(void *))
/* Page-map nodes a check may list (the 32 MiB region needs about 3). */
#define MAX_NODES 16
#define MAX_META (NCPUS + 1 + HAK_NCLASSES * HAK_LANES + MAX_NODES + 16)

struct range {
	uintptr_t lo, hi;
};

/* The per-CPU areas and the slab map (fixed at init) and the page-map
 * nodes (they only ever grow), refreshed at every input's start: no block
 * may overlap. */
static struct range meta_now[MAX_META];
static unsigned nmeta_now;
static size_t pcpu_bytes, slabmap_bytes;

/* A lane's transfer-cache slots of class c (mm/transfer.c), once it has
 * them (cap batches). */
static size_t xfer_bytes(unsigned c, unsigned cap)
{
	return ((size_t)cap * hak_classes[c].batch * sizeof(void *) + PAGE -
		1) & ~(size_t)(PAGE - 1);
}

/* The other metadata runs: the per-CPU areas, the slab map (the region
 * provider declares its span, so hak_init allocates one) and the transfer
 * caches' slots (allocated on a class's first use, never freed). Their
 * bytes in *bytes. */
static unsigned fixed_meta(struct range *out, size_t *bytes)
{
	unsigned i, c, l;

	for (i = 0; i < NCPUS; i++)
		out[i] = (struct range){ (uintptr_t)hak_heap.pcpu[i],
					 (uintptr_t)hak_heap.pcpu[i] +
						 pcpu_bytes };
	out[i++] = (struct range){ (uintptr_t)hak_heap.sm,
				   (uintptr_t)hak_heap.sm + slabmap_bytes };
	*bytes = NCPUS * pcpu_bytes + slabmap_bytes;
	for (c = 0; c < HAK_NCLASSES; c++)
		for (l = 0; l < HAK_LANES; l++) {
			const struct hak_transfer *x = &hak_xfer[c][l];
			uintptr_t s = (uintptr_t)x->slots;

			if (!s)
				continue;
			out[i++] = (struct range){
				s, s + xfer_bytes(c, x->cap) };
			*bytes += xfer_bytes(c, x->cap);
		}
	/* The heap and cache objects' chunks (type-stable, never
	 * returned). */
	{
		uintptr_t lo[8];
		size_t len[8];
		unsigned k, n = hak_stable_chunks(lo, len, 8);

		REQUIRE(n <= 8, "%u heap/cache object chunks", n);
		for (k = 0; k < n; k++)
			out[i++] = (struct range){ lo[k], lo[k] + len[k] };
		for (k = 0; k < n; k++)
			*bytes += len[k];
	}
	/* The large-run records' pages (type-stable, never returned). */
	{
		uintptr_t pages[8];
		unsigned k, n = hak_large_run_pages(pages, 8);

		REQUIRE(n <= 8, "%u large-run record pages", n);
		for (k = 0; k < n; k++)
			out[i++] = (struct range){ pages[k], pages[k] + PAGE };
		*bytes += (size_t)n * PAGE;
	}
	return i;
}

/* The page-map nodes into out[] (up to max); returns how many exist. */
static unsigned count_nodes(struct range *out, unsigned max)
{
	unsigned n = 0;
	size_t i, j;

	for (i = 0; i < sizeof(hak_pagemap_root) / sizeof(void *); i++) {
		uintptr_t **mid = hak_pagemap_root[i];

		if (!mid)
			continue;
		if (n < max)
			out[n] = (struct range){ (uintptr_t)mid,
						 (uintptr_t)mid + NODE_BYTES };
		n++;
		for (j = 0; j < HAK_PM_FANOUT; j++) {
			if (!mid[j])
				continue;
			if (n < max)
				out[n] = (struct range){ (uintptr_t)mid[j],
							 (uintptr_t)mid[j] +
								 NODE_BYTES };
			n++;
		}
	}
	return n;
}

static void refresh_meta(void)
{
	unsigned n = count_nodes(meta_now, MAX_NODES);
	size_t fixed;

	REQUIRE(n <= MAX_NODES, "%u page-map nodes",
		n);
	nmeta_now = n + fixed_meta(meta_now + n, &fixed);
}

NOCOV static int overlaps_meta(uintptr_t p, size_t u)
{
	unsigned i;

	for (i = 0; i < nmeta_now; i++)
		if (p + u > meta_now[i].lo && meta_now[i].hi > p)
			return 1;
	return 0;
}

/* ---- the shadow ----------------------------------------------------- */

static uint64_t next_tag(void)
{
	uint64_t x = ++tag_ctr * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

/* The tier a request must land in (docs: classes up to 32 KiB, aligned to
 * their largest power-of-two divisor up to 4 KiB; Tiny up to 1 KiB). */
static int tier_for(size_t size, size_t align)
{
	size_t need = size > align ? size : align;

	if (size > HAK_POOL_MAX || align > 4096)
		return LARGE;
	return need <= HAK_TINY_MAX ? TINY : POOL;
}

/* What the page map says: LARGE, TINY/POOL by the slab's size, -1 none. */
static int tier_in_pagemap(const void *p)
{
	uintptr_t e = hak_pagemap_get((uintptr_t)p);

	if ((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_LARGE)
		return LARGE;
	if ((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB) {
		struct hak_slab *s = (struct hak_slab *)(e - HAK_PM_TAG_SLAB);

		return s->size <= HAK_TINY_MAX ? TINY : POOL;
	}
	return -1;
}

/*
 * The report a freed block's pointer must now draw. A large run went back
 * to the provider: hakmem no longer knows it (invalid free). A slab block
 * is a double free while its slab is carved; if its slab became empty and
 * went back to the superslab pool, the pointer is hakmem's no more.
 */
static enum hak_event stale_event(const struct blk *b)
{
	uintptr_t e = hak_pagemap_get((uintptr_t)b->p);

	if (b->tier != LARGE && (e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB) {
		struct hak_slab *s = (struct hak_slab *)(e - HAK_PM_TAG_SLAB);

		if ((uintptr_t)b->p - s->start < s->span)
			return HAK_EV_DOUBLE_FREE;
	}
	return HAK_EV_INVALID_FREE;
}

static void remove_at(unsigned i)
{
	live[i] = live[--nlive];
}

/*
 * Can an allocation of size bytes aligned to align fail for lack of
 * memory? Count 1 MiB units ("megs") of the region: the metadata holds the
 * first one plus at most 5 page-map nodes (32 KiB each, wherever first fit
 * put them); after the trim that precedes every out-of-memory report each
 * live block pins at most 3 megs (a superslab, or a run of at most
 * BIG_LIMIT bytes). With at most 2 such live blocks, 32 megs minus at most
 * 12 touched leaves at least 20 free megs in at most 9 runs, so some run
 * of at least 3 free megs exists, and a request of at most BIG_LIMIT
 * aligned to at most 64 KiB (or a new superslab) fits: it must succeed.
 */
static int oom_possible(size_t size, size_t align)
{
	unsigned i;

	if (size > BIG_LIMIT || align > 65536 || nlive > 2)
		return 1;
	for (i = 0; i < nlive; i++)
		if (live[i].usable > BIG_LIMIT)
			return 1;
	return 0;
}

/* The first live block that overlaps [p, p + u), or nlive. */
NOCOV static unsigned overlapping(const unsigned char *p, size_t u)
{
	unsigned i;

	for (i = 0; i < nlive; i++)
		if ((uintptr_t)p + u > (uintptr_t)live[i].p &&
		    (uintptr_t)live[i].p + live[i].usable > (uintptr_t)p)
			break;
	return i;
}

/*
 * A new block from hakmem (allocation or realloc): check it and add it to
 * the shadow. kind: 0 malloc-like (tight rounding bound), 1 aligned, 2 kept
 * in place by realloc (tier given by the caller, no alloc counted).
 */
static void add_block(unsigned char *p, size_t req, size_t align, int tier,
		      int kind, int zeroed)
{
	struct blk *b;
	unsigned before = rep.total, i;
	size_t u, nat;
	int pm;

	REQUIRE(nlive < MAX_LIVE, "shadow full");
	REQUIRE((uintptr_t)p >= region_lo && (uintptr_t)p < region_hi,
		"block %p outside the region [%#lx, %#lx)", (void *)p,
		(unsigned long)region_lo, (unsigned long)region_hi);
	u = hak_usable_size(p);
	expect_none(before);
	REQUIRE(u >= req && u >= HAK_MIN_OBJECT, "usable %zu < request %zu", u,
		req);
	REQUIRE((uintptr_t)p + u <= region_hi, "block %p + %zu past the region",
		(void *)p, u);
	/* 16-aligned, but a request of at most 8 bytes at most 8-aligned,
	 * which the 8-byte class may serve. */
	REQUIRE(((uintptr_t)p &
		 ((req <= 8 && align <= 8 ? 8 : HAK_MIN_ALIGN) - 1)) == 0,
		"%p not aligned for %zu bytes", (void *)p, req);
	REQUIRE(align <= 1 || ((uintptr_t)p & (align - 1)) == 0,
		"%p not aligned to %zu", (void *)p, align);
	pm = tier_in_pagemap(p);
	REQUIRE(pm == tier, "request %zu align %zu: tier %d, page map says %d",
		req, align, tier, pm);
	if (tier == LARGE) {
		REQUIRE(((uintptr_t)p & (PAGE - 1)) == 0 && (u & (PAGE - 1)) == 0,
			"large run %p usable %zu not page-granular", (void *)p, u);
		/* A run from the large-run cache may hold up to a quarter
		 * more pages than the request's n (mm/large_cache.c). */
		REQUIRE(kind == 2 ||
				u <= (((req ? req : 1) + PAGE - 1) / PAGE +
				      ((req ? req : 1) + PAGE - 1) / PAGE / 4) *
					     PAGE,
			"large usable %zu for %zu", u, req);
	} else {
		/* Natural alignment of the class, up to 4 KiB. */
		nat = u & -u;
		if (nat > 4096)
			nat = 4096;
		REQUIRE(((uintptr_t)p & (nat - 1)) == 0,
			"%p (class %zu) not aligned to %zu", (void *)p, u, nat);
		REQUIRE(u <= HAK_POOL_MAX, "slab usable %zu", u);
		if (kind == 0)
			REQUIRE(u <= (req ? req : 1) + (req / 4 > 15 ? req / 4 : 15),
				"class %zu too loose for %zu", u, req);
	}
	i = overlapping(p, u);
	REQUIRE(i == nlive, "new block [%p, +%zu) overlaps live [%p, +%zu)",
		(void *)p, u, (void *)live[i].p, live[i].usable);
	REQUIRE(!overlaps_meta((uintptr_t)p, u),
		"block [%p, +%zu) overlaps a per-CPU area or page-map node",
		(void *)p, u);
	REQUIRE(tier == LARGE ||
			((uintptr_t)p & (HAK_SUPERSLAB_SIZE - 1)) >= HAK_SS_HEADER_SIZE,
		"slab block %p inside its superslab's header", (void *)p);
	if (zeroed)
		verify_zero(p, req);
	b = &live[nlive++];
	b->p = p;
	b->req = req;
	b->usable = u;
	b->tag = next_tag();
	b->tier = tier;
	fill(p, u, b->tag);
	if (kind != 2)
		n_allocs[tier]++;
}

/* Result of an allocation call: a block, or NULL with exactly one report
 * (out of memory, unless overflow says which). */
static void took(void *p, unsigned before, size_t req, size_t align, int tier,
		 int kind, int zeroed, enum hak_event fail_ev)
{
	if (!p) {
		expect_one(before, fail_ev, NULL);
		if (fail_ev == HAK_EV_OUT_OF_MEMORY)
			REQUIRE(oom_possible(req, align),
				"out of memory for %zu (align %zu) with %u small live blocks",
				req, align, nlive);
		return;
	}
	REQUIRE(fail_ev != HAK_EV_SIZE_OVERFLOW,
		"size %zu (align %zu) must overflow, got %p", req, align, p);
	expect_none(before);
	add_block(p, req, align, tier, kind, zeroed);
}

static void free_at(unsigned i)
{
	struct blk b = live[i];
	unsigned before = rep.total;

	verify_block(&b);
	remove_at(i);
	hak_free(b.p);
	expect_none(before);
	n_frees[b.tier]++;
}

static unsigned pick(void)
{
	return g8() % nlive;
}

/* ---- whole-heap checks ---------------------------------------------- */

static void check_stats(int after_trim)
{
	struct hak_stats st;
	uint64_t objs[HAK_TIER__COUNT] = { 0 }, bytes[HAK_TIER__COUNT] = { 0 };
	uintptr_t ss[MAX_LIVE];
	unsigned i, j, t, nss = 0;

	hak_stats(&st);
	for (i = 0; i < nlive; i++) {
		objs[live[i].tier]++;
		bytes[live[i].tier] += live[i].usable;
		if (live[i].tier != LARGE) {
			uintptr_t s = (uintptr_t)live[i].p &
				      ~(HAK_SUPERSLAB_SIZE - 1);

			for (j = 0; j < nss && ss[j] != s; j++)
				;
			if (j == nss)
				ss[nss++] = s;
		}
	}
	for (t = 0; t < HAK_TIER__COUNT; t++) {
		REQUIRE(st.tier[t].objects_in_use == objs[t] &&
				st.tier[t].bytes_in_use == bytes[t],
			"tier %u: stats %llu objects %llu bytes, shadow %llu / %llu",
			t, (unsigned long long)st.tier[t].objects_in_use,
			(unsigned long long)st.tier[t].bytes_in_use,
			(unsigned long long)objs[t], (unsigned long long)bytes[t]);
		REQUIRE(st.tier[t].allocs - st0.tier[t].allocs == n_allocs[t] &&
				st.tier[t].frees - st0.tier[t].frees == n_frees[t],
			"tier %u: stats +%llu allocs +%llu frees, shadow %llu / %llu",
			t, (unsigned long long)(st.tier[t].allocs - st0.tier[t].allocs),
			(unsigned long long)(st.tier[t].frees - st0.tier[t].frees),
			(unsigned long long)n_allocs[t], (unsigned long long)n_frees[t]);
	}
	REQUIRE(st.bytes_in_use == bytes[0] + bytes[1] + bytes[2], "bytes_in_use");
	for (t = 1; t < HAK_EV__COUNT; t++)
		REQUIRE(st.events[t] - st0.events[t] == rep.count[t],
			"event %s: stats +%llu, hook saw %u", hak_event_name(t),
			(unsigned long long)(st.events[t] - st0.events[t]),
			rep.count[t]);
	REQUIRE(rep.count[HAK_EV__COUNT] == 0 && rep.count[0] == 0,
		"report of an unknown kind");
	REQUIRE(st.provider_held == st.provider_taken - st.provider_returned &&
			st.provider_held <= REGION_SIZE &&
			st.provider_peak >= st.provider_held,
		"provider held %llu", (unsigned long long)st.provider_held);
	REQUIRE(st.provider_held == st.meta_bytes +
					   st.superslabs * HAK_SUPERSLAB_SIZE +
					   st.tier[LARGE].bytes_in_use +
					   LARGE_CACHED(st),
		"provider holds %llu = meta %llu + %llu superslabs + large %llu"
		" + cached large %llu?",
		(unsigned long long)st.provider_held,
		(unsigned long long)st.meta_bytes,
		(unsigned long long)st.superslabs,
		(unsigned long long)st.tier[LARGE].bytes_in_use,
		(unsigned long long)LARGE_CACHED(st));
	REQUIRE(st.ncpus == NCPUS && !strcmp(st.fast_path, "trylock"),
		"ncpus %u fast path %s", st.ncpus, st.fast_path);
	if (after_trim) {
		REQUIRE(st.cached_objects == 0 && LARGE_CACHED(st) == 0,
			"%llu objects, %llu large bytes cached after trim",
			(unsigned long long)st.cached_objects,
			(unsigned long long)LARGE_CACHED(st));
		REQUIRE(st.superslabs == nss,
			"%llu superslabs after trim, live blocks use %u",
			(unsigned long long)st.superslabs, nss);
	}
}

static void check_heap(int after_trim)
{
	unsigned before = rep.total;
	int bad = hak_check();

	REQUIRE(bad == 0, "hak_check found %d violations", bad);
	expect_none(before);
	check_stats(after_trim);
}

/*
 * The region provider's own books. After the final trim only metadata is
 * held: the per-CPU areas (the first runs of the region, from hak_init)
 * and the page-map nodes (32 KiB each, wherever first fit put them). Fill
 * the region with 1 MiB runs: first fit must place exactly
 * floor(gap / 1 MiB) of them in every gap between metadata runs, so pages
 * the region lost (or handed out twice) show here even when hakmem's own
 * accounting agrees with itself. A probe run may need a new page-map node
 * (first use of a 16 MiB window); then the count is only bounded.
 */
static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void probe_region(void)
{
	struct range meta[MAX_META];
	struct hak_stats st;
	void *runs[REGION_SIZE / MIB];
	unsigned nnodes, nmeta, k, n = 0, i, before;
	size_t fixed;
	uintptr_t at;

	hak_stats(&st);
	nnodes = count_nodes(meta, MAX_NODES);
	REQUIRE(nnodes <= MAX_NODES,
		"%u page-map nodes", nnodes);
	nmeta = nnodes + fixed_meta(meta + nnodes, &fixed);
	REQUIRE(st.meta_bytes == nnodes * NODE_BYTES + fixed,
		"meta %llu: %u nodes and %u per-CPU areas of %zu?",
		(unsigned long long)st.meta_bytes, nnodes, NCPUS, pcpu_bytes);
	qsort(meta, nmeta, sizeof(meta[0]), range_cmp);
	/* The first per-CPU area was the region's first run. */
	REQUIRE(meta[0].lo == (uintptr_t)hak_heap.pcpu[0] &&
			meta[0].lo - region_lo <= 65536,
		"first metadata run at +%#lx",
		(unsigned long)(meta[0].lo - region_lo));
	for (i = 0, at = meta[0].lo; i < nmeta; i++) {
		REQUIRE(meta[i].lo >= at && meta[i].hi <= region_hi,
			"metadata runs overlap or leave the region");
		n += (unsigned)((meta[i].lo - at) / MIB);
		at = meta[i].hi;
	}
	n += (unsigned)((region_hi - at) / MIB);

	for (k = 0; k <= n; k++) {
		before = rep.total;
		runs[k] = hak_malloc(MIB);
		if (!runs[k]) {
			expect_one(before, HAK_EV_OUT_OF_MEMORY, NULL);
			break;
		}
		expect_none(before);
		for (i = 0; i < nmeta; i++)
			REQUIRE((uintptr_t)runs[k] + MIB <= meta[i].lo ||
					meta[i].hi <= (uintptr_t)runs[k],
				"probe run %p overlaps metadata", runs[k]);
	}
	if (trace)
		fprintf(stderr, "probe: %u runs of 1 MiB, expected %u (%u nodes)\n",
			k, n, count_nodes(meta, 0));
	if (count_nodes(meta, 0) == nnodes)
		REQUIRE(k == n, "the region fits %u runs of 1 MiB, expected %u",
			k, n);
	else
		REQUIRE(k + 2 >= n && k <= n, "the region fits %u runs of 1 MiB "
			"(new page-map nodes), expected about %u", k, n);
	before = rep.total;
	while (k)
		hak_free(runs[--k]);
	hak_trim();
	expect_none(before);
	hak_stats(&st);
	REQUIRE(st.provider_held == st.meta_bytes, "probe runs not returned");
}

/* ---- operations ----------------------------------------------------- */

static void op_malloc(void)
{
	size_t n = get_size();
	unsigned before = rep.total;
	void *p;

	if (nlive == MAX_LIVE)
		return;
	p = hak_malloc(n);
	took(p, before, n, 0, tier_for(n, 0), 0, 0, HAK_EV_OUT_OF_MEMORY);
}

static void op_calloc(void)
{
	size_t nm = g8() % 17, sz = get_size(), n;
	unsigned before = rep.total;
	void *p;

	if (nlive == MAX_LIVE)
		return;
	sz = nm ? sz / nm : sz;
	n = nm * sz;
	p = hak_calloc(nm, sz);
	took(p, before, n, 0, tier_for(n, 0), 0, 1, HAK_EV_OUT_OF_MEMORY);
}

static void op_aligned(void)
{
	size_t a = (size_t)1 << (g8() % 21), n = get_size();
	unsigned before = rep.total;
	void *p;

	if (nlive == MAX_LIVE)
		return;
	p = hak_aligned_alloc(a, n);
	took(p, before, n, a, a <= HAK_MIN_ALIGN ? tier_for(n, 0) : tier_for(n, a),
	     a <= HAK_MIN_ALIGN ? 0 : 1, 0, HAK_EV_OUT_OF_MEMORY);
}

static void op_free(void)
{
	if (nlive)
		free_at(pick());
}

/* realloc of a live block to a new size, with the shadow's bookkeeping. */
static void do_realloc(unsigned i, size_t n)
{
	struct blk b = live[i];
	unsigned before = rep.total;
	size_t keep = n < b.req ? n : b.req;
	unsigned char *q;
	enum hak_event fail_ev;

	verify_block(&b);
	/* Decided before the call: the old block is live during it. */
	fail_ev = n > ((size_t)1 << 47) ? HAK_EV_SIZE_OVERFLOW
					: HAK_EV_OUT_OF_MEMORY;
	if (fail_ev == HAK_EV_OUT_OF_MEMORY && !oom_possible(n, 0))
		fail_ev = 0;
	q = hak_realloc(b.p, n);
	if (!n) {
		REQUIRE(!q, "realloc(p, 0) returned %p", (void *)q);
		expect_none(before);
		remove_at(i);
		n_frees[b.tier]++;
		return;
	}
	if (!q) {
		REQUIRE(fail_ev, "realloc %zu -> %zu failed, cannot be out of memory",
			b.req, n);
		expect_one(before, fail_ev, NULL);
		REQUIRE(rep.last_size == n, "report size %zu for %zu",
			rep.last_size, n);
		verify_block(&b); /* untouched */
		return;
	}
	REQUIRE(fail_ev != HAK_EV_SIZE_OVERFLOW, "realloc to %zu succeeded", n);
	expect_none(before);
	verify(&b, q, keep, keep == b.usable);
	remove_at(i);
	if (q == b.p) {
		add_block(q, n, 0, b.tier, 2, 0);
		REQUIRE(live[nlive - 1].usable == b.usable,
			"in-place realloc changed usable %zu -> %zu", b.usable,
			live[nlive - 1].usable);
	} else {
		add_block(q, n, 0, tier_for(n, 0), 0, 0);
		n_frees[b.tier]++;
	}
}

static void op_realloc(void)
{
	unsigned mode = g8() % 8, i;
	size_t n, req;

	if (!nlive || mode == 7) {
		/* realloc(NULL, n) is malloc(n). */
		unsigned before = rep.total;
		void *p;

		n = get_size();
		if (nlive == MAX_LIVE)
			return;
		p = hak_realloc(NULL, n);
		took(p, before, n, 0, tier_for(n, 0), 0, 0, HAK_EV_OUT_OF_MEMORY);
		return;
	}
	i = pick();
	req = live[i].req;
	switch (mode) {
	case 0:
		n = get_size();
		break;
	case 1: /* grow */
		n = req * 2 + g16();
		break;
	case 2: /* shrink */
		n = req ? req - g16() % req : 0;
		break;
	case 3: /* to 0: a free */
		n = 0;
		break;
	case 4: /* same size */
		n = req;
		break;
	case 5: /* just under / at half the usable size */
		n = live[i].usable / 2 - (g8() & 1);
		break;
	default: /* the whole usable size, or one more */
		n = live[i].usable + (g8() & 1);
		break;
	}
	do_realloc(i, n);
}

/* Free a block, then use the stale pointer again before anything is
 * allocated: it cannot have been handed out again. */
static void op_free_twice(void)
{
	struct blk b;
	unsigned i, k, reps, before;
	enum hak_event ev;
	size_t n;

	if (!nlive)
		return;
	i = pick();
	b = live[i];
	free_at(i);
	switch (g8() % 5) {
	case 1:
		hak_hosted_test_cpu = (int)(g8() % NCPUS);
		break;
	case 2:
		before = rep.total;
		hak_trim();
		expect_none(before);
		break;
	case 3:
		before = rep.total;
		hak_cpu_offline(g8() % NCPUS);
		expect_none(before);
		break;
	case 4:
		check_heap(0);
		break;
	default:
		break;
	}
	reps = 1 + g8() % 3;
	for (k = 0; k < reps; k++) {
		ev = stale_event(&b);
		before = rep.total;
		switch (g8() % 3) {
		case 0:
			hak_free(b.p);
			expect_one(before, ev, b.p);
			break;
		case 1:
			n = get_size();
			REQUIRE(hak_realloc(b.p, n) == NULL, "realloc of freed %p",
				(void *)b.p);
			expect_one(before, ev, b.p);
			REQUIRE(rep.last_size == n, "report size %zu", rep.last_size);
			break;
		default:
			REQUIRE(hak_usable_size(b.p) == 0, "usable of freed %p",
				(void *)b.p);
			expect_one(before, ev, b.p);
			break;
		}
	}
}

/* Call free / realloc / usable_size on a bad pointer; one report of ev. */
static void bad_call(void *p, enum hak_event ev)
{
	unsigned before = rep.total;
	size_t n;

	switch (g8() % 3) {
	case 0:
		hak_free(p);
		expect_one(before, ev, p);
		break;
	case 1:
		n = get_size();
		REQUIRE(hak_realloc(p, n) == NULL, "realloc of bad %p", p);
		expect_one(before, ev, p);
		REQUIRE(rep.last_size == n, "report size %zu", rep.last_size);
		break;
	default:
		REQUIRE(hak_usable_size(p) == 0, "usable of bad %p", p);
		expect_one(before, ev, p);
		break;
	}
}

static void op_interior(void)
{
	struct blk *b;
	size_t o, u;
	enum hak_event ev;

	if (!nlive)
		return;
	b = &live[pick()];
	u = b->usable;
	switch (g8() % 8) {
	case 0:
		o = 1;
		break;
	case 1:
		o = 8;
		break;
	case 2:
		o = 16;
		break;
	case 3:
		o = u / 2;
		break;
	case 4:
		o = u - 1;
		break;
	case 5:
		o = u - 16;
		break;
	case 6:
		o = PAGE + (g16() & ~15u);
		break;
	default:
		o = g24();
		break;
	}
	if (!o || o >= u)
		o = 1 + o % (u - 1);
	/* Past a large run's first page the page map says nothing. */
	ev = b->tier == LARGE && o >= PAGE ? HAK_EV_INVALID_FREE
					   : HAK_EV_INTERIOR_FREE;
	bad_call(b->p + o, ev);
	verify_block(b);
}

static void op_foreign(void)
{
	int on_stack[8];
	void *p;
	unsigned k = g8() % 12, i;

	switch (k) {
	case 0:
		p = &on_stack[1 + (g8() & 3)];
		break;
	case 1:
		p = (char *)&global_array[g8() % 16] + (g8() & 1);
		break;
	case 2:
		p = libc_block;
		break;
	case 3:
		p = (void *)(uintptr_t)0x1000;
		break;
	case 4:
		p = (void *)(uintptr_t)0xdead00000000ULL;
		break;
	case 5:
		p = (void *)(uintptr_t)0xffff800000001000ULL;
		break;
	case 6:
		p = (void *)(uintptr_t)-16;
		break;
	case 7: /* the region provider's own bookkeeping */
		p = (void *)(region_lo + 16 * (g8() & 15));
		break;
	case 8: /* a per-CPU area */
		p = hak_heap.pcpu[g8() % NCPUS];
		break;
	case 9: /* the header of a live slab block's superslab */
		for (i = 0; i < nlive && live[i].tier == LARGE; i++)
			;
		if (i == nlive)
			return;
		p = (void *)(((uintptr_t)live[i].p & ~(HAK_SUPERSLAB_SIZE - 1)) +
			     16 * (g8() & 63));
		break;
	case 10: /* the last 16 bytes of the region, if no block holds them */
		p = (void *)(region_hi - 16);
		for (i = 0; i < nlive; i++)
			if ((uintptr_t)live[i].p + live[i].usable == region_hi)
				return;
		/* A superslab there maps it: then it may be any block. */
		if (hak_pagemap_get((uintptr_t)p))
			return;
		break;
	default:
		p = (void *)(uintptr_t)(((uint64_t)g16() << 48) | 0x1234560ULL);
		if (!((uintptr_t)p >> 48))
			return;
		break;
	}
	bad_call(p, HAK_EV_INVALID_FREE);
}

static void op_usable(void)
{
	struct blk *b;
	unsigned before = rep.total;
	size_t u;

	if (!nlive)
		return;
	b = &live[pick()];
	u = hak_usable_size(b->p);
	expect_none(before);
	REQUIRE(u == b->usable, "usable of %p changed %zu -> %zu", (void *)b->p,
		b->usable, u);
	verify_block(b);
}

static void op_trim(void)
{
	unsigned before = rep.total;

	hak_trim();
	expect_none(before);
	check_stats(1);
}

static void op_offline(void)
{
	unsigned k = g8() % 6, c, before = rep.total;
	struct hak_stats st;

	if (k == 5) {
		uint64_t xfer = 0;

		for (c = 0; c < NCPUS; c++)
			hak_cpu_offline(c);
		expect_none(before);
		hak_stats(&st);
		/* What is left cached is the transfer caches' (no CPU's). */
		for (c = 0; c < HAK_NCLASSES; c++)
			xfer += hak_transfer_count(&hak_heap, c);
		REQUIRE(st.cached_objects == xfer,
			"%llu objects cached with every CPU offline, %llu of "
			"them in transfer caches",
			(unsigned long long)st.cached_objects,
			(unsigned long long)xfer);
		return;
	}
	hak_cpu_offline(k);
	if (k < NCPUS)
		expect_none(before);
	else /* not a CPU: reported, and nothing happens */
		expect_one(before, HAK_EV_MISUSE, NULL);
}

static void op_cpu(void)
{
	unsigned k = g8() % 9;

	hak_hosted_test_cpu = k == 8 ? -1 : (int)k;
}

static void op_check(void)
{
	unsigned i;

	check_heap(0);
	for (i = 0; i < nlive; i++)
		verify_block(&live[i]);
}

/* A block of several MiB: the region runs out after a few. */
static void op_hog(void)
{
	size_t n = (2 + g8() % 23) * MIB + g16();
	unsigned before = rep.total;
	void *p;

	if (nlive == MAX_LIVE)
		return;
	p = hak_malloc(n);
	took(p, before, n, 0, LARGE, 0, 0, HAK_EV_OUT_OF_MEMORY);
}

/* Calls that must fail or are degenerate. */
static void op_odd(void)
{
	static const size_t bad_align[] = { 0, 3, 6, 12, 24, 48, 1000, 4097,
					    (size_t)-1, ((size_t)1 << 63) + 1 };
	static const size_t overflow[] = { (size_t)-1, (size_t)-4095,
					   ((size_t)1 << 47) + 1,
					   (size_t)1 << 48, (size_t)1 << 63 };
	static const size_t too_big[] = { (size_t)1 << 47, (size_t)1 << 40,
					  (size_t)1 << 30, 33 * MIB };
	unsigned before = rep.total, k = g8() % 9;
	size_t a, n, m;
	void *p;

	switch (k) {
	case 0:
		a = bad_align[g8() % 10];
		n = get_size();
		p = hak_aligned_alloc(a, n);
		REQUIRE(!p, "aligned_alloc(%zu) gave %p", a, p);
		expect_one(before, HAK_EV_BAD_ALIGNMENT, NULL);
		REQUIRE(rep.last_size == a, "report size %zu", rep.last_size);
		break;
	case 1: /* calloc whose product overflows */
		m = 2 + g16();
		n = (size_t)-1 / m + 1 + g8();
		p = g8() & 1 ? hak_calloc(m, n) : hak_calloc(n, m);
		REQUIRE(!p, "calloc overflow gave %p", p);
		expect_one(before, HAK_EV_SIZE_OVERFLOW, NULL);
		break;
	case 2:
		n = overflow[g8() % 5];
		p = g8() & 1 ? hak_malloc(n) : hak_aligned_alloc(64, n);
		took(p, before, n, 64, LARGE, 1, 0, HAK_EV_SIZE_OVERFLOW);
		break;
	case 3:
		n = too_big[g8() % 4];
		p = hak_malloc(n);
		REQUIRE(!p, "malloc(%zu) gave %p", n, p);
		expect_one(before, HAK_EV_OUT_OF_MEMORY, NULL);
		break;
	case 4: /* realloc to a size that cannot be had */
		if (!nlive)
			return;
		do_realloc(pick(), g8() & 1 ? overflow[g8() % 5] : too_big[g8() % 4]);
		break;
	case 5: /* huge alignments, up to 2^63: a run, or out of memory;
		 * beyond the page map's address space a bad alignment */
		a = (size_t)1 << (21 + g8() % 43);
		n = get_size();
		if (nlive == MAX_LIVE)
			return;
		p = hak_aligned_alloc(a, n);
		took(p, before, n, a, LARGE, 1, 0,
		     a > ((size_t)1 << (HAK_PM_ADDR_BITS - 1))
			     ? HAK_EV_BAD_ALIGNMENT
			     : HAK_EV_OUT_OF_MEMORY);
		break;
	case 6: /* zero-sized: a unique minimum block */
		if (nlive == MAX_LIVE)
			return;
		switch (g8() % 4) {
		case 0:
			p = hak_malloc(0);
			break;
		case 1:
			p = hak_calloc(0, g16());
			break;
		case 2:
			p = hak_calloc(g16(), 0);
			break;
		default:
			p = hak_aligned_alloc(1, 0);
			break;
		}
		took(p, before, 0, 0, TINY, 0, 1, HAK_EV_OUT_OF_MEMORY);
		break;
	case 7: /* NULL is no block, and no error */
		hak_free(NULL);
		REQUIRE(hak_usable_size(NULL) == 0, "usable_size(NULL)");
		expect_none(before);
		break;
	default: /* calloc of a size that cannot be had, without overflow */
		n = too_big[g8() % 4];
		p = hak_calloc(n / 8, 8);
		REQUIRE(!p, "calloc(%zu) gave %p", n, p);
		expect_one(before, HAK_EV_OUT_OF_MEMORY, NULL);
		break;
	}
}

static void op_burst_alloc(void)
{
	unsigned n = 1 + g8() % 64, k, before;
	size_t sz = get_size();
	void *p;

	if (sz > 65536)
		sz %= 65537;
	for (k = 0; k < n && nlive < MAX_LIVE; k++) {
		before = rep.total;
		p = hak_malloc(sz);
		took(p, before, sz, 0, tier_for(sz, 0), 0, 0, HAK_EV_OUT_OF_MEMORY);
		if (!p)
			break;
	}
}

static void op_burst_free(void)
{
	unsigned n = 1 + g8() % 64, mode = g8() % 3, k;

	for (k = 0; k < n && nlive; k++) {
		if (mode == 0)
			free_at(nlive - 1);
		else if (mode == 1)
			free_at(0);
		else
			free_at(nlive > 1 ? nlive - 2 : 0);
	}
}

/* ---- created heaps and object caches ------------------------------
 *
 * Up to VM_HEAPS heaps, each over its own 8 MiB sub-region of a second
 * mapping through a provider that counts what it holds, with a random
 * limit; each may have an object cache of a random size and alignment.
 * Their blocks have a shadow of their own (hblk). Their reports go to a
 * hook of their own (hrep), since a created heap counts its events
 * itself, not in hak_stats; bad handles are reported as the default
 * heap's (rep). Checked: blocks inside their heap's region and apart
 * from each other, patterns kept, exactly the reports expected, a
 * refused destroy reports the leaks and changes nothing, a forced one
 * gives every byte back to the provider, and a stale pointer is then an
 * invalid free. Every input ends with every heap destroyed.
 */
#define VM_HEAPS 3
#define VM_SIZE (8 * MIB)
#define MAX_HBLK 512

struct vm_heap {
	struct hak_heap *h;
	struct hak_cache *c;
	size_t csize;
	uintptr_t lo;
	struct hak_page_provider region;
	long long held;
};

struct hblk {
	unsigned char *p;
	size_t n;
	unsigned vm, cached;
	uint64_t tag;
};

static struct vm_heap vms[VM_HEAPS];
static struct hblk hb[MAX_HBLK];
static unsigned nhb;
static uintptr_t vm_base;
static struct {
	unsigned count[HAK_EV__COUNT + 1], total;
	enum hak_event last_ev;
	const void *last_ptr;
} hrep;

static void on_heap_report(const struct hak_report *r, void *ctx)
{
	(void)ctx;
	hrep.count[(unsigned)r->event < HAK_EV__COUNT ? r->event
						       : HAK_EV__COUNT]++;
	hrep.total++;
	hrep.last_ev = r->event;
	hrep.last_ptr = r->ptr;
}

static void *vm_alloc(void *ctx, size_t bytes, size_t align)
{
	struct vm_heap *v = ctx;
	void *p = v->region.alloc(v->region.ctx, bytes, align);

	if (p)
		v->held += (long long)bytes;
	return p;
}

static void vm_release(void *ctx, void *p, size_t bytes)
{
	struct vm_heap *v = ctx;

	REQUIRE((uintptr_t)p >= v->lo && (uintptr_t)p + bytes <= v->lo + VM_SIZE,
		"release outside the heap's region");
	v->held -= (long long)bytes;
	v->region.release(v->region.ctx, p, bytes);
}

static NOCOV void hfill(const struct hblk *b)
{
	size_t i, k = b->n < 32 ? b->n : 32;

	for (i = 0; i < k; i++)
		b->p[i] = (unsigned char)(b->tag + i);
	for (i = 0; i < k; i++)
		b->p[b->n - 1 - i] = (unsigned char)(b->tag * 7 + i);
}

/* What hfill left at byte j of the first or last 32: the tail's value
 * where the two overlap (it is written second). */
static NOCOV unsigned char hexpect(const struct hblk *b, size_t j, size_t k)
{
	if (j >= b->n - k)
		return (unsigned char)(b->tag * 7 + (b->n - 1 - j));
	return (unsigned char)(b->tag + j);
}

static NOCOV void hverify(const struct hblk *b)
{
	size_t i, k = b->n < 32 ? b->n : 32;

	for (i = 0; i < k; i++)
		REQUIRE(b->p[i] == hexpect(b, i, k) &&
				b->p[b->n - 1 - i] ==
					hexpect(b, b->n - 1 - i, k),
			"heap block %p (%zu bytes, byte %zu) corrupted",
			(void *)b->p, b->n, i);
}

static void vm_create(unsigned i)
{
	static const size_t limits[4] = { 0, 2 * MIB, 4 * MIB, 6 * MIB };
	struct vm_heap *v = &vms[i];
	struct hak_heap_config cfg = { 0 };
	unsigned hb0 = hrep.total;

	memset(&v->region, 0, sizeof(v->region));
	v->lo = vm_base + i * VM_SIZE;
	REQUIRE(hak_region_provider((void *)v->lo, VM_SIZE, &v->region) == 0,
		"region provider");
	v->held = 0;
	cfg.name = "vm";
	cfg.provider.alloc = vm_alloc;
	cfg.provider.release = vm_release;
	cfg.provider.ctx = v;
	cfg.limit = limits[g8() & 3];
	cfg.report = on_heap_report;
	cfg.cache_bytes = (g8() & 1) ? 1024 : 0;
	v->h = hak_heap_create(&cfg);
	REQUIRE(v->h && hrep.total == hb0, "hak_heap_create");
	v->c = NULL;
}

static void hb_add(void *p, size_t n, unsigned vm, unsigned cached)
{
	struct vm_heap *v = &vms[vm];
	unsigned i;

	REQUIRE((uintptr_t)p >= v->lo && (uintptr_t)p + n <= v->lo + VM_SIZE,
		"block %p outside its heap's region", p);
	for (i = 0; i < nhb; i++)
		REQUIRE((uintptr_t)p + n <= (uintptr_t)hb[i].p ||
				(uintptr_t)hb[i].p + hb[i].n <= (uintptr_t)p,
			"heap blocks %p and %p overlap", p, (void *)hb[i].p);
	hb[nhb] = (struct hblk){ p, n, vm, cached, next_tag() };
	hfill(&hb[nhb]);
	nhb++;
}

static void hb_free(unsigned i)
{
	struct hblk b = hb[i];
	unsigned before = rep.total, hb0 = hrep.total;

	hverify(&b);
	hb[i] = hb[--nhb];
	if (b.cached && (g8() & 1))
		hak_cache_free(vms[b.vm].c, b.p);
	else
		hak_free(b.p);
	expect_none(before);
	REQUIRE(hrep.total == hb0, "report on a good heap free");
}

/* One allocation from a random heap (or its cache), created on demand. */
static void vm_op_alloc(void)
{
	unsigned vm = g8() % VM_HEAPS, hb0 = hrep.total, before = rep.total;
	struct vm_heap *v = &vms[vm];
	size_t n;
	void *p;
	int cached = g8() & 1;

	if (nhb == MAX_HBLK)
		return;
	if (!v->h)
		vm_create(vm);
	if (cached && !v->c) {
		v->csize = 1 + g16() % 3000;
		v->c = hak_cache_create(v->h, "obj", v->csize,
					(size_t)8 << (g8() % 7), 0, NULL, NULL);
		REQUIRE(v->c && rep.total == before, "hak_cache_create");
	}
	n = cached ? v->csize : get_size();
	if (n > 3 * MIB)
		n = 3 * MIB;
	p = cached ? hak_cache_alloc(v->c) : hak_heap_malloc(v->h, n);
	expect_none(before);
	if (!p) {
		/* The limit or the region: one report, naming the heap. */
		REQUIRE(hrep.total == hb0 + 1 &&
				hrep.last_ev == HAK_EV_OUT_OF_MEMORY,
			"NULL from a heap without one out-of-memory report");
		return;
	}
	REQUIRE(hrep.total == hb0, "report on a good heap alloc");
	hb_add(p, n ? n : 1, vm, (unsigned)cached);
}

static void vm_destroy(unsigned vm, int force)
{
	struct vm_heap *v = &vms[vm];
	unsigned i, live = 0, before = rep.total, hb0 = hrep.total;
	unsigned char *stale = NULL;
	int r;

	for (i = 0; i < nhb; i++)
		live += hb[i].vm == vm;
	r = hak_heap_destroy(v->h, force ? HAK_HEAP_DESTROY_FORCE : 0);
	expect_none(before);
	if (live && !force) {
		REQUIRE(r == -1, "destroy with %u live blocks", live);
		REQUIRE(hrep.total == hb0 + (live < 16 ? live : 16) + 1 &&
				hrep.last_ev == HAK_EV_LEAK,
			"%u live blocks: %u leak reports", live,
			hrep.total - hb0);
		REQUIRE(hak_heap_check(v->h) == 0, "heap after a refusal");
		return;
	}
	REQUIRE(r == 0 && hrep.total == hb0, "destroy");
	REQUIRE(v->held == 0, "heap gave back all but %lld bytes", v->held);
	for (i = 0; i < nhb;) {
		if (hb[i].vm != vm) {
			i++;
			continue;
		}
		stale = hb[i].p;
		hb[i] = hb[--nhb];
	}
	v->h = NULL;
	v->c = NULL;
	/* A block of the dead heap: its memory was given back. */
	if (stale) {
		hak_free(stale);
		expect_one(before, HAK_EV_INVALID_FREE, stale);
	}
	/* The handle is dead too. */
	before = rep.total;
}

static void op_heap(void)
{
	unsigned sub = g8() % 8, vm, i, before;

	switch (sub) {
	case 0: case 1: case 2:
		vm_op_alloc();
		break;
	case 3: case 4:
		if (nhb)
			hb_free(g16() % nhb);
		break;
	case 5: /* a block of one heap given to another's calls */
		if (!nhb)
			break;
		i = g16() % nhb;
		vm = (hb[i].vm + 1 + g8() % (VM_HEAPS - 1)) % VM_HEAPS;
		if (!vms[vm].h)
			break;
		before = rep.total;
		REQUIRE(!hak_heap_realloc(vms[vm].h, hb[i].p, 10),
			"realloc into another heap");
		expect_one(before, HAK_EV_MISUSE, hb[i].p);
		if (vms[vm].c) {
			before = rep.total;
			hak_cache_free(vms[vm].c, hb[i].p);
			expect_one(before, HAK_EV_MISUSE, hb[i].p);
		}
		hverify(&hb[i]);
		break;
	case 6: /* realloc within its heap */
		if (!nhb)
			break;
		i = g16() % nhb;
		if (hb[i].cached)
			break;
		{
			size_t n = get_size() % (2 * MIB) + 1;
			unsigned hb0 = hrep.total;
			unsigned char *p, first = hb[i].p[0];

			before = rep.total;
			hverify(&hb[i]);
			p = hak_realloc(hb[i].p, n);
			expect_none(before);
			if (!p) {
				REQUIRE(hrep.total == hb0 + 1,
					"failed realloc without a report");
				break;
			}
			REQUIRE(p[0] == first, "realloc lost the data");
			vm = hb[i].vm;
			hb[i] = hb[--nhb];
			hb_add(p, n, vm, 0);
		}
		break;
	case 7:
		vm = g8() % VM_HEAPS;
		if (vms[vm].h)
			vm_destroy(vm, g8() & 1);
		break;
	}
}

/* End of input: every heap block freed, every heap destroyed. */
static void heaps_end(void)
{
	unsigned vm;

	while (nhb)
		hb_free(nhb - 1);
	for (vm = 0; vm < VM_HEAPS; vm++)
		if (vms[vm].h)
			vm_destroy(vm, 0);
}

struct op {
	const char *name;
	void (*fn)(void);
};

/* 32 opcodes; allocation and free weighted up. */
static const struct op ops[32] = {
	{ "malloc", op_malloc },	  { "malloc", op_malloc },
	{ "malloc", op_malloc },	  { "heap", op_heap },
	{ "malloc", op_malloc },	  { "calloc", op_calloc },
	{ "calloc", op_calloc },	  { "realloc", op_realloc },
	{ "realloc", op_realloc },	  { "realloc", op_realloc },
	{ "aligned_alloc", op_aligned },  { "aligned_alloc", op_aligned },
	{ "free", op_free },		  { "free", op_free },
	{ "free", op_free },		  { "heap", op_heap },
	{ "free", op_free },		  { "double free", op_free_twice },
	{ "interior", op_interior },	  { "foreign", op_foreign },
	{ "usable_size", op_usable },	  { "trim", op_trim },
	{ "cpu_offline", op_offline },	  { "switch cpu", op_cpu },
	{ "switch cpu", op_cpu },	  { "check", op_check },
	{ "hog", op_hog },		  { "odd", op_odd },
	{ "burst alloc", op_burst_alloc }, { "burst alloc", op_burst_alloc },
	{ "burst free", op_burst_free },  { "burst free", op_burst_free },
};

/* ---- libFuzzer entry points ----------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hak_stats st;
	void *m;
	uintptr_t lo;

	(void)argc;
	(void)argv;
	m = mmap(NULL, REGION_SIZE + MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		perror("fuzz_heap: mmap");
		abort();
	}
	lo = ((uintptr_t)m + MIB - 1) & ~(MIB - 1);
	region_lo = lo;
	region_hi = lo + REGION_SIZE;
	if (hak_init_region((void *)lo, REGION_SIZE, NCPUS, on_report, NULL)) {
		fprintf(stderr, "fuzz_heap: hak_init_region failed\n");
		abort();
	}
	hak_stats(&st);
	/* No page-map node yet: the per-CPU areas and the slab map. */
	slabmap_bytes = ((hak_heap.sm_len >> HAK_SLAB_SHIFT) * sizeof(*hak_heap.sm) +
			 PAGE - 1) & ~(size_t)(PAGE - 1);
	if (!hak_heap.sm || !slabmap_bytes) {
		fprintf(stderr, "fuzz_heap: no slab map over the region\n");
		abort();
	}
	pcpu_bytes = (st.meta_bytes - slabmap_bytes) / NCPUS;
	if (!pcpu_bytes || (pcpu_bytes & (PAGE - 1))) {
		fprintf(stderr, "fuzz_heap: per-CPU areas of %zu bytes?\n",
			pcpu_bytes);
		abort();
	}
	libc_block = malloc(64);
	trace = getenv("FUZZ_HEAP_TRACE") != NULL;
	m = mmap(NULL, VM_HEAPS * VM_SIZE + MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		perror("fuzz_heap: mmap");
		abort();
	}
	vm_base = ((uintptr_t)m + MIB - 1) & ~(MIB - 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned before;

	in_data = data;
	in_len = size;
	in_pos = 0;
	nlive = 0;
	nhb = 0;
	memset(&rep, 0, sizeof(rep));
	memset(&hrep, 0, sizeof(hrep));
	memset(n_allocs, 0, sizeof(n_allocs));
	memset(n_frees, 0, sizeof(n_frees));
	hak_hosted_test_cpu = 0;
	hak_stats(&st0);
	opname = "start";
	opno = 0;
	check_stats(1);
	refresh_meta();

	while (in_pos < in_len && opno < MAX_OPS) {
		const struct op *o = &ops[g8() & 31];

		opno++;
		opname = o->name;
		o->fn();
		if (trace)
			fprintf(stderr, "op %u %s: %u live, %u reports (last %s)\n",
				opno, opname, nlive, rep.total,
				rep.total ? hak_event_name(rep.last_ev) : "-");
		if (opno % CHECK_EVERY == 0)
			check_heap(0);
	}

	opname = "final heaps";
	heaps_end();
	opname = "final free";
	while (nlive)
		free_at(nlive - 1);
	opname = "final trim";
	before = rep.total;
	hak_trim();
	expect_none(before);
	check_heap(1);
	hak_stats(&st0);
	REQUIRE(st0.bytes_in_use == 0 && st0.provider_held == st0.meta_bytes,
		"after freeing all: %llu bytes in use, provider holds %llu, meta %llu",
		(unsigned long long)st0.bytes_in_use,
		(unsigned long long)st0.provider_held,
		(unsigned long long)st0.meta_bytes);
	opname = "region probe";
	probe_region();
	hak_hosted_test_cpu = 0;
	return 0;
}
