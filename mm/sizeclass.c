// SPDX-License-Identifier: MIT
/*
 * sizeclass.c - the size-class table and the size -> class lookup.
 *
 * An 8-byte class, then 16-byte steps up to 128 B, then four classes per
 * power of two (steps of a quarter of the power), so any request above
 * 64 B is rounded up by less than 25%. The 8-byte class is what every
 * peer has too: requests of 1-8 bytes are common (half of alloc-test's,
 * most of sh6bench's smallest), and a 16-byte minimum doubled their
 * footprint (sh6bench's peak RSS was 1.16x mimalloc's with it). A block
 * of at most 8 bytes holds no object that needs 16-byte alignment (C17
 * 7.22.3), and the aligned paths skip the class (its align is 8). Tiny
 * ends at 1 KiB (classes 0..20), Pool at 32 KiB (classes 21..40).
 * hak_class_size[] is the single source of truth; the lookup tables and
 * per-class constants are derived from it at init, and
 * tests/host/test_sizeclass.c checks the bound and the lookup for every
 * size.
 *
 * Lookup is one table load by 8-byte granule (sizeclass.h).
 */
#include "internal.h"

/* After the 8-byte class, four classes per line, one power of two each. */
/* clang-format off */
const uint32_t hak_class_size[HAK_NCLASSES] = {
	/* Tiny */
	8,
	16, 32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256,
	320, 384, 448, 512,
	640, 768, 896, 1024,
	/* Pool */
	1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192,
	10240, 12288, 14336, 16384,
	20480, 24576, 28672, 32768,
};
/* clang-format on */

struct hak_class_info hak_classes[HAK_NCLASSES];

_Static_assert(HAK_NTINY < HAK_NCLASSES, "tiers");
_Static_assert(HAK_NCLASSES < HAK_CLASS_NONE, "class fits a byte");
_Static_assert(HAK_MAG_OFFSET(HAK_NCLASSES) <= 0xffff, "lut entries");

unsigned hak_cache_cap(size_t budget, size_t size)
{
	size_t cap = budget / size;

	if (cap > HAK_CACHE_MAX)
		cap = HAK_CACHE_MAX;
	if (cap < HAK_CACHE_MIN)
		cap = HAK_CACHE_MIN;
	return (unsigned)cap & ~1U;
}

void hak_sizeclass_init(void)
{
	unsigned c = 0, g;

	for (c = 0; c < HAK_NCLASSES; c++) {
		uint32_t size = hak_class_size[c];
		struct hak_class_info *ci = &hak_classes[c];

		ci->size = size;
		ci->inv = (uint32_t)(((1ULL << 32) + size - 1) / size);
		ci->div = UINT64_MAX / size + 1;
		ci->cache_cap = hak_cache_cap(HAK_CACHE_BYTES, size);
		ci->batch = hak_cache_batch(ci->cache_cap);
		ci->align = size & -size;
		if (ci->align > 4096)
			ci->align = 4096;
		ci->stripe = hak_stripe_of(size);
	}
	c = 0;
	for (g = 0; g <= (HAK_POOL_MAX >> 3); g++) {
		while (hak_class_size[c] < g * 8)
			c++;
		hak_heap.class_lut[g] = (uint16_t)HAK_MAG_OFFSET(c);
	}
}

/* The most class cls's magazine may grow to in the default heap: grow
 * bytes of objects, at most slots_max slots (even counts), at least its
 * initial capacity (config.h HAK_CACHE_GROW_BYTES, or the _LAZY_ ones
 * with a lazy provider). */
uint32_t hak_cache_grow_max(unsigned cls, int lazy)
{
	const struct hak_class_info *ci = &hak_classes[cls];
	uint64_t grow = lazy ? HAK_CACHE_LAZY_GROW_BYTES : HAK_CACHE_GROW_BYTES;
	uint64_t most = lazy ? HAK_CACHE_LAZY_SLOTS_MAX : HAK_CACHE_SLOTS_MAX;
	uint64_t n = grow / ci->size;

	if (n > most)
		n = most;
	n &= ~1ULL;
	return n < ci->cache_cap ? ci->cache_cap : (uint32_t)n;
}

/*
 * Objects i and i + s share no line when the s - 1 objects between them
 * span at least ARCH_CACHELINE - 1 bytes, whatever the alignment; a size
 * that divides the line never straddles one (slabs start on a line), so
 * line / size apart is enough there.
 */
unsigned hak_stripe_of(size_t size)
{
	if (size % ARCH_CACHELINE == 0)
		return 1;
	if (ARCH_CACHELINE % size == 0)
		return (unsigned)(ARCH_CACHELINE / size);
	return 1 + (unsigned)((ARCH_CACHELINE - 2 + size) / size);
}

unsigned hak_sizeclass_for_aligned(size_t size, size_t align)
{
	unsigned c;

	if (size > HAK_POOL_MAX)
		return HAK_CLASS_NONE;
	for (c = hak_size_to_class(size); c < HAK_NCLASSES; c++)
		if (hak_classes[c].align >= align)
			return c;
	return HAK_CLASS_NONE;
}
