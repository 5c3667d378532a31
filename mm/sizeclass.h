/* SPDX-License-Identifier: MIT */
/*
 * sizeclass.h - the size classes (sizeclass.c): the class table, the
 * lookup tables derived from it, and the inline size-to-class map.
 */
#ifndef HAKMEM_MM_SIZECLASS_H
#define HAKMEM_MM_SIZECLASS_H

#include "defs.h"


#define HAK_NCLASSES 40
#define HAK_NTINY 20 /* classes 0..19 are Tiny, 20..39 Pool */
#define HAK_CLASS_NONE 0xff

/* The one class table; everything else is derived from it at init. */
extern const uint32_t hak_class_size[HAK_NCLASSES];

struct hak_class_info {
	uint32_t size;
	uint32_t inv;	    /* ceil(2^32 / size): index = off * inv >> 32 */
	uint32_t cache_cap; /* per-CPU cache capacity, objects */
	uint32_t batch;	    /* refill / drain batch, objects */
	uint32_t align;	    /* largest power of two dividing size, <= 4 KiB */
};

extern struct hak_class_info hak_classes[HAK_NCLASSES];
extern uint8_t hak_class_tiny_lut[(HAK_TINY_MAX >> 4) + 1];
extern uint8_t hak_class_pool_lut[(HAK_POOL_MAX >> 8) + 1];

void hak_sizeclass_init(void);
/* Smallest class >= size whose objects are aligned to align, or
 * HAK_CLASS_NONE. */
unsigned hak_sizeclass_for_aligned(size_t size, size_t align);

/* size <= HAK_POOL_MAX */
static inline unsigned hak_size_to_class(size_t size)
{
	if (size <= HAK_TINY_MAX)
		return hak_class_tiny_lut[(size + 15) >> 4];
	return hak_class_pool_lut[(size + 255) >> 8];
}

static inline uint32_t hak_obj_index(uintptr_t off, uint32_t inv)
{
	return (uint32_t)(((uint64_t)off * inv) >> 32);
}

#endif /* HAKMEM_MM_SIZECLASS_H */
