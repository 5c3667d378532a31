/* SPDX-License-Identifier: MIT */
/*
 * mem.c - weak memcpy/memmove/memset/memcmp for the freestanding images.
 * GCC may emit calls to these even with -ffreestanding; a strong
 * definition elsewhere in the image overrides them. String instructions,
 * so the compiler cannot turn the bodies back into calls to themselves.
 */
#include <stddef.h>

#define WEAK __attribute__((weak))

WEAK void *memcpy(void *dst, const void *src, size_t n);
WEAK void *memmove(void *dst, const void *src, size_t n);
WEAK void *memset(void *dst, int c, size_t n);
WEAK int memcmp(const void *a, const void *b, size_t n);

WEAK void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb"
			     : "+D"(d), "+S"(src), "+c"(n)
			     :
			     : "memory");
	return dst;
}

WEAK void *memmove(void *dst, const void *src, size_t n)
{
	if ((const char *)dst <= (const char *)src ||
	    (const char *)dst >= (const char *)src + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards. */
	{
		char *d = (char *)dst + n - 1;
		const char *s = (const char *)src + n - 1;

		__asm__ __volatile__("std\n\trep movsb\n\tcld"
				     : "+D"(d), "+S"(s), "+c"(n)
				     :
				     : "memory");
	}
	return dst;
}

WEAK void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb"
			     : "+D"(d), "+c"(n)
			     : "a"(c)
			     : "memory");
	return dst;
}

WEAK int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++) {
		if (*p != *q)
			return *p < *q ? -1 : 1;
	}
	return 0;
}
