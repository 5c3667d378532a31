// SPDX-License-Identifier: MIT
/*
 * debug.c - the debug build's allocation API (HAK_DEBUG=1, make DEBUG=1).
 *
 * Every block is wrapped:
 *
 *   obj                       user = obj + head              obj + usable
 *   | ... | struct dbg_hdr (48) | user data (size bytes) | red zone 0xA5 |
 *
 * The header sits right before the user pointer (head is 48, or the
 * alignment for aligned requests above that). It records the requested
 * size, who allocated and who freed the block (the callers' return
 * addresses and CPUs) and a canary: secret ^ user ^ block size ^ state,
 * where the state is LIVE or FREED. So:
 *  - free checks the canary (a double free finds FREED; a pointer inside
 *    a block finds garbage), then the red zone: any byte changed past the
 *    requested size is a buffer overflow, reported with the block's
 *    allocation site;
 *  - free poisons the user area (0xDD) and marks the header FREED;
 *  - malloc, on getting a block whose header says FREED at the same
 *    address and size, checks the poison: any byte changed is a write
 *    after free, reported with the allocation and free sites. A slab is
 *    wiped whenever it is carved, so a header left by an earlier life of
 *    the memory never vouches for poison; large runs, which go back to the
 *    provider, are not checked for reuse.
 * The underlying blocks come from the plain allocator (*_raw), whose own
 * checks stay on; word 0 of the block is its free cookie, so the header
 * keeps that word unused.
 *
 * Costs: 49+ bytes and O(block size) work per operation. A debug tool.
 */
#include "internal.h"

#if HAK_DEBUG

#define RZ_BYTE 0xa5
#define POISON_BYTE 0xdd
#define STATE_LIVE 0x4c4956454c495645ULL  /* "LIVELIVE" */
#define STATE_FREED 0x4652454546524545ULL /* "FREEFREE" */

struct dbg_hdr {
	uint64_t cookie_slot; /* the raw allocator's free cookie lives here */
	uint64_t canary;
	uint64_t size;	      /* requested bytes */
	const void *alloc_site;
	const void *free_site;
	int32_t alloc_cpu;
	int32_t free_cpu;
};

#define HDR_SIZE sizeof(struct dbg_hdr)

_Static_assert(sizeof(struct dbg_hdr) == 48, "debug header layout");
_Static_assert(sizeof(struct dbg_hdr) % HAK_MIN_ALIGN == 0,
	       "the header keeps user pointers aligned");
_Static_assert(__builtin_offsetof(struct dbg_hdr, cookie_slot) ==
		       HAK_COOKIE_WORD * sizeof(uint64_t),
	       "the header keeps the raw allocator's free cookie word unused");

static uint64_t canary(uintptr_t user, size_t usable, uint64_t state)
{
	return hak_heap.secret ^ user ^ ((uint64_t)usable << 20) ^ state;
}

static struct dbg_hdr *hdr_of(uintptr_t user)
{
	return (struct dbg_hdr *)(user - HDR_SIZE);
}

/* First index in [from, to) whose byte is not b, or to. */
static uintptr_t first_not(uintptr_t from, uintptr_t to, unsigned char b)
{
	for (; from < to; from++)
		if (*(const unsigned char *)from != b)
			return from;
	return to;
}

static void report_block(enum hak_event ev, const void *ptr,
			 const struct dbg_hdr *h, const char *what)
{
	struct hak_report r;

	hak_report_init(&r, ev, ptr, 0, what);
	if (h) {
		r.size = h->size;
		r.alloc_site = h->alloc_site;
		r.alloc_cpu = h->alloc_cpu;
		if (ev != HAK_EV_BUFFER_OVERFLOW) {
			r.free_site = h->free_site;
			r.free_cpu = h->free_cpu;
		}
	}
	hak_report_full(&r);
}

/* Wrap a block the raw allocator returned; head bytes precede the user. */
static void *wrap(void *raw, size_t size, size_t head, const void *site)
{
	uintptr_t obj = (uintptr_t)raw, user = obj + head, end;
	size_t usable = hak_usable_size_raw(raw);
	struct dbg_hdr *h = hdr_of(user);

	end = obj + usable;
	/*
	 * Reuse of a block this layer freed: its poison must be intact. Only
	 * blocks with the standard head are checked, and an aligned block
	 * clears the standard header's canary, so a header from an earlier
	 * use of the memory at another offset never vouches for poison.
	 */
	if (head != HDR_SIZE)
		((struct dbg_hdr *)obj)->canary = 0;
	else if (h->canary == canary(user, usable, STATE_FREED) &&
		 first_not(user, end, POISON_BYTE) != end)
		report_block(HAK_EV_USE_AFTER_FREE, (void *)user, h,
			     "freed block written to");
	h->canary = canary(user, usable, STATE_LIVE);
	h->size = size;
	h->alloc_site = site;
	h->free_site = NULL;
	h->alloc_cpu = (int32_t)hak_port_cpu_hint();
	h->free_cpu = -1;
	hak_memset((void *)(user + size), RZ_BYTE, end - user - size);
	return (void *)user;
}

static void *alloc_dbg(struct hak_heap *hp, size_t align, size_t size,
		       const void *site)
{
	/* The header fits before the user pointer, which keeps the alignment.
	 */
	size_t head = align > HAK_MIN_ALIGN ? hak_round_up(HDR_SIZE, align)
					    : HDR_SIZE;
	size_t need;
	void *raw;

	if (__builtin_add_overflow(size, head + 1, &need)) {
		hak_report(HAK_EV_SIZE_OVERFLOW, NULL, size,
			   "request too large");
		return NULL;
	}
	if (hp != &hak_heap)
		raw = hak_heap_alloc_raw(hp, align, need);
	else
		raw = align > HAK_MIN_ALIGN ? hak_aligned_alloc_raw(align, need)
					    : hak_malloc_raw(need);
	return raw ? wrap(raw, size, head, site) : NULL;
}

/* The live block whose user pointer is ptr, or NULL after reporting. */
static struct dbg_hdr *live_block(const void *ptr, size_t *usable,
				  uintptr_t *obj)
{
	uintptr_t user = (uintptr_t)ptr;
	struct dbg_hdr *h;

	if (!hak_block_containing(ptr, obj, usable)) {
		hak_report(HAK_EV_INVALID_FREE, ptr, 0,
			   "not allocated by hakmem");
		return NULL;
	}
	if (user - *obj < HDR_SIZE || (user & (HAK_MIN_ALIGN - 1))) {
		hak_report(HAK_EV_INTERIOR_FREE, ptr, 0, "inside a block");
		return NULL;
	}
	h = hdr_of(user);
	if (h->canary == canary(user, *usable, STATE_LIVE))
		return h;
	if (h->canary == canary(user, *usable, STATE_FREED)) {
		report_block(HAK_EV_DOUBLE_FREE, ptr, h, "block already freed");
		return NULL;
	}
	/* Is ptr inside the live block that starts at the usual offset? */
	if (hdr_of(*obj + HDR_SIZE)->canary ==
	    canary(*obj + HDR_SIZE, *usable, STATE_LIVE))
		hak_report(HAK_EV_INTERIOR_FREE, ptr, 0, "inside a block");
	else
		hak_report(HAK_EV_INVALID_FREE, ptr, 0, "no block starts here");
	return NULL;
}

/* An object cache's objects are not wrapped (cache.c's debug notes). */
static int cache_object(const void *ptr)
{
	uintptr_t e = hak_pagemap_get((uintptr_t)ptr);

	return (e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB &&
	       ((struct hak_slab *)hak_pm_slab(e))->cls == HAK_CLASS_CACHE;
}

static void free_dbg(void *ptr, const void *site)
{
	uintptr_t user = (uintptr_t)ptr, obj, end, bad;
	struct dbg_hdr *h;
	size_t usable;

	if (!ptr)
		return;
	if (cache_object(ptr)) {
		hak_free_raw(ptr);
		return;
	}
	h = live_block(ptr, &usable, &obj);
	if (!h)
		return;
	end = obj + usable;
	bad = first_not(user + h->size, end, RZ_BYTE);
	if (bad != end)
		report_block(HAK_EV_BUFFER_OVERFLOW, (void *)bad, h,
			     "red zone past the block's end written");
	hak_memset(ptr, POISON_BYTE, end - user);
	/* A large run goes back to the provider, which may hand the pages to
	 * anything: no reuse check can hold then. Slabs are wiped when they
	 * are carved again (shared_pool.c), which clears stale headers. */
	h->canary = (hak_pagemap_get(obj) & HAK_PM_TAG_MASK) == HAK_PM_TAG_LARGE
			    ? 0
			    : canary(user, usable, STATE_FREED);
	h->free_site = site;
	h->free_cpu = (int32_t)hak_port_cpu_hint();
	hak_free_raw((void *)obj);
}

#define CALLER __builtin_return_address(0)

void *hak_malloc(size_t size)
{
	return alloc_dbg(&hak_heap, 0, size, CALLER);
}

void *hak_dbg_heap_alloc(struct hak_heap *hp, size_t align, size_t size,
			 const void *site)
{
	return alloc_dbg(hp, align, size, site);
}

void hak_free(void *ptr)
{
	free_dbg(ptr, CALLER);
}

void *hak_aligned_alloc(size_t alignment, size_t size)
{
	if (!alignment || (alignment & (alignment - 1))) {
		hak_report(HAK_EV_BAD_ALIGNMENT, NULL, alignment,
			   "alignment is not a power of two");
		return NULL;
	}
	return alloc_dbg(&hak_heap, alignment, size, CALLER);
}

void *hak_calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (hak_calloc_bytes(nmemb, size, &n))
		return NULL;
	p = alloc_dbg(&hak_heap, 0, n, CALLER);
	if (p)
		hak_memset(p, 0, n);
	return p;
}

size_t hak_usable_size(const void *ptr)
{
	uintptr_t obj;
	size_t usable;
	struct dbg_hdr *h;

	if (!ptr)
		return 0;
	if (cache_object(ptr))
		return hak_usable_size_raw(ptr);
	h = live_block(ptr, &usable, &obj);
	return h ? h->size : 0;
}

void *hak_realloc(void *ptr, size_t size)
{
	uintptr_t obj;
	size_t usable;
	struct dbg_hdr *h;
	void *n;

	if (!ptr)
		return alloc_dbg(&hak_heap, 0, size, CALLER);
	if (cache_object(ptr)) {
		hak_report(HAK_EV_MISUSE, ptr, size,
			   "realloc of an object cache's object");
		return NULL;
	}
	h = live_block(ptr, &usable, &obj);
	if (!h)
		return NULL;
	if (!size) {
		free_dbg(ptr, CALLER);
		return NULL;
	}
	/* Always move: a stale pointer to the old block then trips the
	 * poison check. */
	/* A block stays in its own heap. */
	n = alloc_dbg(hak_block_owner((void *)obj, 0), 0, size, CALLER);
	if (!n)
		return NULL;
	hak_memcpy(n, ptr, size < h->size ? size : h->size);
	free_dbg(ptr, CALLER);
	return n;
}

#endif /* HAK_DEBUG */
