// SPDX-License-Identifier: MIT
/*
 * test_pagemap - the page map over every address a 48-bit VA kernel or
 * program can use: bits 48-63 all 0 (x86_64's lower half, aarch64's user
 * space, which reaches 2^48 with bit 47 set) or all 1 (x86_64's upper half,
 * aarch64's kernel space). A higher-half kernel's heap (e.g. at
 * 0xffffffff80000000) must map like a user-space one; the two kinds must
 * never share an entry; any other address must be refused by set and read
 * as "not hakmem's" by get, never as the entry of a mappable address with
 * the same low 48 bits. The addresses are never dereferenced, so a hosted
 * test can use kernel ones.
 */
#include "check.h"
#include "../../mm/internal.h"

static const uintptr_t canonical[] = {
	0x1000,			/* lowest mappable page */
	0x00007ffffffff000,	/* top of the lower half */
	0x0000123456789000,
	0xffff800000000000,	/* bottom of the upper half */
	0xffffffff80000000,	/* -mcmodel=kernel image base */
	0xffffffff802ed000,
	0xfffffffffffff000,	/* last page */
	0x0000800000000000,	/* aarch64 user space above 2^47 */
	0x0000fffffffff000,	/* top of aarch64 user space */
	0xffff000000000000,	/* bottom of aarch64 kernel space */
	0xffff7ffffffff000,	/* aarch64 kernel space below x86's half */
};

/* Bits 48-63 neither all 0 nor all 1; most share their low 48 bits with
 * a mappable address above. */
static const uintptr_t noncanonical[] = {
	0x0001000000001000,
	0x8000123456789000,
	0x7fffffff80000000,
	0x00007fff802ed000 | (1ULL << 63),
	0x0001fffffffff000,
	0xfffe000000000000,
};

#define NCANON (sizeof(canonical) / sizeof(canonical[0]))
#define NNON (sizeof(noncanonical) / sizeof(noncanonical[0]))

static char region[16 << 20] __attribute__((aligned(1 << 21)));
static struct report_log log;

/* A large-run entry: distinct per address, tagged so free() takes it as
 * one (only ever read back here, never freed). */
static uintptr_t entry_of(unsigned i)
{
	return ((uintptr_t)(i + 1) << 2) | HAK_PM_TAG_LARGE;
}

static void set_all(uintptr_t (*value)(unsigned))
{
	unsigned i;

	/* Nodes first (set never allocates one): reserve takes the default
	 * heap's lock, may drop it to zero a node, and must refuse what set
	 * refuses. */
	for (i = 0; i < NCANON; i++) {
		CHECK(hak_pagemap_reserve(canonical[i], 1) == 0,
		      "grow %#lx", (unsigned long)canonical[i]);
		CHECK(hak_pagemap_set(canonical[i], value(i)) == 0,
		      "set %#lx", (unsigned long)canonical[i]);
	}
	for (i = 0; i < NNON; i++) {
		CHECK(hak_pagemap_reserve(noncanonical[i], 1) == -1,
		      "grow of non-canonical %#lx must fail",
		      (unsigned long)noncanonical[i]);
		CHECK(hak_pagemap_set(noncanonical[i], entry_of(i)) == -1,
		      "set of non-canonical %#lx must fail",
		      (unsigned long)noncanonical[i]);
	}
}

static uintptr_t zero(unsigned i)
{
	(void)i;
	return 0;
}

int main(void)
{
	unsigned i, j;

	CHECK(hak_init_region(region, sizeof(region), 1, report_record,
			      &log) == 0,
	      "hak_init_region");

	set_all(entry_of);
	for (i = 0; i < NCANON; i++) {
		CHECK(hak_pagemap_get(canonical[i]) == entry_of(i),
		      "get %#lx", (unsigned long)canonical[i]);
		CHECK(hak_pagemap_get(canonical[i] + 0xfff) == entry_of(i),
		      "get %#lx, last byte", (unsigned long)canonical[i]);
		for (j = 0; j < NCANON; j++)
			CHECK(i == j || canonical[i] != canonical[j],
			      "table has a duplicate");
	}
	for (i = 0; i < NNON; i++)
		CHECK(hak_pagemap_get(noncanonical[i]) == 0,
		      "non-canonical %#lx read an entry",
		      (unsigned long)noncanonical[i]);

	/* free() of a non-canonical pointer: reported, nothing touched. */
	log.quiet = 1;
	for (i = 0; i < NNON; i++) {
		int before = log.count[HAK_EV_INVALID_FREE];

		hak_free((void *)noncanonical[i]);
		CHECK(log.count[HAK_EV_INVALID_FREE] == before + 1,
		      "free(%#lx) not reported",
		      (unsigned long)noncanonical[i]);
	}

	set_all(zero);
	for (i = 0; i < NCANON; i++)
		CHECK(hak_pagemap_get(canonical[i]) == 0, "cleared %#lx",
		      (unsigned long)canonical[i]);

	/* The heap itself still works and is consistent. */
	{
		void *p = hak_malloc(100), *q = hak_malloc(1 << 20);

		CHECK(p && q, "malloc after the page-map checks");
		hak_free(p);
		hak_free(q);
	}
	CHECK(hak_check() == 0, "hak_check");
	CHECK(log.count[HAK_EV_INVALID_FREE] == (int)NNON,
	      "unexpected reports: %d invalid frees",
	      log.count[HAK_EV_INVALID_FREE]);
	printf("PASS test_pagemap\n");
	return 0;
}
