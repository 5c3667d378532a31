// SPDX-License-Identifier: MIT
/*
 * libc.c - weak memcpy/memmove/memset/memcmp for the aarch64 and riscv64
 * images (the x86_64 board has its own in boards/x86_64/mem.c). GCC may
 * emit calls to them for struct copies even with -ffreestanding; the images
 * are built with -fno-tree-loop-distribute-patterns so these loops stay
 * loops.
 */
#include <stddef.h>
#include <stdint.h>

#define WEAK __attribute__((weak))

WEAK void *memcpy(void *dst, const void *src, size_t n);
WEAK void *memmove(void *dst, const void *src, size_t n);
WEAK void *memset(void *dst, int c, size_t n);
WEAK int memcmp(const void *a, const void *b, size_t n);

WEAK void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (!(((uintptr_t)d | (uintptr_t)s | n) & 7)) {
		for (; n; n -= 8, d += 8, s += 8)
			*(uint64_t *)(void *)d = *(const uint64_t *)(const void *)s;
		return dst;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

WEAK void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

WEAK void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

WEAK int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}
