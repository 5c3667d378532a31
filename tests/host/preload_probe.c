// SPDX-License-Identifier: MIT
/*
 * preload_probe - run under LD_PRELOAD=libhakmem.so: proves malloc really
 * is hakmem (its stats move and it owns the block), not a silent libc
 * fallback.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

int main(void)
{
	void (*stats)(struct hak_stats *) =
		(void (*)(struct hak_stats *))dlsym(RTLD_DEFAULT, "hak_stats");
	size_t (*usable)(const void *) =
		(size_t(*)(const void *))dlsym(RTLD_DEFAULT, "hak_usable_size");
	struct hak_stats a, b;
	char *p, *big;

	if (!stats || !usable) {
		printf("FAIL preload: hakmem is not loaded\n");
		return 1;
	}
	stats(&a);
	p = malloc(100);
	big = malloc(1 << 20);
	memset(p, 1, 100);
	memset(big, 1, 1 << 20);
	stats(&b);
	if (b.tier[HAK_TIER_TINY].allocs <= a.tier[HAK_TIER_TINY].allocs ||
	    b.tier[HAK_TIER_LARGE].allocs != a.tier[HAK_TIER_LARGE].allocs + 1 ||
	    usable(p) < 100 || usable(big) < (1 << 20)) {
		printf("FAIL preload: malloc did not go through hakmem\n");
		return 1;
	}
	free(p);
	free(big);
	/* memalign as glibc's: 24 rounds up to 32, 0 asks for none. */
	p = memalign(24, 10);
	big = memalign(0, 10);
	if (!p || (uintptr_t)p % 32 || !big || usable(p) < 10) {
		printf("FAIL preload: memalign(24) %p, memalign(0) %p\n",
		       (void *)p, (void *)big);
		return 1;
	}
	free(p);
	free(big);
	printf("PASS preload probe: %llu tiny allocs so far, fast path %s\n",
	       (unsigned long long)b.tier[HAK_TIER_TINY].allocs,
	       b.fast_path ? b.fast_path : "(none)");
	return 0;
}
