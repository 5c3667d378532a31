// SPDX-License-Identifier: MIT
/*
 * test_exhaust - a page provider with a budget: once it says no, every
 * tier returns NULL (and reports out-of-memory), nothing leaks, the heap
 * stays consistent, allocation recovers as soon as memory is freed, and a
 * trim hands every page back. The provider keeps its own count, which must
 * agree with hakmem's accounting. The provider says it is lazy, but its
 * budget is below the per-CPU areas a lazy provider gets: hak_init falls
 * back to the small ones and succeeds.
 */
#include "check.h"
#include "../../mm/internal.h"

static struct report_log log;
static struct hak_page_provider mm;
static size_t budget, held, calls, refusals;

static void *budget_alloc(void *ctx, size_t bytes, size_t align)
{
	void *p;

	calls++;
	if (held + bytes > budget) {
		refusals++;
		return NULL;
	}
	p = mm.alloc(ctx, bytes, align);
	if (p)
		held += bytes;
	return p;
}

static void budget_release(void *ctx, void *p, size_t bytes)
{
	held -= bytes;
	mm.release(ctx, p, bytes);
}

#define MAXB 400000
static void *blocks[MAXB];

/* Allocate size-byte blocks until NULL; returns how many. */
static size_t fill_up(size_t size)
{
	size_t n = 0;
	int oom = log.count[HAK_EV_OUT_OF_MEMORY];

	while (n < MAXB) {
		void *p = hak_malloc(size);

		if (!p)
			break;
		memset(p, 0x77, size < 64 ? size : 64);
		blocks[n++] = p;
	}
	CHECK(n < MAXB, "budget never ran out for size %zu", size);
	CHECK(log.count[HAK_EV_OUT_OF_MEMORY] > oom, "no OOM report");
	CHECK(hak_check() == 0, "heap broken at OOM (size %zu)", size);
	/* Still out of memory, still consistent, for every tier. */
	CHECK(hak_malloc(size) == NULL, "allocation after OOM");
	return n;
}

static void free_all(size_t n)
{
	while (n)
		hak_free(blocks[--n]);
}

static void scenario(size_t size)
{
	struct hak_stats st;
	size_t n1, n2, i;

	n1 = fill_up(size);
	/* Free every other block: allocation works again at once. */
	for (i = 0; i < n1; i += 2) {
		hak_free(blocks[i]);
		blocks[i] = NULL;
	}
	for (i = 0; i < n1; i += 2) {
		blocks[i] = hak_malloc(size);
		CHECK(blocks[i], "no recovery after frees (size %zu, i %zu)", size, i);
	}
	free_all(n1);
	hak_trim();
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "leak");
	CHECK(st.provider_held == st.meta_bytes, "held %llu meta %llu",
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	CHECK(held == st.provider_held, "provider says %zu, hakmem %llu", held,
	      (unsigned long long)st.provider_held);
	/* Nothing was lost: the same budget holds at least as many again. */
	n2 = fill_up(size);
	CHECK(n2 >= n1, "size %zu: %zu blocks then %zu", size, n1, n2);
	free_all(n2);
	hak_trim();
	printf("size %7zu: %6zu blocks in the budget\n", size, n1);
}

int main(void)
{
	struct hak_config cfg = { 0 };
	static const size_t sizes[] = { 16, 64, 1000, 4096, 20000, 32768,
					40000, 300000, 3 << 20 };
	struct hak_stats st;
	unsigned i;

	mm = hak_hosted_mmap_provider();
	budget = 4 << 20;
	cfg.provider.alloc = budget_alloc;
	cfg.provider.release = budget_release;
	cfg.provider.ctx = mm.ctx;
	cfg.provider.lazy = 1;
	cfg.ncpus = 2;
	cfg.report = report_record;
	cfg.report_ctx = &log;
	log.quiet = 1;
	CHECK(hak_init(&cfg) == 0, "init");
	/* 4 MiB cannot hold two lazy areas (21 MiB each): the small ones. */
	CHECK(refusals > 0 && hak_heap.cpu_budget == HAK_CACHE_CPU_BYTES &&
	      hak_heap.heap_grow_budget == HAK_CACHE_HEAP_GROW_BYTES &&
	      hak_heap.shard[0].cap_max == hak_cache_grow_max(0, 0) &&
	      hak_heap.pcpu_bytes == hak_pcpu_area_bytes(&hak_heap) &&
	      held < (1u << 20),
	      "after the fallback: %zu refused, budget %llu, %u slots, "
	      "%zu bytes held", refusals,
	      (unsigned long long)hak_heap.cpu_budget,
	      hak_heap.shard[0].cap_max, held);
	CHECK(log.count[HAK_EV_OUT_OF_MEMORY] == 0,
	      "the fallback reported an out-of-memory");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		scenario(sizes[i]);
	/* A mix of tiers at once. */
	{
		size_t n = 0;

		while (n < MAXB) {
			void *p = hak_malloc(sizes[n % 9]);

			if (!p)
				break;
			blocks[n++] = p;
		}
		CHECK(n < MAXB && hak_check() == 0, "mixed exhaustion");
		free_all(n);
	}
	hak_trim();
	hak_stats(&st);
	CHECK(st.provider_held == st.meta_bytes && held == st.provider_held,
	      "final: pages not returned");
	printf("provider: %zu calls, %zu refused\n", calls, refusals);
	printf("PASS exhaust\n");
	return 0;
}
