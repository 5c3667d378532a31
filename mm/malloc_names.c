// SPDX-License-Identifier: MIT
/*
 * malloc_names.c - the standard C allocation names, for systems that have
 * no allocator of their own (an RTOS, a unikernel) and for the hosted
 * drop-in library (LD_PRELOAD). Built only with HAK_EXPORT_MALLOC=1.
 */
#include "internal.h"

#if HAK_EXPORT_MALLOC

#define HAK_EXPORT __attribute__((visibility("default")))

/* Every NULL the hak_* calls return comes with a report, and hak_report
 * sets errno (ENOMEM, or EINVAL for a bad alignment): so these are plain
 * tail calls. malloc and free are other names for hak_malloc and
 * hak_free themselves (malloc.c), but in the debug build, whose hak_*
 * are debug.c's wrappers. */
#if HAK_DEBUG
HAK_EXPORT void *malloc(size_t size)
{
	return hak_malloc(size);
}

HAK_EXPORT void free(void *ptr)
{
	hak_free(ptr);
}
#endif

HAK_EXPORT void *calloc(size_t nmemb, size_t size)
{
	return hak_calloc(nmemb, size);
}

HAK_EXPORT void *realloc(void *ptr, size_t size)
{
	return hak_realloc(ptr, size);
}

HAK_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n)) {
		hak_port_set_errno(HAK_ENOMEM);
		return NULL;
	}
	return realloc(ptr, n);
}

HAK_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	return hak_aligned_alloc(alignment, size);
}

/* As glibc's: an alignment that is not a power of two is rounded up to
 * the next one, and 0 asks for none (programs written against glibc rely
 * on both); one above the largest power of two is EINVAL. */
HAK_EXPORT void *memalign(size_t alignment, size_t size)
{
	size_t a = 1;

	if (alignment > ((size_t)-1 >> 1) + 1) {
		hak_port_set_errno(HAK_EINVAL);
		return NULL;
	}
	while (a < alignment)
		a <<= 1;
	return aligned_alloc(a, size);
}

HAK_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
	void *p;

	if (!alignment || (alignment & (alignment - 1)) ||
	    alignment % sizeof(void *))
		return HAK_EINVAL;
	p = hak_aligned_alloc(alignment, size);
	if (!p)
		return HAK_ENOMEM;
	*out = p;
	return 0;
}

HAK_EXPORT void *valloc(size_t size)
{
	return aligned_alloc(HAK_PAGE_SIZE, size);
}

HAK_EXPORT void *pvalloc(size_t size)
{
	if (size > (size_t)-1 - HAK_PAGE_SIZE) {
		hak_port_set_errno(HAK_ENOMEM);
		return NULL;
	}
	return aligned_alloc(HAK_PAGE_SIZE, hak_round_up(size, HAK_PAGE_SIZE));
}

HAK_EXPORT size_t malloc_usable_size(void *ptr)
{
	return hak_usable_size(ptr);
}

#endif /* HAK_EXPORT_MALLOC */
