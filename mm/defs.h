/* SPDX-License-Identifier: MIT */
/*
 * defs.h - the derived layout constants and the few macros every mm/ file
 * uses. The tunables they derive from are include/hakmem/config.h's.
 */
#ifndef HAKMEM_MM_DEFS_H
#define HAKMEM_MM_DEFS_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem/arch.h"
#include "hakmem/config.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define hak_cacheline_aligned __attribute__((aligned(ARCH_CACHELINE)))
/* For the few functions that make up the fast paths. */
#define hak_always_inline inline __attribute__((always_inline))
/*
 * The public fast paths start on a 64-byte boundary, so that where they
 * land does not move with the size of unrelated code before them: a
 * change to decay.c that moved malloc and free by 0x70 bytes made the
 * hosted pair loop (fast-64) 10% slower with identical instructions:
 * 7.53 s against 6.83 s for the old layout and 6.85 s aligned, medians of
 * 5 interleaved runs (docs/performance.md).
 */
#define hak_fast_entry __attribute__((aligned(64)))
/* On the extern declarations of hakmem's globals: -fvisibility=hidden
 * hides their definitions, but a shared library's code reaches an extern
 * it does not know is hidden through the GOT, one more load on every fast
 * path (the hosted libhakmem.so). */
#define hak_hidden __attribute__((visibility("hidden")))

#define HAK_PAGE_SHIFT ARCH_PAGE_SHIFT
#define HAK_PAGE_SIZE (1UL << HAK_PAGE_SHIFT)
#define HAK_SLAB_SIZE (1UL << HAK_SLAB_SHIFT)
#define HAK_SUPERSLAB_SIZE (1UL << HAK_SUPERSLAB_SHIFT)
#define HAK_SLABS_PER_SS (1U << (HAK_SUPERSLAB_SHIFT - HAK_SLAB_SHIFT))
#define HAK_MIN_OBJECT 8
/* The free cookie's word in a free object (malloc.c): the first, the one
 * word inside every object (>= HAK_MIN_OBJECT bytes; docs/security.md
 * says what moving it from the second cost). */
#define HAK_COOKIE_WORD 0
#define HAK_SLAB_MAX_OBJECTS (HAK_SLAB_SIZE / HAK_MIN_OBJECT)
#define HAK_SLAB_BITMAP_WORDS (HAK_SLAB_MAX_OBJECTS / 64)
#define HAK_SS_MAGIC 0x68616b6d53534c42ULL /* "hakmSSLB" */

#define hak_round_up(x, a) (((x) + (a)-1) & ~((uintptr_t)(a)-1))

#endif /* HAKMEM_MM_DEFS_H */
