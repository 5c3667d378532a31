// SPDX-License-Identifier: MIT
/*
 * test_bounds - the worst-case memory bound of docs/guarantees.md, under
 * adversarial patterns. At every step the provider may hold at most
 *
 *   meta + large + SUPERSLAB * (KEPT_SS + NCLASSES * KEPT_SLABS + out)
 *
 * where meta is the permanent metadata, large the bytes of live large runs
 * plus the freed ones kept for reuse (at most HAK_LARGE_CACHE_BYTES, or half
 * the peak of live large bytes when more), and
 * out the objects outside their slabs (live + cached): every held
 * superslab is one of the few kept empty, or holds a used slab, and every
 * used slab holds an outstanding object or is one of the few kept empty.
 * The patterns try to make the provider hold as much as possible for as
 * little live data as possible: one survivor per slab, classes
 * interleaved, sizes climbing so freed memory never fits, large churn.
 * After a trim the tighter bound (no kept empties, no cached objects)
 * must hold too. KEPT_SS is the created heaps' rule (one empty superslab
 * kept), which the run sets on the default heap (hak_heap.ss_keep_off):
 * the default heap also keeps empty superslabs up to the most it ever
 * held until idle decay gives them back, which test_decay checks.
 */
#include "check.h"
#include "../../mm/internal.h"

static struct report_log log;
static uint64_t worst_ratio_x100;

static void check_bound(const char *where, int after_trim)
{
	struct hak_stats st;
	uint64_t out, bound;

	hak_stats(&st);
	out = st.tier[HAK_TIER_TINY].objects_in_use +
	      st.tier[HAK_TIER_POOL].objects_in_use + st.cached_objects;
	bound = st.meta_bytes + st.tier[HAK_TIER_LARGE].bytes_in_use +
		st.large_cached +
		HAK_SUPERSLAB_SIZE *
			((after_trim ? 0
				     : HAK_EMPTY_SUPERSLABS_KEPT +
					       HAK_NCLASSES * HAK_EMPTY_SLABS_KEPT) +
			 out);
	/* 64 MiB, or half the peak of live large bytes (bounded from above
	 * by half of peak_bytes_out). */
	CHECK(st.large_cached <= HAK_LARGE_CACHE_BYTES ||
		      st.large_cached <= st.peak_bytes_out / 2,
	      "large cache over cap");
	CHECK(st.provider_held <= bound,
	      "%s: provider holds %llu > bound %llu (out %llu)", where,
	      (unsigned long long)st.provider_held, (unsigned long long)bound,
	      (unsigned long long)out);
	if (st.bytes_in_use) {
		uint64_t r = (st.provider_held - st.meta_bytes) * 100 /
			     st.bytes_in_use;

		if (r > worst_ratio_x100)
			worst_ratio_x100 = r;
	}
}

#define N 60000
static void *p[N];

/* Fill n blocks of size, keep one in every `keep`, free the rest. */
static void survivors(size_t size, int n, int keep, const char *where)
{
	int i;

	for (i = 0; i < n; i++) {
		p[i] = hak_malloc(size);
		CHECK(p[i], "malloc");
		if (i % 1024 == 0)
			check_bound(where, 0);
	}
	for (i = 0; i < n; i++)
		if (i % keep) {
			hak_free(p[i]);
			p[i] = NULL;
		}
	check_bound(where, 0);
	hak_trim();
	check_bound(where, 1);
}

static void release_all(int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (p[i]) {
			hak_free(p[i]);
			p[i] = NULL;
		}
}

int main(void)
{
	static const size_t sizes[] = { 16, 64, 256, 1024, 4096, 16384, 32768 };
	struct hak_stats st;
	unsigned s;
	int i, k;

	init_hosted(2, &log);
	hak_heap.ss_keep_off = 1;
	/* One survivor per slab-sized stride, class by class. */
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int per_slab = (int)(HAK_SLAB_SIZE / sizes[s]);
		int n = per_slab * 40 < N ? per_slab * 40 : N;

		survivors(sizes[s], n, per_slab, "one survivor per slab");
		release_all(n);
	}
	/* Interleaved classes with scattered survivors. */
	for (i = 0; i < N; i++) {
		p[i] = hak_malloc(sizes[i % 7] + (size_t)(i % 13));
		CHECK(p[i], "malloc");
	}
	check_bound("interleaved", 0);
	for (i = 0; i < N; i++)
		if (i % 97) {
			hak_free(p[i]);
			p[i] = NULL;
		}
	check_bound("interleaved survivors", 0);
	hak_trim();
	check_bound("interleaved survivors, trimmed", 1);
	release_all(N);
	/* Climbing sizes: what was freed never fits what comes next. */
	for (k = 0; k < 40; k++) {
		for (i = 0; i < 200; i++)
			p[i] = hak_malloc(hak_class_size[k] - 1);
		for (i = 0; i < 200; i += 2) {
			hak_free(p[i]);
			p[i] = NULL;
		}
		check_bound("climbing", 0);
		release_all(200);
	}
	/* Large churn between small survivors. */
	for (i = 0; i < 400; i++) {
		p[i] = hak_malloc(i % 2 ? 40000 + (size_t)i * 512 : 48);
		if (i % 3 == 0) {
			hak_free(p[i]);
			p[i] = NULL;
		}
		check_bound("large churn", 0);
	}
	release_all(400);
	hak_trim();
	check_bound("empty, trimmed", 1);
	hak_stats(&st);
	CHECK(st.provider_held == st.meta_bytes, "empty heap holds pages");
	CHECK(hak_check() == 0, "check");
	printf("worst provider/live ratio seen: %llu.%02llu\n",
	       (unsigned long long)worst_ratio_x100 / 100,
	       (unsigned long long)worst_ratio_x100 % 100);
	printf("PASS bounds\n");
	return 0;
}
