// SPDX-License-Identifier: MIT
/*
 * string.c - the two memory primitives hakmem needs, so that the
 * freestanding libraries reference no libc symbol. Word-at-a-time; the
 * Makefile builds mm/ with -fno-tree-loop-distribute-patterns so the
 * compiler does not turn these loops back into memset/memcpy calls.
 */
#include "internal.h"

#ifndef HAK_PORT_MEMSET
void hak_memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	uint64_t w = (unsigned char)c * 0x0101010101010101ULL;

	while (n && ((uintptr_t)p & 7)) {
		*p++ = (unsigned char)c;
		n--;
	}
	for (; n >= 8; n -= 8, p += 8)
		*(uint64_t *)(void *)p = w;
	while (n--)
		*p++ = (unsigned char)c;
}
#endif

#ifndef HAK_PORT_MEMCPY
void hak_memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	/* Words only when both sides are aligned (aarch64 builds use
	 * -mstrict-align); blocks hakmem copies are 16-byte aligned. */
	if (!(((uintptr_t)dp | (uintptr_t)sp) & 7))
		for (; n >= 8; n -= 8, dp += 8, sp += 8)
			*(uint64_t *)(void *)dp =
				*(const uint64_t *)(const void *)sp;
	while (n--)
		*dp++ = *sp++;
}
#endif

unsigned hak_popcount64(uint64_t v)
{
	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((v * 0x0101010101010101ULL) >> 56);
}

char *hak_fmt_str(char *d, char *end, const char *s)
{
	while (*s && d < end - 1)
		*d++ = *s++;
	*d = 0;
	return d;
}

char *hak_fmt_uint(char *d, char *end, uint64_t v, unsigned base)
{
	char tmp[24];
	unsigned n = 0;

	if (base == 16)
		d = hak_fmt_str(d, end, "0x");
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < sizeof(tmp));
	while (n && d < end - 1)
		*d++ = tmp[--n];
	*d = 0;
	return d;
}
