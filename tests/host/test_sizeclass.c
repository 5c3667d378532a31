// SPDX-License-Identifier: MIT
/*
 * test_sizeclass - the class table against its promises: increasing,
 * 16-byte granular, Pool classes on 256-byte steps, rounding waste < 25%
 * above 64 bytes, the lookup returns the smallest fitting class for every
 * size up to HAK_POOL_MAX, the reciprocal gives the exact object index for
 * every offset in a slab, the divisibility test free() uses is exact for
 * every offset in a slab and beyond, the lookup's magazine offsets are
 * the classes', the aligned-class search is sound, and the refill stride
 * keeps objects off each other's cache lines.
 */
#include "check.h"
#include "../../mm/internal.h"

int main(void)
{
	unsigned c;
	size_t size;
	uint32_t off;

	hak_sizeclass_init();
	for (c = 0; c < HAK_NCLASSES; c++) {
		uint32_t sz = hak_class_size[c];

		CHECK(sz % 16 == 0 || (c == 0 && sz == 8), "class %u size %u",
		      c, sz);
		CHECK(c == 0 || sz > hak_class_size[c - 1], "class %u order", c);
		CHECK(c >= HAK_NTINY || sz <= HAK_TINY_MAX, "tiny class %u", c);
		CHECK(c < HAK_NTINY || sz % 256 == 0, "pool class %u", c);
		CHECK(hak_classes[c].cache_cap >= HAK_CACHE_MIN &&
			      hak_classes[c].cache_cap <= HAK_CACHE_MAX &&
			      hak_classes[c].batch * 2 == hak_classes[c].cache_cap,
		      "class %u cache %u", c, hak_classes[c].cache_cap);
		CHECK(sz % hak_classes[c].align == 0, "class %u align", c);
	}
	CHECK(hak_class_size[HAK_NTINY - 1] == HAK_TINY_MAX, "tiny end");
	CHECK(hak_class_size[HAK_NCLASSES - 1] == HAK_POOL_MAX, "pool end");

	for (size = 0; size <= HAK_POOL_MAX; size++) {
		unsigned k = hak_size_to_class(size);
		uint32_t sz = hak_class_size[k];

		CHECK(k < HAK_NCLASSES && sz >= size, "size %zu -> %u", size, k);
		CHECK(hak_size_to_magoff(size) == HAK_MAG_OFFSET(k),
		      "size %zu magazine offset", size);
		CHECK(k == 0 || hak_class_size[k - 1] < size,
		      "size %zu not smallest class %u", size, k);
		CHECK(size <= 64 || (sz - size) * 4 < size,
		      "size %zu wastes %u bytes in class %u", size,
		      (unsigned)(sz - size), sz);
	}

	for (c = 0; c < HAK_NCLASSES; c++) {
		uint32_t sz = hak_class_size[c];

		for (off = 0; off < HAK_SLAB_SIZE; off++) {
			uint32_t idx = hak_obj_index(off, hak_classes[c].inv);

			CHECK(idx == off / sz, "class %u off %u: %u", c, off, idx);
			CHECK(hak_obj_aligned(off, hak_classes[c].div) ==
				      (off % sz == 0),
			      "class %u off %u: divisibility", c, off);
		}
		/* Offsets up to 2^32 (free() tests only those below the
		 * slab's high-water mark, but the claim is wider). */
		for (uint64_t o = HAK_SLAB_SIZE; o < (1ULL << 32); o += 65521)
			CHECK(hak_obj_aligned(o, hak_classes[c].div) ==
				      (o % sz == 0),
			      "class %u off %llu: divisibility", c,
			      (unsigned long long)o);
		CHECK(hak_obj_aligned(0xffffffffULL / sz * sz,
				      hak_classes[c].div),
		      "class %u: the last multiple below 2^32", c);
	}

	for (size = 1; size <= HAK_POOL_MAX; size += 37) {
		size_t a;

		for (a = 32; a <= 8192; a *= 2) {
			unsigned k = hak_sizeclass_for_aligned(size, a);

			if (a > 4096) {
				CHECK(k == HAK_CLASS_NONE, "align %zu", a);
				continue;
			}
			if (k == HAK_CLASS_NONE) {
				CHECK(size > HAK_POOL_MAX - a, "size %zu a %zu", size, a);
				continue;
			}
			CHECK(hak_class_size[k] >= size &&
				      hak_class_size[k] % a == 0,
			      "size %zu align %zu -> %u", size, a, k);
		}
	}
	/* The refill stride (hak_stripe_of): objects stride apart share no
	 * cache line, for every slot size an object cache can have (8-byte
	 * multiples) and every object of a slab that starts on a line; 1
	 * exactly for whole lines; and no longer than one line's worth of
	 * objects plus one. */
	for (size = 8; size <= 2 * HAK_POOL_MAX; size += 8) {
		unsigned s = hak_stripe_of(size), i;
		size_t line = ARCH_CACHELINE, lines = (line - 1) / size + 1;

		CHECK((s == 1) == (size % line == 0), "size %zu stride %u", size,
		      s);
		CHECK(s >= 1 && s <= lines + 1, "size %zu stride %u", size, s);
		for (i = 0; i < 2 * line; i++) {
			size_t end = (i + 1) * size - 1, next = (i + s) * size;

			CHECK(s == 1 || end / line != next / line,
			      "size %zu: objects %u and %u share a line", size,
			      i, i + s);
		}
	}
	for (c = 0; c < HAK_NCLASSES; c++)
		CHECK(hak_classes[c].stripe == hak_stripe_of(hak_class_size[c]),
		      "class %u stride", c);
	printf("class table (%d classes):", HAK_NCLASSES);
	for (c = 0; c < HAK_NCLASSES; c++)
		printf("%s%u", c == HAK_NTINY ? " | " : " ", hak_class_size[c]);
	printf("\nPASS sizeclass\n");
	return 0;
}
