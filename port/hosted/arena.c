// SPDX-License-Identifier: MIT
/*
 * arena.c - the hosted port's default page provider: superslabs from one
 * reserved range of address space, everything else from mmap.
 *
 * A provider that declares a span gets hakmem's slab map over it
 * (mm/slabmap.c), and free() then finds a block's slab with one load
 * instead of a walk of the page map's three levels. mmap puts mappings
 * anywhere, so the arena reserves HAK_HOSTED_ARENA_BYTES of address space
 * once, PROT_NONE (no memory, no commit charge), and hands superslabs out
 * of it, each made accessible with mprotect when taken (the commit charge
 * is taken then: a full heap fails with ENOMEM, as mmap would, rather than
 * an OOM kill later) and given back with a PROT_NONE mapping over it,
 * which drops its pages and its charge. Large runs and metadata come from
 * mmap as before (mmap_provider), outside the span: the page map finds
 * them. So does a superslab the arena has no room for.
 *
 * The slab map over 64 GiB is 32 MiB of address space; its pages are
 * touched only where superslabs are: the provider says its runs come
 * zeroed, an all-zero entry fails free()'s checks, and the lookups take
 * its NULL descriptor for "no slab" (HAK_PORT_SPARSE_SLABMAP).
 *
 * hakmem serialises provider calls (the heap's provider lock), so the
 * arena needs no lock. Chunks are taken from a stack of released ones,
 * else from the never-used top, so the work per call is O(1) plus the
 * system call.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>

#include "hakmem.h"
#include "hakmem/config.h"
#include "hakmem_hosted.h"

#ifndef HAK_HOSTED_ARENA_BYTES
#define HAK_HOSTED_ARENA_BYTES (64UL << 30)
#endif

/* hosted.c: whether the kernel's pages are hakmem's (then any page range
 * of a run may go back). */
int hak_hosted_may_split(void);

#define CHUNK (1UL << HAK_SUPERSLAB_SHIFT)
#define NCHUNKS (HAK_HOSTED_ARENA_BYTES / CHUNK)

_Static_assert(HAK_HOSTED_ARENA_BYTES % CHUNK == 0, "whole superslabs");
_Static_assert(NCHUNKS < (1UL << 32), "chunk numbers and top fit 32 bits");

static struct arena {
	struct hak_page_provider mmap_pp; /* everything but superslabs */
	uintptr_t base;			  /* CHUNK-aligned; 0: no arena */
	uint32_t top;	 /* chunks [0, top) were handed out once */
	uint32_t nfree;	 /* released chunks, on the stack below */
	uint32_t stack[NCHUNKS];
} arena;

static void *arena_alloc(void *ctx, size_t bytes, size_t align)
{
	struct arena *a = ctx;
	uint32_t i;
	void *p;

	if (bytes != CHUNK || align != CHUNK ||
	    (!a->nfree && a->top == NCHUNKS))
		return a->mmap_pp.alloc(a->mmap_pp.ctx, bytes, align);
	i = a->nfree ? a->stack[--a->nfree] : a->top++;
	p = (void *)(a->base + (uintptr_t)i * CHUNK);
	if (mprotect(p, CHUNK, PROT_READ | PROT_WRITE)) {
		a->stack[a->nfree++] = i; /* ENOMEM: out of commit */
		return NULL;
	}
	return p;
}

/* Fresh PROT_NONE pages over [p, p + bytes) of the arena: its memory
 * and its commit charge go back, the address space stays reserved. */
static void arena_drop(void *p, size_t bytes)
{
	mmap(p, bytes, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/*
 * The provider splits (hakmem's large-run cache may give back part of a
 * run, or adjacent runs together): a range may reach outside the arena
 * (mmap's part goes to munmap) and cover chunks whole (each goes back on
 * the stack) or in part (only a large block aligned to 1 MiB is ever an
 * arena chunk that hakmem splits: its pages go back, and the chunk's
 * number stays out of the stack, 1 MiB of address space of 64 GiB).
 */
static void arena_release(void *ctx, void *p, size_t bytes)
{
	struct arena *a = ctx;
	uintptr_t lo = (uintptr_t)p, hi = lo + bytes;
	uintptr_t alo = a->base, ahi = a->base + (uintptr_t)NCHUNKS * CHUNK;
	uintptr_t c;

	if (!a->base || hi <= alo || lo >= ahi) {
		a->mmap_pp.release(a->mmap_pp.ctx, p, bytes);
		return;
	}
	if (lo < alo)
		a->mmap_pp.release(a->mmap_pp.ctx, p, alo - lo);
	if (hi > ahi)
		a->mmap_pp.release(a->mmap_pp.ctx, (void *)ahi, hi - ahi);
	lo = lo < alo ? alo : lo;
	hi = hi > ahi ? ahi : hi;
	arena_drop((void *)lo, hi - lo);
	for (c = (lo + CHUNK - 1) & ~(CHUNK - 1); c + CHUNK <= hi; c += CHUNK)
		a->stack[a->nfree++] = (uint32_t)((c - alo) / CHUNK);
}

struct hak_page_provider hak_hosted_arena_provider(void)
{
	struct hak_page_provider pp = hak_hosted_mmap_provider();
	uintptr_t r;

	if (arena.base)
		goto done;
	/* PROT_NONE and MAP_NORESERVE: address space only, nothing the
	 * overcommit policy counts until a chunk is made accessible. */
	r = (uintptr_t)mmap(NULL, HAK_HOSTED_ARENA_BYTES + CHUNK, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			    0);
	if ((void *)r == MAP_FAILED)
		return pp; /* no room (ulimit -v): plain mmap, no span */
	arena.mmap_pp = pp;
	arena.base = (r + CHUNK - 1) & ~(CHUNK - 1);
done:
	pp.alloc = arena_alloc;
	pp.release = arena_release;
	pp.ctx = &arena;
	pp.span_base = arena.base;
	pp.span_size = HAK_HOSTED_ARENA_BYTES;
	pp.zeroed = 1; /* mmap and mprotect of untouched PROT_NONE pages */
	pp.lazy = 1;   /* and paged in on first write */
	pp.split = hak_hosted_may_split();
	return pp;
}
