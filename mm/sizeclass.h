/* SPDX-License-Identifier: MIT */
/*
 * sizeclass.h - the size classes (sizeclass.c): the class table, the
 * lookup tables derived from it, and the inline size-to-class map.
 */
#ifndef HAKMEM_MM_SIZECLASS_H
#define HAKMEM_MM_SIZECLASS_H

#include "defs.h"


#define HAK_NCLASSES 41
#define HAK_NTINY 21 /* classes 0..20 are Tiny, 21..40 Pool */
#define HAK_CLASS_NONE 0xff
#define HAK_CLASS_CACHE 0xfe /* an object cache's slab (cache.c) */

/* The one class table; everything else is derived from it at init. */
extern const uint32_t hak_class_size[HAK_NCLASSES] hak_hidden;

struct hak_class_info {
	uint32_t size;
	uint32_t inv;	    /* ceil(2^32 / size): index = off * inv >> 32 */
	uint64_t div;	    /* ceil(2^64 / size): off < 2^32 is a multiple of
			       size iff off * div (mod 2^64) < div */
	uint32_t cache_cap; /* per-CPU cache capacity, objects: initial */
	uint32_t batch;	    /* refill / drain batch, objects */
	uint32_t align;	    /* largest power of two dividing size, <= 4 KiB */
	uint32_t stripe;    /* refill order's stride (hak_stripe_of) */
};

extern struct hak_class_info hak_classes[HAK_NCLASSES] hak_hidden;
/*
 * Size -> class is one load from hak_heap.class_lut (layout.h), by
 * 8-byte granule up to HAK_POOL_MAX, no tier test. An entry is the
 * class's magazine offset in a per-CPU area, HAK_MAG_OFFSET(cls) =
 * HAK_MAG_BASE + (cls << HAK_MAG_SHIFT) (layout.h asserts the layout),
 * so the fast path indexes the per-CPU area with it as it is. The table
 * is the heap object's first member: on load/store architectures the
 * heap's one address serves the table, ncpus and the per-CPU pointers.
 */
#define HAK_MAG_SHIFT 5
#define HAK_MAG_BASE 8
#define HAK_MAG_OFFSET(cls)                                                    \
	(HAK_MAG_BASE + ((uintptr_t)(cls) << HAK_MAG_SHIFT))
#define HAK_MAG_CLASS(magoff)                                                  \
	((unsigned)(((magoff) - HAK_MAG_BASE) >> HAK_MAG_SHIFT))
#define HAK_CLASS_LUT_SIZE ((HAK_POOL_MAX >> 3) + 1)

void hak_sizeclass_init(void);
uint32_t hak_cache_grow_max(unsigned cls, int lazy);
/* A per-CPU magazine's capacity for objects of size under a byte budget:
 * budget / size clamped to [HAK_CACHE_MIN, HAK_CACHE_MAX], even (a batch
 * is half). Every heap's classes and every object cache use it. */
unsigned hak_cache_cap(size_t budget, size_t size);
/* The refill / drain batch of a magazine of capacity cap: half of it, at
 * most HAK_BATCH_MAX, whatever the capacity grows to. */
static inline unsigned hak_cache_batch(unsigned cap)
{
	return cap / 2 < HAK_BATCH_MAX ? cap / 2 : HAK_BATCH_MAX;
}
/* The stride, in objects, of a refilled batch's order: consecutive
 * allocations from one refill lie on different cache lines
 * (shared_pool.c stripe_run). 1 for sizes that are whole lines. */
unsigned hak_stripe_of(size_t size);
/* Smallest class >= size whose objects are aligned to align, or
 * HAK_CLASS_NONE. */
unsigned hak_sizeclass_for_aligned(size_t size, size_t align);

/* size <= HAK_POOL_MAX */
static inline uint32_t hak_obj_index(uintptr_t off, uint32_t inv)
{
	return (uint32_t)(((uint64_t)off * inv) >> 32);
}

/* off < 2^32: whether it is a multiple of the size whose div this is
 * (Lemire, Kaser and Kurz, "Faster remainder by direct computation",
 * 2019: with 64 fraction bits the test is exact for 32-bit offsets). */
static inline int hak_obj_aligned(uintptr_t off, uint64_t div)
{
	return (uint64_t)off * div < div;
}

/* The same for an offset within a slab (below 2^HAK_SLAB_SHIFT) and a
 * 32-bit div = ceil(2^32 / size) (the slab map's, layout.h): exact
 * while HAK_SLAB_SHIFT plus the bits of the largest size is at most 32. */
static inline int hak_obj_aligned32(uintptr_t off, uint32_t div)
{
	return (uint32_t)off * div < div;
}

#endif /* HAKMEM_MM_SIZECLASS_H */
